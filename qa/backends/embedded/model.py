"""The embedded model: find the GGUF file, load it once per process, count its tokens.

Which file: `QA_LOCAL_MODEL` (or `Settings.local_model`) names a model of the registry
(`qa.backends.embedded.registry`, e.g. `smollm2-135m`) or is a path to any GGUF file; unset, the
registry's `DEFAULT_MODEL` is used. A registry model is verified against its pinned
sha256, and assembled from its parts on first use (`qa.backends.embedded.assemble`), before loading.

`load_model()` returns the same `LocalModel` for the same file every time it is called in
a process (a lock-protected cache), so any number of transports share one copy of the
weights. llama_cpp is imported inside `load_model`, never at module import, so that
`import qa.backends.embedded` (and `qa --help`) stays fast and works without the `local` extra.

A llama.cpp context is not thread-safe: every call that evaluates or samples (every
generation) must hold `LocalModel.lock`. Tokenizing only reads the vocabulary and does
not need it, so `count_tokens` can be called while a stream is open.

The context size is the model's training context read from the GGUF header, capped at
`MAX_CONTEXT` tokens so that a model trained on 128k tokens does not allocate a huge KV
cache. llama.cpp's own log output is captured (not printed) and the last lines are
quoted in a `ModelLoadError` when a file cannot be loaded.
"""

from __future__ import annotations

import collections
import os
import struct
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from qa.errors import BackendUnavailableError, ModelLoadError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from llama_cpp import Llama

__all__ = [
    "MAX_CONTEXT",
    "MODEL_ENV",
    "GenerationLock",
    "LocalModel",
    "default_model_path",
    "load_model",
    "resolve_model_path",
]

MODEL_ENV = "QA_LOCAL_MODEL"
THREADS_ENV = "QA_LOCAL_THREADS"
MAX_CONTEXT = 8192
_CMAKE_ARGS = (
    "-DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_AVX512=OFF -DGGML_AMX_TILE=OFF "
    "-DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF -DGGML_OPENMP=OFF"
)
INSTALL_HINT = (
    f"install the embedded backend with: CMAKE_ARGS=\"{_CMAKE_ARGS}\" pip install -e '.[local]' "
    "(README, section 'Embedded model')"
)

_cache: dict[Path, LocalModel] = {}
_cache_lock = threading.Lock()
_llama_log: collections.deque[str] = collections.deque(maxlen=20)
_log_callback: Any = None  # keeps the ctypes callback alive for as long as llama.cpp may call it


