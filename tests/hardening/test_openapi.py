"""The OpenAPI document lists every refusal an operation can answer, as problem documents."""

import httpx

PROBLEM = "application/problem+json"


async def test_every_operation_lists_its_problems(anonymous: httpx.AsyncClient) -> None:
    spec = (await anonymous.get("/openapi.json")).json()
    assert "Problem" in spec["components"]["schemas"]
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            responses = operation["responses"]
            expected = {"422", "429", "503"}
            if operation.get("security"):
                expected |= {"401", "403"}
            if "requestBody" in operation:
                expected |= {"413"}
            if "{" in path:
                expected |= {"404"}
            missing = expected - responses.keys()
            assert not missing, f"{method.upper()} {path} does not list {missing}"
            for status in expected:
                assert PROBLEM in responses[status]["content"], (method, path, status)
            assert "Retry-After" in responses["503"]["headers"]


async def test_a_wrong_method_names_every_method_the_path_serves(
    client: httpx.AsyncClient,
) -> None:
    response = await client.put("/v1/outlets/some-outlet")
    assert response.status_code == 405
    assert {"GET", "PATCH"} <= set(response.headers["allow"].split(", "))


async def test_every_reference_names_a_schema_the_document_has(
    anonymous: httpx.AsyncClient,
) -> None:
    # A dangling $ref stops Redoc from drawing any of the document.
    spec = (await anonymous.get("/openapi.json")).json()
    schemas = spec["components"]["schemas"]

    def references(node: object) -> list[str]:
        if isinstance(node, dict):
            found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
            return found + [ref for value in node.values() for ref in references(value)]
        if isinstance(node, list):
            return [ref for value in node for ref in references(value)]
        return []

    found = references(spec)
    assert found
    dangling = {ref for ref in found if ref.removeprefix("#/components/schemas/") not in schemas}
    assert dangling == set()
