"""qa installed from a wheel, not only editable: the prompt templates ship as package data.

The repository's top-level `prompts/` folder is the package `qa._prompts` (pyproject.toml's
package-dir), and `qa.core.prompts` finds it through importlib.resources, never beside the source.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
import zipfile
from importlib import resources
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pytest

from qa.core.prompts import load_prompt, packaged_prompts_dir, prompts_dir
from qa.errors import PromptError

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = sorted(p.name for p in (ROOT / "prompts").glob("*.toml"))


def _backend_here() -> bool:
    """This environment has setuptools>=69 (pyproject.toml's build requirement) able to build a wheel."""
    try:
        have = tuple(int(part) for part in version("setuptools").split(".")[:2])
    except (PackageNotFoundError, ValueError):
        return False
    return have >= (70, 1) or (have >= (69, 0) and importlib.util.find_spec("wheel") is not None)  # bdist_wheel


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A wheel built from a copy of the sources (an in-tree build would leave build/ and *.egg-info behind)."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    for name in ("qa", "prompts"):
        shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    out = work / "dist"
    # Offline with this environment's setuptools when it is the backend pyproject.toml asks for;
    # else as `pip install .` does it, in an isolated build environment (pip's cache or index).
    isolation = ["--no-build-isolation", "--no-index"] if _backend_here() else []
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", *isolation, "-q", "-w", str(out), str(source)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    (built,) = out.glob("qa-*.whl")
    return built


@pytest.mark.slow
def test_the_wheel_holds_every_template_under_the_package(wheel: Path) -> None:
    assert TEMPLATES, "no templates in prompts/"
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        for name in TEMPLATES:
            assert f"qa/_prompts/{name}" in names
            assert archive.read(f"qa/_prompts/{name}") == (ROOT / "prompts" / name).read_bytes()
    assert "qa/_prompts/__init__.py" in names
    # The package list in pyproject.toml is explicit: a new subpackage must not be left out.
    modules = {p.relative_to(ROOT).as_posix() for p in (ROOT / "qa").rglob("*.py") if "__pycache__" not in p.parts}
    assert modules <= names, sorted(modules - names)
    assert {
        "qa/py.typed",
        *(p.relative_to(ROOT).as_posix() for p in (ROOT / "qa" / "calibration").glob("*.json")),
    } <= names
    assert not any(n.startswith(("prompts/", "seeds/", "evals/", "tests/")) for n in names)


@pytest.mark.subprocess
@pytest.mark.slow
def test_the_unpacked_wheel_loads_its_templates_away_from_the_checkout(wheel: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(site)  # a pure-Python wheel's files, as pip would install them
    script = (
        "import qa, qa.core.prompts as p; t = p.load_prompt('answer'); "
        "print(qa.__file__); print(p.prompts_dir()); print(t.version)"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("QA_PROMPTS_DIR", "PYTHONPATH")}
    env["PYTHONPATH"] = str(site)
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    module, folder, version = done.stdout.split("\n")[:3]
    assert Path(module).is_relative_to(site) and Path(folder) == site / "qa" / "_prompts"
    assert version == load_prompt("answer").version


@pytest.mark.subprocess
@pytest.mark.slow
def test_the_installed_wheel_passes_the_ci_command_in_another_folder(wheel: Path, tmp_path: Path) -> None:
    """`qa --record-mode replay eval --check`, literally, run by the wheel's code (not the checkout's)
    in a folder that holds only the seed suite's files: no model (llama_cpp made unimportable), no
    network, and an API key in the environment must not turn the offline gate into a paid run.
    The only full replay of the seed suite in the test run; scripts/test's gate is the other."""
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(site)  # a pure-Python wheel's files, as pip would install them
    elsewhere = tmp_path / "elsewhere"
    for part in (
        "pyproject.toml",
        "seeds/000_db386d23d8a38732.txt",
        "evals/seed",
        "evals/recordings/seed",
        "evals/baselines/seed.json",
    ):
        source, target = ROOT / part, elsewhere / part
        target.parent.mkdir(parents=True, exist_ok=True)
        (shutil.copytree if source.is_dir() else shutil.copy)(source, target)
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), "PYTHONPATH": str(site),
           "QA_LOCAL_MODEL": "/nonexistent/models/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
           "OPENAI_API_KEY": "sk-anything"}  # fmt: skip
    probe = (
        "import sys; sys.modules['llama_cpp'] = None\n"  # importing the model library now fails
        "import qa; print(qa.__file__, file=sys.stderr)\n"
        "from qa.cli import main\n"
        "main(['--record-mode', 'replay', 'eval', '--check', '--junit', 'junit.xml'])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=elsewhere, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    assert Path(done.stderr.splitlines()[0]).is_relative_to(site)  # the wheel's qa ran, not the checkout's
    assert "gate: PASS (exit 0)" in done.stdout
    suite = ET.parse(elsewhere / "junit.xml").getroot().find("testsuite")
    assert suite is not None and suite.get("tests") == "57" and suite.get("errors") == "0"
    assert list((elsewhere / "evals" / "runs").glob("seed-*.jsonl"))  # the default log folder


def test_without_the_override_answer_loads_from_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("QA_PROMPTS_DIR", raising=False)
    packaged = resources.files("qa._prompts")
    assert prompts_dir() == packaged_prompts_dir() == packaged
    template = load_prompt("answer")
    digest = hashlib.sha256(packaged.joinpath("answer.toml").read_bytes()).hexdigest()[:8]
    assert template.name == "answer" and template.version.endswith(f"+{digest}")


def test_the_default_folder_comes_from_importlib_resources(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("QA_PROMPTS_DIR", raising=False)
    shutil.copy2(ROOT / "prompts" / "answer.toml", tmp_path / "answer.toml")
    asked: list[str] = []

    def files(package: str) -> Path:
        asked.append(package)
        return tmp_path

    monkeypatch.setattr(resources, "files", files)
    assert load_prompt("answer").version == load_prompt("answer", ROOT / "prompts").version
    assert prompts_dir() == tmp_path and asked and set(asked) == {"qa._prompts"}


def test_the_override_still_wins_and_a_missing_package_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("QA_PROMPTS_DIR", str(tmp_path))
    assert prompts_dir() == tmp_path
    with pytest.raises(PromptError, match="no prompt template answer.toml"):
        load_prompt("answer")
    monkeypatch.delenv("QA_PROMPTS_DIR")

    def files(package: str) -> Path:
        raise ModuleNotFoundError(package)

    monkeypatch.setattr(resources, "files", files)
    with pytest.raises(PromptError, match="not installed.*QA_PROMPTS_DIR"):
        load_prompt("answer")
