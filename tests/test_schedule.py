"""The learning-rate schedules (``lr_schedule``): one-cycle's rates, what "auto" resolves
to, which epochs are validated, the first layer's start, and persistence."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from autorec import AutoEncoderRecommender
from autorec._config import (
    AUTO_CYCLE_RATINGS,
    PRESETS,
    planned_epochs,
    resolve_auto,
    validate_params,
)
from autorec._network import AutoEncoderNet, predict_at, predict_cells
from autorec._sparse import SparseRows
from autorec._training import OneCycle
from autorec.datasets import make_ratings


def _optimizer() -> torch.optim.Optimizer:
    return torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)


def test_one_cycle_warms_up_then_decays_to_zero():
    cycle = OneCycle(_optimizer(), peak=5e-3, total=100)
    rates = [cycle.rate(step) for step in range(100)]
    assert rates[0] == pytest.approx(5e-3 / 25)
    assert max(rates) == pytest.approx(5e-3) and int(np.argmax(rates)) == 30
    assert all(a < b for a, b in itertools.pairwise(rates[:31]))  # warm-up
    assert all(a > b for a, b in itertools.pairwise(rates[30:]))  # decay
    assert rates[-1] < 5e-3 * 1e-3


def test_one_cycle_sets_the_rate_of_every_group_before_each_step():
    optimizer = _optimizer()
    optimizer.add_param_group({"params": [torch.zeros(1, requires_grad=True)], "lr": 7.0})
    cycle = OneCycle(optimizer, peak=1.0, total=10)
    for step in range(3):
        cycle.step()
        assert [g["lr"] for g in optimizer.param_groups] == [cycle.rate(step)] * 2


def test_one_cycle_validates_the_second_half_of_the_epochs():
    assert [e for e in range(1, 16) if OneCycle.validates(e, 15)] == list(range(8, 16))
    assert [e for e in range(1, 3) if OneCycle.validates(e, 2)] == [2]
    assert OneCycle.validates(1, 1)


def _resolved(**params) -> dict:
    est = AutoEncoderRecommender(**params)
    out = resolve_auto(validate_params(est), 6040, 3706, 750_121)
    return {key: out[key] for key in ("lr_schedule", "epochs", "learning_rate")}


def test_auto_is_one_cycle_with_its_epochs_and_rate():
    assert _resolved() == {"lr_schedule": "one-cycle", "epochs": 15, "learning_rate": 5e-3}
    assert _resolved(lr_schedule="plateau") == {
        "lr_schedule": "plateau",
        "epochs": 200,
        "learning_rate": 1e-3,
    }
    explicit = {"lr_schedule": "one-cycle", "epochs": 7, "learning_rate": 2e-3}
    assert _resolved(**explicit) == explicit
    assert planned_epochs(AutoEncoderRecommender(), 750_121) == 15
    assert planned_epochs(AutoEncoderRecommender(lr_schedule="plateau")) == 200
    assert planned_epochs(AutoEncoderRecommender(epochs=3)) == 3


def test_auto_is_plateau_below_the_cycle_threshold():
    # Small data: early stopping on the plateau schedule (more accurate there, and cheap).
    est = AutoEncoderRecommender()
    small = resolve_auto(validate_params(est), 1000, 3440, AUTO_CYCLE_RATINGS - 1)
    assert (small["lr_schedule"], small["epochs"], small["learning_rate"]) == ("plateau", 200, 1e-3)
    large = resolve_auto(validate_params(est), 1000, 3440, AUTO_CYCLE_RATINGS)
    assert large["lr_schedule"] == "one-cycle" and large["epochs"] == 15
    assert planned_epochs(est, AUTO_CYCLE_RATINGS - 1) == 200
    assert planned_epochs(est) == 200  # data not known: the most either may run
    assert planned_epochs(AutoEncoderRecommender(lr_schedule="one-cycle"), 10) == 15


@pytest.mark.parametrize("name", ["reference", "i-autorec", "i-autorec-1000"])
def test_presets_keep_the_plateau_recipe(name):
    model = AutoEncoderRecommender.from_preset(name)
    assert _resolved(**model.get_params())["lr_schedule"] == "plateau"
    # a constant rate: 1e-3, and 1.4e-3 for the 1000-unit member's batches of 128
    expected = 1.4e-3 if name == "i-autorec-1000" else 1e-3
    assert _resolved(**model.get_params())["learning_rate"] == expected
    assert PRESETS[name]["lr_schedule"] == "plateau"


@pytest.mark.parametrize(
    ("param", "value", "allowed"),
    [
        ("lr_schedule", "cosine", "'auto', 'plateau', 'one-cycle'"),
        ("epochs", "many", r"'auto' or an int in \[1, 1000000\]"),
        ("epochs", 0, r"\[1, 1000000\]"),
        ("learning_rate", "fast", r"'auto' or a float in \(0.0, 1e6\]"),
        ("learning_rate", 0.0, r"\(0.0, 1000000.0\]"),
    ],
)
def test_bad_schedule_values_name_the_parameter_and_what_is_allowed(param, value, allowed):
    with pytest.raises(ValueError, match=f"{param}.*{allowed}"):
        validate_params(AutoEncoderRecommender(**{param: value}))


@pytest.fixture(scope="module")
def ratings():
    return make_ratings(n_users=60, n_items=80, n_ratings=1500, random_state=0)


def test_one_cycle_fit_validates_only_the_second_half(ratings):
    model = AutoEncoderRecommender(
        hidden_layers=(8,), epochs=6, lr_schedule="one-cycle", random_state=0
    ).fit(ratings)
    val = model.history_["val_rmse"]
    assert len(val) == 6 and model.fit_params_["lr_schedule"] == "one-cycle"
    assert all(math.isnan(v) for v in val[:3]) and all(math.isfinite(v) for v in val[3:])
    assert model.best_epoch_ == 0 or model.best_epoch_ >= 4
    plateau = AutoEncoderRecommender(
        hidden_layers=(8,), epochs=4, lr_schedule="plateau", patience=10, random_state=0
    ).fit(ratings)
    assert all(math.isfinite(v) for v in plateau.history_["val_rmse"])


def test_the_schedule_changes_the_fit_and_survives_save_and_load(ratings, tmp_path):
    one = AutoEncoderRecommender(
        hidden_layers=(8,), epochs=3, lr_schedule="one-cycle", random_state=0
    ).fit(ratings)
    flat = AutoEncoderRecommender(
        hidden_layers=(8,), epochs=3, lr_schedule="plateau", random_state=0
    ).fit(ratings)
    pairs = ratings.head(20)
    assert not np.allclose(one.predict(pairs), flat.predict(pairs))
    for model in (one, flat):
        loaded = AutoEncoderRecommender.load(model.save(tmp_path / "m.safetensors"))
        assert loaded.fit_params_["lr_schedule"] == model.fit_params_["lr_schedule"]
        assert loaded.get_params()["lr_schedule"] == model.fit_params_["lr_schedule"]
        np.testing.assert_array_equal(loaded.predict(pairs), model.predict(pairs))


def test_input_fan_in_starts_the_first_layer_at_glorot_scale():
    generator = torch.Generator().manual_seed(0)
    wide = AutoEncoderNet(6040, (500,), residual=True, generator=generator, input_fan_in=190)
    plain = AutoEncoderNet(6040, (500,), residual=True, generator=generator)
    bound = math.sqrt(6 / (190 + 500))
    for weights in (wide.input_weight, wide.implicit_weight):
        assert bound * 0.99 < float(weights.detach().abs().max()) <= bound
    assert float(plain.input_weight.detach().abs().max()) <= 1 / math.sqrt(6040)
    # the output side is not touched: same rule either way
    out_bound = 1 / math.sqrt(500)
    assert float(wide.output_weight.detach().abs().max()) <= out_bound


def test_predict_cells_agrees_with_predict_at_in_any_order():
    rng = np.random.default_rng(0)
    matrix = make_ratings(n_users=50, n_items=70, n_ratings=900, random_state=1)
    csr = sp.csr_matrix(
        (matrix["rating"].to_numpy(np.float32), (matrix["user_id"] - 1, matrix["item_id"] - 1))
    )
    net = AutoEncoderNet(csr.shape[1], (6,), residual=True, generator=torch.Generator()).eval()
    with torch.no_grad():
        net.output_weight.normal_(0, 0.3, generator=torch.Generator().manual_seed(2))
    rows = SparseRows(csr, torch.device("cpu"))
    coo = csr.tocoo()
    for index in (np.arange(coo.nnz), rng.permutation(coo.nnz)):
        r, c = coo.row[index].astype(np.int64), coo.col[index].astype(np.int64)
        np.testing.assert_allclose(
            predict_cells(net, rows, r, c), predict_at(net, rows, r, c), rtol=1e-5, atol=1e-5
        )
