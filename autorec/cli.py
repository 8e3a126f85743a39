"""The ``autorec`` command line: the MovieLens-1M study in one command.

Subcommands::

    autorec evaluate   split, train, and report RMSE and top-k accuracy beside the bias baseline
    autorec recommend  top-k unrated movies for one or more users
    autorec download   fetch ml-1m.zip (checksummed) into the data folder
    autorec info       where the data is, whether it verifies, how big it is

Exit status: 0 on success, 1 for data or runtime errors (one line on stderr, a
traceback only with ``--debug``), 2 for usage errors, 130 when interrupted.
Also runnable as ``python -m autorec``.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
import time
import traceback
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__
from ._blend import BlendRecommender
from ._estimator import AutoEncoderRecommender
from ._serialization import BLEND_FORMAT_NAME, file_format
from .baselines import BiasBaseline
from .datasets import (
    DATA_HOME_ENV,
    CacheNotWritableError,
    DatasetNotFoundError,
    DownloadError,
    MovieLensFormatError,
    download_movielens_1m,
    get_data_home,
    load_movielens_1m,
    movielens_1m_info,
    train_test_split,
)
from .exceptions import ModelFormatError, TrainingDivergedError
from .metrics import rmse, top_k_accuracy

__all__ = ["build_parser", "estimator_for", "main"]

PROG = "autorec"
TOP_K = (5, 10)
PLOT_HINT = "pip install torch-autorec[plot]"
#: --split -> (test_size, by) for :func:`autorec.datasets.train_test_split`.
SPLITS = {"standard": (0.25, "user"), "random90": (0.1, None)}
#: --kind -> preset(s) it trains (see :func:`estimator_for`).
KIND_PRESETS = {"user": ("reference",), "item": ("i-autorec",), "blend": ("reference", "i-autorec")}
#: --kind -> what the status lines call the model.
KIND_NAMES = {
    "user": "user-based autoencoder",
    "item": "item-based autoencoder",
    "blend": "user + item autoencoder blend",
}
#: What the reference notebook reported on the standard split (its top-k fed the test
#: ratings to the model, so it is not comparable; shown for context only).
REFERENCE = {"rmse_train": 0.88847, "rmse_test": 0.94895, "top_k": {5: 77.55, 10: 69.87}}


class CLIError(Exception):
    """A problem the user can fix; printed as one ``autorec: error:`` line, exit 1."""


def estimator_for(
    kind: str = "user",
    *,
    epochs: int | None = None,
    random_state: int | None = 0,
    verbose: int = 0,
) -> AutoEncoderRecommender | BlendRecommender:
    """The estimator ``--kind`` stands for: the single place where CLI presets live.

    ``"user"`` is the ``"reference"`` preset (the library defaults: the reference
    200-100-200 user autoencoder); ``"item"`` is the ``"i-autorec"`` preset, the
    recommended item-based configuration (see
    :meth:`autorec.AutoEncoderRecommender.from_preset`); ``"blend"`` is a
    :class:`autorec.BlendRecommender` of those two presets with learned weights, the most
    accurate configuration (it trains both). ``epochs`` (``--epochs``) overrides the
    maximum number of epochs (of each sub-model of a blend).
    """
    if kind not in KIND_PRESETS:
        raise ValueError(f"kind={kind!r} is not supported; use one of {sorted(KIND_PRESETS)}")
    params: dict[str, Any] = {"random_state": random_state, "verbose": verbose}
    if epochs is not None:
        params["epochs"] = epochs
    models = [AutoEncoderRecommender.from_preset(name, **params) for name in KIND_PRESETS[kind]]
    if kind == "blend":
        return BlendRecommender(models, random_state=random_state)
    return models[0]


def _parts(model: AutoEncoderRecommender | BlendRecommender) -> list[AutoEncoderRecommender]:
    """The autoencoders a model is made of: a blend's fitted sub-models, else itself."""
    return list(model.estimators_) if isinstance(model, BlendRecommender) else [model]


