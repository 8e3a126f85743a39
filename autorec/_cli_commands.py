"""The ``autorec`` subcommands (``evaluate``, ``recommend``, ``download``, ``info``) and
their output; the parser and ``main`` are in :mod:`autorec.cli`."""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ._blend import BlendRecommender
from ._estimator import AutoEncoderRecommender
from ._version import __version__
from .datasets import (
    DATA_HOME_ENV,
    download_movielens_1m,
    get_data_home,
    load_movielens_1m,
    movielens_1m_info,
)
from .datasets._fetch import default_file_mode
from .evaluation import (
    MODELS,
    evaluate,
    load_model,
    make_model,
    ranking_table,
    split,
    sub_models,
)

PROG = "autorec"
PLOT_HINT = "pip install torch-autorec[plot]"
#: What the reference notebook reported on the standard split (its top-k fed the test
#: ratings to the model, so it is not comparable; shown for context only).
REFERENCE = {"rmse_train": 0.88847, "rmse_test": 0.94895, "top_k": {5: 77.55, 10: 69.87}}
TOP_K = (5, 10)


class CLIError(Exception):
    """A problem the user can fix; printed as one ``autorec: error:`` line, exit 1."""


# ----------------------------------------------------------------------- helpers
def _status(args: argparse.Namespace, message: str) -> None:
    """A progress note on stderr (stdout holds only results); silenced by --quiet."""
    if not args.quiet:
        print(message, file=sys.stderr, flush=True)


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


def _load(args: argparse.Namespace):
    data = load_movielens_1m(
        args.data_home,
        download_if_missing=not args.no_download,
        verbose=not args.quiet,
    )
    _status(
        args,
        f"MovieLens-1M: {len(data.ratings):,} ratings from {data.path}",
    )
    return data


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


def _require_matplotlib() -> None:
    try:
        import matplotlib.figure  # noqa: F401
    except ImportError:
        raise CLIError(f"--plot needs matplotlib, which is not installed: {PLOT_HINT}") from None


def _member_label(model: AutoEncoderRecommender) -> str:
    """A fitted model described by its fitted parameters: "residual item 500", "residual
    user 17 refined"."""
    fit = model.fit_params_
    widths = "-".join(str(w) for w in fit["hidden_layers"])
    refined = " refined" if fit["refine_l2"] else ""
    return f"{'residual ' if fit['residual'] else ''}{fit['kind']} {widths}{refined}"


def _write_plot(
    path: Path,
    models: Sequence[AutoEncoderRecommender],
    test_rmse: float,
    baseline_rmse: float,
    title: str,
) -> list[str]:
    """Learning curves of each model (one, or one per member of a blend) beside the test
    RMSE of the kept model and of the bias baseline, each labelled with the data it is
    measured on; returns the legend's labels."""
    from matplotlib.figure import Figure  # pyplot-free: no GUI backend involved
    from matplotlib.ticker import MaxNLocator

    fig = Figure(figsize=(7, 4.2), layout="constrained")
    ax = fig.add_subplot()
    for i, model in enumerate(models):
        history = model.history_
        epochs = list(range(1, len(history["train_rmse"]) + 1))
        who = f"{_member_label(model)}, " if len(models) > 1 else ""
        train_color, val_color = f"C{2 * i}", f"C{2 * i + 1}"
        ax.plot(
            epochs,
            history["train_rmse"],
            marker="o",
            ms=3,
            color=train_color,
            label=f"{who}training RMSE (running, training ratings)",
        )
        ax.plot(
            epochs,
            history["val_rmse"],
            marker="o",
            ms=3,
            color=val_color,
            label=f"{who}validation RMSE (a slice held out of the training ratings)",
        )
        ax.axvline(
            model.best_epoch_,
            color=val_color,
            ls=":",
            label=f"{who}epoch kept ({model.best_epoch_})",
        )
    ax.axhline(
        test_rmse, color="C9", ls="-", lw=1.5, label="autorec test RMSE (test split, kept epoch)"
    )
    ax.axhline(
        baseline_rmse, color="black", ls="--", lw=1, label="BiasBaseline test RMSE (test split)"
    )
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel("RMSE")
    ax.set_title(f"{title} on MovieLens-1M")
    ax.grid(alpha=0.3)
    legend = ax.legend(fontsize="small")
    # A temporary file renamed into place: a full disk or an interrupt never leaves a
    # truncated PNG (or destroys the previous one).
    fd, tmp_name = tempfile.mkstemp(dir=path.expanduser().resolve().parent, suffix=".png.tmp")
    try:
        with os.fdopen(fd, "wb") as tmp:
            fig.savefig(tmp, format="png", dpi=120)
        os.chmod(tmp_name, default_file_mode())
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        raise
    return [text.get_text() for text in legend.get_texts()]


