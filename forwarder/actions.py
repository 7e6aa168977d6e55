"""Officer actions from the group chats: buttons under a forwarded complaint, and commands.

Buttons (callback data ``a:<verb>:<complaint id>``, under the first part of each forwarded
message): **Terima** (acknowledge), **Proses** (in progress), **Selesai** (done: the bot asks for
the note with a selective ForceReply, so that the officer who pressed it gets the reply field
open), **Bukan kami** (not ours; not in triage, which re-routes with ``/alihkan`` instead and is
told so when it sends ``/bukan``). The same as commands, sent as a reply to the forwarded message
(or to any bot message in its thread)::

    /terima                 /proses                 /selesai <catatan>
    /bukan                  /alihkan <topik> [kecamatan]
    /tanya <pertanyaan>     /jawab <jawaban>         /topik <topik>   (correct the topic only)
    /spam                   /duplikat <kode pengaduan asli>

``/spam`` and ``/duplikat`` close the complaint (no buttons any more) and leave it out of the
response-time report; for a duplicate the citizen is told the code it was merged into (template
``merged``) and the original's groups hear of it in the original's thread. They are commands
only, no buttons: a tap by mistake under every complaint would cost more than typing. A
confidential complaint and an ordinary one are never merged. ``/tanya`` and ``/jawab`` are
refused on a complaint closed as spam or duplicate (its citizen's replies reach no group). A
mistaken mark is undone by an admin: ``forwarder unmark KODE --reason ... --admin ...``.

A command that is not a reply may name the tracking code first (``/terima 7K3Q9M``); that
form is for the user ids listed under ``officers:``/``admins:``. A plain reply to the bot's
note request is the done note; other plain replies are the officers' own talk and go nowhere.

Who may act (:meth:`Actions.permitted`): a human user (not a bot) in a chat that received the
complaint (one of its deliveries; for a confidential complaint only a group that may see it,
:func:`forwarder.routing.sees_confidential`: a confidential group, or triage when there is no
confidential triage group), or a user id under ``officers:``/``admins:``. A group that gave the
complaint away (``/bukan``, ``/alihkan``) can do nothing more with it; of those, only triage and
the listed officers/admins may still ``/alihkan`` it. "Bukan kami" sends a complaint no group
holds any more to its triage group, and ``/alihkan`` routes by the daemon's rules: a
confidential complaint only ever reaches confidential groups or its triage group (the
confidential triage group when configured). Anything else gets a polite refusal and changes
nothing; an officer's text repeated in a refusal is cut to :data:`ECHO_LIMIT` characters, and
callback data that is not ours (longer than Telegram's 64 bytes, not ``a:<verb>:<digits>``) is
answered "Tombol tidak dikenal.". Every applied action is an event (actor ``tg:<user id>``, or
``wa:<number>`` from WhatsApp, the group, the officer's first name); its effects and the handled
update id commit in one transaction.

WhatsApp groups (:mod:`forwarder.sinks.waha_webhooks`) use the same commands as replies (no
buttons, no ForceReply: ``/selesai`` needs its note, ``/selesai <catatan>``); the ``officers:``/
``admins:`` lists hold Telegram user ids and grant nothing to a WhatsApp sender.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from forwarder import casework, citizen, followups
from forwarder.casework import ActionRefused
from forwarder.config import Settings
from forwarder.routing import Triage, route, sees_confidential
from forwarder.store import Destination, Store

ALIASES = {"terima": "terima", "ack": "terima", "proses": "proses", "selesai": "selesai", "done": "selesai",
           "bukan": "bukan", "bukankami": "bukan", "bukan_kami": "bukan", "tolak": "bukan",
           "alihkan": "alihkan", "tanya": "tanya", "jawab": "jawab", "topik": "topik",
           "spam": "spam", "duplikat": "duplikat", "duplicate": "duplikat", "dobel": "duplikat",
           "bantuan": "bantuan", "help": "bantuan"}
BUTTON_VERBS = ("terima", "proses", "selesai", "bukan")
HELP = ("Balas pesan pengaduan dengan: /terima, /proses, /selesai <catatan>, /bukan, "
        "/alihkan <topik> [kecamatan], /tanya <pertanyaan>, /jawab <jawaban>, /topik <topik>, "
        "/spam, /duplikat <kode pengaduan asli>.")
PROMPT_PLACEHOLDER = "Catatan penyelesaian"  # ForceReply input_field_placeholder: 1-64 characters
REFUSED = "Maaf, Anda tidak dapat menindaklanjuti pengaduan ini dari sini."
_COMMAND = re.compile(r"^/([A-Za-z_]+)(?:@([A-Za-z0-9_]+))?(?:\s+(.*))?$", re.DOTALL)
_CALLBACK = re.compile(r"a:([a-z]{1,16}):([0-9]{1,18})")  # fullmatch: no trailing newline
CALLBACK_DATA_LIMIT = 64  # bytes of callback_data (Bot API InlineKeyboardButton); longer is not ours
ECHO_LIMIT = 40  # characters of an officer's text repeated in a refusal (one reply holds 4096)
TRIAGE_NOT_OURS = ("Pengaduan {code} ada di triase: gunakan /alihkan <topik> [kecamatan] untuk "
                   "meneruskannya ke grup yang berwenang, atau /spam.")


@dataclass(frozen=True)
class Incoming:
    """One officer input, platform-neutral: a pressed button (``callback_id``, ``data``) or a
    message (``text``, ``message_id``, ``reply_to`` = id of the message it answers).
    ``user_handle``: the officer's @username without the @, when they have one. ``platform``:
    ``"tg"`` (Telegram: ``user_id`` is a Telegram user id, the one ``officers:``/``admins:``
    list) or ``"wa"`` (WhatsApp through WAHA: ``user_id`` is the digits of the sender's JID,
    never matched against those lists; the event's actor is ``<platform>:<user_id>``)."""

    sink: str
    update_id: int
    chat_id: str
    user_id: int | None
    user_name: str
    is_bot: bool
    text: str = ""
    message_id: str | None = None
    reply_to: str | None = None
    callback_id: str | None = None
    data: str | None = None
    user_handle: str = ""
    platform: str = "tg"


@dataclass(frozen=True)
class Outcome:
    """What to tell the officer: the callback answer or the reply text; ``alert`` for refusals."""

    text: str
    applied: bool = False
    alert: bool = False


def buttons_for(view: Any) -> list[list[tuple[str, str]]] | None:
    """Inline keyboard rows ``[(label, callback data)]`` for a group's view, None when closed.
    Triage (``view.in_fallback``) gets no "Bukan kami": it re-routes with ``/alihkan``."""
    if not getattr(view, "actionable", False):
        return None
    cid = view.complaint_id
    last = [("Selesai", f"a:selesai:{cid}")]
    if not getattr(view, "in_fallback", False):
        last.append(("Bukan kami", f"a:bukan:{cid}"))
    return [[("Terima", f"a:terima:{cid}"), ("Proses", f"a:proses:{cid}")], last]


def echo(text: str, limit: int = ECHO_LIMIT) -> str:
    """``text`` cut to ``limit`` characters (ending in "…"), to repeat it in a reply."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"


def parse_command(text: str, bot_username: str | None = None) -> tuple[str, str] | None:
    """``("selesai", "jalan sudah ditambal")`` for ``/selesai@bot jalan sudah ditambal``; None for
    text that is no command or a command to another bot; ``("?", name)`` for an unknown one."""
    m = _COMMAND.match((text or "").strip())
    if not m:
        return None
    if m.group(2) and bot_username and m.group(2).lower() != bot_username.lower():
        return None
    verb = ALIASES.get(m.group(1).lower())
    return (verb, (m.group(3) or "").strip()) if verb else ("?", m.group(1))


class Actions:
    """Applies officer inputs. ``triage``: the triage groups' destinations; ``topics``: topics an
    officer may name (the groups' and the model's); ``gazetteer``: for kecamatan names;
    ``wake()``: new deliveries/followups queued."""

    def __init__(self, store: Store, settings: Settings, *, triage: Triage, topics: set[str],
                 gazetteer: Any, wake: Callable[[], None] = lambda: None,
                 bot_usernames: dict[str, str] | None = None) -> None:
        self.store = store
        self.settings = settings
        self.triage = triage
        self.topics = topics
        self.gazetteer = gazetteer
        self.wake = wake
        self.bot_usernames = bot_usernames if bot_usernames is not None else {}

    # -- who and what -------------------------------------------------------------------------
    def permitted(self, inc: Incoming, row: dict[str, Any], group: str | None) -> bool:
        if inc.is_bot or inc.user_id is None:
            return False
        if self._listed(inc):
            return True
        if not group:
            return False
        cfg = next((g for g in self.settings.groups if g.name == group), None)
        if cfg is None:
            return group == self.triage.for_complaint(casework.is_confidential(row)).group_name
        return not casework.is_confidential(row) or sees_confidential(cfg, self.settings.groups)

    def _may_reroute(self, inc: Incoming, row: dict[str, Any], group: str) -> bool:
        """``/alihkan`` from a group that gave the complaint away: only triage, or a listed
        officer/admin (the groups that hold it now pass the left-group check anyway)."""
        if self._listed(inc):
            return True
        return group in self.triage.names

    def _listed(self, inc: Incoming) -> bool:
        """A Telegram user id under ``officers:``/``admins:`` (those lists hold Telegram ids only)."""
        return inc.platform == "tg" and (inc.user_id in self.settings.officers or inc.user_id in self.settings.admins)

    def _group_in_chat(self, inc: Incoming, complaint_id: int) -> str | None:
        return next((d.group_name for d in casework.deliveries_of(self.store, complaint_id)
                     if d.sink == inc.sink and d.chat_id == inc.chat_id), None)

    def resolve(self, inc: Incoming) -> tuple[str, str, int | None, str | None, str] | None:
        """``(verb, args, complaint id, group, what)`` of an input, or None when it is not for us."""
        if inc.callback_id is not None:
            data = inc.data or ""
            m = _CALLBACK.fullmatch(data) if len(data.encode("utf-8", "replace")) <= CALLBACK_DATA_LIMIT else None
            found = casework.find_by_message(self.store, inc.sink, inc.chat_id, inc.message_id or "")
            if not m or m.group(1) not in BUTTON_VERBS or not found or found[0] != int(m.group(2)):
                return "?", "", None, None, ""
            return m.group(1), "", found[0], found[1], found[2]
        command = parse_command(inc.text, self.bot_usernames.get(inc.sink))
        found = None
        if inc.reply_to is not None:
            found = casework.find_by_message(self.store, inc.sink, inc.chat_id, inc.reply_to)
        if command is None:
            if found and found[2] == "done_prompt" and inc.text.strip():
                return "selesai", inc.text.strip(), found[0], found[1], found[2]
            return None
        verb, args = command
        if found is None and verb not in ("?", "bantuan"):
            head, _, rest = args.partition(" ")
            from forwarder.citizen_inbound import normalise_code

            row = self.store.complaint_by_code(normalise_code(head)) if len(head) == 6 else None
            if row is None:
                return "bantuan", "", None, None, ""
            return verb, rest.strip(), row["id"], self._group_in_chat(inc, row["id"]), "code"
        return verb, args, found[0] if found else None, found[1] if found else None, found[2] if found else ""

    # -- applying -----------------------------------------------------------------------------
    def handle(self, inc: Incoming,
               answer: Callable[[Any, Outcome], None] | None = None) -> Outcome | None:
        """Apply one input; returns what to tell the officer, or None to stay silent (not for us,
        or an update already handled before a restart). ``answer(conn, outcome)``, when given, is
        called inside the transaction that records the input, so that a platform whose answers
        are queued (WhatsApp) never applies an action without answering it."""
        if self.store.db.execute("select 1 from telegram_updates where sink = ? and update_id = ?",
                                 [inc.sink, inc.update_id]).fetchone():
            return Outcome("") if inc.callback_id else None
        resolved = self.resolve(inc)
        outcome: Outcome | None
        if resolved is None:
            outcome = None
        elif resolved[0] == "?":  # an unknown command: answered only under our own messages
            outcome = (Outcome("Tombol tidak dikenal.", alert=True) if inc.callback_id
                       else Outcome(HELP) if resolved[2] is not None else None)
        elif resolved[2] is None:
            outcome = Outcome(HELP)
        else:
            verb, args, cid, group, what = resolved
            row = self.store.complaint(cid)
            if not self.permitted(inc, row, group):
                outcome = Outcome(REFUSED, alert=True)
            else:
                try:
                    with casework.transaction(self.store) as conn:
                        text = self._apply(conn, inc, verb, args, dict(row), group, what)
                        self._record(conn, inc, f"{verb}:{cid}")
                        if answer is not None and text:
                            answer(conn, Outcome(text, applied=True))
                    self.wake()
                    return Outcome(text, applied=True)
                except ActionRefused as exc:
                    outcome = Outcome(str(exc), alert=True)
        with casework.transaction(self.store) as conn:
            self._record(conn, inc, "ignored" if outcome is None else f"refused: {outcome.text[:200]}")
            if answer is not None and outcome is not None and outcome.text:
                answer(conn, outcome)
        return outcome

    def _record(self, conn: Any, inc: Incoming, result: str) -> None:
        conn.execute("insert into telegram_updates(sink, update_id, kind, at, result) values (?,?,?,?,?) "
                     "on conflict do nothing",
                     (inc.sink, inc.update_id, "callback_query" if inc.callback_id else "message",
                      self.store.now(), result))

    def _apply(self, conn: Any, inc: Incoming, verb: str, args: str, row: dict[str, Any], group: str | None,
               what: str) -> str:
        now = self.store.now()
        actor, name = f"{inc.platform}:{inc.user_id}", (inc.user_name or "petugas")[:64]
        code = row["tracking_code"]
        key = f"u:{inc.sink}:{inc.update_id}"
        if verb == "bantuan":
            return HELP
        if group and group in casework.left_groups(self.store, row["id"]) and not (
                verb == "alihkan" and self._may_reroute(inc, row, group)):
            raise ActionRefused(f"Grup ini sudah melepas pengaduan {code}; tindak lanjut ada di grup tujuannya.")
        if verb in ("terima", "proses"):
            status = casework.transition_tx(conn, self.store, now, row, verb, actor, group, name)
            if row["status"] == casework.DONE:  # taken back up after done: a new round begins
                # the citizen was asked "SUDAH/BELUM?": tell them it is being worked on again
                citizen.queue_tx(conn, self.store, self.settings, now, row, "reopened_by_officer", key)
                return (f"Pengaduan {code} dibuka kembali: {casework.STATUS_TEXT[status]}. "
                        + casework.new_round_note(self.settings, now, acknowledged=True))
            return f"Pengaduan {code}: {casework.STATUS_TEXT[status]}."
        if verb == "selesai":
            if row["status"] == casework.DONE or row["status"] not in casework.TRANSITIONS["selesai"][2]:
                raise ActionRefused(f"Pengaduan {code} berstatus {casework.STATUS_TEXT.get(row['status'])}.")
            if not args and inc.platform != "tg":  # no ForceReply outside Telegram: the note comes along
                raise ActionRefused(f"Tulis catatannya: /selesai <catatan>, sebagai balasan pesan pengaduan {code}.")
            if not args:
                # a reply to the pressed message (button) or to the officer's own command, with a
                # selective ForceReply: Telegram opens the reply field for the officer mentioned
                # and, for a command, for the sender of the message replied to (Bot API ForceReply)
                reply_to = inc.message_id if what == "delivery" else None
                followups.enqueue(conn, now, kind="done_prompt", channel=followups.CHAT, via=inc.sink,
                                  target=inc.chat_id, complaint_id=row["id"], group_name=group, reply_to=reply_to,
                                  text=f"{mention_html(inc)}, balas pesan ini dengan catatan penyelesaian "
                                       f"pengaduan <code>{code}</code> (apa yang sudah dilakukan). "
                                       f"Catatan ini juga dikirim ke pelapor.",
                                  buttons=followups.FORCE_REPLY, dedupe=key)
                return "Tulis catatan penyelesaian sebagai balasan pesan permintaan catatan."
            casework.transition_tx(conn, self.store, now, row, verb, actor, group, name, note=args)
            where = citizen.reach(self.settings, self.store, row)
            if where is not None:
                note = citizen.fit_field(self.settings, where[0], "done_check", "note", args, code=code)
                citizen.queue_tx(conn, self.store, self.settings, now, row, "done_check", key, to=where, note=note)
            told = " Pelapor diminta konfirmasi." if where else ""
            return f"Pengaduan {code}: selesai.{told}"
        if verb == "bukan":
            if group in self.triage.names:
                raise ActionRefused(TRIAGE_NOT_OURS.format(code=code))
            if not group:
                raise ActionRefused("Gunakan tombol atau perintah ini di grup yang menerima pengaduan.")
            triage = casework.not_ours_tx(conn, self.store, now, row, actor, group, name, self.triage,
                                          no_edit=casework.no_edit_sinks(self.settings))
            return f"Pengaduan {code}: bukan kewenangan grup ini." + (" Dikembalikan ke triase." if triage else "")
        if verb in ("alihkan", "topik"):
            topic, kecamatan = self._topic_and_place(args, verb)
            if verb == "topik":
                casework.relabel_tx(conn, self.store, now, row, topic, actor, name)
                return f"Pengaduan {code}: topik dicatat sebagai {topic}."
            routing = route(self.settings.groups, topic=topic, confidence=1.0,
                            kecamatan=kecamatan or row["kecamatan"], threshold=0.0,
                            confidential=casework.is_confidential(row))
            dests = [Destination(g.name, g.sink, self.store.chat_override(g.sink, g.chat_id) or g.chat_id)
                     for g in routing.groups]
            if (casework.is_confidential(row) and routing.triage_reason
                    and [d.group_name for d in dests] == [group]):
                # from the (confidential) triage group back to itself: say why nothing else takes it
                raise ActionRefused(f"Tidak ada grup rahasia untuk topik {topic}: pengaduan rahasia hanya "
                                    "dialihkan ke grup rahasia.")
            names = casework.reroute_tx(conn, self.store, now, row, actor, group, name, topic, kecamatan, dests,
                                        no_edit=casework.no_edit_sinks(self.settings))
            return f"Pengaduan {code} dialihkan ke {', '.join(names)}."
        if verb == "spam":
            casework.mark_spam_tx(conn, self.store, now, row, actor, group, name)
            return f"Pengaduan {code} ditandai spam; tidak dihitung dalam laporan."
        if verb == "duplikat":
            from forwarder.citizen_inbound import normalise_code

            typed = args.split()[0] if args.split() else ""
            original = casework.original_of(self.store, row, normalise_code(echo(typed, 12)) if typed else "")
            casework.mark_duplicate_tx(conn, self.store, now, row, original, actor, group, name)
            of = original["tracking_code"]
            casework.queue_thread_post_tx(conn, self.store, now, original["id"],
                                          f"Pengaduan {of}: pengaduan {code} ditandai duplikat dari pengaduan ini "
                                          f"oleh {name}.", "duplicate_note", key, self.triage,
                                          groups=self.settings.groups)
            told = citizen.queue_tx(conn, self.store, self.settings, now, row, "merged", key, of=of)
            return f"Pengaduan {code} ditandai duplikat dari {of}." + (" Pelapor diberi tahu." if told else "")
        if verb in ("tanya", "jawab"):
            if row["status"] in (casework.SPAM, casework.DUPLICATE):
                # the citizen's answers to a closed complaint no longer reach the groups
                raise ActionRefused(f"Pengaduan {code} sudah ditutup ({casework.STATUS_TEXT[row['status']]}); "
                                    "pelapor tidak dihubungi lagi lewat pengaduan ini.")
            if not args:
                raise ActionRefused(f"Tulis teksnya: /{verb} <teks>.")
            where = citizen.reach(self.settings, self.store, row)
            if where is None:
                raise ActionRefused("Pelapor tidak dapat dihubungi lewat saluran pengaduannya.")
            key_name = "question" if verb == "tanya" else "answer"
            problem = citizen.too_long(self.settings, where[0], citizen.render(self.settings, key_name, code=code,
                                                                                 text=args))
            if problem:
                raise ActionRefused(f"Tidak terkirim: {problem}.")
            casework.event_tx(conn, now, row["id"], actor, key_name, {"group": group, "text": args, "name": name})
            citizen.queue_tx(conn, self.store, self.settings, now, row, key_name, key, to=where, text=args)
            how = "SMS" if where[0] == followups.SMS else "X"
            return f"{'Pertanyaan' if verb == 'tanya' else 'Jawaban'} dikirim ke pelapor lewat {how}."
        raise ActionRefused(HELP)

    def _topic_and_place(self, args: str, verb: str) -> tuple[str, str | None]:
        topic, _, place = args.strip().partition(" ")
        topic = topic.strip().lower()
        if not topic:
            raise ActionRefused(f"Tulis topiknya: /{verb} <topik>" + (" [kecamatan]." if verb == "alihkan" else "."))
        if topic not in self.topics:
            raise ActionRefused(f"Topik {echo(topic)!r} tidak dikenal. Pilihan: {', '.join(sorted(self.topics))}.")
        if verb == "topik" or not place.strip():
            return topic, None
        kecamatan = self.gazetteer.canonical_kecamatan(place) if self.gazetteer else None
        if kecamatan is None:
            raise ActionRefused(f"Kecamatan {echo(place)!r} tidak dikenal di {self.settings.kabupaten}.")
        return topic, kecamatan


def mention_html(inc: Incoming) -> str:
    """The officer as Telegram HTML: ``@username``, else a ``tg://user?id=`` inline mention (Bot
    API "Formatting options"; it works for users who pressed one of the bot's buttons)."""
    if inc.user_handle:
        return "@" + html.escape(inc.user_handle, quote=False)
    name = html.escape((inc.user_name or "petugas")[:64], quote=False)
    return f'<a href="tg://user?id={int(inc.user_id or 0)}">{name}</a>'


class Part(str):
    """One rendered message part; the first part of a forwarded complaint carries its buttons."""

    buttons: list[list[tuple[str, str]]] | None = None


class ButtonSink:
    """Wraps a sink that takes ``buttons=`` (``supports_buttons``) so that the first part of every
    forwarded complaint gets the action buttons, without the dispatcher knowing about them.
    Everything else is passed through to the wrapped sink."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def _tag(self, parts: list[str], view: Any) -> list[str]:
        if not parts:
            return parts
        first = Part(parts[0])
        first.buttons = buttons_for(view)
        return [first, *parts[1:]]

    def render(self, view: Any) -> list[str]:
        return self._tag(self.inner.render(view), view)

    def render_plain(self, view: Any) -> list[str]:
        return self._tag(self.inner.render_plain(view), view)

    async def send(self, chat_id: str, text: str, *, plain: bool = False, **extra: Any) -> str:
        buttons = getattr(text, "buttons", None)
        if buttons and "buttons" not in extra:
            extra["buttons"] = buttons
        return await self.inner.send(chat_id, str(text), plain=plain, **extra)
