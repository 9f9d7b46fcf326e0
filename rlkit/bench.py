"""``rlkit bench``: a grid of agents x games x seeds, each cell an ordinary rlkit run.

A run is ``python -m rlkit.cli train AGENT --env ENV --seed K --log-dir OUT/AGENT/GAME/seedK ...``
in a subprocess of its own, so a crash of one run never takes the grid down, and the run folder is
the same one ``rlkit train`` writes (TensorBoard, progress.csv, summary.json, checkpoint.pt). The
grid is resumable because runs are: a finished run (its summary.json at the target step, not
stopped) is skipped, a run folder with a checkpoint is continued with ``--resume``, anything else
starts afresh. Killing the bench and starting the same command again loses at most the work since
each run's last checkpoint.

Threads: P runs at once on C cores give each run ``max(1, C // P)`` torch threads (and as many
BLAS/OpenMP threads), pinned to cores of its own when P x threads fits in C. Oversubscribed
threads on a few cores cost 2-60x (docs/ARCHITECTURE.md), so the bench never lets runs share a core
while another sits idle.

``--ray-address`` sends each run to a Ray cluster as one task asking for its threads in CPUs, running
the same subprocess function there; the run folders must then be on a file system every node sees.

This module reads suites, presets and configs without importing torch, so ``--dry-run`` is quick.
"""
from __future__ import annotations

import argparse
import csv
import dataclasses
import difflib
import json
import math
import os
import queue
import re
import signal
import statistics
import subprocess
import sys
import threading
import time
import tomllib
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Callable, Sequence

from rlkit.env_ids import parse_atari_id
from rlkit.errors import ConfigError, UnknownEnvError
from rlkit.utils import usable_cores

FRAMES_PER_STEP = 4  # Atari: one agent step is 4 emulator frames (frame skip 4)
# envs.atari stores 84x84 grayscale uint8 frames; the replay buffer keeps one frame per transition
# (not the stack of 4). tests/test_bench.py holds this to a real env's observation space.
ATARI_FRAME_SHAPE = (84, 84)
# What the bench sets on every run itself; given after `--` they would fight the grid.
GRID_FLAGS = ("--env", "--seed", "--total-steps", "--log-dir", "--resume", "--overwrite", "--preset")
STOPPED_CODES = (128 + signal.SIGINT, 128 + signal.SIGTERM)


# --- the grid -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class BenchRun:
    """One cell of the grid: an agent on an env with a seed, trained into ``run_dir``."""

    agent: str  # CLI name ("ppo2") or package.module:Class
    game: str  # "Pong" for Atari, else the Gymnasium id
    env_id: str  # "ALE/Pong-v5", "PongNoFrameskip-v4", "CartPole-v1"
    seed: int
    total_steps: int  # agent steps (Atari frames = 4x)
    run_dir: Path

    @property
    def label(self) -> str:
        return f"{self.agent} {self.game} seed {self.seed}"

    @property
    def log_path(self) -> Path:
        return self.run_dir / "train.log"


