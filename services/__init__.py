"""The five services. Each lives in its own package with service.py (entrypoints only), its domain
rules, models, schemas and Alembic migrations."""
from __future__ import annotations

import inspect
from importlib import import_module

from chassis.settings import SERVICES


def service_class(spec: str):
    """``registry`` → the registry service class; ``pkg.module:Class`` → that class (tests)."""
    if ":" in spec:
        module, cls = spec.split(":", 1)
        return getattr(import_module(module), cls)
    if spec not in SERVICES:
        raise SystemExit(f"unknown service {spec!r}; known: {', '.join(SERVICES)}")
    module = import_module(f"services.{spec}.service")
    for _, member in inspect.getmembers(module, inspect.isclass):
        if getattr(member, "name", None) == spec and member.__module__ == module.__name__:
            return member
    raise SystemExit(f"services.{spec}.service defines no class named {spec!r}")


def all_service_classes() -> list:
    return [service_class(s) for s in SERVICES]
