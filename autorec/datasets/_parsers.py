"""Parsers for the MovieLens ``.dat`` files (``::``-separated fields).

Formats (one record per line, lines end with ``\\n`` or ``\\r\\n``, blank lines
are ignored, ASCII spaces and tabs around a field are ignored):

* ``ratings.dat``: ``UserID::MovieID::Rating[::Timestamp]``. Ids and the
  timestamp are non-negative integers below 2**63, the rating a finite
  decimal number. Every line has the field count of the first one (the
  timestamp is optional for the whole file, not per line). Each (UserID,
  MovieID) pair appears once; the file ends with a line end (a last line
  without one is parsed, with a warning that the file may be truncated).
* ``movies.dat`` (latin-1): ``MovieID::Title::Genres``, genres ``|``-separated.
* ``users.dat``: ``UserID::Gender::Age::Occupation::Zip-code``.

Anything else raises :class:`MovieLensFormatError` naming the file, the line
number and the line. Ratings go through a vectorised fast path (about
0.4 s for the 1,000,209 ratings of MovieLens-1M) whenever the file only
holds digits, ``::`` and newlines (``\\r\\n`` and blank lines allowed);
otherwise (spaces around fields, decimal ratings, or an error to locate)
through a line-by-line parser that implements the same rules, about 5 s per
million lines.
"""

from __future__ import annotations

import gzip
import io
import itertools
import re
import warnings
import zlib

import numpy as np
import pandas as pd

from autorec.datasets._delimited import RatingsFormatError, _shorten

__all__ = ["MovieLensFormatError", "parse_movies", "parse_ratings", "parse_users"]

_INT64_MAX = int(np.iinfo(np.int64).max)
#: A gzip file decompresses to at most this many times its size, or this many bytes if
#: more (MovieLens-1M's ratings.dat is 24.6 MB, about 4 times its gzip): past that it is
#: not a ratings file, and decompression stops before it fills memory.
GZIP_MAX_RATIO, GZIP_MIN_LIMIT = 20, 64 * 2**20
_FLOAT32_MAX = float(np.finfo(np.float32).max)
_INT_RE = re.compile(r"[0-9]+")
_NUMBER_RE = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_RATING_FIELDS = ("UserID", "MovieID", "Rating", "Timestamp")
_WS = " \t\r\x0b\x0c"  # whitespace ignored around fields (ASCII only)

_FAST_BYTES = np.zeros(256, dtype=bool)
_FAST_BYTES[list(b"0123456789:\n")] = True


class MovieLensFormatError(RatingsFormatError):
    """A MovieLens file does not follow its format (a :class:`RatingsFormatError`; the
    offending line is decoded as latin-1 and shortened when long).

    Attributes
    ----------
    source : str
        The file (or archive member) being parsed.
    line_number : int or None
        1-based number of the offending line, when one is to blame.
    line : str or None
        The offending line.
    """


def _decompress_if_gzip(data: bytes, source: str) -> bytes:
    """``data``, decompressed if it is gzip; decompression stops past
    ``GZIP_MAX_RATIO`` times the compressed size (``GZIP_MIN_LIMIT`` at least)."""
    if data[:2] != b"\x1f\x8b":
        return data
    limit = max(GZIP_MIN_LIMIT, GZIP_MAX_RATIO * len(data))
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as stream:
            out = stream.read(limit + 1)
    except (OSError, EOFError, zlib.error) as exc:
        raise MovieLensFormatError(source, f"corrupt gzip data ({exc})") from exc
    if len(out) > limit:
        raise MovieLensFormatError(
            source,
            f"its {len(data):,} bytes of gzip data decompress to more than {limit:,} bytes "
            f"(over {GZIP_MAX_RATIO} times their size; a ratings file compresses about 4 to "
            "1): not a ratings file, decompression stopped",
        )
    return out


def _lines(text: str):
    """Yield ``(line_number, line)`` for the non-blank lines of ``text``."""
    for number, line in enumerate(text.split("\n"), 1):
        if line.endswith("\r"):
            line = line[:-1]
        if line.strip(_WS):
            yield number, line


def _parse_int(field: str, what: str, source: str, number: int, line: str) -> int:
    field = field.strip(_WS)
    if not _INT_RE.fullmatch(field):
        raise MovieLensFormatError(
            source,
            f"{what} must be a non-negative integer, got {field!r}",
            number,
            _shorten(line),
        )
    value = int(field)
    if value > _INT64_MAX:
        raise MovieLensFormatError(
            source, f"{what} {field} does not fit in 64 bits", number, _shorten(line)
        )
    return value


