"""Small builders shared by tests: files of real types, a task picked from the Chuxiong plan."""
from __future__ import annotations

import io
import zipfile

from sqlalchemy import select

from tracker.extensions import db
from tracker.models import Task, Unit

PDF_BYTES = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
PNG_BYTES = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def docx_bytes() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("word/document.xml", "<w:document/>")
    return buf.getvalue()


def unit_named(name: str) -> Unit:
    return db.session.scalar(select(Unit).where(Unit.name == name))


def task_of(unit_name: str, measure_number: str = "三") -> Task:
    return db.session.scalar(select(Task).join(Task.unit).join(Task.measure)
                             .where(Unit.name == unit_name, Task.measure.has(number=measure_number)))
