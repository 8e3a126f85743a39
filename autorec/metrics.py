"""Rating-prediction and top-k ranking metrics.

All functions take 1-D array-likes with one entry per test rating. Error metrics
(:func:`rmse`, :func:`mae`) compare predicted with true ratings over the rated pairs only.
Ranking metrics (:func:`top_k_accuracy`, :func:`precision_at_k`, :func:`recall_at_k`,
:func:`ndcg_at_k`) rank each user's *test* items by a score and look at the top ``k``; an
item is relevant when its true rating is ``>= threshold``. They are vectorized (one sort,
no Python loop over users): the 250,088 test ratings of MovieLens-1M take well under a
second.

The scores must come from a model that saw only the *training* ratings. The reference
notebook this library reproduces fed each user's test ratings into the model before
ranking them, which leaks the answer and inflates top-k accuracy.
"""

from __future__ import annotations

import numbers
import warnings
from typing import Any

import numpy as np
import pandas as pd

from ._ranking import TopK, top_k_counts
from ._validation import check_k
from .exceptions import UndefinedMetricWarning

__all__ = ["mae", "ndcg_at_k", "precision_at_k", "recall_at_k", "rmse", "top_k_accuracy"]


# ----------------------------------------------------------------------------- input checks
def _as_1d(x: Any, name: str) -> np.ndarray:
    """Return ``x`` as a 1-D array, or raise naming ``name`` and the shape found."""
    if isinstance(x, (pd.Series, pd.Index)):
        arr = x.to_numpy()
    else:
        arr = np.asarray(x)
    if arr.ndim != 1:
        raise ValueError(
            f"{name} must be 1-D (one entry per test rating), got an array of shape {arr.shape}"
        )
    return arr


def _as_float_1d(x: Any, name: str, *, allow_inf: bool = False) -> np.ndarray:
    """Return ``x`` as a 1-D float64 array with no NaN (and no inf unless allowed)."""
    if isinstance(x, (pd.Series, pd.Index)) and pd.api.types.is_numeric_dtype(x.dtype):
        x = x.to_numpy(dtype=np.float64, na_value=np.nan)
    arr = _as_1d(x, name)
    if arr.dtype.kind not in "biuf":
        try:
            if arr.dtype.kind not in "O":
                raise TypeError
            arr = arr.astype(np.float64)
        except (TypeError, ValueError):
            raise TypeError(
                f"{name} must hold numbers, got dtype {arr.dtype}"
                + (f" (first entry {arr[0]!r})" if arr.size else "")
            ) from None
    arr = arr.astype(np.float64, copy=False)
    bad = np.isnan(arr) if allow_inf else ~np.isfinite(arr)
    if bad.any():
        pos = int(np.flatnonzero(bad)[0])
        what = "NaN" if allow_inf else "NaN or infinite values"
        raise ValueError(
            f"{name} contains {what}: {float(arr[pos])} at position {pos} ({int(bad.sum())} "
            f"in total); remove or fill them before scoring"
        )
    return arr


def _check_same_length(**arrays: np.ndarray) -> int:
    names = list(arrays)
    lengths = [arrays[n].shape[0] for n in names]
    if len(set(lengths)) > 1:
        parts = [f"{n} has {m}" for n, m in zip(names, lengths, strict=True)]
        got = ", ".join(parts[:-1]) + " and " + parts[-1]
        raise ValueError(
            f"{', '.join(names[:-1])} and {names[-1]} must have the same length (one entry "
            f"per test rating), "
            f"but {got} entries"
        )
    if lengths[0] == 0:
        raise ValueError(f"{names[0]} is empty: need at least one test rating to score")
    return lengths[0]


def _check_threshold(threshold: Any) -> float:
    if isinstance(threshold, (bool, np.bool_)) or not isinstance(threshold, numbers.Real):
        raise TypeError(f"threshold must be a real number, got {threshold!r}")
    if not np.isfinite(threshold):
        raise ValueError(f"threshold must be finite, got {threshold!r}")
    return float(threshold)


def _rank(users: Any, y_true: Any, y_score: Any, k: Any, threshold: Any) -> TopK:
    """Validate the ranking-metric inputs and return the per-user counts."""
    k = check_k(k)
    threshold = _check_threshold(threshold)
    users_arr = _as_1d(users, "users")
    true_arr = _as_float_1d(y_true, "y_true")
    score_arr = _as_float_1d(y_score, "y_score", allow_inf=True)
    _check_same_length(users=users_arr, y_true=true_arr, y_score=score_arr)
    codes, _ = pd.factorize(users_arr)
    if (codes < 0).any():
        pos = int(np.flatnonzero(codes < 0)[0])
        raise ValueError(f"users contains a missing id ({users_arr[pos]!r}) at position {pos}")
    return top_k_counts(codes.astype(np.int64), true_arr >= threshold, score_arr, k)


