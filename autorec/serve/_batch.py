"""Three things that make fitted users' requests cheaper: every fitted user's predicted
ratings computed once when the server starts (where they fit in
:data:`PREDICTIONS_BYTES`), scoring the fitted users of concurrent requests together,
and a bounded cache of answers.

Scoring one fitted user costs nearly as much as scoring a block of sixteen: the rating
network decodes a block padded to sixteen rows (``autorec._network.rating_block``, so
that a user's scores never depend on who is asked with them) and the exposure model's
sparse products carry a fixed cost per call. :class:`ScoreBatcher` collects the users
whose requests wait for a thread and scores them as one block; each request then ranks
and explains its own user on its own thread. The scores are the ones a single call
gives (``recommend``'s batch = single), so answers do not depend on the batching.
"""

from __future__ import annotations

import asyncio
import threading
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

import numpy as np

from ._pool import _settle

__all__ = ["LRU", "PREDICTIONS_BYTES", "ScoreBatcher", "fitted_predictions"]

#: Users scored in one block at most (one padded block of the rating network).
MAX_BATCH = 16
#: Largest table of fitted users' predicted ratings kept (bytes): MovieLens-1M's default
#: model takes 85 MiB (6,040 users x 3,706 movies in float32).
PREDICTIONS_BYTES = 256 * 2**20


def fitted_predictions(model: Any, budget: int | None = None) -> np.ndarray | None:
    """Every fitted user's raw predicted ratings (users x items, the model's
    ``_user_ratings``), or None when they would take more than ``budget`` bytes (default
    :data:`PREDICTIONS_BYTES`) or the model's scores are not built from its predicted
    ratings (``_rank_scores``).

    Computed in blocks of thousands of users: the rows equal the ones a single user's
    call gives, bit for bit (``autorec._network.rating_block`` pads every block to a
    multiple of the same rows), so an answer does not change with where its predictions
    came from. Decoding a fitted user then costs a row copy instead of a block of the
    rating network.
    """
    if getattr(model, "_rank_scores", None) is None:
        return None
    budget = PREDICTIONS_BYTES if budget is None else budget
    first = np.asarray(model._user_ratings(np.arange(1)))  # its dtype: the table's
    if first.itemsize * len(model.user_map_) * len(model.item_map_) > budget:
        return None
    return model._user_ratings(np.arange(len(model.user_map_)))


class ScoreBatcher:
    """Score the users of concurrent requests as one block.

    Parameters
    ----------
    score : callable
        ``score(rows) -> (scores, predicted or None)``, one row per user (the model's
        ``_scores_and_ratings``).
    run : callable
        ``await run(function)`` runs ``function()`` on the server's thread pool.
    max_batch : int
        Users scored together at most.
    """

    def __init__(
        self,
        score: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray | None]],
        run: Callable[[Callable[[], None]], Awaitable[None]],
        max_batch: int = MAX_BATCH,
    ) -> None:
        self.score_rows = score
        self.run = run
        self.max_batch = max_batch
        self.pending: list[tuple[int, asyncio.Future, asyncio.AbstractEventLoop]] = []
        self.lock = threading.Lock()
        #: Sizes of the blocks scored so far (the last 1,000), for tests and tuning.
        self.sizes: list[int] = []

    async def score(self, row: int) -> tuple[np.ndarray, np.ndarray | None]:
        """``score([row])`` for one user, computed with the users of other waiting
        requests: (scores, predicted) with one row each."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        with self.lock:
            self.pending.append((row, future, loop))
        # Every request sends one job; the first to get a thread takes all the users
        # waiting then, and later jobs find theirs already taken (and return at once).
        await self.run(self._take_and_score)
        return await future

    def _take_and_score(self) -> None:
        with self.lock:
            batch = self.pending[: self.max_batch]
            del self.pending[: self.max_batch]
        if not batch:
            return
        self.sizes = [*self.sizes[-999:], len(batch)]
        rows = np.array([row for row, _, _ in batch], dtype=np.int64)
        try:
            scores, predicted = self.score_rows(rows)
        except Exception as exc:  # every waiting request gets the error
            for _, future, loop in batch:
                loop.call_soon_threadsafe(_settle, future, None, exc)
            return
        for i, (_, future, loop) in enumerate(batch):
            mine = (
                scores[i : i + 1].copy(),
                None if predicted is None else predicted[i : i + 1].copy(),
            )
            # Delivered through the event loop, whatever happens to the request whose
            # job computed it.
            loop.call_soon_threadsafe(_settle, future, mine, None)


class LRU:
    """A thread-safe mapping that keeps the ``size`` most recently used entries."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.entries: OrderedDict[Any, Any] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: Any) -> Any:
        with self.lock:
            value = self.entries.get(key)
            if value is not None:
                self.entries.move_to_end(key)
            return value

    def put(self, key: Any, value: Any) -> None:
        with self.lock:
            self.entries[key] = value
            self.entries.move_to_end(key)
            while len(self.entries) > self.size:
                self.entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self.entries)
