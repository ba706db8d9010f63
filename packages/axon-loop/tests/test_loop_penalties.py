"""The trainer's side of the penalty contract, with a model written against it (no axon-model)."""

import jax
import jax.numpy as jnp
import numpy as np
import optax

import axon.loop


class PenalizedLinear:
    """A model offering ``has_penalties`` and ``as_functions(with_penalty=True)``."""

    def __init__(self, factor, has_penalties=True):
        self.factor, self.has_penalties = factor, has_penalties

    def init(self, key, x):
        return {"w": jnp.full((x.shape[-1], 1), 1.5)}

    def apply(self, params, x, *, mode, key):
        return x @ params["w"], None

    def apply_with_penalty(self, params, x, *, mode, key):
        prediction, state = self.apply(params, x, mode=mode, key=key)
        return prediction, state, self.factor * jnp.sum(params["w"] ** 2)

    def as_functions(self, *, with_penalty=False):
        return self.init, self.apply_with_penalty if with_penalty else self.apply


X = jnp.array([[1.0, -2.0], [3.0, 0.5], [-1.0, 4.0]])
Y = jnp.array([[2.0], [-1.0], [0.5]])


def test_the_trainer_descends_loss_plus_penalty_and_reports_both():
    loop = axon.loop.trainer(PenalizedLinear(0.25), "mean_squared_error", optax.sgd(0.1), log=0)
    state = loop.replace(output_transform=None).run([(X, Y)])
    w0 = jnp.full((2, 1), 1.5)
    grad = jax.grad(lambda w: jnp.mean((X @ w - Y) ** 2) + 0.25 * jnp.sum(w**2))(w0)
    np.testing.assert_allclose(state.step_state["model_state"]["w"], w0 - 0.1 * grad, rtol=1e-6)
    assert float(state.history[0]["penalty"]) == 0.25 * 4.5
    assert float(state.history[0]["loss"]) == float(jnp.mean((X @ w0 - Y) ** 2))


def test_a_model_without_penalties_gets_no_penalty_metric():
    loop = axon.loop.trainer(
        PenalizedLinear(0.25, has_penalties=False), "mean_squared_error", optax.sgd(0.1), log=0
    )
    state = loop.replace(output_transform=None).run([(X, Y)])
    assert sorted(state.history[0]) == ["loss"]
    assert "penalty" not in state.step_state
