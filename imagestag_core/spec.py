"""The pipeline spec: text grammar, dict/JSON form, and their round trips.

Text grammar
------------
::

    pipeline := stage ("|" stage)*
    stage    := NAME argument*
    argument := value | KEY "=" value | KEY "=" "(" pipeline ")"

* Stages are separated by ``|``; an empty stage is an error.
* Positional values map to the filter's declared parameters in order (a
  filter may dispatch on the value, as ``resize 0.5`` vs ``resize 1920x1080``
  does); ``key=value`` sets a parameter by name.
* Values: integers (``90``), floats (``0.5``, ``1e-3``), ``true``/``false``,
  ``none``, sizes ``WxH`` (``1920x1080``; ``1920x`` / ``x1080`` leave one side
  to the aspect ratio), tuples ``a,b,c`` (``a,`` for one item, ``()`` for
  none), bare words (``hot``, ``jpeg``) and quoted strings (``"two words"``,
  JSON escapes; ``'single'`` quotes too).  Values are converted to each
  parameter's declared type, so a bare ``12`` is the text "12" for a string
  parameter.
* ``KEY=(PIPELINE)``: a pipeline as a value (a ``tee`` branch), a ``FilterPipeline``;
  a ``{"stages": [...]}`` mapping in the dict form.  Inside, ``)`` ends a bare word.
* Parsing never evaluates code.  Every problem raises
  :class:`~imagestag_core.errors.SpecError` with the position and what was
  expected there.
* Over :data:`MAX_DIGITS` digits or nested too deep is a SpecError in every form.

Dict form: ``{"stages": [{"filter": "resize", "params": {"size": [1920, 1080]}}]}``
(a bare list of stages is accepted too); tuples become lists in JSON and are
restored from the declared types.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .errors import FilterParameterError, ImagestagError, SpecError, UnknownNameError
from .params import accepts_str

if TYPE_CHECKING:
    from .filter import Filter

__all__ = ["filter_from_dict", "filter_to_dict", "format_stage", "format_value", "parse_text"]

MAX_DIGITS = 4300  #: Python's default text-to-int limit, whatever the interpreter says
MAX_NESTING = 32  #: how deep ``KEY=(PIPELINE)`` branches may nest in spec text
_JSON_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]|-?\d+(?:\.\d*)?(?:[eE][+-]?\d+)?')

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")
_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_INT = re.compile(r"[+-]?\d+")
_FLOAT = re.compile(r"[+-]?(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?")
_SIZE = re.compile(r"(\d+)?[xX](\d+)?")
_BARE_SAFE = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-/:+]*")
_SPECIALS = set("|=\"' \t\r\n")
#: a quoted string up to its first unescaped closing quote
_QUOTED = {q: re.compile(f"{q}(?:[^{q}\\\\]|\\\\.)*{q}", re.DOTALL) for q in "\"'"}
_KEYWORDS: dict[str, Any] = {"true": True, "false": False, "none": None, "null": None, "()": ()}


@dataclass(frozen=True)
class Token:
    value: Any
    raw: str
    position: int
    quoted: bool = False
    branch: tuple[StageText, ...] | None = None  #: the stages of a ``KEY=(PIPELINE)`` value


@dataclass(frozen=True)
class StageText:
    name: str
    position: int
    args: tuple[Token, ...]
    kwargs: tuple[tuple[str, Token], ...]


class _Scanner:
    def __init__(self, text: str) -> None:
        self.text, self.pos = text, 0

    def error(self, message: str, expected: str | None = None,
              position: int | None = None) -> SpecError:
        return SpecError(message, text=self.text, position=self.pos if position is None
                         else position, expected=expected)

    def skip_space(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in " \t\r\n":
            self.pos += 1

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def read_bare(self, closing: str = "") -> str:
        """A bare word; inside a branch (``closing``) a ``)`` ends it, except in ``()``."""
        start = self.pos
        if closing and self.text.startswith("()", start):
            self.pos += 2
        while (self.pos < len(self.text) and self.text[self.pos] not in _SPECIALS
               and self.text[self.pos] not in closing):
            self.pos += 1
        return self.text[start:self.pos]

    def read_quoted(self) -> str:
        start, quote = self.pos, self.text[self.pos]
        match = _QUOTED[quote].match(self.text, start)
        if match is None:
            raise self.error("unterminated string", f"a closing {quote}", start)
        self.pos, body = match.end(), match.group()
        if quote == "'":
            body = '"' + body[1:-1].replace("\\'", "'").replace('"', '\\"') + '"'
        try:
            return str(json.loads(body))
        except json.JSONDecodeError as exc:
            raise self.error(f"invalid escape in quoted string: {exc.msg}",
                             "a JSON-style string", start) from None


def _int(digits: str) -> int:
    if len(digits.lstrip("+-")) > MAX_DIGITS:
        raise SpecError(f"integer of more than {MAX_DIGITS} digits", expected="a smaller number")
    return int(digits)


def literal(raw: str) -> Any:
    """Interpret an unquoted token: number, bool, none, size, tuple or bare word."""
    if raw.lower() in _KEYWORDS:
        return _KEYWORDS[raw.lower()]
    if _INT.fullmatch(raw):
        return _int(raw)
    if _FLOAT.fullmatch(raw):
        return float(raw)
    size = _SIZE.fullmatch(raw)
    if size and (size.group(1) or size.group(2)):
        return tuple(_int(side) if side else None for side in size.groups())
    parts = raw.split(",")
    parts = parts[:-1] if parts[-1] == "" else parts
    if "," in raw and all(parts):
        return tuple(literal(p) for p in parts)
    return raw


def _literal_at(sc: _Scanner, raw: str, position: int) -> Any:
    try:
        return literal(raw)
    except SpecError as exc:
        raise sc.error(exc.reason, exc.expected, position) from None


def parse_text(text: str) -> list[StageText]:
    """Split spec text into stages and tokens (no filter look-up yet)."""
    if not isinstance(text, str):
        raise SpecError(f"a pipeline spec must be text, got {type(text).__name__}")
    return _stages(_Scanner(text), "")


def _stages(sc: _Scanner, closing: str) -> list[StageText]:
    """Stages up to the end, or (``closing=")"``) past the ``)`` of a branch."""
    stop, ends = "|" + closing, " \t\r\n|" + closing
    stages: list[StageText] = []
    while True:
        sc.skip_space()
        start = sc.pos
        if not sc.peek() or sc.peek() in stop:
            raise sc.error("empty stage", "a filter name such as 'resize'")
        name = sc.read_bare(closing)
        if not name or not _NAME.fullmatch(name):
            raise sc.error(f"invalid filter name {name or sc.peek()!r}",
                           "a filter name (letters, digits, '_', '-', '.')", start)
        args: list[Token] = []
        kwargs: list[tuple[str, Token]] = []
        while True:
            sc.skip_space()
            if not sc.peek() or sc.peek() in stop:
                break
            tok_start = sc.pos
            if sc.peek() in "\"'":
                raw = sc.read_quoted()
                if sc.peek() and sc.peek() not in ends:
                    raise sc.error("unexpected character after a quoted string",
                                   "a space or '|'")
                token = Token(raw, raw, tok_start, quoted=True)
            elif sc.peek() == "=":
                raise sc.error("'=' without a parameter name", "key=value")
            else:
                word = sc.read_bare(closing)
                if sc.peek() == "=":
                    if not _KEY.fullmatch(word):
                        raise sc.error(f"invalid parameter name {word!r}", "a parameter name",
                                       tok_start)
                    if any(key == word for key, _ in kwargs):
                        raise sc.error(f"parameter {word!r} given twice", None, tok_start)
                    sc.pos += 1
                    kwargs.append((word, _value(sc, word, closing, ends)))
                    continue
                token = Token(_literal_at(sc, word, tok_start), word, tok_start)
            if kwargs:
                raise sc.error("positional value after key=value", "key=value", tok_start)
            args.append(token)
        stages.append(StageText(name, start, tuple(args), tuple(kwargs)))
        if not sc.peek() and closing:
            raise sc.error("unclosed '(' of a branch", "a closing ')'")
        sc.pos += 1  # the "|", or the ")" that closes this branch (past the end: done)
        if sc.pos > len(sc.text) or sc.text[sc.pos - 1] == ")":
            return stages
        if not sc.text[sc.pos:].strip():
            raise sc.error("empty stage after '|'", "a filter name")


def _value(sc: _Scanner, key: str, closing: str, ends: str) -> Token:
    """The value after ``key=``: quoted, a ``(branch | pipeline)``, or a bare literal."""
    start = sc.pos
    if sc.peek() in "\"'" and sc.peek():
        raw = sc.read_quoted()
        return Token(raw, raw, start, quoted=True)
    if sc.peek() == "(" and not sc.text.startswith("()", start):
        if closing.count(")") >= MAX_NESTING:
            raise sc.error(f"branches nested more than {MAX_NESTING} deep", None, start)
        sc.pos += 1
        branch = tuple(_stages(sc, closing + ")"))
        if sc.peek() and sc.peek() not in ends:
            raise sc.error("unexpected character after a branch", "a space or '|'")
        return Token(None, sc.text[start:sc.pos], start, branch=branch)
    raw = sc.read_bare(closing)
    if not raw:
        raise sc.error(f"missing value for {key!r}", "a value after '='")
    if sc.peek() == "=":
        raise sc.error("unexpected '='", "a space between parameters")
    return Token(_literal_at(sc, raw, start), raw, start)


def build_filter(stage: StageText, text: str) -> Filter:
    """Resolve a parsed stage to a filter instance."""
    from .plugins import get_filter

    try:
        cls = get_filter(stage.name)
    except UnknownNameError as exc:
        raise SpecError(str(exc), text=text, position=stage.position,
                        expected="an installed filter name") from None
    by_name = {p.name: p for p in cls.params}
    try:
        positional = cls.map_positional(tuple(t.value for t in stage.args))
    except FilterParameterError as exc:
        raise SpecError(str(exc), text=text, position=stage.position) from None
    values: dict[str, Any] = {}
    tokens = {**dict(zip(positional, stage.args)), **dict(stage.kwargs)}
    for key, value in [*positional.items(), *((k, t.value) for k, t in stage.kwargs)]:
        token = tokens[key]
        if token.branch is not None:  # a KEY=(PIPELINE) value: built here, positions exact
            from .pipeline import FilterPipeline

            value = FilterPipeline([build_filter(branch, text) for branch in token.branch])
        elif ((spec := by_name.get(key)) is not None and not token.quoted
              and not isinstance(value, str) and accepts_str(spec.type)):
            try:
                value = spec.coerce(value)
            except (TypeError, ValueError, ArithmeticError):
                value = token.raw
        values[key] = value
    try:
        return cls(**values)
    except FilterParameterError as exc:
        param_name = exc.parameter or ""
        pos = tokens[param_name].position if param_name in tokens else stage.position
        spec = by_name.get(param_name)
        expected = f"{param_name}: {spec.type_text}" if spec is not None else None
        raise SpecError(str(exc), text=text, position=pos, expected=expected) from None
    except ImagestagError as exc:
        raise SpecError(str(exc), text=text, position=stage.position) from None
    except (TypeError, ValueError, ArithmeticError) as exc:  # OverflowError: int to float
        raise SpecError(f"{stage.name}: {exc}", text=text, position=stage.position) from None


def parse_stage_text(text: str) -> Filter:
    stages = parse_text(text)
    if len(stages) != 1:
        raise SpecError(f"expected one filter, got {len(stages)} stages", text=text)
    return build_filter(stages[0], text)


# -- formatting -------------------------------------------------------------------


def format_value(value: Any) -> str:
    """The spec text of one parameter value; ``literal(format_value(v))`` gives v back."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise SpecError(f"cannot write the non-finite value {value!r} in a spec")
        text = repr(value)
        return text if ("." in text or "e" in text or "E" in text) else f"{text}.0"
    if isinstance(value, str):
        if _BARE_SAFE.fullmatch(value) and literal(value) == value:
            return value
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, tuple):
        if len(value) == 2 and value != (None, None) and all(
                v is None or (isinstance(v, int) and not isinstance(v, bool) and v >= 0)
                for v in value):
            return "x".join("" if v is None else str(v) for v in value)
        if not value:
            return "()"
        items = [format_value(v) for v in value]
        for item, v in zip(items, value):
            if isinstance(v, (tuple, list)) or "," in item or any(c in item for c in " |=\"'"):
                raise SpecError(f"cannot write tuple item {v!r} in spec text; use to_dict()")
        return ",".join(items) + ("," if len(items) == 1 else "")
    from .pipeline import FilterPipeline

    if isinstance(value, FilterPipeline):  # a branch: KEY=(PIPELINE)
        return f"({value.to_string()})"
    raise SpecError(f"cannot write a {type(value).__name__} value in a spec: {value!r}")


