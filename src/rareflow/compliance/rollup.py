"""Roll-ups down a bill of materials without recursion, so that documents of any depth up to
``documents.MAX_DEPTH`` are assessed (a chain of 10,000 sub-assemblies is a valid document).

``fold`` visits an item's children in order, as a recursive descent would, and so keeps the
order of what it records and of the first unknown it raises; a sub-assembly met twice is rolled
up once (``memo``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from rareflow.compliance.documents import Child, Item

V = TypeVar("V")


@dataclass
class _Frame(Generic[V]):
    item: Item
    value: V
    position: int = 0
    waiting: Child | None = None
    """The child whose own roll-up is on the stack above this frame."""


def fold(
    items: dict[str, Item],
    top: Item,
    memo: dict[str, V],
    start: Callable[[], V],
    step: Callable[[V, Child, Item], tuple[V, bool]],
    absorb: Callable[[V, Child, V], V],
) -> V:
    """The roll-up of ``top``: from ``start()``, each child in turn either adds to the value
    (``step`` returns the new value and False) or asks for the child's own roll-up (True), which
    ``absorb`` then adds (times the child's quantity, as the caller defines)."""
    if top.id in memo:
        return memo[top.id]
    stack: list[_Frame[V]] = [_Frame(top, start())]
    while True:
        frame = stack[-1]
        if frame.position == len(frame.item.children):
            memo[frame.item.id] = frame.value
            stack.pop()
            if not stack:
                return frame.value
            parent = stack[-1]
            assert parent.waiting is not None
            parent.value = absorb(parent.value, parent.waiting, frame.value)
            parent.waiting = None
            continue
        child = frame.item.children[frame.position]
        frame.position += 1
        node = items[child.item]
        frame.value, descend = step(frame.value, child, node)
        if not descend:
            continue
        if node.id in memo:
            frame.value = absorb(frame.value, child, memo[node.id])
        else:
            frame.waiting = child
            stack.append(_Frame(node, start()))
