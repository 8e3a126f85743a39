"""Full-catalogue top-N evaluation: rank every unseen item, then count the relevant ones.

This is the convention of the implicit-feedback literature (Steck 2019, "Embarrassingly
Shallow Autoencoders"; Liang et al. 2018, "Variational Autoencoders for Collaborative
Filtering"): for each user the *candidates* are all items of the catalogue the user did
not rate in training, and the *relevant* items are the user's test ratings
``>= threshold``. It answers "would the model put the movies this user liked on the first
screen?", which the study's :func:`autorec.metrics.top_k_accuracy` does not: that one
ranks only the user's own test movies (a few dozen, all of them watched), so even a
random order scores well and popularity is invisible.

Test items the model does not know (not in its training data) stay relevant: they count
in the recall and NDCG denominators, and can never be hit. Test users the model does not
know are left out (with a warning): there is nothing to rank them by.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ._base import check_is_fitted
from ._pages import ordinary_pages
from ._recommender import BLOCK_USERS, top_k_items
from ._validation import as_python, check_k, check_ratings, check_scalar
from .exceptions import UndefinedMetricWarning

__all__ = ["evaluate_ranking", "exposure_metrics", "ranking_metrics"]


def _padded(top_items: Any, n_cols: int) -> np.ndarray:
    """Top lists (a 2-D array, or a list of 1-D arrays) as int64 rows padded with -1."""
    if isinstance(top_items, np.ndarray) and top_items.ndim == 2:
        if top_items.dtype.kind not in "iu":
            raise TypeError(f"top_items must hold integer item indices, got {top_items.dtype}")
        top = top_items.astype(np.int64)
    else:
        rows = [np.asarray(row) for row in top_items]
        for row in rows:
            if row.ndim != 1 or (row.size and row.dtype.kind not in "iu"):
                raise TypeError(
                    "top_items must be a 2-D integer array or a list of 1-D integer arrays "
                    f"(one per user), got a row of dtype {row.dtype} and shape {row.shape}"
                )
        lengths = np.array([row.size for row in rows], dtype=np.int64)
        width = int(lengths.max()) if len(rows) else 0
        top = np.full((len(rows), width), -1, dtype=np.int64)
        top[np.arange(width)[None, :] < lengths[:, None]] = (
            np.concatenate(rows).astype(np.int64) if width else []
        )
    bad = (top < -1) | (top >= n_cols)
    if bad.any():
        raise ValueError(
            f"top_items holds item index {int(top[bad][0])}; item indices must be 0 to "
            f"{n_cols - 1} (-1 pads a short list)"
        )
    ordered = np.sort(top, axis=1)
    repeated = ((ordered[:, 1:] == ordered[:, :-1]) & (ordered[:, 1:] >= 0)).any(axis=1)
    if repeated.any():
        raise ValueError(
            f"top_items row {int(np.flatnonzero(repeated)[0])} lists an item twice; each "
            "user's list must hold distinct items"
        )
    return top


def _contains(matrix: sp.csr_matrix, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Whether ``matrix`` (canonical CSR: sorted indices, no duplicates) stores each
    ``(rows, cols)`` pair, by binary search over the row-major keys of its entries."""
    n_cols = matrix.shape[1]
    keys = np.repeat(np.arange(matrix.shape[0], dtype=np.int64), np.diff(matrix.indptr))
    keys = keys * n_cols + matrix.indices
    wanted = np.asarray(rows, dtype=np.int64) * n_cols + np.asarray(cols, dtype=np.int64)
    if keys.size == 0:
        return np.zeros(wanted.shape, dtype=bool)
    where = np.minimum(np.searchsorted(keys, wanted), keys.size - 1)
    return keys[where] == wanted


