"""fieldlab: read-only triage of seized devices for known indecent images of children."""

__version__ = "0.1.0"

from fieldlab.api import hits, import_hashset, list_hashsets, scan, summary, update_hashset, verify_audit  # noqa: E402

__all__ = ["__version__", "hits", "import_hashset", "list_hashsets", "scan", "summary", "update_hashset", "verify_audit"]
