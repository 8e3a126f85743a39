"""Full-catalogue top-N on MovieLens-1M: what each model recommends, and whether people liked it.

For every user: candidates = every movie not among that user's training ratings;
relevant = that user's test movies rated 4 or 5 (``autorec.evaluation.evaluate_ranking``,
k = 10). Rows: autorec's default model and the best configuration with their ranking
(``ranking="hybrid"``), the same two ranked by predicted rating alone (the reference
study's order), the reference network (the study's, hybrid ranking), the i-autorec
preset by predicted rating, and the ranking baselines
MostPopular and EASE; with Cornac installed (``pip install cornac``), Cornac's MostPop,
EASE and VAE on the same splits, so the figures are checked against a library we did not
write. Also the test RMSE and top-k accuracy of the rating models (ranking does not
change them). Both splits, several random states, mean and spread.

Usage::

    python benchmarks/topn.py                  # standard + random90, seeds 0-2
    python benchmarks/topn.py --seeds 0 --splits standard --markdown
    python benchmarks/topn.py --quick          # 500 users, 2 epochs (CI; not representative)
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import _common
import numpy as np
import pandas as pd

from autorec.baselines import EASE, MostPopular
from autorec.evaluation import SPLITS, evaluate_ranking, make_model, rating_scores
from autorec.evaluation import split as split_ratings

COLUMNS = [
    ("ndcg@10", "NDCG@10", 4),
    ("recall@10", "recall@10", 4),
    ("coverage", "coverage", 3),
    ("median_popularity", "median ratings of recommended", 0),
    ("share_lt20", "share < 20 ratings", 3),
    ("rmse_test", "test RMSE", 4),
    ("top10", "top-10 acc.", 2),
    ("fit_seconds", "fit s", 1),
]


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-home", help="folder holding ml-1m/ (default: ../shared/data)")
    parser.add_argument("--seeds", default="0,1,2", help="random states, comma separated")
    parser.add_argument(
        "--splits", default="standard,random90", help="comma separated, from: " + ", ".join(SPLITS)
    )
    parser.add_argument("--epochs", type=int, default=None, help="cap autorec's epochs")
    parser.add_argument("--users", type=int, default=None, help="only the first N user ids")
    parser.add_argument("--no-cornac", action="store_true", help="leave out the Cornac rows")
    parser.add_argument("--threads", type=int, default=None, help="torch threads")
    parser.add_argument("--quick", action="store_true", help="CI: seed 0, 500 users, 2 epochs")
    parser.add_argument("--markdown", action="store_true", help="Markdown tables")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    if args.quick:
        args.seeds, args.splits = "0", "standard"
        args.users, args.epochs = args.users or 500, args.epochs or 2
    args.seed_list = [int(s) for s in args.seeds.split(",") if s.strip()]
    args.split_list = [s.strip() for s in args.splits.split(",") if s.strip()]
    bad = [s for s in args.split_list if s not in SPLITS]
    if bad:
        parser.error(f"unknown split(s) {bad}; use {', '.join(SPLITS)}")
    return args


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _row(
    name: str, fit: Callable[[], Any], train: pd.DataFrame, test: pd.DataFrame, rates: bool
) -> dict[str, Any]:
    tick = time.perf_counter()
    model = fit()
    seconds = time.perf_counter() - tick
    row: dict[str, Any] = {"model": name, "fit_seconds": seconds}
    row.update(evaluate_ranking(model, train, test, k=10))
    if rates:
        scores = rating_scores(model, train, test)
        row.update(rmse_test=scores["rmse_test"], top10=scores["top_k_accuracy"][10])
    log(f"  {name}: NDCG@10 {row['ndcg@10']:.4f}, recall@10 {row['recall@10']:.4f}, {seconds:.1f}s")
    return row


class _ByRating:
    """A fitted rating model ranked by its predicted ratings alone (the reference study's
    order), without a second training: every attribute is the model's, but
    ``_user_scores`` gives the predicted ratings."""

    def __init__(self, model: Any) -> None:
        self._model = model

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)

    def _user_scores(self, index: np.ndarray) -> np.ndarray:
        return self._model._user_ratings(index)


def _by_rating(model: Any) -> Callable[[], Any]:
    return lambda: _ByRating(model)


def cornac_rows(train: pd.DataFrame, test: pd.DataFrame, seed: int) -> list[dict[str, Any]]:
    """Cornac's MostPop, EASE and VAE on the same split, scored by the same protocol."""
    try:
        import cornac
    except ImportError:
        log("  (cornac not installed: pip install cornac for its peer rows)")
        return []
    from _cornac import CornacRanker

    rows = []
    for name, make, binary in (
        ("Cornac MostPop", lambda: cornac.models.MostPop(), False),
        (
            "Cornac EASE (lamb=500, binarised)",
            lambda: cornac.models.EASE(lamb=500, posB=False, verbose=False),
            True,
        ),
        (
            "Cornac VAE (k=20, 100 epochs, binarised)",
            lambda: cornac.models.VAECF(k=20, n_epochs=100, seed=seed, verbose=False),
            True,
        ),
    ):
        rows.append(
            _row(
                name,
                lambda m=make, b=binary: CornacRanker(m(), binary=b).fit(train),
                train,
                test,
                False,
            )
        )
    return rows