def ranking_metrics(top_items: Any, relevant: sp.spmatrix, k: int = 10) -> dict[str, Any]:
    """Precision, recall, NDCG and hit rate at ``k`` of given top-N lists.

    The pure core of ``evaluate_ranking``, over arrays.

    Parameters
    ----------
    top_items : 2-D int array (n_users, width) or list of 1-D int arrays
        Each user's recommended item indices, best first; ``-1`` pads a short list (a
        user with fewer than ``k`` candidates). Only the first ``k`` are used. Items
        within a list must be distinct.
    relevant : scipy sparse matrix, shape (n_users, n_cols)
        Stored non-zero entries mark the relevant items of each user (row ``u`` of
        ``relevant`` is the user of row ``u`` of ``top_items``). Columns that no list can
        contain (e.g. test items unknown to the model, appended after the catalogue) are
        relevant items that can never be hit.
    k : int, default=10
        Cut-off.

    Returns
    -------
    dict
        ``precision@k`` (hits / k), ``recall@k`` (hits / min(k, n_relevant)), ``ndcg@k``
        (binary gain, ``1 / log2(rank + 1)`` discount from rank 1, ideal DCG over the first
        min(k, n_relevant) ranks) and ``hit_rate@k`` (share of users with at least one
        hit), each the mean over the ``n_users`` users with at least one relevant item
        (NaN, with an :class:`~autorec.exceptions.UndefinedMetricWarning`, when there is
        none); ``n_users`` (int).

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> from autorec._topn import ranking_metrics
    >>> relevant = sp.csr_matrix(np.array([[0, 1, 0, 1], [0, 0, 0, 0]], dtype=bool))
    >>> m = ranking_metrics(np.array([[1, 2], [0, 1]]), relevant, k=2)
    >>> m["precision@2"], m["recall@2"], m["hit_rate@2"], m["n_users"]
    (0.5, 0.5, 1.0, 1)
    >>> round(m["ndcg@2"], 4)  # 1 / (1 + 1 / log2(3))
    0.6131
    """
    k = check_k(k)
    if not sp.issparse(relevant) or relevant.ndim != 2:
        raise TypeError(
            f"relevant must be a 2-D scipy sparse matrix (users x items), got "
            f"{type(relevant).__name__}"
        )
    rel = sp.csr_matrix(relevant, dtype=bool, copy=True)
    rel.sum_duplicates()
    rel.eliminate_zeros()
    rel.sort_indices()
    n_users, n_cols = rel.shape
    top = _padded(top_items, n_cols)[:, :k]
    if top.shape[0] != n_users:
        raise ValueError(
            f"top_items has {top.shape[0]} rows but relevant has {n_users}; they need one "
            "row per user each"
        )
    n_relevant = np.diff(rel.indptr)
    slot_rows = np.broadcast_to(np.arange(n_users)[:, None], top.shape)
    hit = (top >= 0) & _contains(rel, slot_rows, np.maximum(top, 0))
    hits = hit.sum(axis=1)
    dcg = (hit / np.log2(np.arange(top.shape[1]) + 2.0)).sum(axis=1)
    cum_discount = np.concatenate(([0.0], np.cumsum(1.0 / np.log2(np.arange(k) + 2.0))))
    n_ideal = np.minimum(n_relevant, k)
    counted = n_relevant > 0
    out: dict[str, Any] = {}
    with np.errstate(divide="ignore", invalid="ignore"):
        per_user = {
            f"precision@{k}": hits / k,
            f"recall@{k}": hits / n_ideal,
            f"ndcg@{k}": dcg / cum_discount[n_ideal],
            f"hit_rate@{k}": (hits > 0).astype(np.float64),
        }
    if not counted.any():
        warnings.warn(
            "no user has a relevant test item; the ranking metrics are undefined (NaN)",
            UndefinedMetricWarning,
            stacklevel=2,
        )
    for name, values in per_user.items():
        out[name] = float(values[counted].mean()) if counted.any() else float("nan")
    out["n_users"] = int(counted.sum())
    return out


def exposure_metrics(top_items: Any, popularity: Any, *, tail: int = 20) -> dict[str, float]:
    """What the lists expose: catalogue coverage and the popularity of recommended items.

    Parameters
    ----------
    top_items : 2-D int array or list of 1-D int arrays
        Recommended item indices per user (``-1`` pads a short list), as in
        ``ranking_metrics``.
    popularity : 1-D array-like of int, shape (n_items,)
        Training ratings of each item of the catalogue; its length is the catalogue size.
    tail : int, default=20
        Items with fewer than ``tail`` training ratings count as long-tail.

    Returns
    -------
    dict
        ``coverage``: distinct recommended items / catalogue size; ``median_popularity``:
        the median training popularity over all recommended slots (an item recommended to
        100 users counts 100 times); ``share_lt{tail}``: the share of those slots whose
        item has fewer than ``tail`` training ratings. With no slot filled, coverage is 0
        and the other two NaN.

    Examples
    --------
    >>> import numpy as np
    >>> from autorec._topn import exposure_metrics
    >>> exposure_metrics(np.array([[0, 1], [0, 3]]), [100, 50, 7, 5])
    {'coverage': 0.75, 'median_popularity': 75.0, 'share_lt20': 0.25}
    """
    tail = check_scalar(tail, "tail", int, low=1)
    pop = np.asarray(popularity)
    if pop.ndim != 1 or pop.size == 0 or pop.dtype.kind not in "iuf":
        raise ValueError(
            f"popularity must be a non-empty 1-D array of counts per item, got shape "
            f"{pop.shape} and dtype {pop.dtype}"
        )
    top = _padded(top_items, pop.size)
    slots = pop[top[top >= 0]].astype(np.float64)
    if slots.size == 0:
        return {"coverage": 0.0, "median_popularity": float("nan"), f"share_lt{tail}": float("nan")}
    return {
        "coverage": float(np.unique(top[top >= 0]).size / pop.size),
        "median_popularity": float(np.median(slots)),
        f"share_lt{tail}": float((slots < tail).mean()),
    }


