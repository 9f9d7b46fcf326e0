"""Demonstrations: whole episodes with their final observations, saved as .npz without pickle and
loaded back identical; episode slicing, minibatches, and the errors a damaged or foreign file gives.
No learning: experts are plain functions of the observation (each test takes well under a second,
the Atari one about one)."""
import json
import zipfile
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

from rlkit.buffers.demonstrations import (
    SCHEMA_VERSION,
    Demonstrations,
    collect_demonstrations,
    describe_space,
    space_from_description,
)
from rlkit.errors import DemonstrationsError
from toy_experts import cartpole_expert, pendulum_expert, wobbly_expert

ARRAYS = ("obs", "actions", "rewards", "terminated", "truncated", "episode_lengths")


def assert_identical(a: Demonstrations, b: Demonstrations) -> None:
    for name in ARRAYS:
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype == y.dtype and x.shape == y.shape and np.array_equal(x, y), name
    assert a.observation_space == b.observation_space and a.action_space == b.action_space
    assert describe_space(a.observation_space) == describe_space(b.observation_space)
    assert describe_space(a.action_space) == describe_space(b.action_space)
    assert a.source == b.source


@pytest.fixture(scope="module")
def cartpole() -> Demonstrations:
    return collect_demonstrations(cartpole_expert, "CartPole-v1", episodes=4, seed=3)


@pytest.fixture(scope="module")
def pendulum() -> Demonstrations:
    return collect_demonstrations(pendulum_expert, "Pendulum-v1", episodes=2, seed=5, num_envs=2)


def synthetic_stacks(lengths, stack=4, size=6, seed=0) -> np.ndarray:
    """Stacked uint8 frames as a frame-stack wrapper makes them: each episode's observation t holds
    frames t .. t + stack - 1 of its own frame sequence, the newest last."""
    rng = np.random.default_rng(seed)
    rows = []
    for length in lengths:
        frames = rng.integers(0, 256, (length + stack, size, size), dtype=np.uint8)
        rows += [frames[t:t + stack] for t in range(length + 1)]
    return np.stack(rows)


def synthetic(lengths=(3, 1, 5), obs=None) -> Demonstrations:
    lengths = np.asarray(lengths)
    steps = int(lengths.sum())
    obs = np.arange(steps + len(lengths), dtype=np.float32)[:, None] if obs is None else obs
    space = gym.spaces.Box(-np.inf, np.inf, obs.shape[1:], obs.dtype) if obs.dtype != np.uint8 else \
        gym.spaces.Box(0, 255, obs.shape[1:], np.uint8)
    ends = np.cumsum(lengths) - 1
    terminated = np.zeros(steps, bool)
    terminated[ends] = True
    return Demonstrations(obs=obs, actions=np.arange(steps) % 3, rewards=np.linspace(-1, 1, steps, dtype=np.float32),
                          terminated=terminated, truncated=np.zeros(steps, bool), episode_lengths=lengths,
                          observation_space=space, action_space=gym.spaces.Discrete(3), source="synthetic")


# --- round trips ----------------------------------------------------------------------------------
def test_cartpole_round_trip_is_identical(cartpole, tmp_path):
    assert cartpole.obs.shape == (len(cartpole) + 4, 4) and cartpole.actions.dtype == np.int64
    path = cartpole.save(tmp_path / "cartpole.npz")
    assert path == tmp_path / "cartpole.npz"
    assert_identical(cartpole, Demonstrations.load(path))


def test_pendulum_box_actions_round_trip_within_bounds(pendulum, tmp_path):
    assert pendulum.actions.shape == (400, 1) and pendulum.actions.dtype == np.float32
    assert pendulum.actions.min() == -2.0 and pendulum.actions.max() <= 2.0  # executed actions: clipped
    assert pendulum.truncated[np.cumsum(pendulum.episode_lengths) - 1].all()  # 200-step time limit
    assert_identical(pendulum, Demonstrations.load(pendulum.save(tmp_path / "pendulum")))  # .npz added
    assert (tmp_path / "pendulum.npz").is_file()


