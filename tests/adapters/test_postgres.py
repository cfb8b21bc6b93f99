"""The PostgreSQL storage adapter against a real server: contract, machines, faults, migrations.

The server comes from ``FLOWRUN_TEST_POSTGRES_URL`` (default
``postgresql://postgres@127.0.0.1:5432/test``). Every repository opened here lives in its own
freshly named schema, dropped when the repository closes, so runs never collide. Without
psycopg or without a server, every test here is skipped with the reason. Multi-process races
live in ``test_postgres_processes.py``.
"""

from __future__ import annotations

import json
import math
import os
import random
import string
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import run_state_machine_as_test

psycopg = pytest.importorskip(
    "psycopg", reason="psycopg is not installed: pip install 'flowrun-core[postgres]'"
)

from flowrun_adapters import open_repository  # noqa: E402
from flowrun_adapters._timeouts import MAX_TIMEOUT  # noqa: E402
from flowrun_adapters.memory import InMemoryRepository  # noqa: E402
from flowrun_adapters.postgres import SCHEMA_VERSION, PostgresRepository  # noqa: E402
from flowrun_adapters.postgres import rows as pg_rows  # noqa: E402
from flowrun_adapters.postgres._translate import translate_error  # noqa: E402
from flowrun_adapters.postgres.migrations import MIGRATIONS, schema_version  # noqa: E402
from psycopg import errors as pg_errors  # noqa: E402

from flowrun_core.errors import (  # noqa: E402
    StorageAccessDenied,
    StorageClosed,
    StorageCorrupt,
    StorageError,
    StorageFull,
    StorageIntegrityError,
    StorageLocked,
    StorageOperationalError,
    StorageReadOnly,
    StorageSchemaError,
    StorageTimeout,
    StorageUnavailable,
    StorageValueError,
)
from flowrun_core.models import (  # noqa: E402
    Flow,
    FlowRun,
    InfrastructureDocument,
    TaskRun,
    Variable,
    WorkPool,
    WorkQueue,
)
from flowrun_core.testing import RepositoryContract  # noqa: E402
from flowrun_core.testing.contract import make_run, seed_world  # noqa: E402
from flowrun_core.testing.stateful import DifferentialMachine, RepositoryMachine  # noqa: E402

