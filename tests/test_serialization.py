"""Saving and loading :class:`autorec.AutoEncoderRecommender` (safetensors files).

A saved model must come back identical, a save must be atomic, and loading a broken,
foreign, newer or hostile file must raise :class:`autorec.ModelFormatError` without
running anything from it.
"""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

import autorec._serialization as serialization
from autorec import AutoEncoderRecommender, BlendRecommender, ModelFormatError, NotFittedError
from autorec.datasets import make_ratings

SMALL = {"hidden_layers": (16,), "epochs": 4, "learning_rate": 1e-2, "random_state": 0}


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


def _read(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    with safe_open(str(path), framework="pt") as handle:
        return {k: handle.get_tensor(k) for k in handle.keys()}, dict(handle.metadata())


def _rewrite(src: Path, dst: Path, *, metadata=None, tensors=None) -> Path:
    """Copy a model file, changing its header metadata and/or tensors."""
    old_tensors, old_metadata = _read(src)
    old_metadata.update(metadata or {})
    old_tensors.update(tensors or {})
    save_file(old_tensors, str(dst), metadata=old_metadata)
    return dst


def _edit_json(src: Path, dst: Path, key: str, **changes) -> Path:
    _, metadata = _read(src)
    value = json.loads(metadata[key])
    value.update(changes)
    return _rewrite(src, dst, metadata={key: json.dumps(value)})


def _assert_same_model(a: AutoEncoderRecommender, b: AutoEncoderRecommender, pairs) -> None:
    assert np.array_equal(a.predict(pairs), b.predict(pairs))
    assert np.array_equal(a.predict_matrix(clip=False), b.predict_matrix(clip=False))
    users = a.user_map_.ids[:5]
    pd.testing.assert_frame_equal(a.recommend(users, k=7), b.recommend(users, k=7))
    pd.testing.assert_frame_equal(a.complete(), b.complete())
    assert a.user_map_.ids.tolist() == b.user_map_.ids.tolist()
    assert a.item_map_.ids.tolist() == b.item_map_.ids.tolist()
    assert a.history_ == b.history_
    assert a.best_epoch_ == b.best_epoch_
    assert a.rating_scale_ == b.rating_scale_
    assert a.global_mean_ == b.global_mean_
    assert np.array_equal(a.user_mean_, b.user_mean_)
    assert np.array_equal(a.item_mean_, b.item_mean_)
    assert (a.n_users_, a.n_items_) == (b.n_users_, b.n_items_)
    assert (a.utility_ != b.utility_).nnz == 0
    params_a = {k: v for k, v in a.get_params().items() if k != "device"}
    params_b = {k: v for k, v in b.get_params().items() if k != "device"}
    assert params_a == params_b
    device = b.device
    assert repr(b.set_params(device=a.device)) == repr(a)
    b.set_params(device=device)


# ----------------------------------------------------------------------- round trip
def test_round_trip_gives_an_identical_model(model, saved, ratings):
    loaded = AutoEncoderRecommender.load(saved)
    assert isinstance(loaded, AutoEncoderRecommender)
    _assert_same_model(model, loaded, ratings)
    assert loaded.device_ == torch.device("cpu")
    assert loaded.module_.training is False


def test_save_returns_the_path_and_accepts_str(model, tmp_path):
    target = tmp_path / "nested" / "dir" / "m.safetensors"
    assert model.save(str(target)) == target
    assert target.is_file()
    assert [p.name for p in target.parent.iterdir()] == ["m.safetensors"]


@pytest.mark.parametrize("kind", ["user", "item"])
def test_round_trip_with_string_ids(kind, tmp_path):
    frame = make_ratings(n_users=20, n_items=15, n_ratings=200, random_state=3)
    frame = frame.assign(
        user_id="user-" + frame["user_id"].astype(str),
        item_id="Movie é " + frame["item_id"].astype(str),
    )
    est = AutoEncoderRecommender(kind=kind, **SMALL).fit(frame)
    loaded = AutoEncoderRecommender.load(est.save(tmp_path / "strings.safetensors"))
    _assert_same_model(est, loaded, frame)
    assert loaded.user_map_.ids.tolist()[0] == "user-1"
    assert loaded.recommend("user-1", k=3)["item_id"].str.startswith("Movie é ").all()


def test_round_trip_with_huge_int_ids(tmp_path):
    frame = make_ratings(n_users=20, n_items=15, n_ratings=200, random_state=3)
    frame = frame.assign(user_id=frame["user_id"] * 10**12, item_id=frame["item_id"] + 10**12)
    est = AutoEncoderRecommender(**SMALL).fit(frame)
    loaded = AutoEncoderRecommender.load(est.save(tmp_path / "ints.safetensors"))
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
    loaded = AutoEncoderRecommender.load(est.save(tmp_path / "item.safetensors"))
    _assert_same_model(est, loaded, ratings)
    assert loaded.rating_scale_ == (0.0, 5.0)
    assert loaded.activation == "elu"


def test_loaded_model_can_fold_in_and_be_refit(model, saved, ratings):
    loaded = AutoEncoderRecommender.load(saved)
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
    _, metadata = _read(path)
    assert "device" not in json.loads(metadata["params"])
    loaded = AutoEncoderRecommender.load(path, device="cpu")
    assert loaded.get_params()["device"] == "cpu"
    assert loaded.device_ == torch.device("cpu")
    assert all(p.device.type == "cpu" for p in loaded.module_.parameters())
    assert np.array_equal(loaded.predict(ratings), est.predict(ratings))


def test_load_defaults_to_the_cpu(saved):
    loaded = AutoEncoderRecommender.load(saved)
    assert loaded.get_params()["device"] == "cpu"
    assert loaded.device_ == torch.device("cpu")


def test_save_does_not_store_the_device(saved):
    _, metadata = _read(saved)
    assert metadata["format"] == "autorec.AutoEncoderRecommender"
    assert int(metadata["format_version"]) == serialization.FORMAT_VERSION
    assert "device" not in json.loads(metadata["params"])


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
    assert np.array_equal(
        AutoEncoderRecommender.load(path).predict(ratings), model.predict(ratings)
    )


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
    assert np.array_equal(
        AutoEncoderRecommender.load(path).predict(ratings), model.predict(ratings)
    )


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
        json.dumps({"format": "autorec.AutoEncoderRecommender", "params": {}}).encode(),
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
    path = _rewrite(
        saved,
        tmp_path / "new.safetensors",
        metadata={"format_version": str(serialization.FORMAT_VERSION + 1)},
    )
    with pytest.raises(ModelFormatError, match=r"version 2, newer.*upgrade"):
        AutoEncoderRecommender.load(path)


@pytest.mark.parametrize("version", ["0", "-3", "one", ""])
def test_a_bad_format_version(saved, tmp_path, version):
    path = _rewrite(saved, tmp_path / "bad.safetensors", metadata={"format_version": version})
    with pytest.raises(ModelFormatError, match="format_version"):
        AutoEncoderRecommender.load(path)


# ------------------------------------------------------------------------- tampered
@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"activation": "evil"}, "evil"),
        ({"kind": "both"}, "both"),
        ({"hidden_layers": [32]}, "do not fit together"),
        ({"hidden_layers": [16, 16]}, "do not fit together"),
        ({"hidden_layers": []}, "configuration is invalid"),
        ({"dropout": 7}, "dropout"),
        ({"no_such_param": 1}, "no_such_param"),
    ],
)
def test_tampered_params(saved, tmp_path, changes, message):
    path = _edit_json(saved, tmp_path / "tampered.safetensors", "params", **changes)
    with pytest.raises(ModelFormatError, match=message):
        AutoEncoderRecommender.load(path)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"n_items": 31}, "31"),
        ({"n_users": 49}, "49"),
        ({"rating_scale": [5, 1]}, "rating_scale"),
        ({"history": {"train_rmse": []}}, "best_epoch"),
        ({"n_users": "many"}, "many"),
    ],
)
def test_tampered_state(saved, tmp_path, changes, message):
    path = _edit_json(saved, tmp_path / "tampered.safetensors", "state", **changes)
    with pytest.raises(ModelFormatError, match=message):
        AutoEncoderRecommender.load(path)


