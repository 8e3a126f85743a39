"""`BlendRecommender`: the weighted average of several autoencoders."""

from __future__ import annotations

import itertools
import numbers
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import torch

from ._base import ParamsMixin
from ._estimator import READERS, AutoEncoderRecommender
from ._estimator_state import blend_weights
from ._explain import ExplainMixin
from ._hybrid import RANKINGS, HybridRankingMixin, fit_ranking, load_ranking
from ._pages import ordinary_pages
from ._prepare import held_out_cells, hold_out, prepare
from ._protocol import BLEND_PRESETS
from ._recommender import CompletionMixin, RecommenderMixin
from ._serialization import bad_file, dump_state, json_safe, read_model, tensors_under, write_model
from ._validation import (
    check_bool,
    check_option,
    check_pairs,
    check_random_state,
    check_scalar,
    seed_from,
)

__all__ = ["BlendRecommender"]

FORMAT = "autorec.BlendRecommender"
#: weights="auto" tries every subset of the estimators (2**n - 1 small systems).
_MAX_AUTO = 12


#: The presets blended by default (autorec's best configuration; the benchmarks page).
DEFAULT_PRESETS = BLEND_PRESETS


def _default_estimators() -> list[AutoEncoderRecommender]:
    return [AutoEncoderRecommender.from_preset(name) for name in DEFAULT_PRESETS]


