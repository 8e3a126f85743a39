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
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import torch
from torch import nn

#: Above this fraction of rated cells in a batch, outputs are computed densely.
DENSE_DECODE_DENSITY = 0.01

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
    """

    def __init__(
        self,
        n_columns: int,
        hidden_layers: Sequence[int],
        activation: str = "sigmoid",
        dropout: float = 0.0,
        output_bias: float = 0.0,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        widths = [int(h) for h in hidden_layers]
        self.n_columns = int(n_columns)
        self.input_weight = nn.Parameter(torch.empty(self.n_columns, widths[0]))
        self.input_bias = nn.Parameter(torch.empty(widths[0]))
        layers: list[nn.Module] = []
        for w_in, w_out in itertools.pairwise(widths):
            layers += [ACTIVATIONS[activation](), nn.Dropout(dropout), nn.Linear(w_in, w_out)]
        layers += [ACTIVATIONS[activation](), nn.Dropout(dropout)]
        self.hidden = nn.Sequential(*layers)
        self.output_weight = nn.Parameter(torch.empty(self.n_columns, widths[-1]))
        self.output_bias = nn.Parameter(torch.full((self.n_columns,), float(output_bias)))
        self._init_weights(generator)

    def _init_weights(self, generator: torch.Generator | None) -> None:
        # The same rule as nn.Linear: U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
        with torch.no_grad():
            bound = 1.0 / math.sqrt(self.n_columns)
            self.input_weight.uniform_(-bound, bound, generator=generator)
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
        return [self.input_weight, self.output_weight] + [
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
        back to back; ``offsets`` holds where each row starts.
        """
        first = nn.functional.embedding_bag(
            columns, self.input_weight, offsets, mode="sum", per_sample_weights=values
        )
        return self.hidden(first + self.input_bias)

    def decode_at(
        self, code: torch.Tensor, rows: torch.Tensor, columns: torch.Tensor
    ) -> torch.Tensor:
        """Outputs at the given (row of the batch, column) positions only.

        Two exact ways compute them: a dense batch x columns product followed by a
        gather, which is faster while the batch is denser than about 1%, and a gather of
        the needed weight rows, whose cost grows with the number of positions only
        (what keeps very sparse, very wide data cheap).
        """
        if rows.numel() >= DENSE_DECODE_DENSITY * code.shape[0] * self.n_columns:
            return self.decode(code)[rows, columns]
        return (code[rows] * self.output_weight[columns]).sum(dim=1) + self.output_bias[columns]

    def decode(self, code: torch.Tensor) -> torch.Tensor:
        """Every output of each row of the batch (batch x n_columns)."""
        return torch.addmm(self.output_bias, code, self.output_weight.T)
