// console-browser.js - drives chatledger's web console in Debian's headless
// chromium (puppeteer-core, never a downloaded browser) for
// tests/cli/t160-console.sh.  Prints one line per check:
//   RESULT PASS|FAIL name [detail]
// and writes screenshots into SHOTS.
//
//   node console-browser.js flow BASE SHOTS OUT.json  (passphrases on stdin as JSON)
//   node console-browser.js transcripts SHOTS FILE.html...
import puppeteer from 'puppeteer-core';
import { readFileSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

const results = [];
function check(name, cond, detail = '') {
  results.push(cond);
  console.log(`RESULT ${cond ? 'PASS' : 'FAIL'} ${name}${detail ? ' # ' + detail : ''}`);
}

async function browser() {
  return puppeteer.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}

// A page that notes any dialog (alert/confirm/prompt) and any script run.
async function watched(ctx) {
  const page = await ctx.newPage();
  page.dialogs = [];
  page.on('dialog', async (d) => { page.dialogs.push(d.message()); await d.dismiss(); });
  page.consoleErrors = [];
  page.on('console', (m) => { if (m.type() === 'error') page.consoleErrors.push(m.text()); });
  await page.setViewport({ width: 1280, height: 900 });
  return page;
}

async function signIn(page, base, name, pass) {
  await page.goto(base + '/login', { waitUntil: 'load' });
  await page.type('input[name=name]', name);
  await page.type('input[name=passphrase]', pass);
  const [resp] = await Promise.all([
    page.waitForNavigation({ waitUntil: 'load' }), page.click('#signin')]);
  return resp;
}

async function cookieHeader(page) {
  const cs = await page.cookies();
  return cs.map((c) => `${c.name}=${c.value}`).join('; ');
}

async function csrfOf(page) {
  return page.$eval('input[name=csrf]', (e) => e.value);
}

async function post(base, path, cookie, fields) {
  const body = new URLSearchParams(fields).toString();
  const r = await fetch(base + path, {
    method: 'POST', redirect: 'manual', body,
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie },
  });
  return { status: r.status, text: await r.text(), headers: r.headers };
}

