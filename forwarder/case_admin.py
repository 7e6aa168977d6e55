"""Admin commands on one complaint: ``forwarder reveal``, ``forwarder flag`` and ``forwarder unmark``.

``forwarder reveal CODE --admin NAME`` prints the complaint as the citizen sent it (unmasked text,
reporter, channel). The read is recorded first (event ``revealed`` {admin}), so there is no read
without a record. ``forwarder flag CODE --confidential --admin NAME`` marks a complaint
confidential after the fact (as the word RAHASIA does on intake): deliveries not yet sent to
groups that may not see it are dropped, its forwarded messages there are edited to hold the text
back (on a sink that cannot edit, WhatsApp, they are deleted for everyone instead: ``delete``
followups; when the platform refuses, the text stays there and ``flag`` and the daemon's log,
``event=text_not_removed``, say it must be deleted by hand in that group: :func:`hiding`), and it
is delivered to the groups configured for confidential cases (``confidential: true``;
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
import sys
import time
from dataclasses import dataclass
from typing import Any

import click

from forwarder import casework, citizen, followups, sinks
from forwarder.config import Settings
from forwarder.routing import Triage, route, sees_confidential
from forwarder.runlock import daemon_running
from forwarder.store import DEAD, OPEN_STATES, SENT, Destination, Store

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
                                     "ditandai rahasia", row["topic"], row["kecamatan"], to_groups=names, name=admin,
                                     no_edit=casework.no_edit_sinks(settings))
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
        _queue_deletions_tx(conn, store, settings, now, row["id"], allowed)
    return [d.group_name for d in dests]


def _queue_deletions_tx(conn: Any, store: Store, settings: Settings, now: str, complaint_id: int,
                        allowed: set[str]) -> None:
    """On sinks that cannot edit but can delete (WhatsApp): one ``delete`` followup per part of
    the complaint's message in each group that may not see it (once per part: dedupe)."""
    types = {name: cfg.type for name, cfg in settings.sinks.items()}
    for d in casework.deliveries_of(store, complaint_id):
        kind = types.get(d.sink, "")
        if d.group_name in allowed or d.state != SENT or not d.message_ids or sinks.can_edit(kind) \
                or not sinks.can_delete(kind):
            continue
        for i, message_id in enumerate(d.message_ids):
            followups.enqueue(conn, now, kind=followups.CONFIDENTIAL_DELETE, channel=followups.DELETE,
                              via=d.sink, target=d.chat_id, reply_to=str(message_id), group_name=d.group_name,
                              complaint_id=complaint_id, dedupe=f"confidential_delete:{d.id}:{i}")


@dataclass(frozen=True)
class Hiding:
    """How a confidential complaint's text is held back in one group that may not see it but
    received it: ``how`` is ``edit`` (Telegram: its message is edited by the daemon),
    ``deleted`` (WhatsApp: deleted for everyone), ``pending`` (not deleted yet; ``detail``: the
    last error, if any), ``refused`` (the platform did not delete it; ``detail``: why: the text
    stays readable and must be deleted by hand) or ``by_hand`` (the sink can neither edit nor
    delete). ``platform``: the sink's type."""

    group: str
    platform: str
    how: str
    detail: str = ""


def hiding(store: Store, settings: Settings, complaint_id: int) -> list[Hiding]:
    """Per group that received complaint ``complaint_id`` (a message was posted) and may not see
    it now: how its text is held back there (:class:`Hiding`), in delivery order."""
    allowed = {g.name for g in settings.groups if sees_confidential(g, settings.groups)}
    types = {name: cfg.type for name, cfg in settings.sinks.items()}
    out = []
    for d in casework.deliveries_of(store, complaint_id):
        if d.group_name in allowed or d.state != SENT or not d.message_ids:
            continue
        kind = types.get(d.sink, "")
        if sinks.can_edit(kind):
            out.append(Hiding(d.group_name, kind, "edit"))
            continue
        rows = store.db.execute(
            "select state, last_error from followups where complaint_id = ? and channel = ? and group_name = ? "
            "and kind = ? order by id", [complaint_id, followups.DELETE, d.group_name,
                                         followups.CONFIDENTIAL_DELETE]).fetchall()
        if not rows:
            out.append(Hiding(d.group_name, kind, "by_hand", "the sink can neither edit nor delete messages"))
        elif any(r[0] == DEAD for r in rows):
            out.append(Hiding(d.group_name, kind, "refused",
                              next(str(r[1] or "") for r in rows if r[0] == DEAD)))
        elif all(r[0] == SENT for r in rows):
            out.append(Hiding(d.group_name, kind, "deleted"))
        else:
            out.append(Hiding(d.group_name, kind, "pending", next((str(r[1]) for r in rows if r[1]), "")))
    return out


def wait_for_deletions(store: Store, complaint_id: int, wait_secs: float, *,
                       sleep: Any = time.sleep, monotonic: Any = time.monotonic) -> None:
    """Wait up to ``wait_secs`` seconds until no ``delete`` followup of the complaint is open
    (the running daemon sends them)."""
    deadline = monotonic() + wait_secs
    while monotonic() < deadline:
        open_rows = store.db.execute(
            "select count(*) from followups where complaint_id = ? and channel = ? and state in (?, ?)",
            [complaint_id, followups.DELETE, followups.PENDING, followups.SENDING]).fetchone()[0]
        if not open_rows:
            return
        sleep(0.5)


