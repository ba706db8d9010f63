"""One small model per built-in layer op: the matrix the export tests and the generated
table of supported ops (docs/reference/onnx-export-ops.md) are made from.

Each case is ``(op, model, templates)``; inputs are drawn far from unit scale by the
tests. Token inputs are int32 ids below the vocabulary size.
"""

from __future__ import annotations

import jax.numpy as jnp

import axon.model as am

SEQ, IMG = (None, 6, 5), (None, 7, 7, 3)


def _x(shape=SEQ, name="x"):
    return am.input(name, shape=shape)


def _f(*shape):
    return jnp.zeros((2, *shape), jnp.float32)


_ACTIVATIONS = [
    "celu", "elu", "exp", "gelu", "hard_sigmoid", "hard_silu", "hard_tanh", "leaky_relu",
    "linear", "log_sumexp", "log_sigmoid", "log_softmax", "mish", "relu", "relu6", "selu",
    "sigmoid", "silu", "softmax", "softplus", "softsign", "tanh",
]  # fmt: skip


def cases():
    """``[(op, model, templates)]`` for every built-in layer op that ONNX can express."""
    seq, img = _f(6, 5), _f(7, 7, 3)
    ids = jnp.zeros((2, 6), jnp.int32)
    out = [(name, getattr(_x(), name)(), seq) for name in _ACTIVATIONS]
    out += [
        ("swiglu", _x((None, 6, 8)).swiglu(), _f(6, 8)),
        ("activation", _x().activation("gelu"), seq),
        ("dense", _x().dense(4, activation="relu"), seq),
        ("bilinear", am.layers.get("bilinear")(_x(), _x(name="y"), 3), {"x": seq, "y": seq}),
        ("embedding", _x((None, 6)).embedding(11, 4), ids),
        ("bias", _x().bias(bias_initializer="normal"), seq),
        ("conv", _x(IMG).conv(4, kernel_size=3, strides=2, padding="same"), img),
        (
            "conv",
            _x((None, 3, 7, 7)).conv(4, kernel_size=(3, 2), kernel_dilation=2, channels="first"),
            _f(3, 7, 7),
        ),
        (
            "conv_transpose",
            _x(IMG).conv_transpose(4, kernel_size=3, strides=2, padding="same"),
            img,
        ),
        ("depthwise_conv", _x(IMG).depthwise_conv(2, kernel_size=3), img),
        ("separable_conv2d", _x(IMG).separable_conv2d(2, kernel_size=3), img),
        (
            "separable_conv3d",
            _x((None, 4, 4, 4, 2)).separable_conv3d(2, kernel_size=2),
            _f(4, 4, 4, 2),
        ),
        ("max_pool", _x(IMG).max_pool(kernel_size=2), img),
        ("avg_pool", _x(IMG).avg_pool(kernel_size=3, strides=2, padding="same"), img),
        ("lp_pool", _x(IMG).lp_pool(kernel_size=2), img),
        ("blur_pool", _x(IMG).blur_pool(), img),
        ("adaptive_avg_pool", _x(IMG).adaptive_avg_pool(3), img),
        ("adaptive_max_pool", _x(IMG).adaptive_max_pool(3), img),
        ("adaptive_lp_pool", _x(IMG).adaptive_lp_pool(3), img),
        ("global_avg_pool", _x(IMG).global_avg_pool(), img),
        ("global_max_pool", _x(IMG).global_max_pool(keep_axes=True), img),
        ("global_lp_pool", _x(IMG).global_lp_pool(), img),
        ("batch_norm", _x(IMG).batch_norm(), img),
        ("instance_norm", _x(IMG).instance_norm(), img),
        ("layer_norm", _x().layer_norm(), seq),
        ("group_norm", _x((None, 6, 4)).group_norm(2), _f(6, 4)),
        ("rms_norm", _x().rms_norm(), seq),
        ("dropout", _x().dropout(rate=0.5), seq),
        ("spatial_dropout", _x(IMG).spatial_dropout(), img),
        ("alpha_dropout", _x().alpha_dropout(), seq),
        ("feature_alpha_dropout", _x().feature_alpha_dropout(), seq),
        ("flatten", _x().flatten(), seq),
        ("reshape", _x().reshape(("batch", 5, 6)), seq),
        ("transpose", _x().transpose([0, 2, 1]), seq),
        ("pad", _x(IMG).pad([(1, 2), (0, 1)]), img),
        ("resize", _x(IMG).resize((14, 14)), img),
        ("resize", _x(IMG).resize((5, 9), method="bilinear", antialias=False), img),
        ("concatenate", am.layers.get("concatenate")(_x(), _x(name="y")), {"x": seq, "y": seq}),
        ("add", am.layers.get("add")(_x(), _x(name="y")), {"x": seq, "y": seq}),
        ("subtract", am.layers.get("subtract")(_x(), _x(name="y")), {"x": seq, "y": seq}),
        ("multiply", am.layers.get("multiply")(_x(), _x(name="y")), {"x": seq, "y": seq}),
        ("split", am.container(_x().split(2, axis=1)), seq),
        ("container", _container(), seq),
        ("constant", am.layers.get("add")(_x(), am.constant(jnp.full((6, 5), 3.0))), seq),
        ("nx", _x().nx(lambda v: jnp.cumsum(v * v, axis=1)), seq),
        ("lstm", am.container(_x().lstm(4)), seq),
        ("lstm", am.container(_x().lstm(4, reverse=True)), seq),
        ("gru", am.container(_x().gru(4)), seq),
        (
            "conv_lstm",
            am.container(_x((None, 3, 5, 5, 2)).conv_lstm(3, kernel_size=3)),
            _f(3, 5, 5, 2),
        ),
        ("mask", _x((None, 6)).mask(0), ids),
        ("additive_attention", _x().additive_attention(units=4), seq),
        (
            "multi_head_attention",
            _x().multi_head_attention(num_heads=2, key_size=3, causal=True),
            seq,
        ),
        (
            "transformer_encoder",
            _x((None, 6, 8)).transformer_encoder(num_heads=2, hidden_size=16),
            _f(6, 8),
        ),
    ]
    return out


def _container():
    x = _x()
    return am.container({"a": x.relu(), "b": (x.tanh(), x.sigmoid())})
