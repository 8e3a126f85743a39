"""Helpers shared by the benchmark scripts: data, threads, machine details, tables.

Not part of the library: the scripts in this folder import it by file name.
"""

from __future__ import annotations

import json
import math
import os
import platform
import resource
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

import autorec
from autorec import AutoEncoderRecommender, BlendRecommender
from autorec.evaluation import make_model

REPO_ROOT = Path(__file__).resolve().parents[1]
#: Where the real MovieLens-1M is looked for when neither --data-home nor
#: $AUTOREC_DATA_HOME is given: ``<repo>/../shared/data`` (holding ``ml-1m/``).
DEFAULT_DATA_HOME = REPO_ROOT.parent / "shared" / "data"


# ----------------------------------------------------------------------------- models
def best_config(random_state: int | None = None, **overrides: Any) -> BlendRecommender:
    """autorec's recommended best configuration (the one the docs recommend).

    From :func:`autorec.evaluation.make_model`, the single place the CLI, the benchmarks
    and the examples take their models from. ``overrides`` go to every sub-model (e.g.
    ``epochs=2`` for a quick run).
    """
    return make_model("blend", random_state=random_state, **overrides)


def item_model(random_state: int | None = None, **overrides: Any) -> AutoEncoderRecommender:
    """The ``"i-autorec"`` preset (item-based, 500 sigmoid units), plus overrides."""
    return make_model("item", random_state=random_state, **overrides)


def reference_model(random_state: int | None = None, **overrides: Any) -> AutoEncoderRecommender:
    """The ``"reference"`` preset (the study's user-based 200-100-200 network), plus overrides."""
    return make_model("user", random_state=random_state, **overrides)


def default_model(random_state: int | None = None, **overrides: Any) -> AutoEncoderRecommender:
    """autorec's defaults (``AutoEncoderRecommender(random_state=...)``), plus overrides."""
    return AutoEncoderRecommender(random_state=random_state).set_params(**overrides)


def leaky_scores(
    model: AutoEncoderRecommender, test: pd.DataFrame
) -> tuple[np.ndarray, np.ndarray]:
    """Scores of the reference notebook's *leaky* protocol for a fitted user model.

    Each test user's input row is built from that user's **test** ratings (not the
    training ratings), encoded by ``model.module_`` and decoded at the same test items:
    the model is shown the answer, as in the reference notebook. Only for comparison
    with the notebook's published top-k numbers; never a measure of quality.

    Test pairs whose user or item the model never saw in ``fit`` cannot be fed nor
    scored; they are left out (``keep`` is False there), from the input and from the
    ranking.

    Returns
    -------
    scores : ndarray of float32, shape (len(test),)
        Raw (unclipped) outputs; NaN where ``keep`` is False.
    keep : ndarray of bool, shape (len(test),)
    """
    if model.kind != "user":
        raise ValueError("the leaky protocol feeds a user's row: it needs kind='user'")
    users = model.user_map_.transform(test["user_id"].to_numpy())
    items = model.item_map_.transform(test["item_id"].to_numpy())
    keep = (users >= 0) & (items >= 0)
    rows, cols = users[keep], items[keep]
    values = test["rating"].to_numpy(np.float32)[keep]
    # CSR order of the test ratings: by user row, then column.
    order = np.lexsort((cols, rows))
    rows, cols, values = rows[order], cols[order], values[order]
    counts = np.bincount(rows, minlength=model.n_users_)
    offsets = np.concatenate([[0], np.cumsum(counts)[:-1]])
    module = model.module_.eval()
    device = next(module.parameters()).device
    with torch.no_grad():
        code = module.encode(
            torch.from_numpy(cols.astype(np.int64)).to(device),
            torch.from_numpy(offsets.astype(np.int64)).to(device),
            torch.from_numpy(values).to(device),
        )
        out = module.decode_at(
            code,
            torch.from_numpy(rows.astype(np.int64)).to(device),
            torch.from_numpy(cols.astype(np.int64)).to(device),
        )
    scores = np.full(len(test), np.nan, dtype=np.float32)
    kept = np.flatnonzero(keep)
    scores[kept[order]] = out.cpu().numpy()
    return scores, keep


# ----------------------------------------------------------------------------- data
def data_home(arg: str | None) -> Path:
    """--data-home, else $AUTOREC_DATA_HOME, else ``<repo>/../shared/data``."""
    if arg:
        return Path(arg)
    env = os.environ.get("AUTOREC_DATA_HOME")
    return Path(env) if env else DEFAULT_DATA_HOME


