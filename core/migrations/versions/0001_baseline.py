"""baseline: the schema of the last release before migrations

Revision ID: 0001
Revises: (none)
Created: 2026-11-28 00:29:39.735291
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "decision_ledger",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("decision_id", sa.String(length=300), nullable=False),
        sa.Column("process_id", sa.String(length=300), nullable=False),
        sa.Column("step", sa.String(length=200), nullable=False),
        sa.Column("actor_kind", sa.String(length=20), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("outcome", sa.String(length=100), nullable=False),
        sa.Column("comment", sa.String(), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("applied", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.String(), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=True),
        sa.Column("prev_hash", sa.String(length=64), nullable=True),
        sa.Column("row_hash", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("decision_id"),
    )
    with op.batch_alter_table("decision_ledger", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_decision_ledger_process_id"), ["process_id"], unique=False
        )
        batch_op.create_index("ux_decision_ledger_chain", ["process_id", "seq"], unique=True)

    op.create_table(
        "decision_ledger_heads",
        sa.Column("process_id", sa.String(length=300), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("row_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("process_id"),
    )
    op.create_table(
        "human_tasks",
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("process_type", sa.String(length=100), nullable=False),
        sa.Column("escalation_level", sa.Integer(), nullable=False),
        sa.Column("escalated", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_key", sa.DateTime(timezone=True), nullable=False),
        sa.Column("priority_key", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.String(length=300), nullable=False),
        sa.Column("process_id", sa.String(length=300), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=50), nullable=False),
        sa.Column("title", sa.String(), nullable=False),
        sa.Column("description", sa.String(), nullable=False),
        sa.Column("form", sa.JSON(), nullable=False),
        sa.Column("context", sa.JSON(), nullable=False),
        sa.Column("candidate_roles", sa.JSON(), nullable=False),
        sa.Column("assignee", sa.String(), nullable=True),
        sa.Column("requester", sa.String(), nullable=True),
        sa.Column("priority", sa.String(length=20), nullable=False),
        sa.Column("outcome", sa.String(), nullable=True),
        sa.Column("approval_level", sa.Integer(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("history", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("task_id"),
    )
    with op.batch_alter_table("human_tasks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_human_tasks_assignee"), ["assignee"], unique=False)
        batch_op.create_index(
            "ix_human_tasks_by_created",
            ["status", "escalated", "created_at", "task_id", "due_key"],
            unique=False,
        )
        batch_op.create_index(
            "ix_human_tasks_by_due",
            ["status", "escalated", "due_key", "created_at", "task_id"],
            unique=False,
        )
        batch_op.create_index(
            "ix_human_tasks_by_priority",
            ["status", "escalated", "priority_key", "created_at", "task_id", "due_key"],
            unique=False,
        )
        batch_op.create_index(
            "ix_human_tasks_of_type_by_created",
            ["status", "process_type", "escalated", "created_at", "task_id", "due_key"],
            unique=False,
        )
        batch_op.create_index(
            "ix_human_tasks_of_type_by_due",
            ["status", "process_type", "escalated", "due_key", "created_at", "task_id"],
            unique=False,
        )
        batch_op.create_index(
            "ix_human_tasks_of_type_by_priority",
            [
                "status",
                "process_type",
                "escalated",
                "priority_key",
                "created_at",
                "task_id",
                "due_key",
            ],
            unique=False,
        )
        batch_op.create_index(batch_op.f("ix_human_tasks_process_id"), ["process_id"], unique=False)

    op.create_table(
        "insight_cases",
        sa.Column("process_id", sa.String(length=300), nullable=False),
        sa.Column("process_type", sa.String(length=100), nullable=False),
        sa.Column("business_key", sa.String(length=100), nullable=False),
        sa.Column("requested_by", sa.String(length=100), nullable=False),
        sa.Column("priority", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cycle_seconds", sa.Float(), nullable=True),
        sa.Column("touch_seconds", sa.Float(), nullable=False),
        sa.Column("human_steps", sa.Integer(), nullable=False),
        sa.Column("human_wait_seconds", sa.Float(), nullable=False),
        sa.Column("bot_calls", sa.Integer(), nullable=False),
        sa.Column("ai_calls", sa.Integer(), nullable=False),
        sa.Column("tokens", sa.Integer(), nullable=False),
        sa.Column("human_minutes", sa.Float(), nullable=False),
        sa.Column("escalations", sa.Integer(), nullable=False),
        sa.Column("expiries", sa.Integer(), nullable=False),
        sa.Column("sla_breaches", sa.Integer(), nullable=False),
        sa.Column("rework", sa.Integer(), nullable=False),
        sa.Column("facts", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("process_id"),
    )
    with op.batch_alter_table("insight_cases", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_insight_cases_started_at"), ["started_at"], unique=False
        )
        batch_op.create_index(
            "ix_insight_cases_type_started", ["process_type", "started_at"], unique=False
        )

    op.create_table(
        "insight_events",
        sa.Column("process_id", sa.String(length=300), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("process_type", sa.String(length=100), nullable=False),
        sa.Column("business_key", sa.String(length=100), nullable=False),
        sa.Column("activity", sa.String(length=200), nullable=False),
        sa.Column("step", sa.String(), nullable=False),
        sa.Column("stage", sa.String(length=200), nullable=False),
        sa.Column("actor_kind", sa.String(length=20), nullable=False),
        sa.Column("actor", sa.String(length=300), nullable=False),
        sa.Column("department", sa.String(length=50), nullable=False),
        sa.Column("role", sa.String(length=50), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("outcome", sa.String(length=200), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("objects", sa.JSON(), nullable=False),
        sa.Column("bot_calls", sa.Integer(), nullable=False),
        sa.Column("ai_calls", sa.Integer(), nullable=False),
        sa.Column("tokens", sa.Integer(), nullable=False),
        sa.Column("human_minutes", sa.Float(), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=True),
        sa.Column("overridden", sa.Boolean(), nullable=True),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("escalations", sa.Integer(), nullable=False),
        sa.Column("expired", sa.Boolean(), nullable=False),
        sa.Column("time_scale", sa.Float(), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.Column("sla_breached", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("process_id", "seq"),
    )
    with op.batch_alter_table("insight_events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_insight_events_type_started", ["process_type", "started_at"], unique=False
        )

    op.create_table(
        "robot_jobs",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("pool", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=100), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("summary", sa.String(length=2000), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("workflow_id", sa.String(length=1000), nullable=False),
        sa.Column("run_id", sa.String(length=100), nullable=False),
        sa.Column("activity_id", sa.String(length=1000), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("task_token", sa.LargeBinary(), nullable=False),
        sa.Column("heartbeat_timeout_s", sa.Float(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("taken_by", sa.String(length=100), nullable=True),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("robot_jobs", schema=None) as batch_op:
        batch_op.create_index(
            "ix_robot_jobs_offered", ["pool", "status", "created_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_robot_jobs_workflow_id"), ["workflow_id"], unique=False
        )

    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("roles", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_users_name"), ["name"], unique=True)

    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_keys_key_hash"), ["key_hash"], unique=True)
        batch_op.create_index(batch_op.f("ix_api_keys_user_id"), ["user_id"], unique=False)

    op.create_table(
        "human_task_candidates",
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("process_type", sa.String(length=100), nullable=False),
        sa.Column("escalation_level", sa.Integer(), nullable=False),
        sa.Column("escalated", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_key", sa.DateTime(timezone=True), nullable=False),
        sa.Column("priority_key", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.String(length=300), nullable=False),
        sa.Column("audience", sa.String(length=150), nullable=False),
        sa.ForeignKeyConstraint(
            ["task_id"],
            ["human_tasks.task_id"],
        ),
        sa.PrimaryKeyConstraint("task_id", "audience"),
    )
    with op.batch_alter_table("human_task_candidates", schema=None) as batch_op:
        batch_op.create_index(
            "ix_human_task_candidates_by_created",
            ["audience", "status", "escalated", "created_at", "task_id", "due_key"],
            unique=False,
        )
        batch_op.create_index(
            "ix_human_task_candidates_by_due",
            ["audience", "status", "escalated", "due_key", "created_at", "task_id"],
            unique=False,
        )
        batch_op.create_index(
            "ix_human_task_candidates_by_priority",
            ["audience", "status", "escalated", "priority_key", "created_at", "task_id", "due_key"],
            unique=False,
        )
        batch_op.create_index(
            "ix_human_task_candidates_of_type_by_created",
            ["audience", "status", "process_type", "escalated", "created_at", "task_id", "due_key"],
            unique=False,
        )
        batch_op.create_index(
            "ix_human_task_candidates_of_type_by_due",
            ["audience", "status", "process_type", "escalated", "due_key", "created_at", "task_id"],
            unique=False,
        )
        batch_op.create_index(
            "ix_human_task_candidates_of_type_by_priority",
            [
                "audience",
                "status",
                "process_type",
                "escalated",
                "priority_key",
                "created_at",
                "task_id",
                "due_key",
            ],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("human_task_candidates", schema=None) as batch_op:
        batch_op.drop_index("ix_human_task_candidates_of_type_by_priority")
        batch_op.drop_index("ix_human_task_candidates_of_type_by_due")
        batch_op.drop_index("ix_human_task_candidates_of_type_by_created")
        batch_op.drop_index("ix_human_task_candidates_by_priority")
        batch_op.drop_index("ix_human_task_candidates_by_due")
        batch_op.drop_index("ix_human_task_candidates_by_created")

    op.drop_table("human_task_candidates")
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_keys_user_id"))
        batch_op.drop_index(batch_op.f("ix_api_keys_key_hash"))

    op.drop_table("api_keys")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_users_name"))

    op.drop_table("users")
    with op.batch_alter_table("robot_jobs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_robot_jobs_workflow_id"))
        batch_op.drop_index("ix_robot_jobs_offered")

    op.drop_table("robot_jobs")
    with op.batch_alter_table("insight_events", schema=None) as batch_op:
        batch_op.drop_index("ix_insight_events_type_started")

    op.drop_table("insight_events")
    with op.batch_alter_table("insight_cases", schema=None) as batch_op:
        batch_op.drop_index("ix_insight_cases_type_started")
        batch_op.drop_index(batch_op.f("ix_insight_cases_started_at"))

    op.drop_table("insight_cases")
    with op.batch_alter_table("human_tasks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_human_tasks_process_id"))
        batch_op.drop_index("ix_human_tasks_of_type_by_priority")
        batch_op.drop_index("ix_human_tasks_of_type_by_due")
        batch_op.drop_index("ix_human_tasks_of_type_by_created")
        batch_op.drop_index("ix_human_tasks_by_priority")
        batch_op.drop_index("ix_human_tasks_by_due")
        batch_op.drop_index("ix_human_tasks_by_created")
        batch_op.drop_index(batch_op.f("ix_human_tasks_assignee"))

    op.drop_table("human_tasks")
    op.drop_table("decision_ledger_heads")
    with op.batch_alter_table("decision_ledger", schema=None) as batch_op:
        batch_op.drop_index("ux_decision_ledger_chain")
        batch_op.drop_index(batch_op.f("ix_decision_ledger_process_id"))

    op.drop_table("decision_ledger")
