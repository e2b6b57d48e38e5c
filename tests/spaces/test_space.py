"""Space: loading errors state the rule and the value; every translator yields valid configs.

The properties run on spaces drawn by hypothesis: floats (linear and log), ints (stepped and
log), categoricals of mixed types, and conditions on earlier categorical or int parameters.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sweepforge.spaces import Categorical, Condition, Float, Int, Space, SpaceError

PROPERTY = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# --- loading errors -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            {"lr": {"type": "float", "low": 0.1, "high": 1.0, "scale": "log"}},
            r"parameter 'lr': unknown key\(s\) \['scale'\] for type 'float'; allowed keys are",
        ),
        (
            {"lr": {"type": "float", "low": 1.0, "high": 0.1}},
            r"parameter 'lr': `low <= high` must hold, but got low=1.0, high=0.1",
        ),
        (
            {"lr": {"type": "float", "low": 0.0, "high": 0.1, "log": True}},
            r"parameter 'lr': a log-scaled range needs `low > 0`, but got low=0.0",
        ),
        (
            {"width": {"type": "int", "low": -4, "high": 64, "log": True}},
            r"parameter 'width': a log-scaled range needs `low > 0`, but got low=-4",
        ),
        (
            {"act": {"type": "categorical", "choices": []}},
            r"parameter 'act': `choices` must not be empty",
        ),
        ({"act": []}, r"parameter 'act': `choices` must not be empty"),
        ({"act": ["relu", "relu"]}, r"parameter 'act': `choices` has duplicates"),
        ({"x": {"type": "double", "low": 0, "high": 1}}, r"parameter 'x': `type` must be one of"),
        (
            {"x": {"type": "float", "low": 0}},
            r"parameter 'x': missing required key\(s\) \['high'\]",
        ),
        (
            {"x": {"type": "float", "low": "small", "high": 1}},
            r"parameter 'x': `low` must be a number",
        ),
        (
            {"d": {"type": "int", "low": 1, "high": 6, "step": 2}},
            r"parameter 'd': `high - low` must be a multiple of step",
        ),
        (
            {"d": {"type": "int", "low": 1, "high": 1.5}},
            r"parameter 'd': `high` must be an integer",
        ),
        (
            {"m": {"type": "float", "low": 0.5, "high": 0.9, "when": {"optimizer": ["momentum"]}}},
            r"'m': `when` refers to unknown parameter 'optimizer'; known parameters are \['m'\]",
        ),
        (
            {
                "optimizer": ["sgd", "adam"],
                "m": {
                    "type": "float",
                    "low": 0.5,
                    "high": 0.9,
                    "when": {"optimizer": ["momentum"]},
                },
            },
            r"lists 'momentum', which 'optimizer' never takes; its values are \['sgd', 'adam'\]",
        ),
        (
            {
                "lr": {"type": "float", "low": 0.1, "high": 1.0},
                "m": {"type": "float", "low": 0.5, "high": 0.9, "when": {"lr": [0.5]}},
            },
            r"`when` must refer to a categorical or int parameter, but 'lr' is a float",
        ),
        (
            {
                "a": {"type": "categorical", "choices": ["x", "y"], "when": {"b": ["u"]}},
                "b": {"type": "categorical", "choices": ["u", "v"], "when": {"a": ["x"]}},
            },
            r"its conditions form a cycle",
        ),
        (
            {"a": {"type": "categorical", "choices": ["x"], "when": {"a": ["x"]}}},
            r"a condition cannot refer to the parameter itself",
        ),
        (
            {"x": {"type": "float", "low": 0, "high": 1, "log": "yes"}},
            r"`log` must be true or false",
        ),
        ({"x": 3}, r"parameter 'x': expected a mapping"),
        ({}, r"at least one parameter"),
    ],
)
def test_invalid_spaces_are_rejected_with_the_rule_and_the_value(spec, message):
    with pytest.raises(SpaceError, match=message):
        Space.from_dict(spec)


def test_yaml_numbers_read_as_strings_are_accepted():
    space = Space.from_dict(
        {
            "lr": {"type": "float", "low": "1e-4", "high": "1e-1", "log": True},
            "d": {"type": "int", "low": "2", "high": "8", "step": "2"},
        }
    )
    assert (space["lr"].low, space["d"].values()) == (1e-4, [2, 4, 6, 8])


def test_conditions_match_values_of_the_same_type_only():
    # 1 == True in Python, but a condition on `True` must not fire for the choice 1.
    space = Space(
        [Categorical("flag", (1, True)), Float("m", 0.0, 1.0, when=Condition("flag", (True,)))]
    )
    assert not space.is_active("m", {"flag": 1}) and space.is_active("m", {"flag": True})
    assert space.grid_size(2) == 1 + 2
    space.validate({"flag": 1})
    with pytest.raises(SpaceError, match="condition flag in \\[True\\] does not hold"):
        space.validate({"flag": 1, "m": 0.5})


# --- generated spaces ---------------------------------------------------------------------
CHOICE = st.one_of(
    st.text("abcxyz", min_size=1, max_size=4),
    st.integers(-5, 5),
    st.floats(-10, 10, allow_nan=False),
    st.booleans(),
    st.none(),
)


@st.composite
def params(draw: st.DrawFn, name: str) -> Any:
    kind = draw(st.sampled_from(["float", "logfloat", "int", "logint", "categorical"]))
    if kind == "float":
        low = draw(st.floats(-1e3, 1e3))
        return Float(name, low, low + draw(st.floats(0, 1e3)))
    if kind == "logfloat":
        low = draw(st.floats(1e-6, 1e3))
        return Float(name, low, low * draw(st.floats(1, 1e4)), log=True)
    if kind == "int":
        low, step = draw(st.integers(-50, 50)), draw(st.integers(1, 5))
        return Int(name, low, low + step * draw(st.integers(0, 12)), step=step)
    if kind == "logint":
        low = draw(st.integers(1, 100))
        return Int(name, low, low + draw(st.integers(0, 1000)), log=True)
    choices = draw(st.lists(CHOICE, min_size=1, max_size=4, unique_by=repr))
    return Categorical(name, choices)


@st.composite
def spaces(draw: st.DrawFn, max_params: int = 5) -> Space:
    """A space whose later parameters may depend on earlier categorical or int ones."""
    made: list[Any] = []
    for i in range(draw(st.integers(1, max_params))):
        param = draw(params(f"p{i}"))
        parents = [p for p in made if isinstance(p, (Categorical, Int))]
        if parents and draw(st.booleans()):
            parent = draw(st.sampled_from(parents))
            values = list(parent.choices) if isinstance(parent, Categorical) else parent.values()
            chosen = draw(st.lists(st.sampled_from(values), min_size=1, max_size=3, unique_by=repr))
            param = type(param)(**{**param.__dict__, "when": Condition(parent.name, tuple(chosen))})
        made.append(param)
    return Space(made)


def unit_vectors(space: Space) -> st.SearchStrategy[list[float]]:
    coordinate = st.one_of(st.just(0.0), st.just(1.0), st.floats(0, 1))
    return st.lists(coordinate, min_size=len(space), max_size=len(space))


def assert_same_config(actual: dict[str, Any], expected: dict[str, Any]) -> None:
    assert list(actual) == list(expected)
    for name, value in expected.items():
        if (
            isinstance(value, float)
            and isinstance(expected, dict)
            and isinstance(actual[name], float)
        ):
            assert actual[name] == pytest.approx(value, rel=1e-9, abs=1e-12)
        else:
            assert type(actual[name]) is type(value) and actual[name] == value


@PROPERTY
@given(space=spaces(), seed=st.integers(0, 2**32 - 1))
def test_sampled_configs_are_valid(space, seed):
    rng = np.random.default_rng(seed)
    for _ in range(5):
        space.validate(space.sample(rng))


@PROPERTY
@given(data=st.data(), space=spaces(), levels=st.integers(1, 6))
def test_grid_points_are_valid(data, space, levels):
    size = space.grid_size(levels)
    assert size >= 1
    index = data.draw(st.integers(0, size - 1))
    space.validate(space.grid_point(index, levels))
    with pytest.raises(SpaceError, match="grid index must satisfy"):
        space.grid_point(size, levels)


@PROPERTY
@given(data=st.data(), space=spaces())
def test_decoded_vectors_are_valid_configs(data, space):
    space.validate(space.decode(data.draw(unit_vectors(space))))


@PROPERTY
@given(data=st.data(), space=spaces())
def test_encode_then_decode_round_trips(data, space):
    config = space.decode(data.draw(unit_vectors(space)))
    vector = space.encode(config)
    assert vector.shape == (len(space),) and np.all((vector >= 0) & (vector <= 1))
    assert_same_config(space.decode(vector), config)


@PROPERTY
@given(space=spaces(max_params=3), levels=st.integers(1, 3))
def test_grid_size_counts_the_distinct_points_of_small_grids(space, levels):
    size = space.grid_size(levels)
    if size > 300:
        return
    points = list(space.iter_grid(levels))
    for point in points:
        space.validate(point)
    assert len({repr(p) for p in points}) == len(points) == size


def test_decode_rejects_wrong_lengths_and_non_finite_coordinates():
    space = Space([Float("x", 0.0, 1.0), Int("n", 1, 3)])
    with pytest.raises(SpaceError, match=r"expected a vector of 2 coordinates, got shape \(3,\)"):
        space.decode([0.1, 0.2, 0.3])
    with pytest.raises(SpaceError, match="non-finite"):
        space.decode([math.nan, 0.5])


# --- Optuna, with wide ints relaxed to floats (what bohb's GP asks) ---------------------------
@PROPERTY
@given(space=spaces(), seed=st.integers(0, 2**32 - 1), wider_than=st.integers(0, 20))
def test_relaxed_suggestions_are_valid_configs(space, seed, wider_than):
    import optuna

    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    for _ in range(3):
        trial = study.ask()
        space.validate(space.suggest(trial, relax_ints_wider_than=wider_than))


def test_a_relaxed_int_is_a_float_in_the_trial_rounded_to_its_step_in_the_config():
    import optuna

    space = Space([Int("width", 10, 100, step=10), Int("batch", 16, 512, log=True),
                   Int("layers", 1, 5)])  # 10, 497 and 5 values
    ends = {"width": 5.0, "batch": 512.5, "layers": 5}  # the float bounds map onto the int ends
    assert space.suggest(optuna.trial.FixedTrial(ends), relax_ints_wider_than=5) == \
        {"width": 10, "batch": 512, "layers": 5}
    inner = {"width": 34.9, "batch": 100.4, "layers": 2}
    assert space.suggest(optuna.trial.FixedTrial(inner), relax_ints_wider_than=5) == \
        {"width": 30, "batch": 100, "layers": 2}
    study = optuna.create_study()
    trial = study.ask()
    space.suggest(trial, relax_ints_wider_than=5)
    kinds = {name: type(d).__name__ for name, d in trial.distributions.items()}
    assert kinds == {"width": "FloatDistribution", "batch": "FloatDistribution",
                     "layers": "IntDistribution"}
