"""The ridge step at the end of the encoder (``refine_l2``): what it computes, that it
is trained through, and what it buys on the data it is for (user rows, few items)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.sparse as sp
import torch

import autorec._network as network
from autorec import AutoEncoderRecommender
from autorec._network import REFINE_BIAS_L2, AutoEncoderNet, _row_groups, encode_rows
from autorec._sparse import SparseRows
from autorec.datasets import make_ratings
from autorec.evaluation import split
from autorec.metrics import rmse

CPU = torch.device("cpu")


def _net(refine_l2: float, residual: bool = True) -> AutoEncoderNet:
    net = AutoEncoderNet(12, (4,), residual=residual, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():  # a decoder that is not zero, so the step has something to use
        net.output_weight.normal_(0.0, 0.5, generator=torch.Generator().manual_seed(1))
        net.output_bias.fill_(3.5)
    twin = AutoEncoderNet(12, (4,), residual=residual, refine_l2=refine_l2)
    twin.load_state_dict(net.state_dict())
    return twin


def _rows() -> sp.csr_matrix:
    dense = np.zeros((4, 12), dtype=np.float32)
    dense[0, [1, 4, 7]] = [5, 3, 4]
    dense[2, [0, 2, 3, 5, 6, 8, 9, 11]] = [1, 2, 5, 4, 4, 3, 2, 5]  # row 1: no rating
    dense[3, [10]] = [2]
    return sp.csr_matrix(dense)


@pytest.mark.parametrize("residual", [True, False])
def test_the_step_is_the_ridge_solution_of_each_rows_residuals(residual):
    l2 = 0.7
    plain, refined = _net(0.0, residual), _net(l2, residual)
    rows = _rows()
    before = encode_rows(plain.eval(), SparseRows(rows, CPU)).double().numpy()
    after = encode_rows(refined.eval(), SparseRows(rows, CPU)).double().numpy()
    weight = plain.output_weight.detach().double().numpy()
    bias = plain.output_bias.detach().double().numpy()
    for r in range(rows.shape[0]):
        cols = rows.indices[rows.indptr[r] : rows.indptr[r + 1]]
        ratings = rows.data[rows.indptr[r] : rows.indptr[r + 1]].astype(np.float64)
        design = np.hstack([weight[cols], np.ones((len(cols), 1))])
        residual_r = ratings - design @ before[r] - bias[cols]
        penalty = np.diag([l2] * weight.shape[1] + [REFINE_BIAS_L2])
        step = np.linalg.solve(design.T @ design + penalty, design.T @ residual_r)
        assert np.allclose(after[r], before[r] + step, atol=1e-5), r
    assert np.array_equal(after[1], before[1])  # no rating: nothing to refine on


def test_groups_of_rows_do_not_change_the_step(monkeypatch):
    net, rows = _net(1.0).eval(), _rows()
    whole = encode_rows(net, SparseRows(rows, CPU))
    monkeypatch.setattr(network, "REFINE_BLOCK", 1)  # every row a group of its own
    assert torch.allclose(encode_rows(net, SparseRows(rows, CPU)), whole, atol=1e-6)


@pytest.mark.parametrize("block", [1, 50, 500, 10**6])
def test_row_groups_cover_the_rows_in_order_within_the_block(monkeypatch, block):
    monkeypatch.setattr(network, "REFINE_BLOCK", block)
    lengths = np.random.default_rng(0).integers(0, 40, size=300)
    groups = _row_groups(lengths, width=5)
    assert groups[0][0] == 0 and groups[-1][1] == 300
    assert all(a[1] == b[0] for a, b in itertools.pairwise(groups))
    for start, stop in groups:
        longest = max(int(lengths[start:stop].max()), 5)  # the Gram matrices: 5 x 5 a row
        assert stop - start == 1 or (stop - start) * longest * 5 <= block


def test_training_runs_through_the_step():
    net, rows = _net(1.0).train(), _rows()
    b = SparseRows(rows, CPU).batch(torch.arange(rows.shape[0]))
    code = net.encode_masked(b.columns, b.offsets, b.values)
    loss = torch.mean((net.decode_at(code, b.rows, b.columns) - b.values) ** 2)
    loss.backward()
    rated = np.unique(rows.indices)
    assert net.output_weight.grad[rated].abs().sum() > 0  # through the step's design
    assert net.input_weight.grad.abs().sum() > 0  # and through the encoder's guess


@pytest.fixture(scope="module")
def planted():
    """Many users, few items: the shape the step is for (user rows, a narrow code)."""
    ratings = make_ratings(n_users=3000, n_items=40, n_ratings=30_000, random_state=0)
    return split(ratings, "standard", random_state=0)


@pytest.fixture(scope="module")
def refined(planted):
    return AutoEncoderRecommender(random_state=0, ranking="rating").fit(planted[0])


def test_the_step_beats_the_encoder_alone_on_many_users_and_few_items(planted, refined):
    train, test = planted
    assert refined.fit_params_["kind"] == "user" and refined.fit_params_["refine_l2"] == 1.0
    alone = AutoEncoderRecommender(random_state=0, ranking="rating", refine_l2=0).fit(train)
    with_step, without = (rmse(test["rating"], m.predict(test)) for m in (refined, alone))
    assert with_step < without - 0.005, (with_step, without)


def test_a_refined_model_folds_in_a_user_as_their_fitted_row(refined):
    user = 5
    row = refined.utility_[user]
    items, ratings = row.indices, row.data.astype(np.float64)
    fold_in = refined._fold_in_ratings(items, ratings)
    fitted = refined.predict_matrix([refined.user_map_.ids[user]], clip=False)[0]
    assert np.allclose(fold_in, fitted, atol=1e-4)


def test_a_refined_model_round_trips(refined, planted, tmp_path):
    loaded = AutoEncoderRecommender.load(refined.save(tmp_path / "r.safetensors"))
    assert loaded.fit_params_["refine_l2"] == 1.0 and loaded.module_.refine_l2 == 1.0
    test = planted[1]
    assert np.array_equal(loaded.predict(test), refined.predict(test))
