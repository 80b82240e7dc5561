"""Drop-in ``torch.optim.Optimizer`` subclasses built on the pure rules of :mod:`optlib.rules`.

Each class accepts the same keywords, with the same defaults, as its ``torch.optim`` namesake, and
uses the same per-parameter state keys (``step``, ``exp_avg``, ``sum``, ...), so state dicts load
across the two libraries. ``step()`` only gathers tensors and hands them to the rule (or to its
in-place twin in :mod:`optlib.kernels`), and ``tests/test_optim_parity.py`` proves every way
of running it equal to ``torch.optim``.

How ``step()`` runs, by default (``foreach=None`` or ``True``): once per group of similar
tensors rather than once per tensor. ``Adam``, ``AdamW`` and ``Adagrad``, the book's subjects,
then run :mod:`optlib.kernels`: the same equations computed in place with PyTorch's fused foreach
kernels, as fast as ``torch.optim`` (``python -m optlib.bench``). ``SGD`` and ``RMSprop`` run
their pure rule on :class:`~optlib.tensorlist.TensorList` s (lists of tensors whose operators are
foreach kernels). ``foreach=False`` calls the pure rule once per tensor: the most direct reading
of the algorithm, and the same numbers up to rounding.

Differences from ``torch.optim`` (all raise a clear error rather than doing something else):
``fused``, ``capturable`` and ``differentiable`` accept only their defaults; sparse and complex
gradients are not supported. Adagrad creates its state lazily at the first step of each
parameter, like Adam.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

import torch
from torch.optim import Optimizer

from optlib import kernels, rules
from optlib.tensorlist import TensorList

Params = Iterable[torch.Tensor] | Iterable[dict[str, Any]]

DEFAULT_LR: dict[str, float] = {
    "sgd": 1e-3,
    "adam": 1e-3,
    "adamw": 1e-3,
    "adagrad": 1e-2,
    "rmsprop": 1e-2,
}


# --------------------------------------------------------------------------------------------
# Validation at the boundary
# --------------------------------------------------------------------------------------------
def _as_float(name: str, value: Any) -> float:
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            raise ValueError(f"Invalid {name}: a tensor {name} must have one element, got {value}")
        value = value.item()
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ValueError(f"Invalid {name}: expected a number, got {value!r}") from None


def check_non_negative(name: str, value: Any) -> None:
    """Raise ``ValueError`` naming ``name`` unless ``value`` is a finite number >= 0."""
    number = _as_float(name, value)
    if not (math.isfinite(number) and number >= 0.0):
        raise ValueError(f"Invalid {name}: {value!r} (expected a finite number >= 0)")


def check_unit_interval(name: str, value: Any) -> None:
    """Raise ``ValueError`` naming ``name`` unless ``0 <= value < 1``."""
    number = _as_float(name, value)
    if not 0.0 <= number < 1.0:  # also rejects NaN
        raise ValueError(f"Invalid {name}: {value!r} (expected 0 <= {name} < 1)")


def check_betas(betas: Any) -> None:
    """Raise ``ValueError`` unless ``betas`` is a pair with each beta in [0, 1)."""
    if not isinstance(betas, tuple | list) or len(betas) != 2:
        raise ValueError(f"Invalid betas: {betas!r} (expected a pair (beta1, beta2))")
    for index, beta in enumerate(betas):
        check_unit_interval(f"betas[{index}] (beta{index + 1})", beta)


def check_default_only(name: str, value: Any, default: Any) -> None:
    """Reject implementation switches that only ``torch.optim`` provides."""
    if value not in (default, None, False):
        raise ValueError(
            f"Invalid {name}: {value!r}. optlib implements only plain tensor operations; "
            f"use torch.optim for {name}={value!r}."
        )


# --------------------------------------------------------------------------------------------
# The shared shell: gather tensors, call the rule, write back
# --------------------------------------------------------------------------------------------
def _check_supported(optimizer_name: str, param: torch.Tensor) -> None:
    """Refuse what the rules do not handle, with a message that says what to use instead."""
    if param.grad.is_sparse:
        raise RuntimeError(
            f"{optimizer_name} in optlib does not support sparse gradients; "
            "use torch.optim for sparse embeddings"
        )
    if torch.is_complex(param):
        raise RuntimeError(f"{optimizer_name} in optlib does not support complex parameters")


def _check_lr_fits(lr: float, dtypes: set[torch.dtype]) -> None:
    """Refuse a learning rate the parameters' dtype cannot hold (e.g. 1e300 for float32): it
    would silently turn every parameter into inf or NaN, or fail deep inside a kernel."""
    for dtype in dtypes:
        if abs(lr) > torch.finfo(dtype).max:
            raise ValueError(
                f"Invalid lr: {lr!r} is larger than the largest {dtype} "
                f"({torch.finfo(dtype).max:.3g}), the parameters' dtype"
            )


class _RuleOptimizer(Optimizer):
    """Base class: ``step()`` runs the pure rule on every parameter that has a gradient.

    Subclasses name the rule, how to build its initial state, and which ``torch.optim`` state key
    holds each field of the rule's NamedTuple state.

    Three ways to run a step, chosen by :meth:`steps_tensors_together` and :attr:`kernel`:

    * a subclass with an in-place :attr:`kernel` (:mod:`optlib.kernels`) runs it once per batch
      of parameters sharing a device, a dtype, a step count and the same stored buffers
      (:meth:`_batches`), on plain lists of tensors;
    * otherwise the pure rule runs once per batch, on :class:`~optlib.tensorlist.TensorList` s:
      the rules use operators only, so they run on TensorLists unchanged, and each operator
      becomes one ``torch._foreach_*`` call for the whole batch (bit-identical to the next way,
      ``tests/test_tensorlist.py``);
    * with ``foreach=False``, the pure rule runs once per parameter tensor.
    """

    state_type: type  # the rule's NamedTuple state
    state_keys: dict[str, str]  # NamedTuple field -> torch.optim state key
    hyperparameters: tuple[str, ...]  # group keys passed to the rule

    def init_state(self, param: torch.Tensor, group: dict[str, Any]) -> NamedTuple:
        raise NotImplementedError

    def rule(self, grad, state, param, **hyper) -> tuple[torch.Tensor, NamedTuple]:
        raise NotImplementedError

    kernel: Callable[..., NamedTuple] | None = None
    """The rule computed in place on lists of tensors, ``kernel(grads, state, params, **hyper)
    -> new_state`` (see :mod:`optlib.kernels`), or ``None`` where there is none."""

    def steps_tensors_together(self, group: dict[str, Any]) -> bool:
        """Whether to update a batch of tensors per call rather than one tensor per call.

        Yes unless ``foreach=False``. On CUDA each foreach operation is one fused kernel for all
        the tensors; on the CPU it still visits them one by one but saves the Python calls, a
        dozen per tensor per step: most of the step on a model with many small tensors.
        """
        return group["foreach"] is not False

    def _load(self, param: torch.Tensor, group: dict[str, Any]) -> NamedTuple:
        """The rule's typed state for ``param``, read from ``self.state`` (or freshly built)."""
        stored = self.state[param]
        if not stored:
            return self.init_state(param, group)
        fields = {field: stored.get(key) for field, key in self.state_keys.items()}
        if "step" in fields:  # torch.optim keeps the step count as a float tensor
            fields["step"] = int(fields["step"])
        return self.state_type(**fields)

    def _store(self, param: torch.Tensor, state: NamedTuple) -> None:
        stored = self.state[param]
        for field, value in state._asdict().items():
            if value is not None:
                stored[self.state_keys[field]] = value

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:
        """Perform one optimization step; ``closure`` re-evaluates the loss, as in torch.optim."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            hyper = {name: group[name] for name in self.hyperparameters}
            hyper["lr"] = _as_float("lr", hyper["lr"])
            params = [param for param in group["params"] if param.grad is not None]
            for param in params:
                _check_supported(type(self).__name__, param)
            _check_lr_fits(hyper["lr"], {param.dtype for param in params})
            if not self.steps_tensors_together(group):
                for param in params:
                    delta, new_state = self.rule(
                        param.grad, self._load(param, group), param, **hyper
                    )
                    param.add_(delta)
                    self._store(param, new_state)
                continue
            for batch, state in self._batches(params, group):
                grads = [param.grad for param in batch]
                if self.kernel is not None:  # updates the parameters and the state in place
                    new_state = self.kernel(grads, state, batch, **hyper)
                else:
                    as_tensorlists = {
                        field: TensorList(value)
                        for field, value in state._asdict().items()
                        if isinstance(value, list)
                    }
                    delta, new_state = self.rule(
                        TensorList(grads), state._replace(**as_tensorlists), TensorList(batch),
                        **hyper,
                    )  # fmt: skip
                    torch._foreach_add_(batch, list(delta))
                self._store_batch(batch, new_state)
        return loss

    def _batches(
        self, params: list[torch.Tensor], group: dict[str, Any]
    ) -> list[tuple[list[torch.Tensor], NamedTuple]]:
        """The parameters in batches that one call of the rule can update: same device and dtype,
        same step count, and the same buffers stored (e.g. SGD's momentum buffer exists only
        after step 1). Each batch comes with its state: the rule's NamedTuple whose tensor fields
        are lists of the tensors ``self.state`` holds (``None`` where a buffer is absent)."""
        batches: dict[tuple, list[torch.Tensor]] = {}
        for param in params:
            stored = self.state[param]
            if not stored:
                self._store(param, self.init_state(param, group))
            buffers = tuple(key in stored for key in self.state_keys.values())
            key = (param.device, param.dtype, int(stored.get("step", 0)), buffers)
            batches.setdefault(key, []).append(param)
        result = []
        for (_, _, step, _), batch in batches.items():
            stored_states = [self.state[param] for param in batch]
            fields = {
                field: [stored[key] for stored in stored_states]
                if key in stored_states[0]
                else None
                for field, key in self.state_keys.items()
            }
            if "step" in fields:  # torch.optim keeps the step count as a float tensor
                fields["step"] = step
            result.append((batch, self.state_type(**fields)))
        return result

    def _store_batch(self, batch: list[torch.Tensor], state: NamedTuple) -> None:
        """The inverse of :meth:`_batches`: element ``i`` of each list goes to ``batch[i]``."""
        for index, param in enumerate(batch):
            stored = self.state[param]
            for field, value in zip(state._fields, state, strict=True):
                if value is not None:
                    is_list = isinstance(value, list | TensorList)
                    stored[self.state_keys[field]] = value[index] if is_list else value


class SGD(_RuleOptimizer):
    """Stochastic gradient descent with optional momentum: ``torch.optim.SGD``'s interface."""

    state_keys = {"momentum_buffer": "momentum_buffer"}
    hyperparameters = ("lr", "momentum", "dampening", "weight_decay", "nesterov", "maximize")
    state_type = rules.SGDState

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
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError(
                f"Invalid nesterov=True with momentum={momentum!r}, dampening={dampening!r}: "
                "Nesterov momentum requires a momentum > 0 and zero dampening"
            )
        check_default_only("differentiable", differentiable, False)
        check_default_only("fused", fused, None)
        defaults = dict(
            lr=lr,
            momentum=momentum,
            dampening=dampening,
            weight_decay=weight_decay,
            nesterov=nesterov,
            maximize=maximize,
            foreach=foreach,
            differentiable=differentiable,
            fused=fused,
        )
        super().__init__(params, defaults)

    def init_state(self, param, group):
        return rules.sgd_init(param)

    def rule(self, grad, state, param, **hyper):
        return rules.sgd_update(grad, state, param, **hyper)


