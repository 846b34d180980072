"""What bench.mutate mutates and with which tests: the areas of core logic, and the mutants known to be equivalent.

An area is a few modules (or only some functions of them) and the tests that must catch a bug in them, fastest
first: a run stops at the first failing test, so slow ones (a server process) cost only when faster ones miss.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Target:
    """A module and, when only part of it is core logic, the functions or classes to mutate."""

    path: str
    only: frozenset[str] | None = None


@dataclass(frozen=True)
class Area:
    """Modules to mutate and the tests (fastest first) that should catch each mutant."""

    targets: tuple[Target, ...]
    tests: tuple[str, ...]


def _only(*names: str) -> frozenset[str]:
    """The functions or classes of a module that are in scope."""
    return frozenset(names)


AREAS = {
    "filters": Area(
        (Target("tuneyard/examples/filter_sql.py"),),
        ("tests/examples/test_filter_operators.py", "tests/examples/test_filters.py"),
    ),
    "pagination": Area(
        (
            Target("tuneyard/examples/ordering.py"),
            Target("tuneyard/core/page.py"),
            Target("tuneyard/core/graphql/connection.py"),
        ),
        (
            "tests/examples/test_cursors.py",
            "tests/core/test_page.py",
            "tests/examples/test_page_boundaries.py",
            "tests/examples/test_pagination_api.py",
        ),
    ),
    "validation": Area(
        (
            Target(
                "tuneyard/examples/models.py",
                _only("normalize_tags", "check_no_nul", "example_row", "example_problems", "batch_columns"),
            ),
            Target("tuneyard/examples/checks.py"),
            Target(
                "tuneyard/examples/json_values.py",
                _only(
                    "deeper_than", "unsafe_integer", "shape_problem", "_kind", "encoded_problem", "_unsafe", "json_text"
                ),
            ),
        ),
        (
            "tests/examples/test_record_limits.py",
            "tests/examples/test_batch_validation.py",
            "tests/examples/test_fields.py",
            "tests/examples/test_input_bounds.py",
        ),
    ),
    "datasets": Area(
        (
            Target("tuneyard/datasets/models.py", _only("NewDataset")),
            Target("tuneyard/datasets/repository.py"),
            Target("tuneyard/datasets/service.py"),
        ),
        ("tests/datasets/test_hashes.py", "tests/datasets/test_service.py"),
    ),
    "exports": Area(
        tuple(
            Target(f"tuneyard/datasets/exports/formats/{name}.py")
            for name in ("base", "openai_chat", "anthropic_bedrock", "gemini_vertex", "sharegpt", "alpaca", "raw")
        ),
        ("tests/datasets/exports/test_exact_text.py", "tests/datasets/exports/test_formats.py"),
    ),
    "curation": Area(
        (
            Target(
                "tuneyard/curation/service.py",
                _only("tag_examples", "undo_tag_operation", "_refuse_undo", "tag_operations", "archive", "restore"),
            ),
            Target(
                "tuneyard/curation/repository.py",
                _only(
                    "_operation",
                    "_set_expression",
                    "tag",
                    "undo",
                    "get_operation",
                    "list_operations",
                    "set_archived",
                ),
            ),
        ),
        ("tests/curation/test_tagging.py", "tests/curation/test_api.py"),
    ),
    "finetunes": Area(
        (Target("tuneyard/finetunes/models.py", _only("estimate")),), ("tests/finetunes/test_estimate.py",)
    ),
    "registry": Area(
        (
            Target(
                "tuneyard/registry/service.py",
                _only("_unusable", "_require_usable", "active", "set_active", "rollback", "history", "changes_using"),
            ),
        ),
        ("tests/registry/test_history.py", "tests/registry/test_active_model.py"),
    ),
}

# Mutants that change nothing a user can observe, by key (bench/mutants.py: Mutant.key), with the reason.
_FAST_PATH = "a fast path: without it the general code below gives the same result"
_TEXT_ONLY = "text_only only picks the faster way to write a line (from its frame); both give the same bytes"
EQUIVALENT: dict[str, str] = {
    "tuneyard/datasets/exports/formats/base.py::check_keys::branch never taken: "
    "`if keys >= required and keys <= allowed`": _FAST_PATH,
    "tuneyard/examples/models.py::batch_columns::statement deleted: `problems.sort(key=lambda p: p.index)`": (
        "problems are appended in index order already (each example's after the one before): the sort keeps them"
    ),
    "tuneyard/examples/models.py::batch_columns::`True` -> `False`": (
        "zip(strict=False) over rows that all have one value per recorded field: nothing to tell apart"
    ),
    "tuneyard/core/graphql/connection.py::Connection.edges::`True` -> `False`": (
        "zip(strict=False) over a page's cursors and nodes, made one for one by Page.of"
    ),
    "tuneyard/curation/repository.py::set_archived.write::`1` -> `2`": (
        'rsplit(" ", 2) of the status "UPDATE n" (one space) splits it as rsplit(" ", 1) does'
    ),
    "tuneyard/datasets/repository.py::list_datasets::SQL `1` -> `2` near `OR EXISTS (SELECT 1 FROM dataset_exampl`": (
        "EXISTS ignores what its subquery selects"
    ),
    **{
        f"tuneyard/datasets/service.py::{function}::`1` -> `2`": (
            "one more row fetched than needed: the page still shows `first` rows and hasNextPage still asks whether "
            "more than `first` came"
        )
        for function in ("members", "diff_page")
    },
    **{
        f"tuneyard/datasets/exports/formats/{module}.py::{cls}::`True` -> `False`": _TEXT_ONLY
        for module, cls in (
            ("openai_chat", "OpenAIChat"),
            ("anthropic_bedrock", "AnthropicBedrock"),
            ("gemini_vertex", "GeminiVertex"),
            ("alpaca", "Alpaca"),
        )
    },
}
