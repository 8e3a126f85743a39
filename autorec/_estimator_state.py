"""Restoring a saved :class:`autorec.AutoEncoderRecommender`: every shape and value of a
file is checked against its header before anything is built (a file is untrusted input).
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ._fitting import build_module
from ._hybrid import load_ranking
from ._serialization import (
    bad_file,
    decode_array,
    decode_csr,
    decode_id_map,
    tensors_under,
)
from ._validation import check_rating_scale, check_scalar, resolve_device

__all__ = ["STATE", "blend_weights", "check_shapes", "restore"]

#: The fitted state of an :class:`~autorec.AutoEncoderRecommender`, listed once: what
#: ``save`` writes and ``load`` restores, and how each attribute is stored (see
#: ``autorec._serialization.dump_state``).
STATE: dict[str, str] = {
    "fit_params_": "json",
    "n_users_": "json",
    "n_items_": "json",
    "rating_scale_": "json",
    "global_mean_": "json",
    "history_": "json",
    "best_epoch_": "json",
    "fit_seconds_": "json",
    "ranking_weights_": "json",
    "ranking_validation_": "json",
    "exposure_params_": "json",
    "fold_in_l2_": "json",
    "user_map_": "ids",
    "item_map_": "ids",
    "utility_": "csr",
    "user_mean_": "array",
    "item_mean_": "array",
    "item_popularity_": "array",
    "exposure_items_": "index",
    "exposure_weights_": "half",
    "exposure_weights_rating_": "half",
    "module_": "module",
}


def restore(
    cls: Any,
    path: Path,
    header: dict[str, Any],
    tensors: dict[str, torch.Tensor],
    device: str | torch.device,
) -> Any:
    """A fitted model from a file's header and tensors (prefix already removed)."""
    try:
        state, ids = dict(header["state"]), dict(header["ids"])
        raw = dict(state["fit_params_"])
        raw.setdefault("residual", False)  # files from before the option: never residual
        raw.setdefault("refine_l2", 0.0)  # likewise: no refinement step
        raw.setdefault("lr_schedule", "plateau")  # likewise: autorec 0.1's schedule
        for key in ("hidden_layers", "rating_scale"):  # JSON has no tuples
            if isinstance(raw.get(key), list):
                raw[key] = tuple(raw[key])
        model = cls(**raw)  # an unknown parameter is a TypeError: refused, not dropped
        params = model._validate_params()
        unresolved = sorted(key for key, value in params.items() if _is_auto(value))
        if unresolved:
            raise ValueError(
                f"fit_params_ leaves {unresolved} at 'auto'; a fitted model records the "
                "values fit chose"
            )
    except (KeyError, TypeError, ValueError) as exc:
        raise bad_file(path, f"its configuration is invalid ({exc})") from exc
    target = resolve_device(device)
    model.set_params(device=device)
    try:
        n_users, n_items = (check_scalar(state[k], k, int, low=1) for k in ("n_users_", "n_items_"))
        user_map = decode_id_map("user_map_", tensors, ids["user_map_"])
        item_map = decode_id_map("item_map_", tensors, ids["item_map_"])
        if len(user_map) != n_users or len(item_map) != n_items:
            raise ValueError(
                f"id maps hold {len(user_map)} users / {len(item_map)} items, the header "
                f"says {n_users} / {n_items}"
            )
        weights = tensors_under(tensors, "module_.")
        n_columns = n_items if params["kind"] == "user" else n_users
        if not params["residual"]:  # files from before the bias model: its "off" values
            weights.setdefault("input_shift", torch.zeros(n_columns))
            weights.setdefault("row_shrink", torch.tensor(0.0))
        check_shapes(weights, params["hidden_layers"], n_columns, params["residual"])
        module = build_module(params, n_columns)
        module.load_state_dict(weights, strict=True)
        for name, tensor in weights.items():
            if not torch.isfinite(tensor).all():
                raise ValueError(f"weight {name} holds NaN or infinite values")
        scale = check_rating_scale(state["rating_scale_"], "rating_scale_")
        if scale is None:
            raise ValueError("rating_scale_ is missing")
        global_mean = check_scalar(state["global_mean_"], "global_mean_", **_within(scale))
        utility = decode_csr("utility_", tensors, (n_users, n_items))
        _check_within("utility_", utility.data, scale)
        means = {
            name: decode_array(name, tensors, (size,))
            for name, size in (("user_mean_", n_users), ("item_mean_", n_items))
        }
        for name, values in means.items():
            _check_within(name, values, scale)
        fitted = {
            "fit_params_": params,
            "n_users_": n_users,
            "n_items_": n_items,
            "user_map_": user_map,
            "item_map_": item_map,
            "utility_": utility,
            **load_ranking(header, tensors, utility, params["ranking"]),
            **means,
            "rating_scale_": scale,
            "global_mean_": global_mean,
            "history_": dict(state["history_"]),
            "best_epoch_": check_scalar(state["best_epoch_"], "best_epoch_", int, low=0),
            "fit_seconds_": float(state.get("fit_seconds_", float("nan"))),
            "module_": module.to(target).eval(),
            "device_": target,
            "validation_predictions_": None,
            "fold_in_l2_": _optional_l2(state.get("fold_in_l2_")),
            "_fit_inputs": None,
        }
    except (KeyError, TypeError, ValueError, RuntimeError, IndexError, OverflowError) as exc:
        raise bad_file(path, f"its contents do not fit together ({exc})") from exc
    model.__dict__.update(fitted)
    model._reset_caches()
    return model


