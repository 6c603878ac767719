"""One tree of the errors fieldlab raises, so a caller catches ``FieldlabError`` and never a bare ``ValueError``.

A ``FieldlabError`` means the request cannot be done as asked (a source that is not there, a hash-set file that is
not one, a case folder in use), and its message is written for the examiner.  Anything else that escapes is a fault
of fieldlab and should surface with its traceback, not be mistaken for bad input.  Each layer has one branch, and a
backend's own error (pytsk3, pyewf, SQLAlchemy, WeasyPrint) is wrapped into that branch where it leaves the layer.

Classes that callers have always caught as ``ValueError`` keep that base too (multiple inheritance), so nothing
that worked before stops working.  Problems of single items are not raised at all: they are ``problems.Problem``
records and the scan goes on.

This module is imported by worker processes: it must stay free of heavy imports.
"""

from __future__ import annotations

USAGE_EXIT_CODE = 2  # what the CLI has always returned for a request it cannot do (typer's own usage errors too)


class FieldlabError(Exception):
    """The request cannot be done as asked; the message says why, in the examiner's words."""

    exit_code: int = USAGE_EXIT_CODE


class EvidenceError(FieldlabError):
    """A source, image, container or phone extraction cannot be opened or read as asked."""


class HashSetError(FieldlabError):
    """A hash set cannot be imported, found or used as asked."""


class CaseError(FieldlabError):
    """The case folder or database cannot be used as asked."""


class ScanError(FieldlabError):
    """The scan itself cannot run as asked (its workers, its cluster)."""


class ReportError(FieldlabError):
    """A report or export cannot be produced as asked."""


class WebError(FieldlabError):
    """The review app refuses or cannot serve a request."""


class OpsError(FieldlabError):
    """The operations database or an operations record cannot be used as asked."""


class OptionError(FieldlabError, ValueError):
    """A value given for an option (a format, a profile, a problem kind, a radius) is not one fieldlab accepts.

    The same whichever layer checks it, so the examiner reads one kind of answer; a ValueError too, as these checks
    have always raised."""


def exit_code(error: BaseException) -> int:
    """The process exit code for an error that ended a command: its class's, or 1 for anything outside the tree
    (a fault of fieldlab, which should also be shown with its traceback)."""
    return error.exit_code if isinstance(error, FieldlabError) else 1


def message(error: FieldlabError) -> str:
    """The one-line message the CLI prints: the error's own words, or its kind where it carries none."""
    return str(error) or type(error).__name__
