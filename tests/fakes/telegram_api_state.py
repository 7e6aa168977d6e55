"""What the fake Telegram Bot API remembers: chats, messages, edits, updates, scripted faults.

Objects are shaped like the Bot API's (``Message``, ``Chat``, ``User``, ``Update``,
``CallbackQuery``, ``ChatMember``). Callers hold ``lock`` around every method here.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


class ApiFault(Exception):
    """An error answer: HTTP ``code``, Telegram's ``description`` and optional ``parameters``."""

    def __init__(self, code: int, description: str, parameters: dict[str, Any] | None = None):
        super().__init__(description)
        self.code, self.description, self.parameters = code, description, parameters


def bad_request(description: str, **parameters: Any) -> ApiFault:
    return ApiFault(400, f"Bad Request: {description}", parameters or None)


def is_inline_keyboard(markup: Any) -> bool:
    """True for an InlineKeyboardMarkup (``{"inline_keyboard": [...]}``); False for ForceReply,
    ReplyKeyboardMarkup, ReplyKeyboardRemove or nothing."""
    return isinstance(markup, dict) and isinstance(markup.get("inline_keyboard"), list)


def chat_key(chat_id: Any) -> Any:
    """Chat ids as ints (``"-100123"`` -> ``-100123``); ``@username`` strings stay strings."""
    if isinstance(chat_id, int):
        return chat_id
    text = str(chat_id).strip()
    try:
        return int(text)
    except ValueError:
        return text


@dataclass(frozen=True)
class SentMessage:
    """One message the bot sent. ``text`` is the raw parameter, ``visible`` what officers see."""

    chat_id: Any
    message_id: int
    text: str
    visible: str
    parse_mode: str | None
    entities: list[dict[str, Any]]
    reply_to_message_id: int | None
    reply_markup: Any
    message_thread_id: int | None
    link_preview_options: Any
    date: int
    params: dict[str, Any]


@dataclass(frozen=True)
class Edit:
    chat_id: Any
    message_id: int
    text: str
    visible: str
    parse_mode: str | None
    date: int


@dataclass(frozen=True)
class Call:
    """One request that reached the fake: lower-case method name and its decoded parameters."""

    method: str
    params: dict[str, Any]
    at: float  # time.monotonic()


