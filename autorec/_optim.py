"""The optimizers of the training loop (``autorec._training``): one optimizer over a
network's weights (:func:`make_optimizer`), or the same updates applied weight by weight
during backward (:class:`StepInBackward`), which holds less memory. Adam and AdamW run
torch's fused kernel directly (:class:`FusedAdam`)."""

from __future__ import annotations

from typing import Any

import torch

from ._network import AutoEncoderNet

__all__ = ["FusedAdam", "StepInBackward", "make_optimizer"]

#: Fused Adam/AdamW kernels exist on CPU and CUDA from torch 2.4 on; they are ~10x faster.
_FUSED_OK = tuple(int(v) for v in torch.__version__.split(".")[:2]) >= (2, 4)
#: The devices :class:`FusedAdam` runs the fused kernels on (others use ``torch.optim``).
_FUSED_DEVICES = ("cpu", "cuda")


def make_optimizer(
    module: AutoEncoderNet, name: str, learning_rate: float, weight_decay: float
) -> Any:
    """The optimizer ``name`` (:class:`FusedAdam`, else a torch optimizer); weight decay
    applies to weight matrices only."""
    groups = [
        {"params": module.weight_parameters(), "weight_decay": float(weight_decay)},
        {"params": module.bias_parameters(), "weight_decay": 0.0},
    ]
    return _optimizer(groups, name, learning_rate)


def _optimizer(groups: list[dict[str, Any]], name: str, learning_rate: float) -> Any:
    lr = float(learning_rate)
    if name in ("adam", "adamw") and FusedAdam.supports(groups):
        return FusedAdam(groups, lr, decoupled=name == "adamw")
    fast = {"fused": True} if _FUSED_OK else {"foreach": True}
    if name == "adam":
        return torch.optim.Adam(groups, lr=lr, **fast)
    if name == "adamw":
        return torch.optim.AdamW(groups, lr=lr, **fast)
    if name == "rmsprop":
        return torch.optim.RMSprop(groups, lr=lr, foreach=True)
    if name == "sgd":
        return torch.optim.SGD(groups, lr=lr, momentum=0.9, foreach=True)
    raise ValueError(f"optimizer={name!r} is not supported; use 'adam', 'adamw', 'rmsprop', 'sgd'")


class FusedAdam:
    """Adam (or AdamW with ``decoupled``) at torch's defaults (betas 0.9 and 0.999, eps
    1e-8), stepped by the kernel ``torch.optim.Adam(fused=True)`` runs
    (``torch._fused_adam_`` / ``torch._fused_adamw_``): the same updates bit for bit
    (tests/test_training_memory.py), without ``torch.optim``'s wrapper, whose first use
    in a process imports ``torch._dynamo`` (about 1.3 s on a 2-core machine, 2026) and
    which adds about 0.1 ms to each of a fit's ~1,100 steps. ``param_groups`` holds the
    learning rate and weight decay of each group, as a torch optimizer's does."""

    betas = (0.9, 0.999)
    eps = 1e-8

    def __init__(self, groups: list[dict[str, Any]], lr: float, decoupled: bool = False) -> None:
        self.param_groups = [
            {"params": list(group["params"]), "lr": lr, "weight_decay": group["weight_decay"]}
            for group in groups
        ]
        self._kernel = torch._fused_adamw_ if decoupled else torch._fused_adam_
        self.state: dict[torch.Tensor, dict[str, torch.Tensor]] = {}

    @staticmethod
    def supports(groups: list[dict[str, Any]]) -> bool:
        """Whether the fused kernel can step these parameters: torch 2.4 or later, and
        floating-point tensors on one CPU or CUDA device, of one dtype."""
        params = [p for group in groups for p in group["params"]]
        kinds = {(p.device, p.dtype) for p in params}
        if not (_FUSED_OK and hasattr(torch, "_fused_adam_") and len(kinds) == 1):
            return False
        device, dtype = next(iter(kinds))
        return device.type in _FUSED_DEVICES and dtype.is_floating_point

    def _moments(self, p: torch.Tensor) -> dict[str, torch.Tensor]:
        state = self.state.get(p)
        if state is None:
            state = self.state[p] = {
                "step": torch.zeros((), dtype=torch.float32, device=p.device),
                "exp_avg": torch.zeros_like(p, memory_format=torch.preserve_format),
                "exp_avg_sq": torch.zeros_like(p, memory_format=torch.preserve_format),
            }
        return state

    @torch.no_grad()
    def step(self) -> None:
        """One update of every parameter that has a gradient."""
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if not params:
                continue
            states = [self._moments(p) for p in params]
            steps = [state["step"] for state in states]
            torch._foreach_add_(steps, 1)
            self._kernel(
                params,
                [p.grad for p in params],
                [state["exp_avg"] for state in states],
                [state["exp_avg_sq"] for state in states],
                [],
                steps,
                amsgrad=False,
                lr=float(group["lr"]),
                beta1=self.betas[0],
                beta2=self.betas[1],
                weight_decay=float(group["weight_decay"]),
                eps=self.eps,
                maximize=False,
            )

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Free (or zero) every parameter's gradient."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    p.grad.zero_()


class StepInBackward:
    """:func:`make_optimizer`'s updates, each weight tensor stepped by its own optimizer
    from a hook the moment backward has finished its gradient, which is freed right
    after (PyTorch's "optimizer step in backward" recipe): backward never holds more
    than one weight matrix's gradient (on the MovieLens-20M shape, 0.28 GB instead of
    0.83 GB). The learning-rate pieces set ``param_groups`` as for one optimizer;
    :meth:`close` removes the hooks."""

    def __init__(
        self, module: AutoEncoderNet, name: str, learning_rate: float, weight_decay: float
    ) -> None:
        decays = [(p, float(weight_decay)) for p in module.weight_parameters()]
        decays += [(p, 0.0) for p in module.bias_parameters()]
        self.optimizers = [
            _optimizer([{"params": [p], "weight_decay": d}], name, learning_rate) for p, d in decays
        ]
        self.param_groups = [g for o in self.optimizers for g in o.param_groups]
        self._hooks = [
            p.register_post_accumulate_grad_hook(self._stepper(o))
            for (p, _), o in zip(decays, self.optimizers, strict=True)
        ]

    @staticmethod
    def _stepper(optimizer: Any) -> Any:
        def step(_: torch.Tensor) -> None:
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)

        return step

    def close(self) -> None:
        for hook in self._hooks:
            hook.remove()
        self._hooks = []
