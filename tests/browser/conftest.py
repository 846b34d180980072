"""The dashboard in a real headless Chromium (Debian's package, driven by Playwright) against a real server.

One server with its worker for the whole directory, its OpenAI provider at the stand-in, seeded with generated
examples whose tags are known here, so the tests can compute what the page must show without asking the API.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from bench.data import examples as generate
from tests.support import RECORD
from tests.support.standins.env import OPENAI_KEY
from tests.support.standins.openai_api import OpenAIStandIn
from tests.support.tuning import Tuning, start_server

CHROMIUM = Path("/usr/bin/chromium")  # Debian's chromium package; `./run test` installs it when missing
TOKEN_KEY = "tuneyard.token"  # where the dashboard keeps the token (sessionStorage)
WIDTHS = (1280, 800)
TAGS: tuple[list[str], ...] = ([], ["dev"], ["prod"], ["prod", "test"])  # example i gets TAGS[i % 4]


def seed_rows(count: int = 80) -> list[dict[str, Any]]:
    """Generated examples, with tags assigned here: the tests' independent record of what the server holds."""
    rows = list(generate(count, seed=5, prefix=f"dash-{uuid.uuid4().hex[:6]}"))
    for i, row in enumerate(rows):
        row["tags"] = list(TAGS[i % 4])
    return rows


@pytest.fixture(scope="package")
def rows() -> list[dict[str, Any]]:
    return seed_rows()


@pytest.fixture(scope="package")
def dash(
    backing: tuple[str, str], openai_api: OpenAIStandIn, rows: list[dict[str, Any]],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Tuning]:  # fmt: skip
    """A server and worker of their own (OpenAI at its stand-in), holding `rows`."""
    extra = {
        "TUNEYARD_OPENAI_API_KEY": OPENAI_KEY, "TUNEYARD_OPENAI_BASE_URL": openai_api.api_url,
        "TUNEYARD_FINE_TUNE_POLL_SECONDS": "0.2",
    }  # fmt: skip
    with contextlib.contextmanager(start_server)(backing, tmp_path_factory.mktemp("dash-home"), extra) as tuning:
        tuning.curator.data(RECORD, {"examples": rows})
        yield tuning


@pytest.fixture(scope="package")
def browser(dash: Tuning) -> Iterator[Browser]:
    """Chromium for this directory only: Playwright's sync API runs an event loop in this thread until it is closed,
    where no other fixture or test could run its own (asyncio.run, async tests). Started after the server for the same
    reason, closed before it."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: `./run test` installs Debian's chromium package")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where each section's screenshots go: <pytest basetemp>/dashboard-screenshots/."""
    folder = tmp_path_factory.getbasetemp() / "dashboard-screenshots"
    folder.mkdir(exist_ok=True)
    return folder


def open_context(browser: Browser, token: str | None) -> BrowserContext:
    """A fresh browser profile at 1280 pixels, signed in with `token` when one is given."""
    context = browser.new_context(viewport={"width": WIDTHS[0], "height": 900}, accept_downloads=True)
    context.set_default_timeout(15_000)
    if token:
        context.add_init_script(f"sessionStorage.setItem({TOKEN_KEY!r}, {token!r})")
    return context


@pytest.fixture
def page(browser: Browser, dash: Tuning) -> Iterator[Page]:
    """A page signed in as ADMIN at the dashboard; fails the test on any script error."""
    context = open_context(browser, admin_token(dash))
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    yield opened
    context.close()
    assert not errors, errors


def admin_token(dash: Tuning) -> str:
    """The ADMIN token of the dashboard's server (the client's bearer header)."""
    return str(dash.admin.http.headers["Authorization"]).removeprefix("Bearer ")


def shoot(page: Page, folder: Path, name: str) -> None:
    """Full-page screenshots of what is shown now, at each width."""
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        page.wait_for_timeout(150)  # let the layout settle at the new width
        page.screenshot(path=str(folder / f"{name}-{width}.png"), full_page=True)
    page.set_viewport_size({"width": WIDTHS[0], "height": 900})
