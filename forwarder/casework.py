"""The life of a complaint after it reached the officers: status, events, labels, re-routes.

Statuses (``complaints.status``) and what moves a complaint between them::

    baru ──terima──> diterima ──proses──> diproses ──selesai──> selesai ──"sudah"──> tuntas
      │                 (any open status may go straight to diproses or selesai)   │
      │                                                                 "belum"   v
      └─ alihkan ─> dialihkan (new group sees it as new)          dibuka_kembali (open again)
    bukan kami (every owning group; not triage) -> bukan_kewenangan, and it goes to triage
    /spam (any status) -> spam        /duplikat <kode> (any status) -> duplikat

Open statuses accept every officer action; ``selesai`` accepts the citizen's answer, ``proses``
(the officers reopen it themselves), a re-route and ``bukan kami``; ``tuntas``, ``spam`` and
``duplikat`` are closed (no buttons; :mod:`forwarder.report` leaves spam and duplicates out).

*Reopening.* Two ways take a done complaint back into work: the citizen's "belum" (event
``reopened``, status ``dibuka_kembali``; also on a ``tuntas`` one within the reply window, see
:mod:`forwarder.citizen_inbound`) and an officer's ``proses`` on it (event ``in_progress``
with ``reopened: true``). Either starts a new *round* for the group(s) whose part was done: new
deadlines counted in working days from the reopening, as for a new complaint (reminders, heads'
alerts and the report's ``reopen_*`` figures; :mod:`forwarder.report`), told to the group with
the reopening (:func:`new_round_note`). A re-route of a done complaint gives it to the new group
with its own clock, as any re-route does.

Every change is an event (kinds in :mod:`forwarder.migrations`; this module adds ``relabelled``
{topic, from_topic}, ``status_query`` {inbound}, ``flagged`` {confidential, admin}, ``spam``
{group, name}, ``duplicate`` {of, of_id, group, name}, ``unmarked`` {was, admin, reason, status};
an officer's re-route carries ``topic_by_officer``).

The functions named ``*_tx`` write inside the caller's transaction (``with transaction(store)``)
so an action, its events, labels and queued followups commit together or not at all.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from forwarder import followups
from forwarder.routing import Triage, confidential_triage, sees_confidential
from forwarder.sinks.format import format_received
from forwarder.store import SENT, Delivery, Destination, Store, parse_iso
from forwarder.types import ComplaintView

NEW, ACKED, IN_PROGRESS, DONE = "baru", "diterima", "diproses", "selesai"
REOPENED, SOLVED, REROUTED, NOT_OURS = "dibuka_kembali", "tuntas", "dialihkan", "bukan_kewenangan"
SPAM, DUPLICATE = "spam", "duplikat"
OPEN = frozenset({NEW, ACKED, IN_PROGRESS, REOPENED, REROUTED, NOT_OURS})
CLOSED = frozenset({SOLVED, SPAM, DUPLICATE})

#: officer action -> (event kind, new status, statuses it may start from)
TRANSITIONS: dict[str, tuple[str, str, frozenset[str]]] = {
    "terima": ("acknowledged", ACKED, frozenset({NEW, REROUTED, REOPENED, NOT_OURS})),
    "proses": ("in_progress", IN_PROGRESS, OPEN - {IN_PROGRESS} | {DONE}),
    "selesai": ("done", DONE, OPEN),
}

STATUS_TEXT = {NEW: "baru", ACKED: "diterima", IN_PROGRESS: "diproses", DONE: "selesai",
               REOPENED: "dibuka kembali", SOLVED: "tuntas", REROUTED: "dialihkan",
               NOT_OURS: "bukan kewenangan", SPAM: "spam", DUPLICATE: "duplikat"}
NOTE_LIMIT = 300  # characters of an officer's note shown in the status line


@dataclass(frozen=True)
class GroupView(ComplaintView):
    """A :class:`ComplaintView` for one group, saying whether its action buttons are shown and
    whether the group is triage (the fallback group: no "Bukan kami" there)."""

    actionable: bool = True
    in_fallback: bool = False


class ActionRefused(Exception):
    """The action does not apply (wrong status, unknown topic...); ``str()`` says why, in Indonesian."""


@contextlib.contextmanager
def transaction(store: Store) -> Iterator[sqlite3.Connection]:
    """One SQLite transaction on the store's connection: committed on success, rolled back on error."""
    conn = store.db.conn
    with conn:
        yield conn


