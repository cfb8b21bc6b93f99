"""The wire converter: Prefect 3.9.1's request acceptance rules, on cattrs.

Prefect validates the request body with pydantic v2 in lax mode. This module reproduces that
mode's acceptance and its error texts with cattrs structure hooks:

* one hook per primitive (``str`` strict; ``bool``, ``int``, ``float``, ``UUID`` and
  ``datetime`` lax, as pydantic is), from :mod:`flowrun_core.wire.lax`, each raising
  :class:`~flowrun_core.wire.lax.WireProblem` with pydantic's ``type``, ``msg`` and ``ctx``;
* one generated hook per model class, with unknown keys forbidden for Prefect's
  ``ActionBaseModel`` classes (the request and its ``state``) and ignored for
  ``state_details`` and ``empirical_policy``;
* field overrides where Prefect has a field-specific validator (the run name, the size
  limit on ``parameters``, ``job_variables`` keeping ``null``, ``state.data``).

:func:`error_details` is the error walker: it turns the exception groups cattrs raises into
:class:`~flowrun_core.errors.ErrorDetail` items, in pydantic's order (fields in declaration
order, then unknown keys in input order).
"""

from __future__ import annotations

import enum
import json
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Final, Literal, TypeVar, get_args, get_origin
from uuid import UUID

import attrs
import cattrs
from cattrs.errors import ClassValidationError, ForbiddenExtraKeysError
from cattrs.gen import make_dict_structure_fn, override

from flowrun_core.errors import ErrorDetail
from flowrun_core.json_types import JSON
from flowrun_core.models import (
    DeploymentFlowRunCreate,
    FlowRunPolicy,
    StateCreate,
    StateDetails,
    StateType,
)
from flowrun_core.wire.lax import (
    Problem,
    WireProblem,
    fail,
    parse_bool,
    parse_datetime,
    parse_float,
    parse_int,
    parse_str,
    parse_uuid,
    problem,
    value_error,
    value_error_ctx,
)

__all__ = [
    "MAX_PARAMETER_SIZE",
    "Problem",
    "WireProblem",
    "error_details",
    "make_wire_converter",
    "parse_bool",
    "parse_datetime",
    "parse_float",
    "parse_int",
    "parse_str",
    "parse_uuid",
]

T = TypeVar("T")

MAX_PARAMETER_SIZE: Final = 524_288
"""Prefect's ``server.api.max_parameter_size`` default, in bytes."""

_MODEL_TYPE_MSG: Final = "Input should be a valid dictionary or object to extract fields from"


# --------------------------------------------------------------------------------------
# Containers and field rules
# --------------------------------------------------------------------------------------


def _json_object(value: object) -> dict[str, JSON]:
    if type(value) is dict:
        return value
    raise problem("dict_type", "Input should be a valid dictionary", value)


def _str_items(value: list[object]) -> list[str]:
    problems = [
        Problem("string_type", "Input should be a valid string", item, None, (index,))
        for index, item in enumerate(value)
        if type(item) is not str
    ]
    if problems:
        raise WireProblem(problems)
    return [item for item in value if type(item) is str]


def _str_tuple(value: object, _: object = None) -> tuple[str, ...]:
    if type(value) is not list:
        fail("list_type", "Input should be a valid list", value)
    return tuple(_str_items(value))


def _str_frozenset(value: object, _: object = None) -> frozenset[str]:
    if type(value) is not list:
        fail("set_type", "Input should be a valid set", value)
    return frozenset(_str_items(value))


def _str_dict(value: object, _: object = None) -> dict[str, str]:
    mapping = _json_object(value)
    problems = [
        Problem("string_type", "Input should be a valid string", item, None, (key,))
        for key, item in mapping.items()
        if type(item) is not str
    ]
    if problems:
        raise WireProblem(problems)
    return {key: item for key, item in mapping.items() if type(item) is str}


_LABEL_ERRORS: Final = (
    ("bool", "bool_type", "Input should be a valid boolean"),
    ("int", "int_type", "Input should be a valid integer"),
    ("float", "float_type", "Input should be a valid number"),
    ("str", "string_type", "Input should be a valid string"),
)