def _load_model(path: Path) -> AutoEncoderRecommender | BlendRecommender:
    """A model file of either kind (``--model``): the header says which."""
    if file_format(path) == BLEND_FORMAT_NAME:
        return BlendRecommender.load(path)
    return AutoEncoderRecommender.load(path)


# ----------------------------------------------------------------------- helpers
def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}")
    return value


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
    """An epoch count for the table: ``18`` for one model, ``18+7`` for a blend's two."""
    return "+".join(map(str, value)) if isinstance(value, list) else str(value)


def _finite(value: Any) -> Any:
    """JSON-safe number: NaN and infinities become null."""
    value = float(value)
    return value if math.isfinite(value) else None


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


def _check_writable_target(path: Path, option: str) -> None:
    """Fail before a long training run, not after it, when an output cannot be written."""
    parent = path.expanduser().resolve().parent
    if not parent.is_dir():
        raise CLIError(f"{option} {path}: the folder {parent} does not exist; create it first")
    if path.is_dir():
        raise CLIError(f"{option} {path} is a folder; give a file name")


def _require_matplotlib() -> None:
    try:
        import matplotlib.figure  # noqa: F401
    except ImportError:
        raise CLIError(f"--plot needs matplotlib, which is not installed: {PLOT_HINT}") from None


def _write_plot(
    path: Path, models: Sequence[AutoEncoderRecommender], baseline_rmse: float, title: str
) -> None:
    """Learning curves of each model (one for --kind user|item, two for a blend)."""
    from matplotlib.figure import Figure  # pyplot-free: no GUI backend involved
    from matplotlib.ticker import MaxNLocator

    fig = Figure(figsize=(7, 4.2), layout="constrained")
    ax = fig.add_subplot()
    for i, model in enumerate(models):
        history = model.history_
        epochs = list(range(1, len(history["train_rmse"]) + 1))
        who = f"{model.kind} model, " if len(models) > 1 else ""
        train_color, val_color = f"C{2 * i}", f"C{2 * i + 1}"
        ax.plot(
            epochs,
            history["train_rmse"],
            marker="o",
            ms=3,
            color=train_color,
            label=f"{who}training RMSE (running)",
        )
        ax.plot(
            epochs,
            history["val_rmse"],
            marker="o",
            ms=3,
            color=val_color,
            label=f"{who}validation RMSE",
        )
        ax.axvline(
            model.best_epoch_,
            color=val_color,
            ls=":",
            label=f"{who}epoch kept ({model.best_epoch_})",
        )
    ax.axhline(baseline_rmse, color="black", ls="--", lw=1, label="BiasBaseline test RMSE")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel("RMSE")
    ax.set_title(f"{title} on MovieLens-1M")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.savefig(path, dpi=120)


