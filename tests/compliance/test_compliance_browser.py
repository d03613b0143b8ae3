"""The compliance console in a real browser (Debian's chromium, headless, through Playwright) on calls made through
the real server: a compliance officer signs in, searches by phone number (posted, never in the address), opens a
call's evidence, downloads an export and checks its manifest; an agent is refused."""

from __future__ import annotations

import hashlib
import json
import re
import zipfile

from compliance_support import ENGLISH, PASSWORD
from playwright.sync_api import expect

from tests.browser import WAIT_MS, requires_chromium

pytestmark = requires_chromium


def sign_in(page, server, username, path):
    page.goto(server.url + path)
    expect(page).to_have_url(re.compile(r"/login\?next="))
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def test_compliance_searches_opens_evidence_and_downloads_a_checked_export(
    console_server, called_database, page, tmp_path
):
    _, results = called_database
    sign_in(page, console_server, "compliance-user", "/compliance/")
    expect(page.get_by_role("heading", name="Consent decisions", level=1)).to_be_visible()

    def search_by_phone():
        page.get_by_label("Caller's phone number").first.fill(ENGLISH.phones[0])
        page.get_by_role("button", name="Search").click()
        expect(page.get_by_role("heading", name="2 decisions found")).to_be_visible()
        expect(page.locator("#results tbody tr")).to_have_count(2)
        # The search was posted: neither the address nor the page holds the number.
        assert ENGLISH.phones[0][3:] not in page.url
        assert page.get_by_label("Caller's phone number").first.input_value() == ""

    search_by_phone()

    call_sid = results["english_question"].call_sid
    page.get_by_role("link", name=call_sid).click()
    expect(page.get_by_role("heading", name=f"Evidence for call {call_sid}")).to_be_visible()
    timeline = page.locator("#timeline")
    expect(timeline.locator("li[data-kind=disclosure_played] blockquote")).to_contain_text("AI")
    expect(timeline.locator("li[data-kind=notice_played] blockquote")).to_contain_text("Before we start")
    expect(timeline.locator("li[data-kind=consent_granted]")).to_contain_text("granted by speech")
    expect(timeline.locator("li[data-kind=transcript_stored]")).to_have_count(1)
    expect(page.locator("#flags")).to_contain_text("none")

    # A posted search is not cached (no-store), so the way back to the results is searching again.
    page.get_by_role("link", name="← Consent decisions").click()
    search_by_phone()
    with page.expect_download(timeout=WAIT_MS) as download_info:
        page.get_by_role("button", name="CSV with manifest").click()
    archive_path = tmp_path / download_info.value.suggested_filename
    download_info.value.save_as(archive_path)
    with zipfile.ZipFile(archive_path) as archive:
        manifest = json.loads(archive.read(next(n for n in archive.namelist() if n.endswith(".manifest.json"))))
        content = archive.read(manifest["file"])
    assert hashlib.sha256(content).hexdigest() == manifest["sha256"]
    assert manifest["row_count"] == 2 and manifest["chain_verified"] is True
    assert ENGLISH.phones[0] not in json.dumps(manifest) and "subject" in manifest["filters"]
    assert manifest["chain_head"]["seq"] == 5
    assert page.problems == []


def test_an_agent_is_refused_the_compliance_pages(console_server, page):
    sign_in(page, console_server, "agent-user", "/compliance/")
    expect(page.get_by_role("heading", name="Forbidden")).to_be_visible()
    expect(page.get_by_role("link", name="Consent decisions")).to_have_count(0)
    response = page.goto(console_server.url + "/dashboard/")
    assert response.status == 403
