"""The report's account of the classifier stage: which model ran, on how many pictures, and that it decided nothing.

A court needs to know an automatic signal touched the case and that it could
not have moved a category or a count; so the method section names the model,
its file's SHA-256 and licence, and says what its score was used for.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from fieldlab.case.schema import classifications, classifier_models
from fieldlab.case.store import CaseStore


@dataclass(frozen=True)
class ClassifierUse:
    name: str
    sha256: str
    licence: str
    pictures: int  # classified with it


def classifier_uses(store: CaseStore) -> tuple[ClassifierUse, ...]:
    with store.engine.connect() as conn:
        counted = (select(classifications.c.model_sha256, func.count().label("n"))
                   .group_by(classifications.c.model_sha256).subquery())
        rows = conn.execute(select(classifier_models.c.name, classifier_models.c.sha256, classifier_models.c.licence,
                                   func.coalesce(counted.c.n, 0))
                            .outerjoin(counted, counted.c.model_sha256 == classifier_models.c.sha256)
                            .order_by(classifier_models.c.first_used_at)).all()
    return tuple(ClassifierUse(*row) for row in rows)
