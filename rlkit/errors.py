"""Typed, user-facing errors. Each message says what went wrong and what to do instead."""
from __future__ import annotations


class RlkitError(Exception):
    """Base class of every error rlkit raises on purpose."""


class ConfigError(RlkitError, ValueError):
    """A configuration value is invalid (wrong range, wrong type, inconsistent with another)."""


class UnknownConfigKeyError(ConfigError):
    """A configuration key that the agent does not have."""


class UnknownEnvError(RlkitError, ValueError):
    """An environment id that no installed package registers."""


class UnsupportedSpaceError(RlkitError, TypeError):
    """An observation or action space the agent cannot handle."""


class CheckpointError(RlkitError):
    """A checkpoint that is missing, truncated, unsafe or not written by rlkit."""


class NonFiniteError(RlkitError, FloatingPointError):
    """A loss or gradient became NaN or infinite; training stops before the model is corrupted."""


class RunFolderError(RlkitError):
    """A run folder that another process is writing, or that holds a run this call would replace."""


class TrainingInterrupted(KeyboardInterrupt):
    """Training stopped at a safe point on SIGINT or SIGTERM, after saving its checkpoint.

    A ``KeyboardInterrupt``, so Ctrl-C in a notebook or a script stops as usual; ``signal`` is the
    signal's number and the message says how to continue.
    """

    def __init__(self, message: str, signal: int):
        super().__init__(message)
        self.signal = signal


class DemonstrationsError(RlkitError, ValueError):
    """Demonstrations that cannot be used: a damaged or foreign file, spaces that do not fit the env."""


class SequenceDataError(RlkitError, ValueError):
    """Sequence data that cannot be used: an empty or non-integer token file, ids beyond the vocabulary, sequences longer than seq_len, text with no words."""


class WorkerError(RlkitError, RuntimeError):
    """A worker process of an asynchronous agent (A3C), or a Ray rollout actor, failed or died; ``rank`` names it."""

    def __init__(self, message: str, rank: int):
        super().__init__(message)
        self.rank = rank
