"""The configuration of :class:`autorec.AutoEncoderRecommender`: options, presets, checks."""

from __future__ import annotations

import itertools
import math
import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

from ._hybrid import RANKINGS
from ._network import ACTIVATIONS
from ._validation import (
    check_bool,
    check_option,
    check_random_state,
    check_rating_scale,
    check_scalar,
    resolve_device,
)

__all__ = [
    "KINDS",
    "LR_SCHEDULES",
    "OPTIMIZERS",
    "PRESETS",
    "auto_schedule",
    "planned_epochs",
    "resolve_auto",
    "validate_params",
]

KINDS = ("auto", "user", "item")
#: kind="auto" trains on user rows when there are this many times more users than items
#: (few, very long item rows: too few rows to learn from), else on item rows.
AUTO_USER_RATIO = 10
#: batch_size="auto": about this many optimizer steps per epoch, within these bounds
#: (256 on ML-1M's 3,706 item rows: 0.8350 against 0.8394 at 64, in 57 s against 93 s).
AUTO_STEPS, AUTO_BATCH = 14, (8, 256)
#: ... except that on sparse data the upper bound rises to this many ratings per column
#: over the density (``rows x columns / ratings``): each step passes over every weight
#: of the network (the optimizer, the dense gradients), whose per-column weights a batch
#: of 256 sparse rows barely uses. ML-1M (3.4 % dense) keeps 256; the ML-20M shape
#: (0.54 %) gets 1,482 item rows (18 steps an epoch instead of 105; with 1,481 an epoch
#: took 38.7 s against 86.1 s on two cores). Its effect on accuracy at that scale is not
#: measured yet (no real data that sparse here); on ML-1M more, smaller steps an epoch
#: lose accuracy (29 steps: RMSE +0.0005/+0.0007, 58: +0.005 at random states 0/1), so
#: the schedule wants about 14, nearer 18 than 105 (benchmarks page, Scale).
AUTO_BATCH_COLUMN_RATINGS = 8
#: patience="auto": 4 epochs at this many ratings, more (up to 10) on smaller data, whose
#: validation slice is small and noisy: ``4 * sqrt(AUTO_PATIENCE_RATINGS / n_ratings)``.
AUTO_PATIENCE_RATINGS, AUTO_PATIENCE = 500_000, (4, 10)
#: hidden_layers="auto": one layer of a unit per this many columns (the other side's
#: count: users for item rows), within these bounds: 500 on ML-1M's 6,040 users, 50 on 300.
AUTO_COLUMNS_PER_UNIT, AUTO_UNITS = 6, (10, 500)
#: input_dropout="auto": user rows (chosen when items are few, so each row holds a
#: handful of ratings) are trained denoising; item rows are not (no gain on ML-1M).
AUTO_INPUT_DROPOUT = {"user": 0.5, "item": 0.0}
#: refine_l2="auto": user rows with a code of at most this many units end the encoder in a
#: ridge step of this penalty (synthetic 20,000 users x 100 items, 17 units: 0.6794 against
#: 0.6952 without, over random states 0-2). Item rows already have a free output unit per
#: user: no step; nor on wider codes, where its h x h solves are costly on a CPU (ML-1M
#: user rows, 500 units: 143-236 s an epoch against 2.5-2.9 s, on a busy 2-core machine).
AUTO_REFINE_L2, AUTO_REFINE_UNITS = 1.0, 100
OPTIMIZERS = ("adam", "adamw", "rmsprop", "sgd")
#: lr_schedule: "plateau" (a constant rate, cut when the validation RMSE stalls: the
#: recipe of autorec 0.1 and of the presets) or "one-cycle" (a warm-up, then a cosine
#: decay over a fixed budget of epochs); "auto" is "one-cycle" on data of at least
#: ``AUTO_CYCLE_RATINGS`` training ratings, where fits are costly and its 15 epochs were
#: tuned (MovieLens-1M: 750,121), and "plateau" on smaller data, where early stopping is
#: cheap and more accurate: test RMSE over random states 0-2 on the generalization
#: benchmark's shapes, one-cycle against plateau: ML-1M 1,000 users (124k training
#: ratings) 0.8947 / 0.8847, synthetic 300 x 3,000 (45k) 0.6914 / 0.6840, synthetic
#: 20,000 x 100 (150k) 0.6918 / 0.6794 (Cornac's MF tuned on validation: 0.9011, 0.6900,
#: 0.6811), fits of 1.5-10 s either way.
LR_SCHEDULES = ("auto", "plateau", "one-cycle")
AUTO_CYCLE_RATINGS = 500_000
#: epochs="auto" and learning_rate="auto" under each schedule: the most epochs early
#: stopping may run (plateau), or the cycle's length (one-cycle), and the (peak) rate.
#: One-cycle on MovieLens-1M (standard split, random states 0-2): 15 epochs at 5e-3 give
#: test RMSE 0.8352 / 0.8367 / 0.8374 against the plateau's 0.8350 / 0.8362 / 0.8380 (43
#: epochs at random state 0); 12 epochs 0.8361 (random state 0; see the model page).
AUTO_EPOCHS = {"plateau": 200, "one-cycle": 15}
AUTO_LEARNING_RATE = {"plateau": 1e-3, "one-cycle": 5e-3}
#: The widest hidden layer, and the most weights one weight matrix may hold (2**28 float32
#: weights: 1 GiB; ML-1M's widest preset, 6,040 user columns x 1,000 units, holds 6e6).
MAX_WIDTH, MAX_MATRIX = 100_000, 2**28
#: Named configurations for :meth:`AutoEncoderRecommender.from_preset`.
PRESETS: dict[str, dict[str, Any]] = {
    # The class defaults: a residual autoencoder over item rows (user rows when items are
    # very few), with batch size and patience chosen from the data's shape. See the
    # "Defaults" section of the benchmarks page for the numbers behind each choice.
    "default": {},
    # The reference notebook's network (user-based, 200-100-200, sigmoid) with autorec's
    # training recipe: the defaults of autorec 0.1, and a row of every results table.
    "reference": {
        "hidden_layers": (200, 100, 200),
        "kind": "user",
        "input_dropout": 0.25,
        "batch_size": 256,
        "weight_decay": 0.0,
        "patience": 6,
        "lr_schedule": "plateau",
        "residual": False,
        "refine_l2": 0.0,
    },
    # I-AutoRec (Sedhain et al., 2015): one hidden layer of 500 sigmoid units over item
    # rows, with L2 regularization, predicting ratings directly (no bias model).
    "i-autorec": {
        "hidden_layers": (500,),
        "kind": "item",
        "input_dropout": 0.0,
        "batch_size": 64,
        "learning_rate": 1e-3,
        "weight_decay": 3e-4,
        "patience": 4,
        "lr_schedule": "plateau",
        "residual": False,
        "refine_l2": 0.0,
    },
}
# I-AutoRec twice as wide: the third member of the best configuration (the blend), where
# it beat the 500-unit preset (0.8292 against 0.8303, standard split, random state 0, batch 64).
# Batch 128 at a learning rate of 1.4e-3 (half the optimizer passes over its 2 x 6,040 x 1,000
# weights) keeps the blend's test RMSE (0.8276 / 0.8296 / 0.8304 against 0.8275 / 0.8296 /
# 0.8302 at batch 64, random states 0-2) at two thirds of this member's training time.
PRESETS["i-autorec-1000"] = {
    **PRESETS["i-autorec"],
    "hidden_layers": (1000,),
    "batch_size": 128,
    "learning_rate": 1.4e-3,
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
            "hidden_layers must be 'auto' or a non-empty sequence of positive integers "
            f"such as (200, 100, 200), got {layers!r}"
        )
    widest = max(int(w) for w in layers)
    if widest > MAX_WIDTH:
        raise ValueError(
            f"hidden_layers={tuple(int(w) for w in layers)!r} has a layer of {widest:,} units; "
            f"a layer has at most {MAX_WIDTH:,} (a few hundred to a thousand suit "
            "MovieLens-1M)"
        )
    return tuple(int(w) for w in layers)


