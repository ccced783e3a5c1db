"""The ingest body decoded by msgspec: the hot path. `api.schemas.MetricsIn` stays the documented schema;
these structs carry the same constraints (the fuzz tests hold the two to each other)."""

from __future__ import annotations

from typing import Annotated, Union

import msgspec

from losswatch.monitor.vocabulary import NonFiniteSpelling

Key = Annotated[str, msgspec.Meta(min_length=1, max_length=200, pattern=r"\S")]
Step = Annotated[int, msgspec.Meta(ge=0, le=2**53)]  # as api.schemas.MAX_STEP
BatchId = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]


class WirePoint(msgspec.Struct, forbid_unknown_fields=True):
    key: Key
    step: Step
    # msgspec's float accepts JSON integers and refuses booleans, as the documented schema does.
    value: Union[float, NonFiniteSpelling]  # noqa: UP007 - msgspec reads typing unions
    time: Union[float, None] = None  # noqa: UP007


class WireBatch(msgspec.Struct, forbid_unknown_fields=True):
    points: list[WirePoint]
    batch_id: Union[BatchId, None] = None  # noqa: UP007


_decoder = msgspec.json.Decoder(WireBatch)


class BadBody(ValueError):
    pass


def decode_batch(raw: bytes) -> WireBatch:
    try:
        return _decoder.decode(raw)
    except msgspec.ValidationError as exc:
        hint = ' (a value is a number or one of "NaN", "Infinity", "-Infinity")' if ".value" in str(exc) else ""
        raise BadBody(f"{exc}{hint}") from exc
    except msgspec.DecodeError as exc:
        raise BadBody(f"the body is not valid JSON: {exc}") from exc