def check_shapes(
    weights: dict[str, torch.Tensor],
    hidden_layers: tuple[int, ...],
    n_columns: int,
    residual: bool = False,
) -> None:
    """Compare the weight tensors' shapes with the architecture before building it, so a
    header that asks for huge layers costs nothing."""
    widths = list(hidden_layers)
    expected = {
        "input_weight": (n_columns, widths[0]),
        "input_bias": (widths[0],),
        "output_weight": (n_columns, widths[-1]),
        "output_bias": (n_columns,),
        "input_shift": (n_columns,),
        "row_shrink": (),
    }
    if residual:
        expected["implicit_weight"] = (n_columns, widths[0])
    for i, (w_in, w_out) in enumerate(itertools.pairwise(widths)):
        position = 3 * i + 2  # activation, dropout, linear per hidden layer
        expected[f"hidden.{position}.weight"] = (w_out, w_in)
        expected[f"hidden.{position}.bias"] = (w_out,)
    if set(weights) != set(expected):
        missing = sorted(set(expected) - set(weights))
        extra = sorted(set(weights) - set(expected))
        raise ValueError(f"the weights do not fit the network (missing {missing}, extra {extra})")
    for name, shape in expected.items():
        if tuple(weights[name].shape) != shape:
            raise ValueError(
                f"weight {name} has shape {tuple(weights[name].shape)}, the configuration "
                f"needs {shape}"
            )


def _optional_l2(value: Any) -> float | None:
    """The fold-in penalty of an item model (None: a user model, or an older file);
    positive, as ``autorec._foldin.choose_l2`` chooses it."""
    if value is None:
        return None
    return check_scalar(value, "fold_in_l2_", low=0.0, high=1e6, include_low=False)


def _is_auto(value: Any) -> bool:
    return isinstance(value, str) and value == "auto"


def _within(scale: tuple[float, float]) -> dict[str, float]:
    """The scale as check_scalar bounds, with room for float32 rounding of a mean."""
    slack = 1e-4 * max(scale[1] - scale[0], abs(scale[1]), 1e-30)
    return {"low": scale[0] - slack, "high": scale[1] + slack}


def _check_within(name: str, values: np.ndarray, scale: tuple[float, float]) -> None:
    """Fitted ratings and means lie on the rating scale (a ValueError naming one that
    does not: such a file predicts the ends of the scale everywhere)."""
    bounds = _within(scale)
    outside = (values < bounds["low"]) | (values > bounds["high"])
    if outside.any():
        raise ValueError(
            f"{name} holds {float(values[outside][0])!r}, outside the rating scale "
            f"[{scale[0]}, {scale[1]}]"
        )


def blend_weights(state: dict[str, Any], n: int) -> tuple[np.ndarray, np.ndarray | None]:
    """A saved blend's ``weights_`` and ``validation_rmse_``, checked (ValueError if not
    ``n`` JSON numbers, non-negative, summing to 1; RMSEs finite, one per estimator and
    one for the blend)."""
    raw = state["weights_"]  # JSON numbers: not "0.5", not true
    if not isinstance(raw, list) or any(type(w) not in (int, float) for w in raw):
        raise ValueError(f"weights {raw!r} are not {n} numbers")
    weights = np.asarray(raw, dtype=np.float64)
    if (
        weights.shape != (n,)
        or not np.all(np.isfinite(weights))
        or (weights < 0).any()
        or (weights > 1.0 + 1e-6).any()  # before the sum, which could overflow
        or abs(weights.sum() - 1.0) > 1e-6
    ):
        raise ValueError(f"weights {raw!r} are not {n} non-negative numbers summing to 1")
    scores = state.get("validation_rmse_")
    scores = None if scores is None else np.asarray(scores, dtype=np.float64)
    if scores is not None and (scores.shape != (n + 1,) or not np.isfinite(scores).all()):
        raise ValueError(f"validation_rmse_ {state['validation_rmse_']!r} is invalid")
    return weights, scores
