import numpy as np
import pytest
import torch

from rlkit.buffers import ReplayBuffer, SumTree
from rlkit.errors import CheckpointError, ConfigError


def _vec_buffer(n_step=3, gamma=0.5, capacity=64, **kw) -> ReplayBuffer:
    return ReplayBuffer(capacity, 1, (1,), np.float32, (), np.int64, gamma=gamma, n_step=n_step, **kw)


def _run(buffer, steps):
    """steps: (obs_after, reward, terminated, truncated, valid); obs values label the states."""
    for a, (obs, r, term, trunc, valid) in enumerate(steps):
        buffer.add(np.array([a]), np.array([r], np.float32), np.array([term]), np.array([trunc]),
                   np.array([[obs]], np.float32), np.array([valid]))


def _by_obs(buffer):
    sample = buffer.sample(256)
    return {float(o[0]): (float(r), float(d), float(t), float(n[0]))
            for o, r, d, t, n in zip(sample.obs, sample.rewards, sample.discounts, sample.terminated, sample.next_obs)}


def test_n_step_returns_with_termination_and_truncation_inside_the_window():
    buffer = _vec_buffer(n_step=3, gamma=0.5)
    buffer.start(np.array([[0.0]], np.float32))
    _run(buffer, [
        (1, 1.0, False, False, True),   # episode A: 0 -> 1 -> 2 -> 3 -> 4 (terminated on the way to 4)
        (2, 2.0, False, False, True),
        (3, 4.0, False, False, True),
        (4, 8.0, True, False, True),
        (10, 0.0, False, False, False),  # autoreset: 10 starts episode B
        (11, 1.0, False, False, True),   # episode B: 10 -> 11 -> 12 (truncated; 12 is the final obs)
        (12, 2.0, False, True, True),
        (20, 0.0, False, False, False),  # autoreset: episode C starts at 20, still open
        (21, 5.0, False, False, True),
    ])
    got = _by_obs(buffer)
    assert set(got) == {0.0, 1.0, 2.0, 3.0, 10.0, 11.0}  # 20's window is still open; 4, 12 are final obs
    # full windows bootstrap γ^3 from the obs three steps on
    assert got[0.0] == (1 + 0.5 * 2 + 0.25 * 4, 0.125, 0.0, 3.0)
    # windows cut by termination: no bootstrap (terminated = 1)
    assert got[1.0] == (2 + 0.5 * 4 + 0.25 * 8, 0.125, 1.0, 4.0)
    assert got[2.0] == (4 + 0.5 * 8, 0.25, 1.0, 4.0)
    assert got[3.0] == (8.0, 0.5, 1.0, 4.0)
    # windows cut by truncation: bootstrap from the final observation 12 with γ^m
    assert got[10.0] == (1 + 0.5 * 2, 0.25, 0.0, 12.0)
    assert got[11.0] == (2.0, 0.5, 0.0, 12.0)


def test_one_step_and_actions_stored_at_their_state():
    buffer = _vec_buffer(n_step=1, gamma=0.9)
    buffer.start(np.array([[0.0]], np.float32))
    _run(buffer, [(1, 1.0, False, False, True), (2, 1.0, False, False, True)])
    sample = buffer.sample(64)
    for obs, action, next_obs, disc in zip(sample.obs, sample.actions, sample.next_obs, sample.discounts):
        assert next_obs[0] == obs[0] + 1 and action == obs[0] and disc == pytest.approx(0.9)


