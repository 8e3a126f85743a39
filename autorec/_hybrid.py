"""Ranking that answers both questions: will the user rate it, and how much will they like it.

A rating autoencoder is trained only on what people chose to rate, so ranking every
unrated item by predicted rating favours obscure items that one or two people loved
(ratings are missing not at random; Steck 2010). autorec ranks by

    score = log(max(exposure, eps)) + alpha * (clipped predicted rating - midpoint)
            - beta * log(1 + number of training ratings of the item)

where ``exposure`` comes from EASE (Steck 2019), a closed-form linear autoencoder that
predicts which items a user rates, fed the ratings minus the scale's lowest value (a
lowest rating is no sign of interest), or the product of that model and one fed who
rated what; ``alpha``, the small popularity discount ``beta`` and which exposure model
are chosen on the fit's own held-out validation slice by NDCG@10 (never constants tuned
on MovieLens): the best, or among grid points within ``TOLERANCE`` of it the one with
the largest ``beta`` (the most varied lists).
``ranking="rating"`` gives the reference study's order back, and
``ranking="exposure"`` the exposure model alone.

EASE needs an items x items matrix, and its time grows as the cube of the items: only the
most rated items that hold 99 % of the training ratings, at most 8192, get exposure
scores (the long tail sits at the floor; ``autorec._exposure_model.exposure_items``), so
memory stays below ``8192**2`` floats (256 MB in float32).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch

from ._exposure_model import (
    EXPOSURE_L2,
    Cooccurrence,
    Exposure,
    cooccurrence,
    exposure_unit,
    final_exposure,
    fit_exposure,
)
from ._exposure_product import (
    EPS,
    exposure_floor,
    popular_when_uninterested,
    product_exposure,
)
from ._pages import ordinary_pages
from ._tuning import relevance_threshold, relevant_matrix, validation_users

__all__ = [
    "ALPHAS",
    "BETAS",
    "RANKINGS",
    "Exposure",
    "HybridRankingMixin",
    "choose_weights",
    "combine",
    "fit_exposure",
    "relevance_threshold",
    "search_weights",
]

RANKINGS = ("hybrid", "rating", "exposure")
#: The weights of the rating term and of the popularity discount tried on validation.
ALPHAS = (0.0, 0.2, 0.35, 0.5, 0.7, 1.0, 1.5)
BETAS = (0.0, 0.05, 0.1)
#: NDCG@10 within this of the best counts as a tie (then the largest beta wins).
TOLERANCE = 0.001
#: The weight grid ranks only each validation user's ``CANDIDATES`` best items under the
#: grid's middle weights (an item further down reaches no other grid point's top 10 on
#: MovieLens-1M: the validation NDCG of every grid point moves by at most 4e-5).
CANDIDATES = 200
#: What the hybrid's exposure model may be fed (see ``autorec._tuning.weighted_rows``:
#: ``"binary"`` who rated what, ``"rating"`` the rating minus the scale's lowest value,
#: so that a lowest rating is no sign of interest). Both are solved once on the
#: validation slice, with each input's ``EXPOSURE_PENALTIES``; the weight grid then
#: chooses between the rating-fed model alone and both at once,
#: ``e = e_binary * e_rating ** gamma`` for these ``gamma`` (input ``"both"``).
EXPOSURE_INPUTS = ("binary", "rating")
EXPOSURE_GAMMAS = (1.0,)
#: Each input's penalties (ridge, dropout): item ``i``'s diagonal penalty is ``ridge``
#: times the mean squared input per item (about 200 for binary MovieLens-1M) plus
#: ``dropout`` times item ``i``'s own squared input, ``G_ii``: the penalty that dropping
#: each input with probability ``dropout / (1 + dropout)`` implies (EDLAE, Steck 2020;
#: 2/3 here). For the rating-fed model it is +0.0027 NDCG@10 on MovieLens-1M's standard
#: split (mean of random states 0-2) and +0.0017 on random 90/10 against a ridge of 5
#: alone (docs/recommendations.rst, with the other forms tried); the binary model gained
#: nothing from it.
EXPOSURE_PENALTIES = {"binary": (5.0, 0.0), "rating": (1.0, 2.0)}
#: Subtracted from the hybrid score of an item whose predicted rating is below the
#: scale's midpoint: such an item ranks after every candidate the user is predicted to
#: like at least moderately (a disliked movie is never recommended while others remain).
DISLIKE_PENALTY = 1000.0


def combine(
    exposure: np.ndarray,
    ratings: np.ndarray,
    popularity: np.ndarray,
    weights: tuple[float, float],
    scale: tuple[float, float],
    floor: float = EPS,
) -> np.ndarray:
    """``log(max(exposure, floor)) + alpha * (clip(ratings) - midpoint) - beta *
    log1p(popularity)`` with ``weights = (alpha, beta)``, minus ``DISLIKE_PENALTY`` where
    the predicted rating is below the midpoint (``floor``: see :func:`exposure_floor`)."""
    alpha, beta = weights
    low, high = scale
    midpoint = (low + high) / 2.0
    out = np.log(np.maximum(exposure, np.float32(floor)), dtype=np.float32)
    liked = np.clip(ratings, low, high) - np.float32(midpoint)
    if alpha:
        out += np.float32(alpha) * liked
    out -= np.float32(DISLIKE_PENALTY) * (liked < 0)
    if beta:
        out -= np.float32(beta) * np.log1p(np.asarray(popularity, dtype=np.float32))[None, :]
    return out


def choose_weights(
    exposure: np.ndarray,
    ratings: np.ndarray,
    popularity: np.ndarray,
    seen: sp.csr_matrix,
    relevant: sp.csr_matrix,
    scale: tuple[float, float],
    k: int = 10,
) -> tuple[tuple[float, float], dict[str, float]]:
    """The (alpha, beta) of ``ALPHAS`` x ``BETAS`` with the best NDCG@k on the
    validation users (ties within ``TOLERANCE``: the largest beta, then alpha).

    ``exposure`` and ``ratings`` hold every item's scores for the validation users,
    computed from the ratings the models trained on; ``seen`` (those ratings) are not
    candidates; ``relevant`` marks the held-out items rated at least
    ``relevance_threshold``. Returns the pair and the NDCG of every pair tried (keys
    ``"alpha,beta"``); :func:`search_weights` does the work.
    """
    log_exposure = np.log(np.maximum(exposure, np.float32(EPS)), dtype=np.float32)
    _, pair, table = search_weights(
        {"": log_exposure}, ratings, popularity, seen, relevant, scale, k
    )
    return pair, {key[1:]: value for key, value in table.items()}


def search_weights(
    bases: dict[str, np.ndarray],
    ratings: np.ndarray,
    popularity: np.ndarray,
    seen: sp.csr_matrix,
    relevant: sp.csr_matrix,
    scale: tuple[float, float],
    k: int = 10,
) -> tuple[str, tuple[float, float], dict[str, float]]:
    """The log-exposure base (a key of ``bases``) and the (alpha, beta) of ``ALPHAS`` x
    ``BETAS`` with the best NDCG@k on the validation users: among the grid points within
    ``TOLERANCE`` of the best, the largest beta, then alpha, then the first base.

    Each base holds ``log(max(exposure, EPS))`` of every item for the validation users
    (overwritten: the search works in place to keep its memory at a few score matrices);
    ``ratings``, ``popularity``, ``seen`` and ``relevant`` as for :func:`choose_weights`.
    The grid ranks only each user's ``CANDIDATES`` best items under the middle grid point
    (all items of a smaller catalogue), with :func:`torch.topk` on one buffer (ties broken
    arbitrarily, which moves NDCG by nothing measurable). Returns the base, the pair and
    the NDCG of every grid point (keys ``"base,alpha,beta"``).
    """
    low, high = scale
    n_users, n_items = ratings.shape
    k = min(k, n_items)  # a catalogue smaller than k ranks all of it
    liked_np = np.clip(ratings, low, high)  # one copy, then in place
    liked_np -= np.float32((low + high) / 2.0)
    liked = torch.from_numpy(liked_np)
    discount_row = torch.log1p(torch.from_numpy(np.asarray(popularity, dtype=np.float32)))
    discount = discount_row[None, :].expand(n_users, n_items)  # a view, no copy
    disliked = liked < 0
    rows, cols = _cells(seen)
    dense = torch.zeros(relevant.shape, dtype=torch.bool)
    dense[_cells(relevant)] = True
    n_relevant = dense.sum(dim=1)
    counted = n_relevant > 0
    gains = 1.0 / torch.log2(torch.arange(k, dtype=torch.float64) + 2.0)
    ideal = torch.cumsum(gains, 0)[(n_relevant.clamp(max=k) - 1).clamp(min=0)][counted]
    middle = (ALPHAS[len(ALPHAS) // 2], BETAS[len(BETAS) // 2])
    table: dict[str, float] = {}
    for name, log_exposure in bases.items():
        base = torch.from_numpy(log_exposure)  # the caller's array, changed in place
        penalty = disliked.to(torch.float32).mul_(DISLIKE_PENALTY)
        base.sub_(penalty)
        del penalty
        base[rows, cols] = -np.inf
        parts, hits_of = (base, liked, discount), dense
        if CANDIDATES < n_items:
            mid = liked * middle[0]
            mid.add_(base)  # base + middle0 * liked, the same rounding
            mid.sub_(discount_row * middle[1])
            keep = torch.topk(mid, CANDIDATES, dim=1).indices
            del mid
            parts = tuple(torch.gather(part, 1, keep) for part in parts)
            hits_of = torch.gather(dense, 1, keep)
        buffer = torch.empty_like(parts[0])
        for alpha in ALPHAS:
            for beta in BETAS:
                torch.add(parts[0], parts[1], alpha=alpha, out=buffer)
                if beta:
                    buffer.sub_(parts[2], alpha=beta)
                top = torch.topk(buffer, k, dim=1).indices
                hits = torch.gather(hits_of, 1, top).to(torch.float64)
                ndcg = (hits * gains).sum(dim=1)[counted] / ideal
                value = float(ndcg.mean()) if counted.any() else float("nan")
                table[f"{name},{alpha},{beta}"] = value
    best = max(table.values())
    near = [key for key, value in table.items() if value >= best - TOLERANCE]
    chosen = max(near, key=lambda key: tuple(float(v) for v in key.rsplit(",", 2)[:0:-1]))
    name, alpha, beta = chosen.rsplit(",", 2)
    return name, (float(alpha), float(beta)), table


def _cells(matrix: sp.spmatrix) -> tuple[torch.Tensor, torch.Tensor]:
    """The (row, column) index tensors of a sparse matrix's stored cells."""
    coo = sp.coo_matrix(matrix)
    return torch.from_numpy(coo.row.astype(np.int64)), torch.from_numpy(coo.col.astype(np.int64))


