"""``rlkit train | eval | plot | list``: the research API from a shell. Every config field is a flag."""
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


def _add_train_arguments(parser: argparse.ArgumentParser, steps_envs: bool) -> None:
    if steps_envs:
        parser.add_argument("--env", help="Gymnasium id, e.g. CartPole-v1 or ALE/Pong-v5 (taken from the run with --resume)")
        parser.add_argument("--preset", default="auto",
                            help="tuned settings for the env (`rlkit presets` lists them): a name such as zoo, "
                                 "auto (the env's preset if it has one) or none (the agent's defaults); flags given "
                                 "override it. Default: auto")
    parser.add_argument("--total-steps", type=int, help="steps of training (env steps over all envs); default: the preset's budget")
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
    _add_train_arguments(parser, steps_envs)
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
        config, env, total_steps, log_dir = _resume_settings(args, cls, config, argv)
    else:
        env, total_steps = getattr(args, "env", None), args.total_steps
        log_dir = Path(args.log_dir) if args.log_dir else None
        if steps_envs and not env:
            raise ConfigError("--env is required, e.g. --env CartPole-v1")
        if steps_envs:
            _announce_preset(say, class_name, env, preset, args.preset)
            config["preset"] = preset.name if preset else None
            total_steps = total_steps or (preset.total_steps if preset else None)
        if total_steps is None:
            raise ConfigError("--total-steps is required, e.g. --total-steps 100000")
    agent = cls(env, **config) if steps_envs else cls(**config)
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


def _resume_settings(args: argparse.Namespace, cls: type, config: dict, argv: list[str]) -> tuple:
    """Settings of a run to continue: the saved ones, with the flags given laid over them."""
    from rlkit.agent import without_retired_fields
    from rlkit.config import EnvConfig
    from rlkit.trainer import read_run_settings

    if args.log_dir is None:
        raise ConfigError("--resume needs the --log-dir of the run to continue.")
    if any(a == "--preset" or a.startswith("--preset=") for a in argv):
        raise ConfigError("--preset sets up a new run; a resumed run keeps the settings it was started with "
                          "(flags given beside --resume still override them).")
    log_dir = Path(args.log_dir)
    if not ((log_dir / "checkpoint.pt").exists() or (log_dir / "config.json").exists()):
        raise ConfigError(f"{log_dir} holds no run to resume (no checkpoint.pt or config.json): a run stopped "
                          "before it wrote anything has nothing to continue; run its command without --resume.")
    saved = read_run_settings(log_dir)
    if saved["agent"] != cls.__name__:
        raise ConfigError(f"{log_dir} holds a {saved['agent']} run, not {cls.__name__}; resume it with that agent.")
    config = {**without_retired_fields(cls.config_class, saved["config"]), **config}
    env = getattr(args, "env", None) or saved["env"]
    total_steps = args.total_steps or saved["train"].get("total_steps")
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
    from rlkit.checkpoint import load_checkpoint
    from rlkit.evaluation import evaluate

    parser = argparse.ArgumentParser(prog="rlkit eval", description="Evaluate a saved agent.")
    parser.add_argument("path", help="run folder or checkpoint .pt")
    parser.add_argument("--env", help="env id (default: the one it was trained on)")
    parser.add_argument("--episodes", type=int, default=20)
    parser.add_argument("--seed", type=int, default=123)
    parser.add_argument("--stochastic", action="store_true", help="sample actions instead of taking the mode")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--agent", help="package.module:ClassName of an agent from outside rlkit's own")
    args = parser.parse_args(argv)
    payload = load_checkpoint(args.path)
    registry = {cls.__name__: cls for cls in _registry().values()}
    if args.agent:
        cls = _agent_class(args.agent)
    elif payload["agent"] in registry:
        cls = registry[payload["agent"]]
    else:
        raise ConfigError(f"{payload['agent']!r} is not one of rlkit's agents; name its class with "
                          "--agent package.module:ClassName.")
    # evaluation acts; it needs no replay (which may be large, or gone with its run folder)
    no_replay = {"save_replay": False} if "save_replay" in cls.config_class.__dataclass_fields__ else {}
    agent = cls.load(args.path, env=args.env, device=args.device, **no_replay)
    mean, std = evaluate(agent, episodes=args.episodes, seed=args.seed, deterministic=not args.stochastic)
    print(json.dumps({"agent": payload["agent"], "env": str(agent.env_spec), "episodes": args.episodes,
                      "mean_return": mean, "std_return": std}))
    return 0


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


COMMANDS = {"train": _train, "eval": _eval, "plot": _plot, "list": _list, "presets": _presets}


def _usage() -> str:
    from agents import CATALOG

    return ("usage: rlkit {train,eval,plot,list,presets} ... | rlkit --version\n"
            "  rlkit train ppo2 --env CartPole-v1 --seed 0 [--total-steps 100000] [--learning-rate 3e-4 ...]\n"
            "  rlkit train ppo2 --help                  every flag of an agent, what it does, its default\n"
            "  rlkit presets [ppo2 [--env CartPole-v1]] tuned settings per agent and env, with their sources\n"
            "  rlkit eval runs/<name> [--episodes 20]\n"
            "  rlkit plot runs/* -o curves.png\n"
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
