"""GAIL (agents/gail.py): a PPO2 generator trained on a discriminator's rewards only."""
import json
from dataclasses import dataclass

import gymnasium as gym
import numpy as np
import pytest
import torch
from torch.nn import functional as F

from agents import A2C, GAIL
from agents.configs import A2CConfig, DiscriminatorConfig
from agents.gail import AdversarialImitation
from rlkit import evaluate
from rlkit.buffers.demonstrations import collect_demonstrations
from rlkit.checkpoint import load_checkpoint
from rlkit.cli import main
from rlkit.errors import CheckpointError, ConfigError, DemonstrationsError
from rlkit.rollout import RolloutWorker
from run_files import csv_rows
from toy_experts import cartpole_expert, pendulum_expert

QUIET = dict(progress=False, eval_episodes=0)
SMALL = dict(num_envs=2, n_steps=64, batch_size=64, n_epochs=2, disc_batch_size=32)  # 128 env steps a round
CANARY = 12345.0


@pytest.fixture(scope="module")
def cartpole_demos(tmp_path_factory):
    demos = collect_demonstrations(cartpole_expert, "CartPole-v1", episodes=10, seed=0)
    assert demos.episode_returns.tolist() == [500.0] * 10
    return demos.save(tmp_path_factory.mktemp("demos") / "cartpole.npz")


@pytest.fixture(scope="module")
def pendulum_demos(tmp_path_factory):
    demos = collect_demonstrations(pendulum_expert, "Pendulum-v1", episodes=2, seed=0)
    return demos.save(tmp_path_factory.mktemp("demos") / "pendulum.npz")


def _rollout(agent, seed=0):
    buffer = agent.make_rollout_buffer()
    worker = RolloutWorker(agent.envs, agent.policy, seed=seed)
    _, last_values = worker.collect(buffer)
    return buffer.batch(last_values, worker.obs)



def canary_cartpole():
    """CartPole whose every reward is CANARY: a value no discriminator reward comes near."""
    return gym.wrappers.TransformReward(gym.make("CartPole-v1"), lambda r: CANARY)


# --- the generator trains on D's rewards only ----------------------------------------------------------


def test_the_generator_never_sees_the_env_reward_only_the_discriminators(cartpole_demos, tmp_path):
    agent = GAIL(canary_cartpole, demos=str(cartpole_demos), seed=0, **SMALL)
    seen = []
    training_rewards = agent.training_rewards

    def spy(batch):
        rewards = training_rewards(batch)  # what PPO's update turns into advantages and returns
        # D's reward for those (s, a), computed here by hand: raw observations ‖ one-hot actions
        x = np.concatenate([batch.obs, np.eye(2, dtype=np.float32)[batch.actions]], axis=-1)
        with torch.no_grad():
            logits = agent.discriminator(torch.as_tensor(x.reshape(-1, 6))).double().reshape(batch.valid.shape)
        expected = -torch.log1p(-torch.sigmoid(logits)).numpy()  # −log(1 − D)
        seen.append((rewards.copy(), expected, batch.rewards.copy(), batch.valid.copy()))
        return rewards

    agent.training_rewards = spy
    agent.learn(3 * 128, tmp_path / "run", **QUIET)
    assert len(seen) == 3
    for rewards, expected, env_rewards, valid in seen:
        assert (env_rewards[valid] == CANARY).all()  # the env did pay the canary
        assert not np.isin(rewards, [CANARY]).any() and np.abs(rewards).max() < 100
        np.testing.assert_allclose(rewards[valid], expected[valid], rtol=1e-5, atol=1e-6)
        assert (rewards[~valid] == 0).all()  # the step after an episode end: no decision, no reward
    rows = csv_rows(tmp_path / "run")
    # the env's returns are still the logged episodic return, apart from D's mean reward
    assert float(rows[-1]["episodic_return"]) >= 8 * CANARY  # CartPole episodes last 8 steps or more
    assert all(0 < float(r["losses/gail/reward"]) < 10 for r in rows)
    with pytest.raises(ConfigError, match="cannot be replaced"):
        agent.reward_fn = lambda batch: batch.rewards


