"""The event engine: events, counts, filters, halting, data handling."""

import jax.numpy as jnp
import pytest

import axon.loop
from axon.loop import EmptyDataError, Event

BATCHES = [jnp.float32(i) for i in range(1, 5)]


def summing_loop():
    return axon.loop.loop(lambda batch, total: total + batch, lambda batch, init: init)


def test_run_reduces_the_data_over_epochs():
    state = summing_loop().run(BATCHES, jnp.float32(0), epochs=3)
    assert float(state.step_state) == 30.0
    assert (state.epoch, state.iteration, state.status) == (2, 12, "completed")


def test_events_fire_in_order_with_counts():
    fired = []
    loop = summing_loop().handle_event("all", lambda s: fired.append(s.event_counts.copy()) or None)
    order = []
    loop = summing_loop()
    for event in Event:
        loop = loop.handle_event(event, lambda s, e=event: order.append(e.value))
    state = loop.run(BATCHES[:2], jnp.float32(0), epochs=2)
    epoch = ["epoch_started", *["iteration_started", "iteration_completed"] * 2, "epoch_completed"]
    assert order == ["started", *epoch, *epoch, "completed"]
    assert state.event_counts["iteration_completed"] == {"total": 4, "epoch": 2}
    assert state.event_counts["epoch_completed"] == 2


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("always", [1, 2, 3, 4, 5, 6, 7, 8]),
        ("first", [1]),
        ({"every": 3}, [3, 6]),
        ({"every": ("epoch", 3)}, [3, 7]),
        ({"before": 3}, [1, 2]),
        ({"after": 6}, [7, 8]),
        ({"once": 5}, [5]),
        ({"after": 1, "before": 4}, [2, 3]),
        (lambda state, event: state.iteration % 4 == 1, [1, 5]),
    ],
)
def test_filters(spec, expected):
    seen = []
    loop = summing_loop().handle_event(
        "iteration_completed", lambda s: seen.append(s.iteration), spec
    )
    loop.run(BATCHES, jnp.float32(0), epochs=2)
    assert seen == expected


def test_bad_filters_and_events_are_explained():
    with pytest.raises(ValueError, match="every/before/after/once"):
        summing_loop().handle_event("started", print, {"evry": 2})
    with pytest.raises(ValueError, match="Unknown event 'epoch_end'"):
        summing_loop().handle_event("epoch_end", print)


def test_a_timed_filter_passes_at_most_once_per_interval(monkeypatch):
    """``{"seconds": s}``: the first time it is asked in a run, then once ``s`` seconds
    have passed since it last passed."""
    import axon.loop._events as events

    now = [100.0]
    monkeypatch.setattr(events.time, "monotonic", lambda: now[0])
    seen = []

    def record(state):
        seen.append(state.iteration)
        now[0] += 0.3  # each step "takes" 0.3 s

    loop = summing_loop().handle_event("iteration_completed", record, {"seconds": 0})
    timed = loop.handle_event(
        "iteration_completed", lambda s: seen.append(-s.iteration), {"seconds": 1}
    )
    timed.run(BATCHES, jnp.float32(0), epochs=2, steps_per_dispatch=1)
    assert [-i for i in seen if i < 0] == [1, 5]  # 0.3 s per step: every 4th
    seen.clear()
    timed.run(BATCHES, jnp.float32(0), steps_per_dispatch=1)  # a new run starts afresh
    assert [-i for i in seen if i < 0] == [1]
    for bad in ({"seconds": -1}, {"seconds": "1"}, {"seconds": True}, {"seconds": 1, "every": 2}):
        with pytest.raises(ValueError, match="seconds"):
            summing_loop().handle_event("started", print, bad)


def test_halt_epoch_and_halt_loop():
    halted = summing_loop().handle_event(
        "iteration_completed",
        lambda s: "halt_epoch" if s.count(Event.ITERATION_COMPLETED, "epoch") == 2 else None,
    )
    state = halted.run(BATCHES, jnp.float32(0), epochs=2)
    assert state.iteration == 4 and state.event_counts.get("epoch_halted") == 2
    stopped = summing_loop().handle_event("iteration_completed", lambda s: "halt_loop", {"once": 3})
    state = stopped.run(BATCHES, jnp.float32(0), epochs=5)
    assert (state.iteration, state.status) == (3, "halted")
    assert state.event_counts.get("halted") == 1 and "completed" not in state.event_counts


def test_a_bad_handler_result_is_explained():
    loop = summing_loop().handle_event("started", lambda s: "stop")
    with pytest.raises(ValueError, match="returned 'stop'"):
        loop.run(BATCHES, jnp.float32(0))


def test_handlers_run_in_attach_order_and_first_runs_before():
    calls = []
    loop = (
        summing_loop()
        .handle_event("epoch_completed", lambda s: calls.append("a"))
        .handle_event("epoch_completed", lambda s: calls.append("b"))
        .handle_event("epoch_completed", lambda s: calls.append("first"), first=True)
    )
    loop.run(BATCHES, jnp.float32(0))
    assert calls == ["first", "a", "b"]


