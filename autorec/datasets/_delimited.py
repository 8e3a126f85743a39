"""Reading delimited ratings text (CSV, TSV, ``::``-separated; gzip too) into frames.

The shared reader behind :func:`autorec.datasets.load_ratings` and the MovieLens loaders
(``u.data``, ``ratings.dat`` of ML-10M, ``ratings.csv``). The text is streamed through
pandas' C parser (a ``::`` separator is turned into one byte on the way, so the C parser
takes it too): the bytes of the file are never held in memory at once, only the columns
kept. When something does not parse, a second, line-by-line pass over the file finds the
first bad line, and the error names the file, the line number, the field and the value.
"""

from __future__ import annotations

import csv
import gzip
import io
import math
import re
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import IO, Any

import numpy as np
import pandas as pd

__all__ = [
    "FIELDS",
    "RatingsFormatError",
    "open_maybe_gzip",
    "read_ratings_table",
    "sniff",
]

#: The columns a ratings table is read into, in this order.
FIELDS = ("user_id", "item_id", "rating")
#: Header names recognised for each field (compared lower-case, ignoring ``_``, ``-``
#: and spaces), when the user does not name the columns.
_ALIASES = {
    "user_id": ("user", "userid", "users", "uid", "customer", "customerid", "reader"),
    "item_id": ("item", "itemid", "movie", "movieid", "book", "isbn", "product", "productid"),
    "rating": ("rating", "ratings", "score", "stars", "value"),
}
_SEPARATORS = ("::", "\t", ",", ";", "|")
#: The byte a ``::`` separator becomes for pandas' C parser.
_UNIT_SEP = "\x1f"
_SNIFF_BYTES = 1 << 16
_CHUNK = 1 << 20

Opener = Callable[[], IO[bytes]]


class RatingsFormatError(ValueError):
    """A ratings (or items) file does not parse.

    Attributes
    ----------
    source : str
        The file (or archive member) being read.
    line_number : int or None
        1-based number of the offending line, when one is to blame.
    line : str or None
        The offending line (shortened when long).
    """

    def __init__(
        self, source: str, problem: str, line_number: int | None = None, line: str | None = None
    ) -> None:
        self.source, self.line_number, self.line = source, line_number, line
        where = f"{source}, line {line_number}" if line_number is not None else source
        shown = f": {line!r}" if line is not None else ""
        super().__init__(f"{where}: {problem}{shown}")


def _shorten(line: str, limit: int = 200) -> str:
    return line if len(line) <= limit else line[:limit] + "..."


def open_maybe_gzip(path: Any) -> IO[bytes]:
    """Open a file for binary reading, decompressing it on the fly when it is gzip."""
    raw = open(path, "rb")
    if raw.read(2) == b"\x1f\x8b":
        raw.seek(0)
        return gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]
    raw.seek(0)
    return raw


class _Translate(io.RawIOBase):
    """A read-only stream that replaces ``::`` by one byte (for pandas' C parser)."""

    def __init__(self, stream: IO[bytes]) -> None:
        self.stream, self.pending = stream, b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        chunk = self.pending + self.stream.read(max(len(buffer) - 1, 1))
        self.pending = b""
        if chunk.endswith(b":") and not chunk.endswith(b"::"):
            chunk, self.pending = chunk[:-1], b":"  # may be half of a separator
            if not chunk:
                more = self.stream.read(1)
                chunk, self.pending = (b":" + more, b"") if more else (b":", b"")
        data = chunk.replace(b"::", _UNIT_SEP.encode())
        buffer[: len(data)] = data
        return len(data)


def _text_lines(opener: Opener, encoding: str) -> Iterator[tuple[int, str]]:
    """``(line number, line)`` of every line, line ends removed."""
    with opener() as raw:
        text = io.TextIOWrapper(raw, encoding=encoding, errors="replace", newline="")
        for number, line in enumerate(text, 1):
            yield number, line.rstrip("\r\n")


