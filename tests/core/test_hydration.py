"""`__prefect_kind` hydration (spec §6.2): Prefect's texts, the walk, and the jinja bounds.

Every expected string below was checked against Prefect 3.9.1's
`prefect.utilities.schema_tools.hydration.hydrate` with `raise_on_error`, `render_jinja` and
`render_workspace_variables` on, except the messages this library uses where Prefect
answers 500 or never answers (marked "own").
"""

from __future__ import annotations

import copy
import json
import sys
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flowrun_core.errors import HydrationFailed
from flowrun_core.json_types import JSON
from flowrun_core.rules import hydration, jinja_sandbox
from flowrun_core.rules.hydration import (
    MAX_CALL_DEPTH,
    MAX_JSON_DEPTH,
    MAX_OUTPUT_SIZE,
    MAX_VALUE_SIZE,
    hydrate_parameters,
    json_depth_exceeds,
)

KIND = "__prefect_kind"
LIMIT = "Invalid jinja: the template exceeds a resource limit: "
TOO_LARGE = f"{LIMIT}a value larger than {MAX_VALUE_SIZE} characters or items."
RENDER_ERROR = "Invalid jinja: Failed to render template due to the following error: "
BIG_INT_REPR = (
    "ValueError('Exceeds the limit (4300 digits) for integer string conversion; use "
    "sys.set_int_max_str_digits() to increase the limit')"
)


def hydrate(parameters: dict[str, JSON], variables: Mapping[str, JSON] | None = None) -> JSON:
    return hydrate_parameters(parameters, {} if variables is None else variables)


def hydrate_one(placeholder: JSON, variables: Mapping[str, JSON] | None = None) -> JSON:
    """Hydrate `{"a": placeholder}` and return what became of "a" (`"<removed>"` if dropped)."""
    return hydrate({"a": placeholder}, variables).get("a", "<removed>")  # type: ignore[union-attr]


def failure(parameters: dict[str, JSON], variables: Mapping[str, JSON] | None = None) -> str:
    with pytest.raises(HydrationFailed) as info:
        hydrate(parameters, variables)
    return info.value.message


def jinja(template: JSON) -> dict[str, JSON]:
    return {KIND: "jinja", "template": template}


def render(template: str) -> JSON:
    return hydrate_one(jinja(template))


def render_failure(template: str) -> str:
    return failure({"a": jinja(template)})


# --------------------------------------------------------------------------------------
# The table of §6.2, row by row
# --------------------------------------------------------------------------------------


def test_none_returns_its_hydrated_value() -> None:
    assert hydrate_one({KIND: "none", "value": 5}) == 5
    assert hydrate_one({KIND: "none", "value": {"x": {KIND: "json", "value": "[1]"}}}) == {"x": [1]}


def test_none_without_value_fails() -> None:
    assert failure({"a": {KIND: "none"}}) == "Missing 'value' key in __prefect object"


def test_none_whose_value_is_removed_is_removed() -> None:
    assert hydrate({"a": {KIND: "none", "value": {KIND: "json"}}, "b": 1}) == {"b": 1}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('{"z": [1, 2.5, null, true]}', {"z": [1, 2.5, None, True]}),
        ("5", 5),
        ('"text"', "text"),
        (5, 5),
        (None, None),
        (True, True),
        ([{KIND: "json", "value": "1"}], [{KIND: "json", "value": "1"}]),  # not hydrated
        ({KIND: "none", "value": "[1, 2]"}, [1, 2]),  # dict hydrated first, then parsed
        ({KIND: "none", "value": 7}, 7),
        ({"x": {KIND: "json", "value": "[2]"}}, {"x": [2]}),
    ],
)
def test_json(value: JSON, expected: JSON) -> None:
    assert hydrate_one({KIND: "json", "value": value}) == expected


def test_json_without_value_is_removed() -> None:
    assert hydrate_one({KIND: "json"}) == "<removed>"
    assert hydrate_one({KIND: "json", "value": {KIND: "json"}}) == "<removed>"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "{'a'",
            (
                "Invalid JSON: Expecting property name enclosed in double quotes: "
                "line 1 column 2 (char 1)"
            ),
        ),
        ("", "Invalid JSON: Expecting value: line 1 column 1 (char 0)"),
        ("[1, 2", "Invalid JSON: Expecting ',' delimiter: line 1 column 6 (char 5)"),
    ],
)
def test_json_invalid(text: str, message: str) -> None:
    assert failure({"a": {KIND: "json", "value": text}}) == message


def test_json_nested_error_is_raised() -> None:
    parameters: dict[str, JSON] = {
        "a": {KIND: "json", "value": {"x": {KIND: "json", "value": "{"}}}
    }
    assert failure(parameters) == (
        "Invalid JSON: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"
    )


