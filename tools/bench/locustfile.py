# The Locust side of tools/bench/bench_load.sh: FastHttpUser (geventhttpclient), no think time,
# one GET of the same static file wrk and loadscope fetch.
from locust import FastHttpUser, constant, task


class Bench(FastHttpUser):
    wait_time = constant(0)

    @task
    def index(self):
        self.client.get("/index.html")
