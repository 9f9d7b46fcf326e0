"""DAgger: dataset aggregation (Ross, Gordon & Bagnell 2011, "A reduction of imitation learning and
structured prediction to no-regret online learning").

Behaviour cloning learns from the expert's states only, so the learner's own mistakes lead it to
states nobody labelled. DAgger asks the expert about the states the learner visits:

    D ← the initial demonstrations (optional: they are round 0's data, β_0 = 1)
    round i = 0, 1, ...:
        roll out π_i = β_i · expert + (1 − β_i) · learner for rollout_steps env steps
        label every observation acted on with the expert's (deterministic) action
        D ← D ∪ {(s, expert(s))}
        train the learner (BC) on D for bc_steps_per_round gradient steps

The mixture is drawn per step and per env: the expert's action is executed with probability β_i,
the learner's (its mode, the action it is evaluated on) otherwise; either way the expert's action is
the label. β_i = beta_decay**i ("exponential", β_0 = 1; beta_decay 0 is the paper's β_i = I(i = 0),
the form where only the learner acts after round 0) or max(0, 1 − i / beta_rampdown_rounds)
("linear", the ``imitation`` library's LinearBetaSchedule). With demonstrations the learner is first
trained on them (round 0) and the rollouts start at round 1.

One step is one observation labelled by the expert: ``total_steps`` is the label budget, counted
as the rollouts go (the demonstrations are not counted), and the last round takes what is left of
it. Every round starts new episodes (the envs reset, seeded by the steps done; an episode still
running at the end of a round is cut there, as the paper's T-step trajectories are); the returns of
the episodes that end within a round go to the curve, and they are the *mixture's* returns (the
learner's own are the evaluations). Rounds are whole: a checkpoint, a stop on a signal and a resume
fall between two rounds, so ``--resume`` continues exactly.

The learner is a BC agent: its network, loss, minibatch order (epochs of the aggregated dataset in
an order drawn from (seed, epoch); each round starts a new epoch over the grown dataset) and its
evaluation (the learner alone). The expert is never trained and never saved: the checkpoint holds
its spec (``expert``, in the config), the learner, Adam, the aggregated dataset, the round and the
random streams.
"""
from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import torch

from agents.bc import BC, PROBE_IMAGES, PROBE_VECTORS
from agents.configs import DAggerConfig
from rlkit.buffers.demonstrations import describe_space, load_for_env
from rlkit.errors import CheckpointError, UnsupportedSpaceError
from rlkit.experts import load_expert
from rlkit.networks import is_image_space
from rlkit.progress import Progress

# the seed's streams apart from np_rng, as BC's (its split, epoch and probe streams are 1, 2, 3)
_PROBE_STREAM = 13


def dagger_loop(agent: "DAgger", progress: Progress) -> None:
    """Rounds of rollout, labelling, aggregation and BC training until the label budget or a signal;
    each round is whole before the loop looks at ``progress.done``."""
    agent.attach_demonstrations()  # and the expert
    if agent.round == 0 and len(agent.data) > 0:
        # the demonstrations are round 0: the expert's own episodes (β_0 = 1); train on them first
        row = {"round": 0.0, "beta": 1.0, "expert_labels": float(len(agent.data)), "expert_action_fraction": 1.0,
               f"new_states_{agent.fit_name}": agent.measure(np.arange(len(agent.data)))[agent.fit_name]}
        progress.phase("training")
        row.update(agent.train_round())
        agent.round = 1
        progress.learned(row)
        progress.safe_point()
    while not progress.done:
        steps = min(agent.config.rollout_steps, progress.target - agent.num_steps)
        progress.phase("rollout")
        row = agent.rollout(steps, progress)
        progress.phase("training")
        row.update(agent.train_round())
        agent.round += 1
        progress.learned(row)
        progress.safe_point()


