"""What each task queue runs, built from the worker's resources (dependency injection)."""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from activities.ai.activities import AIActivities
from activities.ai.factory import build_provider
from activities.ai.local.provider import LocalProvider
from activities.bots.crm import CRMBot
from activities.bots.erp import ERPBot
from activities.bots.finance import FinanceBot
from activities.bots.http import SystemsHTTP
from activities.bots.mes import MESBot
from activities.bots.notifications import NotificationBot
from activities.inbox import InboxActivities
from activities.robot_pool import RobotPoolActivities
from core.signing import signer
from workers.resources import Resources
from workflows.contracts.queues import TaskQueue
from workflows.customer_service import CustomerServiceWorkflow
from workflows.invoice_processing import InvoiceProcessingWorkflow
from workflows.order_fulfillment import OrderFulfillmentWorkflow
from workflows.payables_review import PayablesReviewWorkflow
from workflows.steps.human_task import HumanTaskWorkflow


@dataclass(frozen=True)
class QueueContent:
    workflows: Sequence[type] = ()
    activities: Sequence[Callable[..., Any]] = ()
    max_concurrent_activities: int | None = None
    # Across every worker of the queue: protects the systems behind it.
    max_activities_per_second: float | None = None
    warm_up: Callable[[], None] | None = None  # slow set-up, run in the background at start


# Every workflow type Baton runs; the replayer checks saved histories against them.
PROCESS_WORKFLOWS: tuple[type, ...] = (
    OrderFulfillmentWorkflow,
    InvoiceProcessingWorkflow,
    PayablesReviewWorkflow,
    CustomerServiceWorkflow,
    HumanTaskWorkflow,
)


def activities_of(*instances: object) -> list[Callable[..., Any]]:
    """The bound `@activity.defn` methods of each instance."""
    return [
        getattr(instance, name)
        for instance in instances
        for name in dir(type(instance))
        if hasattr(getattr(type(instance), name), "__temporal_activity_definition")
    ]


def content_for(queue: TaskQueue, resources: Resources) -> QueueContent:
    settings = resources.settings
    if queue is TaskQueue.PROCESSES:
        # The inbox activities also run here, as the workflows' local activities.
        return QueueContent(
            workflows=PROCESS_WORKFLOWS,
            activities=activities_of(InboxActivities(resources.engine, signer(settings))),
        )
    if queue is TaskQueue.BOTS:
        systems = SystemsHTTP(resources.http)
        bots = (CRMBot, ERPBot, MESBot, FinanceBot, NotificationBot)
        return QueueContent(
            activities=activities_of(*(bot(systems) for bot in bots)),
            max_concurrent_activities=settings.bots_robot_slots,
            max_activities_per_second=settings.bots_rate_limit_per_second,
        )
    if queue is TaskQueue.AI:
        provider = build_provider(settings, resources.ai_http)
        return QueueContent(
            activities=activities_of(AIActivities(provider)),
            max_concurrent_activities=settings.ai_concurrency,
            warm_up=provider.warm_up if isinstance(provider, LocalProvider) else None,
        )
    if queue is TaskQueue.INBOX:
        return QueueContent(
            activities=activities_of(
                InboxActivities(resources.engine, signer(settings)),
                RobotPoolActivities(resources.engine),
            )
        )
    raise ValueError(f"no content for queue {queue}")