PLATFORM = {"telegram": "Telegram", "waha": "WhatsApp", "console": "console"}


def hiding_lines(code: str, found: list[Hiding], *, daemon: bool) -> list[str]:
    """What ``forwarder flag`` says per group about the text there (see :class:`Hiding`): only
    what happened or will happen, never a hide that did not."""
    later = "the running daemon does it within seconds" if daemon else "the next `forwarder run` does it"
    lines = []
    for h in found:
        where = f"  {h.group} ({PLATFORM.get(h.platform, h.platform)}): "
        if h.how == "edit":
            lines.append(where + f"the text is hidden by editing its message ({later})")
        elif h.how == "deleted":
            lines.append(where + "the message was deleted for everyone")
        elif h.how == "pending":
            why = f" (last try: {h.detail})" if h.detail else ""
            lines.append(where + f"NOT removed yet{why}: the message is to be deleted for everyone ({later}); "
                         "if WhatsApp refuses, the daemon logs event=text_not_removed and it must be deleted "
                         f"by hand. Run `forwarder flag {code} --confidential` again to see")
        else:
            why = f" ({h.detail})" if h.detail else ""
            lines.append(where + f"could NOT be removed{why}: the text stays readable there; delete the "
                         f"message of pengaduan {code} by hand in that group (\"Hapus untuk semua orang\")")
    return lines


def unmark_complaint(store: Store, settings: Settings, code: str, admin: str,
                     reason: str) -> tuple[dict[str, Any], str, bool, str | None]:
    """Undo ``/spam`` or ``/duplikat`` on complaint ``code`` (see the module docstring): returns
    ``(row as it was, status now, citizen told, code of the original whose groups are told or
    None)``. Raises ClickException for an unknown code or a complaint not marked."""
    row = _complaint(store, code)
    was = row["status"]
    mark = casework.duplicate_mark(store, row["id"]) if was == casework.DUPLICATE else None
    # the original's note goes to its triage group when no group holds it (the confidential one
    # for a confidential original, when configured)
    triage = Triage.of(settings.groups, lambda sink, chat: store.chat_override(sink, chat) or chat)
    told, original = False, None
    try:
        with casework.transaction(store) as conn:
            now = store.now()
            status = casework.unmark_tx(conn, store, now, row, f"admin:{admin}", admin, reason)
            # WhatsApp's messages cannot be edited to show it open again: say so in their threads
            (event_id,) = conn.execute("select max(id) from events where complaint_id = ? and kind = 'unmarked'",
                                       [row["id"]]).fetchone()
            allowed = {g.name for g in settings.groups
                       if not casework.is_confidential(row) or sees_confidential(g, settings.groups)}
            casework.queue_back_posts_tx(
                conn, store, now, row["id"],
                [d for d in casework.owners(store, row["id"]) if d.group_name in allowed],
                f"Pengaduan {row['tracking_code']} dibuka kembali di grup ini: tanda "
                f"{casework.STATUS_TEXT.get(was, was)} dibatalkan oleh admin {admin} (alasan: {reason}); "
                f"status: {casework.STATUS_TEXT.get(status, status)}.",
                f"back:{event_id}", casework.no_edit_sinks(settings))
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
@click.option("--wait", default=30.0, show_default=True, type=click.FloatRange(min=0),
              help="Seconds to wait for the running daemon to delete the WhatsApp messages (0: do not wait).")
def flag(code: str, confidential: bool, admin: str, config_path: str, wait: float) -> None:
    """Mark complaint CODE confidential and move it to the confidential groups.

    In the groups that had it and may not see it, the text is hidden: on Telegram by editing
    the message, on WhatsApp (which cannot edit) by deleting it for everyone. The command waits
    up to --wait seconds for a running daemon to delete the WhatsApp messages and says, per
    group, what happened; exit code 1 when a text could not be removed there (delete it by hand).
    Run it again on a confidential complaint to see the state of those messages."""
    if not confidential:
        raise click.UsageError("say what to flag: --confidential")
    settings, store = _open(config_path)
    try:
        groups = flag_confidential(store, settings, code, _admin(admin))
        row = _complaint(store, code)
        daemon = daemon_running(settings.database)
        if daemon and wait > 0:
            wait_for_deletions(store, row["id"], wait)
        found = hiding(store, settings, row["id"])
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
        later = "The running daemon posts it within seconds" if daemon else "The next `forwarder run` posts it"
        click.echo(f"{row['tracking_code']} is confidential now; {where}. {later}.")
    else:
        click.echo(f"{row['tracking_code']} was already confidential; nothing changed")
    if found:
        click.echo("In the groups that received it and may not see it now:")
        for line in hiding_lines(row["tracking_code"], found, daemon=daemon):
            click.echo(line)
    if any(h.how in ("refused", "by_hand") for h in found):
        sys.exit(1)


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
