"""Chinese working-day calendar (法定节假日 + 调休), plain Python.

Source of truth: one YAML file per year in ``data/holidays/YYYY.yaml``::

    year: 2025
    holidays:            # 放假的日期（含假期中的周末）
      - 2025-10-01       # 国庆节
    workdays:            # 调休上班的日期（通常是周六、周日）
      - 2025-09-28       # 国庆节 调休上班

A date is a working day when it is listed under ``workdays``, or when it is
Monday–Friday and not listed under ``holidays``.  For a year without a file
the calendar falls back to "Monday–Friday are working days" and
:meth:`ChineseWorkCalendar.covered` returns False so the UI can warn.

The files are generated with :func:`export_year` from the ``chinese_calendar``
package (needed only for generating; it raises NotImplementedError for years
it does not know yet).  The admin may regenerate or hand-edit them (after the
State Council's notice each autumn, for instance) and then call
:meth:`ChineseWorkCalendar.reload` or restart.  From a shell::

    python -m notifications.workdays 2027 --dir data/holidays
"""

from __future__ import annotations

import datetime as _dt
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, FrozenSet, Iterable, List, Optional, Union

import yaml

__all__ = [
    "DEFAULT_DATA_DIR",
    "ChineseWorkCalendar",
    "YearData",
    "export_year",
    "load_year_file",
    "get_calendar",
]

DEFAULT_DATA_DIR = Path(__file__).resolve().parent.parent / "data" / "holidays"

DateLike = Union[_dt.date, _dt.datetime, str]


def _as_date(value: DateLike) -> _dt.date:
    if isinstance(value, _dt.datetime):
        return value.date()
    if isinstance(value, _dt.date):
        return value
    if isinstance(value, str):
        return _dt.date.fromisoformat(value.strip())
    raise TypeError(f"not a date: {value!r}")


@dataclass(frozen=True)
class YearData:
    year: int
    holidays: FrozenSet[_dt.date]
    workdays: FrozenSet[_dt.date]