def event_tx(conn: sqlite3.Connection, now: str, complaint_id: int, actor: str, kind: str,
             data: dict[str, Any]) -> int:
    """Record one event; returns its id."""
    cur = conn.execute("insert into events(complaint_id, at, actor, kind, data) values (?,?,?,?,?)",
                       (complaint_id, now, actor, kind, json.dumps(data, ensure_ascii=False, default=str)))
    return int(cur.lastrowid or 0)


def no_edit_sinks(settings: Any) -> frozenset[str]:
    """Names of the config's sinks that cannot edit a posted message (``waha``, WhatsApp): news
    an edit would carry to their groups is posted in the complaint's thread instead
    (:func:`queue_back_posts_tx`)."""
    from forwarder import sinks

    return frozenset(name for name, cfg in settings.sinks.items() if not sinks.can_edit(cfg.type))


def queue_back_posts_tx(conn: sqlite3.Connection, store: Store, now: str, complaint_id: int,
                        deliveries: Sequence[Delivery], text: str, dedupe: str,
                        no_edit: Collection[str]) -> int:
    """Post ``text`` as a reply to the complaint's message in each of ``deliveries`` whose sink
    cannot edit (``no_edit``) and whose message is out: on WhatsApp this tells a group what the
    edit of its message would have shown, e.g. that the complaint is back. Once per group
    (``dedupe`` suffixed with the group). Returns how many were queued."""
    queued = 0
    for d in deliveries:
        if d.sink in no_edit and d.state == SENT and d.message_ids:
            queued += followups.enqueue(conn, now, kind="back_note", channel=followups.CHAT, via=d.sink,
                                        target=d.chat_id, group_name=d.group_name, complaint_id=complaint_id,
                                        text=text, dedupe=f"{dedupe}:{d.group_name}") is not None
    return queued


def complaint_meta(row: dict[str, Any]) -> dict[str, Any]:
    try:
        meta = json.loads(row.get("meta") or "{}")
    except ValueError:
        return {}
    return meta if isinstance(meta, dict) else {}


def is_confidential(row: dict[str, Any]) -> bool:
    return bool(complaint_meta(row).get("confidential"))


# -- where a complaint is -----------------------------------------------------------------------

def deliveries_of(store: Store, complaint_id: int) -> list[Delivery]:
    return store.deliveries("complaint_id = ?", [complaint_id])


def events_of(store: Store, complaint_id: int, *kinds: str) -> list[tuple[str, str, str, dict[str, Any]]]:
    """``(at, actor, kind, data)`` of a complaint's events, oldest first, of ``kinds`` if given."""
    sql = "select at, actor, kind, data from events where complaint_id = ?"
    args: list[Any] = [complaint_id]
    if kinds:
        sql += f" and kind in ({','.join('?' * len(kinds))})"
        args += list(kinds)
    rows = store.db.execute(sql + " order by id", args).fetchall()
    return [(r[0], r[1], r[2], json.loads(r[3] or "{}")) for r in rows]


def left_groups(store: Store, complaint_id: int) -> dict[str, str]:
    """Groups that gave a complaint away: group -> ``"not_ours"`` or ``"moved:<groups>"``."""
    out: dict[str, str] = {}
    for _, _, kind, data in events_of(store, complaint_id, "not_ours", "rerouted"):
        if kind == "not_ours" and data.get("group"):
            out[data["group"]] = "not_ours"
        elif kind == "rerouted" and data.get("from_group") and data["from_group"] not in (data.get("to_groups") or []):
            out[data["from_group"]] = "moved:" + ", ".join(data.get("to_groups") or [data.get("to_group", "")])
        if kind == "rerouted" and data.get("to_group"):
            out.pop(data["to_group"], None)  # a group that got it back owns it again
    return out


