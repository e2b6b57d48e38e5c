"""The word2vec trainable: skip-gram and CBOW with negative sampling on Python's help text put
related words (list/tuple, int/float, ...) nearer than random pairs; windows, vocabulary,
subsampling and the vector lookups do what they say; bad knobs and unfit data are refused."""

import numpy as np
import pytest
import torch

from sweepforge.trainables import ConfigError, Dataset, get_trainable, load_dataset
from sweepforge.trainables.text_datasets import (
    MAX_WINDOW,
    MIN_COUNT,
    PAD,
    RELATED_WORDS,
    build_vocabulary,
    context_windows,
    tokenize,
)
from sweepforge.trainables.word2vec import (
    Word2Vec,
    Word2VecConfig,
    WordVectors,
    fit_word2vec,
    keep_probabilities,
    train_word2vec,
)
from tests.trainables.cost_metrics import without_costs


@pytest.fixture(scope="module")
def docs():
    return load_dataset("python_docs", seed=0)


@pytest.fixture(scope="module", params=["skipgram", "cbow"])
def trained(request, docs):
    """Default knobs, each model (about 5 s each on one thread), shared by the quality tests."""
    reports = []
    vectors, result = fit_word2vec(Word2VecConfig(model=request.param), docs, reports.append)
    return request.param, vectors, result, reports


def _mean_cosine(vectors, pairs):
    return float(np.mean([vectors.similarity(a, b) for a, b in pairs]))


@pytest.mark.slow
def test_related_words_are_nearer_than_random_pairs(trained):
    model, vectors, result, _ = trained
    related = RELATED_WORDS["python_docs"]
    rng = np.random.default_rng(1)
    random_pairs = [
        (vectors.words[i], vectors.words[j])
        for i, j in rng.integers(0, len(vectors.words), (3000, 2))
        if i != j
    ]
    random_cosines = np.array([vectors.similarity(a, b) for a, b in random_pairs])
    related_mean, random_mean = _mean_cosine(vectors, related), random_cosines.mean()
    print(
        f"{model}: related pairs {related_mean:.3f}, random pairs {random_mean:.3f} "
        f"(sd {random_cosines.std():.3f}), val_similarity_gap {result['val_similarity_gap']:.3f}"
    )
    assert related_mean - random_mean > 0.25  # over two standard deviations of random pairs
    above = [vectors.similarity(a, b) > np.quantile(random_cosines, 0.9) for a, b in related]
    assert np.mean(above) >= 0.75  # most related pairs beat 90% of random pairs
    # The reported gap is the same comparison, on its own fixed random pairs.
    assert result["val_similarity_gap"] == pytest.approx(related_mean - random_mean, abs=0.05)
    assert result["test_similarity_gap"] == result["val_similarity_gap"]


@pytest.mark.slow
def test_held_out_windows_are_predicted_better_than_chance_and_improve(trained):
    _, _, result, reports = trained
    assert [r["epoch"] for r in reports] == [1, 2, 3, 4, 5]
    # A random word is ranked above the true one half the time by an untrained model.
    assert result["val_pair_accuracy"] > 0.62 and result["test_pair_accuracy"] > 0.62
    assert reports[1]["val_loss"] < reports[0]["val_loss"]
    assert reports[-1]["val_similarity_gap"] > reports[0]["val_similarity_gap"] + 0.2


@pytest.mark.slow
def test_most_similar_lists_neighbours_by_falling_cosine(trained):
    _, vectors, _, _ = trained
    neighbours = vectors.most_similar("int", k=10)
    words = [word for word, _ in neighbours]
    scores = [score for _, score in neighbours]
    assert len(words) == 10 and "int" not in words and scores == sorted(scores, reverse=True)
    assert scores[0] == pytest.approx(vectors.similarity("int", words[0]))
    assert "float" in words  # its partner in RELATED_WORDS is a near neighbour


