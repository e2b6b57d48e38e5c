"""The user's own code and data, without Ray: function references (``./my_model.py:train``,
``pkg.module:train``), the train function contract (``function_trainable``) and what a loader
may return (``dataset_from_loader``)."""

from __future__ import annotations

import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from sweepforge.trainables import ConfigError, Dataset
from sweepforge.trainables.checkpoint import (
    CHECKPOINT_FILE,
    DirectoryCheckpointer,
    MemoryCheckpointer,
    load_state_file,
)
from sweepforge.trainables.user_code import (
    CodeFolder,
    FunctionRef,
    code_folder,
    is_function_ref,
    ref_of_callable,
)
from sweepforge.trainables.user_data import dataset_from_loader
from sweepforge.trainables.user_function import (
    FunctionTrainableSpec,
    function_trainable,
    trainable_for,
)


@pytest.fixture
def user_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A folder for the user's files; the modules imported from it and the folders put on
    ``sys.path`` are forgotten afterwards."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    before = set(sys.modules)

    def write(name: str, code: str, folder: Path = tmp_path) -> Path:
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(code))
        return path

    yield write
    for name in set(sys.modules) - before:
        if str(getattr(sys.modules[name], "__file__", "")).startswith(str(tmp_path)):
            del sys.modules[name]


# --- FunctionRef.parse -------------------------------------------------------------------------

def test_a_file_reference_is_relative_to_the_campaign_folder(user_dir, tmp_path):
    user_dir("models/uc_relative.py", "def train(config, data): return 1.0\n")
    ref = FunctionRef.parse("./models/uc_relative.py:train", base_dir=tmp_path)
    assert (ref.module, ref.function, ref.root) == ("uc_relative", "train", str(tmp_path / "models"))
    assert ref.name == "uc_relative:train"
    absolute = ref.as_text()
    assert absolute == f"{tmp_path / 'models' / 'uc_relative.py'}:train"
    # the absolute text is what a resume reads back, from any folder
    assert FunctionRef.parse(absolute, base_dir="/somewhere/else") == ref


def test_a_module_reference_is_kept_as_written():
    ref = FunctionRef.parse("my_package.models:Trainer.fit", base_dir="/ignored")
    assert (ref.module, ref.function, ref.root) == ("my_package.models", "Trainer.fit", None)
    assert ref.as_text() == ref.name == "my_package.models:Trainer.fit"
    assert is_function_ref("my_package.models:train") and not is_function_ref("mlp")


def test_a_missing_file_is_named_absolute(tmp_path):
    with pytest.raises(ConfigError, match="does not exist") as err:
        FunctionRef.parse("./nope.py:train", base_dir=tmp_path, field="dataset.loader")
    assert str(err.value).startswith("dataset.loader: ")
    assert str(tmp_path / "nope.py") in str(err.value) and "./nope.py:train" in str(err.value)
    assert err.value.field == "dataset.loader"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("train", "is not a function reference"),  # no colon: a bundled name, not a reference
        ("my_model.py:", "is not a function reference"),
        (":train", "is not a function reference"),
        ("my_model:not-a-name", "is not a function reference"),
        ("a:b:c", "'a:b' in 'a:b:c' is not a module name"),
        ("1pkg.models:train", "is not a module name"),
    ],
)
def test_a_text_of_neither_form_is_refused(text, message):
    with pytest.raises(ConfigError, match=message) as err:
        FunctionRef.parse(text)
    assert str(err.value).startswith("trainable: ") and err.value.field == "trainable"


@pytest.mark.parametrize("name", ["notes.txt", "my-model.py"])
def test_a_file_that_cannot_be_a_module_is_refused(user_dir, tmp_path, name):
    user_dir(name, "def train(config, data): return 1.0\n")
    with pytest.raises(ConfigError, match="must be a Python file whose name is a valid module"):
        FunctionRef.parse(f"./{name}:train", base_dir=tmp_path)


# --- FunctionRef.load --------------------------------------------------------------------------

def test_a_file_is_imported_with_its_folder_first_on_sys_path(user_dir, tmp_path):
    user_dir("uc_helpers_a.py", "OFFSET = 0.25\n")
    user_dir("uc_with_sibling.py", """
        from uc_helpers_a import OFFSET

        def train(config, data):
            return OFFSET
    """)
    train = FunctionRef.parse("uc_with_sibling.py:train", base_dir=tmp_path).load()
    assert train({}, None) == 0.25 and sys.path[0] == str(tmp_path)


