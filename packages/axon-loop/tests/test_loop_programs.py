"""How many programs a run compiles (counted through JAX's compile events: a count, not a
time), and the cache that lets loops of an equal configuration share them."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import axon.loop
from axon.loop._engine.program_cache import compilations, fingerprint

DATA = [
    (np.full((4, 3), i / 10, np.float32), np.full((4, 1), 2.0 + i / 10, np.float32))
    for i in range(130)
]


def mlp(hidden=5):
    """A fresh model: an (init, apply) pair (axon-loop's tests run without axon-model)."""

    def init(key, x):
        k1, k2 = jax.random.split(key)
        return {
            "dense_0": {"kernel": jax.random.normal(k1, (x.shape[-1], hidden)) * 0.5},
            "dense_1": {"kernel": jax.random.normal(k2, (hidden, 1)) * 0.5, "bias": jnp.zeros(1)},
        }

    def apply(params, x, *, mode, key):
        hidden = jax.nn.relu(x @ params["dense_0"]["kernel"])
        return hidden @ params["dense_1"]["kernel"] + params["dense_1"]["bias"], None

    return init, apply


def trainer(model, learning_rate=1e-2, **options):
    loop = axon.loop.trainer(model, "mean_squared_error", optax.adam(learning_rate), log=0)
    return loop.metric("mean_absolute_error", **options).handle_event(
        "iteration_completed", lambda state: None, {"every": 50}
    )


def test_a_new_configuration_compiles_one_block_program():
    """Blocks of 50, 50 and 30 iterations: one block program serves all three. The
    trainer initializes eagerly, and JAX compiles each eager operation once per shape
    and process, so once a model of these shapes was initialized, a new configuration
    (here another learning rate, as in a sweep) compiles nothing else."""
    trainer(mlp(), learning_rate=0.0456).run(DATA[:2])  # these shapes were seen before
    with compilations() as counted:
        params = trainer(mlp(), learning_rate=0.0123).run(DATA)
    assert counted.compiled == 1
    assert np.isfinite(np.asarray(params["dense_1"]["kernel"])).all()


def test_an_equal_configuration_compiles_nothing():
    model = mlp()
    first = trainer(model).run(DATA, epochs=2)
    trainer(model).run(DATA, steps_per_dispatch=1)  # the single-step program too
    with compilations() as counted:  # a new trainer(...), a new optimizer object, same values
        again = trainer(model).run(DATA, epochs=2)
        trainer(model).replace(output_transform=None).run(DATA, steps_per_dispatch=1)
    assert counted.compiled == 0
    for layer, values in first.items():  # the same programs: the same results
        for name, value in values.items():
            np.testing.assert_array_equal(again[layer][name], value)


@pytest.mark.parametrize(
    "other",
    [
        lambda model: trainer(model, learning_rate=2e-2),  # another optimizer value
        lambda model: trainer(mlp(hidden=7)),  # another model
        lambda model: trainer(model).metric("accuracy"),  # another metric
    ],
)
def test_a_different_configuration_compiles_its_own_programs(other):
    model = mlp()
    trainer(model).run(DATA)
    with compilations() as counted:
        other(model).run(DATA)
    assert counted.compiled >= 1


def test_fingerprints_compare_closures_by_what_they_compute():
    assert fingerprint(optax.adam(1e-3)) == fingerprint(optax.adam(1e-3))
    assert fingerprint(optax.adam(1e-3)) != fingerprint(optax.adam(1e-2))
    assert fingerprint(optax.sgd(1e-3)) != fingerprint(optax.adam(1e-3))

    def scaled(scale):
        return lambda x: x * scale

    assert fingerprint(scaled(np.arange(3.0))) == fingerprint(scaled(np.arange(3.0)))
    assert fingerprint(scaled(np.arange(3.0))) != fingerprint(scaled(np.arange(3.0) + 1))
    model = mlp()
    assert fingerprint(model) == fingerprint(model)
    assert fingerprint(model) == fingerprint(mlp())  # the same code and closures
    assert fingerprint(model) != fingerprint(scaled(1.0))


class ScaledError:
    """A loss object a user might change between two runs."""

    def __init__(self, weight):
        self.weight = weight

    def __call__(self, y_true, y_pred):
        return self.weight * ((y_true - y_pred) ** 2).mean()


def test_a_changed_attribute_of_a_users_object_is_another_configuration():
    """Reusing a program traced with the old attribute would be a silent wrong result."""
    model, loss = mlp(), ScaledError(1.0)
    params = model[0](jax.random.key(0), DATA[0][0])

    def run():
        loop = axon.loop.trainer(model, loss, optax.sgd(0.1), log=0)
        return loop.run(DATA[:3], params, steps_per_dispatch=1)["dense_1"]["bias"]

    once = run()
    loss.weight = 0.0  # no gradient at all now: the parameters must not move
    np.testing.assert_array_equal(run(), params["dense_1"]["bias"])
    assert not np.array_equal(once, params["dense_1"]["bias"])