def test_tokens_vocabulary_and_windows():
    assert tokenize("Use __init__, not 2to3; True.") == ["use", "__init__", "not", "to3", "true"]
    assert build_vocabulary([["b", "a", "b", "c"], ["a", "b"]], min_count=2) == ("b", "a")
    rows = context_windows([[1, 2, 3, 4], [5]], window=2)
    # [centre, left 1, right 1, left 2, right 2]; windows stop at the end of a document
    assert rows.tolist() == [
        [1, PAD, 2, PAD, 3],
        [2, 1, 3, PAD, 4],
        [3, 2, 4, 1, PAD],
        [4, 3, PAD, 2, PAD],
        [5, PAD, PAD, PAD, PAD],
    ]


def test_python_docs_rows_are_windows_of_the_vocabulary(docs):
    assert docs.task == "text" and docs.n_features == 1 + 2 * MAX_WINDOW
    ids = np.concatenate([docs.X_train, docs.X_val, docs.X_test])
    assert ids.min() == PAD and ids.max() == len(docs.vocabulary) - 1
    assert (ids == np.round(ids)).all() and (ids[:, 0] >= 0).all()
    counts = np.bincount(ids[:, 0].astype(int))  # each token is the centre of one row
    assert counts.min() >= MIN_COUNT and list(counts) == sorted(counts, reverse=True)
    assert docs.vocabulary[0] == "the" and len(docs.y_train) == docs.n_train
    for a, b in RELATED_WORDS["python_docs"]:
        assert a in docs.vocabulary and b in docs.vocabulary


def test_subsampling_keeps_rare_words_and_thins_frequent_ones():
    keep = keep_probabilities(np.array([100_000, 100, 10, 1]), min_count=2, subsample=1e-3)
    assert keep[3] == 0.0  # below min_count
    assert keep[1] == keep[2] == 1.0 and 0 < keep[0] < 0.05
    assert keep_probabilities(np.array([10_000, 1]), 1, 0.0).tolist() == [1.0, 1.0]


def test_the_model_counts_every_kept_prediction():
    noise = torch.full((6,), 1 / 6)
    rows = torch.tensor([[1.0, 2.0, 3.0, PAD, PAD], [0.0, 4.0, PAD, PAD, PAD]])
    skipgram = Word2Vec(noise, torch.ones(6), dim=3, window=2, negatives=4).eval()
    stats = skipgram(rows)
    assert stats[:, 1].tolist() == [2.0, 1.0]  # (centre, context) pairs present
    # Output vectors at 0 score every word 0: each prediction costs (1 + negatives) log 2.
    torch.nn.init.zeros_(skipgram.output_vectors.weight)
    torch.testing.assert_close(skipgram(rows)[:, 0], torch.tensor([2.0, 1.0]) * 5 * np.log(2))
    cbow = Word2Vec(noise, torch.tensor([1.0, 1, 1, 0, 1, 1]), dim=3, window=2, model="cbow")
    assert cbow.eval()(rows)[:, 1].tolist() == [1.0, 1.0]
    assert cbow(torch.tensor([[3.0, 1.0, 2.0, PAD, PAD]]))[:, 1].tolist() == [0.0]  # centre ignored


def test_same_seed_same_vectors(docs):
    config = Word2VecConfig(epochs=1, embedding_dim=8, model="cbow")
    first, first_metrics = fit_word2vec(config, docs, seed=2)
    second, second_metrics = fit_word2vec(config, docs, seed=2)
    assert without_costs(first_metrics) == without_costs(second_metrics)
    np.testing.assert_array_equal(first.vectors, second.vectors)
    other, _ = fit_word2vec(config, docs, seed=3)
    assert not np.array_equal(first.vectors, other.vectors)


def test_zero_initialisation_learns_nothing(docs):
    """The documented failure case: all-zero vectors get zero gradients."""
    vectors, result = fit_word2vec(Word2VecConfig(epochs=1, init="zeros", embedding_dim=8), docs)
    assert not vectors.vectors.any()
    assert result["val_pair_accuracy"] == 0.0 and result["val_similarity_gap"] == 0.0