def item_counts(matrix: sp.csr_matrix) -> np.ndarray:
    """Number of stored ratings of each column, float32."""
    return np.bincount(matrix.indices, minlength=matrix.shape[1]).astype(np.float32)


@ordinary_pages()
def fit_ranking(
    ranking: str,
    matrix: sp.csr_matrix,
    fit_matrix: sp.csr_matrix,
    cells: tuple[np.ndarray, np.ndarray] | None,
    cell_ratings: np.ndarray | None,
    rating_rows: Callable[[np.ndarray], np.ndarray],
    scale: tuple[float, float],
    seed: int,
) -> dict[str, Any]:
    """The fitted ranking attributes of a model.

    Parameters
    ----------
    ranking : {"hybrid", "rating", "exposure"}
    matrix : users x items CSR of all training ratings (the final exposure model's data).
    fit_matrix : the same minus the validation cells (what the rating model trained on).
    cells, cell_ratings : (user codes, item codes) of the validation cells and their
        ratings, or None when there is no validation slice.
    rating_rows : callable
        ``rating_rows(users)``: raw predicted ratings of every item for those users, from
        the inputs of ``fit_matrix``.
    scale : the rating scale; seed : seeds the choice of validation users.
    """
    out: dict[str, Any] = {
        "item_popularity_": item_counts(matrix),
        "exposure_items_": None,
        "exposure_weights_": None,
        "ranking_weights_": None,
        "ranking_validation_": None,
        "exposure_params_": None,
        "exposure_weights_rating_": None,
    }
    if ranking == "rating":
        return out
    chosen: dict[str, Any] = {"input": "binary", "shift": 0.0, "l2": EXPOSURE_L2}
    counts: dict[str, Cooccurrence] = {}
    if ranking == "hybrid":
        weights, table, chosen, counts = _validate(
            fit_matrix, cells, cell_ratings, rating_rows, scale, seed
        )
        out.update(ranking_weights_=weights, ranking_validation_=table)
    both = chosen["input"] == "both"
    first = "binary" if both else chosen["input"]
    for name in set(counts) - ({first, "rating"} if both else {first}):
        del counts[name]  # Gram matrices of inputs not chosen
    exposure = final_exposure(
        matrix,
        first,
        chosen["shift"],
        chosen["l2"],
        counts.pop(first, None),
        chosen.get("diagonal", 0.0),
    )
    out.update(
        exposure_items_=exposure.items, exposure_weights_=exposure.weights, exposure_params_=chosen
    )
    if both:
        graded = final_exposure(
            matrix,
            "rating",
            chosen["shift"],
            chosen["l2_rating"],
            counts.pop("rating", None),
            chosen.get("diagonal_rating", 0.0),
        )
        out["exposure_weights_rating_"] = graded.weights
    return out