def _mean_over_users_with_relevant(values: np.ndarray, counts: TopK, metric: str) -> float:
    has_rel = counts.n_relevant > 0
    if not has_rel.any():
        warnings.warn(
            f"{metric} is undefined: no user has a relevant test item (true rating >= "
            f"threshold); returning NaN",
            UndefinedMetricWarning,
            stacklevel=3,
        )
        return float("nan")
    return float(values[has_rel].mean())


# ----------------------------------------------------------------------------- error metrics
def rmse(y_true: Any, y_pred: Any) -> float:
    """Root mean squared error over the rated pairs.

    Parameters
    ----------
    y_true : array-like of shape (n_ratings,)
        True ratings, finite numbers.
    y_pred : array-like of shape (n_ratings,)
        Predicted ratings for the same (user, item) pairs, finite numbers.

    Returns
    -------
    float
        ``sqrt(mean((y_true - y_pred) ** 2))``; ``0.0`` exactly when the predictions equal
        the truth.

    Raises
    ------
    ValueError
        If the inputs are not 1-D, are empty, differ in length (both lengths are named), or
        hold NaN or infinite values (the first bad position is named).
    TypeError
        If an input does not hold numbers.

    Examples
    --------
    >>> from autorec.metrics import rmse
    >>> rmse([4, 3, 5], [4, 3, 5])
    0.0
    >>> round(rmse([4, 3, 5], [3.5, 3.0, 4.0]), 4)
    0.6455
    """
    t = _as_float_1d(y_true, "y_true")
    p = _as_float_1d(y_pred, "y_pred")
    _check_same_length(y_true=t, y_pred=p)
    return float(np.sqrt(np.mean(np.square(t - p))))


def mae(y_true: Any, y_pred: Any) -> float:
    """Mean absolute error over the rated pairs.

    Parameters
    ----------
    y_true : array-like of shape (n_ratings,)
        True ratings, finite numbers.
    y_pred : array-like of shape (n_ratings,)
        Predicted ratings for the same (user, item) pairs, finite numbers.

    Returns
    -------
    float
        ``mean(abs(y_true - y_pred))``; ``0.0`` exactly when the predictions equal the truth.

    Raises
    ------
    ValueError
        If the inputs are not 1-D, are empty, differ in length, or hold NaN or inf.
    TypeError
        If an input does not hold numbers.

    Examples
    --------
    >>> from autorec.metrics import mae
    >>> mae([4, 3, 5], [3.5, 3.0, 4.0])
    0.5
    """
    t = _as_float_1d(y_true, "y_true")
    p = _as_float_1d(y_pred, "y_pred")
    _check_same_length(y_true=t, y_pred=p)
    return float(np.mean(np.abs(t - p)))


# ----------------------------------------------------------------------------- ranking metrics
_RANKING_PARAMS = """
    Parameters
    ----------
    users : array-like of shape (n_ratings,)
        User id of each test rating (ints or strings; no missing ids).
    y_true : array-like of shape (n_ratings,)
        True rating of each test rating, finite numbers.
    y_score : array-like of shape (n_ratings,)
        Score of each (user, item) pair, typically the predicted rating, from a model that
        saw only the training ratings. Higher ranks first. NaN is rejected; ``-inf`` and
        ``inf`` are allowed. Ties are broken by position: the entry that comes first in
        the input ranks first.
    k : int, default=10
        Cut-off, an int >= 1. It may exceed a user's number of test items (then all of that
        user's items are in the top k).
    threshold : float, default=4.0
        An item is relevant when its true rating is ``>= threshold``.
"""

_RANKING_RAISES = """
    Raises
    ------
    ValueError
        If the inputs are not 1-D, are empty, differ in length (all lengths are named),
        ``y_true`` holds NaN/inf, ``y_score`` holds NaN, ``users`` holds a missing id, or
        ``k < 1``.
    TypeError
        If ``k`` is not an int (``bool`` and ``float`` are rejected), ``threshold`` is not a
        real number, or ``y_true``/``y_score`` do not hold numbers.
"""


def top_k_accuracy(
    users: Any, y_true: Any, y_score: Any, k: int = 10, *, threshold: float = 4.0
) -> float:
    """Top-k accuracy of the reference study, in percent.

    For each user, that user's test items are ranked by ``y_score`` (descending), the top
    ``k`` are kept, those with true rating ``>= threshold`` are counted and the count is
    divided by ``k``; the result is averaged over all users and multiplied by 100.

    This is the published protocol, kept on purpose: a user with fewer than ``k`` test
    items is still divided by ``k`` (so cannot reach 100), and users with no relevant item
    count as 0. It equals ``100 * precision_at_k(...)``.

    The reference notebook computed it after feeding each user's *test* ratings into the
    model, which leaks the answer. This function only ranks the scores it is given: pass
    scores from a model that saw only the training ratings.
    %s
    Returns
    -------
    float
        Percentage in ``[0, 100]``.
    %s
    See Also
    --------
    precision_at_k : The same quantity as a fraction.

    Examples
    --------
    >>> from autorec.metrics import top_k_accuracy
    >>> users = [1, 1, 1, 2, 2]
    >>> y_true = [5, 2, 4, 3, 5]
    >>> y_score = [4.5, 4.0, 3.0, 4.9, 3.1]
    >>> top_k_accuracy(users, y_true, y_score, k=2)
    50.0

    User 1's top 2 are the items rated 5 and 2 (1 hit of 2); user 2's top 2 are its only
    items, rated 3 and 5 (1 hit of 2): (0.5 + 0.5) / 2 * 100 = 50.
    """
    counts = _rank(users, y_true, y_score, k, threshold)
    return float(np.mean(counts.hits) / check_k(k) * 100.0)


