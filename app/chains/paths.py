"""The main path of a chain: pure graph walking over nodes already loaded.

A chain is walked through each node's predecessors (what it cites) alone: the main path to the
first denial lies among the nodes that reach it, which on a large chain are few next to all
its nodes, so successors are gathered only for those.
"""

from collections import deque
from collections.abc import Callable, Collection, Hashable, Iterable
from itertools import chain
from typing import TypeVar

Node = TypeVar("Node", bound=Hashable)
Neighbours = Callable[[Node], Iterable[Node]]


def _distances(start: Node, neighbours: Neighbours[Node]) -> dict[Node, int]:
    distance = {start: 0}
    queue = deque([start])
    while queue:
        current = queue.popleft()
        step = distance[current] + 1
        for nxt in neighbours(current):
            if nxt not in distance:
                distance[nxt] = step
                queue.append(nxt)
    return distance


def _successors_within(
    nodes: Collection[Node], predecessors: Neighbours[Node]
) -> dict[Node, list[Node]]:
    successors: dict[Node, list[Node]] = {}
    for node in nodes:
        for before in predecessors(node):
            if before in nodes:
                successors.setdefault(before, []).append(node)
    return successors


def _shortest_path(
    source: Node,
    target: Node,
    to_target: dict[Node, int],
    predecessors: Neighbours[Node],
    order: Callable[[Node], int],
) -> list[Node]:
    """Fewest steps from source to target (`to_target`: every node's distance to it); at each
    step, the earliest node (by `order`) still on a shortest path, so ties go to earlier
    publication."""
    successors = _successors_within(to_target, predecessors)
    path = [source]
    while path[-1] != target:
        remaining = to_target[path[-1]] - 1
        candidates = [n for n in successors.get(path[-1], ()) if to_target.get(n) == remaining]
        path.append(min(candidates, key=order))
    return path


def main_path(
    nodes: Iterable[Node],
    predecessors: Neighbours[Node],
    origins: Iterable[Node],
    goal: Node | None,
    order: Callable[[Node], int],
) -> list[Node]:
    """The contract's main path, given every node and each one's predecessors (what it cites).

    With a goal (the first official denial) that some other origin reaches: from the earliest
    such origin to the goal. Otherwise: from the earliest origin to the latest node it reaches.
    `origins` come in time order, and are read only as far as needed; `order` ranks any node
    by publication.
    """
    later = iter(origins)
    start = next(later, None)
    if start is None:
        return []
    if goal is not None:
        reaching = _distances(goal, predecessors)
        if len(reaching) > 1:
            for origin in chain([start], later):
                if origin in reaching:
                    return _shortest_path(origin, goal, reaching, predecessors, order)
    successors: dict[Node, list[Node]] = {}
    for node in nodes:
        for before in predecessors(node):
            successors.setdefault(before, []).append(node)
    reached = _distances(start, lambda node: successors.get(node, ()))
    latest = max(reached, key=order)
    to_latest = _distances(latest, predecessors)
    return _shortest_path(start, latest, to_latest, predecessors, order)
