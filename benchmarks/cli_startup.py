"""Start-up time of the CLI's help and listing commands (target: under 0.5 s each, median of 5).

    python benchmarks/cli_startup.py --repeats 5

Each command runs as the user runs it, ``.venv/bin/rlkit ...`` in a fresh process, output discarded;
the rounds interleave the commands. Also reports whether the command imported torch.
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import save  # noqa: E402

COMMANDS = [["--help"], ["list"], ["presets"], ["train", "ppo2", "--help"], ["train", "dqn", "--env", "CartPole-v1", "--help"]]
TARGET_SECONDS = 0.5


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    rlkit = shutil.which("rlkit", path=str(Path(sys.executable).parent)) or "rlkit"
    times: dict[str, list[float]] = {" ".join(c): [] for c in COMMANDS}
    for _ in range(args.repeats):
        for command in COMMANDS:
            start = time.perf_counter()
            subprocess.run([rlkit, *command], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
            times[" ".join(command)].append(time.perf_counter() - start)
    rows = {}
    for name, seconds in times.items():
        median = statistics.median(seconds)
        rows[name] = {"median_seconds": round(median, 3), "all_seconds": [round(s, 3) for s in seconds],
                      "met": median < TARGET_SECONDS}
        print(f"rlkit {name:<40} median {median:.3f} s  (all: {', '.join(f'{s:.3f}' for s in seconds)})")
    save("cli_startup", {"repeats": args.repeats, "target_seconds": TARGET_SECONDS, "commands": rows})


if __name__ == "__main__":
    main()
