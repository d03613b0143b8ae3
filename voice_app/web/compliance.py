"""The compliance console: search consent decisions, read a call's evidence, export with a manifest, answer an
access request; and, for admins, the audit log. Every view, search and export is written to the audit log."""

from __future__ import annotations

import io
import json
import re
import zipfile
from datetime import datetime

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import InputRequired, Length

from consent import audit
from consent.evidence import build_timeline
from consent.exports import ExportFormat, build_export
from consent.ledger import InvalidLedgerQuery, verify_chain
from consent.models import ConsentEvent
from consent.search import EventFilter, count_events, find_events, notice_versions, parse_filter
from voice_app import calls
from voice_app.compliance.activities import call_activities
from voice_app.compliance.subjects import (
    SubjectRequestError,
    readable_summary,
    subject_for_phone,
    subject_report,
    subject_voice_messages,
)
from voice_app.services import Services
from voice_app.users.models import Role
from voice_app.web.auth import role_required

compliance = Blueprint("compliance", __name__, url_prefix="/compliance")
audit_log = Blueprint("audit_log", __name__, url_prefix="/admin")

PAGE_SIZE = 50
MAX_PAGE = 1000
FILTER_FIELDS = ("date_from", "date_to", "call_ref", "decision", "notice_version", "language")
CALL_SID = re.compile(r"^CA[0-9a-f]{32}$")
DECISIONS = ("granted", "refused", "no_answer", "withdrawn")
PSEUDONYM = re.compile(r"[0-9a-f]{64}")


class AccessRequestForm(FlaskForm):
    phone = StringField("Caller's phone number", validators=[InputRequired("Enter a phone number."), Length(max=40)])


@compliance.after_request
@audit_log.after_request
def _not_cached(response: Response) -> Response:
    # Consent decisions, evidence and the audit log must not outlive the session in a browser or proxy cache.
    response.headers["Cache-Control"] = "no-store"
    return response


def _services() -> Services:
    return current_app.extensions["voice_app"]


def _record(action: audit.AuditAction, details: dict[str, object]) -> None:
    audit.record(_services().engine, current_user.username, action, details)


def _timezone() -> str:
    return _services().settings.telephony.business_hours.timezone.key


def _posted_filters() -> dict[str, str]:
    """The filters as posted, to show them again and carry them to the next page and the export; never stored.
    The caller is carried as their pseudonym (`subject`), never as the number."""
    return {name: request.form.get(name, "")[:300].strip() for name in (*FILTER_FIELDS, "subject")}


def _event_filter(fields: dict[str, str]) -> tuple[EventFilter, dict[str, str]]:
    """The filter the form asks for, and the fields to carry on with it: a phone number typed into the form is
    replaced by its pseudonym at once, so it is never kept, logged, or sent back to the browser."""
    phone = request.form.get("phone", "").strip()[:40]
    if phone:
        try:
            fields = {**fields, "subject": subject_for_phone(phone, _services().secret_key)}
        except SubjectRequestError as error:
            raise InvalidLedgerQuery(str(error)) from None
    elif fields["subject"] and not PSEUDONYM.fullmatch(fields["subject"]):
        raise InvalidLedgerQuery("the caller's pseudonym is not valid; search by the phone number again")
    return parse_filter(fields, _timezone()), fields


