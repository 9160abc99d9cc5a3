"""Any OpenAI-compatible chat-completions service (OpenAI, Azure, vLLM, Ollama) as a provider.

The model is asked for JSON that matches the result's schema (`response_format: json_schema`);
servers that refuse that get `json_object` with the schema in the prompt instead. Every answer
is validated with pydantic; an invalid one is sent back with the validation error, a bounded
number of times. Token usage and latency are recorded on the result.
"""

import time
from functools import cache
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ValidationError, create_model

from activities.ai.agent_tools import read_turn, turn_request
from activities.ai.provider import InvalidAIRequest, InvalidModelOutput
from workflows.contracts.agent import AgentTurnRequest, AgentTurnResult
from workflows.contracts.ai import (
    AICallMetrics,
    AIResult,
    ClassifyMessageRequest,
    ClassifyMessageResult,
    ExtractInvoiceRequest,
    ExtractInvoiceResult,
    ExtractOrderRequest,
    ExtractOrderResult,
    ScoreRiskRequest,
    ScoreRiskResult,
)

Result = TypeVar("Result", bound=AIResult)

# Filled in by the provider, never asked of the model.
PROVENANCE_FIELDS = frozenset(AIResult.model_fields) - {"confidence"}
# 4xx statuses that are worth retrying: timeouts, conflicts, rate limits.
TRANSIENT_CLIENT_ERRORS = frozenset({408, 409, 429})

CONFIDENCE_RULE = (
    "Set confidence to your probability (0 to 1) that the whole answer is right; be honest, a "
    "person reviews answers below a threshold."
)
INSTRUCTIONS: dict[type[AIResult], str] = {
    ClassifyMessageResult: (
        "Classify the customer message. intent: order (wants to buy), inquiry (asks), complaint "
        "(unhappy with something delivered or billed), cancellation (withdraws an order) or "
        "other. urgency: low, normal or high. urgency_confidence: your probability for urgency."
    ),
    ExtractOrderResult: (
        "Extract the order in the customer's text. Each line: sku (resolved against the given "
        "catalogue by code or by name, tolerating typos and plurals), quantity (whole number), "
        "source_text (the words the customer used), confidence. requested_date: the delivery "
        "date asked for, as YYYY-MM-DD; relative dates ('within 2 weeks', 'next Friday' = Friday "
        "of the next calendar week) count from `today`; null when none. Item-like text that "
        "matches no catalogue entry goes to unresolved. No lines when nothing is ordered."
    ),
    ExtractInvoiceResult: (
        "Extract the vendor invoice. vendor_id and vendor_name from the given vendor list; "
        "invoice_number, invoice_date and due_date (YYYY-MM-DD; from the payment terms if no due "
        "date is printed), po_number, currency (ISO 4217), lines (description, sku from the given "
        "catalogue or null, quantity, unit_price, amount), subtotal, tax, total. Numbers as "
        "plain JSON numbers; null for what the invoice does not say."
    ),
    ScoreRiskResult: (
        "Score the credit risk of this order for the given customer. score: 0 (none) to 1 "
        "(certain trouble); level: low, medium or high; reasons: up to three short facts that "
        "drive the score (credit use, payment history, disputes, order size, segment)."
    ),
}


@cache
def answer_model(result_type: type[AIResult]) -> type[BaseModel]:
    """The part of a result the model answers: the result's fields without provenance."""
    fields: dict[str, Any] = {
        name: (info.annotation, info)
        for name, info in result_type.model_fields.items()
        if name not in PROVENANCE_FIELDS
    }
    return create_model(result_type.__name__, **fields)


class _Usage:
    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self.attempts = 0

    def add(self, usage: dict[str, Any]) -> None:
        self.attempts += 1
        self.prompt_tokens += int(usage.get("prompt_tokens", 0))
        self.completion_tokens += int(usage.get("completion_tokens", 0))

    def metrics(self) -> AICallMetrics:
        return AICallMetrics(
            latency_ms=(time.perf_counter() - self.started) * 1000,
            prompt_tokens=self.prompt_tokens,
            completion_tokens=self.completion_tokens,
            attempts=self.attempts,
        )


