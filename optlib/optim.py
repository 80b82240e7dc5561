r"""Drop-in ``torch.optim.Optimizer`` subclasses built on the pure rules of :mod:`optlib.rules`.

Following Adam from ``optimizer.step()`` to the arithmetic takes three hops, as in
``torch/optim/adam.py``:

1. :meth:`Adam.step` gathers each group's parameters, gradients and state;
2. :func:`adam`, one plain function, runs the algorithm on them: with ``foreach=False`` it calls
   the pure rule :func:`optlib.rules.adam_update` tensor by tensor (chapter 3's equations, as
   written); by default it calls :func:`optlib.kernels.adam_update_` once for all the tensors;
3. :func:`optlib.kernels.adam_update_` computes the same equations in place, and each of its
   pieces names the function of :mod:`optlib.rules` it reproduces.

Adagrad is the same with :func:`adagrad`. ``SGD`` and ``RMSprop``, which the book never times,
always run their pure rule tensor by tensor (``foreach`` is accepted and ignored).

Each class takes the same keywords with the same defaults as its ``torch.optim`` namesake and
keeps the same state (keys, tensors, and ``state["step"]`` as a float32 tensor on the CPU, float64
under ``torch.set_default_dtype(torch.float64)``), so state dicts load across the two libraries
both ways; :mod:`optlib.torch_state` converts between those dicts and the rules' typed states.
``tests/test_optim_parity.py`` and ``tests/test_optim_dropin.py`` prove every way of
running them equal to ``torch.optim``, step by step. Like ``torch.optim.Adagrad``, ``Adagrad``
handles sparse gradients (``nn.Embedding(sparse=True)``) and has :meth:`Adagrad.share_memory`.

Differences from ``torch.optim`` (each raises a clear error rather than doing something else):
``fused``, ``capturable`` and ``differentiable`` accept only their defaults; complex parameters
are refused; ``SGD`` refuses sparse gradients. Hyperparameters are checked more strictly
(:mod:`optlib.validation`): ``lr="0.1"``, ``eps=None`` or ``amsgrad="yes"`` raise a
``TypeError`` naming the keyword.
``Adagrad`` starts each group's accumulator at that group's ``initial_accumulator_value``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch.optim import Optimizer

from optlib import kernels, rules
from optlib.torch_state import (
    StepAsTensor,
    rule_hyperparameters,
    rule_state,
    rule_states,
    stored_state,
    write_back,
)
from optlib.validation import (
    check_betas,
    check_default_only,
    check_flag,
    check_non_negative,
    params_with_grad,
)

Params = Iterable[torch.Tensor] | Iterable[dict[str, Any]]

DEFAULT_LR: dict[str, float] = {
    "sgd": 1e-3,
    "adam": 1e-3,
    "adamw": 1e-3,
    "adagrad": 1e-2,
    "rmsprop": 1e-2,
}


def _evaluate(closure: Callable[[], Any] | None) -> Any:
    """The loss ``closure`` returns, computed with gradients on (``step`` runs under no_grad)."""
    if closure is None:
        return None
    with torch.enable_grad():
        return closure()


# --------------------------------------------------------------------------------------------
# Adam, AMSGrad and AdamW
# --------------------------------------------------------------------------------------------
ADAM_HYPERPARAMETERS = (
    "lr", "betas", "eps", "weight_decay", "amsgrad", "maximize", "decoupled_weight_decay"
)  # fmt: skip


def adam(
    params: list[torch.Tensor],
    grads: list[torch.Tensor],
    states: list[dict[str, Any]],
    *,
    foreach: bool | None = None,
    **hyper: Any,
) -> None:
    r"""Adam on a list of parameters, in place: the loop :meth:`Adam.step` hands its tensors to.

    ``states`` are the parameters' ``torch.optim`` state dicts; ``hyper`` are the keywords of
    :func:`optlib.rules.adam_update` (:data:`ADAM_HYPERPARAMETERS`). With ``foreach=False``,
    that pure rule runs once per tensor: eqs. (adam-m) to (adam-update) as chapter 3 writes
    them. Otherwise :func:`optlib.kernels.adam_update_` runs the same equations once for all the
    tensors, in place: what makes ``step()`` as fast as ``torch.optim.Adam`` (the pure rule
    writes 13 fresh tensors per parameter per step).
    """
    if foreach is False:
        for param, grad, stored in zip(params, grads, states, strict=True):
            state = rule_state(rules.AdamState, stored)
            delta, new_state = rules.adam_update(grad, state, param, **hyper)
            param.add_(delta)
            write_back(stored, new_state)
    elif params:
        kernels.adam_update_(grads, rule_states(rules.AdamState, states), params, **hyper)
        for stored in states:
            stored["step"] += 1


class Adam(StepAsTensor):
    """Adam (Kingma & Ba, 2015) with AMSGrad and decoupled decay: ``torch.optim.Adam``'s API."""

    def __init__(
        self,
        params: Params,
        lr: float | torch.Tensor = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        amsgrad: bool = False,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
        decoupled_weight_decay: bool = False,
    ) -> None:
        check_non_negative("lr", lr)
        check_betas(betas)
        check_non_negative("eps", eps)
        check_non_negative("weight_decay", weight_decay)
        check_flag("amsgrad", amsgrad)
        check_flag("maximize", maximize)
        check_flag("decoupled_weight_decay", decoupled_weight_decay)
        check_flag("foreach", foreach, none_allowed=True)
        check_default_only("capturable", capturable, False)
        check_default_only("differentiable", differentiable, False)
        check_default_only("fused", fused, None)
        defaults = dict(
            lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
            foreach=foreach, maximize=maximize, capturable=capturable,
            differentiable=differentiable, fused=fused,
            decoupled_weight_decay=decoupled_weight_decay,
        )  # fmt: skip
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One step for every parameter with a gradient; ``closure`` re-evaluates the loss."""
        loss = _evaluate(closure)
        for group in self.param_groups:
            params = params_with_grad("Adam", group)
            for param in params:
                if not self.state[param]:  # created at the parameter's first step
                    self.state[param] = stored_state(rules.adam_init(param, group["amsgrad"]))
            adam(
                params,
                [param.grad for param in params],
                [self.state[param] for param in params],
                foreach=group["foreach"],
                **rule_hyperparameters(group, params, ADAM_HYPERPARAMETERS),
            )
        return loss


class AdamW(Adam):
    """AdamW (Loshchilov & Hutter, 2019): Adam with decoupled weight decay, default 1e-2."""

    def __init__(
        self,
        params: Params,
        lr: float | torch.Tensor = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
        capturable: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        super().__init__(
            params, lr, betas, eps, weight_decay, amsgrad, foreach=foreach, maximize=maximize,
            capturable=capturable, differentiable=differentiable, fused=fused,
            decoupled_weight_decay=True,
        )  # fmt: skip


# --------------------------------------------------------------------------------------------
# Adagrad
# --------------------------------------------------------------------------------------------
ADAGRAD_KEYS = {"sum_sq": "sum"}  # AdagradState field -> torch.optim.Adagrad's state key


ADAGRAD_HYPERPARAMETERS = ("lr", "lr_decay", "weight_decay", "eps", "maximize")


def adagrad(
    params: list[torch.Tensor],
    grads: list[torch.Tensor],
    states: list[dict[str, Any]],
    *,
    foreach: bool | None = None,
    **hyper: Any,
) -> None:
    r"""Adagrad on a list of parameters, in place: the loop :meth:`Adagrad.step` hands them to.

    ``hyper`` are the keywords of :func:`optlib.rules.adagrad_update`. With ``foreach=False``,
    that pure rule runs once per tensor, eqs. (adagrad-accumulate) to (adagrad-update).
    Otherwise :func:`optlib.kernels.adagrad_update_` runs the same equations once for all the
    tensors, in place. A sparse gradient (``nn.Embedding(sparse=True)``) goes to
    :func:`optlib.kernels.adagrad_sparse_update_`, which updates only the rows it touches; as in
    ``torch.optim.Adagrad``, a list holding one then runs tensor by tensor.
    """
    if foreach is False or any(grad.is_sparse for grad in grads):
        for param, grad, stored in zip(params, grads, states, strict=True):
            state = rule_state(rules.AdagradState, stored, ADAGRAD_KEYS)
            if grad.is_sparse:
                new_state = kernels.adagrad_sparse_update_(grad, state, param, **hyper)
            else:
                delta, new_state = rules.adagrad_update(grad, state, param, **hyper)
                param.add_(delta)
            write_back(stored, new_state, ADAGRAD_KEYS)
    elif params:
        state = rule_states(rules.AdagradState, states, ADAGRAD_KEYS)
        kernels.adagrad_update_(grads, state, params, **hyper)
        for stored in states:
            stored["step"] += 1


class Adagrad(StepAsTensor):
    """Adagrad (Duchi, Hazan & Singer, 2011): ``torch.optim.Adagrad``'s interface, sparse
    gradients included. Like torch's, it creates every parameter's state in the constructor."""

    def __init__(
        self,
        params: Params,
        lr: float | torch.Tensor = 1e-2,
        lr_decay: float = 0,
        weight_decay: float = 0,
        initial_accumulator_value: float = 0,
        eps: float = 1e-10,
        foreach: bool | None = None,
        *,
        maximize: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        check_non_negative("lr", lr)
        check_non_negative("lr_decay", lr_decay)
        check_non_negative("weight_decay", weight_decay)
        check_non_negative("initial_accumulator_value", initial_accumulator_value)
        check_non_negative("eps", eps)
        check_flag("foreach", foreach, none_allowed=True)
        check_flag("maximize", maximize)
        check_default_only("differentiable", differentiable, False)
        check_default_only("fused", fused, None)
        defaults = dict(
            lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
            initial_accumulator_value=initial_accumulator_value, foreach=foreach,
            maximize=maximize, differentiable=differentiable, fused=fused,
        )  # fmt: skip
        super().__init__(params, defaults)
        for group in self.param_groups:
            for param in group["params"]:
                self._init_state(param, group)

    def _init_state(self, param: torch.Tensor, group: dict[str, Any]) -> None:
        if not self.state[param]:
            initial = rules.adagrad_init(param, group["initial_accumulator_value"])
            self.state[param] = stored_state(initial, ADAGRAD_KEYS)

    def share_memory(self) -> None:
        """Move the accumulators :math:`G` into shared memory (``Tensor.share_memory_``), as
        ``torch.optim.Adagrad.share_memory`` does: processes sharing the model (Hogwild
        training with ``torch.multiprocessing``) then share the accumulators too."""
        for group in self.param_groups:
            for param in group["params"]:
                self.state[param]["sum"].share_memory_()

    @torch.no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One step for every parameter with a gradient; ``closure`` re-evaluates the loss."""
        loss = _evaluate(closure)
        for group in self.param_groups:
            params = params_with_grad("Adagrad", group, sparse=True)
            if group["weight_decay"] != 0 and any(param.grad.is_sparse for param in params):
                raise RuntimeError("weight_decay option is not compatible with sparse gradients")
            for param in params:  # parameters added by add_param_group()
                self._init_state(param, group)
            adagrad(
                params,
                [param.grad for param in params],
                [self.state[param] for param in params],
                foreach=group["foreach"],
                **rule_hyperparameters(group, params, ADAGRAD_HYPERPARAMETERS),
            )
        return loss


