"""``check_filter`` and ``check_executor``: the contract every plugin must keep.

Each property is checked with hypothesis; the first one broken raises
:class:`~imagestag_core.errors.ContractViolation` whose ``property`` names it
and whose message shows the shrunk counter-example.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import json
import multiprocessing
import os
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

import numpy as np
from hypothesis import given, note
from hypothesis import settings as Settings
from hypothesis import strategies as st
from hypothesis.errors import Flaky

from ..errors import (
    ContractViolation,
    FrameError,
    ImagestagError,
    InjectedFault,
    PipelineError,
)
from ..executor import Executor
from ..filter import Filter
from ..image import Image
from ..pipeline import FilterPipeline
from ..pixel_format import PixelFormat
from .profiles import kit_settings
from .strategies import (
    ImageRecipe,
    describe,
    filter_instances,
    frame_batches,
    pipelines,
    recipes,
)

__all__ = [
    "EXECUTOR_PROPERTIES",
    "FILTER_PROPERTIES",
    "check_executor",
    "check_filter",
    "fingerprint",
    "registered_for_test",
]

T = TypeVar("T")

FILTER_PROPERTIES = ("spec round trip", "clear errors", "input immutability",
                     "no state mutation", "output validity", "determinism", "concurrency")
EXECUTOR_PROPERTIES = ("equivalence", "order", "no frame lost", "error policy",
                       "stop and cancel", "no leaks")

#: fault-injection parameters that are times: the kit keeps them short so that
#: delay-style filters pass quickly (a filter may still declare its own strategy)
_TIME_PARAM_HINTS = ("ms", "seconds", "delay", "sleep", "jitter", "duration", "hold")
_TIME_CAP_MS = 3.0


class _Broken(Exception):
    """A property failed on one example (internal; becomes ContractViolation)."""

    def __init__(self, prop: str, message: str, *, hang: bool = False) -> None:
        super().__init__(f"[{prop}] {message}")
        self.prop = prop
        self.message = message
        self.hang = hang


def _guarded(test: Callable[..., None]) -> Callable[..., None]:
    """Keep a hanging executor from making shrinking cost a timeout per candidate.

    Once an example has hung, other (shrink) candidates are skipped as passing
    and only examples that already failed run again; the report then shows the
    example as found rather than shrunk.
    """
    hung = False
    failed: set[str] = set()

    @functools.wraps(test)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        nonlocal hung
        key = repr((args, sorted(kwargs.items())))
        if hung and key not in failed:
            return
        try:
            test(*args, **kwargs)
        except _Broken as exc:
            failed.add(key)
            hung = hung or exc.hang
            raise
    return wrapper


# -- helpers ---------------------------------------------------------------------------------


def fingerprint(image: Image) -> tuple[Any, ...]:
    """What must be byte-identical between two runs: format, dtype, size, metadata and
    the encoded bytes (when the image carries them) or the pixels; for an image with
    named ``renditions`` (a ``tee`` result), each rendition's fingerprint by name."""
    head = (image.pixel_format.value, str(image.dtype), image.size,
            repr(sorted(image.metadata.items(), key=lambda kv: kv[0])))
    renditions = getattr(image, "renditions", None)  # a branching filter's named results
    if isinstance(renditions, Mapping) and renditions:
        return (*head, "renditions", tuple((name, fingerprint(r))
                                           for name, r in renditions.items()))
    if image.encoded is not None:
        return (*head, "encoded", image.encoded_format, image.encoded)
    pixels = image.get_pixels()
    return (*head, "pixels", pixels.shape, pixels.tobytes())


def _short(fp: tuple[Any, ...]) -> str:
    kind = fp[4] if len(fp) > 4 else "?"
    payload = fp[-1]
    digest = hash(payload) & 0xFFFFFFFF if isinstance(payload, (bytes, tuple)) else payload
    return f"{fp[0]} {fp[1]} {fp[2][0]}x{fp[2][1]} {kind} #{digest:08x}"


def _outcome(f: Filter, image: Image) -> tuple[Any, ...]:
    """``("ok", fingerprint, image)`` or ``("error", type name, exception)``."""
    try:
        out = f.apply(image)
    except ImagestagError as exc:
        return ("error", type(exc).__name__, exc)
    except Exception as exc:
        raise _Broken("clear errors",
                      f"apply raised {type(exc).__name__}: {exc}, not an ImagestagError; "
                      f"reject inputs a filter cannot handle with an error from "
                      f"imagestag_core.errors\n{_trace(exc)}") from exc
    if not isinstance(out, Image):
        raise _Broken("output validity",
                      f"apply returned {type(out).__name__}, not an Image")
    _check_output(out)
    return ("ok", fingerprint(out), out)


def _same(a: tuple[Any, ...], b: tuple[Any, ...]) -> bool:
    return bool(a[0] == b[0] and a[1] == b[1])


def _show(outcome: tuple[Any, ...]) -> str:
    if outcome[0] == "error":
        return f"{outcome[1]}: {outcome[2]}"
    return f"{describe(outcome[2])}"


def _trace(exc: BaseException) -> str:
    lines = traceback.format_exception(type(exc), exc, exc.__traceback__)
    return "".join(lines[-6:]).rstrip()


