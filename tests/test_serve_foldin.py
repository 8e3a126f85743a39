"""The fold-in's predictions in float32 (what serving a fold-in costs most): the same
ridge solution as in float64, one rounding apart, from the float32 codes the model
already keeps."""

from __future__ import annotations

import numpy as np

from autorec import AutoEncoderRecommender, _foldin
from autorec.datasets import make_ratings


def test_float32_predictions_are_the_float64_ones_rounded():
    rng = np.random.default_rng(0)
    codes = rng.random((300, 41))
    items = np.sort(rng.choice(300, 25, replace=False))
    ratings = rng.integers(1, 6, 25).astype(np.float64)
    wide = _foldin.fold_in(codes, items, ratings, 3.0, prior=3.5)
    single = _foldin.fold_in_item_model(codes, items, ratings, 3.0, 3.5, codes.astype(np.float32))
    assert single.dtype == np.float32 and single.shape == (300,)
    np.testing.assert_allclose(single, wide, rtol=0, atol=1e-5)
    assert np.abs(single - wide).max() > 0  # computed in float32, not cast at the end


def test_the_float32_codes_are_the_models_own_not_a_copy():
    ratings = make_ratings(60, 40, 900, random_state=2)
    model = AutoEncoderRecommender(epochs=2, random_state=0, verbose=0).fit(ratings)
    assert model._kind == "item"
    model.recommend(None, k=5, user_ratings={1: 5.0, 2: 3.0})
    first = model._codes32
    model.recommend(None, k=5, user_ratings={3: 4.0})
    assert model._codes32 is first and first.dtype == np.float32
    assert np.shares_memory(first, model._codes().numpy())  # no second copy of the codes
    np.testing.assert_array_equal(model._fold_in_codes()[0], first.astype(np.float64))
