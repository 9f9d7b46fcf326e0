"""Reading what a run wrote, for the tests."""
import csv
from pathlib import Path


def csv_steps(run: Path) -> list[int]:
    """The step column of a run's progress.csv: one row per logged update."""
    with open(run / "progress.csv", newline="") as f:
        return [int(row["step"]) for row in csv.DictReader(f)]


def csv_rows(run: Path) -> list[dict[str, str]]:
    """Every row of a run's progress.csv, as text."""
    with open(run / "progress.csv", newline="") as f:
        return list(csv.DictReader(f))
