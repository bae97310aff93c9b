"""What one request may hold: the limits every protocol enforces, the OpenAPI document states and Terraform reads
(the BigQuery routines' batch sizes, through ``infra/contract.tf.json``)."""

MAX_INSTANCES = 10_000
"""Records per request (or rows per BigQuery call); more is answered 413."""
MAX_EXPLAIN_INSTANCES = 1_000
"""Records per explanation request: 64 coalitions each, about 0.1 s a full request here, far inside the timeout."""
MAX_BODY_BYTES = 8 * 1024 * 1024
"""Request body size; more is answered 413 (checked on Content-Length before reading, and while reading)."""
MAX_REQUEST_LINE_BYTES = 8190
"""The longest request line read (gunicorn's own upper bound); more is answered 414. A path, its query and the method
fit in far less."""
ID_FIELD = "id"
"""Optional string per record, echoed back with its prediction."""
MAX_ID_LENGTH = 256