def test_loops_are_immutable():
    base = summing_loop()
    extended = base.handle_event("started", print)
    assert base.handlers == () and len(extended.handlers) == 1


def test_iterations_cap_each_epoch():
    state = summing_loop().run(BATCHES, jnp.float32(0), epochs=2, iterations=2)
    assert float(state.step_state) == 6.0 and state.iteration == 4


def test_empty_data_is_an_error():
    with pytest.raises(EmptyDataError, match="no batches"):
        summing_loop().run([], jnp.float32(0))


def test_a_generator_serves_one_epoch_and_a_factory_serves_many():
    with pytest.raises(EmptyDataError, match=r"epoch 1.*consumed only once"):
        summing_loop().run((b for b in BATCHES), jnp.float32(0), epochs=2)
    state = summing_loop().run(lambda: (b for b in BATCHES), jnp.float32(0), epochs=2)
    assert float(state.step_state) == 20.0


def test_bad_run_arguments():
    with pytest.raises(ValueError, match="epochs"):
        summing_loop().run(BATCHES, jnp.float32(0), epochs=0)
    with pytest.raises(TypeError, match="iterable of batches"):
        summing_loop().run(42, jnp.float32(0))


def test_the_step_compiles_once_across_epochs_and_runs():
    traces = []

    def step(batch, total):
        traces.append(1)
        return total + batch

    loop = axon.loop.loop(step, lambda b, init: init)
    loop.run(BATCHES, jnp.float32(0), epochs=3, steps_per_dispatch=1)
    loop.run(BATCHES, jnp.float32(0), epochs=1, steps_per_dispatch=1)
    assert len(traces) == 1
    # fused ("auto"): the single step and one scan per block size, traced once each
    loop.run(BATCHES, jnp.float32(0), epochs=3)
    traced = len(traces)
    loop.run(BATCHES, jnp.float32(0), epochs=2)
    assert traced == len(traces) <= 3


def test_eager_mode_gives_the_same_result():
    jitted = summing_loop().run(BATCHES, jnp.float32(0), epochs=2).step_state
    eager = summing_loop().run(BATCHES, jnp.float32(0), epochs=2, jit=False).step_state
    assert float(jitted) == float(eager)


def test_the_callers_initial_state_survives_buffer_donation():
    init = jnp.float32(1)
    summing_loop().run(BATCHES, init)
    assert float(init) == 1.0


def test_progress_lines_and_bar():
    import io

    from axon.loop.handlers import log_progress

    def make(stream, bar):
        loop = axon.loop.loop(
            lambda b, s: {"y_true": b, "y_pred": b},
            lambda b, i: {"y_true": jnp.zeros(()), "y_pred": jnp.zeros(())},
        ).metric(lambda p: p, "value", transform=lambda s: (s["y_pred"],))
        return log_progress(loop, every=2, stream=stream, bar=bar)

    lines = io.StringIO()
    make(lines, bar=False).run(BATCHES, epochs=2)
    printed = lines.getvalue().splitlines()
    assert printed[0] == "Epoch: 0, Batch: 2, value: 1.5000000"
    # the epoch's last batch is not printed twice: the epoch line (with its time) covers it
    assert printed[1].startswith("Epoch: 0, Batch: 4, value: 2.5000000 (")
    assert len(printed) == 4

    screen = io.StringIO()
    make(screen, bar=True).run(BATCHES, epochs=2)
    shown = screen.getvalue()
    assert "Epoch 1/2" in shown and "Epoch 2/2" in shown and "4/4" in shown
    assert "value: 2.500" in shown  # four significant digits on the live display


def test_debug_mode_reports_handlers_and_step_times(capsys):
    summing_loop().handle_event("epoch_completed", lambda s: None).run(
        BATCHES, jnp.float32(0), debug=True
    )
    err = capsys.readouterr().err
    assert "[axon.loop debug] iteration 1: step" in err and " ms" in err
    assert "epoch_completed (iteration 4): handler <lambda>" in err


@pytest.mark.parametrize("steps_per_dispatch", ["auto", 2])
def test_debug_mode_turns_clamped_out_of_bounds_lookups_into_errors(steps_per_dispatch):
    table = jnp.arange(10.0)
    lookup = axon.loop.loop(lambda ids, total: total + table[ids].sum())  # clamped when jitted
    batches = [jnp.array([1, 2]), jnp.array([3, 4]), jnp.array([9, 10])]
    assert float(lookup.run(batches, jnp.float32(0)).step_state) == 28.0  # 10 read as 9
    with pytest.raises(IndexError, match=r"index 10 is out of bounds for axis 0 with size 10"):
        lookup.run(batches, jnp.float32(0), debug=True, steps_per_dispatch=steps_per_dispatch)
    assert float(lookup.run(batches[:2], jnp.float32(0), debug=True).step_state) == 10.0
