"""The ``reportgen`` command line: parse arguments, call the API, say where files went.

Thin on purpose: no pandas, scikit-learn, Jinja or WeasyPrint import at module level, so ``reportgen --help`` is
instant. Every :class:`~reportgen.errors.ReportgenError` becomes one line on stderr and its exit code.

Exit codes (the README's table): 0 success, 1 the output cannot be written, 2 bad input data or arguments, 3 bad
config/playbook/templates, 4 bad saved model, 5 rendering failed, 6 e-mail not delivered to every audience, 7 the
month is locked by another run, 8 history database error, 130 interrupted, 70 internal error (a bug: please report it).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
from pathlib import Path

from reportgen import __version__
from reportgen.errors import ConfigError, DeliveryError, InputError, ReportgenError

K_HELP = (
    "force the number of segments instead of choosing it. Without --k, k is chosen from k_min..k_max (default 3..8): "
    "a k is stable when every segment reappears in refits on resampled customers (Jaccard >= 0.80) and its smallest "
    "segment holds at least 3%% of customers; the largest stable k is taken, or the playbook's expected number of "
    "segments when it is stable too and its silhouette is as good. With --refit, the saved model's k is kept unless --k is given"
)


def run() -> None:
    """Entry point of the ``reportgen`` console script and ``python -m reportgen``: :func:`main`, then the
    process ends at once. Every file is written, synced and closed and every worker joined by then, so the
    interpreter's own shutdown (about 0.3 s here) would only delay the exit; streams and logging are flushed first."""
    code = main(ends_process=True)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe: nothing more can be said
            pass
    logging.shutdown()
    os._exit(code)


def main(argv: list[str] | None = None, *, ends_process: bool = False) -> int:
    """Run a command; return the exit status. ``ends_process``: as from :func:`run` (see ``lanes_first``)."""
    parser = _parser()
    args = parser.parse_args(argv)
    args.ends_process = ends_process
    from reportgen.progress import configure_logging

    configure_logging(-1 if args.quiet else (1 if args.verbose else 0))
    try:
        if args.quiet:  # -q: only errors (stderr); the summary and the files written are not printed
            with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull):
                return args.handler(args)
        return args.handler(args)
    except ReportgenError as exc:
        print(f"reportgen: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("reportgen: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into e.g. `head`: not an error of ours
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - silence the flush at exit
        return 0
    except Exception as exc:  # a bug, not a user mistake: say so briefly, details with --verbose
        logging.getLogger("reportgen").debug("internal error", exc_info=True)
        print(f"reportgen: internal error: {exc.__class__.__name__}: {exc} (run with --verbose for details)", file=sys.stderr)
        return 70


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="reportgen",
        description="Segment credit-card customers into business personas and build the monthly report.",
    )
    parser.add_argument("--version", action="version", version=f"reportgen {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_build(sub)
    _add_send(sub)
    _add_export(sub)
    _add_segment(sub)
    _add_synth(sub)
    _add_check_template(sub)
    return parser


def _add_check_template(sub) -> None:
    p = sub.add_parser(
        "check-template",
        help="check that a PowerPoint master (.pptx/.potx) can hold the deck",
        description=(
            "List the layout found for each slide role, its safe content and title areas (clear of the "
            "master's logos and graphics), and every problem: graphics over placeholders, placeholders too "
            "small to use, missing layouts, fonts the master asks for that this machine lacks. Exit status: 0 "
            "when the deck can be built (warnings only), 5 when it cannot; with --strict, warnings fail too."
        ),
    )
    p.add_argument("template", type=Path, metavar="FILE", help="the PowerPoint master, .pptx or .potx")
    p.add_argument("--strict", action="store_true", help="exit 5 on warnings as well (for CI)")
    _common(p)
    p.set_defaults(handler=_run_check_template)


def _run_check_template(args) -> int:
    from reportgen.errors import RenderError
    from reportgen.render.deck.template_check import check_template, format_report

    print(format_report(report := check_template(args.template)))
    failed = report.errors or (args.strict and report.warnings)
    return RenderError.exit_code if failed else 0


def _common(p: argparse.ArgumentParser) -> None:
    group = p.add_mutually_exclusive_group()
    group.add_argument("-q", "--quiet", action="store_true", help="print only errors")
    group.add_argument("-v", "--verbose", action="store_true", help="more detail in the log")


def _data_path(text: str):
    """A local path, or a URI (s3a://, hdfs://, gs://, abfss://, dbfs:/) kept as text for Spark."""
    return text if "://" in text or text.startswith("dbfs:") else Path(text)


def _formats(text: str) -> tuple[str, ...]:
    """``--format`` of build: names in any case, a comma list allowed."""
    from reportgen.render.formats import parse_formats

    try:
        formats = parse_formats(text)
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if not formats:
        raise argparse.ArgumentTypeError("expected a format name, e.g. pdf")
    return formats


def _lower(text: str) -> str:
    return text.strip().lower()


def _data_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", type=_data_path,
                   help="customer extract (CSV, CSV.gz or Parquet) or a database URL (postgresql://user@host:5432/db, "
                        "with --table or --query; the password from PGPASSWORD); default: the bundled sample")
    source = p.add_mutually_exclusive_group()
    source.add_argument("--table", help="with a database URL: the table (or schema.table) to read")
    source.add_argument("--query", metavar="SQL", help="with a database URL: the query whose rows are the customers")


