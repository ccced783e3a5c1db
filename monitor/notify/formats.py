"""Each target kind's own incoming-webhook message format, and how each says a message was refused.

Shapes follow each service's published incoming-webhook documentation:
- Slack: `text` (the notification's fallback) and `blocks` (header, mrkdwn section, context).
- Discord: `embeds` (title, description, url, color, footer, timestamp); mentions disabled.
- Feishu/Lark custom bot: `msg_type: "interactive"` with a `card` (header + lark_md div + button + note).
- DingTalk custom robot: `msgtype: "markdown"` with `markdown.title` and `markdown.text`.
- WeCom group robot: `msgtype: "markdown"` with `markdown.content` (at most 4096 bytes of UTF-8).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from losswatch.monitor.notify.messages import Text, render

COLORS = {"info": 0x2F80ED, "warning": 0xF2994A, "danger": 0xEB5757}
FEISHU_TEMPLATES = {"info": "blue", "warning": "orange", "danger": "red"}
WECOM_COLORS = {"info": "info", "warning": "warning", "danger": "warning"}
WECOM_MAX_BYTES = 4096


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _clip_bytes(text: str, limit: int) -> str:
    raw = text.encode()
    if len(raw) <= limit:
        return text
    return raw[: limit - 3].decode(errors="ignore") + "…"


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _md_lines(t: Text) -> str:
    return "\n".join(f"- {line}" for line in t.lines)


def webhook(t: Text, facts: dict[str, Any], event: str, message_id: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": message_id,
        "event": event,
        "project": facts.get("project"),
        "run_id": facts.get("run_id"),
        "run_name": facts.get("run_name"),
        "step": facts.get("step"),
        "message": t.plain,
        "url": t.url,
        "title": t.title,
        "value": facts.get("value"),
        "time": facts.get("time"),
    }
    for optional in ("decision", "diagnosis", "silent_seconds", "last_seen_at"):
        if facts.get(optional) is not None:
            body[optional] = facts[optional]
    return body


def slack(t: Text, facts: dict[str, Any], event: str, message_id: str) -> dict[str, Any]:
    body = "\n".join(_slack_escape(line) for line in t.lines)
    body += f"\n<{t.url}|{_slack_escape(t.link_text)}>"
    return {
        "text": _clip(f"{t.title}\n{t.plain}", 3000),
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": _clip(t.title, 150)}},
            {"type": "section", "text": {"type": "mrkdwn", "text": _clip(body, 3000)}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": f"losswatch · {event} · {message_id}"}]},
        ],
    }


def discord(t: Text, facts: dict[str, Any], event: str, message_id: str) -> dict[str, Any]:
    when = dt.datetime.fromtimestamp(float(facts.get("time") or 0), tz=dt.timezone.utc).isoformat()
    return {
        "username": "losswatch",
        "allowed_mentions": {"parse": []},
        "embeds": [
            {
                "title": _clip(t.title, 256),
                "description": _clip("\n".join(t.lines), 4096),
                "url": t.url,
                "color": COLORS[t.severity],
                "footer": {"text": f"losswatch · {event} · {message_id}"},
                "timestamp": when,
            }
        ],
    }


def feishu(t: Text, facts: dict[str, Any], event: str, message_id: str) -> dict[str, Any]:
    return {
        "msg_type": "interactive",
        "card": {
            "config": {"wide_screen_mode": True},
            "header": {"title": {"tag": "plain_text", "content": t.title}, "template": FEISHU_TEMPLATES[t.severity]},
            "elements": [
                {"tag": "div", "text": {"tag": "lark_md", "content": "\n".join(t.lines)}},
                {
                    "tag": "action",
                    "actions": [
                        {
                            "tag": "button",
                            "text": {"tag": "plain_text", "content": t.link_text},
                            "type": "primary",
                            "url": t.url,
                        }
                    ],
                },
                {"tag": "note", "elements": [{"tag": "plain_text", "content": f"losswatch · {event} · {message_id}"}]},
            ],
        },
    }


def dingtalk(t: Text, facts: dict[str, Any], event: str, message_id: str) -> dict[str, Any]:
    # The title shows in the notification list; a robot's keyword check reads title and text, and
    # "losswatch" is in both.
    text = f"### {t.title}\n\n{_md_lines(t)}\n\n[{t.link_text}]({t.url})\n\n###### losswatch · {message_id}"
    return {"msgtype": "markdown", "markdown": {"title": t.title, "text": text}}


def wecom(t: Text, facts: dict[str, Any], event: str, message_id: str) -> dict[str, Any]:
    color = WECOM_COLORS[t.severity]
    text = f'## <font color="{color}">{t.title}</font>\n{_md_lines(t)}\n[{t.link_text}]({t.url})'
    return {"msgtype": "markdown", "markdown": {"content": _clip_bytes(text, WECOM_MAX_BYTES)}}


BUILDERS = {
    "webhook": webhook,
    "slack": slack,
    "discord": discord,
    "feishu": feishu,
    "dingtalk": dingtalk,
    "wecom": wecom,
}


def body(kind: str, *, event: str, facts: dict[str, Any], lang: str, base_url: str, message_id: str) -> dict[str, Any]:
    return BUILDERS[kind](render(event, facts, lang=lang, base_url=base_url), facts, event, message_id)


def refusal(kind: str, payload: Any) -> str | None:
    """The error a 2xx answer carries in its body (DingTalk, WeCom and Feishu say so in JSON), or None."""
    if not isinstance(payload, dict):
        return None
    if kind in ("dingtalk", "wecom") and payload.get("errcode", 0) != 0:
        return f"errcode {payload.get('errcode')}: {payload.get('errmsg', '')}"
    if kind == "feishu":
        code = payload.get("code", payload.get("StatusCode", 0))
        if code not in (0, None):
            return f"code {code}: {payload.get('msg', payload.get('StatusMessage', ''))}"
    return None
