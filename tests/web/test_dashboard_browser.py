"""The dashboard in a real browser (Debian's chromium, headless, through Playwright) against the real server: a
compliance user signs in and sees the charts, drawn without any script or outside file, under the page's
content security policy."""

from __future__ import annotations

import re

import pytest
from console_support import AUTH_TOKEN, PASSWORD
from playwright.sync_api import expect

from tests.browser import SCREENSHOTS, requires_chromium
from tests.dashboard_data import FIRST_DAY, LAST_DAY, seed_four_days
from tests.support import settings_with_database
from voice_app.local_server import LocalServer
from voice_app.users.management import create_user

pytestmark = requires_chromium


@pytest.fixture(scope="module")
def server(tmp_path_factory, base_settings, speech):
    settings = settings_with_database(
        base_settings,
        tmp_path_factory.mktemp("dashboard-browser") / "dashboard.db",
        base_settings.telephony.business_hours,
    )
    with LocalServer(settings, auth_token=AUTH_TOKEN, secret_key="c" * 40, speech=speech) as running:
        seed_four_days(running.services.engine)
        yield running


def test_compliance_signs_in_and_reads_the_charts(server, page):
    create_user(server.services.engine, "compliance.dashboard", PASSWORD, "compliance")
    page.goto(f"{server.url}/dashboard/?from={FIRST_DAY}&to={LAST_DAY}")
    expect(page).to_have_url(re.compile(r"/login\?next="))
    page.get_by_label("Username").fill("compliance.dashboard")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()

    expect(page.get_by_role("heading", name="Dashboard", level=1)).to_be_visible()
    expect(page.get_by_role("link", name="Dashboard", exact=True)).to_be_visible()
    charts = page.get_by_role("img", name=re.compile(r"per day|went to a person"))
    expect(charts).to_have_count(5)
    calls = page.get_by_role("img", name=re.compile(r"^Calls per day"))
    expect(calls).to_be_visible()
    expect(calls.locator("rect.bar")).to_have_count(4)
    expect(calls.locator("text.value")).to_have_text(["3", "2", "2", "2"])
    box = calls.bounding_box()
    assert box and box["width"] > 500 and box["height"] > 150, box
    expect(page.get_by_role("img", name=re.compile(r"^Consent rate per day")).locator("text.value")).to_have_text(
        ["33%", "0%", "100%", "100%"]
    )
    expect(page.locator("#total-consent")).to_contain_text("63%")
    reasons = page.get_by_role("img", name=re.compile(r"^Why calls went to a person"))
    expect(reasons.locator("g.bar-row").first).to_contain_text("Caller asked for a person")
    latency = page.get_by_role("img", name=re.compile(r"^Answer latency per day"))
    expect(latency.locator("line.marker")).to_have_count(3)  # no replies timed on the 28th

    section = page.get_by_role("region", name="Answer latency")
    section.get_by_text("The figures as a table").click()
    expect(section.get_by_role("row", name=re.compile("Sun 29 Mar 2026"))).to_contain_text("2.7")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / "dashboard.png", full_page=True)

    page.get_by_label("From", exact=True).fill("2025-01-01")
    page.get_by_label("To (inclusive)", exact=True).fill("2025-01-31")
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_text("No calls in this period (2025-01-01 to 2025-01-31)")).to_be_visible()
    expect(page.get_by_role("img", name=re.compile("per day"))).to_have_count(0)
    assert page.problems == [], "no script errors or blocked resources"
