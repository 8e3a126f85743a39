"""autorec: autoencoder recommenders for explicit ratings, built on PyTorch.

The main class is :class:`AutoEncoderRecommender` (:class:`BlendRecommender` averages
several of them); :mod:`autorec.datasets` loads MovieLens-1M and builds utility
matrices and the standard split, :mod:`autorec.metrics` measures RMSE and ranking
quality, :mod:`autorec.baselines` gives the baselines to compare against.
"""

import logging

from ._blend import BlendRecommender
from ._estimator import AutoEncoderRecommender
from ._version import __version__
from .exceptions import (
    ModelFormatError,
    NotFittedError,
    TrainingDivergedError,
)

logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = [
    "AutoEncoderRecommender",
    "BlendRecommender",
    "ModelFormatError",
    "NotFittedError",
    "TrainingDivergedError",
    "__version__",
]
