"""Resolvers for datasets: create, list, diff, make current, delete, export."""

from __future__ import annotations

import strawberry

from tuneyard.domain.auth import Role
from tuneyard.domain.datasets import ExportFormat, NewDataset
from tuneyard.resolvers.context import Info
from tuneyard.resolvers.curation import as_filter
from tuneyard.resolvers.jobs import to_schema as job_to_schema
from tuneyard.schema.datasets import CreateDatasetInput, Dataset, DatasetDiff, dataset_to_schema
from tuneyard.schema.jobs import Job
from tuneyard.services import datasets as service
from tuneyard.services import exports


async def datasets(info: Info, name: str | None = None, include_deleted: bool | None = False) -> list[Dataset]:
    info.context.require(Role.READER)
    found = await service.list_datasets(info.context.pool, name, bool(include_deleted))
    return [dataset_to_schema(d) for d in found]


async def dataset(info: Info, id: strawberry.ID) -> Dataset | None:
    info.context.require(Role.READER)
    found = await service.get(info.context.pool, id)
    return None if found is None else dataset_to_schema(found)


async def dataset_diff(info: Info, base: strawberry.ID, head: strawberry.ID) -> DatasetDiff:
    info.context.require(Role.READER)
    base_version, head_version, counts = await service.diff(info.context.pool, base, head)
    return DatasetDiff(base=dataset_to_schema(base_version), head=dataset_to_schema(head_version), counts=counts)


async def create_dataset(info: Info, input: CreateDatasetInput) -> Dataset:
    info.context.require(Role.CURATOR)
    new = NewDataset(
        name=input.name,
        description=input.description,
        filter=dict(as_filter(input.where) or {}),
        validation_fraction=0.0 if input.validation_fraction is None else input.validation_fraction,
        seed=0 if input.seed is None else input.seed,
    )
    return dataset_to_schema(await service.create(info.context.pool, new))


async def set_current_dataset(info: Info, id: strawberry.ID) -> Dataset:
    info.context.require(Role.CURATOR)
    return dataset_to_schema(await service.set_current(info.context.pool, id))


async def delete_dataset(info: Info, id: strawberry.ID) -> Dataset:
    info.context.require(Role.CURATOR)
    return dataset_to_schema(await service.delete(info.context.pool, id))


async def export_dataset(info: Info, id: strawberry.ID, format: ExportFormat) -> Job:
    principal = info.context.require(Role.CURATOR)
    return job_to_schema(await exports.start_export(info.context.pool, id, format, principal.name))
