"""Speed on MovieLens-1M: autorec's default model against the reference notebook's loop.

In one process, on the training part of the standard split (random state 0): seconds
per epoch of the notebook's one-user-per-step loop and of autorec's default model, and
their ratio (and of the reference network, the notebook's own architecture, for a
like-for-like ratio); the whole default fit (with early stopping), its epochs and the
size of the saved model; the default epoch's FLOP estimate against the machine's
float32 GEMM rate measured in the same run; the blend's whole fit; Cornac's biased MF
and EASE fitted on the same data as cost peers (when Cornac is installed); predicting
every user x item; one user's ``recommend``; the peak resident memory. Each number is
printed beside its target with PASS / FAIL.

Usage::

    python benchmarks/speed.py               # full data (a few minutes on 2 cores)
    python benchmarks/speed.py --notebook-users 1000   # time the notebook on 1,000 users
    python benchmarks/speed.py --no-blend    # skip the blend's fit (the longest part)
    python benchmarks/speed.py --quick       # 300 users, 3 epochs (CI; not representative)
    python benchmarks/speed.py --json
"""

from __future__ import annotations

import argparse
import importlib.util
import itertools
import os
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Sequence
from typing import Any

import _common
import _notebook
import numpy as np
import torch

from autorec.evaluation import split
from autorec.metrics import rmse

