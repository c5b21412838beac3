"""The reports service (docs/reports.md)."""
