"""The main path of a chain: pure graph walking over nodes already loaded."""

from collections import deque
from collections.abc import Callable, Hashable, Iterable, Sequence
from typing import TypeVar

Node = TypeVar("Node", bound=Hashable)


def _distances(start: Node, neighbours: dict[Node, list[Node]]) -> dict[Node, int]:
    distance = {start: 0}
    queue = deque([start])
    while queue:
        current = queue.popleft()
        for nxt in neighbours.get(current, ()):
            if nxt not in distance:
                distance[nxt] = distance[current] + 1
                queue.append(nxt)
    return distance


def shortest_path(
    source: Node,
    target: Node,
    successors: dict[Node, list[Node]],
    predecessors: dict[Node, list[Node]],
    order: Callable[[Node], int],
) -> list[Node]:
    """Fewest steps from source to target; at each step, the earliest node (by `order`) that
    still lies on a shortest path, so ties go to earlier publication."""
    to_target = _distances(target, predecessors)
    if source not in to_target:
        return []
    path = [source]
    while path[-1] != target:
        remaining = to_target[path[-1]] - 1
        candidates = [n for n in successors.get(path[-1], ()) if to_target.get(n) == remaining]
        path.append(min(candidates, key=order))
    return path


def main_path(
    edges: Iterable[tuple[Node, Node]],
    origins: Sequence[Node],
    goal: Node | None,
    order: Callable[[Node], int],
) -> list[Node]:
    """The contract's main path.

    With a goal (the first official denial) that some other origin reaches: from the earliest
    such origin to the goal. Otherwise: from the earliest origin to the latest node it reaches.
    `origins` come in time order; `order` ranks any node by publication.
    """
    successors: dict[Node, list[Node]] = {}
    predecessors: dict[Node, list[Node]] = {}
    for src, dst in edges:
        successors.setdefault(src, []).append(dst)
        predecessors.setdefault(dst, []).append(src)
    if not origins:
        return []
    if goal is not None and predecessors.get(goal):
        reaching = _distances(goal, predecessors)
        for origin in origins:
            if origin in reaching:
                return shortest_path(origin, goal, successors, predecessors, order)
    start = origins[0]
    reached = _distances(start, successors)
    latest = max(reached, key=order)
    return shortest_path(start, latest, successors, predecessors, order)