def owners(store: Store, complaint_id: int) -> list[Delivery]:
    """The deliveries of the groups that hold the complaint now (not given away, not dead)."""
    left = left_groups(store, complaint_id)
    return [d for d in deliveries_of(store, complaint_id) if d.group_name not in left and d.state != "dead"]


def find_by_message(store: Store, sink: str, chat_id: str, message_id: str) -> tuple[int, str, str] | None:
    """The complaint a bot message in a chat belongs to: ``(complaint_id, group_name, what)``,
    ``what`` being ``"delivery"`` or the followup's kind (``done_prompt``, ``citizen_reply``...)."""
    row = store.db.execute(
        "select d.complaint_id, d.group_name from deliveries d, json_each(d.message_ids) j "
        "where d.sink = ? and d.chat_id = ? and j.value = ? limit 1",
        [sink, str(chat_id), str(message_id)]).fetchone()
    if row:
        return int(row[0]), row[1], "delivery"
    row = store.db.execute(
        "select complaint_id, group_name, kind from followups where channel = ? and via = ? and "
        "target = ? and ref = ? and complaint_id is not null limit 1",
        [followups.CHAT, sink, str(chat_id), str(message_id)]).fetchone()
    return (int(row[0]), row[1] or "", row[2]) if row else None


# -- what officers see ----------------------------------------------------------------------------

def _who(data: dict[str, Any]) -> str:
    return str(data.get("name") or "petugas")[:64]


def status_line(store: Store, row: dict[str, Any], group_name: str | None, zone: str) -> tuple[str, bool]:
    """The status a group sees for a complaint, and whether its buttons are shown."""
    cid = row["id"]
    left = left_groups(store, cid).get(group_name or "")
    if left == "not_ours":
        return "bukan kewenangan grup ini", False
    if left and left.startswith("moved:"):
        return f"dialihkan ke {left[6:]}", False
    status = row["status"] or NEW
    last = {kind: (at, data) for at, _, kind, data in events_of(store, cid)}
    text = STATUS_TEXT.get(status, status)
    kind = {ACKED: "acknowledged", IN_PROGRESS: "in_progress", DONE: "done", REOPENED: "reopened",
            SOLVED: "confirmed_solved", REROUTED: "rerouted", NOT_OURS: "not_ours", SPAM: "spam",
            DUPLICATE: "duplicate"}.get(status)
    if kind and kind in last:
        at, data = last[kind]
        when = format_received(parse_iso(at), zone)
        if status in (ACKED, IN_PROGRESS, DONE):
            text += f" oleh {_who(data)}, {when}"
        if status == DONE:
            note = str(data.get("note") or "").strip()
            text += (f": {note[:NOTE_LIMIT]}" + ("…" if len(note) > NOTE_LIMIT else "")) if note else ""
            text += " (menunggu konfirmasi pelapor)"
        elif status == REOPENED:
            text += f" oleh pelapor, {when}"
        elif status == SOLVED:
            text += f": dikonfirmasi pelapor, {when}"
        elif status == REROUTED and group_name in (data.get("to_groups") or [data.get("to_group")]):
            text = f"baru (dialihkan dari {data.get('by_group') or data.get('from_group') or 'admin'})"
        elif status == REROUTED:
            text = f"dialihkan ke {', '.join(data.get('to_groups') or [])} oleh {_who(data)}"
        elif status == NOT_OURS:
            text = f"dikembalikan: bukan kewenangan {data.get('group', 'grup')}"
        elif status == SPAM:
            text = f"ditandai spam oleh {_who(data)}, {when}"
        elif status == DUPLICATE:
            text = f"duplikat dari {data.get('of') or 'pengaduan lain'} (ditandai oleh {_who(data)}, {when})"
    return text, status not in CLOSED


# -- officer actions (inside a transaction) -------------------------------------------------------

def queue_edits_tx(conn: sqlite3.Connection, store: Store, now: str, complaint_id: int) -> None:
    """Queue an edit of every sent forwarded message of the complaint (shows the new status)."""
    for d in deliveries_of(store, complaint_id):
        if d.state == SENT and d.message_ids:
            followups.enqueue(conn, now, kind="status", channel=followups.EDIT, via=d.sink,
                              target=d.chat_id, reply_to=d.message_ids[0], group_name=d.group_name,
                              complaint_id=complaint_id)


