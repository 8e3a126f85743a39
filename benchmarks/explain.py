"""Are the reasons faithful? Removing a recommendation's ``because`` movies from the
user's ratings should lower its rank more than removing as many random rated movies.

For a random sample of MovieLens-1M users and each of their top-10 recommendations
(``recommend(..., explain=True)``, as a fitted user or folded in from the same
ratings), the movie's rank among the movies the user had not rated is measured by
fold-in (``recommend(None, user_ratings=...)``, no retraining) three ways: from all the
user's ratings, without the ``because`` movies, and without as many movies drawn at
random from the user's other rated movies (``--draws`` draws). A pair counts as
faithful when removing the ``because`` movies lowers the rank (the rank number rises)
more than the mean of the random draws. The target is 90 % of pairs.

Usage::

    python benchmarks/explain.py --model default.safetensors        # 100 users
    python benchmarks/explain.py --model default.safetensors --users 300 --markdown
    python benchmarks/explain.py --quick                # synthetic data: the script runs
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any

import _common
import numpy as np
import pandas as pd

from autorec import AutoEncoderRecommender
from autorec.datasets import load_movielens_1m, make_ratings
from autorec.evaluation import load_model


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-home", help="folder holding ml-1m/ (default: ../shared/data)")
    parser.add_argument(
        "--model",
        action="append",
        default=[],
        metavar="PATH",
        help="a saved model fitted on all of MovieLens-1M (repeatable; default: fit the "
        "library default first, about a minute or more)",
    )
    parser.add_argument("--users", type=int, default=100, help="users sampled (default 100)")
    parser.add_argument("--draws", type=int, default=5, help="random removals per pair")
    parser.add_argument("--seed", type=int, default=0, help="random state of the sample")
    parser.add_argument("--threads", type=int, default=None, help="torch threads")
    parser.add_argument("--markdown", action="store_true", help="tables as Markdown")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="synthetic data, a small model, 10 users: checks that the script runs",
    )
    return parser.parse_args(argv)


def _ranks(model: Any, ratings: pd.Series, candidates: np.ndarray) -> pd.Series:
    """Rank (1 = best) of each candidate movie for a user folded in from ``ratings``."""
    everything = model.recommend(
        None, k=len(model.item_map_), user_ratings=ratings, exclude_seen=False
    )
    order = everything["item_id"].to_numpy()
    order = order[np.isin(order, candidates)]
    return pd.Series(np.arange(1, len(order) + 1), index=order)


def measure(model: Any, data: Any, users: np.ndarray, draws: int, seed: int, mode: str) -> dict:
    """Faithfulness figures of ``model`` on ``users`` (``mode``: fitted or folded-in)."""
    rng = np.random.default_rng(seed)
    by_user = data.ratings.groupby("user_id")
    wins, drops_because, drops_random, sizes, empty, skipped = [], [], [], [], 0, 0
    draw_wins = []
    for user in users:
        mine = by_user.get_group(user).set_index("item_id")["rating"].astype(float)
        if mode == "fitted":
            recs = model.recommend(user, k=10, explain=True)
        else:
            recs = model.recommend(None, k=10, user_ratings=mine, explain=True)
        candidates = np.setdiff1d(model.item_map_.ids, mine.index.to_numpy())
        base = _ranks(model, mine, candidates)
        for row in recs.itertuples():
            because = [entry["item_id"] for entry in row.because]
            if not because:
                empty += 1
                continue
            others = mine.index.difference(because).to_numpy()
            if len(others) < len(because):  # too few other ratings to compare with
                skipped += 1
                continue
            drop = _ranks(model, mine.drop(because), candidates)[row.item_id] - base[row.item_id]
            random_drops = []
            for _ in range(draws):
                removed = rng.choice(others, len(because), replace=False)
                after = _ranks(model, mine.drop(removed), candidates)[row.item_id]
                random_drops.append(after - base[row.item_id])
            wins.append(drop > np.mean(random_drops))
            draw_wins.append(np.mean([drop > d for d in random_drops]))
            drops_because.append(drop)
            drops_random.append(np.mean(random_drops))
            sizes.append(len(because))
    return {
        "pairs": len(wins),
        "faithful": float(np.mean(wins)),
        "per_draw": float(np.mean(draw_wins)),
        "drop_because": float(np.median(drops_because)),
        "drop_random": float(np.median(drops_random)),
        "reasons": float(np.mean(sizes)),
        "empty": empty,
        "skipped": skipped,
    }


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    threads = _common.set_threads(args.threads)
    models: list[tuple[str, Any]] = []
    if args.quick:
        ratings = make_ratings(n_users=200, n_items=100, n_ratings=6000, random_state=args.seed)
        data = SimpleNamespace(ratings=ratings)
        quick = AutoEncoderRecommender(epochs=5, hidden_layers=(16,), random_state=args.seed)
        models.append(("synthetic, small (--quick)", quick.fit(ratings)))
    else:
        data = load_movielens_1m(_common.data_home(args.data_home))
    for path in args.model:
        models.append((path, load_model(path)))
    if not models:
        print("no --model: fitting the library default on all of MovieLens-1M", file=sys.stderr)
        models.append(("default", AutoEncoderRecommender(random_state=args.seed).fit(data.ratings)))
    n_users = 10 if args.quick else args.users
    rng = np.random.default_rng(args.seed)
    users = np.sort(rng.choice(data.ratings["user_id"].unique(), n_users, replace=False))
    rows = []
    for name, model in models:
        for mode in ("fitted", "folded-in"):
            started = time.perf_counter()
            result = measure(model, data, users, args.draws, args.seed, mode)
            rows.append(
                [
                    name,
                    f"{model.fit_params_.get('kind', 'blend')}/{model.fit_params_['ranking']}",
                    mode,
                    result["pairs"],
                    f"{100 * result['faithful']:.1f} %",
                    f"{100 * result['per_draw']:.1f} %",
                    f"{result['drop_because']:+.0f}",
                    f"{result['drop_random']:+.1f}",
                    f"{result['reasons']:.2f}",
                    result["empty"],
                    result["skipped"],
                    f"{time.perf_counter() - started:.0f} s",
                ]
            )
    print(
        _common.heading(
            "Faithfulness of the reasons (target: 90 % of pairs)", markdown=args.markdown
        )
    )
    print(
        _common.table(
            [
                "model",
                "kind/ranking",
                "user",
                "pairs",
                "faithful",
                "per draw",
                "median drop, because",
                "median drop, random",
                "reasons/pair",
                "no reason",
                "skipped",
                "time",
            ],
            rows,
            markdown=args.markdown,
        )
    )
    print(
        f"\n{n_users} users (seed {args.seed}), top 10 each, {args.draws} random draws per pair; "
        "drop: rise of the rank number among the user's unrated movies; faithful: the "
        "because removal drops it more than the mean random removal; per draw: more than "
        f"each single draw; skipped: fewer other rated movies than reasons. torch threads: "
        f"{threads}."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
