"""Update the English catalogue from the code: `python scripts/messages.py [--add translations.json ...]`.

Extracts every string marked with ``_``, ``_l``, ``N_``, ``gettext``, ``ngettext`` in ``tracker/``,
``workflows/``, ``notifications/`` and ``templates/`` (the same map as ``babel.cfg``), keeps the
English already in ``tracker/translations/en/LC_MESSAGES/messages.po``, adds English from JSON files
(``{"中文": "English"}``, ``{"中文": ["one", "many"]}`` for ``ngettext``, ``{"context::中文": "…"}`` for
``pgettext``), drops strings no longer
in the code and lists what is still untranslated (exit status 1 if any).
"""
from __future__ import annotations

import argparse
import fcntl
import json
import sys
from pathlib import Path

from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tracker.i18n import TRANSLATIONS, extract_catalog  # noqa: E402

PO = TRANSLATIONS / "en" / "LC_MESSAGES" / "messages.po"


def _key(message) -> str:
    msgid = message.id if isinstance(message.id, str) else message.id[0]
    return f"{message.context}::{msgid}" if message.context else msgid


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--add", action="append", default=[], help="JSON file of translations to merge")
    parser.add_argument("--quiet", action="store_true", help="only the count of untranslated strings")
    args = parser.parse_args(argv)
    PO.parent.mkdir(parents=True, exist_ok=True)
    with open(PO.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        known: dict[str, object] = {}
        if PO.exists():
            with PO.open("rb") as fh:
                for message in read_po(fh, locale="en"):
                    if message.id and message.string and not message.fuzzy:
                        known[_key(message)] = message.string
        for path in args.add:
            for key, value in json.loads(Path(path).read_text(encoding="utf-8")).items():
                known[key] = tuple(value) if isinstance(value, list) else value
        catalog = extract_catalog()
        missing = []
        for message in catalog:
            if not message.id:
                continue
            key = _key(message)
            value = known.get(key)
            if isinstance(message.id, tuple):
                value = value if isinstance(value, tuple) else ((value, value) if value else ("", ""))
            elif isinstance(value, tuple):
                value = value[0]
            message.string = value or ("" if isinstance(message.id, str) else ("", ""))
            if not value or (isinstance(value, tuple) and not all(value)):
                missing.append((message.locations[0] if message.locations else ("?", 0), key))
        with PO.open("wb") as fh:
            write_po(fh, catalog, width=0, sort_output=False, include_previous=False)
    print(f"{len(catalog)} strings, {len(missing)} without English → {PO.relative_to(ROOT)}")
    if not args.quiet:
        for (filename, lineno), key in sorted(missing):
            print(f"  {filename}:{lineno}: {key}")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
