"""The default clock, id and name factories; tests and harnesses inject their own."""

from __future__ import annotations

import functools
import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Final

import coolname
from uuid_utils import compat as uuid_compat

_SLUG = re.compile(r"^[a-z]+-[a-z]+$")
# Words we never put in a generated run name.
_BLOCKED_WORDS = frozenset({"sexy", "demonic", "psycho", "bloody", "jihad", "nazi"})


utc_now: Final[Callable[[], datetime]] = functools.partial(datetime.now, UTC)
"""The current time as an aware UTC ``datetime``: ``datetime.now(UTC)``.

A ``functools.partial`` rather than a function: a create reads the clock four times, and
the partial calls straight into C without a Python frame of its own."""


def later_than(earlier: datetime, now: datetime) -> datetime:
    """``now``, or one microsecond after ``earlier`` when the clock has not moved on.

    Prefect's ``updated`` is written after ``created`` by the database, so it is always
    later; a fast or injected clock can return the same instant twice.
    """
    return now if now > earlier else earlier + timedelta(microseconds=1)


def new_uuid() -> uuid.UUID:
    """A random version-4 UUID (Prefect's run and work-queue ids are ``uuid4``).

    Made by the ``uuid-utils`` package's compiled ``uuid4`` (half the cost of
    :func:`uuid.uuid4`), whose generator is reseeded in a forked child, so processes forked
    from one parent never repeat each other's ids. The value is a plain :class:`uuid.UUID`.
    """
    return uuid_compat.uuid4()


def new_state_uuid() -> uuid.UUID:
    """A time-ordered version-7 UUID (RFC 9562), as Prefect makes a new state's id.

    The first 48 bits are the Unix time in milliseconds, the rest random, so ids sort by
    creation time. The value is a plain :class:`uuid.UUID`.
    """
    return uuid_compat.uuid7()


def state_id_factory(
    new_id: Callable[[], uuid.UUID], new_state_id: Callable[[], uuid.UUID] | None
) -> Callable[[], uuid.UUID]:
    """Where state ids come from: ``new_state_id`` if given, else as Prefect (UUIDv7).

    An injected ``new_id`` given alone names the states too, so a caller who injects the
    clock, id and name factories for deterministic runs gets them without a fourth one.
    """
    if new_state_id is not None:
        return new_state_id
    return new_state_uuid if new_id is new_uuid else new_id


def adjective_animal_slug() -> str:
    """A two-word ``adjective-animal`` run name, such as ``crimson-otter``."""
    while True:
        words = coolname.generate(2)
        if _BLOCKED_WORDS.isdisjoint(words):
            slug = "-".join(words)
            if _SLUG.match(slug):
                return slug
