from rlkit.buffers.rollout import RolloutBuffer

__all__ = ["RolloutBuffer"]
