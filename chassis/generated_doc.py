"""The command line shared by the generators of checked-in documents (docs/settings.md, docs/asyncapi.yaml).

Without arguments the document is printed; `--check FILE` exits 1 when FILE differs from it, naming the
make target that rewrites it.
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Callable


def cli(prog: str, description: str, render: Callable[[], str], make_target: str,
        argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--check", metavar="FILE", help="exit 1 if FILE differs from the generated document")
    args = parser.parse_args(argv)
    if args.check is None:
        sys.stdout.write(render())
        return
    try:
        with open(args.check, encoding="utf-8") as fh:
            current = fh.read()
    except FileNotFoundError:
        sys.exit(f"{args.check} does not exist: run `make {make_target}`")
    if current != render():
        sys.exit(f"{args.check} is stale: run `make {make_target}`")
