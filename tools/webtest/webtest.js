// Browser driver for the coldint web app test (internal/e2e/web_test.go).
// It launches Debian's chromium headless through playwright-core (never a
// downloaded browser), walks the leaderboard, a model page and the
// playground, saves screenshots and prints one JSON result on stdout (also
// written to $WEBTEST_OUT/result.json). It also reads the index's ranking
// of each competition, opens the page of each rejected model, and reads
// every chart's y axis (tick labels and the data range it states).
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
const fs = require('fs');

// charts reads every line chart of the page: its title, the data range it
// states (data-min, data-max, caption) and its y tick labels, bottom to top.
const charts = page => page.$$eval('svg.chart', svgs => svgs.filter(s => s.querySelector('.range')).map(s => {
  const r = s.querySelector('.range');
  const ticks = [...s.querySelectorAll('text.ytick')].map(t => ({ y: Number(t.getAttribute('y')), label: t.textContent.trim() }));
  ticks.sort((a, b) => b.y - a.y);
  return { title: s.querySelector('.title').textContent.trim(), caption: r.textContent.trim(),
    min: Number(r.dataset.min), max: Number(r.dataset.max), yticks: ticks.map(t => t.label),
    points: [...s.querySelectorAll('circle')].map(c => Number(c.getAttribute('cy'))) };
}));

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
    result.competitions = await page.$$eval('#competitions section.competition', ss => ss.map(s => s.dataset.competition));
    // The ranking of each competition, as the index shows it.
    result.ranking = await page.$$eval('#competitions section.competition', ss => ss.map(s => ({
      competition: s.dataset.competition,
      rows: [...s.querySelectorAll('table.ranking tr.row')].map(tr => {
        const td = [...tr.querySelectorAll('td')].map(c => c.textContent.trim());
        return { uid: Number(tr.dataset.uid), rank: Number(td[0]), name: td[1], model: td[3], loss: td[4], winRate: td[5], weight: td[6],
          link: tr.querySelector('td a').getAttribute('href') };
      }),
      rejected: [...s.querySelectorAll('ul.rejected li')].map(li => ({ uid: Number(li.dataset.uid),
        name: li.querySelector('a').textContent.trim(), link: li.querySelector('a').getAttribute('href'),
        reason: li.querySelector('.reason').textContent.trim() })),
    })));
    result.scoringPanel = await page.$eval('#how-scoring', d => d.textContent.trim()).catch(() => '');
    await shot('01-competitions');

    // Each rejected model's page, reached by its link: it must say why.
    result.rejectedPages = [];
    for (const sec of result.ranking) {
      for (const rj of sec.rejected) {
        const resp = await page.goto(base + rj.link);
        result.rejectedPages.push({ uid: rj.uid, status: resp.status(),
          reason: await page.$eval('#rejected-reason .reason', e => e.textContent.trim()).catch(() => '') });
      }
    }
    await page.goto(base + '/');

    // Leaderboard: reached by clicking, as a user would.
    await page.click(`#competitions a[href="/competitions/${comp}"]`);
    await page.waitForSelector('#leaderboard');
    result.title = await page.title();
    result.rows = await page.$$eval('#leaderboard tr.row', trs => trs.map(tr => {
      const td = [...tr.querySelectorAll('td')].map(c => c.textContent.trim());
      return { uid: Number(tr.dataset.uid), rank: Number(td[0]), hotkey: tr.querySelector('td[title]').title,
        name: td[1], model: td[4], commit: td[5], block: Number(tr.querySelector('td.block').dataset.block), blockText: td[6],
        loss: td[7], winRate: td[8], weight: td[9],
        link: tr.querySelector('td a').getAttribute('href') };
    }));
    result.charts = await page.$$eval('svg.chart polyline', ps => ps.length);
    result.leaderboardCharts = await charts(page);
    await shot('02-leaderboard');

    // The top model's page.
    await page.click('#leaderboard tr.row td a');
    await page.waitForSelector('#model-info');
    result.modelURL = page.url().slice(base.length);
    result.hashState = (await page.textContent('#hash-state')).trim();
    result.geometry = await page.$$eval('#geometry tr', trs => Object.fromEntries(trs.map(tr =>
      [tr.querySelector('th').textContent.trim(), tr.querySelector('td').textContent.trim()])));
    result.modelCharts = await charts(page);
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
  fs.writeFileSync(path.join(out, 'result.json'), JSON.stringify(result, null, 1));
  process.stdout.write(JSON.stringify(result) + '\n');
}

main().catch(e => { console.error(String(e && e.stack || e)); process.exit(1); });