class BlendRecommender(
    ExplainMixin, HybridRankingMixin, RecommenderMixin, CompletionMixin, ParamsMixin
):
    """Weighted average of the predicted ratings of several autoencoders (by default the
    residual default, the reference user network and a 1000-unit I-AutoRec).

    A user-based and an item-based autoencoder make different errors: the user model
    sees a user's whole history, the item model an item's whole audience; a residual
    and a plain network differ again. Averaging their raw predictions is the most
    accurate configuration autorec ships (see the benchmarks page). Each estimator is
    cloned and fitted on the same ratings; the blend's prediction is
    ``sum(w_j * prediction_j)`` with non-negative weights that sum to 1.

    With ``weights="auto"`` (the default) the weights are learned without touching any
    test data: the blend holds out ``validation_fraction`` of each user's ratings, every
    estimator trains on the rest and early-stops on that shared slice (instead of
    carving its own), and the weights are those that minimize the squared error of the
    blended predictions on it. The held-out ratings still serve as inputs when
    predicting, as every estimator's own validation slice does.

    Parameters
    ----------
    estimators : list of AutoEncoderRecommender, optional
        Unfitted templates; each is cloned (``get_params``) before fitting. By default
        one ``AutoEncoderRecommender.from_preset(name)`` per name of ``DEFAULT_PRESETS``:
        ``"default"``, ``"reference"``, ``"i-autorec-1000"``.
    weights : "auto", None or sequence of float, default="auto"
        ``"auto"``: learned on the shared validation slice (see above). ``None``: equal
        weights. A sequence: one non-negative weight per estimator, normalized to sum to
        1; each estimator then early-stops on its own validation slice.
    validation_fraction : float, default=0.05
        With ``weights="auto"``, the fraction of each user's ratings held out (rounded
        per user, as in :func:`autorec.datasets.train_test_split`); it replaces the
        estimators' own ``validation_fraction``. Ignored otherwise.
    random_state : int or None, default=None
        When given, overrides each estimator's ``random_state`` and fixes the held-out
        slice (so one seed makes the whole blend reproducible).

    Attributes
    ----------
    estimators_ : list of AutoEncoderRecommender
        The fitted clones.
    weights_ : numpy.ndarray
        The weights used, summing to 1 (learned with ``weights="auto"``).
    validation_rmse_ : numpy.ndarray or None
        With ``weights="auto"``: RMSE on the shared validation slice of each estimator
        followed by that of the blend; ``None`` otherwise.
    rating_scale_ : tuple of float
        The range predictions are clipped to (the widest of the estimators').
    fit_seconds_ : float
        Wall time of ``fit`` (all estimators).
    fit_params_ : dict
        The blend's own parameters as ``fit`` used them (what :meth:`save` writes,
        whatever :meth:`set_params` changed since).

    Notes
    -----
    ``recommend`` with ``user_ratings`` (fold-in) folds the new user into every
    estimator (an item model solves the user's output weights on its item codes) and
    mixes them with the weights. :meth:`save` writes the whole blend to one file and
    :meth:`load` reads it back.

    Examples
    --------
    >>> from autorec import AutoEncoderRecommender, BlendRecommender
    >>> from autorec.datasets import make_ratings
    >>> ratings = make_ratings(n_users=60, n_items=40, n_ratings=900, random_state=0)
    >>> blend = BlendRecommender(
    ...     [AutoEncoderRecommender(hidden_layers=(8,), epochs=3),
    ...      AutoEncoderRecommender(hidden_layers=(8,), kind="item", epochs=3)],
    ...     random_state=0,
    ... ).fit(ratings)
    >>> blend.predict(ratings.head(2)).shape
    (2,)
    >>> len(blend.recommend(ratings.user_id.iloc[0], k=3))
    3
    """

    _fitted_attribute = "estimators_"
    #: The blend's own fitted state (each sub-model stores its own ``_STATE``).
    _STATE: ClassVar[dict[str, str]] = {
        "weights_": "json",
        "validation_rmse_": "json",
        "fit_seconds_": "json",
        "ranking_weights_": "json",
        "ranking_validation_": "json",
        "exposure_params_": "json",
        "item_popularity_": "array",
        "exposure_items_": "index",
        "exposure_weights_": "array",
        "exposure_weights_rating_": "array",
    }

    def __init__(
        self,
        estimators: Sequence[AutoEncoderRecommender] | None = None,
        weights: str | Sequence[float] | None = "auto",
        validation_fraction: float = 0.05,
        ranking: str = "hybrid",
        random_state: int | None = None,
    ) -> None:
        self.estimators = estimators
        self.weights = weights
        self.validation_fraction = validation_fraction
        self.ranking = ranking
        self.random_state = random_state

    def _templates(self) -> list[AutoEncoderRecommender]:
        templates = _default_estimators() if self.estimators is None else list(self.estimators)
        if not templates:
            raise ValueError("estimators must hold at least one AutoEncoderRecommender")
        for template in templates:
            if not isinstance(template, AutoEncoderRecommender):
                raise TypeError(
                    "estimators must be AutoEncoderRecommender instances, got "
                    f"{type(template).__name__}"
                )
        return templates

    def _normalized_weights(self, n: int) -> np.ndarray | None:
        """The fixed weights, normalized; None for ``"auto"`` (learned in ``fit``)."""
        if isinstance(self.weights, str):
            if self.weights == "auto":
                if n > _MAX_AUTO:
                    raise ValueError(
                        f"weights='auto' learns weights for at most {_MAX_AUTO} estimators, "
                        f"got {n}; pass one weight per estimator instead"
                    )
                return None
            raise ValueError(
                f"weights must be 'auto', None or one number per estimator, got {self.weights!r}"
            )
        if self.weights is None:
            return np.full(n, 1.0 / n)
        # np.asarray(..., dtype=float) would turn None into NaN and True into 1.0: check
        # each entry is a real number first.
        # a dict (its keys), a set (no order) or a generator (spent by the first look)
        # is not one number per estimator
        ordered = isinstance(self.weights, Sequence | np.ndarray | pd.Series)
        values = list(self.weights) if ordered and not isinstance(self.weights, bytes) else None
        if values is None or not all(
            isinstance(w, numbers.Real) and not isinstance(w, bool | np.bool_) for w in values
        ):
            raise TypeError(
                f"weights must be a sequence of numbers, one per estimator, got {self.weights!r}"
            )
        weights = np.asarray(values, dtype=np.float64)
        if weights.shape != (n,):
            raise ValueError(
                f"weights must hold one number per estimator ({n}), got {self.weights!r}"
            )
        if not np.all(np.isfinite(weights)) or (weights < 0).any() or weights.sum() <= 0:
            raise ValueError(
                f"weights must be finite, non-negative and not all zero, got {self.weights!r}"
            )
        return weights / weights.sum()

    def fit(self, ratings: pd.DataFrame, y: None = None) -> BlendRecommender:
        """Fit a clone of every estimator on ``ratings`` and return ``self``.

        The ratings are validated and turned into a matrix once, for all estimators. A
        ``fit`` that raises leaves the blend as it was before the call.
        """
        started = time.perf_counter()
        templates = self._templates()
        weights = self._normalized_weights(len(templates))
        check_random_state(self.random_state)
        ranking = check_option(self.ranking, "ranking", RANKINGS)
        shared = weights is None or ranking == "hybrid"  # one held-out slice for all
        if shared:
            fraction = check_scalar(
                self.validation_fraction,
                "validation_fraction (with weights='auto' or ranking='hybrid')",
                low=0.0,
                high=1.0,
                include_low=False,
                include_high=False,
            )
        # One validation of the frame for every estimator; a repeated pair is an error
        # unless every estimator keeps the last rating.
        policy = "last" if all(t.duplicates == "last" for t in templates) else "error"
        data = prepare(ratings, None, policy)
        utility = data.utility
        validation = None
        seed = seed_from(self.random_state)
        if shared:
            users, items = held_out_cells(data, fraction, seed)
            validation = pd.DataFrame(
                {
                    "user_id": utility.user_map.inverse_transform(users),
                    "item_id": utility.item_map.inverse_transform(items),
                }
            )
        fitted = []
        for template in templates:
            model = type(template)(**template.get_params(deep=False))
            if self.random_state is not None:
                model.set_params(random_state=self.random_state)
            # The blend ranks on its own: its members only predict ratings.
            model.set_params(ranking="rating")
            fitted.append(model.fit(utility, validation=validation))
        scale = _widest_scale(fitted)
        scores = None
        target = None
        if shared:
            target = (
                np.asarray(utility.matrix[users, items], dtype=np.float64).ravel()
                if len(users)
                else np.empty(0)
            )
        if weights is None:
            weights, scores = _learn_weights(fitted, target, scale)
        ranked = fit_ranking(
            ranking,
            utility.matrix,
            hold_out(utility.matrix, users, items, "user")[0] if shared else utility.matrix,
            (users, items) if shared else None,
            target,
            lambda chosen: sum(
                w * m._held_out_rows(chosen) for w, m in zip(weights, fitted, strict=True)
            ),
            scale,
            seed,
        )
        for model in fitted:
            model._release_fit_inputs()
        self.__dict__.update(
            **ranked,
            fit_params_=_fit_params(self, ranking),
            ranking_=ranking,
            estimators_=fitted,
            rating_scale_=scale,
            validation_rmse_=scores,
            weights_=weights,
            **_shared_maps(fitted),
            fit_seconds_=time.perf_counter() - started,
        )
        return self

    def predict(
        self, pairs: pd.DataFrame | list[tuple[Any, Any]], *, clip: bool = True
    ) -> np.ndarray:
        """Weighted average of the estimators' raw predictions (see
        :meth:`AutoEncoderRecommender.predict`), clipped to ``rating_scale_`` unless
        ``clip=False``."""
        self._check_fitted()
        clip = check_bool(clip, "clip")
        pairs = check_pairs(pairs)
        out = sum(
            w * m.predict(pairs, clip=False)
            for w, m in zip(self.weights_, self.estimators_, strict=True)
        )
        out = np.asarray(out, dtype=np.float32)
        return np.clip(out, *self.rating_scale_) if clip else out

    @ordinary_pages()
    def predict_matrix(self, users: Any = None, *, clip: bool = True) -> np.ndarray:
        """Blended predicted ratings of every item for the given users (default: all)."""
        self._check_fitted()
        clip = check_bool(clip, "clip")
        ids = self.user_map_.inverse_transform(self._user_index(users))
        out = np.asarray(self._blend_rows(ids), dtype=np.float32)
        return np.clip(out, *self.rating_scale_) if clip else out

    def _blend_rows(self, ids: np.ndarray) -> np.ndarray:
        total = None
        for weight, model in zip(self.weights_, self.estimators_, strict=True):
            part = weight * model.predict_matrix(ids, clip=False)
            total = part if total is None else total + part
        return total

    # ------------------------------------------- recommend hooks (HybridRankingMixin)
    @property
    def _ranking(self) -> str:
        return self.ranking_

    def _user_ratings(self, index: np.ndarray) -> np.ndarray:
        return self._blend_rows(self.user_map_.inverse_transform(index))

    def _fold_in_ratings(self, items: np.ndarray, ratings: np.ndarray) -> np.ndarray:
        total = None
        for weight, model in zip(self.weights_, self.estimators_, strict=True):
            part = weight * model._fold_in_ratings(items, ratings)
            total = part if total is None else total + part
        return total

    # --------------------------------------------------------------- save/load
    def save(self, path: str | Path) -> Path:
        """Save the whole fitted blend (every sub-model and the weights) in one file.

        The same safetensors format as :meth:`AutoEncoderRecommender.save`: loading
        never executes code, and the file is written to a temporary name then renamed,
        so an interrupted save never leaves a half-written blend.

        Returns
        -------
        pathlib.Path
            The path written.
        """
        self._check_fitted()
        tensors, header = dump_state(self, self._STATE)
        header["params"] = dict(self.fit_params_)
        header["estimators"] = []
        for j, model in enumerate(self.estimators_):
            part_tensors, part_header = dump_state(model, model._STATE, f"estimator{j}.")
            # Sub-model ids and arrays are stored under their prefix; the header keeps
            # the entries by attribute name.
            tensors.update(part_tensors)
            header["estimators"].append(part_header)
        return write_model(path, FORMAT, header, tensors)

    @classmethod
    def load(cls, path: str | Path, *, device: str | torch.device = "cpu") -> BlendRecommender:
        """Load a blend written by :meth:`save` (onto the CPU by default).

        Raises
        ------
        FileNotFoundError, PermissionError
            If ``path`` does not exist or cannot be read.
        autorec.exceptions.ModelFormatError
            If the file is not an autorec blend (a single model's file names the class
            that loads it), comes from a newer format version, or was tampered with.
        """
        path = Path(path)
        version, header, tensors = read_model(path, FORMAT, READERS)
        if version == 1:
            from ._legacy import upgrade_v1_blend

            header, tensors = upgrade_v1_blend(path, header, tensors)
        try:
            parts = list(header["estimators"])
            n = len(parts)
            if n < 1:
                raise ValueError("the blend holds no estimator")
            state = dict(header["state"])
            params = dict(header["params"])
            weights, scores = blend_weights(state, n)
            fit_seconds = float(state.get("fit_seconds_", float("nan")))
        except (KeyError, TypeError, ValueError) as exc:
            raise bad_file(path, f"its blend header is invalid ({exc})") from exc
        fitted = []
        for j, part in enumerate(parts):
            if not isinstance(part, dict):
                raise bad_file(
                    path, f"its blend header is invalid (estimator {j} is not an object)"
                )
            mine = tensors_under(tensors, f"estimator{j}.")
            fitted.append(AutoEncoderRecommender._from_state(path, part, mine, device))
        try:
            blend = cls(
                estimators=[type(m)(**m.get_params()) for m in fitted],
                weights=params["weights"],
                validation_fraction=params["validation_fraction"],
                # version 1 ranked by rating; a later file names its ranking
                ranking=params.get("ranking", "rating") if version == 1 else params["ranking"],
                random_state=params["random_state"],
            )
            blend._normalized_weights(n)
            ranking = check_option(blend.ranking, "ranking", RANKINGS)
            ranked = load_ranking(header, tensors, fitted[0].utility_, ranking)
            shared = _shared_maps(fitted)
        except (KeyError, TypeError, ValueError) as exc:
            raise bad_file(path, f"its blend header is invalid ({exc})") from exc
        blend.__dict__.update(
            **ranked,
            fit_params_=_fit_params(blend, ranking),
            ranking_=ranking,
            estimators_=fitted,
            weights_=weights,
            validation_rmse_=scores,
            rating_scale_=_widest_scale(fitted),
            fit_seconds_=fit_seconds,
            **shared,
        )
        return blend


