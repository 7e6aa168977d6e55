"""Schema of the forwarder database, as ``sqlite_utils.Migrations``.

Never edit an applied migration: add a new one. Times are ISO 8601 text in UTC with an offset
(``2026-11-29T14:17:13.000000+00:00``), so they sort as text.

Tables:

``complaints``
    one row per complaint: ``source`` (config name) and ``external_id`` (unique per source),
    ``channel`` (sms, x), ``received_at`` and ``stored_at`` (UTC), ``reporter`` (E.164 or
    ``x:<user id>``; never posted to a group), ``text`` (as received, unmasked), ``meta`` (JSON),
    ``topic``, ``confidence``, ``model_version``, ``keywords`` (JSON list), ``kecamatan``, ``desa``,
    ``tracking_code`` (unique, what citizens and officers quote), ``status``, ``triage_reason``.
``deliveries``
    the outbox: one row per (complaint, officer group): ``state`` (pending, sending, sent, failed,
    dead), ``attempts``, ``next_attempt_at``, ``parts_total``/``parts_sent``, ``message_ids``
    (JSON list of the platform's ids, one per part), ``last_error``, ``uncertain`` (1 when a send
    may have reached the chat without us knowing, e.g. a crash or read timeout mid-send).
``source_state``
    per source: ``cursor`` (X since_id), last poll time, last error.
``events``
    what happened to a complaint: ``at`` (UTC), ``actor`` (``system``, ``tg:<user id>``,
    ``citizen``, ``admin:<name>``), ``kind`` and ``data`` (JSON). Kinds: ``received``, ``routed``
    {groups, topic, confidence, triage_reason}, ``delivered`` {group, message_ids},
    ``delivery_dead`` {group, error}, ``rerouted`` {group, reason} (officer re-routes also carry
    {from_group, to_group, topic, kecamatan}), ``acknowledged`` {group}, ``in_progress`` {group}
    (``reopened: true`` when it took a done complaint back up),
    ``done`` {group, note}, ``not_ours`` {group}, ``question`` {group, text},
    ``answer`` {group, text}, ``citizen_reply`` {text}, ``reopened`` {reason},
    ``confirmed_solved``, ``spam`` {group, name}, ``duplicate`` {of, of_id, group, name}, ``revealed`` {admin} (unmasked read),
    ``relabelled`` {topic, from_topic, name}, ``status_query`` {inbound} (a citizen's CEK),
    ``flagged`` {confidential, admin, dropped_posts}. Officer re-routes also carry {to_groups, by_group,
    topic_by_officer, name, from_group};
    action events carry the officer's display ``name``; ``citizen_reply`` carries {inbound}.
``labels``
    topic corrections by officers, used as training examples (``forwarder model train``).
``chat_overrides``
    chat ids learnt at run time (a Telegram group migrated to a supergroup).
``notices``
    reminders, digests and summaries sent (one row per kind, subject and chat; m002).
"""

from __future__ import annotations

from sqlite_utils import Database, Migrations

migrations = Migrations("forwarder")


@migrations()
def m001_initial(db: Database) -> None:
    db["complaints"].create(
        {
            "id": int,
            "source": str,
            "external_id": str,
            "channel": str,
            "received_at": str,
            "stored_at": str,
            "reporter": str,
            "text": str,
            "meta": str,
            "topic": str,
            "confidence": float,
            "model_version": str,
            "keywords": str,
            "kecamatan": str,
            "desa": str,
            "tracking_code": str,
            "status": str,
            "triage_reason": str,
        },
        pk="id",
        not_null={"source", "external_id", "received_at", "stored_at", "text", "tracking_code", "status"},
    )
    db["complaints"].create_index(["source", "external_id"], unique=True)
    db["complaints"].create_index(["tracking_code"], unique=True)
    db["complaints"].create_index(["received_at"])

    db["deliveries"].create(
        {
            "id": int,
            "complaint_id": int,
            "group_name": str,
            "sink": str,
            "chat_id": str,
            "state": str,
            "attempts": int,
            "next_attempt_at": str,
            "parts_total": int,
            "parts_sent": int,
            "message_ids": str,
            "last_error": str,
            "uncertain": int,
            "created_at": str,
            "updated_at": str,
            "sent_at": str,
        },
        pk="id",
        not_null={"complaint_id", "group_name", "sink", "chat_id", "state", "created_at"},
        defaults={"attempts": 0, "parts_sent": 0, "uncertain": 0, "message_ids": "[]"},
        foreign_keys=[("complaint_id", "complaints", "id")],
    )
    db["deliveries"].create_index(["complaint_id", "group_name"], unique=True)
    db["deliveries"].create_index(["state", "next_attempt_at"])

    db["source_state"].create(
        {
            "source": str,
            "cursor": str,
            "last_poll_at": str,
            "last_ok_at": str,
            "last_error": str,
            "last_error_at": str,
            "updated_at": str,
        },
        pk="source",
    )

    db["events"].create(
        {"id": int, "complaint_id": int, "at": str, "actor": str, "kind": str, "data": str},
        pk="id",
        not_null={"complaint_id", "at", "kind"},
        foreign_keys=[("complaint_id", "complaints", "id")],
    )
    db["events"].create_index(["complaint_id", "at"])

    db["labels"].create(
        {
            "id": int,
            "complaint_id": int,
            "text": str,
            "topic": str,
            "labelled_by": str,
            "labelled_at": str,
        },
        pk="id",
        not_null={"text", "topic", "labelled_at"},
    )

    db["chat_overrides"].create(
        {"sink": str, "chat_id": str, "new_chat_id": str, "reason": str, "at": str},
        pk=("sink", "chat_id"),
    )


