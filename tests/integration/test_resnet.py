"""A ResNet-style graph (shared skip connections, batch norm, pooling) end to end: build,
display, train a step, save/load, export."""

import jax
import jax.numpy as jnp
import numpy as np

import axon.loop
import axon.model
import axon.optim


def residual_block(x, filters, name):
    y = x.conv(filters, kernel_size=3, padding="same", name=f"{name}_conv1")
    y = y.batch_norm(name=f"{name}_bn1").relu()
    y = y.conv(filters, kernel_size=3, padding="same", name=f"{name}_conv2")
    y = y.batch_norm(name=f"{name}_bn2")
    return axon.model.add(x, y).relu()  # x is used twice: a shared subgraph


def resnet():
    x = axon.model.input("image", shape=(None, 8, 8, 1))
    stem = x.conv(8, kernel_size=3, padding="same", name="stem").relu()
    features = residual_block(residual_block(stem, 8, "block1"), 8, "block2")
    pooled = features.max_pool(kernel_size=2).global_avg_pool()
    return pooled.dropout(rate=0.1).dense(10, activation="softmax")


def test_a_resnet_builds_displays_trains_saves_loads_and_exports(digits, tmp_path):
    images, targets = digits
    x = images[:128].reshape(-1, 8, 8, 1)
    batches = [(x[i : i + 32], targets[i : i + 32]) for i in range(0, 128, 32)]
    model = resnet()

    table = axon.model.display.as_table(model, jax.ShapeDtypeStruct((1, 8, 8, 1), jnp.float32))
    assert "block1_conv1 (conv)" in table and "add_0 (add)" in table and "Total FLOPs" in table

    state = (
        axon.loop.trainer(model, "categorical_cross_entropy", axon.optim.adam(1e-3), log=0)
        .replace(output_transform=None)
        .run(batches, epochs=1, iterations=1)
    )
    trained = state.step_state["model_state"]
    fresh = model.init(0, x[:1])
    assert not np.array_equal(trained.params["stem"]["kernel"], fresh.params["stem"]["kernel"])
    assert not np.array_equal(
        trained.state["block1_bn1"]["mean"], fresh.state["block1_bn1"]["mean"]
    )

    expected = axon.model.predict(model, trained, x[:16])
    axon.model.save(tmp_path / "resnet.safetensors", trained)
    loaded = axon.model.load(tmp_path / "resnet.safetensors", model=model)
    np.testing.assert_array_equal(axon.model.predict(model, loaded, x[:16]), expected)
    exported = axon.model.load_exported(axon.model.export(model, trained, x[:16]))
    np.testing.assert_allclose(exported(x[:16]), expected, rtol=1e-5, atol=1e-6)
