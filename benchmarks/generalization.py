"""Does autorec generalize beyond MovieLens-1M? The same rows on six differently shaped data sets.

For each data set (split with the standard per-user 75/25 protocol,
``autorec.evaluation.split(ratings, "standard", random_state=seed)``) and each model: the
test RMSE (clipped to the rating scale), full-catalogue NDCG@10
(``autorec.evaluation.evaluate_ranking``: candidates = every item the user did not rate
in training, relevant = test ratings >= 4; each model ranked by its own ``recommend``
order) and the fit seconds, plus the gap in test RMSE to ``BiasBaseline`` and to the best
Cornac MF on the same split (negative = better than that peer). The issue's target: the
default model (``AutoEncoderRecommender()``) beats the bias baseline by at least 0.02 RMSE and
is no worse than the best Cornac MF on every data set; a last table checks it.

Rows: ``BiasBaseline``; Cornac MF (``pip install cornac``; SGD, 25 epochs, lr 0.01, with
biases) over the grid k in {10, 50} x lambda_reg in {0.01, 0.02, 0.05}, at each random state
the point with the best RMSE on a validation slice of the training ratings (10 % of each
user's held out; never the test ratings), refitted on all of them; the
default (``make_model("default")``, the class defaults); the reference network
(``make_model("user")``); the i-autorec preset
(``make_model("item")``); the blend of both (``make_model("blend")``, the best
configuration).

Data sets (``--datasets``, short names):

* ``ml1m``: MovieLens-1M, all of it;
* ``ml1m-1000users``: 1,000 users drawn at random (the random state's generator);
* ``ml1m-10pct``: a random 10 % of the ratings (no user dropped: the standard split keeps
  a user's only one or two ratings in training, so such users have no test ratings);
* ``ml1m-items50``: only the movies with at least 50 ratings;
* ``synth-many-items``: ``make_ratings(n_users=300, n_items=3000, n_ratings=60000)``;
* ``synth-many-users``: ``make_ratings(n_users=20000, n_items=100, n_ratings=200000)``.

Usage::

    python benchmarks/generalization.py                  # all six data sets, seed 0 (*)
    python benchmarks/generalization.py --seeds 0,1,2 --markdown
    python benchmarks/generalization.py --datasets ml1m-1000users,synth-many-items \\
        --models bias,reference,item --no-cornac
    python benchmarks/generalization.py --json > generalization.json
    python benchmarks/generalization.py --quick          # tiny, 2 epochs, synthetic only (CI)

(*) On a busy 2-core machine, one random state of the four smaller sets took about
5 minutes; ``ml1m`` and ``ml1m-items50`` (about a million ratings each) add several
minutes each.

``--quick`` never reads MovieLens: the four ML-1M sets are cut from a small synthetic
stand-in, and every set is shrunk; its numbers are not representative.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import _common
import numpy as np
import pandas as pd

from autorec import AutoEncoderRecommender
from autorec._config import planned_epochs
from autorec.baselines import BiasBaseline
from autorec.datasets import make_ratings, train_test_split
from autorec.evaluation import MODELS, evaluate_ranking, make_model, rating_scores, sub_models
from autorec.evaluation import split as split_ratings
from autorec.metrics import rmse

#: The target of the issue: the default beats BiasBaseline by this much test RMSE.
TARGET_GAP = 0.02
#: Cornac MF: fixed settings, and the grid searched (on a validation slice of the training
#: ratings: ``VALIDATION_FRACTION`` of each user's, seeded by the random state + 1000).
MF_FIXED = {"max_iter": 25, "learning_rate": 0.01, "use_bias": True}
MF_GRID = [(k, lam) for k in (10, 50) for lam in (0.01, 0.02, 0.05)]
VALIDATION_FRACTION = 0.1

#: Row keys (``--models``), in table order, with their labels; the autorec ones map to
#: ``autorec.evaluation.MODELS``.
ROWS = {
    "bias": "BiasBaseline (user + item bias)",
    "mf": "Cornac MF",
    "default": "autorec default (residual I-AutoRec)",
    "reference": "autorec reference network (preset)",
    "item": "autorec i-autorec preset",
    "blend": "autorec best configuration (blend)",
}
AUTOREC_KIND = {"default": "default", "reference": "user", "item": "item", "blend": "blend"}
ALIASES = {"user": "reference", "cornac": "mf", "baseline": "bias"}
assert set(AUTOREC_KIND.values()) <= set(MODELS)

#: Sizes of the data sets: the real run, and --quick (a synthetic stand-in for ML-1M).
SIZES: dict[str, dict[str, Any]] = {
    "full": {
        "ml1m": "MovieLens-1M",
        "users": 1000,
        "min_item_ratings": 50,
        "many_items": (300, 3000, 60_000),
        "many_users": (20_000, 100, 200_000),
    },
    "quick": {
        "users": 100,
        "min_item_ratings": 50,
        "many_items": (40, 400, 2_400),
        "many_users": (2_000, 30, 10_000),
        "stand_in": (400, 300, 16_000),
    },
}
FRACTION = 0.1


# ----------------------------------------------------------------------------- data sets
@dataclass(frozen=True)
class DataSpec:
    """A data set: a title, and how to build it from ML-1M (or not) and a random state."""

    title: Callable[[dict[str, Any]], str]
    build: Callable[[pd.DataFrame | None, dict[str, Any], int], pd.DataFrame]
    ml1m: bool = True


def _random_users(base: pd.DataFrame | None, sizes: dict[str, Any], seed: int) -> pd.DataFrame:
    users = np.unique(base["user_id"])
    rng = np.random.default_rng(seed)
    keep = rng.choice(users, size=min(sizes["users"], users.size), replace=False)
    return base[base["user_id"].isin(keep)].reset_index(drop=True)


def _random_ratings(base: pd.DataFrame | None, sizes: dict[str, Any], seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(len(base), size=round(FRACTION * len(base)), replace=False))
    return base.iloc[rows].reset_index(drop=True)


def _popular_items(base: pd.DataFrame | None, sizes: dict[str, Any], seed: int) -> pd.DataFrame:
    counts = base["item_id"].value_counts()
    keep = counts.index[counts >= sizes["min_item_ratings"]]
    return base[base["item_id"].isin(keep)].reset_index(drop=True)


def _synthetic(key: str) -> Callable[[pd.DataFrame | None, dict[str, Any], int], pd.DataFrame]:
    def build(base: pd.DataFrame | None, sizes: dict[str, Any], seed: int) -> pd.DataFrame:
        n_users, n_items, n_ratings = sizes[key]
        return make_ratings(n_users, n_items, n_ratings, random_state=seed)

    return build


def _shape(sizes: dict[str, Any], key: str) -> str:
    n_users, n_items, n_ratings = sizes[key]
    return f"make_ratings({n_users:,} users, {n_items:,} items, {n_ratings:,} ratings)"


SIZES["quick"]["ml1m"] = "ML-1M stand-in " + _shape(SIZES["quick"], "stand_in")
DATASETS: dict[str, DataSpec] = {
    "ml1m": DataSpec(lambda s: f"{s['ml1m']}, all of it", lambda base, s, seed: base),
    "ml1m-1000users": DataSpec(
        lambda s: f"{s['ml1m']}, {s['users']:,} random users", _random_users
    ),
    "ml1m-10pct": DataSpec(
        lambda s: f"{s['ml1m']}, a random {FRACTION:.0%} of the ratings", _random_ratings
    ),
    "ml1m-items50": DataSpec(
        lambda s: f"{s['ml1m']}, items with >= {s['min_item_ratings']} ratings", _popular_items
    ),
    "synth-many-items": DataSpec(
        lambda s: "synthetic, many items / few users: " + _shape(s, "many_items"),
        _synthetic("many_items"),
        ml1m=False,
    ),
    "synth-many-users": DataSpec(
        lambda s: "synthetic, many users / few items: " + _shape(s, "many_users"),
        _synthetic("many_users"),
        ml1m=False,
    ),
}


class _Base:
    """The ratings the ML-1M sets are cut from: the real ML-1M (read once), or with
    --quick a small synthetic stand-in (one per random state)."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self._real: pd.DataFrame | None = None

    def __call__(self, seed: int) -> pd.DataFrame:
        if self.args.quick:
            n_users, n_items, n_ratings = SIZES["quick"]["stand_in"]
            return make_ratings(n_users, n_items, n_ratings, random_state=seed)
        if self._real is None:
            home = _common.data_home(self.args.data_home)
            self._real = _common.load_ratings(home)
            log(f"MovieLens-1M from {home}: {len(self._real):,} ratings")
        return self._real


