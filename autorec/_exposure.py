"""Ranking baselines for full-catalogue top-N: :class:`MostPopular` and :class:`EASE`.

Both treat a rating as an interaction (its value is ignored) and rank items for
:meth:`~autorec._recommender.RecommenderMixin.recommend` and
:func:`autorec._topn.evaluate_ranking`; neither predicts ratings.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import scipy.linalg
import scipy.sparse as sp

from ._base import ParamsMixin
from ._recommender import RecommenderMixin
from ._validation import check_ratings, check_scalar
from .datasets._matrix import utility_from_checked

__all__ = ["EASE", "MostPopular"]

#: Bytes per item pair EASE holds at its peak: one float32 array (the Gram matrix, then its
#: Cholesky factor, its inverse and the weights, in place), plus the sparse product's
#: blocks or a copy where numpy needs one.
_EASE_BYTES_PER_PAIR = 8

#: Columns of the Gram matrix computed at once (bounds the sparse product's memory).
_GRAM_BLOCK = 2048


class _InteractionModel(RecommenderMixin, ParamsMixin):
    """Shared ``fit`` bookkeeping: the id maps, the utility matrix, item popularity."""

    def _fit_matrix(self, frame: pd.DataFrame) -> sp.csr_matrix:
        """From a ratings frame :func:`check_ratings` validated, set the fitted id maps,
        ``utility_`` and ``item_popularity_``; return the binarised users x items matrix
        (float32, 1 for every rating, a rating of 0 included)."""
        utility = utility_from_checked(frame)
        self.utility_ = utility.matrix
        self.n_users_, self.n_items_ = utility.shape
        self.item_popularity_ = np.bincount(utility.matrix.indices, minlength=self.n_items_)
        binary = utility.matrix.copy()
        binary.data[:] = 1.0
        self.user_map_ = utility.user_map  # last: its presence means "fitted"
        self.item_map_ = utility.item_map
        return binary


class MostPopular(_InteractionModel):
    """Recommend the items with the most training ratings, the same list for everyone.

    An item's score is its number of training ratings (``item_popularity_``); ties go to
    the item that comes first in ``item_map_``. Seen items are left out per user as usual.
    The floor any personalised ranking must clear.

    Attributes
    ----------
    user_map_, item_map_ : autorec.datasets.IdMap
        Users and items seen in ``fit``.
    n_users_, n_items_ : int
        Their numbers.
    utility_ : scipy.sparse.csr_matrix
        Users x items float32 training ratings.
    item_popularity_ : ndarray of int64, shape ``(n_items_,)``
        Training ratings per item.

    Examples
    --------
    >>> import pandas as pd
    >>> from autorec._exposure import MostPopular
    >>> ratings = pd.DataFrame({"user_id": [1, 1, 2, 3, 3], "item_id": [10, 20, 10, 10, 30],
    ...                         "rating": [5.0, 3.0, 4.0, 2.0, 1.0]})
    >>> MostPopular().fit(ratings).recommend(2, k=2)["item_id"].tolist()
    [20, 30]
    """

    def __init__(self) -> None:
        pass

    def fit(self, ratings: pd.DataFrame, y: Any = None) -> MostPopular:
        """Count the training ratings of each item.

        Parameters
        ----------
        ratings : pandas.DataFrame
            Columns ``user_id``, ``item_id``, ``rating`` (validated; the values unused).
        y : None
            Ignored (scikit-learn convention).

        Returns
        -------
        self
        """
        self._fit_matrix(check_ratings(ratings))
        return self

    def _user_scores(self, index: np.ndarray) -> np.ndarray:
        self._check_fitted()
        counts = self.item_popularity_.astype(np.float32)
        return np.repeat(counts[None, :], len(index), axis=0)

    def _fold_in_scores(self, items: np.ndarray, ratings: np.ndarray) -> np.ndarray:
        self._check_fitted()
        return self.item_popularity_.astype(np.float64)


class EASE(_InteractionModel):
    """Embarrassingly Shallow AutoEncoder (Steck 2019): a closed-form item-item model.

    With ``X`` the binarised users x items training matrix (1 for every rating,
    whatever its value) and ``P = (XᵀX + l2·I)⁻¹``, the weights are
    ``B = I - P·diagMat(1 / diag(P))``, i.e. ``B_ij = -P_ij / P_jj`` off the diagonal and
    ``B_jj = 0``: the ridge regression of each item's column on all the others, with no
    item allowed to predict itself. A user's scores are ``X_u B``.

    Fitting inverts a dense items x items matrix: time grows as ``n_items**3`` and memory
    as ``4 * n_items**2`` bytes and a little more (one float32 array holds the Gram
    matrix, then its Cholesky factor, the inverse and the weights; the Gram matrix of
    counts is exact in float32 and the ridge keeps it well conditioned).

    Parameters
    ----------
    l2 : float, default=500.0
        Ridge penalty ``λ > 0`` on the weights. Larger values shrink the item-item
        weights more (smoother, less fitted to rare co-occurrences); Steck tunes it per
        dataset. 500 suits MovieLens-1M (NDCG@10 0.386 on a 75/25 per-user split).
    max_items : int, default=20_000
        Largest catalogue ``fit`` accepts: 20,000 items need about 3.2 GB. Above it
        ``fit`` raises instead of trying to allocate; raise it if the memory is there.

    Attributes
    ----------
    user_map_, item_map_ : autorec.datasets.IdMap
        Users and items seen in ``fit``.
    n_users_, n_items_ : int
        Their numbers.
    utility_ : scipy.sparse.csr_matrix
        Users x items float32 training ratings.
    item_popularity_ : ndarray of int64, shape ``(n_items_,)``
        Training ratings per item.
    weights_ : ndarray of float32, shape ``(n_items_, n_items_)``
        ``B``, zero on the diagonal.

    References
    ----------
    H. Steck. Embarrassingly Shallow Autoencoders for Sparse Data. WWW 2019.
    https://arxiv.org/abs/1905.03375

    Examples
    --------
    >>> from autorec._exposure import EASE
    >>> from autorec.datasets import make_ratings
    >>> model = EASE(l2=10.0).fit(make_ratings(100, 50, 1500, random_state=0))
    >>> model.weights_.shape, float(abs(model.weights_.diagonal()).max())
    ((50, 50), 0.0)
    >>> len(model.recommend(1, k=5))
    5
    """

    def __init__(self, l2: float = 500.0, max_items: int = 20_000) -> None:
        self.l2 = l2
        self.max_items = max_items

    def fit(self, ratings: pd.DataFrame, y: Any = None) -> EASE:
        """Solve for the item-item weights in closed form.

        Parameters
        ----------
        ratings : pandas.DataFrame
            Columns ``user_id``, ``item_id``, ``rating`` (validated; every rating counts
            as one interaction).
        y : None
            Ignored (scikit-learn convention).

        Returns
        -------
        self

        Raises
        ------
        TypeError, ValueError
            If ``l2`` is not a number > 0, ``max_items`` is not an integer >= 1, the
            ratings are invalid, or the catalogue has more than ``max_items`` items.
        """
        l2 = check_scalar(self.l2, "l2", low=0.0, include_low=False)
        max_items = check_scalar(self.max_items, "max_items", int, low=1)
        frame = check_ratings(ratings)
        n_items = int(frame["item_id"].nunique())
        if n_items > max_items:
            need = _EASE_BYTES_PER_PAIR * n_items**2 / 1e9
            raise ValueError(
                f"EASE needs a dense items x items matrix: the training data has {n_items:,} "
                f"items, which would take about {need:,.1f} GB to fit, above "
                f"max_items={max_items:,}. Drop rare items first, or raise max_items if "
                "that memory is available"
            )
        binary = self._fit_matrix(frame)
        self.weights_ = ease_weights(binary, l2)
        return self

    def _scores(self, binary_rows: sp.csr_matrix) -> np.ndarray:
        return np.asarray(binary_rows @ self.weights_)

    def _user_scores(self, index: np.ndarray) -> np.ndarray:
        self._check_fitted()
        rows = self.utility_[np.asarray(index)]
        rows.data[:] = 1.0
        return self._scores(rows)

    def _fold_in_scores(self, items: np.ndarray, ratings: np.ndarray) -> np.ndarray:
        self._check_fitted()
        items = np.sort(np.asarray(items, dtype=np.int64))
        row = sp.csr_matrix(
            (np.ones(items.size, np.float32), items, [0, items.size]),
            shape=(1, self.n_items_),
        )
        return self._scores(row)[0]


def ease_weights(
    binary: sp.csr_matrix | None, l2: float, gram: np.ndarray | None = None
) -> np.ndarray:
    """``B = I - P diagMat(1/diag P)`` with ``P = (XᵀX + l2 I)⁻¹``, float32, zero diagonal.

    All in one float32 items x items array: the Gram matrix's upper triangle
    (:func:`gram_upper`), its Cholesky factor and the factor's inverse overwrite it in
    turn (LAPACK ``potrf`` + ``potri``), then the weights. The Gram matrix of a binary
    matrix holds co-occurrence counts, exact in float32; ``l2 > 0`` keeps it well
    conditioned (on MovieLens-1M the weights differ from a float64 LU inverse's by about
    1e-6, relative 1e-5). A ``gram`` computed beforehand (:func:`gram_upper`'s layout) is
    used instead of ``binary`` and overwritten.
    """
    if gram is None:
        if binary is None:
            raise ValueError("ease_weights needs the binary matrix or its Gram matrix")
        gram = gram_upper(binary)
    n_items = gram.shape[0]
    gram[np.diag_indices(n_items)] += np.float32(l2)
    # ``gram`` is C-ordered: its transpose is the Fortran array LAPACK works on in place,
    # whose lower triangle is ``gram``'s upper one.
    factor, info = scipy.linalg.lapack.spotrf(gram.T, lower=1, overwrite_a=1, clean=0)
    if info != 0:
        raise np.linalg.LinAlgError(
            f"EASE's Gram matrix + l2*I is not positive definite (LAPACK info={info}); "
            f"raise l2 (got {l2!r})"
        )
    inverse, info = scipy.linalg.lapack.spotri(factor, lower=1, overwrite_c=1)
    if info != 0:  # pragma: no cover - potrf succeeded, so the factor is invertible
        raise np.linalg.LinAlgError(f"EASE's inverse failed (LAPACK info={info})")
    weights = np.ascontiguousarray(inverse.T)  # no copy: back to the C-ordered array
    _mirror_upper(weights)
    weights /= -np.diag(weights)[None, :].copy()
    weights[np.diag_indices(n_items)] = 0.0
    return weights


#: :func:`gram_upper` multiplies dense blocks of this many matrix cells (users x items).
_DENSE_BLOCK = 1 << 22
#: Densify when the dense product's multiply-adds are at most this many times the sparse
#: product's (the sum of squared row lengths): dense BLAS runs that much faster per
#: operation than scipy's sparse x sparse product (MovieLens-1M, one thread: about 280x;
#: the dense Gram matrix in 0.54 s, the sparse one in 0.73 s; BLAS gains more threads).
_DENSE_ADVANTAGE = 250


def gram_upper(binary: sp.csr_matrix) -> np.ndarray:
    """``XᵀX`` as float32, exact for a 0/1 matrix (counts below 2**24); only its upper
    triangle is guaranteed (the lower one may hold anything). C-ordered.

    A dense rank-k update (BLAS ``ssyrk``) over blocks of rows where that costs less than
    the sparse product; the sparse product a block of columns at a time otherwise (it can
    take more memory than the dense result all at once).
    """
    n_rows, n_items = binary.shape
    lengths = np.diff(binary.indptr).astype(np.float64)
    dense_cost = n_rows * n_items * (n_items + 1) / 2
    if dense_cost <= _DENSE_ADVANTAGE * float(lengths @ lengths):
        # A Fortran array whose lower triangle BLAS fills: the upper one of its C-ordered
        # transpose.
        gram = np.zeros((n_items, n_items), dtype=np.float32, order="F")
        step = max(1, _DENSE_BLOCK // max(n_items, 1))
        for start in range(0, n_rows, step):
            block = binary[start : start + step].toarray().astype(np.float32, copy=False)
            gram = scipy.linalg.blas.ssyrk(
                1.0, block, beta=1.0, c=gram, trans=1, lower=1, overwrite_c=1
            )
        return gram.T
    by_column = binary.tocsc().astype(np.float32)
    transposed = by_column.T.tocsr()
    gram = np.empty((n_items, n_items), dtype=np.float32)
    for start in range(0, n_items, _GRAM_BLOCK):
        stop = min(start + _GRAM_BLOCK, n_items)
        gram[:, start:stop] = (transposed @ by_column[:, start:stop]).toarray()
    return gram


def add_product(gram: np.ndarray, left: sp.csr_matrix, right: sp.csr_matrix) -> None:
    """``gram += leftᵀ right`` in place (both users x items), a block of columns at a time."""
    by_column = sp.csc_matrix(right, dtype=np.float32)
    transposed = sp.csr_matrix(left.T, dtype=np.float32)
    for start in range(0, gram.shape[1], _GRAM_BLOCK):
        stop = min(start + _GRAM_BLOCK, gram.shape[1])
        gram[:, start:stop] += (transposed @ by_column[:, start:stop]).toarray()


def _mirror_upper(matrix: np.ndarray) -> None:
    """Copy the upper triangle of a square C-ordered array onto its lower one, in place,
    a block of rows at a time (no n x n temporary)."""
    n, step = matrix.shape[0], 512
    for start in range(0, n, step):
        stop = min(start + step, n)
        matrix[start:stop, :start] = matrix[:start, start:stop].T
        square = matrix[start:stop, start:stop]
        square[...] = np.triu(square) + np.triu(square, 1).T
