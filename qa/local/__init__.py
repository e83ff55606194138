"""The embedded backend: a GGUF model run in-process by llama.cpp, behind an httpx2 transport.

`qa` talks to every backend through the OpenAI SDK. For the embedded one the SDK's HTTP
client gets a `LocalModelTransport` (or `AsyncLocalModelTransport`), which answers
`/v1/chat/completions` from the model directly: no server, no port, no subprocess.

Importing this package does not import llama_cpp; the model is loaded on first use.
"""

from qa.local.model import LocalModel, default_model_path, load_model
from qa.local.transport import AsyncLocalModelTransport, LocalModelTransport

__all__ = [
    "AsyncLocalModelTransport",
    "LocalModel",
    "LocalModelTransport",
    "default_model_path",
    "load_model",
]
