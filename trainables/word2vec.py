"""The ``word2vec`` trainable: skip-gram or CBOW word embeddings trained by negative sampling.

Each word ``w`` has an input vector ``v_w`` (the embedding) and an output vector ``u_w``.
Skip-gram predicts each context word ``o`` of a centre word ``c``; CBOW predicts the centre
from ``h``, the mean input vector of its context. Instead of a softmax over the vocabulary,
negative sampling scores the true word against ``negatives`` noise words ``n_j`` drawn from
the training unigram distribution raised to 3/4 (Mikolov et al., 2013):

    loss = -log σ(u_o · v_c) - Σ_j log σ(-u_{n_j} · v_c)       (CBOW: u_c and h instead)

Rows are context windows of token ids (see :mod:`.text_datasets`), so the shared training loop
of ``_loop.py`` runs it: the model turns a batch of windows into per-row loss sums and counts.
Reports hold ``val_loss`` (the loss above on held-out windows, with fixed noise words),
``val_pair_accuracy`` (how often the true word scores above a random noise word) and, when the
dataset has a list of related words (:data:`~.text_datasets.RELATED_WORDS`),
``val_similarity_gap``: the mean cosine similarity of those pairs minus that of random pairs.
It uses no split, so ``test_similarity_gap`` is the same number. The last report adds the
cost metrics of :mod:`.costs`: ``n_params`` (both tables of vectors), ``latency_ms`` (scoring
one batch of validation windows) and ``train_s``.

:func:`fit_word2vec` returns the trained :class:`WordVectors` too; :func:`train_word2vec` (the
registered trainable) returns the metrics only.

Example:
    >>> from sweepforge.trainables import load_dataset
    >>> vectors, metrics = fit_word2vec(Word2VecConfig(epochs=1), load_dataset("python_docs"))
    >>> metrics["epoch"], len(vectors.most_similar("tuple", k=3))
    (1, 3)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ._errors import ConfigError, did_you_mean
from ._fields import check_choice, check_range, coerce_instance
from ._loop import Objective, TensorSplits, check_seed, resolve_device, train_model
from .checkpoint import Checkpointer
from .components import INITIALIZERS, check_optimizer_args, weight_initializer
from .datasets import Dataset
from .registry import Report, register_trainable
from .text_datasets import MAX_WINDOW, PAD, RELATED_WORDS

MODELS = ("skipgram", "cbow")
NOISE_POWER = 0.75
EVAL_NOISE_SEED = 0  # validation and test draw the same noise words every epoch
N_RANDOM_PAIRS = 2000


@dataclass(frozen=True)
class Word2VecConfig:
    """The searchable knobs of word2vec; each field is one search-space parameter.

    Values are coerced and checked on construction like :class:`MLPConfig`.

    Example:
        >>> Word2VecConfig(model="cbow", embedding_dim="32").embedding_dim
        32
        >>> Word2VecConfig(window=9)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        sweepforge.trainables.ConfigError: window=9 is out of range; it must satisfy 1 <= window <= 5
    """

    lr: float = 1e-2  # learning rate, > 0 (searched on a log scale)
    batch_size: int = 256  # context windows (centre words) per mini-batch, >= 1
    optimizer: str = "adam"  # one of OPTIMIZERS
    momentum: float = 0.9  # beta of "momentum"/"nesterov", 0 <= m < 1; ignored by the others
    weight_decay: float = 0.0  # L2 penalty (decoupled for adamw), >= 0
    init: str = "xavier_uniform"  # input-vector initializer (output vectors start at 0)
    model: str = "skipgram"  # "skipgram" (word -> context) or "cbow" (context -> word)
    embedding_dim: int = 64  # N, the length of each word vector, >= 1
    window: int = 3  # k, context words on each side of the centre, 1..5
    negatives: int = 5  # noise words per prediction, >= 1
    min_count: int = 5  # words seen fewer times in the training split are ignored, >= 1
    subsample: float = 1e-3  # t: keep a word of frequency f w.p. sqrt(t/f) + t/f; 0 = off
    epochs: int = 5  # passes over the training split, >= 1

    def __post_init__(self) -> None:
        coerce_instance(self)
        check_range("lr", self.lr, low=0, low_open=True)
        check_range("batch_size", self.batch_size, low=1)
        check_range("momentum", self.momentum, low=0, high=1, high_open=True)
        check_range("weight_decay", self.weight_decay, low=0)
        check_choice("init", self.init, INITIALIZERS)
        check_choice("model", self.model, MODELS)
        check_range("embedding_dim", self.embedding_dim, low=1)
        check_range("window", self.window, low=1, high=MAX_WINDOW)
        check_range("negatives", self.negatives, low=1)
        check_range("min_count", self.min_count, low=1)
        check_range("subsample", self.subsample, low=0, high=1, high_open=True)
        check_range("epochs", self.epochs, low=1)
        check_optimizer_args(self.optimizer, self.lr, self.weight_decay, self.momentum)


class Word2Vec(nn.Module):
    """Input and output vectors of every word, scored by negative sampling.

    ``forward(rows)`` takes context windows ``(n, 1 + 2 * MAX_WINDOW)`` (centre first, then
    neighbours nearest first, :data:`PAD` where there is none) and returns ``(n, 3)`` per-row
    sums: the loss of the row's predictions, their number, and how many of them scored the
    true word above a noise word. A word takes part with probability ``keep[word]`` while
    training (0 ignores it; see :func:`keep_probabilities`) and whenever ``keep[word] > 0`` in
    eval mode. Noise words follow ``noise`` (probabilities over the vocabulary): from torch's
    global RNG while training, from a fixed seed in eval mode, so validation is comparable
    between epochs.

    Example:
        >>> noise = torch.full((10,), 0.1)
        >>> model = Word2Vec(noise, torch.ones(10), dim=4, window=2)
        >>> model(torch.tensor([[1.0, 2.0, 3.0, 4.0, -1.0]])).shape
        torch.Size([1, 3])
    """

    def __init__(
        self,
        noise: torch.Tensor,
        keep: torch.Tensor,
        *,
        dim: int = 64,
        model: str = "skipgram",
        window: int = 3,
        negatives: int = 5,
    ) -> None:
        super().__init__()
        check_choice("model", model, MODELS)
        self.model, self.window, self.negatives = model, window, negatives
        self.input_vectors = nn.Embedding(len(noise), dim)
        self.output_vectors = nn.Embedding(len(noise), dim)
        self.register_buffer("noise", noise.float(), persistent=False)
        self.register_buffer("keep", keep.float(), persistent=False)

    def forward(self, rows: torch.Tensor) -> torch.Tensor:
        """Return ``(n, 3)``: per row the summed loss, the number of predictions and of wins."""
        ids = rows[:, : 1 + 2 * self.window].long()
        kept = self._kept(ids)
        ids = ids.clamp(min=0)
        if self.model == "skipgram":
            return self._skipgram(ids[:, 0], ids[:, 1:], kept[:, 0], kept[:, 1:])
        return self._cbow(ids[:, 0], ids[:, 1:], kept[:, 0], kept[:, 1:])

    def _kept(self, ids: torch.Tensor) -> torch.Tensor:
        keep = torch.where(ids == PAD, 0.0, self.keep[ids.clamp(min=0)])
        if self.training:
            return torch.rand(ids.shape, device=ids.device) < keep
        return keep > 0

    def _noise_words(self, shape: tuple[int, ...]) -> torch.Tensor:
        generator = None
        if not self.training:
            generator = torch.Generator(self.noise.device).manual_seed(EVAL_NOISE_SEED)
        drawn = torch.multinomial(
            self.noise, math.prod(shape), replacement=True, generator=generator
        )
        return drawn.view(shape)

    def _skipgram(
        self,
        centre: torch.Tensor,
        context: torch.Tensor,
        centre_kept: torch.Tensor,
        context_kept: torch.Tensor,
    ) -> torch.Tensor:
        v = self.input_vectors(centre)  # (n, N)
        positive = torch.einsum("npd,nd->np", self.output_vectors(context), v)
        # Eval shares one set of noise words among a row's pairs: the same expected loss, and
        # a whole split fits in memory at once.
        shape = (len(centre), context.shape[1] if self.training else 1, self.negatives)
        negative = torch.einsum("npkd,nd->npk", self.output_vectors(self._noise_words(shape)), v)
        return _row_sums(positive, negative, centre_kept[:, None] & context_kept)

    def _cbow(
        self,
        centre: torch.Tensor,
        context: torch.Tensor,
        centre_kept: torch.Tensor,
        context_kept: torch.Tensor,
    ) -> torch.Tensor:
        n_context = context_kept.sum(dim=1, keepdim=True)
        vectors = self.input_vectors(context) * context_kept[..., None]
        h = vectors.sum(dim=1) / n_context.clamp(min=1)  # (n, N): mean of the kept context
        positive = (self.output_vectors(centre) * h).sum(dim=1)
        noise = self.output_vectors(self._noise_words((len(centre), self.negatives)))
        negative = torch.einsum("nkd,nd->nk", noise, h)
        return _row_sums(positive, negative, centre_kept & (n_context[:, 0] > 0))


def _row_sums(positive: torch.Tensor, negative: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``positive`` (n, ...) true-word scores, ``negative`` (n, ..., K) noise scores, ``mask``
    which predictions count -> ``(n, 3)`` per-row loss sum, count and wins."""
    loss = -F.logsigmoid(positive) - F.logsigmoid(-negative).sum(dim=-1)
    wins = positive > negative[..., 0]
    loss = torch.where(mask, loss, 0.0).reshape(len(mask), -1)
    count = mask.float().reshape(len(mask), -1)
    wins = (wins & mask).float().reshape(len(mask), -1)
    return torch.stack([loss.sum(dim=1), count.sum(dim=1), wins.sum(dim=1)], dim=1)