def test_a_module_that_raises_at_import_shows_its_traceback(user_dir, tmp_path):
    user_dir("uc_broken.py", """
        import math

        def helper():
            raise RuntimeError("the user's module is broken: " + str(math.pi))

        helper()
    """)
    with pytest.raises(ConfigError) as err:
        FunctionRef.parse("./uc_broken.py:train", base_dir=tmp_path).load(field="dataset.loader")
    text = str(err.value)
    assert text.startswith("dataset.loader: importing 'uc_broken' failed:")
    assert "Traceback (most recent call last)" in text
    assert "RuntimeError: the user's module is broken: 3.14" in text
    assert str(tmp_path / "uc_broken.py") in text and "in helper" in text  # the user's frames


def test_no_such_function_lists_the_module_s_own_functions(user_dir, tmp_path):
    user_dir("uc_funcs.py", """
        from os.path import join  # imported: not the module's own

        def fit(config, data): ...
        def evaluate(model): ...
        def _private(): ...
        class Model: ...
        SIZE = 3
    """)
    with pytest.raises(ConfigError) as err:
        FunctionRef.parse("uc_funcs.py:train", base_dir=tmp_path).load()
    assert str(err.value) == ("trainable: module 'uc_funcs' has no function 'train'; its "
                              "functions: Model, evaluate, fit")


def test_a_name_that_is_not_callable_is_refused(user_dir, tmp_path):
    user_dir("uc_value.py", "train = 3\n")
    with pytest.raises(ConfigError, match="trainable: uc_value:train is a int, not a function"):
        FunctionRef.parse("uc_value.py:train", base_dir=tmp_path).load()


def test_an_attribute_path_reaches_a_method(user_dir, tmp_path):
    user_dir("uc_nested.py", """
        class Trainer:
            @staticmethod
            def fit(config, data):
                return 0.5
    """)
    assert FunctionRef.parse("uc_nested.py:Trainer.fit", base_dir=tmp_path).load()({}, None) == 0.5


@pytest.mark.parametrize("module", ["uc_no_such_module", "uc_no_such_package.models"])
def test_a_module_that_is_not_installed_is_named(module):
    with pytest.raises(ConfigError) as err:
        FunctionRef.parse(f"{module}:train").load()
    assert str(err.value).startswith(f"trainable: no module named {module!r}")
    assert "Traceback" not in str(err.value)


def test_a_missing_import_inside_the_user_s_module_shows_the_traceback(user_dir, tmp_path):
    user_dir("uc_imports_missing.py", "import uc_not_installed_anywhere\n")
    with pytest.raises(ConfigError) as err:
        FunctionRef.parse("uc_imports_missing.py:train", base_dir=tmp_path).load()
    assert "importing 'uc_imports_missing' failed" in str(err.value)
    assert "No module named 'uc_not_installed_anywhere'" in str(err.value)


def test_two_files_of_the_same_name_in_two_folders_each_load_their_own(user_dir, tmp_path):
    """A second campaign (a notebook, a reused Ray worker) naming another folder's my_model.py
    runs that file, not the module of that name imported first."""
    user_dir("uc_same.py", "def train(config, data): return 1.0\n", tmp_path / "a")
    user_dir("uc_same.py", "def train(config, data): return 2.0\n", tmp_path / "b")
    first = FunctionRef.parse(f"{tmp_path / 'a' / 'uc_same.py'}:train").load()
    second = FunctionRef.parse(f"{tmp_path / 'b' / 'uc_same.py'}:train").load()
    again = FunctionRef.parse(f"{tmp_path / 'a' / 'uc_same.py'}:train").load()
    assert (first({}, None), second({}, None), again({}, None)) == (1.0, 2.0, 1.0)


def test_a_file_named_like_a_module_already_imported_is_refused(user_dir, tmp_path):
    """``./json.py:train`` cannot be imported as ``json`` (the standard library's is): say so,
    rather than look for ``train`` in the wrong module."""
    user_dir("json.py", "def train(config, data): return 1.0\n")
    with pytest.raises(ConfigError) as err:
        FunctionRef.parse("./json.py:train", base_dir=tmp_path).load()
    text = str(err.value)
    assert text.startswith("trainable: ") and str(tmp_path / "json.py") in text
    assert "already imported" in text and "rename" in text
    assert sys.modules["json"].__file__ != str(tmp_path / "json.py")  # the standard one kept


