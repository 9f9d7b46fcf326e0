"""Env ids read as text, importing no env package: the CLI's help and presets need them fast."""
from __future__ import annotations

import re

_V5 = re.compile(r"^ALE/(?P<game>[A-Za-z0-9]+)-v5$")
_V4 = re.compile(r"^(?P<game>[A-Za-z0-9]+?)NoFrameskip-v4$")


def parse_atari_id(env_id: str) -> tuple[str, str] | None:
    """``"ALE/Pong-v5"`` -> ("Pong", "v5"); ``"PongNoFrameskip-v4"`` -> ("Pong", "noframeskip")."""
    if (m := _V5.match(env_id)) is not None:
        return m["game"], "v5"
    if (m := _V4.match(env_id)) is not None:
        return m["game"], "noframeskip"
    return None
