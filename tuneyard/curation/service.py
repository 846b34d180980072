"""Curation: bulk tagging with undo, archive and restore, purge, and stats, all over an ExampleFilter."""

from __future__ import annotations

import hashlib
from typing import NoReturn

import orjson

from tuneyard.core.db import Connection, Pool, transact
from tuneyard.core.errors import ConflictError, NotFoundError, ValidationError
from tuneyard.core.ids import parse_id
from tuneyard.core.page import check_page_size
from tuneyard.curation import bulk
from tuneyard.curation import purge_repository as purge_sql
from tuneyard.curation import repository as repo
from tuneyard.curation.models import (
    MAX_PURGE,
    Archived,
    PurgeCounts,
    TagOperation,
)
from tuneyard.examples.models import normalize_tags
from tuneyard.examples.service import Filter, compile_filter


async def tag_examples(
    pool: Pool, where: Filter, add: list[str] | None, remove: list[str] | None, note: str | None,
    *, threshold: int | None = None, created_by: str | None = None,
) -> TagOperation:  # fmt: skip
    """Add and remove tags on every example matching `where`, recorded as one undoable operation.

    Inline, in one transaction, unless more than `threshold` examples match (None: no threshold): then it starts a
    CURATION job that applies it chunk by chunk, and returns the operation with nothing changed yet and its job."""
    added, removed = normalize_tags(add, "add"), normalize_tags(remove, "remove")
    if not added and not removed:
        raise ValidationError("add, remove: give at least one tag to add or remove")
    both = sorted(set(added) & set(removed))
    if both:
        raise ValidationError(f"add, remove: a tag cannot be both added and removed: {', '.join(both)}")
    done = await repo.tag(pool, compile_filter(where), added, removed, note, dict(where), threshold)
    if done is not None:
        return done
    return await bulk.start_tagging(pool, where, added, removed, note, created_by)


async def undo_tag_operation(
    pool: Pool, operation_id: str, *, threshold: int | None = None, created_by: str | None = None
) -> TagOperation:
    """Undo the operation inline, or, when it changed more than `threshold` examples, start the job that does.

    Refused while a job still applies or undoes it (see bulk.check_undoable)."""
    number = parse_id(operation_id, "tag operation")
    operation = await repo.get_operation(pool, number)
    if operation is None:
        raise NotFoundError(f"no tag operation with id {operation_id!r}")
    if operation.undone_at is None and operation.purged_count == 0:
        await bulk.check_undoable(pool, operation)
        if threshold is not None and operation.affected_count > threshold:
            return await bulk.start_undo(pool, operation, created_by)
    after = await bulk.undone_through(pool, operation)

    async def work(conn: Connection) -> TagOperation:
        undone = await repo.undo(conn, number, after, operation.undo_run_id)
        if undone is None:
            await _refuse_undo(conn, number, operation_id)
        return undone

    return await transact(pool, work, affected=lambda op: op.affected_count)


async def _refuse_undo(conn: Connection, number: int, operation_id: str) -> NoReturn:
    """Why the operation cannot be undone: it does not exist, was undone, or some of its examples were purged."""
    existing = await repo.get_operation(conn, number)
    if existing is None:
        raise NotFoundError(f"no tag operation with id {operation_id!r}")
    if existing.undone_at is not None:
        raise ConflictError(
            f"tag operation {operation_id} was already undone at {existing.undone_at:%Y-%m-%d %H:%M:%S}"
        )
    if existing.purged_count == 0:
        raise ConflictError(
            f"tag operation {operation_id}: another call started to undo it meanwhile; nothing was changed"
        )
    raise ConflictError(
        f"tag operation {operation_id} cannot be undone: {existing.purged_count} of its {existing.affected_count} "
        "examples were purged, and an undo restores all of them or none; nothing was changed. To take its tags off "
        "the examples that remain, tag them with tagExamples"
    )


async def tag_operations(pool: Pool, first: int) -> list[TagOperation]:
    check_page_size(first)
    return await repo.list_operations(pool, first)


async def archive(pool: Pool, where: Filter) -> int:
    """Archive the examples matching `where`, inline whatever their number; how many it archived."""
    return (await set_archived(pool, where, True)).affected_count


async def restore(pool: Pool, where: Filter) -> int:
    """Un-archive the archived examples matching `where` (its `archived` defaults to true here)."""
    return (await set_archived(pool, where, False)).affected_count