def word2vec_objective(similarity_gap: Callable[[], float] | None = None) -> Objective:
    """The objective of :class:`Word2Vec`'s per-row sums: the mean loss per prediction, and
    ``pair_accuracy``; plus ``similarity_gap()`` when given.

    Example:
        >>> stats = torch.tensor([[3.0, 2.0, 2.0], [1.0, 2.0, 0.0]])
        >>> word2vec_objective().metrics(stats, torch.zeros(2))
        {'loss': 1.0, 'pair_accuracy': 0.5}
    """

    def loss(stats: torch.Tensor, _targets: torch.Tensor) -> torch.Tensor:
        return stats[:, 0].sum() / stats[:, 1].sum().clamp(min=1)

    def metrics(stats: torch.Tensor, _targets: torch.Tensor) -> dict[str, float]:
        total, count, wins = stats.sum(dim=0).tolist()
        result = {"loss": total / max(count, 1.0), "pair_accuracy": wins / max(count, 1.0)}
        if similarity_gap is not None:
            result["similarity_gap"] = similarity_gap()
        return result

    names = ("loss", "pair_accuracy") + (("similarity_gap",) if similarity_gap else ())
    return Objective(names, loss, metrics)


@dataclass(frozen=True, eq=False)
class WordVectors:
    """Trained word vectors (the input vectors), looked up by word.

    Example:
        >>> vectors = WordVectors(("up", "down", "left"), np.eye(3, dtype=np.float32))
        >>> vectors.most_similar("up", k=1), vectors["down"].tolist()
        ([('down', 0.0)], [0.0, 1.0, 0.0])
    """

    words: tuple[str, ...]
    vectors: np.ndarray  # (len(words), N)

    def __post_init__(self) -> None:
        if self.vectors.ndim != 2 or len(self.vectors) != len(self.words):
            raise ValueError(
                f"vectors must be ({len(self.words)}, N) for {len(self.words)} words, "
                f"got {self.vectors.shape}"
            )
        object.__setattr__(self, "_index", {word: i for i, word in enumerate(self.words)})
        norms = np.linalg.norm(self.vectors, axis=1, keepdims=True)
        object.__setattr__(self, "_unit", self.vectors / np.where(norms > 0, norms, 1.0))

    def __contains__(self, word: object) -> bool:
        return word in self._index

    def __getitem__(self, word: str) -> np.ndarray:
        return self.vectors[self._row(word)]

    def similarity(self, first: str, second: str) -> float:
        """Cosine similarity of two words' vectors."""
        return float(self._unit[self._row(first)] @ self._unit[self._row(second)])

    def most_similar(self, word: str, k: int = 10) -> list[tuple[str, float]]:
        """The ``k`` words with the highest cosine similarity to ``word`` (itself excluded)."""
        row = self._row(word)
        scores = self._unit @ self._unit[row]
        scores[row] = -np.inf
        best = np.argsort(-scores, kind="stable")[: max(0, min(k, len(self.words) - 1))]
        return [(self.words[i], float(scores[i])) for i in best]

    def _row(self, word: str) -> int:
        if word not in self._index:
            raise KeyError(
                f"word {word!r} is not in the vocabulary ({len(self.words)} words)"
                f"{did_you_mean(word, self.words)}"
            )
        return self._index[word]


