import itertools

import numpy as np
import pytest
import torch

from agents import DQN, Rainbow
from rlkit import evaluate
from rlkit.errors import UnsupportedSpaceError
from rlkit.networks.q_head import NoisyLinear, QHead, project_distribution

TINY = dict(buffer_size=600, learning_starts=64, batch_size=16, train_freq=1, target_update_interval=50,
            net_arch=(32, 32), atoms=11)
SWITCHES = ("double", "dueling", "prioritized", "noisy", "distributional")


@pytest.mark.parametrize("flags", list(itertools.product([False, True], repeat=5)))
@pytest.mark.parametrize("n_step", [1, 3])
def test_every_switch_combination_trains(flags, n_step):
    # 2^5 switch sets x {1-step, 3-step}: the 64 combinations of the six switches
    agent = DQN("CartPole-v1", seed=0, n_step=n_step, **dict(zip(SWITCHES, flags)), **TINY)
    agent.learn(200, progress=False, eval_episodes=0)
    assert agent.num_updates > 100
    assert torch.isfinite(agent.flat.param).all()


def _tensors(agent, n=8):
    rng = np.random.default_rng(0)
    next_obs = torch.as_tensor(rng.standard_normal((n, 4)), dtype=torch.float32)
    rewards = torch.as_tensor(rng.standard_normal(n), dtype=torch.float32)
    bootstrap = torch.full((n,), 0.9)
    return next_obs, rewards, bootstrap


def test_double_q_picks_with_the_online_net_and_values_with_the_target():
    agent = DQN("CartPole-v1", seed=0, double=True, **TINY)
    with torch.no_grad():  # make the two nets disagree
        for p in agent.target_net.parameters():
            p.add_(torch.randn_like(p))
    next_obs, rewards, bootstrap = _tensors(agent)
    with torch.no_grad():
        online_choice = agent.q_net.q_values(next_obs).argmax(-1)
        target_q = agent.target_net.q_values(next_obs)
    expected = rewards + bootstrap * target_q[torch.arange(8), online_choice]
    torch.testing.assert_close(agent.td_targets(next_obs, rewards, bootstrap), expected)
    plain = DQN("CartPole-v1", seed=0, double=False, **TINY)
    plain.target_net.load_state_dict(agent.target_net.state_dict())
    torch.testing.assert_close(plain.td_targets(next_obs, rewards, bootstrap), rewards + bootstrap * target_q.max(-1).values)
    assert not torch.equal(online_choice, target_q.argmax(-1))  # the test tells the two rules apart


def test_dueling_head_subtracts_the_mean_advantage():
    head = QHead(6, 4, dueling=True)
    features = torch.randn(5, 6)
    q = head(features)
    value = head.value(features)
    torch.testing.assert_close(q.mean(-1, keepdim=True), value)


@pytest.mark.parametrize("eps", [0.0, 0.3, 1.0])
def test_epsilon_greedy_takes_the_greedy_action_with_probability_one_minus_epsilon(eps):
    others = {k: v for k, v in TINY.items() if k != "learning_starts"}
    agent = DQN("CartPole-v1", seed=0, learning_starts=0, exploration_fraction=0.0, exploration_final_eps=eps, **others)
    obs = np.random.default_rng(1).standard_normal((20_000, 4)).astype(np.float32)
    greedy = agent.predict(obs, deterministic=True)
    agreement = (agent.explore(obs, 0.5) == greedy).mean()
    # a random action matches the greedy one 1 time in 2 on CartPole
    assert agreement == pytest.approx(1 - eps + eps / 2, abs=0.015)


def test_anneal_lr_decays_the_learning_rate_linearly_to_zero():
    agent = DQN("CartPole-v1", seed=0, anneal_lr=True, learning_rate=1e-3, **TINY)
    agent.train_step(0.0)  # before learning_starts: nothing changes
    assert agent.optimizer.param_groups[0]["lr"] == 1e-3
    agent.learn(400, progress=False, eval_episodes=0)
    # the last learning phase ran at step 400 of 400
    assert agent.optimizer.param_groups[0]["lr"] == pytest.approx(0.0, abs=1e-12)
    agent.num_steps += 1  # the next learning phase is due; at a quarter of a run the rate is 3/4
    agent.train_step(0.25)
    assert agent.optimizer.param_groups[0]["lr"] == pytest.approx(7.5e-4)
    constant = DQN("CartPole-v1", seed=0, learning_rate=1e-3, **TINY).learn(400, progress=False, eval_episodes=0)
    assert constant.optimizer.param_groups[0]["lr"] == 1e-3


