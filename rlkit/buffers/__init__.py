from rlkit.buffers.replay import ReplayBuffer
from rlkit.buffers.rollout import RolloutBuffer, observation_dtype, take_rows, valid_rows
from rlkit.buffers.sum_tree import SumTree

__all__ = ["ReplayBuffer", "RolloutBuffer", "SumTree", "observation_dtype", "take_rows", "valid_rows"]
