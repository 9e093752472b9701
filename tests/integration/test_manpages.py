"""Every page in doc/ renders with man-db without a warning (groff's
-wall through `man --warnings`), and homemail(8) names every subcommand
`homemail --help` lists."""
import os
import re

import pytest

import fixtures

DOC = os.path.join(fixtures.srcdir(), "doc")
PAGES = sorted(p for p in os.listdir(DOC) if re.fullmatch(r"[a-z.-]+\.[1-8]", p))


def test_pages_found():
    assert "homemail.8" in PAGES and "homemail.conf.5" in PAGES, PAGES


@pytest.mark.parametrize("page", PAGES)
def test_page_renders_without_warnings(page):
    r = fixtures.run(["man", "--warnings", "-l", os.path.join(DOC, page)],
                     env=dict(os.environ, MANWIDTH="80", MAN_KEEP_FORMATTING="0"))
    assert r.rc == 0, r
    assert r.err == "", r.err
    assert len(r.out) > 200, r.out


def test_homemail8_names_every_command():
    r = fixtures.run([fixtures.program("admin/homemail"), "--help"])
    commands = re.findall(r"^  ([a-z-]+) ", r.out.split("Commands:", 1)[1], re.M)
    assert "up" in commands and "network-up" in commands and "status" in commands, r.out
    with open(os.path.join(DOC, "homemail.8")) as f:
        page = f.read().replace("\\-", "-")
    for c in commands:
        assert ".B homemail " + c in page or ".B homemail " + c + "\n" in page, c
