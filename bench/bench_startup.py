"""Start-up time of `qa --help`: median wall time over N subprocess runs, as ratios.

Baselines measured in the same run: `python -c pass` (the interpreter alone) and, if the
`llm` command is installed in this environment, `llm --help` (a comparable click CLI).
Runs are interleaved (qa, python, llm, qa, ...) so that background load hits all alike.

    .venv/bin/python bench/bench_startup.py            # 10 runs each
    .venv/bin/python bench/bench_startup.py --runs 30
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

BIN = Path(sys.executable).parent


def commands() -> dict[str, list[str]]:
    """The commands to time, by label; `qa` falls back to `python -c` without the script."""
    qa_script = BIN / "qa"
    qa = (
        [str(qa_script), "--help"]
        if qa_script.exists()
        else [
            sys.executable,
            "-c",
            "import sys; from qa.cli import main; sys.argv = ['qa', '--help']; main()",
        ]
    )
    found = {"qa --help": qa, "python -c pass": [sys.executable, "-c", "pass"]}
    if (BIN / "llm").exists():
        found["llm --help"] = [str(BIN / "llm"), "--help"]
    return found


def time_once(command: list[str]) -> float:
    """Wall time of one run, in seconds; the command must succeed."""
    start = time.perf_counter()
    subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="runs per command (default 10)")
    args = parser.parse_args()
    todo = commands()
    for command in todo.values():  # warm the file cache and .pyc files
        time_once(command)
    samples: dict[str, list[float]] = {label: [] for label in todo}
    for _ in range(args.runs):
        for label, command in todo.items():
            samples[label].append(time_once(command))
    medians = {label: statistics.median(times) for label, times in samples.items()}
    base = medians["python -c pass"]
    print(f"median of {args.runs} runs each ({sys.executable})")
    for label, median in medians.items():
        ratios = f"{median / base:5.2f}x python -c pass"
        if "llm --help" in medians and label != "llm --help":
            ratios += f", {median / medians['llm --help']:5.2f}x llm --help"
        print(f"  {label:16} {median * 1000:8.1f} ms   {ratios}")


if __name__ == "__main__":
    main()
