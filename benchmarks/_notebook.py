"""A faithful reimplementation of the reference notebook's autoencoder and training loop.

Kept only to measure the reference study side by side with autorec; not part of the
library. What it copies (see ``../shared/REFERENCE-STUDY.md``):

* a dense utility matrix, users x *maximum movie id* (6,040 x 3,952 on MovieLens-1M),
  0 meaning "not rated"; column ``j`` is movie id ``j + 1``;
* the network Linear(n, 200), act, Linear(200, 100), act, Linear(100, 200), act,
  Linear(200, n) with a linear output, ``act`` = sigmoid as reported;
* **one user per optimizer step**, users in id order, RMSprop(lr=0.005, weight_decay=1.0);
* loss = sum over the user's rated entries of the squared error / number of rated entries
  (users without a rating are skipped);
* gradients are **never reset**: there is no ``zero_grad``, so ``.grad`` holds the sum of
  every step's gradient since the start of training (this is what the notebook did);
* predictions are the raw, unclipped outputs, with the user's training row as input.

The notebook's top-k accuracy fed each user's *test* ratings as the input row; that is
:func:`leaky_top_k_accuracy`. :func:`top_k_accuracy` is the honest protocol (input = the
training ratings), as everywhere else in autorec.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch
from torch import nn

from autorec.metrics import top_k_accuracy as _top_k_accuracy

ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "relu": nn.ReLU,
    "selu": nn.SELU,
    "silu": nn.SiLU,
    "sigmoid": nn.Sigmoid,
}
LEARNING_RATE = 0.005
WEIGHT_DECAY = 1.0
EPOCHS = 50


def make_network(n_items: int, activation: str = "sigmoid") -> nn.Sequential:
    """The notebook's 200-100-200 autoencoder (linear output layer)."""
    act = ACTIVATIONS[activation]
    return nn.Sequential(
        nn.Linear(n_items, 200),
        act(),
        nn.Linear(200, 100),
        act(),
        nn.Linear(100, 200),
        act(),
        nn.Linear(200, n_items),
    )


def dense_matrix(ratings: pd.DataFrame, user_ids: np.ndarray, n_items: int) -> torch.Tensor:
    """Users x items float32 tensor, ``0`` for "not rated"; column = movie id - 1."""
    rows = np.searchsorted(user_ids, ratings["user_id"].to_numpy())
    cols = ratings["item_id"].to_numpy().astype(np.int64) - 1
    out = torch.zeros(len(user_ids), n_items)
    out[torch.as_tensor(rows), torch.as_tensor(cols)] = torch.tensor(
        ratings["rating"].to_numpy(np.float32)
    )
    return out


