"""Folding a new user into an item-based autoencoder, without retraining.

An item model encodes each item's column of ratings into a code ``c_i`` (and, with
``residual=True``, the item's bias ``o_i``; else 0) and gives each training user ``u``
output weights ``w_u`` and a bias ``b_u``: ``r_ui = c_i . w_u + b_u + o_i``.
A new user has no output unit, but the item codes are fixed, so the user's ``(w, b)``
is a ridge regression of their ratings on the codes of the items they rated (what
implicit's ``recalculate_user`` does for ALS)::

    (w, b) = argmin  sum_i (c_i . w + b + o_i - r_i)^2 + l2 * |w|^2

``l2`` is chosen at fit time (:func:`choose_l2`): fold in some training users' own
ratings and keep the value whose predictions rank the catalogue most like those users'
fitted rows (mean Spearman correlation).

The bias ``b`` of a user with few ratings is shrunk toward a prior (for the estimator:
the mean training rating minus the items' mean offset, i.e. "a typical person"), as
the bias baseline shrinks its biases: ``b = (n b_free + BIAS_SHRINK prior) / (n +
BIAS_SHRINK)`` with ``n`` ratings. One 5-star rating then predicts each movie near its
own typical rating, not 5 everywhere; with tens of ratings the shrinkage fades. It
shifts a user's predictions by a constant, so their order (and ``choose_l2``) is
unchanged.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.stats import rankdata

__all__ = ["L2_GRID", "choose_l2", "fold_in", "fold_in_item_model"]

#: The ridge penalties tried by :func:`choose_l2`.
L2_GRID = (0.3, 1.0, 3.0, 10.0, 30.0, 100.0)
#: Training users folded in to choose ``l2``.
N_CHECK_USERS = 48
#: Pseudo-ratings of the prior in a folded-in user's bias (the bias baseline's penalty).
BIAS_SHRINK = 5.0


def fold_in(
    codes: np.ndarray,
    items: np.ndarray,
    ratings: np.ndarray,
    l2: float,
    prior: float | None = None,
    single: np.ndarray | None = None,
) -> np.ndarray:
    """Predicted ratings of every item (rows of ``codes``: hidden code, then the item's
    bias) for a user with these ratings.

    The unpenalised bias is removed by centring codes and ratings on the items rated;
    the ridge system is then solved in whichever form is smaller: ``n x n`` (dual) for a
    user with fewer ratings ``n`` than code units, ``h x h`` (primal) otherwise. Both
    give the same ``(w, b)``; a typical new user (tens of ratings) costs a tiny solve.
    With a ``prior``, ``b`` is shrunk toward it by ``BIAS_SHRINK`` pseudo-ratings.
    With ``single`` (``codes`` in float32), ``(w, b)`` is solved in float64 and only the
    predictions, one dot product per item, are computed in float32 (half the memory
    traffic: the codes are read once per user, and ML-1M's take 15 MB in float64).
    """
    return _predict(codes, single, *_solve(_centred(codes, items, ratings), l2, prior))


def _predict(
    codes: np.ndarray, single: np.ndarray | None, w: np.ndarray, bias: float
) -> np.ndarray:
    """A folded-in user's predicted ratings from their ``(w, b)`` (see :func:`fold_in`)."""
    if single is not None:
        out = single[:, :-1] @ w.astype(np.float32)
        out += np.float32(bias)
        out += single[:, -1]
        return out
    return codes[:, :-1] @ w + bias + codes[:, -1]


def _centred(
    codes: np.ndarray, items: np.ndarray, ratings: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, np.ndarray]:
    """What :func:`fold_in`'s ridge needs whatever its ``l2``: the rated items' codes and
    the ratings (minus the items' biases), centred, their means, and the smaller of the
    two Gram matrices (``n x n`` for fewer ratings ``n`` than code units, else
    ``h x h``)."""
    hidden, offset = codes[:, :-1], codes[:, -1]
    x = hidden[items]
    y = np.asarray(ratings, dtype=np.float64) - offset[items]
    x_mean, y_mean = x.mean(axis=0), float(np.mean(y))
    xc, yc = x - x_mean, y - y_mean
    n, h = xc.shape
    return xc, yc, x_mean, y_mean, (xc @ xc.T if n < h else xc.T @ xc)


def _solve(
    centred: tuple[np.ndarray, np.ndarray, np.ndarray, float, np.ndarray],
    l2: float,
    prior: float | None,
) -> tuple[np.ndarray, float]:
    """The folded-in user's output weights ``w`` and bias ``b`` from :func:`_centred`."""
    xc, yc, x_mean, y_mean, gram = centred
    n, h = xc.shape
    if n < h:
        w = xc.T @ np.linalg.solve(gram + l2 * np.eye(n), yc)
    else:
        w = np.linalg.solve(gram + l2 * np.eye(h), xc.T @ yc)
    bias = y_mean - x_mean @ w
    if prior is not None:
        bias = (n * bias + BIAS_SHRINK * prior) / (n + BIAS_SHRINK)
    return w, float(bias)


def fold_in_item_model(
    codes: np.ndarray,
    items: np.ndarray,
    ratings: np.ndarray,
    l2: float | None,
    prior: float | None,
    single: np.ndarray,
) -> np.ndarray:
    """:func:`fold_in` with an item model's codes (float64, items x hidden; ``single``:
    the same in float32, for the predictions) and the bias ``prior``; an item model saved
    before fold-in existed (no ``l2``) is a clear error."""
    if l2 is None:
        raise ValueError(
            "this item model was saved by an autorec that could not fold in users; refit it "
            "to fold in new users"
        )
    values = np.asarray(ratings, dtype=np.float64)
    return fold_in(codes, items, values, l2, prior, single=single)


def choose_l2(
    codes: np.ndarray,
    output_weight: np.ndarray,
    output_bias: np.ndarray,
    matrix: sp.csr_matrix,
    rng: np.random.Generator,
    single: np.ndarray | None = None,
) -> tuple[float, dict[str, float]]:
    """The ``l2`` of :data:`L2_GRID` whose fold-in of training users' own ratings ranks
    the items most like their fitted rows; and the mean Spearman correlation of each.
    ``single``: ``codes`` in float32, for the fold-ins' predictions (as served)."""
    counts = np.diff(matrix.indptr)
    candidates = np.flatnonzero(counts >= 5)
    if len(candidates) == 0:
        return 1.0, {}
    users = rng.choice(candidates, min(N_CHECK_USERS, len(candidates)), replace=False)
    parts, fitted = [], []  # the ridge's parts and the fitted row of each user, once
    for u in users:
        start, stop = matrix.indptr[u], matrix.indptr[u + 1]
        fitted.append(codes[:, :-1] @ output_weight[u] + output_bias[u] + codes[:, -1])
        ratings = matrix.data[start:stop].astype(np.float64)
        parts.append(_centred(codes, matrix.indices[start:stop], ratings))
    fitted_ranks = _rank_rows(np.array(fitted))
    table = {}
    for l2 in L2_GRID:
        folded = np.array([_predict(codes, single, *_solve(c, l2, None)) for c in parts])
        # a user whose ratings are all equal folds in to a constant row: no correlation
        # (NaN), left out of the mean
        scores = _correlations(_rank_rows(folded), fitted_ranks)
        finite = scores[np.isfinite(scores)]
        table[str(l2)] = float(finite.mean()) if len(finite) else float("nan")
    best = max(L2_GRID, key=lambda v: table[str(v)])
    return float(best), table


def _rank_rows(values: np.ndarray) -> np.ndarray:
    """Each row's ranks (1 to n, ties averaged as ``scipy.stats.rankdata`` does), centred
    on the row's mean; NaN for a constant row. One ``rankdata`` call for all rows."""
    ranks = rankdata(values, axis=1)
    ranks -= ranks.mean(axis=1, keepdims=True)
    ranks[values.min(axis=1) == values.max(axis=1)] = np.nan
    return ranks


def _correlations(mine: np.ndarray, theirs: np.ndarray) -> np.ndarray:
    """Pearson's correlation of each row of ``mine`` with the same row of ``theirs`` (both
    :func:`_rank_rows`: Spearman's correlation of the rows ranked, as
    ``scipy.stats.spearmanr`` computes it); NaN where either row is constant."""
    return np.array(
        [float(a @ b / np.sqrt((a @ a) * (b @ b))) for a, b in zip(mine, theirs, strict=True)]
    )