def test_frame_stacks_are_rebuilt_from_single_frames_and_never_cross_episodes():
    k, shape = 4, (4, 2, 2)
    buffer = ReplayBuffer(200, 2, shape, np.uint16, (), np.int64, gamma=0.99, n_step=2, frame_stack=k)

    def stack(frames):  # what a FrameStack wrapper hands out: the last k frames, oldest first
        return np.stack([np.full((2, 2), f, np.uint16) for f in frames])

    first = [[1, 1, 1, 1], [50, 50, 50, 50]]
    obs = np.stack([stack(f) for f in first])
    buffer.start(obs)
    history = [list(f) for f in first]
    next_frame = [2, 51]
    for t in range(30):
        next_obs, valid, ends = [], [], []
        for i in range(2):
            if history[i] is None:  # autoreset step: a new episode, its first stack repeats one frame
                f = 1000 + 100 * t + 10 * i
                history[i] = [f] * k
                next_frame[i] = f + 1
                next_obs.append(stack(history[i])); valid.append(False); ends.append(False)
                continue
            history[i] = history[i][1:] + [next_frame[i]]
            next_frame[i] += 1
            next_obs.append(stack(history[i])); valid.append(True); ends.append(t % 7 == 6 - i)
        buffer.add(np.zeros(2), np.zeros(2, np.float32), np.array(ends), np.zeros(2, bool), np.stack(next_obs), np.array(valid))
        for i in range(2):
            if ends[i]:
                history[i] = None
    sample = buffer.sample(512)
    for o, n, term in zip(sample.obs, sample.next_obs, sample.terminated):
        o_frames, n_frames = o[:, 0, 0].tolist(), n[:, 0, 0].tolist()
        # consecutive frames within one episode: each stack is a run of +1 steps (or the repeated first frame)
        for frames in (o_frames, n_frames):
            diffs = np.diff(frames)
            assert np.all((diffs == 1) | (diffs == 0)), frames
            assert np.all(diffs[np.argmax(diffs == 1):] == 1) if (diffs == 1).any() else True
        assert n_frames[-1] - o_frames[-1] in (1, 2)  # next obs 2 steps on, or 1 when the episode ended
    assert buffer.frames.nbytes == 2 * 100 * 4 * 2  # one 2x2 uint16 frame per slot, not a stack


def test_overwritten_frames_invalidate_the_transitions_that_used_them():
    buffer = _vec_buffer(n_step=1, capacity=32)
    buffer.start(np.array([[0.0]], np.float32))
    _run(buffer, [(t + 1, 0.0, False, False, True) for t in range(100)])
    got = _by_obs(buffer)
    # the ring holds 32 frames: only the newest 31 decision states remain, each with its next obs
    assert min(got) == 100 - 31 and len(got) == 31
    assert all(v[3] == k + 1 for k, v in got.items())


def test_sum_tree_sampling_matches_exact_proportions():
    tree = SumTree(6)
    priorities = np.array([0.5, 1.0, 0.0, 3.0, 2.5, 1.0])
    tree.update(np.arange(6), priorities)
    assert tree.total == pytest.approx(8.0)
    rng = np.random.default_rng(0)
    draws = np.concatenate([tree.sample(32, rng) for _ in range(3000)])
    counts = np.bincount(draws, minlength=6)
    expected = priorities / priorities.sum() * draws.size
    assert counts[2] == 0  # priority 0 is never drawn
    keep = expected > 0
    chi2 = (((counts - expected) ** 2)[keep] / expected[keep]).sum()
    assert chi2 < 20.5  # χ² with 4 degrees of freedom: p < 0.0005
    tree.update(np.array([3, 3]), np.array([0.0, 0.0]))  # repeated indices, parents recomputed
    assert tree.total == pytest.approx(5.0)


def test_prioritized_sampling_weights_and_priority_updates():
    buffer = _vec_buffer(n_step=1, prioritized=True, alpha=1.0)
    buffer.start(np.array([[0.0]], np.float32))
    _run(buffer, [(t + 1, 0.0, False, False, True) for t in range(4)])
    assert np.allclose(buffer.tree.get(np.arange(4)), 1.0)  # new transitions enter at the max priority
    buffer.update_priorities(np.arange(4), np.array([1.0, 1.0, 2.0, 4.0]) - 1e-6)
    assert buffer.max_priority == pytest.approx(4.0)
    sample = buffer.sample(4000, beta=1.0)
    probs = buffer.tree.get(sample.indices) / buffer.tree.total
    expected = (4 * probs) ** -1.0
    np.testing.assert_allclose(sample.weights, expected / expected.max(), rtol=1e-5)
    assert sample.weights.max() == pytest.approx(1.0)
    counts = np.bincount(sample.indices, minlength=4) / 4000
    np.testing.assert_allclose(counts, [0.125, 0.125, 0.25, 0.5], atol=0.03)
    # new transitions enter at the current maximum priority
    _run(buffer, [(5, 0.0, False, False, True)])
    assert buffer.tree.get(np.array([4]))[0] == pytest.approx(4.0)