def keep_probabilities(counts: np.ndarray, min_count: int, subsample: float) -> np.ndarray:
    """Per word, the probability an occurrence takes part in training: 0 below ``min_count``,
    else ``min(1, sqrt(t / f) + t / f)`` for a word of frequency ``f`` (word2vec's subsampling
    of frequent words, ``t = subsample``; 1 when ``subsample`` is 0).

    Example:
        >>> keep_probabilities(np.array([90, 8, 2]), min_count=5, subsample=0.01).round(3).tolist()
        [0.115, 0.473, 0.0]
    """
    active = counts >= min_count
    keep = active.astype(np.float64)
    if subsample > 0 and active.any():
        ratio = subsample / (counts / counts[active].sum()).clip(min=1e-12)
        keep = np.where(active, np.minimum(1.0, np.sqrt(ratio) + ratio), 0.0)
    return keep


def check_word2vec_data(config: Word2VecConfig, data: Dataset) -> None:
    """Raise :class:`ConfigError` unless ``data`` holds context windows wide enough for
    ``config.window`` and names its tokens."""
    if data.vocabulary is None:
        raise ConfigError(
            f"dataset {data.name!r} has no vocabulary, but word2vec needs token ids; "
            "choose one of: python_docs",
            field="dataset",
        )
    widest = (data.n_features - 1) // 2
    if config.window > widest:
        raise ConfigError(
            f"window={config.window} is too wide for dataset {data.name!r}, whose rows hold "
            f"{widest} neighbours on each side; it must satisfy 1 <= window <= {widest}",
            field="window",
        )