def _split(line: str, sep: str) -> list[str]:
    if sep == ",":
        return next(csv.reader([line]), [])
    return line.split(sep)


def sniff(opener: Opener, encoding: str = "utf-8") -> tuple[str | None, str | None]:
    """(separator guessed, first non-blank line) from the file's start."""
    with opener() as raw:
        head = raw.read(_SNIFF_BYTES)
    text = head.decode(encoding, errors="replace")
    first = next((line.rstrip("\r") for line in text.split("\n") if line.strip()), None)
    if first is None:
        return None, None
    return next((s for s in _SEPARATORS if s in first), None), first


def _is_number(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def guess_header(first: list[str], columns: Sequence[int | str] | None) -> bool:
    """Whether the first line is a header: columns named by name say so; else the
    rating field of the first line is not a number."""
    if any(isinstance(c, str) and not c.strip().isdigit() for c in columns or ()):
        return True
    position = int(list(columns)[2]) if columns is not None and len(list(columns)) == 3 else 2
    return len(first) > position and not _is_number(first[position].strip())


def _resolve_columns(
    columns: Sequence[int | str] | None, first: list[str], header: bool, source: str
) -> list[int]:
    """The positions of the user, item and rating columns."""
    if columns is None:
        if not header:
            return [0, 1, 2]
        keys = [re.sub(r"[\s_\-]", "", name.strip().lower()) for name in first]
        positions = []
        for field in FIELDS:
            names = (field.replace("_", ""), *_ALIASES[field])
            found = next((j for j, key in enumerate(keys) if key in names), None)
            if found is None:
                raise RatingsFormatError(
                    source,
                    f"no {field.split('_')[0]} column in the header {first!r}; name the "
                    "columns (columns=('user', 'item', 'rating') or --columns user,item,"
                    "rating), by header name or 0-based position",
                )
            positions.append(found)
        return positions
    columns = list(columns)
    if len(columns) != 3:
        raise ValueError(
            f"columns must name 3 columns (user, item, rating) by header name or 0-based "
            f"position, got {columns!r}"
        )
    positions = []
    for column in columns:
        if isinstance(column, str) and column.strip().isdigit():
            column = int(column)
        if isinstance(column, (int, np.integer)) and not isinstance(column, bool):
            if not 0 <= column < len(first):
                raise RatingsFormatError(
                    source,
                    f"column {column} does not exist: the first line has {len(first)} "
                    f"fields (positions 0 to {len(first) - 1})",
                    1,
                    _shorten(str(first)),
                )
            positions.append(int(column))
        elif isinstance(column, str):
            if not header:
                raise ValueError(
                    f"column {column!r} is a name, but the file has no header; give 0-based "
                    "positions, or header=True"
                )
            names = [name.strip() for name in first]
            if column.strip() not in names:
                raise RatingsFormatError(
                    source, f"no column {column!r} in the header {names!r}", 1, None
                )
            positions.append(names.index(column.strip()))
        else:
            raise TypeError(f"each column must be a name or a 0-based position, got {column!r}")
    if len(set(positions)) != 3:
        raise ValueError(f"columns must be 3 different columns, got {columns!r}")
    return positions


def _locate(
    opener: Opener,
    sep: str,
    header: bool,
    positions: list[int],
    encoding: str,
    source: str,
    error: type[Exception],
) -> Exception | None:
    """Scan line by line for the first line that does not parse; None if all do."""
    names = ("user", "item", "rating", "timestamp")
    lines = _text_lines(opener, encoding)
    if header:
        next((item for item in lines if item[1].strip()), None)
    for number, line in lines:
        if not line.strip():
            continue
        fields = _split(line, sep)
        if len(fields) <= max(positions):
            return error(
                source,
                f"expected at least {max(positions) + 1} fields separated by {sep!r}, got "
                f"{len(fields)}",
                number,
                _shorten(line),
            )
        for name, j in zip(names, positions, strict=False):
            value = fields[j].strip()
            if name == "rating" and not _is_number(value):
                return error(
                    source, f"the rating must be a finite number, got {value!r}", number, line
                )
            if name == "timestamp" and not value.isdigit():
                return error(
                    source, f"the timestamp must be an integer, got {value!r}", number, line
                )
            if name in ("user", "item") and not value:
                return error(source, f"the {name} id is empty", number, _shorten(line))
    return None


def record_line(opener: Opener, row: int, header: bool, encoding: str = "utf-8") -> tuple[int, str]:
    """(line number, line) of the ``row``-th record (0-based; blank lines, header skipped)."""
    seen = -1 - int(header)
    for number, line in _text_lines(opener, encoding):
        if line.strip():
            seen += 1
            if seen == row:
                return number, line
    raise IndexError(row)  # pragma: no cover - rows come from the same file


def read_ratings_table(
    opener: Opener,
    *,
    source: str,
    sep: str | None = None,
    header: bool | None = None,
    columns: Sequence[int | str] | None = None,
    timestamp: int | None = None,
    int_ids: bool = False,
    rating_scale: tuple[float, float] | None = None,
    encoding: str = "utf-8",
    error: type[Exception] = RatingsFormatError,
) -> pd.DataFrame:
    """Read a delimited ratings file into ``user_id``, ``item_id``, ``rating`` (float32)
    and, when ``timestamp`` gives its position, ``timestamp`` (int64).

    ``opener`` returns a fresh binary stream on each call (a second pass locates bad
    lines). ``sep`` and ``header`` are guessed from the first line when None. Ids are
    int64 when every id is an integer (always with ``int_ids``), else str. Raises
    ``error`` (a :class:`RatingsFormatError` by default) naming the line for a line that
    does not parse, an empty or non-finite rating, a rating outside ``rating_scale``, or a
    (user, item) pair given twice.
    """
    guessed, first_line = sniff(opener, encoding)
    if first_line is None:
        raise error(source, "no ratings found (the file is empty or blank)")
    sep = sep if sep is not None else guessed
    if sep is None:
        raise error(
            source,
            f"cannot tell the separator from the first line (none of {list(_SEPARATORS)}); "
            "give it (sep=... or --sep)",
            None,
            _shorten(first_line),
        )
    first = _split(first_line, sep)
    if header is None:
        header = guess_header(first, columns)
    positions = _resolve_columns(columns, first, header, source)
    wanted = positions + ([timestamp] if timestamp is not None else [])
    names = [*FIELDS, "timestamp"][: len(wanted)]
    dtype: dict[int, Any] = {positions[2]: np.float64}
    if int_ids:
        dtype.update({positions[0]: np.int64, positions[1]: np.int64})
    if timestamp is not None:
        dtype[timestamp] = np.int64
    multi = len(sep) > 1
    if multi and sep != "::":
        raise ValueError(f"sep must be one character or '::', got {sep!r}")
    try:
        with opener() as raw, warnings.catch_warnings():
            warnings.simplefilter("ignore", pd.errors.DtypeWarning)
            stream = io.BufferedReader(_Translate(raw), _CHUNK) if multi else raw
            frame = pd.read_csv(
                stream,
                sep=_UNIT_SEP if multi else sep,
                header=0 if header else None,
                usecols=wanted,
                dtype=dtype,
                encoding=encoding,
                encoding_errors="replace",
                quoting=csv.QUOTE_MINIMAL if sep == "," else csv.QUOTE_NONE,
                skip_blank_lines=True,
                keep_default_na=False,
                na_values=[""],
                engine="c",
            )
    except (ValueError, pd.errors.ParserError, OverflowError) as exc:
        located = _locate(opener, sep, header, wanted, encoding, source, error)
        if located is not None:
            raise located from None
        raise error(source, f"does not parse ({' '.join(str(exc).split())})") from exc
    frame = frame[[frame.columns[sorted(wanted).index(j)] for j in wanted]]
    frame.columns = names
    if frame[list(FIELDS)].isna().any().any() or not np.isfinite(frame["rating"]).all():
        # a short line, an empty field, "nan" or "inf": the line-by-line pass names it
        located = _locate(opener, sep, header, wanted, encoding, source, error)
        if located is not None:
            raise located
    return _check(frame, opener, header, source, rating_scale, encoding, error)


def _ids(column: pd.Series) -> pd.Series:
    if column.dtype.kind in "iu":
        return column.astype(np.int64)
    return column.astype(str).str.strip()


def _has_repeated_pair(users: pd.Series, items: pd.Series) -> bool:
    """Whether a (user, item) pair appears twice, in about 8 bytes a row (one int64 key
    per pair, sorted in place) where ``DataFrame.duplicated`` takes about 40."""
    if len(users) < 2:
        return False
    if users.dtype.kind in "iu" and items.dtype.kind in "iu":
        u, i = users.to_numpy(), items.to_numpy()
        u_min, u_max, i_min, i_max = int(u.min()), int(u.max()), int(i.min()), int(i.max())
        width = i_max - i_min + 1
        if (u_max - u_min + 1) * width < 2**63:
            key = u - u_min  # the only array of the size of the data made here
            key *= width
            key += i
            key -= i_min
        else:  # ids too far apart to pack: fall back to pandas
            return bool(pd.DataFrame({"u": users, "i": items}).duplicated().any())
    else:
        u_codes, u_uniques = pd.factorize(users)
        i_codes, i_uniques = pd.factorize(items)
        key = u_codes.astype(np.int64) * len(i_uniques) + i_codes
        del u_codes, i_codes, u_uniques
    key.sort()
    return bool((key[1:] == key[:-1]).any())


def _check(
    frame: pd.DataFrame,
    opener: Opener,
    header: bool,
    source: str,
    rating_scale: tuple[float, float] | None,
    encoding: str,
    error: type[Exception],
) -> pd.DataFrame:
    def fail(row: int, problem: str) -> Exception:
        number, line = record_line(opener, row, header, encoding)
        return error(source, problem, number, _shorten(line))

    for name in ("user_id", "item_id"):
        missing = frame[name].isna().to_numpy()
        if missing.any():
            raise fail(int(np.flatnonzero(missing)[0]), f"the {name.split('_')[0]} id is empty")
    ratings = frame["rating"].to_numpy()
    bad = ~np.isfinite(ratings)
    if bad.any():
        raise fail(int(np.flatnonzero(bad)[0]), "the rating is empty or not a finite number")
    if rating_scale is not None:
        low, high = rating_scale
        outside = np.flatnonzero((ratings < low) | (ratings > high))
        if len(outside):
            raise fail(
                int(outside[0]),
                f"rating {ratings[outside[0]]:g} is outside the {low:g}-{high:g} scale "
                f"({len(outside):,} rating(s) outside it)",
            )
    frame["user_id"] = _ids(frame["user_id"])
    frame["item_id"] = _ids(frame["item_id"])
    frame["rating"] = frame["rating"].astype(np.float32)
    if _has_repeated_pair(frame["user_id"], frame["item_id"]):
        repeated = frame.duplicated(["user_id", "item_id"]).to_numpy()  # to name the line
        row = int(np.flatnonzero(repeated)[0])
        user, item = frame["user_id"].iat[row], frame["item_id"].iat[row]
        same = (frame["user_id"] == user).to_numpy() & (frame["item_id"] == item).to_numpy()
        first = record_line(opener, int(np.flatnonzero(same)[0]), header, encoding)[0]
        raise fail(
            row,
            f"user {user} rated item {item} a second time (first on line {first}; "
            f"{int(repeated.sum()):,} repeated pair(s) in all); each pair may appear once",
        )
    return frame.reset_index(drop=True)
