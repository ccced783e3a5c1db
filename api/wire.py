"""The ingest body decoded by msgspec: the hot path. `api.schemas.MetricsIn` stays the documented schema;
these structs carry the same constraints (the fuzz tests hold the two to each other)."""

from __future__ import annotations

import re
from typing import Annotated, Union

import msgspec

from losswatch.monitor.vocabulary import MAX_KEY_LENGTH, MAX_STEP, NonFiniteSpelling

Key = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_KEY_LENGTH, pattern=r"\S")]
Step = Annotated[int, msgspec.Meta(ge=0, le=MAX_STEP)]
BatchId = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]


class WirePoint(msgspec.Struct, forbid_unknown_fields=True):
    key: Key
    step: Step
    # msgspec's float accepts JSON integers and refuses booleans, as the documented schema does.
    value: Union[float, NonFiniteSpelling]  # noqa: UP007 - msgspec reads typing unions
    time: Union[float, None] = None  # noqa: UP007


class WireSeries(msgspec.Struct, forbid_unknown_fields=True):
    """One key's points as parallel lists: the columnar form, decoded without a struct per point."""

    key: Key
    steps: list[Step]
    values: list[Union[float, NonFiniteSpelling]]  # noqa: UP007
    times: Union[list[Union[float, None]], None] = None  # noqa: UP007 - a null time: the server's clock


class WireBatch(msgspec.Struct, forbid_unknown_fields=True):
    # Either may be left out (not null): UNSET tells "not sent" from an empty list.
    points: Union[list[WirePoint], msgspec.UnsetType] = msgspec.UNSET  # noqa: UP007
    series: Union[list[WireSeries], msgspec.UnsetType] = msgspec.UNSET  # noqa: UP007
    batch_id: Union[BatchId, None] = None  # noqa: UP007


_decoder = msgspec.json.Decoder(WireBatch)


class BadBody(ValueError):
    """A body that cannot be read: `status` 400 when it is not JSON at all, 422 when its data is wrong."""

    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.status = status


_VALUE = 'a value is a number or one of the strings "NaN", "Infinity", "-Infinity"'


def _explain(exc: msgspec.ValidationError) -> str:
    """msgspec's message, said for a person: the field first, and for a value what a value may be."""
    text = str(exc)
    if " - at `" not in text:  # about the body itself: not an object ("Expected `object`, got `null`"), or
        # an object with a field no batch has ("Object contains unknown field `extra`")
        return f"the body must be a JSON object: {text}" if text.startswith("Expected `object`") else text
    what, _, where = text.rpartition(" - at `")
    where = where.rstrip("`").replace("$.", "", 1) if where else ""
    if re.search(r"\.value$|\.values\[\d+\]$", where):
        # msgspec matches a string against the NaN spellings and calls a miss an enum value.
        got = what.removeprefix("Invalid enum value ") if what.startswith("Invalid enum value") else None
        found = f"got the string {got}" if got else what.replace("Expected `float | str`, got", "got")
        return f"{where}: {found}; {_VALUE}"
    return f"{where}: {what}" if where else text


def decode_batch(raw: bytes) -> WireBatch:
    try:
        body = _decoder.decode(raw)
    except msgspec.ValidationError as exc:
        raise BadBody(_explain(exc)) from exc
    except msgspec.DecodeError as exc:
        raise BadBody(f"the body is not valid JSON: {exc}", status=400) from exc
    # `{"points": []}` is a valid, empty batch; `{}` is a client that forgot what it meant to send.
    if body.points is msgspec.UNSET and body.series is msgspec.UNSET:
        raise BadBody('a batch carries "points", "series" or both')
    return body
