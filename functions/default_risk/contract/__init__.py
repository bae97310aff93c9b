"""The contract: the facts every other layer, training and the infrastructure share.

Fields and their roles (``fields``), what the model sees (``model_inputs``), risk bands, bins and stability
(``bands``), explanation groups and reasons (``reasons``), a version's files and manifest (``artifacts``), request
limits (``limits``) and log names (``telemetry``). Imports nothing of the layers above it.
"""
