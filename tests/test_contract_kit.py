"""The contract kit, run over every registered plugin, and proof that it has teeth."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from imagestag_plugins.executors.sequential import SequentialExecutor

from imagestag_core import ContractViolation, Filter, Image, list_executors, list_filters, param
from imagestag_core.plugins import registry_name_of
from imagestag_core.testing import (
    FILTER_PROPERTIES,
    check_executor,
    check_filter,
    filter_params,
    images,
    kit_settings,
    pipelines,
    selected_profile,
)
from imagestag_core.testing.profiles import PROFILES

pytestmark = pytest.mark.imagestag_contract


# -- every registered plugin --------------------------------------------------------------------

FILTERS = list_filters(include_hidden=True)
EXECUTORS = list_executors()


@pytest.mark.timeout(300)
@pytest.mark.parametrize("entry", FILTERS, ids=[e.name for e in FILTERS])
def test_registered_filter_keeps_the_contract(entry: Any) -> None:
    check_filter(entry.obj)


@pytest.mark.timeout(300)
@pytest.mark.parametrize("entry", EXECUTORS, ids=[e.name for e in EXECUTORS])
def test_registered_executor_keeps_the_contract(entry: Any) -> None:
    check_executor(entry.name)


# -- filters that break the contract, built here ---------------------------------------------------


class Invert(Filter):
    """A correct filter, registered nowhere."""

    name = "kit_test_invert"
    amount: int = param(255, min=0, max=255)

    def apply(self, image: Image) -> Image:
        pixels = image.get_pixels()
        if pixels.dtype != np.uint8:
            return image
        return image.derive((self.amount - pixels.astype(np.int16)).clip(0, 255)
                            .astype(np.uint8), image.pixel_format)


class WritesInput(Filter):
    """Turns its input's view writable again and inverts it in place."""

    name = "kit_test_writes_input"

    def apply(self, image: Image) -> Image:
        pixels = image.get_pixels()
        view = np.ndarray(pixels.shape, pixels.dtype, buffer=pixels.base
                          if isinstance(pixels.base, np.ndarray) else pixels)
        if view.flags.writeable:
            view[...] = ~view if view.dtype != np.float32 else -view
        return image.derive(np.array(pixels), image.pixel_format)


class WritesInputBase(Filter):
    """Writes through the read-only view's ``.base`` (the caller's array)."""

    name = "kit_test_writes_base"

    def apply(self, image: Image) -> Image:
        pixels = image.get_pixels()
        base = pixels.base
        if isinstance(base, np.ndarray) and base.flags.writeable:
            base.reshape(-1)[0] = base.reshape(-1)[0] + 1
        return image.derive(np.array(pixels), image.pixel_format)


class CountsCalls(Filter):
    """Keeps per-call state on self, bypassing immutability."""

    name = "kit_test_counts_calls"

    def apply(self, image: Image) -> Image:
        object.__setattr__(self, "calls", getattr(self, "calls", 0) + 1)
        return image


class Noisy(Filter):
    """Adds fresh random noise on every call."""

    name = "kit_test_noisy"

    def apply(self, image: Image) -> Image:
        pixels = image.get_pixels(image.pixel_format)
        noise = np.random.default_rng().integers(0, 2, pixels.shape).astype(pixels.dtype)
        return image.derive(pixels + noise, image.pixel_format)


class SharedScratch(Filter):
    """Copies each frame through one class-level scratch buffer: a data race."""

    name = "kit_test_shared_scratch"
    _scratch = np.zeros(64 * 64 * 4 * 4, dtype=np.uint8)

    def apply(self, image: Image) -> Image:
        pixels = image.get_pixels()
        raw = np.ascontiguousarray(pixels).view(np.uint8).reshape(-1)
        scratch = type(self)._scratch
        scratch[:raw.size] = raw
        # a fault injection: widens the window between write and read-back so
        # the kit's 8 threads interleave here on every run
        time.sleep(0.002)
        out = scratch[:raw.size].copy().view(pixels.dtype).reshape(pixels.shape)
        return image.derive(out, image.pixel_format)


