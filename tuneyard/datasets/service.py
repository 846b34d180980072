"""Datasets: freeze a curated selection as an immutable version, list, diff, roll back, delete."""

from __future__ import annotations

from collections.abc import Iterable

from tuneyard.core.db import Connection, Pool, transact
from tuneyard.core.errors import ConflictError, NotFoundError, ValidationError
from tuneyard.core.ids import parse_id
from tuneyard.core.page import Page, check_page_size, decode_id_cursor, encode_id_cursor
from tuneyard.datasets import repository as repo
from tuneyard.datasets.models import Dataset, DiffCounts, DiffSide, NewDataset, Split
from tuneyard.examples import service as examples
from tuneyard.examples.models import Example

_MEMBER = "dataset member"


async def create(pool: Pool, new: NewDataset) -> Dataset:
    """Freeze the non-archived examples matching new.filter as the next version of new.name; it becomes current."""
    new = new.validated()
    where = examples.compile_filter(new.filter)

    async def work(conn: Connection) -> Dataset:
        created = await repo.create(conn, new, where)
        if created is None:
            raise ValidationError("input.where: no (non-archived) example matches; a dataset cannot be empty")
        return created

    return await transact(pool, work, affected=lambda created: created.example_count)


async def get(pool: Pool, dataset_id: object) -> Dataset | None:
    return await repo.get(pool, parse_id(dataset_id, "dataset"))


async def require(pool: Pool, dataset_id: object) -> Dataset:
    found = await get(pool, dataset_id)
    if found is None:
        raise NotFoundError(f"no dataset with id {dataset_id!r}")
    return found


async def list_datasets(
    pool: Pool, name: str | None, include_deleted: bool, containing: object | None = None
) -> list[Dataset]:
    """Versions by name, newest first; with `containing`, only those that froze that example (its lineage)."""
    example_id = None if containing is None else parse_id(containing, "example", "containing")
    return await repo.list_datasets(pool, name, include_deleted, example_id)


async def set_current(pool: Pool, dataset_id: object) -> Dataset:
    """Make a version the current one of its name (a rollback when it is older)."""

    async def work(conn: Connection) -> Dataset:
        dataset = await _locked(conn, dataset_id)
        if dataset.deleted_at is not None:
            raise ConflictError(f"dataset {dataset.name} v{dataset.version} is deleted; it cannot become current")
        return await repo.set_current(conn, dataset)

    return await transact(pool, work, affected=lambda _: 1)


async def delete(pool: Pool, dataset_id: object) -> Dataset:
    """Soft delete: rows, files and diffs stay; a deleted current version hands 'current' to the newest left."""

    async def work(conn: Connection) -> Dataset:
        dataset = await _locked(conn, dataset_id)
        if dataset.deleted_at is not None:
            raise ConflictError(f"dataset {dataset.name} v{dataset.version} is already deleted")
        return await repo.soft_delete(conn, dataset)

    return await transact(pool, work, affected=lambda _: 1)


def _member_cursor(example: Example) -> str:
    return encode_id_cursor(_MEMBER, example.id)


def _after(after: str | None) -> int | None:
    return None if after is None else decode_id_cursor(_MEMBER, after)


async def members(
    pool: Pool, dataset_id: int, split: Split | None, first: int, after: str | None, columns: Iterable[str]
) -> Page[Example]:
    """A page of a version's examples, as frozen, in example id order."""
    check_page_size(first)
    found = await repo.member_page(pool, dataset_id, split, _after(after), first + 1, columns)
    return Page.of(found, first, _member_cursor)


async def member_count(pool: Pool, dataset_id: int, split: Split | None) -> int:
    return await repo.member_count(pool, dataset_id, split)


async def diff(pool: Pool, base_id: object, head_id: object) -> tuple[Dataset, Dataset, DiffCounts]:
    """Row-level differences between any two versions (of one name or not), by example id."""
    base, head = await require(pool, base_id), await require(pool, head_id)
    return base, head, await repo.diff_counts(pool, base.id, head.id)


async def diff_page(
    pool: Pool, side: DiffSide, base_id: int, head_id: int, first: int, after: str | None, columns: Iterable[str]
) -> Page[Example]:
    check_page_size(first)
    found = await repo.diff_page(pool, side, base_id, head_id, _after(after), first + 1, columns)
    return Page.of(found, first, _member_cursor)


async def _locked(conn: Connection, dataset_id: object) -> Dataset:
    """The version as it is once its name is locked for this transaction (versions of a name change one at a time)."""
    number = parse_id(dataset_id, "dataset")
    dataset = await repo.get(conn, number)
    if dataset is None:
        raise NotFoundError(f"no dataset with id {dataset_id!r}")
    await repo.lock_name(conn, dataset.name)
    locked = await repo.get(conn, number)
    assert locked is not None  # versions are never removed
    return locked