async function flow(base, shots, outFile, secrets) {
  const b = await browser();
  const out = {};
  try {
    const ctx = await b.createBrowserContext();
    const page = await watched(ctx);
    await page.goto(base + '/login');
    await page.screenshot({ path: `${shots}/01-signin.png`, fullPage: true });
    await signIn(page, base, 'bob', secrets.bob);
    check('officer signs in and sees the overview', (await page.title()).startsWith('Overview'),
      await page.title());
    await page.screenshot({ path: `${shots}/02-overview.png`, fullPage: true });
    const cookies = await page.cookies();
    const sc = cookies.find((c) => c.name === 'clsid');
    check('session cookie is HttpOnly and SameSite=Strict',
      sc && sc.httpOnly && sc.sameSite === 'Strict', JSON.stringify(sc && { h: sc.httpOnly, s: sc.sameSite }));

    // search a party across three sources
    await page.goto(base + '/search');
    await page.type('input[name=party]', '+852 9123 4567');
    await page.type('input[name=reason]', 'case T160 complaint');
    await Promise.all([page.waitForNavigation(), page.click('#find')]);
    const sources = await page.$$eval('#results tr td:nth-child(2)', (tds) =>
      [...new Set(tds.map((t) => t.textContent))].sort());
    check('party search finds the customer in three sources', sources.length >= 3,
      sources.join(','));
    await page.screenshot({ path: `${shots}/03-search.png`, fullPage: true });

    // open the conversation with the hostile texts
    const href = await page.$$eval('#results a', (as) =>
      as.map((a) => a.getAttribute('href')).find((h) => h.includes('85291234567%40s.whatsapp.net')));
    check('results link to the conversation', !!href, href || '');
    await page.goto(base + href, { waitUntil: 'load' });
    const text = await page.$eval('main', (m) => m.innerText);
    const scripts = await page.$$eval('script', (s) => s.length);
    const imgs = await page.$$eval('img', (s) => s.length);
    const jsLinks = await page.$$eval('a', (as) => as.filter((a) =>
      (a.getAttribute('href') || '').trim().toLowerCase().startsWith('javascript')).length);
    const ran = await page.evaluate(() => window.__xss);
    check('conversation view reads like a chat', (await page.$$('.msg')).length >= 4);
    check('<script> text shown as text', text.includes('<script>window.__xss=1</script>'));
    check('img onerror text shown as text', text.includes('"><img src=x onerror='));
    check('javascript: text shown, no javascript: link', text.includes('javascript:') && jsLinks === 0);
    check('RLO shown as a visible marker', text.includes('[U+202E]'));
    check('no script element, no img element, no dialog, no script ran',
      scripts === 0 && imgs === 0 && page.dialogs.length === 0 && ran === undefined,
      `scripts=${scripts} imgs=${imgs} dialogs=${page.dialogs.length} ran=${ran}`);
    check('sender device and edits visible', text.includes('device 2') && text.includes('edited'));
    await page.screenshot({ path: `${shots}/04-conversation.png`, fullPage: true });

    // place a hold
    await page.goto(base + '/holds');
    const hf = 'form[action="/holds/add"] ';
    await page.type(hf + 'input[name=case]', 'T160-HOLD');
    await page.type(hf + 'input[name=reason]', 'litigation T160');
    await page.type(hf + 'input[name=party]', '+852 9123 4567');
    await Promise.all([page.waitForNavigation(), page.click('#place')]);
    const holdMsg = await page.$eval('main', (m) => m.innerText);
    check('hold placed from the console', /hold placed \(entry \d+\): covers [1-9]/.test(holdMsg) &&
      holdMsg.includes('T160-HOLD'), holdMsg.split('\n')[1] || '');
    await page.screenshot({ path: `${shots}/05-holds.png`, fullPage: true });

    // start an export and download it
    await page.goto(base + '/export');
    await page.type('form[action="/export"] input[name=case]', 'T160-EXP');
    await page.type('form[action="/export"] input[name=party]', '+852 9123 4567');
    await page.type('form[action="/export"] input[name=reason]', 'regulator request T160');
    await Promise.all([page.waitForNavigation({ timeout: 120000 }), page.click('#export')]);
    const exp = await page.$eval('#result', (e) => e.textContent).catch(() => '');
    const dl = await page.$eval('#download', (a) => a.getAttribute('href')).catch(() => null);
    check('export done, custody entry shown', /Custody entry \d+/.test(exp) && !!dl, exp);
    await page.screenshot({ path: `${shots}/06-export.png`, fullPage: true });
    if (dl) {
      const r = await fetch(base + dl, { headers: { cookie: await cookieHeader(page) } });
      const buf = Buffer.from(await r.arrayBuffer());
      writeFileSync(`${shots}/../bundle.zip`, buf);
      check('bundle downloads as a zip', r.status === 200 && buf.subarray(0, 2).toString() === 'PK',
        `status ${r.status} ${buf.length} bytes`);
      out.download = dl;
    }

    // a data access request: recorded, produced, downloadable
    await page.goto(base + '/export');
    await page.type('form[action="/dsar"] input[name=party]', '+852 9123 4567');
    await page.type('form[action="/dsar"] input[name=received]', '2026-01-05');
    await page.type('form[action="/dsar"] input[name=reason]', 'PDPO request T160');
    await Promise.all([page.waitForNavigation({ timeout: 120000 }), page.click('#dsar')]);
    const ds = await page.$eval('#result', (e) => e.textContent).catch(() => '');
    const dsl = await page.$eval('#download', (a) => a.getAttribute('href')).catch(() => '');
    check('DSAR recorded with its deadline and a download', /request \d+: \d+ records; reply due by 2026-02-14/.test(ds) &&
      dsl.includes('dsar-'), ds);
    await page.screenshot({ path: `${shots}/06b-dsar.png`, fullPage: true });
    const overview = await (await fetch(base + '/', { headers: { cookie: await cookieHeader(page) } })).text();
    check('the open DSAR is on the overview with its days left', /<td>\d+<\/td><td>2026-01-05T00:00:00.000Z<\/td>/.test(overview));

    // the access log
    await page.goto(base + '/access');
    const acc = await page.$eval('#access', (t) => t.innerText);
    const accErr = await page.$eval('#read-error', (e) => e.textContent).catch(() => '');
    check('the access log page read the log without an error', !accErr, accErr);
    for (const cmd of ['console-login', 'console-search', 'console-view', 'hold-add', 'export',
      'console-download', 'dsar']) {
      const has = acc.split('\n').some((l) => l.includes('bob') && l.includes(cmd));
      check(`access log shows ${cmd} by bob`, has,
        has ? '' : acc.split('\n').slice(0, 4).join(' | ').slice(0, 300));
    }
    await page.screenshot({ path: `${shots}/07-access.png`, fullPage: true });

    // Traditional Chinese
    await Promise.all([page.waitForNavigation(), page.click('form[action="/lang"] button')]);
    const lang = await page.$eval('html', (h) => h.lang);
    check('the console switches to Traditional Chinese', lang === 'zh-Hant' &&
      (await page.title()).includes('概覽'), await page.title());
    await page.screenshot({ path: `${shots}/08-overview-zh.png`, fullPage: true });
    await page.goto(base + href, { waitUntil: 'load' });
    await page.screenshot({ path: `${shots}/09-conversation-zh.png`, fullPage: true });
    const bobCookie = await cookieHeader(page);
    const bobToken = await csrfOf(page);

    // an auditor cannot fetch content by URL
    const actx = await b.createBrowserContext();
    const ap = await watched(actx);
    await signIn(ap, base, 'carol', secrets.carol);
    await ap.screenshot({ path: `${shots}/10-auditor.png`, fullPage: true });
    const acookie = await cookieHeader(ap);
    for (const u of ['/search?party=%2B852%209123%204567&reason=x', href, '/export',
      out.download || '/download?f=x']) {
      const r = await fetch(base + u, { headers: { cookie: acookie }, redirect: 'manual' });
      const t = await r.text();
      check(`auditor refused ${u.split('?')[0]}`, r.status === 403 && !t.includes('loan'),
        `status ${r.status}`);
    }
    const ar = await fetch(base + '/access', { headers: { cookie: acookie } });
    check('auditor sees the access log', ar.status === 200);
    const ah = await post(base, '/holds/add', acookie, {
      csrf: await csrfOf(ap), case: 'AUD', reason: 'x', allow_empty: '1' });
    check('auditor cannot place a hold', ah.status === 403, `status ${ah.status}`);

    // CSRF: no token, another session's token
    const noTok = await post(base, '/holds/add', bobCookie, {
      case: 'CSRF-NONE', reason: 'x', allow_empty: '1' });
    check('a change without the CSRF token is refused', noTok.status === 403, `status ${noTok.status}`);
    const other = await post(base, '/holds/add', bobCookie, {
      csrf: await csrfOf(ap), case: 'CSRF-OTHER', reason: 'x', allow_empty: '1' });
    check("a change with another session's token is refused", other.status === 403,
      `status ${other.status}`);
    const good = await post(base, '/holds/add', bobCookie, {
      csrf: bobToken, case: 'CSRF-GOOD', reason: 'x', allow_empty: '1' });
    check('the same change with the right token works', good.status === 200 &&
      good.text.includes('hold placed'), `status ${good.status}`);
    const holds = await (await fetch(base + '/holds', { headers: { cookie: bobCookie } })).text();
    check('the refused changes left nothing', !holds.includes('CSRF-NONE') &&
      !holds.includes('CSRF-OTHER') && holds.includes('CSRF-GOOD'));
    const noCookie = await fetch(base + '/search', { redirect: 'manual' });
    check('no session: only the sign-in page', noCookie.status === 303 &&
      noCookie.headers.get('location') === '/login');
    const hdr = (await fetch(base + '/login')).headers;
    check('strict CSP on every page', (hdr.get('content-security-policy') || '')
      .startsWith("default-src 'none'"));

    // sign-out wipes the session
    const lo = await post(base, '/logout', acookie, { csrf: await csrfOf(ap) });
    const after = await fetch(base + '/', { headers: { cookie: acookie }, redirect: 'manual' });
    check('after sign-out the cookie is dead', lo.status === 303 && after.status === 303);
    out.bobCookie = bobCookie;
    out.bobToken = bobToken;
    out.href = href;
    console.log(`INFO console errors: ${page.consoleErrors.join(' | ')}`);
  } catch (e) {
    check('browser flow ran to the end', false, String(e && e.stack || e).split('\n').slice(0, 3).join(' '));
  } finally {
    await b.close();
  }
  writeFileSync(outFile, JSON.stringify(out));
}

