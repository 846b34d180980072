"""Every module of tuneyard imports alone in a fresh interpreter: no import cycle hides behind a lucky import order."""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "tuneyard"


def module_names() -> list[str]:
    """Every module and package of tuneyard, found on disk (walking packages would import them here)."""
    names = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


MODULES = module_names()


def import_alone(name: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", f"import {name}"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )


@pytest.fixture(scope="module")
def imports() -> dict[str, subprocess.CompletedProcess[str]]:
    """Each module imported in its own interpreter, as many at once as there are cores."""
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        return dict(zip(MODULES, pool.map(import_alone, MODULES), strict=True))


def test_finds_the_package() -> None:
    assert "tuneyard.schema" in MODULES and "tuneyard.core" in MODULES and len(MODULES) > 50


@pytest.mark.parametrize("name", MODULES)
def test_imports_alone(name: str, imports: dict[str, subprocess.CompletedProcess[str]]) -> None:
    result = imports[name]
    assert result.returncode == 0, f"python -c 'import {name}' failed:\n{result.stderr[-3000:]}"
