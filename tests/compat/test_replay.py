"""Replay Prefect 3.9.1's recorded answers through our wire façade, on memory and SQLite files."""

from __future__ import annotations

import itertools
import json
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

import normalise as nm  # noqa: E402
from flowrun_adapters import open_repository  # noqa: E402
from replay import replay_scenario, scenario_pairs  # noqa: E402

from flowrun_core.ports import Repository  # noqa: E402

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
