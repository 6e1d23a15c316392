"""The ``filmstitch`` CLI with faults installed, for crash checks that need a process to kill.

    python -m filmstitch.testing.faulty_cli --log calls.jsonl --fault clip:2:hang -- make IDEA --auto ...

runs the real CLI in this process with every backend call logged to ``--log`` and the
``--fault``s (``method:call:action[:times]``, see :class:`~filmstitch.testing.backend_faults.Fault`)
injected.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from filmstitch.testing.backend_faults import CallLog, Fault, Injector, installed, record_storage


def main(argv: Sequence[str] | None = None) -> None:
    """Run the filmstitch CLI with faults installed (for crash tests that need a process to kill)."""
    parser = argparse.ArgumentParser(prog="python -m filmstitch.testing.faulty_cli", description=main.__doc__)
    parser.add_argument("--log", required=True, help="JSON-lines file for backend calls and faults.")
    parser.add_argument("--fault", action="append", default=[], type=Fault.parse, help="method:call:action[:times]")
    parser.add_argument("--record-storage", action="store_true", help="Also log every storage key touched.")
    parser.add_argument("cli", nargs=argparse.REMAINDER, help="-- then the filmstitch CLI's arguments")
    args = parser.parse_args(argv)
    cli = args.cli[1:] if args.cli[:1] == ["--"] else args.cli
    log = CallLog(args.log)
    if args.record_storage:
        record_storage(log)
    from filmstitch.app.cli import app

    with installed(Injector(log, args.fault)):
        app(args=cli, prog_name="filmstitch")


if __name__ == "__main__":
    main()
