"""The decision ledger: who or what decided, when, with what confidence. One row a decision.

It is tamper-evident. The rows of one process form a hash chain: each row carries its place in
the chain (`seq`: 1, 2, ...), the hash of the row before it (`prev_hash`, `GENESIS` for the
first) and its own hash (`row_hash`): SHA-256 over a canonical JSON of its content and
`prev_hash`. A head per process (`decision_ledger_heads`) keeps the last place and hash, so a
row removed from the end shows as well as one changed or removed in the middle. `verify`
recomputes every chain (`baton ledger verify`).

Writes stay idempotent (a decision id is written once) and the chain never forks: the pair
(process_id, seq) is unique, so of two writers that read the same head only one commits and the
other starts again from the new head (`append`). On PostgreSQL the writer also locks the head
row (SELECT ... FOR UPDATE), so writers of one process queue instead of retrying; SQLite
serialises writers itself.

What it proves: no row was changed or removed without also recomputing the hash of every later
row of its process and its head. Someone with write access who does all that, or who removes a
process's rows together with its head, is not caught by the database alone; keep a copy of the
heads elsewhere for that. Rows written before the chain existed (`CHAINED_SINCE`) have no hash:
`verify` counts them as unchained rather than tampered.
"""

import hashlib
import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import groupby
from typing import Any

from sqlalchemy import JSON, Column, Engine, Index, func, inspect, text, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, Session, SQLModel, col, select

from core.schema import add_columns
from workflows.contracts.tasks import LedgerEntry

GENESIS = "0" * 64  # the `prev_hash` of a process's first row
CHAINED_SINCE = "0.2.0"  # the first version that chains the ledger
APPEND_ATTEMPTS = 50  # a writer that lost the race for the next place tries again this often


class LedgerRow(SQLModel, table=True):
    __tablename__ = "decision_ledger"
    # One row per place in a process's chain: two writers can never both extend the same head.
    __table_args__ = (Index("ux_decision_ledger_chain", "process_id", "seq", unique=True),)

    id: int | None = Field(default=None, primary_key=True)
    decision_id: str = Field(unique=True, max_length=300)
    process_id: str = Field(index=True, max_length=300)
    step: str = Field(max_length=200)
    actor_kind: str = Field(max_length=20)
    actor: str = Field(max_length=200)
    outcome: str = Field(max_length=100)
    comment: str = ""
    confidence: float | None = None
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    applied: bool = True
    reason: str = ""
    decided_at: datetime
    # The chain; None only on rows written before it existed.
    seq: int | None = None
    prev_hash: str | None = Field(default=None, max_length=64)
    row_hash: str | None = Field(default=None, max_length=64)


class LedgerHead(SQLModel, table=True):
    """The last row of each process's chain."""

    __tablename__ = "decision_ledger_heads"

    process_id: str = Field(primary_key=True, max_length=300)
    seq: int
    row_hash: str = Field(max_length=64)


# -- hashing ------------------------------------------------------------------------------------


def _utc(moment: datetime) -> datetime:
    """UTC without a zone, whether the column gave it back with one or not."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def canonical(row: LedgerRow) -> bytes:
    """The row's content and the hash before it, as canonical JSON (sorted keys, no spaces)."""
    content = {
        "v": 1,
        "decision_id": row.decision_id,
        "process_id": row.process_id,
        "seq": row.seq,
        "step": row.step,
        "actor_kind": str(row.actor_kind),
        "actor": row.actor,
        "outcome": row.outcome,
        "comment": row.comment,
        "confidence": row.confidence,
        "data": row.data,
        "applied": row.applied,
        "reason": row.reason,
        "decided_at": _utc(row.decided_at).isoformat(timespec="microseconds"),
        "prev_hash": row.prev_hash,
    }
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def hash_row(row: LedgerRow) -> str:
    return hashlib.sha256(canonical(row)).hexdigest()


# -- writing ------------------------------------------------------------------------------------


