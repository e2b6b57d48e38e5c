"""The user's own tables (CSV / parquet) become split Datasets; bad tables say what is wrong."""

from __future__ import annotations

import hashlib
import re

import numpy as np
import pandas as pd
import pytest
from sklearn import datasets as skdatasets

from sweepforge.trainables import ConfigError, load_dataset
from sweepforge.trainables.tables import load_store_sales, load_table


def shops(rows: int = 60) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({
        "shop": rng.choice(["north", "east", "west"], rows),
        "size": rng.normal(size=rows).round(3),
        "open_days": rng.integers(200, 360, rows),
        "sales": rng.lognormal(3.0, 0.5, rows).round(2),
    })


def write(tmp_path, frame: pd.DataFrame, name: str = "table.csv"):
    path = tmp_path / name
    if name.endswith(".parquet"):
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False)
    return path


def test_a_csv_becomes_a_split_dataset_with_coded_categories(tmp_path):
    frame = shops()
    data = load_table(write(tmp_path, frame), target="sales", categorical=["shop"], seed=0)
    assert (data.name, data.task) == ("table", "regression")
    assert data.feature_names == ("shop", "size", "open_days")
    assert dict(data.categories) == {0: 3}
    assert (data.n_train, len(data.y_val), len(data.y_test)) == (36, 12, 12)
    assert data.X_train.dtype == np.float32 and data.y_train.dtype == np.float32
    all_codes = np.concatenate([data.X_train[:, 0], data.X_val[:, 0], data.X_test[:, 0]])
    assert set(all_codes.tolist()) == {0.0, 1.0, 2.0}
    # levels are coded in sorted order: east 0, north 1, west 2
    row = frame.iloc[0]
    X = np.concatenate([data.X_train, data.X_val, data.X_test])
    match = X[np.isclose(X[:, 1], row["size"]) & (X[:, 2] == row["open_days"])]
    assert match[0, 0] == ["east", "north", "west"].index(row["shop"])


@pytest.mark.parametrize("name", ["iris", "diabetes"])
def test_the_split_is_the_one_load_dataset_makes(tmp_path, name):
    loader = {"iris": skdatasets.load_iris, "diabetes": skdatasets.load_diabetes}[name]
    X, y = loader(return_X_y=True)
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])]).assign(target=y)
    table = load_table(write(tmp_path, frame), target="target", seed=3)
    registered = load_dataset(name, seed=3)
    assert table.task == registered.task
    for part in ("X_train", "y_train", "X_val", "y_val", "X_test", "y_test"):
        np.testing.assert_array_equal(getattr(table, part), getattr(registered, part))


def test_parquet_reads_like_csv(tmp_path):
    frame = shops()
    csv = load_table(write(tmp_path, frame), target="sales", categorical=["shop"])
    parquet = load_table(write(tmp_path, frame, "table.parquet"), target="sales",
                         categorical=["shop"])
    np.testing.assert_array_equal(csv.X_train, parquet.X_train)
    np.testing.assert_array_equal(csv.y_test, parquet.y_test)


@pytest.mark.parametrize(
    ("target", "task", "expected", "classes"),
    [
        (["good", "bad", "ok"] * 20, None, "classification", 3),  # text labels
        ([1, 2, 3, 4] * 15, None, "classification", 4),  # a few whole numbers
        (list(range(60)), None, "regression", 0),  # many whole numbers
        ([0.5, 1.5] * 30, None, "regression", 0),  # fractions
        ([1, 2, 3, 4] * 15, "regression", "regression", 0),  # the user decides
    ],
)
def test_the_task_is_inferred_from_the_target_unless_given(tmp_path, target, task, expected,
                                                          classes):
    frame = pd.DataFrame({"x": np.arange(60.0), "y": target})
    data = load_table(write(tmp_path, frame), target="y", task=task)
    assert data.task == expected
    assert data.n_classes == classes


def test_text_labels_are_coded_in_sorted_order(tmp_path):
    frame = pd.DataFrame({"x": np.arange(40.0), "y": ["yes", "no"] * 20})
    data = load_table(write(tmp_path, frame), target="y")
    X = np.concatenate([data.X_train, data.X_val, data.X_test])[:, 0]
    y = np.concatenate([data.y_train, data.y_val, data.y_test])
    assert (y[X % 2 == 0] == 1).all() and (y[X % 2 == 1] == 0).all()  # "no" 0, "yes" 1


