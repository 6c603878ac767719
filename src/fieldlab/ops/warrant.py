"""A warrant application draft for a target: the facts a magistrate needs, as HTML and as PDF.

The draft states only what the operations database holds: each sighting with its UTC time, each file with its
category and hashes and the sets that know it, the area, the grouping rule, officers' risk facts, and the
subscriber details an officer entered from the ISP's answer.  It is a draft for the applicant to check and
complete.  Every string from an export or an officer is escaped (Jinja2), and the PDF is drawn by the report's
WeasyPrint path with its fetcher that refuses every URL, so nothing in a file name can reach a file or the network.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from jinja2 import Environment, PackageLoader, StrictUndefined
from sqlalchemy import select

from fieldlab import __version__
from fieldlab.case.outputs import write_whole
from fieldlab.errors import OpsError
from fieldlab.ops.database import OpsDatabase
from fieldlab.ops.models import KnownFile, Subscriber, TargetDetail
from fieldlab.ops.schema import area_sources, imports, sightings
from fieldlab.ops.settings import RISK_KINDS
from fieldlab.ops.targets import target_detail

FORMATS = ("html", "pdf")

templates = Environment(loader=PackageLoader("fieldlab.ops", "templates"), autoescape=True,
                        undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)


class WarrantError(OpsError, ValueError):
    """No draft can be made as asked; the message says why."""


@dataclass(frozen=True)
class Source:
    """Where the facts came from: an import of monitoring data, or the area data."""

    what: str
    name: str
    sha256: str
    when: str


@dataclass(frozen=True)
class WarrantDraft:
    target: TargetDetail
    prepared_by: str
    prepared_at: str  # UTC
    tool_version: str
    subscriber: Subscriber | None
    known: tuple[KnownFile, ...]
    unknown: tuple[KnownFile, ...]
    categories: tuple[tuple[str, int], ...]  # (category, distinct known files)
    networks: tuple[str, ...]
    sources: tuple[Source, ...]
    risk_titles: dict[str, str]

    @property
    def subject(self) -> str:
        return f"Target {self.target.summary.id}"


def warrant_draft(db: OpsDatabase, target_id: int, *, prepared_by: str, now: datetime | None = None) -> WarrantDraft:
    detail = target_detail(db, target_id, now)
    if detail is None or not detail.sightings:
        raise WarrantError(f"target {target_id} has no sightings to apply on")
    with db.engine.connect() as conn:
        used = conn.execute(select(imports).where(imports.c.id.in_(
            select(sightings.c.import_id).where(sightings.c.target_id == target_id))).order_by(imports.c.id)).all()
        area = conn.execute(select(area_sources).order_by(area_sources.c.id.desc()).limit(1)).first()
    sources = [Source("observation batch" if r.source == "observer" else "monitoring export", r.file_name, r.sha256,
                      _utc(r.imported_at)) for r in used]
    if area is not None:
        for described in json.loads(area.files):
            sources.append(Source(f"area data ({area.format})", described["name"], described["sha256"],
                                  _utc(area.imported_at)))
    known = tuple(f for f in detail.files if f.known)
    moment = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
    return WarrantDraft(
        target=detail, prepared_by=prepared_by, prepared_at=moment.strftime("%Y-%m-%d %H:%M:%S UTC"),
        tool_version=__version__, subscriber=detail.subscribers[0] if detail.subscribers else None,
        known=known, unknown=tuple(f for f in detail.files if not f.known),
        categories=tuple(sorted(Counter(f.category for f in known if f.category is not None).items())),
        networks=tuple(sorted({s.network for s in detail.sightings if s.network})),
        sources=tuple(sources), risk_titles={k: v[0] for k, v in RISK_KINDS.items()},
    )


def _utc(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def render_html(draft: WarrantDraft) -> str:
    """The draft as one self-contained HTML document (its style inline, nothing loaded)."""
    return templates.get_template("warrant.html.j2").render(draft=draft)


def render_pdf(draft: WarrantDraft) -> bytes:
    from fieldlab.report.render import html_to_pdf  # WeasyPrint loads only when a PDF is asked for

    return html_to_pdf(render_html(draft))


def write_warrant(db: OpsDatabase, draft: WarrantDraft, *, fmt: str, output: Path | None = None,
                  actor: str | None = None) -> tuple[bytes, str]:
    """The draft's bytes and SHA-256, written to ``output`` if given (whole or not at all); audited either way."""
    if fmt not in FORMATS:
        raise WarrantError(f"a draft is {' or '.join(FORMATS)}")
    data = render_html(draft).encode("utf-8") if fmt == "html" else render_pdf(draft)
    digest = hashlib.sha256(data).hexdigest()
    if output is not None:
        output = Path(output)
        write_whole(output, data)
    db.record("warrant_draft_written", actor, target=draft.target.summary.id, format=fmt, sha256=digest,
              file=output.name if output is not None else None, sightings=len(draft.target.sightings))
    return data, digest

