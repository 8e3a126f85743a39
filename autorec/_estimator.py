"""`AutoEncoderRecommender`: the scikit-learn style estimator."""

from __future__ import annotations

import copy
import logging
import math
import numbers
import time
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch
from tqdm.auto import tqdm

from ._base import ParamsMixin, check_is_fitted
from ._network import ACTIVATIONS, AutoEncoderNet
from ._sparse import SparseRows
from ._validation import check_k, check_ratings
from .datasets import IdMap, train_test_split, utility_matrix
from .exceptions import TrainingDivergedError

__all__ = ["AutoEncoderRecommender"]

logger = logging.getLogger(__name__)

KINDS = ("user", "item")
OPTIMIZERS = ("adam", "adamw", "rmsprop", "sgd")
_CHUNK_ROWS = 2048
_PAD_ROWS = 16  # see predict_matrix
# Fused Adam/AdamW kernels exist on CPU and CUDA from torch 2.4 on; they are ~10x faster.
_FUSED_OK = tuple(int(v) for v in torch.__version__.split(".")[:2]) >= (2, 4)


def _resolve_device(device: str | torch.device) -> torch.device:
    if isinstance(device, torch.device):
        return device
    if not isinstance(device, str):
        raise TypeError(f"device must be 'auto', 'cpu', 'cuda' or a torch.device, got {device!r}")
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except RuntimeError as exc:
        raise ValueError(
            f"device={device!r} is not a device torch knows; use 'auto', 'cpu', 'cuda' or 'cuda:N'"
        ) from exc
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} was asked for but CUDA is not available; use 'auto'")
    return resolved


def _check_random_state(random_state: Any) -> None:
    """Raise unless ``random_state`` is None, an int >= 0, or a numpy Generator/RandomState."""
    if random_state is None or isinstance(
        random_state, np.random.Generator | np.random.RandomState
    ):
        return
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        if random_state < 0:
            raise ValueError(f"random_state must be >= 0, got {random_state!r}")
        return
    raise TypeError(
        "random_state must be None, a non-negative int, or a numpy Generator / RandomState, "
        f"got {random_state!r}"
    )


def _seed_from(random_state: Any) -> int:
    """An integer seed from None, an int, or a numpy Generator/RandomState."""
    _check_random_state(random_state)
    if random_state is None:
        return int(np.random.default_rng().integers(2**31 - 1))
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(2**31 - 1))
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(2**31 - 1))
    return int(random_state)


def _as_pairs(pairs: Any) -> pd.DataFrame:
    if not isinstance(pairs, pd.DataFrame):
        raise TypeError(
            "pairs must be a pandas DataFrame with columns 'user_id' and 'item_id', "
            f"got {type(pairs).__name__}"
        )
    missing = [c for c in ("user_id", "item_id") if c not in pairs.columns]
    if missing:
        raise ValueError(
            f"pairs is missing column(s) {missing}; it needs 'user_id' and 'item_id' "
            f"(it has {list(pairs.columns)})"
        )
    return pairs


#: Named configurations for :meth:`AutoEncoderRecommender.from_preset`.
PRESETS: dict[str, dict[str, Any]] = {
    # The reference notebook's network (user-based, 200-100-200, sigmoid) with
    # autorec's training recipe: the class defaults.
    "reference": {},
    # I-AutoRec (Sedhain et al., 2015): one hidden layer of 500 sigmoid units over item
    # rows, with L2 regularization. The most accurate configuration autorec ships.
    "i-autorec": {
        "hidden_layers": (500,),
        "kind": "item",
        "input_dropout": 0.0,
        "batch_size": 64,
        "learning_rate": 1e-3,
        "weight_decay": 3e-4,
        "patience": 4,
    },
}