def test_reward_types_are_the_documented_functions_of_ds_logits(cartpole_demos):
    agents = {kind: GAIL("CartPole-v1", demos=str(cartpole_demos), seed=0, reward_type=kind, **SMALL)
              for kind in ("gail", "airl", "log_d")}
    batch = _rollout(agents["gail"])
    x = agents["gail"].generator_inputs(batch)
    with torch.no_grad():
        logits = agents["gail"].discriminator(x).double()
    d = torch.sigmoid(logits)
    formulas = {"gail": -torch.log(1 - d), "airl": torch.log(d) - torch.log(1 - d), "log_d": torch.log(d)}
    valid = batch.valid.reshape(-1)
    for kind, agent in agents.items():
        assert torch.equal(agent.discriminator.out.weight, agents["gail"].discriminator.out.weight)  # same seed, same D
        rewards = agent.discriminator_reward(batch).reshape(-1)
        np.testing.assert_allclose(rewards[valid], formulas[kind].numpy()[valid], rtol=1e-5, atol=1e-6)
    assert (agents["gail"].discriminator_reward(batch) >= 0).all() and (agents["log_d"].discriminator_reward(batch) <= 0).all()
    for agent in agents.values():
        agent.close()


def test_the_discriminator_separates_the_expert_from_a_random_policy(cartpole_demos):
    agent = GAIL("CartPole-v1", demos=str(cartpole_demos), seed=0, disc_updates_per_round=10,
                 disc_learning_rate=1e-3, **{**SMALL, "disc_batch_size": 64})
    batch = _rollout(agent)  # the untrained policy: about uniform actions, short episodes
    for _ in range(20):  # 200 steps; on fresh samples, expert 1.0 and generator 0.75 right (0.82 and 0.27 after 50)
        metrics = agent.train_discriminator(batch)
    assert set(metrics) == {f"gail/{k}" for k in ("disc_loss", "disc_bce", "expert_accuracy", "generator_accuracy",
                                                   "expert_logit", "generator_logit", "gradient_penalty")}
    fresh = _rollout(agent, seed=1)
    with torch.no_grad():
        generator_logits = agent.discriminator(agent.generator_inputs(fresh, np.flatnonzero(fresh.valid)))
        expert_logits = agent.discriminator(agent.expert_inputs(np.arange(0, 5000, 7)))
    assert (expert_logits > 0).float().mean() > 0.6 and (generator_logits < 0).float().mean() > 0.6
    assert expert_logits.mean() > generator_logits.mean()
    assert metrics["gail/disc_loss"] < np.log(2) and metrics["gail/gradient_penalty"] == 0
    agent.close()


def test_the_gradient_penalty_on_a_linear_discriminator_is_its_weights_norm_minus_one_squared(cartpole_demos):
    agent = GAIL("CartPole-v1", demos=str(cartpole_demos), seed=0, disc_net_arch=(), gradient_penalty=10.0, **SMALL)
    with torch.no_grad():  # f(x) = w·x + b: ∇f = w everywhere, so the penalty is (‖w‖ − 1)² = (5 − 1)²
        agent.discriminator.out.weight.copy_(torch.tensor([[3.0, 0.0, 4.0, 0.0, 0.0, 0.0]]))
        agent.discriminator.out.bias.fill_(0.5)
    expert_x, generator_x = torch.randn(8, 6), torch.randn(8, 6)
    loss, parts = agent.discriminator_loss(expert_x, generator_x)
    logits_e, logits_g = expert_x[:, [0, 2]] @ torch.tensor([3.0, 4.0]) + 0.5, generator_x[:, [0, 2]] @ torch.tensor([3.0, 4.0]) + 0.5
    bce = 0.5 * (F.binary_cross_entropy_with_logits(logits_e, torch.ones(8))
                 + F.binary_cross_entropy_with_logits(logits_g, torch.zeros(8)))
    torch.testing.assert_close(parts["gradient_penalty"], torch.tensor(16.0))
    torch.testing.assert_close(parts["disc_bce"], bce)
    torch.testing.assert_close(loss, bce + 10.0 * 16.0)
    agent.close()