def load_year_file(path: Union[str, Path], year: Optional[int] = None) -> YearData:
    """Read and validate one ``YYYY.yaml`` file.

    Raises ValueError (naming the file) when it is malformed, when a date
    belongs to another year, or when a date is listed both as holiday and
    as make-up working day."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not UTF-8 text: {exc}") from exc
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: invalid YAML: {exc}") from exc
    except ValueError as exc:  # e.g. 2030-13-01 fails inside the YAML date constructor
        raise ValueError(f"{path}: invalid date: {exc}") from exc
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping with 'holidays' and 'workdays'")
    if year is None:
        year = int(data.get("year") or path.stem)
    if data.get("year") is not None and int(data["year"]) != year:
        raise ValueError(f"{path}: 'year: {data['year']}' does not match {year}")

    def dates(key: str) -> FrozenSet[_dt.date]:
        raw = data.get(key) or []
        if not isinstance(raw, list):
            raise ValueError(f"{path}: '{key}' must be a list of dates")
        out = set()
        for item in raw:
            try:
                d = _as_date(item)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"{path}: '{key}' has an invalid date {item!r}") from exc
            if d.year != year:
                raise ValueError(f"{path}: {d.isoformat()} in '{key}' is not in {year}")
            out.add(d)
        return frozenset(out)

    holidays, workdays = dates("holidays"), dates("workdays")
    both = holidays & workdays
    if both:
        listed = ", ".join(sorted(d.isoformat() for d in both))
        raise ValueError(f"{path}: listed as both holiday and workday: {listed}")
    return YearData(year=year, holidays=holidays, workdays=workdays)


class ChineseWorkCalendar:
    """Working days in mainland China, from the yearly YAML files.

    All methods accept ``date``, ``datetime`` (its date is used) or an ISO
    ``YYYY-MM-DD`` string.  Files are read lazily, once per year; call
    :meth:`reload` after editing them.
    """

    def __init__(self, data_dir: Union[str, Path, None] = None):
        self.data_dir = Path(data_dir) if data_dir is not None else DEFAULT_DATA_DIR
        self._years: Dict[int, Optional[YearData]] = {}
        self._lock = threading.Lock()

    # -- data ---------------------------------------------------------------

    def path_for(self, year: int) -> Path:
        return self.data_dir / f"{int(year)}.yaml"

    def _year(self, year: int) -> Optional[YearData]:
        try:
            return self._years[year]
        except KeyError:
            pass
        with self._lock:
            if year not in self._years:
                path = self.path_for(year)
                self._years[year] = load_year_file(path, year) if path.is_file() else None
            return self._years[year]

    def reload(self) -> None:
        """Forget what was read; files are read again on next use."""
        with self._lock:
            self._years.clear()

    def covered(self, year: int) -> bool:
        """True when ``year`` has a data file (holidays/调休 known); False
        means this calendar only knows weekends for that year."""
        return self._year(int(year)) is not None

    def covered_years(self) -> List[int]:
        """Years that have a data file, sorted."""
        if not self.data_dir.is_dir():
            return []
        return sorted(int(p.stem) for p in self.data_dir.glob("*.yaml") if p.stem.isdigit())

    # -- queries ------------------------------------------------------------

    def is_holiday(self, day: DateLike) -> bool:
        """Listed as an official holiday day off (weekend days inside a
        holiday period included).  Ordinary weekends are not 'holidays'."""
        d = _as_date(day)
        data = self._year(d.year)
        return data is not None and d in data.holidays

    def is_makeup_workday(self, day: DateLike) -> bool:
        """A weekend day that is a working day (调休上班)."""
        d = _as_date(day)
        data = self._year(d.year)
        return data is not None and d in data.workdays

    def is_workday(self, day: DateLike) -> bool:
        d = _as_date(day)
        data = self._year(d.year)
        if data is not None:
            if d in data.workdays:
                return True
            if d in data.holidays:
                return False
        return d.weekday() < 5

    def add_workdays(self, day: DateLike, n: int) -> _dt.date:
        """The ``n``-th working day after ``day`` (``n`` > 0), the ``|n|``-th
        working day before it (``n`` < 0), or ``day`` itself (``n`` == 0).

        ``day`` itself is never counted, so Friday + 1 and Saturday + 1 are
        both the next Monday (holidays allowing).  For n >= 0 and any day:
        ``workdays_between(day, add_workdays(day, n)) == n``."""
        d = _as_date(day)
        n = int(n)
        step = _dt.timedelta(days=1 if n > 0 else -1)
        remaining = abs(n)
        while remaining:
            d += step
            if self.is_workday(d):
                remaining -= 1
        return d

    def workdays_between(self, a: DateLike, b: DateLike) -> int:
        """Working days in the half-open interval (a, b] — after ``a``, up to
        and including ``b``; negative (``-workdays_between(b, a)``) when
        b < a.  E.g. deadline ``a``, today ``b``: working days overdue."""
        start, end = _as_date(a), _as_date(b)
        if end < start:
            return -self.workdays_between(end, start)
        count = 0
        d = start
        one = _dt.timedelta(days=1)
        while d < end:
            d += one
            if self.is_workday(d):
                count += 1
        return count

    def next_workday(self, day: DateLike, inclusive: bool = True) -> _dt.date:
        """First working day on or after ``day`` (``inclusive=True``, the
        default: a working day is returned unchanged — use it to defer
        non-urgent mail off weekends and holidays), or strictly after it
        (``inclusive=False``)."""
        d = _as_date(day)
        if inclusive and self.is_workday(d):
            return d
        return self.add_workdays(d, 1)

    def workdays_in(self, a: DateLike, b: DateLike) -> Iterable[_dt.date]:
        """Working days in the closed interval [a, b], in order."""
        d, end = _as_date(a), _as_date(b)
        one = _dt.timedelta(days=1)
        while d <= end:
            if self.is_workday(d):
                yield d
            d += one


_default: Optional[ChineseWorkCalendar] = None
_default_lock = threading.Lock()


def get_calendar() -> ChineseWorkCalendar:
    """Process-wide calendar reading :data:`DEFAULT_DATA_DIR`."""
    global _default
    with _default_lock:
        if _default is None:
            _default = ChineseWorkCalendar()
        return _default


# --------------------------------------------------------------------------
# Generating the data files
# --------------------------------------------------------------------------


def export_year(year: int, path: Union[str, Path]) -> Path:
    """Write ``year``'s holidays and 调休 working days from the installed
    ``chinese_calendar`` package as YAML (see the module docstring).

    ``path`` is the file to write, or a directory — an existing one or a
    path without suffix, created if needed — to write ``YYYY.yaml`` in.
    Raises NotImplementedError when the package has no data for ``year``.
    Returns the path written."""
    import chinese_calendar as cc  # only needed to generate the files
    from chinese_calendar.constants import Holiday

    year = int(year)
    cc.is_workday(_dt.date(year, 1, 1))  # raises NotImplementedError if unsupported
    path = Path(path)
    if path.is_dir() or (not path.suffix and not path.exists()):
        path.mkdir(parents=True, exist_ok=True)
        path = path / f"{year}.yaml"
    else:
        path.parent.mkdir(parents=True, exist_ok=True)

    def cn(name: str) -> str:
        try:
            return Holiday(name).chinese
        except ValueError:
            return name

    weekday_cn = "一二三四五六日"  # i18n: data
    in_lieu = set(getattr(cc, "in_lieu_days", {}) or {})
    version = getattr(cc, "__version__", "?")

    lines = [
        # the holiday file is written in Chinese, like the State Council notice it mirrors
        f"# {year}年 法定节假日与调休安排",  # i18n: data
        f"# 由 notifications.workdays.export_year({year}, ...) 根据 chinese_calendar {version} 生成，",  # i18n: data
        "# 可按国务院办公厅当年的放假通知手工修改（修改后重启或调用 reload()）。",  # i18n: data
        "# holidays: 放假日期（含假期中的周末）；workdays: 调休上班日期（周末上班）。",  # i18n: data
        f"year: {year}",
        "holidays:",
    ]
    holidays = sorted(d for d in cc.holidays if d.year == year)
    for d in holidays:
        note = f"{cn(cc.holidays[d])}（周{weekday_cn[d.weekday()]}）"  # i18n: data
        if d in in_lieu:
            note += " 调休"  # i18n: data
        lines.append(f"  - {d.isoformat()}  # {note}")
    if not holidays:
        lines[-1] = "holidays: []"
    lines.append("workdays:")
    workdays = sorted(d for d in cc.workdays if d.year == year)
    for d in workdays:
        lines.append(f"  - {d.isoformat()}  # {cn(cc.workdays[d])} 调休上班（周{weekday_cn[d.weekday()]}）")  # i18n: data
    if not workdays:
        lines[-1] = "workdays: []"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def main(argv: Optional[List[str]] = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description="Generate data/holidays/YYYY.yaml from chinese_calendar")
    parser.add_argument("years", nargs="+", type=int)
    parser.add_argument("--dir", default=str(DEFAULT_DATA_DIR))
    args = parser.parse_args(argv)
    status = 0
    for year in args.years:
        try:
            print(export_year(year, Path(args.dir)))
        except NotImplementedError as exc:
            print(f"{year}: {exc}")
            status = 1
    return status


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
