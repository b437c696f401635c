// The dashboard in a real browser (ctest: browser.dashboard). playwright-core drives Debian's
// chromium, headless. Starts `connscope agent --no-bpf` on a loopback port with a probe of a closed
// loopback port and a full dump every second, then checks that:
//   - the page loads: its charts (the eBPF ones hidden), no console errors, no request to anything but the agent;
//   - the state chart's ESTABLISHED series rises by at least 500 within 10 s of this test opening
//     500 connections to a listener it owns (both ends are ESTABLISHED: +1000 expected);
//   - the failing probe's finding (its summary, as /api/v1/probes gives it) is shown;
// and saves a screenshot (--screenshot, and $CONNSCOPE_SCREENSHOT when set). Then, as root, the
// agent again with eBPF (its default; a full dump only every 10 minutes), and checks that:
//   - five charts (drops by reason, resets and retransmits beside the three), the sampling line
//     says BPF is on;
//   - the state chart moves every second: points 1 s apart, and ESTABLISHED rises by at least 400
//     within 4 s of this test opening 200 more connections (no full dump comes in that time);
// and saves its screenshot beside the first (NAME-bpf.png). Every step has a deadline; the whole
// run stops within 85 s and exits non-zero with the reason on any failure.
//
// node dashboard_test.mjs --connscope BIN --modules DIR/node_modules --screenshot FILE.png
import {spawn} from 'node:child_process';
import fs from 'node:fs';
import {createRequire} from 'node:module';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';

const TOTAL_DEADLINE_MS = 85_000;
const BPF_CONNECTIONS = 200;
const BPF_RISE_DEADLINE_MS = 4_000;
const CONNECTIONS = 500;
const RISE_DEADLINE_MS = 10_000;

function arg(name, fallback) {
  const i = process.argv.indexOf(name);
  if (i >= 0 && i + 1 < process.argv.length) return process.argv[i + 1];
  if (fallback !== undefined) return fallback;
  console.error(`dashboard_test: missing ${name}`);
  process.exit(2);
}
const connscope = arg('--connscope');
const modules = arg('--modules');
const screenshot = arg('--screenshot');
const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';

const log = (...a) => console.log('dashboard_test:', ...a);
class Failure extends Error {}
const check = (ok, message) => { if (!ok) throw new Failure(message); };

// ---- what must be cleaned up whatever happens ----
let agent = null, browser = null, page = null, server = null, tmp = null;
const sockets = [];
async function cleanup() {
  for (const s of sockets) s.destroy();
  if (browser) await browser.close().catch(() => {});
  if (server) server.close();
  if (agent && agent.exitCode === null && agent.signalCode === null) {
    agent.kill('SIGTERM');
    const exited = await Promise.race([
      new Promise((r) => agent.once('exit', () => r(true))),
      new Promise((r) => setTimeout(() => r(false), 5000)),
    ]);
    if (!exited) { log('the agent did not stop within 5 s of SIGTERM: SIGKILL'); agent.kill('SIGKILL'); }
  }
  if (tmp) fs.rmSync(tmp, {recursive: true, force: true});
}
const watchdog = setTimeout(async () => {
  console.error(`dashboard_test: FAILED: not done within ${TOTAL_DEADLINE_MS / 1000} s`);
  await Promise.race([cleanup(), new Promise((r) => setTimeout(r, 3000))]);
  process.exit(1);
}, TOTAL_DEADLINE_MS);

function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise((_, reject) => { timer = setTimeout(() => reject(new Failure(`${what}: no answer within ${ms} ms`)), ms); }),
  ]);
}

// A loopback port with nothing listening: bind one, note it, close it.
async function closedPort() {
  const s = net.createServer();
  await new Promise((r) => s.listen(0, '127.0.0.1', r));
  const {port} = s.address();
  await new Promise((r) => s.close(r));
  return port;
}

async function stopAgent() {
  if (!agent || agent.exitCode !== null || agent.signalCode !== null) return;
  agent.kill('SIGTERM');
  const exited = await Promise.race([
    new Promise((r) => agent.once('exit', () => r(true))),
    new Promise((r) => setTimeout(() => r(false), 5000)),
  ]);
  check(exited, 'the agent did not stop within 5 s of SIGTERM');
}