def test_the_gradient_penalty_of_an_mlp_is_taken_at_interpolates(cartpole_demos):
    agent = GAIL("CartPole-v1", demos=str(cartpole_demos), seed=0, disc_net_arch=(5,), gradient_penalty=2.0, **SMALL)
    expert_x, generator_x, alpha = torch.randn(16, 6), torch.randn(16, 6), torch.rand(16, 1)
    hidden, out = agent.discriminator.hidden.net[1], agent.discriminator.out
    with torch.no_grad():  # f(x) = v·tanh(Wx + c) + b: ∇f(x) = Wᵀ (v ⊙ (1 − tanh²(Wx + c)))
        mixed = alpha * expert_x + (1 - alpha) * generator_x
        slope = 1 - torch.tanh(mixed @ hidden.weight.T + hidden.bias).pow(2)
        grads = (slope * out.weight) @ hidden.weight
        expected = (grads.norm(dim=1) - 1).pow(2).mean()
    loss, parts = agent.discriminator_loss(expert_x, generator_x, alpha)
    torch.testing.assert_close(parts["gradient_penalty"], expected)
    torch.testing.assert_close(loss, parts["disc_bce"] + 2.0 * expected)
    loss.backward()  # the penalty's graph reaches D's weights
    assert hidden.weight.grad is not None and torch.isfinite(hidden.weight.grad).all()
    metrics = agent.train_discriminator(_rollout(agent))
    assert np.isfinite(metrics["gail/gradient_penalty"]) and metrics["gail/gradient_penalty"] > 0
    agent.close()


# --- inputs ----------------------------------------------------------------------------------------------


def test_box_actions_reach_d_clipped_and_unit_scaled_and_obs_through_the_policys_normaliser(pendulum_demos, tmp_path):
    agent = GAIL("Pendulum-v1", demos=str(pendulum_demos), seed=0, normalize_obs=True, **SMALL)
    np.testing.assert_allclose(agent._encode_actions(np.array([[-4.0], [-1.0], [0.0], [1.0], [2.0], [7.0]])),
                               [[-1.0], [-0.5], [0.0], [0.5], [1.0], [1.0]])
    agent.learn(256, tmp_path / "run", **QUIET)
    assert agent.obs_rms.count > 1
    obs, actions = agent.demonstrations.obs[:3], agent.demonstrations.actions[:3]
    x = agent.disc_inputs(obs, actions, None).numpy()
    np.testing.assert_allclose(x[:, :3], agent.obs_rms.normalize(obs), rtol=1e-6)  # what the policy sees
    np.testing.assert_allclose(x[:, 3:], actions / 2.0, rtol=1e-6)
    assert {"losses/gail/reward", "losses/gail/disc_loss", "losses/policy_loss"} <= set(csv_rows(tmp_path / "run")[0])
    agent.close()


@pytest.mark.parametrize("kind", ["obs", "obs_next_obs"])
def test_d_can_judge_states_alone_or_state_transitions(kind, cartpole_demos):
    agent = GAIL("CartPole-v1", demos=str(cartpole_demos), seed=0, disc_input=kind, **SMALL)
    batch = _rollout(agent)
    x = agent.generator_inputs(batch).numpy().reshape(64, 2, -1)
    np.testing.assert_array_equal(x[..., :4], batch.obs)
    if kind == "obs_next_obs":
        np.testing.assert_array_equal(x[..., 4:], batch.next_obs())
        demos = agent.demonstrations
        np.testing.assert_array_equal(agent.expert_inputs(np.array([0, 499, 500])).numpy(),
                                      np.concatenate([demos.obs[[0, 499, 501]], demos.obs[[1, 500, 502]]], 1))
    else:
        assert x.shape[-1] == 4
    agent.learn(128, **QUIET)
    agent.close()


