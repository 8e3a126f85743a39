"""The parsers of the MovieLens archives' own formats: ``u.data``/``u.item``/``u.user``
(ML-100K), ``ratings.dat``/``movies.dat`` (ML-1M, ML-10M) and ``ratings.csv``/``movies.csv``
(ML-20M, ML-25M, latest), each read from an archive member or a file by an opener."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import IO, Any

import numpy as np
import pandas as pd

from autorec.datasets._delimited import read_ratings_table
from autorec.datasets._parsers import MovieLensFormatError, parse_movies
from autorec.datasets._ratings_file import title_year

__all__ = ["member_files", "read_movielens"]

#: The genres of ML-100K's ``u.item`` flags, in column order (its ``u.genre``).
_GENRES_100K = (
    "unknown|Action|Adventure|Animation|Children's|Comedy|Crime|Documentary|Drama|Fantasy|"
    "Film-Noir|Horror|Musical|Mystery|Romance|Sci-Fi|Thriller|War|Western"
).split("|")

Opener = Callable[[], IO[bytes]]


def _with_year(movies: pd.DataFrame) -> pd.DataFrame:
    return movies.assign(year=title_year(movies["title"]))


def _pipe_fields(
    data: bytes,
    source: str,
    valid: Callable[[list[str]], bool],
    problem: Callable[[list[str]], str],
) -> Iterator[list[str]]:
    """The ``|``-separated fields of each non-blank latin-1 line of ``data``; a line whose
    fields are not ``valid`` raises :class:`MovieLensFormatError` naming it."""
    for number, line in enumerate(data.decode("latin-1").split("\n"), 1):
        line = line.rstrip("\r")
        if not line.strip():
            continue
        fields = line.split("|")
        if not valid(fields):
            raise MovieLensFormatError(source, problem(fields), number, line[:200])
        yield fields


def _items_100k(data: bytes, source: str) -> pd.DataFrame:
    """``u.item``: ``id|title|release date|video date|IMDb URL|19 genre flags``, latin-1."""
    rows = []
    for fields in _pipe_fields(
        data,
        source,
        lambda f: len(f) == 5 + len(_GENRES_100K) and f[0].strip().isdigit(),
        lambda f: f"expected 24 '|'-separated fields starting with a movie id, got {len(f)}",
    ):
        genres = "|".join(
            g for g, flag in zip(_GENRES_100K, fields[5:], strict=True) if flag == "1"
        )
        rows.append((int(fields[0]), fields[1].strip(), genres))
    if not rows:
        raise MovieLensFormatError(source, "no movies found (the file is empty or blank)")
    ids, titles, genres = zip(*rows, strict=True)
    frame = pd.DataFrame({"item_id": np.array(ids, np.int64), "title": titles, "genres": genres})
    return frame


def _users_100k(data: bytes, source: str) -> pd.DataFrame:
    """``u.user``: ``id|age|gender|occupation|zip``."""
    rows = []
    for fields in _pipe_fields(
        data,
        source,
        lambda f: len(f) == 5 and f[0].isdigit() and f[1].isdigit(),
        lambda f: "expected id|age|gender|occupation|zip",
    ):
        rows.append((int(fields[0]), fields[2], int(fields[1]), fields[3], fields[4]))
    users, genders, ages, occupations, zips = zip(*rows, strict=True)
    return pd.DataFrame(
        {
            "user_id": np.array(users, np.int64),
            "gender": list(genders),
            "age": np.array(ages, np.int64),
            "occupation": list(occupations),
            "zip_code": list(zips),
        }
    )


def _movies_csv(opener: Opener, source: str) -> pd.DataFrame:
    """``movies.csv``: ``movieId,title,genres`` with a header, UTF-8, quoted titles."""
    try:
        with opener() as raw:
            table = pd.read_csv(
                raw, dtype={"movieId": np.int64}, keep_default_na=False, encoding="utf-8"
            )
    except (ValueError, pd.errors.ParserError) as exc:
        raise MovieLensFormatError(source, f"does not parse ({exc})") from exc
    if list(table.columns[:3]) != ["movieId", "title", "genres"]:
        raise MovieLensFormatError(
            source, f"expected the header movieId,title,genres, got {list(table.columns)}"
        )
    genres = table["genres"].where(table["genres"] != "(no genres listed)", "")
    return pd.DataFrame(
        {"item_id": table["movieId"], "title": table["title"].str.strip(), "genres": genres}
    )


def read_movielens(spec: Any, open_member: Callable[[str], Opener | None], where: str):
    """(ratings, movies, users) of an archive or folder, ``open_member(name)`` giving an
    opener for a member (None when absent)."""

    def need(name: str) -> Opener:
        opener = open_member(name)
        if opener is None:
            raise MovieLensFormatError(where, f"there is no {spec.folder}/{name}")
        return opener

    def read_bytes(name: str) -> bytes:
        with need(name)() as stream:
            return stream.read()

    def ratings(name: str, sep: str, header: bool) -> pd.DataFrame:
        return read_ratings_table(
            need(name),
            source=f"{where}/{name}",
            sep=sep,
            header=header,
            columns=(0, 1, 2),
            timestamp=3,
            int_ids=True,
            rating_scale=spec.rating_scale,
            error=MovieLensFormatError,
        )

    users = None
    if spec.layout == "100k":
        frame = ratings("u.data", "\t", False)
        movies = _items_100k(read_bytes("u.item"), f"{where}/u.item")
        if open_member("u.user") is not None:
            users = _users_100k(read_bytes("u.user"), f"{where}/u.user")
    elif spec.layout == "dat":
        frame = ratings("ratings.dat", "::", False)
        data = read_bytes("movies.dat")
        try:
            movies = parse_movies(data, source=f"{where}/movies.dat", encoding="utf-8")
        except MovieLensFormatError:
            movies = parse_movies(data, source=f"{where}/movies.dat", encoding="latin-1")
    else:
        frame = ratings("ratings.csv", ",", True)
        movies = _movies_csv(need("movies.csv"), f"{where}/movies.csv")
    return frame, _with_year(movies), users


def member_files(layout: str) -> tuple[str, ...]:
    """The (ratings, movies) files of a layout: what an extracted folder must hold."""
    return {"100k": ("u.data", "u.item"), "dat": ("ratings.dat", "movies.dat")}.get(
        layout, ("ratings.csv", "movies.csv")
    )
