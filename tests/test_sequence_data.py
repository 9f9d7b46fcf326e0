"""The SeqGAN data side: token and text files, vocabularies, the toy grammar and its corpus, BLEU."""
from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest

from rlkit.errors import SequenceDataError
from rlkit.sequences import grammar
from rlkit.sequences.bleu import BleuReference, bleu, self_bleu
from rlkit.sequences.data import EOS, PAD, TokenDataset, Vocabulary


# --- token files ---------------------------------------------------------------------------------
def test_token_file_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    data = TokenDataset.from_array(rng.integers(0, 50, size=(37, 12)), vocab_size=50)
    path = tmp_path / "real_data.txt"
    data.write_token_file(path)
    again = TokenDataset.from_token_file(path, seq_len=12, vocab_size=50)
    assert again.sequences.dtype == np.int64 and np.array_equal(again.sequences, data.sequences)
    assert len(again) == 37 and again.seq_len == 12 and again.vocab is None
    assert path.read_text().splitlines()[0] == " ".join(map(str, data.sequences[0]))


def test_short_lines_are_padded_with_zero_and_blank_lines_skipped(tmp_path):
    path = tmp_path / "tokens.txt"
    path.write_text("3 4 5 6\n\n  7 8\t9 \n\n")
    data = TokenDataset.from_token_file(path, seq_len=4, vocab_size=10)
    assert data.sequences.tolist() == [[3, 4, 5, 6], [7, 8, 9, 0]]


@pytest.mark.parametrize("text, vocab_size, needles", [
    ("", 10, ["no sequences", "empty"]),
    ("\n  \n", 10, ["no sequences"]),
    ("1 2 3\n4 x5 6\n", 10, ["line 2", "'x5'", "not an integer"]),
    ("1 2 3\n4 2.0 6\n", 10, ["line 2", "'2.0'"]),
    ("1 2 3\n4 12 6\n7 15\n", 10, ["line 2", "12", "vocab_size", "at least max_id+1 = 16"]),
    ("1 2 3\n\n4 -1 6\n", 10, ["line 3", "negative", "-1"]),
    ("1 2 3\n1 2 3 4 5\n", 10, ["line 2", "5 tokens", "seq_len=4", "raise seq_len or cut"]),
])
def test_bad_token_files_say_where_and_what_to_do(tmp_path, text, vocab_size, needles):
    path = tmp_path / "tokens.txt"
    path.write_text(text)
    with pytest.raises(SequenceDataError) as caught:
        TokenDataset.from_token_file(path, seq_len=4, vocab_size=vocab_size)
    message = str(caught.value)
    assert str(path) in message
    for needle in needles:
        assert needle in message


def test_missing_file_is_a_sequence_data_error(tmp_path):
    with pytest.raises(SequenceDataError, match="no such file"):
        TokenDataset.from_token_file(tmp_path / "nope.txt", seq_len=4, vocab_size=10)
    with pytest.raises(SequenceDataError, match="no such file"):
        TokenDataset.from_text_file(tmp_path / "nope.txt", seq_len=4)


def test_from_array_validates():
    with pytest.raises(SequenceDataError, match="integer"):
        TokenDataset.from_array(np.zeros((2, 3), dtype=np.float32), vocab_size=5)
    with pytest.raises(SequenceDataError, match="2-D"):
        TokenDataset.from_array(np.zeros(3, dtype=np.int64), vocab_size=5)
    with pytest.raises(SequenceDataError, match="at least max_id\\+1 = 8"):
        TokenDataset.from_array(np.array([[1, 7]]), vocab_size=5)
    with pytest.raises(SequenceDataError, match="negative"):
        TokenDataset.from_array(np.array([[1, -2]]), vocab_size=5)
    data = TokenDataset.from_array(np.array([[1, 4]], dtype=np.int8), vocab_size=5)
    assert data.sequences.dtype == np.int64


# --- text files and vocabularies -----------------------------------------------------------------
def test_vocabulary_is_deterministic_and_round_trips():
    sentences = [["the", "dog", "runs"], ["a", "cat", "runs"], ["the", "cat", "sleeps"]]
    vocab = Vocabulary.build(sentences)
    # by descending frequency, ties alphabetically; the order of the lines does not matter
    assert vocab.tokens == [PAD, EOS, "cat", "runs", "the", "a", "dog", "sleeps"]
    assert Vocabulary.build(sentences[::-1]).tokens == vocab.tokens
    ids = vocab.encode(["the", "dog", "runs"], seq_len=6)
    assert ids.dtype == np.int64 and ids.tolist() == [4, 6, 3, 1, 0, 0]
    assert vocab.decode(ids) == "the dog runs"
    assert vocab.decode([4, 0, 6]) == "the"  # stops at PAD too
    assert Vocabulary.from_json(vocab.to_json()) == vocab
    assert len(vocab) == 8