class Adagrad(_RuleOptimizer):
    """Adagrad (Duchi, Hazan & Singer, 2011): ``torch.optim.Adagrad``'s interface."""

    state_keys = {"sum_sq": "sum", "step": "step"}
    hyperparameters = ("lr", "lr_decay", "weight_decay", "eps", "maximize")
    state_type = rules.AdagradState

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
        check_default_only("differentiable", differentiable, False)
        check_default_only("fused", fused, None)
        defaults = dict(
            lr=lr,
            lr_decay=lr_decay,
            weight_decay=weight_decay,
            initial_accumulator_value=initial_accumulator_value,
            eps=eps,
            foreach=foreach,
            maximize=maximize,
            differentiable=differentiable,
            fused=fused,
        )
        super().__init__(params, defaults)

    def init_state(self, param, group):
        return rules.adagrad_init(param, group["initial_accumulator_value"])

    def rule(self, grad, state, param, **hyper):
        return rules.adagrad_update(grad, state, param, **hyper)

    def kernel(self, grads, state, params, **hyper):
        return kernels.adagrad_update_(grads, state, params, **hyper)


class RMSprop(_RuleOptimizer):
    """RMSprop (Tieleman & Hinton, 2012): ``torch.optim.RMSprop``'s interface."""

    state_keys = {
        "square_avg": "square_avg",
        "grad_avg": "grad_avg",
        "momentum_buffer": "momentum_buffer",
        "step": "step",
    }
    hyperparameters = ("lr", "alpha", "eps", "weight_decay", "momentum", "centered", "maximize")
    state_type = rules.RMSpropState

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
        check_non_negative("eps", eps)
        check_non_negative("momentum", momentum)
        check_non_negative("weight_decay", weight_decay)
        check_non_negative("alpha", alpha)
        check_default_only("capturable", capturable, False)
        check_default_only("differentiable", differentiable, False)
        defaults = dict(
            lr=lr,
            alpha=alpha,
            eps=eps,
            weight_decay=weight_decay,
            momentum=momentum,
            centered=centered,
            capturable=capturable,
            foreach=foreach,
            maximize=maximize,
            differentiable=differentiable,
        )
        super().__init__(params, defaults)

    def init_state(self, param, group):
        return rules.rmsprop_init(param, momentum=group["momentum"], centered=group["centered"])

    def rule(self, grad, state, param, **hyper):
        return rules.rmsprop_update(grad, state, param, **hyper)


