"""The sandbox's database: engine, seeding, and writes that honour `Idempotency-Key`."""

import hashlib
import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi.encoders import jsonable_encoder
from sqlalchemy import Engine, event
from sqlmodel import Session, create_engine, delete

from systems import seed, tables
from systems.stats import Stats


class SandboxError(Exception):
    """A business-rule violation: answered as 4xx with a code the bots can act on."""

    def __init__(self, status: int, code: str, message: str, **details: Any) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


class Store:
    def __init__(self, database_url: str) -> None:
        if database_url.startswith("sqlite:///"):
            Path(database_url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        self.engine: Engine = create_engine(database_url, connect_args={"check_same_thread": False})
        event.listen(self.engine, "connect", _wal)
        # One writer at a time: read-check-write sequences (stock, idempotency) stay atomic.
        self.write_lock = threading.Lock()
        self.stats = Stats()
        tables.SandboxTable.metadata.create_all(self.engine)
        with Session(self.engine) as session:
            if session.get(tables.Product, seed.PRODUCTS[0].sku) is None:
                self._seed(session)

    def reset(self) -> None:
        """Back to the seed data: every table emptied and filled again, stats cleared."""
        with self.write_lock, Session(self.engine) as session:
            for table in reversed(tables.SandboxTable.metadata.sorted_tables):
                session.exec(delete(table))
            self._seed(session)
        self.stats.clear()

    @staticmethod
    def _seed(session: Session) -> None:
        for customer in seed.CUSTOMERS:
            session.add(tables.Customer(**customer._asdict()))
        for product in seed.PRODUCTS:
            session.add(tables.Product(**product._asdict()))
        for vendor in seed.VENDORS:
            session.add(tables.Vendor(**vendor._asdict()))
        for po in seed.PURCHASE_ORDERS:
            lines: list[dict[str, object]] = [
                {**line._asdict(), "received": received}
                for line, received in zip(po.lines, po.received, strict=True)
            ]
            session.add(
                tables.PurchaseOrder(
                    po_number=po.po_number,
                    vendor_id=po.vendor_id,
                    currency=po.currency,
                    lines=lines,
                )
            )
        session.commit()

    def write(
        self,
        scope: str,
        key: str | None,
        request: Any,
        change: Callable[[Session], Any],
        status_code: int = 201,
    ) -> tuple[int, Any]:
        """Runs `change` once per idempotency key; a repeat returns the first answer unchanged.

        Business errors are remembered too, so a retried request always gets the same answer.
        """
        request_hash = hashlib.sha256(
            json.dumps(jsonable_encoder(request), sort_keys=True).encode()
        ).hexdigest()
        with self.write_lock, Session(self.engine) as session:
            if key:
                first = session.get(tables.IdempotencyRecord, (scope, key))
                if first is not None:
                    if first.request_hash != request_hash:
                        raise SandboxError(
                            422,
                            "idempotency_key_reused",
                            "this Idempotency-Key was used for a different request",
                            key=key,
                        )
                    self.stats.duplicate(scope)
                    return first.status_code, first.body
            try:
                answer = (status_code, jsonable_encoder(change(session)))
            except SandboxError as exc:
                session.rollback()
                answer = (exc.status, exc.body())
            if key:
                session.add(
                    tables.IdempotencyRecord(
                        scope=scope,
                        key=key,
                        request_hash=request_hash,
                        status_code=answer[0],
                        body=answer[1],
                    )
                )
            session.commit()
        if answer[0] < 400:
            self.stats.write(scope)
        return answer


def _wal(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")  # no fsync per commit; WAL keeps it consistent
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()
