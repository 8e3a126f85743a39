"""Scaling: epoch time and peak memory of autorec's default model up to MovieLens-20M size.

Synthetic ratings from :func:`autorec.datasets.make_ratings` (long-tailed item popularity
and user activity), shaped like MovieLens-20M (138,493 users x 26,744 items, 20,000,263
ratings) and smaller sizes. A size of ``n`` ratings uses ``sqrt(n / 20,000,263)`` times
ML-20M's users and items, so the density of the matrix stays ML-20M's (0.54 %). Each size
runs in a fresh subprocess, so its peak RSS is its own. The default model is fitted whole
(early stopping on its default validation slice, as a user's fit runs), or for at most
``--epochs`` epochs; the table gives the fit's seconds and epochs, and the epoch time (the
median of ``history_["seconds"]``).

With ``--phases``, a second table per size gives the resident memory of each phase of
the fit (``_memory.rss_phases``: a thread samples RSS every 10 ms, charged to the library
function running): where the peak is, and what was resident when the phase began.

With ``--accuracy``, each size's ratings are split as the standard protocol splits
MovieLens (a quarter of each user's ratings to test), the model is fitted on the rest
with ``ranking="rating"`` (the ranking does not change the network) and the table adds the
test RMSE beside the bias baseline's (``autorec.baselines.BiasBaseline`` on the same
split); ``--batch-size N`` overrides ``batch_size="auto"``, so two runs compare batch
sizes on the same data. A comparison only means something where the network beats the
bias baseline: on the sparse ML-20M-shaped sizes it barely does (5M: 0.7432 against
0.7428), so equal figures there say nothing about a setting; not a MovieLens figure.

Checks printed: epoch time grows about linearly with the number of ratings (seconds per
rating, relative to the smallest size, stays <= 1.5), and the 20M run's peak RSS is
<= 4 GB (a dense float32 users x items matrix alone would be 14.8 GB).

Usage::

    python benchmarks/scale.py                      # 1M, 5M, 20M, whole fits (20M: long)
    python benchmarks/scale.py --sizes 1M,5M --epochs 2   # two epochs each
    python benchmarks/scale.py --sizes 5M --epochs 2 --phases  # peak RSS by phase
    python benchmarks/scale.py --sizes 5M --accuracy --batch-size 256  # vs "auto"
    python benchmarks/scale.py --quick              # 100k, 300k, 1 epoch (CI)
    python benchmarks/scale.py --json
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import _common

ML20M = (138_493, 26_744, 20_000_263)  # users, items, ratings
LINEAR_TOLERANCE = 1.5
RSS_TARGET_MB = 4096.0
FIT_TARGET_SECONDS = 600.0
_SUFFIX = {"k": 10**3, "m": 10**6}


def parse_size(text: str) -> int:
    """``"20M"`` -> 20,000,263 (ML-20M's exact count); ``"1M"`` -> 1,000,000; ``"300k"``."""
    text = text.strip().lower().replace("_", "").replace(",", "")
    if text in ("20m", "ml-20m", "ml20m"):
        return ML20M[2]
    try:
        if text[-1:] in _SUFFIX:
            return round(float(text[:-1]) * _SUFFIX[text[-1]])
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"size {text!r} is not a number of ratings such as 1M, 300k or 250000"
        ) from None


def shape_for(n_ratings: int) -> tuple[int, int, int]:
    """Users, items and ratings of a set of ``n_ratings`` shaped like ML-20M."""
    users, items, ratings = ML20M
    if n_ratings == ratings:
        return ML20M
    f = math.sqrt(n_ratings / ratings)
    return max(1, round(users * f)), max(1, round(items * f)), n_ratings


