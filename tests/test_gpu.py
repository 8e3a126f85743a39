"""Training and predicting on a CUDA device (skipped on machines without one).

The rest of the suite runs on CUDA too where there is one (``device="auto"``); this file
holds what only a GPU can show: that a model really trains there, that the GPU's results
agree with the CPU's to float32 round-off (the same kernels are not available on both, so
the last bits can differ), and that a GPU-trained model saved and loaded on the CPU is
the same model for every practical purpose.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from autorec import AutoEncoderRecommender, BlendRecommender
from autorec.datasets import make_ratings
from autorec.evaluation import split
from autorec.metrics import rmse

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")

SMALL = {"hidden_layers": (16,), "epochs": 8, "learning_rate": 1e-2, "random_state": 0}


@pytest.fixture(scope="module")
def ratings() -> pd.DataFrame:
    return make_ratings(n_users=300, n_items=120, n_ratings=9000, random_state=0)


@pytest.mark.parametrize("kind", ["user", "item"])
def test_a_fit_on_cuda_trains_there_and_predicts_like_the_cpu(ratings, kind):
    gpu = AutoEncoderRecommender(**SMALL, kind=kind, device="cuda").fit(ratings)
    assert gpu.device_.type == "cuda"
    assert all(p.device.type == "cuda" for p in gpu.module_.parameters())
    cpu = AutoEncoderRecommender(**SMALL, kind=kind, device="cpu").fit(ratings)
    # Same seed, same data, same random draws (they come from CPU generators on both):
    # the first epoch agrees to round-off, which then compounds, so later epochs (and the
    # epoch kept) may differ a little; the two models are equally good.
    assert np.isclose(gpu.history_["val_rmse"][0], cpu.history_["val_rmse"][0], atol=1e-3)
    truth = ratings["rating"].to_numpy()
    rmse_gpu, rmse_cpu = (rmse(truth, m.predict(ratings)) for m in (gpu, cpu))
    assert abs(rmse_gpu - rmse_cpu) < 0.01, (rmse_gpu, rmse_cpu)
    assert isinstance(gpu.predict(ratings), np.ndarray)


def test_a_gpu_model_loaded_on_the_cpu_predicts_and_recommends_the_same(ratings, tmp_path):
    gpu = AutoEncoderRecommender(**SMALL, kind="item", device="cuda").fit(ratings)
    cpu = AutoEncoderRecommender.load(gpu.save(tmp_path / "m.safetensors"), device="cpu")
    assert cpu.device_ == torch.device("cpu")
    assert np.allclose(cpu.predict(ratings), gpu.predict(ratings), atol=1e-4)
    matrix_gpu, matrix_cpu = gpu.predict_matrix(clip=False), cpu.predict_matrix(clip=False)
    assert np.allclose(matrix_cpu, matrix_gpu, atol=1e-4)
    users = gpu.user_map_.ids[:20]
    top_gpu, top_cpu = gpu.recommend(users, k=10), cpu.recommend(users, k=10)
    # the same lists, except where two scores tie to round-off
    lists_gpu = top_gpu.groupby("user_id")["item_id"].apply(set)
    lists_cpu = top_cpu.groupby("user_id")["item_id"].apply(set)
    assert lists_gpu.index.equals(lists_cpu.index)  # (a user who rated everything has none)
    shared = [len(lists_gpu[u] & lists_cpu[u]) / len(lists_gpu[u]) for u in lists_gpu.index]
    assert np.mean(shared) >= 0.95, shared
    back = AutoEncoderRecommender.load(cpu.save(tmp_path / "cpu.safetensors"), device="cuda")
    assert back.device_.type == "cuda"
    assert np.array_equal(back.predict(ratings), gpu.predict(ratings))


@pytest.mark.parametrize("kind", ["user", "item"])
def test_one_users_scores_do_not_depend_on_who_is_asked_with_them_on_cuda(ratings, kind):
    model = AutoEncoderRecommender(**SMALL, kind=kind, device="cuda").fit(ratings)
    full = model.predict_matrix(clip=False)
    for positions in ([3], [3, 9], list(range(5, 40)), list(range(299, 0, -7))):
        subset = model.predict_matrix(model.user_map_.ids[positions], clip=False)
        assert np.array_equal(subset, full[positions])


def test_fold_in_and_a_blend_on_cuda(ratings):
    parts = [
        AutoEncoderRecommender(**SMALL, kind="user", device="cuda"),
        AutoEncoderRecommender(**SMALL, kind="item", device="cuda"),
    ]
    train, test = split(ratings, "standard", random_state=0)
    blend = BlendRecommender(parts, random_state=0).fit(train)
    assert {m.device_.type for m in blend.estimators_} == {"cuda"}
    assert np.isfinite(blend.predict(test)).all()
    user = train["user_id"].iloc[0]
    own = train[train["user_id"] == user]
    mine = dict(zip(own["item_id"], own["rating"], strict=True))
    top = blend.recommend(None, k=10, user_ratings=mine)
    assert len(top) == 10 and not set(top["item_id"]) & set(mine)