def check_layer_sizes(layers: tuple[int, ...], n_columns: int, kind: str) -> None:
    """Every weight matrix of the network fits in ``MAX_MATRIX`` weights: the first and
    last layers are ``n_columns`` (the catalogue for user rows, the users for item rows)
    times their width."""
    sizes = [n_columns * layers[0], n_columns * layers[-1]]
    sizes += [a * b for a, b in itertools.pairwise(layers)]
    if max(sizes) > MAX_MATRIX:
        columns = "items" if kind == "user" else "users"
        raise ValueError(
            f"hidden_layers={layers!r} over {n_columns:,} {columns} needs a weight matrix of "
            f"{max(sizes):,} weights ({max(sizes) * 4 / 2**30:.1f} GiB); at most "
            f"{MAX_MATRIX:,} fit: narrow the layers"
        )


def validate_params(est: Any) -> dict[str, Any]:
    """Check an estimator's parameters; return them as JSON-friendly Python values."""
    scalar = check_scalar
    p = {
        "hidden_layers": (
            "auto" if _is_auto(est.hidden_layers) else check_hidden_layers(est.hidden_layers)
        ),
        "activation": check_option(est.activation, "activation", sorted(ACTIVATIONS)),
        "kind": check_option(est.kind, "kind", KINDS),
        "optimizer": check_option(est.optimizer, "optimizer", OPTIMIZERS),
        "duplicates": check_option(est.duplicates, "duplicates", ("error", "last")),
        "ranking": check_option(est.ranking, "ranking", RANKINGS),
        "residual": check_bool(est.residual, "residual"),
        "dropout": scalar(est.dropout, "dropout", low=0.0, high=0.99),
        "input_dropout": _auto_or_float(est.input_dropout, "input_dropout", high=0.99),
        "refine_l2": _auto_or_float(est.refine_l2, "refine_l2", high=1e6),
        "epochs": _auto_or(est.epochs, "epochs", high=10**6),
        "batch_size": _auto_or(est.batch_size, "batch_size", high=10**9),
        "learning_rate": _auto_or_rate(est.learning_rate),
        "lr_schedule": check_option(est.lr_schedule, "lr_schedule", LR_SCHEDULES),
        "weight_decay": scalar(est.weight_decay, "weight_decay", low=0.0, high=1e6),
        "validation_fraction": scalar(
            est.validation_fraction, "validation_fraction", low=0.0, high=0.9
        ),
        "patience": _auto_or(est.patience, "patience", high=10**6),
        "lr_decay": scalar(est.lr_decay, "lr_decay", low=0.0, high=1.0, include_low=False),
        "verbose": scalar(est.verbose, "verbose", int, low=0, high=10**3),
        "rating_scale": check_rating_scale(est.rating_scale),
    }
    resolve_device(est.device)
    check_random_state(est.random_state)
    seed = est.random_state
    p["random_state"] = int(seed) if isinstance(seed, numbers.Integral) else None
    return p