class Adam(_RuleOptimizer):
    """Adam (Kingma & Ba, 2015) with AMSGrad and decoupled decay: ``torch.optim.Adam``'s API."""

    state_keys = {
        "exp_avg": "exp_avg",
        "exp_avg_sq": "exp_avg_sq",
        "max_exp_avg_sq": "max_exp_avg_sq",
        "step": "step",
    }
    hyperparameters = (
        "lr",
        "betas",
        "eps",
        "weight_decay",
        "amsgrad",
        "maximize",
        "decoupled_weight_decay",
    )
    state_type = rules.AdamState

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
        check_non_negative("eps", eps)
        check_betas(betas)
        check_non_negative("weight_decay", weight_decay)
        check_default_only("capturable", capturable, False)
        check_default_only("differentiable", differentiable, False)
        check_default_only("fused", fused, None)
        defaults = dict(
            lr=lr,
            betas=tuple(betas),
            eps=eps,
            weight_decay=weight_decay,
            amsgrad=amsgrad,
            foreach=foreach,
            maximize=maximize,
            capturable=capturable,
            differentiable=differentiable,
            fused=fused,
            decoupled_weight_decay=decoupled_weight_decay,
        )
        super().__init__(params, defaults)

    def init_state(self, param, group):
        return rules.adam_init(param, amsgrad=group["amsgrad"])

    def rule(self, grad, state, param, **hyper):
        return rules.adam_update(grad, state, param, **hyper)

    def kernel(self, grads, state, params, **hyper):
        return kernels.adam_update_(grads, state, params, **hyper)


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
            params,
            lr=lr,
            betas=betas,
            eps=eps,
            weight_decay=weight_decay,
            amsgrad=amsgrad,
            foreach=foreach,
            maximize=maximize,
            capturable=capturable,
            differentiable=differentiable,
            fused=fused,
            decoupled_weight_decay=True,
        )


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
