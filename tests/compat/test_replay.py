"""Replay Prefect 3.9.1's recorded answers through our wire façade, on memory and SQLite files."""

from __future__ import annotations

import itertools
import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

import normalise as nm  # noqa: E402
from flowrun_adapters import open_repository  # noqa: E402
from replay import TIME_OF_DAY_SCENARIOS, replay_scenario, scenario_pairs  # noqa: E402

from flowrun_core.ports import Repository  # noqa: E402
from flowrun_core.wire import lax  # noqa: E402

PAIRS = scenario_pairs(HERE / "sample") + scenario_pairs(HERE / "extra")


@pytest.mark.parametrize("adapter", ["memory", "sqlite"])
@pytest.mark.parametrize(("scenario_path", "result_path"), PAIRS, ids=[p[0].stem for p in PAIRS])
def test_scenario_matches_prefect(
    scenario_path: Path, result_path: Path, adapter: str, tmp_path: Path
) -> None:
    expected = json.loads(result_path.read_text())
    files = itertools.count()

    def fresh() -> Repository:
        if adapter == "memory":
            return open_repository("memory:")
        return open_repository(f"sqlite:///{tmp_path}/replay-{next(files)}.db")

    for scenario in nm.load_scenarios(scenario_path):
        actual = replay_scenario(scenario, fresh)
        differences = nm.compare_results(expected, actual)
        assert differences == [], "\n".join(differences)


def test_the_sample_is_vendored() -> None:
    assert len(scenario_pairs(HERE / "sample")) == 30


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [text for item in value.values() for text in _strings(item)]
    if isinstance(value, list):
        return [text for item in value for text in _strings(item)]
    return []


def _read_on(text: str, days: int, monkeypatch: pytest.MonkeyPatch) -> str:
    """How the wire reads ``text`` as a date-time with "today" moved by ``days``."""
    real = datetime.now(UTC).date()
    monkeypatch.setattr(lax, "_today", lambda: real + timedelta(days=days))
    try:
        return repr(lax.parse_datetime(text)) + repr(lax.fails_after_validation(text))
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"


def test_the_time_of_day_list_is_complete(monkeypatch: pytest.MonkeyPatch) -> None:
    """A scenario holding a string the wire reads differently on another day is listed, or
    matches Prefect's recorded answers whichever way the day moves.

    "Today" reaches the wire only through :func:`lax._today`, when it reads a date-time.
    """
    dated: dict[str, tuple[dict[str, Any], Path]] = {}
    for scenario_path, result_path in PAIRS:
        for scenario in nm.load_scenarios(scenario_path):
            for text in _strings(scenario.get("requests")):
                if _read_on(text, -1, monkeypatch) != _read_on(text, 1, monkeypatch):
                    dated[str(scenario["name"])] = (scenario, result_path)
                    break
    monkeypatch.undo()
    assert set(TIME_OF_DAY_SCENARIOS) <= set(dated)
    for name, (scenario, result_path) in dated.items():
        if name in TIME_OF_DAY_SCENARIOS:
            continue
        expected = json.loads(result_path.read_text())
        for days in (-1, 1):
            monkeypatch.setitem(TIME_OF_DAY_SCENARIOS, name, days)  # type: ignore[arg-type]
            actual = replay_scenario(scenario, lambda: open_repository("memory:"))
            assert nm.compare_results(expected, actual) == [], (name, days)
