"""The configuration of :class:`autorec.AutoEncoderRecommender`: options, presets, checks."""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

from ._hybrid import RANKINGS
from ._network import ACTIVATIONS
from ._validation import (
    check_option,
    check_random_state,
    check_rating_scale,
    check_scalar,
    resolve_device,
)

__all__ = ["KINDS", "OPTIMIZERS", "PRESETS", "validate_params"]

KINDS = ("user", "item")
OPTIMIZERS = ("adam", "adamw", "rmsprop", "sgd")
#: Named configurations for :meth:`AutoEncoderRecommender.from_preset`.
PRESETS: dict[str, dict[str, Any]] = {
    # The reference notebook's network (user-based, 200-100-200, sigmoid) with
    # autorec's training recipe: the class defaults.
    "reference": {},
    # I-AutoRec (Sedhain et al., 2015): one hidden layer of 500 sigmoid units over item
    # rows, with L2 regularization. The most accurate configuration autorec ships.
    "i-autorec": {
        "hidden_layers": (500,),
        "kind": "item",
        "input_dropout": 0.0,
        "batch_size": 64,
        "learning_rate": 1e-3,
        "weight_decay": 3e-4,
        "patience": 4,
    },
}


def check_hidden_layers(layers: Any) -> tuple[int, ...]:
    if isinstance(layers, int | np.integer) and not isinstance(layers, bool):
        raise TypeError(
            "hidden_layers must be a sequence of widths such as (200, 100, 200), "
            f"got {layers!r}; for one layer write ({layers},)"
        )
    if (
        isinstance(layers, str | bytes)
        or not isinstance(layers, Sequence | np.ndarray)
        or len(layers) == 0
        or not all(
            isinstance(w, int | np.integer) and not isinstance(w, bool | np.bool_) and w >= 1
            for w in layers
        )
    ):
        raise ValueError(
            "hidden_layers must be a non-empty sequence of positive integers such as "
            f"(200, 100, 200), got {layers!r}"
        )
    return tuple(int(w) for w in layers)


def validate_params(est: Any) -> dict[str, Any]:
    """Check an estimator's parameters; return them as JSON-friendly Python values."""
    scalar = check_scalar
    p = {
        "hidden_layers": check_hidden_layers(est.hidden_layers),
        "activation": check_option(est.activation, "activation", sorted(ACTIVATIONS)),
        "kind": check_option(est.kind, "kind", KINDS),
        "optimizer": check_option(est.optimizer, "optimizer", OPTIMIZERS),
        "duplicates": check_option(est.duplicates, "duplicates", ("error", "last")),
        "ranking": check_option(est.ranking, "ranking", RANKINGS),
        "dropout": scalar(est.dropout, "dropout", low=0.0, high=0.99),
        "input_dropout": scalar(est.input_dropout, "input_dropout", low=0.0, high=0.99),
        "epochs": scalar(est.epochs, "epochs", int, low=1, high=10**6),
        "batch_size": scalar(est.batch_size, "batch_size", int, low=1, high=10**9),
        "learning_rate": scalar(
            est.learning_rate, "learning_rate", low=0.0, high=1e6, include_low=False
        ),
        "weight_decay": scalar(est.weight_decay, "weight_decay", low=0.0, high=1e6),
        "validation_fraction": scalar(
            est.validation_fraction, "validation_fraction", low=0.0, high=0.9
        ),
        "patience": scalar(est.patience, "patience", int, low=1, high=10**6),
        "lr_decay": scalar(est.lr_decay, "lr_decay", low=0.0, high=1.0, include_low=False),
        "verbose": scalar(est.verbose, "verbose", int, low=0, high=10**3),
        "rating_scale": check_rating_scale(est.rating_scale),
    }
    resolve_device(est.device)
    check_random_state(est.random_state)
    seed = est.random_state
    p["random_state"] = int(seed) if isinstance(seed, numbers.Integral) else None
    return p