# ------------------------------------------------------------------ subcommands
def _evaluate(args: argparse.Namespace) -> int:
    if args.plot is not None:
        _require_matplotlib()
        _check_writable_target(args.plot, "--plot")
    if args.save is not None:
        _check_writable_target(args.save, "--save")
    data = _load(args)
    test_size, by = SPLITS[args.split]
    train, test = train_test_split(data.ratings, test_size, by=by, random_state=args.random_state)
    show_progress = not (args.quiet or args.json)
    model = estimator_for(
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
        f"training the {KIND_NAMES[args.kind]} (at most {max_epochs[0]} epochs"
        f"{' each' if len(templates) > 1 else ''})",
    )
    model.fit(train)
    parts = _parts(model)
    blend = isinstance(model, BlendRecommender)
    users, y_true = test["user_id"].to_numpy(), test["rating"].to_numpy()
    # Raw outputs rank the test items (clipping would tie the top of the scale); the
    # RMSE uses the clipped predictions, as model.predict(test) returns them.
    scores = model.predict(test, clip=False)
    result: dict[str, Any] = {
        "n_train": len(train),
        "n_test": len(test),
        "rmse_train": rmse(train["rating"].to_numpy(), model.predict(train)),
        "rmse_test": rmse(y_true, np.clip(scores, *model.rating_scale_)),
        "top_k_accuracy": {str(k): top_k_accuracy(users, y_true, scores, k=k) for k in TOP_K},
    }
    started = time.perf_counter()
    baseline = BiasBaseline().fit(train)
    baseline_seconds = time.perf_counter() - started
    b_test = baseline.predict(test)
    result.update(
        baseline_rmse_train=rmse(train["rating"].to_numpy(), baseline.predict(train)),
        baseline_rmse_test=rmse(y_true, b_test),
        baseline_top_k_accuracy={str(k): top_k_accuracy(users, y_true, b_test, k=k) for k in TOP_K},
        baseline_fit_seconds=baseline_seconds,
        fit_seconds=model.fit_seconds_,
    )
    # A blend reports one number per sub-model (user, item): lists, "18+7" in the table.
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
            "BlendRecommender (user + item)"
            if blend
            else f"AutoEncoderRecommender (kind={model.kind!r})"
        )
        _write_plot(args.plot, parts, result["baseline_rmse_test"], title)
        result["plot_path"] = str(args.plot)
        _status(args, f"learning curves written to {args.plot}")

    if args.json:
        clean = {
            key: (
                {k: _finite(v) for k, v in value.items()}
                if isinstance(value, dict)
                else _finite(value)
                if isinstance(value, float)
                else value
            )
            for key, value in result.items()
        }
        print(json.dumps(clean, indent=2, allow_nan=False))
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
        *[[f"top-{k} accuracy (%)", pct(topk[str(k)]), pct(b_topk[str(k)])] for k in TOP_K],
        [
            "epochs run (kept)",
            f"{_plus(result['epochs_run'])} ({_plus(result['best_epoch'])})",
            "-",
        ],
        ["fit time (s)", f"{result['fit_seconds']:.1f}", f"{baseline_seconds:.1f}"],
    ]
    if "blend_weights" in result:
        weights = "+".join(f"{w:.2f}" for w in result["blend_weights"])
        rows.insert(-1, ["weights, user+item (learned)", weights, "-"])
    print(
        f"MovieLens-1M, {args.split} split (random_state={args.random_state}): "
        f"{result['n_train']:,} training / {result['n_test']:,} test ratings"
    )
    print()
    print(_table(["", f"AutoEncoder ({args.kind})", "BiasBaseline"], rows, align="<"))
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
        model = _load_model(args.model)
        user_map = _parts(model)[0].user_map_
        _status(args, f"loaded model {args.model} ({len(user_map):,} users)")
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
        model = estimator_for(
            args.kind,
            epochs=args.epochs,
            random_state=args.random_state,
            verbose=0 if args.quiet else 1,
        )
        _status(
            args,
            f"no --model given: training the default {KIND_NAMES[args.kind]} on all "
            f"{len(data.ratings):,} ratings first (save one with `autorec evaluate --save PATH`)",
        )
        model.fit(data.ratings)
    for i, user in enumerate(users):
        recs = model.recommend(user, k=args.k, movies=data.movies)
        if i:
            print()
        print(f"Top {len(recs)} movies for user {user} (movies rated in training excluded):")
        rows = [
            [rank, int(row.item_id), row.title, row.genres]
            for rank, row in zip(recs.index, recs.itertuples(index=False), strict=True)
        ]
        print(_table(["rank", "movie id", "title", "genres"], rows, align=">><<"))
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


