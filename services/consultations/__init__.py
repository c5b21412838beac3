"""The consultations service (docs/consultations.md)."""
