"""The embedded backend: a GGUF model run in-process by llama.cpp, behind an httpx2 transport.

`qa` talks to every backend through the OpenAI SDK. For the embedded one the SDK's HTTP
client gets a `LocalModelTransport` (or `AsyncLocalModelTransport`), which answers
`/v1/chat/completions` from the model directly: no server, no port, no subprocess.

Which model: `qa.backends.embedded.registry` lists the models qa knows (`MODELS`, `DEFAULT_MODEL`);
`QA_LOCAL_MODEL` names one of them or any GGUF path. A registry model's file is checked
against its pinned sha256 and, for a model split over several pip packages, assembled
into the user's model cache on first use (`qa.backends.embedded.assemble`, `qa.backends.embedded.store`);
`pull_model` downloads it from the Hugging Face Hub instead (`qa.backends.embedded.pull`).

Names load on first use (PEP 562): importing this package imports neither llama_cpp nor
the transport's HTTP stack; the model is loaded on first use.

Part of `qa.backends` (layer 2): may import the base modules and `qa.core`, never the rest
of `qa.backends` (which builds on it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from qa._lazy import lazy_getattr

_EXPORTS: dict[str, str] = {
    "AsyncLocalModelTransport": "qa.backends.embedded.transport",
    "DEFAULT_MODEL": "qa.backends.embedded.registry",
    "LocalModel": "qa.backends.embedded.model",
    "LocalModelTransport": "qa.backends.embedded.transport",
    "MODELS": "qa.backends.embedded.registry",
    "ModelEntry": "qa.backends.embedded.registry",
    "ModelStatus": "qa.backends.embedded.inventory",
    "VerifyResult": "qa.backends.embedded.inventory",
    "default_model_path": "qa.backends.embedded.model",
    "ensure_model": "qa.backends.embedded.assemble",
    "find_model": "qa.backends.embedded.registry",
    "load_model": "qa.backends.embedded.model",
    "model_statuses": "qa.backends.embedded.inventory",
    "pull_model": "qa.backends.embedded.pull",
    "resolve_model_path": "qa.backends.embedded.model",
    "verify_model": "qa.backends.embedded.inventory",
}

__all__ = sorted(_EXPORTS)

__getattr__ = lazy_getattr("qa.backends.embedded", _EXPORTS, globals())


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])


# `name as name`: an explicit re-export for type checkers, which cannot read the computed __all__.
if TYPE_CHECKING:
    from qa.backends.embedded.assemble import ensure_model as ensure_model
    from qa.backends.embedded.inventory import ModelStatus as ModelStatus
    from qa.backends.embedded.inventory import VerifyResult as VerifyResult
    from qa.backends.embedded.inventory import model_statuses as model_statuses
    from qa.backends.embedded.inventory import verify_model as verify_model
    from qa.backends.embedded.model import LocalModel as LocalModel
    from qa.backends.embedded.model import default_model_path as default_model_path
    from qa.backends.embedded.model import load_model as load_model
    from qa.backends.embedded.model import resolve_model_path as resolve_model_path
    from qa.backends.embedded.pull import pull_model as pull_model
    from qa.backends.embedded.registry import DEFAULT_MODEL as DEFAULT_MODEL
    from qa.backends.embedded.registry import MODELS as MODELS
    from qa.backends.embedded.registry import ModelEntry as ModelEntry
    from qa.backends.embedded.registry import find_model as find_model
    from qa.backends.embedded.transport import AsyncLocalModelTransport as AsyncLocalModelTransport
    from qa.backends.embedded.transport import LocalModelTransport as LocalModelTransport
