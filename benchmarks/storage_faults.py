"""Reliability figure for S3 storage: a film's worth of writes through a fault-injecting proxy.

    python benchmarks/storage_faults.py [--objects 60] [--workers 6] [--rates 0 0.1 0.2 0.3] [--seeds 1 2 3]

For each fault rate and seed: starts nothing new but a proxy (one moto S3 server serves all runs),
writes `objects` artifacts of 0 B to 2.5 MB plus manifest updates through it with `workers`
threads (as a fan-out stage does), watches the bucket directly for partial objects while it runs,
then audits the manifest. Prints one row per run, then totals. Artifacts lost, checksum
mismatches and partial objects seen must all be 0; the script exits 1 if any is not.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.flaky_proxy import FAULT_KINDS, FaultPlan  # noqa: E402
from tests.support.s3 import FaultRunReport, run_film_through_faults, start_moto_server  # noqa: E402

SHORT = {
    "error_500": "500",
    "slowdown_503": "503",
    "reset_before": "rst<",
    "reset_after": "rst>",
    "slow": "slow",
    "stall": "stall",
    "truncate_body": "trunc",
    "cut_response": "cut",
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=60)
    parser.add_argument("--workers", type=int, default=6)
    parser.add_argument("--rates", type=float, nargs="+", default=[0.0, 0.1, 0.2, 0.3])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--read-timeout", type=float, default=0.5, help="client read timeout; stalls last twice that")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)  # the store's retry warnings would drown the table

    moto = start_moto_server()
    header = f"{'rate':>5} {'seed':>4} {'objects':>7} {'requests':>8} {'faults':>6} " + " ".join(
        f"{SHORT[k]:>5}" for k in FAULT_KINDS
    ) + f" {'refused':>7} {'lost':>4} {'bad sum':>7} {'partial':>7} {'seconds':>7}"
    print(header)
    reports: list[FaultRunReport] = []
    try:
        for rate in args.rates:
            for seed in args.seeds:
                plan = FaultPlan(rate=rate, seed=seed, stall_s=2 * args.read_timeout)
                report = run_film_through_faults(
                    moto, plan, objects=args.objects, workers=args.workers, read_timeout=args.read_timeout
                )
                reports.append(report)
                print(
                    f"{rate:>5.2f} {seed:>4} {report.objects_written:>7} {report.requests:>8} {report.faults_injected:>6} "
                    + " ".join(f"{report.faults.get(k, 0):>5}" for k in FAULT_KINDS)
                    + f" {report.rejected_by_server:>7} {report.artifacts_lost:>4} {report.checksum_mismatches:>7}"
                    f" {report.partial_objects_seen:>7} {report.seconds:>7.1f}",
                    flush=True,
                )
    finally:
        moto.server.stop()

    faults: Counter[str] = Counter()
    for report in reports:
        faults.update(report.faults)
    bad = sum(r.artifacts_lost + r.checksum_mismatches + r.partial_objects_seen for r in reports)
    print(
        f"\ntotal: {len(reports)} runs, {sum(r.objects_written for r in reports)} objects written,"
        f" {sum(r.requests for r in reports)} requests, {sum(faults.values())} faults injected"
        f" ({', '.join(f'{k} {faults[k]}' for k in FAULT_KINDS)}),"
        f" {sum(r.rejected_by_server for r in reports)} damaged bodies refused by the server;"
        f" artifacts lost {sum(r.artifacts_lost for r in reports)},"
        f" checksum mismatches {sum(r.checksum_mismatches for r in reports)},"
        f" partial objects seen {sum(r.partial_objects_seen for r in reports)},"
        f" {sum(r.seconds for r in reports):.1f} s writing"
    )
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
