"""DAgger (agents/dagger.py): hand-written experts from tests/toy_experts.py label what the learner
visits; the learner is BC's."""
import json

import numpy as np
import pytest
import torch

from agents import BC, DAgger
from rlkit import evaluate
from rlkit.buffers.demonstrations import collect_demonstrations
from rlkit.checkpoint import load_checkpoint
from rlkit.cli import main
from rlkit.errors import ConfigError, DemonstrationsError, UnsupportedSpaceError
from run_files import csv_rows
from toy_experts import cartpole_expert, pendulum_swingup_expert

QUIET = dict(progress=False, eval_episodes=0)
CARTPOLE = dict(expert="toy_experts:cartpole_expert", seed=0)


@pytest.fixture(scope="module")
def two_episodes(tmp_path_factory):
    demos = collect_demonstrations(cartpole_expert, "CartPole-v1", episodes=2, seed=0)
    assert demos.episode_returns.tolist() == [500.0, 500.0]  # the hand-written expert balances to the limit
    return demos.save(tmp_path_factory.mktemp("demos") / "two_episodes.npz")


@pytest.fixture(scope="module")
def pendulum_demos(tmp_path_factory):
    demos = collect_demonstrations(pendulum_swingup_expert, "Pendulum-v1", episodes=10, seed=0)
    assert demos.episode_returns.mean() > -200  # swings up and holds (a random policy: about -1200)
    return demos.save(tmp_path_factory.mktemp("demos") / "pendulum.npz")



class SpyExpert:
    """Wraps DAgger's expert: records every batch of observations it is asked about."""

    def __init__(self, expert, act=None):
        self.expert, self.act, self.seen = expert, act, []

    def __call__(self, obs):
        self.seen.append(obs.copy())
        return self.expert(obs) if self.act is None else self.act(obs)

    def close(self):
        self.expert.close()


# --- learning ------------------------------------------------------------------------------------


@pytest.mark.slow
def test_dagger_from_two_expert_episodes_solves_cartpole(two_episodes):
    agent = DAgger("CartPole-v1", demos=str(two_episodes), rollout_steps=500, **CARTPOLE)
    agent.learn(1000, **QUIET)  # rounds 1 and 2 (β 0.5, 0.25) after the demonstrations' round 0
    assert agent.num_steps == 1000 and len(agent.data) == 2000 and agent.round == 3
    mean, _ = evaluate(agent, episodes=20, seed=123)
    assert mean >= 475  # 500 on seeds 0-2 (so is BC from the same two episodes: CartPole does not need DAgger)


@pytest.mark.slow
def test_dagger_beats_bc_on_pendulum_with_the_same_number_of_expert_labels(pendulum_demos):
    # BC: 10 expert episodes, 2000 labels. DAgger: the first episode, then 1800 labels of the states the
    # mixture visits, in rounds of one episode; the same 5000 gradient steps in all.
    bc = BC("Pendulum-v1", demos=str(pendulum_demos), seed=0, validation_fraction=0).learn(5000, **QUIET)
    dagger = DAgger("Pendulum-v1", expert="toy_experts:pendulum_swingup_expert", demos=str(pendulum_demos),
                    demo_episodes=1, seed=0, rollout_steps=200, bc_steps_per_round=500).learn(1800, **QUIET)
    assert len(dagger.data) == len(bc.train_steps) == 2000 and dagger.num_updates == bc.num_updates == 5000
    bc_mean, _ = evaluate(bc, episodes=20, seed=123)
    dagger_mean, _ = evaluate(dagger, episodes=20, seed=123)
    # seeds 0-2: BC -807, -841, -960 (it swings but never learns to hold); DAgger -213, -201, -200; expert -157
    assert dagger_mean > bc_mean + 300 and dagger_mean > -350, (bc_mean, dagger_mean)


# --- the rounds --------------------------------------------------------------------------------------


def test_beta_schedules():
    exponential = DAgger("CartPole-v1", beta_decay=0.5, **CARTPOLE)
    assert [exponential.beta(i) for i in range(4)] == [1.0, 0.5, 0.25, 0.125]
    assert DAgger("CartPole-v1", beta_decay=0.0, **CARTPOLE).beta(0) == 1.0  # round 0 is the expert's, whatever p
    linear = DAgger("CartPole-v1", beta_schedule="linear", beta_rampdown_rounds=4, **CARTPOLE)
    assert [linear.beta(i) for i in range(6)] == [1.0, 0.75, 0.5, 0.25, 0.0, 0.0]


