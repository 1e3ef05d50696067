"""Ledgers (台账) as .xlsx with Chinese headers and sensible column widths."""
from __future__ import annotations

import io
from datetime import date

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


TASK_HEADER = ["任务编号", "部分", "措施", "责任单位", "单位类别", "牵头", "完成时限", "状态", "督办等级", "进度(%)", "逾期天数", "办结时间"]
TASK_WIDTHS = [9, 28, 36, 18, 8, 6, 12, 9, 9, 8, 9, 12]


def task_rows(tasks: list[Task], today: date) -> list[list]:
    rows = []
    for t in tasks:
        overdue = (today - t.deadline).days if t.deadline < today and t.status not in ("completed", "cancelled") else 0
        rows.append([t.id, f"{t.measure.section.number}、{t.measure.section.title}", t.measure.label, t.unit.name,
                     t.unit.kind_label, "是" if t.is_lead else "", t.deadline, STATE_LABELS.get(t.status, t.status),
                     LADDER_LABELS.get(t.ladder, t.ladder), t.progress_percent, overdue or "",
                     t.completed_at.date() if t.completed_at else ""])
    return rows
