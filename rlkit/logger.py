"""Logging: TensorBoard scalars, a progress bar, progress.csv and summary.json."""
from __future__ import annotations

import csv
import io
import json
import os
import math
import sys
import time
from collections import deque
from pathlib import Path
from typing import Any

from tqdm import tqdm


class Logger:
    """Writes ``charts/*``, ``losses/*``, ``eval/*`` and ``time/sps`` against env steps.

    On resume (``start_step > 0``) TensorBoard events and CSV rows past ``start_step`` are dropped,
    so the curve continues without a fold.
    """

    def __init__(self, log_dir: str | Path | None, total_steps: int, start_step: int = 0, progress: bool = True):
        self.log_dir = Path(log_dir) if log_dir is not None else None
        self.writer = None
        self.csv_path = None
        self._csv_fields: list[str] | None = None
        self.earlier_seconds = 0.0  # wall time of the run's kept rows before this start (a resume)
        if self.log_dir is not None:
            from torch.utils.tensorboard import SummaryWriter

            self.log_dir.mkdir(parents=True, exist_ok=True)
            # Events after the checkpoint (written before a crash) are dropped; those at its step are kept.
            self.writer = SummaryWriter(str(self.log_dir), purge_step=start_step + 1 if start_step > 0 else None)
            self.csv_path = self.log_dir / "progress.csv"
            self._trim_csv(start_step)
        self.recent_returns: deque[float] = deque(maxlen=100)
        self.recent_lengths: deque[int] = deque(maxlen=100)
        self.start_time = time.perf_counter()
        self.start_step = self.last_step = start_step
        self.bar = tqdm(
            total=total_steps, initial=start_step, disable=not progress, unit="step",
            dynamic_ncols=True, mininterval=1.0, file=sys.stderr,
        )

    def _trim_csv(self, start_step: int) -> None:
        if self.csv_path is None or not self.csv_path.exists():
            return
        with open(self.csv_path, newline="") as f:
            rows = list(csv.DictReader(f))
        if not rows:
            return
        self._csv_fields = list(rows[0].keys())
        kept = io.StringIO()
        writer = csv.DictWriter(kept, self._csv_fields)
        writer.writeheader()
        kept_rows = [r for r in rows if int(r["step"]) <= start_step]
        writer.writerows(kept_rows)
        _write_atomically(self.csv_path, kept.getvalue())
        if kept_rows:  # the time column goes on from where the kept part of the run left it
            self.earlier_seconds = float(kept_rows[-1]["time"])

    def episodes(self, step: int, returns: list[float], lengths: list[int]) -> None:
        for ret, length in zip(returns, lengths):
            self.recent_returns.append(ret)
            self.recent_lengths.append(length)
            if self.writer is not None:
                self.writer.add_scalar("charts/episodic_return", ret, step)
                self.writer.add_scalar("charts/episodic_length", length, step)

    def advance(self, step: int) -> None:
        """The step counter moved on: the bar follows (tqdm redraws at most once a second)."""
        if step > self.last_step:
            self.bar.update(step - self.last_step)
            self.last_step = step

    def phase(self, name: str) -> None:
        """What the run is doing now (training, evaluation, checkpoint), shown on the bar."""
        self.bar.set_description_str(name if name != "training" else "", refresh=name != "training")

    @property
    def run_seconds(self) -> float:
        """Wall time of the run so far, earlier starts' kept rows included."""
        return self.earlier_seconds + time.perf_counter() - self.start_time

    @property
    def sps(self) -> float:
        elapsed = time.perf_counter() - self.start_time
        return (self.last_step - self.start_step) / elapsed if elapsed > 0 else 0.0

    @property
    def mean_recent_return(self) -> float:
        return sum(self.recent_returns) / len(self.recent_returns) if self.recent_returns else math.nan

    def update(self, step: int, metrics: dict[str, float], prefix: str = "losses") -> None:
        """One row per update: losses, speed and the recent return."""
        self.advance(step)
        sps = self.sps
        if self.recent_returns:
            self.bar.set_postfix(sps=f"{sps:.0f}", ret=f"{self.mean_recent_return:.1f}", refresh=False)
        if self.writer is not None:
            for key, value in metrics.items():
                self.writer.add_scalar(f"{prefix}/{key}", value, step)
            self.writer.add_scalar("time/sps", sps, step)
        row = {"step": step, "time": round(self.run_seconds, 3), "sps": round(sps, 1),
               "episodic_return": self.mean_recent_return, **{f"{prefix}/{k}": v for k, v in metrics.items()}}
        self._write_row(row)

    def evaluation(self, step: int, mean: float, std: float) -> None:
        if self.writer is not None:
            self.writer.add_scalar("eval/mean_return", mean, step)
            self.writer.add_scalar("eval/std_return", std, step)
        self.bar.write(f"[eval] step {step}: mean return {mean:.2f} +/- {std:.2f}")

    def _write_row(self, row: dict[str, Any]) -> None:
        if self.csv_path is None:
            return
        new = self._csv_fields is None
        if new:
            self._csv_fields = list(row.keys())
        with open(self.csv_path, "a", newline="") as f:
            writer = csv.DictWriter(f, self._csv_fields, extrasaction="ignore")
            if new:
                writer.writeheader()
            writer.writerow(row)

    def write_json(self, name: str, data: dict[str, Any]) -> Path | None:
        if self.log_dir is None:
            return None
        path = self.log_dir / name
        _write_atomically(path, json.dumps(_strict(data), indent=2, default=float, allow_nan=False) + "\n")
        return path

    def close(self) -> None:
        self.bar.close()
        if self.writer is not None:
            self.writer.flush()
            self.writer.close()


def _write_atomically(path: Path, text: str) -> None:
    """A temp file beside ``path``, then a rename: a kill leaves the old file or the new one."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _strict(value: Any) -> Any:
    """NaN and infinities as null (a run with no finished episode has no mean return): strict JSON."""
    if isinstance(value, dict):
        return {k: _strict(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_strict(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
