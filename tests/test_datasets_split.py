"""train_test_split: nothing lost or duplicated, the per-user count rule, determinism."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autorec.datasets import train_test_split


@st.composite
def ratings_frames(draw):
    n_users = draw(st.integers(1, 8))
    n_items = draw(st.integers(1, 12))
    cells = draw(
        st.sets(st.tuples(st.integers(0, n_users - 1), st.integers(0, n_items - 1)), min_size=1)
    )
    cells = sorted(cells)
    draw(st.randoms()).shuffle(cells)
    string_ids = draw(st.booleans())
    users = [f"u{u}" if string_ids else u * 10**11 for u, _ in cells]
    frame = pd.DataFrame(
        {
            "user_id": users,
            "item_id": [i for _, i in cells],
            "rating": draw(st.lists(st.integers(1, 5), min_size=len(cells), max_size=len(cells))),
        }
    )
    if draw(st.booleans()):  # a non-default index must survive too
        frame.index = np.arange(len(frame))[::-1] * 3 + 7
    return frame


@settings(max_examples=150, deadline=None)
@given(
    ratings_frames(),
    st.floats(0.01, 0.99),
    st.sampled_from(["user", None]),
    st.integers(0, 2**32),
)
def test_split_loses_and_duplicates_nothing_and_follows_count_rule(df, test_size, by, seed):
    train, test = train_test_split(df, test_size, by=by, random_state=seed)
    # Disjoint, complete, rows unchanged.
    assert set(train.index).isdisjoint(test.index)
    assert len(train) + len(test) == len(df)
    pd.testing.assert_frame_equal(pd.concat([train, test]).loc[df.index], df)
    assert len(train) >= 1
    if by == "user":
        n_u = df.groupby("user_id").size()
        expected = np.minimum(np.round(test_size * n_u), n_u - 1).astype(int)
        got = test.groupby("user_id").size().reindex(n_u.index, fill_value=0)
        pd.testing.assert_series_equal(got, expected, check_names=False)
        assert set(train["user_id"]) == set(df["user_id"])  # every user keeps a train rating
    else:
        assert len(test) == min(int(np.round(test_size * len(df))), len(df) - 1)
    # Deterministic for a given random_state.
    train2, test2 = train_test_split(df, test_size, by=by, random_state=seed)
    assert train2.index.equals(train.index) and test2.index.equals(test.index)


def test_rounding_is_half_to_even_per_user():
    # 2 ratings * 0.25 = 0.5 -> 0; 6 * 0.25 = 1.5 -> 2; 10 * 0.25 = 2.5 -> 2; 14 * 0.25 = 3.5 -> 4
    sizes = {1: 2, 2: 6, 3: 10, 4: 14, 5: 1}
    df = pd.DataFrame(
        [(u, i, 3.0) for u, n in sizes.items() for i in range(n)],
        columns=["user_id", "item_id", "rating"],
    )
    _, test = train_test_split(df, random_state=1)
    assert test.groupby("user_id").size().reindex(list(sizes), fill_value=0).tolist() == [
        0,
        2,
        2,
        4,
        0,
    ]


def test_single_rating_users_keep_it_in_train_even_for_large_test_size():
    df = pd.DataFrame({"user_id": [1, 2, 2, 3], "item_id": [1, 1, 2, 3], "rating": [1, 2, 3, 4]})
    train, test = train_test_split(df, test_size=0.99, random_state=0)
    assert sorted(train["user_id"]) == [1, 2, 3]
    assert test["user_id"].tolist() == [2]


def test_different_seeds_give_different_splits_and_generator_is_accepted():
    rng = np.random.default_rng(0)
    df = pd.DataFrame(
        {
            "user_id": np.repeat(np.arange(50), 20),
            "item_id": np.tile(np.arange(20), 50),
            "rating": rng.integers(1, 6, 1000),
        }
    )
    _, a = train_test_split(df, random_state=0)
    _, b = train_test_split(df, random_state=1)
    _, c = train_test_split(df, random_state=np.random.default_rng(0))
    assert not a.index.equals(b.index)
    assert len(a) == len(b) == len(c) == 250


def test_input_is_not_modified():
    df = pd.DataFrame({"user_id": [1, 1, 2], "item_id": [1, 2, 1], "rating": [1.0, 2.0, 3.0]})
    before = df.copy()
    train, _ = train_test_split(df, random_state=0)
    train.iloc[0, 2] = 99.0
    pd.testing.assert_frame_equal(df, before)


@pytest.mark.parametrize("test_size", [0, 0.0, 1, 1.0, 1.5, -0.1, float("nan"), 10])
def test_bad_test_size_value(test_size):
    df = pd.DataFrame({"user_id": [1], "item_id": [1], "rating": [1.0]})
    with pytest.raises(
        ValueError,
        match=rf"test_size must be a fraction strictly between 0 and "
        rf"1, got {test_size!r}",
    ):
        train_test_split(df, test_size)


@pytest.mark.parametrize("test_size", ["0.2", True, None])
def test_bad_test_size_type(test_size):
    df = pd.DataFrame({"user_id": [1], "item_id": [1], "rating": [1.0]})
    with pytest.raises(TypeError, match="test_size must be a fraction"):
        train_test_split(df, test_size)


@pytest.mark.parametrize("by", ["item", "users", ""])
def test_bad_by(by):
    df = pd.DataFrame({"user_id": [1], "item_id": [1], "rating": [1.0]})
    with pytest.raises(ValueError, match=rf"by must be one of \['user', None\], got {by!r}"):
        train_test_split(df, by=by)


@pytest.mark.parametrize("seed", ["abc", 1.5, -1])
def test_bad_random_state(seed):
    df = pd.DataFrame({"user_id": [1], "item_id": [1], "rating": [1.0]})
    with pytest.raises((TypeError, ValueError), match="random_state"):
        train_test_split(df, random_state=seed)


def test_bad_frames():
    with pytest.raises(TypeError, match="DataFrame"):
        train_test_split([(1, 2, 3.0)])
    with pytest.raises(ValueError, match="empty"):
        train_test_split(pd.DataFrame({"user_id": [], "item_id": [], "rating": []}))
    with pytest.raises(ValueError, match=r"missing column\(s\) \['user_id'\]"):
        train_test_split(pd.DataFrame({"user": [1], "item_id": [1]}))
    dup = pd.DataFrame({"user_id": [1, 1], "item_id": [2, 2], "rating": [1.0, 2.0]})
    with pytest.raises(ValueError, match=r"duplicate.*\(1, 2\)"):
        train_test_split(dup)


def test_split_without_rating_column():
    df = pd.DataFrame({"user_id": [1, 1, 1, 1], "item_id": [1, 2, 3, 4]})
    train, test = train_test_split(df, random_state=0)
    assert (len(train), len(test)) == (3, 1)
