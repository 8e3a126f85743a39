"""Every MovieLens size: :func:`load_movielens` for ml-100k, ml-1m, ml-10m, ml-20m,
ml-25m and ml-latest-small, with their URLs, checksums (and where each came from),
licence and the parser of each archive's format. Downloads go through the shared
machinery of ``autorec.datasets._fetch`` (mirrors, checksum, lock, atomic rename).
"""

from __future__ import annotations

import logging
import os
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autorec.datasets._base import get_data_home
from autorec.datasets._delimited import open_maybe_gzip
from autorec.datasets._fetch import (
    CacheNotWritableError,
    DownloadError,
    RemoteFile,
    fetch_remote,
    verify_file,
)
from autorec.datasets._movielens import (
    DESCR as ML_1M_DESCR,
)
from autorec.datasets._movielens import (
    LICENCE_TERMS,
    MOVIELENS_URLS_ENV,
    DatasetNotFoundError,
    load_movielens_1m,
)
from autorec.datasets._movielens_formats import Opener, member_files, read_movielens
from autorec.datasets._parsers import MovieLensFormatError
from autorec.datasets._ratings_file import RatingsDataset, title_year

__all__ = [
    "MOVIELENS_DATASETS",
    "MovieLensSpec",
    "cached_datasets",
    "download_movielens",
    "load_movielens",
]

logger = logging.getLogger(__name__)

_BASE = "files.grouplens.org/datasets/movielens"

LICENCE = (
    "Usage licence (from the GroupLens README of each archive)\n"
    "----------------------------------------------------------\n" + LICENCE_TERMS
)


@dataclass(frozen=True)
class MovieLensSpec:
    """One MovieLens archive: where it is, how to check it, how to read it.

    ``folder`` is the folder inside the archive (and the name of an extracted copy);
    ``layout`` is ``"100k"`` (``u.data``, ``u.item``, ``u.user``), ``"dat"``
    (``ratings.dat``, ``movies.dat``, ``::``-separated) or ``"csv"`` (``ratings.csv``,
    ``movies.csv`` with a header).
    """

    name: str
    title: str
    remote: RemoteFile
    checksum_source: str
    folder: str
    layout: str
    rating_scale: tuple[float, float]
    n_ratings: int
    n_users: int
    n_items: int
    summary: str

    @property
    def DESCR(self) -> str:
        heading = f"{self.title}\n{'=' * len(self.title)}\n\n"
        return (
            heading + self.summary + f"\n\nhttps://grouplens.org/datasets/movielens/\n\n{LICENCE}"
        )


def _remote(filename: str, digest: str, size: int) -> RemoteFile:
    return RemoteFile(
        filename, digest, size, (f"https://{_BASE}/{filename}", f"http://{_BASE}/{filename}")
    )


