"""Integer sequence datasets for sequence generators (SeqGAN): token-id files, text files, vocabularies.

Two sources give the same thing, a ``TokenDataset`` of int64 sequences ``[N, seq_len]``:

* a token file, as the original SeqGAN code's ``save/real_data.txt``: one sequence per line, token
  ids separated by whitespace, with the vocabulary size given by the caller (the oracle experiment);
* a text file: one sentence per line, words separated by whitespace, encoded with a word-level
  ``Vocabulary`` whose ids 0 and 1 are PAD and EOS.

Every problem with the data raises ``SequenceDataError`` naming the file, the line and what to do,
before a generator trains on something it should not.
"""
from __future__ import annotations

import json
import os
import re
from collections import Counter
from dataclasses import dataclass
from typing import Iterable, Iterator

import numpy as np

from rlkit.errors import ConfigError, SequenceDataError
from rlkit.files import write_text_atomically

PAD, EOS = "<pad>", "<eos>"  # ids 0 and 1 of every text vocabulary
PAD_ID, EOS_ID = 0, 1
_VOCAB_FORMAT = "rlkit.sequences.Vocabulary"
_INTEGER = re.compile(r"[+-]?[0-9]+")  # ASCII digits only: int() would also take "1_000" and non-ASCII digits


def _check_positive(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ConfigError(f"{name} must be a positive integer, got {value!r}.")
    return int(value)


class Vocabulary:
    """Word-level vocabulary of a text corpus: id -> word; ids 0 and 1 are PAD and EOS."""

    def __init__(self, tokens: list[str]):
        tokens = list(tokens)
        if len(tokens) < 2 or tokens[0] != PAD or tokens[1] != EOS:
            raise SequenceDataError(f"a vocabulary's first two tokens must be {PAD!r} and {EOS!r} (ids 0 and 1), "
                                    f"got {tokens[:2]!r}; build one with Vocabulary.build(sentences).")
        for token in tokens:
            if not isinstance(token, str) or not token or token.split() != [token]:
                raise SequenceDataError(f"vocabulary token {token!r} is not a word (a non-empty string without "
                                        "whitespace); split sentences on whitespace before building a vocabulary.")
        self.tokens = tokens
        self._ids = {token: i for i, token in enumerate(tokens)}
        if len(self._ids) != len(tokens):
            duplicates = sorted(token for token, count in Counter(tokens).items() if count > 1)
            raise SequenceDataError(f"vocabulary lists {duplicates[:5]!r} more than once; each word needs one id.")

    @classmethod
    def build(cls, sentences: Iterable[list[str]]) -> "Vocabulary":
        """PAD, EOS, then every word by descending frequency, ties alphabetically, so the same corpus
        always gives the same ids whatever the order of its lines."""
        counts: Counter[str] = Counter()
        for words in sentences:
            counts.update(words)
        reserved = sorted({PAD, EOS} & counts.keys())
        if reserved:
            raise SequenceDataError(f"the sentences contain the reserved token(s) {reserved}; remove them, "
                                    "Vocabulary adds PAD and EOS itself.")
        words = sorted(counts, key=lambda word: (-counts[word], word))
        return cls([PAD, EOS, *words])

    def __len__(self) -> int:
        return len(self.tokens)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocabulary) and self.tokens == other.tokens

    def __repr__(self) -> str:
        return f"Vocabulary({len(self)} tokens)"

    def encode(self, words: list[str], seq_len: int) -> np.ndarray:
        """int64 ``[seq_len]``: the words' ids, then EOS, then PAD up to ``seq_len``. The EOS is
        always there, so the generator learns where sentences end: ``len(words) + 1 <= seq_len``."""
        seq_len = _check_positive("seq_len", seq_len)
        if len(words) + 1 > seq_len:
            raise SequenceDataError(f"a sentence of {len(words)} words needs seq_len >= {len(words) + 1} "
                                    f"(its words and EOS), but seq_len is {seq_len}; raise seq_len or shorten "
                                    "the sentence.")
        ids = np.full(seq_len, PAD_ID, dtype=np.int64)
        for position, word in enumerate(words):
            index = self._ids.get(word)
            # PAD and EOS are not words: decode() would cut the sentence there.
            if index is None or index < 2:
                raise SequenceDataError(f"word {word!r} (position {position + 1}) is not in the vocabulary of "
                                        f"{len(self)} tokens; build the vocabulary from a corpus that contains it.")
            ids[position] = index
        ids[len(words)] = EOS_ID
        return ids

    def decode(self, ids: Iterable[int]) -> str:
        """The words of one sequence of ids up to the first EOS or PAD, joined by single spaces."""
        words = []
        # .tolist() takes NumPy arrays and torch tensors (on any device) alike.
        values = ids.tolist() if hasattr(ids, "tolist") else list(ids)
        for index in map(int, values):
            if index in (PAD_ID, EOS_ID):
                break
            if not 0 <= index < len(self.tokens):
                raise SequenceDataError(f"token id {index} is outside this vocabulary of {len(self)} tokens; "
                                        "decode with the vocabulary the sequences were encoded with.")
            words.append(self.tokens[index])
        return " ".join(words)

    def to_json(self) -> str:
        """The vocabulary as a JSON string, to store inside a checkpoint."""
        return json.dumps({"format": _VOCAB_FORMAT, "version": 1, "tokens": self.tokens})

    @classmethod
    def from_json(cls, text: str) -> "Vocabulary":
        try:
            data = json.loads(text)
        except (TypeError, ValueError) as exc:
            raise SequenceDataError(f"not a saved vocabulary ({exc}); pass the string Vocabulary.to_json() "
                                    "wrote.") from exc
        if not (isinstance(data, dict) and data.get("format") == _VOCAB_FORMAT
                and isinstance(data.get("tokens"), list)):
            raise SequenceDataError("not a saved vocabulary (no format tag or token list); pass the string "
                                    "Vocabulary.to_json() wrote.")
        if data.get("version") != 1:
            raise SequenceDataError(f"vocabulary format version {data.get('version')!r} is newer than this rlkit "
                                    "reads (1); upgrade rlkit.")
        return cls(data["tokens"])


