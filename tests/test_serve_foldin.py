"""The fold-in's predictions in float32 (what serving a fold-in costs most): the same
ridge solution as in float64, one rounding apart, from one kept float32 copy."""

from __future__ import annotations

import numpy as np

from autorec import _foldin


def test_float32_predictions_are_the_float64_ones_rounded():
    rng = np.random.default_rng(0)
    codes = rng.random((300, 41))
    items = np.sort(rng.choice(300, 25, replace=False))
    ratings = rng.integers(1, 6, 25).astype(np.float64)
    wide = _foldin.fold_in(codes, items, ratings, 3.0, prior=3.5)
    single = _foldin.fold_in_item_model(codes, items, ratings, 3.0, prior=3.5)
    assert single.dtype == np.float32 and single.shape == (300,)
    np.testing.assert_allclose(single, wide, rtol=0, atol=1e-5)
    assert np.abs(single - wide).max() > 0  # computed in float32, not cast at the end


def test_the_float32_copy_is_made_once_per_codes():
    codes = np.random.default_rng(1).random((50, 9))
    first = _foldin._float32(codes)
    assert _foldin._float32(codes) is first
    assert first.dtype == np.float32 and np.array_equal(first, codes.astype(np.float32))
    other = codes.copy()
    assert _foldin._float32(other) is not first
