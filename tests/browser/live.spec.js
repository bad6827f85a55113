#!/usr/bin/env node
// End-to-end test of the live wall pages (public/live/) in headless Chromium.
//
// Starts a real msw in a temp root on free ports (static_dir = the source
// tree's public/), mints tokens with the console, opens two attendee phones
// and a wall, and drives them: moderation (approve, reject), history,
// announcements and recall, a kick and a retry, clean; then the error states a
// new user meets: a refused link (said at once, no retrying), a link opened on
// the wrong page, the composer before the join, a 1,000-byte message. Every
// wait is on a DOM condition. Screenshots go to tests/browser/screenshots/
// (error-*.png for the error states) and, for the docs,
// docs/img/live-attendee.png and docs/img/live-wall.png.
//
// Environment: MSW_BINARY (the msw binary), MSW_PLUGIN_DIR (its plugins),
// MSW_SOURCE_DIR (the source tree); optional MSW_CHROMIUM (default
// /usr/bin/chromium), MSW_KEEP_ROOT=1 (keep the temp root for a look),
// MSW_DOCS_SCREENSHOTS=1 (also refresh docs/img/ from this run).
// Run it with tests/browser/run, or through CTest (label "browser").
'use strict';

const { test, after } = require('node:test');
const assert = require('node:assert/strict');
const { spawn, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const net = require('node:net');
const http = require('node:http');

let chromium;
try {
  ({ chromium } = require('playwright-core'));
} catch (e) {
  console.error('playwright-core is not installed: run `npm ci` in tests/browser (tests/browser/run does it)');
  process.exit(1);
}

const SOURCE = path.resolve(process.env.MSW_SOURCE_DIR || path.join(__dirname, '..', '..'));
const BINARY = path.resolve(process.env.MSW_BINARY || path.join(SOURCE, 'build', 'msw'));
const PLUGINS = path.resolve(process.env.MSW_PLUGIN_DIR || path.join(path.dirname(BINARY), 'plugins'));
const CHROMIUM = process.env.MSW_CHROMIUM || '/usr/bin/chromium';
const SHOTS = path.join(__dirname, 'screenshots');
const DOCS_IMG = path.join(SOURCE, 'docs', 'img');
const ROOM = 'e2e';
const WAIT = 15000; // ms for any one DOM condition (an ASan build is slow)

const server = { proc: null, root: null, port: 0, managerPort: 0, log: '' };
let browser = null;
const pages = {}; // wall, ann, bob
const pageErrors = [];

// ---- the server ----

function freePorts(n) {
  return new Promise((resolve, reject) => {
    const servers = [];
    const ports = [];
    const next = () => {
      if (servers.length === n) {
        let open = n;
        for (const s of servers) s.close(() => --open === 0 && resolve(ports));
        return;
      }
      const s = net.createServer();
      s.on('error', reject);
      s.listen(0, '127.0.0.1', () => {
        ports.push(s.address().port);
        servers.push(s);
        next();
      });
    };
    next();
  });
}

function httpRequest(method, port, urlPath, body) {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? null : JSON.stringify(body);
    const req = http.request(
      { host: '127.0.0.1', port, path: urlPath, method, agent: false, headers: data ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) } : {} },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode, body: text }));
      }
    );
    req.on('error', reject);
    req.setTimeout(2000, () => req.destroy(new Error('timeout')));
    if (data) req.write(data);
    req.end();
  });
}

function writeConfig(root, port, managerPort) {
  const ini = `; written by tests/browser/live.spec.js
[server]
worker_num = 2
log_level = info
stop_timeout = 2

[outside]
host = 127.0.0.1
port = ${port}
static_dir = ${path.join(SOURCE, 'public')}

[manager]
host = 127.0.0.1
port = ${managerPort}

[auth]
key = msw-browser-test-key

[cache]
driver = memory

[app]
modules = index, live
plugin_dir = ${PLUGINS}
`;
  fs.writeFileSync(path.join(root, 'config', 'app.ini'), ini);
}

function iniPath() {
  return path.join(server.root, 'config', 'app.ini');
}

