"""The decoder at rated cells: the sampled product and the dense one compute the same."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import torch

import autorec._network as network
from autorec._network import AutoEncoderNet
from autorec._sparse import SparseRows
from autorec._sparse_ops import SampledProduct, SparseInput

CPU = torch.device("cpu")


def _batch(density: float, seed: int = 0):
    rows = sp.random(40, 300, density=density, format="csr", random_state=seed, dtype=np.float32)
    rows.data = np.ceil(rows.data * 5)
    return SparseRows(rows, CPU).batch(torch.arange(40))


def _outputs_and_grads(net: AutoEncoderNet, b, density_threshold: float, monkeypatch):
    monkeypatch.setattr(network, "SAMPLED_DECODE_DENSITY", density_threshold)
    net.zero_grad(set_to_none=True)
    code = net.encode(b.columns, b.offsets, b.values)
    out = net.decode_at(code, b.rows, b.columns)
    torch.mean((out - b.values) ** 2).backward()
    grads = [p.grad.clone() for p in (net.output_weight, net.input_weight, net.output_bias)]
    return out.detach(), grads


@pytest.mark.parametrize("residual", [False, True])
def test_sampled_decode_matches_the_dense_one_values_and_gradients(residual, monkeypatch):
    b = _batch(0.05)
    net = AutoEncoderNet(300, (16,), generator=torch.Generator().manual_seed(0), residual=residual)
    with torch.no_grad():
        net.output_weight.normal_(generator=torch.Generator().manual_seed(1))
    dense, dense_grads = _outputs_and_grads(net, b, 0.0, monkeypatch)  # never sampled
    sampled, sampled_grads = _outputs_and_grads(net, b, 1.1, monkeypatch)  # always sampled
    torch.testing.assert_close(sampled, dense, rtol=1e-5, atol=1e-5)
    for got, want in zip(sampled_grads, dense_grads, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)


def test_sampled_product_is_the_product_at_the_cells_in_csr_order():
    gen = torch.Generator().manual_seed(2)
    code = torch.randn(5, 3, generator=gen, requires_grad=True)
    weight = torch.randn(7, 3, generator=gen, requires_grad=True)
    rows = torch.tensor([0, 0, 2, 3, 3, 3])  # row 1 and row 4: no cell
    columns = torch.tensor([1, 6, 0, 2, 3, 6])
    out = SampledProduct.apply(code, weight, rows, columns)
    torch.testing.assert_close(out, (code @ weight.T)[rows, columns])
    assert torch.autograd.gradcheck(
        lambda c, w: SampledProduct.apply(c, w, rows, columns),
        (code.double().detach().requires_grad_(), weight.double().detach().requires_grad_()),
    )


def test_sparse_input_matches_the_embedding_bag_values_and_gradients():
    b = _batch(0.01, seed=3)
    assert (torch.diff(b.offsets) == 0).any()  # some rows hold no rating: empty bags
    gen = torch.Generator().manual_seed(4)
    table = torch.randn(300, 6, generator=gen, requires_grad=True)
    weights = torch.rand(b.values.shape, generator=gen)
    out = SparseInput.apply(table, b.columns, b.offsets, weights)
    want = torch.nn.functional.embedding_bag(
        b.columns, table, b.offsets, mode="sum", per_sample_weights=weights
    )
    torch.testing.assert_close(out, want)
    grad = torch.randn(out.shape, generator=gen)
    (got,) = torch.autograd.grad(out, table, grad)
    (expected,) = torch.autograd.grad(want, table, grad)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-6)
    assert torch.autograd.gradcheck(
        lambda t: SparseInput.apply(t, b.columns, b.offsets, weights.double()),
        (table.double().detach().requires_grad_(),),
    )


def test_cells_out_of_csr_order_or_without_gradients_take_the_gather_path(monkeypatch):
    # Predictions and validation (no gradients) keep the gather: the same bits as before.
    monkeypatch.setattr(network, "DENSE_DECODE_DENSITY", 1.1)
    monkeypatch.setattr(network, "SAMPLED_DECODE_DENSITY", 1.1)
    net = AutoEncoderNet(30, (4,), generator=torch.Generator().manual_seed(0))
    code = torch.randn(6, 5, generator=torch.Generator().manual_seed(3))
    monkeypatch.setattr(SampledProduct, "apply", lambda *a: pytest.fail("sampled"))
    for rows, columns in [
        (torch.tensor([3, 0, 5, 0]), torch.tensor([1, 2, 29, 0])),  # not in CSR order
        (torch.tensor([0, 0, 3, 5]), torch.tensor([1, 2, 29, 0])),  # sorted, no gradients
    ]:
        with torch.no_grad():
            expected = net.decode(code)[rows, columns]
            torch.testing.assert_close(net.decode_at(code, rows, columns), expected)
    with pytest.raises(pytest.fail.Exception, match="sampled"):  # sorted, with gradients
        net.decode_at(code, torch.tensor([0, 0, 3, 5]), torch.tensor([1, 2, 29, 0]))
