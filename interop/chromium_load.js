#!/usr/bin/env node
// Loads a page in headless Chromium (Debian's /usr/bin/chromium, driven by
// playwright-core) and prints one JSON report: the navigation, every
// resource with its nextHopProtocol and initiatorType, 103 Early Hints seen
// through CDP, console errors, and whether the demo page's lazy script ran.
//
// Usage:
//   node interop/chromium_load.js --url https://127.0.0.1:4433/ \
//        --spki BASE64 [--quic host:port] [--timeout-ms 20000] [--screenshot out.png]
//        [--netlog netlog.json]
//
// With --quic, Chromium is forced onto HTTP/3 for that origin
// (--origin-to-force-quic-on); without it, it uses TCP (HTTP/2 or 1.1).
'use strict';

const path = require('path');
const fs = require('fs');
const os = require('os');
const { chromium } = require(path.join(__dirname, 'node_modules', 'playwright-core'));

function parseArgs(argv) {
  const out = { timeoutMs: 20000 };
  for (let i = 2; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--url') out.url = next();
    else if (a === '--spki') out.spki = next();
    else if (a === '--quic') out.quic = next();
    else if (a === '--timeout-ms') out.timeoutMs = Number(next());
    else if (a === '--screenshot') out.screenshot = next();
    else if (a === '--netlog') out.netlog = next();
    else throw new Error(`unknown argument ${a}`);
  }
  if (!out.url) throw new Error('--url is required');
  return out;
}

async function main() {
  const args = parseArgs(process.argv);
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushlab-chromium-'));
  const flags = [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--no-first-run',
    '--disable-dev-shm-usage',
  ];
  if (args.spki) flags.push(`--ignore-certificate-errors-spki-list=${args.spki}`);
  if (args.netlog) flags.push(`--log-net-log=${args.netlog}`, '--net-log-capture-mode=Everything');
  if (args.quic) {
    flags.push('--enable-quic', `--origin-to-force-quic-on=${args.quic}`);
  } else {
    flags.push('--disable-quic');
  }
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: flags,
  });
  const report = { url: args.url, quic: args.quic || null, earlyHints: [], responses: [], console: [], failed: [] };
  try {
    const page = context.pages()[0] || (await context.newPage());
    const cdp = await context.newCDPSession(page);
    await cdp.send('Network.enable');
    cdp.on('Network.responseReceivedEarlyHints', (e) => {
      report.earlyHints.push({ requestId: e.requestId, headers: e.headers });
    });
    cdp.on('Network.responseReceived', (e) => {
      report.responses.push({
        url: e.response.url,
        status: e.response.status,
        protocol: e.response.protocol,
        fromEarlyHints: e.response.fromEarlyHints || false,
      });
    });
    page.on('console', (m) => {
      if (m.type() === 'error') report.console.push(m.text());
    });
    page.on('requestfailed', (r) => report.failed.push({ url: r.url(), error: r.failure() && r.failure().errorText }));
    const started = Date.now();
    await page.goto(args.url, { waitUntil: 'load', timeout: args.timeoutMs });
    await page
      .waitForFunction(() => !document.getElementById('status') || (window.pushlab && window.pushlab.ready), null, {
        timeout: Math.max(1000, args.timeoutMs - (Date.now() - started)),
      })
      .catch(() => {});
    const perf = await page.evaluate(() => {
      const nav = performance.getEntriesByType('navigation')[0];
      const res = performance.getEntriesByType('resource').map((r) => ({
        name: r.name,
        nextHopProtocol: r.nextHopProtocol,
        initiatorType: r.initiatorType,
        startTime: r.startTime,
        responseStart: r.responseStart,
        responseEnd: r.responseEnd,
        transferSize: r.transferSize,
      }));
      return {
        navigation: nav && {
          name: nav.name,
          nextHopProtocol: nav.nextHopProtocol,
          responseStart: nav.responseStart,
          finalResponseHeadersStart: nav.finalResponseHeadersStart,
          responseEnd: nav.responseEnd,
          loadEventEnd: nav.loadEventEnd,
        },
        resources: res,
        lazyReady: !!(window.pushlab && window.pushlab.ready),
        status: document.getElementById('status') ? document.getElementById('status').textContent : null,
      };
    });
    Object.assign(report, perf);
    if (args.screenshot) await page.screenshot({ path: args.screenshot, fullPage: false });
    report.ok = true;
  } catch (e) {
    report.ok = false;
    report.error = String(e && e.message ? e.message : e);
  } finally {
    await context.close();
    fs.rmSync(userDataDir, { recursive: true, force: true });
  }
  process.stdout.write(JSON.stringify(report, null, 2) + '\n');
  process.exit(report.ok ? 0 : 1);
}

main().catch((e) => {
  process.stderr.write(`chromium_load: ${e.stack || e}\n`);
  process.exit(2);
});
