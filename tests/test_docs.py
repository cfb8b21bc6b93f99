"""The documentation's examples run, and the example adapter passes the whole kit."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOCS = Path(__file__).parents[1] / "docs"
BLOCK = re.compile(r"```python\n(.*?)```", re.DOTALL)


def _run_doc(name: str) -> dict[str, object]:
    namespace: dict[str, object] = {"__name__": f"docs_{name}"}
    for number, block in enumerate(BLOCK.findall((DOCS / name).read_text("utf-8")), start=1):
        exec(compile(block, f"{name}[python block {number}]", "exec"), namespace)
    return namespace


@pytest.fixture(scope="module")
def adapter_doc() -> dict[str, object]:
    return _run_doc("write-your-own-adapter.md")


def test_the_minimal_adapter_passes_every_contract_test(adapter_doc) -> None:
    contract = adapter_doc["TestDictRepository"]()  # type: ignore[operator]
    names = contract.contract_test_names()
    assert len(names) > 20
    skipped: list[str] = []
    for name in names:
        try:
            contract.run_contract_test(name)
        except pytest.skip.Exception:  # an optional capability it lacks: the others still run
            skipped.append(name)
    # The minimal adapter has none of the optional capabilities; everything else ran and passed.
    assert sorted(skipped) == sorted(OPTIONAL_CAPABILITY_TESTS)


OPTIONAL_CAPABILITY_TESTS = [
    # DeploymentUpdates
    "test_a_deployment_is_replaced_in_place",
    "test_a_replaced_deployment_is_restored_by_a_rollback",
    "test_replacing_needs_the_deployment_and_its_queue",
    # FingerprintStore
    "test_any_fingerprint_text_round_trips",
    "test_fingerprint_of_a_missing_run_is_an_integrity_error",
    "test_fingerprint_rolls_back_with_its_run",
    "test_fingerprint_round_trips_and_is_replaced",
    # CreationLookups
    "test_queues_are_found_by_name_across_pools_in_creation_order",
    "test_task_runs_are_found_by_their_keys",
    # SharedDeploymentReads
    "test_shared_deployment_equals_the_copy",
    "test_shared_deployment_follows_transactions",
    "test_shared_deployment_is_unchanged_by_copies",
    # SharedFlowReads
    "test_shared_flow_equals_the_copy",
    "test_shared_flow_follows_transactions",
    "test_shared_flow_is_unchanged_by_copies",
]


def test_the_minimal_adapter_passes_the_state_machines(adapter_doc) -> None:
    adapter_doc["test_dict_repository_matches_the_model"]()  # type: ignore[operator]
    adapter_doc["test_dict_repository_agrees_with_memory"]()  # type: ignore[operator]


def test_the_minimal_adapter_is_about_a_hundred_lines() -> None:
    text = (DOCS / "write-your-own-adapter.md").read_text("utf-8")
    adapter = BLOCK.findall(text)[0]
    code = [line for line in adapter.splitlines() if line.strip()]
    assert len(code) <= 160


@pytest.mark.parametrize("name", ["reference-model.md"])
def test_other_docs_run(name: str) -> None:
    if not (DOCS / name).exists():
        pytest.fail(f"docs/{name} is missing")
    _run_doc(name)
