"""The dashboard through Flask's test client: who may see it, the date range in the query string, and charts
that show the figures of a hand-built set of calls."""

from __future__ import annotations

import re

import pytest
from console_support import AUTH_TOKEN, sign_in

from consent import audit
from tests.dashboard_data import FIRST_DAY, LAST_DAY, add_call, seed_four_days
from tests.support import settings_with_database
from voice_app.services import build_services

FOUR_DAYS = f"/dashboard/?from={FIRST_DAY}&to={LAST_DAY}"


@pytest.fixture(scope="module")
def services(module_database_url, base_settings, speech):
    """As conftest's, but with the shipped business hours: days are counted in Berlin, not in UTC."""
    berlin = base_settings.telephony.business_hours
    assert berlin.timezone.key == "Europe/Berlin"
    settings = settings_with_database(base_settings, module_database_url, berlin)
    services = build_services(settings, auth_token=AUTH_TOKEN, secret_key="d" * 40, speech=speech)
    yield services
    services.engine.dispose()


@pytest.fixture(scope="module", autouse=True)
def four_days(services):
    seed_four_days(services.engine)
    # A reason no label knows, with markup in it: shown as text, never as markup.
    add_call(
        services.engine, "2026-03-30 12:00", decision="granted", notice=True, outcome="transfer", reason="<b>odd</b>"
    )


@pytest.fixture(scope="module")
def signed_in_clients():
    clients = {}

    def signed_in(app, make_user, role):
        if (app, role) not in clients:
            client = app.test_client()
            assert sign_in(client, make_user(role)).status_code == 302
            clients[app, role] = client
        return clients[app, role]

    return signed_in


@pytest.fixture
def compliance(app, make_user, signed_in_clients):
    return signed_in_clients(app, make_user, "compliance")


def page(client, path, status=200) -> str:
    response = client.get(path)
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True)[:500])
    return response.get_data(as_text=True)


def chart(html: str, chart_id: str) -> str:
    match = re.search(rf'<svg class="chart" id="{chart_id}".*?</svg>', html, re.S)
    assert match, f"no chart {chart_id}"
    return match.group(0)


def values(svg: str) -> list[str]:
    return re.findall(r'data-value="([^"]*)"', svg)


def test_the_charts_show_the_figures_of_each_berlin_day(compliance):
    html = page(compliance, FOUR_DAYS)
    assert html.count('<svg class="chart"') == 5
    # Ten calls: the set's nine and the odd reason's, on the 30th.
    assert values(chart(html, "chart-calls")) == ["3", "2", "2", "3"]
    assert values(chart(html, "chart-consent")) == ["33%", "0%", "100%", "100%"]
    assert values(chart(html, "chart-without-person")) == ["33%", "0%", "0%", "67%"]
    assert values(chart(html, "chart-latency")) == ["1.2", "", "1.5", "0.6"]  # the 28th: no replies timed
    reasons = chart(html, "chart-reasons")
    assert values(reasons) == ["2", "1", "1", "1", "1"]
    assert reasons.index("Caller asked for a person") < reasons.index("Caller refused consent")
    assert re.search(r'<text class="value"[^>]*>2</text>', reasons)


def test_the_headline_and_tables_say_the_same_in_numbers(compliance):
    html = page(compliance, FOUR_DAYS)
    assert re.search(r'id="total-calls">10<', html)
    assert 'id="total-consent">67%<small>6 of 9 said yes' in html
    assert 'id="total-without-person">33%<small>3 of 9 calls' in html
    # Median of 500 600 800 1000 1200 1500 2000 3000; 90th percentile 2300.
    assert 'id="total-latency">1.1 s<small>90th percentile 2.3 s' in html
    assert "Fri 27 Mar 2026" in html and "Mon 30 Mar 2026" in html
    tables = re.sub(r">\s+<", "><", html)
    assert (
        'Sun 29 Mar 2026</th><td class="number">4</td><td class="number">1.5</td><td class="number">2.7</td>' in tables
    )
    assert 'Sat 28 Mar 2026</th><td class="number">0</td><td class="number">–</td>' in tables
    assert 'Hung up before answering</th><td class="number">1<' in html


def test_every_chart_has_a_title_and_description_for_screen_readers(compliance):
    html = page(compliance, FOUR_DAYS)
    for chart_id in ("chart-calls", "chart-consent", "chart-without-person", "chart-reasons", "chart-latency"):
        svg = chart(html, chart_id)
        assert f'role="img" aria-labelledby="{chart_id}-title {chart_id}-desc"' in svg
        assert re.search(rf'<title id="{chart_id}-title">[^<]+</title>', svg)
        assert re.search(rf'<desc id="{chart_id}-desc">[^<]+</desc>', svg)
    assert "Calls per day, 27 Mar 2026 to 30 Mar 2026: 10 calls in all" in html
    assert "<title>Sun 29 Mar 2026: median 1.5 s, 90th percentile 2.7 s, 4 replies</title>" in html
    assert "<title>Fri 27 Mar 2026: 33%, 1 of 3 said yes</title>" in html
    assert "<title>Sat 28 Mar 2026: 0%, 0 of 1 finished by the assistant</title>" in html


