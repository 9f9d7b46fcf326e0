"""A small probabilistic context-free grammar of simple English sentences, and its shipped corpus.

Why: a text generator (SeqGAN) needs real-looking data whose *quality* can be measured exactly.
Sentences sampled from this grammar are the "real data"; a generated sentence is correct iff the
grammar derives it (``accepts``), so ``acceptance_rate`` is a ground-truth quality score beside BLEU,
with no download and no human judgement.

The grammar (defined by this project): declaratives ``NP VP``, two clauses joined by a conjunction,
and ``who``/``what`` questions; noun phrases ``Det Adj* N (PP)`` or a name; verb phrases with
transitive, intransitive and clause-taking verbs (``says that S``), prepositional phrases and
adverbs. Nonterminals are upper-case; terminals are lower-case words, each introduced by a
"preterminal" (a nonterminal whose rules are all single words, like ``N``). Sentences are mostly
4-14 words; ``sample_sentence`` resamples any longer than ``max_words`` (19, so with EOS a sentence
fits seq_len 20). The length cap belongs to sampling, not to the grammar: ``accepts`` is exact for the
grammar's language, whatever the length.

The shipped corpus ``corpus/grammar_sentences.txt`` (``corpus_path()``) is
``sample_sentences(10_000, seed=0)``, one sentence per line; regenerate it with
``python -m rlkit.sequences.grammar --write PATH``.
"""
from __future__ import annotations

import argparse
import functools
from pathlib import Path

import numpy as np

from rlkit.errors import ConfigError


def _words(text: str, weights: list[float] | None = None) -> list[tuple[float, tuple[str, ...]]]:
    """A preterminal's rules: each word once, uniformly unless weights are given."""
    words = text.split()
    weights = weights or [1.0] * len(words)
    total = sum(weights)
    return [(weight / total, (word,)) for weight, word in zip(weights, words)]


# nonterminal -> [(probability, right-hand side)]; () is the empty right-hand side.
GRAMMAR: dict[str, list[tuple[float, tuple[str, ...]]]] = {
    "S": [(0.78, ("NP", "VP")),
          (0.10, ("NP", "VP", "CONJ", "NP", "VP")),
          (0.12, ("WH", "VP"))],
    "NP": [(0.88, ("DET", "ADJS", "N", "PPOPT")),
           (0.12, ("NAME",))],
    "ADJS": [(0.7, ()),
             (0.3, ("ADJ", "ADJS"))],  # Adj*: on average 0.43 adjectives, rarely more than two
    "PPOPT": [(0.78, ()),
              (0.22, ("PP",))],
    "PP": [(1.0, ("P", "NP"))],
    "VP": [(0.42, ("V_T", "NP")),
           (0.11, ("V_I",)),
           (0.12, ("V_I", "ADV")),
           (0.12, ("V_T", "NP", "PP")),
           (0.09, ("V_T", "NP", "ADV")),
           (0.10, ("V_I", "PP")),
           (0.04, ("V_S", "COMP", "S"))],
    # Preterminals. Nouns and adjectives start with a consonant, so "a" is always right.
    "DET": _words("the a every this that my her his", [8, 4, 1, 1.5, 1.5, 1.5, 1.25, 1.25]),
    "ADJ": _words("big small tall short red green blue happy sad quiet loud young clever lazy brave "
                  "gentle hungry tired strange little"),
    "N": _words("dog cat bird horse farmer teacher child king queen baker doctor student garden house "
                "river table book letter ball tree boat city forest window box hat"),
    "NAME": _words("alice bob carol david emma frank"),
    "V_T": _words("sees likes finds follows helps watches chases carries visits paints builds reads loves "
                  "hides opens remembers"),
    "V_I": _words("runs sleeps sings waits laughs falls smiles works dances swims"),
    "V_S": _words("says thinks believes hopes"),
    "ADV": _words("quickly slowly quietly today again often"),
    "P": _words("with near under behind in on from beside above without"),
    "CONJ": _words("and but while", [5, 3, 2]),
    "WH": _words("who what", [7, 3]),
    "COMP": _words("that"),  # also a determiner: "bob sees that dog", "bob says that that dog runs"
}
START = "S"


