"""The MovieLens-1M dataset: find, verify, download and load it."""

from __future__ import annotations

import logging
import os
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from autorec.datasets._base import get_data_home
from autorec.datasets._fetch import (
    CacheNotWritableError,
    DownloadError,
    RemoteFile,
    fetch_remote,
    resolve_urls,
    verify_file,
)
from autorec.datasets._parsers import (
    MovieLensFormatError,
    parse_movies,
    parse_ratings,
    parse_users,
)

__all__ = [
    "MOVIELENS_1M_URLS",
    "MOVIELENS_URLS_ENV",
    "DatasetNotFoundError",
    "MovieLens1M",
    "download_movielens_1m",
    "load_movielens_1m",
    "movielens_1m_info",
]

logger = logging.getLogger(__name__)

#: Where ``ml-1m.zip`` is downloaded from, tried in order (GroupLens first).
#: Plain HTTP is safe as a fallback: the archive is checked against its SHA-256.
MOVIELENS_1M_URLS: tuple[str, ...] = (
    "https://files.grouplens.org/datasets/movielens/ml-1m.zip",
    "http://files.grouplens.org/datasets/movielens/ml-1m.zip",
)
#: Environment variable with extra mirrors (whitespace- or comma-separated), tried first.
MOVIELENS_URLS_ENV = "AUTOREC_MOVIELENS_URLS"

ML_1M = RemoteFile(
    filename="ml-1m.zip",
    sha256="a6898adb50b9ca05aa231689da44c217cb524e7ebd39d264c56e2832f2c54e20",
    size=5_917_549,
    urls=MOVIELENS_1M_URLS,
)
_FOLDER = "ml-1m"
_RATINGS_FILES = ("ratings.dat", "ratings.dat.gz")
#: MovieLens-1M's ratings: whole stars from 1 to 5 (GroupLens' README).
_STARS = (1.0, 5.0)

#: GroupLens' usage licence and the citation it asks for (every MovieLens archive's README).
LICENCE_TERMS = """\
Neither the University of Minnesota nor any of the researchers involved can
guarantee the correctness of the data, its suitability for any particular
purpose, or the validity of results based on the use of the data set. The data
set may be used for any research purposes under the following conditions:

* The user may not state or imply any endorsement from the University of
  Minnesota or the GroupLens Research Group.
* The user must acknowledge the use of the data set in publications resulting
  from the use of the data set (see the citation below).
* The user may not redistribute the data without separate permission.
* The user may not use this information for any commercial or revenue-bearing
  purposes without first obtaining permission from a faculty member of the
  GroupLens Research Project at the University of Minnesota.

autorec does not ship the data: it downloads it from GroupLens, or reads a copy
you already have.

Citation
--------
F. Maxwell Harper and Joseph A. Konstan. 2015. The MovieLens Datasets: History
and Context. ACM Transactions on Interactive Intelligent Systems (TiiS) 5, 4,
Article 19 (December 2015), 19 pages. DOI: https://doi.org/10.1145/2827872
"""

DESCR = (
    """\
MovieLens-1M
============

1,000,209 ratings (integers 1 to 5) of 3,706 movies by 6,040 users who joined
MovieLens in 2000, each user with at least 20 ratings; 3,883 movies are
described in movies.dat (title and genres) and the users in users.dat (gender,
age group, occupation, zip code). Collected and published by GroupLens
Research, University of Minnesota: https://grouplens.org/datasets/movielens/1m/

Usage license (from the GroupLens README)
-----------------------------------------
"""
    + LICENCE_TERMS
)


class DatasetNotFoundError(FileNotFoundError):
    """The dataset is not on disk and could not (or may not) be downloaded.

    The message names the folder searched and says where to put the file by hand.
    """


