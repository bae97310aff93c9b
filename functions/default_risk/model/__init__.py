"""The model: a version read, verified and applied, knowing nothing of HTTP.

A version's preprocessing (``preprocessing``) and network (``scorer``), its exact explanations (``explainer``), the
version as served (``version``) and the instance's one loaded copy (``store``).
"""
