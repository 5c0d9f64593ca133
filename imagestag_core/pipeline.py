""":class:`FilterPipeline`: an immutable sequence of filters."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, overload

from .codec import ImageInfo
from .errors import ImagestagError, SpecError
from .filter import Filter
from .image import Image
from .spec import build_filter, filter_from_dict, format_stage, json_limit_error, parse_text

if TYPE_CHECKING:
    from .errors import FrameError

__all__ = ["FilterPipeline"]

_log = logging.getLogger("imagestag.shrink")  # shrink-on-load decisions, at DEBUG


class FilterPipeline:
    """Filters applied one after another.

    Args:
        filters: filter objects, pipelines and/or spec strings (``"resize 0.5"``), or one
            spec string for the whole pipeline (``"resize 0.5 | falsecolor hot"``).

    Stage names are ``"<index>_<ClassName>"`` (``"0_Resize"``), as in the seed;
    executors report per-stage metrics under them.  A pipeline is immutable and
    thread-safe when its filters are.
    """

    __slots__ = ("_filters", "_stage_names")

    def __init__(self, filters: Iterable[Filter | str] | str | FilterPipeline = ()) -> None:
        try:
            if isinstance(filters, (str, Filter, FilterPipeline)):
                sequence: list[Any] = [filters]
            else:
                sequence = list(filters)
        except TypeError:
            raise ImagestagError(f"FilterPipeline expects a list of filters or a spec "
                                 f"string, got {type(filters).__name__}") from None
        items: list[Filter] = []
        for index, one in enumerate(sequence):
            if isinstance(one, (str, FilterPipeline)):
                items.extend((one if isinstance(one, FilterPipeline) else self.parse(one)).filters)
            elif isinstance(one, Filter):
                items.append(one)
            else:
                raise ImagestagError(f"pipeline stage {index} is a {type(one).__name__}, "
                                     f"not a Filter or a spec string")
        self._filters: tuple[Filter, ...] = tuple(items)
        self._stage_names = tuple(f"{i}_{type(f).__name__}" for i, f in enumerate(items))

    @property
    def filters(self) -> tuple[Filter, ...]:
        return self._filters

    @property
    def stage_names(self) -> tuple[str, ...]:
        return self._stage_names

    def describe(self) -> str:
        """``"Resize -> FalseColor -> Encode"`` (the seed's benchmark header)."""
        return " -> ".join(type(f).__name__ for f in self._filters) or "(empty)"

    def apply(self, image: Image) -> Image:
        """Run every stage on one image in the calling thread."""
        if not isinstance(image, Image):
            raise ImagestagError(f"apply() expects an imagestag Image, got "
                                 f"{type(image).__name__}; wrap it with Image(...)")
        image = self.prepare_source(image)
        for f in self._filters:
            image = f.apply(image)
        return image

    __call__ = apply

    def prepare_source(self, image: Image) -> Image:
        """The input frame as the first stage wants it decoded (shrink-on-load).

        Every executor calls this once per input frame before stage 0.  An
        encoded, not yet decoded ``image`` may come back as an equivalent lazy
        image that decodes at a reduced size, when the first filter's
        :meth:`~imagestag_core.filter.Filter.decode_hint` allows it; anything
        else comes back unchanged (so calling it twice is harmless).  A hint
        that is not one of the codec's ``decode_reductions`` raises
        :class:`ImagestagError` naming the filter.
        """
        codec = image.codec
        reductions = tuple(getattr(codec, "decode_reductions", ()))
        if codec is None or image.is_decoded or not reductions:
            return image
        info = ImageInfo(image.width, image.height, image.pixel_format, image.dtype)
        factor = self.decode_hint(info, reductions)
        if factor == 1:
            return image
        _log.debug("shrink-on-load: %s decoded at 1/%d for %r", codec.name, factor, self)
        return image.with_decode_reduction(factor)

    def decode_hint(self, info: ImageInfo, reductions: tuple[int, ...]) -> int:
        """The first filter's hint that is not None (``decode`` passes it on), else 1.

        A hint that is neither 1 nor one of ``reductions`` raises
        :class:`ImagestagError` naming the filter that gave it.
        """
        for filt in self._filters:
            factor = filt.decode_hint(info, reductions)
            if factor is None:
                continue
            if factor != 1 and factor not in reductions:
                raise ImagestagError(f"{type(filt).__name__}.decode_hint() returned {factor!r}, "
                                     f"not 1 or one of the codec's reductions {reductions}")
            return factor
        return 1

    def run(self, images: Iterable[Any], executor: str = "batch",
            **options: Any) -> list[Image | FrameError]:
        """Process ``images`` with the executor registered as ``executor``; input order."""
        from .plugins import get_executor

        shown = {key: options.pop(key) for key in ("show_progress", "progress") if key in options}
        with get_executor(executor, self, **options) as ex:
            return ex.process_all(images, **shown)

    # -- specs ---------------------------------------------------------------------

    @classmethod
    def parse(cls, text: str) -> FilterPipeline:
        """Build a pipeline from spec text (grammar in :mod:`imagestag_core.spec`)."""
        return cls([build_filter(stage, text) for stage in parse_text(text)])

    def to_string(self) -> str:
        return " | ".join(format_stage(f) for f in self._filters)

    def to_dict(self) -> dict[str, Any]:
        return {"stages": [f.to_dict() for f in self._filters]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | list[Any]) -> FilterPipeline:
        extra = set(data) - {"stages"} if isinstance(data, Mapping) else set()
        if extra:
            raise SpecError(f"unknown pipeline keys {sorted(extra)}; expected 'stages'")
        stages = data.get("stages") if isinstance(data, Mapping) else data
        if not isinstance(stages, list):
            raise SpecError(f"a pipeline dict needs a 'stages' list, got {type(stages).__name__}")
        return cls([filter_from_dict(stage, index) for index, stage in enumerate(stages)])

    def to_json(self, **kwargs: Any) -> str:
        return json.dumps(self.to_dict(), **kwargs)

    @classmethod
    def from_json(cls, text: str | bytes) -> FilterPipeline:
        """From :meth:`to_json`'s text (or bytes); every problem is a SpecError."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SpecError(f"invalid JSON: {exc.msg}", text=exc.doc, position=exc.pos) from None
        except (TypeError, UnicodeDecodeError) as exc:
            raise SpecError(f"invalid JSON: {exc}") from None
        except (ValueError, RecursionError) as exc:  # json's digit and depth limits
            if isinstance(text, (bytes, bytearray)):
                text = bytes(text).decode(json.detect_encoding(text), "surrogatepass")
            raise json_limit_error(text, exc) from None
        return cls.from_dict(data)

    # -- sequence protocol ---------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._filters)

    def __iter__(self) -> Iterator[Filter]:
        return iter(self._filters)

    @overload
    def __getitem__(self, index: int) -> Filter: ...

    @overload
    def __getitem__(self, index: slice) -> FilterPipeline: ...

    def __getitem__(self, index: int | slice) -> Filter | FilterPipeline:
        if isinstance(index, slice):
            return FilterPipeline(self._filters[index])
        return self._filters[index]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FilterPipeline):
            return NotImplemented
        return self._filters == other._filters

    def __hash__(self) -> int:
        return hash(self._filters)

    def __repr__(self) -> str:
        return f"FilterPipeline({list(self._filters)!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (FilterPipeline, (list(self._filters),))


