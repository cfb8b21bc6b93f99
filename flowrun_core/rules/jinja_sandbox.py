"""The sandbox that renders ``jinja`` placeholders: Prefect's, bounded in time and memory.

Jinja templates run in a sandbox like Prefect's (``ImmutableSandboxedEnvironment`` with
``ChainableUndefined``, an empty context, ``range()`` capped at 100 items, at most 10 ``for``
loops nested at most 2 deep). Because this library is embedded in services, the sandbox is
also bounded in time and memory, which Prefect's is not. Templates that would exceed a bound
fail with ``Invalid jinja: the template exceeds a resource limit: {what}.``. The bounds are:

* values built by operators, calls and filters: at most :data:`MAX_VALUE_SIZE` characters
  (or items), integers at most :data:`MAX_INT_BITS` bits; checked *before* ``*``, ``**``,
  ``%``, padding methods and filters allocate, and on every result;
* rendered output: at most :data:`MAX_OUTPUT_SIZE` characters;
* nested calls (macros, ``caller()``, recursive loops): at most :data:`MAX_CALL_DEPTH`;
* total work (loop iterations, calls and text produced): at most :data:`MAX_WORK` units.

The ``jinja2_humanize_extension`` filters (``humanize_naturalsize``, ``humanize_intcomma`` …)
are loaded, as Prefect loads them.

:func:`parse_template` checks a template as Prefect does (syntax, then its loop limits) and
:func:`render_template` renders it under the bounds; both raise
:class:`~flowrun_core.errors.HydrationFailed` with Prefect's message (or this library's, for
a bound). The environment is built once and never changed.
"""

from __future__ import annotations

import contextvars
import functools
import re
import string
import sys
import types
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, Final, TypeAlias, cast

import jinja2
from jinja2 import nodes
from jinja2.exceptions import SecurityError
from jinja2.nodes import EvalContext
from jinja2.runtime import Context, LoopContext
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import generate_lorem_ipsum, htmlsafe_json_dumps
from jinja2.visitor import NodeTransformer
from markupsafe import Markup

from flowrun_core.errors import HydrationFailed
from flowrun_core.rules.stack_depth import call_as_if_at_depth, collector_paused

__all__ = [
    "MAX_CALL_DEPTH",
    "MAX_INT_BITS",
    "MAX_LOOP_COUNT",
    "MAX_NESTED_LOOP_DEPTH",
    "MAX_OUTPUT_SIZE",
    "MAX_TEMPLATE_RANGE",
    "MAX_VALUE_SIZE",
    "MAX_WORK",
    "PREFECT_RENDER_DEPTH",
    "parse_template",
    "render_template",
]

MAX_TEMPLATE_RANGE: Final = 100
"""Prefect's cap on ``range()`` inside templates."""
MAX_LOOP_COUNT: Final = 10
"""Prefect's cap on the number of ``for`` loops in one template."""
MAX_NESTED_LOOP_DEPTH: Final = 2
"""Prefect's cap on how deeply ``for`` loops nest."""
MAX_VALUE_SIZE: Final = 1 << 20
"""Largest string (characters) or container (items, nested included) a template may build."""
MAX_INT_BITS: Final = 1 << 17
"""Largest integer (in bits) a template may build."""
MAX_OUTPUT_SIZE: Final = 1 << 20
"""Longest rendered template, in characters."""
MAX_CALL_DEPTH: Final = 256
"""Deepest nesting of calls (macros, ``caller()``, recursive loops).

Above the depth at which Python's default recursion limit stops a template (some 150 to 200
nested macro calls, as in Prefect, which then reports the ``RecursionError``): it bounds
templates only in a process that has raised the recursion limit."""
MAX_WORK: Final = 1 << 24
"""Work budget of one rendering: characters produced plus a fixed cost per iteration or call."""

_ITEM_COST: Final = 64
_CALL_COST: Final = 32


class _LimitExceeded(Exception):
    """A template went past one of this module's resource bounds."""


