"""The rules a JSON field's value must satisfy (shape, size, depth, NUL, safe integers), and its text once checked.

Each check returns the reason a value is refused (or None), so that callers name the place in their own terms:
`examples[3].businessState` for a batch, `line 12: businessState` for an import, an example id for checkExamples.
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson

MAX_JSON_BYTES = 262_144  # per JSON field, serialized
MAX_JSON_DEPTH = 64  # nesting of arrays and objects in a JSON field; deeper values break encoders downstream
MAX_SAFE_INTEGER = 2**53  # beyond it JavaScript (and most JSON readers) round integers silently

# The shape each JSON field must have: the contract names a state and metrics (objects); a plan and a result may
# also be a list (of steps, of outcomes). A bare number, string or boolean is never what a client meant.
OBJECT = "an object"
OBJECT_OR_ARRAY = "an object or an array"
SHAPES = {
    "businessState": OBJECT,
    "executionPlan": OBJECT_OR_ARRAY,
    "executionResult": OBJECT_OR_ARRAY,
    "postPublicationMetrics": OBJECT,
}

# An escaped NUL in orjson's output: \u0000 whose backslash is not itself escaped (preceded by an even run of them).
_JSON_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")
# Any run of 16 digits: an integer past 2^53 has at least that many, so only values with one are walked.
_LONG_NUMBER = re.compile(rb"\d{16}")


def deeper_than(value: Any, limit: int) -> bool:
    """Whether arrays and objects nest in `value` more than `limit` levels deep (iteratively: no recursion)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def unsafe_integer(value: Any) -> str | None:
    """The path (`.a.b[2]`) of the first integer outside +-2^53 in `value`, or None (iteratively)."""
    stack: list[tuple[Any, str]] = [(value, "")]
    while stack:
        item, path = stack.pop()
        if isinstance(item, dict):
            stack.extend((child, f"{path}.{key}") for key, child in reversed(item.items()))
        elif isinstance(item, list):
            stack.extend((child, f"{path}[{i}]") for i, child in reversed(list(enumerate(item))))
        elif type(item) is int and not -MAX_SAFE_INTEGER <= item <= MAX_SAFE_INTEGER:
            return f"{path} = {item}"
    return None


def shape_problem(name: str, value: Any) -> str | None:
    """Why `value` has the wrong shape for the JSON field `name` (GraphQL name), or None."""
    wanted = SHAPES.get(name)
    if wanted is None or isinstance(value, dict) or (wanted is OBJECT_OR_ARRAY and isinstance(value, list)):
        return None
    return f"must be {wanted} (or null), got {_kind(value)}"


def _kind(value: Any) -> str:
    """What a JSON value is, in words."""
    if isinstance(value, list):
        return "an array"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return type(value).__name__


def too_deep() -> str:
    """The reason a value nested too deep is refused."""
    return f"arrays and objects nest more than {MAX_JSON_DEPTH} levels"


def encoded_problem(value: Any, encoded: bytes) -> str | None:
    """Why a value, already encoded (as orjson writes it), breaks a rule other than its shape; None when none."""
    if len(encoded) > MAX_JSON_BYTES:
        return f"{len(encoded)} bytes of JSON, at most {MAX_JSON_BYTES} allowed"
    if b"\\u0000" in encoded and _JSON_NUL.search(encoded):  # jsonb cannot hold U+0000
        return "must not contain the NUL character (U+0000)"
    # Counting brackets (in C) bounds the depth from above: only a value with many of them is walked.
    if encoded.count(b"[") + encoded.count(b"{") > MAX_JSON_DEPTH and deeper_than(value, MAX_JSON_DEPTH):
        return too_deep()
    if _LONG_NUMBER.search(encoded):
        where = unsafe_integer(value)
        if where is not None:
            return _unsafe(where)
    return None


def _unsafe(where: str) -> str:
    """The reason an integer outside +-2^53 is refused, with its place (`.a.b[2] = n`)."""
    return f"integer at {where.lstrip('.')} is outside +-2^53 (JSON readers would round it); send it as a string"


def json_text(name: str, value: Any) -> tuple[str | None, str | None]:
    """(the value as JSON text, None) when it satisfies every rule for the field `name`; else (None, why not)."""
    if not isinstance(value, dict):
        problem = shape_problem(name, value)
        if problem is not None:
            return None, problem
    try:
        # Strict: orjson refuses integers past +-(2^53 - 1) itself, so most values need no scan for long numbers.
        encoded = orjson.dumps(value, option=orjson.OPT_STRICT_INTEGER)
    except TypeError:
        return _text_with_big_numbers(value)
    # Cheap scans (in C) first: only a value one of them flags is looked at closely (recording a batch is hot).
    if (
        len(encoded) > MAX_JSON_BYTES or b"\\u0000" in encoded
        or encoded.count(b"[") + encoded.count(b"{") > MAX_JSON_DEPTH
    ):  # fmt: skip
        problem = encoded_problem(value, encoded)
        if problem is not None:
            return None, problem
    return encoded.decode(), None


def _text_with_big_numbers(value: Any) -> tuple[str | None, str | None]:
    """json_text for a value strict encoding refused: nested past orjson's 255 levels, an integer past 64 bits, or
    one past +-(2^53 - 1), of which +-2^53 itself is allowed."""
    try:
        encoded = orjson.dumps(value)
    except TypeError as error:  # orjson stops at 255 levels and at 64-bit integers: say what is wrong in our terms
        if deeper_than(value, MAX_JSON_DEPTH):
            return None, too_deep()
        where = unsafe_integer(value)
        return None, _unsafe(where) if where is not None else f"not JSON-serializable ({error})"
    problem = encoded_problem(value, encoded)
    return (None, problem) if problem is not None else (encoded.decode(), None)


def stored_problem(name: str, text: str) -> str | None:
    """Why a stored JSON field (its jsonb text) breaks a rule new values are held to, or None (checkExamples)."""
    try:
        # orjson reads integers past 64 bits as floats: a value with a long number is read exactly instead.
        value = json.loads(text) if _LONG_NUMBER.search(text.encode()) else orjson.loads(text)
    except (orjson.JSONDecodeError, RecursionError):  # both readers stop at their nesting limit
        return too_deep()
    try:
        encoded = orjson.dumps(value)  # as a new value would be measured: without jsonb's spaces
    except TypeError:  # too deep for orjson, or an integer past 64 bits: both found in the text as well
        encoded = text.encode()
    return shape_problem(name, value) or encoded_problem(value, encoded)
