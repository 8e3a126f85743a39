"""The one vocabulary of checks (:mod:`autorec._validation`): each rule, and the inputs
that used to slip through (booleans and timedeltas as ratings, MultiIndex columns,
devices that cannot be used, seeds too large for torch, numpy scalars)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from autorec import AutoEncoderRecommender
from autorec._validation import (
    check_bool,
    check_option,
    check_pairs,
    check_random_state,
    check_rating_scale,
    check_ratings,
    check_scalar,
    resolve_device,
    seed_from,
)

FRAME = pd.DataFrame({"user_id": [1, 1, 2], "item_id": [1, 2, 1], "rating": [4.0, 3.0, 5.0]})


def test_check_scalar_bounds_types_and_numpy_scalars():
    assert check_scalar(np.float32(0.5), "x", low=0.0, high=1.0) == 0.5
    assert type(check_scalar(np.float32(0.5), "x")) is float  # JSON-friendly
    assert type(check_scalar(np.int64(3), "n", int, low=1)) is int
    with pytest.raises(TypeError, match=r"n must be an integer, got 2\.5"):
        check_scalar(2.5, "n", int)
    with pytest.raises(TypeError, match="True"):
        check_scalar(True, "x")
    with pytest.raises(ValueError, match=r"x must be in \(0.0, 1.0\], got 0.0"):
        check_scalar(0.0, "x", low=0.0, high=1.0, include_low=False)
    with pytest.raises(ValueError, match="finite"):
        check_scalar(float("nan"), "x", low=0.0)


def test_check_option_and_bool():
    assert check_option("user", "kind", ("user", "item")) == "user"
    with pytest.raises(ValueError, match="kind='x' is not supported; use one of 'user', 'item'"):
        check_option("x", "kind", ("user", "item"))
    assert check_bool(np.bool_(True), "clip") is True
    for bad in ("no", 0, None):
        with pytest.raises(TypeError, match="clip must be True or False"):
            check_bool(bad, "clip")


def test_one_rating_scale_rule_allows_equal_ends():
    assert check_rating_scale((4, 4)) == (4.0, 4.0)  # constant ratings must round-trip
    assert check_rating_scale(None) is None
    for bad in ((5, 1), (1, 2, 3), "15", (1, float("inf")), (True, 5)):
        with pytest.raises(ValueError, match="low <= high"):
            check_rating_scale(bad)


def test_random_state_range_and_seed():
    check_random_state(2**63 - 1)
    with pytest.raises(ValueError, match=r"2\*\*63 - 1"):
        check_random_state(2**64)
    with pytest.raises(ValueError, match="-1"):
        check_random_state(-1)
    with pytest.raises(TypeError, match="'seed'"):
        check_random_state("seed")
    assert seed_from(7) == 7
    assert seed_from(np.random.default_rng(0)) == seed_from(np.random.default_rng(0))


def test_random_state_too_large_for_torch_fails_before_training():
    with pytest.raises(ValueError, match="random_state"):
        AutoEncoderRecommender(epochs=1, random_state=2**64).fit(FRAME)


def test_devices_that_cannot_be_used_are_named():
    assert resolve_device("cpu") == torch.device("cpu")
    with pytest.raises(ValueError, match="'meta' is not supported"):
        resolve_device("meta")
    with pytest.raises(TypeError, match="3"):
        resolve_device(3)
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            resolve_device(torch.device("cuda"))
        with pytest.raises(ValueError, match="CUDA is not available"):
            resolve_device("cuda:0")


def test_boolean_and_timedelta_ratings_are_rejected():
    objects = FRAME.assign(rating=pd.Series([True, 4.0, 5.0], dtype=object))
    with pytest.raises(ValueError, match=r"boolean.*True at row 0"):
        check_ratings(objects)
    durations = FRAME.assign(rating=pd.to_timedelta([1, 2, 3], unit="s"))
    with pytest.raises(ValueError, match="timedelta"):
        check_ratings(durations)


def test_multiindex_columns_are_named():
    frame = FRAME.copy()
    frame.columns = pd.MultiIndex.from_tuples([("a", "user_id"), ("a", "item_id"), ("a", "r")])
    with pytest.raises(ValueError, match="MultiIndex"):
        check_ratings(frame)
    with pytest.raises(ValueError, match="MultiIndex"):
        check_pairs(frame)


@pytest.mark.parametrize("bad", [float("nan"), None, 1.5, True])
def test_pairs_ids_that_cannot_be_ids(bad):
    pairs = pd.DataFrame({"user_id": pd.Series([1, bad], dtype=object), "item_id": [1, 2]})
    with pytest.raises(ValueError, match="user_id"):
        check_pairs(pairs)


def test_numpy_scalar_parameters_fit_and_their_config_is_json(tmp_path):
    model = AutoEncoderRecommender(
        hidden_layers=(np.int64(4),),
        epochs=np.int64(2),
        learning_rate=np.float32(1e-2),
        random_state=np.int64(0),
    ).fit(FRAME)
    assert json.dumps(model.fit_params_)  # plain Python values
    assert model.fit_params_["random_state"] == 0
    loaded = AutoEncoderRecommender.load(model.save(tmp_path / "m.safetensors"))
    assert np.array_equal(loaded.predict(FRAME), model.predict(FRAME))
