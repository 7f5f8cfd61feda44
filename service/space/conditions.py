"""Conditional parameters: the ``when`` links of a parameter list form a forest.

A parameter with ``when: {parent, values}`` is active only when its parent is active and takes
one of ``values``. A child may be listed before its parent. Checks (each a ``ValueError``
naming the parameter and the field): the parent exists, can be a parent (categorical, int,
bool), every listed value is one the parent can take, and following parents never loops.
"""

from __future__ import annotations

from collections.abc import Sequence

from service.space.param_base import ParamBase


def check_conditions(params: Sequence[ParamBase]) -> None:
    """Raise ``ValueError`` when a condition is dangling, cyclic or names impossible values."""
    by_name = {p.name: p for p in params}
    for p in params:
        if p.when is None:
            continue
        parent = by_name.get(p.when.parent)
        if parent is None:
            raise ValueError(f"parameter '{p.name}': when.parent: unknown parameter '{p.when.parent}'")
        if parent.name == p.name:
            raise ValueError(f"parameter '{p.name}': when.parent: a parameter cannot be its own parent")
        if not parent.can_be_parent:
            raise ValueError(
                f"parameter '{p.name}': when.parent: '{parent.name}' is a {parent.type} parameter; "
                "a parent must be categorical, int or bool"
            )
        for value in p.when.values:
            if not parent.holds(value):
                raise ValueError(f"parameter '{p.name}': when.values: '{parent.name}' cannot take {value!r}")
    for p in params:
        chain = [p.name]
        node = p
        while node.when is not None:
            node = by_name[node.when.parent]
            if node.name in chain:
                cycle = " -> ".join([*chain[chain.index(node.name):], node.name])
                raise ValueError(f"parameter '{p.name}': when.parent: the conditions form a cycle ({cycle})")
            chain.append(node.name)


def topological_order(params: Sequence[ParamBase]) -> list[int]:
    """Indices of ``params`` with every parent before its children (checked lists only)."""
    index = {p.name: i for i, p in enumerate(params)}
    order: list[int] = []
    placed: set[int] = set()

    def place(i: int) -> None:
        if i in placed:
            return
        when = params[i].when
        if when is not None:
            place(index[when.parent])
        placed.add(i)
        order.append(i)

    for i in range(len(params)):
        place(i)
    return order
