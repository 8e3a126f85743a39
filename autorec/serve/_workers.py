"""The server's processes: ``--workers N`` forks N of them from the one that loaded the
model, all accepting on one listening socket; and each caps glibc's malloc arenas.

One process runs Python (HTTP parsing, routing, JSON) on one core at a time, whatever
its thread pool; N processes use N cores. Each is forked after the model is loaded, so
the model's arrays are shared copy-on-write rather than loaded N times
(``gc.freeze()`` first, so that the collector's bookkeeping does not write to, and so
copy, every page of Python objects). POSIX only: where ``os.fork`` is missing,
``--workers`` above 1 is refused.
"""

from __future__ import annotations

import ctypes
import gc
import logging
import os
import signal
from typing import Any

__all__ = ["ARENAS", "can_fork", "limit_malloc_arenas", "serve_forked"]

#: glibc malloc arenas per server process. By default glibc opens up to eight per core as
#: threads contend, and memory grows with them under load (see ``docs/serve.rst``).
ARENAS = 2
#: ``mallopt``'s parameter number for the arena cap (glibc's ``malloc.h``).
M_ARENA_MAX = -8

logger = logging.getLogger(__name__)


def can_fork() -> bool:
    """Whether this platform can fork worker processes."""
    return hasattr(os, "fork")


def limit_malloc_arenas(count: int = ARENAS) -> bool:
    """Cap glibc's malloc arenas for this process (``mallopt(M_ARENA_MAX, count)``), as
    ``MALLOC_ARENA_MAX`` would; whether it was done (not on another C library, nor when
    ``MALLOC_ARENA_MAX`` is set: the environment's choice stands)."""
    if "MALLOC_ARENA_MAX" in os.environ:
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        return bool(libc.mallopt(M_ARENA_MAX, int(count)))
    except (OSError, AttributeError):  # not glibc
        return False


def serve_forked(app: Any, workers: int, **options: Any) -> int:
    """Serve ``app`` from ``workers`` forked processes until they stop; an exit status.

    ``options`` go to :class:`uvicorn.Config` (``host``, ``port``, ``log_level``, ...).
    The parent binds the socket, forks, passes SIGINT and SIGTERM on to the workers and
    waits for them all.
    """
    import uvicorn

    config = uvicorn.Config(app, **options)
    sock = config.bind_socket()
    gc.collect()
    gc.freeze()
    children: list[int] = []
    for _ in range(workers):
        pid = os.fork()
        if pid == 0:  # a worker: serve, then leave without running the parent's cleanup
            code = 0
            try:
                uvicorn.Server(config).run(sockets=[sock])
            except BaseException:
                logger.exception("worker %d stopped on an error", os.getpid())
                code = 1
            finally:
                os._exit(code)
        children.append(pid)
    sock.close()

    def forward(signum: int, frame: Any) -> None:
        for child in children:
            try:
                os.kill(child, signal.SIGTERM)
            except ProcessLookupError:
                pass

    previous = {s: signal.signal(s, forward) for s in (signal.SIGINT, signal.SIGTERM)}
    status = 0
    try:
        for child in children:
            _, code = os.waitpid(child, 0)
            status = status or os.waitstatus_to_exitcode(code)
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    return 0 if status in (0, -signal.SIGTERM, -signal.SIGINT) else 1