async function startAgent(config, args, dataDir) {
  const stderr = [];
  agent = spawn(connscope, ['agent', '--listen', '127.0.0.1:0', '--json', '--data-dir', path.join(tmp, dataDir),
    '--config', config, ...args], {stdio: ['ignore', 'pipe', 'pipe']});
  agent.stderr.on('data', (d) => stderr.push(d));
  const exited = new Promise((_, reject) => agent.once('exit', (code, sig) =>
    reject(new Failure(`the agent exited (${code ?? sig}) before listening: ${Buffer.concat(stderr).toString().trim()}`))));
  const lines = readline.createInterface({input: agent.stdout});
  const first = new Promise((resolve) => lines.once('line', resolve));
  const line = await withTimeout(Promise.race([first, exited]), 15_000, 'the agent\'s first line (--json)');
  let j;
  try { j = JSON.parse(line); } catch { throw new Failure(`the agent's first line is not JSON: ${line}`); }
  check(j.event === 'listening' && Number.isInteger(j.port), `the agent's first line has no port: ${line}`);
  agent.stdout.resume();
  return j.port;
}

async function getJSON(url) {
  const r = await withTimeout(fetch(url), 5000, `GET ${url}`);
  check(r.ok, `GET ${url}: HTTP ${r.status}`);
  return r.json();
}

// The latest point of the state chart's ESTABLISHED series, read from the uPlot instance the
// page exposes (web/app.js: window.connscope.charts.states).
function latestEstablished() {
  const u = window.connscope && window.connscope.charts && window.connscope.charts.states;
  if (!u) return null;
  const i = u.series.findIndex((s) => s.label === 'ESTABLISHED');
  if (i < 0) return null;
  const xs = u.data[0], ys = u.data[i];
  for (let k = ys.length - 1; k >= 0; k--) if (ys[k] !== null && ys[k] !== undefined) return {t: xs[k], v: ys[k]};
  return null;
}

// Opens n connections to our listener (kept open in `sockets`).
async function openConnections(n) {
  await withTimeout(Promise.all(Array.from({length: n}, () => new Promise((resolve, reject) => {
    const s = net.connect(server.address().port, '127.0.0.1');
    sockets.push(s);
    s.once('connect', resolve);
    s.once('error', reject);
  }))), 10_000, `opening ${n} connections`);
}

// The state chart's latest ESTABLISHED point once it is after t0 and at least want, as {t, v};
// a Failure saying `failure` (and the latest point) when that does not come within deadlineMs.
async function establishedRisesTo(t0, want, deadlineMs, polling, failure) {
  // (The page's CSP forbids eval, so the predicate repeats latestEstablished instead of calling it.)
  return page.waitForFunction(([after, wantV]) => {
    const u = window.connscope.charts.states;
    const i = u.series.findIndex((s) => s.label === 'ESTABLISHED');
    const xs = u.data[0], ys = u.data[i];
    for (let k = ys.length - 1; k >= 0; k--) {
      if (ys[k] !== null && ys[k] !== undefined) return xs[k] > after && ys[k] >= wantV ? {t: xs[k], v: ys[k]} : null;
    }
    return null;
  }, [t0, want], {timeout: deadlineMs, polling})
    .then((h) => h.jsonValue())
    .catch(async () => {
      const now = await page.evaluate(latestEstablished).catch(() => null);
      throw new Failure(`${failure} (now ${JSON.stringify(now)})`);
    });
}

