"""Admin commands on one complaint: ``forwarder reveal``, ``forwarder flag`` and ``forwarder unmark``.

``forwarder reveal CODE --admin NAME`` prints the complaint as the citizen sent it (unmasked text,
reporter, channel). The read is recorded first (event ``revealed`` {admin}), so there is no read
without a record. ``forwarder flag CODE --confidential --admin NAME`` marks a complaint
confidential after the fact (as the word RAHASIA does on intake): deliveries not yet sent to
groups that may not see it are dropped, its forwarded messages there are edited to hold the text
back, and it is delivered to the groups configured for confidential cases (``confidential: true``;
when there is none for its topic, the confidential triage group, or the ordinary triage group
when the config has no confidential triage group). Which groups may see it is
:func:`forwarder.routing.sees_confidential`: with a confidential triage group configured, the
ordinary triage group may not (a complaint it holds moves to the confidential triage group).
Posts still queued for its thread in a group that may not see it (a citizen's reply, a note)
are dropped: marked ``dead`` with the reason; queued edits stay, they render the held-back view
when they go out. From then on the citizen's replies go only to the confidential group(s)
(:func:`forwarder.casework.queue_thread_post_tx`). Event ``flagged`` {confidential, admin,
dropped_posts}; each group that held it and may not see it any more gets a ``rerouted`` event
with ``from_group`` (so :mod:`forwarder.report` ends that group's part as moved and charges the
time to the new group).

``forwarder unmark CODE --reason TEXT --admin NAME`` undoes an officer's ``/spam`` or
``/duplikat`` (:func:`forwarder.casework.unmark_tx`): the complaint gets back the status it had,
its messages their buttons, and reports count it again; a duplicate's citizen, who was told it
was merged, is told it is handled on its own again (template ``unmerged``), and the groups of
the complaint it had been merged into, told of the merge in its thread, are told in the same
thread that the link is undone (:func:`forwarder.casework.queue_unmerged_note_tx`). All of it is
one transaction, and each message is queued once per duplicate mark: a retried or concurrent
unmark, or a crash, neither loses nor repeats them.

They act on the database only; a running daemon sends the new deliveries and edits.
"""

from __future__ import annotations

import json
from typing import Any

import click

from forwarder import casework, citizen, followups
from forwarder.config import Settings
from forwarder.routing import route, sees_confidential
from forwarder.store import DEAD, OPEN_STATES, Destination, Store

config_option = click.option("--config", "config_path", default="config/groups.yaml", show_default=True,
                             type=click.Path(dir_okay=False), help="The YAML config.")
admin_option = click.option("--admin", required=True, help="Your name: recorded with the complaint's history.")


def _open(config_path: str) -> tuple[Settings, Store]:
    from forwarder.admin import open_config_and_store

    return open_config_and_store(config_path)


def _complaint(store: Store, code: str) -> dict[str, Any]:
    from forwarder.citizen_inbound import normalise_code

    row = store.complaint_by_code(normalise_code(code.strip()))
    if row is None:
        raise click.ClickException(f"no complaint has the tracking code {code!r}")
    return dict(row)


def _admin(name: str) -> str:
    name = " ".join(name.split())
    if not name:
        raise click.UsageError("--admin must name the admin doing this (it is recorded with the complaint)")
    return name[:100]


def reveal_complaint(store: Store, code: str, admin: str) -> dict[str, Any]:
    """The complaint row for ``code``, after recording the ``revealed`` event. Raises ClickException."""
    row = _complaint(store, code)
    store.add_event(row["id"], f"admin:{admin}", "revealed", {"admin": admin})
    return row


def flag_confidential(store: Store, settings: Settings, code: str, admin: str) -> list[str]:
    """Mark a complaint confidential and move it (see the module docstring); returns the groups it
    now goes to. Already confidential: nothing changes and ``[]`` is returned."""
    row = _complaint(store, code)
    meta = casework.complaint_meta(row)
    if meta.get("confidential"):
        return []
    meta["confidential"] = True
    allowed = {g.name for g in settings.groups if sees_confidential(g, settings.groups)}
    routing = route(settings.groups, topic=row["topic"], confidence=1.0, kecamatan=row["kecamatan"],
                    threshold=0.0, confidential=True)
    dests = [Destination(g.name, g.sink, store.chat_override(g.sink, g.chat_id) or g.chat_id) for g in routing.groups]
    now = store.now()
    actor = f"admin:{admin}"
    names = [d.group_name for d in dests]
    # the groups that hold it now and must let it go (read before anything changes)
    leaving = [d.group_name for d in casework.owners(store, row["id"]) if d.group_name not in allowed]
    with casework.transaction(store) as conn:
        conn.execute("update complaints set meta = ? where id = ?",
                     (json.dumps(meta, ensure_ascii=False, default=str), row["id"]))
        marks = ",".join("?" * len(allowed))
        dropped = conn.execute(
            f"update followups set state = ?, last_error = ?, updated_at = ? where complaint_id = ? and "
            f"channel = ? and state = ? and (group_name is null or group_name not in ({marks}))",
            (DEAD, "dropped: the complaint was marked confidential", now, row["id"], followups.CHAT,
             followups.PENDING, *sorted(allowed))).rowcount
        casework.event_tx(conn, now, row["id"], actor, "flagged",
                          {"confidential": True, "admin": admin, "dropped_posts": dropped})
        for i, dest in enumerate(dests):
            casework.add_delivery_tx(conn, store, now, row["id"], dest, actor, leaving[0] if i == 0 and leaving else None,
                                     "ditandai rahasia", row["topic"], row["kecamatan"], to_groups=names, name=admin)
        for group in leaving[1:]:  # one rerouted event per group that gave it away
            casework.event_tx(conn, now, row["id"], actor, "rerouted",
                              {"group": dests[0].group_name, "to_group": dests[0].group_name, "from_group": group,
                               "to_groups": names, "reason": "ditandai rahasia", "topic": row["topic"],
                               "kecamatan": row["kecamatan"], "by_group": group, "name": admin})
        for d in casework.deliveries_of(store, row["id"]):
            if d.group_name not in allowed and d.state in OPEN_STATES:
                conn.execute("update deliveries set state = ?, last_error = ?, updated_at = ? where id = ?",
                             (DEAD, "dropped: the complaint was marked confidential", now, d.id))
                casework.event_tx(conn, now, row["id"], actor, "delivery_dead",
                                  {"group": d.group_name, "error": "marked confidential"})
        casework.queue_edits_tx(conn, store, now, row["id"])
    return [d.group_name for d in dests]


