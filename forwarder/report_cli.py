"""``forwarder report`` (response-time table, PNG chart, CSV) and ``forwarder notices``.

The figures and their definitions are in :mod:`forwarder.report`; reminders and digests in
:mod:`forwarder.reminders`. The chart is drawn with matplotlib's Agg backend (no display needed).
"""

from __future__ import annotations

import asyncio
import csv
import sys
from dataclasses import fields
from datetime import UTC, datetime
from pathlib import Path

import click
from rich.table import Table

from forwarder.context import utcnow
from forwarder.errors import ConfigError, DeliveryError
from forwarder.report import BY_CHOICES, Report, Row, build_report, parse_since
from forwarder.terminal import wide_console

config_option = click.option("--config", "config_path", default="config/groups.yaml", show_default=True,
                             type=click.Path(dir_okay=False), help="The YAML config.")

_COLUMNS = (
    ("assigned", "complaints"), ("acknowledged", "acked"), ("ack_median_h", "ack median h"),
    ("ack_p90_h", "ack p90 h"), ("done", "done"), ("done_median_h", "done median h"),
    ("done_p90_h", "done p90 h"), ("ack_within_pct", "ack in time"), ("done_within_pct", "done in time"),
    ("reopened_pct", "reopened"), ("open", "open"), ("overdue", "overdue"), ("moved", "moved away"),
)
#: the rounds after a reopening, each on its own deadlines (forwarder.report, "Rounds"): a second table
_REOPEN_COLUMNS = (
    ("reopen_rounds", "rounds"), ("reopen_ack_median_h", "ack median h"),
    ("reopen_ack_within_pct", "ack in time"), ("reopen_done", "done"),
    ("reopen_done_median_h", "done median h"), ("reopen_done_within_pct", "done in time"),
    ("reopen_open", "open"), ("reopen_overdue", "overdue"),
)
#: every figure of a Row, in its order: the CSV's columns
_CSV_COLUMNS = tuple(f.name for f in fields(Row) if f.name != "key")


def _settings(config_path: str, secrets_optional: bool = True):
    from forwarder.config import load_config

    try:
        return load_config(config_path, secrets_optional=secrets_optional)
    except ConfigError as exc:
        click.echo(str(exc), err=True)
        sys.exit(2)


def _calendar(settings):
    from forwarder.workdays import WorkCalendar

    try:
        return WorkCalendar.from_settings(settings)
    except ImportError as exc:
        raise click.ClickException(str(exc)) from exc


def _store(settings):
    from forwarder.admin import open_database

    return open_database(settings)  # exit 1 with "no forwarder database at ...", as `status`


def chart_path(settings) -> Path:
    """Where ``forwarder report`` draws its chart without ``--out``: ``report.png`` in the
    directory of the config's ``database`` (``var/report.png`` for ``var/forwarder.db``), where
    the daemon keeps its other files, not wherever the command happens to be run."""
    return Path(settings.database).parent / "report.png"


as_of_option = click.option(
    "--as-of", "as_of", default=None, metavar="TIME",
    help="Judge deadlines as of this moment instead of now: 2026-10-01T09:00 (local time "
         "unless an offset is given) or a date (its 00:00).")


def _as_of(text: str | None, calendar) -> datetime:
    if not text:
        return utcnow()
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise click.BadParameter(f"cannot read {text!r}: use 2026-10-01T09:00 or 2026-10-01",
                                 param_hint="--as-of") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=calendar.zone)
    return moment.astimezone(UTC)


def cell(name: str, value: object) -> str:
    """A figure as table text: hours with one decimal, shares as whole percents, '-' for none."""
    if value is None:
        return "-"
    if name.endswith("_pct"):
        return f"{value:.0f}%"
    if name.endswith("_h"):
        return f"{value:.1f}"
    return str(value)


def render_table(report: Report) -> Table:
    """The report as a rich table, one row per key and a total row."""
    zone = report.since.tzinfo
    title = (f"Response times by {report.by}: complaints received "
             f"{report.since.astimezone(zone):%Y-%m-%d %H:%M} to {report.until.astimezone(zone):%Y-%m-%d %H:%M}")
    table = Table(title=title, caption=(
        f"hours are working hours; deadlines {report.deadlines.acknowledge_days:g} working days to "
        f"acknowledge, {report.deadlines.done_days:g} to done"))
    table.add_column(report.by)
    for _, label in _COLUMNS:
        table.add_column(label, justify="right")
    for row in [*report.rows, report.total]:
        table.add_row(row.key, *(cell(name, getattr(row, name)) for name, _ in _COLUMNS),
                      end_section=row is report.rows[-1] if report.rows else False)
    return table


