"""GraphiQL in a real browser: a hint to paste a token for a new user, the dashboard's token reused, and the
headers kept across reloads."""

from __future__ import annotations

from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import admin_token, open_context
from tests.support.tuning import Tuning


def run_query(page: Page) -> None:
    """Run the query in GraphiQL's editor (its default one: stats and the first examples)."""
    page.get_by_role("button", name="Execute query (Ctrl-Enter)").click()


def test_a_new_user_sees_the_hint_and_a_pasted_token_survives_a_reload(browser: Browser, dash: Tuning) -> None:
    context = open_context(browser, None)
    page = context.new_page()
    page.goto(dash.server.url + "/graphql")
    hint = page.get_by_role("note")
    expect(hint).to_contain_text("paste yours into the Headers tab")
    expect(page.locator(".graphiql-editor-tool")).to_contain_text("<paste your token>")
    headers = page.locator(".graphiql-editor-tool .CodeMirror").last
    headers.click()
    page.keyboard.press("Control+A")
    page.keyboard.type(f'{{"Authorization": "Bearer {admin_token(dash)}"}}')
    expect(hint).to_be_hidden()
    page.reload()
    expect(page.locator(".graphiql-editor-tool")).to_contain_text(admin_token(dash))
    expect(hint).to_be_hidden()
    run_query(page)
    expect(page.locator(".graphiql-response")).to_contain_text('"totalCount"')
    context.close()


def test_graphiql_uses_the_dashboards_token(page: Page, dash: Tuning) -> None:
    page.goto(dash.server.url + "/")
    expect(page.get_by_test_id("using")).to_contain_text("Using")
    page.goto(dash.server.url + "/graphql")  # the same tab: its session storage holds the dashboard's token
    expect(page.get_by_role("note")).to_be_hidden()
    run_query(page)
    expect(page.locator(".graphiql-response")).to_contain_text('"totalCount"')
