"""The ``autorec`` command line: the MovieLens study, or your own ratings, in one command.

Subcommands::

    autorec evaluate   split, train, and report RMSE and top-k accuracy beside the bias baseline
    autorec recommend  top-k unrated movies for users, or for a new person (--rate)
    autorec download   fetch a MovieLens archive (checksummed) into the data folder
    autorec info       where the data is, whether it verifies, what is cached
    autorec serve      an HTTP API and a page: rate movies, get recommendations with reasons

The data options (``--dataset NAME`` or ``--ratings FILE`` ...) come from
``autorec._cli_data.add_data_arguments``, which any subcommand can reuse. torch is
imported only by the commands that train or load a model, after the options are parsed.

Exit status: 0 on success, 1 for data or runtime errors (one line on stderr, a
traceback only with ``--debug``), 2 for usage errors, 130 when interrupted.
Also runnable as ``python -m autorec``.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import logging
import math
import os
import sys
import traceback
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ._cli_common import PLOT_HINT, PROG, CLIError
from ._cli_data import DEFAULT_DATASET, add_data_arguments, add_data_home, dataset_name
from ._protocol import MODELS, SPLITS
from ._version import __version__
from .datasets import (
    DATA_HOME_ENV,
    MOVIELENS_DATASETS,
    CacheNotWritableError,
    DatasetNotFoundError,
    DownloadError,
    MovieLensFormatError,
    RatingsFormatError,
    get_data_home,
)
from .exceptions import ModelFormatError, TrainingDivergedError
from .serve import _args as serve_args

__all__ = ["build_parser", "estimator_for", "main"]

#: Largest --random-state (numpy and torch seeds are 64-bit signed at most).
_MAX_SEED = 2**63 - 1


def estimator_for(kind: str = "default", **kwargs: Any) -> Any:
    """Deprecated alias of :func:`autorec.evaluation.make_model`."""
    from .evaluation import make_model

    warnings.warn(
        "autorec.cli.estimator_for is deprecated; use autorec.evaluation.make_model",
        FutureWarning,
        stacklevel=2,
    )
    return make_model(kind, **kwargs)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _batch_size(text: str) -> int | str:
    if text == "auto":
        return text
    try:
        return _positive_int(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"expected a positive integer or auto, got {text!r}"
        ) from None


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}") from None
    if not 0 <= value <= _MAX_SEED:
        raise argparse.ArgumentTypeError(
            f"expected an integer from 0 to 2**63 - 1 ({_MAX_SEED}), got {text!r}"
        )
    return value


def _rating(text: str) -> tuple[str, float]:
    item, sep, value = text.partition("=")
    try:
        rating = float(value)
    except ValueError:
        rating = math.nan
    if not sep or not item.strip() or not math.isfinite(rating):
        raise argparse.ArgumentTypeError(
            f"expected ITEM=RATING, a movie id and a number (e.g. 260=5), got {text!r}"
        )
    return item.strip(), rating


def _add_train_arguments(parser: argparse.ArgumentParser, seeds: str) -> None:
    """--kind, --epochs, --batch-size and --random-state (None when not given, so that
    --model can refuse them; the commands fill in the defaults)."""
    parser.add_argument(
        "--kind",
        choices=tuple(MODELS),
        default=None,
        help="the model to train: "
        + "; ".join(f"{name}: {spec.help}" for name, spec in MODELS.items()).replace(
            " (the CLI default)", ""
        )
        + " (when not given: default)",
    )
    parser.add_argument(
        "--epochs",
        type=_positive_int,
        default=None,
        metavar="N",
        help="training epochs: the one-cycle schedule's length, or the plateau schedule's "
        "maximum (default: the estimator's, 15 or 200; early stopping may stop sooner)",
    )
    parser.add_argument(
        "--batch-size",
        type=_batch_size,
        default=None,
        metavar="N",
        help="rows a training step, or auto (default: the estimator's; auto is about 14 "
        "steps an epoch, at most 256 rows on data as dense as MovieLens-1M, more on "
        "sparser data)",
    )
    parser.add_argument(
        "--random-state",
        type=_seed,
        default=None,
        metavar="N",
        help=f"seed of {seeds} (default: 0)",
    )


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
    add_data_home(data)

    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Autoencoder recommender (AutoRec) for explicit ratings, on MovieLens "
        "(any size) or your own ratings file, from the command line.",
        epilog="Run `autorec COMMAND --help` for a command's options. MovieLens is "
        "downloaded from GroupLens when not found (research use only; cite Harper & "
        "Konstan 2015).",
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser(
        "evaluate",
        parents=[common],
        help="split the ratings, train, report RMSE and top-k accuracy beside the baseline",
        description="Split the ratings (MovieLens-1M unless --dataset or --ratings says "
        "otherwise), train the autoencoder on the training ratings only, "
        "and report training and test RMSE and top-k accuracy (k=5, 10) beside the "
        "user+item bias baseline on the same split. With --kind blend, the epochs run "
        "and kept are given per member, in order: as 33+67+26 in the table, as lists "
        "in --json.",
    )
    add_data_arguments(p)
    _add_train_arguments(p, seeds="the split and the training")
    p.add_argument(
        "--split",
        choices=tuple(SPLITS),
        default="standard",
        help="; ".join(f"{name}: {spec.description}" for name, spec in SPLITS.items()).replace(
            "%", "%%"
        )
        + " (default: %(default)s)",
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
    p.set_defaults(func="evaluate")

    p = sub.add_parser(
        "recommend",
        parents=[common],
        help="top-k movies (items) a user has not rated",
        description="Print each user's top-k movies (rank, movie id, title, predicted "
        "rating, how many people rated it, genres), leaving out every movie the user rated "
        "in the data. Without --model, the model is first trained on all ratings (keep it "
        "with --save). --rate folds in a new person without retraining.",
    )
    add_data_arguments(p)
    _add_train_arguments(p, seeds="the training (without --model)")
    p.add_argument(
        "--user",
        action="append",
        default=[],
        metavar="ID",
        help="a user id of the data (a number or a name); repeat for several users",
    )
    p.add_argument(
        "--rate",
        type=_rating,
        action="append",
        default=[],
        metavar="ITEM=RATING",
        help="a rating of a new person (e.g. --rate 260=5 --rate 1=4): recommend for "
        "them, folded in without retraining; repeat for each movie",
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
        help="a model saved by `autorec evaluate --save PATH` or `autorec recommend --save "
        "PATH` (else one is trained first)",
    )
    p.add_argument(
        "--save",
        type=Path,
        metavar="PATH",
        help="save the model trained on all ratings here, for the next --model PATH",
    )
    p.add_argument(
        "--format",
        choices=("table", "csv", "json"),
        default="table",
        help="output: an aligned table, CSV (one row per recommendation, with a header) or "
        "JSON (default: %(default)s)",
    )
    p.set_defaults(func="recommend")

    p = sub.add_parser(
        "download",
        parents=[common, data],
        help="download a MovieLens archive into the data folder (checksum verified)",
        description="Download a MovieLens archive from GroupLens into the data folder, "
        "verify its checksum, and do nothing if the data is already there.",
    )
    p.add_argument(
        "--dataset",
        type=dataset_name,
        default=DEFAULT_DATASET,
        metavar="NAME",
        help=f"{', '.join(MOVIELENS_DATASETS)} (default: %(default)s)",
    )
    p.add_argument("--force", action="store_true", help="download even if the data is present")
    p.set_defaults(func="download")

    p = sub.add_parser(
        "info",
        parents=[common, data],
        help="where the data is, whether its checksum holds, what is cached",
        description="Describe the local MovieLens-1M copy and list the other MovieLens "
        "datasets cached in the data folder; downloads nothing. Exit status 1 when "
        "MovieLens-1M is not found.",
    )
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func="info")

    p = sub.add_parser(
        "serve",
        parents=[common],
        help="serve recommendations over HTTP: a JSON API and a page (needs "
        f"{serve_args.INSTALL_HINT})",
        description="Serve a model over HTTP on this machine: a JSON API under /api/ and, at "
        "/, a page where a person searches movies, rates them and sees ten recommendations "
        "with the rated movies they come from. Without --model, the default model is "
        "first trained on all the ratings (MovieLens-1M unless --dataset or --ratings says "
        "otherwise).",
    )
    add_data_arguments(p)
    serve_args.add_arguments(p)
    p.set_defaults(func="serve")
    return parser


# ------------------------------------------------------------------------- main
def _describe(exc: BaseException, args: argparse.Namespace) -> str:
    """One line naming the problem and the fix."""
    if isinstance(exc, CLIError):
        return str(exc)
    if isinstance(exc, DatasetNotFoundError):
        home = get_data_home(getattr(args, "data_home", None))
        name = getattr(args, "dataset", None) or DEFAULT_DATASET
        spec = MOVIELENS_DATASETS[name]
        cause = exc.__cause__
        if isinstance(cause, DownloadError) and cause.attempts:
            why = f"downloading it failed ({cause.attempts[-1][0]}: {cause.attempts[-1][1]})"
        elif isinstance(cause, CacheNotWritableError) and "is a file" not in str(cause):
            why = "downloading it failed (the folder is not writable)"
        elif cause is not None:
            why = f"downloading it failed ({' '.join(str(cause).split())})"
        else:
            why = "downloading is disabled (--no-download)"
        option = "" if name == DEFAULT_DATASET else f" --dataset {name}"
        return (
            f"{spec.title} is not in {home} and {why}; point --data-home or "
            f"${DATA_HOME_ENV} at a folder holding {spec.folder}/ or {spec.remote.filename}, "
            f"or run `autorec download{option}` when online (`autorec info` shows what was "
            "searched)"
        )
    if isinstance(exc, CacheNotWritableError):
        if "is a file, not a folder" in str(exc):  # the message says the fix already
            return " ".join(str(exc.strerror or exc).split())
        return f"{' '.join(str(exc).split())}; pass --data-home with a writable folder"
    if isinstance(exc, DownloadError):
        last = f" (last: {exc.attempts[-1][0]}: {exc.attempts[-1][1]})" if exc.attempts else ""
        spec = MOVIELENS_DATASETS[getattr(args, "dataset", None) or DEFAULT_DATASET]
        return (
            f"could not download {spec.title}{last}; check the connection, or download "
            f"{spec.remote.urls[0]} by hand into the data folder (`autorec info` shows where)"
        )
    if isinstance(exc, RatingsFormatError):
        return (
            f"{' '.join(str(exc).split())}; fix that line, or name the columns and the "
            "separator (--columns, --sep, --header/--no-header)"
        )
    if isinstance(exc, MovieLensFormatError):
        return (
            f"{' '.join(str(exc).split())}; the data is damaged: replace it "
            "(`autorec download --force`) or point --data-home elsewhere"
        )
    if isinstance(exc, ModelFormatError):
        return f"{' '.join(str(exc).split())}; save a new model with `autorec evaluate --save PATH`"
    if isinstance(exc, OSError) and exc.errno == errno.EPIPE:
        return "output closed early"
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
            f"{PROG}: error: choose a command: evaluate, recommend, download, info or serve",
            file=sys.stderr,
        )
        return 2
    if args.command == "recommend" and not (args.user or args.rate):
        commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        commands.choices["recommend"].error(
            "give --user ID (repeat for several users) or --rate ITEM=RATING"
        )  # exits 2

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
        func = args.func
        if isinstance(func, str):  # the commands (and torch) load only now
            module = "autorec.serve" if func == "serve" else "autorec._cli_commands"
            func = getattr(
                importlib.import_module(module), "run" if func == "serve" else f"_{func}"
            )
        return func(args)
    except BrokenPipeError:
        # The reader went away (`autorec recommend ... | head`): exit quietly, as cat does.
        _silence_stdout()
        return 0
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
        try:
            if sys.stdout is not None:  # None when started with stdout closed (`>&-`)
                sys.stdout.flush()
        except BrokenPipeError:
            _silence_stdout()


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush cannot fail again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
