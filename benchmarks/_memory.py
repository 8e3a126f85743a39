"""Resident memory by phase of a fit: a thread samples this process's RSS every 10 ms and
charges it to the phase running (the library functions of ``PHASES``, wrapped while
:func:`rss_phases` is active); each phase's peak and where it started are kept.
tracemalloc misses torch's and BLAS's allocations; RSS does not (Linux only: it reads
``/proc/self/statm``)."""

from __future__ import annotations

import contextlib
import functools
import os
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import autorec._fitting
import autorec._hybrid
import autorec._training

#: (label, owner, attribute) of the functions whose run is a phase (nested phases are
#: charged to the innermost one).
PHASES: list[tuple[str, Any, str]] = [
    ("data preparation (validate, CSR)", autorec._fitting, "prepare"),
    ("validation slice carved", autorec._fitting, "carve_validation"),
    ("network built", autorec._fitting, "build_module"),
    ("training: epochs", autorec._training, "_run_epoch"),
    ("training: validation RMSE", autorec._training, "validation_rmse"),
    ("training: best-weights copy", autorec._training.BestWeights, "save"),
    ("training: best weights restored", autorec._training.BestWeights, "restore"),
    ("fold-in penalty (item rows)", autorec._fitting, "choose_l2"),
    ("ranking: Gram matrices", autorec._hybrid, "cooccurrence"),
    ("ranking: validation EASE", autorec._hybrid, "fit_exposure"),
    ("ranking: rating rows of validation users", autorec._fitting, "fit_input_rows"),
    ("ranking: weight search", autorec._hybrid, "search_weights"),
    ("ranking: final EASE", autorec._hybrid, "final_exposure"),
    ("ranking: rest", autorec._fitting, "fit_ranking"),
]
OUTSIDE = "rest of fit"
_PAGE_MB = os.sysconf("SC_PAGE_SIZE") / 2**20 if hasattr(os, "sysconf") else 0.0


def rss_mb() -> float:
    """This process's resident set size now, in MB (0 where /proc is missing)."""
    try:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * _PAGE_MB
    except OSError:
        return 0.0


class PhaseMemory:
    """Peak RSS (MB) per phase, from a sampling thread."""

    def __init__(self, interval: float = 0.01) -> None:
        self.interval = interval
        self.stack = [OUTSIDE]
        self.peak: dict[str, float] = {}
        self.start: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.note(self.stack[-1])
            time.sleep(self.interval)

    def note(self, label: str) -> None:
        self.peak[label] = max(self.peak.get(label, 0.0), rss_mb())

    def wrap(self, label: str, function: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(function)
        def measured(*args: Any, **kwargs: Any) -> Any:
            self.start.setdefault(label, rss_mb())
            self.stack.append(label)
            try:
                return function(*args, **kwargs)
            finally:
                self.note(label)
                self.stack.pop()

        return measured

    def rows(self) -> list[dict[str, Any]]:
        """(phase, RSS when first entered, peak RSS), in ``PHASES`` order."""
        order = [*dict.fromkeys(label for label, _, _ in PHASES), OUTSIDE]
        return [
            {"phase": k, "start_mb": self.start.get(k), "peak_mb": self.peak[k]}
            for k in order
            if k in self.peak
        ]


@contextlib.contextmanager
def rss_phases() -> Iterator[PhaseMemory]:
    """Sample RSS by phase while the block runs (the functions restored after)."""
    memory = PhaseMemory()
    saved = [(owner, name, getattr(owner, name)) for _, owner, name in PHASES]
    for label, owner, name in PHASES:
        setattr(owner, name, memory.wrap(label, getattr(owner, name)))
    memory._thread.start()
    try:
        yield memory
    finally:
        memory._stop.set()
        memory._thread.join()
        for owner, name, function in saved:
            setattr(owner, name, function)
