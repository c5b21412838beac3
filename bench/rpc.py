"""Round trips gateway → service ``health`` against the same Flask app answering without RPC.

    python bench/rpc.py [--url http://localhost:8000] [--requests 2000] [--concurrency 16]

Prints requests/s and p50/p99 for /healthz (no RPC: the ceiling) and /readyz/registry (one RPC,
one tiny query), sequential and concurrent, and the ratio of each to the no-RPC route.
"""
from __future__ import annotations

from common import HEADER, hammer, machine, parse_args, system


def main() -> None:
    args = parse_args(__doc__)
    with system(args.url) as base:
        hammer("warm-up", base + "/readyz/registry", 200, args.concurrency)
        seq_n = max(args.requests // 4, 100)
        rows = []
        for label, n, conc in (("sequential", seq_n, 1), (f"concurrent x{args.concurrency}", args.requests, args.concurrency)):
            ceiling = hammer(f"GET /healthz (no RPC), {label}", base + "/healthz", n, conc)
            rpc = hammer(f"GET /readyz/registry (1 RPC), {label}", base + "/readyz/registry", n, conc)
            rows += [(ceiling, None), (rpc, ceiling)]
    print(f"# bench/rpc.py on {machine()}; gateway: gunicorn gthread 2 workers x 8 threads")
    print(HEADER)
    for fig, base_fig in rows:
        print(fig.row(base_fig))


if __name__ == "__main__":
    main()