# --------------------------------------------------------------------------------------------
# SGD and RMSprop: the pure rule, tensor by tensor
# --------------------------------------------------------------------------------------------
SGD_HYPERPARAMETERS = ("lr", "momentum", "dampening", "weight_decay", "nesterov", "maximize")


def sgd(params, grads, states, **hyper: Any) -> None:
    """SGD on a list of parameters, in place: :func:`optlib.rules.sgd_update` per tensor."""
    for param, grad, stored in zip(params, grads, states, strict=True):
        state = rules.SGDState(stored.get("momentum_buffer"))
        delta, new_state = rules.sgd_update(grad, state, param, **hyper)
        param.add_(delta)
        write_back(stored, new_state)


class SGD(StepAsTensor):
    """Stochastic gradient descent with optional momentum: ``torch.optim.SGD``'s interface.

    ``foreach`` is accepted for compatibility; the step always runs the rule tensor by tensor.
    """

    def __init__(
        self,
        params: Params,
        lr: float | torch.Tensor = 1e-3,
        momentum: float = 0,
        dampening: float = 0,
        weight_decay: float = 0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        check_non_negative("lr", lr)
        check_non_negative("momentum", momentum)
        check_non_negative("dampening", dampening)
        check_non_negative("weight_decay", weight_decay)
        check_flag("nesterov", nesterov)
        check_flag("maximize", maximize)
        check_flag("foreach", foreach, none_allowed=True)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError(
                f"Invalid nesterov=True with momentum={momentum!r}, dampening={dampening!r}: "
                "Nesterov momentum requires a momentum > 0 and zero dampening"
            )
        check_default_only("differentiable", differentiable, False)
        check_default_only("fused", fused, None)
        defaults = dict(
            lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
            nesterov=nesterov, maximize=maximize, foreach=foreach, differentiable=differentiable,
            fused=fused,
        )  # fmt: skip
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One step for every parameter with a gradient; ``closure`` re-evaluates the loss."""
        loss = _evaluate(closure)
        for group in self.param_groups:
            params = params_with_grad("SGD", group)
            sgd(
                params,
                [param.grad for param in params],
                [self.state[param] for param in params],
                **rule_hyperparameters(group, params, SGD_HYPERPARAMETERS),
            )
        return loss


RMSPROP_HYPERPARAMETERS = (
    "lr", "alpha", "eps", "weight_decay", "momentum", "centered", "maximize"
)  # fmt: skip


def rmsprop(params, grads, states, **hyper: Any) -> None:
    """RMSprop on a list of parameters, in place: :func:`optlib.rules.rmsprop_update` per tensor."""
    for param, grad, stored in zip(params, grads, states, strict=True):
        state = rule_state(rules.RMSpropState, stored)
        delta, new_state = rules.rmsprop_update(grad, state, param, **hyper)
        param.add_(delta)
        write_back(stored, new_state)


class RMSprop(StepAsTensor):
    """RMSprop (Tieleman & Hinton, 2012): ``torch.optim.RMSprop``'s interface.

    ``foreach`` is accepted for compatibility; the step always runs the rule tensor by tensor.
    """

    def __init__(
        self,
        params: Params,
        lr: float | torch.Tensor = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0,
        momentum: float = 0,
        centered: bool = False,
        capturable: bool = False,
        foreach: bool | None = None,
        maximize: bool = False,
        differentiable: bool = False,
    ) -> None:
        check_non_negative("lr", lr)
        check_non_negative("alpha", alpha)
        check_non_negative("eps", eps)
        check_non_negative("weight_decay", weight_decay)
        check_non_negative("momentum", momentum)
        check_flag("centered", centered)
        check_flag("foreach", foreach, none_allowed=True)
        check_flag("maximize", maximize)
        check_default_only("capturable", capturable, False)
        check_default_only("differentiable", differentiable, False)
        defaults = dict(
            lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
            centered=centered, capturable=capturable, foreach=foreach, maximize=maximize,
            differentiable=differentiable,
        )  # fmt: skip
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One step for every parameter with a gradient; ``closure`` re-evaluates the loss."""
        loss = _evaluate(closure)
        for group in self.param_groups:
            params = params_with_grad("RMSprop", group)
            for param in params:
                if not self.state[param]:  # created at the parameter's first step
                    initial = rules.rmsprop_init(
                        param, momentum=group["momentum"], centered=group["centered"]
                    )
                    self.state[param] = stored_state(initial)
            rmsprop(
                params,
                [param.grad for param in params],
                [self.state[param] for param in params],
                **rule_hyperparameters(group, params, RMSPROP_HYPERPARAMETERS),
            )
        return loss


OPTIMIZERS: dict[str, type[Optimizer]] = {
    "sgd": SGD,
    "adam": Adam,
    "adamw": AdamW,
    "adagrad": Adagrad,
    "rmsprop": RMSprop,
}


def make_optimizer(name: str, params: Params, **hyperparameters: Any) -> Optimizer:
    """Build the optimizer called ``name`` (see :data:`OPTIMIZERS`) with torch's defaults."""
    try:
        optimizer_class = OPTIMIZERS[name.lower()]
    except KeyError:
        raise ValueError(
            f"Unknown optimizer {name!r}; choose one of {', '.join(sorted(OPTIMIZERS))}"
        ) from None
    return optimizer_class(params, **hyperparameters)
