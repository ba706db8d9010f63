"""Normalization builders: batch, instance, layer, group and RMS norm.

Deliberate choice: ``gamma`` starts at **ones** for every norm. Axon 0.8.1 initializes the
gamma of batch/instance/layer norm with ``glorot_uniform``, which makes a freshly built
norm scale each channel by a random (possibly negative) factor; PyTorch, Keras and Flax
start at ones, as do Axon's own group and RMS norms (and ``axon.functional``'s
``glorot_uniform`` refuses a 1-D shape, which has no fan-in/fan-out). Any initializer can
be passed as ``gamma_initializer``.

Every norm takes Keras's ``gamma_regularizer`` (and, with a ``beta``, ``beta_regularizer``):
a penalty name or object (``axon.functional.penalties``) added to the training loss.

Batch and instance norm keep running ``mean`` (zeros) and ``var`` (ones) as layer *state*
(``model_state.state``): in ``mode="train"`` they normalize with the batch statistics and
return the updated running statistics (``new = momentum * old + (1 - momentum) * batch``,
Axon's convention: ``momentum=0.1`` is PyTorch's ``momentum=0.9``); in inference they use
the running statistics.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from axon.functional import layers as F

from .._graph.constructors import Initializer, layer, param
from .._graph.model import Model
from .._graph.penalties import Regularizer
from .options import (
    axis_size,
    check_number,
    check_penalty,
    check_positive_int,
    is_int,
    option_error,
)


def _check_common(fn: str, channel_index: Any, epsilon: Any) -> tuple[int, float]:
    if not is_int(channel_index):
        raise option_error(fn, "channel_index", "an int axis", channel_index)
    return int(channel_index), check_number(fn, "epsilon", epsilon, minimum=0)


def _channels(fn: str, channel_index: int) -> Callable[[Sequence[int]], tuple[int]]:
    def shape_fn(shape: Sequence[int]) -> tuple[int]:
        return (axis_size(fn, shape, channel_index, "channel_index"),)

    return shape_fn


def _norm_layer(
    fn: str,
    op: Callable[..., Any],
    x: Model,
    shape: Callable[[Sequence[int]], tuple[int]],
    *,
    gamma_initializer: Initializer,
    beta_initializer: Initializer | None,
    regularizers: tuple[Regularizer, Regularizer] = (None, None),
    running_statistics: bool = False,
    name: str | None,
    config: dict[str, Any],
    **options: Any,
) -> Model:
    """A norm layer: ``gamma``, ``beta`` (unless ``None``), running ``mean``/``var`` as state
    when asked; ``config`` goes to the op and to ``display``, ``options`` to the op only.
    ``regularizers`` are the ``gamma_regularizer`` and ``beta_regularizer`` options."""
    gamma, beta = (
        check_penalty(fn, f"{which}_regularizer", value, name)
        for which, value in zip(("gamma", "beta"), regularizers, strict=True)
    )
    params = [param("gamma", shape, initializer=gamma_initializer, regularizer=gamma)]
    if beta_initializer is not None:
        params.append(param("beta", shape, initializer=beta_initializer, regularizer=beta))
    if running_statistics:
        params.append(param("mean", shape, initializer="zeros", kind="state"))
        params.append(param("var", shape, initializer="ones", kind="state"))
    return layer(op, [x, *params], name=name, op_name=fn, config=config, **config, **options)


def _stateful(
    fn: str,
    op: Callable[..., Any],
    x: Model,
    *,
    gamma_initializer: Initializer,
    beta_initializer: Initializer,
    channel_index: Any,
    epsilon: Any,
    momentum: Any,
    regularizers: tuple[Regularizer, Regularizer],
    name: str | None,
) -> Model:
    channel_index, epsilon = _check_common(fn, channel_index, epsilon)
    momentum = check_number(fn, "momentum", momentum, minimum=0)
    if momentum > 1:
        raise option_error(fn, "momentum", "a number in [0, 1] (weight of the old stats)", momentum)
    return _norm_layer(
        fn, op, x, _channels(fn, channel_index), gamma_initializer=gamma_initializer,
        beta_initializer=beta_initializer, regularizers=regularizers, running_statistics=True,
        name=name,
        config={"channel_index": channel_index, "epsilon": epsilon, "momentum": momentum},
    )  # fmt: skip


def batch_norm(
    x: Model,
    *,
    gamma_initializer: Initializer = "ones",
    beta_initializer: Initializer = "zeros",
    gamma_regularizer: Regularizer = None,
    beta_regularizer: Regularizer = None,
    channel_index: int = -1,
    epsilon: float = 1e-5,
    momentum: float = 0.1,
    name: str | None = None,
) -> Model:
    """Batch normalization (``Axon.batch_norm``) with running statistics as layer state.

    Params ``gamma``, ``beta`` ``(C,)``; state ``mean`` (zeros), ``var`` (ones). See the
    module docs for the update rule and for the ``gamma`` default (ones, not Axon's
    ``glorot_uniform``).

    Args:
        x: input with channels on ``channel_index``.
        gamma_initializer: initializer of the scale (default ``"ones"``; Axon: glorot_uniform).
        beta_initializer: initializer of the shift.
        gamma_regularizer: a penalty on ``gamma`` (Keras's option; e.g. ``"l2"``).
        beta_regularizer: a penalty on ``beta``.
        channel_index: the channel axis.
        epsilon: added to the variance.
        momentum: weight of the old running statistics.
        name: layer name.

    >>> import jax, jax.numpy as jnp, axon.model
    >>> model = axon.model.input("x", shape=(None, 2)).batch_norm()
    >>> state = model.init(0, jnp.zeros((1, 2)))
    >>> _, train_fn = axon.model.build(model, mode="train")
    >>> y, new_state = train_fn(state, jnp.array([[0.0, 1.0], [2.0, 3.0]]))
    >>> [round(v, 3) for v in new_state["batch_norm_0"]["mean"].tolist()]  # 0.1 * 0 + 0.9 * mean
    [0.9, 1.8]
    """
    return _stateful(
        "batch_norm", F.batch_norm, x, gamma_initializer=gamma_initializer,
        beta_initializer=beta_initializer, channel_index=channel_index, epsilon=epsilon,
        momentum=momentum, regularizers=(gamma_regularizer, beta_regularizer), name=name,
    )  # fmt: skip


def instance_norm(
    x: Model,
    *,
    gamma_initializer: Initializer = "ones",
    beta_initializer: Initializer = "zeros",
    gamma_regularizer: Regularizer = None,
    beta_regularizer: Regularizer = None,
    channel_index: int = -1,
    epsilon: float = 1e-5,
    momentum: float = 0.1,
    name: str | None = None,
) -> Model:
    """Instance normalization (``Axon.instance_norm``): statistics per sample and channel.

    Params and state as in :func:`batch_norm`; train mode normalizes with per-instance
    statistics and moves the running statistics toward their batch average; inference uses
    the running statistics (as Axon).

    >>> import jax.numpy as jnp, axon.model
    >>> model = axon.model.input("x", shape=(None, 4, 2)).instance_norm()
    >>> sorted(model.init(0, jnp.zeros((1, 4, 2))).state["instance_norm_0"])
    ['mean', 'var']
    """
    return _stateful(
        "instance_norm", F.instance_norm, x, gamma_initializer=gamma_initializer,
        beta_initializer=beta_initializer, channel_index=channel_index, epsilon=epsilon,
        momentum=momentum, regularizers=(gamma_regularizer, beta_regularizer), name=name,
    )  # fmt: skip


def layer_norm(
    x: Model,
    *,
    gamma_initializer: Initializer = "ones",
    beta_initializer: Initializer = "zeros",
    gamma_regularizer: Regularizer = None,
    beta_regularizer: Regularizer = None,
    channel_index: int = -1,
    epsilon: float = 1e-5,
    name: str | None = None,
) -> Model:
    """Layer normalization over ``channel_index`` (``Axon.layer_norm``); ``gamma`` starts at ones.

    >>> import jax.numpy as jnp, axon.model
    >>> model = axon.model.input("x", shape=(None, 2)).layer_norm()
    >>> x = jnp.array([[1.0, 3.0]])
    >>> model.apply(model.init(0, x), x)[0].round(3).tolist()
    [[-1.0, 1.0]]
    """
    fn = "layer_norm"
    channel_index, epsilon = _check_common(fn, channel_index, epsilon)
    return _norm_layer(
        fn, F.layer_norm, x, _channels(fn, channel_index), gamma_initializer=gamma_initializer,
        beta_initializer=beta_initializer, regularizers=(gamma_regularizer, beta_regularizer),
        name=name, config={"channel_index": channel_index, "epsilon": epsilon},
    )  # fmt: skip


def group_norm(
    x: Model,
    num_groups: int,
    *,
    gamma_initializer: Initializer = "ones",
    beta_initializer: Initializer = "zeros",
    gamma_regularizer: Regularizer = None,
    beta_regularizer: Regularizer = None,
    channel_index: int = -1,
    epsilon: float = 1e-5,
    name: str | None = None,
) -> Model:
    """Group normalization (``Axon.group_norm``): ``num_groups`` must divide the channels.

    >>> import jax.numpy as jnp, axon.model
    >>> model = axon.model.input("x", shape=(None, 4)).group_norm(2)
    >>> x = jnp.array([[0.0, 2.0, 5.0, 7.0]])
    >>> model.apply(model.init(0, x), x)[0].round(3).tolist()
    [[-1.0, 1.0, -1.0, 1.0]]
    """
    fn = "group_norm"
    num_groups = check_positive_int(fn, "num_groups", num_groups)
    channel_index, epsilon = _check_common(fn, channel_index, epsilon)

    def shape(input_shape: Sequence[int]) -> tuple[int]:
        channels = axis_size(fn, input_shape, channel_index, "channel_index")
        if channels % num_groups:
            raise ValueError(
                f"{fn}: option 'num_groups' ({num_groups}) must divide the {channels} channels "
                f"of an input of shape {tuple(input_shape)}."
            )
        return (channels,)

    return _norm_layer(
        fn, F.group_norm, x, shape, gamma_initializer=gamma_initializer,
        beta_initializer=beta_initializer, regularizers=(gamma_regularizer, beta_regularizer),
        name=name,
        config={"num_groups": num_groups, "channel_index": channel_index, "epsilon": epsilon},
    )  # fmt: skip


def rms_norm(
    x: Model,
    *,
    gamma_initializer: Initializer = "ones",
    gamma_regularizer: Regularizer = None,
    channel_index: int = -1,
    epsilon: float = 1e-6,
    shift: float = 0.0,
    upcast: str = "normalization",
    name: str | None = None,
) -> Model:
    """RMS normalization ``x / rms(x) * (shift + gamma)`` (``Axon.rms_norm``).

    ``upcast="normalization"`` normalizes in float32 and casts back before scaling;
    ``"all"`` computes everything in float32.

    >>> import jax.numpy as jnp, axon.model
    >>> model = axon.model.input("x", shape=(None, 2)).rms_norm(epsilon=0.0)
    >>> x = jnp.array([[3.0, 4.0]])
    >>> [round(v, 3) for v in model.apply(model.init(0, x), x)[0][0].tolist()]
    [0.849, 1.131]
    """
    fn = "rms_norm"
    channel_index, epsilon = _check_common(fn, channel_index, epsilon)
    shift = check_number(fn, "shift", shift)
    if upcast not in ("normalization", "all"):
        raise option_error(fn, "upcast", "'normalization' or 'all'", upcast)
    return _norm_layer(
        fn, F.rms_norm, x, _channels(fn, channel_index), gamma_initializer=gamma_initializer,
        beta_initializer=None, regularizers=(gamma_regularizer, None), name=name,
        config={"channel_index": channel_index, "epsilon": epsilon, "shift": shift},
        upcast=upcast,
    )  # fmt: skip


BUILDERS = {
    "batch_norm": batch_norm,
    "instance_norm": instance_norm,
    "layer_norm": layer_norm,
    "group_norm": group_norm,
    "rms_norm": rms_norm,
}
