"""Ordinary (4 KB) memory pages for a fit's NumPy arrays.

NumPy asks the kernel for transparent huge pages (``madvise``) for every array of 4 MB or
more. The first touch of a fresh huge page is usually cheap, but on some virtual machines
(the 2-core machine of ``benchmarks/speed.py``'s figures among them) it costs about
10-15 ms (a fresh 3,670 x 3,670 float32 array: 0.25-0.57 s to fill, against 0.04-0.05 s
in 4 KB pages). A fit's
ranking part makes several such arrays (Gram matrices, their Cholesky inverses, the
validation users' scores), each touched a few times by BLAS and LAPACK, whose speed does
not depend on the page size there (one ``potrf`` + ``potri`` of that array 0.35-0.40 s
either way). :func:`ordinary_pages` turns NumPy's request off while a fit runs and
restores it after; so do ``predict_matrix``, ``recommend`` and
``autorec.evaluation.evaluate_ranking``, whose outputs are users x items arrays (the
first ``predict_matrix`` of a fitted default took 1.7-1.8 s on huge pages, 0.4-0.6 s on
ordinary ones). A user who set NumPy's own switch ``NUMPY_MADVISE_HUGEPAGE`` keeps their
choice.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterator

__all__ = ["ordinary_pages"]

_LOCK = threading.Lock()
_DEPTH = 0
_BEFORE = True


def _switch() -> Callable[[bool], bool] | None:
    """NumPy's ``_set_madvise_hugepage`` (sets the flag, returns the previous one), or
    None where this NumPy has none (it is private: a missing one only costs speed)."""
    import numpy as np

    for name in ("_core", "core"):
        module = getattr(getattr(np, name, None), "multiarray", None)
        switch = getattr(module, "_set_madvise_hugepage", None)
        if callable(switch):
            return switch  # type: ignore[no-any-return]
    return None


@contextlib.contextmanager
def ordinary_pages() -> Iterator[None]:
    """NumPy arrays made inside the block get ordinary pages; nested and concurrent
    blocks restore the setting once the last one ends."""
    global _DEPTH, _BEFORE
    switch = None if "NUMPY_MADVISE_HUGEPAGE" in os.environ else _switch()
    if switch is None:
        yield
        return
    with _LOCK:
        if _DEPTH == 0:
            _BEFORE = bool(switch(False))
        _DEPTH += 1
    try:
        yield
    finally:
        with _LOCK:
            _DEPTH -= 1
            if _DEPTH == 0:
                switch(_BEFORE)
