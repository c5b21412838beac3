"""Where the chassis finds the services it runs and their contracts, without importing them by name:
the application package (``services``; ``ECONSULT_APP`` names another) has one subpackage per name
in ``chassis.settings.SERVICES``, each with a ``service`` module holding the class of that name; the
contracts package has one module per service with its events."""
from __future__ import annotations

import inspect
import os
from importlib import import_module

from chassis.settings import SERVICES

APP_PACKAGE = os.environ.get("ECONSULT_APP", "services")
CONTRACTS_PACKAGE = "contracts"  # one module per service: its events, RPC models and enums


def service_class(spec: str):
    """``registry`` → the registry service class; ``pkg.module:Class`` → that class (tests)."""
    if ":" in spec:
        module, cls = spec.split(":", 1)
        return getattr(import_module(module), cls)
    if spec not in SERVICES:
        raise SystemExit(f"unknown service {spec!r}; known: {', '.join(SERVICES)}")
    name = f"{APP_PACKAGE}.{spec}.service"
    module = import_module(name)
    for _, member in inspect.getmembers(module, inspect.isclass):
        if getattr(member, "name", None) == spec and member.__module__ == module.__name__:
            return member
    raise SystemExit(f"{name} defines no class named {spec!r}")


def all_service_classes() -> list:
    return [service_class(s) for s in SERVICES]


def load_contracts() -> None:
    """Import every service's contract module, so the event catalogue is complete."""
    for service in SERVICES:
        name = f"{CONTRACTS_PACKAGE}.{service}"
        try:
            import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:  # a broken import inside the module must not pass silently
                raise