@dataclass
class BenchPlan:
    """The grid and how to run it."""

    runs: list[BenchRun]
    agents: list[str]
    games: list[str]
    seeds: list[int]
    out: Path
    preset: str = "auto"
    atari_protocol: str = ""
    eval_episodes: int = 10
    extra_args: list[str] = field(default_factory=list)
    parallel: int = 1
    cores: int = 1
    suite: str | None = None

    @property
    def threads(self) -> int:
        """torch threads of each run: the cores split evenly between the runs at once, at least 1."""
        return max(1, self.cores // self.parallel)


def available_suites() -> list[str]:
    return sorted(p.name[:-5] for p in resources.files("rlkit.suites").iterdir() if p.name.endswith(".toml"))


def load_suite(name: str) -> dict[str, Any]:
    """A suite by name (``atari5``, ``atari57``: rlkit/suites/NAME.toml) or by the path of a TOML file
    with ``games = [...]`` and, optionally, ``agents``, ``seeds``, ``total_steps``, ``preset``,
    ``atari_protocol``, ``eval_episodes`` and ``extra_args`` (what the command line leaves unsaid)."""
    path = Path(name)
    if path.suffix == ".toml" or path.exists():
        if not path.is_file():
            raise ConfigError(f"suite file {path} does not exist; pass a TOML file with games = [...] or one of "
                              f"{', '.join(available_suites())}.")
        text, source = path.read_text(), str(path)
    else:
        shipped = resources.files("rlkit.suites") / f"{name}.toml"
        if not shipped.is_file():
            close = difflib.get_close_matches(name, available_suites(), n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise ConfigError(f"unknown suite {name!r}; {hint}rlkit ships {', '.join(available_suites())}, or pass the "
                              "path of a .toml file with games = [...].")
        text, source = shipped.read_text(), name
    try:
        suite = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"suite {source} is not valid TOML ({exc}).") from exc
    known = {"description", "games", "agents", "seeds", "total_steps", "preset", "atari_protocol", "eval_episodes",
             "extra_args"}
    unknown = sorted(set(suite) - known)
    if unknown:
        raise ConfigError(f"suite {source} has unknown keys {unknown}; a suite may set {', '.join(sorted(known))}.")
    if not isinstance(suite.get("games"), list) or not suite["games"]:
        raise ConfigError(f"suite {source} needs a non-empty list: games = [\"Pong\", ...].")
    suite["name"] = path.stem if source == str(path) else name
    return suite


def parse_list(text: str | Sequence[str]) -> list[str]:
    """"a,b, c" (or a list) as ["a", "b", "c"]."""
    items = text.split(",") if isinstance(text, str) else [str(t) for t in text]
    return [item.strip() for item in items if item.strip()]


def parse_seeds(text: str | Sequence[int]) -> list[int]:
    """Seeds as "0,1,2", a range "0-4" (both ends included), a mix ("0-2,7") or a list of ints."""
    if not isinstance(text, str):
        items = list(text)
        if not all(isinstance(s, int) and not isinstance(s, bool) for s in items):
            raise ConfigError(f"seeds must be integers, got {items!r}; e.g. seeds = [0, 1, 2].")
        seeds = items
    else:
        seeds = []
        for part in parse_list(text):
            match = re.fullmatch(r"(\d+)(?:-(\d+))?", part)
            if match is None:
                raise ConfigError(f"--seeds: cannot read {part!r} in {text!r}; give non-negative integers as 0,1,2 "
                                  "or a range 0-4.")
            low, high = int(match[1]), int(match[2] or match[1])
            if high < low:
                raise ConfigError(f"--seeds: the range {part!r} runs backwards; write {high}-{low}.")
            seeds.extend(range(low, high + 1))
    if any(s < 0 for s in seeds):
        raise ConfigError(f"seeds must be >= 0, got {seeds}.")
    if len(set(seeds)) != len(seeds):
        raise ConfigError(f"seeds {seeds} repeat a seed; each seed is one run, give each once.")
    return seeds


def _agent_class_settings(agent: str) -> tuple[str, type]:
    """(class name, config class) of an agent, and the typed error for an unknown one. rlkit's own
    agents are read from the catalog without importing torch."""
    import agents

    if ":" in agent:
        from rlkit.cli import _agent_class

        cls = _agent_class(agent)
        return cls.__name__, cls.config_class
    if agent not in agents.CATALOG:
        close = difflib.get_close_matches(agent, list(agents.CATALOG), n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise ConfigError(f"unknown agent {agent!r}; {hint}choose from {', '.join(agents.CATALOG)} "
                          "(`rlkit list`), or pass package.module:ClassName.")
    class_name = agents.CATALOG[agent][1]
    return class_name, getattr(agents, f"{class_name}Config")


def _atari_games() -> dict[str, str]:
    """Every Atari game ale-py registers, lowercased -> its name ("beamrider" -> "BeamRider")."""
    import ale_py
    import gymnasium as gym

    gym.register_envs(ale_py)
    games = {}
    for env_id in gym.registry:
        parsed = parse_atari_id(env_id)
        if parsed is not None and parsed[1] == "v5":
            games[parsed[0].lower()] = parsed[0]
    return games


def resolve_game(game: str, atari_protocol: str = "") -> tuple[str, str]:
    """(game, env id) for a grid entry: an Atari game ("Pong", any case) becomes ``ALE/Pong-v5``
    (sticky actions) or, with ``atari_protocol="noframeskip"``, ``PongNoFrameskip-v4``; an Atari id
    or any other Gymnasium id ("CartPole-v1") is taken as it is."""
    import gymnasium as gym

    parsed = parse_atari_id(game)
    if parsed is not None:
        game = parsed[0]
    if re.fullmatch(r"[A-Za-z0-9]+", game):
        games = _atari_games()
        if game.lower() not in games:
            close = [games[c] for c in difflib.get_close_matches(game.lower(), list(games), n=3)]
            hint = f" Did you mean {', '.join(close)}?" if close else ""
            raise UnknownEnvError(f"unknown Atari game {game!r}.{hint} Use ALE's names (Pong, BeamRider, SpaceInvaders; "
                                  "`--suite atari57` lists the standard 57) or a full Gymnasium id such as CartPole-v1.")
        name = games[game.lower()]
        if atari_protocol == "noframeskip" or (parsed is not None and parsed[1] == "noframeskip" and not atari_protocol):
            return name, f"{name}NoFrameskip-v4"
        return name, f"ALE/{name}-v5"
    if ":" not in game and game not in gym.registry:
        by_lower = {i.lower(): i for i in gym.registry}
        close = [by_lower[c] for c in difflib.get_close_matches(game.lower(), list(by_lower), n=3)]
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise UnknownEnvError(f"no environment {game!r} is registered.{hint} Give an Atari game by name (Pong) or a "
                              "Gymnasium id such as CartPole-v1.")
    return game, game


def plan_grid(
    *,
    agents: Sequence[str],
    games: Sequence[str],
    seeds: Sequence[int],
    out: str | Path,
    total_steps: int | None = None,
    preset: str = "auto",
    atari_protocol: str = "",
    eval_episodes: int = 10,
    extra_args: Sequence[str] = (),
    parallel: int = 1,
    cores: int | None = None,
    suite: str | None = None,
) -> BenchPlan:
    """Every run of agents x games x seeds, validated before anything starts: an unknown agent or
    game, a bad seed list, an empty grid or a budget that cannot be found raises a typed error."""
    from rlkit.presets import choose_preset

    agents = [a.lower() if ":" not in a else a for a in agents]
    if not agents or not games or not seeds:
        empty = [name for name, items in (("agents", agents), ("games", games), ("seeds", seeds)) if not items]
        raise ConfigError(f"the grid is empty: no {' and no '.join(empty)}. Give --agents ppo2,dqn, --games Pong,Breakout "
                          "(or --suite atari5) and --seeds 0,1,2.")
    for name, items in (("agents", agents), ("games", games)):
        if len(set(items)) != len(items):
            raise ConfigError(f"{name} {list(items)} repeat an entry; give each once.")
    seeds = parse_seeds(list(seeds))
    if total_steps is not None and (not isinstance(total_steps, int) or total_steps < 1):
        raise ConfigError(f"--total-steps must be an integer >= 1, got {total_steps!r}.")
    if parallel < 1:
        raise ConfigError(f"--parallel must be >= 1, got {parallel}.")
    if eval_episodes < 0:
        raise ConfigError(f"--eval-episodes must be >= 0, got {eval_episodes}.")
    if atari_protocol not in ("", "v5", "noframeskip"):
        raise ConfigError(f"--atari-protocol must be v5 (sticky actions) or noframeskip, got {atari_protocol!r}.")
    check_extra_args(agents, extra_args)
    resolved = [resolve_game(g, atari_protocol) for g in games]
    out = Path(out)
    runs = []
    for agent in agents:
        class_name, _ = _agent_class_settings(agent)
        for game, env_id in resolved:
            steps = total_steps
            if steps is None:
                chosen = choose_preset(class_name, env_id, preset)
                if chosen is None:
                    raise ConfigError(f"no budget for {agent} on {env_id}: it has no preset with one (preset {preset!r}); "
                                      "pass --total-steps.")
                steps = chosen.total_steps
            for seed in seeds:
                runs.append(BenchRun(agent, game, env_id, seed, steps, out / _folder(agent) / _folder(game) / f"seed{seed}"))
    return BenchPlan(runs, list(agents), [g for g, _ in resolved], list(seeds), out, preset, atari_protocol,
                     eval_episodes, list(extra_args), parallel, cores or usable_cores(), suite)


def plan_from_args(args: argparse.Namespace) -> BenchPlan:
    """The plan of ``rlkit bench``'s flags, a suite's values filling what the flags leave out."""
    suite = load_suite(args.suite) if args.suite else {}
    if args.suite and args.games:
        raise ConfigError("give --suite or --games, not both (a suite is a list of games).")
    if not args.suite and not args.games:
        raise ConfigError(f"say which games: --suite NAME ({', '.join(available_suites())}, or a .toml file) or "
                          "--games Pong,Breakout.")
    games = parse_list(args.games) if args.games else [str(g) for g in suite["games"]]
    agents = parse_list(args.agents) if args.agents else parse_list(suite.get("agents", []))
    if args.seeds is not None:
        seeds = parse_seeds(args.seeds)
    else:
        seeds = parse_seeds(suite.get("seeds", [0]))
    total_steps = args.total_steps if args.total_steps is not None else suite.get("total_steps")
    extra = [*suite.get("extra_args", []), *args.extra]
    return plan_grid(agents=agents, games=games, seeds=seeds, out=args.out, total_steps=total_steps,
                     preset=args.preset or suite.get("preset", "auto"),
                     atari_protocol=args.atari_protocol if args.atari_protocol is not None else suite.get("atari_protocol", ""),
                     eval_episodes=args.eval_episodes if args.eval_episodes is not None else suite.get("eval_episodes", 10),
                     extra_args=extra, parallel=args.parallel, suite=suite.get("name"))


def check_extra_args(agents: Sequence[str], extra: Sequence[str]) -> None:
    """Flags passed through to every run (after ``--``) must be flags of every agent: one unknown
    flag would fail every run of the grid, hours in, so it fails here."""
    reserved = [a for a in extra if a.split("=")[0] in GRID_FLAGS]
    if reserved:
        raise ConfigError(f"{' '.join(reserved)} after -- is set by the bench itself for each run; use the bench's own "
                          "--games/--seeds/--total-steps/--out/--preset.")
    if not extra:
        return
    for agent in agents:
        parser = _train_flags(agent)
        _, unknown = parser.parse_known_args(list(extra))
        if unknown:
            raise ConfigError(f"{' '.join(unknown)}: not a flag of `rlkit train {agent}` (`rlkit train {agent} --help` "
                              "lists them); flags after -- go to every run.")


def _train_flags(agent: str) -> argparse.ArgumentParser:
    from rlkit.config import add_config_arguments

    _, config_class = _agent_class_settings(agent)
    parser = argparse.ArgumentParser(add_help=False)
    for flag in ("--checkpoint-freq", "--eval-freq", "--eval-episodes"):
        parser.add_argument(flag)
    for flag in ("--no-progress", "--quiet"):
        parser.add_argument(flag, action="store_true")
    add_config_arguments(parser, config_class)
    return parser


def _folder(name: str) -> str:
    return name.replace("/", "-").replace(":", "-")


# --- the state of a run folder ----------------------------------------------------------------------
NEW, RESUME, FINISHED, CONFLICT = "new", "resume", "finished", "conflict"


def run_state(run: BenchRun) -> tuple[str, str]:
    """(state, why): ``finished`` (summary.json at the target and not stopped: skip), ``resume`` (a
    checkpoint or config.json to continue from), ``new``, or ``conflict`` (the folder holds a run of
    another agent or env: never touched)."""
    folder = run.run_dir
    config = _read_json(folder / "config.json")
    if config is not None:
        env = config.get("env")
        if env is not None and env != run.env_id:
            return CONFLICT, f"{folder} holds a run on {env}, not {run.env_id}; pass another --out"
    summary = _read_json(folder / "summary.json")
    if summary is not None and "stopped_by" not in summary and int(summary.get("total_steps") or 0) >= run.total_steps:
        return FINISHED, f"{summary['total_steps']:,} of {run.total_steps:,} steps"
    if (folder / "checkpoint.pt").exists() or config is not None:
        done = steps_done(run)
        return RESUME, f"from step {done:,}" if done else "from its checkpoint"
    return NEW, ""


def steps_done(run: BenchRun) -> int:
    """Steps a run folder holds, about: its summary's if it has one, else its last progress.csv row
    (a checkpoint is at most a tenth of the run behind it)."""
    summary = _read_json(run.run_dir / "summary.json")
    if summary is not None and summary.get("total_steps"):
        return int(summary["total_steps"])
    try:
        with open(run.run_dir / "progress.csv", newline="") as f:
            rows = list(csv.DictReader(f))
        return int(rows[-1]["step"]) if rows else 0
    except (OSError, KeyError, ValueError, csv.Error):
        return 0


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


# --- running ---------------------------------------------------------------------------------------
def train_command(run: BenchRun, plan: BenchPlan, resume: bool) -> list[str]:
    """The ``rlkit train`` command of a run: the grid's flags first, the passed-through ones last
    (argparse keeps the last of a repeated flag, so they win)."""
    _, config_class = _agent_class_settings(run.agent)
    fields = {f.name for f in dataclasses.fields(config_class)}
    threads = ["--torch-threads", str(plan.threads)]
    if "num_workers" in fields:  # A3C: its worker processes are what use the cores, one thread each
        threads = ["--num-workers", str(plan.threads), "--torch-threads", "1"]
    command = [sys.executable, "-m", "rlkit.cli", "train", run.agent, "--env", run.env_id, "--seed", str(run.seed),
               "--total-steps", str(run.total_steps), "--log-dir", str(run.run_dir.resolve()), "--preset", plan.preset,
               "--eval-episodes", str(plan.eval_episodes), "--no-progress", *threads]
    return command + (["--resume"] if resume else []) + list(plan.extra_args)


def thread_env(threads: int) -> dict[str, str]:
    """Environment of a run: BLAS and OpenMP pools sized like torch's, so NumPy's matrix products
    do not spawn a thread per core in every run, and unbuffered output for a live log."""
    return {"OMP_NUM_THREADS": str(threads), "OPENBLAS_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads),
            "PYTHONUNBUFFERED": "1"}


def run_training(command: list[str], log_path: str, env: dict[str, str], cores: str | None = None,
                 on_start: Callable[[subprocess.Popen], None] | None = None) -> tuple[int, float]:
    """Run one training command to its end, its output appended to ``log_path``; (exit code, seconds).

    The same function runs in the bench's threads and in Ray tasks. The child gets SIGTERM if this
    process dies (``rlkit.launch``), and if this call is interrupted (Ctrl-C, a Ray cancel) it asks
    the child to stop at its next safe point and waits for it to save."""
    launcher = [sys.executable, "-m", "rlkit.launch", "--parent", str(os.getpid())]
    if cores:
        launcher += ["--cores", cores]
    Path(log_path).parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    with open(log_path, "a") as log:
        log.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} {' '.join(command)}\n")
        log.flush()
        proc = subprocess.Popen([*launcher, "--", *command], stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, env={**os.environ, **env})
        if on_start is not None:
            on_start(proc)
        try:
            code = proc.wait()
        except BaseException:
            proc.send_signal(signal.SIGTERM)  # a safe point and a checkpoint, not a lost run
            proc.wait()
            raise
    return code, time.perf_counter() - start


@dataclass
class RunOutcome:
    run: BenchRun
    status: str  # "finished", "skipped" (finished before), "failed", "stopped", "not started"
    seconds: float = 0.0
    message: str = ""


def _failure_message(log: Path, code: int) -> str:
    """The error line of a failed run's log (rlkit's typed errors print 'rlkit: error: ...'), else its last line."""
    try:
        text = log.read_text(errors="replace")
    except OSError:
        text = ""
    # the log keeps every attempt of the run; this one's output follows the last header
    last_attempt = text[text.rfind("\n=== ") + 1:] if "\n=== " in text else text
    lines = [line.strip() for line in last_attempt.splitlines()[1:] if line.strip()]
    errors = [line for line in lines if line.startswith("rlkit: error:") or re.match(r"^\w+(Error|Exception)\b", line)]
    last = errors[-1] if errors else (lines[-1] if lines else "no output")
    return f"exit code {code}: {last[:300]}"


class _Children:
    """The runs in progress, so a signal to the bench reaches them all."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.procs: set[subprocess.Popen] = set()
        self.stop = threading.Event()

    def add(self, proc: subprocess.Popen) -> None:
        with self.lock:
            self.procs.add(proc)
            if self.stop.is_set():  # started while the stop arrived
                proc.send_signal(signal.SIGTERM)

    def discard(self, proc: subprocess.Popen) -> None:
        with self.lock:
            self.procs.discard(proc)

    def terminate(self) -> None:
        # SIGTERM, not SIGINT: a run that already got Ctrl-C from the terminal takes a second SIGINT
        # as "stop at once without saving", but a SIGTERM only repeats the request to save and stop
        self.stop.set()
        with self.lock:
            for proc in self.procs:
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)


def run_grid(plan: BenchPlan, ray_address: str | None = None, say: Callable[[str], None] = print) -> list[RunOutcome]:
    """Run every unfinished run of the plan (``parallel`` at a time, or as Ray tasks); the outcome of each."""
    outcomes, todo = [], []
    for run in plan.runs:
        state, why = run_state(run)
        if state == FINISHED:
            outcomes.append(RunOutcome(run, "skipped", message=why))
        elif state == CONFLICT:
            outcomes.append(RunOutcome(run, "failed", message=why))
        else:
            todo.append((run, state == RESUME))
    say(f"rlkit bench: {len(plan.runs)} runs, {len(outcomes)} finished already, {sum(r for _, r in todo)} to resume, "
        f"{sum(not r for _, r in todo)} to start; {plan.parallel} at a time, {plan.threads} torch thread(s) each"
        + (f", on Ray at {ray_address}" if ray_address else ""))
    if not todo:
        return outcomes
    if ray_address:
        return outcomes + _run_on_ray(plan, todo, say, ray_address)
    return outcomes + _run_locally(plan, todo, say)


def _core_slots(plan: BenchPlan) -> list[str | None]:
    """The cores of each parallel slot ("0", "1"), or no pinning when the runs outnumber the cores."""
    if not hasattr(os, "sched_getaffinity") or plan.parallel * plan.threads > plan.cores:
        return [None] * plan.parallel
    cores = sorted(os.sched_getaffinity(0))[: plan.cores]
    t = plan.threads
    return [",".join(map(str, cores[i * t:(i + 1) * t])) for i in range(plan.parallel)]


def _run_locally(plan: BenchPlan, todo: list[tuple[BenchRun, bool]], say: Callable[[str], None]) -> list[RunOutcome]:
    children = _Children()
    slots: queue.Queue = queue.Queue()
    for slot in _core_slots(plan):
        slots.put(slot)
    counter = _Counter(len(todo))

    def one(run: BenchRun, resume: bool) -> RunOutcome:
        if children.stop.is_set():
            return RunOutcome(run, "not started")
        cores = slots.get()
        try:
            if not _wait_for_folder(run.run_dir, children.stop):
                return RunOutcome(run, "not started")
            holder: list[subprocess.Popen] = []

            def started(proc: subprocess.Popen) -> None:
                holder.append(proc)
                children.add(proc)

            say(f"  start {run.label}" + (" (resume)" if resume else "") + f": {run.run_dir}")
            code, seconds = run_training(train_command(run, plan, resume), str(run.log_path), thread_env(plan.threads),
                                         cores, on_start=started)
            for proc in holder:
                children.discard(proc)
            return _outcome(run, code, seconds, stopping=children.stop.is_set())
        finally:
            slots.put(cores)

    outcomes = []
    with _signals_stop(children), ThreadPoolExecutor(max_workers=plan.parallel) as pool:
        futures = [pool.submit(one, run, resume) for run, resume in todo]
        for future in as_completed(futures):
            outcome = future.result()
            outcomes.append(outcome)
            if outcome.status != "not started":
                say(counter.line(outcome))
    return outcomes


def _outcome(run: BenchRun, code: int, seconds: float, stopping: bool) -> RunOutcome:
    if code == 0:
        summary = _read_json(run.run_dir / "summary.json") or {}
        score = summary.get("eval_mean_return")
        return RunOutcome(run, "finished", seconds, f"evaluation {score:.2f}" if score is not None else "")
    if code in STOPPED_CODES and stopping:
        return RunOutcome(run, "stopped", seconds, "saved at its last safe point; run the same command to resume")
    return RunOutcome(run, "failed", seconds, _failure_message(run.log_path, code))


class _Counter:
    def __init__(self, total: int):
        self.total, self.done = total, 0
        self.lock = threading.Lock()

    def line(self, outcome: RunOutcome) -> str:
        with self.lock:
            self.done += 1
            text = f"[{self.done}/{self.total}] {outcome.status} {outcome.run.label} in {_duration(outcome.seconds)}"
        return text + (f": {outcome.message}" if outcome.message else "")


def _wait_for_folder(run_dir: Path, stop: threading.Event, timeout: float = 600.0) -> bool:
    """Wait while another process holds the run folder's lock: a bench killed a moment ago leaves
    its runs saving their checkpoints (they got SIGTERM), and resuming before they let go would fail.
    False if the bench is told to stop meanwhile."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - no advisory locks: nothing to wait for
        return True
    lock_file = run_dir / ".lock"
    if not lock_file.exists():
        return True
    deadline = time.monotonic() + timeout
    while True:
        with open(lock_file, "a+") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                fcntl.flock(handle, fcntl.LOCK_UN)
                return True
            except BlockingIOError:
                pass
        if time.monotonic() > deadline:
            return True  # let the run itself report the folder as busy
        if stop.wait(1.0):
            return False


class _signals_stop:
    """SIGINT and SIGTERM to the bench: no new run starts, and every run in progress is asked to
    stop at its next safe point and save (the bench then reports them as stopped)."""

    def __init__(self, children: _Children):
        self.children = children
        self.previous: dict[int, Any] = {}

    def __enter__(self) -> "_signals_stop":
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self.previous[sig] = signal.signal(sig, self._stop)
        return self

    def _stop(self, signum: int, frame: object) -> None:
        if not self.children.stop.is_set():
            print(f"rlkit bench: {signal.Signals(signum).name}: no new runs; the runs in progress stop at their next "
                  "safe point and save", file=sys.stderr)
        self.children.terminate()

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)


