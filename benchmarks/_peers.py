"""Peers of autorec's ranking, each tuned on a validation slice carved from the training
ratings (never the test set), as their best users tune them (Dacrema et al. 2019/2021).

Not part of the library: the scripts in this folder import it by file name. ``implicit``
and ``cornac`` are optional benchmark dependencies, imported only here, inside the
functions that need them; a peer whose library is missing is skipped with a note.

Every peer is a :class:`Peer`: a name, a grid of parameter dicts, and ``make(params)``
giving an unfitted model with ``fit(train)`` and autorec's recommender hooks
(``user_map_``, ``item_map_``, ``_user_scores``, ``_seen_items``), so that
:func:`autorec.evaluation.evaluate_ranking` scores it exactly as it scores autorec.
:func:`tune` fits every grid point on the training ratings minus the validation slice,
keeps the best validation NDCG@10, refits it on all the training ratings; the caller
scores that one model on test, once.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from autorec._exposure import ease_weights, gram_upper
from autorec._tuning import relevance_threshold, weighted_rows
from autorec.baselines import EASE
from autorec.datasets import train_test_split, utility_matrix
from autorec.evaluation import evaluate_ranking


@dataclass
class Peer:
    name: str
    grid: list[dict[str, Any]]
    make: Callable[[dict[str, Any]], Any]
    note: str = ""


@dataclass
class Tuned:
    peer: Peer
    chosen: dict[str, Any]
    validation: list[tuple[dict[str, Any], float]] = field(default_factory=list)
    model: Any = None
    fit_seconds: float = 0.0  # the chosen configuration's fit on all training ratings
    tune_seconds: float = 0.0  # the whole grid on the validation split


def validation_split(train: pd.DataFrame, by: str | None, seed: int) -> tuple[pd.DataFrame, ...]:
    """10% of the training ratings held out (of each user's when ``by="user"``)."""
    return train_test_split(train, 0.1, by=by, random_state=seed + 1000)


def tune(peer: Peer, train: pd.DataFrame, by: str | None, seed: int, log: Callable) -> Tuned:
    """Choose ``peer``'s parameters on a validation slice of ``train``; refit on ``train``."""
    fit_part, held_out = validation_split(train, by, seed)
    tick = time.perf_counter()
    scores = []
    for params in peer.grid:
        model = peer.make(params).fit(fit_part)
        ndcg = evaluate_ranking(model, fit_part, held_out, k=10)["ndcg@10"]
        scores.append((params, ndcg))
        log(f"    {peer.name} {fmt_params(params)}: validation NDCG@10 {ndcg:.4f}")
    tune_seconds = time.perf_counter() - tick
    chosen = max(scores, key=lambda pair: pair[1])[0]
    tick = time.perf_counter()
    model = peer.make(chosen).fit(train)
    return Tuned(peer, chosen, scores, model, time.perf_counter() - tick, tune_seconds)


def fmt_params(params: dict[str, Any]) -> str:
    return ", ".join(
        f"{key}={value:g}" if isinstance(value, float) else f"{key}={value}"
        for key, value in params.items()
    )


# ----------------------------------------------------------------------------- rankers
class MatrixRanker:
    """A ranker whose scores are ``X_u @ W`` (or any function of the training matrix):
    subclasses set ``self._score`` in ``_learn(X)``, ``X`` the users x items input
    (``_input``: binarised unless a subclass weighs the ratings); the bookkeeping is here
    once."""

    def fit(self, train: pd.DataFrame) -> MatrixRanker:
        utility = utility_matrix(train)
        self.user_map_, self.item_map_ = utility.user_map, utility.item_map
        self.utility_ = utility.matrix.tocsr()
        self._learn(self._input(self.utility_))
        return self

    def _input(self, ratings: sp.csr_matrix) -> sp.csr_matrix:
        return weighted_rows(ratings, "binary", 0.0, 0.0)

    def _learn(self, x: sp.csr_matrix) -> None:
        raise NotImplementedError

    def _user_scores(self, index: np.ndarray) -> np.ndarray:
        return self._score(np.asarray(index))

    def _seen_items(self, index: np.ndarray) -> list[np.ndarray]:
        m = self.utility_
        return [m.indices[m.indptr[u] : m.indptr[u + 1]] for u in index]


def _keep_top(w: np.ndarray, k: int) -> np.ndarray:
    """Zero all but the ``k`` largest entries of each row of ``w`` (in place)."""
    if k < w.shape[1]:
        drop = np.argpartition(-w, k, axis=1)[:, k:]
        np.put_along_axis(w, drop, 0.0, axis=1)
    return w


class ItemKNN(MatrixRanker):
    """Item-based kNN: cosine similarity with shrinkage, ``neighbours`` per item."""

    def __init__(self, neighbours: int = 100, shrink: float = 0.0) -> None:
        self.neighbours, self.shrink = neighbours, shrink

    def _learn(self, x: sp.csr_matrix) -> None:
        gram = (x.T @ x).toarray()
        norms = np.sqrt(np.diag(gram))
        sim = gram / (np.outer(norms, norms) + self.shrink + 1e-9)
        np.fill_diagonal(sim, 0.0)
        # Each item's neighbours: keep the strongest similarities of each row (item i's
        # neighbours j), scores X_u @ W with W[j, i] = sim(i, j) for the kept j.
        w = _keep_top(sim, self.neighbours).T.astype(np.float32)
        self._score = lambda index: np.asarray(x[index] @ w)


class RP3beta(MatrixRanker):
    """RP3beta (Paudel et al. 2017; Dacrema et al.'s implementation): three-step random
    walk probabilities ``P_iu P_ui`` with entries raised to ``alpha``, divided by each
    target item's popularity to the ``beta``, ``neighbours`` per item."""

    def __init__(self, alpha: float = 1.0, beta: float = 0.5, neighbours: int = 100) -> None:
        self.alpha, self.beta, self.neighbours = alpha, beta, neighbours

    def _learn(self, x: sp.csr_matrix) -> None:
        user_degree = np.asarray(x.sum(axis=1)).ravel()
        item_degree = np.asarray(x.sum(axis=0)).ravel()
        p_ui = sp.diags(1.0 / np.maximum(user_degree, 1)) @ x
        p_iu = sp.diags(1.0 / np.maximum(item_degree, 1)) @ x.T.tocsr()
        p_ui.data **= self.alpha
        p_iu.data **= self.alpha
        w = (p_iu @ p_ui).toarray()
        w *= np.power(np.maximum(item_degree, 1), -self.beta)[None, :]
        np.fill_diagonal(w, 0.0)
        w = _keep_top(w, self.neighbours).astype(np.float32)
        self._score = lambda index: np.asarray(x[index] @ w)


class EDLAE(MatrixRanker):
    """The emphasized denoising linear autoencoder (Steck 2020), full rank, with EASE's
    zero-diagonal constraint: EASE whose ridge penalty is the one dropout implies,
    ``Λ = p/(1-p)·diagMat(diag G) + l2·I`` (``G = XᵀX``, ``p`` the dropout probability):
    ``P = (G + Λ)⁻¹``, ``B = I - P·diagMat(1/diag P)``. ``p = 0`` is EASE. Each item's
    penalty grows with its own (weighted) number of ratings, so popular items are shrunk
    more than a single ``l2`` would.

    ``input`` as :class:`autorec.baselines.EASE`'s: ``"binary"``, ``"rating"`` (the rating
    minus ``shift``) or ``"liked"``; solved in float32 by ``autorec._exposure.ease_weights``.

    H. Steck. Autoencoders that don't overfit towards the Identity. NeurIPS 2020: the
    full-rank model's penalty ``Λ``, here with the zero-diagonal constraint.
    """

    def __init__(
        self, l2: float = 500.0, dropout: float = 0.33, input: str = "binary", shift: float = 1.0
    ) -> None:
        self.l2, self.dropout, self.input, self.shift = l2, dropout, input, shift

    def _input(self, ratings: sp.csr_matrix) -> sp.csr_matrix:
        scale = (float(ratings.data.min()), float(ratings.data.max()))
        return weighted_rows(ratings, self.input, self.shift, relevance_threshold(scale))

    def _learn(self, x: sp.csr_matrix) -> None:
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"EDLAE's dropout must be in [0, 1), got {self.dropout!r}")
        gram = gram_upper(x)
        # G + p/(1-p) diagMat(diag G) = G with its diagonal divided by (1 - p).
        gram[np.diag_indices_from(gram)] /= np.float32(1.0 - self.dropout)
        self.weights_ = ease_weights(None, self.l2, gram=gram)
        self._score = lambda index: np.asarray(x[index] @ self.weights_)