def queue_thread_post_tx(conn: sqlite3.Connection, store: Store, now: str, complaint_id: int, text: str,
                         kind: str, dedupe: str, triage: Triage, *, groups: Any = None) -> None:
    """Post ``text`` (already masked) as a reply to the complaint's message in each owning group,
    or in its triage group (:meth:`Triage.for_complaint`) when no group owns it. ``dedupe`` is
    suffixed with the group. ``groups`` (the config's GroupConfig list): for a confidential
    complaint only the owners that may see it (:func:`forwarder.routing.sees_confidential`) get it."""
    targets = owners(store, complaint_id)
    confidential = is_confidential(dict(store.complaint(complaint_id)))
    if groups is not None and confidential:
        may_see = {g.name for g in groups if sees_confidential(g, groups)}
        targets = [d for d in targets if d.group_name in may_see]
    dests = ([Destination(d.group_name, d.sink, d.chat_id) for d in targets]
             or [triage.for_complaint(confidential)])
    for dest in dests:
        followups.enqueue(conn, now, kind=kind, channel=followups.CHAT, via=dest.sink, target=dest.chat_id,
                          group_name=dest.group_name, complaint_id=complaint_id, text=text,
                          dedupe=f"{dedupe}:{dest.group_name}")


def set_status_tx(conn: sqlite3.Connection, complaint_id: int, status: str) -> None:
    conn.execute("update complaints set status = ? where id = ?", (status, complaint_id))


def transition_tx(conn: sqlite3.Connection, store: Store, now: str, row: dict[str, Any], action: str,
                  actor: str, group: str | None, name: str, note: str | None = None) -> str:
    """Apply ``terima``/``proses``/``selesai``; returns the new status. Raises ActionRefused."""
    kind, target, allowed = TRANSITIONS[action]
    status = row["status"] or NEW
    if status == target:
        raise ActionRefused(f"Pengaduan {row['tracking_code']} sudah {STATUS_TEXT[target]}.")
    if status not in allowed:
        raise ActionRefused(f"Pengaduan {row['tracking_code']} berstatus {STATUS_TEXT.get(status, status)}; "
                            f"tidak bisa diubah menjadi {STATUS_TEXT[target]}.")
    data: dict[str, Any] = {"group": group, "name": name}
    if note is not None:
        data["note"] = note
    if status == DONE:  # only ``proses`` leaves ``selesai``: the officers reopen it
        data["reopened"] = True
    event_tx(conn, now, row["id"], actor, kind, data)
    set_status_tx(conn, row["id"], target)
    queue_edits_tx(conn, store, now, row["id"])
    return target


def not_ours_tx(conn: sqlite3.Connection, store: Store, now: str, row: dict[str, Any], actor: str,
                group: str, name: str, triage: Triage, *, no_edit: Collection[str] = ()) -> bool:
    """The group says the complaint is not theirs. When no group holds it any more it goes to
    its triage group (the confidential one for a confidential complaint, when configured; not
    when a triage group itself said so). ``no_edit``: see :func:`add_delivery_tx`. Returns True
    when it was sent to triage."""
    if row["status"] in CLOSED:
        raise ActionRefused(f"Pengaduan {row['tracking_code']} sudah ditutup ({STATUS_TEXT[row['status']]}).")
    if group in left_groups(store, row["id"]):
        raise ActionRefused("Grup ini sudah melepas pengaduan ini.")
    event_tx(conn, now, row["id"], actor, "not_ours", {"group": group, "name": name})
    to_triage = False
    if not owners(store, row["id"]):
        set_status_tx(conn, row["id"], NOT_OURS)
        if group not in triage.names:
            # from_group stays empty: the not_ours event already ended this group's part
            to = triage.for_complaint(is_confidential(row))
            to_triage = add_delivery_tx(conn, store, now, row["id"], to, actor, None,
                                        f"bukan kewenangan {group}", row["topic"], row["kecamatan"], name=name,
                                        no_edit=no_edit)
    queue_edits_tx(conn, store, now, row["id"])
    return to_triage


