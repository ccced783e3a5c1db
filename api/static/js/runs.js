/* `/`: the runs, newest first, with their last loss, the diagnosis state and the decision. */
"use strict";

(() => {
  const { api, el, fmt, when } = LW;
  const params = new URLSearchParams(location.search);
  const fProject = document.getElementById("f-project");
  const fStatus = document.getElementById("f-status");
  const body = document.querySelector("#runs tbody");
  const compare = document.getElementById("compare");
  const selected = new Set();
  fStatus.value = params.get("status") || "";

  function diagKey(keys) {
    const names = keys.map((k) => k.key);
    return ["eval_loss", "loss"].find((k) => names.includes(k)) || names.find((k) => /loss/.test(k)) || names[0];
  }

  function lastLoss(keys) {
    const parts = [];
    for (const k of keys) {
      if (k.key === "loss" || k.key === "eval_loss") parts.push(`${k.key === "loss" ? "train" : "eval"} ${fmt(k.last)}`);
    }
    if (!parts.length) {
      const any = keys.find((k) => /loss/.test(k.key));
      if (any) parts.push(`${any.key} ${fmt(any.last)}`);
    }
    return parts.join(" · ") || "–";
  }

  // A page of runs asks for each run's detail and diagnosis; a few at a time keeps the server calm.
  async function eachLimited(items, limit, fn) {
    let i = 0;
    const worker = async () => { while (i < items.length) { const item = items[i++]; await fn(item); } };
    await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  }

  async function fill(run, row) {
    const [lossCell, diagCell, decisionCell] = [row.querySelector(".loss"), row.querySelector(".diag"),
      row.querySelector(".decision")];
    try {
      const detail = await api(`/api/v1/runs/${encodeURIComponent(run.id)}`);
      lossCell.textContent = lastLoss(detail.keys);
      const d = detail.decision;
      decisionCell.replaceChildren(el("span", { class: `badge ${d.should_stop ? "stop" : "go"}`,
        text: d.should_stop ? `stop: ${d.reason}` : "continue" }), " ", el("span", { class: "muted", text: d.message }));
      const key = diagKey(detail.keys);
      if (!key) { diagCell.replaceChildren(el("span", { class: "badge insufficient_data", text: "no data" })); return; }
      try {
        const q = new URLSearchParams({ key, lang: "en" });
        const diag = await api(`/api/v1/runs/${encodeURIComponent(run.id)}/diagnostics?${q}`);
        diagCell.replaceChildren(el("span", { class: `badge ${diag.state}`, title: diag.summary || "",
          text: diag.state.replace("_", " ") }));
      } catch (e) {
        diagCell.replaceChildren(el("span", { class: "badge unavailable", title: e.message, text: "unavailable" }));
      }
    } catch (e) {
      decisionCell.replaceChildren(el("span", { class: "error", text: e.message }));
    }
  }

  function row(run) {
    const box = el("input", { type: "checkbox", "aria-label": `select ${run.name}`, onchange: (ev) => {
      if (ev.target.checked) selected.add(run.id); else selected.delete(run.id);
      compare.disabled = selected.size < 2;
    } });
    return el("tr", { "data-run": run.id },
      el("td", {}, box),
      el("td", { text: run.project }),
      el("td", {}, el("a", { href: `/runs/${encodeURIComponent(run.id)}`, text: run.name })),
      el("td", {}, el("span", { class: `badge ${run.status}`, text: run.status })),
      el("td", { class: "num loss", text: "…" }),
      el("td", { class: "diag" }, el("span", { class: "muted", text: "…" })),
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
    document.getElementById("count").textContent = `${runs.length} run${runs.length === 1 ? "" : "s"}`;
    if (!runs.length) {
      body.replaceChildren(el("tr", {}, el("td", { colspan: 8, class: "muted", text: "No runs yet." })));
      return;
    }
    const rows = runs.map((r) => [r, row(r)]);
    body.replaceChildren(...rows.map(([, tr]) => tr));
    await eachLimited(rows.slice(0, 200), 6, ([r, tr]) => fill(r, tr));
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
  projects().catch(() => {}).finally(load);
})();
