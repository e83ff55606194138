"""Eval datasets: question cases, key facts and the suite that ties them to an article.

A suite is a TOML file naming an article and two JSONL files (see evals/README.md). Every
line is validated by a pydantic model with `extra="forbid"`; every problem raises
`qa.errors.DatasetError` naming the file, the line and the field, e.g.
`evals/seed/questions.jsonl:7: field 'answers': an answerable question needs at least one answer`.
All problems in a file are reported together, not just the first.
"""

from __future__ import annotations

import json
import math
import re
import tomllib
from pathlib import Path
from typing import Annotated, Literal, TypeVar

from pydantic import Field, ValidationError, ValidationInfo, field_validator

from qa.errors import DatasetError
from qa.evals.normalize import extract_quantities, normalize_text
from qa.schemas import FrozenModel

__all__ = ["KeyFact", "QuestionCase", "Suite", "load_key_facts", "load_questions", "load_suite"]

CaseId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,40}$")]
NonEmpty = Annotated[str, Field(min_length=1)]


def _check_numbers(numbers: list[str]) -> list[str]:
    for number in numbers:
        if not extract_quantities(number):
            raise ValueError(f"{number!r} contains no number or date that normalize_numbers recognises")
    return numbers


def _check_phrases(phrases: list[str], what: str) -> list[str]:
    for phrase in phrases:
        if not normalize_text(phrase):
            raise ValueError(f"{what} {phrase!r} is empty after normalisation")
    return phrases


class QuestionCase(FrozenModel):
    """One question about the suite's article, with its hand-labelled answers."""

    id: CaseId
    """Unique id within the file, e.g. 'q07'."""
    question: NonEmpty
    """The question as it is asked."""
    answerable: bool
    """False when the article does not say; then the only right response is to abstain."""
    answers: list[str]
    """Accepted answers (empty for unanswerable questions)."""
    aliases: list[str] = Field(default_factory=list)
    """Other accepted phrasings; scored like answers."""
    numbers: list[str] = Field(default_factory=list)
    """Numbers or dates a correct answer must contain (compared after normalize_numbers)."""
    care: str | None = None
    """A short label for questions that need care: 'date-arithmetic', 'figure-scope', 'speaker', ..."""
    notes: str = ""
    """Why the label is what it is."""
    article: str | None = None
    """The article the question is about, by id, in a suite of several articles (None: the suite's one article)."""

    @property
    def golds(self) -> list[str]:
        """Answers and aliases: everything a prediction may match."""
        return [*self.answers, *self.aliases]

    @field_validator("answers")
    @classmethod
    def _answers_fit_answerable(cls, answers: list[str], info: ValidationInfo) -> list[str]:
        answerable = info.data.get("answerable")
        if answerable is True and not answers:
            raise ValueError("an answerable question needs at least one answer")
        if answerable is False and answers:
            raise ValueError(f"an unanswerable question must have no answers (got {len(answers)})")
        return _check_phrases(answers, "answer")

    @field_validator("aliases", "numbers")
    @classmethod
    def _nothing_if_unanswerable(cls, values: list[str], info: ValidationInfo) -> list[str]:
        if info.data.get("answerable") is False and values:
            raise ValueError(f"an unanswerable question must have no {info.field_name}")
        if info.field_name == "numbers":
            return _check_numbers(values)
        return _check_phrases(values, "alias")

    @field_validator("care")
    @classmethod
    def _care_is_a_label(cls, care: str | None) -> str | None:
        if care is not None and not re.fullmatch(r"[a-z][a-z0-9-]{0,39}", care):
            raise ValueError(f"care must be a short lower-case label like 'date-arithmetic', got {care!r}")
        return care


