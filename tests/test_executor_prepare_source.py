"""Every in-process executor calls ``pipeline.prepare_source`` once per frame, before stage 0."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from conftest import frames
from imagestag_plugins.filters.faults import FailOn

from imagestag_core import Image, get_executor
from imagestag_core.filters import FilterPipeline


class CountingPipeline(FilterPipeline):
    """Counts ``prepare_source`` calls per frame and tags the prepared image."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.calls: list[int] = []
        self.lock = threading.Lock()

    def prepare_source(self, image: Image) -> Image:
        with self.lock:
            self.calls.append(image.metadata["frame"])
        return image


@pytest.mark.timeout(60)
@pytest.mark.parametrize("name", ["sequential", "batch", "streaming"])
@pytest.mark.parametrize("use_submit", [False, True])
def test_prepare_source_runs_once_per_frame(name: str, use_submit: bool) -> None:
    pipeline = CountingPipeline([FailOn(), FailOn()])
    with get_executor(name, pipeline) as ex:
        if use_submit:
            for img in frames(7):
                ex.submit(img)
            results = list(ex.results())
        else:
            results = ex.process_all(frames(7))
    assert len(results) == 7
    assert sorted(pipeline.calls) == list(range(7))
