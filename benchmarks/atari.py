"""The Atari suite: `rlkit bench` and `rlkit report` from one script (their thin front).

    python benchmarks/atari.py --suite atari5 --agents ppo2,dqn --seeds 0,1 --total-steps 100000 --out runs/bench
    python benchmarks/atari.py --suite atari5 --agents ppo2 --dry-run       # grid, wall clock, replay disk
    python benchmarks/atari.py --report runs/bench                           # the report of what has run

Every flag is `rlkit bench`'s (`rlkit bench --help`); flags after `--` go to every run. Without
--report the grid runs (finished runs are skipped, interrupted ones resumed) and the report is
written at the end; with it, only the report. The speed scripts beside this one (ppo_atari.py,
dqn_speed.py, a2c_speed.py, a3c.py) measure steps/s against peers and are unchanged.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rlkit.cli import main  # noqa: E402


def run(argv: list[str]) -> int:
    if argv[:1] == ["--report"]:
        return main(["report", *argv[1:]])
    code = main(["bench", *argv])
    if code in (0, 1) and "--dry-run" not in argv:  # a report of what finished, failed runs or not
        own = argv[: argv.index("--")] if "--" in argv else argv
        out = own[own.index("--out") + 1] if "--out" in own else "runs/bench"
        return main(["report", out]) or code
    return code


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
