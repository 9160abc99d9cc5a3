"""The decision ledger's hash chain, on SQLite and PostgreSQL: built, idempotent, unforked by
concurrent writers, and every change or removal found by `verify` and `baton ledger verify`."""

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Engine,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    text,
)
from sqlmodel import col, select
from typer.testing import CliRunner

from baton.cli import app
from core.db import create_tables, make_engine, session_scope
from core.ledger import (
    CHAINED_SINCE,
    GENESIS,
    LedgerHead,
    LedgerRow,
    append,
    hash_row,
    verify,
)
from workflows.contracts.tasks import ActorKind, LedgerEntry

P1 = "order-fulfillment:SO-1"
P2 = "order-fulfillment:SO-2"
T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


def entry(process_id: str, n: int, **changes: object) -> LedgerEntry:
    values: dict[str, object] = {
        "decision_id": f"{process_id}:decision:{n}",
        "process_id": process_id,
        "step": "approval",
        "actor_kind": ActorKind.HUMAN,
        "actor": "bob",
        "outcome": "approve",
        "comment": f"decision {n} — ok",  # not ASCII: the canonical form keeps it as it is
        "confidence": 0.93,
        "data": {"amount": 17800.0, "lines": [{"sku": "PMP-410", "quantity": 20}]},
        "decided_at": T0 + timedelta(minutes=n),
    }
    return LedgerEntry.model_validate(values | changes)


def chain(engine: Engine, process_id: str) -> list[LedgerRow]:
    with session_scope(engine) as session:
        query = select(LedgerRow).where(LedgerRow.process_id == process_id)
        return list(session.exec(query.order_by(col(LedgerRow.seq))).all())


def problems(engine: Engine, process_id: str | None = None) -> list[str]:
    with session_scope(engine) as session:
        return verify(session, process_id).problems


def sql(engine: Engine, statement: str, **params: object) -> None:
    with engine.begin() as connection:
        connection.execute(text(statement), params)


def test_each_row_links_to_the_one_before(engine: Engine) -> None:
    for n in range(1, 4):
        assert append(engine, entry(P1, n))
    assert append(engine, entry(P2, 1))
    rows = chain(engine, P1)
    assert [row.seq for row in rows] == [1, 2, 3]
    assert rows[0].prev_hash == GENESIS
    assert [row.prev_hash for row in rows[1:]] == [row.row_hash for row in rows[:-1]]
    assert all(row.row_hash == hash_row(row) for row in rows)
    assert rows[1].decided_at == T0 + timedelta(minutes=2)
    with session_scope(engine) as session:
        head = session.get(LedgerHead, P1)
        assert head is not None
        assert (head.seq, head.row_hash) == (3, rows[-1].row_hash)
        result = verify(session)
    assert result.intact
    assert result.summary() == "ledger intact: 4 rows in 2 processes"


def test_a_retried_write_adds_nothing_and_keeps_one_chain(engine: Engine) -> None:
    assert append(engine, entry(P1, 1))
    assert append(engine, entry(P1, 2))
    assert not append(engine, entry(P1, 1))  # the activity ran again
    assert not append(engine, entry(P1, 1, outcome="reject"))  # the first write stands
    assert [(row.seq, row.outcome) for row in chain(engine, P1)] == [(1, "approve"), (2, "approve")]
    assert append(engine, entry(P1, 3))
    assert [row.seq for row in chain(engine, P1)] == [1, 2, 3]
    assert problems(engine) == []


def test_a_changed_row_is_found(engine: Engine) -> None:
    for n in range(1, 5):
        append(engine, entry(P1, n))
    append(engine, entry(P2, 1))
    # Changed in place: its hash no longer matches.
    sql(
        engine,
        "UPDATE decision_ledger SET outcome = 'reject' WHERE process_id = :p AND seq = 2",
        p=P1,
    )
    found = problems(engine)
    assert found == [f"{P1} #2: changed (decision {P1}:decision:2 no longer matches its hash)"]

    # Changed and rehashed by someone who knows the scheme: the next row's link gives it away.
    rewritten = chain(engine, P1)[1]
    rewritten.comment = "approved on the phone"
    sql(
        engine,
        "UPDATE decision_ledger SET comment = :c, row_hash = :h WHERE process_id = :p AND seq = 2",
        c=rewritten.comment,
        h=hash_row(rewritten),
        p=P1,
    )
    assert problems(engine) == [
        f"{P1} #2: changed (decision {P1}:decision:2 was rewritten: #3 links to another hash)"
    ]

    # The last row rewritten and rehashed: its head gives it away.
    sql(
        engine,
        "UPDATE decision_ledger SET comment = :c WHERE process_id = :p AND seq = 2",
        c="approved on the phone",
        p=P1,
    )
    last = chain(engine, P1)[-1]
    last.confidence = 0.99
    sql(
        engine,
        "UPDATE decision_ledger SET confidence = 0.99, row_hash = :h "
        "WHERE process_id = :p AND seq = 4",
        h=hash_row(last),
        p=P1,
    )
    assert (
        f"{P1} #4: changed (decision {P1}:decision:4 was rewritten: the head records another hash)"
        in problems(engine)
    )
    assert problems(engine, P2) == []


