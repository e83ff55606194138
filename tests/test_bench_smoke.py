"""bench/run_all.py runs its cheap rows and prints one Markdown table.

Only rows that need neither the peer venvs (.bench-venvs/) nor a model generation are
run: prompt tokens (the embedded model's tokenizer only) and start-up. No figure is
asserted on: speed belongs to the benchmark, not to a test.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
RUN_ALL = ROOT / "bench" / "run_all.py"


def run_all(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(RUN_ALL), *args], capture_output=True, text=True, timeout=120, cwd=ROOT)


def table_rows(stdout: str) -> list[list[str]]:
    """The table's data rows, split into cells (header and separator dropped)."""
    lines = [line for line in stdout.splitlines() if line.startswith("|")]
    assert lines[0].startswith("| # | measure | qa | baseline | qa ÷ baseline |"), stdout
    assert set(lines[1]) <= {"|", "-"}, stdout
    return [[cell.strip() for cell in line.strip("|").split(" | ")] for line in lines[2:]]


@pytest.mark.subprocess
def test_quick_cheap_rows_print_one_table() -> None:
    done = run_all("--quick", "--no-wait", "--only", "startup,2")  # by name and by number, in any order
    assert done.returncode == 0, done.stderr
    rows = table_rows(done.stdout)
    assert [row[0] for row in rows][:2] == ["2", "5"], done.stdout
    assert {row[0] for row in rows} == {"2", "5"}, done.stdout
    assert all(len(row) == 6 for row in rows), done.stdout
    prompt_row = rows[0]
    assert prompt_row[4].endswith("x"), f"row 2 was not measured: {prompt_row}"
    assert float(prompt_row[2]) > float(prompt_row[3]) > 0, "qa's prompt holds the article and question, and more"
    assert rows[1][4].endswith("x"), f"row 5 was not measured: {rows[1]}"
    assert done.stdout.count("| # | measure |") == 1


@pytest.mark.subprocess
def test_unknown_row_is_refused() -> None:
    done = run_all("--only", "nope")
    assert done.returncode != 0
    assert "unknown row 'nope'" in done.stderr
