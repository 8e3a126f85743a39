"""Saving and loading :class:`autorec.AutoEncoderRecommender` and
:class:`autorec.BlendRecommender` (safetensors files, format version 2).

A saved model must come back identical, a save must be atomic, and loading a broken,
foreign, newer or hostile file must raise :class:`autorec.ModelFormatError` without
running anything from it. Files of format version 1 (autorec 0.1.0, ``tests/data/v1_*``)
must still load and predict exactly as they did.

Layout (version 2): safetensors metadata ``format``, ``format_version``,
``autorec_version`` and ``header`` (one JSON object ``{"state": ..., "ids": ...}``; a
blend's ``{"state": ..., "params": ..., "estimators": [...]}``); tensors ``module_.*``,
``utility_.indptr/indices/data``, ``user_mean_``, ``item_mean_``, ``user_map_`` (or
``user_map_.bytes`` + ``user_map_.offsets``), ...; a blend's sub-models under
``estimator{j}.``.
"""

from __future__ import annotations

import json
import os
import pickle
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from model_files import named, read_file, reload, rewrite
from safetensors import safe_open
from safetensors.torch import save_file

import autorec._serialization as serialization
from autorec import AutoEncoderRecommender, BlendRecommender, ModelFormatError, NotFittedError
from autorec.datasets import make_ratings

SMALL = {"hidden_layers": (16,), "epochs": 4, "learning_rate": 1e-2, "random_state": 0}
DATA = Path(__file__).parent / "data"

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def ratings() -> pd.DataFrame:
    return make_ratings(n_users=50, n_items=30, n_ratings=700, random_state=1)


@pytest.fixture(scope="module")
def model(ratings) -> AutoEncoderRecommender:
    return AutoEncoderRecommender(**SMALL).fit(ratings)


@pytest.fixture(scope="module")
def saved(model, tmp_path_factory) -> Path:
    return model.save(tmp_path_factory.mktemp("model") / "model.safetensors")


# -------------------------------------------------------------------------- helpers
def _assert_same_model(a: AutoEncoderRecommender, b: AutoEncoderRecommender, pairs) -> None:
    assert np.array_equal(a.predict(pairs), b.predict(pairs))
    assert np.array_equal(a.predict_matrix(clip=False), b.predict_matrix(clip=False))
    users = a.user_map_.ids[:5]
    pd.testing.assert_frame_equal(a.recommend(users, k=7), b.recommend(users, k=7))
    pd.testing.assert_frame_equal(a.complete(), b.complete())
    assert a.user_map_.ids.tolist() == b.user_map_.ids.tolist()
    assert a.item_map_.ids.tolist() == b.item_map_.ids.tolist()
    assert a.user_map_.ids.dtype == b.user_map_.ids.dtype
    assert a.history_.keys() == b.history_.keys()
    for key in a.history_:  # NaN: an epoch not validated (one-cycle's first half)
        np.testing.assert_equal(a.history_[key], b.history_[key])
    assert a.best_epoch_ == b.best_epoch_
    assert a.rating_scale_ == b.rating_scale_
    assert a.global_mean_ == b.global_mean_
    assert a.fit_params_ == b.fit_params_
    assert a.fold_in_l2_ == b.fold_in_l2_
    assert a.ranking_weights_ == b.ranking_weights_
    assert np.array_equal(a.user_mean_, b.user_mean_)
    assert np.array_equal(a.item_mean_, b.item_mean_)
    assert np.array_equal(a.item_popularity_, b.item_popularity_)
    for attr in ("exposure_items_", "exposure_weights_"):
        x, y = getattr(a, attr), getattr(b, attr)
        assert (x is None and y is None) or np.array_equal(x, y)
    assert (a.n_users_, a.n_items_) == (b.n_users_, b.n_items_)
    assert (a.utility_ != b.utility_).nnz == 0
    # "auto" parameters load as the values fit chose for them (fit_params_)
    params = {k: v for k, v in a.get_params().items() if k != "device"}
    chosen = {k: a.fit_params_[k] for k, v in params.items() if v == "auto"}
    params_a = {**params, **chosen}
    params_b = {k: v for k, v in b.get_params().items() if k != "device"}
    assert params_a == params_b
    # the loaded parameters are the validated ones fit used: tuples stay tuples
    assert isinstance(b.hidden_layers, tuple)
    assert b.rating_scale is None or isinstance(b.rating_scale, tuple)


# ----------------------------------------------------------------------- round trip
def test_round_trip_gives_an_identical_model(model, saved, ratings):
    loaded = reload(model, saved)
    assert isinstance(loaded, AutoEncoderRecommender)
    _assert_same_model(model, loaded, ratings)
    assert loaded.device_ == model.device_
    assert loaded.module_.training is False


