"""A real headless Chromium uses /docs on a functions-framework server mounted under a URL prefix.

Chromium is Debian's package (``make browser``), driven by Playwright through ``executable_path``.
The test is skipped, with the reason, only where no Chromium is installed.
"""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, sync_playwright

from tests.docs_page.prefix_proxy import prefix_proxy
from tests.support.http import post_json, request
from tests.support.local_cloud import ROOT, Server

CHROMIUM = shutil.which("chromium")
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
"""Playwright adds ``--headless`` and a fresh, empty user-data-dir itself."""
PREFIX = "/credit-risk"
"""Where the proxy mounts the function, as a deployed function's URL carries its name."""
SCREENSHOT = ROOT / "reports" / "docs_page" / "try-it-out-single-record.png"
TIMEOUT_MS = 30_000

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no chromium on PATH: `make browser` installs Debian's chromium (root + apt needed)"
)


@pytest.fixture(scope="module")
def docs_base(scoring_server: Server) -> Iterator[str]:
    """The function's base URL as a browser sees it: behind a proxy that strips ``PREFIX``."""
    with prefix_proxy(scoring_server.url, PREFIX) as base:
        yield base


@pytest.fixture
def page() -> Iterator[Page]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
        try:
            yield browser.new_page(viewport={"width": 1280, "height": 900})
        finally:
            browser.close()


def request_examples(base: str) -> dict[str, object]:
    """The named examples of ``POST /`` in the function's own OpenAPI document."""
    spec = request(f"{base}/openapi.json").json
    return {
        name: example["value"]
        for name, example in spec["paths"]["/"]["post"]["requestBody"]["content"]["application/json"][
            "examples"
        ].items()
    }


def execute_example(page: Page, example: str) -> tuple[int, dict, str]:
    """Pick ``example`` in POST /'s example list, Execute it; the status, the decoded body and the sent body."""
    operation = page.locator(".opblock-post").filter(has=page.locator(".opblock-summary-path[data-path='/']"))
    if operation.locator("button.btn-clear").count():  # drop the previous answer, so the next one is awaited
        operation.locator("button.btn-clear").click()
        operation.locator(".live-responses-table").wait_for(state="detached", timeout=TIMEOUT_MS)
    operation.locator(".examples-select select").first.select_option(example)
    sent = operation.locator("textarea.body-param__text").input_value()
    operation.locator("button.execute").click()
    response = operation.locator(".live-responses-table .response")
    response.locator(".response-col_description pre").first.wait_for(timeout=TIMEOUT_MS)
    status = int(response.locator(".response-col_status").inner_text().strip())
    body = json.loads(response.locator(".response-col_description pre").first.inner_text())
    return status, body, sent


def test_try_it_out_scores_the_single_record_example_under_a_prefix(docs_base: str, page: Page) -> None:
    examples = request_examples(docs_base)
    assert {"single", "batch", "invalid"} <= examples.keys()
    urls: list[str] = []
    errors: list[str] = []
    page.on("request", lambda sent: urls.append(sent.url))
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))

    page.goto(f"{docs_base}/docs", timeout=TIMEOUT_MS)
    operation = page.locator(".opblock-post").filter(has=page.locator(".opblock-summary-path[data-path='/']"))
    operation.locator(".opblock-summary").click(timeout=TIMEOUT_MS)
    options = operation.locator(".examples-select select").first.locator("option")
    options.first.wait_for(state="attached", timeout=TIMEOUT_MS)  # the list renders after the operation opens
    offered = options.evaluate_all("options => options.map(option => option.value)")
    assert {"single", "batch", "invalid"} <= set(offered)
    operation.locator("button.try-out__btn").click()
    status, body, sent = execute_example(page, "single")

    assert json.loads(sent) == examples["single"], "the editor must be pre-filled with the document's example"
    assert status == 200, body
    probability = body["predictions"][0]["probability_of_default"]
    assert isinstance(probability, float) and 0.0 <= probability <= 1.0
    direct = post_json(f"{docs_base}/", examples["single"]).json
    for answer in (body, direct):  # each request is its own decision
        assert uuid.UUID(answer["predictions"][0].pop("decision_id")).version == 7
    assert body == direct, "the page must show exactly what a direct POST of the same example returns"
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    bottom = page.evaluate(
        "() => document.querySelector('.live-responses-table').getBoundingClientRect().bottom + window.scrollY"
    )
    page.screenshot(path=str(SCREENSHOT), full_page=True, clip={"x": 0, "y": 0, "width": 1280, "height": bottom + 16})
    print(f"screenshot: {SCREENSHOT}")

    assert errors == [], "the page must load and run without console errors (CSP, missing assets)"
    assert urls and all(url.startswith(docs_base + "/") for url in urls), (
        f"every request must stay on the function under its prefix (no CDN): {urls}"
    )

    status, body, _ = execute_example(page, "invalid")
    assert status == 400
    assert body["error"]["details"], body