# ----------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    """The ``autorec`` argument parser."""
    # Global options are accepted before and after the subcommand.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--debug",
        action="store_true",
        default=argparse.SUPPRESS,
        help="show the full traceback on errors",
    )
    common.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        default=argparse.SUPPRESS,
        help="no progress bars or status messages",
    )
    common.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        default=argparse.SUPPRESS,
        help="show the library's INFO log messages (e.g. per-epoch RMSE)",
    )
    data = argparse.ArgumentParser(add_help=False)
    data.add_argument(
        "--data-home",
        type=Path,
        default=None,
        metavar="DIR",
        help=f"folder holding ml-1m/ or ml-1m.zip (default: ${DATA_HOME_ENV}, else the user "
        "cache folder)",
    )
    fetch = argparse.ArgumentParser(add_help=False)
    fetch.add_argument(
        "--no-download",
        action="store_true",
        help="fail instead of downloading MovieLens-1M when it is not found",
    )
    train = argparse.ArgumentParser(add_help=False)
    train.add_argument(
        "--kind",
        choices=tuple(KIND_PRESETS),
        default="user",
        help="user-based autoencoder (library default), the recommended item-based "
        "configuration, or blend: the average of both (the most accurate; trains both) "
        "(default: %(default)s)",
    )
    train.add_argument(
        "--epochs",
        type=_positive_int,
        default=None,
        metavar="N",
        help="maximum number of training epochs (default: the estimator's; early stopping "
        "may stop sooner)",
    )
    train.add_argument(
        "--random-state",
        type=_non_negative_int,
        default=0,
        metavar="N",
        help="seed of the split and the training (default: %(default)s)",
    )

    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Autoencoder recommender (AutoRec) for explicit ratings: the "
        "MovieLens-1M study from the command line.",
        epilog="Run `autorec COMMAND --help` for a command's options. MovieLens-1M is "
        "downloaded from GroupLens when not found (research use only; cite Harper & "
        "Konstan 2015).",
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser(
        "evaluate",
        parents=[common, data, fetch, train],
        help="split MovieLens-1M, train, report RMSE and top-k accuracy beside the baseline",
        description="Split MovieLens-1M, train the autoencoder on the training ratings only, "
        "and report training and test RMSE and top-k accuracy (k=5, 10) beside the "
        "user+item bias baseline on the same split. With --kind blend, the epochs run "
        "and kept are given per sub-model (user, item): as 18+7 in the table, as lists "
        "in --json.",
    )
    p.add_argument(
        "--split",
        choices=tuple(SPLITS),
        default="standard",
        help="standard: 25%% of each user's ratings in test (750,121 / 250,088); random90: "
        "a random 90/10 split as in the AutoRec paper (default: %(default)s)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object (stdout only)")
    p.add_argument(
        "--save",
        type=Path,
        metavar="PATH",
        help="save the trained model (a blend too) here, in one safetensors file",
    )
    p.add_argument(
        "--plot",
        type=Path,
        metavar="PATH",
        help=f"write the learning curves as a PNG (needs matplotlib: {PLOT_HINT})",
    )
    p.set_defaults(func=_evaluate)

    p = sub.add_parser(
        "recommend",
        parents=[common, data, fetch, train],
        help="top-k movies a user has not rated",
        description="Print each user's top-k movies (rank, movie id, title, genres), "
        "excluding movies the user rated in training. Without --model, the default model "
        "is first trained on all ratings.",
    )
    p.add_argument(
        "--user",
        type=int,
        action="append",
        required=True,
        metavar="ID",
        help="a MovieLens user id; repeat for several users",
    )
    p.add_argument(
        "-k",
        type=_positive_int,
        default=10,
        metavar="K",
        help="number of movies per user (default: %(default)s)",
    )
    p.add_argument(
        "--model",
        type=Path,
        metavar="PATH",
        help="a model saved by `autorec evaluate --save PATH`, of any --kind (else train "
        "one first)",
    )
    p.set_defaults(func=_recommend)

    p = sub.add_parser(
        "download",
        parents=[common, data],
        help="download ml-1m.zip into the data folder (verified by SHA-256)",
        description="Download ml-1m.zip from GroupLens into the data folder, verify its "
        "SHA-256, and do nothing if the data is already there.",
    )
    p.add_argument("--force", action="store_true", help="download even if the data is present")
    p.set_defaults(func=_download)

    p = sub.add_parser(
        "info",
        parents=[common, data],
        help="where the data is, whether its checksum holds, dataset sizes",
        description="Describe the local MovieLens-1M copy; downloads nothing. Exit status 1 "
        "when the data is not found.",
    )
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=_info)
    return parser


