"""``rlkit report BENCH_DIR``: a Markdown and an HTML page of a bench's runs.

What it shows, per the usual Atari reporting (Agarwal et al. 2021, "Deep RL at the edge of the
statistical precipice"): learning curves per game over frames, final scores per game and agent, the
human-normalised scores, and aggregates over games: IQM, median and mean with stratified-bootstrap
95% confidence intervals, and performance profiles. The aggregates are computed by ``rliable`` (the
paper's library), never by hand. Published peer scores (rlkit/data/published_scores.toml) stand
beside ours with their protocol and budget, and one evaluation video per game is embedded.

Final score of a run: its end-of-run evaluation (``eval_mean_return`` in summary.json: full games,
unclipped, deterministic policy), or, without one, the mean return of its last 100 training
episodes; the table says which.
"""
from __future__ import annotations

import contextlib
import html
import importlib.util
import json
import math
import os
import statistics
import time
import tomllib
import warnings
from collections import defaultdict
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from rlkit.env_ids import parse_atari_id
from rlkit.errors import ConfigError
from rlkit.plotting import read_progress

FRAMES_PER_STEP = 4
METRICS = ("IQM", "Median", "Mean")


@dataclass
class RunRecord:
    """What the report reads of one run folder."""

    path: Path
    agent: str  # class name, as config.json records it ("PPO2")
    key: str  # CLI name ("ppo2"), for the published scores
    game: str  # "Pong", or the env id outside Atari
    env_id: str
    protocol: str  # "v5" (sticky actions), "noframeskip", or "" outside Atari
    seed: int
    steps: np.ndarray  # agent steps of the curve's rows
    returns: np.ndarray  # mean training return of the last 100 episodes at each row
    final: float | None  # the run's final score
    final_kind: str  # "evaluation" or "training"
    total_steps: int
    finished: bool

    @property
    def atari(self) -> bool:
        return bool(self.protocol)

    @property
    def x(self) -> np.ndarray:
        """The curve's x axis: frames on Atari (4 per agent step), agent steps elsewhere."""
        return self.steps * FRAMES_PER_STEP if self.atari else self.steps


def reference_scores() -> tuple[dict[str, tuple[float, float]], str]:
    """{game: (random, human)} for the 57 Atari games, and the table's source."""
    data = tomllib.loads((resources.files("rlkit.data") / "atari_reference_scores.toml").read_text())
    return {g: (float(v["random"]), float(v["human"])) for g, v in data["games"].items()}, data["source"]


def published_scores() -> list[dict[str, Any]]:
    """Rows of rlkit/data/published_scores.toml: agent, game, score, frames, protocol, metric, source."""
    return tomllib.loads((resources.files("rlkit.data") / "published_scores.toml").read_text())["scores"]


def human_normalized(game: str, score: float, references: dict[str, tuple[float, float]]) -> float | None:
    """(score - random) / (human - random), or None for a game without reference scores."""
    if game not in references:
        return None
    random, human = references[game]
    return (score - random) / (human - random)


def read_runs(bench_dir: str | Path) -> list[RunRecord]:
    """Every run folder under ``bench_dir`` (a folder with config.json and a progress.csv)."""
    import agents

    by_class = {cls: name for name, (_, cls, _) in agents.CATALOG.items()}
    records = []
    for config_file in sorted(Path(bench_dir).rglob("config.json")):
        run = config_file.parent
        try:
            config = json.loads(config_file.read_text())
        except (OSError, ValueError):
            continue
        env_id = str(config.get("env") or "")
        if not env_id or not (run / "progress.csv").is_file():
            continue
        try:
            steps, returns = read_progress(run)
        except (OSError, ValueError, KeyError):
            steps, returns = [], []
        parsed = parse_atari_id(env_id)
        settings = config.get("config", {})
        protocol = (settings.get("atari_protocol") or parsed[1]) if parsed else ""
        summary = _read_json(run / "summary.json") or {}
        target = int(config.get("train", {}).get("total_steps") or 0)
        finished = bool(summary) and "stopped_by" not in summary and int(summary.get("total_steps") or 0) >= target
        final, kind = None, ""
        if finished and summary.get("eval_mean_return") is not None:
            final, kind = float(summary["eval_mean_return"]), "evaluation"
        elif finished and summary.get("recent_train_return") is not None:
            final, kind = float(summary["recent_train_return"]), "training"
        agent = str(config.get("agent", ""))
        records.append(RunRecord(run, agent, by_class.get(agent, agent.lower()), parsed[0] if parsed else env_id, env_id,
                                 protocol, int(settings.get("seed", 0)), np.asarray(steps, dtype=np.int64),
                                 np.asarray(returns, dtype=float), final, kind,
                                 int(summary.get("total_steps") or (steps[-1] if steps else 0)), finished))
    return records


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


