"""Download machinery, fully offline against an HTTP server on 127.0.0.1 started here.

In every failure case: no file that looks valid but is not is left behind, a
good cached copy is never destroyed, and the next call succeeds when the
network does.
"""

from __future__ import annotations

import collections
import errno
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import filelock
import pytest

from autorec.datasets import CacheNotWritableError, DownloadError, RemoteFile, _downloader, _fetch
from autorec.datasets._fetch import fetch_remote, resolve_urls, verify_file

REPO_ROOT = Path(__file__).resolve().parents[1]
PAYLOAD = hashlib.sha256(b"seed").digest() * 4000  # 128,000 bytes, several chunks
BAD_PAYLOAD = PAYLOAD[:-1] + b"\x00"  # same size, wrong checksum
LOCK = ".ml-1m.zip.lock"  # the (empty) lock file may stay; it never looks like data
FAST = {"timeout": 2.0, "retries": 1, "backoff": 0.0, "verbose": False}


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):  # the http.server API name
        server = self.server
        with server.lock:
            server.hits[self.path] += 1
            hit = server.hits[self.path]
        kind, *args = server.routes.get(self.path, ("status", 404))
        if kind == "fail_then_ok":
            failures, code = args
            kind, args = ("status", [code]) if hit <= failures else ("ok", [])
        if kind == "status":
            self.send_error(args[0])
            return
        if kind == "redirect":
            self.send_response(302)
            self.send_header("Location", args[0])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if kind == "sleep":
            time.sleep(args[0])
        body = {"bad": BAD_PAYLOAD}.get(kind, PAYLOAD)
        self.send_response(200)
        self.send_header("Content-Type", "application/zip")
        if kind != "no_length":
            self.send_header("Content-Length", str(len(PAYLOAD)))
        self.end_headers()
        if kind in ("truncate", "no_length"):
            self.wfile.write(body[: len(body) // 2])
        elif kind == "stall":
            self.wfile.write(body[:1000])
            self.wfile.flush()
            time.sleep(args[0])
        elif kind == "trickle":  # 1 byte every args[0] s, never idle long enough to time out
            stop = time.monotonic() + args[1]
            for i in range(len(body)):
                if time.monotonic() > stop:
                    break  # so that the code before the fix ends (truncated) instead of hanging
                self.wfile.write(body[i : i + 1])
                self.wfile.flush()
                time.sleep(args[0])
        elif kind == "slow":
            for start in range(0, len(body), 16_000):
                self.wfile.write(body[start : start + 16_000])
                self.wfile.flush()
                time.sleep(args[0])
        else:
            self.wfile.write(body)

    def log_message(self, *args):
        pass


class Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self):
        super().__init__(("127.0.0.1", 0), Handler)
        self.routes: dict[str, tuple] = {}
        self.hits: collections.Counter = collections.Counter()
        self.lock = threading.Lock()

    def handle_error(self, request, client_address):
        pass  # the client hung up on a stalled response: expected in timeout tests

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}{path}"


@pytest.fixture
def server():
    srv = Server()
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    srv.routes.update(
        {
            "/good.zip": ("ok",),
            "/bad.zip": ("bad",),
            "/truncated.zip": ("truncate",),
            "/no-length.zip": ("no_length",),
            "/404.zip": ("status", 404),
            "/500.zip": ("status", 500),
            "/slow-headers.zip": ("sleep", 3.0),
            "/stall.zip": ("stall", 3.0),
            "/slow.zip": ("slow", 0.1),  # 8 chunks: about 0.8 s
            "/trickle.zip": ("trickle", 0.02, 6.0),
            "/503-once.zip": ("fail_then_ok", 1, 503),
            "/moved.zip": ("redirect", "/good.zip"),
        }
    )
    yield srv
    srv.shutdown()
    srv.server_close()


