"""JSON from clients, bounded: nesting depth and NUL characters are refused where the text is parsed.

Python's json module recurses once per nesting level, so a body of 100,000 "[" ends in a RecursionError
(a server error) instead of a 400; a body just under the interpreter's limit parses, and then every
later recursive walk (serializers, json.dumps into a JSONField or an audit row) may hit it instead.
No request of this API nests deeper than a few levels, so anything beyond MAX_DEPTH is refused.

A NUL character (U+0000) cannot be stored in a PostgreSQL text or jsonb value; DRF's CharField refuses
it, but JSON bodies also reach JSONFields and dict/list fields, so it is refused for every string
(keys included) here, the one place every JSON body passes.
"""

import json
from typing import Any

from rest_framework import parsers
from rest_framework.exceptions import ParseError

MAX_DEPTH = 32
NUL = "\x00"


class UnsafeJSON(ValueError):
    """A JSON document this API refuses (too deep, or with a NUL character). Message in Chinese."""


def check_parsed(data: Any, max_depth: int = MAX_DEPTH) -> None:
    """Raise UnsafeJSON if `data` nests deeper than `max_depth` or holds a NUL in a string or key.

    Iterative, so the check itself never recurses."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, str):
            if NUL in value:
                raise UnsafeJSON("内容中不能包含空字符（\\u0000）")
        elif isinstance(value, dict | list):
            if depth > max_depth:
                raise UnsafeJSON(f"JSON 嵌套层数过多（最多 {max_depth} 层）")
            if isinstance(value, dict):
                stack.extend((k, depth) for k in value)
                stack.extend((v, depth + 1) for v in value.values())
            else:
                stack.extend((v, depth + 1) for v in value)


def loads(text: str | bytes, max_depth: int = MAX_DEPTH) -> Any:
    """json.loads for text from outside (MQTT payloads, hand-parsed bodies): ValueError, never
    RecursionError, for anything unsafe (see check_parsed)."""
    try:
        data = json.loads(text)
    except RecursionError:
        raise UnsafeJSON(f"JSON 嵌套层数过多（最多 {max_depth} 层）")
    check_parsed(data, max_depth)
    return data


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser (strict: no NaN/Infinity) with the depth and NUL bounds; 400 parse_error."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(f"JSON 嵌套层数过多（最多 {MAX_DEPTH} 层）")
        try:
            check_parsed(data)
        except UnsafeJSON as exc:
            raise ParseError(str(exc))
        return data