def test_tampered_kind_does_not_fit_the_weights(saved, tmp_path):
    # 50 users x 30 items: an item model's input layer would need 50 rows, not 30.
    path = _edit_json(saved, tmp_path / "tampered.safetensors", "params", kind="item")
    with pytest.raises(ModelFormatError, match="do not fit together"):
        AutoEncoderRecommender.load(path)


@pytest.mark.parametrize("key", ["params", "state"])
def test_header_that_is_not_json(saved, tmp_path, key):
    path = _rewrite(saved, tmp_path / "bad.safetensors", metadata={key: "{not json"})
    with pytest.raises(ModelFormatError, match="configuration is invalid"):
        AutoEncoderRecommender.load(path)


def test_header_params_that_are_not_an_object(saved, tmp_path):
    path = _rewrite(saved, tmp_path / "bad.safetensors", metadata={"params": "[1, 2]"})
    with pytest.raises(ModelFormatError, match="JSON objects"):
        AutoEncoderRecommender.load(path)


def test_tampered_tensors(saved, tmp_path):
    tensors, _ = _read(saved)
    cases = {
        "nan weight": {"module.output_weight": tensors["module.output_weight"] * float("nan")},
        "wrong weight shape": {"module.input_weight": torch.zeros(3, 16)},
        "bad csr": {"utility.indices": tensors["utility.indices"] + 1000},
        "short means": {"user_mean": tensors["user_mean"][:-1]},
        "too few user ids": {"user_ids": tensors["user_ids"][:-1]},
    }
    for name, change in cases.items():
        path = _rewrite(saved, tmp_path / "bad.safetensors", tensors=change)
        with pytest.raises(ModelFormatError, match="do not fit together"):
            AutoEncoderRecommender.load(path)
        assert name


