"""Entry for axon-optim: the ``"sign_sgd"`` optimizer.

Registered in the ``axon.optim`` entry-point group, so ``axon.optim.get("sign_sgd")``
and ``axon.loop.trainer(model, loss, "sign_sgd")`` find it by name.
"""

from __future__ import annotations

import optax

from axon.optim.plugins import hookimpl


def sign_sgd(learning_rate: optax.ScalarOrSchedule = 1e-2) -> optax.GradientTransformation:
    """signSGD (Bernstein et al., 2018): ``params -= learning_rate * sign(grad)``.

    Every parameter moves by exactly ``learning_rate`` per step, whatever the size
    of its gradient. ``learning_rate`` may be a schedule ``count -> value``.

    Like the built-in optimizers, it is wrapped in :func:`optax.inject_hyperparams`
    so the learning rate lives in the state (``state.hyperparams["learning_rate"]``)
    and can be changed between steps.
    """
    if not callable(learning_rate) and not learning_rate > 0:
        raise ValueError(f"sign_sgd: learning_rate must be positive, got {learning_rate!r}.")
    return optax.inject_hyperparams(_sign_sgd)(learning_rate=learning_rate)


def _sign_sgd(learning_rate: optax.ScalarOrSchedule) -> optax.GradientTransformation:
    return optax.chain(optax.scale_by_sign(), optax.scale_by_learning_rate(learning_rate))


@hookimpl
def axon_optimizers():
    return {"sign_sgd": sign_sgd}