def _run_on_ray(plan: BenchPlan, todo: list[tuple[BenchRun, bool]], say: Callable[[str], None],
                ray_address: str) -> list[RunOutcome]:
    """One Ray task per run, each asking for the run's threads in CPUs, so Ray places as many runs at
    once as the cluster's CPUs hold (``--parallel`` sizes the threads, not the concurrency, here)."""
    try:
        import ray
    except ImportError as exc:
        raise ConfigError(f"--ray-address needs Ray ({exc}): pip install rlkit[ray].") from None
    from rlkit.ray_rollout import init_ray

    started_here = not ray.is_initialized()
    if started_here:
        options = {"include_dashboard": False} if ray_address == "local" else {}
        init_ray(ray, {"address": ray_address, **options}, "pass --ray-address local for a cluster on this machine")
    task = ray.remote(num_cpus=plan.threads, max_retries=0)(run_training)
    counter = _Counter(len(todo))
    refs = {}
    for run, resume in todo:
        ref = task.remote(train_command(run, plan, resume), str(run.log_path.resolve()), thread_env(plan.threads))
        refs[ref] = run
    outcomes, stopping = [], False
    pending = list(refs)
    try:
        while pending:
            try:
                ready, pending = ray.wait(pending, num_returns=1)
            except KeyboardInterrupt:
                stopping = True
                say("rlkit bench: stopping: the Ray tasks ask their runs to stop at a safe point and save")
                for ref in pending:
                    ray.cancel(ref)
                continue
            for ref in ready:
                run = refs[ref]
                try:
                    code, seconds = ray.get(ref)
                    outcome = _outcome(run, code, seconds, stopping)
                except (ray.exceptions.TaskCancelledError, ray.exceptions.RayTaskError) as exc:
                    outcome = RunOutcome(run, "stopped" if stopping else "failed", message=str(exc).splitlines()[0])
                outcomes.append(outcome)
                say(counter.line(outcome))
    finally:
        if started_here:
            ray.shutdown()
    return outcomes