def render_reopen_table(report: Report) -> Table | None:
    """The rounds after a reopening as a rich table (rows that have some, and the total), or
    None when no complaint of the period was reopened."""
    rows = [r for r in report.rows if r.reopen_rounds]
    if not report.total.reopen_rounds:
        return None
    table = Table(title="Reopened complaints: the rounds after each reopening", caption=(
        "each round's clock starts at the reopening, with the same deadlines; the figures above "
        "count first rounds only"))
    table.add_column(report.by)
    for _, label in _REOPEN_COLUMNS:
        table.add_column(label, justify="right")
    for row in [*rows, report.total]:
        table.add_row(row.key, *(cell(name, getattr(row, name)) for name, _ in _REOPEN_COLUMNS),
                      end_section=row is rows[-1] if rows else False)
    return table


def write_csv(report: Report, path: Path) -> None:
    """One line per row (total last), raw numbers (hours, percents), empty when undefined."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow([report.by, *_CSV_COLUMNS])
        for row in [*report.rows, report.total]:
            writer.writerow([row.key, *("" if getattr(row, n) is None else
                                        round(getattr(row, n), 2) for n in _CSV_COLUMNS)])


def write_chart(report: Report, path: Path) -> None:
    """A PNG with two panels, one bar pair per row key (labelled with its number of complaints):
    median working hours to acknowledge and to done, with the deadlines as dashed lines; and the
    share acknowledged and done within the deadline (percent). Missing figures draw no bar."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows: list[Row] = report.rows or [report.total]
    labels = [f"{r.key} (n={r.assigned})" for r in rows]
    pos = list(range(len(rows)))
    width = 0.38
    height = max(3.5, 0.5 * len(rows) + 2.2)
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, height), sharey=True)
    try:
        def bars(ax, names: tuple[str, str], legend: tuple[str, str], fmt: str) -> None:
            for k, (name, text) in enumerate(zip(names, legend)):
                values = [getattr(r, name) for r in rows]
                drawn = ax.barh([p + (k - 0.5) * width for p in pos], [v or 0.0 for v in values],
                                height=width, label=text)
                ax.bar_label(drawn, labels=["" if v is None else fmt.format(v) for v in values],
                             padding=2, fontsize="x-small")
            ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, fontsize="small",
                      frameon=False)
            ax.grid(axis="x", alpha=0.3)

        ack_days, done_days = report.deadlines.acknowledge_days, report.deadlines.done_days
        bars(left, ("ack_median_h", "done_median_h"), ("to acknowledge", "to done"), "{:.1f}")
        for hours, colour in ((ack_days * 24, "C0"), (done_days * 24, "C1")):
            left.axvline(hours, color=colour, linestyle="--", linewidth=1)
        left.set_xlabel("median working hours (dashed: deadlines)")
        left.set_yticks(pos, labels)
        left.invert_yaxis()
        bars(right, ("ack_within_pct", "done_within_pct"),
             (f"acknowledged within {ack_days:g} working days", f"done within {done_days:g} working days"),
             "{:.0f}%")
        right.set_xlabel("share within deadline (%)")
        right.set_xlim(0, 110)
        zone = report.since.tzinfo
        fig.suptitle(f"Response times by {report.by}, complaints received "
                     f"{report.since.astimezone(zone):%Y-%m-%d} to {report.until.astimezone(zone):%Y-%m-%d}")
        fig.tight_layout()
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, format="png", dpi=100)
    finally:
        plt.close(fig)


_LEFT_OUT = (("spam", "spam"), ("duplicate", "duplicate"), ("not_ours", "marked not ours"),
             ("moved", "re-routed away"), ("undelivered", "never delivered"))


def _left_out(excluded: dict[str, int]) -> str:
    """``1 spam, 1 duplicate, 2 re-routed away`` or ``nothing``."""
    parts = [f"{excluded[key]} {text}" for key, text in _LEFT_OUT if excluded.get(key)]
    return ", ".join(parts) or "nothing"


@click.command()
@config_option
@click.option("--since", "since_text", default="30d", show_default=True,
              help="Complaints received since: 30d, 2w, 12h, or a local date 2026-10-01.")
@click.option("--until", "until_text", default=None,
              help="Up to (excluded), same forms as --since; default now.")
@click.option("--by", type=click.Choice(BY_CHOICES), default="dinas", show_default=True,
              help="One row per dinas, officer group, kecamatan or topic.")