def _labels(value: object, _: object = None) -> dict[str, bool | int | float | str]:
    """``StrictBool | StrictInt | StrictFloat | str`` values: four errors per bad key."""
    mapping = _json_object(value)
    problems: list[Problem] = []
    labels: dict[str, bool | int | float | str] = {}
    for key, item in mapping.items():
        if type(item) in {bool, int, float, str}:
            labels[key] = item  # type: ignore[assignment]
        else:
            problems.extend(
                Problem(kind, msg, item, None, (key, branch)) for branch, kind, msg in _LABEL_ERRORS
            )
    if problems:
        raise WireProblem(problems)
    return labels


_STATE_TYPES: Final = tuple(state_type.value for state_type in StateType)
_STATE_TYPE_EXPECTED: Final = (
    ", ".join(f"'{name}'" for name in _STATE_TYPES[:-1]) + f" or '{_STATE_TYPES[-1]}'"
)


def _state_type(value: object, _: object = None) -> StateType:
    if type(value) is str and value in _STATE_TYPES:
        return StateType(value)
    raise problem(
        "enum",
        f"Input should be {_STATE_TYPE_EXPECTED}",
        value,
        {"expected": _STATE_TYPE_EXPECTED},
    )


def _literal_hook(choices: tuple[str, ...]) -> Callable[[object, object], str]:
    expected = ", ".join(f"'{c}'" for c in choices[:-1]) + f" or '{choices[-1]}'"
    if len(choices) == 1:
        expected = f"'{choices[0]}'"

    def structure(value: object, _: object = None) -> str:
        if type(value) is str and value in choices:
            return value
        raise problem("literal_error", f"Input should be {expected}", value, {"expected": expected})

    return structure


def _run_name(value: object, _: object = None) -> str | None:
    """Prefect replaces any falsy name with a generated slug (``None`` here)."""
    if not value:
        return None
    return parse_str(value)


def _parameters(value: object, _: object = None) -> dict[str, JSON]:
    parameters = _json_object(value)
    if parameters:
        size = len(json.dumps(parameters, separators=(",", ":")).encode())
        if size > MAX_PARAMETER_SIZE:
            value_error(
                f"Flow run parameters must be less than {MAX_PARAMETER_SIZE:,} bytes when "
                f"serialized (got {size:,} bytes).",
                parameters,
            )
    return parameters


def _optional_json_object(value: object, _: object = None) -> dict[str, JSON] | None:
    return None if value is None else _json_object(value)


def _json_object_hook(value: object, _: object = None) -> dict[str, JSON]:
    return _json_object(value)


def _state_data(_value: object, _: object = None) -> None:
    """Nothing is kept of ``state.data``; any value passes validation, as in Prefect.

    Prefect crashes (500) after validating a body whose ``state.data`` is set; the wire
    layer refuses such a body once everything else has passed (see
    :func:`flowrun_core.wire.request.decode_create_request`).
    """


def _backfill_policy(values: dict[str, Any]) -> None:
    """Prefect copies the deprecated retry fields into the new ones, in place."""
    if not values.get("retries") and values.get("max_retries", 0) != 0:
        values["retries"] = values["max_retries"]
    if not values.get("retry_delay") and values.get("retry_delay_seconds", 0) != 0:
        values["retry_delay"] = values["retry_delay_seconds"]


# --------------------------------------------------------------------------------------
# The converter
# --------------------------------------------------------------------------------------


def _simple(parse: Callable[[object], T]) -> Callable[[object, object], T]:
    return lambda value, _: parse(value)


def _same_type(expected: object) -> Callable[[object], bool]:
    return lambda tp: bool(tp == expected)


def _is_literal(tp: object) -> bool:
    return get_origin(tp) is Literal


def _model_hook(
    converter: cattrs.Converter,
    cl: type[T],
    *,
    forbid_extra: bool,
    before: Callable[[dict[str, Any]], None] | None = None,
    **overrides: Any,
) -> Callable[[object, object], T]:
    generated = make_dict_structure_fn(
        cl,
        converter,
        _cattrs_forbid_extra_keys=forbid_extra,
        _cattrs_detailed_validation=True,
        **overrides,
    )

    def structure(value: object, _: object = None) -> T:
        if type(value) is not dict:
            fail("model_attributes_type", _MODEL_TYPE_MSG, value)
        if before is not None:
            before(value)
        return generated(value, cl)

    return structure


