import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from agents import A2C, Reinforce
from rlkit import evaluate
from rlkit.checkpoint import load_checkpoint
from rlkit.errors import ConfigError
from rlkit.rollout import RolloutWorker
from rlkit.types import RolloutBatch
from run_files import csv_steps

ROOT = Path(__file__).resolve().parent.parent


# --- learning (the 3-seed versions are benchmarks/learning.py) -------------------------------------
@pytest.mark.slow
def test_a2c_learns_cartpole_within_200k_steps():
    agent = A2C("CartPole-v1", seed=1, num_envs=8).learn(200_000, progress=False, eval_episodes=0)
    assert evaluate(agent, episodes=20, seed=123)[0] >= 475


@pytest.mark.slow
def test_reinforce_with_learned_baseline_learns_cartpole_within_300k_steps():
    agent = Reinforce("CartPole-v1", seed=1, baseline="value").learn(300_000, progress=False, eval_episodes=0)
    assert evaluate(agent, episodes=20, seed=123)[0] >= 475


# --- the estimator ------------------------------------------------------------------------------
def _episodes_from_initial_policy(agent: Reinforce, steps: int) -> dict[str, np.ndarray]:
    buffer = agent.make_rollout_buffer()
    worker = RolloutWorker(agent.envs, agent.policy, seed=0)
    _, last_values = worker.collect(buffer)
    return agent.finished_episodes(buffer.batch(last_values, worker.obs))


def _per_episode_gradients(agent: Reinforce, episodes: dict[str, np.ndarray], baseline: str) -> torch.Tensor:
    """One flattened policy-gradient estimate Σ_t (G_t − b) ∇log π(a_t|s_t) per episode."""
    agent.config.baseline = baseline
    ends = np.flatnonzero(np.maximum(episodes["terminated"], episodes["truncated"])) + 1
    starts = np.concatenate([[0], ends[:-1]])
    obs = torch.as_tensor(episodes["obs"])
    actions = torch.as_tensor(episodes["actions"])
    returns = torch.as_tensor(episodes["returns"])
    grads = []
    for a, b in zip(starts, ends):
        agent.flat.zero_grad()
        params, values = agent.net(obs[a:b])
        agent.policy_loss(params, actions[a:b], agent.weights(returns[a:b], values)).backward()
        grads.append(agent.flat.param.grad.clone())
    return torch.stack(grads)


@pytest.mark.slow
def test_baseline_lowers_the_variance_of_the_per_episode_gradient():
    agent = Reinforce("CartPole-v1", seed=0, n_steps=4000)
    episodes = _episodes_from_initial_policy(agent, 4000)
    assert np.maximum(episodes["terminated"], episodes["truncated"]).sum() >= 50
    # running-mean baseline: the mean return of earlier episodes (here: of this fixed batch)
    agent.baseline_mean = float(episodes["returns"].mean())
    none = _per_episode_gradients(agent, episodes, "none")
    mean = _per_episode_gradients(agent, episodes, "mean")
    # learned baseline: fit V(s) to the returns on this batch first (critic only)
    obs, returns = torch.as_tensor(episodes["obs"]), torch.as_tensor(episodes["returns"])
    critic = torch.optim.Adam(list(agent.net.encoder.parameters()) + list(agent.net.value_head.parameters()), lr=1e-2)
    for _ in range(300):
        critic.zero_grad(set_to_none=False)  # keep the grads as views of the flat buffer
        (agent.net.values(obs) - returns).pow(2).mean().backward()
        critic.step()
    value = _per_episode_gradients(agent, episodes, "value")
    total_var = {name: g.var(dim=0).sum().item() for name, g in (("none", none), ("mean", mean), ("value", value))}
    # (measured with seed 0: none 7.1e3, running mean 4.3e3, learned value 2.2e3)
    assert total_var["mean"] < 0.75 * total_var["none"], total_var
    assert total_var["value"] < 0.75 * total_var["mean"], total_var
    # the mean of the estimate moves much less than its spread (a baseline adds no bias in expectation)
    assert (mean.mean(0) - none.mean(0)).norm() < none.std(0).norm()


