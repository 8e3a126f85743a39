"""What EASE-style item models are fed, and how their ridge penalty is chosen on a
validation slice: shared by :class:`autorec.baselines.EASE` and the hybrid ranking's
exposure model (``autorec._hybrid``).

* :func:`weighted_rows` turns a users x items rating matrix into the model's input:
  ``"binary"`` (1 for every rating: who rated what), ``"rating"`` (the rating minus a
  shift: a rating at the shift weighs nothing, and more liked movies weigh more) or
  ``"liked"`` (1 for the ratings at or above the relevance threshold, the rest dropped).
* :func:`ndcg_at_k` scores a block of users' score rows against held-out liked items.
* :func:`search_l2` walks a log grid of penalties scaled to the input's Gram matrix.
* :func:`validation_users` and :func:`relevant_matrix`: the hybrid ranking's validation
  users and their held-out liked items.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch

__all__ = [
    "INPUTS",
    "L2_FACTORS",
    "MAX_VALIDATION_CELLS",
    "MAX_VALIDATION_USERS",
    "ndcg_at_k",
    "relevance_threshold",
    "relevant_matrix",
    "search_l2",
    "validation_users",
    "weighted_rows",
]

#: Users whose held-out ratings choose the weights: a random sample (fixed by the
#: fit's random state) of those with a liked validation rating, at most this many, and
#: fewer where their score matrices would pass ``MAX_VALIDATION_CELLS`` (users x items).
MAX_VALIDATION_USERS = 2000
MAX_VALIDATION_CELLS = 25_000_000

#: What an EASE-style model can be fed.
INPUTS = ("binary", "rating", "liked")
#: First pass of the l2 search, in units of the Gram matrix's mean diagonal (the mean
#: squared input weight per item); the best is then refined by halving and doubling.
L2_FACTORS = (1.0, 4.0, 16.0, 64.0)


def relevance_threshold(scale: tuple[float, float]) -> float:
    """The rating from which a held-out item counts as liked: three quarters up the
    scale (4 on a 1-5 scale, as in the full-catalogue protocol)."""
    low, high = scale
    return low + 0.75 * (high - low)


def weighted_rows(
    matrix: sp.csr_matrix, input: str, shift: float, threshold: float
) -> sp.csr_matrix:
    """The users x items input (float32 CSR) of ``matrix``'s ratings.

    ``"binary"``: every stored rating is 1; ``"rating"``: ``rating - shift``;
    ``"liked"``: 1 where ``rating >= threshold``, the other ratings dropped.
    """
    out = sp.csr_matrix(matrix, dtype=np.float32, copy=True)
    if input == "binary":
        out.data[:] = 1.0
    elif input == "rating":
        out.data -= np.float32(shift)
    elif input == "liked":
        out.data = (out.data >= threshold).astype(np.float32)
        out.eliminate_zeros()
    else:  # the estimators check their options; this guards the private callers
        raise ValueError(f"input={input!r} is not supported; use one of {', '.join(INPUTS)}")
    return out


def ndcg_at_k(
    scores: np.ndarray, seen: sp.csr_matrix, relevant: sp.csr_matrix, k: int = 10
) -> float:
    """Mean NDCG@k (binary gains) of score rows whose ``seen`` cells are not candidates,
    over the rows with at least one ``relevant`` cell (NaN when there is none)."""
    scores = np.array(scores, dtype=np.float32, copy=True)
    coo = seen.tocoo()
    scores[coo.row, coo.col] = -np.inf
    k = min(k, scores.shape[1])
    # torch.topk spreads the rows over torch's threads (NumPy's argpartition runs on one)
    top = torch.topk(torch.from_numpy(scores), k, dim=1).indices.numpy().copy()
    dense = relevant.tocsr().astype(bool)
    hits = np.asarray(dense[np.arange(len(top))[:, None], top].todense(), dtype=np.float64)
    n_relevant = np.diff(dense.indptr)
    counted = n_relevant > 0
    if not counted.any():
        return float("nan")
    gains = 1.0 / np.log2(np.arange(k) + 2.0)
    ideal = np.cumsum(gains)[np.minimum(n_relevant, k) - 1]
    return float(((hits @ gains)[counted] / ideal[counted]).mean())


def search_l2(
    evaluate: Callable[[float], float], unit: float, factors: tuple[float, ...] = L2_FACTORS
) -> tuple[float, dict[float, float]]:
    """The penalty with the best ``evaluate(l2)`` (higher is better) over ``unit`` times
    ``factors``, then halving and doubling the best until neither helps (at most two
    steps each way). Returns the penalty and every score seen (``{l2: score}``)."""
    table: dict[float, float] = {}

    def score(l2: float) -> float:
        l2 = float(l2)
        if l2 not in table:
            value = evaluate(l2)
            table[l2] = value if np.isfinite(value) else -np.inf
        return table[l2]

    for factor in factors:
        score(unit * factor)
    best = max(table, key=lambda l2: (table[l2], l2))
    for step in (0.5, 2.0):
        for _ in range(2):
            trial = best * step
            if score(trial) > table[best]:
                best = trial
            else:
                break
    return best, table


def validation_users(
    relevant_rows: np.ndarray, n_items: int, rng: np.random.Generator
) -> np.ndarray:
    """The users whose validation slice holds a liked item, sorted; a random subset of
    ``MAX_VALIDATION_USERS`` (fewer when their score matrices would pass
    ``MAX_VALIDATION_CELLS``) when there are more."""
    users = np.unique(relevant_rows)
    most = min(MAX_VALIDATION_USERS, max(100, MAX_VALIDATION_CELLS // max(n_items, 1)))
    if len(users) > most:
        users = np.sort(rng.choice(users, most, replace=False))
    return users.astype(np.int64)


def relevant_matrix(
    users: np.ndarray, items: np.ndarray, chosen: np.ndarray, shape: Any
) -> sp.csr_matrix:
    """Rows = ``chosen`` users, a 1 at each (user, item) cell given of theirs."""
    position = np.full(shape[0], -1, dtype=np.int64)
    position[chosen] = np.arange(len(chosen))
    keep = position[users] >= 0
    return sp.csr_matrix(
        (np.ones(int(keep.sum()), dtype=np.float32), (position[users[keep]], items[keep])),
        shape=(len(chosen), shape[1]),
    )
