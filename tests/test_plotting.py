"""rlkit plot: skips folders without data, one panel per env, seeds as a mean with a band."""
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from rlkit.cli import main  # noqa: E402
from rlkit.plotting import plot_runs, read_curve  # noqa: E402


def _run(folder: Path, env: str, agent: str, seed: int, rows: list[tuple[int, float]], lr: float = 1e-3) -> Path:
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps({"agent": agent, "env": env,
                                                    "config": {"seed": seed, "learning_rate": lr}}))
    lines = ["step,time,sps,episodic_return"] + [f"{s},{s / 100},100,{r}" for s, r in rows]
    (folder / "progress.csv").write_text("\n".join(lines) + "\n")
    return folder


def test_plot_groups_envs_averages_seeds_and_skips_folders_without_data(tmp_path, monkeypatch):
    runs = [
        _run(tmp_path / "a0", "CartPole-v1", "PPO2", 0, [(100, 10.0), (200, 20.0)]),
        _run(tmp_path / "a1", "CartPole-v1", "PPO2", 1, [(100, 30.0), (200, 40.0)]),
        _run(tmp_path / "b0", "Pendulum-v1", "PPO2", 0, [(100, -1500.0)]),  # a single point
        _run(tmp_path / "c0", "CartPole-v1", "A2C", 0, [(100, 5.0), (300, 50.0)]),
    ]
    (tmp_path / "killed").mkdir()  # a run killed before its first row
    _run(tmp_path / "warmup", "CartPole-v1", "DQN", 0, [])  # rows, but no return yet
    figures = []
    monkeypatch.setattr(plt.Figure, "savefig", lambda self, *a, **k: figures.append(self))
    out, skipped = plot_runs([*runs, tmp_path / "killed", tmp_path / "warmup"], tmp_path / "p.png")
    assert sorted(p.name for p in skipped) == ["killed", "warmup"]
    panels = {ax.get_title(): ax for ax in figures[0].axes if ax.get_visible()}
    assert sorted(panels) == ["CartPole-v1", "Pendulum-v1"]  # one per env, each on its own y scale
    cartpole = {line.get_label(): line for line in panels["CartPole-v1"].get_lines()}
    assert sorted(cartpole) == ["A2C", "PPO2 (mean of 2 seeds)"]  # the two seeds are one line
    mean = cartpole["PPO2 (mean of 2 seeds)"].get_ydata()
    assert mean[0] == pytest.approx(20.0) and mean[-1] == pytest.approx(30.0)
    assert len(panels["CartPole-v1"].collections) == 1  # the seeds' band
    (point,) = panels["Pendulum-v1"].get_lines()
    assert point.get_marker() == "o"  # a one-row run still shows
    colour = {line.get_label(): line.get_color() for ax in panels.values() for line in ax.get_lines()}
    assert colour["PPO2"] == colour["PPO2 (mean of 2 seeds)"] != colour["A2C"]  # an agent's colour in every panel
    legend = panels["CartPole-v1"].get_legend()
    assert legend.get_bbox_to_anchor().y0 < panels["CartPole-v1"].bbox.y0  # below the axes, clear of curves


def test_cli_plot_names_skipped_folders_and_refuses_when_nothing_has_data(tmp_path, capsys):
    run = _run(tmp_path / "a0", "CartPole-v1", "PPO2", 0, [(100, 10.0)])
    (tmp_path / "empty").mkdir()
    assert main(["plot", str(run), str(tmp_path / "empty"), "-o", str(tmp_path / "out" / "c.png")]) == 0
    assert "skipped" in capsys.readouterr().err and (tmp_path / "out" / "c.png").exists()
    assert main(["plot", str(tmp_path / "empty"), "-o", str(tmp_path / "d.png")]) == 2
    assert "none of" in capsys.readouterr().err
    assert read_curve(tmp_path / "empty") is None
