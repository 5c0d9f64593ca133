"""The executor contract: how a pipeline runs over many frames.

One concept a module, the way :mod:`concurrent.futures` separates the
``Executor`` from its ``Future``:

* :mod:`.contract` - :class:`Executor`, its lifecycle, ``submit`` and the
  derived ``process_all``/``imap``/``results``/``get_result``, and the
  subclass API an executor plugin implements (see ``docs/writing-executors.md``);
* :mod:`.store` - :class:`ResultStore`, where workers settle frames with an
  :class:`Outcome` and readers wait for them;
* :mod:`.futures` - ``submit_future`` (a :class:`~concurrent.futures.Future`
  per frame) and the asyncio ``aprocess``/``aimap``, for every executor;
* :mod:`.metrics` - :class:`ExecutorMetrics`, :class:`StageMetrics`, the
  per-stage :class:`StageStats` and trace :class:`Span` records;
* :mod:`.resources` - :func:`available_cpus` and the shared OpenCV thread
  budget :data:`opencv_threads`;
* :mod:`.progress` - the progress bar/callback of ``imap``.
"""

from __future__ import annotations

from .contract import Executor
from .metrics import ExecutorMetrics, Span, StageMetrics, StageStats
from .progress import ProgressCallback
from .resources import OpenCVThreads, available_cpus, opencv_threads
from .store import ErrorPolicy, Outcome, ResultStore
from .workers import StageFailed, apply_stage

__all__ = [
    "ErrorPolicy", "Executor", "ExecutorMetrics", "OpenCVThreads", "Outcome", "ProgressCallback",
    "ResultStore", "Span", "StageFailed", "StageMetrics", "StageStats", "apply_stage",
    "available_cpus", "opencv_threads",
]
