"""A trial's trained model plus the preprocessing its trainable applied: one module that
predicts from raw inputs.

The output of a campaign is a model, not a config. A checkpoint (the state
:func:`~.checkpoint.capture` saves after every epoch) holds only weights: the architecture lives
in the family's code, and the scaling of inputs and target is recomputed from the training split
on every run, never saved. :func:`predictor_from_state` puts the three back together: it builds
the model with the family's own build function (the one its train function calls), loads the
weights, and recomputes the scaling statistics with the family's own functions on the same
training split. The :class:`Predictor` it returns is a ``torch.nn.Module`` (so a tracking layer
can save it as a PyTorch model) whose outputs on raw rows equal, bit for bit on the CPU, those
the trial's model had on its scaled splits.

Supported: the families whose model predicts one target per row (:data:`SUPPORTED`). The
others are refused with a :class:`~._errors.ConfigError` saying why (:data:`UNSUPPORTED`).

Example:
    >>> from sweepforge.trainables import MemoryCheckpointer, get_trainable, load_dataset
    >>> data, keeper = load_dataset("iris"), MemoryCheckpointer()
    >>> result = get_trainable("mlp").train({}, data, checkpoint=keeper)
    >>> predictor = predictor_from_state("mlp", {}, data, keeper.state)  # labels: data.classes
    >>> predictor.predict(data.X_test[:3]).tolist()  # raw (unscaled) rows in, labels out
    ['setosa', 'versicolor', 'setosa']
    >>> predictor.predict_proba(data.X_test[:3]).sum(axis=1).round(4).tolist()
    [1.0, 1.0, 1.0]
    >>> frame = predictor.raw_frame(data.X_test[:3])  # the same rows as a pandas DataFrame
    >>> predictor.predict(frame).tolist()  # (columns x0..x3: iris keeps no feature names)
    ['setosa', 'versicolor', 'setosa']

Inputs are numeric rows (a categorical column holding its integer codes) or a pandas
``DataFrame`` as a user (or MLflow's pyfunc ``predict``) holds it: columns found by name, a
categorical column holding its original level values (``"Ideal"``); :meth:`Predictor.rows`
converts one and :meth:`Predictor.raw_frame` makes one from rows (e.g. an input example).

Hand-written because nothing else knows these pieces: MLflow's pytorch flavour saves a module
it is handed but cannot build one from a sweepforge config and checkpoint, and no library
knows which statistics a family fitted on which split (they are not in the checkpoint). The
code stays small by reusing each family's build and scaling functions rather than copying them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from ._errors import ConfigError
from ._loop import input_scaler, target_standardization
from ._raw_columns import category_codes, is_frame, numeric_column, rows_of
from ._runtime import resolve_device
from .checkpoint import FORMAT_VERSION, State
from .datasets import Dataset, ImageShape
from .registry import TrainableSpec, get_trainable

__all__ = [
    "SUPPORTED",
    "has_predictor",
    "UNSUPPORTED",
    "Predictor",
    "TargetScaling",
    "predictor_from_state",
]

UNSUPPORTED = {
    "autoencoder": "it learns to reconstruct its inputs, not to predict a target",
    "unet": "it labels every pixel of an image (segmentation), not one target per row",
    "word2vec": "it learns word vectors from text, not a target of a row",
}
"""Bundled families with no predictor, and why."""


@dataclass(frozen=True)
class TargetScaling:
    """How a family stored a regression target: ``(z - offset) / scale``, with ``z = log(y)``
    when ``log`` and ``z = y`` otherwise; :meth:`decode` turns outputs back into ``y``.

    ``double`` decodes in float64 (as ``entity_embedding``'s metrics do); otherwise in float32
    (as the shared loop's ``regression`` objective does), so the values are those the trial's
    metrics were computed from.

    Example:
        >>> TargetScaling(offset=10.0, scale=2.0).decode(torch.tensor([[1.0], [-1.0]])).tolist()
        [12.0, 8.0]
    """

    offset: float
    scale: float
    log: bool = False
    double: bool = False

    def decode(self, outputs: torch.Tensor) -> torch.Tensor:
        """Targets in original units (float64) from model outputs ``(n,)`` or ``(n, 1)``."""
        stored = outputs.reshape(-1)
        if self.double:
            z = stored.double() * self.scale + self.offset
        else:
            z = (stored * self.scale + self.offset).double()
        # Like the family's metrics: a wild prediction stays finite (exp(700) is, exp(710) not).
        return z.clamp(max=700.0).exp() if self.log else z


class Predictor(nn.Module):
    """A trained model with the input preprocessing (and, for a classifier, the labels) of its
    trial: raw rows in, outputs, labels or values out.

    Inputs are scaled per column, ``(x - input_offset) / input_scale`` in float32 (every bundled
    family's scaling has that form: standardization, per-channel pixel scaling, categorical
    code columns left as they are with offset 0 and scale 1). It is always in eval mode (dropout
    off, batch norm on its running statistics; :meth:`train` changes nothing) and computes
    without gradients. Build it with :func:`predictor_from_state`.

    :meth:`forward`, :meth:`predict` and :meth:`predict_proba` take numeric rows (numpy arrays,
    tensors, lists; a categorical column holds its codes ``0..n-1``) or a pandas ``DataFrame``
    of raw values, which :meth:`rows` turns into numeric rows: columns picked by
    ``feature_names``, level values of a categorical column mapped to their codes.
    :meth:`raw_frame` is the inverse (``predict(raw_frame(X))`` equals ``predict(X)``).
    Like training, they refuse (``ValueError``, naming the column and the first rows) a
    missing (NaN) or infinite value of a feature, and a categorical column's missing value or
    a code it does not have: there is no prediction of a row the model cannot read.

    Attributes:
        model: the family's model, trained weights loaded.
        trainable: the family's registry name, e.g. ``"mlp"``.
        task: ``"classification"`` or ``"regression"``.
        n_features: columns of a raw row; image families also take ``(n, *image_shape)``.
        classes: the original label of each class index, or ``None`` (labels are ``0..k-1``).
        target: how a regression target was scaled; ``None`` for a classifier.
        feature_names, image_shape, categories, levels: as in the training
            :class:`~.datasets.Dataset` (``categories`` maps a column holding codes ``0..n-1``
            to ``n``; ``levels`` maps a categorical column to its level values, ``levels[j][c]``
            being the value coded ``c``; empty when the dataset kept none).
    """

    def __init__(
        self,
        model: nn.Module,
        *,
        trainable: str,
        task: str,
        input_offset: np.ndarray,
        input_scale: np.ndarray,
        target: TargetScaling | None = None,
        classes: Sequence[Any] | None = None,
        feature_names: Sequence[str] | None = None,
        image_shape: ImageShape | None = None,
        categories: Mapping[int, int] | None = None,
        levels: Mapping[int, Sequence[Any]] | None = None,
    ) -> None:
        super().__init__()
        if task not in ("classification", "regression"):
            raise ValueError(f"task={task!r} must be 'classification' or 'regression'")
        if (task == "regression") != (target is not None):
            raise ValueError("a regression predictor needs a target scaling, a classifier none")
        offset = torch.as_tensor(np.asarray(input_offset, dtype=np.float32)).clone()
        scale = torch.as_tensor(np.asarray(input_scale, dtype=np.float32)).clone()
        if offset.ndim != 1 or offset.shape != scale.shape:
            raise ValueError(
                f"input_offset and input_scale must be 1-D of one length, got shapes "
                f"{tuple(offset.shape)} and {tuple(scale.shape)}"
            )
        self.model = model
        self.trainable = trainable
        self.task = task
        self.target = target
        self.classes = tuple(classes) if classes is not None else None
        self.n_features = int(offset.shape[0])
        self.feature_names = tuple(feature_names) if feature_names is not None else None
        self.image_shape = tuple(image_shape) if image_shape is not None else None
        self.categories = dict(categories or {})
        self.levels = {int(column): tuple(values) for column, values in (levels or {}).items()}
        for column, values in self.levels.items():
            if len(values) != self.categories.get(column, -1):
                raise ValueError(
                    f"levels[{column}] must list the {self.categories.get(column, 0)} level "
                    f"values of categorical column {column} (categories has "
                    f"{sorted(self.categories)}), got {len(values)}"
                )
        self.register_buffer("input_offset", offset)
        self.register_buffer("input_scale", scale)
        columns = sorted(self.categories)
        self.register_buffer("code_columns", torch.tensor(columns, dtype=torch.long), False)
        levels = [float(self.categories[c]) for c in columns]
        self.register_buffer("code_levels", torch.tensor(levels, dtype=torch.float32), False)
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> Predictor:
        """Stay in eval mode whatever ``mode`` says: a predictor is never trained."""
        return super().train(False)

    def forward(self, raw_X: Any) -> torch.Tensor:
        """The model's outputs for raw rows ``(n, n_features)`` (or images ``(n, C, H, W)``):
        logits ``(n, k)`` of a classifier, the scaled target of a regressor. A pandas
        ``DataFrame`` of raw values is read with :meth:`rows`.

        Raises:
            ValueError: rows of the wrong shape, a missing (NaN) or infinite feature value, a
                categorical column's missing value or unknown code (the message names the
                column and its first rows), or a frame :meth:`rows` refuses.
        """
        if not isinstance(raw_X, torch.Tensor) and is_frame(raw_X):
            raw_X = torch.from_numpy(self.rows(raw_X))
        x = self._rows(torch.as_tensor(raw_X))
        with torch.no_grad():
            return self.model((x - self.input_offset) / self.input_scale)

    def predict(self, raw_X: Any) -> np.ndarray:
        """Labels of raw rows (original values when ``classes`` is known, else ``0..k-1``), or
        a regressor's values in the target's original units (float64). Refuses what
        :meth:`forward` refuses (``ValueError``)."""
        outputs = self(self._tensor(raw_X))
        if self.target is not None:
            return self.target.decode(outputs).cpu().numpy()
        index = outputs.argmax(dim=1).cpu().numpy()
        return index if self.classes is None else np.asarray(self.classes)[index]

    def predict_proba(self, raw_X: Any) -> np.ndarray:
        """Class probabilities ``(n, k)`` of raw rows (float32, softmax of the logits); column
        ``i`` is class ``i``, i.e. ``classes[i]``."""
        if self.task != "classification":
            raise ValueError(
                f"predict_proba needs a classifier; this {self.trainable!r} predictor is a "
                "regressor: use predict"
            )
        return torch.softmax(self(self._tensor(raw_X)), dim=1).cpu().numpy()

    def rows(self, raw: Any) -> np.ndarray:
        """The numeric rows ``(n, n_features)`` (float32) that the model takes, from a pandas
        ``DataFrame`` of raw values; numpy arrays, tensors and lists come back as float32 numpy
        arrays unchanged (their categorical columns already hold codes).

        A frame's columns are picked by ``feature_names``, in any order; other columns are
        ignored. A predictor without ``feature_names`` takes a frame's columns by position
        (it must have ``n_features`` of them). A categorical column with known ``levels``
        holds level values (``"Ideal"``), mapped to their codes; one without holds its codes,
        as in numeric rows. Every other column must be numeric (numbers, or strings of
        numbers); a missing value of a numeric column stays NaN here, as in numeric rows
        (predicting refuses it). Rows are counted from 0 in the frame's order in error messages.

        Raises:
            ValueError: a missing column, a level value not seen in training or a missing
                value in a categorical column, a non-numeric value in a numeric column.

        Example:
            >>> import pandas as pd
            >>> predictor = Predictor(
            ...     nn.Linear(2, 2), trainable="entity_embedding", task="classification",
            ...     input_offset=np.zeros(2), input_scale=np.ones(2),
            ...     feature_names=("colour", "size"), categories={0: 2},
            ...     levels={0: ("blue", "red")})
            >>> frame = pd.DataFrame({"size": [1.5, 2.0], "colour": ["red", "blue"],
            ...                       "note": ["ignored", "too"]})
            >>> predictor.rows(frame).tolist()
            [[1.0, 1.5], [0.0, 2.0]]
            >>> predictor.raw_frame([[1, 1.5], [0, 2.0]])
              colour  size
            0    red   1.5
            1   blue   2.0
            >>> predictor.rows(frame.assign(colour=["red", "green"]))
            Traceback (most recent call last):
            ...
            ValueError: categorical column 'colour' holds a level never seen in training: 'green' (row 1); its levels: 'blue', 'red'
        """
        if not is_frame(raw):
            if isinstance(raw, torch.Tensor):
                return raw.detach().to(device="cpu", dtype=torch.float32).numpy()
            return np.ascontiguousarray(raw, dtype=np.float32)
        columns = self._frame_columns(raw)
        X = np.empty((len(raw), self.n_features), dtype=np.float32)
        for j, series in enumerate(columns):
            name = self.feature_names[j] if self.feature_names else f"x{j}"
            if j in self.levels:
                X[:, j] = category_codes(series, name, self.levels[j])
            else:
                X[:, j] = numeric_column(series, name, self.categories.get(j))
        return X

    def raw_frame(self, X: Any) -> Any:
        """A pandas ``DataFrame`` of numeric rows ``(n, n_features)`` (a categorical column
        holding codes), as a user holds the data: columns named by ``feature_names`` (``x0``,
        ``x1``, ... when there are none), a categorical column with known ``levels`` holding
        its level values (object dtype), one without holding its codes (int64), the others
        float64. The inverse of :meth:`rows`: ``predict(raw_frame(X))`` equals ``predict(X)``
        exactly. Made for input examples and signatures of a logged model.

        Raises:
            ValueError: an image predictor (give it arrays), rows of the wrong shape, or a
                categorical column holding something other than a code ``0..n-1``.
        """
        import pandas as pd

        if self.image_shape is not None:
            raise ValueError(
                f"raw_frame makes tables, but the {self.trainable!r} predictor takes images "
                f"{self.image_shape}: pass it arrays of shape (n, {self.n_features}) or "
                f"(n, *{self.image_shape})"
            )
        x = self._rows(self._tensor(X)).cpu()
        names = self.feature_names or tuple(f"x{j}" for j in range(self.n_features))
        columns: dict[str, Any] = {}
        for j, name in enumerate(names):
            if j in self.levels:
                values = np.empty(len(self.levels[j]), dtype=object)
                values[:] = self.levels[j]
                columns[name] = pd.Series(values[x[:, j].long().numpy()], dtype=object)
            elif j in self.categories:
                columns[name] = pd.Series(x[:, j].long().numpy())
            else:
                columns[name] = pd.Series(x[:, j].double().numpy())
        return pd.DataFrame(columns)

    def extra_repr(self) -> str:
        shown = f"trainable={self.trainable!r}, task={self.task!r}, n_features={self.n_features}"
        return shown + (f", classes={self.classes!r}" if self.classes is not None else "")

    def _tensor(self, raw_X: Any) -> torch.Tensor:
        if isinstance(raw_X, torch.Tensor):
            return raw_X
        return torch.from_numpy(self.rows(raw_X))

    def _frame_columns(self, frame: Any) -> list[Any]:
        """The feature columns of a frame, as pandas Series in feature order."""
        if self.feature_names is None:
            if frame.shape[1] != self.n_features:
                raise ValueError(
                    f"the {self.trainable!r} predictor keeps no feature names, so it takes a "
                    f"DataFrame's columns by position: it needs {self.n_features} columns, got "
                    f"{frame.shape[1]}"
                )
            return [frame.iloc[:, j] for j in range(self.n_features)]
        present = list(frame.columns)
        missing = [name for name in self.feature_names if name not in present]
        if missing:
            raise ValueError(
                f"the DataFrame lacks column{'s' if len(missing) > 1 else ''} "
                f"{', '.join(map(repr, missing))} of the {self.trainable!r} predictor; it takes "
                f"columns {', '.join(map(repr, self.feature_names))} (in any order; other "
                "columns are ignored)"
            )
        twice = [name for name in self.feature_names if present.count(name) > 1]
        if twice:
            raise ValueError(
                f"the DataFrame has more than one column named {', '.join(map(repr, twice))}"
            )
        return [frame[name] for name in self.feature_names]

    def _rows(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim > 2 and self.image_shape is not None:
            shape, images = tuple(x.shape[1:]), self.image_shape
            if shape == images or (images[0] == 1 and shape == images[1:]):
                x = x.reshape(len(x), -1)
        if x.ndim != 2 or x.shape[1] != self.n_features:
            images = f" or images {self.image_shape}" if self.image_shape is not None else ""
            raise ValueError(
                f"the {self.trainable!r} predictor takes rows of {self.n_features} raw features"
                f"{images}, got an input of shape {tuple(x.shape)}"
            )
        x = x.to(device=self.input_offset.device, dtype=torch.float32)
        self._check_finite(x)
        if len(self.code_columns):
            self._check_codes(x[:, self.code_columns])
        return x

    def _check_finite(self, x: torch.Tensor) -> None:
        # Training refuses missing and infinite features (tables._check_finite_features); a NaN
        # here would come out as a NaN value or the argmax of NaNs, a made-up label.
        bad = ~torch.isfinite(x)
        if len(self.code_columns):
            bad[:, self.code_columns] = False  # _check_codes names a categorical's bad codes
        if not bool(bad.any()):
            return
        columns = [int(j) for j in bad.any(dim=0).nonzero().flatten()]
        j, rows = columns[0], bad[:, columns[0]].cpu().numpy()
        nan = bool(torch.isnan(x[:, j]).any())
        what = ("missing (NaN/empty) or infinite" if nan and bool(torch.isinf(x[:, j]).any())
                else "missing (NaN/empty)" if nan else "infinite")
        others = [self._feature(k) for k in columns[1:4]]
        also = (f" ({', '.join(others)}{', ...' if len(columns) > 4 else ''} too)"
                if others else "")
        kind = "" if self.image_shape is not None and not self.feature_names else "numeric "
        raise ValueError(
            f"{kind}{self._feature(j)} is {what} at {rows_of(rows)}; every numeric feature "
            f"needs a finite value: fill or drop these rows{also}"
        )

    def _feature(self, j: int) -> str:
        """How an error names feature ``j``: its column name, its pixel, or its position."""
        if self.feature_names:
            return f"column {self.feature_names[j]!r}"
        if self.image_shape is not None:
            pixel = tuple(int(i) for i in np.unravel_index(j, self.image_shape))
            return (f"pixel {pixel} of the {self.image_shape} images (feature {j} of a "
                    "flattened row)")
        return f"column {j}"

    def _check_codes(self, codes: torch.Tensor) -> None:
        bad = (codes != codes.round()) | (codes < 0) | (codes >= self.code_levels)
        missing = torch.isnan(codes)
        if bool(missing.any()):
            j = int(missing.any(dim=0).nonzero()[0])
            column = int(self.code_columns[j])
            name = self.feature_names[column] if self.feature_names else f"column {column}"
            raise ValueError(
                f"categorical {name!r} is missing (NaN/None) at "
                f"{rows_of(missing[:, j].cpu().numpy())}; it must hold a code "
                f"0..{self.categories[column] - 1}: fill or drop these rows"
            )
        if bool(bad.any()):
            row, j = (int(i) for i in bad.nonzero()[0])
            column = int(self.code_columns[j])
            name = self.feature_names[column] if self.feature_names else f"column {column}"
            raise ValueError(
                f"categorical {name!r} must hold a code 0..{self.categories[column] - 1}, but "
                f"row {row} holds {float(codes[row, j])!r}"
            )


def has_predictor(trainable: str) -> str | None:
    """``None`` when :func:`predictor_from_state` rebuilds ``trainable``'s models, else why not.

    Example:
        >>> has_predictor("mlp") is None
        True
        >>> has_predictor("unet")  # doctest: +ELLIPSIS
        "trainable 'unet' has no predictor: it labels every pixel of an image (segmentation), ..."
    """
    if trainable in _RECIPES:
        spec = get_trainable(trainable)  # (a user may register another model under the name)
        if spec.train_fn.__module__.startswith(f"{__package__}."):
            return None
    reason = UNSUPPORTED.get(trainable, "it is not a family bundled with sweepforge")
    return (f"trainable {trainable!r} has no predictor: {reason}; predictors exist for the "
            f"families that predict a target per row: {', '.join(SUPPORTED)}")


def predictor_from_state(
    trainable: str,
    config: Any,
    data: Dataset,
    state: State,
    *,
    classes: Sequence[Any] | None = None,
    device: str | torch.device = "cpu",
) -> Predictor:
    """Rebuild a trial's trained model, with its preprocessing, as a :class:`Predictor`.

    Args:
        trainable: the family's registry name, one of :data:`SUPPORTED`.
        config: the trial's config: the family's config dataclass or a mapping of overrides
            (read by ``get_trainable(trainable).make_config``).
        data: the campaign's data, split as in the trial: scaling statistics are recomputed
            from its training split exactly as training computed them.
        state: a checkpoint state of that trial (:func:`~.checkpoint.capture`; ``state["model"]``
            holds the weights), e.g. ``MemoryCheckpointer.state`` or
            :func:`~.checkpoint.load_state_file` of a ``DirectoryCheckpointer``'s file.
        classes: for a classifier, the original label of each class index (``classes[i]`` is
            what label ``i`` of ``data`` stands for); by default ``data.classes``, the labels
            the :class:`~.datasets.Dataset` kept (a table's or loader's label values, iris'
            species names), or ``0..k-1`` when it kept none. Given, they win over
            ``data.classes``.
        device: where the predictor computes; the CPU by default.

    Raises:
        ConfigError: an unknown or unsupported trainable, a bad config, a config that does not
            fit ``data``, or ``classes`` of the wrong length (or given to a regressor).
        ValueError: ``state`` is not a checkpoint state, or its weights do not fit the model
            that ``config`` describes.

    The caller's torch RNG state is left as it was.
    """
    spec = get_trainable(trainable)
    refused = has_predictor(trainable)
    if refused is not None:
        raise ConfigError(refused, field="trainable")
    recipe = _RECIPES[trainable]
    config = _checked_config(spec, config, data)
    weights = _weights(state, trainable)
    task = data.task
    if classes is None:
        classes = data.classes  # None for a regressor, or labels that are their codes
    elif task != "classification":
        raise ConfigError(
            f"classes are the labels of a classifier, but dataset {data.name!r} has a "
            f"{task} target",
            field="classes",
        )
    elif isinstance(classes, (str, bytes)) or len(classes) != data.n_classes:
        raise ConfigError(
            f"classes={classes!r} must list the original label of each of the "
            f"{data.n_classes} classes of dataset {data.name!r}, in label order",
            field="classes",
        )
    with torch.random.fork_rng(devices=[]):  # building draws initial weights: keep the caller's
        model, offset, scale, target = recipe(config, data)
    try:
        model.load_state_dict(weights)
    except RuntimeError as err:
        raise ValueError(
            f"the checkpoint's weights do not fit the {trainable!r} model that this config builds "
            f"for dataset {data.name!r} (was the state saved by this trainable, with this config "
            f"and data?): {err}"
        ) from None
    predictor = Predictor(
        model,
        trainable=trainable,
        task=task,
        input_offset=offset,
        input_scale=scale,
        target=target,
        classes=classes,
        feature_names=data.feature_names,
        image_shape=data.image_shape,
        categories=data.categories,
        levels=data.levels,
    )
    return predictor.to(resolve_device(device))


def _checked_config(spec: TrainableSpec, config: Any, data: Dataset) -> Any:
    # As TrainableSpec.train reads a config: a mapping of overrides or the config dataclass.
    if isinstance(config, Mapping):
        return spec.make_config(config, data)
    if isinstance(config, spec.config_cls):
        spec.check_data(config, data)
        return config
    raise TypeError(
        f"config must be a {spec.config_cls.__name__} or a mapping, got {type(config).__name__}"
    )


def _weights(state: Any, trainable: str) -> Mapping[str, torch.Tensor]:
    if (
        not isinstance(state, Mapping)
        or state.get("format") != FORMAT_VERSION
        or not isinstance(state.get("model"), Mapping)
    ):
        found = sorted(state) if isinstance(state, Mapping) else type(state).__name__
        raise ValueError(
            f"state must be a checkpoint state of a {trainable!r} trial (format {FORMAT_VERSION}, "
            f"weights in state['model'], as capture() makes it); got {found}"
        )
    return state["model"]


# --- what each family trained: its model, input scaling and target scaling ------------------
#
# Each recipe calls the family's own build function (the one its train function calls) and the
# functions that compute its scaling statistics from the training split; a family module is
# imported only when its recipe runs. The column-wise (offset, scale) reproduce the family's
# scaling exactly: the same float32 subtraction and division of the same values.

_Recipe = tuple[nn.Module, np.ndarray, np.ndarray, TargetScaling | None]


def _standardized(data: Dataset) -> tuple[np.ndarray, np.ndarray]:
    # TensorSplits.from_dataset(scaling="standard"), as those families train
    scaler = input_scaler(data, "standard")
    return scaler.offset_, scaler.scale_


def _standard_target(data: Dataset) -> TargetScaling:
    # TensorSplits.from_dataset(target_scaling="standard"), decoded as regression() does
    return TargetScaling(*target_standardization(data))


def _mlp(config: Any, data: Dataset) -> _Recipe:
    from .mlp import build_mlp

    return build_mlp(config, data.n_features, data.n_classes), *_standardized(data), None


def _mlp_regressor(config: Any, data: Dataset) -> _Recipe:
    from .mlp import build_mlp

    return build_mlp(config, data.n_features, 1), *_standardized(data), _standard_target(data)


def _logistic_regression(config: Any, data: Dataset) -> _Recipe:
    from .linear_regression import build_linear_model

    model = build_linear_model(config, data.n_features, data.n_classes)
    return model, *_standardized(data), None


def _linear_regression(config: Any, data: Dataset) -> _Recipe:
    from .linear_regression import build_linear_model

    model = build_linear_model(config, data.n_features, 1)
    return model, *_standardized(data), _standard_target(data)


def _image_classifier(build: Callable[[Any, ImageShape, int], nn.Module]) -> Callable[..., _Recipe]:
    def recipe(config: Any, data: Dataset) -> _Recipe:
        from ._images import pixel_scaling

        assert data.image_shape is not None  # the spec's data check requires images
        model = build(config, data.image_shape, data.n_classes)
        return model, *pixel_scaling(data, data.image_shape), None

    return recipe


def _cnn(config: Any, data: Dataset) -> _Recipe:
    from .cnn import build_cnn

    return _image_classifier(build_cnn)(config, data)


def _resnet(config: Any, data: Dataset) -> _Recipe:
    from .resnet import build_resnet

    return _image_classifier(build_resnet)(config, data)


def _rnn(config: Any, data: Dataset) -> _Recipe:
    from .rnn import build_rnn, sequence_scalers
    from .sequence_datasets import sequence_shape

    shape = sequence_shape(data)
    features, target = sequence_scalers(data, shape)
    # Rows are step-major (row[t * F + f]): feature f's statistics repeat once per step.
    offset, scale = np.tile(features.offset_, shape[0]), np.tile(features.scale_, shape[0])
    if target is None:
        return build_rnn(config, shape, data.n_classes), offset, scale, None
    scaling = TargetScaling(float(target.offset_[0]), float(target.scale_[0]))
    return build_rnn(config, shape, 1), offset, scale, scaling


def _entity_embedding(config: Any, data: Dataset) -> _Recipe:
    from .entity_embedding import build_entity_embedding, table_scaling

    numeric, scaler, target_offset, target_scale = table_scaling(data, log_target=config.log_target)
    offset = np.zeros(data.n_features, dtype=np.float32)  # code columns pass unchanged
    scale = np.ones(data.n_features, dtype=np.float32)
    if scaler is not None:
        offset[numeric], scale[numeric] = scaler.offset_, scaler.scale_
    if data.task != "regression":
        return build_entity_embedding(config, data, data.n_classes), offset, scale, None
    target = TargetScaling(target_offset, target_scale, log=config.log_target, double=True)
    return build_entity_embedding(config, data, 1), offset, scale, target


_RECIPES: dict[str, Callable[[Any, Dataset], _Recipe]] = {
    "cnn": _cnn,
    "entity_embedding": _entity_embedding,
    "linear_regression": _linear_regression,
    "logistic_regression": _logistic_regression,
    "mlp": _mlp,
    "mlp_regressor": _mlp_regressor,
    "resnet": _resnet,
    "rnn": _rnn,
}

SUPPORTED = tuple(_RECIPES)
"""The bundled families :func:`predictor_from_state` rebuilds: each predicts a target per row."""
