"""Prompt templates: one TOML file per task in `prompts/`, loaded and rendered here only.

The repository's top-level `prompts/` folder is installed as the package `qa._prompts`
(pyproject.toml maps it with `package-dir`; the templates are its package data), so the
templates ship in the wheel and load through importlib.resources, from an editable install
or a regular one alike. $QA_PROMPTS_DIR names another folder instead.

A template file holds `name`, `version`, `description`, `variables` (the declared
variables), `system` and `user` (Jinja2 with StrictUndefined). Rendering with a missing or
undeclared variable raises `PromptError`. Every template's identity travels into results
as `name` and `version` = "<version>+<first 8 hex of the file's sha256>", so an edit that
forgets to bump the version still changes the identity.

The article goes into the user message inside `article_block(article)`: a block whose
marker code is derived from the article text's hash. No article can contain the code of
its own hash, so none can close the block early or imitate it; and the block is
byte-identical for every call about the same article, so recordings match and providers'
prompt caching applies (the article block is placed first in the user message).
"""

from __future__ import annotations

import hashlib
import os
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qa.errors import PromptError

if TYPE_CHECKING:
    import jinja2

__all__ = ["PromptTemplate", "RenderedPrompt", "article_block", "load_prompt", "packaged_prompts_dir", "prompts_dir"]

_REQUIRED = ("name", "version", "description", "variables", "system", "user")
_PACKAGE = "qa._prompts"  # the repository's prompts/ folder, mapped by pyproject.toml's package-dir


def prompts_dir() -> Path:
    """The folder templates load from: $QA_PROMPTS_DIR, else the installed package `qa._prompts`."""
    override = os.environ.get("QA_PROMPTS_DIR")
    return Path(override) if override else packaged_prompts_dir()


def packaged_prompts_dir() -> Path:
    """The templates installed with qa (package data of `qa._prompts`), found by importlib.resources."""
    from importlib import resources

    try:
        folder = resources.files(_PACKAGE)
    except ModuleNotFoundError:
        raise PromptError(
            f"the prompt templates are not installed (no package {_PACKAGE}): reinstall qa "
            "(pip install . or pip install -e .), or set QA_PROMPTS_DIR to a folder of templates"
        ) from None
    if not isinstance(folder, Path):  # e.g. imported from a zip file: not a folder on disk
        raise PromptError(
            f"the prompt templates in {folder} are not files on disk: install qa unzipped, or set QA_PROMPTS_DIR"
        )
    return folder


@dataclass(frozen=True)
class RenderedPrompt:
    """A rendered template: the chat messages and the template's identity."""

    name: str
    version: str
    messages: list[dict[str, str]]


@dataclass(frozen=True)
class PromptTemplate:
    """One task's template, as loaded from `prompts/<name>.toml`."""

    name: str
    version: str
    description: str
    variables: frozenset[str]
    system: str
    user: str

    def render(self, **variables: Any) -> RenderedPrompt:
        """Render system and user parts; every declared variable must be given, no other."""
        given = set(variables)
        missing = sorted(self.variables - given)
        unknown = sorted(given - self.variables)
        if missing:
            raise PromptError(f"prompt '{self.name}' needs variable(s) {', '.join(missing)}")
        if unknown:
            raise PromptError(f"prompt '{self.name}' has no variable(s) {', '.join(unknown)}")
        messages = [
            {"role": "system", "content": _render(self.name, "system", self.system, variables)},
            {"role": "user", "content": _render(self.name, "user", self.user, variables)},
        ]
        return RenderedPrompt(name=self.name, version=self.version, messages=messages)


@cache
def _compiled(source: str) -> jinja2.Template:
    import jinja2  # imported here: `qa --help` must not pay for it

    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=False, autoescape=False)
    return env.from_string(source)


def _render(name: str, part: str, source: str, variables: dict[str, Any]) -> str:
    import jinja2

    try:
        return _compiled(source).render(**variables).strip() + "\n"
    except jinja2.TemplateError as exc:
        raise PromptError(f"prompt '{name}' ({part} part) failed to render: {exc}") from exc


@cache
def _load(path: Path) -> PromptTemplate:
    try:
        raw = path.read_bytes()
        data = tomllib.loads(raw.decode("utf-8"))
    except FileNotFoundError:
        available = sorted(p.stem for p in path.parent.glob("*.toml"))
        raise PromptError(
            f"no prompt template {path.name} in {path.parent} (have: {', '.join(available) or 'none'})"
        ) from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise PromptError(f"prompt template {path} cannot be read: {exc}") from exc
    absent = [key for key in _REQUIRED if key not in data]
    extra = sorted(set(data) - set(_REQUIRED))
    if absent or extra:
        raise PromptError(f"prompt template {path}: missing keys {absent}, unknown keys {extra}")
    if data["name"] != path.stem:
        raise PromptError(f"prompt template {path}: name '{data['name']}' does not match the file name")
    variables = data["variables"]
    if not isinstance(variables, list) or not all(isinstance(v, str) for v in variables):
        raise PromptError(f"prompt template {path}: 'variables' must be a list of names")
    digest = hashlib.sha256(raw).hexdigest()[:8]
    return PromptTemplate(
        name=data["name"],
        version=f"{data['version']}+{digest}",
        description=str(data["description"]),
        variables=frozenset(variables),
        system=str(data["system"]),
        user=str(data["user"]),
    )


def load_prompt(name: str, folder: Path | None = None) -> PromptTemplate:
    """Load the template `name` from `folder` (default: `prompts_dir()`)."""
    if not name or "/" in name or "\\" in name or name.startswith("."):
        raise PromptError(f"invalid prompt name {name!r}")
    return _load((folder or prompts_dir()) / f"{name}.toml")


def article_block(text: str) -> str:
    """The article wrapped in marker lines whose code is derived from its own hash."""
    code = hashlib.sha256(text.encode("utf-8")).hexdigest()[:16].upper()
    return f"<<<ARTICLE {code}>>>\n{text}\n<<<END ARTICLE {code}>>>"
