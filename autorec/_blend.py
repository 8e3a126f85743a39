"""`BlendRecommender`: the weighted average of several autoencoders."""

from __future__ import annotations

import numbers
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from ._base import ParamsMixin, check_is_fitted
from ._estimator import AutoEncoderRecommender, _as_pairs, _check_random_state, _top_k
from ._validation import check_k, check_ratings

__all__ = ["BlendRecommender"]


def _default_estimators() -> list[AutoEncoderRecommender]:
    return [
        AutoEncoderRecommender.from_preset("reference"),
        AutoEncoderRecommender.from_preset("i-autorec"),
    ]


class BlendRecommender(ParamsMixin):
    """Average of the predicted ratings of several autoencoders (by default U + I-AutoRec).

    A user-based and an item-based autoencoder make different errors: the user model
    sees a user's whole history, the item model an item's whole audience. Averaging
    their raw predictions is the most accurate configuration autorec ships (see the
    benchmarks page). Each estimator is cloned and fitted on the same ratings; the
    blend's prediction is ``sum(w_j * prediction_j)`` with the weights normalized to sum
    to 1.

    Parameters
    ----------
    estimators : list of AutoEncoderRecommender, optional
        Unfitted templates; each is cloned (``get_params``) before fitting. By default
        ``[AutoEncoderRecommender.from_preset("reference"),
        AutoEncoderRecommender.from_preset("i-autorec")]``.
    weights : sequence of float, optional
        One non-negative weight per estimator (normalized to sum to 1); equal weights by
        default. They are fixed, not learned: equal weights need no data to choose.
    random_state : int or None, default=None
        When given, overrides each estimator's ``random_state`` (so one seed makes the
        whole blend reproducible).

    Attributes
    ----------
    estimators_ : list of AutoEncoderRecommender
        The fitted clones.
    weights_ : numpy.ndarray
        The normalized weights.
    rating_scale_ : tuple of float
        The range predictions are clipped to (the widest of the estimators').
    fit_seconds_ : float
        Wall time of ``fit`` (all estimators).

    Notes
    -----
    ``recommend`` with ``user_ratings`` (fold-in) works only when every estimator is a
    user model; the default blend contains an item model, so a new user needs a refit.
    A blend is saved by saving each of ``estimators_``.

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

    def __init__(
        self,
        estimators: Sequence[AutoEncoderRecommender] | None = None,
        weights: Sequence[float] | None = None,
        random_state: int | None = None,
    ) -> None:
        self.estimators = estimators
        self.weights = weights
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

    def _normalized_weights(self, n: int) -> np.ndarray:
        if self.weights is None:
            return np.full(n, 1.0 / n)
        # np.asarray(..., dtype=float) would turn None into NaN and True into 1.0: check
        # each entry is a real number first.
        try:
            values = list(self.weights) if not isinstance(self.weights, str | bytes) else None
        except TypeError:
            values = None
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
        """Fit a clone of every estimator on ``ratings`` and return ``self``."""
        started = time.perf_counter()
        templates = self._templates()
        weights = self._normalized_weights(len(templates))
        _check_random_state(self.random_state)
        # Fail before any training on a bad frame; duplicates are left to each estimator's
        # own ``duplicates`` policy.
        check_ratings(ratings, duplicates="last")
        fitted = []
        for template in templates:
            model = type(template)(**template.get_params(deep=False))
            if self.random_state is not None:
                model.set_params(random_state=self.random_state)
            fitted.append(model.fit(ratings))
        self.estimators_ = fitted
        self.weights_ = weights
        scales = np.array([m.rating_scale_ for m in fitted])
        self.rating_scale_ = (float(scales[:, 0].min()), float(scales[:, 1].max()))
        self.fit_seconds_ = time.perf_counter() - started
        return self

    def predict(self, pairs: pd.DataFrame, *, clip: bool = True) -> np.ndarray:
        """Weighted average of the estimators' raw predictions (see
        :meth:`AutoEncoderRecommender.predict`), clipped to ``rating_scale_`` unless
        ``clip=False``."""
        check_is_fitted(self, "estimators_")
        pairs = _as_pairs(pairs)
        out = sum(
            w * m.predict(pairs, clip=False)
            for w, m in zip(self.weights_, self.estimators_, strict=True)
        )
        out = np.asarray(out, dtype=np.float32)
        return np.clip(out, *self.rating_scale_) if clip else out

    def recommend(
        self,
        user_id: Any,
        k: int = 10,
        *,
        exclude_seen: bool = True,
        movies: pd.DataFrame | None = None,
        user_ratings: Any = None,
    ) -> pd.DataFrame:
        """Top-``k`` items by blended score; same arguments and result as
        :meth:`AutoEncoderRecommender.recommend`."""
        check_is_fitted(self, "estimators_")
        k = check_k(k)
        total = None
        for weight, model in zip(self.weights_, self.estimators_, strict=True):
            scores, seen, ids, single = model._recommend_scores(user_id, user_ratings)
            total = weight * scores if total is None else total + weight * scores
        first = self.estimators_[0]
        return _top_k(first.item_map_, total, seen, ids, single, k, exclude_seen, movies)