def test_replay_state_round_trip(tmp_path):
    buffer = _vec_buffer(n_step=3, prioritized=True)
    buffer.start(np.array([[0.0]], np.float32))
    _run(buffer, [(t + 1, float(t), t == 9, False, True) for t in range(12)])
    state = buffer.state_dict()
    assert all(isinstance(v, torch.Tensor) for k, v in state.items() if k in ReplayBuffer.ARRAYS)
    copy = _vec_buffer(n_step=3, prioritized=True)
    copy.load_state_dict(state)
    for name in ReplayBuffer.ARRAYS:
        np.testing.assert_array_equal(getattr(copy, name), getattr(buffer, name))
    assert copy._open == buffer._open and copy.tree.total == pytest.approx(buffer.tree.total)
    # the sampler's random stream goes on where it was, through a real checkpoint file
    from rlkit.checkpoint import load_checkpoint, save_checkpoint

    buffer.sample(4, 0.4)
    path = save_checkpoint(tmp_path / "replay.pt", {"agent": "DQN", "replay": buffer.state_dict()})
    copy = _vec_buffer(n_step=3, prioritized=True)
    copy.load_state_dict(load_checkpoint(path)["replay"])
    np.testing.assert_array_equal(copy.sample(8, 0.4).indices, buffer.sample(8, 0.4).indices)


def test_bad_replay_settings_raise_config_errors():
    with pytest.raises(ConfigError, match="n_step"):
        _vec_buffer(n_step=0)
    with pytest.raises(ConfigError, match="slots per env"):
        ReplayBuffer(16, 4, (1,), np.float32, (), np.int64)
    with pytest.raises(ConfigError, match="no complete transition"):
        _vec_buffer().sample(4)


def test_transition_count_tracks_the_valid_mask():
    buffer = _vec_buffer(n_step=2, capacity=32)
    buffer.start(np.array([[0.0]], np.float32))
    _run(buffer, [(t + 1, 0.0, t % 9 == 8, False, True) if t % 10 != 9 else (100 + t, 0.0, False, False, False)
                  for t in range(120)])
    assert buffer.num_transitions == int(buffer.valid.sum()) > 0


def test_relabelled_rewards_change_the_sampled_n_step_returns():
    buffer = _vec_buffer(n_step=3, gamma=0.5)
    buffer.start(np.array([[0.0]], np.float32))
    _run(buffer, [
        (1, 1.0, False, False, True),   # episode A: 0 -> 1 -> 2 -> 3 -> 4, terminated on the way to 4
        (2, 2.0, False, False, True),
        (3, 4.0, False, False, True),
        (4, 8.0, True, False, True),
        (10, 0.0, False, False, False),  # episode B: 10 -> 11 -> 12, truncated at 12
        (11, 1.0, False, False, True),
        (12, 2.0, False, True, True),
        (20, 0.0, False, False, False),  # episode C: its first window is still open
        (21, 5.0, False, False, True),
    ])
    calls = []

    def next_label(obs, actions, next_obs):  # a reward model: r(s, a, s') = the label of s'
        calls.append((obs[:, 0].tolist(), actions.tolist(), next_obs[:, 0].tolist()))
        return next_obs[:, 0]

    buffer.relabel(next_label)
    # every stored step once, the open window's too; never a final observation or an autoreset step
    assert sorted(zip(*calls[0])) == [(0, 0, 1), (1, 1, 2), (2, 2, 3), (3, 3, 4), (10, 5, 11), (11, 6, 12), (20, 8, 21)]
    got = _by_obs(buffer)
    assert got[0.0] == (1 + 0.5 * 2 + 0.25 * 3, 0.125, 0.0, 3.0)
    assert got[1.0] == (2 + 0.5 * 3 + 0.25 * 4, 0.125, 1.0, 4.0)
    assert got[2.0] == (3 + 0.5 * 4, 0.25, 1.0, 4.0)
    assert got[3.0] == (4.0, 0.5, 1.0, 4.0)
    assert got[10.0] == (11 + 0.5 * 12, 0.25, 0.0, 12.0)
    assert got[11.0] == (12.0, 0.5, 0.0, 12.0)
    # the open window goes on with the relabelled first step and the raw rewards that follow
    _run(buffer, [(22, 2.0, False, False, True), (23, 4.0, False, False, True)])
    assert _by_obs(buffer)[20.0] == (21 + 0.5 * 2 + 0.25 * 4, 0.125, 0.0, 23.0)
    # a direct write is the same: the first observation's step sits in slot 0
    buffer.rewards[0, 0] = 100.0
    assert _by_obs(buffer)[0.0] == (100 + 0.5 * 2 + 0.25 * 3, 0.125, 0.0, 3.0)