def test_the_executed_action_is_the_experts_with_probability_beta_per_step_and_env(tmp_path):
    agent = DAgger("CartPole-v1", num_envs=4, rollout_steps=2000, bc_steps_per_round=1, **CARTPOLE)
    # the expert always pushes right, the learner always left: the executed action tells who acted
    agent.policy.act = lambda obs, deterministic=False: np.zeros(len(obs), dtype=np.int64)
    agent.expert = SpyExpert(agent.expert, act=lambda obs: np.ones(len(obs), dtype=np.int64))
    executed = {}  # round -> the actions of the envs that acted, one row per vector step (-1: resetting)
    step, resetting = agent.envs.step, np.zeros(4, dtype=bool)

    def spy_step(actions):
        nonlocal resetting
        executed.setdefault(agent.round, []).append(np.where(resetting, -1, actions))
        out = step(actions)
        resetting = out.terminated | out.truncated
        return out

    agent.envs.step = spy_step
    agent.learn(6000, tmp_path / "run", **QUIET)
    rounds = [np.stack(executed[i]) for i in range(3)]
    experts = [int((r == 1).sum()) for r in rounds]
    # each round labels rollout_steps states; on its last vector step the envs past that act unlabelled (the learner)
    assert all(2000 <= (r >= 0).sum() < 2000 + 4 for r in rounds)
    assert experts[0] == 2000  # no demonstrations: round 0 is all expert
    assert abs(experts[1] / 2000 - 0.5) < 0.05 and abs(experts[2] / 2000 - 0.25) < 0.05  # binomial std 0.011, 0.010
    # drawn per env: in round 1 most steps of four acting envs mix both (1 - 2 / 2^4 = 0.875 of them)
    whole = rounds[1][(rounds[1] >= 0).all(1)]
    assert len(whole) > 100 and 0.75 < np.mean([0 < row.sum() < 4 for row in whole]) < 0.97
    rows = csv_rows(tmp_path / "run")
    assert [float(r["losses/beta"]) for r in rows] == [1.0, 0.5, 0.25]
    assert [float(r["losses/expert_action_fraction"]) for r in rows] == [e / 2000 for e in experts]
    assert [float(r["losses/new_states_accuracy"]) for r in rows] == [0.0, 0.0, 0.0]  # they never agree


def test_with_demonstrations_they_are_round_0_and_the_first_rollout_is_round_1(two_episodes, tmp_path):
    agent = DAgger("CartPole-v1", demos=str(two_episodes), rollout_steps=100, bc_steps_per_round=20, **CARTPOLE)
    assert len(agent.data) == agent.demo_steps == 1000 and agent.round == 0
    agent.learn(200, tmp_path / "run", **QUIET)
    rows = csv_rows(tmp_path / "run")
    assert [(int(r["step"]), float(r["losses/round"]), float(r["losses/beta"]), float(r["losses/expert_labels"]))
            for r in rows] == [(0, 0.0, 1.0, 1000.0), (100, 1.0, 0.5, 1100.0), (200, 2.0, 0.25, 1200.0)]
    assert agent.num_updates == 3 * 20  # BC after each round, the demonstrations' included
    assert {"losses/loss", "losses/neg_log_likelihood", "losses/entropy", "losses/accuracy"} <= set(rows[0])


def test_every_observation_acted_on_is_labelled_by_the_expert_and_nothing_else(tmp_path):
    # beta_decay 0: the barely trained learner acts alone from round 1, so episodes end within rounds
    agent = DAgger("CartPole-v1", num_envs=3, rollout_steps=300, bc_steps_per_round=5, beta_decay=0.0, **CARTPOLE)
    spy = agent.expert = SpyExpert(agent.expert)
    agent.learn(750, tmp_path / "run", **QUIET)
    rows = csv_rows(tmp_path / "run")
    assert [float(r["losses/expert_labels"]) for r in rows] == [300.0, 600.0, 750.0]  # the last round takes the rest
    seen = np.concatenate(spy.seen)
    np.testing.assert_array_equal(seen, agent.data.obs)  # the expert saw exactly the dataset's states, in order
    np.testing.assert_array_equal(agent.data.actions, cartpole_expert(seen))  # labelled with its actions
    assert np.unique(seen, axis=0).shape[0] == 750  # no state labelled twice
    episodes = [float(r["episodic_return"]) for r in rows[1:]]
    assert all(0 < e < 100 for e in episodes)  # the learner's episodes ended within the rounds ...
    # ... and no terminal observation (pole past 12 degrees or cart past 2.4) was labelled: only states acted on
    assert np.abs(seen[:, 2]).max() <= 0.2095 and np.abs(seen[:, 0]).max() <= 2.4


