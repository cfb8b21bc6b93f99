"""cattrs reads annotations at run time: every attrs class in ``models`` must resolve them."""

from __future__ import annotations

import typing

import attrs
import pytest

from flowrun_core import models

ATTRS_CLASSES = sorted(
    (value for value in vars(models).values() if isinstance(value, type) and attrs.has(value)),
    key=lambda cl: cl.__name__,
)


def test_there_are_models() -> None:
    assert {cl.__name__ for cl in ATTRS_CLASSES} >= {
        "DeploymentFlowRunCreate",
        "FlowRun",
        "State",
        "StateCreate",
    }


@pytest.mark.parametrize("cl", ATTRS_CLASSES, ids=lambda cl: cl.__name__)
def test_annotations_resolve(cl: type) -> None:
    hints = typing.get_type_hints(cl)
    assert set(hints) >= {field.name for field in attrs.fields(cl)}
    attrs.resolve_types(cl)