// Starts msw in the foreground as a child; ready when GET /status answers.
async function startServer() {
  server.root = fs.mkdtempSync(path.join(os.tmpdir(), 'msw-browser-'));
  fs.mkdirSync(path.join(server.root, 'config'));
  fs.mkdirSync(path.join(server.root, 'runtime', 'log'), { recursive: true });
  const logFile = path.join(server.root, 'runtime', 'log', 'stdout.log');
  for (let attempt = 1; ; attempt++) {
    [server.port, server.managerPort] = await freePorts(2);
    writeConfig(server.root, server.port, server.managerPort);
    const out = fs.openSync(logFile, 'w');
    const proc = spawn(BINARY, ['-s', 'start', '--root', server.root, '-c', iniPath()], { stdio: ['ignore', out, out] });
    fs.closeSync(out);
    let exited = null;
    proc.on('exit', (code, signal) => (exited = { code, signal }));
    server.proc = proc;
    const deadline = Date.now() + 20000;
    while (!exited && Date.now() < deadline) {
      const r = await httpRequest('GET', server.managerPort, '/status').catch(() => null);
      if (r && r.status === 200) return;
      await new Promise((res) => setTimeout(res, 50)); // polling a port, not a page
    }
    const log = fs.readFileSync(logFile, 'utf8');
    server.proc = null;
    if (!exited) proc.kill('SIGKILL');
    // Someone took a port between our probe and the server's bind: try others.
    if (exited && /cannot listen|address already in use/i.test(log) && attempt < 3) continue;
    throw new Error(`msw did not become ready (${exited ? `exited ${JSON.stringify(exited)}` : 'timeout'}):\n${log}`);
  }
}

