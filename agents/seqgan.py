"""SeqGAN: sequence generation as a policy, a discriminator as its reward, Monte-Carlo rollouts for
per-token credit (Yu et al., "SeqGAN: Sequence Generative Adversarial Nets with Policy Gradient",
AAAI 2017, Algorithm 1 and its authors' code for the settings).

    G_θ(y_t | Y_1:t−1)  an LSTM over tokens: the state is the prefix, the action the next token
    D_φ(Y_1:T)          a CNN with highway and dropout: P(real) of a whole sequence
    Q(Y_1:t−1, y_t) =   D_φ(Y_1:T)                                    t = T
                        (1/N) Σ_n D_φ(Y^n_1:T), Y^n ~ G_β completing Y_1:t   t < T
    ∇J(θ) ≈ Σ_t ∇log G_θ(y_t | Y_1:t−1) · Q(Y_1:t−1, y_t)   (REINFORCE, summed over batch and tokens
                                                              as the authors' code does)

The run, in ``seqgan_loop`` below: MLE pre-training of G for ``mle_epochs``; β ← θ; pre-training of
D for ``disc_pretrain_rounds`` rounds, each on fresh negatives from G against the real data for
``disc_epochs`` epochs; then adversarial epochs, each ``g_steps`` policy-gradient steps of G (the
rollout policy trailing it, β ← rate·β + (1 − rate)·θ, after each) and ``d_steps`` rounds of D.
One step of the run is one generator epoch (an MLE epoch or an adversarial epoch), the x axis of the
paper's Figure 2; the discriminator's pre-training sits between the two phases and counts its rounds
itself. A run stopped in any phase (SIGTERM, Ctrl-C) resumes in it at the round or epoch it stopped.

The rollouts are batched: every prefix of a batch, times N, is one row of a single pass of G_β over
the positions, which feeds the prefix's own tokens where it has them and samples the rest
(``complete``); D then scores all completions in one batch.

Real data come from an oracle (``rlkit.sequences.oracle``: the paper's, or a seeded one), from a
token-id file, or from a text corpus with a word vocabulary (``rlkit.sequences.data``). The run keeps
its real data and vocabulary in the checkpoint, so ``rlkit sample`` and a resume need no file.
Measured every ``metrics_interval`` epochs: NLL_oracle (with an oracle), NLL_gen on held-out real
data, and for text BLEU-2..5 against held-out sentences, self-BLEU and, on the shipped grammar
corpus, the fraction of samples the grammar accepts.
"""
from __future__ import annotations

import contextvars
import copy
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from agents.configs import SeqGANConfig
from rlkit.agent import Agent
from rlkit.errors import ConfigError
from rlkit.progress import Progress
from rlkit.sequences.data import TokenDataset, Vocabulary
from rlkit.sequences.oracle import START_TOKEN, OracleLSTM
from rlkit.sequences.sampling import sample_tokens
from rlkit.utils import configure_threads

GRAMMAR_CORPUS = "grammar"  # --text-file grammar: the corpus rlkit ships, sentences of its own grammar
SAMPLE_BATCH = 2000  # sequences generated per pass when sampling many (memory: SAMPLE_BATCH x vocab floats)
TEXT_SAMPLES_LOGGED = 5
# SeqGAN.load builds the agent on its checkpoint's real data, vocabulary and oracle: no file is read
_RESTORING: contextvars.ContextVar[dict | None] = contextvars.ContextVar("seqgan_restoring", default=None)


def seqgan_loop(agent: "SeqGAN", progress: Progress) -> None:
    """MLE epochs, then D's pre-training rounds, then adversarial epochs, until the step target."""
    cfg = agent.config
    if agent.num_steps == 0 and not agent.measured_at_start:
        progress.learned(agent.measure())  # the untrained generator: the paper's "Random" row
        agent.measured_at_start = True
    while not progress.done:
        if agent.num_steps < cfg.mle_epochs or not cfg.adversarial:
            progress.phase("MLE pre-training")
            metrics = agent.mle_epoch()
        else:
            if agent.disc_rounds_done < cfg.disc_pretrain_rounds:
                if agent.disc_rounds_done == 0:
                    agent.rollout_generator.load_state_dict(agent.generator.state_dict())  # β ← θ
                progress.phase(f"discriminator pre-training {agent.disc_rounds_done + 1}/{cfg.disc_pretrain_rounds}")
                metrics = agent.discriminator_round()
                agent.disc_rounds_done += 1
                progress.learned({"disc_pretrain_round": agent.disc_rounds_done, **metrics})
                progress.checkpoint()  # a round is minutes of work on a CPU: each is kept
                continue
            progress.phase("adversarial")
            metrics = agent.adversarial_epoch()
        progress.advance(1)
        epoch = agent.num_steps
        if epoch % cfg.metrics_interval == 0 or epoch >= progress.target:  # not on a stop signal: the checkpoint first
            metrics.update(agent.measure(log_text_at=epoch, logger=progress.logger))
        progress.learned(metrics)
        progress.safe_point()


