"""Ax-style constraint strings for the SDK: ``"x + 2*y <= 3"``, ``"latency <= 0.2"``.

Parsed by hand (a small grammar: a signed sum of ``[number*]name`` terms, ``<=`` or ``>=``,
a number) so the SDK keeps its three dependencies; anything else raises ``ValueError`` with
the position of the problem.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_TERM = re.compile(r"\s*([+-])?\s*(?:(\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)\s*\*?\s*)?([A-Za-z_][\w.\-]*)\s*")
_NUMBER = re.compile(r"^\s*([+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)\s*$")


def parse_linear(text: str) -> dict[str, Any]:
    """``"x + 2*y <= 3"`` -> ``{"coefficients": {"x": 1.0, "y": 2.0}, "op": "<=", "bound": 3.0}``."""
    for op in ("<=", ">="):
        if op in text:
            left, _, right = text.partition(op)
            break
    else:
        raise ValueError(f"constraint {text!r} needs '<=' or '>='")
    bound = _NUMBER.match(right)
    if bound is None:
        raise ValueError(f"constraint {text!r}: the right-hand side must be a number")
    coefficients: dict[str, float] = {}
    position = 0
    while position < len(left):
        match = _TERM.match(left, position)
        if match is None or match.end() == position:
            raise ValueError(f"constraint {text!r}: cannot read the term at {left[position:]!r}")
        sign, number, name = match.groups()
        if position > 0 and sign is None:
            raise ValueError(f"constraint {text!r}: expected '+' or '-' before {name!r}")
        value = float(number) if number else 1.0
        coefficients[name] = coefficients.get(name, 0.0) + (-value if sign == "-" else value)
        position = match.end()
    if not coefficients:
        raise ValueError(f"constraint {text!r} has no parameter on the left")
    return {"coefficients": coefficients, "op": op, "bound": float(bound.group(1))}


def parse_outcome(text: str) -> dict[str, Any]:
    """``"latency <= 0.2"`` -> ``{"metric": "latency", "op": "<=", "bound": 0.2}``."""
    linear = parse_linear(text)
    if len(linear["coefficients"]) != 1 or next(iter(linear["coefficients"].values())) != 1.0:
        raise ValueError(f"outcome constraint {text!r} must read '<metric> <= <number>' or '>='")
    return {"metric": next(iter(linear["coefficients"])), "op": linear["op"], "bound": linear["bound"]}


def as_constraint(item: str | Mapping[str, Any], *, outcome: bool) -> dict[str, Any]:
    """A constraint given as a string (parsed) or as the REST body's dict (copied)."""
    if isinstance(item, str):
        return parse_outcome(item) if outcome else parse_linear(item)
    return dict(item)