def test_json_own_messages_where_prefect_answers_500() -> None:
    digits = failure({"a": {KIND: "json", "value": "1" * 5000}})
    assert digits.startswith("Invalid JSON: Exceeds the limit (4300 digits)")
    assert failure({"a": {KIND: "json", "value": "[" * 100_000}}) == (
        "Invalid JSON: the document is nested too deeply."
    )


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{ 1 + 2 }} and {{ foo }}", "3 and "),
        ("{{ foo.bar.baz }}|{{ foo }}", "|"),
        ("plain text", "plain text"),
        ("{#", "{#"),  # no `{{` and no `{%`: returned unchanged
        ("{{ ''.__class__ }}x", "x"),  # the sandbox makes unsafe attributes undefined
        ("{{ 'a' ~ 1 }}{{ (1,2) | tojson }}", "a1[1, 2]"),
        ("{{ 'ab' ~ none ~ 1.5 ~ [1] }}{{ none }}{{ true }}", "abNone1.5[1]NoneTrue"),
        (
            "{% for i in range(3) %}{{ loop.length }}{{ loop.last }}{% endfor %}",
            "3False3False3True",
        ),
        ("{% for i in [] %}empty{% else %}else{% endfor %}", "else"),
        ("{% macro m() %}<{{ caller() }}>{% endmacro %}{% call m() %}hi{% endcall %}", "<hi>"),
        (
            (
                "{% for x in [[1,[2]]] recursive %}{{ x }}{% if x is iterable %}{{ loop(x) }}"
                "{% endif %}{% endfor %}"
            ),
            "[1, [2]]1[2]2",
        ),
        (
            (
                "{% set ns = namespace(s='a') %}{% for i in range(3) %}{% set ns.s = ns.s ~ ns.s %}"
                "{% endfor %}{{ ns.s }}"
            ),
            "aaaaaaaa",
        ),
        (
            (
                "{{ '%s-%05d' % ('a', 3) }}{{ '{:>5}'.format('x') }}{{ 'ab'.ljust(4,'.') }}"
                "{{ 'x'|center(5) }}"
            ),
            "a-00003    xab..  x  ",
        ),
        (
            (
                "{{ [1,2]|join(',') }}{{ 'a b'|replace(' ', '_') }}{{ '%d'|format(3) }}"
                "{{ range(5)|batch(2,'x')|list }}{{ range(5)|slice(2)|list }}"
            ),
            "1,2a_b3[[0, 1], [2, 3], [4, 'x']][[0, 1, 2], [3, 4]]",
        ),
        ("{{ 2 ** 10 }}{{ 3 * 4 }}{{ 'ab' * 3 }}{{ [1] * 2 }}{{ 7 % 3 }}", "102412ababab[1, 1]1"),
        (
            "{{ '%*d' % (3, 1) }}{{ '{0:{1}}'.format(1, 4) }}{{ '{:,}'.format(1000) }}",
            "  1   11,000",
        ),
        ("{{ 9**9**9 }}", str((9**9) ** 9)),  # jinja's `**` groups to the left
        # Prefect's environment loads jinja2_humanize_extension (recorded on 3.9.1).
        ("{{ 1000000 | humanize_naturalsize }}", "1.0 MB"),
        ("{{ 1234567 | humanize_intcomma }}", "1,234,567"),
        ("{{ 3 | humanize_ordinal }}", "3rd"),
    ],
)
def test_jinja_renders(template: str, expected: str) -> None:
    assert render(template) == expected


def test_jinja_without_template_fails() -> None:
    assert failure({"a": {KIND: "jinja"}}) == "Missing 'template' key in __prefect object"


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{{ 1 + }}", "Invalid jinja: unexpected 'end of print statement'"),
        ("{{ 1 }", "Invalid jinja: unexpected '}'"),
        ("{{ 1/0 }}", f"{RENDER_ERROR}ZeroDivisionError('division by zero')"),
        (
            "{{ range(101) }}",
            (
                f"{RENDER_ERROR}OverflowError('Range too big. The sandbox blocks ranges larger "
                "than MAX_TEMPLATE_RANGE=100.')"
            ),
        ),
        (
            "{{ ''.__class__.__mro__[1].__subclasses__() }}",
            (
                f"{RENDER_ERROR}SecurityError(\"access to attribute '__class__' of 'str' object "
                'is unsafe.")'
            ),
        ),
        (
            "{{ [1].append(2) }}",
            (
                f"{RENDER_ERROR}SecurityError(\"access to attribute 'append' of 'list' object "
                'is unsafe.")'
            ),
        ),
        (
            "{{ x | nosuch }}",
            f"{RENDER_ERROR}TemplateAssertionError(\"No filter named 'nosuch'.\")",
        ),
        (
            "{% include 'x' %}",
            f"{RENDER_ERROR}TypeError('no loader for this environment specified')",
        ),
        (
            "{% for x in 5 %}{% endfor %}",
            f"{RENDER_ERROR}TypeError(\"'int' object is not iterable\")",
        ),
        (
            "{{ 1 + 'a' }}",
            f"{RENDER_ERROR}TypeError(\"unsupported operand type(s) for +: 'int' and 'str'\")",
        ),
        (
            "{{ 2**20000 }}",
            (
                f"{RENDER_ERROR}ValueError('Exceeds the limit (4300 digits) for integer string "
                "conversion; use sys.set_int_max_str_digits() to increase the limit')"
            ),
        ),
        (
            "{{ 'a' * 10**20 }}",
            f"{RENDER_ERROR}OverflowError(\"cannot fit 'int' into an index-sized integer\")",
        ),
        ("{{ [1] * 2**62 }}", f"{RENDER_ERROR}MemoryError()"),
        (
            "{{ 'a'.ljust(10**20) }}",
            f"{RENDER_ERROR}OverflowError('Python int too large to convert to C ssize_t')",
        ),
        (
            "{{ 0 ** -1 }}",
            f"{RENDER_ERROR}ZeroDivisionError('0.0 cannot be raised to a negative power')",
        ),
    ],
)
def test_jinja_errors(template: str, message: str) -> None:
    assert render_failure(template) == message