# --- aggregates, by rliable ------------------------------------------------------------------------
@contextlib.contextmanager
def _numpy_seed(seed: int) -> Iterator[None]:
    """rliable's stratified bootstrap draws its indices from NumPy's global stream (np.random.choice),
    whatever random_state it is given: seed that stream for a repeatable report, then put it back."""
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(state)


@contextlib.contextmanager
def _quiet_arch() -> Iterator[None]:
    """arch warns that rliable's random_state argument is deprecated, on every call; rliable is what
    passes it, not the caller, so the warning says nothing a reader of the report can act on."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=FutureWarning, module=r"arch\.")
        yield


def aggregate_metrics(x: np.ndarray) -> np.ndarray:
    """IQM, median and mean of a [runs, games] score matrix: rliable's own functions."""
    from rliable import metrics

    return np.array([metrics.aggregate_iqm(x), metrics.aggregate_median(x), metrics.aggregate_mean(x)])


def aggregate_scores(score_dict: dict[str, np.ndarray], reps: int = 50_000, seed: int = 0,
                     confidence: float = 0.95) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Point estimates and stratified-bootstrap confidence intervals of IQM, median and mean per
    agent, from ``rliable.library.get_interval_estimates`` on {agent: [runs, games]} normalised
    scores. Returns ({agent: [3]}, {agent: [2, 3]}: lower and upper bounds)."""
    from rliable import library as rly

    with _numpy_seed(seed), _quiet_arch():
        return rly.get_interval_estimates(score_dict, aggregate_metrics, reps=reps,
                                          confidence_interval_size=confidence,
                                          random_state=np.random.RandomState(seed))


def performance_profiles(score_dict: dict[str, np.ndarray], taus: np.ndarray, reps: int = 2_000,
                         seed: int = 0) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """The fraction of runs above each τ per agent, with bootstrap bands (``rliable``)."""
    from rliable import library as rly

    with _numpy_seed(seed), _quiet_arch():
        return rly.create_performance_profile(score_dict, taus, reps=reps)


def score_matrices(records: list[RunRecord], references: dict[str, tuple[float, float]]
                   ) -> tuple[dict[str, np.ndarray], list[str], dict[str, str]]:
    """{agent: [runs, games]} human-normalised final scores over the Atari-57 games every agent
    finished, the games, and notes of what was left out. rliable needs one count of runs per game:
    an agent with more seeds on some games keeps its lowest seeds, as many as its fewest game has."""
    finals: dict[str, dict[str, list[tuple[int, float]]]] = defaultdict(lambda: defaultdict(list))
    for r in records:
        if r.final is not None and r.game in references:
            finals[r.agent][r.game].append((r.seed, r.final))
    if not finals:
        return {}, [], {}
    games = sorted(set.intersection(*(set(g) for g in finals.values())))
    matrices, notes = {}, {}
    for agent, by_game in finals.items():
        if not games:
            break
        n = min(len(by_game[g]) for g in games)
        counts = {len(by_game[g]) for g in games}
        if len(counts) > 1:
            notes[agent] = f"{n} run(s) per game used (its games have {min(counts)} to {max(counts)} finished seeds)"
        columns = [[human_normalized(g, s, references) for _, s in sorted(by_game[g])[:n]] for g in games]
        matrices[agent] = np.array(columns, dtype=float).T
    left_out = sorted({g for by_game in finals.values() for g in by_game} - set(games))
    if left_out:
        notes["games"] = f"left out of the aggregates (not finished by every agent): {', '.join(left_out)}"
    return matrices, games, notes


# --- figures ---------------------------------------------------------------------------------------
def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _frames_formatter() -> Any:
    from matplotlib.ticker import FuncFormatter

    def fmt(value: float, _: Any) -> str:
        if abs(value) >= 1e6:
            return f"{value / 1e6:g}M"
        if abs(value) >= 1e3:
            return f"{value / 1e3:g}k"
        return f"{value:g}"

    return FuncFormatter(fmt)


def plot_game(game: str, records: list[RunRecord], out: Path, colours: dict[str, Any]) -> Path:
    """One game's learning curves: per agent the mean over seeds on the frames all seeds reached
    (each interpolated between its logged rows), with a band from the lowest to the highest seed."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=110)
    by_agent: dict[str, list[RunRecord]] = defaultdict(list)
    for r in records:
        if r.steps.size:
            by_agent[r.agent].append(r)
    for agent, runs in sorted(by_agent.items()):
        colour = colours[agent]
        start, end = max(r.x[0] for r in runs), min(r.x[-1] for r in runs)
        grid = np.linspace(start, end, 200) if end > start else np.array([end])
        values = np.stack([np.interp(grid, r.x, r.returns) for r in runs])
        ax.plot(grid, values.mean(0), color=colour, label=f"{agent} (mean of {len(runs)} seed{'s' * (len(runs) > 1)})",
                marker="o" if grid.size == 1 else None)
        if len(runs) > 1:
            ax.fill_between(grid, values.min(0), values.max(0), color=colour, alpha=0.2, linewidth=0)
    atari = any(r.atari for r in records)
    ax.set_xlabel("frames (4 per agent step)" if atari else "environment steps")
    ax.set_ylabel("episodic return (training, mean of last 100)")
    protocols = sorted({_protocol_text(r.protocol) for r in records if r.protocol})
    ax.set_title(f"{game}" + (f" ({', '.join(protocols)})" if protocols else ""), fontsize=10)
    ax.xaxis.set_major_formatter(_frames_formatter())
    ax.grid(alpha=0.3)
    if by_agent:
        ax.legend(fontsize=8, loc="best", frameon=False)
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)
    return out


