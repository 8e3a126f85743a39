"""The ``autorec`` subcommands (``evaluate``, ``recommend``, ``download``, ``info``) and
their output; the parser and ``main`` are in :mod:`autorec.cli`, which imports this
module (and with it torch) only once a command runs."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ._blend import BlendRecommender
from ._cli_common import PLOT_HINT, CLIError
from ._cli_data import data_title
from ._cli_helpers import (
    _check_writable_target,
    _clean,
    _load,
    _plus,
    _status,
    _table,
    _train_options,
    batch_size_override,
)
from ._cli_recommend import _recommend
from ._config import planned_epochs
from ._estimator import AutoEncoderRecommender
from ._version import __version__
from .datasets import (
    DATA_HOME_ENV,
    MOVIELENS_DATASETS,
    cached_datasets,
    download_movielens,
    download_movielens_1m,
    get_data_home,
    movielens_1m_info,
)
from .datasets._fetch import default_file_mode
from .evaluation import (
    MODELS,
    evaluate,
    make_model,
    ranking_table,
    split,
    sub_models,
)

#: The subcommands :func:`autorec.cli.main` runs by name (``_<command>``).
__all__ = ["_download", "_evaluate", "_info", "_recommend"]

#: What the reference notebook reported on the standard split (its top-k fed the test
#: ratings to the model, so it is not comparable; shown for context only).
REFERENCE = {"rmse_train": 0.88847, "rmse_test": 0.94895, "top_k": {5: 77.55, 10: 69.87}}
TOP_K = (5, 10)


# ----------------------------------------------------------------------- helpers
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
    data_name: str = "MovieLens-1M",
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
    ax.set_title(f"{title} on {data_name}")
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
    kind, seed = _train_options(args)
    args.kind, args.random_state = kind, seed
    title = data_title(data)
    train, test = split(data.ratings, args.split, random_state=args.random_state)
    if not len(test):
        raise CLIError(
            f"the {args.split!r} split of {title} leaves no test ratings ({len(train):,} "
            "ratings in all); evaluate needs more ratings per user, or try --split random90"
        )
    show_progress = not (args.quiet or args.json)
    model = make_model(
        args.kind,
        epochs=args.epochs,
        random_state=args.random_state,
        verbose=1 if show_progress else 0,
        rating_scale=data.rating_scale,
        **batch_size_override(args),
    )
    templates = model.estimators if isinstance(model, BlendRecommender) else [model]
    max_epochs = [planned_epochs(t, len(train)) for t in templates]
    _status(
        args,
        f"split {args.split!r}: {len(train):,} training / {len(test):,} test ratings; "
        f"training the {MODELS[args.kind].title} (at most "
        f"{'/'.join(str(n) for n in max_epochs)} epochs{' each' if len(templates) > 1 else ''})",
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
        "batch_size": [int(m.fit_params_["batch_size"]) for m in parts],
    }
    result.update({key: v if blend else v[0] for key, v in per_model.items()})
    if blend:
        result["blend_weights"] = [float(w) for w in model.weights_]
    result.update(
        kind=args.kind,
        split=args.split,
        random_state=args.random_state,
        device=str(parts[0].device_),
        dataset=data.name,
        data_path=str(data.path),
        rating_scale=list(data.rating_scale),
        autorec_version=__version__,
    )
    if args.save is not None:
        result["model_path"] = str(model.save(args.save))
        _status(args, f"model saved to {result['model_path']}")
    if args.plot is not None:
        model_title = (
            "BlendRecommender"
            if blend
            else f"AutoEncoderRecommender (kind={model.fit_params_['kind']!r})"
        )
        _write_plot(
            args.plot, parts, result["rmse_test"], result["baseline_rmse_test"], model_title, title
        )
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
        f"{title}, {args.split} split (random_state={args.random_state}): "
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
    ranking: dict[str, Any] = result["ranking"]
    labels = {"autorec": f"AutoEncoder ({args.kind})", "EASE": _ease_label(ranking)}
    ranking_rows = [
        [
            labels.get(name, name),
            f"{row['ndcg@10']:.4f}",
            f"{row['recall@10']:.4f}",
            f"{100 * row['coverage']:.1f}",
            f"{row['median_popularity']:,.0f}",
            f"{100 * row['share_lt20']:.1f}",
        ]
        for name, row in ranking.items()
    ]
    header = ["", "NDCG@10", "recall@10", "% catalogue shown", "median ratings", "% < 20 ratings"]
    print(_table(header, ranking_rows, align="<"))
    if "EASE" in ranking:
        print(_ease_note(ranking["EASE"]["params"]))
    if args.split == "standard" and data.name == "ml-1m" and data.source != "file":
        ref = REFERENCE
        print()
        print(
            f"Reference notebook, same split rule: RMSE {ref['rmse_train']} train / "
            f"{ref['rmse_test']} test; its top-k accuracy ({ref['top_k'][5]} at 5, "
            f"{ref['top_k'][10]} at 10) fed the test ratings to the model, so it is not "
            "comparable."
        )
    return 0


def _ease_label(ranking: dict[str, Any]) -> str:
    """The EASE row's name: whether it was tuned."""
    params = ranking.get("EASE", {}).get("params", {})
    return "EASE, tuned" if params.get("tuned") else "EASE (l2 500, not tuned)"


