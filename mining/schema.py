"""GitHub's published GraphQL schema, loaded for offline query validation (tests, fake server).

GitHub's SDL breaks two rules of the GraphQL spec (a few fields are declared twice, and some
implementations deprecate a field their interface does not). graphql-core refuses such a schema
by default, so it is built with SDL validation off and marked as checked; query documents are
still validated in full against it.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from graphql import GraphQLError, GraphQLSchema, build_schema, parse, validate

from convfail.errors import ConvfailError
from convfail.paths import shared_reference_dir


def schema_path() -> Path:
    return shared_reference_dir() / "github-graphql" / "schema.graphql"


@lru_cache(maxsize=2)
def load_schema(path: Path | None = None) -> GraphQLSchema:
    file = path or schema_path()
    if not file.is_file():
        raise ConvfailError(
            f"GitHub GraphQL schema not found: {file}",
            "check out ../shared/reference beside the project or set CONVFAIL_REFERENCE",
        )
    schema = build_schema(file.read_text(encoding="utf-8"), assume_valid_sdl=True)
    schema._validation_errors = []  # GitHub's SDL quirks, see the module docstring
    return schema


def query_errors(query: str, schema: GraphQLSchema | None = None) -> list[GraphQLError]:
    """Validation errors of a query document against GitHub's schema (empty when valid)."""
    return list(validate(schema or load_schema(), parse(query)))
