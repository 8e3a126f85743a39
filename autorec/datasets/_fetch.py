"""Checksummed, atomic and locked downloads into the data folder.

A file is downloaded to a temporary ``.<name>.<random>.part`` file in the
destination folder while its size and SHA-256 are computed, and renamed into
place (``os.replace``, atomic) only once both match. The temporary file is
deleted on every failure, including ``KeyboardInterrupt`` and write errors,
so a file carrying the final name is always a verified one. A file lock in the
folder makes concurrent downloads (threads or processes) wait for each other;
the second one then finds the verified file and downloads nothing. An existing
verified copy is only ever replaced by another verified copy.
"""

from __future__ import annotations

import errno
import glob
import hashlib
import http.client
import logging
import os
import re
import ssl
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import filelock
from tqdm.auto import tqdm

__all__ = [
    "CacheNotWritableError",
    "DownloadError",
    "RemoteFile",
    "fetch_remote",
    "file_sha256",
    "resolve_urls",
    "verify_file",
]

logger = logging.getLogger(__name__)

CHUNK_SIZE = 1 << 16
DEFAULT_TIMEOUT = 30.0
DEFAULT_RETRIES = 2
DEFAULT_BACKOFF = 1.0
MAX_BACKOFF = 30.0
DEFAULT_LOCK_TIMEOUT = 1800.0
_RETRY_HTTP_CODES = frozenset({408, 425, 429, 500, 502, 503, 504})
_NOT_WRITABLE_ERRNOS = frozenset({errno.EACCES, errno.EPERM, errno.EROFS})
_URL_SCHEMES = ("http", "https", "ftp", "file")
_SHA256_RE = re.compile(r"[0-9a-f]{64}")

# Indirections so tests can simulate failures without touching the network.
_sleep = time.sleep


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
        Expected SHA-256, 64 hexadecimal digits.
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
        if (
            not isinstance(self.filename, str)
            or not self.filename
            or self.filename in (".", "..")
            or "/" in self.filename
            or "\\" in self.filename
        ):
            raise ValueError(f"filename must be a plain file name, got {self.filename!r}")
        if not isinstance(self.sha256, str) or not _SHA256_RE.fullmatch(self.sha256.lower()):
            raise ValueError(f"sha256 must be 64 hexadecimal digits, got {self.sha256!r}")
        object.__setattr__(self, "sha256", self.sha256.lower())
        if isinstance(self.size, bool) or not isinstance(self.size, int) or self.size < 0:
            raise ValueError(f"size must be an integer >= 0, got {self.size!r}")
        object.__setattr__(self, "urls", _check_urls(self.urls))


def _check_urls(urls: Iterable[str] | str) -> tuple[str, ...]:
    if isinstance(urls, str):
        urls = split_urls(urls)
    try:
        items = list(urls)
    except TypeError:
        raise TypeError(f"urls must be a string or a sequence of strings, got {urls!r}") from None
    out: list[str] = []
    for url in items:
        if not isinstance(url, str):
            raise TypeError(f"each URL must be a string, got {url!r}")
        scheme = urllib.parse.urlsplit(url.strip()).scheme.lower()
        if scheme not in _URL_SCHEMES:
            raise ValueError(
                f"unsupported URL {url!r}: the scheme must be one of {list(_URL_SCHEMES)}"
            )
        if url.strip() not in out:
            out.append(url.strip())
    if not out:
        raise ValueError("urls must name at least one URL")
    return tuple(out)


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
    ``remote.urls``.
    """
    if urls is not None:
        return _check_urls(urls)
    extra: tuple[str, ...] = ()
    if env_var:
        value = os.environ.get(env_var, "")
        if value.strip():
            extra = split_urls(value)
    return _check_urls(extra + remote.urls)


def file_sha256(path: str | os.PathLike[str]) -> str:
    """SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify_file(path: str | os.PathLike[str], remote: RemoteFile) -> str | None:
    """Return None when ``path`` has the expected size and SHA-256, else the reason."""
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
        digest = file_sha256(path)
    except OSError as exc:
        return f"unreadable ({exc})"
    if digest != remote.sha256:
        return f"SHA-256 {digest}, expected {remote.sha256}"
    return None


class _VerificationError(Exception):
    """The bytes received are not the expected file."""


class _LocalWriteError(Exception):
    """Writing the temporary file failed (wraps the OSError)."""

    def __init__(self, error: OSError) -> None:
        super().__init__(str(error))
        self.error = error


def _user_agent() -> str:
    from autorec import __version__

    return f"torch-autorec/{__version__} (+https://github.com/autorec/torch-autorec)"