def _ease_note(params: dict[str, Any]) -> str:
    """What the EASE row was fed and how its l2 was chosen: the grid and the choice."""
    if not params["tuned"]:
        return f"EASE: binarised input, l2 {params['l2']:g}, not tuned ({params['reason']})."
    tried = ", ".join(
        f"{float(l2):,.0f}: {score:.4f}" + (" (chosen)" if float(l2) == params["l2"] else "")
        for l2, score in params["l2_validation"].items()
    )
    return (
        f"EASE, tuned: fed the rating minus {params['shift']:g}; l2 chosen by NDCG@10 on "
        f"{params['validation_fraction']:.0%} of each user's training ratings held out, l2 "
        f"tried: {tried}."
    )


def _download(args: argparse.Namespace) -> int:
    home = get_data_home(args.data_home)
    name = args.dataset
    spec = MOVIELENS_DATASETS[name]
    if name == "ml-1m":
        info = movielens_1m_info(home)
        found, where = info["found"], f"{info['path']} ({info['form']})"
    else:
        (row,) = [r for r in cached_datasets(home) if r["name"] == name]
        found, where = row["found"], f"{row['path']} ({row['form']})"
    if found and not args.force:
        print(f"{spec.title} is already in {where}; nothing to download")
        return 0
    _status(args, f"downloading {spec.title} ({spec.remote.size:,} bytes) into {home}")
    if name == "ml-1m":
        path = download_movielens_1m(home, force=args.force, verbose=not args.quiet)
    else:
        path = download_movielens(name, home, force=args.force, verbose=not args.quiet)
    checksum = "MD5" if spec.remote.algorithm == "md5" else "SHA-256"
    print(f"{spec.title} downloaded and verified ({checksum}): {path}")
    print(
        "By using it you accept the GroupLens licence: research use only, no redistribution; "
        "cite Harper & Konstan (2015), https://doi.org/10.1145/2827872"
    )
    return 0


def _info(args: argparse.Namespace) -> int:
    info = movielens_1m_info(args.data_home)
    cached = cached_datasets(args.data_home)
    info["cached"] = cached
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
        print()
        listed = [
            [
                row["name"],
                "yes" if row["found"] else "no",
                row["form"] or "-",
                row["path"] or "-",
                {None: "-", True: "holds", False: "FAILS"}[row["checksum_ok"]],
            ]
            for row in cached
        ]
        header = ["dataset", "cached", "form", "path", "archive checksum"]
        print(_table(header, listed, align="<<<<<"))
    if not info["found"]:
        raise CLIError(
            f"MovieLens-1M is not in {info['data_home']}; run `autorec download` (with "
            f"--data-home DIR) or point --data-home / ${DATA_HOME_ENV} at a folder holding ml-1m/"
        )
    if info["error"]:
        raise CLIError(f"MovieLens-1M in {info['path']} cannot be loaded: {info['error']}")
    return 0
