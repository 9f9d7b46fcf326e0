"""Logging: TensorBoard scalars, a progress bar, progress.csv and summary.json."""
from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import sys
import threading
import time
import warnings
from collections import deque
from pathlib import Path
from typing import Any, Iterator

from tqdm import tqdm

from rlkit.files import write_text_atomically

# The bar is redrawn by a clock, not by the step counter: a long update, a checkpoint or a
# 10-minute evaluation of 20 Atari games counts no step, and a bar that waits for one looks hung.
REDRAW_SECONDS = 0.5
# steps/s on the bar is measured over this much recent time, so it drops while no step is counted
RATE_WINDOW_SECONDS = 10.0
BAR_FORMAT = "{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} [{elapsed}<{remaining}{postfix}]"


class _Bar(tqdm):
    # tqdm's monitor thread tunes how often update() redraws; this bar never redraws from update()
    # (see Logger), so it needs none, and a closed Logger leaves no thread behind.
    monitor_interval = 0


class StepRate:
    """Steps per second over about the last ``window`` seconds, from (time, step) samples taken at
    each redraw: it is current at every redraw, between logged update rows too."""

    def __init__(self, now: float, step: int, window: float = RATE_WINDOW_SECONDS):
        self.window = window
        self.samples: deque[tuple[float, int]] = deque([(now, step)])

    def __call__(self, now: float, step: int) -> float:
        self.samples.append((now, step))
        # forget samples older than the window, keeping the newest of them as the reference point
        while len(self.samples) > 2 and now - self.samples[1][0] >= self.window:
            self.samples.popleft()
        then, step_then = self.samples[0]
        return (step - step_then) / (now - then) if now > then else 0.0


