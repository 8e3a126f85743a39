"""The evaluation protocol, in one place: splits, model presets, and the scores of a fit.

The command line, the benchmark scripts and the examples all call these, so a change
here changes every table at once.

* ``SPLITS`` names the two protocols (``"standard"``: each user's ratings 75/25, the
  reference study's; ``"random90"``: a random 90/10 split, the AutoRec papers') and
  :func:`split` applies one.
* ``MODELS`` names the configurations (``"default"``: the class defaults, ``"user"``:
  the reference network, ``"item"``: the I-AutoRec preset, ``"blend"``: the default,
  the reference and a 1000-unit I-AutoRec network with learned weights) and
  :func:`make_model` builds one.
* :func:`rating_scores` gives RMSE and the study's top-k accuracy of a fitted model on
  a split; :func:`evaluate` adds the bias baseline on the same split.
* ``evaluate_ranking`` measures full-catalogue top-N recommendation (NDCG@10,
  recall@10, coverage, popularity of what is recommended); :func:`ranking_table` puts a
  fitted model beside :class:`~autorec.baselines.MostPopular` and
  :class:`~autorec.baselines.EASE` fitted on the same training ratings, EASE tuned on
  a validation slice of them (:func:`tuned_ease`).

Examples
--------
>>> from autorec.datasets import make_ratings
>>> from autorec.evaluation import evaluate, make_model, split
>>> ratings = make_ratings(n_users=60, n_items=40, n_ratings=900, random_state=0)
>>> train, test = split(ratings, "standard", random_state=0)
>>> model = make_model("user", epochs=2, random_state=0).fit(train)
>>> sorted(evaluate(model, train, test))[:3]
['baseline_fit_seconds', 'baseline_rmse_test', 'baseline_rmse_train']
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ._blend import BlendRecommender
from ._estimator import AutoEncoderRecommender
from ._protocol import _SPLIT_ALIASES, MODELS, SPLITS, ModelSpec, SplitSpec
from ._serialization import read_format
from ._topn import evaluate_ranking
from .baselines import EASE, BiasBaseline, MostPopular
from .datasets import train_test_split
from .metrics import rmse, top_k_accuracy

__all__ = [
    "MODELS",
    "SPLITS",
    "TOP_K",
    "ModelSpec",
    "SplitSpec",
    "evaluate",
    "evaluate_ranking",
    "load_model",
    "make_model",
    "ranking_table",
    "rating_scores",
    "split",
    "sub_models",
    "tuned_ease",
]

#: The cut-offs of the study's top-k accuracy.
TOP_K = (5, 10)


def split(
    ratings: pd.DataFrame, name: str = "standard", random_state: Any = 0
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split ``ratings`` by the protocol ``name`` (a key of ``SPLITS``)."""
    name = _SPLIT_ALIASES.get(name, name)
    if name not in SPLITS:
        raise ValueError(f"split={name!r} is not supported; use one of {', '.join(SPLITS)}")
    spec = SPLITS[name]
    return train_test_split(ratings, spec.test_size, by=spec.by, random_state=random_state)


def make_model(
    kind: str = "default",
    *,
    epochs: int | None = None,
    random_state: int | None = 0,
    verbose: int = 0,
    **overrides: Any,
) -> AutoEncoderRecommender | BlendRecommender:
    """The model ``kind`` (a key of ``MODELS``) stands for, unfitted.

    ``"default"`` is the class defaults; ``"user"`` the ``"reference"`` preset (the
    study's network); ``"item"`` the ``"i-autorec"`` preset; ``"blend"``
    ``BlendRecommender()``, the default, the reference and the ``"i-autorec-1000"``
    presets with learned weights. ``epochs``
    overrides the maximum number of epochs and ``overrides`` any other parameter (of
    each sub-model of a blend).
    """
    if kind not in MODELS:
        raise ValueError(f"kind={kind!r} is not supported; use one of {sorted(MODELS)}")
    params: dict[str, Any] = {"random_state": random_state, "verbose": verbose, **overrides}
    if epochs is not None:
        params["epochs"] = epochs
    presets = MODELS[kind].presets
    models = [AutoEncoderRecommender.from_preset(name, **params) for name in presets]
    if len(models) > 1:
        return BlendRecommender(models, random_state=random_state)
    return models[0]


def sub_models(model: Any) -> list[AutoEncoderRecommender]:
    """The autoencoders a model is made of: a blend's fitted sub-models, else itself."""
    return list(model.estimators_) if isinstance(model, BlendRecommender) else [model]


def load_model(path: str | Path) -> AutoEncoderRecommender | BlendRecommender:
    """A saved model of either class: the file's header says which."""
    if read_format(path) == "autorec.BlendRecommender":
        return BlendRecommender.load(path)
    return AutoEncoderRecommender.load(path)


