"""The package's layers: every import runs down (or stays in its own folder), never back up.

Each folder's `__init__.py` docstring says what it holds and what it may import; this test
holds the code to it, reading every `import` of every module under qa/ (type-only and
function-level imports included: a lazy import is still a dependency).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

QA = Path(__file__).resolve().parent.parent / "qa"

BASE = {"qa._lazy", "qa.errors", "qa.settings", "qa.schemas"}
# Folder (or top-level module) -> layer. A module may import its own folder and lower layers only;
# folders on the same layer do not import each other.
LAYERS = {
    "base": 0,
    "calibration": 0,
    "core": 1,
    "text": 1,
    "recording": 1,
    "backends": 2,
    "testing": 2,
    "tasks": 3,
    "api": 4,
    "bulk": 5,
    "qa": 6,  # qa/__init__.py: the public names
    "evals": 7,
    "cli": 8,
}


def group(module: str) -> str:
    """The layer group of a dotted module name under qa."""
    if module == "qa":
        return "qa"
    if module in BASE:
        return "base"
    return module.split(".")[1]


def module_name(path: Path, root: Path) -> str:
    parts = path.relative_to(root.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, root: Path) -> list[tuple[int, str]]:
    """(line, imported module) for every import of a qa module in `path`."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and node.module.split(".")[0] == "qa":
            if node.module == "qa":  # `from qa import x`: a submodule, or a name of the package itself
                found += [
                    (
                        node.lineno,
                        f"qa.{a.name}" if (root / a.name).exists() or (root / f"{a.name}.py").exists() else "qa",
                    )
                    for a in node.names
                ]
            else:
                found.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.split(".")[0] == "qa"]
        elif isinstance(node, ast.ImportFrom) and node.level > 0:
            found.append((node.lineno, "<relative>"))
    return found


def upward_imports(root: Path) -> list[str]:
    wrong = []
    for path in sorted(root.rglob("*.py")):
        here = group(module_name(path, root))
        for line, target in imports(path, root):
            if target == "<relative>":
                wrong.append(f"{path.relative_to(root.parent)}:{line}: a relative import (write it absolute)")
                continue
            there = group(target)
            if there not in LAYERS:
                wrong.append(f"{path.relative_to(root.parent)}:{line}: {target} is in no layer")
            elif there != here and LAYERS[there] >= LAYERS[here]:
                wrong.append(
                    f"{path.relative_to(root.parent)}:{line}: {here} (layer {LAYERS[here]}) imports {target} "
                    f"({there}, layer {LAYERS[there]})"
                )
    return wrong


def test_every_folder_and_top_module_has_a_layer() -> None:
    names = {p.name for p in QA.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    names |= {p.stem for p in QA.glob("*.py") if p.stem != "__init__" and f"qa.{p.stem}" not in BASE}
    assert names <= set(LAYERS), f"not in a layer: {sorted(names - set(LAYERS))}"


def test_no_import_runs_back_up_a_layer() -> None:
    assert upward_imports(QA) == []


def test_the_check_sees_an_upward_import(tmp_path: Path) -> None:
    """The rule is not vacuous: a core module importing a task is reported, with its line."""
    core = tmp_path / "qa" / "core"
    core.mkdir(parents=True)
    (tmp_path / "qa" / "__init__.py").write_text("")
    (core / "__init__.py").write_text("")
    (core / "bad.py").write_text(
        "from qa.errors import QAError\n\ndef f():\n    from qa.tasks.answer import answer_steps\n"
    )
    assert upward_imports(tmp_path / "qa") == [
        "qa/core/bad.py:4: core (layer 1) imports qa.tasks.answer (tasks, layer 3)"
    ]


@pytest.mark.parametrize(
    "folder",
    sorted(p.name for p in QA.iterdir() if p.is_dir() and (p / "__init__.py").exists() and p.name != "_prompts"),
)
def test_each_folder_says_what_it_holds_and_may_import(folder: str) -> None:
    doc = ast.get_docstring(ast.parse((QA / folder / "__init__.py").read_text(encoding="utf-8")))
    assert doc, f"qa/{folder}/__init__.py has no docstring"
    assert "import" in doc.lower(), f"qa/{folder}/__init__.py does not say what it may import"
