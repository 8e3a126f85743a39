"""The ``autorec`` command line: the MovieLens-1M study in one command.

Subcommands::

    autorec evaluate   split, train, and report RMSE and top-k accuracy beside the bias baseline
    autorec recommend  top-k unrated movies for one or more users
    autorec download   fetch ml-1m.zip (checksummed) into the data folder
    autorec info       where the data is, whether it verifies, how big it is
    autorec serve      an HTTP API and a page: rate movies, get recommendations with reasons

Exit status: 0 on success, 1 for data or runtime errors (one line on stderr, a
traceback only with ``--debug``), 2 for usage errors, 130 when interrupted.
Also runnable as ``python -m autorec``.
"""

from __future__ import annotations

import argparse
import errno
import logging
import os
import sys
import traceback
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ._cli_commands import (
    PLOT_HINT,
    PROG,
    CLIError,
    _download,
    _evaluate,
    _info,
    _recommend,
)
from ._version import __version__
from .datasets import (
    DATA_HOME_ENV,
    CacheNotWritableError,
    DatasetNotFoundError,
    DownloadError,
    MovieLensFormatError,
    get_data_home,
)
from .evaluation import MODELS, SPLITS, make_model
from .exceptions import ModelFormatError, TrainingDivergedError
from .serve import _command as serve_command

__all__ = ["build_parser", "estimator_for", "main"]

#: Largest --random-state (numpy and torch seeds are 64-bit signed at most).
_MAX_SEED = 2**63 - 1


def estimator_for(kind: str = "default", **kwargs: Any) -> Any:
    """Deprecated alias of :func:`autorec.evaluation.make_model`."""
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
        choices=tuple(MODELS),
        default="default",
        help="; ".join(f"{name}: {spec.help}" for name, spec in MODELS.items())
        + " (default: %(default)s)",
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
        type=_seed,
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
        "and kept are given per member, in order: as 33+67+26 in the table, as lists "
        "in --json.",
    )
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

    p = sub.add_parser(
        "serve",
        parents=[common, data, fetch],
        help="serve recommendations over HTTP: a JSON API and a page (needs "
        f"{serve_command.INSTALL_HINT})",
        description="Serve a model over HTTP on this machine: a JSON API under /api/ and, at "
        "/, a page where a person searches movies, rates them and sees ten recommendations "
        "with the rated movies they come from. Without --model, the default model is "
        "first trained on all of MovieLens-1M.",
    )
    serve_command.add_arguments(p)
    p.set_defaults(func=serve_command.run)
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
            sys.stdout.flush()
        except BrokenPipeError:
            _silence_stdout()


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush cannot fail again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
