"""Who may do what, in both web apps: the one table the routes check, the accounts pages show and the
documentation's role tables are drawn from (a test compares them), so the three cannot drift apart.

Each route depends on exactly one permission (``web.app.allowed`` for reads, ``web.app.may`` for changes);
``tests/security/test_permissions.py`` walks every route for every role against this table.
"""

from __future__ import annotations

from dataclasses import dataclass

ROLES = ("viewer", "examiner", "supervisor")  # the review app (a case's accounts)
OPS_ROLES = ("viewer", "intelligence", "examiner", "supervisor")  # the operations app (the operations database)


@dataclass(frozen=True)
class Permission:
    name: str
    roles: frozenset[str]
    review: str = ""  # what it lets a user do in the review app, in the words of its role table ("": not used there)
    operations: str = ""  # the same for the operations app

    def meaning(self, app: str) -> str:
        return self.review if app == "review" else self.operations


_TABLE = (
    Permission("view", frozenset(ROLES + OPS_ROLES),
               review="read the dashboard, the tiles and item pages, and set their own welfare settings",
               operations="read the dashboard, imports, targets and operations"),
    Permission("see_pictures", frozenset({"examiner", "supervisor"}),
               review="see pictures (blurred until looked at) and reveal known material, every look logged"),
    Permission("categorise", frozenset({"examiner", "supervisor"}), review="categorise items and undo"),
    Permission("ops_intelligence", frozenset({"intelligence", "supervisor"}),
               operations="import sightings, enter risk facts and subscriber details, override priorities, draft "
                          "warrants, start operations"),
    Permission("ops_lifecycle", frozenset({"examiner", "supervisor"}),
               operations="record stages, seized devices (linked to triage cases) and children safeguarded"),
    Permission("ops_settings", frozenset({"supervisor"}),
               operations="change the settings (force areas, window, public page)"),
    Permission("ops_observer", frozenset({"supervisor"}), operations="start and stop the BitTorrent observer"),
    Permission("manage_users", frozenset({"supervisor"}), review="add, disable and enable accounts",
               operations="add, disable and enable accounts"),
)
PERMISSIONS: dict[str, Permission] = {p.name: p for p in _TABLE}


def role_may(role: str, permission: str) -> bool:
    return role in PERMISSIONS[permission].roles


def role_duties(app: str) -> list[tuple[str, str]]:
    """(role, what it may do) for each role of ``app`` ("review" or "operations"), drawn from the table."""
    roles = ROLES if app == "review" else OPS_ROLES
    return [(role, "; ".join(p.meaning(app) for p in _TABLE if p.meaning(app) and role in p.roles))
            for role in roles]


def role_table_markdown(app: str) -> str:
    """The role table of the documentation, exactly as docs/operations.md and docs/security.md hold it."""
    lines = ["| role | may |", "|---|---|"]
    lines += [f"| {role} | {duties} |" for role, duties in role_duties(app)]
    return "\n".join(lines)
