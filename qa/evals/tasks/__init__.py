"""Eval tasks: each kind of eval case is one `EvalTask`, registered here by its kind.

- `base`: the contract (`EvalTask`: plan, run, score, evidence, ...), `CasePlan`,
  `Scored`, `RunContext`;
- `questions`: qa's answers (`question`) and the bare model's (`reference`);
- `summary`: a summary per article with key facts (`summary`).

The runner, the log, the metrics and the report go through `TASKS` and never branch on a
kind, so a new kind of case is one `EvalTask` class and one `register_task` call.
(These wrap the library's tasks in `qa.tasks`; they do not replace them.)
May import what `qa.evals` may; the model client only when a case runs.
"""

from __future__ import annotations

from typing import Any

from qa.errors import EvalError
from qa.evals.tasks.base import CasePlan, EvalTask, RunContext, Scored
from qa.evals.tasks.questions import QuestionTask, ReferenceTask
from qa.evals.tasks.summary import SummaryTask

__all__ = ["TASKS", "CasePlan", "EvalTask", "RunContext", "Scored", "register_task", "task_for"]

TASKS: dict[str, EvalTask[Any]] = {task.kind: task for task in (QuestionTask(), ReferenceTask(), SummaryTask())}
"""Kind -> task, in plan order: within a repeat, qa's answers, the bare model's, then the
summaries. A task's `aggregate` sees the metrics of the tasks before it (the reference arm
compares its F1 with qa's)."""


def register_task(task: EvalTask[Any]) -> EvalTask[Any]:
    """Add a kind of case to every run from now on (after the registered ones); `EvalError` if its kind is taken."""
    if task.kind in TASKS:
        raise EvalError(f"an eval task of kind {task.kind!r} is already registered")
    TASKS[task.kind] = task
    return task


def task_for(kind: str) -> EvalTask[Any]:
    """The task of a case kind; `EvalError` for a kind no task is registered for."""
    try:
        return TASKS[kind]
    except KeyError:
        raise EvalError(f"no eval task of kind {kind!r} is registered (known: {', '.join(TASKS)})") from None
