"""Learning curves from runs' progress.csv files."""
from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Sequence


def read_progress(run_dir: str | Path) -> tuple[list[int], list[float]]:
    steps, returns = [], []
    with open(Path(run_dir) / "progress.csv", newline="") as f:
        for row in csv.DictReader(f):
            value = float(row["episodic_return"] or "nan")
            if not math.isnan(value):
                steps.append(int(row["step"]))
                returns.append(value)
    return steps, returns


def plot_runs(run_dirs: Sequence[str | Path], out: str | Path, title: str | None = None) -> Path:
    """One line per run: mean training return of the last 100 episodes against env steps."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
    for run in run_dirs:
        steps, returns = read_progress(run)
        ax.plot(steps, returns, label=Path(run).name)
    ax.set_xlabel("environment steps")
    ax.set_ylabel("episodic return (mean of last 100)")
    ax.set_title(title or "rlkit learning curves")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    out = Path(out)
    fig.savefig(out)
    plt.close(fig)
    return out
