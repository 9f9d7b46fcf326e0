import gymnasium as gym
import numpy as np
import pytest

from envs import make_env, make_vec_env
from envs.atari import parse_atari_id
from rlkit.errors import ConfigError, UnknownEnvError


def test_parse_atari_ids():
    assert parse_atari_id("ALE/Pong-v5") == ("Pong", "v5")
    assert parse_atari_id("BreakoutNoFrameskip-v4") == ("Breakout", "noframeskip")
    assert parse_atari_id("CartPole-v1") is None


def test_vec_env_step_contract_and_seeding():
    a, b = make_vec_env("CartPole-v1", 3), make_vec_env("CartPole-v1", 3)
    np.testing.assert_array_equal(a.reset(seed=7), b.reset(seed=7))
    actions = np.array([0, 1, 0])
    step = a.step(actions)
    assert step.obs.shape == (3, 4) and step.rewards.dtype == np.float32
    assert step.terminated.dtype == bool and step.truncated.dtype == bool
    np.testing.assert_array_equal(step.obs, b.step(actions).obs)


# EnvPool declares CartPole's observation bounds in float64; Gymnasium warns as it casts them
@pytest.mark.filterwarnings("ignore:.*precision lowered by casting to float32:UserWarning")
@pytest.mark.parametrize("backend", ["gymnasium", "envpool"])
def test_reset_takes_numpy_integer_seeds_and_refuses_others(backend):
    env, twin = (make_vec_env("CartPole-v1", 2, backend=backend, seed=5) for _ in range(2))
    np.testing.assert_array_equal(env.reset(seed=np.int64(5)), twin.reset(seed=5))
    for bad in (1.5, -1, True, "5", 2**31 - 1):  # the last: env 1's seed would pass 2**31 - 1
        with pytest.raises(ConfigError, match="seed must be an integer"):
            env.reset(seed=bad)
    with pytest.raises(ConfigError, match="seed must be an integer"):
        make_vec_env("CartPole-v1", 2, backend=backend, seed=-1)


def test_next_step_autoreset_reports_final_obs_then_reset():
    env = make_vec_env("CartPole-v1", 1)
    env.reset(seed=0)
    for _ in range(500):
        step = env.step(np.array([0]))
        if step.terminated[0]:
            break
    assert step.episode_done[0] and step.episode_returns[0] == step.episode_lengths[0]
    assert abs(step.obs[0, 2]) > 0.2  # the pole has fallen: this is the final observation
    after = env.step(np.array([0]))
    assert after.rewards[0] == 0 and not after.terminated[0] and abs(after.obs[0, 2]) < 0.06


def test_env_factory_and_instance_are_accepted():
    vec = make_vec_env(lambda: gym.make("CartPole-v1"), 2, seed=0)
    assert vec.num_envs == 2
    vec = make_vec_env(gym.make("CartPole-v1"), 1, seed=0)
    assert vec.single_observation_space.shape == (4,)
    with pytest.raises(ConfigError, match="factory"):
        make_vec_env(gym.make("CartPole-v1"), 2)


def test_unknown_env_id_has_typed_error_with_suggestion():
    with pytest.raises(UnknownEnvError, match="CartPole-v1"):
        make_env("CartPoel-v1")
    with pytest.raises(UnknownEnvError):
        make_vec_env("NoSuchGame-v0", backend="envpool")
    with pytest.raises(UnknownEnvError, match="NoSuchGame"):
        make_vec_env("ALE/NoSuchGame-v5", backend="ale")
    with pytest.raises(ConfigError, match="Atari ids"):
        make_vec_env("CartPole-v1", backend="ale")


def _play_breakout(backend: str, steps: int = 4000):
    env = make_vec_env("ALE/Breakout-v5", 1, backend=backend, atari_protocol="noframeskip")
    obs = env.reset(seed=0)
    rng = np.random.default_rng(0)
    life_losses, clipped_sum = 0, 0.0
    for _ in range(steps):
        step = env.step(rng.integers(0, 4, size=1))
        clipped_sum += float(step.rewards[0])
        assert set(np.unique(step.rewards)) <= {-1.0, 0.0, 1.0}
        if step.episode_done[0]:
            return obs, life_losses, step
        life_losses += int(step.terminated[0])
    pytest.fail(f"no game over within {steps} steps on {backend}")


