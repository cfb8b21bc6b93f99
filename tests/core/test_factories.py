"""The default id factories: Prefect's versions, plain ``uuid.UUID`` values, no repeats after fork."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable

import pytest

from flowrun_core.factories import new_state_uuid, new_uuid


@pytest.mark.parametrize(("factory", "version"), [(new_uuid, 4), (new_state_uuid, 7)])
def test_default_ids_are_plain_uuids_of_prefects_versions(
    factory: Callable[[], uuid.UUID], version: int
) -> None:
    ids = [factory() for _ in range(1000)]
    assert all(type(value) is uuid.UUID for value in ids)
    assert {value.version for value in ids} == {version}
    assert {value.variant for value in ids} == {uuid.RFC_4122}
    assert len(set(ids)) == 1000
    # A plain UUID round-trips through its text, as every adapter stores it.
    assert all(uuid.UUID(str(value)) == value for value in ids)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
@pytest.mark.parametrize("factory", [new_uuid, new_state_uuid])
def test_a_forked_child_never_repeats_its_parents_ids(factory: Callable[[], uuid.UUID]) -> None:
    factory()  # the generator is seeded in the parent before the fork
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child process
        try:
            os.write(write, "\n".join(str(factory()) for _ in range(100)).encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        child = {uuid.UUID(line) for line in pipe.read().split()}
    os.waitpid(pid, 0)
    parent = {factory() for _ in range(100)}
    assert len(child) == 100
    assert child.isdisjoint(parent)
