"""The five services. Each lives in its own package with service.py (entrypoints only), its domain
rules, models and Alembic migrations; its public face (events, RPC models, enums) is in
``contracts/<service>.py``. The chassis finds the service classes through ``chassis.app``."""
