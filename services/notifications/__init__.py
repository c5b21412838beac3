"""The notifications service (docs/notifications.md)."""