def load_ratings(home: Path, n_users: int | None = None) -> pd.DataFrame:
    """MovieLens-1M ratings (never downloads); the first ``n_users`` user ids if given."""
    from autorec.datasets import load_movielens_1m

    try:
        data = load_movielens_1m(home, download_if_missing=False, verbose=False)
    except Exception as exc:  # a clear message for a script, not a traceback
        sys.exit(f"error: MovieLens-1M not found under {home} ({exc}); use --data-home")
    ratings = data.ratings[["user_id", "item_id", "rating"]]
    if n_users is not None:
        keep = np.sort(ratings["user_id"].unique())[:n_users]
        ratings = ratings[ratings["user_id"].isin(keep)].reset_index(drop=True)
    return ratings


# ----------------------------------------------------------------------------- machine
def set_threads(threads: int | None = None) -> int:
    """``torch.set_num_threads``: the cores this process may use unless told otherwise."""
    if threads is None:
        try:
            threads = len(os.sched_getaffinity(0))
        except AttributeError:  # not Linux
            threads = os.cpu_count() or 1
    torch.set_num_threads(max(1, int(threads)))
    return torch.get_num_threads()


def busy_note(threads: int) -> str | None:
    """A warning when the machine is already busy (timings then mean little)."""
    try:
        load = os.getloadavg()[0]
    except OSError:
        return None
    if load < 0.75 * (os.cpu_count() or 1):
        return None
    return (
        f"note: the machine is busy (load average {load:.1f} on {os.cpu_count()} cores); "
        f"timings will be slow and noisy"
        + ("; with several torch threads try --threads 1" if threads > 1 else "")
    )


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def machine_info() -> dict[str, Any]:
    """CPU, cores, memory, load, versions and torch threads: printed under every table."""
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    info: dict[str, Any] = {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "usable_cores": usable,
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "autorec": autorec.__version__,
        "platform": platform.platform(terse=True),
    }
    try:
        info["load_average"] = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        pass
    try:
        pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        info["memory_gb"] = round(pages / 2**30, 1)
    except (ValueError, OSError, AttributeError):
        pass
    return info


def machine_lines(info: dict[str, Any]) -> list[str]:
    load = info.get("load_average")
    return [
        f"CPU: {info['cpu']}, {info['cores']} cores ({info['usable_cores']} usable), "
        f"{info.get('memory_gb', '?')} GB RAM" + (f", GPU {info['cuda']}" if info["cuda"] else ""),
        f"Software: Python {info['python']}, torch {info['torch']} "
        f"(torch threads: {info['torch_threads']}), numpy {info['numpy']}, "
        f"autorec {info['autorec']}",
        f"load average at the end: {', '.join(map(str, load))}" if load else "",
    ]


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MB (``ru_maxrss``)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10  # bytes / KiB


# ----------------------------------------------------------------------------- numbers
def mean_std(values: Iterable[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for a single value; NaNs ignored)."""
    arr = np.asarray([v for v in values if v is not None and not math.isnan(v)], dtype=float)
    if arr.size == 0:
        return math.nan, math.nan
    return float(arr.mean()), float(arr.std(ddof=1)) if arr.size > 1 else 0.0


def fmt(value: float | None, digits: int = 4, *, spread: float | None = None) -> str:
    """A number for a table; ``-`` for missing; ``m ± s`` when a spread is given (> 1 run)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    text = f"{value:.{digits}f}"
    if spread is not None:
        text += f" ± {spread:.{digits}f}"
    return text


# ----------------------------------------------------------------------------- tables
def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], *, markdown: bool = False) -> str:
    """A table as plain text (aligned columns) or GitHub Markdown.

    The first column is left-aligned, the others right-aligned.
    """
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    if markdown:

        def line(row: list[str]) -> str:
            return "| " + " | ".join(c.replace("|", "\\|") for c in row) + " |"

        rule = "|" + "|".join([":---"] + ["---:"] * (len(headers) - 1)) + "|"
        return "\n".join([line(cells[0]), rule] + [line(r) for r in cells[1:]])
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]

    def pad(row: list[str]) -> str:
        parts = [row[0].ljust(widths[0])] + [
            c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)
        ]
        return "  ".join(parts).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([pad(cells[0]), rule] + [pad(r) for r in cells[1:]])


def heading(text: str, *, markdown: bool = False, level: int = 3) -> str:
    return f"{'#' * level} {text}" if markdown else f"{text}\n{'=' * len(text)}"


def dump_json(obj: Any) -> str:
    """JSON with NaN written as null."""

    def clean(x: Any) -> Any:
        if isinstance(x, dict):
            return {str(k): clean(v) for k, v in x.items()}
        if isinstance(x, list | tuple):
            return [clean(v) for v in x]
        if isinstance(x, np.generic):
            x = x.item()
        if isinstance(x, float) and not math.isfinite(x):
            return None
        return x

    return json.dumps(clean(obj), indent=2)
