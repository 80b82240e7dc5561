"""optlib: the optimizer library behind the book "Adam vs Adagrad: an executable book".

* :mod:`optlib.rules` -- every update rule of chapter 3 as a small pure function;
* :mod:`optlib.kernels` -- Adam's and Adagrad's rules computed in place, for speed;
* :mod:`optlib.optim` -- drop-in ``torch.optim`` optimizers built on those rules;
* :mod:`optlib.claims` -- :func:`claim`, which checks every number the prose states;
* :mod:`optlib.plotting` -- one palette, one colour per optimizer, for the whole book.
"""

from optlib import optim, rules
from optlib.claims import ClaimError, claim
from optlib.plotting import COLORS, color, label, use_book_style

__all__ = [
    "COLORS",
    "ClaimError",
    "claim",
    "color",
    "label",
    "optim",
    "rules",
    "use_book_style",
]
__version__ = "0.1.0"