# ----------------------------------------------------------------------------- models
class _CornacMF:
    """Cornac MF fed our exact split (``_cornac.CornacRanker``), plus the ``predict`` and
    ``rating_scale_`` that ``autorec.evaluation.rating_scores`` needs.

    A test pair whose user or item Cornac never saw in training gets MF's own fallback:
    the global mean plus whichever biases are known (no factor term).
    """

    def __init__(self, model: Any) -> None:
        from _cornac import CornacRanker

        self.ranker = CornacRanker(model)

    def fit(self, train: pd.DataFrame) -> _CornacMF:
        ranker = self.ranker.fit(train)
        self.rating_scale_ = (float(train["rating"].min()), float(train["rating"].max()))
        # Cornac's index of each autorec user row (the item columns: ranker._columns).
        self._rows = np.array([ranker._uid[str(u)] for u in ranker.user_map_.ids], np.int64)
        return self

    def __getattr__(self, name: str) -> Any:  # user_map_, _user_scores, ... for the ranking
        return getattr(self.__dict__["ranker"], name)

    def predict(self, pairs: pd.DataFrame, *, clip: bool = True) -> np.ndarray:
        mf, ranker = self.ranker.model, self.ranker
        users = ranker.user_map_.transform(pairs["user_id"].to_numpy())
        items = ranker.item_map_.transform(pairs["item_id"].to_numpy())
        u = np.where(users >= 0, self._rows[np.maximum(users, 0)], -1)
        i = np.where(items >= 0, ranker._columns[np.maximum(items, 0)], -1)
        pred = np.full(len(pairs), float(mf.global_mean))
        pred[u >= 0] += mf.u_biases[u[u >= 0]]
        pred[i >= 0] += mf.i_biases[i[i >= 0]]
        both = (u >= 0) & (i >= 0)
        pred[both] += np.einsum("ij,ij->i", mf.u_factors[u[both]], mf.i_factors[i[both]])
        return np.clip(pred, *self.rating_scale_) if clip else pred


