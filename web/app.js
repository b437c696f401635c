// connscope dashboard: charts and tables fed by the agent's API (docs/json.md).
// On load: /api/v1/snapshot (figures), /api/v1/history (the last 15 minutes of every chart),
// /api/v1/probes and /api/v1/findings; then live from /api/v1/events (Server-Sent Events:
// `fast` every second, `full` every full interval, `probe` after each probe run). EventSource
// reconnects by itself (the server sends `retry: 2000`); the header shows the stream's state.
//
// For tests and for the curious, the live state is on window.connscope:
//   connscope.charts.states   uPlot instance: x = Unix seconds, one series per TCP state
//                             (series[i].label is the state name; data[i] its values)
//   connscope.charts.queues   accept-queue fill per listener, percent of its limit
//   connscope.charts.rates    kernel counter rates, per second
//   connscope.charts.drops    with eBPF: drops per second by the kernel's drop reason
//   connscope.charts.resets   with eBPF: resets sent/received, retransmits of data/SYN-ACKs, per second
//   connscope.kernel          true once a sample had eBPF data (fast.kernel): the state chart is
//                             then per second from the census, not from the full dumps
//   connscope.latest          {fast, full}: the last samples received
//   connscope.probes          Map target -> PROBE (as /api/v1/probes gives it)
//   connscope.status          "connecting" | "live" | "stale" | "reconnecting" | "offline"
//   connscope.counts          {fast, full, probe}: events received, for tests
'use strict';

