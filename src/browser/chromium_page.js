#!/usr/bin/env node
// One measured page load in headless Chromium, for `pushlab compare
// --browser chromium` (embedded in the pushlab binary by
// src/browser/chromium.rs, which runs it with NODE_PATH pointing at
// playwright-core). Prints one JSON object on stdout.
//
// Each load gets a fresh profile directory. A warm-cache load (--visits 2)
// first visits the page, closes the browser (so no connection survives),
// starts it again on the same profile (its HTTP cache kept) and measures the
// second visit, as the emulated browser's warm visits do.
//
// What it reports, for the measured visit, from the page's own Navigation
// and Resource Timing (times in ms since the navigation's time origin):
// every resource's fetchStart/requestStart/responseStart/responseEnd, sizes,
// status, protocol and initiator; FCP (paint timing); LCP (the last
// largest-contentful-paint entry); the load event. The Rust side turns this
// into the same record the emulated browser writes.
//
// Args: --url URL --spki BASE64 [--quic host:port] [--visits 1|2]
//       [--timeout-ms N] [--trace] [--netlog PATH]
// --netlog writes the measured visit's net log (Chromium's
// --log-net-log) to PATH: when the browser process's 103 preloads crossed
// the network, which Resource Timing does not show.
// --trace also records a DevTools timeline trace and reports, per script,
// the main-thread time of its compile and evaluation and when it ended, and
// the first rendering update (for calibrating the emulated browser's CPU
// model).
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');
const { chromium } = require('playwright-core');

function parseArgs(argv) {
  const out = { visits: 1, timeoutMs: 120000, trace: false, chromium: '/usr/bin/chromium' };
  for (let i = 2; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--url') out.url = next();
    else if (a === '--spki') out.spki = next();
    else if (a === '--quic') out.quic = next();
    else if (a === '--visits') out.visits = Number(next());
    else if (a === '--timeout-ms') out.timeoutMs = Number(next());
    else if (a === '--chromium') out.chromium = next();
    else if (a === '--trace') out.trace = true;
    else if (a === '--netlog') out.netlog = next();
    else throw new Error(`unknown argument ${a}`);
  }
  if (!out.url) throw new Error('--url is required');
  if (!(out.visits === 1 || out.visits === 2)) throw new Error('--visits is 1 or 2');
  return out;
}

function flags(args) {
  const f = [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--disable-default-apps',
    '--disable-extensions',
    '--no-first-run',
    '--no-default-browser-check',
    '--disable-dev-shm-usage',
    '--disable-features=Translate,OptimizationHints,MediaRouter',
    // A fixed viewport, so that "above the fold" means the same every run.
    '--window-size=1280,800',
  ];
  if (args.spki) f.push(`--ignore-certificate-errors-spki-list=${args.spki}`);
  if (args.quic) f.push('--enable-quic', `--origin-to-force-quic-on=${args.quic}`);
  else f.push('--disable-quic');
  return f;
}

// Runs in the page once it has loaded: everything the record needs.
function collect() {
  const nav = performance.getEntriesByType('navigation')[0];
  const pick = (e) => ({
    name: e.name,
    initiatorType: e.initiatorType,
    nextHopProtocol: e.nextHopProtocol,
    startTime: e.startTime,
    fetchStart: e.fetchStart,
    connectStart: e.connectStart,
    connectEnd: e.connectEnd,
    requestStart: e.requestStart,
    responseStart: e.responseStart,
    responseEnd: e.responseEnd,
    transferSize: e.transferSize,
    encodedBodySize: e.encodedBodySize,
    decodedBodySize: e.decodedBodySize,
    responseStatus: e.responseStatus,
    renderBlockingStatus: e.renderBlockingStatus,
    finalResponseHeadersStart: e.finalResponseHeadersStart,
    firstInterimResponseStart: e.firstInterimResponseStart,
  });
  const n = nav ? pick(nav) : null;
  if (n) {
    Object.assign(n, {
      domInteractive: nav.domInteractive,
      domContentLoadedEventEnd: nav.domContentLoadedEventEnd,
      domComplete: nav.domComplete,
      loadEventStart: nav.loadEventStart,
      loadEventEnd: nav.loadEventEnd,
    });
  }
  const fcp = performance.getEntriesByType('paint').find((p) => p.name === 'first-contentful-paint');
  const fp = performance.getEntriesByType('paint').find((p) => p.name === 'first-paint');
  return {
    timeOrigin: performance.timeOrigin,
    navigation: n,
    resources: performance.getEntriesByType('resource').map(pick),
    fcp: fcp ? fcp.startTime : null,
    firstPaint: fp ? fp.startTime : null,
    lcp: window.__pushlabLcp === undefined ? null : window.__pushlabLcp,
  };
}

// Installed before the page's own scripts: records the last LCP candidate.
const LCP_OBSERVER = `
  window.__pushlabLcp = undefined;
  try {
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) window.__pushlabLcp = e.startTime;
    }).observe({ type: 'largest-contentful-paint', buffered: true });
  } catch (e) {}
`;

