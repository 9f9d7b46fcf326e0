"""Benchmark suites for ``rlkit bench --suite NAME``: one TOML file per suite."""