class AutoEncoderRecommender(ParamsMixin):
    """Autoencoder recommender for explicit ratings (AutoRec).

    Each row of the utility matrix (a user's ratings in ``kind="user"``, an item's
    ratings in ``kind="item"``; 0 means "not rated") is encoded through a stack of
    hidden layers and decoded back to a full row; the loss is the squared error on the
    *rated* entries only. The prediction for an unrated cell is the decoder's output
    there. The defaults are the reference design (a user-based 200-100-200 sigmoid
    autoencoder) with a training recipe that makes it both accurate and fast: minibatches
    of users, Adam, denoising input dropout, early stopping on a validation slice carved
    out of the training ratings, and the best epoch's weights kept.

    Training never builds the dense users x items matrix: the first layer reads the
    sparse ratings directly and the last layer is evaluated at rated cells only, so one
    epoch costs time and memory in proportion to the number of ratings.

    Parameters
    ----------
    hidden_layers : sequence of int, default=(200, 100, 200)
        Widths of the hidden layers. ``(500,)`` with ``kind="item"`` is the I-AutoRec
        model of Sedhain et al. (2015).
    activation : str, default="sigmoid"
        Activation after each hidden layer: one of ``"sigmoid"``, ``"relu"``, ``"selu"``,
        ``"silu"``, ``"elu"``, ``"tanh"``, ``"gelu"``, ``"leaky_relu"``, ``"identity"``.
        The output layer is always linear.
    kind : {"user", "item"}, default="user"
        ``"user"`` encodes each user's row of ratings (U-AutoRec; new users can be folded
        in without retraining). ``"item"`` encodes each item's column of ratings
        (I-AutoRec), usually the more accurate model on MovieLens.
    dropout : float, default=0.0
        Dropout probability after every hidden activation, in [0, 1).
    input_dropout : float, default=0.25
        Fraction of each row's observed ratings hidden from the input at every training
        step (denoising); the loss still covers all of them, so the network learns to
        predict ratings it cannot see. In [0, 1).
    epochs : int, default=200
        Maximum number of passes over the training rows (early stopping usually ends
        training well before).
    batch_size : int, default=256
        Rows (users or items) per optimizer step.
    learning_rate : float, default=1e-3
        Step size of the optimizer.
    weight_decay : float, default=0.0
        L2 penalty on the weight matrices (biases are never decayed). With
        ``optimizer="adamw"`` it is AdamW's decoupled decay.
    optimizer : {"adam", "adamw", "rmsprop", "sgd"}, default="adam"
        The torch optimizer.
    validation_fraction : float, default=0.05
        Fraction of each row's training ratings held out to pick the best epoch (early
        stopping). 0 disables early stopping: all ``epochs`` run and the last weights
        are kept. In [0, 1).
    patience : int, default=6
        Epochs without improvement of the validation RMSE before training stops.
    lr_decay : float, default=0.3
        Once the validation RMSE has not improved for two epochs in a row, the learning
        rate is multiplied by this factor after every further epoch without improvement
        (like scikit-learn's ``learning_rate="adaptive"``). 1.0 keeps it constant. In
        (0, 1].
    rating_scale : tuple of (float, float), optional
        The lowest and highest possible rating. Ratings outside it are an error and
        predictions are clipped to it. By default, the range seen in ``fit``.
    duplicates : {"error", "last"}, default="error"
        What to do with repeated (user, item) pairs in ``fit``: raise, or keep the last.
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
    module_ : AutoEncoderNet
        The trained torch module (in eval mode).
    user_map_, item_map_ : autorec.datasets.IdMap
        Raw ids to row / column index and back.
    n_users_, n_items_ : int
        Number of users and items seen in ``fit``.
    utility_ : scipy.sparse.csr_matrix
        The training ratings, users x items (the model's input at prediction time).
    history_ : dict
        Per-epoch ``train_rmse`` (running, during the epoch), ``val_rmse``, ``seconds``,
        and ``best_epoch`` (1-based), the epoch whose weights were kept.
    best_epoch_ : int
        Same as ``history_["best_epoch"]``.
    rating_scale_ : tuple of float
        The range predictions are clipped to.
    global_mean_ : float
        Mean training rating.
    user_mean_, item_mean_ : numpy.ndarray
        Mean training rating of each user and item (fallbacks for unknown ids).
    fit_seconds_ : float
        Wall time of the last ``fit``.

    See Also
    --------
    autorec.baselines.BiasBaseline : The user + item bias baseline to compare against.

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
    ['item_id', 'score']
    """

    def __init__(
        self,
        hidden_layers: Sequence[int] = (200, 100, 200),
        activation: str = "sigmoid",
        kind: str = "user",
        *,
        dropout: float = 0.0,
        input_dropout: float = 0.25,
        epochs: int = 200,
        batch_size: int = 256,
        learning_rate: float = 1e-3,
        weight_decay: float = 0.0,
        optimizer: str = "adam",
        validation_fraction: float = 0.05,
        patience: int = 6,
        lr_decay: float = 0.3,
        rating_scale: tuple[float, float] | None = None,
        duplicates: str = "error",
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
        self.rating_scale = rating_scale
        self.duplicates = duplicates
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    @classmethod
    def from_preset(cls, name: str, **overrides: Any) -> AutoEncoderRecommender:
        """An estimator with a named configuration, optionally overridden.

        Parameters
        ----------
        name : {"reference", "i-autorec"}
            ``"reference"``: the class defaults (the reference notebook's user-based
            200-100-200 sigmoid network with autorec's training recipe).
            ``"i-autorec"``: the item-based model with 500 sigmoid units and L2
            regularization, the most accurate configuration (see the benchmarks page).
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
    def _validate_params(self) -> None:
        def number(name: str, lo: float, hi: float, *, integer: bool = False, lo_open=False):
            value = getattr(self, name)
            kinds = numbers.Integral if integer else numbers.Real
            if isinstance(value, bool) or not isinstance(value, kinds):
                what = "an integer" if integer else "a number"
                raise TypeError(f"{name} must be {what}, got {value!r}")
            if not math.isfinite(value) or value < lo or value > hi or (lo_open and value == lo):
                left = "(" if lo_open else "["
                raise ValueError(f"{name} must be in {left}{lo}, {hi}], got {value!r}")

        layers = self.hidden_layers
        if isinstance(layers, numbers.Integral) and not isinstance(layers, bool):
            raise TypeError(
                "hidden_layers must be a sequence of widths such as (200, 100, 200), "
                f"got {layers!r}"
                f"; for one layer write ({layers},)"
            )
        if (
            isinstance(layers, str | bytes)
            or not isinstance(layers, Sequence | np.ndarray)
            or len(layers) == 0
            or not all(
                isinstance(w, numbers.Integral) and not isinstance(w, bool) and w >= 1
                for w in layers
            )
        ):
            raise ValueError(
                "hidden_layers must be a non-empty sequence of positive integers such as "
                f"(200, 100, 200), got {layers!r}"
            )
        if self.activation not in ACTIVATIONS:
            raise ValueError(
                f"activation={self.activation!r} is not supported; use one of "
                f"{', '.join(sorted(ACTIVATIONS))}"
            )
        if self.kind not in KINDS:
            raise ValueError(f"kind={self.kind!r} is not supported; use 'user' or 'item'")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(
                f"optimizer={self.optimizer!r} is not supported; use one of {', '.join(OPTIMIZERS)}"
            )
        if self.duplicates not in ("error", "last"):
            raise ValueError(
                f"duplicates={self.duplicates!r} is not supported; use 'error' or 'last'"
            )
        number("dropout", 0.0, 0.99)
        number("input_dropout", 0.0, 0.99)
        number("epochs", 1, 10**6, integer=True)
        number("batch_size", 1, 10**9, integer=True)
        number("learning_rate", 0.0, 1e6, lo_open=True)
        number("weight_decay", 0.0, 1e6)
        number("validation_fraction", 0.0, 0.9)
        number("patience", 1, 10**6, integer=True)
        number("lr_decay", 0.0, 1.0, lo_open=True)
        number("verbose", 0, 10**3, integer=True)
        if self.rating_scale is not None:
            scale = self.rating_scale
            if (
                not isinstance(scale, Sequence)
                or len(scale) != 2
                or not all(isinstance(v, numbers.Real) and math.isfinite(v) for v in scale)
                or not scale[0] < scale[1]
            ):
                raise ValueError(
                    "rating_scale must be None or a pair (low, high) with low < high, "
                    f"got {scale!r}"
                )
        _resolve_device(self.device)
        _check_random_state(self.random_state)

    # --------------------------------------------------------------------- fit
    def fit(self, ratings: pd.DataFrame, y: None = None) -> AutoEncoderRecommender:
        """Train on a ratings DataFrame.

        Parameters
        ----------
        ratings : pandas.DataFrame
            Columns ``user_id``, ``item_id`` and ``rating``; one row per rating. Ids may
            be integers or strings.
        y : None
            Ignored; present for scikit-learn compatibility.

        Returns
        -------
        self : AutoEncoderRecommender
            The fitted estimator.

        Raises
        ------
        TypeError, ValueError
            On bad parameters or bad ratings (the message names the bad value).
        autorec.exceptions.TrainingDivergedError
            If the loss becomes NaN or infinite before any epoch completed; after the
            first good epoch, divergence instead stops training with a warning and keeps
            the best weights.
        """
        return self._fit(ratings)

    def _fit(
        self, ratings: pd.DataFrame, validation: pd.DataFrame | None = None
    ) -> AutoEncoderRecommender:
        """``fit``, optionally early-stopping on given ratings instead of a carved slice.

        ``validation`` (used by :class:`autorec.BlendRecommender`) holds ``user_id`` and
        ``item_id`` pairs of ``ratings``; those cells are left out of training and
        early stopping watches them. The best model's predictions on them (made, like
        the validation RMSE, from the remaining ratings only) are kept in
        ``_validation_prediction`` and the cells' ratings in ``_validation_target``,
        both in the order of ``validation``.
        """
        started = time.perf_counter()
        self._validate_params()
        frame = check_ratings(ratings, rating_scale=self.rating_scale, duplicates=self.duplicates)
        utility = utility_matrix(frame)
        matrix = sp.csr_matrix(utility.matrix, dtype=np.float32)
        device = _resolve_device(self.device)
        seed = _seed_from(self.random_state)

        values = matrix.data
        if self.rating_scale is None:
            scale = (float(values.min()), float(values.max()))
        else:
            scale = (float(self.rating_scale[0]), float(self.rating_scale[1]))
        self.rating_scale_ = scale
        self.global_mean_ = float(values.mean())
        self.user_mean_ = _row_means(matrix, self.global_mean_)
        self.item_mean_ = _row_means(matrix.T.tocsr(), self.global_mean_)

        rows_matrix = matrix if self.kind == "user" else matrix.T.tocsr()
        if validation is None:
            fit_rows, val = self._carve_validation(rows_matrix, seed)
        else:
            fit_rows, val = _hold_out(rows_matrix, utility, validation, self.kind)
        n_cols = rows_matrix.shape[1]
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            torch.manual_seed(seed)
            generator = torch.Generator().manual_seed(seed)
            module = AutoEncoderNet(
                n_cols,
                self.hidden_layers,
                self.activation,
                self.dropout,
                output_bias=self.global_mean_,
                generator=generator,
            ).to(device)
            fit_sparse = SparseRows(fit_rows, device)
            history = self._train(module, fit_sparse, val, device, generator)
        # Set on every fit, so a plain refit leaves no stale held-out predictions.
        self._validation_target: np.ndarray | None = None
        self._validation_prediction: np.ndarray | None = None
        if validation is not None:
            empty = np.empty(0, dtype=np.float32)
            self._validation_target = empty if val is None else val[2]
            self._validation_prediction = (
                empty if val is None else _predict_at(module.eval(), fit_sparse, val[0], val[1])
            )

        self.module_ = module.eval()
        self.user_map_ = utility.user_map
        self.item_map_ = utility.item_map
        self.n_users_, self.n_items_ = matrix.shape
        self.utility_ = matrix
        self.history_ = history
        self.best_epoch_ = history["best_epoch"]
        self.device_ = device
        self._reset_caches()
        self.fit_seconds_ = time.perf_counter() - started
        return self

    def _carve_validation(
        self, rows_matrix: sp.csr_matrix, seed: int
    ) -> tuple[sp.csr_matrix, tuple[np.ndarray, np.ndarray, np.ndarray] | None]:
        """Split each row's ratings into a fitting part and a validation slice."""
        if self.validation_fraction == 0:
            return rows_matrix, None
        coo = rows_matrix.tocoo()
        frame = pd.DataFrame({"user_id": coo.row, "item_id": coo.col, "rating": coo.data})
        fit_part, val_part = train_test_split(
            frame, test_size=self.validation_fraction, by="user", random_state=seed
        )
        fit_rows = sp.csr_matrix(
            (
                fit_part["rating"].to_numpy(np.float32),
                (fit_part["user_id"].to_numpy(), fit_part["item_id"].to_numpy()),
            ),
            shape=rows_matrix.shape,
        )
        if len(val_part) == 0:
            return rows_matrix, None
        val = (
            val_part["user_id"].to_numpy(np.int64),
            val_part["item_id"].to_numpy(np.int64),
            val_part["rating"].to_numpy(np.float32),
        )
        return fit_rows, val

    def _make_optimizer(self, module: AutoEncoderNet) -> torch.optim.Optimizer:
        groups = [
            {"params": module.weight_parameters(), "weight_decay": float(self.weight_decay)},
            {"params": module.bias_parameters(), "weight_decay": 0.0},
        ]
        lr = float(self.learning_rate)
        fast = {"fused": True} if _FUSED_OK else {"foreach": True}
        if self.optimizer == "adam":
            return torch.optim.Adam(groups, lr=lr, **fast)
        if self.optimizer == "adamw":
            return torch.optim.AdamW(groups, lr=lr, **fast)
        if self.optimizer == "rmsprop":
            return torch.optim.RMSprop(groups, lr=lr, foreach=True)
        return torch.optim.SGD(groups, lr=lr, momentum=0.9, foreach=True)

    def _train(
        self,
        module: AutoEncoderNet,
        rows: SparseRows,
        val: tuple[np.ndarray, np.ndarray, np.ndarray] | None,
        device: torch.device,
        generator: torch.Generator,
    ) -> dict[str, Any]:
        optimizer = self._make_optimizer(module)
        n_rows = rows.shape[0]
        batch = int(self.batch_size)
        keep = 1.0 - float(self.input_dropout)
        history: dict[str, Any] = {"train_rmse": [], "val_rmse": [], "seconds": []}
        best_score, best_epoch, best_state = math.inf, 0, None
        bar = tqdm(
            range(1, int(self.epochs) + 1),
            desc=f"fit {self.kind}-autoencoder",
            unit="epoch",
            disable=not self.verbose,
            leave=self.verbose > 1,
        )
        for epoch in bar:
            tick = time.perf_counter()
            module.train()
            order = torch.randperm(n_rows, generator=generator).to(device)
            total, count = 0.0, 0
            diverged = False
            for start in range(0, n_rows, batch):
                b = rows.batch(order[start : start + batch])
                if b.values.numel() == 0:
                    continue
                inputs = b.values
                if keep < 1.0:
                    mask = torch.rand(inputs.shape, generator=generator).to(device) < keep
                    inputs = inputs * mask / keep
                code = module.encode(b.columns, b.offsets, inputs)
                pred = module.decode_at(code, b.rows, b.columns)
                loss = torch.mean((pred - b.values) ** 2)
                if not torch.isfinite(loss):
                    diverged = True
                    break
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                total += loss.item() * b.values.numel()
                count += b.values.numel()
            train_rmse = math.sqrt(total / count) if count and not diverged else math.nan
            if val is not None and not diverged:
                module.eval()
                pred = _predict_at(module, rows, val[0], val[1])
                val_rmse = float(
                    np.sqrt(np.mean((np.clip(pred, *self.rating_scale_) - val[2]) ** 2))
                )
                diverged = not math.isfinite(val_rmse)
            else:
                val_rmse = math.nan
            seconds = time.perf_counter() - tick
            history["train_rmse"].append(train_rmse)
            history["val_rmse"].append(val_rmse)
            history["seconds"].append(seconds)
            if diverged:
                if best_state is None:
                    raise TrainingDivergedError(
                        f"training diverged in epoch {epoch}: the loss became NaN or infinite "
                        f"(learning_rate={self.learning_rate!r}); lower learning_rate"
                    )
                warnings.warn(
                    f"training diverged in epoch {epoch} (loss NaN or infinite, "
                    f"learning_rate={self.learning_rate!r}); stopped and kept the weights of "
                    f"epoch {best_epoch}",
                    RuntimeWarning,
                    stacklevel=3,
                )
                break
            score = val_rmse if val is not None else -epoch
            if score >= best_score and epoch - best_epoch >= 2:
                for group in optimizer.param_groups:
                    group["lr"] *= float(self.lr_decay)
            if score < best_score:
                best_score, best_epoch = score, epoch
                best_state = copy.deepcopy(module.state_dict())
            postfix = {"train_rmse": f"{train_rmse:.4f}"}
            if val is not None:
                postfix["val_rmse"] = f"{val_rmse:.4f}"
            bar.set_postfix(postfix)
            logger.info(
                "epoch %d: train RMSE %.4f, validation RMSE %.4f (%.2fs)",
                epoch,
                train_rmse,
                val_rmse,
                seconds,
            )
            if val is not None and epoch - best_epoch >= int(self.patience):
                logger.info("early stopping after epoch %d; best epoch %d", epoch, best_epoch)
                break
        bar.close()
        assert best_state is not None
        module.load_state_dict(best_state)
        history["best_epoch"] = best_epoch
        return history

    # --------------------------------------------------------------- internals
    def _reset_caches(self) -> None:
        self._rows_cache: SparseRows | None = None
        self._codes_cache: torch.Tensor | None = None

    def _rows(self) -> SparseRows:
        if getattr(self, "_rows_cache", None) is None:
            matrix = self.utility_ if self.kind == "user" else self.utility_.T.tocsr()
            self._rows_cache = SparseRows(matrix, self.device_)
        return self._rows_cache

    def _codes(self) -> torch.Tensor:
        """Hidden code of every row of the training matrix (cached)."""
        if getattr(self, "_codes_cache", None) is None:
            self._codes_cache = _encode_rows(self.module_, self._rows())
        return self._codes_cache

    def _clip(self, values: np.ndarray) -> np.ndarray:
        return np.clip(values, self.rating_scale_[0], self.rating_scale_[1])

    # ----------------------------------------------------------------- predict
    def predict(self, pairs: pd.DataFrame, *, clip: bool = True) -> np.ndarray:
        """Predicted ratings for (user, item) pairs.

        Parameters
        ----------
        pairs : pandas.DataFrame
            Columns ``user_id`` and ``item_id`` (other columns are ignored).
        clip : bool, default=True
            Clip predictions to ``rating_scale_``. Pass ``False`` to rank by the raw
            outputs (clipping ties the top of the scale).

        Returns
        -------
        numpy.ndarray of float32, shape (len(pairs),)
            One prediction per row, never NaN. Pairs whose user or item was not seen in
            ``fit`` get a fallback: the item's mean rating for an unknown user, the
            user's mean rating for an unknown item, the global mean when both are
            unknown; a warning counts them.
        """
        check_is_fitted(self, "module_")
        pairs = _as_pairs(pairs)
        users = self.user_map_.transform(pairs["user_id"].to_numpy())
        items = self.item_map_.transform(pairs["item_id"].to_numpy())
        out = np.empty(len(pairs), dtype=np.float32)
        known = (users >= 0) & (items >= 0)
        rows, cols = (users, items) if self.kind == "user" else (items, users)
        if known.any():
            codes = self._codes()
            out[known] = _decode_pairs(self.module_, codes, rows[known], cols[known])
        if not known.all():
            u_ok, i_ok = users >= 0, items >= 0
            fallback = np.full(len(pairs), self.global_mean_, dtype=np.float32)
            only_item = ~u_ok & i_ok
            only_user = u_ok & ~i_ok
            fallback[only_item] = self.item_mean_[items[only_item]]
            fallback[only_user] = self.user_mean_[users[only_user]]
            out[~known] = fallback[~known]
            warnings.warn(
                f"{int((~u_ok).sum())} pair(s) have a user and {int((~i_ok).sum())} pair(s) an "
                "item not seen in fit; they get the item mean, user mean or global mean",
                UserWarning,
                stacklevel=2,
            )
        return self._clip(out) if clip else out

    def predict_matrix(self, users: Any = None, *, clip: bool = True) -> np.ndarray:
        """Predicted ratings of every item for the given users (default: all users).

        Returns
        -------
        numpy.ndarray of float32, shape (n_users, ``n_items_``)
            Rows follow ``users`` (or ``user_map_.ids``), columns follow
            ``item_map_.ids``. Observed cells hold the model's reconstruction, not the
            rating; see :meth:`complete`.
        """
        check_is_fitted(self, "module_")
        index = self._user_index(users)
        out = np.empty((len(index), self.n_items_), dtype=np.float32)
        codes = self._codes()
        module = self.module_
        with torch.no_grad():
            for start in range(0, len(index), _CHUNK_ROWS):
                part = index[start : start + _CHUNK_ROWS]
                # BLAS picks another kernel for a product with few rows, which changes the
                # last bits: pad to a multiple of _PAD_ROWS (repeating the last user) so a
                # user's scores do not depend on which other users are asked with it.
                padded = np.pad(part, (0, -len(part) % _PAD_ROWS), mode="edge")
                chunk = torch.from_numpy(padded).to(self.device_)
                if self.kind == "user":
                    block = module.decode(codes[chunk])
                else:  # users are the output units: one row per user, as in user mode
                    block = torch.addmm(
                        module.output_bias[chunk].unsqueeze(1), module.output_weight[chunk], codes.T
                    )
                out[start : start + len(part)] = block[: len(part)].cpu().numpy()
        return self._clip(out) if clip else out

    def complete(self, users: Any = None) -> pd.DataFrame:
        """The completed utility matrix: observed ratings kept, empty cells predicted.

        Parameters
        ----------
        users : array-like of user ids, optional
            Which users (rows); all users by default.

        Returns
        -------
        pandas.DataFrame
            Index: user ids, columns: item ids, values: float32. Computed in chunks of
            users, so the memory needed is the result itself.
        """
        check_is_fitted(self, "module_")
        index = self._user_index(users)
        filled = self.predict_matrix(self.user_map_.inverse_transform(index))
        observed = self.utility_[index]
        rows, cols = observed.nonzero()
        filled[rows, cols] = np.asarray(observed[rows, cols]).ravel()
        return pd.DataFrame(
            filled,
            index=pd.Index(self.user_map_.inverse_transform(index), name="user_id"),
            columns=pd.Index(self.item_map_.ids, name="item_id"),
        )

    def _user_index(self, users: Any) -> np.ndarray:
        if users is None:
            return np.arange(self.n_users_, dtype=np.int64)
        ids = np.atleast_1d(np.asarray(users))
        index = self.user_map_.transform(ids)
        if (index < 0).any():
            bad = ids[index < 0]
            raise KeyError(
                f"user id(s) {bad[:5].tolist()} ({len(bad)} in all) were not in the training "
                "data; pass their ratings to recommend(..., user_ratings=...) to fold them in"
            )
        return index.astype(np.int64)

    # --------------------------------------------------------------- recommend
    def recommend(
        self,
        user_id: Any,
        k: int = 10,
        *,
        exclude_seen: bool = True,
        movies: pd.DataFrame | None = None,
        user_ratings: Mapping[Any, float] | pd.Series | pd.DataFrame | None = None,
    ) -> pd.DataFrame:
        """Top-``k`` items for a user (or for each of several users).

        Parameters
        ----------
        user_id : scalar or array-like
            A user id seen in ``fit``, or several. With ``user_ratings`` it may be any
            label (or None) for a new user.
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
            Series indexed by item id, or a frame with ``item_id`` and ``rating``). The
            user's row is encoded without retraining. Only with ``kind="user"``; items
            unknown to the model are ignored with a warning.

        Returns
        -------
        pandas.DataFrame
            For one user: ``k`` rows ranked by ``score`` (highest first), index ``rank``
            from 1, columns ``item_id``, ``score`` (the model's raw predicted rating) and
            ``title``, ``genres`` when ``movies`` is given. For an array of users: the same
            rows for each user stacked, with a leading ``user_id`` column; each user's
            rows equal the single call.

        Raises
        ------
        KeyError
            If a user id was not in the training data and no ``user_ratings`` was given.
        ValueError
            If ``k`` is not a positive integer, or fold-in is asked of an item model.
        """
        check_is_fitted(self, "module_")
        k = check_k(k)
        scores, seen, ids, single = self._recommend_scores(user_id, user_ratings)
        return _top_k(self.item_map_, scores, seen, ids, single, k, exclude_seen, movies)

    def _recommend_scores(
        self, user_id: Any, user_ratings: Any
    ) -> tuple[np.ndarray, list[np.ndarray], list[Any], bool]:
        """Raw scores of every item for the users of a ``recommend`` call.

        Returns (scores: users x items, seen item indices per user, user labels, whether a
        single user was asked for).
        """
        if user_ratings is not None:
            if not np.isscalar(user_id) and user_id is not None:
                raise ValueError("user_ratings folds in one user: pass a single user_id (or None)")
            scores, seen = self._fold_in_scores(user_ratings)
            return scores[None, :], [seen], [user_id], True
        single = np.ndim(user_id) == 0
        index = self._user_index([user_id] if single else user_id)
        ids = self.user_map_.inverse_transform(index)
        scores = self.predict_matrix(ids, clip=False)
        seen = [
            self.utility_.indices[self.utility_.indptr[u] : self.utility_.indptr[u + 1]]
            for u in index
        ]
        return scores, seen, list(ids), single

    def _fold_in_scores(self, user_ratings: Any) -> tuple[np.ndarray, np.ndarray]:
        if self.kind != "user":
            raise ValueError(
                "fold-in (user_ratings=...) needs kind='user': an item model has no input "
                "weights for a user it has not seen; refit with the new user's ratings"
            )
        if isinstance(user_ratings, pd.DataFrame):
            missing = [c for c in ("item_id", "rating") if c not in user_ratings.columns]
            if missing:
                raise ValueError(f"user_ratings frame is missing column(s) {missing}")
            items, values = user_ratings["item_id"].to_numpy(), user_ratings["rating"].to_numpy()
        elif isinstance(user_ratings, pd.Series):
            items, values = user_ratings.index.to_numpy(), user_ratings.to_numpy()
        elif isinstance(user_ratings, Mapping):
            items = np.asarray(list(user_ratings.keys()))
            values = np.asarray(list(user_ratings.values()))
        else:
            raise TypeError(
                "user_ratings must be a dict item_id -> rating, a Series indexed by item id, or "
                f"a DataFrame with item_id and rating, got {type(user_ratings).__name__}"
            )
        try:
            values = np.asarray(values, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"user_ratings values must be numbers, got {values[:5]!r}") from exc
        low, high = self.rating_scale_
        bad = ~np.isfinite(values) | (values < low) | (values > high)
        if bad.any():
            raise ValueError(
                f"user_ratings has rating {values[bad][0]!r} for item {items[bad][0]!r}; "
                f"ratings must lie in the rating scale [{low}, {high}]"
            )
        index = self.item_map_.transform(items)
        if (index < 0).any():
            warnings.warn(
                f"{int((index < 0).sum())} item(s) in user_ratings were not in the training "
                f"data and are ignored (e.g. {items[index < 0][:5].tolist()})",
                UserWarning,
                stacklevel=3,
            )
        keep = index >= 0
        row = sp.csr_matrix(
            (values[keep].astype(np.float32), (np.zeros(keep.sum(), dtype=np.int64), index[keep])),
            shape=(1, self.n_items_),
        )
        row.sum_duplicates()
        with torch.no_grad():
            code = _encode_rows(self.module_, SparseRows(row, self.device_))
            scores = self.module_.decode(code).cpu().numpy()[0]
        return scores, np.unique(index[keep])

    # --------------------------------------------------------------- save/load
    def save(self, path: str | Path) -> Path:
        """Save weights, configuration, id maps and training ratings in one file.

        The file is a `safetensors <https://huggingface.co/docs/safetensors>`_ file:
        loading it never executes code. It is written to a temporary file first and
        renamed into place, so an interrupted save never leaves a half-written model.

        Returns
        -------
        pathlib.Path
            The path written.
        """
        from ._serialization import save_model

        check_is_fitted(self, "module_")
        return save_model(self, path)

    @classmethod
    def load(
        cls, path: str | Path, *, device: str | torch.device = "cpu"
    ) -> AutoEncoderRecommender:
        """Load a model written by :meth:`save` (onto the CPU by default).

        Raises
        ------
        FileNotFoundError
            If ``path`` does not exist.
        autorec.exceptions.ModelFormatError
            If the file is not an autorec model (truncated, another format, a pickle),
            comes from a newer format version, or its configuration was tampered with.
        """
        from ._serialization import load_model

        return load_model(cls, path, device=device)


