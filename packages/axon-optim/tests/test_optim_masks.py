"""Masks by parameter path: match/exclude, masked, partition, freeze."""

from __future__ import annotations

import re
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import axon.optim
from axon.optim import masks, updates

PARAMS = {
    "encoder": {"dense_0": {"kernel": jnp.ones((2, 2)), "bias": jnp.ones(2)}},
    "norm": {"scale": jnp.ones(2), "bias": jnp.ones(2)},
    "head": [jnp.ones(2), (jnp.ones(1),)],
}
PATHS = [
    "encoder/dense_0/bias", "encoder/dense_0/kernel", "head/0", "head/1/0", "norm/bias",
    "norm/scale",
]  # fmt: skip


def grads():
    leaves, treedef = jax.tree.flatten(PARAMS)
    return jax.tree.unflatten(treedef, [jnp.full(x.shape, i + 1.0) for i, x in enumerate(leaves)])


def by_path(tree):
    return dict(zip(masks.paths(tree), jax.tree.leaves(tree), strict=True))


def test_paths_join_keys_indices_and_attributes():
    assert masks.paths(PARAMS) == PATHS

    class Pair(NamedTuple):
        weight: jax.Array
        extra: jax.Array

    assert masks.paths({"pair": Pair(jnp.ones(1), jnp.ones(1))}) == ["pair/weight", "pair/extra"]


def test_match_and_exclude_are_complements():
    assert by_path(masks.match("*bias")(PARAMS)) == {p: p.endswith("bias") for p in PATHS}
    assert by_path(masks.exclude("*bias", "norm/*")(PARAMS)) == {
        p: not (p.endswith("bias") or p.startswith("norm/")) for p in PATHS
    }


def test_globs_match_whole_paths_and_regexes_fullmatch():
    assert by_path(masks.match("head/*")(PARAMS))["head/1/0"] is True  # * crosses '/'
    assert not any(masks.match("bias", strict=False)(PARAMS)["norm"].values())  # not a suffix
    regex = masks.match(re.compile(r"encoder/.*/(kernel|bias)"))(PARAMS)
    assert [p for p, hit in by_path(regex).items() if hit] == PATHS[:2]


def test_a_pattern_that_matches_nothing_is_an_error_listing_the_paths():
    with pytest.raises(ValueError) as raised:
        masks.match("encodr/*")(PARAMS)
    message = str(raised.value)
    assert "pattern 'encodr/*' matches no parameter path" in message
    assert "encoder/dense_0/kernel" in message and "strict=False" in message
    with pytest.raises(ValueError, match=r"did you mean '\*kernel' or 'kernel\*'"):
        masks.match("kernel")(PARAMS)
    assert not any(jax.tree.leaves(masks.match("encodr/*", strict=False)(PARAMS)))


def test_bad_patterns_raise():
    with pytest.raises(ValueError, match="at least one pattern"):
        masks.match()
    with pytest.raises(TypeError, match="glob strings"):
        masks.exclude(3)


def test_masked_transforms_only_the_matching_parameters():
    transform = masks.masked(updates.scale(-2.0), ["*kernel", "head/*"])
    out = by_path(transform.update(grads(), transform.init(PARAMS))[0])
    original = by_path(grads())
    for path in PATHS:
        factor = -2.0 if path.endswith("kernel") or path.startswith("head") else 1.0
        np.testing.assert_allclose(out[path], factor * original[path])