(async () => {
  // The words, in the reader's language (/api/v1/texts: ?lang= from the switch, else the
  // browser's Accept-Language). Without them (an old agent, an error) the page speaks English.
  const LANG_KEY = 'connscope.lang';
  const chosen = new URLSearchParams(location.search).get('lang') || localStorage.getItem(LANG_KEY);
  let texts = {lang: 'en', languages: [], texts: {}};
  try {
    const r = await fetch(chosen ? `api/v1/texts?lang=${encodeURIComponent(chosen)}` : 'api/v1/texts',
      {headers: {Accept: 'application/json'}, cache: 'no-store'});
    if (r.ok) texts = await r.json();
  } catch (e) { /* English */ }
  // The template of `id` with its {name}s filled from `vars`.
  const t = (id, vars = {}) => (texts.texts[id] ?? id).replace(/\{(\w+)\}/g, (m, k) => (k in vars ? String(vars[k]) : m));
  document.documentElement.lang = texts.lang;
  for (const e of document.querySelectorAll('[data-t]')) e.textContent = t(e.dataset.t);
  // The findings' texts are rendered by the agent for each reader: every API call that carries
  // findings asks in the page's language (?lang=), the event stream too.
  const withLang = (path) => `${path}${path.includes('?') ? '&' : '?'}lang=${encodeURIComponent(texts.lang)}`;

  const WINDOW_S = 15 * 60;  // what the charts show
  const STALE_MS = 5000;     // no `fast` event for this long: the header says "stale"
  const MAX_LISTENERS = 12;  // the queue chart's series: the fullest queues first, then by name
  const STATES = ['ESTABLISHED', 'SYN_SENT', 'SYN_RECV', 'FIN_WAIT1', 'FIN_WAIT2', 'TIME_WAIT',
    'CLOSE', 'CLOSE_WAIT', 'LAST_ACK', 'LISTEN', 'CLOSING'];
  const RATES = ['TcpExt.ListenOverflows', 'TcpExt.ListenDrops', 'Tcp.RetransSegs', 'Tcp.OutRsts',
    'Tcp.EstabResets', 'TcpExt.TCPAbortOnTimeout', 'TcpExt.TCPReqQFullDrop', 'TcpExt.SyncookiesSent'];
  // Distinct in light and dark; ESTABLISHED takes the first and a thicker line.
  const PALETTE = ['#2f81f7', '#e5534b', '#3fb950', '#d29922', '#a371f7', '#db61a2', '#39c5cf',
    '#f0883e', '#8b949e', '#6e7781', '#b083f0', '#56d364'];

  // The resets-and-retransmits chart's series: name (its label's text id without "dash_") ->
  // history series.
  const KERNEL_COUNTS = {
    resets_sent: 'resets{direction="sent"}', resets_received: 'resets{direction="received"}',
    retransmits: 'retransmits{kind="data"}', synack_retransmits: 'retransmits{kind="synack"}',
  };
  const $ = (id) => document.getElementById(id);
  // The agent's clock (its latest sample's time), not the browser's: the charts' right edge.
  let agentNowS = null;
  const nowS = () => agentNowS ?? Date.now() / 1000;
  const cs = window.connscope = {
    charts: {}, latest: {fast: null, full: null}, probes: new Map(), status: 'connecting',
    counts: {fast: 0, full: 0, probe: 0}, kernel: false,
  };

  // ---- small helpers ----
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === 'class') e.className = v;
      else if (k === 'title') e.title = v;
      else e.setAttribute(k, v);
    }
    for (const c of children) {
      if (c === null || c === undefined || c === false) continue;
      e.append(c instanceof Node ? c : String(c));
    }
    return e;
  }
  const fmtInt = (n) => (n === null || n === undefined) ? '–' : Number(n).toLocaleString('en-US');
  function fmtMs(ms) {
    if (ms === null || ms === undefined) return '–';
    if (ms < 1) return `${ms.toFixed(2)} ms`;
    if (ms < 1000) return `${ms < 10 ? ms.toFixed(1) : Math.round(ms)} ms`;
    return `${(ms / 1000).toFixed(2)} s`;
  }
  function fmtAgo(tms) {
    const s = Math.max(0, Math.round((Date.now() - tms) / 1000));
    if (s < 60) return t('dash_ago_seconds', {n: s});
    if (s < 3600) return t('dash_ago_minutes', {n: Math.floor(s / 60)});
    return t('dash_ago_hours', {n: Math.floor(s / 3600)});
  }
  const clock = (tms) => new Date(tms).toLocaleTimeString([], {hour12: false});
  const cssVar = (name) => getComputedStyle(document.documentElement).getPropertyValue(name).trim();

  async function getJSON(path) {
    const r = await fetch(path, {headers: {Accept: 'application/json'}, cache: 'no-store'});
    if (!r.ok) throw new Error(`${path}: HTTP ${r.status}`);
    return r.json();
  }
  const errors = new Map();  // what -> message, shown above the charts until it clears
  function setError(what, message) {
    if (message) errors.set(what, message); else errors.delete(what);
    const box = $('errors');
    box.replaceChildren(...[...errors.values()].map((m) => el('div', {}, m)));
    box.hidden = errors.size === 0;
  }

  // ---- time-aligned columns for one chart (uPlot wants [xs, ys...] with nulls for gaps) ----
  class Columns {
    constructor(names) { this.names = names; this.xs = []; this.ys = names.map(() => []); }
    // A row at `t` (Unix seconds); values: name -> number|null. Out-of-order rows are merged.
    put(t, values) {
      let i = this.xs.length;
      if (i > 0 && this.xs[i - 1] >= t) {
        i = this.xs.findIndex((x) => x >= t);
        if (this.xs[i] !== t) {
          this.xs.splice(i, 0, t);
          for (const y of this.ys) y.splice(i, 0, null);
        }
      } else {
        this.xs.push(t);
        for (const y of this.ys) y.push(null);
      }
      this.names.forEach((n, j) => { if (values[n] !== undefined && values[n] !== null) this.ys[j][i] = values[n]; });
    }
    trim(nowS) {
      let k = 0;
      while (k < this.xs.length && this.xs[k] < nowS - WINDOW_S) k++;
      if (k > 0) { this.xs.splice(0, k); for (const y of this.ys) y.splice(0, k); }
    }
    // The same rows under other names (kept where the name is kept, null where new).
    renamed(names) {
      const c = new Columns(names);
      c.xs = this.xs.slice();
      c.ys = names.map((n) => { const j = this.names.indexOf(n); return j >= 0 ? this.ys[j].slice() : c.xs.map(() => null); });
      return c;
    }
    data() { return [this.xs, ...this.ys]; }
  }

  // ---- charts ----
  class Chart {
    constructor(key, host, names, {label, unit, strong, yRange}) {
      this.key = key; this.host = host; this.label = label; this.unit = unit; this.strong = strong;
      this.yRange = yRange; this.cols = new Columns(names); this.u = null;
      this.build();
      new ResizeObserver(() => this.u && this.u.setSize(this.size())).observe(host);
    }
    size() { return {width: Math.max(300, this.host.clientWidth), height: 220}; }
    build() {
      if (this.u) this.u.destroy();
      const fg = cssVar('--muted'), grid = cssVar('--grid');
      const axis = {stroke: fg, grid: {stroke: grid, width: 1}, ticks: {stroke: grid, width: 1}};
      // Times of day only (the window is 15 minutes): seconds when the ticks are closer than a minute.
      const xValues = (u, splits, ai, space, incr) => splits.map((x) => new Date(x * 1000).toLocaleTimeString([],
        incr < 60 ? {hour12: false} : {hour: '2-digit', minute: '2-digit', hour12: false}));
      const opts = {
        ...this.size(),
        cursor: {drag: {x: false, y: false}},
        // Always the whole window, new points coming in at the right.
        scales: {x: {time: true, range: () => [nowS() - WINDOW_S, nowS()]}, y: this.yRange ? {range: this.yRange} : {}},
        // Away from the cursor the legend shows each series' latest value, not "–".
        hooks: {draw: [(u) => { if (!(u.cursor.left >= 0)) Chart.showLatest(u); }]},
        axes: [{...axis, space: 70, values: xValues}, {...axis, size: 60, values: (u, v) => v.map((x) => this.fmt(x))}],
        series: [{label: t('dash_chart_time'), value: (u, v) => (v === null || v === undefined) ? '–' : clock(v * 1000)}, ...this.cols.names.map((n, i) => ({
          label: this.label(n),
          stroke: PALETTE[i % PALETTE.length],
          width: n === this.strong ? 2.5 : 1.25,
          value: (u, v) => (v === null || v === undefined) ? '–' : this.fmt(v),
          points: {show: false},
        }))],
      };
      this.u = new uPlot(opts, this.cols.data(), this.host);
      this.u.over.addEventListener('mouseleave', () => setTimeout(() => Chart.showLatest(this.u), 0));
      cs.charts[this.key] = this.u;
    }
    fmt(v) {
      if (this.unit === '%') return `${+v.toFixed(1)}%`;
      if (this.unit === '/s') return Math.abs(v) >= 100 ? Math.round(v).toLocaleString('en-US') : `${+v.toFixed(2)}`;
      return Number.isInteger(v) ? v.toLocaleString('en-US') : `${+v.toFixed(1)}`;
    }
    setNames(names) {
      const same = names.length === this.cols.names.length && names.every((n, i) => n === this.cols.names[i]);
      if (same) return;
      this.cols = this.cols.renamed(names);
      this.build();
    }
    put(t, values) { this.cols.put(t, values); }
    redraw() {
      this.cols.trim(nowS());
      this.u.setData(this.cols.data());
    }
    static showLatest(u) {
      const d = u.data;
      const idxs = d.map((ys) => { for (let k = ys.length - 1; k >= 0; k--) if (ys[k] !== null && ys[k] !== undefined) return k; return null; });
      u.setLegend({idxs});
    }
  }

  const short = (counter) => counter.replace(/^TcpExt\./, '').replace(/^Tcp\./, '');
  const charts = {
    states: new Chart('states', $('chart-states'), STATES, {label: (n) => n, unit: '', strong: 'ESTABLISHED'}),
    queues: new Chart('queues', $('chart-queues'), [], {label: (n) => n, unit: '%', yRange: [0, 100]}),
    rates: new Chart('rates', $('chart-rates'), RATES, {label: short, unit: '/s', strong: 'TcpExt.ListenOverflows'}),
    drops: new Chart('drops', $('chart-drops'), [], {label: (n) => n, unit: '/s'}),
    resets: new Chart('resets', $('chart-resets'), Object.keys(KERNEL_COUNTS), {label: (n) => t(`dash_${n}`), unit: '/s', strong: 'resets_sent'}),
  };

  // With eBPF (fast.kernel): the states every second, and the kernel's drops, resets and
  // retransmits. The panels appear with the first such sample.
  function kernelOn() {
    if (cs.kernel) return;
    cs.kernel = true;
    $('states-source').textContent = t('dash_states_sub_bpf');
    $('panel-drops').hidden = false;
    $('panel-resets').hidden = false;
  }
  const dropReasons = new Set();  // every reason seen: the drops chart's series
  function addKernel(t, k) {
    kernelOn();
    charts.states.put(t, k.states);
    charts.states.redraw();
    for (const d of (k.totals && k.totals.drops) || []) dropReasons.add(d.reason);
    charts.drops.setNames([...dropReasons].sort());
    if (k.per_second) {
      const byReason = {};
      for (const r of dropReasons) byReason[r] = 0;
      for (const d of k.per_second.drops || []) byReason[d.reason] = (byReason[d.reason] || 0) + d.rate;
      charts.drops.put(t, byReason);
      const p = k.per_second;
      charts.resets.put(t, {
        resets_sent: p.resets.sent, resets_received: p.resets.received,
        retransmits: p.retransmits.data, synack_retransmits: p.retransmits.synack,
      });
    }
    charts.drops.redraw();
    charts.resets.redraw();
  }

  // ---- samples -> charts ----
  function stateCounts(full) {
    const out = {};
    for (const s of STATES) {
      let n = null;
      for (const fam of ['ipv4', 'ipv6']) {
        const v = full.states && full.states[fam] && full.states[fam][s];
        if (typeof v === 'number') n = (n || 0) + v;
      }
      out[s] = n;
    }
    return out;
  }
  function addFull(full) {
    agentNowS = Math.max(agentNowS ?? 0, full.time_ms / 1000);
    if (cs.kernel) return;  // the census has the states every second
    charts.states.put(full.time_ms / 1000, stateCounts(full));
    charts.states.redraw();
  }

  const listenerFill = new Map();  // listener -> its last fill (%), to rank them
  function chooseListeners() {
    return [...listenerFill.keys()]
      .sort((a, b) => (listenerFill.get(b) - listenerFill.get(a)) || a.localeCompare(b))
      .slice(0, MAX_LISTENERS)
      .sort((a, b) => a.localeCompare(b));
  }
  const fill = (q, limit) => (typeof q === 'number' && typeof limit === 'number' && limit > 0) ? 100 * q / limit : null;
  function addFast(fast) {
    const t = fast.time_ms / 1000;
    agentNowS = Math.max(agentNowS ?? 0, t);
    const fills = {};
    const present = new Set();
    for (const l of fast.listeners || []) {
      const f = fill(l.accept_queue, l.accept_queue_limit);
      fills[l.local] = f;
      listenerFill.set(l.local, f === null ? 0 : f);
      present.add(l.local);
    }
    for (const k of [...listenerFill.keys()]) if (!present.has(k)) listenerFill.delete(k);
    charts.queues.setNames(chooseListeners());
    charts.queues.put(t, fills);
    charts.queues.redraw();
    if (fast.rates_per_second && Object.keys(fast.rates_per_second).length > 0) {
      charts.rates.put(t, fast.rates_per_second);
      charts.rates.redraw();
    }
    if (fast.kernel) addKernel(t, fast.kernel);
  }

  async function loadHistory() {
    const names = await getJSON('api/v1/history');
    const all = names.series_names || [];
    const listeners = new Set();
    for (const n of all) {
      const m = /^listen_queue\{listener="(.*)"\}$/.exec(n);
      if (m) listeners.add(m[1]);
      const d = /^drops\{reason="(.*)"\}$/.exec(n);
      if (d) dropReasons.add(d[1]);
    }
    // The listeners the chart will show (the snapshot's fullest, else the stored ones by name):
    // a busy server has hundreds, and every name lengthens the query.
    if (listenerFill.size === 0) for (const l of listeners) listenerFill.set(l, 0);
    const shown = chooseListeners().filter((l) => listeners.has(l));
    const q = new URLSearchParams({from: `-${WINDOW_S / 60}m`});
    const wanted = [
      ...STATES.map((s) => `tcp_sockets{state="${s}"}`),
      ...RATES.map((r) => `rate{counter="${r}"}`),
      ...shown.flatMap((l) => [`listen_queue{listener="${l}"}`, `listen_queue_limit{listener="${l}"}`]),
      ...[...dropReasons].map((r) => `drops{reason="${r}"}`),
      ...Object.values(KERNEL_COUNTS),
    ];
    // Only what the store has (a young agent has nothing yet; an unknown name is a 400).
    for (const w of wanted) if (all.includes(w)) q.append('series', w);
    if (!q.has('series')) return;
    const h = await getJSON(`api/v1/history?${q}`);
    const rows = {states: new Map(), rates: new Map(), queue: new Map(), limit: new Map(), drops: new Map(), resets: new Map()};
    const countName = new Map(Object.entries(KERNEL_COUNTS).map(([label, series]) => [series, label]));
    const row = (m, t) => { if (!m.has(t)) m.set(t, {}); return m.get(t); };
    for (const s of h.series || []) {
      let m;
      if ((m = /^tcp_sockets\{state="(.*)"\}$/.exec(s.name))) for (const p of s.points) row(rows.states, p.t)[m[1]] = p.avg;
      else if ((m = /^rate\{counter="(.*)"\}$/.exec(s.name))) for (const p of s.points) row(rows.rates, p.t)[m[1]] = p.avg;
      else if ((m = /^listen_queue\{listener="(.*)"\}$/.exec(s.name))) for (const p of s.points) row(rows.queue, p.t)[m[1]] = p.avg;
      else if ((m = /^listen_queue_limit\{listener="(.*)"\}$/.exec(s.name))) for (const p of s.points) row(rows.limit, p.t)[m[1]] = p.avg;
      else if ((m = /^drops\{reason="(.*)"\}$/.exec(s.name))) for (const p of s.points) row(rows.drops, p.t)[m[1]] = p.avg;
      else if (countName.has(s.name)) for (const p of s.points) row(rows.resets, p.t)[countName.get(s.name)] = p.avg;
    }
    if (rows.drops.size > 0 || rows.resets.size > 0) kernelOn();
    charts.drops.setNames([...dropReasons].sort());
    for (const [t, v] of rows.drops) charts.drops.put(t / 1000, v);
    for (const [t, v] of rows.resets) charts.resets.put(t / 1000, v);
    for (const [t, v] of rows.states) charts.states.put(t / 1000, v);
    for (const [t, v] of rows.rates) charts.rates.put(t / 1000, v);
    charts.queues.setNames(chooseListeners());
    for (const [t, v] of rows.queue) {
      const lim = rows.limit.get(t) || {};
      const f = {};
      for (const [l, qv] of Object.entries(v)) f[l] = fill(qv, lim[l]);
      charts.queues.put(t / 1000, f);
    }
    for (const c of Object.values(charts)) c.redraw();
  }

  // ---- header ----
  function renderHeader() {
    const {fast, full} = cs.latest;
    const k = fast && fast.kernel;
    if (full) {
      const c = stateCounts(full);
      $('fig-sockets').textContent = fmtInt(full.sockets);
      $('fig-established').textContent = fmtInt(c.ESTABLISHED);
      $('fig-time-wait').textContent = fmtInt(c.TIME_WAIT);
      $('fig-close-wait').textContent = fmtInt(c.CLOSE_WAIT);
      $('fig-findings').textContent = fmtInt((full.findings || []).length);
    }
    if (fast && fast.sockstat && typeof fast.sockstat.tcp_time_wait === 'number') {
      $('fig-time-wait').textContent = fmtInt(fast.sockstat.tcp_time_wait);  // fresher: every second
    }
    if (k) {  // exact every second: the census
      $('fig-sockets').textContent = fmtInt(Object.values(k.states).reduce((a, b) => a + b, 0));
      $('fig-established').textContent = fmtInt(k.states.ESTABLISHED);
      $('fig-close-wait').textContent = fmtInt(k.states.CLOSE_WAIT);
    }
    const listeners = fast ? fast.listeners : (full ? full.listeners : null);
    if (listeners) $('fig-listeners').textContent = fmtInt(listeners.length);
    const last = Math.max(fast ? fast.time_ms : 0, full ? full.time_ms : 0);
    $('updated').textContent = last ? t('dash_updated', {time: clock(last)}) : '';
  }
  // How the agent samples (the snapshot's `sampler`): "sampling: tiers (fast 1 s, full 10 s) —
  // BPF off: <reason>".
  function renderSampler(s) {
    if (!s) return;
    const secs = (ms) => ms >= 60000 && ms % 60000 === 0 ? t('dash_minutes', {n: ms / 60000})
      : t('dash_seconds', {n: Number.isInteger(ms / 1000) ? ms / 1000 : (ms / 1000).toFixed(1)});
    const vars = {kind: s.kind, fast: secs(s.fast_interval_ms), full: secs(s.full_interval_ms), reason: s.bpf && s.bpf.reason};
    const id = !s.bpf ? 'dash_sampling' : s.bpf.enabled ? 'dash_sampling_bpf_on'
      : s.bpf.reason ? 'dash_sampling_bpf_off_why' : 'dash_sampling_bpf_off';
    $('sampling').textContent = t(id, vars);
  }
  function setStatus(s) {
    cs.status = s;
    const e = $('conn');
    e.textContent = t(`dash_status_${s}`);
    e.className = `conn conn-${s === 'stale' ? 'reconnecting' : s}`;
  }

  // ---- findings ----
  function findingBlock(f, withStage) {
    return el('div', {class: 'finding'},
      el('div', {}, el('span', {class: `sev sev-${f.severity}`}, t(`dash_severity_${f.severity}`)), el('span', {class: 'summary'}, f.summary), ' ',
        el('span', {class: 'id'}, f.id + (withStage && f.stage ? ` · ${f.stage}` : ''))),
      f.cause ? el('p', {class: 'cause'}, el('span', {class: 'label'}, t('dash_cause')), f.cause) : null,
      f.fix ? el('p', {class: 'fix'}, el('span', {class: 'label'}, t('dash_fix')), f.fix) : null);
  }
  function renderFindings(list) {
    const ul = $('findings');
    if (!list || list.length === 0) { ul.replaceChildren(el('li', {class: 'empty'}, t('dash_no_findings'))); return; }
    const order = {critical: 0, warning: 1, info: 2};
    const sorted = [...list].sort((a, b) => (order[a.severity] ?? 3) - (order[b.severity] ?? 3) || a.id.localeCompare(b.id));
    ul.replaceChildren(...sorted.map((f) => {
      const li = el('li', {class: `finding-${f.severity}`}, findingBlock(f, false));
      const ev = Object.entries(f.evidence || {});
      if (ev.length) li.title = ev.map(([k, v]) => `${k}: ${v}`).join('\n');
      return li;
    }));
  }
  function renderTimeline(events) {
    const box = $('timeline');
    const to = Date.now(), from = to - 3600 * 1000;
    if (!events || events.length === 0) { box.replaceChildren(el('p', {class: 'empty'}, t('dash_timeline_empty'))); return; }
    const byKey = new Map();
    for (const e of events) { if (!byKey.has(e.key)) byKey.set(e.key, []); byKey.get(e.key).push(e); }
    const pct = (t) => Math.min(100, Math.max(0, 100 * (t - from) / (to - from)));
    const rows = [...byKey.entries()].map(([key, evs]) => {
      const e0 = evs[0];
      const track = el('div', {class: 'track'});
      for (const e of evs) {
        const end = e.open ? to : e.last_seen_ms;
        const bar = el('span', {class: `st-${e.severity === 'critical' ? 'fail' : e.severity === 'warning' ? 'warn' : 'ok'}${e.open ? ' open' : ''}`,
          title: `${e.summary}\n${clock(e.first_seen_ms)} – ${e.open ? t('dash_now_open') : clock(e.last_seen_ms)}` +
            Object.entries(e.evidence || {}).map(([k, v]) => `\n${k}: ${v}`).join('')});
        bar.style.left = `${pct(e.first_seen_ms)}%`;
        bar.style.width = `${Math.max(0, pct(end) - pct(e.first_seen_ms))}%`;
        track.append(bar);
      }
      return el('div', {class: 'row'},
        el('div', {class: 'name', title: `${key}: ${e0.summary}`}, el('span', {class: `sev sev-${e0.severity}`}, e0.id), e0.summary), track);
    });
    const axis = el('div', {class: 'axis'}, el('div'), el('div', {}, el('span', {}, clock(from)), el('span', {}, clock(from + 1800 * 1000)), el('span', {}, t('dash_now'))));
    box.replaceChildren(...rows, axis);
  }
  async function loadFindings() {
    try {
      const f = await getJSON(withLang('api/v1/findings'));
      if (!cs.latest.full) renderFindings(f.current);
      renderTimeline(f.events);
      setError('findings', null);
    } catch (e) {
      setError('findings', t('dash_error', {what: 'findings', error: e.message}));
    }
  }

  // ---- probes ----
  function stageRows(last) {
    const stages = last.stages || [];
    const max = Math.max(1, ...stages.map((s) => s.duration_ms || 0));
    return el('div', {class: 'stages'}, ...stages.map((s) => {
      const bar = el('span', {class: `st-${s.status}`});
      bar.style.width = `${s.status === 'skipped' ? 0 : 100 * (s.duration_ms || 0) / max}%`;
      const status = s.status === 'skipped' ? t('dash_skipped') : t(`dash_verdict_${s.status}`);
      return el('div', {class: 'stage', title: `${s.stage}: ${status}, ${fmtMs(s.duration_ms)}`},
        el('span', {class: 'name'}, s.stage), el('span', {class: 'bar'}, bar),
        el('span', {class: 'ms'}, s.status === 'skipped' ? t('dash_skipped') : fmtMs(s.duration_ms)));
    }));
  }
  function renderProbes() {
    const tbody = $('probes').tBodies[0];
    const list = [...cs.probes.values()].sort((a, b) => (a.source === b.source ? 0 : a.source === 'config' ? -1 : 1) || a.target.localeCompare(b.target));
    if (list.length === 0) { tbody.replaceChildren(el('tr', {class: 'empty'}, el('td', {colspan: '5'}, t('dash_no_probes')))); return; }
    tbody.replaceChildren(...list.map((p) => {
      const last = p.last;
      const verdict = last ? last.verdict : 'none';
      const findings = last && last.findings && last.findings.length
        ? el('div', {}, ...last.findings.map((f) => findingBlock(f, true)))
        : el('span', {class: 'muted'}, last ? (last.ok ? t('dash_no_finding') : '') : t('dash_not_run'));
      return el('tr', {'data-target': p.target},
        el('td', {class: 'target'}, p.target, el('span', {class: 'source'},
          t(p.source === 'listener' ? 'dash_probe_listener' : 'dash_probe_config', {interval: fmtMs(p.interval_ms)}))),
        el('td', {}, el('span', {class: `verdict verdict-${verdict}`}, last ? t(`dash_verdict_${verdict}`) : t('dash_pending')),
          last ? el('div', {class: 'muted'}, `${last.stage} · ${fmtMs(last.duration_ms)}`) : null),
        el('td', {class: 'mono'}, t('dash_probe_runs', {runs: fmtInt(p.runs)}), el('br'), t('dash_probe_failed', {failed: fmtInt(p.failures)}),
          last ? el('div', {class: 'muted'}, fmtAgo(last.time_ms)) : null),
        el('td', {}, last ? stageRows(last) : ''),
        el('td', {}, findings));
    }));
  }
  async function loadProbes() {
    try {
      const r = await getJSON(withLang('api/v1/probes'));
      cs.probes.clear();
      for (const p of r.probes || []) cs.probes.set(p.target, p);
      renderProbes();
      setError('probes', null);
    } catch (e) {
      setError('probes', t('dash_error', {what: 'probes', error: e.message}));
    }
  }

  // ---- live ----
  let lastFastAt = 0;
  function onFast(fast) {
    cs.counts.fast++;
    lastFastAt = Date.now();
    if (cs.status !== 'live') setStatus('live');
    cs.latest.fast = fast;
    addFast(fast);
    renderHeader();
  }
  function onFull(full) {
    cs.counts.full++;
    cs.latest.full = full;
    addFull(full);
    renderHeader();
    renderFindings(full.findings);
  }
  function onProbe(p) {
    cs.counts.probe++;
    cs.probes.set(p.target, p);
    renderProbes();
  }
  function parse(handler) {
    return (ev) => {
      let v;
      try { v = JSON.parse(ev.data); } catch (e) { setError('events', t('dash_error_bad_json', {type: ev.type})); return; }
      handler(v);
    };
  }
  let source = null;
  function connect() {
    if (source) source.close();
    setStatus(cs.status === 'connecting' ? 'connecting' : 'reconnecting');
    source = new EventSource(withLang('api/v1/events'));
    source.addEventListener('open', () => { setError('events', null); });
    source.addEventListener('fast', parse(onFast));
    source.addEventListener('full', parse(onFull));
    source.addEventListener('probe', parse(onProbe));
    source.addEventListener('error', () => {
      if (source.readyState === EventSource.CLOSED) {
        // The server answered with an error (not a dropped stream): EventSource gives up, we don't.
        setStatus('offline');
        setError('events', t('dash_error_refused'));
        setTimeout(connect, 5000);
      } else {
        setStatus('reconnecting');
      }
    });
  }
  setInterval(() => {
    if (cs.status === 'live' && Date.now() - lastFastAt > STALE_MS) setStatus('stale');
  }, 1000);

  // The language switch: the choice is kept in this browser and asked for with ?lang=.
  function renderLanguages() {
    const select = $('lang');
    if (!select || !texts.languages.length) return;
    select.replaceChildren(...texts.languages.map((l) => el('option', {value: l.code}, l.name)));
    select.value = texts.lang;
    select.addEventListener('change', () => {
      localStorage.setItem(LANG_KEY, select.value);
      const q = new URLSearchParams(location.search);
      q.set('lang', select.value);
      location.search = q.toString();
    });
  }

  async function start() {
    $('host').textContent = location.host;
    renderLanguages();
    try {
      const snap = await getJSON(withLang('api/v1/snapshot'));
      if (snap.fast) {
        cs.latest.fast = snap.fast;
        for (const l of snap.fast.listeners || []) listenerFill.set(l.local, fill(l.accept_queue, l.accept_queue_limit) ?? 0);
      }
      if (snap.full) { cs.latest.full = snap.full; renderFindings(snap.full.findings); }
      renderHeader();
      renderSampler(snap.sampler);
      setError('fast', snap.fast_error ? t('dash_error_fast', {error: snap.fast_error}) : null);
      setError('full', snap.full_error ? t('dash_error_full', {error: snap.full_error}) : null);
    } catch (e) {
      setError('snapshot', t('dash_error', {what: 'snapshot', error: e.message}));
    }
    try {
      await loadHistory();
      setError('history', null);
    } catch (e) {
      setError('history', t('dash_error', {what: 'history', error: e.message}));
    }
    // The snapshot's samples go in after the history, which may already hold them (same time: merged).
    if (cs.latest.full) addFull(cs.latest.full);
    if (cs.latest.fast) addFast(cs.latest.fast);
    connect();
    loadProbes();
    loadFindings();
    setInterval(loadFindings, 15000);
    setInterval(renderProbes, 10000);  // "n s ago"
  }
  start();
})();