def test_the_file_layout_is_version_2(saved):
    metadata, header, tensors = read_file(saved)
    assert set(metadata) == {"format", "format_version", "autorec_version", "header"}
    assert metadata["format"] == "autorec.AutoEncoderRecommender"
    assert int(metadata["format_version"]) == serialization.FORMAT_VERSION == 2
    assert set(header) >= {"state", "ids"}
    assert header["ids"] == {"user_map_": {"dtype": "int64"}, "item_map_": {"dtype": "int64"}}
    assert header["state"]["fit_params_"]["hidden_layers"] == [16]
    for name in (
        "module_.input_weight",
        "utility_.indptr",
        "utility_.indices",
        "utility_.data",
        "user_mean_",
        "item_mean_",
        "user_map_",
        "item_map_",
    ):
        assert name in tensors
    assert tensors["user_map_"].dtype == torch.int64


def test_save_returns_the_path_and_accepts_str(model, tmp_path):
    target = tmp_path / "nested" / "dir" / "m.safetensors"
    assert model.save(str(target)) == target
    assert target.is_file()
    assert [p.name for p in target.parent.iterdir()] == ["m.safetensors"]


@pytest.mark.filterwarnings("ignore:ranking='hybrid' found no held-out rating")
@pytest.mark.parametrize("kind", ["user", "item"])
def test_round_trip_with_string_ids(kind, tmp_path):
    frame = make_ratings(n_users=20, n_items=15, n_ratings=200, random_state=3)
    frame = frame.assign(
        user_id="user-" + frame["user_id"].astype(str),
        item_id="Movie é " + frame["item_id"].astype(str),
    )
    est = AutoEncoderRecommender(kind=kind, **SMALL).fit(frame)
    path = est.save(tmp_path / "strings.safetensors")
    loaded = reload(est, path)
    _assert_same_model(est, loaded, frame)
    assert loaded.user_map_.ids.tolist()[0] == "user-1"
    assert loaded.recommend("user-1", k=3)["item_id"].str.startswith("Movie é ").all()
    _, header, tensors = read_file(path)
    assert header["ids"]["item_map_"] == {"dtype": "str"}
    assert {"item_map_.bytes", "item_map_.offsets"} <= set(tensors)
    assert "Movie" not in json.dumps(header)  # ids live in tensors, not in the header


def test_round_trip_with_huge_int_ids(tmp_path):
    frame = make_ratings(n_users=20, n_items=15, n_ratings=200, random_state=3)
    frame = frame.assign(user_id=frame["user_id"] * 10**12, item_id=frame["item_id"] + 10**12)
    est = AutoEncoderRecommender(**SMALL).fit(frame)
    loaded = reload(est, est.save(tmp_path / "ints.safetensors"))
    _assert_same_model(est, loaded, frame)
    assert loaded.user_map_.ids.dtype.kind == "i"
    assert loaded.user_map_.ids[-1] == 20 * 10**12


def test_round_trip_item_model_and_non_default_params(ratings, tmp_path):
    est = AutoEncoderRecommender(
        hidden_layers=(8, 4, 8),
        activation="elu",
        kind="item",
        dropout=0.1,
        epochs=3,
        optimizer="adamw",
        weight_decay=1e-3,
        rating_scale=(0, 5),
        random_state=5,
    ).fit(ratings)
    loaded = reload(est, est.save(tmp_path / "item.safetensors"))
    _assert_same_model(est, loaded, ratings)
    assert loaded.rating_scale_ == (0.0, 5.0)
    assert loaded.activation == "elu"
    assert loaded.fold_in_l2_ is not None


@pytest.mark.parametrize("ranking", ["rating", "exposure"])
def test_round_trip_with_other_rankings(ratings, tmp_path, ranking):
    est = AutoEncoderRecommender(**SMALL, ranking=ranking).fit(ratings)
    loaded = reload(est, est.save(tmp_path / "r.safetensors"))
    _assert_same_model(est, loaded, ratings)


def test_loaded_model_can_fold_in_and_be_refit(model, saved, ratings):
    loaded = reload(model, saved)
    user = model.user_map_.ids[0]
    rows = ratings[ratings["user_id"] == user]
    own = dict(zip(rows["item_id"], rows["rating"], strict=True))
    pd.testing.assert_frame_equal(
        loaded.recommend(None, k=5, user_ratings=own), model.recommend(None, k=5, user_ratings=own)
    )
    loaded.fit(ratings)  # a loaded model is an ordinary estimator
    assert np.array_equal(loaded.predict_matrix(), model.predict_matrix())


