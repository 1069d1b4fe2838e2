"""The model worker of the queue shape: takes jobs from the Redis list "jobs", computes the
prediction, pushes the answer to "result:<id>". One process computes one job at a time."""
import json
import os
import sys

import redis

import model as model_module


def main():
    host, port = os.environ.get("QUEUE_REDIS", "127.0.0.1:6379").split(":")
    broker = redis.Redis(host=host, port=int(port))
    model = model_module.from_env()
    print("model worker ready", flush=True)
    while True:
        item = broker.brpop("jobs", timeout=5)
        if item is None:
            continue
        job = json.loads(item[1])
        answer = model.predict(bytes.fromhex(job["image"]))
        broker.lpush("result:" + job["id"], json.dumps(answer))


if __name__ == "__main__":
    sys.exit(main())
