"""Saving and loading :class:`~autorec.AutoEncoderRecommender` and
:class:`~autorec.BlendRecommender` models.

One safetensors file holds the network weights, the training ratings (the model's
input at prediction time), the id maps and, in the text header, the configuration; a
blend's file holds those of every sub-model (names prefixed ``estimator0.``, ...) and
its weights.
safetensors stores raw tensors and a JSON header only: loading cannot execute code.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from . import __version__
from ._network import AutoEncoderNet
from .datasets import IdMap
from .datasets._fetch import default_file_mode
from .exceptions import ModelFormatError

if TYPE_CHECKING:
    from ._blend import BlendRecommender
    from ._estimator import AutoEncoderRecommender

FORMAT_NAME = "autorec.AutoEncoderRecommender"
BLEND_FORMAT_NAME = "autorec.BlendRecommender"
FORMAT_VERSION = 1
#: What loads each format (named in the error when the wrong class is used).
_LOADERS = {
    FORMAT_NAME: "AutoEncoderRecommender.load",
    BLEND_FORMAT_NAME: "BlendRecommender.load",
}
_PARAMS_NOT_SAVED = ("device",)  # a model saved on a GPU must load on a CPU


def _ids_to_tensor_or_json(ids: np.ndarray) -> tuple[torch.Tensor | None, list | None]:
    if ids.dtype.kind in "iu":
        return torch.from_numpy(np.array(ids, dtype=np.int64)), None
    return None, [str(v) if not isinstance(v, str) else v for v in ids.tolist()]


def _payload(
    model: AutoEncoderRecommender, prefix: str = ""
) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """The tensors and header entries of one fitted model, their names prefixed."""
    tensors: dict[str, torch.Tensor] = {
        f"module.{name}": t.detach().to("cpu").contiguous()
        for name, t in model.module_.state_dict().items()
    }
    matrix = model.utility_
    tensors["utility.indptr"] = torch.from_numpy(matrix.indptr.astype(np.int64))
    tensors["utility.indices"] = torch.from_numpy(matrix.indices.astype(np.int64))
    tensors["utility.data"] = torch.from_numpy(matrix.data.astype(np.float32))
    tensors["user_mean"] = torch.from_numpy(np.asarray(model.user_mean_, dtype=np.float32))
    tensors["item_mean"] = torch.from_numpy(np.asarray(model.item_mean_, dtype=np.float32))
    json_ids: dict[str, list] = {}
    for name, id_map in (("user_ids", model.user_map_), ("item_ids", model.item_map_)):
        tensor, as_json = _ids_to_tensor_or_json(id_map.ids)
        if tensor is not None:
            tensors[name] = tensor
        else:
            json_ids[name] = as_json or []
    params = {
        k: (list(v) if isinstance(v, tuple) else v)
        for k, v in model.get_params().items()
        if k not in _PARAMS_NOT_SAVED
    }
    if not isinstance(params.get("random_state"), int | type(None)):
        params["random_state"] = None
    params["hidden_layers"] = [int(w) for w in model.hidden_layers]
    state = {
        "n_users": int(model.n_users_),
        "n_items": int(model.n_items_),
        "rating_scale": list(model.rating_scale_),
        "global_mean": float(model.global_mean_),
        "history": model.history_,
        "fit_seconds": float(model.fit_seconds_),
    }
    metadata = {
        "params": json.dumps(params),
        "state": json.dumps(state),
        "json_ids": json.dumps(json_ids),
    }
    return (
        {prefix + k: v for k, v in tensors.items()},
        {prefix + k: v for k, v in metadata.items()},
    )


def _header(format_name: str) -> dict[str, str]:
    return {
        "format": format_name,
        "format_version": str(FORMAT_VERSION),
        "autorec_version": __version__,
    }


def _write(path: Path, tensors: dict[str, torch.Tensor], metadata: dict[str, str]) -> Path:
    """Write atomically: a temporary file in the same folder, then a rename, so an
    interrupted save never leaves a half-written file at ``path``."""
    folder = path.parent if str(path.parent) else Path(".")
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    os.close(fd)
    try:
        save_file(tensors, tmp_name, metadata=metadata)
        os.chmod(tmp_name, default_file_mode())
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return path


def save_model(model: AutoEncoderRecommender, path: str | Path) -> Path:
    tensors, metadata = _payload(model)
    return _write(Path(path), tensors, {**_header(FORMAT_NAME), **metadata})


def save_blend(blend: BlendRecommender, path: str | Path) -> Path:
    tensors: dict[str, torch.Tensor] = {}
    metadata = _header(BLEND_FORMAT_NAME)
    for j, model in enumerate(blend.estimators_):
        part_tensors, part_metadata = _payload(model, prefix=f"estimator{j}.")
        tensors.update(part_tensors)
        metadata.update(part_metadata)
    weights = blend.weights
    if weights is not None and not isinstance(weights, str):
        weights = [float(w) for w in weights]
    random_state = blend.random_state if isinstance(blend.random_state, int) else None
    scores = blend.validation_rmse_
    metadata["blend"] = json.dumps(
        {
            "n_estimators": len(blend.estimators_),
            "params": {
                "weights": weights,
                "validation_fraction": float(blend.validation_fraction),
                "random_state": random_state,
            },
            "weights": [float(w) for w in blend.weights_],
            "validation_rmse": None if scores is None else [float(v) for v in scores],
            "fit_seconds": float(blend.fit_seconds_),
        }
    )
    return _write(Path(path), tensors, metadata)


def _bad(path: Path, why: str) -> ModelFormatError:
    return ModelFormatError(f"{path} is not a valid autorec model file: {why}")


def _read(
    path: Path, *, with_tensors: bool = True
) -> tuple[dict[str, str], dict[str, torch.Tensor]]:
    """The header metadata and (unless ``with_tensors=False``) the tensors of a file."""
    if not path.is_file():
        raise FileNotFoundError(f"no model file at {path}")
    try:
        with safe_open(str(path), framework="pt", device="cpu") as handle:
            metadata = handle.metadata() or {}
            names = handle.keys() if with_tensors else []
            tensors = {name: handle.get_tensor(name) for name in names}
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise _bad(
            path,
            f"it cannot be read as a safetensors file ({exc}); was it truncated, "
            "or written by something other than autorec's save?",
        ) from exc
    return metadata, tensors


def _check_header(path: Path, metadata: dict[str, str], expected: str) -> None:
    found = metadata.get("format")
    if found != expected:
        hint = ""
        if found in _LOADERS:
            hint = f"; load it with {_LOADERS[found]}"
        raise _bad(path, f"its header names format {found!r}, expected {expected!r}{hint}")
    try:
        version = int(metadata.get("format_version", ""))
    except ValueError:
        why = f"format_version {metadata.get('format_version')!r} is not an integer"
        raise _bad(path, why) from None
    if version > FORMAT_VERSION:
        raise ModelFormatError(
            f"{path} uses model format version {version}, newer than this autorec "
            f"({__version__}) reads (version {FORMAT_VERSION}); upgrade torch-autorec"
        )
    if version < 1:
        raise _bad(path, f"format_version {version} is not supported")


def file_format(path: str | Path) -> str:
    """The format named in a model file's header (``FORMAT_NAME`` or
    ``BLEND_FORMAT_NAME``), read without loading the tensors."""
    metadata, _ = _read(Path(path), with_tensors=False)
    return str(metadata.get("format"))


def load_model(
    cls: type[AutoEncoderRecommender], path: str | Path, *, device: str | torch.device = "cpu"
) -> AutoEncoderRecommender:
    path = Path(path)
    metadata, tensors = _read(path)
    _check_header(path, metadata, FORMAT_NAME)
    return _build(cls, path, metadata, tensors, "", device)


def load_blend(
    cls: type[BlendRecommender], path: str | Path, *, device: str | torch.device = "cpu"
) -> BlendRecommender:
    from ._blend import _widest_scale
    from ._estimator import AutoEncoderRecommender

    path = Path(path)
    metadata, tensors = _read(path)
    _check_header(path, metadata, BLEND_FORMAT_NAME)
    try:
        info = json.loads(metadata["blend"])
        n = int(info["n_estimators"])
        if n < 1:
            raise ValueError(f"n_estimators is {n}")
        params = dict(info["params"])
        weights = np.asarray(info["weights"], dtype=np.float64)
        if weights.shape != (n,) or not np.all(np.isfinite(weights)) or (weights < 0).any():
            raise ValueError(f"weights {info['weights']!r} do not fit {n} estimators")
        scores = info.get("validation_rmse")
        scores = None if scores is None else np.asarray(scores, dtype=np.float64)
        fit_seconds = float(info.get("fit_seconds", float("nan")))
    except (KeyError, TypeError, ValueError) as exc:
        raise _bad(path, f"its blend header is invalid ({exc})") from exc
    fitted = [
        _build(AutoEncoderRecommender, path, metadata, tensors, f"estimator{j}.", device)
        for j in range(n)
    ]
    try:
        blend = cls(
            estimators=[type(m)(**m.get_params()) for m in fitted],
            weights=params["weights"],
            validation_fraction=params["validation_fraction"],
            random_state=params["random_state"],
        )
    except (KeyError, TypeError) as exc:
        raise _bad(path, f"its blend header is invalid ({exc})") from exc
    blend.estimators_ = fitted
    blend.weights_ = weights
    blend.validation_rmse_ = scores
    blend.rating_scale_ = _widest_scale(fitted)
    blend.fit_seconds_ = fit_seconds
    return blend


def _build(
    cls: type[AutoEncoderRecommender],
    path: Path,
    metadata: dict[str, str],
    tensors: dict[str, torch.Tensor],
    prefix: str,
    device: str | torch.device,
) -> AutoEncoderRecommender:
    """One fitted model from the header entries and tensors whose names start with
    ``prefix``."""
    from ._estimator import _resolve_device

    tensors = {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}
    try:
        params = json.loads(metadata[prefix + "params"])
        state = json.loads(metadata[prefix + "state"])
        json_ids = json.loads(metadata.get(prefix + "json_ids", "{}"))
        if not isinstance(params, dict) or not isinstance(state, dict):
            raise TypeError("params and state must be JSON objects")
        for key in ("hidden_layers", "rating_scale"):  # JSON has no tuples
            if isinstance(params.get(key), list):
                params[key] = tuple(params[key])
        model = cls(**params)
        model._validate_params()
    except (KeyError, TypeError, ValueError) as exc:
        raise _bad(path, f"its configuration is invalid ({exc})") from exc

    target = _resolve_device(device)
    model.set_params(device=device)
    try:
        n_users, n_items = int(state["n_users"]), int(state["n_items"])
        user_ids = tensors["user_ids"].numpy() if "user_ids" in tensors else json_ids["user_ids"]
        item_ids = tensors["item_ids"].numpy() if "item_ids" in tensors else json_ids["item_ids"]
        user_map, item_map = IdMap(user_ids), IdMap(item_ids)
        if len(user_map) != n_users or len(item_map) != n_items:
            raise ValueError(
                f"id maps hold {len(user_map)} users / {len(item_map)} items, the header says "
                f"{n_users} / {n_items}"
            )
        utility = sp.csr_matrix(
            (
                tensors["utility.data"].numpy(),
                tensors["utility.indices"].numpy(),
                tensors["utility.indptr"].numpy(),
            ),
            shape=(n_users, n_items),
        )
        utility.check_format(full_check=True)
        n_columns = n_items if model.kind == "user" else n_users
        module = AutoEncoderNet(n_columns, model.hidden_layers, model.activation, model.dropout)
        weights = {k[len("module.") :]: v for k, v in tensors.items() if k.startswith("module.")}
        module.load_state_dict(weights, strict=True)
        for name, tensor in weights.items():
            if not torch.isfinite(tensor).all():
                raise ValueError(f"weight {name} holds NaN or infinite values")
        scale = tuple(float(v) for v in state["rating_scale"])
        if len(scale) != 2 or not scale[0] < scale[1]:
            raise ValueError(f"rating_scale {scale} is not a (low, high) pair")
        user_mean = tensors["user_mean"].numpy()
        item_mean = tensors["item_mean"].numpy()
        if user_mean.shape != (n_users,) or item_mean.shape != (n_items,):
            raise ValueError("user or item means do not match the number of users or items")
        history: dict[str, Any] = state["history"]
        best_epoch = int(history["best_epoch"])
    except (KeyError, TypeError, ValueError, RuntimeError, IndexError) as exc:
        raise _bad(path, f"its contents do not fit together ({exc})") from exc

    model.module_ = module.to(target).eval()
    model.user_map_, model.item_map_ = user_map, item_map
    model.n_users_, model.n_items_ = n_users, n_items
    model.utility_ = utility
    model.rating_scale_ = scale
    model.global_mean_ = float(state["global_mean"])
    model.user_mean_, model.item_mean_ = user_mean, item_mean
    model.history_ = history
    model.best_epoch_ = best_epoch
    model.fit_seconds_ = float(state.get("fit_seconds", float("nan")))
    model.device_ = target
    model._reset_caches()
    return model