def label(n: int) -> str:
    if n == ML20M[2]:
        return "20M (ML-20M shape)"
    for suffix, unit in (("M", 10**6), ("k", 10**3)):
        if n >= unit and n % (unit // 10) == 0:
            return f"{n / unit:g}{suffix}"
    return f"{n:,}"


# ----------------------------------------------------------------------------- worker
def worker(
    n_users: int,
    n_items: int,
    n_ratings: int,
    epochs: int | None,
    seed: int,
    phases: bool,
    accuracy: bool = False,
    batch_size: int | None = None,
) -> dict:
    """Runs in the subprocess: generate, fit, measure; returns one JSON-able dict."""
    import contextlib

    import torch
    from _memory import rss_phases

    from autorec.baselines import BiasBaseline
    from autorec.datasets import make_ratings
    from autorec.evaluation import split
    from autorec.metrics import rmse

    tick = time.perf_counter()
    ratings = make_ratings(n_users, n_items, n_ratings, random_state=seed)
    generate = time.perf_counter() - tick
    test = None
    if accuracy:
        ratings, test = split(ratings, "standard", random_state=seed)
    rss_generate = _common.peak_rss_mb()
    overrides: dict[str, Any] = {} if epochs is None else {"epochs": epochs}
    if batch_size is not None:
        overrides["batch_size"] = batch_size
    if accuracy:
        overrides["ranking"] = "rating"
    with rss_phases() if phases else contextlib.nullcontext() as memory:
        model = _common.default_model(seed, **overrides).fit(ratings)
    seconds = model.history_["seconds"]
    test_rmse = bias_rmse = None
    if test is not None:
        pairs, truth = test[["user_id", "item_id"]], test["rating"].to_numpy()
        test_rmse = rmse(truth, model.predict(pairs))
        bias_rmse = rmse(truth, BiasBaseline().fit(ratings).predict(pairs))
    return {
        "batch_size": int(model.fit_params_["batch_size"]),
        "test_rmse": test_rmse,
        "bias_test_rmse": bias_rmse,
        "n_users": n_users,
        "n_items": n_items,
        "n_ratings": n_ratings,
        "users_rated": int(model.n_users_),
        "items_rated": int(model.n_items_),
        "generate_seconds": generate,
        "epoch_seconds_all": seconds,
        "epoch_seconds": statistics.median(seconds),
        "fit_seconds": model.fit_seconds_,
        "epochs_run": len(seconds),
        "best_epoch": int(model.best_epoch_),
        "peak_rss_generate_mb": rss_generate,
        "peak_rss_mb": _common.peak_rss_mb(),
        "torch_threads": torch.get_num_threads(),
        "phases": memory.rows() if memory is not None else None,
    }


def run_size(n_ratings: int, args: argparse.Namespace) -> dict:
    users, items, n = shape_for(n_ratings)
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--worker",
        f"{users},{items},{n}",
        "--seed",
        str(args.seed),
    ]
    if args.epochs is not None:
        command += ["--epochs", str(args.epochs)]
    if args.threads is not None:
        command += ["--threads", str(args.threads)]
    if args.phases:
        command.append("--phases")
    if args.accuracy:
        command.append("--accuracy")
    if args.batch_size is not None:
        command += ["--batch-size", str(args.batch_size)]
    log(f"{label(n)}: {users:,} users x {items:,} items, {n:,} ratings ...")
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.stderr.write(done.stderr)
        raise SystemExit(f"error: the {label(n)} run failed (exit {done.returncode})")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    log(
        f"  generated in {result['generate_seconds']:.1f}s, fit {result['fit_seconds']:.1f}s "
        f"({result['epochs_run']} epochs of {result['epoch_seconds']:.1f}s), "
        f"peak RSS {result['peak_rss_mb']:.0f} MB"
    )
    return result


# ----------------------------------------------------------------------------- main
def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes",
        default="1M,5M,20M",
        help="numbers of ratings, comma separated (20M = ML-20M's shape exactly)",
    )
    parser.add_argument(
        "--epochs",
        type=int,
        default=None,
        help="at most this many epochs per fit (default: whole fits, early stopping)",
    )
    parser.add_argument("--seed", type=int, default=0, help="random state of data and model")
    parser.add_argument(
        "--threads", type=int, default=None, help="torch threads (default: the usable cores)"
    )
    parser.add_argument(
        "--phases", action="store_true", help="also the peak RSS of each phase of the fit"
    )
    parser.add_argument(
        "--accuracy",
        action="store_true",
        help="hold out a standard split of each size and add the test RMSE (ranking='rating')",
    )
    parser.add_argument("--batch-size", type=int, default=None, help="instead of batch_size='auto'")
    parser.add_argument("--quick", action="store_true", help="CI setting: 100k,300k, 1 epoch")
    parser.add_argument("--markdown", action="store_true", help="a Markdown table")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead")
    parser.add_argument("--worker", help=argparse.SUPPRESS)  # "users,items,ratings"
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes = "100k,300k"
        args.epochs = 1
    if args.batch_size is not None and args.batch_size < 1:
        parser.error(f"--batch-size must be a positive number of rows, got {args.batch_size}")
    args.size_list = sorted({parse_size(s) for s in args.sizes.split(",") if s.strip()})
    if not args.size_list:
        parser.error("--sizes needs at least one size")
    return args


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def checks(results: list[dict], whole: bool) -> dict[str, Any]:
    base = results[0]["epoch_seconds"] / results[0]["n_ratings"]
    for r in results:
        r["relative_seconds_per_rating"] = r["epoch_seconds"] / r["n_ratings"] / base
        r["ratings_per_second"] = r["n_ratings"] / r["epoch_seconds"]
    linear = all(r["relative_seconds_per_rating"] <= LINEAR_TOLERANCE for r in results)
    big = [r for r in results if r["n_ratings"] == ML20M[2]]
    return {
        "about_linear": linear if len(results) > 1 else None,
        "rss_20m_within_4gb": (big[0]["peak_rss_mb"] <= RSS_TARGET_MB) if big else None,
        "fit_20m_within_10min": (
            (big[0]["fit_seconds"] <= FIT_TARGET_SECONDS) if big and whole else None
        ),
    }