def spec_name(filt: Filter) -> str:
    from .plugins import registry_name_of

    return registry_name_of(type(filt)) or type(filt).name


def format_stage(filt: Filter) -> str:
    return " ".join([spec_name(filt), *(f"{key}={format_value(value)}"
                                        for key, value in filt.non_default_params().items())])


def _jsonable(value: Any) -> Any:
    """Tuples as lists, a branch (a FilterPipeline value) as its ``{"stages": ...}`` dict."""
    return value.to_dict() if hasattr(value, "to_dict") else [
        _jsonable(v) for v in value] if isinstance(value, tuple) else value


def filter_to_dict(filt: Filter) -> dict[str, Any]:
    return {"filter": spec_name(filt),
            "params": {k: _jsonable(v) for k, v in filt.get_params().items()}}


def _lists_to_tuples(value: Any) -> Any:
    """Lists as tuples, a ``{"stages": ...}`` mapping as the branch's FilterPipeline."""
    if isinstance(value, Mapping):
        from .pipeline import FilterPipeline

        return FilterPipeline.from_dict(value)
    return tuple(_lists_to_tuples(v) for v in value) if isinstance(value, list) else value


def json_limit_error(text: str, exc: Exception) -> SpecError:
    """``json.loads(text)``'s ``exc`` (a long integer, deep nesting) at its position."""
    depth, deepest, position = 0, 0, 0
    for match in _JSON_TOKEN.finditer(text):
        depth += (match.group() in "[{") - (match.group() in "]}")
        digits = match.group().lstrip("-")
        if digits.isdigit() and len(digits) > MAX_DIGITS:
            return SpecError(f"integer of more than {MAX_DIGITS} digits", text=text,
                             position=match.start())
        if depth > deepest:
            deepest, position = depth, match.start()
    return SpecError(f"nested too deep ({deepest} levels)" if isinstance(exc, RecursionError)
                     else f"invalid JSON: {exc}", text=text, position=position)