URL = os.environ.get("FLOWRUN_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
START = "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"


def _server_problem() -> str | None:
    try:
        with psycopg.connect(URL, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return (
            f"no PostgreSQL server at {URL} ({first}); start one (`{START}`) or point "
            "FLOWRUN_TEST_POSTGRES_URL at one"
        )
    return None


_PROBLEM = _server_problem()
if _PROBLEM is not None and os.environ.get("FLOWRUN_REQUIRE_POSTGRES"):
    # scripts/check.sh saw a server: these tests must run, not skip.
    pytest.fail(f"FLOWRUN_REQUIRE_POSTGRES is set but {_PROBLEM}", pytrace=False)
pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(_PROBLEM is not None, reason=_PROBLEM or ""),
]


def new_schema() -> str:
    return f"flowrun_test_{uuid.uuid4().hex[:12]}"


def drop_schema(schema: str) -> None:
    with psycopg.connect(URL, autocommit=True) as conn:
        conn.execute(
            psycopg.sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(
                psycopg.sql.Identifier(schema)
            )
        )


class DisposableRepository(PostgresRepository):
    """A repository in a fresh schema that is dropped when the repository closes."""

    def __init__(self, schema: str | None = None, **options: Any) -> None:
        options.setdefault("pool_max", 4)
        super().__init__(URL, schema=schema or new_schema(), **options)

    def close(self) -> None:
        closed = self._closed
        super().close()
        if not closed:
            drop_schema(self.schema)


@contextmanager
def raw() -> Iterator[Any]:
    with psycopg.connect(URL, autocommit=True) as conn:
        yield conn


@pytest.fixture
def repo() -> Iterator[DisposableRepository]:
    with DisposableRepository() as opened:
        yield opened


@pytest.fixture
def schema() -> Iterator[str]:
    name = new_schema()
    try:
        yield name
    finally:
        drop_schema(name)


def new_flow(repo: PostgresRepository, name: str = "flow") -> Flow:
    flow = Flow(id=uuid.uuid4(), name=name)
    repo.add_flow(flow)
    return flow


def run_of(flow: Flow, key: str | None = None, **fields: Any) -> FlowRun:
    return make_run(flow.id, idempotency_key=key, **fields)


def strictly_equal(a: object, b: object) -> bool:
    """Equal with the same types at every depth and the same key order (NaN equals NaN)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        assert isinstance(b, dict)
        return list(a) == list(b) and all(strictly_equal(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple):
        assert isinstance(b, list | tuple)
        return len(a) == len(b) and all(strictly_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or (a == b and str(a) == str(b))
    if isinstance(a, datetime) and isinstance(b, datetime):
        return a == b and a.utcoffset() == b.utcoffset()
    if isinstance(a, frozenset):
        return a == b
    if attrs.has(type(a)):
        return all(
            strictly_equal(getattr(a, f.name), getattr(b, f.name))
            for f in attrs.fields(type(a))  # type: ignore[misc]
        )
    return a == b


# -- the shared storage contract, the model and the differential machine ---------------------


class TestPostgresRepository(RepositoryContract[PostgresRepository]):
    def make_repository(self) -> Any:
        return DisposableRepository()

    def raw_flow_run_count(self, repo: PostgresRepository) -> int:
        return repo.raw_flow_run_count()


_MACHINE_SETTINGS = settings(
    max_examples=8,
    stateful_step_count=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def test_postgres_adapter_matches_the_model() -> None:
    run_state_machine_as_test(
        lambda: RepositoryMachine(DisposableRepository), settings=_MACHINE_SETTINGS
    )


@pytest.mark.slow
def test_postgres_adapter_agrees_with_memory() -> None:
    run_state_machine_as_test(
        lambda: DifferentialMachine(InMemoryRepository, DisposableRepository),
        settings=settings(_MACHINE_SETTINGS, max_examples=12),
    )


# -- round trips ------------------------------------------------------------------------------

HOSTILE = [
    "",
    "'; DROP TABLE flow_runs; --",
    "nul\x00byte",
    "\x00",
    "\x01",
    "\x01\x00\x010\x01\x01",
    "\\u0000 not an escape",
    "%s ? :name $1 %(x)s",
    "emoji \U0001f600",
]
texts = st.text() | st.sampled_from(HOSTILE)
json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | texts
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(texts, children, max_size=4)
        | st.dictionaries(st.just("flowrun:nonfinite"), children, min_size=1)
    ),
    max_leaves=12,
)


@given(text=texts)
def test_text_escaping_round_trips_and_has_no_nul(text: str) -> None:
    stored = pg_rows.encode_text(text)
    assert "\x00" not in stored
    assert pg_rows.decode_text(stored) == text
    if "\x00" not in text and "\x01" not in text:
        assert stored == text


@given(a=texts, b=texts)
def test_text_escaping_is_injective(a: str, b: str) -> None:
    assert (pg_rows.encode_text(a) == pg_rows.encode_text(b)) == (a == b)


@given(value=json_values)
def test_json_text_round_trips_exactly(value: Any) -> None:
    text = pg_rows.dump_json(value)
    assert "NaN" not in text.replace('\\"', "") or text.startswith('{"flowrun:nonfinite":')
    assert strictly_equal(pg_rows.load_json(text), value)


def test_values_round_trip_exactly_through_the_server(repo: DisposableRepository) -> None:
    @settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
    @given(
        name=texts,
        key=st.none() | texts,
        parameters=st.dictionaries(texts, json_values, max_size=4),
        value=json_values,
        total_run_time=st.floats(),
        offset=st.timedeltas(min_value=-timedelta(hours=23), max_value=timedelta(hours=23)),
    )
    def check(  # noqa: PLR0917
        name: str,
        key: str | None,
        parameters: dict[str, Any],
        value: Any,
        total_run_time: float,
        offset: timedelta,
    ) -> None:
        flow = Flow(id=uuid.uuid4(), name=name, tags=(name,), labels={name: 1.0})
        repo.add_flow(flow)
        moment = datetime(2031, 5, 6, 7, 8, 9, 101, tzinfo=timezone(offset))
        run = run_of(
            flow,
            key,
            name=name,
            parameters=parameters,
            context={"v": value},
            total_run_time=total_run_time,
            created=moment,
            work_queue_name=name,
        )
        assert strictly_equal(repo.create_flow_run(run).value, run)
        assert strictly_equal(repo.get_flow_run(run.id), run)
        assert strictly_equal(repo.get_flow(flow.id), flow)
        assert flow in repo.list_flows(name=name)
        if key is not None:
            assert strictly_equal(repo.get_flow_run_by_idempotency_key(flow.id, key), run)
        if key:
            again = repo.create_flow_run(attrs.evolve(run, id=uuid.uuid4()))
            assert again.created is False
            assert strictly_equal(again.value, run)
        var_name = f"{uuid.uuid4()}{name}"
        variable = Variable(id=uuid.uuid4(), name=var_name, value=value, tags=(name,))
        repo.add_variable(variable)
        assert strictly_equal(repo.get_variable(var_name), variable)
        pool = WorkPool(id=uuid.uuid4(), name=var_name, type=name, base_job_template=parameters)
        repo.add_work_pool(pool)
        assert strictly_equal(repo.get_work_pool_by_name(var_name), pool)
        queue = repo.create_work_queue(
            WorkQueue(id=uuid.uuid4(), name=name, work_pool_id=pool.id, priority=1)
        )
        assert strictly_equal(repo.get_work_queue_by_name(pool.id, name), queue)
        document = InfrastructureDocument(id=uuid.uuid4(), name=name, data=parameters)
        repo.add_infrastructure_document(document)
        assert strictly_equal(repo.get_infrastructure_document(document.id), document)

    check()


def test_special_numbers_round_trip(repo: DisposableRepository) -> None:
    flow = new_flow(repo)
    values = [math.nan, math.inf, -math.inf, -0.0, 5e-324, 1.7976931348623157e308, 1.0, 2**70]
    run = run_of(
        flow,
        parameters={"v": values, "flowrun:nonfinite": "x"},
        labels={"f": 1.0, "i": 1},
        total_run_time=math.nan,
    )
    repo.create_flow_run(run)
    stored = repo.get_flow_run(run.id)
    assert stored is not None
    assert strictly_equal(stored.parameters, run.parameters)
    assert math.isnan(stored.total_run_time)
    with raw() as conn:  # stored as json, readable by PostgreSQL
        row = conn.execute(
            psycopg.sql.SQL("SELECT labels ->> 'f', parameters::text FROM {}.flow_runs").format(
                psycopg.sql.Identifier(repo.schema)
            )
        ).fetchone()
    assert row[0] == "1.0"
    assert row[1].startswith('{"flowrun:nonfinite":')


def test_json_columns_are_json_and_queryable(repo: DisposableRepository) -> None:
    world = seed_world(repo)
    run = make_run(world.flow.id, parameters={"b": 1, "a": {"deep": [1, 2.0]}})
    repo.create_flow_run(run)
    with raw() as conn:
        types = dict(
            conn.execute(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_schema = %s AND table_name = 'flow_runs'",
                (repo.schema,),
            ).fetchall()
        )
        found = conn.execute(
            psycopg.sql.SQL(
                "SELECT parameters::text, parameters::jsonb -> 'a' -> 'deep' ->> 1 "
                "FROM {}.flow_runs"
            ).format(psycopg.sql.Identifier(repo.schema))
        ).fetchone()
    assert types["parameters"] == "json"
    assert types["id"] == "uuid"
    assert types["auto_scheduled"] == "boolean"
    assert found == ('{"b":1,"a":{"deep":[1,2.0]}}', "2.0")


@pytest.mark.parametrize(
    "offset",
    [timedelta(0), timedelta(hours=5, minutes=30), timedelta(microseconds=1), -timedelta(hours=23)],
)
def test_datetimes_keep_microseconds_and_offset(
    repo: DisposableRepository, offset: timedelta
) -> None:
    flow = new_flow(repo)
    moment = datetime(2026, 5, 6, 7, 8, 9, 101112, tzinfo=timezone(offset))
    run = run_of(flow, created=moment, start_time=moment.replace(tzinfo=None))
    repo.create_flow_run(run)
    stored = repo.get_flow_run(run.id)
    assert stored is not None
    assert stored.created == moment
    assert stored.created.utcoffset() == offset
    assert stored.start_time == run.start_time
    assert stored.start_time is not None
    assert stored.start_time.tzinfo is None


def test_unstorable_values_are_storage_errors(repo: DisposableRepository) -> None:
    flow = new_flow(repo)
    with pytest.raises(StorageError, match="cannot be stored"):
        repo.create_flow_run(run_of(flow, "k", run_count=2**70))
    with pytest.raises(StorageError, match="cannot be stored"):
        repo.create_flow_run(run_of(flow, "lone \ud800 surrogate"))
    assert repo.raw_flow_run_count() == 0
    run = run_of(flow, "k", parameters={"s": "\udcff"})  # inside JSON it is escaped
    repo.create_flow_run(run)
    assert repo.get_flow_run(run.id) == run


# -- transactions ---------------------------------------------------------------------------


def test_transaction_writes_are_invisible_until_commit(repo: DisposableRepository) -> None:
    flow = new_flow(repo)
    run = run_of(flow, "k")
    seen: list[int] = []
    with repo.transaction():
        repo.create_flow_run(run)
        assert repo.count_flow_runs() == 1  # the transaction's own connection sees it
        worker = threading.Thread(target=lambda: seen.append(repo.count_flow_runs()))
        worker.start()
        worker.join()
    assert seen == [0]  # another thread uses another connection: READ COMMITTED
    assert repo.count_flow_runs() == 1


def test_failed_statement_aborts_the_transaction(repo: DisposableRepository) -> None:
    flow = new_flow(repo)
    with pytest.raises(StorageError, match="aborted"), repo.transaction():  # noqa: PT012
        repo.create_flow_run(run_of(flow))
        with pytest.raises(StorageIntegrityError):
            repo.add_flow(flow)  # taken id: PostgreSQL aborts the transaction
        repo.count_flow_runs()
    assert repo.raw_flow_run_count() == 0


def test_failure_inside_a_nested_transaction_is_contained(repo: DisposableRepository) -> None:
    flow = new_flow(repo)
    outer = run_of(flow)
    with repo.transaction():
        repo.create_flow_run(outer)
        with pytest.raises(StorageIntegrityError), repo.transaction():
            repo.add_flow(flow)
        inner = repo.create_flow_run(run_of(flow, "after")).value
    assert repo.get_flow_run(outer.id) == outer
    assert repo.get_flow_run(inner.id) == inner


def test_close_inside_a_transaction_writes_nothing() -> None:
    repo = DisposableRepository()
    flow = new_flow(repo)
    schema = repo.schema
    try:
        with pytest.raises(StorageClosed), repo.transaction():  # noqa: PT012
            repo.create_flow_run(run_of(flow))
            PostgresRepository.close(repo)  # close the pool, keep the schema to look at
        with raw() as conn:
            count = conn.execute(
                psycopg.sql.SQL("SELECT count(*) FROM {}.flow_runs").format(
                    psycopg.sql.Identifier(schema)
                )
            ).fetchone()
        assert count == (0,)
    finally:
        drop_schema(schema)


# -- migrations -------------------------------------------------------------------------------


def test_fresh_schema_records_every_migration(schema: str) -> None:
    with PostgresRepository(URL, schema=schema) as repo:
        repo.add_flow(Flow(id=uuid.uuid4(), name="f"))
    with raw() as conn:
        rows = conn.execute(
            psycopg.sql.SQL("SELECT version, name FROM {}.schema_migrations ORDER BY 1").format(
                psycopg.sql.Identifier(schema)
            )
        ).fetchall()
        assert schema_version(conn, schema) == SCHEMA_VERSION
    assert rows == [(m.version, m.name) for m in MIGRATIONS]


def test_reopen_is_idempotent_and_keeps_data(schema: str) -> None:
    flow = Flow(id=uuid.uuid4(), name="kept")
    with PostgresRepository(URL, schema=schema) as repo:
        repo.add_flow(flow)
    with PostgresRepository(URL, schema=schema) as repo:
        assert repo.get_flow(flow.id) == flow


def _back_to_version_3(conn: Any, schema: str) -> None:
    """Undo migrations 0005 and 0004: plain unique constraints on the names and the key."""
    ident = psycopg.sql.Identifier(schema)
    for statement in (
        "DROP INDEX {}.uq_work_pools_name",
        "DROP INDEX {}.uq_variables_name",
        "ALTER TABLE {}.work_pools ADD CONSTRAINT work_pools_name_key UNIQUE (name)",
        "ALTER TABLE {}.variables ADD CONSTRAINT variables_pkey PRIMARY KEY (name)",
        "DROP INDEX {}.uq_flow_runs_flow_id_idempotency_key",
        "DROP INDEX {}.uq_work_queues_pool_name",
        "DROP FUNCTION {}.flowrun_text_digest",
        (
            "ALTER TABLE {}.flow_runs ADD CONSTRAINT uq_flow_runs_flow_id_idempotency_key"
            " UNIQUE (flow_id, idempotency_key)"
        ),
        (
            "ALTER TABLE {}.work_queues ADD CONSTRAINT uq_work_queues_pool_name"
            " UNIQUE (work_pool_id, name)"
        ),
        "DELETE FROM {}.schema_migrations WHERE version > 3",
    ):
        conn.execute(psycopg.sql.SQL(statement).format(ident))
    assert schema_version(conn, schema) == 3


def test_version_3_is_upgraded_keeping_keys_unique(schema: str) -> None:
    """0004 and 0005 re-key the unique indexes on digests: stored keys and names keep their
    meaning, and long ones fit."""
    with PostgresRepository(URL, schema=schema) as before:
        world = seed_world(before)
        first = make_run(world.flow.id, idempotency_key="kept")
        before.create_flow_run(first)
    with raw() as conn:  # the rows stay; the schema goes back to what version 3 made
        _back_to_version_3(conn, schema)
    with PostgresRepository(URL, schema=schema) as repo:
        again = repo.create_flow_run(make_run(world.flow.id, idempotency_key="kept"))
        assert again.created is False
        assert again.value.id == first.id
        with pytest.raises(StorageIntegrityError):
            repo.create_work_queue(
                WorkQueue(
                    id=uuid.uuid4(), name=world.queue.name, work_pool_id=world.pool.id, priority=9
                )
            )
        with pytest.raises(StorageIntegrityError):
            repo.add_work_pool(WorkPool(id=uuid.uuid4(), name=world.pool.name))
        assert repo.get_work_pool_by_name(world.pool.name) == world.pool
        long_key = "".join(random.Random(4).choices(string.ascii_letters, k=20_000))
        assert repo.create_flow_run(make_run(world.flow.id, idempotency_key=long_key)).created
        repo.add_variable(Variable(id=uuid.uuid4(), name=long_key, value=1))
        assert repo.get_variable(long_key) is not None
    with raw() as conn:
        assert schema_version(conn, schema) == SCHEMA_VERSION


def test_older_schema_is_upgraded_on_open(schema: str) -> None:
    with PostgresRepository(URL, schema=schema):
        pass
    ident = psycopg.sql.Identifier(schema)
    with raw() as conn:  # back to version 1
        _back_to_version_3(conn, schema)
        for index in ("ix_flow_runs_flow", "ix_flow_runs_deployment", "ix_task_runs_flow_run"):
            conn.execute(
                psycopg.sql.SQL("DROP INDEX {}.{}").format(ident, psycopg.sql.Identifier(index))
            )
        conn.execute(psycopg.sql.SQL("DROP INDEX {}.ix_deployments_flow").format(ident))
        conn.execute(psycopg.sql.SQL("DROP TABLE {}.flow_run_fingerprints").format(ident))
        conn.execute(
            psycopg.sql.SQL("DELETE FROM {}.schema_migrations WHERE version > 1").format(ident)
        )
        assert schema_version(conn, schema) == 1
    with PostgresRepository(URL, schema=schema) as repo:
        run = make_run(seed_world(repo).flow.id)
        repo.create_flow_run(run)
        repo.set_flow_run_fingerprint(run.id, "fp")
        assert repo.get_flow_run_fingerprint(run.id) == "fp"
    with raw() as conn:
        assert schema_version(conn, schema) == SCHEMA_VERSION


def test_newer_schema_is_refused(schema: str) -> None:
    with PostgresRepository(URL, schema=schema):
        pass
    with raw() as conn:
        conn.execute(
            psycopg.sql.SQL("INSERT INTO {}.schema_migrations VALUES (%s, 'future')").format(
                psycopg.sql.Identifier(schema)
            ),
            (SCHEMA_VERSION + 1,),
        )
    with pytest.raises(StorageSchemaError, match="newer"):
        PostgresRepository(URL, schema=schema)


def test_flowrun_tables_without_a_record_are_refused(schema: str) -> None:
    with raw() as conn:
        conn.execute(psycopg.sql.SQL("CREATE SCHEMA {}").format(psycopg.sql.Identifier(schema)))
        conn.execute(
            psycopg.sql.SQL("CREATE TABLE {}.flows (x int)").format(psycopg.sql.Identifier(schema))
        )
    with pytest.raises(StorageSchemaError, match="no recorded"):
        PostgresRepository(URL, schema=schema)


def test_concurrent_first_opens_migrate_once(schema: str) -> None:
    errors: list[BaseException] = []
    barrier = threading.Barrier(6)

    def open_one() -> None:
        try:
            barrier.wait()
            PostgresRepository(URL, schema=schema, pool_min=0).close()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=open_one) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with raw() as conn:
        count = conn.execute(
            psycopg.sql.SQL("SELECT count(*) FROM {}.schema_migrations").format(
                psycopg.sql.Identifier(schema)
            )
        ).fetchone()
    assert count == (len(MIGRATIONS),)


# -- URLs and options -------------------------------------------------------------------------


def test_open_repository_and_from_url(schema: str) -> None:
    url = (
        f"{URL}?schema={schema}&pool_max=2&statement_timeout=5&sslmode=disable"
        "&synchronous_commit=off&application_name=flowrun-url-test"
    )
    repo = open_repository(url)
    try:
        assert isinstance(repo, PostgresRepository)
        assert repo.schema == schema
        assert repo.application_name == "flowrun-url-test"
        with repo.transaction():  # the session settings came from the URL
            conn = repo._current.get().conn  # type: ignore[union-attr]
            assert conn.execute("SHOW synchronous_commit").fetchone() == ("off",)
            assert conn.execute("SHOW statement_timeout").fetchone() == ("5s",)
            assert conn.execute("SHOW search_path").fetchone() == (schema,)
        flow = new_flow(repo)
        assert repo.get_flow(flow.id) == flow
    finally:
        repo.close()
    with PostgresRepository.from_url(url.replace("postgresql://", "postgres://")) as again:
        assert again.get_flow(flow.id) == flow


def test_bad_urls_and_options() -> None:
    with pytest.raises(ValueError, match="PostgreSQL URL"):
        PostgresRepository.from_url("mysql://x/y")
    with pytest.raises(ValueError, match="pool_min"):
        PostgresRepository(URL, pool_min=3, pool_max=2)
    with pytest.raises(ValueError, match="statement_timeout"):
        PostgresRepository(URL, statement_timeout=0)
    with pytest.raises(ValueError, match="synchronous_commit"):
        PostgresRepository(URL, synchronous_commit="sometimes")
    with pytest.raises(ValueError, match="URL option pool_max must be an integer, not 'many'"):
        PostgresRepository.from_url(f"{URL}?pool_max=many")
    with pytest.raises(ValueError, match="URL option connect_timeout must be a number"):
        PostgresRepository.from_url(f"{URL}?connect_timeout=soon")


def test_two_long_schema_names_never_share_a_store() -> None:
    """PostgreSQL cuts names past 63 bytes: these two used to open one store."""
    base = "flowrun_" + "x" * 55
    assert len(base) == 63
    with DisposableRepository(schema=base) as longest:
        assert longest.schema == base
    for name in (base + "a", base + "b", "é" * 32):
        with pytest.raises(
            ValueError, match=r"schema must be at most 63 bytes in UTF-8, not 6[45]"
        ):
            PostgresRepository(URL, schema=name)
    with pytest.raises(ValueError, match="NUL"):
        PostgresRepository(URL, schema="a\x00b")
    with pytest.raises(ValueError, match="valid Unicode"):
        PostgresRepository(URL, schema="a\ud800")
    with pytest.raises(ValueError, match="at most 63 bytes"):
        PostgresRepository.from_url(f"{URL}?schema={base}z")
    with raw() as conn:
        cut = conn.execute(
            "SELECT count(*) FROM pg_namespace WHERE nspname LIKE %s", (base[:60] + "%",)
        ).fetchone()
    assert cut == (0,)


@pytest.mark.parametrize("option", ["statement_timeout", "pool_timeout", "connect_timeout"])
@pytest.mark.parametrize("seconds", [math.inf, 1e7, MAX_TIMEOUT + 0.001, math.nan, 0, -1])
def test_a_timeout_out_of_range_is_refused_before_connecting(option: str, seconds: float) -> None:
    """Before, an infinite or too long timeout crashed (OverflowError), hung for the pool
    timeout and blamed the server, or claimed "a value cannot be stored"."""
    unreachable = "postgresql://postgres@127.0.0.1:1/none"
    with pytest.raises(ValueError, match=rf"{option} must be > 0 and at most 2,147,483\.647"):
        PostgresRepository(unreachable, **{option: seconds})
    with pytest.raises(ValueError, match=option):
        PostgresRepository.from_url(f"{unreachable}?{option}={seconds}")


def test_the_longest_statement_timeout_is_set_whole() -> None:
    longest = dict.fromkeys(("statement_timeout", "pool_timeout"), MAX_TIMEOUT)
    with (
        DisposableRepository(**longest, connect_timeout=MAX_TIMEOUT) as repo,
        repo._pool.connection() as conn,
    ):
        assert conn.execute("SHOW statement_timeout").fetchone() == ("2147483647ms",)


# -- faults: typed errors with clear messages ---------------------------------------------------


def _other(url: str, **changes: str) -> str:
    params = psycopg.conninfo.conninfo_to_dict(url)
    params.update(changes)
    return psycopg.conninfo.make_conninfo(**params)


def test_connection_refused_is_storage_unavailable() -> None:
    with pytest.raises(StorageUnavailable, match=r"refused|could not connect|failed") as info:
        PostgresRepository(_other(URL, host="127.0.0.1", port="1"), connect_timeout=2)
    assert "127.0.0.1:1" in str(info.value)


def test_unknown_role_is_access_denied() -> None:
    with pytest.raises(StorageAccessDenied, match="role") as info:
        PostgresRepository(_other(URL, user=f"nobody_{uuid.uuid4().hex[:6]}", password="sekrit"))
    assert "sekrit" not in str(info.value)


def test_unknown_database_is_access_denied() -> None:
    with pytest.raises(StorageAccessDenied, match="database"):
        PostgresRepository(_other(URL, dbname=f"nodb_{uuid.uuid4().hex[:6]}"))


def test_statement_timeout_is_storage_timeout() -> None:
    with DisposableRepository(statement_timeout=0.2) as repo:
        flow = new_flow(repo)
        ident = psycopg.sql.Identifier(repo.schema)
        with raw() as conn, conn.transaction():
            conn.execute(psycopg.sql.SQL("LOCK TABLE {}.flow_runs").format(ident))
            with pytest.raises(StorageTimeout, match="statement timeout"):
                repo.create_flow_run(run_of(flow, "k"))
            with pytest.raises(StorageTimeout), repo.transaction():
                repo.count_flow_runs()
        # the pool is healthy afterwards, and nothing was written
        assert repo.count_flow_runs() == 0
        assert repo.create_flow_run(run_of(flow, "k")).created


def test_pool_exhaustion_is_storage_unavailable() -> None:
    with DisposableRepository(pool_min=0, pool_max=1, pool_timeout=0.2) as repo:
        flow = new_flow(repo)
        with repo.transaction():
            failures: list[BaseException] = []

            def other() -> None:
                try:
                    repo.count_flow_runs()
                except BaseException as exc:
                    failures.append(exc)

            worker = threading.Thread(target=other)
            worker.start()
            worker.join()
            repo.create_flow_run(run_of(flow))
        assert len(failures) == 1
        assert isinstance(failures[0], StorageUnavailable)
        assert repo.count_flow_runs() == 1


def terminate_backends(application_name: str) -> int:
    with raw() as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name = %s AND pid <> pg_backend_pid()",
            (application_name,),
        ).fetchall()
    return len(rows)


def test_pool_recovers_after_backends_are_terminated() -> None:
    name = f"flowrun-fault-{uuid.uuid4().hex[:8]}"
    with DisposableRepository(application_name=name, pool_min=2, pool_max=4) as repo:
        flow = new_flow(repo)
        runs = [repo.create_flow_run(run_of(flow, f"k{i}")).value for i in range(5)]
        assert terminate_backends(name) >= 1
        time.sleep(0.1)
        # idle connections died with their backends; the next calls still work
        assert repo.get_flow_run(runs[0].id) == runs[0]
        created = repo.create_flow_run(run_of(flow, "after"))
        assert created.created
        assert terminate_backends(name) >= 1
        time.sleep(0.1)
        with repo.transaction():  # BEGIN on a dead connection is retried on a fresh one
            repo.create_flow_run(run_of(flow, "in-tx"))
        assert repo.count_flow_runs() == 7


def test_no_acknowledged_run_is_lost_when_backends_die_mid_stream() -> None:
    name = f"flowrun-stream-{uuid.uuid4().hex[:8]}"
    with DisposableRepository(application_name=name, pool_min=2, pool_max=4) as repo:
        flow = new_flow(repo)
        acknowledged: dict[str, uuid.UUID] = {}
        failures: list[BaseException] = []
        stop = threading.Event()

        def stream(worker: int) -> None:
            i = 0
            while not stop.is_set():
                key = f"w{worker}-{i}"
                try:
                    with repo.transaction():
                        repo.get_flow(flow.id)
                        result = repo.create_flow_run(run_of(flow, key))
                except StorageOperationalError as exc:
                    failures.append(exc)
                    continue  # not acknowledged: try the same key again
                acknowledged[key] = result.value.id
                i += 1

        workers = [threading.Thread(target=stream, args=(w,)) for w in range(3)]
        for worker in workers:
            worker.start()
        killed = 0
        try:
            for _ in range(4):
                time.sleep(0.15)
                killed += terminate_backends(name)
            time.sleep(0.15)
        finally:
            stop.set()
            for worker in workers:
                worker.join()
        assert killed >= 4
        assert len(acknowledged) > 20
        stored = {run.idempotency_key: run.id for run in repo.list_flow_runs()}
        assert {k: stored.get(k) for k in acknowledged} == acknowledged
        # at most one unacknowledged run per worker (the one in flight when it stopped)
        assert len(stored) - len(acknowledged) <= len(workers)
        assert all(isinstance(f, StorageUnavailable) for f in failures), failures


def _pg_error(cls: type[Exception], message: str = "boom") -> Exception:
    return cls(message)


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (_pg_error(pg_errors.UniqueViolation), StorageIntegrityError),
        (_pg_error(pg_errors.ForeignKeyViolation), StorageIntegrityError),
        (_pg_error(pg_errors.NotNullViolation), StorageIntegrityError),
        (_pg_error(pg_errors.QueryCanceled), StorageTimeout),
        (_pg_error(pg_errors.LockNotAvailable), StorageLocked),
        (_pg_error(pg_errors.DeadlockDetected), StorageLocked),
        (_pg_error(pg_errors.SerializationFailure), StorageOperationalError),
        (_pg_error(pg_errors.InvalidPassword), StorageAccessDenied),
        (_pg_error(pg_errors.InvalidCatalogName), StorageAccessDenied),
        (_pg_error(pg_errors.InsufficientPrivilege), StorageAccessDenied),
        (_pg_error(pg_errors.AdminShutdown), StorageUnavailable),
        (_pg_error(pg_errors.CannotConnectNow), StorageUnavailable),
        (_pg_error(pg_errors.ReadOnlySqlTransaction), StorageReadOnly),
        (_pg_error(pg_errors.DiskFull), StorageFull),
        (_pg_error(pg_errors.DataCorrupted), StorageCorrupt),
        (_pg_error(pg_errors.UndefinedTable), StorageSchemaError),
        (_pg_error(pg_errors.InFailedSqlTransaction), StorageError),
        (_pg_error(psycopg.OperationalError, "connection refused"), StorageUnavailable),
        (
            _pg_error(psycopg.OperationalError, 'FATAL: role "x" does not exist'),
            StorageAccessDenied,
        ),
        (_pg_error(psycopg.InterfaceError, "the connection is closed"), StorageUnavailable),
        (_pg_error(psycopg.DataError, "NUL"), StorageError),
        (OverflowError("int too large"), StorageValueError),
        (UnicodeEncodeError("utf-8", "\udfff", 0, 1, "surrogates not allowed"), StorageValueError),
    ],
)
def test_translate_error_table(exc: BaseException, expected: type[StorageError]) -> None:
    translated = translate_error(exc, "PostgreSQL server h:1")
    assert type(translated) is expected
    assert "PostgreSQL server h:1" in str(translated)


def test_entity_without_parent_task_run_is_an_integrity_error(repo: DisposableRepository) -> None:
    flow = new_flow(repo)
    parent = run_of(flow)
    repo.add_flow_run(parent)
    task = TaskRun(id=uuid.uuid4(), flow_run_id=parent.id)
    repo.add_task_run(task)
    child = run_of(flow, parent_task_run_id=task.id)
    assert repo.create_flow_run(child).created
    with pytest.raises(StorageIntegrityError):
        repo.create_flow_run(run_of(flow, parent_task_run_id=uuid.uuid4()))


# -- Prefect's recorded answers, replayed on PostgreSQL ------------------------------------

COMPAT = Path(__file__).resolve().parents[1] / "compat"


def _compat_pairs() -> list[tuple[Path, Path]]:
    sys.path.insert(0, str(COMPAT))
    from replay import scenario_pairs  # noqa: PLC0415 - the compat helpers live beside it

    return scenario_pairs(COMPAT / "sample") + scenario_pairs(COMPAT / "extra")


COMPAT_PAIRS = _compat_pairs()


@pytest.mark.parametrize(
    ("scenario_path", "result_path"), COMPAT_PAIRS, ids=[p[0].stem for p in COMPAT_PAIRS]
)
def test_recorded_prefect_answers_replay_on_postgres(
    scenario_path: Path, result_path: Path
) -> None:
    import normalise as nm  # noqa: PLC0415 - on sys.path through _compat_pairs
    from replay import replay_scenario  # noqa: PLC0415

    expected = json.loads(result_path.read_text())
    for scenario in nm.load_scenarios(scenario_path):
        actual = replay_scenario(scenario, DisposableRepository)
        differences = nm.compare_results(expected, actual)
        assert differences == [], "\n".join(differences)