def _data_args(args) -> dict:
    if (args.table or args.query) and not (isinstance(args.data, str) and "://" in args.data):
        raise InputError("--table and --query need --data with a database URL, e.g. postgresql://user@host:5432/db")
    return {"table": args.table, "query": args.query}


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number of at least 1, got {value}")
    return value


def _engine(p: argparse.ArgumentParser) -> None:
    p.add_argument("--engine", choices=("local", "spark"), default="local",
                   help="where to segment: local (this machine, the default) or spark (Apache Spark: reading, "
                        "validation, transform, k evidence and K-Means on the cluster; needs pip install "
                        "'reportgen[spark]' and Java 17+)")
    p.add_argument("--spark-master", metavar="URL",
                   help="Spark master for --engine spark, e.g. yarn, spark://host:7077, k8s://https://host, local[8] "
                        "(default: $SPARK_MASTER, else spark-submit's or spark-defaults.conf's, else local[2])")


def _engine_args(args) -> dict:
    if args.spark_master and args.engine != "spark":
        raise InputError("--spark-master needs --engine spark")
    return {"engine": args.engine, "spark_master": args.spark_master}


def _add_build(sub) -> None:
    p = sub.add_parser(
        "build",
        help="segment customers and build the report deliverables (PDF, PowerPoint, HTML)",
        description=(
            "Segment the customers of an extract and write the month's deliverables to OUT/MONTH/, "
            "e.g. output/2026-11/segment-report-2026-11.pdf."
        ),
    )
    p.add_argument("--format", dest="formats", action="append", type=_formats, metavar="FORMAT",
                   help="pdf, pptx, html, dashboard, xlsx (the target lists and recommendations as one Excel workbook) or all (the four report formats), in any case; several as a comma list (pdf,pptx) "
                        "or by repeating --format (default: pdf)")
    _data_options(p)
    p.add_argument("--out", type=Path, default=Path("output"), help="output root (default: output)")
    p.add_argument("--month", help="report month YYYY-MM (default: the current month)")
    p.add_argument("--k", type=_positive_int, help=K_HELP)
    p.add_argument("--config", type=Path, help="TOML config: column mapping, k range, seed, playbook")
    p.add_argument("--templates", type=Path, help="folder of Jinja2 templates overriding or extending the defaults")
    p.add_argument("--pptx-template", type=Path, help="PowerPoint master (.pptx/.potx) to build the deck from")
    p.add_argument("--refit", action="store_true",
                   help="fit the segments afresh and match them to last month's (default: score with the saved model)")
    p.add_argument("--send", action="store_true", help="e-mail the month's deliverables afterwards (see `send`)")
    _engine(p)
    _common(p)
    p.set_defaults(handler=_run_build)


