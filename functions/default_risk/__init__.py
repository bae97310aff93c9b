"""Credit-card default-risk scoring: the serving package deployed as the Cloud Function.

``contract`` (the input fields), ``artifacts`` (a model version's files and integrity), ``preprocessing``
and ``scorer`` (a version applied with numpy and LiteRT), ``model_store`` (loaded once per instance),
``validation`` (requests against the contract), ``service`` (scoring), ``api``, ``app``, ``bigquery``,
``openapi`` and ``docs_page`` (the HTTP surface), ``telemetry`` (the structured logs). Imports nothing
heavy: the model loads on the first request.
"""
