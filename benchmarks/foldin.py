"""Fold-in on MovieLens-1M: how close a folded-in user is to the fitted one, and how fast.

For each model (autorec's default, the reference user network, the i-autorec item
preset, the blend; ``autorec.evaluation.make_model``),
fitted on the standard split's training ratings: a random sample of training users
(at least 5 training ratings each) is folded in from their own training ratings
(``recommend(None, user_ratings=...)``, no retraining) and compared with the same user's
fitted row (``predict``):

* Spearman correlation of the predicted ratings over the whole catalogue;
* overlap of the top 10 that ``recommend`` gives (unrated movies, the model's ranking);
* the time of one fold-in ``recommend`` call (k=10, movies joined), median and 90th
  percentile, for the user's full ratings and for their first 20 only.

A user model encodes the folded-in row exactly as a fitted one (correlation 1 up to
float rounding); an item model solves the user's output weights by ridge regression on
the item codes (``fold_in_l2_``, chosen at fit time), so its figures are the ones to read.

Usage::

    python benchmarks/foldin.py                       # 200 users, all four models
    python benchmarks/foldin.py --models item --markdown
    python benchmarks/foldin.py --quick               # 500 users of ML-1M, 2 epochs
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from collections.abc import Sequence
from typing import Any

import _common
import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from autorec.datasets import load_movielens_1m
from autorec.evaluation import make_model, split

MODELS = {
    "default": "autorec default (residual, item rows)",
    "user": "reference network (user rows)",
    "item": "i-autorec preset",
    "blend": "blend",
}


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-home", help="folder holding ml-1m/ (default: ../shared/data)")
    parser.add_argument("--seed", type=int, default=0, help="random state of split and fit")
    parser.add_argument(
        "--models", default="default,user,item,blend", help="from: " + ", ".join(MODELS)
    )
    parser.add_argument("--check-users", type=int, default=200, help="users folded in")
    parser.add_argument("--users", type=int, default=None, help="only the first N user ids")
    parser.add_argument("--epochs", type=int, default=None, help="cap the epochs")
    parser.add_argument("--threads", type=int, default=None, help="torch threads")
    parser.add_argument("--quick", action="store_true", help="CI: 500 users, 2 epochs")
    parser.add_argument("--markdown", action="store_true", help="Markdown tables")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    args.model_list = [m.strip() for m in args.models.split(",") if m.strip()]
    unknown = sorted(set(args.model_list) - set(MODELS))
    if unknown:
        parser.error(f"unknown --models {unknown}; choose from {', '.join(MODELS)}")
    if args.quick:
        args.users = args.users or 500
        args.epochs = args.epochs or 2
        args.check_users = min(args.check_users, 30)
    return args


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _timed(call) -> float:
    tick = time.perf_counter()
    call()
    return (time.perf_counter() - tick) * 1000.0


def measure(model: Any, train: pd.DataFrame, movies: pd.DataFrame | None, args) -> dict:
    """Agreement of fold-in with the fitted rows, and fold-in latency, for one model."""
    rng = np.random.default_rng(args.seed + 1)
    counts = train.groupby("user_id").size()
    eligible = counts.index[counts >= 5].to_numpy()
    users = rng.choice(eligible, min(args.check_users, len(eligible)), replace=False)
    items = model.item_map_.ids
    by_user = dict(tuple(train.groupby("user_id")[["item_id", "rating"]]))
    correlations, overlaps, full_ms, short_ms = [], [], [], []
    model.recommend(None, k=10, user_ratings=by_user[users[0]], movies=movies)  # warm-up
    for user in users:
        mine = by_user[user]
        fitted = model.predict(pd.DataFrame({"user_id": user, "item_id": items}))
        folded = model.recommend(None, k=len(items), exclude_seen=False, user_ratings=mine)
        folded = folded.set_index("item_id")["predicted_rating"].reindex(items).to_numpy()
        correlations.append(spearmanr(folded, fitted).statistic)
        top_fitted = set(model.recommend(user, k=10)["item_id"].tolist())
        top_folded = set(model.recommend(None, k=10, user_ratings=mine)["item_id"].tolist())
        overlaps.append(len(top_fitted & top_folded) / 10)
        full_ms.append(
            _timed(lambda m=mine: model.recommend(None, k=10, user_ratings=m, movies=movies))
        )
        short = mine.iloc[:20]
        short_ms.append(
            _timed(lambda s=short: model.recommend(None, k=10, user_ratings=s, movies=movies))
        )
    corr = np.asarray(correlations, dtype=np.float64)
    return {
        "n_users": len(users),
        "spearman_mean": float(np.nanmean(corr)),
        "spearman_median": float(np.nanmedian(corr)),
        "spearman_p10": float(np.nanpercentile(corr, 10)),
        "top10_overlap": float(np.mean(overlaps)),
        "ms_median": statistics.median(full_ms),
        "ms_p90": float(np.percentile(full_ms, 90)),
        "ms_median_20": statistics.median(short_ms),
        "median_ratings": float(counts.loc[users].median()),
        "fold_in_l2": getattr(model, "fold_in_l2_", None),
        "fit_seconds": model.fit_seconds_,
    }


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    warnings.filterwarnings("ignore", message=r".*not seen in fit", category=UserWarning)
    warnings.filterwarnings("ignore", message=r".*unknown to the model", category=UserWarning)
    threads = _common.set_threads(args.threads)
    home = _common.data_home(args.data_home)
    ratings = _common.load_ratings(home, args.users)
    movies = load_movielens_1m(home, download_if_missing=False, verbose=False).movies
    train, _ = split(ratings, "standard", random_state=args.seed)
    overrides = {} if args.epochs is None else {"epochs": args.epochs}
    results = {}
    for name in args.model_list:
        log(f"fitting {MODELS[name]} on {len(train):,} training ratings")
        model = make_model(name, random_state=args.seed, **overrides).fit(train)
        results[name] = measure(model, train, movies, args)
        log(f"  {results[name]}")
    info = _common.machine_info()
    if args.json:
        print(_common.dump_json({"results": results, "machine": info}))
        return 0
    rows = [
        [
            MODELS[name],
            _common.fmt(r["spearman_mean"], 3),
            _common.fmt(r["spearman_median"], 3),
            _common.fmt(r["spearman_p10"], 3),
            _common.fmt(r["top10_overlap"], 2),
            _common.fmt(r["ms_median"], 1),
            _common.fmt(r["ms_p90"], 1),
            _common.fmt(r["ms_median_20"], 1),
            "-" if r["fold_in_l2"] is None else f"{r['fold_in_l2']:g}",
        ]
        for name, r in results.items()
    ]
    headers = [
        "model",
        "Spearman mean",
        "median",
        "10th pct",
        "top-10 overlap",
        "ms median",
        "ms p90",
        "ms (20 ratings)",
        "fold_in_l2_",
    ]
    n = next(iter(results.values()))["n_users"] if results else 0
    md = args.markdown
    out = [
        _common.heading(
            f"Fold-in vs fitted rows, MovieLens-1M standard split, random state {args.seed}",
            markdown=md,
        ),
        "",
        _common.table(headers, rows, markdown=md),
        "",
        f"{n} training users with >= 5 training ratings each, folded in from those ratings; "
        "Spearman over every movie's predicted rating, top-10 overlap of the unrated "
        "movies recommend ranks first; ms: one recommend(None, k=10, user_ratings=...) "
        f"call with titles joined. {threads} torch threads.",
        "Machine:",
    ]
    bullet = "- " if md else "  "
    out += [bullet + line for line in _common.machine_lines(info) if line]
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
