"""Datasets: freeze a curated selection as an immutable version, list, diff, roll back, delete."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

import asyncpg

from tuneyard.core.errors import ConflictError, NotFoundError, ValidationError
from tuneyard.datasets import repository as repo
from tuneyard.datasets.models import (
    Dataset,
    DatasetExport,
    DiffCounts,
    DiffSide,
    NewDataset,
    Split,
)
from tuneyard.examples.filter_sql import compile_filter
from tuneyard.examples.models import Example
from tuneyard.examples.ordering import check_page_size, decode_id_cursor, encode_id_cursor


@dataclass(slots=True)
class MemberPage:
    examples: list[Example]
    cursors: list[str]
    has_next_page: bool


def dataset_number(dataset_id: str) -> int:
    """The numeric id behind a Dataset ID; NOT_FOUND for anything else."""
    try:
        return int(dataset_id)
    except ValueError:
        raise NotFoundError(f"no dataset with id {dataset_id!r}") from None


async def create(pool: asyncpg.Pool, new: NewDataset) -> Dataset:
    """Freeze the non-archived examples matching new.filter as the next version of new.name; it becomes current."""
    new = new.validated()
    where, params = compile_filter(new.filter)
    async with pool.acquire() as conn, conn.transaction():
        created = await repo.create(conn, new, where, params)
        if created is None:
            raise ValidationError("input.where: no (non-archived) example matches; a dataset cannot be empty")
    return created


async def get(pool: asyncpg.Pool, dataset_id: str) -> Dataset | None:
    try:
        number = int(dataset_id)
    except ValueError:
        return None
    return await repo.get(pool, number)


async def require(pool: asyncpg.Pool, dataset_id: str) -> Dataset:
    found = await get(pool, dataset_id)
    if found is None:
        raise NotFoundError(f"no dataset with id {dataset_id!r}")
    return found


async def list_datasets(pool: asyncpg.Pool, name: str | None, include_deleted: bool) -> list[Dataset]:
    return await repo.list_datasets(pool, name, include_deleted)


async def set_current(pool: asyncpg.Pool, dataset_id: str) -> Dataset:
    """Make a version the current one of its name (a rollback when it is older)."""
    async with pool.acquire() as conn, conn.transaction():
        dataset = await _locked(conn, dataset_id)
        if dataset.deleted_at is not None:
            raise ConflictError(f"dataset {dataset.name} v{dataset.version} is deleted; it cannot become current")
        return await repo.set_current(conn, dataset)


async def delete(pool: asyncpg.Pool, dataset_id: str) -> Dataset:
    """Soft delete: rows, files and diffs stay; a deleted current version hands 'current' to the newest left."""
    async with pool.acquire() as conn, conn.transaction():
        dataset = await _locked(conn, dataset_id)
        if dataset.deleted_at is not None:
            raise ConflictError(f"dataset {dataset.name} v{dataset.version} is already deleted")
        return await repo.soft_delete(conn, dataset)


def _page(examples: list[Example], first: int) -> MemberPage:
    shown = examples[:first]
    return MemberPage(
        shown, [encode_id_cursor("dataset member", e.id) for e in shown], has_next_page=len(examples) > first
    )


def _after(after: str | None) -> int | None:
    return None if after is None else decode_id_cursor("dataset member", after)


async def members(
    pool: asyncpg.Pool, dataset_id: int, split: Split | None, first: int, after: str | None, columns: Iterable[str]
) -> MemberPage:
    """A page of a version's examples, as frozen, in example id order."""
    check_page_size(first)
    found = await repo.member_page(pool, dataset_id, split, _after(after), first + 1, columns)
    return _page(found, first)


async def member_count(pool: asyncpg.Pool, dataset_id: int, split: Split | None) -> int:
    return await repo.member_count(pool, dataset_id, split)


async def diff(pool: asyncpg.Pool, base_id: str, head_id: str) -> tuple[Dataset, Dataset, DiffCounts]:
    """Row-level differences between any two versions (of one name or not), by example id."""
    base, head = await require(pool, base_id), await require(pool, head_id)
    return base, head, await repo.diff_counts(pool, base.id, head.id)


async def diff_page(
    pool: asyncpg.Pool, side: DiffSide, base_id: int, head_id: int, first: int, after: str | None,
    columns: Iterable[str],
) -> MemberPage:  # fmt: skip
    check_page_size(first)
    found = await repo.diff_page(pool, side, base_id, head_id, _after(after), first + 1, columns)
    return _page(found, first)


async def exports(pool: asyncpg.Pool, dataset_id: int) -> list[DatasetExport]:
    return await repo.exports_of(pool, dataset_id)


Counter = Callable[[], Awaitable[int]]


async def constant(value: int) -> int:
    """A count already known, in the shape connections ask for."""
    return value


async def _locked(conn: repo.Connection, dataset_id: str) -> Dataset:
    """The version as it is once its name is locked for this transaction (versions of a name change one at a time)."""
    number = dataset_number(dataset_id)
    dataset = await repo.get(conn, number)
    if dataset is None:
        raise NotFoundError(f"no dataset with id {dataset_id!r}")
    await repo.lock_name(conn, dataset.name)
    locked = await repo.get(conn, number)
    assert locked is not None  # versions are never removed
    return locked
