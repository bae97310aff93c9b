"""The protocols: bytes in, bytes out.

Request bodies checked against the memory budget (``budget``), decoded (``decoding``, ``bigquery``) and validated
(``validation``) into matrices; answers and errors as JSON (``answers``); the HTTP routes (``http``), the OpenAPI
document (``openapi``) and its page (``docs_page``); the request's log line (``request_log``).
"""