def rating_scores(
    model: Any, train: pd.DataFrame, test: pd.DataFrame, ks: tuple[int, ...] = TOP_K
) -> dict[str, Any]:
    """RMSE on the training and test ratings and the study's top-k accuracy on test.

    The raw (unclipped) outputs rank each user's test movies, since clipping would tie
    the top of the scale; the RMSE uses the clipped predictions.
    """
    users, y_true = test["user_id"].to_numpy(), test["rating"].to_numpy()
    scores = np.asarray(model.predict(test, clip=False))
    return {
        "rmse_train": rmse(train["rating"].to_numpy(), model.predict(train)),
        "rmse_test": rmse(y_true, np.clip(scores, *model.rating_scale_)),
        "top_k_accuracy": {int(k): top_k_accuracy(users, y_true, scores, k=k) for k in ks},
    }


def evaluate(
    model: Any, train: pd.DataFrame, test: pd.DataFrame, ks: tuple[int, ...] = TOP_K
) -> dict[str, Any]:
    """:func:`rating_scores` of a fitted model and of a
    :class:`~autorec.baselines.BiasBaseline` fitted on the same training ratings (keys
    prefixed ``baseline_``), with the fit times."""
    result: dict[str, Any] = {"n_train": len(train), "n_test": len(test)}
    result.update(rating_scores(model, train, test, ks))
    started = time.perf_counter()
    baseline = BiasBaseline().fit(train)
    baseline_seconds = time.perf_counter() - started
    result.update({f"baseline_{k}": v for k, v in rating_scores(baseline, train, test, ks).items()})
    result["baseline_fit_seconds"] = baseline_seconds
    result["fit_seconds"] = getattr(model, "fit_seconds_", None)
    return result


def ranking_table(
    model: Any, train: pd.DataFrame, test: pd.DataFrame, *, k: int = 10, name: str = "autorec"
) -> dict[str, dict[str, Any]]:
    """``evaluate_ranking`` of a fitted model, and of MostPopular and EASE fitted on
    ``train`` (the peers of the full-catalogue protocol), keyed by name; each entry also
    has ``fit_seconds``.

    EASE is tuned as its users tune it (:func:`tuned_ease`): fed the ratings (minus the
    lowest), its ``l2`` chosen on a validation slice of ``train``; its entry's ``"params"``
    say what it was fed, the penalties tried with their validation NDCG@10, and the one
    chosen (``"tuned": False`` and the ``"reason"`` when it could not be tuned). A
    catalogue above EASE's ``max_items`` gets no EASE entry (its ``items x items``
    matrix would not fit in memory).
    """
    table = {name: {**evaluate_ranking(model, train, test, k=k)}}
    table[name]["fit_seconds"] = getattr(model, "fit_seconds_", None)
    started = time.perf_counter()
    peer: Any = MostPopular().fit(train)
    seconds = time.perf_counter() - started
    table["MostPopular"] = {**evaluate_ranking(peer, train, test, k=k), "fit_seconds": seconds}
    if train["item_id"].nunique() <= EASE().max_items:
        started = time.perf_counter()
        peer, params = tuned_ease(train)
        seconds = time.perf_counter() - started
        table["EASE"] = {
            **evaluate_ranking(peer, train, test, k=k),
            "fit_seconds": seconds,
            "params": params,
        }
    return table


def tuned_ease(train: pd.DataFrame) -> tuple[EASE, dict[str, Any]]:
    """EASE fitted on ``train`` as its best users tune it, and what was chosen.

    Fed the ratings minus the lowest (``input="rating"``: on MovieLens-1M's standard split
    the input ``benchmarks/topn.py``'s validation slice chooses over binarised and
    liked-only input at every random state), with ``l2="auto"`` (a log grid scaled to the
    input, scored by NDCG@10 on 10 % of each user's training ratings held out). When
    the slice holds no liked rating to choose on, the untuned ``EASE()`` (binarised
    input, ``l2=500``) instead, with ``"tuned": False`` and the reason.
    """
    try:
        model = EASE(l2="auto", input="rating").fit(train)
    except ValueError as exc:  # no held-out liked rating to choose l2 on
        model = EASE().fit(train)
        return model, {"input": "binary", "l2": model.l2_, "tuned": False, "reason": str(exc)}
    tried = {str(l2): score for l2, score in sorted((model.l2_validation_ or {}).items())}
    return model, {
        "input": "rating",
        "shift": model.shift_,
        "l2": model.l2_,
        "tuned": True,
        "validation_fraction": model.validation_fraction,
        "l2_validation": tried,
    }