@dataclass(eq=False, repr=False)
class MovieLens1M:
    """The MovieLens-1M dataset as returned by :func:`load_movielens_1m`.

    Attributes
    ----------
    ratings : pandas.DataFrame
        ``user_id`` (int64), ``item_id`` (int64), ``rating`` (float32) and
        ``timestamp`` (int64, Unix seconds) when the source has it.
    movies : pandas.DataFrame
        ``item_id`` (int64), ``title`` (str), ``genres`` (str, ``|``-separated).
    users : pandas.DataFrame or None
        ``user_id``, ``gender``, ``age``, ``occupation``, ``zip_code``, or None
        when the source has no ``users.dat``.
    DESCR : str
        Description, usage license and the citation GroupLens asks for.
    path : pathlib.Path
        The folder or the ``ml-1m.zip`` archive the data was read from.
    source : {"folder", "zip"}
        Which of the two ``path`` is.
    """

    ratings: pd.DataFrame
    movies: pd.DataFrame
    users: pd.DataFrame | None
    DESCR: str
    path: Path
    source: str

    def __repr__(self) -> str:
        r = self.ratings
        return (
            f"MovieLens1M(n_ratings={len(r)}, n_users={r['user_id'].nunique()}, "
            f"n_items={r['item_id'].nunique()}, source={self.source!r}, path={str(self.path)!r})"
        )


def _folder_files(folder: Path) -> tuple[Path | None, Path | None]:
    """(ratings file, movies file) found in ``folder``, None where missing."""
    ratings = next((folder / n for n in _RATINGS_FILES if (folder / n).is_file()), None)
    movies = folder / "movies.dat"
    return ratings, movies if movies.is_file() else None


def _load_folder(folder: Path) -> MovieLens1M:
    ratings_path, movies_path = _folder_files(folder)
    assert ratings_path is not None and movies_path is not None
    ratings = parse_ratings(
        ratings_path.read_bytes(), source=str(ratings_path), rating_scale=_STARS
    )
    movies = parse_movies(movies_path.read_bytes(), source=str(movies_path))
    users_path = folder / "users.dat"
    users = None
    if users_path.is_file():
        users = parse_users(users_path.read_bytes(), source=str(users_path))
    return MovieLens1M(ratings, movies, users, DESCR, folder, "folder")


def _load_zip(path: Path) -> MovieLens1M:
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())

            def member(name: str) -> bytes | None:
                full = f"{_FOLDER}/{name}"
                return archive.read(full) if full in names else None

            ratings_bytes = member("ratings.dat")
            movies_bytes = member("movies.dat")
            users_bytes = member("users.dat")
    except zipfile.BadZipFile as exc:
        raise MovieLensFormatError(str(path), f"not a valid zip archive ({exc})") from exc
    for name, content in (("ratings.dat", ratings_bytes), ("movies.dat", movies_bytes)):
        if content is None:
            raise MovieLensFormatError(str(path), f"the archive has no member {_FOLDER}/{name}")
    assert ratings_bytes is not None and movies_bytes is not None
    ratings = parse_ratings(
        ratings_bytes, source=f"{path}:{_FOLDER}/ratings.dat", rating_scale=_STARS
    )
    movies = parse_movies(movies_bytes, source=f"{path}:{_FOLDER}/movies.dat")
    users = (
        parse_users(users_bytes, source=f"{path}:{_FOLDER}/users.dat")
        if users_bytes is not None
        else None
    )
    return MovieLens1M(ratings, movies, users, DESCR, path, "zip")


def _not_found(home: Path, notes: list[str], reason: str) -> DatasetNotFoundError:
    folder, archive = home / _FOLDER, home / ML_1M.filename
    lines = [
        f"MovieLens-1M was not found in {home}: looked for the folder {folder} (holding "
        f"ratings.dat or ratings.dat.gz, and movies.dat) and for the archive {archive}.",
        *notes,
        reason,
        f"To install it by hand, download {ML_1M.urls[0]} ({ML_1M.size:,} bytes, SHA-256 "
        f"{ML_1M.sha256}) and put it at {archive}, or extract it there so that "
        f"{folder / 'ratings.dat'} exists.",
    ]
    return DatasetNotFoundError("\n".join(line for line in lines if line))


def _search(home: Path) -> tuple[str | None, Path | None, list[str]]:
    """Find the data without writing anything: (form, path, notes)."""
    notes: list[str] = []
    folder = home / _FOLDER
    if folder.is_dir():
        ratings, movies = _folder_files(folder)
        if ratings is not None and movies is not None:
            return "folder", folder, notes
        found = (("ratings.dat(.gz)", ratings), ("movies.dat", movies))
        missing = [name for name, file in found if file is None]
        notes.append(f"The folder {folder} exists but lacks {' and '.join(missing)}.")
    elif _folder_files(home) != (None, None):
        notes.append(
            f"{home} itself looks like an extracted ml-1m folder: pass its parent as data_home."
        )
    archive = home / ML_1M.filename
    if archive.exists():
        problem = verify_file(archive, ML_1M)
        if problem is None:
            return "zip", archive, notes
        notes.append(f"The archive {archive} fails verification ({problem}), so it is not used.")
    return None, None, notes


