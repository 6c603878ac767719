"""The operations app's pages: dashboard, intelligence import, targets, warrant drafts, operations, settings and
accounts.  Ids in paths are integers checked by range; no route takes a path (a device links to a case by choosing
a folder the server lists under its cases root).  Every change goes through ``fieldlab.ops`` with the officer's
name, so each is one audited transaction."""

from __future__ import annotations

from datetime import date, datetime, timezone
from importlib import resources
from typing import Annotated, Callable

from fastapi import APIRouter, Depends, File, Form, HTTPException, Path, Request, UploadFile
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select

from fieldlab.ops import lifecycle
from fieldlab.ops.lifecycle import STAGE_TITLES, STAGES, LifecycleError
from fieldlab.ops.schema import import_problems, imports
from fieldlab.ops.settings import OTHER_RISK_MAX, RISK_KINDS, SettingsError, load_settings, save_settings
from fieldlab.ops.sightings import FIELDS, SightingsError, import_sightings, parse_layout
from fieldlab.ops.targets import (
    TargetError,
    add_risk_fact,
    add_subscriber,
    close_target,
    list_targets,
    set_override,
    target_detail,
    withdraw_risk_fact,
)
from fieldlab.ops.warrant import WarrantError, warrant_draft, write_warrant
from fieldlab.web import accounts
from fieldlab.web.accounts import OPS_ROLES, AccountError, Session
from fieldlab.web.app import allowed, may
from fieldlab.web.body_limits import BodyLimit
from fieldlab.web.ops_app import OpsState, ops_render, ops_state_of
from fieldlab.web.permissions import role_duties
from fieldlab.web.routes import favicon, login, login_form, logout, static_css

router = APIRouter()
MAX_ID = 2**62
Id = Annotated[int, Path(ge=1, le=MAX_ID)]
Text = Annotated[str, Form(max_length=4000)]
MAX_UPLOAD = 512 * 1024 * 1024  # larger exports go through fieldlab ops import
BODY_LIMITS = (BodyLimit("POST", "/import", MAX_UPLOAD, "ops_intelligence"),)  # every other form: 64 KiB
OPS_CSS = resources.files("fieldlab.web").joinpath("static", "ops.css").read_bytes()

# the review app's own login, logout and style sheet: one implementation of each
router.add_api_route("/login", login_form, methods=["GET"])
router.add_api_route("/login", login, methods=["POST"])
router.add_api_route("/logout", logout, methods=["POST"])
router.add_api_route("/static/review.css", static_css, methods=["GET"])
router.add_api_route("/favicon.ico", favicon, methods=["GET"])


@router.get("/static/ops.css")
def ops_css() -> Response:
    return Response(OPS_CSS, media_type="text/css; charset=utf-8")


def _state(request: Request) -> OpsState:
    return ops_state_of(request)


def _actor(session: Session) -> str:
    return session.user.name


def _problem(action: Callable[[], object], page: Callable[[str], Response]) -> Response | None:
    """Run an officer's change; a refusal re-draws the page with the reason (status 400)."""
    try:
        action()
    except (TargetError, LifecycleError, SettingsError, SightingsError, AccountError, WarrantError) as exc:
        return page(str(exc))
    return None


# dashboard

@router.get("/")
def dashboard_page(request: Request, session: Session = Depends(allowed("view"))) -> Response:
    state = _state(request)
    board = lifecycle.dashboard(state.db)
    return ops_render(request, "ops_dashboard.html", session, board=board, targets=list_targets(state.db)[:10],
                      operations=lifecycle.list_operations(state.db), stage_titles=STAGE_TITLES)


# intelligence import

@router.get("/import")
def import_form(request: Request, session: Session = Depends(allowed("ops_intelligence"))) -> Response:
    return _import_page(request, session)


def _import_page(request: Request, session: Session, problem: str | None = None, status: int = 200) -> Response:
    state = _state(request)
    with state.db.engine.connect() as conn:
        recent = conn.execute(select(imports).order_by(imports.c.id.desc()).limit(20)).all()
    return ops_render(request, "ops_import.html", session, status=status, problem=problem, recent=recent,
                      fields=FIELDS, settings=load_settings(state.db), utc=_utc)


