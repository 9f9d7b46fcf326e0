"""``rlkit train | eval | plot``: the research API from a shell. Every config field is a flag."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rlkit.config import add_config_arguments, config_from_kwargs, config_kwargs_from_args
from rlkit.errors import ConfigError, RlkitError


def _registry() -> dict:
    from agents import REGISTRY

    return REGISTRY


def _train(argv: list[str]) -> int:
    registry = _registry()
    if not argv or argv[0].startswith("-"):
        raise ConfigError(f"usage: rlkit train AGENT --env ENV_ID [flags]; AGENT is one of {', '.join(registry)}.")
    name = argv[0].lower()
    if name not in registry:
        raise ConfigError(f"unknown agent {argv[0]!r}; choose one of {', '.join(registry)}.")
    cls = registry[name]
    parser = argparse.ArgumentParser(prog=f"rlkit train {name}", description=f"Train {cls.__name__}.", allow_abbrev=False)
    parser.add_argument("--env", help="Gymnasium id, e.g. CartPole-v1 or ALE/Pong-v5 (taken from the checkpoint with --resume)")
    parser.add_argument("--total-steps", type=int, help="env steps over all envs")
    parser.add_argument("--log-dir", help="run folder (default runs/<agent>-<env>-s<seed>)")
    parser.add_argument("--resume", action="store_true", help="continue the run in --log-dir from its checkpoint")
    parser.add_argument("--checkpoint-freq", type=int, default=None, help="env steps between checkpoints (default: a tenth of the run)")
    parser.add_argument("--eval-freq", type=int, default=0, help="env steps between evaluations (0: only at the end)")
    parser.add_argument("--eval-episodes", type=int, default=20)
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_config_arguments(parser, cls.config_class)
    args, unknown = parser.parse_known_args(argv[1:])
    if unknown:
        flags = [a[2:].replace("-", "_") for a in unknown if a.startswith("--")]
        config_from_kwargs(cls.config_class, {flag: None for flag in flags})  # raises with close matches
        raise ConfigError(f"unrecognised arguments: {' '.join(unknown)}")
    config = config_kwargs_from_args(args, cls.config_class)

    log_dir = Path(args.log_dir) if args.log_dir else None
    total_steps = args.total_steps
    if args.resume:
        if log_dir is None or not (log_dir / "checkpoint.pt").exists():
            raise ConfigError("--resume needs --log-dir of a run that has a checkpoint.pt.")
        saved = json.loads((log_dir / "config.json").read_text())
        total_steps = total_steps or saved["train"]["total_steps"]
        agent = cls.load(log_dir / "checkpoint.pt", env=args.env, **config)
    else:
        if not args.env:
            raise ConfigError("--env is required, e.g. --env CartPole-v1")
        if total_steps is None:
            raise ConfigError("--total-steps is required, e.g. --total-steps 100000")
        agent = cls(args.env, **config)
        if log_dir is None:
            log_dir = Path("runs") / f"{name}-{args.env.replace('/', '-')}-s{agent.config.seed}"
    agent.learn(
        total_steps, log_dir, resume=args.resume, checkpoint_freq=args.checkpoint_freq,
        eval_freq=args.eval_freq, eval_episodes=args.eval_episodes, progress=not args.no_progress,
    )
    summary = agent.last_summary
    print(f"\nrun folder: {log_dir}")
    for item in ("checkpoint.pt", "config.json", "summary.json", "progress.csv", "learning_curve.png"):
        print(f"  {log_dir / item}")
    if "eval_mean_return" in summary:
        print(f"evaluation: {summary['eval_mean_return']:.2f} +/- {summary['eval_std_return']:.2f} "
              f"over {summary['eval_episodes']} episodes")
    print(f"TensorBoard: tensorboard --logdir {log_dir.parent}")
    return 0


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
    args = parser.parse_args(argv)
    payload = load_checkpoint(args.path)
    registry = {cls.__name__: cls for cls in _registry().values()}
    if payload["agent"] not in registry:
        raise ConfigError(f"this rlkit has no agent {payload['agent']!r}.")
    agent = registry[payload["agent"]].load(args.path, env=args.env, device=args.device)
    mean, std = evaluate(agent, episodes=args.episodes, seed=args.seed, deterministic=not args.stochastic)
    print(json.dumps({"agent": payload["agent"], "env": str(agent.env_spec), "episodes": args.episodes,
                      "mean_return": mean, "std_return": std}))
    return 0


def _plot(argv: list[str]) -> int:
    from rlkit.plotting import plot_runs

    parser = argparse.ArgumentParser(prog="rlkit plot", description="Learning curves of runs (from progress.csv).")
    parser.add_argument("runs", nargs="+", help="run folders")
    parser.add_argument("-o", "--out", default="learning_curves.png")
    parser.add_argument("--title")
    args = parser.parse_args(argv)
    missing = [r for r in args.runs if not (Path(r) / "progress.csv").exists()]
    if missing:
        raise ConfigError(f"no progress.csv in {', '.join(missing)}; pass run folders written by rlkit train.")
    # -o may name a folder that does not exist yet (figures/curves.png), as --log-dir may
    out = Path(args.out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create the folder {out.parent} for -o {out} ({exc.strerror}); pass -o in a writable folder.") from exc
    print(plot_runs(args.runs, out, args.title))
    return 0


COMMANDS = {"train": _train, "eval": _eval, "plot": _plot}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in COMMANDS:
        print("usage: rlkit {train,eval,plot} ...\n"
              "  rlkit train ppo2 --env CartPole-v1 --total-steps 100000 --seed 0 [--learning-rate 3e-4 ...]\n"
              "  rlkit eval runs/<name> [--episodes 20]\n"
              "  rlkit plot runs/* -o curves.png\n"
              f"agents: {', '.join(_registry())}", file=sys.stderr if argv and argv[0] not in ("-h", "--help") else sys.stdout)
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    try:
        return COMMANDS[argv[0]](argv[1:])
    except RlkitError as exc:
        print(f"rlkit: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
