"""GET /docs and its assets: content types, caching, relative URLs, no path traversal, lazy import."""

from __future__ import annotations

import gzip
import hashlib
import http.client
import re
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import flask
import pytest
from werkzeug.test import TestResponse

from default_risk.contract.telemetry import STATUS_FIELD
from default_risk.protocols import docs_page
from default_risk.protocols.answers import ApiError
from tests.docs_page.prefix_proxy import prefix_proxy
from tests.support.http import request, request_logs
from tests.support.local_cloud import FUNCTIONS_DIR, Server

_PIN = re.search(r"^swagger-ui-bundle-v2==([\w.]+)", (FUNCTIONS_DIR / "requirements.txt").read_text(), re.MULTILINE)
VENDOR = f"swagger-ui-{_PIN[1] if _PIN else 'unpinned'}"
"""The vendored folder, named by the Swagger UI version pinned in functions/requirements.txt."""


@pytest.fixture(scope="module")
def client() -> flask.testing.FlaskClient:
    """docs_page.respond mounted as functions-framework mounts the function: every path, every method."""
    app = flask.Flask("docs-page-test")

    @app.route("/", defaults={"path": ""})
    @app.route("/<path:path>")
    def function(path: str) -> flask.Response:
        if not docs_page.is_docs_path(flask.request.path):
            return flask.Response("not docs", status=418)
        try:
            return docs_page.respond(flask.request)
        except ApiError as error:
            return error.response()

    return app.test_client()


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.urls += [value for name, value in attrs if name in ("href", "src") and value]


def page_urls(html: str) -> list[str]:
    parser = _Links()
    parser.feed(html)
    return parser.urls


def fetch_relative(client: flask.testing.FlaskClient, url: str, page_url: str = "http://h/prefix/docs") -> TestResponse:
    """Resolve ``url`` as the browser would on ``page_url``, then request it with the prefix stripped."""
    path = urlsplit(urljoin(page_url, url)).path
    assert path.startswith("/prefix/"), f"{url} escapes the page's prefix"
    return client.get(path.removeprefix("/prefix"))


def test_page_is_html_with_security_headers_and_revalidation(client: flask.testing.FlaskClient) -> None:
    response = client.get("/docs")
    assert response.status_code == 200
    assert response.content_type == "text/html; charset=utf-8"
    assert response.headers["Cache-Control"] == "no-cache"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self';" in csp and "connect-src 'self';" in csp and "frame-ancestors 'none'" in csp
    assert '<div id="swagger-ui">' in response.text


def test_every_url_of_the_page_is_relative_and_served_from_the_function(client: flask.testing.FlaskClient) -> None:
    urls = page_urls(client.get("/docs").text)
    assert {url.rsplit("/", 1)[-1] for url in urls} == {
        "swagger-ui.css",
        "favicon-32x32.png",
        "openapi.json",
        "swagger-ui-bundle.js",
        "init.js",
    }
    for url in urls:
        assert not urlsplit(url).scheme and not url.startswith("/"), f"{url} is not relative (CDN or root-bound)"
        if url != "openapi.json":  # served by main.py, not by this module
            assert fetch_relative(client, url).status_code == 200, url


def test_vendor_files_are_the_pinned_packages_with_types_and_immutable_caching(
    client: flask.testing.FlaskClient,
) -> None:
    assert _PIN, "swagger-ui-bundle-v2 must be pinned in functions/requirements.txt"
    from swagger_ui_bundle import swagger_ui_path

    expected_types = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8", ".png": "image/png"}
    vendor_urls = [url for url in page_urls(client.get("/docs").text) if url.count("/") == 2]
    assert len(vendor_urls) == 3
    for url in vendor_urls:
        _, vendor, name = url.split("/")
        assert vendor == VENDOR, "the asset path must name the pinned Swagger UI version"
        response = fetch_relative(client, url)
        assert response.content_type == expected_types[Path(name).suffix]
        assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.data == (Path(str(swagger_ui_path)) / name).read_bytes()


@pytest.mark.parametrize(
    ("name", "compressed"), [("swagger-ui-bundle.js", True), ("swagger-ui.css", True), ("favicon-32x32.png", False)]
)
def test_text_assets_are_gzipped_for_browsers_that_accept_it(
    client: flask.testing.FlaskClient, name: str, compressed: bool
) -> None:
    from swagger_ui_bundle import swagger_ui_path

    original = (Path(str(swagger_ui_path)) / name).read_bytes()
    response = client.get(f"/docs/{VENDOR}/{name}", headers={"Accept-Encoding": "gzip, deflate, br"})
    if compressed:
        assert response.headers["Content-Encoding"] == "gzip"
        assert "Accept-Encoding" in response.headers["Vary"]
        assert len(response.data) < len(original) / 2
        assert gzip.decompress(response.data) == original
    else:
        assert "Content-Encoding" not in response.headers and response.data == original
    refused = client.get(f"/docs/{VENDOR}/{name}", headers={"Accept-Encoding": "gzip;q=0"})
    assert "Content-Encoding" not in refused.headers and refused.data == original


