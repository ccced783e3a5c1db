/* Shared by the three pages: REST calls, number decoding, key series that update incrementally,
   and a uPlot chart with raw (faint) and smoothed (bold) lines plus step markers. */
"use strict";

const LW = (() => {
  const TOKEN = "losswatch-token";
  const PALETTE = ["#2563eb", "#ea580c", "#16a34a", "#9333ea", "#dc2626", "#0891b2", "#ca8a04", "#db2777",
    "#4b5563", "#65a30d"];

  class ApiError extends Error {
    constructor(status, detail) {
      super(`${status}: ${typeof detail === "string" ? detail : JSON.stringify(detail)}`);
      this.status = status;
      this.detail = detail;
    }
  }

  function headers(json) {
    const h = { Accept: "application/json" };
    if (json) h["Content-Type"] = "application/json";
    const token = sessionStorage.getItem(TOKEN);
    if (token) h.Authorization = `Bearer ${token}`;
    return h;
  }

  async function api(path, { method = "GET", body } = {}) {
    for (let attempt = 0; ; attempt++) {
      const r = await fetch(path, { method, headers: headers(body !== undefined),
        body: body === undefined ? undefined : JSON.stringify(body) });
      // With auth on, a write needs a token with write access: ask once, keep it for the tab.
      if ((r.status === 401 || r.status === 403) && attempt === 0) {
        const token = window.prompt("This needs an API token with write access. Token:");
        if (token) { sessionStorage.setItem(TOKEN, token.trim()); continue; }
      }
      let data = null;
      try { data = await r.json(); } catch (_) { data = null; }
      if (!r.ok) throw new ApiError(r.status, (data && data.detail) || r.statusText);
      return data;
    }
  }

  const SPELLED = { NaN: NaN, Infinity: Infinity, "-Infinity": -Infinity };
  /** A contract number ("NaN"/"Infinity" spelled out) as a JS number; null stays null. */
  function num(v) {
    if (v === null || v === undefined) return null;
    return typeof v === "number" ? v : (v in SPELLED ? SPELLED[v] : Number(v));
  }
  /** What a chart can draw: finite, and positive on a log axis. */
  function plottable(v, log) {
    const n = num(v);
    if (n === null || !Number.isFinite(n) || (log && n <= 0)) return null;
    return n;
  }
  function fmt(v, digits = 4) {
    const n = num(v);
    if (n === null) return "–";
    if (!Number.isFinite(n)) return String(v);
    if (n !== 0 && (Math.abs(n) < 1e-3 || Math.abs(n) >= 1e5)) return n.toExponential(2);
    return String(Number(n.toPrecision(digits)));
  }
  function el(tag, attrs = {}, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (k === "class") e.className = v;
      else if (k === "text") e.textContent = v;
      else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else if (v !== null && v !== undefined && v !== false) e.setAttribute(k, v === true ? "" : v);
    }
    for (const c of children) if (c !== null && c !== undefined) e.append(c);
    return e;
  }
  function when(ts) {
    if (!ts) return "";
    return new Date(ts * 1000).toLocaleString([], { hour12: false });
  }
  function encKey(key) { return key.split("/").map(encodeURIComponent).join("/"); }
  function isSchedule(key) { return /(^|[_/.-])lr($|[_/.-])|learning_rate/i.test(key); }
  function isEval(key) { return /(^|[_/])(eval|val|valid|validation|test)([_/]|$)/i.test(key); }
  function groupOf(key) {
    if (isSchedule(key)) return "lr";
    if (/grad_?norm/i.test(key)) return "grad";
    if (/loss/i.test(key)) return "loss";
    return `other:${key}`;
  }
  const GROUP_TITLES = { loss: "Loss (training and validation)", lr: "Learning rate", grad: "Gradient norm" };
  const GROUP_ORDER = { loss: 0, lr: 1, grad: 2 };

  /** Chart groups for a run's keys: training and validation loss together, then lr, grad norm, others. */
  function groups(keys) {
    const by = new Map();
    for (const k of keys) {
      const g = groupOf(k);
      if (!by.has(g)) by.set(g, []);
      by.get(g).push(k);
    }
    const out = [...by.entries()].map(([id, ks]) => ({
      id, title: GROUP_TITLES[id] || id.slice(6),
      keys: ks.sort((a, b) => (isEval(a) - isEval(b)) || a.localeCompare(b)),
    }));
    return out.sort((a, b) => ((GROUP_ORDER[a.id] ?? 9) - (GROUP_ORDER[b.id] ?? 9)) || a.id.localeCompare(b.id));
  }

  /** One key of one run, kept up to date with `since_step` so a poll only moves new points. */
  class KeySeries {
    constructor(runId, key) {
      this.runId = runId; this.key = key;
      this.points = []; this.total = 0; this.lastStep = null; this.opts = null;
    }
    url(opts, since) {
      const q = new URLSearchParams({ smoothing: String(opts.smoothing), smoothing_mode: opts.mode,
        max_points: String(Math.max(2, Math.round(opts.maxPoints))) });
      if (since !== null && since !== undefined) q.set("since_step", String(since));
      return `/api/v1/runs/${encodeURIComponent(this.runId)}/metrics/${encKey(this.key)}?${q}`;
    }
    async load(opts) {
      const d = await api(this.url(opts));
      this.points = d.points; this.total = d.total; this.opts = { ...opts };
      this.lastStep = d.points.length ? d.points[d.points.length - 1].step : null;
      return true;
    }
    /** Bring the series up to `summary` (the key's entry in the run's `keys`); true when it changed. */
    async update(summary, opts) {
      const last = summary ? summary.last_step : null;
      const same = this.opts && this.opts.smoothing === opts.smoothing && this.opts.mode === opts.mode;
      const rewound = last !== null && this.lastStep !== null && last < this.lastStep;
      // LLaMA-Factory's weight depends on the series length, so every new point moves the whole curve.
      const reshaped = opts.mode === "llamafactory" && last !== this.lastStep;
      if (!same || rewound || reshaped || this.lastStep === null) {
        if (same && last === null && this.lastStep === null) return false;
        return this.load(opts);
      }
      if (last === this.lastStep) return false;
      const d = await api(this.url(opts, this.lastStep));
      const fresh = d.points.filter((p) => p.step > this.lastStep);
      if (!fresh.length) return false;
      this.points = this.points.concat(fresh);
      this.total += d.total;
      this.lastStep = fresh[fresh.length - 1].step;
      // Appended points are not downsampled together with the rest: redo the whole once they pile up.
      if (this.points.length > 3 * opts.maxPoints) await this.load(opts);
      return true;
    }
  }

  function cssVar(name, fallback) {
    return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || fallback;
  }
  function alpha(hex, a) {
    const n = parseInt(hex.slice(1), 16);
    return `rgba(${(n >> 16) & 255},${(n >> 8) & 255},${n & 255},${a})`;
  }

  /** Vertical lines at steps (the best step, the stop), drawn over the plot on every redraw. */
  function markerPlugin(getMarkers) {
    return {
      hooks: {
        draw: [(u) => {
          const dpr = window.devicePixelRatio || 1;
          const { left, top, width, height } = u.bbox;
          const ctx = u.ctx;
          getMarkers().forEach((m, i) => {
            if (m.step === null || m.step === undefined) return;
            const x = Math.round(u.valToPos(m.step, "x", true));
            if (!(x >= left - 1 && x <= left + width + 1)) return;
            ctx.save();
            ctx.strokeStyle = m.color; ctx.fillStyle = m.color; ctx.lineWidth = 1.5 * dpr;
            ctx.setLineDash(m.dash ? [6 * dpr, 4 * dpr] : []);
            ctx.beginPath(); ctx.moveTo(x, top); ctx.lineTo(x, top + height); ctx.stroke();
            ctx.font = `${600} ${11 * dpr}px system-ui, sans-serif`;
            // On a narrow chart the long label would cover the curve: fall back to the short one.
            let text = m.label;
            if (ctx.measureText(text).width > width * 0.4 && m.short) text = m.short;
            const w = ctx.measureText(text).width;
            let tx = x + 4 * dpr + w > left + width ? x - 4 * dpr - w : x + 4 * dpr;
            tx = Math.max(left + 2 * dpr, tx);
            ctx.fillText(text, tx, top + (14 + 14 * i) * dpr);
            ctx.restore();
          });
        }],
      },
    };
  }

  /**
   * A chart of lines over steps. `lines`: [{label, color, kind: "raw"|"smoothed", source: KeySeries}].
   * Raw is faint and thin, smoothed bold, as TensorBoard and LLaMA-Factory draw a loss.
   */
  class Chart {
    constructor(container, { height = 260, log = false, markers = () => [] } = {}) {
      this.container = container; this.height = height; this.log = log; this.markers = markers;
      this.lines = []; this.plot = null; this.sig = "";
      this.resize = new ResizeObserver(() => {
        if (this.plot) this.plot.setSize({ width: this.width(), height: this.height });
      });
      this.resize.observe(container);
    }
    width() { return Math.max(200, Math.floor(this.container.clientWidth)); }
    data() {
      const steps = new Set();
      for (const l of this.lines) for (const p of l.source.points) steps.add(p.step);
      const xs = [...steps].sort((a, b) => a - b);
      const at = new Map(xs.map((s, i) => [s, i]));
      const ys = this.lines.map((l) => {
        const y = new Array(xs.length).fill(null);
        const field = l.kind === "raw" ? "value" : "smoothed";
        for (const p of l.source.points) y[at.get(p.step)] = plottable(p[field], this.log);
        return y;
      });
      return [xs, ...ys];
    }
    build() {
      if (this.plot) { this.plot.destroy(); this.plot = null; }
      const axis = cssVar("--muted", "#667085");
      const grid = cssVar("--line", "#e3e6eb");
      const series = [{ label: "step" }].concat(this.lines.map((l) => ({
        label: l.label,
        stroke: l.kind === "raw" && !l.solo ? alpha(l.color, 0.28) : l.color,
        width: l.kind === "raw" && !l.solo ? 1 : 2.25,
        spanGaps: true,
        points: { show: l.points === true, size: 5, stroke: l.color, fill: l.color },
        value: (u, v) => (v === null || v === undefined ? "–" : fmt(v, 5)),
      })));
      const opts = {
        width: this.width(), height: this.height,
        scales: { x: { time: false }, y: this.log ? { distr: 3, log: 10 } : {} },
        axes: [
          { stroke: axis, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid } },
          { stroke: axis, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid }, size: 60,
            values: (u, vals) => vals.map((v) => fmt(v, 3)) },
        ],
        cursor: { drag: { x: true, y: false } },
        legend: { live: true },
        series,
        plugins: [markerPlugin(this.markers)],
      };
      this.plot = new uPlot(opts, this.data(), this.container);
    }
    /** Set the lines; rebuilds only when the set of lines or the scale changed, else swaps the data. */
    render(lines, log) {
      const sig = JSON.stringify([log, lines.map((l) => [l.label, l.kind, l.color, l.solo, l.points])]);
      this.lines = lines; this.log = log;
      if (sig !== this.sig || !this.plot) { this.sig = sig; this.build(); } else { this.plot.setData(this.data()); }
    }
    redraw() { if (this.plot) this.plot.redraw(false, false); }
    destroy() { this.resize.disconnect(); if (this.plot) this.plot.destroy(); this.plot = null; }
  }

  /** Wire the smoothing slider, mode and log toggle; `onChange()` is called after a debounce. */
  function smoothingControls(onChange) {
    const slider = document.getElementById("smoothing");
    const shown = document.getElementById("smoothing-value");
    const mode = document.getElementById("smoothing-mode");
    const log = document.getElementById("log-scale");
    const opts = { smoothing: Number(slider.value), mode: mode.value, log: log.checked };
    let timer = null;
    const fire = () => { clearTimeout(timer); timer = setTimeout(() => onChange(opts), 120); };
    const sync = () => {
      opts.smoothing = Number(slider.value); opts.mode = mode.value; opts.log = log.checked;
      shown.textContent = opts.mode === "tensorboard" ? opts.smoothing.toFixed(2) : (opts.mode === "none" ? "off" : "auto");
      slider.disabled = opts.mode !== "tensorboard";
    };
    slider.addEventListener("input", () => { sync(); fire(); });
    mode.addEventListener("change", () => { sync(); fire(); });
    log.addEventListener("change", () => { sync(); fire(); });
    sync();
    return opts;
  }

  return { api, ApiError, num, plottable, fmt, el, when, encKey, isSchedule, isEval, groups, KeySeries, Chart,
    PALETTE, smoothingControls, alpha };
})();