class Expert:
    """The teacher: a saved rlkit agent (asked for its deterministic action) or a function from a
    batch of observations to a batch of actions. Its actions are checked against the env's action
    space on every call (Box actions are clipped to the bounds, as they are executed)."""

    def __init__(self, source: Any, spec: str, observation_space: gym.Space, action_space: gym.Space, env_name: str):
        self.source, self.spec, self.env_name = source, spec, env_name
        self.observation_space, self.action_space = observation_space, action_space
        self.agent = source if hasattr(source, "act") else None
        for kind, theirs, ours in (("observation", getattr(source, "observation_space", None), observation_space),
                                   ("action", getattr(source, "action_space", None), action_space)):
            if theirs is not None and describe_space(theirs, bounds=False) != describe_space(ours, bounds=False):
                raise UnsupportedSpaceError(
                    f"the expert {spec} ({type(source).__name__}) has the {kind} space {theirs}, {env_name}'s is "
                    f"{ours}: it cannot label this env's states. Pass an expert trained on {env_name} (its run "
                    "folder or checkpoint), or a function from this env's observations to its actions.")

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        if self.agent is not None:
            actions = self.agent.act(obs, deterministic=True)
        else:
            actions = self.source(obs)
        return self._checked(np.asarray(actions), len(obs))

    def _checked(self, actions: np.ndarray, n: int) -> np.ndarray:
        space = self.action_space
        if isinstance(space, gym.spaces.Discrete):
            shape, low, high, kind = (n,), int(space.start), int(space.start + space.n), "integer"
        elif isinstance(space, gym.spaces.MultiDiscrete):
            shape, low, high, kind = (n, *space.nvec.shape), space.start, space.start + space.nvec, "integer"
        elif isinstance(space, gym.spaces.Box):
            shape, kind = (n, *space.shape), "number"
        else:  # BC's network refuses other spaces before an expert is asked
            raise UnsupportedSpaceError(f"DAgger labels Discrete, MultiDiscrete and Box actions, not {space}.")
        integer = np.issubdtype(actions.dtype, np.integer) or actions.dtype == np.bool_
        fits = actions.shape == shape and (integer if kind == "integer" else integer or np.issubdtype(actions.dtype, np.floating))
        if fits and kind == "integer":
            fits = bool(np.all((actions >= low) & (actions < high)))
        if not fits:
            what = (f"one integer in [{low}, {high}) per observation" if isinstance(space, gym.spaces.Discrete)
                    else f"an array of shape {shape[1:]} per observation, of {kind}s"
                    + (" within the bounds of each dimension" if kind == "integer" else ""))
            raise UnsupportedSpaceError(
                f"the expert {self.spec} returned actions of dtype {actions.dtype} and shape {actions.shape} for {n} "
                f"observations; {self.env_name}'s action space is {space}, which takes {what} (shape {shape}). "
                f"Pass an expert for this env's actions: a run folder of an agent trained on {self.env_name}, or a "
                "function that returns them.")
        if kind == "integer":
            return actions.astype(np.int64)
        return np.clip(actions, space.low, space.high).astype(np.float32)

    def close(self) -> None:
        if self.agent is not None:
            self.agent.close()


class Aggregate:
    """The dataset DAgger trains on: observations and the expert's actions, the initial
    demonstrations first, then each round's labels, in NumPy arrays that double as they fill.

    Checkpoints hold it whole: per label, the observation's bytes and the action's (CartPole: 16 + 8
    bytes, so 10^6 labels add 24 MB to each checkpoint; Pendulum: 12 + 4). Image observations are
    another matter: a stacked Atari observation is 28 KB, so 10^5 labels would write 2.8 GB into
    every checkpoint; DAgger on frames would want them stored once each and kept in the run folder,
    as DQN's replay does."""

    def __init__(self, observation_space: gym.Space, action_space: gym.Space):
        self.discrete = not isinstance(action_space, gym.spaces.Box)
        self._obs = np.empty((0, *observation_space.shape), dtype=observation_space.dtype)
        self._actions = np.empty((0, *action_space.shape), dtype=np.int64 if self.discrete else np.float32)
        self.size = 0

    def __len__(self) -> int:
        return self.size

    @property
    def obs(self) -> np.ndarray:
        return self._obs[:self.size]

    @property
    def actions(self) -> np.ndarray:
        return self._actions[:self.size]

    def add(self, obs: np.ndarray, actions: np.ndarray) -> None:
        end = self.size + len(obs)
        if end > len(self._obs):
            capacity = max(end, 2 * len(self._obs), 1024)
            self._obs = _grown(self._obs, capacity, self.size)
            self._actions = _grown(self._actions, capacity, self.size)
        self._obs[self.size:end] = obs
        self._actions[self.size:end] = actions
        self.size = end

    def state_dict(self) -> dict[str, torch.Tensor]:
        # tensors, not arrays: checkpoints load with torch.load(weights_only=True)
        return {"obs": torch.from_numpy(self.obs.copy()), "actions": torch.from_numpy(self.actions.copy())}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        obs, actions = state["obs"].numpy(), state["actions"].numpy()
        if obs.shape[1:] != self._obs.shape[1:] or actions.shape[1:] != self._actions.shape[1:] or len(obs) != len(actions):
            raise ValueError(f"the aggregated dataset has observations {tuple(obs.shape)} and actions "
                             f"{tuple(actions.shape)}; this env needs [N, {self._obs.shape[1:]}] and [N, {self._actions.shape[1:]}]")
        self._obs, self._actions, self.size = obs.astype(self._obs.dtype), actions.astype(self._actions.dtype), len(obs)