def test_a_missing_tensor(saved, tmp_path):
    tensors, metadata = _read(saved)
    del tensors["utility.data"]
    path = tmp_path / "bad.safetensors"
    save_file(tensors, str(path), metadata=metadata)
    with pytest.raises(ModelFormatError, match=r"utility\.data"):
        AutoEncoderRecommender.load(path)


# -------------------------------------------------------------------------- hostile
class _Payload:
    """Unpickling this object would create the marker file."""

    marker = ""

    def __reduce__(self):
        return (Path.touch, (Path(self.marker),))


@pytest.mark.parametrize("writer", ["torch.save", "pickle"])
@pytest.mark.parametrize("suffix", [".safetensors", ".pt"])
def test_a_pickle_that_runs_code_is_refused_and_never_run(tmp_path, writer, suffix):
    marker = tmp_path / "PWNED"
    payload = _Payload()
    payload.marker = str(marker)
    path = tmp_path / f"model{suffix}"
    if writer == "torch.save":
        torch.save({"model": payload}, path)
    else:
        path.write_bytes(pickle.dumps(payload))
    # sanity: the payload really runs when unpickled (so the check below means something)
    probe = tmp_path / "probe"
    pickle.loads(pickle.dumps(_probe_payload(probe)))
    assert probe.exists()

    with pytest.raises(ModelFormatError):
        AutoEncoderRecommender.load(path)
    assert not marker.exists()


def _probe_payload(where: Path) -> _Payload:
    probe = _Payload()
    probe.marker = str(where)
    return probe


def test_pickle_in_the_header_is_never_run(saved, tmp_path):
    marker = tmp_path / "PWNED"
    payload = pickle.dumps(_probe_payload(marker)).hex()
    path = _rewrite(saved, tmp_path / "hostile.safetensors", metadata={"params": payload})
    with pytest.raises(ModelFormatError):
        AutoEncoderRecommender.load(path)
    assert not marker.exists()


# ------------------------------------------------------------------------- blends
@pytest.fixture(scope="module")
def blend(ratings) -> BlendRecommender:
    small = {k: v for k, v in SMALL.items() if k != "random_state"}
    parts = [AutoEncoderRecommender(**small), AutoEncoderRecommender(kind="item", **small)]
    return BlendRecommender(parts, random_state=0).fit(ratings)


@pytest.fixture(scope="module")
def saved_blend(blend, tmp_path_factory) -> Path:
    return blend.save(tmp_path_factory.mktemp("blend") / "blend.safetensors")