def _tuned_mf(train: pd.DataFrame, test: pd.DataFrame, seed: int) -> dict[str, Any]:
    """Cornac MF at the grid point with the best RMSE on a validation slice of ``train``
    (each user's ``VALIDATION_FRACTION``), refitted on all of ``train`` and scored on
    ``test``; the row holds the grid's validation RMSEs."""
    import cornac

    fit_part, held_out = train_test_split(
        train, VALIDATION_FRACTION, by="user", random_state=seed + 1000
    )
    grid = []
    for k, lam in MF_GRID:
        mf = _CornacMF(cornac.models.MF(k=k, lambda_reg=lam, seed=seed, **MF_FIXED))
        error = rmse(held_out["rating"], mf.fit(fit_part).predict(held_out))
        grid.append({"k": k, "lambda_reg": lam, "val_rmse": error})
        log(f"    Cornac MF ({_mf_label(k, lam)}): validation RMSE {error:.4f}")
    best = min(grid, key=lambda g: g["val_rmse"])
    k, lam = best["k"], best["lambda_reg"]
    chosen = cornac.models.MF(k=k, lambda_reg=lam, seed=seed, **MF_FIXED)
    name = f"Cornac MF ({_mf_label(k, lam)})"
    row = _score("mf", name, lambda: _CornacMF(chosen).fit(train), train, test)
    return {**row, "k": k, "lambda_reg": lam, "grid": grid}


def _mf_label(k: int, lambda_reg: float) -> str:
    return f"k={k}, lambda_reg={lambda_reg}"


def _score(
    key: str, name: str, fit: Callable[[], Any], train: pd.DataFrame, test: pd.DataFrame
) -> dict[str, Any]:
    """Fit one model; its test RMSE (``rating_scores``) and NDCG@10 (``evaluate_ranking``)."""
    tick = time.perf_counter()
    model = fit()
    seconds = time.perf_counter() - tick
    scores = rating_scores(model, train, test)
    ranking = evaluate_ranking(model, train, test, k=10)
    row: dict[str, Any] = {
        "model": key,
        "name": name,
        "fit_seconds": seconds,
        "train_rmse": scores["rmse_train"],
        "test_rmse": scores["rmse_test"],
        "ndcg@10": ranking["ndcg@10"],
        "recall@10": ranking["recall@10"],
    }
    if key in AUTOREC_KIND:
        row["epochs_run"] = [len(m.history_["seconds"]) for m in sub_models(model)]
    log(
        f"    {name}: test RMSE {row['test_rmse']:.4f}, NDCG@10 {row['ndcg@10']:.4f}, "
        f"{seconds:.1f}s"
    )
    return row


