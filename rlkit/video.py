"""Videos of evaluation episodes: the env's own RGB frames (``render_mode="rgb_array"``), written as
MP4 (imageio with imageio-ffmpeg, which ships its ffmpeg binary in the wheel) or, without it, as GIF
(imageio with Pillow).

The env is the evaluation env ``rlkit eval`` uses (on Atari: full games, unclipped rewards, the
run's protocol); the agent acts on its preprocessed observations while the video shows the screen
the emulator drew, 210x160 in colour, not the 84x84 grayscale frames the network sees.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable

import numpy as np

from rlkit.env_ids import parse_atari_id
from rlkit.errors import ConfigError
from rlkit.progress import DEFAULT_EVAL_MAX_EPISODE_STEPS

ATARI_FPS = 15  # the emulator's 60 frames/s over a frame skip of 4: the game at its real speed


def mp4_available() -> bool:
    """True when imageio can write MP4 here (imageio-ffmpeg installed with its binary)."""
    try:
        import imageio_ffmpeg

        imageio_ffmpeg.get_ffmpeg_exe()
        return True
    except (ImportError, RuntimeError):
        return False


def write_video(frames: Iterable[np.ndarray], path: str | Path, fps: float) -> Path:
    """Write RGB frames ([H, W, 3] uint8) to ``path``: MP4 for a .mp4 path when ffmpeg is available,
    else a GIF beside it (same name, .gif). Returns the file written."""
    import imageio.v2 as imageio

    path = Path(path)
    if path.suffix.lower() not in (".mp4", ".gif"):
        raise ConfigError(f"a video path ends in .mp4 or .gif, got {path}.")
    if path.suffix.lower() == ".mp4" and not mp4_available():
        path = path.with_suffix(".gif")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")  # a kill mid-write leaves no half video under the name
    if path.suffix.lower() == ".mp4":
        # macro_block_size 1: Atari's 210x160 stays as it is instead of being padded to multiples of 16
        writer = imageio.get_writer(tmp, fps=fps, codec="libx264", macro_block_size=1, quality=7,
                                    ffmpeg_log_level="error")
    else:
        writer = imageio.get_writer(tmp, mode="I", duration=1000.0 / fps, loop=0)
    count = 0
    try:
        for frame in frames:
            writer.append_data(np.asarray(frame, dtype=np.uint8))
            count += 1
    finally:
        writer.close()
    if count == 0:
        tmp.unlink(missing_ok=True)
        raise ConfigError("no frames to write: the env rendered nothing (does it support render_mode='rgb_array'?).")
    tmp.replace(path)
    return path


def record_video(agent: Any, path: str | Path, *, env: Any = None, episodes: int = 1, seed: int = 123,
                 deterministic: bool = True, max_episode_steps: int = DEFAULT_EVAL_MAX_EPISODE_STEPS,
                 fps: float | None = None) -> tuple[Path, list[float]]:
    """Play ``episodes`` evaluation episodes of ``agent`` and write them as one video; returns the
    file and each episode's return (full games on Atari). ``env``: an env id (default: the agent's
    own). An episode still running after ``max_episode_steps`` is cut there, as in ``evaluate``."""
    from rlkit.vec_env import make_env

    if episodes < 1:
        raise ConfigError(f"episodes must be >= 1, got {episodes}.")
    env = env if env is not None else getattr(agent, "env_spec", None)
    if env is None:
        raise ConfigError(f"{type(agent).__name__} has no env to record; pass env= (an env id).")
    protocol = getattr(agent.config, "atari_protocol", "") or None
    game = make_env(env, training=False, atari_protocol=protocol, render_mode="rgb_array")
    returns: list[float] = []
    if fps is None:
        atari = isinstance(env, str) and parse_atari_id(env) is not None
        fps = ATARI_FPS if atari else float(game.metadata.get("render_fps") or 30)

    def frames() -> Iterable[np.ndarray]:
        obs, _ = game.reset(seed=seed)
        yield game.render()
        for _ in range(episodes):
            total, steps = 0.0, 0
            while True:
                action = agent.act(np.asarray(obs)[None], deterministic=deterministic)[0]
                obs, reward, terminated, truncated, _ = game.step(action)
                total += float(reward)
                steps += 1
                yield game.render()
                if terminated or truncated or steps >= max_episode_steps:
                    break
            returns.append(total)
            if len(returns) < episodes:
                obs, _ = game.reset()
                yield game.render()

    import gymnasium as gym

    try:
        written = write_video(frames(), path, fps)
    except gym.error.DependencyNotInstalled as exc:
        raise ConfigError(f"{env} cannot draw its frames here ({exc}); install what it names, or record an env "
                          "that renders without it (Atari ids render through ale-py).") from exc
    finally:
        game.close()
    return written, returns