async function transcripts(shots, files) {
  const b = await browser();
  try {
    const ctx = await b.createBrowserContext();
    let i = 0;
    for (const f of files) {
      const page = await watched(ctx);
      await page.goto(pathToFileURL(f).href, { waitUntil: 'load' });
      const text = await page.$eval('body', (x) => x.innerText);
      const ran = await page.evaluate(() => window.__xss);
      const imgs = await page.$$eval('img[src="x"]', (s) => s.length);
      const scripts = await page.$$eval('script', (s) => s.filter((x) => x.textContent.includes('__xss')).length);
      if (text.includes('__xss')) {
        check(`transcript ${f.split('/').pop()}: hostile text visible and inert`,
          ran === undefined && imgs === 0 && scripts === 0 && page.dialogs.length === 0 &&
          text.includes('<script>'),
          `ran=${ran} imgs=${imgs} scripts=${scripts}`);
        await page.screenshot({ path: `${shots}/11-transcript-${i++}.png`, fullPage: true });
      }
    }
    if (i === 0)
      check('a transcript holds the hostile texts', false);
  } finally {
    await b.close();
  }
}

const [mode, ...args] = process.argv.slice(2);
if (mode === 'flow') {
  const secrets = JSON.parse(readFileSync(0, 'utf8'));
  await flow(args[0], args[1], args[2], secrets);
} else if (mode === 'transcripts') {
  await transcripts(args[0], args.slice(1));
}
process.exit(results.every(Boolean) ? 0 : 1);
