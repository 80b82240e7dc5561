r"""A list of tensors that does arithmetic on all of them at once.

The update rules of :mod:`optlib.rules` are written with operators only (``+ - * / **``, unary
``-``). A :class:`TensorList` implements exactly those operators with PyTorch's *foreach* kernels
(``torch._foreach_add``, ``torch._foreach_mul``, ...), so one call of a rule updates every
parameter tensor of a model instead of one::

    >>> import torch
    >>> weights = TensorList([torch.ones(2), torch.full((3,), 4.0)])
    >>> grads = TensorList([torch.ones(2), torch.zeros(3)])
    >>> [t.tolist() for t in weights**0.5 - 0.5 * grads]
    [[0.5, 0.5], [2.0, 2.0, 2.0]]

Each operation computes, element by element, the same floating-point operation as the
corresponding ``torch.Tensor`` operator, so a rule gives bit-identical results on a TensorList
and on each of its tensors in turn (``tests/test_tensorlist.py`` checks it). What it saves is
Python: a rule of 13 operations costs 13 calls per step instead of 13 per parameter tensor. (On
CUDA a foreach operation is also a single fused kernel; on the CPU it still visits the tensors
one after another.)

The other operand may be a number or a TensorList of the same length (reflected operators too:
``0.1 * a``, ``1 - a``). Comparisons and truth values are refused, so a rule that would branch
on tensor values fails loudly instead of silently taking one branch for the whole list.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from numbers import Real

import torch
from torch import Tensor


class TensorList(Sequence[Tensor]):
    """An immutable list of tensors with elementwise arithmetic on all of them at once.

    ``TensorList(tensors)[i]`` is the ``i``-th tensor; operators return new TensorLists.
    """

    __slots__ = ("tensors",)
    __array_ufunc__ = None  # NumPy numbers defer to our reflected operators: np.float64(2) * a

    def __init__(self, tensors: Iterable[Tensor]) -> None:
        self.tensors: list[Tensor] = list(tensors)

    # -- sequence protocol ---------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.tensors)

    def __getitem__(self, index):  # type: ignore[override]
        return self.tensors[index]

    def __iter__(self) -> Iterator[Tensor]:
        return iter(self.tensors)

    def __repr__(self) -> str:
        shapes = ", ".join(str(tuple(t.shape)) for t in self.tensors)
        return f"TensorList([{shapes}])"

    # -- the two kinds of operand --------------------------------------------------------------
    def _other(self, other: object) -> list[Tensor] | float:
        """``other`` as foreach kernels take it: a list of tensors or a Python number."""
        if isinstance(other, TensorList):
            if len(other) != len(self):
                raise ValueError(
                    f"Invalid operand: TensorLists of lengths {len(self)} and {len(other)}"
                )
            return other.tensors
        if isinstance(other, Real) and not isinstance(other, bool):
            return float(other)
        return NotImplemented  # type: ignore[return-value]

    # -- arithmetic ----------------------------------------------------------------------------
    def __add__(self, other):
        other = self._other(other)
        if other is NotImplemented:
            return NotImplemented
        return TensorList(torch._foreach_add(self.tensors, other))

    def __radd__(self, other):
        # Addition of a number commutes exactly in IEEE arithmetic: x + c == c + x.
        return self.__add__(other)

    def __sub__(self, other):
        other = self._other(other)
        if other is NotImplemented:
            return NotImplemented
        return TensorList(torch._foreach_sub(self.tensors, other))

    def __rsub__(self, other):
        other = self._other(other)
        if other is NotImplemented:
            return NotImplemented
        # c - x, computed as (-x) + c: negation is exact, so this is the same number.
        return TensorList(torch._foreach_add(torch._foreach_neg(self.tensors), other))

    def __mul__(self, other):
        other = self._other(other)
        if other is NotImplemented:
            return NotImplemented
        return TensorList(torch._foreach_mul(self.tensors, other))

    def __rmul__(self, other):
        return self.__mul__(other)  # multiplication commutes exactly

    def __truediv__(self, other):
        other = self._other(other)
        if other is NotImplemented:
            return NotImplemented
        return TensorList(torch._foreach_div(self.tensors, other))

    def __rtruediv__(self, other):
        other = self._other(other)  # a number: a TensorList on the left uses its __truediv__
        if other is NotImplemented:
            return NotImplemented
        # torch computes number / tensor as reciprocal(tensor) * number; so does this.
        return TensorList(torch._foreach_mul(torch._foreach_reciprocal(self.tensors), other))

    def __pow__(self, exponent):
        if isinstance(exponent, TensorList) or not isinstance(exponent, Real):
            return NotImplemented
        return TensorList(torch._foreach_pow(self.tensors, float(exponent)))

    def __neg__(self):
        return TensorList(torch._foreach_neg(self.tensors))

    def __pos__(self):
        return self

    def maximum(self, other: TensorList | float) -> TensorList:
        """Elementwise maximum with another TensorList (``torch.maximum`` on every pair)."""
        operand = self._other(other)
        if operand is NotImplemented:
            raise TypeError(f"Invalid operand for TensorList.maximum: {type(other).__name__}")
        return TensorList(torch._foreach_maximum(self.tensors, operand))

    # -- refused: a rule must not branch on tensor values ----------------------------------------
    def __bool__(self) -> bool:
        raise TypeError("The truth value of a TensorList is ambiguous; rules must not branch on it")

    def _refuse_comparison(self, other):
        raise TypeError(
            "TensorList does not support comparisons; use TensorList.maximum for an elementwise max"
        )

    __lt__ = __le__ = __gt__ = __ge__ = _refuse_comparison
    __eq__ = __ne__ = _refuse_comparison  # type: ignore[assignment]
    __hash__ = None  # type: ignore[assignment]
