"""Every example of ImageStag's "Parallel Execution" page runs with only its imports changed.

The blocks below are the page's, verbatim, except ``imagestag`` -> ``imagestag_core``
in the import lines and the page's ``[img1, img2, img3, ...]`` placeholder list
without the ``...``.  They run one after another in one namespace, as a reader
pasting them into a notebook would, with the page's free names (``img1``,
``image_source``, ``process``...) defined first; the two blocks that list
calls on an open executor run on one (inside a ``with``, or on a fresh one
with the frames they read already submitted).
"""

from __future__ import annotations

import textwrap
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pytest

from imagestag_core import Image

BLOCKS = [
    """
    from imagestag_core.filters import FilterPipeline, BatchPipelineExecutor, Resize, FalseColor

    pipeline = FilterPipeline([
        Resize(size=(1920, 1080)),
        FalseColor(colormap='hot'),
    ])

    images = [img1, img2, img3]  # List of images

    with BatchPipelineExecutor(pipeline, num_workers=8) as executor:
        results = executor.process_all(images)

    # Results in same order as input
    """,
    """
    # Process all images, preserving order
    results = executor.process_all(images)

    # With progress callback
    results = executor.process_all(images, show_progress=True)

    # Get metrics
    metrics = executor.get_metrics()
    print(f"FPS: {metrics.fps:.1f}")
    """,
    """
    from imagestag_core.filters import StreamingPipelineExecutor

    pipeline = FilterPipeline([
        Resize(size=(1920, 1080)),  # Thread 1
        FalseColor(colormap='hot'), # Thread 2
        Encode(format='jpeg'),      # Thread 3
    ])

    with StreamingPipelineExecutor(pipeline) as executor:
        # Submit frames (non-blocking)
        for img in image_source:
            executor.submit(img)

        # Get results as they complete
        for result in executor.results():
            process(result)
    """,
    """
    # Start workers (auto-called on first submit)
    executor.start()

    # Submit image (returns sequence number)
    seq = executor.submit(image)

    # Get single result (blocking)
    result = executor.get_result(timeout=5.0)

    # Iterate over N results
    for result in executor.results(count=100):
        process(result)

    # Process batch
    results = executor.process_batch(images)

    # Get metrics
    metrics = executor.get_metrics()
    for stage in metrics.stages:
        print(f"{stage.stage_name}: {stage.avg_time_ms:.1f}ms")

    # Stop workers
    executor.stop()
    """,
    """
    from imagestag_core.filters import Benchmark

    result = Benchmark.run_pipeline(
        pipeline,
        source=image,
        num_frames=30,
        target_fps=60
    )
    result.print()
    """,
    """
    # Same filter instance can be used from multiple threads
    resize = Resize(scale=0.5)

    with ThreadPoolExecutor(max_workers=8) as executor:
        results = list(executor.map(resize.apply, images))
    """,
]


def _photo(seed: int, size: tuple[int, int] = (640, 480)) -> Image:
    w, h = size
    return Image(np.random.default_rng(seed).integers(0, 256, (h, w, 3), np.uint8))


@pytest.mark.timeout(120)
def test_the_parallel_execution_page_runs_with_only_its_imports_changed(
        capsys: pytest.CaptureFixture[str]) -> None:
    from imagestag_core.filters import Encode  # type: ignore[attr-defined]

    processed: list[Any] = []
    namespace: dict[str, Any] = {
        "img1": _photo(1), "img2": _photo(2), "img3": _photo(3),
        "image_source": [_photo(10 + i) for i in range(4)], "image": _photo(20),
        "process": processed.append, "ThreadPoolExecutor": ThreadPoolExecutor,
        # the page's third block uses Encode without importing it
        "Encode": Encode,
    }
    exec(textwrap.dedent(BLOCKS[0]), namespace)
    assert [r.size for r in namespace["results"]] == [(1920, 1080)] * 3
    # the second block lists calls on an open executor: run it inside a with block
    second = textwrap.indent(textwrap.dedent(BLOCKS[1]), "    ")
    exec("with BatchPipelineExecutor(pipeline, num_workers=8) as executor:\n" + second,
         namespace)
    assert [r.size for r in namespace["results"]] == [(1920, 1080)] * 3
    exec(textwrap.dedent(BLOCKS[2]), namespace)
    assert len(processed) == 4 and all(r.encoded_format == "jpeg" for r in processed)
    # the fourth block is the streaming API in a live loop: a fresh executor
    # with the 100 frames its results(count=100) reads already submitted
    executor = namespace["StreamingPipelineExecutor"](namespace["pipeline"])
    namespace["executor"] = executor
    for i in range(100):
        executor.submit(_photo(100 + i, (160, 120)))
    processed.clear()
    exec(textwrap.dedent(BLOCKS[3]), namespace)
    assert len(processed) == 100
    assert [r.encoded_format for r in namespace["results"]] == ["jpeg"] * 3
    for block in BLOCKS[4:]:
        exec(textwrap.dedent(block), namespace)
    out = capsys.readouterr().out
    assert "FPS:" in out and "Resize" in out and "ms" in out
    assert [r.size for r in namespace["results"]] == [(320, 240)] * 3
