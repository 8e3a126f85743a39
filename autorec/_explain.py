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
* the **rating network**'s predicted rating of ``j``, by a cheap attribution:

  - a user model (``kind="user"``) encodes the user's row of ratings: the row is
    re-encoded once per rated item with that item hidden (one batch), which is the
    exact leave-one-out effect;
  - an item model (``kind="item"``) has no encoder for users; a folded-in user's
    prediction is a ridge regression of their ratings on the item codes
    (``autorec._foldin``), whose leave-one-out effect has a closed form,
    ``g_ij e_i / (1 - h_ii)`` (``e_i`` the residual and ``h_ii`` the leverage of
    rating ``i``, ``g_ij`` the influence of row ``i`` on the prediction of ``j``),
    plus the shift of the mean rating. A fitted user's predictions come from the
    trained network, whose fold-in surrogate attributes them (the fold-in ridge is
    chosen so that it ranks like the fitted rows);
  - a blend attributes each member and mixes with its weights.

  The rating part enters with the weight ``alpha`` the hybrid ranking was fitted with
  (through the clip to the rating scale), alone for ``ranking="rating"``, not at all
  for ``ranking="exposure"``.

The ``because`` of a recommendation lists the (at most 3) rated items with the largest
positive effect, leaving out those below a fifth of the largest (a reason that hardly
matters is not named). ``benchmarks/explain.py`` checks that they matter: removing them lowers
the item's rank more than removing as many random rated items.

:func:`similar_items` ranks items by the exposure model's item-item weights (people who
rated this item also rated ...), or, for a model without one (``ranking="rating"``), by
cosine similarity of the network's item vectors.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import scipy.linalg
import scipy.linalg.lapack
import torch

from ._foldin import BIAS_SHRINK
from ._hybrid import EPS, exposure_floor
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
#: Sparse entries encoded at once by the user-model leave-one-out batch.
LOO_BLOCK = 1 << 20


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


