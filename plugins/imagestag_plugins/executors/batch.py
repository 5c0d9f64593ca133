"""``batch`` (alias ``data_parallel``): a pool of threads, each running the whole pipeline.

The fastest strategy for filters that release the GIL (OpenCV, numpy, most
codecs): N workers pull frames from one shared bounded queue and run every
stage on their frame, so all cores stay busy whatever the stage times are.
OpenCV is set to ``CPUs // workers`` threads while it runs (1 on a full pool)
so the workers do not oversubscribe the cores.
"""

from __future__ import annotations

from typing import Any

from imagestag_core import hookimpl
from imagestag_core.filter import Filter
from imagestag_core.image import Image
from imagestag_core.pipeline import FilterPipeline

from ._pool import QueuePoolExecutor

__all__ = ["BatchPipelineExecutor"]


class BatchPipelineExecutor(QueuePoolExecutor):
    """Data-parallel thread pool: every worker runs the whole pipeline on one frame.

    Args:
        pipeline: a :class:`FilterPipeline`, a list of filters, or a spec string.
        num_workers: worker threads (default: the CPUs this process may use,
            see :func:`~imagestag_core.executor.available_cpus`).
        queue_size: capacity of the shared input queue (default: 4 per worker);
            ``submit`` blocks while it is full, and it always drains because the
            workers never block on the result store.
        **options: the base :class:`~imagestag_core.executor.Executor` options
            (``on_error``, ``preserve_order``, ``max_pending_results``,
            ``window``, ``trace``, ``opencv_threads``).

    Metrics: one entry per stage; the shared queue's high-water mark and the
    time ``submit`` waited for room are reported on stage 0.
    """

    name = "batch"
    extra_options = ("num_workers", "queue_size")
    option_help = {"num_workers": "worker threads (default: the CPUs this process may use)",
                   "queue_size": "capacity of the shared input queue (default 4 per worker)"}

    def __init__(self, pipeline: FilterPipeline | list[Filter | str] | str,
                 num_workers: int | None = None, queue_size: int | None = None,
                 **options: Any) -> None:
        super().__init__(pipeline, num_workers, queue_size, queue_per_worker=4, **options)

    def start_workers(self) -> None:
        self.start_threads("imagestag-batch")

    def handle(self, worker: int, seq: int, image: Image) -> None:
        self.process_frame(seq, image)


@hookimpl
def register_executors(register: Any) -> None:
    register(BatchPipelineExecutor, aliases=("data_parallel",))
