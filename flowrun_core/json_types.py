"""The recursive JSON alias, and the deep-copy helpers every layer shares."""

from __future__ import annotations

from collections.abc import Callable
from typing import Final, TypeAlias

JSON: TypeAlias = "bool | int | float | str | list[JSON] | dict[str, JSON] | None"
"""Any JSON value as Python's :mod:`json` module produces it."""


def copy_json(value: JSON) -> JSON:
    """Return a deep copy of a JSON tree (dicts and lists are copied, scalars shared).

    Recursive (fast) for trees up to :data:`RECURSIVE_LEVELS` deep; a deeper tree is copied
    iteratively instead, so no depth makes it raise ``RecursionError``.
    """
    try:
        return _copy_recursive(value, RECURSIVE_LEVELS)
    except (TooDeepForRecursion, RecursionError):
        return _copy_iterative(value)


RECURSIVE_LEVELS: Final = 100
"""How many levels a recursive (fast) walk of a JSON tree takes before it hands the tree to
an iterative one. A recursive walk must stop well short of the interpreter's recursion limit,
not run into it: a garbage collection triggered at the bottom of a stack already at the
limit runs the finalizers of unrelated objects there, which then fail for want of stack and
are reported to ``sys.unraisablehook``."""


class TooDeepForRecursion(Exception):
    """Raised by a recursive walk at :data:`RECURSIVE_LEVELS`: the iterative walk takes over."""


TWO_TO_THE_63: Final = 2.0**63
"""``2**63`` as a float: 64-bit signed integers are the whole numbers in ``[-2**63, 2**63)``."""

SCALAR_TYPES: Final = frozenset({str, int, float, bool, type(None)})
"""The exact types of JSON's scalars: a child of one of them is shared without a call."""


def _copy_recursive(value: JSON, room: int) -> JSON:
    if isinstance(value, dict):
        if not room:
            raise TooDeepForRecursion
        room -= 1
        return {
            k: v if type(v) in SCALAR_TYPES else _copy_recursive(v, room) for k, v in value.items()
        }
    if isinstance(value, list):
        if not room:
            raise TooDeepForRecursion
        room -= 1
        return [v if type(v) in SCALAR_TYPES else _copy_recursive(v, room) for v in value]
    return value


def _copy_iterative(value: JSON) -> JSON:
    return map_json(value)


def _same(value: JSON) -> JSON:
    return value


def map_json(
    value: JSON,
    leaf: Callable[[JSON], JSON] = _same,
    key: Callable[[str], str] = str,
) -> JSON:
    """A deep copy of a JSON tree, with ``leaf`` applied to every scalar and ``key`` to every key.

    Walks with an explicit stack, so any depth works.
    """
    if not isinstance(value, dict | list):
        return leaf(value)
    root: dict[str, JSON] | list[JSON] = {} if isinstance(value, dict) else []
    stack: list[tuple[dict[str, JSON] | list[JSON], dict[str, JSON] | list[JSON]]] = [(value, root)]
    while stack:
        source, target = stack.pop()
        items = source.items() if isinstance(source, dict) else enumerate(source)
        for name, child in items:
            copied: JSON
            if isinstance(child, dict | list):
                copied = {} if isinstance(child, dict) else []
                stack.append((child, copied))
            else:
                copied = leaf(child)
            if isinstance(target, dict):
                target[key(str(name))] = copied
            else:
                target.append(copied)
    return root


def same_json(left: object, right: object) -> bool:
    """Whether two JSON trees are equal, scalar types included.

    ``1``, ``1.0`` and ``True`` differ here, unlike with ``==``. Iterative, so any depth works.
    """
    stack: list[tuple[object, object]] = [(left, right)]
    while stack:
        a, b = stack.pop()
        if type(a) is not type(b):
            return False
        if isinstance(a, dict):
            assert isinstance(b, dict)  # noqa: S101 - same type, checked above
            if a.keys() != b.keys():
                return False
            stack.extend((a[k], b[k]) for k in a)
        elif isinstance(a, list):
            assert isinstance(b, list)  # noqa: S101 - same type, checked above
            if len(a) != len(b):
                return False
            stack.extend(zip(a, b, strict=True))
        elif a != b:
            return False
    return True


def copy_json_object(value: dict[str, JSON]) -> dict[str, JSON]:
    """Return a deep copy of a JSON object."""
    return {k: copy_json(v) for k, v in value.items()}
