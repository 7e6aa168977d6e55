"""Sink ``waha``: posts complaints into WhatsApp groups through a WAHA server (devlikeapro/waha).

Most agencies' groups are on WhatsApp. WhatsApp's own Cloud API cannot post into an existing
group (its Groups API allows at most 8 members, invite-link only), so this sink talks to WAHA, a
self-hosted HTTP gateway that drives a WhatsApp account linked like WhatsApp Web (a number the
district owns, scanned once with the QR code in WAHA's dashboard). Such gateways are unofficial:
WhatsApp may ban a number that sends too much, so the default pacing is far below Telegram's
(``per_chat_per_minute`` 6, one message every 5 s per group, one a second overall; there is no
published limit, see ../shared/notes/integrations.md section F).

Requests (WAHA docs "Send messages"): ``POST {api_base_url}/api/sendText`` with JSON
``{"session", "chatId", "text"}`` and the header ``X-Api-Key`` when WAHA runs with an API key;
``GET {api_base_url}/api/sessions/{session}`` at start. A group's ``chat_id`` is its JID,
``120363...@g.us`` (checked with the config).

What officers get: the complaint as plain text (WhatsApp shows no HTML), the same fields as on
Telegram; no buttons, and status changes are not edited into the message (WhatsApp's sink has no
``edit``; the daemon skips those edits, and posts in the complaint's thread the news an edit
would carry to a group, such as a complaint coming back to it). A complaint flagged confidential
after it was posted is deleted for everyone (:meth:`Sink.delete`) instead of edited. Posts in a complaint's thread (citizens' answers, the officers'
answers) quote its message (``reply_to`` of sendText). Without ``webhook`` the sink is **send
only**: officers' replies are not read, the groups get no reminders and their complaints count
as never acknowledged in ``forwarder report``. With ``webhook`` (:class:`WebhookConfig`) the
daemon receives WAHA's webhooks and officers act by replying ``/terima``, ``/proses``,
``/selesai <catatan>`` ... to the forwarded complaint (:mod:`forwarder.sinks.waha_webhooks`).

Errors: 401/403 -> InvalidToken (API key); 422 "Session status is not as expected" (the account is
not linked or not ready) or 404 about the session (no session of that name) -> TemporaryError,
retried every minute, so complaints wait instead of going to triage; 429 and 5xx -> TemporaryError;
a read timeout -> UncertainDelivery (it may have been sent); other 4xx -> PermanentError (the
complaint then goes to triage).
"""

from __future__ import annotations

import re
from typing import Any, Literal
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from forwarder.context import Context
from forwarder.errors import InvalidToken, PermanentError, TemporaryError, UncertainDelivery
from forwarder.sinks.format import render_plain, split_message
from forwarder.types import ComplaintView

#: WhatsApp accepts far longer texts; parts of Telegram's size keep a complaint readable on a phone
WA_LIMIT = 4096
#: how far ahead of the server's clock an officer's message may be stamped (WhatsApp phones' clocks
#: drift a little); a message stamped later is ignored (forwarder.sinks.waha_webhooks)
MAX_AHEAD_SECS = 600.0
#: how long to wait before retrying when the WhatsApp account is not ready (a QR scan is needed)
SESSION_RETRY_SECS = 60.0


