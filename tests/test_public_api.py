from __future__ import annotations

import subprocess
import sys

import pytest

import qa


def test_every_exported_name_resolves() -> None:
    for name in qa.__all__:
        assert getattr(qa, name) is not None, name


def test_type_checking_imports_match_the_exports() -> None:
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(qa))
    imported = {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.If)
        for stmt in node.body
        if isinstance(stmt, ast.ImportFrom)
        for alias in stmt.names
    }
    assert imported == set(qa.__all__)


def test_every_error_derives_from_qaerror() -> None:
    import qa.errors

    for name in qa.errors.__all__:
        assert issubclass(getattr(qa.errors, name), qa.QAError), name


@pytest.mark.subprocess
def test_import_qa_is_light() -> None:
    code = "import sys, qa; heavy = [m for m in ('openai', 'llama_cpp', 'pydantic', 'jinja2', 'rich') if m in sys.modules]; print(heavy)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