def add_delivery_tx(conn: sqlite3.Connection, store: Store, now: str, complaint_id: int, dest: Destination,
                    actor: str, from_group: str | None, reason: str, topic: str | None,
                    kecamatan: str | None, to_groups: list[str] | None = None, by_group: str | None = None,
                    topic_by_officer: bool = False, name: str | None = None,
                    no_edit: Collection[str] = ()) -> bool:
    """Give the complaint to ``dest``: a new pending delivery (or, when the group had it before,
    its message is edited to show it is back; on a sink that cannot edit, ``no_edit``, a note
    "Pengaduan KODE kembali ke grup ini: <reason>" is posted in its thread instead, once) and a
    ``rerouted`` event; ``from_group`` (when given) is the group whose part ends here
    (:mod:`forwarder.report` stops its clock). ``topic_by_officer``: ``topic`` was chosen by an
    officer (shown instead of the model's confidence); ``name``: who moved it (shown as
    "dialihkan ke ... oleh <name>"). True when the delivery is new."""
    gone = dest.group_name in left_groups(store, complaint_id)  # it had it and gave it away
    cur = conn.execute(
        "insert into deliveries(complaint_id, group_name, sink, chat_id, state, attempts, next_attempt_at, "
        "parts_sent, message_ids, uncertain, created_at, updated_at) values (?,?,?,?,'pending',0,?,0,'[]',0,?,?) "
        "on conflict(complaint_id, group_name) do nothing",
        (complaint_id, dest.group_name, dest.sink, dest.chat_id, now, now, now))
    data = {"group": dest.group_name, "to_group": dest.group_name, "from_group": from_group,
            "to_groups": to_groups or [dest.group_name], "reason": reason, "topic": topic,
            "kecamatan": kecamatan, "by_group": by_group or from_group}
    if name:
        data["name"] = name
    if topic_by_officer:
        data["topic_by_officer"] = True
    event_id = event_tx(conn, now, complaint_id, actor, "rerouted", data)
    if not cur.rowcount and gone and dest.sink in no_edit:
        code = conn.execute("select tracking_code from complaints where id = ?", [complaint_id]).fetchone()[0]
        came_from = f" (dari grup {by_group or from_group})" if (by_group or from_group) else ""
        text = (f"Pengaduan {code} kembali ke grup ini: {reason}{came_from}. Balas pesan ini dengan "
                "/terima untuk menanggapinya.")
        queue_back_posts_tx(conn, store, now, complaint_id,
                            [d for d in deliveries_of(store, complaint_id) if d.group_name == dest.group_name],
                            text, f"back:{event_id}", no_edit)
    return bool(cur.rowcount)


def reroute_tx(conn: sqlite3.Connection, store: Store, now: str, row: dict[str, Any], actor: str,
               from_group: str | None, name: str, topic: str, kecamatan: str | None,
               dests: list[Destination], *, no_edit: Collection[str] = ()) -> list[str]:
    """Move the complaint to ``dests`` with its corrected topic/kecamatan; records a label for
    retraining. ``no_edit``: see :func:`add_delivery_tx`. Returns the names of the groups it went to."""
    if row["status"] in CLOSED:
        raise ActionRefused(f"Pengaduan {row['tracking_code']} sudah ditutup ({STATUS_TEXT[row['status']]}).")
    names = [d.group_name for d in dests]
    if not dests or names == [from_group]:
        raise ActionRefused("Tidak ada grup lain untuk topik dan kecamatan itu.")
    moved_from = None if from_group in names else from_group  # a group that keeps it did not give it away
    for dest in dests:
        if dest.group_name != from_group:
            add_delivery_tx(conn, store, now, row["id"], dest, actor, moved_from, f"dialihkan oleh {name}",
                            topic, kecamatan, to_groups=names, by_group=from_group, topic_by_officer=True,
                            name=name, no_edit=no_edit)
    conn.execute("update complaints set topic = ?, kecamatan = coalesce(?, kecamatan), status = ? where id = ?",
                 (topic, kecamatan, REROUTED, row["id"]))
    label_tx(conn, now, row, topic, actor)
    queue_edits_tx(conn, store, now, row["id"])
    return names