def test_a_model_saved_on_a_gpu_loads_on_the_cpu(ratings, tmp_path):
    # The device is not stored: a model whose device parameter is "cuda" saves the same
    # file, and load(device="cpu") gives a CPU model whatever it was trained on.
    est = AutoEncoderRecommender(**SMALL).fit(ratings)
    est.set_params(device="cuda")
    path = est.save(tmp_path / "gpu.safetensors")
    _, header, _ = read_file(path)
    assert "device" not in header["state"]["fit_params_"]
    assert '"device"' not in json.dumps(header)
    loaded = AutoEncoderRecommender.load(path, device="cpu")
    assert loaded.get_params()["device"] == "cpu"
    assert loaded.device_ == torch.device("cpu")
    assert all(p.device.type == "cpu" for p in loaded.module_.parameters())
    if est.device_.type == "cpu":
        assert np.array_equal(loaded.predict(ratings), est.predict(ratings))
    else:  # really trained on a GPU: the CPU agrees to float32 round-off
        assert np.allclose(loaded.predict(ratings), est.predict(ratings), atol=1e-4)


def test_load_defaults_to_the_cpu(saved):
    loaded = AutoEncoderRecommender.load(saved)
    assert loaded.get_params()["device"] == "cpu"
    assert loaded.device_ == torch.device("cpu")


def test_save_does_not_store_the_device(saved):
    metadata, header, _ = read_file(saved)
    assert metadata["format"] == "autorec.AutoEncoderRecommender"
    assert int(metadata["format_version"]) == serialization.FORMAT_VERSION
    assert "device" not in header["state"]["fit_params_"]
    assert '"device"' not in metadata["header"]


# --------------------------------------------------------------------------- atomic
def test_failed_save_leaves_the_old_file_and_no_temporary(model, ratings, tmp_path, monkeypatch):
    path = tmp_path / "model.safetensors"
    model.save(path)
    good = path.read_bytes()
    real_save_file = serialization.save_file

    def broken_save_file(tensors, filename, metadata=None):
        real_save_file(tensors, filename, metadata=metadata)
        with open(filename, "r+b") as handle:  # half-written, then the disk is full
            handle.truncate(os.path.getsize(filename) // 2)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(serialization, "save_file", broken_save_file)
    other = AutoEncoderRecommender(**{**SMALL, "random_state": 9}).fit(ratings)
    with pytest.raises(OSError, match="No space left"):
        other.save(path)
    assert path.read_bytes() == good
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.safetensors"]
    monkeypatch.undo()
    assert np.array_equal(reload(model, path).predict(ratings), model.predict(ratings))


def test_interrupted_save_cleans_up(model, tmp_path, monkeypatch):
    def interrupted(tensors, filename, metadata=None):
        Path(filename).write_bytes(b"partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(serialization, "save_file", interrupted)
    with pytest.raises(KeyboardInterrupt):
        model.save(tmp_path / "model.safetensors")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_saved_files_get_the_usual_permissions(model, blend, tmp_path, umask):
    old = os.umask(umask)
    try:
        paths = [model.save(tmp_path / "m.safetensors"), blend.save(tmp_path / "b.safetensors")]
    finally:
        os.umask(old)
    for path in paths:
        assert path.stat().st_mode & 0o777 == 0o666 & ~umask


def test_save_overwrites_an_existing_model(model, ratings, tmp_path):
    path = tmp_path / "model.safetensors"
    AutoEncoderRecommender(**{**SMALL, "random_state": 9}).fit(ratings).save(path)
    model.save(path)
    assert np.array_equal(reload(model, path).predict(ratings), model.predict(ratings))


def test_saving_an_unfitted_model_is_a_not_fitted_error(tmp_path):
    with pytest.raises(NotFittedError):
        AutoEncoderRecommender().save(tmp_path / "m.safetensors")
    assert not list(tmp_path.iterdir())


# ---------------------------------------------------------------- broken and foreign
def test_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nope\.safetensors"):
        AutoEncoderRecommender.load(tmp_path / "nope.safetensors")


@pytest.mark.parametrize("keep", [0.5, 0.99, 0.1])
def test_truncated_file(saved, tmp_path, keep):
    data = saved.read_bytes()
    path = tmp_path / "truncated.safetensors"
    path.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(ModelFormatError, match="not a valid autorec model"):
        AutoEncoderRecommender.load(path)


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"\x00",
        bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8)),
        b"\xff" * 8 + b"{}",  # a header length of 2**64 - 1
        json.dumps({"format": "autorec.AutoEncoderRecommender", "header": {}}).encode(),
        b"user_id,item_id,rating\n1,2,3\n",
    ],
    ids=["empty", "one-byte", "random", "huge-header-length", "json", "csv"],
)
def test_not_a_safetensors_file(tmp_path, content):
    path = tmp_path / "model.safetensors"
    path.write_bytes(content)
    with pytest.raises(ModelFormatError, match="cannot be read as a safetensors file"):
        AutoEncoderRecommender.load(path)


