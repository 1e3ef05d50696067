"""Ledgers (台账) as .xlsx with headers in the reader's language and sensible column widths."""
from __future__ import annotations

import io
from datetime import date

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from tracker.tasks.models import Task
from workflows import LADDER_LABELS, STATE_LABELS

HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")


def safe_cell(value):
    """Text that Excel would run as a formula (=, +, -, @ …) is written as plain text."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def workbook(title: str, header: list[str], rows: list[list], widths: list[int]) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.title = title[:31]
    ws.append(header)
    for row in rows:
        ws.append([safe_cell(v) for v in row])
    for i, width in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(i)].width = width
    for cell in ws[1]:
        cell.font, cell.fill = Font(bold=True), HEADER_FILL
    for row in ws.iter_rows(min_row=2):
        for cell in row:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
            if isinstance(cell.value, date):
                cell.number_format = "yyyy-mm-dd"
    ws.freeze_panes = "A2"
    ws.auto_filter.ref = ws.dimensions
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


#: a read-only export: its headers are interface text, in the reader's language
TASK_HEADER = [_l("任务编号"), _l("部分"), _l("措施"), _l("责任单位"), _l("单位类别"), _l("牵头"), _l("完成时限"), _l("状态"),
               _l("督办等级"), _l("进度(%)"), _l("逾期天数"), _l("办结时间")]


def task_header() -> list[str]:
    return [str(h) for h in TASK_HEADER]


TASK_WIDTHS = [9, 28, 36, 18, 8, 6, 12, 9, 9, 8, 9, 12]


def task_rows(tasks: list[Task], today: date) -> list[list]:
    rows = []
    for t in tasks:
        overdue = (today - t.deadline).days if t.deadline < today and t.status not in ("completed", "cancelled") else 0
        rows.append([t.id, _("%(number)s、%(title)s", number=t.measure.section.number, title=t.measure.section.title),
                     t.measure.label, t.unit.name, str(t.unit.kind_label), _("是") if t.is_lead else "", t.deadline,
                     str(STATE_LABELS.get(t.status, t.status)), str(LADDER_LABELS.get(t.ladder, t.ladder)),
                     t.progress_percent, overdue or "",
                     t.completed_at.date() if t.completed_at else ""])
    return rows