def label_tx(conn: sqlite3.Connection, now: str, row: dict[str, Any], topic: str, actor: str) -> None:
    """A training example: the complaint's stored text with the topic an officer gave it."""
    conn.execute("insert into labels(complaint_id, text, topic, labelled_by, labelled_at) values (?,?,?,?,?)",
                 (row["id"], row["text"] or "", topic, actor, now))


def relabel_tx(conn: sqlite3.Connection, store: Store, now: str, row: dict[str, Any], topic: str, actor: str,
               name: str) -> None:
    """A topic correction without moving the complaint (``/topik``); its messages show the new topic."""
    event_tx(conn, now, row["id"], actor, "relabelled", {"topic": topic, "from_topic": row["topic"], "name": name})
    conn.execute("update complaints set topic = ? where id = ?", (topic, row["id"]))
    label_tx(conn, now, row, topic, actor)
    queue_edits_tx(conn, store, now, row["id"])


def mark_spam_tx(conn: sqlite3.Connection, store: Store, now: str, row: dict[str, Any], actor: str,
                 group: str | None, name: str) -> None:
    """``/spam``: event ``spam`` {group, name}, status ``spam`` (closed), messages edited."""
    if row["status"] in (SPAM, DUPLICATE):
        raise ActionRefused(f"Pengaduan {row['tracking_code']} sudah ditandai {STATUS_TEXT[row['status']]}.")
    event_tx(conn, now, row["id"], actor, "spam", {"group": group, "name": name,
                                                    "status_before": row["status"] or NEW})
    set_status_tx(conn, row["id"], SPAM)
    queue_edits_tx(conn, store, now, row["id"])


def unmark_tx(conn: sqlite3.Connection, store: Store, now: str, row: dict[str, Any], actor: str,
              admin: str, reason: str) -> str:
    """Undo ``/spam`` or ``/duplikat`` (an officer's mistake): event ``unmarked`` {was, admin,
    reason, status}, the status the complaint had before the mark (recorded with the mark as
    ``status_before``; ``baru`` for marks made before that was recorded), messages edited
    (buttons back unless that status is closed); :mod:`forwarder.report` counts it again.
    Returns the status. Raises ActionRefused when the complaint is not marked spam or duplicate,
    or when its status is no longer the one ``row`` holds (another unmark got there first)."""
    if row["status"] not in (SPAM, DUPLICATE):
        raise ActionRefused(f"Pengaduan {row['tracking_code']} berstatus "
                            f"{STATUS_TEXT.get(row['status'], row['status'])}, tidak ditandai spam atau duplikat.")
    marks = events_of(store, row["id"], "spam", "duplicate")
    status = str(marks[-1][3].get("status_before") or NEW) if marks else NEW
    if status in (SPAM, DUPLICATE):
        status = NEW
    if marks and marks[-1][0] > now:  # another process's clock ran ahead: keep the order
        now = marks[-1][0]
    # only from the status ``row`` was read with: an unmark run twice at once changes it once
    if not conn.execute("update complaints set status = ? where id = ? and status = ?",
                        (status, row["id"], row["status"])).rowcount:
        raise ActionRefused(f"Pengaduan {row['tracking_code']} baru saja diubah; "
                            "periksa statusnya lalu ulangi.")
    event_tx(conn, now, row["id"], actor, "unmarked",
             {"was": row["status"], "admin": admin, "reason": reason, "status": status})
    queue_edits_tx(conn, store, now, row["id"])
    return status


def duplicate_mark(store: Store, complaint_id: int) -> tuple[int, dict[str, Any]] | None:
    """``(event id, data)`` of the complaint's latest ``duplicate`` mark, or None."""
    found = store.db.execute("select id, data from events where complaint_id = ? and kind = 'duplicate' "
                             "order by id desc limit 1", [complaint_id]).fetchone()
    return (int(found[0]), json.loads(found[1] or "{}")) if found else None