@pytest.fixture(autouse=True)
def _isolated(monkeypatch):
    for var in ("no_proxy", "NO_PROXY"):
        monkeypatch.setenv(var, "*")  # never send 127.0.0.1 through a proxy
    monkeypatch.delenv("AUTOREC_MOVIELENS_URLS", raising=False)


def spec(*urls: str) -> RemoteFile:
    return RemoteFile("ml-1m.zip", hashlib.sha256(PAYLOAD).hexdigest(), len(PAYLOAD), urls)


def leftovers(folder: Path) -> list[str]:
    """Files other than the final one: temporaries must never survive."""
    return sorted(p.name for p in folder.iterdir() if p.name not in ("ml-1m.zip", LOCK))


# ---------------------------------------------------------------------------


def test_good_download_is_verified_and_atomic(server, tmp_path):
    target = fetch_remote(spec(server.url("/good.zip")), tmp_path / "cache", **FAST)
    assert target == tmp_path / "cache" / "ml-1m.zip"
    assert target.read_bytes() == PAYLOAD
    assert leftovers(target.parent) == []
    # A verified copy is reused: no second request.
    assert fetch_remote(spec(server.url("/good.zip")), tmp_path / "cache", **FAST) == target
    assert server.hits["/good.zip"] == 1


@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_downloaded_file_gets_the_usual_permissions(server, tmp_path, umask):
    # Not mkstemp's owner-only 0o600: a shared cache must be readable as the umask allows.
    old = os.umask(umask)
    try:
        target = fetch_remote(spec(server.url("/good.zip")), tmp_path, **FAST)
    finally:
        os.umask(old)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask


def test_progress_bar_when_verbose(server, tmp_path, capsys):
    fetch_remote(spec(server.url("/good.zip")), tmp_path, **{**FAST, "verbose": True})
    assert "ml-1m.zip" in capsys.readouterr().err


def test_redirect_is_followed(server, tmp_path):
    assert fetch_remote(spec(server.url("/moved.zip")), tmp_path, **FAST).read_bytes() == PAYLOAD


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/bad.zip", "checksum mismatch"),
        ("/truncated.zip", "IncompleteRead|truncated"),
        ("/no-length.zip", "truncated: received 64,000 bytes, expected 128,000"),
    ],
)
def test_corrupt_downloads_are_retried_then_rejected_and_removed(server, tmp_path, path, reason):
    with pytest.raises(DownloadError, match=reason) as info:
        fetch_remote(spec(server.url(path)), tmp_path, **FAST)
    assert not (tmp_path / "ml-1m.zip").exists()
    assert leftovers(tmp_path) == []
    assert server.hits[path] == 2  # retries=1
    message = str(info.value)
    assert str(tmp_path / "ml-1m.zip") in message and "by hand" in message
    assert len(info.value.attempts) == 2
    # The next call succeeds when the network does.
    assert fetch_remote(spec(server.url("/good.zip")), tmp_path, **FAST).read_bytes() == PAYLOAD


def test_http_404_is_not_retried_and_next_url_is_tried(server, tmp_path):
    with pytest.raises(DownloadError, match="HTTP 404") as info:
        fetch_remote(spec(server.url("/404.zip")), tmp_path, **{**FAST, "retries": 3})
    assert server.hits["/404.zip"] == 1
    assert info.value.attempts == [(server.url("/404.zip"), "HTTP 404 Not Found")]
    assert leftovers(tmp_path) == []
    urls = [server.url("/404.zip"), server.url("/good.zip")]
    assert fetch_remote(spec(*urls), tmp_path, **FAST).read_bytes() == PAYLOAD


def test_server_error_is_retried_then_next_url_succeeds(server, tmp_path):
    urls = (server.url("/500.zip"), server.url("/good.zip"))
    target = fetch_remote(spec(*urls), tmp_path, **{**FAST, "retries": 2})
    assert target.read_bytes() == PAYLOAD
    assert server.hits["/500.zip"] == 3 and server.hits["/good.zip"] == 1
    assert leftovers(tmp_path) == []