def _split(line: str, expected: tuple[int, ...], layout: str, source: str, number: int):
    fields = line.split("::")
    if len(fields) not in expected:
        counts = " or ".join(str(n) for n in expected)
        raise MovieLensFormatError(
            source,
            f"expected {counts} '::'-separated fields ({layout}), got {len(fields)}",
            number,
            _shorten(line),
        )
    return fields


def _ratings_frame(columns: list[np.ndarray]) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "user_id": columns[0].astype(np.int64, copy=False),
            "item_id": columns[1].astype(np.int64, copy=False),
            "rating": columns[2].astype(np.float32),
        }
    )
    if len(columns) == 4:
        frame["timestamp"] = columns[3].astype(np.int64, copy=False)
    return frame


def _parse_ratings_fast(data: bytes) -> list[np.ndarray] | None:
    """Vectorised parse of the common case; None means "use the slow path"."""
    if b"\r" in data:
        data = data.replace(b"\r\n", b"\n")
    if not _FAST_BYTES[np.frombuffer(data, dtype=np.uint8)].all():
        return None
    if b"\n\n" in data:
        data = re.sub(rb"\n\n+", b"\n", data)
    data = data.lstrip(b"\n")
    if not data:
        return None
    text = data.replace(b"::", b",")
    if b":" in text:
        return None
    if not text.endswith(b"\n"):
        text += b"\n"
    n_fields = text.count(b",", 0, text.index(b"\n")) + 1
    if n_fields not in (3, 4):
        return None
    chars = np.frombuffer(text, dtype=np.uint8)
    ends = np.flatnonzero((chars == ord(",")) | (chars == ord("\n")))
    if len(ends) % n_fields:
        return None
    layout = chars[ends].reshape(-1, n_fields)
    if not ((layout[:, :-1] == ord(",")).all() and (layout[:, -1] == ord("\n")).all()):
        return None
    lengths = np.diff(ends, prepend=-1) - 1
    if lengths.min() < 1 or lengths.max() > 18:  # empty field, or may not fit in int64
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", DeprecationWarning)
            values = np.fromstring(text.replace(b"\n", b","), dtype=np.int64, sep=",")
    except (ValueError, DeprecationWarning):  # pragma: no cover - validated above
        return None
    if values.size != len(ends):  # pragma: no cover - validated above
        return None
    values = values.reshape(-1, n_fields)
    return [values[:, j] for j in range(n_fields)]


def _bad_field(source: str, number: int, line: str, what: str, field: str) -> MovieLensFormatError:
    if what == "Rating":
        problem = f"Rating must be a finite number that fits in float32, got {field!r}"
    elif _INT_RE.fullmatch(field):
        problem = f"{what} {field} does not fit in 64 bits"
    else:
        problem = f"{what} must be a non-negative integer, got {field!r}"
    return MovieLensFormatError(source, problem, number, _shorten(line))


def _parse_ratings_slow(text: str, source: str) -> list[np.ndarray]:
    """Line-by-line parser: the reference rules, and the locator of bad lines."""
    columns: list[list] = [[], [], [], []]
    n_fields = 0
    ws, is_number, max_rating = _WS, _NUMBER_RE.fullmatch, _FLOAT32_MAX
    names = _RATING_FIELDS
    for number, line in enumerate(text.split("\n"), 1):
        fields = line.split("::")
        if len(fields) != n_fields:
            if len(fields) == 1 and not line.strip(ws):
                continue  # blank line
            if n_fields:
                layout = "::".join(names[:n_fields])
                _split(
                    line.removesuffix("\r"),
                    (n_fields,),
                    f"{layout}, like the first line",
                    source,
                    number,
                )
            _split(
                line.removesuffix("\r"),
                (3, 4),
                "UserID::MovieID::Rating[::Timestamp]",
                source,
                number,
            )
            n_fields = len(fields)
        fields = [field.strip(ws) for field in fields]
        for j in (0, 1, 3) if n_fields == 4 else (0, 1):
            field = fields[j]
            if not (field.isdigit() and field.isascii() and len(field) < 19):
                if not (_INT_RE.fullmatch(field) and int(field) <= _INT64_MAX):
                    raise _bad_field(source, number, line.removesuffix("\r"), names[j], field)
            columns[j].append(field)
        rating = fields[2]
        value = float(rating) if is_number(rating) else max_rating * 2
        if not -max_rating <= value <= max_rating:
            raise _bad_field(source, number, line.removesuffix("\r"), "Rating", rating)
        columns[2].append(value)
    if not n_fields:
        raise MovieLensFormatError(source, "no ratings found (the file is empty or blank)")
    out = []
    for j in range(n_fields):
        if j == 2:
            out.append(np.array(columns[j], dtype=np.float64))
        else:  # validated digit strings: let NumPy convert them in bulk
            out.append(np.array(columns[j], dtype=str).astype(np.int64))
    return out