def _fit_params(blend: BlendRecommender, ranking: str) -> dict[str, Any]:
    """The blend's own parameters as ``fit`` used them, in JSON form: what ``save``
    writes, whatever ``set_params`` changed since."""
    weights = blend.weights
    if weights is not None and not isinstance(weights, str):
        weights = [float(w) for w in weights]
    return {
        "weights": weights,
        "validation_fraction": json_safe(blend.validation_fraction),
        "ranking": ranking,
        "random_state": (
            int(blend.random_state) if isinstance(blend.random_state, numbers.Integral) else None
        ),
    }


def _shared_maps(fitted: list[AutoEncoderRecommender]) -> dict[str, Any]:
    """The id maps and training matrix every sub-model shares (the recommend hooks')."""
    first = fitted[0]
    for model in fitted[1:]:
        if model.user_map_ != first.user_map_ or model.item_map_ != first.item_map_:
            raise ValueError("the blend's estimators were fitted on different users or items")
    return {
        "user_map_": first.user_map_,
        "item_map_": first.item_map_,
        "n_users_": first.n_users_,
        "n_items_": first.n_items_,
        "utility_": first.utility_,
    }


def _widest_scale(fitted: list[AutoEncoderRecommender]) -> tuple[float, float]:
    """The rating range covering every fitted estimator's."""
    scales = np.array([m.rating_scale_ for m in fitted])
    return float(scales[:, 0].min()), float(scales[:, 1].max())


