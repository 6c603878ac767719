"""The review app's pages and API.  No route takes a path or a file name: items are integer ids, checked by type
and range, and every picture is a re-encoded thumbnail."""

from __future__ import annotations

import secrets
from importlib import resources
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Form, HTTPException, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from fieldlab.case.accounts import live_session_hashes
from fieldlab.case.decisions import categorise, undo_last
from fieldlab.case.queries import has_exact_hit, item_exists, picture_source
from fieldlab.case.review import decided_items
from fieldlab.case.store import CaseError
from fieldlab.case.welfare import exposure_totals
from fieldlab.hashsets.profiles import PROFILES, UNCATEGORISED
from fieldlab.web import accounts, welfare
from fieldlab.web.accounts import AccountError, Session
from fieldlab.web.app import allowed, keys_for, may, render, state_of
from fieldlab.web.body_limits import BodyLimit
from fieldlab.web.dashboard import dashboard, exhibit_errors, progress
from fieldlab.web.permissions import role_duties
from fieldlab.web.review import TIERS, content_key, expand_selection, item_detail, tiles, utc
from fieldlab.web.thumbnails import ThumbnailTask, ThumbnailUnavailable

router = APIRouter()
MAX_ID = 2**62
ItemId = Annotated[int, Path(ge=1, le=MAX_ID)]
BODY_LIMITS = (BodyLimit("POST", "/api/categorise", 2 * 1024 * 1024, "categorise"),)  # 10,000 ids; all else 64 KiB
_STATIC = {"review.js": "text/javascript; charset=utf-8", "review.css": "text/css; charset=utf-8",
           "favicon.svg": "image/svg+xml"}
_STATIC_FILES = {name: resources.files("fieldlab.web").joinpath("static", name).read_bytes() for name in _STATIC}


# static files: named here, one by one, so no path from a request ever reaches the file system

@router.get("/static/review.js")
def static_js() -> Response:
    return Response(_STATIC_FILES["review.js"], media_type=_STATIC["review.js"])


@router.get("/static/review.css")
def static_css() -> Response:
    return Response(_STATIC_FILES["review.css"], media_type=_STATIC["review.css"])


@router.get("/favicon.ico")
def favicon() -> Response:
    """A small SVG where browsers look for an icon (and where every page's ``<link rel=icon>`` points): without it
    each page load leaves a 404 in the log."""
    return Response(_STATIC_FILES["favicon.svg"], media_type=_STATIC["favicon.svg"])


# logging in and out

@router.get("/login")
def login_form(request: Request) -> Response:
    token = secrets.token_urlsafe(24)
    response = render(request, "login.html", None, login_csrf=token, problem=None)
    _set_cookie(request, response, state_of(request).cookies.login, token)
    return response


@router.post("/login")
def login(request: Request, name: Annotated[str, Form(max_length=200)], password: Annotated[str, Form(max_length=1024)],
          csrf: Annotated[str, Form(max_length=100)]) -> Response:
    state = state_of(request)
    expected = request.cookies.get(state.cookies.login)
    if not expected or not secrets.compare_digest(expected.encode(), csrf.encode()):
        raise HTTPException(403, "the login form expired: reload the page")
    name = accounts.canonical_name(name)
    attempt = state.throttle.begin(accounts.name_key(name), request.client.host if request.client else "")
    if isinstance(attempt, str):
        return _login_again(request, attempt, 429)
    try:
        user = accounts.authenticate(state.store, name, password)
    except accounts.ServerBusy as exc:
        state.throttle.finish(attempt, failed=None)
        return _login_again(request, str(exc), 503)
    state.throttle.finish(attempt, failed=user is None)
    if user is None:
        with state.write_lock:
            state.store.audit.append("login_failed", {"user": name[:200]}, actor="review app")
        return _login_again(request, "wrong name or password", 401)
    token, _session = accounts.start_session(state.store, user)
    with state.write_lock:
        state.store.audit.append("logged_in", {"user": user.name, "role": user.role}, actor=user.name)
    response = RedirectResponse("/", status_code=303)
    _set_cookie(request, response, state.cookies.session, token)
    _delete_cookie(request, response, state.cookies.login)
    return response