def run_one(
    ratings: pd.DataFrame, data: str, seed: int, args: argparse.Namespace
) -> list[dict[str, Any]]:
    """Every requested model on one data set and random state (MF: tuned on validation)."""
    train, test = split_ratings(ratings, "standard", random_state=seed)
    log(f"  random_state={seed}: {len(train):,} train / {len(test):,} test ratings")
    rows = []
    for key in args.model_list:
        if key == "bias":
            rows.append(_score(key, ROWS[key], lambda: BiasBaseline().fit(train), train, test))
        elif key == "mf":
            rows.append(_tuned_mf(train, test, seed))
        else:
            model = make_model(AUTOREC_KIND[key], random_state=seed, **args.overrides)
            rows.append(_score(key, ROWS[key], lambda m=model: m.fit(train), train, test))
    for row in rows:
        row.update(dataset=data, seed=seed, n_train=len(train), n_test=len(test))
    return rows


# ----------------------------------------------------------------------------- summary
def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """One data set's rows: means over the seeds, MF's grid and choices, the gaps."""
    out: dict[str, Any] = {"rows": [], "mf_grid": [], "mf_best": None}
    mf_runs = [r for r in runs if r["model"] == "mf"]
    best = {r["seed"]: r for r in mf_runs}  # the MF chosen on validation, per seed
    if mf_runs:
        for k, lam in MF_GRID:
            point = [g for r in mf_runs for g in r["grid"] if (g["k"], g["lambda_reg"]) == (k, lam)]
            mean, std = _common.mean_std(g["val_rmse"] for g in point)
            out["mf_grid"].append({"k": k, "lambda_reg": lam, "val_rmse": mean, "std": std})
        out["mf_best"] = [
            {"seed": r["seed"], "k": r["k"], "lambda_reg": r["lambda_reg"]} for r in mf_runs
        ]
    bias = {r["seed"]: r for r in runs if r["model"] == "bias"}
    for key in ROWS:
        per_seed = list(best.values()) if key == "mf" else [r for r in runs if r["model"] == key]
        if not per_seed:
            continue
        name = ROWS[key]
        if key == "mf":
            choices = sorted({_mf_label(b["k"], b["lambda_reg"]) for b in out["mf_best"]})
            name += f" ({'; '.join(choices)}; chosen on validation)"
        row: dict[str, Any] = {"model": key, "name": name, "n_seeds": len(per_seed)}
        for metric in ("test_rmse", "ndcg@10", "recall@10", "fit_seconds", "train_rmse"):
            row[metric], row[metric + "_std"] = _common.mean_std(r[metric] for r in per_seed)
        for gap, peer in (("gap_bias", bias), ("gap_mf", best)):
            values = [r["test_rmse"] - peer[r["seed"]]["test_rmse"] for r in per_seed if peer]
            row[gap], row[gap + "_std"] = _common.mean_std(values) if values else (None, None)
        if key in AUTOREC_KIND and row["gap_bias"] is not None:
            row["target_met"] = row["gap_bias"] <= -TARGET_GAP and (
                row["gap_mf"] is None or row["gap_mf"] <= 0
            )
        out["rows"].append(row)
    return out


def _signed(value: float | None, spread: float | None = None) -> str:
    if value is None:
        return "-"
    return f"{value:+.4f}" + (f" ± {spread:.4f}" if spread is not None else "")


def render(summary: dict[str, Any], markdown: bool) -> str:
    headers = [
        "Model",
        "test RMSE",
        "Δ vs bias",
        "Δ vs best MF",
        "NDCG@10",
        "fit s",
        "target met",
    ]
    rows = []
    for row in summary["rows"]:
        several = row["n_seeds"] > 1
        met = row.get("target_met")
        rows.append(
            [
                row["name"],
                _common.fmt(row["test_rmse"], spread=row["test_rmse_std"] if several else None),
                "-" if row["model"] == "bias" else _signed(row["gap_bias"]),
                "-" if row["model"] == "mf" else _signed(row["gap_mf"]),
                _common.fmt(row["ndcg@10"], spread=row["ndcg@10_std"] if several else None),
                _common.fmt(row["fit_seconds"], 1),
                "" if met is None else ("yes" if met else "no"),
            ]
        )
    return _common.table(headers, rows, markdown=markdown)


