"""What ``AutoEncoderRecommender.fit`` learns, as plain functions over prepared data.

:func:`learn` carves (or takes) the validation cells, builds and trains the network
(``autorec._training``), fits the ranking (``autorec._hybrid``) and returns every
fitted attribute in a dict, so the estimator can assign them all at once: a fit that
raises changes nothing.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch

from ._config import resolve_auto
from ._foldin import choose_l2
from ._hybrid import fit_ranking
from ._network import AutoEncoderNet, encode_rows, predict_at, user_rows
from ._pages import ordinary_pages
from ._prepare import (
    carve_validation,
    fit_biases,
    hold_out,
    matrix_from_rows,
    prepare,
    row_means,
    validation_codes,
)
from ._serialization import HALF_TABLE_ELEMENTS
from ._sparse import SparseRows
from ._training import TrainConfig, train

__all__ = ["HeldOutRowsMixin", "build_module", "fit_input_rows", "half_precision", "learn"]


@ordinary_pages()
def learn(
    ratings: pd.DataFrame,
    params: dict[str, Any],
    device: torch.device,
    seed: int,
    validation: pd.DataFrame | None,
) -> dict[str, Any]:
    """Everything ``fit`` learns from ``ratings`` (checked and prepared here), as a dict
    of fitted attributes. NumPy's arrays get ordinary pages meanwhile (``autorec._pages``)."""
    data = prepare(ratings, params["rating_scale"], params["duplicates"], keep_order=False)
    matrix = data.matrix
    values = matrix.data
    scale = params["rating_scale"] or (float(values.min()), float(values.max()))
    global_mean = float(values.mean())
    params = resolve_auto(params, *matrix.shape, matrix.nnz)
    kind = params["kind"]
    rows_matrix = data.rows(kind)
    if validation is None:
        fit_rows, val = carve_validation(rows_matrix, params["validation_fraction"], seed)
    else:
        users, items = validation_codes(data, validation)
        fit_rows, val = hold_out(rows_matrix, users, items, kind)
    n_columns = rows_matrix.shape[1]
    del rows_matrix  # an item model's transposed copy: rebuilt after training if needed
    data.release_rows()
    # An item model trains on its item rows alone: the users x items matrix is set aside
    # through training and rebuilt from those rows and the validation cells after it,
    # so training's peak holds the ratings once, not twice (160 MB less at 20 million).
    shape = matrix.shape
    set_aside = kind == "item" and data.owns_matrix
    if set_aside:
        del matrix, values
        data.utility.matrix = None  # type: ignore[assignment]
    config = TrainConfig(
        epochs=params["epochs"],
        batch_size=params["batch_size"],
        learning_rate=params["learning_rate"],
        weight_decay=params["weight_decay"],
        optimizer=params["optimizer"],
        input_dropout=params["input_dropout"],
        patience=params["patience"],
        lr_decay=params["lr_decay"],
        lr_schedule=params["lr_schedule"],
        rating_scale=scale,
        verbose=params["verbose"],
        description=f"fit {kind}-autoencoder",
    )
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(seed)
        generator = torch.Generator().manual_seed(seed)
        fan_in = fit_rows.nnz / max(fit_rows.shape[0], 1)
        if params["lr_schedule"] != "one-cycle":  # the plateau recipe: autorec 0.1's start
            fan_in = None
        module = build_module(params, n_columns, global_mean, generator, fan_in)
        if params["residual"]:
            set_bias_model(module, fit_rows)
        module = module.to(device)
        fit_sparse = SparseRows(fit_rows, device)
        del fit_rows  # training holds one copy of the ratings: fit_sparse's
        history = train(module, fit_sparse, val, config, generator)
    round_tables(module)
    fit_rows = fit_sparse.to_csr()
    if set_aside:
        data.utility.matrix = matrix_from_rows(fit_rows, val, shape)
    matrix = data.matrix
    predictions = None
    if validation is not None:
        predictions = (
            np.empty(0, dtype=np.float32)
            if val is None
            else predict_at(module.eval(), fit_sparse, val[0], val[1])
        )
    module.eval()
    fold_in_l2 = None
    if kind == "item":  # a new user's output weights: ridge on the item codes
        with torch.no_grad():
            codes = encode_rows(module, SparseRows(data.rows("item"), device)).cpu().numpy()
        fold_in_l2, _ = choose_l2(
            codes.astype(np.float64),
            module.output_weight.detach().cpu().numpy().astype(np.float64),
            module.output_bias.detach().cpu().numpy().astype(np.float64),
            data.matrix,
            np.random.default_rng(seed),
            single=codes,
        )
        del codes
    item_mean = row_means(data.rows("item"), global_mean)
    data.release_rows()  # the ranking's peak does without the transposed copy
    ranking = fit_ranking(
        params["ranking"],
        data.matrix,
        fit_rows if kind == "user" else fit_rows.T.tocsr(),
        None if val is None else ((val[0], val[1]) if kind == "user" else (val[1], val[0])),
        None if val is None else val[2],
        lambda users: fit_input_rows(module, kind, fit_sparse, users),
        scale,
        seed,
    )
    for key in EXPOSURE_WEIGHTS:
        if ranking.get(key) is not None:
            ranking[key] = half_precision(ranking[key])
    return {
        **ranking,
        "fold_in_l2_": fold_in_l2,
        "_fit_inputs": (module, kind, fit_sparse) if validation is not None else None,
        "fit_params_": params,
        "rating_scale_": scale,
        "global_mean_": global_mean,
        "user_mean_": row_means(matrix, global_mean),
        "item_mean_": item_mean,
        "module_": module.eval(),
        "user_map_": data.utility.user_map,
        "item_map_": data.utility.item_map,
        "n_users_": matrix.shape[0],
        "n_items_": matrix.shape[1],
        "utility_": matrix,
        "history_": history,
        "best_epoch_": history["best_epoch"],
        "device_": device,
        "validation_predictions_": predictions,
    }