def _user_model_effects(
    model: Any, rated: np.ndarray, ratings: np.ndarray, targets: np.ndarray
) -> np.ndarray:
    """Exact leave-one-out fall of a user model's raw predictions (targets x rated)."""
    module, device = model.module_, model.device_
    n = len(rated)
    order = np.argsort(rated, kind="stable")
    columns = torch.from_numpy(rated[order].astype(np.int64)).to(device)
    values = torch.from_numpy(ratings[order].astype(np.float32)).to(device)
    target = torch.from_numpy(targets.astype(np.int64)).to(device)

    def decode(code: torch.Tensor) -> torch.Tensor:
        weight, bias = module.output_weight[target], module.output_bias[target]
        return code[:, :-1] @ weight.T + bias + code[:, -1:]

    out = np.empty((len(targets), n), dtype=np.float64)
    with torch.no_grad():
        zero = torch.zeros(1, dtype=torch.int64, device=device)
        base = decode(module.encode(columns, zero, values))[0]
        step = max(1, LOO_BLOCK // max(n, 1))
        for start in range(0, n, step):
            stop = min(start + step, n)
            rows = stop - start
            keep = torch.ones((rows, n), dtype=values.dtype, device=device)
            keep[torch.arange(rows), torch.arange(start, stop)] = 0.0
            offsets = torch.arange(rows, device=device) * n
            code = module.encode_masked(
                columns.repeat(rows), offsets, values.repeat(rows), keep.reshape(-1)
            )
            out[:, order[start:stop]] = (base[None, :] - decode(code)).T.cpu().numpy()
    return out


def _item_model_effects(
    model: Any, rated: np.ndarray, ratings: np.ndarray, targets: np.ndarray
) -> np.ndarray:
    """Closed-form leave-one-out fall of an item model's fold-in predictions."""
    codes, prior = model._fold_in_codes()
    l2 = model.fold_in_l2_
    n = len(rated)
    if n < 2 or l2 is None:
        return np.zeros((len(targets), n))
    hidden, offset = codes[:, :-1], codes[:, -1]
    x = hidden[rated]
    y = np.asarray(ratings, dtype=np.float64) - offset[rated]
    x_mean, y_mean = x.mean(axis=0), float(y.mean())
    xc, yc = x - x_mean, y - y_mean
    # The targets' directions, and x_mean's: how far x_mean @ w falls without each row.
    direction = np.column_stack([(hidden[targets] - x_mean).T, x_mean])
    falls, w = _ridge_leave_one_out(xc, yc, direction, l2, n > xc.shape[1])
    mean_shift = (y - y_mean) / (n - 1)
    unshrunk = falls[:-1] + mean_shift[None, :]
    # The fold-in shrinks the free bias b = y_mean - x_mean @ w toward a typical person's
    # (BIAS_SHRINK pseudo-ratings): the prediction is the unshrunk one minus
    # (1 - c) (b - prior), c = n / (n + BIAS_SHRINK); without row i, b and c change too.
    bias = y_mean - x_mean @ w
    bias_without = bias - mean_shift + falls[-1]
    pull, pull_without = BIAS_SHRINK / (n + BIAS_SHRINK), BIAS_SHRINK / (n - 1 + BIAS_SHRINK)
    shrink_fall = pull * (bias - prior) - pull_without * (bias_without - prior)
    return unshrunk - shrink_fall[None, :]


def ridge_leave_one_out(
    x: np.ndarray, y: np.ndarray, direction: np.ndarray, l2: float, primal: bool | None = None
) -> np.ndarray:
    """Fall of ``direction``'s predictions when each row of ``x`` leaves the ridge fit.

    With ``w = (XᵀX + l2 I)⁻¹ Xᵀ y``, removing row ``i`` changes ``w`` by
    ``-(XᵀX + l2 I)⁻¹ x_i e_i / (1 - h_ii)`` (``e_i`` the residual, ``h_ii`` the leverage),
    so a prediction ``d · w`` falls by ``g_i e_i / (1 - h_ii)`` with
    ``g = X (XᵀX + l2 I)⁻¹ d``. Computed with ``M = (XXᵀ + l2 I)⁻¹``:
    ``e_i / (1 - h_ii) = (M y)_i / M_ii`` and ``g = M X d``, in the dual form (n x n) when
    there are fewer rows than columns, else in the primal form
    (``l2 M = I - X (XᵀX + l2 I)⁻¹ Xᵀ``, columns x columns). Returns targets x rows.
    """
    if primal is None:
        primal = x.shape[0] > x.shape[1]
    return _ridge_leave_one_out(x, y, direction, l2, primal)[0]


def _ridge_leave_one_out(
    x: np.ndarray, y: np.ndarray, direction: np.ndarray, l2: float, primal: bool
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`ridge_leave_one_out` and the ridge weights ``w``, from one factorisation.

    Dual: the Cholesky factor ``L`` of ``XXᵀ + l2 I`` gives ``M y`` and ``M X d`` by two
    triangular solves each and ``diag(M)`` from ``L⁻¹``. Primal: the factor ``L`` of
    ``XᵀX + l2 I`` gives the leverages ``h_ii = |L⁻¹ x_i|²`` by one triangular solve of
    ``Xᵀ`` (the only step that grows with rows x columns², beside the Gram matrix), and
    ``w`` and the influences by solves with a few right-hand sides.
    """
    n, h = x.shape
    if not primal:
        gram = x @ x.T
        gram[np.diag_indices(n)] += l2
        factor = _cholesky(gram)
        inverse_factor, info = scipy.linalg.lapack.dtrtri(factor, lower=True)
        if info != 0:
            raise np.linalg.LinAlgError(f"ridge system is singular (info={info})")
        diagonal = np.einsum("ij,ij->j", inverse_factor, inverse_factor)  # diag(M)
        solved = scipy.linalg.cho_solve(
            (factor, True), np.column_stack([y, x @ direction]), check_finite=False
        )
        scaled = solved[:, 0] / diagonal
        influence = solved[:, 1:]  # rows x targets
        w = x.T @ solved[:, 0]
    else:
        gram = x.T @ x
        gram[np.diag_indices(h)] += l2
        factor = _cholesky(gram)
        half = scipy.linalg.solve_triangular(factor, x.T, lower=True, check_finite=False)
        leverage = np.einsum("ij,ij->j", half, half)
        w = scipy.linalg.cho_solve((factor, True), x.T @ y, check_finite=False)
        scaled = (y - x @ w) / (1.0 - leverage)
        projected = x @ direction
        back = scipy.linalg.cho_solve((factor, True), x.T @ projected, check_finite=False)
        influence = (projected - x @ back) / l2
    return (influence * scaled[:, None]).T, w


def _cholesky(gram: np.ndarray) -> np.ndarray:
    """Lower Cholesky factor of a ridge system (LAPACK potrf, overwriting ``gram``)."""
    factor, info = scipy.linalg.lapack.dpotrf(gram, lower=True, overwrite_a=True, clean=True)
    if info != 0:
        raise np.linalg.LinAlgError(f"ridge system not positive definite (info={info})")
    return factor


def rating_effects(
    model: Any, rated: np.ndarray, ratings: np.ndarray, targets: np.ndarray
) -> np.ndarray:
    """Fall of the raw predicted rating of each target when each rated item is removed
    (targets x rated); a blend mixes its members' with its weights."""
    members = getattr(model, "estimators_", None)
    if members is not None:
        return sum(
            w * rating_effects(m, rated, ratings, targets)
            for w, m in zip(model.weights_, members, strict=True)
        )
    if model.fit_params_["kind"] == "user":
        return _user_model_effects(model, rated, ratings, targets)
    return _item_model_effects(model, rated, ratings, targets)


class ExplainMixin:
    """``because`` for :meth:`recommend` (``explain=True``) and :meth:`similar_items`, for a
    rating model with an exposure model (``autorec._hybrid.HybridRankingMixin``)."""

    def _effects(
        self,
        rated: np.ndarray,
        ratings: np.ndarray,
        targets: np.ndarray,
        predicted: np.ndarray | None,
    ) -> np.ndarray:
        """Fall of each target's ranking score when each rated item is removed."""
        ranking = self._ranking  # type: ignore[attr-defined]
        exposure = self.exposure_items_ is not None and ranking != "rating"  # type: ignore[attr-defined]
        weights = self.ranking_weights_  # type: ignore[attr-defined]
        alpha = 1.0 if not exposure else (0.0 if weights is None else float(weights[0]))
        if ranking == "exposure":
            alpha = 0.0
        total = np.zeros((len(targets), len(rated)))
        if exposure:
            total += self._exposure_effects(rated, ratings, targets, log=ranking != "exposure")
        if alpha:
            fall = rating_effects(self, rated, ratings, targets)
            if exposure and predicted is not None:
                low, high = self.rating_scale_  # type: ignore[attr-defined]
                now = np.clip(predicted, low, high)[:, None]
                fall = now - np.clip(predicted[:, None] - fall, low, high)
            total += alpha * fall
        return total

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
        effects = self._effects(rated, ratings, targets, predicted)
        ids = self.item_map_.inverse_transform(rated)  # type: ignore[attr-defined]
        titles = _titles(movies)
        out = []
        for row in effects:
            best = np.argsort(-row, kind="stable")[:BECAUSE]
            items = []
            floor = MIN_SHARE * row[best[0]]
            for i in best[(row[best] > 0) & (row[best] >= floor)]:
                entry = {
                    "item_id": ids[i].item() if hasattr(ids[i], "item") else ids[i],
                    "rating": float(ratings[i]),
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
