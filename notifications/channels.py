"""Delivery channels for notifications (plain Python, no Flask/SQLAlchemy).

Every channel has a ``name`` and a ``send(message) -> DeliveryResult`` method
and raises :class:`DeliveryError` when delivery fails.  ``DeliveryError.retryable``
tells the caller (the outbox worker) whether the same message may be tried
again later (see :func:`retry_delay`, :func:`should_retry`, :data:`MAX_ATTEMPTS`).

Classification rules
--------------------
SMTP
    connection refused / reset / timeout, server disconnects and 4xx replies
    are retryable; 5xx replies (permanent rejection, auth failure, STARTTLS
    required ...), certificate verification failures and malformed recipient
    addresses are not.
Webhook
    HTTP 5xx, 408, 429, timeouts and connection errors are retryable; other
    4xx and 3xx answers are not.  DingTalk / WeCom answer HTTP 200 with a JSON
    ``{"errcode": ..., "errmsg": ...}``: ``errcode != 0`` is a failure whose
    detail contains errmsg; it is retryable only for the "system busy" /
    rate-limit codes in :data:`RETRYABLE_ROBOT_ERRCODES`.

The in-app channel (``INAPP``) writes to the database and is implemented by
the owner of the models; only its name constant lives here.
"""

from __future__ import annotations

import base64
import datetime as _dt
import hashlib
import hmac
import http.client
import json
import smtplib
import socket
import ssl as _ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, parseaddr
from typing import Any, Callable, Optional, Protocol, runtime_checkable

from workflows.i18n import _

__all__ = [
    "INAPP",
    "EMAIL",
    "WEBHOOK",
    "CHANNEL_NAMES",
    "MAX_ATTEMPTS",
    "RETRYABLE_ROBOT_ERRCODES",
    "Message",
    "DeliveryResult",
    "DeliveryError",
    "Channel",
    "SmtpChannel",
    "WebhookChannel",
    "retry_delay",
    "should_retry",
    "message_id_for",
    "dingtalk_sign",
    "generic_signature",
    "redact_url",
]

#: Channel names (also the values stored in the DB / preferences).
INAPP = "inapp"  # implemented by the DB owner (writes a row the UI shows)
EMAIL = "email"
WEBHOOK = "webhook"
CHANNEL_NAMES = (INAPP, EMAIL, WEBHOOK)

#: Default number of attempts (the first try included) before a retryable
#: failure is given up.  Pass ``max_attempts=`` to :func:`should_retry` to
#: use another value.  With the default ``retry_delay`` the waits are
#: 60, 120, 240, 480 s between the five attempts.
MAX_ATTEMPTS = 5

#: DingTalk / WeCom JSON error codes that mean "try again later":
#: -1 system busy (both), 130101 DingTalk "send too fast" (20 msgs/min),
#: 45009 WeCom API frequency limit.
RETRYABLE_ROBOT_ERRCODES = frozenset({-1, 130101, 45009})


# --------------------------------------------------------------------------
# Data types
# --------------------------------------------------------------------------


@dataclass
class Message:
    """One notification to deliver through one channel.

    recipient        e-mail address (email), webhook URL (webhook, when the
                     channel has no fixed URL) or user id (inapp).
    subject          one-line subject / title.
    text             plain-text body (always present).
    html             HTML body (e-mail alternative part); optional.
    link             absolute URL of the task / page concerned; optional.
    idempotency_key  stable key of this notification; a re-send of the same
                     notification carries the same key (Message-ID,
                     X-Tracker-Key header, generic webhook ``key``).
    items            the lines of a digest, one dict per line (JSON-able
                     values; dates are sent as ISO strings); empty otherwise.
    """

    recipient: str
    subject: str
    text: str
    html: Optional[str] = None
    link: Optional[str] = None
    idempotency_key: str = ""
    items: list = field(default_factory=list)


@dataclass
class DeliveryResult:
    """What a successful ``send`` returns."""

    channel: str
    recipient: str
    idempotency_key: str
    #: SMTP: the Message-ID sent; webhook: None.
    message_id: Optional[str] = None
    #: HTTP status (webhook) or None.
    status: Optional[int] = None
    #: short human-readable detail (server answer), for the delivery log.
    detail: str = ""


class DeliveryError(Exception):
    """Delivery failed.  ``retryable`` says whether a later retry may succeed."""

    def __init__(self, retryable: bool, detail: str, *, code: Optional[int] = None):
        super().__init__(detail)
        self.retryable = bool(retryable)
        self.detail = detail
        #: SMTP reply code, HTTP status or robot errcode when known.
        self.code = code

    def __reduce__(self):  # picklable (e.g. across a process-based job queue)
        return (_rebuild_delivery_error, (self.retryable, self.detail, self.code))

    def __repr__(self) -> str:  # pragma: no cover - cosmetic
        return f"DeliveryError(retryable={self.retryable!r}, detail={self.detail!r}, code={self.code!r})"


