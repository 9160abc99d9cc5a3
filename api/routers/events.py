"""Business events start and steer processes: `POST /v1/events/{source}`.

Another system (the ERP, the CRM, the bank) sends an event signed with its own secret (see
core/events.py), not an API key. The routing table in the settings says what each event type
does: signal the running process whose business key the event names (a credit note for the
invoice waiting on it), or start a process with the event's data as its input. An event id is
applied once: a repeat answers what the first did.
"""

from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import Engine
from temporalio.service import RPCError

from api.deps import EngineDep, PathId, SettingsDep, TemporalDep, read
from api.errors import ApiError, field_error, invalid, responses
from api.limits import RateLimiter
from api.temporal import Temporal, is_closed_or_missing
from core import events, processes
from core.events import SIGNATURE_HEADER, BadSignature, ReceivedEvent
from core.settings import Settings
from workflows.contracts.catalogue import PROCESS_TYPES
from workflows.contracts.processes import process_id_for

router = APIRouter(prefix="/v1/events", tags=["events"], responses=responses(429, 500, 503))

_NAME = r"^[a-z0-9][a-z0-9_.-]*$"


class EventIn(BaseModel):
    id: str = Field(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$")
    type: str = Field(min_length=1, max_length=200, pattern=_NAME, examples=["erp.goods_received"])
    key: str | None = Field(
        None,
        max_length=200,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$",
        description="the business key of the process it steers (a signal's target)",
    )
    data: dict[str, Any] = Field(default_factory=dict)


class EventOut(BaseModel):
    event_id: str
    action: str = Field(description="started or signalled")
    process_id: str
    repeated: bool = Field(description="sent before: nothing was done again")


Payload = TypeVar("Payload", bound=BaseModel)


def _payload(model: type[Payload], data: dict[str, Any]) -> Payload:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise invalid(exc, "body.data", "data") from None


@router.post(
    "/{source}",
    status_code=202,
    response_model=EventOut,
    responses={
        200: {"model": EventOut, "description": "a repeat: what the first one did"},
        **responses(401, 404, 409, 413, 422),
    },
)
async def receive(
    source: PathId,
    request: Request,
    engine: EngineDep,
    temporal: TemporalDep,
    settings: SettingsDep,
    signature: Annotated[
        str | None,
        Header(alias=SIGNATURE_HEADER, description="t=<unix seconds>,v1=<hex HMAC-SHA256>"),
    ] = None,
) -> JSONResponse:
    """Applies a business event of `source`: 202 with what it did, 200 for a repeat."""
    secret = settings.event_secrets.get(source)
    if secret is None:
        raise ApiError(404, "unknown_source", f"no event source {source!r}")
    limiter: RateLimiter = request.app.state.rate_limiter
    limiter.take(f"events:{source}")  # each source at the rate of an API key
    body = await request.body()
    try:
        events.verify(signature, secret.get_secret_value(), body, settings.event_window_seconds)
    except BadSignature as exc:
        raise ApiError(401, "bad_signature", str(exc)) from None
    try:
        event = EventIn.model_validate_json(body)
    except ValidationError as exc:
        raise invalid(exc, "body", "event") from None
    done = await read(engine, lambda session: events.received(session, source, event.id))
    repeated = done is not None
    if done is None:
        done, repeated = await _apply(source, event, engine, temporal, settings)
    out = EventOut(
        event_id=event.id, action=done.action, process_id=done.process_id, repeated=repeated
    )
    return JSONResponse(out.model_dump(mode="json"), status_code=200 if repeated else 202)


async def _apply(
    source: str, event: EventIn, engine: Engine, temporal: Temporal, settings: Settings
) -> tuple[ReceivedEvent, bool]:
    """Does what the event's route says and records it; returns the record and whether this
    request applied it (False: the same event, sent at the same moment, did)."""
    route = settings.event_routes.get(event.type)
    if route is None:
        known = sorted(settings.event_routes)
        raise field_error(
            422, "validation_error", "body.type", f"no route for this event type; one of {known}"
        )
    ptype = PROCESS_TYPES[route.process_type]
    if route.signal is None:
        process_input = _payload(ptype.input_model, event.data)
        try:
            started = await temporal.call(
                processes.start_process(
                    temporal.client,
                    settings,
                    ptype,
                    process_input,
                    requested_by=f"event:{source}",
                    idempotency_key=f"event:{source}:{event.id}",
                )
            )
        except processes.IdempotencyKeyReused as exc:
            raise field_error(
                422, "validation_error", "body.id", f"used before with other data ({exc})"
            ) from None
        action, process_id = "started", started.process_id
    else:
        if not event.key:
            raise field_error(
                422,
                "validation_error",
                "body.key",
                "required: the business key of the process to signal",
            )
        payload = _payload(ptype.signals[route.signal], event.data)
        process_id = process_id_for(ptype.name, event.key)
        handle = temporal.client.get_workflow_handle(process_id)
        try:
            await temporal.call(
                handle.signal(route.signal, payload, rpc_timeout=temporal.rpc_timeout)
            )
        except RPCError as exc:
            if is_closed_or_missing(exc):
                message = f"no running process {process_id!r} to send {route.signal!r}"
                raise ApiError(409, "no_running_process", message) from exc
            raise
        action = "signalled"
    row = ReceivedEvent(
        source=source,
        event_id=event.id,
        type=event.type,
        action=action,
        process_id=process_id,
        received_at=datetime.now(UTC),
    )
    kept = await read(engine, lambda session: events.remember(session, row))
    return kept, kept is not row
