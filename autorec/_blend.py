"""`BlendRecommender`: the weighted average of several autoencoders."""

from __future__ import annotations

import itertools
import numbers
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from ._base import ParamsMixin, check_is_fitted
from ._estimator import (
    AutoEncoderRecommender,
    _as_pairs,
    _check_random_state,
    _seed_from,
    _top_k,
)
from ._validation import check_k, check_ratings
from .datasets import train_test_split

__all__ = ["BlendRecommender"]

#: weights="auto" tries every subset of the estimators (2**n - 1 small systems).
_MAX_AUTO = 12


def _default_estimators() -> list[AutoEncoderRecommender]:
    return [
        AutoEncoderRecommender.from_preset("reference"),
        AutoEncoderRecommender.from_preset("i-autorec"),
    ]


class BlendRecommender(ParamsMixin):
    """Weighted average of the predicted ratings of several autoencoders (by default U +
    I-AutoRec).

    A user-based and an item-based autoencoder make different errors: the user model
    sees a user's whole history, the item model an item's whole audience. Averaging
    their raw predictions is the most accurate configuration autorec ships (see the
    benchmarks page). Each estimator is cloned and fitted on the same ratings; the
    blend's prediction is ``sum(w_j * prediction_j)`` with non-negative weights that sum
    to 1.

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
        ``[AutoEncoderRecommender.from_preset("reference"),
        AutoEncoderRecommender.from_preset("i-autorec")]``.
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

    Notes
    -----
    ``recommend`` with ``user_ratings`` (fold-in) works only when every estimator is a
    user model; the default blend contains an item model, so a new user needs a refit.
    :meth:`save` writes the whole blend to one file and :meth:`load` reads it back.

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
        weights: str | Sequence[float] | None = "auto",
        validation_fraction: float = 0.05,
        random_state: int | None = None,
    ) -> None:
        self.estimators = estimators
        self.weights = weights
        self.validation_fraction = validation_fraction
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
        try:
            values = list(self.weights) if not isinstance(self.weights, bytes) else None
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
        fraction = self.validation_fraction
        if weights is None and not (
            isinstance(fraction, numbers.Real)
            and not isinstance(fraction, bool | np.bool_)
            and 0 < fraction < 1
        ):
            raise ValueError(
                f"validation_fraction must be a number in (0, 1) when weights='auto', "
                f"got {fraction!r}"
            )
        # Fail before any training on a bad frame; duplicates are left to each estimator's
        # own ``duplicates`` policy.
        frame = check_ratings(ratings, duplicates="last")
        held = None
        if weights is None:
            seed = _seed_from(self.random_state)
            held = train_test_split(frame, float(fraction), by="user", random_state=seed)[1]
        fitted = []
        for template in templates:
            model = type(template)(**template.get_params(deep=False))
            if self.random_state is not None:
                model.set_params(random_state=self.random_state)
            fitted.append(model._fit(ratings, validation=held))
        self.estimators_ = fitted
        self.rating_scale_ = _widest_scale(fitted)
        self.validation_rmse_ = None
        if weights is None:
            weights, self.validation_rmse_ = _learn_weights(fitted, self.rating_scale_)
        self.weights_ = weights
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
        from ._serialization import save_blend

        check_is_fitted(self, "estimators_")
        return save_blend(self, path)

    @classmethod
    def load(cls, path: str | Path, *, device: str | torch.device = "cpu") -> BlendRecommender:
        """Load a blend written by :meth:`save` (onto the CPU by default).

        Raises
        ------
        FileNotFoundError
            If ``path`` does not exist.
        autorec.exceptions.ModelFormatError
            If the file is not an autorec blend (a single model's file names the class
            that loads it), comes from a newer format version, or was tampered with.
        """
        from ._serialization import load_blend

        return load_blend(cls, path, device=device)

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


def _widest_scale(fitted: list[AutoEncoderRecommender]) -> tuple[float, float]:
    """The rating range covering every fitted estimator's."""
    scales = np.array([m.rating_scale_ for m in fitted])
    return float(scales[:, 0].min()), float(scales[:, 1].max())


def _learn_weights(
    fitted: list[AutoEncoderRecommender], scale: tuple[float, float]
) -> tuple[np.ndarray, np.ndarray | None]:
    """Convex weights minimizing the squared error on the shared validation slice.

    Returns the weights and the validation RMSE of each estimator then of the blend;
    equal weights and None, with a warning, when the slice is empty (every user has too
    few ratings to hold one out).
    """
    n = len(fitted)
    target = fitted[0]._validation_target
    if target is None or len(target) == 0:
        warnings.warn(
            "no rating could be held out to learn the blend weights (too few ratings per "
            "user for the validation_fraction); using equal weights",
            UserWarning,
            stacklevel=3,
        )
        return np.full(n, 1.0 / n), None
    preds = np.column_stack([m._validation_prediction for m in fitted]).astype(np.float64)
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