def render(results: list[dict], markdown: bool) -> str:
    headers = [
        "Ratings",
        "users x items",
        "generate s",
        "batch",
        "fit s",
        "epochs (best)",
        "epoch s",
        "ratings/s per epoch",
        "s/rating vs smallest",
        "peak RSS MB",
    ]
    accuracy = any(r.get("test_rmse") is not None for r in results)
    if accuracy:
        headers += ["test RMSE", "bias baseline's"]
    rows = [
        [
            label(r["n_ratings"]),
            f"{r['n_users']:,} x {r['n_items']:,}",
            f"{r['generate_seconds']:.1f}",
            f"{r['batch_size']:,}",
            f"{r['fit_seconds']:.1f}",
            f"{r['epochs_run']} ({r['best_epoch']})",
            f"{r['epoch_seconds']:.2f}",
            f"{r['ratings_per_second']:,.0f}",
            f"{r['relative_seconds_per_rating']:.2f}",
            f"{r['peak_rss_mb']:,.0f}",
        ]
        + ([f"{r['test_rmse']:.4f}", f"{r['bias_test_rmse']:.4f}"] if accuracy else [])
        for r in results
    ]
    return _common.table(headers, rows, markdown=markdown)


def render_phases(result: dict, markdown: bool) -> str:
    """Peak RSS by phase of one size's fit (``--phases``)."""
    rows = [
        [
            row["phase"],
            "" if row["start_mb"] is None else f"{row['start_mb']:,.0f}",
            f"{row['peak_mb']:,.0f}",
        ]
        for row in result["phases"]
    ]
    headers = ["Phase of the fit", "RSS at start MB", "peak RSS MB"]
    return _common.table(headers, rows, markdown=markdown)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    torch_threads = _common.set_threads(args.threads)
    if args.worker:
        users, items, n = (int(x) for x in args.worker.split(","))
        result = worker(
            users, items, n, args.epochs, args.seed, args.phases, args.accuracy, args.batch_size
        )
        print(json.dumps(result))
        return 0
    if note := _common.busy_note(torch_threads):
        log(note)
    results = [run_size(n, args) for n in args.size_list]
    verdict = checks(results, whole=args.epochs is None)
    info = _common.machine_info()
    if args.json:
        print(
            _common.dump_json(
                {
                    "settings": {
                        "sizes": args.size_list,
                        "epochs": args.epochs,
                        "seed": args.seed,
                        "accuracy": args.accuracy,
                        "batch_size": args.batch_size,
                    },
                    "results": results,
                    "checks": verdict,
                    "machine": info,
                }
            )
        )
        return 0
    md = args.markdown
    quick = " [--quick: NOT representative]" if args.quick else ""
    title = f"Scaling of autorec's default model on synthetic ML-20M-shaped data{quick}"

    def mark(ok: bool | None, missing: str) -> str:
        return f"not checked ({missing})" if ok is None else ("PASS" if ok else "FAIL")

    bullet = "- " if md else "  "
    lines = [
        _common.heading(title, markdown=md),
        "",
        render(results, md),
        "",
        "Each size in a fresh process; "
        + ("whole fits (early stopping)" if args.epochs is None else f"<= {args.epochs} epoch(s)")
        + " on the default validation slice; epoch s = median of history_['seconds']"
        + (
            "; --accuracy: fitted on a standard split's training part (ranking='rating'), "
            "test RMSE on the rest, beside the bias baseline's on the same split."
            if args.accuracy
            else "."
        ),
        "Checks:",
        f"{bullet}epoch time about linear in ratings (s/rating vs smallest <= "
        f"{LINEAR_TOLERANCE:g}): {mark(verdict['about_linear'], 'needs 2 sizes or more')}",
        f"{bullet}20M peak RSS <= 4 GB: "
        f"{mark(verdict['rss_20m_within_4gb'], 'the 20M size was not run')}",
        f"{bullet}20M whole fit <= 10 minutes: "
        f"{mark(verdict['fit_20m_within_10min'], 'no whole fit of the 20M size')}",
        "",
    ]
    for r in results:
        if r.get("phases"):
            lines += [f"Resident memory by phase, {label(r['n_ratings'])}:", ""]
            lines += [render_phases(r, md), ""]
    lines += [
        "Machine:",
    ]
    lines += [bullet + line for line in _common.machine_lines(info) if line]
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
