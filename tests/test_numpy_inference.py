"""The NumPy rollout path must be the torch forward pass, to float32 rounding, at every point."""
import gymnasium as gym
import numpy as np
import pytest
import torch

from agents import PPO2


def _torch_reference(agent, obs, actions):
    with torch.no_grad():
        params, values = agent.net(torch.as_tensor(obs))
        log_probs = agent.head.log_prob(params, torch.as_tensor(actions))
    return params.numpy(), values.numpy(), log_probs.numpy()


def _assert_matches_torch(agent, obs):
    out = agent.net.rollout_step(obs)
    params, values, log_probs = _torch_reference(agent, obs, out.actions)
    np.testing.assert_allclose(out.dist_params, params, atol=1e-5)
    np.testing.assert_allclose(out.values, values, atol=1e-5)
    np.testing.assert_allclose(out.log_probs, log_probs, atol=1e-5)
    np.testing.assert_allclose(agent.net.rollout_values(obs), values, atol=1e-5)
    for a in out:
        assert a.dtype in (np.float32, np.int64)


@pytest.mark.parametrize("env_id,activation", [("CartPole-v1", "tanh"), ("Pendulum-v1", "relu")])
def test_numpy_path_matches_torch_after_updates_and_after_load(env_id, activation, tmp_path):
    agent = PPO2(env_id, seed=0, num_envs=2, n_steps=64, batch_size=32, n_epochs=2, activation=activation)
    assert agent.net._numpy is not None
    obs = np.random.default_rng(0).standard_normal((5, *agent.observation_space.shape)).astype(np.float32)
    _assert_matches_torch(agent, obs)
    before = agent.net.rollout_step(obs).dist_params
    agent.learn(256, progress=False, eval_episodes=0)  # optimiser steps write the shared memory in place
    assert not np.allclose(agent.net.rollout_step(obs).dist_params, before)
    _assert_matches_torch(agent, obs)
    agent.save(tmp_path / "a.pt")
    loaded = PPO2.load(tmp_path / "a.pt")
    np.testing.assert_allclose(loaded.net.rollout_step(obs).dist_params, agent.net.rollout_step(obs).dist_params)
    _assert_matches_torch(loaded, obs)


def test_numpy_sampling_follows_the_policy_and_the_seed():
    agent = PPO2("CartPole-v1", seed=3)
    obs = np.tile(np.array([[0.1, -0.2, 0.05, 0.3]], dtype=np.float32), (40_000, 1))
    with torch.no_grad():  # push the logits apart so the test sees more than a coin flip
        agent.head.linear.bias.copy_(torch.tensor([0.8, -0.4]))
    probs = torch.softmax(agent.net.params(torch.as_tensor(obs[:1])), -1).detach().numpy()[0]
    freq = np.bincount(agent.net.rollout_step(obs).actions, minlength=2) / len(obs)
    np.testing.assert_allclose(freq, probs, atol=4 * np.sqrt(probs[0] * probs[1] / len(obs)))
    again = PPO2("CartPole-v1", seed=3)
    with torch.no_grad():
        again.head.linear.bias.copy_(torch.tensor([0.8, -0.4]))
    agent.np_rng = np.random.default_rng(3)
    agent.net.use_numpy_rollouts(agent.np_rng)
    np.testing.assert_array_equal(agent.net.rollout_step(obs[:100]).actions, again.net.rollout_step(obs[:100]).actions)


def test_gaussian_numpy_sampling_has_the_policy_mean_and_std():
    agent = PPO2("Pendulum-v1", seed=0, log_std_init=-0.5)
    obs = np.zeros((50_000, 3), dtype=np.float32)
    out = agent.net.rollout_step(obs)
    mean = out.dist_params[0, 0]
    assert out.actions.mean() == pytest.approx(mean, abs=0.01)
    assert out.actions.std() == pytest.approx(np.exp(-0.5), rel=0.02)


def test_numpy_inference_switch_and_cnn_fall_back_to_torch():
    assert PPO2("CartPole-v1", numpy_inference=False).net._numpy is None
    assert PPO2("CartPole-v1", share_trunk=True).net._numpy is None  # not a twin MLP
    agent = PPO2("CartPole-v1", numpy_inference=False)
    out = agent.policy.explore(np.zeros((3, 4), dtype=np.float32))
    assert out.actions.shape == (3,) and isinstance(out.log_probs, np.ndarray)


