"""Schedules match optax's at counts 0, 1, 5, 10 and 50, with Polaris's defaults."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from axon.optim import schedules

COUNTS = [0, 1, 5, 10, 50]

CASES = [
    # (name, init_value, options, the optax equivalent)
    ("constant", 0.01, {}, optax.constant_schedule(0.01)),
    (
        "linear_decay",
        0.1,
        {},
        optax.linear_schedule(0.1, 0.0, transition_steps=1000),
    ),
    (
        "linear_decay",
        0.1,
        {"warmup": 5, "steps": 40},
        optax.join_schedules(
            [optax.linear_schedule(0.0, 0.1, 5), optax.linear_schedule(0.1, 0.0, 35)], [5]
        ),
    ),
    (
        "exponential_decay",
        0.1,
        {},
        optax.exponential_decay(0.1, transition_steps=10, decay_rate=0.95),
    ),
    (
        "exponential_decay",
        0.1,
        {"decay_rate": 0.5, "transition_steps": 4, "transition_begin": 3, "staircase": True},
        optax.exponential_decay(
            0.1, transition_steps=4, decay_rate=0.5, transition_begin=3, staircase=True
        ),
    ),
    ("cosine_decay", 0.1, {}, optax.cosine_decay_schedule(0.1, decay_steps=10, alpha=0.0)),
    (
        "cosine_decay",
        0.1,
        {"decay_steps": 30, "alpha": 0.2},
        optax.cosine_decay_schedule(0.1, decay_steps=30, alpha=0.2),
    ),
    (
        "warmup_cosine_decay",
        0.1,
        {},
        optax.warmup_cosine_decay_schedule(0.0, 0.1, warmup_steps=0, decay_steps=1000),
    ),
    (
        "warmup_cosine_decay",
        0.1,
        {"warmup": 5, "steps": 40, "alpha": 0.1, "exponent": 2.0},
        optax.warmup_cosine_decay_schedule(
            0.0, 0.1, warmup_steps=5, decay_steps=40, end_value=0.01, exponent=2.0
        ),
    ),
    ("one_cycle", 0.1, {}, optax.cosine_onecycle_schedule(1000, 0.1)),
    (
        "one_cycle",
        0.1,
        {"steps": 40, "pct_start": 0.25, "div_factor": 10.0, "final_div_factor": 100.0},
        optax.cosine_onecycle_schedule(
            40, 0.1, pct_start=0.25, div_factor=10.0, final_div_factor=100.0
        ),
    ),
    (
        "polynomial_decay",
        0.1,
        {},
        optax.polynomial_schedule(0.1, 1e-3, 2, transition_steps=10),
    ),
    (
        "polynomial_decay",
        0.1,
        {"end_value": 0.02, "power": 0.5, "transition_steps": 20, "transition_begin": 4},
        optax.polynomial_schedule(0.1, 0.02, 0.5, transition_steps=20, transition_begin=4),
    ),
]


def _case_id(case):
    return f"{case[0]}-{'custom' if case[2] else 'defaults'}"


def test_every_builtin_schedule_has_a_case():
    assert {case[0] for case in CASES} == set(schedules.BUILTINS) == set(schedules.names())


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_matches_optax(case):
    name, init_value, options, reference = case
    schedule = schedules.get(name)(init_value, **options)
    for count in COUNTS:
        np.testing.assert_allclose(
            schedule(count), reference(count), rtol=1e-6, atol=1e-9, err_msg=f"count {count}"
        )


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_jit_and_array_counts(case):
    name, init_value, options, _ = case
    schedule = schedules.get(name)(init_value, **options)
    counts = jnp.array(COUNTS)
    eager = np.array([schedule(count) for count in COUNTS])
    np.testing.assert_allclose(jax.jit(jax.vmap(schedule))(counts), eager, rtol=1e-6)


def test_end_of_decay_is_exact_under_jit():
    """optax's own schedules give NaN / a negative value here under jit (see _pinned_after)."""
    polynomial = schedules.polynomial_decay(0.1, end_value=0.02, power=0.5, transition_steps=20)
    linear = schedules.linear_decay(0.1, warmup=5, steps=40)
    for count in [20, 21, 100]:
        assert float(jax.jit(polynomial)(count)) == pytest.approx(0.02)
    for count in [40, 41, 100]:
        assert float(jax.jit(linear)(count)) == 0.0


@pytest.mark.parametrize(("warmup", "steps"), [(0, 1000), (10, 110), (5, 40)])
def test_linear_decay_is_polaris_multiplier_times_init_value(warmup, steps):
    """Polaris's linear_decay returns the bare multiplier; ours scales init_value by it."""
    schedule = schedules.linear_decay(0.3, warmup=warmup, steps=steps)
    for step in [0, 1, 5, 10, 50, steps, steps + 7]:
        if step < warmup:
            multiplier = step / max(1, warmup)
        else:
            multiplier = max(0.0, (steps - step) / max(1, steps - warmup))
        np.testing.assert_allclose(schedule(step), 0.3 * multiplier, rtol=1e-6, atol=1e-9)


