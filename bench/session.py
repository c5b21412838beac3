"""A session resolved by the registry over RPC (what the gateway asks when its cache does not know
the session), beside ``health`` (one RPC, one tiny query) as the baseline, in the same run.

    python bench/session.py [--calls 2000] [--rounds 2]

Starts an isolated system (own vhost and databases), logs one resident in (an official with a unit,
so the person has roles to read), then calls ``registry.resolve_session`` and ``registry.health``
``--calls`` times each, one after another, alternating for ``--rounds`` rounds. Prints calls per
second and the CPU milliseconds per call of the registry process, the RabbitMQ node (shared with
anything else on the machine) and this client, from ``/proc``; the figure to trust on a busy
machine is the registry's CPU per call against the baseline's.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import isolated_system, machine  # noqa: E402
from cpu import CpuSampler, pids_named  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--calls", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()

    import psycopg
    from nameko.standalone.rpc import ClusterRpcProxy

    from chassis.testing.api import dev_login

    with isolated_system() as (world, cluster):
        dev_login(world.base_url, ["official"], unit="Управління благоустрою")
        with psycopg.connect(f"{world.database_url}/{world.db_prefix}registry") as db:
            session_id = str(db.execute("SELECT id FROM sessions ORDER BY created_at DESC LIMIT 1").fetchone()[0])
        sampler = CpuSampler({"registry": lambda: [cluster.procs["registry"].pid],
                              "RabbitMQ node (shared)": lambda: pids_named("beam.smp"),
                              "this client": lambda: [os.getpid()]}).start()
        print(f"# bench/session.py on {machine()}; {args.calls} sequential calls each, {args.rounds} rounds")
        print("| call | round | calls/s | registry CPU ms/call | RabbitMQ ms/call | client ms/call |")
        print("|---|---|---|---|---|---|")
        with ClusterRpcProxy({"AMQP_URI": world.amqp_uri}, timeout=10) as rpc:
            calls = {"health (baseline: one RPC, one tiny query)": rpc.registry.health,
                     "resolve_session": lambda: rpc.registry.resolve_session(session_id)}
            for call in calls.values():  # warm both paths up
                for _ in range(100):
                    call()
            for r in range(1, args.rounds + 1):
                for label, call in calls.items():
                    sampler.mark()
                    started = time.perf_counter()
                    for _ in range(args.calls):
                        call()
                    elapsed = time.perf_counter() - started
                    cpu = sampler.delta()
                    per = {name: seconds * 1000 / args.calls for name, (seconds, _) in cpu.items()}
                    print(f"| {label} | {r} | {args.calls / elapsed:.0f} | {per['registry']:.2f} | "
                          f"{per['RabbitMQ node (shared)']:.2f} | {per['this client']:.2f} |")
        sampler.stop()


if __name__ == "__main__":
    main()