def test_a_function_given_from_python_is_named_by_its_module():
    from tests.search import own_model_functions

    ref = ref_of_callable(own_model_functions.score_by_x)
    assert ref.name == "tests.search.own_model_functions:score_by_x"
    assert ref.root == str(Path(__file__).resolve().parents[2])  # where `tests` is imported from
    assert ref.as_text() == ref.name and FunctionRef.parse(ref.as_text()).load() is \
        own_model_functions.score_by_x


def test_a_lambda_or_a_nested_function_has_no_importable_name():
    def nested(config, data):
        return 1.0

    for fn in (lambda config, data: 1.0, nested):
        with pytest.raises(ConfigError, match="has no importable name") as err:
            ref_of_callable(fn)
        assert err.value.field == "trainable"


# --- function_trainable: the train function contract -------------------------------------------

def _spec(fn, metric="val_score", knobs=("lr", "hidden")):
    return function_trainable(fn, name=f"test:{fn.__name__}", metric=metric, knobs=knobs)


@pytest.mark.parametrize(
    ("fn", "shown"),
    [
        (lambda data, config: None, "(data, config)"),
        (lambda config: None, "(config)"),
        (lambda cfg, data: None, "(cfg, data)"),
        (lambda: None, "(no parameters)"),
    ],
)
def test_a_function_without_config_first_is_refused_naming_its_signature(fn, shown):
    with pytest.raises(ConfigError) as err:
        function_trainable(fn, name="mine:train", metric="val_score")
    assert str(err.value).startswith(f"trainable: mine:train takes {shown}; a train function "
                                     "takes (config, data")
    assert err.value.field == "trainable"


def test_a_function_of_config_and_data_gets_nothing_else():
    seen = []

    def train(config, data):  # a report=, device= or seed= would raise TypeError here
        seen.append((config, data))
        return {"val_score": 0.5}

    spec = _spec(train)
    assert spec.train(spec.make_config({"lr": 0.1}), "the data", report=print, device="cpu",
                      seed=3) == {"val_score": 0.5}
    assert seen == [({"lr": 0.1}, "the data")]  # a plain dict: the knobs given, no None
    assert not spec.supports_checkpoint and not spec.takes_dataclass


def test_a_function_with_kwargs_gets_every_argument():
    got = {}

    def train(config, data, **kwargs):
        got.update(kwargs)
        return 1.0

    spec = _spec(train)
    assert spec.supports_checkpoint
    reports = []
    spec.train(spec.make_config({}), None, report=reports.append, device="cpu", seed=7,
               checkpoint=MemoryCheckpointer())
    assert set(got) == {"report", "device", "seed", "checkpoint"}
    assert (got["device"], got["seed"], got["checkpoint"].load()) == ("cpu", 7, None)
    got["report"]({"val_score": 0.5})
    assert reports == [{"val_score": 0.5}]


def test_only_the_keyword_arguments_a_function_names_are_passed():
    got = {}

    def train(config, data, report=None, *, seed=0):
        got.update(report=report, seed=seed)
        return 1.0

    spec = _spec(train)
    reports = []
    spec.train(spec.make_config({}), None, report=reports.append, device="cuda", seed=5)
    assert set(got) == {"report", "seed"} and got["seed"] == 5 and not spec.supports_checkpoint
    got["report"]({"val_score": 0.5})
    assert reports == [{"val_score": 0.5}]


def test_a_report_without_the_campaign_metric_is_refused_naming_what_it_held():
    def train(config, data, report):
        report({"epoch": 1, "val_score": 0.5})
        report({"epoch": 2, "val_acc": 0.5, "loss": 1.0})

    spec, reports = _spec(train), []
    with pytest.raises(ValueError) as err:
        spec.train(spec.make_config({}), None, reports.append)
    assert str(err.value).startswith("metric 'val_score' is not in a report of test:train; it "
                                     "reported: epoch, val_acc, loss")
    assert reports == [{"epoch": 1, "val_score": 0.5}]  # the bad one never reached the campaign


@pytest.mark.parametrize("value", [0.75, 3, np.float64(0.75), np.float32(0.75), torch.tensor(0.75)])
def test_a_single_number_is_the_campaign_metric(value):
    spec = _spec(lambda config, data: value, metric="val_accuracy")
    assert spec.train(spec.make_config({}), None) == {"val_accuracy": float(value)}
    assert {"epoch", "val_accuracy", "test_accuracy"} == spec.metrics  # the test twin too


@pytest.mark.parametrize(("value", "expected"), [({"val_score": 0.5, "test_score": 0.4},
                                                  {"val_score": 0.5, "test_score": 0.4}),
                                                 (None, {})])
