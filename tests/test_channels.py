"""Channels against real servers on loopback (aiosmtpd, http.server), plus
message texts and the retry policy.

Runs standalone: ``.venv/bin/pytest tests/test_channels.py -p no:cacheprovider``.
"""

from __future__ import annotations

import base64
import datetime as dt
import email
import email.policy
import hashlib
import hmac
import json
import socket
import ssl
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from aiosmtpd.controller import Controller  # noqa: E402
from aiosmtpd.smtp import AuthResult, LoginPassword  # noqa: E402

from notifications import messages as M  # noqa: E402
from notifications.channels import (  # noqa: E402
    EMAIL,
    INAPP,
    MAX_ATTEMPTS,
    WEBHOOK,
    Channel,
    DeliveryError,
    Message,
    SmtpChannel,
    WebhookChannel,
    message_id_for,
    retry_delay,
    should_retry,
)

LINK = "https://duban.example.org/tasks/42"
KEY = "reminder:task-42:user-7:2026-03-01"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sample_message(**over) -> Message:
    fields = dict(
        recipient="张老师 <teacher@example.org>",
        subject="【到期提醒】任务“教师交流轮岗”距截止还有3天",
        text=f"您负责的任务将于2026年3月1日截止。\n查看任务：{LINK}",
        html=f'<p>您负责的任务将于2026年3月1日截止。</p><p><a href="{LINK}">查看任务</a></p>',
        link=LINK,
        idempotency_key=KEY,
    )
    fields.update(over)
    return Message(**fields)


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch):
    # urllib honours *_proxy variables; loopback tests must not go through one
    for var in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)


# ==========================================================================
# SMTP
# ==========================================================================