@register_trainable(
    "word2vec",
    config_cls=Word2VecConfig,
    metrics=word2vec_objective(lambda: 0.0).report_names(),
    datasets=("python_docs",),
    task="text",
    data_check=check_word2vec_data,
)
def train_word2vec(
    config: Word2VecConfig,
    data: Dataset,
    report: Report | None = None,
    *,
    device: str | torch.device = "cpu",
    seed: int = 0,
    checkpoint: Checkpointer | None = None,
) -> dict[str, float]:
    """Train word vectors on a text dataset and return the final metrics (see
    :func:`fit_word2vec`, which also returns the vectors).

    Example:
        >>> from sweepforge.trainables import load_dataset
        >>> train_word2vec(Word2VecConfig(epochs=1), load_dataset("python_docs"))["epoch"]
        1
    """
    return fit_word2vec(config, data, report, device=device, seed=seed, checkpoint=checkpoint)[1]


def fit_word2vec(
    config: Word2VecConfig,
    data: Dataset,
    report: Report | None = None,
    *,
    device: str | torch.device = "cpu",
    seed: int = 0,
    checkpoint: Checkpointer | None = None,
) -> tuple[WordVectors, dict[str, float]]:
    """Train word2vec on ``data``; return the vectors of the words it trained, and the metrics.

    Word counts, the noise distribution and subsampling come from the training split's centre
    words (every token is the centre of one row). Noise words and subsampling draw from torch's
    global RNG inside the seeded block, so a seed gives the same vectors and a checkpoint
    resumes exactly. Reports and divergence behave as for :func:`train_mlp`.

    Raises:
        ConfigError: ``data`` is not a dataset of context windows wide enough for ``window``,
            or ``min_count`` leaves no word.

    Example:
        >>> from sweepforge.trainables import load_dataset
        >>> vectors, _ = fit_word2vec(Word2VecConfig(epochs=1), load_dataset("python_docs"))
        >>> "class" in vectors, vectors["class"].shape
        (True, (64,))
    """
    torch_device = resolve_device(device)
    check_seed(seed)
    check_word2vec_data(config, data)
    vocabulary = data.vocabulary
    centres = data.X_train[:, 0].astype(np.int64)
    counts = np.bincount(centres[centres != PAD], minlength=len(vocabulary))
    keep = keep_probabilities(counts, config.min_count, config.subsample)
    active = keep > 0
    if not active.any():
        raise ConfigError(
            f"min_count={config.min_count} leaves no word of dataset {data.name!r}; the most "
            f"frequent is seen {counts.max()} times in the training split",
            field="min_count",
        )
    noise = np.where(active, counts.astype(np.float64) ** NOISE_POWER, 0.0)
    splits = TensorSplits(
        *(
            torch.from_numpy(getattr(data, f"{kind}_{part}")).to(torch_device)
            for part in ("train", "val", "test")
            for kind in ("X", "y")
        )
    )
    built: list[Word2Vec] = []

    def build() -> Word2Vec:
        model = Word2Vec(
            torch.from_numpy(noise / noise.sum()),
            torch.from_numpy(keep),
            dim=config.embedding_dim,
            model=config.model,
            window=config.window,
            negatives=config.negatives,
        )
        weight_initializer(config.init)(model.input_vectors.weight)
        nn.init.zeros_(model.output_vectors.weight)  # as in word2vec; learning starts from v
        built.append(model)
        return model

    gap = _similarity_gap(RELATED_WORDS.get(data.name, ()), vocabulary, active, built)
    metrics = train_model(
        build,
        config,
        splits,
        word2vec_objective(gap),
        device=torch_device,
        seed=seed,
        report=report,
        checkpoint=checkpoint,
    )
    weights = built[-1].input_vectors.weight.detach().cpu().numpy()
    words = tuple(word for word, kept in zip(vocabulary, active) if kept)
    return WordVectors(words, weights[active].copy()), metrics


