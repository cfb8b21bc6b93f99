"""Replay Prefect 3.9.1's recorded answers through our wire façade, on every adapter."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

import normalise as nm  # noqa: E402
from flowrun_adapters import open_repository  # noqa: E402
from replay import replay_scenario, scenario_pairs  # noqa: E402

PAIRS = scenario_pairs(HERE / "sample") + scenario_pairs(HERE / "extra")


@pytest.mark.parametrize(("scenario_path", "result_path"), PAIRS, ids=[p[0].stem for p in PAIRS])
def test_scenario_matches_prefect(scenario_path: Path, result_path: Path) -> None:
    expected = json.loads(result_path.read_text())
    for scenario in nm.load_scenarios(scenario_path):
        actual = replay_scenario(scenario, lambda: open_repository("memory:"))
        differences = nm.compare_results(expected, actual)
        assert differences == [], "\n".join(differences)


def test_the_sample_is_vendored() -> None:
    assert len(scenario_pairs(HERE / "sample")) == 30