# Checksums. SHA-256 and sizes: tensorflow/datasets,
# tensorflow_datasets/url_checksums/movielens.txt (its ML-1M line matches the SHA-256 that
# autorec pinned for ml-1m.zip independently). ML-10M is not in that file and no public
# code we found under a citable name pins its SHA-256: its MD5 is GroupLens' own
# (https://files.grouplens.org/datasets/movielens/ml-10m.zip.md5), as pinned by
# eli-osherovich/papers_with_code, datasets/movielens/dl_config.py; its size, 65,566,137
# bytes, is the one public notebooks check (not verified here: the archive is not on
# this machine).
_TFDS = "tensorflow/datasets: tensorflow_datasets/url_checksums/movielens.txt (SHA-256)"
MOVIELENS_DATASETS: dict[str, MovieLensSpec] = {
    spec.name: spec
    for spec in (
        MovieLensSpec(
            "ml-100k",
            "MovieLens-100K",
            _remote(
                "ml-100k.zip",
                "50d2a982c66986937beb9ffb3aa76efe955bf3d5c6b761f4e3a7cd717c6a3229",
                4_924_029,
            ),
            _TFDS,
            "ml-100k",
            "100k",
            (1.0, 5.0),
            100_000,
            943,
            1_682,
            "100,000 ratings (integers 1 to 5) of 1,682 movies by 943 users, 1997-1998, "
            "each user with at least 20 ratings; u.data (tab-separated), u.item (latin-1, "
            "|-separated, 19 genre flags), u.user.",
        ),
        MovieLensSpec(
            "ml-1m",
            "MovieLens-1M",
            _remote(
                "ml-1m.zip",
                "a6898adb50b9ca05aa231689da44c217cb524e7ebd39d264c56e2832f2c54e20",
                5_917_549,
            ),
            _TFDS,
            "ml-1m",
            "dat",
            (1.0, 5.0),
            1_000_209,
            6_040,
            3_706,
            "1,000,209 ratings (integers 1 to 5) of 3,706 movies by 6,040 users who joined "
            "in 2000; ratings.dat, movies.dat (latin-1), users.dat, ::-separated.",
        ),
        MovieLensSpec(
            "ml-10m",
            "MovieLens-10M",
            _remote("ml-10m.zip", "md5:ce571fd55effeba0271552578f2648bd", 65_566_137),
            "GroupLens' MD5 (ml-10m.zip.md5), as pinned by eli-osherovich/papers_with_code: "
            "datasets/movielens/dl_config.py; no public SHA-256 found",
            "ml-10M100K",
            "dat",
            (0.5, 5.0),
            10_000_054,
            69_878,
            10_677,
            "10,000,054 ratings (half stars, 0.5 to 5) of 10,677 movies by 69,878 users; "
            "ratings.dat and movies.dat, ::-separated (folder ml-10M100K in the archive).",
        ),
        MovieLensSpec(
            "ml-20m",
            "MovieLens-20M",
            _remote(
                "ml-20m.zip",
                "96f243c338a8665f6bcc89c53edf6ee39162a846940de6b7c8c48aeada765ff3",
                198_702_078,
            ),
            _TFDS,
            "ml-20m",
            "csv",
            (0.5, 5.0),
            20_000_263,
            138_493,
            26_744,
            "20,000,263 ratings (half stars, 0.5 to 5) of 26,744 movies by 138,493 users, "
            "1995-2015; ratings.csv and movies.csv (UTF-8, with a header).",
        ),
        MovieLensSpec(
            "ml-25m",
            "MovieLens-25M",
            _remote(
                "ml-25m.zip",
                "8b21cfb7eb1706b4ec0aac894368d90acf26ebdfb6aced3ebd4ad5bd1eb9c6aa",
                261_978_986,
            ),
            _TFDS,
            "ml-25m",
            "csv",
            (0.5, 5.0),
            25_000_095,
            162_541,
            59_047,
            "25,000,095 ratings (half stars, 0.5 to 5) of 59,047 movies by 162,541 users, "
            "1995-2019; ratings.csv and movies.csv (UTF-8, with a header).",
        ),
        MovieLensSpec(
            "ml-latest-small",
            "MovieLens latest, small",
            _remote(
                "ml-latest-small.zip",
                "696d65a3dfceac7c45750ad32df2c259311949efec81f0f144fdfb91ebc9e436",
                978_202,
            ),
            _TFDS,
            "ml-latest-small",
            "csv",
            (0.5, 5.0),
            100_836,
            610,
            9_724,
            "100,836 ratings (half stars, 0.5 to 5) of 9,724 movies by 610 users (the "
            "September 2018 snapshot); ratings.csv and movies.csv (UTF-8, with a header). "
            "For education and development, not for research results.",
        ),
    )
}


def _spec(name: str) -> MovieLensSpec:
    if name not in MOVIELENS_DATASETS:
        raise ValueError(
            f"unknown MovieLens dataset {name!r}; choose one of {list(MOVIELENS_DATASETS)}"
        )
    return MOVIELENS_DATASETS[name]


def _read_zip(spec: MovieLensSpec, path: Path) -> RatingsDataset:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise MovieLensFormatError(str(path), f"not a valid zip archive ({exc})") from exc
    with archive:
        names = set(archive.namelist())

        def open_member(name: str) -> Opener | None:
            full = f"{spec.folder}/{name}"
            return (lambda: archive.open(full)) if full in names else None

        try:
            ratings, movies, users = read_movielens(spec, open_member, f"{path}:{spec.folder}")
        except (zipfile.BadZipFile, EOFError, zipfile.LargeZipFile) as exc:
            raise MovieLensFormatError(str(path), f"the archive is damaged ({exc})") from exc
    return RatingsDataset(
        spec.name, ratings, movies, users, spec.rating_scale, path, "zip", spec.DESCR
    )


