"""Atari (ALE) environments with the standard DQN/PPO preprocessing.

Order of wrappers, bottom to top: raw ALE env (frameskip 1) -> no-op reset, frame skip 4 with
max-pool, 84x84 grayscale -> episode statistics (full game, unclipped) -> [training only] life loss
as terminal -> fire on reset -> [training only] reward sign clipping -> frame stack 4.
"""
from __future__ import annotations

import gymnasium as gym
import numpy as np

from rlkit.env_ids import parse_atari_id

# The two evaluation protocols in the literature:
#   "v5":          sticky actions (repeat_action_probability 0.25), Machado et al. 2018, ALE/*-v5 default
#   "noframeskip": no sticky actions, as *NoFrameskip-v4 ids used by SB3, CleanRL and the DQN papers
ATARI_PROTOCOLS = {"v5": 0.25, "noframeskip": 0.0}


class EpisodicLife(gym.Wrapper):
    """Signals ``terminated`` on a life loss without resetting the game (Mnih et al. 2015).

    ``reset`` resets the emulator only after a real game over; otherwise it takes one no-op step.
    """

    def __init__(self, env: gym.Env):
        super().__init__(env)
        self.lives = 0
        self.game_over = True

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        self.game_over = terminated or truncated
        lives = self.env.unwrapped.ale.lives()
        if 0 < lives < self.lives:
            terminated = True
        self.lives = lives
        return obs, reward, terminated, truncated, info

    def reset(self, **kwargs):
        if self.game_over:
            obs, info = self.env.reset(**kwargs)
        else:
            obs, _, terminated, truncated, info = self.env.step(0)
            if terminated or truncated:  # the no-op ended the game: start a new one for real
                obs, info = self.env.reset(**kwargs)
        self.game_over = False
        self.lives = self.env.unwrapped.ale.lives()
        return obs, info


class FireReset(gym.Wrapper):
    """Presses FIRE after a reset for games that wait for it (Breakout, Pong's serve...)."""

    def reset(self, **kwargs):
        obs, info = self.env.reset(**kwargs)
        for action in (1, 2):
            obs, _, terminated, truncated, info = self.env.step(action)
            if terminated or truncated:
                obs, info = self.env.reset(**kwargs)
        return obs, info


class ClipRewardSign(gym.RewardWrapper):
    """Rewards become -1, 0 or +1 (training only: reported returns stay unclipped)."""

    def reward(self, reward):
        return float(np.sign(reward))


def silence_ale_banner() -> None:
    """Keep ALE's info messages ("A.L.E: Arcade Learning Environment (version ...)", "[Powered by
    Stella]") from printing. The first emulator of a process writes them straight to the C-level
    stderr (gymnasium's AtariEnv lowers the level only after building it), where no Python
    redirection reaches: built mid-run (an evaluation env, an async worker), they split the progress
    bar's line. Errors still print; ALE's warnings do not (the level AtariEnv itself sets). The
    setting is process-wide."""
    import ale_py

    ale_py.ALEInterface.setLoggerMode(ale_py.LoggerMode.Error)


def make_atari_env(
    env_id: str,
    *,
    training: bool = True,
    protocol: str | None = None,
    frame_stack: int = 4,
    noop_max: int = 30,
    render_mode: str | None = None,
) -> gym.Env:
    """One preprocessed Atari env. ``protocol`` is "v5" or "noframeskip"; None takes the id's own."""
    import ale_py

    silence_ale_banner()
    gym.register_envs(ale_py)
    parsed = parse_atari_id(env_id)
    if parsed is None:
        from rlkit.errors import UnknownEnvError

        raise UnknownEnvError(
            f"{env_id!r} is not an Atari id rlkit knows; use 'ALE/<Game>-v5' (e.g. 'ALE/Pong-v5') "
            "or '<Game>NoFrameskip-v4'."
        )
    game, own_protocol = parsed
    protocol = protocol or own_protocol
    if protocol not in ATARI_PROTOCOLS:
        from rlkit.errors import ConfigError

        raise ConfigError(f"atari protocol {protocol!r} unknown; choose one of {sorted(ATARI_PROTOCOLS)}.")
    env = gym.make(
        f"ALE/{game}-v5",
        frameskip=1,
        repeat_action_probability=ATARI_PROTOCOLS[protocol],
        full_action_space=False,
        render_mode=render_mode,
    )
    env = gym.wrappers.AtariPreprocessing(env, noop_max=noop_max, frame_skip=4, screen_size=84)
    # Below the life-loss and clipping wrappers: it sees whole games and raw rewards, in agent steps.
    env = gym.wrappers.RecordEpisodeStatistics(env)
    if training:
        env = EpisodicLife(env)
    if "FIRE" in env.unwrapped.get_action_meanings():
        env = FireReset(env)
    if training:
        env = ClipRewardSign(env)
    return gym.wrappers.FrameStackObservation(env, frame_stack)
