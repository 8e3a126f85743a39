"""check_ratings / check_k: each bad input gives a fitting exception naming the bad value."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from autorec._validation import check_k, check_ratings


def frame(**columns) -> pd.DataFrame:
    base = {"user_id": [1, 1, 2, 3], "item_id": [10, 20, 10, 30], "rating": [4.0, 3.0, 5.0, 1.0]}
    base.update(columns)
    return pd.DataFrame(base)


def test_valid_frame_is_returned_as_a_new_equal_frame():
    df = frame(timestamp=[1, 2, 3, 4])
    out = check_ratings(df, rating_scale=(1, 5))
    pd.testing.assert_frame_equal(out, df)
    assert out is not df
    out.loc[0, "rating"] = 99.0
    assert df.loc[0, "rating"] == 4.0  # the input is untouched


def test_not_a_dataframe():
    with pytest.raises(TypeError, match=r"DataFrame.*got ndarray"):
        check_ratings(np.zeros((3, 3)))


def test_missing_column_names_missing_and_present_columns():
    df = frame().rename(columns={"item_id": "movie"})
    with pytest.raises(ValueError, match=r"missing column\(s\) \['item_id'\].*'movie'"):
        check_ratings(df)


def test_rating_column_optional_when_not_required():
    df = frame().drop(columns="rating")
    assert list(check_ratings(df, require_rating=False).columns) == ["user_id", "item_id"]
    with pytest.raises(ValueError, match=r"\['rating'\]"):
        check_ratings(df)


def test_empty_frame():
    with pytest.raises(ValueError, match="empty"):
        check_ratings(frame().iloc[:0])


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_or_infinite_rating_named_with_row(bad):
    df = frame(rating=[4.0, 3.0, bad, 1.0])
    with pytest.raises(ValueError, match=rf"first {bad!r} at row 2"):
        check_ratings(df)


def test_non_numeric_rating_named():
    df = frame(rating=[4, "five", 3, 1])
    with pytest.raises(ValueError, match=r"non-numeric.*'five' at row 1"):
        check_ratings(df)


def test_numeric_strings_are_converted():
    out = check_ratings(frame(rating=["4", "3.5", "5", "1"]))
    assert out["rating"].tolist() == [4.0, 3.5, 5.0, 1.0]


def test_rating_outside_scale_named():
    df = frame(rating=[4.0, 3.0, 6.0, 0.5])
    with pytest.raises(
        ValueError,
        match=r"2 value\(s\) outside the rating scale \[1.0, 5.0\], "
        r"first 6.0 at row 2",
    ):
        check_ratings(df, rating_scale=(1, 5))


@pytest.mark.parametrize("scale", [(5, 1), (1,), "15", (1, np.nan)])
def test_invalid_rating_scale(scale):
    with pytest.raises(ValueError, match="rating_scale"):
        check_ratings(frame(), rating_scale=scale)


def test_nan_id_named_with_row():
    df = frame(user_id=[1.0, np.nan, 2.0, 3.0])
    with pytest.raises(ValueError, match=r"\['user_id'\] has 1 missing value.*row 1"):
        check_ratings(df)


def test_none_string_id():
    df = frame(item_id=["a", "b", None, "d"])
    with pytest.raises(ValueError, match=r"\['item_id'\].*missing.*row 2"):
        check_ratings(df)


def test_integral_float_ids_become_int64_and_fractional_ones_are_rejected():
    assert check_ratings(frame(user_id=[1.0, 1.0, 2.0, 3.0]))["user_id"].dtype == np.int64
    with pytest.raises(ValueError, match=r"non-integral float id 1.5 at row 1"):
        check_ratings(frame(user_id=[1.0, 1.5, 2.0, 3.0]))


def test_mixed_type_ids_rejected():
    with pytest.raises(ValueError, match=r"mixed.*'x' at row 1"):
        check_ratings(frame(user_id=[1, "x", 2, 3]))


def test_string_ids_and_huge_int_ids_accepted():
    df = frame(user_id=["ann", "ann", "bob", "cy"], item_id=[10**12, 10**12 - 1, 10**12, 5])
    out = check_ratings(df)
    assert out["item_id"].tolist() == [10**12, 10**12 - 1, 10**12, 5]
    assert out["user_id"].tolist() == ["ann", "ann", "bob", "cy"]


def test_duplicates_error_names_pair_count_and_flag():
    df = frame(user_id=[1, 1, 1, 2], item_id=[10, 20, 10, 10])
    with pytest.raises(ValueError, match=r"1 duplicate .*\(1, 10\) at row 0.*duplicates='last'"):
        check_ratings(df)


def test_duplicates_last_keeps_last():
    df = frame(user_id=[1, 1, 1, 2], item_id=[10, 20, 10, 10], rating=[1.0, 2.0, 3.0, 4.0])
    out = check_ratings(df, duplicates="last")
    assert out.index.tolist() == [1, 2, 3]
    assert out["rating"].tolist() == [2.0, 3.0, 4.0]


def test_bad_duplicates_policy():
    with pytest.raises(
        ValueError,
        match=r"duplicates must be one of \['error', 'last'\], "
        r"got 'first'",
    ):
        check_ratings(frame(), duplicates="first")


def test_row_label_shown_when_index_differs():
    df = frame(rating=[4.0, np.nan, 5.0, 1.0])
    df.index = [7, 8, 9, 10]
    with pytest.raises(ValueError, match=r"row 1 \(index label 8\)"):
        check_ratings(df)


def test_single_user_and_single_item_are_valid():
    df = pd.DataFrame({"user_id": [5], "item_id": [7], "rating": [3.0]})
    assert len(check_ratings(df)) == 1


def test_name_used_in_messages():
    with pytest.raises(ValueError, match=r"^test_ratings is empty"):
        check_ratings(frame().iloc[:0], name="test_ratings")


@pytest.mark.parametrize("k", [1, 5, np.int64(3), np.uint8(2)])
def test_check_k_accepts_integers(k):
    assert check_k(k) == int(k)
    assert type(check_k(k)) is int


@pytest.mark.parametrize("k", [2.0, 1.5, "3", None, True, np.float32(2)])
def test_check_k_rejects_non_integers(k):
    shown = re.escape(repr(k.item() if isinstance(k, np.generic) else k))
    with pytest.raises(TypeError, match=rf"k must be an integer >= 1, got {shown} of type"):
        check_k(k)


@pytest.mark.parametrize("k", [0, -1, np.int64(-5)])
def test_check_k_rejects_small(k):
    with pytest.raises(ValueError, match=rf"top_n must be an integer >= 1, got {int(k)}"):
        check_k(k, name="top_n")