def planned_epochs(est: Any, n_ratings: int | None = None) -> int:
    """The most epochs ``est`` (an unfitted estimator) will run on ``n_ratings`` training
    ratings: its ``epochs``, or what ``"auto"`` becomes under its ``lr_schedule`` (under
    ``"auto"`` without ``n_ratings``: the most either schedule may run)."""
    if not _is_auto(est.epochs):
        return int(est.epochs)
    if not _is_auto(est.lr_schedule):
        return AUTO_EPOCHS[est.lr_schedule]
    if n_ratings is None:
        return max(AUTO_EPOCHS.values())
    return AUTO_EPOCHS[auto_schedule(n_ratings)]


def auto_schedule(n_ratings: int) -> str:
    """What ``lr_schedule="auto"`` becomes on ``n_ratings`` training ratings."""
    return "one-cycle" if n_ratings >= AUTO_CYCLE_RATINGS else "plateau"


def _is_auto(value: Any) -> bool:
    return isinstance(value, str) and value == "auto"


def _auto_or_float(value: Any, name: str, high: float) -> float | str:
    """``"auto"`` or a float in [0.0, high]."""
    if isinstance(value, str) and not _is_auto(value):
        raise ValueError(f"{name} must be 'auto' or a float in [0.0, {high}], got {value!r}")
    return "auto" if _is_auto(value) else check_scalar(value, name, low=0.0, high=high)