def test_a_dict_or_nothing_is_returned_as_the_final_metrics(value, expected):
    spec = _spec(lambda config, data: value)
    assert spec.train(spec.make_config({}), None) == expected


@pytest.mark.parametrize("value", ["0.5", True, [0.5], np.array([0.5, 0.6])])
def test_a_return_value_that_is_not_a_number_or_a_dict_is_an_error(value):
    spec = _spec(lambda config, data: value)
    with pytest.raises(TypeError, match="a train function returns a dict of metrics or a single"):
        spec.train(spec.make_config({}), None)


@dataclass(frozen=True)
class MyConfig:
    lr: float = 0.1
    hidden: int = 32
    epochs: int = 2


def train_on_dataclass(config: MyConfig, data):
    return {"val_score": config.lr, "type": type(config).__name__, "lr": type(config.lr).__name__,
            "hidden": type(config.hidden).__name__}


def test_a_dataclass_config_is_checked_and_coerced():
    spec = _spec(train_on_dataclass, knobs=("lr",))
    assert spec.takes_dataclass and spec.field_names() == ("lr", "hidden", "epochs")
    with pytest.raises(ConfigError, match="unknown field 'dropout' for trainable") as err:
        spec.make_config({"dropout": 0.1})
    assert err.value.field == "dropout"
    with pytest.raises(ConfigError, match="lr='fast' is not a number"):
        spec.make_config({"lr": "fast"})
    config = spec.make_config({"lr": "1e-3", "hidden": 64.0})
    result = spec.train(config, None)
    assert result == {"val_score": 0.001, "type": "MyConfig", "lr": "float", "hidden": "int"}


def train_with_checkpoint(config, data, report=None, *, checkpoint=None):
    """Adds 1 to ``w`` each epoch, resuming after the last epoch saved."""
    state = checkpoint.load() if checkpoint is not None else None
    first, w = (state["epoch"] + 1, state["w"]) if state is not None else (1, torch.zeros(2))
    for epoch in range(first, config["epochs"] + 1):
        w = w + 1
        if checkpoint is not None:
            checkpoint.save({"epoch": epoch, "w": w, "note": "mine"})
        report({"epoch": epoch, "val_score": float(w[0])})
    return {"first_epoch": first}


def test_the_user_s_own_state_is_saved_and_restored_from_a_checkpoint_file(tmp_path):
    """The user's dict goes into a checkpoint file that sweepforge's loader (the one Ray Tune's
    restarts and `sweepforge resume` use) accepts, and comes back as saved."""
    spec = _spec(train_with_checkpoint, knobs=("epochs",))
    assert isinstance(spec, FunctionTrainableSpec) and spec.supports_checkpoint
    reports = []
    first = spec.train(spec.make_config({"epochs": 2}), None, reports.append,
                       checkpoint=DirectoryCheckpointer(tmp_path))
    assert first == {"first_epoch": 1}
    on_disk = load_state_file(tmp_path / CHECKPOINT_FILE)  # what a restore reads
    assert on_disk["own"]["epoch"] == 2 and on_disk["own"]["note"] == "mine"
    again = spec.train(spec.make_config({"epochs": 4}), None, reports.append,
                       checkpoint=DirectoryCheckpointer(tmp_path))
    assert again == {"first_epoch": 3}  # resumed after epoch 2, not restarted
    assert [r["epoch"] for r in reports] == [1, 2, 3, 4] and reports[-1]["val_score"] == 4.0
    assert not _spec(lambda config, data, report=None: None).supports_checkpoint


def test_trainable_for_a_bundled_name_or_a_reference(user_dir, tmp_path):
    assert trainable_for("mlp", metric="val_accuracy").name == "mlp"
    path = user_dir("uc_ref.py", "def train(config, data): return config['lr'] * 2\n")
    spec = trainable_for(f"{path}:train", metric="val_loss", knobs=["lr"])
    assert spec.name == "uc_ref:train" and spec.train(spec.make_config({"lr": 0.25}), None) == {
        "val_loss": 0.5}
    with pytest.raises(ConfigError, match="trainable: file .* does not exist"):
        trainable_for(f"{tmp_path / 'gone.py'}:train", metric="val_loss")


# --- dataset_from_loader: what a loader may return ---------------------------------------------

def _xy(n=60, labels=("cat", "dog")):
    rng = np.random.default_rng(1)
    return rng.normal(size=(n, 3)), np.array([labels[i % len(labels)] for i in range(n)])