def test_min_count_drops_rare_words_from_the_vectors(docs):
    vectors, _ = fit_word2vec(Word2VecConfig(epochs=1, min_count=50, embedding_dim=8), docs)
    assert 0 < len(vectors.words) < len(docs.vocabulary) / 5
    assert "the" in vectors and "nonlocal" not in vectors
    with pytest.raises(KeyError, match=r"word 'nonlocal' is not in the vocabulary"):
        vectors.most_similar("nonlocal")
    with pytest.raises(ConfigError, match=r"min_count=100000 leaves no word") as e:
        fit_word2vec(Word2VecConfig(epochs=1, min_count=100_000), docs)
    assert e.value.field == "min_count"


def test_word_vectors_look_up_words():
    vectors = WordVectors(("up", "down", "left"), np.array([[1, 0], [-1, 0], [1, 1]], "float32"))
    assert vectors.similarity("up", "down") == pytest.approx(-1.0)
    assert vectors.most_similar("up", k=5) == [
        ("left", pytest.approx(0.7071, abs=1e-4)),
        ("down", pytest.approx(-1.0)),
    ]
    assert vectors["left"].tolist() == [1.0, 1.0]
    with pytest.raises(KeyError, match=r"did you mean 'up'"):
        vectors["Up"]


def test_narrow_windows_and_non_text_data_are_refused():
    X = np.array([[0, 1, PAD], [1, 0, PAD]] * 3, dtype=np.float32)
    y = np.zeros(6)
    narrow = Dataset(
        "tiny_text", "text", X[:2], y[:2], X[2:4], y[2:4], X[4:], y[4:], vocabulary=("a", "b")
    )
    spec = get_trainable("word2vec")
    with pytest.raises(ConfigError, match=r"window=3 is too wide.*1 <= window <= 1") as e:
        spec.train({"epochs": 1, "batch_size": 2}, narrow)
    assert e.value.field == "window"
    result = spec.train({"epochs": 1, "window": 1, "min_count": 1, "batch_size": 2}, narrow)
    assert result["epoch"] == 1 and "val_similarity_gap" not in result  # no related pairs
    with pytest.raises(ConfigError, match=r"classification dataset but trainable 'word2vec'"):
        spec.train({"epochs": 1}, load_dataset("iris"))
    unnamed = Dataset("ids", "text", X[:2], y[:2], X[2:4], y[2:4], X[4:], y[4:])
    with pytest.raises(ConfigError, match=r"dataset 'ids' has no vocabulary"):
        train_word2vec(Word2VecConfig(window=1), unnamed)


@pytest.mark.parametrize(
    ("values", "field", "match"),
    [
        (
            {"model": "glove"},
            "model",
            r"model='glove' is not allowed; choose one of: skipgram, cbow",
        ),
        ({"window": 0}, "window", r"window=0 is out of range; it must satisfy 1 <= window <= 5"),
        ({"window": 6}, "window", r"window=6 is out of range"),
        (
            {"negatives": 0},
            "negatives",
            r"negatives=0 is out of range; it must satisfy negatives >= 1",
        ),
        ({"embedding_dim": 0}, "embedding_dim", r"embedding_dim=0 is out of range"),
        ({"min_count": 0}, "min_count", r"min_count=0 is out of range"),
        (
            {"subsample": 1.0},
            "subsample",
            r"subsample=1.0 is out of range; it must satisfy 0 <= subsample < 1",
        ),
        ({"lr": 0}, "lr", r"lr=0.0 is out of range"),
        ({"dim": 8}, "dim", r"unknown field 'dim'"),
    ],
)
def test_bad_knob_values_are_config_errors_naming_the_field(values, field, match):
    with pytest.raises(ConfigError, match=match) as e:
        get_trainable("word2vec").make_config(values)
    assert e.value.field == field
