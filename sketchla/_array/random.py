"""A counter-based random generator whose numbers are the same on every backend.

``Generator(seed)`` turns the seed into a 64-bit Philox key (through NumPy's
:class:`~numpy.random.SeedSequence`); each value it produces is a pure function of
``(key, stream, index)`` (see :mod:`sketchla._array.kernels.philox` for the exact layout). Hence:

1. the same seed gives the same numbers on NumPy, Torch, CuPy and JAX, on CPU or GPU: integers and
   signs bit for bit, uniforms bit for bit, normals to rounding;
2. ``start=`` addresses any block of a stream, so values ``[a, b)`` generated alone equal the slice
   ``[a, b)`` of the whole stream (chunked and streamed sketches depend on this);
3. different seeds, ``stream`` ids or :meth:`Generator.spawn` children give independent streams.
"""

from __future__ import annotations

import math
from types import ModuleType
from typing import Any

import numpy as np

from .. import _validation as v
from ..errors import BackendError
from .kernels import kernel
from .kernels.philox import VALUES_PER_BLOCK
from .namespace import array_namespace, backend_name, is_array, namespace_for

__all__ = ["Generator"]

_MAX_STREAM = 2**32 - 1
_MAX_INDEX = 2**62  # values are addressed with int64 block counters
_MAX_SPAN = 2**32


def _seed_sequence(seed: Any, name: str) -> np.random.SeedSequence:
    if isinstance(seed, np.random.SeedSequence):
        return seed
    if seed is None:
        return np.random.SeedSequence()
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
        raise TypeError(
            f"{name} must be None, a non-negative int, a numpy.random.SeedSequence or a "
            f"sketchla.random.Generator, got {type(seed).__name__} {seed!r}"
        )
    if seed < 0:
        raise ValueError(f"{name} must be a non-negative int, got {seed}")
    return np.random.SeedSequence(int(seed))