@pytest.mark.parametrize(
    ("template", "error"),
    [
        # A lazy sequence that fails while it is joined fails the join (audit batch 19).
        (
            "{{ [none]|map('length')|join }}",
            "TypeError(\"object of type 'NoneType' has no len()\")",
        ),
        (
            "{{ ''.join([none]|map('length')) }}",
            "TypeError(\"object of type 'NoneType' has no len()\")",
        ),
        (
            "{{ ['a']|select('odd')|join }}",
            "TypeError('not all arguments converted during string formatting')",
        ),
        # Every piece is rendered before they are joined: a later error comes first.
        ("{% filter length %}{% endfilter %}{{ 1/0 }}", "ZeroDivisionError('division by zero')"),
        (
            "{% filter length %}{% endfilter %}x",
            "TypeError('sequence item 0: expected str instance, int found')",
        ),
        # Prefect registers its own `_tojson`, whose name shows in argument errors.
        (
            "{{ 1|tojson(2, 3) }}",
            "TypeError('_tojson() takes from 2 to 3 positional arguments but 4 were given')",
        ),
        (
            "{{ 1|tojson(foo=1) }}",
            "TypeError(\"_tojson() got an unexpected keyword argument 'foo'\")",
        ),
        # A width too long to hold is the formatting's own error, not the digit limit's.
        ("{{ '%" + "1" * 4301 + "d' % 1 }}", "ValueError('width too big')"),
        ("{{ '%" + "9" * 19 + "d' % 1 }}", "ValueError('width too big')"),
        (
            "{{ '{:" + "1" * 4301 + "}'.format(1) }}",
            "ValueError('Too many decimal digits in format string')",
        ),
    ],
)
def test_jinja_errors_found_by_random_templates(template: str, error: str) -> None:
    assert render_failure(template) == RENDER_ERROR + error


def test_tojson_still_renders() -> None:
    assert render("{{ {'a': [1, '<'] }|tojson }}") == '{"a": [1, "\\u003c"]}'
    assert render("{{ [1]|tojson(indent=2) }}") == "[\n  1\n]"


def test_jinja_dict_template_is_hydrated_first() -> None:
    assert hydrate_one(jinja({KIND: "none", "value": "{{ 1 + 1 }}"})) == "2"
    assert hydrate_one(jinja({KIND: "json"})) == "<removed>"


def test_jinja_list_or_dict_template_comes_back_unchanged() -> None:
    # Prefect tests `"{{" in template` on the list items or dict keys.
    assert hydrate_one(jinja(["{{ 1 }}"])) == ["{{ 1 }}"]
    assert hydrate_one(jinja({"x": "{{ 1 }}"})) == {"x": "{{ 1 }}"}
    # ... but first validates the Python repr as a template
    assert failure({"a": jinja(["{{"])}) == 'Invalid jinja: unexpected char "\'" at 4'
    # ... and refuses to compile one whose items or keys include "{{".
    message = f'{RENDER_ERROR}TypeError("Can\'t compile non template nodes")'
    assert failure({"a": jinja(["{{", "}}"])}) == message
    assert failure({"a": jinja({"{{": 1, "}}": 2})}) == message


@pytest.mark.parametrize(
    ("template", "kind"), [(None, "null"), (5, "integer"), (True, "boolean"), (1.5, "number")]
)
def test_jinja_scalar_template_own_message(template: JSON, kind: str) -> None:
    # own: Prefect answers 500
    expected = f"Invalid jinja: the template must be a string, got {kind}."
    assert failure({"a": jinja(template)}) == expected
    assert failure({"a": jinja({KIND: "none", "value": template})}) == expected


def test_workspace_variable() -> None:
    variables: dict[str, JSON] = {"v": {"x": [1]}, "n": None, "s": "text"}
    assert hydrate_one({KIND: "workspace_variable", "variable_name": "v"}, variables) == {"x": [1]}
    assert hydrate_one({KIND: "workspace_variable", "variable_name": "n"}, variables) is None
    named_by_placeholder = {
        KIND: "workspace_variable",
        "variable_name": {KIND: "none", "value": "s"},
    }
    assert hydrate_one(named_by_placeholder, variables) == "text"


def test_workspace_variable_removed() -> None:
    assert hydrate_one({KIND: "workspace_variable"}) == "<removed>"
    assert hydrate_one({KIND: "workspace_variable", "variable_name": {KIND: "json"}}) == "<removed>"


