"""Dataset versions in a real browser: create two from the filter, diff them, export with a live progress bar,
download the files, make one current again, delete the other."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, expect

from tests.browser.conftest import shoot
from tests.support.tuning import Tuning


def test_create_diff_export_download_roll_back_and_delete(
    page: Page, dash: Tuning, rows: list[dict[str, Any]], screenshots: Path
) -> None:
    no_dev = [r for r in rows if "dev" not in r["tags"]]
    neither = [r for r in no_dev if "test" not in r["tags"]]
    page.goto(dash.server.url + "/?view=datasets&notags=dev")
    form = page.get_by_role("form", name="New version")
    form.get_by_label("Name").fill("dash-set")
    form.get_by_label("Description").fill("no development data")
    form.get_by_label("Validation fraction").fill("0.25")
    form.get_by_role("button", name="Create version from filter").click()
    expect(form.get_by_role("status")).to_have_text(f"Created dash-set v1 with {len(no_dev)} examples.")
    page.get_by_label("Tag test").select_option("exclude")
    expect(form.get_by_test_id("using")).to_contain_text(f"Using {len(neither)} of")
    form.get_by_role("button", name="Create version from filter").click()
    expect(form.get_by_role("status")).to_have_text(f"Created dash-set v2 with {len(neither)} examples.")
    table = page.locator("table.datasets tbody")
    current = table.locator("tr", has=page.locator(".badge", has_text="current"))
    expect(current).to_have_count(1)
    expect(current).to_contain_text("v2")

    diff = page.get_by_role("group", name="Diff")
    diff.get_by_label("Base").select_option(label="dash-set v1")
    diff.get_by_label("Head").select_option(label="dash-set v2")
    removed = len(no_dev) - len(neither)
    expect(diff.get_by_test_id("diff")).to_have_text(
        re.compile(rf"added 0 · removed {removed} ·\s+unchanged {len(neither)} \(changed 0\)")
    )

    page.get_by_role("button", name="Export dash-set v1").click()
    exporter = page.get_by_role("group", name="Export dash-set v1")
    exporter.get_by_label("Format").select_option("OPENAI_CHAT")
    exporter.get_by_role("button", name="Export", exact=True).click()
    bar = exporter.get_by_role("progressbar", name="Export progress")
    expect(bar).to_have_attribute("aria-valuenow", "100", timeout=30_000)
    expect(exporter.get_by_role("status")).to_contain_text("SUCCEEDED")
    shoot(page, screenshots, "3-datasets")

    lines = 0
    for split in ("train", "validation"):  # a version with a validation split exports one file per split
        with page.expect_download() as started:
            exporter.get_by_role("button", name=f"Download {split.upper()}").click()
        download = started.value
        assert download.suggested_filename == f"dash-set-v1-openai_chat-{split}.jsonl"
        content = Path(download.path()).read_text().splitlines()
        assert all('"messages"' in line for line in content)
        lines += len(content)
    assert lines == len(no_dev)

    page.get_by_role("button", name="Make dash-set v1 current").click()
    expect(current).to_contain_text("v1")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete dash-set v2").click()
    expect(table.locator("tr", has_text="dash-set")).to_have_count(1)
