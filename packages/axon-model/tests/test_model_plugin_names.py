"""Plugin layers must not shadow Model's own attributes."""

import pytest

import axon.model
from axon.model import plugins


class ShadowingPlugin:
    @plugins.hookimpl
    def axon_layers(self):
        return {"apply": lambda x: x}


def test_a_layer_named_like_a_model_method_is_rejected():
    with (
        plugins.system.temporary(ShadowingPlugin(), name="shadow"),
        pytest.raises(ValueError, match=r"taken by Model\.apply"),
    ):
        axon.model.layers.get("dense")
