"""Prefect 3.9.1's API app in process, driven line by line over stdin/stdout.

Run by ``benchmarks.prefect_vs`` with an interpreter that has ``prefect==3.9.1``; it never
imports flowrun-core. Protocol: one JSON object per line in, one per line out.

* ``{"op": "setup", "deployments": {...}, "variables": {...}, "bodies": {...},
  "expect": {...}}`` → ``{"ok": true, "prefect": "3.9.1", ...}``: a fresh SQLite database
  (migrations only, no background services), the flow, the variables, the deployments.
* ``{"op": "round", "scenario": "plain", "n": 100}`` → ``{"ok": true, "ns": [...]}``: ``n``
  sequential ``POST /deployments/{id}/create_flow_run`` calls, each timed with
  ``perf_counter_ns``, every status checked.
* ``{"op": "quit"}``.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
import time
import traceback
from typing import Any

_PROTOCOL = os.fdopen(os.dup(1), "w", buffering=1)
os.dup2(2, 1)  # whatever Prefect prints goes to stderr, never into the protocol

_HOME = tempfile.mkdtemp(prefix="flowrun-bench-prefect-")
os.environ["PREFECT_HOME"] = _HOME
os.environ["PREFECT_API_DATABASE_CONNECTION_URL"] = f"sqlite+aiosqlite:///{_HOME}/prefect.db"
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "ERROR")
os.environ.setdefault("PREFECT_LOGGING_SERVER_LEVEL", "ERROR")


def _reply(payload: dict[str, Any]) -> None:
    _PROTOCOL.write(json.dumps(payload) + "\n")
    _PROTOCOL.flush()


class Bench:
    def __init__(self) -> None:
        started = time.perf_counter()
        import httpx  # noqa: PLC0415
        import prefect  # noqa: PLC0415
        from prefect.server.api import server  # noqa: PLC0415
        from prefect.server.database import provide_database_interface  # noqa: PLC0415

        self.version = prefect.__version__
        self.import_seconds = time.perf_counter() - started
        self.app = server.create_app(ephemeral=True, ignore_cache=True)
        self.loop = asyncio.new_event_loop()
        self.loop.run_until_complete(provide_database_interface().create_db())
        self.client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app), base_url="http://prefect/api"
        )
        self.start_seconds = time.perf_counter() - started
        self.targets: dict[str, tuple[str, dict[str, Any], int]] = {}

    async def _post(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        response = await self.client.post(path, json=payload)
        if response.status_code >= 300:
            raise RuntimeError(f"POST {path} -> {response.status_code}: {response.text}")
        result: dict[str, Any] = response.json()
        return result

    async def setup(self, msg: dict[str, Any]) -> dict[str, Any]:
        flow = await self._post("/flows/", {"name": "bench-flow"})
        for name, value in msg["variables"].items():
            await self._post("/variables/", {"name": name, "value": value})
        ids: dict[str, str] = {}
        for name, spec in msg["deployments"].items():
            made = await self._post(
                "/deployments/", {"name": f"bench-{name}", "flow_id": flow["id"], **spec}
            )
            ids[name] = made["id"]
        for scenario, body in msg["bodies"].items():
            deployment = ids[msg["deployment_of"][scenario]]
            self.targets[scenario] = (
                f"/deployments/{deployment}/create_flow_run",
                body,
                int(msg["expect"][scenario]),
            )
        return {
            "ok": True,
            "prefect": self.version,
            "python": sys.version.split()[0],
            "import_seconds": self.import_seconds,
            "start_seconds": self.start_seconds,
        }

    async def round(self, scenario: str, n: int) -> list[int]:
        path, body, expected = self.targets[scenario]
        post = self.client.post
        perf = time.perf_counter_ns
        times: list[int] = []
        for _ in range(n):
            t0 = perf()
            response = await post(path, json=body)
            t1 = perf()
            if response.status_code != expected and not (
                expected == 200 and response.status_code == 201 and not times
            ):
                raise RuntimeError(
                    f"{scenario}: expected {expected}, got {response.status_code}: "
                    f"{response.text[:500]}"
                )
            times.append(t1 - t0)
        return times


def main() -> None:
    bench: Bench | None = None
    for line in sys.stdin:
        msg = json.loads(line)
        try:
            if msg["op"] == "quit":
                _reply({"ok": True})
                break
            if bench is None:
                bench = Bench()
            if msg["op"] == "setup":
                _reply(bench.loop.run_until_complete(bench.setup(msg)))
            elif msg["op"] == "round":
                ns = bench.loop.run_until_complete(bench.round(msg["scenario"], int(msg["n"])))
                _reply({"ok": True, "ns": ns})
            else:
                _reply({"ok": False, "error": f"unknown op {msg['op']!r}"})
        except Exception as exc:  # reported to the parent
            traceback.print_exc()
            _reply({"ok": False, "error": f"{type(exc).__name__}: {exc}"})


if __name__ == "__main__":
    main()