async function readStream(cdp, handle) {
  let text = '';
  for (;;) {
    const r = await cdp.send('IO.read', { handle });
    text += r.base64Encoded ? Buffer.from(r.data, 'base64').toString('utf8') : r.data;
    if (r.eof) break;
  }
  await cdp.send('IO.close', { handle });
  return text;
}

// What the calibration reads off a DevTools timeline trace (times in ms
// since the navigation's time origin, like Resource Timing's):
// - per script URL, its main-thread time: compile (v8.compile /
//   v8.compileModule) plus evaluation (EvaluateScript), and when its last
//   evaluation ended (`end_ms`);
// - the first rendering update: the first main-thread task, after the
//   parser first read the document, that lays out and paints (`render`:
//   its start and duration);
// - per subresource URL, the main-thread time of handing its response to
//   the page (`deliveries`): the main-thread tasks that hold its
//   ResourceReceiveResponse, ResourceReceivedData or ResourceFinish event
//   and no parsing, layout, paint or script run, each task's time split
//   evenly among the resources it handled.
// Trace timestamps are on another clock: they are put on the time origin
// through the resources, each request's ResourceSendRequest event against
// its Resource Timing fetchStart (the median of the differences).
function traceFacts(trace, resources, pageUrl) {
  const events = JSON.parse(trace).traceEvents || [];
  const fetchStart = new Map(resources.map((r) => [r.name, r.fetchStart]));
  const diffs = [];
  for (const e of events) {
    if (e.name !== 'ResourceSendRequest' || !e.args || !e.args.data) continue;
    const fs = fetchStart.get(e.args.data.url);
    if (fs !== undefined) diffs.push(e.ts / 1000 - fs);
  }
  diffs.sort((a, b) => a - b);
  const offset = diffs.length ? diffs[Math.floor(diffs.length / 2)] : null;
  const at = (us) => (offset === null ? null : us / 1000 - offset);
  const per = new Map();
  for (const e of events) {
    if (e.ph !== 'X' || typeof e.dur !== 'number') continue;
    let url = null;
    if (e.name === 'EvaluateScript' && e.args && e.args.data) url = e.args.data.url;
    else if ((e.name === 'v8.compile' || e.name === 'v8.compileModule') && e.args && e.args.data) url = e.args.data.url;
    if (!url) continue;
    const s = per.get(url) || { url, evaluate_ms: 0, compile_ms: 0, end_ms: null };
    if (e.name === 'EvaluateScript') {
      s.evaluate_ms += e.dur / 1000;
      const end = at(e.ts + e.dur);
      if (end !== null && (s.end_ms === null || end > s.end_ms)) s.end_ms = end;
    } else s.compile_ms += e.dur / 1000;
    per.set(url, s);
  }
  // The page's main thread: where the parser read the document.
  const parse = events.find(
    (e) => e.name === 'ParseHTML' && e.args && e.args.beginData && e.args.beginData.url === pageUrl,
  );
  let render = null;
  let fontRender = null;
  if (parse && offset !== null) {
    const mine = events.filter((e) => e.pid === parse.pid && e.tid === parse.tid && typeof e.ts === 'number');
    const tasks = mine
      .filter((e) => e.name === 'RunTask' && e.ph === 'X' && e.ts >= parse.ts)
      .sort((a, b) => a.ts - b.ts);
    const within = (t, name) => mine.some((e) => e.name === name && e.ts >= t.ts && e.ts <= t.ts + t.dur);
    const first = tasks.find((t) => within(t, 'Layout') && within(t, 'Paint'));
    if (first) render = { start_ms: at(first.ts), dur_ms: first.dur / 1000 };
    // A web font that arrives after the first rendering update starts
    // (font-display: swap) makes the text laid out again: the first task
    // after the font's finish that lays out.
    if (first) {
      const fonts = new Set(
        events
          .filter((e) => e.name === 'ResourceSendRequest' && e.args && e.args.data && e.args.data.resourceType === 'Font')
          .map((e) => e.args.data.requestId),
      );
      const done = events
        .filter((e) => e.name === 'ResourceFinish' && e.args && e.args.data && fonts.has(e.args.data.requestId))
        .map((e) => e.ts)
        .filter((ts) => ts >= first.ts)
        .sort((a, b) => a - b)[0];
      const update = done === undefined ? undefined : tasks.find((t) => t.ts >= done && within(t, 'Layout'));
      if (update) fontRender = { start_ms: at(update.ts), dur_ms: update.dur / 1000 };
    }
  }
  return { scripts: [...per.values()], render, fontRender, deliveries: deliveryTimes(events, parse, pageUrl) };
}

