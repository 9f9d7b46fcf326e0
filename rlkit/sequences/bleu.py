"""BLEU and self-BLEU as the SeqGAN / Texygen literature reports them, fast enough for 10,000 references.

Definition (what NLTK's ``sentence_bleu(references, hypothesis, weights=(1/n,)*n,
smoothing_function=SmoothingFunction().method1)`` computes, which Texygen calls for each sentence):

For a hypothesis ``h`` (a token sequence, already cut at EOS) and a reference set ``R``, for each
order ``k = 1..n``:

* ``count_h(g)``: how often the k-gram ``g`` occurs in ``h``;
* ``max_R(g) = max over r in R of count_r(g)``: multi-reference clipping counts each k-gram at most
  as often as the one reference that holds it most often;
* ``p_k = sum_g min(count_h(g), max_R(g)) / max(1, sum_g count_h(g))``;
* smoothing "method1" (Chen & Cherry 2014): an order with no match at all gets ``p_k = 0.1 /
  max(1, sum_g count_h(g))`` (epsilon 0.1 in the numerator, the denominator unchanged).

The brevity penalty uses the reference length ``r`` closest to ``c = len(h)`` (ties to the shorter):
``BP = 1`` if ``c > r``, ``0`` if ``c == 0``, else ``exp(1 - r / c)``. Then

    BLEU-n(h, R) = BP * exp(sum_k (1/n) * log p_k),

and BLEU-n is 0 when no unigram of ``h`` matches (as NLTK returns, before smoothing). The scores
of a set of hypotheses are averaged (the mean of sentence scores, not corpus-level BLEU).

Self-BLEU measures diversity: each sentence is scored against all the *other* sentences of the
same set, so it is 1.0 when every sentence has a copy and lower the more diverse they are.

Speed: ``max_R(g)`` for every k-gram of the references is computed once per reference set (a dict per
order), so a hypothesis costs only its own k-grams. Self-BLEU also keeps the runner-up count, so
leaving one sentence out costs nothing.
"""
from __future__ import annotations

import math
from collections import Counter
from typing import Hashable, Sequence

import numpy as np

from rlkit.errors import ConfigError, SequenceDataError

EPSILON = 0.1  # method1's numerator for an order with no match


def _tokens(sequence: Sequence[Hashable] | np.ndarray) -> tuple:
    # Python ints, not np.int64, so hashing and equality stay cheap.
    return tuple(sequence.tolist()) if isinstance(sequence, np.ndarray) else tuple(sequence)


def _ngram_counts(tokens: tuple, order: int) -> Counter:
    return Counter(tokens[i:i + order] for i in range(len(tokens) - order + 1))


class BleuReference:
    """A reference set, indexed once: per order, each k-gram's largest count in any one reference.

    ``exclude`` (self-BLEU) scores against every reference but one: for each k-gram the index keeps
    the largest count, one reference that has it, and the largest count among the other references.
    """

    def __init__(self, references: list[list[str]] | list[list[int]], max_order: int = 5):
        if isinstance(max_order, bool) or not isinstance(max_order, int) or max_order < 1:
            raise ConfigError(f"max_order must be a positive integer, got {max_order!r}.")
        self.max_order = max_order
        refs = [_tokens(r) for r in references]
        if not refs:
            raise SequenceDataError("BLEU needs at least one reference sentence.")
        self.num_references = len(refs)
        self._lengths = [len(r) for r in refs]
        self._length_counts = Counter(self._lengths)
        # per order: k-gram -> [best count, index of a reference with it, best count among the others]
        self._tables: list[dict[tuple, list[int]]] = []
        for order in range(1, max_order + 1):
            table: dict[tuple, list[int]] = {}
            for index, ref in enumerate(refs):
                for gram, count in _ngram_counts(ref, order).items():
                    entry = table.get(gram)
                    if entry is None:
                        table[gram] = [count, index, 0]
                    elif count > entry[0]:
                        entry[2], entry[0], entry[1] = entry[0], count, index
                    elif count > entry[2]:
                        entry[2] = count
            self._tables.append(table)

    def _closest_length(self, length: int, exclude: int | None) -> int:
        counts = self._length_counts
        if exclude is not None:
            counts = counts.copy()
            counts[self._lengths[exclude]] -= 1
        return min((n for n, c in counts.items() if c > 0), key=lambda n: (abs(n - length), n))

    def _score(self, hypothesis, order: int, exclude: int | None) -> float:
        if isinstance(order, bool) or not isinstance(order, int) or not 1 <= order <= self.max_order:
            raise ConfigError(f"order must be an integer in [1, max_order={self.max_order}], got {order!r}; "
                              "build the BleuReference with a larger max_order.")
        hyp = _tokens(hypothesis)
        log_sum = 0.0
        for k in range(1, order + 1):
            table = self._tables[k - 1]
            counts = _ngram_counts(hyp, k)
            matched = 0
            for gram, count in counts.items():
                entry = table.get(gram)
                if entry is not None:
                    best = entry[2] if entry[1] == exclude else entry[0]
                    matched += min(count, best)
            total = max(1, len(hyp) - k + 1)
            if matched == 0:
                if k == 1:
                    return 0.0  # no word in common: 0, as NLTK returns before smoothing
                matched = EPSILON  # method1
            log_sum += math.log(matched / total) / order
        c = len(hyp)
        r = self._closest_length(c, exclude)
        brevity = 1.0 if c > r else math.exp(1.0 - r / c)  # c == 0 returned above (no unigram)
        return brevity * math.exp(log_sum)

    def sentence_bleu(self, hypothesis: Sequence[Hashable] | np.ndarray, order: int) -> float:
        """BLEU-``order`` of one hypothesis against the whole reference set."""
        return self._score(hypothesis, order, None)

    def corpus_mean(self, hypotheses: Sequence[Sequence[Hashable]], order: int) -> float:
        """The mean of ``sentence_bleu`` over the hypotheses."""
        if len(hypotheses) == 0:
            raise SequenceDataError("BLEU needs at least one hypothesis to score.")
        return float(np.mean([self._score(h, order, None) for h in hypotheses]))


def bleu(hypotheses: Sequence[Sequence[Hashable]], references: Sequence[Sequence[Hashable]], order: int) -> float:
    """Mean sentence BLEU-``order`` of the hypotheses against the whole reference set (the SeqGAN metric)."""
    return BleuReference(list(references), max_order=order).corpus_mean(hypotheses, order)


def self_bleu(sentences: Sequence[Sequence[Hashable]], order: int, max_sentences: int = 500, seed: int = 0) -> float:
    """Mean BLEU-``order`` of each sentence against all the others (not itself): lower is more diverse.

    At most ``max_sentences`` sentences are scored (a subset drawn with ``seed``, all of them if there
    are few enough); each is compared with every other sentence of the full set.
    """
    if len(sentences) < 2:
        raise SequenceDataError(f"self-BLEU needs at least two sentences, got {len(sentences)}.")
    if isinstance(max_sentences, bool) or not isinstance(max_sentences, int) or max_sentences < 1:
        raise ConfigError(f"max_sentences must be a positive integer, got {max_sentences!r}.")
    reference = BleuReference(list(sentences), max_order=order)
    chosen = range(len(sentences))
    if len(sentences) > max_sentences:
        chosen = np.sort(np.random.default_rng(seed).choice(len(sentences), size=max_sentences, replace=False)).tolist()
    return float(np.mean([reference._score(sentences[i], order, i) for i in chosen]))
