"""Release tools: vet and promote a version (``promote``, ``gate``), publish it to Cloud Storage (``publish``),
stop identity changes before CI applies Terraform (``plan_guard``), smoke-test a deployed revision (``smoke_test``),
and release it as a canary (``canary``, ``canary_policy``, ``canary_metrics``); ``monitoring_sql`` writes infra/sql/.

They run in the deploy workflow with only ``functions/requirements.txt`` installed, so they import the
serving package ``default_risk`` and the standard library, never a training library.
"""
