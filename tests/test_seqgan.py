"""SeqGAN: the oracle, the per-token reward, the delayed rollout policy, learning in both phases,
save/load and resume in each phase, the CLI (train, sample) and bad input."""
from __future__ import annotations

import json
import os
import signal

import numpy as np
import pytest
import torch

from agents import SeqGAN
from agents.seqgan import Discriminator, Generator, rollout_rewards, trail
from rlkit.checkpoint import load_checkpoint
from rlkit.errors import ConfigError, SequenceDataError, TrainingInterrupted
from rlkit.sequences.oracle import OracleLSTM
from run_files import csv_rows, run_cli

# A small problem every test shares: a seeded oracle over 40 tokens, sequences of 10
TINY = dict(oracle="seeded", vocab_size=40, seq_len=10, num_real=1000, gen_hidden_dim=16, gen_embedding_dim=16,
            disc_embedding_dim=16, disc_filter_sizes=(1, 2, 3, 5), disc_num_filters=(16, 16, 16, 16),
            disc_learning_rate=1e-3, num_rollouts=4, metric_samples=2000, metrics_interval=1, mle_epochs=2,
            disc_pretrain_rounds=2, disc_epochs=1, d_steps=1)


def _flat(module: torch.nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in module.parameters()])


# --- the pieces -----------------------------------------------------------------------------------------
def _constant_completer(vocab_size: int, token: int) -> Generator:
    """A rollout policy that completes every prefix with ``token`` (its logit 60 above the others)."""
    g = Generator(vocab_size, 4, 4)
    with torch.no_grad():
        g.out.weight.zero_()
        g.out.bias.fill_(-30.0)
        g.out.bias[token] = 30.0
    return g


def test_per_token_reward_matches_a_hand_computed_case():
    # D's P(real) is known: the fraction of tokens equal to 1. T = 3, sequence (1, 3, 1), completions all 2.
    def score(seqs: torch.Tensor) -> torch.Tensor:
        return (seqs == 1).float().mean(1)

    q = rollout_rewards(_constant_completer(4, token=2), score, torch.tensor([[1, 3, 1]]), num_rollouts=5,
                        generator=torch.Generator().manual_seed(0))
    # Q(y1=1) = D(1,2,2) = 1/3; Q(y2=3 | 1) = D(1,3,2) = 1/3; Q(y3=1 | 1,3) = D(1,3,1) = 2/3
    assert torch.allclose(q, torch.tensor([[1 / 3, 1 / 3, 2 / 3]]))


def test_per_token_reward_averages_the_rollouts():
    # completions uniform over tokens {0, 1}; D = 1 when the last token is 1. Q(prefix) = P(last is 1) = 1/2
    # for t < T whatever the prefix; Q at T is the sequence's own D.
    g = Generator(3, 4, 4)
    with torch.no_grad():
        g.out.weight.zero_()
        g.out.bias.copy_(torch.tensor([0.0, 0.0, -40.0]))
    sequences = torch.tensor([[2, 2, 1], [0, 2, 0]])
    q = rollout_rewards(g, lambda s: (s[:, -1] == 1).float(), sequences, num_rollouts=4000,
                        generator=torch.Generator().manual_seed(0))
    assert q[:, -1].tolist() == [1.0, 0.0]
    assert torch.allclose(q[:, :-1], torch.full((2, 2), 0.5), atol=0.04)


def test_completions_keep_their_prefix():
    g = Generator(7, 4, 4)
    prefixes = torch.tensor([[5, 6, 4, 3], [5, 6, 4, 3], [5, 6, 4, 3]])
    out = g.complete(prefixes, torch.tensor([0, 2, 4]), torch.Generator().manual_seed(0))
    assert out[1, :2].tolist() == [5, 6] and out[2].tolist() == [5, 6, 4, 3]


def test_the_rollout_policy_trails_the_generator():
    theta, beta = Generator(5, 3, 3), Generator(5, 3, 3)
    expected = 0.8 * _flat(beta) + 0.2 * _flat(theta)
    trail(beta, theta, rate=0.8)
    assert torch.allclose(_flat(beta), expected)
    trail(beta, theta, rate=0.0)  # rate 0: β = θ
    assert torch.equal(_flat(beta), _flat(theta))