async function stopServer() {
  const proc = server.proc;
  server.proc = null;
  let exit = proc && { code: proc.exitCode, signal: proc.signalCode };
  if (proc && proc.exitCode === null && proc.signalCode === null) {
    const gone = new Promise((res) => proc.once('exit', (code, signal) => res({ code, signal })));
    proc.kill('SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), 8000);
    exit = await gone;
    clearTimeout(timer);
  }
  // Not this test's business to fail on, but worth seeing (a sanitizer report, a crash on stop).
  const unclean = exit && (exit.code !== 0 || exit.signal);
  if (server.root) {
    try {
      server.log = fs.readFileSync(path.join(server.root, 'runtime', 'log', 'stdout.log'), 'utf8');
    } catch (e) {
      /* no log */
    }
    if (unclean && server.log) {
      console.log(`# warning: msw did not stop cleanly (${JSON.stringify(exit)}); its output:`);
      console.log(server.log.replace(/^/gm, '#   '));
      server.log = ''; // shown
    }
    if (process.env.MSW_KEEP_ROOT) console.log(`# kept the server root ${server.root}`);
    else fs.rmSync(server.root, { recursive: true, force: true });
  }
}

function token(id, type, nickname) {
  const args = ['-s', 'token', '--root', server.root, '-c', iniPath(), '--id', id, '--type', type, '--code', ROOM, '--nickname', nickname];
  return execFileSync(BINARY, args, { encoding: 'utf8' }).trim();
}

function pageUrl(file, tok) {
  return `http://127.0.0.1:${server.port}/live/${file}?token=${encodeURIComponent(tok)}`;
}

// ---- the browser ----

async function launchBrowser() {
  try {
    // playwright gives Chromium a new empty --user-data-dir and removes it on close.
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
  } catch (e) {
    // The message carries Chromium's own stderr ("Browser logs:").
    throw new Error(`Chromium (${CHROMIUM}) did not start:\n${e.message}`);
  }
}

async function openPage(name, url, contextOptions) {
  const context = await browser.newContext(contextOptions);
  const page = await context.newPage();
  page.setDefaultTimeout(WAIT);
  page.on('pageerror', (e) => pageErrors.push(`${name}: ${e.stack || e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') console.log(`# [${name} console.${m.type()}] ${m.text()}`);
  });
  await page.goto(url);
  pages[name] = page;
  return page;
}

const phone = { viewport: { width: 390, height: 780 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true };
const bigScreen = { viewport: { width: 1440, height: 860 }, deviceScaleFactor: 1 };

// ---- DOM helpers (every wait is on the page's state) ----

/** Waits until the page has joined its room (the join reply shows the room code). */
function joined(page) {
  return page.waitForFunction(
    (room) => document.body.dataset.conn === 'open' && document.getElementById('room').textContent === room,
    ROOM
  );
}

function onlineIs(page, n) {
  return page.waitForFunction((n) => document.getElementById('online').textContent === String(n), n);
}

/** Text of the element at selector, waiting for it to exist. */
async function textOf(page, selector) {
  return (await page.waitForSelector(selector)).textContent();
}

/** Sends a message from an attendee page; resolves with the id the server gave it. */
async function attendeeSays(page, text) {
  await page.fill('#text', text);
  await page.press('#text', 'Enter');
  const handle = await page.waitForFunction((text) => {
    for (const node of document.querySelectorAll('#mine .item.pending[data-id]')) {
      if (node.querySelector('.text').textContent === text && /moderation/.test(node.querySelector('.state').textContent)) {
        return node.dataset.id;
      }
    }
    return false;
  }, text);
  return handle.jsonValue();
}

function gone(page, selector) {
  return page.waitForSelector(selector, { state: 'detached' });
}

function feedTexts(page) {
  return page.$$eval('#feed .item .text', (nodes) => nodes.map((n) => n.textContent));
}

// ---- the scenario ----

let broken = false; // later steps need the earlier ones
function step(name, fn) {
  test(name, { timeout: 60000 }, async (t) => {
    if (broken) return t.skip('an earlier step failed');
    try {
      await fn();
    } catch (e) {
      broken = true;
      // What each page showed when it went wrong, for the post-mortem.
      fs.mkdirSync(SHOTS, { recursive: true });
      for (const [page, p] of Object.entries(pages)) {
        await p.screenshot({ path: path.join(SHOTS, `failure-${page}.png`) }).catch(() => {});
      }
      if (Object.keys(pages).length) console.log(`# screenshots of the pages at the failure: ${SHOTS}/failure-*.png`);
      throw e;
    }
  });
}

const tokens = {};

after(async () => {
  if (browser) await browser.close().catch(() => {});
  await stopServer();
  if (broken && server.log) console.log('# server output:\n' + server.log.replace(/^/gm, '#   '));
});

// Last resort (an uncaught error, Ctrl-C, running out of time): no server or temp root left behind.
process.on('exit', () => {
  if (server.proc && server.proc.exitCode === null) server.proc.kill('SIGKILL');
  if (server.root && !process.env.MSW_KEEP_ROOT) fs.rmSync(server.root, { recursive: true, force: true });
});
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(1));
// Well inside CTest's TIMEOUT (120 s), which would kill node without the cleanup above.
setTimeout(() => {
  console.log('# the browser test ran out of time (100 s)');
  process.exit(1);
}, 100000).unref();

const HELLO = 'Hi all! Tags like <b>this</b> & "quotes" show as typed — it\'s live';
const REJECTED = 'This one should never be shown';
const AFTER = 'When does the Q&A start?';
const NOTICE = 'Doors close in 5 minutes <please take your seats>';

let helloId = null;

step('msw starts, tokens are minted, Chromium starts', async () => {
  for (const [what, p] of [['MSW_BINARY', BINARY], ['MSW_PLUGIN_DIR', PLUGINS], ['MSW_SOURCE_DIR', SOURCE]]) {
    if (!fs.existsSync(p)) throw new Error(`${what}: ${p} does not exist (build msw first)`);
  }
  await startServer();
  tokens.wall = token('wall-1', 'wall', 'Main stage');
  tokens.ann = token('1001', 'wechatUser', 'Ann');
  tokens.bob = token('1002', 'wechatUser', 'Bob');
  tokens.cleo = token('1003', 'wechatUser', 'Cleo');
  await launchBrowser();
});

step('the wall opens and joins its room', async () => {
  const wall = await openPage('wall', pageUrl('wall.html', tokens.wall), bigScreen);
  await joined(wall);
  await onlineIs(wall, 0);
  assert.equal(await wall.isVisible('#queue-empty'), true);
});

step('an attendee opens, joins and is counted', async () => {
  const ann = await openPage('ann', pageUrl('index.html', tokens.ann), phone);
  await joined(ann);
  await onlineIs(ann, 1);
  await onlineIs(pages.wall, 1);
  await ann.waitForSelector('#empty', { state: 'visible' });
});

step('a message goes through moderation and shows on every screen', async () => {
  const { ann, wall } = pages;
  helloId = await attendeeSays(ann, HELLO);
  // The wall's queue shows it, as text (the server escaped it; the page decoded it).
  const card = `#queue .card[data-id="${helloId}"]`;
  assert.equal(await textOf(wall, `${card} .text`), HELLO);
  assert.equal(await wall.$(`${card} .text b`), null, 'no markup may come through');
  await onlineIs(wall, 1);
  assert.equal(await textOf(wall, '#queue-count'), '1');
  await wall.click(`${card} .approve`);
  // Approved: on the attendee's feed (as theirs), off the queue, on the big screen.
  assert.equal(await textOf(ann, `#feed .item.mine[data-id="${helloId}"] .text`), HELLO);
  await gone(ann, `#mine [data-id="${helloId}"]`);
  await gone(wall, card);
  assert.equal(await textOf(wall, `#stream .big[data-id="${helloId}"] .text`), HELLO);
  assert.equal(await textOf(wall, '#queue-count'), '0');
});

step('a second attendee gets the history and is counted', async () => {
  const bob = await openPage('bob', pageUrl('index.html', tokens.bob), phone);
  await joined(bob);
  assert.equal(await textOf(bob, `#feed .item[data-id="${helloId}"] .text`), HELLO);
  assert.equal(await textOf(bob, `#feed .item[data-id="${helloId}"] .who`), 'Ann');
  await onlineIs(bob, 2);
  await onlineIs(pages.ann, 2);
  await onlineIs(pages.wall, 2);
});

step('a rejected message never appears', async () => {
  const { ann, bob, wall } = pages;
  const rejectedId = await attendeeSays(bob, REJECTED);
  await wall.click(`#queue .card[data-id="${rejectedId}"] .reject`);
  await gone(wall, `#queue .card[data-id="${rejectedId}"]`);
  // Its sender is told (sayRejected) instead of waiting forever.
  await bob.waitForSelector(`#mine .item.rejected[data-id="${rejectedId}"]`);
  // A later approved message reaches everyone; anything about the rejected one would have come first.
  const afterId = await attendeeSays(ann, AFTER);
  await wall.click(`#queue .card[data-id="${afterId}"] .approve`);
  await bob.waitForSelector(`#feed .item[data-id="${afterId}"]`);
  await ann.waitForSelector(`#feed .item[data-id="${afterId}"]`);
  await wall.waitForSelector(`#stream .big[data-id="${afterId}"]`);
  assert.ok(!(await feedTexts(ann)).includes(REJECTED), 'another attendee sees the rejected message');
  assert.ok(!(await feedTexts(bob)).includes(REJECTED), 'its sender sees the rejected message as approved');
  assert.ok(!(await wall.$$eval('#stream .text', (n) => n.map((x) => x.textContent))).includes(REJECTED));
  assert.equal(await ann.$(`#feed [data-id="${rejectedId}"]`), null);
});

step('an announcement appears on the phones and goes away on recall', async () => {
  const { ann, bob, wall } = pages;
  await wall.fill('#announce-text', NOTICE);
  await wall.click('#announce-send');
  const id = await (
    await wall.waitForFunction((text) => {
      const li = [...document.querySelectorAll('#announcements li')].find((n) => n.querySelector('.text').textContent === text);
      return li ? li.dataset.id : false;
    }, NOTICE)
  ).jsonValue();
  for (const page of [ann, bob]) assert.equal(await textOf(page, `#feed .item.announce[data-id="${id}"] .text`), NOTICE);
  assert.equal(await textOf(wall, `#stream .big.announce[data-id="${id}"] .text`), NOTICE);
  await wall.click(`#announcements li[data-id="${id}"] .recall`);
  for (const page of [ann, bob]) await gone(page, `#feed [data-id="${id}"]`);
  await gone(wall, `#stream [data-id="${id}"]`);
  await gone(wall, `#announcements li[data-id="${id}"]`);
});

step('a kicked attendee stays out until they try again', async () => {
  const { bob, wall } = pages;
  const r = await httpRequest('POST', server.managerPort, '/kick', { user: '1002' });
  assert.equal(r.status, 200, r.body);
  await bob.waitForSelector('body[data-conn="offline"]');
  await bob.waitForSelector('#banner', { state: 'visible' });
  assert.equal(await bob.isDisabled('#text'), true, 'no composing while out of the room');
  await onlineIs(wall, 1);
  await bob.click('#retry');
  await joined(bob);
  await onlineIs(wall, 2);
  await bob.waitForSelector(`#feed .item[data-id="${helloId}"]`); // history read again
  await bob.waitForSelector('#banner', { state: 'hidden' });
  await bob.waitForSelector('#text:enabled');
});

step('screenshots of both pages', async () => {
  const { ann, bob, wall } = pages;
  await wall.fill('#announce-text', 'Welcome to the keynote! Questions are open — the best ones go on the big screen.');
  await wall.click('#announce-send');
  await ann.waitForSelector('#feed .item.announce');
  const bobQ = await attendeeSays(bob, 'Will the slides be shared after the talk?');
  await wall.click(`#queue .card[data-id="${bobQ}"] .approve`);
  await ann.waitForSelector(`#feed .item[data-id="${bobQ}"]`);
  const annQ = await attendeeSays(ann, 'Could you say more about the reconnect backoff?');
  await wall.waitForSelector(`#queue .card[data-id="${annQ}"]`);
  await attendeeSays(bob, 'Great demo so far, thanks!');
  await wall.waitForFunction(() => document.querySelectorAll('#queue .card').length === 2);
  await wall.waitForSelector(`#stream .big[data-id="${bobQ}"]`);
  await ann.waitForFunction(() => !document.querySelector('#toast.show'));
  fs.mkdirSync(SHOTS, { recursive: true });
  if (process.env.MSW_DOCS_SCREENSHOTS === '1') fs.mkdirSync(DOCS_IMG, { recursive: true });
  const shots = [
    [ann, 'live-attendee.png'],
    [wall, 'live-wall.png'],
  ];
  for (const [page, file] of shots) {
    await page.screenshot({ path: path.join(SHOTS, file), animations: 'disabled' });
    if (process.env.MSW_DOCS_SCREENSHOTS === '1') fs.copyFileSync(path.join(SHOTS, file), path.join(DOCS_IMG, file));
  }
  await bob.screenshot({ path: path.join(SHOTS, 'live-attendee-2.png'), animations: 'disabled' });
});

step('clean empties every screen', async () => {
  const { ann, bob, wall } = pages;
  wall.once('dialog', (d) => d.accept());
  await wall.click('#clean');
  for (const page of [ann, bob]) {
    await page.waitForFunction(() => document.querySelectorAll('#feed .item, #mine .item.pending').length === 0);
    await page.waitForSelector('#empty', { state: 'visible' });
  }
  await wall.waitForFunction(
    () => document.querySelectorAll('#queue .card:not(.leaving), #stream .big, #announcements li').length === 0
  );
  assert.equal(await textOf(wall, '#queue-count'), '0');
});

step('msw.js: requests, errors, queue, heartbeat, auth failure', async () => {
  // Extra clients in the wall's page (walls are not counted as attendees).
  const [deadPort] = await freePorts(1); // nobody listens there: a server that is down
  const out = await pages.wall.evaluate(async ({ token, deadPort }) => {
    const once = (c, ev) => new Promise((res) => c.once(ev, res));
    const result = {};

    // A request sent while connecting waits in the queue, then gets its reply.
    const c = new MswClient('socket', { token });
    const echoed = c.request('echo', { x: 1, text: '<i>' });
    result.state = c.state;
    result.echo = (await echoed).param;
    result.pong = (await c.request('index.index.ping')).event;
    try {
      await c.request('index.index.nosuch');
    } catch (e) {
      result.error = { name: e.name, code: e.code, status: e.status, event: e.event };
    }
    const inFlight = c.request('index.index.ping');
    c.close();
    result.afterClose = await inFlight.then(() => 'resolved', (e) => e.code);
    result.sendWhenClosed = c.send('index.index.ping');

    // Heartbeat: beats answered keep the connection; a missing "3" replaces it.
    const h = new MswClient('socket', { token, heartbeat: 100, reconnect: { min: 10, max: 50 } });
    await once(h, 'open');
    const first = h._ws;
    let beats = 0;
    await new Promise((res) => {
      const send = first.send.bind(first);
      first.send = (data) => {
        send(data);
        if (data === '2' && ++beats === 4) res();
      };
    });
    result.sameSocketAfterBeats = h._ws === first && h.state === 'open';
    const receive = h._receive.bind(h);
    h._receive = (data) => data !== '3' && receive(data); // the server's answers get lost
    const closed = await once(h, 'close');
    result.deadLink = { code: closed.code, willReconnect: closed.willReconnect };
    h._receive = receive;
    result.reopened = (await once(h, 'open')).reconnected;
    h.close();

    // A refused token: the probe hears the 403, and the client stops at once.
    const badToken = async (url, options) => {
      const bad = new MswClient(url, Object.assign({ token: 'not-a-token', reconnect: { min: 10, max: 20, maxFailures: 3 } }, options));
      const events = [];
      bad.on('authFailed', (x) => events.push(`authFailed:${x.failures}:${x.status || '-'}:${x.info || '-'}`));
      bad.on('reconnecting', (x) => events.push('reconnecting:' + x.attempt));
      await once(bad, 'giveup');
      events.push('giveup:' + bad.state);
      return events;
    };
    result.badToken = await badToken('socket');
    // Without the probe (or with nobody answering it), a few quick tries, then authFailed and giveup.
    result.badTokenNoProbe = await badToken('socket', { probe: false });
    result.unreachable = await badToken(`ws://127.0.0.1:${deadPort}/socket`);
    return result;
  }, { token: tokens.wall, deadPort });
  assert.equal(out.state, 'connecting');
  assert.deepEqual(out.echo, { x: 1, text: '&lt;i&gt;' }); // escaped by the server, as documented
  assert.equal(out.pong, 'pong');
  assert.deepEqual(out.error, { name: 'MswError', code: 'server', status: 405, event: 'methodNotFound' });
  assert.equal(out.afterClose, 'closed');
  assert.equal(out.sendWhenClosed, false);
  assert.equal(out.sameSocketAfterBeats, true);
  assert.deepEqual(out.deadLink, { code: 4000, willReconnect: true });
  assert.equal(out.reopened, true);
  assert.deepEqual(out.badToken, ['authFailed:1:403:invalid auth', 'giveup:closed']);
  assert.deepEqual(out.badTokenNoProbe, ['reconnecting:1', 'reconnecting:2', 'authFailed:3:-:-', 'giveup:closed']);
  assert.deepEqual(out.unreachable, ['reconnecting:1', 'reconnecting:2', 'authFailed:3:-:-', 'giveup:closed']);
});

// ---- error states (each on its own page, screenshot error-NAME.png) ----

async function errorShot(page, name) {
  fs.mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SHOTS, `error-${name}.png`), animations: 'disabled' });
}

