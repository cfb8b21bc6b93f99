"""Headers: ``X-Prefect-Api-Version`` (400 texts of spec §2 step 0b) and ``created_by`` (§3.5)."""

from __future__ import annotations

import base64
from uuid import UUID

import pytest

from flowrun_core.errors import ErrorDetail, InvalidHeader
from flowrun_core.models import CreatedBy
from flowrun_core.wire.headers import check_api_version, created_by_from_headers

U = "0b9f5e8c-3d6f-4f6a-9a62-7c1d2e3f4a5b"


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"x-prefect-api-version": ""},
        {"x-prefect-api-version": "0.8.0"},
        {"X-Prefect-Api-Version": "3.9.1"},
        {"x-prefect-api-version": " 1 . 2 . 3 "},
        {"x-prefect-api-version": "1_0.0.0"},
        {"x-prefect-api-version": "+1.0.0"},
        {"x-prefect-api-version": "0.8.0 "},
    ],
)
def test_accepted_versions(headers: dict[str, str]) -> None:
    check_api_version(headers)


@pytest.mark.parametrize("value", ["1.2", "a.b.c", "1.2.3.4", "0.8", "..", "1.2.x"])
def test_malformed_version(value: str) -> None:
    with pytest.raises(InvalidHeader) as info:
        check_api_version({"X-PREFECT-API-VERSION": value})
    assert info.value.message == (
        "Invalid X-PREFECT-API-VERSION header format."
        f"Expected header in format 'x.y.z' but received {value}"
    )


@pytest.mark.parametrize("value", ["0.7.9", "0.07.9", "-1.0.0", "0.8.-1", "0.0.1"])
def test_too_old_version(value: str) -> None:
    with pytest.raises(InvalidHeader) as info:
        check_api_version({"x-prefect-api-version": value})
    assert info.value.message == (
        f"The request specified API version {value} but this server requires version 0.8.0 or higher."
    )


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_created_by_needs_both_headers() -> None:
    headers = {"Prefect-Automation-Id": U, "prefect-automation-name": b64("My Automation")}
    assert created_by_from_headers(headers) == (
        CreatedBy(id=UUID(U), type="AUTOMATION", display_value="My Automation"),
        [],
    )
    assert created_by_from_headers({"prefect-automation-id": U}) == (None, [])
    assert created_by_from_headers({"prefect-automation-name": b64("x")}) == (None, [])
    assert created_by_from_headers({}) == (None, [])


@pytest.mark.parametrize(
    "name", ["!!!", "", b64(""), base64.b64encode(b"\xff\xfe").decode(), "abc"]
)
def test_undecodable_or_empty_name_gives_no_created_by(name: str) -> None:
    assert created_by_from_headers(
        {"prefect-automation-id": U, "prefect-automation-name": name}
    ) == (None, [])


def test_base64_is_non_strict() -> None:
    name = "!" + b64("ok") + "!"
    created_by, problems = created_by_from_headers(
        {"prefect-automation-id": U, "prefect-automation-name": name}
    )
    assert problems == []
    assert created_by is not None
    assert created_by.display_value == "ok"


@pytest.mark.parametrize(
    ("value", "error"), [("bad", "invalid length: found 3"), ("", "invalid length: found 0")]
)
def test_non_uuid_automation_id_is_a_header_422_item(value: str, error: str) -> None:
    assert created_by_from_headers(
        {"prefect-automation-id": value, "prefect-automation-name": b64("x")}
    ) == (
        None,
        [
            ErrorDetail(
                type="uuid_parsing",
                loc=("header", "prefect-automation-id"),
                msg=f"Input should be a valid UUID, {error}",
                input=value,
                ctx={"error": error},
            )
        ],
    )
