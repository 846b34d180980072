"""`tuneyard token create | list | revoke`, and token commands that never start a new installation unless asked."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

from tests.auth.conftest import CACHE_SECONDS, Auth
from tests.support import tuneyard

HEADER = ["ID", "NAME", "ROLE", "CREATED (UTC)", "LAST USED (UTC)", "REVOKED (UTC)"]


def run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tuneyard.cli", *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def table(output: str) -> dict[str, list[str]]:
    """`token list`'s rows by id: its columns are split on runs of two or more spaces."""
    lines = output.rstrip("\n").split("\n")
    assert re.split(r"\s{2,}", lines[0]) == HEADER, lines[0]
    rows = [re.split(r"\s{2,}", line) for line in lines[1:]]
    return {row[0]: row for row in rows}


def test_list_and_revoke(auth: Auth) -> None:
    token = tuneyard("token", "create", "--role", "READER", "--name", "cli reader", env=auth.env).strip()
    assert token.startswith("ty_")
    listed = run("token", "list", env=auth.env)
    assert listed.returncode == 0, listed.stderr
    assert "using the database" in listed.stderr and "TUNEYARD_DATABASE_URL" in listed.stderr
    assert token not in listed.stdout and token[3:] not in listed.stdout
    rows = table(listed.stdout)
    token_id, row = next((i, r) for i, r in rows.items() if r[1] == "cli reader")
    assert row[2:3] == ["READER"] and row[4:] == ["-", "-"], row
    assert list(rows) == sorted(rows, key=int, reverse=True)  # newest first

    assert auth.client(token).post("{ __typename }").status_code == 200
    used = table(tuneyard("token", "list", env=auth.env))[token_id]
    assert used[4] != "-" and used[5] == "-", used

    revoked = run("token", "revoke", token_id, env=auth.env)
    assert revoked.returncode == 0, revoked.stderr
    assert f"token {token_id} (cli reader, READER) revoked at" in revoked.stdout
    assert table(tuneyard("token", "list", env=auth.env))[token_id][5] != "-"
    time.sleep(CACHE_SECONDS + 0.1)
    assert auth.client(token).post("{ __typename }").status_code == 401
    # Again: no error, the first time kept.
    assert run("token", "revoke", token_id, env=auth.env).stdout == revoked.stdout


def test_revoke_and_create_refusals(auth: Auth) -> None:
    missing = run("token", "revoke", "999999999", env=auth.env)
    assert missing.returncode == 1 and "no token has the id 999999999" in missing.stderr, missing.stderr
    malformed = run("token", "revoke", "abc", env=auth.env)
    assert malformed.returncode == 2 and "not a valid token id" in malformed.stderr, malformed.stderr
    long_name = run("token", "create", "--role", "READER", "--name", "x" * 101, env=auth.env)
    assert long_name.returncode == 2 and "1 to 100 characters" in long_name.stderr and not long_name.stdout
    assert "Traceback" not in missing.stderr + malformed.stderr + long_name.stderr


def test_token_commands_need_an_installation_or_init(env: dict[str, str], tmp_path: Path) -> None:
    home = tmp_path / "home"
    bundled = {k: v for k, v in env.items() if k != "TUNEYARD_DATABASE_URL"} | {"TUNEYARD_HOME": str(home)}
    for args in (["list"], ["revoke", "1"], ["create", "--role", "ADMIN", "--name", "me"]):
        refused = run("token", *args, env=bundled)
        assert refused.returncode == 1 and not refused.stdout, refused
        assert f"no Tuneyard installation in {home}" in refused.stderr and "--init" in refused.stderr
        assert not home.exists(), "nothing may be created without --init"

    created = run("token", "create", "--init", "--role", "ADMIN", "--name", "me", env=bundled)
    assert created.returncode == 0, created.stderr
    assert f"using the installation in {home}" in created.stderr
    assert created.stdout.startswith("ty_") and (home / "postgres" / "PG_VERSION").exists()

    listed = run("token", "list", env=bundled)  # the installation exists now: no --init needed
    assert listed.returncode == 0, listed.stderr
    assert f"using the installation in {home}" in listed.stderr
    assert [row[1:3] for row in table(listed.stdout).values()] == [["me", "ADMIN"]]