# --- checkpoints ---------------------------------------------------------------------------------------


@pytest.fixture
def saved_expert(two_episodes, tmp_path):
    """A saved rlkit agent as the expert: BC with an odd-sized layer (17 units), cloned from the
    hand-written expert."""
    expert = BC("CartPole-v1", demos=str(two_episodes), seed=0, net_arch=(17,), validation_fraction=0)
    expert.learn(1500, tmp_path / "expert", **QUIET)
    expert.close()
    return tmp_path / "expert"


def test_the_checkpoint_holds_the_learner_and_the_dataset_not_the_expert(saved_expert, tmp_path):
    agent = DAgger("CartPole-v1", expert=str(saved_expert), seed=0, rollout_steps=200, bc_steps_per_round=50)
    assert type(agent.expert.source).__name__ == "BC"
    agent.learn(400, tmp_path / "run", **QUIET)
    saved = load_checkpoint(tmp_path / "run")
    assert json.loads(saved["config"])["expert"] == str(saved_expert)  # only its path
    tensors = []

    def walk(value):
        if isinstance(value, torch.Tensor):
            tensors.append(value)
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, (list, tuple)):
            for item in value:
                walk(item)

    walk(saved["state"])
    assert not any(17 in t.shape for t in tensors)  # no weight of the expert's 17-unit layer
    data = saved["state"]["dagger"]["data"]
    np.testing.assert_array_equal(data["obs"].numpy(), agent.data.obs)
    np.testing.assert_array_equal(data["actions"].numpy(), agent.data.actions)
    assert data["obs"].shape == (400, 4) and saved["state"]["dagger"]["round"] == 2


def test_save_load_round_trip_acts_without_the_expert_or_the_demonstrations(saved_expert, two_episodes, tmp_path):
    demos = tmp_path / "demos.npz"
    demos.write_bytes(two_episodes.read_bytes())
    agent = DAgger("CartPole-v1", expert=str(saved_expert), demos=str(demos), seed=0, normalize_obs=True,
                   rollout_steps=200, bc_steps_per_round=50).learn(400, **QUIET)
    agent.save(tmp_path / "dagger.pt")
    (saved_expert / "checkpoint.pt").unlink()
    demos.unlink()  # acting and evaluating need the checkpoint only
    loaded = DAgger.load(tmp_path / "dagger.pt")
    obs = np.random.default_rng(0).normal(size=(64, 4)).astype(np.float32)
    np.testing.assert_array_equal(loaded.act(obs, deterministic=True), agent.act(obs, deterministic=True))
    np.testing.assert_array_equal(loaded.obs_rms.mean, agent.obs_rms.mean)
    np.testing.assert_array_equal(loaded.data.obs, agent.data.obs)
    assert (loaded.round, loaded.demo_steps, len(loaded.data)) == (3, 1000, 1400)
    assert evaluate(loaded, episodes=2, seed=1) == evaluate(agent, episodes=2, seed=1)
    with pytest.raises(DemonstrationsError, match="no demonstrations at"):
        loaded.learn(10, **QUIET)  # training reads them, then the expert


@pytest.mark.parametrize("from_scratch", [False, True], ids=["continue", "from-scratch"])
def test_resume_continues_exactly_where_the_checkpoint_left(two_episodes, tmp_path, from_scratch):
    settings = dict(demos=str(two_episodes), num_envs=2, rollout_steps=250, bc_steps_per_round=60, normalize_obs=True,
                    bc_from_scratch=from_scratch, **CARTPOLE)
    straight = DAgger("CartPole-v1", **settings).learn(1500, tmp_path / "straight", **QUIET)
    DAgger("CartPole-v1", **settings).learn(1000, tmp_path / "split", **QUIET)
    resumed = DAgger("CartPole-v1", **settings).learn(1500, tmp_path / "split", resume=True, **QUIET)
    assert resumed.num_steps == 1500 and resumed.round == straight.round == 7
    # the same rollouts, labels, minibatches and Adam moments: the same weights as without the stop
    torch.testing.assert_close(resumed.flat.param, straight.flat.param, rtol=0, atol=0)
    np.testing.assert_array_equal(resumed.data.obs, straight.data.obs)
    np.testing.assert_array_equal(resumed.obs_rms.mean, straight.obs_rms.mean)
    assert resumed.np_rng.bit_generator.state == straight.np_rng.bit_generator.state
    assert [r["losses/loss"] for r in csv_rows(tmp_path / "split")] == [r["losses/loss"] for r in csv_rows(tmp_path / "straight")]