def _hold_out(
    rows_matrix: sp.csr_matrix, utility: Any, validation: pd.DataFrame, kind: str
) -> tuple[sp.csr_matrix, tuple[np.ndarray, np.ndarray, np.ndarray] | None]:
    """Remove the given (user_id, item_id) cells from ``rows_matrix``; return the rest
    and the removed cells as (row codes, column codes, ratings), in ``validation`` order."""
    users = utility.user_map.transform(validation["user_id"].to_numpy())
    items = utility.item_map.transform(validation["item_id"].to_numpy())
    if (users < 0).any() or (items < 0).any():
        raise ValueError("validation pairs must be pairs of the ratings being fitted")
    if len(users) == 0:
        return rows_matrix, None
    rows, cols = (users, items) if kind == "user" else (items, users)
    rows, cols = rows.astype(np.int64), cols.astype(np.int64)
    target = np.asarray(rows_matrix[rows, cols], dtype=np.float32).ravel()
    # Keep every stored cell not named (explicit zero ratings included).
    coo = rows_matrix.tocoo()
    n_cols = np.int64(rows_matrix.shape[1])
    keep = ~np.isin(coo.row.astype(np.int64) * n_cols + coo.col, rows * n_cols + cols)
    fit_rows = sp.csr_matrix(
        (coo.data[keep], (coo.row[keep], coo.col[keep])), shape=rows_matrix.shape
    )
    return fit_rows, (rows, cols, target)