def _frame_buffer(**kw) -> ReplayBuffer:
    return ReplayBuffer(64, 2, (4, 8, 8), np.uint8, (), np.int64, gamma=0.9, n_step=3, frame_stack=4, **kw)


def _frame_steps(count, seed=0, envs=2):
    """start() observations and ``count`` add() arguments: random 8x8 frames stacked by 4, episodes
    ending at random (terminated or truncated), next-step autoreset."""
    rng = np.random.default_rng(seed)
    stacks = rng.integers(0, 256, (envs, 1, 8, 8), dtype=np.uint8).repeat(4, axis=1)
    first, steps, resetting = stacks.copy(), [], np.zeros(envs, bool)
    for _ in range(count):
        frames = rng.integers(0, 256, (envs, 1, 8, 8), dtype=np.uint8)
        stacks = np.where(resetting[:, None, None, None], frames.repeat(4, axis=1),  # a new episode repeats its frame
                          np.concatenate([stacks[:, 1:], frames], 1))
        terminated = ~resetting & (rng.random(envs) < 0.06)
        truncated = ~resetting & ~terminated & (rng.random(envs) < 0.04)
        steps.append((rng.integers(0, 6, envs), rng.standard_normal(envs).astype(np.float32), terminated, truncated,
                      stacks, ~resetting))
        resetting = terminated | truncated
    return first, steps


def _feed(buffer, steps):
    for step in steps:
        buffer.add(*step)


def _same_samples(a, b):
    for field in a._fields:
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field), err_msg=field)


def test_file_backed_replay_round_trips_through_a_checkpoint(tmp_path):
    from rlkit.checkpoint import load_checkpoint, save_checkpoint

    first, steps = _frame_steps(120)
    in_memory, filed = _frame_buffer(prioritized=True), _frame_buffer(prioritized=True)
    for buffer in (in_memory, filed):
        buffer.start(first)
        _feed(buffer, steps[:70])
    filed.attach_storage(tmp_path / "replay")  # copies the 70 steps written so far
    frames = filed.frames
    filed.attach_storage(tmp_path / "replay")  # already there: nothing happens
    assert filed.frames is frames
    for buffer in (in_memory, filed):
        _feed(buffer, steps[70:])  # through the file from now on
    path = save_checkpoint(tmp_path / "checkpoint.pt", {"replay": filed.state_dict()})
    state = load_checkpoint(path)["replay"]
    assert "frames" not in state and state["frames_file"] == str((tmp_path / "replay" / "replay_frames.npy").resolve())
    copy = _frame_buffer(prioritized=True)
    copy.load_state_dict(state)
    for name in (*ReplayBuffer.ARRAYS, "frames_written"):
        np.testing.assert_array_equal(getattr(copy, name), getattr(in_memory, name), err_msg=name)
    assert copy._open == in_memory._open and copy.num_transitions == in_memory.num_transitions
    assert copy.tree.total == pytest.approx(in_memory.tree.total)
    expected = in_memory.sample(64)
    _same_samples(copy.sample(64), expected)
    _same_samples(filed.sample(64), expected)
    # an in-memory state loaded into a file-backed buffer goes into its file
    other = _frame_buffer(prioritized=True)
    other.attach_storage(tmp_path / "other")
    other.load_state_dict(in_memory.state_dict())
    assert other.storage_path == (tmp_path / "other" / "replay_frames.npy").resolve()
    np.testing.assert_array_equal(np.load(other.storage_path), in_memory.frames)
    _same_samples(other.sample(64), in_memory.sample(64))