@router.post("/import")
def import_upload(request: Request, file: Annotated[UploadFile, File()], columns: Text = "",
                  zone: Annotated[str, Form(max_length=64)] = "", no_header: Annotated[bool, Form()] = False,
                  session: Session = Depends(may("ops_intelligence"))) -> Response:
    state = _state(request)
    try:
        layout = parse_layout(columns, header=not no_header)
        report = import_sightings(state.db, file.file, file_name=file.filename or "upload", layout=layout,
                                  zone=zone.strip() or None, home=state.home, actor=_actor(session))
    except SightingsError as exc:
        return _import_page(request, session, str(exc), 400)
    return RedirectResponse(f"/imports/{report.import_id}", status_code=303)


@router.get("/imports/{import_id}")
def import_report(request: Request, import_id: Id, session: Session = Depends(allowed("view"))) -> Response:
    state = _state(request)
    with state.db.engine.connect() as conn:
        row = conn.execute(select(imports).where(imports.c.id == import_id)).first()
        if row is None:
            raise HTTPException(404, "no such import")
        problems = conn.execute(select(import_problems).where(import_problems.c.import_id == import_id)
                                .order_by(import_problems.c.line)).all()
    return ops_render(request, "ops_import_report.html", session, row=row, problems=problems, utc=_utc)


# targets

@router.get("/targets")
def targets_page(request: Request, session: Session = Depends(allowed("view")), closed: bool = False) -> Response:
    found = list_targets(_state(request).db, statuses=("closed",) if closed else ("open",))
    return ops_render(request, "ops_targets.html", session, targets=found, closed=closed)


@router.get("/targets/{target_id}")
def target_page(request: Request, target_id: Id, session: Session = Depends(allowed("view"))) -> Response:
    return _target_page(request, session, target_id)


def _target_page(request: Request, session: Session, target_id: int, problem: str | None = None) -> Response:
    state = _state(request)
    detail = target_detail(state.db, target_id)
    if detail is None:
        raise HTTPException(404, "no such target")
    return ops_render(request, "ops_target.html", session, status=400 if problem else 200, t=detail,
                      problem=problem, risk_kinds=RISK_KINDS, other_max=OTHER_RISK_MAX,
                      can_act=session.user.can("ops_intelligence"), utc=_utc)


def _target_change(request: Request, session: Session, target_id: int, action: Callable[[], object]) -> Response:
    refused = _problem(action, lambda p: _target_page(request, session, target_id, p))
    return refused or RedirectResponse(f"/targets/{target_id}", status_code=303)


@router.post("/targets/{target_id}/risk")
def target_risk(request: Request, target_id: Id, kind: Annotated[str, Form(max_length=32)], note: Text,
                points: Annotated[str, Form(max_length=6)] = "",
                session: Session = Depends(may("ops_intelligence"))) -> Response:
    def act() -> None:
        try:
            given = int(points) if points.strip() else None
        except ValueError:
            raise TargetError("points are a whole number") from None
        add_risk_fact(_state(request).db, target_id, kind=kind, note=note, points=given, actor=_actor(session))
    return _target_change(request, session, target_id, act)


@router.post("/targets/{target_id}/risk/{fact_id}/withdraw")
def target_risk_withdraw(request: Request, target_id: Id, fact_id: Id,
                         session: Session = Depends(may("ops_intelligence"))) -> Response:
    return _target_change(request, session, target_id,
                          lambda: withdraw_risk_fact(_state(request).db, target_id, fact_id, actor=_actor(session)))


@router.post("/targets/{target_id}/override")
def target_override(request: Request, target_id: Id, note: Text, score: Annotated[str, Form(max_length=6)] = "",
                    session: Session = Depends(may("ops_intelligence"))) -> Response:
    def act() -> None:
        try:
            value = int(score) if score.strip() else None
        except ValueError:
            raise TargetError("the score is a whole number (leave it empty to go back to the computed score)") from None
        set_override(_state(request).db, target_id, new_score=value, note=note, actor=_actor(session))
    return _target_change(request, session, target_id, act)


@router.post("/targets/{target_id}/subscriber")
def target_subscriber(request: Request, target_id: Id, sighting: Annotated[int, Form(ge=1, le=MAX_ID)],
                      isp: Annotated[str, Form(max_length=200)], isp_reference: Annotated[str, Form(max_length=200)],
                      name: Annotated[str, Form(max_length=300)], address: Annotated[str, Form(max_length=1000)],
                      session: Session = Depends(may("ops_intelligence"))) -> Response:
    def act() -> None:
        state = _state(request)
        detail = target_detail(state.db, target_id)
        chosen = next((s for s in detail.sightings if s.id == sighting), None) if detail else None
        if chosen is None:
            raise TargetError("choose one of this target's sightings: the address and time the ISP was asked about")
        add_subscriber(state.db, target_id, isp=isp, isp_reference=isp_reference, ip=chosen.ip, seen_us=chosen.seen_us,
                       name=name, address=address, actor=_actor(session))
    return _target_change(request, session, target_id, act)