def _grown(array: np.ndarray, capacity: int, used: int) -> np.ndarray:
    bigger = np.empty((capacity, *array.shape[1:]), dtype=array.dtype)
    bigger[:used] = array[:used]
    return bigger


class DAgger(BC):
    """Dataset aggregation with a BC learner: ``DAgger("CartPole-v1", expert="runs/ppo2-cartpole",
    demos="two_episodes.npz").learn(3000)`` (3000 expert labels). ``expert`` is a run folder or
    checkpoint of any rlkit agent, or ``package.module:function`` from a batch of observations to
    actions; ``DAgger.load(path)`` acts and evaluates without the expert or the demonstrations
    (they are read when the loaded agent trains)."""

    config_class = DAggerConfig
    loop = dagger_loop

    def __init__(self, env: Any, **config: Any):
        self.data: Aggregate | None = None
        self.expert: Expert | None = None
        self.round = 0  # the next round's index; with demonstrations, round 0 is training on them
        self.demo_steps = 0  # how many of the dataset's labels are the demonstrations'
        self.restored_data = False  # the dataset came from a checkpoint (the demonstrations are only checked)
        # BC's __init__ builds the learner and calls attach_demonstrations (unless DAgger.load defers it)
        super().__init__(env, **config)
        if self.data is None:
            self.data = Aggregate(self.observation_space, self.action_space)
        self.val_steps = np.empty(0, dtype=np.int64)  # no validation split: every label is trained on
        self.fit_name = "accuracy" if self.discrete else "mse"
        # bc_from_scratch: the weights each round's training starts from
        self.initial_param = self.flat.param.detach().clone() if self.config.bc_from_scratch else None

    # --- data and expert ------------------------------------------------------------------------------
    def attach_demonstrations(self) -> None:
        """Read the initial demonstrations and load the expert, once each. A dataset restored from
        a checkpoint already holds the demonstrations: they are only checked to be the same."""
        cfg = self.config
        if self.data is None:
            self.data = Aggregate(self.observation_space, self.action_space)
        if cfg.demos and self.demonstrations is None:
            demos = load_for_env(cfg.demos, self.observation_space, self.action_space, cfg.demo_episodes,
                                 self.env_description(), self._restored_demos)
            if self.restored_data and self.demo_steps != len(demos):
                raise CheckpointError(
                    f"the checkpoint's dataset starts with {self.demo_steps} steps of demonstrations, but {cfg.demos} "
                    f"(demo_episodes {cfg.demo_episodes}) gives {len(demos)}; resume with the run's own demos.")
            self.demonstrations = demos
            if not self.restored_data:
                self.demo_steps = len(demos)
                self._aggregate(demos.obs[demos.step_obs_rows()], demos.actions)
        self.train_steps = np.arange(len(self.data))
        if self.expert is None:
            self.expert = self._load_expert()

    def _load_expert(self) -> Expert:
        cfg = self.config
        # a saved agent is built on the env it was trained on, in this process (its num_envs stays: settings
        # such as PPO's batch_size are checked against it)
        source = load_expert(cfg.expert, device=cfg.device, fallback_env=self.env_spec, vectorization="sync")
        try:
            expert = Expert(source, cfg.expert, self.observation_space, self.action_space, self.env_description())
            expert(self.envs.reset(seed=cfg.seed))  # its actions fit this env's, or a typed error now
        except BaseException:
            if hasattr(source, "close"):
                source.close()
            raise
        return expert

    def _aggregate(self, obs: np.ndarray, actions: np.ndarray) -> None:
        """Add expert-labelled states to the dataset; the observation statistics follow it."""
        self.data.add(obs, actions)
        if self.obs_rms is not None:
            self.obs_rms.update(obs)
        self.train_steps = np.arange(len(self.data))

    def gather(self, steps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.data.obs[steps], self.data.actions[steps]

    @property
    def validates(self) -> bool:
        return False

    # --- a round ----------------------------------------------------------------------------------------
    def beta(self, round_index: int) -> float:
        """β_i: the probability the expert's action is the one executed in round i."""
        cfg = self.config
        if cfg.beta_schedule == "exponential":
            return float(cfg.beta_decay ** round_index)  # 0.0 ** 0 == 1: round 0 is the expert's
        return max(0.0, 1.0 - round_index / cfg.beta_rampdown_rounds)

    def rollout(self, steps: int, progress: Progress) -> dict[str, float]:
        """Roll out the mixture for ``steps`` labelled observations from fresh episodes; label each
        observation acted on with the expert's action and add them to the dataset."""
        envs, n = self.envs, self.envs.num_envs
        beta = self.beta(self.round)
        obs = envs.reset(seed=self.config.seed + self.num_steps)
        # the step after an episode ends returns the reset observation; the action given for that
        # env is ignored, so the final observation it replaces is never acted on nor labelled
        resetting = np.zeros(n, dtype=bool)
        new_obs, new_actions = [], []
        labelled = from_expert = 0
        agreement = 0.0
        box = isinstance(self.action_space, gym.spaces.Box)
        while labelled < steps:
            rows = np.flatnonzero(~resetting)[:steps - labelled]  # the last step labels only what the round needs
            learner = self.policy.act(obs, deterministic=True)
            expert_turn = self.np_rng.random(n) < beta  # per env: whose action is executed
            actions = np.clip(learner, self.action_space.low, self.action_space.high) if box else learner.copy()
            if len(rows):  # none when every env is resetting
                labels = self.expert(obs[rows])
                mixed = expert_turn[rows]
                actions[rows[mixed]] = labels[mixed]
                new_obs.append(obs[rows].copy())  # copies: a backend may reuse its observation buffer
                new_actions.append(labels)
                # the learner's fit on the states it is about to be trained on (BC's accuracy, or MSE of its mean)
                errors = learner[rows] - labels if box else learner[rows] == labels
                agreement += float((errors**2 if box else errors).reshape(len(rows), -1).mean(1).sum())
                from_expert += int(mixed.sum())
            labelled += len(rows)
            step = envs.step(actions)
            resetting = step.terminated | step.truncated
            obs = step.obs
            progress.advance(len(rows))
            if step.episode_done.any():
                progress.episodes(step.episode_returns[step.episode_done].tolist(),
                                  step.episode_lengths[step.episode_done].tolist())
        self._aggregate(np.concatenate(new_obs), np.concatenate(new_actions))
        return {"round": float(self.round), "beta": beta, "expert_labels": float(len(self.data)),
                "expert_action_fraction": from_expert / labelled, f"new_states_{self.fit_name}": agreement / labelled}

    def train_round(self) -> dict[str, float]:
        """``bc_steps_per_round`` gradient steps on the aggregated dataset, from a new epoch over it;
        BC's logged metrics (loss and NLL averaged over the round's steps, entropy and fit on a
        fixed sample of the dataset)."""
        cfg = self.config
        if self.initial_param is not None:  # bc_from_scratch: the initial weights and a new Adam
            with torch.no_grad():
                self.flat.param.copy_(self.initial_param)
            self.optimizer = torch.optim.Adam([self.flat.param], lr=cfg.learning_rate, fused=True)
        if self.epoch_position > 0:
            self.epoch, self.epoch_position = self.epoch + 1, 0
        self._order_epoch = None  # the dataset grew: the epoch's order is drawn over all of it
        sums = torch.zeros(2)
        for _ in range(cfg.bc_steps_per_round):
            sums += self.train_step()
            self.num_updates += 1
        probe = PROBE_IMAGES if is_image_space(self.observation_space) else PROBE_VECTORS
        rng = np.random.default_rng([cfg.seed, _PROBE_STREAM, self.round])
        self.probe_steps = np.sort(rng.permutation(len(self.data))[:probe])
        return self.metrics(sums / cfg.bc_steps_per_round)

    # --- checkpoints ----------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        state["dagger"] = {"round": self.round, "demo_steps": self.demo_steps, "data": self.data.state_dict()}
        if self.initial_param is not None:
            state["dagger"]["initial_param"] = self.initial_param
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        saved = state["dagger"]
        self.data.load_state_dict(saved["data"])
        self.round, self.demo_steps = int(saved["round"]), int(saved["demo_steps"])
        if "initial_param" in saved and self.initial_param is not None:
            self.initial_param = saved["initial_param"].to(self.device)
        self.restored_data = True
        self.train_steps = np.arange(len(self.data))
        super().load_state_dict(state)

    def close(self) -> None:
        if self.expert is not None:
            self.expert.close()
        super().close()