def _row_means(matrix: sp.csr_matrix, default: float) -> np.ndarray:
    counts = np.diff(matrix.indptr)
    sums = np.asarray(matrix.sum(axis=1)).ravel()
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where(counts > 0, sums / np.maximum(counts, 1), default)
    return means.astype(np.float32)


def _encode_rows(module: AutoEncoderNet, rows: SparseRows) -> torch.Tensor:
    """Hidden codes of every row, computed in chunks."""
    codes = []
    with torch.no_grad():
        for start in range(0, rows.shape[0], _CHUNK_ROWS):
            index = torch.arange(start, min(start + _CHUNK_ROWS, rows.shape[0]), device=rows.device)
            b = rows.batch(index)
            codes.append(module.encode(b.columns, b.offsets, b.values))
    return torch.cat(codes) if codes else torch.empty(0, device=rows.device)


def _decode_pairs(
    module: AutoEncoderNet, codes: torch.Tensor, rows: np.ndarray, cols: np.ndarray
) -> np.ndarray:
    out = np.empty(len(rows), dtype=np.float32)
    step = 1 << 16
    device = codes.device
    with torch.no_grad():
        for start in range(0, len(rows), step):
            r = torch.from_numpy(np.ascontiguousarray(rows[start : start + step])).to(device)
            c = torch.from_numpy(np.ascontiguousarray(cols[start : start + step])).to(device)
            out[start : start + len(r)] = module.decode_at(codes, r, c).cpu().numpy()
    return out