def _folder_of(spec: MovieLensSpec, home: Path) -> Path | None:
    """An extracted copy: ``<home>/<archive folder>`` or ``<home>/<name>``, holding the
    ratings (plain or ``.gz``) and movies files."""
    for folder in dict.fromkeys((home / spec.folder, home / spec.name)):
        ratings, movies = (folder / n for n in member_files(spec.layout))
        has_ratings = ratings.is_file() or ratings.with_name(ratings.name + ".gz").is_file()
        if has_ratings and movies.is_file():
            return folder
    return None


def _read_folder(spec: MovieLensSpec, folder: Path) -> RatingsDataset:
    def open_member(name: str) -> Opener | None:
        for candidate in (folder / name, folder / f"{name}.gz"):
            if candidate.is_file():
                return lambda: open_maybe_gzip(candidate)
        return None

    ratings, movies, users = read_movielens(spec, open_member, str(folder))
    return RatingsDataset(
        spec.name, ratings, movies, users, spec.rating_scale, folder, "folder", spec.DESCR
    )


def _from_1m(data: Any) -> RatingsDataset:
    spec = MOVIELENS_DATASETS["ml-1m"]
    return RatingsDataset(
        "ml-1m",
        data.ratings,
        data.movies.assign(year=title_year(data.movies["title"])),
        data.users,
        spec.rating_scale,
        data.path,
        data.source,
        ML_1M_DESCR,
    )


def load_movielens(
    name: str = "ml-1m",
    data_home: str | os.PathLike[str] | None = None,
    *,
    download_if_missing: bool = True,
    urls: Iterable[str] | str | None = None,
    verbose: bool = True,
) -> RatingsDataset:
    """Load a MovieLens dataset, any size, downloading it if needed.

    Looks in ``data_home`` for an extracted folder (the archive's folder name, e.g.
    ``ml-10M100K``, or ``name``; the ratings file may be gzip-compressed), then for the
    archive ``<name>.zip``, used only if its size and checksum match and read without
    extracting it; else downloads the archive (see :func:`download_movielens`). ML-1M
    goes through :func:`load_movielens_1m`: the same frames, plus a ``year`` column.

    By loading the data you accept the GroupLens usage licence: research use only, no
    redistribution, no commercial use without permission, no implied endorsement, and
    publications cite F. Maxwell Harper and Joseph A. Konstan. 2015. The MovieLens
    Datasets: History and Context. ACM TiiS 5, 4, Article 19.
    https://doi.org/10.1145/2827872 (full text in ``DESCR``).

    Parameters
    ----------
    name : {"ml-100k", "ml-1m", "ml-10m", "ml-20m", "ml-25m", "ml-latest-small"}
        Which dataset (sizes, scales and formats: ``MOVIELENS_DATASETS``).
    data_home : str or path-like, default=None
        Data folder; see :func:`get_data_home`.
    download_if_missing : bool, default=True
        Download the archive when the data is not found; if False, raise
        :class:`DatasetNotFoundError` instead.
    urls : sequence of str or str, default=None
        URLs to download from instead of GroupLens' (and ``$AUTOREC_MOVIELENS_URLS``,
        whose mirrors are tried first otherwise; give a mirror of the right archive).
    verbose : bool, default=True
        Show a download progress bar.

    Returns
    -------
    RatingsDataset
        ``ratings`` (``user_id``, ``item_id`` int64, ``rating`` float32, ``timestamp``
        int64), ``movies`` (``item_id``, ``title``, ``genres``, ``year``), ``users``
        (ML-100K, ML-1M; else None), ``rating_scale`` ((1, 5), or (0.5, 5) with half
        stars), ``path``, ``source``, ``DESCR``.

    Raises
    ------
    DatasetNotFoundError
        The data is missing and downloading is disabled or failed; the message names the
        folder searched, the URL and where to put the archive by hand.
    MovieLensFormatError
        A file does not follow its format, or a rating is off the scale (the message
        names the file and the line).
    ValueError
        An unknown ``name``.

    Examples
    --------
    >>> from autorec.datasets import load_movielens
    >>> data = load_movielens("ml-100k")  # doctest: +SKIP
    >>> data.ratings.shape, data.rating_scale  # doctest: +SKIP
    ((100000, 4), (1.0, 5.0))
    """
    spec = _spec(name)
    if name == "ml-1m":
        data = load_movielens_1m(
            data_home, download_if_missing=download_if_missing, urls=urls, verbose=verbose
        )
        return _from_1m(data)
    home = get_data_home(data_home)
    folder = _folder_of(spec, home)
    if folder is not None:
        logger.info("loading %s from %s", spec.title, folder)
        return _read_folder(spec, folder)
    archive = home / spec.remote.filename
    notes = []
    if archive.exists():
        problem = verify_file(archive, spec.remote)
        if problem is None:
            logger.info("loading %s from %s", spec.title, archive)
            return _read_zip(spec, archive)
        notes.append(f"The archive {archive} fails verification ({problem}), so it is not used.")
    if not download_if_missing:
        raise _not_found(spec, home, notes, "Downloading is disabled (download_if_missing=False).")
    try:
        path = fetch_remote(
            spec.remote, home, urls=urls, verbose=verbose, env_var=MOVIELENS_URLS_ENV
        )
    except (DownloadError, CacheNotWritableError) as exc:
        if isinstance(exc, DownloadError) and exc.attempts:
            tried = "\n".join(f"  - {url}: {why}" for url, why in exc.attempts)
            reason = f"Downloading it failed:\n{tried}"
        else:
            reason = f"Downloading it failed: {exc}"
        raise _not_found(spec, home, notes, reason) from exc
    return _read_zip(spec, path)


