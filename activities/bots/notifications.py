"""The notification bot: puts messages to people and customers in the outbox."""

from temporalio import activity

from activities.bots.http import SystemsHTTP
from workflows.contracts.bots import BotActivity, Notified, Notify


class NotificationBot:
    def __init__(self, http: SystemsHTTP) -> None:
        self.http = http

    @activity.defn(name=BotActivity.NOTIFY)
    async def send(self, request: Notify) -> Notified:
        created = await self.http.write("/notifications", request.model_dump())
        return Notified(notification_id=created["id"])
