#!/usr/bin/env python
"""Importing a school-data .xlsx (the app) vs openpyxl merely reading the same file (baseline).

    .venv/bin/python bench/import_bench.py                        # 2,000 and 10,000 rows, SQLite and PostgreSQL
    .venv/bin/python bench/import_bench.py --sizes 10000,50000 --no-sqlite

The file is written with tracker.indicators.schooldata.write_rows_xlsx (the import template's headers:
年度, 学校代码, 学校名称, 县市, 学校类型, …) for schools spread over 100 generated counties
(tracker/demo/generate.py, no schools of its own). Timed in the same run, same file bytes:

* ``baseline`` openpyxl.load_workbook(read_only=True, data_only=True) and iterating every row's values;
* ``import``   tracker.indicators.schooldata.import_school_data(data, name, year): read, validate every
               row, register new schools, replace the year's rows, record the import; flushed, then
               rolled back so each run is a first import.
"""
from __future__ import annotations

import argparse
import io
import sys
import tempfile

from _common import TODAY, add_common_args, backends, best, dispose, generate_data, log, make_app, migrate, \
    parse_sizes, scratch, table

YEAR = TODAY.year - 1
COUNTIES = 100


def school_rows(n: int) -> list[dict]:
    rows = []
    for i in range(n):
        junior = i % 4 == 0
        pupils = 300 + (i * 37) % 1500
        rows.append({"year": YEAR, "code": f"B{i:08d}", "name": f"基准学校{i:06d}", "county": f"示例县{i % COUNTIES:05d}",
                     "school_type": "初中" if junior else "小学", "primary_pupils": 0 if junior else pupils,
                     "junior_pupils": pupils if junior else 0, "senior_pupils": None,
                     "qualified_teachers": pupils // 20, "backbone_teachers": pupils // 80, "pe_art_teachers": pupils // 90,
                     "building_area": pupils * 5.5, "sports_area": pupils * 9, "equipment_value": pupils * 2600,
                     "multimedia_rooms": pupils // 40, "class_count": max(1, pupils // 45), "max_class_size": 45,
                     "max_class_size_primary": None, "max_class_size_junior": None})
    return rows


def openpyxl_read(data: bytes) -> int:
    from openpyxl import load_workbook

    wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    n = sum(1 for row in wb.active.iter_rows(values_only=True) for _ in [row])
    wb.close()
    return n


def run_backend(backend: str, sizes: list[int], repeat: int, tmp: str, pg_url: str) -> list[dict]:
    from tracker.extensions import db
    from tracker.indicators.schooldata import import_school_data, write_rows_xlsx

    out = []
    with scratch(backend, tmp, "import", pg_url) as url:
        app = make_app(url, tmp)
        migrate(app)
        generate_data(app, COUNTIES, 0, years=1)
        with app.app_context():
            for n in sizes:
                data = write_rows_xlsx(school_rows(n))
                base_s, read = best(lambda: openpyxl_read(data), repeat)
                assert read == n + 1, (read, n)

                def run():
                    result = import_school_data(data, "schools.xlsx", YEAR)
                    db.session.flush()
                    db.session.rollback()
                    return result

                app_s, result = best(run, repeat)
                assert result["rows"] == n and result["new_schools"] == n, result
                row = {"backend": backend, "rows": n, "kib": len(data) / 1024, "baseline_s": base_s, "import_s": app_s,
                       "ratio": app_s / base_s, "us_per_row": app_s / n * 1e6, "base_us_per_row": base_s / n * 1e6}
                log(f"  {backend} {n} rows: openpyxl {base_s:.2f}s, import {app_s:.2f}s ({row['ratio']:.2f}×)")
                out.append(row)
        dispose(app)
    return out


COLUMNS = [("backend", "backend", ""), ("rows", "rows", "d"), ("kib", "file KiB", ".0f"),
           ("baseline_s", "openpyxl read s", ".2f"), ("import_s", "import s", ".2f"), ("ratio", "ratio", ".2f"),
           ("us_per_row", "µs/row (import)", ".0f"), ("base_us_per_row", "µs/row (read)", ".0f")]


def main(argv=None) -> tuple[list[dict], str]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_args(ap, "2000,10000")
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args(argv)
    results = []
    with tempfile.TemporaryDirectory(prefix="import-bench-") as tmp:
        for backend in backends(args):
            results += run_backend(backend, parse_sizes(args.sizes), args.repeat, tmp, args.pg_url)
    lines = []
    for backend in sorted({r["backend"] for r in results}):
        rows = [r for r in results if r["backend"] == backend]
        if len(rows) > 1:
            lines.append(f"{backend}: import µs per row " + " → ".join(f"{r['us_per_row']:.0f}" for r in rows)
                         + f" at {' / '.join(str(r['rows']) for r in rows)} rows; ratio "
                         + " → ".join(f"{r['ratio']:.2f}×" for r in rows))
    out = table(results, COLUMNS) + "\n\n" + "\n".join(f"- {g}" for g in lines)
    if results:
        worst = max(r["ratio"] for r in results)
        out += f"\n- worst import/openpyxl-read ratio {worst:.2f}× (aim ≤ 3×): {'met' if worst <= 3 else 'NOT met'}"
    print(out)
    return results, out


if __name__ == "__main__":
    main(sys.argv[1:])