#: key: (label, unit, comparison, target)
TARGETS: dict[str, tuple[str, str, str, float]] = {
    "speedup": ("epoch speedup over the notebook loop", "x", ">=", 40.0),
    "fit_seconds": ("whole default fit (early stopping)", "s", "<=", 10.0),
    "blend_fit_seconds": ("whole blend fit (BlendRecommender())", "s", "<=", 60.0),
    "flop_ratio": ("default epoch / its FLOP estimate at the GEMM rate", "x", "<=", 3.0),
    "predict_all_seconds": ("predict all users x items (best of 3)", "s", "<=", 1.0),
    "recommend_ms": ("one user's recommend(k=10), median of 100", "ms", "<=", 10.0),
    "peak_rss_mb": ("peak RSS (data + autorec fit/predict)", "MB", "<=", 1500.0),
    "ranking_overhead_pct": (
        "ranking part of the default fit, vs ranking='rating'",
        "%",
        "<=",
        30.0,
    ),
}


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data-home",
        help="folder holding ml-1m/ (default: $AUTOREC_DATA_HOME, else ../shared/data)",
    )
    parser.add_argument(
        "--notebook-users",
        type=int,
        default=None,
        help="time the notebook loop on the first N users and extrapolate (default: all)",
    )
    parser.add_argument("--users", type=int, default=None, help="only the first N user ids")
    parser.add_argument(
        "--epochs", type=int, default=None, help="override autorec's maximum epochs"
    )
    parser.add_argument("--seed", type=int, default=0, help="random state of split and model")
    parser.add_argument(
        "--threads", type=int, default=None, help="torch threads (default: the usable cores)"
    )
    parser.add_argument(
        "--quick", action="store_true", help="CI setting: 300 users, 3 epochs, notebook on 100"
    )
    parser.add_argument("--no-blend", action="store_true", help="skip the blend's fit")
    parser.add_argument(
        "--no-peers", action="store_true", help="skip the Cornac MF and EASE peer fits"
    )
    parser.add_argument("--markdown", action="store_true", help="a Markdown table")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead")
    args = parser.parse_args(argv)
    if args.quick:
        args.users = args.users or 300
        args.epochs = args.epochs or 3
        args.notebook_users = args.notebook_users or 100
    return args


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def measure(args: argparse.Namespace) -> dict[str, Any]:
    home = _common.data_home(args.data_home)
    ratings = _common.load_ratings(home, args.users)
    train, test = split(ratings, "standard", random_state=args.seed)
    log(f"standard split, random_state={args.seed}: {len(train):,} train / {len(test):,} test")
    result: dict[str, Any] = {"n_train": len(train), "n_test": len(test)}
    # The default fit comes first in the process and pays every one-off cost a fresh
    # process pays (torch.optim's wrapper would import torch._dynamo, over a second: the
    # fit's Adam does without it, and the table says whether the fit imported it).
    dynamo_before = "torch._dynamo" in sys.modules

    # autorec first, so that the peak RSS below is autorec's (plus the data), not the
    # notebook's dense matrices.
    overrides = {} if args.epochs is None else {"epochs": args.epochs}
    model = _common.default_model(args.seed, **overrides).fit(train)
    seconds = model.history_["seconds"]
    result.update(
        fit_imported_dynamo=None if dynamo_before else "torch._dynamo" in sys.modules,
        fit_seconds=model.fit_seconds_,
        train_seconds=sum(seconds),
        epoch_seconds_autorec=statistics.mean(seconds),
        epochs_run=len(seconds),
        best_epoch=model.best_epoch_,
        test_rmse_autorec=rmse(test["rating"], model.predict(test)),
        n_users=model.n_users_,
        n_items=model.n_items_,
    )
    log(f"autorec default fit: {model.fit_seconds_:.1f}s, {len(seconds)} epochs")
    with tempfile.TemporaryDirectory() as folder:
        result["model_file_mb"] = os.path.getsize(model.save(os.path.join(folder, "m"))) / 1e6
    result["gemm_gflops"] = gemm_gflops()
    result["epoch_gflop"] = epoch_flops(model, len(train)) / 1e9
    result["epoch_seconds_at_gemm_rate"] = result["epoch_gflop"] / result["gemm_gflops"]
    result["flop_ratio"] = result["epoch_seconds_autorec"] / result["epoch_seconds_at_gemm_rate"]
    log(
        f"epoch estimate {result['epoch_gflop']:.2f} GFLOP at {result['gemm_gflops']:.0f} "
        f"GFLOP/s: {result['epoch_seconds_at_gemm_rate']:.3f}s"
    )

    tick = time.perf_counter()
    matrix = model.predict_matrix()
    result["predict_all_cold_seconds"] = time.perf_counter() - tick
    times = []
    for _ in range(3):
        tick = time.perf_counter()
        matrix = model.predict_matrix()
        times.append(time.perf_counter() - tick)
    result["predict_all_seconds"] = min(times)
    result["predict_all_shape"] = list(matrix.shape)
    del matrix

    users = model.user_map_.ids
    model.recommend(users[0], k=10)  # warm-up
    times = []
    for i in range(100):
        user = users[i % len(users)]
        tick = time.perf_counter()
        model.recommend(user, k=10)
        times.append(time.perf_counter() - tick)
    result["recommend_ms"] = 1000 * statistics.median(times)
    result["peak_rss_mb"] = _common.peak_rss_mb()
    del model

    # What the hybrid ranking adds to a fit (its exposure model and weight choice): the
    # same fit with ranking="rating"; the time outside the training loop is compared,
    # so the epochs' own jitter does not count.
    plain = _common.default_model(args.seed, ranking="rating", **overrides).fit(train)
    outside_plain = plain.fit_seconds_ - sum(plain.history_["seconds"])
    outside_hybrid = result["fit_seconds"] - sum(seconds)
    result.update(
        fit_seconds_rating_only=plain.fit_seconds_,
        ranking_seconds=outside_hybrid - outside_plain,
        ranking_overhead_pct=100 * max(outside_hybrid - outside_plain, 0.0) / plain.fit_seconds_,
    )
    log(f"the same fit with ranking='rating': {plain.fit_seconds_:.1f}s")
    del plain

    if args.no_blend:
        result.update(blend_fit_seconds=float("nan"), test_rmse_blend=float("nan"))
    else:
        blend = _common.best_config(args.seed, **overrides).fit(train)
        result.update(
            blend_fit_seconds=blend.fit_seconds_,
            test_rmse_blend=rmse(test["rating"], blend.predict(test)),
        )
        log(f"blend fit: {blend.fit_seconds_:.1f}s")
        del blend
    result["peers"] = {} if args.no_peers else peer_fits(train, test, args.seed)

    # The notebook's own network (the reference preset), a few epochs: the like-for-like
    # epoch comparison (the default's item network does more work per epoch).
    reference = _common.reference_model(
        args.seed, ranking="rating", epochs=min(args.epochs or 5, 5)
    ).fit(train)
    result["epoch_seconds_reference"] = statistics.median(reference.history_["seconds"])
    result["reference_epochs_timed"] = len(reference.history_["seconds"])
    log(f"reference network: {result['epoch_seconds_reference']:.2f}s per epoch")
    del reference

    n_users = train["user_id"].nunique()
    timed = n_users if args.notebook_users is None else min(args.notebook_users, n_users)
    log(f"notebook loop: 1 epoch on {timed:,} of {n_users:,} users ...")
    nb = _notebook.train(train, test, epochs=1, random_state=args.seed, max_users=timed)
    result.update(
        notebook_users_timed=timed,
        notebook_seconds_timed=nb.epoch_seconds[0],
        epoch_seconds_notebook=nb.epoch_seconds[0] * len(nb.user_ids) / timed,
        epoch_notebook_extrapolated=timed < len(nb.user_ids),
        peak_rss_total_mb=_common.peak_rss_mb(),
    )
    result["speedup"] = result["epoch_seconds_notebook"] / result["epoch_seconds_autorec"]
    result["speedup_reference"] = (
        result["epoch_seconds_notebook"] / result["epoch_seconds_reference"]
    )
    result["passed"] = {key: passes(key, result[key]) for key in TARGETS}
    return result


