"""A caller's phone number, typed into the compliance console to find their decisions, never reaches a URL (the
request line every access log and proxy keeps), a redirect, a link, a page, or the server's log; and the pages
that show consent data are never cached."""

from __future__ import annotations

import io
import zipfile
from html.parser import HTMLParser
from urllib.parse import unquote, urljoin, urlsplit

import requests
from compliance_support import ENGLISH
from test_compliance_console import signed_in

from tests.log_capture import everything_logged
from tests.personal_data import phone_number_pattern

NUMBER = ENGLISH.phones[0]
# How a compliance officer might type it: E.164, grouped, the national form, digits only.
TYPED_FORMS = (NUMBER, f"{NUMBER[:3]} {NUMBER[3:7]} {NUMBER[7:]}", "0" + NUMBER[3:], NUMBER[1:])


class _Page(HTMLParser):
    """The links and forms of a page, as a browser would follow and submit them."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.links: list[str] = []
        self.forms: list[dict] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        if tag == "a" and "href" in attributes:
            self.links.append(attributes["href"])
        elif tag == "form":
            self.forms.append(
                {
                    "id": attributes.get("id", ""),
                    "method": attributes.get("method", "get").lower(),
                    "action": attributes.get("action", ""),
                    "fields": {},
                    "buttons": [],
                }
            )
        elif tag in ("input", "select") and self.forms and attributes.get("name"):
            self.forms[-1]["fields"][attributes["name"]] = attributes.get("value", "")
        elif tag == "button" and self.forms:
            self.forms[-1]["buttons"].append((attributes.get("name"), attributes.get("value", "")))


def submit(session: requests.Session, page_url: str, form: dict, **changes: str) -> list[requests.Response]:
    """Each of the form's buttons pressed, with `changes` typed in; the responses, redirects included."""
    responses = []
    for name, value in form["buttons"] or [(None, "")]:
        fields = {**form["fields"], **changes, **({name: value} if name else {})}
        url = urljoin(page_url, form["action"] or page_url)
        posted = form["method"] == "post"
        response = session.request(
            form["method"], url, data=fields if posted else None, params=None if posted else fields
        )
        responses += [*response.history, response]
    return responses


def test_the_callers_number_is_in_no_url_redirect_link_page_or_log_line(console_server):
    pattern = phone_number_pattern(NUMBER)
    with everything_logged() as log_lines:
        session = signed_in(console_server, "compliance-user")
        home = session.get(console_server.url + "/compliance/")
        [search_form] = [form for form in _Page(home.text).forms if form["id"] == "search-form"]
        seen = [home]
        for typed in TYPED_FORMS:
            seen += submit(session, home.url, search_form, phone=typed)
        found = submit(session, home.url, search_form, phone=NUMBER)[-1]
        assert "2 decisions found" in found.text
        results = _Page(found.text)
        seen += [session.get(urljoin(found.url, link)) for link in results.links]
        # Every form of the results page but signing out: the export buttons, the pages, the access request
        # (refused for a national number, and answered for the right one).
        for form in results.forms:
            if "logout" in form["action"]:
                continue
            if "phone" in form["fields"] and form["id"] != "search-form":
                seen += submit(session, found.url, form, phone="0" + NUMBER[3:])
                seen += submit(session, found.url, form, phone=NUMBER)
            elif form["id"] != "search-form":
                seen += submit(session, found.url, form)
    downloads = [response for response in seen if response.headers.get("Content-Type") == "application/zip"]
    assert len(downloads) == 3  # the CSV and JSON exports of the search, and the caller's own data

    for response in seen:
        where = f"{response.request.method} {response.request.url}"
        assert not pattern.search(unquote(response.request.url)), where
        assert not pattern.search(unquote(response.headers.get("Location", ""))), where
        if response.headers.get("Content-Type", "").startswith("text/html"):
            assert not pattern.search(response.text), where
        if urlsplit(response.url).path.startswith(("/compliance", "/admin", "/dashboard")):
            assert response.headers.get("Cache-Control") == "no-store", where
    for download in downloads:
        if "subject-" not in download.headers["Content-Disposition"]:  # the caller's own data may hold their number
            with zipfile.ZipFile(io.BytesIO(download.content)) as archive:
                assert not any(pattern.search(archive.read(name).decode()) for name in archive.namelist())
    assert log_lines
    assert [line for line in log_lines if pattern.search(unquote(line))] == []