// See traceFacts: per subresource URL, the main-thread time of tasks that
// only handed its response over.
function deliveryTimes(events, parse, pageUrl) {
  if (!parse) return [];
  const urls = new Map();
  for (const e of events) {
    if (e.name === 'ResourceSendRequest' && e.args && e.args.data) urls.set(e.args.data.requestId, e.args.data.url);
  }
  const HANDOVER = new Set(['ResourceReceiveResponse', 'ResourceReceivedData', 'ResourceFinish']);
  const OTHER = new Set(['ParseHTML', 'Layout', 'UpdateLayoutTree', 'Paint', 'EvaluateScript', 'v8.compile', 'v8.compileModule', 'EventDispatch', 'FunctionCall', 'TimerFire', 'FireAnimationFrame']);
  const mine = events
    .filter((e) => e.pid === parse.pid && e.tid === parse.tid && typeof e.ts === 'number')
    .sort((a, b) => a.ts - b.ts);
  const total = new Map();
  let k = 0;
  for (const t of mine) {
    if (t.name !== 'RunTask' || t.ph !== 'X' || typeof t.dur !== 'number') continue;
    while (k < mine.length && mine[k].ts < t.ts) k++;
    const handled = new Set();
    let other = 0;
    for (let j = k; j < mine.length && mine[j].ts <= t.ts + t.dur; j++) {
      const e = mine[j];
      if (HANDOVER.has(e.name) && e.args && e.args.data) {
        const url = urls.get(e.args.data.requestId);
        if (url && url !== pageUrl) handled.add(url);
      } else if (OTHER.has(e.name)) other += e.dur || 0;
    }
    // Tasks that also parsed, laid out or ran a script are left out
    // (those costs have their own constants).
    if (handled.size === 0 || other >= 300) continue;
    for (const url of handled) total.set(url, (total.get(url) || 0) + t.dur / 1000 / handled.size);
  }
  return [...total].map(([url, ms]) => ({ url, ms }));
}

async function visit(args, userDataDir, measured) {
  const f = flags(args);
  if (measured && args.netlog) f.push(`--log-net-log=${args.netlog}`, '--net-log-capture-mode=Default');
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: args.chromium,
    headless: true,
    args: f,
    viewport: { width: 1280, height: 800 },
  });
  try {
    const page = context.pages()[0] || (await context.newPage());
    await page.addInitScript(LCP_OBSERVER);
    const cdp = await context.newCDPSession(page);
    // Per request: the priority Chromium gave it (and changes), and the
    // `priority` header it sent (from the headers the network stack added).
    const requests = new Map();
    const byId = new Map();
    await cdp.send('Network.enable');
    cdp.on('Network.requestWillBeSent', (e) => {
      const early = byId.get(e.requestId);
      const r = {
        url: e.request.url,
        initialPriority: e.request.initialPriority,
        priority: e.request.initialPriority,
        header: early && early.pending ? early.header : null,
      };
      byId.set(e.requestId, r);
      if (!requests.has(r.url)) requests.set(r.url, r);
    });
    cdp.on('Network.resourceChangedPriority', (e) => {
      const r = byId.get(e.requestId);
      if (r) r.priority = e.newPriority;
    });
    cdp.on('Network.requestWillBeSentExtraInfo', (e) => {
      const r = byId.get(e.requestId);
      const h = e.headers || {};
      const v = h.priority || h.Priority;
      if (r && v !== undefined) r.header = v;
      else if (!r && v !== undefined) byId.set(e.requestId, { header: v, pending: true });
    });
    if (measured && args.trace) {
      await cdp.send('Tracing.start', {
        categories: 'devtools.timeline,v8,disabled-by-default-devtools.timeline',
        transferMode: 'ReturnAsStream',
      });
    }
    const started = Date.now();
    await page.goto(args.url, { waitUntil: 'load', timeout: args.timeoutMs });
    // Resources a script loads after the load event are the page's too.
    await page
      .waitForLoadState('networkidle', { timeout: Math.max(1000, args.timeoutMs - (Date.now() - started)) })
      .catch(() => {});
    const out = await page.evaluate(collect);
    out.requests = [...requests.values()];
    if (measured && args.trace) {
      const done = new Promise((resolve) => cdp.once('Tracing.tracingComplete', resolve));
      await cdp.send('Tracing.end');
      const ev = await done;
      const facts = traceFacts(await readStream(cdp, ev.stream), out.resources, out.navigation ? out.navigation.name : args.url);
      out.scripts = facts.scripts;
      out.render = facts.render;
      out.fontRender = facts.fontRender;
      out.deliveries = facts.deliveries;
    }
    return out;
  } finally {
    await context.close();
  }
}

async function main() {
  const args = parseArgs(process.argv);
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushlab-chromium-'));
  const report = { url: args.url, quic: args.quic || null, visits: args.visits };
  try {
    if (args.visits === 2) await visit(args, userDataDir, false);
    Object.assign(report, await visit(args, userDataDir, true));
    report.ok = true;
  } catch (e) {
    report.ok = false;
    report.error = String(e && e.message ? e.message : e);
  } finally {
    fs.rmSync(userDataDir, { recursive: true, force: true });
  }
  process.stdout.write(JSON.stringify(report) + '\n');
  process.exit(report.ok ? 0 : 1);
}

main().catch((e) => {
  process.stderr.write(`chromium_page: ${e.stack || e}\n`);
  process.exit(2);
});
