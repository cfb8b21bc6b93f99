"""Hypothesis profiles, and assertion rewriting for the shipped conformance kit.

Under ``CI=true`` hypothesis loads its built-in ``ci`` profile by itself; we extend that
profile (re-registering it reloads it) rather than replace it. ``HYPOTHESIS_PROFILE``
picks a profile explicitly.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import settings

pytest.register_assert_rewrite("flowrun_core.testing")

settings.register_profile("ci", settings.get_profile("ci"), max_examples=60, stateful_step_count=25)
settings.register_profile("dev", max_examples=30, deadline=None)
settings.register_profile(
    "thorough",
    settings.get_profile("ci"),
    derandomize=False,
    max_examples=1000,
    stateful_step_count=100,
)
if name := os.environ.get("HYPOTHESIS_PROFILE"):
    settings.load_profile(name)
elif not os.environ.get("CI"):
    settings.load_profile("dev")
