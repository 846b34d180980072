"""JSONL import: `tuneyard import FILE` and `POST /import` start an IMPORT job that records the file all or nothing,
with recordExamples' rules, problems by line number, idempotent by executionId, progress and cancel."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson
import pytest

from tests.support import GraphQLClient, GraphQLWebSocket, Server, tuneyard

JOB = "query($id: ID!) { job(id: $id) { kind status progress message error result events(last: 1000) { status progress message } } }"
PROGRESS = "subscription($id: ID!) { jobProgress(id: $id) { status progress message } }"
CANCEL = "mutation($id: ID!) { cancelJob(id: $id) { status } }"


def line(execution_id: str, **more: Any) -> dict[str, Any]:
    return {"executionId": execution_id, "userRequest": f"plan a post ({execution_id})", **more}


def jsonl(*documents: Any) -> bytes:
    return b"".join(orjson.dumps(d) + b"\n" for d in documents)


def upload(server: Server, token: str, body: bytes, name: str = "examples.jsonl") -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/x-ndjson"}
    return httpx.post(f"{server.url}/import", params={"name": name}, content=body, headers=headers, timeout=120)


def finished(client: GraphQLClient, job_id: str, wait: float = 120) -> dict[str, Any]:
    return client.finished_job(JOB, job_id, wait)


def pending_files(env: dict[str, str]) -> list[Path]:
    folder = Path(env["TUNEYARD_HOME"]) / "imports"
    return sorted(folder.iterdir()) if folder.exists() else []


async def test_cli_imports_a_file_and_a_second_import_skips_every_line(
    server: Server, env: dict[str, str], curator: GraphQLClient, db: asyncpg.Connection, tmp_path: Path
) -> None:
    file = tmp_path / "runs.jsonl"
    file.write_bytes(
        jsonl(
            line("cli-1", tags=["prod", "a", "prod"], createdAt="2025-12-01T09:30:00Z", qualityScore=1),
            line("cli-2", businessState={"followers": 1200}, executionPlan=["draft", "publish"]),
        )
        + b"\n   \n"  # blank lines are skipped
        + jsonl(line("cli-3", patternsDiscovered=["short"], modelId="m-1", success=False))
    )
    out = tuneyard("import", str(file), env=env, timeout=120)
    assert "imported 3 examples from 5 lines; 0 skipped" in out
    rows = await db.fetch(
        "SELECT execution_id, tags, business_state::text, quality_score, created_at::text FROM example_rows "
        "ORDER BY execution_id"
    )
    assert [(r[0], r[1], r[2], r[3]) for r in rows] == [
        ("cli-1", ["a", "prod"], None, 1.0), ("cli-2", [], '{"followers": 1200}', None), ("cli-3", [], None, None),
    ]  # fmt: skip
    assert rows[0][4] == "2025-12-01 09:30:00+00"
    again = tuneyard("import", str(file), env=env, timeout=120)
    assert "imported 0 examples from 5 lines; 3 skipped (their executionId existed)" in again
    assert await db.fetchval("SELECT count(*) FROM examples") == 3
    kinds = await db.fetch(
        "SELECT kind, status, result FROM jobs WHERE actor = 'examples.import' ORDER BY id DESC LIMIT 2"
    )
    assert [(k["kind"], k["status"]) for k in kinds] == [("IMPORT", "SUCCEEDED")] * 2
    assert pending_files(env) == [], "a finished import leaves no file behind"


def test_cli_reports_every_bad_line_and_exits_1(env: dict[str, str], server: Server, tmp_path: Path) -> None:
    file = tmp_path / "bad.jsonl"
    file.write_bytes(jsonl(line("bad-1"), line("bad-2", userRequest=" ")) + b"{not json\n")
    done = subprocess.run(
        [sys.executable, "-m", "tuneyard.cli", "import", str(file)], env=env, capture_output=True, text=True,
        timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert "line 2: userRequest: must not be empty" in done.stderr
    assert "line 3: line: not valid JSON" in done.stderr


async def test_http_upload_starts_an_import_job(
    server: Server, tokens: dict[str, str], curator: GraphQLClient, db: asyncpg.Connection
) -> None:
    response = upload(server, tokens["CURATOR"], jsonl(*(line(f"up-{i}", tags=["upload"]) for i in range(50))))
    assert response.status_code == 202, response.text
    job = response.json()["job"]
    assert (job["kind"], job["status"]) == ("IMPORT", "QUEUED")
    done = finished(curator, job["id"])
    assert done["status"] == "SUCCEEDED", done
    assert {k: done["result"][k] for k in ("lines", "inserted", "skipped", "complete")} == {
        "lines": 50, "inserted": 50, "skipped": 0, "complete": True,
    }  # fmt: skip
    assert await db.fetchval("SELECT count(*) FROM example_tags WHERE tags = '{upload}'") == 50


async def test_a_bad_line_aborts_the_whole_file_with_line_numbers(
    server: Server, tokens: dict[str, str], curator: GraphQLClient, db: asyncpg.Connection, env: dict[str, str]
) -> None:
    body = jsonl(
        line("ok-1"),
        line("ok-2", qualityScore=1.5),  # line 2
        line("ok-3", businessState=5, unknown=1),  # line 3: two problems
        line("ok-4", executionResult={"views": 2**53 + 1}),  # line 4
        line("ok-1"),  # line 5: executionId of line 1 again
        [1, 2],  # line 6
        {"userRequest": "no id"},  # line 7
        line("ok-8", createdAt="0001-01-01T00:00:00"),  # line 8
    )
    job = upload(server, tokens["CURATOR"], body).json()["job"]
    done = finished(curator, job["id"])
    assert done["status"] == "FAILED", done
    assert done["error"].startswith("nothing imported: line 2: qualityScore: must be between 0 and 1")
    problems = [(p["line"], p["field"]) for p in done["result"]["problems"]]
    assert problems == [
        (2, "qualityScore"), (3, "unknown"), (3, "businessState"), (4, "executionResult"), (6, "line"),
        (7, "executionId"), (8, "createdAt"),
    ], done["result"]  # fmt: skip
    assert done["result"]["problemCount"] == 7
    assert "outside +-2^53" in done["result"]["problems"][3]["message"]
    assert await db.fetchval("SELECT count(*) FROM examples") == 0, "nothing of a refused file is written"
    # Only duplicates: found once every line is staged, with both line numbers.
    job = upload(server, tokens["CURATOR"], jsonl(line("d-1"), line("d-2"), line("d-1"), line("d-1"))).json()["job"]
    done = finished(curator, job["id"])
    assert done["result"]["problems"] == [
        {"line": 1, "field": "executionId", "message": "'d-1' appears again at line(s) 3, 4"}
    ]
    assert await db.fetchval("SELECT count(*) FROM examples") == 0
    assert pending_files(env) == []


async def test_progress_is_reported_and_streamed(
    server: Server, tokens: dict[str, str], curator: GraphQLClient, db: asyncpg.Connection
) -> None:
    body = jsonl(*(line(f"p-{i}", businessState={"i": i}) for i in range(20_000)))
    job_id = upload(server, tokens["CURATOR"], body).json()["job"]["id"]
    async with GraphQLWebSocket(server.url, tokens["READER"]) as ws:
        await ws.subscribe(PROGRESS, {"id": job_id})
        streamed = [e["jobProgress"] for e in await ws.results(wait=120)]
    assert streamed[-1]["status"] == "SUCCEEDED" and streamed[-1]["progress"] == 1.0
    assert [s["progress"] for s in streamed] == sorted(s["progress"] for s in streamed)
    events = finished(curator, job_id)["events"]
    checked = [e for e in events if e["status"] == "RUNNING" and (e["message"] or "").startswith("checked")]
    assert len(checked) >= 2, events  # 4 chunks of 5,000 lines
    assert [e["progress"] for e in events] == sorted(e["progress"] for e in events)
    assert await db.fetchval("SELECT count(*) FROM examples") == 20_000


async def test_a_cancelled_import_writes_nothing(
    server: Server, tokens: dict[str, str], curator: GraphQLClient, db: asyncpg.Connection, env: dict[str, str]
) -> None:
    body = jsonl(*(line(f"c-{i}", executionPlan={"steps": [i]}) for i in range(150_000)))
    job_id = upload(server, tokens["CURATOR"], body).json()["job"]["id"]
    deadline = time.monotonic() + 60
    while curator.data(JOB, {"id": job_id})["job"]["progress"] == 0 and time.monotonic() < deadline:
        time.sleep(0.05)  # noqa: ASYNC251 - the server runs in another process
    assert curator.data(CANCEL, {"id": job_id})["cancelJob"]["status"] in ("CANCELLING", "CANCELLED")
    done = finished(curator, job_id)
    assert done["status"] == "CANCELLED", done
    assert await db.fetchval("SELECT count(*) FROM examples") == 0
    assert pending_files(env) == []


@pytest.mark.parametrize(("role", "status", "code"), [("READER", 403, "FORBIDDEN"), (None, 401, "UNAUTHENTICATED")])
def test_only_a_curator_may_upload(
    server: Server, tokens: dict[str, str], role: str | None, status: int, code: str
) -> None:
    response = upload(server, tokens[role] if role else "nope", jsonl(line("r-1")))
    assert response.status_code == status, response.text
    assert response.json()["errors"][0]["extensions"]["code"] == code


def test_an_empty_upload_is_refused(server: Server, tokens: dict[str, str]) -> None:
    response = upload(server, tokens["CURATOR"], b"")
    assert response.status_code == 400
    assert "the body is empty" in response.json()["errors"][0]["message"]


def test_a_body_declared_over_the_limit_is_refused_before_it_is_read(server: Server, tokens: dict[str, str]) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as conn:
        conn.sendall(
            f"POST /import HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {tokens['CURATOR']}\r\n"
            f"Content-Length: {16 * 1024**3 + 1}\r\n\r\n".encode()
        )
        answer = b""
        while b"}]}" not in answer:  # the end of the JSON error body
            received = conn.recv(65536)
            assert received, answer
            answer += received
    text = answer.decode()
    assert text.startswith("HTTP/1.1 413"), text
    assert "BODY_TOO_LARGE" in text and "over the limit of 17,179,869,184 bytes" in text


def test_a_bad_name_is_refused_and_leaves_no_file(server: Server, tokens: dict[str, str], env: dict[str, str]) -> None:
    for name in ("\x00.jsonl", "n" * 256):
        response = upload(server, tokens["CURATOR"], jsonl(line("n-1")), name=name)
        assert response.status_code == 400, response.text
        assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert pending_files(env) == []