def plot_aggregates(points: dict[str, np.ndarray], intervals: dict[str, np.ndarray], out: Path,
                    colours: dict[str, Any]) -> Path:
    from rliable import plot_utils

    plt = _pyplot()
    agents = sorted(points)
    fig, _ = plot_utils.plot_interval_estimates(points, intervals, metric_names=list(METRICS), algorithms=agents,
                                                colors={a: colours[a] for a in agents},
                                                xlabel="human-normalised score", subfigure_width=4.0,
                                                row_height=0.6, xlabel_y_coordinate=-0.05 - 0.9 / max(len(agents), 1))
    fig.savefig(out, bbox_inches="tight", dpi=110)
    plt.close(fig)
    return out


def plot_profiles(profiles: dict[str, np.ndarray], bands: dict[str, np.ndarray], taus: np.ndarray, out: Path,
                  colours: dict[str, Any]) -> Path:
    from rliable import plot_utils

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=110)
    plot_utils.plot_performance_profiles(profiles, taus, performance_profile_cis=bands,
                                         colors={a: colours[a] for a in profiles},
                                         xlabel="human-normalised score (τ)", ax=ax, legend=True)
    ax.set_ylabel("fraction of runs with score > τ")
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)
    return out


# --- videos ----------------------------------------------------------------------------------------
def find_video(records: list[RunRecord]) -> Path | None:
    """A video of the game: from the best-scoring run that has one."""
    for r in sorted(records, key=lambda r: -(r.final if r.final is not None else -math.inf)):
        videos = sorted((r.path / "videos").glob("*.mp4")) + sorted((r.path / "videos").glob("*.gif"))
        if videos:
            return videos[0]
    return None


