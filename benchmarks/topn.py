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

Tuned peers (``benchmarks/_peers.py``): EASE (l2 x input binarised / liked only / rating
minus a shift), EDLAE (Steck 2020: EASE with a dropout-implied penalty; l2 x dropout x
input), item kNN, RP3beta, iALS (``implicit``) and Mult-VAE (Cornac), each
with its parameters chosen on a validation slice carved from the training ratings (10%,
of each user's ratings on the standard split), refitted on all the training ratings and
scored on test once; their grids, choices and validation figures are printed after the
tables. A peer whose optional library is missing is skipped with a note.

Usage::

    python benchmarks/topn.py                  # standard + random90, seeds 0-2
    python benchmarks/topn.py --seeds 0 --splits standard --markdown
    python benchmarks/topn.py --quick          # 500 users, 2 epochs (CI; not representative)
    python benchmarks/topn.py --rows default,tuned   # autorec's default beside the tuned peers
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import _common
import _peers
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


ROW_GROUPS = {
    "default": "autorec's default, hybrid and by predicted rating",
    "autorec": "the best configuration, the reference network, the i-autorec preset",
    "baselines": "MostPopular, EASE with l2=500 on binarised input",
    "tuned": "the peers tuned on validation",
    "cornac": "Cornac's untuned MostPop, EASE and VAE",
}


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
    parser.add_argument(
        "--rows",
        default=",".join(ROW_GROUPS),
        help="comma separated, from: " + "; ".join(f"{k} ({v})" for k, v in ROW_GROUPS.items()),
    )
    parser.add_argument("--threads", type=int, default=None, help="torch threads")
    parser.add_argument(
        "--peers", default=None, help="tuned peers to run, comma separated name prefixes (all)"
    )
    parser.add_argument("--quick", action="store_true", help="CI: seed 0, 500 users, 2 epochs")
    parser.add_argument("--markdown", action="store_true", help="Markdown tables")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    if args.quick:
        args.seeds, args.splits = "0", "standard"
        args.users, args.epochs = args.users or 500, args.epochs or 2
    args.row_set = {s.strip() for s in args.rows.split(",") if s.strip()}
    if args.row_set - set(ROW_GROUPS):
        parser.error(f"unknown row group(s) {sorted(args.row_set - set(ROW_GROUPS))}")
    if args.no_cornac:
        args.row_set.discard("cornac")
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
    groups = args.row_set
    rows = []
    if "default" in groups:
        default = _common.default_model(seed, **over)
        rows += [
            _row("autorec default (hybrid ranking)", lambda: default.fit(train), train, test, True),
            _row("autorec default, by predicted rating", _by_rating(default), train, test, True),
        ]
    if "autorec" in groups:
        best = _common.best_config(seed, **over)
        rows += [
            _row("autorec best configuration (hybrid)", lambda: best.fit(train), train, test, True),
            _row("autorec best, by predicted rating", _by_rating(best), train, test, True),
        ]
        reference = _common.reference_model(seed, **over)
        rows.append(
            _row("reference network (hybrid)", lambda: reference.fit(train), train, test, True)
        )
        item = make_model("item", random_state=seed, ranking="rating", **over)
        label = "i-autorec preset, by predicted rating"
        rows.append(_row(label, lambda: item.fit(train), train, test, True))
    if "baselines" in groups:
        rows.append(_row("MostPopular", lambda: MostPopular().fit(train), train, test, False))
        rows.append(_row("EASE (l2=500)", lambda: EASE().fit(train), train, test, False))
    if "tuned" in groups:
        rows += tuned_rows(train, test, name, seed, args.quick, args.peers)
    if "cornac" in groups:
        rows += cornac_rows(train, test, seed)
    for row in rows:
        row.update(split=name, seed=seed)
    return rows


def tuned_rows(
    train: pd.DataFrame,
    test: pd.DataFrame,
    name: str,
    seed: int,
    quick: bool,
    only: str | None = None,
) -> list[dict[str, Any]]:
    """Every peer of ``_peers.peers`` (whose name starts with one of the comma separated
    ``only``, if given) tuned on a validation slice of ``train``, then scored on ``test``
    once."""
    rows = []
    prefixes = tuple(p.strip() for p in only.split(",")) if only else ("",)
    for peer in _peers.peers(seed, quick):
        if not peer.name.startswith(prefixes):
            continue
        if not peer.grid:
            log(f"  {peer.name}: {peer.note}")
            rows.append({"model": f"{peer.name}, tuned", "skipped": peer.note})
            continue
        log(f"  tuning {peer.name} over {len(peer.grid)} points ({peer.note})")
        tuned = _peers.tune(peer, train, SPLITS[name].by, seed, log)
        row: dict[str, Any] = {"model": f"{peer.name}, tuned", "fit_seconds": tuned.fit_seconds}
        row.update(evaluate_ranking(tuned.model, train, test, k=10))
        row.update(
            chosen=tuned.chosen,
            validation_ndcg=max(v for _, v in tuned.validation),
            grid=[{"params": p, "validation_ndcg": v} for p, v in tuned.validation],
            tune_seconds=tuned.tune_seconds,
            note=peer.note,
        )
        log(
            f"  {row['model']} ({_peers.fmt_params(tuned.chosen)}): NDCG@10 "
            f"{row['ndcg@10']:.4f}, recall@10 {row['recall@10']:.4f}, "
            f"{tuned.fit_seconds:.1f}s (grid {tuned.tune_seconds:.0f}s)"
        )
        rows.append(row)
    return rows


def grid_lines(results: list[dict], name: str, markdown: bool) -> list[str]:
    """The tuned peers' grids, and per random state the choice, its validation and test
    NDCG@10."""
    tuned = [r for r in results if r["split"] == name and ("chosen" in r or "skipped" in r)]
    if not tuned:
        return []
    out = [
        "Tuned peers: grid, then per random state the chosen parameters, their validation "
        "NDCG@10 (10% of the training ratings held out) and test NDCG@10:",
        "",
    ]
    bullet = "- " if markdown else "  "
    for model in dict.fromkeys(r["model"] for r in tuned):
        runs = [r for r in tuned if r["model"] == model]
        if "skipped" in runs[0]:
            out.append(f"{bullet}{model}: {runs[0]['skipped']}")
            continue
        points = [g["params"] for g in runs[0]["grid"]]
        keys = list(dict.fromkeys(k for p in points for k in p))
        space = ", ".join(
            f"{k} in {{{', '.join(map(_fmt_value, dict.fromkeys(p.get(k) for p in points)))}}}"
            for k in keys
        )
        out.append(f"{bullet}{model} ({runs[0]['note']}); {len(points)} points: {space}")
        for r in runs:
            out.append(
                f"{bullet}  random state {r['seed']}: {_peers.fmt_params(r['chosen'])}; "
                f"validation {r['validation_ndcg']:.4f}, test {r['ndcg@10']:.4f}; fit "
                f"{r['fit_seconds']:.1f} s, grid {r['tune_seconds']:.0f} s"
            )
    return [*out, ""]


def _fmt_value(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def summarize(results: list[dict], name: str) -> list[dict]:
    kept = [r for r in results if r["split"] == name and "skipped" not in r]
    names = list(dict.fromkeys(r["model"] for r in kept))
    out = []
    for model in names:
        runs = [r for r in kept if r["model"] == model]
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
        out += grid_lines(results, name, md)
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