@router.post("/targets/{target_id}/close")
def target_close(request: Request, target_id: Id, note: Text, reopen: Annotated[bool, Form()] = False,
                 session: Session = Depends(may("ops_intelligence"))) -> Response:
    return _target_change(request, session, target_id,
                          lambda: close_target(_state(request).db, target_id, note=note, reopen=reopen,
                                               actor=_actor(session)))


@router.post("/targets/{target_id}/operation")
def target_operation(request: Request, target_id: Id, reference: Annotated[str, Form(max_length=100)],
                     session: Session = Depends(may("ops_intelligence"))) -> Response:
    started: list[int] = []
    refused = _problem(lambda: started.append(lifecycle.start_operation(_state(request).db, target_id, reference,
                                                                         actor=_actor(session))),
                       lambda p: _target_page(request, session, target_id, p))
    return refused or RedirectResponse(f"/operations/{started[0]}", status_code=303)


# A draft is written (and audited) only by a POST with the CSRF token: a GET that wrote the audit trail could be
# made by any page of the same site, an <img> on another port of this host, in a logged-in officer's browser.

@router.post("/targets/{target_id}/warrant")
def warrant_page(request: Request, target_id: Id, session: Session = Depends(may("ops_intelligence"))) -> Response:
    state = _state(request)
    draft = _draft(state, target_id, session)
    write_warrant(state.db, draft, fmt="html", actor=_actor(session))
    return ops_render(request, "ops_warrant.html", session, draft=draft)


