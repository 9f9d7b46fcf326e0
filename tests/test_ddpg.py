import copy
import os
import subprocess
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch

from agents import DDPG, DQN
from rlkit import evaluate
from rlkit.checkpoint import load_checkpoint
from rlkit.errors import UnsupportedSpaceError

ROOT = Path(__file__).resolve().parent.parent

TINY = dict(buffer_size=2000, learning_starts=64, batch_size=32, net_arch=(32, 32))


def _rescaled_pendulum(low, high):
    # agent-side bounds [low, high], not symmetric about 0: what the env sees is mapped back to [-2, 2]
    # float32 bounds, as the env's own action space: float64 ones make Gymnasium warn that it casts them
    low, high = np.float32(low), np.float32(high)
    return lambda: gym.wrappers.RescaleAction(gym.make("Pendulum-v1"), min_action=low, max_action=high)


def _unbounded_pendulum():
    unbounded = gym.spaces.Box(-np.inf, np.inf, (1,), np.float32)
    return gym.wrappers.TransformAction(gym.make("Pendulum-v1"), lambda a: np.clip(a, -2.0, 2.0), unbounded)


def _batch(agent, n=16):
    rng = np.random.default_rng(0)
    obs = torch.as_tensor(rng.standard_normal((n, 3)), dtype=torch.float32)
    rewards = torch.as_tensor(rng.standard_normal(n), dtype=torch.float32)
    return obs, rewards


def test_wrong_action_space_names_the_agents_that_fit():
    with pytest.raises(UnsupportedSpaceError, match="DQN"):
        DDPG("CartPole-v1")
    with pytest.raises(UnsupportedSpaceError, match="DDPG"):
        DQN("Pendulum-v1")


@pytest.mark.parametrize("low,high", [(1.0, 3.0), (-0.3, 0.7)])
def test_actions_respect_any_bounds_during_warm_up_exploration_and_evaluation(low, high):
    agent = DDPG(_rescaled_pendulum(low, high), seed=0, action_noise_std=2.0, **TINY)  # noise far past the bounds
    low, high = agent.action_space.low[0], agent.action_space.high[0]  # as float32
    span = high - low
    obs = np.random.default_rng(0).standard_normal((256, 3)).astype(np.float32)
    warm_up = agent.explore(obs, 0.0)
    assert warm_up.min() >= low and warm_up.max() <= high
    assert warm_up.min() < low + 0.1 * span and warm_up.max() > high - 0.1 * span  # uniform over the whole range
    agent.num_steps = agent.config.learning_starts
    noisy = agent.explore(obs, 0.5)
    assert noisy.min() >= low and noisy.max() <= high and (noisy == low).any() and (noisy == high).any()
    greedy = agent.act(obs, deterministic=True)
    assert greedy.min() >= low and greedy.max() <= high
    # the critic sees unit actions: the bounds map onto [-1, 1]
    torch.testing.assert_close(agent.scale.to_unit(torch.tensor([[low], [(low + high) / 2], [high]])),
                               torch.tensor([[-1.0], [0.0], [1.0]]))
    agent.learn(200, progress=False, eval_episodes=0)
    actions = agent.replay.actions[agent.replay.valid]
    assert actions.min() >= low and actions.max() <= high


def test_unbounded_action_dimensions_are_not_squashed():
    agent = DDPG(_unbounded_pendulum, seed=0, **TINY)
    assert not agent.scale.bounded.any()
    with torch.no_grad():
        agent.actor.net[-1].bias.fill_(5.0)  # past tanh's range
    obs = np.zeros((4, 3), dtype=np.float32)
    assert (agent.act(obs) > 4.0).all()
    agent.learn(150, progress=False, eval_episodes=0)
    assert np.isfinite(agent.replay.actions).all()