@pytest.mark.parametrize(
    ("name", "shown"), [("nope", "nope"), (5, "5"), (None, "None"), (True, "True"), (1.5, "1.5")]
)
def test_workspace_variable_not_found(name: JSON, shown: str) -> None:
    placeholder = {KIND: "workspace_variable", "variable_name": name}
    assert failure({"a": placeholder}, {"v": 1}) == f"Variable '{shown}' not found in workspace."


def test_workspace_variable_unhashable_name_own_message() -> None:
    assert failure({"a": {KIND: "workspace_variable", "variable_name": [1]}}) == (
        "Invalid variable_name: expected a string, got array."
    )
    placeholder = {KIND: "workspace_variable", "variable_name": {KIND: "none", "value": {"k": 1}}}
    assert failure({"a": placeholder}) == "Invalid variable_name: expected a string, got object."


@pytest.mark.parametrize("kind", ["whatever", None, 5, 1.5, False, ""])
def test_unknown_kind_returns_value_unhydrated(kind: JSON) -> None:
    inner: JSON = {KIND: "json", "value": "{"}
    assert hydrate_one({KIND: kind, "value": inner}) == inner
    assert hydrate_one({KIND: kind}) is None


def test_unhashable_kind_own_message() -> None:
    assert failure({"a": {KIND: [], "value": 1}}) == (
        "Invalid __prefect_kind: expected a string or null, got array."
    )
    assert failure({"a": {KIND: {}, "value": 1}}) == (
        "Invalid __prefect_kind: expected a string or null, got object."
    )


# --------------------------------------------------------------------------------------
# The walk: removal, order of errors, top level
# --------------------------------------------------------------------------------------


def test_removal_in_dicts_and_lists() -> None:
    parameters: dict[str, JSON] = {
        "a": [1, {KIND: "json"}, {KIND: "workspace_variable"}, 2],
        "b": {KIND: "json"},
        "c": [[{KIND: "json"}], {"x": {KIND: "json"}, "y": 3}],
    }
    assert hydrate(parameters) == {"a": [1, 2], "c": [[], {"y": 3}]}


def test_first_error_in_key_order() -> None:
    assert failure({"a": {KIND: "none"}, "b": {KIND: "jinja"}}) == (
        "Missing 'value' key in __prefect object"
    )
    assert failure({"b": {KIND: "jinja"}, "a": {KIND: "none"}}) == (
        "Missing 'template' key in __prefect object"
    )


def test_first_error_in_list_order_and_depth_first() -> None:
    parameters: dict[str, JSON] = {
        "a": [{"deep": [{KIND: "json", "value": "x"}]}, {KIND: "none"}],
        "b": {KIND: "jinja"},
    }
    assert failure(parameters) == "Invalid JSON: Expecting value: line 1 column 1 (char 0)"


def test_errors_inside_nested_placeholders() -> None:
    missing = {KIND: "workspace_variable", "variable_name": "missing"}
    assert failure({"a": {KIND: "none", "value": {"deep": [missing]}}}) == (
        "Variable 'missing' not found in workspace."
    )
    assert failure({"a": jinja({KIND: "none", "value": {"x": missing}})}) == (
        "Variable 'missing' not found in workspace."
    )


@pytest.mark.parametrize(
    ("parameters", "expected"),
    [
        ({KIND: "json", "value": '{"z": 1}'}, {"z": 1}),
        ({KIND: "json"}, {}),
        ({KIND: "workspace_variable"}, {}),
        ({KIND: "none", "value": {"x": {KIND: "json", "value": "3"}}}, {"x": 3}),
        (
            {KIND: "foo", "value": {"x": {KIND: "json", "value": "3"}}},
            {"x": {KIND: "json", "value": "3"}},
        ),
        ({KIND: "none", "value": {KIND: "json"}}, {}),
        ({KIND: "workspace_variable", "variable_name": "v"}, {"x": [1]}),
    ],
)
def test_top_level_placeholder(parameters: dict[str, JSON], expected: JSON) -> None:
    assert hydrate(parameters, {"v": {"x": [1]}}) == expected


@pytest.mark.parametrize(
    ("parameters", "kind"),
    [
        ({KIND: "json", "value": "[1]"}, "array"),
        ({KIND: "foo"}, "null"),
        ({KIND: None}, "null"),
        ({KIND: 5, "value": 3}, "integer"),
        ({KIND: "jinja", "template": "x"}, "string"),
        ({KIND: "workspace_variable", "variable_name": "n"}, "null"),
    ],
)
def test_top_level_non_object_own_message(parameters: dict[str, JSON], kind: str) -> None:
    # own: Prefect answers 500
    expected = f"Hydrated parameters must be a JSON object, got {kind}."
    assert failure(parameters, {"n": None}) == expected


def test_deployment_default_placeholders() -> None:
    # The service merges deployment defaults and request values first (§6.1); placeholders
    # from either side are resolved the same way.
    deployment_defaults: dict[str, JSON] = {
        "when": {KIND: "jinja", "template": "{{ 6 * 7 }}"},
        "secret": {KIND: "workspace_variable", "variable_name": "token"},
        "kept": {"nested": {KIND: "json", "value": "[1]"}},
    }
    request: dict[str, JSON] = {"extra": {KIND: "none", "value": 1}}
    merged = {**deployment_defaults, **request}
    before = copy.deepcopy(deployment_defaults)
    result = hydrate(merged, {"token": "abc"})
    assert result == {"when": "42", "secret": "abc", "kept": {"nested": [1]}, "extra": 1}
    assert deployment_defaults == before