def test_a_directory_is_not_a_model(tmp_path):
    with pytest.raises((FileNotFoundError, ModelFormatError)):
        AutoEncoderRecommender.load(tmp_path)


def test_a_foreign_safetensors_file(tmp_path):
    path = tmp_path / "other.safetensors"
    save_file({"weight": torch.zeros(3)}, str(path), metadata={"format": "pt"})
    with pytest.raises(ModelFormatError, match="format 'pt'"):
        AutoEncoderRecommender.load(path)
    save_file({"weight": torch.zeros(3)}, str(path))  # no metadata at all
    with pytest.raises(ModelFormatError, match="format None"):
        AutoEncoderRecommender.load(path)


def test_a_newer_format_version(saved, tmp_path):
    version = str(serialization.FORMAT_VERSION + 1)
    path = rewrite(saved, tmp_path / "new.safetensors", metadata={"format_version": version})
    with pytest.raises(ModelFormatError, match=rf"version {version}, newer.*upgrade"):
        AutoEncoderRecommender.load(path)
    with pytest.raises(ModelFormatError, match=named(path)):
        AutoEncoderRecommender.load(path)


@pytest.mark.parametrize("version", ["0", "-3", "one", ""])
def test_a_bad_format_version(saved, tmp_path, version):
    path = rewrite(saved, tmp_path / "bad.safetensors", metadata={"format_version": version})
    with pytest.raises(ModelFormatError, match="format_version"):
        AutoEncoderRecommender.load(path)


# ------------------------------------------------------------------------- tampered
def _set_params(**changes):
    return lambda header: header["state"]["fit_params_"].update(changes)


def _set_state(**changes):
    return lambda header: header["state"].update(changes)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"activation": "evil"}, "evil"),
        ({"kind": "both"}, "both"),
        ({"hidden_layers": [32]}, "do not fit together"),
        ({"hidden_layers": [16, 16]}, "do not fit together"),
        ({"hidden_layers": []}, "configuration is invalid"),
        ({"hidden_layers": "16"}, "configuration is invalid"),
        ({"dropout": 7}, "dropout"),
        ({"epochs": "many"}, "epochs"),
        ({"no_such_param": 1}, "no_such_param"),
    ],
)
def test_tampered_params(saved, tmp_path, changes, message):
    path = rewrite(saved, tmp_path / "tampered.safetensors", edit=_set_params(**changes))
    with pytest.raises(ModelFormatError, match=message):
        AutoEncoderRecommender.load(path)


def test_params_that_are_not_an_object(saved, tmp_path):
    path = rewrite(saved, tmp_path / "t.safetensors", edit=_set_state(fit_params_=[1, 2]))
    with pytest.raises(ModelFormatError, match="configuration is invalid"):
        AutoEncoderRecommender.load(path)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"n_items_": 31}, "31"),
        ({"n_users_": 49}, "49"),
        ({"n_users_": "many"}, "many"),
        ({"n_users_": 0}, "n_users_"),
        ({"rating_scale_": [5, 1]}, "rating_scale"),
        ({"rating_scale_": None}, "rating_scale_"),
        ({"best_epoch_": "last"}, "last"),
        ({"history_": [1, 2]}, "do not fit together"),
        ({"ranking_weights_": [1.0]}, "ranking_weights_"),
        ({"fold_in_l2_": -1.0}, "fold_in_l2_"),
    ],
)
def test_tampered_state(saved, tmp_path, changes, message):
    path = rewrite(saved, tmp_path / "tampered.safetensors", edit=_set_state(**changes))
    with pytest.raises(ModelFormatError, match=message):
        AutoEncoderRecommender.load(path)


@pytest.mark.parametrize("key", ["n_users_", "rating_scale_", "best_epoch_", "history_"])
def test_a_missing_state_entry(saved, tmp_path, key):
    path = rewrite(saved, tmp_path / "t.safetensors", edit=lambda h: h["state"].pop(key))
    with pytest.raises(ModelFormatError, match=key):
        AutoEncoderRecommender.load(path)


