"""Any ratings file: :func:`load_ratings` and :class:`RatingsDataset`, the container every
loader of :mod:`autorec.datasets` except :func:`load_movielens_1m` returns."""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from autorec.datasets._delimited import (
    RatingsFormatError,
    guess_header,
    open_maybe_gzip,
    read_ratings_table,
    sniff,
)

__all__ = ["RatingsDataset", "RatingsFormatError", "load_ratings", "title_year"]

_YEAR_RE = re.compile(r"\((\d{4})\)\s*$")


@dataclass(eq=False, repr=False)
class RatingsDataset:
    """Ratings and what describes them, as the loaders return them.

    Attributes
    ----------
    name : str
        ``"ml-100k"``, ... for MovieLens; the file name for :func:`load_ratings`.
    ratings : pandas.DataFrame
        ``user_id``, ``item_id`` (int64 when every id is an integer, else str),
        ``rating`` (float32), and ``timestamp`` (int64, Unix seconds) when the source
        has one.
    movies : pandas.DataFrame or None
        The items: ``item_id``, ``title``, ``genres`` (``|``-separated, possibly empty)
        and, for MovieLens, ``year`` (nullable Int64, from the title's ``(YYYY)``).
        None when :func:`load_ratings` got no items file.
    users : pandas.DataFrame or None
        User attributes where the source has them (ML-100K, ML-1M).
    rating_scale : tuple of (float, float)
        The lowest and highest rating possible (MovieLens: as GroupLens documents it;
        a file: as given, else the lowest and highest rating in it).
    path : pathlib.Path
        The folder, archive or file the ratings were read from.
    source : {"folder", "zip", "file"}
        Which of those ``path`` is.
    DESCR : str
        Description, and for MovieLens the usage licence and the citation.
    """

    name: str
    ratings: pd.DataFrame
    movies: pd.DataFrame | None
    users: pd.DataFrame | None
    rating_scale: tuple[float, float]
    path: Path
    source: str
    DESCR: str

    def __repr__(self) -> str:
        r = self.ratings
        return (
            f"RatingsDataset(name={self.name!r}, n_ratings={len(r)}, "
            f"n_users={r['user_id'].nunique()}, n_items={r['item_id'].nunique()}, "
            f"rating_scale={self.rating_scale}, path={str(self.path)!r})"
        )


def title_year(titles: pd.Series) -> pd.Series:
    """The year a MovieLens title ends with (``"Heat (1995)"``: 1995), else <NA>."""
    return titles.str.extract(_YEAR_RE, expand=False).astype("Int64")


def _check_scale(rating_scale: object) -> tuple[float, float] | None:
    if rating_scale is None:
        return None
    try:
        low, high = (float(v) for v in rating_scale)  # type: ignore[union-attr]
    except (TypeError, ValueError):
        raise ValueError(
            f"rating_scale must be a pair (low, high) of numbers with low < high, got "
            f"{rating_scale!r}"
        ) from None
    if not (np.isfinite(low) and np.isfinite(high) and low < high):
        raise ValueError(
            f"rating_scale must be a pair (low, high) of finite numbers with low < high, "
            f"got {rating_scale!r}"
        )
    return low, high


def _read_items(path: Path, sep: str | None, encoding: str, item_ids: pd.Series) -> pd.DataFrame:
    """An items file: id, title and optionally genres (the first three columns, or the
    columns named ``item_id``/``id``, ``title``/``name``, ``genres``)."""
    source = str(path)

    def opener():
        return open_maybe_gzip(path)

    guessed, first_line = sniff(opener, encoding)
    if first_line is None:
        raise RatingsFormatError(source, "no items found (the file is empty or blank)")
    sep = sep or guessed or ","
    first = first_line.split(sep) if sep != "," else next(csv.reader([first_line]))
    header = not first[0].strip().isdigit() and guess_header(first + ["x"] * 3, None)
    with opener() as raw:
        table = pd.read_csv(
            raw,
            sep=sep if len(sep) == 1 else re.escape(sep),
            header=0 if header else None,
            dtype=str,
            keep_default_na=False,
            encoding=encoding,
            encoding_errors="replace",
            quoting=csv.QUOTE_MINIMAL if sep == "," else csv.QUOTE_NONE,
            engine="c" if len(sep) == 1 else "python",
        )
    keys = [str(c).strip().lower().replace("_", "") for c in table.columns]
    pick = {}
    for field, names, default in (
        ("item_id", ("itemid", "id", "item", "movieid", "movie"), 0),
        ("title", ("title", "name"), 1),
        ("genres", ("genres", "genre", "categories", "category"), 2),
    ):
        found = next((j for j, k in enumerate(keys) if header and k in names), None)
        pick[field] = found if found is not None else default
    if table.shape[1] < 2:
        raise RatingsFormatError(
            source, f"an items file needs at least 2 columns (id, title), got {table.shape[1]}"
        )
    items = pd.DataFrame(
        {
            "item_id": table.iloc[:, pick["item_id"]].str.strip(),
            "title": table.iloc[:, pick["title"]].str.strip(),
            "genres": table.iloc[:, pick["genres"]].str.strip() if table.shape[1] > 2 else "",
        }
    )
    if item_ids.dtype.kind in "iu":
        numeric = pd.to_numeric(items["item_id"], errors="coerce")
        bad = numeric.isna().to_numpy()
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise RatingsFormatError(
                source,
                f"item id {items['item_id'].iat[row]!r} is not an integer, though the "
                "ratings' item ids are",
                row + 1 + int(header),
            )
        items["item_id"] = numeric.astype(np.int64)
    repeated = items["item_id"].duplicated().to_numpy()
    if repeated.any():
        row = int(np.flatnonzero(repeated)[0])
        raise RatingsFormatError(
            source, f"item {items['item_id'].iat[row]} appears twice", row + 1 + int(header)
        )
    return items