def test_polaris_default_values_at_the_end_of_the_decay():
    assert float(schedules.cosine_decay(0.1)(10)) == pytest.approx(0.0, abs=1e-9)
    assert float(schedules.polynomial_decay(0.1)(10)) == pytest.approx(1e-3)
    assert float(schedules.exponential_decay(0.1)(10)) == pytest.approx(0.095)


BAD = [
    ("exponential_decay", {"decay_rate": 0.0}, ValueError, "decay_rate"),
    ("exponential_decay", {"decay_rate": 1.5}, ValueError, "decay_rate"),
    ("exponential_decay", {"decay_rate": float("nan")}, ValueError, "decay_rate"),
    ("exponential_decay", {"transition_steps": 0}, ValueError, "transition_steps"),
    ("exponential_decay", {"transition_begin": -1}, ValueError, "transition_begin"),
    ("exponential_decay", {"transition_steps": 2.5}, TypeError, "transition_steps"),
    ("cosine_decay", {"decay_steps": 0}, ValueError, "decay_steps"),
    ("cosine_decay", {"alpha": 1.5}, ValueError, "alpha"),
    ("polynomial_decay", {"transition_steps": -3}, ValueError, "transition_steps"),
    ("polynomial_decay", {"power": 0}, ValueError, "power"),
    ("linear_decay", {"steps": 0}, ValueError, "steps"),
    ("linear_decay", {"warmup": 10, "steps": 10}, ValueError, "warmup"),
    ("linear_decay", {"warmup": -1}, ValueError, "warmup"),
    ("warmup_cosine_decay", {"warmup": 10, "steps": 10}, ValueError, "warmup"),
    ("warmup_cosine_decay", {"alpha": -0.5}, ValueError, "alpha"),
    ("warmup_cosine_decay", {"exponent": 0.0}, ValueError, "exponent"),
    ("warmup_cosine_decay", {"steps": 2.5}, TypeError, "steps"),
    ("one_cycle", {"steps": 0}, ValueError, "steps"),
    ("one_cycle", {"pct_start": 1.0}, ValueError, "pct_start"),
    ("one_cycle", {"div_factor": 0.5}, ValueError, "div_factor"),
    ("one_cycle", {"final_div_factor": float("nan")}, ValueError, "final_div_factor"),
]


@pytest.mark.parametrize(("name", "options", "error", "mentions"), BAD)
def test_bad_options_raise(name, options, error, mentions):
    with pytest.raises(error, match=mentions) as raised:
        schedules.get(name)(0.1, **options)
    assert name in str(raised.value)


@pytest.mark.parametrize("name", sorted(schedules.BUILTINS))
def test_non_finite_init_value_raises(name):
    with pytest.raises(ValueError, match=rf"{name}: init_value must be a finite number"):
        schedules.get(name)(float("inf"))


def test_warmup_cosine_decay_shape():
    """0 -> peak linearly over the warm-up, half a cosine to alpha * peak at `steps`."""
    schedule = schedules.warmup_cosine_decay(0.2, warmup=10, steps=110, alpha=0.5)
    for step, want in [(0, 0.0), (5, 0.1), (10, 0.2), (60, 0.15), (110, 0.1), (500, 0.1)]:
        assert float(schedule(step)) == pytest.approx(want, abs=1e-7), step


def test_one_cycle_shape():
    """Rises from peak / div_factor to the peak at pct_start, falls to start / final_div_factor."""
    schedule = schedules.one_cycle(1.0, steps=100, pct_start=0.3)
    assert float(schedule(0)) == pytest.approx(1.0 / 25)
    assert float(schedule(30)) == pytest.approx(1.0)
    assert float(schedule(100)) == pytest.approx(1.0 / 25 / 1e4)
    values = [float(schedule(step)) for step in range(101)]
    assert np.all(np.diff(values[:31]) > 0) and np.all(np.diff(values[30:]) < 0)


@pytest.mark.parametrize("name", sorted(schedules.BUILTINS))
def test_every_schedule_drives_an_optimizer(name):
    import axon.optim

    schedule = schedules.get(name)(0.1)
    optimizer = axon.optim.sgd(learning_rate=schedule)
    params = jnp.ones(2)
    state = optimizer.init(params)
    for step in range(3):
        _, state = optimizer.update(params, state, params)
        np.testing.assert_allclose(state.hyperparams["learning_rate"], schedule(step), rtol=1e-6)