def precision_at_k(
    users: Any, y_true: Any, y_score: Any, k: int = 10, *, threshold: float = 4.0
) -> float:
    """Precision at k, averaged over users.

    For each user: the number of relevant items (true rating ``>= threshold``) among the
    ``k`` highest-scored test items, divided by ``k`` (also when the user has fewer than
    ``k`` test items), then averaged over all users. Users with no relevant item count as
    0.
    %s
    Returns
    -------
    float
        Fraction in ``[0, 1]``.
    %s
    See Also
    --------
    top_k_accuracy : The same quantity in percent.

    Examples
    --------
    >>> from autorec.metrics import precision_at_k
    >>> precision_at_k([1, 1, 1, 2, 2], [5, 2, 4, 3, 5], [4.5, 4.0, 3.0, 4.9, 3.1], k=2)
    0.5
    """
    counts = _rank(users, y_true, y_score, k, threshold)
    return float(np.mean(counts.hits) / check_k(k))


def recall_at_k(
    users: Any, y_true: Any, y_score: Any, k: int = 10, *, threshold: float = 4.0
) -> float:
    """Recall at k, averaged over the users that have a relevant test item.

    For each user: the number of relevant items (true rating ``>= threshold``) among the
    ``k`` highest-scored test items, divided by that user's number of relevant test items.
    Users with no relevant test item are skipped (recall is undefined for them); if no
    user has one, an :class:`~autorec.exceptions.UndefinedMetricWarning` is issued and NaN
    is returned.
    %s
    Returns
    -------
    float
        Fraction in ``[0, 1]``, or NaN when no user has a relevant item.
    %s
    Examples
    --------
    >>> from autorec.metrics import recall_at_k
    >>> recall_at_k([1, 1, 1, 2, 2], [5, 2, 4, 3, 5], [4.5, 4.0, 3.0, 4.9, 3.1], k=2)
    0.75

    User 1 finds 1 of its 2 relevant items in its top 2, user 2 its only one:
    (0.5 + 1) / 2 = 0.75.
    """
    counts = _rank(users, y_true, y_score, k, threshold)
    with np.errstate(divide="ignore", invalid="ignore"):
        per_user = counts.hits / counts.n_relevant
    return _mean_over_users_with_relevant(per_user, counts, "recall_at_k")


def ndcg_at_k(
    users: Any, y_true: Any, y_score: Any, k: int = 10, *, threshold: float = 4.0
) -> float:
    """Normalized discounted cumulative gain at k with binary relevance, averaged over users.

    Gain is binary: 1 when the true rating is ``>= threshold``, else 0 (graded gains would
    reward ranking a 5 above a 4, which this metric deliberately ignores). For each user,
    ``DCG = sum(gain_r / log2(r + 1))`` over ranks ``r = 1 .. k`` of the highest-scored test
    items, and the ideal DCG puts that user's relevant test items first:
    ``IDCG = sum(1 / log2(r + 1))`` for ``r = 1 .. min(k, n_relevant)``. The result is the
    mean of ``DCG / IDCG`` over users that have a relevant test item; users with none are
    skipped, and if no user has one an
    :class:`~autorec.exceptions.UndefinedMetricWarning` is issued and NaN is returned.
    %s
    Returns
    -------
    float
        Fraction in ``[0, 1]``, or NaN when no user has a relevant item.
    %s
    Examples
    --------
    >>> from autorec.metrics import ndcg_at_k
    >>> round(ndcg_at_k([1, 1, 1, 2, 2], [5, 2, 4, 3, 5], [4.5, 4.0, 3.0, 4.9, 3.1], k=2), 4)
    0.622

    User 1 ranks a relevant item first and an irrelevant one second: DCG = 1, and with 2
    relevant items IDCG = 1 + 1/log2(3), ratio 0.6131. User 2 ranks its only relevant item
    second: DCG = 1/log2(3), IDCG = 1, ratio 0.6309. The mean is 0.6220.
    """
    counts = _rank(users, y_true, y_score, k, threshold)
    with np.errstate(divide="ignore", invalid="ignore"):
        per_user = counts.dcg / counts.idcg
    return _mean_over_users_with_relevant(per_user, counts, "ndcg_at_k")


for _f in (top_k_accuracy, precision_at_k, recall_at_k, ndcg_at_k):
    if _f.__doc__:  # None under python -OO
        _f.__doc__ = _f.__doc__ % (_RANKING_PARAMS, _RANKING_RAISES)
del _f
