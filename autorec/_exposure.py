"""Ranking baselines for full-catalogue top-N: :class:`MostPopular` and :class:`EASE`.

Both rank items for ``autorec._recommender.RecommenderMixin.recommend`` and
``autorec._topn.evaluate_ranking``; neither predicts ratings. MostPopular counts
ratings; EASE is fed who rated what, or the ratings' values (``input``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import scipy.linalg
import scipy.sparse as sp
import torch

from ._base import ParamsMixin
from ._pages import ordinary_pages
from ._prepare import carve_validation
from ._recommender import RecommenderMixin
from ._tuning import INPUTS, ndcg_at_k, relevance_threshold, search_l2, weighted_rows
from ._validation import check_option, check_ratings, check_scalar, seed_from
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

    With ``X`` the users x items input built from the training ratings (``input``: 1 for
    every rating, the rating minus ``shift``, or 1 for every liked rating) and
    ``P = (XᵀX + l2·I)⁻¹``, the weights are ``B = I - P·diagMat(1 / diag(P))``, i.e.
    ``B_ij = -P_ij / P_jj`` off the diagonal and ``B_jj = 0``: the ridge regression of
    each item's column on all the others, with no item allowed to predict itself. A
    user's scores are ``X_u B``.

    Fitting inverts a dense items x items matrix: time grows as ``n_items**3`` and memory
    as ``4 * n_items**2`` bytes and a little more (one float32 array holds the Gram
    matrix, then its Cholesky factor, the inverse and the weights; the Gram matrix of
    counts is exact in float32 and the ridge keeps it well conditioned).
    MovieLens-1M's 3,706 items: about a second on two cores; ``l2="auto"`` solves it a
    few times more (one Gram matrix, one Cholesky factorization per penalty).

    Parameters
    ----------
    l2 : float or "auto", default=500.0
        Ridge penalty ``λ > 0`` on the weights. Larger values shrink the item-item
        weights more (smoother, less fitted to rare co-occurrences); Steck tunes it per
        dataset. ``"auto"`` chooses it on a validation slice (``validation_fraction`` of
        each user's ratings held out, NDCG@10 on the held-out ratings in the top quarter
        of the scale) over a log grid scaled to the input (1, 4, 16 and 64 times the mean
        squared input per item, then halved or doubled while that helps), then refits on
        every rating; the value lands in ``l2_``. 500 on binarised input gives NDCG@10
        0.386 on MovieLens-1M's 75/25 per-user split.
    input : {"binary", "rating", "liked"}, default="binary"
        What ``X`` holds: ``"binary"`` 1 for every rating whatever its value (who rated
        what); ``"rating"`` the rating minus ``shift`` (a liked movie weighs more than a
        disliked one); ``"liked"`` 1 for every rating in the top quarter of the scale
        (4 and 5 on 1-5), the other ratings dropped.
    shift : float or None, default=None
        With ``input="rating"``, subtracted from every rating; None: the smallest
        training rating (so it weighs nothing). Ignored by the other inputs.
    validation_fraction : float, default=0.1
        With ``l2="auto"``: the share of each user's ratings held out to choose ``l2``,
        in (0, 1).
    random_state : int, numpy Generator or None, default=0
        With ``l2="auto"``: seeds the validation slice.
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
    rating_scale_ : tuple of float
        Smallest and largest training rating.
    shift_ : float
        The shift ``input="rating"`` subtracts (0 for the other inputs).
    l2_ : float
        The penalty used (``l2``, or the one chosen).
    l2_validation_ : dict or None
        With ``l2="auto"``: the validation NDCG@10 of every penalty tried; else None.
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
    >>> tuned = EASE(l2="auto", input="rating").fit(make_ratings(100, 50, 1500, random_state=0))
    >>> tuned.l2_ in tuned.l2_validation_
    True
    """

    def __init__(
        self,
        l2: float | str = 500.0,
        input: str = "binary",
        shift: float | None = None,
        validation_fraction: float = 0.1,
        random_state: Any = 0,
        max_items: int = 20_000,
    ) -> None:
        self.l2 = l2
        self.input = input
        self.shift = shift
        self.validation_fraction = validation_fraction
        self.random_state = random_state
        self.max_items = max_items

    @ordinary_pages()
    def fit(self, ratings: pd.DataFrame, y: Any = None) -> EASE:
        """Solve for the item-item weights in closed form.

        Parameters
        ----------
        ratings : pandas.DataFrame
            Columns ``user_id``, ``item_id``, ``rating`` (validated; how a rating's value
            counts depends on ``input``).
        y : None
            Ignored (scikit-learn convention).

        Returns
        -------
        self

        Raises
        ------
        TypeError, ValueError
            If ``l2`` is neither a number > 0 nor ``"auto"``, ``input`` is not one of
            ``INPUTS``, ``shift`` is not a number, ``validation_fraction`` is not in
            (0, 1), ``max_items`` is not an integer >= 1, the ratings are invalid, or the
            catalogue has more than ``max_items`` items.
        """
        auto = isinstance(self.l2, str)
        if auto and self.l2 != "auto":
            raise ValueError(f"l2 must be 'auto' or a number > 0, got {self.l2!r}")
        l2 = "auto" if auto else check_scalar(self.l2, "l2", low=0.0, include_low=False)
        input = check_option(self.input, "input", INPUTS)
        shift = None if self.shift is None else check_scalar(self.shift, "shift")
        fraction = check_scalar(
            self.validation_fraction,
            "validation_fraction",
            low=0.0,
            high=1.0,
            include_low=False,
            include_high=False,
        )
        seed = seed_from(self.random_state)
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
        self._fit_matrix(frame)
        values = self.utility_.data
        self.rating_scale_ = (float(values.min()), float(values.max()))
        self.shift_ = (
            0.0 if input != "rating" else self.rating_scale_[0] if shift is None else shift
        )
        table = None
        if auto:
            l2, table = self._choose_l2(fraction, seed)
        self.l2_, self.l2_validation_ = float(l2), table
        self.weights_ = ease_weights(self._input(self.utility_), self.l2_)
        return self

    def _input(self, rows: sp.csr_matrix) -> sp.csr_matrix:
        return weighted_rows(rows, self.input, self.shift_, relevance_threshold(self.rating_scale_))

    def _choose_l2(self, fraction: float, seed: int) -> tuple[float, dict[float, float]]:
        """The penalty with the best NDCG@10 on a held-out slice of each user's ratings."""
        fit_rows, val = carve_validation(self.utility_, fraction, seed)
        if val is None:
            raise ValueError(
                f"l2='auto' needs held-out ratings, and validation_fraction="
                f"{fraction} of these ratings holds none out; pass a number for l2 or use "
                "more ratings"
            )
        users, items, values = val
        liked = values >= relevance_threshold(self.rating_scale_)
        relevant = sp.csr_matrix(
            (np.ones(int(liked.sum()), np.float32), (users[liked], items[liked])),
            shape=self.utility_.shape,
        )
        chosen = np.flatnonzero(np.diff(relevant.indptr))
        if chosen.size == 0:
            raise ValueError(
                "l2='auto' found no held-out rating in the top quarter of the rating scale "
                "to choose l2 on; pass a number for l2"
            )
        x = self._input(fit_rows)
        unit = float(x.multiply(x).sum()) / max(x.shape[1], 1) or 1.0
        gram = gram_upper(x)  # once: each penalty only factorizes a copy
        rows, seen, liked_rows = x[chosen], fit_rows[chosen], relevant[chosen]

        def evaluate(l2: float) -> float:
            scores = bag_product(rows, ease_weights(None, l2, gram=gram.copy()))
            return ndcg_at_k(scores, seen, liked_rows, 10)

        return search_l2(evaluate, unit)

    def _scores(self, rows: sp.csr_matrix) -> np.ndarray:
        return np.asarray(self._input(rows) @ self.weights_)

    def _user_scores(self, index: np.ndarray) -> np.ndarray:
        self._check_fitted()
        return self._scores(self.utility_[np.asarray(index)])

    def _fold_in_scores(self, items: np.ndarray, ratings: np.ndarray) -> np.ndarray:
        self._check_fitted()
        items = np.asarray(items, dtype=np.int64)
        order = np.argsort(items)
        row = sp.csr_matrix(
            (np.asarray(ratings, np.float32)[order], items[order], [0, items.size]),
            shape=(1, self.n_items_),
        )
        return self._scores(row)[0]