class RecordingHandler:
    """aiosmtpd handler storing envelopes; can answer RCPT/DATA with a code."""

    def __init__(self, rcpt_reply=None, data_reply=None):
        self.rcpt_reply = rcpt_reply
        self.data_reply = data_reply
        self.envelopes = []
        self.logins = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.rcpt_reply:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.data_reply:
            return self.data_reply
        self.envelopes.append(
            {
                "mail_from": envelope.mail_from,
                "rcpt_tos": list(envelope.rcpt_tos),
                "content": bytes(envelope.original_content or envelope.content),
                "tls": session.ssl is not None,
            }
        )
        return "250 Message accepted for delivery"

    def authenticator(self, server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and auth_data.login == b"duban" and auth_data.password == b"s3cret"
        self.logins.append((mechanism, getattr(auth_data, "login", None), ok))
        # handled=False: let aiosmtpd answer 535 itself on failure
        return AuthResult(success=ok, handled=False)


def start_smtp(handler, **kwargs) -> Controller:
    controller = Controller(handler, hostname="127.0.0.1", port=free_port(), **kwargs)
    controller.start()
    return controller


@pytest.fixture
def smtp_server():
    handler = RecordingHandler()
    controller = start_smtp(handler)
    try:
        yield handler, controller
    finally:
        controller.stop()


def parse(raw: bytes):
    return email.message_from_bytes(raw, policy=email.policy.default)


def test_channels_satisfy_protocol():
    assert isinstance(SmtpChannel("127.0.0.1", 25), Channel)
    assert isinstance(WebhookChannel("http://127.0.0.1/x"), Channel)
    assert SmtpChannel("127.0.0.1", 25).name == EMAIL == "email"
    assert WebhookChannel("http://127.0.0.1/x").name == WEBHOOK == "webhook"
    assert INAPP == "inapp"


def test_smtp_delivers_multipart_chinese_message(smtp_server):
    handler, controller = smtp_server
    channel = SmtpChannel("127.0.0.1", controller.port, timeout=5)
    result = channel.send(sample_message())

    assert result.channel == "email"
    assert result.recipient == "teacher@example.org"
    assert len(handler.envelopes) == 1
    env = handler.envelopes[0]
    assert env["mail_from"] == "noreply@example.org"
    assert env["rcpt_tos"] == ["teacher@example.org"]

    raw = env["content"]
    # headers on the wire are pure ASCII with RFC 2047 encoded-words
    head = raw.split(b"\r\n\r\n", 1)[0]
    head.decode("ascii")
    assert b"=?utf-8?" in head.lower()

    msg = parse(raw)
    assert msg["Subject"] == "【到期提醒】任务“教师交流轮岗”距截止还有3天"
    assert msg["From"].addresses[0].display_name == "督办系统"
    assert msg["From"].addresses[0].addr_spec == "noreply@example.org"
    assert msg["To"].addresses[0].display_name == "张老师"
    assert msg["X-Tracker-Key"] == KEY
    assert msg["Message-ID"] == message_id_for(KEY, "example.org") == result.message_id
    assert msg["Date"] is not None
    assert msg.get_content_type() == "multipart/alternative"

    plain = msg.get_body(preferencelist=("plain",))
    html = msg.get_body(preferencelist=("html",))
    assert plain is not None and html is not None
    assert plain.get_content_charset() == "utf-8" and html.get_content_charset() == "utf-8"
    assert "2026年3月1日" in plain.get_content()
    assert LINK in plain.get_content()
    assert f'href="{LINK}"' in html.get_content()


def test_smtp_same_key_same_message_id_so_duplicates_are_recognisable(smtp_server):
    handler, controller = smtp_server
    channel = SmtpChannel("127.0.0.1", controller.port, timeout=5)
    channel.send(sample_message())
    channel.send(sample_message())
    channel.send(sample_message(idempotency_key="other-key"))
    ids = [parse(e["content"])["Message-ID"] for e in handler.envelopes]
    assert ids[0] == ids[1] != ids[2]


def test_smtp_text_only_message(smtp_server):
    handler, controller = smtp_server
    SmtpChannel("127.0.0.1", controller.port, timeout=5).send(sample_message(html=None, recipient="a@example.org"))
    msg = parse(handler.envelopes[0]["content"])
    assert msg.get_content_type() == "text/plain"
    assert LINK in msg.get_content()


def test_smtp_subject_newlines_cannot_inject_headers(smtp_server):
    handler, controller = smtp_server
    SmtpChannel("127.0.0.1", controller.port, timeout=5).send(sample_message(subject="督办\r\nBcc: evil@example.com"))
    msg = parse(handler.envelopes[0]["content"])
    assert msg["Bcc"] is None
    assert msg["Subject"] == "督办 Bcc: evil@example.com"


def test_smtp_invalid_recipient_is_permanent():
    with pytest.raises(DeliveryError) as info:
        SmtpChannel("127.0.0.1", free_port(), timeout=5).send(sample_message(recipient="not-an-address"))
    assert info.value.retryable is False


def test_smtp_connection_refused_is_retryable():
    handler = RecordingHandler()
    controller = start_smtp(handler)
    port = controller.port
    controller.stop()  # nothing listens any more
    with pytest.raises(DeliveryError) as info:
        SmtpChannel("127.0.0.1", port, timeout=5).send(sample_message())
    assert info.value.retryable is True


def test_smtp_550_rejection_is_permanent():
    handler = RecordingHandler(rcpt_reply="550 5.1.1 <teacher@example.org>: mailbox unavailable")
    controller = start_smtp(handler)
    try:
        with pytest.raises(DeliveryError) as info:
            SmtpChannel("127.0.0.1", controller.port, timeout=5).send(sample_message())
    finally:
        controller.stop()
    assert info.value.retryable is False
    assert info.value.code == 550
    assert "mailbox unavailable" in info.value.detail


def test_smtp_550_at_data_is_permanent():
    handler = RecordingHandler(data_reply="550 5.7.1 message rejected as spam")
    controller = start_smtp(handler)
    try:
        with pytest.raises(DeliveryError) as info:
            SmtpChannel("127.0.0.1", controller.port, timeout=5).send(sample_message())
    finally:
        controller.stop()
    assert info.value.retryable is False
    assert info.value.code == 550


def test_smtp_451_temporary_failure_is_retryable():
    handler = RecordingHandler(data_reply="451 4.3.0 temporary failure, try again later")
    controller = start_smtp(handler)
    try:
        with pytest.raises(DeliveryError) as info:
            SmtpChannel("127.0.0.1", controller.port, timeout=5).send(sample_message())
    finally:
        controller.stop()
    assert info.value.retryable is True
    assert info.value.code == 451


def test_smtp_451_at_rcpt_is_retryable():
    handler = RecordingHandler(rcpt_reply="451 4.7.1 greylisted, come back later")
    controller = start_smtp(handler)
    try:
        with pytest.raises(DeliveryError) as info:
            SmtpChannel("127.0.0.1", controller.port, timeout=5).send(sample_message())
    finally:
        controller.stop()
    assert info.value.retryable is True


def test_smtp_rejects_starttls_together_with_implicit_ssl():
    with pytest.raises(ValueError):
        SmtpChannel("127.0.0.1", 465, starttls=True, ssl=True)


# -- TLS: a self-signed certificate made with `cryptography` --------------


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory):
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    d = tmp_path_factory.mktemp("tls")
    cert_path, key_path = d / "cert.pem", d / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