async function bannerText(page) {
  await page.waitForSelector('#banner', { state: 'visible' });
  return page.textContent('#banner-text');
}

for (const [file, name, context] of [['index.html', 'refused-attendee', phone], ['wall.html', 'refused-wall', bigScreen]]) {
  step(`${file} with a refused token says so at once and stops trying`, async () => {
    const started = Date.now();
    const page = await openPage(name, pageUrl(file, 'not-a-token-' + name), context);
    await page.waitForSelector('body[data-page="refused"][data-conn="failed"]');
    const took = Date.now() - started;
    assert.ok(took < 5000, `the refusal took ${took} ms to show (the first reconnect alone waits 500 ms)`);
    assert.match(await bannerText(page), /token was refused by the server \(invalid auth\)/);
    assert.equal(await page.textContent('#conn'), 'Link refused');
    assert.equal(await page.isVisible('#retry'), false, 'retrying a refused token cannot help');
    const client = await page.evaluate(() => ({ state: liveClient.state, attempts: liveClient._attempt }));
    assert.deepEqual(client, { state: 'closed', attempts: 0 }, 'no reconnect was scheduled');
    if (file === 'index.html') {
      assert.equal(await page.isVisible('#composer'), false, 'no composer for a refused link');
      assert.equal(await page.isVisible('#empty'), false, 'no "say hello" for a refused link');
    } else {
      assert.equal(await page.isVisible('.layout'), false, 'no controls for a refused link');
    }
    await errorShot(page, name);
  });
}

