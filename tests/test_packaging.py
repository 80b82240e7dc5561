"""optlib declares what it imports, and only that: every third-party module imported anywhere in
the package (at the top or inside a function) is a dependency in pyproject.toml, and every
dependency there is imported. (The book's own tools, e.g. plotly for _ext/, are in
requirements.txt.)"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[1]
# Import names that differ from their distribution's name on PyPI.
DISTRIBUTION = {
    "IPython": "ipython",
    "matplotlib_inline": "matplotlib-inline",
    "myst_nb": "myst-nb",
}


def imported_top_level_modules(package: Path) -> dict[str, str]:
    """``{module: first file importing it}`` for absolute imports in every .py under
    ``package``."""
    found: dict[str, str] = {}
    for path in sorted(package.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                found.setdefault(name.split(".")[0], str(path.relative_to(ROOT)))
    return found


def declared_distributions() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return {
        re.split(r"[<>=!~\[; ]", spec, maxsplit=1)[0].lower() for spec in project["dependencies"]
    }


def test_every_third_party_import_of_optlib_is_declared():
    declared = declared_distributions()
    third_party = {
        module: where
        for module, where in imported_top_level_modules(ROOT / "optlib").items()
        if module not in sys.stdlib_module_names and module not in ("optlib", "__future__")
    }
    missing = {
        module: where
        for module, where in third_party.items()
        if DISTRIBUTION.get(module, module).lower() not in declared
    }
    assert not missing, f"imported but not in pyproject.toml's dependencies: {missing}"
    imported = {DISTRIBUTION.get(module, module).lower() for module in third_party}
    unused = declared - imported
    assert not unused, f"in pyproject.toml's dependencies but never imported by optlib: {unused}"
