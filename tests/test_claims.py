"""The claims helper: raises with the statement and values when false, shows a check when true."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from optlib import claims
from optlib.claims import Check, ClaimError, claim


def test_true_claim_prints_a_check_line_outside_ipython(capsys):
    claim(0.978 > 0.97, "Adam beats 97%", accuracy=0.97812, epochs=5)
    out = capsys.readouterr().out
    assert out.strip() == "✔ Checked: Adam beats 97% (accuracy = 0.9781, epochs = 5)"


def test_false_claim_raises_with_statement_and_values():
    with pytest.raises(ClaimError) as error:
        claim(False, "Adagrad's step shrinks 10x", ratio=3.2)
    assert str(error.value) == "Claim failed: Adagrad's step shrinks 10x (ratio = 3.2)"
    assert isinstance(error.value, AssertionError)


def test_tensor_and_numpy_conditions_and_values(capsys):
    claim(torch.tensor(True), "torch bool", value=torch.tensor(2.5))
    claim(np.bool_(True), "numpy bool", value=np.float64(1e-12))
    out = capsys.readouterr().out
    assert "value = 2.5" in out and "value = 1e-12" in out
    with pytest.raises(ClaimError):
        claim(torch.tensor(False), "false tensor")


def test_html_rendering_escapes_and_shows_values():
    check = Check("a < b & c", {"a": 1.0})
    html = check._repr_html_()
    assert "a &lt; b &amp; c" in html and "a = 1" in html and "✔" in html


def test_display_is_used_inside_ipython(monkeypatch):
    shown = []
    monkeypatch.setattr("IPython.get_ipython", lambda: object())
    monkeypatch.setattr("IPython.display.display", shown.append)
    claim(True, "inside a notebook", x=1)
    assert shown == [Check("inside a notebook", {"x": 1})]


def test_empty_statement_is_rejected():
    with pytest.raises(ValueError, match="statement"):
        claim(True, "  ")


def test_format_value():
    assert claims.format_value(float("nan")) == "nan"
    assert claims.format_value(123456.0) == "1.235e+05"
    assert claims.format_value(True) == "True"
    assert claims.format_value("adam") == "'adam'"


def test_glue_hands_myst_nb_python_numbers(monkeypatch) -> None:
    """NumPy 2 prints np.float64(0.5), which {glue:text}`k:.2f` cannot format: glue converts."""
    import myst_nb
    import numpy as np
    import torch

    import optlib

    glued = {}
    monkeypatch.setattr(
        myst_nb, "glue", lambda name, value, display=True: glued.update({name: (value, display)})
    )
    optlib.glue("a", np.float64(0.5))
    optlib.glue("b", torch.tensor(3))
    optlib.glue("c", "text", display=True)
    assert glued == {"a": (0.5, False), "b": (3, False), "c": ("text", True)}
    assert type(glued["a"][0]) is float and type(glued["b"][0]) is int
    assert repr(glued["a"][0]) == "0.5"
