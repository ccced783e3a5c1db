/* `/runs/{id}`: charts per key group, live; the diagnosis; the decisions; stop and download. */
"use strict";

(() => {
  const { api, el, fmt, when, t, label } = LW;
  const runId = decodeURIComponent(location.pathname.split("/").filter(Boolean)[1] || "");
  const base = `/api/v1/runs/${encodeURIComponent(runId)}`;
  const state = {
    runId, detail: null, series: new Map(), charts: new Map(), groupsSig: "", decisionsSig: "",
    diagKey: null, diagPicked: false, diagAt: 0, polls: 0, errors: 0, ticking: false, stopAsked: false,
  };
  window.losswatch = state; // for the curious (and the browser tests): what the page currently holds

  let opts = null;
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
  /** The keys drawn as curves: everything but the one-point end-of-training summaries. */
  function curveKeys() { return state.detail.keys.filter((k) => !LW.isRunFact(k.key)); }

  function markers() {
    const d = state.detail && state.detail.decision;
    if (!d) return [];
    const out = [];
    // The decision's best is the best as of its step; a run that went on after a stop (an imported log, a
    // stop not obeyed) may have a better one later, which the diagnosis names: both are drawn, each named.
    const overall = runBest(d.monitor);
    const later = d.should_stop && overall && overall.step !== d.best_step;
    if (d.best_step !== null && d.best_step !== undefined) {
      const word = later ? t("bestAtStop") : t("best");
      out.push({ step: d.best_step, color: "#16a34a", dash: true,
        label: `${word} ${d.monitor} ${fmt(d.best_value)} @ ${d.best_step}`, short: `${word} @ ${d.best_step}` });
    }
    if (later) {
      out.push({ step: overall.step, color: "#16a34a", dash: true,
        label: `${t("best")} ${d.monitor} ${fmt(overall.value)} @ ${overall.step}`, short: `${t("best")} @ ${overall.step}` });
    }
    if (d.should_stop && d.step !== null && d.step !== undefined) {
      out.push({ step: d.step, color: "#dc2626", dash: false,
        label: `${t("stop")} (${label("reason", d.reason)}) @ ${d.step}`, short: `${t("stop")} @ ${d.step}` });
    }
    return out;
  }

  /** The monitored key's best over the whole run, from its summary (min, or max for a mode "max" policy). */
  function runBest(monitor) {
    const k = state.detail.keys.find((x) => x.key === monitor);
    if (!k) return null;
    const max = (state.detail.early_stopping || {}).mode === "max";
    const step = max ? k.max_step : k.min_step;
    return step === null || step === undefined ? null : { step, value: max ? k.max : k.min };
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
      lines.push({ label: `${key} (${t("raw")})`, color, kind: "raw", source, points: sparse });
      lines.push({ label: `${key} (${t("smoothed")})`, color, kind: "smoothed", source });
      fanFor(key, color, lines);
    });
    return lines;
  }

  /** The forecast (GET /forecast) as a fan from the last point to the horizon: 80% interval and expectation. */
  function fanFor(key, color, lines) {
    const f = state.forecast;
    const source = state.series.get(key);
    if (!f || f.key !== key || !source || !source.points.length) return;
    const last = source.points[source.points.length - 1];
    if (last.step !== f.last_step) return;
    const from = { step: last.step, value: last.value, smoothed: last.value };
    const to = (v) => ({ points: [from, { step: f.horizon, value: v, smoothed: v }] });
    const pct = Math.round((f.level || 0.8) * 100);
    const high = lines.length;
    lines.push({ label: t("forecastHigh", { key, pct }), color, kind: "raw", solo: true, width: 1, source: to(f.value.high) });
    lines.push({ label: t("forecastLow", { key, pct }), color, kind: "raw", solo: true, width: 1, source: to(f.value.low), bandTo: high });
    lines.push({ label: t("forecast", { key }), color, kind: "raw", solo: true, width: 1.5, dash: true, source: to(f.value.expected) });
  }

  async function refreshForecast() {
    // Only the monitored key gets a fan; a run with too few points or past its plan answers 422: no fan.
    // Asked only when the service can answer (4 finite points, a planned end still ahead), so a young run
    // does not fill the console with expected 422s.
    const key = state.detail && state.detail.decision && state.detail.decision.monitor;
    const summary = key && state.detail.keys.find((k) => k.key === key);
    const config = state.detail && state.detail.config || {};
    const plan = Number(config.max_steps) > 0 ? Number(config.max_steps) : Number(config.total_steps) || 0;
    const has = summary && summary.count >= 4 && !(plan && summary.last_step >= plan);
    let f = null;
    if (has) {
      try { f = await api(`${base}/forecast?${new URLSearchParams({ key })}`); } catch (e) { f = null; }
    }
    const before = JSON.stringify(state.forecast || null);
    state.forecast = f;
    if (JSON.stringify(f) !== before) drawCharts();
  }

  function syncCharts(force) {
    const groups = LW.groups(curveKeys().map((k) => k.key));
    const sig = JSON.stringify([LW.lang, groups.map((g) => [g.id, g.keys])]);
    if (sig === state.groupsSig && !force) return;
    state.groupsSig = sig;
    for (const c of state.charts.values()) c.chart.destroy();
    state.charts.clear();
    chartsBox.replaceChildren();
    if (!groups.length) {
      chartsBox.append(el("p", { class: "muted", id: "charts-empty", text: t("waiting") }));
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
        const count = sum.count ?? 0;
        return t("points", { k, n: count }) + (shown < count ? t("drawn", { n: shown }) : "") +
          (sum.nonfinite ? t("nonfinite", { n: sum.nonfinite }) : "");
      });
      note.textContent = bits.join(" · ");
    }
  }

  async function refreshSeries(force) {
    const o = seriesOpts();
    let changed = force;
    for (const sum of curveKeys()) {
      const s = seriesFor(sum.key);
      if (force) { await s.load(o); continue; }
      if (await s.update(sum, o)) changed = true;
    }
    if (changed) drawCharts();
    return changed;
  }

  /** Where the run is in its life, from its status and its last step: "finished at step 160". */
  function lifecycle(r) {
    const steps = r.keys.map((k) => k.last_step).filter((s) => s !== null && s !== undefined);
    const last = steps.length ? Math.max(...steps) : null;
    const word = label("status", r.status);
    if (r.status === "running") return last === null ? t("live") : t("liveAt", { n: last });
    return last === null ? word : t("lifeAt", { word, n: last });
  }

  function renderHeader() {
    const r = state.detail;
    document.title = `losswatch · ${LW.visible(r.name)}`;
    document.getElementById("run-name").textContent = LW.visible(r.name);
    document.getElementById("run-sub").textContent =
      `${LW.visible(r.project)} · ${r.id} · ${t("started", { when: when(r.created_at) })}`;
    const status = document.getElementById("run-status");
    status.className = `badge ${r.status}`; status.dataset.status = r.status; status.textContent = label("status", r.status);
    status.title = r.status === "stale" ? t("staleHint") : "";
    const d = r.decision;
    const badge = document.getElementById("run-decision");
    badge.className = `badge ${d.should_stop ? "stop" : "go"}`;
    badge.textContent = d.should_stop ? `${t("stop")}: ${label("reason", d.reason)}` : t("continue");
    badge.title = d.text || d.message;
    // "continue" means nothing to a run that has ended: the badge is shown while running, or for a stop.
    const awaiting = r.status === "running" || r.status === "stale";
    badge.hidden = !d.should_stop && !awaiting;
    // Only a running run can be stopped, and only once; a finished, stopped, failed or stale one shows no button.
    const running = r.status === "running";
    const stop = document.getElementById("stop");
    stop.hidden = !running;
    stop.disabled = !running || d.reason === "manual";
    const note = document.getElementById("stop-note");
    if (!running) { note.textContent = ""; note.className = "muted"; } else if (d.reason === "manual") {
      note.className = "muted"; note.textContent = t("stopRequested");
    }
    const live = document.getElementById("live");
    live.classList.toggle("on", running);
    live.dataset.status = r.status;
    document.getElementById("live-text").textContent = lifecycle(r);
  }

  function renderRunFacts() {
    const facts = state.detail.keys.filter((k) => LW.isRunFact(k.key));
    const card = document.getElementById("run-facts-card");
    card.hidden = !facts.length;
    document.getElementById("run-facts").replaceChildren(...facts.flatMap((k) => [
      el("dt", { text: k.key }), el("dd", { "data-key": k.key, text: fmt(k.last, 5) })]));
  }

  function renderDecisions(list, force) {
    // The history keeps a row per change of decision; the newest row, while the decision has not changed,
    // is shown as the decision reads now (its step, best and words), not as it first read: "best 1.668 at
    // step 20" beside a chart whose best is 0.62 at step 200 read as a contradiction.
    const now = state.detail.decision;
    const last = list[list.length - 1];
    if (last && now && last.should_stop === now.should_stop && last.reason === now.reason) {
      list = [...list.slice(0, -1), { ...last, ...now, created_at: last.created_at }];
    }
    const sig = JSON.stringify([LW.lang, list.map((d) => [d.created_at, d.reason, d.step, d.text || d.message])]);
    if (sig === state.decisionsSig && !force) return;
    state.decisionsSig = sig;
    const box = document.getElementById("timeline");
    if (!list.length) { box.replaceChildren(el("li", { class: "muted", text: t("noDecisions") })); return; }
    box.replaceChildren(...list.slice().reverse().map((d) => el("li", { class: d.should_stop ? "stop" : "" },
      el("div", {}, el("strong", { text: `${d.should_stop ? t("stop") : t("continue")} · ${label("reason", d.reason)}` }),
        d.step !== null ? el("span", { class: "muted", text: t("atStep", { n: d.step }) }) : null),
      el("div", { class: "why", text: d.text || d.message }),
      el("div", { class: "when", text: when(d.created_at) }))));
  }

  function pickDiagKey() {
    const names = curveKeys().map((k) => k.key);
    const sel = document.getElementById("diag-key");
    const have = [...sel.options].map((o) => o.value);
    if (JSON.stringify(have) !== JSON.stringify(names)) {
      sel.replaceChildren(...names.map((n) => el("option", { value: n, text: n })));
    }
    // Until the person picks a key, the panel follows the monitored one as soon as it exists (a live run
    // logs its training loss long before its first evaluation).
    if (!state.diagPicked || !names.includes(state.diagKey)) {
      const monitor = state.detail.decision.monitor;
      state.diagKey = [monitor, "eval_loss", "loss"].find((k) => names.includes(k)) || names[0] || null;
      state.diagPicked = false;
    }
    if (state.diagKey) sel.value = state.diagKey;
    return state.diagKey;
  }

  function pct(v) { return v === null || v === undefined ? "–" : `${(v * 100).toFixed(1)}%`; }

  async function refreshDiagnosis() {
    const key = pickDiagKey();
    const stateBadge = document.getElementById("diag-state");
    const summary = document.getElementById("diag-summary");
    const advice = document.getElementById("diag-advice");
    const facts = document.getElementById("diag-facts");
    state.diagAt = Date.now();
    if (!key) { summary.textContent = t("diagUnavailable"); return; }
    let diag;
    try {
      diag = await api(`${base}/diagnostics?${new URLSearchParams({ key, lang: LW.lang })}`);
    } catch (e) {
      stateBadge.className = "badge unavailable"; stateBadge.textContent = t("diagUnavailable");
      summary.className = "muted"; summary.textContent = `${t("diagUnavailable")} (${e.message})`;
      advice.replaceChildren(); facts.replaceChildren();
      state.diagnosis = null;
      return;
    }
    state.diagnosis = diag;
    stateBadge.className = `badge ${diag.state}`; stateBadge.dataset.state = diag.state;
    stateBadge.textContent = label("state", diag.state);
    summary.className = ""; summary.textContent = diag.summary || "";
    const all = diag.advice || [];
    const asks = all.filter((a) => (a.kind || "advice") === "advice");
    const items = asks.map((a) => el("li", { "data-code": a.code, text: a.message }));
    advice.replaceChildren(...(items.length ? items : [el("li", { class: "muted", text: t("noAdvice") })]));
    const rec = diag.trend && diag.trend.recent;
    const vol = diag.volatility;
    const rows = [
      [t("trend"), rec ? `${rec.direction ? label("direction", rec.direction) : "–"}, ${pct(rec.relative_change)}${rec.p_value !== null && rec.p_value !== undefined ? `, p=${fmt(rec.p_value, 2)}` : ""}` : "–"],
      [t("volatility"), vol ? `${vol.level ? label("level", vol.level) : "–"} (cv ${pct(vol.cv)})` : "–"],
      [t("spikes"), diag.spikes ? String(diag.spikes.count ?? 0) : "–"],
      [t("overfit"), diag.overfitting ? label("yesno", diag.overfitting.detected ? "yes" : "no") : "–"],
      // A fact about the run (its effective batch size) sits with the facts, not with the advice.
      ...all.filter((a) => a.kind === "fact").map((a) => [t("batch"), a.message]),
    ];
    facts.replaceChildren(...rows.flatMap(([k, v]) => [el("dt", { text: k }), el("dd", { text: v })]));
  }

  async function tick() {
    if (state.ticking) return;
    state.ticking = true;
    try {
      const before = state.detail && state.detail.decision;
      state.detail = await api(`${base}?lang=${LW.lang}`);
      renderHeader();
      renderRunFacts();
      syncCharts();
      const reload = state.reload;
      state.reload = false;
      await refreshSeries(reload);
      const d = state.detail.decision;
      const decisionMoved = !before || before.reason !== d.reason || before.best_step !== d.best_step ||
        before.step !== d.step || state.langMoved;
      if (decisionMoved) {
        for (const c of state.charts.values()) c.chart.redraw();
        renderDecisions((await api(`${base}/decisions?lang=${LW.lang}`)).decisions, state.langMoved);
      }
      // The diagnosis reads the whole series; every few seconds is enough for a person reading it.
      const every = state.detail.status === "running" ? 5000 : 60000;
      if (decisionMoved || Date.now() - state.diagAt > every) {
        await refreshDiagnosis();
        await refreshForecast();
      }
      state.langMoved = false;
      state.polls += 1;
    } catch (e) {
      state.errors += 1;
      document.getElementById("live-text").textContent = t("reconnecting", { e: e.message });
    } finally {
      state.ticking = false;
    }
  }

  async function loop() {
    await tick();
    const running = state.detail && state.detail.status === "running";
    setTimeout(loop, running ? 1000 : 5000);
  }

  for (const format of ["csv", "json"]) {
    const link = document.getElementById(format);
    link.href = `${base}/export?format=${format}`;
    // Through fetch, so that with auth on the token goes along; the href stays for "copy link".
    link.addEventListener("click", async (e) => {
      e.preventDefault();
      const note = document.getElementById("stop-note");
      try {
        await LW.download(link.href, `losswatch-${runId}.${format}`);
      } catch (err) {
        note.className = "error"; note.textContent = t("couldNotDownload", { e: err.message });
      }
    });
  }
  document.getElementById("stop").addEventListener("click", async () => {
    const name = state.detail ? state.detail.name : runId;
    if (!window.confirm(t("confirmStop", { name }))) return;
    const note = document.getElementById("stop-note");
    try {
      await api(`${base}/stop`, { method: "POST", body: { reason: "stopped from the dashboard" } });
      note.className = "muted"; note.textContent = t("stopRequested");
      await tick();
    } catch (e) {
      note.className = "error"; note.textContent = t("couldNotStop", { e: e.message });
    }
  });
  LW.onLang(() => {
    state.langMoved = true;
    state.groupsSig = "";
    state.reload = true;
    tick();
  });
  document.getElementById("diag-key").addEventListener("change", (ev) => {
    state.diagKey = ev.target.value;
    state.diagPicked = true;
    refreshDiagnosis();
  });
  (async () => {
    await LW.loadVocabulary();
    LW.applyText();
    opts = LW.smoothingControls(() => { state.reload = true; tick(); });
    loop();
  })();
})();
