"""axon.functional.penalties against hand-written sums, their gradients, data round trips."""

import dataclasses
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from axon.functional import penalties
from axon.functional.penalties import L1, L1L2, L2, Penalty

TREE = {
    "kernel": jnp.array([[1.5, -2.25], [30.0, -0.125]]),
    "layers": [jnp.array([-7.0, 11.0, 0.5]), jnp.array(-4.0)],
    "ids": jnp.array([3, -9]),  # integer leaves are not parameters: never penalized
}
FLOATS = [np.asarray(x, np.float64) for x in (TREE["kernel"], *TREE["layers"])]


def by_hand(l1, l2):
    return sum(l1 * np.abs(x).sum() + l2 * (x**2).sum() for x in FLOATS)


@pytest.mark.parametrize(
    ("penalty", "expected"),
    [
        (lambda t: penalties.l1(t, 0.003), by_hand(0.003, 0.0)),
        (lambda t: penalties.l2(t, 0.003), by_hand(0.0, 0.003)),
        (lambda t: penalties.l1_l2(t, 0.003, 0.07), by_hand(0.003, 0.07)),
        (L1(2.5), by_hand(2.5, 0.0)),
        (L2(2.5), by_hand(0.0, 2.5)),
        (L1L2(l1=0.2, l2=1.75), by_hand(0.2, 1.75)),
        (penalties.resolve("l2"), by_hand(0.0, 0.01)),  # Keras's default factor
        (penalties.resolve("l1_l2"), by_hand(0.01, 0.01)),
    ],
)
def test_penalties_equal_the_hand_written_sums(penalty, expected):
    value = penalty(TREE)
    assert value.dtype == jnp.float32 and value.shape == ()
    np.testing.assert_allclose(float(value), expected, rtol=1e-6)


def test_gradients_are_the_hand_written_ones():
    floats = {"a": TREE["kernel"], "b": TREE["layers"][0]}
    l1_grad = jax.grad(L1L2(l1=0.3, l2=0.0))(floats)
    l2_grad = jax.grad(L2(0.4))(floats)
    for key, x in floats.items():
        np.testing.assert_allclose(l1_grad[key], 0.3 * np.sign(x), rtol=1e-6)
        np.testing.assert_allclose(l2_grad[key], 2 * 0.4 * np.asarray(x), rtol=1e-6)  # no 1/2


def test_low_precision_leaves_are_summed_in_float32():
    x = jnp.full((4096,), 0.01, jnp.bfloat16)
    value = L2(1.0)(x)
    assert value.dtype == jnp.float32
    np.testing.assert_allclose(float(value), 4096 * float(x[0]) ** 2, rtol=1e-5)


@pytest.mark.parametrize("penalty", [L1(1e-4), L2(0.5), L1L2(l1=0.25, l2=3.0)])
def test_penalties_serialize_to_json_and_back(penalty):
    data = json.loads(json.dumps(penalties.serialize(penalty)))
    rebuilt = penalties.deserialize(data)
    assert rebuilt == penalty and type(rebuilt) is type(penalty)
    assert penalties.resolve(data) == penalty


def test_factors_are_checked():
    for bad in (-1.0, float("nan"), "0.1", True):
        with pytest.raises(ValueError, match="l2 must be a finite number >= 0"):
            L2(bad)


def test_functions_and_unknown_names_are_refused_with_what_to_do():
    with pytest.raises(TypeError, match=r"A function is not accepted.*Penalty"):
        penalties.resolve(lambda tree: 0.0)
    with pytest.raises(LookupError, match=r"Unknown penalty 'l3'.*Known penalties: l1, l1_l2, l2"):
        penalties.resolve("l3")
    with pytest.raises(ValueError, match="cannot be built from config"):
        penalties.deserialize({"name": "l2", "config": {"factor": 0.1}})


def test_an_unregistered_penalty_cannot_be_serialized_and_a_registered_one_can():
    @dataclasses.dataclass(frozen=True)
    class Max(Penalty):
        factor: float = 1.0

        def __call__(self, tree):
            return self.factor * max(jnp.max(jnp.abs(x)) for x in jax.tree_util.tree_leaves(tree))

    with pytest.raises(TypeError, match=r"not registered.*axon_penalties"):
        penalties.serialize(Max(2.0))

    from axon.functional.plugins import hookimpl, system

    class Plugin:
        @hookimpl
        def axon_penalties(self):
            return {"max": Max}

    with system.temporary(Plugin(), name="max-plugin"):
        assert penalties.serialize(Max(2.0)) == {"name": "max", "config": {"factor": 2.0}}
        assert penalties.resolve("max")(jnp.array([1.0, -3.0])) == 3.0