def test_x_and_y_arrays_are_split_by_the_seed():
    X, y = _xy()
    data = dataset_from_loader((X, (y == "dog").astype(int)), name="mine:load", seed=0)
    assert isinstance(data, Dataset) and data.task == "classification"
    assert (len(data.X_train), len(data.X_val), len(data.X_test)) == (36, 12, 12)
    assert data.X_train.dtype == np.float32 and data.X_train.shape[1] == 3
    again = dataset_from_loader((X, (y == "dog").astype(int)), name="mine:load", seed=0)
    other = dataset_from_loader((X, (y == "dog").astype(int)), name="mine:load", seed=1)
    assert np.array_equal(again.X_train, data.X_train) and not np.array_equal(other.X_train,
                                                                               data.X_train)
    # every row in exactly one split
    rows = np.concatenate([data.X_train, data.X_val, data.X_test])
    assert sorted(map(tuple, rows)) == sorted(map(tuple, X.astype(np.float32)))


def test_torch_tensors_are_taken_like_arrays():
    X, y = _xy()
    X = torch.tensor(X, requires_grad=True)  # (numpy cannot take it as it is)
    data = dataset_from_loader((X, torch.tensor((y == "dog").astype(np.int64))),
                               name="mine:load", seed=0)
    assert isinstance(data.X_train, np.ndarray) and data.task == "classification"
    assert data.n_train == 36


def test_string_labels_are_coded_and_a_float_target_is_regression():
    X, y = _xy(labels=("cat", "dog", "emu"))
    data = dataset_from_loader((X, y), name="mine:load", seed=0)
    assert set(np.concatenate([data.y_train, data.y_val, data.y_test])) == {0, 1, 2}
    regression = dataset_from_loader((X, X[:, 0] * 2.5), name="mine:load", seed=0)
    assert regression.task == "regression"
    forced = dataset_from_loader((X, (y == "dog").astype(int)), name="mine:load", seed=0,
                                 task="regression")
    assert forced.task == "regression"


def test_train_val_test_splits_are_kept_and_coded_together():
    X, y = _xy(n=30)
    splits = {"train": (X[:20], y[:20]), "val": (X[20:25], np.array(["dog"] * 5)),
              "test": (X[25:], np.array(["cat"] * 5))}
    data = dataset_from_loader(splits, name="mine:load", seed=0)
    assert np.array_equal(data.X_val, X[20:25].astype(np.float32))  # as given, not re-split
    assert (len(data.y_train), len(data.y_val), len(data.y_test)) == (20, 5, 5)
    code = dict(zip(y[:20], data.y_train))
    assert set(data.y_val) == {code["dog"]} and set(data.y_test) == {code["cat"]}
    assert code["cat"] != code["dog"]


def test_the_original_labels_are_kept_in_code_order():
    X, y = _xy(labels=("emu", "cat", "dog"))
    for given in ((X, y), [X, y], [X, pd.Series(y)]):
        data = dataset_from_loader(given, name="mine:load", seed=0)
        assert data.classes == ("cat", "dog", "emu")
        assert all(type(label) is str for label in data.classes)
        rows = np.concatenate([data.X_train, data.X_val, data.X_test])
        labels = np.concatenate([data.y_train, data.y_val, data.y_test])
        by_row = {tuple(row): label for row, label in zip(X.astype(np.float32), y)}
        assert [data.classes[code] for code in labels] == [by_row[tuple(r)] for r in rows]
    numbered = dataset_from_loader((X, torch.tensor([5, 9] * 30)), name="mine:load", seed=0)
    assert numbered.classes == (5, 9) and type(numbered.classes[0]) is int
    assert dataset_from_loader((X, X[:, 0] * 2.5), name="mine:load", seed=0).classes is None
    forced = dataset_from_loader((X, np.arange(60) % 2), name="mine:load", seed=0,
                                 task="regression")
    assert forced.classes is None


def test_train_val_test_labels_are_named_together():
    X, y = _xy(n=30)
    splits = {"train": (X[:20], y[:20]), "val": (X[20:25], np.array(["dog"] * 5)),
              "test": (X[25:], np.array(["emu"] * 5))}  # emu only in the test split
    data = dataset_from_loader(splits, name="mine:load", seed=0)
    assert data.classes == ("cat", "dog", "emu")
    assert [data.classes[code] for code in data.y_train] == y[:20].tolist()
    assert {data.classes[code] for code in data.y_val} == {"dog"}
    assert {data.classes[code] for code in data.y_test} == {"emu"}