def server_ctx(tls_files) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(*map(str, tls_files))
    return ctx


def client_ctx(tls_files) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(tls_files[0]))


@pytest.fixture
def starttls_auth_server(tls_files):
    handler = RecordingHandler()
    controller = start_smtp(
        handler,
        tls_context=server_ctx(tls_files),
        require_starttls=True,
        authenticator=handler.authenticator,
        auth_required=True,
        auth_require_tls=True,
    )
    try:
        yield handler, controller
    finally:
        controller.stop()


def test_smtp_starttls_and_auth(starttls_auth_server, tls_files):
    handler, controller = starttls_auth_server
    channel = SmtpChannel(
        "127.0.0.1",
        controller.port,
        username="duban",
        password="s3cret",
        starttls=True,
        timeout=5,
        ssl_context=client_ctx(tls_files),
    )
    channel.send(sample_message())
    assert len(handler.envelopes) == 1
    assert handler.envelopes[0]["tls"] is True
    assert [ok for _mech, _login, ok in handler.logins] == [True]
    assert parse(handler.envelopes[0]["content"])["X-Tracker-Key"] == KEY


def test_smtp_wrong_password_is_permanent(starttls_auth_server, tls_files):
    handler, controller = starttls_auth_server
    channel = SmtpChannel(
        "127.0.0.1",
        controller.port,
        username="duban",
        password="wrong",
        starttls=True,
        timeout=5,
        ssl_context=client_ctx(tls_files),
    )
    with pytest.raises(DeliveryError) as info:
        channel.send(sample_message())
    assert info.value.retryable is False
    assert info.value.code == 535
    assert handler.envelopes == []


def test_smtp_without_starttls_against_a_server_requiring_it_is_permanent(starttls_auth_server):
    handler, controller = starttls_auth_server
    channel = SmtpChannel("127.0.0.1", controller.port, username="duban", password="s3cret", timeout=5)
    with pytest.raises(DeliveryError) as info:
        channel.send(sample_message())
    assert info.value.retryable is False
    assert handler.envelopes == []


def test_smtp_untrusted_certificate_is_permanent(starttls_auth_server):
    handler, controller = starttls_auth_server
    # default context: system CAs only, so the self-signed cert is refused
    channel = SmtpChannel("127.0.0.1", controller.port, username="duban", password="s3cret", starttls=True, timeout=5)
    with pytest.raises(DeliveryError) as info:
        channel.send(sample_message())
    assert info.value.retryable is False
    assert "certificate" in info.value.detail
    assert handler.envelopes == []


def test_smtp_implicit_tls(tls_files):
    handler = RecordingHandler()
    controller = start_smtp(handler, ssl_context=server_ctx(tls_files))
    try:
        channel = SmtpChannel("127.0.0.1", controller.port, ssl=True, timeout=5, ssl_context=client_ctx(tls_files))
        channel.send(sample_message())
    finally:
        controller.stop()
    assert len(handler.envelopes) == 1
    assert parse(handler.envelopes[0]["content"])["Subject"].startswith("【到期提醒】")