@pytest.mark.parametrize("entry", [{"dtype": "pickle"}, {"dtype": "str"}, "int64", None], ids=repr)
def test_a_tampered_id_encoding(saved, tmp_path, entry):
    path = rewrite(
        saved, tmp_path / "t.safetensors", edit=lambda h: h["ids"].update(user_map_=entry)
    )
    with pytest.raises(ModelFormatError, match="do not fit together"):
        AutoEncoderRecommender.load(path)


def test_tampered_kind_does_not_fit_the_weights(saved, tmp_path):
    # 50 users x 30 items: the (item) model's input layer has 50 rows, a user model's 30.
    path = rewrite(saved, tmp_path / "tampered.safetensors", edit=_set_params(kind="user"))
    with pytest.raises(ModelFormatError, match="do not fit together"):
        AutoEncoderRecommender.load(path)


@pytest.mark.parametrize("text", ["{not json", "", "nul", '{"state": {}'])
def test_header_that_is_not_json(saved, tmp_path, text):
    path = rewrite(saved, tmp_path / "bad.safetensors", metadata={"header": text})
    with pytest.raises(ModelFormatError, match="header is not valid JSON"):
        AutoEncoderRecommender.load(path)


@pytest.mark.parametrize("text", ["[1, 2]", "3", '"state"', "null"])
def test_header_that_is_not_an_object(saved, tmp_path, text):
    path = rewrite(saved, tmp_path / "bad.safetensors", metadata={"header": text})
    with pytest.raises(ModelFormatError, match="not a JSON object"):
        AutoEncoderRecommender.load(path)


@pytest.mark.parametrize("key", ["state", "ids"])
def test_header_parts_that_are_missing_or_not_objects(saved, tmp_path, key):
    for change in (lambda h: h.pop(key), lambda h: h.update({key: [1, 2]})):
        path = rewrite(saved, tmp_path / "bad.safetensors", edit=change)
        with pytest.raises(ModelFormatError, match="configuration is invalid"):
            AutoEncoderRecommender.load(path)


def test_a_missing_header(saved, tmp_path):
    metadata, _, tensors = read_file(saved)
    del metadata["header"]
    path = tmp_path / "bad.safetensors"
    save_file(tensors, str(path), metadata=metadata)
    with pytest.raises(ModelFormatError, match="header is missing"):
        AutoEncoderRecommender.load(path)


@pytest.mark.parametrize(
    "case",
    [
        "nan weight",
        "inf bias",
        "wrong weight shape",
        "extra weight",
        "bad csr indices",
        "short csr indptr",
        "short means",
        "too few user ids",
        "float user ids",
        "2-d user ids",
        "repeated user ids",
    ],
)
def test_tampered_tensors(saved, tmp_path, case):
    _, _, tensors = read_file(saved)
    change = {
        "nan weight": {"module_.output_weight": tensors["module_.output_weight"] * float("nan")},
        "inf bias": {"module_.input_bias": tensors["module_.input_bias"] + float("inf")},
        "wrong weight shape": {"module_.input_weight": torch.zeros(3, 16)},
        "extra weight": {"module_.extra": torch.zeros(3)},
        "bad csr indices": {"utility_.indices": tensors["utility_.indices"] + 1000},
        "short csr indptr": {"utility_.indptr": tensors["utility_.indptr"][:-1]},
        "short means": {"user_mean_": tensors["user_mean_"][:-1]},
        "too few user ids": {"user_map_": tensors["user_map_"][:-1]},
        "float user ids": {"user_map_": tensors["user_map_"].double()},
        "2-d user ids": {"user_map_": tensors["user_map_"].reshape(-1, 1)},
        "repeated user ids": {"user_map_": torch.zeros_like(tensors["user_map_"])},
    }[case]
    path = rewrite(saved, tmp_path / "bad.safetensors", tensors=change)
    with pytest.raises(ModelFormatError, match="do not fit together"):
        AutoEncoderRecommender.load(path)
    with pytest.raises(ModelFormatError, match=named(path)):
        AutoEncoderRecommender.load(path)


@pytest.mark.parametrize(
    "name", ["utility_.data", "user_map_", "item_mean_", "module_.output_bias"]
)
def test_a_missing_tensor(saved, tmp_path, name):
    path = rewrite(saved, tmp_path / "bad.safetensors", drop=lambda k: k == name)
    with pytest.raises(ModelFormatError, match=re.escape(name.removeprefix("module_."))):
        AutoEncoderRecommender.load(path)


