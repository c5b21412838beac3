"""An isolated copy of the whole system for tests and benchmarks: its own RabbitMQ vhost, its own
database-name prefix and free ports (``infra``, ``world``), its processes started with the Procfile's
commands (``cluster``), a person signed in through the development login (``api``), and waiting on a
condition (``waiting``).

It lives in the chassis because both the tests and the benchmarks start systems, and ``bench/`` may
import only ``chassis`` and ``contracts``; it names no service (the processes come from the Procfile).
"""
