"""Anthropic's Messages API (`POST /v1/messages`) for the call tuneyard.providers.anthropic makes. Shapes follow
Anthropic's API reference: the key in `x-api-key` or, as SDK 2.x sends it, `Authorization: Bearer` (x-api-key wins
when both come); an `anthropic-version` header it knows; under version 2026-10-21, no temperature, top_p or top_k
(refused on every model); errors as `{"type": "error", "error": {"type", "message"}}`.

A message answers `answers[user text]` (else `default_answer`), cut to its max_tokens, a token being a word here, as
its usage counts them. Tests steer it with `fail_next` (529 overloaded) and `answers`, and read what it received in
`messages` (request bodies) and `requests` ((method, path)). State is changed only on the server's thread; tests read
it between their own awaited calls.
"""

from __future__ import annotations

import uuid
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.support.standins import StandIn

VERSIONS = frozenset(("2023-06-01", "2026-10-21"))
SAMPLING = ("temperature", "top_p", "top_k")  # refused from 2026-10-21 on


def error(status: int, kind: str, message: str, **headers: str) -> JSONResponse:
    """Anthropic's error shape."""
    body = {"type": "error", "error": {"type": kind, "message": message}, "request_id": f"req_{uuid.uuid4().hex}"}
    return JSONResponse(body, status, headers=headers)


def text(content: Any) -> str | None:
    """The text of a message's content (a string, or a list of text blocks); None when it is neither."""
    if isinstance(content, str):
        return content
    if isinstance(content, list) and content and all(isinstance(b, dict) and b.get("type") == "text" for b in content):
        return "".join(str(b.get("text")) for b in content)
    return None


class AnthropicStandIn(StandIn):
    def __init__(self, api_key: str = "sk-ant-standin-0123456789") -> None:
        self.api_key = api_key
        # Scenario
        self.fail_next = 0  # answer this many next requests with 529 (overloaded)
        self.answers: dict[str, str] = {}  # a message's answer, by its user text
        self.default_answer = "I cannot say."
        # Records
        self.messages: list[dict[str, Any]] = []
        self.requests: list[tuple[str, str]] = []
        super().__init__(Starlette(routes=[Route("/v1/messages", self.create_message, methods=["POST"])]))

    async def create_message(self, request: Request) -> Response:
        self.requests.append((request.method, request.url.path))
        if self.fail_next > 0:
            self.fail_next -= 1
            return error(529, "overloaded_error", "Overloaded", **{"retry-after-ms": "10"})
        given = request.headers.get("x-api-key") or request.headers.get("authorization", "").removeprefix("Bearer ")
        if given != self.api_key:
            # Anthropic does not echo the key; quoting it checks that the provider redacts it.
            return error(401, "authentication_error", f"invalid x-api-key: {given}")
        version = request.headers.get("anthropic-version")
        if version not in VERSIONS:
            return error(400, "invalid_request_error", f"anthropic-version: {version!r} is not a known version")
        body = await request.json()
        self.messages.append(body)
        refused = _problem(body, version)
        if refused:
            return error(400, "invalid_request_error", refused)
        user = next((text(m["content"]) or "" for m in reversed(body["messages"]) if m["role"] == "user"), "")
        answer = self.answers.get(user, self.default_answer).split()
        said = answer[: body["max_tokens"]]
        prompt = [text(m["content"]) or "" for m in body["messages"]] + [text(body.get("system", "")) or ""]
        return JSONResponse({
            "id": f"msg_{uuid.uuid4().hex[:24]}", "type": "message", "role": "assistant", "model": body["model"],
            "content": [{"type": "text", "text": " ".join(said), "citations": None}],
            "stop_reason": "max_tokens" if len(said) < len(answer) else "end_turn", "stop_sequence": None,
            "usage": {"input_tokens": sum(len(t.split()) for t in prompt), "output_tokens": len(said),
                      "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0, "service_tier": "standard"},
        })  # fmt: skip


def _problem(body: dict[str, Any], version: str) -> str | None:
    """Why Anthropic would refuse this request (text messages only), if it would."""
    if version != "2023-06-01":
        for name in SAMPLING:
            if name in body:
                return f"{name}: Extra inputs are not permitted"
    if not isinstance(body.get("model"), str):
        return "model: Field required"
    limit = body.get("max_tokens")
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        return f"max_tokens: must be a positive integer, got {limit!r}"
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return "messages: at least one message is required"
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in ("user", "assistant"):
            return f"messages.{index}: must be a user or an assistant message"
        if text(message.get("content")) is None:
            return f"messages.{index}.content: must be a string or a list of text blocks"
    if "system" in body and text(body["system"]) is None:
        return "system: must be a string or a list of text blocks"
    return None
