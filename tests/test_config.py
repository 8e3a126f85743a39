"""The "auto" parameters: what each resolves to for data of a given shape."""

from __future__ import annotations

import pytest

from autorec import AutoEncoderRecommender
from autorec._config import resolve_auto, validate_params
from autorec.datasets import make_ratings

AUTO = ("kind", "hidden_layers", "input_dropout", "batch_size", "patience", "refine_l2")


def _resolved(n_users: int, n_items: int, n_ratings: int, **params) -> dict:
    est = AutoEncoderRecommender(**params)
    out = resolve_auto(validate_params(est), n_users, n_items, n_ratings)
    return {key: out[key] for key in AUTO}


@pytest.mark.parametrize(
    ("shape", "expected"),
    [
        # MovieLens-1M's training ratings: item rows, 500 units, batch 256 (both capped)
        ((6040, 3706, 750_121), ("item", (500,), 0.0, 256, 4, 0.0)),
        # few users, many items: item rows over 300 user columns -> 50 units
        ((300, 3000, 40_000), ("item", (50,), 0.0, 214, 10, 0.0)),
        # users outnumber items 200:1 -> user rows over 100 item columns, denoised, and
        # their narrow codes refined by a ridge step
        ((20_000, 100, 150_000), ("user", (17,), 0.5, 256, 7, 1.0)),
        # user rows over 3,000 items: 500 units, too wide for the step; 0.75 % dense, so
        # the batch may exceed 256 rows: 8 ratings a column (1,067 rows, 38 steps an epoch)
        ((40_000, 3000, 900_000), ("user", (500,), 0.5, 1067, 4, 0.0)),
        # the ML-20M shape (0.54 % dense): 1,482 item rows a step, not 256
        ((138_493, 26_744, 20_000_263), ("item", (500,), 0.0, 1482, 4, 0.0)),
        # tiny: the width and batch size stay at their floors
        ((12, 20, 100), ("item", (10,), 0.0, 8, 10, 0.0)),
    ],
)
def test_auto_parameters_follow_the_data_shape(shape, expected):
    assert tuple(_resolved(*shape).values()) == expected


def test_explicit_values_are_never_replaced():
    explicit = {
        "kind": "user",
        "hidden_layers": (7, 3),
        "input_dropout": 0.1,
        "batch_size": 5,
        "patience": 2,
        "refine_l2": 0.5,
    }
    assert _resolved(6040, 3706, 750_121, **explicit) == explicit
    # an explicit kind still steers the "auto" width: item rows count users as columns
    assert _resolved(20_000, 100, 150_000, kind="item")["hidden_layers"] == (500,)
    # ... and an explicit width the "auto" step: user rows with a narrow code get it
    assert _resolved(6040, 3706, 750_121, kind="user", hidden_layers=(64,))["refine_l2"] == 1.0
    assert _resolved(20_000, 100, 150_000, hidden_layers=(200, 100, 200))["refine_l2"] == 0.0


def test_fit_records_the_resolved_values_and_keeps_the_auto_parameters():
    ratings = make_ratings(n_users=40, n_items=90, n_ratings=900, random_state=0)
    est = AutoEncoderRecommender(epochs=2, random_state=0).fit(ratings)
    assert all(est.get_params()[key] == "auto" for key in AUTO)
    assert {key: est.fit_params_[key] for key in AUTO} == _resolved(40, 90, est.utility_.nnz)
    assert est.module_.input_weight.shape == (40, *est.fit_params_["hidden_layers"])


@pytest.mark.parametrize(
    ("param", "value", "allowed"),
    [
        ("hidden_layers", "wide", "'auto' or a non-empty sequence"),
        ("input_dropout", "Auto", r"'auto' or a float in \[0.0, 0.99\]"),
        ("input_dropout", 1.0, r"\[0.0, 0.99\]"),
        ("refine_l2", "ridge", r"'auto' or a float in \[0.0, 1000000.0\]"),
        ("refine_l2", -1.0, r"\[0.0, 1000000.0\]"),
    ],
)
def test_bad_auto_like_values_name_the_parameter_and_what_is_allowed(param, value, allowed):
    with pytest.raises(ValueError, match=f"{param} must be.*{allowed}.*{value!r}"):
        validate_params(AutoEncoderRecommender(**{param: value}))