def test_an_a2c_generator_takes_the_same_mixin(tmp_path):
    @dataclass
    class GAILA2CConfig(DiscriminatorConfig, A2CConfig):
        """GAIL on A2C."""

    class GAILA2C(AdversarialImitation, A2C):
        config_class = GAILA2CConfig

    demos = collect_demonstrations(cartpole_expert, "CartPole-v1", episodes=1, seed=0)
    path = demos.save(tmp_path / "one.npz")
    agent = GAILA2C("CartPole-v1", demos=str(path), seed=0, num_envs=4, n_steps=8, disc_batch_size=16)
    outs = []
    original = agent.update
    agent.update = lambda batch, progress: outs.append(original(batch, progress)) or outs[-1]
    agent.learn(64, **QUIET)
    assert len(outs) == 2 and "gail/disc_loss" in outs[-1].metrics and "gail/reward" in outs[-1].metrics
    with pytest.raises(ConfigError, match="cannot be replaced"):
        agent.reward_fn = None
    agent.close()


# --- checkpoints ---------------------------------------------------------------------------------------


def test_save_load_round_trip_keeps_the_discriminator_and_acts_without_the_demos_file(cartpole_demos, tmp_path):
    demos = tmp_path / "demos.npz"
    demos.write_bytes(cartpole_demos.read_bytes())
    agent = GAIL("CartPole-v1", demos=str(demos), seed=0, normalize_obs=True, **SMALL).learn(256, **QUIET)
    agent.save(tmp_path / "gail.pt")
    state = load_checkpoint(tmp_path / "gail.pt")["state"]
    assert {"net", "optimizer", "discriminator", "disc_optimizer", "obs_rms"} <= set(state)
    assert state["demos"] == [10, 5000]
    demos.unlink()  # acting and evaluating need the checkpoint only
    loaded = GAIL.load(tmp_path / "gail.pt")
    for key, value in agent.discriminator.state_dict().items():
        assert torch.equal(loaded.discriminator.state_dict()[key], value)
    assert loaded.disc_optimizer.state_dict()["state"][0]["step"] == agent.disc_optimizer.state_dict()["state"][0]["step"]
    obs = np.random.default_rng(0).normal(size=(64, 4)).astype(np.float32)
    np.testing.assert_array_equal(loaded.act(obs, deterministic=True), agent.act(obs, deterministic=True))
    assert evaluate(loaded, episodes=2, seed=1) == evaluate(agent, episodes=2, seed=1)
    with pytest.raises(DemonstrationsError, match="no demonstrations at"):
        loaded.learn(128, **QUIET)  # training reads them
    assert main(["eval", str(tmp_path / "gail.pt"), "--episodes", "1"]) == 0  # the CLI loads it the same way
    agent.close()
    loaded.close()


def test_resume_continues_exactly_as_an_uninterrupted_second_learn_call(cartpole_demos, tmp_path):
    # an on-policy run restarts its envs on every learn() call and on a resume (the envs are not in
    # the checkpoint), so the reference is the same agent trained on in a second call
    settings = dict(demos=str(cartpole_demos), seed=0, normalize_obs=True, gradient_penalty=1.0, **SMALL)
    straight = GAIL("CartPole-v1", **settings)
    straight.learn(256, tmp_path / "straight", **QUIET)
    straight.learn(256, **QUIET)
    GAIL("CartPole-v1", **settings).learn(256, tmp_path / "split", **QUIET)
    resumed = GAIL("CartPole-v1", **settings).learn(512, tmp_path / "split", resume=True, **QUIET)
    assert resumed.num_steps == straight.num_steps == 512 and resumed.num_updates == 4
    assert torch.equal(resumed.flat.param, straight.flat.param)
    for key, value in straight.discriminator.state_dict().items():
        assert torch.equal(resumed.discriminator.state_dict()[key], value), key
    moments = lambda a: [t for s in a.disc_optimizer.state_dict()["state"].values() for t in s.values()]  # noqa: E731
    assert all(torch.equal(x, y) for x, y in zip(moments(resumed), moments(straight)))
    np.testing.assert_array_equal(resumed.obs_rms.mean, straight.obs_rms.mean)
    straight.close()
    resumed.close()


