"""The synthetic oracle of SeqGAN's experiment (Yu et al. 2017, §"Synthetic Data Experiments"): an
LSTM with fixed weights plays the real world. It generates the "real" training sequences, and it
scores any generator exactly: NLL_oracle = −E_{Y~G} (1/T) Σ_t log p_oracle(y_t | Y_<t), the
negative log-likelihood per token, under the oracle, of sequences the generator samples.

Its weights are either seeded N(0, 1) draws (``OracleLSTM.seeded``) or the arrays of the paper's
oracle (``OracleLSTM.from_npz`` with ``../shared/seqgan-oracle/target_params.npz``'s layout). The cell
follows that layout's README exactly, with row vectors, x the embedding of the previous token, the
first input the embedding of token 0 and h0 = c0 = 0:

    i = σ(x W_i + h U_i + b_i)   f = σ(x W_f + h U_f + b_f)   o = σ(x W_o + h U_o + b_o)
    c̃ = tanh(x W_c + h U_c + b_c)   c = f ⊙ c + i ⊙ c̃   h = o ⊙ tanh(c)   logits = h W_out + b_out
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from rlkit.errors import SequenceDataError
from rlkit.sequences.sampling import sample_tokens

GATES = ("i", "f", "o", "c")  # the order of the fused gate matrices below
START_TOKEN = 0  # the first input of the oracle and of SeqGAN's generator


class OracleLSTM(nn.Module):
    """A fixed LSTM language model over ``vocab_size`` tokens (no gradients)."""

    def __init__(self, embedding: np.ndarray, gates: dict[str, np.ndarray], w_out: np.ndarray, b_out: np.ndarray):
        super().__init__()
        as_tensor = lambda a: torch.as_tensor(np.asarray(a, dtype=np.float32))  # noqa: E731
        self.embedding = nn.Parameter(as_tensor(embedding), requires_grad=False)
        # [E, 4H], [H, 4H], [4H]: one matrix product per input instead of four
        self.W = nn.Parameter(torch.cat([as_tensor(gates[f"W_{g}"]) for g in GATES], 1), requires_grad=False)
        self.U = nn.Parameter(torch.cat([as_tensor(gates[f"U_{g}"]) for g in GATES], 1), requires_grad=False)
        self.b = nn.Parameter(torch.cat([as_tensor(gates[f"b_{g}"]) for g in GATES], 0), requires_grad=False)
        self.w_out = nn.Parameter(as_tensor(w_out), requires_grad=False)
        self.b_out = nn.Parameter(as_tensor(b_out), requires_grad=False)
        self.vocab_size, self.hidden_dim = self.w_out.shape[1], self.U.shape[0]

    # --- construction ---------------------------------------------------------------------------
    @classmethod
    def seeded(cls, vocab_size: int = 5000, embedding_dim: int = 32, hidden_dim: int = 32, seed: int = 0) -> "OracleLSTM":
        """Every weight drawn from N(0, 1) by ``seed`` (the paper's recipe for a random oracle)."""
        rng = np.random.default_rng(seed)
        e, h = embedding_dim, hidden_dim
        gates = {}
        for g in GATES:
            gates[f"W_{g}"], gates[f"U_{g}"], gates[f"b_{g}"] = rng.standard_normal((e, h)), rng.standard_normal((h, h)), rng.standard_normal(h)
        return cls(rng.standard_normal((vocab_size, e)), gates, rng.standard_normal((h, vocab_size)), rng.standard_normal(vocab_size))

    @classmethod
    def from_npz(cls, path: str | Path) -> "OracleLSTM":
        """The arrays of ``../shared/seqgan-oracle/target_params.npz`` (names as its README)."""
        path = Path(path)
        if not path.is_file():
            raise SequenceDataError(f"no oracle weights at {path}; pass the .npz of the paper's oracle "
                                    "(../shared/seqgan-oracle/target_params.npz) or --oracle seeded.")
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {k: data[k] for k in data.files}
        except (ValueError, OSError) as exc:
            raise SequenceDataError(f"{path} is not a readable .npz of oracle weights ({exc}).") from exc
        needed = ["embedding", "W_out", "b_out", *(f"{m}_{g}" for g in GATES for m in "WUb")]
        missing = [k for k in needed if k not in arrays]
        if missing:
            raise SequenceDataError(f"{path} lacks the oracle arrays {', '.join(missing)}; it needs the layout "
                                    "OracleLSTM.save_npz writes (embedding, W_*/U_*/b_* for the gates i, f, o, c, W_out, b_out).")
        v, e = arrays["embedding"].shape
        h = arrays["U_i"].shape[0]
        expected = {"W_out": (h, v), "b_out": (v,), **{f"W_{g}": (e, h) for g in GATES},
                    **{f"U_{g}": (h, h) for g in GATES}, **{f"b_{g}": (h,) for g in GATES}}
        wrong = {k: arrays[k].shape for k, shape in expected.items() if arrays[k].shape != shape}
        if wrong:
            raise SequenceDataError(f"{path}: arrays of the wrong shape {wrong} for vocabulary {v}, embedding {e}, "
                                    f"hidden {h}; expected {expected}.")
        return cls(arrays["embedding"], arrays, arrays["W_out"], arrays["b_out"])

    @classmethod
    def from_state_dict(cls, state: dict[str, torch.Tensor]) -> "OracleLSTM":
        """An oracle from ``state_dict()``'s tensors (kept in a SeqGAN checkpoint)."""
        (e, four_h), v = state["W"].shape, state["w_out"].shape[1]
        h = four_h // 4
        shapes = {"W": (e, h), "U": (h, h), "b": (h,)}
        oracle = cls(np.zeros((v, e)), {f"{m}_{g}": np.zeros(shapes[m]) for m in "WUb" for g in GATES},
                     np.zeros((h, v)), np.zeros(v))
        oracle.load_state_dict(state)
        return oracle

    def save_npz(self, path: str | Path) -> None:
        """The weights in ``from_npz``'s layout (the paper oracle's names, one array per gate)."""
        h = self.hidden_dim
        arrays = {"embedding": self.embedding, "W_out": self.w_out, "b_out": self.b_out}
        for i, g in enumerate(GATES):
            arrays.update({f"W_{g}": self.W[:, i * h:(i + 1) * h], f"U_{g}": self.U[:, i * h:(i + 1) * h],
                           f"b_{g}": self.b[i * h:(i + 1) * h]})
        np.savez(path, **{name: value.detach().numpy() for name, value in arrays.items()})

    # --- the model ------------------------------------------------------------------------------
    def step(self, tokens: torch.Tensor, h: torch.Tensor, c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Feed ``tokens`` [B]: logits of the next token [B, V] and the new state."""
        z = self.embedding[tokens] @ self.W + h @ self.U + self.b
        i, f, o, g = z.chunk(4, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        return h @ self.w_out + self.b_out, h, c

    @torch.no_grad()
    def sample(self, n: int, seq_len: int, generator: torch.Generator, batch_size: int = 2000) -> torch.Tensor:
        """``n`` sequences [n, seq_len] (int64) sampled from the oracle."""
        out = []
        for start in range(0, n, batch_size):
            b = min(batch_size, n - start)
            h = c = torch.zeros(b, self.hidden_dim)
            tokens = torch.full((b,), START_TOKEN, dtype=torch.long)
            rows = []
            for _ in range(seq_len):
                logits, h, c = self.step(tokens, h, c)
                tokens = sample_tokens(logits, generator)
                rows.append(tokens)
            out.append(torch.stack(rows, 1))
        return torch.cat(out)

    @torch.no_grad()
    def token_nll(self, sequences: torch.Tensor, batch_size: int = 2000) -> torch.Tensor:
        """−log p_oracle(y_t | y_<t) for every token of ``sequences`` [N, T]: [N, T] float."""
        sequences = torch.as_tensor(sequences, dtype=torch.long)
        if sequences.numel() and (int(sequences.min()) < 0 or int(sequences.max()) >= self.vocab_size):
            raise SequenceDataError(f"token ids must be in [0, {self.vocab_size}) for this oracle; got "
                                    f"[{int(sequences.min())}, {int(sequences.max())}].")
        out = []
        for start in range(0, len(sequences), batch_size):
            batch = sequences[start:start + batch_size]
            b = len(batch)
            h = c = torch.zeros(b, self.hidden_dim)
            tokens = torch.full((b,), START_TOKEN, dtype=torch.long)
            rows = []
            for t in range(batch.shape[1]):
                logits, h, c = self.step(tokens, h, c)
                tokens = batch[:, t]
                rows.append(-torch.log_softmax(logits, 1).gather(1, tokens[:, None]).squeeze(1))
            out.append(torch.stack(rows, 1))
        return torch.cat(out)

    def nll(self, sequences: torch.Tensor) -> float:
        """NLL_oracle of ``sequences``: the mean over all their tokens (natural log), as the paper reports it."""
        return float(self.token_nll(sequences).mean())
