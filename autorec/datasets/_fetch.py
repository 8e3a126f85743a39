"""Checksummed, atomic and locked downloads into the data folder, through pooch.

Each attempt is one :func:`pooch.retrieve` into a staging folder ``.<name>.part``
beside the target: pooch streams into a temporary file there, checks its SHA-256 and
only then names it; the verified file is then renamed into place (``os.replace``,
atomic). The staging folder is deleted whatever happens (Ctrl-C and a full disk
included), so a file with the final name is always a verified one, and a verified
copy is only ever replaced by another. A file lock serializes downloads into one
folder (threads or processes): the second finds the verified file, downloads nothing.
"""

from __future__ import annotations

import errno
import glob
import logging
import os
import re
import shutil
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import filelock
import pooch

from autorec.datasets._downloader import AttemptFailed, Downloader, LocalWriteError

__all__ = [
    "CacheNotWritableError",
    "DownloadError",
    "RemoteFile",
    "default_file_mode",
    "fetch_remote",
    "file_sha256",
    "resolve_urls",
    "split_urls",
    "verify_file",
]

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 30.0
DEFAULT_MIN_RATE = 20_000.0
DEFAULT_RETRIES = 2
DEFAULT_BACKOFF = 1.0
MAX_BACKOFF = 30.0
DEFAULT_LOCK_TIMEOUT = 1800.0
_RETRY_HTTP_CODES = frozenset({408, 425, 429, 500, 502, 503, 504})
_NOT_WRITABLE_ERRNOS = frozenset({errno.EACCES, errno.EPERM, errno.EROFS})
_URL_SCHEMES = ("http", "https", "ftp", "file")
_SHA256_RE = re.compile(r"[0-9a-f]{64}")
_MD5_RE = re.compile(r"md5:[0-9a-f]{32}")
_sleep = time.sleep  # an indirection for tests
_downloading = threading.local()


def _pooch_record(record: logging.LogRecord) -> bool:
    """pooch's logger prints to stderr: while we download, its records go to ours (DEBUG)."""
    if getattr(_downloading, "active", False):
        logger.debug("pooch: %s", record.getMessage())
        return False
    return True


pooch.get_logger().addFilter(_pooch_record)


class DownloadError(OSError):
    """No URL delivered a copy of a remote file that passed verification.

    Attributes
    ----------
    attempts : list of (str, str)
        ``(url, reason)`` for every failed attempt, in order.
    """

    def __init__(self, message: str, attempts: list[tuple[str, str]] | None = None) -> None:
        super().__init__(message)
        self.attempts = list(attempts or [])


class CacheNotWritableError(PermissionError):
    """The data folder cannot be created or written to."""


@dataclass(frozen=True)
class RemoteFile:
    """A file to download and the facts that verify it.

    Parameters
    ----------
    filename : str
        Name of the file in the data folder (no folder part).
    sha256 : str
        Expected SHA-256, 64 hexadecimal digits; or ``"md5:"`` and 32 hexadecimal
        digits where only an MD5 is published for the file.
    size : int
        Expected size in bytes.
    urls : tuple of str
        Where to get it, tried in order.
    """

    filename: str
    sha256: str
    size: int
    urls: tuple[str, ...]

    def __post_init__(self) -> None:
        name = self.filename
        if not isinstance(name, str) or name in ("", ".", "..") or re.search(r"[/\\]", name):
            raise ValueError(f"filename must be a plain file name, got {name!r}")
        digest = self.sha256.lower() if isinstance(self.sha256, str) else None
        if digest is None or not (_SHA256_RE.fullmatch(digest) or _MD5_RE.fullmatch(digest)):
            raise ValueError(
                "sha256 must be 64 hexadecimal digits (or 'md5:' and 32 where only an MD5 "
                f"is published), got {self.sha256!r}"
            )
        object.__setattr__(self, "sha256", self.sha256.lower())
        if isinstance(self.size, bool) or not isinstance(self.size, int) or self.size < 0:
            raise ValueError(f"size must be an integer >= 0, got {self.size!r}")
        object.__setattr__(self, "urls", _check_urls(self.urls, "urls"))

    @property
    def algorithm(self) -> str:
        """``"sha256"``, or ``"md5"`` for a file whose publisher gives only an MD5."""
        return "md5" if self.sha256.startswith("md5:") else "sha256"

    @property
    def digest(self) -> str:
        """The expected hexadecimal digest, without the algorithm."""
        return self.sha256.removeprefix("md5:")

    @property
    def known_hash(self) -> str:
        """The checksum as :func:`pooch.retrieve` takes it (``"sha256:..."``, ``"md5:..."``)."""
        return f"{self.algorithm}:{self.digest}"

    @property
    def checksum_label(self) -> str:
        """How messages name the checksum: ``"SHA-256 <hex>"`` or ``"MD5 <hex>"``."""
        return f"{'MD5' if self.algorithm == 'md5' else 'SHA-256'} {self.digest}"


