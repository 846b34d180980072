"""Resolvers for datasets: create, list, diff, make current, delete, export."""

from __future__ import annotations

from typing import Annotated

import strawberry

from tuneyard.core.audit import audited
from tuneyard.core.graphql.context import Info
from tuneyard.core.principal import Role
from tuneyard.datasets import service as service
from tuneyard.datasets.exports import service as exports
from tuneyard.datasets.models import ExportFormat, NewDataset
from tuneyard.datasets.types import CreateDatasetInput, Dataset, DatasetDiff, dataset_to_schema
from tuneyard.examples.types import as_filter
from tuneyard.jobs.types import Job
from tuneyard.jobs.types import to_schema as job_to_schema


async def datasets(
    info: Info,
    name: str | None = None,
    include_deleted: bool | None = False,
    containing: Annotated[
        strawberry.ID | None,
        strawberry.argument(description="An example id: only the versions that froze it (its lineage)."),
    ] = None,
) -> list[Dataset]:
    info.context.require(Role.READER)
    found = await service.list_datasets(info.context.pool, name, bool(include_deleted), containing)
    return [dataset_to_schema(d) for d in found]


async def dataset(info: Info, id: strawberry.ID) -> Dataset | None:
    info.context.require(Role.READER)
    found = await service.get(info.context.pool, id)
    return None if found is None else dataset_to_schema(found)


async def dataset_diff(info: Info, base: strawberry.ID, head: strawberry.ID) -> DatasetDiff:
    info.context.require(Role.READER)
    base_version, head_version, counts = await service.diff(info.context.pool, base, head)
    return DatasetDiff(base=dataset_to_schema(base_version), head=dataset_to_schema(head_version), counts=counts)


@audited
async def create_dataset(info: Info, input: CreateDatasetInput) -> Dataset:
    info.context.require(Role.CURATOR)
    new = NewDataset(
        name=input.name,
        description=input.description,
        filter=dict(as_filter(input.where)),
        validation_fraction=0.0 if input.validation_fraction is None else input.validation_fraction,
        seed=0 if input.seed is None else input.seed,
    )
    return dataset_to_schema(await service.create(info.context.pool, new))


@audited
async def set_current_dataset(info: Info, id: strawberry.ID) -> Dataset:
    info.context.require(Role.CURATOR)
    return dataset_to_schema(await service.set_current(info.context.pool, id))


@audited
async def delete_dataset(info: Info, id: strawberry.ID) -> Dataset:
    info.context.require(Role.CURATOR)
    return dataset_to_schema(await service.delete(info.context.pool, id))


@audited
async def export_dataset(info: Info, id: strawberry.ID, format: ExportFormat) -> Job:
    principal = info.context.require(Role.CURATOR)
    return job_to_schema(await exports.start_export(info.context.pool, id, format, principal.name))


@strawberry.type
class Query:
    datasets: list[Dataset] = strawberry.field(
        resolver=datasets,
        description="Dataset versions by name, newest version first; `containing` lists an example's versions.",
    )
    dataset: Dataset | None = strawberry.field(resolver=dataset)
    dataset_diff: DatasetDiff = strawberry.field(
        resolver=dataset_diff, description="Row-level differences between any two versions."
    )


@strawberry.type
class Mutation:
    create_dataset: Dataset = strawberry.field(
        resolver=create_dataset,
        description="Freeze the non-archived examples matching `where` as the next version of `name`; it becomes "
        "the current one (CURATOR).",
    )
    set_current_dataset: Dataset = strawberry.field(
        resolver=set_current_dataset,
        description="Make a version the current one of its name, e.g. to roll back (CURATOR).",
    )
    delete_dataset: Dataset = strawberry.field(
        resolver=delete_dataset,
        description="Soft delete: history, files and diffs stay; it can no longer be exported (CURATOR).",
    )
    export_dataset: Job = strawberry.field(
        resolver=export_dataset,
        description="Start an EXPORT job writing the version's JSONL file(s) in `format` (CURATOR).",
    )
