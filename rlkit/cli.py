"""``rlkit train | eval | collect | plot | list``: the research API from a shell. Every config field is a flag."""
from __future__ import annotations

import argparse
import difflib
import importlib
import json
import sys
from pathlib import Path
from typing import Any, Callable

from rlkit.config import add_config_arguments, config_from_kwargs, config_kwargs_from_args
from rlkit.errors import ConfigError, RlkitError, TrainingInterrupted


def _registry() -> dict:
    from agents import REGISTRY

    return REGISTRY


def _agent_class(name: str) -> type:
    """An agent by its CLI name (``ppo2``), or any agent class by import path (``package.module:Class``):
    a family outside ``agents`` trains through the CLI without being registered."""
    if ":" in name:
        module_name, _, class_name = name.partition(":")
        try:
            cls = getattr(importlib.import_module(module_name), class_name)
        except (ImportError, AttributeError) as exc:
            raise ConfigError(f"cannot import agent {name!r} ({exc}); pass package.module:ClassName of an Agent subclass.") from exc
        from rlkit.agent import Agent

        if not (isinstance(cls, type) and issubclass(cls, Agent)):
            raise ConfigError(f"{name!r} is not an rlkit Agent subclass.")
        return cls
    return _registry()[_catalog_name(name)]


def _catalog_name(name: str) -> str:
    from agents import CATALOG

    if name.lower() not in CATALOG:
        close = difflib.get_close_matches(name.lower(), list(CATALOG), n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise ConfigError(f"unknown agent {name!r}; {hint}choose one of {', '.join(CATALOG)}, or pass package.module:ClassName.")
    return name.lower()


def _agent_settings(name: str) -> tuple[str, type]:
    """The agent's class name and config class; for rlkit's own agents without importing them (or
    torch), so that ``--help`` starts fast."""
    if ":" in name:
        cls = _agent_class(name)
        return cls.__name__, cls.config_class
    import agents

    class_name = agents.CATALOG[_catalog_name(name)][1]
    return class_name, getattr(agents, f"{class_name}Config")


def _add_train_arguments(parser: argparse.ArgumentParser, steps_envs: bool, step_unit: str) -> None:
    if steps_envs:
        parser.add_argument("--env", help="Gymnasium id, e.g. CartPole-v1 or ALE/Pong-v5 (taken from the run with --resume)")
        parser.add_argument("--preset", default="auto",
                            help="tuned settings for the env (`rlkit presets` lists them): a name such as zoo, "
                                 "auto (the env's preset if it has one) or none (the agent's defaults); flags given "
                                 "override it. Default: auto")
    parser.add_argument("--total-steps", type=int, help=f"steps of training ({step_unit}); default: the preset's budget")
    parser.add_argument("--log-dir", help="run folder (default runs/<agent>-<env>-s<seed>)")
    parser.add_argument("--resume", action="store_true", help="continue the run in --log-dir from its checkpoint")
    parser.add_argument("--overwrite", action="store_true", help="replace the run already in --log-dir")
    parser.add_argument("--checkpoint-freq", type=int, default=None, help="steps between checkpoints (default: a tenth of the run)")
    parser.add_argument("--eval-freq", type=int, default=0, help="steps between evaluations (default 0: only at the end)")
    parser.add_argument("--eval-episodes", type=int, default=20, help="episodes of each evaluation (default 20; 0: none)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar (the summary is still printed)")
    parser.add_argument("--quiet", action="store_true", help="print nothing but errors (for scripts)")


def _train(argv: list[str]) -> int:
    from rlkit.config import EnvConfig
    from rlkit.presets import choose_preset

    if not argv or argv[0].startswith("-"):
        from agents import CATALOG

        raise ConfigError(f"usage: rlkit train AGENT --env ENV_ID [flags]; AGENT is one of {', '.join(CATALOG)}.")
    name = argv[0]
    class_name, config_class = _agent_settings(name)
    steps_envs = issubclass(config_class, EnvConfig)
    # --env and --preset first: the help then shows the preset's values as the defaults
    early = argparse.ArgumentParser(add_help=False)
    early.add_argument("--env")
    early.add_argument("--preset", default="auto")
    early.add_argument("--resume", action="store_true")
    known, _ = early.parse_known_args(argv[1:])
    preset = None
    if steps_envs and known.env and not known.resume:
        preset = choose_preset(class_name, known.env, known.preset)
    parser = argparse.ArgumentParser(prog=f"rlkit train {name}", allow_abbrev=False,
                                     description=f"Train {class_name}." + (" Defaults marked (preset) come from "
                                                 f"the {preset.name!r} preset for {known.env}." if preset else ""))
    _add_train_arguments(parser, steps_envs, config_class.step_unit)
    add_config_arguments(parser, config_class, defaults=preset.config if preset else None)
    args, unknown = parser.parse_known_args(argv[1:])
    if unknown:
        flags = [a[2:].replace("-", "_") for a in unknown if a.startswith("--")]
        config_from_kwargs(config_class, {flag: None for flag in flags})  # raises with close matches
        raise ConfigError(f"unrecognised arguments: {' '.join(unknown)}")
    config = config_kwargs_from_args(args, config_class)
    say = (lambda *a, **k: None) if args.quiet else print  # noqa: E731
    cls = _agent_class(name)
    if args.resume:
        config, env, total_steps, log_dir = _resume_settings(args, cls, config)
    else:
        env, total_steps = getattr(args, "env", None), args.total_steps
        log_dir = Path(args.log_dir) if args.log_dir else None
        if steps_envs and not env:
            raise ConfigError("--env is required, e.g. --env CartPole-v1")
        if steps_envs:
            _announce_preset(say, class_name, env, preset, args.preset)
            config["preset"] = preset.name if preset else None
            if total_steps is None:  # not `or`: --total-steps 0 is a mistake to report, not "the preset's budget"
                total_steps = preset.total_steps if preset else None
    agent = cls(env, **config) if steps_envs else cls(**config)
    if total_steps is None:  # an agent's own budget (SeqGAN: its schedule's epochs), else none to take
        try:
            total_steps = agent.default_total_steps()
        except ConfigError:
            agent.close()
            raise ConfigError("--total-steps is required, e.g. --total-steps 100000") from None
    if log_dir is None:
        label = f"-{env.replace('/', '-')}" if isinstance(env, str) else ""
        log_dir = Path("runs") / f"{cls.__name__.lower()}{label}-s{agent.config.seed}"
    try:
        agent.learn(
            total_steps, log_dir, resume=args.resume, overwrite=args.overwrite, checkpoint_freq=args.checkpoint_freq,
            eval_freq=args.eval_freq, eval_episodes=args.eval_episodes, progress=not (args.no_progress or args.quiet),
        )
    finally:
        agent.close()
    _print_outputs(say, agent.last_summary, log_dir)
    return 0


def _resume_settings(args: argparse.Namespace, cls: type, config: dict) -> tuple:
    """Settings of a run to continue: the saved ones, with the flags given laid over them."""
    from rlkit.agent import without_retired_fields
    from rlkit.config import EnvConfig
    from rlkit.trainer import read_run_settings

    if args.log_dir is None:
        raise ConfigError("--resume needs the --log-dir of the run to continue.")
    log_dir = Path(args.log_dir)
    if not ((log_dir / "checkpoint.pt").exists() or (log_dir / "config.json").exists()):
        raise ConfigError(f"{log_dir} holds no run to resume (no checkpoint.pt or config.json): a run stopped "
                          "before it wrote anything has nothing to continue; run its command without --resume.")
    saved = read_run_settings(log_dir)
    if saved["agent"] != cls.__name__:
        raise ConfigError(f"{log_dir} holds a {saved['agent']} run, not {cls.__name__}; resume it with that agent.")
    # The run's own settings hold its preset already. The command that started it may be run again
    # with --resume added; a --preset naming another preset than the run's is refused.
    started_with = (saved["train"].get("preset") or {}).get("name", "none")
    if getattr(args, "preset", "auto") not in ("auto", started_with):
        raise ConfigError(f"{log_dir} was started with preset {started_with!r}, not {args.preset!r}; a resumed run keeps "
                          "the settings it was started with (flags given beside --resume still override them).")
    config = {**without_retired_fields(cls.config_class, saved["config"]), **config}
    env = getattr(args, "env", None) or saved["env"]
    total_steps = saved["train"].get("total_steps") if args.total_steps is None else args.total_steps
    if total_steps is None:
        raise ConfigError("--resume could not find the run's total steps; pass --total-steps.")
    if issubclass(cls.config_class, EnvConfig) and env is None:
        raise ConfigError(f"{log_dir} was trained on an env instance or factory; pass --env.")
    return config, env, total_steps, log_dir


def _announce_preset(say: Callable[..., None], agent: str, env: str, preset: Any, asked: str) -> None:
    """One line on where the settings come from."""
    if preset is not None:
        say(f"preset {preset.name!r} for {agent} on {env}: {preset.source}; {preset.total_steps:,} steps unless "
            "--total-steps; flags given override it (--preset none: the agent's defaults)", file=sys.stderr)
    elif asked == "auto":
        say(f"no preset for {agent} on {env}: {agent}'s defaults (`rlkit presets` lists the tuned settings)",
            file=sys.stderr)


def _print_outputs(say: Callable[..., None], summary: dict, log_dir: Path) -> None:
    """Every file the run wrote, and its evaluation."""
    say(f"\nrun folder: {log_dir}")
    written = [log_dir / item for item in ("checkpoint.pt", "config.json", "summary.json", "progress.csv",
                                           "learning_curve.png", "replay/replay_frames.npy")]
    for path in [p for p in written if p.exists()] + sorted(log_dir.glob("events.out.tfevents.*")):
        say(f"  {path}")
    if "eval_mean_return" in summary:
        say(f"evaluation: {summary['eval_mean_return']:.2f} +/- {summary['eval_std_return']:.2f} "
            f"over {summary['eval_episodes']} episodes")
    say(f"TensorBoard: tensorboard --logdir {log_dir.parent}")


def _eval(argv: list[str]) -> int:
    from rlkit.evaluation import evaluate

    parser = argparse.ArgumentParser(prog="rlkit eval", description="Evaluate a saved agent.")
    parser.add_argument("path", help="run folder or checkpoint .pt")
    parser.add_argument("--env", help="env id (default: the one it was trained on)")
    parser.add_argument("--episodes", type=int, default=20)
    parser.add_argument("--seed", type=int, default=123)
    parser.add_argument("--stochastic", action="store_true", help="sample actions instead of taking the mode")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--agent", help="package.module:ClassName of an agent from outside rlkit's own")
    parser.add_argument("--video", action="store_true",
                        help="also record evaluation episodes as a video of the env's frames (MP4; GIF without ffmpeg)")
    parser.add_argument("--video-episodes", type=int, default=1, help="episodes in the video (default 1)")
    parser.add_argument("--video-path", help="where to write it (default RUN/videos/eval-seed<seed>.mp4)")
    args = parser.parse_args(argv)
    if args.video_episodes < 1:
        raise ConfigError(f"--video-episodes must be >= 1, got {args.video_episodes}.")
    agent = _saved_agent(args.path, args.agent, args.env, args.device)
    result: dict[str, Any] = {"agent": type(agent).__name__, "env": str(agent.env_spec), "episodes": args.episodes}
    try:
        if args.episodes > 0:
            mean, std = evaluate(agent, episodes=args.episodes, seed=args.seed, deterministic=not args.stochastic)
            result.update(mean_return=mean, std_return=std)
        if args.video:
            from rlkit.video import record_video

            run = Path(args.path) if Path(args.path).is_dir() else Path(args.path).parent
            target = Path(args.video_path) if args.video_path else run / "videos" / f"eval-seed{args.seed}.mp4"
            written, returns = record_video(agent, target, env=args.env, episodes=args.video_episodes,
                                            seed=args.seed, deterministic=not args.stochastic)
            result.update(video=str(written), video_returns=returns)
    finally:
        agent.close()
    print(json.dumps(result))
    return 0


def _saved_agent(path: str, agent: str | None, env: str | None, device: str) -> Any:
    """A saved agent from a run folder or checkpoint, to act (its replay left out)."""
    from rlkit.experts import load_saved_agent

    return load_saved_agent(path, _agent_class(agent) if agent else None, env, device)


def _sample(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="rlkit sample", description="Print sequences a trained sequence "
                                     "generator (SeqGAN) samples: decoded text with a vocabulary, token ids otherwise.")
    parser.add_argument("path", help="run folder or checkpoint .pt")
    parser.add_argument("-n", type=int, default=10, help="sequences to print (default 10)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--agent", help="package.module:ClassName of an agent from outside rlkit's own")
    args = parser.parse_args(argv)
    if args.n < 1:
        raise ConfigError(f"-n must be >= 1, got {args.n}")
    agent = _saved_agent(args.path, args.agent, None, "cpu")
    if not hasattr(agent, "sample") or not hasattr(agent, "decode"):
        raise ConfigError(f"{args.path} holds a {type(agent).__name__}, which does not generate sequences; "
                          "`rlkit sample` takes a sequence generator's run (e.g. one of `rlkit train seqgan`).")
    for line in agent.decode(agent.sample(args.n, seed=args.seed)):
        print(line)
    return 0


def _collect(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="rlkit collect", description="Record whole episodes of an expert as demonstrations (.npz, loadable "
        "with rlkit.buffers.demonstrations.Demonstrations.load): a saved agent, or a function with --expert.")
    parser.add_argument("path", nargs="?", help="run folder or checkpoint .pt of the expert")
    parser.add_argument("--episodes", type=int, required=True, help="whole episodes to record")
    parser.add_argument("-o", "--out", help="the .npz to write (replaced atomically if it exists)")
    parser.add_argument("--env", help="env id (default: the one the agent was trained on; required with --expert)")
    parser.add_argument("--expert", help="package.module:function from a batch of observations to a batch of "
                                         "actions, instead of a saved agent")
    parser.add_argument("--agent", help="package.module:ClassName of a saved agent from outside rlkit's own")
    parser.add_argument("--seed", type=int, default=321,
                        help="seed of the first env, the others seed+1, ... (default 321: apart from training's "
                             "and rlkit eval's)")
    parser.add_argument("--num-envs", type=int, default=None,
                        help="envs stepped together, each recording an even share (default: min(episodes, 8))")
    parser.add_argument("--stochastic", action="store_true", help="sample the agent's actions instead of taking the mode")
    parser.add_argument("--device", default="auto", help="where the agent runs (default auto: CUDA when available)")
    parser.add_argument("--minari", metavar="DATASET_ID",
                        help="also write a local Minari dataset, e.g. rlkit/cartpole/expert-v0 (pip install rlkit[minari])")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar (the summary is still printed)")
    parser.add_argument("--quiet", action="store_true", help="print nothing but errors (for scripts)")
    args = parser.parse_args(argv)
    if args.episodes < 1:
        raise ConfigError(f"--episodes must be >= 1, got {args.episodes}.")
    if args.num_envs is not None and args.num_envs < 1:
        raise ConfigError(f"--num-envs must be >= 1, got {args.num_envs}.")
    if args.out is None and args.minari is None:
        raise ConfigError("say where to write the demonstrations: -o demos.npz (and/or --minari DATASET_ID).")
    if (args.path is None) == (args.expert is None):
        raise ConfigError("pass either a run folder or checkpoint (rlkit collect runs/NAME --episodes N -o demos.npz) "
                          "or --expert package.module:function --env ID, not both.")
    if args.expert is not None and args.env is None:
        raise ConfigError("--expert needs the env to act in: --env ID, e.g. --env CartPole-v1.")
    if args.expert is not None and (args.agent is not None or args.stochastic):
        raise ConfigError("--agent and --stochastic are for a saved agent; an --expert function chooses its actions "
                          "itself: drop them.")
    if args.minari is not None:
        from rlkit.buffers.minari_io import check_dataset_id

        check_dataset_id(args.minari)  # before the episodes are recorded, not after
    from rlkit.buffers.demonstrations import collect_demonstrations

    say = (lambda *a, **k: None) if args.quiet else print  # noqa: E731
    num_envs = args.num_envs or min(args.episodes, 8)
    agent = None
    if args.expert is not None:
        from rlkit.experts import expert_function

        expert, env, protocol, source = expert_function(args.expert), args.env, None, args.expert
    else:
        expert = agent = _saved_agent(args.path, args.agent, args.env, args.device)
        env, source = args.env or agent.env_spec, args.path
        protocol = getattr(agent.config, "atari_protocol", "") or None
        if env is None:
            agent.close()
            raise ConfigError(f"{type(agent).__name__} acts without an env of its own; pass --env ID to record it in one.")
    bar = _EpisodeBar(args.episodes, enabled=not (args.quiet or args.no_progress))
    try:
        demos = collect_demonstrations(expert, env, args.episodes, seed=args.seed, num_envs=num_envs,
                                       deterministic=not args.stochastic, atari_protocol=protocol,
                                       on_episode=bar.episode)
    except KeyboardInterrupt:
        bar.close(keep=False)
        print(f"rlkit: collection stopped after {bar.done} of {args.episodes} episodes; nothing was written.",
              file=sys.stderr)
        return 130
    except BaseException:
        bar.close(keep=False)  # the error is the last word, not a bar at 0%
        raise
    finally:
        bar.close()
        if agent is not None:
            agent.close()  # the saved agent's own envs
    demos.source = str(source)
    returns = demos.episode_returns
    say(f"expert return: {returns.mean():.2f} +/- {returns.std():.2f} over {demos.num_episodes} episodes "
        f"({len(demos):,} steps, {'stochastic' if args.stochastic else 'deterministic'} actions)")
    if args.out is not None:
        say(f"demonstrations: {demos.save(args.out)}")
    if args.minari is not None:
        from rlkit.buffers.minari_io import to_minari

        dataset = to_minari(demos, args.minari, env=env if isinstance(env, str) else None)
        say(f"Minari dataset: {args.minari} at {dataset}")
    return 0


class _EpisodeBar:
    """A tqdm bar over the episodes to record: episodes done, the last return and the mean so far."""

    def __init__(self, episodes: int, enabled: bool):
        self.done, self.returns = 0, []
        self.bar = None
        if enabled:
            from tqdm import tqdm

            self.bar = tqdm(total=episodes, unit="episode", desc="collect", file=sys.stderr, dynamic_ncols=True)

    def episode(self, done: int, episode_return: float) -> None:
        self.done = done
        self.returns.append(episode_return)
        if self.bar is not None:
            recent = self.returns[-10:]
            self.bar.set_postfix_str(f"return {episode_return:.1f}, mean of last {len(recent)} "
                                     f"{sum(recent) / len(recent):.1f}", refresh=False)
            self.bar.update(done - self.bar.n)

    def close(self, keep: bool = True) -> None:
        """Close the bar, leaving its last line (``keep``) or erasing it."""
        if self.bar is not None:
            self.bar.leave = keep
            self.bar.close()
            self.bar = None


def _plot(argv: list[str]) -> int:
    from rlkit.plotting import GROUPS, plot_runs, read_curve

    parser = argparse.ArgumentParser(prog="rlkit plot", description="Learning curves of runs (from progress.csv): one "
                                     "panel per env, seeds of one setting as their mean with a band.")
    parser.add_argument("runs", nargs="+", help="run folders (folders without data are skipped and named)")
    parser.add_argument("-o", "--out", default="learning_curves.png")
    parser.add_argument("--title")
    parser.add_argument("--group", choices=GROUPS, default="env", help="one panel per env (default), per agent, or one")
    args = parser.parse_args(argv)
    if not any(read_curve(r) is not None for r in args.runs):
        raise ConfigError(f"none of {', '.join(args.runs)} has a progress.csv with an episode return yet; pass run "
                          "folders written by rlkit train.")
    # -o may name a folder that does not exist yet (figures/curves.png), as --log-dir may
    out = Path(args.out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create the folder {out.parent} for -o {out} ({exc.strerror}); pass -o in a writable folder.") from exc
    written, skipped = plot_runs(args.runs, out, args.title, args.group)
    for run in skipped:
        print(f"skipped {run}: no progress.csv with an episode return", file=sys.stderr)
    print(written)
    return 0


def _bench(argv: list[str]) -> int:
    """A grid of agents x games x seeds, each an ordinary run (rlkit/bench.py)."""
    from rlkit import bench

    extra: list[str] = []
    if "--" in argv:  # everything after -- goes to every run's `rlkit train`
        split = argv.index("--")
        argv, extra = argv[:split], argv[split + 1:]
    parser = argparse.ArgumentParser(
        prog="rlkit bench", description="Train a grid of agents x games x seeds, each an ordinary rlkit run in "
        "OUT/AGENT/GAME/seedK, in subprocesses; finished runs are skipped and interrupted ones resumed, so running the "
        "same command again continues the grid. Flags after -- go to every run (e.g. -- --num-envs 4).")
    parser.add_argument("--suite", help=f"a suite of games: {', '.join(bench.available_suites())}, or a .toml file")
    parser.add_argument("--games", help="games instead of a suite: Pong,Breakout (ALE names) or Gymnasium ids")
    parser.add_argument("--agents", help="agents, e.g. ppo2,dqn (default: the suite's)")
    parser.add_argument("--seeds", help="seeds: 0,1,2 or a range 0-4 (default: the suite's, else 0)")
    parser.add_argument("--total-steps", type=int, help="agent steps per run (Atari frames = 4x); default: each "
                                                          "agent's preset budget")
    parser.add_argument("--out", default="runs/bench", help="folder of the grid's runs (default runs/bench)")
    parser.add_argument("--preset", help="preset of every run (default auto: the agent's atari preset on Atari)")
    parser.add_argument("--atari-protocol", choices=("v5", "noframeskip"),
                        help="v5: ALE/<Game>-v5, sticky actions (default); noframeskip: <Game>NoFrameskip-v4, none")
    parser.add_argument("--eval-episodes", type=int, help="episodes of each run's final evaluation (default 10)")
    parser.add_argument("--parallel", type=int, default=1,
                        help="runs at once (default 1); each gets cores // parallel torch threads, at least 1")
    parser.add_argument("--ray-address", help="run each run as a Ray task on this cluster (HEAD:6379, or 'local'); "
                                              "--out must be on a file system every node sees")
    parser.add_argument("--dry-run", action="store_true",
                        help="print the grid, the estimated wall clock and the replay buffers' disk; start nothing")
    args = parser.parse_args(argv)
    args.extra = extra
    plan = bench.plan_from_args(args)
    if args.dry_run:
        print("\n".join(bench.dry_run_lines(plan)))
        return 0
    outcomes = bench.run_grid(plan, ray_address=args.ray_address)
    print("\n".join(bench.summary_lines(outcomes)))
    print(f"report: rlkit report {plan.out}")
    if any(o.status in ("stopped", "not started") for o in outcomes):
        return 128 + 15
    return 1 if any(o.status == "failed" for o in outcomes) else 0


def _report(argv: list[str]) -> int:
    from rlkit.report import write_report

    parser = argparse.ArgumentParser(
        prog="rlkit report", description="A Markdown and an HTML page for a bench folder: learning curves per game "
        "(frames on x), final scores, human-normalised scores, IQM / median / mean with stratified-bootstrap 95%% "
        "confidence intervals and performance profiles (rliable), published scores beside ours, and videos.")
    parser.add_argument("bench_dir", help="the --out folder of rlkit bench")
    parser.add_argument("-o", "--out", help="folder of the report (default BENCH_DIR/report)")
    parser.add_argument("--reps", type=int, default=50_000, help="bootstrap resamples (default 50000, rliable's)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the bootstrap (default 0)")
    parser.add_argument("--record-videos", action="store_true",
                        help="record one evaluation episode per game where none is recorded yet (the best run's)")
    args = parser.parse_args(argv)
    written = write_report(args.bench_dir, args.out, reps=args.reps, seed=args.seed, record_videos=args.record_videos)
    for path in written:
        print(path)
    return 0


def _list(argv: list[str]) -> int:
    """The agents with what each is; imports no agent (and so no torch)."""
    from agents import CATALOG

    width = max(map(len, CATALOG))
    for name, (_, cls, about) in CATALOG.items():
        print(f"{name:<{width}}  {cls}: {about}")
    return 0


def _presets(argv: list[str]) -> int:
    """The presets, one line each; with an agent and --env, that preset's settings as flags. Imports no torch."""
    from rlkit.config import flag_text
    from rlkit.presets import all_presets, choose_preset

    parser = argparse.ArgumentParser(prog="rlkit presets", description="Tuned settings per agent and env, with "
                                     "their budget and source. Use one with rlkit train AGENT --env ENV --preset NAME.")
    parser.add_argument("agent", nargs="?", help="only this agent's presets")
    parser.add_argument("--env", help="with AGENT: the settings of its preset for this env id")
    parser.add_argument("--preset", default="auto", help="with AGENT and --env: which preset (default: auto)")
    args = parser.parse_args(argv)
    if args.env and not args.agent:
        raise ConfigError("--env shows one agent's preset: pass the agent too, e.g. rlkit presets dqn --env CartPole-v1")
    agent = _agent_settings(args.agent)[0] if args.agent else None
    if args.env:
        preset = choose_preset(agent, args.env, args.preset)
        if preset is None:
            print(f"no preset for {agent} on {args.env}; `rlkit presets {args.agent}` lists its presets")
            return 0
        print(f"{agent} {preset.name!r} on {args.env}: {preset.total_steps:,} steps; {preset.source}")
        if preset.notes:
            print(f"note: {preset.notes}")
        print(" ".join(f"--{k.replace('_', '-')} {flag_text(v)}" for k, v in preset.config.items()))
        return 0
    rows = [(p.agent, p.env, p.name, f"{p.total_steps:,}", p.source) for p in all_presets() if agent in (None, p.agent)]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for row in rows:
        print("  ".join(f"{cell:<{w}}" for cell, w in zip(row, widths)) + "  " + row[4])
    print("\n'atari' covers every Atari id (ALE/<Game>-v5, <Game>NoFrameskip-v4); the CLI takes the env's preset "
          "unless --preset none.")
    return 0


COMMANDS = {"train": _train, "eval": _eval, "collect": _collect, "sample": _sample, "plot": _plot, "list": _list,
            "presets": _presets, "bench": _bench, "report": _report}


def _usage() -> str:
    from agents import CATALOG

    return ("usage: rlkit {train,eval,collect,sample,plot,bench,report,list,presets} ... | rlkit --version\n"
            "  rlkit train ppo2 --env CartPole-v1 --seed 0 [--total-steps 100000] [--learning-rate 3e-4 ...]\n"
            "  rlkit train ppo2 --help                  every flag of an agent, what it does, its default\n"
            "  rlkit presets [ppo2 [--env CartPole-v1]] tuned settings per agent and env, with their sources\n"
            "  rlkit eval runs/<name> [--episodes 20]\n"
            "  rlkit collect runs/<name> --episodes 20 -o demos.npz   record an expert's episodes as demonstrations\n"
            "  rlkit train seqgan --oracle seeded        SeqGAN on an oracle LSTM's sequences (or --text-file FILE)\n"
            "  rlkit sample runs/<name> -n 10           sequences a trained SeqGAN generates\n"
            "  rlkit plot runs/* -o curves.png\n"
            "  rlkit bench --suite atari5 --agents ppo2,dqn --seeds 0,1 --total-steps 100000 [--dry-run]\n"
            "  rlkit report runs/bench                  curves, scores, IQM with CIs, videos: Markdown + HTML\n"
            "  rlkit list                               the agents, one line each\n"
            f"agents: {', '.join(CATALOG)}")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(_usage(), file=sys.stdout if argv else sys.stderr)
        return 0 if argv else 2
    if argv[0] == "--version":
        from rlkit import __version__

        print(f"rlkit {__version__}")
        return 0
    if argv[0] not in COMMANDS:
        close = difflib.get_close_matches(argv[0], list(COMMANDS), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        print(f"rlkit: error: unknown command {argv[0]!r}{hint}\n{_usage()}", file=sys.stderr)
        return 2
    try:
        return COMMANDS[argv[0]](argv[1:])
    except RlkitError as exc:
        print(f"rlkit: error: {exc}", file=sys.stderr)
        return 2
    except TrainingInterrupted as exc:
        print(f"rlkit: {exc}", file=sys.stderr)
        return 128 + exc.signal


if __name__ == "__main__":
    sys.exit(main())
