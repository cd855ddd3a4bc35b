"""Assertions on problem+json answers, shared by every domain's tests."""

import httpx


def assert_problem(response: httpx.Response, status: int, field: str | None = None) -> dict:
    """The response is an RFC 9457 problem with this status, naming `field` when given."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert {"type", "title", "status", "detail"} <= body.keys()
    assert body["status"] == status
    if field is not None:
        named = [e["loc"][-1] for e in body.get("errors", [])] + [
            e["loc"][-2] for e in body.get("errors", []) if len(e["loc"]) > 1
        ]
        assert field in named or field in body["detail"], body
    return body
