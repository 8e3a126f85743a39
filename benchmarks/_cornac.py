"""Cornac models (a peer library, optional) behind autorec's recommender hooks, so the
benchmarks score them with exactly the same protocol and split as autorec's models.

Not part of the library: Cornac is a benchmark-only dependency (``pip install cornac``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from autorec.datasets import utility_matrix


class CornacRanker:
    """Fit a Cornac model on a ratings frame; ``_user_scores`` in autorec's item order."""

    def __init__(self, model: Any, binary: bool = False) -> None:
        self.model = model
        self.binary = binary  # every rating as 1: who rated what (EASE, VAE)

    def fit(self, train: pd.DataFrame) -> CornacRanker:
        from cornac.data import Dataset

        triples = list(
            zip(
                train["user_id"].astype(str),
                train["item_id"].astype(str),
                [1.0] * len(train) if self.binary else train["rating"].astype(float),
                strict=True,
            )
        )
        self.train_set_ = Dataset.from_uir(triples, seed=0)
        self.model.fit(self.train_set_)
        utility = utility_matrix(train)
        self.user_map_, self.item_map_, self.utility_ = (
            utility.user_map,
            utility.item_map,
            utility.matrix,
        )
        # Cornac's item index of each autorec item column.
        iid = self.train_set_.iid_map
        self._columns = np.array([iid[str(i)] for i in self.item_map_.ids], dtype=np.int64)
        self._uid = self.train_set_.uid_map
        return self

    def _user_scores(self, index: np.ndarray) -> np.ndarray:
        out = np.empty((len(index), len(self._columns)), dtype=np.float64)
        for row, user in enumerate(self.user_map_.inverse_transform(index)):
            scores = np.asarray(self.model.score(self._uid[str(user)]), np.float64).ravel()
            out[row] = scores[self._columns]
        return out

    def _seen_items(self, index: np.ndarray) -> list[np.ndarray]:
        m = self.utility_
        return [m.indices[m.indptr[u] : m.indptr[u + 1]] for u in index]
