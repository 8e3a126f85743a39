"""The shape every autorec model shares: ``recommend`` and ``complete`` over two hooks.

A model supplies only

* ``_user_scores(index)``: ranking scores of every item for a block of its users
  (rows follow ``index``, columns follow ``item_map_``; higher ranks first), and
* ``_seen_items(index)``: the items each of those users rated in training (by default
  the stored entries of ``utility_``, the users x items training matrix),

and, to fold in users it has not seen, ``_fold_in_scores(items, ratings)``. Everything
else (seen-item filtering, top-k with stable tie-breaking, batch = single, the movies
join, id checks) lives here once, as in implicit's ``RecommenderBase``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ._base import check_is_fitted
from ._movies import check_movie_ids, check_movies, join_movies
from ._pages import ordinary_pages
from ._ranking import top_k_items
from ._user_ids import _as_user_ids, _check_id_values
from ._validation import as_python, check_bool, check_k, check_ratings
from .metrics import rmse

__all__ = ["CompletionMixin", "RecommenderMixin", "top_k_items"]

#: Users scored at once by a batch ``recommend`` (bounds its memory).
BLOCK_USERS = 1024


class RecommenderMixin:
    """``recommend`` for every model, over the ``_user_scores`` / ``_seen_items`` hooks.

    Needs the fitted attributes ``user_map_`` and ``item_map_``
    (:class:`autorec.datasets.IdMap`) and, for the default ``_seen_items``, ``utility_``.
    """

    #: A fitted attribute whose presence means "fitted".
    _fitted_attribute = "user_map_"

    # ------------------------------------------------------------------ hooks
    def _user_scores(self, index: np.ndarray) -> np.ndarray:
        """Ranking scores, shape (len(index), n_items), for users at ``index``."""
        raise NotImplementedError

    def _seen_items(self, index: np.ndarray) -> list[np.ndarray]:
        """The item indices each user at ``index`` rated in training."""
        matrix: sp.csr_matrix = self.utility_  # type: ignore[attr-defined]
        return [matrix.indices[matrix.indptr[u] : matrix.indptr[u + 1]] for u in index]

    def _user_ratings(self, index: np.ndarray) -> np.ndarray | None:
        """Predicted ratings (raw), shape (len(index), n_items), or None for a model that
        only ranks. Shown, clipped to ``rating_scale_``, as ``predicted_rating``."""
        return None

    def _fold_in_ratings(self, items: np.ndarray, ratings: np.ndarray) -> np.ndarray | None:
        """Predicted ratings of every item for a folded-in user, or None."""
        return None

    def _fold_in_scores(self, items: np.ndarray, ratings: np.ndarray) -> np.ndarray:
        """Ranking scores of every item for a new user with these (item index, rating)s."""
        raise ValueError(
            f"{type(self).__name__} cannot fold in a user it was not fitted on; refit with "
            "that user's ratings"
        )

    def _fold_in(self, items: np.ndarray, ratings: np.ndarray) -> tuple[Any, Any]:
        """(ranking scores, predicted ratings or None) of every item for a new user; a
        model whose scores are built from its predictions overrides it to fold in once."""
        return self._fold_in_scores(items, ratings), self._fold_in_ratings(items, ratings)

    def _fold_in_scale(self) -> tuple[float, float] | None:
        """The range fold-in ratings must lie in (the model's rating scale, if any)."""
        return getattr(self, "rating_scale_", None)

    # ------------------------------------------------------------------ helpers
    def _item_counts(self) -> np.ndarray:
        """Training ratings of each item (how many people rated it), cached per fit."""
        matrix = self.utility_  # type: ignore[attr-defined]
        cached = getattr(self, "_counts_cache", None)
        if cached is None or cached[0] is not matrix:
            counts = np.bincount(matrix.indices, minlength=matrix.shape[1]).astype(np.int64)
            self._counts_cache = (matrix, counts)
            return counts
        return cached[1]

    def _check_fitted(self) -> None:
        check_is_fitted(self, self._fitted_attribute)

    def _user_index(self, users: Any) -> np.ndarray:
        """Row indices of the given user ids (all users for None); unknown ids raise."""
        user_map = self.user_map_  # type: ignore[attr-defined]
        if users is None:
            return np.arange(len(user_map), dtype=np.int64)
        ids, _ = _as_user_ids(users)
        _check_id_values(ids, "user id")
        index = user_map.transform(ids)
        if (index < 0).any():
            bad = ids[index < 0]
            raise KeyError(
                f"user id(s) {bad[:5].tolist()} ({len(bad)} in all) were not in the training "
                "data; pass their ratings to recommend(..., user_ratings=...) to fold them in"
            )
        return index.astype(np.int64)

    def _parse_user_ratings(self, user_ratings: Any) -> tuple[np.ndarray, np.ndarray]:
        """(item index, rating) of a fold-in user, unknown items dropped with a warning."""
        if isinstance(user_ratings, pd.DataFrame):
            missing = [c for c in ("item_id", "rating") if c not in user_ratings.columns]
            if missing:
                raise ValueError(
                    f"user_ratings frame is missing column(s) {missing}; it needs 'item_id' "
                    f"and 'rating' (it has {[str(c) for c in user_ratings.columns]})"
                )
            items, values = user_ratings["item_id"].to_numpy(), user_ratings["rating"].to_numpy()
        elif isinstance(user_ratings, pd.Series):
            items, values = user_ratings.index.to_numpy(), user_ratings.to_numpy()
        elif isinstance(user_ratings, Mapping):
            items = np.asarray(list(user_ratings.keys()))
            values = list(user_ratings.values())
        else:
            raise TypeError(
                "user_ratings must be a dict item_id -> rating, a Series indexed by item id, or "
                f"a DataFrame with item_id and rating, got {type(user_ratings).__name__}"
            )
        for item, value in zip(np.asarray(items).tolist(), list(values), strict=True):
            if isinstance(value, bool | np.bool_) or not isinstance(
                value, int | float | np.integer | np.floating
            ):
                raise ValueError(
                    f"user_ratings gives item {item!r} the rating {as_python(value)!r}; each "
                    "rating must be one number"
                )
        values = np.asarray(values, dtype=np.float64).reshape(-1)
        items = np.asarray(items)
        _check_id_values(items, "user_ratings item id")
        scale = self._fold_in_scale()
        bad = ~np.isfinite(values)
        if scale is not None:
            bad |= (values < scale[0]) | (values > scale[1])
        if bad.any():
            allowed = f"the rating scale [{scale[0]}, {scale[1]}]" if scale else "finite numbers"
            raise ValueError(
                f"user_ratings has rating {as_python(values[bad][0])!r} for item "
                f"{as_python(items[bad][0])!r}; ratings must be {allowed}"
            )
        index = self.item_map_.transform(items)  # type: ignore[attr-defined]
        if (index < 0).any():
            warnings.warn(
                f"{int((index < 0).sum())} item(s) in user_ratings were not in the training "
                f"data and are ignored (e.g. {items[index < 0][:5].tolist()})",
                UserWarning,
                stacklevel=4,
            )
        keep = index >= 0
        index, values = index[keep], values[keep]
        unique, counts = np.unique(index, return_counts=True)
        if (counts > 1).any():
            repeated = self.item_map_.inverse_transform(unique[counts > 1][:1])[0]  # type: ignore[attr-defined]
            raise ValueError(
                f"user_ratings rates item {as_python(repeated)!r} more than once; give each item "
                "one rating"
            )
        return index.astype(np.int64), values

    def _with_history(
        self, user_id: Any, items: np.ndarray, values: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """A fold-in user's ratings merged with their training ratings when ``user_id``
        is a training user (a rating given in ``user_ratings`` wins on the same item)."""
        if user_id is None:
            return items, values
        ids = np.asarray([user_id], dtype=object if isinstance(user_id, str) else None)
        try:  # a label that cannot be an id (1.5, "alice" for integer ids) is a new user
            _check_id_values(ids, "user id")
            row = int(self.user_map_.transform(ids)[0])  # type: ignore[attr-defined]
        except (TypeError, ValueError):
            return items, values
        if row < 0:
            return items, values
        matrix = self.utility_  # type: ignore[attr-defined]
        start, stop = matrix.indptr[row], matrix.indptr[row + 1]
        past, past_values = matrix.indices[start:stop], matrix.data[start:stop]
        keep = ~np.isin(past, items)
        merged = np.concatenate([past[keep].astype(np.int64), items])
        order = np.argsort(merged, kind="stable")
        both = np.concatenate([past_values[keep].astype(np.float64), values])
        return merged[order], both[order]

    def _cold_start(self) -> tuple[np.ndarray, np.ndarray | None]:
        """(scores, predicted ratings or None) for a user with no known rating: the
        items ranked by their number of training ratings, each predicted at its mean
        training rating."""
        counts = self._item_counts()
        if getattr(self, "rating_scale_", None) is None:
            return counts.astype(np.float64), None
        matrix = self.utility_  # type: ignore[attr-defined]
        sums = np.bincount(matrix.indices, weights=matrix.data, minlength=matrix.shape[1])
        means = sums / np.maximum(counts, 1)
        return counts.astype(np.float64), means.astype(np.float32)

    # ------------------------------------------------------------------ public
    @ordinary_pages()
    def recommend(
        self,
        user_id: Any,
        k: int = 10,
        *,
        exclude_seen: bool = True,
        movies: pd.DataFrame | None = None,
        user_ratings: Mapping[Any, float] | pd.Series | pd.DataFrame | None = None,
        explain: bool = False,
    ) -> pd.DataFrame:
        """Top-``k`` items for a user (or for each of several users).

        Parameters
        ----------
        user_id : scalar or array-like
            A user id seen in ``fit``, or several (a list, array or Series). With
            ``user_ratings`` it may be any label (or None) for a new user.
        k : int, default=10
            Number of items; fewer are returned only when fewer candidates exist.
        exclude_seen : bool, default=True
            Leave out items the user rated in the training data (or in ``user_ratings``).
            Pass ``False`` to rank every item.
        movies : pandas.DataFrame, optional
            Item metadata with an ``item_id`` column (e.g. ``load_movielens_1m().movies``);
            its ``title`` and ``genres`` columns are joined onto the result.
        user_ratings : mapping item_id -> rating, pandas.Series or DataFrame, optional
            Fold-in: ratings of a user who need not be in the training data (a dict, a
            Series indexed by item id, or a frame with ``item_id`` and ``rating``), each
            item rated once. The user's recommendations come without retraining (for
            the models that support it); items unknown to the model are ignored with a
            warning. When ``user_id`` is a training user, their training ratings are
            merged in (``user_ratings`` wins on an item rated in both) and all of them
            are excluded with ``exclude_seen``. A user with no rating of a known item
            gets, with a warning, what every new user gets from every model: the
            most-rated items, ``score`` their number of training ratings and
            ``predicted_rating`` their mean training rating.
        explain : bool, default=False
            Add a ``because`` column: for each item, up to 3 of the user's rated items
            whose removal would lower its score most (largest first; none below a fifth
            of the largest), each a dict with
            ``item_id``, ``rating`` (the user's), ``effect`` (the fall of ``score``) and,
            with ``movies``, ``title``; an empty list when no rated item raises it. See
            ``autorec._explain`` for how they are derived; models without an exposure or
            rating network to attribute (the baselines) raise ``ValueError``.

        Returns
        -------
        pandas.DataFrame
            For one user: up to ``k`` rows ranked by ``score`` (highest first), index
            ``rank`` from 1, columns ``item_id``; ``score``, the ranking score (its scale
            depends on the model's ``ranking``: the raw predicted rating for
            ``ranking="rating"``, a log-exposure plus rating term for ``"hybrid"``; only
            its order matters); ``predicted_rating``, the predicted rating clipped to
            ``rating_scale_`` (models that predict ratings); ``n_ratings``, how many
            training ratings the item has; and ``title``, ``genres`` when ``movies`` is
            given. For an array of users: the same rows for each user
            stacked, with a leading ``user_id`` column; each user's rows equal the
            single call. Ties in ``score`` are broken by item order.

        Raises
        ------
        KeyError
            If a user id was not in the training data and no ``user_ratings`` was given.
        TypeError, ValueError
            If ``k`` is not a positive integer, ``exclude_seen`` is not a bool, a user id
            cannot be an id, or the model cannot fold in users.
        """
        self._check_fitted()
        k = check_k(k)
        exclude_seen = check_bool(exclude_seen, "exclude_seen")
        explain = check_bool(explain, "explain")
        if explain and not hasattr(self, "_because"):
            raise ValueError(
                f"{type(self).__name__} cannot explain its recommendations; use explain=False"
            )
        if movies is not None:
            check_movies(movies)
            check_movie_ids(movies, self.item_map_.ids)  # type: ignore[attr-defined]
        if user_ratings is not None:
            if not (user_id is None or np.ndim(user_id) == 0):
                raise ValueError("user_ratings folds in one user: pass a single user_id (or None)")
            columns = self._fold_in_columns(user_id, user_ratings, k, exclude_seen, explain, movies)
            result = self._frame(columns, [user_id], True)
        else:
            ids, single = _as_user_ids(user_id)
            index = self._user_index(ids)
            labels = self.user_map_.inverse_transform(index)  # type: ignore[attr-defined]
            parts = []
            for start in range(0, len(index), BLOCK_USERS):
                block = index[start : start + BLOCK_USERS]
                columns = self._block_columns(block, k, exclude_seen, explain, movies)
                parts.append(self._frame(columns, labels[start : start + BLOCK_USERS], single))
            result = parts[0] if single else pd.concat(parts)
        if movies is not None:
            result = join_movies(result, movies)
            if explain:  # the explanation last, after the movie's own columns
                result["because"] = result.pop("because")
        return result

    def _scores_and_ratings(
        self, index: np.ndarray, predicted: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """(ranking scores as float64, predicted ratings or None) of the users at ``index``.

        A model whose scores are built from its predicted ratings by ``_rank_scores(rows,
        ratings)`` (``autorec._hybrid.HybridRankingMixin``, whose ``_user_scores`` is
        exactly that) predicts once instead of twice; ``predicted``: those users'
        ``_user_ratings`` when already known (a server keeps every fitted user's)."""
        rank = getattr(self, "_rank_scores", None)
        predicted = self._user_ratings(index) if predicted is None else predicted
        if rank is not None and predicted is not None:
            scores = rank(self.utility_[index], predicted)  # type: ignore[attr-defined]
        else:
            scores = self._user_scores(index)
        return np.asarray(scores, dtype=np.float64), predicted

    def _block_columns(
        self,
        block: np.ndarray,
        k: int,
        exclude_seen: bool,
        explain: bool,
        movies: pd.DataFrame | None = None,
        scored: tuple[np.ndarray, np.ndarray | None] | None = None,
    ) -> dict[str, Any]:
        """:meth:`_columns` of the training users at row indices ``block``; ``scored``:
        their :meth:`_scores_and_ratings` when already computed (a server scores the
        users of concurrent requests together, then ranks and explains each alone)."""
        scores, predicted = self._scores_and_ratings(block) if scored is None else scored
        because = None
        if explain:
            matrix = self.utility_  # type: ignore[attr-defined]
            rows = [slice(matrix.indptr[u], matrix.indptr[u + 1]) for u in block]
            because = self._because_hook(
                explain, [matrix.indices[r] for r in rows], [matrix.data[r] for r in rows], movies
            )
        return self._columns(scores, predicted, self._seen_items(block), k, exclude_seen, because)

    def _fold_in_columns(
        self,
        user_id: Any,
        user_ratings: Any,
        k: int,
        exclude_seen: bool,
        explain: bool,
        movies: pd.DataFrame | None = None,
        parsed: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> dict[str, Any]:
        """:meth:`_columns` of one folded-in user (``recommend(user_id, user_ratings=...)``);
        ``parsed``: ``user_ratings`` already checked, as (item indices, float64 ratings)."""
        if parsed is None:
            parsed = self._parse_user_ratings(user_ratings)
        items, values = self._with_history(user_id, *parsed)
        if len(items):
            scores, predicted = self._fold_in(items, values)
        else:
            warnings.warn(
                "user_ratings holds no item from the training data; without a known "
                "rating the user gets what every new user gets: the most-rated items",
                UserWarning,
                stacklevel=3,
            )
            scores, predicted = self._cold_start()
        scores = np.asarray(scores, dtype=np.float64)[None, :]
        predicted = None if predicted is None else np.asarray(predicted)[None, :]
        because = self._because_hook(explain, [items], [values], movies)
        return self._columns(scores, predicted, [items], k, exclude_seen, because)

    def _because_hook(
        self,
        explain: bool,
        rated: list[np.ndarray],
        ratings: list[np.ndarray],
        movies: pd.DataFrame | None,
    ) -> Callable[[int, np.ndarray, np.ndarray | None], list] | None:
        """``because(row, items, predicted)`` for :meth:`_columns` (None unless ``explain``):
        the model's ``_because`` for the user in that row (``autorec._explain``)."""
        if not explain:
            return None

        def because(row: int, items: np.ndarray, predicted: np.ndarray | None) -> list:
            return self._because(  # type: ignore[attr-defined]
                np.asarray(rated[row], dtype=np.int64),
                np.asarray(ratings[row], dtype=np.float64),
                items,
                predicted,
                movies,
            )

        return because

    def _columns(
        self,
        scores: np.ndarray,
        predicted: np.ndarray | None,
        seen: list[np.ndarray],
        k: int,
        exclude_seen: bool,
        because: Callable[[int, np.ndarray, np.ndarray | None], list] | None = None,
    ) -> dict[str, Any]:
        """The top ``k`` of each row as the columns of :meth:`recommend`'s frame (plain
        arrays, rows stacked), with ``item_index`` (the chosen columns) and ``counts``
        (how many each row got): what a server turns into JSON without a frame."""
        scores = np.where(np.isnan(scores), -np.inf, scores)
        if exclude_seen:
            for row, items in enumerate(seen):
                scores[row, items] = -np.inf
        columns, counts = top_k_items(scores, k)
        flat = np.concatenate(columns) if len(columns) else np.empty(0, np.int64)
        rows = np.repeat(np.arange(len(counts)), counts)
        out: dict[str, Any] = {
            "item_index": flat,
            "counts": counts,
            "item_id": self.item_map_.inverse_transform(flat),  # type: ignore[attr-defined]
            "score": scores[rows, flat],
        }
        if predicted is not None:
            low, high = self.rating_scale_  # type: ignore[attr-defined]
            out["predicted_rating"] = np.clip(predicted[rows, flat], low, high)
        out["n_ratings"] = self._item_counts()[flat]
        if because is not None:
            out["because"] = [
                entry
                for row, items in enumerate(columns)
                for entry in because(
                    row, items, None if predicted is None else predicted[row, items]
                )
            ]
        return out

    def _frame(self, columns: dict[str, Any], labels: Any, single: bool) -> pd.DataFrame:
        """:meth:`_columns` as :meth:`recommend`'s frame."""
        columns = dict(columns)
        columns.pop("item_index")
        counts = columns.pop("counts")
        frame = pd.DataFrame(columns)
        frame.index = pd.Index(
            np.concatenate([np.arange(1, c + 1) for c in counts]) if len(counts) else [],
            name="rank",
            dtype=np.int64,
        )
        if not single:
            frame.insert(0, "user_id", np.repeat(np.asarray(labels), counts))
        return frame


class CompletionMixin:
    """``complete``: the training ratings kept, the empty cells predicted; and ``score``,
    the negative RMSE scikit-learn's model selection maximises.

    Needs ``predict(pairs)``, ``predict_matrix(users)``, ``utility_``, ``user_map_``,
    ``item_map_`` and ``_user_index`` (from :class:`RecommenderMixin`).
    """

    def score(self, ratings: pd.DataFrame, y: None = None) -> float:
        """Negative RMSE of the (clipped) predictions on ``ratings``: higher is better,
        as :func:`sklearn.model_selection.cross_val_score` and ``GridSearchCV`` expect.

        Parameters
        ----------
        ratings : pandas.DataFrame
            Columns ``user_id``, ``item_id`` and ``rating`` (held-out ratings); users or
            items not seen in ``fit`` get ``predict``'s fallback.
        y : None
            Ignored; present for scikit-learn compatibility.

        Returns
        -------
        float
            ``-rmse(ratings["rating"], predict(ratings))``.

        Examples
        --------
        >>> from autorec.baselines import GlobalMean
        >>> from autorec.datasets import make_ratings
        >>> ratings = make_ratings(20, 10, 100, random_state=0)
        >>> model = GlobalMean().fit(ratings)
        >>> bool(abs(model.score(ratings) + ratings["rating"].std(ddof=0)) < 1e-6)
        True
        """
        frame = check_ratings(ratings, name="ratings")
        return -float(rmse(frame["rating"].to_numpy(), self.predict(frame)))  # type: ignore[attr-defined]

    def complete(self, users: Any = None) -> pd.DataFrame:
        """The completed utility matrix: observed ratings kept, empty cells predicted.

        Parameters
        ----------
        users : array-like of user ids, optional
            Which users (rows); all users by default.

        Returns
        -------
        pandas.DataFrame
            Index: user ids, columns: item ids, values: float32 predicted ratings
            (clipped to the rating scale) where the user had no training rating.
        """
        self._check_fitted()  # type: ignore[attr-defined]
        index = self._user_index(users)  # type: ignore[attr-defined]
        ids = self.user_map_.inverse_transform(index)  # type: ignore[attr-defined]
        filled = np.asarray(self.predict_matrix(ids), dtype=np.float32)  # type: ignore[attr-defined]
        observed = self.utility_[index]  # type: ignore[attr-defined]
        rows, cols = observed.nonzero()
        filled[rows, cols] = np.asarray(observed[rows, cols]).ravel()
        return pd.DataFrame(
            filled,
            index=pd.Index(ids, name="user_id"),
            columns=pd.Index(self.item_map_.ids, name="item_id"),  # type: ignore[attr-defined]
        )
