"""Running mean/std statistics for observation normalisation and reward scaling."""
from __future__ import annotations

import numpy as np
import torch


class RunningMeanStd:
    """Mean and variance over everything seen so far (parallel algorithm of Chan et al.), float64.

    Kept in NumPy because what it measures (observations, returns) arrives from the envs as NumPy.
    """

    def __init__(self, shape: tuple[int, ...] = ()):
        self.mean = np.zeros(shape, dtype=np.float64)
        self.var = np.ones(shape, dtype=np.float64)
        self.count = 1e-4

    def update(self, batch: np.ndarray) -> None:
        batch = np.asarray(batch, dtype=np.float64).reshape(-1, *self.mean.shape)
        if batch.shape[0] == 0:
            return
        batch_mean, batch_var, n = batch.mean(0), batch.var(0), batch.shape[0]
        delta = batch_mean - self.mean
        total = self.count + n
        # np.asarray: on a 0-d shape (reward scaling) NumPy arithmetic returns scalars, not arrays
        self.mean = np.asarray(self.mean + delta * n / total)
        self.var = np.asarray((self.var * self.count + batch_var * n + delta**2 * self.count * n / total) / total)
        self.count = total

    def normalize(self, x: np.ndarray, clip: float = 10.0) -> np.ndarray:
        """(x - mean) / std, clipped to ±clip, as float32."""
        return np.clip((x - self.mean) / np.sqrt(self.var + 1e-8), -clip, clip).astype(np.float32)

    def state_dict(self) -> dict:
        # tensors, not arrays: checkpoints load with torch.load(weights_only=True)
        return {"mean": torch.from_numpy(self.mean.copy()), "var": torch.from_numpy(self.var.copy()),
                "count": torch.tensor(self.count, dtype=torch.float64)}

    def load_state_dict(self, state: dict) -> None:
        self.mean = state["mean"].numpy().astype(np.float64)
        self.var = state["var"].numpy().astype(np.float64)
        self.count = float(state["count"])