def test_exploration_noise_scale_and_ornstein_uhlenbeck_memory_and_reset():
    agent = DDPG("Pendulum-v1", seed=0, action_noise_std=0.1, **{**TINY, "learning_starts": 0})
    obs = np.zeros((4000, 3), dtype=np.float32)
    deviation = agent.explore(obs, 0.0) - agent.act(obs)
    # σ is in unit actions; Pendulum's [-2, 2] is 2 env units per unit
    assert deviation.std() == pytest.approx(0.2, rel=0.05)
    ou = DDPG("Pendulum-v1", seed=0, num_envs=2, action_noise="ornstein-uhlenbeck", action_noise_std=0.3,
              **{**TINY, "learning_starts": 0})
    samples = np.stack([ou._noise(2) for _ in range(2000)])[:, 0, 0]
    white = DDPG("Pendulum-v1", seed=0, **{**TINY, "learning_starts": 0})
    white_samples = np.stack([white._noise(1) for _ in range(2000)])[:, 0, 0]
    lag_one = lambda x: np.corrcoef(x[:-1], x[1:])[0, 1]  # noqa: E731
    assert lag_one(samples) > 0.9 and abs(lag_one(white_samples)) < 0.1
    ou.end_episodes(np.array([True, False]))
    assert ou.noise_state[0].tolist() == [0.0] and ou.noise_state[1, 0] != 0.0


def test_td_target_uses_the_target_actor_and_the_target_critic():
    agent = DDPG("Pendulum-v1", seed=0, **TINY)
    with torch.no_grad():  # make targets and online nets differ
        agent.actor_target.flat.param.add_(0.3)
        agent.critic_target.flat.param.add_(0.1)
    next_obs, rewards = _batch(agent)
    bootstrap = torch.full((16,), 0.9)
    with torch.no_grad():
        expected = rewards + bootstrap * agent.critic_target.module(next_obs, agent.actor_target.module(next_obs))
        online = rewards + bootstrap * agent.critic(next_obs, agent.actor(next_obs))
    torch.testing.assert_close(agent.td_targets(next_obs, rewards, bootstrap), expected)
    assert not torch.allclose(expected, online)


def test_one_update_critic_regresses_actor_ascends_the_frozen_critic_targets_average():
    agent = DDPG("Pendulum-v1", seed=0, tau=0.1, **TINY)
    agent.learn(100, progress=False, eval_episodes=0)
    sample = agent.replay.sample(32)
    obs = torch.as_tensor(sample.obs)
    unit_actions = agent.scale.to_unit(torch.as_tensor(sample.actions))
    target = agent.td_targets(torch.as_tensor(sample.next_obs), torch.as_tensor(sample.rewards),
                              torch.as_tensor(sample.discounts) * (1 - torch.as_tensor(sample.terminated)))
    critic_loss = torch.nn.functional.mse_loss(agent.critic(obs, unit_actions), target)
    expected_critic_grad = torch.autograd.grad(critic_loss, list(agent.critic.parameters()))
    actor_before = copy.deepcopy(agent.actor)
    targets_before = (agent.actor_target.flat.param.clone(), agent.critic_target.flat.param.clone())

    agent.update(sample)

    # the critic's gradient is its TD regression alone: the actor step added nothing to it
    torch.testing.assert_close(agent.critic_flat.param.grad, _flat(expected_critic_grad))
    # the actor's gradient is -∇θ Q(s, π_θ(s)) through the critic as it stands after its step
    actor_loss = -agent.critic(obs, actor_before(obs)).mean()
    torch.testing.assert_close(agent.actor_flat.param.grad, _flat(torch.autograd.grad(actor_loss, list(actor_before.parameters()))))
    assert all(p.requires_grad for p in agent.critic.parameters())  # unfrozen again
    for before, target_copy, online in zip(targets_before, (agent.actor_target, agent.critic_target),
                                           (agent.actor_flat, agent.critic_flat)):
        torch.testing.assert_close(target_copy.flat.param, 0.9 * before + 0.1 * online.param.detach())


def _flat(grads):
    return torch.cat([g.reshape(-1) for g in grads])


def test_save_load_round_trip_keeps_nets_targets_noise_and_replay(tmp_path):
    agent = DDPG("Pendulum-v1", seed=0, action_noise="ornstein-uhlenbeck", **TINY).learn(300, progress=False, eval_episodes=0)
    agent.save(tmp_path / "d.pt")
    loaded = DDPG.load(tmp_path / "d.pt")
    for name in ("actor_flat", "critic_flat"):
        torch.testing.assert_close(getattr(loaded, name).param, getattr(agent, name).param)
    for name in ("actor_target", "critic_target"):
        torch.testing.assert_close(getattr(loaded, name).flat.param, getattr(agent, name).flat.param)
    for name in ("frames", "actions", "returns", "valid"):
        np.testing.assert_array_equal(getattr(loaded.replay, name), getattr(agent.replay, name))
    np.testing.assert_array_equal(loaded.noise_state, agent.noise_state)
    obs = np.random.default_rng(0).standard_normal((8, 3)).astype(np.float32)
    np.testing.assert_array_equal(loaded.act(obs), agent.act(obs))
    # training continues identically from the loaded copy
    sample = agent.replay.sample(32)
    assert agent.update(sample).metrics == loaded.update(sample).metrics