async function main() {
  const require = createRequire(path.join(path.resolve(modules), 'noop.js'));
  const {chromium} = require('playwright-core');
  check(fs.existsSync(chromiumPath), `no chromium at ${chromiumPath} (scripts/install-deps installs Debian's chromium)`);

  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'connscope-browser-'));
  const refusedPort = await closedPort();
  const target = `127.0.0.1:${refusedPort}`;
  const config = path.join(tmp, 'agent.toml');
  // The own listeners are left out: the probes table then holds only the target this test knows.
  // No CPU budget for the full tier: a slow machine must not stretch its 1 s interval.
  fs.writeFileSync(config, [
    'probe_own_listeners = false',
    '[sampling]',
    'full_cpu_budget = 0',
    '[[probes]]',
    `target = "${target}"`,
    'interval = "1s"',
    'timeout = "1s"',
    '',
  ].join('\n'));
  const port = await startAgent(config, ['--full-interval', '1s', '--no-bpf'], 'data');
  const origin = `http://127.0.0.1:${port}`;
  log(`agent at ${origin}, probing ${target} (closed)`);

  // The listener whose connections the chart must show.
  server = net.createServer((s) => { sockets.push(s); s.on('error', () => {}); });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));

  const args = ['--disable-gpu', '--disable-dev-shm-usage', '--no-first-run', '--no-default-browser-check'];
  if (process.getuid && process.getuid() === 0) args.push('--no-sandbox');  // chromium refuses root otherwise
  browser = await withTimeout(chromium.launch({executablePath: chromiumPath, headless: true, args}), 20_000,
    `launching ${chromiumPath}`);
  page = await browser.newPage({viewport: {width: 1400, height: 1100}});
  const consoleErrors = [], outside = [];
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
  page.on('pageerror', (e) => consoleErrors.push(`uncaught: ${e.message}`));
  page.on('request', (r) => {
    const u = new URL(r.url());
    if (u.protocol === 'data:') return;
    if (u.origin !== origin) outside.push(r.url());
  });

  // 1. The page loads and goes live.
  const resp = await page.goto(`${origin}/`, {waitUntil: 'load', timeout: 10_000});
  check(resp && resp.status() === 200, `GET / answered ${resp && resp.status()}`);
  check(/text\/html/.test(resp.headers()['content-type'] || ''), `GET / is not HTML: ${resp.headers()['content-type']}`);
  // Five charts; without eBPF the drops and resets panels stay hidden.
  await page.waitForFunction(() => document.querySelectorAll('.uplot').length === 5 &&
    window.connscope && ['states', 'queues', 'rates'].every((k) => window.connscope.charts[k]), null, {timeout: 10_000})
    .catch(() => { throw new Failure('the charts did not appear within 10 s'); });
  await page.waitForFunction(() => window.connscope.status === 'live', null, {timeout: 10_000})
    .catch(async () => { throw new Failure(`the event stream did not go live within 10 s (status: ${await page.evaluate(() => window.connscope.status)})`); });
  log('page loaded, event stream live');
  check(await page.evaluate(() => document.getElementById('panel-drops').hidden && !window.connscope.kernel),
    'without eBPF the drops panel is shown');
  // The snapshot's sampler, as the header's line (the agent runs with --full-interval 1s and --no-bpf).
  const sampling = await page.textContent('#sampling');
  check(sampling === 'sampling: tiers (fast 1 s, full 1 s) — BPF off: turned off (--no-bpf, or [sampling] bpf = false)',
    `the sampling line says "${sampling}"`);

  // 2. A baseline from a full sample that came over the event stream.
  await page.waitForFunction(() => window.connscope.counts.full >= 1, null, {timeout: 10_000})
    .catch(() => { throw new Failure('no `full` event within 10 s (the agent runs with --full-interval 1s)'); });
  const base = await page.evaluate(latestEstablished);
  check(base !== null, 'the state chart has no ESTABLISHED value after a full event');
  log(`ESTABLISHED before: ${base.v} (at ${base.t})`);

  // 3. 500 connections to our listener; the chart's ESTABLISHED must rise by >= 500 within 10 s.
  const opened = Date.now();
  await openConnections(CONNECTIONS);
  const want = base.v + CONNECTIONS;
  const rose = await establishedRisesTo(base.t, want, RISE_DEADLINE_MS, 200,
    `ESTABLISHED did not rise to ${want} within ${RISE_DEADLINE_MS / 1000} s of opening ${CONNECTIONS} connections`);
  log(`ESTABLISHED after: ${rose.v} (+${rose.v - base.v}), ${Date.now() - opened} ms after the connections were opened`);

  // 4. The failing probe's finding: the API's summary is what the page must show.
  let probe = null;
  const until = Date.now() + 10_000;
  while (Date.now() < until) {
    const r = await getJSON(`${origin}/api/v1/probes`);
    probe = (r.probes || []).find((p) => p.target === target);
    if (probe && probe.last && probe.last.findings && probe.last.findings.length > 0) break;
    await new Promise((res) => setTimeout(res, 300));
  }
  check(probe, `/api/v1/probes has no probe of ${target}`);
  check(probe.last && probe.last.findings && probe.last.findings.length > 0,
    `the probe of ${target} (closed) has no finding within 10 s: ${JSON.stringify(probe.last)}`);
  check(probe.last.verdict === 'fail', `the probe of ${target} (closed) is not fail: ${probe.last.verdict}`);
  const f = probe.last.findings[0];
  check(f.id === 'tcp.refused', `the probe of a closed loopback port should find tcp.refused, found ${f.id}`);
  const row = page.locator(`#probes tr[data-target="${target}"]`);
  await row.getByText(f.summary, {exact: false}).first().waitFor({state: 'visible', timeout: 10_000})
    .catch(() => { throw new Failure(`the probe's finding "${f.summary}" is not shown in its row within 10 s`); });
  await row.getByText(f.cause.slice(0, 40), {exact: false}).first().waitFor({state: 'visible', timeout: 2000})
    .catch(() => { throw new Failure(`the probe's cause "${f.cause}" is not shown`); });
  log(`probe ${target}: "${f.summary}" (${f.id}) shown`);

  // 5. Nothing but the agent was asked for anything, and the page logged no error.
  check(outside.length === 0, `the page made requests outside the agent: ${outside.join(', ')}`);
  check(consoleErrors.length === 0, `the page logged errors: ${consoleErrors.join(' | ')}`);

  // 6. The picture.
  const png = await page.screenshot({fullPage: true});
  fs.mkdirSync(path.dirname(path.resolve(screenshot)), {recursive: true});
  fs.writeFileSync(screenshot, png);
  log(`screenshot: ${screenshot}`);
  if (process.env.CONNSCOPE_SCREENSHOT) {
    fs.writeFileSync(process.env.CONNSCOPE_SCREENSHOT, png);
    log(`screenshot: ${process.env.CONNSCOPE_SCREENSHOT}`);
  }

  // 7. Chinese: a browser that asks for zh-CN (Accept-Language) gets the page in Chinese, the
  // probe's words too; the switch takes it back to English and the choice stays.
  const zh = await browser.newContext({locale: 'zh-CN', viewport: {width: 1400, height: 1100}});
  const zhPage = await zh.newPage();
  const zhErrors = [];
  zhPage.on('console', (m) => { if (m.type() === 'error') zhErrors.push(m.text()); });
  zhPage.on('pageerror', (e) => zhErrors.push(`uncaught: ${e.message}`));
  await zhPage.goto(`${origin}/`, {waitUntil: 'load', timeout: 10_000});
  await zhPage.waitForFunction(() => window.connscope && window.connscope.status === 'live' &&
    document.querySelectorAll('#probes tr[data-target]').length > 0, null, {timeout: 10_000})
    .catch(() => { throw new Failure('in zh-CN the page did not go live with its probes within 10 s'); });
  const zhView = await zhPage.evaluate(() => ({
    lang: document.documentElement.lang,
    queues: document.querySelector('[data-t="dash_queues_title"]').textContent,
    status: document.getElementById('conn').textContent,
    verdict: document.querySelector('#probes .verdict').textContent,
    select: document.getElementById('lang').value,
  }));
  check(zhView.lang === 'zh-CN', `with Accept-Language zh-CN the page's lang is "${zhView.lang}"`);
  check(zhView.queues === '全连接队列', `in zh-CN the accept-queue panel is titled "${zhView.queues}"`);
  check(zhView.status === '实时', `in zh-CN the live status says "${zhView.status}"`);
  check(zhView.verdict === '失败', `in zh-CN the failing probe's verdict says "${zhView.verdict}"`);
  check(zhView.select === 'zh-CN', `in zh-CN the language switch shows "${zhView.select}"`);
  const zhShot = screenshot.replace(/\.png$/, '') + '-zh.png';
  await zhPage.screenshot({path: zhShot, fullPage: true});
  log(`screenshot: ${zhShot}`);
  await Promise.all([zhPage.waitForNavigation({waitUntil: 'load', timeout: 10_000}), zhPage.selectOption('#lang', 'en')]);
  await zhPage.waitForFunction(() => document.documentElement.lang === 'en', null, {timeout: 10_000})
    .catch(() => { throw new Failure('the switch to English did not take'); });
  const enTitle = await zhPage.textContent('[data-t="dash_queues_title"]');
  check(enTitle === 'Accept queues', `after the switch the accept-queue panel is titled "${enTitle}"`);
  check(await zhPage.evaluate(() => localStorage.getItem('connscope.lang')) === 'en', 'the switch did not keep the choice');
  check(zhErrors.length === 0, `in zh-CN the page logged errors: ${zhErrors.join(' | ')}`);
  await zh.close();
  log('zh-CN: the page, the probe verdict and the switch');

  if (process.getuid && process.getuid() === 0) {
    await withBpf(config);
  } else {
    log('not root: the eBPF part is not run');
  }
}

