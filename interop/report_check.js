#!/usr/bin/env node
'use strict';
// Opens a pushlab compare report (index.html) in Debian's headless
// Chromium, through playwright-core, and prints what it found as JSON:
// console errors and page errors, the number of inline SVG plots, table
// rows, waterfall sections, whether any SVG text is cut at the SVG's edge,
// and a full-page screenshot written to --screenshot.
//
// Usage: node report_check.js --file index.html --screenshot out.png

const path = require('path');
const { chromium } = require(path.join(__dirname, 'node_modules', 'playwright-core'));

function parseArgs(argv) {
  const out = {};
  for (let i = 2; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--file') out.file = next();
    else if (a === '--screenshot') out.screenshot = next();
    else throw new Error(`unknown argument ${a}`);
  }
  if (!out.file || !out.screenshot) throw new Error('--file and --screenshot are required');
  return out;
}

async function main() {
  const args = parseArgs(process.argv);
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
  });
  const page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
  const errors = [];
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') errors.push(`console ${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => errors.push(`page error: ${e.message}`));
  page.on('requestfailed', (r) => errors.push(`request failed: ${r.url()}`));
  const requests = [];
  page.on('request', (r) => requests.push(r.url()));
  await page.goto('file://' + path.resolve(args.file), { waitUntil: 'load' });
  // Open every waterfall section, so that the screenshot and the checks see them.
  await page.evaluate(() => document.querySelectorAll('details').forEach((d) => (d.open = true)));
  const found = await page.evaluate(() => {
    // Text drawn beyond its SVG's box (a cut label) shows as a text box
    // outside the SVG's own bounding box.
    let cut = [];
    for (const svg of document.querySelectorAll('svg')) {
      const box = svg.getBoundingClientRect();
      for (const t of svg.querySelectorAll('text')) {
        const r = t.getBoundingClientRect();
        if (r.width > 0 && (r.left < box.left - 1 || r.right > box.right + 1)) cut.push(t.textContent);
      }
    }
    return {
      title: document.title,
      svgs: document.querySelectorAll('svg').length,
      table_rows: document.querySelectorAll('table tbody tr').length,
      waterfall_sections: document.querySelectorAll('details').length,
      cut_text: cut,
      text: document.body.innerText.slice(0, 20000),
    };
  });
  await page.screenshot({ path: args.screenshot, fullPage: true });
  await browser.close();
  found.errors = errors;
  found.requests = requests;
  process.stdout.write(JSON.stringify(found));
}

main().catch((e) => {
  process.stdout.write(JSON.stringify({ fatal: String(e && e.stack ? e.stack : e) }));
  process.exit(1);
});