def _duration(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "unknown"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def summary_lines(outcomes: list[RunOutcome]) -> list[str]:
    """The end of a bench: counts, and every failed run with its log."""
    counts: dict[str, int] = {}
    for outcome in outcomes:
        counts[outcome.status] = counts.get(outcome.status, 0) + 1
    lines = ["rlkit bench: " + ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))]
    failed = [o for o in outcomes if o.status == "failed"]
    if failed:
        lines.append(f"{len(failed)} failed run(s):")
        lines += [f"  {o.run.label}: {o.message}\n    log: {o.run.log_path}" for o in failed]
    if any(o.status in ("stopped", "not started") for o in outcomes):
        lines.append("run the same command again to resume the stopped runs and start the others.")
    return lines


# --- the dry run: estimate and disk ------------------------------------------------------------------
@dataclass(frozen=True)
class Speed:
    steps_per_second: float  # of one run
    source: str
    per_run: bool  # measured on runs of this bench (already per run), not the machine-wide table


def speed_table() -> tuple[dict[str, Speed], str]:
    """rlkit/data/atari_steps_per_second.toml: steps/s per agent of one run with the machine to itself."""
    data = tomllib.loads((resources.files("rlkit.data") / "atari_steps_per_second.toml").read_text())
    return {name: Speed(float(row["steps_per_second"]), row["source"], False)
            for name, row in data["agents"].items()}, data.get("machine", "")