class IALS(MatrixRanker):
    """Implicit ALS (Hu et al. 2008) from the ``implicit`` library, one thread."""

    def __init__(
        self,
        factors: int = 64,
        regularization: float = 0.01,
        alpha: float = 1.0,
        iterations: int = 15,
        seed: int = 0,
    ) -> None:
        self.factors, self.regularization, self.alpha = factors, regularization, alpha
        self.iterations, self.seed = iterations, seed

    def _learn(self, x: sp.csr_matrix) -> None:
        from implicit.cpu.als import AlternatingLeastSquares

        model = AlternatingLeastSquares(
            factors=self.factors,
            regularization=self.regularization,
            alpha=self.alpha,
            iterations=self.iterations,
            num_threads=1,
            random_state=self.seed,
        )
        model.fit(x, show_progress=False)
        users, items = np.asarray(model.user_factors), np.asarray(model.item_factors)
        self._score = lambda index: users[index] @ items.T


# ----------------------------------------------------------------------------- the grids
def peers(seed: int, quick: bool = False) -> list[Peer]:
    """The tuned peers and their grids (``quick``: one or two points each, for CI)."""
    out = []
    ease_grid = []
    for input, shift, l2s in (
        ("binary", None, (500.0, 1000.0, 2000.0, 4000.0)),
        ("liked", None, (250.0, 500.0, 1000.0, 2000.0)),
        ("rating", 1.0, (2000.0, 4000.0, 8000.0, 16000.0)),
        ("rating", 1.5, (1000.0, 2000.0, 4000.0, 8000.0)),
    ):
        for l2 in l2s[1:3] if quick else l2s:
            ease_grid.append({"input": input, "shift": shift, "l2": l2})
    out.append(
        Peer(
            "EASE",
            ease_grid,
            lambda p: EASE(l2=p["l2"], input=p["input"], shift=p["shift"]),
            "autorec.baselines.EASE; input binary, liked (>= 4) or rating - shift",
        )
    )
    out.append(
        Peer(
            "EDLAE",
            [
                {"input": input, "dropout": dropout, "l2": l2}
                for input, l2s in (
                    ("binary", (250.0, 500.0, 1000.0, 2000.0)),
                    ("rating", (1000.0, 2000.0, 4000.0, 8000.0)),
                )
                for dropout in ((0.25, 0.5) if quick else (0.1, 0.25, 0.33, 0.5, 0.67))
                for l2 in (l2s[1:3] if quick else l2s)
            ],
            lambda p: EDLAE(shift=1.0, **p),
            "Steck 2020, full rank, zero diagonal; input binary or rating - 1",
        )
    )
    out.append(
        Peer(
            "item kNN (cosine)",
            [
                {"neighbours": n, "shrink": s}
                for n in ((100,) if quick else (50, 100, 200, 400))
                for s in (0.0, 50.0)
            ],
            lambda p: ItemKNN(**p),
            "numpy, binarised input",
        )
    )
    out.append(
        Peer(
            "RP3beta",
            [
                {"alpha": a, "beta": b, "neighbours": n}
                for a in ((1.0,) if quick else (0.5, 0.8, 1.0))
                for b in ((0.3,) if quick else (0.1, 0.3, 0.5))
                for n in ((100,) if quick else (100, 300))
            ],
            lambda p: RP3beta(**p),
            "numpy, binarised input",
        )
    )
    try:
        import implicit  # noqa: F401
    except ImportError:
        out.append(Peer("iALS", [], lambda p: None, "skipped: pip install implicit"))
    else:
        out.append(
            Peer(
                "iALS",
                [
                    {"factors": f, "regularization": r, "alpha": a}
                    for f in ((32,) if quick else (64, 128))
                    for r in ((0.1,) if quick else (0.01, 0.1))
                    for a in ((1.0,) if quick else (1.0, 5.0))
                ],
                lambda p: IALS(seed=seed, iterations=3 if quick else 15, **p),
                "implicit.cpu.als, 15 iterations, one thread, binarised input",
            )
        )
    try:
        import cornac
    except ImportError:
        out.append(Peer("Mult-VAE", [], lambda p: None, "skipped: pip install cornac"))
    else:
        from _cornac import CornacRanker

        def vae(p: dict[str, Any]) -> Any:
            model = cornac.models.VAECF(
                k=p["k"],
                autoencoder_structure=[600],
                likelihood="mult",
                n_epochs=5 if quick else 100,
                beta=p["beta"],
                seed=seed,
                verbose=False,
            )
            return CornacRanker(model, binary=True)

        out.append(
            Peer(
                "Mult-VAE (Cornac VAECF)",
                [{"k": k, "beta": b} for k in ((50,) if quick else (200,)) for b in (0.2, 1.0)],
                vae,
                "cornac.models.VAECF, 600 hidden units, multinomial likelihood, 100 epochs",
            )
        )
    return out