def _search_page(
    form_values: dict[str, str],
    status: int = 200,
    *,
    error: str | None = None,
    events: list[ConsentEvent] | None = None,
    total: int = 0,
    page: int = 1,
) -> tuple[str, int]:
    return render_template(
        "compliance/search.html",
        error=error,
        form=form_values,
        events=events or [],
        total=total,
        page=page,
        pages=max(1, -(-total // PAGE_SIZE)),
        notices=notice_versions(_services().engine, events or []),
        # Without formdata=None the access-request field would fill itself from a posted search's phone field.
        decisions=DECISIONS,
        access_form=AccessRequestForm(formdata=None),
        carried={name: value for name, value in form_values.items() if value},
    ), status


@compliance.route("/", methods=["GET", "POST"])
@role_required(Role.COMPLIANCE)
def search() -> tuple[str, int]:
    """GET shows the newest decisions; a search is always POSTed, because a phone number in a URL would be kept
    by every access log and proxy on the way."""
    if request.method == "GET":
        fields, page = dict.fromkeys((*FILTER_FIELDS, "subject"), ""), "1"
        if request.args:
            return _search_page(fields, 400, error="Search with the form: filters are never sent in the address.")
    else:
        fields = _posted_filters()
        page = request.form.get("page", "1").strip() or "1"
    try:
        event_filter, fields = _event_filter(fields)
    except InvalidLedgerQuery as error:
        return _search_page({**fields, "subject": ""}, 400, error=str(error))
    if not (page.isascii() and page.isdigit() and 1 <= int(page) <= MAX_PAGE):
        return _search_page(fields, 400, error=f"page must be a number from 1 to {MAX_PAGE}")
    page_number = int(page)
    engine = _services().engine
    total = count_events(engine, event_filter)
    events = find_events(engine, event_filter, limit=PAGE_SIZE, offset=(page_number - 1) * PAGE_SIZE)
    _record(audit.AuditAction.SEARCH, {"filters": event_filter.describe(), "page": page_number, "matches": total})
    return _search_page(fields, events=events, total=total, page=page_number)


@compliance.get("/calls/<call_sid>")
@role_required(Role.COMPLIANCE)
def evidence(call_sid: str) -> str:
    if not CALL_SID.match(call_sid):
        abort(404)
    engine = _services().engine
    call = calls.find_call(engine, call_sid)
    activities = [] if call is None else call_activities(engine, call)
    timeline = build_timeline(engine, call_sid, activities, verify_chain(engine))
    if call is None and not timeline.consent_events:
        abort(404)
    _record(audit.AuditAction.VIEW_TIMELINE, {"call_ref": call_sid, "flags": [f.code.value for f in timeline.flags]})
    return render_template("compliance/evidence.html", call=call, timeline=timeline)


@compliance.post("/export")
@role_required(Role.COMPLIANCE)
def export() -> Response | tuple[str, int]:
    export_format = request.form.get("format", "csv")
    fields = _posted_filters()
    if export_format not in {f.value for f in ExportFormat}:
        return _search_page(fields, 400, error="format must be csv or json")
    try:
        event_filter, _ = _event_filter(fields)
    except InvalidLedgerQuery as error:
        return _search_page({**fields, "subject": ""}, 400, error=str(error))
    result = build_export(_services().engine, event_filter, export_format, exported_by=current_user.username)
    _record(audit.AuditAction.EXPORT, {k: v for k, v in result.manifest.items() if k != "file"})
    stem = result.file_name.rsplit(".", 1)[0]
    files = {result.file_name: result.content, result.manifest_name: result.manifest_bytes()}
    return _zip_download(f"{stem}.zip", files)


@compliance.post("/access-request")
@role_required(Role.COMPLIANCE)
def access_request() -> ResponseReturnValue:
    form = AccessRequestForm()
    if not form.validate_on_submit():
        flash(" ".join(e for errors in form.errors.values() for e in errors) or "The form expired; try again.", "error")
        return redirect(url_for("compliance.search"))
    try:
        subject = subject_for_phone(form.phone.data, _services().secret_key)
    except SubjectRequestError as error:
        flash(str(error), "error")
        return redirect(url_for("compliance.search"))
    report = subject_report(_services().engine, subject)
    _record(
        audit.AuditAction.SUBJECT_EXPORT,
        {"subject": subject, "calls": len(report["calls"]), "consent_events": len(report["consent_events"])},
    )
    stem = f"subject-{subject[:12]}-{datetime.now():%Y%m%dT%H%M%S}"
    return _zip_download(
        f"{stem}.zip",
        {
            f"{stem}.json": (json.dumps(report, indent=2, ensure_ascii=False) + "\n").encode("utf-8"),
            f"{stem}.txt": readable_summary(report).encode("utf-8"),
            **subject_voice_messages(_services().engine, subject),
        },
    )


@audit_log.get("/audit")
@role_required(Role.ADMIN)
def entries() -> str | tuple[str, int]:
    actor = request.args.get("actor", "").strip()[: audit.ACTOR_MAX_LENGTH]
    action = request.args.get("action", "").strip()
    if action and action not in {a.value for a in audit.AuditAction}:
        abort(Response(f"unknown action {action[:32]!r}\n", status=400, mimetype="text/plain"))
    rows = audit.entries(_services().engine, limit=200, actor=actor or None, action=action or None)
    _record(audit.AuditAction.VIEW_AUDIT_LOG, {"actor": actor, "action": action})
    return render_template(
        "compliance/audit.html", entries=rows, actor=actor, action=action, actions=[a.value for a in audit.AuditAction]
    )


def _zip_download(name: str, files: dict[str, bytes]) -> Response:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for file_name, content in files.items():
            archive.writestr(file_name, content)
    response = Response(buffer.getvalue(), mimetype="application/zip")
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    response.headers["Cache-Control"] = "no-store"
    return response