def test_transient_error_is_retried_with_backoff(server, tmp_path, monkeypatch):
    sleeps = []
    monkeypatch.setattr(_fetch, "_sleep", sleeps.append)
    fetch_remote(spec(server.url("/503-once.zip")), tmp_path, **{**FAST, "backoff": 0.5})
    assert server.hits["/503-once.zip"] == 2
    assert sleeps == [0.5]
    sleeps.clear()
    with pytest.raises(DownloadError):
        fetch_remote(
            spec(server.url("/500.zip")),
            tmp_path / "x",
            timeout=2,
            retries=3,
            backoff=0.5,
            verbose=False,
        )
    assert sleeps == [0.5, 1.0, 2.0]  # exponential backoff


@pytest.mark.parametrize("path", ["/slow-headers.zip", "/stall.zip"])
def test_timeout(server, tmp_path, path):
    start = time.monotonic()
    with pytest.raises(DownloadError, match="timed out") as info:
        fetch_remote(spec(server.url(path)), tmp_path, timeout=0.3, retries=0, verbose=False)
    assert time.monotonic() - start < 2.5
    assert len(info.value.attempts) == 1
    assert leftovers(tmp_path) == [] and not (tmp_path / "ml-1m.zip").exists()


def test_trickling_server_hits_the_transfer_deadline(server, tmp_path):
    # A byte every 0.02 s (correct Content-Length) never lets a 0.5 s read time out; the
    # whole attempt must still end at timeout + size / min_rate = 0.5 + 1.0 s.
    start = time.monotonic()
    with pytest.raises(DownloadError, match=r"timed out: not finished within 1\.5 s") as info:
        fetch_remote(
            spec(server.url("/trickle.zip")),
            tmp_path,
            timeout=0.5,
            min_rate=len(PAYLOAD),
            retries=0,
            verbose=False,
        )
    assert time.monotonic() - start < 3.5
    assert len(info.value.attempts) == 1
    assert leftovers(tmp_path) == [] and not (tmp_path / "ml-1m.zip").exists()
    # The lock was released: the next call (another server) goes through.
    assert fetch_remote(spec(server.url("/good.zip")), tmp_path, **FAST).read_bytes() == PAYLOAD


def test_a_slow_but_fast_enough_transfer_is_not_cut(server, tmp_path):
    # /slow.zip takes about 0.8 s; the deadline here is 0.5 + 128,000 / 100,000 = 1.78 s.
    fetch_remote(spec(server.url("/slow.zip")), tmp_path, **{**FAST, "min_rate": 100_000})
    assert (tmp_path / "ml-1m.zip").read_bytes() == PAYLOAD


def test_file_url_deadline(tmp_path, monkeypatch):
    source = tmp_path / "src.zip"
    source.write_bytes(PAYLOAD)
    real = _downloader.write_chunk

    def slow(fileobj, chunk):
        time.sleep(0.2)
        real(fileobj, chunk)

    monkeypatch.setattr(_downloader, "CHUNK_SIZE", 16_000)
    monkeypatch.setattr(_downloader, "write_chunk", slow)
    with pytest.raises(DownloadError, match="timed out: not finished within"):
        fetch_remote(spec(source.as_uri()), tmp_path / "c", timeout=0.1, min_rate=1e9, retries=0)
    assert leftovers(tmp_path / "c") == []


def test_quiet_download_prints_nothing_and_verbose_shows_a_bar(server, tmp_path, capfd):
    fetch_remote(spec(server.url("/good.zip")), tmp_path / "a", **FAST)
    assert capfd.readouterr() == ("", "")  # pooch's own logger must not print either
    fetch_remote(spec(server.url("/good.zip")), tmp_path / "b", **{**FAST, "verbose": True})
    err = capfd.readouterr().err
    assert "ml-1m.zip" in err and "100%" in err and "Downloading data from" not in err