def _validate(
    fit_matrix: sp.csr_matrix,
    cells: tuple[np.ndarray, np.ndarray] | None,
    cell_ratings: np.ndarray | None,
    rating_rows: Callable[[np.ndarray], np.ndarray],
    scale: tuple[float, float],
    seed: int,
) -> tuple[tuple[float, float], dict[str, float] | None, dict[str, Any], dict[str, Cooccurrence]]:
    """(alpha, beta), the validation table, the exposure model's input and l2 and each
    input's Gram matrix on ``fit_matrix`` (reused by the final model).

    One exposure model per input of ``EXPOSURE_INPUTS`` is solved on ``fit_matrix`` with
    its ``EXPOSURE_PENALTIES`` (ridge ``l2`` and dropout ``diagonal``); the weight
    grid (:func:`search_weights`) then chooses between the rating-fed model alone and
    both at once (for each of ``EXPOSURE_GAMMAS``), with (alpha, beta), by NDCG@10 on
    the validation users. The exposure model alone (binary, ``EXPOSURE_L2``), with a
    warning, when no validation user liked a held-out item. The table's keys are
    ``"rating,l2,alpha,beta"`` and ``"both<gamma>,<l2>+<l2 rating>,alpha,beta"``."""
    chosen = np.empty(0, dtype=np.int64)
    if cells is not None and cell_ratings is not None:
        liked = cell_ratings >= relevance_threshold(scale)
        users, items = cells[0][liked], cells[1][liked]
        chosen = validation_users(users, fit_matrix.shape[1], np.random.default_rng(seed))
    if len(chosen) == 0:
        warnings.warn(
            "ranking='hybrid' found no held-out rating to choose its weights on (no "
            "validation slice, or no liked rating in it); recommend ranks by the exposure "
            "model alone",
            UserWarning,
            stacklevel=5,
        )
        return (0.0, 0.0), None, {"input": "binary", "shift": 0.0, "l2": EXPOSURE_L2}, {}
    seen = fit_matrix[chosen]
    shift = float(scale[0])
    counts: dict[str, Cooccurrence] = {}  # input: its Gram matrix, kept for the final model
    l2: dict[str, float] = {}
    dropout = {input: EXPOSURE_PENALTIES[input][1] for input in EXPOSURE_INPUTS}
    scored: dict[str, np.ndarray] = {}
    scratch = None  # one items x items array for every validation model's solve
    for input in EXPOSURE_INPUTS:
        counts[input] = cooccurrence(fit_matrix, input=input, shift=shift)
        unit = exposure_unit(fit_matrix, input, shift)
        l2[input] = float(np.round(unit * EXPOSURE_PENALTIES[input][0], 1))
        model = fit_exposure(
            fit_matrix, l2[input], counts=counts[input], out=scratch, diagonal=dropout[input]
        )
        scored[input] = model.scores(seen, parallel=True)
        scratch = model.weights
        del model
    del scratch
    graded = f"rating,{l2['rating']:g}"
    params = {
        graded: {
            "input": "rating",
            "shift": shift,
            "l2": l2["rating"],
            "diagonal": dropout["rating"],
        }
    }
    products = {}
    for gamma in EXPOSURE_GAMMAS:
        name = f"both{gamma:g},{l2['binary']:g}+{l2['rating']:g}"
        both = product_exposure(scored["binary"], scored["rating"], gamma)
        products[name] = np.log(both, out=both)  # already at least EPS ** (1 + gamma)
        params[name] = {
            "input": "both",
            "shift": shift,
            "l2": l2["binary"],
            "l2_rating": l2["rating"],
            "diagonal": dropout["binary"],
            "diagonal_rating": dropout["rating"],
            "gamma": gamma,
        }
    rating = scored.pop("rating")  # its log in place, after the products used it
    bases = {graded: np.log(np.maximum(rating, np.float32(EPS), out=rating), out=rating)}
    bases.update(products)  # the rating-fed model first: ties go to it
    del scored, products
    relevant = relevant_matrix(users, items, chosen, fit_matrix.shape)
    name, pair, table = search_weights(
        bases, rating_rows(chosen), item_counts(fit_matrix), seen, relevant, scale
    )
    return pair, table, params[name], counts


