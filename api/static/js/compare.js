/* `/compare?runs=a,b&key=loss`: one metric of several runs, overlaid, kept live. */
"use strict";

(() => {
  const { api, el, t, label } = LW;
  const params = new URLSearchParams(location.search);
  const runIds = [...new Set((params.get("runs") || "").split(",").map((s) => s.trim()).filter(Boolean))];
  const keySel = document.getElementById("key");
  const note = document.getElementById("note");
  const state = { runs: [], missing: [], key: params.get("key") || "", series: new Map(), reload: false,
    ticking: false, polls: 0 };
  window.losswatch = state;
  let opts = null;
  const chartBox = document.getElementById("chart");
  const chart = new LW.Chart(chartBox, { height: window.innerWidth < 600 ? 280 : 420 });

  function seriesOpts() {
    return { smoothing: opts.smoothing, mode: opts.mode, maxPoints: Math.max(100, chartBox.clientWidth || 800) };
  }

  function chooseKey() {
    const all = new Set(state.runs.flatMap((r) => r.keys.map((k) => k.key)));
    const names = [...all].filter((k) => !LW.isRunFact(k)).sort();
    if ([...keySel.options].map((o) => o.value).join("\n") !== names.join("\n")) {
      keySel.replaceChildren(...names.map((n) => el("option", { value: n, text: n })));
    }
    const everywhere = (k) => state.runs.every((r) => r.keys.some((x) => x.key === k));
    if (!state.key || !all.has(state.key)) {
      state.key = ["eval_loss", "loss"].find(everywhere) || names.find(everywhere) || names[0] || "";
    }
    keySel.value = state.key;
  }

  function legend() {
    const box = document.getElementById("run-legend");
    box.replaceChildren(...state.runs.map((r, i) => el("li", {},
      el("span", { class: "swatch", style: `background:${LW.PALETTE[i % LW.PALETTE.length]}` }),
      el("a", { href: `/runs/${encodeURIComponent(r.id)}`, text: r.name }),
      el("span", { class: "muted", text: ` ${r.project} · ${label("status", r.status)}` }))));
  }

  async function tick() {
    if (state.ticking) return;
    state.ticking = true;
    try {
      const found = [];
      const missing = [];
      for (const id of runIds) {
        try {
          found.push(await api(`/api/v1/runs/${encodeURIComponent(id)}`));
        } catch (e) {
          if (e.status === 404) missing.push(id); else throw e;
        }
      }
      state.runs = found;
      state.missing = missing;
      // Ids that name no run are said out loud, above the chart; with none found there is no chart at all.
      const banner = document.getElementById("missing");
      banner.hidden = !missing.length;
      banner.textContent = !missing.length ? "" : (found.length ? t("notFound", { ids: missing.join(", ") })
        : t("noneFound", { ids: missing.join(", ") }));
      document.getElementById("chart-card").hidden = runIds.length > 0 && !found.length;
      legend();
      chooseKey();
      const key = state.key;
      const o = seriesOpts();
      const reload = state.reload;
      state.reload = false;
      let changed = reload;
      const lines = [];
      const absent = [];
      state.runs.forEach((r, i) => {
        const sum = r.keys.find((k) => k.key === key);
        if (!sum) { absent.push(LW.visible(r.name)); return; }
        const id = `${r.id}\n${key}`;
        if (!state.series.has(id)) { state.series.set(id, new LW.KeySeries(r.id, key)); changed = true; }
        const s = state.series.get(id);
        const color = LW.PALETTE[i % LW.PALETTE.length];
        lines.push({ run: r, sum, s, color });
      });
      for (const l of lines) {
        if (reload) { await l.s.load(o); changed = true; } else if (await l.s.update(l.sum, o)) changed = true;
      }
      const plotLines = lines.flatMap(({ run, s, color }) => (LW.isSchedule(key)
        ? [{ label: LW.visible(run.name), color, kind: "raw", solo: true, source: s }]
        : [{ label: `${LW.visible(run.name)} (${t("raw")})`, color, kind: "raw", source: s },
          { label: `${LW.visible(run.name)} (${t("smoothed")})`, color, kind: "smoothed", source: s }]));
      if (changed || !chart.plot) chart.render(plotLines, opts.log);
      document.getElementById("chart-title").textContent = key ? t("acrossRuns", { key, n: lines.length }) : t("noMetrics");
      const notes = [];
      if (!runIds.length) notes.push(t("pickRuns"));
      if (absent.length) notes.push(t("absent", { key, names: absent.join(", ") }));
      note.textContent = notes.join(" · ");
      state.polls += 1;
    } finally {
      state.ticking = false;
    }
  }

  keySel.addEventListener("change", () => {
    state.key = keySel.value;
    const q = new URLSearchParams(location.search);
    q.set("key", state.key);
    history.replaceState(null, "", `/compare?${q}`);
    tick();
  });

  async function loop() {
    try { await tick(); } catch (e) { note.textContent = e.message; }
    const live = state.runs.some((r) => r.status === "running");
    setTimeout(loop, live ? 1500 : 10000);
  }
  LW.onLang(() => { state.reload = true; tick(); });
  (async () => {
    await LW.loadVocabulary();
    LW.applyText();
    opts = LW.smoothingControls(() => { state.reload = true; tick(); });
    loop();
  })();
})();