# ------------------------------------------------------------------ subcommands
def _evaluate(args: argparse.Namespace) -> int:
    if args.plot is not None:
        _require_matplotlib()
        _check_writable_target(args.plot, "--plot", suffix=".png")
    if args.save is not None:
        _check_writable_target(args.save, "--save")
    data = _load(args)
    train, test = split(data.ratings, args.split, random_state=args.random_state)
    show_progress = not (args.quiet or args.json)
    model = make_model(
        args.kind,
        epochs=args.epochs,
        random_state=args.random_state,
        verbose=1 if show_progress else 0,
    )
    templates = model.estimators if isinstance(model, BlendRecommender) else [model]
    max_epochs = [int(t.epochs) for t in templates]
    _status(
        args,
        f"split {args.split!r}: {len(train):,} training / {len(test):,} test ratings; "
        f"training the {MODELS[args.kind].title} (at most {max_epochs[0]} epochs"
        f"{' each' if len(templates) > 1 else ''})",
    )
    model.fit(train)
    parts = sub_models(model)
    blend = isinstance(model, BlendRecommender)
    result = evaluate(model, train, test)
    result["ranking"] = ranking_table(model, train, test)
    baseline_seconds = result["baseline_fit_seconds"]
    # A blend reports one number per member, in order: lists, "33+67+26" in the table.
    per_model = {
        "epochs_run": [len(m.history_["val_rmse"]) for m in parts],
        "best_epoch": [int(m.best_epoch_) for m in parts],
        "max_epochs": max_epochs,
    }
    result.update({key: v if blend else v[0] for key, v in per_model.items()})
    if blend:
        result["blend_weights"] = [float(w) for w in model.weights_]
    result.update(
        kind=args.kind,
        split=args.split,
        random_state=args.random_state,
        device=str(parts[0].device_),
        data_path=str(data.path),
        autorec_version=__version__,
    )
    if args.save is not None:
        result["model_path"] = str(model.save(args.save))
        _status(args, f"model saved to {result['model_path']}")
    if args.plot is not None:
        title = (
            "BlendRecommender"
            if blend
            else f"AutoEncoderRecommender (kind={model.fit_params_['kind']!r})"
        )
        _write_plot(args.plot, parts, result["rmse_test"], result["baseline_rmse_test"], title)
        result["plot_path"] = str(args.plot)
        _status(args, f"learning curves written to {args.plot}")

    if args.json:
        print(json.dumps(_clean(result), indent=2, allow_nan=False))
        return 0

    def pct(value: float) -> str:
        return f"{value:.2f}"

    topk, b_topk = result["top_k_accuracy"], result["baseline_top_k_accuracy"]
    rows = [
        [
            "RMSE, training ratings",
            f"{result['rmse_train']:.4f}",
            f"{result['baseline_rmse_train']:.4f}",
        ],
        ["RMSE, test ratings", f"{result['rmse_test']:.4f}", f"{result['baseline_rmse_test']:.4f}"],
        *[[f"top-{k} accuracy (%)", pct(topk[k]), pct(b_topk[k])] for k in TOP_K],
        [
            "epochs run (kept)",
            f"{_plus(result['epochs_run'])} ({_plus(result['best_epoch'])})",
            "-",
        ],
        ["fit time (s)", f"{result['fit_seconds']:.1f}", f"{baseline_seconds:.1f}"],
    ]
    if "blend_weights" in result:
        weights = "+".join(f"{w:.2f}" for w in result["blend_weights"])
        rows.insert(-1, ["blend weights (learned)", weights, "-"])
    print(
        f"MovieLens-1M, {args.split} split (random_state={args.random_state}): "
        f"{result['n_train']:,} training / {result['n_test']:,} test ratings"
    )
    print()
    print(_table(["", f"AutoEncoder ({args.kind})", "BiasBaseline"], rows, align="<"))
    if "blend_weights" in result:
        print("blend members, in order: " + " + ".join(map(_member_label, parts)))
    print()
    print(
        "Full-catalogue top-10 (candidates: every movie the user did not rate in training; "
        "relevant: test ratings >= 4):"
    )
    ranking_rows = [
        [
            f"AutoEncoder ({args.kind})" if name == "autorec" else name,
            f"{row['ndcg@10']:.4f}",
            f"{row['recall@10']:.4f}",
            f"{100 * row['coverage']:.1f}",
            f"{row['median_popularity']:,.0f}",
            f"{100 * row['share_lt20']:.1f}",
        ]
        for name, row in result["ranking"].items()
    ]
    header = ["", "NDCG@10", "recall@10", "% catalogue shown", "median ratings", "% < 20 ratings"]
    print(_table(header, ranking_rows, align="<"))
    if args.split == "standard":
        ref = REFERENCE
        print()
        print(
            f"Reference notebook, same split rule: RMSE {ref['rmse_train']} train / "
            f"{ref['rmse_test']} test; its top-k accuracy ({ref['top_k'][5]} at 5, "
            f"{ref['top_k'][10]} at 10) fed the test ratings to the model, so it is not "
            "comparable."
        )
    return 0