def _add_send(sub) -> None:
    p = sub.add_parser(
        "send",
        help="e-mail a built month's deliverables to the audiences in the config",
        description=(
            "E-mail OUT/MONTH's deliverables over SMTP to the audiences of the config's [email] table. "
            "A ledger in the history database makes reruns safe: an audience already mailed for the month "
            "is skipped unless --resend."
        ),
    )
    p.add_argument("--month", required=True, help="the month to send, YYYY-MM")
    p.add_argument("--config", type=Path, required=True, help="TOML config with the [email] table")
    p.add_argument("--out", type=Path, default=Path("output"), help="output root the month was built into (default: output)")
    p.add_argument("--dry-run", action="store_true", help="write OUT/MONTH/outbox/<audience>.eml instead of sending")
    p.add_argument("--resend", action="store_true", help="send again to audiences already mailed for this month")
    _common(p)
    p.set_defaults(handler=_run_send)


def _add_export(sub) -> None:
    p = sub.add_parser(
        "export",
        help="write tidy BI extracts (customers, segment profiles, KPIs by month, migration) for Power BI or Tableau",
        description="Segment the extract (as `build` does) and write tidy tables with a documented schema "
                    "(bi-schema.json) to OUT/MONTH/bi/.",
    )
    p.add_argument("--format", dest="fmt", type=_lower, choices=("parquet", "csv"), default="parquet", help="parquet (default) or csv")
    _data_options(p)
    p.add_argument("--out", type=Path, default=Path("output"), help="output root (default: output)")
    p.add_argument("--month", help="month YYYY-MM (default: the current month)")
    p.add_argument("--k", type=_positive_int, help=K_HELP)
    p.add_argument("--config", type=Path, help="TOML config")
    _common(p)
    p.set_defaults(handler=_run_export)


def _run_export(args) -> int:
    from reportgen.api import export

    for path in export(args.data, fmt=args.fmt, out=args.out, month=args.month, k=args.k, config=args.config,
                       **_data_args(args)):
        print(f"wrote {path}")
    return 0


def _run_send(args) -> int:
    from reportgen.api import now_utc, parse_month

    _send(parse_month(args.month, now_utc()), args.out, args.config, dry_run=args.dry_run, resend=args.resend)
    return 0


def _send(month: str, out: Path, config: Path | None, *, dry_run: bool = False, resend: bool = False) -> None:
    from reportgen.config import load_settings
    from reportgen.monthly.mail import send_month

    results = send_month(month, out, load_settings(config), dry_run=dry_run, resend=resend)
    for result in results:
        print(f"{result.audience}: {result.detail}")
    unconfirmed = [r.audience for r in results if r.status == "unconfirmed"]
    if unconfirmed:
        raise DeliveryError(
            f"not sent to {', '.join(unconfirmed)}: an earlier send was never confirmed; check whether it arrived, "
            "then use --resend to send again"
        )


def _run_build(args) -> int:
    if args.templates is not None and not args.templates.is_dir():
        raise ConfigError(f"{args.templates}: --templates must be a folder of templates")
    from reportgen.config import load_settings
    from reportgen.monthly.outputs import check_out_folder
    from reportgen.render.pool import RenderPool, gc_paused

    # Mistakes in the config or --out fail at once, before any worker starts (or the JVM).
    load_settings(args.config, k=args.k)
    check_out_folder(args.out)
    engine = _engine_args(args)

    with RenderPool(start=False, yield_to_lanes=args.ends_process) as pool:
        # The PDF lane starts first and imports what it needs while this process imports the analysis
        # libraries; the deck lane once they are imported (it shares them): its share of the k evidence first.
        pool.start("pdf")
        if args.engine == "spark":  # the JVM boots while this process imports; both lanes fork first (start_early)
            pool.start("deck")
            __import__("reportgen.segmentation.engines.spark_session", fromlist=["_"]).start_early(args.spark_master)
        with gc_paused(freeze=True):
            from reportgen.api import build
            from reportgen.render.settings import RenderSettings

        pool.start("deck", renderers_later=True)
        outcome = build(
            args.data,
            formats=tuple(f for group in args.formats or [("pdf",)] for f in group),
            out=args.out,
            month=args.month,
            k=args.k,
            config=args.config,
            render=RenderSettings(templates=args.templates, pptx_template=args.pptx_template),
            refit=args.refit,
            pool=pool,
            **_data_args(args),
            **engine,
        )
    model = outcome.model
    from reportgen.report import formatting as fmt  # after the build: --help stays instant
    fmt.use_style(outcome.result.settings.locale, outcome.result.settings.currency)  # the summary in the report's locale
    print(f"{fmt.format_count(model.facts.customers)} customers in {len(model.segments)} segments "
          f"(k = {model.k_choice.chosen_k}); {model.monitoring.statement}")
    for event in model.monitoring.events:
        print(f"  note: {event}")
    targets = [p for p in outcome.files if p.parent.name == "targets"]
    for path in outcome.files:
        if path not in targets:
            print(f"wrote {path}")
    if targets:
        print(f"wrote {targets[0].parent}/ ({len(targets) - 1} target lists and recommendations.csv)")
    if args.send:
        _send(model.facts.month, args.out, args.config)
    return 0


