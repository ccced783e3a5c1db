/* Shared by the three pages: REST calls, number decoding, key series that update incrementally,
   and a uPlot chart with raw (faint) and smoothed (bold) lines plus step markers. */
"use strict";

const LW = (() => {
  const TOKEN = "losswatch-token";
  const DISMISSED = "losswatch-token-dismissed";
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

  /** With auth on, ask for a token once and keep it for the tab. A dismissed prompt stays dismissed for
      the polls; only something the person does (a write, a download) asks again. */
  function askToken(status, method, asked, sent) {
    if (status !== 401 && status !== 403) return false;
    const now = sessionStorage.getItem(TOKEN);
    if (now && now !== sent && !asked) return true; // another request got a token meanwhile: use it
    if (asked || (method === "GET" && sessionStorage.getItem(DISMISSED))) return false;
    const token = window.prompt(status === 401 ? "This server needs an API token. Token:"
      : "This needs an API token with more access (write to change a run). Token:");
    if (token && token.trim()) { sessionStorage.setItem(TOKEN, token.trim()); sessionStorage.removeItem(DISMISSED); return true; }
    sessionStorage.setItem(DISMISSED, "1");
    return false;
  }

  async function api(path, { method = "GET", body } = {}) {
    for (let attempt = 0; ; attempt++) {
      const sent = sessionStorage.getItem(TOKEN);
      const r = await fetch(path, { method, headers: headers(body !== undefined),
        body: body === undefined ? undefined : JSON.stringify(body) });
      if (askToken(r.status, method, attempt > 0, sent)) continue;
      let data = null;
      try { data = await r.json(); } catch (_) { data = null; }
      if (!r.ok) throw new ApiError(r.status, (data && data.detail) || r.statusText);
      return data;
    }
  }

  /** A file from the API saved as `filename`: fetched with the token (a plain link carries none). */
  async function download(path, filename) {
    for (let attempt = 0; ; attempt++) {
      const sent = sessionStorage.getItem(TOKEN);
      const r = await fetch(path, { headers: headers(false) });
      if (askToken(r.status, "POST", attempt > 0, sent)) continue;
      if (!r.ok) {
        let detail = r.statusText;
        try { detail = (await r.json()).detail || detail; } catch (_) { /* not JSON */ }
        throw new ApiError(r.status, detail);
      }
      const url = URL.createObjectURL(await r.blob());
      const a = el("a", { href: url, download: filename });
      document.body.append(a); a.click(); a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60000);
      return;
    }
  }


  // What the pages say, in both languages. Codes (statuses, reasons, states...) are worded by the
  // labels the service sends with its vocabulary, so a code's words exist once, in monitor/labels.py.
  const UI = {
    en: {
      runsSub: "training runs, newest first", project: "Project", status: "Status", all: "all",
      compareSelected: "Compare selected", run: "Run", lastLoss: "Last loss", diagnosis: "Diagnosis",
      decision: "Decision", created: "Created", loading: "Loading…", noRuns: "No runs yet.",
      runsCount: "{n} runs", runsCountOne: "1 run", noData: "no data", unavailable: "unavailable",
      smoothing: "Smoothing", mode: "Mode", modeTensorboard: "TensorBoard EMA", modeLlamafactory: "LLaMA-Factory",
      modeNone: "none", logScale: "log scale", downloadCsv: "Download CSV", stopRun: "Stop run",
      waiting: "Waiting for the first points…", advice: "Advice", decisions: "Decisions", noDecisions: "No decisions yet.",
      diagUnavailable: "diagnosis unavailable", noAdvice: "No advice.", trend: "recent trend",
      volatility: "volatility", spikes: "spikes", overfit: "overfitting", runFacts: "Run summary",
      live: "live", liveAt: "live, at step {n}", lifeAt: "{word} at step {n}", reconnecting: "reconnecting ({e})", started: "started {when}", atStep: " at step {n}",
      stopRequested: "stop requested; the trainer stops at its next check", couldNotStop: "could not stop: {e}", couldNotDownload: "could not download: {e}",
      confirmStop: "Stop run \"{name}\"? The trainer stops at its next check.",
      continue: "continue", stop: "stop", best: "best", bestAtStop: "best at the stop", points: "{k}: {n} points", drawn: ", {n} drawn",
      nonfinite: ", {n} non-finite (not drawn)", metric: "Metric", compare: "compare",
      acrossRuns: "{key} across {n} runs", noMetrics: "No metrics", pickRuns: "Pick runs on the run list, or open /compare?runs=ID1,ID2.",
      absent: "no {key} in: {names}", notFound: "no such run: {ids}", noneFound: "None of these runs exist: {ids}. The run list shows the runs there are.",
      lossTitle: "Loss (training and validation)", lrTitle: "Learning rate", gradTitle: "Gradient norm",
      missingTitle: "No such run", missingText: "There is no run with the id \"{id}\".", backToList: "Back to the run list",
      batch: "effective batch size", raw: "raw", smoothed: "smoothed", step: "step", auto: "auto",
      forecast: "{key} forecast", forecastHigh: "{key} forecast ({pct}% high)", forecastLow: "{key} forecast ({pct}% low)",
      trainShort: "train", evalShort: "eval",
      staleHint: "running, but nothing (point or heartbeat) has arrived for a while: its process may have died",
      notifyFor: "Notifications for project", notifyHint: "Who is told when a run stops, goes silent or finishes. Addresses are shown masked.",
      notifyUrl: "incoming-webhook URL", notifyAdd: "Add", notifyTest: "Test", notifyRemove: "Remove",
      notifyNone: "No targets: nobody is told anything yet.", notifyQueued: "test message queued for target {id}",
      notifyRemoved: "target {id} removed", notifyAdded: "target added",
    },
    zh: {
      runsSub: "训练运行，最新的在前", project: "项目", status: "状态", all: "全部",
      compareSelected: "对比所选", run: "运行", lastLoss: "最新 loss", diagnosis: "诊断",
      decision: "决定", created: "创建时间", loading: "加载中…", noRuns: "还没有运行。",
      runsCount: "{n} 个运行", runsCountOne: "1 个运行", noData: "无数据", unavailable: "不可用",
      smoothing: "平滑", mode: "方式", modeTensorboard: "TensorBoard EMA", modeLlamafactory: "LLaMA-Factory",
      modeNone: "不平滑", logScale: "对数坐标", downloadCsv: "下载 CSV", stopRun: "停止训练",
      waiting: "等待第一批数据…", advice: "建议", decisions: "决定记录", noDecisions: "还没有决定。",
      diagUnavailable: "暂无诊断", noAdvice: "暂无建议。", trend: "近期趋势",
      volatility: "波动", spikes: "尖峰", overfit: "过拟合", runFacts: "运行概要",
      live: "实时", liveAt: "实时，第 {n} 步", lifeAt: "{word}，在第 {n} 步", reconnecting: "正在重连（{e}）", started: "开始于 {when}", atStep: "，第 {n} 步",
      stopRequested: "已请求停止；训练会在下一次检查时停止", couldNotStop: "无法停止：{e}", couldNotDownload: "无法下载：{e}",
      confirmStop: "停止运行“{name}”？训练会在下一次检查时停止。",
      continue: "继续", stop: "停止", best: "最佳", bestAtStop: "停止时的最佳", points: "{k}：{n} 个点", drawn: "，画出 {n} 个",
      nonfinite: "，{n} 个非有限值（未画出）", metric: "指标", compare: "对比",
      acrossRuns: "{n} 个运行的 {key}", noMetrics: "没有指标", pickRuns: "在运行列表中勾选运行，或打开 /compare?runs=ID1,ID2。",
      absent: "这些运行没有 {key}：{names}", notFound: "找不到运行：{ids}", noneFound: "这些运行都不存在：{ids}。运行列表里有现有的运行。",
      lossTitle: "Loss（训练与验证）", lrTitle: "学习率", gradTitle: "梯度范数",
      missingTitle: "找不到这个运行", missingText: "没有 id 为“{id}”的运行。", backToList: "返回运行列表",
      batch: "有效批大小", raw: "原始", smoothed: "平滑", step: "步", auto: "自动",
      forecast: "{key} 预测", forecastHigh: "{key} 预测（{pct}% 上限）", forecastLow: "{key} 预测（{pct}% 下限）",
      trainShort: "训练", evalShort: "验证",
      staleHint: "运行中，但已有一段时间没有收到数据或心跳：进程可能已退出",
      notifyFor: "通知：项目", notifyHint: "运行停止、失联或完成时通知谁。地址只显示部分内容。",
      notifyUrl: "Webhook 地址", notifyAdd: "添加", notifyTest: "测试", notifyRemove: "删除",
      notifyNone: "还没有通知目标：现在不会通知任何人。", notifyQueued: "已为目标 {id} 排队发送测试消息",
      notifyRemoved: "已删除目标 {id}", notifyAdded: "已添加目标",
    },
  };
  let lang = localStorage.getItem("losswatch-lang") === "zh" ? "zh" : "en";
  let vocab = null;
  let evalRe = /(^|[_/.-])(eval|val|valid|validation|test)([_/.-]|$)/i;
  const langListeners = [];

  /** The service's vocabulary (labels, the eval-key rule, end-of-training keys); the pages work without it. */
  async function loadVocabulary() {
    try {
      vocab = await api("/api/v1/vocabulary");
      if (vocab.eval_key_pattern) evalRe = new RegExp(vocab.eval_key_pattern, "i");
    } catch (_) { vocab = null; }
    return vocab;
  }
  function t(key, vars = {}) {
    const s = (UI[lang] && UI[lang][key]) ?? UI.en[key] ?? key;
    return s.replace(/\{(\w+)\}/g, (_, k) => (k in vars ? String(vars[k]) : `{${k}}`));
  }
  function label(kind, code) {
    const words = vocab && vocab.labels && vocab.labels[kind] && vocab.labels[kind][lang];
    return (words && words[code]) || String(code ?? "").replace(/_/g, " ");
  }
  /** Static text of the page: every element with data-t gets its words, the switch shows the language. */
  function applyText(root = document) {
    document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
    for (const e of root.querySelectorAll("[data-t]")) e.textContent = t(e.dataset.t);
    for (const b of document.querySelectorAll("#lang button")) b.classList.toggle("on", b.dataset.lang === lang);
  }
  function onLang(fn) { langListeners.push(fn); }
  function setLang(next) {
    lang = next === "zh" ? "zh" : "en";
    localStorage.setItem("losswatch-lang", lang);
    applyText();
    for (const fn of langListeners) fn(lang);
  }
  for (const b of document.querySelectorAll("#lang button")) b.addEventListener("click", () => setLang(b.dataset.lang));
  /** HF's one-point end-of-training summaries (train_loss, total_flos...): facts about the run, not curves. */
  function isRunFact(key) {
    const keys = (vocab && vocab.end_of_training_keys) ||
      ["train_loss", "train_runtime", "train_samples_per_second", "train_steps_per_second", "total_flos"];
    return keys.includes(key);
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
  // Bidirectional controls (a right-to-left override in a run name) reverse the text around them on the
  // page: shown as their code, as `losswatch report` shows them, so a name reads as it was sent.
  const bidiRe = /[\u202a-\u202e\u2066-\u2069]/g;
  function visible(v) {
    return typeof v === "string" ? v.replace(bidiRe, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`) : v;
  }
  function el(tag, attrs = {}, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (k === "class") e.className = v;
      else if (k === "text") e.textContent = visible(v);
      else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else if (v !== null && v !== undefined && v !== false) e.setAttribute(k, v === true ? "" : v);
    }
    for (const c of children) if (c !== null && c !== undefined) e.append(visible(c));
    return e;
  }
  function when(ts) {
    if (!ts) return "";
    return new Date(ts * 1000).toLocaleString([], { hour12: false });
  }
  function encKey(key) { return key.split("/").map(encodeURIComponent).join("/"); }
  function isSchedule(key) { return /(^|[_/.-])lr($|[_/.-])|learning_rate/i.test(key); }
  function isEval(key) { return evalRe.test(key); }
  function groupOf(key) {
    if (isSchedule(key)) return "lr";
    if (/grad_?norm/i.test(key)) return "grad";
    if (/loss/i.test(key)) return "loss";
    return `other:${key}`;
  }
  const GROUP_TITLES = { loss: "lossTitle", lr: "lrTitle", grad: "gradTitle" };
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
      id, title: GROUP_TITLES[id] ? t(GROUP_TITLES[id]) : id.slice(6),
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

  /** Vertical lines at steps (the best step, the stop), drawn over the plot on every redraw. Each label
   * sits on a backing of the card's colour beside its line, inside the plot, shortened when it would not fit. */
  function markerPlugin(getMarkers) {
    return {
      hooks: {
        draw: [(u) => {
          const dpr = window.devicePixelRatio || 1;
          const { left, top, width, height } = u.bbox;
          const ctx = u.ctx;
          const pad = 3 * dpr;
          // Where each label went, in CSS pixels: the browser tests check they sit inside the plot.
          const boxes = [];
          u.markerBoxes = boxes;
          getMarkers().forEach((m, i) => {
            if (m.step === null || m.step === undefined) return;
            const x = Math.round(u.valToPos(m.step, "x", true));
            if (!(x >= left - 1 && x <= left + width + 1)) return;
            ctx.save();
            ctx.strokeStyle = m.color; ctx.lineWidth = 1.5 * dpr;
            ctx.setLineDash(m.dash ? [6 * dpr, 4 * dpr] : []);
            ctx.beginPath(); ctx.moveTo(x, top); ctx.lineTo(x, top + height); ctx.stroke();
            ctx.setLineDash([]);
            ctx.font = `600 ${11 * dpr}px system-ui, "Noto Sans CJK SC", sans-serif`;
            ctx.textBaseline = "middle";
            ctx.textAlign = "left"; // uPlot leaves the y axis's right alignment on the context
            // The long label while it takes less than 40% of the plot, else the short one.
            let text = m.label;
            if (m.short && ctx.measureText(text).width > width * 0.4) text = m.short;
            const w = ctx.measureText(text).width;
            // Right of the line when there is room, else left of it; never outside the plot.
            const gap = 5 * dpr;
            let tx = x + gap + w + pad <= left + width ? x + gap : x - gap - w;
            tx = Math.min(Math.max(left + pad, tx), left + width - w - pad);
            const ty = top + (12 + 17 * i) * dpr;
            boxes.push({ text, x0: tx / dpr, x1: (tx + w) / dpr, line: x / dpr, left: left / dpr,
              right: (left + width) / dpr });
            ctx.fillStyle = cssVar("--card", "#fff");
            ctx.globalAlpha = 0.9;
            ctx.fillRect(tx - pad, ty - 7 * dpr, w + 2 * pad, 14 * dpr);
            ctx.globalAlpha = 1;
            ctx.fillStyle = m.color;
            ctx.fillText(text, tx, ty);
            ctx.restore();
          });
        }],
      },
    };
  }

  /** uPlot axis size that fits its longest tick label, so no label is clipped at the left edge. */
  function fitAxis(self, values, axisIdx, cycleNum) {
    const axis = self.axes[axisIdx];
    if (cycleNum > 1 && axis._size) return axis._size;
    let size = (axis.ticks && axis.ticks.size ? axis.ticks.size : 10) + (axis.gap || 5) + 6;
    const longest = (values || []).reduce((a, v) => (String(v).length > a.length ? String(v) : a), "");
    if (longest) {
      self.ctx.font = axis.font ? axis.font[0] : "12px system-ui";
      size += self.ctx.measureText(longest).width / (window.devicePixelRatio || 1);
    }
    return Math.ceil(size);
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
      const series = [{ label: t("step") }].concat(this.lines.map((l) => ({
        label: l.label,
        stroke: l.kind === "raw" && !l.solo ? alpha(l.color, 0.28) : l.color,
        width: l.width ?? (l.kind === "raw" && !l.solo ? 1 : 2.25),
        dash: l.dash ? [6, 4] : undefined,
        spanGaps: true,
        points: { show: l.points === true, size: 5, stroke: l.color, fill: l.color },
        value: (u, v) => (v === null || v === undefined ? "–" : fmt(v, 5)),
      })));
      // A line with `bandTo` (the index of another line) is filled to it: the forecast's fan.
      const bands = [];
      this.lines.forEach((l, i) => {
        if (l.bandTo !== undefined) bands.push({ series: [l.bandTo + 1, i + 1], fill: alpha(l.color, 0.14) });
      });
      const opts = {
        width: this.width(), height: this.height,
        scales: { x: { time: false }, y: this.log ? { distr: 3, log: 10 } : {} },
        axes: [
          { stroke: axis, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid } },
          { stroke: axis, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid }, size: fitAxis,
            values: (u, vals) => vals.map((v) => fmt(v, 3)) },
        ],
        cursor: { drag: { x: true, y: false } },
        legend: { live: true },
        series,
        bands,
        plugins: [markerPlugin(this.markers)],
      };
      this.plot = new uPlot(opts, this.data(), this.container);
    }
    /** Set the lines; rebuilds only when the set of lines or the scale changed, else swaps the data. */
    render(lines, log) {
      const sig = JSON.stringify([log, lang, lines.map((l) => [l.label, l.kind, l.color, l.solo, l.points, l.bandTo])]);
      this.lines = lines; this.log = log;
      if (sig !== this.sig || !this.plot) { this.sig = sig; this.build(); } else { this.plot.setData(this.data()); }
    }
    redraw() { if (this.plot) this.plot.redraw(false, false); }
    destroy() { this.resize.disconnect(); if (this.plot) this.plot.destroy(); this.plot = null; }
  }

  /** Wire the smoothing slider, mode and log toggle; `onChange()` is called after a debounce. The view is
   * kept in the page's URL (?smoothing=&mode=&log=1), so a link shows the same view. */
  function smoothingControls(onChange) {
    const slider = document.getElementById("smoothing");
    const shown = document.getElementById("smoothing-value");
    const mode = document.getElementById("smoothing-mode");
    const log = document.getElementById("log-scale");
    const q = new URLSearchParams(location.search);
    const w = Number(q.get("smoothing"));
    if (q.has("smoothing") && w >= 0 && w <= 0.99) slider.value = String(w);
    const modes = (vocab && vocab.smoothing_modes) || ["tensorboard", "llamafactory", "none"];
    if (modes.includes(q.get("mode"))) mode.value = q.get("mode");
    log.checked = q.get("log") === "1";
    const opts = { smoothing: Number(slider.value), mode: mode.value, log: log.checked };
    let timer = null;
    const remember = () => {
      const u = new URLSearchParams(location.search);
      u.set("smoothing", String(opts.smoothing)); u.set("mode", opts.mode);
      if (opts.log) u.set("log", "1"); else u.delete("log");
      history.replaceState(null, "", `${location.pathname}?${u}`);
    };
    const fire = () => { clearTimeout(timer); remember(); timer = setTimeout(() => onChange(opts), 120); };
    const sync = () => {
      opts.smoothing = Number(slider.value); opts.mode = mode.value; opts.log = log.checked;
      shown.textContent = opts.mode === "tensorboard" ? opts.smoothing.toFixed(2) : (opts.mode === "none" ? "–" : t("auto"));
      slider.disabled = opts.mode !== "tensorboard";
    };
    slider.addEventListener("input", () => { sync(); fire(); });
    mode.addEventListener("change", () => { sync(); fire(); });
    log.addEventListener("change", () => { sync(); fire(); });
    onLang(sync);
    sync();
    return opts;
  }

  return { api, download, ApiError, num, plottable, fmt, el, visible, when, encKey, isSchedule, isEval, groups, KeySeries, Chart,
    PALETTE, smoothingControls, alpha, loadVocabulary, t, label, applyText, onLang, setLang, isRunFact,
    get lang() { return lang; }, get vocab() { return vocab; } };
})();
