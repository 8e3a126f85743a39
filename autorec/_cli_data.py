"""The command line's data options, reusable by any subcommand.

:func:`add_data_arguments` adds ``--dataset NAME | --ratings FILE [--sep S] [--columns
user,item,rating] [--header/--no-header] [--items FILE] [--rating-scale LOW,HIGH]``,
``--data-home`` and ``--no-download`` to a parser; :func:`load_data_from_args` loads what
they name. A subcommand calls both::

    p = sub.add_parser("serve", ...)
    add_data_arguments(p)
    ...
    data = load_data_from_args(args)   # a RatingsDataset: ratings, movies, rating_scale

Nothing here imports torch.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from ._cli_common import CLIError
from .datasets import (
    DATA_HOME_ENV,
    MOVIELENS_DATASETS,
    RatingsDataset,
    load_movielens,
    load_ratings,
)

__all__ = [
    "DEFAULT_DATASET",
    "add_data_arguments",
    "data_title",
    "dataset_name",
    "load_data_from_args",
]

#: What ``--dataset`` means when neither it nor ``--ratings`` is given.
DEFAULT_DATASET = "ml-1m"
_SEP_NAMES = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|"}
_FILE_ONLY = ("sep", "columns", "header", "items", "rating_scale")


def dataset_name(text: str) -> str:
    """An argparse type: a key of ``MOVIELENS_DATASETS`` (shown as NAME, not a long list)."""
    if text not in MOVIELENS_DATASETS:
        raise argparse.ArgumentTypeError(
            f"unknown dataset {text!r}; choose one of {', '.join(MOVIELENS_DATASETS)}"
        )
    return text


def _sep(text: str) -> str:
    sep = _SEP_NAMES.get(text.lower(), text)
    if not (len(sep) == 1 or sep == "::") or sep in ('"', "\n", "\r"):
        raise argparse.ArgumentTypeError(
            f"expected one character, '::', or tab/comma/semicolon/pipe, got {text!r}"
        )
    return sep


def _columns(text: str) -> tuple[int | str, ...]:
    parts = [part.strip() for part in text.split(",")]
    if len(parts) != 3 or not all(parts):
        raise argparse.ArgumentTypeError(
            f"expected 3 comma-separated columns user,item,rating (header names or 0-based "
            f"positions), got {text!r}"
        )
    return tuple(int(p) if p.isdigit() else p for p in parts)


def _scale(text: str) -> tuple[float, float]:
    try:
        low, high = (float(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected LOW,HIGH (two numbers, e.g. 1,5), got {text!r}"
        ) from None
    if not (math.isfinite(low) and math.isfinite(high) and low < high):
        raise argparse.ArgumentTypeError(f"expected LOW,HIGH with LOW < HIGH, got {text!r}")
    return low, high


def add_data_home(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """``--data-home DIR``: the folder holding the MovieLens data."""
    parser.add_argument(
        "--data-home",
        type=Path,
        default=None,
        metavar="DIR",
        help=f"folder holding the MovieLens data (default: ${DATA_HOME_ENV}, else the user "
        "cache folder)",
    )


def add_data_arguments(parser: argparse.ArgumentParser, *, download: bool = True) -> None:
    """Add the options that choose the ratings (``--dataset`` or ``--ratings FILE`` and
    its format options, ``--data-home``, and ``--no-download`` unless ``download`` is
    False) to ``parser``, in a group of their own."""
    group = parser.add_argument_group(
        "data", f"MovieLens (--dataset, default {DEFAULT_DATASET}) or your own ratings file"
    )
    which = group.add_mutually_exclusive_group()
    which.add_argument(
        "--dataset",
        type=dataset_name,
        default=None,
        metavar="NAME",
        help=f"a MovieLens dataset: {', '.join(MOVIELENS_DATASETS)} (default: "
        f"{DEFAULT_DATASET}); downloaded from GroupLens when not found (research use only)",
    )
    which.add_argument(
        "--ratings",
        type=Path,
        default=None,
        metavar="FILE",
        help="your own ratings: CSV, TSV or '::'-separated text (gzip too), one rating a "
        "line; extra columns are ignored",
    )
    group.add_argument(
        "--sep",
        type=_sep,
        default=None,
        metavar="S",
        help="field separator of --ratings: one character, '::', or tab (default: guessed "
        "from the first line)",
    )
    group.add_argument(
        "--columns",
        type=_columns,
        default=None,
        metavar="USER,ITEM,RATING",
        help="the user, item and rating columns of --ratings, by header name or 0-based "
        "position (default: user/item/rating-like header names, else the first three)",
    )
    group.add_argument(
        "--header",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="whether the first line of --ratings names the columns (default: guessed)",
    )
    group.add_argument(
        "--items",
        type=Path,
        default=None,
        metavar="FILE",
        help="titles for --ratings: id, title[, genres] a line (CSV/TSV, header optional)",
    )
    group.add_argument(
        "--rating-scale",
        type=_scale,
        default=None,
        metavar="LOW,HIGH",
        help="lowest and highest rating possible in --ratings (default: the lowest and "
        "highest in the file)",
    )
    add_data_home(group)
    if download:
        group.add_argument(
            "--no-download",
            action="store_true",
            help="fail instead of downloading a MovieLens dataset that is not found",
        )


def load_data_from_args(args: argparse.Namespace) -> RatingsDataset:
    """Load the ratings the options of :func:`add_data_arguments` name.

    Raises
    ------
    CLIError
        A file-format option (``--sep``, ``--columns``, ``--header``, ``--items``,
        ``--rating-scale``) without ``--ratings``.
    DatasetNotFoundError, RatingsFormatError, MovieLensFormatError, FileNotFoundError
        From the loaders.
    """
    if getattr(args, "ratings", None) is None:
        given = [name for name in _FILE_ONLY if getattr(args, name, None) is not None]
        if given:
            flag = "--" + given[0].replace("_", "-")
            raise CLIError(
                f"{flag} describes a ratings file: use it with --ratings FILE (a MovieLens "
                "dataset's format and scale are known)"
            )
        return load_movielens(
            getattr(args, "dataset", None) or DEFAULT_DATASET,
            args.data_home,
            download_if_missing=not getattr(args, "no_download", False),
            verbose=not getattr(args, "quiet", False),
        )
    return load_ratings(
        args.ratings,
        sep=args.sep,
        columns=args.columns,
        header=args.header,
        items=args.items,
        rating_scale=args.rating_scale,
    )


def data_title(data: RatingsDataset) -> str:
    """How output names the data: ``"MovieLens-1M"``, or the ratings file's name."""
    spec = MOVIELENS_DATASETS.get(data.name)
    return spec.title if spec is not None and data.source != "file" else data.name
