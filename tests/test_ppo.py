import numpy as np
import pytest
import torch

from agents import PPO, PPO2
from rlkit import evaluate
from rlkit.rollout import RolloutWorker


@pytest.mark.slow
def test_ppo2_learns_cartpole_within_100k_steps(zoo_cartpole):
    agent = PPO2("CartPole-v1", seed=1, **zoo_cartpole).learn(99_840, progress=False, eval_episodes=0)
    mean, _ = evaluate(agent, episodes=20, seed=123)
    assert mean >= 475


@pytest.mark.slow
def test_ppo_kl_penalty_learns_cartpole_within_150k_steps(zoo_cartpole):
    zoo_cartpole["learning_rate"] = 2e-3  # the KL objective's setting in benchmarks/learning.py
    agent = PPO("CartPole-v1", seed=1, **zoo_cartpole).learn(149_760, progress=False, eval_episodes=0)
    mean, _ = evaluate(agent, episodes=20, seed=123)
    assert mean >= 475


def test_adaptive_beta_follows_the_ppo_paper_rule():
    agent = PPO("CartPole-v1", seed=0, n_steps=64, batch_size=64, kl_target=0.01)
    obs = torch.randn(64, 4)
    params = agent.net.params(obs).detach()
    far = params + torch.tensor([3.0, -3.0])  # old policy far from the current one: KL >> 0.015
    agent.beta = 1.0
    agent._adapt_beta(obs, far)
    assert agent.beta == 2.0
    agent._adapt_beta(obs, params)  # identical policies: KL = 0 < 0.01 / 1.5
    assert agent.beta == 1.0


def test_kl_objective_uses_beta_and_clip_objective_does_not():
    kl_agent = PPO("CartPole-v1", seed=0, n_steps=64, batch_size=32, n_epochs=2)
    clip_agent = PPO2("CartPole-v1", seed=0, n_steps=64, batch_size=32, n_epochs=2)
    for agent in (kl_agent, clip_agent):
        agent.learn(128, progress=False, eval_episodes=0)
    assert kl_agent.config.objective == "kl" and clip_agent.config.objective == "clip"
    assert kl_agent.beta != kl_agent.config.kl_beta_init  # β moved after the updates


def test_box_actions_pendulum_runs_and_acts_within_bounds():
    agent = PPO2("Pendulum-v1", seed=0, n_steps=128, batch_size=64, n_epochs=2, normalize_obs=True, normalize_reward=True)
    agent.learn(256, progress=False, eval_episodes=0)
    actions = agent.act(np.zeros((5, 3), dtype=np.float32))
    assert actions.shape == (5, 1) and np.all(np.abs(actions) <= 2.0)
    assert agent.act(np.zeros(3, dtype=np.float32), deterministic=True).shape == (1,)
    assert agent.obs_rms.count == pytest.approx(255, abs=1e-3)  # 256 steps less one autoreset step


def test_atari_cnn_policy_updates(tmp_path):
    agent = PPO2("ALE/Pong-v5", seed=0, num_envs=2, n_steps=16, batch_size=16, n_epochs=1, torch_threads=1)
    before = [p.detach().clone() for p in agent.net.parameters()]
    agent.learn(32, progress=False, eval_episodes=0)
    assert agent.net.critic_encoder is None  # the CNN trunk is shared
    assert any(not torch.equal(a, b) for a, b in zip(before, agent.net.parameters()))


def test_rollout_marks_autoreset_steps_invalid_and_bootstraps_truncation():
    agent = PPO2("CartPole-v1", seed=0, n_steps=600, batch_size=64)
    worker = RolloutWorker(agent.envs, agent.policy, seed=0)
    buffer = agent.make_rollout_buffer()
    worker.collect(buffer)
    ends = np.flatnonzero(buffer.terminated[:, 0] + buffer.truncated[:, 0])
    assert len(ends) > 0
    assert not buffer.valid[ends[ends + 1 < 600] + 1, 0].any()
    assert buffer.valid[:, 0].sum() == 600 - len(ends[ends + 1 < 600])


def test_value_clipping_and_target_kl_paths_run():
    agent = PPO2("CartPole-v1", seed=0, n_steps=64, batch_size=32, n_epochs=10, clip_range_vf=0.2, target_kl=1e-6)
    agent.learn(64, progress=False, eval_episodes=0)
    # the first minibatch already exceeds a tiny target KL, so the epochs stop early
    assert agent.last_summary["updates"] == 1


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_inference_and_updates_on_gpu_with_envs_on_cpu():
    agent = PPO2("CartPole-v1", seed=0, device="auto", n_steps=64, batch_size=32)
    assert agent.device.type == "cuda"
    assert agent.net._numpy is None  # the NumPy mirror is a CPU-only path
    out = agent.policy.explore(np.zeros((1, 4), dtype=np.float32))
    assert out.actions.shape == (1,) and out.values.dtype == np.float32
    agent.learn(128, progress=False, eval_episodes=0)
    assert next(agent.net.parameters()).device.type == "cuda"