def test_the_page_loads_nothing_from_elsewhere_and_escapes_what_it_shows(compliance):
    response = compliance.get(FOUR_DAYS)
    html = response.get_data(as_text=True)
    assert "<b>odd</b>" not in html and "&lt;b&gt;odd&lt;/b&gt;" in html
    nonce = re.search(r"'nonce-([^']+)'", response.headers["Content-Security-Policy"]).group(1)
    assert all(f'nonce="{nonce}"' in tag for tag in re.findall(r"<(?:script|style)\b[^>]*>", html))
    assert not re.search(r'<(?:script|link|img)[^>]+(?:src|href)="(?:https?:)?//', html)
    assert response.headers["Cache-Control"] == "no-store"


def test_a_period_without_calls_says_so(compliance):
    html = page(compliance, "/dashboard/?from=2025-01-01&to=2025-01-31")
    assert "No calls in this period" in html and '<svg class="chart"' not in html


def test_every_dashboard_view_is_audited(compliance, services):
    page(compliance, "/dashboard/?from=2025-02-01&to=2025-02-28")
    [entry] = [
        e
        for e in audit.entries(services.engine, action="view_dashboard")
        if e.details_dict() == {"from": "2025-02-01", "to": "2025-02-28"}
    ]
    assert entry.actor.startswith("compliance")


def test_the_default_is_the_last_30_days(compliance):
    html = page(compliance, "/dashboard/")
    first = re.search(r'id="from" name="from" value="([^"]+)"', html).group(1)
    last = re.search(r'id="to" name="to" value="([^"]+)"', html).group(1)
    from datetime import date

    assert (date.fromisoformat(last) - date.fromisoformat(first)).days == 29


def test_a_long_range_shows_weeks_or_months(compliance):
    html = page(compliance, "/dashboard/?from=2026-01-01&to=2026-04-30")
    assert "each bar is one week" in html
    assert values(chart(html, "chart-calls")) == ["0"] * 12 + ["8", "4"] + ["0"] * 4  # weeks of 23 and 30 March
    html = page(compliance, "/dashboard/?from=2025-06-01&to=2026-05-31")
    assert "each bar is one month" in html and len(values(chart(html, "chart-calls"))) == 12


@pytest.mark.parametrize(
    "query, message",
    [
        ("from=2026-13-01", "is not a date in the calendar"),
        ("from=2026-02-30&to=2026-03-01", "is not a date in the calendar"),
        ("from=yesterday", "must be a date written as YYYY-MM-DD"),
        ("to=27.03.2026", "must be a date written as YYYY-MM-DD"),
        ("from=20260327", "must be a date written as YYYY-MM-DD"),
        ("from=\u0662\u0660\u0662\u0666-03-27", "must be a date written as YYYY-MM-DD"),  # Arabic-Indic digits
        ("from=" + "9" * 5000, "must be a date written as YYYY-MM-DD"),
        ("from=2026-03-30&to=2026-03-27", "The start date is after the end date."),
        ("from=2025-01-01&to=2026-03-30", "at most 366 days"),
        ("from=1900-01-01&to=1900-01-02", "between 2000-01-01 and 2099-12-31"),
        ("from=2026-03-01&from=2026-03-02", "Give the start date once."),
    ],
)
def test_bad_dates_are_refused_with_a_clear_message(compliance, query, message):
    html = page(compliance, f"/dashboard/?{query}", status=400)
    assert message in html and 'role="alert"' in html
    assert '<svg class="chart"' not in html


def test_one_end_of_the_range_is_enough(compliance):
    html = page(compliance, f"/dashboard/?to={LAST_DAY}")
    assert 'name="from" value="2026-03-01"' in html
    html = page(compliance, "/dashboard/?from=2099-12-30")
    assert 'name="to" value="2099-12-30"' in html  # a start in the future: that one day


def test_agents_are_refused_and_strangers_sent_to_sign_in(client, app, make_user, signed_in_clients):
    assert client.get("/dashboard/").status_code == 302
    assert "/login?next=" in client.get("/dashboard/").headers["Location"]
    agent = signed_in_clients(app, make_user, "agent")
    assert agent.get(FOUR_DAYS).status_code == 403
    assert 'href="/dashboard/"' not in agent.get("/agent/").get_data(as_text=True)


def test_admins_see_it_and_the_link_to_it(app, make_user, signed_in_clients, compliance):
    admin = signed_in_clients(app, make_user, "admin")
    assert values(chart(page(admin, FOUR_DAYS), "chart-calls")) == ["3", "2", "2", "3"]
    assert 'href="/dashboard/">Dashboard</a>' in page(admin, "/agent/")
    assert 'href="/dashboard/">Dashboard</a>' in page(compliance, "/account")
