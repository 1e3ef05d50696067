"""Every page a user can reach loads only from our own server (no CDN, no web fonts, no trackers)
and logs no error to the browser console.

The pages are found the way a user finds them: starting from the landing page, every same-origin link
is followed (one page per URL shape, so 300 task pages count once), for an admin, who sees every area,
and for a county user, whose desk and navigation differ. The same checks also run after every other
browser test (the `new_page` fixture), so every page any journey visits is covered.
"""
from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit

import pytest

try:
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture fails every test with the install command
    expect = None

pytestmark = pytest.mark.browser

#: links that are downloads, feeds, JSON or actions rather than pages to read
NOT_PAGES = re.compile(r"(\.xlsx|\.ics|\.json|\.csv)$|^/(evidence|api)/|/entry-files/|/open$|^/logout$")


def shape(path: str) -> str:
    return re.sub(r"\d+", "N", path)


def crawl(page, snap, origin: str, limit: int) -> list[str]:
    """Visit the landing page and then every same-origin page link (one per URL shape); returns the paths."""
    queue, seen_shapes, visited = ["/"], set(), []
    while queue and len(visited) < limit:
        path = queue.pop(0)
        if shape(path) in seen_shapes:
            continue
        seen_shapes.add(shape(path))
        response = page.goto(path)
        assert response is not None and response.ok, f"{path} answered {response and response.status}"
        expect(page.locator("h1").first).to_be_visible()
        visited.append(urlsplit(page.url).path)
        snap(page, shape(path).strip("/").replace("/", "-") or "home")
        # nothing on the page points at another host: styles, scripts, images, fonts, frames
        foreign = page.evaluate("""origin => [...document.querySelectorAll('link[href],script[src],img[src],iframe[src],source[src],video[src],audio[src]')]
              .map(e => e.href || e.src).filter(u => u && !u.startsWith(origin + '/') && !u.startsWith('data:'))""", origin)
        assert foreign == [], f"{path} loads from another host: {foreign}"
        for href in page.eval_on_selector_all("a[href]", "links => links.map(a => a.getAttribute('href'))"):
            url = urlsplit(urljoin(page.url, href))
            if f"{url.scheme}://{url.netloc}" != origin or NOT_PAGES.search(url.path):
                continue
            if shape(url.path) not in seen_shapes:
                queue.append(url.path)
    return visited


def test_every_page_loads_only_from_this_server_and_logs_no_console_error(signed_in, snap, rec, live_server):
    admin = signed_in("admin")
    admin_pages = crawl(admin, snap, live_server.origin, limit=30)
    for wanted in ("/tasks", "/dashboard", "/review", "/plans/", "/reports/weekly", "/admin/audit"):
        assert wanted in admin_pages, f"{wanted} was not reached from the admin's pages: {admin_pages}"
    assert any(re.fullmatch(r"/tasks/\d+", p) for p in admin_pages), admin_pages

    unit = signed_in("u532322")
    unit_pages = crawl(unit, snap, live_server.origin, limit=14)
    assert "/" in unit_pages and any(re.fullmatch(r"/tasks/\d+", p) for p in unit_pages), unit_pages

    # the pages did load things (so the check below looked at real traffic), and only from here
    assert any(u.endswith("/static/style.css") for u in rec.requests)
    assert rec.foreign_requests() == []
    assert rec.console_errors == []
    print(f"\nchecked {len(admin_pages) + len(unit_pages)} pages, {len(rec.requests)} requests", admin_pages, unit_pages)