# ==========================================================================
# Webhooks
# ==========================================================================


class RecordingHTTPHandler(BaseHTTPRequestHandler):
    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        self.server.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
        if self.server.delay:
            time.sleep(self.server.delay)
        status, payload = self.server.reply
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode("utf-8")
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):  # client gave up (timeout test)
            pass

    def log_message(self, *args):  # keep test output quiet
        pass


@pytest.fixture
def http_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), RecordingHTTPHandler)
    server.requests = []
    server.reply = (200, {"errcode": 0, "errmsg": "ok"})
    server.delay = 0
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def base_url(server) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}"


def test_dingtalk_markdown_shape_and_signature(http_server):
    secret = "SEC0123456789abcdef+/="
    ts = 1767225600123
    url = base_url(http_server) + "/robot/send?access_token=abc123"
    channel = WebhookChannel(url, flavor="dingtalk", secret=secret, now_ms=lambda: ts)
    result = channel.send(sample_message())
    assert result.status == 200
    assert result.recipient == base_url(http_server) + "/robot/send"  # no access token in logs

    req = http_server.requests[0]
    assert req["headers"]["Content-Type"].startswith("application/json")
    body = json.loads(req["body"].decode("utf-8"))
    assert body["msgtype"] == "markdown"
    assert set(body["markdown"]) == {"title", "text"}
    assert body["markdown"]["title"] == sample_message().subject
    assert "2026年3月1日" in body["markdown"]["text"]
    assert f"]({LINK})" in body["markdown"]["text"]

    # the signature, computed here independently of the channel's code
    string_to_sign = f"{ts}\n{secret}".encode("utf-8")
    expected = base64.b64encode(hmac.new(secret.encode("utf-8"), string_to_sign, hashlib.sha256).digest()).decode()
    split = urllib.parse.urlsplit(req["path"])
    assert split.path == "/robot/send"
    query = urllib.parse.parse_qs(split.query)
    assert query["access_token"] == ["abc123"]
    assert query["timestamp"] == [str(ts)]
    assert query["sign"] == [expected]
    # and URL-encoded exactly like DingTalk's sample (quote_plus)
    assert f"sign={urllib.parse.quote_plus(expected)}" in split.query


def test_dingtalk_without_secret_has_no_sign(http_server):
    url = base_url(http_server) + "/robot/send?access_token=abc"
    WebhookChannel(url, flavor="dingtalk").send(sample_message())
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(http_server.requests[0]["path"]).query)
    assert set(query) == {"access_token"}


def test_dingtalk_errcode_is_an_error_with_errmsg(http_server):
    http_server.reply = (200, {"errcode": 310000, "errmsg": "sign not match"})
    channel = WebhookChannel(base_url(http_server) + "/robot/send?access_token=x", secret="s", now_ms=lambda: 1)
    with pytest.raises(DeliveryError) as info:
        channel.send(sample_message())
    assert "sign not match" in info.value.detail
    assert info.value.code == 310000
    assert info.value.retryable is False


def test_robot_rate_limit_errcode_is_retryable(http_server):
    http_server.reply = (200, {"errcode": 130101, "errmsg": "send too fast"})
    with pytest.raises(DeliveryError) as info:
        WebhookChannel(base_url(http_server) + "/robot/send").send(sample_message())
    assert info.value.retryable is True


def test_wecom_markdown_shape(http_server):
    url = base_url(http_server) + "/cgi-bin/webhook/send?key=K"
    WebhookChannel(url, flavor="wecom").send(sample_message())
    body = json.loads(http_server.requests[0]["body"])
    assert body["msgtype"] == "markdown"
    assert set(body["markdown"]) == {"content"}
    content = body["markdown"]["content"]
    assert "教师交流轮岗" in content and LINK in content


