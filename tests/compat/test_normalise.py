"""Unit tests of tests/compat/normalise.py on synthetic inputs."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType

import pytest


def _load() -> ModuleType:
    path = Path(__file__).with_name("normalise.py")
    spec = importlib.util.spec_from_file_location("compat_normalise", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["compat_normalise"] = module
    spec.loader.exec_module(module)
    return module


N = _load()

T0 = datetime(2030, 5, 1, 12, 0, 0, tzinfo=UTC)
FLOW = "aaaaaaaa-0000-4000-8000-000000000001"
DEP = "aaaaaaaa-0000-4000-8000-000000000002"
POOL = "aaaaaaaa-0000-4000-8000-000000000003"
QUEUE = "aaaaaaaa-0000-4000-8000-000000000004"
RUN1 = "bbbbbbbb-0000-4000-8000-000000000001"
RUN2 = "bbbbbbbb-0000-4000-8000-000000000002"
STATE1 = "cccccccc-0000-7000-8000-000000000001"
STATE2 = "cccccccc-0000-7000-8000-000000000002"
OTHER = "dddddddd-0000-4000-8000-000000000009"
OTHER2 = "dddddddd-0000-4000-8000-00000000000a"


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def run_body(
    run_id: str, state_id: str, name: str, at: datetime, **extra: object
) -> dict[str, object]:
    body: dict[str, object] = {
        "id": run_id,
        "created": iso(at),
        "updated": iso(at + timedelta(microseconds=500)),
        "name": name,
        "flow_id": FLOW,
        "state_id": state_id,
        "deployment_id": DEP,
        "tags": ["b", "a", "c"],
        "empirical_policy": {"pause_keys": ["z", "y"], "retries": None},
        "expected_start_time": iso(at),
        "estimated_start_time_delta": 0.0109,
        "estimated_run_time": 0.0,
        "state": {
            "id": state_id,
            "type": "SCHEDULED",
            "timestamp": iso(at),
            "state_details": {"flow_run_id": run_id, "scheduled_time": iso(at)},
        },
    }
    body.update(extra)
    return body


def raw(request: dict[str, object], status: int, body: object, at: datetime = T0) -> object:
    return N.RawResponse(
        request=request,
        status_code=status,
        content_type="application/json",
        body_text=json.dumps(body),
        t_before=at - timedelta(milliseconds=5),
        t_after=at + timedelta(milliseconds=5),
    )


SCENARIO: dict[str, object] = {
    "name": "x_case",
    "setup": {"deployments": [{"ref": "dep", "flow": "etl"}]},
    "requests": [{"deployment": "dep", "body": {"name": "my-run"}}, {"deployment": "dep"}],
}
IDS = {"flow": {"etl": FLOW}, "deployment": {"dep": DEP}}
POOLS = [N.WorkPoolSnapshot(name="pool-a", id=POOL, queues={"default": QUEUE})]


def normalise(
    scenario: dict[str, object], responses: list[object], **kw: object
) -> dict[str, object]:
    kw.setdefault("pools_after", POOLS)
    return N.normalise_result(
        scenario, IDS, {}, responses, implementation="test-impl", version="0", **kw
    )


# --- placeholders ---------------------------------------------------------------------------


def test_placeholder_order_setup_then_runs_then_states_then_other_uuids() -> None:
    reqs = SCENARIO["requests"]
    assert isinstance(reqs, list)
    body2 = run_body(RUN2, STATE2, "brave-otter", T0, context={"k": OTHER2, "j": OTHER})
    responses = [raw(reqs[0], 201, run_body(RUN1, STATE1, "my-run", T0)), raw(reqs[1], 201, body2)]
    result = normalise(SCENARIO, responses)
    first, second = result["responses"]
    assert first["body"]["id"] == "<flow_run_id:1>"
    assert first["body"]["state_id"] == "<state_id:1>"
    assert first["body"]["state"]["state_details"]["flow_run_id"] == "<flow_run_id:1>"
    assert first["body"]["flow_id"] == "<flow_id:etl>"
    assert first["body"]["deployment_id"] == "<deployment_id:dep>"
    assert second["body"]["id"] == "<flow_run_id:2>"
    assert second["body"]["state"]["id"] == "<state_id:2>"
    # Other UUIDs are numbered in the order the walk meets them (document order).
    assert second["body"]["context"] == {"k": "<uuid:1>", "j": "<uuid:2>"}


def test_setup_entity_wins_over_later_assignment_and_pool_queue_placeholders() -> None:
    body = run_body(FLOW, STATE1, "x", T0, work_queue_id=QUEUE, work_pool_id=POOL)
    result = normalise(SCENARIO, [raw({"deployment": "dep"}, 201, body)])
    out = result["responses"][0]["body"]
    assert out["id"] == "<flow_id:etl>"  # first assignment (setup) wins
    assert out["state_id"] == "<state_id:1>"
    assert out["work_queue_id"] == "<work_queue_id:pool-a/default>"
    assert out["work_pool_id"] == "<work_pool_id:pool-a>"


def test_uuid_case_insensitive_and_substring_and_literal_uuid_kept() -> None:
    scenario = dict(SCENARIO, notes=f"mentions {OTHER.upper()}")
    body = {"detail": f"deployment {DEP.upper()} and {OTHER} and {OTHER2}!"}
    result = normalise(scenario, [raw({"deployment": "dep"}, 400, body)])
    assert result["responses"][0]["body"] == {
        "detail": f"deployment <deployment_id:dep> and {OTHER} and <uuid:1>!"
    }
    assert result["responses"][0]["relations"] is None


def test_same_run_returned_twice_keeps_placeholder_and_slug() -> None:
    body = run_body(RUN1, STATE1, "calm-fox", T0)
    later = T0 + timedelta(seconds=3)
    responses = [
        raw({"deployment": "dep"}, 201, body),
        raw({"deployment": "dep"}, 200, body, at=later),
    ]
    result = normalise(SCENARIO, responses)
    a, b = (r["body"] for r in result["responses"])
    assert a["id"] == b["id"] == "<flow_run_id:1>"
    assert a["name"] == b["name"] == "<slug:1>"
    assert result["responses"][1]["relations"]["time_position"]["created"] == "before_request"


def test_slug_numbering_and_literal_name_kept() -> None:
    responses = [
        raw({"deployment": "dep"}, 201, run_body(RUN1, STATE1, "calm-fox", T0)),
        raw({"deployment": "dep"}, 201, run_body(RUN2, STATE2, "my-run", T0)),
        raw({"deployment": "dep"}, 201, run_body(OTHER, OTHER2, "wild-cat", T0)),
    ]
    result = normalise(SCENARIO, responses)
    names = [r["body"]["name"] for r in result["responses"]]
    assert names == ["<slug:1>", "my-run", "<slug:2>"]
    rel = [r["relations"] for r in result["responses"]]
    assert [x["name_is_generated"] for x in rel] == [True, False, True]
    assert [x["name_matches_adjective_animal_slug"] for x in rel] == [True, True, True]


def test_flow_run_body_adjustments() -> None:
    body = run_body(RUN1, STATE1, "x", T0, estimated_run_time=-0.5)
    result = normalise(SCENARIO, [raw({"deployment": "dep"}, 201, body)])
    out = result["responses"][0]["body"]
    assert out["tags"] == ["a", "b", "c"]
    assert out["empirical_policy"]["pause_keys"] == ["y", "z"]
    assert out["estimated_start_time_delta"] == "<positive>"
    assert out["estimated_run_time"] == "<negative>"


def test_zero_estimates_kept_with_their_type() -> None:
    body = run_body(RUN1, STATE1, "x", T0, estimated_start_time_delta=0, estimated_run_time=0.0)
    out = normalise(SCENARIO, [raw({"deployment": "dep"}, 201, body)])["responses"][0]["body"]
    assert out["estimated_start_time_delta"] == 0
    assert isinstance(out["estimated_start_time_delta"], int)
    assert isinstance(out["estimated_run_time"], float)


# --- string rewrite -------------------------------------------------------------------------


def test_timestamp_literal_kept_with_its_spelling_others_replaced() -> None:
    scenario = dict(
        SCENARIO, requests=[{"deployment": "dep", "body": {"t": "2030-01-01T00:00:00+00:00"}}]
    )
    body = {
        "a": "2030-01-01T00:00:00Z",
        "b": "2030-01-01T02:00:00+02:00",
        "c": "2031-01-01T00:00:00Z",
    }
    body |= {"d": "2030-01-01", "e": "2030-01-01 00:00", "f": "2030-13-01T00:00:00Z"}
    out = normalise(scenario, [raw({"deployment": "dep"}, 400, body)])["responses"][0]["body"]
    assert out == {
        "a": "2030-01-01T00:00:00Z",
        "b": "2030-01-01T02:00:00+02:00",
        "c": "<timestamp>",
        "d": "2030-01-01",
        "e": "2030-01-01 00:00",
        "f": "2030-13-01T00:00:00Z",
    }


def test_long_string_hash_and_short_string_kept() -> None:
    text = "é" * 2001
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    body = {"long": text, "short": "é" * 2000, text: 1}
    out = normalise(SCENARIO, [raw({"deployment": "dep"}, 422, body)])["responses"][0]["body"]
    marker = f"<long_string len=2001 sha256={digest}>"
    assert out == {"long": marker, "short": "é" * 2000, marker: 1}


def test_non_json_body_goes_to_body_text() -> None:
    response = N.RawResponse(
        request={"deployment": "dep"},
        status_code=500,
        content_type="text/plain; charset=utf-8",
        body_text=f"boom {OTHER}",
        t_before=T0,
        t_after=T0,
    )
    entry = normalise(SCENARIO, [response])["responses"][0]
    assert entry["body"] is None
    assert entry["body_text"] == "boom <uuid:1>"


def test_observed_deployments_rewritten_after_responses_tags_unsorted() -> None:
    dep = {"id": DEP, "flow_id": FLOW, "tags": ["z", "a"], "labels": {"x": OTHER}, "extra": 1}
    result = N.normalise_result(
        SCENARIO,
        IDS,
        {"dep": dep},
        [raw({"deployment": "dep"}, 400, {"detail": OTHER2})],
        implementation="i",
        version="v",
    )
    assert result["responses"][0]["body"] == {"detail": "<uuid:1>"}
    assert result["setup"] == {
        "ok": True,
        "error": None,
        "observed": {
            "deployments": {
                "dep": {
                    "id": "<deployment_id:dep>",
                    "flow_id": "<flow_id:etl>",
                    "tags": ["z", "a"],
                    "labels": {"x": "<uuid:2>"},
                }
            }
        },
    }
    assert result["oracle"] == {"implementation": "i", "version": "v"}
    assert "observed_after_requests" not in result


def test_observe_work_queues_sorted() -> None:
    pools = [
        N.WorkPoolSnapshot("pool-b", OTHER, {"z": STATE1, "default": STATE2}),
        N.WorkPoolSnapshot("pool-a", POOL, {"default": QUEUE}),
    ]
    scenario = dict(SCENARIO, observe=["work_queues"])
    result = normalise(scenario, [], pools_after=pools)
    assert result["observed_after_requests"] == {
        "work_queues": {"pool-a": ["default"], "pool-b": ["default", "z"]}
    }


# --- relations ------------------------------------------------------------------------------


def test_relations_equalities_and_positions() -> None:
    future = T0 + timedelta(days=1)
    body = run_body(RUN1, STATE1, "calm-fox", T0)
    body["expected_start_time"] = iso(future)
    body["state"]["state_details"]["scheduled_time"] = future.isoformat()  # +00:00 spelling
    body["next_scheduled_start_time"] = None
    rel = normalise(SCENARIO, [raw({"deployment": "dep"}, 201, body)])["responses"][0]["relations"]
    assert rel["expected_start_time_eq_state_scheduled_time"] is True
    assert rel["expected_start_time_eq_state_timestamp"] is False
    assert rel["next_scheduled_start_time_eq_expected_start_time"] is None
    assert rel["start_time_eq_state_timestamp"] is None
    assert rel["state_id_eq_state_dot_id"] is True
    assert rel["state_flow_run_id_eq_id"] is True
    assert rel["created_eq_updated"] is False
    assert rel["time_position"]["expected_start_time"] == "after_request"
    assert rel["time_position"]["created"] == "during_request"
    assert rel["time_position"]["start_time"] is None


def test_relations_tolerance_one_millisecond() -> None:
    body = run_body(RUN1, STATE1, "x", T0 - timedelta(milliseconds=5, microseconds=900))
    body["updated"] = iso(T0 - timedelta(milliseconds=6, microseconds=100))
    response = raw({"deployment": "dep"}, 201, body)
    rel = normalise(SCENARIO, [response])["responses"][0]["relations"]
    assert rel["time_position"]["created"] == "during_request"
    assert rel["time_position"]["updated"] == "before_request"


def test_no_relations_on_error_status() -> None:
    body = run_body(RUN1, STATE1, "x", T0)
    entry = normalise(SCENARIO, [raw({"deployment": "dep"}, 409, body)])["responses"][0]
    assert entry["relations"] is None
    assert entry["body"]["id"] == "<flow_run_id:1>"


# --- macros and requests --------------------------------------------------------------------


def test_expand_body_id_and_repeat_macros() -> None:
    body = {
        "parent_task_run_id": "{{id:t1}}",
        "parameters": {"big": {"count": 3, "$s_repeat": "ab"}, "keep": {"count": 3, "s": "ab"}},
        "{{id:t1}}": ["{{id:t1}}x"],
    }
    out = N.expand_body(body, {"t1": RUN1})
    assert out == {
        "parent_task_run_id": RUN1,
        "parameters": {"big": "ababab", "keep": {"count": 3, "s": "ab"}},
        RUN1: ["{{id:t1}}x"],
    }
    with pytest.raises(KeyError):
        N.expand_body("{{id:nope}}", {})


def test_build_http_request_variants() -> None:
    ids = {"dep": DEP}
    req = N.build_http_request({"deployment": "dep", "deployment_id_format": "upper"}, ids)
    assert req.path == f"/deployments/{DEP.upper()}/create_flow_run"
    assert req.content == b"{}"
    assert req.headers == {"content-type": "application/json"}
    req = N.build_http_request({"deployment": "dep", "deployment_id_format": "no_hyphens"}, ids)
    assert req.path == f"/deployments/{DEP.replace('-', '')}/create_flow_run"
    req = N.build_http_request({"deployment_id": "nope", "omit_body": True}, ids)
    assert (req.path, req.content, req.headers) == ("/deployments/nope/create_flow_run", None, {})
    req = N.build_http_request(
        {"deployment": "dep", "raw_body": "{x", "headers": {"Content-Type": "text/plain"}}, ids
    )
    assert req.content == b"{x"
    assert req.headers == {"Content-Type": "text/plain"}


def test_scenario_literals() -> None:
    lits = N.scenario_literals({"name": "n", "k": {"2030-01-01T00:00:00Z": [f"x{OTHER.upper()}"]}})
    assert "2030-01-01T00:00:00Z" in lits.strings
    assert OTHER in lits.uuids
    assert lits.instants == (datetime(2030, 1, 1, tzinfo=UTC),)


# --- comparison -----------------------------------------------------------------------------


def test_compare_is_type_strict_and_skips_implementation_block() -> None:
    base = normalise(SCENARIO, [raw({"deployment": "dep"}, 201, run_body(RUN1, STATE1, "x", T0))])
    other = json.loads(json.dumps(base))
    other["oracle"] = {"implementation": "someone-else", "version": "9"}
    assert N.compare_results(base, other) == []
    other["responses"][0]["body"]["estimated_run_time"] = 0
    other["responses"][0]["status_code"] = 201.0
    other["responses"][0]["body"]["flag"] = True
    diffs = N.compare_results(base, other)
    assert len(diffs) == 3
    assert any("estimated_run_time" in d and "float" in d for d in diffs)
    assert any("unexpected key" in d for d in diffs)


def test_compare_bool_vs_int() -> None:
    assert N.compare_results({"scenario": "a", "x": 1}, {"scenario": "a", "x": True}) != []
    assert N.compare_results({"scenario": "a", "x": [1]}, {"scenario": "a", "x": [1, 2]}) != []


def test_compare_quirk_accepts_4xx_for_recorded_500_only() -> None:
    scenario = dict(SCENARIO, name="quirk_x")
    crash = {"exception_message": "Internal Server Error"}
    expected = normalise(
        scenario,
        [raw({"deployment": "dep"}, 500, crash), raw({"deployment": "dep"}, 404, {"detail": "x"})],
    )
    actual = normalise(
        scenario,
        [
            raw({"deployment": "dep"}, 422, {"detail": "bad"}),
            raw({"deployment": "dep"}, 404, {"detail": "x"}),
        ],
    )
    assert N.compare_results(expected, actual) == []
    still_500 = normalise(
        scenario,
        [raw({"deployment": "dep"}, 500, crash), raw({"deployment": "dep"}, 404, {"detail": "x"})],
    )
    assert len(N.compare_results(expected, still_500)) == 1
    non_quirk = dict(expected, scenario="body_x")
    assert N.compare_results(non_quirk, dict(actual, scenario="body_x")) != []
