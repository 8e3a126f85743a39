"""Reading model files of format version 1 (autorec 0.1.0).

Version 1 kept the configuration in ``params`` / ``state`` header entries and non-integer
ids as JSON lists (strings only). :func:`upgrade_v1` rewrites one model's entries into the
version 2 layout that the classes read, so old files load unchanged.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from ._serialization import bad_file, encode_ids

__all__ = ["upgrade_v1"]

_TENSOR_NAMES = {
    "utility.indptr": "utility_.indptr",
    "utility.indices": "utility_.indices",
    "utility.data": "utility_.data",
    "user_mean": "user_mean_",
    "item_mean": "item_mean_",
}


def upgrade_v1(
    path: Path, header: dict[str, Any], tensors: dict[str, torch.Tensor], prefix: str
) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """The version 2 header and tensors of the model whose v1 entries start with
    ``prefix`` (``""`` for a single model, ``"estimator0."`` ... in a blend)."""
    try:
        params = dict(header[prefix + "params"])
        state = dict(header[prefix + "state"])
        json_ids = dict(header.get(prefix + "json_ids") or {})
    except (KeyError, TypeError, ValueError) as exc:
        raise bad_file(path, f"its configuration is invalid ({exc})") from exc
    mine = {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}
    out: dict[str, torch.Tensor] = {}
    for name, tensor in mine.items():
        if name.startswith("module."):
            out["module_." + name[len("module.") :]] = tensor
        elif name in _TENSOR_NAMES:
            out[_TENSOR_NAMES[name]] = tensor
    ids: dict[str, Any] = {}
    for old, new in (("user_ids", "user_map_"), ("item_ids", "item_map_")):
        values = mine[old].numpy() if old in mine else np.asarray(json_ids.get(old, []), object)
        try:
            part, ids[new] = encode_ids(new, values)
        except (TypeError, ValueError) as exc:
            raise bad_file(path, f"its {old} are invalid ({exc})") from exc
        out.update(part)
    if isinstance(params.get("hidden_layers"), list):
        params["hidden_layers"] = tuple(params["hidden_layers"])
    # Version 1 ranked recommendations by predicted rating: keep that order.
    params["ranking"] = "rating"
    history = state.get("history", {})
    new_state = {
        "fit_params_": params,
        "n_users_": state.get("n_users"),
        "n_items_": state.get("n_items"),
        "rating_scale_": state.get("rating_scale"),
        "global_mean_": state.get("global_mean"),
        "history_": history,
        "best_epoch_": history.get("best_epoch") if isinstance(history, dict) else None,
        "fit_seconds_": state.get("fit_seconds", float("nan")),
    }
    absent = ["exposure_items_", "exposure_weights_"]
    return {"state": new_state, "ids": ids, "absent": absent}, out


def upgrade_v1_blend(
    path: Path, header: dict[str, Any], tensors: dict[str, torch.Tensor]
) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """The version 2 header and tensors of a version 1 blend file."""
    try:
        info = dict(header["blend"])
        n = int(info["n_estimators"])
        if not 1 <= n <= 1000:
            raise ValueError(f"n_estimators is {n}")
    except (KeyError, TypeError, ValueError) as exc:
        raise bad_file(path, f"its blend header is invalid ({exc})") from exc
    parts, out = [], {}
    for j in range(n):
        part, part_tensors = upgrade_v1(path, header, tensors, f"estimator{j}.")
        parts.append(part)
        out.update({f"estimator{j}.{k}": v for k, v in part_tensors.items()})
    state = {
        "weights_": info.get("weights"),
        "validation_rmse_": info.get("validation_rmse"),
        "fit_seconds_": info.get("fit_seconds", float("nan")),
    }
    return {"state": state, "params": info.get("params"), "estimators": parts}, out