def _recommend(args: argparse.Namespace) -> int:
    users = list(dict.fromkeys(args.user))  # unique, in the order given
    data = _load(args)
    if args.model is not None:
        model = load_model(args.model)
        user_map = model.user_map_
        _status(args, f"loaded model {args.model} ({len(user_map):,} users)")
        if user_map.ids.dtype.kind not in "iu" and all(
            isinstance(v, str) for v in user_map.ids[:1].tolist()
        ):
            users = [str(u) for u in users]  # a model trained on string user ids
        unknown = [u for u in users if u not in user_map]
        if unknown:
            raise CLIError(
                f"user {unknown[0]} is not in the model's training data "
                f"({len(unknown)} unknown of {len(users)}); pick users the model was trained on"
            )
    else:
        known = set(data.ratings["user_id"].unique().tolist())
        unknown = [u for u in users if u not in known]
        if unknown:
            ids = data.ratings["user_id"]
            raise CLIError(
                f"user {unknown[0]} is not in MovieLens-1M ({len(unknown)} unknown of "
                f"{len(users)}); user ids run from {ids.min()} to {ids.max()}"
            )
        model = make_model(
            args.kind,
            epochs=args.epochs,
            random_state=args.random_state,
            verbose=0 if args.quiet else 1,
        )
        _status(
            args,
            f"no --model given: training the default {MODELS[args.kind].title} on all "
            f"{len(data.ratings):,} ratings first (save one with `autorec evaluate --save PATH`)",
        )
        model.fit(data.ratings)
    for i, user in enumerate(users):
        recs = model.recommend(user, k=args.k, movies=data.movies)
        untitled = int(recs["title"].isna().sum())
        if untitled:
            print(
                f"{PROG}: warning: {untitled} of the {len(recs)} movies recommended to user "
                f"{user} are not in {data.path}'s movies.dat (was the model trained on "
                "other data?); they are shown without a title",
                file=sys.stderr,
            )
        if i:
            print()
        print(
            f"Top {len(recs)} movies for user {user} (movies rated in training excluded; "
            "predicted: the predicted rating; ratings: how many people rated it):"
        )
        rows = [
            [
                rank,
                row.item_id,  # as the model stores it: an int for MovieLens, else a string
                row.title if isinstance(row.title, str) else "(no title)",
                f"{row.predicted_rating:.1f}",
                f"{int(row.n_ratings):,}",
                row.genres if isinstance(row.genres, str) else "",
            ]
            for rank, row in zip(recs.index, recs.itertuples(index=False), strict=True)
        ]
        header = ["rank", "movie id", "title", "predicted", "ratings", "genres"]
        print(_table(header, rows, align=">><>><"))

    return 0


def _download(args: argparse.Namespace) -> int:
    home = get_data_home(args.data_home)
    info = movielens_1m_info(home)
    if info["found"] and not args.force:
        print(f"MovieLens-1M is already in {info['path']} ({info['form']}); nothing to download")
        return 0
    _status(args, f"downloading MovieLens-1M into {home}")
    path = download_movielens_1m(home, force=args.force, verbose=not args.quiet)
    print(f"MovieLens-1M downloaded and verified: {path}")
    print(
        "By using it you accept the GroupLens licence: research use only, no redistribution; "
        "cite Harper & Konstan (2015), https://doi.org/10.1145/2827872"
    )
    return 0


def _info(args: argparse.Namespace) -> int:
    info = movielens_1m_info(args.data_home)
    if args.json:
        print(json.dumps(info, indent=2))
    else:
        checksum = {
            None: "no ml-1m.zip here"
            + (" (an extracted folder has no checksum)" if info["form"] == "folder" else ""),
            True: "holds (SHA-256 verified)",
            False: "FAILS: the archive is corrupt or incomplete; `autorec download --force`",
        }[info["zip_checksum_ok"]]
        sizes = (
            f"{info['n_ratings']:,} ratings, {info['n_users']:,} users, {info['n_items']:,} movies"
            if info["n_ratings"] is not None
            else "-"
        )
        rows = [
            ["data home", info["data_home"]],
            ["found", f"yes ({info['form']})" if info["found"] else "no"],
            ["path", info["path"] or "-"],
            ["searched", ", ".join(info["searched"])],
            ["ml-1m.zip checksum", checksum],
            ["sizes", sizes],
            ["download from", info["urls"][0] if info["urls"] else "-"],
        ]
        rows += [["note", note] for note in info["notes"]]
        print(_table(["MovieLens-1M", ""], rows, align="<<"))
    if not info["found"]:
        raise CLIError(
            f"MovieLens-1M is not in {info['data_home']}; run `autorec download` (with "
            f"--data-home DIR) or point --data-home / ${DATA_HOME_ENV} at a folder holding ml-1m/"
        )
    if info["error"]:
        raise CLIError(f"MovieLens-1M in {info['path']} cannot be loaded: {info['error']}")
    return 0