def agent_speeds(plan: BenchPlan) -> dict[str, Speed]:
    """Per agent: the median steps/s of its runs in --out that have a summary (they ran as this bench
    runs them), else the shipped table's figure."""
    table, machine = speed_table()
    speeds = {}
    for agent in plan.agents:
        measured = [s["sps"] for run in plan.runs if run.agent == agent
                    if (s := _read_json(run.run_dir / "summary.json")) and s.get("sps")]
        if measured:
            speeds[agent] = Speed(statistics.median(measured), f"median of {len(measured)} run(s) in {plan.out}", True)
        elif agent in table:
            t = table[agent]
            speeds[agent] = Speed(t.steps_per_second, f"{t.source} [{machine}]", False)
    return speeds


def estimate_seconds(plan: BenchPlan, speeds: dict[str, Speed]) -> tuple[float, list[BenchRun]]:
    """Wall clock of the runs left to do (training only) and the runs with no known speed.

    Model: a table speed is one run's with the whole machine; P parallel runs each get 1/P of it (no
    gain or loss from running side by side is assumed). Runs go to the first free slot, longest
    first, and the estimate is when the last slot ends."""
    durations, unknown = [], []
    for run in plan.runs:
        state, _ = run_state(run)
        if state in (FINISHED, CONFLICT):
            continue
        left = run.total_steps - (steps_done(run) if state == RESUME else 0)
        speed = speeds.get(run.agent)
        if speed is None:
            unknown.append(run)
            continue
        per_run = speed.steps_per_second if speed.per_run else speed.steps_per_second / plan.parallel
        durations.append(max(left, 0) / per_run)
    slots = [0.0] * plan.parallel
    for duration in sorted(durations, reverse=True):
        slots[slots.index(min(slots))] += duration
    return max(slots), unknown