class OpenAIProvider:
    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        base_url: str,
        api_key: str,
        model: str,
        max_attempts: int = 3,
        timeout_s: float = 60.0,
    ) -> None:
        self._http = http
        self._url = base_url.rstrip("/") + "/chat/completions"
        self._api_key = api_key
        self._model = model
        self._max_attempts = max_attempts
        self._timeout = httpx.Timeout(timeout_s)
        self._json_schema = True  # until the server says it cannot do structured output

    async def classify_message(self, request: ClassifyMessageRequest) -> ClassifyMessageResult:
        return await self._ask(request, ClassifyMessageResult)

    async def extract_order(self, request: ExtractOrderRequest) -> ExtractOrderResult:
        return await self._ask(request, ExtractOrderResult)

    async def extract_invoice(self, request: ExtractInvoiceRequest) -> ExtractInvoiceResult:
        return await self._ask(request, ExtractInvoiceResult)

    async def score_risk(self, request: ScoreRiskRequest) -> ScoreRiskResult:
        return await self._ask(request, ScoreRiskResult)

    async def agent_turn(self, request: AgentTurnRequest) -> AgentTurnResult:
        """One turn of an agent, by the service's tool calling (see agent_tools.py)."""
        usage = _Usage()
        answer = _body(await self._post(turn_request(request)))
        usage.add(answer.get("usage") or {})
        turn = read_turn(answer, request)
        return turn.model_copy(
            update={
                "model": self._model,
                "model_version": str(answer.get("model") or self._model),
                "metrics": usage.metrics(),
            }
        )

    async def _ask(self, request: BaseModel, result_type: type[Result]) -> Result:
        answer_type = answer_model(result_type)
        messages = [
            {"role": "system", "content": f"{INSTRUCTIONS[result_type]} {CONFIDENCE_RULE}"},
            {"role": "user", "content": request.model_dump_json()},
        ]
        usage = _Usage()
        problem = ""
        while usage.attempts < self._max_attempts:
            body = await self._complete(messages, answer_type)
            usage.add(body.get("usage") or {})
            content = _content(body)
            try:
                answer = answer_type.model_validate_json(content)
            except ValidationError as error:
                problem = str(error)
                messages += [
                    {"role": "assistant", "content": content},
                    {
                        "role": "user",
                        "content": f"That answer is invalid: {problem}\n"
                        "Answer again with one JSON object that matches the schema.",
                    },
                ]
                continue
            return result_type.model_validate(
                {
                    **answer.model_dump(),
                    "model": self._model,
                    "model_version": str(body.get("model") or self._model),
                    "metrics": usage.metrics(),
                }
            )
        raise InvalidModelOutput(f"no valid answer in {usage.attempts} attempts: {problem}")

    async def _complete(
        self, messages: list[dict[str, Any]], answer_type: type[BaseModel]
    ) -> dict[str, Any]:
        response = await self._post(self._structured(messages, answer_type))
        if response.status_code == 400 and self._json_schema:
            self._json_schema = False  # e.g. an older vLLM or Ollama: plain JSON mode instead
            response = await self._post(self._structured(messages, answer_type))
        return _body(response)

    def _structured(
        self, messages: list[dict[str, Any]], answer_type: type[BaseModel]
    ) -> dict[str, Any]:
        """A request for one JSON answer of `answer_type`'s schema."""
        schema = answer_type.model_json_schema()
        if self._json_schema:
            response_format: dict[str, Any] = {
                "type": "json_schema",
                "json_schema": {"name": answer_type.__name__, "schema": schema},
            }
        else:
            response_format = {"type": "json_object"}
            schema_note = {"role": "system", "content": f"Reply with JSON matching: {schema}"}
            messages = [*messages[:1], schema_note, *messages[1:]]
        return {"messages": messages, "response_format": response_format}

    async def _post(self, body: dict[str, Any]) -> httpx.Response:
        return await self._http.post(
            self._url,
            json={"model": self._model, "temperature": 0, **body},
            headers={"Authorization": f"Bearer {self._api_key}"},
            timeout=self._timeout,
        )


def _body(response: httpx.Response) -> dict[str, Any]:
    """The answer's JSON; a request the service refuses is an InvalidAIRequest, never retried."""
    if 400 <= response.status_code < 500 and response.status_code not in TRANSIENT_CLIENT_ERRORS:
        refusal = f"{response.status_code} {response.text[:300]}"
        raise InvalidAIRequest(f"the model service refused the request: {refusal}")
    response.raise_for_status()  # 5xx and rate limits: transient, Temporal retries
    body: dict[str, Any] = response.json()
    return body


def _content(body: dict[str, Any]) -> str:
    try:
        return str(body["choices"][0]["message"]["content"] or "")
    except (KeyError, IndexError, TypeError):
        return ""  # validation then fails and the model is asked again