def _is_preterminal(symbol: str) -> bool:
    return all(len(rhs) == 1 and rhs[0] not in GRAMMAR for _, rhs in GRAMMAR[symbol])


def _check_grammar() -> None:
    """The properties sampling and recognition rely on; a broken edit fails at import, not later."""
    for symbol, rules in GRAMMAR.items():
        if abs(sum(p for p, _ in rules) - 1.0) > 1e-9 or any(p <= 0 for p, _ in rules):
            raise AssertionError(f"the probabilities of {symbol}'s rules must be positive and sum to 1")
        for _, rhs in rules:
            for part in rhs:
                if part not in GRAMMAR and not (part.islower() and part.isalpha()):
                    raise AssertionError(f"{symbol} -> {rhs}: {part!r} is neither a nonterminal nor a lower-case word")
                if part not in GRAMMAR and not _is_preterminal(symbol):
                    raise AssertionError(f"{symbol} -> {rhs}: words appear only in preterminals' rules")
    # The recogniser expands symbols top-down, which loops on left recursion (X ->* X ...); every
    # symbol that may start a rule, possibly after nullable ones, must lead away from X.
    nullable: set[str] = set()
    while True:
        grown = {s for s, rules in GRAMMAR.items() if any(all(x in nullable for x in rhs) for _, rhs in rules)}
        if grown == nullable:
            break
        nullable = grown
    left: dict[str, set[str]] = {}
    for symbol, rules in GRAMMAR.items():
        left[symbol] = set()
        for _, rhs in rules:
            for part in rhs:
                if part in GRAMMAR:
                    left[symbol].add(part)
                if part not in nullable:
                    break
    for symbol in GRAMMAR:
        seen, frontier = set(), set(left[symbol])
        while frontier:
            if symbol in frontier:
                raise AssertionError(f"{symbol} is left-recursive; the recogniser cannot handle that")
            seen |= frontier
            frontier = set().union(*(left[s] for s in frontier)) - seen


_check_grammar()
_PRETERMINALS = frozenset(s for s in GRAMMAR if _is_preterminal(s))
# word -> the preterminals that produce it ("that" is both DET and COMP)
_LEXICON: dict[str, frozenset[str]] = {}
for _symbol in sorted(_PRETERMINALS):
    for _, (_word,) in GRAMMAR[_symbol]:
        _LEXICON[_word] = _LEXICON.get(_word, frozenset()) | {_symbol}
# For sampling: per nonterminal, cumulative probabilities and right-hand sides.
_CHOICES = {s: (np.cumsum([p for p, _ in rules]), [rhs for _, rhs in rules]) for s, rules in GRAMMAR.items()}


def _shortest(symbol: str) -> int:
    """The fewest words any derivation of ``symbol`` has (a fixed point over the rules)."""
    length = {s: float("inf") for s in GRAMMAR}
    changed = True
    while changed:
        changed = False
        for s, rules in GRAMMAR.items():
            best = min(sum(length[x] if x in GRAMMAR else 1 for x in rhs) for _, rhs in rules)
            if best < length[s]:
                length[s], changed = best, True
    return int(length[symbol])


MIN_WORDS = _shortest(START)


# --- sampling --------------------------------------------------------------------------------------
def _sample_once(rng: np.random.Generator, max_words: int) -> list[str] | None:
    """One derivation, left to right; None as soon as it passes max_words (it would be resampled)."""
    words: list[str] = []
    stack = [START]  # symbols still to expand, the next one last
    while stack:
        symbol = stack.pop()
        if symbol not in GRAMMAR:
            words.append(symbol)
            if len(words) > max_words:
                return None
            continue
        cumulative, options = _CHOICES[symbol]
        # rng.random() only: its stream is stable across NumPy versions, so the corpus is reproducible.
        index = min(int(np.searchsorted(cumulative, rng.random() * cumulative[-1], side="right")), len(options) - 1)
        stack.extend(reversed(options[index]))
    return words