def test_stacked_frames_are_stored_once_and_rebuilt_exactly(tmp_path):
    lengths = (4, 1, 7)
    demos = synthetic(lengths, obs=synthetic_stacks(lengths))
    path = demos.save(tmp_path / "frames.npz")
    with np.load(path, allow_pickle=False) as stored:
        assert "obs" not in stored.files
        assert stored["frames"].shape == (3 * 4 + sum(lengths), 6, 6)  # each episode's first stack, then a frame a step
        assert json.loads(str(stored["meta"]))["stack"] == 4
    assert_identical(demos, Demonstrations.load(path))


def test_observations_that_are_not_frame_stacks_are_stored_whole(tmp_path):
    lengths = (3, 2)
    obs = synthetic_stacks(lengths)
    obs[2, 0, 0, 0] ^= 1  # one pixel breaks the shift from one stack to the next
    demos = synthetic(lengths, obs=obs)
    path = demos.save(tmp_path / "images.npz")
    with np.load(path, allow_pickle=False) as stored:
        assert "frames" not in stored.files and stored["obs"].shape == obs.shape
    assert_identical(demos, Demonstrations.load(path))


def test_atari_recording_stores_frames_and_rebuilds_exactly(tmp_path):
    pytest.importorskip("ale_py")
    rng = np.random.default_rng(0)
    demos = collect_demonstrations(lambda obs: rng.integers(0, 6, len(obs)), "ALE/Pong-v5", episodes=1, seed=0)
    assert demos.obs.shape[1:] == (4, 84, 84) and demos.obs.dtype == np.uint8
    path = demos.save(tmp_path / "pong.npz")
    with np.load(path, allow_pickle=False) as stored:
        assert "obs" not in stored.files and stored["frames"].shape == (4 + len(demos), 84, 84)
    assert_identical(demos, Demonstrations.load(path))


@pytest.mark.parametrize("space", [
    gym.spaces.Box(-np.inf, np.inf, (3,), np.float32),
    gym.spaces.Box(np.array([-1.5, 0.0, -np.inf], np.float32), np.array([1.5, 2.0, np.inf], np.float32)),
    gym.spaces.Box(0, 2**62 + 1, (2,), np.int64),  # past 2**53: exact only if read as an integer
    gym.spaces.Box(0, 255, (4, 84, 84), np.uint8),
    gym.spaces.Discrete(5, start=-2),
    gym.spaces.MultiDiscrete([3, 4], start=[1, -1]),
], ids=["unbounded", "mixed", "int64", "frames", "discrete", "multidiscrete"])
def test_spaces_survive_their_json_description(space):
    description = json.loads(json.dumps(describe_space(space)))
    back = space_from_description(description)
    assert back == space and describe_space(back) == describe_space(space)
    if isinstance(space, gym.spaces.Box):
        assert back.dtype == space.dtype and np.array_equal(back.low, space.low) and np.array_equal(back.high, space.high)


# --- what the data means --------------------------------------------------------------------------
def replay(env_id: str, expert, seed: int, episodes: int) -> list[dict[str, np.ndarray]]:
    """The same episodes in a plain Gymnasium env: the first reset seeded, later ones continuing."""
    env = gym.make(env_id)
    out = []
    obs, _ = env.reset(seed=seed)
    for _ in range(episodes):
        episode = {"obs": [obs], "actions": [], "rewards": [], "terminated": [], "truncated": []}
        while True:
            action = expert(obs[None])[0]
            if isinstance(env.action_space, gym.spaces.Box):
                action = np.clip(action, env.action_space.low, env.action_space.high)
            obs, reward, terminated, truncated, _ = env.step(action)
            for key, value in (("obs", obs), ("actions", action), ("rewards", reward), ("terminated", terminated),
                               ("truncated", truncated)):
                episode[key].append(value)
            if terminated or truncated:
                break
        out.append({k: np.array(v) for k, v in episode.items()})
        obs, _ = env.reset()
    env.close()
    return out