@pytest.mark.parametrize(
    ("target", "classes"),
    [
        (["yes", "no"] * 20, ("no", "yes")),  # strings: sorted, as coded
        ([3, 1, 2, 1] * 10, (1, 2, 3)),  # whole numbers
        ([True, False] * 20, (False, True)),  # bools
        # a pandas category (kept by parquet, not CSV) keeps its order; unused levels dropped
        (pd.Categorical(["lo", "hi", "mid", "hi"] * 10, categories=["lo", "mid", "hi", "x"]),
         ("lo", "mid", "hi")),
    ],
)
def test_a_classification_target_keeps_its_labels_in_code_order(tmp_path, target, classes):
    frame = pd.DataFrame({"x": np.arange(40.0), "y": target})
    files = ["table.parquet"] + ([] if isinstance(target, pd.Categorical) else ["table.csv"])
    for file in files:
        data = load_table(write(tmp_path, frame, file), target="y")
        assert data.task == "classification" and data.classes == classes, file
        assert all(type(c) is type(classes[0]) for c in data.classes)  # plain Python values
        X = np.concatenate([data.X_train, data.X_val, data.X_test])[:, 0].astype(int)
        y = np.concatenate([data.y_train, data.y_val, data.y_test])
        original = np.asarray(frame["y"])[X]  # column x is the row number
        assert [data.classes[code] for code in y] == original.tolist(), file


def test_a_regression_target_has_no_classes_and_categorical_columns_keep_their_levels(tmp_path):
    data = load_table(write(tmp_path, shops()), target="sales", categorical=["shop"])
    assert data.classes is None
    assert data.levels == {0: ("east", "north", "west")}  # in code order
    numeric = shops().drop(columns="shop")
    plain = load_table(write(tmp_path, numeric), target="sales")  # no categorical: no levels
    assert plain.levels == {}


def test_naming_labels_and_levels_left_the_table_s_arrays_as_they_were(tmp_path):
    # A yes/no table with a categorical column; checksum of the six arrays computed with the
    # code before Dataset.classes and Dataset.levels existed.
    rng = np.random.default_rng(0)
    colour = rng.choice(["red", "green", "blue"], 300)
    size = rng.normal(size=300).round(3)
    ok = np.where(size + 1.5 * (colour == "red") > 0.5, "yes", "no")
    path = write(tmp_path, pd.DataFrame({"colour": colour, "size": size, "ok": ok}))
    data = load_table(path, target="ok", categorical=["colour"], seed=0)
    h = hashlib.sha256()
    for part in ("X_train", "y_train", "X_val", "y_val", "X_test", "y_test"):
        array = getattr(data, part)
        h.update(f"{part}{array.dtype}{array.shape}".encode())
        h.update(array.tobytes())
    assert h.hexdigest() == "70003557265a5a6cb76cf1e5eeb7094b7dc3524dd3add9e620c702788d76f476"
    assert data.classes == ("no", "yes") and data.levels == {0: ("blue", "green", "red")}


def error_for(tmp_path, frame=None, file="table.csv", **kwargs) -> ConfigError:
    path = tmp_path / file if frame is None else write(tmp_path, frame, file)
    kwargs.setdefault("target", "sales")
    with pytest.raises(ConfigError) as info:
        load_table(path, **kwargs)
    return info.value


def test_a_missing_file(tmp_path):
    err = error_for(tmp_path, file="missing.csv")
    assert err.field == "path" and "missing.csv' does not exist" in str(err)


def test_a_file_type_other_than_csv_or_parquet(tmp_path):
    (tmp_path / "table.xlsx").write_text("not really")
    err = error_for(tmp_path, file="table.xlsx")
    assert err.field == "path" and "'.xlsx'" in str(err) and ".csv, .parquet" in str(err)


def test_a_missing_target_lists_the_columns(tmp_path):
    err = error_for(tmp_path, shops(), target="sale")
    assert err.field == "target"
    assert "target column 'sale' is not in" in str(err)
    assert "did you mean 'sales'" in str(err) and "shop, size, open_days, sales" in str(err)