def load_movielens_1m(
    data_home: str | os.PathLike[str] | None = None,
    *,
    download_if_missing: bool = True,
    urls: Iterable[str] | str | None = None,
    verbose: bool = True,
) -> MovieLens1M:
    """Load the MovieLens-1M ratings, movies and users, downloading them if needed.

    Looks in ``data_home`` for, in order: an extracted ``ml-1m/`` folder holding
    ``ratings.dat`` or ``ratings.dat.gz`` and ``movies.dat`` (plus ``users.dat``
    if present; the timestamp column is optional); then ``ml-1m.zip``, used
    only if its size and SHA-256 match and read without extracting it. If
    neither is there, downloads ``ml-1m.zip`` (about 5.9 MB) into
    ``data_home``; see :func:`download_movielens_1m`. Nothing is ever written
    into a folder that already holds the data, so a read-only ``data_home``
    works.

    The data is not part of autorec. By loading it you accept the GroupLens
    usage license: research use only, no redistribution, no commercial use
    without permission, no implied endorsement, and publications must cite
    F. Maxwell Harper and Joseph A. Konstan. 2015. The MovieLens Datasets:
    History and Context. ACM Transactions on Interactive Intelligent Systems
    (TiiS) 5, 4, Article 19. https://doi.org/10.1145/2827872 (full text in
    ``DESCR``).

    Parameters
    ----------
    data_home : str or path-like, default=None
        Data folder; see :func:`get_data_home` (``$AUTOREC_DATA_HOME``, else
        the per-user cache folder).
    download_if_missing : bool, default=True
        Download the archive when the data is not found. If False and the data
        is missing, raise :class:`DatasetNotFoundError`.
    urls : sequence of str or str, default=None
        URLs to download from, tried in order, instead of
        :data:`MOVIELENS_1M_URLS` and ``$AUTOREC_MOVIELENS_URLS``.
    verbose : bool, default=True
        Show a download progress bar.

    Returns
    -------
    MovieLens1M
        With ``ratings``, ``movies``, ``users``, ``DESCR``, ``path`` and ``source``.

    Raises
    ------
    DatasetNotFoundError
        (a :class:`FileNotFoundError`) The data is missing and downloading is
        disabled, failed (offline, every mirror down, bad checksum) or
        impossible (read-only ``data_home``). The message names the folder
        searched and says where to put ``ml-1m.zip`` by hand.
    MovieLensFormatError
        (a :class:`ValueError`) A file found does not follow the MovieLens
        format (also: a repeated (user, movie) pair, a rating outside 1-5);
        the message names the file and line.

    Examples
    --------
    >>> from autorec.datasets import load_movielens_1m
    >>> data = load_movielens_1m()  # doctest: +SKIP
    >>> data.ratings.shape  # doctest: +SKIP
    (1000209, 4)
    """
    home = get_data_home(data_home)
    form, path, notes = _search(home)
    if form is None and download_if_missing:
        try:
            path = fetch_remote(ML_1M, home, urls=urls, verbose=verbose, env_var=MOVIELENS_URLS_ENV)
        except (DownloadError, CacheNotWritableError) as exc:
            if isinstance(exc, DownloadError) and exc.attempts:
                tried = "\n".join(f"  - {url}: {why}" for url, why in exc.attempts)
                reason = f"Downloading it failed:\n{tried}"
            else:
                reason = f"Downloading it failed: {exc}"
            raise _not_found(home, notes, reason) from exc
        form = "zip"
    elif form is None:
        raise _not_found(home, notes, "Downloading is disabled (download_if_missing=False).")
    assert path is not None
    logger.info("loading MovieLens-1M from %s", path)
    return _load_folder(path) if form == "folder" else _load_zip(path)


