/* `/`: the notifications panel of the selected project (or "default"): list, add, remove, test. */
"use strict";

(() => {
  const { api, el, t, label } = LW;
  // The run list's project filter (its options arrive later than this script; the URL has it at once).
  const project = () => document.getElementById("f-project").value ||
    new URLSearchParams(location.search).get("project") || "default";
  const path = () => `/api/v1/projects/${encodeURIComponent(project())}/notifications`;
  const list = document.getElementById("n-targets");
  const msg = document.getElementById("n-msg");
  let targets = [];

  // Sent back by id without their URL: the service keeps each stored (secret) address.
  const kept = (ts) => ts.map((t) => ({ id: t.id, kind: t.kind, events: t.events, lang: t.lang }));

  function say(text, error) { msg.textContent = text; msg.className = error ? "error" : "muted"; }

  function item(target) {
    const test = el("button", { type: "button", "data-action": "test", text: t("notifyTest"), onclick: async () => {
      try {
        await api(`${path()}/test`, { method: "POST", body: { target: target.id } });
        say(t("notifyQueued", { id: target.id }));
      } catch (e) { say(e.message, true); }
    } });
    const remove = el("button", { type: "button", class: "danger", "data-action": "remove", text: t("notifyRemove"),
      onclick: async () => {
        try {
          await save(kept(targets.filter((x) => x.id !== target.id)));
          say(t("notifyRemoved", { id: target.id }));
        } catch (e) { say(e.message, true); }
      } });
    return el("li", { "data-target": target.id }, el("span", { class: "badge", text: target.kind }),
      el("code", { text: target.url }), el("span", { class: "events", text: target.events.map((ev) => label("notify_event", ev)).join(", ") }),
      el("span", { class: "muted", text: target.lang }), test, remove);
  }

  function render() {
    document.getElementById("n-project").textContent = LW.visible(project());
    list.replaceChildren(...(targets.length ? targets.map(item)
      : [el("li", { class: "muted", text: t("notifyNone") })]));
    document.getElementById("n-url").placeholder = t("notifyUrl");
    for (const span of boxes.querySelectorAll("label span")) span.textContent = ` ${label("notify_event", span.dataset.event)}`;
  }

  async function save(next) {
    targets = (await api(path(), { method: "PUT", body: { targets: next } })).targets;
    render();
  }

  async function load() {
    try {
      targets = (await api(path())).targets;
      render();
    } catch (e) { say(e.message, true); }
  }

  const kind = document.getElementById("n-kind");
  const boxes = document.getElementById("n-events");
  async function choices() {
    const words = await api("/api/v1/vocabulary");
    for (const k of words.notify_kinds) kind.append(el("option", { value: k, text: k }));
    for (const ev of words.notify_events) {
      boxes.append(el("label", {}, el("input", { type: "checkbox", value: ev,
        checked: ["stop", "stale"].includes(ev) }), el("span", { "data-event": ev, text: ` ${label("notify_event", ev)}` })));
    }
  }
  document.getElementById("n-add").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const events = [...boxes.querySelectorAll("input:checked")].map((b) => b.value);
    const url = document.getElementById("n-url").value.trim();
    try {
      await save([...kept(targets), { kind: kind.value, url, events, lang: document.getElementById("n-lang").value }]);
      document.getElementById("n-url").value = "";
      say(t("notifyAdded"));
    } catch (e) { say(e.message, true); }
  });
  document.getElementById("f-project").addEventListener("change", load);
  LW.onLang(render);
  // The event words come with the service's vocabulary; the list is drawn again once they have.
  LW.loadVocabulary().then(render, () => {});
  choices().catch((e) => say(e.message, true));
  load();
})();
