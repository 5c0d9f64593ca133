"""Fault-injection filters: FailOn, Delay, HoldGIL."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from imagestag_plugins.filters.faults import Delay, FailOn, HoldGIL, InjectedFault

from imagestag_core import FilterPipeline, Image
from imagestag_core.errors import FilterParameterError


def _frame(i: int | None) -> Image:
    meta = {} if i is None else {"frame": i}
    return Image(np.zeros((4, 4), np.uint8), metadata=meta)


def test_fail_on_raises_only_for_the_chosen_frames():
    f = FailOn(frames=(1, 3))
    assert f.apply(_frame(0)).metadata["frame"] == 0
    with pytest.raises(InjectedFault) as info:
        f.apply(_frame(3))
    assert info.value.frame == 3 and isinstance(info.value, RuntimeError)
    assert f.apply(_frame(None)).metadata == {}


def test_fail_on_uses_the_given_key_and_message():
    f = FailOn(frames=(7,), key="index", message="boom")
    img = Image(np.zeros((2, 2), np.uint8), metadata={"index": 7, "frame": 0})
    with pytest.raises(InjectedFault, match="boom"):
        f.apply(img)


def test_injected_fault_survives_pickling():
    error = pickle.loads(pickle.dumps(InjectedFault("boom (frame=2)", 2)))
    assert isinstance(error, InjectedFault) and error.frame == 2 and str(error) == "boom (frame=2)"


def test_faults_return_their_input_unchanged():
    img = _frame(5)
    for f in (FailOn(frames=(1,)), Delay(ms=0.5), HoldGIL(ms=0.5)):
        assert f.apply(img) is img


def test_delay_jitter_is_deterministic_per_frame_and_bounded():
    d = Delay(ms=2.0, jitter_ms=10.0)
    delays = [d.delay_ms(_frame(i)) for i in range(50)]
    assert delays == [d.delay_ms(_frame(i)) for i in range(50)]
    assert all(2.0 <= x < 12.0 for x in delays)
    assert len(set(delays)) > 40  # frames really differ
    assert d.delay_ms(_frame(None)) == 2.0


@pytest.mark.parametrize("spec", ["delay ms=2000", "hold_gil ms=-1", "delay jitter_ms=1e6"])
def test_durations_are_bounded(spec):
    with pytest.raises(Exception) as info:
        FilterPipeline.parse(spec)
    assert "maximum" in str(info.value) or "minimum" in str(info.value)


def test_bounds_raise_filter_parameter_error():
    with pytest.raises(FilterParameterError):
        HoldGIL(ms=5000.0)


def test_specs_round_trip_and_filters_pickle():
    pipeline = FilterPipeline.parse("fail_on frames=3,7 | delay 1.5 jitter_ms=2 | hold_gil 0.5")
    assert pipeline.filters[0].frames == (3, 7)
    assert FilterPipeline.parse(pipeline.to_string()).filters == pipeline.filters
    assert pickle.loads(pickle.dumps(pipeline.filters)) == pipeline.filters