@pytest.mark.parametrize("backend", ["gymnasium", "envpool", "ale"])
def test_atari_preprocessing_and_full_game_statistics(backend):
    obs, life_losses, last = _play_breakout(backend)
    assert obs.shape == (1, 4, 84, 84) and obs.dtype == np.uint8
    # training signals each of the 5 lives as a terminal, the statistics report one full game
    assert life_losses == 4 and last.terminated[0]
    assert last.episode_lengths[0] > 50 and last.episode_returns[0] >= 0


@pytest.mark.parametrize("backend", ["envpool", "ale"])
def test_c_plus_plus_backends_match_gymnasium_interface(backend):
    gym_env = make_vec_env("ALE/Pong-v5", 2)
    pool = make_vec_env("ALE/Pong-v5", 2, backend=backend)
    assert gym_env.single_observation_space == pool.single_observation_space
    assert gym_env.single_action_space == pool.single_action_space
    a, b = gym_env.reset(seed=1), pool.reset(seed=1)
    assert a.shape == b.shape and a.dtype == b.dtype
    sa, sb = gym_env.step(np.zeros(2, dtype=np.int64)), pool.step(np.zeros(2, dtype=np.int64))
    for x, y in zip(sa, sb):
        assert np.asarray(x).shape == np.asarray(y).shape and np.asarray(x).dtype == np.asarray(y).dtype


@pytest.mark.parametrize("backend", ["gymnasium", "ale"])
def test_evaluation_env_ends_only_on_game_over(backend):
    env = make_vec_env("ALE/Breakout-v5", 1, training=False, backend=backend)
    env.reset(seed=0)
    steps = [env.step(np.array([1])) for _ in range(300)]
    ends = [bool(s.terminated[0]) for s in steps]
    assert any(ends)
    assert ends == [bool(s.episode_done[0]) for s in steps]  # every terminal is a full game over


class _ScriptedAle:
    """Stands in for ale-py's AtariVectorEnv as ``envs.make_vec_env`` builds it (no life-loss
    terminals of its own): plays a script whose steps give each env's (reward, terminated,
    truncated, lives), and records the actions it is sent."""

    single_observation_space = gym.spaces.Box(0, 255, (4, 84, 84), np.uint8)
    single_action_space = gym.spaces.Discrete(4)

    def __init__(self, script, num_envs):
        self.script, self.sent, self.num_envs = list(script), [], num_envs

    def reset(self, seed=None):
        assert seed is None or type(seed) is int  # as ale-py requires
        return np.zeros((self.num_envs, 4, 84, 84), np.uint8), {"lives": np.full(self.num_envs, 3)}

    def step(self, actions):
        self.sent.append(actions.tolist())
        rewards, terminated, truncated, lives = (np.array(column) for column in zip(*self.script.pop(0)))
        return (np.zeros((self.num_envs, 4, 84, 84), np.uint8), rewards.astype(np.int32), terminated, truncated,
                {"lives": lives.astype(np.int32)})

    def close(self):
        pass


def _play(script, life_loss_terminals=True, clip_rewards=True, action=3):
    """Play a one-env script (a (reward, terminated, truncated, lives) per step), or a many-env
    one (a list of those per step); return the actions sent to the env and the steps."""
    from envs.vector import AleVecEnv

    script = [step if isinstance(step, list) else [step] for step in script]
    inner = _ScriptedAle(script, num_envs=len(script[0]))
    env = AleVecEnv(inner, life_loss_terminals=life_loss_terminals, clip_rewards=clip_rewards, resume_action=1)
    env.reset(seed=np.int64(0))
    steps = [env.step(np.full(inner.num_envs, action)) for _ in script]
    if inner.num_envs == 1:
        return [sent[0] for sent in inner.sent], steps
    return inner.sent, steps


def _column(steps, field, env=0):
    return [getattr(s, field)[env].item() for s in steps]


def test_ale_backend_life_loss_terminals_resume_with_fire_and_statistics_count_whole_games():
    sent, steps = _play([
        (4, False, False, 3), (0, False, False, 2),  # a life lost: terminal, the game goes on
        (5, False, False, 2),  # the stand-in reset step (FIRE): its reward is not trained on
        (-2, False, False, 2), (0, False, False, 1), (0, False, False, 1),
        (7, True, False, 0),  # the last life: a game over
        (0, False, False, 3), (1, False, False, 3),  # the autoreset step, then the next game
    ])
    assert sent == [3, 3, 1, 3, 3, 1, 3, 3, 3]  # FIRE right after each life loss, never after a game over
    assert _column(steps, "rewards") == [1, 0, 0, -1, 0, 0, 1, 0, 1]  # sign-clipped, 0 on stand-in resets
    assert _column(steps, "terminated") == [False, True, False, False, True, False, True, False, False]
    assert not any(_column(steps, "truncated"))
    assert _column(steps, "episode_done") == [False] * 6 + [True, False, False]
    assert steps[6].episode_returns[0] == 14 and steps[6].episode_lengths[0] == 7  # raw rewards, whole game


