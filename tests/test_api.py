"""The API skeleton over real HTTP: health, authentication, the error envelope, OpenAPI."""

import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel, Field

from api.app import create_app
from api.errors import install_error_handlers
from core.db import make_engine
from core.settings import Environment, Settings
from tests.helpers import serve


async def test_health_reports_temporal_and_database_ok(api: httpx.AsyncClient) -> None:
    response = await api.get("/health")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "ok"
    assert body["temporal"]["status"] == "ok"
    assert body["database"] == {"status": "ok", "detail": "sqlite"}


async def test_health_is_503_while_temporal_is_down(settings: Settings) -> None:
    # Nothing listens on port 1; the API still starts and says what is wrong.
    down = settings.model_copy(update={"temporal_address": "127.0.0.1:1"})
    async with serve(create_app(down)) as url, httpx.AsyncClient(base_url=url) as http:
        response = await http.get("/health")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "degraded"
    assert body["temporal"]["status"] == "down"
    assert "127.0.0.1:1" in body["temporal"]["detail"]
    assert body["database"]["status"] == "ok"


async def test_health_is_503_while_the_database_is_down(settings: Settings) -> None:
    app = create_app(settings)
    async with serve(app) as url, httpx.AsyncClient(base_url=url) as http:
        app.state.engine = make_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")
        response = await http.get("/health")
    assert response.status_code == 503
    body = response.json()
    assert body["database"]["status"] == "down"
    assert body["temporal"]["status"] == "ok"


async def test_v1_needs_a_valid_key(api: httpx.AsyncClient) -> None:
    missing = await api.get("/v1/me")
    assert missing.status_code == 401
    assert missing.json()["error"]["code"] == "unauthenticated"
    wrong = await api.get("/v1/me", headers={"Authorization": "Bearer not-a-key"})
    assert wrong.status_code == 401
    assert wrong.json()["error"]["message"] == "the API key is not valid"


async def test_demo_keys_work_in_dev(api: httpx.AsyncClient) -> None:
    response = await api.get("/v1/me", headers={"Authorization": "Bearer dev-carol"})
    assert response.status_code == 200
    assert response.json() == {"name": "carol", "roles": ["finance_controller"]}


async def test_demo_keys_do_not_exist_in_prod(settings: Settings) -> None:
    prod = settings.model_copy(update={"env": Environment.PROD})
    async with serve(create_app(prod)) as url, httpx.AsyncClient(base_url=url) as http:
        response = await http.get("/v1/me", headers={"Authorization": "Bearer dev-carol"})
    assert response.status_code == 401


async def test_unknown_paths_use_the_error_envelope(api: httpx.AsyncClient) -> None:
    response = await api.get("/v1/nothing-here")
    assert response.status_code == 404
    assert response.json() == {
        "error": {"code": "not_found", "message": "Not Found", "details": None}
    }


async def test_openapi_is_served(api: httpx.AsyncClient) -> None:
    spec = (await api.get("/openapi.json")).json()
    assert {"/health", "/v1/me"} <= set(spec["paths"])
    assert (await api.get("/docs")).status_code == 200


class _Order(BaseModel):
    quantity: int = Field(gt=0)


@pytest.fixture
async def echo_api() -> httpx.AsyncClient:
    app = FastAPI()
    install_error_handlers(app)

    @app.post("/orders")
    async def create(order: _Order) -> _Order:
        return order

    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


async def test_bad_input_is_422_naming_the_field(echo_api: httpx.AsyncClient) -> None:
    response = await echo_api.post("/orders", json={"quantity": 0})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert error["details"] == [
        {"field": "body.quantity", "message": "Input should be greater than 0"}
    ]
    assert "body.quantity" in error["message"]
