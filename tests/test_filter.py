"""The Filter protocol: declared parameters drive validation, equality and specs."""

from __future__ import annotations

import json
import pickle
from typing import Literal

import numpy as np
import pytest

from imagestag_core import Filter, FilterParameterError, Image, param, register_filter


class Tint(Filter):
    """A test filter with one parameter of each supported kind."""

    name = "tint"
    strength: float = param(0.5, min=0.0, max=1.0, doc="how much")
    channel: Literal["r", "g", "b"] = "r"
    size: tuple[int | None, int | None] | None = None
    offsets: tuple[int, ...] = ()
    label: str = "x"
    enabled: bool = True
    count: int = param(1, min=0)

    def apply(self, image: Image) -> Image:
        return image


def test_positional_and_keyword_parameters_map_in_declaration_order() -> None:
    f = Tint(0.25, "g", count=3)
    assert (f.strength, f.channel, f.count) == (0.25, "g", 3)


def test_unknown_parameter_names_the_valid_ones_and_suggests() -> None:
    with pytest.raises(FilterParameterError) as info:
        Tint(strenght=0.3)
    message = str(info.value)
    assert "did you mean 'strength'" in message
    assert "strength, channel, size, offsets, label, enabled, count" in message
    assert info.value.parameter == "strenght"


def test_values_are_validated_against_type_and_bounds() -> None:
    with pytest.raises(FilterParameterError, match="above the maximum"):
        Tint(strength=1.5)
    with pytest.raises(FilterParameterError, match="not one of"):
        Tint(channel="q")
    with pytest.raises(FilterParameterError, match="not an int"):
        Tint(count=1.5)
    with pytest.raises(FilterParameterError, match="not a bool"):
        Tint(enabled=1)
    with pytest.raises(FilterParameterError, match="NaN"):
        Tint(strength=float("nan"))
    with pytest.raises(FilterParameterError, match="at most"):
        Tint(0.1, "r", None, (), "x", True, 1, "extra")


def test_ints_are_accepted_for_float_parameters_and_lists_for_tuples() -> None:
    f = Tint(strength=1, offsets=[1, 2], size=[3, None])
    assert f.strength == 1.0 and isinstance(f.strength, float)
    assert f.offsets == (1, 2) and f.size == (3, None)


def test_parameter_given_twice_is_an_error() -> None:
    with pytest.raises(FilterParameterError, match="both positionally and by keyword"):
        Tint(0.3, strength=0.4)


def test_filters_are_immutable_values() -> None:
    f = Tint(0.3)
    with pytest.raises(AttributeError, match="immutable"):
        f.strength = 0.9  # type: ignore[misc]
    assert f == Tint(strength=0.3)
    assert hash(f) == hash(Tint(strength=0.3))
    assert f != Tint(strength=0.4)
    assert f.replace(strength=0.4) == Tint(0.4)
    assert repr(f) == "Tint(strength=0.3)"


def test_filters_pickle_by_parameters() -> None:
    f = Tint(0.3, offsets=(1, 2))
    assert pickle.loads(pickle.dumps(f)) == f


def test_dict_round_trip_restores_tuples(pm) -> None:
    register_filter(Tint)
    f = Tint(size=(5, None), offsets=(1, 2, 3))
    data = json.loads(json.dumps(f.to_dict()))
    assert data == {"filter": "tint", "params": {
        "strength": 0.5, "channel": "r", "size": [5, None], "offsets": [1, 2, 3],
        "label": "x", "enabled": True, "count": 1}}
    assert Filter.from_dict(data) == f
    assert Filter.parse(f.to_string()) == f


def test_subclass_definition_registers_nothing(pm) -> None:
    class Unregistered(Filter):
        name = "unregistered_thing"

        def apply(self, image: Image) -> Image:
            return image

    assert "unregistered_thing" not in pm.filters


def test_bad_default_is_reported_at_class_definition() -> None:
    with pytest.raises(TypeError, match="does not fit"):
        class Broken(Filter):
            amount: int = "three"  # type: ignore[assignment]


def test_post_init_can_validate_and_precompute() -> None:
    class Lut(Filter):
        name = "lut"
        gamma: float = param(1.0, min=0.01)

        def __post_init__(self) -> None:
            self._table = (255 * (np.arange(256) / 255) ** self.gamma).astype(np.uint8)

        def apply(self, image: Image) -> Image:
            return image

    f = Lut(2.0)
    assert f._table[255] == 255
    with pytest.raises(AttributeError):
        f._table = None
    assert Lut(2.0) == f


def test_required_parameter_must_be_given() -> None:
    class Needs(Filter):
        name = "needs"
        value: int

        def apply(self, image: Image) -> Image:
            return image

    with pytest.raises(FilterParameterError, match="missing required parameter 'value'"):
        Needs()
    assert Needs(3).value == 3


def test_an_unknown_parameter_message_reads_as_sentences_with_or_without_a_suggestion() -> None:
    from imagestag_core.errors import ImagestagError
    from imagestag_core.plugins import get_filter

    resize = get_filter("resize")
    with pytest.raises(ImagestagError) as close:
        resize(size=(8, 8), mod="fit")
    assert "no parameter 'mod'; did you mean 'mode'? Valid parameters: " in str(close.value)
    with pytest.raises(ImagestagError) as far:
        resize(size=(8, 8), zzzzzz=1)
    assert "no parameter 'zzzzzz'. Valid parameters: " in str(far.value)