def _login_again(request: Request, problem: str, status: int) -> Response:
    token = secrets.token_urlsafe(24)
    response = render(request, "login.html", None, status=status, login_csrf=token, problem=problem)
    _set_cookie(request, response, state_of(request).cookies.login, token)
    return response


def _set_cookie(request: Request, response: Response, name: str, value: str) -> None:
    response.set_cookie(name, value, httponly=True, samesite="strict", secure=state_of(request).config.secure_cookies,
                        path="/")


def _delete_cookie(request: Request, response: Response, name: str) -> None:
    response.delete_cookie(name, path="/", httponly=True, samesite="strict",
                           secure=state_of(request).config.secure_cookies)


@router.post("/logout")
def logout(request: Request, session: Session = Depends(may("view"))) -> Response:
    state = state_of(request)
    accounts.end_session(state.store, request.cookies.get(state.cookies.session, ""))
    with state.write_lock:
        state.store.audit.append("logged_out", {"user": session.user.name}, actor=session.user.name)
    response = RedirectResponse("/login", status_code=303)
    _delete_cookie(request, response, state.cookies.session)
    return response


# dashboard

@router.get("/")
def dashboard_page(request: Request, session: Session = Depends(allowed("view"))) -> Response:
    state = state_of(request)
    board = dashboard(state.store, state.config.profile)
    return render(request, "dashboard.html", session, board=board,
                  live=any(not p.progress.finished for p in board.panels))


@router.get("/api/progress")
def progress_json(request: Request, _session: Session = Depends(allowed("view"))) -> dict:
    found = progress(state_of(request).store)
    return {"exhibits": [{"id": p.exhibit_id, "ref": p.ref, "files": p.files, "files_read": p.files_read,
                          "media": p.media, "media_decoded": p.media_decoded, "errors": p.errors,
                          "hit_items": p.hit_items, "near_items": p.near_items, "percent": p.percent,
                          "status": p.status, "finished": p.finished} for p in found],
            "finished": all(p.finished for p in found)}


@router.get("/errors/{exhibit_id}")
def errors_page(request: Request, exhibit_id: ItemId, session: Session = Depends(allowed("view"))) -> Response:
    state = state_of(request)
    exhibit = next((e for e in state.store.exhibits() if e.id == exhibit_id), None)
    if exhibit is None:
        raise HTTPException(404, "no such exhibit")
    rows = [(kind, stage, path, message, utc(at)) for kind, stage, path, message, at in exhibit_errors(state.store, exhibit_id)]
    return render(request, "errors.html", session, exhibit=exhibit, rows=rows)


# gallery

