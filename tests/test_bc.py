"""Behaviour cloning (agents/bc.py): experts written by hand, recorded with collect_demonstrations."""
import json

import gymnasium as gym
import numpy as np
import pytest
import torch

from agents import BC
from rlkit import evaluate
from rlkit.buffers.demonstrations import Demonstrations, collect_demonstrations
from rlkit.checkpoint import load_checkpoint
from rlkit.cli import main
from rlkit.errors import CheckpointError, ConfigError, DemonstrationsError, UnsupportedSpaceError
from run_files import csv_rows
from toy_experts import cartpole_expert
from toy_experts import pendulum_swingup_expert as pendulum_expert

QUIET = dict(progress=False, eval_episodes=0)


@pytest.fixture(scope="module")
def cartpole_demos(tmp_path_factory):
    demos = collect_demonstrations(cartpole_expert, "CartPole-v1", episodes=10, seed=0)
    assert demos.episode_returns.tolist() == [500.0] * 10  # the expert is perfect on these seeds
    return demos.save(tmp_path_factory.mktemp("demos") / "cartpole.npz")


@pytest.fixture(scope="module")
def pendulum_demos(tmp_path_factory):
    demos = collect_demonstrations(pendulum_expert, "Pendulum-v1", episodes=20, seed=0)
    assert demos.episode_returns.mean() > -250  # swings up and holds (a random policy: about -1200)
    return demos.save(tmp_path_factory.mktemp("demos") / "pendulum.npz")



# --- learning ------------------------------------------------------------------------------------


@pytest.mark.slow
def test_bc_from_ten_expert_episodes_solves_cartpole(cartpole_demos):
    agent = BC("CartPole-v1", demos=str(cartpole_demos), seed=0)
    assert evaluate(agent, episodes=5, seed=7)[0] < 100  # untrained: one action only
    agent.learn(2000, **QUIET)
    mean, _ = evaluate(agent, episodes=20, seed=123)
    assert mean >= 475
    assert agent.last_validation["val_accuracy"] > 0.9  # on the held-out episode


def test_box_actions_learn_the_expert_mean_on_held_out_episodes(pendulum_demos, tmp_path):
    agent = BC("Pendulum-v1", demos=str(pendulum_demos), seed=0, validation_fraction=0.2, normalize_obs=True)
    demos = agent.demonstrations
    train_obs = demos.obs[agent.obs_rows[agent.train_steps]]
    np.testing.assert_allclose(agent.obs_rms.mean, train_obs.mean(0), rtol=1e-6)  # fitted on the training split
    assert len(agent.val_steps) == 4 * 200  # 4 of 20 episodes held out, whole
    held_out_obs, expert_actions = demos.obs[agent.obs_rows[agent.val_steps]], demos.actions[agent.val_steps]
    before = agent.measure(agent.val_steps)
    agent.learn(3000, tmp_path / "run", **QUIET)
    after = agent.measure(agent.val_steps)
    assert after["neg_log_likelihood"] < before["neg_log_likelihood"] - 0.5  # seeds 0-2: 1.3, 0.7, 1.3 lower
    assert after["mse"] < 0.25 * before["mse"]  # seeds 0-2: 0.08, 0.15, 0.10 of it
    error = np.abs(agent.act(held_out_obs, deterministic=True) - expert_actions)
    assert np.median(error) < 0.1 and np.sqrt((error**2).mean()) < 0.3  # the switch between the two controllers is hard
    assert agent.head.log_std.item() < -1.0  # the learned std shrank to the residual error
    rows = csv_rows(tmp_path / "run")
    assert float(rows[-1]["losses/neg_log_likelihood"]) < float(rows[0]["losses/neg_log_likelihood"])
    assert float(rows[-1]["losses/mse"]) < float(rows[0]["losses/mse"])
    assert {"losses/val_loss", "losses/val_mse", "losses/entropy", "losses/best_val_loss"} <= set(rows[0])


