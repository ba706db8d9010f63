"""Loss scaling (Axon.LossScale): identity, static, dynamic."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from axon.optim import loss_scale

GRADS = {"w": jnp.array([1.0, -2.0]), "b": (jnp.array(0.5),)}


def with_value(value):
    return jax.tree.map(lambda x: x * 0 + value, GRADS)


def test_identity_passes_everything_through():
    init, scale, unscale = loss_scale.identity()
    state = init()
    assert scale(GRADS, state) is GRADS
    assert unscale(GRADS, state) == (GRADS, state)


def test_static_scales_and_unscales_and_never_changes():
    init, scale, unscale = loss_scale.static()
    state = init()
    assert float(state.loss_scale) == 2.0**15
    np.testing.assert_array_equal(scale(jnp.array(3.0), state), 3.0 * 2**15)
    unscaled, after = unscale(jax.tree.map(lambda g: g * 2**15, GRADS), state)
    for got, want in zip(jax.tree.leaves(unscaled), jax.tree.leaves(GRADS), strict=True):
        np.testing.assert_array_equal(got, want)
    _, after = unscale(with_value(jnp.inf), after)
    assert float(after.loss_scale) == 2.0**15


def test_dynamic_defaults_are_axons():
    state = loss_scale.dynamic().init()
    assert isinstance(state, loss_scale.DynamicLossScaleState)
    assert float(state.loss_scale) == 2.0**15 and int(state.counter) == 0


def reference_dynamic(finite_steps, init_scale, period, factor, min_loss_scale):
    """Axon's adjust_dynamic, written out in Python."""
    scale, counter, history = init_scale, 0, []
    for finite in finite_steps:
        if finite:
            if counter == period - 1:
                scale = scale * factor if math.isfinite(scale * factor) else scale
            counter = (counter + 1) % period
        else:
            scale = max(min_loss_scale, scale / factor)
            counter = 0
        history.append((scale, counter))
    return history


@pytest.mark.parametrize(
    ("init_scale", "period", "factor", "min_loss_scale"),
    [(2.0**15, 3, 2.0, 1.0), (8.0, 2, 4.0, 2.0), (1024.0, 1, 2.0, 1.0)],
)
def test_dynamic_grows_after_a_period_and_backs_off_on_overflow(
    init_scale, period, factor, min_loss_scale
):
    finite_steps = [True] * 7 + [False, False, True, True, True] + [False] * 6 + [True] * 4
    init, _, unscale = loss_scale.dynamic(init_scale, period, factor, min_loss_scale)
    unscale = jax.jit(unscale)
    state = init()
    expected = reference_dynamic(finite_steps, init_scale, period, factor, min_loss_scale)
    for step, (finite, (want_scale, want_counter)) in enumerate(
        zip(finite_steps, expected, strict=True)
    ):
        used = float(state.loss_scale)
        grads = with_value(3.0 * used) if finite else with_value(jnp.inf)
        unscaled, state = unscale(grads, state)
        if finite:  # divided by the scale that was used to compute them
            np.testing.assert_allclose(jax.tree.leaves(unscaled)[0], 3.0)
        assert float(state.loss_scale) == want_scale, f"step {step}"
        assert int(state.counter) == want_counter, f"step {step}"


def test_dynamic_treats_nan_as_overflow_and_stays_at_the_minimum():
    init, _, unscale = loss_scale.dynamic(init_scale=4.0, min_loss_scale=2.0)
    state = init()
    for want in (2.0, 2.0):
        _, state = unscale({"w": jnp.array([1.0, jnp.nan])}, state)
        assert float(state.loss_scale) == want


def test_dynamic_does_not_grow_into_infinity():
    init, _, unscale = loss_scale.dynamic(init_scale=3e38, period=1)
    _, state = unscale(GRADS, init())
    assert float(state.loss_scale) == pytest.approx(3e38)


def test_scale_keeps_leaf_dtypes():
    init, scale, unscale = loss_scale.dynamic(init_scale=2.0**10)
    state = init()
    half = {"x": jnp.array([1.0], jnp.float16), "y": jnp.array([1.0], jnp.bfloat16)}
    scaled = scale(half, state)
    assert scaled["x"].dtype == jnp.float16 and scaled["y"].dtype == jnp.bfloat16
    assert float(scaled["x"][0]) == 1024.0
    assert jax.tree.map(lambda x: x.dtype, unscale(half, state)[0]) == {
        "x": jnp.float16,
        "y": jnp.bfloat16,
    }


def test_a_mixed_precision_step_with_skipping_on_overflow():
    """The documented pattern: scale the loss, unscale grads, skip non-finite updates."""
    init, scale, unscale = loss_scale.dynamic(init_scale=2.0**4, period=2)
    optimizer = optax.sgd(0.1)

    def loss(params, x):
        return jnp.sum((params * x) ** 2)

    @jax.jit
    def step(params, opt_state, ls_state, x):
        grads = jax.grad(lambda p: scale(loss(p, x), ls_state))(params)
        grads, ls_state = unscale(grads, ls_state)
        updates, new_opt_state = optimizer.update(grads, opt_state, params)
        finite = loss_scale.all_finite(grads)
        params = jnp.where(finite, optax.apply_updates(params, updates), params)
        return params, new_opt_state, ls_state

    params = jnp.array([1.0, 1.0])
    opt_state, ls_state = optimizer.init(params), init()
    params, opt_state, ls_state = step(params, opt_state, ls_state, jnp.array([1.0, 1.0]))
    np.testing.assert_allclose(params, [0.8, 0.8], rtol=1e-6)
    params_before = params
    params, opt_state, ls_state = step(params, opt_state, ls_state, jnp.array([jnp.inf, 1.0]))
    np.testing.assert_array_equal(params, params_before)  # skipped
    assert float(ls_state.loss_scale) == 8.0


def test_all_finite():
    assert bool(loss_scale.all_finite(GRADS))
    assert not bool(loss_scale.all_finite(with_value(-jnp.inf)))
    assert bool(loss_scale.all_finite({}))


def test_get_by_name_suggests_close_matches():
    assert loss_scale.get("static", init_scale=4.0).init().loss_scale == 4.0
    assert loss_scale.names() == ["dynamic", "identity", "static"]
    with pytest.raises(LookupError, match=r"Unknown loss scale 'dynamc'\. Did you mean 'dynamic'"):
        loss_scale.get("dynamc")


@pytest.mark.parametrize(
    ("build", "error", "mentions"),
    [
        (lambda: loss_scale.static(0.0), ValueError, "static: init_scale"),
        (lambda: loss_scale.static(math.inf), ValueError, "static: init_scale"),
        (lambda: loss_scale.dynamic(period=0), ValueError, "dynamic: period"),
        (lambda: loss_scale.dynamic(period=1.5), TypeError, "dynamic: period"),
        (lambda: loss_scale.dynamic(factor=0.5), ValueError, "dynamic: factor"),
        (lambda: loss_scale.dynamic(min_loss_scale=-1.0), ValueError, "min_loss_scale"),
        (lambda: loss_scale.dynamic(init_scale=2.0, min_loss_scale=4.0), ValueError, "exceed"),
    ],
)
def test_bad_options_raise(build, error, mentions):
    with pytest.raises(error, match=mentions):
        build()
