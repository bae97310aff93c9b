"""The interactive API page: Swagger UI at ``GET /docs``, served by the function itself.

Swagger UI's JavaScript and CSS come from the pinned ``swagger-ui-bundle-v2`` package (no CDN), which
is imported on the first ``/docs`` request, so the page costs the scoring path nothing at cold start.

Every URL in the page is relative (``openapi.json``, ``docs/...``), so the page works wherever the
function is mounted, e.g. under the path a deployed function's URL carries. The vendored files live
under a path naming Swagger UI's version and are cached as immutable; the page and its small script
are revalidated by ETag.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

import flask

from default_risk.protocols.answers import ApiError
from default_risk.protocols.validation import shown_name

DOCS_PATH = "/docs"
SPEC_FILE = "openapi.json"
"""The OpenAPI document, relative to the function's root (``GET /openapi.json``)."""
INIT_SCRIPT = "init.js"

_VENDOR_FILES: dict[str, str] = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "favicon-32x32.png": "image/png",
}
"""The only files of the package that are served, with their content types (nothing else is reachable)."""

_IMMUTABLE = "public, max-age=31536000, immutable"
_REVALIDATE = "no-cache"
_PAGE_SECURITY_HEADERS: dict[str, str] = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}

_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Default-risk scoring API</title>
<link rel="stylesheet" href="docs/{vendor}/swagger-ui.css">
<link rel="icon" type="image/png" href="docs/{vendor}/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui"></div>
<noscript>This page needs JavaScript. The API is described by <a href="{spec}">{spec}</a>.</noscript>
<script src="docs/{vendor}/swagger-ui-bundle.js"></script>
<script src="docs/{init}"></script>
</body>
</html>
"""

# Relative to the page (…/docs), so "openapi.json" is the function's own document under any prefix.
# Requests made by "Try it out" go to the document's servers; the API is same-origin (connect-src 'self').
_INIT_JS = f"""window.ui = SwaggerUIBundle({{
  url: new URL("{SPEC_FILE}", document.baseURI).href,
  dom_id: "#swagger-ui",
  presets: [SwaggerUIBundle.presets.apis],
  layout: "BaseLayout",
  validatorUrl: null,
  deepLinking: false,
  displayRequestDuration: true,
  defaultModelsExpandDepth: 0,
  supportedSubmitMethods: ["get", "post"],
}});
"""


def is_docs_path(path: str) -> bool:
    """Whether ``path`` is the page or one of its assets."""
    return path == DOCS_PATH or path.startswith(DOCS_PATH + "/")


def respond(request: flask.Request) -> flask.Response:
    """The page or one of its assets, for a GET of a path where ``is_docs_path`` holds; ApiError 404 otherwise."""
    if request.path == DOCS_PATH:
        return _revalidated(request, _page().encode(), "text/html; charset=utf-8", _PAGE_SECURITY_HEADERS)
    name = request.path.removeprefix(DOCS_PATH + "/")
    if name == "":
        # "/docs/" would resolve the page's relative URLs one level too deep: send the browser to "../docs".
        return flask.Response(status=308, headers={"Location": "../docs"})
    if name == INIT_SCRIPT:
        return _revalidated(request, _INIT_JS.encode(), "text/javascript; charset=utf-8")
    vendor, _, file_name = name.partition("/")
    if vendor != _vendor_dir().name or file_name not in _VENDOR_FILES:
        raise ApiError("not_found", f"no such page asset: {shown_name(request.path)}; the page is at {DOCS_PATH}")
    content_type = _VENDOR_FILES[file_name]
    response = flask.Response(_vendor_file(file_name), content_type=content_type)
    if content_type.startswith("text/"):
        response.vary.add("Accept-Encoding")
        if request.accept_encodings["gzip"]:
            response.set_data(_gzipped(file_name))
            response.content_encoding = "gzip"
    return _with_common_headers(response, _IMMUTABLE)


@functools.cache
def _vendor_dir() -> Path:
    """Swagger UI's dist folder inside the package; its name carries the version (``swagger-ui-5.31.0``)."""
    from swagger_ui_bundle import swagger_ui_path  # imported on the first /docs request only

    return Path(str(swagger_ui_path))


@functools.cache
def _vendor_file(name: str) -> bytes:
    return (_vendor_dir() / name).read_bytes()


@functools.cache
def _gzipped(name: str) -> bytes:
    """The file gzip-compressed once per instance (Swagger UI's bundle: 1.5 MB -> about 0.42 MB)."""
    import gzip  # only /docs needs it

    return gzip.compress(_vendor_file(name), compresslevel=6, mtime=0)


@functools.cache
def _page() -> str:
    return _PAGE.format(vendor=_vendor_dir().name, spec=SPEC_FILE, init=INIT_SCRIPT)


def _revalidated(
    request: flask.Request, body: bytes, content_type: str, headers: dict[str, str] | None = None
) -> flask.Response:
    """A response the browser may keep but must revalidate: 304 when its ETag still matches."""
    response = flask.Response(body, content_type=content_type, headers=headers)
    response.set_etag(hashlib.sha256(body).hexdigest()[:32])
    return _with_common_headers(response.make_conditional(request), _REVALIDATE)


def _with_common_headers(response: flask.Response, cache_control: str) -> flask.Response:
    response.headers["Cache-Control"] = cache_control
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
