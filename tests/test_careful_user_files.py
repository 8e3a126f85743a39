"""Model files a careful user hit (issue 24): what ``save`` accepts, ``load`` loads (the
rest is refused at save time, naming the value), and a tampered file's fitted values
are checked for range on load instead of failing or misleading later."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from model_files import named, read_file, rewrite
from safetensors import safe_open
from safetensors.torch import save_file

from autorec import AutoEncoderRecommender, BlendRecommender
from autorec.datasets import make_ratings
from autorec.exceptions import ModelFormatError

pytestmark = pytest.mark.usefixtures("one_torch_thread")

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def ratings() -> pd.DataFrame:
    return make_ratings(60, 30, 900, random_state=0)


@pytest.fixture(scope="module")
def saved_item(ratings, tmp_path_factory) -> Path:
    model = AutoEncoderRecommender(kind="item", epochs=2, random_state=0).fit(ratings)
    return model.save(tmp_path_factory.mktemp("item") / "item.safetensors")


@pytest.fixture(scope="module")
def saved_blend(ratings, tmp_path_factory) -> Path:
    blend = BlendRecommender(
        [
            AutoEncoderRecommender(kind="user", epochs=2, random_state=0),
            AutoEncoderRecommender(kind="item", epochs=2, random_state=0),
        ],
        random_state=0,
    ).fit(ratings)
    return blend.save(tmp_path_factory.mktemp("blend") / "blend.safetensors")


def test_a_path_that_is_not_utf8_is_refused_at_save(ratings, tmp_path):
    model = AutoEncoderRecommender(epochs=1, random_state=0).fit(ratings)
    path = tmp_path / os.fsdecode(b"\xff\xfe.safetensors")
    with pytest.raises(ValueError, match=r"not valid UTF-8.*UTF-8 name") as info:
        model.save(path)
    assert repr(str(path)) in str(info.value)
    assert os.listdir(tmp_path) == []


def test_string_ids_with_a_lone_surrogate_are_refused_at_save(ratings, tmp_path):
    odd = ratings.assign(user_id="u" + ratings["user_id"].astype(str))
    odd.loc[odd["user_id"] == "u3", "user_id"] = "u\udcff"
    model = AutoEncoderRecommender(epochs=1, random_state=0).fit(odd)
    with pytest.raises(ValueError, match=r"user_map_ holds the id 'u\\udcff'.*not valid Unicode"):
        model.save(tmp_path / "m.safetensors")
    assert os.listdir(tmp_path) == []


def _state(key, value):
    def edit(header):
        header["state"][key] = value

    return edit


def _params(key, value):
    def edit(header):
        header["state"]["fit_params_"][key] = value

    return edit


def _tensor(name, values):
    def make(path):
        _, _, tensors = read_file(path)
        return {name: torch.full_like(tensors[name], values)}

    return make


@pytest.mark.parametrize(
    "edit, tensors, why",
    [
        (_state("best_epoch_", float("inf")), None, "best_epoch_"),
        (_state("fold_in_l2_", 0), None, "fold_in_l2_"),
        (_params("kind", "auto"), None, r"\['kind'\] at 'auto'"),
        (None, _tensor("item_popularity_", -3.0), "item_popularity_ holds negative"),
        (_state("ranking_weights_", [1e300, 1e300]), None, "ranking_weights_"),
        (
            None,
            _tensor("utility_.data", 1e31),
            r"utility_ holds 9.99\d*e\+30, outside the rating scale",
        ),
        (None, _tensor("item_mean_", 9.0), "item_mean_ holds 9.0"),
        (_state("global_mean_", -2.0), None, "global_mean_"),
    ],
    ids=[
        "best-epoch-inf",
        "fold-in-l2-0",
        "kind-auto",
        "negative-popularity",
        "huge-ranking-weights",
        "utility-1e31",
        "item-mean-off-scale",
        "global-mean-off-scale",
    ],
)
def test_a_tampered_fitted_value_is_refused_on_load(saved_item, tmp_path, edit, tensors, why):
    path = rewrite(
        saved_item,
        tmp_path / "tampered.safetensors",
        edit=edit,
        tensors=None if tensors is None else tensors(saved_item),
    )
    with pytest.raises(ModelFormatError, match=named(path)) as info:
        AutoEncoderRecommender.load(path)
    assert info.match(why)


def test_a_blend_file_without_its_ranking_is_refused(saved_blend, tmp_path):
    def drop_ranking(header):
        del header["params"]["ranking"]

    path = rewrite(saved_blend, tmp_path / "blend.safetensors", edit=drop_ranking)
    with pytest.raises(ModelFormatError, match="ranking"):
        BlendRecommender.load(path)
    assert BlendRecommender.load(saved_blend).ranking == "hybrid"


@pytest.mark.parametrize(
    "ids", [[1.5] * 30, [True] * 30, [None] * 30], ids=["float", "bool", "null"]
)
def test_a_version_1_file_with_ids_of_the_wrong_type_is_a_format_error(tmp_path, ids):
    src = DATA / "v1_item_model_str_ids.safetensors"
    with safe_open(str(src), framework="pt") as handle:
        metadata = dict(handle.metadata())
        tensors = {k: handle.get_tensor(k) for k in handle.keys()}
    json_ids = {**json.loads(metadata["json_ids"]), "user_ids": ids}
    path = tmp_path / "v1.safetensors"
    save_file(tensors, str(path), metadata={**metadata, "json_ids": json.dumps(json_ids)})
    with pytest.raises(ModelFormatError, match=r"user_ids are invalid"):
        AutoEncoderRecommender.load(path)


@pytest.mark.parametrize(
    "weights",
    [{0: 1, 1: 1}, {1.0, 3.0}, (w for w in [1, 3])],
    ids=["dict", "set", "generator"],
)
def test_blend_weights_that_are_not_an_ordered_sequence_are_refused(ratings, weights):
    blend = BlendRecommender(
        [AutoEncoderRecommender(epochs=1), AutoEncoderRecommender(epochs=1)], weights=weights
    )
    with pytest.raises(TypeError, match="weights must be a sequence of numbers"):
        blend.fit(ratings)


def test_blend_weights_as_an_array_still_work(ratings, tmp_path):
    blend = BlendRecommender(
        [
            AutoEncoderRecommender(kind="user", epochs=1, random_state=0),
            AutoEncoderRecommender(kind="item", epochs=1, random_state=0),
        ],
        weights=np.array([1.0, 3.0]),
    ).fit(ratings)
    assert blend.weights_.tolist() == [0.25, 0.75]
    loaded = BlendRecommender.load(blend.save(tmp_path / "b.safetensors"))
    assert loaded.weights_.tolist() == [0.25, 0.75]
