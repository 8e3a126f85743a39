"""Helpers of the serialization tests: read a saved model file raw, and write a tampered
copy of it. (Not a test module: imported by ``test_serialization*.py``.)"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save_file


def read_file(path: Path) -> tuple[dict[str, str], dict[str, Any], dict[str, torch.Tensor]]:
    """A model file's raw metadata, its parsed ``header`` and its tensors."""
    with safe_open(str(path), framework="pt") as handle:
        metadata = dict(handle.metadata())
        tensors = {k: handle.get_tensor(k) for k in handle.keys()}
    return metadata, json.loads(metadata["header"]), tensors


def rewrite(
    src: Path,
    dst: Path,
    *,
    edit: Callable[[dict[str, Any]], Any] | None = None,
    metadata: dict[str, str] | None = None,
    tensors: dict[str, torch.Tensor] | None = None,
    drop: Callable[[str], bool] | None = None,
) -> Path:
    """Copy a model file, tampering with it on the way.

    ``edit`` changes the parsed header in place (NaN written as NaN, as save does);
    ``metadata`` replaces raw metadata entries (e.g. a ``header`` that is not JSON);
    ``tensors`` replaces or adds tensors; ``drop`` removes the tensors whose name it
    accepts.
    """
    old_metadata, header, old_tensors = read_file(src)
    if edit is not None:
        edit(header)
        old_metadata["header"] = json.dumps(header)
    old_metadata.update(metadata or {})
    old_tensors.update(tensors or {})
    kept = {k: v.contiguous() for k, v in old_tensors.items() if drop is None or not drop(k)}
    save_file(kept, str(dst), metadata=old_metadata)
    return dst


def named(path: Path) -> str:
    """A ``match`` pattern for a message naming ``path``."""
    return re.escape(str(path))


def reload(like: Any, path: Path) -> Any:
    """Load the file at ``path`` with ``like``'s class onto the device ``like`` was fitted
    on (its first member's, for a blend), so predictions can be compared exactly: the same
    device computes the same bits, while a model trained on a GPU and loaded on the CPU
    agrees only to float32 round-off (``tests/test_gpu.py`` checks that case)."""
    members = getattr(like, "estimators_", None)
    device = (members[0] if members else like).device_
    return type(like).load(path, device=device)
