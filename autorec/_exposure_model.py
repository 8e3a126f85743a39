"""The hybrid ranking's exposure model: EASE (``autorec._exposure.ease_weights``) on the
most rated items (``EXPOSURE_RATING_SHARE``, ``MAX_EXPOSURE_ITEMS``), fed who rated what
or the ratings' values, with its Gram matrix kept so that one validation model per input
serves every penalty and the final model (``autorec._hybrid`` chooses among them)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ._exposure import add_cross_products, bag_product, ease_weights, gram_upper
from ._tuning import weighted_rows

__all__ = [
    "EXPOSURE_L2",
    "MAX_EXPOSURE_ITEMS",
    "Cooccurrence",
    "Exposure",
    "cooccurrence",
    "exposure_items",
    "exposure_unit",
    "final_exposure",
    "fit_exposure",
]

#: The EASE regularization (Steck 2019's value for MovieLens-sized data) of
#: ``ranking="exposure"``; the hybrid ranking chooses its own on validation.
EXPOSURE_L2 = 500.0
#: Largest catalogue that gets a full items x items exposure matrix.
MAX_EXPOSURE_ITEMS = 8192
#: The exposure model covers the most rated items that together hold this share of the
#: training ratings (every item rated as often as the last one taken, at most
#: ``MAX_EXPOSURE_ITEMS``); the long tail past it sits at the floor. On MovieLens-1M's
#: standard split that leaves out the 842 of 3,670 items with fewer than 23 ratings
#: (covering them all, the hybrid ranking put none with fewer than 20 in anyone's top
#: 10) and halves the Cholesky inverses' time (``n_items ** 3``).
EXPOSURE_RATING_SHARE = 0.99


@dataclass
class Exposure:
    """EASE weights over the ``items`` most rated items of a catalogue of ``n_items``."""

    items: np.ndarray  # int64, sorted catalogue indices that have exposure weights
    weights: np.ndarray  # float32, len(items) x len(items), zero diagonal
    n_items: int
    input: str = "binary"  # what the model is fed: "binary" or "rating" (minus shift)
    shift: float = 0.0

    def scores(self, rows: sp.csr_matrix, parallel: bool = False) -> np.ndarray:
        """Exposure scores (len(rows), n_items) of users given by their training rows;
        items without weights get 0 (the floor after the log). ``parallel``: the rows
        spread over torch's threads (a weighted embedding bag, for many rows at once:
        the validation users) instead of SciPy's one-thread product; the two agree up
        to float32 rounding."""
        x = weighted_rows(rows, self.input, self.shift, np.inf)
        times = bag_product if parallel else _product
        if len(self.items) == self.n_items:  # every item has weights (items is 0..n-1)
            return times(x, self.weights)
        x = x[:, self.items].tocsr()
        out = np.zeros((rows.shape[0], self.n_items), dtype=np.float32)
        # A row at a time: NumPy scatters a row's columns several times faster than
        # a block's (``out[:, items] = ...``: 0.08 s for 2,000 x 2,828, against 0.02 s).
        for row, covered in zip(out, times(x, self.weights), strict=True):
            row[self.items] = covered
        return out


def _product(x: sp.csr_matrix, weights: np.ndarray) -> np.ndarray:
    return np.asarray(x @ weights, dtype=np.float32)


@dataclass
class Cooccurrence:
    """The users x ``items`` input EASE solves on (``autorec._tuning.weighted_rows`` of
    the ratings: ``input`` minus ``shift``) and its Gram matrix (upper triangle,
    ``autorec._exposure.gram_upper``'s layout)."""

    items: np.ndarray
    x: sp.csr_matrix
    gram: np.ndarray
    input: str = "binary"
    shift: float = 0.0


def cooccurrence(
    matrix: sp.csr_matrix,
    max_items: int = MAX_EXPOSURE_ITEMS,
    base: Cooccurrence | None = None,
    input: str = "binary",
    shift: float = 0.0,
    consume: bool = False,
) -> Cooccurrence:
    """The Gram matrix of ``matrix``'s most rated items (:func:`exposure_items`), fed
    ``input``. With ``base``, that of a part of ``matrix``'s ratings fed the same input,
    over ``base``'s items (``max_items`` unused), only the ratings ``base`` lacks are
    multiplied (``XᵀX = FᵀF + (DᵀF)ᵀ + DᵀF + DᵀD`` with ``X = F + D``); with ``consume``,
    into ``base``'s Gram matrix itself (no copy; ``base`` is not to be used again)."""
    x = weighted_rows(matrix, input, shift, np.inf)
    same = base is not None and (base.input, base.shift) == (input, float(shift))
    if same:  # the final model covers the validation model's items
        items = base.items
    else:
        items = exposure_items(np.bincount(matrix.indices, minlength=matrix.shape[1]), max_items)
    if len(items) < x.shape[1]:
        x = x[:, items].tocsr()
    if same:
        extra = x - base.x
        extra.eliminate_zeros()
        if extra.nnz == 0 or extra.data.min() > 0:  # base's ratings are a part of these
            gram = base.gram if consume else base.gram.copy()
            add_cross_products(gram, base.x, extra)
            return Cooccurrence(items.astype(np.int64), x, gram, input, float(shift))
    return Cooccurrence(items.astype(np.int64), x, gram_upper(x), input, float(shift))


def exposure_items(
    counts: np.ndarray, max_items: int = MAX_EXPOSURE_ITEMS, share: float = EXPOSURE_RATING_SHARE
) -> np.ndarray:
    """The sorted indices of the items an exposure model covers, given each item's number
    of ratings: the most rated ones that hold ``share`` of the ratings, with every item
    rated as often as the last one taken, then at most ``max_items`` of them."""
    order = np.argsort(-counts, kind="stable")
    total = np.cumsum(counts[order])
    last = min(int(np.searchsorted(total, share * total[-1])), len(order) - 1)
    taken = order[counts[order] >= counts[order[last]]][:max_items]
    return np.sort(taken).astype(np.int64)


def fit_exposure(
    matrix: sp.csr_matrix,
    l2: float = EXPOSURE_L2,
    max_items: int = MAX_EXPOSURE_ITEMS,
    input: str = "binary",
    shift: float = 0.0,
    counts: Cooccurrence | None = None,
    out: np.ndarray | None = None,
    diagonal: float = 0.0,
) -> Exposure:
    """EASE on the users x items ``matrix`` (its most rated items, :func:`exposure_items`), fed
    ``input`` (binarised, or the ratings minus ``shift``); ``counts``: its Gram matrix
    (``cooccurrence(matrix, input=input, shift=shift)``) when already computed (left
    unchanged); ``out``: an array of the Gram matrix's shape and dtype to solve in (the
    weights then live in its memory), such as another model's weights no longer needed."""
    if counts is None:
        counts = cooccurrence(matrix, max_items, input=input, shift=shift)
    if out is None or out.shape != counts.gram.shape or out.dtype != counts.gram.dtype:
        out = np.empty_like(counts.gram)
    np.copyto(out, counts.gram)
    weights = ease_weights(None, l2, gram=out, diagonal=diagonal)
    return Exposure(counts.items, weights, matrix.shape[1], counts.input, counts.shift)


def exposure_unit(matrix: sp.csr_matrix, input: str, shift: float) -> float:
    """The mean squared input per item (the Gram matrix's mean diagonal): the scale of
    the exposure model's ridge penalties."""
    x = weighted_rows(matrix, input, shift, np.inf)
    return float(x.multiply(x).sum()) / max(x.shape[1], 1) or 1.0


def final_exposure(
    matrix: sp.csr_matrix,
    input: str,
    shift: float,
    l2: float,
    base: Cooccurrence | None,
    diagonal: float = 0.0,
) -> Exposure:
    """The exposure model on every training rating. Its Gram matrix is the validation
    model's (``base``, of the same input, updated in place and not to be used again)
    plus the validation cells' share (sparse products, not the whole Gram matrix
    again), solved in place."""
    final = cooccurrence(matrix, input=input, shift=shift, base=base, consume=True)
    del base
    weights = ease_weights(None, l2, gram=final.gram, diagonal=diagonal)
    return Exposure(final.items, weights, matrix.shape[1], final.input, final.shift)
