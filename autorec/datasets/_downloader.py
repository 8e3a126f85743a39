"""The downloader :func:`pooch.retrieve` calls for autorec: http(s) and ftp through pooch's
own downloaders, ``file://`` copied here, the expected size and a whole-transfer deadline
enforced on every chunk.
"""

from __future__ import annotations

import contextlib
import ftplib
import os
import socket
import threading
import time
import urllib.parse
import urllib.request
from typing import Any, BinaryIO

import pooch
from tqdm.auto import tqdm

from autorec._version import __version__

__all__ = ["CHUNK_SIZE", "AttemptFailed", "Downloader", "LocalWriteError", "write_chunk"]

CHUNK_SIZE = 1 << 16


class AttemptFailed(Exception):
    """One attempt failed for the reason given; ``retry`` says whether retrying may help."""

    def __init__(self, reason: str, retry: bool = True) -> None:
        super().__init__(reason)
        self.retry = retry


class LocalWriteError(Exception):
    """Writing into the data folder failed; the OSError is the ``__cause__``."""


def user_agent() -> str:
    return f"torch-autorec/{__version__} (+https://github.com/autorec/torch-autorec)"


def write_chunk(fileobj: BinaryIO, chunk: bytes) -> None:
    fileobj.write(chunk)


class Downloader:
    """The ``downloader(url, output_file, pooch)`` given to :func:`pooch.retrieve`.

    http(s) goes through :class:`pooch.HTTPDownloader` and ftp through
    :class:`pooch.FTPDownloader`, both writing into this object, whose :meth:`write`
    enforces the expected size and the attempt's deadline; ``file://`` is copied here.
    At the deadline a timer also shuts the HTTP socket, since a server trickling bytes
    never lets a single read time out.
    """

    def __init__(self, remote: Any, timeout: float, min_rate: float, verbose: bool):
        self.remote, self.timeout, self.min_rate, self.verbose = remote, timeout, min_rate, verbose
        self.limit = timeout + remote.size / min_rate if min_rate else None

    def __call__(self, url: str, output_file: str, pooch_: object) -> None:
        self.received, self.expired, self.response = 0, False, None
        self.deadline = time.monotonic() + (self.limit or float("inf"))
        timer = threading.Timer(self.limit or 0, self._expire)
        timer.daemon = True
        if self.limit:
            timer.start()
        size, parts = self.remote.size, urllib.parse.urlsplit(url)
        bar = tqdm(
            total=size,
            unit="B",
            unit_scale=True,
            desc=self.remote.filename,
            disable=not self.verbose,
        )
        try:
            with open(output_file, "wb") as self.file:
                if parts.scheme.lower() == "file":
                    self._copy(urllib.request.url2pathname(parts.path), bar)
                elif parts.scheme.lower() == "ftp":
                    self._ftp(parts, pooch_)
                else:
                    pooch.HTTPDownloader(
                        progressbar=bar if self.verbose else False,
                        chunk_size=CHUNK_SIZE,
                        timeout=self.timeout,
                        headers={"User-Agent": user_agent(), "Accept-Encoding": "identity"},
                        hooks={"response": self._on_response},
                    )(url, self, pooch_)
                if self.received != size:
                    raise AttemptFailed(
                        f"truncated: received {self.received:,} bytes, expected {size:,}"
                    )
                self.flush(fsync=True)
        except Exception as exc:
            if not self.expired or isinstance(exc, LocalWriteError):
                raise
            raise AttemptFailed(
                f"timed out: not finished within {self.limit:.1f} s (timeout {self.timeout:g} s"
                f" + {size:,} bytes at min_rate={self.min_rate:,.0f} bytes/s)"
            ) from exc
        finally:
            timer.cancel()
            bar.close()
            if self.response is not None:
                self.response.close()

    def write(self, chunk: bytes) -> None:
        self.received += len(chunk)
        if self.received > self.remote.size:
            raise AttemptFailed(f"the body is longer than the expected {self.remote.size:,} bytes")
        if time.monotonic() > self.deadline:
            self.expired = True
            raise AttemptFailed("too slow")  # reworded by __call__
        try:
            write_chunk(self.file, chunk)
        except OSError as exc:
            raise LocalWriteError from exc

    def flush(self, fsync: bool = False) -> None:
        try:
            self.file.flush()
            if fsync:
                os.fsync(self.file.fileno())
        except OSError as exc:
            raise LocalWriteError from exc

    def _copy(self, path: str, bar: tqdm) -> None:
        try:
            with open(path, "rb") as source:
                for chunk in iter(lambda: source.read(CHUNK_SIZE), b""):
                    self.write(chunk)
                    bar.update(len(chunk))
        except FileNotFoundError:
            raise AttemptFailed(f"no such file: {path}", retry=False) from None
        except OSError as exc:
            raise AttemptFailed(f"cannot read {path}: {exc.strerror or exc}", False) from None

    def _ftp(self, parts: urllib.parse.SplitResult, pooch_: object) -> None:
        ftp = pooch.FTPDownloader(port=parts.port or 21, timeout=self.timeout)
        try:  # pooch's FTPDownloader takes the port apart from the URL
            ftp(parts._replace(netloc=parts.hostname).geturl(), self, pooch_)
        except (OSError, EOFError, ftplib.Error) as exc:
            retry = not isinstance(exc, ftplib.error_perm)
            raise AttemptFailed(f"FTP error: {type(exc).__name__}: {exc}", retry) from exc

    def _on_response(self, response, *args, **kwargs) -> None:  # a requests hook
        self.response = response
        if self.expired:
            self._expire()

    def _expire(self) -> None:  # in the timer's thread: unblock a read stuck in the other
        self.expired = True
        raw = getattr(self.response, "raw", None)
        try:
            raw.shutdown()  # urllib3 >= 2.3
        except Exception:
            with contextlib.suppress(Exception):
                raw._connection.sock.shutdown(socket.SHUT_RDWR)  # older urllib3
