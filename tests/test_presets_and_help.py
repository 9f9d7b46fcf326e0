"""Presets (tuned settings per agent and env) and flag help drawn from each config's own docs."""
import json
import typing
from dataclasses import fields

import pytest

import agents
from agents import CATALOG, DQN, PPO2
from rlkit.cli import main
from rlkit.config import Activation, config_from_kwargs, field_docs
from rlkit.errors import ConfigError
from rlkit.presets import all_presets, apply_preset, choose_preset

CONFIGS = [getattr(agents, f"{cls}Config") for _, cls, _ in CATALOG.values()]


@pytest.mark.parametrize("config_class", CONFIGS, ids=lambda c: c.__name__)
def test_every_field_of_every_agent_has_one_line_of_documentation(config_class):
    docs = field_docs(config_class)
    undocumented = [f.name for f in fields(config_class) if not docs.get(f.name)]
    assert not undocumented, f"{config_class.__name__}: no comment after {undocumented}"
    assert all("\n" not in text for text in docs.values())


def test_activation_choices_are_the_networks_own():
    from rlkit.networks.encoders import ACTIVATION_FUNCTIONS, ACTIVATIONS

    assert set(typing.get_args(Activation)) == set(ACTIVATIONS) == set(ACTIVATION_FUNCTIONS)


def test_a_value_outside_a_fields_choices_is_refused_with_the_choices(capsys):
    with pytest.raises(ConfigError, match="env_backend must be one of 'gymnasium', 'envpool', 'ale'; got 'envpol'"):
        PPO2("CartPole-v1", env_backend="envpol")
    assert main(["train", "dqn", "--env", "CartPole-v1", "--exploration", "greedy", "--total-steps", "10"]) == 2
    assert "--exploration: 'greedy' is not one of {epsilon,boltzmann}" in capsys.readouterr().err


@pytest.mark.parametrize("preset", all_presets(), ids=lambda p: f"{p.agent}-{p.name}-{p.env}")
def test_every_preset_is_a_valid_config_and_on_policy_budgets_are_whole_rollouts(preset):
    config_class = getattr(agents, f"{preset.agent}Config")
    # an imitation agent's data file is the user's, never a preset's
    needs = {"demos": "demos.npz"} if "demos" in config_class.__dataclass_fields__ else {}
    assert not needs.keys() & preset.config.keys()
    config = config_from_kwargs(config_class, {**preset.config, **needs})
    assert preset.source and preset.total_steps > 0
    if hasattr(config, "n_steps"):  # on-policy: a budget that is not whole rollouts would end past it, with a warning
        assert preset.total_steps % (config.n_steps * config.num_envs) == 0


def test_presets_are_unique_per_agent_env_and_name():
    keys = [(p.agent, p.env, p.name) for p in all_presets()]
    assert len(keys) == len(set(keys))


def test_keywords_given_win_over_the_preset_and_the_agent_records_it():
    agent = DQN("CartPole-v1", preset="zoo", learning_rate=1e-3)
    try:
        assert agent.config.learning_rate == 1e-3  # given
        assert agent.config.batch_size == 64 and agent.config.net_arch == (256, 256)  # the preset's
        assert agent.preset.name == "zoo" and agent.preset.total_steps == 50_000
    finally:
        agent.close()
    plain = DQN("CartPole-v1")  # Python's default is the agent's own defaults
    try:
        assert plain.preset is None and plain.config.batch_size == 32
        with pytest.raises(ConfigError, match="total_steps is required"):
            plain.learn()
    finally:
        plain.close()


def test_auto_takes_the_envs_preset_and_atari_ids_take_the_atari_entry():
    assert choose_preset("PPO2", "ALE/Pong-v5", "auto").env == "atari"
    assert choose_preset("DQN", "BreakoutNoFrameskip-v4", "auto").config["exploration_final_eps"] == 0.01
    assert choose_preset("PPO2", "CartPole-v1", "auto").name == "zoo"
    assert choose_preset("PPO2", "CartPole-v0", "auto") is None  # no preset: the defaults
    assert choose_preset("PPO2", "CartPole-v1", "none") is None
    assert apply_preset("PPO2", "CartPole-v0", "auto", {"seed": 3}) == (None, {"seed": 3})


def test_an_unknown_preset_name_lists_what_exists():
    with pytest.raises(ConfigError, match="PPO2 on CartPole-v1 has the presets zoo"):
        choose_preset("PPO2", "CartPole-v1", "tuned")
    with pytest.raises(ConfigError, match="'zoo' preset covers"):
        choose_preset("DQN", "Pendulum-v1", "zoo")
    with pytest.raises(ConfigError, match="needs the env as a Gymnasium id"):
        choose_preset("PPO2", lambda: None, "zoo")


def test_presets_command_prints_flags_that_give_back_the_preset(capsys):
    assert main(["presets", "dqn", "--env", "CartPole-v1"]) == 0
    flags = capsys.readouterr().out.strip().splitlines()[-1].split()
    from rlkit.config import add_config_arguments, config_kwargs_from_args
    import argparse

    parser = argparse.ArgumentParser()
    add_config_arguments(parser, agents.DQNConfig)
    given = config_kwargs_from_args(parser.parse_args(flags), agents.DQNConfig)
    assert given == choose_preset("DQN", "CartPole-v1", "auto").config


def test_cli_announces_and_records_the_preset_and_resume_keeps_it(tmp_path, capsys):
    run = tmp_path / "run"
    argv = ["train", "ppo2", "--env", "CartPole-v1", "--total-steps", "512", "--log-dir", str(run), "--no-progress",
            "--eval-episodes", "1"]
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert "preset 'zoo' for PPO2 on CartPole-v1" in err and "--preset none" in err
    saved = json.loads((run / "config.json").read_text())
    assert saved["train"]["preset"]["name"] == "zoo" and saved["config"]["n_steps"] == 32  # the preset's
    assert saved["train"]["total_steps"] == 512  # --total-steps wins over the preset's budget

    assert main(["train", "ppo2", "--log-dir", str(run), "--resume", "--total-steps", "768", "--no-progress",
                 "--eval-episodes", "1"]) == 0
    resumed = json.loads((run / "config.json").read_text())
    assert resumed["train"]["preset"]["name"] == "zoo" and resumed["config"]["n_steps"] == 32
    assert main(["train", "ppo2", "--log-dir", str(run), "--resume", "--preset", "none"]) == 2
    assert "was started with preset 'zoo', not 'none'" in capsys.readouterr().err
    with pytest.warns(UserWarning, match="already complete"):  # the command that started it, with --resume added
        assert main([*argv, "--resume", "--preset", "zoo"]) == 0


def test_cli_without_a_preset_for_the_env_says_so_in_one_line(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "ppo2", "--env", "CartPole-v0", "--total-steps", "64", "--n-steps", "64", "--log-dir", str(run),
                 "--no-progress", "--eval-episodes", "0"]) == 0
    lines = [line for line in capsys.readouterr().err.splitlines() if "preset" in line]
    assert lines == ["no preset for PPO2 on CartPole-v0: PPO2's defaults (`rlkit presets` lists the tuned settings)"]
    assert json.loads((run / "config.json").read_text())["train"]["preset"] is None


def test_quiet_prints_nothing(tmp_path, capsys):
    assert main(["train", "ppo2", "--env", "CartPole-v1", "--total-steps", "256", "--log-dir", str(tmp_path / "run"),
                 "--quiet", "--eval-episodes", "1"]) == 0
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""
