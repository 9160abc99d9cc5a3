"""What the operators' commands share: the admin who asks, checked against Baton's users."""

import typer
from sqlmodel import select

from core.db import make_engine, prepare_database, session_scope
from core.settings import Settings
from core.users import User
from workflows.contracts.roles import Role


def require_admin(settings: Settings, name: str, what: str) -> None:
    """Exits 1 unless `name` is an admin: only admins `what` (e.g. "manage schedules")."""
    engine = make_engine(settings.resolved_database_url)
    prepare_database(engine, settings)
    with session_scope(engine) as session:
        asker = session.exec(select(User).where(User.name == name)).first()
    engine.dispose()
    if asker is None or Role.ADMIN.value not in asker.roles:
        typer.echo(f"error: {name} is not an admin; only admins {what}", err=True)
        raise typer.Exit(1)