def record_game_video(records: list[RunRecord]) -> Path | None:
    """Record one evaluation episode of the game's best finished run (its checkpoint)."""
    from rlkit.experts import load_saved_agent
    from rlkit.video import record_video

    best = [r for r in records if r.final is not None and (r.path / "checkpoint.pt").exists()]
    if not best:
        return None
    run = max(best, key=lambda r: r.final)
    agent = load_saved_agent(run.path, device="cpu", num_envs=1)
    try:
        written, _ = record_video(agent, run.path / "videos" / "eval-seed123.mp4", seed=123)
    finally:
        agent.close()
    return written


# --- the pages -------------------------------------------------------------------------------------
def _protocol_text(protocol: str) -> str:
    return {"v5": "sticky actions (p=0.25)", "noframeskip": "no sticky actions", "unstated": "protocol not stated"}.get(
        protocol, protocol or "-")


def _fmt(value: float | None, digits: int = 1) -> str:
    if value is None or not math.isfinite(value):
        return "-"
    return f"{value:,.{digits}f}"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + ["| " + " | ".join(r) + " |" for r in rows]


def write_report(bench_dir: str | Path, out: str | Path | None = None, *, reps: int = 50_000, seed: int = 0,
                 record_videos: bool = False) -> list[Path]:
    """Write the report as a Markdown page and an HTML page, both named ``report``, with their
    figures, into ``out`` (default BENCH_DIR/report); returns the pages written."""
    missing = [name for name in ("rliable", "markdown") if importlib.util.find_spec(name) is None]
    if missing:
        raise ConfigError(f"rlkit report needs {' and '.join(missing)}, not installed here: pip install -e \".[bench]\"")
    bench_dir = Path(bench_dir)
    if not bench_dir.is_dir():
        raise ConfigError(f"{bench_dir} is not a folder; pass the --out folder of rlkit bench.")
    records = read_runs(bench_dir)
    if not records:
        raise ConfigError(f"{bench_dir} holds no run folders with config.json and progress.csv; run rlkit bench "
                          f"--out {bench_dir} first.")
    if reps < 1:
        raise ConfigError(f"--reps must be >= 1, got {reps}.")
    out = Path(out) if out is not None else bench_dir / "report"
    (out / "figures").mkdir(parents=True, exist_ok=True)
    references, reference_source = reference_scores()
    plt = _pyplot()
    palette = plt.get_cmap("tab10").colors
    agents = sorted({r.agent for r in records})
    colours = {a: palette[i % len(palette)] for i, a in enumerate(agents)}
    by_game: dict[str, list[RunRecord]] = defaultdict(list)
    for r in records:
        by_game[r.game].append(r)
    games = sorted(by_game)

    md: list[str] = [f"# rlkit benchmark report: {bench_dir}", ""]
    protocols = sorted({_protocol_text(r.protocol) for r in records if r.protocol})
    budgets = sorted({r.total_steps for r in records})
    md += [f"Generated {time.strftime('%Y-%m-%d %H:%M')} from {len(records)} run folders: {len(agents)} agent(s) "
           f"({', '.join(agents)}) on {len(games)} game(s)."
           + (f" Atari protocol: {', '.join(protocols)}." if protocols else "")
           + f" Steps per run reached: {', '.join(f'{b:,}' for b in budgets)}"
           + (f" (x4 = {', '.join(f'{b * FRAMES_PER_STEP:,}' for b in budgets)} frames)." if protocols else "."),
           "", "Final score of a run: the mean return of its end-of-run evaluation (full games, unclipped, "
           "deterministic policy; marked E), or, where it has none, the mean of its last 100 training episodes "
           "(marked T). Unfinished runs draw curves but have no final score.", ""]

    # final scores and normalised scores
    md += ["## Final scores", "", "Mean ± standard deviation over seeds (number of seeds).", ""]
    rows = []
    for game in games:
        row = [game]
        for agent in agents:
            finals = [r for r in by_game[game] if r.agent == agent and r.final is not None]
            if not finals:
                row.append("-")
                continue
            values = [r.final for r in finals]
            kinds = "".join(sorted({"E" if r.final_kind == "evaluation" else "T" for r in finals}))
            spread = f" ± {_fmt(statistics.pstdev(values))}" if len(values) > 1 else ""
            row.append(f"{_fmt(statistics.fmean(values))}{spread} ({len(values)}, {kinds})")
        rows.append(row)
    md += _table(["game", *agents], rows) + [""]

    normalised_rows = []
    for game in games:
        if game not in references:
            continue
        row = [game]
        for agent in agents:
            values = [human_normalized(game, r.final, references) for r in by_game[game]
                      if r.agent == agent and r.final is not None]
            row.append(_fmt(100 * statistics.fmean(values), 1) + " %" if values else "-")
        normalised_rows.append(row)
    if normalised_rows:
        md += ["## Human-normalised scores", "",
               "(score − random) / (human − random), in percent, mean over seeds. Reference scores: "
               f"{reference_source} (rlkit/data/atari_reference_scores.toml).", ""]
        md += _table(["game", *agents], normalised_rows) + [""]

    # aggregates by rliable
    matrices, agg_games, notes = score_matrices(records, references)
    figures: dict[str, Path] = {}
    if matrices and agg_games:
        points, intervals = aggregate_scores(matrices, reps=reps, seed=seed)
        md += ["## Aggregate human-normalised scores", "",
               f"Over {len(agg_games)} game(s) ({', '.join(agg_games)}), with stratified-bootstrap 95% confidence "
               f"intervals ({reps:,} resamples, seed {seed}), computed by rliable (Agarwal et al. 2021): IQM is the "
               "mean of the middle 50% of all runs' scores. With few games or seeds the intervals are wide, and a "
               "single game's 'median' is just that game's score.", ""]
        rows = []
        for agent in sorted(points):
            runs = matrices[agent].shape[0]
            rows.append([agent, str(runs)] + [f"{_fmt(points[agent][i], 3)} [{_fmt(intervals[agent][0][i], 3)}, "
                                             f"{_fmt(intervals[agent][1][i], 3)}]" for i in range(len(METRICS))])
        md += _table(["agent", "runs per game", *(f"{m} [95% CI]" for m in METRICS)], rows) + [""]
        md += [f"Note ({k}): {v}" for k, v in notes.items()] + ([""] if notes else [])
        figures["aggregates"] = plot_aggregates(points, intervals, out / "figures" / "aggregates.png", colours)
        md += ["![IQM, median and mean with 95% confidence intervals](figures/aggregates.png)", ""]
        top = max(1.0, max(float(np.nanmax(m)) for m in matrices.values()))
        taus = np.linspace(min(0.0, min(float(np.nanmin(m)) for m in matrices.values())), top, 101)
        profiles, bands = performance_profiles(matrices, taus, seed=seed)
        figures["profiles"] = plot_profiles(profiles, bands, taus, out / "figures" / "performance_profiles.png", colours)
        md += ["Performance profiles: the fraction of runs (all games, all seeds) whose human-normalised score "
               "exceeds τ, with bootstrap bands.", "", "![performance profiles](figures/performance_profiles.png)", ""]
    elif normalised_rows:
        md += ["## Aggregate human-normalised scores", "", "No finished run on a game that every agent finished: no "
               "aggregate yet.", ""]

    # published scores beside ours
    md += _published_section(records, agents)

    # per game: curves and videos
    md += ["## Learning curves and videos", "", "Curves: the mean training return of the last 100 episodes (full "
           "games, unclipped), the line the mean over seeds and the band the lowest to the highest seed.", ""]
    videos: dict[str, Path] = {}
    for game in games:
        figure = plot_game(game, by_game[game], out / "figures" / f"curve_{_slug(game)}.png", colours)
        md += [f"### {game}", "", f"![{game} learning curves](figures/{figure.name})", ""]
        video = find_video(by_game[game])
        if video is None and record_videos:
            video = record_game_video(by_game[game])
        if video is not None:
            videos[game] = video
            rel = os.path.relpath(video, out)
            md += [f"![{game} evaluation video]({rel})" if video.suffix == ".gif" else
                   f"Evaluation video: [{rel}]({rel})", ""]
        else:
            md += ["No video yet (`rlkit eval RUN --video`, or `rlkit report --record-videos`).", ""]

    md_path, html_path = (out / f"report.{suffix}" for suffix in ("md", "html"))
    md_path.write_text("\n".join(md) + "\n")
    html_path.write_text(_html(md, videos, out, bench_dir))
    return [md_path, html_path]


