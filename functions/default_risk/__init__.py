"""Credit-card default-risk scoring: the serving package deployed as the Cloud Function.

Four layers, each importing only the ones below it:

- ``contract``: fields, model inputs, bands, reasons, artifacts, limits and log names (training imports it too);
- ``model``: a version loaded once per instance and applied with numpy and LiteRT;
- ``service``: validated records scored and explained;
- ``protocols``: bytes in, bytes out (HTTP routes, BigQuery calls, OpenAPI, the request's log line).

``functions/main.py`` is the entry point. Nothing heavy is imported here: the model loads on the first request.
"""
