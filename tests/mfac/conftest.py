"""The digits MLP the optimizer and pruning tests train: scikit-learn's bundled 8 x 8 digits
(1 797 images, 10 classes), 70 % for training, a 64-64-10 ReLU network."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")


class Digits:
    def __init__(self):
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split

        X, y = load_digits(return_X_y=True)
        split = train_test_split(X / 16.0, y, test_size=0.3, random_state=0)
        self.X_train, self.X_test = (torch.tensor(a, dtype=torch.float32) for a in split[:2])
        self.y_train, self.y_test = (torch.tensor(a) for a in split[2:])

    @staticmethod
    def network(seed):
        torch.manual_seed(seed)
        return torch.nn.Sequential(
            torch.nn.Linear(64, 64), torch.nn.ReLU(), torch.nn.Linear(64, 10)
        )

    @staticmethod
    def loss(model, batch):
        return torch.nn.functional.cross_entropy(model(batch[0]), batch[1])

    def train(self, model, optimizer, epochs, seed, batch_size=32):
        """Shuffled mini-batch epochs; the test accuracy after each."""
        generator = torch.Generator().manual_seed(seed)
        accuracies = []
        for _ in range(epochs):
            order = torch.randperm(len(self.X_train), generator=generator)
            for start in range(0, len(order), batch_size):
                rows = order[start : start + batch_size]
                optimizer.zero_grad()
                self.loss(model, (self.X_train[rows], self.y_train[rows])).backward()
                optimizer.step()
            accuracies.append(self.accuracy(model))
        return accuracies

    @torch.no_grad()
    def accuracy(self, model):
        return float((model(self.X_test).argmax(1) == self.y_test).float().mean())

    @torch.no_grad()
    def test_loss(self, model):
        return float(self.loss(model, (self.X_test, self.y_test)))


@pytest.fixture(scope="session")
def digits():
    pytest.importorskip("sklearn")
    return Digits()
