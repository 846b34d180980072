"""Which fields a query selected below a resolver's field, so repositories read only the columns they need.

Read from the query's syntax tree, fragments included, and remembered per field node: parsed documents are cached
by query text, so a query sent again meets the same nodes and costs one lookup. @include and @skip are not
evaluated: a field they leave out may still be read, never the other way round.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from graphql import FieldNode, FragmentDefinitionNode, FragmentSpreadNode, InlineFragmentNode, SelectionSetNode
from strawberry.types import Info

Path = tuple[str, ...]

# (field nodes' ids, paths) -> (the nodes, kept so that their ids are not reused while the entry lives; the names)
_found: dict[tuple[tuple[int, ...], tuple[Path, ...]], tuple[list[FieldNode], frozenset[str]]] = {}
CACHE_SIZE = 4096


def _fields(
    selection_set: SelectionSetNode | None, fragments: Mapping[str, FragmentDefinitionNode]
) -> Iterator[FieldNode]:
    for selection in selection_set.selections if selection_set else ():
        if isinstance(selection, FieldNode):
            yield selection
        elif isinstance(selection, InlineFragmentNode):
            yield from _fields(selection.selection_set, fragments)
        elif isinstance(selection, FragmentSpreadNode) and selection.name.value in fragments:
            yield from _fields(fragments[selection.name.value].selection_set, fragments)


def _names_at(nodes: list[FieldNode], path: Path, fragments: Mapping[str, FragmentDefinitionNode]) -> Iterator[str]:
    for node in nodes:
        children = list(_fields(node.selection_set, fragments))
        if not path:
            yield from (child.name.value for child in children)
        else:
            yield from _names_at([c for c in children if c.name.value == path[0]], path[1:], fragments)


def selected_names(info: Info, paths: tuple[Path, ...]) -> frozenset[str]:
    """The GraphQL names of the fields selected at any of `paths` below the field being resolved: () for its own
    subfields, ("nodes",) for a connection's nodes' subfields."""
    raw = info._raw_info  # graphql-core's info: Strawberry's selected_fields would convert the whole tree each time
    nodes = list(raw.field_nodes)
    key = (tuple(map(id, nodes)), paths)
    found = _found.get(key)
    if found is None or any(a is not b for a, b in zip(found[0], nodes, strict=True)):
        if len(_found) >= CACHE_SIZE:
            _found.clear()
        names = frozenset(name for path in paths for name in _names_at(nodes, path, raw.fragments))
        found = _found[key] = (nodes, names)
    return found[1]