def _batch(rewards, terminated, truncated, values, last_values, valid=None) -> RolloutBatch:
    T = len(rewards)
    col = lambda x, dtype=np.float32: np.asarray(x, dtype=dtype)[:, None]  # noqa: E731
    return RolloutBatch(
        obs=np.zeros((T, 1, 4), np.float32), actions=np.zeros((T, 1), np.int64), log_probs=np.zeros((T, 1), np.float32),
        values=col(values), dist_params=np.zeros((T, 1, 2), np.float32), rewards=col(rewards),
        terminated=col(terminated), truncated=col(truncated),
        valid=col(valid if valid is not None else [True] * T, bool), last_values=np.asarray([last_values], np.float32),
        last_obs=np.zeros((1, 4), np.float32),
    )


def test_whole_episodes_reward_to_go_truncation_bootstrap_and_carry_over():
    agent = Reinforce("CartPole-v1", seed=0, gamma=0.5, baseline="value")
    # episode 1: rows 0-1 (terminated at 1); row 2 is the autoreset step; episode 2 starts at row 3
    first = agent.finished_episodes(_batch([1, 2, 0, 4], [0, 1, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0], 0,
                                           valid=[True, True, False, True]))
    np.testing.assert_allclose(first["returns"], [1 + 0.5 * 2, 2])
    # episode 2 continues into the next rollout and is truncated there: bootstrap from V(final obs) = 10
    second = agent.finished_episodes(_batch([8, 0], [0, 0], [1, 0], [0, 10], 0, valid=[True, False]))
    np.testing.assert_allclose(second["returns"], [4 + 0.5 * (8 + 0.5 * 10), 8 + 0.5 * 10])
    assert len(second["obs"]) == 2  # the held-back first step of episode 2 is trained on now


def test_whole_return_weights_and_no_bootstrap_without_a_critic():
    agent = Reinforce("CartPole-v1", seed=0, gamma=0.5, baseline="mean", reward_to_go=False)
    ep = agent.finished_episodes(_batch([1, 2, 4], [0, 0, 0], [0, 0, 1], [0, 0, 0], 100))
    np.testing.assert_allclose(ep["returns"], [1 + 0.5 * 2 + 0.25 * 4] * 3)  # R(τ) on every step, no V(final)


def test_envs_reset_drops_partial_episodes():
    agent = Reinforce("CartPole-v1", seed=0)
    assert agent.finished_episodes(_batch([1, 1], [0, 0], [0, 0], [0, 0], 0)) == {}
    agent.start_rollouts()
    ep = agent.finished_episodes(_batch([3], [1], [0], [0], 0))
    np.testing.assert_allclose(ep["returns"], [3])


def test_running_mean_baseline_tracks_returns_and_is_checkpointed(tmp_path):
    agent = Reinforce("CartPole-v1", seed=0, baseline="mean", n_steps=256)
    agent.learn(1024, progress=False, eval_episodes=0)
    assert agent.baseline_mean is not None and agent.baseline_mean > 0
    agent.save(tmp_path / "r.pt")
    assert Reinforce.load(tmp_path / "r.pt").baseline_mean == pytest.approx(agent.baseline_mean)


# --- A2C switches ------------------------------------------------------------------------------
def test_a2c_optimiser_and_trunk_switches():
    rms = A2C("CartPole-v1", seed=0)
    adam = A2C("CartPole-v1", seed=0, use_rms_prop=False)
    assert isinstance(rms.optimizer, torch.optim.RMSprop) and isinstance(adam.optimizer, torch.optim.Adam)
    assert rms.optimizer.defaults["alpha"] == 0.99 and rms.optimizer.defaults["eps"] == 1e-5
    assert rms.net.twin  # separate actor and critic MLPs by default
    shared = A2C("CartPole-v1", seed=0, share_trunk=True)
    assert not shared.net.twin and shared.net.critic_encoder is None


def test_a2c_gae_lambda_one_is_n_step_returns():
    agent = A2C("CartPole-v1", seed=0, n_steps=3, gamma=0.9)
    from rlkit.returns import compute_gae

    batch = _batch([1, 1, 1], [0, 0, 0], [0, 0, 0], [0.5, 0.2, 0.1], 2.0)
    _, returns = compute_gae(batch.rewards, batch.values, batch.last_values, batch.terminated, batch.truncated,
                             agent.config.gamma, agent.config.gae_lambda)
    np.testing.assert_allclose(returns[0, 0], 1 + 0.9 + 0.81 + 0.729 * 2.0, rtol=1e-6)