def test_connection_refused_then_mirror(server, tmp_path):
    with socket_closed_port() as port:
        dead = f"http://127.0.0.1:{port}/ml-1m.zip"
        target = fetch_remote(spec(dead, server.url("/good.zip")), tmp_path, **FAST)
    assert target.read_bytes() == PAYLOAD


class socket_closed_port:  # a context manager giving a port nobody listens on
    def __enter__(self) -> int:
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return s.getsockname()[1]

    def __exit__(self, *exc) -> None:
        pass


def _interrupt_after_first_chunk(monkeypatch):
    monkeypatch.setattr(_downloader, "CHUNK_SIZE", 4096)
    calls = {"n": 0}
    real = _downloader.write_chunk

    def write(fileobj, chunk):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        real(fileobj, chunk)

    monkeypatch.setattr(_downloader, "write_chunk", write)


def test_keyboard_interrupt_mid_download_leaves_nothing(server, tmp_path, monkeypatch):
    _interrupt_after_first_chunk(monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        fetch_remote(spec(server.url("/good.zip")), tmp_path, **FAST)
    assert leftovers(tmp_path) == [] and not (tmp_path / "ml-1m.zip").exists()
    monkeypatch.undo()
    assert fetch_remote(spec(server.url("/good.zip")), tmp_path, **FAST).read_bytes() == PAYLOAD


def test_disk_full_raises_oserror_and_leaves_nothing(server, tmp_path, monkeypatch):
    def full(fileobj, chunk):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(_downloader, "write_chunk", full)
    pattern = r"No space left on device.*earlier copy is unchanged"
    with pytest.raises(OSError, match=pattern) as info:
        fetch_remote(spec(server.url("/good.zip")), tmp_path, **FAST)
    assert info.value.errno == errno.ENOSPC
    assert not isinstance(info.value, DownloadError)
    assert str(tmp_path) in str(info.value)
    assert server.hits["/good.zip"] == 1  # a local write error is not retried
    assert leftovers(tmp_path) == [] and not (tmp_path / "ml-1m.zip").exists()


def test_read_only_cache_folder_gives_clear_error(server, tmp_path, monkeypatch):
    def denied(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", denied)
    with pytest.raises(
        CacheNotWritableError,
        match=rf"cannot write to the data folder "
        rf"{tmp_path}.*data_home",
    ) as info:
        fetch_remote(spec(server.url("/good.zip")), tmp_path, **FAST)
    assert isinstance(info.value, PermissionError)
    assert server.hits["/good.zip"] == 0
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() == 0, reason="file permissions do not stop root"
)
def test_read_only_cache_folder_for_real(server, tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        with pytest.raises(CacheNotWritableError, match="cannot write"):
            fetch_remote(spec(server.url("/good.zip")), ro, **FAST)
        with pytest.raises(CacheNotWritableError):
            fetch_remote(spec(server.url("/good.zip")), ro / "sub", **FAST)
    finally:
        ro.chmod(0o755)


def test_read_only_cache_holding_a_good_copy_is_not_written(server, tmp_path, monkeypatch):
    fetch_remote(spec(server.url("/good.zip")), tmp_path, **FAST)
    monkeypatch.setattr(tempfile, "mkstemp", lambda *a, **k: pytest.fail("wrote to the cache"))
    monkeypatch.setattr(filelock, "FileLock", lambda *a, **k: pytest.fail("locked the cache"))
    assert fetch_remote(spec(server.url("/404.zip")), tmp_path, **FAST).read_bytes() == PAYLOAD


def test_cache_path_is_a_file(server, tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(OSError, match="data folder"):
        fetch_remote(spec(server.url("/good.zip")), tmp_path / "file" / "cache", **FAST)


def test_good_cached_copy_survives_failed_forced_redownload(server, tmp_path, monkeypatch):
    target = fetch_remote(spec(server.url("/good.zip")), tmp_path, **FAST)
    mtime = target.stat().st_mtime_ns
    bad_urls = [server.url(p) for p in ("/404.zip", "/500.zip", "/bad.zip", "/truncated.zip")]
    with pytest.raises(DownloadError) as info:
        fetch_remote(spec(*bad_urls), tmp_path, force=True, **FAST)
    assert len(info.value.attempts) == 1 + 2 + 2 + 2
    assert target.read_bytes() == PAYLOAD and target.stat().st_mtime_ns == mtime
    _interrupt_after_first_chunk(monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        fetch_remote(spec(server.url("/good.zip")), tmp_path, force=True, **FAST)
    assert verify_file(target, spec("http://x/")) is None
    assert leftovers(tmp_path) == []


def test_forced_download_replaces_good_copy_with_verified_one(server, tmp_path):
    fetch_remote(spec(server.url("/good.zip")), tmp_path, **FAST)
    fetch_remote(spec(server.url("/good.zip")), tmp_path, force=True, **FAST)
    assert server.hits["/good.zip"] == 2


def test_corrupt_existing_file_is_replaced_and_stale_partials_removed(server, tmp_path):
    (tmp_path / "ml-1m.zip").write_bytes(b"junk")
    (tmp_path / ".ml-1m.zip.abc123.part").write_bytes(b"left by a killed process")
    target = fetch_remote(spec(server.url("/good.zip")), tmp_path, **FAST)
    assert target.read_bytes() == PAYLOAD
    assert leftovers(tmp_path) == []


def test_concurrent_downloads_in_threads_download_once(server, tmp_path):
    barrier = threading.Barrier(3)
    results, errors = [], []

    def worker():
        barrier.wait()
        try:
            results.append(fetch_remote(spec(server.url("/slow.zip")), tmp_path, **FAST))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    assert len(results) == 3 and all(r.read_bytes() == PAYLOAD for r in results)
    assert server.hits["/slow.zip"] == 1  # the others waited, then found the verified file
    assert leftovers(tmp_path) == []


# The child loads _fetch.py on its own (it needs only the standard library, filelock, tqdm
# and pooch) so that two processes start in well under a second instead of importing pandas.
CHILD = """
import importlib.util, json, sys
a = json.loads(sys.argv[1])
spec = importlib.util.spec_from_file_location("autorec_fetch_child", a["module"])
mod = sys.modules["autorec_fetch_child"] = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mod)
mod._user_agent = lambda: "autorec-test"
remote = mod.RemoteFile(a["name"], a["sha"], a["size"], tuple(a["urls"]))
print(mod.fetch_remote(remote, a["dir"], timeout=5, retries=0, verbose=False))
"""


def test_concurrent_downloads_in_processes_download_once(server, tmp_path):
    args = json.dumps(
        {
            "name": "ml-1m.zip",
            "sha": hashlib.sha256(PAYLOAD).hexdigest(),
            "size": len(PAYLOAD),
            "urls": [server.url("/slow.zip")],
            "dir": str(tmp_path),
            "module": _fetch.__file__,
        }
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=600) for p in procs]  # only catches a hang
    assert [p.returncode for p in procs] == [0, 0], outs
    assert {o.strip() for o, _ in outs} == {str(tmp_path / "ml-1m.zip")}
    assert server.hits["/slow.zip"] == 1  # the second process waited, then found the file
    assert (tmp_path / "ml-1m.zip").read_bytes() == PAYLOAD
    assert leftovers(tmp_path) == []


def test_waiting_for_a_stuck_lock_times_out_clearly(server, tmp_path):
    lock = filelock.FileLock(tmp_path / ".ml-1m.zip.lock")
    with lock, pytest.raises(DownloadError, match="waiting for another download"):
        fetch_remote(spec(server.url("/good.zip")), tmp_path, lock_timeout=0.2, **FAST)
    assert server.hits["/good.zip"] == 0


def test_file_url(tmp_path):
    source = tmp_path / "src.zip"
    source.write_bytes(PAYLOAD)
    target = fetch_remote(spec(source.as_uri()), tmp_path / "cache", **FAST)
    assert target.read_bytes() == PAYLOAD
    with pytest.raises(DownloadError, match="no such file"):
        fetch_remote(spec((tmp_path / "missing.zip").as_uri()), tmp_path / "c2", **FAST)


# ---------------------------------------------------------------------------
# URL lists and specs


def test_urls_argument_and_environment(monkeypatch):
    remote = spec("https://a.example/x.zip")
    assert resolve_urls(remote) == ("https://a.example/x.zip",)
    assert resolve_urls(remote, " https://b/x.zip,  http://c/x.zip\nhttps://b/x.zip ") == (
        "https://b/x.zip",
        "http://c/x.zip",
    )
    monkeypatch.setenv("MIRRORS", "https://m1/x.zip, https://m2/x.zip")
    assert resolve_urls(remote, env_var="MIRRORS") == (
        "https://m1/x.zip",
        "https://m2/x.zip",
        "https://a.example/x.zip",
    )
    assert resolve_urls(remote, ["https://only/x.zip"], env_var="MIRRORS") == (
        "https://only/x.zip",
    )
    with pytest.raises(ValueError, match=r"unsupported URL 'ftp:/\?' |scheme must be one of"):
        resolve_urls(remote, ["javascript:alert(1)"])
    with pytest.raises(ValueError, match="at least one URL"):
        resolve_urls(remote, [])
    with pytest.raises(TypeError, match="each URL must be a string"):
        resolve_urls(remote, [b"https://x"])


@pytest.mark.parametrize(
    ("bad", "why"),
    [
        ("http://[::1", "Invalid IPv6 URL"),
        ("http://example.org:99999/ml-1m.zip", "out of range"),
        ("gopher://example.org/ml-1m.zip", "scheme must be one of"),
        ("https:///ml-1m.zip", "with a host"),
    ],
)
def test_bad_mirror_url_in_environment_names_url_and_variable(tmp_path, monkeypatch, bad, why):
    monkeypatch.setenv("AUTOREC_MOVIELENS_URLS", f"https://ok.example/ml-1m.zip, {bad}")
    remote = spec("https://a.example/ml-1m.zip")
    for call in (
        lambda: resolve_urls(remote, env_var="AUTOREC_MOVIELENS_URLS"),
        lambda: fetch_remote(remote, tmp_path, env_var="AUTOREC_MOVIELENS_URLS", **FAST),
    ):
        with pytest.raises(ValueError, match=why) as info:
            call()
        message = str(info.value)
        assert repr(bad) in message and "environment variable AUTOREC_MOVIELENS_URLS" in message
    assert list(tmp_path.iterdir()) == []  # rejected before anything is written
    with pytest.raises(ValueError, match=rf"{re.escape(repr(bad))} in urls"):
        resolve_urls(remote, [bad])


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"filename": "../x.zip"}, "plain file name"),
        ({"sha256": "abc"}, "64 hexadecimal"),
        ({"size": -1}, "size must be an integer >= 0"),
        ({"urls": ()}, "at least one URL"),
    ],
)
def test_remote_file_validation(kwargs, pattern):
    fields = {"filename": "f.zip", "sha256": "0" * 64, "size": 1, "urls": ("https://x/f.zip",)}
    with pytest.raises(ValueError, match=pattern):
        RemoteFile(**{**fields, **kwargs})


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"timeout": 0}, "timeout"),
        ({"retries": -1}, "retries"),
        ({"backoff": -1}, "backoff"),
        ({"min_rate": -1}, "min_rate must be a number of bytes per second >= 0"),
        ({"min_rate": "fast"}, "min_rate"),
    ],
)
def test_fetch_argument_validation(tmp_path, kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        fetch_remote(spec("http://127.0.0.1:9/x.zip"), tmp_path, **kwargs)