def test_a_dataframe_with_its_target_column():
    X, y = _xy()
    frame = pd.DataFrame(X, columns=["a", "b", "c"]).assign(label=y)
    data = dataset_from_loader(frame, name="mine:load", seed=0, target="label")
    assert data.task == "classification" and data.X_train.shape[1] == 3 and data.n_train == 36
    assert data.classes == ("cat", "dog")
    with pytest.raises(ConfigError, match="name its target column") as err:
        dataset_from_loader(frame, name="mine:load", seed=0)
    assert err.value.field == "target" and "a, b, c, label" in str(err.value)


@pytest.mark.parametrize(
    ("result", "message"),
    [
        (None, "dataset.loader: mine:load returned None"),
        ((np.zeros((10, 2)), np.zeros(8)), "returned X with 10 rows and y with 8"),
        ((np.zeros((0, 2)), np.zeros(0)), "dataset.loader: mine:load returned no rows"),
        ({"train": (np.zeros((8, 2)), np.arange(8) % 2), "val": (np.zeros((0, 2)), np.zeros(0)),
          "test": (np.zeros((4, 2)), np.arange(4) % 2)}, "mine:load['val'] returned no rows"),
        ({"train": np.zeros((8, 2)), "val": (np.zeros((4, 2)), np.arange(4) % 2),
          "test": (np.zeros((4, 2)), np.arange(4) % 2)},
         "mine:load['train'] must be an (X, y) pair, got ndarray"),
        ((np.array([["a", "b"]] * 10), np.arange(10) % 2), "X that is not numeric"),
    ],
)
def test_data_that_cannot_be_split_is_refused(result, message):
    with pytest.raises(ConfigError) as err:
        dataset_from_loader(result, name="mine:load", seed=0)
    assert message in str(err.value) and err.value.field == "loader"


def test_an_unknown_task_is_refused():
    with pytest.raises(ConfigError, match="dataset.task: 'clustering' is not a task"):
        dataset_from_loader(_xy(), name="mine:load", seed=0, task="clustering")


@pytest.mark.parametrize("kind", ["object", "path", "dict", "triple"])
def test_anything_else_is_handed_through_unchanged(kind):
    X, y = _xy()
    result = {"object": object(), "path": Path("/data/images"),
              "dict": {"train": (X, y), "extra": 1}, "triple": (X, y, y)}[kind]
    assert dataset_from_loader(result, name="mine:load", seed=0) is result


def _digit_images(n=300):
    """scikit-learn's 8x8 digits as a loader would return them: ``(n, 1, 8, 8)`` and labels."""
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    return X[:n].reshape(n, 1, 8, 8), y[:n]


@pytest.mark.parametrize("kind", ["numpy (n, H, W)", "numpy (n, C, H, W)", "torch (n, C, H, W)"])
def test_images_keep_their_shape_channels_first(kind):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3, 5, 6) if "C" in kind else (40, 5, 6))
    y = np.arange(40) % 2
    given = (torch.tensor(X), torch.tensor(y)) if kind.startswith("torch") else (X, y)
    data = dataset_from_loader(given, name="mine:load", seed=0)
    assert data.image_shape == ((3, 5, 6) if "C" in kind else (1, 5, 6))
    assert data.X_train.dtype == np.float32 and data.X_train.shape == (24, 90 if "C" in kind else 30)
    # stored flat in C, H, W order: every row is one image, raveled
    flat = X.reshape(40, -1).astype(np.float32)
    assert all(any(np.array_equal(row, image) for image in flat) for row in data.X_test)
    tabular = dataset_from_loader((X.reshape(40, -1), y), name="mine:load", seed=0)
    assert tabular.image_shape is None and np.array_equal(tabular.X_train, data.X_train)


def test_train_val_test_images_keep_their_shape():
    X, y = _digit_images(90)
    splits = {"train": (X[:50], y[:50]), "val": (X[50:70, 0], y[50:70]),  # (n, H, W): 1 channel
              "test": (torch.tensor(X[70:]), torch.tensor(y[70:]))}
    data = dataset_from_loader(splits, name="mine:load", seed=0)
    assert data.image_shape == (1, 8, 8) and data.X_val.shape == (20, 64)
    assert np.array_equal(data.X_val, X[50:70].reshape(20, 64).astype(np.float32))


