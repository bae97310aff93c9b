"""The service: validated records in, decisions out, whatever protocol brought them.

``scoring`` applies the served model; ``decisions`` gives each prediction a ``decision_id`` (``ids``) and records it
(``records``) before it may be answered.
"""