def test_a_generator_step_moves_theta_and_beta_trails_it():
    agent = SeqGAN(**TINY, rollout_update_rate=0.8)
    before = _flat(agent.generator)
    agent.rollout_generator.load_state_dict(agent.generator.state_dict())
    agent.generator_step()
    after = _flat(agent.generator)
    assert not torch.equal(before, after)
    assert torch.allclose(_flat(agent.rollout_generator), 0.8 * before + 0.2 * after, atol=1e-6)


def test_discriminator_shapes_and_penalty():
    d = Discriminator(30, 8, (1, 3), (5, 7), dropout=0.25)
    assert d(torch.randint(0, 30, (6, 4))).shape == (6, 2)
    p = d.prob_real(torch.randint(0, 30, (6, 4)))
    assert p.shape == (6,) and bool(((p > 0) & (p < 1)).all()) and d.training  # mode restored
    expected = 0.5 * (d.out.weight.square().sum() + d.out.bias.square().sum())
    assert torch.allclose(d.l2_penalty(), expected)


# --- the oracle -----------------------------------------------------------------------------------------
def test_oracle_from_npz_scores_its_own_samples_below_uniform_ones(tmp_path):
    seeded = OracleLSTM.seeded(vocab_size=30, embedding_dim=6, hidden_dim=5, seed=3)
    h = 5
    seeded.save_npz(tmp_path / "oracle.npz")
    oracle = OracleLSTM.from_npz(tmp_path / "oracle.npz")
    with np.load(tmp_path / "oracle.npz") as arrays:  # the README's per-gate layout
        assert arrays["W_f"].shape == (6, 5) and arrays["U_c"].shape == (5, 5) and arrays["b_o"].shape == (5,)
        arrays = dict(arrays)
    rng = torch.Generator().manual_seed(0)
    own = oracle.sample(3000, 12, rng)
    assert torch.equal(own, seeded.sample(3000, 12, torch.Generator().manual_seed(0)))
    uniform = torch.randint(0, 30, (3000, 12), generator=rng)
    assert oracle.nll(own) < oracle.nll(uniform) - 0.5
    # one hand-checked token: the first one's NLL is -log softmax(logits after the start token)
    logits, _, _ = oracle.step(torch.tensor([0]), torch.zeros(1, h), torch.zeros(1, h))
    assert torch.allclose(oracle.token_nll(own[:1])[0, 0], -torch.log_softmax(logits, 1)[0, own[0, 0]])

    del arrays["U_f"]
    np.savez(tmp_path / "broken.npz", **arrays)
    with pytest.raises(SequenceDataError, match="U_f"):
        OracleLSTM.from_npz(tmp_path / "broken.npz")
    with pytest.raises(SequenceDataError, match="no oracle weights"):
        OracleLSTM.from_npz(tmp_path / "missing.npz")
    with pytest.raises(SequenceDataError, match=r"\[0, 30\)"):
        oracle.nll(torch.tensor([[30, 1]]))


# --- learning -------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_nll_oracle_falls_under_mle_and_further_in_the_adversarial_phase(tmp_path):
    agent = SeqGAN(**{**TINY, "mle_epochs": 10, "disc_pretrain_rounds": 3, "disc_epochs": 2, "num_rollouts": 8,
                      "metric_samples": 4000, "metrics_interval": 5})
    agent.learn(30, tmp_path / "run", progress=False, eval_episodes=0)
    nll = {int(r["step"]): float(r["losses/nll_oracle"]) for r in csv_rows(tmp_path / "run") if r["losses/nll_oracle"]}
    assert set(nll) == {0, 5, 10, 15, 20, 25, 30}
    assert nll[10] < nll[0] - 1.0  # MLE learns the oracle's language
    assert nll[30] < nll[10] - 0.1  # and the adversarial phase lowers NLL_oracle further
    rows = csv_rows(tmp_path / "run")
    assert [int(float(r["losses/disc_pretrain_round"])) for r in rows if r.get("losses/disc_pretrain_round")] == [1, 2, 3]
    assert all(float(r["losses/mean_q"]) > 0 for r in rows if r.get("losses/mean_q"))


