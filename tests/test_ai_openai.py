"""The OpenAI-compatible provider against a small local server that speaks the protocol."""

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from activities.ai.factory import build_provider
from activities.ai.local.provider import LocalProvider
from activities.ai.openai_compat import OpenAIProvider
from activities.ai.provider import InvalidAIRequest, InvalidModelOutput
from core.settings import Settings
from tests.helpers import serve
from workflows.contracts.ai import (
    ClassifyMessageRequest,
    ExtractOrderRequest,
    Intent,
    Urgency,
)

API_KEY = "test-key"
SERVED_MODEL = "fake-model-2026-01-01"
VALID_CLASSIFICATION = json.dumps(
    {"intent": "order", "urgency": "high", "urgency_confidence": 0.7, "confidence": 0.9}
)

# What the fake answers to the n-th call (from 0) with that request body: content or a status.
Answer = Callable[[int, dict[str, Any]], str | int]


@dataclass
class FakeService:
    answer: Answer
    bodies: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    delay_s: float = 0.0

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/v1/chat/completions")
        async def complete(request: Request) -> JSONResponse:
            body = await request.json()
            self.bodies.append(body)
            self.headers.append(dict(request.headers))
            await asyncio.sleep(self.delay_s)
            reply = self.answer(len(self.bodies) - 1, body)
            if isinstance(reply, int):
                return JSONResponse({"error": {"message": "refused"}}, status_code=reply)
            return JSONResponse(
                {
                    "model": SERVED_MODEL,
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": reply}}],
                    "usage": {"prompt_tokens": 120, "completion_tokens": 30, "total_tokens": 150},
                }
            )

        return app


@asynccontextmanager
async def provider_for(
    service: FakeService, timeout_s: float = 10.0
) -> AsyncIterator[OpenAIProvider]:
    async with serve(service.app()) as url, httpx.AsyncClient() as http:
        yield OpenAIProvider(
            http, base_url=f"{url}/v1", api_key=API_KEY, model="gpt-test", timeout_s=timeout_s
        )


def always(reply: str | int) -> Answer:
    return lambda _call, _body: reply


MESSAGE = ClassifyMessageRequest(text="We need 20 widgets ASAP, our line is down!")


async def test_a_valid_answer_becomes_the_result() -> None:
    service = FakeService(always(VALID_CLASSIFICATION))
    async with provider_for(service) as provider:
        result = await provider.classify_message(MESSAGE)
    assert (result.intent, result.urgency, result.confidence) == (Intent.ORDER, Urgency.HIGH, 0.9)
    assert (result.model, result.model_version) == ("gpt-test", SERVED_MODEL)
    assert result.metrics.prompt_tokens == 120
    assert result.metrics.completion_tokens == 30
    assert result.metrics.attempts == 1


async def test_the_request_carries_the_schema_the_key_and_the_input() -> None:
    service = FakeService(always(VALID_CLASSIFICATION))
    async with provider_for(service) as provider:
        await provider.classify_message(MESSAGE)
    body, headers = service.bodies[0], service.headers[0]
    assert headers["authorization"] == f"Bearer {API_KEY}"
    assert body["model"] == "gpt-test"
    assert body["response_format"]["type"] == "json_schema"
    schema = body["response_format"]["json_schema"]["schema"]
    assert {"intent", "urgency", "confidence"} <= set(schema["properties"])
    assert not {"model", "model_version", "metrics"} & set(schema["properties"])
    assert MESSAGE.text in body["messages"][-1]["content"]


async def test_an_invalid_answer_is_sent_back_with_the_error_and_retried() -> None:
    invalid = json.dumps({"intent": "shopping", "confidence": 2})
    service = FakeService(lambda call, _body: invalid if call == 0 else VALID_CLASSIFICATION)
    async with provider_for(service) as provider:
        result = await provider.classify_message(MESSAGE)
    assert result.intent is Intent.ORDER
    assert result.metrics.attempts == 2
    assert result.metrics.prompt_tokens == 240  # both calls counted
    retry = service.bodies[1]["messages"]
    assert retry[-2] == {"role": "assistant", "content": invalid}
    assert "intent" in retry[-1]["content"]  # the validation error names the field at fault


async def test_an_answer_that_is_not_json_is_retried_too() -> None:
    service = FakeService(
        lambda call, _body: "Sure! Here is" if call == 0 else VALID_CLASSIFICATION
    )
    async with provider_for(service) as provider:
        result = await provider.classify_message(MESSAGE)
    assert result.metrics.attempts == 2


async def test_retries_are_bounded() -> None:
    service = FakeService(always("{}"))
    async with provider_for(service) as provider:
        with pytest.raises(InvalidModelOutput):
            await provider.classify_message(MESSAGE)
    assert len(service.bodies) == 3


async def test_a_server_without_json_schema_gets_json_object_mode() -> None:
    def answer(_call: int, body: dict[str, Any]) -> str | int:
        return 400 if body["response_format"]["type"] == "json_schema" else VALID_CLASSIFICATION

    service = FakeService(answer)
    async with provider_for(service) as provider:
        await provider.classify_message(MESSAGE)
        await provider.classify_message(MESSAGE)  # remembers: no second refusal
    formats = [body["response_format"]["type"] for body in service.bodies]
    assert formats == ["json_schema", "json_object", "json_object"]
    assert "intent" in service.bodies[1]["messages"][1]["content"]  # the schema, in the prompt


async def test_the_extraction_request_carries_catalogue_and_today() -> None:
    answer = json.dumps({"lines": [{"sku": "WID-100", "quantity": 20}], "confidence": 0.8})
    service = FakeService(always(answer))
    request = ExtractOrderRequest(
        text="20 standard widgets please",
        catalogue=[{"sku": "WID-100", "name": "Standard Widget"}],
        today=date(2026, 6, 10),
    )
    async with provider_for(service) as provider:
        result = await provider.extract_order(request)
    assert [(line.sku, line.quantity) for line in result.lines] == [("WID-100", 20)]
    sent = json.loads(service.bodies[0]["messages"][-1]["content"])
    assert sent["today"] == "2026-06-10"
    assert sent["catalogue"] == [{"sku": "WID-100", "name": "Standard Widget"}]


async def test_server_errors_propagate_for_temporal_to_retry() -> None:
    async with provider_for(FakeService(always(503))) as provider:
        with pytest.raises(httpx.HTTPStatusError):
            await provider.classify_message(MESSAGE)


async def test_a_refused_request_is_not_worth_retrying() -> None:
    async with provider_for(FakeService(always(401))) as provider:
        with pytest.raises(InvalidAIRequest):
            await provider.classify_message(MESSAGE)


async def test_a_slow_server_times_out() -> None:
    service = FakeService(always(VALID_CLASSIFICATION), delay_s=1.0)
    async with provider_for(service, timeout_s=0.2) as provider:
        with pytest.raises(httpx.TimeoutException):
            await provider.classify_message(MESSAGE)


async def test_the_settings_choose_the_provider() -> None:
    async with httpx.AsyncClient() as http:
        local = build_provider(Settings(_env_file=None), http)
        remote = build_provider(Settings(_env_file=None, ai_provider="openai"), http)
    assert isinstance(local, LocalProvider)
    assert isinstance(remote, OpenAIProvider)