def _add_segment(sub) -> None:
    p = sub.add_parser(
        "segment",
        help="segment customers and write assignments, profiles, k evidence and model.json",
        description="Segment the customers of an extract and write the segment files (see docs in README).",
    )
    _data_options(p)
    p.add_argument("--out", type=Path, default=Path("output/segment"), help="output folder (default: output/segment)")
    p.add_argument("--k", type=_positive_int, help=K_HELP)
    p.add_argument("--config", type=Path, help="TOML config: column mapping, k range, seed, playbook")
    _engine(p)
    _common(p)
    p.set_defaults(handler=_run_segment)


def _add_synth(sub) -> None:
    p = sub.add_parser(
        "synth",
        help="write realistic synthetic customers in the contract's schema",
        description="Write synthetic customers with a planted mix of the five personas (and truth.csv).",
    )
    p.add_argument("--customers", type=_positive_int, required=True, help="number of customers")
    p.add_argument("--months", type=_positive_int, help="write one file per month, with customers drifting")
    p.add_argument("--start", default="2026-01", help="first month, YYYY-MM (default 2026-01)")
    p.add_argument("--seed", type=int, required=True, help="random seed (same seed, same files)")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--format", type=_lower, choices=("csv", "parquet"), default="csv", help="file format (default csv)")
    _common(p)
    p.set_defaults(handler=_run_synth)


def _run_segment(args) -> int:
    from reportgen.api import segment

    outcome = segment(data=args.data, out=args.out, k=args.k, config=args.config, **_data_args(args),
                      **_engine_args(args))
    from reportgen.report import formatting as fmt
    fmt.use_style(outcome.result.settings.locale, outcome.result.settings.currency)  # the summary in the report's locale
    number, count = fmt.format_number, fmt.format_count
    choice = outcome.model.k_choice
    chosen = next((r for r in choice.rows if r.chosen), None)  # None: a set k the sample's behaviours could not weigh
    how = "set with --k" if choice.how == "set by the user" else choice.how
    figures = f": silhouette {number(chosen.silhouette, 3)}, stability {number(chosen.stability)}" if chosen else ""
    print(f"k = {choice.chosen_k} ({how}){figures}")
    if not choice.forced:
        print(f"  {choice.reason}")
    if choice.weak:
        print(f"  {choice.structure}")
    for s in outcome.model.segments:
        stability = f"stability {number(s.stability)}" if s.stability is not None else ""
        risk = "  credit risk" if s.risk_flags else ""
        print(f"  segment {s.id}: {s.name:<40} {count(s.customers):>9} customers ({fmt.format_share(s.share)}) {stability}{risk}")
    for path in outcome.files:
        print(f"wrote {path}")
    return 0


def _run_synth(args) -> int:
    from reportgen.data.synth_files import write_synth

    paths = write_synth(args.customers, args.out, seed=args.seed, months=args.months, start=args.start, fmt=args.format)
    for path in paths:
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
