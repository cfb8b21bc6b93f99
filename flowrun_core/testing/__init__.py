"""Test support shipped with flowrun-core (install ``flowrun-core[testing]``).

* :class:`RepositoryContract`: the storage port's conformance tests. An adapter's test
  module subclasses it and supplies a factory; every test then runs against that adapter.
* :mod:`flowrun_core.testing.strategies`: hypothesis strategies for JSON values, parameter
  schemas, deployments, requests, states, keys and work pool templates.
* :mod:`flowrun_core.testing.stateful`: rule-based state machines that check an adapter
  against a pure model, and two adapters against each other.

pytest and hypothesis are imported only when this package is used.
"""

from __future__ import annotations

from flowrun_core.testing.contract import RepositoryContract

__all__ = ["RepositoryContract"]
