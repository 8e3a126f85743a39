"""The PyTorch autoencoder behind :class:`autorec.AutoEncoderRecommender`.

The network is the classic AutoRec / reference-notebook design: a row of the utility
matrix goes in, a dense stack of hidden layers follows, and a linear layer gives one
output per column. Two facts make it fast on sparse ratings without changing the
function it computes:

* the first layer multiplies a *sparse* row by a weight matrix; this is an
  :class:`torch.nn.EmbeddingBag` in ``"sum"`` mode weighted by the ratings, which costs
  O(number of ratings) instead of O(number of columns);
* the masked loss only needs the outputs at rated columns, so during training the last
  layer is evaluated only there (:meth:`AutoEncoderNet.decode_at`); the full output row is
  computed only when a whole row of predictions is asked for (:meth:`AutoEncoderNet.decode`).

With ``refine_l2 > 0`` the encoder ends in one closed-form step (:meth:`AutoEncoderNet.refine`):
each row's code is corrected by the ridge regression of the row's own residuals on the
decoder's weights at its rated columns, the way matrix factorisation solves a user's
factors (semi-amortized inference: the encoder's guess, then one exact step). Training
runs through the step, so the decoder learns weights that the step uses well.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from ._pages import ordinary_pages
from ._sparse import SparseRows
from ._sparse_ops import ByColumn, SampledProduct, bag

#: Without gradients (validation, predictions), above this fraction of rated cells among
#: the asked rows x columns the outputs are computed densely (the whole product, then the
#: cells), below it by a gather of the needed weight rows, one dot product per cell.
DENSE_DECODE_DENSITY = 0.01
#: In training, below this fraction of rated cells in a batch only the rated cells are
#: computed, forward and backward (:class:`SampledProduct`); above it the dense product.
#: Dense BLAS does about 25 times more multiply-adds a second than the sparse kernels:
#: measured with one torch thread, 256 rows x 500 units x 6,040 columns, forward and
#: backward, the sampled product takes a third of the dense one's CPU time at 0.5%
#: density, two thirds at 3% (MovieLens-1M's item rows: a 23% shorter epoch of steps),
#: about as long at 5%.
SAMPLED_DECODE_DENSITY = 0.04
#: The ridge penalty on the row's bias (the code's last entry) in :meth:`AutoEncoderNet.refine`
#: (that of the bias model: ``autorec._fitting.BIAS_REG``).
REFINE_BIAS_L2 = 5.0
#: :meth:`AutoEncoderNet.refine` works on groups of rows whose padded design matrices and
#: Gram matrices hold at most this many numbers each (bounds its memory on long rows and
#: wide codes).
REFINE_BLOCK = 1 << 23

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "sigmoid": nn.Sigmoid,
    "relu": nn.ReLU,
    "selu": nn.SELU,
    "silu": nn.SiLU,
    "elu": nn.ELU,
    "tanh": nn.Tanh,
    "gelu": nn.GELU,
    "leaky_relu": nn.LeakyReLU,
    "identity": nn.Identity,
}


class AutoEncoderNet(nn.Module):
    """Autoencoder over sparse rows of a utility matrix.

    Parameters
    ----------
    n_columns : int
        Length of an input row (items in user mode, users in item mode). It is also
        the number of outputs.
    hidden_layers : sequence of int
        Widths of the hidden layers, at least one.
    activation : str
        Name of the activation applied after every hidden layer (see ``ACTIVATIONS``).
    dropout : float
        Dropout probability applied after every hidden activation.
    output_bias : float
        Initial value of the output biases (the mean training rating is a good start).
    generator : torch.Generator, optional
        Source of randomness for the initial weights.
    residual : bool
        Learn the residual of a bias model (see ``input_shift`` below).
    refine_l2 : float
        Ridge penalty of the refinement step at the end of the encoder (0: no step).
    input_fan_in : float, optional
        The number of ratings a row holds (on average). Given, the first layer's weights
        start uniform within ``sqrt(6 / (input_fan_in + width))`` (Glorot's rule with the
        ratings a sparse row feeds in as its fan-in), several times wider than the default
        ``1 / sqrt(n_columns)`` (``nn.Linear``'s rule for a dense row), under which every
        row's code starts almost the same (a short training schedule needs the former).
    """

    def __init__(
        self,
        n_columns: int,
        hidden_layers: Sequence[int],
        activation: str = "sigmoid",
        dropout: float = 0.0,
        output_bias: float = 0.0,
        generator: torch.Generator | None = None,
        residual: bool = False,
        refine_l2: float = 0.0,
        input_fan_in: float | None = None,
    ) -> None:
        super().__init__()
        widths = [int(h) for h in hidden_layers]
        self.n_columns = int(n_columns)
        self.residual = bool(residual)
        self.refine_l2 = float(refine_l2)
        self.input_weight = nn.Parameter(torch.empty(self.n_columns, widths[0]))
        # residual: the first layer reads the centred ratings through input_weight and
        # *which* columns were rated through implicit_weight (like SVD++'s implicit term)
        self.implicit_weight = (
            nn.Parameter(torch.empty(self.n_columns, widths[0])) if self.residual else None
        )
        self.input_bias = nn.Parameter(torch.empty(widths[0]))
        layers: list[nn.Module] = []
        for w_in, w_out in itertools.pairwise(widths):
            layers += [ACTIVATIONS[activation](), nn.Dropout(dropout), nn.Linear(w_in, w_out)]
        layers += [ACTIVATIONS[activation](), nn.Dropout(dropout)]
        self.hidden = nn.Sequential(*layers)
        self.output_weight = nn.Parameter(torch.empty(self.n_columns, widths[-1]))
        self.output_bias = nn.Parameter(torch.full((self.n_columns,), float(output_bias)))
        # The bias model the network learns the residual of (``residual=True``; unused
        # otherwise): ``input_shift`` holds each column's mu + b_col, the ratings centred
        # by it feed input_weight, and every row's code carries, in its last entry, the
        # row's bias ``sum(centred) / (count + row_shrink)`` (0 without residual), added to
        # each of its outputs. Computed from the row's inputs, a new row gets one too.
        self.register_buffer("input_shift", torch.zeros(self.n_columns))
        self.register_buffer("row_shrink", torch.tensor(0.0))
        self._init_weights(generator, input_fan_in)

    def _init_weights(self, generator: torch.Generator | None, fan_in: float | None) -> None:
        # The same rule as nn.Linear: U(-1/sqrt(fan_in), 1/sqrt(fan_in)); the first layer's
        # by Glorot's rule over the ratings a row holds when ``fan_in`` is given.
        with torch.no_grad():
            bound = 1.0 / math.sqrt(self.n_columns)
            if fan_in is not None:
                bound = math.sqrt(6.0 / (max(float(fan_in), 1.0) + self.input_bias.numel()))
            self.input_weight.uniform_(-bound, bound, generator=generator)
            if self.implicit_weight is not None:
                self.implicit_weight.uniform_(-bound, bound, generator=generator)
            self.input_bias.uniform_(-bound, bound, generator=generator)
            for module in self.hidden:
                if isinstance(module, nn.Linear):
                    bound = 1.0 / math.sqrt(module.in_features)
                    module.weight.uniform_(-bound, bound, generator=generator)
                    module.bias.uniform_(-bound, bound, generator=generator)
            bound = 1.0 / math.sqrt(self.output_weight.shape[1])
            self.output_weight.uniform_(-bound, bound, generator=generator)

    def weight_parameters(self) -> list[nn.Parameter]:
        """The weight matrices (the parameters that weight decay applies to)."""
        implicit = [] if self.implicit_weight is None else [self.implicit_weight]
        return [self.input_weight, *implicit, self.output_weight] + [
            m.weight for m in self.hidden if isinstance(m, nn.Linear)
        ]

    def bias_parameters(self) -> list[nn.Parameter]:
        """The bias vectors (never decayed)."""
        return [self.input_bias, self.output_bias] + [
            m.bias for m in self.hidden if isinstance(m, nn.Linear)
        ]

    def encode(
        self, columns: torch.Tensor, offsets: torch.Tensor, values: torch.Tensor
    ) -> torch.Tensor:
        """Hidden code of a batch of sparse rows given in CSR form.

        ``columns`` and ``values`` hold the rated columns and their ratings of all rows
        back to back; ``offsets`` holds where each row starts. The code has one entry
        more than the last hidden layer: the row's bias (0 without ``residual``).
        """
        return self.encode_masked(columns, offsets, values)

    def encode_masked(
        self,
        columns: torch.Tensor,
        offsets: torch.Tensor,
        values: torch.Tensor,
        keep: torch.Tensor | None = None,
        keep_rate: float = 1.0,
        transposed: ByColumn | None = None,
    ) -> torch.Tensor:
        """:meth:`encode` with some ratings hidden (denoising): ``keep`` is 1 for the
        ratings shown, 0 for those hidden; the shown ones reach the hidden layers scaled by
        ``1 / keep_rate``, and the row's bias (and the refinement step) use the shown ones
        only. ``transposed``: the batch's cells by column (for the gradients), when
        already computed."""
        shown = torch.ones_like(values) if keep is None else keep
        if not self.residual:
            first = bag(self.input_weight, columns, offsets, values * shown / keep_rate, transposed)
            code = self.hidden(first + self.input_bias)
            code = torch.cat([code, code.new_zeros(code.shape[0], 1)], dim=1)
        else:
            centred = (values - self.input_shift[columns]) * shown
            first = bag(self.input_weight, columns, offsets, centred / keep_rate, transposed)
            first = first + bag(
                self.implicit_weight, columns, offsets, shown / keep_rate, transposed
            )
            code = self.hidden(first + self.input_bias)
            one = torch.ones((1, 1), dtype=values.dtype, device=values.device)
            row = torch.zeros_like(columns)  # every rating into the one-entry table
            total, count = (bag(one, row, offsets, w) for w in (centred, shown))
            bias = total / (count + self.row_shrink).clamp_min(1e-12)
            code = torch.cat([code, bias], dim=1)
        if self.refine_l2 > 0 and columns.numel():
            code = self.refine(code, columns, offsets, values, shown)
        return code

    def refine(
        self,
        code: torch.Tensor,
        columns: torch.Tensor,
        offsets: torch.Tensor,
        values: torch.Tensor,
        shown: torch.Tensor,
    ) -> torch.Tensor:
        """Each row's code plus the ridge solution ``d`` of its residuals on the decoder::

            d = argmin  sum_j (x_j . (c + d) + b_j - r_j)^2 + refine_l2 |d_hidden|^2
                                                       + REFINE_BIAS_L2 d_bias^2

        over the row's shown ratings ``r_j`` at columns ``j``, with ``x_j`` the decoder's
        weights at ``j`` and a 1 for the row's bias, ``b_j`` the output bias: one exact
        step from the encoder's code towards the code that best explains the row's own
        ratings (a row with no rating keeps its code). Differentiable.
        """
        n_rows, width = code.shape
        n = columns.numel()
        lengths = torch.diff(offsets, append=offsets.new_tensor([n]))
        row = torch.repeat_interleave(
            torch.arange(n_rows, device=code.device), lengths, output_size=n
        )
        x = torch.cat([self.output_weight[columns], values.new_ones(n, 1)], dim=1)
        residual = (values - (code[row] * x).sum(dim=1) - self.output_bias[columns]) * shown
        x = x * shown[:, None]
        penalty = torch.full((width,), self.refine_l2, dtype=code.dtype, device=code.device)
        penalty[-1] = REFINE_BIAS_L2
        # Rows in groups whose padded design (rows x longest row x width) and Gram matrices
        # (rows x width x width) fit REFINE_BLOCK.
        steps = [
            self._ridge_step(x, residual, row, offsets, lengths, start, stop, penalty)
            for start, stop in _row_groups(lengths.cpu().numpy(), width)
        ]
        return code + torch.cat(steps)

    @staticmethod
    def _ridge_step(
        x: torch.Tensor,
        residual: torch.Tensor,
        row: torch.Tensor,
        offsets: torch.Tensor,
        lengths: torch.Tensor,
        start: int,
        stop: int,
        penalty: torch.Tensor,
    ) -> torch.Tensor:
        """The ridge corrections of rows ``start:stop`` (see :meth:`refine`)."""
        first = int(offsets[start])
        last = int(offsets[stop - 1] + lengths[stop - 1])
        local = row[first:last] - start
        position = torch.arange(first, last, device=x.device) - offsets[row[first:last]]
        longest = max(int(lengths[start:stop].max()), 1)
        design = x.new_zeros(stop - start, longest, x.shape[1])
        design = design.index_put((local, position), x[first:last])
        target = residual.new_zeros(stop - start, longest)
        target = target.index_put((local, position), residual[first:last])
        gram = design.transpose(1, 2) @ design + torch.diag(penalty)
        return torch.linalg.solve(gram, (design.transpose(1, 2) @ target[..., None]))[..., 0]

    def decode_at(
        self,
        code: torch.Tensor,
        rows: torch.Tensor,
        columns: torch.Tensor,
        transposed: ByColumn | None = None,
    ) -> torch.Tensor:
        """Outputs at the given (row of the batch, column) positions only.

        Three ways compute them: a dense batch x columns product followed by a gather,
        when the cells are dense enough; below that, in training (gradients on, cells
        in CSR order: ``SAMPLED_DECODE_DENSITY``), the sampled product
        (:class:`~autorec._sparse_ops.SampledProduct`), forward and backward at the cells
        only; without gradients (predictions: ``DENSE_DECODE_DENSITY``) a gather of the
        needed weight rows and one dot product per cell. The last two cost in proportion
        to the cells only (what keeps very sparse, very wide data cheap); all three agree
        up to float32 rounding. ``transposed``: the cells by column, for the sampled
        product's gradient, when already computed.
        """
        cells = code.shape[0] * self.n_columns
        training = (
            torch.is_grad_enabled()
            and rows.numel() > 0
            and bool((rows[1:] >= rows[:-1]).all())  # a training batch: CSR order
        )
        if training and rows.numel() < SAMPLED_DECODE_DENSITY * cells:
            product = SampledProduct.apply(
                code[:, :-1], self.output_weight, rows, columns, transposed
            )
        elif training or rows.numel() >= DENSE_DECODE_DENSITY * cells:
            return self.decode(code)[rows, columns]
        else:
            product = (code[rows, :-1] * self.output_weight[columns]).sum(dim=1)
        return product + self.output_bias[columns] + code[rows, -1]

    def decode(self, code: torch.Tensor) -> torch.Tensor:
        """Every output of each row of the batch (batch x n_columns)."""
        return torch.addmm(self.output_bias, code[:, :-1], self.output_weight.T) + code[:, -1:]


def _row_groups(lengths: np.ndarray, width: int) -> list[tuple[int, int]]:
    """Consecutive (start, stop) groups of rows whose padded design (rows x longest row x
    ``width``) and Gram matrices (rows x ``width`` x ``width``) hold at most
    :data:`REFINE_BLOCK` numbers each (a row too long for that: a group alone)."""
    groups, start, n_rows = [], 0, len(lengths)
    while start < n_rows:
        stop, longest = start + 1, max(int(lengths[start]), width)
        while stop < n_rows:
            wider = max(longest, int(lengths[stop]))
            if (stop + 1 - start) * wider * width > REFINE_BLOCK:
                break
            stop, longest = stop + 1, wider
        groups.append((start, stop))
        start = stop
    return groups


#: Rows encoded at once when coding a whole matrix.
CHUNK_ROWS = 2048


def encode_rows(module: AutoEncoderNet, rows: SparseRows) -> torch.Tensor:
    """Hidden codes of every row of ``rows``, computed in chunks of ``CHUNK_ROWS``."""
    codes = []
    with torch.no_grad():
        for start in range(0, rows.shape[0], CHUNK_ROWS):
            index = torch.arange(start, min(start + CHUNK_ROWS, rows.shape[0]), device=rows.device)
            b = rows.batch(index)
            codes.append(module.encode(b.columns, b.offsets, b.values))
    if not codes:
        return torch.empty(0, module.output_weight.shape[1] + 1, device=rows.device)
    return torch.cat(codes)


def decode_pairs(
    module: AutoEncoderNet, codes: torch.Tensor, rows: np.ndarray, cols: np.ndarray
) -> np.ndarray:
    """Outputs at (row, column) pairs from the rows' codes, as float32, in chunks."""
    out = np.empty(len(rows), dtype=np.float32)
    step = 1 << 16
    device = codes.device
    with torch.no_grad():
        for start in range(0, len(rows), step):
            r = torch.from_numpy(np.ascontiguousarray(rows[start : start + step])).to(device)
            c = torch.from_numpy(np.ascontiguousarray(cols[start : start + step])).to(device)
            out[start : start + len(r)] = module.decode_at(codes, r, c).cpu().numpy()
    return out


def predict_at(
    module: AutoEncoderNet, rows: SparseRows, row_index: np.ndarray, col_index: np.ndarray
) -> np.ndarray:
    """Outputs at (row, column) pairs, encoding every row of ``rows`` first."""
    return decode_pairs(module, encode_rows(module, rows), row_index, col_index)


def predict_cells(
    module: AutoEncoderNet, rows: SparseRows, row_index: np.ndarray, col_index: np.ndarray
) -> np.ndarray:
    """:func:`predict_at` through the sampled product (:class:`SampledProduct`'s forward):
    one pass over the cells in row order, without gathering a weight row per cell (what
    validation scores every epoch; equal to :func:`predict_at` up to float32 rounding)."""
    order = None if bool(np.all(row_index[1:] >= row_index[:-1])) else np.argsort(row_index)
    if order is not None:
        row_index, col_index = row_index[order], col_index[order]
    with torch.no_grad():
        codes = encode_rows(module, rows)
        r = torch.from_numpy(np.ascontiguousarray(row_index, dtype=np.int64)).to(rows.device)
        c = torch.from_numpy(np.ascontiguousarray(col_index, dtype=np.int64)).to(rows.device)
        out = SampledProduct.apply(codes[:, :-1], module.output_weight, r, c)
        out = (out + module.output_bias[c] + codes[r, -1]).cpu().numpy()
    if order is not None:
        out[order] = out.copy()
    return out


def user_rows(
    module: AutoEncoderNet, kind: str, codes: torch.Tensor, users: torch.Tensor
) -> torch.Tensor:
    """Every output for the given users (len(users) x items): the decoded user rows of a
    user model, or the user output units over every item's code of an item model."""
    if kind == "user":
        return module.decode(codes[users])
    out = torch.addmm(
        module.output_bias[users].unsqueeze(1), module.output_weight[users], codes[:, :-1].T
    )
    return out + codes[:, -1]


#: Users decoded at once by :func:`rating_block`.
CHUNK_USERS = 2048
#: :func:`rating_block` pads each chunk of users to a multiple of this (see there).
PAD_ROWS = 16


@ordinary_pages()
def rating_block(
    module: AutoEncoderNet,
    kind: str,
    codes: torch.Tensor,
    index: np.ndarray,
    device: torch.device,
) -> np.ndarray:
    """Raw outputs (len(index), items) for the users at ``index``, in chunks.

    BLAS picks another kernel for a product with few rows, which changes the last bits:
    each chunk is padded (repeating the last user) to a multiple of :data:`PAD_ROWS` on the
    CPU and to :data:`CHUNK_USERS` rows on a GPU, whose libraries choose kernels by the
    exact row count, so a user's scores do not depend on which other users are asked with
    it.
    """
    n_items = codes.shape[0] if kind == "item" else module.n_columns
    out = np.empty((len(index), n_items), dtype=np.float32)
    multiple = PAD_ROWS if device.type == "cpu" else CHUNK_USERS
    with torch.no_grad():
        for start in range(0, len(index), CHUNK_USERS):
            part = index[start : start + CHUNK_USERS]
            padded = np.pad(part, (0, -len(part) % multiple), mode="edge")
            chunk = torch.from_numpy(padded).to(device)
            block = user_rows(module, kind, codes, chunk)
            out[start : start + len(part)] = block[: len(part)].cpu().numpy()
    return out