def test_blend_round_trip_gives_an_identical_blend(blend, saved_blend, ratings):
    loaded = BlendRecommender.load(saved_blend)
    pairs = ratings.sample(100, random_state=0)
    assert np.array_equal(blend.predict(pairs), loaded.predict(pairs))
    users = blend.estimators_[0].user_map_.ids[:5]
    pd.testing.assert_frame_equal(blend.recommend(users, k=6), loaded.recommend(users, k=6))
    assert np.array_equal(blend.weights_, loaded.weights_)
    assert np.array_equal(blend.validation_rmse_, loaded.validation_rmse_)
    assert blend.rating_scale_ == loaded.rating_scale_
    assert blend.fit_seconds_ == loaded.fit_seconds_
    for a, b in zip(blend.estimators_, loaded.estimators_, strict=True):
        _assert_same_model(a, b, pairs)
    assert loaded.weights == "auto" and loaded.random_state == 0
    assert loaded.validation_fraction == blend.validation_fraction
    # the loaded blend's templates are unfitted copies of the sub-models' parameters
    assert [t.kind for t in loaded.estimators] == ["user", "item"]
    assert not any(hasattr(t, "module_") for t in loaded.estimators)


def test_blend_with_fixed_weights_and_no_validation_scores(ratings, tmp_path):
    parts = [AutoEncoderRecommender(**SMALL), AutoEncoderRecommender(**{**SMALL, "epochs": 2})]
    blend = BlendRecommender(parts, weights=[1, 3]).fit(ratings)
    loaded = BlendRecommender.load(blend.save(tmp_path / "b.safetensors"))
    assert loaded.weights == [1.0, 3.0] and loaded.validation_rmse_ is None
    assert np.allclose(loaded.weights_, [0.25, 0.75])
    assert np.array_equal(loaded.predict(ratings), blend.predict(ratings))


def test_each_class_refuses_the_other_s_file(saved, saved_blend):
    with pytest.raises(ModelFormatError, match=r"load it with BlendRecommender\.load"):
        AutoEncoderRecommender.load(saved_blend)
    with pytest.raises(ModelFormatError, match=r"load it with AutoEncoderRecommender\.load"):
        BlendRecommender.load(saved)
    assert serialization.file_format(saved) == serialization.FORMAT_NAME
    assert serialization.file_format(saved_blend) == serialization.BLEND_FORMAT_NAME


def test_saving_an_unfitted_blend_is_a_not_fitted_error(tmp_path):
    with pytest.raises(NotFittedError):
        BlendRecommender().save(tmp_path / "b.safetensors")
    assert not list(tmp_path.iterdir())


def test_a_blend_from_a_newer_format_version(saved_blend, tmp_path):
    version = str(serialization.FORMAT_VERSION + 1)
    path = _rewrite(saved_blend, tmp_path / "new.safetensors", metadata={"format_version": version})
    with pytest.raises(ModelFormatError, match=r"newer.*upgrade"):
        BlendRecommender.load(path)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"weights": [1.0]}, "do not fit 2 estimators"),
        ({"weights": [0.5, float("nan")]}, "do not fit"),
        ({"weights": [-0.5, 1.5]}, "do not fit"),
        ({"n_estimators": 0}, "n_estimators is 0"),
        ({"n_estimators": 3}, "do not fit 3 estimators"),
        ({"params": {"weights": "auto"}}, "blend header is invalid"),
    ],
)
def test_a_tampered_blend_header(saved_blend, tmp_path, changes, message):
    path = _edit_json(saved_blend, tmp_path / "bad.safetensors", "blend", **changes)
    with pytest.raises(ModelFormatError, match=message):
        BlendRecommender.load(path)


def test_a_blend_missing_a_sub_model(saved_blend, tmp_path):
    tensors, metadata = _read(saved_blend)
    kept = {k: v for k, v in tensors.items() if not k.startswith("estimator1.")}
    path = tmp_path / "cut.safetensors"
    save_file(kept, str(path), metadata=metadata)
    with pytest.raises(ModelFormatError, match="do not fit together"):
        BlendRecommender.load(path)


def test_file_format_of_a_missing_or_foreign_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        serialization.file_format(tmp_path / "none.safetensors")
    (tmp_path / "junk").write_bytes(b"junk")
    with pytest.raises(ModelFormatError, match="safetensors"):
        serialization.file_format(tmp_path / "junk")