def passes(key: str, value: float) -> bool | None:
    _, _, op, target = TARGETS[key]
    if value != value:  # NaN: not measured
        return None
    return bool(value >= target) if op == ">=" else bool(value <= target)


def gemm_gflops(size: int = 2048, repeats: int = 5) -> float:
    """The machine's float32 matrix-product rate with the torch threads in use: the best
    of ``repeats`` products of two ``size`` x ``size`` matrices, in GFLOP/s."""
    a, b = torch.rand(size, size), torch.rand(size, size)
    a @ b  # warm-up
    best = float("inf")
    for _ in range(repeats):
        tick = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - tick)
    return 2 * size**3 / best / 1e9


def epoch_flops(model: Any, n_ratings: int) -> float:
    """Floating-point operations one epoch of ``model``'s network needs at least.

    Training touches each training rating (the validation slice held out): the first
    layer's weighted sum of one weight row per input table (two for a residual network:
    ratings and which items were rated) and the output at the rated cell, each ``2 x
    width`` operations forward and twice that backward; every further hidden layer a
    dense product per row. The validation pass once more forward, without the backward,
    plus the outputs at the validation cells, in the share of epochs validated (a
    one-cycle fit validates the second half). Zero cells are never computed.
    """
    params = model.fit_params_
    widths = list(params["hidden_layers"])
    n_val = round(n_ratings * params["validation_fraction"])
    n_fit = n_ratings - n_val
    rows = model.n_items_ if params["kind"] == "item" else model.n_users_
    tables = 2 if params["residual"] else 1
    per_rating = 2 * widths[0] * tables + 2 * widths[-1]  # encode + decode, forward
    hidden = sum(2 * a * b for a, b in itertools.pairwise(widths)) * rows
    forward = per_rating * n_fit + hidden
    validation = 2 * widths[0] * tables * n_fit + hidden + 2 * widths[-1] * n_val
    scores = model.history_["val_rmse"]
    validated = sum(score == score for score in scores) / max(len(scores), 1)
    return 3 * forward + validation * validated


def peer_fits(train: Any, test: Any, seed: int) -> dict[str, dict[str, float]]:
    """Fit seconds (and RMSE where it predicts ratings) of the cost peers on ``train``:
    autorec's EASE always, Cornac's biased MF when Cornac is installed."""
    from autorec._exposure import EASE

    out: dict[str, dict[str, float]] = {}
    tick = time.perf_counter()
    EASE().fit(train)
    out["EASE (autorec._exposure, l2=500)"] = {"fit_seconds": time.perf_counter() - tick}
    if importlib.util.find_spec("cornac") is None:
        log("Cornac is not installed: no MF peer")
        return out
    import cornac
    from cornac.data import Dataset

    triples = list(
        zip(
            train["user_id"].astype(str),
            train["item_id"].astype(str),
            train["rating"].astype(float),
            strict=True,
        )
    )
    tick = time.perf_counter()
    data = Dataset.from_uir(triples, seed=seed)
    # generalization.py's MF settings (biased MF, 25 epochs), k=10, lambda_reg=0.02
    mf = cornac.models.MF(
        k=10, max_iter=25, learning_rate=0.01, use_bias=True, lambda_reg=0.02, seed=seed
    )
    mf.fit(data)
    seconds = time.perf_counter() - tick
    users, items = data.uid_map, data.iid_map
    known = [
        (users[str(u)], items[str(i)], r)
        for u, i, r in zip(test["user_id"], test["item_id"], test["rating"], strict=True)
        if str(u) in users and str(i) in items
    ]
    pred = np.array([mf.score(u, i) for u, i, _ in known], dtype=np.float64)
    truth = np.array([r for _, _, r in known], dtype=np.float64)
    out["Cornac biased MF (k=10, 25 epochs)"] = {
        "fit_seconds": seconds,
        "test_rmse": float(np.sqrt(np.mean((np.clip(pred, 1, 5) - truth) ** 2))),
    }
    log(f"Cornac MF: {seconds:.1f}s")
    return out