def test_numpy_path_follows_parameter_memory_that_moves():
    """Worker processes (A3C, Hogwild) get the net after ``share_memory()``, which moves every
    parameter's storage: the NumPy views must follow it, and a new layout or a load as well."""
    from rlkit.optim import FlatParameters

    agent = PPO2("CartPole-v1", seed=0, num_envs=2, n_steps=64, batch_size=32)
    obs = np.random.default_rng(1).standard_normal((5, 4)).astype(np.float32)
    _assert_matches_torch(agent, obs)
    address = agent.flat.param.data_ptr()
    agent.net.share_memory()
    assert agent.flat.param.is_shared() and agent.flat.param.data_ptr() != address
    _ = [torch.randn(4096) for _ in range(64)]  # reuse freed memory, as a worker's other work would
    _assert_matches_torch(agent, obs)
    other = PPO2("CartPole-v1", seed=1)
    agent.net.load_state_dict(other.net.state_dict())
    _assert_matches_torch(agent, obs)
    np.testing.assert_allclose(agent.net.rollout_step(obs).dist_params, other.net.rollout_step(obs).dist_params, atol=1e-6)
    address = agent.net.head.linear.weight.data_ptr()
    agent.flat = FlatParameters(agent.net)  # every parameter moves into a new buffer
    assert agent.net.head.linear.weight.data_ptr() != address
    _assert_matches_torch(agent, obs)


def test_numpy_path_follows_optimiser_steps_after_share_memory():
    agent = PPO2("CartPole-v1", seed=0, num_envs=2, n_steps=64, batch_size=32, n_epochs=2)
    agent.net.share_memory()
    obs = np.random.default_rng(2).standard_normal((5, 4)).astype(np.float32)
    before = agent.net.rollout_step(obs).dist_params
    agent.learn(256, progress=False, eval_episodes=0)  # steps write the shared buffer in place
    assert agent.flat.param.is_shared()
    assert not np.allclose(agent.net.rollout_step(obs).dist_params, before)
    _assert_matches_torch(agent, obs)


def test_numpy_mirror_built_before_flat_parameters_sees_the_flat_buffer():
    from rlkit.networks import ActorCritic
    from rlkit.optim import FlatParameters

    torch.manual_seed(0)
    net = ActorCritic(gym.spaces.Box(-1, 1, (3,)), gym.spaces.Box(-1, 1, (2,)), activation="relu")
    assert net.use_numpy_rollouts(np.random.default_rng(0))
    flat = FlatParameters(net)
    with torch.no_grad():
        flat.param.add_(0.1)  # written through the flat buffer only
    obs = np.random.default_rng(3).standard_normal((4, 3)).astype(np.float32)
    with torch.no_grad():
        params, values = net(torch.as_tensor(obs))
    out = net.rollout_step(obs)
    np.testing.assert_allclose(out.dist_params, params.numpy(), atol=1e-5)
    np.testing.assert_allclose(out.values, values.numpy(), atol=1e-5)


@pytest.mark.parametrize("name,env_id", [("DQN", "CartPole-v1"), ("DDPG", "Pendulum-v1")])
def test_off_policy_checkpoints_saved_with_numpy_inference_still_load(name, env_id, tmp_path):
    """numpy_inference is an on-policy field; checkpoints from when every config had it load."""
    import json

    import agents
    from rlkit.checkpoint import load_checkpoint, save_checkpoint
    from rlkit.errors import UnknownConfigKeyError

    cls = getattr(agents, name)
    with pytest.raises(UnknownConfigKeyError):
        cls(env_id, numpy_inference=True)
    cls(env_id, seed=0, buffer_size=1000).save(tmp_path / "a.pt")
    payload = load_checkpoint(tmp_path / "a.pt")
    payload["config"] = json.dumps({**json.loads(payload["config"]), "numpy_inference": True})
    save_checkpoint(tmp_path / "a.pt", payload)
    loaded = cls.load(tmp_path / "a.pt")
    assert not hasattr(loaded.config, "numpy_inference")
