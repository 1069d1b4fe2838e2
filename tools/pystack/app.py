"""The Flask inference API of the Python-stack tests (served by gunicorn):
GET /health, POST /predict with an image as the raw body or a multipart "file" part.
With QUEUE_REDIS=host:port the API does not compute: it pushes the job to a Redis list and
blocks until a model worker (model_worker.py) pushes the answer back, the API + Redis +
model-worker shape of the user reports."""
import json
import os
import uuid

from flask import Flask, jsonify, request

app = Flask(__name__)
QUEUE = os.environ.get("QUEUE_REDIS")
if QUEUE:
    import redis

    host, port = QUEUE.split(":")
    broker = redis.Redis(host=host, port=int(port))
    model = None
else:
    import model as model_module

    model = model_module.from_env()


def image_bytes():
    if "file" in request.files:
        return request.files["file"].read()
    return request.get_data()


@app.get("/health")
def health():
    return jsonify(status="ok")


@app.post("/predict")
def predict():
    data = image_bytes()
    if len(data) < 64:
        return jsonify(error="image too small"), 400
    if model is not None:
        return jsonify(model.predict(data))
    job = uuid.uuid4().hex
    broker.lpush("jobs", json.dumps({"id": job, "image": data.hex()}))
    _, answer = broker.brpop("result:" + job, timeout=60)
    return app.response_class(answer, mimetype="application/json")