def _open_url(url: str, timeout: float):  # -> http.client.HTTPResponse
    request = urllib.request.Request(url, headers={"User-Agent": _user_agent()})
    return urllib.request.urlopen(request, timeout=timeout)


def _write_chunk(fileobj: BinaryIO, chunk: bytes) -> None:
    fileobj.write(chunk)


def _download_to(
    url: str, fileobj: BinaryIO, remote: RemoteFile, timeout: float, progress: tqdm
) -> None:
    """Stream ``url`` into ``fileobj``, verifying size and SHA-256."""
    with _open_url(url, timeout) as response:
        length = response.headers.get("Content-Length")
        if length is not None and length.strip().isdigit() and int(length) != remote.size:
            raise _VerificationError(
                f"the server announces {int(length):,} bytes, expected {remote.size:,}"
            )
        digest = hashlib.sha256()
        received = 0
        while True:
            chunk = response.read(CHUNK_SIZE)
            if not chunk:
                break
            received += len(chunk)
            if received > remote.size:
                raise _VerificationError(
                    f"the body is longer than the expected {remote.size:,} bytes"
                )
            digest.update(chunk)
            try:
                _write_chunk(fileobj, chunk)
            except OSError as exc:
                raise _LocalWriteError(exc) from exc
            progress.update(len(chunk))
    if received != remote.size:
        raise _VerificationError(
            f"truncated: received {received:,} bytes, expected {remote.size:,}"
        )
    if digest.hexdigest() != remote.sha256:
        raise _VerificationError(
            f"checksum mismatch: SHA-256 {digest.hexdigest()}, expected {remote.sha256}"
        )
    try:
        fileobj.flush()
        os.fsync(fileobj.fileno())
    except OSError as exc:
        raise _LocalWriteError(exc) from exc


def _not_writable(folder: Path, exc: OSError) -> CacheNotWritableError:
    return CacheNotWritableError(
        exc.errno,
        f"cannot write to the data folder {folder} ({exc.strerror or exc}); pass a writable "
        "data_home (or set AUTOREC_DATA_HOME), or put the file there by hand",
    )


def _local_error(folder: Path, exc: OSError, action: str) -> OSError:
    if exc.errno in _NOT_WRITABLE_ERRNOS:
        return _not_writable(folder, exc)
    return OSError(
        exc.errno,
        f"could not {action} in the data folder {folder}: {exc.strerror or exc}. Nothing was "
        "left behind and any earlier copy is unchanged; free some space or pass another "
        "data_home",
    )


def _ensure_writable(folder: Path) -> None:
    """Create ``folder`` if needed and check that files can be created in it."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".autorec-write-test-", dir=folder)
    except OSError as exc:
        raise _local_error(folder, exc, "create a file") from exc
    os.close(fd)
    _unlink_quietly(Path(probe))


def _unlink_quietly(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass
    except OSError as exc:  # pragma: no cover - best effort
        logger.warning("could not remove the temporary file %s: %s", path, exc)


def _part_prefix(remote: RemoteFile) -> str:
    return f".{remote.filename}."


def _remove_stale_parts(folder: Path, remote: RemoteFile) -> None:
    """Delete temporary files left by a killed download (called under the lock)."""
    prefix = _part_prefix(remote)
    for path in folder.glob(f"{glob.escape(prefix)}*.part"):
        logger.info("removing the stale partial download %s", path)
        _unlink_quietly(path)


def _describe(exc: BaseException) -> tuple[str, bool]:
    """Return a reason for a failed attempt and whether retrying the URL makes sense."""
    if isinstance(exc, _VerificationError):
        return str(exc), True
    if isinstance(exc, urllib.error.HTTPError):
        exc.close()  # it holds the open response
        return f"HTTP {exc.code} {exc.reason}", exc.code in _RETRY_HTTP_CODES
    if isinstance(exc, urllib.error.URLError):
        reason = exc.reason
        if isinstance(reason, ssl.SSLCertVerificationError):
            return f"TLS certificate error: {reason}", False
        if isinstance(reason, FileNotFoundError):
            return f"no such file: {reason}", False
        if isinstance(reason, TimeoutError):
            return f"timed out: {reason}", True
        return f"network error: {reason}", True
    if isinstance(exc, TimeoutError):
        return f"timed out: {exc}", True
    return f"{type(exc).__name__}: {exc}", True


def _manual_hint(remote: RemoteFile, target: Path, env_var: str | None) -> str:
    mirrors = f" or the environment variable {env_var}" if env_var else ""
    return (
        f"Download it by hand from {remote.urls[0]} ({remote.size:,} bytes, SHA-256 "
        f"{remote.sha256}) and save it as {target}, or add a mirror with urls=...{mirrors}."
    )


def fetch_remote(
    remote: RemoteFile,
    folder: str | os.PathLike[str],
    *,
    urls: Iterable[str] | str | None = None,
    force: bool = False,
    verbose: bool = True,
    timeout: float = DEFAULT_TIMEOUT,
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
        Show a progress bar.
    timeout : float, default=30
        Seconds to wait for the server on each network operation.
    retries : int, default=2
        Extra attempts per URL after a transient failure (timeout, connection
        error, HTTP 5xx/408/429, truncated or corrupt body), with exponential
        backoff; other failures (HTTP 404...) move on to the next URL at once.
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
    """
    folder = Path(folder)
    target = folder / remote.filename
    url_list = resolve_urls(remote, urls, env_var)
    if isinstance(timeout, bool) or not (isinstance(timeout, (int, float)) and timeout > 0):
        raise ValueError(f"timeout must be a number of seconds > 0, got {timeout!r}")
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise ValueError(f"retries must be an integer >= 0, got {retries!r}")
    if isinstance(backoff, bool) or not (isinstance(backoff, (int, float)) and backoff >= 0):
        raise ValueError(f"backoff must be a number of seconds >= 0, got {backoff!r}")

    if not force and verify_file(target, remote) is None:
        logger.debug("%s is present and verified", target)
        return target

    _ensure_writable(folder)
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
        _remove_stale_parts(folder, remote)
        return _download_with_retries(
            remote, folder, target, url_list, verbose, timeout, retries, backoff, env_var
        )
    finally:
        lock.release()


