from rlkit.buffers.rollout import RolloutBuffer, valid_rows

__all__ = ["RolloutBuffer", "valid_rows"]