def make_wire_converter() -> cattrs.Converter:
    """The strict converter for request bodies: one per boundary, built once per process."""
    converter = cattrs.Converter(detailed_validation=True, forbid_extra_keys=True)
    converter.register_structure_hook(str, _simple(parse_str))
    converter.register_structure_hook(bool, _simple(parse_bool))
    converter.register_structure_hook(int, _simple(parse_int))
    converter.register_structure_hook(float, _simple(parse_float))
    converter.register_structure_hook(UUID, _simple(parse_uuid))
    converter.register_structure_hook(datetime, _simple(parse_datetime))
    converter.register_structure_hook(StateType, _state_type)
    generics: tuple[tuple[object, Callable[[object, object], object]], ...] = (
        (tuple[str, ...], _str_tuple),
        (frozenset[str], _str_frozenset),
        (dict[str, str], _str_dict),
    )
    for generic, hook in generics:
        converter.register_structure_hook_func(_same_type(generic), hook)
    converter.register_structure_hook_func(
        _is_literal, lambda value, tp: _literal_hook(get_args(tp))(value, tp)
    )
    converter.register_structure_hook(
        StateDetails, _model_hook(converter, StateDetails, forbid_extra=False)
    )
    converter.register_structure_hook(
        FlowRunPolicy,
        _model_hook(converter, FlowRunPolicy, forbid_extra=False, before=_backfill_policy),
    )
    converter.register_structure_hook(
        StateCreate,
        _model_hook(
            converter, StateCreate, forbid_extra=True, data=override(struct_hook=_state_data)
        ),
    )
    converter.register_structure_hook(
        DeploymentFlowRunCreate,
        _model_hook(
            converter,
            DeploymentFlowRunCreate,
            forbid_extra=True,
            name=override(struct_hook=_run_name),
            parameters=override(struct_hook=_parameters),
            context=override(struct_hook=_json_object_hook),
            labels=override(struct_hook=lambda value, _: None if value is None else _labels(value)),
            job_variables=override(struct_hook=_optional_json_object),
        ),
    )
    return converter


# --------------------------------------------------------------------------------------
# The error walker
# --------------------------------------------------------------------------------------


def _json_input(value: object) -> JSON:
    if value is None or isinstance(value, str | int | float | bool | list | dict):
        return value
    if isinstance(value, enum.Enum):
        return _json_input(value.value)
    return str(value)


def _problem_detail(problem: Problem, loc: tuple[str | int, ...]) -> ErrorDetail:
    return ErrorDetail(
        type=problem.type,
        loc=loc + problem.loc,
        msg=problem.msg,
        input=_json_input(problem.input),
        ctx=problem.ctx,
    )


def error_details(
    exc: BaseException, loc: tuple[str | int, ...], value: object
) -> list[ErrorDetail]:
    """Every problem inside ``exc`` (raised structuring ``value`` at ``loc``), in pydantic's order.

    Attribute errors come in the class's declaration order, then one ``extra_forbidden``
    per unknown key in input order, as pydantic reports them.
    """
    if isinstance(exc, WireProblem):
        return [_problem_detail(problem, loc) for problem in exc.problems]
    if isinstance(exc, ClassValidationError):
        mapping: Mapping[str, Any] = value if isinstance(value, dict) else {}
        with_notes, others = exc.group_exceptions()
        by_name = {note.name: sub for sub, note in with_notes}
        details: list[ErrorDetail] = []
        for field in attrs.fields(exc.cl):
            sub = by_name.get(field.name)
            if sub is None:
                continue
            if isinstance(sub, KeyError) and field.name not in mapping:
                details.append(
                    ErrorDetail(
                        type="missing",
                        loc=(*loc, field.name),
                        msg="Field required",
                        input=_json_input(dict(mapping)),
                    )
                )
            else:
                details.extend(error_details(sub, (*loc, field.name), mapping.get(field.name)))
        for other in others:
            if isinstance(other, ForbiddenExtraKeysError):
                extra = other.extra_fields
                details.extend(
                    ErrorDetail(
                        type="extra_forbidden",
                        loc=(*loc, key),
                        msg="Extra inputs are not permitted",
                        input=_json_input(item),
                    )
                    for key, item in mapping.items()
                    if key in extra
                )
            else:
                details.extend(error_details(other, loc, value))
        return details
    if isinstance(exc, BaseExceptionGroup):
        return [d for sub in exc.exceptions for d in error_details(sub, loc, value)]
    return [
        ErrorDetail(
            type="value_error",
            loc=loc,
            msg=f"Value error, {exc}",
            input=_json_input(value),
            ctx=value_error_ctx(),
        )
    ]