def _check_loop_limits(ast: nodes.Template) -> None:
    """Prefect's loop limits: at most 10 ``for`` loops, nested at most 2 deep."""
    count = 0
    deepest = 0
    stack: list[tuple[nodes.Node, int]] = [(ast, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, nodes.For):
            count += 1
            depth += 1
            deepest = max(deepest, depth)
        stack.extend((child, depth) for child in node.iter_child_nodes())
    if count > MAX_LOOP_COUNT:
        raise HydrationFailed(
            f"Invalid jinja: Contains {count} for loops. Templates can contain no "
            f"more than {MAX_LOOP_COUNT} for loops."
        )
    if deepest > MAX_NESTED_LOOP_DEPTH:
        raise HydrationFailed(
            f"Invalid jinja: Contains nested for loops at a depth of {deepest}. "
            f"Templates can nest for loops no more than {MAX_NESTED_LOOP_DEPTH} loops deep."
        )


def parse_template(source: str) -> nodes.Template:
    """Parse ``source`` and check Prefect's loop limits; ``HydrationFailed`` if refused."""
    try:
        with collector_paused():
            ast = _environment().parse(source)
    except jinja2.TemplateSyntaxError as exc:
        raise HydrationFailed(f"Invalid jinja: {exc}") from None
    except RecursionError:
        raise  # the caller's "nested too deeply" answer
    except Exception as exc:  # noqa: BLE001 - the lexer's int() past 4,300 digits (Prefect: 500)
        raise HydrationFailed(f"Invalid jinja: {exc}") from None
    _check_loop_limits(ast)
    return ast


def render_template(ast: nodes.Template) -> str:
    """Render a template from :func:`parse_template` inside the bounds.

    The rendering runs as if from Prefect's stack depth (:data:`PREFECT_RENDER_DEPTH`), so
    calls nested through macros, ``caller()`` and recursive loops run out of stack at the
    same nesting as there, whoever calls.

    Raises:
        HydrationFailed: a bound was exceeded, or rendering failed (Prefect's message, also
            when the calls nest past the recursion limit).
    """
    env = _environment()
    token = _BUDGET.set(_Budget())
    try:
        with collector_paused():
            _Instrument(env).visit(ast)
            ast.set_environment(env)
            template = env.from_string(ast)
        return call_as_if_at_depth(PREFECT_RENDER_DEPTH, functools.partial(_render, template))
    except _LimitExceeded as exc:
        raise HydrationFailed(
            f"Invalid jinja: the template exceeds a resource limit: {exc}."
        ) from None
    except RecursionError:
        # Prefect reports it like any other error; its text depends on the exact frame where
        # the stack ran out, so the one Prefect 3.9.1 gives in most recorded cases is used.
        raise HydrationFailed(f"{_RENDER_FAILED}{_RECURSION_REPR}") from None
    except Exception as exc:  # noqa: BLE001 - Prefect reports every render error this way
        raise HydrationFailed(f"{_RENDER_FAILED}{exc!r}") from None
    finally:
        _BUDGET.reset(token)


def _render(template: jinja2.Template) -> str:
    """Render on this thread under a fresh work budget (it may be a new thread)."""
    token = _BUDGET.set(_Budget())
    try:
        return _collect(template.generate())
    finally:
        _BUDGET.reset(token)


PREFECT_RENDER_DEPTH: Final = 30
"""The stack depth from which Prefect 3.9.1 renders a template, calibrated on the recorded
scenarios ``jinja_b27_*_recursion_depth_threshold`` (a macro recursing 190 levels renders, 200
do not; recursive loops and ``caller()`` chains of 170 and 180 render) and
``hydration_jinja_macro_depth``; 21 to 36 reproduce every status. The ``RecursionError``'s
text depends on the exact frame where the stack ends; Prefect's is "maximum recursion depth
exceeded" but for a ``caller()`` chain, which adds "while calling a Python object", and
this library always gives the first."""


_RENDER_FAILED: Final = "Invalid jinja: Failed to render template due to the following error: "
_RECURSION_REPR: Final = "RecursionError('maximum recursion depth exceeded')"


def _collect(pieces: Iterator[object]) -> str:
    """Join a rendering's pieces, refusing output past :data:`MAX_OUTPUT_SIZE`.

    As ``"".join`` in Prefect's plain rendering, every piece is rendered before any is
    joined: a filter block that yields a non-string (``{% filter length %}``) fails the join
    only if nothing later fails first.
    """
    collected: list[Any] = []
    length = 0
    for piece in pieces:
        if isinstance(piece, str):
            length += len(piece)
            if length > MAX_OUTPUT_SIZE:
                raise _LimitExceeded(f"output longer than {MAX_OUTPUT_SIZE} characters")
        collected.append(piece)
    return "".join(collected)


# --------------------------------------------------------------------------------------
# Resource bounds
# --------------------------------------------------------------------------------------


class _Budget:
    """The work budget and call depth of one rendering."""

    __slots__ = ("depth", "work")

    def __init__(self) -> None:
        self.work = MAX_WORK
        self.depth = 0

    def charge(self, units: int) -> None:
        self.work -= units
        if self.work < 0:
            raise _LimitExceeded(
                f"more than {MAX_WORK} units of work (loop iterations, calls and text)"
            )


_BUDGET: contextvars.ContextVar[_Budget | None] = contextvars.ContextVar(
    "flowrun_core_jinja_budget", default=None
)


def _charge(units: int) -> None:
    budget = _BUDGET.get()
    if budget is not None:
        budget.charge(units)


def _charge_units(units: int) -> str:
    """Called from instrumented templates: charge ``units`` of work."""
    _charge(units)
    return ""


def _passthrough(value: Any) -> Any:
    """Called from instrumented templates around ``~``: the call hook checks the result."""
    return value


def _guard_iter(iterable: Iterable[Any]) -> Iterator[Any]:
    """Called from instrumented templates around every ``for`` loop's iterable."""
    for item in iterable:
        _charge(_ITEM_COST)
        yield item


def _size(value: object) -> int:
    """Characters plus items in ``value``, nested values included; stops past the cap."""
    total = 0
    stack = [value]
    while stack and total <= MAX_VALUE_SIZE:
        item = stack.pop()
        if isinstance(item, (str, bytes, bytearray)):
            total += len(item)
        elif isinstance(item, int) and not isinstance(item, bool):
            total += item.bit_length() // 8
        elif isinstance(item, (list, tuple, set, frozenset)):
            total += len(item)
            if total <= MAX_VALUE_SIZE:
                stack.extend(item)
        elif isinstance(item, dict):
            total += len(item)
            if total <= MAX_VALUE_SIZE:
                stack.extend(item.keys())
                stack.extend(item.values())
    return total


def _depth(value: object) -> int:
    """How deeply lists, tuples and dicts nest in ``value`` (stops past the size cap)."""
    deepest = 0
    seen = 0
    stack = [(value, 0)]
    while stack and seen <= MAX_VALUE_SIZE:
        item, depth = stack.pop()
        seen += 1
        if isinstance(item, (list, tuple)):
            deepest = max(deepest, depth + 1)
            stack.extend((child, depth + 1) for child in item)
        elif isinstance(item, dict):
            deepest = max(deepest, depth + 1)
            stack.extend((child, depth + 1) for child in item.values())
    return deepest


def _refuse_size(size: int) -> None:
    """Refuse a result of ``size`` over the cap (Python itself refuses past ``maxsize``)."""
    if MAX_VALUE_SIZE < size <= sys.maxsize:
        raise _LimitExceeded(f"a value larger than {MAX_VALUE_SIZE} characters or items")


def _refuse_bits(bits: int) -> None:
    if bits > MAX_INT_BITS:
        raise _LimitExceeded(f"an integer larger than {MAX_INT_BITS} bits")


def _checked(value: Any) -> Any:
    """Check a value a template just built against the caps, and charge it as work."""
    if isinstance(value, int) and not isinstance(value, bool):
        _refuse_bits(value.bit_length())
    size = _size(value)
    if size > MAX_VALUE_SIZE:
        raise _LimitExceeded(f"a value larger than {MAX_VALUE_SIZE} characters or items")
    _charge(size)
    return value


def _as_int(value: object) -> int | None:
    return value if isinstance(value, int) else None


def _arg(args: tuple[Any, ...], kwargs: dict[str, Any], index: int, name: str) -> Any:
    """Positional argument ``index`` or keyword ``name`` (None when absent)."""
    if index < len(args):
        return args[index]
    return kwargs.get(name)


def _precheck_binop(operator: str, left: Any, right: Any) -> None:
    if operator == "*":
        left_int, right_int = _as_int(left), _as_int(right)
        if left_int is not None and right_int is not None:
            _refuse_bits(left_int.bit_length() + right_int.bit_length())
        elif right_int is not None and isinstance(left, (str, list, tuple)):
            _refuse_repeat(left, right_int)
        elif left_int is not None and isinstance(right, (str, list, tuple)):
            _refuse_repeat(right, left_int)
    elif operator == "**":
        base, exponent = _as_int(left), _as_int(right)
        if base is not None and exponent is not None and exponent > 0:
            _refuse_bits((abs(base).bit_length() - 1) * exponent)
    elif operator == "%" and isinstance(left, str):
        _check_percent_format(left, right)


def _refuse_repeat(sequence: str | list[Any] | tuple[Any, ...], times: int) -> None:
    """Refuse ``sequence * times`` over the cap, unless Python itself refuses it at once."""
    if not isinstance(sequence, str) and len(sequence) * times > sys.maxsize // 8:
        return  # CPython raises MemoryError() before allocating, as in Prefect
    _refuse_size(_size(sequence) * times)


_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d*))?")


