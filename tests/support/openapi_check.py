"""Check real responses against the function's own OpenAPI document."""

from __future__ import annotations

from jsonschema import Draft202012Validator

from tests.support.http import Response


def assert_conforms(document: dict, path: str, method: str, response: Response) -> None:
    """``response`` is documented for ``method path``: its status, media type, headers and body schema."""
    responses = document["paths"][path][method.lower()]["responses"]
    assert str(response.status) in responses, f"{method} {path} answered undocumented status {response.status}"
    documented = responses[str(response.status)]
    for header in documented.get("headers", {}):
        assert header.lower() in response.headers, f"documented header {header} missing"
    (media_type, content), *_ = documented["content"].items()
    assert response.headers["content-type"].split(";")[0] == media_type
    Draft202012Validator({"components": document["components"], **content["schema"]}).validate(response.json)
