"""What the model checks before it computes a wrong answer: model states against the model,
empty layer outputs, embedding ids and input dtypes."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import axon.model
from axon.model import InputError, LayerError
from axon.model._compiler import program

X = jax.random.normal(jax.random.key(0), (8, 4))


def classifier(hidden, classes):
    x = axon.model.input("features", shape=(None, 4))
    return x.dense(hidden, activation="relu", name="hidden").dense(classes, name="logits")


# -- a model state of another model -----------------------------------------------------------


def test_apply_and_predict_refuse_the_state_of_another_model_with_the_same_layer_names():
    small, wide = classifier(8, 3), classifier(16, 5)
    wide_state = wide.init(0, X)
    for run in (
        lambda: axon.model.predict(small, wide_state, X),
        lambda: small.apply(wide_state, X, mode="train", key=jax.random.key(1)),
        lambda: jax.jit(small.apply)(wide_state, X),
    ):
        with pytest.raises(InputError) as error:
            run()
        message = str(error.value)
        assert "does not fit this model for inputs (8, 4) float32" in message
        assert "parameter 'kernel' of layer 'hidden' (dense, defined at " in message
        assert "test_model_checks.py" in message
        assert "has shape (4, 16) float32 in the model state; this model needs (4, 8)" in message
        assert "parameter 'bias' of layer 'logits'" in message  # every misfit, not only one
        assert "Create it with this model's init" in message


def test_a_parameter_of_another_kind_of_dtype_is_refused_but_precision_may_differ():
    model = classifier(8, 3)
    state = model.init(0, X)
    as_ints = state.replace(
        params={**state.params, "logits": {"kernel": jnp.zeros((8, 3), jnp.int32), "bias": 0}}
    )
    with pytest.raises(InputError, match=r"'kernel' of layer 'logits'.*int32.*needs \(8, 3\) f"):
        model.apply(as_ints, X)
    # a bfloat16 copy of the parameters still runs (the op promotes, as a policy would cast)
    half = state.replace(
        params=jax.tree_util.tree_map(lambda p: p.astype(jnp.bfloat16), state.params)
    )
    assert model.apply(half, X)[0].shape == (8, 3)


def test_inputs_of_another_size_than_at_init_are_named_too():
    model = axon.model.input("features").dense(3, name="head")  # no declared shape
    state = model.init(0, X)
    with pytest.raises(InputError) as error:
        model.apply(state, jnp.ones((8, 5)))
    assert "for inputs (8, 5) float32" in str(error.value)
    assert "has shape (4, 3) float32 in the model state; this model needs (5, 3)" in str(
        error.value
    )


def test_the_state_is_checked_once_per_signature_not_on_every_call(monkeypatch):
    calls = []
    checked = program.misfits
    monkeypatch.setattr(program, "misfits", lambda *args: calls.append(1) or checked(*args))
    model = classifier(8, 3)
    state = model.init(0, X)
    calls.clear()
    for _ in range(3):
        model.apply(state, X)
    assert len(calls) == 2  # one per layer with parameters, while tracing the first call
    step = jax.jit(lambda s, x: model.apply(s, x)[0].sum())
    for _ in range(3):
        step(state, X)
    assert len(calls) == 2  # the caller's jit reuses the model's trace: no check at all


# -- empty layer outputs -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "build",
    [
        lambda x: x.conv(4, kernel_size=5, name="edges"),
        lambda x: x.max_pool(kernel_size=5, name="edges"),
        lambda x: x.conv(4, kernel_size=3, strides=2).conv(4, kernel_size=3, name="edges"),
    ],
    ids=["conv", "max_pool", "after-a-strided-conv"],
)
def test_a_valid_window_larger_than_its_input_is_refused_at_init(build):
    model = build(axon.model.input("image", shape=(None, None, None, 1)))
    images = jnp.ones((2, 3, 3, 1))
    with pytest.raises(LayerError) as error:
        model.init(0, images)
    message = str(error.value)
    assert "Layer 'edges' (" in message and "test_model_checks.py" in message
    assert (
        "produces an empty output (2, 0, 0, " in message and "from inputs of shape (2, " in message
    )
    assert "kernel_size=5" in message or "kernel_size=3" in message
    assert "padding='same'" in message


def test_an_empty_output_is_refused_at_apply_when_the_inputs_shrink_after_init():
    model = axon.model.input("image", shape=(None, None, None, 1)).conv(4, kernel_size=5)
    state = model.init(0, jnp.ones((2, 8, 8, 1)))
    assert model.apply(state, jnp.ones((2, 8, 8, 1)))[0].shape == (2, 4, 4, 4)
    with pytest.raises(LayerError, match=r"'conv_0'.*empty output \(2, 0, 0, 4\)"):
        model.apply(state, jnp.ones((2, 3, 3, 1)))


def test_an_empty_batch_is_not_an_empty_output():
    model = axon.model.input("image", shape=(None, 8, 8, 1)).conv(4, kernel_size=3)
    state = model.init(0, jnp.ones((2, 8, 8, 1)))
    assert model.apply(state, jnp.ones((0, 8, 8, 1)))[0].shape == (0, 6, 6, 4)


# -- embedding ids ---------------------------------------------------------------------------


def embedder():
    return axon.model.input("tokens", shape=(None, 5)).embedding(10, 4, name="tokens_embedded")


def test_out_of_range_embedding_ids_are_refused_in_eager_calls():
    model = embedder()
    state = model.init(0, jnp.zeros((1, 5), jnp.int32))
    for ids, received in [
        ([[1, 2, 3, 10, 4]], "from 1 to 10"),
        ([[1, 2, -1, 0, 4]], "from -1 to 4"),
    ]:
        with pytest.raises(InputError) as error:
            axon.model.predict(model, state, jnp.array(ids))
        message = str(error.value)
        assert "Layer 'tokens_embedded' (embedding, defined at " in message
        assert f"received ids {received}, outside [0, 10)" in message and "clamp" in message
    with pytest.raises(InputError, match="outside"):  # under jax.grad, values are concrete
        jax.grad(lambda s: model.apply(s, jnp.array([[12, 0, 0, 0, 0]]))[0].sum())(state)
    assert model.apply(state, jnp.array([[0, 9, 3, 3, 3]]))[0].shape == (1, 5, 4)


def test_inside_jit_out_of_range_ids_are_clamped_as_documented():
    model = embedder()
    state = model.init(0, jnp.zeros((1, 5), jnp.int32))
    kernel = state.params["tokens_embedded"]["kernel"]
    out = jax.jit(lambda s, ids: model.apply(s, ids)[0])(state, jnp.array([[-1, 10, 0, 9, 9]]))
    np.testing.assert_array_equal(out[0], kernel[jnp.array([0, 9, 0, 9, 9])])


# -- input dtypes ------------------------------------------------------------------------------


def test_an_object_array_is_refused_naming_the_input_and_its_dtype():
    model = classifier(8, 3)
    state = model.init(0, X)
    with_missing_values = np.array([[0.1, 0.2, 0.3, None]] * 8)  # e.g. from a DataFrame
    ragged = np.array([np.ones(4), np.ones(3)], dtype=object)
    for data in (with_missing_values, ragged):
        for run in (
            lambda d=data: axon.model.predict(model, state, d),
            lambda d=data: model.init(0, d),
        ):
            with pytest.raises(InputError) as error:
                run()
            message = str(error.value)
            assert "Input 'features' (defined at " in message and "dtype object" in message
            assert "np.asarray(x, dtype=np.float32)" in message
            assert "static_argnums" not in message
