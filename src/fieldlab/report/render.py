"""The court report as HTML, and as PDF drawn by WeasyPrint from the same HTML; writing one is audit-logged.

Evidence strings (file names, paths, EWF headers, examiners' declarations) are hostile until shown otherwise:
Jinja2 escapes every value, the page carries its style inline and loads nothing, and WeasyPrint is given a fetcher
that refuses every URL but the report's own ``data:`` pictures, so no name can make the renderer read a local
file or reach the network.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from jinja2 import Environment, PackageLoader, StrictUndefined
from PIL import ImageFile

_STRICT_PILLOW = ImageFile.LOAD_TRUNCATED_IMAGES
from weasyprint import HTML  # noqa: E402
from weasyprint.urls import URLFetcher  # noqa: E402

# WeasyPrint switches Pillow's truncation errors off for the whole process when imported; a scan in the same
# process (the review app, the API) must still reject truncated pictures, so the setting is put back.
ImageFile.LOAD_TRUNCATED_IMAGES = _STRICT_PILLOW

from fieldlab.case.outputs import refuse_case_evidence, write_whole  # noqa: E402 - after Pillow's setting is restored
from fieldlab.case.store import CaseStore  # noqa: E402
from fieldlab.errors import OptionError, ReportError  # noqa: E402
from fieldlab.report.document import MEDIUM_TITLES, ReportContent, utc_text  # noqa: E402

FORMATS = ("html", "pdf")

_templates = Environment(
    loader=PackageLoader("fieldlab.report", "templates"),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)
_templates.filters["utc"] = utc_text
_templates.filters["count"] = lambda n: f"{n:,}"
_templates.filters["yesno"] = lambda flag: "yes" if flag else "no"
_templates.globals["medium_title"] = MEDIUM_TITLES.__getitem__


class RefusedURL(ReportError):
    """A resource outside the report was asked for; the report reads nothing but itself."""


class DataOnlyFetcher(URLFetcher):
    """WeasyPrint's fetcher for the report: ``data:`` URIs (its own pictures) only; every other URL is refused
    and remembered in ``refused`` so a test, or a suspicious examiner, can see what was asked for."""

    def __init__(self) -> None:
        super().__init__(allowed_protocols=("data",), allow_redirects=False)
        self.refused: list[str] = []
        self.fetched: list[str] = []

    def fetch(self, url: str, headers: dict | None = None):  # noqa: ANN201 - WeasyPrint's URLFetcherResponse
        if not url.startswith("data:"):
            self.refused.append(url)
            raise RefusedURL(f"the report loads nothing from outside itself: {url[:100]!r} refused")
        self.fetched.append(url[:40])
        return super().fetch(url, headers)


@dataclass(frozen=True)
class WrittenReport:
    path: Path
    format: str
    profile: str
    sha256: str


def render_html(content: ReportContent) -> str:
    return _templates.get_template("report.html.j2").render(report=content)


def render_template(name: str, **context: object) -> str:
    """Another document in the report's style and under its escaping rules (the validation record)."""
    return _templates.get_template(name).render(**context)


def render_pdf(content: ReportContent, fetcher: DataOnlyFetcher | None = None) -> bytes:
    return html_to_pdf(render_html(content), fetcher)


def html_to_pdf(html: str, fetcher: DataOnlyFetcher | None = None) -> bytes:
    """PDF of ``html``; no base URL, so nothing relative resolves, and ``fetcher`` refuses all but ``data:``."""
    return HTML(string=html, base_url=None, url_fetcher=fetcher or DataOnlyFetcher()).write_pdf()


def default_output(case_dir: Path, profile: str, fmt: str, *, now: datetime | None = None) -> Path:
    """In the case folder, named from the profile and the time only: never from anything in the evidence."""
    stamp = (now or datetime.now(timezone.utc)).astimezone(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return Path(case_dir) / f"report-{profile}-{stamp}.{fmt}"


def write_report(store: CaseStore, content: ReportContent, *, fmt: str, output: Path) -> WrittenReport:
    """Render, write (whole or not at all) and record in the audit trail the file's name and SHA-256."""
    if fmt not in FORMATS:
        raise OptionError(f"unknown report format {fmt!r}: choose one of {', '.join(FORMATS)}")
    output = Path(output)
    refuse_case_evidence(store.exhibits(), output, "the report")
    data = render_html(content).encode("utf-8") if fmt == "html" else render_pdf(content)
    write_whole(output, data)
    digest = hashlib.sha256(data).hexdigest()
    store.audit.append("report_written", {
        "format": fmt, "profile": content.profile, "file": output.name, "sha256": digest,
        "thumbnails": content.pictures is not None, "declaration": content.declaration is not None,
    })
    return WrittenReport(output, fmt, content.profile, digest)
