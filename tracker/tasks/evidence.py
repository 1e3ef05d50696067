"""Evidence files: stored once under instance/evidence/<sha256>, type judged by content, size capped.

The user's file name is kept only as a label (cleaned); it is never part of a path.
"""
from __future__ import annotations

import hashlib
import os
import re
import tempfile
import unicodedata
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

CHUNK = 64 * 1024


class EvidenceRejected(ValueError):
    """An upload that cannot be accepted; the message says why, in Chinese."""


@dataclass(frozen=True)
class FileType:
    mimetype: str
    label: str  # lazily translated
    extensions: tuple[str, ...]


PDF = FileType("application/pdf", _l("PDF 文档"), (".pdf",))
DOCX = FileType("application/vnd.openxmlformats-officedocument.wordprocessingml.document", _l("Word 文档"), (".docx",))
XLSX = FileType("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", _l("Excel 表格"), (".xlsx",))
PPTX = FileType("application/vnd.openxmlformats-officedocument.presentationml.presentation", _l("PowerPoint 演示文稿"),
                (".pptx",))
OLE = FileType("application/x-ole-storage", _l("Office 97-2003 / WPS 文档"), (".doc", ".xls", ".ppt", ".wps", ".et", ".dps"))
OFD = FileType("application/ofd", _l("OFD 版式文档"), (".ofd",))
PNG = FileType("image/png", _l("PNG 图片"), (".png",))
JPEG = FileType("image/jpeg", _l("JPEG 图片"), (".jpg", ".jpeg"))
GIF = FileType("image/gif", _l("GIF 图片"), (".gif",))
WEBP = FileType("image/webp", _l("WebP 图片"), (".webp",))
ALLOWED_HINT = _l("PDF、Word/Excel/PowerPoint（含 97-2003 与 WPS 格式）、OFD、PNG/JPEG/GIF/WebP 图片")


def sniff(path: Path) -> FileType | None:
    """The file's type from its first bytes (and, for zip containers, its member names)."""
    with open(path, "rb") as fh:
        head = fh.read(16)
    if head.startswith(b"%PDF-"):
        return PDF
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return GIF
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return OLE
    if head.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(path) as zf:
                names = set(zf.namelist())
        except zipfile.BadZipFile:
            return None
        if "OFD.xml" in names:
            return OFD
        if "[Content_Types].xml" in names:
            if any(n.startswith("word/") for n in names):
                return DOCX
            if any(n.startswith("xl/") for n in names):
                return XLSX
            if any(n.startswith("ppt/") for n in names):
                return PPTX
    return None


def clean_filename(name: str) -> str:
    """A safe display name: last path component, no control characters, bounded length."""
    name = unicodedata.normalize("NFC", name or "")
    name = re.split(r"[\\/]", name)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip().lstrip(".")
    if len(name) > 200:
        stem, ext = os.path.splitext(name)
        name = stem[: 200 - len(ext)] + ext
    return name or "未命名文件"  # i18n: data (stored as the file's name)


def evidence_dir() -> Path:
    path = Path(current_app.config.get("EVIDENCE_DIR") or Path(current_app.instance_path) / "evidence")
    path.mkdir(parents=True, exist_ok=True)
    return path


def stored_path(sha256: str) -> Path:
    if not re.fullmatch(r"[0-9a-f]{64}", sha256):
        raise ValueError("invalid digest")
    return evidence_dir() / sha256[:2] / sha256


@dataclass(frozen=True)
class Received:
    sha256: str
    size: int
    filetype: FileType
    filename: str


def receive(stream: BinaryIO, filename: str) -> Received:
    """Stream the upload to disk while hashing; stop as soon as it exceeds the limit."""
    limit = int(current_app.config["EVIDENCE_MAX_BYTES"])
    name = clean_filename(filename)
    folder = evidence_dir()
    digest, size = hashlib.sha256(), 0
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".upload-")
    try:
        with os.fdopen(fd, "wb") as out:
            while chunk := stream.read(CHUNK):
                size += len(chunk)
                if size > limit:
                    raise EvidenceRejected(_("文件“%(name)s”超过大小上限 %(size)d MB。", name=name,
                                             size=limit // (1024 * 1024)))
                digest.update(chunk)
                out.write(chunk)
        if size == 0:
            raise EvidenceRejected(_("文件“%(name)s”是空文件。", name=name))
        filetype = sniff(Path(tmp))
        if filetype is None:
            raise EvidenceRejected(_("文件“%(name)s”的内容不是允许的类型（%(allowed)s）。", name=name, allowed=ALLOWED_HINT))
        ext = os.path.splitext(name)[1].lower()
        if ext not in filetype.extensions:
            raise EvidenceRejected(_("文件“%(name)s”的内容是%(kind)s，与扩展名“%(ext)s”不符。", name=name, kind=filetype.label,
                                     ext=ext or _("（无）")))
        sha = digest.hexdigest()
        target = stored_path(sha)
        target.parent.mkdir(exist_ok=True)
        if target.exists():
            os.unlink(tmp)  # same content already stored once
        else:
            os.replace(tmp, target)
        return Received(sha256=sha, size=size, filetype=filetype, filename=name)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def store_upload(stream: BinaryIO, filename: str) -> Received:
    """Receive an upload and make sure its StoredFile row exists (one per content); bad files → Invalid.

    Every place that accepts a document (task evidence, county indicator entries, accountability
    decisions) stores it through here, so the checks and the once-per-content rule are one piece.
    """
    from tracker.clock import utcnow
    from tracker.errors import Invalid
    from tracker.extensions import db
    from tracker.tasks.models import StoredFile

    try:
        received = receive(stream, filename)
    except EvidenceRejected as exc:
        raise Invalid(str(exc)) from None
    if db.session.get(StoredFile, received.sha256) is None:
        db.session.add(StoredFile(sha256=received.sha256, size=received.size, mimetype=received.filetype.mimetype,
                                  created_at=utcnow()))
    return received