class Generator:
    """Counter-based random numbers (Philox4x32-10), reproducible across backends and blocks.

    Parameters
    ----------
    seed : None, int, numpy.random.SeedSequence
        ``None`` draws fresh entropy from the operating system; an int (>= 0) or a seed
        sequence gives a reproducible generator.
    stream : int, default 0
        Which of the 2**32 independent streams of this seed to draw from.

    Notes
    -----
    Like :class:`numpy.random.Generator`, successive calls advance the generator, so each call
    returns fresh numbers. Every method also takes ``start=``, the index of the first value to
    return within this stream; such a call reads the stream without advancing the generator,
    and ``g.normal(n, start=a)`` equals ``g2.normal(a + n)[a:]`` for a fresh ``g2`` of the same
    seed. Each unaddressed call starts at a block boundary (two values for most methods, 128
    for :meth:`signs`).

    Values are laid out in C order over ``shape``. Normals are computed in float64 and
    rounded to ``dtype``; float32 uniforms are the float64 ones truncated to 24 bits.

    References
    ----------
    .. [1] J. K. Salmon, M. A. Moraes, R. O. Dror, D. E. Shaw, "Parallel random numbers: as easy
       as 1, 2, 3", SC 2011.

    Examples
    --------
    >>> from sketchla.random import Generator
    >>> g = Generator(42)
    >>> x = g.normal((2, 3))
    >>> x.shape
    (2, 3)
    >>> bool((Generator(42).normal((2, 3)) == x).all())
    True
    >>> bool((Generator(42).normal(4, start=2) == x.reshape(-1)[2:]).all())
    True
    """

    def __init__(self, seed: Any = None, *, stream: int = 0, name: str = "seed") -> None:
        self._seed_sequence = _seed_sequence(seed, name)
        key = self._seed_sequence.generate_state(2, np.uint32)
        self._key = (int(key[0]), int(key[1]))
        self._stream = v.check_int(stream, "stream", minimum=0, maximum=_MAX_STREAM)
        self._next_block = 0

    @property
    def seed_sequence(self) -> np.random.SeedSequence:
        """The :class:`numpy.random.SeedSequence` the key was derived from."""
        return self._seed_sequence

    @property
    def stream(self) -> int:
        """The stream id."""
        return self._stream

    @property
    def position(self) -> int:
        """The next unused Philox block of the stream (advanced by every unaddressed call)."""
        return self._next_block

    def __repr__(self) -> str:
        return (
            f"Generator(entropy={self._seed_sequence.entropy!r}, "
            f"spawn_key={self._seed_sequence.spawn_key!r}, stream={self._stream}, "
            f"position={self._next_block})"
        )

    def spawn(self, n_children: int) -> list[Generator]:
        """``n_children`` new generators with independent keys (like ``SeedSequence.spawn``).

        Examples
        --------
        >>> a, b = Generator(0).spawn(2)
        >>> bool((a.uniform(3) != b.uniform(3)).all())
        True
        """
        n_children = v.check_int(n_children, "n_children", minimum=0)
        return [
            Generator(child, stream=self._stream) for child in self._seed_sequence.spawn(n_children)
        ]

    # -- the engine ------------------------------------------------------------------------

    def _draw(
        self,
        kind: str,
        shape: Any,
        dtype: Any,
        xp: ModuleType,
        device: Any,
        start: Any,
        out: Any = None,
        **params: Any,
    ) -> Any:
        shape = v.check_shape(shape)
        n = math.prod(shape)
        if out is not None:
            params["out"] = _check_out(out, shape, dtype, xp)
        per_block = VALUES_PER_BLOCK[kind]
        if start is None:
            first = self._next_block * per_block
            if first + n > _MAX_INDEX:
                raise ValueError("this generator's stream is exhausted (2**62 values)")
            self._next_block += -(-n // per_block)
        else:
            first = v.check_int(start, "start", minimum=0, maximum=_MAX_INDEX - n)
        values = kernel(f"random_{kind}", xp)(
            n,
            key=self._key,
            stream=self._stream,
            start=first,
            dtype=dtype,
            xp=xp,
            device=device,
            **params,
        )
        return out if out is not None else xp.reshape(values, shape)

    # -- distributions -----------------------------------------------------------------------

    def uniform(
        self,
        shape: Any = (),
        *,
        low: float = 0.0,
        high: float = 1.0,
        dtype: Any = None,
        xp: Any = None,
        device: Any = None,
        start: int | None = None,
        out: Any = None,
    ) -> Any:
        """Uniform values on ``[low, high)``.

        Parameters
        ----------
        shape : int or tuple of int
            Output shape.
        low, high : float
            Bounds, finite with ``low <= high``.
        dtype : dtype, optional
            Real floating dtype; default: the namespace's default float.
        xp : module or str, optional
            Array namespace of the output (``numpy``, ``torch``, ``"cupy"``, ...); NumPy when
            omitted.
        device : optional
            Device of the output, in ``xp``'s terms.
        start : int, optional
            Index of the first value in the stream; the generator does not advance.
        out : numpy.ndarray, optional
            A C-contiguous NumPy array of ``shape`` and ``dtype`` to write the values into
            (NumPy output only), as in NumPy's generators; saves an allocation in loops.

        Returns
        -------
        array
            Values ``start, start + 1, ...`` of the uniform stream. In float64 each carries 53
            random bits; float32 values are the float64 ones truncated to 24 bits.

        Examples
        --------
        >>> u = Generator(1).uniform(1000)
        >>> bool(((0 <= u) & (u < 1)).all())
        True
        """
        xp = namespace_for(xp)
        dtype = v.check_dtype(dtype, xp, device=device)
        low, high = _check_interval(low, high)
        u = self._draw("uniform", shape, dtype, xp, device, start, out=out)
        if (low, high) == (0.0, 1.0):
            return u
        if out is not None:
            u *= high - low
            u += low
            return u
        return low + (high - low) * u

    def normal(
        self,
        shape: Any = (),
        *,
        loc: float = 0.0,
        scale: float = 1.0,
        dtype: Any = None,
        xp: Any = None,
        device: Any = None,
        start: int | None = None,
        out: Any = None,
    ) -> Any:
        """Normal values with mean ``loc`` and standard deviation ``scale``.

        Parameters are those of :meth:`uniform`, with ``loc`` (finite) and ``scale`` (finite,
        >= 0) in place of the bounds. Normals come from Marsaglia's polar method in float64 and
        are rounded to ``dtype``, so the float32 stream is the float64 stream rounded.

        Examples
        --------
        >>> z = Generator(7).normal(100_000)
        >>> abs(float(z.mean())) < 0.02 and abs(float(z.std()) - 1) < 0.02
        True
        """
        xp = namespace_for(xp)
        dtype = v.check_dtype(dtype, xp, device=device)
        loc, scale = _check_finite_float(loc, "loc"), _check_finite_float(scale, "scale")
        if scale < 0:
            raise ValueError(f"scale must be >= 0, got {scale}")
        z = self._draw("normal", shape, dtype, xp, device, start, out=out)
        if (loc, scale) == (0.0, 1.0):
            return z
        if out is not None:
            z *= scale
            z += loc
            return z
        return loc + scale * z

    def signs(
        self,
        shape: Any = (),
        *,
        dtype: Any = None,
        xp: Any = None,
        device: Any = None,
        start: int | None = None,
        out: Any = None,
    ) -> Any:
        """Independent values +1 and -1 with probability 1/2 each (Rademacher).

        ``dtype`` may be a real floating (default) or a signed integer dtype. Each value is one
        random bit, so these are the cheapest numbers the generator makes.

        Examples
        --------
        >>> Generator(3).signs(6, dtype="int8").tolist()
        [1, -1, -1, -1, -1, 1]
        """
        xp = namespace_for(xp)
        if (dtype is not None and not isinstance(dtype, str) and "int" in str(dtype)) or (
            isinstance(dtype, str) and dtype.startswith("int")
        ):
            dtype = v.check_dtype(dtype, xp, kind="signed integer")
        else:
            dtype = v.check_dtype(dtype, xp, device=device)
        return self._draw("signs", shape, dtype, xp, device, start, out=out)

    def integers(
        self,
        low: int,
        high: int | None = None,
        shape: Any = (),
        *,
        dtype: Any = None,
        xp: Any = None,
        device: Any = None,
        start: int | None = None,
    ) -> Any:
        """Integers uniform on ``[low, high)`` (on ``[0, low)`` when ``high`` is omitted).

        ``high - low`` may be at most 2**32. ``dtype`` is an integer dtype (default: the
        namespace's default integer) that must hold ``low`` and ``high - 1``.

        Examples
        --------
        >>> k = Generator(5).integers(10, shape=10_000)
        >>> int(k.min()), int(k.max())
        (0, 9)
        """
        xp = namespace_for(xp)
        dtype = v.check_dtype(dtype, xp, kind="integral", device=device)
        if high is None:
            low, high = 0, low
        low = v.check_int(low, "low")
        high = v.check_int(high, "high")
        span = high - low
        if not 1 <= span <= _MAX_SPAN:
            raise ValueError(f"high - low must be in [1, 2**32], got low={low}, high={high}")
        info = xp.iinfo(dtype)
        if low < info.min or high - 1 > info.max:
            raise ValueError(f"[low, high) = [{low}, {high}) does not fit in dtype {dtype}")
        k = self._draw("integers", shape, dtype, xp, device, start, span=span)
        return k if low == 0 else k + low

    def choice(
        self,
        a: Any,
        shape: Any = (),
        *,
        replace: bool = True,
        p: Any = None,
        xp: Any = None,
        device: Any = None,
        start: int | None = None,
    ) -> Any:
        """A random sample from ``range(a)`` (``a`` an int) or from the entries of 1-D array ``a``.

        Parameters
        ----------
        a : int or 1-D array
            The population: ``range(a)``, or the entries of ``a``.
        shape : int or tuple of int
            Shape of the sample.
        replace : bool, default True
            Sample with replacement; without, the sample has distinct positions and at most as
            many entries as ``a`` (as many as ``p`` has non-zeros, when given).
        p : 1-D array, optional
            Probabilities of the entries (non-negative, summing to 1); uniform when omitted.
            Without replacement, entries are drawn successively with probability proportional
            to ``p`` among those left (Efraimidis-Spirakis keys).
        xp, device, start
            As in :meth:`uniform`; ``xp`` and ``device`` default to those of ``a`` or ``p``.

        Returns
        -------
        array
            Positions (integer dtype) when ``a`` is an int, entries of ``a`` otherwise.

        Examples
        --------
        >>> s = Generator(0).choice(10, 10, replace=False)
        >>> sorted(s.tolist())
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
        """
        population = None if _is_int(a) else a
        arrays = [x for x in (population, p) if is_array(x)]
        if arrays:
            own = array_namespace(*arrays)
            if xp is not None and backend_name(namespace_for(xp)) != backend_name(own):
                raise BackendError(
                    f"xp={backend_name(namespace_for(xp))} but a/p are {backend_name(own)} arrays"
                )
            xp, device = own, (arrays[0].device if device is None else device)
        xp = namespace_for(xp)
        if population is None:
            n = v.check_int(a, "a", minimum=1)
        else:
            if not is_array(population):
                population = xp.asarray(population, device=device)
            if population.ndim != 1 or population.shape[0] == 0:
                raise ValueError(
                    f"a must be an int or a non-empty 1-D array, got shape "
                    f"{tuple(population.shape)}"
                )
            n = population.shape[0]
        if p is not None:
            p = v.check_probabilities(p, n, xp=xp)
        shape = v.check_shape(shape)
        size = math.prod(shape)
        if replace:
            if p is None:
                index = self.integers(
                    0, n, shape, dtype=xp.int64, xp=xp, device=device, start=start
                )
            else:
                u = self.uniform(size, dtype=p.dtype, xp=xp, device=device, start=start)
                cdf = xp.cumulative_sum(p)
                index = xp.reshape(xp.searchsorted(cdf / cdf[-1], u, side="right"), shape)
        else:
            available = n if p is None else int(xp.sum(xp.astype(p > 0, xp.int64)))
            if size > available:
                raise ValueError(
                    f"cannot take {size} samples without replacement from a population of "
                    f"{available}" + ("" if p is None else " with non-zero probability")
                )
            if p is None:
                keys = self._draw("sort_keys", n, xp.int64, xp, device, start)
                order = xp.argsort(keys, stable=True)
            else:
                # Efraimidis-Spirakis: the largest log(u)/p_i are a weighted sample without
                # replacement; u in (0, 1) so that p_i = 0 maps to -inf.
                u = self._draw("uniform", n, xp.float64, xp, device, start)
                u = u + 2.0**-54
                weights = xp.astype(p, xp.float64)
                positive = weights > 0
                keys = xp.where(positive, xp.log(u) / xp.where(positive, weights, 1.0), -xp.inf)
                order = xp.argsort(-keys, stable=True)
            index = xp.reshape(order[:size], shape)
        if population is None:
            return index
        return xp.reshape(xp.take(population, xp.reshape(index, (-1,)), axis=0), shape)

    def permutation(
        self, a: Any, *, xp: Any = None, device: Any = None, start: int | None = None
    ) -> Any:
        """A random permutation of ``range(a)`` (``a`` an int) or of the entries of 1-D ``a``.

        Examples
        --------
        >>> sorted(Generator(0).permutation(5).tolist())
        [0, 1, 2, 3, 4]
        """
        n = a if _is_int(a) else (a.shape[0] if is_array(a) else len(a))
        return self.choice(a, n, replace=False, xp=xp, device=device, start=start)


def _check_out(out: Any, shape: tuple[int, ...], dtype: Any, xp: ModuleType) -> np.ndarray:
    """The flat view of a NumPy ``out`` array that can take the values (as in NumPy's
    generators, ``out=`` saves an allocation in loops that draw blocks of one size)."""
    if backend_name(xp) != "numpy" or not isinstance(out, np.ndarray):
        raise TypeError("out must be a NumPy array (out= is supported for NumPy output only)")
    if out.shape != shape or out.dtype != dtype:
        raise ValueError(
            f"out must have shape {shape} and dtype {np.dtype(dtype)}, got shape {out.shape} "
            f"and dtype {out.dtype}"
        )
    if not (out.flags.c_contiguous and out.flags.writeable):
        raise ValueError("out must be C-contiguous and writeable")
    return out.reshape(-1)


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _check_finite_float(value: Any, name: str) -> float:
    try:
        result = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}") from None
    if not math.isfinite(result):
        raise ValueError(f"{name} must be finite, got {result}")
    return result


def _check_interval(low: Any, high: Any) -> tuple[float, float]:
    low, high = _check_finite_float(low, "low"), _check_finite_float(high, "high")
    if high < low:
        raise ValueError(f"low must be <= high, got low={low}, high={high}")
    return low, high