def _published_section(records: list[RunRecord], agents: list[str]) -> list[str]:
    """Published scores of the same agent on the same game, with protocol and budget, beside ours."""
    ours: dict[tuple[str, str], list[RunRecord]] = defaultdict(list)
    for r in records:
        if r.final is not None:
            ours[(r.key, r.game)].append(r)
    rows = []
    for row in published_scores():
        mine = ours.get((row["agent"], row["game"]))
        if not mine:
            continue
        our_frames = sorted({r.total_steps * FRAMES_PER_STEP for r in mine})
        our_protocols = sorted({r.protocol for r in mine})
        score = statistics.fmean(r.final for r in mine)
        same_protocol = our_protocols == [row["protocol"]]
        same_budget = our_frames == [row["frames"]]
        verdict = "yes" if same_protocol and same_budget else "no: " + ", ".join(
            what for what, same in (("protocol", same_protocol), ("budget", same_budget)) if not same)
        std = f" ± {_fmt(row['std'])}" if "std" in row else ""
        rows.append([row["game"], f"{mine[0].agent} ({row['agent']})",
                     f"{_fmt(score)} @ {', '.join(f'{f / 1e6:g}M' for f in our_frames)} frames, "
                     f"{', '.join(_protocol_text(p) for p in our_protocols)}",
                     f"{_fmt(row['score'])}{std} @ {row['frames'] / 1e6:g}M frames, {_protocol_text(row['protocol'])}",
                     verdict, f"{row['metric']}; {row['source']}" + (f" ({row['note']})" if "note" in row else "")])
    if not rows:
        return []
    rows.sort(key=lambda row: (row[4] != "yes", row[0], row[1]))  # the comparable ones first
    return ["## Published scores beside ours", "",
            "Peers' published scores for the same agent and game (rlkit/data/published_scores.toml, each with its "
            "source). Only a row marked 'yes' was measured with the same protocol and the same number of frames; "
            "the others are context, not a comparison.", ""] + _table(
        ["game", "agent", "ours", "published", "comparable", "what it is; source"], rows) + [""]


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in name)


HTML_STYLE = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:1em 0;font-size:14px}th,td{border:1px solid #ccc;padding:4px 8px;text-align:left}
th{background:#f3f3f3}img{max-width:100%}video{max-width:480px;display:block;margin:0.5em 0}code{background:#f3f3f3}"""


def _html(md: list[str], videos: dict[str, Path], out: Path, bench_dir: Path) -> str:
    """The same page as HTML (Python-Markdown with its tables extension), the MP4 videos as players."""
    import markdown

    text = "\n".join(md)
    for game, video in videos.items():
        rel = os.path.relpath(video, out)
        if video.suffix == ".mp4":
            player = (f'<video controls muted loop src="{html.escape(rel)}" title="{html.escape(game)} evaluation">'
                      f'<a href="{html.escape(rel)}">{html.escape(rel)}</a></video>')
            text = text.replace(f"Evaluation video: [{rel}]({rel})", player)
    body = markdown.markdown(text, extensions=["tables"])
    return (f"<!doctype html>\n<html><head><meta charset='utf-8'><title>rlkit report: {html.escape(str(bench_dir))}"
            f"</title><style>{HTML_STYLE}</style></head>\n<body>\n{body}\n</body></html>\n")
