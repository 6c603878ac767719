"""fieldlab: read-only triage of seized devices for known indecent images of children.

The public API (`fieldlab.scan`, `fieldlab.summary`...) is loaded on first use: a worker process or
`import fieldlab.locator` must not pay for SQLAlchemy, FastAPI and the evidence libraries it never calls.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

__all__ = ["__version__", "hits", "import_hashset", "list_hashsets", "list_problems", "scan", "summary", "update_hashset", "verify_audit"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(import_module("fieldlab.api"), name)
    raise AttributeError(f"module 'fieldlab' has no attribute {name!r}")
