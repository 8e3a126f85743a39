"""Batches of sparse rows as torch tensors, without ever densifying a batch."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch


@dataclass
class RowBatch:
    """The ratings of a batch of rows, back to back (CSR order)."""

    columns: torch.Tensor  # int64, column of each rating
    offsets: torch.Tensor  # int64, start of each row in ``columns``
    values: torch.Tensor  # float32, the ratings
    rows: torch.Tensor  # int64, position in the batch of each rating's row


class SparseRows:
    """A CSR matrix kept as three torch tensors, from which row batches are cut.

    Parameters
    ----------
    matrix : scipy.sparse matrix
        Rows x columns ratings; converted to CSR with sorted indices.
    device : torch.device
        Where the tensors live.
    """

    def __init__(self, matrix: sp.spmatrix | sp.sparray, device: torch.device) -> None:
        csr = sp.csr_matrix(matrix, dtype=np.float32)
        csr.sort_indices()
        self.shape = csr.shape
        self.nnz = int(csr.nnz)
        # Index arrays of 32 bits where they fit (half the memory of the column of each
        # rating: 76 MB at 20 million); batches widen what they cut to int64.
        index = np.int32 if max(csr.nnz, *csr.shape) < np.iinfo(np.int32).max else np.int64
        self.indptr = torch.from_numpy(csr.indptr.astype(index, copy=False)).to(device)
        self.indices = torch.from_numpy(csr.indices.astype(index, copy=False)).to(device)
        self.values = torch.from_numpy(csr.data.astype(np.float32)).to(device)
        self.device = device

    def to_csr(self) -> sp.csr_matrix:
        """The matrix back as SciPy CSR (sharing the tensors' memory on the CPU)."""
        parts = (self.values, self.indices, self.indptr)
        return sp.csr_matrix(tuple(t.cpu().numpy() for t in parts), shape=self.shape)

    def row_lengths(self) -> torch.Tensor:
        return (self.indptr[1:] - self.indptr[:-1]).long()

    def batch(self, rows: torch.Tensor) -> RowBatch:
        """Cut the given rows (a 1-D int64 tensor on ``self.device``)."""
        starts = self.indptr[rows].long()
        lengths = self.indptr[rows + 1].long() - starts
        offsets = torch.cumsum(lengths, 0) - lengths
        total = int(lengths.sum())
        positions = torch.repeat_interleave(starts - offsets, lengths, output_size=total)
        positions += torch.arange(total, device=self.device)
        row_ids = torch.repeat_interleave(
            torch.arange(len(rows), device=self.device), lengths, output_size=total
        )
        return RowBatch(self.indices[positions].long(), offsets, self.values[positions], row_ids)