def _check_output(out: Image) -> None:
    fmt = out.pixel_format
    if not isinstance(fmt, PixelFormat):
        raise _Broken("output validity", f"pixel_format is {fmt!r}, not a PixelFormat")
    if out.dtype not in fmt.allowed_dtypes:
        raise _Broken("output validity", f"a {fmt} image with dtype {out.dtype}")
    if out.width < 1 or out.height < 1:
        raise _Broken("output validity", f"an empty image of size {out.size}")
    try:
        pixels = out.get_pixels()
    except ImagestagError as exc:
        raise _Broken("output validity", f"the output's pixels cannot be read: {exc}") from exc
    want = (out.height, out.width) if fmt is PixelFormat.GRAY else (
        out.height, out.width, fmt.channels)
    if pixels.shape != want or pixels.dtype != out.dtype:
        raise _Broken("output validity",
                      f"{out!r} holds an array of shape {pixels.shape} {pixels.dtype}; "
                      f"expected {want} {out.dtype}")


class _InputSnapshot:
    """Everything about an input that ``apply`` must leave unchanged."""

    def __init__(self, image: Image, recipe: ImageRecipe) -> None:
        self.encoded = None if image.encoded is None else bytes(image.encoded)
        # pixels come from a separate, equal image so that taking the snapshot
        # does not decode (and so change) the input the filter will see
        self.pixels = recipe.make().get_pixels().copy()
        self.metadata = copy.deepcopy(dict(image.metadata))
        self.header = (image.pixel_format, image.dtype, image.size)
        self.flags = _array_flags(image)

    def compare(self, image: Image) -> str | None:
        if self.header != (image.pixel_format, image.dtype, image.size):
            return (f"the input's format/dtype/size changed from {self.header} to "
                    f"{(image.pixel_format, image.dtype, image.size)}")
        if self.encoded is not None and image.encoded != self.encoded:
            return "the input's encoded bytes changed"
        if dict(image.metadata) != self.metadata:
            return f"the input's metadata changed from {self.metadata!r} to " \
                   f"{dict(image.metadata)!r}"
        flags = _array_flags(image)
        if image.is_decoded:
            now = image.get_pixels()
            if now.shape != self.pixels.shape or now.tobytes() != self.pixels.tobytes():
                diff = _first_difference(self.pixels, now)
                return f"the input's pixels changed (first difference at {diff})"
        if self.flags is not None and flags is not None and flags != self.flags[:len(flags)]:
            return f"the input's array flags changed from {self.flags} to {flags}"
        return None


def _array_flags(image: Image) -> tuple[tuple[str, bool], ...] | None:
    if not image.is_decoded:
        return None
    chain: list[tuple[str, bool]] = []
    array: Any = image.get_pixels()
    depth = 0
    # walk the view chain: a filter may reach the caller's array through .base
    while isinstance(array, np.ndarray) and depth < 4:
        chain.append((f"base{depth}.writeable", bool(array.flags.writeable)))
        array = array.base
        depth += 1
    return tuple(chain)


def _first_difference(a: np.ndarray, b: np.ndarray) -> str:
    if a.shape != b.shape:
        return f"shape {a.shape} -> {b.shape}"
    index = np.argwhere(a.view(np.uint8).reshape(a.shape[0], -1)
                        != b.view(np.uint8).reshape(b.shape[0], -1))
    if not len(index):
        return "?"
    row, col = (int(v) for v in index[0])
    return f"row {row}, byte {col}"


def _state(f: Filter) -> dict[str, Any]:
    return {key: _digest(value) for key, value in vars(f).items()}


def _digest(value: Any, depth: int = 0) -> Any:
    """A comparable picture of a value: containers and arrays by content, any other
    object by identity (a helper such as a codec or a lock may have internals
    of its own; re-binding the attribute to another object is what counts)."""
    if depth > 8:
        return ("deep", id(value))
    if value is None or isinstance(value, (bool, int, float, complex, str, bytes)):
        return (type(value).__name__, value)
    if isinstance(value, np.ndarray):
        return ("ndarray", id(value), value.dtype.str, value.shape, value.tobytes(),
                bool(value.flags.writeable))
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, id(value) if isinstance(value, list) else 0,
                tuple(_digest(v, depth + 1) for v in value))
    if isinstance(value, (set, frozenset)):
        return (type(value).__name__, id(value), tuple(sorted(repr(v) for v in value)))
    if isinstance(value, Mapping):
        return (type(value).__name__, id(value),
                tuple((repr(k), _digest(v, depth + 1)) for k, v in value.items()))
    return ("object", type(value).__qualname__, id(value))


def _compare_state(before: dict[str, Any], after: dict[str, Any]) -> str | None:
    added = sorted(set(after) - set(before))
    removed = sorted(set(before) - set(after))
    if added or removed:
        return f"attributes added {added} / removed {removed} by apply"
    for key in before:
        if before[key] != after[key]:
            return f"attribute {key!r} changed (before: {_brief(before[key])}, " \
                   f"after: {_brief(after[key])})"
    return None


def _brief(digest: Any) -> str:
    text = repr(digest)
    return text if len(text) <= 200 else text[:200] + "..."