# --- networks ----------------------------------------------------------------------------------------
class Generator(nn.Module):
    """An LSTM language model G_θ: embedding, one LSTM layer, logits over the vocabulary. The first
    input is token 0 (``START_TOKEN``), as in the oracle. Weights start as N(0, 0.1) draws (the
    authors' initialisation; it gives the paper's "Random" NLL_oracle of ~10.3)."""

    def __init__(self, vocab_size: int, embedding_dim: int, hidden_dim: int):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embedding_dim)
        self.lstm = nn.LSTM(embedding_dim, hidden_dim, batch_first=True)
        self.out = nn.Linear(hidden_dim, vocab_size)
        for name, param in self.named_parameters():
            if name == "lstm.bias_hh_l0":
                nn.init.zeros_(param)  # torch's LSTM has two biases where the authors' cell has one
            else:
                nn.init.normal_(param, std=0.1)

    def logits(self, sequences: torch.Tensor) -> torch.Tensor:
        """[B, T, V]: the logits of each token given the ones before it (teacher forcing)."""
        inputs = torch.cat([torch.full_like(sequences[:, :1], START_TOKEN), sequences[:, :-1]], 1)
        hidden, _ = self.lstm(self.embedding(inputs))
        return self.out(hidden)

    def log_probs(self, sequences: torch.Tensor) -> torch.Tensor:
        """[B, T]: log G(y_t | y_<t) of every token."""
        logits = self.logits(sequences)
        # flat [B·T, V] rows: twice as fast on CPU as cross_entropy over [B, V, T]
        nll = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), sequences.reshape(-1), reduction="none")
        return -nll.view(sequences.shape)

    @torch.no_grad()
    def complete(self, prefixes: torch.Tensor, given: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Rows of ``prefixes`` [R, T] keep their first ``given[r]`` tokens and have the rest sampled
        from G, all rows in one pass per position (given = 0: a fresh sample)."""
        rows, seq_len = prefixes.shape
        out = prefixes.clone()
        tokens = torch.full((rows,), START_TOKEN, dtype=torch.long)
        state = None
        for t in range(seq_len):
            hidden, state = self.lstm(self.embedding(tokens)[:, None], state)
            sampled = given <= t  # rows past their prefix at position t
            if bool(sampled.any()):  # logits only where a token is drawn: the [R, V] product is the cost
                out[sampled, t] = sample_tokens(self.out(hidden[sampled, 0]), generator)
            tokens = out[:, t]
        return out

    def sample(self, n: int, seq_len: int, generator: torch.Generator) -> torch.Tensor:
        """``n`` sequences [n, seq_len] sampled from G."""
        parts = []
        for start in range(0, n, SAMPLE_BATCH):
            rows = min(SAMPLE_BATCH, n - start)
            empty = torch.zeros(rows, seq_len, dtype=torch.long)
            parts.append(self.complete(empty, torch.zeros(rows, dtype=torch.long), generator))
        return torch.cat(parts)


class Discriminator(nn.Module):
    """D_φ: token embedding, 1-D convolutions of several widths with max-over-time pooling, one
    highway layer, dropout, and two logits (fake, real), as in the authors' code (after Kim 2014 and
    Zhang & LeCun 2015)."""

    def __init__(self, vocab_size: int, embedding_dim: int, filter_sizes: tuple[int, ...],
                 num_filters: tuple[int, ...], dropout: float):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embedding_dim)
        self.convs = nn.ModuleList(nn.Conv1d(embedding_dim, n, k) for k, n in zip(filter_sizes, num_filters))
        features = sum(num_filters)
        self.highway = nn.Linear(features, 2 * features)  # the gate and the transform in one product
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(features, 2)
        # the authors' initialisation: embedding U(-1, 1); conv and output weights truncated N(0, 0.1), biases 0.1
        nn.init.uniform_(self.embedding.weight, -1.0, 1.0)
        for layer in [*self.convs, self.out]:
            nn.init.trunc_normal_(layer.weight, std=0.1, a=-0.2, b=0.2)
            nn.init.constant_(layer.bias, 0.1)

    def forward(self, sequences: torch.Tensor) -> torch.Tensor:
        """[B, 2] logits of (fake, real) for token sequences [B, T]."""
        x = self.embedding(sequences).transpose(1, 2)  # [B, E, T]
        pooled = torch.cat([torch.relu(conv(x)).amax(dim=2) for conv in self.convs], 1)
        gate, transform = self.highway(pooled).chunk(2, dim=1)
        gate = torch.sigmoid(gate)
        features = gate * torch.relu(transform) + (1.0 - gate) * pooled
        return self.out(self.dropout(features))

    def l2_penalty(self) -> torch.Tensor:
        """(‖W‖² + ‖b‖²) / 2 of the output layer (TensorFlow's l2_loss, as the authors penalise it)."""
        return 0.5 * (self.out.weight.square().sum() + self.out.bias.square().sum())

    @torch.no_grad()
    def prob_real(self, sequences: torch.Tensor, batch_size: int = 4096) -> torch.Tensor:
        """[B] P(real) of each sequence, in eval mode (no dropout)."""
        training = self.training
        self.eval()
        try:
            return torch.cat([torch.softmax(self(sequences[i:i + batch_size]), 1)[:, 1]
                              for i in range(0, len(sequences), batch_size)])
        finally:
            self.train(training)


# --- the pieces of an adversarial epoch ----------------------------------------------------------------
def rollout_rewards(rollout_generator: Generator, score: Any, sequences: torch.Tensor, num_rollouts: int,
                    generator: torch.Generator) -> torch.Tensor:
    """Q(Y_1:t−1, y_t) for every token of ``sequences`` [B, T]: [B, T].

    Position t < T: the mean of ``score`` (D's P(real)) over ``num_rollouts`` completions of the
    prefix Y_1:t by ``rollout_generator``; position T: ``score`` of the sequence itself. All
    B·(T−1)·N completions are drawn in one batched pass."""
    batch, seq_len = sequences.shape
    q = torch.empty(batch, seq_len)
    q[:, -1] = score(sequences)
    if seq_len > 1:
        # row order: (rollout n, prefix length t, sequence b)
        given = torch.arange(1, seq_len).repeat_interleave(batch).repeat(num_rollouts)
        prefixes = sequences.repeat(num_rollouts * (seq_len - 1), 1)
        scores = score(rollout_generator.complete(prefixes, given, generator))
        q[:, :-1] = scores.view(num_rollouts, seq_len - 1, batch).mean(0).T
    return q


@torch.no_grad()
def trail(rollout_generator: nn.Module, generator: nn.Module, rate: float) -> None:
    """β ← rate·β + (1 − rate)·θ for every parameter: the delayed rollout policy."""
    for beta, theta in zip(rollout_generator.parameters(), generator.parameters()):
        beta.mul_(rate).add_(theta, alpha=1.0 - rate)


def clip_and_step(optimizer: torch.optim.Optimizer, params: list[torch.Tensor], max_grad_norm: float | None) -> float:
    grad_norm = float(nn.utils.clip_grad_norm_(params, max_grad_norm if max_grad_norm else float("inf")))
    optimizer.step()
    return grad_norm


class SeqGAN(Agent):
    """SeqGAN on an oracle, a token file or a text corpus (``SeqGANConfig``); no env.

    ``SeqGAN(oracle="seeded", mle_epochs=5).learn(8)``; ``agent.sample(10)`` returns sequences (token
    ids), ``agent.decode(...)`` text with a vocabulary.
    """

    config_class = SeqGANConfig
    loop = seqgan_loop

    def __init__(self, **config: Any):
        super().__init__(**config)
        cfg = self.config
        self.threads = configure_threads(cfg.torch_threads, compute_bound=True)  # no envs: every core computes
        self.torch_rng = torch.Generator().manual_seed(cfg.seed)
        self.oracle: OracleLSTM | None = None
        self.grammar = False
        restoring = _RESTORING.get()
        self.train_data, self.held_out = self._saved_data(restoring) if restoring else self._real_data()
        vocab_size = self.train_data.vocab_size
        self.generator = Generator(vocab_size, cfg.gen_embedding_dim, cfg.gen_hidden_dim)
        self.rollout_generator = copy.deepcopy(self.generator).requires_grad_(False)
        self.discriminator = Discriminator(vocab_size, cfg.disc_embedding_dim, cfg.disc_filter_sizes,
                                           cfg.disc_num_filters, cfg.disc_dropout)
        # separate Adam states for MLE and for the policy gradient, as the authors' code has
        self.mle_optimizer = torch.optim.Adam(self.generator.parameters(), lr=cfg.gen_learning_rate)
        self.pg_optimizer = torch.optim.Adam(self.generator.parameters(), lr=cfg.gen_learning_rate)
        # fused: one kernel over D's ~7M parameters instead of a dozen passes (a third of a CPU step otherwise)
        self.disc_optimizer = torch.optim.Adam(self.discriminator.parameters(), lr=cfg.disc_learning_rate, fused=True)
        self.disc_rounds_done = 0
        self.measured_at_start = False
        self._bleu: Any = None

    # --- data -----------------------------------------------------------------------------------
    @property
    def vocab(self) -> Vocabulary | None:
        return self.train_data.vocab

    def _saved_data(self, state: dict[str, Any]) -> tuple[TokenDataset, TokenDataset]:
        vocab = Vocabulary.from_json(state["vocab"]) if state["vocab"] else None
        if state.get("oracle") is not None:
            self.oracle = OracleLSTM.from_state_dict(state["oracle"])
        self.grammar = bool(state["grammar"])
        size = int(state["vocab_size"])
        return (TokenDataset(state["train_data"].numpy().astype(np.int64), size, vocab),
                TokenDataset(state["held_out"].numpy().astype(np.int64), size, vocab))

    def _real_data(self) -> tuple[TokenDataset, TokenDataset]:
        """(training, held-out) real sequences from the configured source."""
        cfg = self.config
        if cfg.oracle:
            self.oracle = (OracleLSTM.seeded(cfg.vocab_size, seed=cfg.oracle_seed) if cfg.oracle == "seeded"
                           else OracleLSTM.from_npz(cfg.oracle))
            if cfg.oracle != "seeded" and cfg.vocab_size != self.oracle.vocab_size:
                raise ConfigError(f"vocab_size {cfg.vocab_size} differs from the oracle's {self.oracle.vocab_size} "
                                  f"({cfg.oracle}); pass --vocab-size {self.oracle.vocab_size}.")
            held = max(1, round(cfg.num_real * cfg.held_out_fraction))
            real = self.oracle.sample(cfg.num_real + held, cfg.seq_len, torch.Generator().manual_seed(cfg.oracle_seed))
            data = TokenDataset.from_array(real.numpy(), self.oracle.vocab_size)
            return TokenDataset(data.sequences[:cfg.num_real], data.vocab_size), TokenDataset(data.sequences[cfg.num_real:], data.vocab_size)
        if cfg.text_file:
            path = cfg.text_file
            if path == GRAMMAR_CORPUS:
                from rlkit.sequences.grammar import corpus_path

                path, self.grammar = corpus_path(), True
            data = TokenDataset.from_text_file(path, cfg.seq_len)
        else:
            data = TokenDataset.from_token_file(cfg.token_file, cfg.seq_len, cfg.vocab_size)
        train, held_out = data.split(cfg.held_out_fraction, seed=cfg.seed)
        return train, held_out

    # --- the phases -----------------------------------------------------------------------------
    def mle_epoch(self) -> dict[str, float]:
        """One pass of maximum likelihood over the real training data."""
        losses = []
        for batch in self.train_data.batches(self.config.batch_size, self.np_rng):
            loss = -self.generator.log_probs(torch.from_numpy(batch)).mean()
            self.mle_optimizer.zero_grad(set_to_none=True)
            loss.backward()
            clip_and_step(self.mle_optimizer, list(self.generator.parameters()), self.config.max_grad_norm)
            losses.append(loss.item())
            self.num_updates += 1
        return {"mle_loss": float(np.mean(losses))}

    def discriminator_round(self) -> dict[str, float]:
        """Fresh negatives from G against the real training data, ``disc_epochs`` epochs of D. With
        fewer negatives than real sequences, as many real ones are drawn at random: balanced classes."""
        cfg = self.config
        real = torch.from_numpy(self.train_data.sequences)
        negatives = cfg.num_negatives or len(real)
        if negatives < len(real):
            real = real[torch.from_numpy(self.np_rng.choice(len(real), negatives, replace=False))]
        fake = self.generator.sample(negatives, cfg.seq_len, self.torch_rng)
        inputs = torch.cat([real, fake])
        labels = torch.cat([torch.ones(len(real), dtype=torch.long), torch.zeros(len(fake), dtype=torch.long)])
        losses, correct = [], 0.0
        self.discriminator.train()
        for _ in range(cfg.disc_epochs):
            order = torch.from_numpy(self.np_rng.permutation(len(inputs)))
            correct = 0.0
            for start in range(0, len(order), cfg.disc_batch_size):
                rows = order[start:start + cfg.disc_batch_size]
                logits = self.discriminator(inputs[rows])
                loss = F.cross_entropy(logits, labels[rows]) + cfg.disc_l2 * self.discriminator.l2_penalty()
                self.disc_optimizer.zero_grad(set_to_none=True)
                loss.backward()
                self.disc_optimizer.step()
                self.num_updates += 1
                losses.append(loss.item())
                correct += float((logits.argmax(1) == labels[rows]).sum())
        return {"disc_loss": float(np.mean(losses)), "disc_accuracy": correct / len(inputs)}

    def generator_step(self) -> dict[str, float]:
        """One policy-gradient step of G on a fresh batch, rewards from D through rollouts of G_β."""
        cfg = self.config
        sequences = self.generator.sample(cfg.batch_size, cfg.seq_len, self.torch_rng)
        q = rollout_rewards(self.rollout_generator, self.discriminator.prob_real, sequences, cfg.num_rollouts, self.torch_rng)
        advantages = q - q.mean(0, keepdim=True) if cfg.pg_baseline else q
        loss = -(self.generator.log_probs(sequences) * advantages).sum()
        self.pg_optimizer.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = clip_and_step(self.pg_optimizer, list(self.generator.parameters()), cfg.max_grad_norm)
        trail(self.rollout_generator, self.generator, cfg.rollout_update_rate)
        self.num_updates += 1
        return {"pg_loss": loss.item(), "mean_q": float(q.mean()), "final_reward": float(q[:, -1].mean()),
                "pg_grad_norm": grad_norm}

    def adversarial_epoch(self) -> dict[str, float]:
        """``g_steps`` generator steps, then ``d_steps`` discriminator rounds."""
        rows = [self.generator_step() for _ in range(self.config.g_steps)]
        metrics = {key: float(np.mean([r[key] for r in rows])) for key in rows[0]}
        for _ in range(self.config.d_steps):
            metrics.update(self.discriminator_round())
        return metrics

    # --- measurement ----------------------------------------------------------------------------
    def measure(self, log_text_at: int | None = None, logger: Any = None) -> dict[str, float]:
        """NLL_oracle (oracle), NLL_gen (held-out real data), BLEU-2..5, self-BLEU and grammar
        acceptance (text); a few decoded samples to TensorBoard's text tab."""
        cfg = self.config
        with torch.no_grad():
            metrics = {"nll_gen": float(-self.generator.log_probs(torch.from_numpy(self.held_out.sequences)).mean())}
        measure_rng = torch.Generator().manual_seed(cfg.seed + 20_000)  # the same draws at every measurement
        if self.oracle is not None:
            metrics["nll_oracle"] = self.oracle.nll(self.generator.sample(cfg.metric_samples, cfg.seq_len, measure_rng))
        if self.vocab is not None:
            from rlkit.sequences.bleu import self_bleu

            sentences = self.decode_words(self.generator.sample(cfg.bleu_samples, cfg.seq_len, measure_rng))
            for order in (2, 3, 4, 5):
                metrics[f"bleu{order}"] = self.bleu_reference().corpus_mean(sentences, order)
            metrics["self_bleu3"] = self_bleu(sentences, 3, seed=cfg.seed)
            if self.grammar:
                from rlkit.sequences.grammar import acceptance_rate

                metrics["grammar_accepted"] = acceptance_rate(sentences)
            if logger is not None and logger.writer is not None and log_text_at is not None:
                text = "\n\n".join(" ".join(words) for words in sentences[:TEXT_SAMPLES_LOGGED])
                logger.writer.add_text("samples", text, log_text_at)
        return metrics

    def bleu_reference(self) -> Any:
        """The held-out sentences as BLEU's reference set (up to 5-grams), indexed once."""
        if self._bleu is None:
            from rlkit.sequences.bleu import BleuReference

            self._bleu = BleuReference(self.decode_words(self.held_out.sequences), max_order=5)
        return self._bleu

    def evaluate(self, episodes: int, seed: int) -> tuple[float, float]:
        """The score a run ends with: with an oracle, −NLL_oracle (mean and std over sequences) of
        max(episodes, metric_samples) generated sequences; for text, the mean BLEU-3 of
        max(episodes, bleu_samples) sentences against the held-out ones (and its std)."""
        rng = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            if self.oracle is not None:
                samples = self.generator.sample(max(episodes, self.config.metric_samples), self.config.seq_len, rng)
                per_sequence = -self.oracle.token_nll(samples).mean(1)
                return float(per_sequence.mean()), float(per_sequence.std())
            sentences = self.decode_words(self.generator.sample(max(episodes, self.config.bleu_samples), self.config.seq_len, rng))
            scores = np.array([self.bleu_reference().sentence_bleu(s, 3) for s in sentences])
            return float(scores.mean()), float(scores.std())

    def default_total_steps(self) -> int:
        """The schedule's generator epochs: ``mle_epochs + adversarial_epochs`` (MLE only: the same count)."""
        return self.config.mle_epochs + self.config.adversarial_epochs

    # --- public helpers -------------------------------------------------------------------------
    def sample(self, n: int, seed: int | None = None) -> np.ndarray:
        """``n`` generated sequences of token ids [n, seq_len]."""
        rng = self.torch_rng if seed is None else torch.Generator().manual_seed(seed)
        with torch.no_grad():
            return self.generator.sample(n, self.config.seq_len, rng).numpy()

    def decode_words(self, sequences: Any) -> list[list[str]]:
        """Sequences as word lists, cut at the end token (text); token ids as strings otherwise."""
        sequences = np.asarray(sequences)
        if self.vocab is None:
            return [[str(t) for t in row] for row in sequences]
        return [self.vocab.decode(row).split() for row in sequences]

    def decode(self, sequences: Any) -> list[str]:
        """Printable lines: decoded text with a vocabulary, token ids otherwise."""
        return [" ".join(words) for words in self.decode_words(sequences)]

    def predict(self, obs: np.ndarray, deterministic: bool) -> np.ndarray:
        """The next token for each prefix in ``obs`` [B, t] (greedy when ``deterministic``)."""
        prefixes = torch.as_tensor(np.asarray(obs), dtype=torch.long)
        logits = self.generator.logits(torch.cat([prefixes, prefixes[:, :1]], 1))[:, -1]
        tokens = logits.argmax(1) if deterministic else sample_tokens(logits, self.torch_rng)
        return tokens.numpy()

    # --- checkpoints ----------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {
            "generator": self.generator.state_dict(), "rollout_generator": self.rollout_generator.state_dict(),
            "discriminator": self.discriminator.state_dict(), "mle_optimizer": self.mle_optimizer.state_dict(),
            "pg_optimizer": self.pg_optimizer.state_dict(), "disc_optimizer": self.disc_optimizer.state_dict(),
            "torch_rng": self.torch_rng.get_state(), "disc_rounds_done": self.disc_rounds_done,
            "measured_at_start": self.measured_at_start,
            # the real data and vocabulary: sampling and resuming need no corpus file
            "train_data": torch.from_numpy(self.train_data.sequences.astype(np.int32)),
            "held_out": torch.from_numpy(self.held_out.sequences.astype(np.int32)),
            "vocab": self.vocab.to_json() if self.vocab is not None else "", "vocab_size": self.train_data.vocab_size,
            "grammar": self.grammar, "oracle": self.oracle.state_dict() if self.oracle is not None else None,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        # the run's own real data (a corpus file edited since cannot change a resumed run)
        self.train_data, self.held_out = self._saved_data(state)
        self._bleu = None
        for name in ("generator", "rollout_generator", "discriminator", "mle_optimizer", "pg_optimizer", "disc_optimizer"):
            getattr(self, name).load_state_dict(state[name])
        self.torch_rng.set_state(state["torch_rng"])
        self.disc_rounds_done = int(state["disc_rounds_done"])
        self.measured_at_start = bool(state["measured_at_start"])

    @classmethod
    def from_payload(cls, payload: dict[str, Any], path: str | Path, env: Any = None, **overrides: Any) -> "SeqGAN":
        """``Agent.load`` on the checkpoint's own data and oracle: no corpus or oracle file is read."""
        token = _RESTORING.set(payload["state"])
        try:
            return super().from_payload(payload, path, env, **overrides)  # type: ignore[return-value]
        finally:
            _RESTORING.reset(token)