def test_ale_backend_time_limit_on_a_life_loss_ends_the_game_there():
    # the 108k-frame limit falls on a step that also loses a life: a terminal, as on the other
    # backends, and the game's end: the C++ env restarts it next step, so no FIRE
    sent, steps = _play([(2, False, False, 3), (1, False, True, 2), (0, False, False, 3), (3, False, False, 3)])
    assert sent == [3, 3, 3, 3]
    assert _column(steps, "terminated") == [False, True, False, False]
    assert _column(steps, "truncated") == [False, True, False, False]
    assert _column(steps, "episode_done") == [False, True, False, False]
    assert steps[1].episode_returns[0] == 3 and steps[1].episode_lengths[0] == 2
    # a plain time limit is a truncation (bootstrapped); the autoreset step is left out of the
    # next game's statistics, which start from zero
    sent, steps = _play([(2, False, True, 3), (0, False, False, 3), (3, True, False, 0)])
    assert _column(steps, "terminated") == [False, False, True] and _column(steps, "truncated") == [True, False, False]
    assert _column(steps, "episode_done") == [True, False, True]
    assert steps[2].episode_returns[0] == 3 and steps[2].episode_lengths[0] == 1


def test_ale_backend_keeps_each_env_apart():
    # in the same steps env 0 loses a life and resumes, env 1 ends its game and restarts, env 2
    # hits its time limit on a life loss, env 3 plays on
    sent, steps = _play([
        [(1, False, False, 2), (2, True, False, 0), (0, False, True, 2), (5, False, False, 3)],
        [(4, False, False, 2), (0, False, False, 3), (0, False, False, 3), (0, False, False, 3)],
        [(0, False, False, 2), (0, False, False, 3), (0, False, False, 3), (0, False, False, 2)],
    ])
    assert sent == [[3, 3, 3, 3], [1, 3, 3, 3], [3, 3, 3, 3]]  # FIRE for env 0 only
    assert [s.terminated.tolist() for s in steps] == [[True, True, True, False], [False] * 4, [False, False, False, True]]
    assert [s.episode_done.tolist() for s in steps] == [[False, True, True, False], [False] * 4, [False] * 4]
    assert [s.rewards.tolist() for s in steps] == [[1, 1, 0, 1], [0, 0, 0, 0], [0, 0, 0, 0]]
    assert steps[0].episode_returns.tolist()[1:3] == [2, 0] and steps[0].episode_lengths.tolist()[1:3] == [1, 1]
    # env 0's game goes on over the resume step: 1 + 4 (raw, unclipped) so far, over 2 steps
    assert steps[1].episode_returns[0] == 5 and steps[1].episode_lengths[0] == 2


def test_ale_backend_for_evaluation_has_no_life_loss_terminals_and_raw_rewards():
    sent, steps = _play([(5, False, False, 3), (0, False, False, 2), (0, True, False, 0), (0, False, False, 3)],
                        life_loss_terminals=False, clip_rewards=False, action=2)
    assert sent == [2, 2, 2, 2] and _column(steps, "rewards") == [5.0, 0.0, 0.0, 0.0]
    assert _column(steps, "terminated") == [False, False, True, False]
    assert _column(steps, "episode_done") == [False, False, True, False] and steps[2].episode_returns[0] == 5


def test_ale_backend_seeds_reproducibly():
    def play(seed):
        env = make_vec_env("ALE/Breakout-v5", 2, backend="ale")
        env.reset(seed=np.int64(seed))
        actions = np.random.default_rng(0).integers(0, 4, 60)
        for action in actions:  # both envs get the same actions: only their seeds differ
            obs = env.step(np.array([action, action])).obs
        env.close()
        return obs

    first, again, other = play(3), play(3), play(4)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)  # the seed reaches the emulators (sticky actions, no-ops)
    assert not np.array_equal(first[0], first[1])  # each env has its own stream
