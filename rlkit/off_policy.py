"""The off-policy loop (DQN/Rainbow, DDPG): one vector step at a time into a replay buffer; the agent
decides when to learn (``learning_starts``, ``train_freq``, ``gradient_steps``)."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from rlkit.agent import EnvAgent
from rlkit.buffers import ReplayBuffer
from rlkit.types import LearnOut

if TYPE_CHECKING:
    from rlkit.progress import Progress

LOG_EVERY = 1000  # env steps between logged rows of (averaged) update metrics


class OffPolicyLearner(Protocol):
    """What ``off_policy_loop`` needs from an agent."""

    envs: Any
    replay: ReplayBuffer
    config: Any  # config.learning_starts, when it has one, ends the warm-up shown on the progress bar
    num_steps: int

    def explore(self, obs: np.ndarray, progress: float) -> np.ndarray: ...
    def end_episodes(self, done: np.ndarray) -> None: ...
    def train_step(self, progress: float) -> LearnOut | None: ...


def off_policy_loop(agent: OffPolicyLearner, progress: Progress) -> None:
    """Step the envs; every transition goes into ``agent.replay``; ``agent.train_step`` learns when
    it is due. Every vector step ends at a safe point."""
    envs = agent.envs
    obs = envs.reset(seed=agent.config.seed + agent.num_steps)
    agent.replay.start(obs)  # a resumed run starts new episodes; its replay keeps what it had
    resetting = np.zeros(envs.num_envs, dtype=bool)
    pending: list[dict[str, float]] = []
    next_log = agent.num_steps + LOG_EVERY
    # before learning_starts the agent only acts at random: the bar says so, not "training"
    learning_starts = getattr(agent.config, "learning_starts", 0)
    warming_up = agent.num_steps < learning_starts
    if warming_up:
        progress.phase("warm-up")
    while not progress.done:
        actions = agent.explore(obs, progress.fraction)
        step = envs.step(actions)
        agent.replay.add(actions, step.rewards, step.terminated, step.truncated, step.obs, ~resetting)
        resetting = step.terminated | step.truncated
        if resetting.any():
            agent.end_episodes(resetting)
        obs = step.obs
        progress.advance(envs.num_envs)
        if warming_up and agent.num_steps >= learning_starts:
            warming_up = False
            progress.phase("training")
        if step.episode_done.any():
            progress.episodes(step.episode_returns[step.episode_done].tolist(),
                              step.episode_lengths[step.episode_done].tolist())
        out = agent.train_step(progress.fraction)
        if out is not None:
            pending.append(out.metrics)
        if pending and (agent.num_steps >= next_log or progress.done):
            progress.learned({k: float(np.mean([m[k] for m in pending])) for k in pending[-1]})
            pending.clear()
            next_log = agent.num_steps + LOG_EVERY
        progress.safe_point()


class ReplayAgent(EnvAgent):
    """What the replay-based agents (DQN, DDPG) share besides their loop: ``self.replay`` kept in
    the run folder while a run owns it, and in checkpoints unless ``save_replay=False``."""

    loop = off_policy_loop
    replay: ReplayBuffer

    def use_run_folder(self, path: Path) -> None:
        """Keep the replay's frames in a file of the run folder: checkpoints then record only its
        small arrays, whatever the buffer's size, and the frames survive a kill."""
        if self.config.save_replay:
            self.replay.attach_storage(path / "replay")

    def leave_run_folder(self) -> None:
        self.replay.detach_storage()  # the folder's lock is released: its file is no longer ours to write

    def replay_state(self) -> dict[str, Any]:
        return {"replay": self.replay.state_dict()} if self.config.save_replay else {}

    def load_replay_state(self, state: dict[str, Any]) -> None:
        if "replay" in state and self.config.save_replay:  # save_replay=False resumes with an empty replay
            self.replay.load_state_dict(state["replay"], run_dir=self.restored_from)