# --- errors ------------------------------------------------------------------------------------------


def test_a_missing_expert_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="expert is required"):
        DAgger("CartPole-v1")
    with pytest.raises(ConfigError, match=f"no expert at {tmp_path / 'runs' / 'gone'}: pass the run folder"):
        DAgger("CartPole-v1", expert=str(tmp_path / "runs" / "gone"))
    with pytest.raises(ConfigError, match="cannot import expert 'toy_experts:no_such'"):
        DAgger("CartPole-v1", expert="toy_experts:no_such")
    assert main(["train", "dagger", "--env", "CartPole-v1", "--expert", str(tmp_path / "gone.pt"),
                 "--total-steps", "10", "--quiet"]) == 2


def test_an_expert_for_other_actions_or_observations_is_an_unsupported_space_error(pendulum_demos, tmp_path):
    # a Box-action function on a Discrete env: its first answer is checked
    with pytest.raises(UnsupportedSpaceError, match=r"returned actions of dtype float32 and shape \(1, 1\) for 1 "
                                                    r"observations; the env CartPole-v1's action space is Discrete\(2\)"):
        DAgger("CartPole-v1", expert="toy_experts:pendulum_expert")
    # a saved agent of another env: its spaces are compared
    BC("Pendulum-v1", demos=str(pendulum_demos), seed=0).save(tmp_path / "pendulum.pt")
    with pytest.raises(UnsupportedSpaceError, match=r"the expert .*pendulum.pt \(BC\) has the observation space "
                                                    r"Box.*\(3,\).*CartPole-v1's is Box.*\(4,\)"):
        DAgger("CartPole-v1", expert=str(tmp_path / "pendulum.pt"))


def test_demonstrations_of_another_env_are_refused(pendulum_demos):
    with pytest.raises(DemonstrationsError, match=r"observation space \(Box.*\(3,\).*\) differs from the env CartPole-v1's"):
        DAgger("CartPole-v1", demos=str(pendulum_demos), **CARTPOLE)


# --- CLI ---------------------------------------------------------------------------------------------


def test_cli_trains_dagger_from_a_ppo2_run_and_resumes_and_evaluates_it(two_episodes, tmp_path, capsys):
    ppo = tmp_path / "runs" / "ppo2-cartpole"  # the zoo preset: 8 envs, one rollout of 256 steps
    assert main(["train", "ppo2", "--env", "CartPole-v1", "--total-steps", "256", "--log-dir", str(ppo),
                 "--quiet", "--eval-episodes", "0"]) == 0
    run = tmp_path / "runs" / "dagger"
    command = ["train", "dagger", "--env", "CartPole-v1", "--expert", str(ppo), "--demos", str(two_episodes),
               "--rollout-steps", "200", "--bc-steps-per-round", "50", "--log-dir", str(run), "--quiet"]
    assert main([*command, "--total-steps", "400", "--eval-episodes", "2"]) == 0
    summary = json.loads((run / "summary.json").read_text())
    assert summary["agent"] == "DAgger" and summary["total_steps"] == 400 and summary["eval_episodes"] == 2
    config = json.loads((run / "config.json").read_text())["config"]
    assert config["expert"] == str(ppo) and config["demos"] == str(two_episodes)
    assert main([*command, "--total-steps", "600", "--eval-episodes", "0", "--resume"]) == 0
    saved = load_checkpoint(run)
    assert saved["counters"]["num_steps"] == 600 and saved["state"]["dagger"]["round"] == 4
    capsys.readouterr()
    assert main(["eval", str(run), "--episodes", "2"]) == 0
    assert json.loads(capsys.readouterr().out)["agent"] == "DAgger"
    with pytest.raises(SystemExit):
        main(["train", "dagger", "--help"])
    words = " ".join(capsys.readouterr().out.split())
    assert "steps of training (env steps labelled by the expert)" in words and "--rollout-steps INT" in words
    assert "--validation-fraction" not in words  # BC's held-out split is not DAgger's