def _learn_weights(
    fitted: list[AutoEncoderRecommender], target: np.ndarray, scale: tuple[float, float]
) -> tuple[np.ndarray, np.ndarray | None]:
    """Convex weights minimizing the squared error on the shared validation slice.

    Returns the weights and the validation RMSE of each estimator then of the blend;
    equal weights and None, with a warning, when the slice is empty (every user has too
    few ratings to hold one out).
    """
    n = len(fitted)
    if len(target) == 0:
        warnings.warn(
            "no rating could be held out to learn the blend weights (too few ratings per "
            "user for the validation_fraction); using equal weights",
            UserWarning,
            stacklevel=3,
        )
        return np.full(n, 1.0 / n), None
    preds = np.column_stack([m.validation_predictions_ for m in fitted]).astype(np.float64)
    y = np.asarray(target, dtype=np.float64)
    weights = _convex_least_squares(preds, y)
    clipped = np.clip(np.column_stack([preds, preds @ weights]), *scale)
    scores = np.sqrt(np.mean((clipped - y[:, None]) ** 2, axis=0))
    return weights, scores


def _convex_least_squares(preds: np.ndarray, y: np.ndarray) -> np.ndarray:
    """argmin ||preds @ w - y||^2 over w >= 0, sum(w) = 1 (an exact active-set search).

    With few estimators, every subset of them is tried: on a subset the equality-
    constrained least-squares solution comes from one small linear (KKT) system; the
    best feasible one over all subsets is the constrained optimum.
    """
    n = preds.shape[1]
    gram = preds.T @ preds
    corr = preds.T @ y
    best, best_loss = np.full(n, 1.0 / n), np.inf
    for size in range(1, n + 1):
        for subset in itertools.combinations(range(n), size):
            idx = list(subset)
            kkt = np.zeros((size + 1, size + 1))
            kkt[:size, :size] = 2 * gram[np.ix_(idx, idx)]
            kkt[:size, size] = 1.0
            kkt[size, :size] = 1.0
            rhs = np.append(2 * corr[idx], 1.0)
            solution = np.linalg.lstsq(kkt, rhs, rcond=None)[0][:size]
            if (solution < -1e-12).any():
                continue
            w = np.zeros(n)
            w[idx] = np.clip(solution, 0.0, None)
            w /= w.sum()
            loss = float(np.sum((preds @ w - y) ** 2))
            if loss < best_loss - 1e-12:
                best, best_loss = w, loss
    return best
