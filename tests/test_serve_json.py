"""The API's recommendation rows are written from each movie's JSON encoded once: the
same bytes as encoding the rows with ``json.dumps``."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("fastapi")

from autorec import AutoEncoderRecommender
from autorec.datasets import make_ratings
from autorec.serve._app import _json
from autorec.serve._catalogue import Catalogue

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def served(one_torch_thread):
    ratings = make_ratings(n_users=60, n_items=30, n_ratings=800, random_state=0)
    model = AutoEncoderRecommender(hidden_layers=(6,), epochs=2, random_state=0).fit(ratings)
    items = np.sort(ratings.item_id.unique())
    titles = [f'Les Misérables "{i}" \\ (199{i % 10})' for i in items]
    movies = pd.DataFrame({"item_id": items[:-3], "title": titles[:-3], "genres": "Drama"})
    return model, Catalogue(model, movies), ratings


def test_rows_are_the_bytes_json_dumps_gives(served):
    model, catalogue, ratings = served
    for user in ratings.user_id.unique()[:8]:
        row = model._user_index([user])
        columns = model._block_columns(row, 12, True, True)
        text = catalogue.records_json(columns)
        assert text.encode() == _json(catalogue.records(columns))
        assert any(entry["because"] for entry in json.loads(text))
    mine = {int(i): 4.0 for i in ratings.item_id.unique()[:5]}
    columns = model._fold_in_columns(None, mine, 30, True, True)
    assert catalogue.records_json(columns).encode() == _json(catalogue.records(columns))


def test_a_value_json_cannot_hold_is_refused(served):
    model, catalogue, ratings = served
    columns = model._block_columns(model._user_index([ratings.user_id.iloc[0]]), 3, True, True)
    columns["score"] = columns["score"].copy()
    columns["score"][0] = np.nan
    with pytest.raises(ValueError, match="not JSON compliant"):
        catalogue.records_json(columns)
    with pytest.raises(ValueError, match="not JSON compliant"):
        _json(catalogue.records(columns))