@router.post("/targets/{target_id}/warrant.pdf")
def warrant_pdf(request: Request, target_id: Id, session: Session = Depends(may("ops_intelligence"))) -> Response:
    state = _state(request)
    data, _digest = write_warrant(state.db, _draft(state, target_id, session), fmt="pdf", actor=_actor(session))
    return Response(data, media_type="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="warrant-draft-target-{target_id}.pdf"'})


def _draft(state: OpsState, target_id: int, session: Session):  # noqa: ANN202
    try:
        return warrant_draft(state.db, target_id, prepared_by=_actor(session))
    except WarrantError as exc:
        raise HTTPException(404, str(exc)) from None


# operations

@router.get("/operations/{operation_id}")
def operation_page(request: Request, operation_id: Id, session: Session = Depends(allowed("view"))) -> Response:
    return _operation_page(request, session, operation_id)


def _operation_page(request: Request, session: Session, operation_id: int, problem: str | None = None) -> Response:
    state = _state(request)
    operation = lifecycle.get_operation(state.db, operation_id)
    if operation is None:
        raise HTTPException(404, "no such operation")
    charging = [(d, lifecycle.device_charging(d, state.config.profile)) for d in operation.devices if d.case_dir]
    return ops_render(request, "ops_operation.html", session, status=400 if problem else 200, op=operation,
                      problem=problem, stages=STAGES, stage_titles=STAGE_TITLES, charging=charging,
                      cases=state.case_folders(), today=datetime.now(timezone.utc).date().isoformat(),
                      can_act=session.user.can("ops_lifecycle"))


def _operation_change(request: Request, session: Session, operation_id: int, action: Callable[[], object]) -> Response:
    refused = _problem(action, lambda p: _operation_page(request, session, operation_id, p))
    return refused or RedirectResponse(f"/operations/{operation_id}", status_code=303)


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise LifecycleError(f"{text[:20]!r} is not a date (YYYY-MM-DD)") from None


@router.post("/operations/{operation_id}/stage")
def operation_stage(request: Request, operation_id: Id, stage: Annotated[str, Form(max_length=32)],
                    on: Annotated[str, Form(max_length=10)], persons: Annotated[int, Form(ge=1, le=100)] = 1,
                    session: Session = Depends(may("ops_lifecycle"))) -> Response:
    return _operation_change(request, session, operation_id, lambda: lifecycle.record_stage(
        _state(request).db, operation_id, stage, on=_day(on), persons=persons, actor=_actor(session)))


@router.post("/operations/{operation_id}/devices")
def operation_device(request: Request, operation_id: Id, exhibit_ref: Annotated[str, Form(max_length=200)],
                     description: Text, case: Annotated[str, Form(max_length=255)] = "",
                     session: Session = Depends(may("ops_lifecycle"))) -> Response:
    def act() -> None:
        state = _state(request)
        folder = None
        if case:
            if state.cases_root is None or case not in state.case_folders():
                raise LifecycleError("choose a case folder from the list")
            folder = state.cases_root / case
        lifecycle.add_device(state.db, operation_id, exhibit_ref=exhibit_ref, description=description, case_dir=folder,
                             actor=_actor(session))
    return _operation_change(request, session, operation_id, act)


@router.post("/operations/{operation_id}/safeguarding")
def operation_safeguarding(request: Request, operation_id: Id, children: Annotated[int, Form(ge=0, le=100)],
                           on: Annotated[str, Form(max_length=10)], note: Text,
                           session: Session = Depends(may("ops_lifecycle"))) -> Response:
    return _operation_change(request, session, operation_id, lambda: lifecycle.record_safeguarding(
        _state(request).db, operation_id, children=children, on=_day(on), note=note, actor=_actor(session)))


# settings and accounts (supervisors)

@router.get("/settings")
def settings_page(request: Request, session: Session = Depends(allowed("ops_settings"))) -> Response:
    return _settings_page(request, session)


def _settings_page(request: Request, session: Session, problem: str | None = None) -> Response:
    return ops_render(request, "ops_settings.html", session, status=400 if problem else 200,
                      s=load_settings(_state(request).db), problem=problem)


@router.post("/settings")
def save_settings_form(request: Request, window_days: Annotated[int, Form(ge=1, le=365)],
                       suppress_below: Annotated[int, Form(ge=1, le=1000)],
                       public_title: Annotated[str, Form(max_length=200)], force_areas: Text = "",
                       advice_text: Text = "", advice_links: Text = "",
                       session: Session = Depends(may("ops_settings"))) -> Response:
    def act() -> None:
        links = []
        for line in advice_links.splitlines():
            if line.strip():
                title, bar, url = line.rpartition("|")
                if not bar:
                    raise SettingsError(f"advice link {line.strip()[:60]!r}: write it as title | https://address")
                links.append((title.strip(), url.strip()))
        save_settings(_state(request).db, _actor(session),
                      force_areas=[a.strip() for a in force_areas.splitlines() if a.strip()], window_days=window_days,
                      suppress_below=suppress_below, public_title=public_title, advice_text=advice_text.strip(),
                      advice_links=links)
    return _problem(act, lambda p: _settings_page(request, session, p)) or RedirectResponse("/settings", 303)


@router.get("/users")
def users_page(request: Request, session: Session = Depends(allowed("manage_users"))) -> Response:
    return _users_page(request, session)


def _users_page(request: Request, session: Session, problem: str | None = None) -> Response:
    return ops_render(request, "ops_users.html", session, status=400 if problem else 200,
                      users=accounts.list_users(_state(request).store), roles=OPS_ROLES,
                      duties=role_duties("operations"), problem=problem, utc=_utc)


@router.post("/users")
def add_user(request: Request, name: Annotated[str, Form(max_length=200)], role: Annotated[str, Form(max_length=16)],
             password: Annotated[str, Form(max_length=1024)], session: Session = Depends(may("manage_users"))) -> Response:
    state = _state(request)

    def act() -> None:
        with state.write_lock:
            accounts.add_user(state.store, name, role, password=password, actor=_actor(session), roles=OPS_ROLES)
    return _problem(act, lambda p: _users_page(request, session, p)) or RedirectResponse("/users", 303)


@router.post("/users/{user_id}/{change}")
def enable_user(request: Request, user_id: Id, change: str, session: Session = Depends(may("manage_users"))) -> Response:
    if change not in ("enable", "disable"):
        raise HTTPException(404, "no such change")
    if user_id == session.user.id:
        raise HTTPException(400, "you cannot disable your own account")
    state = _state(request)
    try:
        with state.write_lock:
            accounts.set_disabled(state.store, user_id, disabled=change == "disable", actor=_actor(session))
    except AccountError as exc:
        raise HTTPException(404, str(exc)) from None
    return RedirectResponse("/users", status_code=303)


def _utc(seconds: float | None) -> str:
    if seconds is None:
        return ""
    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
