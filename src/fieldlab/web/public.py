"""``/public`` and ``/public.json``: the only pages served without a login, and all they can show is
``ops.public.public_figures`` (aggregates per complete month, small numbers suppressed) and the advice text."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from fieldlab.ops.public import MEASURES, PeriodError, PublicFigures, public_figures
from fieldlab.web.ops_app import ops_state_of

router = APIRouter()
Month = Annotated[str | None, Query(alias="from", max_length=7)]
UntilMonth = Annotated[str | None, Query(alias="to", max_length=7)]


def _figures(request: Request, first: str | None, last: str | None) -> PublicFigures:
    try:
        return public_figures(ops_state_of(request).db, first=first or None, last=last or None)
    except PeriodError as exc:
        raise HTTPException(400, str(exc)) from None


@router.get("/public")
def public_page(request: Request, first: Month = None, last: UntilMonth = None) -> Response:
    figures = _figures(request, first, last)
    page = ops_state_of(request).templates.get_template("public.html").render(figures=figures, measures=MEASURES)
    return HTMLResponse(page, headers={"Cache-Control": "public, max-age=3600"})


@router.get("/public.json")
def public_json(request: Request, first: Month = None, last: UntilMonth = None) -> Response:
    return JSONResponse(_figures(request, first, last).to_json(), headers={"Cache-Control": "public, max-age=3600"})