# ------------------------------------------------------------------------- main
def _describe(exc: BaseException, args: argparse.Namespace) -> str:
    """One line naming the problem and the fix."""
    if isinstance(exc, CLIError):
        return str(exc)
    if isinstance(exc, DatasetNotFoundError):
        home = get_data_home(getattr(args, "data_home", None))
        cause = exc.__cause__
        if isinstance(cause, DownloadError) and cause.attempts:
            why = f"downloading it failed ({cause.attempts[-1][0]}: {cause.attempts[-1][1]})"
        elif isinstance(cause, CacheNotWritableError):
            why = "downloading it failed (the folder is not writable)"
        elif cause is not None:
            why = f"downloading it failed ({' '.join(str(cause).split())})"
        else:
            why = "downloading is disabled (--no-download)"
        return (
            f"MovieLens-1M is not in {home} and {why}; point --data-home or "
            f"${DATA_HOME_ENV} at a folder holding ml-1m/ or ml-1m.zip, or run "
            "`autorec download` when online (`autorec info` shows what was searched)"
        )
    if isinstance(exc, CacheNotWritableError):
        return f"{' '.join(str(exc).split())}; pass --data-home with a writable folder"
    if isinstance(exc, DownloadError):
        last = f" (last: {exc.attempts[-1][0]}: {exc.attempts[-1][1]})" if exc.attempts else ""
        return (
            f"could not download MovieLens-1M{last}; check the connection, or download "
            "https://files.grouplens.org/datasets/movielens/ml-1m.zip by hand into the data "
            "folder (`autorec info` shows where)"
        )
    if isinstance(exc, MovieLensFormatError):
        return (
            f"{' '.join(str(exc).split())}; the data is damaged: replace it "
            "(`autorec download --force`) or point --data-home elsewhere"
        )
    if isinstance(exc, ModelFormatError):
        return f"{' '.join(str(exc).split())}; save a new model with `autorec evaluate --save PATH`"
    if isinstance(exc, FileNotFoundError):
        name = exc.filename if exc.filename is not None else str(exc)
        return f"file not found: {name}; check the path"
    if isinstance(exc, KeyError):
        message = exc.args[0] if exc.args else repr(exc)
        return " ".join(str(message).split())
    if isinstance(exc, TrainingDivergedError):
        return f"{' '.join(str(exc).split())} (try another --random-state)"
    text = " ".join(str(exc).split()) or "no message"
    if isinstance(exc, (ValueError, TypeError, OSError)):
        return text
    return f"unexpected {type(exc).__name__}: {text} (run with --debug for the traceback)"


class _LogFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return f"{PROG}: {record.levelname.lower()}: {record.getMessage()}"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``autorec`` command line with ``argv`` (default: ``sys.argv[1:]``).

    Returns the exit status: 0 success, 1 data or runtime error, 2 usage error
    (argparse exits itself), 130 interrupted.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    for name in ("debug", "quiet", "verbose"):
        if not hasattr(args, name):
            setattr(args, name, False)
    if args.command is None:
        parser.print_usage(sys.stderr)
        print(
            f"{PROG}: error: choose a command: evaluate, recommend, download or info",
            file=sys.stderr,
        )
        return 2

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_LogFormatter())
    logger = logging.getLogger("autorec")
    old_level, old_propagate = logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(
        logging.DEBUG if args.debug else logging.INFO if args.verbose else logging.WARNING
    )
    logger.propagate = False
    old_showwarning = warnings.showwarning

    def showwarning(message, category, filename, lineno, file=None, line=None):
        text = " ".join(str(message).split())
        print(f"{PROG}: warning: {text}", file=sys.stderr)

    if not args.debug:
        warnings.showwarning = showwarning
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if args.debug:
            traceback.print_exc()
        print(f"{PROG}: error: {_describe(exc, args)}", file=sys.stderr)
        return 1
    finally:
        warnings.showwarning = old_showwarning
        logger.removeHandler(handler)
        logger.setLevel(old_level)
        logger.propagate = old_propagate
        sys.stdout.flush()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