def test_resuming_on_other_demonstrations_is_refused(cartpole_demos, tmp_path):
    GAIL("CartPole-v1", demos=str(cartpole_demos), seed=0, **SMALL).learn(128, tmp_path / "run", **QUIET)
    other = GAIL("CartPole-v1", demos=str(cartpole_demos), seed=0, demo_episodes=5, **SMALL)
    with pytest.raises(CheckpointError, match="trained on 10 episodes"):
        other.learn(256, tmp_path / "run", resume=True, **QUIET)


# --- errors ------------------------------------------------------------------------------------------------


def test_demonstrations_of_another_env_and_missing_demos_are_typed_errors(cartpole_demos, tmp_path):
    with pytest.raises(DemonstrationsError, match=r"observation space .* differs from the env Acrobot-v1's"):
        GAIL("Acrobot-v1", demos=str(cartpole_demos))
    with pytest.raises(ConfigError, match="demos is required"):
        GAIL("CartPole-v1")
    assert main(["train", "gail", "--env", "CartPole-v1", "--total-steps", "10", "--quiet"]) == 2
    with pytest.raises(DemonstrationsError, match="no demonstrations at"):
        GAIL("CartPole-v1", demos=str(tmp_path / "nothing.npz"))
    with pytest.raises(ConfigError, match="disc_batch_size must be >= 1"):
        GAIL("CartPole-v1", demos=str(cartpole_demos), disc_batch_size=0)


# --- CLI ---------------------------------------------------------------------------------------------------


def test_cli_trains_gail_with_ppo2_and_discriminator_flags(cartpole_demos, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "gail", "--env", "CartPole-v1", "--demos", str(cartpole_demos), "--total-steps", "256",
                 "--num-envs", "2", "--n-steps", "64", "--batch-size", "64", "--n-epochs", "2", "--disc-net-arch", "32",
                 "--reward-type", "airl", "--gradient-penalty", "1", "--log-dir", str(run), "--no-progress",
                 "--eval-episodes", "1"]) == 0
    assert "preset 'rlkit' for GAIL on CartPole-v1" in capsys.readouterr().err
    config = json.loads((run / "config.json").read_text())["config"]
    assert config["demos"] == str(cartpole_demos) and config["disc_net_arch"] == [32] and config["reward_type"] == "airl"
    assert config["normalize_obs"] and config["n_steps"] == 64  # the preset's, and the flag given over it
    assert load_checkpoint(run)["agent"] == "GAIL"
    assert "eval_mean_return" in json.loads((run / "summary.json").read_text())
    rows = csv_rows(run)
    assert len(rows) == 2 and float(rows[-1]["losses/gail/gradient_penalty"]) > 0
    with pytest.raises(SystemExit):
        main(["train", "gail", "--help"])
    words = " ".join(capsys.readouterr().out.split())
    assert "--reward-type {gail,airl,log_d}" in words and "--clip-range FLOAT" in words


# --- learning ------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_gail_from_ten_expert_episodes_solves_cartpole(cartpole_demos, zoo_cartpole):
    # PPO2's CartPole zoo settings as the generator; seeds 0-4 evaluate at 500 after 99,840 steps (about
    # 12 s of training each; benchmarks/imitation_gail.py)
    agent = GAIL("CartPole-v1", demos=str(cartpole_demos), seed=0, **zoo_cartpole)
    agent.learn(99_840, **QUIET)
    mean, _ = evaluate(agent, episodes=20, seed=123)
    random_return, expert_return = 22.0, 500.0
    assert (mean - random_return) / (expert_return - random_return) >= 0.9
    agent.close()