def test_a2c_atari_cnn_shared_trunk_updates():
    agent = A2C("ALE/Pong-v5", seed=0, num_envs=2, n_steps=5, ent_coef=0.01, torch_threads=1)
    before = agent.flat.param.detach().clone()
    agent.learn(20, progress=False, eval_episodes=0)
    assert agent.net.critic_encoder is None and not torch.equal(before, agent.flat.param)


def _image_actor_critic():
    import gymnasium as gym

    from rlkit.networks import ActorCritic

    torch.manual_seed(0)
    return ActorCritic(gym.spaces.Box(0, 255, (4, 84, 84), np.uint8), gym.spaces.Discrete(6))


def _count_record_uses(monkeypatch) -> list[bool]:
    """One entry per ``ActivationRecord.features`` call: whether it answered from the record."""
    from rlkit.fast.cnn import ActivationRecord

    answered, features = [], ActivationRecord.features

    def counted(self, *args):
        out = features(self, *args)
        answered.append(out is not None)
        return out

    monkeypatch.setattr(ActivationRecord, "features", counted)
    return answered


def test_recorded_activations_give_the_forward_pass_and_its_gradients(monkeypatch):
    net = _image_actor_critic()
    assert net.record_rollouts(12)
    answered = _count_record_uses(monkeypatch)
    obs = torch.from_numpy(np.random.default_rng(0).integers(0, 256, (12, 4, 84, 84), dtype=np.uint8))
    for chunk in obs.split(4):  # a rollout of three steps over four envs
        net.rollout_step(chunk.numpy())
    rows = torch.tensor([0, 2, 3, 7, 11])  # the valid rows of the batch
    valid = np.zeros((3, 4), bool)
    valid.flat[rows.numpy()] = True

    def gradient(forward):
        for p in net.parameters():
            p.grad = None
        params, values = forward()
        (params.log_softmax(-1)[:, 1].sum() + values.pow(2).sum()).backward()
        return params, torch.cat([p.grad.flatten() for p in net.parameters()])

    fresh_params, fresh_grad = gradient(lambda: net(obs[rows]))
    recorded_params, recorded_grad = gradient(lambda: net.forward_rollout(obs[rows], valid))
    torch.testing.assert_close(recorded_params, fresh_params, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(recorded_grad, fresh_grad, rtol=1e-4, atol=1e-5)
    # and over every row, in record order
    fresh_params, fresh_grad = gradient(lambda: net(obs))
    recorded_params, recorded_grad = gradient(lambda: net.forward_rollout(obs, np.ones((3, 4), bool)))
    torch.testing.assert_close(recorded_grad, fresh_grad, rtol=1e-4, atol=1e-5)
    assert answered == [True, True]


def test_activation_record_only_matches_the_rollout_it_recorded():
    net = _image_actor_critic()
    net.record_rollouts(8)
    record = net._record
    obs = torch.from_numpy(np.random.default_rng(1).integers(0, 256, (8, 4, 84, 84), dtype=np.uint8))
    net.rollout_step(obs[:4].numpy())
    assert not record.matches(obs[:4], None)  # half a rollout
    net.rollout_step(obs[4:].numpy())
    assert record.matches(obs, None) and record.matches(obs[[1, 5]], torch.tensor([1, 5]))
    other = obs.clone()
    other[3, 2, 40, 40] ^= 1  # one pixel of one frame
    assert not record.matches(other, None) and not record.matches(obs[[1, 5]], torch.tensor([1, 6]))
    net.rollout_step(obs[:4].numpy())  # more rows than one rollout: spoiled until cleared
    assert not record.matches(obs, None)
    net.forget_rollout()
    assert not record.matches(obs, None)
    with torch.no_grad():  # a batch that is not the recorded one takes the plain forward pass
        torch.testing.assert_close(net.forward_rollout(obs, np.ones((2, 4), bool)), net(obs))
    assert not A2C("CartPole-v1", seed=0).net.record_rollouts(8)  # MLPs: nothing to gain


def test_a2c_update_through_recorded_activations_matches_a_fresh_forward_pass(monkeypatch):
    runs = []
    for keep in (True, False):
        agent = A2C("ALE/Pong-v5", seed=0, num_envs=2, n_steps=5, ent_coef=0.01, torch_threads=1)
        if not keep:
            agent.net._record = None
        answered = _count_record_uses(monkeypatch)
        agent.learn(10, progress=False, eval_episodes=0)  # one update
        runs.append((agent, answered))
    (kept, uses), (fresh, no_uses) = runs
    assert uses == [True] and no_uses == []
    assert kept.net._record.count == 0  # cleared once the parameters moved
    torch.testing.assert_close(kept.flat.param.grad, fresh.flat.param.grad, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(kept.flat.param, fresh.flat.param, rtol=0, atol=1e-5)
    kept.net.rollout_step(np.zeros((2, 4, 84, 84), np.uint8))
    assert kept.net._record.count == 2
    kept.load_state_dict(fresh.state_dict())
    assert kept.net._record.count == 0  # recorded with the parameters just replaced


def test_a2c_on_image_observations_updates_from_the_recorded_rollout(monkeypatch):
    """The Pong-shaped path without an emulator: every update of A2C with a CNN answers from the
    rollout it recorded, autoreset rows (left out of the batch) included."""
    import gymnasium as gym

    class Frames(gym.Env):
        observation_space = gym.spaces.Box(0, 255, (4, 84, 84), np.uint8)
        action_space = gym.spaces.Discrete(6)

        def reset(self, *, seed=None, options=None):
            super().reset(seed=seed)
            return self.np_random.integers(0, 256, (4, 84, 84), dtype=np.uint8), {}

        def step(self, action):
            frame = self.np_random.integers(0, 256, (4, 84, 84), dtype=np.uint8)
            return frame, 0.0, bool(self.np_random.random() < 0.2), False, {}

    answered = _count_record_uses(monkeypatch)
    agent = A2C(Frames, seed=0, num_envs=2, n_steps=5, torch_threads=1)
    agent.learn(30, progress=False, eval_episodes=0)  # three updates
    assert answered == [True, True, True]


def test_reinforce_rejects_unknown_baseline():
    with pytest.raises(ConfigError, match="baseline"):
        Reinforce("CartPole-v1", baseline="median")


# --- save/load and resume --------------------------------------------------------------------------
@pytest.mark.parametrize("cls,kwargs", [(A2C, dict(num_envs=4)), (Reinforce, dict(n_steps=200)),
                                        (Reinforce, dict(n_steps=200, baseline="mean"))])
def test_save_load_round_trip(cls, kwargs, tmp_path):
    agent = cls("CartPole-v1", seed=0, **kwargs).learn(1600, progress=False, eval_episodes=0)
    agent.save(tmp_path / "a.pt")
    loaded = cls.load(tmp_path / "a.pt")
    obs = np.random.default_rng(0).standard_normal((16, 4)).astype(np.float32)
    np.testing.assert_array_equal(loaded.act(obs, deterministic=True), agent.act(obs, deterministic=True))
    torch.testing.assert_close(loaded.flat.param, agent.flat.param)
    assert loaded.num_steps == agent.num_steps
    state, loaded_state = agent.optimizer.state_dict()["state"], loaded.optimizer.state_dict()["state"]
    for key in state[0]:
        torch.testing.assert_close(loaded_state[0][key], state[0][key])



@pytest.mark.slow
@pytest.mark.parametrize("name,flags", [("a2c", ["--num-envs", "4"]), ("reinforce", ["--n-steps", "250"])])
def test_cli_resume_continues_the_run(name, flags, tmp_path):
    run = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    base = [sys.executable, "-m", "rlkit.cli", "train", name, "--env", "CartPole-v1", "--preset", "none", "--eval-episodes", "0",
            "--no-progress", "--log-dir", str(run), *flags]
    subprocess.run([*base, "--total-steps", "2000"], env=env, check=True, timeout=120)
    first = csv_steps(run)
    subprocess.run([*base, "--total-steps", "4000", "--resume"], env=env, check=True, timeout=120)
    assert load_checkpoint(run / "checkpoint.pt")["counters"]["num_steps"] == 4000
    steps = csv_steps(run)
    assert steps[: len(first)] == first and steps[-1] == 4000
    assert steps == sorted(set(steps))  # one continuous, non-repeating curve
