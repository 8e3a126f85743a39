"""Accuracy on MovieLens-1M: baselines, the reference notebook's loop and autorec.

Two splits (the standard per-user 75/25 split of the reference study and a random
90/10 split as in the AutoRec paper), several random states each. For every model:
train and test RMSE, top-k accuracy at 5 and 10 (autorec's protocol: the model sees
only the training ratings), fit time; for the notebook loop and autorec's default
also the notebook's *leaky* top-k (the model fed each user's test ratings). Published
numbers are printed beneath, labelled as published.

Usage::

    python benchmarks/accuracy.py                 # the full tables (about 1.5 h on 2 cores)
    python benchmarks/accuracy.py --quick         # one seed, 500 users, 1-2 epochs (CI)
    python benchmarks/accuracy.py --skip-notebook --markdown
    python benchmarks/accuracy.py --json > accuracy.json
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import _common
import _notebook
import numpy as np
import pandas as pd

from autorec.baselines import BiasBaseline, GlobalMean
from autorec.evaluation import SPLITS, rating_scores
from autorec.evaluation import split as split_ratings
from autorec.metrics import rmse, top_k_accuracy

KS = (5, 10)
PUBLISHED = [
    "I-AutoRec (item-based, 500 hidden units), ML-1M random 90/10: test RMSE 0.831 "
    "(Sedhain et al., 2015)",
    "U-AutoRec (user-based), ML-1M random 90/10: test RMSE 0.874 (Sedhain et al., 2015)",
    "Reference notebook, standard split, 50 epochs: train RMSE 0.888, test RMSE 0.949; "
    "its leaky top-k accuracy 77.55 @5, 69.87 @10 (its README swaps the two labels)",
]
NOTES = [
    "test RMSE: mean ± sample std over the random states; other columns: means.",
    "train/test RMSE: autorec and the baselines clip to 1-5; the notebook loop is unclipped, "
    "as the notebook reported it.",
    "top-k: autorec.metrics.top_k_accuracy, each user's test movies ranked by the model fed "
    "the TRAINING ratings only (unclipped scores); % of the top k rated >= 4.",
    "leaky top-k: the reference notebook's protocol, the model fed each user's TEST ratings "
    "(it sees the answer); shown only to compare with the notebook's published numbers.",
]


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data-home",
        help="folder holding ml-1m/ (default: $AUTOREC_DATA_HOME, else ../shared/data)",
    )
    parser.add_argument("--seeds", default="0,1,2", help="random states, comma separated")
    parser.add_argument(
        "--splits", default="standard,random90", help="comma separated, from: " + ", ".join(SPLITS)
    )
    parser.add_argument(
        "--notebook-epochs",
        type=int,
        default=_notebook.EPOCHS,
        help="epochs of the notebook loop (default: 50, as the notebook)",
    )
    parser.add_argument(
        "--skip-notebook",
        action="store_true",
        help="leave out the notebook loop (about 12 min per split and seed)",
    )
    parser.add_argument(
        "--epochs",
        type=int,
        default=None,
        help="override autorec's maximum epochs (default: the models' own)",
    )
    parser.add_argument(
        "--users",
        type=int,
        default=None,
        help="only the first N user ids (a smaller, faster benchmark)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch threads (default: the cores this process may use)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="CI setting: seed 0, 500 users, --epochs 2, --notebook-epochs 1",
    )
    parser.add_argument("--markdown", action="store_true", help="Markdown tables")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead")
    args = parser.parse_args(argv)
    if args.quick:
        args.seeds = "0"
        args.users = args.users or 500
        args.epochs = args.epochs or 2
        args.notebook_epochs = min(args.notebook_epochs, 1)
    args.seed_list = [int(s) for s in args.seeds.split(",") if s.strip()]
    args.split_list = [s.strip() for s in args.splits.split(",") if s.strip()]
    bad = [s for s in args.split_list if s not in SPLITS]
    if bad:
        parser.error(f"unknown split(s) {bad}; use {', '.join(SPLITS)}")
    if not args.seed_list:
        parser.error("--seeds needs at least one random state")
    return args


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _scores(
    name: str,
    fit: Callable[[], Any],
    train: pd.DataFrame,
    test: pd.DataFrame,
    *,
    ranking: bool = True,
    predict: Callable[[Any, pd.DataFrame], np.ndarray] | None = None,
    leaky: Callable[[Any], np.ndarray] | None = None,
) -> dict[str, Any]:
    """Fit one model and score it with :func:`autorec.evaluation.rating_scores` (or, for
    the notebook loop, its own ``predict``)."""
    tick = time.perf_counter()
    model = fit()
    seconds = time.perf_counter() - tick
    if predict is None:
        scores = rating_scores(model, train, test, KS)
    else:
        raw = predict(model, test)
        scores = {
            "rmse_train": rmse(train["rating"], predict(model, train)),
            "rmse_test": rmse(test["rating"], raw),
            "top_k_accuracy": {
                k: top_k_accuracy(test["user_id"], test["rating"], raw, k) for k in KS
            },
        }
    row: dict[str, Any] = {
        "model": name,
        "fit_seconds": seconds,
        "train_rmse": scores["rmse_train"],
        "test_rmse": scores["rmse_test"],
    }
    for k in KS:
        row[f"top{k}"] = scores["top_k_accuracy"][k] if ranking else None
        row[f"leaky_top{k}"] = None
    if leaky is not None:
        leaked = leaky(model)
        keep = ~np.isnan(leaked)
        for k in KS:
            row[f"leaky_top{k}"] = top_k_accuracy(
                test["user_id"][keep], test["rating"][keep], leaked[keep], k
            )
    extra = getattr(model, "history_", None)
    if extra is not None:
        row["epochs_run"] = len(extra["seconds"])
        row["best_epoch"] = extra["best_epoch"]
    log(
        f"  {name}: test RMSE {row['test_rmse']:.4f}, top-10 {_common.fmt(row['top10'], 2)}, "
        f"{seconds:.1f}s"
    )
    return row


def run_split(ratings: pd.DataFrame, name: str, seed: int, args: argparse.Namespace) -> list[dict]:
    train, test = split_ratings(ratings, name, random_state=seed)
    log(f"{name} split, random_state={seed}: {len(train):,} train / {len(test):,} test ratings")
    overrides = {} if args.epochs is None else {"epochs": args.epochs}
    rows = [
        _scores("Global mean", lambda: GlobalMean().fit(train), train, test, ranking=False),
        _scores("User + item bias (BiasBaseline)", lambda: BiasBaseline().fit(train), train, test),
    ]
    if not args.skip_notebook:
        rows.append(
            _scores(
                f"Reference notebook loop ({args.notebook_epochs} "
                f"epoch{'s' if args.notebook_epochs != 1 else ''})",
                lambda: _notebook.train(
                    train, test, epochs=args.notebook_epochs, random_state=seed
                ),
                train,
                test,
                predict=lambda m, pairs: _notebook.predict(m, pairs),
                leaky=lambda m: _notebook.leaky_scores(m, test),
            )
        )
    rows.append(
        _scores(
            "autorec reference network (preset)",
            lambda: _common.reference_model(seed, **overrides).fit(train),
            train,
            test,
            leaky=lambda m: _common.leaky_scores(m, test)[0],
        )
    )
    rows.append(
        _scores(
            "autorec default",
            lambda: _common.default_model(seed, **overrides).fit(train),
            train,
            test,
        )
    )
    rows.append(
        _scores(
            "autorec i-autorec preset",
            lambda: _common.item_model(seed, **overrides).fit(train),
            train,
            test,
        )
    )
    rows.append(
        _scores(
            "autorec best configuration (blend)",
            lambda: _common.best_config(seed, **overrides).fit(train),
            train,
            test,
        )
    )
    for row in rows:
        row.update(split=name, seed=seed, n_train=len(train), n_test=len(test))
    return rows


def summarize(results: list[dict], split: str) -> list[dict]:
    """One row per model: means (and the test RMSE's spread) over the seeds."""
    names = list(dict.fromkeys(r["model"] for r in results if r["split"] == split))
    summary = []
    for name in names:
        runs = [r for r in results if r["split"] == split and r["model"] == name]
        row: dict[str, Any] = {"model": name, "n_seeds": len(runs)}
        leaky = tuple(f"{p}top{k}" for p in ("", "leaky_") for k in KS)
        for key in ("train_rmse", "test_rmse", "fit_seconds", *leaky):
            values = [r[key] for r in runs if r[key] is not None]
            row[key], row[key + "_std"] = _common.mean_std(values) if values else (None, None)
        summary.append(row)
    return summary


def render(summary: list[dict], markdown: bool) -> str:
    headers = [
        "Model",
        "train RMSE",
        "test RMSE",
        "top-5",
        "top-10",
        "leaky top-5",
        "leaky top-10",
        "fit s",
    ]
    rows = []
    for s in summary:
        spread = s["test_rmse_std"] if s["n_seeds"] > 1 else None
        rows.append(
            [
                s["model"],
                _common.fmt(s["train_rmse"]),
                _common.fmt(s["test_rmse"], spread=spread),
                _common.fmt(s["top5"], 2),
                _common.fmt(s["top10"], 2),
                _common.fmt(s["leaky_top5"], 2),
                _common.fmt(s["leaky_top10"], 2),
                _common.fmt(s["fit_seconds"], 1),
            ]
        )
    return _common.table(headers, rows, markdown=markdown)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    # Test items absent from a training split get autorec's documented fallback; expected.
    warnings.filterwarnings("ignore", message=r".*not seen in fit", category=UserWarning)
    threads = _common.set_threads(args.threads)
    if note := _common.busy_note(threads):
        log(note)
    home = _common.data_home(args.data_home)
    ratings = _common.load_ratings(home, args.users)
    log(
        f"MovieLens-1M from {home}: {len(ratings):,} ratings, "
        f"{ratings.user_id.nunique():,} users; torch threads {threads}"
    )
    started = time.perf_counter()
    results = []
    for split in args.split_list:
        for seed in args.seed_list:
            results.extend(run_split(ratings, split, seed, args))
    total = time.perf_counter() - started
    info = _common.machine_info()
    settings = {
        "seeds": args.seed_list,
        "users": args.users,
        "n_ratings": len(ratings),
        "autorec_epochs": args.epochs,
        "notebook_epochs": None if args.skip_notebook else args.notebook_epochs,
        "best_config": repr(_common.best_config(0)),
        "quick": args.quick,
    }
    if args.json:
        print(
            _common.dump_json(
                {
                    "settings": settings,
                    "machine": info,
                    "total_seconds": total,
                    "summary": {split: summarize(results, split) for split in args.split_list},
                    "runs": results,
                }
            )
        )
        return 0
    md = args.markdown
    out = []
    subset = f", first {args.users} users" if args.users else ""
    quick = " [--quick: NOT representative]" if args.quick else ""
    for split in args.split_list:
        title = (
            f"MovieLens-1M, {SPLITS[split].description}, random states "
            f"{', '.join(map(str, args.seed_list))}{subset}{quick}"
        )
        out += [_common.heading(title, markdown=md), "", render(summarize(results, split), md), ""]
    epochs = (
        "models' own maximum epochs" if args.epochs is None else f"at most {args.epochs} epochs"
    )
    out.append(
        f"autorec: {epochs}, early stopping on a validation slice of the training "
        f"ratings; best configuration = {settings['best_config']}."
    )
    bullet = "- " if md else "  "
    out += ["", "Notes:"] + [bullet + n for n in NOTES]
    out += ["", "Published numbers (not measured here):"] + [bullet + p for p in PUBLISHED]
    out += ["", "Machine:"] + [bullet + line for line in _common.machine_lines(info) if line]
    out.append(f"{bullet}total benchmark time: {total:.0f} s")
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