def _rebuilt(f: Filter) -> list[Filter]:
    """Instances equal to ``f`` built from its spec (and from its parameters)."""
    out = [type(f)(**f.get_params())]
    # a spec that does not round-trip is reported by its own property
    with contextlib.suppress(ImagestagError):
        out.append(Filter.from_dict(f.to_dict()))
    return out


def _run_property(test: Callable[[], None], label: str) -> None:
    """Run a hypothesis test; turn an internal failure into ContractViolation."""
    try:
        test()
    except _Broken as exc:
        raise _violation(exc, label) from None
    except Flaky as exc:
        inner = _find_broken(exc)
        if inner is None:
            raise
        inner.message = (f"{inner.message}\n(the failure was intermittent: it did not "
                         f"reproduce on every run of the same example, as races do)")
        notes = [*getattr(exc, "__notes__", []), *getattr(inner, "__notes__", [])]
        setattr(inner, "__notes__", list(dict.fromkeys(notes)))  # noqa: B010
        raise _violation(inner, label) from None


def _find_broken(exc: BaseException) -> _Broken | None:
    if isinstance(exc, _Broken):
        return exc
    for sub in getattr(exc, "exceptions", ()):
        found = _find_broken(sub)
        if found is not None:
            return found
    cause = exc.__cause__ or exc.__context__
    return _find_broken(cause) if cause is not None else None


def _violation(exc: _Broken, label: str) -> ContractViolation:
    notes = [n for n in getattr(exc, "__notes__", []) if n.strip()]
    example = "\n".join(notes)
    message = exc.message
    if example:
        message = f"{message}\ncounter-example:\n{example}"
    return ContractViolation(exc.prop, message, plugin=label, example=notes)


# -- registration ----------------------------------------------------------------------------


@contextmanager
def registered_for_test(cls: type[Filter]) -> Iterator[str]:
    """Make ``cls`` resolvable by name while the block runs; yields its registry name.

    A class already registered is used as is.  Otherwise an isolated plugin
    manager is installed holding a copy of the current registries (so codecs and
    colormaps still resolve) plus ``cls``; the process-wide manager is restored
    afterwards.
    """
    from ..plugins import get_plugin_manager, register_filter, registry_name_of, use_plugin_manager

    name = registry_name_of(cls)
    if name is not None:
        yield name
        return
    isolated = get_plugin_manager().copy()
    name = _registrable_name(cls.name)
    if name in isolated.filters:
        # the filter under test shadows an installed one of the same name
        isolated.filters.remove(name)
    with use_plugin_manager(isolated):
        register_filter(cls, name=name)
        yield name


def _registrable_name(name: str) -> str:
    cleaned = "".join(c if c.isalnum() or c == "_" else "_" for c in name.lower())
    if not cleaned or not cleaned[0].isalpha():
        cleaned = f"f_{cleaned}"
    return cleaned


def _time_overrides(cls: type[Filter]) -> dict[str, Any]:
    """Short times for delay-style parameters that declare no strategy of their own."""
    out: dict[str, Any] = {}
    for spec in cls.params:
        if spec.strategy is not None or spec.type not in (int, float, int | None,
                                                          float | None):
            continue
        if not any(hint in spec.name.lower() for hint in _TIME_PARAM_HINTS):
            continue
        seconds = "second" in spec.name.lower() or spec.name.lower().endswith("_s")
        cap = _TIME_CAP_MS / 1000 if seconds else _TIME_CAP_MS
        lo = spec.min if spec.min is not None else 0
        hi = max(lo, min(cap, spec.max) if spec.max is not None else cap)
        if spec.type in (int, int | None):
            out[spec.name] = st.integers(int(lo), max(int(lo), int(hi)))
        else:
            out[spec.name] = st.floats(float(lo), float(hi))
    return out


# -- check_filter ---------------------------------------------------------------------------


