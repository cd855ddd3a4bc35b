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