def _number(digits: str) -> int:
    """A format's width or precision, as the bound reads it.

    One with too many digits to hold stands for :data:`sys.maxsize` + 1, which the bound lets
    through, so that the formatting raises its own error (``width too big``).
    """
    return int(digits) if len(digits) < _MAXSIZE_DIGITS else sys.maxsize + 1


_MAXSIZE_DIGITS: Final = len(str(sys.maxsize))


def _check_percent_format(fmt: str, values: Any) -> None:
    """Refuse ``%``-format widths or precisions over the cap."""
    starred = False
    for match in _PERCENT_SPEC.finditer(fmt):
        for part in match.groups():
            if part == "*":
                starred = True
            elif part:
                _refuse_size(_number(part))
    if starred:
        for item in values if isinstance(values, tuple) else (values,):
            if isinstance(item, int):
                _refuse_size(item)


def _check_brace_format(fmt: str, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    """Refuse ``str.format`` widths or precisions over the cap."""
    try:
        fields = list(string.Formatter().parse(fmt))
    except ValueError:
        return  # the real call raises the same error
    for _literal, _field, spec, _conversion in fields:
        if not spec:
            continue
        for digits in re.findall(r"\d+", spec):
            _refuse_size(_number(digits))
        if "{" in spec:
            for item in (*args, *kwargs.values()):
                if isinstance(item, int):
                    _refuse_size(item)


def _precheck_call(
    obj: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """Bound a call before it runs; may replace its arguments."""
    if isinstance(obj, LoopContext) and args:
        return (_guard_iter(args[0]), *args[1:]), kwargs
    if obj is generate_lorem_ipsum:
        count = _as_int(_arg(args, kwargs, 0, "n")) or 5
        words = max(
            _as_int(_arg(args, kwargs, 2, "min")) or 0, _as_int(_arg(args, kwargs, 3, "max")) or 100
        )
        _refuse_size(count * words * 16)
        return args, kwargs
    wrapped = getattr(obj, "__wrapped__", None)
    if isinstance(wrapped, types.BuiltinMethodType) and isinstance(wrapped.__self__, str):
        fmt = wrapped.__self__
        if wrapped.__name__ == "format":
            _check_brace_format(fmt, args, kwargs)
        elif wrapped.__name__ == "format_map" and args and isinstance(args[0], Mapping):
            _check_brace_format(fmt, (), args[0])
        return args, kwargs
    if not isinstance(obj, types.BuiltinMethodType):
        return args, kwargs
    owner, name = obj.__self__, obj.__name__
    if isinstance(owner, (str, bytes)):
        return _precheck_string_method(owner, name, args, kwargs)
    if isinstance(owner, int) and name == "to_bytes":
        length = _as_int(_arg(args, kwargs, 0, "length"))
        if length is not None:
            _refuse_size(length)
    return args, kwargs


def _precheck_string_method(
    owner: str | bytes, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    if name in {"ljust", "rjust", "center", "zfill"}:
        width = _as_int(_arg(args, kwargs, 0, "width"))
        if width is not None:
            _refuse_size(width)
    elif name == "expandtabs":
        tabsize = _as_int(_arg(args, kwargs, 0, "tabsize"))
        if tabsize is not None:
            tab = "\t" if isinstance(owner, str) else b"\t"
            _refuse_size(len(owner) + owner.count(tab) * tabsize)  # type: ignore[arg-type]
    elif name == "replace" and len(args) >= 2:  # noqa: PLR2004 - old and new
        _refuse_size(_replace_size(owner, args[0], args[1], _arg(args, kwargs, 2, "count")))
    elif name == "join" and args:
        items = _items(args[0])
        if items is None:
            return args, kwargs
        _refuse_size(_join_size(items, owner))
        return (items, *args[1:]), kwargs
    elif name == "translate" and args and isinstance(args[0], Mapping):
        longest = max((_size(v) for v in args[0].values()), default=1)
        _refuse_size(len(owner) * max(longest, 1))
    return args, kwargs


def _replace_size(text: object, old: object, new: object, count: object) -> int:
    if not isinstance(text, (str, bytes)) or type(old) is not type(text):
        return 0
    if type(new) is not type(text):
        return 0
    hits = len(text) + 1 if not old else text.count(old)  # type: ignore[arg-type]
    if isinstance(count, int) and count >= 0:
        hits = min(hits, count)
    return len(text) + hits * len(new)


def _join_size(items: list[Any], separator: object) -> int:
    total = len(separator) * max(len(items) - 1, 0) if isinstance(separator, (str, bytes)) else 0
    for item in items:
        total += len(item) if isinstance(item, (str, bytes)) else 4 * _size(item) + 8
        if total > MAX_VALUE_SIZE:
            break
    return total


# Filter pre-checks receive the filter's arguments without the jinja context argument and
# may return replacements.
_Args: TypeAlias = tuple[tuple[Any, ...], dict[str, Any]]


def _pre_center(args: tuple[Any, ...], kwargs: dict[str, Any]) -> _Args:
    width = _as_int(_arg(args, kwargs, 1, "width"))
    if width is not None:
        _refuse_size(width)
    return args, kwargs


def _pre_indent(args: tuple[Any, ...], kwargs: dict[str, Any]) -> _Args:
    width = _arg(args, kwargs, 1, "width")
    per_line = len(width) if isinstance(width, str) else _as_int(width)
    if per_line is not None and args:
        text = str(args[0])
        _refuse_size(len(text) + (text.count("\n") + 1) * per_line)
    return args, kwargs


def _pre_format(args: tuple[Any, ...], kwargs: dict[str, Any]) -> _Args:
    if args and isinstance(args[0], str):
        _check_percent_format(args[0], tuple(kwargs.values()) or args[1:])
    return args, kwargs


def _pre_replace(args: tuple[Any, ...], kwargs: dict[str, Any]) -> _Args:
    if len(args) >= 3:  # noqa: PLR2004 - s, old, new
        text, old, new = str(args[0]), str(args[1]), str(args[2])
        _refuse_size(_replace_size(text, old, new, _arg(args, kwargs, 3, "count")))
    return args, kwargs


def _items(value: object) -> list[Any] | None:
    """The items of an iterable about to be joined, or ``None`` when it is not iterable.

    An error raised while iterating (a lazy ``map`` over a bad filter) is the join's own.
    """
    try:
        iterator = iter(value)  # type: ignore[call-overload]
    except TypeError:
        return None
    return list(iterator)


def _pre_join(args: tuple[Any, ...], kwargs: dict[str, Any]) -> _Args:
    if not args:
        return args, kwargs
    items = _items(args[0])
    if items is None:
        return args, kwargs
    _refuse_size(_join_size(items, str(_arg(args, kwargs, 1, "d") or "")))
    return (items, *args[1:]), kwargs


def _pre_wordwrap(args: tuple[Any, ...], kwargs: dict[str, Any]) -> _Args:
    if args:
        wrapstring = _arg(args, kwargs, 3, "wrapstring")
        per_break = len(wrapstring) if isinstance(wrapstring, str) else 2
        text = str(args[0])
        _refuse_size(len(text) + (len(text) + 1) * per_break)
    return args, kwargs


def _pre_batch(args: tuple[Any, ...], kwargs: dict[str, Any]) -> _Args:
    linecount = _as_int(_arg(args, kwargs, 1, "linecount"))
    if linecount is not None and _arg(args, kwargs, 2, "fill_with") is not None:
        _refuse_size(linecount)
    return args, kwargs


def _pre_slice(args: tuple[Any, ...], kwargs: dict[str, Any]) -> _Args:
    slices = _as_int(_arg(args, kwargs, 1, "slices"))
    if slices is not None:
        _refuse_size(slices)
    return args, kwargs


def _pre_tojson(args: tuple[Any, ...], kwargs: dict[str, Any]) -> _Args:
    indent = _arg(args, kwargs, 1, "indent")
    per_level = len(indent) if isinstance(indent, str) else _as_int(indent)
    if per_level and args:
        tokens = _size(args[0]) + 1
        _refuse_size(tokens * (1 + _depth(args[0]) * per_level))
    return args, kwargs


_FILTER_PRECHECKS: Final[dict[str, Callable[[tuple[Any, ...], dict[str, Any]], _Args]]] = {
    "center": _pre_center,
    "indent": _pre_indent,
    "format": _pre_format,
    "replace": _pre_replace,
    "join": _pre_join,
    "wordwrap": _pre_wordwrap,
    "batch": _pre_batch,
    "slice": _pre_slice,
    "tojson": _pre_tojson,
}


def _guard_filter(
    func: Callable[..., Any],
    precheck: Callable[[tuple[Any, ...], dict[str, Any]], _Args] | None,
) -> Callable[..., Any]:
    """Wrap a filter: pre-check its arguments, then check its result."""
    skip = 1 if hasattr(func, "jinja_pass_arg") else 0

    @functools.wraps(func)  # keeps `jinja_pass_arg` and friends
    def guarded(*args: Any, **kwargs: Any) -> Any:
        if precheck is not None:
            rest, kwargs = precheck(args[skip:], kwargs)
            args = (*args[:skip], *rest)
        return _checked(func(*args, **kwargs))

    return guarded


def _check_template_range(*args: int) -> range:
    """Prefect's ``range()``: at most 100 items."""
    numbers = range(*args)
    if len(numbers) > MAX_TEMPLATE_RANGE:
        raise OverflowError(
            "Range too big. The sandbox blocks ranges larger than"
            f" MAX_TEMPLATE_RANGE={MAX_TEMPLATE_RANGE}."
        )
    return numbers


class _HardenedEnvironment(ImmutableSandboxedEnvironment):
    """Prefect's user-template sandbox, with operators, calls and filters bounded."""

    intercepted_binops = frozenset({"*", "**", "%", "+"})

    def __init__(self) -> None:
        super().__init__(
            undefined=jinja2.ChainableUndefined,
            finalize=_checked,
            extensions=_EXTENSIONS,
        )
        self.globals["range"] = _check_template_range
        self.filters["tojson"] = _tojson
        self.filters = {
            name: _guard_filter(func, _FILTER_PRECHECKS.get(name))
            for name, func in self.filters.items()
        }

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        """Bound ``*``, ``**``, ``%`` and ``+`` before and after they run."""
        _precheck_binop(operator, left, right)
        return _checked(super().call_binop(context, operator, left, right))

    def call(self, context: Context, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        """Bound a call: arguments, nesting depth, work and result."""
        args, kwargs = _precheck_call(obj, args, kwargs)
        budget = _BUDGET.get()
        if budget is None:
            return _checked(super().call(context, obj, *args, **kwargs))
        budget.charge(_CALL_COST)
        if budget.depth >= MAX_CALL_DEPTH:
            raise _LimitExceeded(f"calls nested more than {MAX_CALL_DEPTH} deep")
        budget.depth += 1
        try:
            # The sandbox's own ``call``, inlined: one frame per nested call, as in Prefect.
            if not self.is_safe_callable(obj):
                raise SecurityError(f"{obj!r} is not safely callable")
            result = context.call(obj, *args, **kwargs)
        finally:
            budget.depth -= 1
        return _checked(result)


@jinja2.pass_eval_context
def _tojson(eval_ctx: EvalContext, value: object, indent: int | None = None) -> Markup:
    """The ``tojson`` filter under the name Prefect registers it by (argument errors show it).

    Prefect replaces Jinja's ``do_tojson`` with a function of the same parameters, so a
    wrong call reads ``_tojson() takes from 2 to 3 positional arguments ...``.
    """
    policies = eval_ctx.environment.policies
    options = dict(policies["json.dumps_kwargs"])
    if indent is not None:
        options["indent"] = indent
    return htmlsafe_json_dumps(value, dumps=policies["json.dumps_function"], **options)


_EXTENSIONS: Final = ["jinja2_humanize_extension.HumanizeExtension"]
"""Prefect's template extensions: the ``humanize_*`` filters."""


@functools.cache
def _environment() -> _HardenedEnvironment:
    """The one sandbox, built on first use and never changed afterwards."""
    return _HardenedEnvironment()


def _internal_call(function: str, *args: nodes.Expr) -> nodes.Call:
    return nodes.Call(nodes.ImportedName(f"{__name__}.{function}"), list(args), [], None, None)


def _literal_size(body: list[nodes.Node]) -> int:
    total = 0
    for node in body:
        if isinstance(node, nodes.TemplateData):
            total += len(node.data)
        total += sum(len(data.data) for data in node.find_all(nodes.TemplateData))
    return total


class _Instrument(NodeTransformer):
    """Add work accounting to a parsed template, and fold what interception keeps from folding.

    Work is charged for loops, macro bodies and ``~``. As for folding: Prefect's environment
    intercepts no operator, so Jinja's optimizer computes ``2 * 3``, ``10 ** 5000``,
    ``1e308 * 10`` and ``'a' ~ 'b'`` when it compiles the template, and what that folding does
    shows in the answers (recorded on 3.9.1): ``{{ 2 * 3 or x|nofilter }}`` renders ``6``
    (the unknown filter is folded away), ``{{ 10**5000 }}`` fails to compile even where it
    never runs (the integer has no ``repr``), a folded ``inf`` is written into the generated
    code as an undefined name, and adjacent constant output is joined. Here the same
    operations are folded the same way, but through the bounded operators, so a constant too
    large for this sandbox is refused as any other value is.
    """

    def __init__(self, environment: _HardenedEnvironment) -> None:
        self._env = environment
        self._eval_ctx = EvalContext(environment)

    def _const(self, value: Any, node: nodes.Node) -> nodes.Node:
        try:
            return nodes.Const.from_untrusted(value, lineno=node.lineno, environment=self._env)
        except nodes.Impossible:
            return node

    def _fold_intercepted(self, node: nodes.BinExpr) -> nodes.Node:
        self.generic_visit(node)
        try:
            left = node.left.as_const(self._eval_ctx)
            right = node.right.as_const(self._eval_ctx)
        except nodes.Impossible:
            return node
        try:
            value = self._env.call_binop(cast("Context", None), node.operator, left, right)
        except _LimitExceeded:
            raise
        except Exception:  # noqa: BLE001 - as in Jinja: not folded, it fails when it runs
            return node
        return self._const(value, node)

    visit_Add = visit_Mul = visit_Mod = visit_Pow = _fold_intercepted  # noqa: N815

    def visit_For(self, node: nodes.For) -> nodes.Node:  # noqa: N802 - jinja naming
        self.generic_visit(node)
        node.iter = _internal_call("_guard_iter", cast("nodes.Expr", node.iter))
        cost = nodes.Const(_ITEM_COST + _literal_size(node.body))
        node.body.insert(0, nodes.ExprStmt(_internal_call("_charge_units", cost)))
        return node

    def visit_Macro(self, node: nodes.Macro) -> nodes.Node:  # noqa: N802 - jinja naming
        self.generic_visit(node)
        cost = nodes.Const(_CALL_COST + _literal_size(node.body))
        node.body.insert(0, nodes.ExprStmt(_internal_call("_charge_units", cost)))
        return node

    def visit_CallBlock(self, node: nodes.CallBlock) -> nodes.Node:  # noqa: N802
        self.generic_visit(node)
        cost = nodes.Const(_CALL_COST + _literal_size(node.body))
        node.body.insert(0, nodes.ExprStmt(_internal_call("_charge_units", cost)))
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:  # noqa: N802 - jinja naming
        self.generic_visit(node)
        try:
            value = node.as_const(self._eval_ctx)  # an error other than Impossible: as Prefect
        except nodes.Impossible:
            return _internal_call("_passthrough", node)
        return self._const(_checked(value), node)
