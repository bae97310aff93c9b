"""The service: validated records in, decisions out, whatever protocol brought them (``scoring``)."""