def check_filter(filter_or_class: Filter | type[Filter], *,
                 images: st.SearchStrategy[ImageRecipe] | None = None,
                 overrides: Mapping[str, Any] | None = None,
                 settings: Settings | None = None, threads: int = 8, frames: int = 16,
                 properties: Sequence[str] = FILTER_PROPERTIES) -> None:
    """Check that a filter keeps the filter contract; raise ContractViolation if not.

    Args:
        filter_or_class: a Filter subclass (instances are drawn from its declared
            parameters) or one instance (checked as configured).  It need not be
            registered: an unregistered class is registered temporarily in an
            isolated plugin manager, so the spec round trip is checked too.
        images: recipes of the inputs (default :func:`~.strategies.recipes` with
            every format, dtype and registered codec); build one with
            ``strategies.recipes(formats=..., dtypes=..., max_side=...)``.
        overrides: parameter name -> strategy, for parameters whose type and
            bounds are not enough.
        settings: hypothesis settings (default: the selected kit profile).
        threads: the concurrency property runs one instance from this many
            threads at once...
        frames: ...over this many distinct frames.
        properties: a subset of :data:`FILTER_PROPERTIES` to check.

    Properties: *spec round trip*, *clear errors* (only ImagestagError may
    escape ``apply``), *input immutability*, *no state mutation*, *output
    validity*, *determinism* and *concurrency*.  See docs/testing-plugins.md.
    """
    unknown = set(properties) - set(FILTER_PROPERTIES)
    if unknown:
        raise ImagestagError(f"unknown properties {sorted(unknown)}; choose from "
                             f"{', '.join(FILTER_PROPERTIES)}")
    if isinstance(filter_or_class, Filter):
        cls: type[Filter] = type(filter_or_class)
        fixed: Filter | None = filter_or_class
    elif isinstance(filter_or_class, type) and issubclass(filter_or_class, Filter):
        cls, fixed = filter_or_class, None
    else:
        raise ImagestagError(f"check_filter expects a Filter subclass or instance, got "
                             f"{filter_or_class!r}")
    base = settings if settings is not None else kit_settings()
    with registered_for_test(cls) as name:
        label = f"filter {name!r} ({cls.__module__}.{cls.__qualname__})"
        merged = {**_time_overrides(cls), **(overrides or {})}
        instances: st.SearchStrategy[Filter] = (
            st.just(fixed) if fixed is not None else filter_instances(cls, merged))
        inputs = images if images is not None else recipes()
        wanted = set(properties)
        if "spec round trip" in wanted:
            _run_property(_spec_test(instances, base), label)
        per_call = wanted & {"clear errors", "input immutability", "no state mutation",
                             "output validity", "determinism"}
        if per_call:
            _run_property(_apply_test(instances, inputs, per_call, base), label)
        if "concurrency" in wanted:
            examples = max(2, base.max_examples // 3)
            batches = frame_batches(min_frames=frames, max_frames=frames, max_side=16)
            _run_property(_concurrency_test(instances, batches, threads,
                                            Settings(base, max_examples=examples)), label)


def _spec_test(instances: st.SearchStrategy[Filter], base: Settings) -> Callable[[], None]:
    @Settings(base, max_examples=base.max_examples * 3)
    @given(instances)
    def spec_round_trip(f: Filter) -> None:
        note(f"filter: {f!r}")
        checks: list[tuple[str, Callable[[], Any], Any]] = [
            ("FilterPipeline.parse(f.to_string())",
             lambda: FilterPipeline.parse(f.to_string()), FilterPipeline([f])),
            ("Filter.from_dict(f.to_dict())", lambda: Filter.from_dict(f.to_dict()), f),
            ("FilterPipeline.from_json(json)",
             lambda: FilterPipeline.from_json(json.dumps(FilterPipeline([f]).to_dict())),
             FilterPipeline([f])),
        ]
        for what, build, expected in checks:
            try:
                text = f.to_string()
                rebuilt = build()
            except ImagestagError as exc:
                raise _Broken("spec round trip",
                              f"{what} failed for {f!r}: {type(exc).__name__}: {exc}") from exc
            if rebuilt != expected:
                raise _Broken("spec round trip",
                              f"{what} gave {rebuilt!r}, not {expected!r} "
                              f"(spec text {text!r}, dict {f.to_dict()!r})")
    return spec_round_trip


def _apply_test(instances: st.SearchStrategy[Filter], inputs: st.SearchStrategy[ImageRecipe],
                wanted: set[str], base: Settings) -> Callable[[], None]:
    @base
    @given(instances, inputs)
    def apply_contract(f: Filter, recipe: ImageRecipe) -> None:
        image = recipe.make()
        note(f"filter: {f!r} (spec {f.to_string()!r})")
        note(f"input: {recipe!r}\n{describe(recipe.make())}")
        snapshot = _InputSnapshot(image, recipe)
        before = _state(f)
        first = _outcome(f, image)
        if first[0] == "ok":
            note(f"output: {describe(first[2])}")
        else:
            note(f"rejected with {first[1]}: {first[2]}")
        if "input immutability" in wanted:
            changed = snapshot.compare(image)
            if changed:
                raise _Broken("input immutability", f"apply modified its input: {changed}")
        if "no state mutation" in wanted:
            changed = _compare_state(before, _state(f))
            if changed:
                raise _Broken("no state mutation",
                              f"apply changed the filter instance: {changed}; keep per-call "
                              f"state in local variables")
        if "determinism" in wanted:
            again = _outcome(f, recipe.make())
            if not _same(first, again):
                raise _Broken("determinism",
                              f"the same input gave different outputs on two calls:\n"
                              f"  first:  {_show(first)}\n  second: {_show(again)}")
            for other in _rebuilt(f):
                out = _outcome(other, recipe.make())
                if not _same(first, out):
                    raise _Broken("determinism",
                                  f"an equal instance built from the spec ({other!r}) gave a "
                                  f"different output:\n  original: {_show(first)}\n"
                                  f"  rebuilt:  {_show(out)}")
    return apply_contract


def _concurrency_test(instances: st.SearchStrategy[Filter],
                      batches: st.SearchStrategy[list[ImageRecipe]], threads: int,
                      base: Settings) -> Callable[[], None]:
    @base
    @given(instances, batches)
    def concurrency(f: Filter, batch: list[ImageRecipe]) -> None:
        note(f"filter: {f!r}; {len(batch)} frames like {batch[0]!r}, {threads} threads")
        expected = [_outcome(f, r.make()) for r in batch]
        inputs = [r.make() for r in batch]
        got: list[tuple[Any, ...] | None] = [None] * len(batch)
        errors: list[BaseException] = []
        barrier = threading.Barrier(threads, timeout=60)

        def worker(index: int) -> None:
            try:
                barrier.wait()
                for i in range(index, len(inputs), threads):
                    got[i] = _outcome(f, inputs[i])
            except BaseException as exc:
                errors.append(exc)

        pool = [threading.Thread(target=worker, args=(i,), daemon=True,
                                 name=f"imagestag-kit-{i}") for i in range(threads)]
        for t in pool:
            t.start()
        for t in pool:
            t.join(120)
        if any(t.is_alive() for t in pool):
            raise _Broken("concurrency", f"{threads} threads applying one instance did not "
                                         f"finish within 120 s (a deadlock?)")
        for exc in errors:
            if isinstance(exc, _Broken):
                raise exc
            raise _Broken("concurrency", f"a thread failed: {type(exc).__name__}: {exc}")
        for i, (want, have) in enumerate(zip(expected, got)):
            assert have is not None
            if not _same(want, have):
                raise _Broken("concurrency",
                              f"frame {i} of {len(batch)} gave a different output when "
                              f"{threads} threads shared the instance:\n"
                              f"  sequential: {_show(want)}\n  concurrent: {_show(have)}")
    return concurrency


# -- kit-internal filters for the executor checks ---------------------------------------------
# Module-level so a process executor can pickle them by reference.

_FAIL_MARK = np.array([7, 251, 7, 251], dtype=np.uint8)


class KitFailOnMark(Filter):
    """Fails on frames whose first four uint8 values are the kit's mark."""

    name = "imagestag_kit_fail"

    def apply(self, image: Image) -> Image:
        flat = image.get_pixels().reshape(-1)
        if flat.dtype == np.uint8 and flat.size >= 4 and np.array_equal(flat[:4], _FAIL_MARK):
            raise InjectedFault("the contract kit's injected failure on a marked frame")
        return image


class KitInvert(Filter):
    """A pure uint8 inversion, so executor checks run even with no filter registered."""

    name = "imagestag_kit_invert"

    def apply(self, image: Image) -> Image:
        pixels = image.get_pixels()
        if pixels.dtype != np.uint8:
            return image
        return image.derive(255 - pixels, image.pixel_format)


class KitSlow(Filter):
    """Takes a few milliseconds per frame so that ``stop(cancel=True)`` has work to cancel."""

    name = "imagestag_kit_slow"

    def apply(self, image: Image) -> Image:
        time.sleep(0.003)
        return image


def _mark(recipe: ImageRecipe, fail: bool) -> Image:
    pixels = recipe.pixels()
    flat = pixels.reshape(-1)
    if fail:
        flat[:4] = _FAIL_MARK
    elif np.array_equal(flat[:4], _FAIL_MARK):
        flat[0] = 0
    return Image(pixels, recipe.pixel_format, metadata=dict(recipe.metadata))


def _reference(pipeline: FilterPipeline, image: Image) -> tuple[Any, ...]:
    """What ``sequential`` with ``on_error="collect"`` gives for one frame.

    Like every executor it first lets the pipeline prepare the source
    (shrink-on-load), so a reduced decode is part of the expected result.
    """
    try:
        image = pipeline.prepare_source(image)
    except Exception as exc:
        return ("error", None, type(exc).__name__)
    for index, f in enumerate(pipeline.filters):
        try:
            image = f.apply(image)
        except Exception as exc:
            return ("error", pipeline.stage_names[index], type(exc).__name__)
    return ("ok", fingerprint(image))


def _result_key(result: Any) -> tuple[Any, ...]:
    if isinstance(result, FrameError):
        error = result.error
        return ("error", result.stage, type(error).__name__)
    if isinstance(result, Image):
        return ("ok", fingerprint(result))
    return ("bad", type(result).__name__)


def _key_text(key: tuple[Any, ...]) -> str:
    if key[0] == "ok":
        return _short(key[1])
    if key[0] == "error":
        return f"FrameError in {key[1]} ({key[2]})"
    return f"a {key[1]} (neither an Image nor a FrameError)"


def _bounded(fn: Callable[[], T], timeout: float, what: str) -> T:
    """Run ``fn`` in a helper thread; a hang becomes a 'no frame lost' violation."""
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:
            box["error"] = exc

    thread = threading.Thread(target=run, daemon=True, name="imagestag-kit-watchdog")
    thread.start()
    # the calls inside wait up to ``timeout`` themselves; leave them room to say so
    thread.join(timeout + 10)
    if thread.is_alive():
        raise _Broken("no frame lost", f"{what} did not return within {timeout:.0f} s: a frame "
                                       f"was never delivered, or the executor hangs",
                      hang=True)
    if "error" in box:
        raise box["error"]
    value: T = box["value"]
    return value


def _collect(ex: Executor, timeout: float) -> list[tuple[int, Any]]:
    """Every outstanding ``(seq, result)``; a frame that never comes is a violation."""
    pairs: list[tuple[int, Any]] = []
    try:
        pairs.extend(ex.results(with_seq=True, timeout=timeout))
    except TimeoutError:
        got = sorted(seq for seq, _ in pairs)
        raise _Broken("no frame lost", f"results() waited {timeout:.0f} s for a frame that "
                                       f"never came; delivered seqs {got}",
                      hang=True) from None
    return pairs


def _compare_ordered(expected: list[tuple[Any, ...]], got: list[Any], what: str) -> None:
    keys = [_result_key(r) for r in got]
    if len(keys) < len(expected):
        raise _Broken("no frame lost", f"{what} returned {len(keys)} results for "
                                       f"{len(expected)} frames")
    if len(keys) > len(expected):
        raise _Broken("no frame lost", f"{what} returned {len(keys)} results for "
                                       f"{len(expected)} frames (duplicates?)")
    if keys == expected:
        return
    if sorted(keys, key=repr) == sorted(expected, key=repr):
        order = [expected.index(k) for k in keys]
        raise _Broken("order", f"{what} returned the right results in the wrong order: "
                               f"frames {order} instead of 0..{len(expected) - 1}")
    for i, (want, have) in enumerate(zip(expected, keys)):
        if want != have:
            raise _Broken("equivalence", f"{what}: frame {i} differs from sequential:\n"
                                         f"  sequential: {_key_text(want)}\n"
                                         f"  executor:   {_key_text(have)}")


def _compare_with_seq(expected: list[tuple[Any, ...]], pairs: list[tuple[int, Any]],
                      ordered: bool, what: str) -> None:
    seqs = [seq for seq, _ in pairs]
    if sorted(seqs) != list(range(len(expected))):
        missing = sorted(set(range(len(expected))) - set(seqs))
        extra = sorted(s for s in set(seqs) if seqs.count(s) > 1 or s >= len(expected))
        raise _Broken("no frame lost", f"{what}: seqs {seqs}; missing {missing}, "
                                       f"duplicated/unknown {extra}")
    if ordered and seqs != sorted(seqs):
        raise _Broken("order", f"{what} with preserve_order=True delivered seqs {seqs}")
    for seq, result in pairs:
        if _result_key(result) != expected[seq]:
            mislabelled = _result_key(result) in expected
            raise _Broken("order" if mislabelled else "equivalence",
                          f"{what}: the result delivered as seq {seq} is "
                          f"{_key_text(_result_key(result))}; sequential gives "
                          f"{_key_text(expected[seq])} for that frame")


# -- check_executor -----------------------------------------------------------------------------


def check_executor(name_or_class: str | type[Executor], *,
                   options: Mapping[str, Any] | None = None,
                   settings: Settings | None = None, max_examples: int | None = None,
                   timeout: float = 60.0, leak_cycles: int = 3,
                   properties: Sequence[str] = EXECUTOR_PROPERTIES) -> None:
    """Check that an executor keeps the executor contract; raise ContractViolation if not.

    Args:
        name_or_class: a registered executor name or an Executor subclass.
        options: extra constructor options (``num_workers=2``...).
        settings: hypothesis settings (default: the selected kit profile).
        max_examples: examples per property (default: half the profile's, at
            least 2: every example starts executors, which may start processes).
        timeout: seconds any one call may take before it counts as a hang.
        leak_cycles: open/run/close cycles of the leak check.
        properties: a subset of :data:`EXECUTOR_PROPERTIES`.

    On pipelines drawn from the registry (plus kit-internal filters) and
    batches of distinct frames: results equal a sequential run's, in order
    (*equivalence*, *order*); with ``preserve_order`` off, every seq arrives
    exactly once with its own result (*no frame lost*); ``on_error`` raise,
    skip and collect behave as documented (*error policy*); ``stop`` and
    ``stop(cancel=True)`` keep or drop the right frames (*stop and cancel*);
    repeated cycles leave no threads, child processes or /dev/shm segments
    behind (*no leaks*).
    """
    from ..plugins import get_executor_class

    unknown = set(properties) - set(EXECUTOR_PROPERTIES)
    if unknown:
        raise ImagestagError(f"unknown properties {sorted(unknown)}; choose from "
                             f"{', '.join(EXECUTOR_PROPERTIES)}")
    cls = get_executor_class(name_or_class) if isinstance(name_or_class, str) else name_or_class
    if not (isinstance(cls, type) and issubclass(cls, Executor)):
        raise ImagestagError(f"check_executor expects an executor name or an Executor "
                             f"subclass, got {name_or_class!r}")
    label = f"executor {cls.name or cls.__name__!r} ({cls.__module__}.{cls.__qualname__})"
    base = settings if settings is not None else kit_settings()
    examples = max_examples if max_examples is not None else max(2, base.max_examples // 2)
    run_settings = Settings(base, max_examples=examples)
    opts = dict(options or {})
    make = _executor_factory(cls, opts)
    wanted = set(properties)
    # stages: anything registered plus the kit's own invert, kept short
    # an executor that takes long to start (processes, a cluster) gets fewer,
    # fuller examples, so the kit stays cheap enough to run on every commit
    try:
        cycle = _timed_cycle(make, timeout)
    except _Broken as exc:
        # an executor that hangs or loses a frame already in the cost probe
        raise _violation(exc, label) from None
    costly = cycle > _COSTLY_CYCLE_S and max_examples is None
    if costly:
        run_settings = Settings(base, max_examples=max(1, base.max_examples // 6))
        leak_cycles = min(leak_cycles, 2)
    stages = pipelines(min_stages=1, max_stages=3, extra=(KitInvert,))
    batches = frame_batches(min_frames=3 if costly else 0, max_frames=10, max_side=12)
    if wanted & {"equivalence", "order", "no frame lost"}:
        _run_property(_equivalence_test(make, stages, batches, timeout, run_settings), label)
    if "error policy" in wanted:
        plain = frame_batches(min_frames=3 if costly else 1, max_frames=8, formats=["rgb"],
                              min_side=2, max_side=12, encoded=False)
        _run_property(_error_policy_test(make, stages, plain, timeout, run_settings), label)
    if "stop and cancel" in wanted:
        _run_property(_stop_test(make, timeout,
                                 Settings(run_settings,
                                          max_examples=min(run_settings.max_examples, 2))), label)
    if "no leaks" in wanted:
        try:
            _check_leaks(make, leak_cycles, timeout)
        except _Broken as exc:
            raise _violation(exc, label) from None


def _executor_factory(cls: type[Executor], options: dict[str, Any],
                      ) -> Callable[..., Executor]:
    def make(pipeline: FilterPipeline, **more: Any) -> Executor:
        return cls(pipeline, **{**options, **more})
    return make


def _equivalence_test(make: Callable[..., Executor], stages: st.SearchStrategy[FilterPipeline],
                      batches: st.SearchStrategy[list[ImageRecipe]], timeout: float,
                      base: Settings) -> Callable[[], None]:
    @base
    @given(stages, batches)
    @_guarded
    def equivalence(pipeline: FilterPipeline, batch: list[ImageRecipe]) -> None:
        note(f"pipeline: {pipeline.to_string()!r}; {len(batch)} frames"
             + (f" like {batch[0]!r}" if batch else ""))
        expected = [_reference(pipeline, r.make()) for r in batch]
        count = len(batch)

        def run(preserve: bool) -> tuple[list[Any] | None, list[tuple[int, Any]]]:
            # one executor per mode: process_all first, then the same frames again
            # through submit/results, so a costly executor starts only twice
            with make(pipeline, on_error="collect", preserve_order=preserve) as ex:
                ordered = None
                if preserve:
                    ordered = ex.process_all([r.make() for r in batch])
                    _compare_ordered(expected, ordered, f"process_all (preserve_order={preserve})")
                first = count if preserve else 0
                seqs = [ex.submit(r.make()) for r in batch]
                if seqs != list(range(first, first + count)):
                    raise _Broken("order", f"submit returned seqs {seqs}, not "
                                           f"{first}..{first + count - 1}")
                pairs = _collect(ex, timeout)
                metrics = ex.get_metrics()
            done = metrics.frames_completed + metrics.frames_failed
            if done != first + count:
                raise _Broken("no frame lost", f"metrics count {metrics.frames_completed} "
                                               f"completed + {metrics.frames_failed} failed "
                                               f"for {first + count} frames")
            return ordered, [(seq - first, result) for seq, result in pairs]

        for preserve in (True, False):
            what = f"preserve_order={preserve}"
            _, pairs = _bounded(functools.partial(run, preserve), timeout, what)
            _compare_with_seq(expected, pairs, preserve,
                              f"submit/results(with_seq=True) ({what})")
    return equivalence


def _error_policy_test(make: Callable[..., Executor],
                       stages: st.SearchStrategy[FilterPipeline],
                       batches: st.SearchStrategy[list[ImageRecipe]], timeout: float,
                       base: Settings) -> Callable[[], None]:
    @base
    @given(stages, batches, st.data())
    @_guarded
    def error_policy(pipeline: FilterPipeline, batch: list[ImageRecipe],
                     data: st.DataObject) -> None:
        failing = data.draw(st.sets(st.integers(0, len(batch) - 1)), label="failing frames")
        full = FilterPipeline([KitFailOnMark(), *pipeline.filters])
        note(f"pipeline: {full.to_string()!r}; {len(batch)} frames like {batch[0]!r}")
        frames = [_mark(r, i in failing) for i, r in enumerate(batch)]
        expected = [_reference(full, img) for img in frames]

        def run(policy: str) -> tuple[list[Any], Any]:
            with make(full, on_error=policy) as ex:
                out = ex.process_all(frames)
                return out, ex.get_metrics()

        out, metrics = _bounded(lambda: run("collect"), timeout, "on_error='collect'")
        _compare_ordered(expected, out, "on_error='collect'")
        for i, result in enumerate(out):
            if isinstance(result, FrameError) and result.seq != i:
                raise _Broken("error policy", f"on_error='collect': the FrameError of frame "
                                              f"{i} says seq {result.seq}")
        out, metrics = _bounded(lambda: run("skip"), timeout, "on_error='skip'")
        kept = [key for key in expected if key[0] == "ok"]
        failed = len(expected) - len(kept)
        if any(isinstance(r, FrameError) for r in out):
            raise _Broken("error policy", "on_error='skip' returned a FrameError")
        _compare_ordered(kept, out, "on_error='skip'")
        if metrics.frames_skipped != failed:
            raise _Broken("error policy", f"on_error='skip': metrics count "
                                          f"{metrics.frames_skipped} skipped frames, "
                                          f"{failed} failed")
        bad = {i for i, key in enumerate(expected) if key[0] == "error"}
        try:
            out, metrics = _bounded(lambda: run("raise"), timeout, "on_error='raise'")
        except PipelineError as exc:
            if not bad:
                raise _Broken("error policy", f"on_error='raise' raised {exc} although no "
                                              f"frame fails sequentially") from exc
            if exc.seq not in bad:
                raise _Broken("error policy", f"on_error='raise' blamed frame {exc.seq}; the "
                                              f"failing frames are {sorted(bad)}") from exc
            if exc.__cause__ is None:
                raise _Broken("error policy", "the PipelineError does not chain the "
                                              "original exception") from exc
            return
        if bad:
            raise _Broken("error policy", f"on_error='raise' returned {len(out)} results "
                                          f"although frames {sorted(bad)} fail")
        _compare_ordered(expected, out, "on_error='raise'")
    return error_policy


def _stop_test(make: Callable[..., Executor], timeout: float,
               base: Settings) -> Callable[[], None]:
    batches = frame_batches(min_frames=1, max_frames=12, formats=["rgb"], max_side=8,
                            encoded=False)

    @base
    @given(batches)
    @_guarded
    def stop_and_cancel(batch: list[ImageRecipe]) -> None:
        pipeline = FilterPipeline([KitSlow(), KitInvert()])
        note(f"pipeline: {pipeline.to_string()!r}; {len(batch)} frames")
        expected = [_reference(pipeline, r.make()) for r in batch]

        def drain() -> list[tuple[int, Any]]:
            ex = make(pipeline)
            try:
                for r in batch:
                    ex.submit(r.make())
                ex.stop()
                try:
                    ex.submit(batch[0].make())
                except RuntimeError:
                    pass
                else:
                    raise _Broken("stop and cancel", "submit after stop() was accepted; it "
                                                     "must raise RuntimeError")
                pairs = _collect(ex, timeout)
                ex.get_metrics()
            finally:
                ex.close()
                ex.close()
            return pairs

        pairs = _bounded(drain, timeout, "stop() then results()")
        _compare_with_seq(expected, pairs, True, "results() after stop()")

        def cancel() -> tuple[list[tuple[int, Any]], Any]:
            ex = make(pipeline)
            try:
                for r in batch:
                    ex.submit(r.make())
                ex.stop(cancel=True)
                pairs = _collect(ex, timeout)
                metrics = ex.get_metrics()
            finally:
                ex.close()
            return pairs, metrics

        pairs, metrics = _bounded(cancel, timeout, "stop(cancel=True) then results()")
        seqs = [seq for seq, _ in pairs]
        if len(set(seqs)) != len(seqs) or not set(seqs) <= set(range(len(batch))):
            raise _Broken("stop and cancel", f"after stop(cancel=True) results gave seqs {seqs}")
        for seq, result in pairs:
            if _result_key(result) != expected[seq]:
                raise _Broken("stop and cancel",
                              f"after stop(cancel=True) frame {seq} is "
                              f"{_key_text(_result_key(result))}, not the finished "
                              f"{_key_text(expected[seq])}")
        if len(pairs) + metrics.frames_cancelled != len(batch):
            raise _Broken("no frame lost",
                          f"stop(cancel=True): {len(pairs)} delivered + "
                          f"{metrics.frames_cancelled} cancelled != {len(batch)} submitted")
    return stop_and_cancel


_COSTLY_CYCLE_S = 0.3
_LIBRARY_THREADS = ("TMonitor", "QueueFeederThread", "imagestag-kit")


def _resources() -> tuple[dict[int, str], set[int], set[str]]:
    threads = {t.ident or 0: t.name for t in threading.enumerate()
               if t.is_alive() and not t.name.startswith(_LIBRARY_THREADS)}
    children = {p.pid for p in multiprocessing.active_children() if p.pid is not None}
    shm = set(os.listdir("/dev/shm")) if os.path.isdir("/dev/shm") else set()
    return threads, children, shm


def _timed_cycle(make: Callable[..., Executor], timeout: float) -> float:
    """One open/run/close cycle on six small frames; its duration in seconds."""
    pipeline = FilterPipeline([KitInvert()])
    frames = [ImageRecipe(PixelFormat.RGB, np.dtype(np.uint8), 9, 7, "random", i).make()
              for i in range(6)]

    def cycle() -> None:
        with make(pipeline) as ex:
            ex.process_all(frames)

    start = time.perf_counter()
    _bounded(cycle, timeout, "an open/run/close cycle")
    return time.perf_counter() - start


def _check_leaks(make: Callable[..., Executor], cycles: int, timeout: float) -> None:
    # the cost probe in check_executor was the warm-up: library singletons
    # (a resource tracker, a progress monitor) are already running
    threads, children, shm = _resources()
    for _ in range(cycles):
        _timed_cycle(make, timeout)
    deadline = time.monotonic() + 5.0
    while True:
        now_threads, now_children, now_shm = _resources()
        extra_threads = {k: v for k, v in now_threads.items() if k not in threads}
        extra_children = now_children - children
        extra_shm = now_shm - shm
        if not (extra_threads or extra_children or extra_shm):
            return
        if time.monotonic() > deadline:
            break
        time.sleep(0.05)  # workers exit asynchronously after close(); poll briefly
    raise _Broken("no leaks", f"after {cycles} open/run/close cycles these remain: "
                              f"threads {sorted(extra_threads.values())}, child processes "
                              f"{sorted(extra_children)}, /dev/shm {sorted(extra_shm)}")
