"""The least a function can do for a request under functions-framework: read the body, answer a fixed JSON object.

``make bench`` serves it as the function is deployed (8 threads) beside the function itself: what gunicorn,
werkzeug, Flask and functions-framework cost a request before any code of ours runs, and so the most single-record
requests a second one process can answer on this machine, whatever the function does.
"""

import flask
import functions_framework

ANSWER = b'{"predictions":[{"probability_of_default":0.1,"risk_band":"B01","score":600.0}]}'


@functions_framework.http
def predict(request: flask.Request) -> flask.Response:
    request.get_data()
    return flask.Response(ANSWER, mimetype="application/json")
