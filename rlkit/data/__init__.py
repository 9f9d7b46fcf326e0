"""Data rlkit ships: Atari reference scores, published peer scores, measured steps/s (TOML files,
each with its source)."""