#: The exposure models' items x items weights, kept at float16 precision (in float32):
#: the saved file then stores them as float16 (half the bytes, and the loaded model
#: equals the fitted one exactly); on MovieLens-1M's standard split the test NDCG@10
#: moves by less than 5e-5.
EXPOSURE_WEIGHTS = ("exposure_weights_", "exposure_weights_rating_")


def half_precision(weights: np.ndarray) -> np.ndarray:
    """``weights`` (float32) rounded to the nearest float16 values, unless one of them is
    beyond float16's range (then unchanged). Cast by torch, several times faster than
    NumPy's float16 cast (same rounding: to nearest, ties to even). A C-contiguous
    float32 array is rounded in place and returned (no second items x items array: a
    fresh one costs more to fault in than the cast itself on some virtual machines)."""
    tensor = torch.from_numpy(np.ascontiguousarray(weights, dtype=np.float32))
    return tensor.numpy() if _round_half_(tensor) else weights


def round_tables(module: torch.nn.Module) -> None:
    """Round ``module``'s weight tensors of at least ``HALF_TABLE_ELEMENTS`` elements (its
    tables: the default's on MovieLens-1M are three 6,040 x 500 matrices) to float16
    values in place (:func:`half_precision`'s rule), so that the saved file stores them as
    float16 and a loaded model equals the fitted one. Rounding the fitted default's tables
    changed neither the test RMSE (to 5 decimals) nor the top-10 accuracy at random states
    0-2 of MovieLens-1M's standard split, and NDCG@10 by at most 3e-5. Biases and small
    layers stay as trained."""
    with torch.no_grad():
        for weight in module.parameters():
            if weight.numel() >= HALF_TABLE_ELEMENTS and weight.dtype == torch.float32:
                _round_half_(weight)


def _round_half_(tensor: torch.Tensor) -> bool:
    """Round a float32 tensor to the nearest float16 values in place, unless one of them
    is beyond float16's range (then untouched); whether it was rounded."""
    half = tensor.to(torch.float16)
    if not bool(torch.isfinite(half).all()):
        return False
    tensor.copy_(half)
    return True


#: Ridge penalties of the bias model a ``residual=True`` network learns the residual of
#: (those of :class:`autorec.baselines.BiasBaseline`).
BIAS_REG = 5.0


def set_bias_model(module: AutoEncoderNet, rows: sp.csr_matrix) -> None:
    """Fit ``mu + b_row + b_col`` to the training rows (ALS, ``BIAS_REG``) and make it the
    module's starting point: inputs centred by ``mu + b_col``, output biases starting at
    it, each row's bias recomputed from its inputs with the same penalty."""
    coo = rows.tocoo()
    mu, _, b_col = fit_biases(coo.row, coo.col, coo.data, rows.shape, BIAS_REG, BIAS_REG)
    shift = torch.from_numpy((mu + b_col).astype(np.float32))
    with torch.no_grad():
        module.input_shift.copy_(shift)
        module.output_bias.copy_(shift)
        module.row_shrink.fill_(BIAS_REG)
        module.output_weight.zero_()  # the untrained network predicts the bias model


def fit_input_rows(
    module: AutoEncoderNet, kind: str, rows: SparseRows, users: np.ndarray
) -> np.ndarray:
    """Raw predicted ratings of every item for ``users`` (codes), with the network's
    inputs the training rows minus the validation cells (an honest validation)."""
    with torch.no_grad():
        codes = encode_rows(module, rows)
        index = torch.from_numpy(users).to(rows.device)
        return user_rows(module, kind, codes, index).cpu().numpy()


def build_module(
    params: dict[str, Any],
    n_columns: int,
    output_bias: float = 0.0,
    generator: torch.Generator | None = None,
    input_fan_in: float | None = None,
) -> AutoEncoderNet:
    return AutoEncoderNet(
        n_columns,
        params["hidden_layers"],
        params["activation"],
        params["dropout"],
        output_bias=output_bias,
        generator=generator,
        residual=params["residual"],
        refine_l2=params["refine_l2"],
        input_fan_in=input_fan_in,
    )


class HeldOutRowsMixin:
    """The hook :class:`autorec.BlendRecommender` chooses its ranking weights with."""

    _fit_inputs: tuple[AutoEncoderNet, str, SparseRows] | None

    def _held_out_rows(self, users: np.ndarray) -> np.ndarray:
        """Raw predicted ratings of every item for ``users`` (codes) from the inputs the
        last ``fit(..., validation=...)`` trained on. Raises once
        :meth:`_release_fit_inputs` ran."""
        if getattr(self, "_fit_inputs", None) is None:
            raise RuntimeError("the training inputs were released or never kept")
        module, kind, rows = self._fit_inputs  # type: ignore[misc]
        return fit_input_rows(module, kind, rows, users)

    def _release_fit_inputs(self) -> None:
        self._fit_inputs = None
