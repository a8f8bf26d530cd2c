"""Adam, SGD with Nesterov momentum, and the one-cycle schedule, over plain tensors.

These are torch.optim's ``Adam``, ``SGD(momentum, nesterov=True)`` and
``OneCycleLR`` (cosine, two phases, cycling Adam's beta1 or SGD's momentum),
step for step: ``tests/test_optim.py`` checks them against torch.optim. They
exist because building any torch.optim optimizer imports ``torch._dynamo``,
about 900 modules and 1.1 s here: a quarter of a one-epoch MLP run from the
command line, and a stall on the app's first Train click. Each step is one
fused kernel (Adam, where torch has it) or a few multi-tensor (``_foreach``)
calls over all parameters at once.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch

# OneCycleLR's defaults: start at max_lr / 25, end at that / 1e4; momentum
# (Adam's beta1) falls from 0.95 to 0.85 while the rate rises, then comes back.
_START_DIVISOR = 25.0
_END_DIVISOR = 1e4
_LOW_MOMENTUM = 0.85
_HIGH_MOMENTUM = 0.95


def _cosine(start: float, end: float, fraction: float) -> float:
    return end + (start - end) / 2.0 * (math.cos(math.pi * fraction) + 1.0)


def one_cycle(step: int, total_steps: int, max_lr: float, warmup_fraction: float) -> tuple[float, float]:
    """(learning rate, momentum) for the 0-based ``step`` of ``total_steps``."""
    start_lr = max_lr / _START_DIVISOR
    end_lr = start_lr / _END_DIVISOR
    warmup_end = warmup_fraction * total_steps - 1.0
    if step <= warmup_end:
        fraction = step / warmup_end if warmup_end > 0 else 1.0
        return _cosine(start_lr, max_lr, fraction), _cosine(_HIGH_MOMENTUM, _LOW_MOMENTUM, fraction)
    span = (total_steps - 1.0) - warmup_end
    fraction = min(1.0, (step - warmup_end) / span) if span > 0 else 1.0
    return _cosine(max_lr, end_lr, fraction), _cosine(_LOW_MOMENTUM, _HIGH_MOMENTUM, fraction)


class _Optimizer:
    """What training needs: ``lr`` and ``momentum`` to set, ``zero_grad`` and ``step``."""

    def __init__(self, parameters: Iterable[torch.Tensor], lr: float, momentum: float):
        self.parameters = [p for p in parameters if p.requires_grad]
        self.lr = lr
        self.momentum = momentum

    def zero_grad(self) -> None:
        for parameter in self.parameters:
            parameter.grad = None

    def _with_gradients(self) -> list[int]:
        return [i for i, parameter in enumerate(self.parameters) if parameter.grad is not None]


# torch >= 2.4 has one kernel for Adam's whole update on the CPU (what
# torch.optim.Adam(fused=True) calls); older versions take the _foreach path.
_FUSED_ADAM = getattr(torch, "_fused_adam_", None)


class Adam(_Optimizer):
    """Adam (Kingma and Ba), with beta1 as ``momentum``."""

    def __init__(self, parameters: Iterable[torch.Tensor], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8):
        super().__init__(parameters, lr, momentum=betas[0])
        self.beta2 = betas[1]
        self.eps = eps
        self.exp_avg = [torch.zeros_like(p) for p in self.parameters]
        self.exp_avg_sq = [torch.zeros_like(p) for p in self.parameters]
        # Each tensor's own step count, for its bias corrections, as in torch.optim.
        self.steps = [torch.zeros((), dtype=torch.float32) for _ in self.parameters]

    @torch.no_grad()
    def step(self) -> None:
        indices = self._with_gradients()
        if not indices:
            return
        parameters = [self.parameters[i] for i in indices]
        gradients = [p.grad for p in parameters]
        exp_avg = [self.exp_avg[i] for i in indices]
        exp_avg_sq = [self.exp_avg_sq[i] for i in indices]
        steps = [self.steps[i] for i in indices]
        torch._foreach_add_(steps, 1.0)
        beta1, beta2 = self.momentum, self.beta2
        if _FUSED_ADAM is not None:
            _FUSED_ADAM(parameters, gradients, exp_avg, exp_avg_sq, [], steps, lr=self.lr, beta1=beta1, beta2=beta2,
                        weight_decay=0.0, eps=self.eps, amsgrad=False, maximize=False)
            return
        torch._foreach_lerp_(exp_avg, gradients, 1.0 - beta1)
        torch._foreach_mul_(exp_avg_sq, beta2)
        torch._foreach_addcmul_(exp_avg_sq, gradients, gradients, 1.0 - beta2)
        counts = [step.item() for step in steps]
        step_sizes = [-self.lr / (1.0 - beta1**count) for count in counts]
        correction_roots = [math.sqrt(1.0 - beta2**count) for count in counts]
        denominators = torch._foreach_sqrt(exp_avg_sq)
        torch._foreach_div_(denominators, correction_roots)
        torch._foreach_add_(denominators, self.eps)
        torch._foreach_addcdiv_(parameters, exp_avg, denominators, step_sizes)


class SGD(_Optimizer):
    """Stochastic gradient descent with Nesterov momentum and no dampening."""

    def __init__(self, parameters: Iterable[torch.Tensor], lr: float = 1e-2, momentum: float = 0.9):
        super().__init__(parameters, lr, momentum)
        self.velocity: list[torch.Tensor | None] = [None] * len(self.parameters)

    @torch.no_grad()
    def step(self) -> None:
        indices = self._with_gradients()
        if not indices:
            return
        ongoing = [i for i in indices if self.velocity[i] is not None]
        for i in indices:
            if self.velocity[i] is None:
                self.velocity[i] = self.parameters[i].grad.clone()
        if ongoing:
            velocity = [self.velocity[i] for i in ongoing]
            torch._foreach_mul_(velocity, self.momentum)
            torch._foreach_add_(velocity, [self.parameters[i].grad for i in ongoing])
        parameters = [self.parameters[i] for i in indices]
        # Nesterov: step along the gradient plus the momentum-scaled velocity.
        directions = torch._foreach_add([p.grad for p in parameters], [self.velocity[i] for i in indices],
                                        alpha=self.momentum)
        torch._foreach_add_(parameters, directions, alpha=-self.lr)