@pytest.mark.parametrize("env_id, expert, episodes", [("CartPole-v1", cartpole_expert, 2),
                                                      ("CartPole-v1", wobbly_expert, 4),
                                                      ("Pendulum-v1", pendulum_expert, 2)])
def test_rows_are_what_the_env_returned_including_each_final_observation(env_id, expert, episodes):
    demos = collect_demonstrations(expert, env_id, episodes=episodes, seed=11)
    rows = demos.step_obs_rows()
    starts = np.concatenate([[0], np.cumsum(demos.episode_lengths)[:-1]])
    for e, reference in enumerate(replay(env_id, expert, 11, episodes)):
        length = demos.episode_lengths[e]
        assert length == len(reference["actions"])
        steps = slice(starts[e], starts[e] + length)
        first, last = rows[steps][0], rows[steps][-1]
        assert first == starts[e] + e and np.array_equal(rows[steps], np.arange(first, first + length))
        assert np.array_equal(demos.obs[first:last + 2], reference["obs"])  # the row after the last step: final obs
        np.testing.assert_array_equal(demos.actions[steps], reference["actions"].reshape(demos.actions[steps].shape))
        np.testing.assert_array_equal(demos.rewards[steps], reference["rewards"].astype(np.float32))
        assert np.array_equal(demos.terminated[steps], reference["terminated"])
        assert np.array_equal(demos.truncated[steps], reference["truncated"])
    assert np.allclose(demos.episode_returns, [demos.rewards[s:s + n].sum() for s, n in zip(starts, demos.episode_lengths)])


def test_each_step_pairs_its_observation_with_the_action_taken_there(cartpole):
    assert np.array_equal(cartpole_expert(cartpole.obs[cartpole.step_obs_rows()]), cartpole.actions)


def test_several_envs_record_an_even_share_each_not_the_shortest_episodes():
    """Env i (seeded seed + i) records its first episodes; the episodes that end first would favour
    short ones. The same episodes come from one env per seed."""
    together = collect_demonstrations(wobbly_expert, "CartPole-v1", episodes=5, seed=25, num_envs=2)
    per_env = [collect_demonstrations(wobbly_expert, "CartPole-v1", episodes=n, seed=s) for s, n in ((25, 3), (26, 2))]

    def episodes(d: Demonstrations) -> list[bytes]:
        ends = np.cumsum(d.episode_lengths + 1)
        return sorted(o.tobytes() for o in np.split(d.obs, ends[:-1]))

    assert episodes(together) == sorted(episodes(per_env[0]) + episodes(per_env[1]))
    assert together.num_episodes == 5 and sorted(together.episode_lengths) == [25, 35, 40, 47, 47]


def test_on_episode_reports_each_recorded_episode_and_its_return():
    seen = []
    demos = collect_demonstrations(cartpole_expert, "CartPole-v1", episodes=3, seed=1, num_envs=2,
                                   on_episode=lambda done, ret: seen.append((done, ret)))
    assert [d for d, _ in seen] == [1, 2, 3] and np.allclose([r for _, r in seen], demos.episode_returns)


def test_episodes_slices_the_first_whole_episodes():
    demos = synthetic((3, 1, 5))
    first = demos.episodes(2)
    assert first.num_episodes == 2 and len(first) == 4 and first.obs.shape == (6, 1)
    assert np.array_equal(first.obs, demos.obs[:6]) and np.array_equal(first.actions, demos.actions[:4])
    assert np.array_equal(first.terminated, demos.terminated[:4]) and first.terminated[-1]
    assert_identical(demos.episodes(3), demos)
    for bad in (0, 4):
        with pytest.raises(DemonstrationsError, match="hold 3; pass 1 to 3"):
            demos.episodes(bad)


