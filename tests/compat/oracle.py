"""The oracle: records Prefect 3.9.1's own answers to compat scenarios (a dev tool).

It is never collected by pytest and never imported by the project: it needs Prefect, which
flowrun-core does not depend on. Run it with Prefect's own interpreter (``python -m
benchmarks --vs-prefect`` installs one in ``~/.cache/flowrun-core/prefect-3.9.1``)::

    PY=~/.cache/flowrun-core/prefect-3.9.1/bin/python
    $PY tests/compat/oracle.py --out tests/compat/extra/results tests/compat/extra/scenarios/X.json
    $PY tests/compat/oracle.py --check tests/compat/extra/results tests/compat/extra/scenarios/*.json
    $PY tests/compat/oracle.py --raw some_scenario.json    # raw status and body per request

It starts Prefect's API app in process on a throw-away SQLite file (``PREFECT_HOME`` in a
temporary directory), empties every table but ``alembic_version`` before each scenario (with
foreign keys off: Prefect's own DELETEs hit the pools/queues foreign-key loop), creates the
setup through Prefect's HTTP API, and normalises with ``normalise.py``. ``--check`` re-records
and compares; it reproduces every recorded result in ``sample/`` and ``extra/``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sqlite3
import sys
import tempfile
import traceback
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import normalise as nm

_HOME = tempfile.mkdtemp(prefix="oracle-prefect-")
os.environ["PREFECT_HOME"] = _HOME
os.environ["PREFECT_API_DATABASE_CONNECTION_URL"] = f"sqlite+aiosqlite:///{_HOME}/prefect.db"
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "ERROR")
os.environ.setdefault("PREFECT_LOGGING_SERVER_LEVEL", "CRITICAL")

import httpx  # noqa: E402
from prefect.server.api import server  # noqa: E402
from prefect.server.database import provide_database_interface  # noqa: E402

TASK_KEY_DEFAULT = "oracle-test-task-key"


class SetupError(Exception):
    pass


class Oracle:
    def __init__(self) -> None:
        self.app = server.create_app(ephemeral=True, ignore_cache=True)
        self.db = provide_database_interface()

    async def start(self) -> None:
        await self.db.create_db()
        self.client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app, raise_app_exceptions=False),
            base_url="http://prefect/api",
            timeout=60,
        )

    async def reset(self) -> None:

        con = sqlite3.connect(f"{_HOME}/prefect.db", timeout=30)
        try:
            con.execute("PRAGMA foreign_keys=OFF")
            names = [
                r[0]
                for r in con.execute(
                    "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'"
                )
            ]
            with con:
                for name in names:
                    if name != "alembic_version":
                        con.execute(f'DELETE FROM "{name}"')
        finally:
            con.close()

    async def post(self, path: str, payload) -> dict:
        r = await self.client.post(path, json=payload)
        if r.status_code >= 300:
            raise SetupError(f"POST {path} -> {r.status_code}: {r.text}")
        return r.json() if r.content else {}

    async def setup(self, setup: dict, ids: dict, observed: dict) -> None:  # noqa: PLR0915
        docs = setup.get("infrastructure_documents", [])
        if docs:
            bt = await self.post("/block_types/", {"name": "Oracle Infra", "slug": "oracle-infra"})
            bs = await self.post(
                "/block_schemas/",
                {
                    "fields": {"title": "OracleInfra", "type": "object", "properties": {}},
                    "block_type_id": bt["id"],
                    "capabilities": [],
                },
            )
            for i, doc in enumerate(docs, start=1):
                ref = doc.get("ref", f"infra{i}")
                made = await self.post(
                    "/block_documents/",
                    {
                        "name": doc.get("name", ref),
                        "data": doc.get("data", {}),
                        "block_schema_id": bs["id"],
                        "block_type_id": bt["id"],
                    },
                )
                ids["infrastructure_document"][ref] = made["id"]
        flows: dict[str, str] = {}
        for f in setup.get("flows", []):
            ref = f.get("ref", f["name"])
            made = await self.post(
                "/flows/",
                {"name": f["name"], "tags": f.get("tags", []), "labels": f.get("labels", {})},
            )
            flows[ref] = made["id"]
            ids["flow"][ref] = made["id"]

        async def flow(ref: str) -> str:
            if ref not in flows:
                made = await self.post("/flows/", {"name": ref})
                flows[ref] = made["id"]
                ids["flow"][ref] = made["id"]
            return flows[ref]

        for dep in setup.get("deployments", []):
            await flow(dep["flow"])
        for run in setup.get("flow_runs", []):
            if "flow" in run:
                await flow(run["flow"])
        for pool in setup.get("work_pools", []):
            body = {"name": pool["name"]}
            for k in ("type", "base_job_template"):
                if k in pool:
                    body[k] = pool[k]
            made = await self.post("/work_pools/", body)
            ids["work_pool"][pool["name"]] = made["id"]
            for q in pool.get("work_queues", []):
                await self.post(f"/work_pools/{pool['name']}/queues", {"name": q})
        for var in setup.get("variables", []):
            body = {"name": var["name"], "value": var.get("value"), "tags": var.get("tags", [])}
            made = await self.post("/variables/", body)
            ids["variable"][var["name"]] = made["id"]
        deps: dict[str, dict] = {}
        for i, dep in enumerate(setup.get("deployments", []), start=1):
            ref = dep.get("ref", dep.get("name", f"deployment{i}"))
            body = {"name": dep.get("name", ref), "flow_id": flows[dep["flow"]]}
            for k, v in dep.items():
                if k in ("ref", "flow", "name"):
                    continue
                if k == "infrastructure_document":
                    body["infrastructure_document_id"] = ids["infrastructure_document"][v]
                else:
                    body[k] = v
            made = await self.post("/deployments/", body)
            deps[ref] = made
            ids["deployment"][ref] = made["id"]
            observed[ref] = made
        runs: dict[str, str] = {}
        for i, run in enumerate(setup.get("flow_runs", []), start=1):
            ref = run.get("ref", f"existing_run{i}")
            body = {}
            if "deployment" in run:
                d = deps[run["deployment"]]
                body["deployment_id"] = d["id"]
                body["flow_id"] = d["flow_id"]
            else:
                body["flow_id"] = flows[run["flow"]]
            for k in ("name", "parameters", "tags", "idempotency_key", "state", "labels"):
                if k in run:
                    body[k] = run[k]
            made = await self.post("/flow_runs/", body)
            runs[ref] = made["id"]
            ids["flow_run"][ref] = made["id"]
        for i, task in enumerate(setup.get("task_runs", []), start=1):
            ref = task.get("ref", f"task_run{i}")
            body = {
                "task_key": task.get("task_key", TASK_KEY_DEFAULT),
                "dynamic_key": task.get("dynamic_key", "0"),
                "name": task.get("name", ref),
            }
            if "flow_run" in task:
                body["flow_run_id"] = runs[task["flow_run"]]
            made = await self.post("/task_runs/", body)
            ids["task_run"][ref] = made["id"]

    async def pools(self) -> list[nm.WorkPoolSnapshot]:
        r = await self.client.post("/work_pools/filter", json={})
        r.raise_for_status()
        out = []
        for pool in r.json():
            q = await self.client.post(f"/work_pools/{pool['name']}/queues/filter", json={})
            q.raise_for_status()
            out.append(
                nm.WorkPoolSnapshot(
                    name=pool["name"], id=pool["id"], queues={x["name"]: x["id"] for x in q.json()}
                )
            )
        return out

    async def run(self, scenario: dict, raw: bool = False):
        await self.reset()
        ids = {k: {} for k in nm.ENTITY_KINDS}
        observed: dict = {}
        setup_error = setup_tb = None
        try:
            await self.setup(scenario.get("setup", {}), ids, observed)
        except Exception as exc:
            setup_error = f"{type(exc).__name__}: {exc}"
            setup_tb = traceback.format_exc()
        responses = []
        raws = []
        if setup_error is None:
            flat = nm.flat_ids(ids)
            for request in scenario.get("requests", []):
                http = nm.build_http_request(request, flat)
                await asyncio.sleep(0.002)
                t_before = datetime.now(UTC)
                try:
                    r = await self.client.post(
                        http.path, content=http.content, headers=http.headers
                    )
                except Exception as exc:
                    t_after = datetime.now(UTC)
                    responses.append(
                        nm.RawResponse(
                            request=request,
                            status_code=None,
                            content_type=None,
                            body_text=None,
                            t_before=t_before,
                            t_after=t_after,
                            error=f"{type(exc).__name__}: {exc}",
                        )
                    )
                    continue
                t_after = datetime.now(UTC)
                raws.append((r.status_code, r.text))
                responses.append(
                    nm.RawResponse(
                        request=request,
                        status_code=r.status_code,
                        content_type=r.headers.get("content-type"),
                        body_text=r.content.decode("utf-8"),
                        t_before=t_before,
                        t_after=t_after,
                    )
                )
        harness_error = None
        pools = []
        try:
            pools = await self.pools()
        except Exception as exc:
            harness_error = f"{type(exc).__name__}: {exc}"
        if raw:
            return raws
        return nm.normalise_result(
            scenario,
            ids,
            observed,
            responses,
            pools_after=pools,
            implementation="prefect-server",
            version="3.9.1",
            setup_error=setup_error,
            setup_traceback=setup_tb,
            harness_error=harness_error,
        )


def _write(path: Path, result: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


async def amain(args) -> int:
    oracle = Oracle()
    await oracle.start()
    bad = 0
    for path in args.files:
        for scenario in nm.load_scenarios(path):
            name = scenario["name"]
            if args.raw:
                for status, text in await oracle.run(scenario, raw=True):
                    print(name, status, text[:3000])
                continue
            result = await oracle.run(scenario)
            if args.out:
                _write(Path(args.out) / f"{name}.json", result)
                print("wrote", name, file=sys.stderr)
            if args.check:
                expected = json.loads((Path(args.check) / f"{name}.json").read_text())
                diffs = nm.compare_results(expected, result, quirks=False)
                print(name, "OK" if not diffs else "DIFF", file=sys.stderr)
                for d in diffs:
                    print("   ", d, file=sys.stderr)
                bad += bool(diffs)
    return 1 if bad else 0


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--out")
    p.add_argument("--check")
    p.add_argument("--raw", action="store_true")
    p.add_argument("files", nargs="+")
    args = p.parse_args()
    sys.exit(asyncio.run(amain(args)))


if __name__ == "__main__":
    main()
