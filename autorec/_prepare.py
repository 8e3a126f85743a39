"""Data preparation for a fit: the ratings validated once, the CSR matrix built once.

:func:`prepare` turns a ratings frame into a :class:`FitData` (users x items CSR with id
maps and its transpose, built on demand and cached); :func:`carve_validation` and
:func:`hold_out` split a row matrix into the part the network trains on and the cells
early stopping watches, without leaving sparse arrays.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ._validation import as_python, check_pairs, check_ratings
from .datasets._matrix import UtilityMatrix, utility_from_checked
from .datasets._split import split_mask_by_group

__all__ = [
    "FitData",
    "carve_validation",
    "hold_out",
    "mean_fallback",
    "prepare",
    "row_means",
    "validation_codes",
]

#: Validation cells: (row codes, column codes, ratings), all in one order.
Cells = tuple[np.ndarray, np.ndarray, np.ndarray]


@dataclass(eq=False)
class FitData:
    """Validated training ratings: users x items CSR (float32, sorted) and id maps."""

    utility: UtilityMatrix
    #: User and item codes of each rating, in the order of the ratings frame (None when
    #: the data came as a matrix: then the matrix's own order).
    user_codes: np.ndarray | None = None
    item_codes: np.ndarray | None = None
    #: The ratings in that same order (float64).
    ratings: np.ndarray | None = None
    _transposed: sp.csr_matrix | None = field(default=None, repr=False)
    #: Whether :attr:`matrix` is this object's own (built from a frame), not a
    #: caller's matrix it shares arrays with: only its own is worth setting aside.
    owns_matrix: bool = True

    @property
    def matrix(self) -> sp.csr_matrix:
        return self.utility.matrix

    def triples(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(user codes, item codes, float64 ratings), in the frame's order when known."""
        if self.user_codes is None or self.item_codes is None or self.ratings is None:
            coo = self.matrix.tocoo()
            return coo.row.astype(np.int64), coo.col.astype(np.int64), coo.data.astype(np.float64)
        return self.user_codes, self.item_codes, self.ratings

    def release_rows(self) -> None:
        """Forget the transposed copy :meth:`rows` built (it is rebuilt when asked)."""
        self._transposed = None

    def rows(self, kind: str) -> sp.csr_matrix:
        """The matrix whose rows the autoencoder encodes: users (``"user"``) or items."""
        if kind == "user":
            return self.matrix
        if self._transposed is None:
            self._transposed = self.matrix.T.tocsr()
        return self._transposed


def prepare(
    ratings: pd.DataFrame | UtilityMatrix,
    rating_scale=None,
    duplicates: str = "error",
    keep_order: bool = True,
) -> FitData:
    """Validate ``ratings`` (see ``autorec._validation.check_ratings``) and build the
    training matrix; a :class:`~autorec.datasets.UtilityMatrix` is only checked against
    ``rating_scale``. ``keep_order=False`` keeps no codes in the frame's order
    (:meth:`FitData.triples` then follows the matrix): 24 bytes a rating less."""
    if isinstance(ratings, UtilityMatrix):
        maps = (len(ratings.user_map), len(ratings.item_map))
        if ratings.matrix.shape != maps:
            raise ValueError(
                f"ratings is a UtilityMatrix whose matrix has shape {ratings.matrix.shape} but "
                f"whose id maps hold {maps[0]} users and {maps[1]} items; build it with "
                "autorec.datasets.utility_matrix so the two agree"
            )
        matrix = sp.csr_matrix(ratings.matrix, dtype=np.float32)
        values = matrix.data
        if values.size == 0:
            raise ValueError("ratings is an empty matrix; at least one rating is needed")
        if not np.isfinite(values).all():
            raise ValueError("ratings matrix holds NaN or infinite ratings")
        if rating_scale is not None and (
            values.min() < rating_scale[0] or values.max() > rating_scale[1]
        ):
            raise ValueError(
                f"ratings matrix has values in [{values.min()}, {values.max()}], outside the "
                f"rating scale [{rating_scale[0]}, {rating_scale[1]}]"
            )
        matrix.sort_indices()
        source = ratings.matrix
        shared = sp.issparse(source) and source.format == "csr"
        shared = shared and np.may_share_memory(matrix.data, source.data)
        return FitData(
            UtilityMatrix(matrix, ratings.user_map, ratings.item_map), owns_matrix=not shared
        )
    frame = check_ratings(ratings, rating_scale=rating_scale, duplicates=duplicates)
    utility = utility_from_checked(frame)
    utility.matrix = sp.csr_matrix(utility.matrix, dtype=np.float32)
    if not keep_order:
        return FitData(utility)
    users = utility.user_map.transform(frame["user_id"].to_numpy())
    items = utility.item_map.transform(frame["item_id"].to_numpy())
    return FitData(utility, users, items, frame["rating"].to_numpy(dtype=np.float64))