@migrations()
def m002_notices(db: Database) -> None:
    """``notices``: reminders, digests and summaries already sent, so each goes out once.

    One row per (``kind``, ``subject``, ``sink``, ``chat_id``): kind is ``remind_ack``,
    ``remind_done``, ``overdue_ack``, ``overdue_done`` (subject: the complaint id), ``digest``
    (subject: the local date, ``2026-11-30``) or ``weekly`` (subject: the ISO week, ``2026-W49``);
    ``state`` is ``sent`` or ``failed`` (a permanent refusal, with ``error``); ``at`` in UTC.
    See :mod:`forwarder.reminders`.
    """
    db["notices"].create(
        {"id": int, "kind": str, "subject": str, "sink": str, "chat_id": str, "state": str,
         "at": str, "error": str},
        pk="id",
        not_null={"kind", "subject", "sink", "chat_id", "state", "at"},
    )
    db["notices"].create_index(["kind", "subject", "sink", "chat_id"], unique=True)


@migrations()
def m003_officer_loop(db: Database) -> None:
    """Tables of the officer/citizen loop (issue 5), owned by :mod:`forwarder.casework`.

    ``citizen_inbound``
        messages from citizens that are not new complaints (``CEK <code>``, an answer to an
        officer's question, ``belum``/``sudah`` after a done): ``source`` + ``external_id``
        (unique, as for complaints: a source handing one over twice stores it once),
        ``reporter``, ``text`` (unmasked), ``kind`` (status_query, reply, reopen, confirm,
        unknown_code, closed: a message about a complaint closed as spam/duplicate or finished
        past the reply window, kept but not posted), ``complaint_id`` (null when no complaint
        matched).
    ``followups``
        the durable queue of loop messages: to citizens (``channel`` sms or x) and into officer
        groups (``chat`` posts in a complaint's thread, ``edit`` of a forwarded message to show
        its status). ``state`` pending/sending/sent/dead, ``ref`` the platform's id once sent
        (Gammu outbox ID, tweet id, Telegram message id), ``dedupe`` a unique key so that the same
        message is never queued twice.
    ``telegram_updates``
        Bot API updates already handled, per sink (``update_id``), so a redelivered update (a
        crash before the next getUpdates confirmed it) changes nothing twice.
    """
    db["citizen_inbound"].create(
        {
            "id": int,
            "source": str,
            "external_id": str,
            "channel": str,
            "reporter": str,
            "received_at": str,
            "stored_at": str,
            "text": str,
            "meta": str,
            "kind": str,
            "complaint_id": int,
        },
        pk="id",
        not_null={"source", "external_id", "received_at", "stored_at", "text", "kind"},
    )
    db["citizen_inbound"].create_index(["source", "external_id"], unique=True)
    db["citizen_inbound"].create_index(["reporter", "received_at"])

    db["followups"].create(
        {
            "id": int,
            "complaint_id": int,
            "kind": str,
            "channel": str,
            "via": str,
            "target": str,
            "reply_to": str,
            "group_name": str,
            "text": str,
            "buttons": int,
            "state": str,
            "attempts": int,
            "next_attempt_at": str,
            "uncertain": int,
            "ref": str,
            "dedupe": str,
            "last_error": str,
            "created_at": str,
            "updated_at": str,
            "sent_at": str,
        },
        pk="id",
        not_null={"kind", "channel", "via", "target", "state", "created_at"},
        defaults={"attempts": 0, "uncertain": 0, "buttons": 0},
    )
    db["followups"].create_index(["dedupe"], unique=True)
    db["followups"].create_index(["state", "next_attempt_at"])
    db["followups"].create_index(["channel", "target", "ref"])
    db["followups"].create_index(["complaint_id"])

    db["telegram_updates"].create(
        {"sink": str, "update_id": int, "kind": str, "at": str, "result": str},
        pk=("sink", "update_id"),
    )
    db["labels"].create_index(["complaint_id"])


@migrations()
def m004_channel_state(db: Database) -> None:
    """Health of each channel (``source:sms``, ``sink:tg``, ``chat:tg:-100…``) as the daemon last
    saw it, so that ``forwarder status`` (another process) can show it."""
    db["channel_state"].create(
        {"channel": str, "state": str, "reason": str, "since": str, "failures": int, "updated_at": str},
        pk="channel",
    )
