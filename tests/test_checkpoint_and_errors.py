import os
import pickle

import gymnasium as gym
import numpy as np
import pytest
import torch

from agents import PPO, PPO2
from rlkit.checkpoint import load_checkpoint
from rlkit.cli import main
from rlkit.errors import (CheckpointError, ConfigError, UnknownConfigKeyError, UnknownEnvError,
                          UnsupportedSpaceError)


def test_save_load_round_trip_gives_identical_actions(tmp_path):
    agent = PPO2("CartPole-v1", seed=3, n_steps=64, batch_size=32, normalize_obs=True).learn(128, progress=False, eval_episodes=0)
    path = agent.save(tmp_path / "agent.pt")
    loaded = PPO2.load(path)
    obs = np.random.default_rng(0).normal(size=(16, 4)).astype(np.float32)
    np.testing.assert_array_equal(agent.act(obs, deterministic=True), loaded.act(obs, deterministic=True))
    assert loaded.num_steps == agent.num_steps and loaded.config == agent.config
    torch.testing.assert_close(loaded.obs_rms.mean, agent.obs_rms.mean)


def test_save_is_atomic_and_leaves_no_temp_files(tmp_path):
    agent = PPO2("CartPole-v1", n_steps=64, batch_size=32)
    agent.save(tmp_path / "a.pt")
    agent.save(tmp_path / "a.pt")
    assert sorted(os.listdir(tmp_path)) == ["a.pt"]


def test_truncated_checkpoint_raises_checkpoint_error(tmp_path):
    path = PPO2("CartPole-v1", n_steps=64, batch_size=32).save(tmp_path / "a.pt")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated"):
        PPO2.load(path)


def test_foreign_torch_file_is_not_an_rlkit_checkpoint(tmp_path):
    torch.save({"weights": torch.zeros(3)}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="not an rlkit checkpoint"):
        load_checkpoint(tmp_path / "other.pt")


class _Exploit:
    def __reduce__(self):
        return (os.system, ("touch pwned",))


# the exploit file is pickled with protocol 4 on purpose; torch warns that its safe unpickler
# expects protocol 2, then refuses the file, which is what this test checks
@pytest.mark.filterwarnings("ignore:Detected pickle protocol:UserWarning")
def test_loading_never_executes_pickled_code(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with open("evil.pt", "wb") as f:
        pickle.dump({"format": "rlkit", "payload": _Exploit()}, f)
    with pytest.raises(CheckpointError):
        load_checkpoint("evil.pt")
    assert not (tmp_path / "pwned").exists()


def test_wrong_agent_class_and_missing_file(tmp_path):
    path = PPO("CartPole-v1", n_steps=64, batch_size=32).save(tmp_path / "ppo.pt")
    with pytest.raises(CheckpointError, match="PPO"):
        PPO2.load(path)
    with pytest.raises(CheckpointError, match="no checkpoint"):
        PPO2.load(tmp_path / "missing.pt")


def test_unsupported_action_space():
    env = gym.make("CartPole-v1")
    env = gym.wrappers.TransformAction(env, lambda a: int(a[0]), gym.spaces.MultiDiscrete([2, 2]))
    with pytest.raises(UnsupportedSpaceError, match="Discrete and 1-D Box"):
        PPO2(env)


def test_unsupported_observation_space():
    env = gym.make("CartPole-v1")
    space = gym.spaces.Dict({"x": env.observation_space})
    env = gym.wrappers.TransformObservation(env, lambda o: {"x": o}, space)
    with pytest.raises(UnsupportedSpaceError, match="FlattenObservation"):
        PPO2(env)


def test_unknown_env_id():
    with pytest.raises(UnknownEnvError, match="Did you mean"):
        PPO2("CartPolee-v1")


@pytest.mark.parametrize("steps", [0, -5, 2.5])
def test_non_positive_step_budget(steps):
    agent = PPO2("CartPole-v1", n_steps=64, batch_size=32)
    with pytest.raises(ConfigError, match="total_steps"):
        agent.learn(steps)


def test_unknown_config_key_names_the_closest():
    with pytest.raises(UnknownConfigKeyError, match="learning_rate"):
        PPO2("CartPole-v1", learnig_rate=1e-3)


def test_invalid_config_values():
    with pytest.raises(ConfigError, match="batch_size"):
        PPO2("CartPole-v1", n_steps=16, batch_size=64)
    with pytest.raises(ConfigError, match="objective"):
        PPO("CartPole-v1", objective="trust-region")
    with pytest.raises(ConfigError, match="CUDA|cuda"):
        if torch.cuda.is_available():
            raise ConfigError("cuda present: skip")
        PPO2("CartPole-v1", device="cuda")


def test_cli_reports_typed_errors(capsys):
    assert main(["train", "ppo2", "--env", "CartPole-v1", "--total-steps", "100", "--learnig-rate", "1"]) == 2
    assert "learning_rate" in capsys.readouterr().err
    assert main(["train", "dqnx", "--env", "CartPole-v1"]) == 2
    assert main(["train", "ppo2", "--env", "CartPole-v1", "--total-steps", "0"]) == 2
    assert main(["eval", "/nonexistent/run"]) == 2