@pytest.mark.parametrize("env", ["CartPole-v1", "Pendulum-v1"])
def test_a_step_minimises_the_nll_minus_the_entropy_bonus_plus_l2_on_the_weights(env, cartpole_demos, pendulum_demos):
    demos = cartpole_demos if env == "CartPole-v1" else pendulum_demos
    agent = BC(env, demos=str(demos), seed=0, ent_coef=0.1, l2_coef=0.01, log_std_init=-0.5)
    agent.train_step()  # biases start at 0: move them, so a penalty that took them in would show
    obs, actions = agent.next_batch()
    agent.next_batch = lambda: (obs, actions)
    with torch.no_grad():
        out = agent.net.params(obs)
        if env == "CartPole-v1":  # cross-entropy of the logits
            dist = torch.distributions.Categorical(logits=out)
            nll, entropy = torch.nn.functional.cross_entropy(out, actions), dist.entropy().mean()
        else:  # Gaussian with the learned state-independent std
            mean, log_std = out.chunk(2, -1)
            dist = torch.distributions.Normal(mean, log_std.exp())
            nll, entropy = -dist.log_prob(actions).sum(-1).mean(), dist.entropy().sum(-1).mean()
        layers = [m for m in agent.net.modules() if isinstance(m, torch.nn.Linear) and m is not agent.net.value_head.linear]
        l2 = sum(m.weight.pow(2).sum() for m in layers)  # weights only: no biases, no log std, not the unused value head
    value_head = agent.net.value_head.linear.weight.clone()
    loss, step_nll = agent.train_step()
    torch.testing.assert_close(step_nll, nll)
    torch.testing.assert_close(loss, nll - 0.1 * entropy + 0.01 * l2)
    assert torch.equal(agent.net.value_head.linear.weight, value_head)  # BC learns no values


# --- errors ------------------------------------------------------------------------------------------


def test_demonstrations_of_another_env_name_both_spaces(cartpole_demos):
    with pytest.raises(DemonstrationsError, match=r"observation space \(Box.*\(4,\).*\) differs from the env "
                                                  r"Acrobot-v1's \(Box.*\(6,\)"):
        BC("Acrobot-v1", demos=str(cartpole_demos))


