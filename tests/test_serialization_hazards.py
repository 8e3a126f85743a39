"""What a careful user hits when saving and loading models (the project issue "What a
careful user hits"): degenerate data, every id type fit accepts, big id catalogues,
hostile headers that ask for huge allocations or hold NaN, NumPy scalar parameters,
file-system corner cases (read-only, symlinks, unreadable files, a full disk) and
parameters changed after fit.

Each test either failed on the code before the version 2 rewrite or pins a stated
requirement.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import safetensors
import torch
from model_files import named, read_file, reload, rewrite

import autorec._network as network
import autorec._serialization as serialization
from autorec import AutoEncoderRecommender, BlendRecommender, ModelFormatError
from autorec.datasets import make_ratings

TINY = {"hidden_layers": (8,), "epochs": 3, "learning_rate": 1e-2, "random_state": 0}

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def ratings() -> pd.DataFrame:
    return make_ratings(n_users=20, n_items=15, n_ratings=200, random_state=3)


@pytest.fixture(scope="module")
def saved(ratings, tmp_path_factory) -> Path:
    model = AutoEncoderRecommender(**TINY).fit(ratings)
    return model.save(tmp_path_factory.mktemp("model") / "model.safetensors")


@pytest.fixture(scope="module")
def saved_blend(ratings, tmp_path_factory) -> Path:
    small = {k: v for k, v in TINY.items() if k != "random_state"}
    parts = [
        AutoEncoderRecommender(kind="user", **small),
        AutoEncoderRecommender(kind="item", **small),
    ]
    blend = BlendRecommender(parts, random_state=0).fit(ratings)
    return blend.save(tmp_path_factory.mktemp("blend") / "blend.safetensors")


def _round_trip(model, path: Path):
    return reload(model, model.save(path))


# ------------------------------------------------------------- all-equal ratings
@pytest.mark.parametrize("kind", ["user", "item"])
def test_a_model_fitted_on_all_equal_ratings_saves_and_loads(ratings, tmp_path, kind):
    same = ratings.assign(rating=4.0)
    model = AutoEncoderRecommender(**TINY, kind=kind).fit(same)
    assert model.rating_scale_ == (4.0, 4.0)
    loaded = _round_trip(model, tmp_path / "equal.safetensors")
    assert loaded.rating_scale_ == (4.0, 4.0)
    assert np.array_equal(loaded.predict(same), model.predict(same))
    assert np.array_equal(loaded.predict(same), np.full(len(same), 4.0, dtype=np.float32))
    pd.testing.assert_frame_equal(loaded.recommend(1, k=3), model.recommend(1, k=3))


def test_a_blend_fitted_on_all_equal_ratings_saves_and_loads(ratings, tmp_path):
    same = ratings.assign(rating=4.0)
    small = {k: v for k, v in TINY.items() if k != "random_state"}
    parts = [
        AutoEncoderRecommender(kind="user", **small),
        AutoEncoderRecommender(kind="item", **small),
    ]
    blend = BlendRecommender(parts, random_state=0).fit(same)
    loaded = _round_trip(blend, tmp_path / "equal.safetensors")
    assert loaded.rating_scale_ == (4.0, 4.0)
    assert np.array_equal(loaded.predict(same), blend.predict(same))


# --------------------------------------------------------------------- id types
def _ids(kind: str, raw: pd.Series) -> Any:
    """The id column ``raw`` (ints 1..n) as the kind of column a user may pass."""
    values = raw.to_numpy()
    return {
        "int64": lambda: values.astype(np.int64),
        "uint64": lambda: values.astype(np.uint64),
        "int32": lambda: values.astype(np.int32),
        "object-int": lambda: pd.Series([int(v) for v in values], dtype=object),
        "object-bigint": lambda: pd.Series([int(v) * 10**20 for v in values], dtype=object),
        "str": lambda: pd.Series([f"id-{v}" for v in values], dtype=object),
        "string": lambda: pd.Series([f"id-{v}" for v in values], dtype="string"),
        "category": lambda: pd.Series([f"id-{v}" for v in values], dtype="category"),
        "bytes": lambda: pd.Series([b"id-%d" % v for v in values], dtype=object),
    }[kind]()


#: kind -> (the id a user looks up for raw id 1, the Python type of the loaded ids)
ID_KINDS = {
    "int64": (np.int64(1), np.int64),
    "uint64": (np.uint64(1), np.int64),  # fit stores unsigned ids as int64
    "int32": (np.int32(1), np.int64),
    "object-int": (1, int),
    "object-bigint": (10**20, int),
    "str": ("id-1", str),
    "string": ("id-1", str),
    "category": ("id-1", str),
    "bytes": (b"id-1", bytes),
}


@pytest.mark.filterwarnings("ignore:ranking='hybrid' found no held-out rating")
@pytest.mark.parametrize("kind", list(ID_KINDS))
@pytest.mark.parametrize("model_kind", ["user", "item"])
def test_ids_of_every_kind_fit_accepts_round_trip_with_their_type(
    ratings, tmp_path, kind, model_kind
):
    frame = ratings.assign(
        user_id=_ids(kind, ratings["user_id"]), item_id=_ids(kind, ratings["item_id"])
    )
    model = AutoEncoderRecommender(**TINY, kind=model_kind).fit(frame)
    loaded = _round_trip(model, tmp_path / "ids.safetensors")
    user, python_type = ID_KINDS[kind]
    for a, b in ((model.user_map_, loaded.user_map_), (model.item_map_, loaded.item_map_)):
        assert a.ids.dtype == b.ids.dtype
        assert a.ids.tolist() == b.ids.tolist()
        assert all(type(v) is python_type for v in b.ids)
    assert np.array_equal(loaded.predict(frame), model.predict(frame))
    top, expected = loaded.recommend(user, k=4), model.recommend(user, k=4)
    pd.testing.assert_frame_equal(top, expected)
    item_types = [type(v) for v in top["item_id"].to_numpy()]
    assert item_types == [type(v) for v in expected["item_id"].to_numpy()]


def test_uint64_ids_still_recommend_after_load(ratings, tmp_path):
    frame = ratings.assign(user_id=ratings["user_id"].astype(np.uint64))
    model = AutoEncoderRecommender(**TINY).fit(frame)
    loaded = _round_trip(model, tmp_path / "u.safetensors")
    user = np.uint64(frame["user_id"].iloc[0])
    pd.testing.assert_frame_equal(loaded.recommend(user, k=5), model.recommend(user, k=5))
    assert np.array_equal(loaded.predict(frame), model.predict(frame))


def test_object_int_ids_stay_python_ints(ratings, tmp_path):
    frame = ratings.assign(user_id=pd.Series([int(v) for v in ratings["user_id"]], dtype=object))
    model = AutoEncoderRecommender(**TINY).fit(frame)
    loaded = _round_trip(model, tmp_path / "o.safetensors")
    assert loaded.user_map_.ids.dtype == object
    assert all(type(v) is int for v in loaded.user_map_.ids)
    pd.testing.assert_frame_equal(loaded.recommend(1, k=5), model.recommend(1, k=5))


def test_python_ints_beyond_int64_round_trip(ratings, tmp_path):
    # fit accepts an object column of Python ints of any size; save must store them
    # (an int64 tensor cannot) rather than fail with "Overflow when unpacking long long".
    big = pd.Series([int(v) * 10**20 - 7 for v in ratings["user_id"]], dtype=object)
    frame = ratings.assign(user_id=big)
    model = AutoEncoderRecommender(**TINY).fit(frame)
    path = model.save(tmp_path / "big.safetensors")
    loaded = AutoEncoderRecommender.load(path)
    assert loaded.user_map_.ids.tolist() == model.user_map_.ids.tolist()
    assert all(type(v) is int for v in loaded.user_map_.ids)
    user = 10**20 - 7
    pd.testing.assert_frame_equal(loaded.recommend(user, k=5), model.recommend(user, k=5))
    _, header, _ = read_file(path)
    assert str(user) not in json.dumps(header)


@pytest.mark.parametrize(
    "digits",
    [b"12a", b" 12", b"1_2", b"", b"+-1", b"012", b"9" * 5000],
    ids=["letter", "space", "underscore", "empty", "signs", "leading-zero", "5000-digits"],
)
def test_tampered_big_int_ids(ratings, tmp_path, digits):
    big = pd.Series([int(v) * 10**20 for v in ratings["user_id"]], dtype=object)
    model = AutoEncoderRecommender(**TINY).fit(ratings.assign(user_id=big))
    path = model.save(tmp_path / "big.safetensors")
    _, header, tensors = read_file(path)
    entry = header["ids"]["user_map_"]
    assert entry["dtype"] != "int64"
    blob = tensors["user_map_.bytes"].numpy().tobytes()
    offsets = tensors["user_map_.offsets"].numpy()
    first = blob[offsets[0] : offsets[1]]
    bad = digits + blob[len(first) :]
    shift = len(digits) - len(first)
    new_offsets = offsets.copy()
    new_offsets[1:] += shift
    change = {
        "user_map_.bytes": torch.from_numpy(np.frombuffer(bad, dtype=np.uint8).copy()),
        "user_map_.offsets": torch.from_numpy(new_offsets),
    }
    path = rewrite(path, tmp_path / "bad.safetensors", tensors=change)
    with pytest.raises(ModelFormatError, match=named(path)):
        AutoEncoderRecommender.load(path)


@pytest.mark.parametrize(
    ("column", "error"),
    [
        (lambda s: s.astype(np.uint64) + np.uint64(2**63), "int64"),
        (lambda s: s % 2 == 0, "boolean"),
        (lambda s: pd.to_datetime(s, unit="D"), "integers or strings"),
        (lambda s: pd.Series([(v,) for v in s], dtype=object), "integers or all strings"),
        (lambda s: pd.Series([v if v % 2 else str(v) for v in s], dtype=object), "mixed"),
        (lambda s: pd.Series([b"x" if v % 2 else "y" for v in s], dtype=object), "mixed"),
    ],
    ids=["uint64-above-int64", "bool", "datetime", "tuple", "int-and-str", "bytes-and-str"],
)
def test_ids_that_cannot_be_stored_are_refused_at_fit(ratings, column, error):
    frame = ratings.assign(user_id=column(ratings["user_id"]).to_numpy())
    with pytest.raises((TypeError, ValueError), match=error):
        AutoEncoderRecommender(**TINY).fit(frame)


def test_many_long_string_ids_stay_out_of_the_header(tmp_path):
    frame = make_ratings(n_users=1500, n_items=10, n_ratings=4000, random_state=0)
    pad = "x" * 1000
    frame = frame.assign(user_id=[f"{pad}-user-{v}" for v in frame["user_id"]])
    model = AutoEncoderRecommender(**TINY, ranking="rating").fit(frame)
    assert sum(len(v) for v in model.user_map_.ids) > 1_000_000  # ~1.5 MB of id text
    path = model.save(tmp_path / "long.safetensors")
    metadata, _, tensors = read_file(path)
    assert len(metadata["header"]) < 20_000  # the ids are tensors, not JSON
    assert tensors["user_map_.bytes"].numel() > 1_000_000
    loaded = reload(model, path)
    assert loaded.user_map_.ids.tolist() == model.user_map_.ids.tolist()
    assert np.array_equal(loaded.predict(frame), model.predict(frame))


# ------------------------------------------------- hostile headers allocate nothing
def _forbid_building_networks(monkeypatch):
    def refuse(self, *args, **kwargs):
        raise AssertionError("the network was built before the file was checked")

    monkeypatch.setattr(network.AutoEncoderNet, "__init__", refuse)


@pytest.mark.parametrize(
    "layers", [[8, 200000, 200000], [200000], [8, 10**12], [10**6] * 50], ids=str
)
def test_a_header_asking_for_huge_layers_is_refused_before_building(
    saved, tmp_path, monkeypatch, layers
):
    def edit(header):
        header["state"]["fit_params_"]["hidden_layers"] = layers

    path = rewrite(saved, tmp_path / "huge.safetensors", edit=edit)
    _forbid_building_networks(monkeypatch)
    started = time.perf_counter()
    with pytest.raises(ModelFormatError, match=named(path)) as info:
        AutoEncoderRecommender.load(path)
    assert time.perf_counter() - started < 60.0  # only catches a huge allocation
    # a width past the largest allowed is an invalid configuration; the rest do not fit
    assert info.match("do not fit together|configuration is invalid")


def test_a_blend_header_asking_for_huge_layers_is_refused_before_building(
    saved_blend, tmp_path, monkeypatch
):
    def edit(header):
        header["estimators"][1]["state"]["fit_params_"]["hidden_layers"] = [8, 200000, 200000]

    path = rewrite(saved_blend, tmp_path / "huge.safetensors", edit=edit)
    real_init = network.AutoEncoderNet.__init__
    built: list[tuple[int, ...]] = []

    def record(self, n_columns, hidden_layers, *args, **kwargs):
        built.append(tuple(hidden_layers))
        real_init(self, n_columns, hidden_layers, *args, **kwargs)

    monkeypatch.setattr(network.AutoEncoderNet, "__init__", record)
    with pytest.raises(ModelFormatError, match=named(path)):
        BlendRecommender.load(path)
    assert built == [(8,)]  # the first (untampered) sub-model only


# ------------------------------------------------------------- NaN and non-numbers
def _nan_tensor(name: str) -> Callable[[dict[str, torch.Tensor]], dict[str, torch.Tensor]]:
    def change(tensors):
        bad = tensors[name].clone()
        bad[0] = float("nan")
        return {name: bad}

    return change


@pytest.mark.parametrize(
    "name", ["utility_.data", "user_mean_", "item_mean_", "item_popularity_", "exposure_weights_"]
)
def test_nan_in_a_tensor_is_a_model_format_error(saved, tmp_path, name):
    _, _, tensors = read_file(saved)
    path = rewrite(saved, tmp_path / "nan.safetensors", tensors=_nan_tensor(name)(tensors))
    with pytest.raises(ModelFormatError, match=named(path)):
        AutoEncoderRecommender.load(path)


@pytest.mark.parametrize(
    "value",
    [float("nan"), float("inf"), "3.5", None, [3.5], {"mean": 3.5}, True],
    ids=["nan", "inf", "str", "null", "list", "object", "bool"],
)
def test_a_bad_global_mean_is_a_model_format_error(saved, tmp_path, value):
    path = rewrite(
        saved, tmp_path / "gm.safetensors", edit=lambda h: h["state"].update(global_mean_=value)
    )
    with pytest.raises(ModelFormatError, match=rf"{named(path)}.*global_mean_"):
        AutoEncoderRecommender.load(path)


@pytest.mark.parametrize(
    "value",
    [[float("nan"), 5.0], [1.0, float("inf")], ["1", "5"], [1.0], "1-5"],
    ids=["nan", "inf", "strings", "short", "str"],
)
def test_a_bad_rating_scale_is_a_model_format_error(saved, tmp_path, value):
    path = rewrite(
        saved, tmp_path / "rs.safetensors", edit=lambda h: h["state"].update(rating_scale_=value)
    )
    with pytest.raises(ModelFormatError, match=named(path)):
        AutoEncoderRecommender.load(path)


@pytest.mark.filterwarnings("error::RuntimeWarning")  # no overflow on the way
@pytest.mark.parametrize(
    "weights",
    [
        [50, 50],
        [1e308, 1e308],
        [float("nan"), 1.0],
        [float("inf"), 0.0],
        [0.0, 0.0],
        [1, "0"],
        ["0.5", "0.5"],
        [True, False],
        None,
    ],
    ids=["50-50", "1e308", "nan", "inf", "zeros", "str", "strs", "bools", "null"],
)
def test_bad_blend_weights_are_a_model_format_error(saved_blend, tmp_path, weights):
    path = rewrite(
        saved_blend, tmp_path / "w.safetensors", edit=lambda h: h["state"].update(weights_=weights)
    )
    with pytest.raises(ModelFormatError, match=named(path)):
        BlendRecommender.load(path)


@pytest.mark.parametrize(
    "text",
    [
        "[" * 100_000 + "]" * 100_000,
        '{"state": ' + "[" * 100_000 + "]" * 100_000 + "}",
        '{"state": ' + '{"a": ' * 100_000 + "1" + "}" * 100_000 + "}",
        "[" * 100_000,
    ],
    ids=["array", "in-object", "objects", "unclosed"],
)
@pytest.mark.parametrize("cls", [AutoEncoderRecommender, BlendRecommender])
def test_a_deeply_nested_header_is_a_model_format_error(saved, saved_blend, tmp_path, text, cls):
    src = saved if cls is AutoEncoderRecommender else saved_blend
    path = rewrite(src, tmp_path / "deep.safetensors", metadata={"header": text})
    started = time.perf_counter()
    with pytest.raises(ModelFormatError, match=named(path)):
        cls.load(path)
    assert time.perf_counter() - started < 60.0  # only catches a runaway parse


def test_nesting_hidden_behind_an_escaped_quote_is_still_counted(saved, tmp_path):
    # The nesting check skips strings; an escaped quote inside one must not end it early.
    _, header, _ = read_file(saved)
    text = json.dumps(header)[:-1] + ', "note": "a \\" b", "deep": '
    text += "[" * 100 + "]" * 100 + "}"
    assert isinstance(json.loads(text), dict)  # valid JSON, 101 levels deep
    path = rewrite(saved, tmp_path / "deep.safetensors", metadata={"header": text})
    with pytest.raises(ModelFormatError, match="nested deeper"):
        AutoEncoderRecommender.load(path)


def test_brackets_inside_header_strings_are_not_nesting(saved, tmp_path):
    _, header, _ = read_file(saved)
    header["note"] = 'a \\" ' + "[" * 200 + ' "quoted" \\\\'
    text = json.dumps(header)
    path = rewrite(saved, tmp_path / "ok.safetensors", metadata={"header": text})
    AutoEncoderRecommender.load(path)  # loads: strings are not nesting


# ------------------------------------------------------- NumPy scalar parameters
def test_numpy_scalar_parameters_fit_save_and_load(ratings, tmp_path):
    model = AutoEncoderRecommender(
        hidden_layers=np.array([8, 4]),
        learning_rate=np.float32(1e-3),
        epochs=np.int64(3),
        batch_size=np.int32(16),
        dropout=np.float64(0.1),
        random_state=np.int64(0),
    ).fit(ratings)
    path = model.save(tmp_path / "np.safetensors")
    loaded = AutoEncoderRecommender.load(path)
    assert loaded.epochs == 3 and type(loaded.epochs) is int
    assert type(loaded.learning_rate) is float
    assert loaded.learning_rate == float(np.float32(1e-3))
    assert loaded.hidden_layers == (8, 4)
    assert loaded.random_state == 0
    assert np.array_equal(loaded.predict(ratings), model.predict(ratings))
    pd.testing.assert_frame_equal(loaded.recommend(1, k=5), model.recommend(1, k=5))


def test_numpy_scalar_blend_parameters_fit_save_and_load(ratings, tmp_path):
    parts = [
        AutoEncoderRecommender(hidden_layers=(8,), epochs=np.int64(2)),
        AutoEncoderRecommender(hidden_layers=(8,), epochs=2, kind="item"),
    ]
    blend = BlendRecommender(
        parts,
        weights=np.array([1.0, 3.0]),
        validation_fraction=np.float32(0.1),
        random_state=np.int64(0),
    ).fit(ratings)
    loaded = _round_trip(blend, tmp_path / "np.safetensors")
    assert loaded.weights == [1.0, 3.0]
    assert loaded.random_state == 0  # not dropped for being a NumPy integer
    assert loaded.validation_fraction == float(np.float32(0.1))
    assert np.array_equal(loaded.predict(ratings), blend.predict(ratings))


# ------------------------------------------------------------------ file system
def _chmod_or_skip(path: Path, mode: int, access: int, what: str) -> None:
    """``chmod(mode)``, or skip the test where that does not take ``access`` away (root)."""
    os.chmod(path, mode)
    if os.access(path, access):
        os.chmod(path, 0o644)
        pytest.skip(f"chmod {mode:#05o} does not {what} here (running as root)")


def test_saving_onto_a_read_only_file_is_refused(ratings, saved, tmp_path):
    path = tmp_path / "frozen.safetensors"
    path.write_bytes(saved.read_bytes())
    _chmod_or_skip(path, 0o444, os.W_OK, "make the file read-only")
    try:
        before = path.read_bytes()
        other = AutoEncoderRecommender(**{**TINY, "random_state": 5}).fit(ratings)
        with pytest.raises(PermissionError, match=named(path)):
            other.save(path)
        assert path.read_bytes() == before
        assert path.stat().st_mode & 0o777 == 0o444
        assert sorted(p.name for p in tmp_path.iterdir()) == ["frozen.safetensors"]
    finally:
        os.chmod(path, 0o644)


def test_saving_onto_a_read_only_file_through_a_symlink_is_refused(ratings, saved, tmp_path):
    target = tmp_path / "frozen.safetensors"
    target.write_bytes(saved.read_bytes())
    link = tmp_path / "link.safetensors"
    link.symlink_to(target)
    _chmod_or_skip(target, 0o444, os.W_OK, "make the file read-only")
    try:
        before = target.read_bytes()
        with pytest.raises(PermissionError, match="read-only"):
            AutoEncoderRecommender(**TINY).fit(ratings).save(link)
        assert target.read_bytes() == before and link.is_symlink()
    finally:
        os.chmod(target, 0o644)


def test_saving_onto_a_symlink_writes_through(ratings, saved, tmp_path):
    real = tmp_path / "models" / "v3.safetensors"
    real.parent.mkdir()
    real.write_bytes(saved.read_bytes())
    link = tmp_path / "current.safetensors"
    link.symlink_to(real)
    other = AutoEncoderRecommender(**{**TINY, "random_state": 5}).fit(ratings)
    assert other.save(link) == link
    assert link.is_symlink() and link.resolve() == real.resolve()
    assert np.array_equal(reload(other, real).predict(ratings), other.predict(ratings))
    assert sorted(p.name for p in real.parent.iterdir()) == ["v3.safetensors"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["current.safetensors", "models"]


def test_saving_onto_a_dangling_symlink_creates_its_target(ratings, tmp_path):
    real = tmp_path / "new.safetensors"
    link = tmp_path / "link.safetensors"
    link.symlink_to(real)
    model = AutoEncoderRecommender(**TINY).fit(ratings)
    model.save(link)
    assert link.is_symlink() and real.is_file()
    assert np.array_equal(reload(model, link).predict(ratings), model.predict(ratings))


def test_loading_an_unreadable_file_says_permission_denied(saved, tmp_path):
    path = tmp_path / "secret.safetensors"
    path.write_bytes(saved.read_bytes())
    _chmod_or_skip(path, 0o000, os.R_OK, "take read access away")
    try:
        for cls in (AutoEncoderRecommender, BlendRecommender):
            with pytest.raises(PermissionError, match=rf"{named(path)}.*permission denied"):
                cls.load(path)
        with pytest.raises(PermissionError, match="permission denied"):
            serialization.read_format(path)
    finally:
        os.chmod(path, 0o644)


@pytest.mark.parametrize("cls", [AutoEncoderRecommender, BlendRecommender])
def test_a_safetensors_error_while_writing_is_an_os_error(
    ratings, saved, saved_blend, tmp_path, monkeypatch, cls
):
    path = tmp_path / "model.safetensors"
    path.write_bytes((saved if cls is AutoEncoderRecommender else saved_blend).read_bytes())
    before = path.read_bytes()
    model = cls.load(path)

    def full_disk(tensors, filename, metadata=None):
        Path(filename).write_bytes(b"half")
        raise safetensors.SafetensorError("No space left on device (os error 28)")

    monkeypatch.setattr(serialization, "save_file", full_disk)
    with pytest.raises(OSError, match=rf"{named(path)}.*No space left") as info:
        model.save(path)
    assert not isinstance(info.value, safetensors.SafetensorError)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.safetensors"]


# ------------------------------------------------------ parameters changed after fit
@pytest.mark.parametrize(
    "changes",
    [
        {"kind": "nonsense"},
        {"kind": "user"},
        {"hidden_layers": (3, 3), "activation": "relu"},
        {"activation": "no-such-activation", "ranking": "rating"},
        {"rating_scale": (0, 100)},
    ],
    ids=["nonsense-kind", "user-kind", "layers", "bad-activation", "scale"],
)
def test_save_writes_the_fitted_configuration_not_later_set_params(ratings, tmp_path, changes):
    model = AutoEncoderRecommender(**TINY).fit(ratings)
    expected_pred = model.predict(ratings)
    expected_top = model.recommend(1, k=5)
    fitted = dict(model.fit_params_)
    model.set_params(**changes)
    loaded = _round_trip(model, tmp_path / "changed.safetensors")
    assert loaded.fit_params_ == fitted
    assert loaded.kind == fitted["kind"] == "item" and loaded.hidden_layers == (8,)
    assert np.array_equal(loaded.predict(ratings), expected_pred)
    assert np.array_equal(loaded.predict(ratings), model.predict(ratings))
    pd.testing.assert_frame_equal(loaded.recommend(1, k=5), expected_top)


@pytest.fixture()
def fitted_blend(ratings) -> BlendRecommender:
    small = {k: v for k, v in TINY.items() if k != "random_state"}
    parts = [
        AutoEncoderRecommender(kind="user", **small),
        AutoEncoderRecommender(kind="item", **small),
    ]
    return BlendRecommender(parts, random_state=0).fit(ratings)


def test_blend_save_writes_the_fitted_configuration_not_later_set_params(
    ratings, tmp_path, fitted_blend
):
    expected = fitted_blend.predict(ratings)
    fitted_blend.set_params(ranking="nonsense", estimators=[])
    fitted_blend.estimators_[0].set_params(kind="nonsense", hidden_layers=(2,))
    loaded = _round_trip(fitted_blend, tmp_path / "changed.safetensors")
    assert np.array_equal(loaded.predict(ratings), expected)
    assert [m.kind for m in loaded.estimators_] == ["user", "item"]
    assert loaded.ranking_ == "hybrid"


def test_blend_save_after_set_params_weights(ratings, tmp_path, fitted_blend):
    expected = fitted_blend.predict(ratings)
    fitted_blend.set_params(weights="nonsense")
    loaded = _round_trip(fitted_blend, tmp_path / "changed.safetensors")
    assert np.array_equal(loaded.predict(ratings), expected)
    assert loaded.weights == "auto"
    assert loaded.fit_params_ == fitted_blend.fit_params_
