"""The dashboard's HTTP routes: the page at /, its files with their types and caching, nothing else."""

from __future__ import annotations

import httpx

from tests.support.tuning import Tuning


def test_the_page_and_its_files_are_served_with_types_and_caching(dash: Tuning) -> None:
    client = httpx.Client(base_url=dash.server.url)
    page = client.get("/")  # no token needed: the page asks for one
    assert page.status_code == 200 and page.headers["content-type"] == "text/html; charset=utf-8"
    assert page.headers["cache-control"] == "no-cache" and '<script type="importmap">' in page.text

    script = client.get("/dashboard/static/js/main.js")
    assert script.status_code == 200 and script.headers["content-type"] == "text/javascript; charset=utf-8"
    assert script.headers["cache-control"] == "no-cache" and script.headers["x-content-type-options"] == "nosniff"
    again = client.get("/dashboard/static/js/main.js", headers={"If-None-Match": script.headers["etag"]})
    assert again.status_code == 304 and again.content == b""

    style = client.get("/dashboard/vendor/uplot/dist/uPlot.min.css")
    assert style.status_code == 200 and style.headers["content-type"] == "text/css; charset=utf-8"
    assert style.headers["cache-control"] == "public, max-age=86400"


def test_anything_else_under_the_dashboard_is_404(dash: Tuning) -> None:
    client = httpx.Client(base_url=dash.server.url)
    for path in ("/dashboard/vendor/package.json", "/dashboard/static/js/nothing.js", "/dashboard/../app.py",
                 "/dashboard/static/%2e%2e/routes.py", "/dashboard/vendor/refresh.sh"):  # fmt: skip
        answer = client.get(path)
        assert answer.status_code == 404, path
        assert answer.json()["errors"][0]["extensions"]["code"] == "NOT_FOUND"