def _similarity_gap(
    related: tuple[tuple[str, str], ...],
    vocabulary: tuple[str, ...],
    active: np.ndarray,
    built: list[Word2Vec],
) -> Callable[[], float] | None:
    """``gap()``: mean cosine of the ``related`` pairs whose words are trained, minus that of
    :data:`N_RANDOM_PAIRS` fixed random pairs of trained words; ``None`` without such pairs."""
    index = {word: i for i, word in enumerate(vocabulary)}
    pairs = [
        (index[a], index[b])
        for a, b in related
        if a in index and b in index and active[index[a]] and active[index[b]]
    ]
    candidates = np.flatnonzero(active)
    if not pairs or len(candidates) < 2:
        return None
    rng = np.random.default_rng(0)
    random_pairs = rng.choice(candidates, size=(N_RANDOM_PAIRS, 2))
    random_pairs = random_pairs[random_pairs[:, 0] != random_pairs[:, 1]]
    related_ids, random_ids = torch.tensor(pairs), torch.from_numpy(random_pairs)

    def mean_cosine(unit: torch.Tensor, ids: torch.Tensor) -> float:
        ids = ids.to(unit.device)
        return float((unit[ids[:, 0]] * unit[ids[:, 1]]).sum(dim=1).mean())

    def gap() -> float:
        unit = F.normalize(built[-1].input_vectors.weight.detach(), dim=1)
        return mean_cosine(unit, related_ids) - mean_cosine(unit, random_ids)

    return gap
