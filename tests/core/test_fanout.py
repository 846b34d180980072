"""Shared renderings: one rendering of a change per query, sent under each operation's id."""

from __future__ import annotations

import orjson

from tuneyard.core.graphql.fanout import Route, Shared


async def test_a_change_is_rendered_once_per_query_and_sent_under_each_operation_id() -> None:
    sent: list[bytes] = []

    async def send(frame: bytes) -> None:
        sent.append(frame)

    first, second = Route(send, "1", "next", "query"), Route(send, "x", "data", "query")
    other = Route(send, "2", "next", "another query")
    change = Shared()
    assert not await first.send_rendered(change), "nobody rendered it yet: execute it"
    payload = {"data": {"jobProgress": {"progress": 0.5}}}
    assert orjson.loads(first.frame(payload)) == {"id": "1", "type": "next", "payload": payload}
    assert await second.send_rendered(change), "the same query: send what the first one rendered"
    assert orjson.loads(sent[-1]) == {"id": "x", "type": "data", "payload": payload}
    assert not await other.send_rendered(change), "another query is rendered on its own"
    other.frame({"data": None, "errors": [{"message": "boom"}]})
    assert not await Route(send, "3", "next", "another query").send_rendered(change), "errors are never shared"
