"""What the sandbox's routes share: the store, sessions, and idempotent writes."""

from collections.abc import Callable, Iterator
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from fastapi.responses import JSONResponse
from sqlmodel import Session

from systems.faults import FaultInjected, FaultRule, endpoint_of
from systems.store import SandboxError, Store


def _store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


def _session(store: Annotated[Store, Depends(_store)]) -> Iterator[Session]:
    with Session(store.engine) as session:
        yield session


StoreDep = Annotated[Store, Depends(_store)]
ReadSession = Annotated[Session, Depends(_session)]


class Writer:
    """Runs a change under the request's Idempotency-Key and renders the (first) answer."""

    def __init__(
        self,
        request: Request,
        store: StoreDep,
        idempotency_key: Annotated[
            str | None,
            Header(
                alias="Idempotency-Key",
                max_length=200,
                description="The same key returns the first result and changes nothing.",
            ),
        ] = None,
    ) -> None:
        self.scope = endpoint_of(request)
        self.store, self.key = store, idempotency_key
        self.fault_after: FaultRule | None = getattr(request.state, "fault_after", None)

    def __call__(
        self, request: Any, change: Callable[[Session], Any], status_code: int = 201
    ) -> JSONResponse:
        status, body = self.store.write(self.scope, self.key, request, change, status_code)
        if self.fault_after:  # the change is made; the caller never hears of it
            self.store.stats.fault(self.scope)
            raise FaultInjected(self.fault_after)
        return JSONResponse(body, status_code=status)


Write = Annotated[Writer, Depends()]


def get_or_404(session: Session, table: type[Any], key: Any, what: str) -> Any:
    row = session.get(table, key)
    if row is None:
        raise SandboxError(404, f"unknown_{what}", f"no {what.replace('_', ' ')} {key!r}", id=key)
    return row
