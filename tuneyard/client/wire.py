"""The client's two GraphQL calls over HTTP, and what each kind of answer means: data, retry later, or refused."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx

from tuneyard.client.errors import TuneyardError

MAX_BATCH = 1000  # the most examples the server takes in one recordExamples call

RECORD = """mutation Record($examples: [ExampleInput!]!) {
  recordExamples(examples: $examples) { inserted updated unchanged }
}"""

ACTIVE_MODEL = """query ActiveModel($purpose: String!) {
  activeModel(purpose: $purpose) { purpose since model { ...Ref } fallbacks { ...Ref } }
}
fragment Ref on Model { id name provider providerModelId baseModel }"""

# Codes that say the server cannot answer now, and codes that say the request itself is wrong (so sending it again as
# it is cannot succeed). Any other refusal (UNAUTHENTICATED, FORBIDDEN...) is about the caller, not the request.
_RETRY_CODES = {"UNAVAILABLE", "INTERNAL_SERVER_ERROR"}
_REFUSAL_CODES = {"BAD_USER_INPUT", "GRAPHQL_VALIDATION_FAILED", "BAD_REQUEST", "BODY_TOO_LARGE"}
# The server's rules say "examples[3].qualityScore: ..."; GraphQL's own type checks "... has invalid value at [3].success".
_INDEX = re.compile(r"(?:\bexamples|invalid value at )\[(\d+)\]")


class RetryLater(Exception):
    """The server did not answer, or cannot now: the same request may succeed later, and is safe to send again."""


class Refused(TuneyardError):
    """The request as sent is bad input. `named`: the error of each example that an error names by its index."""

    def __init__(self, message: str, code: str | None, named: dict[int, str]) -> None:
        super().__init__(message, code)
        self.named = named


class GraphQL:
    """POSTs operations to a Tuneyard server's /graphql with a token."""

    def __init__(self, url: str, token: str, timeout: float) -> None:
        url = url.rstrip("/")
        self.url = url if url.endswith("/graphql") else f"{url}/graphql"
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        self._http = httpx.AsyncClient(headers=headers, timeout=timeout)

    async def record(self, examples: list[str]) -> tuple[int, int, int]:
        """(inserted, updated, unchanged) for a batch of ExampleInputs given as JSON texts."""
        data = await self._call(RECORD, '{"examples":[' + ",".join(examples) + "]}")
        counts = data["recordExamples"]
        return counts["inserted"], counts["updated"], counts["unchanged"]

    async def active_model(self, purpose: str) -> dict[str, Any] | None:
        """The activeModel object as the server answers it (None: the purpose has none)."""
        data = await self._call(ACTIVE_MODEL, json.dumps({"purpose": purpose}))
        found: dict[str, Any] | None = data["activeModel"]
        return found

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _call(self, query: str, variables: str) -> dict[str, Any]:
        content = '{"query":' + json.dumps(query) + ',"variables":' + variables + "}"
        try:
            response = await self._http.post(self.url, content=content.encode())
        except httpx.TransportError as error:
            raise RetryLater(f"{type(error).__name__}: {error}") from error
        return data_of(response)


def data_of(response: httpx.Response) -> dict[str, Any]:
    """The data of an answer. RetryLater when the server cannot answer now (network, 5xx, 429, an error marked
    retryable or UNAVAILABLE), Refused for bad input, TuneyardError for any other refusal."""
    status = response.status_code
    if status >= 500 or status == 429:
        raise RetryLater(f"HTTP {status}")
    try:
        body = response.json()
    except ValueError:
        raise RetryLater(f"HTTP {status} without a GraphQL answer") from None
    if not isinstance(body, dict):
        raise RetryLater(f"HTTP {status} without a GraphQL answer")
    if body.get("errors"):
        raise _error(body["errors"])
    if status != 200 or not isinstance(body.get("data"), dict):
        raise RetryLater(f"HTTP {status} without data")
    data: dict[str, Any] = body["data"]
    return data


def _error(errors: list[dict[str, Any]]) -> Exception:
    extensions = errors[0].get("extensions") or {}
    code, message = extensions.get("code"), str(errors[0].get("message", ""))
    if extensions.get("retryable") or code in _RETRY_CODES:
        return RetryLater(f"{code}: {message}")
    if code in _REFUSAL_CODES:
        named: dict[int, str] = {}
        for error in errors:
            text = str(error.get("message", ""))
            if (found := _INDEX.search(text)) is not None:
                named.setdefault(int(found[1]), text)
        return Refused(message, code, named)
    return TuneyardError(message, code)