def _auto_or_rate(value: Any) -> float | str:
    """``"auto"`` or a learning rate in (0.0, 1e6]."""
    if isinstance(value, str) and not _is_auto(value):
        raise ValueError(f"learning_rate must be 'auto' or a float in (0.0, 1e6], got {value!r}")
    if _is_auto(value):
        return "auto"
    return check_scalar(value, "learning_rate", low=0.0, high=1e6, include_low=False)


def _auto_or(value: Any, name: str, high: int) -> int | str:
    """``"auto"`` (chosen at fit time from the data's shape) or an int in [1, high]."""
    if isinstance(value, str):
        if value == "auto":
            return value
        raise ValueError(f"{name} must be 'auto' or an int in [1, {high}], got {value!r}")
    return check_scalar(value, name, int, low=1, high=high)


def resolve_auto(
    params: dict[str, Any], n_users: int, n_items: int, n_ratings: int
) -> dict[str, Any]:
    """``params`` with every ``"auto"`` replaced by the value chosen for data of this
    shape (what ``fit_params_`` records): see ``AUTO_USER_RATIO``,
    ``AUTO_COLUMNS_PER_UNIT``, ``AUTO_INPUT_DROPOUT``, ``AUTO_REFINE_L2``, ``AUTO_STEPS``,
    ``AUTO_BATCH_COLUMN_RATINGS``,
    ``AUTO_PATIENCE_RATINGS``, ``AUTO_CYCLE_RATINGS``, ``AUTO_EPOCHS`` and
    ``AUTO_LEARNING_RATE``."""
    out = dict(params)
    if out["lr_schedule"] == "auto":
        out["lr_schedule"] = auto_schedule(n_ratings)
    for key, table in (("epochs", AUTO_EPOCHS), ("learning_rate", AUTO_LEARNING_RATE)):
        if out[key] == "auto":
            out[key] = table[out["lr_schedule"]]
    if out["kind"] == "auto":
        out["kind"] = "user" if n_users > AUTO_USER_RATIO * n_items else "item"
    n_columns = n_items if out["kind"] == "user" else n_users
    if out["hidden_layers"] == "auto":
        units = int(np.clip(round(n_columns / AUTO_COLUMNS_PER_UNIT), *AUTO_UNITS))
        out["hidden_layers"] = (units,)
    if out["input_dropout"] == "auto":
        out["input_dropout"] = AUTO_INPUT_DROPOUT[out["kind"]]
    if out["refine_l2"] == "auto":
        narrow = out["kind"] == "user" and out["hidden_layers"][-1] <= AUTO_REFINE_UNITS
        out["refine_l2"] = AUTO_REFINE_L2 if narrow else 0.0
    if out["batch_size"] == "auto":
        rows = n_users if out["kind"] == "user" else n_items
        sparse = math.ceil(AUTO_BATCH_COLUMN_RATINGS * n_users * n_items / max(n_ratings, 1))
        low, high = AUTO_BATCH
        out["batch_size"] = int(np.clip(rows // AUTO_STEPS, low, max(high, sparse)))
    if out["patience"] == "auto":
        scaled = 4 * np.sqrt(AUTO_PATIENCE_RATINGS / max(n_ratings, 1))
        out["patience"] = int(np.clip(round(scaled), *AUTO_PATIENCE))
    check_layer_sizes(out["hidden_layers"], n_columns, out["kind"])
    return out