def held_out_cells(data: FitData, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(user codes, item codes) of ``fraction`` of each user's ratings, drawn from ``seed``.

    The same cells as ``train_test_split(ratings, fraction, by="user",
    random_state=seed)`` puts in test, in the ratings' order.
    """
    users, items, _ = data.triples()
    is_test = split_mask_by_group(users, float(fraction), np.random.default_rng(seed))
    return users[is_test], items[is_test]


def carve_validation(
    rows_matrix: sp.csr_matrix, fraction: float, seed: int
) -> tuple[sp.csr_matrix, Cells | None]:
    """Split each row's ratings into a fitting part and a validation slice."""
    if fraction == 0:
        return rows_matrix, None
    coo = rows_matrix.tocoo()
    is_test = split_mask_by_group(coo.row, float(fraction), np.random.default_rng(seed))
    if not is_test.any():
        return rows_matrix, None
    keep = ~is_test
    fit_rows = sp.csr_matrix(
        (coo.data[keep].astype(np.float32), (coo.row[keep], coo.col[keep])),
        shape=rows_matrix.shape,
    )
    val = (
        coo.row[is_test].astype(np.int64),
        coo.col[is_test].astype(np.int64),
        coo.data[is_test].astype(np.float32),
    )
    return fit_rows, val


def validation_codes(data: FitData, validation: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(user codes, item codes) of ``fit(..., validation=pairs)``: each pair must be a
    rating being fitted, and some rating must be left to train on."""
    check_pairs(validation, "validation")
    users = data.utility.user_map.transform(validation["user_id"].to_numpy())
    items = data.utility.item_map.transform(validation["item_id"].to_numpy())
    matrix = data.matrix.tocoo()
    n_items = np.int64(matrix.shape[1])
    keys = users.astype(np.int64) * n_items + items
    rated = np.isin(keys, matrix.row.astype(np.int64) * n_items + matrix.col)
    rated &= (users >= 0) & (items >= 0)
    if not rated.all():
        first = validation.iloc[int(np.argmin(rated))]
        raise ValueError(
            f"validation pair (user_id={as_python(first['user_id'])!r}, item_id="
            f"{as_python(first['item_id'])!r}) is not a rating being fitted "
            f"({int((~rated).sum())} such pair(s)); validation pairs must be pairs of the "
            "ratings being fitted"
        )
    if len(np.unique(keys)) >= matrix.nnz:
        raise ValueError(
            f"validation holds all {matrix.nnz} ratings being fitted; leave some ratings "
            "out of it to train on"
        )
    return users, items


def hold_out(
    rows_matrix: sp.csr_matrix, users: np.ndarray, items: np.ndarray, kind: str
) -> tuple[sp.csr_matrix, Cells | None]:
    """Remove the given (user code, item code) cells from ``rows_matrix``; return the rest
    and the removed cells as (row codes, column codes, ratings), in the given order."""
    if len(users) == 0:
        return rows_matrix, None
    rows, cols = (users, items) if kind == "user" else (items, users)
    rows, cols = rows.astype(np.int64), cols.astype(np.int64)
    target = np.asarray(rows_matrix[rows, cols], dtype=np.float32).ravel()
    # Keep every stored cell not named (explicit zero ratings included).
    coo = rows_matrix.tocoo()
    n_cols = np.int64(rows_matrix.shape[1])
    keep = ~np.isin(coo.row.astype(np.int64) * n_cols + coo.col, rows * n_cols + cols)
    fit_rows = sp.csr_matrix(
        (coo.data[keep], (coo.row[keep], coo.col[keep])), shape=rows_matrix.shape
    )
    return fit_rows, (rows, cols, target)


def matrix_from_rows(
    fit_rows: sp.csr_matrix, val: Cells | None, shape: tuple[int, int]
) -> sp.csr_matrix:
    """The users x items training matrix (float32 CSR, sorted, explicit zero ratings
    kept) from an item model's fitting rows (items x users) and its validation cells
    (item codes, user codes, ratings): the inverse of carving them out."""
    coo = fit_rows.tocoo()
    users, items, ratings = coo.col, coo.row, coo.data
    if val is not None:
        users = np.concatenate([users, val[1]])
        items = np.concatenate([items, val[0]])
        ratings = np.concatenate([ratings, val[2]])
    matrix = sp.coo_matrix((ratings.astype(np.float32), (users, items)), shape=shape).tocsr()
    matrix.sort_indices()
    return matrix


def fit_biases(
    rows: np.ndarray,
    cols: np.ndarray,
    values: np.ndarray,
    shape: tuple[int, int],
    reg_row: float = 5.0,
    reg_col: float = 5.0,
    n_iter: int = 10,
) -> tuple[float, np.ndarray, np.ndarray]:
    """``mu, b_row, b_col`` of the bias model ``r = mu + b_row + b_col`` by alternating
    regularized least squares (columns first)::

        b_col = sum (r - mu - b_row) / (reg_col + n_col)
        b_row = sum (r - mu - b_col) / (reg_row + n_row)
    """
    values = np.asarray(values, dtype=np.float64)
    n_row = np.bincount(rows, minlength=shape[0]).astype(np.float64)
    n_col = np.bincount(cols, minlength=shape[1]).astype(np.float64)
    mu = float(values.mean()) if values.size else 0.0
    resid = values - mu
    b_row, b_col = np.zeros(shape[0]), np.zeros(shape[1])
    for _ in range(n_iter):
        b_col = np.bincount(cols, weights=resid - b_row[rows], minlength=shape[1])
        b_col /= reg_col + n_col
        b_row = np.bincount(rows, weights=resid - b_col[cols], minlength=shape[0])
        b_row /= reg_row + n_row
    return mu, b_row, b_col


def row_means(matrix: sp.csr_matrix, default: float) -> np.ndarray:
    """Mean stored value of each row (``default`` for an empty row), float32."""
    counts = np.diff(matrix.indptr)
    sums = np.asarray(matrix.sum(axis=1)).ravel()
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where(counts > 0, sums / np.maximum(counts, 1), default)
    return means.astype(np.float32)


def mean_fallback(
    users: np.ndarray,
    items: np.ndarray,
    global_mean: float,
    user_mean: np.ndarray,
    item_mean: np.ndarray,
) -> tuple[np.ndarray, str]:
    """Predictions for pairs whose user or item (codes, -1 when unknown) was not seen in
    fit: the item's mean rating for an unknown user, the user's mean for an unknown item,
    the global mean for both; and one sentence saying what happened."""
    u_ok, i_ok = users >= 0, items >= 0
    values = np.full(len(users), global_mean, dtype=np.float32)
    only_item, only_user = ~u_ok & i_ok, u_ok & ~i_ok
    values[only_item] = item_mean[items[only_item]]
    values[only_user] = user_mean[users[only_user]]
    parts = [
        f"{n:,} with {what}"
        for n, what in (
            (int(only_user.sum()), "an item not seen in fit (predicted: the user's mean)"),
            (int(only_item.sum()), "a user not seen in fit (predicted: the item's mean)"),
            (int((~u_ok & ~i_ok).sum()), "neither seen in fit (predicted: the global mean)"),
        )
        if n
    ]
    total = f"{int((~(u_ok & i_ok)).sum()):,} of {len(users):,} pairs"
    if len(parts) == 1:  # "41 of 250,088 pairs with an item not seen in fit", not "41: 41 with"
        return values, f"{total} {parts[0].split(' ', 1)[1]}"
    message = f"{total}: " + "; ".join(parts)
    return values, message