def test_tampered_string_id_offsets(tmp_path):
    frame = make_ratings(n_users=20, n_items=15, n_ratings=200, random_state=3)
    frame = frame.assign(item_id="item-" + frame["item_id"].astype(str))
    saved = AutoEncoderRecommender(**SMALL).fit(frame).save(tmp_path / "s.safetensors")
    _, _, tensors = read_file(saved)
    offsets, blob = tensors["item_map_.offsets"], tensors["item_map_.bytes"]
    cases = [
        {"item_map_.offsets": offsets + 1},
        {"item_map_.offsets": offsets.flip(0)},
        {"item_map_.offsets": offsets[:0]},
        {"item_map_.bytes": blob[:-1]},
        {"item_map_.bytes": blob.to(torch.int32)},
        {"item_map_.bytes": torch.full_like(blob, 0xFF)},  # not UTF-8
    ]
    for change in cases:
        path = rewrite(saved, tmp_path / "bad.safetensors", tensors=change)
        with pytest.raises(ModelFormatError, match="do not fit together"):
            AutoEncoderRecommender.load(path)


# -------------------------------------------------------------------------- hostile
class _Payload:
    """Unpickling this object would create the marker file."""

    marker = ""

    def __reduce__(self):
        return (Path.touch, (Path(self.marker),))


def _probe_payload(where: Path) -> _Payload:
    probe = _Payload()
    probe.marker = str(where)
    return probe


@pytest.mark.parametrize("writer", ["torch.save", "pickle"])
@pytest.mark.parametrize("suffix", [".safetensors", ".pt"])
def test_a_pickle_that_runs_code_is_refused_and_never_run(tmp_path, writer, suffix):
    marker = tmp_path / "PWNED"
    payload = _probe_payload(marker)
    path = tmp_path / f"model{suffix}"
    if writer == "torch.save":
        torch.save({"model": payload}, path)
    else:
        path.write_bytes(pickle.dumps(payload))
    # sanity: the payload really runs when unpickled (so the check below means something)
    probe = tmp_path / "probe"
    pickle.loads(pickle.dumps(_probe_payload(probe)))
    assert probe.exists()

    for cls in (AutoEncoderRecommender, BlendRecommender):
        with pytest.raises(ModelFormatError):
            cls.load(path)
    assert not marker.exists()


@pytest.mark.parametrize("encoding", ["hex", "latin-1"])
def test_pickle_in_the_header_is_never_run(saved, tmp_path, encoding):
    marker = tmp_path / "PWNED"
    raw = pickle.dumps(_probe_payload(marker))
    text = raw.hex() if encoding == "hex" else raw.decode("latin-1")
    path = rewrite(saved, tmp_path / "hostile.safetensors", metadata={"header": text})
    with pytest.raises(ModelFormatError):
        AutoEncoderRecommender.load(path)
    assert not marker.exists()


def test_a_pickle_as_a_tensor_is_just_bytes(saved, tmp_path):
    marker = tmp_path / "PWNED"
    raw = np.frombuffer(pickle.dumps(_probe_payload(marker)), dtype=np.uint8).copy()
    path = rewrite(
        saved, tmp_path / "hostile.safetensors", tensors={"user_map_": torch.from_numpy(raw)}
    )
    with pytest.raises(ModelFormatError):
        AutoEncoderRecommender.load(path)
    assert not marker.exists()


# ------------------------------------------------------------------------- blends
@pytest.fixture(scope="module")
def blend(ratings) -> BlendRecommender:
    small = {k: v for k, v in SMALL.items() if k != "random_state"}
    parts = [
        AutoEncoderRecommender(kind="user", **small),
        AutoEncoderRecommender(kind="item", **small),
    ]
    return BlendRecommender(parts, random_state=0).fit(ratings)


@pytest.fixture(scope="module")
def saved_blend(blend, tmp_path_factory) -> Path:
    return blend.save(tmp_path_factory.mktemp("blend") / "blend.safetensors")


def _assert_same_blend(blend: BlendRecommender, loaded: BlendRecommender, pairs) -> None:
    assert np.array_equal(blend.predict(pairs), loaded.predict(pairs))
    users = blend.estimators_[0].user_map_.ids[:5]
    pd.testing.assert_frame_equal(blend.recommend(users, k=6), loaded.recommend(users, k=6))
    assert np.array_equal(blend.weights_, loaded.weights_)
    assert blend.rating_scale_ == loaded.rating_scale_
    assert blend.fit_seconds_ == loaded.fit_seconds_
    assert blend.ranking_weights_ == loaded.ranking_weights_
    for a, b in zip(blend.estimators_, loaded.estimators_, strict=True):
        _assert_same_model(a, b, pairs)