class _LostRace(Exception):
    """Another writer extended the chain between this writer's read of the head and its write."""


def record(session: Session, entry: LedgerEntry) -> bool:
    """Adds the entry at the end of its process's chain unless its decision id is already
    there; True when it was added. One attempt: a writer that lost the race raises (use
    `append`, which tries again)."""
    head = session.exec(
        select(LedgerHead).where(LedgerHead.process_id == entry.process_id).with_for_update()
    ).first()
    if session.exec(select(LedgerRow.id).where(LedgerRow.decision_id == entry.decision_id)).first():
        return False
    row = LedgerRow(**entry.model_dump())
    row.actor_kind = str(entry.actor_kind)
    row.seq = head.seq + 1 if head else 1
    row.prev_hash = head.row_hash if head else GENESIS
    session.add(row)
    session.flush()  # a unique place in the chain, or an IntegrityError now
    # Hashed as the database gives it back (its time zone and number handling), as verify reads it.
    session.refresh(row)
    row.row_hash = hash_row(row)
    if head is None:
        session.add(LedgerHead(process_id=row.process_id, seq=row.seq, row_hash=row.row_hash))
    else:
        moved = session.exec(
            update(LedgerHead)
            .where(col(LedgerHead.process_id) == head.process_id, col(LedgerHead.seq) == head.seq)
            .values(seq=row.seq, row_hash=row.row_hash)
        )
        if moved.rowcount != 1:
            raise _LostRace(entry.process_id)
    session.flush()
    return True


def append(
    engine: Engine, entry: LedgerEntry, alongside: Callable[[Session], object] | None = None
) -> bool:
    """`record` in a transaction of its own (with `alongside`, another write that must land
    with it), again from the new head while it loses a race to another writer of the same
    process; True when the entry was added."""
    for attempt in range(1, APPEND_ATTEMPTS + 1):
        try:
            with Session(engine, expire_on_commit=False) as session:
                added = record(session, entry)
                if alongside is not None:
                    alongside(session)
                session.commit()
                return added
        except (IntegrityError, _LostRace):
            if attempt == APPEND_ATTEMPTS:
                raise
            time.sleep(random.uniform(0, 0.002 * attempt))  # let the winner finish
    raise AssertionError("unreachable")


def of_step(session: Session, step: str) -> list[LedgerRow]:
    """Every applied decision of one kind of step (e.g. the corrections people made), oldest
    first."""
    query = select(LedgerRow).where(LedgerRow.step == step, col(LedgerRow.applied))
    return list(session.exec(query.order_by(col(LedgerRow.decided_at), col(LedgerRow.id))).all())


def for_process(session: Session, process_id: str) -> list[LedgerRow]:
    query = select(LedgerRow).where(LedgerRow.process_id == process_id)
    return list(session.exec(query.order_by(col(LedgerRow.decided_at), col(LedgerRow.id))).all())


# -- a table made before the chain --------------------------------------------------------------

_CHAIN_COLUMNS = {"seq": "INTEGER", "prev_hash": "VARCHAR(64)", "row_hash": "VARCHAR(64)"}


def add_chain_columns(engine: Engine) -> list[str]:
    """Adds the chain's columns (nullable) and unique index to a ledger table made before them.
    Returns the columns it added."""
    table = LedgerRow.__tablename__
    if not inspect(engine).has_table(table):
        return []
    missing = add_columns(engine, table, _CHAIN_COLUMNS)
    with engine.begin() as connection:
        connection.execute(
            text(
                "CREATE UNIQUE INDEX IF NOT EXISTS ux_decision_ledger_chain "
                f"ON {table} (process_id, seq)"
            )
        )
    return missing


# -- verifying ----------------------------------------------------------------------------------