def rank_scores(
    ranking: str,
    rows: sp.csr_matrix,
    ratings: np.ndarray,
    exposure_items: np.ndarray | None,
    exposure_weights: np.ndarray | None,
    popularity: np.ndarray,
    weights: tuple[float, float] | None,
    scale: tuple[float, float],
    exposure_params: dict[str, Any] | None = None,
    exposure_weights_rating: np.ndarray | None = None,
) -> np.ndarray:
    """Ranking scores of users with these training ``rows`` and raw predicted ``ratings``."""
    if ranking == "rating" or exposure_items is None or exposure_weights is None:
        return ratings
    fed = exposure_params or {}
    input, shift, n_items = (
        fed.get("input", "binary"),
        float(fed.get("shift", 0.0)),
        len(ratings[0]),
    )
    if input == "both" and exposure_weights_rating is not None:
        binary = Exposure(exposure_items, exposure_weights, n_items).scores(rows)
        graded = Exposure(exposure_items, exposure_weights_rating, n_items, "rating", shift)
        exposure = product_exposure(binary, graded.scores(rows), float(fed["gamma"]))
    else:
        exposure = Exposure(exposure_items, exposure_weights, n_items, input, shift).scores(rows)
        if input == "rating":
            popular_when_uninterested(exposure, rows, shift, popularity)
    if ranking == "exposure" or weights is None:
        return exposure
    return combine(
        exposure, ratings, popularity, tuple(weights), scale, exposure_floor(exposure_params)
    )