def load_ratings(
    path: str | os.PathLike[str],
    *,
    sep: str | None = None,
    columns: Sequence[int | str] | None = None,
    header: bool | None = None,
    items: str | os.PathLike[str] | None = None,
    rating_scale: tuple[float, float] | None = None,
    encoding: str = "utf-8",
) -> RatingsDataset:
    """Load a ratings file of your own: CSV, TSV or ``::``-separated text, optionally gzip.

    One rating a line, with at least a user, an item and a rating field; other fields
    are ignored, blank lines skipped, Windows line ends accepted. User and item ids are
    kept as integers when every one is an integer, else as strings.

    Parameters
    ----------
    path : str or path-like
        The ratings file (``.gz`` or not: gzip is recognised by its first bytes).
    sep : str, optional
        The field separator: one character (``","``, ``"\\t"``, ``";"``, ``"|"``...) or
        ``"::"``. Default: guessed from the first line (the first of ``::``, tab, comma,
        semicolon and ``|`` found in it).
    columns : sequence of 3 int or str, optional
        The user, item and rating columns, in this order, by 0-based position or by
        header name. Default: with a header, the columns named like ``user``/``userId``,
        ``item``/``movieId``/``isbn``..., ``rating``/``score``; without, the first three.
    header : bool, optional
        Whether the first line names the columns. Default: guessed (a first line whose
        rating field is not a number, or columns given by name).
    items : str or path-like, optional
        An items file for display: id, title and optionally genres (the first three
        columns, or those named ``item_id``/``id``, ``title``, ``genres``), with or
        without a header, separator guessed.
    rating_scale : (float, float), optional
        The lowest and highest rating possible; a rating outside it is an error naming
        its line. Default: the lowest and highest rating in the file.
    encoding : str, default="utf-8"
        Text encoding (undecodable bytes are replaced, never fatal).

    Returns
    -------
    RatingsDataset
        ``ratings`` (``user_id``, ``item_id``, ``rating`` float32), ``movies`` (the items
        file, or None), ``rating_scale``, ``path``, ``source="file"``.

    Raises
    ------
    RatingsFormatError
        (a :class:`ValueError`) A line does not parse (too few fields, an empty id, a
        rating that is not a finite number), a rating is outside ``rating_scale``, a
        (user, item) pair appears twice, or the file is empty. The message names the
        file, the line number, the value and shows the line.
    FileNotFoundError
        ``path`` or ``items`` does not exist.
    ValueError
        A bad argument (``sep``, ``columns``, ``rating_scale``).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from autorec.datasets import load_ratings
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "shop.csv").write_text(
    ...     "customer,product,stars,day\\nann,p1,5,mon\\nann,p2,3,tue\\nbob,p1,4,mon\\n")
    >>> data = load_ratings(folder / "shop.csv")
    >>> data.ratings
      user_id item_id  rating
    0     ann      p1     5.0
    1     ann      p2     3.0
    2     bob      p1     4.0
    >>> data.rating_scale
    (3.0, 5.0)
    """
    path = Path(path).expanduser()
    if not path.is_file():
        if path.is_dir():
            raise IsADirectoryError(f"{path} is a folder; give the ratings file")
        raise FileNotFoundError(f"no ratings file at {path}")
    if sep is not None and not (isinstance(sep, str) and (len(sep) == 1 or sep == "::")):
        raise ValueError(f"sep must be one character or '::', got {sep!r}")
    if sep is not None and sep in ('"', "\n", "\r"):
        raise ValueError(f"sep cannot be {sep!r}")
    scale = _check_scale(rating_scale)
    ratings = read_ratings_table(
        lambda: open_maybe_gzip(path),
        source=str(path),
        sep=sep,
        header=header,
        columns=columns,
        rating_scale=scale,
        encoding=encoding,
    )
    if scale is None:
        values = ratings["rating"].to_numpy()
        scale = (float(values.min()), float(values.max()))
    movies = None
    if items is not None:
        items_path = Path(items).expanduser()
        if not items_path.is_file():
            raise FileNotFoundError(f"no items file at {items_path}")
        movies = _read_items(items_path, None, encoding, ratings["item_id"])
    descr = f"{path.name}: {len(ratings):,} ratings on a {scale[0]:g}-{scale[1]:g} scale."
    return RatingsDataset(path.name, ratings, movies, None, scale, path, "file", descr)