def test_noisy_layers_replace_epsilon_greedy():
    agent = DQN("CartPole-v1", seed=0, noisy=True, learning_starts=0, exploration_initial_eps=1.0,
                exploration_final_eps=1.0, **{k: v for k, v in TINY.items() if k != "learning_starts"})
    assert any(isinstance(m, NoisyLinear) for m in agent.q_net.modules())
    obs = np.tile(np.array([[0.01, 0.02, 0.03, 0.04]], np.float32), (256, 1))
    first = agent.explore(obs, 0.0)
    assert len(set(first.tolist())) == 1  # one noise draw per call: greedy, not ε-random, despite ε = 1
    outputs = set()
    for _ in range(20):
        agent.q_net.head.reset_noise()
        outputs.add(round(agent.q_net.q_values(torch.as_tensor(obs[:1]))[0, 0].item(), 6))
    assert len(outputs) > 1  # new noise, new Q


def test_distributional_head_and_q_as_the_mean_of_the_atoms():
    head = QHead(6, 3, distributional=True, atoms=5, v_min=-2, v_max=2)
    out = head(torch.randn(4, 6))
    assert out.shape == (4, 3, 5)
    torch.testing.assert_close(head.q_values(out), (out.softmax(-1) * torch.linspace(-2, 2, 5)).sum(-1))


def test_c51_projection_by_hand():
    support = torch.linspace(0.0, 4.0, 5)  # atoms at 0, 1, 2, 3, 4 (Δz = 1)
    probs = torch.tensor([[0.0, 0.5, 0.5, 0.0, 0.0]])
    # r = 0.5, γ = 1: atoms move to 1.5 and 2.5 -> half of each splits between neighbours
    out = project_distribution(probs, torch.tensor([0.5]), torch.tensor([1.0]), support)
    torch.testing.assert_close(out, torch.tensor([[0.0, 0.25, 0.5, 0.25, 0.0]]))
    # γ = 0.5, r = 3: 1 -> 3.5, 2 -> 4 (one goes past v_max... 3.5 splits, 4 lands on the last atom)
    out = project_distribution(probs, torch.tensor([3.0]), torch.tensor([0.5]), support)
    torch.testing.assert_close(out, torch.tensor([[0.0, 0.0, 0.0, 0.25, 0.75]]))
    # terminal (bootstrap 0): all mass on r, clamped into [v_min, v_max]
    out = project_distribution(probs, torch.tensor([9.0]), torch.tensor([0.0]), support)
    torch.testing.assert_close(out, torch.tensor([[0.0, 0.0, 0.0, 0.0, 1.0]]))
    assert torch.allclose(out.sum(-1), torch.ones(1))


def test_prioritized_updates_priorities_from_td_errors_and_n_step_reaches_the_buffer():
    agent = DQN("CartPole-v1", seed=0, prioritized=True, n_step=3, **TINY)
    assert agent.replay.n_step == 3 and agent.replay.tree is not None
    agent.learn(200, progress=False, eval_episodes=0)
    leaves = agent.replay.tree.get(np.flatnonzero(agent.replay.valid.reshape(-1)))
    assert len(np.unique(np.round(leaves, 6))) > 10  # no longer all at the initial maximum
    assert agent.replay.max_priority != 1.0


def test_rainbow_is_dqn_with_every_switch_on():
    cfg = Rainbow("CartPole-v1", **TINY).config
    assert all(getattr(cfg, s) for s in SWITCHES) and cfg.n_step == 3


def test_dqn_on_continuous_actions_names_the_agents_that_fit():
    with pytest.raises(UnsupportedSpaceError, match="DDPG"):
        DQN("Pendulum-v1")