def load_ranking(
    header: dict[str, Any], tensors: dict[str, Any], utility: sp.csr_matrix, ranking: str
) -> dict[str, Any]:
    """The ranking attributes of a saved model, checked against its catalogue."""
    from ._serialization import decode_array, decode_index

    state = header["state"]
    n_items = utility.shape[1]
    absent = set(header.get("absent", []))
    popularity = (
        decode_array("item_popularity_", tensors, (n_items,))
        if "item_popularity_" in tensors
        else item_counts(utility)
    )
    if (popularity < 0).any():
        raise ValueError("item_popularity_ holds negative counts")
    out: dict[str, Any] = {
        "item_popularity_": popularity,
        "exposure_items_": None,
        "exposure_weights_": None,
        "ranking_weights_": None,
        "ranking_validation_": state.get("ranking_validation_"),
        "exposure_params_": None,
        "exposure_weights_rating_": None,
    }
    if ranking == "rating" or "exposure_items_" in absent:
        return out
    fed = state.get("exposure_params_")  # absent in files from before the choice: binary
    if fed is not None:
        if not (isinstance(fed, dict) and fed.get("input") in (*EXPOSURE_INPUTS, "both")):
            raise ValueError(f"exposure_params_ {fed!r} do not name an exposure input")
        out["exposure_params_"] = fed
    items = decode_index("exposure_items_", tensors, None, n_items)
    weights = decode_array("exposure_weights_", tensors, (len(items), len(items)))
    out.update(exposure_items_=items, exposure_weights_=weights)
    if fed is not None and fed["input"] == "both":
        shape = (len(items), len(items))
        out["exposure_weights_rating_"] = decode_array("exposure_weights_rating_", tensors, shape)
    pair = state.get("ranking_weights_")
    if ranking == "hybrid":
        if not (isinstance(pair, list) and len(pair) == 2):
            raise ValueError(f"ranking_weights_ {pair!r} is not an (alpha, beta) pair")
        alpha, beta = (float(v) for v in pair)
        if not (0 <= alpha <= 10 * max(ALPHAS) and 0 <= beta <= 10 * max(BETAS)):
            raise ValueError(
                f"ranking_weights_ {pair!r} are outside [0, {10 * max(ALPHAS)}] x "
                f"[0, {10 * max(BETAS)}] (fit chooses them from {ALPHAS} x {BETAS})"
            )
        out["ranking_weights_"] = (alpha, beta)
    return out