class Logger:
    """Writes ``charts/*``, ``losses/*``, ``eval/*`` and ``time/sps`` against env steps, and draws
    a progress bar on stderr: the phase, steps/s and the mean return of the last 100 episodes,
    redrawn every ``REDRAW_SECONDS`` whether or not a step is counted. ``progress=False``: no bar,
    no thread, nothing printed.

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
        self.phase_name = "training"
        # What the redraw thread reads: plain values the loop replaces, never a container it iterates.
        self._bar_return: float | None = None
        self._step_rate = StepRate(self.start_time, start_step)
        # mininterval=inf: tqdm never draws from update() (the per-step path stays as cheap as it
        # was); the redraw thread alone draws, every REDRAW_SECONDS. smoothing=0: the time left is
        # the steps left at the run's average speed.
        self.bar = _Bar(
            total=total_steps, initial=start_step, disable=not progress, unit="step", desc=self.phase_name,
            bar_format=BAR_FORMAT, dynamic_ncols=True, mininterval=math.inf, smoothing=0, file=sys.stderr,
        )
        self._stop_redrawing = threading.Event()
        self._redrawer: threading.Thread | None = None
        self._warnings_before = None
        if progress:
            # Warnings raised mid-run (an evaluation episode cut at its step cap) print above the
            # bar instead of into its line; close() puts the previous function back.
            self._warnings_before = warnings.showwarning
            warnings.showwarning = self._show_warning_above_bar
            # daemon: a Logger nobody closes must not keep the interpreter from exiting
            self._redrawer = threading.Thread(target=self._keep_redrawing, name="rlkit-progress-bar", daemon=True)
            self._redrawer.start()

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
        write_text_atomically(self.csv_path, kept.getvalue())
        if kept_rows:  # the time column goes on from where the kept part of the run left it
            self.earlier_seconds = float(kept_rows[-1]["time"])

    def episodes(self, step: int, returns: list[float], lengths: list[int]) -> None:
        for ret, length in zip(returns, lengths):
            self.recent_returns.append(ret)
            self.recent_lengths.append(length)
            if self.writer is not None:
                self.writer.add_scalar("charts/episodic_return", ret, step)
                self.writer.add_scalar("charts/episodic_length", length, step)
        if returns:
            self._bar_return = self.mean_recent_return

    def advance(self, step: int) -> None:
        """The step counter moved on: the bar shows it at its next redraw."""
        if step > self.last_step:
            self.bar.update(step - self.last_step)
            self.last_step = step

    def phase(self, name: str) -> None:
        """What the run is doing now ("warm-up", "training", "evaluation 7/20", "checkpoint"),
        shown on the bar at once."""
        self.phase_name = name
        self._redraw()

    @contextlib.contextmanager
    def in_phase(self, name: str) -> Iterator[None]:
        """``name`` on the bar while the block runs, then the phase before it (a checkpoint taken
        during the warm-up goes back to "warm-up", not to "training")."""
        before = self.phase_name
        self.phase(name)
        try:
            yield
        finally:
            self.phase(before)

    def write(self, message: str) -> None:
        """A line printed above the bar (``tqdm.write``: the bar is not split); nothing at all when
        the bar is off, so ``progress=False`` runs are silent."""
        if not self.bar.disable:
            tqdm.write(message)

    def bar_text(self, now: float | None = None) -> str:
        """The bar's status after its phase: current steps/s and the mean return of the last 100
        episodes (once one has ended)."""
        now = time.perf_counter() if now is None else now
        return self._status(self._step_rate(now, self.last_step))

    def _status(self, steps_per_second: float) -> str:
        text = f"{steps_per_second:.0f} steps/s"
        if self._bar_return is not None:
            text += f", return {self._bar_return:.1f}"
        return text

    def _redraw(self, status: str | None = None) -> None:
        if self.bar.disable:
            return
        # under tqdm's lock: tqdm.write (messages, warnings) clears and redraws the bar under it too
        with self.bar.get_lock():
            self.bar.set_description_str(self.phase_name, refresh=False)
            self.bar.set_postfix_str(status if status is not None else self.bar_text(), refresh=False)
            self.bar.refresh(nolock=True)

    def _keep_redrawing(self) -> None:
        while not self._stop_redrawing.wait(REDRAW_SECONDS):
            try:
                self._redraw()
            except (ValueError, OSError):  # stderr was closed under us (interpreter exit): stop drawing
                return

    def _show_warning_above_bar(self, *args: Any, **kwargs: Any) -> None:
        with tqdm.external_write_mode(file=sys.stderr):
            self._warnings_before(*args, **kwargs)

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
        self.write(f"[eval] step {step}: mean return {mean:.2f} +/- {std:.2f}")

    def _write_row(self, row: dict[str, Any]) -> None:
        if self.csv_path is None:
            return
        new = self._csv_fields is None
        if new:
            self._csv_fields = list(row.keys())
        elif any(key not in self._csv_fields for key in row):
            # A metric the first rows did not have (measured every few epochs, or from a later
            # phase): the header grows and the earlier rows get empty cells, instead of the column
            # being dropped. Rare, so rewriting the file then costs nothing that matters.
            self._csv_fields += [key for key in row if key not in self._csv_fields]
            with open(self.csv_path, newline="") as f:
                rows = list(csv.DictReader(f))
            grown = io.StringIO()
            writer = csv.DictWriter(grown, self._csv_fields)
            writer.writeheader()
            writer.writerows(rows)
            write_text_atomically(self.csv_path, grown.getvalue())
        with open(self.csv_path, "a", newline="") as f:
            writer = csv.DictWriter(f, self._csv_fields, extrasaction="ignore")
            if new:
                writer.writeheader()
            writer.writerow(row)

    def write_json(self, name: str, data: dict[str, Any]) -> Path | None:
        if self.log_dir is None:
            return None
        path = self.log_dir / name
        write_text_atomically(path, json.dumps(_strict(data), indent=2, default=float, allow_nan=False) + "\n")
        return path

    def close(self) -> None:
        """Stop the redraw thread, leave the bar's last line (with the run's average steps/s, the
        figure a finished run is summed up by) and flush TensorBoard."""
        if self._redrawer is not None:
            self._stop_redrawing.set()
            self._redrawer.join()
            self._redrawer = None
            self._redraw(status=self._status(self.sps))
        if self._warnings_before is not None:
            if warnings.showwarning == self._show_warning_above_bar:  # unless someone replaced it since
                warnings.showwarning = self._warnings_before
            self._warnings_before = None
        self.bar.close()
        if self.writer is not None:
            self.writer.flush()
            self.writer.close()


def _strict(value: Any) -> Any:
    """NaN and infinities as null (a run with no finished episode has no mean return): strict JSON."""
    if isinstance(value, dict):
        return {k: _strict(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_strict(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
