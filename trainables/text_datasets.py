"""A text corpus that ships with Python, as context windows of token ids for word2vec.

``python_docs`` is the text of Python's interactive help topics (``pydoc_data.topics``, in the
standard library: about 460 KB of English prose and code describing the language). It is
lowercased and split into words (:func:`tokenize`); words seen fewer than :data:`MIN_COUNT`
times are dropped, leaving about 64,000 tokens and a vocabulary of about 1,900 words, ids in
order of falling frequency (id 0 is "the").

Every token of the corpus is one row: the token (the centre) and up to :data:`MAX_WINDOW`
neighbours on each side, nearest first, ``[centre, left 1, right 1, left 2, right 2, ...]``;
so the first ``1 + 2k`` columns are the window of size ``k``. Windows stop at the end of each
help topic; missing neighbours are :data:`PAD` (-1). Ids are ``float32`` like every row of a
:class:`~.datasets.Dataset` (exact below 2**24); ``y`` is unused zeros. The split is by centre
token, so validation rows are held-out (centre, context) occurrences.

Example:
    >>> from sweepforge.trainables import load_dataset
    >>> data = load_dataset("python_docs", seed=0)
    >>> data.task, data.n_features, data.vocabulary[:4]
    ('text', 11, ('the', 'a', 'is', 'of'))
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence

import numpy as np

from .datasets import register_dataset

MAX_WINDOW = 5
"""Neighbours kept on each side of a centre word in a row; a window knob goes up to this."""

MIN_COUNT = 3
"""Words rarer than this in the whole corpus are removed before the windows are cut."""

PAD = -1
"""The id of a missing neighbour (past the start or end of a document)."""

RELATED_WORDS: dict[str, tuple[tuple[str, str], ...]] = {
    "python_docs": (
        ("list", "tuple"),
        ("int", "float"),
        ("true", "false"),
        ("key", "value"),
        ("keys", "values"),
        ("class", "instance"),
        ("try", "except"),
        ("break", "continue"),
        ("if", "else"),
        ("async", "await"),
        ("global", "nonlocal"),
        ("str", "bytes"),
        ("left", "right"),
        ("first", "last"),
        ("start", "stop"),
        ("method", "function"),
        ("argument", "parameter"),
        ("positive", "negative"),
    ),
}
"""Word pairs related in a corpus's domain, chosen before any training, to check that embeddings
put them nearer than random pairs (see :mod:`.word2vec`)."""

_WORD = re.compile(r"[a-z_][a-z0-9_]*")


def tokenize(text: str) -> list[str]:
    """Lowercase ``text`` and return its words: runs of letters, digits and underscores that
    do not start with a digit (so ``__init__`` and ``int`` are words, ``3.14`` is not).

    Example:
        >>> tokenize("Call __init__() with 3 ints, e.g. int(x).")
        ['call', '__init__', 'with', 'ints', 'e', 'g', 'int', 'x']
    """
    return _WORD.findall(text.lower())


def build_vocabulary(documents: Iterable[Sequence[str]], min_count: int) -> tuple[str, ...]:
    """Words seen at least ``min_count`` times, most frequent first (ties alphabetical).

    Example:
        >>> build_vocabulary([["b", "a", "b"], ["c", "a", "b"]], min_count=2)
        ('b', 'a')
    """
    counts = Counter(word for document in documents for word in document)
    kept = [word for word, count in counts.items() if count >= min_count]
    return tuple(sorted(kept, key=lambda word: (-counts[word], word)))


def context_windows(documents: Iterable[Sequence[int]], window: int) -> np.ndarray:
    """One row per token: ``[centre, left 1, right 1, ..., left window, right window]``.

    Neighbours outside the token's document are :data:`PAD`.

    Example:
        >>> context_windows([[7, 8, 9]], window=1).tolist()
        [[7, -1, 8], [8, 7, 9], [9, 8, -1]]
    """
    blocks = []
    for document in documents:
        ids = np.asarray(document, dtype=np.int64)
        if len(ids) == 0:
            continue
        padded = np.concatenate([np.full(window, PAD), ids, np.full(window, PAD)])
        columns = [ids]
        for distance in range(1, window + 1):
            for offset in (-distance, distance):
                columns.append(padded[window + offset : window + offset + len(ids)])
        blocks.append(np.stack(columns, axis=1))
    return np.concatenate(blocks) if blocks else np.empty((0, 1 + 2 * window), dtype=np.int64)


@register_dataset("python_docs", task="text")
def load_python_docs() -> tuple[np.ndarray, np.ndarray, dict]:
    """Context windows over Python's help topics (see the module docstring)."""
    from pydoc_data.topics import topics

    documents = [tokenize(topics[name]) for name in sorted(topics)]
    vocabulary = build_vocabulary(documents, MIN_COUNT)
    index = {word: i for i, word in enumerate(vocabulary)}
    ids = [[index[word] for word in document if word in index] for document in documents]
    X = context_windows(ids, MAX_WINDOW).astype(np.float32)
    return X, np.zeros(len(X), dtype=np.int64), {"vocabulary": vocabulary}
