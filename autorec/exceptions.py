"""Exceptions and warnings raised by autorec."""

from __future__ import annotations

__all__ = [
    "ModelFormatError",
    "NotFittedError",
    "TrainingDivergedError",
    "UndefinedMetricWarning",
]


class NotFittedError(ValueError, AttributeError):
    """Raised when a method that needs a fitted estimator is called before ``fit``.

    It subclasses both :class:`ValueError` and :class:`AttributeError`, like
    scikit-learn's ``NotFittedError``, so code that catches either keeps working.

    Examples
    --------
    >>> import pandas as pd
    >>> from autorec.baselines import GlobalMean
    >>> try:
    ...     GlobalMean().predict(pd.DataFrame({"user_id": [1], "item_id": [1]}))
    ... except NotFittedError as exc:
    ...     print(type(exc).__name__)
    NotFittedError
    """


class UndefinedMetricWarning(UserWarning):
    """Warned when a metric is undefined for the given input and NaN is returned.

    Example: :func:`autorec.metrics.recall_at_k` when no user has a relevant test item.
    """


class TrainingDivergedError(FloatingPointError):
    """Raised by ``fit`` when the training loss becomes NaN or infinite before any epoch
    completed (usually a learning rate that is too high).

    After at least one good epoch, divergence instead stops training with a
    :class:`RuntimeWarning` and the best weights so far are kept, so no NaN ever reaches
    ``predict``.
    """


class ModelFormatError(ValueError):
    """Raised when a file is not a valid autorec model: truncated, another format (a
    pickle, say), written by a newer format version, or with a configuration that does
    not match its weights. Loading never executes code from the file."""
