"""The shared vocabulary for the pages: they read statuses, reasons and the eval-key rule from here."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from losswatch.monitor import labels, vocabulary

router = APIRouter(tags=["vocabulary"])


@router.get(
    "/vocabulary",
    summary="The words losswatch uses",
    description="Run statuses, stop reasons, smoothing modes, mirror targets, the spelling of non-finite values "
    "and the rule (a regular expression) that tells a validation key from a training key; `labels` holds what "
    "a person reads for each code (statuses, reasons, diagnosis states, fact values) in English and Chinese.",
)
def get_vocabulary() -> dict[str, Any]:
    return {**vocabulary.as_dict(), "labels": labels.LABELS}
