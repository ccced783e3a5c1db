"""Each target kind's body checked against the shape its service documents for incoming webhooks.

The shapes below are written from the services' own documentation (field names, required fields,
enumerations and length limits), as strict models: a field the service does not know fails too.
- Slack incoming webhooks: `text` (required as the notification fallback when `blocks` are sent),
  `blocks`: header (plain_text, <= 150 chars), section (mrkdwn text <= 3000), context (<= 10 elements).
- Discord execute-webhook: `content` (<= 2000) and/or `embeds` (<= 10; title <= 256, description
  <= 4096, footer.text <= 2048, color an integer RGB, timestamp ISO 8601, <= 6000 characters in all),
  `username`, `allowed_mentions`.
- Feishu/Lark custom bot: `msg_type` "text" ({"content": {"text"}}) or "interactive" ({"card": {header,
  elements}}); header template one of the documented colours; elements div/action/note/hr.
- DingTalk custom robot: `msgtype` "markdown" with `markdown.title` and `markdown.text` (and optional `at`).
- WeCom group robot: `msgtype` "markdown" with `markdown.content`, at most 4096 bytes of UTF-8.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

import pytest
from pydantic import BaseModel, ConfigDict, Field, HttpUrl, TypeAdapter, field_validator, model_validator

from losswatch.monitor.notify import EVENTS, TEST, formats, messages


class Doc(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


# -- Slack -------------------------------------------------------------------------------------------
class SlackText(Doc):
    type: Literal["plain_text", "mrkdwn"]
    text: str = Field(min_length=1, max_length=3000)


class SlackHeader(Doc):
    type: Literal["header"]
    text: SlackText

    @field_validator("text")
    @classmethod
    def _plain(cls, v: SlackText) -> SlackText:
        assert v.type == "plain_text" and len(v.text) <= 150
        return v


class SlackSection(Doc):
    type: Literal["section"]
    text: SlackText


class SlackContext(Doc):
    type: Literal["context"]
    elements: list[SlackText] = Field(min_length=1, max_length=10)


class Slack(Doc):
    text: str = Field(min_length=1, max_length=40000)
    blocks: list[SlackHeader | SlackSection | SlackContext] = Field(max_length=50)


# -- Discord -----------------------------------------------------------------------------------------
class DiscordFooter(Doc):
    text: str = Field(max_length=2048)


class DiscordEmbed(Doc):
    title: str = Field(max_length=256)
    description: str = Field(max_length=4096)
    url: HttpUrl
    color: int = Field(ge=0, le=0xFFFFFF)
    footer: DiscordFooter
    timestamp: str

    @field_validator("timestamp")
    @classmethod
    def _iso(cls, v: str) -> str:
        dt.datetime.fromisoformat(v)
        return v


class DiscordMentions(Doc):
    parse: list[Literal["roles", "users", "everyone"]]


class Discord(Doc):
    content: str | None = Field(default=None, max_length=2000)
    username: str | None = Field(default=None, max_length=80)
    allowed_mentions: DiscordMentions | None = None
    embeds: list[DiscordEmbed] = Field(default_factory=list, max_length=10)

    @model_validator(mode="after")
    def _something(self) -> Discord:
        assert self.content or self.embeds, "content or embeds is required"
        assert sum(len(e.title) + len(e.description) + len(e.footer.text) for e in self.embeds) <= 6000
        return self


# -- Feishu / Lark -----------------------------------------------------------------------------------
class LarkText(Doc):
    tag: Literal["plain_text", "lark_md"]
    content: str


class LarkHeader(Doc):
    title: LarkText
    template: Literal[
        "blue",
        "wathet",
        "turquoise",
        "green",
        "yellow",
        "orange",
        "red",
        "carmine",
        "violet",
        "purple",
        "indigo",
        "grey",
    ]


class LarkDiv(Doc):
    tag: Literal["div"]
    text: LarkText


class LarkButton(Doc):
    tag: Literal["button"]
    text: LarkText
    type: Literal["default", "primary", "danger"]
    url: HttpUrl


class LarkAction(Doc):
    tag: Literal["action"]
    actions: list[LarkButton] = Field(min_length=1)


class LarkNote(Doc):
    tag: Literal["note"]
    elements: list[LarkText] = Field(min_length=1)


class LarkConfig(Doc):
    wide_screen_mode: bool


class LarkCard(Doc):
    config: LarkConfig | None = None
    header: LarkHeader
    elements: list[LarkDiv | LarkAction | LarkNote] = Field(min_length=1)


class Feishu(Doc):
    msg_type: Literal["interactive"]
    card: LarkCard


# -- DingTalk ----------------------------------------------------------------------------------------
class DingMarkdown(Doc):
    title: str = Field(min_length=1)
    text: str = Field(min_length=1)


class DingTalk(Doc):
    msgtype: Literal["markdown"]
    markdown: DingMarkdown


# -- WeCom -------------------------------------------------------------------------------------------
class WeComMarkdown(Doc):
    content: str = Field(min_length=1)

    @field_validator("content")
    @classmethod
    def _bytes(cls, v: str) -> str:
        assert len(v.encode()) <= 4096
        return v


class WeCom(Doc):
    msgtype: Literal["markdown"]
    markdown: WeComMarkdown


# -- the generic webhook: the contract in DESIGN.md ------------------------------------------------------
class Webhook(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)
    id: str
    event: str
    project: str | None
    run_id: str | None
    run_name: str | None
    step: int | None
    message: str
    url: HttpUrl
    decision: dict[str, Any] | None = None
    diagnosis: dict[str, Any] | None = None


SHAPES: dict[str, type[BaseModel]] = {
    "webhook": Webhook,
    "slack": Slack,
    "discord": Discord,
    "feishu": Feishu,
    "dingtalk": DingTalk,
    "wecom": WeCom,
}

DECISION = {
    "should_stop": True,
    "reason": "patience_exhausted",
    "message": "eval_loss has stayed more than 0.1451 above its best 0.509 at step 3920 for 3 checks (overfitting)",
    "step": 19600,
    "best_step": 3920,
    "best_value": 0.5090123,
    "monitor": "eval_loss",
    "checks": 10,
}


def facts(event: str) -> dict[str, Any]:
    base: dict[str, Any] = {
        "project": "sft",
        "run_id": "ner-1",
        "run_name": "ner <bert> & co",
        "step": 19600,
        "path": "/runs/ner-1",
        "time": 1_790_000_000.0,
    }
    if event in ("stop", "finished"):
        base.update(decision=DECISION, value=1.2321)
    if event == "stale":
        base.update(silent_seconds=900.0, last_seen_at=1_789_999_100.0)
    if event in ("diverging", "overfitting", "non_finite"):
        summary = {"en": "eval_loss rose from 0.5319 to 1.143 (+115%)", "zh": "eval_loss 从 0.5319 升到 1.143（+115%）"}
        base.update(diagnosis={"key": "eval_loss", "state": event, "summary": summary}, value=1.2321, decision=DECISION)
    if event == TEST:
        base.update(run_id=None, run_name=None, step=None, path="/")
    return base


CASES = [
    pytest.param(kind, event, lang, id=f"{kind}-{event}-{lang}")
    for kind in SHAPES
    for event in (*EVENTS, TEST)
    for lang in ("en", "zh")
]


@pytest.mark.parametrize(("kind", "event", "lang"), CASES)
def test_formats_body_matches_the_services_documented_shape(kind: str, event: str, lang: str) -> None:
    body = formats.body(
        kind, event=event, facts=facts(event), lang=lang, base_url="https://lw.example.org/", message_id="m1"
    )
    TypeAdapter(SHAPES[kind]).validate_python(body)
    text = str(body)
    assert "losswatch" in text  # DingTalk robots with a keyword check need a fixed word; it is this one
    if event != TEST:
        assert "https://lw.example.org/runs/ner-1" in text
    if event == "stop":
        assert "19600" in text and "0.509" in text and "1.232" in text and "3920" in text
    if lang == "zh" and event != TEST:
        assert any("\u4e00" <= ch <= "\u9fff" for ch in text)
    if event in ("diverging", "overfitting", "non_finite"):
        assert ("从 0.5319 升到" if lang == "zh" else "rose from 0.5319") in text and "1.232" in text


def test_formats_webhook_carries_the_contract_fields() -> None:
    body = formats.body(
        "webhook", event="stop", facts=facts("stop"), lang="en", base_url="http://h:1", message_id="abc"
    )
    assert {"id", "event", "project", "run_id", "run_name", "step", "message", "url", "decision"} <= set(body)
    assert body["id"] == "abc" and body["event"] == "stop" and body["decision"] == DECISION


def test_formats_slack_escapes_its_control_characters() -> None:
    body = formats.body("slack", event="stop", facts=facts("stop"), lang="en", base_url="http://h", message_id="m")
    section = body["blocks"][1]["text"]["text"]
    assert "ner &lt;bert&gt; &amp; co" in section and "<http://h/runs/ner-1|Open the run>" in section


def test_formats_wecom_long_text_is_cut_within_4096_bytes() -> None:
    f = facts("stop")
    # A Chinese message says the decision from its facts, not its English message: the long part is the name.
    f["decision"] = {**DECISION, "message": "损失" * 3000}
    f["run_name"] = "损失" * 3000
    body = formats.body("wecom", event="stop", facts=f, lang="zh", base_url="http://h", message_id="m")
    content = body["markdown"]["content"]
    assert len(content.encode()) <= 4096 and len(content.encode()) > 4000


@pytest.mark.parametrize(
    ("kind", "answer", "refused"),
    [
        pytest.param("dingtalk", {"errcode": 0, "errmsg": "ok"}, False, id="dingtalk-ok"),
        pytest.param("dingtalk", {"errcode": 310000, "errmsg": "keywords not in content"}, True, id="dingtalk-keyword"),
        pytest.param("wecom", {"errcode": 93000, "errmsg": "invalid webhook url"}, True, id="wecom-bad-key"),
        pytest.param("feishu", {"code": 0, "msg": "success", "data": {}}, False, id="feishu-ok"),
        pytest.param("feishu", {"code": 19021, "msg": "sign match fail"}, True, id="feishu-sign"),
        pytest.param("feishu", {"StatusCode": 0, "StatusMessage": "success"}, False, id="feishu-old-ok"),
        pytest.param("slack", None, False, id="slack-text-ok"),
        pytest.param("webhook", {"errcode": 1}, False, id="webhook-body-is-not-judged"),
    ],
)
def test_formats_refusal_in_a_2xx_body(kind: str, answer: Any, refused: bool) -> None:
    assert (formats.refusal(kind, answer) is not None) is refused


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        pytest.param(19600, "19600", id="step"),
        pytest.param(2.0, "2", id="whole-float"),
        pytest.param(0.5090123, "0.509", id="four-digits"),
        pytest.param(1.5e-5, "1.500e-05", id="tiny"),
        pytest.param(float("nan"), "NaN", id="nan"),
        pytest.param(None, "?", id="missing"),
    ],
)
def test_formats_numbers_read_as_a_person_writes_them(value: Any, shown: str) -> None:
    from losswatch.monitor.notify.messages import num

    assert num(value) == shown


def test_formats_chinese_stop_says_the_decision_in_chinese() -> None:
    # The Chinese stop message carried the English decision ("详情：eval_loss is overfitting: its 6 ...").
    from losswatch.monitor.judgement.schedule import Schedule
    from losswatch.monitor.policy import Policy
    from losswatch.monitor.stopping import Stopper, StopState

    stopper, state = Stopper(Policy(), Schedule.from_config({"max_steps": 3000})), StopState()
    for i, value in enumerate([2.0, 1.5, 1.2, 1.1, *(1.1 + 0.2 * k for k in range(1, 8))], start=1):
        decision = stopper.check(state, step=i * 100, value=value)
        if decision.should_stop:
            break
    f = facts("stop")
    f["decision"] = decision.to_dict()
    zh = messages.render("stop", f, lang="zh", base_url="http://h")
    en = messages.render("stop", f, lang="en", base_url="http://h")
    assert any("正在过拟合" in line for line in zh.lines) and not any("is overfitting" in line for line in zh.lines)
    assert any("is overfitting" in line for line in en.lines)