def unmark_complaint(store: Store, settings: Settings, code: str, admin: str,
                     reason: str) -> tuple[dict[str, Any], str, bool, str | None]:
    """Undo ``/spam`` or ``/duplikat`` on complaint ``code`` (see the module docstring): returns
    ``(row as it was, status now, citizen told, code of the original whose groups are told or
    None)``. Raises ClickException for an unknown code or a complaint not marked."""
    row = _complaint(store, code)
    was = row["status"]
    mark = casework.duplicate_mark(store, row["id"]) if was == casework.DUPLICATE else None
    fallback = settings.fallback
    triage = Destination(fallback.name, fallback.sink,
                         store.chat_override(fallback.sink, fallback.chat_id) or fallback.chat_id)
    told, original = False, None
    try:
        with casework.transaction(store) as conn:
            now = store.now()
            status = casework.unmark_tx(conn, store, now, row, f"admin:{admin}", admin, reason)
            if mark is not None:
                mark_id, data = mark
                # the citizen was told it had been merged into another complaint: tell them it is not
                told = bool(citizen.queue_tx(conn, store, settings, now, row, "unmerged",
                                             f"unmerged:{row['id']}:{mark_id}"))
                original = casework.queue_unmerged_note_tx(conn, store, now, row, mark_id, data, admin, triage,
                                                           groups=settings.groups)
    except casework.ActionRefused as exc:
        raise click.ClickException(str(exc)) from exc
    return row, status, told, original


@click.command()
@click.argument("code")
@admin_option
@config_option
def reveal(code: str, admin: str, config_path: str) -> None:
    """Show complaint CODE as sent, with the reporter (the read is recorded with your name)."""
    settings, store = _open(config_path)
    try:
        row = reveal_complaint(store, code, _admin(admin))
    finally:
        store.close()
    from forwarder.sinks.format import format_received
    from forwarder.store import parse_iso

    received = format_received(parse_iso(row["received_at"]), settings.timezone)
    click.echo(f"Pengaduan {row['tracking_code']} ({row['channel']}, diterima {received})")
    click.echo(f"Pelapor: {row['reporter']}")
    click.echo(f"Status: {row['status']}; topik: {row['topic'] or '-'}; kecamatan: {row['kecamatan'] or '-'}")
    click.echo("")
    click.echo(row["text"] or "(kosong)")


@click.command()
@click.argument("code")
@click.option("--confidential", is_flag=True, required=True,
              help="Mark it confidential: only confidential groups (or triage) see it from now on.")
@admin_option
@config_option
def flag(code: str, confidential: bool, admin: str, config_path: str) -> None:
    """Mark complaint CODE confidential and move it to the confidential groups."""
    if not confidential:
        raise click.UsageError("say what to flag: --confidential")
    settings, store = _open(config_path)
    try:
        groups = flag_confidential(store, settings, code, _admin(admin))
    finally:
        store.close()
    if groups:
        triage = {g.name: g for g in settings.groups if g.fallback}
        if not set(groups) <= set(triage):
            where = f"it goes to: {', '.join(groups)}"
        elif all(triage[name].confidential for name in groups):
            where = ("no confidential group takes its topic, so it goes to the confidential triage "
                     f"group: {', '.join(groups)}")
        else:
            where = (f"no confidential group takes its topic, so it goes to triage: {', '.join(groups)} "
                     "(no confidential triage group is configured: the triage officers see it)")
        click.echo(f"{code.upper()} is confidential now; {where}. The running daemon posts it and "
                   "hides the text in the other groups' messages within seconds (or the next `run --once`).")
    else:
        click.echo(f"{code.upper()} was already confidential; nothing changed")


@click.command()
@click.argument("code")
@click.option("--reason", required=True, help="Why (recorded with the complaint's history).")
@admin_option
@config_option
def unmark(code: str, reason: str, admin: str, config_path: str) -> None:
    """Undo an officer's /spam or /duplikat on complaint CODE: it gets back the status it had
    (its buttons return) and response-time reports count it again."""
    settings, store = _open(config_path)
    try:
        row, status, told, original = unmark_complaint(store, settings, code, _admin(admin), reason)
    finally:
        store.close()
    news = "; the citizen is told" if told else ""
    news += f"; the groups of {original} are told" if original else ""
    click.echo(f"{row['tracking_code']} is {status} again{news}; the running daemon updates its group "
               "messages within seconds (or the next `run --once`)")


commands = [reveal, flag, unmark]