class GenerationLock:
    """A non-reentrant lock that also records which thread acquired it.

    Used as `with model.lock:` or with `acquire()`/`release()`; it may be released from
    another thread than the one that acquired it (async streams hop between threads).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.owner: int | None = None

    def acquire(self, timeout: float = -1) -> bool:
        """Take the lock (waiting at most `timeout` seconds; -1 waits forever)."""
        acquired = self._lock.acquire(timeout=timeout)
        if acquired:
            self.owner = threading.get_ident()
        return acquired

    def release(self) -> None:
        """Give the lock back."""
        self.owner = None
        self._lock.release()

    def held_by_current_thread(self) -> bool:
        """True when the lock is held and the current thread acquired it."""
        return self._lock.locked() and self.owner == threading.get_ident()

    def __enter__(self) -> GenerationLock:
        self.acquire()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()


class LocalModel:
    """A loaded GGUF chat model: `llama` plus what callers need to use it safely."""

    def __init__(self, path: Path, llama: Llama) -> None:
        self.path = path
        self.name = path.stem
        self.llama = llama
        self.n_ctx: int = llama.n_ctx()
        self.lock = GenerationLock()
        self._format = _chat_formatter(llama)

    def count_tokens(self, text: str) -> int:
        """Tokens `text` takes with the model's own tokenizer (no BOS, special tokens as text)."""
        return len(self.llama.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def render_chat(self, messages: Sequence[dict[str, str]]) -> tuple[list[int], list[str], Any]:
        """The prompt tokens, stop strings and stopping criteria for `messages`.

        Uses the same chat formatter as `llama.create_chat_completion`, so the tokens are
        exactly those the model would see there.
        """
        result = self._format(messages=list(messages))
        tokens = self._tokenize_prompt(
            result.prompt, [m.get("content") or "" for m in messages], not result.added_special
        )
        stop = result.stop if isinstance(result.stop, list) else [result.stop] if result.stop else []
        return tokens, stop, result.stopping_criteria

    def _tokenize_prompt(self, prompt: str, contents: Sequence[str], add_bos: bool) -> list[int]:
        """Template text with special tokens on, message contents with them off.

        An article that contains `<|im_start|>system` must stay text: tokenised with
        special tokens on, it would become a real control token and a forged system turn.
        """
        tokens: list[int] = []
        pos = 0

        def add(text: str, special: bool) -> None:
            if text:
                tokens.extend(
                    self.llama.tokenize(text.encode("utf-8"), add_bos=add_bos and not tokens, special=special)
                )

        for content in contents:
            at = prompt.find(content, pos) if content else -1
            if at < 0:
                continue
            add(prompt[pos:at], True)
            add(content, False)
            pos = at + len(content)
        add(prompt[pos:], True)
        return tokens


def default_model_path() -> Path:
    """The GGUF file to load: what `$QA_LOCAL_MODEL` names, else the registry's default model.

    For a registry model this verifies (and on first use assembles) its file; raises
    `BackendUnavailableError` with the pip command when its packages are not installed.
    """
    return resolve_model_path(None)


def resolve_model_path(spec: str | os.PathLike[str] | None) -> Path:
    """The GGUF file for a registry name or a path (None: `$QA_LOCAL_MODEL`, else the default).

    A registry name gives its verified file (see `qa.backends.embedded.assemble.ensure_model`); a path
    is returned as is (`load_model` says if it is missing or not a GGUF file).
    """
    from qa.backends.embedded.registry import DEFAULT_MODEL, MODELS, find_model

    chosen = spec
    if chosen is None:
        chosen = os.environ.get(MODEL_ENV, "").strip() or None
    if chosen is None:
        entry = MODELS[DEFAULT_MODEL]
    else:
        found = find_model(chosen)
        if found is None:
            return Path(chosen).expanduser()
        entry = found
    from qa.backends.embedded.assemble import ensure_model

    try:
        return ensure_model(entry)
    except BackendUnavailableError as exc:
        if chosen is not None:
            raise
        others = ", ".join(name for name in MODELS if name != DEFAULT_MODEL)
        raise BackendUnavailableError(
            f"no local model: {MODEL_ENV} is not set and the default {exc}; "
            f"or set {MODEL_ENV} to an installed model ({others}: see `qa models list`) or to a .gguf file"
        ) from exc


def load_model(path: str | os.PathLike[str] | None = None) -> LocalModel:
    """Load the GGUF model at `path`, or the registry model it names (default:
    `default_model_path()`), once per process.

    Raises `BackendUnavailableError` when llama_cpp is not installed and `ModelLoadError`
    (naming the path) when the file is missing, not a GGUF file, or cannot be loaded.
    """
    resolved = resolve_model_path(path).expanduser().resolve()
    with _cache_lock:
        model = _cache.get(resolved)
        if model is None:
            model = _cache[resolved] = _load(resolved)
        return model


def _load(path: Path) -> LocalModel:
    llama_cpp = _import_llama_cpp()
    n_ctx_train = _check_gguf(path)
    n_ctx = min(n_ctx_train or MAX_CONTEXT, MAX_CONTEXT)
    threads = _threads()
    _llama_log.clear()
    try:
        llama = llama_cpp.Llama(
            model_path=str(path), n_ctx=n_ctx, n_threads=threads, n_threads_batch=threads, verbose=False
        )
    except Exception as exc:  # llama_cpp raises ValueError, RuntimeError or OSError for a bad file
        detail = " | ".join(line.strip() for line in _llama_log if line.strip())[-500:]
        raise ModelLoadError(
            f"cannot load the model {path}: {exc}" + (f" (llama.cpp: {detail})" if detail else "")
        ) from exc
    return LocalModel(path, llama)


def _import_llama_cpp() -> Any:
    global _log_callback
    try:
        import llama_cpp
    except (ImportError, OSError) as exc:
        raise BackendUnavailableError(f"the embedded backend needs llama-cpp-python ({exc}); {INSTALL_HINT}") from exc
    if _log_callback is None:

        @llama_cpp.llama_log_callback  # type: ignore[untyped-decorator]  # llama_cpp's ctypes CFUNCTYPE is untyped
        def _capture(level: int, text: bytes, user_data: object) -> None:
            _llama_log.append(text.decode("utf-8", errors="replace"))

        _log_callback = _capture
        llama_cpp.llama_log_set(_log_callback, None)
    return llama_cpp


def _check_gguf(path: Path) -> int | None:
    """Check `path` is a readable GGUF file; return its training context length if stated."""
    fix = f"set {MODEL_ENV} to a .gguf file or a model name (`qa models list`), or {INSTALL_HINT}"
    if not path.is_file():
        raise ModelLoadError(f"model file not found: {path}; {fix}")
    try:
        with path.open("rb") as handle:
            magic = handle.read(4)
            if magic != b"GGUF":
                raise ModelLoadError(f"not a GGUF model file: {path} (it starts with {magic!r}, not b'GGUF'); {fix}")
            return _context_length(handle)
    except OSError as exc:
        raise ModelLoadError(f"cannot read the model file {path}: {exc}") from exc


# GGUF metadata value types -> struct format of a fixed-size value (8 string, 9 array)
_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}