def _rebuild_delivery_error(retryable: bool, detail: str, code: Optional[int]) -> "DeliveryError":
    return DeliveryError(retryable, detail, code=code)


@runtime_checkable
class Channel(Protocol):
    """The interface every channel implements."""

    name: str

    def send(self, message: Message) -> DeliveryResult:  # pragma: no cover - protocol
        ...


# --------------------------------------------------------------------------
# Retry policy
# --------------------------------------------------------------------------


def retry_delay(attempt: int, base: float = 60, cap: float = 3600) -> float:
    """Seconds to wait after the ``attempt``-th failed attempt (1-based).

    Exponential backoff without jitter: attempt 1 -> ``base``, 2 -> 2*base,
    3 -> 4*base ..., never more than ``cap``.  Pure function.
    """
    if attempt < 1:
        raise ValueError("attempt is 1-based")
    if base < 0 or cap < 0:
        raise ValueError("base and cap must be >= 0")
    exponent = attempt - 1
    if exponent >= 64:  # avoid building huge integers; long since capped
        return cap if base > 0 else base
    return min(cap, base * (2 ** exponent))


def should_retry(error: BaseException, attempt: int, max_attempts: int = MAX_ATTEMPTS) -> bool:
    """True when a message whose ``attempt``-th try (1-based) failed with
    ``error`` should be tried again: the error is a retryable
    :class:`DeliveryError` and fewer than ``max_attempts`` tries were made."""
    return isinstance(error, DeliveryError) and error.retryable and attempt < max_attempts


# --------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------


def _json_default(value: Any) -> Any:
    if isinstance(value, (_dt.date, _dt.datetime, _dt.time)):
        return value.isoformat()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    return str(value)


def _one_line(value: str) -> str:
    """Header-safe: collapse CR/LF and other whitespace runs to one space."""
    return " ".join(str(value).split())


def message_id_for(idempotency_key: str, domain: str = "localhost") -> str:
    """Deterministic RFC 5322 Message-ID for an idempotency key.

    The same key always gives the same Message-ID, so a duplicate delivery is
    recognisable by the receiving side (and in our own logs)."""
    digest = hashlib.sha256(idempotency_key.encode("utf-8")).hexdigest()[:40]
    domain = (domain or "localhost").strip().strip("<>") or "localhost"
    return f"<tracker.{digest}@{domain}>"


def _smtp_code_retryable(code: Optional[int]) -> bool:
    if code is None or code < 0:  # -1: smtplib's "connection closed" marker
        return True
    if 400 <= code < 500:
        return True
    if code >= 500:
        return False
    return True