def download_movielens_1m(
    data_home: str | os.PathLike[str] | None = None,
    *,
    urls: Iterable[str] | str | None = None,
    force: bool = False,
    verbose: bool = True,
) -> Path:
    """Download ``ml-1m.zip`` into ``data_home`` (if needed) and return its path.

    The archive is written to a temporary file in ``data_home``, checked
    against its size (5,917,549 bytes) and SHA-256, and only then renamed to
    ``ml-1m.zip``; on any failure (including Ctrl-C or a full disk) the
    temporary file is deleted, so a file named ``ml-1m.zip`` is always a
    verified one. Each URL is retried with exponential backoff after a
    transient error, then the next URL is tried. Concurrent calls on the same
    folder (threads or processes) wait for each other through a lock file.
    See :func:`load_movielens_1m` for the data license.

    Parameters
    ----------
    data_home : str or path-like, default=None
        Data folder (created if needed); see :func:`get_data_home`.
    urls : sequence of str or str, default=None
        URLs to try in order. Default: the mirrors listed in
        ``$AUTOREC_MOVIELENS_URLS`` (separated by whitespace or commas), then
        :data:`MOVIELENS_1M_URLS`.
    force : bool, default=False
        Download even if a verified copy is present. The present copy is
        replaced only by another verified one, never lost to a failed download.
    verbose : bool, default=True
        Show a progress bar.

    Returns
    -------
    pathlib.Path
        ``<data_home>/ml-1m.zip``.

    Raises
    ------
    DownloadError
        (an :class:`OSError`) Every URL failed; the message lists each attempt
        and says how to get the file by hand.
    CacheNotWritableError
        (a :class:`PermissionError`) ``data_home`` cannot be created or written.
    OSError
        Another write failure, such as a full disk; nothing is left behind.

    Examples
    --------
    >>> from autorec.datasets import download_movielens_1m
    >>> download_movielens_1m("~/data")  # doctest: +SKIP
    PosixPath('/home/me/data/ml-1m.zip')
    """
    home = get_data_home(data_home)
    return fetch_remote(
        ML_1M, home, urls=urls, force=force, verbose=verbose, env_var=MOVIELENS_URLS_ENV
    )


def movielens_1m_info(data_home: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """Describe the local MovieLens-1M copy without downloading or writing anything.

    Parameters
    ----------
    data_home : str or path-like, default=None
        Data folder; see :func:`get_data_home`.

    Returns
    -------
    dict
        ``data_home`` (str); ``searched`` (list of str: the folder and archive
        looked for); ``found`` (bool); ``form`` (``"folder"``, ``"zip"`` or
        None); ``path`` (str or None); ``zip_present`` (bool);
        ``zip_checksum_ok`` (bool, or None when there is no archive);
        ``n_ratings``, ``n_users``, ``n_items`` (int, or None when the data
        cannot be loaded); ``has_timestamps`` (bool or None); ``notes`` (list
        of str); ``error`` (str or None: why loading failed); ``urls`` (list of
        str: where a download would come from).

    Examples
    --------
    >>> from autorec.datasets import movielens_1m_info
    >>> info = movielens_1m_info("/nonexistent")
    >>> info["found"], info["form"], info["n_ratings"]
    (False, None, None)
    """
    home = get_data_home(data_home)
    archive = home / ML_1M.filename
    form, path, notes = _search(home)
    zip_present = archive.is_file()
    if form == "zip":
        zip_ok: bool | None = True
    elif zip_present:
        zip_ok = verify_file(archive, ML_1M) is None
    else:
        zip_ok = None
    info: dict[str, Any] = {
        "data_home": str(home),
        "searched": [str(home / _FOLDER), str(archive)],
        "found": form is not None,
        "form": form,
        "path": str(path) if path is not None else None,
        "zip_present": zip_present,
        "zip_checksum_ok": zip_ok,
        "n_ratings": None,
        "n_users": None,
        "n_items": None,
        "has_timestamps": None,
        "notes": notes,
        "error": None,
        "urls": list(ML_1M.urls),
    }
    try:
        info["urls"] = list(resolve_urls(ML_1M, None, MOVIELENS_URLS_ENV))
    except (TypeError, ValueError) as exc:
        notes.append(f"${MOVIELENS_URLS_ENV} is ignored: {exc}")
    if form is None:
        info["error"] = "MovieLens-1M is not in this folder (see notes)"
        return info
    assert path is not None
    try:
        data = _load_folder(path) if form == "folder" else _load_zip(path)
    except (MovieLensFormatError, OSError) as exc:
        info["error"] = str(exc)
        return info
    ratings = data.ratings
    info.update(
        n_ratings=len(ratings),
        n_users=int(ratings["user_id"].nunique()),
        n_items=int(ratings["item_id"].nunique()),
        has_timestamps="timestamp" in ratings.columns,
    )
    return info