@dataclass(frozen=True)
class ReplayFootprint:
    """Bytes a run's replay buffer puts on disk: the frames file in the run folder and the arrays
    each checkpoint carries (0 with save_replay=False: it then lives in memory only)."""

    agent: str
    transitions: int
    frames_file: int  # replay/replay_frames.npy
    checkpoint: int  # actions, rewards, flags (+ the priority tree) in checkpoint.pt
    note: str

    @property
    def total(self) -> int:
        return self.frames_file + self.checkpoint


def replay_footprint(run: BenchRun, plan: BenchPlan) -> ReplayFootprint | None:
    """The replay's disk for one run, from the config it will train with (the preset with the flags
    after -- laid over it), or None for an agent without replay. How rlkit stores it
    (rlkit/buffers/replay.py): each env owns ``buffer_size // num_envs`` slots; a slot holds one
    84x84 uint8 frame on Atari (the newest of the stack: stacks are rebuilt from neighbouring
    slots), or one float32 observation elsewhere; plus its action, raw reward (float32),
    terminated (bool), n-step offset (int16) and valid flag (bool); prioritized replay adds a sum
    tree of 2 x next-power-of-two float64 nodes."""
    config = run_config(run, plan)
    if config is None or not hasattr(config, "buffer_size"):
        return None
    envs = config.num_envs
    slots = envs * (config.buffer_size // envs)
    if parse_atari_id(run.env_id) is not None:
        frame_bytes, action_bytes = ATARI_FRAME_SHAPE[0] * ATARI_FRAME_SHAPE[1], 8
    else:
        frame_bytes, action_bytes = _obs_action_bytes(run.env_id)
    small = slots * (action_bytes + 4 + 1 + 2 + 1)
    if getattr(config, "prioritized", False):
        small += 2 * (1 << max(0, (slots - 1).bit_length())) * 8
    note = f"{slots:,} transitions x {frame_bytes:,} B"
    if not config.save_replay:
        return ReplayFootprint(run.agent, slots, 0, 0, note + " in memory only (save_replay false)")
    return ReplayFootprint(run.agent, slots, slots * frame_bytes + 128, small, note)


def run_config(run: BenchRun, plan: BenchPlan) -> Any:
    """The config a run will train with (preset, then the flags after --), built without torch."""
    from rlkit.config import EnvConfig, config_from_kwargs, config_kwargs_from_args
    from rlkit.presets import apply_preset

    class_name, config_class = _agent_class_settings(run.agent)
    if not issubclass(config_class, EnvConfig):
        return None
    given, _ = _train_flags(run.agent).parse_known_args(plan.extra_args)
    flags = config_kwargs_from_args(given, config_class)
    _, merged = apply_preset(class_name, run.env_id, plan.preset, flags)
    return config_from_kwargs(config_class, {**merged, "seed": run.seed})


def _obs_action_bytes(env_id: str) -> tuple[int, int]:
    import gymnasium as gym
    import numpy as np

    env = gym.make(env_id)
    try:
        obs, action = env.observation_space, env.action_space
        obs_bytes = int(np.prod(obs.shape or (1,))) * (1 if obs.dtype == np.uint8 else 4)
        action_bytes = 8 if isinstance(action, gym.spaces.Discrete) else int(np.prod(action.shape or (1,))) * 4
        return obs_bytes, action_bytes
    finally:
        env.close()


def _size(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1000
    return f"{n} B"


def dry_run_lines(plan: BenchPlan) -> list[str]:
    """What ``--dry-run`` prints: the grid with each run's state, the estimated wall clock and the
    disk the replay buffers will need. Nothing is started or written."""
    lines = []
    name = f"suite {plan.suite}: " if plan.suite else ""
    steps = sorted({r.total_steps for r in plan.runs})
    budget = ", ".join(f"{s:,}" for s in steps)
    atari = any(parse_atari_id(r.env_id) for r in plan.runs)
    lines.append(f"rlkit bench (dry run) {name}{len(plan.agents)} agent(s) x {len(plan.games)} game(s) x "
                 f"{len(plan.seeds)} seed(s) = {len(plan.runs)} runs of {budget} steps"
                 + (f" ({', '.join(f'{s * FRAMES_PER_STEP:,}' for s in steps)} Atari frames)" if atari else ""))
    lines.append(f"out: {plan.out}   preset: {plan.preset}   evaluation: {plan.eval_episodes} episodes per run"
                 + (f"   flags for every run: {' '.join(plan.extra_args)}" if plan.extra_args else ""))
    lines.append(f"threads: {plan.parallel} run(s) at a time on {plan.cores} core(s): {plan.threads} torch thread(s) each "
                 f"(cores // parallel, at least 1)"
                 + (", pinned to their own cores" if _core_slots(plan)[0] is not None else
                    "; more runs than cores: they share cores (oversubscribed)"))
    lines.append("")
    rows = [("agent", "game", "env", "seed", "steps", "state", "run folder")]
    counts: dict[str, int] = {}
    for run in plan.runs:
        state, why = run_state(run)
        counts[state] = counts.get(state, 0) + 1
        rows.append((run.agent, run.game, run.env_id, str(run.seed), f"{run.total_steps:,}",
                     state + (f" ({why})" if why and state != CONFLICT else ""), str(run.run_dir)))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    lines += ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)) + "  " + row[-1] for row in rows]
    lines.append("runs: " + ", ".join(f"{n} {state}" for state, n in sorted(counts.items())))
    conflicts = [why for run in plan.runs for state, why in [run_state(run)] if state == CONFLICT]
    lines += [f"conflict: {why}" for why in conflicts]

    speeds = agent_speeds(plan)
    seconds, unknown = estimate_seconds(plan, speeds)
    lines.append("")
    lines.append(f"estimated wall clock: {_duration(seconds)} of training for the runs left"
                 + (f" (not counting {len(unknown)} run(s) of agents with no known speed)" if unknown else "")
                 + "; the end-of-run evaluations come on top")
    for agent in plan.agents:
        speed = speeds.get(agent)
        if speed is None:
            lines.append(f"  {agent}: no measured speed (not in rlkit/data/atari_steps_per_second.toml, no runs in --out)")
            continue
        share = "" if speed.per_run else f", {speed.steps_per_second / plan.parallel:,.0f} per run at --parallel {plan.parallel}"
        lines.append(f"  {agent}: {speed.steps_per_second:,.1f} steps/s{share}; source: {speed.source}")

    lines.append("")
    footprints = [(run, replay_footprint(run, plan)) for run in plan.runs]
    with_replay = [(run, fp) for run, fp in footprints if fp is not None]
    if not with_replay:
        lines.append("replay buffers: none (no agent of this grid keeps one)")
        return lines
    total = sum(fp.total for _, fp in with_replay)
    lines.append(f"replay buffers on disk: {_size(total)} for {len(with_replay)} run(s)")
    seen = set()
    for run, fp in with_replay:
        key = (fp.agent, fp.transitions, fp.frames_file, fp.checkpoint, parse_atari_id(run.env_id) is not None)
        if key in seen:
            continue
        seen.add(key)
        n = sum(1 for r, f in with_replay if (f.agent, f.transitions, f.frames_file, f.checkpoint,
                                               parse_atari_id(r.env_id) is not None) == key)
        lines.append(f"  {fp.agent}: {fp.note}: {_size(fp.frames_file)} in replay/replay_frames.npy + {_size(fp.checkpoint)} "
                     f"in each checkpoint, per run; x {n} run(s) = {_size(n * fp.total)}")
    lines.append("  (a checkpoint is written beside the old one, then renamed: briefly twice its size; the frames "
                 "file is memory-mapped, so it takes as much page cache as the machine can spare)")
    return lines

