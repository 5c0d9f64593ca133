"""Fuzzing the ``NAME=(PIPELINE)`` grammar: round trips, own errors only, exact positions."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, note
from hypothesis import strategies as st
from imagestag_plugins.filters.tee import Tee

from imagestag_core import FilterPipeline, ImagestagError, SpecError, list_filters
from imagestag_core.testing import kit_settings, pipelines

pytestmark = pytest.mark.imagestag_contract

_BRANCH_NAMES = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,6}", fullmatch=True)


def _tees(depth: int) -> st.SearchStrategy[Tee]:
    inner: st.SearchStrategy[FilterPipeline] = pipelines(min_stages=0, max_stages=2)
    if depth > 0:
        nested = st.tuples(pipelines(min_stages=0, max_stages=1), _tees(depth - 1)).map(
            lambda pair: FilterPipeline([*pair[0], pair[1]]))
        inner = st.one_of(inner, nested)
    return st.dictionaries(_BRANCH_NAMES, inner, max_size=3).map(lambda b: Tee(**b))


def _branching() -> st.SearchStrategy[FilterPipeline]:
    return st.tuples(pipelines(min_stages=0, max_stages=2), _tees(2)).map(
        lambda pair: FilterPipeline([*pair[0], pair[1]]))


@kit_settings(max_examples=150)
@given(_branching())
def test_branching_pipelines_round_trip_through_text_dict_and_json(
        pipeline: FilterPipeline) -> None:
    text = pipeline.to_string()
    note(text)
    assert FilterPipeline.parse(text) == pipeline
    assert FilterPipeline.parse(text).to_string() == text
    assert FilterPipeline.from_dict(pipeline.to_dict()) == pipeline
    assert FilterPipeline.from_json(json.dumps(pipeline.to_dict())) == pipeline


@kit_settings(max_examples=300)
@given(_branching(), st.data())
def test_mangled_branch_text_raises_only_spec_errors(pipeline: FilterPipeline,
                                                     data: st.DataObject) -> None:
    text = pipeline.to_string()
    at = data.draw(st.integers(0, len(text)))
    insert = data.draw(st.sampled_from(["(", ")", "=(", "()", "|", " ", "=", "x=(", "'", ""]))
    cut = data.draw(st.integers(0, 3))
    mangled = text[:at] + insert + text[at + cut:]
    note(mangled)
    try:
        parsed = FilterPipeline.parse(mangled)
    except SpecError as exc:
        assert exc.position is None or 0 <= exc.position <= len(mangled)
        return
    except ImagestagError:
        return
    assert FilterPipeline.parse(parsed.to_string()) == parsed


def _names() -> list[str]:
    """Registered filters that build without parameters (``grayscale``, ``decode``...)."""
    names = []
    for entry in list_filters():
        try:
            entry.obj()
        except ImagestagError:
            continue
        names.append(entry.name)
    return sorted(names)


@kit_settings(max_examples=200)
@given(st.data())
def test_an_unknown_filter_inside_any_branch_is_reported_at_its_position(
        data: st.DataObject) -> None:
    names = [n for n in _names() if n != "tee"]
    depth = data.draw(st.integers(1, 4))
    words = [data.draw(st.sampled_from(names)) for _ in range(depth)]
    typo_level = data.draw(st.integers(0, depth - 1))
    # tee b0=(A | w0 | tee b1=(B | w1 | ...)), one of the w's misspelt
    text, typo_at = "", -1
    for level, word in enumerate(words):
        prefix = f"{text}tee b{level}=({data.draw(st.sampled_from(names))} | "
        typo_at = len(prefix) if level == typo_level else typo_at
        text = prefix + (f"{word}zz" if level == typo_level else word) + " | "
    text = text[:-3] + ")" * depth
    note(text)
    with pytest.raises(SpecError) as info:
        FilterPipeline.parse(text)
    assert info.value.position == typo_at, str(info.value)
    assert "unknown filter" in info.value.reason
