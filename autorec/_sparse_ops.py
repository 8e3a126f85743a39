"""The sparse products of the autoencoder's training, with backward passes of their own.

Both products read a batch in CSR order (a batch's ratings, row after row) and cost in
proportion to its ratings; their gradients run as embedding bags
(:func:`torch.nn.functional.embedding_bag`, ``"sum"`` mode, weighted), which on CPU are
several times faster than torch's sparse CSR products and its own embedding-bag backward:

* :class:`SparseInput`: the batch times a weight table (the first layer);
* :class:`SampledProduct`: the product of codes and output weights at the rated cells only
  (the decoder in training).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import torch
from torch import nn

__all__ = ["ByColumn", "SampledProduct", "SparseInput", "bag", "by_column"]


@dataclass(frozen=True)
class ByColumn:
    """A batch's cells in column order, what every gradient of a weight table needs:
    ``order`` (stable: by row within a column), where each column starts in that order
    (``starts``, an embedding bag's offsets) and each cell's row in the batch, in that
    order (``rows``). Computed once a training step (:func:`by_column`) and shared by
    the step's three table gradients instead of sorting the cells for each."""

    order: torch.Tensor
    starts: torch.Tensor
    rows: torch.Tensor


def by_column(columns: torch.Tensor, rows: torch.Tensor, n_columns: int) -> ByColumn:
    """:class:`ByColumn` of the cells at (``rows``, ``columns``), columns below
    ``n_columns``."""
    order, starts = _by_column(columns, n_columns)
    return ByColumn(order, starts, rows[order])


def _csr(
    crow: torch.Tensor, columns: torch.Tensor, values: torch.Tensor, shape: tuple[int, int]
) -> torch.Tensor:
    """A sparse CSR tensor (torch's one-time "beta" notice silenced)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return torch.sparse_csr_tensor(crow, columns, values, size=shape)


class SampledProduct(torch.autograd.Function):
    """``(code @ weight.T)[rows, columns]``, computing only those cells, forward and back.

    ``rows`` must be sorted (the cells in CSR order: a batch's ratings). Forward is
    :func:`torch.sparse.sampled_addmm` on the cells' pattern; the gradients are two sparse
    x dense products, ``G @ weight`` for the codes and ``Gᵀ @ code`` for the weights, with
    ``G`` the cells' gradients in the same pattern: ``3 x cells x width`` multiply-adds in
    all, instead of ``3 x rows x columns x width`` for the dense product. Both run as
    embedding bags (``Gᵀ`` through the cells sorted by column), two to four times faster
    than torch's sparse CSR products on CPU.
    """

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: object,
        code: torch.Tensor,
        weight: torch.Tensor,
        rows: torch.Tensor,
        columns: torch.Tensor,
        transposed: ByColumn | None = None,
    ) -> torch.Tensor:
        """The products at the cells (one value per cell, in the cells' order);
        ``transposed``: the cells' :class:`ByColumn` when already computed."""
        n_rows, n_columns = code.shape[0], weight.shape[0]
        crow = torch.searchsorted(rows, torch.arange(n_rows + 1, device=rows.device))
        pattern = _csr(crow, columns, code.new_zeros(columns.numel()), (n_rows, n_columns))
        out = torch.sparse.sampled_addmm(pattern, code, weight.T, beta=0.0).values()
        ctx.save_for_backward(code, weight, rows, columns, crow)  # type: ignore[attr-defined]
        ctx.transposed = transposed  # type: ignore[attr-defined]
        return out

    @staticmethod
    def backward(ctx: object, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:  # type: ignore[override]
        """The gradients of the codes and of the weights (none for the cells)."""
        code, weight, rows, columns, crow = ctx.saved_tensors  # type: ignore[attr-defined]
        grad = grad.contiguous()
        grad_code = grad_weight = None
        if ctx.needs_input_grad[0]:  # type: ignore[attr-defined]
            grad_code = nn.functional.embedding_bag(
                columns, weight, crow[:-1], mode="sum", per_sample_weights=grad
            )
        if ctx.needs_input_grad[1]:  # type: ignore[attr-defined]
            cells = ctx.transposed  # type: ignore[attr-defined]
            if cells is None:
                cells = by_column(columns, rows, weight.shape[0])
            grad_weight = nn.functional.embedding_bag(
                cells.rows, code, cells.starts, mode="sum", per_sample_weights=grad[cells.order]
            )
        return grad_code, grad_weight, None, None, None


def bag(
    table: torch.Tensor,
    columns: torch.Tensor,
    offsets: torch.Tensor,
    weights: torch.Tensor,
    transposed: ByColumn | None = None,
) -> torch.Tensor:
    """Per row of a CSR batch: the sum of ``table``'s rows at ``columns``, weighted
    (:class:`SparseInput` when ``table`` needs a gradient, ``weights`` none;
    ``transposed``: the batch's :class:`ByColumn` when already computed)."""
    if torch.is_grad_enabled() and table.requires_grad and not weights.requires_grad:
        return SparseInput.apply(table, columns, offsets, weights, transposed)
    return nn.functional.embedding_bag(
        columns, table, offsets, mode="sum", per_sample_weights=weights
    )


def _by_column(columns: torch.Tensor, n_columns: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The cells re-ordered by column (stable: by row within a column) and where each
    column starts in that order: the transposed pattern, as an embedding bag's
    (order, offsets)."""
    order = torch.argsort(columns, stable=True)
    starts = torch.searchsorted(
        columns[order], torch.arange(n_columns, device=columns.device, dtype=columns.dtype)
    )
    return order, starts


def _cell_rows(offsets: torch.Tensor, n_cells: int) -> torch.Tensor:
    """The row (in the batch) of each cell of a CSR batch."""
    lengths = torch.diff(offsets, append=offsets.new_tensor([n_cells]))
    rows = torch.arange(offsets.numel(), device=offsets.device)
    return torch.repeat_interleave(rows, lengths, output_size=n_cells)


class SparseInput(torch.autograd.Function):
    """A sparse CSR batch times ``table`` (an embedding bag, ``"sum"`` mode, weighted),
    whose backward is an embedding bag too: the gradient of ``table`` is the transposed
    batch times the output's gradient, summed per column: on CPU (MovieLens-1M's item
    rows, one thread) about twice as fast as torch's embedding-bag backward, which
    zeroes, sorts and scatters into a dense gradient.
    """

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: object,
        table: torch.Tensor,
        columns: torch.Tensor,
        offsets: torch.Tensor,
        weights: torch.Tensor,
        transposed: ByColumn | None = None,
    ) -> torch.Tensor:
        """The weighted sums (one row per bag)."""
        ctx.save_for_backward(columns, offsets, weights)  # type: ignore[attr-defined]
        ctx.n_table = table.shape[0]  # type: ignore[attr-defined]
        ctx.transposed = transposed  # type: ignore[attr-defined]
        return nn.functional.embedding_bag(
            columns, table, offsets, mode="sum", per_sample_weights=weights
        )

    @staticmethod
    def backward(ctx: object, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:  # type: ignore[override]
        """The gradient of ``table`` only."""
        columns, offsets, weights = ctx.saved_tensors  # type: ignore[attr-defined]
        cells = ctx.transposed  # type: ignore[attr-defined]
        if cells is None:
            rows = _cell_rows(offsets, columns.numel())
            cells = by_column(columns, rows, ctx.n_table)  # type: ignore[attr-defined]
        grad_table = nn.functional.embedding_bag(
            cells.rows,
            grad.contiguous(),
            cells.starts,
            mode="sum",
            per_sample_weights=weights[cells.order],
        )
        return grad_table, None, None, None, None
