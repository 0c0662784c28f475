"""FastRP: the embedding against a dense reference (D^{-1} S formed, powers taken densely),
reproducibility, the caller's matrix left alone, bad input, and what the embedding is for:
communities of a stochastic block model, the karate club and Les Misérables told apart."""

from __future__ import annotations

import importlib

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import sketchla.apps
from sketchla.apps import fastrp
from sketchla.random import Generator
from sketchla.sketch import sketch_operator

fastrp_module = importlib.import_module("sketchla.apps.embeddings")
U64 = np.finfo(np.float64).eps / 2
U32 = np.finfo(np.float32).eps / 2


def reference(adjacency, dim, *, weights=(1.0, 1.0, 1.0, 1.0), beta=0.0, normalize=True,
              standardize=False, s=None, seed=None):  # fmt: skip
    """FastRP the straightforward way, in float64: D^{-1} S and R formed densely."""
    S = np.asarray(sp.csr_array(adjacency).toarray(), dtype=np.float64)
    n = S.shape[0]
    degrees = S.sum(axis=1)
    safe = np.where(degrees > 0, degrees, 1.0)
    transition = S / safe[:, None]
    R = sketch_operator("very_sparse", dim, n, s=s, seed=seed).to_sparse().toarray().T
    N = safe[:, None] ** beta * R
    embedding = np.zeros((n, dim))
    for w in weights:
        N = transition @ N
        if normalize:
            norms = np.linalg.norm(N, axis=1, keepdims=True)
            embedding += w * np.divide(N, norms, out=np.zeros_like(N), where=norms > 0)
        else:
            embedding += w * N
    if standardize:  # sklearn.preprocessing.scale
        std = embedding.std(axis=0)
        embedding = (embedding - embedding.mean(axis=0)) / np.where(std > 0, std, 1.0)
    return embedding


def random_graph(n, density, seed, *, directed=False):
    """Edge weights uniform on (0, 1], symmetric unless directed, no isolated node."""
    rng = np.random.default_rng(seed)
    A = sp.random_array((n, n), density=density, rng=rng, format="csr")
    if not directed:
        A = (A + A.T).tocsr()
    # a cycle through every node: no isolated node
    ring = sp.csr_array((np.full(n, 0.5), (np.arange(n), (np.arange(n) + 1) % n)), shape=(n, n))
    return (A + ring).tocsr()


CASES = [
    # (weights, beta, normalize, standardize, s)
    ((1.0, 1.0, 1.0, 1.0), 0.0, True, False, None),
    ((0.0, 0.0, 1.0, 6.0), -0.5, True, False, None),
    ((1.0,), 0.0, True, False, None),
    ((2.0, -1.0), -1.0, False, False, 3.0),
    ((0.5, 1.0, 2.0), 0.3, False, True, 1.0),
    ((1.0, 1.0, 1.0, 1.0), -0.25, True, True, None),
]


@pytest.mark.parametrize(("weights", "beta", "normalize", "standardize", "s"), CASES)
@pytest.mark.parametrize("seed", [0, 7])
@pytest.mark.parametrize("directed", [False, True])
def test_float64_equals_the_dense_reference(weights, beta, normalize, standardize, s, seed,
                                            directed):  # fmt: skip
    A = random_graph(60, 0.08, seed, directed=directed)
    options = {"weights": weights, "beta": beta, "normalize": normalize, "s": s, "seed": seed}
    got = fastrp(A, 24, standardize=standardize, dtype=np.float64, **options)
    want = reference(A, 24, standardize=standardize, **options)
    assert got.dtype == np.float64
    assert got.shape == (60, 24)
    scale = np.abs(want).max()
    # measured <= 3.1 q u relative over seeds 0..5 (q powers, unit roundoff u): margin 10x
    assert np.abs(got - want).max() <= 30 * len(weights) * U64 * scale


@pytest.mark.parametrize(("weights", "beta", "normalize", "standardize", "s"), CASES)
def test_float32_equals_the_dense_reference_to_float32_accuracy(weights, beta, normalize,
                                                                standardize, s):  # fmt: skip
    A = random_graph(80, 0.06, 3)
    options = {"weights": weights, "beta": beta, "normalize": normalize, "s": s, "seed": 5}
    got = fastrp(A, 32, standardize=standardize, **options)
    want = reference(A, 32, standardize=standardize, **options)
    assert got.dtype == np.float32
    # measured <= 2.0 q u relative over seeds 0..5 (q powers, float32 unit roundoff u)
    assert np.abs(got - want).max() <= 30 * len(weights) * U32 * np.abs(want).max()