@pytest.mark.parametrize(
    ("split", "X", "shown"),
    [
        ("val", np.zeros((10, 1, 4, 16)), ("['val'] returned images of shape (1, 4, 16), but "
                                           "mine:load['train'] returned images of shape (1, 8, 8)")),
        ("test", np.zeros((10, 64)), ("['test'] returned rows of 64 values, but mine:load['train'] "
                                      "returned images of shape (1, 8, 8)")),
        ("val", np.zeros((10, 2, 8, 8)), "['val'] returned images of shape (2, 8, 8)"),
    ],
    ids=["other size", "a table", "other channels"],
)
def test_splits_of_different_image_shapes_are_refused_naming_the_split(split, X, shown):
    images, y = _digit_images(30)
    splits = {part: (images[:10], y[:10]) for part in ("train", "val", "test")}
    splits[split] = (X, y[:10])
    with pytest.raises(ConfigError) as err:
        dataset_from_loader(splits, name="mine:load", seed=0)
    assert str(err.value).startswith(f"dataset.loader: mine:load{shown}")
    assert "channels first" in str(err.value) and err.value.field == "loader"


def test_tables_of_different_widths_are_refused_naming_the_split():
    X, y = _xy(n=30)
    splits = {"train": (X[:20], y[:20]), "val": (X[20:25], y[20:25]),
              "test": (X[25:, :2], y[25:])}
    with pytest.raises(ConfigError, match=r"mine:load\['test'\] returned rows of 2 values, but "
                                          r"mine:load\['train'\] returned rows of 3 values"):
        dataset_from_loader(splits, name="mine:load", seed=0)


def test_the_bundled_cnn_trains_on_images_a_loader_returned():
    from sweepforge.trainables import get_trainable

    data = dataset_from_loader(_digit_images(), name="mine:load", seed=0)
    spec = get_trainable("cnn")
    assert data.task in spec.data_tasks and data.image_shape == (1, 8, 8)
    config = spec.make_config({"epochs": 1, "width": 4, "batch_size": 32}, data)  # its checks
    result = spec.train(config, data, seed=0)
    assert result["epoch"] == 1 and 0 <= result["val_accuracy"] <= 1
    assert np.isfinite(result["val_loss"])


@pytest.mark.parametrize("kind", ["numpy", "torch", "python lists", "pandas"])
def test_a_list_of_x_and_y_is_the_pair_x_y(kind):
    X, y = _xy()
    y = (y == "dog").astype(int)
    listed = {"numpy": [X, y], "torch": [torch.tensor(X), torch.tensor(y)],
              "python lists": [X.tolist(), y.tolist()],
              "pandas": [pd.DataFrame(X), pd.Series(y)]}[kind]
    data = dataset_from_loader(listed, name="mine:load", seed=0)
    paired = dataset_from_loader((X, y), name="mine:load", seed=0)
    assert isinstance(data, Dataset) and data.task == "classification"
    assert np.array_equal(data.X_train, paired.X_train) and np.array_equal(data.y_test,
                                                                           paired.y_test)


def test_a_list_of_images_and_labels_keeps_the_image_shape():
    X, y = _digit_images(60)
    assert dataset_from_loader([X, y], name="mine:load", seed=0).image_shape == (1, 8, 8)


@pytest.mark.parametrize(
    "kind",
    ["two paths", "two Paths", "two lists of paths", "different lengths", "two dicts",
     "a number and an array", "ragged lists", "three parts"],
)
def test_any_other_list_is_handed_through_unchanged(kind):
    X, y = _xy()
    result = {
        "two paths": ["/data/train.csv", "/data/test.csv"],
        "two Paths": [Path("/data/train"), Path("/data/test")],
        "two lists of paths": [["a.png", "b.png"], ["c.png", "d.png"]],
        "different lengths": [X, y[:10]],
        "two dicts": [{"X": X}, {"y": y}],
        "a number and an array": [3, X],
        "ragged lists": [[[1.0, 2.0], [3.0]], [0, 1]],
        "three parts": [X, y, y],
    }[kind]
    assert dataset_from_loader(result, name="mine:load", seed=0) is result


def test_a_tuple_of_things_that_are_not_arrays_is_refused():
    with pytest.raises(ConfigError) as err:
        dataset_from_loader(("/data/train.csv", "/data/test.csv"), name="mine:load", seed=0)
    assert str(err.value) == ("dataset.loader: mine:load must be an (X, y) pair of arrays or "
                              "tensors, got str and str")
    assert err.value.field == "loader"


class _Squares(torch.utils.data.Dataset):
    """A map-style dataset of ``n`` items ``(i, i * i)``."""

    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, index):
        return torch.tensor(float(index)), index * index