def _check_model(model: Any) -> None:
    missing = [h for h in ("_user_scores", "_seen_items") if not callable(getattr(model, h, None))]
    if missing:
        raise TypeError(
            f"evaluate_ranking needs a recommender with _user_scores and _seen_items (an "
            f"autorec RecommenderMixin model); {type(model).__name__} lacks {missing}"
        )
    checker = getattr(model, "_check_fitted", None)
    if callable(checker):
        checker()
    else:
        check_is_fitted(model, "user_map_")
    check_is_fitted(model, "item_map_")


def _top_n(model: Any, index: np.ndarray, k: int, train: sp.csr_matrix) -> np.ndarray:
    """Top-``k`` item indices (padded with -1) of the users at ``index``, block by block.

    Masked, so never recommended: the model's ``_seen_items`` and the user's entries of
    ``train`` (rows follow ``index``, columns the model's items). NaN scores rank last.
    """
    out = np.full((len(index), k), -1, dtype=np.int64)
    for start in range(0, len(index), BLOCK_USERS):
        block = index[start : start + BLOCK_USERS]
        scores = np.array(model._user_scores(block), dtype=np.float64)
        if scores.shape != (len(block), train.shape[1]):
            raise ValueError(
                f"{type(model).__name__}._user_scores returned shape {scores.shape} for "
                f"{len(block)} users; expected ({len(block)}, {train.shape[1]}) (one column "
                "per item of item_map_)"
            )
        scores[np.isnan(scores)] = -np.inf
        seen = model._seen_items(block)
        rows = np.repeat(np.arange(len(block)), [len(s) for s in seen])
        scores[rows, np.concatenate(seen).astype(np.int64) if len(rows) else rows] = -np.inf
        part = train[start : start + len(block)]
        scores[np.repeat(np.arange(len(block)), np.diff(part.indptr)), part.indices] = -np.inf
        columns, counts = top_k_items(scores, k)
        chunk = out[start : start + len(block)]
        chunk[np.arange(k)[None, :] < counts[:, None]] = (
            np.concatenate(columns) if len(columns) else []
        )
    return out