@dataclass
class Verification:
    rows: int = 0  # every row looked at, chained or not
    processes: int = 0
    unchained: int = 0  # rows written before the chain existed
    problems: list[str] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        rows = f"{self.rows} row{'' if self.rows == 1 else 's'}"
        processes = f"{self.processes} process{'' if self.processes == 1 else 'es'}"
        if self.intact:
            line = f"ledger intact: {rows} in {processes}"
        else:
            line = (
                f"ledger NOT intact: {len(self.problems)} rows changed or removed "
                f"({rows} in {processes} checked)"
            )
        if self.unchained:
            line += f"; {self.unchained} unchained (written before version {CHAINED_SINCE})"
        return line


def verify(session: Session, process_id: str | None = None) -> Verification:
    """Recomputes the chain of every process (or of one) against its rows and its head."""
    rows_query = select(LedgerRow)
    heads_query = select(LedgerHead)
    if process_id is not None:
        rows_query = rows_query.where(LedgerRow.process_id == process_id)
        heads_query = heads_query.where(LedgerHead.process_id == process_id)
    # Every row written since the chain began is chained: a row without a hash after the first
    # chained one had its hash taken away.
    chain_began = session.exec(
        select(func.min(LedgerRow.id)).where(col(LedgerRow.row_hash).is_not(None))
    ).one()
    heads = {head.process_id: head for head in session.exec(heads_query)}
    result = Verification()
    rows = session.exec(rows_query.order_by(col(LedgerRow.process_id), col(LedgerRow.id)))
    for pid, group in groupby(rows, key=lambda row: row.process_id):
        _verify_process(pid, list(group), heads.pop(pid, None), chain_began, result)
    for pid, head in heads.items():  # every row of these processes is gone
        _verify_process(pid, [], head, chain_began, result)
    return result


def _verify_process(
    process_id: str,
    rows: list[LedgerRow],
    head: LedgerHead | None,
    chain_began: int | None,
    result: Verification,
) -> None:
    result.processes += 1
    result.rows += len(rows)
    problems = result.problems
    chained: dict[int, LedgerRow] = {}
    for written in rows:
        if written.seq is None and written.prev_hash is None and written.row_hash is None:
            if chain_began is not None and written.id is not None and written.id > chain_began:
                problems.append(
                    f"{process_id} row {written.id}: changed (decision {written.decision_id} "
                    "was written after the chain began but has no hash)"
                )
            else:
                result.unchained += 1
        elif written.seq is None or written.row_hash is None or written.seq in chained:
            problems.append(
                f"{process_id} row {written.id}: changed (decision {written.decision_id}: its "
                "place in the chain was altered)"
            )
        else:
            chained[written.seq] = written
    last = max([*chained, head.seq if head else 0])
    expected_prev: str | None = GENESIS
    for seq in range(1, last + 1):
        row = chained.get(seq)
        if row is None:
            problems.append(f"{process_id} #{seq}: removed")
            expected_prev = None  # unknown: the link from the next row cannot be checked
            continue
        if hash_row(row) != row.row_hash:
            problems.append(
                f"{process_id} #{seq}: changed (decision {row.decision_id} no longer matches "
                "its hash)"
            )
        elif expected_prev is not None and row.prev_hash != expected_prev:
            if seq == 1:
                problems.append(f"{process_id} #1: changed (it links to a row before the first)")
            else:
                problems.append(
                    f"{process_id} #{seq - 1}: changed (decision {chained[seq - 1].decision_id} "
                    f"was rewritten: #{seq} links to another hash)"
                )
        expected_prev = row.row_hash
    if head is None:
        if chained:
            problems.append(f"{process_id} #{last}: changed (the chain's head was removed)")
        return
    for seq in sorted(s for s in chained if s > head.seq):
        problems.append(
            f"{process_id} #{seq}: changed (decision {chained[seq].decision_id} is beyond the "
            f"chain's head, #{head.seq})"
        )
    if head.seq in chained and chained[head.seq].row_hash != head.row_hash:
        problems.append(
            f"{process_id} #{head.seq}: changed (decision {chained[head.seq].decision_id} was "
            "rewritten: the head records another hash)"
        )
