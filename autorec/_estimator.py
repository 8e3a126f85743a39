"""`AutoEncoderRecommender`: the scikit-learn style estimator."""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import torch

from ._base import ParamsMixin
from ._config import PRESETS, validate_params
from ._estimator_state import STATE, restore
from ._explain import ExplainMixin
from ._fitting import HeldOutRowsMixin, learn
from ._foldin import fold_in_item_model
from ._hybrid import HybridRankingMixin, new_user_row
from ._network import decode_pairs, encode_rows, rating_block
from ._prepare import mean_fallback
from ._recommender import CompletionMixin, RecommenderMixin
from ._serialization import (
    dump_state,
    read_model,
    write_model,
)
from ._sparse import SparseRows
from ._validation import (
    check_bool,
    check_pairs,
    resolve_device,
    seed_from,
)
from .datasets import UtilityMatrix

__all__ = ["PRESETS", "AutoEncoderRecommender"]

FORMAT = "autorec.AutoEncoderRecommender"
#: What reads each model format (named when the wrong class is asked to load a file).
READERS = {
    FORMAT: "AutoEncoderRecommender.load",
    "autorec.BlendRecommender": "BlendRecommender.load",
}


class AutoEncoderRecommender(
    ExplainMixin,
    HybridRankingMixin,
    HeldOutRowsMixin,
    RecommenderMixin,
    CompletionMixin,
    ParamsMixin,
):
    """Autoencoder recommender for explicit ratings (AutoRec).

    Each row of the utility matrix (a user's ratings in ``kind="user"``, an item's
    ratings in ``kind="item"``; 0 means "not rated") is encoded through a stack of
    hidden layers and decoded back to a full row; the loss is the squared error on the
    *rated* entries only. The prediction for an unrated cell is the decoder's output
    there. The defaults are a residual I-AutoRec (sigmoid units over item rows, 500 on
    MovieLens-1M, learning what a user + item bias model leaves unexplained) trained
    with Adam, L2, early stopping on a validation slice, and width, denoising, batch
    size and patience chosen from the data's shape; the reference study's 200-100-200
    network is ``from_preset("reference")`` (numbers: the benchmarks page, "Defaults").

    Training never builds the dense users x items matrix: the first layer reads the
    sparse ratings directly and the last layer is evaluated at rated cells only, so one
    epoch costs time and memory in proportion to the number of ratings.

    Parameters
    ----------
    hidden_layers : sequence of int or "auto", default="auto"
        Widths of the hidden layers. ``(500,)`` with ``kind="item"`` is the I-AutoRec
        model of Sedhain et al. (2015); ``(200, 100, 200)`` the reference network.
        ``"auto"``: one layer, a unit per 6 columns within [10, 500] (500 on MovieLens-1M).
    activation : str, default="sigmoid"
        Activation after each hidden layer: one of ``"sigmoid"``, ``"relu"``, ``"selu"``,
        ``"silu"``, ``"elu"``, ``"tanh"``, ``"gelu"``, ``"leaky_relu"``, ``"identity"``.
        The output layer is always linear.
    kind : {"auto", "user", "item"}, default="auto"
        ``"user"`` encodes each user's row of ratings (U-AutoRec), ``"item"`` each item's
        column (I-AutoRec, usually more accurate on MovieLens). ``"auto"``: ``"item"``
        unless users outnumber items ten to one; ``fit_params_["kind"]`` says which.
    dropout : float, default=0.0
        Dropout probability after every hidden activation, in [0, 1).
    input_dropout : float or "auto", default="auto"
        Fraction of each row's observed ratings hidden from the input at every training
        step (denoising); the loss still covers all of them, so the network learns to
        predict ratings it cannot see. In [0, 1). ``"auto"``: 0.5 on user rows, else 0.
    epochs : int or "auto", default="auto"
        Passes over the training rows: the one-cycle schedule's length ("auto": 15), or
        the most early stopping allows under ``lr_schedule="plateau"`` ("auto": 200).
    batch_size : int or "auto", default="auto"
        Rows (users or items) per optimizer step. ``"auto"``: rows / 14 within [8, 256]
        (256 on MovieLens-1M; on sparser data up to 8 / density: 1,482 on ML-20M's shape).
    learning_rate : float or "auto", default="auto"
        Step size (a one-cycle schedule's peak). "auto": 5e-3 one-cycle, 1e-3 plateau.
    weight_decay : float, default=3e-4
        L2 penalty on the weight matrices (biases are never decayed). With
        ``optimizer="adamw"`` it is AdamW's decoupled decay.
    optimizer : {"adam", "adamw", "rmsprop", "sgd"}, default="adam"
        The torch optimizer.
    validation_fraction : float, default=0.05
        Fraction of each row's training ratings held out to pick the best epoch (early
        stopping). 0 disables early stopping: all ``epochs`` run and the last weights
        are kept. In [0, 1).
    patience : int or "auto", default="auto"
        Epochs without improvement of the validation RMSE before training stops.
        ``"auto"``: ``4 * sqrt(500,000 / number of ratings)`` rounded, between 4 and 10
        (4 on MovieLens-1M; more on small data, whose validation slice is noisier).
    lr_schedule : {"auto", "one-cycle", "plateau"}, default="auto"
        ``"one-cycle"``: a warm-up to ``learning_rate``, then a cosine decay to 0 over the
        epochs, the second half validated (early stopping still applies); ``"plateau"``
        (autorec 0.1's recipe, the presets'): a constant rate cut by ``lr_decay`` when the
        validation RMSE stalls. ``"auto"``: ``"one-cycle"`` from 500,000 training ratings
        on, ``"plateau"`` below (more accurate there; see the model page).
    lr_decay : float, default=0.3
        Plateau schedule: once the validation RMSE has not improved for two epochs, the
        rate is multiplied by this after every further epoch without improvement (like
        scikit-learn's ``"adaptive"``). 1.0 keeps it constant. In (0, 1].
    rating_scale : tuple of (float, float), optional
        The lowest and highest possible rating. Ratings outside it are an error and
        predictions are clipped to it. By default, the range seen in ``fit``.
    duplicates : {"error", "last"}, default="error"
        What to do with repeated (user, item) pairs in ``fit``: raise, or keep the last.
    ranking : {"hybrid", "rating", "exposure"}, default="hybrid"
        What ``recommend`` ranks unrated items by. ``"hybrid"``: how likely the user is
        to rate the item (an EASE exposure model of who rates what) combined with how
        much they would like it (the predicted rating), with the mix chosen on the
        validation slice (see ``autorec._hybrid`` and the "Evaluating
        recommendations" page). ``"rating"``: the predicted rating alone (the reference
        study's order; it favours obscure items). ``"exposure"``: the exposure model
        alone. ``predict`` always gives predicted ratings.
    residual : bool, default=True
        Learn the residual of a bias model ``mu + b_user + b_item`` (ridge, as
        :class:`~autorec.baselines.BiasBaseline`, fitted first): ratings centred by it
        and which columns were rated feed the first layer, each row's bias is recomputed
        from its inputs (a new user gets one too), and the output weights start at zero,
        so the untrained network *is* the bias model and L2 shrinks towards it.
    refine_l2 : float or "auto", default="auto"
        Ridge penalty of a last encoder step that corrects each row's code by regressing
        the row's residuals on the decoder's weights at its rated columns (as matrix
        factorisation solves a user's factors); trained through. 0: no step. ``"auto"``:
        1.0 on user rows with a code of at most 100 units (cheap there), else 0.
    device : str or torch.device, default="auto"
        ``"auto"`` uses CUDA when available, else the CPU.
    random_state : int, numpy Generator or None, default=None
        Seeds the weight initialization, the validation slice, batch order and dropout.
        The same integer gives identical predictions on the CPU.
    verbose : int, default=0
        0: silent (progress goes to the ``autorec`` logger at INFO); 1 or more: a tqdm
        progress bar over epochs showing the training and validation RMSE.

    Attributes
    ----------
    module_ : torch.nn.Module
        The trained network (an ``AutoEncoderNet``, in eval mode).
    user_map_, item_map_ : autorec.datasets.IdMap
        Raw ids to row / column index and back.
    n_users_, n_items_ : int
        Number of users and items seen in ``fit``.
    utility_ : scipy.sparse.csr_matrix
        The training ratings, users x items (the model's input at prediction time).
    history_ : dict
        Per-epoch ``train_rmse`` (running, during the epoch), ``val_rmse``, ``seconds``,
        ``val_reference`` (the untrained network's) and ``best_epoch``, the epoch kept
        (``best_epoch_``; 0: a residual network's untrained bias model validated best).
    rating_scale_, global_mean_, fit_seconds_ : tuple of float, float, float
        The range predictions are clipped to; the mean training rating; the wall time
        of the last ``fit``.
    user_mean_, item_mean_ : numpy.ndarray
        Mean training rating of each user and item (fallbacks for unknown ids).
    fit_params_ : dict
        The parameters ``fit`` used (validated). ``predict``, ``recommend`` and ``save``
        follow these, not parameters changed with ``set_params`` after the fit.
    exposure_items_, exposure_weights_ : numpy.ndarray or None
        The exposure model (EASE weights over the ``exposure_items_`` most rated items);
        None with ``ranking="rating"``.
    item_popularity_ : numpy.ndarray
        Number of training ratings of each item.
    ranking_weights_, ranking_validation_ : tuple of (float, float), dict, or None
        The hybrid ranking's (alpha, beta), chosen on the validation slice by NDCG@10
        (the validation NDCG@10 of every pair tried).
    exposure_params_ : dict or None
        What the exposure model is fed (``"input"``: ``"binary"``, ``"rating"`` minus
        ``"shift"``, or ``"both"`` models with ``e_binary * e_rating ** gamma``) and its
        penalties (ridge ``"l2"``, ``"l2_rating"``; dropout-style ``"diagonal"``,
        ``"diagonal_rating"``: times each item's own squared input), chosen with the weights.
    exposure_weights_rating_ : numpy.ndarray or None
        With ``"input": "both"``: the rating-fed exposure model's EASE weights.
    fold_in_l2_ : float or None
        Item models: the ridge penalty that folds in a new user (chosen at fit time so
        that a training user's fold-in ranks like their fitted row); None for user models.
    validation_predictions_ : numpy.ndarray or None
        With ``fit(..., validation=pairs)``: the kept model's predictions for those pairs,
        made (like the validation RMSE) from the other training ratings only; else None.

    Examples
    --------
    >>> from autorec import AutoEncoderRecommender
    >>> from autorec.datasets import make_ratings
    >>> ratings = make_ratings(n_users=60, n_items=40, n_ratings=900, random_state=0)
    >>> model = AutoEncoderRecommender(hidden_layers=(16,), epochs=5, random_state=0)
    >>> model = model.fit(ratings)
    >>> model.predict(ratings.head(3)).shape
    (3,)
    >>> model.recommend(ratings.user_id.iloc[0], k=3).columns.tolist()
    ['item_id', 'score', 'predicted_rating', 'n_ratings']
    """

    _fitted_attribute = "module_"
    #: The fitted state, listed once (what ``save`` writes and ``load`` restores).
    _STATE: ClassVar[dict[str, str]] = STATE

    def __init__(
        self,
        hidden_layers: Sequence[int] | str = "auto",
        activation: str = "sigmoid",
        kind: str = "auto",
        *,
        dropout: float = 0.0,
        input_dropout: float | str = "auto",
        epochs: int | str = "auto",
        batch_size: int | str = "auto",
        learning_rate: float | str = "auto",
        weight_decay: float = 3e-4,
        optimizer: str = "adam",
        validation_fraction: float = 0.05,
        patience: int | str = "auto",
        lr_decay: float = 0.3,
        lr_schedule: str = "auto",
        rating_scale: tuple[float, float] | None = None,
        duplicates: str = "error",
        ranking: str = "hybrid",
        residual: bool = True,
        refine_l2: float | str = "auto",
        device: str | torch.device = "auto",
        random_state: int | np.random.Generator | None = None,
        verbose: int = 0,
    ) -> None:
        self.hidden_layers = hidden_layers
        self.activation = activation
        self.kind = kind
        self.dropout = dropout
        self.input_dropout = input_dropout
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.optimizer = optimizer
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.lr_decay = lr_decay
        self.lr_schedule = lr_schedule
        self.rating_scale = rating_scale
        self.duplicates = duplicates
        self.ranking = ranking
        self.residual = residual
        self.refine_l2 = refine_l2
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    @classmethod
    def from_preset(cls, name: str, **overrides: Any) -> AutoEncoderRecommender:
        """An estimator with a named configuration, optionally overridden.

        Parameters
        ----------
        name : {"default", "reference", "i-autorec"}
            The class defaults; the reference notebook's user-based 200-100-200 network
            (autorec 0.1's defaults); Sedhain et al.'s I-AutoRec without the bias model.
        **overrides
            Any constructor parameter, e.g. ``random_state=0`` or ``epochs=20``.

        Examples
        --------
        >>> from autorec import AutoEncoderRecommender
        >>> AutoEncoderRecommender.from_preset("i-autorec", random_state=0).kind
        'item'
        """
        if name not in PRESETS:
            raise ValueError(f"unknown preset {name!r}; use one of {', '.join(PRESETS)}")
        return cls(**{**PRESETS[name], **overrides})

    # ------------------------------------------------------------------ checks
    def _validate_params(self) -> dict[str, Any]:
        """The parameters, checked, as JSON-friendly Python values (``fit_params_``)."""
        return validate_params(self)

    # --------------------------------------------------------------------- fit
    def fit(
        self,
        ratings: pd.DataFrame | UtilityMatrix,
        y: None = None,
        *,
        validation: pd.DataFrame | None = None,
    ) -> AutoEncoderRecommender:
        """Train on a ratings DataFrame.

        Parameters
        ----------
        ratings : pandas.DataFrame or autorec.datasets.UtilityMatrix
            Columns ``user_id``, ``item_id`` and ``rating``; one row per rating. Ids may
            be integers or strings. A :class:`~autorec.datasets.UtilityMatrix` (already
            validated) is accepted too.
        y : None
            Ignored; present for scikit-learn compatibility.
        validation : pandas.DataFrame, optional
            (``user_id``, ``item_id``) pairs of ``ratings`` to early-stop on instead of a
            slice carved out of each row (:class:`autorec.BlendRecommender` passes one
            slice to all its models). They are left out of training; the kept model's
            predictions for them land in ``validation_predictions_``.

        Returns
        -------
        self : AutoEncoderRecommender
            The fitted estimator. A ``fit`` that raises (bad input, divergence, an
            interrupt) leaves the estimator exactly as it was before the call.

        Raises
        ------
        TypeError, ValueError
            On bad parameters or bad ratings (the message names the bad value).
        autorec.exceptions.TrainingDivergedError
            If the loss becomes NaN, infinite or explodes before any epoch completed;
            after the first good epoch, divergence instead stops training with a
            warning and keeps the best weights.
        """
        started = time.perf_counter()
        params = self._validate_params()
        device = resolve_device(self.device)
        seed = seed_from(self.random_state)
        state = learn(ratings, params, device, seed, validation)
        state["fit_seconds_"] = time.perf_counter() - started
        # Nothing above touched self: a fit that raised left the old model intact.
        self.__dict__.update(state)
        self._reset_caches()
        return self

    # --------------------------------------------------------------- internals
    def _reset_caches(self) -> None:
        self._rows_cache: SparseRows | None = None
        self._codes_cache: torch.Tensor | None = None
        self._codes64: np.ndarray | None = None
        self._warned_unknown = False

    @property
    def _kind(self) -> str:
        return self.fit_params_["kind"]

    def _rows(self) -> SparseRows:
        if getattr(self, "_rows_cache", None) is None:
            matrix = self.utility_ if self._kind == "user" else self.utility_.T.tocsr()
            self._rows_cache = SparseRows(matrix, self.device_)
        return self._rows_cache

    def _codes(self) -> torch.Tensor:
        """Hidden code of every row of the training matrix (cached)."""
        if getattr(self, "_codes_cache", None) is None:
            self._codes_cache = encode_rows(self.module_, self._rows())
        return self._codes_cache

    def _clip(self, values: np.ndarray) -> np.ndarray:
        return np.clip(values, *self.rating_scale_, out=values)  # in place: ours to change

    # ----------------------------------------------------------------- predict
    def predict(
        self, pairs: pd.DataFrame | list[tuple[Any, Any]], *, clip: bool = True
    ) -> np.ndarray:
        """Predicted ratings for (user, item) pairs.

        Parameters
        ----------
        pairs : pandas.DataFrame or list of (user_id, item_id)
            Columns ``user_id`` and ``item_id`` (other columns are ignored), or a list
            of ``(user_id, item_id)`` pairs such as ``[(8, 913)]`` (or an n x 2 array).
        clip : bool, default=True
            Clip predictions to ``rating_scale_``. Pass ``False`` to rank by the raw
            outputs (clipping ties the top of the scale).

        Returns
        -------
        numpy.ndarray of float32, shape (len(pairs),)
            One prediction per row, never NaN. Pairs whose user or item was not seen in
            ``fit`` get a fallback: the item's mean rating for an unknown user, the
            user's mean rating for an unknown item, the global mean when both are
            unknown; the first such call of a fitted model warns (later ones log).

        Raises
        ------
        TypeError, ValueError
            If ``pairs`` is not a frame with ``user_id`` and ``item_id``, an id cannot be
            an id (NaN, None, 1.5), or ``clip`` is not a bool.
        """
        self._check_fitted()
        clip = check_bool(clip, "clip")
        pairs = check_pairs(pairs)
        users = self.user_map_.transform(pairs["user_id"].to_numpy())
        items = self.item_map_.transform(pairs["item_id"].to_numpy())
        out = np.empty(len(pairs), dtype=np.float32)
        known = (users >= 0) & (items >= 0)
        rows, cols = (users, items) if self._kind == "user" else (items, users)
        if known.any():
            out[known] = decode_pairs(self.module_, self._codes(), rows[known], cols[known])
        if not known.all():
            out[~known] = self._fallback(users, items)[~known]
        return self._clip(out) if clip else out

    def _fallback(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """Mean-rating predictions for pairs with an unknown user or item; the first call
        of a fitted model warns what happened, later ones log it."""
        values, message = mean_fallback(
            users, items, self.global_mean_, self.user_mean_, self.item_mean_
        )
        if self._warned_unknown:
            logging.getLogger(__name__).info(message)
        else:
            self._warned_unknown = True
            warnings.warn(message, UserWarning, stacklevel=3)
        return values

    def predict_matrix(self, users: Any = None, *, clip: bool = True) -> np.ndarray:
        """Predicted ratings of every item for the given users (default: all users).

        Returns
        -------
        numpy.ndarray of float32, shape (n_users, ``n_items_``)
            Rows follow ``users`` (or ``user_map_.ids``), columns follow
            ``item_map_.ids``. Observed cells hold the model's reconstruction, not the
            rating; see :meth:`complete`.
        """
        self._check_fitted()
        clip = check_bool(clip, "clip")
        out = self._rating_block(self._user_index(users))
        return self._clip(out) if clip else out

    def _rating_block(self, index: np.ndarray) -> np.ndarray:
        """Raw predicted ratings (len(index), n_items) of the users at ``index``."""
        return rating_block(self.module_, self._kind, self._codes(), index, self.device_)

    # ------------------------------------------- recommend hooks (HybridRankingMixin)
    @property
    def _ranking(self) -> str:
        return self.fit_params_["ranking"]

    def _user_ratings(self, index: np.ndarray) -> np.ndarray:
        return self._rating_block(index)

    def _fold_in_codes(self) -> tuple[np.ndarray, float]:
        """Item codes in float64 (cached) and a typical person's bias (its fold-in prior)."""
        if getattr(self, "_codes64", None) is None:
            self._codes32 = self._codes().cpu().numpy()  # the fold-in's predictions use these
            self._codes64 = self._codes32.astype(np.float64)
        return self._codes64, self.global_mean_ - float(self._codes64[:, -1].mean())

    def _fold_in_ratings(self, items: np.ndarray, ratings: np.ndarray) -> np.ndarray:
        """Raw predicted ratings of every item for a new user: a user model encodes the
        user's row; an item model solves a ridge on the item codes (``autorec._foldin``)."""
        if self._kind == "item":
            codes, prior = self._fold_in_codes()
            return fold_in_item_model(codes, items, ratings, self.fold_in_l2_, prior, self._codes32)
        with torch.no_grad():
            row = SparseRows(new_user_row(items, ratings, self.n_items_), self.device_)
            return self.module_.decode(encode_rows(self.module_, row)).cpu().numpy()[0]

    # --------------------------------------------------------------- save/load
    def save(self, path: str | Path) -> Path:
        """Save weights, configuration, id maps and training ratings in one file.

        The file is a `safetensors <https://huggingface.co/docs/safetensors>`_ file:
        loading it never executes code. It is written to a temporary file first and
        renamed into place, so an interrupted save never leaves a half-written model; a
        read-only file at ``path`` is refused, a symbolic link is written through.

        Returns
        -------
        pathlib.Path
            The path written.
        """
        self._check_fitted()
        tensors, header = dump_state(self, self._STATE)
        return write_model(path, FORMAT, header, tensors)

    @classmethod
    def load(
        cls, path: str | Path, *, device: str | torch.device = "cpu"
    ) -> AutoEncoderRecommender:
        """Load a model written by :meth:`save` (onto the CPU by default).

        Raises
        ------
        FileNotFoundError, PermissionError
            If ``path`` does not exist or cannot be read.
        autorec.exceptions.ModelFormatError
            If the file is not an autorec model (truncated, another format, a pickle),
            comes from a newer format version, or its contents do not fit together
            (every shape is checked against the header before anything is built).
        """
        version, header, tensors = read_model(path, FORMAT, READERS)
        if version == 1:
            from ._legacy import upgrade_v1

            header, tensors = upgrade_v1(Path(path), header, tensors, "")
        return cls._from_state(Path(path), header, tensors, device)

    @classmethod
    def _from_state(
        cls,
        path: Path,
        header: dict[str, Any],
        tensors: dict[str, torch.Tensor],
        device: str | torch.device,
    ) -> AutoEncoderRecommender:
        """A fitted model from a file (checked by ``autorec._estimator_state.restore``)."""
        return restore(cls, path, header, tensors, device)
