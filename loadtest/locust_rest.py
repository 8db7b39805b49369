"""Locust over REST through Envoy: (a) job submission (POST /v1/jobs) and (b) job result
retrieval (GET /v1/jobs/{id}), as JSON over HTTP/1.1.

    locust -f loadtest/locust_rest.py --headless -u 1000 -r 100 -t 10m \\
        --host http://127.0.0.1:8080 --model demo.echo --csv out/rest SubmitUser
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

from locust import FastHttpUser, task

try:
    from loadtest import locust_common as common
except ImportError:  # locust puts this file's directory on sys.path, not the repository
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import locust_common as common  # type: ignore[no-redef]


class RestUser(FastHttpUser):
    abstract = True

    def on_start(self) -> None:
        options = self.environment.parsed_options
        self.options = options
        self.headers = {
            "authorization": f"Bearer {common.bearer(options)}",
            "content-type": "application/json",
        }
        self.body = json.dumps({"model": options.model, "records": [common.record(options)]})
        self.network_timeout = self.connection_timeout = options.call_timeout

    def wait_time(self) -> float:
        return common.wait_seconds(self.options)

    def submit(self) -> str:
        with self.client.post(
            "/v1/jobs",
            data=self.body,
            headers=self.headers,
            name="POST /v1/jobs",
            catch_response=True,
        ) as reply:
            if reply.status_code != 200:
                reply.failure(f"HTTP {reply.status_code}: {reply.text[:200]}")
                return ""
            return str(reply.json()["job"]["id"])


class SubmitUser(RestUser):
    """(a) Job submission."""

    @task
    def submit_job(self) -> None:
        self.submit()


class ResultUser(RestUser):
    """(b) Job result retrieval: GET of jobs this user submitted at start."""

    def on_start(self) -> None:
        super().on_start()
        self.jobs = [j for j in (self.submit() for _ in range(self.options.result_jobs)) if j]

    @task
    def get_result(self) -> None:
        if not self.jobs:
            self.jobs = [j for j in (self.submit() for _ in range(self.options.result_jobs)) if j]
            return
        self.client.get(
            f"/v1/jobs/{random.choice(self.jobs)}", headers=self.headers, name="GET /v1/jobs/{id}"
        )