class KeyFact(FrozenModel):
    """A fact a good summary of the article should carry, and how to recognise it."""

    id: CaseId
    """Unique id within the file, e.g. 'f03'."""
    fact: NonEmpty
    """The fact in one sentence."""
    aliases: list[str] = Field(default_factory=list)
    """Phrases that state the fact; matched as whole words after normalize_text."""
    patterns: Annotated[list[str], Field(default_factory=list, validate_default=True)]
    """Regular expressions searched in the normalize_text form of a text (lower-case, no punctuation)."""
    numbers: list[str] = Field(default_factory=list)
    """Numbers or dates that must also appear for the fact to count."""
    importance: Literal["core", "supporting"]
    """'core' facts are the story; 'supporting' facts are context."""
    article: str | None = None
    """The article the fact belongs to, by id, in a suite of several articles (None: the suite's one article)."""

    @field_validator("aliases")
    @classmethod
    def _aliases_not_empty(cls, aliases: list[str]) -> list[str]:
        return _check_phrases(aliases, "alias")

    @field_validator("patterns")
    @classmethod
    def _patterns_compile(cls, patterns: list[str], info: ValidationInfo) -> list[str]:
        for pattern in patterns:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"{pattern!r} is not a valid regular expression: {exc}") from exc
        if not patterns and not info.data.get("aliases"):
            raise ValueError("a key fact needs at least one alias or pattern")
        return patterns

    @field_validator("numbers")
    @classmethod
    def _numbers_parse(cls, numbers: list[str]) -> list[str]:
        return _check_numbers(numbers)


Scoring = Literal["qa", "squad"]


class Suite(FrozenModel):
    """A named eval suite: its articles, questions, key facts and the gate thresholds."""

    name: NonEmpty
    """Suite name, e.g. 'seed'."""
    source: Path
    """The suite.toml file it was loaded from."""
    article_path: Path | None
    """The one article file of a single-article suite (None when the suite has several)."""
    article_paths: dict[str, Path] = Field(default_factory=dict)
    """Article id -> file, for a suite of several articles (`articles = "folder"` in suite.toml)."""
    questions: list[QuestionCase]
    """Question cases, in file order."""
    key_facts: list[KeyFact]
    """Key facts for the summary scorers, in file order."""
    thresholds: dict[str, float]
    """Minimum acceptable value per metric name (may be empty)."""
    scoring: Scoring = "qa"
    """'qa': answers are matched with aliases and numbers; 'squad': the official SQuAD 2.0 EM and F1 only."""
    reference: Literal["none", "bare"] = "none"
    """'bare': also ask every question of the bare model with a plain prompt, as the reference qa must beat."""

    def article_ids(self) -> list[str | None]:
        """The suite's article ids in order ([None] for a single-article suite)."""
        if self.article_path is not None:
            return [None]
        return [*sorted(self.article_paths)]  # a list[str | None]: sorted() alone is list[str]

    def path_of(self, article: str | None) -> Path:
        """The file of article `article` (None: the one article)."""
        if article is None and self.article_path is not None:
            return self.article_path
        if article is not None and article in self.article_paths:
            return self.article_paths[article]
        raise DatasetError(f"{self.source}: no article {article!r} in this suite")

    def facts_for(self, article: str | None) -> list[KeyFact]:
        """The key facts of one article."""
        return [f for f in self.key_facts if f.article == article]

    def read_article(self, article: str | None = None) -> str:
        """The article text (UTF-8)."""
        path = self.path_of(article)
        try:
            return path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise DatasetError(f"{self.source}: article {path} cannot be read: {exc}") from exc


class _SuiteTable(FrozenModel):
    name: NonEmpty
    article: str = ""
    articles: str = ""
    questions: str = "questions.jsonl"
    key_facts: str = "key_facts.jsonl"
    description: str = ""
    scoring: Scoring = "qa"
    reference: Literal["none", "bare"] = "none"


class _SuiteFile(FrozenModel):
    suite: _SuiteTable
    thresholds: dict[str, float] = Field(default_factory=dict)

    @field_validator("thresholds")
    @classmethod
    def _finite(cls, thresholds: dict[str, float]) -> dict[str, float]:
        for metric, value in thresholds.items():
            if not math.isfinite(value):
                raise ValueError(f"threshold for {metric!r} must be a finite number, got {value}")
        return thresholds


Case = TypeVar("Case", QuestionCase, KeyFact)


def _describe(exc: ValidationError) -> list[str]:
    parts = []
    for err in exc.errors():
        loc = ".".join(str(x) for x in err["loc"]) or "(line)"
        parts.append(f"field '{loc}': {err['msg'].removeprefix('Value error, ')}")
    return parts


