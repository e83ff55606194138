"""Small fake model-part packages for the registry tests: no 500 MB file needed.

`install_fake_parts(site, tag, chunks)` writes one installed distribution per chunk into
`site` (a folder the test puts on `sys.path`): a `<dist>.dist-info` with METADATA and
RECORD, and the data file, exactly as pip lays out a data-only wheel. Each package's
`__init__.py` raises when imported, so a test fails loudly if qa ever imports one.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from qa.backends.embedded.registry import HubFile, ModelEntry, WheelPart

__all__ = ["fake_entry", "install_fake_parts", "remove_part"]

VERSION = "1.0"


def install_fake_parts(site: Path, tag: str, chunks: list[bytes]) -> tuple[WheelPart, ...]:
    """Install `chunks` as parts `qa-fake-<tag>-part<n>` into `site`; return their registry parts."""
    parts = []
    for n, chunk in enumerate(chunks, start=1):
        distribution = f"qa-fake-{tag}-part{n}"
        package = distribution.replace("-", "_")
        data = Path(package) / "data" / f"part{n:02d}.bin"
        (site / data).parent.mkdir(parents=True)
        (site / data).write_bytes(chunk)
        (site / package / "__init__.py").write_text(f"raise ImportError('qa must never import {package}')\n")
        info = site / f"{package}-{VERSION}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {distribution}\nVersion: {VERSION}\n")
        record = [
            f"{package}/__init__.py,,",
            f"{data.as_posix()},,{len(chunk)}",
            f"{info.name}/METADATA,,",
            f"{info.name}/RECORD,,",
        ]
        (info / "RECORD").write_text("\n".join(record) + "\n")
        parts.append(WheelPart(distribution=distribution, version=VERSION, file=data.as_posix(), size=len(chunk)))
    return tuple(parts)


def remove_part(site: Path, part: WheelPart) -> None:
    """Uninstall one part (its dist-info goes; its data file stays, as after a broken uninstall)."""
    package = part.distribution.replace("-", "_")
    for item in sorted((site / f"{package}-{VERSION}.dist-info").iterdir()):
        item.unlink()
    (site / f"{package}-{VERSION}.dist-info").rmdir()


def fake_entry(name: str, parts: tuple[WheelPart, ...], content: bytes, *, sha256: str | None = None,
               hub: HubFile | None = None) -> ModelEntry:  # fmt: skip
    """A registry entry for `content` made of `parts` (`sha256` overrides the true pin)."""
    return ModelEntry(
        name=name, request_name=f"{name}-q4", title=f"{name} (test)", licence="Apache-2.0", size=len(content),
        sha256=sha256 or hashlib.sha256(content).hexdigest(), context_window=2048, chat_template="ChatML",
        parts=parts, extra=name, hub=hub,
    )  # fmt: skip
