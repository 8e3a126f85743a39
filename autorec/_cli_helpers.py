"""Helpers the ``autorec`` subcommands share: loading the data, tables, JSON-safe
numbers, checks made before a long run."""

from __future__ import annotations

import argparse
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ._cli_common import CLIError, status
from ._cli_data import data_title, load_data_from_args
from .datasets import RatingsDataset

__all__ = ["_check_writable_target", "_clean", "_load", "_plus", "_status", "_table"]

_status = status


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]], align: str = "") -> str:
    """Plain aligned text table; ``align`` gives "<" or ">" per column (default ">")."""
    cells = [[str(c) for c in header]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[j]) for row in cells) for j in range(len(header))]
    align = align.ljust(len(header), ">")
    lines = []
    for row in cells:
        parts = [
            cell.ljust(w) if a == "<" else cell.rjust(w)
            for cell, w, a in zip(row, widths, align, strict=True)
        ]
        lines.append("  ".join(parts).rstrip())
    return "\n".join(lines)


def _plus(value: int | list[int]) -> str:
    """An epoch count for the table: ``18`` for one model, ``33+67+26`` for a blend's members."""
    return "+".join(map(str, value)) if isinstance(value, list) else str(value)


def _finite(value: Any) -> Any:
    """JSON-safe number: NaN and infinities become null."""
    value = float(value)
    return value if math.isfinite(value) else None


def _clean(value: Any) -> Any:
    """``value`` with every float made JSON-safe, nested dicts and lists included."""
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, float):
        return _finite(value)
    return value


def _load(args: argparse.Namespace) -> RatingsDataset:
    data = load_data_from_args(args)
    _status(args, f"{data_title(data)}: {len(data.ratings):,} ratings from {data.path}")
    low, high = data.rating_scale
    if low == high:
        raise CLIError(
            f"every rating in {data.path} is {low:g}: there is nothing to learn from one "
            "value; if the scale is wider than what the file holds, give it with "
            "--rating-scale LOW,HIGH"
        )
    return data


def _train_options(args: argparse.Namespace) -> tuple[str, int]:
    """(kind, random_state) with their defaults filled in."""
    kind = args.kind or "default"
    seed = 0 if args.random_state is None else args.random_state
    return kind, seed


def batch_size_override(args: argparse.Namespace) -> dict[str, Any]:
    """``{"batch_size": ...}`` when --batch-size was given, else nothing (the estimator's
    own default stands)."""
    return {} if args.batch_size is None else {"batch_size": args.batch_size}


def _check_writable_target(path: Path, option: str, suffix: str | None = None) -> None:
    """Fail before a long training run, not after it, when an output cannot be written."""
    parent = path.expanduser().resolve().parent
    if not parent.is_dir():
        raise CLIError(f"{option} {path}: the folder {parent} does not exist; create it first")
    if path.is_dir():
        raise CLIError(f"{option} {path} is a folder; give a file name")
    if suffix is not None and path.suffix.lower() != suffix:
        raise CLIError(f"{option} {path}: the file name must end in {suffix}")
    if path.exists() and not os.access(path, os.W_OK):
        raise CLIError(f"{option} {path} exists and is read-only; choose another name")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise CLIError(f"{option} {path}: the folder {parent} is not writable")