def test_a_map_style_torch_dataset_is_split_by_index_with_the_seed():
    from torch.utils.data import Subset

    from sweepforge.trainables.user_data import TorchDatasetSplits

    dataset = _Squares(50)
    data = dataset_from_loader(dataset, name="mine:load", seed=0)
    assert isinstance(data, TorchDatasetSplits) and data.name == "mine:load"
    assert all(isinstance(part, Subset) and part.dataset is dataset
               for part in (data.train, data.val, data.test))
    assert (len(data.train), len(data.val), len(data.test)) == (30, 10, 10)  # as (X, y) gets
    indices = [*data.train.indices, *data.val.indices, *data.test.indices]
    assert sorted(indices) == list(range(50)) and indices != list(range(50))  # shuffled
    assert all(type(i) is int for i in indices)
    first = data.val.indices[0]
    assert data.val[0][1] == first * first  # items are read through the subset
    again = dataset_from_loader(dataset, name="mine:load", seed=0)
    other = dataset_from_loader(dataset, name="mine:load", seed=1)
    assert [again.train.indices, again.val.indices, again.test.indices] == [
        data.train.indices, data.val.indices, data.test.indices]
    assert other.train.indices != data.train.indices
    tensors = dataset_from_loader(torch.utils.data.TensorDataset(torch.zeros(7, 2)),
                                  name="mine:load", seed=0)
    assert (len(tensors.train), len(tensors.val), len(tensors.test)) == (3, 2, 2)


@pytest.mark.parametrize("n", [0, 1, 2])
def test_a_torch_dataset_too_small_for_three_splits_is_refused(n):
    with pytest.raises(ConfigError) as err:
        dataset_from_loader(_Squares(n), name="mine:load", seed=0)
    assert str(err.value).startswith(f"dataset.loader: mine:load returned a torch Dataset of "
                                     f"{n} items") and "at least 3" in str(err.value)
    assert err.value.field == "loader"
    assert len(dataset_from_loader(_Squares(3), name="mine:load", seed=0).train) == 1


class _Stream(torch.utils.data.IterableDataset):
    def __iter__(self):
        return iter(range(10))


class _NoLength(torch.utils.data.Dataset):
    def __getitem__(self, index):
        return index


@pytest.mark.parametrize("dataset", [_Stream(), _NoLength()], ids=["iterable", "no __len__"])
def test_a_torch_dataset_that_cannot_be_split_by_index_is_handed_through(dataset):
    assert dataset_from_loader(dataset, name="mine:load", seed=0) is dataset


def test_torch_datasets_are_only_looked_for_when_torch_is_imported(monkeypatch):
    dataset = _Squares(20)
    monkeypatch.delitem(sys.modules, "torch.utils.data")  # as in a process without torch
    assert dataset_from_loader(dataset, name="mine:load", seed=0) is dataset


def test_reading_a_loader_s_arrays_does_not_import_torch():
    import subprocess

    code = textwrap.dedent("""
        import sys
        import numpy as np
        from sweepforge.trainables.user_data import dataset_from_loader
        X, y = np.zeros((30, 2, 4, 4)), np.arange(30) % 2
        for result in ((X, y), [X, y], ["a.csv", "b.csv"], object()):
            dataset_from_loader(result, name="mine:load", seed=0)
        assert "torch" not in sys.modules, "torch was imported"
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, done.stderr


# --- code_folder: what a Ray cluster is sent ----------------------------------------------------

def test_a_file_reference_sends_its_folder_and_is_loaded_there_by_module_name(user_dir, tmp_path):
    user_dir("proj/uc_shipped.py", "def train(config, data): return 1.0\n")
    text = FunctionRef.parse("./proj/uc_shipped.py:train", base_dir=tmp_path).as_text()
    assert code_folder(text) == CodeFolder(str(tmp_path / "proj"), "uc_shipped:train")


def test_a_module_of_the_users_sends_the_folder_it_was_imported_from(user_dir, tmp_path):
    user_dir("uc_pkg/__init__.py", "")
    user_dir("uc_pkg/models.py", "def train(config, data): return 1.0\n")
    sys.path.insert(0, str(tmp_path))
    FunctionRef.parse("uc_pkg.models:train").load()
    assert code_folder("uc_pkg.models:train") == CodeFolder(str(tmp_path), "uc_pkg.models:train")


@pytest.mark.parametrize("text", ["mlp", "optuna.samplers:TPESampler", "json:dumps"])
def test_bundled_names_and_installed_code_send_nothing(text):
    import json  # noqa: F401  (imported, as the plan imports a reference before asking)

    import optuna  # noqa: F401

    assert code_folder(text) is None