def _not_found(
    spec: MovieLensSpec, home: Path, notes: list[str], reason: str
) -> DatasetNotFoundError:
    remote = spec.remote
    lines = [
        f"{spec.title} was not found in {home}: looked for the folder {home / spec.folder} "
        f"(holding {' and '.join(member_files(spec.layout))}) and for the archive "
        f"{home / remote.filename}.",
        *notes,
        reason,
        f"To install it by hand, download {remote.urls[0]} ({remote.size:,} bytes, "
        f"{remote.checksum_label}) and put it at {home / remote.filename}.",
    ]
    return DatasetNotFoundError("\n".join(lines))


def download_movielens(
    name: str = "ml-1m",
    data_home: str | os.PathLike[str] | None = None,
    *,
    urls: Iterable[str] | str | None = None,
    force: bool = False,
    verbose: bool = True,
) -> Path:
    """Download ``<name>.zip`` into ``data_home`` (if needed), verified, and return its path.

    The same guarantees as :func:`download_movielens_1m`: a temporary file checked
    against the archive's size and checksum (SHA-256; MD5 for ML-10M, the only checksum
    published for it), renamed into place only then, mirrors tried in order, a lock
    file against concurrent downloads. See :func:`load_movielens` for the licence.

    Parameters
    ----------
    name : str, default="ml-1m"
        A key of ``MOVIELENS_DATASETS``.
    data_home, urls, force, verbose
        As for :func:`download_movielens_1m`.

    Returns
    -------
    pathlib.Path
        ``<data_home>/<name>.zip``.

    Raises
    ------
    DownloadError, CacheNotWritableError, OSError, ValueError
        As for :func:`download_movielens_1m`; ValueError also for an unknown ``name``.
    """
    spec = _spec(name)
    return fetch_remote(
        spec.remote,
        get_data_home(data_home),
        urls=urls,
        force=force,
        verbose=verbose,
        env_var=MOVIELENS_URLS_ENV,
    )


def cached_datasets(
    data_home: str | os.PathLike[str] | None = None, *, verify: bool = True
) -> list[dict[str, Any]]:
    """What of each MovieLens dataset is in ``data_home``, without loading or writing.

    Returns
    -------
    list of dict
        One per dataset, in ``MOVIELENS_DATASETS`` order: ``name``, ``found`` (bool),
        ``form`` (``"folder"``, ``"zip"`` or None), ``path`` (str or None),
        ``archive`` (str: where the archive goes), ``checksum_ok`` (bool, or None with
        no archive or ``verify=False``), ``size`` (int: the archive's bytes).
    """
    home = get_data_home(data_home)
    out = []
    for spec in MOVIELENS_DATASETS.values():
        archive = home / spec.remote.filename
        folder = _folder_of(spec, home)
        checksum = None
        if archive.is_file() and verify:
            checksum = verify_file(archive, spec.remote) is None
        form = "folder" if folder else "zip" if checksum else None
        out.append(
            {
                "name": spec.name,
                "found": form is not None,
                "form": form,
                "path": str(folder if folder else archive) if form else None,
                "archive": str(archive),
                "checksum_ok": checksum,
                "size": spec.remote.size,
            }
        )
    return out