step('a wall link opened as an attendee says so and links to the wall', async () => {
  const page = await openPage('wall-as-attendee', pageUrl('index.html', tokens.wall), phone);
  await page.waitForSelector('body[data-page="wrong-link"]');
  assert.match(await bannerText(page), /not an attendee link \(only wechatUser connections may call live\.user\.join\)/);
  assert.equal(await page.isVisible('#composer'), false);
  await errorShot(page, 'wall-link-as-attendee');
  await page.click('#banner-link');
  await page.waitForURL(/\/live\/wall\.html\?token=/);
  await joined(page);
});

step('an attendee link opened on the wall says so and links to the attendee page', async () => {
  const page = await openPage('attendee-as-wall', pageUrl('wall.html', tokens.cleo), bigScreen);
  await page.waitForSelector('body[data-page="wrong-link"]');
  assert.match(await bannerText(page), /not a wall link/);
  assert.equal(await page.isVisible('#clean'), false, 'no wall controls for an attendee');
  await errorShot(page, 'attendee-link-as-wall');
  await page.click('#banner-link');
  await page.waitForURL(/\/live\/index\.html\?token=/);
  await joined(page);
  await page.waitForSelector('#text:enabled');
});

step('the composer stays disabled until the room is joined', async () => {
  // The page's socket reaches a stand-in that holds the join reply back.
  const context = await browser.newContext(phone);
  const page = await context.newPage();
  page.setDefaultTimeout(WAIT);
  page.on('pageerror', (e) => pageErrors.push(`held-join: ${e.stack || e.message}`));
  let release;
  let joinSent;
  const joinSeen = new Promise((resolve) => (joinSent = resolve));
  await page.routeWebSocket(/\/live\/socket/, (ws) => {
    ws.onMessage((text) => {
      const m = JSON.parse(text);
      const reply = (param) => ws.send(JSON.stringify({ status: 200, event: 'success', info: '', param, rid: m.rid }));
      if (m.method === 'live.user.join') {
        release = () => reply({ code: ROOM, online: 1 });
        joinSent();
      } else if (m.method === 'live.user.history') reply({ items: [], total: 0 });
    });
  });
  pages['held-join'] = page;
  await page.goto(pageUrl('index.html', tokens.cleo));
  await joinSeen;
  await page.waitForSelector('body[data-conn="open"]');
  assert.equal(await page.isDisabled('#text'), true, 'the composer waits for the join');
  assert.equal(await page.getAttribute('#text', 'placeholder'), 'Joining the room…');
  assert.equal(await page.isDisabled('#send'), true);
  assert.equal(await page.isVisible('#empty'), false, 'no "say hello" before the history');
  await errorShot(page, 'composer-before-join');
  release();
  await page.waitForSelector('#text:enabled');
  await page.waitForSelector('#empty', { state: 'visible' });
});

