"""The Flask API that Lifeline supervises (child `flask` of the demo configuration).

Run by the child supervisor as `<python3> app.py`; it listens on $HOST:$PORT
(default 127.0.0.1:5001), which the supervisor sets from the child spec. Needs Debian's
python3-flask and python3-flask-cors (`sudo apt-get install -y python3-flask
python3-flask-cors`).

Routes:
  GET  /health      200 {"status": "ok", ...}: the supervisor's health check
  GET  /api/info    what is running: pid, Python and Flask versions, uptime
  POST /api/echo    answers the JSON body it was sent (shows the hub's gateway passing bodies)
"""
import logging
import os
import sys
import time
from importlib.metadata import PackageNotFoundError, version

from flask import Flask, jsonify, request
from flask_cors import CORS

STARTED = time.monotonic()


def package_version(name):
    try:
        return version(name)
    except PackageNotFoundError:
        return "unknown"


def create_app():
    app = Flask(__name__)
    CORS(app)

    @app.get("/health")
    def health():
        return jsonify(status="ok", pid=os.getpid(), uptime_s=round(time.monotonic() - STARTED, 3))

    @app.get("/api/info")
    def info():
        return jsonify(
            service="flask-app",
            pid=os.getpid(),
            python=sys.version.split()[0],
            flask=package_version("flask"),
            uptime_s=round(time.monotonic() - STARTED, 3),
            query=request.args.to_dict(),
        )

    @app.post("/api/echo")
    def echo():
        return jsonify(received=request.get_json(silent=True), pid=os.getpid())

    return app


class QuietHealthChecks(logging.Filter):
    """The supervisor polls /health; those access-log lines would crowd out real stderr."""

    def filter(self, record):
        return "/health" not in record.getMessage()


if __name__ == "__main__":
    logging.getLogger("werkzeug").addFilter(QuietHealthChecks())
    host = os.environ.get("HOST", "127.0.0.1")
    port = int(os.environ.get("PORT", "5001"))
    create_app().run(host=host, port=port, debug=False, use_reloader=False, threaded=True)