def _context_length(handle: BinaryIO) -> int | None:
    """Read `<architecture>.context_length` from a GGUF v2/v3 header (after the magic)."""

    def unpack(fmt: str) -> Any:
        return struct.unpack(fmt, handle.read(struct.calcsize(fmt)))[0]

    def read_string() -> bytes:
        size = unpack("<Q")
        if size > 1 << 16:
            raise ValueError("implausible string length")
        return handle.read(size)

    def read_value(kind: int) -> Any:
        if kind in _SCALARS:
            return unpack(_SCALARS[kind])
        if kind == 8:
            return read_string()
        if kind == 9:
            item_kind, count = unpack("<I"), unpack("<Q")
            if item_kind in _SCALARS:
                handle.seek(struct.calcsize(_SCALARS[item_kind]) * count, os.SEEK_CUR)
            else:
                for _ in range(count):
                    read_value(item_kind)
            return None
        raise ValueError(f"unknown GGUF value type {kind}")

    try:
        if unpack("<I") < 2:
            return None
        _tensors, n_kv = unpack("<Q"), unpack("<Q")
        architecture = b""
        for _ in range(n_kv):
            key, value = read_string(), read_value(unpack("<I"))
            if key == b"general.architecture":
                architecture = value
            elif architecture and key == architecture + b".context_length":
                return int(value)
    except (struct.error, ValueError, OverflowError):
        return None  # a damaged header: llama.cpp itself will say what is wrong
    return None


def _threads() -> int:
    """Threads for llama.cpp: `$QA_LOCAL_THREADS` if set (e.g. 1 beside other busy work), else the physical cores."""
    configured = os.environ.get(THREADS_ENV, "").strip()
    if configured:
        try:
            value = int(configured)
        except ValueError:
            raise ModelLoadError(f"{THREADS_ENV} must be a whole number of threads, got {configured!r}") from None
        if value < 1:
            raise ModelLoadError(f"{THREADS_ENV} must be at least 1, got {value}")
        return value
    return _physical_cores()


def _physical_cores() -> int:
    """Physical cores this process may use (hyper-threads do not speed up llama.cpp)."""
    logical = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    cores: set[tuple[str, str]] = set()
    try:
        physical_id = core_id = ""
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            name, _, value = line.partition(":")
            if name.strip() == "physical id":
                physical_id = value.strip()
            elif name.strip() == "core id":
                core_id = value.strip()
                cores.add((physical_id, core_id))
    except OSError:
        pass
    return max(1, min(logical, len(cores)) if cores else logical)


def _chat_formatter(llama: Llama) -> Any:
    """The formatter behind `llama.create_chat_completion`, pinned so both agree."""
    from llama_cpp import llama_chat_format

    template = llama.metadata.get("tokenizer.chat_template")
    if template is None:
        llama.chat_format = "chatml"
        return llama_chat_format.format_chatml
    llama.chat_format = "chat_template.default"
    eos_id, bos_id = llama.token_eos(), llama.token_bos()
    return llama_chat_format.Jinja2ChatFormatter(
        template=template,
        eos_token=llama._model.token_get_text(eos_id) if eos_id != -1 else "",
        bos_token=llama._model.token_get_text(bos_id) if bos_id != -1 else "",
        stop_token_ids=[eos_id],
    )
