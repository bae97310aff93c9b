"""The Cloud Functions entry point (``--entry-point=predict``, deployed with ``--source=functions``).

Everything else lives in the ``default_risk`` package beside this file: ``default_risk.protocols.http`` routes it.
"""

import flask
import functions_framework

from default_risk.protocols import server
from default_risk.protocols.admission import bind_to_instance_cpus, share_the_interpreter
from default_risk.protocols.http import handle

share_the_interpreter()
bind_to_instance_cpus()
server.install()


@functions_framework.http
def predict(request: flask.Request) -> flask.Response:
    """Score credit-card customers' probability of default next month (routes, errors, logs: ``protocols.http``)."""
    return handle(request)