def _read_lines(path: str | os.PathLike) -> list[tuple[int, list[str]]]:
    """(1-based line number, whitespace-separated fields) of each non-blank line."""
    try:
        with open(path, encoding="utf-8") as file:
            lines = file.read().splitlines()
    except FileNotFoundError as exc:
        raise SequenceDataError(f"{path}: no such file; check the path.") from exc
    except UnicodeDecodeError as exc:
        raise SequenceDataError(f"{path}: not a UTF-8 text file ({exc.reason} at byte {exc.start}).") from exc
    except OSError as exc:
        raise SequenceDataError(f"{path}: cannot be read ({exc.strerror or exc}).") from exc
    return [(number, fields) for number, line in enumerate(lines, start=1) if (fields := line.split())]


@dataclass
class TokenDataset:
    """Integer sequences [N, seq_len] (int64) and, for text, their vocabulary."""

    sequences: np.ndarray
    vocab_size: int
    vocab: Vocabulary | None = None

    def __post_init__(self) -> None:
        self.vocab_size = _check_positive("vocab_size", self.vocab_size)
        sequences = np.asarray(self.sequences)
        if not np.issubdtype(sequences.dtype, np.integer):
            raise SequenceDataError(f"sequences must hold integer token ids, got dtype {sequences.dtype}; "
                                    "convert them with .astype(np.int64) if they are whole numbers.")
        if sequences.ndim != 2 or sequences.shape[0] == 0 or sequences.shape[1] == 0:
            raise SequenceDataError(f"sequences must be a non-empty 2-D array [N, seq_len], got shape "
                                    f"{sequences.shape}; stack one row per sequence.")
        low, high = int(sequences.min()), int(sequences.max())
        if low < 0:
            row = int(np.argwhere(sequences < 0)[0, 0])
            raise SequenceDataError(f"negative token id {low} (row {row}); token ids start at 0.")
        if high >= self.vocab_size:
            row = int(np.argwhere(sequences >= self.vocab_size)[0, 0])
            raise SequenceDataError(f"token id {high} (row {row}) >= vocab_size={self.vocab_size}; set vocab_size "
                                    f"to at least max_id+1 = {high + 1}.")
        if self.vocab is not None and len(self.vocab) != self.vocab_size:
            raise SequenceDataError(f"vocab_size is {self.vocab_size} but the vocabulary has {len(self.vocab)} "
                                    "tokens; leave vocab_size to len(vocab).")
        # int64 whatever came in: embeddings and torch's cross-entropy index with it.
        self.sequences = np.ascontiguousarray(sequences, dtype=np.int64)

    # --- sources ---------------------------------------------------------------------------------
    @classmethod
    def from_token_file(cls, path: str | os.PathLike, seq_len: int, vocab_size: int) -> "TokenDataset":
        """Read the original SeqGAN format: one sequence per line, token ids separated by whitespace.

        Blank lines are skipped. A line with fewer than ``seq_len`` ids is padded with id 0 (the
        original code's end token is 0 too, so a short line reads as a sequence that ended early).
        """
        seq_len = _check_positive("seq_len", seq_len)
        vocab_size = _check_positive("vocab_size", vocab_size)
        lines = _read_lines(path)
        if not lines:
            raise SequenceDataError(f"{path}: no sequences (the file is empty or only blank lines); write one "
                                    "sequence of token ids per line.")
        sequences = np.zeros((len(lines), seq_len), dtype=np.int64)  # zeros: the padding id
        for row, (number, fields) in enumerate(lines):
            if len(fields) > seq_len:
                raise SequenceDataError(f"{path}, line {number}: {len(fields)} tokens, more than seq_len={seq_len}; "
                                        "raise seq_len or cut the sequences.")
            for column, field in enumerate(fields):
                if not _INTEGER.fullmatch(field):
                    raise SequenceDataError(f"{path}, line {number}: token {field!r} is not an integer id; a token "
                                            "file holds whole numbers separated by whitespace.")
                index = int(field)
                if index < 0:
                    raise SequenceDataError(f"{path}, line {number}: negative token id {index}; ids start at 0.")
                if index >= vocab_size:
                    max_id = max(int(f) for _, fs in lines for f in fs if _INTEGER.fullmatch(f))
                    raise SequenceDataError(f"{path}, line {number}: token id {index} >= vocab_size={vocab_size}; "
                                            f"set vocab_size to at least max_id+1 = {max_id + 1}.")
                sequences[row, column] = index
        return cls(sequences, vocab_size)

    @classmethod
    def from_text_file(cls, path: str | os.PathLike, seq_len: int, vocab: Vocabulary | None = None) -> "TokenDataset":
        """One sentence per line, words separated by whitespace (kept as they are: no lower-casing).

        Blank lines are skipped. Without ``vocab`` the vocabulary is built from the file (pass the
        training set's to encode a held-out file with the same ids). Each sentence becomes its ids,
        EOS and PAD (``Vocabulary.encode``), so it needs ``len(words) + 1 <= seq_len``.
        """
        seq_len = _check_positive("seq_len", seq_len)
        lines = _read_lines(path)
        if not lines:
            raise SequenceDataError(f"{path}: no words (the file is empty or only blank lines); write one "
                                    "sentence per line.")
        if vocab is None:
            try:
                vocab = Vocabulary.build(fields for _, fields in lines)
            except SequenceDataError as exc:
                raise SequenceDataError(f"{path}: {exc}") from exc
        sequences = np.empty((len(lines), seq_len), dtype=np.int64)
        for row, (number, words) in enumerate(lines):
            try:
                sequences[row] = vocab.encode(words, seq_len)
            except SequenceDataError as exc:
                raise SequenceDataError(f"{path}, line {number}: {exc}") from exc
        return cls(sequences, len(vocab), vocab)

    @classmethod
    def from_array(cls, sequences: np.ndarray, vocab_size: int) -> "TokenDataset":
        """Sequences already in memory (e.g. sampled from an oracle); validated like a file."""
        return cls(np.asarray(sequences), vocab_size)

    # --- shape -----------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.sequences)

    @property
    def seq_len(self) -> int:
        return self.sequences.shape[1]

    # --- use -------------------------------------------------------------------------------------
    def split(self, held_out_fraction: float, seed: int) -> tuple["TokenDataset", "TokenDataset"]:
        """``(train, held_out)``: rows shuffled by ``seed``; the held-out set is the first
        ``round(held_out_fraction * N)`` rows of the permutation, the rest train. Same seed, same split."""
        if not 0.0 < held_out_fraction < 1.0:
            raise ConfigError(f"held_out_fraction must be in (0, 1), got {held_out_fraction!r}.")
        order = np.random.default_rng(seed).permutation(len(self))
        held = int(round(held_out_fraction * len(self)))
        if held == 0 or held == len(self):
            raise SequenceDataError(f"held_out_fraction={held_out_fraction} of {len(self)} sequences leaves "
                                    f"{'no held-out' if held == 0 else 'no training'} sequence; use more sequences "
                                    "or a fraction nearer 0.5.")

        def part(rows: np.ndarray) -> TokenDataset:
            return TokenDataset(self.sequences[rows], self.vocab_size, self.vocab)

        return part(order[held:]), part(order[:held])

    def batches(self, batch_size: int, rng: np.random.Generator) -> Iterator[np.ndarray]:
        """int64 ``[B, T]`` batches over one shuffled pass; every row once, the last batch may be smaller."""
        batch_size = _check_positive("batch_size", batch_size)
        order = rng.permutation(len(self))
        for start in range(0, len(order), batch_size):
            yield self.sequences[order[start:start + batch_size]]

    def write_token_file(self, path: str | os.PathLike) -> None:
        """One sequence per line, space-separated ids (the original SeqGAN format), written atomically."""
        write_text_atomically(path, "".join(" ".join(map(str, row)) + "\n" for row in self.sequences.tolist()))
