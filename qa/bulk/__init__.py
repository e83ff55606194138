"""Bulk runs: a task over a corpus, on one machine, a Ray cluster, or the OpenAI Batch API.

    import qa
    report = qa.run("articles/", "summaries.jsonl")                      # engine "local"
    report = qa.run("articles/", "out.jsonl", engine=qa.bulk.RayEngine(workers=2))
    estimate = qa.estimate_run("articles/", task="ask", questions=["Who?"])

Modules, one purpose each: `corpus` reads folders, globs and JSONL; `work` is the task and
one item's steps; `records` the output line; `output` the append-only output and its state
file; `runner` puts them together (`run`); `estimate` counts tokens without calling
anything; `local`, `ray_engine` and `openai_batch` are the engines (`batch_files` reads and
writes the Batch API's files and hands its replies to the steps). Names load on first use,
so `import qa.bulk` imports neither Ray nor the openai SDK.

Layer 5. May import everything below it: the base modules, `qa.text`, `qa.core`,
`qa.backends`, `qa.tasks`, `qa.api`. Never `qa.evals` or `qa.cli`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from qa._lazy import lazy_getattr

_EXPORTS: dict[str, str] = {
    "ENGINES": "qa.bulk.runner",
    "CorpusItem": "qa.bulk.corpus",
    "Engine": "qa.bulk.runner",
    "ItemError": "qa.bulk.records",
    "LocalEngine": "qa.bulk.local",
    "ModelEstimate": "qa.bulk.estimate",
    "OpenAIBatchEngine": "qa.bulk.openai_batch",
    "RayEngine": "qa.bulk.ray_engine",
    "Results": "qa.bulk.output",
    "RunEstimate": "qa.bulk.estimate",
    "RunRecord": "qa.bulk.records",
    "RunReport": "qa.bulk.runner",
    "Task": "qa.bulk.work",
    "engine_named": "qa.bulk.runner",
    "estimate_run": "qa.bulk.estimate",
    "read_corpus": "qa.bulk.corpus",
    "read_results": "qa.bulk.output",
    "run": "qa.bulk.runner",
}

__all__ = sorted(_EXPORTS)

__getattr__ = lazy_getattr("qa.bulk", _EXPORTS, globals())


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])


# `name as name`: an explicit re-export for type checkers, which cannot read the computed __all__.
if TYPE_CHECKING:
    from qa.bulk.corpus import CorpusItem as CorpusItem
    from qa.bulk.corpus import read_corpus as read_corpus
    from qa.bulk.estimate import ModelEstimate as ModelEstimate
    from qa.bulk.estimate import RunEstimate as RunEstimate
    from qa.bulk.estimate import estimate_run as estimate_run
    from qa.bulk.local import LocalEngine as LocalEngine
    from qa.bulk.openai_batch import OpenAIBatchEngine as OpenAIBatchEngine
    from qa.bulk.output import Results as Results
    from qa.bulk.output import read_results as read_results
    from qa.bulk.ray_engine import RayEngine as RayEngine
    from qa.bulk.records import ItemError as ItemError
    from qa.bulk.records import RunRecord as RunRecord
    from qa.bulk.runner import ENGINES as ENGINES
    from qa.bulk.runner import Engine as Engine
    from qa.bulk.runner import RunReport as RunReport
    from qa.bulk.runner import engine_named as engine_named
    from qa.bulk.runner import run as run
    from qa.bulk.work import Task as Task