class HalvesOnInit(Filter):
    """Rewrites a declared parameter in __post_init__, so its spec rebuilds another filter."""

    name = "kit_test_halves"
    level: int = param(64, min=0, max=255)

    def __post_init__(self) -> None:
        object.__setattr__(self, "level", self.level // 2)

    def apply(self, image: Image) -> Image:
        return image


class RaisesKeyError(Filter):
    """Rejects some inputs with a builtin exception instead of an ImagestagError."""

    name = "kit_test_keyerror"

    def apply(self, image: Image) -> Image:
        if image.dtype != np.uint8:
            raise KeyError(str(image.dtype))
        return image


def test_a_correct_unregistered_filter_passes_and_stays_unregistered() -> None:
    check_filter(Invert)
    assert registry_name_of(Invert) is None


def test_an_instance_is_checked_as_configured() -> None:
    check_filter(Invert(amount=128))


@pytest.mark.parametrize(("bad", "prop"), [
    (WritesInput, "input immutability"),
    (WritesInputBase, "input immutability"),
    (CountsCalls, "no state mutation"),
    (Noisy, "determinism"),
    (HalvesOnInit, "spec round trip"),
    (RaisesKeyError, "clear errors"),
], ids=lambda v: v if isinstance(v, str) else v.name)
def test_a_broken_filter_is_caught_naming_its_property(bad: type[Filter], prop: str) -> None:
    with pytest.raises(ContractViolation) as info:
        check_filter(bad)
    assert info.value.property == prop
    message = str(info.value)
    assert f"[{prop}]" in message and bad.name in message
    assert "counter-example" in message


@pytest.mark.timeout(120)
def test_a_filter_racing_on_a_shared_buffer_fails_concurrency() -> None:
    with pytest.raises(ContractViolation) as info:
        check_filter(SharedScratch)
    assert info.value.property == "concurrency"
    assert "sequential" in str(info.value) and "concurrent" in str(info.value)


def test_the_counter_example_shows_the_shrunk_input() -> None:
    with pytest.raises(ContractViolation) as info:
        check_filter(WritesInputBase, properties=["input immutability"])
    message = str(info.value)
    assert "ImageRecipe(1x1" in message  # shrunk to the smallest image
    assert "first difference" in message


def test_properties_can_be_chosen() -> None:
    check_filter(CountsCalls, properties=[p for p in FILTER_PROPERTIES
                                          if p != "no state mutation"])


# -- executors that break the contract -------------------------------------------------------------


class Reordering(SequentialExecutor):
    """Delivers each pair of frames swapped."""

    name = "kit_test_reordering"

    def imap(self, images: Iterable[Any], **options: Any) -> Iterator[Any]:
        items = list(super().imap(images, **options))
        for i in range(0, len(items) - 1, 2):
            items[i], items[i + 1] = items[i + 1], items[i]
        yield from items


class Dropping(SequentialExecutor):
    """Accepts frame 1 and never processes it."""

    name = "kit_test_dropping"

    def enqueue(self, seq: int, image: Image, timeout: float | None) -> bool:
        if seq == 1:
            return True
        return super().enqueue(seq, image, timeout)


class Leaking(SequentialExecutor):
    """Starts a thread per run and never stops it."""

    name = "kit_test_leaking"
    _leak_gate = threading.Event()

    def start_workers(self) -> None:
        threading.Thread(target=self._leak_gate.wait, daemon=True, name="leaked-worker").start()


@pytest.mark.timeout(120)
def test_an_executor_that_reorders_results_fails_order() -> None:
    with pytest.raises(ContractViolation) as info:
        check_executor(Reordering, properties=["equivalence", "order", "no frame lost"])
    assert info.value.property == "order"


@pytest.mark.timeout(120)
def test_an_executor_that_drops_a_frame_fails_no_frame_lost() -> None:
    with pytest.raises(ContractViolation) as info:
        check_executor(Dropping, properties=["equivalence", "order", "no frame lost"],
                       timeout=1)
    assert info.value.property == "no frame lost"


@pytest.mark.timeout(120)
def test_an_executor_that_leaks_a_thread_fails_no_leaks() -> None:
    try:
        with pytest.raises(ContractViolation) as info:
            check_executor(Leaking, properties=["no leaks"])
        assert info.value.property == "no leaks"
        assert "leaked-worker" in str(info.value)
    finally:
        Leaking._leak_gate.set()


def test_the_reference_executor_passes_as_a_class() -> None:
    check_executor(SequentialExecutor, properties=["equivalence", "order", "error policy"])


# -- strategies and profiles ------------------------------------------------------------------


@kit_settings(max_examples=40)
@given(images(encoded=False))
def test_images_hold_valid_arrays_of_their_format(image: Image) -> None:
    pixels = image.get_pixels()
    assert pixels.dtype in image.pixel_format.allowed_dtypes
    assert pixels.shape[:2] == (image.height, image.width)
    assert not pixels.flags.writeable


def test_images_cover_every_format_and_dtype_and_1x1() -> None:
    seen: set[tuple[str, str]] = set()
    sides: set[int] = set()

    @kit_settings(max_examples=300, derandomize=True, database=None)
    @given(images(encoded=False, max_side=5))
    def collect(image: Image) -> None:
        seen.add((image.pixel_format.value, str(image.dtype)))
        sides.update(image.size)

    collect()
    assert seen == {("gray", "uint8"), ("gray", "uint16"), ("gray", "float32"),
                    ("rgb", "uint8"), ("rgba", "uint8"), ("bgr", "uint8"), ("bgra", "uint8")}
    assert 1 in sides and 3 in sides


def test_filter_params_respect_declared_bounds() -> None:
    @kit_settings(max_examples=50)
    @given(filter_params(Invert))
    def check(params: dict[str, Any]) -> None:
        assert 0 <= params["amount"] <= 255

    check()


def test_pipelines_compose_registered_filters() -> None:
    @kit_settings(max_examples=10)
    @given(pipelines(max_stages=2, extra=(Invert,)))
    def check(pipeline: Any) -> None:
        assert 1 <= len(pipeline) <= 2

    check()


def test_profiles_are_named_and_selected_by_environment() -> None:
    assert set(PROFILES) == {"imagestag-ci", "imagestag-dev", "imagestag-thorough"}
    assert selected_profile({}) == "imagestag-dev"
    assert selected_profile({"CI": "true"}) == "imagestag-ci"
    assert selected_profile({"CI": "true",
                             "IMAGESTAG_HYPOTHESIS_PROFILE": "imagestag-thorough"}) == \
        "imagestag-thorough"
    assert kit_settings().deadline is None


def test_an_unknown_profile_name_is_a_clear_error() -> None:
    from imagestag_core import ImagestagError

    with pytest.raises(ImagestagError, match="imagestag-ci"):
        selected_profile({"IMAGESTAG_HYPOTHESIS_PROFILE": "fast"})


def test_the_pytest_plugin_is_inert_at_import(tmp_path: Any) -> None:
    import subprocess
    import sys

    code = ("import sys, imagestag_core.testing.pytest_plugin as p; "
            "print('hypothesis' in sys.modules, 'imagestag_plugins' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=tmp_path).stdout.split()
    assert out == ["False", "False"]