def test_wecom_long_content_is_cut_to_4096_bytes_keeping_the_link(http_server):
    url = base_url(http_server) + "/cgi-bin/webhook/send?key=K"
    WebhookChannel(url, flavor="wecom").send(sample_message(text="督办" * 3000))
    content = json.loads(http_server.requests[0]["body"])["markdown"]["content"]
    assert len(content.encode("utf-8")) <= 4096
    assert content.endswith(f"({LINK})")


def test_wecom_errcode_is_an_error(http_server):
    http_server.reply = (200, {"errcode": 93000, "errmsg": "invalid webhook url"})
    with pytest.raises(DeliveryError) as info:
        WebhookChannel(base_url(http_server) + "/w", flavor="wecom").send(sample_message())
    assert "invalid webhook url" in info.value.detail and info.value.retryable is False


def test_wecom_refuses_a_secret():
    with pytest.raises(ValueError):
        WebhookChannel("https://qyapi.example/send", flavor="wecom", secret="x")


def test_generic_json_and_hmac_header(http_server):
    secret = "generic-secret"
    items = [{"task_title": "任务一", "deadline": dt.date(2026, 3, 1)}]
    WebhookChannel(base_url(http_server) + "/hook", flavor="generic", secret=secret).send(sample_message(items=items))
    req = http_server.requests[0]
    body = json.loads(req["body"])
    assert body == {
        "key": KEY,
        "subject": sample_message().subject,
        "text": sample_message().text,
        "link": LINK,
        "items": [{"task_title": "任务一", "deadline": "2026-03-01"}],
    }
    expected = "sha256=" + hmac.new(secret.encode(), req["body"], hashlib.sha256).hexdigest()
    assert req["headers"]["X-Tracker-Signature"] == expected
    assert req["headers"]["X-Tracker-Key"] == KEY


def test_generic_without_secret_has_no_signature_and_ignores_body(http_server):
    http_server.reply = (204, b"")
    WebhookChannel(base_url(http_server) + "/hook", flavor="generic").send(sample_message())
    assert "X-Tracker-Signature" not in http_server.requests[0]["headers"]


def test_webhook_url_from_recipient_when_channel_has_none(http_server):
    channel = WebhookChannel(None, flavor="generic")
    result = channel.send(sample_message(recipient=base_url(http_server) + "/per-user"))
    assert http_server.requests[0]["path"] == "/per-user"
    assert result.recipient.endswith("/per-user")


def test_webhook_refuses_non_http_urls():
    with pytest.raises(ValueError):
        WebhookChannel("file:///etc/passwd")
    with pytest.raises(DeliveryError) as info:
        WebhookChannel(None, flavor="generic").send(sample_message(recipient="file:///etc/passwd"))
    assert info.value.retryable is False


@pytest.mark.parametrize("flavor", ["dingtalk", "wecom", "generic"])
def test_webhook_http_500_is_retryable(http_server, flavor):
    http_server.reply = (500, b"internal error")
    with pytest.raises(DeliveryError) as info:
        WebhookChannel(base_url(http_server) + "/x", flavor=flavor).send(sample_message())
    assert info.value.retryable is True
    assert info.value.code == 500


@pytest.mark.parametrize("flavor", ["dingtalk", "wecom", "generic"])
def test_webhook_http_400_is_permanent(http_server, flavor):
    http_server.reply = (400, b"bad request")
    with pytest.raises(DeliveryError) as info:
        WebhookChannel(base_url(http_server) + "/x", flavor=flavor).send(sample_message())
    assert info.value.retryable is False
    assert info.value.code == 400
    assert "bad request" in info.value.detail


def test_webhook_http_429_is_retryable(http_server):
    http_server.reply = (429, b"slow down")
    with pytest.raises(DeliveryError) as info:
        WebhookChannel(base_url(http_server) + "/x", flavor="generic").send(sample_message())
    assert info.value.retryable is True


