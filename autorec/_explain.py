"""Why an item is recommended: each rated item's share of its score, and similar items.

A recommended item ``j``'s ranking score (see ``autorec._hybrid``) is built from the
user's rated items ``I``. For each rated item ``i`` this module computes how much the
score of ``j`` would fall if ``i`` were removed from the user's ratings (a leave-one-out
effect), from two parts:

* the **exposure model** (EASE, a linear autoencoder of who rates what) scores ``j`` as
  ``E_j = sum_{i in I} B_ij x_i`` (``x_i = 1`` for the ``"binary"`` input, ``r_i -
  shift`` for ``"rating"``; for ``"both"``, ``max(E_binary, EPS) * max(E_rating, EPS) **
  gamma``), an exact decomposition: removing ``i`` lowers the log exposure term by
  ``log(E_j)`` minus the log of the same expression without ``i``'s term (floored at
  ``EPS``, ``EPS ** (1 + gamma)`` for ``"both"``), exactly;
* the **rating network**'s predicted rating of ``j``, by a cheap attribution
  (``autorec._leave_one_out``): a user model's row re-encoded without each rated item
  (exact), an item model's fold-in ridge without each rating (a closed form; a fitted
  user is attributed through this fold-in surrogate), a blend's members mixed with its
  weights.

  The rating part enters with the weight ``alpha`` the hybrid ranking was fitted with
  (through the clip to the rating scale), alone for ``ranking="rating"``, not at all
  for ``ranking="exposure"``.

The ``because`` of a recommendation lists the (at most 3) rated items with the largest
positive effect, leaving out those below a fifth of the largest (a reason that hardly
matters is not named). Only the items that can be among a target's largest get their
exact effect (the costly part of an item model's, its leverage): the others are ruled
out by bounds (``_candidates``), so the lists are the ones computing every effect
exactly would give. ``benchmarks/explain.py`` checks that they matter: removing them
lowers the item's rank more than removing as many random rated items.

:func:`similar_items` ranks items by the exposure model's item-item weights (people who
rated this item also rated ...), or, for a model without one (``ranking="rating"``), by
cosine similarity of the network's item vectors.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ._hybrid import EPS, exposure_floor
from ._leave_one_out import Falls, rating_effects, rating_falls, ridge_leave_one_out
from ._movies import check_movies, join_movies
from ._ranking import top_k_items
from ._user_ids import _check_id_values
from ._validation import check_k

__all__ = [
    "BECAUSE",
    "ExplainMixin",
    "exposure_effects",
    "rating_effects",
    "ridge_leave_one_out",
]

#: Rated items named in a recommendation's ``because``, at most.
BECAUSE = 3
#: A rated item is named only if its effect is at least this share of the largest one.
MIN_SHARE = 0.2
#: Slack on the bounds that rule a rated item out of a reason (floating-point rounding).
SLACK = 1e-9


def exposure_effects(
    exposure_items: np.ndarray,
    exposure_weights: np.ndarray,
    rated: np.ndarray,
    targets: np.ndarray,
    log: bool = True,
) -> np.ndarray:
    """Fall of ``log(max(E_j, EPS))`` (of ``E_j`` itself with ``log=False``) when each
    rated item is removed.

    Returns an array (len(targets), len(rated)), float64: row ``t``, column ``i`` is
    ``log(max(E, EPS)) - log(max(E - B[i, j], EPS))`` for ``j = targets[t]``, where
    ``E = sum_i B[i, j]`` is the target's exposure (0 for items without weights); with
    ``log=False``, ``B[i, j]``.
    """
    if len(exposure_items) and exposure_items[-1] == len(exposure_items) - 1:
        # Every item has weights (exposure_items is sorted): no positions to look up.
        block = exposure_weights[np.ix_(rated, targets)].T.astype(np.float64)
    else:
        n_catalogue = int(max(rated.max(initial=-1), targets.max(initial=-1), exposure_items.max()))
        position = np.full(n_catalogue + 1, -1, dtype=np.int64)
        position[exposure_items] = np.arange(len(exposure_items))
        r, t = position[rated], position[targets]
        block = np.zeros((len(targets), len(rated)), dtype=np.float64)
        ok_r, ok_t = np.flatnonzero(r >= 0), np.flatnonzero(t >= 0)
        if len(ok_r) and len(ok_t):
            block[np.ix_(ok_t, ok_r)] = exposure_weights[np.ix_(r[ok_r], t[ok_t])].T
    if not log:
        return block
    total = block.sum(axis=1, keepdims=True)
    return np.log(np.maximum(total, EPS)) - np.log(np.maximum(total - block, EPS))


class ExplainMixin:
    """``because`` for :meth:`recommend` (``explain=True``) and :meth:`similar_items`, for a
    rating model with an exposure model (``autorec._hybrid.HybridRankingMixin``)."""

    def _effects(
        self,
        rated: np.ndarray,
        ratings: np.ndarray,
        targets: np.ndarray,
        predicted: np.ndarray | None,
    ) -> Falls:
        """Fall of each target's ranking score when each rated item is removed: the
        exposure part exactly, the rating part bounded and exact on demand."""
        ranking = self._ranking  # type: ignore[attr-defined]
        exposure = self.exposure_items_ is not None and ranking != "rating"  # type: ignore[attr-defined]
        weights = self.ranking_weights_  # type: ignore[attr-defined]
        alpha = 1.0 if not exposure else (0.0 if weights is None else float(weights[0]))
        if ranking == "exposure":
            alpha = 0.0
        total = np.zeros((len(targets), len(rated)))
        if exposure:
            total += self._exposure_effects(rated, ratings, targets, log=ranking != "exposure")
        if not alpha:
            return Falls.known(total)
        low, high = self.rating_scale_  # type: ignore[attr-defined]
        clipped = exposure and predicted is not None

        def score(fall: np.ndarray) -> np.ndarray:
            """The ranking score's fall from the predicted rating's (nondecreasing)."""
            if clipped:
                now = np.clip(predicted, low, high)[:, None]
                fall = now - np.clip(predicted[:, None] - fall, low, high)
            return alpha * fall

        falls = rating_falls(self, rated, ratings, targets)
        return Falls(
            total + score(falls.low),
            total + score(falls.high),
            lambda columns: total[:, columns] + score(falls.exact(columns)),
        )

    def _exposure_effects(
        self, rated: np.ndarray, ratings: np.ndarray, targets: np.ndarray, log: bool
    ) -> np.ndarray:
        """Exact fall of each target's exposure score (of its log with ``log``) when each
        rated item is removed, for the exposure model's input (``exposure_params_``):
        ``"binary"`` sums ``B[i, j]``, ``"rating"`` sums ``(r_i - shift) B[i, j]``, and
        ``"both"`` multiplies the two, ``max(E_b, EPS) * max(E_r, EPS) ** gamma``, as
        ``autorec._hybrid.rank_scores`` does."""
        items = self.exposure_items_  # type: ignore[attr-defined]
        binary = self.exposure_weights_  # type: ignore[attr-defined]
        fed = getattr(self, "exposure_params_", None) or {}
        kind = fed.get("input", "binary")
        if kind == "binary":
            return exposure_effects(items, binary, rated, targets, log)
        # Each rated item's term B[i, j] x_i of each exposure model (targets x rated).
        values = np.asarray(ratings, dtype=np.float64) - float(fed.get("shift", 0.0))
        if kind == "rating":
            terms = [exposure_effects(items, binary, rated, targets, False) * values]
        else:
            graded = self.exposure_weights_rating_  # type: ignore[attr-defined]
            terms = [
                exposure_effects(items, binary, rated, targets, False),
                exposure_effects(items, graded, rated, targets, False) * values,
            ]
        totals = [term.sum(axis=1, keepdims=True) for term in terms]
        if kind == "rating":
            before, after = totals[0], totals[0] - terms[0]
        else:
            gamma = float(fed["gamma"])
            before = np.maximum(totals[0], EPS) * np.maximum(totals[1], EPS) ** gamma
            after = (
                np.maximum(totals[0] - terms[0], EPS)
                * np.maximum(totals[1] - terms[1], EPS) ** gamma
            )
        if not log:
            return before - after
        floor = exposure_floor(fed)  # the product's own floor, as rank_scores uses
        return np.log(np.maximum(before, floor)) - np.log(np.maximum(after, floor))

    def _because(
        self,
        rated: np.ndarray,
        ratings: np.ndarray,
        targets: np.ndarray,
        predicted: np.ndarray | None,
        movies: pd.DataFrame | None,
    ) -> list[list[dict[str, Any]]]:
        """For each target, up to :data:`BECAUSE` rated items whose removal lowers its
        score most (positive effects of at least :data:`MIN_SHARE` of the largest),
        largest first."""
        if len(rated) == 0 or len(targets) == 0:
            return [[] for _ in targets]
        columns, effects = _candidates(self._effects(rated, ratings, targets, predicted))
        ids = self.item_map_.inverse_transform(rated[columns])  # type: ignore[attr-defined]
        titles = _titles(movies)
        order = np.argsort(-effects, axis=1, kind="stable")[:, :BECAUSE]
        best = np.take_along_axis(effects, order, axis=1)
        named = (best > 0) & (best >= MIN_SHARE * best[:, :1])
        out = []
        for row, chosen, keep in zip(effects, order, named, strict=True):
            items = []
            for i in chosen[keep]:
                entry = {
                    "item_id": ids[i].item() if hasattr(ids[i], "item") else ids[i],
                    "rating": float(ratings[columns[i]]),
                    "effect": float(row[i]),
                }
                if titles is not None:
                    entry["title"] = titles.get(entry["item_id"])
                items.append(entry)
            out.append(items)
        return out

    def similar_items(
        self, item_id: Any, k: int = 10, *, movies: pd.DataFrame | None = None
    ) -> pd.DataFrame:
        """The ``k`` items most like ``item_id`` ("people who liked this also liked").

        With an exposure model (``ranking="hybrid"`` or ``"exposure"``), items are ranked
        by its weight ``B[item, j]``: how much having rated ``item_id`` raises the chance
        of rating ``j``, other ratings held fixed. Without one (``ranking="rating"``), by
        cosine similarity of the rating network's item vectors (an item model's item
        codes, a user model's output weights; a blend's first member).

        Parameters
        ----------
        item_id : scalar
            An item seen in ``fit``.
        k : int, default=10
            Number of items (the item itself is never among them).
        movies : pandas.DataFrame, optional
            Item metadata with an ``item_id`` column; ``title`` and ``genres`` are joined.

        Returns
        -------
        pandas.DataFrame
            Index ``rank`` from 1; columns ``item_id``, ``score`` (higher is more
            similar), ``n_ratings`` and, with ``movies``, ``title`` and ``genres``.

        Raises
        ------
        KeyError
            If ``item_id`` was not in the training data.
        TypeError, ValueError
            If ``k`` is not a positive integer or ``item_id`` cannot be an id.

        Examples
        --------
        >>> from autorec import AutoEncoderRecommender
        >>> from autorec.datasets import make_ratings
        >>> ratings = make_ratings(n_users=60, n_items=40, n_ratings=900, random_state=0)
        >>> model = AutoEncoderRecommender(hidden_layers=(8,), epochs=3, random_state=0)
        >>> similar = model.fit(ratings).similar_items(ratings.item_id.iloc[0], k=3)
        >>> len(similar), bool(similar.score.is_monotonic_decreasing)
        (3, True)
        """
        self._check_fitted()  # type: ignore[attr-defined]
        k = check_k(k)
        if movies is not None:
            check_movies(movies)
        if np.ndim(item_id) != 0:
            raise TypeError(f"item_id must be one id, got {type(item_id).__name__}")
        ids = np.asarray([item_id], dtype=object if isinstance(item_id, str) else None)
        _check_id_values(ids, "item id")
        index = int(self.item_map_.transform(ids)[0])  # type: ignore[attr-defined]
        if index < 0:
            raise KeyError(f"item id {item_id!r} was not in the training data")
        scores = self._similarity(index)
        scores[index] = -np.inf
        columns, _ = top_k_items(scores[None, :], k)
        chosen = columns[0]
        frame = pd.DataFrame(
            {
                "item_id": self.item_map_.inverse_transform(chosen),  # type: ignore[attr-defined]
                "score": scores[chosen],
                "n_ratings": self._item_counts()[chosen],  # type: ignore[attr-defined]
            },
            index=pd.Index(np.arange(1, len(chosen) + 1), name="rank", dtype=np.int64),
        )
        return join_movies(frame, movies) if movies is not None else frame

    def _similarity(self, index: int) -> np.ndarray:
        """Similarity of every item to the item at ``index`` (float64, n_items)."""
        n_items = len(self.item_map_)  # type: ignore[attr-defined]
        items = self.exposure_items_  # type: ignore[attr-defined]
        if items is not None:
            out = np.full(n_items, -np.inf)
            where = np.searchsorted(items, index)
            if where < len(items) and items[where] == index:
                out[items] = self.exposure_weights_[where]  # type: ignore[attr-defined]
                return out
        vectors = _item_vectors(self)
        norms = np.linalg.norm(vectors, axis=1)
        norms[norms == 0] = 1.0
        return (vectors @ vectors[index]) / (norms * norms[index])


def _candidates(falls: Falls) -> tuple[np.ndarray, np.ndarray]:
    """The rated items that may be among some target's :data:`BECAUSE` largest falls
    (sorted column indices), and their exact falls (targets x those items).

    An item is left out when, for every target, its upper bound is below the
    :data:`BECAUSE`-th largest lower bound (less a rounding :data:`SLACK`): at least
    that many items then fall by more, so it is never named; the items kept are ranked
    by their exact falls, as if every item's were computed."""
    n = falls.low.shape[1]
    top = min(BECAUSE, n)
    if top == n:
        columns = np.arange(n)
    else:
        bar = np.partition(falls.low, n - top, axis=1)[:, n - top]
        bar = bar - SLACK * (1.0 + np.abs(bar))
        columns = np.flatnonzero((falls.high >= bar[:, None]).any(axis=0))
    return columns, falls.exact(columns)


def _item_vectors(model: Any) -> np.ndarray:
    """The rating network's vector of each item (float64, items x width)."""
    member = model.estimators_[0] if getattr(model, "estimators_", None) else model
    if member.fit_params_["kind"] == "item":
        return member._codes().cpu().numpy()[:, :-1].astype(np.float64)
    return member.module_.output_weight.detach().cpu().numpy().astype(np.float64)


def _titles(movies: pd.DataFrame | None) -> dict[Any, str] | None:
    if movies is None or "title" not in movies.columns:
        return None
    frame = movies.drop_duplicates("item_id")
    return dict(zip(frame["item_id"].tolist(), frame["title"].tolist(), strict=True))
