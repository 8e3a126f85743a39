"""Train/test splits of a ratings frame."""

from __future__ import annotations

import numbers

import numpy as np
import pandas as pd

from autorec._validation import check_ratings

__all__ = ["split_mask_by_group", "train_test_split"]

_BY_VALUES = ("user", None)


def _rng(random_state: object) -> np.random.Generator:
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(0, 2**31 - 1))
    if isinstance(random_state, bool) or not (
        random_state is None
        or isinstance(random_state, (numbers.Integral, np.random.Generator, np.random.SeedSequence))
    ):
        raise TypeError(
            "random_state must be None, an int, a numpy Generator, SeedSequence or "
            f"RandomState, got {random_state!r}"
        )
    if isinstance(random_state, numbers.Integral) and random_state < 0:
        raise ValueError(f"random_state must be >= 0, got {random_state!r}")
    return np.random.default_rng(random_state)


def train_test_split(
    ratings: pd.DataFrame,
    test_size: float = 0.25,
    *,
    by: str | None = "user",
    random_state: int | np.random.Generator | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split ratings into a training and a test frame.

    Parameters
    ----------
    ratings : pandas.DataFrame
        Columns ``user_id`` and ``item_id`` (``rating`` and any other column
        are carried along). Each (user, item) pair must appear once.
    test_size : float, default=0.25
        Fraction of ratings in the test set, strictly between 0 and 1.
    by : {"user", None}, default="user"
        ``"user"``: each user with ``n_u`` ratings puts
        ``np.round(test_size * n_u)`` of them, drawn at random, in the test set
        (NumPy rounds halves to even), but always keeps at least one in
        training, so every user appears in training and a user with a single
        rating keeps it there. On MovieLens-1M with ``test_size=0.25`` this
        gives exactly 750,121 training and 250,088 test ratings.
        ``None``: ``np.round(test_size * n)`` ratings drawn at random over all
        users (at least one rating stays in training), as in the 90/10 protocol
        of the AutoRec paper.
    random_state : int, numpy.random.Generator or None, default=None
        Seed; the same seed and input give the same split.

    Returns
    -------
    train, test : pandas.DataFrame
        Disjoint subsets of the rows of ``ratings`` (index labels and row
        order kept) whose union is ``ratings``: no rating is lost or repeated.

    Raises
    ------
    TypeError
        If ``ratings`` is not a DataFrame, ``test_size`` is not a real number,
        or ``random_state`` has an unsupported type.
    ValueError
        If ``test_size`` is not strictly between 0 and 1, ``by`` is not one of
        the allowed values, or ``ratings`` is invalid (see
        ``autorec._validation.check_ratings``).

    Examples
    --------
    >>> import pandas as pd
    >>> from autorec.datasets import train_test_split
    >>> df = pd.DataFrame({"user_id": [1, 1, 1, 1, 2], "item_id": [1, 2, 3, 4, 1],
    ...                    "rating": [5.0, 4.0, 3.0, 2.0, 1.0]})
    >>> train, test = train_test_split(df, test_size=0.25, random_state=0)
    >>> len(train), len(test), sorted(set(train.user_id))
    (4, 1, [1, 2])
    """
    if isinstance(test_size, bool) or not isinstance(test_size, numbers.Real):
        raise TypeError(
            f"test_size must be a fraction strictly between 0 and 1, got {test_size!r} "
            f"of type {type(test_size).__name__}"
        )
    if not 0.0 < float(test_size) < 1.0:  # also rejects NaN
        raise ValueError(
            f"test_size must be a fraction strictly between 0 and 1, got {test_size!r}"
        )
    if by not in _BY_VALUES:
        raise ValueError(f"by must be one of {list(_BY_VALUES)}, got {by!r}")
    rng = _rng(random_state)
    frame = check_ratings(ratings, require_rating=False)
    n = len(frame)
    test_size = float(test_size)

    if by is None:
        n_test = min(int(np.round(test_size * n)), n - 1)
        is_test = np.zeros(n, dtype=bool)
        is_test[rng.permutation(n)[:n_test]] = True
    else:
        is_test = split_mask_by_group(frame["user_id"].to_numpy(), test_size, rng)

    position = np.arange(n)
    return frame.iloc[position[~is_test]], frame.iloc[position[is_test]]


def split_mask_by_group(
    groups: np.ndarray, test_size: float, rng: np.random.Generator
) -> np.ndarray:
    """Which entries go to test when each group (user) puts ``np.round(test_size * n_g)``
    of its ``n_g`` entries, drawn at random, in test (keeping at least one out of it).

    The array-level core of ``train_test_split(..., by="user")``, shared with the
    estimators' validation slices so both draw exactly the same cells from the same seed.
    """
    codes, uniques = pd.factorize(groups, sort=False)
    n = len(codes)
    counts = np.bincount(codes, minlength=len(uniques))
    n_test_per_group = np.minimum(np.round(test_size * counts).astype(np.int64), counts - 1)
    # Random order inside each group: sort by group code + a random fraction in
    # [0, 0.5), which cannot reach the next code (codes < n < 2**51).
    order = np.argsort(codes + 0.5 * rng.random(n))
    sorted_codes = codes[order]
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    rank = np.arange(n) - starts[sorted_codes]
    is_test = np.empty(n, dtype=bool)
    is_test[order] = rank < n_test_per_group[sorted_codes]
    return is_test
