"""Admin commands for operations: ``forwarder status`` and ``forwarder outbox list|retry|drop``."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import Any

import click
from rich.table import Table

from forwarder.errors import ConfigError, StoreError
from forwarder.store import DEAD, FAILED, OPEN_STATES, PENDING, SENDING, SENT, Store, parse_iso
from forwarder.terminal import wide_console


def open_config_and_store(config_path: str) -> tuple[Any, Store]:
    """The checked config and its database, for admin commands; exits 2 on a bad config and
    raises ClickException when the database does not exist or cannot be opened."""
    from forwarder.config import load_config

    try:
        settings = load_config(config_path, secrets_optional=True)  # reads the database, sends nothing
    except ConfigError as exc:
        click.echo(str(exc), err=True)
        sys.exit(2)
    return settings, open_database(settings)


def open_database(settings: Any) -> Store:
    """The forwarder database of ``settings`` for a reading command. Raises ClickException (exit
    1, like every reading command) when it does not exist (it is never created here) or cannot be
    opened."""
    missing = no_database(settings.database)
    if missing:
        raise click.ClickException(missing)
    try:
        return Store.open(settings.database)
    except StoreError as exc:
        raise click.ClickException(str(exc)) from exc


def no_database(path: Any) -> str | None:
    """Why an admin command cannot read the forwarder database at ``path`` (it does not exist),
    or None. Reading commands never create it: a wrong ``--config`` must not leave an empty
    database (owned by whoever ran the command) where the daemon will later look."""
    from pathlib import Path

    if Path(path).exists():
        return None
    return (f"no forwarder database at {Path(path).resolve()}: `forwarder run` creates it. "
            "Is --config the file the daemon uses, and is this its working directory?")


_store = open_config_and_store


def _age(text: str | None) -> str:
    if not text:
        return "-"
    seconds = (datetime.now(UTC) - parse_iso(text)).total_seconds()
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


config_option = click.option("--config", "config_path", default="config/groups.yaml", show_default=True,
                             type=click.Path(dir_okay=False))


@click.command()
@config_option
def status(config_path: str) -> None:
    """Each source's last poll and error, each sink's outbox, depth and oldest pending age."""
    settings, store = _store(config_path)
    console = wide_console()
    sources = Table(title="sources")
    for col in ("source", "type", "last poll", "last ok", "last error"):
        sources.add_column(col)
    state = {row["source"]: row for row in store.sources_state()}
    for name, cfg in settings.sources.items():
        row = state.get(name, {})
        sources.add_row(name, cfg.type, _age(row.get("last_poll_at")) + " ago" if row.get("last_poll_at") else "never",
                        _age(row.get("last_ok_at")) + " ago" if row.get("last_ok_at") else "never",
                        row.get("last_error") or "")
    console.print(sources)
    sinks = Table(title="outbox by sink")
    for col in ("sink", "pending", "failed (retrying)", "dead", "sent", "oldest open", "last error"):
        sinks.add_column(col)
    for name in settings.sinks:
        counts = {r[0]: r[1] for r in store.db.execute(
            "select state, count(*) from deliveries where sink = ? group by state", [name])}
        oldest = store.db.execute(
            "select min(created_at) from deliveries where sink = ? and state in (?,?,?)",
            [name, *OPEN_STATES]).fetchone()[0]
        last_error = store.db.execute(
            "select last_error from deliveries where sink = ? and last_error is not null "
            "order by updated_at desc limit 1", [name]).fetchone()
        sinks.add_row(name, str(counts.get(PENDING, 0) + counts.get(SENDING, 0)), str(counts.get(FAILED, 0)),
                      str(counts.get(DEAD, 0)), str(counts.get("sent", 0)), _age(oldest),
                      (last_error[0] if last_error else "") or "")
    console.print(sinks)
    citizens = _citizen_table(store)
    if citizens is not None:
        console.print(citizens)
    health = Table(title="health as the daemon last saw it (group chats only when down)")
    for col in ("channel", "state", "since", "reason"):
        health.add_column(col)
    rows = [r for r in store.channel_states() if _configured(settings, r["channel"])]
    chats_up = 0
    for row in rows:
        if row["channel"].startswith("chat:") and row["state"] == "up":
            chats_up += 1
            continue
        health.add_row(row["channel"], row["state"], _age(row["since"]) + " ago", row["reason"] or "")
    if chats_up:
        health.add_row(f"{chats_up} group chat(s)", "up", "", "")
    console.print(health)
    total = store.db.execute("select count(*) from complaints").fetchone()[0]
    console.print(f"complaints stored: {total}")


def _configured(settings: Any, channel: str) -> bool:
    """Whether a health channel (``source:sms``, ``sink:tg``, ``chat:tg:-100...``,
    ``citizen:sms:hp``) belongs to a source or sink of this config: a database once used with
    another config keeps their rows, which are not shown."""
    kind, _, rest = channel.partition(":")
    if kind == "source":
        return rest in settings.sources
    if kind in ("sink", "chat"):
        return rest.split(":", 1)[0] in settings.sinks
    if kind == "citizen":
        return rest.split(":", 1)[-1] in settings.sources
    return True


def _citizen_table(store: Store, *, open_only: bool = False) -> Table | None:
    """Messages to citizens (acknowledgments, questions, answers) by channel and source; None
    when there are none. ``open_only``: one row per message not sent yet, with its error."""
    if open_only:
        rows = store.db.execute(
            "select f.id, f.kind, f.channel, f.via, f.state, f.attempts, f.created_at, f.last_error, "
            "c.tracking_code from followups f left join complaints c on c.id = f.complaint_id "
            "where f.channel in ('sms', 'x') and f.state != 'sent' order by f.id limit 200").fetchall()
        if not rows:
            return None
        table = Table(title="to citizens, not sent yet")
        for col in ("id", "code", "kind", "via", "state", "attempts", "age", "last error"):
            table.add_column(col)
        for r in rows:
            table.add_row(str(r[0]), r[8] or "", r[1], f"{r[2]} {r[3]}", r[4], str(r[5]), _age(r[6]), r[7] or "")
        return table
    rows = store.db.execute(
        "select channel, via, sum(state in ('pending', 'sending')), sum(state = 'dead'), sum(state = 'sent'), "
        "max(case when state != 'sent' then last_error end) from followups where channel in ('sms', 'x') "
        "group by channel, via order by channel, via").fetchall()
    if not rows:
        return None
    table = Table(title="messages to citizens")
    for col in ("channel", "via", "waiting", "dead", "sent", "last error"):
        table.add_column(col)
    for r in rows:
        table.add_row(r[0], r[1], str(r[2] or 0), str(r[3] or 0), str(r[4] or 0), r[5] or "")
    return table


@click.group()
def outbox() -> None:
    """Inspect and repair the outbox (deliveries to officer groups)."""


@outbox.command("list")
@config_option
@click.option("--state", "states", multiple=True,
              type=click.Choice(["pending", "sending", "failed", "dead", "sent"]),
              help="Only these states (repeatable). Default: everything not yet sent.")
@click.option("--limit", default=50, show_default=True)
def outbox_list(config_path: str, states: tuple[str, ...], limit: int) -> None:
    """List deliveries that are not sent yet (or of the given states), oldest first."""
    _, store = _store(config_path)
    states = states or (PENDING, SENDING, FAILED, DEAD)
    marks = ",".join("?" for _ in states)
    rows = store.deliveries(f"state in ({marks})", states)[:limit]
    table = Table()
    for col in ("id", "complaint", "code", "group", "state", "attempts", "uncertain", "age", "last error"):
        table.add_column(col)
    for d in rows:
        c = store.complaint(d.complaint_id)
        created = store.db["deliveries"].get(d.id)["created_at"]
        table.add_row(str(d.id), str(d.complaint_id), c["tracking_code"], d.group_name, d.state,
                      str(d.attempts), "yes" if d.uncertain else "", _age(created), d.last_error or "")
    citizens = _citizen_table(store, open_only=True)
    if citizens is not None:
        wide_console().print(citizens)
    if not rows:
        click.echo("nothing in the outbox to officer groups" + ("" if citizens is None else
                                                                 " (messages to citizens above)"))
        return
    wide_console().print(table)


@outbox.command("retry")
@config_option
@click.argument("delivery_ids", nargs=-1, type=int)
@click.option("--all-dead", is_flag=True, help="Retry every dead delivery.")
def outbox_retry(config_path: str, delivery_ids: tuple[int, ...], all_dead: bool) -> None:
    """Put dead or failed deliveries back in the queue; the running daemon picks them up."""
    if not delivery_ids and not all_dead:
        raise click.UsageError("give delivery ids (see `forwarder outbox list`) or --all-dead")
    _, store = _store(config_path)
    ids = list(delivery_ids)
    unknown = []
    for delivery_id in delivery_ids:
        row = store.db.execute("select state from deliveries where id = ?", [delivery_id]).fetchone()
        if row is None:
            unknown.append(f"no delivery {delivery_id}")
        elif row[0] not in (DEAD, FAILED):
            unknown.append(f"delivery {delivery_id} is {row[0]}, not dead or failed: left as it is")
    if all_dead:
        ids += [d.id for d in store.deliveries("state = ?", [DEAD])]
    for line in unknown:
        click.echo(line, err=True)
    click.echo(f"{store.requeue(ids)} delivery(ies) queued again")
    if delivery_ids and len(unknown) == len(delivery_ids) and not all_dead:
        sys.exit(1)


@outbox.command("drop")
@config_option
@click.argument("delivery_ids", nargs=-1, type=int, required=True)
@click.option("--reason", required=True, help="Why (recorded with the complaint's history).")
def outbox_drop(config_path: str, delivery_ids: tuple[int, ...], reason: str) -> None:
    """Give up on deliveries on purpose; they stay listed as dead, with the reason. Exits 1 when
    none of the ids could be dropped (unknown, or already sent)."""
    _, store = _store(config_path)
    refused = []
    for delivery_id in delivery_ids:
        row = store.db.execute("select state from deliveries where id = ?", [delivery_id]).fetchone()
        if row is None:
            refused.append(f"no delivery {delivery_id}")
        elif row[0] == SENT:
            refused.append(f"delivery {delivery_id} was sent: nothing to drop")
    for line in refused:
        click.echo(line, err=True)
    click.echo(f"{store.drop(delivery_ids, reason)} delivery(ies) dropped")
    if len(refused) == len(delivery_ids):
        sys.exit(1)


commands = [status, outbox]