def test_a_killed_run_loads_its_file_backed_checkpoint_without_the_overwritten_transitions(tmp_path):
    first, steps = _frame_steps(100)
    live, reference = _frame_buffer(), _frame_buffer()  # reference: the buffer as it was at the checkpoint
    live.attach_storage(tmp_path / "replay")
    for buffer in (live, reference):
        buffer.start(first)
        _feed(buffer, steps[:50])
    state = live.state_dict()
    _feed(live, steps[50:58])  # the run goes on, overwriting the oldest slots, and is killed (its state is lost)
    since = live.frames_written - state["frames_written_per_env"].numpy()
    restored = _frame_buffer()
    restored.load_state_dict(state)
    assert 0 < restored.num_transitions < reference.num_transitions
    assert not (restored.valid & ~reference.valid).any() and restored.num_transitions == restored.valid.sum()
    # every transition left is the checkpoint's, frame for frame
    flat = np.flatnonzero(restored.valid)
    ones = np.ones(flat.size, np.float32)
    _same_samples(restored._transitions(flat, ones), reference._transitions(flat, ones))
    # and the ones gone are exactly those with a frame (own stack or next observation's) written since
    S, k = reference.segment, reference.k
    for env in range(2):
        written = np.zeros(S, bool)
        written[(reference.next_slot[env] + np.arange(since[env])) % S] = True
        for slot in np.flatnonzero(reference.valid[env]):
            frames_used = (slot + np.arange(1 - k, reference.next_offset[env, slot] + 1)) % S
            assert restored.valid[env, slot] == (not written[frames_used].any())
    # more than a whole ring written since: nothing of that checkpoint is left
    _feed(live, steps[58:])
    assert (live.frames_written - state["frames_written_per_env"].numpy() > S).all()
    restored = _frame_buffer()
    restored.load_state_dict(state)
    assert restored.num_transitions == 0


def test_a_file_backed_checkpoint_holds_no_frames(tmp_path):
    buffer = ReplayBuffer(20_000, 1, (4, 84, 84), np.uint8, (), np.int64, n_step=3, frame_stack=4, prioritized=True)
    buffer.attach_storage(tmp_path / "replay")
    state = buffer.state_dict()
    largest = max(v.numel() * v.element_size() for v in state.values() if isinstance(v, torch.Tensor))
    assert largest * 100 < buffer.frames.nbytes <= buffer.nbytes
    # the file's whole size is reserved when it is made, so a full disk fails here, not mid-run
    stat = (tmp_path / "replay" / "replay_frames.npy").stat()
    assert stat.st_blocks * 512 >= stat.st_size


def test_a_missing_mismatched_or_recreated_replay_file(tmp_path):
    first, steps = _frame_steps(40)
    buffer = _frame_buffer()
    buffer.attach_storage(tmp_path / "replay")
    buffer.start(first)
    _feed(buffer, steps)
    state = buffer.state_dict()
    with pytest.raises(CheckpointError, match="save_replay=False"):
        ReplayBuffer(64, 2, (4, 6, 6), np.uint8, (), np.int64, n_step=3, frame_stack=4).load_state_dict(state)
    # a new run in the same folder recreates the file: the old checkpoint finds none of its transitions
    _frame_buffer().attach_storage(tmp_path / "replay")
    restored = _frame_buffer()
    restored.load_state_dict(state)
    assert restored.num_transitions == 0
    (tmp_path / "replay" / "replay_frames.npy").unlink()
    with pytest.raises(CheckpointError, match="gone"):
        _frame_buffer().load_state_dict(state)
    # a state from before rewards were stored per step cannot be converted
    with pytest.raises(CheckpointError, match="older rlkit"):
        _frame_buffer().load_state_dict({k: v for k, v in state.items() if k != "rewards"})