class WebhookConfig(BaseModel):
    """The officers' side of a ``waha`` sink: where WAHA's webhooks are received
    (:mod:`forwarder.sinks.waha_webhooks`). Without it the sink is send-only."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    hmac_key: SecretStr | None = Field(
        default=None, description="the session webhook's hmac.key (WAHA Plus signs with HMAC-SHA512)")
    url_token: SecretStr | None = Field(
        default=None, description="WAHA Core, which does not sign: a random token the webhook URL "
                                  "carries as ?token=...")
    listen_host: str = Field(default="127.0.0.1", description="address the webhook listener binds")
    listen_port: int = Field(default=8766, ge=0, le=65535, description="0: any free port (tests)")
    path: str = Field(default="/webhooks/waha", pattern=r"^/[A-Za-z0-9._~/-]*$")
    # a message older than this is not acted on: its dedupe record may be gone (keep_days)
    max_age_secs: float = Field(default=86400.0, gt=0)
    keep_days: float = Field(default=7.0, ge=1.0, description="how long handled message ids are kept")

    @field_validator("hmac_key")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        key = value.get_secret_value().strip()
        if len(key) < 16:
            raise ValueError("the HMAC key must have at least 16 characters (the same as the session's "
                             "webhooks[].hmac.key in WAHA)")
        return SecretStr(key)

    @field_validator("url_token")
    @classmethod
    def _hard_to_guess(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        token = value.get_secret_value().strip()
        if len(token) < 24 or not re.fullmatch(r"[A-Za-z0-9_-]+", token):
            raise ValueError("the URL token must be at least 24 letters, digits, '-' or '_' (for example "
                             "the output of: openssl rand -hex 16)")
        return SecretStr(token)

    @model_validator(mode="after")
    def _one_check(self) -> WebhookConfig:
        if (self.hmac_key is None) == (self.url_token is None):
            raise ValueError("set exactly one of hmac_key (WAHA Plus signs its webhooks) or url_token "
                             "(WAHA Core: a random token in the webhook URL, ?token=...)")
        return self

    @model_validator(mode="after")
    def _window_inside_keep(self) -> WebhookConfig:
        # a message stamped up to MAX_AHEAD_SECS ahead stays "young" that much longer than its
        # dedupe record lives (keep_days from when it was handled)
        if self.max_age_secs + MAX_AHEAD_SECS > self.keep_days * 86400:
            raise ValueError(f"max_age_secs plus {MAX_AHEAD_SECS:.0f} s (how far ahead a message may be stamped) "
                             "must not exceed keep_days: an older message could be acted on twice")
        return self


class Config(BaseModel):
    """Settings of one ``waha`` sink (one WAHA server and session)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["waha"]
    api_base_url: str = Field(default="http://127.0.0.1:3000", description="the WAHA server")
    api_key: SecretStr | None = Field(default=None, description="WAHA_API_KEY of the server, if set")
    session: str = Field(default="default", min_length=1, pattern=r"^[A-Za-z0-9_-]+$")
    timeout_secs: float = Field(default=15.0, gt=0, le=120)
    # no published limit for linked-device gateways; community guidance is a few seconds apart
    per_chat_per_minute: int = Field(default=6, ge=1)
    per_chat_per_second: float = Field(default=0.2, gt=0)
    overall_per_second: int = Field(default=1, ge=1)
    # officers acting from the groups (opt-in): WAHA's webhooks, see forwarder.sinks.waha_webhooks
    webhook: WebhookConfig | None = None

    @field_validator("api_base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if not value.startswith(("http://", "https://")):
            raise ValueError("api_base_url must start with http:// or https://")
        return value


class Sink:
    """Sends plain-text messages to WhatsApp chats through WAHA. See the module docstring."""

    def __init__(self, name: str, config: Config, context: Context | None = None,
                 *, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.name = name
        self.config = config
        headers = {"Accept": "application/json"}
        if config.api_key is not None:
            headers["X-Api-Key"] = config.api_key.get_secret_value()
        self._client = httpx.AsyncClient(base_url=config.api_base_url, headers=headers,
                                         timeout=config.timeout_secs, transport=transport)
        #: posts in a complaint's thread quote its message (forwarder.loop passes reply_to=)
        self.supports_reply_to = True

    async def start(self) -> None:
        """Check the key and that the WhatsApp account is linked (session ``WORKING``). Raises
        InvalidToken (key refused), TemporaryError (WAHA unreachable, account not ready)."""
        response = await self._request("GET", f"/api/sessions/{self.config.session}", sending=False)
        status = str((_json(response) or {}).get("status", ""))
        if status and status != "WORKING":
            raise TemporaryError(f"WhatsApp session {self.config.session!r} is {status}: open WAHA's "
                                 "dashboard and scan the QR code with the district's phone",
                                 retry_after=SESSION_RETRY_SECS)

    def render(self, view: ComplaintView) -> list[str]:
        return split_message(render_plain(view), WA_LIMIT, html=False, label=f"Pengaduan {view.tracking_code}")

    def render_plain(self, view: ComplaintView) -> list[str]:
        return self.render(view)

    async def send(self, chat_id: str, text: str, *, plain: bool = False, reply_to: str | None = None) -> str:
        """Send ``text`` to ``chat_id`` (a JID); returns WhatsApp's message id. ``reply_to``: a
        message id of that chat to quote (``reply_to`` of sendText); when WAHA refuses it (a 4xx
        other than the key or the session: the message is gone, or an id form the engine does not
        take) the text goes once more without the quote. Raises as the module docstring says."""
        body: dict[str, Any] = {"session": self.config.session, "chatId": chat_id, "text": text}
        if reply_to:
            try:
                response = await self._request("POST", "/api/sendText", sending=True,
                                               json={**body, "reply_to": reply_to})
                return _message_id(_json(response) or {})
            except PermanentError:
                pass
        response = await self._request("POST", "/api/sendText", sending=True, json=body)
        return _message_id(_json(response) or {})

    async def delete(self, chat_id: str, message_id: str) -> None:
        """Delete this number's message ``message_id`` in ``chat_id`` for everyone (WhatsApp's
        "Hapus untuk semua orang"); used when a complaint is flagged confidential, since WhatsApp
        messages cannot be edited to hold the text back.

        Request: ``DELETE {api_base_url}/api/{session}/chats/{chatId}/messages/{messageId}`` with
        ``@`` and the other reserved characters escaped (``%40``), ``messageId`` the serialized id
        ``true_<chatId>_<key id>`` (a bare key id, as engines other than WEBJS answer sendText,
        is made into that form). Sources: devlikeapro/waha, docs/site/content/en/docs/how-to/
        send-messages/index.md "Delete message"; src/api/chats.controller.ts
        ``ChatsController.deleteMessage``; the WEBJS engine (src/core/engines/webjs/
        session.webjs.core.ts ``deleteMessage``) calls ``message.delete(true)``, for everyone.

        WhatsApp deletes for everyone only for a limited time after sending; WAHA's answer is what
        counts. Raises InvalidToken (401/403), TemporaryError (WAHA unreachable or not answering,
        429, the session not ready) and PermanentError for every other refusal (a 4xx or 5xx: too
        old, gone, the engine failed): the caller must then say the text stays readable there."""
        chat = chat_id.strip()
        ident = message_id.strip()
        if not ident.startswith(("true_", "false_")):
            ident = f"true_{chat}_{ident}"
        path = (f"/api/{quote(self.config.session, safe='')}/chats/{quote(chat, safe='')}"
                f"/messages/{quote(ident, safe='')}")
        # a 5xx here is the engine failing to revoke (WhatsApp's time limit, a message gone): final
        await self._request("DELETE", path, sending=False, server_error_final=True)

    async def close(self) -> None:
        await self._client.aclose()

    async def _request(self, method: str, path: str, *, sending: bool, server_error_final: bool = False,
                       **kw: Any) -> httpx.Response:
        try:
            response = await self._client.request(method, path, **kw)
        except httpx.ReadTimeout as exc:
            if sending:
                raise UncertainDelivery(f"WAHA did not answer in {self.config.timeout_secs:.0f} s; "
                                        "the message may have been sent") from exc
            raise TemporaryError(f"WAHA did not answer: {exc.__class__.__name__}") from exc
        except httpx.HTTPError as exc:
            raise TemporaryError(f"WAHA unreachable at {self.config.api_base_url}: {exc.__class__.__name__}") from exc
        status = response.status_code
        if status < 400:
            return response
        detail = str((_json(response) or {}).get("error") or (_json(response) or {}).get("message")
                     or response.text[:200])
        if status in (401, 403):
            raise InvalidToken(f"WAHA refused the API key ({status})", hint="check api_key (WAHA_API_KEY)")
        if status in (404, 422) and "session" in detail.lower():  # 404: no such session (a typo?)
            raise TemporaryError(f"WhatsApp session {self.config.session!r} not ready: {detail}; scan the QR "
                                 "code in WAHA's dashboard", retry_after=SESSION_RETRY_SECS)
        if status >= 500 and server_error_final:
            raise PermanentError(f"WAHA answered {status}: {detail}", hint="WhatsApp did not do it")
        if status == 429 or status >= 500:
            retry = response.headers.get("Retry-After")
            raise TemporaryError(f"WAHA answered {status}: {detail}",
                                 retry_after=float(retry) if retry and retry.isdigit() else None)
        raise PermanentError(f"WAHA answered {status}: {detail}", hint="check the group's chat_id (…@g.us)")


def _message_id(body: dict[str, Any]) -> str:
    """The sent message's id from WAHA's answer, whatever the engine's shape (WEBJS: ``id`` is
    ``{"_serialized", "id", ...}``; others: a string, or a ``key`` object). Never raises: the
    message is out, and failing here would send it again."""
    for value in (body.get("id"), body.get("key")):
        if isinstance(value, dict):
            value = value.get("_serialized") or value.get("id")
        if isinstance(value, (str, int)) and str(value):
            return str(value)
    return ""


def _json(response: httpx.Response) -> dict[str, Any] | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None
