"""The moderation service (docs/moderation.md)."""
