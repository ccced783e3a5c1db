/* `/`: the runs, newest first, with their last loss, the diagnosis state and the decision. */
"use strict";

(() => {
  const { api, el, fmt, when, t, label } = LW;
  const params = new URLSearchParams(location.search);
  const fProject = document.getElementById("f-project");
  const fStatus = document.getElementById("f-status");
  const body = document.querySelector("#runs tbody");
  const compare = document.getElementById("compare");
  const selected = new Set();
  const state = { runs: [], filled: 0 };
  window.losswatch = state; // for the browser tests

  function lastLoss(keys) {
    const parts = [];
    for (const k of keys) {
      if (k.key === "loss" || k.key === "eval_loss") {
        parts.push(`${k.key === "loss" ? t("trainShort") : t("evalShort")} ${fmt(k.last)}`);
      }
    }
    if (!parts.length) {
      const any = keys.find((k) => /loss/.test(k.key) && !LW.isRunFact(k.key));
      if (any) parts.push(`${any.key} ${fmt(any.last)}`);
    }
    return parts.join(" · ") || "–";
  }
  function diagKey(keys) {
    const names = keys.map((k) => k.key).filter((k) => !LW.isRunFact(k));
    return ["eval_loss", "loss"].find((k) => names.includes(k)) || names.find((k) => /loss/.test(k)) || names[0];
  }

  // A page of runs asks for each run's detail and diagnosis; a few at a time keeps the server calm.
  async function eachLimited(items, limit, fn) {
    let i = 0;
    const worker = async () => { while (i < items.length) { const item = items[i++]; await fn(item); } };
    await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  }

  function decisionBadge(d) {
    return el("span", { class: `badge ${d.should_stop ? "stop" : "go"}`, title: d.text || d.message,
      text: d.should_stop ? `${t("stop")}: ${label("reason", d.reason)}` : t("continue") });
  }

  async function fill(run, row) {
    const [lossCell, diagCell, decisionCell] = [row.querySelector(".loss"), row.querySelector(".diag"),
      row.querySelector(".decision")];
    try {
      const detail = await api(`/api/v1/runs/${encodeURIComponent(run.id)}?lang=${LW.lang}`);
      lossCell.textContent = lastLoss(detail.keys);
      const d = detail.decision;
      const ended = !["running", "stale"].includes(detail.status) && !d.should_stop;
      // An ended run that was never stopped has no decision left to show; its status says it all.
      decisionCell.replaceChildren(...(ended ? [el("span", { class: "muted", text: "–" })]
        : [decisionBadge(d), " ", el("span", { class: "muted why", text: d.text || d.message })]));
      const key = diagKey(detail.keys);
      if (!key) { diagCell.replaceChildren(el("span", { class: "badge insufficient_data", text: t("noData") })); return; }
      try {
        const q = new URLSearchParams({ key, lang: LW.lang });
        const diag = await api(`/api/v1/runs/${encodeURIComponent(run.id)}/diagnostics?${q}`);
        diagCell.replaceChildren(el("span", { class: `badge ${diag.state}`, title: diag.summary || "",
          "data-state": diag.state, text: label("state", diag.state) }));
      } catch (e) {
        diagCell.replaceChildren(el("span", { class: "badge unavailable", title: e.message, text: t("unavailable") }));
      }
    } catch (e) {
      decisionCell.replaceChildren(el("span", { class: "error", text: e.message }));
    } finally {
      state.filled += 1;
    }
  }

  function row(run) {
    const box = el("input", { type: "checkbox", "aria-label": `select ${run.name}`, onchange: (ev) => {
      if (ev.target.checked) selected.add(run.id); else selected.delete(run.id);
      compare.disabled = selected.size < 2;
    } });
    box.checked = selected.has(run.id);
    return el("tr", { "data-run": run.id },
      el("td", { class: "opt" }, box),
      el("td", { class: "opt", text: run.project }),
      el("td", { class: "name" }, el("a", { href: `/runs/${encodeURIComponent(run.id)}`, text: run.name })),
      el("td", { class: "status" }, el("span", { class: `badge ${run.status}`, "data-status": run.status,
        text: label("status", run.status) })),
      el("td", { class: "num loss opt", text: "…" }),
      el("td", { class: "diag opt" }, el("span", { class: "muted", text: "…" })),
      el("td", { class: "decision" }),
      el("td", { class: "wide muted", text: when(run.created_at) }));
  }

  async function load() {
    const q = new URLSearchParams();
    if (fProject.value) q.set("project", fProject.value);
    if (fStatus.value) q.set("status", fStatus.value);
    history.replaceState(null, "", q.toString() ? `/?${q}` : "/");
    let runs;
    try {
      runs = (await api(`/api/v1/runs?${q}`)).runs;
    } catch (e) {
      body.replaceChildren(el("tr", {}, el("td", { colspan: 8, class: "error", text: e.message })));
      return;
    }
    runs.sort((a, b) => b.created_at - a.created_at);
    state.runs = runs; state.filled = 0;
    document.getElementById("count").textContent = runs.length === 1 ? t("runsCountOne") : t("runsCount", { n: runs.length });
    if (!runs.length) {
      body.replaceChildren(el("tr", {}, el("td", { colspan: 8, class: "muted", text: t("noRuns") })));
      return;
    }
    const rows = runs.map((r) => [r, row(r)]);
    body.replaceChildren(...rows.map(([, tr]) => tr));
    await eachLimited(rows.slice(0, 200), 6, ([r, tr]) => fill(r, tr));
  }

  function statusOptions() {
    const want = fStatus.value || params.get("status") || "";
    const statuses = (LW.vocab && LW.vocab.statuses) || ["running", "finished", "stopped", "failed", "stale"];
    fStatus.replaceChildren(el("option", { value: "", text: t("all") }),
      ...statuses.map((s) => el("option", { value: s, text: label("status", s) })));
    fStatus.value = want;
  }

  async function projects() {
    // The project filter offers every project that has a run, whatever the other filter says.
    const names = new Set((await api("/api/v1/runs")).runs.map((r) => r.project));
    const want = params.get("project") || "";
    if (want) names.add(want);
    for (const n of [...names].sort()) fProject.append(el("option", { value: n, text: n }));
    fProject.value = want;
  }

  fProject.addEventListener("change", load);
  fStatus.addEventListener("change", load);
  compare.addEventListener("click", () => {
    location.href = `/compare?runs=${[...selected].map(encodeURIComponent).join(",")}`;
  });
  LW.onLang(() => { statusOptions(); load(); });
  (async () => {
    await LW.loadVocabulary();
    LW.applyText();
    statusOptions();
    await projects().catch(() => {});
    await load();
  })();
})();
