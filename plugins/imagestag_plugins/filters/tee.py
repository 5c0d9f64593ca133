"""``Tee``: one input, many named branches (renditions) in one stage.

``decode | tee small=(resize 320x | encode webp) large=(resize 1920x | encode jpeg)``
decodes each frame once and runs every branch on that one decoded image.  The
frame's result is a :class:`Renditions`: an :class:`Image` (the first
rendition, so code that expects one image keeps working) that carries every
branch's output by name, so the executor contract (one result per submitted
frame) holds and every executor runs a branching pipeline unchanged.

* Each branch is an ordinary :class:`~imagestag_core.pipeline.FilterPipeline`
  of registered filters; a third party's filter works inside a branch as it
  works anywhere.  A ``tee`` inside a branch nests: its renditions are named
  ``outer.inner``.
* Branches share the input read-only (an Image is immutable; a lazily decoded
  source is decoded once, under its lock, by the first branch that asks).
* Shrink-on-load: :meth:`Tee.decode_hint` is the smallest of the branches'
  hints, so the source is decoded at the scale the *largest* rendition needs.
* An :class:`~imagestag_core.errors.ImagestagError` in a branch is raised as a
  :class:`BranchError` naming the branch and its stage; the frame fails as a
  whole under the executor's error policy (``collect`` keeps a
  :class:`~imagestag_core.errors.FrameError` in its place, not the other
  renditions).  Other exceptions (bugs) propagate as they are, with a note.
* Each branch stage's time travels with the result
  (:attr:`Renditions.stage_times`); executors report it as
  ``<stage>.<branch>.<branch stage>`` (``1_Tee.small.0_Resize``).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Iterator, Mapping
from types import MappingProxyType
from typing import Any, ClassVar

from imagestag_core import hookimpl
from imagestag_core.codec import ImageInfo
from imagestag_core.errors import FilterParameterError, ImageError, ImagestagError
from imagestag_core.filter import Filter
from imagestag_core.image import Image
from imagestag_core.pipeline import FilterPipeline

__all__ = ["BranchError", "Renditions", "Tee"]

_BRANCH_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

#: (name below the tee stage, start, end) on ``time.perf_counter``'s clock
StageTime = tuple[str, float, float]


class Renditions(Image):
    """A frame's renditions by name: what :class:`Tee` returns.

    Args:
        renditions: branch name -> Image, at least one, in branch order.  A
            nested :class:`Renditions` is flattened: ``{"a": Renditions(x=..,
            y=..)}`` holds ``"a.x"`` and ``"a.y"``.
        stage_times: ``(name, start, end)`` of each branch stage that ran
            (``"small.0_Resize"``), for the executor's metrics.

    As an :class:`Image` it is its first rendition (size, pixels, bytes and
    metadata), so a stage after a ``tee`` sees that one image; put ``tee`` last.
    Its ``repr`` lists every rendition's name, size and format, in order.
    """

    __slots__ = ("_renditions", "_stage_times")

    def __init__(self, renditions: Mapping[str, Image],
                 stage_times: Iterable[StageTime] = ()) -> None:
        flat: dict[str, Image] = {}
        for name, image in renditions.items():
            if not isinstance(image, Image):
                raise ImageError(f"rendition {name!r} is a {type(image).__name__}, "
                                 f"not an Image")
            if isinstance(image, Renditions):
                flat.update((f"{name}.{inner}", i) for inner, i in image.renditions.items())
            else:
                flat[name] = image
        if not flat:
            raise ImageError("Renditions needs at least one rendition")
        super().__init__(next(iter(flat.values())))
        self._renditions: Mapping[str, Image] = MappingProxyType(flat)
        self._stage_times: tuple[StageTime, ...] = tuple(stage_times)

    @property
    def renditions(self) -> Mapping[str, Image]:
        """Rendition name -> Image, in branch order (read-only)."""
        return self._renditions

    @property
    def stage_times(self) -> tuple[StageTime, ...]:
        """``(name, start, end)`` of the branch stages that made these renditions."""
        return self._stage_times

    def __iter__(self) -> Iterator[tuple[str, Image]]:
        return iter(self._renditions.items())

    def __len__(self) -> int:
        return len(self._renditions)

    def __repr__(self) -> str:
        return "<Renditions " + ", ".join(
            f"{name}={image.width}x{image.height} {image.encoded_format or image.pixel_format}"
            for name, image in self._renditions.items()) + ">"

    def __reduce__(self) -> tuple[Any, ...]:
        return (Renditions, (dict(self._renditions), self._stage_times))


class BranchError(ImagestagError):
    """A branch of a ``tee`` failed: ``branch`` (``"small"``), its ``stage``
    (``"0_Resize"``) and the original ``error`` (also the ``__cause__``)."""

    def __init__(self, branch: str, stage: str, error: BaseException) -> None:
        super().__init__(f"branch {branch!r} failed in stage {stage}: "
                         f"{type(error).__name__}: {error}")
        self.branch, self.stage, self.error = branch, stage, error
        self.__cause__ = error

    def __reduce__(self) -> tuple[Any, ...]:
        return (BranchError, (self.branch, self.stage, self.error))


class Tee(Filter):
    """Run named branches on the same input; the result carries each output by name.

    Args:
        **branches: branch name (letters, digits, ``_``) -> a
            :class:`~imagestag_core.pipeline.FilterPipeline`, spec text
            (``"resize 320x | encode webp"``) or a list of filters.  In spec
            text: ``tee small=(resize 320x | encode webp) large=(...)``.

    With no branch it passes its input through.  An empty branch (``orig=()``)
    keeps the input as a rendition.  See the module docs for naming, errors,
    shrink-on-load and metrics.
    """

    name = "tee"
    #: what ``imagestag filters tee`` shows: the parameters are the branches
    spec_example: ClassVar[str] = ("tee small=(resize 320x | encode webp) "
                                   "large=(resize 1920x | encode jpeg quality=85)")

    def __init__(self, **branches: FilterPipeline | str | Iterable[Filter | str]) -> None:
        built: dict[str, FilterPipeline] = {}
        for key, value in branches.items():
            if not _BRANCH_NAME.fullmatch(key):
                raise FilterParameterError(
                    f"tee: invalid branch name {key!r}; use letters, digits and '_'",
                    filter_name=self.name, parameter=key)
            try:
                built[key] = value if isinstance(value, FilterPipeline) else FilterPipeline(
                    value)
            except ImagestagError as exc:
                raise FilterParameterError(
                    f"tee: branch {key!r} must be a pipeline, as in {key}=(resize 320x | "
                    f"encode webp); {exc}", filter_name=self.name, parameter=key) from None
        self.branches: Mapping[str, FilterPipeline] = MappingProxyType(built)
        super().__init__()

    @classmethod
    def map_positional(cls, args: tuple[Any, ...]) -> dict[str, Any]:
        if args:
            raise FilterParameterError(
                f"tee takes named branches only, as in tee small=(resize 320x) "
                f"large=(resize 1920x); got {len(args)} positional value(s)",
                filter_name=cls.name)
        return {}

    def get_params(self) -> dict[str, Any]:
        """Branch name -> pipeline, in branch order (the spec's ``NAME=(PIPELINE)``)."""
        return dict(self.branches)

    def non_default_params(self) -> dict[str, Any]:
        return dict(self.branches)

    def __hash__(self) -> int:
        return hash((type(self).__qualname__, tuple(self.branches.items())))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Tee):
            return NotImplemented
        return tuple(self.branches.items()) == tuple(other.branches.items())

    def rendition_branches(self) -> dict[str, FilterPipeline]:
        """Rendition name -> the branch that makes it, flattened as the result is: a
        branch ending in a ``tee`` gives ``branch.inner`` names (what the CLI writes)."""
        out: dict[str, FilterPipeline] = {}
        for name, pipeline in self.branches.items():
            last = pipeline.filters[-1] if pipeline.filters else None
            if isinstance(last, Tee) and last.branches:
                out.update((f"{name}.{k}", v) for k, v in last.rendition_branches().items())
            else:
                out[name] = pipeline
        return out

    def decode_hint(self, info: ImageInfo, reductions: tuple[int, ...]) -> int | None:
        """The smallest branch hint: the source the largest rendition needs (None
        without branches: the input is handed on)."""
        hints = [p.decode_hint(info, reductions) for p in self.branches.values()]
        return min(hints) if hints else None

    def apply(self, image: Image) -> Image:
        if not self.branches:
            return image
        outputs: dict[str, Image] = {}
        times: list[StageTime] = []
        for branch, pipeline in self.branches.items():
            current = image
            for stage, filt in zip(pipeline.stage_names, pipeline.filters):
                t0 = time.perf_counter()
                current = _run(branch, stage, filt, current)
                times.append((f"{branch}.{stage}", t0, time.perf_counter()))
                if isinstance(current, Renditions):  # a nested tee: its stages below ours
                    times += [(f"{branch}.{stage}.{n}", a, b) for n, a, b in current.stage_times]
            outputs[branch] = current
        return Renditions(outputs, times)


def _run(branch: str, stage: str, filt: Filter, image: Image) -> Image:
    try:
        out = filt.apply(image)
    except ImagestagError as exc:
        raise BranchError(branch, stage, exc) from exc
    except Exception as exc:  # a bug: not ours to disguise, but say where it happened
        if hasattr(exc, "add_note"):  # Python 3.11+
            exc.add_note(f"in branch {branch!r} of tee, stage {stage}")
        raise
    if not isinstance(out, Image):
        raise BranchError(branch, stage, ImagestagError(
            f"{type(filt).__name__}.apply returned {type(out).__name__}, not an Image"))
    return out


@hookimpl
def register_filters(register: Any) -> None:
    register(Tee)