def render_target(summaries: dict[str, Any], markdown: bool) -> str | None:
    """The issue's check on the default model, one row per data set."""
    headers = ["Data set", "bias RMSE", "best MF RMSE", "default RMSE", "Δ vs bias"]
    headers += ["Δ vs best MF", "target met", "best autorec row"]
    rows = []
    for data, summary in summaries.items():
        by_key = {r["model"]: r for r in summary["rows"]}
        default = by_key.get("default")
        if default is None:
            continue
        ours = [r for r in summary["rows"] if r["model"] in AUTOREC_KIND]
        winner = min(ours, key=lambda r: r["test_rmse"])
        met = default.get("target_met")
        rows.append(
            [
                data,
                _common.fmt(by_key["bias"]["test_rmse"]) if "bias" in by_key else "-",
                _common.fmt(by_key["mf"]["test_rmse"]) if "mf" in by_key else "-",
                _common.fmt(default["test_rmse"]),
                _signed(default["gap_bias"]),
                _signed(default["gap_mf"]),
                "-" if met is None else ("yes" if met else "no"),
                f"{winner['model']} ({winner['test_rmse']:.4f})",
            ]
        )
    return _common.table(headers, rows, markdown=markdown) if rows else None


# ----------------------------------------------------------------------------- command line
def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-home", help="folder holding ml-1m/ (default: ../shared/data)")
    parser.add_argument("--seeds", default="0", help="random states, comma separated")
    parser.add_argument(
        "--datasets",
        default=",".join(DATASETS),
        help="comma separated, from: " + ", ".join(DATASETS),
    )
    parser.add_argument(
        "--models", default=",".join(ROWS), help="comma separated, from: " + ", ".join(ROWS)
    )
    parser.add_argument(
        "--epochs", type=int, default=None, help="cap autorec's maximum epochs (early stopping)"
    )
    parser.add_argument("--no-cornac", action="store_true", help="leave out Cornac MF")
    parser.add_argument("--threads", type=int, default=None, help="torch threads")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="CI: seed 0, 2 epochs, small synthetic sets only (ML-1M never read)",
    )
    parser.add_argument("--markdown", action="store_true", help="Markdown tables")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    if args.quick:
        args.seeds, args.epochs = "0", min(args.epochs or 2, 2)
    args.seed_list = [int(s) for s in args.seeds.split(",") if s.strip()]
    args.data_list = [d.strip() for d in args.datasets.split(",") if d.strip()]
    asked = [ALIASES.get(m.strip(), m.strip()) for m in args.models.split(",") if m.strip()]
    args.model_list = [m for m in ROWS if m in asked]  # table order, no repeats
    bad = [d for d in args.data_list if d not in DATASETS]
    if bad:
        parser.error(f"unknown data set(s) {bad}; use {', '.join(DATASETS)}")
    bad = [m for m in asked if m not in ROWS]
    if bad:
        parser.error(f"unknown model(s) {bad}; use {', '.join(ROWS)}")
    if not args.seed_list:
        parser.error("--seeds needs at least one random state")
    if "mf" in args.model_list and not args.no_cornac:
        try:
            import cornac  # noqa: F401
        except ImportError:
            log("(cornac not installed: pip install cornac for the Cornac MF rows)")
            args.no_cornac = True
    if args.no_cornac and "mf" in args.model_list:
        args.model_list.remove("mf")
    # --epochs caps at the one-cycle budget (15), as before "auto" depended on the data
    default_epochs = planned_epochs(AutoEncoderRecommender(lr_schedule="one-cycle"))
    args.overrides = {} if args.epochs is None else {"epochs": min(args.epochs, default_epochs)}
    args.sizes = SIZES["quick" if args.quick else "full"]
    return args


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    # Test items absent from a training split get each model's documented fallback.
    warnings.filterwarnings("ignore", message=r".*not seen in fit", category=UserWarning)
    warnings.filterwarnings("ignore", message=r".*unknown to the model", category=UserWarning)
    threads = _common.set_threads(args.threads)
    if note := _common.busy_note(threads):
        log(note)
    base = _Base(args)
    started = time.perf_counter()
    runs: list[dict[str, Any]] = []
    shapes: dict[str, list[dict[str, int]]] = {}
    for data in args.data_list:
        spec = DATASETS[data]
        log(f"{data}: {spec.title(args.sizes)}")
        for seed in args.seed_list:
            ratings = spec.build(base(seed) if spec.ml1m else None, args.sizes, seed)
            shape = {
                "users": int(ratings["user_id"].nunique()),
                "items": int(ratings["item_id"].nunique()),
                "ratings": len(ratings),
            }
            shapes.setdefault(data, []).append(shape)
            runs.extend(run_one(ratings, data, seed, args))
    total = time.perf_counter() - started
    summaries = {d: summarize([r for r in runs if r["dataset"] == d]) for d in args.data_list}
    info = _common.machine_info()
    settings = {
        "seeds": args.seed_list,
        "datasets": args.data_list,
        "models": args.model_list,
        "autorec_epochs": args.overrides.get("epochs"),
        "mf_grid": MF_GRID if "mf" in args.model_list else None,
        "mf_fixed": MF_FIXED,
        "sizes": args.sizes,
        "quick": args.quick,
    }
    if args.json:
        out = {"settings": settings, "machine": info, "total_seconds": total, "shapes": shapes}
        print(_common.dump_json({**out, "summary": summaries, "runs": runs}))
        return 0

    md = args.markdown
    bullet = "- " if md else "  "
    seeds = ", ".join(map(str, args.seed_list))
    quick = " [--quick: synthetic stand-in, NOT representative]" if args.quick else ""
    out: list[str] = []
    for data in args.data_list:
        shape = shapes[data][0]
        title = f"{data}: {DATASETS[data].title(args.sizes)}, random states {seeds}{quick}"
        out += [_common.heading(title, markdown=md), ""]
        out.append(
            f"{shape['users']:,} users, {shape['items']:,} items, {shape['ratings']:,} ratings "
            f"({shape['ratings'] / shape['users']:.1f} per user, "
            f"{shape['ratings'] / shape['items']:.1f} per item"
            + (", random state " + str(args.seed_list[0]) if len(args.seed_list) > 1 else "")
            + "); standard split (25% of each user's ratings in test)."
        )
        out += ["", render(summaries[data], md), ""]
        grid = summaries[data]["mf_grid"]
        if grid:
            points = "; ".join(
                f"{_mf_label(g['k'], g['lambda_reg'])}: {g['val_rmse']:.4f}" for g in grid
            )
            out += [f"Cornac MF grid, mean validation RMSE: {points}.", ""]
    target = render_target(summaries, md)
    if target:
        head = (
            f"Target: the default beats BiasBaseline by >= {TARGET_GAP} RMSE and is no worse "
            "than the best Cornac MF"
        )
        out += [_common.heading(head, markdown=md), "", target, ""]
    epochs = (
        "the models' own maximum epochs"
        if args.epochs is None
        else f"at most {args.overrides['epochs']} epochs"
    )
    notes = [
        "test RMSE: predictions clipped to the rating scale; mean ± sample std over the "
        "random states when there are several (other columns: means).",
        "Δ vs bias / Δ vs best MF: test RMSE minus that of BiasBaseline / the chosen Cornac "
        "MF on the same split and random state (negative = better than that peer).",
        "NDCG@10: full catalogue (autorec.evaluation.evaluate_ranking): candidates = every "
        "item the user did not rate in training, relevant = test ratings >= 4; each model "
        "ranked by its own recommend() order (autorec: its `ranking` parameter, 'hybrid' by "
        "default; BiasBaseline and Cornac MF: by predicted rating).",
    ]
    if "mf" in args.model_list:
        fixed = ", ".join(f"{k}={v}" for k, v in MF_FIXED.items())
        ks = sorted({k for k, _ in MF_GRID})
        lams = sorted({lam for _, lam in MF_GRID})
        notes.append(
            f"Cornac MF: cornac.models.MF({fixed}, seed=random state) fed the same split "
            f"(benchmarks/_cornac.py), grid k in {ks} x lambda_reg in {lams}; at each random "
            "state the point with the best RMSE on a validation slice of the training ratings "
            f"({VALIDATION_FRACTION:.0%} of each user's held out; never the test ratings), "
            "refitted on all of them. Unknown users or items get MF's fallback (global mean + "
            "known biases); its fit s (the chosen point's refit) include building Cornac's "
            "Dataset from the training frame."
        )
    if target:
        notes.append(
            f"target met (autorec rows): Δ vs bias <= -{TARGET_GAP} and Δ vs best MF <= 0 "
            "(the MF part is skipped when there is no MF row)."
        )
    notes.append(
        f"autorec: {epochs}, early stopping on a validation slice of the training ratings."
    )
    if "ml1m-10pct" in args.data_list:
        notes.append(
            f"ml1m-10pct: no user is dropped; a user left with 1 or 2 of the {FRACTION:.0%} "
            "keeps them in training (the standard split rounds 25% of 2 to 0) and has no test "
            "ratings."
        )
    out += ["Notes:"] + [bullet + n for n in notes]
    out += ["", "Machine:"] + [bullet + line for line in _common.machine_lines(info) if line]
    out.append(f"{bullet}total benchmark time: {total:.0f} s")
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
