"""The server's thread pool: the work of the request that arrived first runs first.

Where the fitted users' predictions are not kept (``autorec.serve._batch``), a fitted
user's request hands the pool two jobs, one after the other: scoring its block of users,
then ranking and explaining its own user. On a first-in-first-out pool the second job
joins the back of the queue, behind every request that arrived meanwhile, so such a
request waited in the queue twice. :class:`OldestFirst`
runs jobs in the order their requests arrived (:data:`ARRIVED`, set per request by
``autorec.serve._app.Guard``; a job without it counts as arriving when it is handed
over), so a request that has started finishes before later ones begin.
"""

from __future__ import annotations

import asyncio
import contextvars
import itertools
import os
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

__all__ = ["ARRIVED", "OldestFirst"]

#: When the current request arrived (``time.perf_counter()``), per asyncio task.
ARRIVED: contextvars.ContextVar[float] = contextvars.ContextVar("autorec_serve_arrived")


class OldestFirst:
    """``threads`` threads running jobs oldest request first.

    Parameters
    ----------
    threads : int
        Jobs run at once, at most.
    name : str, default="autorec-serve"
        Prefix of the threads' names.
    """

    def __init__(self, threads: int, name: str = "autorec-serve") -> None:
        self.size, self.name = int(threads), name
        self.jobs: queue.PriorityQueue = queue.PriorityQueue()
        self.order = itertools.count()  # ties (and equal arrival times) in hand-over order
        self.lock = threading.Lock()
        # Started by the first job, in the process that runs it: ``--workers`` forks the
        # server after the application (and this pool) is built, and a fork keeps no
        # thread but the one that forked.
        self.started_in: int | None = None

    def _start(self) -> None:
        with self.lock:
            if self.started_in == os.getpid():
                return
            self.started_in = os.getpid()
            for i in range(self.size):
                thread = threading.Thread(target=self._serve, name=f"{self.name}-{i}", daemon=True)
                thread.start()

    async def run(self, function: Callable[[], Any]) -> Any:
        """``function()`` on a thread of the pool, after the jobs of older requests."""
        if self.started_in != os.getpid():
            self._start()
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        arrived = ARRIVED.get(None)
        when = time.perf_counter() if arrived is None else arrived
        self.jobs.put((when, next(self.order), function, future, loop))
        return await future

    def _serve(self) -> None:
        while True:
            _, _, function, future, loop = self.jobs.get()
            try:
                result, error = function(), None
            except BaseException as exc:  # handed to the request that waits for it
                result, error = None, exc
            try:
                loop.call_soon_threadsafe(_settle, future, result, error)
            except RuntimeError:  # the event loop has closed: nobody waits any more
                pass


def _settle(future: asyncio.Future, result: Any, error: BaseException | None) -> None:
    if future.done():  # the request was cancelled
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)