def bag_product(x: sp.csr_matrix, weights: np.ndarray) -> np.ndarray:
    """``x @ weights`` (float32) as a weighted embedding bag, one bag per row of ``x``:
    spread over torch's threads, where SciPy's sparse x dense product runs on one (ten
    times faster on two cores for MovieLens-1M's 6,040 users x 3,706 items)."""
    return torch.nn.functional.embedding_bag(
        torch.from_numpy(x.indices.astype(np.int64)),
        torch.from_numpy(np.ascontiguousarray(weights, dtype=np.float32)),
        torch.from_numpy(x.indptr[:-1].astype(np.int64)),
        mode="sum",
        per_sample_weights=torch.from_numpy(x.data.astype(np.float32)),
    ).numpy()


def ease_weights(
    binary: sp.csr_matrix | None, l2: float, gram: np.ndarray | None = None, diagonal: float = 0.0
) -> np.ndarray:
    """``B = I - P diagMat(1/diag P)`` with ``P = (XᵀX + l2 I)⁻¹``, float32, zero diagonal.

    All in one float32 items x items array: the Gram matrix's upper triangle
    (:func:`gram_upper`), its Cholesky factor and the factor's inverse overwrite it in
    turn (LAPACK ``potrf`` + ``potri``), then the weights. The Gram matrix of a binary
    matrix holds co-occurrence counts, exact in float32; ``l2 > 0`` keeps it well
    conditioned (on MovieLens-1M the weights differ from a float64 LU inverse's by about
    1e-6, relative 1e-5). A ``gram`` computed beforehand (:func:`gram_upper`'s layout) is
    used instead of ``binary`` and overwritten. ``diagonal`` adds ``diagonal * diag(XᵀX)``
    to the penalty (EDLAE's, Steck 2020: dropping each input with probability
    ``diagonal / (1 + diagonal)``).
    """
    if gram is None:
        if binary is None:
            raise ValueError("ease_weights needs the binary matrix or its Gram matrix")
        gram = gram_upper(binary)
    n_items = gram.shape[0]
    on_diagonal = np.diag_indices(n_items)
    gram[on_diagonal] = gram[on_diagonal] * np.float32(1.0 + diagonal) + np.float32(l2)
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
#: A row goes through the dense product when its ``n (n + 1) / 2`` multiply-adds (``n``
#: items) are at most this many times its sparse ones (its length squared): dense BLAS
#: runs that much faster per operation than scipy's sparse x sparse product (MovieLens-1M,
#: one thread: about 280x). MovieLens-1M's rows of more than 164 ratings (the heaviest
#: 1,417 of 6,040 users, 89 % of the sparse work) go dense, the rest sparse: the Gram
#: matrix in about 0.35 s on two cores, against 0.56 s all dense and 0.81 s all sparse.
_DENSE_ADVANTAGE = 250


