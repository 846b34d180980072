"""Sign-in, the filter with its live count and shareable URL, and tagging with undo, in a real browser."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import admin_token, open_context, shoot
from tests.support.tuning import Tuning


def using(count: int, total: int) -> re.Pattern[str]:
    """The "Using X of Y examples" line, as the page formats the numbers."""
    return re.compile(rf"Using {count:,} of {total:,} examples")


def test_sign_in_keeps_the_token_for_the_tab_and_a_refused_one_returns_with_the_reason(
    browser: Browser, dash: Tuning, rows: list[dict[str, Any]], screenshots: Path
) -> None:
    context = open_context(browser, None)
    page = context.new_page()
    page.goto(dash.server.url + "/")
    page.get_by_label("API token").fill("not-a-token")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("Signed out: ")
    shoot(page, screenshots, "0-sign-in")

    page.get_by_label("API token").fill(admin_token(dash))
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_test_id("using")).to_have_text(using(len(rows), len(rows)))
    page.reload()  # the token stays in this tab's session storage
    expect(page.get_by_test_id("using")).to_have_text(using(len(rows), len(rows)))

    page.evaluate("sessionStorage.setItem('tuneyard.token', 'revoked-or-wrong')")
    page.reload()  # the first request is refused: back to sign-in, with the server's reason
    expect(page.get_by_role("alert")).to_contain_text("Signed out:")
    expect(page.get_by_label("API token")).to_be_visible()

    page.get_by_label("API token").fill(admin_token(dash))
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_label("API token")).to_be_visible()
    assert page.evaluate("sessionStorage.getItem('tuneyard.token')") is None
    context.close()


def test_the_filter_counts_what_it_keeps_and_lives_in_the_url(
    page: Page, dash: Tuning, rows: list[dict[str, Any]], screenshots: Path
) -> None:
    page.goto(dash.server.url + "/")
    expect(page.get_by_test_id("using")).to_have_text(using(len(rows), len(rows)))
    shoot(page, screenshots, "1-filter")

    page.get_by_label("Tag dev").select_option("exclude")
    kept = [r for r in rows if "dev" not in r["tags"]]
    expect(page.get_by_test_id("using")).to_have_text(using(len(kept), len(rows)))
    page.get_by_label("Minimum quality").fill("0.5")
    kept = [r for r in kept if r["qualityScore"] is not None and r["qualityScore"] >= 0.5]
    expect(page.get_by_test_id("using")).to_have_text(using(len(kept), len(rows)))
    intent = rows[0]["intent"]
    page.get_by_role("checkbox", name=re.compile(rf"^{intent} ")).check()
    kept = [r for r in kept if r["intent"] == intent]
    expect(page.get_by_test_id("using")).to_have_text(using(len(kept), len(rows)))
    assert 0 < len(kept) < len(rows)

    shared = page.url  # the filter is in the URL: another tab opening it sees the same view
    assert "notags=dev" in shared and "qmin=0.5" in shared and f"intent={intent}" in shared
    other = page.context.new_page()
    other.goto(shared)
    expect(other.get_by_test_id("using")).to_have_text(using(len(kept), len(rows)))
    expect(other.get_by_label("Tag dev")).to_have_value("exclude")
    other.close()

    first = page.locator("table.examples tbody tr").first  # the newest match, opened with the keyboard
    first.focus()
    first.press("Enter")
    newest = max(kept, key=lambda r: r["createdAt"])
    detail = page.get_by_role("region", name="Example detail")
    expect(detail).to_contain_text(newest["executionId"])
    tool = newest["executionPlan"]["steps"][0]["tool"]
    expect(detail.get_by_role("figure", name="Plan", exact=True)).to_contain_text(f'"tool": "{tool}"')
    shoot(page, screenshots, "1-filter-row")


def test_tag_what_the_filter_matches_see_the_breakdown_undo_archive_and_restore(
    page: Page, dash: Tuning, rows: list[dict[str, Any]], screenshots: Path
) -> None:
    page.goto(dash.server.url + "/?view=tagging&tags=prod")
    prod = sum("prod" in r["tags"] for r in rows)
    expect(page.get_by_test_id("using")).to_have_text(using(prod, len(rows)))
    breakdown = page.get_by_test_id("breakdown")
    expect(breakdown).to_contain_text(f"prod: {prod}")

    page.get_by_label("Add tags").fill("reviewed")
    page.get_by_label("Note").fill("from the browser")
    page.get_by_role("button", name="Tag matching examples…").click()
    confirm = page.get_by_role("alertdialog", name="Confirm")
    expect(confirm).to_contain_text(f"Add reviewed on the {prod} matching examples?")
    confirm.get_by_role("button", name="Confirm").click()
    expect(page.get_by_role("status")).to_have_text(f"Tags changed on {prod} examples.")
    expect(breakdown).to_contain_text(f"reviewed: {prod}")
    shoot(page, screenshots, "2-tagging")

    page.get_by_role("button", name="Undo reviewed").first.click()
    expect(breakdown).not_to_contain_text("reviewed")
    expect(page.locator("table.history tbody tr").first).to_contain_text("undone")

    page.get_by_role("button", name="Archive matching…").click()
    expect(confirm).to_contain_text(f"Archive the {prod} matching examples?")
    confirm.get_by_role("button", name="Confirm").click()
    expect(page.get_by_test_id("using")).to_have_text(using(0, len(rows) - prod))
    page.get_by_role("button", name="Restore archived matching…").click()
    expect(confirm).to_contain_text(f"Restore the {prod} archived examples that match?")
    confirm.get_by_role("button", name="Confirm").click()
    expect(page.get_by_test_id("using")).to_have_text(using(prod, len(rows)))
