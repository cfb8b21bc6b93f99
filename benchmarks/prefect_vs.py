"""``--vs-prefect``: Prefect 3.9.1 in its own virtual environment, timed in the same rounds.

The interpreter is, in order: ``--prefect-python``, ``$FLOWRUN_PREFECT_PYTHON``, or a venv
cached at ``$XDG_CACHE_HOME/flowrun-core/prefect-3.9.1`` (``~/.cache`` by default), created
with ``pip install prefect==3.9.1`` on first use. Prefect never enters the project's own
environment: it runs in a subprocess (:mod:`benchmarks._prefect_worker`) that the rounds
drive over a pipe, so its calls interleave with flowrun's in the same rounds.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import IO, Any

from benchmarks.progress import Progress
from benchmarks.scenarios import (
    SCENARIOS,
    VARIABLES,
    deployment_of,
    deployment_specs,
    expect_created,
    request_body,
)
from benchmarks.timing import Remote

PREFECT_VERSION = "3.9.1"
WORKER = Path(__file__).with_name("_prefect_worker.py")


def cached_venv() -> Path:
    """Where the cached Prefect venv lives."""
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "flowrun-core" / f"prefect-{PREFECT_VERSION}"


def _version(python: str) -> str | None:
    try:
        out = subprocess.run(
            [python, "-c", "import prefect; print(prefect.__version__)"],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def prefect_python(explicit: str | None, progress: Progress) -> str:
    """An interpreter with ``prefect==3.9.1``, creating the cached venv when needed."""
    chosen = explicit or os.environ.get("FLOWRUN_PREFECT_PYTHON")
    if chosen:
        version = _version(chosen)
        if version != PREFECT_VERSION:
            raise RuntimeError(f"{chosen} has prefect {version!r}, not {PREFECT_VERSION}")
        return chosen
    venv = cached_venv()
    python = venv / "bin" / "python"
    if python.exists() and _version(str(python)) == PREFECT_VERSION:
        return str(python)
    progress.update("prefect", f"creating {venv} (pip install prefect=={PREFECT_VERSION})")
    venv.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", f"prefect=={PREFECT_VERSION}"],
        check=True,
    )
    if _version(str(python)) != PREFECT_VERSION:
        raise RuntimeError(f"could not install prefect {PREFECT_VERSION} into {venv}")
    return str(python)


class PrefectWorker:
    """The subprocess running Prefect's API app; one request line, one reply line."""

    def __init__(self, python: str) -> None:
        self.log: IO[str] = tempfile.TemporaryFile("w+")  # noqa: SIM115 - closed in close()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "PYTHONPATH"))}
        self.proc = subprocess.Popen(
            [python, str(WORKER)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
            env=env,
        )
        self.info: dict[str, Any] = {}

    def request(self, msg: dict[str, Any]) -> dict[str, Any]:
        """Send one command and wait for its reply."""
        assert self.proc.stdin is not None
        assert self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(msg) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("Prefect worker exited:\n" + self.log_tail())
        reply: dict[str, Any] = json.loads(line)
        if not reply.get("ok"):
            raise RuntimeError(f"Prefect worker: {reply.get('error')}\n{self.log_tail()}")
        return reply

    def log_tail(self, chars: int = 4000) -> str:
        """The end of the worker's stderr."""
        self.log.flush()
        self.log.seek(0)
        return self.log.read()[-chars:]

    def setup(self) -> dict[str, Any]:
        """Start Prefect's app on a fresh database and create the deployments."""
        scenarios = list(SCENARIOS)
        self.info = self.request(
            {
                "op": "setup",
                "deployments": deployment_specs(),
                "variables": VARIABLES,
                "bodies": {s: request_body(s) for s in scenarios},
                "deployment_of": {s: deployment_of(s) for s in scenarios},
                "expect": {s: 201 if expect_created(s) else 200 for s in scenarios},
            }
        )
        return self.info

    def remotes(self, ops: int, warmup: int) -> list[Remote]:
        """One :class:`Remote` variant per scenario."""

        def runner(scenario: str) -> Any:
            def run(n: int, _warm: bool) -> list[int]:
                if n <= 0:
                    return []
                ns: list[int] = self.request({"op": "round", "scenario": scenario, "n": n})["ns"]
                return ns

            return run

        return [
            Remote(
                name=f"prefect/http/{scenario}",
                run=runner(scenario),
                ops=ops,
                warmup=warmup,
                tags={"adapter": "prefect", "path": "http", "scenario": scenario},
            )
            for scenario in SCENARIOS
        ]

    def close(self) -> None:
        """Stop the worker."""
        try:
            if self.proc.poll() is None:
                self.request({"op": "quit"})
                self.proc.wait(timeout=30)
        except (RuntimeError, OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()
        finally:
            self.log.close()