def test_webhook_timeout_is_retryable(http_server):
    http_server.delay = 1.5
    with pytest.raises(DeliveryError) as info:
        WebhookChannel(base_url(http_server) + "/x", flavor="generic", timeout=0.3).send(sample_message())
    assert info.value.retryable is True


def test_webhook_connection_refused_is_retryable():
    url = f"http://127.0.0.1:{free_port()}/x"
    with pytest.raises(DeliveryError) as info:
        WebhookChannel(url, flavor="generic", timeout=2).send(sample_message())
    assert info.value.retryable is True


def test_robot_non_json_answer_is_an_error(http_server):
    http_server.reply = (200, b"<html>proxy login</html>")
    with pytest.raises(DeliveryError):
        WebhookChannel(base_url(http_server) + "/x", flavor="dingtalk").send(sample_message())


# ==========================================================================
# Retry policy
# ==========================================================================


def test_retry_delay_values():
    assert [retry_delay(a) for a in range(1, 9)] == [60, 120, 240, 480, 960, 1920, 3600, 3600]
    assert retry_delay(1, base=10, cap=25) == 10
    assert retry_delay(2, base=10, cap=25) == 20
    assert retry_delay(3, base=10, cap=25) == 25
    assert retry_delay(10_000) == 3600
    with pytest.raises(ValueError):
        retry_delay(0)


@given(
    st.integers(min_value=1, max_value=500),
    st.integers(min_value=0, max_value=10_000),
    st.integers(min_value=0, max_value=100_000),
)
def test_retry_delay_is_monotonic_and_capped(attempt, base, cap):
    d = retry_delay(attempt, base=base, cap=cap)
    assert 0 <= d <= cap
    assert d <= retry_delay(attempt + 1, base=base, cap=cap)
    if base * 2 ** (attempt - 1) <= cap:
        assert d == base * 2 ** (attempt - 1)


def test_delivery_error_pickles():
    import pickle

    err = pickle.loads(pickle.dumps(DeliveryError(False, "550 no such user", code=550)))
    assert (err.retryable, err.detail, err.code) == (False, "550 no such user", 550)


def test_should_retry():
    assert MAX_ATTEMPTS == 5
    temp, perm = DeliveryError(True, "451"), DeliveryError(False, "550")
    assert should_retry(temp, 1) and should_retry(temp, 4)
    assert not should_retry(temp, 5)
    assert not should_retry(perm, 1)
    assert not should_retry(ValueError("x"), 1)
    assert should_retry(temp, 7, max_attempts=8)


# ==========================================================================
# Messages
# ==========================================================================

EVIL = '<script>alert("x")</script>&'


def task(**over):
    fields = dict(
        title="推进集团化办学",
        link=LINK,
        measure_no="3.2",
        measure_title="优化教师资源配置",
        unit="城关区教育局",
        deadline=dt.date(2026, 3, 1),
    )
    fields.update(over)
    return M.TaskRef(**fields)


def test_format_date_cn():
    assert M.format_date_cn(dt.date(2026, 3, 1)) == "2026年3月1日"
    assert M.format_date_cn(dt.datetime(2025, 10, 11, 9, 30)) == "2025年10月11日"
    assert M.format_date_cn("2026-12-09") == "2026年12月9日"
    assert M.format_date_cn(None) == "未设定"


ALL_SINGLE = [
    lambda t: M.reminder(t, 3),
    lambda t: M.reminder(t, 0),
    lambda t: M.overdue_notice(t, 5),
    lambda t: M.escalation(t, 12, ladder_label="二级督办", note=EVIL),
    lambda t: M.interview_flag(t, 30, reason=EVIL),
    lambda t: M.task_returned(t, reason=EVIL, returned_by="李科长"),
    lambda t: M.task_verified(t, verified_by="王主任", comment=EVIL, verified_on=dt.date(2026, 3, 2)),
    lambda t: M.extension_decision(t, True, new_deadline=dt.date(2026, 4, 15), comment=EVIL),
    lambda t: M.extension_decision(t, False, comment=EVIL),
]


