"""The README's examples, run as a new user would: every GraphQL and shell block marked `<!-- runnable -->`, in the
order the README gives them, against a fresh server and database, each result checked against what the README says
it is (the `# {...}` comment lines after each operation or command). Only the host and the token are substituted.

Matching: an object matches when every key shown matches (keys not shown are not checked); a list matches item by
item; "..." matches anything and "abc..." any string that starts with "abc"; numbers within 1e-9.
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from graphql import OperationDefinitionNode, OperationType, parse

from tests.support import GraphQLClient, GraphQLWebSocket, Server, tuneyard
from tests.support.databases import create_database, drop_database

README = Path(__file__).resolve().parent.parent / "README.md"
MARK = "<!-- runnable -->"
README_HOST = "http://127.0.0.1:8000"
README_TOKEN = "ty_..."
DONE = "__readme_block_done__"
EXPECTED = re.compile(r"^\s*# ([{\[].*)$")


@dataclass(frozen=True)
class Block:
    line: int  # of the opening fence, 1-based
    language: str
    text: str


def runnable_blocks(markdown: str) -> list[Block]:
    """The fenced blocks right after a MARK line, in order."""
    lines = markdown.splitlines()
    found = []
    for i, line in enumerate(lines[:-1]):
        if line.strip() == MARK:
            fence = lines[i + 1].strip()
            assert fence.startswith("```"), f"README line {i + 1}: {MARK} must be right before a fenced block"
            end = next(j for j in range(i + 2, len(lines)) if lines[j].strip() == "```")
            found.append(Block(i + 2, fence[3:].strip(), "\n".join(lines[i + 2 : end])))
    return found


def expected_results(text: str) -> list[Any]:
    return [json.loads(match.group(1)) for line in text.splitlines() if (match := EXPECTED.match(line))]


def matches(expected: Any, actual: Any) -> bool:
    if expected == "...":
        return True
    if isinstance(expected, str) and expected.endswith("...") and isinstance(actual, str):
        return actual.startswith(expected[:-3])
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(k in actual and matches(v, actual[k]) for k, v in expected.items())
    if isinstance(expected, list):
        return isinstance(actual, list) and len(expected) == len(actual) and all(map(matches, expected, actual))
    if isinstance(expected, float | int) and not isinstance(expected, bool) and isinstance(actual, float | int):
        return abs(expected - actual) < 1e-9 and not isinstance(actual, bool)
    return bool(expected == actual)


def json_values(output: str) -> list[Any]:
    """Every JSON value in a shell's output, in order (curl prints them without newlines in between)."""
    decoder, values, position = json.JSONDecoder(), [], 0
    while True:
        while position < len(output) and output[position].isspace():
            position += 1
        if position == len(output):
            return values
        value, position = decoder.raw_decode(output, position)
        values.append(value)


class Shell:
    """One bash session for every shell block, as a reader's terminal: what a block defines, later ones use."""

    def __init__(self, env: dict[str, str], cwd: Path) -> None:
        self.process = subprocess.Popen(
            ["bash", "--norc", "--noprofile"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, env=env, cwd=cwd,
        )  # fmt: skip

    def run(self, script: str) -> str:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(f"{script}\necho; echo {DONE}\n")
        self.process.stdin.flush()
        output = []
        while (line := self.process.stdout.readline()) and line.rstrip("\n") != DONE:
            output.append(line)
        return "".join(output)

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        self.process.wait(10)


@dataclass
class Walkthrough:
    server: Server
    token: str
    shell: Shell

    def graphql(self, block: Block) -> None:
        document = parse(block.text)
        operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
        assert operations, f"README line {block.line}: no operation"
        for n, operation in enumerate(operations):
            assert operation.loc is not None
            start, end = operation.loc.start, operation.loc.end
            following = operations[n + 1].loc.start if n + 1 < len(operations) else len(block.text)  # type: ignore[union-attr]
            wanted = expected_results(block.text[end:following])
            assert len(wanted) == 1, f"README line {block.line}: give the result of each operation as a # {{...}} line"
            source = block.text[start:end]
            if operation.operation is OperationType.SUBSCRIPTION:
                body = {"data": asyncio.run(self._last_result(source))}
            else:
                body = GraphQLClient(self.server.url, self.token).execute(source)
            assert matches(wanted[0], body), f"README line {block.line}:\n{source}\nsaid {wanted[0]}\ngot   {body}"

    async def _last_result(self, query: str) -> Any:
        async with GraphQLWebSocket(self.server.url, self.token) as socket:
            await socket.subscribe(query)
            results = await socket.results(wait=60)
        assert results, query
        return results[-1]

    def shell_block(self, block: Block) -> None:
        script = block.text.replace(README_HOST, self.server.url).replace(f"={README_TOKEN}", f"={self.token}")
        output = self.shell.run(script)
        wanted = expected_results(block.text)
        try:
            got = json_values(output)
        except json.JSONDecodeError as error:
            raise AssertionError(f"README line {block.line}: output is not JSON ({error}):\n{output}") from error
        assert len(got) == len(wanted), f"README line {block.line}: {len(wanted)} results said, got:\n{output}"
        for said, value in zip(wanted, got, strict=True):
            assert matches(said, value), f"README line {block.line}:\nsaid {said}\ngot  {value}"


@pytest.fixture
def walkthrough(backing: tuple[str, str], env: dict[str, str], tmp_path: Path) -> Iterator[Walkthrough]:
    """A fresh install: its own database, home and queue namespace, a worker, and the admin token a first start
    prints ("first admin", token 1). TUNEYARD_TODAY pins the date provider shutdowns are compared with."""
    url = asyncio.run(create_database(backing[0]))
    own = {
        **env, "TUNEYARD_DATABASE_URL": url, "TUNEYARD_HOME": str(tmp_path / "home"), "TUNEYARD_TODAY": "2026-11-30",
        "TUNEYARD_SERVE_WORKERS": "1", "TUNEYARD_QUEUE_NAMESPACE": f"tuneyard-readme-{uuid.uuid4().hex[:12]}",
    }  # fmt: skip
    token = tuneyard("token", "create", "--role", "ADMIN", "--name", "first admin", env=own).strip()
    server = Server(own)
    server.start()
    work = tmp_path / "work"
    work.mkdir()
    shell = Shell({"PATH": env.get("PATH", "/usr/bin:/bin"), "TOKEN": token, "HOME": str(tmp_path)}, work)
    try:
        yield Walkthrough(server, token, shell)
    finally:
        shell.close()
        server.stop()
        asyncio.run(drop_database(backing[0], url))


def test_the_readme_examples_run_in_order_and_give_what_they_say(walkthrough: Walkthrough) -> None:
    blocks = runnable_blocks(README.read_text())
    assert len(blocks) >= 10, "the README lost its runnable examples"
    for block in blocks:
        if block.language == "graphql":
            walkthrough.graphql(block)
        else:
            assert block.language == "sh", f"README line {block.line}: a runnable block is graphql or sh"
            walkthrough.shell_block(block)


def test_matching_says_no_where_it_should() -> None:
    """The checks above cannot pass by accident: a wrong value, a missing key or a list of another length fails."""
    assert matches({"a": [1, {"b": "x..."}]}, {"a": [1, {"b": "xyz", "c": 2}], "d": 3})
    assert not matches({"a": 1}, {"a": 2}) and not matches({"a": 1}, {}) and not matches([1], [1, 2])
    assert not matches({"b": "x..."}, {"b": "yx"}) and not matches(0.5, 0.6) and not matches(1, True)
    assert json_values('{"a":1}{"b":[2]}\n') == [{"a": 1}, {"b": [2]}]