@pytest.mark.parametrize(
    ("frame", "kwargs", "field", "message"),
    [
        (shops(), {"categorical": ["shops"]}, "categorical",
         r"categorical column 'shops' is not in .*did you mean 'shop'"),
        (shops(), {"categorical": "shop"}, "categorical", r"must be a list of column names"),
        (shops(), {"categorical": ["shop", "sales"]}, "categorical", r"target 'sales' is also"),
        (shops(), {}, "categorical",
         (r"column 'shop' of .* is not numeric; declare it in categorical \(e\.g\. categorical: "
          r"\[shop\]\)")),
        (shops(), {"categorical": ["shop"], "task": "ranking"}, "task",
         r"task='ranking' is not allowed for a table; choose one of: classification, regression"),
        (shops(), {"target": "shop", "task": "regression"}, "task",
         r"target column 'shop' of .* is not numeric .* cannot be a regression target"),
        (shops().assign(size=[np.nan, *[1.0] * 59], open_days=[*[1] * 58, None, None]),
         {"categorical": ["shop"]}, "path",
         (r"missing \(NaN/empty\) or infinite values in feature columns 'size' \(1 rows\), "
          r"'open_days' \(2 rows\)")),
        (shops().assign(size=[np.inf, *[1.0] * 59]), {"categorical": ["shop"]}, "path",
         r"'size' \(1 rows\)"),
        (shops().assign(sales=[np.nan, *[1.0] * 59]), {"categorical": ["shop"]}, "target",
         r"target column 'sales' .* is missing \(NaN/empty\) in 1 rows"),
        (shops().assign(sales="yes"), {"categorical": ["shop"]}, "target",
         r"holds one class only \('yes'\)"),
        (shops().assign(sales=["a", *["b"] * 59]), {"categorical": ["shop"]}, "target",
         r"class(es)? 0 of the target occur in one row only"),
        (shops(2), {"categorical": ["shop"], "task": "regression"}, None,
         r"leaves no training rows"),
    ],
)
def test_bad_tables_name_what_is_wrong(tmp_path, frame, kwargs, field, message):
    err = error_for(tmp_path, frame, **kwargs)
    assert err.field == field
    assert re.search(message, str(err)), str(err)


def test_a_regression_target_must_be_numeric(tmp_path):
    frame = shops().assign(sales=["low", "high"] * 30)
    err = error_for(tmp_path, frame, categorical=["shop"], task="regression")
    assert err.field == "task" and "use task: classification" in str(err)


def test_an_empty_file(tmp_path):
    (tmp_path / "empty.csv").write_text("shop,sales\n")
    err = error_for(tmp_path, file="empty.csv")
    assert err.field == "path" and "holds no rows" in str(err)


def test_diamonds_is_registered_with_its_quality_grades_as_categories():
    data = load_dataset("diamonds", seed=0)
    assert data.task == "regression"
    assert data.n_train + len(data.y_val) + len(data.y_test) == 53_940
    assert data.feature_names == ("carat", "cut", "color", "clarity", "depth", "table", "x", "y",
                                  "z")
    assert dict(data.categories) == {1: 5, 2: 7, 3: 8}
    cut = np.concatenate([data.X_train[:, 1], data.X_val[:, 1]])
    price = np.concatenate([data.y_train, data.y_val])
    assert float(price.min()) > 0
    assert sorted(set(cut.tolist())) == [0.0, 1.0, 2.0, 3.0, 4.0]  # Fair .. Ideal
    assert data.levels[1] == ("Fair", "Good", "Very Good", "Premium", "Ideal")
    assert data.levels[2] == tuple("DEFGHIJ") and len(data.levels[3]) == 8
    assert data.classes is None


def test_store_sales_is_the_same_table_every_time():
    first, second = load_store_sales(), load_store_sales()
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])
    data = load_dataset("store_sales", seed=0)
    assert dict(data.categories) == {0: 1000, 1: 7, 2: 12}
    assert data.feature_names[0] == "store"
    assert float(data.y_train.min()) > 0