// The agent with eBPF: the state chart per second from the census.
async function withBpf(config) {
  await stopAgent();
  const port = await startAgent(config, [], 'data-bpf');
  const origin = `http://127.0.0.1:${port}`;
  const snap = await getJSON(`${origin}/api/v1/snapshot`);
  check(snap.sampler.kind === 'bpf', `as root the agent should sample with eBPF: ${JSON.stringify(snap.sampler)}`);
  const consoleErrors = [];
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
  await page.goto(`${origin}/`, {waitUntil: 'load', timeout: 10_000});
  await page.waitForFunction(() => document.querySelectorAll('.uplot').length === 5 && window.connscope.kernel &&
    ['drops', 'resets'].every((k) => window.connscope.charts[k]) && !document.getElementById('panel-drops').hidden,
  null, {timeout: 10_000})
    .catch(() => { throw new Failure('with eBPF the five charts did not appear within 10 s'); });
  await page.waitForFunction(() => window.connscope.status === 'live', null, {timeout: 10_000})
    .catch(() => { throw new Failure('with eBPF the event stream did not go live within 10 s'); });
  const sampling = await page.textContent('#sampling');
  check(sampling === 'sampling: bpf (fast 1 s, full 10 min) — BPF on: exact states every second',
    `with eBPF the sampling line says "${sampling}"`);
  await page.waitForFunction(() => window.connscope.counts.fast >= 2, null, {timeout: 5000})
    .catch(() => { throw new Failure('with eBPF no two fast events within 5 s'); });
  const base = await page.evaluate(latestEstablished);
  check(base !== null, 'with eBPF the state chart has no ESTABLISHED value');
  const fullsBefore = await page.evaluate(() => window.connscope.counts.full);
  log(`eBPF: ESTABLISHED before: ${base.v} (at ${base.t})`);

  const opened = Date.now();
  await openConnections(BPF_CONNECTIONS);
  const want = base.v + 2 * BPF_CONNECTIONS;
  const rose = await establishedRisesTo(base.t, want, BPF_RISE_DEADLINE_MS, 100,
    `with eBPF ESTABLISHED did not rise to ${want} within ${BPF_RISE_DEADLINE_MS / 1000} s of opening ${BPF_CONNECTIONS} connections`);
  log(`eBPF: ESTABLISHED after: ${rose.v} (+${rose.v - base.v}), ${Date.now() - opened} ms after the connections were opened`);
  const fullsAfter = await page.evaluate(() => window.connscope.counts.full);
  check(fullsAfter === fullsBefore, `a full sample came (${fullsBefore} -> ${fullsAfter}): the rise must be the census's`);
  // Every second: the points that came live (after the baseline) are about 1 s apart.
  await page.waitForFunction((t0) => window.connscope.charts.states.data[0].filter((x) => x > t0).length >= 4,
    base.t, {timeout: 5000, polling: 100})
    .catch(() => { throw new Failure('with eBPF the state chart did not get 4 points within 5 s'); });
  const steps = await page.evaluate((t0) => {
    const xs = window.connscope.charts.states.data[0].filter((x) => x > t0).slice(0, 4);
    return xs.map((x, i, a) => (i ? x - a[i - 1] : null)).slice(1);
  }, base.t);
  check(steps.length === 3 && steps.every((d) => d > 0.5 && d < 1.5), `the state chart's last points are not 1 s apart: ${steps}`);
  check(consoleErrors.length === 0, `with eBPF the page logged errors: ${consoleErrors.join(' | ')}`);
  const shot = screenshot.replace(/\.png$/, '') + '-bpf.png';
  await page.screenshot({path: shot, fullPage: true});
  log(`screenshot: ${shot}`);
}

let status = 0;
try {
  await main();
  log('passed');
} catch (e) {
  console.error(`dashboard_test: FAILED: ${e instanceof Failure ? e.message : (e && e.stack) || e}`);
  status = 1;
  if (page) {
    // What the page showed when it failed, beside the screenshot a pass saves.
    const failed = screenshot.replace(/\.png$/, '') + '-failed.png';
    await withTimeout(page.screenshot({path: failed, fullPage: true}), 5000, 'the failure screenshot')
      .then(() => console.error(`dashboard_test: the page at the failure: ${failed}`)).catch(() => {});
  }
}
await cleanup();
clearTimeout(watchdog);
process.exit(status);
