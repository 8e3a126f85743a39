"""Non-neural baselines for explicit ratings: the global mean and user + item biases.

Both follow the scikit-learn estimator conventions: ``__init__`` only stores its
arguments, ``fit(ratings)`` returns ``self`` and sets attributes ending in ``_``, and
``predict(pairs)`` returns one float per (user, item) row.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
import pandas as pd

from ._base import ParamsMixin, check_is_fitted
from ._validation import check_ratings

__all__ = ["BiasBaseline", "GlobalMean"]


# ----------------------------------------------------------------------------- helpers
def _check_frame(df: Any, columns: tuple[str, ...], name: str) -> pd.DataFrame:
    """Check that ``df`` is a non-empty DataFrame with ``columns`` and no missing ids."""
    if not isinstance(df, pd.DataFrame):
        raise TypeError(
            f"{name} must be a pandas DataFrame with columns {list(columns)}, "
            f"got {type(df).__name__}"
        )
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(
            f"{name} is missing column(s) {missing}; it needs {list(columns)} and has "
            f"{[str(c) for c in df.columns]}"
        )
    if len(df) == 0:
        raise ValueError(f"{name} is empty: need at least one row")
    for col in ("user_id", "item_id"):
        isna = df[col].isna().to_numpy()
        if isna.any():
            pos = int(np.flatnonzero(isna)[0])
            raise ValueError(
                f"{name}[{col!r}] has a missing id at row {df.index[pos]!r} "
                f"({int(isna.sum())} missing in total)"
            )
    return df


def _check_ratings(ratings: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validate a ratings frame; return (user ids, item ids, float64 ratings)."""
    df = check_ratings(ratings)
    return (
        df["user_id"].to_numpy(),
        df["item_id"].to_numpy(),
        df["rating"].to_numpy(dtype=np.float64),
    )


def _check_param(value: Any, name: str, *, integer: bool = False, minimum: float = 0.0) -> Any:
    kind = "an int" if integer else "a number"
    wanted = numbers.Integral if integer else numbers.Real
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, wanted):
        raise TypeError(f"{name} must be {kind} >= {minimum:g}, got {value!r}")
    if not np.isfinite(value) or value < minimum:
        raise ValueError(f"{name} must be {kind} >= {minimum:g}, got {value!r}")
    return int(value) if integer else float(value)


class _Estimator(ParamsMixin):
    """Shared parameter API (``get_params``/``set_params``/``repr``) and fitted check."""

    def _check_is_fitted(self) -> None:
        check_is_fitted(self, "global_mean_")


# ----------------------------------------------------------------------------- estimators
class GlobalMean(_Estimator):
    """Predict the mean training rating for every (user, item) pair.

    Attributes
    ----------
    global_mean_ : float
        Mean of the training ratings.
    n_ratings_ : int
        Number of training ratings.

    Examples
    --------
    >>> import pandas as pd
    >>> from autorec.baselines import GlobalMean
    >>> train = pd.DataFrame({"user_id": [1, 1, 2], "item_id": [10, 20, 10],
    ...                       "rating": [4, 2, 3]})
    >>> GlobalMean().fit(train).predict(pd.DataFrame({"user_id": [2], "item_id": [20]}))
    array([3.])
    """

    def __init__(self) -> None:
        pass

    def fit(self, ratings: pd.DataFrame) -> GlobalMean:
        """Learn the mean rating.

        Parameters
        ----------
        ratings : DataFrame
            Columns ``user_id``, ``item_id``, ``rating`` (extra columns are ignored); finite
            ratings, no missing ids, one rating per (user, item) pair.

        Returns
        -------
        GlobalMean
            ``self``.

        Raises
        ------
        TypeError
            If ``ratings`` is not a DataFrame or the ratings are not numeric.
        ValueError
            If columns are missing, the frame is empty, ratings are not finite, ids are
            missing or pairs are duplicated.
        """
        _, _, r = _check_ratings(ratings)
        self.global_mean_ = float(r.mean())
        self.n_ratings_ = int(r.shape[0])
        return self

    def predict(self, pairs: pd.DataFrame) -> np.ndarray:
        """Predict the global mean for each row of ``pairs``.

        Parameters
        ----------
        pairs : DataFrame
            Columns ``user_id`` and ``item_id`` (extra columns are ignored).

        Returns
        -------
        ndarray of float64, shape (len(pairs),)

        Raises
        ------
        NotFittedError
            If called before :meth:`fit`.
        """
        self._check_is_fitted()
        _check_frame(pairs, ("user_id", "item_id"), "pairs")
        return np.full(len(pairs), self.global_mean_, dtype=np.float64)