def test_no_weight_decay_on_biases_and_norms_two_ways():
    """The mask option of add_decayed_weights and a partition give the same updates."""
    decay = updates.add_decayed_weights(0.5, mask=masks.exclude("*bias", "norm/*"))
    out = by_path(decay.update(grads(), decay.init(PARAMS), PARAMS)[0])
    for path in PATHS:
        decayed = not (path.endswith("bias") or path.startswith("norm/"))
        np.testing.assert_allclose(out[path], by_path(grads())[path] + (0.5 if decayed else 0.0))

    grouped = masks.partition(
        {"decay": axon.optim.adamw(1e-2, decay=0.1), "no_decay": axon.optim.adam(1e-2)},
        {"*bias": "no_decay", "norm/*": "no_decay"},
        default="decay",
    )
    reference = optax.chain(
        optax.scale_by_adam(eps_root=1e-15),
        optax.add_decayed_weights(0.1, mask=masks.exclude("*bias", "norm/*")),
        optax.scale_by_learning_rate(1e-2),
    )
    params, state = PARAMS, grouped.init(PARAMS)
    ref_params, ref_state = PARAMS, reference.init(PARAMS)
    for _ in range(3):
        step, state = grouped.update(grads(), state, params)
        ref_step, ref_state = reference.update(grads(), ref_state, ref_params)
        # Hyperparameters held as float32 arrays (injected) vs Python floats: 1 - b2**t
        # differs in the last bits, which the cancellation turns into ~1e-5 relative.
        for a, b in zip(jax.tree.leaves(step), jax.tree.leaves(ref_step), strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-4)
        params = optax.apply_updates(params, step)
        ref_params = optax.apply_updates(ref_params, ref_step)


def test_add_decayed_weights_takes_patterns_directly():
    decay = updates.add_decayed_weights(1.0, mask="*kernel")
    out = by_path(decay.update(grads(), decay.init(PARAMS), PARAMS)[0])
    np.testing.assert_allclose(
        out["encoder/dense_0/kernel"], by_path(grads())["encoder/dense_0/kernel"] + 1
    )
    np.testing.assert_allclose(out["norm/scale"], by_path(grads())["norm/scale"])


def test_freeze_zeroes_updates_and_keeps_no_state_for_frozen_parameters():
    optimizer = masks.freeze(axon.optim.adam(learning_rate=0.1), "encoder/*", "norm/bias")
    state = optimizer.init(PARAMS)
    step, state = optimizer.update(grads(), state, PARAMS)
    frozen = {"encoder/dense_0/bias", "encoder/dense_0/kernel", "norm/bias"}
    for path, value in by_path(step).items():
        if path in frozen:
            np.testing.assert_array_equal(value, 0.0)
        else:
            np.testing.assert_allclose(np.abs(value), 0.1, rtol=1e-4)  # Adam's first step
    # Adam's moments exist only for the trainable parameters.
    adam_state = state.inner_states["trainable"].inner_state
    mu = adam_state.inner_state[0].mu
    kept = [
        p
        for p, leaf in zip(
            masks.paths(PARAMS),
            jax.tree.leaves(mu, is_leaf=lambda x: isinstance(x, optax.MaskedNode)),
            strict=True,
        )
        if not isinstance(leaf, optax.MaskedNode)
    ]
    assert set(kept) == set(PATHS) - frozen


def test_freeze_under_jit_and_with_apply_updates():
    optimizer = masks.freeze(axon.optim.sgd(learning_rate=0.5), "head/*")
    state = optimizer.init(PARAMS)
    step, _ = jax.jit(optimizer.update)(grads(), state, PARAMS)
    new = by_path(updates.apply_updates(PARAMS, step))
    np.testing.assert_array_equal(new["head/0"], 1.0)
    np.testing.assert_allclose(new["norm/scale"], 1.0 - 0.5 * by_path(grads())["norm/scale"])


def test_partition_first_rule_wins_and_labels_are_checked():
    seen = masks.partition(
        {"a": updates.scale(2.0), "b": updates.scale(3.0)},
        {"norm/bias": "a", "*bias": "b"},
        default="a",
    )
    out = by_path(seen.update(grads(), seen.init(PARAMS))[0])
    np.testing.assert_allclose(out["norm/bias"], 2 * by_path(grads())["norm/bias"])
    np.testing.assert_allclose(
        out["encoder/dense_0/bias"], 3 * by_path(grads())["encoder/dense_0/bias"]
    )
    with pytest.raises(ValueError, match="label 'c' has no transformation"):
        masks.partition({"a": updates.identity()}, {"*": "c"})
    no_default = masks.partition({"a": updates.identity()}, {"*bias": "a"})
    with pytest.raises(ValueError, match="'encoder/dense_0/kernel' matches no rule"):
        no_default.init(PARAMS)
    with pytest.raises(TypeError, match="argument 1 is the function 'identity'"):
        masks.partition({"a": updates.identity}, {"*": "a"})
    with pytest.raises(TypeError, match="non-empty mapping"):
        masks.partition({}, {"*": "a"})