def _load_jsonl(path: Path, model: type[Case]) -> list[Case]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{path}: cannot be read: {exc}") from exc
    cases: list[Case] = []
    problems: list[str] = []
    first_line: dict[str, int] = {}
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(f"{path}:{lineno}: invalid JSON: {exc.msg} (column {exc.colno})")
            continue
        if not isinstance(data, dict):
            problems.append(f"{path}:{lineno}: expected a JSON object, got {type(data).__name__}")
            continue
        try:
            case = model.model_validate(data)
        except ValidationError as exc:
            problems.extend(f"{path}:{lineno}: {part}" for part in _describe(exc))
            continue
        if case.id in first_line:
            problems.append(
                f"{path}:{lineno}: field 'id': duplicate id {case.id!r} (first on line {first_line[case.id]})"
            )
            continue
        first_line[case.id] = lineno
        cases.append(case)
    if problems:
        raise DatasetError("\n".join(problems))
    if not cases:
        raise DatasetError(f"{path}: no cases")
    return cases


def load_questions(path: str | Path) -> list[QuestionCase]:
    """Load and validate a questions JSONL file; raise DatasetError naming file, line and field."""
    return _load_jsonl(Path(path), QuestionCase)


def load_key_facts(path: str | Path) -> list[KeyFact]:
    """Load and validate a key-facts JSONL file; raise DatasetError naming file, line and field."""
    return _load_jsonl(Path(path), KeyFact)


def _find_root(start: Path) -> Path:
    for folder in (start, *start.parents):
        if (folder / "pyproject.toml").is_file():
            return folder
    return start


def load_suite(path: str | Path, *, root: str | Path | None = None) -> Suite:
    """Load a suite.toml and the files it names.

    The article path in the TOML is relative to `root`, by default the nearest folder above
    the suite file that holds a pyproject.toml; the JSONL paths are relative to the suite file.
    """
    source = Path(path)
    try:
        raw = tomllib.loads(source.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{source}: cannot be read: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise DatasetError(f"{source}: invalid TOML: {exc}") from exc
    try:
        spec = _SuiteFile.model_validate(raw)
    except ValidationError as exc:
        raise DatasetError("\n".join(f"{source}: {part}" for part in _describe(exc))) from exc
    base = Path(root) if root is not None else _find_root(source.resolve().parent)
    table = spec.suite
    if bool(table.article) == bool(table.articles):
        raise DatasetError(f"{source}: set exactly one of 'suite.article' (one file) and 'suite.articles' (a folder)")
    article: Path | None = None
    paths: dict[str, Path] = {}
    if table.article:
        article = base / table.article
        if not article.is_file():
            raise DatasetError(f"{source}: field 'suite.article': {article} does not exist")
    else:
        folder = source.parent / table.articles
        paths = {p.stem: p for p in sorted(folder.glob("*.txt"))} if folder.is_dir() else {}
        if not paths:
            raise DatasetError(f"{source}: field 'suite.articles': no .txt articles in {folder}")
    questions = load_questions(source.parent / table.questions) if table.questions else []
    key_facts = load_key_facts(source.parent / table.key_facts) if table.key_facts else []
    if not questions and not key_facts:
        raise DatasetError(f"{source}: the suite has neither questions nor key facts")
    _check_article_refs(source, [*questions, *key_facts], article is not None, paths)
    return Suite(
        name=table.name,
        source=source,
        article_path=article,
        article_paths=paths,
        questions=questions,
        key_facts=key_facts,
        thresholds=dict(spec.thresholds),
        scoring=table.scoring,
        reference=table.reference,
    )


def _check_article_refs(
    source: Path, cases: list[QuestionCase | KeyFact], single: bool, paths: dict[str, Path]
) -> None:
    problems = []
    for case in cases:
        if single and case.article is not None:
            problems.append(f"{source}: case {case.id!r}: 'article' is set but the suite has one article")
        elif not single and case.article not in paths:
            problems.append(f"{source}: case {case.id!r}: unknown article {case.article!r} (have: {', '.join(paths)})")
    if problems:
        raise DatasetError("\n".join(problems[:20]))
