"""Learning curves from runs' progress.csv files: one panel per env, seeds of one setting as their
mean with a band."""
from __future__ import annotations

import csv
import json
import math
from collections import defaultdict
from pathlib import Path
from typing import NamedTuple, Sequence

import numpy as np

GROUPS = ("env", "agent", "none")


class Curve(NamedTuple):
    run: Path
    env: str
    agent: str
    setting: str  # the config without its seed: runs that share it are seeds of one setting
    steps: np.ndarray
    returns: np.ndarray


def read_progress(run_dir: str | Path) -> tuple[list[int], list[float]]:
    """(steps, mean training return of the last 100 episodes) of the rows that have a return."""
    steps, returns = [], []
    with open(Path(run_dir) / "progress.csv", newline="") as f:
        for row in csv.DictReader(f):
            value = float(row.get("episodic_return") or "nan")
            if not math.isnan(value):
                steps.append(int(row["step"]))
                returns.append(value)
    return steps, returns


def read_curve(run_dir: str | Path) -> Curve | None:
    """A run's curve and what it ran (from config.json), or None when it has no return to draw."""
    run = Path(run_dir)
    if not (run / "progress.csv").is_file():
        return None
    try:
        steps, returns = read_progress(run)
    except (OSError, ValueError, KeyError, csv.Error):
        return None
    if not steps:
        return None
    env, agent, setting = run.name, "", run.name
    if (run / "config.json").is_file():
        try:
            saved = json.loads((run / "config.json").read_text())
            config = {k: v for k, v in saved.get("config", {}).items() if k != "seed"}
            env, agent = str(saved.get("env") or run.name), str(saved.get("agent", ""))
            setting = json.dumps({"agent": agent, "env": env, **config}, sort_keys=True)
        except (OSError, ValueError):
            pass
    return Curve(run, env, agent, setting, np.asarray(steps), np.asarray(returns, dtype=float))


def plot_runs(run_dirs: Sequence[str | Path], out: str | Path, title: str | None = None,
              group: str = "env") -> tuple[Path, list[Path]]:
    """Draw the runs' curves into ``out``; returns it and the run folders skipped for having no data.

    ``group``: one panel per env (default), per agent, or one panel for all ("none"). Runs that
    differ only in their seed are one line: the mean over seeds on a shared step grid, with a band
    from the lowest to the highest seed. Each panel's y axis is its own, so envs on different
    scales (CartPole's 500, Pendulum's −1500) do not squash each other.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    curves, skipped = [], []
    for run in run_dirs:
        curve = read_curve(run)
        (curves.append(curve) if curve is not None else skipped.append(Path(run)))
    panels: dict[str, list[Curve]] = defaultdict(list)
    for curve in curves:
        panels[{"env": curve.env, "agent": curve.agent, "none": ""}[group]].append(curve)
    names = sorted(panels) or [""]
    columns = min(len(names), 3)
    rows = math.ceil(len(names) / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(5.2 * columns, 3.9 * rows + 0.5), dpi=110, squeeze=False)
    palette = plt.get_cmap("tab10").colors
    colours: dict[str, tuple] = {}  # one colour per label in every panel: PPO2 is PPO2's colour everywhere
    for ax, name in zip(axes.flat, names):
        settings: dict[str, list[Curve]] = defaultdict(list)
        for curve in panels.get(name, []):
            settings[curve.setting].append(curve)
        for seeds in settings.values():
            label = _label(seeds, settings)
            colour = colours.setdefault(label, palette[len(colours) % len(palette)])
            _draw_setting(ax, seeds, colour, label)
        ax.set_title(name or title or "rlkit learning curves", fontsize=10)
        ax.set_xlabel("environment steps")
        ax.set_ylabel("episodic return (mean of last 100)")
        ax.grid(alpha=0.3)
        if settings:  # below the axes: never over a curve
            ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2, frameon=False)
    for ax in list(axes.flat)[len(names):]:
        ax.set_visible(False)
    if title and group != "none":
        fig.suptitle(title)
    fig.tight_layout()
    out = Path(out)
    fig.savefig(out, bbox_inches="tight")
    plt.close(fig)
    return out, skipped


def _draw_setting(ax, seeds: list[Curve], colour, label: str) -> None:
    if len(seeds) == 1:
        curve = seeds[0]
        ax.plot(curve.steps, curve.returns, color=colour, label=label, marker="o" if len(curve.steps) == 1 else None)
        return
    # the seeds' curves on the steps all of them reached, interpolated between their own rows
    start = max(c.steps[0] for c in seeds)
    end = min(c.steps[-1] for c in seeds)
    grid = np.linspace(start, end, 200) if end > start else np.array([end])
    values = np.stack([np.interp(grid, c.steps, c.returns) for c in seeds])
    ax.plot(grid, values.mean(0), color=colour, label=f"{label} (mean of {len(seeds)} seeds)",
            marker="o" if grid.size == 1 else None)
    ax.fill_between(grid, values.min(0), values.max(0), color=colour, alpha=0.2, linewidth=0)


def _label(seeds: list[Curve], settings: dict[str, list[Curve]]) -> str:
    """The agent, or the run folder's name where one agent has several settings in the panel."""
    agent = seeds[0].agent or seeds[0].run.name
    same_agent = [s for s in settings.values() if (s[0].agent or s[0].run.name) == agent]
    if len(same_agent) > 1:
        return seeds[0].run.name
    return agent