def test_save_load_round_trip_keeps_weights_target_and_replay(tmp_path):
    agent = DQN("CartPole-v1", seed=0, prioritized=True, n_step=3, **TINY).learn(300, progress=False, eval_episodes=0)
    agent.save(tmp_path / "d.pt")
    loaded = DQN.load(tmp_path / "d.pt")
    torch.testing.assert_close(loaded.flat.param, agent.flat.param)
    for a, b in zip(loaded.target_net.state_dict().values(), agent.target_net.state_dict().values()):
        torch.testing.assert_close(a, b)
    for name in ("frames", "actions", "returns", "valid"):
        np.testing.assert_array_equal(getattr(loaded.replay, name), getattr(agent.replay, name))
    assert loaded.replay.tree.total == pytest.approx(agent.replay.tree.total)
    obs = np.random.default_rng(0).standard_normal((8, 4)).astype(np.float32)
    np.testing.assert_array_equal(loaded.act(obs), agent.act(obs))


def test_resume_keeps_replay_and_counters(tmp_path):
    run = tmp_path / "run"
    DQN("CartPole-v1", seed=0, **TINY).learn(400, run, progress=False, eval_episodes=0)
    resumed = DQN("CartPole-v1", seed=0, **TINY)
    resumed.learn(800, run, resume=True, progress=False, eval_episodes=0)
    assert resumed.num_steps == 800
    # the 400 pre-resume transitions survived (the buffer holds up to 600 frames)
    assert resumed.replay.num_transitions > 500


def test_save_replay_false_loads_a_checkpoint_without_its_replay(tmp_path):
    # the way out when a checkpoint's replay cannot be loaded (its frames file is gone, an older format)
    agent = DQN("CartPole-v1", seed=0, **TINY).learn(200, progress=False, eval_episodes=0)
    agent.save(tmp_path / "d.pt")
    assert DQN.load(tmp_path / "d.pt").replay.num_transitions == agent.replay.num_transitions > 0
    assert DQN.load(tmp_path / "d.pt", save_replay=False).replay.num_transitions == 0


def test_target_update_on_the_atari_cnn_copies_or_averages():
    agent = DQN("ALE/Pong-v5", seed=0, buffer_size=400, learning_starts=40, batch_size=8, train_freq=4,
                target_update_interval=60, torch_threads=1)
    agent.learn(64, progress=False, eval_episodes=0)  # one hard update at step 60, then 1 more learning phase
    for target, online in zip(agent.target_net.parameters(), agent.q_net.parameters()):
        assert target.shape == online.shape
    soft = DQN("CartPole-v1", seed=0, tau=0.5, **{**TINY, "target_update_interval": 1})
    before = [p.clone() for p in soft.target_net.parameters()]
    with torch.no_grad():
        soft.flat.param.add_(1.0)
    soft._update_target()
    for b, t, o in zip(before, soft.target_net.parameters(), soft.q_net.parameters()):
        torch.testing.assert_close(t, 0.5 * b + 0.5 * o)


def test_dqn_on_the_ale_backend_stores_life_losses_as_terminals_and_drops_the_resume_steps():
    agent = DQN("ALE/Breakout-v5", seed=0, env_backend="ale", buffer_size=400, learning_starts=100, batch_size=8,
                train_freq=4, torch_threads=1)
    agent.learn(200, progress=False, eval_episodes=0)
    replay = agent.replay
    terminals = int(replay.terminated[replay.valid].sum())
    assert terminals >= 2  # a near-random policy loses a Breakout life every ~25 steps
    # each terminal's next step (FIRE to resume, or a game's reset) is no transition; the last
    # step's terminal, if it is one, has no next step yet
    assert replay.num_transitions in (200 - terminals, 201 - terminals)


@pytest.mark.slow
def test_dqn_learns_cartpole_on_a_small_budget():
    # the cartpole-dqn benchmark settings (double-Q on, a smaller net, a target copy every 500
    # steps) cut to 30k steps: far from solved, but about ten times a random policy's ~22
    agent = DQN("CartPole-v1", seed=1, learning_rate=1e-3, anneal_lr=True, batch_size=64, buffer_size=50_000,
                learning_starts=1000, train_freq=1, target_update_interval=500, exploration_fraction=0.2,
                exploration_final_eps=0.02, net_arch=(64, 64), double=True)
    agent.learn(30_000, progress=False, eval_episodes=0)
    mean, _ = evaluate(agent, episodes=10, seed=100)
    assert mean > 150
