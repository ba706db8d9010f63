"""Per-step overhead of axon.loop.trainer against a hand-written jax.jit training loop.

The workload of DESIGN.md §5 (MLP 784-128-10, batch 128, adam), as a shortcut into
``bench/peers.py``, which also runs the peers (Keras, Flax, Equinox) and the fused modes:

    python bench/loop_overhead.py               # == peers.py --workload mnist --only raw-jit,axon
    python bench/loop_overhead.py --repeats 3   # any other peers.py option
"""

from __future__ import annotations

import sys

from peers import main

if __name__ == "__main__":
    main(["--workload", "mnist", "--only", "raw-jit,axon", *sys.argv[1:]])
