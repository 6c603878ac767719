"""Long paths and locators on a page break at their separators, not mid-name ("embedded jpe|g").

A ``<wbr>`` after each separator gives the browser a break opportunity there; the stylesheet's
``overflow-wrap: anywhere`` still breaks a single name longer than the line, so nothing scrolls sideways."""

from __future__ import annotations

import re

from markupsafe import Markup, escape

_AFTER_SEPARATOR = re.compile(r"(?<=[/\\|:_-])")


def wrap_at_separators(text: object) -> Markup:
    """``text`` escaped, with a break opportunity after every ``/ \\ | : _ -``."""
    return Markup("<wbr>").join(escape(part) for part in _AFTER_SEPARATOR.split(str(text)))
