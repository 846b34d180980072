"""Which columns a query selected, so repositories read only those."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from strawberry.types.nodes import FragmentSpread, InlineFragment, SelectedField, Selection


def _fields(selections: Iterable[Selection]) -> Iterable[SelectedField]:
    for selection in selections:
        if isinstance(selection, SelectedField):
            yield selection
        elif isinstance(selection, FragmentSpread | InlineFragment):
            yield from _fields(selection.selections)


def columns_at(selections: Iterable[Selection], path: tuple[str, ...], mapping: Mapping[str, str]) -> set[str]:
    """Columns for the fields selected under `path` (e.g. ("nodes",)), mapped by `mapping`."""
    if not path:
        return {mapping[f.name] for f in _fields(selections) if f.name in mapping}
    found: set[str] = set()
    for field in _fields(selections):
        if field.name == path[0]:
            found |= columns_at(field.selections, path[1:], mapping)
    return found
