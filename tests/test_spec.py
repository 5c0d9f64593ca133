"""The spec grammar: parse, format, round trips and clear errors."""

from __future__ import annotations

from typing import Literal

import pytest

from imagestag_core import Filter, FilterPipeline, Image, SpecError, param, register_filter


class Box(Filter):
    name = "box"
    size: tuple[int | None, int | None] | None = None
    scale: float | None = param(None, min=0.0001)
    mode: Literal["exact", "fit"] = "exact"

    @classmethod
    def map_positional(cls, args):
        if len(args) == 1 and isinstance(args[0], (int, float)) and not isinstance(args[0], bool):
            return {"scale": args[0]}
        return super().map_positional(args)

    def apply(self, image: Image) -> Image:
        return image


class Label(Filter):
    name = "label"
    text: str = "hi"
    values: tuple[float, ...] = ()
    on: bool = False

    def apply(self, image: Image) -> Image:
        return image


@pytest.fixture(autouse=True)
def registered(pm):
    register_filter(Box)
    register_filter(Label)
    return pm


def test_seed_style_text_parses() -> None:
    p = FilterPipeline.parse("box 1920x1080 | label hello | box 0.5")
    assert p.filters == (Box(size=(1920, 1080)), Label("hello"), Box(scale=0.5))
    assert p.stage_names == ("0_Box", "1_Label", "2_Box")


def test_one_sided_sizes_keep_the_other_side_open() -> None:
    assert FilterPipeline.parse("box 1920x")[0] == Box(size=(1920, None))
    assert FilterPipeline.parse("box x1080")[0] == Box(size=(None, 1080))


@pytest.mark.parametrize("value", [
    "plain", "two words", "has|pipe", 'quote"inside', "12", "3x4", "none", "true", "", "é ü",
    "a=b", "back\\slash", "1.5", "tab\there",
])
def test_string_values_round_trip_exactly(value: str) -> None:
    p = FilterPipeline([Label(text=value)])
    assert FilterPipeline.parse(p.to_string()) == p
    assert FilterPipeline.from_json(p.to_json()) == p


@pytest.mark.parametrize("values", [(), (1.0,), (0.1, 2.5, -3.0), (1e-07, 1e20)])
def test_tuple_values_round_trip(values: tuple[float, ...]) -> None:
    p = FilterPipeline([Label(values=values, on=True)])
    assert FilterPipeline.parse(p.to_string()) == p
    assert FilterPipeline.from_dict(p.to_dict()) == p


def test_unquoted_number_is_text_for_a_string_parameter() -> None:
    assert FilterPipeline.parse("label 12")[0].text == "12"
    assert FilterPipeline.parse("label text=3x4")[0].text == "3x4"


def test_single_quotes_are_accepted() -> None:
    assert FilterPipeline.parse("label 'it\\'s'")[0].text == "it's"
    assert FilterPipeline.parse("label 'two words'")[0].text == "two words"


def test_to_string_writes_only_non_defaults() -> None:
    assert FilterPipeline([Box(size=(10, 20)), Label()]).to_string() == "box size=10x20 | label"


@pytest.mark.parametrize("text, position, fragment", [
    ("", 0, "empty stage"),
    ("box 0.5 |", 9, "empty stage"),
    ("box 0.5 || label", 9, "empty stage"),
    ("boz 0.5", 0, "did you mean 'box'"),
    ("box mode=wide", 9, "not one of"),
    ("box sise=10x10", 4, "did you mean 'size'"),
    ("label 'unterminated", 6, "unterminated string"),
    ("box =3", 4, "without a parameter name"),
    ("box mode=", 9, "missing value"),
    ("box mode=fit 0.5", 13, "positional value after key=value"),
    ("label text=a text=b", 13, "given twice"),
    ("box 0.5 0.6 0.7 0.8", 0, "at most"),
])
def test_bad_specs_name_the_position_and_what_was_expected(text: str, position: int,
                                                           fragment: str) -> None:
    with pytest.raises(SpecError) as info:
        FilterPipeline.parse(text)
    assert fragment in str(info.value)
    assert info.value.position is not None
    assert abs(info.value.position - position) <= 6


def test_spec_error_shows_a_caret_under_the_problem() -> None:
    with pytest.raises(SpecError) as info:
        FilterPipeline.parse("box 0.5 | boz")
    lines = str(info.value).splitlines()
    assert lines[1].strip() == "box 0.5 | boz"
    assert lines[2].index("^") == lines[1].index("boz")


def test_parsing_never_evaluates_code() -> None:
    with pytest.raises(SpecError):
        FilterPipeline.parse("label text=__import__('os').system('echo hi')")
    assert FilterPipeline.parse("label \"__import__('os')\"")[0].text == "__import__('os')"


@pytest.mark.parametrize("data", [
    {"stages": "box"}, {"stages": [{"filter": 3}]}, {"stages": [{"filter": "box", "x": 1}]},
    {"stages": [{"filter": "box", "params": {"scale": "big"}}]}, {"nope": []}, 42,
    {"stages": [{"filter": "box", "params": [1, 2]}]},
])
def test_malformed_dicts_raise_spec_errors(data: object) -> None:
    with pytest.raises(SpecError):
        FilterPipeline.from_dict(data)  # type: ignore[arg-type]


def test_malformed_json_reports_its_position() -> None:
    with pytest.raises(SpecError) as info:
        FilterPipeline.from_json('{"stages": [}')
    assert info.value.position == 12


def test_pipeline_accepts_spec_strings_among_filters() -> None:
    p = FilterPipeline([Box(scale=0.5), "label hi | box 10x10"])
    assert len(p) == 3 and p[2] == Box(size=(10, 10))
    assert FilterPipeline("box 0.5") == FilterPipeline([Box(scale=0.5)])
