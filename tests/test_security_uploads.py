"""Uploads: size limits enforced from Content-Length before the body is read (JSON 413 on the API,
a Chinese 413 page on the pages), the evidence limit while streaming, downloads as attachments with
nosniff, and spreadsheet imports refusing formulas, giant cells and giant sheets."""
from __future__ import annotations

import io
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from tests.conftest import CHUXIONG
from tests.helpers import PDF_BYTES, task_of
from tests.test_api_support import API, bearer, count, error_of
from tracker import spreadsheets
from tracker.plans.planfile import read_plan_file, write_plan_file
from tracker.plans.spec import PlanFileError
from tracker.tasks.models import Evidence, StoredFile


class ExplodingStream(io.RawIOBase):
    """A request body that must never be read."""

    def readable(self):
        return True

    def readinto(self, _buffer):
        raise AssertionError("the body was read although its declared size is over the limit")


@pytest.fixture
def accepted(db, chuxiong, make_user):
    from tracker.tasks import operations as ops

    user = make_user("lufeng", "unit", "532302")
    task = task_of("禄丰市")
    ops.fire(task, "accept", user)
    db.session.commit()
    return task, user


def _huge(client, path, headers, content_type="multipart/form-data; boundary=xyz"):
    return client.post(path, content_type=content_type, headers=headers, environ_overrides={
        "wsgi.input": ExplodingStream(), "CONTENT_LENGTH": str(200 * 1024 * 1024)})


def test_api_refuses_oversized_bodies_before_reading_them(client, accepted):
    task, user = accepted
    headers = bearer(user)
    err = error_of(_huge(client, f"{API}/tasks/{task.id}/evidence", headers))
    assert err["status"] == 413 and err["code"] == "too_large" and "MB" in err["message"]
    err = error_of(_huge(client, f"{API}/tasks/{task.id}/progress", headers, "application/json"))
    assert err["status"] == 413 and err["code"] == "too_large"
    err = error_of(_huge(client, f"{API}/schools/imports", headers))
    assert err["status"] == 413
    assert count(Evidence) == 0


def test_api_json_body_over_its_limit_is_413(app, client, accepted):
    task, user = accepted
    body = b'{"percent": 1, "text": "' + b"x" * (5 * 1024 * 1024) + b'", "version": 2}'
    resp = client.post(f"{API}/tasks/{task.id}/progress", data=body, content_type="application/json",
                       headers=bearer(user))
    assert error_of(resp)["status"] == 413


def test_pages_refuse_oversized_uploads_with_a_chinese_page(client, accepted, login):
    task, _user = accepted
    login("lufeng")
    resp = _huge(client, f"/tasks/{task.id}/evidence", {})
    assert resp.status_code == 413 and "上传的文件太大" in resp.get_data(as_text=True)
    assert resp.mimetype == "text/html"


def test_evidence_limit_is_enforced_while_streaming(app, client, accepted):
    task, user = accepted
    app.config["EVIDENCE_MAX_BYTES"] = 1024
    try:
        big_pdf = PDF_BYTES + b"%" * 4096
        err = error_of(client.post(f"{API}/tasks/{task.id}/evidence", headers=bearer(user),
                                   data={"file": (io.BytesIO(big_pdf), "大.pdf"), "version": "2"},
                                   content_type="multipart/form-data"))
        assert err["status"] == 422 and "超过大小上限" in err["message"]
        folder = Path(app.config["EVIDENCE_DIR"])
        assert not list(folder.glob(".upload-*"))  # the partial file is gone
        assert count(StoredFile) == 0 and count(Evidence) == 0
    finally:
        app.config["EVIDENCE_MAX_BYTES"] = 50 * 1024 * 1024


def test_page_download_is_an_attachment_with_nosniff(client, accepted, login, db):
    from tracker.tasks import operations as ops

    task, user = accepted
    item = ops.add_evidence(task, user, io.BytesIO(PDF_BYTES), "<b>x</b>.pdf")
    db.session.commit()
    login("lufeng")
    resp = client.get(f"/evidence/{item.id}")
    assert resp.status_code == 200 and resp.headers["Content-Disposition"].startswith("attachment")
    assert resp.headers["X-Content-Type-Options"] == "nosniff"


# ── spreadsheets ────────────────────────────────────────────────────────────────────────────
def _exported(tmp_path) -> Path:
    path = tmp_path / "plan.xlsx"
    write_plan_file(read_plan_file(CHUXIONG), path)
    return path


def test_plan_workbook_with_a_formula_is_refused_naming_the_cell(tmp_path):
    path = _exported(tmp_path)
    wb = load_workbook(path)
    wb["任务分解表"]["D3"] = '=HYPERLINK("http://evil.example","点击")'
    wb["方案信息"]["B3"] = "=1+1"
    wb.save(path)
    with pytest.raises(PlanFileError) as info:
        read_plan_file(path)
    message = str(info.value)
    assert "工作表“任务分解表”第3行第D列是公式" in message and "工作表“方案信息”第3行第B列是公式" in message


def test_plan_workbook_with_a_giant_cell_is_refused(tmp_path):
    path = _exported(tmp_path)
    wb = load_workbook(path)
    wb["任务分解表"]["D2"] = "很长" * 6000
    wb.save(path)
    with pytest.raises(PlanFileError) as info:
        read_plan_file(path)
    assert "第2行第D列的内容超过 10000 个字符" in str(info.value)


def test_text_starting_with_equals_is_exported_as_text_and_reimports(tmp_path):
    spec = read_plan_file(CHUXIONG)
    spec.sections[0].measures[0].text = "=到2025年底，全州确保20%"
    path = tmp_path / "plan.xlsx"
    write_plan_file(spec, path)
    cell = load_workbook(path)["任务分解表"]["D2"]
    assert cell.data_type == "s" and cell.value.startswith("=")
    again = read_plan_file(path)
    assert again.sections[0].measures[0].text == "=到2025年底，全州确保20%"


def test_spreadsheet_helpers():
    spreadsheets.check_cell("=这只是文字", "s", "X")  # text, not a formula
    spreadsheets.check_cell(12.5, "n", "X")
    with pytest.raises(spreadsheets.SpreadsheetRefused) as info:
        spreadsheets.check_cell("=SUM(A1:A3)", "f", spreadsheets.where("学校数据", 7, 3))
    assert "工作表“学校数据”第7行第C列是公式（=SUM(A1:A3)）" in str(info.value)
    with pytest.raises(spreadsheets.SpreadsheetRefused):
        spreadsheets.check_cell("x" * (spreadsheets.MAX_CELL_CHARS + 1), "s", "X")
    spreadsheets.check_rows(spreadsheets.MAX_ROWS, "S")
    with pytest.raises(spreadsheets.SpreadsheetRefused):
        spreadsheets.check_rows(spreadsheets.MAX_ROWS + 1, "S")


def test_plan_import_over_the_page_of_the_cli_reports_the_formula(app, db, tmp_path):
    path = _exported(tmp_path)
    wb = load_workbook(path)
    wb["任务分解表"]["C2"] = "=A1"
    wb.save(path)
    result = app.test_cli_runner().invoke(args=["plan", "import", str(path)])
    assert result.exit_code != 0 and "第2行第C列是公式" in result.output
    from tracker.plans.models import Plan

    assert db.session.scalar(select(Plan)) is None