@click.option("--out", "out_path", default=None, type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write the PNG chart [default: report.png next to the config's "
                   "database, e.g. var/report.png].")
@click.option("--csv", "csv_path", default=None, type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the figures as CSV.")
@click.option("--no-chart", is_flag=True, help="Print the table only.")
@as_of_option
def report(config_path: str, since_text: str, until_text: str | None, by: str, out_path: Path | None,
           csv_path: Path | None, no_chart: bool, as_of: str | None) -> None:
    """Response times per dinas, group, kecamatan or topic: time to first acknowledgment and to
    done (median, p90, in working hours), share within the deadlines, reopen rate; the rounds
    after a reopening apart (reopen columns), each with deadlines counted from its reopening.

    Deadlines count working days (weekends, national holidays and cuti bersama skipped) in the
    config's time zone. Spam, duplicates and not-ours are left out; after a re-route the time is
    charged to the group that now owns the complaint.
    """
    from forwarder.report import deadlines_of, dinas_map

    settings = _settings(config_path)
    calendar = _calendar(settings)
    now = _as_of(as_of, calendar)
    try:
        since = parse_since(since_text, now, calendar)
        until = parse_since(until_text, now, calendar) if until_text else now
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc
    if until <= since:
        raise click.BadParameter("--until must be after --since")
    store = _store(settings)
    try:
        result = build_report(store, by=by, since=since.astimezone(calendar.zone),
                              until=until.astimezone(calendar.zone), now=now, calendar=calendar,
                              deadlines=deadlines_of(settings), dinas_of=dinas_map(settings))
    finally:
        store.close()
    console = wide_console()
    console.print(render_table(result))
    reopened = render_reopen_table(result)
    if reopened is not None:
        console.print(reopened)
    click.echo(f"not measured: {_left_out(result.excluded)}")
    if csv_path is not None:
        _write(write_csv, result, csv_path, "--csv")
        click.echo(f"CSV written to {csv_path.resolve()}")
    if not no_chart:
        out_path = out_path or chart_path(settings)
        _write(write_chart, result, out_path, "--out")
        click.echo(f"chart written to {out_path.resolve()}")


def _write(writer, result: Report, path: Path, option: str) -> None:
    """``writer(result, path)``; a file that cannot be written is a ClickException naming the
    option that chooses another place."""
    try:
        writer(result, path)
    except OSError as exc:
        raise click.ClickException(f"cannot write {path.resolve()}: {exc.strerror or exc}; "
                                   f"{option} PATH writes it elsewhere") from exc


@click.command()
@config_option
@click.option("--once", is_flag=True, required=True,
              help="Send the reminders, digests and summaries due now, then exit (for cron).")
@click.option("--dry-run", is_flag=True, help="Print them instead of sending (nothing is marked sent).")
@as_of_option
def notices(config_path: str, once: bool, dry_run: bool, as_of: str | None) -> None:
    """Send due deadline reminders (to officer groups), overdue alerts and weekly summaries (to
    heads' groups) and daily digests (to heads). Each is sent once; exits 1 if some could not be
    sent."""
    from forwarder.reminders import due_notices

    settings = _settings(config_path, secrets_optional=dry_run)  # sending needs the bot token
    now = _as_of(as_of, _calendar(settings))
    store = _store(settings)
    if dry_run:
        due = due_notices(store, settings, now)
        names = _chat_names(settings)
        for n in due:
            who = names.get((n.sink, str(n.chat_id)), f"{n.sink} {n.chat_id}")
            click.echo(f"── {who} ({', '.join(k for k, _ in n.keys[:1])})\n{n.text}\n")
        click.echo(f"{len(due)} notice(s) due")
        store.close()
        return
    result = asyncio.run(_send_notices(settings, store, now))
    click.echo(f"{len(result.sent)} notice(s) sent, {len(result.failed)} refused, "
               f"{len(result.deferred)} left for later")
    for notice, reason in [*result.failed, *result.deferred]:
        click.echo(f"  {notice.sink} {notice.chat_id}: {reason}", err=True)
    sys.exit(1 if result.failed or result.deferred else 0)


def _chat_names(settings) -> dict[tuple[str, str], str]:
    """(sink, chat id) -> what the config calls that chat: an officer group, a heads' group, a head."""
    names = {(g.sink, str(g.chat_id)): f"grup {g.name}" for g in settings.groups}
    names.update({(g.sink, str(g.chat_id)): f"grup pimpinan {g.name}" for g in settings.heads.groups})
    names.update({(h.sink, str(h.chat_id)): f"{h.name} (pribadi)" for h in settings.heads.people})
    return names


async def _send_notices(settings, store, now):
    from types import SimpleNamespace

    from forwarder import sinks as sink_registry
    from forwarder.context import Context
    from forwarder.reminders import NoticeRun, run_notices

    context = Context(timezone=settings.timezone)
    sinks = {}
    result = NoticeRun()
    try:
        for name, cfg in settings.sinks.items():
            sink = sink_registry.load(cfg.type).Sink(name, cfg, context)
            try:
                await sink.start()
            except DeliveryError as exc:
                click.echo(f"sink {name}: {exc}", err=True)
                continue
            sinks[name] = sink
        result = await run_notices(SimpleNamespace(store=store, settings=settings, sinks=sinks), now)
    finally:
        for sink in sinks.values():
            await sink.close()
        store.close()
    return result


commands = [report, notices]
