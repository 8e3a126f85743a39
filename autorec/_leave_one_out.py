"""How much the rating network's prediction of each target falls when each rated item is
removed (the leave-one-out effects ``autorec._explain`` names its reasons from), exactly
or as bounds that are made exact only where a reason could be.

* A user model (``kind="user"``) encodes the user's row of ratings: the row is
  re-encoded once per rated item with that item hidden (one batch), which is the exact
  leave-one-out effect.
* An item model (``kind="item"``) has no encoder for users; a folded-in user's
  prediction is a ridge regression of their ratings on the item codes
  (``autorec._foldin``), whose leave-one-out effect has a closed form,
  ``g_ij e_i / (1 - h_ii)`` (``e_i`` the residual and ``h_ii`` the leverage of rating
  ``i``, ``g_ij`` the influence of row ``i`` on the prediction of ``j``), plus the
  shift of the mean rating. A fitted user's predictions come from the trained network,
  whose fold-in surrogate attributes them (the fold-in ridge is chosen so that it ranks
  like the fitted rows).
* A blend attributes each member and mixes with its weights.

The leverages are the costly part of the item model's effects (a triangular solve that
grows with the ratings times the code width squared), and an explanation needs the
exact effect only of the few rated items that can be among a target's largest. So
:func:`rating_falls` returns :class:`Falls`: for a user with more than
:data:`PRUNE_ROWS` ratings, for every rated item, bounds that need no
leverage (the effect is affine in ``1 / (1 - h_ii)``, which lies in ``[1, 1 + |x_i|² /
l2]`` because ``XᵀX + l2 I`` is at least ``x_i x_iᵀ + l2 I``), and the exact effect of
the items asked for.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.linalg
import scipy.linalg.lapack
import torch

from ._foldin import BIAS_SHRINK

__all__ = [
    "Falls",
    "RidgeLeaveOneOut",
    "rating_effects",
    "rating_falls",
    "ridge_leave_one_out",
]

#: Sparse entries encoded at once by the user-model leave-one-out batch.
LOO_BLOCK = 1 << 20
#: An item model's falls are bounded first, and made exact only where needed, for users
#: with more ratings than this (below, every leverage costs less than the bounds).
PRUNE_ROWS = 256
#: An item model's ridge Gram matrix and its factor are float32 for users with more
#: ratings than this (half the time; below, float64 costs little).
SINGLE_ROWS = 128


@dataclass
class Falls:
    """Falls (targets x rated items) of a score when each rated item is removed: bounds
    for every item (``low <= fall <= high``, elementwise) and ``exact(columns)``, the
    falls of the rated items at ``columns`` (targets x len(columns))."""

    low: np.ndarray
    high: np.ndarray
    exact: Callable[[np.ndarray], np.ndarray]

    @classmethod
    def known(cls, values: np.ndarray) -> Falls:
        """Falls already computed exactly (the bounds are the values)."""
        return cls(values, values, lambda columns: values[:, columns])

    def everything(self) -> np.ndarray:
        """The exact falls of every rated item."""
        return self.exact(np.arange(self.low.shape[1]))


def rating_falls(model: Any, rated: np.ndarray, ratings: np.ndarray, targets: np.ndarray) -> Falls:
    """:class:`Falls` of the raw predicted rating of each target when each rated item is
    removed; a blend mixes its members' with its weights."""
    members = getattr(model, "estimators_", None)
    if members is not None:
        parts = [
            (float(w), rating_falls(m, rated, ratings, targets))
            for w, m in zip(model.weights_, members, strict=True)
        ]
        return Falls(
            sum(w * (p.low if w >= 0 else p.high) for w, p in parts),
            sum(w * (p.high if w >= 0 else p.low) for w, p in parts),
            lambda columns: sum(w * p.exact(columns) for w, p in parts),
        )
    if model.fit_params_["kind"] == "user":
        return Falls.known(_user_model_effects(model, rated, ratings, targets))
    return _item_model_falls(model, rated, ratings, targets)


def rating_effects(
    model: Any, rated: np.ndarray, ratings: np.ndarray, targets: np.ndarray
) -> np.ndarray:
    """Fall of the raw predicted rating of each target when each rated item is removed
    (targets x rated); a blend mixes its members' with its weights."""
    return rating_falls(model, rated, ratings, targets).everything()