def new_user_row(items: np.ndarray, ratings: np.ndarray, n_items: int) -> sp.csr_matrix:
    """A folded-in user's ratings as a 1 x n_items CSR row."""
    order = np.argsort(items, kind="stable")  # CSR built directly: no COO conversion
    indptr = np.array([0, len(items)], dtype=np.int64)
    return sp.csr_matrix(
        (ratings[order].astype(np.float32), np.asarray(items)[order], indptr), shape=(1, n_items)
    )


class HybridRankingMixin:
    """``_user_scores`` and ``_fold_in_scores`` for a rating model with an exposure model:
    the ranking it was fitted with (``_ranking``) over ``_user_ratings`` /
    ``_fold_in_ratings`` and the fitted ``exposure_items_``, ``exposure_weights_``,
    ``item_popularity_``, ``ranking_weights_`` and ``rating_scale_``."""

    _ranking: str

    def _user_scores(self, index: np.ndarray) -> np.ndarray:
        ratings = self._user_ratings(index)  # type: ignore[attr-defined]
        return self._rank_scores(self.utility_[index], ratings)  # type: ignore[attr-defined]

    def _fold_in(self, items: np.ndarray, ratings: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        predicted = np.asarray(self._fold_in_ratings(items, ratings))  # type: ignore[attr-defined]
        row = new_user_row(items, ratings, len(predicted))
        return self._rank_scores(row, predicted[None, :])[0], predicted

    def _fold_in_scores(self, items: np.ndarray, ratings: np.ndarray) -> np.ndarray:
        return self._fold_in(items, ratings)[0]

    def _rank_scores(self, rows: sp.csr_matrix, ratings: np.ndarray) -> np.ndarray:
        return rank_scores(
            self._ranking,
            rows,
            ratings,
            self.exposure_items_,  # type: ignore[attr-defined]
            self.exposure_weights_,  # type: ignore[attr-defined]
            self.item_popularity_,  # type: ignore[attr-defined]
            self.ranking_weights_,  # type: ignore[attr-defined]
            self.rating_scale_,  # type: ignore[attr-defined]
            getattr(self, "exposure_params_", None),
            getattr(self, "exposure_weights_rating_", None),
        )
