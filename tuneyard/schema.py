"""The Schema: Query, Mutation and Subscription merged from every domain's resolvers, with its extensions."""

from __future__ import annotations

from datetime import date, datetime

from graphql import GraphQLError
from strawberry import Schema as StrawberrySchema
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types
from strawberry.types import ExecutionContext

from tuneyard.auth import resolvers as auth
from tuneyard.core.graphql.execution import FastListExecutor
from tuneyard.core.graphql.limits import QueryLimits
from tuneyard.core.graphql.masking import ErrorCodes
from tuneyard.core.graphql.scalars import Date, DateTime
from tuneyard.curation import resolvers as curation
from tuneyard.datasets import resolvers as datasets
from tuneyard.examples import resolvers as examples
from tuneyard.finetunes import resolvers as finetunes
from tuneyard.jobs import resolvers as jobs
from tuneyard.maintenance import resolvers as maintenance
from tuneyard.providers import resolvers as providers
from tuneyard.registry import resolvers as registry

# A new domain adds its resolvers module here; field order in the SDL follows this order.
Query = merge_types(
    "Query",
    (
        examples.Query,
        curation.Query,
        datasets.Query,
        jobs.Query,
        providers.Query,
        finetunes.Query,
        registry.Query,
        auth.Query,
    ),
)
Mutation = merge_types(
    "Mutation",
    (
        examples.Mutation,
        curation.Mutation,
        datasets.Mutation,
        jobs.Mutation,
        finetunes.Mutation,
        registry.Mutation,
        auth.Mutation,
        maintenance.Mutation,
    ),
)
Subscription = merge_types("Subscription", (jobs.Subscription,))


class Schema(StrawberrySchema):
    """Errors are logged once, by ErrorCodes, and only when unexpected."""

    def process_errors(self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None) -> None:
        return None


schema = Schema(
    query=Query,
    mutation=Mutation,
    subscription=Subscription,
    config=StrawberryConfig(scalar_map={datetime: DateTime, date: Date}),
    execution_context_class=FastListExecutor,
    # Factories: the caches live at module level, shared by the fresh extension each request gets. QueryLimits
    # is the parser and validation caches with the limits; stats runs several aggregates over every example,
    # so it weighs as much as 1,000 rows.
    extensions=[lambda: QueryLimits(weights=frozenset({("Query.stats", 1_000)})), ErrorCodes],
)