@router.get("/gallery")
def gallery(request: Request, session: Session = Depends(allowed("view")),
            tab: Literal["review", "known"] = "review", page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
            undecided: bool = False, nudity: bool = False) -> Response:
    state = state_of(request)
    index = state.fresh_review()
    keys = index.unknown if tab == "review" else index.known
    if nudity:
        from fieldlab.detect.classify import likely_nudity  # loads NumPy: not at the server's start

        keys = [k for k in keys if likely_nudity(index.contents[k].nudity)]
    if undecided:
        decided = decided_items(state.store, state.config.profile)
        keys = [k for k in keys if index.contents[k].item_id not in decided]
    page_size = state.config.page_size
    chosen = keys[(page - 1) * page_size: page * page_size]
    shown = tiles(state.store, index, chosen, profile=state.config.profile)
    pages = max(1, -(-len(keys) // page_size))
    return render(request, "gallery.html", session, tab=tab, page=page, pages=pages, tiles=shown,
                  total=len(keys), known_total=len(index.known), review_total=len(index.unknown),
                  undecided=undecided, nudity=nudity, keys=keys_for(state.config.profile), tiers=TIERS,
                  can_see=session.user.can("see_pictures"), can_categorise=session.user.can("categorise"))


@router.get("/item/{item_id}")
def item_page(request: Request, item_id: ItemId, session: Session = Depends(allowed("view"))) -> Response:
    state = state_of(request)
    detail = item_detail(state.store, item_id)
    if detail is None:
        raise HTTPException(404, "no such item")
    index = state.fresh_review()
    copies = index.copies([item_id])
    needs_reveal = bool(index.reveal_needed(item_id, content_key(detail.id, detail.md5, detail.sha1), detail.known))
    return render(request, "item.html", session, item=detail, copies_ids=copies, keys=keys_for(state.config.profile),
                  needs_reveal=needs_reveal, ask_password=_asks_password(state, session, item_id, detail.exhibit_id),
                  can_see=session.user.can("see_pictures"), can_categorise=session.user.can("categorise"),
                  decision=_standing(detail.decisions))


def _asks_password(state, session: Session, item_id: int, exhibit_id: int) -> bool:  # noqa: ANN001 - AppState
    """The examiner may see pictures of an encrypted exhibit (an encrypted backup), or of an item in an encrypted
    volume, and has given no password for that exhibit in this session."""
    if not session.user.can("see_pictures") or state.exhibit_passwords.of(session.token_hash, exhibit_id):
        return False
    from fieldlab.evidence.reopen import behind_encryption, stored_spec  # the evidence readers: loaded when needed

    source = picture_source(state.store, item_id)  # the locator as stored, not as displayed
    if source is not None and behind_encryption(source.locator):
        return True
    exhibit = next((e for e in state.store.exhibits() if e.id == exhibit_id), None)
    return exhibit is not None and bool(stored_spec(exhibit.source, exhibit.source_kind).layout)


@router.post("/exhibits/{exhibit_id}/password")
def exhibit_password(request: Request, exhibit_id: ItemId,
                     password: Annotated[str, Form(min_length=1, max_length=1024)],
                     back: Annotated[int, Form(ge=1, le=MAX_ID)],
                     session: Session = Depends(may("see_pictures"))) -> Response:
    """The exhibit's password for this session's previews: kept in memory, never written; the audit entry says a
    password was given, not which."""
    state = state_of(request)
    if not any(e.id == exhibit_id for e in state.store.exhibits()):
        raise HTTPException(404, "no such exhibit")
    state.exhibit_passwords.give(session.token_hash, exhibit_id, password, live_session_hashes(state.store))
    with state.write_lock:
        state.store.audit.append("exhibit_password_given", {"exhibit": exhibit_id}, actor=session.user.name)
    return RedirectResponse(f"/item/{back}", status_code=303)


def _standing(history: tuple[dict, ...]) -> str | None:
    latest = history[-1]["category"] if history else None
    return None if latest == UNCATEGORISED else latest


@router.get("/thumb/{item_id}")
async def thumbnail(request: Request, item_id: ItemId, session: Session = Depends(allowed("see_pictures"))) -> Response:
    state = state_of(request)
    task, known_copies = await run_in_threadpool(_thumbnail_task, state, item_id, session)
    if known_copies and not await run_in_threadpool(welfare.has_revealed, state.store, session.user, known_copies):
        raise HTTPException(403, "known material, and anything derived from it, is shown only after an explicit reveal")
    try:
        data = await run_in_threadpool(state.thumbnails.thumbnail, task, not known_copies)
    except ThumbnailUnavailable as exc:
        return JSONResponse({"detail": str(exc)}, status_code=404)
    await run_in_threadpool(_log_sent, state, session, item_id)
    return Response(data, media_type="image/jpeg")


def _log_sent(state, session: Session, item_id: int) -> None:  # noqa: ANN001 - AppState
    with state.write_lock:
        welfare.record_picture_sent(state.store, session, item_id)


def _thumbnail_task(state, item_id: int, session: Session) -> tuple[ThumbnailTask, list[int]]:  # noqa: ANN001
    """What to render (with the exhibit's passwords this session gave), and, for known material and anything derived
    from it, the copies any of which the examiner must have revealed."""
    row = picture_source(state.store, item_id)
    if row is None or row.family not in ("image", "video"):
        raise HTTPException(404, "no picture or video with this id")
    from fieldlab.evidence.reopen import stored_spec

    own_exact = has_exact_hit(state.store, item_id)
    guarded = state.fresh_review().reveal_needed(item_id, content_key(row.item_id, row.md5, row.sha1), own_exact)
    spec = stored_spec(row.source, row.source_kind, row.parents,
                       state.exhibit_passwords.of(session.token_hash, row.exhibit_id))
    task = ThumbnailTask(row.item_id, spec, row.locator, row.family, row.size)
    return task, guarded


# categorising

class Categorisation(BaseModel):
    items: list[Annotated[int, Field(ge=1, le=MAX_ID)]] = Field(min_length=1, max_length=10_000)
    category: str = Field(max_length=32)
    whole_group: bool = False


@router.post("/api/categorise")
def categorise_items(request: Request, body: Categorisation, session: Session = Depends(may("categorise"))) -> dict:
    state = state_of(request)
    profile = state.config.profile
    if body.category not in PROFILES[profile].labels:
        raise HTTPException(422, f"{body.category!r} is not a category of the {profile} profile")
    index = state.fresh_review()
    chosen = expand_selection(state.store, index, body.items, whole_group=body.whole_group)
    with state.write_lock:
        try:
            categorise(state.store, chosen, body.category, profile=profile, examiner=session.user.name,
                       note="whole group" if body.whole_group else None)
        except CaseError as exc:
            raise HTTPException(404, str(exc)) from None
    shown = None if body.category == UNCATEGORISED else body.category
    return {"items": {str(i): shown for i in chosen}, "count": len(chosen)}


@router.post("/api/undo")
def undo(request: Request, session: Session = Depends(may("categorise"))) -> dict:
    state = state_of(request)
    with state.write_lock:
        undone = undo_last(state.store, session.user.name, state.config.profile)
    if undone is None:
        return {"items": {}, "count": 0, "message": "nothing left to undo"}
    restored = {str(i): (None if c == UNCATEGORISED else c) for i, c in undone.restored.items()}
    return {"items": restored, "count": len(restored),
            "message": f"undone: {len(restored)} item(s) set to {undone.category}"}


# welfare

@router.post("/api/reveal/{item_id}")
def reveal(request: Request, item_id: ItemId, session: Session = Depends(may("see_pictures"))) -> dict:
    state = state_of(request)
    if not item_exists(state.store, item_id):
        raise HTTPException(404, "no such item")
    with state.write_lock:
        exposure_id = welfare.start_reveal(state.store, session.user, item_id)
    return {"exposure_id": exposure_id}


class Exposure(BaseModel):
    item_id: Annotated[int, Field(ge=1, le=MAX_ID)] | None = None
    exposure_id: Annotated[int, Field(ge=1, le=MAX_ID)] | None = None  # an explicit reveal that ended
    how: Literal["hover", "key", "reveal"] = "hover"
    seconds: float = Field(ge=0, le=welfare.MAX_EXPOSURE_SECONDS)


@router.post("/api/exposure")
def exposure(request: Request, body: Exposure, session: Session = Depends(may("see_pictures"))) -> dict:
    state = state_of(request)
    with state.write_lock:
        try:
            if body.exposure_id is not None:
                welfare.end_exposure(state.store, session, body.exposure_id, seconds=body.seconds)
            elif body.item_id is not None and body.how != "reveal":
                welfare.record_exposure(state.store, session, body.item_id, how=body.how, seconds=body.seconds)
            else:
                raise HTTPException(422, "give item_id (hover, key) or exposure_id (reveal)")
        except welfare.ExposureRefused as exc:
            raise HTTPException(403, str(exc)) from None
    return _break_state(state, session)


@router.post("/api/break")
def take_break(request: Request, session: Session = Depends(may("see_pictures"))) -> dict:
    state = state_of(request)
    with state.write_lock:
        welfare.take_break(state.store, session.user)
    return _break_state(state, session)


@router.get("/api/break")
def break_state(request: Request, session: Session = Depends(allowed("see_pictures"))) -> dict:
    return _break_state(state_of(request), session)


def _break_state(state, session: Session) -> dict:  # noqa: ANN001 - AppState
    settings = welfare.settings_for(state.store, session.user.id)
    seconds = welfare.exposure_since_break(state.store, session.user.id)
    return {"since_break": round(seconds, 1), "break_minutes": settings.break_minutes,
            "break_due": seconds >= settings.break_minutes * 60}


@router.get("/me/welfare.css")
def welfare_css(request: Request, session: Session = Depends(allowed("view"))) -> Response:
    """The examiner's own blur and colour, as CSS variables: applied before any script runs."""
    settings = welfare.settings_for(state_of(request).store, session.user.id)
    css = f":root {{ --blur: {int(settings.blur_px)}px; --grey: {1 if settings.greyscale else 0}; }}\n"
    return Response(css, media_type="text/css; charset=utf-8")


@router.get("/settings")
def settings_page(request: Request, session: Session = Depends(allowed("view")), saved: bool = False) -> Response:
    return render(request, "settings.html", session, saved=saved, blur_range=welfare.BLUR_RANGE,
                  break_range=welfare.BREAK_RANGE)


@router.post("/settings")
def save_settings(request: Request, blur_px: Annotated[int, Form(ge=0, le=1000)],
                  break_minutes: Annotated[int, Form(ge=0, le=100_000)],
                  greyscale: Annotated[bool, Form()] = False, session: Session = Depends(may("view"))) -> Response:
    state = state_of(request)
    with state.write_lock:
        welfare.save_settings(state.store, session.user, blur_px=blur_px, greyscale=greyscale,
                              break_minutes=break_minutes)
    return RedirectResponse("/settings?saved=true", status_code=303)


# accounts (supervisors)

@router.get("/users")
def users_page(request: Request, session: Session = Depends(allowed("manage_users")),
               problem: Annotated[str | None, Query(max_length=200)] = None) -> Response:
    state = state_of(request)
    return render(request, "users.html", session, users=accounts.list_users(state.store), roles=accounts.ROLES, duties=role_duties("review"),
                  exposure=exposure_totals(state.store), problem=problem, utc=utc)


@router.post("/users")
def add_user(request: Request, name: Annotated[str, Form(max_length=200)], role: Annotated[str, Form(max_length=16)],
             password: Annotated[str, Form(max_length=1024)], session: Session = Depends(may("manage_users"))) -> Response:
    state = state_of(request)
    try:
        with state.write_lock:
            accounts.add_user(state.store, name, role, password=password, actor=session.user.name)
    except AccountError as exc:
        return render(request, "users.html", session, status=400, users=accounts.list_users(state.store),
                      roles=accounts.ROLES, duties=role_duties("review"), exposure=exposure_totals(state.store), problem=str(exc), utc=utc)
    return RedirectResponse("/users", status_code=303)


@router.post("/users/{user_id}/disable")
def disable_user(request: Request, user_id: ItemId, session: Session = Depends(may("manage_users"))) -> Response:
    return _set_disabled(request, user_id, True, session)


@router.post("/users/{user_id}/enable")
def enable_user(request: Request, user_id: ItemId, session: Session = Depends(may("manage_users"))) -> Response:
    return _set_disabled(request, user_id, False, session)


def _set_disabled(request: Request, user_id: int, disabled: bool, session: Session) -> Response:
    if user_id == session.user.id:
        raise HTTPException(400, "you cannot disable your own account")
    state = state_of(request)
    try:
        with state.write_lock:
            accounts.set_disabled(state.store, user_id, disabled=disabled, actor=session.user.name)
    except AccountError as exc:
        raise HTTPException(404, str(exc)) from None
    return RedirectResponse("/users", status_code=303)
