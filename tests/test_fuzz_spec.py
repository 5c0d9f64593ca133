"""Fuzzing: spec text and image sources only ever raise imagestag's own errors."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from imagestag_core import (
    FilterPipeline,
    Image,
    ImagestagError,
    SpecError,
    list_codecs,
    list_filters,
)
from imagestag_core.testing import kit_settings

pytestmark = pytest.mark.imagestag_contract

_SPEC_CHARS = st.sampled_from(list(" |=\"'\\,x()0123456789.-+eE_abcdefghijklmnopqrstuvwxyz\t\n"
                                   "ABCXYZé\x00"))
_VALUES = st.one_of(
    st.integers(-10**6, 10**6).map(str), st.floats(allow_nan=True).map(repr),
    st.sampled_from(["true", "false", "none", "1920x1080", "1920x", "x1080", "x", "()",
                     "1,2", "1,", ",", "1,,2", "hot", "jpeg", "nan", "inf", "-inf", "1e999",
                     "\"q\"", "'s'", "\"\\u12\"", "\"unterminated", "=", "==", "a=b=c"]),
    st.text(_SPEC_CHARS, max_size=6),
)


def _names() -> list[str]:
    names = [entry.name for entry in list_filters(include_hidden=True)]
    return names or ["resize"]


@st.composite
def near_valid_specs(draw: st.DrawFn) -> str:
    """Spec text built from registered filter and parameter names with odd values."""
    stages = []
    for _ in range(draw(st.integers(1, 3))):
        entries = list_filters(include_hidden=True)
        entry = draw(st.sampled_from(entries)) if entries else None
        name = entry.name if entry is not None else draw(st.sampled_from(_names()))
        params = [p.name for p in entry.obj.params] if entry is not None else []
        parts = [draw(st.sampled_from([name, name.upper(), name[:-1] or name]))]
        for _ in range(draw(st.integers(0, 3))):
            value = draw(_VALUES)
            if params and draw(st.booleans()):
                parts.append(f"{draw(st.sampled_from(params))}={value}")
            else:
                parts.append(value)
        stages.append(" ".join(parts))
    return draw(st.sampled_from([" | ", "|", " || ", " | | "])).join(stages)


def _only_own_errors(call: Any, *args: Any) -> Any:
    try:
        return call(*args)
    except ImagestagError:
        return None


@kit_settings(max_examples=300)
@given(st.text(max_size=60))
def test_parse_of_arbitrary_text_raises_only_spec_errors(text: str) -> None:
    _only_own_errors(FilterPipeline.parse, text)


@kit_settings(max_examples=300)
@given(near_valid_specs())
def test_parse_of_near_valid_text_raises_only_spec_errors(text: str) -> None:
    pipeline = _only_own_errors(FilterPipeline.parse, text)
    if pipeline is not None:
        # whatever parses must round-trip
        assert FilterPipeline.parse(pipeline.to_string()) == pipeline


@kit_settings(max_examples=150)
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
                    lambda inner: st.lists(inner, max_size=3)
                    | st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=8))
def test_from_dict_of_arbitrary_data_raises_only_spec_errors(data: Any) -> None:
    _only_own_errors(FilterPipeline.from_dict, data)
    _only_own_errors(FilterPipeline.from_dict, {"stages": [data]})
    if _names():
        _only_own_errors(FilterPipeline.from_dict,
                         {"stages": [{"filter": _names()[0], "params": data}]})


_DTYPES = [np.uint8, np.int8, np.uint16, np.int16, np.int32, np.uint32, np.int64,
           np.float16, np.float32, np.float64, np.bool_, np.complex64]


@st.composite
def arrays(draw: st.DrawFn) -> np.ndarray:
    dtype = draw(st.sampled_from(_DTYPES))
    shape = tuple(draw(st.lists(st.integers(0, 5), max_size=4)))
    array = np.zeros(shape, dtype=dtype)
    if draw(st.booleans()) and array.ndim >= 2 and array.shape[1] > 1:
        array = array[:, ::2]  # non-contiguous
    return array


@kit_settings(max_examples=300)
@given(arrays(), st.sampled_from([None, "rgb", "rgba", "bgr", "bgra", "gray", "grey", "L",
                                  "cmyk", ""]))
def test_image_of_arbitrary_arrays_raises_only_image_errors(array: np.ndarray,
                                                            fmt: str | None) -> None:
    image = _only_own_errors(Image, array, fmt)
    if image is not None:
        assert image.get_pixels().shape[:2] == (image.height, image.width)


def _valid_encodings() -> list[bytes]:
    pixels = np.random.default_rng(0).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    out = []
    for entry in list_codecs():
        try:
            out.append(Image(pixels).encode(entry.name))
        except ImagestagError:
            continue
    try:
        from PIL import Image as PILImage

        for fmt in ("PNG", "JPEG"):
            buffer = io.BytesIO()
            PILImage.fromarray(pixels).save(buffer, fmt)
            out.append(buffer.getvalue())
    except ImportError:
        pass
    return out


_ENCODINGS = _valid_encodings()


@st.composite
def mutated_files(draw: st.DrawFn) -> bytes:
    if not _ENCODINGS or draw(st.booleans()):
        return draw(st.binary(max_size=64))
    data = bytearray(draw(st.sampled_from(_ENCODINGS)))
    mode = draw(st.sampled_from(["truncate", "flip", "header"]))
    if mode == "truncate":
        return bytes(data[:draw(st.integers(0, len(data)))])
    if mode == "header":
        # keep the magic, corrupt the sizes that follow it
        for index in draw(st.lists(st.integers(4, min(40, len(data) - 1)), max_size=6)):
            data[index] = draw(st.integers(0, 255))
        return bytes(data)
    for index in draw(st.lists(st.integers(0, len(data) - 1), min_size=1, max_size=8)):
        data[index] ^= 1 << draw(st.integers(0, 7))
    return bytes(data)


@kit_settings(max_examples=300)
@given(mutated_files())
def test_image_of_arbitrary_bytes_raises_only_image_errors(data: bytes) -> None:
    image = _only_own_errors(Image, data)
    if image is not None:
        pixels = _only_own_errors(image.get_pixels)
        if pixels is not None:
            assert pixels.shape[:2] == (image.height, image.width)


# -- limits: huge numbers and deep nesting are SpecErrors, never ValueError/RecursionError


def _nested(depth: int, make: Any) -> Any:
    # built iteratively: the test must not recurse itself
    data = make()
    inner = data
    for _ in range(depth - 1):
        child = make()
        if isinstance(inner, dict):
            inner["x"] = child
        else:
            inner.append(child)
        inner = child
    return data


@kit_settings(max_examples=40)
@given(digits=st.integers(4301, 20_000), sign=st.sampled_from(["", "-", "+"]),
       template=st.sampled_from(["resize scale={n}", "resize {n}", "encode jpeg quality={n}",
                                 "falsecolor hot input_max={n}", "resize 0.5 | resize {n},1",
                                 "resize {u}x10", "resize size=10x{u}", "resize x{u}"]))
def test_parse_of_huge_integers_is_a_positioned_spec_error(digits: int, sign: str,
                                                           template: str) -> None:
    number = sign + "7" * digits
    text = template.format(n=number, u="7" * digits)  # sizes take no sign
    with pytest.raises(SpecError) as info:
        FilterPipeline.parse(text)
    digits_at = text.index("7" * digits)
    start = max(text.rfind(" ", 0, digits_at), text.rfind("=", 0, digits_at)) + 1  # the token
    assert info.value.position == start, (info.value.position, start)


@pytest.mark.parametrize("digits", [400, 4300, 4301, 100_000])
def test_parse_of_long_integers_for_float_parameters_is_a_spec_error(digits: int) -> None:
    with pytest.raises(SpecError) as info:
        FilterPipeline.parse("resize scale=" + "1" * digits)
    assert info.value.position is not None


@pytest.mark.parametrize("text", [
    "[" * 100_000,
    "{\"stages\": " + "[" * 100_000,
    "{\"stages\": [" + "{\"a\": " * 50_000,
    "{\"stages\": [{\"filter\": \"resize\", \"params\": {\"scale\": " + "9" * 5000 + "}}]}",
    "{\"stages\": [{\"filter\": \"resize\", \"params\": {\"size\": [-" + "9" * 5000 + ", 1]}}]}",
])
@pytest.mark.parametrize("as_bytes", [False, True])
def test_from_json_beyond_the_limits_is_a_positioned_spec_error(text: str,
                                                                as_bytes: bool) -> None:
    with pytest.raises(SpecError) as info:
        FilterPipeline.from_json(text.encode() if as_bytes else text)
    assert info.value.position is not None
    assert 0 <= info.value.position < len(text)


def test_from_json_within_the_limits_still_parses() -> None:
    nested_string = "{\"stages\": [], \"x\": \"" + "[" * 1000 + "\"}"
    with pytest.raises(SpecError, match="unknown pipeline keys"):
        FilterPipeline.from_json(nested_string)  # brackets inside a string do not count
    assert len(FilterPipeline.from_json("{\"stages\": [\"resize 0.5\"]}")) == 1


def _self_containing() -> list[Any]:
    loop: list[Any] = []
    loop.append(loop)
    return loop


@pytest.mark.parametrize("data", [
    _nested(100_000, list),
    {"stages": _nested(100_000, list)},
    {"stages": [{"filter": "resize", "params": _nested(100_000, dict)}]},
    {"stages": [{"filter": "resize", "params": {"scale": _nested(100_000, list)}}]},
    {"stages": [{"filter": "resize", "params": {"scale": 10 ** 5000}}]},
    {"stages": [{"filter": "resize", "params": {"scale": 10 ** 400}}]},
    {"stages": [{"filter": "resize", "params": 10 ** 5000}]},
    {"stages": [{"filter": 10 ** 5000}]},
    {"stages": [{"filter": "resize", "params": {"size": [-(10 ** 5000), 1]}}]},
    _self_containing(),
    {"stages": [{"filter": "resize", "params": {"scale": _self_containing()}}]},
], ids=["list", "stages", "params", "value", "int", "int-float", "params-int", "name-int",
        "negative-int", "loop", "loop-value"])
def test_from_dict_beyond_the_limits_is_a_spec_error(data: Any) -> None:
    with pytest.raises(SpecError):
        FilterPipeline.from_dict(data)


def test_filter_from_dict_beyond_the_limits_is_a_spec_error() -> None:
    from imagestag_core.filters import Resize

    with pytest.raises(SpecError, match="deep"):
        Resize.from_dict({"filter": "resize", "params": {"scale": _nested(100_000, list)}})