def test_init_script_is_revalidated_by_etag_and_loads_the_relative_document(
    client: flask.testing.FlaskClient,
) -> None:
    response = client.get("/docs/init.js")
    assert response.content_type == "text/javascript; charset=utf-8"
    assert response.headers["Cache-Control"] == "no-cache"
    assert 'new URL("openapi.json", document.baseURI)' in response.text
    assert "validatorUrl: null" in response.text, "Swagger UI must not call its online validator"
    etag = response.headers["ETag"]
    assert etag.strip('"') == hashlib.sha256(response.data).hexdigest()[:32]
    again = client.get("/docs/init.js", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    page_etag = client.get("/docs").headers["ETag"]
    assert client.get("/docs", headers={"If-None-Match": page_etag}).status_code == 304


@pytest.mark.parametrize(
    "path",
    [
        "/docs/nope.js",
        f"/docs/{VENDOR}/index.html",
        f"/docs/{VENDOR}/swagger-ui-bundle.js.map",
        f"/docs/{VENDOR}/swagger-initializer.js",
        "/docs/swagger-ui-0.0.1/swagger-ui.css",
        f"/docs/{VENDOR}/../../docs_page.py",
        f"/docs/{VENDOR}/..%2f..%2fdocs_page.py",
        f"/docs/{VENDOR}/%2e%2e/%2e%2e/main.py",
        "/docs/..%2f..%2frequirements.txt",
        f"/docs/{VENDOR}/swagger-ui.css/x",
        "/docs//etc/passwd",
        "/docsx",
    ],
)
def test_unknown_asset_names_are_404_not_files(client: flask.testing.FlaskClient, path: str) -> None:
    response = client.get(path)
    if path == "/docsx":
        assert response.status_code == 418, "only /docs and /docs/... belong to the page"
        return
    assert response.status_code == 404
    assert response.json["error"]["code"] == "not_found"
    assert response.headers["Cache-Control"] == "no-store"


def test_trailing_slash_redirects_relative_to_the_page(client: flask.testing.FlaskClient) -> None:
    response = client.get("/docs/")
    assert response.status_code == 308
    assert response.headers["Location"] == "../docs"
    assert (
        urljoin("https://r-p.cloudfunctions.net/score/docs/", "../docs") == "https://r-p.cloudfunctions.net/score/docs"
    )


@pytest.mark.parametrize("module", ["default_risk.protocols.docs_page", "main"])
def test_swagger_ui_is_imported_on_the_first_docs_request_only(module: str) -> None:
    """Cold start pays nothing for the page: importing the function leaves the package unimported."""
    code = f"""
import sys, flask
import {module}
from default_risk.protocols import docs_page
assert "swagger_ui_bundle" not in sys.modules, "imported at module import"
with flask.Flask("t").test_request_context("/openapi.json"):
    assert not docs_page.is_docs_path(flask.request.path)
assert "swagger_ui_bundle" not in sys.modules
with flask.Flask("t").test_request_context("/docs"):
    assert docs_page.respond(flask.request).status_code == 200
assert "swagger_ui_bundle" in sys.modules
"""
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=FUNCTIONS_DIR, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr


def test_the_function_serves_the_page_under_a_prefix_through_its_logged_routing(scoring_server: Server) -> None:
    """The real functions-framework server: routed by main.py, each request logged, raw paths never escape."""
    logged_before = len(request_logs(scoring_server.output()))
    statuses: list[int] = []
    with prefix_proxy(scoring_server.url, "/credit-risk") as base:
        page = request(f"{base}/docs")
        statuses.append(page.status)
        assert page.headers["content-type"] == "text/html; charset=utf-8"
        for url in page_urls(page.body.decode()):
            answer = request(urljoin(f"{base}/docs", url), headers={"Accept-Encoding": "gzip"})
            statuses.append(answer.status)
            assert answer.status == 200, url
            if url.endswith(".js") and url.count("/") == 2:
                assert answer.headers["content-encoding"] == "gzip"
                assert answer.headers["cache-control"] == "public, max-age=31536000, immutable"
    for raw_path in ("/docs/../main.py", f"/docs/{VENDOR}/../../main.py", "/docs/%2e%2e/main.py", "/docs/.%2e/api.py"):
        connection = http.client.HTTPConnection("127.0.0.1", scoring_server.port, timeout=30)
        connection.request("GET", raw_path)  # sent exactly as written: no client-side normalisation
        answer = connection.getresponse()
        body = answer.read()
        connection.close()
        statuses.append(answer.status)
        assert answer.status == 404 and b"import" not in body, raw_path
    wrong_method = request(f"{scoring_server.url}/docs", "POST", b"{}", {"Content-Type": "application/json"})
    statuses.append(wrong_method.status)
    assert wrong_method.status == 405 and wrong_method.headers["allow"] == "GET"

    deadline = time.monotonic() + 10
    while len(logged := request_logs(scoring_server.output())[logged_before:]) < len(statuses):
        assert time.monotonic() < deadline, f"{len(logged)} request log lines for {len(statuses)} requests"
        time.sleep(0.05)
    assert [line[STATUS_FIELD] for line in logged] == statuses
