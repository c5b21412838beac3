"""The registry service (docs/identity.md)."""
