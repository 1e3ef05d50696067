"""Limits every spreadsheet import shares: no formulas, bounded rows and cell lengths.

A formula in an uploaded workbook is refused rather than evaluated or trusted: its cached value may
not match what it computes, and a formula that reaches a later CSV/Excel export is the classic
spreadsheet-injection vector (=HYPERLINK(…), =cmd|…). Importers open the workbook with
``data_only=False`` so openpyxl reports formula cells as data_type ``'f'``, then pass every cell
through :func:`check_cell` (or the whole workbook through :func:`check_workbook`).

Used by tracker.plans.xlsx (plan import); tracker.indicators.schooldata can call the same helpers.
"""
from __future__ import annotations

from typing import Any

from flask_babel import gettext as _

#: more rows than any plan or county's school list; a bigger sheet is a mistake or an attack
MAX_ROWS = 100_000
#: longer than any clause of a plan; a bigger cell is a mistake or an attack
MAX_CELL_CHARS = 10_000


class SpreadsheetRefused(ValueError):
    """A workbook that must not be imported; the message (Chinese) names sheet, row and column."""


def column_letter(index: int) -> str:
    """1 → A, 27 → AA."""
    from openpyxl.utils import get_column_letter

    return get_column_letter(index)


def where(sheet: str, row: int, column: int) -> str:
    return _("工作表“%(sheet)s”第%(row)d行第%(column)s列", sheet=sheet, row=row, column=column_letter(column))


def check_cell(value: Any, data_type: str | None, where: str) -> None:
    """Refuse a formula cell (openpyxl data_type 'f', or a value object of an array/table formula)
    and an over-long text; `where` names the place in the message (see :func:`where`)."""
    if data_type == "f" or type(value).__name__ in ("ArrayFormula", "DataTableFormula"):
        shown = str(getattr(value, "text", value))[:60]
        raise SpreadsheetRefused(_("%(where)s是公式（%(formula)s）：导入文件中不能含公式，请把公式单元格改为数值或文字"
                                   "（复制后“选择性粘贴 → 数值”）再导入。", where=where, formula=shown))
    if isinstance(value, str) and len(value) > MAX_CELL_CHARS:
        raise SpreadsheetRefused(_("%(where)s的内容超过 %(limit)d 个字符，请检查是否粘贴有误。", where=where,
                                   limit=MAX_CELL_CHARS))


def check_rows(count: int, sheet: str) -> None:
    if count > MAX_ROWS:
        raise SpreadsheetRefused(_("工作表“%(sheet)s”有 %(count)d 行，超过上限 %(limit)d 行。", sheet=sheet, count=count,
                                   limit=MAX_ROWS))


def check_workbook(wb, *, max_problems: int = 20) -> list[str]:
    """Every problem of a workbook opened with data_only=False (at most `max_problems`), as messages.

    Sheets are checked for size first (max_row is known without reading cells), then cell by cell.
    """
    problems: list[str] = []
    for ws in wb.worksheets:
        try:
            check_rows(ws.max_row or 0, ws.title)
        except SpreadsheetRefused as exc:
            problems.append(str(exc))
            continue
        for row in ws.iter_rows():
            for cell in row:
                if cell.value is None:
                    continue
                try:
                    check_cell(cell.value, cell.data_type, where(ws.title, cell.row, cell.column))
                except SpreadsheetRefused as exc:
                    problems.append(str(exc))
                    if len(problems) >= max_problems:
                        return problems
    return problems
