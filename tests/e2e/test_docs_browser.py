"""/docs and /redoc in a real browser, with no internet: Debian's chromium driven by Playwright.

The server is started with an API token, so the test also shows that Swagger UI's Authorize
button takes it. Every request the pages make to anywhere but the server is refused and
recorded: the pages must need none (ReDoc's own logo aside, see REDOC_LOGO). Without a browser
the test is skipped, with a line saying why; where FPX_TEST_BROWSER=required (.ci/run sets it)
it fails instead.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest

from tests.live import ServerProcess

CHROMIUM = "/usr/bin/chromium"
# The one request the pages make beyond the server: ReDoc's "powered by" logo, an <img> that
# removes itself when it cannot load. Refused here like any other, it changes nothing shown.
REDOC_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"
TOKEN = "docs-t0ken"
# As root chromium needs --no-sandbox; the rest keeps it off the (closed) network.
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-quic", "--disable-gpu",
]


def _browser_or_skip() -> str:
    reason = None
    if shutil.which(CHROMIUM) is None:
        reason = f"no browser at {CHROMIUM} (Debian: apt-get install chromium)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            reason = "Playwright's Python package is not installed (pip install -e '.[test]')"
    if reason is None:
        return CHROMIUM
    if os.environ.get("FPX_TEST_BROWSER") == "required":
        pytest.fail(f"FPX_TEST_BROWSER=required, but {reason}")
    pytest.skip(f"browser test skipped: {reason}")


@pytest.fixture
def server(tmp_path) -> Iterator[ServerProcess]:
    with ServerProcess(tmp_path, {"FPX_API_TOKEN": TOKEN}) as server:
        yield server


@pytest.fixture
def page(server):
    executable = _browser_or_skip()
    from playwright.sync_api import sync_playwright

    outside: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 2000})
            ours = urlsplit(server.url).netloc

            def only_ours(route):
                if urlsplit(route.request.url).netloc == ours:
                    route.continue_()
                else:
                    outside.append(route.request.url)
                    route.abort()

            page.route("**/*", only_ours)
            page.set_default_timeout(30_000)
            yield page
        finally:
            browser.close()
    assert set(outside) <= {REDOC_LOGO}, "the docs pages need something beyond the server"


def _operations(server) -> list[tuple[str, str]]:
    document = httpx.get(server.url + "/openapi.json").json()
    return [
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method in item
    ]


def test_swagger_ui_lists_every_operation_and_submits_a_task(server, page, tmp_path):
    page.goto(server.url + "/docs")
    page.wait_for_selector(".opblock")
    shown = {
        (block.locator(".opblock-summary-method").inner_text().strip(),
         block.locator(".opblock-summary-path").get_attribute("data-path"))
        for block in page.locator(".opblock").all()
    }
    assert shown == set(_operations(server))

    submit = page.locator(".opblock-post", has=page.locator('[data-path="/tasks"]'))
    submit.locator(".opblock-summary").click()
    submit.locator(".try-out__btn").click()
    submit.locator("textarea.body-param__text").fill('{"wait_time": 0}')

    def execute() -> str:
        submit.locator(".execute").click()
        status = submit.locator(".live-responses-table tbody .response-col_status").first
        status.wait_for()
        text = status.inner_text().strip()
        submit.locator(".btn-clear").click()
        return text

    assert execute().startswith("401")  # no token yet

    page.locator(".auth-wrapper .authorize").click()
    page.locator(".modal-ux input").fill(TOKEN)
    page.locator(".modal-ux .auth-btn-wrapper .authorize").click()
    page.locator(".modal-ux .btn-done").click()
    assert execute().startswith("202")
    tasks = httpx.get(server.url + "/tasks", headers={"Authorization": f"Bearer {TOKEN}"})
    assert len(tasks.json()) == 1  # the browser's task, stored

    page.screenshot(path=str(tmp_path / "docs.png"), full_page=True)
    assert (tmp_path / "docs.png").stat().st_size > 0


def test_redoc_lists_every_operation(server, page, tmp_path):
    page.goto(server.url + "/redoc")
    page.wait_for_selector("[data-section-id^='operation/']")
    document = httpx.get(server.url + "/openapi.json").json()
    summaries = {
        operation["summary"]
        for item in document["paths"].values()
        for operation in item.values()
    }
    headings = page.locator("[data-section-id^='operation/'] h2").all()
    shown = {heading.inner_text().strip() for heading in headings}
    assert shown == summaries
    page.screenshot(path=str(tmp_path / "redoc.png"), full_page=True)
    assert (tmp_path / "redoc.png").stat().st_size > 0
