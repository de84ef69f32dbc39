"""The commands over records: ``report`` (an HTML report from records), ``import`` (a
record from asv or pytest-benchmark results) and ``recover`` (the records a run's journal
holds)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from perfkit.cli.outputs import distinct_outputs, record_output, report_outputs
from perfkit.cli.run import write_report
from perfkit.model.errors import ExitCode, UsageError

__all__ = ["import_command", "recover_command", "report_command"]


def report_command(args: argparse.Namespace) -> int:
    from perfkit.engine.journal import load_run

    path = args.output or Path("reports") / f"report-{time.strftime('%Y%m%d-%H%M%S')}.html"
    distinct_outputs(report_outputs(path), inputs=args.records)
    records = [load_run(path) for path in args.records]
    write_report(records, path, args.title, args.open, args.shared_plotly)
    return ExitCode.OK


def import_command(args: argparse.Namespace) -> int:
    from perfkit.records.importers import import_file
    from perfkit.records.run_record import dump_record

    if args.output:
        distinct_outputs({"record": record_output(args.output)}, inputs=[args.source])
    record = import_file(args.source)
    path = args.output or Path("reports") / "runs" / f"{record.run_id}.json"
    dump_record(record, path)
    counts = sum(r.status == "ok" for r in record.results)
    print(f"record: {path} ({counts} measured cases from {record.environment.imported_from})")
    return ExitCode.OK


def recover_command(args: argparse.Namespace) -> int:
    from perfkit.engine.journal import JOURNAL_SUFFIX, is_journal, recover
    from perfkit.records.run_record import dump_record

    if not is_journal(args.journal):
        raise UsageError(f"{args.journal}: not a journal (a *{JOURNAL_SUFFIX} file)")
    records = recover(args.journal)
    stem = args.journal.name.removesuffix(JOURNAL_SUFFIX)
    paths = {}
    for side in records:
        if side:
            paths[side] = (args.output or args.journal.parent) / f"{side}.json"
        else:
            paths[side] = record_output(args.output or args.journal.with_name(f"{stem}.json"))
    distinct_outputs({f"{side} record".lstrip(): p for side, p in paths.items()}, [args.journal])
    for side, record in records.items():
        path = paths[side]
        dump_record(record, path)
        done = sum(r.status == "ok" for r in record.results)
        print(f"record: {path} (partial: {len(record.results)} cases, {done} measured)")
    return ExitCode.OK