def _user_model_effects(
    model: Any, rated: np.ndarray, ratings: np.ndarray, targets: np.ndarray
) -> np.ndarray:
    """Exact leave-one-out fall of a user model's raw predictions (targets x rated)."""
    module, device = model.module_, model.device_
    n = len(rated)
    order = np.argsort(rated, kind="stable")
    columns = torch.from_numpy(rated[order].astype(np.int64)).to(device)
    values = torch.from_numpy(ratings[order].astype(np.float32)).to(device)
    target = torch.from_numpy(targets.astype(np.int64)).to(device)

    def decode(code: torch.Tensor) -> torch.Tensor:
        weight, bias = module.output_weight[target], module.output_bias[target]
        return code[:, :-1] @ weight.T + bias + code[:, -1:]

    out = np.empty((len(targets), n), dtype=np.float64)
    with torch.no_grad():
        zero = torch.zeros(1, dtype=torch.int64, device=device)
        base = decode(module.encode(columns, zero, values))[0]
        step = max(1, LOO_BLOCK // max(n, 1))
        for start in range(0, n, step):
            stop = min(start + step, n)
            rows = stop - start
            keep = torch.ones((rows, n), dtype=values.dtype, device=device)
            keep[torch.arange(rows), torch.arange(start, stop)] = 0.0
            offsets = torch.arange(rows, device=device) * n
            code = module.encode_masked(
                columns.repeat(rows), offsets, values.repeat(rows), keep.reshape(-1)
            )
            out[:, order[start:stop]] = (base[None, :] - decode(code)).T.cpu().numpy()
    return out


def _item_model_falls(
    model: Any, rated: np.ndarray, ratings: np.ndarray, targets: np.ndarray
) -> Falls:
    """Closed-form leave-one-out fall of an item model's fold-in predictions."""
    codes, prior = model._fold_in_codes()
    l2 = model.fold_in_l2_
    n = len(rated)
    if n < 2 or l2 is None:
        return Falls.known(np.zeros((len(targets), n)))
    hidden, offset = codes[:, :-1], codes[:, -1]
    x = hidden[rated]
    y = np.asarray(ratings, dtype=np.float64) - offset[rated]
    x_mean, y_mean = x.mean(axis=0), float(y.mean())
    xc, yc = x - x_mean, y - y_mean
    # The targets' directions, and x_mean's: how far x_mean @ w falls without each row.
    direction = np.column_stack([(hidden[targets] - x_mean).T, x_mean])
    ridge = RidgeLeaveOneOut(xc, yc, direction, l2, n > xc.shape[1], single=n > SINGLE_ROWS)
    mean_shift = (y - y_mean) / (n - 1)
    # The fold-in shrinks the free bias b = y_mean - x_mean @ w toward a typical person's
    # (BIAS_SHRINK pseudo-ratings): the prediction is the unshrunk one minus
    # (1 - c) (b - prior), c = n / (n + BIAS_SHRINK); without row i, b and c change too.
    bias = y_mean - x_mean @ ridge.w
    pull, pull_without = BIAS_SHRINK / (n + BIAS_SHRINK), BIAS_SHRINK / (n - 1 + BIAS_SHRINK)

    def falls(scaled: np.ndarray, columns: np.ndarray) -> np.ndarray:
        """The falls of the rows at ``columns``, given their ``e_i / (1 - h_ii)``."""
        fall = (ridge.influence[columns] * scaled[:, None]).T
        shift = mean_shift[columns]
        unshrunk = fall[:-1] + shift[None, :]
        bias_without = bias - shift + fall[-1]
        shrink_fall = pull * (bias - prior) - pull_without * (bias_without - prior)
        return unshrunk - shrink_fall[None, :]

    every = np.arange(n)
    if n <= PRUNE_ROWS:
        return Falls.known(falls(ridge.scaled(every), every))
    # Affine in e_i / (1 - h_ii), which lies between e_i and e_i * ridge.most.
    one, most = falls(ridge.residual, every), falls(ridge.residual * ridge.most, every)
    return Falls(
        np.minimum(one, most),
        np.maximum(one, most),
        lambda columns: falls(ridge.scaled(columns), columns),
    )


class RidgeLeaveOneOut:
    """Leave-one-out falls of ``direction``'s predictions under a ridge fit, from one
    Cholesky factorisation.

    With ``w = (XᵀX + l2 I)⁻¹ Xᵀ y``, removing row ``i`` changes ``w`` by
    ``-(XᵀX + l2 I)⁻¹ x_i e_i / (1 - h_ii)`` (``e_i`` the residual, ``h_ii`` the
    leverage), so a prediction ``d · w`` falls by ``g_i e_i / (1 - h_ii)`` with
    ``g = X (XᵀX + l2 I)⁻¹ d`` (``influence``, rows x directions). Computed with
    ``M = (XXᵀ + l2 I)⁻¹``: ``e_i / (1 - h_ii) = (M y)_i / M_ii`` and ``g = M X d``, in
    the dual form (n x n) when there are fewer rows than columns, else in the primal
    form (``l2 M = I - X (XᵀX + l2 I)⁻¹ Xᵀ``, columns x columns).

    The factor ``L`` gives ``w``, the residuals and the influences by solves with a few
    right-hand sides; :meth:`scaled` gives ``e_i / (1 - h_ii)`` of the rows asked for,
    from their ``M_ii = |L⁻¹ e_i|²`` (dual) or ``h_ii = |L⁻¹ x_i|²`` (primal): one
    triangular solve with a right-hand side per row asked for. ``most`` bounds
    ``1 / (1 - h_ii)`` from above by ``1 + |x_i|² / l2``.
    """

    def __init__(
        self,
        x: np.ndarray,
        y: np.ndarray,
        direction: np.ndarray,
        l2: float,
        primal: bool,
        single: bool = False,
    ) -> None:
        self.x, self.primal = x, primal
        # With ``single``, the Gram matrix and its factor (the costly part, rows x width²)
        # are float32; the solves against that factor are float64.
        rows = x.astype(np.float32) if single else x
        gram = rows.T @ rows if primal else rows @ rows.T  # BLAS syrk
        gram[np.diag_indices(len(gram))] += l2
        self.factor = _cholesky(gram)
        factor = (np.asarray(self.factor, dtype=np.float64), True)
        if not primal:
            solved = scipy.linalg.cho_solve(
                factor, np.column_stack([y, x @ direction]), check_finite=False
            )
            self.solved_y = solved[:, 0]  # M y
            self.residual = l2 * self.solved_y
            self.influence = solved[:, 1:]  # rows x directions
            self.w = x.T @ solved[:, 0]
        else:
            self.w = scipy.linalg.cho_solve(factor, x.T @ y, check_finite=False)
            self.residual = y - x @ self.w
            projected = x @ direction
            back = scipy.linalg.cho_solve(factor, x.T @ projected, check_finite=False)
            self.influence = (projected - x @ back) / l2
        self.most = 1.0 + np.einsum("ij,ij->i", x, x) / l2

    def scaled(self, rows: np.ndarray) -> np.ndarray:
        """``e_i / (1 - h_ii)`` of the rows at ``rows``."""
        rows = np.asarray(rows, dtype=np.int64)
        if not self.primal and 3 * len(rows) > len(self.x):  # all of L⁻¹ costs less
            trtri = scipy.linalg.lapack.get_lapack_funcs("trtri", (self.factor,))
            inverse, info = trtri(self.factor, lower=True)
            if info != 0:
                raise np.linalg.LinAlgError(f"ridge system is singular (info={info})")
            return self.solved_y[rows] / _square_sums(inverse)[rows]
        if not self.primal:
            unit = np.zeros((len(self.x), len(rows)), dtype=self.factor.dtype)
            unit[rows, np.arange(len(rows))] = 1.0
            inverse = _lower_solve(self.factor, unit)  # the columns of L⁻¹
            return self.solved_y[rows] / _square_sums(inverse)
        half = _lower_solve(self.factor, self.x[rows].T)
        return self.residual[rows] / (1.0 - _square_sums(half))

    def falls(self) -> np.ndarray:
        """The falls of every direction's prediction without each row (directions x rows)."""
        every = np.arange(len(self.x))
        return (self.influence * self.scaled(every)[:, None]).T


def ridge_leave_one_out(
    x: np.ndarray, y: np.ndarray, direction: np.ndarray, l2: float, primal: bool | None = None
) -> np.ndarray:
    """Fall of ``direction``'s predictions when each row of ``x`` leaves the ridge fit
    (directions x rows; see :class:`RidgeLeaveOneOut`), in the dual form by default when
    there are fewer rows than columns."""
    if primal is None:
        primal = x.shape[0] > x.shape[1]
    return RidgeLeaveOneOut(x, y, direction, l2, primal).falls()


def _lower_solve(factor: np.ndarray, right: np.ndarray) -> np.ndarray:
    """``L⁻¹ right`` for the lower triangular ``factor``, in the factor's precision."""
    if right.shape[1] == 0:
        return np.zeros((factor.shape[0], 0), dtype=factor.dtype)
    right = np.asarray(right, dtype=factor.dtype)
    return scipy.linalg.solve_triangular(factor, right, lower=True, check_finite=False)


def _square_sums(columns: np.ndarray) -> np.ndarray:
    """The squared norm of each column, summed in float64."""
    return np.einsum("ij,ij->j", *(2 * [np.asarray(columns, dtype=np.float64)]))


def _cholesky(gram: np.ndarray) -> np.ndarray:
    """Lower Cholesky factor of a ridge system (LAPACK potrf, overwriting ``gram``), in
    ``gram``'s precision."""
    potrf = scipy.linalg.lapack.get_lapack_funcs("potrf", (gram,))
    factor, info = potrf(gram, lower=True, overwrite_a=True, clean=True)
    if info != 0:
        raise np.linalg.LinAlgError(f"ridge system not positive definite (info={info})")
    return factor