def parse_ratings(
    data: bytes,
    *,
    source: str = "ratings.dat",
    rating_scale: tuple[float, float] | None = None,
) -> pd.DataFrame:
    """Parse the bytes of a ``ratings.dat`` (or gzip-compressed ``ratings.dat.gz``).

    Parameters
    ----------
    data : bytes
        File content; gzip data is recognised by its magic bytes.
    source : str, default="ratings.dat"
        Name used in error messages.
    rating_scale : (float, float), optional
        The lowest and highest rating allowed; a rating outside is an error naming
        its line. ``None`` (the default) accepts any finite rating.

    Returns
    -------
    pandas.DataFrame
        Columns ``user_id`` (int64), ``item_id`` (int64), ``rating`` (float32)
        and, when the file has a fourth field, ``timestamp`` (int64), in file order.

    Raises
    ------
    MovieLensFormatError
        A line does not follow the format (the message names the line
        number and shows the line), a (UserID, MovieID) pair appears twice, a
        rating is outside ``rating_scale``, the gzip data is corrupt, or there is
        no rating.

    Warns
    -----
    UserWarning
        The file does not end with a line end: its last line may have been cut
        short (a truncated file whose last line still parses).

    Examples
    --------
    >>> from autorec.datasets._parsers import parse_ratings
    >>> parse_ratings(b"1::10::5::978300760\\n\\n2::10::3::978302109\\n")
       user_id  item_id  rating  timestamp
    0        1       10     5.0  978300760
    1        2       10     3.0  978302109
    >>> parse_ratings(b"1::10::5\\n2::10\\n")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    autorec.datasets._parsers.MovieLensFormatError: ratings.dat, line 2: expected 3 ...
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"data must be bytes, got {type(data).__name__}")
    if rating_scale is not None:
        low, high = (float(v) for v in rating_scale)
    data = _decompress_if_gzip(bytes(data), source)
    columns = _parse_ratings_fast(data)
    if columns is None:
        columns = _parse_ratings_slow(data.decode("latin-1"), source)
    frame = _ratings_frame(columns)
    if not data.rstrip(_WS.encode()).endswith(b"\n"):
        number, line = _record(data, len(frame) - 1)
        warnings.warn(
            f"{source}, line {number}: the file ends in the middle of a line (no line end "
            f"after {_shorten(line)!r}); if it was cut short (an interrupted download or "
            "copy), that last rating may be wrong",
            UserWarning,
            stacklevel=2,
        )
    repeated = frame.duplicated(["user_id", "item_id"], keep="first").to_numpy()
    if repeated.any():
        row = int(np.flatnonzero(repeated)[0])
        user, item = int(frame["user_id"].iat[row]), int(frame["item_id"].iat[row])
        first = int(
            np.flatnonzero(
                (frame["user_id"].to_numpy() == user) & (frame["item_id"].to_numpy() == item)
            )[0]
        )
        number, line = _record(data, row)
        raise MovieLensFormatError(
            source,
            f"user {user} rated movie {item} a second time (first on line "
            f"{_record(data, first)[0]}; {int(repeated.sum())} repeated pair(s) in all); "
            "each (UserID, MovieID) pair may appear once",
            number,
            _shorten(line),
        )
    if rating_scale is not None:
        values = frame["rating"].to_numpy()
        outside = np.flatnonzero((values < low) | (values > high))
        if len(outside):
            number, line = _record(data, int(outside[0]))
            raise MovieLensFormatError(
                source,
                f"Rating {values[outside[0]]:g} is outside the {low:g}-{high:g} scale "
                f"({len(outside)} rating(s) outside it)",
                number,
                _shorten(line),
            )
    return frame


def _record(data: bytes, row: int) -> tuple[int, str]:
    """(line number, line) of the ``row``-th record (0-based; blank lines skipped)."""
    return next(itertools.islice(_lines(data.decode("latin-1")), row, None))


def parse_movies(
    data: bytes, *, source: str = "movies.dat", encoding: str = "latin-1"
) -> pd.DataFrame:
    """Parse the bytes of a ``movies.dat`` (``MovieID::Title::Genres``).

    Parameters
    ----------
    data : bytes
        File content.
    source : str, default="movies.dat"
        Name used in error messages.
    encoding : str, default="latin-1"
        Text encoding (GroupLens ships ML-1M's ``movies.dat`` in latin-1).

    Returns
    -------
    pandas.DataFrame
        Columns ``item_id`` (int64), ``title`` (str) and ``genres`` (str,
        ``|``-separated, possibly empty), in file order.

    Raises
    ------
    MovieLensFormatError
        A line does not have exactly 3 fields, an id is not an integer, a
        title is empty, an id is repeated, the bytes are not valid in
        ``encoding``, or there is no movie.

    Examples
    --------
    >>> from autorec.datasets._parsers import parse_movies
    >>> movies = parse_movies("1::Toy Story (1995)::Animation|Comedy\\n"
    ...                       "2::Amélie (2001)::".encode("latin-1"))
    >>> movies.title.tolist(), movies.genres.tolist()
    (['Toy Story (1995)', 'Amélie (2001)'], ['Animation|Comedy', ''])
    """
    text = _decode(data, encoding, source)
    ids, titles, genres = [], [], []
    first_line: dict[int, int] = {}
    for number, line in _lines(text):
        fields = _split(line, (3,), "MovieID::Title::Genres", source, number)
        item = _parse_int(fields[0], "MovieID", source, number, line)
        title = fields[1].strip(_WS)
        if not title:
            raise MovieLensFormatError(source, "the title is empty", number, _shorten(line))
        if item in first_line:
            raise MovieLensFormatError(
                source,
                f"MovieID {item} already appeared on line {first_line[item]}",
                number,
                _shorten(line),
            )
        first_line[item] = number
        ids.append(item)
        titles.append(title)
        genres.append(fields[2].strip(_WS))
    if not ids:
        raise MovieLensFormatError(source, "no movies found (the file is empty or blank)")
    return pd.DataFrame(
        {
            "item_id": np.array(ids, dtype=np.int64),
            "title": titles,
            "genres": genres,
        }
    )


def parse_users(
    data: bytes, *, source: str = "users.dat", encoding: str = "latin-1"
) -> pd.DataFrame:
    """Parse the bytes of a ``users.dat`` (``UserID::Gender::Age::Occupation::Zip-code``).

    Returns
    -------
    pandas.DataFrame
        Columns ``user_id`` (int64), ``gender`` (str), ``age`` (int64),
        ``occupation`` (int64) and ``zip_code`` (str).

    Raises
    ------
    MovieLensFormatError
        A line does not have exactly 5 fields, a number field is not an
        integer, an id is repeated, or there is no user.

    Examples
    --------
    >>> from autorec.datasets._parsers import parse_users
    >>> parse_users(b"1::F::1::10::48067\\n2::M::56::16::70072\\n")
       user_id gender  age  occupation zip_code
    0        1      F    1          10    48067
    1        2      M   56          16    70072
    """
    text = _decode(data, encoding, source)
    rows = []
    first_line: dict[int, int] = {}
    for number, line in _lines(text):
        fields = _split(line, (5,), "UserID::Gender::Age::Occupation::Zip-code", source, number)
        user = _parse_int(fields[0], "UserID", source, number, line)
        if user in first_line:
            raise MovieLensFormatError(
                source,
                f"UserID {user} already appeared on line {first_line[user]}",
                number,
                _shorten(line),
            )
        first_line[user] = number
        age = _parse_int(fields[2], "Age", source, number, line)
        occupation = _parse_int(fields[3], "Occupation", source, number, line)
        rows.append((user, fields[1].strip(_WS), age, occupation, fields[4].strip(_WS)))
    if not rows:
        raise MovieLensFormatError(source, "no users found (the file is empty or blank)")
    users, genders, ages, occupations, zips = zip(*rows, strict=True)
    return pd.DataFrame(
        {
            "user_id": np.array(users, dtype=np.int64),
            "gender": list(genders),
            "age": np.array(ages, dtype=np.int64),
            "occupation": np.array(occupations, dtype=np.int64),
            "zip_code": list(zips),
        }
    )


def _decode(data: bytes, encoding: str, source: str) -> str:
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"data must be bytes, got {type(data).__name__}")
    try:
        return bytes(data).decode(encoding)
    except UnicodeDecodeError as exc:
        line_number = bytes(data).count(b"\n", 0, exc.start) + 1
        raise MovieLensFormatError(
            source, f"bytes that are not valid {encoding} ({exc.reason})", line_number
        ) from exc
