"""Release tools: vet and promote a version (``promote``, ``gate``), publish it to Cloud Storage (``publish``),
and smoke-test a deployed function (``smoke_test``).

They run in the deploy workflow with only ``functions/requirements.txt`` installed, so they import the
serving package ``default_risk`` and the standard library, never a training library.
"""