def run(ratings: pd.DataFrame, name: str, seed: int, args: argparse.Namespace) -> list[dict]:
    train, test = split_ratings(ratings, name, random_state=seed)
    log(f"{name} split, random_state={seed}: {len(train):,} train / {len(test):,} test")
    over = {} if args.epochs is None else {"epochs": args.epochs}
    default = _common.default_model(seed, **over)
    best = _common.best_config(seed, **over)
    rows = [
        _row("autorec default (hybrid ranking)", lambda: default.fit(train), train, test, True),
        _row("autorec default, by predicted rating", _by_rating(default), train, test, True),
        _row("autorec best configuration (hybrid)", lambda: best.fit(train), train, test, True),
        _row("autorec best, by predicted rating", _by_rating(best), train, test, True),
    ]
    reference = _common.reference_model(seed, **over)
    rows.append(_row("reference network (hybrid)", lambda: reference.fit(train), train, test, True))
    item = make_model("item", random_state=seed, ranking="rating", **over)
    rows.append(
        _row("i-autorec preset, by predicted rating", lambda: item.fit(train), train, test, True)
    )
    rows.append(_row("MostPopular", lambda: MostPopular().fit(train), train, test, False))
    rows.append(_row("EASE (l2=500)", lambda: EASE().fit(train), train, test, False))
    if not args.no_cornac:
        rows += cornac_rows(train, test, seed)
    for row in rows:
        row.update(split=name, seed=seed)
    return rows


def summarize(results: list[dict], name: str) -> list[dict]:
    names = list(dict.fromkeys(r["model"] for r in results if r["split"] == name))
    out = []
    for model in names:
        runs = [r for r in results if r["split"] == name and r["model"] == model]
        row: dict[str, Any] = {"model": model, "n_seeds": len(runs)}
        for key, _, _ in COLUMNS:
            values = [r[key] for r in runs if r.get(key) is not None]
            row[key], row[key + "_std"] = _common.mean_std(values) if values else (None, None)
        out.append(row)
    return out


def render(summary: list[dict], markdown: bool) -> str:
    headers = ["Model"] + [label for _, label, _ in COLUMNS]
    rows = []
    for row in summary:
        cells = [row["model"]]
        for key, _, digits in COLUMNS:
            spread = (  # a spread only over several random states
                row.get(key + "_std")
                if key in ("ndcg@10", "recall@10") and row["n_seeds"] > 1
                else None
            )
            cells.append(_common.fmt(row[key], digits, spread=spread))
        rows.append(cells)
    return _common.table(headers, rows, markdown=markdown)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    warnings.filterwarnings("ignore", message=r".*not seen in fit", category=UserWarning)
    warnings.filterwarnings("ignore", message=r".*unknown to the model", category=UserWarning)
    threads = _common.set_threads(args.threads)
    ratings = _common.load_ratings(_common.data_home(args.data_home), args.users)
    started = time.perf_counter()
    results = []
    for name in args.split_list:
        for seed in args.seed_list:
            results.extend(run(ratings, name, seed, args))
    seconds = time.perf_counter() - started
    info = _common.machine_info()
    if args.json:
        summary = {name: summarize(results, name) for name in args.split_list}
        print(_common.dump_json({"results": results, "summary": summary, "machine": info}))
        return 0
    md = args.markdown
    out = []
    for name in args.split_list:
        title = (
            f"Full-catalogue top-10, MovieLens-1M {SPLITS[name].description}, random states "
            f"{', '.join(map(str, args.seed_list))}"
        )
        out += [_common.heading(title, markdown=md), "", render(summarize(results, name), md), ""]
    out.append(
        "NDCG@10, recall@10: mean ± std over the random states (relevant = test rating >= 4; "
        "recall divides by min(10, number relevant)); coverage: share of the catalogue that "
        "appears in some user's top 10; median ratings: training ratings of the recommended "
        f"movies. {threads} torch threads, {seconds:.0f} s in all."
    )
    bullet = "- " if md else "  "
    out += ["Machine:"] + [bullet + line for line in _common.machine_lines(info) if line]
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
