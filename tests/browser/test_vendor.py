"""The vendored browser libraries are exactly what refresh.sh recorded, and the page imports only what ships."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import tuneyard.server.dashboard

DASHBOARD = Path(tuneyard.server.dashboard.__file__).parent
VENDOR = DASHBOARD / "vendor"
OWN_FILES = {"package.json", "package-lock.json", "refresh.sh", "SHA256SUMS"}  # refresh.sh's inputs and output


def recorded() -> dict[str, str]:
    """SHA256SUMS as {path: sha256}."""
    sums = {}
    for line in (VENDOR / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split(maxsplit=1)
        sums[name] = digest
    return sums


def test_vendored_files_match_the_sums_recorded_when_vendoring() -> None:
    sums = recorded()
    present = {str(p.relative_to(VENDOR)) for p in VENDOR.rglob("*") if p.is_file() and p.name not in OWN_FILES}
    assert present == set(sums), "run tuneyard/server/dashboard/vendor/refresh.sh: files differ from SHA256SUMS"
    changed = [
        name for name, digest in sums.items() if hashlib.sha256((VENDOR / name).read_bytes()).hexdigest() != digest
    ]
    assert not changed, f"vendored files edited by hand (run refresh.sh to restore them): {changed}"


def test_the_lock_pins_what_package_json_asks_for() -> None:
    wanted = json.loads((VENDOR / "package.json").read_text())["dependencies"]
    locked = json.loads((VENDOR / "package-lock.json").read_text())["packages"]
    assert {name: locked[f"node_modules/{name}"]["version"] for name in wanted} == wanted


def test_the_page_imports_only_vendored_or_own_modules() -> None:
    page = (DASHBOARD / "static" / "index.html").read_text()
    import_map = json.loads(re.search(r'<script type="importmap">(.*?)</script>', page, re.S).group(1))  # type: ignore[union-attr]
    for url in import_map["imports"].values():
        assert url.startswith("/dashboard/vendor/") and url.removeprefix("/dashboard/vendor/") in recorded(), url
    bare = set(import_map["imports"])
    for module in (DASHBOARD / "static" / "js").rglob("*.js"):
        for name in re.findall(r'^import .* from "([^"]+)";$', module.read_text(), re.M):
            assert name.startswith("./") or name.startswith("../") or name in bare, (module.name, name)