step('a 1,000-byte message is clamped in the queue and on the big screen, and can be read whole', async () => {
  const { ann, wall } = pages;
  const words = 'Long question about the keynote, please read it all the way to the end. ';
  const long = (words.repeat(20)).slice(0, 990) + ' THE END';
  assert.equal(Buffer.byteLength(long), 998);
  const id = await attendeeSays(ann, long);
  const card = `#queue .card[data-id="${id}"]`;
  assert.equal(await textOf(wall, `${card} .text`), long, 'the whole text is in the page');
  await wall.waitForSelector(`${card} .more`, { state: 'visible' });
  // Approve and Reject stay in view: inside the queue's visible box, the card short.
  const fits = await wall.$eval(card, (c) => {
    const q = document.getElementById('queue').getBoundingClientRect();
    const a = c.querySelector('.approve').getBoundingClientRect();
    const r = c.querySelector('.reject').getBoundingClientRect();
    return { height: Math.round(c.getBoundingClientRect().height), inView: a.bottom <= q.bottom && r.bottom <= q.bottom && a.top >= q.top };
  });
  assert.ok(fits.height < 260, `the card is ${fits.height} px high`);
  assert.ok(fits.inView, 'Approve/Reject are in view');
  await errorShot(wall, 'long-message-queue');
  await wall.click(`${card} .more`);
  assert.equal(await wall.$eval(`${card} .text`, (p) => p.scrollHeight <= p.clientHeight + 1), true, 'Show all shows it whole');
  assert.equal(await wall.textContent(`${card} .more`), 'Show less');
  await wall.click(`${card} .approve`);
  const entry = `#stream .big[data-id="${id}"]`;
  await wall.waitForSelector(`${entry} .more`, { state: 'visible' });
  const share = await wall.$eval(entry, (e) => e.getBoundingClientRect().height / document.getElementById('stream').clientHeight);
  assert.ok(share < 0.5, `the message takes ${Math.round(share * 100)} % of the big screen`);
  await wall.waitForFunction((sel) => {
    const r = document.querySelector(sel).getBoundingClientRect(); // the smooth scroll has reached it
    return r.bottom <= document.getElementById('stream').getBoundingClientRect().bottom + 1;
  }, entry);
  await errorShot(wall, 'long-message-screen');
  await wall.click(`${entry} .more`);
  assert.equal(await wall.$eval(`${entry} .text`, (p) => p.scrollHeight <= p.clientHeight + 1), true);
});

step('no page threw an error', async () => {
  assert.deepEqual(pageErrors, []);
});