def gram_upper(binary: sp.csr_matrix) -> np.ndarray:
    """``XᵀX`` as float32, exact for a 0/1 matrix (counts below 2**24); only its upper
    triangle is guaranteed (the lower one may hold anything). C-ordered.

    Each row goes where it costs less (``_DENSE_ADVANTAGE``): long rows into a dense
    rank-k update (BLAS ``ssyrk``, blocks of rows), short ones into a sparse product (a
    block of columns at a time: it can take more memory than the dense result all at
    once).
    """
    n_items = binary.shape[1]
    lengths = np.diff(binary.indptr).astype(np.float64)
    dense = _DENSE_ADVANTAGE * lengths**2 >= n_items * (n_items + 1) / 2
    # A Fortran array whose lower triangle BLAS fills: the upper one of its C-ordered
    # transpose.
    gram = np.zeros((n_items, n_items), dtype=np.float32, order="F")
    rows = np.flatnonzero(dense)
    step = max(1, _DENSE_BLOCK // max(n_items, 1))
    for start in range(0, rows.size, step):
        block = binary[rows[start : start + step]].toarray().astype(np.float32, copy=False)
        gram = scipy.linalg.blas.ssyrk(
            1.0, block, beta=1.0, c=gram, trans=1, lower=1, overwrite_c=1
        )
    gram = gram.T
    if not dense.all():
        sparse_rows = binary[np.flatnonzero(~dense)].astype(np.float32)
        add_product(gram, sparse_rows, sparse_rows)
    return gram


def add_product(gram: np.ndarray, left: sp.csr_matrix, right: sp.csr_matrix) -> None:
    """``gram += leftᵀ right`` in place (both users x items), a block of columns at a time."""
    by_column = sp.csc_matrix(right, dtype=np.float32)
    transposed = sp.csr_matrix(left.T, dtype=np.float32)
    for start in range(0, gram.shape[1], _GRAM_BLOCK):
        stop = min(start + _GRAM_BLOCK, gram.shape[1])
        gram[:, start:stop] += (transposed @ by_column[:, start:stop]).toarray()


def add_cross_products(gram: np.ndarray, base: sp.csr_matrix, extra: sp.csr_matrix) -> None:
    """``gram += baseᵀ extra + extraᵀ base + extraᵀ extra`` in place: the Gram matrix of
    ``base`` (users x items) turned into that of ``base + extra``. One sparse product
    ``extraᵀ base`` a block of columns at a time, added to those columns and, transposed,
    to the same rows (half the work of two products)."""
    by_column = sp.csc_matrix(base, dtype=np.float32)
    transposed = sp.csr_matrix(extra.T, dtype=np.float32)
    for start in range(0, gram.shape[1], _GRAM_BLOCK):
        stop = min(start + _GRAM_BLOCK, gram.shape[1])
        block = (transposed @ by_column[:, start:stop]).toarray()
        gram[:, start:stop] += block
        gram[start:stop, :] += block.T
    add_product(gram, extra, extra)


def _mirror_upper(matrix: np.ndarray) -> None:
    """Copy the upper triangle of a square C-ordered array onto its lower one, in place,
    a block of rows at a time (no n x n temporary)."""
    n, step = matrix.shape[0], 512
    for start in range(0, n, step):
        stop = min(start + step, n)
        matrix[start:stop, :start] = matrix[:start, start:stop].T
        square = matrix[start:stop, start:stop]
        square[...] = np.triu(square) + np.triu(square, 1).T