def filter_from_dict(data: Any, index: int | None = None) -> Filter:
    try:
        return _filter_from_dict(data, index)
    except SpecError:
        raise
    except (ValueError, ArithmeticError, RecursionError) as exc:  # huge ints, deep nesting
        raise SpecError(("" if index is None else f"stage {index}: ") + (
            "nested too deep" if isinstance(exc, RecursionError) else str(exc))) from None


def _filter_from_dict(data: Any, index: int | None) -> Filter:
    from .plugins import get_filter

    where = f"stage {index}: " if index is not None else ""
    if isinstance(data, str):
        return parse_stage_text(data)
    if not isinstance(data, Mapping):
        raise SpecError(f"{where}a stage must be a mapping with 'filter' and 'params', "
                        f"got {type(data).__name__}")
    unknown = set(data) - {"filter", "params"}
    if unknown:
        raise SpecError(f"{where}unknown stage keys {sorted(unknown)}; expected 'filter', 'params'")
    name = data.get("filter")
    if not isinstance(name, str):
        raise SpecError(f"{where}'filter' must be a filter name, got {name!r}")
    params = data.get("params", {})
    if not isinstance(params, Mapping) or not all(isinstance(k, str) for k in params):
        raise SpecError(f"{where}'params' must be a mapping of names to values, got {params!r}")
    try:
        cls = get_filter(name)
        return cls(**{k: _lists_to_tuples(v) for k, v in params.items()})
    except SpecError:
        raise
    except ImagestagError as exc:
        raise SpecError(f"{where}{exc}") from None
    except (TypeError, ValueError, ArithmeticError) as exc:
        raise SpecError(f"{where}{name}: {exc}") from None
