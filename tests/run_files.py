"""Running the CLI and reading what a run wrote, for the tests."""
import csv
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# the tests folder too: families defined there (toy_family) train through the CLI by import path
CLI_ENV = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'tests'}"}


def run_cli(*args: str, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    """``python -m rlkit.cli ARGS`` in ``cwd``, its output captured as text."""
    return subprocess.run([sys.executable, "-m", "rlkit.cli", *args], env=CLI_ENV, cwd=cwd, capture_output=True,
                          text=True, timeout=timeout)


def csv_steps(run: Path) -> list[int]:
    """The step column of a run's progress.csv: one row per logged update."""
    with open(run / "progress.csv", newline="") as f:
        return [int(row["step"]) for row in csv.DictReader(f)]


def csv_rows(run: Path) -> list[dict[str, str]]:
    """Every row of a run's progress.csv, as text."""
    with open(run / "progress.csv", newline="") as f:
        return list(csv.DictReader(f))