def masked_loss(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Sum of squared errors over the rated (non-zero) entries / their number."""
    mask = target > 0
    return ((output - target)[mask] ** 2).sum() / mask.sum()


@dataclass
class NotebookModel:
    """A trained notebook autoencoder and what is needed to query it."""

    network: nn.Sequential
    user_ids: np.ndarray  # sorted; row r of the matrices is user user_ids[r]
    n_items: int  # maximum movie id; column j is movie id j + 1
    train_matrix: torch.Tensor
    epoch_seconds: list[float] = field(default_factory=list)
    epoch_loss: list[float] = field(default_factory=list)  # mean per-user loss of each epoch
    users_per_epoch: int = 0  # users stepped on per epoch (all, unless timing a subset)

    def outputs(self, inputs: torch.Tensor, chunk: int = 1024) -> torch.Tensor:
        """Network outputs for rows of a dense matrix, without gradients."""
        with torch.no_grad():
            return torch.cat(
                [self.network(inputs[s : s + chunk]) for s in range(0, len(inputs), chunk)]
            )

    def pair_index(self, pairs: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        rows = np.searchsorted(self.user_ids, pairs["user_id"].to_numpy())
        cols = pairs["item_id"].to_numpy().astype(np.int64) - 1
        ok = (rows < len(self.user_ids)) & (cols >= 0) & (cols < self.n_items)
        ok[ok] &= self.user_ids[rows[ok]] == pairs["user_id"].to_numpy()[ok]
        if not ok.all():
            raise ValueError(
                f"{int((~ok).sum())} pair(s) have a user or movie id not in the matrix"
            )
        return rows, cols


def train(
    train: pd.DataFrame,
    test: pd.DataFrame | None = None,
    *,
    epochs: int = EPOCHS,
    activation: str = "sigmoid",
    random_state: int = 0,
    max_users: int | None = None,
    progress: Callable[[int, float, float], None] | None = None,
) -> NotebookModel:
    """Train as the notebook did: one user per RMSprop step, gradients never reset.

    Parameters
    ----------
    train, test : DataFrame
        Ratings with ``user_id``, ``item_id`` (positive integer movie ids), ``rating``.
        The matrix has a row for every user of either frame and ``max(movie id)`` of
        either frame columns, as in the notebook. ``test`` is never trained on.
    epochs : int, default=50
        Passes over the users (the notebook ran 50).
    activation : {"sigmoid", "relu", "selu", "silu"}
    random_state : int
        ``torch.manual_seed`` before the network is built (PyTorch's default init).
    max_users : int, optional
        Step on only the first ``max_users`` users of each epoch, to time a subset and
        extrapolate (``seconds * n_users / max_users``); the model is then not the
        notebook's.
    progress : callable, optional
        ``progress(epoch, seconds, mean_loss)`` after each epoch.

    Returns
    -------
    NotebookModel
        With ``epoch_seconds`` (wall time of each epoch's training steps).
    """
    frames = [train] if test is None else [train, test]
    user_ids = np.unique(np.concatenate([f["user_id"].to_numpy() for f in frames]))
    n_items = int(max(int(f["item_id"].max()) for f in frames))
    matrix = dense_matrix(train, user_ids, n_items)
    torch.manual_seed(random_state)
    network = make_network(n_items, activation)
    optimizer = torch.optim.RMSprop(
        network.parameters(), lr=LEARNING_RATE, weight_decay=WEIGHT_DECAY
    )
    n_steps = len(user_ids) if max_users is None else min(int(max_users), len(user_ids))
    model = NotebookModel(network, user_ids, n_items, matrix, users_per_epoch=n_steps)
    rated = (matrix > 0).any(dim=1).tolist()
    network.train()
    for epoch in range(1, int(epochs) + 1):
        tick = time.perf_counter()
        total, count = 0.0, 0
        for u in range(n_steps):
            if not rated[u]:
                continue
            target = matrix[u : u + 1]
            output = network(target)
            loss = masked_loss(output, target)
            loss.backward()  # no zero_grad, ever: gradients accumulate over the run
            optimizer.step()
            total += loss.item()
            count += 1
        seconds = time.perf_counter() - tick
        model.epoch_seconds.append(seconds)
        model.epoch_loss.append(total / max(count, 1))
        if progress is not None:
            progress(epoch, seconds, model.epoch_loss[-1])
    network.eval()
    return model


def predict(
    model: NotebookModel, pairs: pd.DataFrame, inputs: torch.Tensor | None = None
) -> np.ndarray:
    """Unclipped predictions for (user_id, item_id) pairs, from the training rows.

    ``inputs`` replaces the training matrix as the input rows (the leaky protocol passes
    the test matrix).
    """
    rows, cols = model.pair_index(pairs)
    out = model.outputs(model.train_matrix if inputs is None else inputs)
    return out[torch.from_numpy(rows), torch.from_numpy(cols)].numpy()


def top_k_accuracy(model: NotebookModel, test: pd.DataFrame, k: int) -> float:
    """autorec's protocol: input = training ratings; rank each user's test movies."""
    scores = predict(model, test)
    return _top_k_accuracy(test["user_id"], test["rating"], scores, k)


def leaky_scores(model: NotebookModel, test: pd.DataFrame) -> np.ndarray:
    """The notebook's scores for its top-k: each user's *test* row as the input."""
    test_matrix = dense_matrix(test, model.user_ids, model.n_items)
    return predict(model, test, inputs=test_matrix)


def leaky_top_k_accuracy(model: NotebookModel, test: pd.DataFrame, k: int) -> float:
    """The notebook's protocol: input = the user's test ratings (leaks the answer)."""
    return _top_k_accuracy(test["user_id"], test["rating"], leaky_scores(model, test), k)