def test_isolated_nodes_get_zero_rows():
    A = random_graph(30, 0.1, 1).tolil()
    A[[4, 17], :] = 0  # no out-edges: zero rows in D^{-1} S (they keep their in-edges)
    A = A.tocsr()
    with pytest.raises(ValueError, match=r"2 nodes of zero degree.*isolated='zero'"):
        fastrp(A, 8, seed=0)
    E = fastrp(A, 8, isolated="zero", beta=-0.5, dtype=np.float64, seed=0)
    np.testing.assert_array_equal(E[[4, 17]], 0.0)
    assert np.all(np.linalg.norm(np.delete(E, [4, 17], axis=0), axis=1) > 0)
    want = reference(A, 8, beta=-0.5, seed=0)
    assert np.abs(E - want).max() <= 1e-13 * np.abs(want).max()
    one = sp.csr_array(np.array([[0.0, 1.0], [0.0, 0.0]]))
    with pytest.raises(ValueError, match="1 node of zero degree"):
        fastrp(one, 4, seed=0)


def test_every_sparse_format_and_dense_input_give_the_same_embedding():
    A = random_graph(40, 0.1, 2)
    want = fastrp(A, 16, seed=3, dtype=np.float64)
    for other in (A.tocoo(), A.tocsc(), A.tolil(), sp.csr_matrix(A), sp.coo_matrix(A), A.toarray()):
        np.testing.assert_array_equal(fastrp(other, 16, seed=3, dtype=np.float64), want)
    # integer and boolean edges: weights 1
    B = A.copy()
    B.data[:] = 1.0
    unweighted = fastrp(B, 16, seed=3)
    np.testing.assert_array_equal(fastrp(B.astype(np.int32), 16, seed=3), unweighted)
    np.testing.assert_array_equal(fastrp(B.astype(bool), 16, seed=3), unweighted)


def test_the_callers_matrix_is_not_modified():
    A = random_graph(50, 0.1, 4)
    A.data[::7] = 0.0  # explicit zeros are kept, not pruned
    for matrix in (A, A.tocoo(), A.tocsc()):
        copies = {name: getattr(matrix, name).copy() for name in ("data", "indices", "indptr",
                  "row", "col") if hasattr(matrix, name)}  # fmt: skip
        for array in copies:
            getattr(matrix, array).flags.writeable = False  # any write into them raises
        fastrp(matrix, 8, seed=0, standardize=True)
        for name, copy in copies.items():
            np.testing.assert_array_equal(getattr(matrix, name), copy)


def test_same_seed_same_embedding_and_different_seeds_differ():
    A = random_graph(50, 0.1, 5)
    first = fastrp(A, 16, seed=11)
    np.testing.assert_array_equal(fastrp(A, 16, seed=11), first)
    assert not np.allclose(fastrp(A, 16, seed=12), first)
    generator = Generator(11)
    a, b = fastrp(A, 16, seed=generator), fastrp(A, 16, seed=generator)
    assert not np.allclose(a, b)  # a generator advances between calls
    np.testing.assert_array_equal(fastrp(A, 16, seed=Generator(11)), a)


def test_the_first_columns_are_the_smaller_embedding():
    """The very sparse operator is nested: without normalisation the first k columns of a
    d-dimensional embedding are the k-dimensional one times sqrt(k / d)."""
    A = random_graph(50, 0.1, 6)
    big = fastrp(A, 32, normalize=False, dtype=np.float64, seed=2)
    small = fastrp(A, 8, normalize=False, dtype=np.float64, seed=2)
    np.testing.assert_allclose(big[:, :8], small * np.sqrt(8 / 32), rtol=1e-12, atol=1e-15)


def test_small_and_degenerate_graphs():
    assert fastrp(sp.csr_array((0, 0)), 4).shape == (0, 4)
    E = fastrp(sp.csr_array(np.array([[2.0]])), 5, seed=0, dtype=np.float64)  # one self-loop
    want = reference(sp.csr_array(np.array([[2.0]])), 5, seed=0)
    np.testing.assert_allclose(E, want, rtol=1e-14)
    # every node isolated: all zero
    np.testing.assert_array_equal(fastrp(sp.csr_array((3, 3)), 4, isolated="zero"), 0.0)
    # dim larger than n
    A = random_graph(5, 0.5, 0)
    assert fastrp(A, 100, seed=0).shape == (5, 100)


