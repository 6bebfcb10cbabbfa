// Browser driver for the coldint web app test (internal/e2e/web_test.go).
// It launches Debian's chromium headless through playwright-core (never a
// downloaded browser), walks the leaderboard, a model page and the
// playground, saves screenshots and prints one JSON result on stdout.
//
// Environment: WEBTEST_URL (server base URL), WEBTEST_OUT (screenshot
// folder), WEBTEST_PROFILE (fresh user data dir), WEBTEST_NODE_MODULES
// (folder holding playwright-core), WEBTEST_COMPETITION, WEBTEST_PROMPT,
// WEBTEST_CHROMIUM (default /usr/bin/chromium).
'use strict';
const path = require('path');

const env = (k, d) => process.env[k] || d;
const base = env('WEBTEST_URL');
const out = env('WEBTEST_OUT');
const profile = env('WEBTEST_PROFILE');
const { chromium } = require(path.join(env('WEBTEST_NODE_MODULES'), 'playwright-core'));
const comp = env('WEBTEST_COMPETITION', 'c00');
const prompt = env('WEBTEST_PROMPT', 'The hacker');

async function main() {
  const result = { console: [], pageErrors: [], screenshots: [] };
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: env('WEBTEST_CHROMIUM', '/usr/bin/chromium'),
    headless: true,
    viewport: { width: 1200, height: 900 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    timeout: 30000,
  });
  try {
    const page = ctx.pages()[0] || await ctx.newPage();
    page.setDefaultTimeout(30000);
    page.on('console', m => { if (m.type() === 'error') result.console.push(m.text()); });
    page.on('pageerror', e => result.pageErrors.push(String(e)));
    const shot = async name => {
      const p = path.join(out, name + '.png');
      await page.screenshot({ path: p, fullPage: true });
      result.screenshots.push(p);
    };

    // Competitions.
    await page.goto(base + '/');
    result.competitions = await page.$$eval('#competitions tbody a', as => as.map(a => a.textContent.trim()));
    await shot('01-competitions');

    // Leaderboard: reached by clicking, as a user would.
    await page.click(`#competitions a[href="/competitions/${comp}"]`);
    await page.waitForSelector('#leaderboard');
    result.title = await page.title();
    result.rows = await page.$$eval('#leaderboard tr.row', trs => trs.map(tr => {
      const td = [...tr.querySelectorAll('td')].map(c => c.textContent.trim());
      return { uid: Number(tr.dataset.uid), rank: Number(td[0]), hotkey: tr.querySelector('td[title]').title,
        model: td[3], commit: td[4], block: Number(td[5]), loss: td[6], winRate: td[7], weight: td[8],
        link: tr.querySelector('td a').getAttribute('href') };
    }));
    result.charts = await page.$$eval('svg.chart polyline', ps => ps.length);
    await shot('02-leaderboard');

    // The top model's page.
    await page.click('#leaderboard tr.row td a');
    await page.waitForSelector('#model-info');
    result.modelURL = page.url().slice(base.length);
    result.hashState = (await page.textContent('#hash-state')).trim();
    result.geometry = await page.$$eval('#geometry tr', trs => Object.fromEntries(trs.map(tr =>
      [tr.querySelector('th').textContent.trim(), tr.querySelector('td').textContent.trim()])));
    await shot('03-model');

    // Playground from the model page link.
    await page.click('a[href^="/playground?model="]');
    await page.waitForSelector('#gen');
    result.playgroundModel = await page.$eval('#model', s => s.value);
    await page.fill('#prompt', prompt);
    await page.fill('input[name=max_tokens]', '24');
    await page.click('#run');
    await page.waitForFunction(() => /^(done|error)/.test(document.getElementById('status').textContent), null, { timeout: 60000 });
    result.status = (await page.textContent('#status')).trim();
    result.generated = await page.textContent('#generated');
    result.output = await page.textContent('#output');
    await shot('04-playground');
  } finally {
    await ctx.close();
  }
  process.stdout.write(JSON.stringify(result) + '\n');
}

main().catch(e => { console.error(String(e && e.stack || e)); process.exit(1); });
