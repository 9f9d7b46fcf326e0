"""Helpers for side-by-side benchmarks: run each contender in its own process, time it, compare."""
from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"

# rlkit contenders in the Atari speed benchmarks: (env_backend, vectorization)
BACKENDS = {"rlkit": ("gymnasium", "sync"), "rlkit-envpool": ("envpool", "sync"), "rlkit-ale": ("ale", "sync")}


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{len(os.sched_getaffinity(0))} cores ({cpu}), {platform.system()} {platform.machine()}, Python {platform.python_version()}"


def run_child(script: str, args: list[str], timeout: float = 3600, cpu: int | None = None) -> dict:
    """Run ``python script --child args...`` (pinned to core ``cpu`` if given) and parse the JSON
    line it prints last."""
    cmd = [sys.executable, script, "--child", *args]
    start = time.perf_counter()
    pin = (lambda: os.sched_setaffinity(0, {cpu})) if cpu is not None else None
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, preexec_fn=pin)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stderr[-3000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["process_seconds"] = round(time.perf_counter() - start, 2)
    return result


def run_contenders(script: str, contenders: list[str], args: list[str], repeats: int = 1) -> dict[str, dict]:
    """Each contender in its own process (``run_child``), one after the other; prints each row.

    With ``repeats`` > 1 the contenders run in ``repeats`` interleaved rounds (A, B, A, B, ...), so
    a slow spell of this shared machine hits both sides; each row then keeps every round's figures
    (``runs``) and reports the median steps/s."""
    rounds: dict[str, list[dict]] = {c: [] for c in contenders}
    for r in range(repeats):
        for contender in contenders:
            row = run_child(script, [contender, *args])
            rounds[contender].append(row)
            print(contender if repeats == 1 else f"{contender} (round {r + 1})", json.dumps(row), flush=True)
    rows = {}
    for contender, runs in rounds.items():
        rows[contender] = dict(runs[-1])
        if repeats > 1:
            rows[contender]["runs"] = runs
            for key in (k for k in runs[0] if k.endswith("steps_per_second")):
                if all(key in run for run in runs):
                    rows[contender][key] = statistics.median(run[key] for run in runs)
    return rows


def ratios_to(rows: dict[str, dict], peer: str, mine: list[str], key: str = "steps_per_second",
              label: str = "steps/s") -> dict[str, float]:
    """``key`` (steps/s) of each of ``mine`` over the peer's, printed; empty if the peer did not
    run. With repeated rounds, the median of the per-round ratios (each round's figures were taken
    side by side), and each round's ratio is printed too."""
    ratios = {}
    if peer in rows:
        for name in (m for m in mine if m in rows):
            if "runs" in rows[name] and "runs" in rows[peer]:
                per_round = [a[key] / b[key] for a, b in zip(rows[name]["runs"], rows[peer]["runs"])]
                ratios[name] = round(statistics.median(per_round), 2)
                print(f"{name}: {ratios[name]:.2f}x {peer.upper()}'s {label} (median of rounds: "
                      f"{', '.join(f'{r:.2f}' for r in per_round)})")
            else:
                ratios[name] = round(rows[name][key] / rows[peer][key], 2)
                print(f"{name}: {ratios[name]:.2f}x {peer.upper()}'s {label}")
    return ratios


def run_rlkit(*args: str) -> float:
    """Run an rlkit CLI command (quietly, as the caller's flags say); its wall clock in seconds. A
    failure raises with the command's last lines of stderr."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "rlkit.cli", *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"rlkit {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return time.perf_counter() - start


def build_peer_venv(venv: Path, constraints: Path, torch_spec: str, package: str, imports: str,
                    rebuild: bool = False) -> None:
    """A peer library's venv (one whose pins conflict with rlkit's) from its constraints file;
    rebuilt when the file changes. torch goes in first (the local CPU wheel); then a dry run of
    ``package`` must bring no CUDA package and no other torch before it is installed. ``imports``
    ("torch, imitation") is imported there as the check that it works."""
    import hashlib
    import shutil

    python = venv / "bin" / "python"
    stamp = venv / ".constraints-sha256"
    digest = hashlib.sha256(constraints.read_bytes()).hexdigest()
    if not rebuild and python.exists() and stamp.exists() and stamp.read_text().strip() == digest:
        return
    print(f"building {venv} from {constraints.name} (a few minutes, under 2 GB) ...", flush=True)
    start = time.perf_counter()
    if venv.exists():
        shutil.rmtree(venv)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(python), "-m", "pip", "install", "--no-input", "-c", str(constraints)]
    subprocess.run([*pip, "--quiet", torch_spec], check=True)
    plan = subprocess.run([*pip, "--dry-run", "--quiet", "--report", "-", package], check=True,
                          capture_output=True, text=True)
    wanted = {item["metadata"]["name"].lower(): item["metadata"]["version"]
              for item in json.loads(plan.stdout)["install"]}
    bad = sorted(f"{name}=={version}" for name, version in wanted.items()
                 if name.startswith(("nvidia-", "cuda-")) or name in ("torch", "triton"))
    if bad:
        raise SystemExit(f"the peer venv's install plan would bring {', '.join(bad)}: refusing (CUDA packages are "
                         f"several GB); fix the pins in {constraints}.")
    print(f"  install plan: {len(wanted)} packages, no CUDA package, torch kept at the CPU build", flush=True)
    subprocess.run([*pip, "--quiet", package], check=True)
    check = subprocess.run([str(python), "-c", f"import {imports}; print(torch.__version__)"],
                           check=True, capture_output=True, text=True, cwd="/")
    if not check.stdout.strip().endswith("+cpu"):
        raise SystemExit(f"the peer venv has torch {check.stdout.strip()}, not the CPU build")
    stamp.write_text(digest + "\n")
    print(f"  built in {time.perf_counter() - start:.0f} s", flush=True)


def save_figure(fig, path: Path) -> None:
    """Lay out, write at 120 dpi and close a matplotlib figure."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def save(name: str, payload: dict) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    payload = {"date": date.today().isoformat(), "machine": machine(), "command": " ".join(sys.argv), **payload}
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(payload, indent=2) + "\n")
    return path


def random_return(env_id: str, episodes: int = 100, seed: int = 0) -> float:
    """A uniformly random policy's mean return over ``episodes`` seeded episodes (the 0 of a normalised score)."""
    import gymnasium as gym

    if env_id.startswith("ALE/"):
        import ale_py

        gym.register_envs(ale_py)  # the ALE namespace exists only once ale-py registers it
    env = gym.make(env_id)
    env.action_space.seed(seed)
    returns = []
    for episode in range(episodes):
        env.reset(seed=seed + episode)
        total, done = 0.0, False
        while not done:
            _, reward, terminated, truncated, _ = env.step(env.action_space.sample())
            total += float(reward)
            done = terminated or truncated
        returns.append(total)
    env.close()
    return statistics.fmean(returns)