@pytest.mark.parametrize("build", ALL_SINGLE)
def test_single_notices_escape_html_and_carry_the_link(build):
    r = build(task(title=EVIL, unit="<b>单位</b>"))
    assert "<script>" not in r.html and "<b>单位</b>" not in r.html
    assert "&lt;script&gt;" in r.html
    assert LINK in r.text and f'href="{LINK}"' in r.html
    assert "2026年3月1日" in r.text and "2026年3月1日" in r.html
    assert "\n" not in r.subject and r.subject.startswith("【")
    assert r.link == LINK
    assert "2026-03-01" not in r.text


def test_notice_contents():
    r = M.reminder(task(), 3)
    assert r.subject == "【到期提醒】任务“推进集团化办学”距截止还有3天"
    assert "3.2 优化教师资源配置" in r.text and "城关区教育局" in r.text
    assert "今天截止" in M.reminder(task(), 0).subject
    with pytest.raises(ValueError):
        M.reminder(task(), -1)
    assert "已逾期5天" in M.overdue_notice(task(), 5).subject
    esc = M.escalation(task(), 12, ladder_label="二级督办")
    assert esc.subject == "【督办】城关区教育局任务“推进集团化办学”逾期12天（二级督办）"
    assert "约谈" in M.interview_flag(task(), 30).subject
    assert "退回意见：材料不全" in M.task_returned(task(), "材料不全").text
    ok = M.extension_decision(task(), True, new_deadline="2026-04-15")
    assert "2026年4月15日" in ok.subject and "由2026年3月1日调整为2026年4月15日" in ok.text
    no = M.extension_decision(task(), False)
    assert "未批准" in no.subject and "2026年3月1日" in no.subject
    with pytest.raises(ValueError):
        M.extension_decision(task(), True)


def test_mapping_input_and_javascript_links_are_not_clickable():
    r = M.reminder({"task_title": "任务甲", "link": "javascript:alert(1)", "deadline": "2026-03-01"}, 1)
    assert "javascript:alert(1)" in r.text
    assert 'href="javascript' not in r.html


def test_link_quotes_are_escaped_in_href():
    r = M.overdue_notice(task(link='https://x.example/t?a=1&b="><script>'), 1)
    assert '"><script>' not in r.html
    assert 'href="https://x.example/t?a=1&amp;b=&quot;&gt;&lt;script&gt;"' in r.html


def test_daily_digest_orders_overdue_first_and_escapes():
    items = [
        {"task_title": "任务A", "measure": "1.1", "deadline": dt.date(2026, 3, 10), "days_left": 5, "link": LINK + "/a"},
        {"task_title": EVIL, "measure": "2.1", "deadline": dt.date(2026, 2, 20), "days_overdue": 3, "link": LINK + "/b"},
        {"task_title": "任务C", "measure": "2.3", "deadline": dt.date(2026, 2, 1), "days_overdue": 20, "note": "<i>急</i>"},
        {"task_title": "任务D", "measure": "3.1", "deadline": dt.date(2026, 3, 5), "days_left": 0},
    ]
    r = M.daily_digest(items, dt.date(2026, 3, 5), recipient_name="张老师", link="https://duban.example.org/my")
    assert r.subject == "【每日待办】2026年3月5日：共4项任务需关注（其中逾期2项）"
    assert [i["task_title"] for i in r.items] == ["任务C", EVIL, "任务D", "任务A"]
    assert r.items[0]["deadline"] == "2026-02-01"  # JSON-able
    json.dumps(r.items)
    text = r.text
    assert text.index("任务C") < text.index("任务D") < text.index("任务A")
    assert "已逾期20天" in text and "今天截止" in text and "还剩5天" in text
    assert "张老师" in text and "https://duban.example.org/my" in text and LINK + "/a" in text
    assert "<script>" not in r.html and "<i>急</i>" not in r.html and "&lt;i&gt;" in r.html
    assert f'href="{LINK}/a"' in r.html and 'href="https://duban.example.org/my"' in r.html
    with pytest.raises(ValueError):
        M.daily_digest([], dt.date(2026, 3, 5))