class LazyVariables(Mapping[str, JSON]):
    """A storage-backed mapping that must not be iterated."""

    def __init__(self, values: dict[str, JSON]) -> None:
        self._values = values
        self.looked_up: list[str] = []

    def __getitem__(self, key: str) -> JSON:
        self.looked_up.append(key)
        return self._values[key]

    def __contains__(self, key: object) -> bool:
        assert isinstance(key, str)
        return key in self._values

    def __iter__(self) -> Iterator[str]:
        raise AssertionError("hydration must not iterate the variables")

    def __len__(self) -> int:
        raise AssertionError("hydration must not size the variables")


def test_variables_are_read_lazily_and_copied() -> None:
    stored: dict[str, JSON] = {"v": {"x": [1]}}
    variables = LazyVariables(stored)
    parameters: dict[str, JSON] = {
        "a": {KIND: "workspace_variable", "variable_name": "v"},
        "b": {KIND: "workspace_variable", "variable_name": 7},
        "c": 1,
    }
    with pytest.raises(HydrationFailed):
        hydrate(parameters, variables)
    del parameters["b"]
    result = hydrate(parameters, variables)
    assert variables.looked_up == ["v", "v"]
    result["a"]["x"].append(2)  # type: ignore[index,union-attr]
    assert stored == {"v": {"x": [1]}}


# --------------------------------------------------------------------------------------
# Laws over random JSON trees
# --------------------------------------------------------------------------------------

json_keys = st.text(max_size=5).filter(lambda key: key != KIND)


def _containers(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.lists(children, max_size=4) | st.dictionaries(json_keys, children, max_size=4)


json_trees = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
    _containers,
    max_leaves=25,
)
json_objects = st.dictionaries(json_keys, json_trees, max_size=5)