def _predict_at(
    module: AutoEncoderNet, rows: SparseRows, row_index: np.ndarray, col_index: np.ndarray
) -> np.ndarray:
    return _decode_pairs(module, _encode_rows(module, rows), row_index, col_index)


def _top_k(
    item_map: IdMap,
    scores: np.ndarray,
    seen: list[np.ndarray],
    user_ids: list[Any],
    single: bool,
    k: int,
    exclude_seen: bool,
    movies: pd.DataFrame | None,
) -> pd.DataFrame:
    """Rank each row of ``scores`` and keep the top ``k`` items (see ``recommend``)."""
    frames = []
    for row, already, uid in zip(scores, seen, user_ids, strict=True):
        row = row.astype(np.float64, copy=True)
        if exclude_seen and len(already):
            row[already] = -np.inf
        n_candidates = int(np.isfinite(row).sum())
        top = min(k, n_candidates)
        # Highest score first; ties broken by column (item) order, so ranks are stable.
        order = np.lexsort((np.arange(len(row)), -row))[:top]
        frame = pd.DataFrame({"item_id": item_map.inverse_transform(order), "score": row[order]})
        frame.index = pd.RangeIndex(1, top + 1, name="rank")
        if not single:
            frame.insert(0, "user_id", uid)
        frames.append(frame)
    result = frames[0] if single else pd.concat(frames)
    if movies is not None:
        result = _join_movies(result, movies)
    return result


def _join_movies(result: pd.DataFrame, movies: pd.DataFrame) -> pd.DataFrame:
    if not isinstance(movies, pd.DataFrame) or "item_id" not in movies.columns:
        raise ValueError("movies must be a DataFrame with an 'item_id' column (and title, genres)")
    extra = [c for c in ("title", "genres") if c in movies.columns]
    meta = movies.drop_duplicates("item_id").set_index("item_id")[extra]
    joined = meta.reindex(result["item_id"].to_numpy())
    out = result.copy()
    for column in extra:
        out[column] = joined[column].to_numpy()
    return out