def _check_urls(urls: Iterable[str] | str, source: str) -> tuple[str, ...]:
    """Validate and deduplicate URLs; ``source`` (where they came from) is named in errors."""
    items = split_urls(urls) if isinstance(urls, str) else urls
    try:
        items = [url.strip() if isinstance(url, str) else url for url in items]
    except TypeError:
        raise TypeError(f"urls must be a string or a sequence of strings, got {urls!r}") from None
    allowed = f"the scheme must be one of {list(_URL_SCHEMES)}, with a host unless file://"
    for url in items:
        if not isinstance(url, str):
            raise TypeError(f"each URL must be a string, got {url!r} in {source}")
        try:
            parts = urllib.parse.urlsplit(url)
            parts.port  # noqa: B018 - raises ValueError for a bad port
        except ValueError as exc:
            raise ValueError(f"invalid URL {url!r} in {source} ({exc}); {allowed}") from None
        scheme = parts.scheme.lower()
        if scheme not in _URL_SCHEMES or not (parts.hostname or scheme == "file"):
            raise ValueError(f"unsupported URL {url!r} in {source}: {allowed}")
    if not items:
        raise ValueError(f"urls must name at least one URL, none in {source}")
    return tuple(dict.fromkeys(items))


def split_urls(value: str) -> tuple[str, ...]:
    """Split a list of URLs separated by whitespace and/or commas."""
    return tuple(part for part in re.split(r"[\s,]+", value.strip()) if part)


def resolve_urls(
    remote: RemoteFile,
    urls: Iterable[str] | str | None = None,
    env_var: str | None = None,
) -> tuple[str, ...]:
    """Return the URLs to try, in order.

    ``urls`` (a sequence, or one string of URLs separated by whitespace or
    commas) replaces the defaults. Otherwise the URLs listed in the
    environment variable ``env_var`` (same format) come first, followed by
    ``remote.urls``. A malformed URL raises :class:`ValueError` naming it and
    where it came from (``urls`` or the environment variable).
    """
    if urls is not None:
        return _check_urls(urls, "urls")
    extra: tuple[str, ...] = ()
    value = os.environ.get(env_var, "") if env_var else ""
    if value.strip():
        source = f"the environment variable {env_var} (mirrors separated by whitespace or commas)"
        extra = _check_urls(value, source)
    return _check_urls(extra + remote.urls, "urls")


def file_sha256(path: str | os.PathLike[str]) -> str:
    """SHA-256 of a file, read in chunks."""
    return pooch.file_hash(str(path), alg="sha256")


