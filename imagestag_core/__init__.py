"""imagestag's core: images, filters, pipelines, executors and the plugin system.

Everything concrete (Resize, the batch executor, the JPEG codec...) is a
plugin; this package imports none of them.  The seed's imports map one to one:
``from imagestag.filters import X`` becomes ``from imagestag_core.filters import X``.
"""

from __future__ import annotations

import logging

from .codec import Codec, ImageInfo
from .errors import (
    BackpressureError,
    CodecError,
    ContractViolation,
    DecodeError,
    DecompressionBombError,
    DuplicateNameError,
    ExecutorClosedError,
    FilterParameterError,
    FrameError,
    ImageError,
    ImageFileNotFoundError,
    ImagestagError,
    InjectedFault,
    PipelineError,
    PluginError,
    PluginLoadError,
    SpecError,
    UnknownNameError,
)
from .executor import Executor, ExecutorMetrics, StageMetrics
from .filter import Filter
from .hookspecs import (
    Command,
    RegisterCodec,
    RegisterColormap,
    RegisterCommand,
    RegisterExecutor,
    RegisterFilter,
    RegisterVideoBackend,
    VideoBackend,
    hookimpl,
)
from .image import Image
from .params import param
from .pipeline import FilterPipeline
from .pixel_format import PixelFormat
from .plugins import (
    get_codec,
    get_colormap,
    get_executor,
    get_filter,
    get_plugin_manager,
    list_codecs,
    list_colormaps,
    list_commands,
    list_executors,
    list_filters,
    register_filter,
)
from .registry import Registry, RegistryEntry

__version__ = "0.1.0"

# a library stays silent until the application sets logging up (docs/cli.md, Logging)
logging.getLogger("imagestag").addHandler(logging.NullHandler())

__all__ = [
    "BackpressureError", "Codec", "CodecError", "Command", "ContractViolation", "DecodeError",
    "DecompressionBombError", "DuplicateNameError", "Executor", "ExecutorClosedError",
    "ExecutorMetrics", "Filter", "FilterParameterError", "FilterPipeline", "FrameError", "Image",
    "ImageError", "ImageFileNotFoundError", "ImageInfo", "ImagestagError", "InjectedFault",
    "PipelineError", "PixelFormat", "PluginError", "PluginLoadError", "RegisterCodec",
    "RegisterColormap", "RegisterCommand", "RegisterExecutor", "RegisterFilter",
    "RegisterVideoBackend", "Registry", "RegistryEntry", "SpecError", "StageMetrics",
    "UnknownNameError", "VideoBackend", "get_codec", "get_colormap", "get_executor", "get_filter",
    "get_plugin_manager", "hookimpl", "list_codecs", "list_colormaps", "list_commands",
    "list_executors", "list_filters", "param", "register_filter",
]