def test_vocabulary_errors():
    vocab = Vocabulary.build([["a", "b"]])
    with pytest.raises(SequenceDataError, match="'zebra'.*not in the vocabulary"):
        vocab.encode(["a", "zebra"], seq_len=5)
    with pytest.raises(SequenceDataError, match="needs seq_len >= 4.*raise seq_len or shorten"):
        vocab.encode(["a", "b", "a"], seq_len=3)
    vocab.encode(["a", "b"], seq_len=3)  # words + EOS exactly fill seq_len
    with pytest.raises(SequenceDataError, match="first two tokens"):
        Vocabulary(["a", PAD, EOS])
    with pytest.raises(SequenceDataError, match="more than once"):
        Vocabulary([PAD, EOS, "a", "a"])
    with pytest.raises(SequenceDataError, match="not a saved vocabulary"):
        Vocabulary.from_json("{broken")


def test_text_file_reads_and_reuses_a_vocabulary(tmp_path):
    train, held = tmp_path / "train.txt", tmp_path / "held.txt"
    train.write_text("the dog runs\n\nThe cat sleeps\n")
    held.write_text("the cat runs\n")
    data = TokenDataset.from_text_file(train, seq_len=5)
    assert data.sequences.shape == (2, 5) and data.vocab_size == len(data.vocab)
    assert [data.vocab.decode(row) for row in data.sequences] == ["the dog runs", "The cat sleeps"]  # case kept
    other = TokenDataset.from_text_file(held, seq_len=5, vocab=data.vocab)
    assert other.vocab is data.vocab and data.vocab.decode(other.sequences[0]) == "the cat runs"


@pytest.mark.parametrize("text, vocab_words, needles", [
    ("\n \n", None, ["no words"]),
    ("a b\na b c d e\n", None, ["line 2", "5 words", "seq_len >= 6", "raise seq_len or shorten"]),
    ("a b\n\na zebra\n", ["a", "b"], ["line 3", "'zebra'"]),
])
def test_bad_text_files_say_where_and_what_to_do(tmp_path, text, vocab_words, needles):
    path = tmp_path / "text.txt"
    path.write_text(text)
    vocab = Vocabulary([PAD, EOS, *vocab_words]) if vocab_words else None
    with pytest.raises(SequenceDataError) as caught:
        TokenDataset.from_text_file(path, seq_len=5, vocab=vocab)
    assert str(path) in str(caught.value)
    for needle in needles:
        assert needle in str(caught.value)


# --- split and batches ---------------------------------------------------------------------------
def _numbered(rows: int) -> TokenDataset:
    """Row i starts with id i, so rows can be told apart after shuffling."""
    return TokenDataset.from_array(np.arange(rows)[:, None] + np.zeros((1, 3), dtype=np.int64), vocab_size=rows)


def test_split_sizes_disjoint_and_seeded():
    data = _numbered(100)
    train, held = data.split(0.2, seed=3)
    assert (len(train), len(held)) == (80, 20)
    assert sorted(train.sequences[:, 0].tolist() + held.sequences[:, 0].tolist()) == list(range(100))
    again, held_again = data.split(0.2, seed=3)
    assert np.array_equal(held.sequences, held_again.sequences) and np.array_equal(train.sequences, again.sequences)
    assert not np.array_equal(held.sequences, data.split(0.2, seed=4)[1].sequences)
    with pytest.raises(SequenceDataError, match="no held-out"):
        _numbered(3).split(0.1, seed=0)


def test_batches_cover_every_row_once():
    data = _numbered(23)
    batches = list(data.batches(5, np.random.default_rng(0)))
    assert [len(b) for b in batches] == [5, 5, 5, 5, 3]
    assert all(b.dtype == np.int64 and b.shape[1] == 3 for b in batches)
    assert sorted(np.concatenate(batches)[:, 0].tolist()) == list(range(23))


# --- the grammar and its corpus ------------------------------------------------------------------
def test_grammar_rules_are_probabilities_over_lower_case_words():
    for symbol, rules in grammar.GRAMMAR.items():
        assert math.isclose(sum(p for p, _ in rules), 1.0)
        for _, rhs in rules:
            assert all(part in grammar.GRAMMAR or part.islower() for part in rhs)


def test_sampled_sentences_fit_and_are_accepted():
    sentences = grammar.sample_sentences(2000, seed=1)
    assert all(2 <= len(s) <= 19 for s in sentences)
    assert grammar.acceptance_rate(sentences) == 1.0
    assert sentences == grammar.sample_sentences(2000, seed=1)
    assert all(len(s) <= 8 for s in grammar.sample_sentences(300, seed=2, max_words=8))


@pytest.mark.parametrize("sentence", [
    "dog the sees a cat",              # determiner after its noun
    "the dog a cat sees",              # verb after its object
    "the dog sees the",                # truncated: no noun after the determiner
    "the dog sees",                    # truncated: a transitive verb without object
    "the dog",                         # no verb phrase
    "the dog sees the unicorn",        # unknown word
    "the dog runs the cat",            # an intransitive verb with an object
    "alice says that dog runs",        # a clause with a bare noun
    "",
])
def test_ungrammatical_sentences_are_rejected(sentence):
    assert not grammar.accepts(sentence.split())


