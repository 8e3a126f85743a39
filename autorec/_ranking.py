"""Vectorized per-user top-k bookkeeping shared by the ranking metrics and ``recommend``.

Private module: the public functions live in :mod:`autorec.metrics`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class TopK:
    """Per-user counts for one ranking of test ratings.

    Attributes
    ----------
    hits : ndarray of float64, shape (n_users,)
        Number of relevant items among each user's top k.
    n_relevant : ndarray of float64, shape (n_users,)
        Number of relevant test items of each user.
    dcg : ndarray of float64, shape (n_users,)
        Discounted cumulative gain (binary gain) of each user's top k.
    idcg : ndarray of float64, shape (n_users,)
        Ideal DCG of each user (0 for a user with no relevant item).
    """

    hits: np.ndarray
    n_relevant: np.ndarray
    dcg: np.ndarray
    idcg: np.ndarray


def top_k_counts(user_codes: np.ndarray, relevant: np.ndarray, score: np.ndarray, k: int) -> TopK:
    """Rank each user's entries by descending score and count hits in the top ``k``.

    Parameters
    ----------
    user_codes : ndarray of int64, shape (n,)
        Dense user codes ``0 .. n_users - 1``; every code must occur.
    relevant : ndarray of bool, shape (n,)
        Whether each entry is relevant.
    score : ndarray of float64, shape (n,)
        Ranking scores (higher ranks first), no NaN.
    k : int
        Cut-off, ``k >= 1``.

    Returns
    -------
    TopK
        Per-user counts, one entry per user code.

    Notes
    -----
    Ties in ``score`` are broken by position: the entry that comes first in the input
    ranks first (``np.lexsort`` is stable). No Python loop over users: one lexsort, then
    ranks within each user from the group start offsets, then ``np.bincount``.
    """
    n = user_codes.shape[0]
    n_users = int(user_codes.max()) + 1
    # Primary key: user; secondary: descending score; ties keep input order (stable).
    order = np.lexsort((-score, user_codes))
    users_sorted = user_codes[order]
    rel_sorted = relevant[order].astype(np.float64)

    counts = np.bincount(user_codes, minlength=n_users)
    starts = np.cumsum(counts) - counts  # groups are in code order after the sort
    rank = np.arange(n, dtype=np.int64) - np.repeat(starts, counts)
    in_top = rank < k

    top_users = users_sorted[in_top]
    top_rel = rel_sorted[in_top]
    discount = 1.0 / np.log2(rank[in_top] + 2.0)
    hits = np.bincount(top_users, weights=top_rel, minlength=n_users)
    dcg = np.bincount(top_users, weights=top_rel * discount, minlength=n_users)

    n_relevant = np.bincount(user_codes, weights=relevant.astype(np.float64), minlength=n_users)
    # Ideal DCG: the user's relevant items occupy the first min(k, n_relevant) ranks.
    n_ideal = np.minimum(n_relevant, k).astype(np.int64)
    max_ideal = int(n_ideal.max()) if n_users else 0
    cum_discount = np.concatenate(
        ([0.0], np.cumsum(1.0 / np.log2(np.arange(max_ideal, dtype=np.float64) + 2.0)))
    )
    idcg = cum_discount[n_ideal]
    return TopK(hits=hits, n_relevant=n_relevant, dcg=dcg, idcg=idcg)


def top_k_items(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` best columns of each row of ``scores``, best first.

    Ties are broken by column order (the lower column first), so the result depends only
    on the row itself. ``-inf`` marks a column that is not a candidate; a row with fewer
    than ``k`` candidates gets fewer columns.

    Returns
    -------
    columns : list of ndarray of int64
        The chosen columns of each row, best first.
    counts : ndarray of int64
        How many columns each row got.

    Examples
    --------
    >>> import numpy as np
    >>> from autorec._ranking import top_k_items
    >>> cols, counts = top_k_items(np.array([[1.0, 3.0, 3.0, -np.inf]]), 3)
    >>> cols[0].tolist(), counts.tolist()
    ([1, 2, 0], [3])
    """
    scores = np.asarray(scores, dtype=np.float64)
    n_rows, n_cols = scores.shape
    k = min(int(k), n_cols)
    if n_rows == 0 or k == 0:
        return [np.empty(0, dtype=np.int64) for _ in range(n_rows)], np.zeros(n_rows, np.int64)
    # The k-th largest value of each row, then every column above it plus the first
    # (in column order) of those equal to it: exactly k columns, ties by column order.
    kth = -np.partition(-scores, k - 1, axis=1)[:, k - 1 : k]
    above = scores > kth
    equal = scores == kth
    room = k - above.sum(axis=1, keepdims=True)
    chosen = above | (equal & (np.cumsum(equal, axis=1) <= room))
    chosen &= np.isfinite(scores)
    rows, cols = np.nonzero(chosen)
    order = np.lexsort((cols, -scores[rows, cols], rows))
    rows, cols = rows[order], cols[order]
    counts = np.bincount(rows, minlength=n_rows).astype(np.int64)
    return np.split(cols.astype(np.int64), np.cumsum(counts)[:-1]), counts
