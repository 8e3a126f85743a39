"""autorec: autoencoder recommenders for explicit ratings, built on PyTorch.

The main class is :class:`AutoEncoderRecommender` (:class:`BlendRecommender` averages
several of them); :mod:`autorec.datasets` loads MovieLens-1M and builds utility
matrices and the standard split, :mod:`autorec.metrics` measures RMSE and ranking
quality, :mod:`autorec.baselines` gives the baselines to compare against.
"""

import logging
from typing import TYPE_CHECKING, Any

from ._version import __version__
from .exceptions import (
    ModelFormatError,
    NotFittedError,
    TrainingDivergedError,
)

logging.getLogger(__name__).addHandler(logging.NullHandler())

if TYPE_CHECKING:
    from ._blend import BlendRecommender
    from ._estimator import AutoEncoderRecommender

#: The estimators import torch (seconds): they load on first use, so ``autorec --help``
#: and the data commands start at once.
_LAZY = {"AutoEncoderRecommender": "._estimator", "BlendRecommender": "._blend"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "AutoEncoderRecommender",
    "BlendRecommender",
    "ModelFormatError",
    "NotFittedError",
    "TrainingDivergedError",
    "__version__",
]
