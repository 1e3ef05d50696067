"""Translation hook for the Flask-free packages (``workflows``, ``notifications``).

Their user-facing words are Simplified Chinese source strings marked with ``_`` (translate
now) or ``_l`` (translate when shown).  Without an application nothing is translated: the
Chinese text is used as is, with ``%(name)s`` placeholders filled in.  The web application
installs Flask-Babel's ``gettext`` with :func:`install`, so the same calls then follow the
reader's language.
"""
from __future__ import annotations

from collections.abc import Callable

from babel.support import LazyProxy


def _identity(string: str, **variables) -> str:
    return string % variables if variables else string


def _identity_in_context(_context: str, string: str, **variables) -> str:
    return _identity(string, **variables)


_translate: Callable[..., str] = _identity
_translate_in_context: Callable[..., str] = _identity_in_context


def install(gettext: Callable[..., str] | None, pgettext: Callable[..., str] | None = None) -> None:
    """Route every ``_``/``_l``/``pgettext`` through the given functions (``None`` restores plain Chinese)."""
    global _translate, _translate_in_context
    _translate = gettext or _identity
    _translate_in_context = pgettext or _identity_in_context


def _(string: str, **variables) -> str:
    return _translate(string, **variables)


def _l(string: str, **variables) -> LazyProxy:
    """A string translated each time it is shown (module-level labels)."""
    return LazyProxy(_, string, enable_cache=False, **variables)


def pgettext(context: str, string: str, **variables) -> str:
    """One Chinese word with two English meanings: ``pgettext("event", "退回")`` is "Return",
    ``pgettext("state", "退回")`` is "Returned"."""
    return _translate_in_context(context, string, **variables)


def lazy_pgettext(context: str, string: str, **variables) -> LazyProxy:
    return LazyProxy(pgettext, context, string, enable_cache=False, **variables)


def N_(string: str) -> str:
    """Mark a string for the catalogue without translating it here."""
    return string