async def set_archived(
    pool: Pool, where: Filter, archived: bool, *, threshold: int | None = None, created_by: str | None = None
) -> Archived:
    """Archive (or restore) the examples matching `where` inline, or, when more than `threshold` of them would
    change, start the CURATION job that does it chunk by chunk (nothing changed yet)."""
    condition = compile_filter(where, archived_default=not archived)
    changed = await repo.set_archived(pool, condition, archived, threshold)
    if changed is not None:
        return Archived(changed)
    return Archived(0, await bulk.start_archiving(pool, where, archived, created_by))


async def purge(pool: Pool, where: Filter, confirm: str) -> PurgeCounts:
    """Delete the archived examples matching `where` that no dataset version holds; the number deleted (would delete,
    in a dry run) and the number kept because a version holds them.

    `confirm: ""` is a dry run: it counts, remembers the count for this filter, and deletes nothing. Otherwise
    `confirm` must be the number it deletes, as a decimal string. In one transaction: new dataset members are held
    back, the examples are counted, checked against `confirm`, locked, counted again and deleted; a count that
    differs from `confirm` at either point rolls everything back.
    """
    # `archived` defaults to true, and the repository adds "and archived" whatever the filter says.
    condition = compile_filter(where, archived_default=True)
    key = _filter_key(where)
    if confirm == "":

        async def dry_run(conn: Connection) -> PurgeCounts:
            counts = await purge_sql.count_purgeable(conn, condition)
            _check_purge_size(counts.deletable)
            await purge_sql.remember_dry_run(conn, key, counts.deletable)
            return counts

        return await transact(pool, dry_run, affected=lambda _: 0)
    confirmed = _parse_confirm(confirm)

    async def work(conn: Connection) -> PurgeCounts:
        await purge_sql.hold_dataset_members(conn)
        counts = await purge_sql.count_purgeable(conn, condition)
        _check_purge_size(counts.deletable)
        if counts.deletable != confirmed:
            await _refuse(conn, key, confirmed, counts)
        locked = await purge_sql.lock_purgeable(conn, condition)
        if len(locked) != confirmed:
            _changed_while_purging(confirmed, len(locked))
        deleted = await purge_sql.delete_examples(conn, condition, locked)
        if deleted != confirmed:
            _changed_while_purging(confirmed, deleted)
        await purge_sql.forget_dry_run(conn, key)
        return PurgeCounts(deleted, counts.kept_in_datasets)

    return await transact(pool, work, affected=lambda counts: counts.deletable)


def _filter_key(where: Filter) -> str:
    """The same key for the same filter document, whatever the order of its fields."""
    return hashlib.sha256(orjson.dumps(where, default=str, option=orjson.OPT_SORT_KEYS)).hexdigest()


def _parse_confirm(confirm: str) -> int:
    if not (confirm.isascii() and confirm.isdecimal()) or str(int(confirm)) != confirm:
        raise ValidationError(
            f'confirm: "" for a dry run, or the number of examples to delete as a decimal string (such as "42"), '
            f"got {confirm!r}; nothing was deleted"
        )
    return int(confirm)


def _check_purge_size(deletable: int) -> None:
    if deletable > MAX_PURGE:
        raise ValidationError(
            f"where: this purge would delete {deletable:,} examples, more than the {MAX_PURGE:,} one call may delete; "
            "nothing was deleted. Narrow the filter (by createdAt, for example) and purge in parts"
        )


async def _refuse(conn: Connection, key: str, confirmed: int, counts: PurgeCounts) -> NoReturn:
    """Why `confirmed` does not match: the examples changed since a dry run of this filter reported it (CONFLICT),
    or it is simply not the number (BAD_USER_INPUT)."""
    # No dry run reports more than MAX_PURGE (it refuses to), and the column holds 32-bit numbers only.
    dry_run = await purge_sql.dry_run_reporting(conn, key, confirmed) if confirmed <= MAX_PURGE else None
    if dry_run is not None:
        raise ConflictError(
            f"the examples to purge changed since the dry run at {dry_run.created_at:%Y-%m-%d %H:%M:%S}: it reported "
            f"{confirmed}, {counts.deletable} match now; nothing was deleted. Check the filter, then purge with "
            f'confirm: "{counts.deletable}"'
        )
    raise ValidationError(
        f"confirm: {confirmed} does not match the {counts.deletable} examples this purge would delete; nothing was "
        'deleted. Run it with confirm: "" to see the numbers'
    )


def _changed_while_purging(confirmed: int, found: int) -> NoReturn:
    raise ConflictError(
        f"the examples to purge changed while purging: {confirmed} confirmed, {found} match now; nothing was deleted. "
        f'Check the filter, then purge with confirm: "{found}"'
    )
