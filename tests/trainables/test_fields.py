"""Loose values from YAML and search backends are coerced to the declared field types."""

from dataclasses import dataclass

import numpy as np
import pytest

from sweepforge.trainables import ConfigError
from sweepforge.trainables._fields import check_range, coerce_fields, coerce_value


@pytest.mark.parametrize(
    ("value", "annotation", "expected"),
    [
        ("1e-3", float, 0.001),
        (" 0.5 ", float, 0.5),
        (1, float, 1.0),
        (np.float32(0.25), float, 0.25),
        ("64", int, 64),
        ("1e2", int, 100),
        (64.0, int, 64),
        (np.int64(3), int, 3),
        ("adam", str, "adam"),
        (np.str_("adam"), str, "adam"),
        (True, bool, True),
        ([1, 2], list, [1, 2]),
    ],
)
def test_coercions(value, annotation, expected):
    result = coerce_value("x", value, annotation)
    assert result == expected and type(result) is type(expected)


@pytest.mark.parametrize(
    ("value", "annotation", "match"),
    [
        ("abc", float, r"x='abc' is not a number"),
        (True, float, r"x=True is not a number"),
        (None, float, r"x=None is not a number"),
        (64.5, int, r"x=64.5 is not an integer"),
        ("6.5", int, r"x='6.5' is not an integer"),
        (False, int, r"x=False is not an integer"),
        (3, str, r"x=3 is not a string"),
        ("yes", bool, r"x='yes' is not a boolean"),
    ],
)
def test_rejections_name_the_field_and_value(value, annotation, match):
    with pytest.raises(ConfigError, match=match) as err:
        coerce_value("x", value, annotation)
    assert err.value.field == "x"


def test_coerce_fields_uses_the_dataclass_annotations():
    @dataclass
    class Knobs:
        lr: float = 0.1
        depth: int = 2

    assert coerce_fields(Knobs, {"lr": "1e-2", "depth": 3.0}) == {"lr": 0.01, "depth": 3}


@pytest.mark.parametrize(
    ("kwargs", "value", "message"),
    [
        ({"low": 0, "low_open": True}, 0.0, "v=0.0 is out of range; it must satisfy v > 0"),
        ({"low": 1}, 0, "v=0 is out of range; it must satisfy v >= 1"),
        (
            {"low": 0, "high": 1, "high_open": True},
            1.0,
            "v=1.0 is out of range; it must satisfy 0 <= v < 1",
        ),
        ({"high": 5}, 6, "v=6 is out of range; it must satisfy v <= 5"),
        ({"low": 0}, float("inf"), "v=inf is not a finite number; it must satisfy v >= 0"),
    ],
)
def test_check_range_states_the_rule(kwargs, value, message):
    with pytest.raises(ConfigError) as err:
        check_range("v", value, **kwargs)
    assert str(err.value) == message


def test_check_range_accepts_values_inside():
    check_range("v", 0.5, low=0, high=1, low_open=True, high_open=True)


NOISE = ("none", "gaussian", "masking")


@dataclass
class _Described:
    optimizer: str = "adam"  # one of OPTIMIZERS; the default is Adam
    noise: str = "none"  # corruption, one of NOISE
    count: int = 1  # one of THE_NUMBERS, which is no list of names
    bare: int = 0


THE_NUMBERS = (1, 2)


def test_field_descriptions_spell_out_the_allowed_values():
    from sweepforge.trainables import OPTIMIZERS, field_descriptions

    assert field_descriptions(_Described) == {
        "optimizer": f"one of: {', '.join(OPTIMIZERS)}; the default is Adam",
        "noise": "corruption, one of: none, gaussian, masking",
        "count": "one of THE_NUMBERS, which is no list of names",
    }
