"""The placeholder this service replaces, for the benchmark's optional baseline: Flask served by Gunicorn.

Run by bench/run.ts as `gunicorn --workers 2 --chdir bench flask_app:app` when Gunicorn and Flask are installed
(Debian: apt-get install gunicorn python3-flask).
"""
from flask import Flask, jsonify

app = Flask(__name__)


@app.get("/healthz")
def healthz():
    return jsonify(status="ok")