def test_blend_round_trip_gives_an_identical_blend(blend, saved_blend, ratings):
    loaded = reload(blend, saved_blend)
    pairs = ratings.sample(100, random_state=0)
    _assert_same_blend(blend, loaded, pairs)
    assert np.array_equal(blend.validation_rmse_, loaded.validation_rmse_)
    assert loaded.weights == "auto" and loaded.random_state == 0
    assert loaded.validation_fraction == blend.validation_fraction
    assert loaded.ranking == blend.ranking
    # the loaded blend's templates are unfitted copies of the sub-models' parameters
    assert [t.kind for t in loaded.estimators] == ["user", "item"]
    assert not any(hasattr(t, "module_") for t in loaded.estimators)


def test_the_blend_file_layout_is_version_2(saved_blend):
    metadata, header, tensors = read_file(saved_blend)
    assert set(metadata) == {"format", "format_version", "autorec_version", "header"}
    assert metadata["format"] == "autorec.BlendRecommender"
    assert set(header) >= {"state", "params", "estimators"}
    assert len(header["estimators"]) == 2
    assert header["estimators"][1]["state"]["fit_params_"]["kind"] == "item"
    assert {"estimator0.module_.input_weight", "estimator1.utility_.data"} <= set(tensors)
    assert '"device"' not in metadata["header"]


def test_blend_with_fixed_weights_and_no_validation_scores(ratings, tmp_path):
    parts = [AutoEncoderRecommender(**SMALL), AutoEncoderRecommender(**{**SMALL, "epochs": 2})]
    blend = BlendRecommender(parts, weights=[1, 3], ranking="rating").fit(ratings)
    loaded = BlendRecommender.load(blend.save(tmp_path / "b.safetensors"))
    assert loaded.weights == [1.0, 3.0] and loaded.validation_rmse_ is None
    assert np.allclose(loaded.weights_, [0.25, 0.75])
    _assert_same_blend(blend, loaded, ratings)


def test_a_blend_with_string_ids(tmp_path):
    frame = make_ratings(n_users=20, n_items=15, n_ratings=200, random_state=3)
    frame = frame.assign(user_id="u" + frame["user_id"].astype(str))
    small = {k: v for k, v in SMALL.items() if k != "random_state"}
    parts = [
        AutoEncoderRecommender(kind="user", **small),
        AutoEncoderRecommender(kind="item", **small),
    ]
    blend = BlendRecommender(parts, random_state=0).fit(frame)
    loaded = reload(blend, blend.save(tmp_path / "b.safetensors"))
    _assert_same_blend(blend, loaded, frame)
    assert loaded.recommend("u1", k=3).shape[0] == 3


def test_each_class_refuses_the_other_s_file(saved, saved_blend):
    with pytest.raises(ModelFormatError, match=r"load it with BlendRecommender\.load"):
        AutoEncoderRecommender.load(saved_blend)
    with pytest.raises(ModelFormatError, match=r"load it with AutoEncoderRecommender\.load"):
        BlendRecommender.load(saved)
    assert serialization.read_format(saved) == "autorec.AutoEncoderRecommender"
    assert serialization.read_format(saved_blend) == "autorec.BlendRecommender"


def test_saving_an_unfitted_blend_is_a_not_fitted_error(tmp_path):
    with pytest.raises(NotFittedError):
        BlendRecommender().save(tmp_path / "b.safetensors")
    assert not list(tmp_path.iterdir())


def test_a_blend_from_a_newer_format_version(saved_blend, tmp_path):
    version = str(serialization.FORMAT_VERSION + 1)
    path = rewrite(saved_blend, tmp_path / "new.safetensors", metadata={"format_version": version})
    with pytest.raises(ModelFormatError, match=r"newer.*upgrade"):
        BlendRecommender.load(path)


def _copy_estimator(header):
    header["estimators"].append(header["estimators"][0])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (_set_state(weights_=[1.0]), "are not 2 non-negative numbers"),
        (_set_state(weights_=[0.5, float("nan")]), "are not 2 non-negative numbers"),
        (_set_state(weights_=[-0.5, 1.5]), "are not 2 non-negative numbers"),
        (_set_state(weights_="equal"), "blend header is invalid"),
        (_set_state(validation_rmse_=[1.0]), "validation_rmse_"),
        (lambda h: h.update(estimators=[]), "holds no estimator"),
        (lambda h: h.update(estimators=[1, 2]), "estimator 0 is not an object"),
        (lambda h: h.update(estimators={"a": 1}), "blend header is invalid"),
        (_copy_estimator, "are not 3 non-negative numbers"),
        (lambda h: h.update(params={"weights": "auto"}), "blend header is invalid"),
        (lambda h: h["params"].update(weights=[1.0]), "blend header is invalid"),
        (lambda h: h["params"].update(ranking="evil"), "evil"),
        (lambda h: h.pop("state"), "blend header is invalid"),
        (lambda h: h["estimators"][1]["state"].update(n_users_=3), "do not fit together"),
    ],
)
def test_a_tampered_blend_header(saved_blend, tmp_path, change, message):
    path = rewrite(saved_blend, tmp_path / "bad.safetensors", edit=change)
    with pytest.raises(ModelFormatError, match=message):
        BlendRecommender.load(path)