def _row(county, department, measure, title, deadline, overdue, ladder, **extra):
    return dict(county=county, department=department, measure=measure, task_title=title,
                deadline=deadline, days_overdue=overdue, ladder_label=ladder, **extra)


WEEKLY = [
    _row("城关区", "人事科", "3.2", "教师轮岗", dt.date(2026, 2, 1), 5, "一级督办"),
    _row("安宁区", "基教科", "1.1", "学位扩容", "2026-01-15", 22, "约谈"),
    _row("城关区", "基教科", "1.4", "课后服务", dt.date(2026, 2, 10), 2, ""),
    _row("城关区", "人事科", "3.3", "职称评审<script>", dt.date(2026, 1, 20), 15, "二级督办", link=LINK),
]


def test_weekly_digest_groups_by_county_then_department():
    groups = M.group_by_county_department(WEEKLY)
    assert [c for c, _ in groups] == ["城关区", "安宁区"]
    assert [d for d, _ in groups[0][1]] == ["人事科", "基教科"]
    # inside a department: most overdue first
    assert [r["task_title"] for r in groups[0][1][0][1]] == ["职称评审<script>", "教师轮岗"]

    r = M.weekly_leadership_digest(WEEKLY, dt.date(2026, 2, 2), link="https://duban.example.org/ledger")
    assert r.subject == "【每周督办简报】2026年2月2日—2026年2月8日：逾期任务4项"
    assert "涉及2个县区" in r.text
    t = r.text
    assert t.index("城关区（3项）") < t.index("人事科（2项）") < t.index("职称评审") < t.index("教师轮岗")
    assert t.index("教师轮岗") < t.index("基教科（1项）") < t.index("课后服务") < t.index("安宁区（1项）")
    assert "2026年1月15日" in t and "逾期22天" in t and "【约谈】" in t
    assert "https://duban.example.org/ledger" in t and LINK in t
    assert "<script>" not in r.html and "职称评审&lt;script&gt;" in r.html
    assert r.html.index("城关区") < r.html.index("安宁区")
    assert f'href="{LINK}"' in r.html and 'href="https://duban.example.org/ledger"' in r.html
    assert [(i["county"], i["department"]) for i in r.items] == [
        ("城关区", "人事科"), ("城关区", "人事科"), ("城关区", "基教科"), ("安宁区", "基教科")
    ]
    json.dumps(r.items)


def test_weekly_digest_without_rows_and_missing_county():
    empty = M.weekly_leadership_digest([], "2026-02-02")
    assert "逾期任务0项" in empty.subject and "没有逾期" in empty.text
    r = M.weekly_leadership_digest([{"task_title": "X", "days_overdue": 1}], dt.date(2026, 2, 2))
    assert M.NO_COUNTY in r.text and M.NO_DEPARTMENT in r.text


def test_rendered_message_goes_through_smtp_and_webhook(smtp_server, http_server):
    handler, controller = smtp_server
    r = M.escalation(task(title=EVIL), 12, ladder_label="二级督办")
    SmtpChannel("127.0.0.1", controller.port, timeout=5).send(r.to_message("leader@example.org", "esc:42:2"))
    msg = parse(handler.envelopes[0]["content"])
    assert msg["Subject"] == r.subject
    assert msg.get_body(("html",)).get_content().rstrip("\n") == r.html
    assert msg.get_body(("plain",)).get_content().replace("\r\n", "\n").rstrip("\n") == r.text

    digest = M.daily_digest([{"task_title": "任务A", "deadline": dt.date(2026, 3, 10), "days_left": 5}], dt.date(2026, 3, 5))
    WebhookChannel(base_url(http_server) + "/hook", flavor="generic").send(digest.to_message("", "digest:7:2026-03-05"))
    body = json.loads(http_server.requests[0]["body"])
    assert body["items"][0]["task_title"] == "任务A" and body["items"][0]["deadline"] == "2026-03-10"
    assert body["key"] == "digest:7:2026-03-05"
