"""What may be stored and sent back: text both databases hold, and a run's config within bounds.

A string with an unpaired surrogate (what Python's `json` makes of a non-UTF-8 path) is accepted by
`json.loads` but cannot be encoded as UTF-8, and PostgreSQL's text refuses NUL; either, once stored,
turns every later answer that carries it into an error. So both are refused on the way in, as are
numbers JSON cannot carry (NaN, 10**400) and configs deep or large enough to hurt every run list.
"""

from __future__ import annotations

import json
import math
from typing import Any

from losswatch.monitor.errors import Invalid

# Integers a 64-bit reader (PostgreSQL's jsonb, numpy, JavaScript's BigInt) takes without surprise.
MAX_INT = 2**63


def text_problem(text: str) -> str | None:
    """Why `text` cannot be stored, or None."""
    if "\x00" in text:
        return "holds a NUL character"
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return "holds an unpaired surrogate (not valid Unicode text)"
    return None


def find_bad_text(value: Any, where: str) -> str | None:
    """The first string (key or value) in a decoded JSON value that cannot be stored, as a sentence."""
    stack: list[tuple[Any, str]] = [(value, where)]
    while stack:
        node, path = stack.pop()
        if isinstance(node, str):
            why = text_problem(node)
            if why:
                return f"{path} {why}"
        elif isinstance(node, dict):
            for k, v in node.items():
                if isinstance(k, str) and (why := text_problem(k)):
                    return f"a key in {path} {why}"
                stack.append((v, f"{path}.{k}" if isinstance(k, str) and k.isprintable() else path))
        elif isinstance(node, list):
            stack.extend((v, f"{path}[{i}]") for i, v in enumerate(node))
    return None


def check_config(config: dict[str, Any], *, max_bytes: int, max_depth: int) -> None:
    """Raise Invalid unless `config` is plain JSON within `max_depth` levels and `max_bytes` bytes."""
    stack: list[tuple[Any, int]] = [(config, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > max_depth:
            raise Invalid(f"config is nested deeper than {max_depth} levels (max_config_depth)")
        if isinstance(node, dict):
            stack.extend((v, depth + 1) for v in node.values())
        elif isinstance(node, list):
            stack.extend((v, depth + 1) for v in node)
        elif isinstance(node, bool) or node is None or isinstance(node, str):
            continue
        elif isinstance(node, int):
            if abs(node) >= MAX_INT:
                raise Invalid("config holds an integer beyond 64 bits; send it as a string")
        elif isinstance(node, float):
            if not math.isfinite(node):
                raise Invalid('config holds NaN or Infinity, which JSON cannot carry; send it as a string ("NaN")')
        else:
            raise Invalid(f"config holds a {type(node).__name__}, which is not JSON")
    why = find_bad_text(config, "config")
    if why:
        raise Invalid(why)
    size = len(json.dumps(config, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
    if size > max_bytes:
        raise Invalid(f"config takes {size} bytes as JSON; at most {max_bytes} are kept (max_config_bytes)")


def clean_text(text: str) -> str:
    """`text` as UTF-8 can carry it: a byte smuggled in by `surrogateescape` (a non-UTF-8 path) and any
    other unpaired surrogate become U+FFFD, NUL becomes U+FFFD, everything else is kept."""
    if "\x00" in text:
        text = text.replace("\x00", "\ufffd")
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        pass
    try:
        raw = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        raw = text.encode("utf-8", "surrogatepass")
    return raw.decode("utf-8", "replace")


def clean(value: Any, *, max_depth: int = 32) -> Any:
    """A copy of `value` that JSON and both databases carry: text cleaned, NaN/Infinity spelled as the
    wire spells them, anything deeper than `max_depth` or not JSON turned into its (cleaned) text.
    The trainer side uses it so that a config it cannot encode never costs the run its monitoring."""
    return _clean(value, max_depth)


def _clean(value: Any, depth: int) -> Any:
    if isinstance(value, str):
        return clean_text(value)
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value if abs(value) < MAX_INT else str(value)
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if depth <= 0:
        return clean_text(repr(value)[:1000])
    if isinstance(value, dict):
        return {clean_text(str(k)): _clean(v, depth - 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v, depth - 1) for v in value]
    return clean_text(str(value))