def test_missing_empty_and_truncated_demonstrations_are_typed_errors(cartpole_demos, tmp_path):
    with pytest.raises(ConfigError, match="demos is required"):
        BC("CartPole-v1")
    assert main(["train", "bc", "--env", "CartPole-v1", "--total-steps", "10", "--quiet"]) == 2
    with pytest.raises(DemonstrationsError, match="no demonstrations at"):
        BC("CartPole-v1", demos=str(tmp_path / "nothing.npz"))
    truncated = tmp_path / "truncated.npz"
    data = cartpole_demos.read_bytes()
    truncated.write_bytes(data[:len(data) // 2])
    with pytest.raises(DemonstrationsError, match="truncated"):
        BC("CartPole-v1", demos=str(truncated))
    with pytest.raises(DemonstrationsError, match="asked for 11 episodes"):
        BC("CartPole-v1", demos=str(cartpole_demos), demo_episodes=11)
    with pytest.raises(ConfigError, match="needs validation_fraction > 0"):
        BC("CartPole-v1", demos=str(cartpole_demos), patience=2, validation_fraction=0)


def test_an_unsupported_action_space_is_a_typed_error():
    square = gym.spaces.Box(-1, 1, (2, 2), np.float32)
    env = lambda: gym.wrappers.TransformAction(gym.make("Pendulum-v1"), lambda a: a[:1, 0], square)  # noqa: E731
    with pytest.raises(UnsupportedSpaceError, match="BC does not support the action space"):
        BC(env, demos="never-read.npz")


# --- validation and early stopping ---------------------------------------------------------------


def test_the_validation_split_is_whole_episodes_chosen_by_the_seed(cartpole_demos):
    a, b, c = (BC("CartPole-v1", demos=str(cartpole_demos), seed=s, validation_fraction=0.3) for s in (0, 0, 1))
    lengths = a.demonstrations.episode_lengths
    episode_of = np.repeat(np.arange(len(lengths)), lengths)
    held = set(episode_of[a.val_steps])
    assert len(held) == 3 and not held & set(episode_of[a.train_steps])  # no episode on both sides
    np.testing.assert_array_equal(a.val_steps, b.val_steps)
    assert set(episode_of[c.val_steps]) != held
    none = BC("CartPole-v1", demos=str(cartpole_demos), validation_fraction=0)
    assert len(none.train_steps) == 5000 and not none.validates


def test_early_stopping_keeps_the_best_weights_and_a_resume_trains_no_further(cartpole_demos, tmp_path):
    run = tmp_path / "run"
    settings = dict(demos=str(cartpole_demos), seed=0, patience=1, validation_interval=50, log_interval=50)
    agent = BC("CartPole-v1", **settings)
    agent.learn(5000, run, **QUIET)
    stopped = agent.num_steps
    assert stopped == agent.stopped_at < 5000 and agent.best_val_step < stopped
    # the weights are those of the best validation: measuring them again gives its loss exactly
    assert agent.measure(agent.val_steps)["neg_log_likelihood"] == agent.best_val_loss
    torch.testing.assert_close(agent.flat.param, agent.best_param)
    rows = csv_rows(run)
    assert float(rows[-1]["losses/stopped_early"]) == 1.0 and int(rows[-1]["step"]) == stopped
    assert all(float(r["losses/stopped_early"]) == 0.0 for r in rows[:-1])
    assert float(rows[-1]["losses/best_val_step"]) == agent.best_val_step
    saved = load_checkpoint(run)
    assert saved["counters"]["num_steps"] == stopped and saved["state"]["early_stopping"]["stopped_at"] == stopped

    summary = (run / "summary.json").read_bytes()
    resumed = BC("CartPole-v1", **settings)
    with pytest.warns(UserWarning, match=f"already complete \\({stopped} of 5000 steps, it ended early\\)"):
        resumed.learn(5000, run, resume=True, **QUIET)
    assert resumed.num_steps == stopped and len(csv_rows(run)) == len(rows)
    torch.testing.assert_close(resumed.flat.param, agent.flat.param)
    with pytest.warns(UserWarning, match="it ended early"):
        assert main(["train", "bc", "--log-dir", str(run), "--resume", "--quiet", "--eval-episodes", "0"]) == 0
    assert load_checkpoint(run)["counters"]["num_steps"] == stopped
    assert (run / "summary.json").read_bytes() == summary  # the finished run's files are left as they were

    # a new learn() call is a new run: it trains on from the best weights
    agent.learn(100, **QUIET)
    assert agent.num_steps > stopped


# --- checkpoints ---------------------------------------------------------------------------------------


def test_save_load_round_trip_acts_the_same_without_the_demonstrations_file(cartpole_demos, tmp_path):
    demos = tmp_path / "demos.npz"
    demos.write_bytes(cartpole_demos.read_bytes())
    agent = BC("CartPole-v1", demos=str(demos), seed=0, normalize_obs=True).learn(300, **QUIET)
    agent.save(tmp_path / "bc.pt")
    demos.unlink()  # acting and evaluating need the checkpoint only
    loaded = BC.load(tmp_path / "bc.pt")
    obs = np.random.default_rng(0).normal(size=(64, 4)).astype(np.float32)
    np.testing.assert_array_equal(loaded.act(obs, deterministic=True), agent.act(obs, deterministic=True))
    np.testing.assert_array_equal(loaded.obs_rms.mean, agent.obs_rms.mean)
    assert evaluate(loaded, episodes=2, seed=1) == evaluate(agent, episodes=2, seed=1)
    with pytest.raises(DemonstrationsError, match="no demonstrations at"):
        loaded.learn(10, **QUIET)  # training reads them


def test_resume_continues_exactly_where_the_checkpoint_left(cartpole_demos, tmp_path):
    settings = dict(demos=str(cartpole_demos), seed=0, validation_interval=100)
    straight = BC("CartPole-v1", **settings).learn(600, tmp_path / "straight", **QUIET)
    BC("CartPole-v1", **settings).learn(250, tmp_path / "split", **QUIET)
    resumed = BC("CartPole-v1", **settings)
    resumed.restore(load_checkpoint(tmp_path / "split"))
    assert resumed.num_steps == 250 and resumed.optimizer.state_dict()["state"][0]["step"].item() == 250
    resumed = BC("CartPole-v1", **settings).learn(600, tmp_path / "split", resume=True, **QUIET)
    assert resumed.num_steps == 600 and resumed.num_updates == 600
    # same minibatches in the same order, same optimiser moments: the same weights as without the stop
    torch.testing.assert_close(resumed.flat.param, straight.flat.param, rtol=0, atol=0)
    assert (resumed.epoch, resumed.epoch_position) == (straight.epoch, straight.epoch_position)


def test_resuming_on_other_demonstrations_is_refused(cartpole_demos, tmp_path):
    BC("CartPole-v1", demos=str(cartpole_demos), seed=0).learn(50, tmp_path / "run", **QUIET)
    other = BC("CartPole-v1", demos=str(cartpole_demos), seed=0, demo_episodes=5)
    with pytest.raises(CheckpointError, match="trained on 10 episodes"):
        other.learn(100, tmp_path / "run", resume=True, **QUIET)


# --- CLI ---------------------------------------------------------------------------------------------


def test_cli_trains_bc_and_writes_an_evaluated_summary(cartpole_demos, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "bc", "--env", "CartPole-v1", "--demos", str(cartpole_demos), "--total-steps", "200",
                 "--log-dir", str(run), "--quiet", "--eval-episodes", "2"]) == 0
    summary = json.loads((run / "summary.json").read_text())
    assert summary["agent"] == "BC" and summary["total_steps"] == 200 and summary["eval_episodes"] == 2
    assert summary["eval_mean_return"] > 0
    config = json.loads((run / "config.json").read_text())
    assert config["config"]["demos"] == str(cartpole_demos) and config["train"]["preset"] is None
    assert load_checkpoint(run)["agent"] == "BC"
    assert main(["train", "bc", "--env", "CartPole-v1", "--demos", str(cartpole_demos), "--total-steps", "10",
                 "--log-dir", str(tmp_path / "other"), "--no-progress", "--eval-episodes", "0"]) == 0
    assert "no preset for BC on CartPole-v1" in capsys.readouterr().err


# --- images ---------------------------------------------------------------------------------------------


class BrightSide(gym.Env):
    """Frames with a bright block on the left or the right half; reward 1 for naming the side."""

    observation_space = gym.spaces.Box(0, 255, (2, 36, 36), np.uint8)
    action_space = gym.spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return self._frame(), {}

    def _frame(self):
        self.side = int(self.np_random.integers(2))
        frame = self.np_random.integers(0, 80, self.observation_space.shape, dtype=np.uint8)
        frame[:, 8:28, 18 * self.side:18 * self.side + 18] += 120
        return frame

    def step(self, action):
        reward = float(action == self.side)
        self.t += 1
        return self._frame(), reward, False, self.t >= 20, {}


def bright_side_expert(obs):
    return (obs[:, :, :, 18:].mean((1, 2, 3)) > obs[:, :, :, :18].mean((1, 2, 3))).astype(np.int64)


def test_the_cnn_policy_learns_from_image_demonstrations(tmp_path):
    path = collect_demonstrations(bright_side_expert, BrightSide, episodes=10, seed=0).save(tmp_path / "images.npz")
    assert Demonstrations.load(path).obs.dtype == np.uint8
    # one thread: the test shares its cores (BC's own default for CNNs is every core)
    agent = BC(BrightSide, demos=str(path), seed=0, torch_threads=1, batch_size=16, validation_interval=50)
    assert type(agent.net.encoder).__name__ == "NatureCNN"
    assert evaluate(agent, episodes=4, seed=3)[0] < 16  # untrained: about half right
    agent.learn(150, **QUIET)
    assert agent.last_validation["val_accuracy"] >= 0.9
    assert evaluate(agent, episodes=4, seed=3)[0] >= 18


@pytest.mark.slow
def test_bc_on_stacked_atari_frames_runs_end_to_end(tmp_path):
    rng = np.random.default_rng(0)
    demos = collect_demonstrations(lambda obs: rng.integers(0, 6, len(obs)), "ALE/Pong-v5", episodes=2, seed=0)
    assert demos.obs.shape[1:] == (4, 84, 84) and demos.obs.dtype == np.uint8
    path = demos.save(tmp_path / "pong.npz")
    agent = BC("ALE/Pong-v5", demos=str(path), seed=0, torch_threads=1, validation_interval=5, log_interval=5)
    agent.learn(10, tmp_path / "run", eval_episodes=0, progress=False)
    assert agent.num_steps == 10 and np.isfinite(agent.last_validation["val_loss"])
    actions = agent.act(demos.obs[:3], deterministic=True)
    assert actions.shape == (3,) and set(actions.tolist()) <= set(range(6))
    assert len(csv_rows(tmp_path / "run")) == 2