# --- save, load, resume ---------------------------------------------------------------------------------
def test_save_and_load_keep_the_networks_the_data_and_the_oracle(tmp_path):
    agent = SeqGAN(**TINY)
    agent.learn(3, tmp_path / "run", progress=False, eval_episodes=0)
    loaded = SeqGAN.load(tmp_path / "run")
    for name in ("generator", "rollout_generator", "discriminator"):
        assert torch.equal(_flat(getattr(agent, name)), _flat(getattr(loaded, name)))
    assert np.array_equal(loaded.train_data.sequences, agent.train_data.sequences)
    assert torch.equal(loaded.oracle.W, agent.oracle.W) and loaded.disc_rounds_done == agent.disc_rounds_done == 2
    assert np.array_equal(loaded.sample(5, seed=1), agent.sample(5, seed=1))


def _interrupt_after(monkeypatch, method: str, calls: int) -> None:
    """SIGTERM to this process after ``calls`` calls of SeqGAN.<method> (a scheduler stopping the run)."""
    original = getattr(SeqGAN, method)
    count = {"n": 0}

    def interrupted(self, *args, **kwargs):
        out = original(self, *args, **kwargs)
        count["n"] += 1
        if count["n"] == calls:
            os.kill(os.getpid(), signal.SIGTERM)
        return out

    monkeypatch.setattr(SeqGAN, method, interrupted)


@pytest.mark.slow
@pytest.mark.parametrize("method, calls, phase", [
    ("mle_epoch", 1, "MLE"), ("discriminator_round", 1, "discriminator pre-training"),
    ("adversarial_epoch", 1, "adversarial"),
])
def test_a_run_stopped_in_each_phase_resumes_there_and_ends_as_an_uninterrupted_one(tmp_path, monkeypatch, method, calls, phase):
    settings = {**TINY, "disc_pretrain_rounds": 2, "metrics_interval": 2}
    whole = SeqGAN(**settings)
    whole.learn(4, tmp_path / "whole", progress=False, eval_episodes=0)

    with monkeypatch.context() as patch:
        _interrupt_after(patch, method, calls)
        with pytest.raises(TrainingInterrupted):
            SeqGAN(**settings).learn(4, tmp_path / "cut", progress=False, eval_episodes=0)
    saved = load_checkpoint(tmp_path / "cut")
    expected_rounds = {"MLE": 0, "discriminator pre-training": 1, "adversarial": 2}[phase]
    assert saved["state"]["disc_rounds_done"] == expected_rounds
    resumed = SeqGAN(**settings)
    resumed.learn(4, tmp_path / "cut", resume=True, progress=False, eval_episodes=0)
    for name in ("generator", "rollout_generator", "discriminator"):
        assert torch.equal(_flat(getattr(resumed, name)), _flat(getattr(whole, name))), name
    whole_rows = [(r["step"], r.get("losses/nll_oracle")) for r in csv_rows(tmp_path / "whole")]
    assert [(r["step"], r.get("losses/nll_oracle")) for r in csv_rows(tmp_path / "cut")] == whole_rows