def _never_called(*args, **kwargs):
    raise AssertionError("the computation started before the arguments were checked")


BAD = [
    ({"adjacency": sp.csr_array((3, 4))}, ValueError, "adjacency must be square, got shape"),
    ({"adjacency": np.ones(3)}, ValueError, "adjacency must be 2-D"),
    ({"adjacency": None}, TypeError, "adjacency must be"),
    ({"adjacency": sp.csr_array(np.array([[0, 1j], [1, 0]]))}, TypeError, "adjacency must be real"),
    ({"adjacency": sp.csr_array(np.array([[0, -1.0], [1, 0]]))}, ValueError, "non-negative"),
    ({"adjacency": sp.csr_array(np.array([[0, np.nan], [1, 0]]))}, ValueError, "finite"),
    ({"adjacency": sp.csr_array(np.array([[0, np.inf], [1, 0]]))}, ValueError, "finite"),
    ({"dim": 0}, ValueError, "dim must be an integer >= 1"),
    ({"dim": 4.0}, TypeError, "dim must be an integer"),
    ({"dim": True}, TypeError, "dim must be an integer"),
    ({"weights": ()}, ValueError, "weights must hold at least one"),
    ({"weights": [[1.0, 2.0]]}, ValueError, "weights must be 1-D"),
    ({"weights": 1.0}, ValueError, "weights must be 1-D"),
    ({"weights": (1.0, np.nan)}, ValueError, "weights must be finite"),
    ({"weights": (1.0, np.inf)}, ValueError, "weights must be finite"),
    ({"weights": "1111"}, TypeError, "weights must be"),
    ({"weights": (True, False)}, TypeError, "weights must be real"),
    ({"beta": np.nan}, ValueError, "beta must be a finite number, got nan"),
    ({"beta": "-0.5"}, TypeError, "beta must be a real number"),
    ({"beta": 1j}, TypeError, "beta must be a real number"),
    ({"normalize": 1}, TypeError, "normalize must be True or False"),
    ({"standardize": "yes"}, TypeError, "standardize must be True or False"),
    ({"s": 0.5}, ValueError, r"s must be a finite number in \[1, inf\), got 0.5"),
    ({"s": np.inf}, ValueError, r"s must be a finite number in \[1, inf\), got inf"),
    ({"dtype": np.int64}, TypeError, "dtype must be float32 or float64"),
    ({"dtype": np.float16}, TypeError, "dtype must be float32 or float64"),
    ({"dtype": "banana"}, TypeError, "dtype must be float32 or float64"),
    ({"dtype": None}, TypeError, "dtype must be float32 or float64"),
    ({"isolated": "drop"}, ValueError, "isolated must be one of"),
    ({"seed": -1}, ValueError, "seed"),
]


@pytest.mark.parametrize(("change", "error", "message"), BAD)
def test_bad_input_is_refused_before_any_work(change, error, message, monkeypatch):
    monkeypatch.setattr(fastrp_module, "_fastrp", _never_called)
    arguments = {"adjacency": random_graph(6, 0.3, 0), "dim": 4} | change
    with pytest.raises(error, match=message):
        fastrp(arguments.pop("adjacency"), arguments.pop("dim"), **arguments)


def test_the_public_name_is_the_function():
    assert callable(sketchla.apps.fastrp)
    assert sketchla.apps.fastrp is fastrp


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(1, 20),
    dim=st.integers(1, 9),
    weights=st.lists(st.floats(-3, 3, allow_nan=False), min_size=1, max_size=5),
    beta=st.floats(-1, 0.5),
    density=st.floats(0, 1),
    dtype=st.sampled_from([np.float32, np.float64]),
    standardize=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_shapes_dtypes_and_row_norms(n, dim, weights, beta, density, dtype, standardize, seed):
    """Any graph (isolated nodes, self-loops, directed): the shape and dtype asked for, finite
    values, and with normalisation (before standardising) rows of norm <= sum |w_i|."""
    A = sp.random_array((n, n), density=density, rng=np.random.default_rng(seed), format="csr")
    options = {"weights": weights, "beta": beta, "isolated": "zero", "dtype": dtype, "seed": seed}
    E = fastrp(A, dim, standardize=standardize, **options)
    assert E.shape == (n, dim)
    assert E.dtype == dtype
    assert np.isfinite(E).all()
    if not standardize:
        bound = np.abs(weights).sum() * (1 + 10 * len(weights) * np.finfo(dtype).eps)
        assert np.all(np.linalg.norm(E.astype(np.float64), axis=1) <= bound)
        isolated = A.sum(axis=1) == 0
        np.testing.assert_array_equal(E[isolated], 0.0)