def _download_with_retries(
    remote: RemoteFile,
    folder: Path,
    target: Path,
    url_list: tuple[str, ...],
    verbose: bool,
    timeout: float,
    retries: int,
    backoff: float,
    env_var: str | None,
) -> Path:
    attempts: list[tuple[str, str]] = []
    for url in url_list:
        for attempt in range(retries + 1):
            if attempt:
                _sleep(min(backoff * 2 ** (attempt - 1), MAX_BACKOFF))
            logger.info("downloading %s from %s (attempt %d)", remote.filename, url, attempt + 1)
            try:
                _download_once(remote, folder, target, url, verbose, timeout)
            except (
                _VerificationError,
                urllib.error.URLError,
                http.client.HTTPException,
                ConnectionError,
                TimeoutError,
                ssl.SSLError,
            ) as exc:
                reason, retry = _describe(exc)
            else:
                logger.info("saved %s (%s bytes, SHA-256 verified)", target, f"{remote.size:,}")
                return target
            attempts.append((url, reason))
            logger.warning("download of %s from %s failed: %s", remote.filename, url, reason)
            if not retry:
                break
    lines = "\n".join(f"  - {url}: {reason}" for url, reason in attempts)
    raise DownloadError(
        f"could not download {remote.filename} into {folder}; every attempt failed:\n{lines}\n"
        + _manual_hint(remote, target, env_var),
        attempts,
    )


def default_file_mode() -> int:
    """The permission bits ``open(path, "w")`` would give a new file: 0o666 less the
    process umask.

    Files are written to a ``tempfile.mkstemp`` file (mode 0o600) and then renamed into
    place; without a ``chmod`` to this mode, a downloaded archive or a saved model would
    be readable by its owner only, unlike any other file the user writes. (Kept in this
    module, which imports nothing from the package, so it can also load on its own.)
    """
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _download_once(
    remote: RemoteFile, folder: Path, target: Path, url: str, verbose: bool, timeout: float
) -> None:
    try:
        fd, name = tempfile.mkstemp(prefix=_part_prefix(remote), suffix=".part", dir=folder)
    except OSError as exc:
        raise _local_error(folder, exc, "create a temporary file") from exc
    tmp: Path | None = Path(name)
    try:
        with (
            os.fdopen(fd, "wb") as fileobj,
            tqdm(
                total=remote.size,
                unit="B",
                unit_scale=True,
                unit_divisor=1024,
                desc=remote.filename,
                disable=not verbose,
            ) as progress,
        ):
            try:
                _download_to(url, fileobj, remote, timeout, progress)
            except _LocalWriteError as exc:
                raise _local_error(folder, exc.error, f"write {remote.filename}") from exc.error
        try:
            os.chmod(tmp, default_file_mode())
            os.replace(tmp, target)
        except OSError as exc:
            raise _local_error(folder, exc, f"move the verified file to {target}") from exc
        tmp = None
    finally:
        if tmp is not None:
            _unlink_quietly(tmp)