def queue_unmerged_note_tx(conn: sqlite3.Connection, store: Store, now: str, row: dict[str, Any],
                           mark_id: int, mark: dict[str, Any], admin: str, triage: Triage, *,
                           groups: Any = None) -> str | None:
    """After ``forwarder unmark`` of duplicate ``row``: tell the groups of the complaint it had
    been merged into (``mark``: the data of its ``duplicate`` event ``mark_id``, which told them
    "... ditandai duplikat dari pengaduan ini") that the link is undone, as a reply to that
    complaint's message, like the duplicate note (:func:`queue_thread_post_tx`; ``groups``: the
    config's, for a confidential original). Only codes and the admin's name: nothing of the
    reporter. Queued once per mark (dedupe ``unmerged_note:<id>:<mark id>``), so a retried or
    concurrent unmark never tells them twice. Returns the original's tracking code, or None
    when it no longer exists."""
    original = store.complaint(int(mark["of_id"])) if mark.get("of_id") else None
    if original is None and mark.get("of"):
        original = store.complaint_by_code(str(mark["of"]))
    if original is None:
        return None
    original = dict(original)
    of, code = original["tracking_code"], row["tracking_code"]
    if is_confidential(row) and not is_confidential(original):  # flagged since: keep its code out
        text = (f"Pengaduan {of}: satu pengaduan yang ditandai duplikat dari pengaduan ini ternyata bukan "
                f"duplikat (dibatalkan oleh admin {admin}); pengaduan itu ditangani tersendiri.")
    else:
        text = (f"Pengaduan {of}: pengaduan {code} ternyata bukan duplikat dari pengaduan ini "
                f"(dibatalkan oleh admin {admin}); pengaduan {code} ditangani tersendiri.")
    queue_thread_post_tx(conn, store, now, original["id"], text, "unmerged_note",
                         f"unmerged_note:{row['id']}:{mark_id}", triage, groups=groups)
    return of


def original_of(store: Store, row: dict[str, Any], code: str) -> dict[str, Any]:
    """The complaint that ``row`` duplicates, named by tracking ``code`` (already normalised);
    a complaint that is itself a duplicate leads to its original. Raises ActionRefused when there
    is none, when it is ``row`` itself, or when it was marked spam."""
    found = store.complaint_by_code(code) if code else None
    if found is None:
        raise ActionRefused(f"Pengaduan dengan kode {code} tidak ditemukan." if code else
                            "Tulis kode pengaduan aslinya: /duplikat <kode>.")
    original = dict(found)
    for _ in range(50):  # a chain of duplicates leads to the first complaint
        if original["status"] != DUPLICATE:
            break
        marks = events_of(store, original["id"], "duplicate")
        nxt = store.complaint(int(marks[-1][3]["of_id"])) if marks and marks[-1][3].get("of_id") else None
        if nxt is None:
            break
        original = dict(nxt)
    if original["id"] == row["id"]:
        raise ActionRefused(f"Pengaduan {row['tracking_code']} tidak bisa menjadi duplikat dirinya sendiri.")
    if original["status"] == SPAM:
        raise ActionRefused(f"Pengaduan {original['tracking_code']} ditandai spam; tidak bisa menjadi aslinya.")
    return original


def mark_duplicate_tx(conn: sqlite3.Connection, store: Store, now: str, row: dict[str, Any],
                      original: dict[str, Any], actor: str, group: str | None, name: str) -> None:
    """``/duplikat <kode>``: event ``duplicate`` {of, of_id, group, name}, status ``duplikat``
    (closed), messages edited to name the original (from :func:`original_of`). A confidential
    complaint and an ordinary one are never merged (the merge notes and the citizen's message
    name the other's code and would cross the confidential boundary)."""
    if row["status"] in (SPAM, DUPLICATE):
        raise ActionRefused(f"Pengaduan {row['tracking_code']} sudah ditandai {STATUS_TEXT[row['status']]}.")
    if is_confidential(row) != is_confidential(original):
        why = ": pengaduan rahasia hanya digabung dengan pengaduan rahasia" if is_confidential(row) else ""
        raise ActionRefused(f"Pengaduan {row['tracking_code']} tidak bisa digabung dengan "
                            f"{original['tracking_code']}{why}.")  # an ordinary group learns nothing more
    event_tx(conn, now, row["id"], actor, "duplicate",
             {"of": original["tracking_code"], "of_id": original["id"], "group": group, "name": name,
              "status_before": row["status"] or NEW})
    set_status_tx(conn, row["id"], DUPLICATE)
    queue_edits_tx(conn, store, now, row["id"])


