"""Demonstrations to a local Minari dataset and back, identical; datasets that are not on the machine
are refused, never downloaded. Skipped without Minari (``pip install rlkit[minari]``)."""
import os
import subprocess
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

from rlkit.buffers.demonstrations import Demonstrations, collect_demonstrations
from rlkit.errors import DemonstrationsError
from test_demonstrations import assert_identical, synthetic, synthetic_stacks
from toy_experts import pendulum_expert, wobbly_expert

minari = pytest.importorskip("minari")
from rlkit.buffers.minari_io import from_minari, local_datasets, to_minari  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def datasets(tmp_path, monkeypatch) -> Path:
    """Every test gets its own MINARI_DATASETS_PATH; none can reach the network."""
    root = tmp_path / "minari"
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(root))

    def no_download(*args, **kwargs):
        raise AssertionError("a download was attempted")

    monkeypatch.setattr(minari.storage.hosting, "download_dataset", no_download)
    monkeypatch.setattr(minari, "download_dataset", no_download)
    return root


def round_trip(demos: Demonstrations, dataset_id: str, env=None) -> Demonstrations:
    path = to_minari(demos, dataset_id, env=env)
    assert path.is_dir() and dataset_id in local_datasets()
    back = from_minari(dataset_id)
    assert back.source == f"minari:{dataset_id}"
    back.source = demos.source
    return back


def test_cartpole_round_trip_is_identical_and_keeps_the_env():
    demos = collect_demonstrations(wobbly_expert, "CartPole-v1", episodes=4, seed=2, num_envs=2)
    assert_identical(demos, round_trip(demos, "rlkit/cartpole/wobbly-v0", env="CartPole-v1"))
    dataset = minari.load_dataset("rlkit/cartpole/wobbly-v0")
    assert dataset.total_episodes == 4 and dataset.total_steps == len(demos)
    env = dataset.recover_environment()
    assert env.spec.id == "CartPole-v1"
    env.close()


def test_pendulum_round_trip_is_identical():
    demos = collect_demonstrations(pendulum_expert, "Pendulum-v1", episodes=2, seed=4)
    assert_identical(demos, round_trip(demos, "pendulum-expert-v0", env="Pendulum-v1"))


def test_stacked_frames_and_images_round_trip_losslessly():
    lengths = (3, 2)
    frames = synthetic(lengths, obs=synthetic_stacks(lengths))
    assert_identical(frames, round_trip(frames, "rlkit/frames-v0", env="ALE/Pong-v5"))
    assert minari.load_dataset("rlkit/frames-v0").spec.env_spec is None  # rlkit's frames are not the raw env's
    # an image space Minari would JPEG-encode by default (lossy): stored raw here
    images = np.random.default_rng(0).integers(0, 256, (sum(lengths) + 2, 40, 40, 3), dtype=np.uint8)
    rgb = synthetic(lengths, obs=images)
    with pytest.warns(UserWarning, match="env_spec is None"):  # Minari's note: no env given for these synthetic frames
        assert_identical(rgb, round_trip(rgb, "rlkit/rgb-v0"))


def test_a_dataset_that_is_not_here_is_refused_not_downloaded(datasets):
    with pytest.raises(DemonstrationsError, match="not present locally.*never downloads.*MINARI_DATASETS_PATH"):
        from_minari("D4RL/door/human-v2")
    (datasets / "broken-v0" / "data").mkdir(parents=True)  # a folder without a dataset in it
    with pytest.raises(DemonstrationsError, match="could not read"):
        from_minari("broken-v0")


def test_ids_that_are_malformed_or_taken():
    demos = synthetic()
    with pytest.raises(DemonstrationsError, match="not a Minari dataset id"):
        to_minari(demos, "no-version")
    to_minari(demos, "taken-v0", env="CartPole-v1")
    with pytest.raises(DemonstrationsError, match="already exists.*minari delete"):
        to_minari(demos, "taken-v0")


def test_a_failed_export_leaves_no_half_dataset(datasets, monkeypatch):
    def fail(*args, **kwargs):
        (datasets / "half-v0" / "data").mkdir(parents=True)
        raise OSError("disk full")

    monkeypatch.setattr(minari, "create_dataset_from_buffers", fail)
    with pytest.raises(DemonstrationsError, match="disk full"):
        to_minari(synthetic(), "half-v0")
    assert not (datasets / "half-v0").exists()


def test_a_dict_observation_dataset_is_refused_with_what_to_do():
    from minari.data_collector import EpisodeBuffer

    space = gym.spaces.Dict({"a": gym.spaces.Box(-1, 1, (2,), np.float32)})
    episode = EpisodeBuffer(observations={"a": np.zeros((3, 2), np.float32)}, actions=np.zeros(2, np.int64),
                            rewards=np.zeros(2), terminations=np.array([False, True]), truncations=np.zeros(2, bool))
    with pytest.warns(UserWarning, match="env_spec is None|eval_env"):  # Minari's notes: a dataset of no env
        minari.create_dataset_from_buffers("dicts-v0", [episode], observation_space=space,
                                           action_space=gym.spaces.Discrete(2), algorithm_name="test", author="test",
                                           author_email="test", code_permalink="test", description="test")
    with pytest.raises(DemonstrationsError, match="Flatten"):
        from_minari("dicts-v0")


def test_without_minari_the_error_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "minari", None)  # import minari now raises ImportError
    with pytest.raises(DemonstrationsError, match=r"rlkit\[minari\]"):
        from_minari("anything-v0")


def test_importing_the_module_does_not_import_minari():
    done = subprocess.run([sys.executable, "-c", "import sys, rlkit.buffers.minari_io; print('minari' in sys.modules)"],
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=120)
    assert done.stdout.strip() == "False", done.stderr