def containers(value: Any) -> Iterator[int]:
    """The ids of every dict and list in a tree."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            yield id(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            yield id(item)
            stack.extend(item)


@given(json_objects)
def test_placeholder_free_trees_hydrate_to_an_equal_unaliased_copy(tree: dict[str, JSON]) -> None:
    before = copy.deepcopy(tree)
    result = hydrate(tree)
    assert result == tree
    assert tree == before
    assert set(containers(result)).isdisjoint(containers(tree))


@given(json_trees)
def test_unknown_kind_and_variables_return_an_unaliased_copy(value: JSON) -> None:
    before = copy.deepcopy(value)
    variables = {"v": value}
    got = [
        hydrate_one({KIND: "something else", "value": value}),
        hydrate_one({KIND: "workspace_variable", "variable_name": "v"}, variables),
        hydrate_one({KIND: "none", "value": value}),
    ]
    for result in got:
        assert result == value
        assert set(containers(result)).isdisjoint(containers(value))
    assert value == before


@given(json_objects)
def test_hydration_never_mutates_its_input(tree: dict[str, JSON]) -> None:
    parameters: dict[str, JSON] = {
        "tree": tree,
        "p": {KIND: "none", "value": tree},
        "j": {KIND: "json", "value": [tree]},
        "gone": {KIND: "json"},
    }
    before = copy.deepcopy(parameters)
    result = hydrate(parameters)
    assert parameters == before
    assert result == {"tree": tree, "p": tree, "j": [tree]}
    assert set(containers(result)).isdisjoint(containers(parameters))


# --------------------------------------------------------------------------------------
# Deep input
# --------------------------------------------------------------------------------------

DEPTH = 10_000


def same_tree(left: JSON, right: JSON) -> bool:
    """Deep equality without recursion (`==` overflows the stack at this depth)."""
    stack = [(left, right)]
    while stack:
        a, b = stack.pop()
        if isinstance(a, dict) and isinstance(b, dict):
            if a.keys() != b.keys():
                return False
            stack.extend((a[k], b[k]) for k in a)
        elif isinstance(a, list) and isinstance(b, list):
            if len(a) != len(b):
                return False
            stack.extend(zip(a, b, strict=True))
        elif type(a) is not type(b) or a != b:
            return False
    return True


def nested_dicts(depth: int, leaf: JSON) -> dict[str, JSON]:
    tree: dict[str, JSON] = {"leaf": leaf}
    for _ in range(depth):
        tree = {"k": tree}
    return tree


def test_deeply_nested_input_does_not_recurse() -> None:
    tree = nested_dicts(DEPTH, {KIND: "json", "value": "1"})
    result = hydrate(tree)
    for _ in range(DEPTH):
        result = result["k"]  # type: ignore[call-overload,index]
    assert result == {"leaf": 1}

    nested_list: JSON = [1]
    for _ in range(DEPTH):
        nested_list = [nested_list]
    assert same_tree(hydrate({"l": nested_list}), {"l": nested_list})
    assert not same_tree(hydrate({"l": nested_list}), {"l": [nested_list]})


def test_deeply_nested_placeholders_do_not_recurse() -> None:
    chain: JSON = "bottom"
    for _ in range(DEPTH):
        chain = {KIND: "none", "value": chain}
    assert hydrate_one(chain) == "bottom"

    deep_value = nested_dicts(DEPTH, 1)
    assert same_tree(hydrate_one({KIND: "unknown", "value": deep_value}), deep_value)
    variable = {KIND: "workspace_variable", "variable_name": "v"}
    # A variable's value lands below its placeholder: hydration would take the parameters
    # past Prefect's serialization limit (Prefect stores such a run, then answers 500).
    assert failure({"a": variable}, {"v": deep_value}) == (
        "The hydrated parameters are nested too deeply."
    )


@pytest.mark.parametrize("kind", ["json", "workspace_variable"])
def test_hydration_may_take_parameters_to_the_limit_and_no_further(kind: str) -> None:
    def placeholder_of(levels: int) -> tuple[JSON, dict[str, JSON]]:
        value: JSON = 1
        for _ in range(levels - 1):
            value = [value]
        if kind == "json":
            return {KIND: "json", "value": json.dumps(value)}, {}
        return {KIND: "workspace_variable", "variable_name": "v"}, {"v": value}

    # {"a": value}: the parameters are one level deeper than the value, scalars counted.
    fits, variables = placeholder_of(MAX_JSON_DEPTH - 1)
    assert not json_depth_exceeds(hydrate({"a": fits}, variables), MAX_JSON_DEPTH)
    too_deep, variables = placeholder_of(MAX_JSON_DEPTH)
    assert failure({"a": too_deep}, variables) == "The hydrated parameters are nested too deeply."
    # At the root, the value is the parameters themselves.
    assert json_depth_exceeds(hydration.hydrate_root(too_deep, variables), MAX_JSON_DEPTH - 1)


def test_deeply_nested_template_own_message() -> None:
    template = "{{ " + "(" * 3000 + "1" + ")" * 3000 + " }}"
    assert render_failure(template) == "Invalid jinja: the template is nested too deeply."
    deep_list: JSON = ["{{ 1 }}"]
    for _ in range(DEPTH):
        deep_list = [deep_list]
    assert render_failure(deep_list) == "Invalid jinja: the template is nested too deeply."  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------
# Prefect's loop limits, at the boundary
# --------------------------------------------------------------------------------------


def sibling_loops(count: int) -> str:
    return "{% for i in range(1) %}x{% endfor %}" * count


def nested_loops(depth: int) -> str:
    return "{% for i in range(2) %}" * depth + "x" + "{% endfor %}" * depth


def test_ten_loops_are_allowed_eleven_are_not() -> None:
    assert render(sibling_loops(10)) == "x" * 10
    assert render_failure(sibling_loops(11)) == (
        "Invalid jinja: Contains 11 for loops. Templates can contain no more than 10 for loops."
    )


def test_two_nested_loops_are_allowed_three_are_not() -> None:
    assert render(nested_loops(2)) == "x" * 4
    message = (
        "Invalid jinja: Contains nested for loops at a depth of 3. "
        "Templates can nest for loops no more than 2 loops deep."
    )
    assert render_failure(nested_loops(3)) == message
    in_else = "{% for i in [] %}{% else %}" + nested_loops(2) + "{% endfor %}"
    assert render_failure(in_else) == message


def test_loop_count_is_checked_before_depth() -> None:
    assert render_failure(nested_loops(11)).startswith("Invalid jinja: Contains 11 for loops.")


def test_loop_limits_apply_even_without_rendering() -> None:
    # Validation parses every template; only rendering is skipped without `{{` / `{%`.
    assert failure({"a": jinja({KIND: "none", "value": nested_loops(3)})}).startswith(
        "Invalid jinja: Contains nested for loops at a depth of 3."
    )


# --------------------------------------------------------------------------------------
# Hardening beyond Prefect (own messages)
# --------------------------------------------------------------------------------------

BIG = "{% set s = 'x' * 1048576 %}"


@pytest.mark.parametrize(
    "template",
    [
        "{{ 'a' * 10**9 }}",
        "{{ [1, 2] * 10**9 }}",
        "{{ 'a'.ljust(10**9) }}",
        "{{ 'a'.zfill(10**9) }}",
        "{{ 'a' | center(10**9) }}",
        "{{ '%0999999999d' % 1 }}",
        "{{ '%*d' % (999999999, 1) }}",
        "{{ '%0999999999d' | format(1) }}",
        "{{ '{:>999999999}'.format(1) }}",
        "{{ '{:>{}}'.format(1, 999999999) }}",
        "{{ '{a:>999999999}'.format_map({'a': 1}) }}",
        "{{ (1).to_bytes(10**9, 'big') }}",
        "{{ lipsum(10**6) }}",
        "{{ range(1) | batch(10**9, 'x') | list }}",
        "{{ range(1) | slice(10**9) | list }}",
        "{{ [[[[1]]]] | tojson(10**8) }}",
        BIG + "{{ s ~ 'y' }}",
        BIG + "{{ s + 'y' }}",
        BIG + "{{ s.replace('x', 'yy') }}",
        BIG + "{{ s | replace('x', 'yy') }}",
        BIG + "{{ [s, s] | join }}",
        BIG + "{{ ''.join([s, s]) }}",
        BIG + "{{ s | indent(4, true) }}",
        BIG + "{{ s | wordwrap(1) }}",
        BIG + "{{ s.translate({120: 'yy'}) }}",
        BIG + "{{ s.expandtabs(8) ~ ('\t' * 2).expandtabs(10**9) }}",
        "{% macro f(s) %}{{ f(s ~ s) }}{% endmacro %}{{ f('a') }}",
        (
            "{% set ns = namespace(s='a') %}{% for i in range(100) %}{% set ns.s = ns.s ~ ns.s %}"
            "{% endfor %}"
        ),
    ],
)
def test_values_over_the_cap_are_refused(template: str) -> None:
    assert render_failure(template) == TOO_LARGE


@pytest.mark.parametrize(
    "template",
    ["{{ 9**(9**9) }}", "{{ 2**(2**20) }}", "{{ (2**100000) * (2**100000) }}"],
)
def test_huge_integers_are_refused(template: str) -> None:
    assert render_failure(template) == f"{LIMIT}an integer larger than 131072 bits."


@pytest.mark.parametrize(
    "template",
    [
        "{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}",
        "{% macro m() %}{% for i in range(100) %}{{ m() }}{% endfor %}{% endmacro %}{{ m() }}",
        "{% for x in range(100) recursive %}{{ loop(range(100)) }}{% endfor %}",
    ],
)
def test_unbounded_recursion_fails_as_in_prefect(template: str) -> None:
    # Prefect renders until the interpreter's recursion limit, then reports the error.
    expected = f"{RENDER_ERROR}RecursionError('maximum recursion depth exceeded')"
    assert render_failure(template) == expected


def _macro_depth(n: int) -> str:
    return (
        "{% macro f(n) %}{% if n > 0 %}{{ f(n - 1) }}{% else %}bottom{% endif %}{% endmacro %}"
        f"{{{{ f({n}) }}}}"
    )


def test_macro_recursion_renders_as_deep_as_prefect_renders_it() -> None:
    # Recorded on 3.9.1: 150 nested macro calls render, 200 fail with a RecursionError.
    assert render(_macro_depth(150)) == "bottom"
    assert render_failure(_macro_depth(200)).startswith(f"{RENDER_ERROR}RecursionError(")


def test_the_call_depth_bound_holds_where_the_recursion_limit_was_raised() -> None:
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(20_000)
    try:
        failure = render_failure(_macro_depth(MAX_CALL_DEPTH + 10))
    finally:
        sys.setrecursionlimit(limit)
    assert failure == f"{LIMIT}calls nested more than {MAX_CALL_DEPTH} deep."


def test_macro_recursion_within_the_depth_limit_renders() -> None:
    template = (
        "{% macro count(n) %}{% if n > 0 %}{{ n }},{{ count(n - 1) }}{% endif %}{% endmacro %}"
        "{{ count(40) }}"
    )
    assert render(template) == "".join(f"{n}," for n in range(40, 0, -1))


def test_output_over_the_cap_is_refused() -> None:
    template = "{% for i in range(100) %}{{ 'x' * 20000 }}{% endfor %}"
    assert render_failure(template) == f"{LIMIT}output longer than {MAX_OUTPUT_SIZE} characters."
    literal = "{% for i in range(100) %}{% for j in range(100) %}" + "x" * 200
    assert render_failure(literal + "{% endfor %}{% endfor %}") == (
        f"{LIMIT}output longer than {MAX_OUTPUT_SIZE} characters."
    )


@pytest.mark.parametrize(
    "template",
    [
        BIG + "{% for a in s %}{% for b in s if false %}{% endfor %}{% endfor %}",
        BIG + "{% macro m() %}{% for i in range(100) %}{% for j in range(100) %}{{ s }}"
        "{% endfor %}{% endfor %}{% endmacro %}{{ m() | length }}",
        "{% macro m() %}"
        + "y" * 10_000
        + "{% endmacro %}{% for i in range(100) %}{% for j in range(100) %}{% set q = m() %}"
        "{% endfor %}{% endfor %}",
    ],
)
def test_too_much_work_is_refused(template: str) -> None:
    assert render_failure(template) == (
        f"{LIMIT}more than {hydration.MAX_WORK} units of work (loop iterations, calls and text)."
    )


def test_values_up_to_the_cap_are_allowed() -> None:
    assert render("{{ ('x' * 1048576) | length }}") == "1048576"
    assert render("{{ 'a'.ljust(1000) | length }}") == "1000"


def test_the_environment_is_built_once() -> None:
    assert jinja_sandbox._environment() is jinja_sandbox._environment()
    render("{{ 1 }}")
    assert jinja_sandbox._BUDGET.get() is None  # each rendering's budget is reset


# --------------------------------------------------------------------------------------
# The placeholder-free fast path
# --------------------------------------------------------------------------------------


def walked(parameters: dict[str, JSON], variables: dict[str, JSON]) -> JSON:
    """What the general (iterative) walk alone makes of ``parameters``."""
    return hydration._walk(dict(parameters), variables)  # type: ignore[return-value]


@given(json_objects, st.integers(1, 2 * hydration._PLAIN_DEPTH))
def test_fast_copy_equals_the_walk_at_any_depth(tree: dict[str, JSON], depth: int) -> None:
    nested: dict[str, JSON] = tree
    for _ in range(depth):
        nested = {"k": nested}
    assert same_tree(hydrate(nested), walked(nested, {}))  # type: ignore[arg-type]
    assert set(containers(hydrate(nested))).isdisjoint(containers(nested))


@given(json_objects, st.integers(0, 2 * hydration._PLAIN_DEPTH))
def test_a_placeholder_at_any_depth_is_hydrated(tree: dict[str, JSON], depth: int) -> None:
    placeholder: JSON = {KIND: "workspace_variable", "variable_name": "v"}
    for _ in range(depth):
        placeholder = [{"k": placeholder}]
    parameters = {"tree": tree, "p": placeholder}
    variables: dict[str, JSON] = {"v": "hydrated"}
    result = hydration.hydrate_parameters(parameters, variables)
    assert same_tree(result, walked(parameters, variables))  # type: ignore[arg-type]
    leaf: JSON = result["p"]
    for _ in range(depth):
        leaf = leaf[0]["k"]  # type: ignore[call-overload,index]
    assert leaf == "hydrated"


def test_a_filter_block_yielding_a_number_fails_as_the_join_does() -> None:
    # Recorded on 3.9.1 (batch 7): Prefect's rendering joins the pieces and fails there.
    expected = f"{RENDER_ERROR}TypeError('sequence item 0: expected str instance, int found')"
    assert render_failure("{% filter e|length %}<i>{% endfilter %}") == expected


def test_range_has_prefects_name() -> None:
    assert render("{{ (range|string)[:31] }}") == "<function _check_template_range"


def test_a_value_prefect_cannot_store_is_refused_after_the_walk_with_the_result() -> None:
    deep = "[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH
    with pytest.raises(hydration.UnstorableHydration) as info:
        hydrate({"a": {KIND: "json", "value": deep}, "b": {KIND: "json", "value": '"\\ud800"'}})
    # One of the problems met is the message; the walk went on and the result is handed over.
    assert str(info.value) in {
        "Invalid JSON: the document is nested too deeply.",
        (
            "Invalid JSON: the result holds a lone surrogate, which is not valid Unicode and "
            "cannot be stored."
        ),
    }
    assert info.value.value["b"] == "\ud800"  # type: ignore[index,call-overload]
    assert json_depth_exceeds(info.value.value, MAX_JSON_DEPTH)
    # A later placeholder's own error is Prefect's answer at hydration: it wins.
    assert failure({"a": {KIND: "json", "value": deep}, "b": {KIND: "json", "value": "{"}}) == (
        "Invalid JSON: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"
    )


# Recorded on 3.9.1 (compat batch 27): Prefect's environment folds constant operations when it
# compiles a template, and the folding shows; the bounded sandbox folds them the same way.
RENDER_ERROR = "Invalid jinja: Failed to render template due to the following error: "
BIG_INT_REPR = (
    "ValueError('Exceeds the limit (4300 digits) for integer string conversion; use "
    "sys.set_int_max_str_digits() to increase the limit')"
)


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{ 2 * 3 or 1|nofilter }}", "6"),  # the unknown filter is folded away
        ("{{ 'a' ~ 'b' or 1 is notatest }}", "ab"),
        ("{{ 2 ** 3 and 4 + 1 }}", "5"),
        ("{{ -1e308 - 1e308 }}", "-inf"),  # "-" was never intercepted
    ],
)
def test_constant_operations_fold_as_in_prefect(template: str, expected: str) -> None:
    assert render(template) == expected


@pytest.mark.parametrize(
    ("template", "error"),
    [
        (
            "{% if false %}{{ 10**5000 }}{% endif %}",
            BIG_INT_REPR,
        ),
        ("{% set x = 1e308 * 10 %}{{ x }}", "NameError(\"name 'inf' is not defined\")"),
        (
            "{{ 1 + 1 }}x{% filter length %}y{% endfilter %}",
            "TypeError('sequence item 1: expected str instance, int found')",
        ),
    ],
)
def test_folded_constants_fail_as_in_prefect(template: str, error: str) -> None:
    assert failure({"a": jinja(template)}) == f"{RENDER_ERROR}{error}"


def test_an_integer_literal_past_4300_digits_is_invalid_jinja() -> None:
    """Prefect's lexer raises a plain ValueError there and answers 500; here it is a 400."""
    message = failure({"a": jinja("{{ " + "1" * 5000 + " }}")})
    assert message.startswith("Invalid jinja: Exceeds the limit (4300 digits)")
    assert render("{{ " + "1" * 4300 + " }}") == "1" * 4300


def test_a_folded_constant_past_the_bounds_is_refused() -> None:
    message = failure({"a": jinja("{% if false %}{{ 2 ** 200000 }}{% endif %}")})
    assert message.startswith("Invalid jinja: the template exceeds a resource limit")