def test_a_blend_whose_estimators_disagree_on_the_ids(saved_blend, tmp_path):
    _, _, tensors = read_file(saved_blend)
    ids = tensors["estimator1.user_map_"] + 1000
    path = rewrite(saved_blend, tmp_path / "bad.safetensors", tensors={"estimator1.user_map_": ids})
    with pytest.raises(ModelFormatError, match="different users or items"):
        BlendRecommender.load(path)


def test_a_blend_missing_a_sub_model(saved_blend, tmp_path):
    path = rewrite(
        saved_blend, tmp_path / "cut.safetensors", drop=lambda k: k.startswith("estimator1.")
    )
    with pytest.raises(ModelFormatError, match="do not fit together"):
        BlendRecommender.load(path)


def test_read_format_of_a_missing_or_foreign_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        serialization.read_format(tmp_path / "none.safetensors")
    (tmp_path / "junk").write_bytes(b"junk")
    with pytest.raises(ModelFormatError, match="safetensors"):
        serialization.read_format(tmp_path / "junk")


# ---------------------------------------------------------------------- version 1
V1_EXPECTED = json.loads((DATA / "v1_expected.json").read_text())


def _v1_ratings(name: str) -> pd.DataFrame:
    frame = make_ratings(n_users=30, n_items=20, n_ratings=300, random_state=0)
    if "str_ids" in name:
        frame = frame.assign(
            user_id="u" + frame["user_id"].astype(str), item_id="i" + frame["item_id"].astype(str)
        )
    return frame


@pytest.mark.parametrize("name", sorted(V1_EXPECTED))
def test_a_version_1_file_loads_and_predicts_as_it_did(name):
    path = DATA / f"{name}.safetensors"
    with safe_open(str(path), framework="pt") as handle:
        assert handle.metadata()["format_version"] == "1"
    cls = BlendRecommender if "blend" in name else AutoEncoderRecommender
    loaded = cls.load(path)
    expected = V1_EXPECTED[name]
    assert loaded.predict(_v1_ratings(name).head(8)).tolist() == expected["predict"]
    top = loaded.recommend(expected["recommend_user"], k=5)["item_id"].tolist()
    assert top == expected["recommend"]
    if "weights" in expected:
        assert loaded.weights_.tolist() == expected["weights"]
    # version 1 ranked recommendations by predicted rating; the upgrade keeps that order
    assert loaded.ranking == "rating"


@pytest.mark.parametrize("name", sorted(V1_EXPECTED))
def test_a_version_1_file_saves_as_version_2(name, tmp_path):
    cls = BlendRecommender if "blend" in name else AutoEncoderRecommender
    old = cls.load(DATA / f"{name}.safetensors")
    path = old.save(tmp_path / "v2.safetensors")
    metadata, _, _ = read_file(path)
    assert metadata["format_version"] == "2"
    new = cls.load(path)
    pairs = _v1_ratings(name)
    assert np.array_equal(old.predict(pairs), new.predict(pairs))
    user = V1_EXPECTED[name]["recommend_user"]
    pd.testing.assert_frame_equal(old.recommend(user, k=5), new.recommend(user, k=5))


def test_a_version_1_file_with_a_tampered_header(tmp_path):
    src = DATA / "v1_user_model.safetensors"
    with safe_open(str(src), framework="pt") as handle:
        metadata = dict(handle.metadata())
        tensors = {k: handle.get_tensor(k) for k in handle.keys()}
    path = tmp_path / "v1.safetensors"
    for key, text in [("params", "{not json"), ("params", "[1]"), ("state", '{"n_users": 3}')]:
        save_file(tensors, str(path), metadata={**metadata, key: text})
        with pytest.raises(ModelFormatError, match=named(path)):
            AutoEncoderRecommender.load(path)
    blend_src = DATA / "v1_blend.safetensors"
    with safe_open(str(blend_src), framework="pt") as handle:
        metadata = dict(handle.metadata())
        tensors = {k: handle.get_tensor(k) for k in handle.keys()}
    for n in (0, 3, 10**9):
        info = {**json.loads(metadata["blend"]), "n_estimators": n}
        save_file(tensors, str(path), metadata={**metadata, "blend": json.dumps(info)})
        with pytest.raises(ModelFormatError, match=named(path)):
            BlendRecommender.load(path)