def test_resume_keeps_replay_and_counters(tmp_path):
    run = tmp_path / "run"
    DDPG("Pendulum-v1", seed=0, **TINY).learn(400, run, progress=False, eval_episodes=0)
    resumed = DDPG("Pendulum-v1", seed=0, **TINY)
    resumed.learn(800, run, resume=True, progress=False, eval_episodes=0)
    assert resumed.num_steps == 800 and resumed.num_updates == 800 - 64 + 1
    # every step is a transition except the autoreset step after each 200-step episode (at 201 and 601;
    # the resume at 400 resets the envs instead): the 399 pre-resume transitions survived
    assert resumed.replay.num_transitions == 798


@pytest.mark.slow
def test_learns_pendulum_on_a_small_budget():
    agent = DDPG("Pendulum-v1", seed=0, gamma=0.98, learning_starts=1000, net_arch=(64, 64))
    agent.learn(6000, progress=False, eval_episodes=0)
    mean, _ = evaluate(agent, episodes=5, seed=100)
    assert mean > -400  # random play scores about -1200


@pytest.mark.slow
def test_cli_trains_and_resumes_with_its_replay(tmp_path):
    run = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    base = [sys.executable, "-m", "rlkit.cli", "train", "ddpg", "--env", "Pendulum-v1", "--preset", "none", "--eval-episodes", "0",
            "--no-progress", "--log-dir", str(run), "--learning-starts", "100", "--batch-size", "32", "--net-arch", "32,32",
            "--buffer-size", "5000", "--action-noise", "ornstein-uhlenbeck"]
    subprocess.run([*base, "--total-steps", "1000"], env=env, check=True, timeout=120)
    subprocess.run([*base, "--total-steps", "2000", "--resume"], env=env, check=True, timeout=120)
    payload = load_checkpoint(run / "checkpoint.pt")
    assert payload["counters"]["num_steps"] == 2000
    # 2000 steps less one autoreset step after each of the 200-step episodes that ended before the
    # last one (the resume at 1000 resets the envs instead of autoresetting): 1000 + 1000 - 4 - 4
    assert int(payload["state"]["replay"]["valid"].sum()) == 1992


@pytest.mark.parametrize("noise", ["normal", "ornstein-uhlenbeck", "none"])
def test_several_envs_n_step_and_every_noise_train(noise):
    agent = DDPG("Pendulum-v1", seed=0, num_envs=3, n_step=3, action_noise=noise, **TINY)
    agent.learn(450, progress=False, eval_episodes=0)
    assert agent.num_steps == 450 and agent.num_updates == (450 - 66) // 3 + 1
    assert agent.replay.n_step == 3 and np.isclose(agent.replay.discounts[agent.replay.valid], 0.99 ** 3).all()
    assert torch.isfinite(agent.actor_flat.param).all() and torch.isfinite(agent.critic_flat.param).all()


def test_channels_last_images_get_a_typed_error_and_frame_stacks_train():
    class Pixels(gym.Env):
        action_space = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)

        def __init__(self, shape):
            self.observation_space = gym.spaces.Box(0, 255, shape, np.uint8)

        def reset(self, *, seed=None, options=None):
            super().reset(seed=seed)
            return self.observation_space.sample(), {}

        def step(self, action):
            return self.observation_space.sample(), float(action[0]), False, False, {}

    with pytest.raises(UnsupportedSpaceError, match="channels first"):
        DDPG(lambda: Pixels((84, 84, 3)), seed=0)
    agent = DDPG(lambda: Pixels((4, 84, 84)), seed=0, torch_threads=1, buffer_size=400, learning_starts=40, batch_size=8)
    agent.learn(60, progress=False, eval_episodes=0)
    assert agent.replay.k == 4 and agent.num_updates == 21
