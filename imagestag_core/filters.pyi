# The static view of ``imagestag_core.filters`` for type checkers.
#
# At run time the module resolves every non-core name through the plugin
# registry (``__getattr__``), which a type checker cannot follow.  This stub
# gives the built-in plugins' classes their real types and leaves any other
# name (a third-party filter or executor) typed ``Any``.  Only type checkers
# read it: the core still imports no plugin at run time.
# tests/test_typing.py checks that it names every built-in class export.
from typing import Any

from imagestag_plugins.app.bench_result import BenchmarkResult as BenchmarkResult
from imagestag_plugins.app.benchmark import Benchmark as Benchmark
from imagestag_plugins.executors.batch import BatchPipelineExecutor as BatchPipelineExecutor
from imagestag_plugins.executors.process import ProcessPipelineExecutor as ProcessPipelineExecutor
from imagestag_plugins.executors.sequential import SequentialExecutor as SequentialExecutor
from imagestag_plugins.executors.streaming import (
    StreamingPipelineExecutor as StreamingPipelineExecutor,
)
from imagestag_plugins.filters.convert_format import ConvertFormat as ConvertFormat
from imagestag_plugins.filters.decode import Decode as Decode
from imagestag_plugins.filters.encode import Encode as Encode
from imagestag_plugins.filters.false_color import FalseColor as FalseColor
from imagestag_plugins.filters.faults import Delay as Delay
from imagestag_plugins.filters.faults import FailOn as FailOn
from imagestag_plugins.filters.faults import HoldGIL as HoldGIL
from imagestag_plugins.filters.grayscale import Grayscale as Grayscale
from imagestag_plugins.filters.resize import Resize as Resize
from imagestag_plugins.filters.tee import Tee as Tee

from imagestag_core.executor import Executor as Executor
from imagestag_core.executor import ExecutorMetrics as ExecutorMetrics
from imagestag_core.executor import StageMetrics as StageMetrics
from imagestag_core.filter import Filter as Filter
from imagestag_core.image import Image as Image
from imagestag_core.pipeline import FilterPipeline as FilterPipeline
from imagestag_core.pixel_format import PixelFormat as PixelFormat

__all__ = ["Executor", "ExecutorMetrics", "Filter", "FilterPipeline", "Image", "PixelFormat",
           "StageMetrics"]

def __getattr__(name: str) -> Any: ...
def __dir__() -> list[str]: ...