def sample_sentence(rng: np.random.Generator, max_words: int = 19) -> list[str]:
    """A sentence drawn from the grammar, resampled until it has at most ``max_words`` words."""
    if max_words < MIN_WORDS:
        raise ConfigError(f"max_words={max_words} is below the grammar's shortest sentence ({MIN_WORDS} words); "
                          f"use max_words >= {MIN_WORDS}.")
    while (words := _sample_once(rng, max_words)) is None:
        pass
    return words


def sample_sentences(n: int, seed: int, max_words: int = 19) -> list[list[str]]:
    """``n`` sentences from one generator seeded with ``seed``: the same arguments, the same list."""
    rng = np.random.default_rng(seed)
    return [sample_sentence(rng, max_words) for _ in range(n)]


# --- recognition -----------------------------------------------------------------------------------
@functools.lru_cache(maxsize=1 << 16)
def _derives(categories: tuple[frozenset[str], ...]) -> bool:
    """Whether START derives a sequence of words with these preterminal sets.

    Top-down with memoised end positions: ``ends(X, i)`` is every j such that X derives words
    i..j-1. Exact for any grammar without left recursion (checked at import); polynomial because each
    (symbol, position) is expanded once. Syntax depends only on the words' categories, so many
    sentences share one cached answer.
    """
    n = len(categories)
    memo: dict[tuple[str, int], frozenset[int]] = {}

    def ends(symbol: str, start: int) -> frozenset[int]:
        if symbol in _PRETERMINALS:
            return frozenset((start + 1,)) if start < n and symbol in categories[start] else frozenset()
        key = (symbol, start)
        found = memo.get(key)
        if found is None:
            result: set[int] = set()
            for _, rhs in GRAMMAR[symbol]:
                positions = {start}
                for part in rhs:
                    positions = set().union(*(ends(part, p) for p in positions))
                    if not positions:
                        break
                result |= positions
            found = memo[key] = frozenset(result)
        return found

    return n in ends(START, 0)


def accepts(words: list[str]) -> bool:
    """True iff the grammar derives exactly this word sequence (any length; an unknown word: False)."""
    categories = []
    for word in words:
        category = _LEXICON.get(word)
        if category is None:
            return False
        categories.append(category)
    return _derives(tuple(categories))


def acceptance_rate(sentences: list[list[str]]) -> float:
    """The fraction of sentences the grammar derives: a generator's exact correctness score."""
    if not sentences:
        raise ConfigError("acceptance_rate needs at least one sentence.")
    return sum(accepts(words) for words in sentences) / len(sentences)


# --- the shipped corpus ----------------------------------------------------------------------------
CORPUS_SIZE, CORPUS_SEED = 10_000, 0


def corpus_path() -> Path:
    """The shipped corpus: ``sample_sentences(10_000, seed=0)``, one sentence per line."""
    return Path(__file__).resolve().parent / "corpus" / "grammar_sentences.txt"


def write_corpus(path: str | Path, n: int = CORPUS_SIZE, seed: int = CORPUS_SEED) -> None:
    Path(path).write_text("".join(" ".join(words) + "\n" for words in sample_sentences(n, seed)), encoding="utf-8")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m rlkit.sequences.grammar", description=__doc__.split("\n")[0])
    parser.add_argument("--write", metavar="PATH", required=True, help="write the corpus to PATH")
    parser.add_argument("--count", type=int, default=CORPUS_SIZE, help=f"sentences (default {CORPUS_SIZE})")
    parser.add_argument("--seed", type=int, default=CORPUS_SEED, help=f"seed (default {CORPUS_SEED})")
    args = parser.parse_args(argv)
    write_corpus(args.write, args.count, args.seed)


if __name__ == "__main__":
    main()