def test_a_removed_row_is_found(engine: Engine) -> None:
    for n in range(1, 5):
        append(engine, entry(P1, n))
    for n in range(1, 3):
        append(engine, entry(P2, n))
    sql(engine, "DELETE FROM decision_ledger WHERE process_id = :p AND seq IN (2, 4)", p=P1)
    sql(engine, "DELETE FROM decision_ledger WHERE process_id = :p", p=P2)
    assert problems(engine) == [
        f"{P1} #2: removed",
        f"{P1} #4: removed",  # the last one: the head remembers it
        f"{P2} #1: removed",  # a whole process: its head remembers
        f"{P2} #2: removed",
    ]
    assert problems(engine, P1) == [f"{P1} #2: removed", f"{P1} #4: removed"]


def test_concurrent_writers_of_one_process_keep_one_chain(engine: Engine) -> None:
    writers, each = 8, 6
    start = threading.Barrier(writers)
    added: list[bool] = []
    errors: list[BaseException] = []

    def write(writer: int) -> None:
        try:
            start.wait()
            for n in range(each):
                added.append(append(engine, entry(P1, writer * 100 + n)))
                # Every writer also retries another's decision: it is written once.
                added.append(append(engine, entry(P1, ((writer + 1) % writers) * 100 + n)))
        except BaseException as exc:  # reported below, not lost in the thread
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert added.count(True) == writers * each
    rows = chain(engine, P1)
    assert [row.seq for row in rows] == list(range(1, writers * each + 1))
    assert [row.prev_hash for row in rows] == [GENESIS, *(row.row_hash for row in rows[:-1])]
    with session_scope(engine) as session:
        result = verify(session)
    assert result.intact, result.problems
    assert result.summary() == f"ledger intact: {writers * each} rows in 1 process"


# -- a ledger table of an earlier version ---------------------------------------------------------


def _old_ledger_table(engine: Engine) -> Table:
    """The decision_ledger table as the version before the chain made it."""
    table = Table(
        "decision_ledger",
        MetaData(),
        Column("id", Integer, primary_key=True),
        Column("decision_id", String(300), nullable=False, unique=True),
        Column("process_id", String(300), nullable=False, index=True),
        Column("step", String(200), nullable=False),
        Column("actor_kind", String(20), nullable=False),
        Column("actor", String(200), nullable=False),
        Column("outcome", String(100), nullable=False),
        Column("comment", String, nullable=False),
        Column("confidence", Float),
        Column("data", JSON, nullable=False),
        Column("applied", Boolean, nullable=False),
        Column("reason", String, nullable=False),
        Column("decided_at", DateTime, nullable=False),
    )
    table.create(engine)
    return table


@pytest.fixture
def old_engine(database_url: str) -> Iterator[Engine]:
    """A database made by the version before the chain, with two decisions in it."""
    engine = make_engine(database_url)
    table = _old_ledger_table(engine)
    with engine.begin() as connection:
        for n in (1, 2):
            legacy = entry(P1, n).model_dump()
            legacy["actor_kind"] = legacy["actor_kind"].value
            connection.execute(table.insert().values(**legacy))
    yield engine
    engine.dispose()


def test_an_earlier_ledger_gets_the_chain_and_its_rows_count_as_unchained(
    old_engine: Engine,
) -> None:
    create_tables(old_engine)  # what every part of Baton does at start
    create_tables(old_engine)  # and again: nothing left to add
    assert append(old_engine, entry(P1, 3))
    assert append(old_engine, entry(P2, 1))
    rows = sorted(chain(old_engine, P1), key=lambda row: row.id or 0)
    assert [(row.seq, row.row_hash is None) for row in rows] == [
        (None, True),
        (None, True),
        (1, False),
    ]
    with session_scope(old_engine) as session:
        result = verify(session)
    assert result.intact
    assert result.summary() == (
        "ledger intact: 4 rows in 2 processes; "
        f"2 unchained (written before version {CHAINED_SINCE})"
    )

    # A chained row whose chain fields were wiped is not taken for an old one.
    sql(
        old_engine,
        "UPDATE decision_ledger SET seq = NULL, prev_hash = NULL, row_hash = NULL "
        "WHERE process_id = :p",
        p=P2,
    )
    found = problems(old_engine)
    assert found[0].startswith(f"{P2} row ")
    assert "written after the chain began but has no hash" in found[0]
    assert found[1] == f"{P2} #1: removed"


# -- the command ----------------------------------------------------------------------------------

runner = CliRunner()


@pytest.mark.usefixtures("cli_database")
def test_baton_ledger_verify(engine: Engine) -> None:
    for n in range(1, 4):
        append(engine, entry(P1, n))
    append(engine, entry(P2, 1))
    intact = runner.invoke(app, ["ledger", "verify"])
    assert intact.exit_code == 0, intact.output
    assert intact.output == "ledger intact: 4 rows in 2 processes\n"

    sql(
        engine,
        "UPDATE decision_ledger SET actor = 'mallory' WHERE process_id = :p AND seq = 1",
        p=P1,
    )
    sql(engine, "DELETE FROM decision_ledger WHERE process_id = :p AND seq = 3", p=P1)
    tampered = runner.invoke(app, ["ledger", "verify"])
    assert tampered.exit_code == 1
    assert tampered.output.splitlines() == [
        f"{P1} #1: changed (decision {P1}:decision:1 no longer matches its hash)",
        f"{P1} #3: removed",
        "ledger NOT intact: 2 rows changed or removed (3 rows in 2 processes checked)",
    ]
    one = runner.invoke(app, ["ledger", "verify", "--process", P2])
    assert one.exit_code == 0
    assert one.output == "ledger intact: 1 row in 1 process\n"