# --- the CLI and text ----------------------------------------------------------------------------------
@pytest.mark.slow
def test_cli_trains_on_the_grammar_corpus_resumes_and_samples_text(tmp_path):
    run = tmp_path / "text"
    small = ["--text-file", "grammar", "--gen-hidden-dim", "32", "--gen-embedding-dim", "32", "--mle-epochs", "2",
             "--disc-pretrain-rounds", "1", "--disc-epochs", "1", "--d-steps", "1", "--num-negatives", "500",
             "--disc-filter-sizes", "1,2,3", "--disc-num-filters", "8,8,8", "--num-rollouts", "2",
             "--bleu-samples", "200", "--metrics-interval", "1", "--eval-episodes", "50", "--no-progress"]
    done = run_cli("train", "seqgan", *small, "--adversarial-epochs", "0", "--log-dir", str(run), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert load_checkpoint(run)["counters"]["num_steps"] == 2  # mle_epochs + adversarial_epochs
    resumed = run_cli("train", "seqgan", "--log-dir", str(run), "--resume", "--total-steps", "3", "--no-progress", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    row = csv_rows(run)[-1]
    assert row["step"] == "3" and 0 <= float(row["losses/grammar_accepted"]) <= 1
    assert 0 < float(row["losses/bleu2"]) <= 1 and 0 < float(row["losses/self_bleu3"]) <= 1
    summary = json.loads((run / "summary.json").read_text())
    assert 0 < summary["eval_mean_return"] <= 1  # BLEU-3 against the held-out sentences

    (tmp_path / "grammar").mkdir()  # sampling reads the checkpoint, never the corpus
    sampled = run_cli("sample", str(run), "-n", "4", cwd=tmp_path / "grammar")
    assert sampled.returncode == 0, sampled.stderr
    lines = sampled.stdout.splitlines()
    assert len(lines) == 4 and all(word.isalpha() for line in lines for word in line.split())


@pytest.mark.slow
def test_cli_on_a_token_file_and_its_bad_input(tmp_path):
    tokens = tmp_path / "real.txt"
    tokens.write_text("\n".join(" ".join(str((i * 7 + j) % 9) for j in range(6)) for i in range(200)) + "\n")
    base = ["train", "seqgan", "--token-file", str(tokens), "--vocab-size", "9", "--seq-len", "6", "--mle-epochs", "1",
            "--adversarial-epochs", "0", "--disc-filter-sizes", "1,2", "--disc-num-filters", "4,4", "--no-progress"]
    done = run_cli(*base, "--log-dir", str(tmp_path / "run"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    sampled = run_cli("sample", str(tmp_path / "run"), "-n", "2", cwd=tmp_path)
    assert all(len(line.split()) == 6 for line in sampled.stdout.splitlines())

    tokens.write_text("1 2 3\n4 9 1\n")
    beyond = run_cli(*base, "--log-dir", str(tmp_path / "bad"), cwd=tmp_path)
    assert beyond.returncode == 2 and "vocab_size" in beyond.stderr and "Traceback" not in beyond.stderr
    wide = run_cli("train", "seqgan", "--oracle", "seeded", "--seq-len", "8", "--total-steps", "1", cwd=tmp_path)
    assert wide.returncode == 2 and "disc_filter_sizes" in wide.stderr and "Traceback" not in wide.stderr


def test_bad_settings_are_typed_errors(tmp_path):
    with pytest.raises(ConfigError, match="exactly one source"):
        SeqGAN()
    with pytest.raises(ConfigError, match="exactly one source"):
        SeqGAN(oracle="seeded", text_file="grammar")
    with pytest.raises(ConfigError, match="do not fit sequences of seq_len 5"):
        SeqGAN(oracle="seeded", seq_len=5)
    empty = tmp_path / "empty.txt"
    empty.write_text("\n")
    with pytest.raises(SequenceDataError):
        SeqGAN(text_file=str(empty), seq_len=5, disc_filter_sizes=(1, 2), disc_num_filters=(3, 3))
    too_long = tmp_path / "long.txt"
    too_long.write_text("1 2 3 4 5 6 7\n")
    with pytest.raises(SequenceDataError, match="seq_len"):
        SeqGAN(token_file=str(too_long), vocab_size=10, seq_len=5, disc_filter_sizes=(1, 2), disc_num_filters=(3, 3))
    with pytest.raises(ConfigError, match="vocab_size 7 differs"):
        path = tmp_path / "o.npz"
        OracleLSTM.seeded(vocab_size=12, embedding_dim=3, hidden_dim=2).save_npz(path)
        SeqGAN(oracle=str(path), vocab_size=7, seq_len=4, disc_filter_sizes=(1,), disc_num_filters=(2,))
