"""Working-day calendar: shipped data files, 调休, fallback, hand edits.

Runs standalone: ``.venv/bin/pytest tests/test_workdays.py -p no:cacheprovider``.
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from notifications.workdays import (  # noqa: E402
    DEFAULT_DATA_DIR,
    ChineseWorkCalendar,
    export_year,
    get_calendar,
    load_year_file,
)

D = dt.date
SHIPPED_YEARS = [2023, 2024, 2025, 2026]


@pytest.fixture(scope="module")
def cal():
    return ChineseWorkCalendar()


def days(start: dt.date, end: dt.date):
    d = start
    while d <= end:
        yield d
        d += dt.timedelta(days=1)


def test_shipped_files_cover_2023_to_2026(cal):
    assert DEFAULT_DATA_DIR == ROOT / "data" / "holidays"
    for year in SHIPPED_YEARS:
        assert (DEFAULT_DATA_DIR / f"{year}.yaml").is_file()
        assert cal.covered(year)
    assert set(SHIPPED_YEARS) <= set(cal.covered_years())
    assert not cal.covered(2027)
    assert not cal.covered(2022)


def test_2025_national_day_and_makeup_days(cal):
    for d in days(D(2025, 10, 1), D(2025, 10, 8)):
        assert cal.is_holiday(d), d
        assert not cal.is_workday(d), d
    assert D(2025, 9, 28).weekday() == 6 and cal.is_workday(D(2025, 9, 28))
    assert D(2025, 10, 11).weekday() == 5 and cal.is_workday(D(2025, 10, 11))
    assert cal.is_makeup_workday(D(2025, 9, 28)) and cal.is_makeup_workday(D(2025, 10, 11))
    assert cal.is_workday(D(2025, 9, 30)) and cal.is_workday(D(2025, 10, 9))
    # an ordinary weekend is neither a holiday nor a working day
    assert not cal.is_workday(D(2025, 10, 18)) and not cal.is_holiday(D(2025, 10, 18))


def test_2025_spring_festival(cal):
    for d in days(D(2025, 1, 28), D(2025, 2, 4)):
        assert not cal.is_workday(d), d
    assert cal.is_workday(D(2025, 1, 26))  # Sunday
    assert cal.is_workday(D(2025, 2, 8))  # Saturday


def test_2026_per_official_notice(cal):
    # 国办发明电〔2025〕7号: 春节 2月15日至23日放假调休，共9天；2月14日（周六）、2月28日（周六）上班
    for d in days(D(2026, 2, 15), D(2026, 2, 23)):
        assert not cal.is_workday(d), d
    assert cal.is_workday(D(2026, 2, 14)) and D(2026, 2, 14).weekday() == 5
    assert cal.is_workday(D(2026, 2, 28)) and D(2026, 2, 28).weekday() == 5
    assert cal.is_workday(D(2026, 2, 24))
    # 元旦 1月1日至3日放假，1月4日（周日）上班
    assert not any(cal.is_workday(d) for d in days(D(2026, 1, 1), D(2026, 1, 3)))
    assert cal.is_workday(D(2026, 1, 4))
    # 劳动节 5月1日至5日放假，5月9日（周六）上班
    assert not any(cal.is_workday(d) for d in days(D(2026, 5, 1), D(2026, 5, 5)))
    assert cal.is_workday(D(2026, 5, 9))
    # 国庆节 10月1日至7日放假，9月20日（周日）、10月10日（周六）上班
    assert not any(cal.is_workday(d) for d in days(D(2026, 10, 1), D(2026, 10, 7)))
    assert cal.is_workday(D(2026, 9, 20)) and cal.is_workday(D(2026, 10, 10))


def test_2024_and_2023_spring_festival(cal):
    assert not any(cal.is_workday(d) for d in days(D(2024, 2, 10), D(2024, 2, 17)))
    assert cal.is_workday(D(2024, 2, 4)) and cal.is_workday(D(2024, 2, 18))  # Sundays
    assert not any(cal.is_workday(d) for d in days(D(2023, 1, 21), D(2023, 1, 27)))
    assert cal.is_workday(D(2023, 1, 28)) and cal.is_workday(D(2023, 1, 29))


def test_shipped_files_agree_with_chinese_calendar_every_day(cal):
    import chinese_calendar as cc  # the generator's source
    for year in SHIPPED_YEARS:
        for d in days(D(year, 1, 1), D(year, 12, 31)):
            assert cal.is_workday(d) == cc.is_workday(d), d


def test_add_workdays_across_holidays(cal):
    assert cal.add_workdays(D(2025, 9, 30), 1) == D(2025, 10, 9)
    assert cal.add_workdays(D(2025, 9, 26), 1) == D(2025, 9, 28)  # Friday -> make-up Sunday
    assert cal.add_workdays(D(2025, 10, 10), 1) == D(2025, 10, 11)  # Friday -> make-up Saturday
    assert cal.add_workdays(D(2025, 10, 11), 1) == D(2025, 10, 13)
    assert cal.add_workdays(D(2025, 10, 3), 3) == D(2025, 10, 11)  # inside the holiday
    assert cal.add_workdays(D(2025, 10, 9), -1) == D(2025, 9, 30)
    assert cal.add_workdays(D(2025, 10, 5), -2) == D(2025, 9, 29)
    assert cal.add_workdays(D(2025, 10, 5), 0) == D(2025, 10, 5)
    # across the new year: 2026-01-01..03 off, 2026-01-04 (Sunday) is a working day
    assert cal.add_workdays(D(2025, 12, 31), 1) == D(2026, 1, 4)
    assert cal.add_workdays(dt.datetime(2025, 9, 30, 17, 45), 1) == D(2025, 10, 9)
    assert cal.add_workdays("2025-09-30", 1) == D(2025, 10, 9)


def test_workdays_between(cal):
    assert cal.workdays_between(D(2025, 9, 30), D(2025, 10, 9)) == 1
    # 9-28 (Sun), 9-29, 9-30, 10-9, 10-10, 10-11 (Sat)
    assert cal.workdays_between(D(2025, 9, 26), D(2025, 10, 12)) == 6
    assert cal.workdays_between(D(2025, 10, 12), D(2025, 9, 26)) == -6
    assert cal.workdays_between(D(2025, 10, 1), D(2025, 10, 1)) == 0
    assert cal.workdays_between(D(2025, 10, 1), D(2025, 10, 8)) == 0
    assert cal.workdays_between(D(2026, 2, 13), D(2026, 2, 28)) == 6  # 2-14, 2-24..2-27, 2-28


def test_next_workday(cal):
    assert cal.next_workday(D(2025, 10, 1)) == D(2025, 10, 9)
    assert cal.next_workday(D(2025, 10, 8)) == D(2025, 10, 9)
    assert cal.next_workday(D(2025, 9, 27)) == D(2025, 9, 28)  # Saturday -> make-up Sunday
    assert cal.next_workday(D(2025, 9, 28)) == D(2025, 9, 28)  # already a working day
    assert cal.next_workday(D(2025, 9, 28), inclusive=False) == D(2025, 9, 29)
    assert cal.next_workday(D(2026, 2, 15)) == D(2026, 2, 24)


def test_uncovered_year_falls_back_to_weekends(cal):
    assert not cal.covered(2027)
    assert cal.is_workday(D(2027, 10, 1))  # a Friday: the holiday is not known
    assert not cal.is_workday(D(2027, 10, 2))  # Saturday
    assert not cal.is_holiday(D(2027, 10, 1))
    assert cal.add_workdays(D(2027, 10, 1), 1) == D(2027, 10, 4)
    assert cal.workdays_between(D(2027, 1, 1), D(2027, 1, 31)) == 20


def test_get_calendar_is_shared():
    assert get_calendar() is get_calendar()
    assert get_calendar().covered(2025)


# -- data files: generating, hand-editing, validation ----------------------


def test_export_year_round_trip(tmp_path):
    written = export_year(2025, tmp_path)
    assert written == tmp_path / "2025.yaml"
    text = written.read_text(encoding="utf-8")
    assert "2025-10-01" in text and "国庆节" in text and "调休上班" in text
    data = load_year_file(written)
    shipped = load_year_file(DEFAULT_DATA_DIR / "2025.yaml")
    assert data == shipped
    assert D(2025, 9, 28) in data.workdays and D(2025, 10, 8) in data.holidays

    other = export_year(2024, tmp_path / "custom.yaml")
    assert other.name == "custom.yaml" and load_year_file(other, 2024).year == 2024


def test_export_year_unsupported_year_raises(tmp_path):
    with pytest.raises(NotImplementedError):
        export_year(2099, tmp_path)
    assert not (tmp_path / "2099.yaml").exists()


def test_hand_edited_file_and_reload(tmp_path):
    cal = ChineseWorkCalendar(tmp_path)
    assert not cal.covered(2030)
    assert cal.is_workday(D(2030, 10, 1))  # Tuesday, weekends-only fallback
    (tmp_path / "2030.yaml").write_text(
        "year: 2030\nholidays:\n  - 2030-10-01  # 国庆节\n  - '2030-10-02'\nworkdays:\n  - 2030-09-29\n",
        encoding="utf-8",
    )
    assert cal.is_workday(D(2030, 10, 1))  # cached until reload()
    cal.reload()
    assert cal.covered(2030)
    assert not cal.is_workday(D(2030, 10, 1)) and not cal.is_workday(D(2030, 10, 2))
    assert cal.is_workday(D(2030, 9, 29))  # a Sunday made a working day
    assert cal.covered_years() == [2030]


def test_empty_lists_are_allowed(tmp_path):
    (tmp_path / "2031.yaml").write_text("year: 2031\nholidays: []\nworkdays:\n", encoding="utf-8")
    cal = ChineseWorkCalendar(tmp_path)
    assert cal.covered(2031) and cal.is_workday(D(2031, 1, 1))


@pytest.mark.parametrize(
    "content, message",
    [
        ("holidays:\n  - 2029-10-01\n", "not in 2030"),
        ("holidays:\n  - 2030-10-01\nworkdays:\n  - 2030-10-01\n", "both"),
        ("holidays: [2030-13-01]\n", "invalid date"),
        ("holidays: 2030-10-01\n", "list"),
        ("year: 2029\nholidays: []\n", "does not match"),
        ("holidays: [unclosed\n", "invalid YAML"),
    ],
)
def test_malformed_files_are_reported_with_their_name(tmp_path, content, message):
    (tmp_path / "2030.yaml").write_text(content, encoding="utf-8")
    cal = ChineseWorkCalendar(tmp_path)
    with pytest.raises(ValueError, match=message) as info:
        cal.is_workday(D(2030, 5, 5))
    assert "2030.yaml" in str(info.value)


# -- properties --------------------------------------------------------------

dates = st.dates(min_value=D(2022, 12, 1), max_value=D(2027, 12, 31))
CAL = ChineseWorkCalendar()


@settings(max_examples=200, deadline=None)
@given(dates, st.integers(min_value=0, max_value=60))
def test_between_inverts_add_for_forward_steps(day, n):
    target = CAL.add_workdays(day, n)
    assert CAL.workdays_between(day, target) == n
    if n:
        assert CAL.is_workday(target)


@settings(max_examples=200, deadline=None)
@given(dates, st.integers(min_value=1, max_value=60))
def test_backward_steps_from_a_workday(day, n):
    start = CAL.next_workday(day)
    back = CAL.add_workdays(start, -n)
    assert CAL.is_workday(back)
    assert CAL.workdays_between(back, start) == n
    assert CAL.add_workdays(back, n) == start


@settings(max_examples=200, deadline=None)
@given(dates, dates)
def test_between_is_antisymmetric(a, b):
    assert CAL.workdays_between(a, b) == -CAL.workdays_between(b, a)


@settings(max_examples=200, deadline=None)
@given(dates)
def test_next_workday_is_the_first_on_or_after(day):
    nxt = CAL.next_workday(day)
    assert nxt >= day and CAL.is_workday(nxt)
    assert CAL.workdays_between(day, nxt) == (0 if nxt == day else 1)
    assert all(not CAL.is_workday(d) for d in days(day, nxt - dt.timedelta(days=1)))
