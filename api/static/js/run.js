/* `/runs/{id}`: charts per key group, live; the diagnosis; the decisions; stop and download. */
"use strict";

(() => {
  const { api, el, fmt, when } = LW;
  const runId = decodeURIComponent(location.pathname.split("/").filter(Boolean)[1] || "");
  const base = `/api/v1/runs/${encodeURIComponent(runId)}`;
  const TEXT = {
    en: { diagnosis: "Diagnosis", advice: "Advice", unavailable: "diagnosis unavailable", noAdvice: "No advice.",
      trend: "recent trend", volatility: "volatility", spikes: "spikes", overfit: "overfitting" },
    zh: { diagnosis: "诊断", advice: "建议", unavailable: "暂无诊断", noAdvice: "暂无建议。",
      trend: "近期趋势", volatility: "波动", spikes: "尖峰", overfit: "过拟合" },
  };
  const state = {
    runId, detail: null, series: new Map(), charts: new Map(), groupsSig: "", decisionsSig: "",
    lang: localStorage.getItem("losswatch-lang") === "zh" ? "zh" : "en", diagKey: null, diagAt: 0,
    polls: 0, errors: 0, ticking: false,
  };
  window.losswatch = state; // for the curious (and the browser tests): what the page currently holds

  // A control change reloads every series on the next tick, so a poll never mixes two smoothings.
  const opts = LW.smoothingControls(() => { state.reload = true; tick(); });
  const chartsBox = document.getElementById("charts");

  function maxPoints() {
    // Downsample on the server to about one point per pixel of the chart.
    return Math.max(100, Math.min(4000, Math.round(chartsBox.clientWidth || 800)));
  }
  function seriesOpts() { return { smoothing: opts.smoothing, mode: opts.mode, maxPoints: maxPoints() }; }
  function seriesFor(key) {
    if (!state.series.has(key)) state.series.set(key, new LW.KeySeries(runId, key));
    return state.series.get(key);
  }

  function markers() {
    const d = state.detail && state.detail.decision;
    if (!d) return [];
    const out = [];
    if (d.best_step !== null && d.best_step !== undefined) {
      out.push({ step: d.best_step, color: "#16a34a", dash: true,
        label: `best ${d.monitor} ${fmt(d.best_value)} @ ${d.best_step}`, short: `best ${d.best_step}` });
    }
    if (d.should_stop && d.step !== null && d.step !== undefined) {
      out.push({ step: d.step, color: "#dc2626", dash: false, label: `stop (${d.reason}) @ ${d.step}`, short: `stop ${d.step}` });
    }
    return out;
  }

  function linesFor(group) {
    const lines = [];
    group.keys.forEach((key, i) => {
      const color = group.id === "loss" ? (LW.isEval(key) ? "#ea580c" : "#2563eb") : LW.PALETTE[i % LW.PALETTE.length];
      const source = seriesFor(key);
      const sparse = source.total > 0 && source.total < 60;
      if (LW.isSchedule(key)) {
        // A schedule is not noisy; smoothing it would only lag it.
        lines.push({ label: key, color, kind: "raw", solo: true, source });
        return;
      }
      lines.push({ label: `${key} (raw)`, color, kind: "raw", source, points: sparse });
      lines.push({ label: `${key} (smoothed)`, color, kind: "smoothed", source });
    });
    return lines;
  }

  function syncCharts() {
    const keys = state.detail.keys.map((k) => k.key);
    const groups = LW.groups(keys);
    const sig = JSON.stringify(groups.map((g) => [g.id, g.keys]));
    if (sig === state.groupsSig) return;
    state.groupsSig = sig;
    for (const c of state.charts.values()) c.chart.destroy();
    state.charts.clear();
    chartsBox.replaceChildren();
    if (!groups.length) {
      chartsBox.append(el("p", { class: "muted", id: "charts-empty", text: "Waiting for the first points…" }));
      return;
    }
    const narrow = window.innerWidth < 600;
    for (const g of groups) {
      const box = el("div", { class: "chart" });
      const note = el("p", { class: "chart-note" });
      const card = el("section", { class: "card", "data-group": g.id }, el("h3", { text: g.title }), box, note);
      chartsBox.append(card);
      const height = g.id === "loss" ? (narrow ? 240 : 320) : (narrow ? 170 : 200);
      state.charts.set(g.id, { group: g, chart: new LW.Chart(box, { height, markers }), note });
    }
  }

  function drawCharts() {
    for (const { group, chart, note } of state.charts.values()) {
      chart.render(linesFor(group), opts.log);
      const bits = group.keys.map((k) => {
        const s = state.series.get(k);
        const sum = state.detail.keys.find((x) => x.key === k) || {};
        const shown = s ? s.points.length : 0;
        const nf = sum.nonfinite ? `, ${sum.nonfinite} non-finite (not drawn)` : "";
        return `${k}: ${sum.count ?? 0} points${shown < (sum.count ?? 0) ? `, ${shown} drawn` : ""}${nf}`;
      });
      note.textContent = bits.join(" · ");
    }
  }

  async function refreshSeries(force) {
    const o = seriesOpts();
    let changed = force;
    for (const sum of state.detail.keys) {
      const s = seriesFor(sum.key);
      if (force) { await s.load(o); continue; }
      if (await s.update(sum, o)) changed = true;
    }
    if (changed) drawCharts();
    return changed;
  }

  function renderHeader() {
    const r = state.detail;
    document.title = `losswatch · ${r.name}`;
    document.getElementById("run-name").textContent = r.name;
    document.getElementById("run-sub").textContent = `${r.project} · ${r.id} · started ${when(r.created_at)}`;
    const status = document.getElementById("run-status");
    status.className = `badge ${r.status}`; status.textContent = r.status;
    const d = r.decision;
    const badge = document.getElementById("run-decision");
    badge.className = `badge ${d.should_stop ? "stop" : "go"}`;
    badge.textContent = d.should_stop ? `stop: ${d.reason}` : "continue";
    badge.title = d.message;
    const stop = document.getElementById("stop");
    stop.disabled = r.status !== "running" || d.reason === "manual";
    const note = document.getElementById("stop-note");
    if (d.reason === "manual") note.textContent = "stop requested; the trainer stops at its next check";
    const live = document.getElementById("live");
    live.classList.toggle("on", r.status === "running");
    document.getElementById("live-text").textContent = r.status === "running" ? "live" : r.status;
  }

  function renderDecisions(list) {
    const sig = JSON.stringify(list.map((d) => [d.created_at, d.reason, d.step]));
    if (sig === state.decisionsSig) return;
    state.decisionsSig = sig;
    const box = document.getElementById("timeline");
    if (!list.length) { box.replaceChildren(el("li", { class: "muted", text: "No decisions yet." })); return; }
    box.replaceChildren(...list.slice().reverse().map((d) => el("li", { class: d.should_stop ? "stop" : "" },
      el("div", {}, el("strong", { text: d.should_stop ? `stop · ${d.reason}` : `continue · ${d.reason}` }),
        d.step !== null ? el("span", { class: "muted", text: ` at step ${d.step}` }) : null),
      el("div", { text: d.message }),
      el("div", { class: "when", text: when(d.created_at) }))));
  }

  function pickDiagKey() {
    const names = state.detail.keys.map((k) => k.key);
    const sel = document.getElementById("diag-key");
    const have = [...sel.options].map((o) => o.value);
    if (JSON.stringify(have) !== JSON.stringify(names)) {
      sel.replaceChildren(...names.map((n) => el("option", { value: n, text: n })));
    }
    if (!state.diagKey || !names.includes(state.diagKey)) {
      const monitor = state.detail.decision.monitor;
      state.diagKey = [monitor, "eval_loss", "loss"].find((k) => names.includes(k)) || names[0] || null;
    }
    if (state.diagKey) sel.value = state.diagKey;
    return state.diagKey;
  }

  function renderLang() {
    const t = TEXT[state.lang];
    document.getElementById("diag-title").textContent = t.diagnosis;
    document.getElementById("advice-title").textContent = t.advice;
    for (const b of document.querySelectorAll("#lang button")) b.classList.toggle("on", b.dataset.lang === state.lang);
  }

  function pct(v) { return v === null || v === undefined ? "–" : `${(v * 100).toFixed(1)}%`; }

  async function refreshDiagnosis() {
    const key = pickDiagKey();
    const t = TEXT[state.lang];
    const stateBadge = document.getElementById("diag-state");
    const summary = document.getElementById("diag-summary");
    const advice = document.getElementById("diag-advice");
    const facts = document.getElementById("diag-facts");
    state.diagAt = Date.now();
    if (!key) { summary.textContent = t.unavailable; return; }
    let diag;
    try {
      diag = await api(`${base}/diagnostics?${new URLSearchParams({ key, lang: state.lang })}`);
    } catch (e) {
      stateBadge.className = "badge unavailable"; stateBadge.textContent = t.unavailable;
      summary.className = "muted"; summary.textContent = `${t.unavailable} (${e.message})`;
      advice.replaceChildren(); facts.replaceChildren();
      state.diagnosis = null;
      return;
    }
    state.diagnosis = diag;
    stateBadge.className = `badge ${diag.state}`; stateBadge.textContent = diag.state.replace("_", " ");
    summary.className = ""; summary.textContent = diag.summary || "";
    const items = (diag.advice || []).map((a) => el("li", { "data-code": a.code, text: a.message }));
    advice.replaceChildren(...(items.length ? items : [el("li", { class: "muted", text: t.noAdvice })]));
    const rec = diag.trend && diag.trend.recent;
    const vol = diag.volatility;
    const rows = [
      [t.trend, rec ? `${rec.direction || "–"}, ${pct(rec.relative_change)}${rec.p_value !== null && rec.p_value !== undefined ? `, p=${fmt(rec.p_value, 2)}` : ""}` : "–"],
      [t.volatility, vol ? `${vol.level || "–"} (cv ${pct(vol.cv)})` : "–"],
      [t.spikes, diag.spikes ? String(diag.spikes.count ?? 0) : "–"],
      [t.overfit, diag.overfitting ? (diag.overfitting.detected ? "yes" : "no") : "–"],
    ];
    facts.replaceChildren(...rows.flatMap(([k, v]) => [el("dt", { text: k }), el("dd", { text: v })]));
  }

  async function tick() {
    if (state.ticking) return;
    state.ticking = true;
    try {
      const before = state.detail && state.detail.decision;
      state.detail = await api(base);
      renderHeader();
      syncCharts();
      const reload = state.reload;
      state.reload = false;
      await refreshSeries(reload);
      const d = state.detail.decision;
      const decisionMoved = !before || before.reason !== d.reason || before.best_step !== d.best_step ||
        before.step !== d.step;
      if (decisionMoved) {
        for (const c of state.charts.values()) c.chart.redraw();
        renderDecisions((await api(`${base}/decisions`)).decisions);
      }
      // The diagnosis reads the whole series; every few seconds is enough for a person reading it.
      const every = state.detail.status === "running" ? 5000 : 60000;
      if (decisionMoved || Date.now() - state.diagAt > every) await refreshDiagnosis();
      state.polls += 1;
    } catch (e) {
      state.errors += 1;
      document.getElementById("live-text").textContent = `reconnecting (${e.message})`;
    } finally {
      state.ticking = false;
    }
  }

  async function loop() {
    await tick();
    const running = state.detail && state.detail.status === "running";
    setTimeout(loop, running ? 1000 : 5000);
  }

  document.getElementById("csv").href = `${base}/export?format=csv`;
  document.getElementById("json").href = `${base}/export?format=json`;
  document.getElementById("stop").addEventListener("click", async () => {
    if (!window.confirm(`Stop run "${state.detail ? state.detail.name : runId}"? The trainer stops at its next check.`)) return;
    const note = document.getElementById("stop-note");
    try {
      await api(`${base}/stop`, { method: "POST", body: { reason: "stopped from the dashboard" } });
      note.className = "muted"; note.textContent = "stop requested";
      await tick();
    } catch (e) {
      note.className = "error"; note.textContent = `could not stop: ${e.message}`;
    }
  });
  for (const b of document.querySelectorAll("#lang button")) {
    b.addEventListener("click", () => {
      state.lang = b.dataset.lang;
      localStorage.setItem("losswatch-lang", state.lang);
      renderLang();
      refreshDiagnosis();
    });
  }
  document.getElementById("diag-key").addEventListener("change", (ev) => {
    state.diagKey = ev.target.value;
    refreshDiagnosis();
  });
  renderLang();
  loop();
})();