@pytest.mark.parametrize("shuffle", [True, False])
@pytest.mark.parametrize("batch_size", [1, 4, 9, 100])
def test_minibatches_cover_every_step_once_per_pass(shuffle, batch_size):
    demos = synthetic((3, 1, 5))  # the observation row's value is its row number
    rows = demos.step_obs_rows()
    rng = np.random.default_rng(0)
    for _ in range(2):
        batches = list(demos.minibatches(batch_size, rng, shuffle=shuffle))
        assert all(len(o) == len(a) <= batch_size for o, a in batches)
        row_of_obs = np.concatenate([o[:, 0] for o, _ in batches]).astype(np.int64)
        actions = np.concatenate([a for _, a in batches])
        steps = np.searchsorted(rows, row_of_obs)
        assert np.array_equal(rows[steps], row_of_obs)  # only step observations, never a final one
        assert sorted(steps) == list(range(len(demos)))  # each step exactly once
        assert np.array_equal(actions, demos.actions[steps])  # each with its own action
        if not shuffle:
            assert np.array_equal(steps, np.arange(len(demos)))


def test_minibatches_over_chosen_steps_and_a_bad_batch_size():
    demos = synthetic((3, 1, 5))
    chosen = np.array([7, 0, 4])
    batches = list(demos.minibatches(2, np.random.default_rng(0), steps=chosen))
    assert sorted(np.concatenate([a for _, a in batches]).tolist()) == sorted(demos.actions[chosen].tolist())
    with pytest.raises(DemonstrationsError, match="batch_size"):
        next(demos.minibatches(0, np.random.default_rng(0)))


def test_check_spaces_names_the_mismatch(cartpole):
    cartpole.check_spaces(gym.spaces.Box(-1, 1, (4,), np.float32), gym.spaces.Discrete(2))  # bounds may differ
    with pytest.raises(DemonstrationsError, match="action space.*rlkit collect"):
        cartpole.check_spaces(cartpole.observation_space, gym.spaces.Discrete(3))


# --- files that cannot be read ------------------------------------------------------------------------
def saved_arrays(demos: Demonstrations, tmp_path: Path) -> dict[str, np.ndarray]:
    with np.load(demos.save(tmp_path / "good.npz"), allow_pickle=False) as stored:
        return {name: stored[name] for name in stored.files}


def load_error(path: Path) -> str:
    with pytest.raises(DemonstrationsError) as caught:
        Demonstrations.load(path)
    return str(caught.value)