@pytest.mark.parametrize("sentence", [
    "the dog sees a cat", "alice runs", "who sleeps", "bob says that that dog runs",
    "the big red dog with a hat chases the cat near the river quickly",
])
def test_hand_made_grammatical_sentences_are_accepted(sentence):
    assert grammar.accepts(sentence.split())


def test_shipped_corpus_is_the_grammar_sample():
    lines = grammar.corpus_path().read_text().splitlines()
    sentences = grammar.sample_sentences(10_000, seed=0)
    assert lines == [" ".join(s) for s in sentences]  # cannot drift from the grammar
    assert grammar.acceptance_rate([line.split() for line in lines]) == 1.0
    data = TokenDataset.from_text_file(grammar.corpus_path(), seq_len=20)
    assert data.sequences.shape == (10_000, 20)


# --- BLEU ----------------------------------------------------------------------------------------
def _naive_bleu(hypothesis, references, order):
    """An independent, slow BLEU-order with method1 smoothing: loops over every reference."""
    log_sum = 0.0
    for k in range(1, order + 1):
        grams = Counter(tuple(hypothesis[i:i + k]) for i in range(len(hypothesis) - k + 1))
        matched = 0
        for gram, count in grams.items():
            best = 0
            for ref in references:
                best = max(best, sum(tuple(ref[i:i + k]) == gram for i in range(len(ref) - k + 1)))
            matched += min(count, best)
        if k == 1 and matched == 0:
            return 0.0
        log_sum += math.log((matched or 0.1) / max(1, len(hypothesis) - k + 1)) / order
    lengths = sorted(len(ref) for ref in references)
    closest = min(lengths, key=lambda n: (abs(n - len(hypothesis)), n))
    brevity = 1.0 if len(hypothesis) > closest else math.exp(1 - closest / len(hypothesis))
    return brevity * math.exp(log_sum)


def test_bleu_closed_form_examples():
    ref = BleuReference([["a", "b", "x", "d"]])
    assert ref.sentence_bleu(["a", "b", "x", "d"], 4) == pytest.approx(1.0)
    # p1 = 3/4, p2 = 1/3, no trigram (2) or 4-gram (1) matches: method1 gives 0.1/2 and 0.1/1
    assert ref.sentence_bleu(["a", "b", "c", "d"], 4) == pytest.approx((3 / 4 * 1 / 3 * 0.05 * 0.1) ** 0.25)
    assert ref.sentence_bleu(["q", "r"], 2) == 0.0  # no unigram in common
    # brevity: every n-gram matches, c = 2, r = 4
    assert bleu([["a", "b"]], [["a", "b", "c", "d"]], 2) == pytest.approx(math.exp(1 - 4 / 2))
    # a length tie (3 and 5 around 4) goes to the shorter reference, so no brevity penalty
    assert bleu([["a", "b", "c", "d"]], [["a", "b", "c"], ["a", "b", "c", "d", "e"]], 2) == pytest.approx(1.0)
    # clipping by the reference that has "the" most often (2 of 4 count)
    assert bleu([["the"] * 4], [["the", "cat"], ["the", "the", "dog"]], 1) == pytest.approx(0.5)
    # ids work as tokens, numpy arrays too
    assert bleu([np.array([1, 2, 3])], [[1, 2, 3], [4, 5]], 3) == pytest.approx(1.0)


def test_bleu_matches_a_naive_implementation():
    rng = np.random.default_rng(0)
    references = [rng.integers(0, 6, size=rng.integers(1, 9)).tolist() for _ in range(30)]
    hypotheses = [rng.integers(0, 6, size=rng.integers(0, 9)).tolist() for _ in range(40)]
    index = BleuReference(references, max_order=4)
    for order in (1, 2, 3, 4):
        for hypothesis in hypotheses:
            assert index.sentence_bleu(hypothesis, order) == pytest.approx(_naive_bleu(hypothesis, references, order))
        expected = np.mean([_naive_bleu(h, references, order) for h in hypotheses])
        assert index.corpus_mean(hypotheses, order) == pytest.approx(expected)


def test_self_bleu():
    same = [["the", "dog", "runs", "fast"]] * 5
    assert self_bleu(same, 3) == pytest.approx(1.0)
    diverse = grammar.sample_sentences(200, seed=3)
    score = self_bleu(diverse, 3)
    assert 0.0 < score < 0.9
    # each against all the others, never itself
    few = diverse[:40]
    expected = np.mean([_naive_bleu(s, few[:i] + few[i + 1:], 3) for i, s in enumerate(few)])
    assert self_bleu(few, 3) == pytest.approx(expected)
    # a unique sentence among copies of another scores low; the copies still score 1
    mixed = [["a", "b", "c"]] * 3 + [["x", "y", "z"]]
    assert self_bleu(mixed, 2) == pytest.approx(3 / 4)
    assert self_bleu(diverse, 3, max_sentences=50, seed=1) == self_bleu(diverse, 3, max_sentences=50, seed=1)
    with pytest.raises(SequenceDataError, match="two sentences"):
        self_bleu([["a"]], 2)