@dataclass
class FakeState:
    token: str
    bot_username: str
    clock: Callable[[], float]
    lock: threading.RLock = field(default_factory=threading.RLock)
    sent: list[SentMessage] = field(default_factory=list)
    edits: list[Edit] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    messages: dict[tuple[Any, int], dict[str, Any]] = field(default_factory=dict)
    next_message_id: dict[Any, int] = field(default_factory=dict)
    chats: dict[Any, dict[str, Any]] = field(default_factory=dict)
    members: dict[tuple[Any, int], str] = field(default_factory=dict)
    updates: list[dict[str, Any]] = field(default_factory=list)
    next_update_id: int = 100000
    callback_ids: set[str] = field(default_factory=set)
    callback_answers: list[dict[str, Any]] = field(default_factory=list)
    # scripted faults
    floods: dict[Any, list[int]] = field(default_factory=dict)  # chat -> [retry_after, times]
    failures: dict[Any, list[Any]] = field(default_factory=dict)  # chat -> [code, text, params, times]
    kicked: set[Any] = field(default_factory=set)
    unknown: set[Any] = field(default_factory=set)
    migrated: dict[Any, int] = field(default_factory=dict)
    parse_faults: dict[Any, int] = field(default_factory=dict)
    slow: dict[Any, list[float]] = field(default_factory=dict)  # chat -> [delay, times]
    revoked: bool = False
    too_many: dict[Any, int] = field(default_factory=dict)  # 429s answered, per chat

    @property
    def bot_id(self) -> int:
        return int(self.token.split(":", 1)[0])

    def now(self) -> int:
        return int(self.clock())

    def bot_user(self, full: bool = False) -> dict[str, Any]:
        user = {"id": self.bot_id, "is_bot": True, "first_name": "Lapor Test Bot",
                "username": self.bot_username}
        if full:
            user.update(can_join_groups=True, can_read_all_group_messages=False,
                        supports_inline_queries=False, can_connect_to_business=False,
                        has_main_web_app=False)
        return user

    def chat(self, key: Any, full: bool = False) -> dict[str, Any]:
        if key not in self.chats:
            if isinstance(key, int) and key > 0:
                chat = {"id": key, "type": "private", "first_name": f"Pengguna {key}"}
            elif isinstance(key, int):
                kind = "supergroup" if str(key).startswith("-100") else "group"
                chat = {"id": key, "type": kind, "title": f"Grup petugas {key}"}
            else:
                chat = {"id": -1009999999999, "type": "channel", "title": key, "username": key.lstrip("@")}
            self.chats[key] = chat
        chat = dict(self.chats[key])
        if full:
            chat.update(accent_color_id=0, max_reaction_count=11, accepted_gift_types={
                "unlimited_gifts": False, "limited_gifts": False, "unique_gifts": False,
                "premium_subscription": False, "gifts_from_channels": False})
        return chat

    def member(self, key: Any, user_id: Any) -> dict[str, Any]:
        uid = int(user_id or 0)
        user = self.bot_user() if uid == self.bot_id else self.person(uid)
        status = self.members.get((key, uid), "member")
        return {"status": status, "user": user}

    @staticmethod
    def person(uid: int, name: str = "Petugas") -> dict[str, Any]:
        return {"id": uid, "is_bot": False, "first_name": name, "language_code": "id"}

    def _new_message_id(self, key: Any) -> int:
        self.next_message_id[key] = self.next_message_id.get(key, 0) + 1
        return self.next_message_id[key]

    def reply_target(self, key: Any, params: dict[str, Any]) -> int | None:
        reply = params.get("reply_parameters")
        allow = False
        target: Any = None
        if isinstance(reply, dict):
            target = reply.get("message_id")
            allow = bool(reply.get("allow_sending_without_reply"))
        elif params.get("reply_to_message_id"):
            target = params.get("reply_to_message_id")
            allow = str(params.get("allow_sending_without_reply", "")).lower() == "true"
        if target in (None, ""):
            return None
        target = int(target)
        if (key, target) not in self.messages:
            if allow:
                return None
            raise bad_request("message to be replied not found")
        return target

    def record_send(self, key: Any, params: dict[str, Any], text: str, visible: str,
                    entities: list[dict[str, Any]], reply_to: int | None) -> dict[str, Any]:
        message_id = self._new_message_id(key)
        thread = params.get("message_thread_id")
        message: dict[str, Any] = {"message_id": message_id, "from": self.bot_user(),
                                   "chat": self.chat(key), "date": self.now(), "text": visible}
        if entities:
            message["entities"] = entities
        if thread not in (None, ""):
            message.update(message_thread_id=int(thread), is_topic_message=True)
        if reply_to is not None:
            message["reply_to_message"] = self.messages[(key, reply_to)]
        if is_inline_keyboard(params.get("reply_markup")):
            # Message.reply_markup is "Inline keyboard attached to the message" (Bot API):
            # a ForceReply or a reply keyboard is never echoed back
            message["reply_markup"] = params["reply_markup"]
        self.messages[(key, message_id)] = message
        self.sent.append(SentMessage(
            chat_id=key, message_id=message_id, text=text, visible=visible,
            parse_mode=params.get("parse_mode") or None, entities=entities,
            reply_to_message_id=reply_to, reply_markup=params.get("reply_markup"),
            message_thread_id=int(thread) if thread not in (None, "") else None,
            link_preview_options=params.get("link_preview_options"), date=message["date"],
            params=dict(params)))
        return message

    def record_edit(self, key: Any, params: dict[str, Any], text: str, visible: str,
                    entities: list[dict[str, Any]]) -> dict[str, Any]:
        raw_id = params.get("message_id")
        if raw_id in (None, ""):
            raise bad_request("message identifier is not specified")
        message_id = int(raw_id)
        old = self.messages.get((key, message_id))
        if old is None or old.get("from", {}).get("id") != self.bot_id:
            raise bad_request("message to edit not found")
        markup = params.get("reply_markup")
        if markup and not is_inline_keyboard(markup):
            raise bad_request("inline keyboard expected")  # editMessageText takes inline keyboards only
        if old.get("text") == visible and old.get("entities", []) == entities and \
                old.get("reply_markup") == markup:
            raise bad_request("message is not modified: specified new message content and reply markup "
                       "are exactly the same as a current content and reply markup of the message")
        new = {**old, "text": visible, "edit_date": self.now()}
        new.pop("entities", None)
        new.pop("reply_markup", None)
        if entities:
            new["entities"] = entities
        if markup:
            new["reply_markup"] = markup
        self.messages[(key, message_id)] = new
        self.edits.append(Edit(key, message_id, text, visible, params.get("parse_mode") or None,
                               new["edit_date"]))
        return new

    def incoming_message(self, chat_id: Any, text: str, user: dict[str, Any] | None,
                         reply_to: Any, thread: int | None) -> dict[str, Any]:
        key = chat_key(chat_id)
        message: dict[str, Any] = {"message_id": self._new_message_id(key),
                                   "from": user or self.person(5550001),
                                   "chat": self.chat(key), "date": self.now(), "text": text}
        if reply_to is not None:
            original = self.messages.get((key, int(reply_to)))
            message["reply_to_message"] = original or {
                "message_id": int(reply_to), "chat": self.chat(key), "date": self.now()}
        if thread is not None:
            message.update(message_thread_id=thread, is_topic_message=True)
        self.messages[(key, message["message_id"])] = message
        return message

    def callback_query(self, chat_id: Any, message_id: Any, data: str,
                       user: dict[str, Any] | None) -> dict[str, Any]:
        key = chat_key(chat_id)
        query_id = str(4000000000 + len(self.callback_ids) + 1)
        self.callback_ids.add(query_id)
        message = self.messages.get((key, int(message_id))) or {
            "message_id": int(message_id), "chat": self.chat(key), "date": self.now()}
        return {"id": query_id, "from": user or self.person(5550001), "message": message,
                "chat_instance": str(abs(hash(key)) % 10**12), "data": data}

    def queue_update(self, update: dict[str, Any]) -> dict[str, Any]:
        update = {"update_id": self.next_update_id, **update}
        self.next_update_id += 1
        self.updates.append(update)
        return update

    def pending_updates(self, offset: int, limit: int, allowed: list[str] | None
                        ) -> list[dict[str, Any]]:
        if offset > 0:  # confirms every update before offset
            self.updates = [u for u in self.updates if u["update_id"] >= offset]
        found = self.updates[offset:] if offset < 0 else self.updates
        if allowed:
            found = [u for u in found if any(k in u for k in allowed)]
        return found[:limit]