# -- what embeddings are for -------------------------------------------------------------------


def _stochastic_block_model(sizes, p_in, p_out, seed):
    networkx = pytest.importorskip("networkx")
    k = len(sizes)
    p = [[p_in if a == b else p_out for b in range(k)] for a in range(k)]
    G = networkx.stochastic_block_model(sizes, p, seed=seed)
    return networkx.to_scipy_sparse_array(G, format="csr"), np.repeat(np.arange(k), sizes)


def _held_out_macro_f1(E, labels, seed):
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import f1_score
    from sklearn.model_selection import train_test_split

    train, test, y_train, y_test = train_test_split(
        E, labels, test_size=0.5, stratify=labels, random_state=seed
    )
    model = LogisticRegression(max_iter=2000).fit(train, y_train)
    return f1_score(y_test, model.predict(test), average="macro")


@pytest.mark.parametrize("seed", [0, 1])
def test_block_model_communities_are_classified_far_above_chance(seed):
    """4 blocks of 100 nodes, p_in = 0.1, p_out = 0.01, d = 64, half the nodes for training.
    Measured over seeds 0..9: macro F1 0.985..1.0 with four powers, 0.67..0.83 with one (a plain
    random projection of D^{-1} S) and 0.65..0.81 for a random projection S R of the adjacency,
    a gap of at least 0.17; chance is 0.25."""
    pytest.importorskip("sklearn")
    A, labels = _stochastic_block_model([100] * 4, 0.1, 0.01, seed)
    four = _held_out_macro_f1(fastrp(A, 64, seed=seed), labels, seed)
    one = _held_out_macro_f1(fastrp(A, 64, weights=(1.0,), seed=seed), labels, seed)
    R = sketch_operator("very_sparse", 64, A.shape[0], seed=seed).to_sparse().T
    raw = _held_out_macro_f1((A @ R).toarray(), labels, seed)
    assert four >= 0.93
    assert four >= max(one, raw) + 0.1


def test_karate_club_factions_separate():
    """2-means on the embedding against the club each member joined: measured 32 or 33 of 34
    agree (seeds 0..19, d = 64); 31 of 34 (91 %) is required. One power gets 26 to 33."""
    networkx = pytest.importorskip("networkx")
    pytest.importorskip("sklearn")
    from sklearn.cluster import KMeans

    G = networkx.karate_club_graph()
    A = networkx.to_scipy_sparse_array(G, format="csr", weight=None)
    club = np.array([G.nodes[v]["club"] == "Officer" for v in G])
    for seed in range(3):
        E = fastrp(A, 64, seed=seed)
        halves = KMeans(2, n_init=10, random_state=0).fit_predict(E).astype(bool)
        agree = max(np.sum(halves == club), np.sum(halves != club))
        assert agree >= 31, (seed, agree)


def test_les_miserables_communities_are_predicted():
    """Greedy-modularity communities of the weighted Les Misérables graph (5 communities of 33,
    17, 11, 10 and 6 characters), predicted by 3-fold cross-validated logistic regression on the
    embedding: measured macro F1 0.965..0.987 (seeds 0..19, d = 64), 0.75..0.94 with one
    power."""
    networkx = pytest.importorskip("networkx")
    pytest.importorskip("sklearn")
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import f1_score
    from sklearn.model_selection import cross_val_predict

    G = networkx.les_miserables_graph()
    nodes = list(G)
    A = networkx.to_scipy_sparse_array(G, nodelist=nodes, format="csr", weight="weight")
    communities = networkx.community.greedy_modularity_communities(G, weight="weight")
    label = {v: i for i, community in enumerate(communities) for v in community}
    y = np.array([label[v] for v in nodes])
    for seed in range(2):
        E = fastrp(A, 64, seed=seed)
        predicted = cross_val_predict(LogisticRegression(max_iter=5000), E, y, cv=3)
        assert f1_score(y, predicted, average="macro") >= 0.9, seed