@ordinary_pages()
def evaluate_ranking(
    model: Any,
    train: pd.DataFrame,
    test: pd.DataFrame,
    *,
    k: int = 10,
    threshold: float | None = 4.0,
) -> dict[str, Any]:
    """Full-catalogue top-``k`` evaluation of a fitted recommender.

    Each test user's candidates are every item of the model's catalogue except those the
    user rated in ``train`` (and any other item the model's ``_seen_items`` reports); the
    model's top ``k`` candidates are then compared with the user's test ratings. Unlike
    the study's :func:`autorec.metrics.top_k_accuracy`, which re-orders only each user's
    own test movies, this must find the liked movies among thousands, as a user sees them.

    Parameters
    ----------
    model : fitted recommender
        Any model with the ``autorec._recommender.RecommenderMixin`` shape: fitted
        ``user_map_`` and ``item_map_`` and the hooks ``_user_scores(index)`` and
        ``_seen_items(index)``. Users are scored in blocks of 1,024.
    train : pandas.DataFrame
        The ratings the model was fitted on (``user_id``, ``item_id``; ``rating`` unused):
        masked out of the candidates, and the item popularity counts.
    test : pandas.DataFrame
        Held-out ratings, ``user_id``, ``item_id``, ``rating``; disjoint from ``train``.
    k : int, default=10
        Cut-off.
    threshold : float or None, default=4.0
        A test rating ``>= threshold`` is relevant; ``None`` makes every test rating
        relevant.

    Returns
    -------
    dict
        Flat, JSON-friendly (``k`` = 10 shown):

        * ``precision@10``, ``recall@10``, ``ndcg@10``, ``hit_rate@10``: means over the
          ``n_users`` users with at least one relevant test rating (see
          ``ranking_metrics`` for the definitions; recall divides by
          ``min(k, n_relevant)``);
        * the same four with the suffix ``_all`` and ``n_users_all``: every test rating
          relevant (equal to the above when ``threshold`` is None);
        * ``coverage``, ``median_popularity``, ``share_lt20``: over the top-``k`` lists of
          all ``n_users_scored`` test users the model knows (see ``exposure_metrics``;
          popularity = number of ratings in ``train``);
        * ``k``, ``threshold``; ``n_unknown_users`` (test users not in the model, left
          out); ``n_unknown_items`` (distinct test items not in the model: still relevant,
          in the denominators, never hit).

    Raises
    ------
    TypeError
        If ``model`` lacks the recommender hooks, or ``k`` is not an integer.
    ValueError
        If ``k`` or ``threshold`` is invalid, a frame is invalid, or ``train`` and
        ``test`` share a (user, item) pair.
    autorec.exceptions.NotFittedError
        If ``model`` is not fitted.

    Warns
    -----
    UserWarning
        When test users are unknown to the model (they are left out).

    Examples
    --------
    >>> from autorec._exposure import MostPopular
    >>> from autorec._topn import evaluate_ranking
    >>> from autorec.datasets import make_ratings, train_test_split
    >>> train, test = train_test_split(make_ratings(200, 100, 4000, random_state=0),
    ...                                random_state=0)
    >>> result = evaluate_ranking(MostPopular().fit(train), train, test, k=10)
    >>> list(result)  # doctest: +NORMALIZE_WHITESPACE
    ['k', 'threshold', 'precision@10', 'recall@10', 'ndcg@10', 'hit_rate@10', 'n_users',
     'precision@10_all', 'recall@10_all', 'ndcg@10_all', 'hit_rate@10_all', 'n_users_all',
     'coverage', 'median_popularity', 'share_lt20', 'n_users_scored', 'n_unknown_users',
     'n_unknown_items']
    >>> 0.0 <= result["ndcg@10"] <= 1.0, result["n_users_scored"]  # users with a test rating
    (True, 190)
    """
    _check_model(model)
    k = check_k(k)
    if threshold is not None:
        threshold = check_scalar(threshold, "threshold")
    train = check_ratings(train, require_rating=False, name="train")
    test = check_ratings(test, require_rating=threshold is not None, name="test")
    user_map, item_map = model.user_map_, model.item_map_
    n_items = len(item_map)

    # Train: popularity, and the pairs to mask (those the model knows).
    train_users = user_map.transform(train["user_id"])
    train_items = item_map.transform(train["item_id"])
    popularity = np.bincount(train_items[train_items >= 0], minlength=n_items)

    # Test: known users only; unknown items become extra columns after the catalogue.
    test_users = user_map.transform(test["user_id"])
    n_unknown_users = int(pd.unique(test["user_id"].to_numpy()[test_users < 0]).size)
    if n_unknown_users:
        warnings.warn(
            f"{n_unknown_users} test user(s) are not in the model's training data and are "
            "left out of the ranking evaluation",
            UserWarning,
            stacklevel=2,
        )
    known = test_users >= 0
    index = np.unique(test_users[known])  # the scored users, in the model's order
    row_of = np.full(len(user_map), -1, dtype=np.int64)
    row_of[index] = np.arange(len(index))
    rows = row_of[test_users[known]]
    item_ids = test["item_id"].to_numpy()[known]
    cols = item_map.transform(item_ids)
    unknown_codes, unknown_item_ids = pd.factorize(item_ids[cols < 0])
    cols[cols < 0] = n_items + unknown_codes

    keep = (train_users >= 0) & (train_items >= 0) & (row_of[np.maximum(train_users, 0)] >= 0)
    train_mask = sp.csr_matrix(
        (np.ones(int(keep.sum()), bool), (row_of[train_users[keep]], train_items[keep])),
        shape=(len(index), n_items),
    )
    train_mask.sum_duplicates()
    train_mask.sort_indices()
    shape = (len(index), n_items + len(unknown_item_ids))
    overlap = np.flatnonzero(cols < n_items)
    overlap = overlap[_contains(train_mask, rows[overlap], cols[overlap])]
    if overlap.size:
        first = np.flatnonzero(known)[overlap[0]]
        pair = (as_python(test["user_id"].iloc[first]), as_python(test["item_id"].iloc[first]))
        raise ValueError(
            f"train and test share {overlap.size} (user_id, item_id) pair(s), e.g. {pair!r}; a "
            "test rating must be held out of the training data"
        )

    top = _top_n(model, index, k, train_mask)
    if threshold is None:
        liked = np.ones(len(rows), dtype=bool)
    else:
        liked = test["rating"].to_numpy(dtype=np.float64)[known] >= threshold
    relevant = sp.csr_matrix((liked, (rows, cols)), shape=shape)
    everything = sp.csr_matrix((np.ones(len(rows), bool), (rows, cols)), shape=shape)

    result: dict[str, Any] = {"k": k, "threshold": threshold}
    result.update(ranking_metrics(top, relevant, k))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        for name, value in ranking_metrics(top, everything, k).items():
            result[f"{name}_all"] = value
    result.update(exposure_metrics(top, popularity, tail=20))
    result["n_users_scored"] = len(index)
    result["n_unknown_users"] = n_unknown_users
    result["n_unknown_items"] = len(unknown_item_ids)
    return result