def officer_topic_note(store: Store, complaint_id: int) -> str | None:
    """How an officer set the complaint's topic, for the group message ("dialihkan oleh petugas",
    "dikoreksi oleh petugas"), or None when the topic is still the model's."""
    note = None
    for _, _, kind, data in events_of(store, complaint_id, "relabelled", "rerouted"):
        if kind == "relabelled":
            note = "dikoreksi oleh petugas"
        elif data.get("topic_by_officer"):
            note = "dialihkan oleh petugas"
    return note


def new_round_note(settings: Any, now: str, *, acknowledged: bool) -> str:
    """The deadlines of a round that starts at ``now`` (ISO UTC), as told to the group when a
    complaint is reopened: ``Batas baru (hari kerja sejak dibuka kembali): ditanggapi paling
    lambat <waktu>, selesai paling lambat <waktu>.`` (only the done deadline when the reopening
    was itself an officer's action). ``settings``: a checked config (its deadlines, calendar and
    time zone)."""
    from forwarder.report import deadlines_of, round_deadlines
    from forwarder.workdays import WorkCalendar

    ack_by, done_by = round_deadlines(WorkCalendar.from_settings(settings), deadlines_of(settings),
                                      parse_iso(now))
    zone = settings.timezone
    done = f"selesai paling lambat {format_received(done_by, zone)}"
    if acknowledged:
        return f"Batas selesai baru (hari kerja sejak dibuka kembali): {done}."
    return (f"Batas baru (hari kerja sejak dibuka kembali): ditanggapi paling lambat "
            f"{format_received(ack_by, zone)}, {done}.")


# -- the citizen's answers (inside a transaction) -----------------------------------------------

def reopen_tx(conn: sqlite3.Connection, store: Store, now: str, row: dict[str, Any], reason: str) -> None:
    event_tx(conn, now, row["id"], "citizen", "reopened", {"reason": reason})
    set_status_tx(conn, row["id"], REOPENED)
    queue_edits_tx(conn, store, now, row["id"])


def confirm_tx(conn: sqlite3.Connection, store: Store, now: str, row: dict[str, Any]) -> None:
    event_tx(conn, now, row["id"], "citizen", "confirmed_solved", {})
    set_status_tx(conn, row["id"], SOLVED)
    queue_edits_tx(conn, store, now, row["id"])


def view_for_group(base: ComplaintView, store: Store, group: Any | None, zone: str, *,
                   groups: Sequence[Any]) -> GroupView:
    """``base`` as ``group`` (a GroupConfig or None) sees it: its status line, and the text held
    back when the complaint is confidential and the group may not see it
    (:func:`forwarder.routing.sees_confidential` among the config's ``groups``: the ordinary
    triage group does not when there is a confidential triage group)."""
    row = store.complaint(base.complaint_id)
    status, actionable = status_line(store, row, getattr(group, "name", None), zone)
    fields = {f: getattr(base, f) for f in base.__dataclass_fields__}
    fields.update(status=status, actionable=actionable, in_fallback=bool(getattr(group, "fallback", False)),
                  topic_note=base.topic_note or officer_topic_note(store, base.complaint_id))
    if is_confidential(row) and group is not None and not sees_confidential(group, groups):
        who = "grup rahasia" if confidential_triage(groups) is not None else "grup rahasia atau triase"
        fields.update(text=f"(isi pengaduan ini dirahasiakan: hanya {who} yang melihatnya)",
                      keywords=(), status="dipindahkan: rahasia", actionable=False)
    return GroupView(**fields)
