"""Memory, measured: XLA's byte counts of compiled training gradients (issue 17, item 5).

Nothing runs: each figure is ``jax.jit(grad).lower(...).compile().memory_analysis()`` of
the gradient of a model, so a ~50M-parameter model is measured in seconds on CPU.

Remat (``remat_report``): the peak temporary (activation) bytes of the gradient of a
deep transformer, without remat and with each encoder layer rematerialized
(``transformer_encoder(..., remat=policy)``) or the whole forward (``build(remat=...)``),
printed as ratios to no remat.

XLA:CPU expands the optimization barriers that keep a recomputation apart from the
forward pass *before* common-subexpression elimination, which then merges the
recomputation back into the forward pass: compiled for CPU as it is, remat changes
(almost) nothing. ``--keep-barriers`` (the default) compiles with that pass disabled
(``xla_disable_hlo_passes=cse_barrier_expander``), which shows what remat does where
the barriers hold; ``--no-keep-barriers`` shows the CPU default.

    python bench/memory.py                 # the ~50M-parameter transformer (~1-2 min)
    python bench/memory.py --quick         # a small one (seconds)
"""

from __future__ import annotations

import argparse
import sys
import time

import jax
import jax.numpy as jnp

import axon.model

KEEP_BARRIERS = {"xla_disable_hlo_passes": "cse_barrier_expander"}
REMAT_CHOICES = (
    ("no remat", {}),
    ("per layer, nothing_saveable", {"layers": True}),
    ("per layer, dots_saveable", {"layers": "dots_saveable"}),
    ("per layer, dots_with_no_batch_dims_saveable", {"layers": "dots_with_no_batch_dims_saveable"}),
    ("whole forward, nothing_saveable", {"whole": True}),
    ("whole forward, dots_saveable", {"whole": "dots_saveable"}),
)


def transformer(depth: int, width: int, heads: int, vocab: int, remat=None) -> axon.model.Model:
    """A pre-norm transformer language model: embedding, ``depth`` encoder layers, logits."""
    ids = axon.model.input("ids", shape=(None, None))
    h = ids.embedding(vocab, width)
    for _ in range(depth):
        h = h.transformer_encoder(num_heads=heads, hidden_size=4 * width, causal=True, remat=remat)
    return h.layer_norm().dense(vocab)


def gradient_memory(model, batch, length, *, whole=None, keep_barriers=True):
    """``(parameters, memory_analysis)`` of the compiled gradient of a cross-entropy loss."""
    ids = jax.ShapeDtypeStruct((batch, length), jnp.int32)
    state = jax.eval_shape(lambda: model.init(0, ids))
    _, apply = model.as_functions(remat=whole)

    def loss(params, tokens):
        logits, _ = apply(state.replace(params=params), tokens, mode="train", key=None)
        return jnp.mean(jax.nn.log_softmax(logits)[..., 0])

    lowered = jax.jit(jax.grad(loss)).lower(state.params, ids)
    compiled = lowered.compile(compiler_options=KEEP_BARRIERS if keep_barriers else None)
    count = sum(leaf.size for leaf in jax.tree.leaves(state.params))
    return count, compiled.memory_analysis()


def remat_report(sizes: dict, *, keep_barriers: bool = True, out=sys.stdout) -> dict[str, float]:
    """Peak temporary bytes of the gradient per remat choice, and their ratio to no remat."""
    ratios, base = {}, None
    print(f"remat: transformer {sizes}, keep_barriers={keep_barriers}", file=out)
    print(f"{'choice':46} {'temp MiB':>10} {'ratio':>7} {'compile s':>10}", file=out)
    for label, choice in REMAT_CHOICES:
        start = time.perf_counter()
        model = transformer(sizes["depth"], sizes["width"], sizes["heads"], sizes["vocab"],
                            remat=choice.get("layers"))  # fmt: skip
        count, memory = gradient_memory(
            model, sizes["batch"], sizes["length"], whole=choice.get("whole"),
            keep_barriers=keep_barriers,
        )  # fmt: skip
        temp = memory.temp_size_in_bytes
        base = base or temp
        ratios[label] = temp / base
        seconds = time.perf_counter() - start
        print(f"{label:46} {temp / 2**20:10.1f} {temp / base:7.3f} {seconds:10.1f}", file=out)
    print(f"parameters: {count / 1e6:.1f}M ({memory.argument_size_in_bytes / 2**20:.0f} MiB of "
          f"arguments)", file=out)  # fmt: skip
    return ratios


FULL = {"depth": 12, "width": 512, "heads": 8, "vocab": 32000, "batch": 8, "length": 512}
QUICK = {"depth": 4, "width": 128, "heads": 4, "vocab": 1000, "batch": 4, "length": 128}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small model (seconds)")
    parser.add_argument("--keep-barriers", action=argparse.BooleanOptionalAction, default=True)
    args = parser.parse_args(argv)
    print(f"jax {jax.__version__}, backend {jax.default_backend()}")
    remat_report(QUICK if args.quick else FULL, keep_barriers=args.keep_barriers)


if __name__ == "__main__":
    main()