def render(r: dict[str, Any], markdown: bool) -> str:
    def num(value: float, unit: str) -> str:
        digits = 1 if value >= 10 else (2 if value >= 0.1 else 3)
        return f"{value:.{digits}f} {unit}"

    extrap = (
        f" (timed {r['notebook_users_timed']:,} users, extrapolated)"
        if r["epoch_notebook_extrapolated"]
        else ""
    )
    rows: list[list[str]] = [
        [
            "notebook loop, seconds per epoch" + extrap,
            num(r["epoch_seconds_notebook"], "s"),
            "",
            "",
        ],
        [
            f"autorec default, seconds per epoch (mean of {r['epochs_run']})",
            num(r["epoch_seconds_autorec"], "s"),
            "",
            "",
        ],
        [
            "reference network (the notebook's), seconds per epoch "
            f"(median of {r['reference_epochs_timed']})",
            num(r["epoch_seconds_reference"], "s"),
            "",
            "",
        ],
        [
            "the same network's epoch speedup over the notebook loop",
            f"{r['speedup_reference']:.1f}x",
            "",
            "",
        ],
    ]
    for key, (label, unit, op, target) in TARGETS.items():
        value = r[key]
        shown = f"{value:.1f}x" if unit == "x" else num(value, unit)
        if unit == "%":
            shown = f"{value:.0f} % ({r['ranking_seconds']:.1f} s)"
        if value != value:
            shown = "not run"
        goal = f"{op} {target:g}{'x' if unit == 'x' else ' ' + unit}"
        verdict = {True: "PASS", False: "FAIL", None: ""}[r["passed"][key]]
        rows.append([label, shown, goal, verdict])
    rows += [
        [
            "default fit imported torch._dynamo (over a second, once a process)",
            {True: "yes", False: "no", None: "imported before it"}[r["fit_imported_dynamo"]],
            "",
            "",
        ],
        [f"default fit: epochs run (best {r['best_epoch']})", str(r["epochs_run"]), "", ""],
        ["default fit: its training loop (every epoch)", num(r["train_seconds"], "s"), "", ""],
        ["saved default model (safetensors file)", num(r["model_file_mb"], "MB"), "", ""],
        [
            f"default epoch estimate: {r['epoch_gflop']:.2f} GFLOP at "
            f"{r['gemm_gflops']:.0f} GFLOP/s (float32 GEMM, measured)",
            num(r["epoch_seconds_at_gemm_rate"], "s"),
            "",
            "",
        ],
    ]
    for name, peer in r["peers"].items():
        extra = f" (test RMSE {peer['test_rmse']:.4f})" if "test_rmse" in peer else ""
        rows.append([f"peer: {name} fit{extra}", num(peer["fit_seconds"], "s"), "", ""])
    rows.append(
        [
            "predict all, first call (encodes every user)",
            num(r["predict_all_cold_seconds"], "s"),
            "",
            "",
        ]
    )
    rows.append(
        ["peak RSS at the end (with the notebook loop)", num(r["peak_rss_total_mb"], "MB"), "", ""]
    )
    return _common.table(["Measure", "value", "target", ""], rows, markdown=markdown)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    warnings.filterwarnings("ignore", message=r".*not seen in fit", category=UserWarning)
    threads = _common.set_threads(args.threads)
    if note := _common.busy_note(threads):
        log(note)
    log(f"torch threads: {threads}")
    result = measure(args)
    info = _common.machine_info()
    settings = {
        "users": args.users,
        "autorec_epochs": args.epochs,
        "seed": args.seed,
        "quick": args.quick,
        "blend": not args.no_blend,
    }
    if args.json:
        print(_common.dump_json({**result, "settings": settings, "machine": info}))
        return 0
    md = args.markdown
    subset = f", first {args.users} users" if args.users else ""
    quick = " [--quick: NOT representative]" if args.quick else ""
    title = f"Speed, MovieLens-1M standard split (train part){subset}{quick}"
    shape = "x".join(map(str, result["predict_all_shape"]))
    lines = [
        _common.heading(title, markdown=md),
        "",
        render(result, md),
        "",
        f"Data: {result['n_train']:,} training ratings, {result['n_users']:,} users x "
        f"{result['n_items']:,} items (predict all = {shape}); autorec default fit ran "
        f"{result['epochs_run']} epochs (best {result['best_epoch']}), test RMSE "
        f"{result['test_rmse_autorec']:.4f}"
        + (
            f"; the blend's test RMSE {result['test_rmse_blend']:.4f}."
            if result["test_rmse_blend"] == result["test_rmse_blend"]
            else "."
        ),
        "Epoch times: the notebook's training steps only; autorec's include its validation "
        "pass (a one-cycle fit validates the second half of its epochs). Both in this "
        "process, with the same torch threads.",
        "",
    ]
    bullet = "- " if md else "  "
    lines += ["Machine:"] + [bullet + line for line in _common.machine_lines(info) if line]
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
