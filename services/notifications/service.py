"""notifications service (entrypoints only); its capability arrives with its own issue."""
from chassis.service import BaseService


class NotificationsService(BaseService):
    name = "notifications"
