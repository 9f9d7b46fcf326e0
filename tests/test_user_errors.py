"""User mistakes that must end in a typed rlkit error naming the fix, never in a raw traceback;
and set-up defects (missing MuJoCo dependency, DDPG's thread count). No learning: each test is fast."""
import gymnasium as gym
import numpy as np
import pytest
import torch

from agents import A2C, DDPG, DQN, PPO2, Reinforce
from rlkit.checkpoint import load_checkpoint, save_checkpoint
from rlkit.cli import main
from rlkit.errors import CheckpointError, ConfigError, UnknownEnvError, UnsupportedSpaceError

SMALL_PPO = dict(n_steps=8, batch_size=8)


# --- configuration ---------------------------------------------------------------------------------
def test_negative_seed_is_a_config_error(capsys):
    with pytest.raises(ConfigError, match="seed"):
        PPO2("CartPole-v1", seed=-1, **SMALL_PPO)
    assert main(["train", "ppo2", "--env", "CartPole-v1", "--total-steps", "16", "--seed", "-1"]) == 2
    assert "seed" in capsys.readouterr().err


def test_zero_total_steps_is_an_error_not_the_presets_budget(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # the default run folder would be runs/ here
    assert main(["train", "ppo2", "--env", "CartPole-v1", "--total-steps", "0", "--quiet"]) == 2
    assert "total_steps must be an integer >= 1, got 0" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()  # nothing trained


@pytest.mark.parametrize(
    "cls, env, config, field",
    [
        (PPO2, "CartPole-v1", dict(SMALL_PPO, clip_range_vf=-0.2), "clip_range_vf"),
        (PPO2, "CartPole-v1", dict(SMALL_PPO, target_kl=-0.01), "target_kl"),
        (PPO2, "CartPole-v1", dict(SMALL_PPO, ent_coef=-0.01), "ent_coef"),
        (PPO2, "CartPole-v1", dict(SMALL_PPO, vf_coef=-0.5), "vf_coef"),
        (A2C, "CartPole-v1", dict(ent_coef=-0.01), "ent_coef"),
        (A2C, "CartPole-v1", dict(vf_coef=-0.5), "vf_coef"),
        (Reinforce, "CartPole-v1", dict(ent_coef=-0.01), "ent_coef"),
        (Reinforce, "CartPole-v1", dict(vf_coef=-0.5), "vf_coef"),
        (DQN, "CartPole-v1", dict(learning_starts=-1), "learning_starts"),
        (DQN, "CartPole-v1", dict(buffer_size=16, batch_size=32), "buffer_size"),
        (DDPG, "Pendulum-v1", dict(buffer_size=16, batch_size=32), "buffer_size"),
    ],
)
def test_out_of_range_loss_and_replay_settings_are_config_errors(cls, env, config, field):
    with pytest.raises(ConfigError, match=field):
        cls(env, **config)


# --- environments ----------------------------------------------------------------------------------
@pytest.mark.parametrize("env_id, suggestion", [("ALE/NotAGame-v5", None), ("ALE/pong-v5", "'ALE/Pong-v5'")])
def test_unknown_atari_game_is_an_unknown_env_error(env_id, suggestion):
    with pytest.raises(UnknownEnvError, match="Did you mean") as caught:
        PPO2(env_id, **SMALL_PPO)
    if suggestion is not None:
        assert f"Did you mean {suggestion}" in str(caught.value)  # the case-only fix comes first


class _ShortObservations(gym.Env):
    """Declares 4-vector observations and returns 3-vectors."""

    observation_space = gym.spaces.Box(-1.0, 1.0, (4,), np.float32)
    action_space = gym.spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return np.zeros(3, np.float32), {}

    def step(self, action):
        return np.zeros(3, np.float32), 0.0, False, False, {}


@pytest.mark.parametrize("make", [lambda: _ShortObservations(), lambda: _ShortObservations], ids=["instance", "factory"])
def test_env_whose_observations_do_not_match_its_space(make):
    with pytest.raises(UnsupportedSpaceError, match=r"shape \(4,\).*shape \(3,\)"):
        PPO2(make(), **SMALL_PPO)


def test_env_whose_observations_do_not_match_its_space_in_a_vector_of_envs():
    with pytest.raises(UnsupportedSpaceError, match=r"shape \(4,\).*shape \(3,\)"):
        PPO2(_ShortObservations, num_envs=2, **SMALL_PPO)


def test_halfcheetah_builds_with_the_mujoco_extra():
    pytest.importorskip("mujoco")
    env = gym.make("HalfCheetah-v5")  # gymnasium's MuJoCo envs import imageio: setup.cfg must install it
    obs, _ = env.reset(seed=0)
    assert obs.shape == (17,)
    env.close()


# --- acting ----------------------------------------------------------------------------------------
def test_act_names_the_expected_shape_for_a_wrong_observation():
    agent = PPO2("CartPole-v1", **SMALL_PPO)
    assert agent.act(np.zeros(4, np.float32)).shape == ()
    assert agent.act(np.zeros((5, 4), np.float32)).shape == (5,)
    for wrong in (np.zeros(3), np.zeros((2, 3)), np.zeros((2, 2, 4))):
        with pytest.raises(UnsupportedSpaceError, match=r"shape \(4,\)"):
            agent.act(wrong)


# --- checkpoints -----------------------------------------------------------------------------------
def test_loading_a_checkpoint_into_another_env_says_the_spaces_differ(tmp_path):
    path = PPO2("CartPole-v1", **SMALL_PPO).save(tmp_path / "cartpole.pt")
    with pytest.raises(CheckpointError, match="observation space.*differs.*'CartPole-v1'"):
        PPO2.load(path, env="Acrobot-v1")


def test_checkpoint_without_spaces_still_loads(tmp_path):
    agent = PPO2("CartPole-v1", **SMALL_PPO)
    payload = agent.checkpoint_payload()
    del payload["spaces"]  # as written before the spaces were stored
    path = save_checkpoint(tmp_path / "old.pt", payload)
    loaded = PPO2.load(path)
    obs = np.random.default_rng(0).normal(size=(8, 4)).astype(np.float32)
    np.testing.assert_array_equal(loaded.act(obs, deterministic=True), agent.act(obs, deterministic=True))


def test_spaces_are_stored_as_primitives(tmp_path):
    path = DDPG("Pendulum-v1", buffer_size=1000, batch_size=32, save_replay=False).save(tmp_path / "ddpg.pt")
    spaces = load_checkpoint(path)["spaces"]  # torch.load(weights_only=True) accepts it
    assert spaces["observation"] == {"type": "Box", "shape": [3], "dtype": "float32", "n": None}
    assert spaces["action"] == {"type": "Box", "shape": [1], "dtype": "float32", "n": None}


# --- CLI -------------------------------------------------------------------------------------------
def test_plot_creates_the_output_folder(tmp_path):
    run = tmp_path / "runs" / "x"
    run.mkdir(parents=True)
    (run / "progress.csv").write_text("step,episodic_return\n100,10.0\n200,20.0\n")
    out = tmp_path / "missing_folder" / "curves.png"
    assert main(["plot", str(run), "-o", str(out)]) == 0
    assert out.is_file()


# --- threads ---------------------------------------------------------------------------------------
@pytest.fixture
def restore_torch_threads():
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def test_ddpg_on_vector_observations_uses_one_torch_thread(monkeypatch, restore_torch_threads):
    # as if on a 4-core machine, so that "all cores" and "one" differ wherever the test runs
    monkeypatch.setattr("rlkit.utils.usable_cores", lambda: 4)
    agent = DDPG("Pendulum-v1", buffer_size=1000, batch_size=32)
    assert agent.threads == 1 and torch.get_num_threads() == 1