class BiasBaseline(_Estimator):
    """User and item bias model ``r_ui = mu + b_u + b_i``, fitted by alternating least squares.

    ``mu`` is the mean training rating. Each iteration solves the regularized least-squares
    problem exactly for the item biases given the user biases, then for the user biases
    given the item biases (Koren, 2010, "Factor in the neighbors", section 2.1)::

        b_i = sum_{u rated i} (r_ui - mu - b_u) / (reg_item + n_i)
        b_u = sum_{i rated by u} (r_ui - mu - b_i) / (reg_user + n_u)

    Each update is one ``np.bincount`` over the ratings; fitting MovieLens-1M takes well
    under a second. With the defaults, on MovieLens-1M with the standard per-user 75/25
    split (:func:`autorec.datasets.train_test_split`), the test RMSE is 0.906 to 0.908 over
    random states 0, 1 and 2 (the reference study quotes 0.911 for this baseline, and the
    reference notebook's autoencoder reached 0.949).

    Parameters
    ----------
    reg_user : float, default=5.0
        L2 penalty on the user biases, ``>= 0``.
    reg_item : float, default=5.0
        L2 penalty on the item biases, ``>= 0``.
    n_iter : int, default=10
        Number of alternating sweeps, ``>= 1``.

    Attributes
    ----------
    global_mean_ : float
        Mean training rating ``mu``.
    user_ids_ : ndarray
        Sorted unique training user ids; ``user_bias_[j]`` belongs to ``user_ids_[j]``.
    item_ids_ : ndarray
        Sorted unique training item ids; ``item_bias_[j]`` belongs to ``item_ids_[j]``.
    user_bias_ : ndarray of float64, shape (``n_users_``,)
    item_bias_ : ndarray of float64, shape (``n_items_``,)
    n_users_ : int
    n_items_ : int
    rating_min_ : float
        Smallest training rating; predictions are clipped to ``[rating_min_, rating_max_]``.
    rating_max_ : float
        Largest training rating.

    Notes
    -----
    A user or item absent from the training ratings gets a bias of zero, so an unknown
    pair is predicted as ``mu + b_u`` (unknown item), ``mu + b_i`` (unknown user) or ``mu``.

    Examples
    --------
    >>> import pandas as pd
    >>> from autorec.baselines import BiasBaseline
    >>> train = pd.DataFrame({"user_id": [1, 1, 2, 2], "item_id": [10, 20, 10, 30],
    ...                       "rating": [5, 4, 3, 1]})
    >>> model = BiasBaseline(reg_user=0.0, reg_item=0.0, n_iter=50).fit(train)
    >>> pairs = pd.DataFrame({"user_id": [1, 2, 99], "item_id": [30, 20, 10]})
    >>> model.predict(pairs).round(2)
    array([3., 2., 4.])
    """

    def __init__(self, reg_user: float = 5.0, reg_item: float = 5.0, n_iter: int = 10) -> None:
        self.reg_user = reg_user
        self.reg_item = reg_item
        self.n_iter = n_iter

    def fit(self, ratings: pd.DataFrame) -> BiasBaseline:
        """Learn the global mean and the user and item biases.

        Parameters
        ----------
        ratings : DataFrame
            Columns ``user_id``, ``item_id``, ``rating`` (extra columns are ignored); ids
            may be ints or strings; finite ratings, one rating per (user, item) pair.

        Returns
        -------
        BiasBaseline
            ``self``.

        Raises
        ------
        TypeError
            If ``ratings`` is not a DataFrame, the ratings are not numeric, or a parameter
            has the wrong type.
        ValueError
            If columns are missing, the frame is empty, ratings are not finite, ids are
            missing, pairs are duplicated, or a parameter is out of range.
        """
        reg_user = _check_param(self.reg_user, "reg_user")
        reg_item = _check_param(self.reg_item, "reg_item")
        n_iter = _check_param(self.n_iter, "n_iter", integer=True, minimum=1)
        users, items, r = _check_ratings(ratings)

        u_codes, user_ids = pd.factorize(users, sort=True)
        i_codes, item_ids = pd.factorize(items, sort=True)
        n_users, n_items = len(user_ids), len(item_ids)
        n_u = np.bincount(u_codes, minlength=n_users).astype(np.float64)
        n_i = np.bincount(i_codes, minlength=n_items).astype(np.float64)

        mu = float(r.mean())
        resid = r - mu
        b_u = np.zeros(n_users)
        b_i = np.zeros(n_items)
        for _ in range(n_iter):
            b_i = np.bincount(i_codes, weights=resid - b_u[u_codes], minlength=n_items)
            b_i /= reg_item + n_i
            b_u = np.bincount(u_codes, weights=resid - b_i[i_codes], minlength=n_users)
            b_u /= reg_user + n_u

        self.global_mean_ = mu
        self.user_ids_ = np.asarray(user_ids)
        self.item_ids_ = np.asarray(item_ids)
        self.user_bias_ = b_u
        self.item_bias_ = b_i
        self.n_users_ = n_users
        self.n_items_ = n_items
        self.rating_min_ = float(r.min())
        self.rating_max_ = float(r.max())
        return self

    def predict(self, pairs: pd.DataFrame) -> np.ndarray:
        """Predict ``mu + b_u + b_i`` for each row, clipped to the training rating range.

        Parameters
        ----------
        pairs : DataFrame
            Columns ``user_id`` and ``item_id`` (extra columns are ignored). Users or items
            not seen in training get a zero bias.

        Returns
        -------
        ndarray of float64, shape (len(pairs),)

        Raises
        ------
        NotFittedError
            If called before :meth:`fit`.
        TypeError, ValueError
            If ``pairs`` is not a DataFrame, lacks a column, is empty or has missing ids.
        """
        self._check_is_fitted()
        _check_frame(pairs, ("user_id", "item_id"), "pairs")
        u = pd.Index(self.user_ids_).get_indexer(pairs["user_id"].to_numpy())
        i = pd.Index(self.item_ids_).get_indexer(pairs["item_id"].to_numpy())
        pred = np.full(len(pairs), self.global_mean_, dtype=np.float64)
        pred += np.where(u >= 0, self.user_bias_[np.maximum(u, 0)], 0.0)
        pred += np.where(i >= 0, self.item_bias_[np.maximum(i, 0)], 0.0)
        return np.clip(pred, self.rating_min_, self.rating_max_)