def test_truncated_and_empty_files_say_to_record_again(cartpole, tmp_path):
    whole = cartpole.save(tmp_path / "whole.npz").read_bytes()
    (tmp_path / "half.npz").write_bytes(whole[:len(whole) // 2])
    (tmp_path / "empty.npz").write_bytes(b"")
    for name in ("half.npz", "empty.npz"):
        message = load_error(tmp_path / name)
        assert "not a readable demonstrations file" in message and "rlkit collect" in message


def test_a_corrupted_byte_is_caught_by_the_archive_checksum(cartpole, tmp_path):
    path = cartpole.save(tmp_path / "c.npz")
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("obs.npy")
    data = bytearray(path.read_bytes())
    data[info.header_offset + 30 + len(info.filename) + info.compress_size // 2] ^= 0xFF  # inside obs's data
    path.write_bytes(bytes(data))
    assert "rlkit collect" in load_error(path)


def test_missing_file_says_how_to_record_one(tmp_path):
    message = load_error(tmp_path / "nothing.npz")
    assert "no demonstrations at" in message and "rlkit collect" in message


def test_foreign_npz_and_npy_are_not_demonstrations(tmp_path):
    np.savez(tmp_path / "foreign.npz", x=np.arange(3))
    assert "not an rlkit demonstrations file" in load_error(tmp_path / "foreign.npz")
    np.save(tmp_path / "array.npy", np.arange(3))
    (tmp_path / "array.npy").rename(tmp_path / "array.npz")
    assert "not an .npz archive" in load_error(tmp_path / "array.npz")


@pytest.mark.parametrize("version, hint", [(SCHEMA_VERSION + 1, "Upgrade rlkit"), (0, "rlkit collect"), (None, "rlkit collect")])
def test_other_schema_versions_are_refused_with_what_to_do(cartpole, tmp_path, version, hint):
    arrays = saved_arrays(cartpole, tmp_path)
    meta = json.loads(str(arrays["meta"]))
    meta["schema_version"] = version
    np.savez(tmp_path / "other.npz", **{**arrays, "meta": np.array(json.dumps(meta))})
    message = load_error(tmp_path / "other.npz")
    assert f"schema version {version}" in message and hint in message


def test_mismatched_row_counts_are_refused(cartpole, tmp_path):
    arrays = saved_arrays(cartpole, tmp_path)
    np.savez(tmp_path / "short_obs.npz", **{**arrays, "obs": arrays["obs"][:-1]})
    message = load_error(tmp_path / "short_obs.npz")
    assert "obs has" in message and "final observation" in message and "rlkit collect" in message
    np.savez(tmp_path / "long_rewards.npz", **{**arrays, "rewards": np.append(arrays["rewards"], 1.0)})
    assert "rewards has" in load_error(tmp_path / "long_rewards.npz")
    with pytest.raises(DemonstrationsError, match="actions has"):
        Demonstrations(cartpole.obs, cartpole.actions[:-1], cartpole.rewards, cartpole.terminated, cartpole.truncated,
                       cartpole.episode_lengths, cartpole.observation_space, cartpole.action_space)


def test_missing_arrays_frames_and_damaged_meta_are_refused(tmp_path):
    lengths = (2, 3)
    arrays = saved_arrays(synthetic(lengths, obs=synthetic_stacks(lengths)), tmp_path)
    cases = {
        "no_lengths": {k: v for k, v in arrays.items() if k != "episode_lengths"},
        "no_frames": {k: v for k, v in arrays.items() if k != "frames"},
        "few_frames": {**arrays, "frames": arrays["frames"][:-1]},
        "bad_json": {**arrays, "meta": np.array("{not json")},
        "no_space": {**arrays, "meta": np.array(json.dumps({"schema_version": SCHEMA_VERSION, "obs_storage": "frames",
                                                             "stack": 4}))},
    }
    expected = {"no_lengths": "lacks episode_lengths", "no_frames": "lacks frames", "few_frames": "need 13 frames",
                "bad_json": "damaged 'meta'", "no_space": "damaged 'meta'"}
    for name, contents in cases.items():
        np.savez(tmp_path / f"{name}.npz", **contents)
        message = load_error(tmp_path / f"{name}.npz")
        assert expected[name] in message and "rlkit collect" in message, (name, message)


def test_loading_never_unpickles(cartpole, tmp_path, monkeypatch):
    arrays = saved_arrays(cartpole, tmp_path)
    np.savez(tmp_path / "pickled.npz", **{**arrays, "actions": np.array([{"a": 1}] * len(cartpole), dtype=object)})
    assert "allow_pickle" in load_error(tmp_path / "pickled.npz")

    calls = []
    real_load = np.load

    def spy(*args, **kwargs):
        calls.append(kwargs.get("allow_pickle", "default"))
        return real_load(*args, **kwargs)

    monkeypatch.setattr(np, "load", spy)
    Demonstrations.load(tmp_path / "good.npz")
    assert calls == [False]


def test_save_replaces_atomically_and_leaves_no_temp_file(cartpole, tmp_path):
    path = tmp_path / "sub" / "demos.npz"
    cartpole.save(path)
    cartpole.episodes(1).save(path)
    assert Demonstrations.load(path).num_episodes == 1
    assert [p.name for p in path.parent.iterdir()] == ["demos.npz"]


def test_experts_that_do_not_fit_and_zero_episodes():
    with pytest.raises(DemonstrationsError, match="episodes must be >= 1"):
        collect_demonstrations(cartpole_expert, "CartPole-v1", episodes=0)
    with pytest.raises(DemonstrationsError, match="one action per observation"):
        collect_demonstrations(lambda obs: 0, "CartPole-v1", episodes=1)
    with pytest.raises(DemonstrationsError, match="callable"):
        collect_demonstrations("not an expert", "CartPole-v1", episodes=1)