def _decode(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


# --------------------------------------------------------------------------
# SMTP
# --------------------------------------------------------------------------


class SmtpChannel:
    """E-mail through an SMTP relay using :mod:`smtplib`.

    ``starttls=True`` upgrades a plain connection (port 587 usually);
    ``ssl=True`` uses implicit TLS (port 465).  ``username``/``password``
    enable AUTH (after STARTTLS when both are set).  ``ssl_context`` defaults
    to :func:`ssl.create_default_context` (certificate and host name checked);
    pass your own to trust a private CA.
    """

    name = EMAIL

    def __init__(
        self,
        host: str,
        port: int,
        username: Optional[str] = None,
        password: Optional[str] = None,
        starttls: bool = False,
        ssl: bool = False,
        sender: str = "督办系统 <noreply@example.org>",  # i18n: data (a configuration default)
        timeout: float = 10,
        ssl_context: Optional["_ssl.SSLContext"] = None,
        local_hostname: Optional[str] = None,
    ):
        if starttls and ssl:
            raise ValueError("choose either starttls or ssl (implicit TLS), not both")
        display_name, addr_spec = parseaddr(sender)
        if "@" not in addr_spec:
            raise ValueError(f"sender has no valid address: {sender!r}")
        self.host = host
        self.port = int(port)
        self.username = username or None
        self.password = password or ""
        self.starttls = bool(starttls)
        self.ssl = bool(ssl)
        self.sender = sender
        self.timeout = timeout
        self.ssl_context = ssl_context
        self.local_hostname = local_hostname
        local, _at, domain = addr_spec.rpartition("@")
        self._sender_address = Address(display_name=display_name, username=local, domain=domain)

    # -- message building -------------------------------------------------

    @property
    def sender_address(self) -> str:
        """Envelope sender (bare address)."""
        return self._sender_address.addr_spec

    def build_email(self, message: Message) -> EmailMessage:
        """The :class:`EmailMessage` that ``send`` would transmit.

        multipart/alternative (text/plain + text/html, UTF-8, base64) when
        ``message.html`` is set, otherwise a single text/plain part.  Header
        encoding (RFC 2047 for Chinese subject / display names) is done by the
        email package's default policy."""
        recipient = _one_line(message.recipient)
        name, addr = parseaddr(recipient)
        if "@" not in addr or addr.startswith("@") or addr.endswith("@"):
            raise DeliveryError(False, f"invalid e-mail address: {message.recipient!r}")
        local, _at, domain = addr.rpartition("@")

        msg = EmailMessage()
        try:
            msg["To"] = Address(display_name=name, username=local, domain=domain)
        except (ValueError, TypeError) as exc:
            raise DeliveryError(False, f"invalid e-mail address: {message.recipient!r}: {exc}") from exc
        msg["Subject"] = _one_line(message.subject)
        msg["From"] = self._sender_address
        msg["Date"] = formatdate(localtime=True)
        key = message.idempotency_key or ""
        if key:
            msg["Message-ID"] = message_id_for(key, self._sender_address.domain)
            msg["X-Tracker-Key"] = _one_line(key)
        else:
            from email.utils import make_msgid

            msg["Message-ID"] = make_msgid(domain=self._sender_address.domain)
        msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies
        msg.set_content(message.text or "", charset="utf-8", cte="base64")
        if message.html:
            msg.add_alternative(message.html, subtype="html", charset="utf-8", cte="base64")
        return msg

    # -- sending ------------------------------------------------------------

    def _context(self) -> "_ssl.SSLContext":
        return self.ssl_context or _ssl.create_default_context()

    def _connect(self) -> smtplib.SMTP:
        if self.ssl:
            return smtplib.SMTP_SSL(
                self.host,
                self.port,
                local_hostname=self.local_hostname,
                timeout=self.timeout,
                context=self._context(),
            )
        return smtplib.SMTP(self.host, self.port, local_hostname=self.local_hostname, timeout=self.timeout)

    def send(self, message: Message) -> DeliveryResult:
        email_msg = self.build_email(message)
        recipient = email_msg["To"].addresses[0].addr_spec
        smtp: Optional[smtplib.SMTP] = None
        try:
            smtp = self._connect()
            smtp.ehlo()
            if self.starttls:
                smtp.starttls(context=self._context())
                smtp.ehlo()
            if self.username:
                smtp.login(self.username, self.password)
            refused = smtp.send_message(email_msg, from_addr=self.sender_address, to_addrs=[recipient])
            if refused:  # only possible with several recipients; kept for safety
                code, text = next(iter(refused.values()))
                raise DeliveryError(_smtp_code_retryable(code), f"recipient refused: {code} {_decode(text)}", code=code)
            try:
                smtp.quit()
            except (smtplib.SMTPException, OSError):
                pass  # the message was accepted; a failed QUIT does not matter
            smtp = None
        except DeliveryError:
            raise
        except smtplib.SMTPRecipientsRefused as exc:
            code, text = next(iter(exc.recipients.values()), (None, b""))
            raise DeliveryError(_smtp_code_retryable(code), f"recipient refused: {code} {_decode(text)}", code=code) from exc
        except smtplib.SMTPNotSupportedError as exc:
            # e.g. STARTTLS/AUTH not offered by the server: configuration problem
            raise DeliveryError(False, f"SMTP server does not support: {exc}") from exc
        except smtplib.SMTPResponseException as exc:
            # SMTPSenderRefused, SMTPDataError, SMTPConnectError, SMTPHeloError,
            # SMTPAuthenticationError ...
            code = exc.smtp_code
            raise DeliveryError(
                _smtp_code_retryable(code),
                f"{type(exc).__name__}: {code} {_decode(exc.smtp_error)}",
                code=code,
            ) from exc
        except smtplib.SMTPServerDisconnected as exc:
            raise DeliveryError(True, f"SMTP server disconnected: {exc}") from exc
        except _ssl.SSLCertVerificationError as exc:
            raise DeliveryError(False, f"TLS certificate verification failed: {exc}") from exc
        except _ssl.SSLError as exc:
            raise DeliveryError(True, f"TLS error: {exc}") from exc
        except smtplib.SMTPException as exc:
            raise DeliveryError(False, f"SMTP error: {exc}") from exc
        except (ConnectionError, TimeoutError, socket.timeout, socket.gaierror, OSError) as exc:
            # refused / reset / timed out / name resolution: try later
            raise DeliveryError(True, f"SMTP connection failed: {exc!r}") from exc
        finally:
            if smtp is not None:
                try:
                    smtp.close()
                except Exception:  # pragma: no cover - best effort
                    pass
        return DeliveryResult(
            channel=self.name,
            recipient=recipient,
            idempotency_key=message.idempotency_key,
            message_id=email_msg["Message-ID"],
            detail="accepted",
        )


# --------------------------------------------------------------------------
# Webhooks (DingTalk / WeCom group robots, generic JSON)
# --------------------------------------------------------------------------


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """DingTalk robot "加签": base64(HMAC-SHA256(key=secret,
    msg=f"{timestamp}\\n{secret}")), URL-encoded (quote_plus) as it goes in
    the ``sign`` query parameter."""
    string_to_sign = f"{timestamp_ms}\n{secret}".encode("utf-8")
    digest = hmac.new(secret.encode("utf-8"), string_to_sign, hashlib.sha256).digest()
    return urllib.parse.quote_plus(base64.b64encode(digest))


def generic_signature(secret: str, body: bytes) -> str:
    """Value of the ``X-Tracker-Signature`` header: ``sha256=<hex HMAC of body>``."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def redact_url(url: str) -> str:
    """URL without query/fragment (robot URLs carry the access token there),
    safe to write into delivery logs."""
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def _utf8_truncate(text: str, max_bytes: int, suffix: str = "") -> str:
    """Cut ``text`` so that text+suffix fits in ``max_bytes`` UTF-8 bytes."""
    whole = text + suffix
    if len(whole.encode("utf-8")) <= max_bytes:
        return whole
    ellipsis = "\n……"
    budget = max_bytes - len(suffix.encode("utf-8")) - len(ellipsis.encode("utf-8"))
    cut = text.encode("utf-8")[: max(budget, 0)].decode("utf-8", "ignore")
    return cut + ellipsis + suffix


def _md_link_target(link: str) -> str:
    # parentheses / spaces would end a markdown link target early
    return link.replace(" ", "%20").replace("(", "%28").replace(")", "%29")


class WebhookChannel:
    """JSON POST to a group robot or a generic endpoint, with :mod:`urllib`.

    flavor
        ``'dingtalk'``: ``{"msgtype": "markdown", "markdown": {"title", "text"}}``;
        with ``secret`` the ``timestamp`` (ms) and ``sign`` query parameters are
        appended as DingTalk documents (see :func:`dingtalk_sign`).
        ``'wecom'``: ``{"msgtype": "markdown", "markdown": {"content"}}``
        (content cut to 4096 UTF-8 bytes, WeCom's limit); WeCom robots have no
        signing, so a secret is refused.
        ``'generic'``: ``{"key", "subject", "text", "link", "items"}`` with an
        ``X-Tracker-Signature: sha256=<hex HMAC-SHA256(secret, body)>`` header
        when ``secret`` is set.
    url
        the robot URL; ``None`` means "use ``message.recipient``".  Only http
        and https URLs are accepted.
    now_ms
        clock returning Unix time in milliseconds (injected by tests).
    opener
        a :class:`urllib.request.OpenerDirector`; default ``build_opener()``
        (honours the usual ``*_proxy`` environment variables).
    """

    name = WEBHOOK
    FLAVORS = ("dingtalk", "wecom", "generic")
    DINGTALK_MAX_BYTES = 20000
    WECOM_MAX_BYTES = 4096

    def __init__(
        self,
        url: Optional[str],
        flavor: str = "dingtalk",
        secret: Optional[str] = None,
        timeout: float = 5,
        now_ms: Optional[Callable[[], int]] = None,
        opener: Optional[urllib.request.OpenerDirector] = None,
    ):
        if flavor not in self.FLAVORS:
            raise ValueError(f"unknown webhook flavor {flavor!r}; expected one of {self.FLAVORS}")
        secret = secret or None
        if flavor == "wecom" and secret:
            raise ValueError("WeCom group robots do not support signing; leave secret empty")
        if url is not None:
            self._check_url(url, error=ValueError)
        self.url = url
        self.flavor = flavor
        self.secret = secret
        self.timeout = timeout
        self.now_ms = now_ms or (lambda: int(time.time() * 1000))
        self.opener = opener or urllib.request.build_opener()

    @staticmethod
    def _check_url(url: str, error: Callable[..., Exception]) -> None:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            if error is DeliveryError:
                raise DeliveryError(False, f"not an http(s) webhook URL: {url!r}")
            raise error(f"not an http(s) webhook URL: {url!r}")

    # -- payloads -----------------------------------------------------------

    @staticmethod
    def markdown(message: Message, line_break: str = "\n\n") -> tuple:
        """(title, markdown text, link suffix) for the robots.

        The suffix (a "[查看详情](link)" line) is kept separate so that
        truncation to the robot's size limit never cuts the link."""
        title = _one_line(message.subject)
        lines = [line.rstrip() for line in (message.text or "").splitlines()]
        body = line_break.join(line for line in lines if line.strip())
        text = f"#### {title}{line_break}{body}" if body else f"#### {title}"
        suffix = ""
        if message.link:
            label = _("查看详情")
            suffix = f"{line_break}[{label}]({_md_link_target(message.link)})"
        return title, text, suffix

    def build_payload(self, message: Message) -> dict:
        """The JSON object that ``send`` posts."""
        if self.flavor == "dingtalk":
            title, text, suffix = self.markdown(message, "\n\n")
            return {
                "msgtype": "markdown",
                "markdown": {"title": title, "text": _utf8_truncate(text, self.DINGTALK_MAX_BYTES, suffix)},
            }
        if self.flavor == "wecom":
            _title, text, suffix = self.markdown(message, "\n")
            return {
                "msgtype": "markdown",
                "markdown": {"content": _utf8_truncate(text, self.WECOM_MAX_BYTES, suffix)},
            }
        return {
            "key": message.idempotency_key,
            "subject": message.subject,
            "text": message.text,
            "link": message.link,
            "items": list(message.items or []),
        }

    def target_url(self, message: Message) -> str:
        """URL posted to, including DingTalk's timestamp/sign when signing."""
        url = self.url or message.recipient
        self._check_url(url, error=DeliveryError)
        if self.flavor == "dingtalk" and self.secret:
            ts = int(self.now_ms())
            sep = "&" if urllib.parse.urlsplit(url).query else ("" if url.endswith("?") else "?")
            url = f"{url}{sep}timestamp={ts}&sign={dingtalk_sign(self.secret, ts)}"
        return url

    # -- sending ------------------------------------------------------------

    def send(self, message: Message) -> DeliveryResult:
        url = self.target_url(message)
        body = json.dumps(self.build_payload(message), ensure_ascii=False, default=_json_default).encode("utf-8")
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "tracker-notifications/1",
        }
        if message.idempotency_key:
            headers["X-Tracker-Key"] = _one_line(message.idempotency_key)
        if self.flavor == "generic" and self.secret:
            headers["X-Tracker-Signature"] = generic_signature(self.secret, body)
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")
        try:
            with self.opener.open(request, timeout=self.timeout) as response:
                status = response.status
                raw = response.read(65536)
        except urllib.error.HTTPError as exc:
            status = exc.code
            try:
                snippet = exc.read(500).decode("utf-8", "replace")
            except Exception:  # pragma: no cover - best effort
                snippet = ""
            finally:
                exc.close()
            retryable = status >= 500 or status in (408, 425, 429)
            raise DeliveryError(retryable, f"HTTP {status}: {snippet}".strip(), code=status) from exc
        except urllib.error.URLError as exc:
            reason = exc.reason
            if isinstance(reason, _ssl.SSLCertVerificationError):
                raise DeliveryError(False, f"TLS certificate verification failed: {reason}") from exc
            raise DeliveryError(True, f"connection failed: {reason!r}") from exc
        except (http.client.HTTPException, ConnectionError, TimeoutError, socket.timeout, OSError) as exc:
            raise DeliveryError(True, f"connection failed: {exc!r}") from exc

        if not 200 <= status < 300:  # 1xx/3xx that urllib did not handle
            raise DeliveryError(False, f"unexpected HTTP {status}", code=status)
        detail = raw.decode("utf-8", "replace")[:500]
        if self.flavor in ("dingtalk", "wecom"):
            try:
                answer = json.loads(raw.decode("utf-8"))
                errcode = int(answer.get("errcode", 0))
                errmsg = str(answer.get("errmsg", ""))
            except (ValueError, AttributeError, TypeError) as exc:
                raise DeliveryError(False, f"unexpected robot answer: {detail!r}", code=status) from exc
            if errcode != 0:
                raise DeliveryError(
                    errcode in RETRYABLE_ROBOT_ERRCODES,
                    f"{self.flavor} errcode {errcode}: {errmsg}",
                    code=errcode,
                )
        return DeliveryResult(
            channel=self.name,
            recipient=redact_url(self.url or message.recipient),
            idempotency_key=message.idempotency_key,
            status=status,
            detail=detail,
        )