def verify_file(path: str | os.PathLike[str], remote: RemoteFile) -> str | None:
    """Return None when ``path`` has the expected size and checksum, else the reason."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return "missing"
    except OSError as exc:
        return f"cannot be read ({exc.strerror or exc})"
    if not path.is_file():
        return "not a regular file"
    if size != remote.size:
        return f"size {size:,} bytes, expected {remote.size:,}"
    try:
        digest = pooch.file_hash(str(path), alg=remote.algorithm)
    except OSError as exc:
        return f"unreadable ({exc})"
    if digest != remote.digest:
        label = remote.checksum_label.split()[0]
        return f"{label} {digest}, expected {remote.digest}"
    return None


def default_file_mode() -> int:
    """The permission bits ``open(path, "w")`` would give a new file: 0o666 less the
    process umask.

    Files are written to temporary files (mode 0o600, from :mod:`tempfile`, also
    inside pooch) and then renamed into place; without a ``chmod`` to this mode, a
    downloaded archive or a saved model would be readable by its owner only,
    unlike any other file the user writes. (Kept in this module, which imports
    nothing from the package, so it can also load on its own.)
    """
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _describe(exc: BaseException) -> tuple[str, bool]:
    """Return a reason for a failed attempt and whether retrying the URL makes sense."""
    import requests
    import urllib3

    if isinstance(exc, AttemptFailed):
        return str(exc), exc.retry
    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        code = exc.response.status_code
        return f"HTTP {code} {exc.response.reason}", code in _RETRY_HTTP_CODES
    if isinstance(exc, requests.exceptions.SSLError):
        return f"TLS error: {exc}", False
    if isinstance(exc, requests.Timeout) or any(
        isinstance(arg, urllib3.exceptions.TimeoutError) for arg in exc.args
    ):
        return f"timed out: {exc}", True
    if isinstance(exc, requests.RequestException):
        return f"network error: {exc}", True
    if isinstance(exc, ValueError) and "hash" in str(exc):  # pooch's hash check
        return f"checksum mismatch: {exc}", True
    return f"{type(exc).__name__}: {exc}", True


def _not_a_folder(folder: Path) -> Path | None:
    """The first of ``folder`` and its parents that exists but is not a folder, if any."""
    for path in (folder, *folder.parents):
        if path.exists() or path.is_symlink():
            return None if path.is_dir() else path
    return None


def _local_error(folder: Path, exc: OSError, action: str) -> OSError:
    blocker = _not_a_folder(folder) if exc.errno in (errno.EEXIST, errno.ENOTDIR) else None
    if blocker is not None:
        what = "it" if blocker == folder else f"{blocker}, a parent of it,"
        return CacheNotWritableError(
            exc.errno,
            f"cannot use {folder} as the data folder: {what} is a file, not a folder; pass "
            "another data_home (or set AUTOREC_DATA_HOME), or move that file away",
        )
    if exc.errno in _NOT_WRITABLE_ERRNOS:
        return CacheNotWritableError(
            exc.errno,
            f"cannot write to the data folder {folder} ({exc.strerror or exc}); pass a "
            "writable data_home (or set AUTOREC_DATA_HOME), or put the file there by hand",
        )
    return OSError(
        exc.errno,
        f"could not {action} in the data folder {folder}: {exc.strerror or exc}. Nothing was "
        "left behind and any earlier copy is unchanged; free some space or pass another "
        "data_home",
    )


def _remove_partials(folder: Path, remote: RemoteFile) -> None:
    """Delete the staging folder and older ``.<name>.*.part`` files (under the lock)."""
    for path in folder.glob(f"{glob.escape(f'.{remote.filename}.')}*part"):
        try:
            shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
        except OSError as exc:  # pragma: no cover - best effort
            logger.warning("could not remove the partial download %s: %s", path, exc)


def fetch_remote(
    remote: RemoteFile,
    folder: str | os.PathLike[str],
    *,
    urls: Iterable[str] | str | None = None,
    force: bool = False,
    verbose: bool = True,
    timeout: float = DEFAULT_TIMEOUT,
    min_rate: float = DEFAULT_MIN_RATE,
    retries: int = DEFAULT_RETRIES,
    backoff: float = DEFAULT_BACKOFF,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    env_var: str | None = None,
) -> Path:
    """Make sure a verified copy of ``remote`` is at ``folder / remote.filename``.

    Parameters
    ----------
    remote : RemoteFile
        The file, its checksum, size and default URLs.
    folder : path-like
        Destination folder (created if needed).
    urls : sequence of str or str, default=None
        URLs to try instead of ``remote.urls`` (see :func:`resolve_urls`).
    force : bool, default=False
        Download even when a verified copy is present (it is replaced only by
        another verified copy).
    verbose : bool, default=True
        Show a progress bar on stderr; otherwise nothing is printed.
    timeout : float, default=30
        Seconds to wait for the server on each network operation.
    min_rate : float, default=20000
        Slowest transfer accepted, in bytes per second: an attempt not finished
        ``timeout + remote.size / min_rate`` seconds after it started is
        abandoned as timed out (and retried), however steadily the server
        trickles bytes. ``0`` removes this overall deadline.
    retries : int, default=2
        Extra attempts per URL after a transient failure (timeout, connection
        error, HTTP 5xx/408/429, truncated or corrupt body), with exponential
        backoff; other failures (HTTP 404, TLS error, missing file) move on to
        the next URL at once.
    backoff : float, default=1.0
        First wait between attempts, in seconds; doubled each time.
    lock_timeout : float, default=1800
        Seconds to wait for another process downloading into the same folder.
    env_var : str, default=None
        Environment variable holding extra mirrors, tried first.

    Returns
    -------
    pathlib.Path
        Path of the verified file.

    Raises
    ------
    DownloadError
        No URL gave a verified copy (lists every attempt and how to get the
        file by hand).
    CacheNotWritableError
        ``folder`` cannot be created or written.
    OSError
        Writing failed for another reason (e.g. disk full); nothing is left behind.
    ValueError
        A bad argument, or a malformed URL (named, with the environment
        variable it came from).
    """
    folder = Path(folder)
    target = folder / remote.filename
    url_list = resolve_urls(remote, urls, env_var)
    if isinstance(timeout, bool) or not (isinstance(timeout, (int, float)) and timeout > 0):
        raise ValueError(f"timeout must be a number of seconds > 0, got {timeout!r}")
    if isinstance(min_rate, bool) or not (isinstance(min_rate, (int, float)) and min_rate >= 0):
        raise ValueError(f"min_rate must be a number of bytes per second >= 0, got {min_rate!r}")
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise ValueError(f"retries must be an integer >= 0, got {retries!r}")
    if isinstance(backoff, bool) or not (isinstance(backoff, (int, float)) and backoff >= 0):
        raise ValueError(f"backoff must be a number of seconds >= 0, got {backoff!r}")

    if not force and verify_file(target, remote) is None:
        logger.debug("%s is present and verified", target)
        return target
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".autorec-write-test-", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise _local_error(folder, exc, "create a file") from exc
    lock_path = folder / f".{remote.filename}.lock"
    lock = filelock.FileLock(lock_path, timeout=lock_timeout)
    try:
        lock.acquire()
    except filelock.Timeout as exc:
        raise DownloadError(
            f"gave up after {lock_timeout:g} s waiting for another download into {folder} "
            f"(lock file {lock_path}); if no other process is downloading, delete that file"
        ) from exc
    except OSError as exc:
        raise _local_error(folder, exc, "create the lock file") from exc
    try:
        problem = verify_file(target, remote)
        if problem is None and not force:
            logger.info("%s was downloaded by another process meanwhile", target)
            return target
        if problem not in (None, "missing"):
            logger.warning("%s fails verification (%s); downloading a new copy", target, problem)
        _remove_partials(folder, remote)
        downloader = Downloader(remote, timeout, min_rate, verbose)
        attempts = _try_urls(remote, folder, url_list, retries, backoff, downloader)
        if attempts is None:
            return target
    finally:
        _remove_partials(folder, remote)
        lock.release()
    lines = "\n".join(f"  - {url}: {reason}" for url, reason in attempts)
    raise DownloadError(
        f"could not download {remote.filename} into {folder}; every attempt failed:\n{lines}\n"
        f"Download it by hand from {remote.urls[0]} ({remote.size:,} bytes, "
        f"{remote.checksum_label}) and save it as {target}, or add a mirror with the urls argument"
        + (f" or the environment variable {env_var}." if env_var else "."),
        attempts,
    )


def _try_urls(
    remote: RemoteFile,
    folder: Path,
    url_list: tuple[str, ...],
    retries: int,
    backoff: float,
    downloader: Downloader,
) -> list[tuple[str, str]] | None:
    """Try each URL, with retries: None once one worked, else every ``(url, reason)``."""
    import requests

    target, staging = folder / remote.filename, folder / f".{remote.filename}.part"
    attempts: list[tuple[str, str]] = []
    for url in url_list:
        for attempt in range(retries + 1):
            if attempt:
                _sleep(min(backoff * 2 ** (attempt - 1), MAX_BACKOFF))
            logger.info("downloading %s from %s (attempt %d)", remote.filename, url, attempt + 1)
            _downloading.active = True
            try:
                staging.mkdir(exist_ok=True)
                path = pooch.retrieve(
                    url,
                    known_hash=remote.known_hash,
                    fname=remote.filename,
                    path=staging,
                    downloader=downloader,
                )
                os.chmod(path, default_file_mode())
                os.replace(path, target)
            except (AttemptFailed, requests.RequestException, ValueError) as exc:
                reason, retry = _describe(exc)
            except (LocalWriteError, OSError) as exc:  # writing into the data folder
                error = exc.__cause__ if isinstance(exc, LocalWriteError) else exc
                raise _local_error(folder, error, f"write {target}") from error
            else:
                size, algorithm = f"{remote.size:,}", remote.algorithm
                logger.info("saved %s (%s bytes, %s verified)", target, size, algorithm)
                return None
            finally:
                _downloading.active = False
            attempts.append((url, reason))
            logger.warning("download of %s from %s failed: %s", remote.filename, url, reason)
            if not retry:
                break
    return attempts
