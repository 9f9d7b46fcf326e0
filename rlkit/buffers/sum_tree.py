"""A sum tree over priorities, operated on whole batches with NumPy (Schaul et al. 2016)."""
from __future__ import annotations

import numpy as np


class SumTree:
    """Leaves hold priorities; every inner node the sum of its two children.

    ``sample`` draws a batch proportionally to the priorities in O(B log N) vectorised steps
    (stratified: one draw per equal slice of the total mass); ``update`` writes a batch of leaves
    and recomputes only their ancestors. A leaf of priority 0 is never drawn.
    """

    def __init__(self, capacity: int):
        if capacity < 1:
            raise ValueError(f"SumTree capacity must be >= 1, got {capacity}")
        self.capacity = capacity
        self.leaves = 1 << max(0, (capacity - 1).bit_length())  # next power of two
        self.tree = np.zeros(2 * self.leaves, dtype=np.float64)  # node 1 is the root; leaves at [leaves, 2 leaves)

    @property
    def total(self) -> float:
        return float(self.tree[1])

    def get(self, indices: np.ndarray) -> np.ndarray:
        return self.tree[self.leaves + np.asarray(indices)]

    def update(self, indices: np.ndarray, priorities: np.ndarray) -> None:
        indices = np.asarray(indices, dtype=np.int64)
        priorities = np.asarray(priorities, dtype=np.float64)
        if np.any(priorities < 0) or not np.all(np.isfinite(priorities)):
            raise ValueError("priorities must be finite and >= 0")
        nodes = self.leaves + indices
        self.tree[nodes] = priorities  # with repeated indices the last write wins
        nodes = np.unique(nodes // 2)
        while nodes[0] >= 1:
            self.tree[nodes] = self.tree[2 * nodes] + self.tree[2 * nodes + 1]
            if nodes[0] == 1:
                break
            nodes = np.unique(nodes // 2)

    def find(self, mass: np.ndarray) -> np.ndarray:
        """Leaf index i for each prefix mass m: the first i with cumsum(priorities)[i] > m."""
        mass = np.array(mass, dtype=np.float64)
        nodes = np.ones(mass.shape, dtype=np.int64)
        while nodes[0] < self.leaves:
            left = 2 * nodes
            left_sum = self.tree[left]
            go_right = mass >= left_sum
            mass = np.where(go_right, mass - left_sum, mass)
            nodes = np.where(go_right, left + 1, left)
        return nodes - self.leaves

    def sample(self, batch_size: int, rng: np.random.Generator) -> np.ndarray:
        """``batch_size`` leaf indices drawn proportionally to priority (stratified)."""
        total = self.total
        if total <= 0:
            raise ValueError("cannot sample from a SumTree whose priorities are all 0")
        bounds = np.arange(batch_size, dtype=np.float64) * (total / batch_size)
        mass = bounds + rng.random(batch_size) * (total / batch_size)
        indices = self.find(np.minimum(mass, np.nextafter(total, 0)))
        # float rounding can land on a zero leaf at a boundary: move those to their left neighbour's mass
        zero = self.get(indices) <= 0
        while zero.any():
            indices[zero] = self.find(rng.random(int(zero.sum())) * total)
            zero = self.get(indices) <= 0
        return indices
