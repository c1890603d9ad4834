#!/usr/bin/env node
// tests/wechat/sim.js - a local Tencent simulator for chatledger's WeChat
// routes (research/wechat-capture.md §7).  Node 20, no npm dependencies.
//
//   node sim.js api --port-file F [--state F]
//       Tencent's API side on 127.0.0.1: cgi-bin/stable_token and
//       gettoken (a token of the day; 40164/45009/-1 on demand), route B
//       customservice/msgrecord/getmsglist (65417 for a window over
//       24 h, paging by msgid, [image] placeholders, empty lists; -1 once),
//       route C kf/sync_msg (has_more/next_cursor pages of 30, origin
//       3/4/5; 42001 once: the token expired), kf/customer/batchget
//       (unionids), media/get (bytes, {"video_url"}, 40007 for expired
//       ids).  Writes its port to F; runs until killed.  Counters go to
//       F.stats as JSON on every request.
//   node sim.js push --url URL --progress F [--persist] [--bad-first]
//       Tencent's push side against `chatledger wechat serve`: 300 route-A
//       pushes (plaintext, compatible and safe mode in turn; every type
//       and event of the note; every 10th sent twice; literal '+' in a
//       query string) and 40 route-C callbacks (contact and group events,
//       both MemChangeList shapes, kf_msg_or_event).  Like Tencent, it
//       gives each push 5 s and three tries; with --persist it keeps
//       trying (the receiver may be restarting).  Writes one line per
//       push answered "success" to F.
//   node sim.js bad --url URL
//       the refusals: bad signature, wrong receive id, replayed timestamp,
//       billion laughs (outer and inner), an external entity, padding 1/19/32
//       accepted; prints "name status" lines.
//   node sim.js verify-get --url URL   the GET checks of both routes
//   node sim.js expect                 prints the distinct message counts
'use strict';
const http = require('http');
const crypto = require('crypto');
const fs = require('fs');

const OA = { token: 'oaTokenTest', key: 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG', appid: 'wxb11529c136998cb6' };
const WC = { token: 'QDG6eK', key: 'jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C', corpid: 'wx5823bf96d3bd56c7' };
const N_A = 300, N_C = 40, N_KF = 100, N_B = 80;
const DAY = 86400;
const BASE_B = 1714000000; // route B records start here (3 days)
const T_PUSH = 1760000000; // CreateTime of the pushes (2025-10-09)

function aesKey(k) { return Buffer.from(k + '=', 'base64').subarray(0, 32); }
function sign(...parts) {
  return crypto.createHash('sha1').update(parts.map(String).sort().join('')).digest('hex');
}
function encrypt(cfg, rid, msg) {
  const key = aesKey(cfg.key);
  const m = Buffer.from(msg, 'utf8');
  const len = Buffer.alloc(4); len.writeUInt32BE(m.length);
  const body = Buffer.concat([crypto.randomBytes(16), len, m, Buffer.from(rid)]);
  const pad = 32 - (body.length % 32);
  const p = Buffer.alloc(pad, pad);
  const c = crypto.createCipheriv('aes-256-cbc', key, key.subarray(0, 16));
  c.setAutoPadding(false);
  return Buffer.concat([c.update(Buffer.concat([body, p])), c.final()]).toString('base64');
}
function now() { return Math.floor(Date.now() / 1000); }
function cdata(k, v) { return `<${k}><![CDATA[${v}]]></${k}>`; }
function bare(k, v) { return `<${k}>${v}</${k}>`; }

// ---- route A and C pushes ------------------------------------------------

function oaPush(i) {
  const openid = `oU${String(i % 20).padStart(4, '0')}-ABC+def`; // '+' must survive
  const t = T_PUSH + i;  // fixed: a redelivery is the same body
  const h = cdata('ToUserName', 'gh_97417a04a28d') + cdata('FromUserName', openid) + bare('CreateTime', t);
  const id = 7000000000000000000n + BigInt(i);
  const kinds = ['text', 'text', 'text', 'image', 'voice', 'video', 'shortvideo', 'location',
    'link', 'event:subscribe', 'event:SCAN', 'event:LOCATION', 'event:CLICK',
    'event:kf_create_session', 'newtype', 'text-article'];
  const k = kinds[i % kinds.length];
  let x;
  switch (k) {
    case 'text': x = cdata('MsgType', 'text') + cdata('Content', `hello ${i} 你好`) + bare('MsgId', id); break;
    case 'text-article': x = cdata('MsgType', 'text') + `<Content>bare text ${i}</Content>` + bare('MsgId', id) + bare('MsgDataId', 9) + bare('Idx', 1); break;
    case 'image': x = cdata('MsgType', 'image') + cdata('PicUrl', 'http://mmbiz/x') + cdata('MediaId', (i % 32 === 3 ? 'exp-' : 'img-') + i) + bare('MsgId', id); break;
    case 'voice': x = cdata('MsgType', 'voice') + cdata('MediaId', 'img-v' + i) + cdata('Format', 'amr') + cdata('Recognition', '语音') + bare('MsgId', id); break;
    case 'video': x = cdata('MsgType', 'video') + cdata('MediaId', 'vid-' + i) + cdata('ThumbMediaId', 'th' + i) + bare('MsgId', id); break;
    case 'shortvideo': x = cdata('MsgType', 'shortvideo') + cdata('MediaId', 'img-s' + i) + cdata('ThumbMediaId', 'th' + i) + bare('MsgId', id); break;
    case 'location': x = cdata('MsgType', 'location') + bare('Location_X', '22.3') + bare('Location_Y', '114.1') + bare('Scale', 20) + cdata('Label', 'Central') + bare('MsgId', id); break;
    case 'link': x = cdata('MsgType', 'link') + cdata('Title', 'T') + cdata('Description', 'D') + cdata('Url', 'https://e.x/') + bare('MsgId', id); break;
    case 'newtype': x = cdata('MsgType', 'newtype') + '<Future><Part>1</Part></Future>' + bare('MsgId', id); break;
    default: {
      const ev = k.slice(6);
      x = cdata('MsgType', 'event') + cdata('Event', ev) + cdata('EventKey', `key${i}`);
      if (ev === 'LOCATION') x += bare('Latitude', '22.3') + bare('Longitude', '114.1') + bare('Precision', '65');
      if (ev === 'kf_create_session') x += cdata('KfAccount', 'agent1@gh_97417a04a28d');
    }
  }
  return { route: 'oa', id: `oa-${i}`, xml: `<xml>${h}${x}</xml>`, mode: ['plain', 'compat', 'safe'][i % 3], openid };
}

function wcPush(i) {
  const t = T_PUSH + 1000 + i;
  const h = cdata('ToUserName', WC.corpid) + cdata('FromUserName', 'sys') + bare('CreateTime', t) + cdata('MsgType', 'event');
  let x;
  switch (i % 5) {
    case 0: x = cdata('Event', 'change_external_contact') + cdata('ChangeType', 'add_external_contact') + cdata('UserID', `staff${i % 3}`) + cdata('ExternalUserID', `wmCust${i}`) + cdata('State', 's') + cdata('WelcomeCode', 'w' + i); break;
    case 1: x = cdata('Event', 'change_external_contact') + cdata('ChangeType', 'del_follow_user') + cdata('UserID', `staff${i % 3}`) + cdata('ExternalUserID', `wmCust${i}`); break;
    case 2: x = cdata('Event', 'change_external_chat') + cdata('ChatId', `wrChat${i}`) + cdata('ChangeType', 'update') + cdata('UpdateDetail', 'add_member') + bare('JoinScene', 1) + bare('QuitScene', 0) + bare('MemChangeCnt', 2) + '<MemChangeList><Item>Jack</Item><Item>Rose</Item></MemChangeList>' + bare('LastMemVer', 'a') + bare('CurMemVer', 'b' + i); break;
    case 3: x = cdata('Event', 'change_external_chat') + cdata('ChatId', `wrChat${i}`) + cdata('ChangeType', 'update') + cdata('UpdateDetail', 'del_member') + bare('QuitScene', 1) + bare('MemChangeCnt', 2) + cdata('MemChangeList', 'Jack,Rose') + bare('CurMemVer', 'c' + i); break;
    default: x = cdata('Event', 'kf_msg_or_event') + cdata('Token', 'ENCTOKEN' + i) + cdata('OpenKfId', 'wkKF1'); break;
  }
  return { route: 'wecom', id: `wc-${i}`, xml: `<xml>${h}${x}</xml>` };
}

function request(url, method, body, timeoutMs) {
  return new Promise((resolve) => {
    const u = new URL(url);
    const req = http.request({ hostname: u.hostname, port: u.port, path: u.pathname + u.search, method,
      headers: body ? { 'Content-Type': 'text/xml', 'Content-Length': Buffer.byteLength(body) } : {} }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString() }));
    });
    req.setTimeout(timeoutMs, () => { req.destroy(); resolve({ status: 0, body: 'timeout' }); });
    req.on('error', (e) => resolve({ status: 0, body: String(e.code || e) }));
    if (body) req.write(body);
    req.end();
  });
}

// Build the URL and body of one push (fresh timestamp and nonce per try,
// as Tencent does).
function envelope(base, p, opts = {}) {
  const ts = String(opts.ts || now()), nonce = String(opts.nonce || Math.floor(Math.random() * 1e9));
  if (p.route === 'oa') {
    const sig = sign(OA.token, ts, nonce);
    const q = `?signature=${sig}&timestamp=${ts}&nonce=${nonce}&openid=${p.openid}`;
    if (p.mode === 'plain') return { url: `${base}/oa${q}`, body: p.xml };
    const enc = encrypt(OA, opts.rid || OA.appid, p.xml);
    const ms = opts.badsig ? '0'.repeat(40) : sign(OA.token, ts, nonce, enc);
    const inner = p.mode === 'compat' ? p.xml.slice(5, -6) : cdata('ToUserName', 'gh_97417a04a28d');
    return { url: `${base}/oa${q}&encrypt_type=aes&msg_signature=${ms}`,
      body: `<xml>${inner}${cdata('Encrypt', enc)}</xml>` };
  }
  const enc = encrypt(WC, opts.rid || WC.corpid, p.xml);
  const ms = opts.badsig ? 'f'.repeat(40) : sign(WC.token, ts, nonce, enc);
  return { url: `${base}/wecom?msg_signature=${ms}&timestamp=${ts}&nonce=${nonce}`,
    body: `<xml>${cdata('ToUserName', WC.corpid)}${cdata('Encrypt', enc)}${cdata('AgentID', '218')}</xml>` };
}

async function deliver(base, p, persist) {
  for (let attempt = 0; persist || attempt < 3; attempt++) {
    const e = envelope(base, p);
    const r = await request(e.url, 'POST', e.body, 5000); // Tencent waits 5 s
    if (r.status === 200 && r.body === 'success') return true;
    await new Promise((res) => setTimeout(res, persist ? 300 : 50));
  }
  return false;
}

async function push(args) {
  const base = args.url, out = fs.openSync(args.progress, 'a');
  const list = [];
  for (let i = 0; i < N_A; i++) { list.push(oaPush(i)); if (i % 10 === 0) list.push(oaPush(i)); }
  for (let i = 0; i < N_C; i++) { list.push(wcPush(i)); if (i % 7 === 0) list.push(wcPush(i)); }
  let ok = 0, failed = 0;
  const queue = list.slice();
  async function worker() {
    while (queue.length) {
      const p = queue.shift();
      if (await deliver(base, p, args.persist)) { ok++; fs.writeSync(out, p.id + '\n'); } else failed++;
    }
  }
  await Promise.all([worker(), worker(), worker(), worker()]);
  console.log(`pushed ${list.length} (answered success ${ok}, failed ${failed})`);
  process.exit(failed ? 1 : 0);
}

async function bad(args) {
  const base = args.url;
  const p = oaPush(0); p.mode = 'safe';
  const w = wcPush(0);
  const cases = [
    ['bad-signature', envelope(base, p, { badsig: true })],
    ['wrong-receive-id', envelope(base, p, { rid: 'wxWRONGAPPID00000' })],
    ['wecom-bad-signature', envelope(base, w, { badsig: true })],
    ['wecom-wrong-receive-id', envelope(base, w, { rid: 'wwOTHERCORP' })],
    ['replayed-timestamp', envelope(base, p, { ts: now() - 3600 })],
  ];
  const lol = '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">' +
    Array.from({ length: 9 }, (_, k) => `<!ENTITY lol${k + 1} "${('&lol' + (k || '') + ';').repeat(10)}">`).join('') +
    ']><xml><ToUserName>gh</ToUserName><FromUserName>o1</FromUserName><CreateTime>1</CreateTime><MsgType>text</MsgType><Content>&lol9;</Content><MsgId>1</MsgId></xml>';
  const xxe = '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><xml><ToUserName>gh</ToUserName><FromUserName>o1</FromUserName><CreateTime>1</CreateTime><MsgType>text</MsgType><Content>&xxe;</Content><MsgId>2</MsgId></xml>';
  cases.push(['billion-laughs-outer', envelope(base, { route: 'oa', mode: 'plain', xml: lol, openid: 'o1' })]);
  cases.push(['billion-laughs-inner', envelope(base, { route: 'oa', mode: 'safe', xml: lol, openid: 'o1' })]);
  cases.push(['external-entity', envelope(base, { route: 'oa', mode: 'plain', xml: xxe, openid: 'o1' })]);
  cases.push(['external-entity-wecom', envelope(base, { route: 'wecom', xml: xxe })]);
  for (const [name, e] of cases) {
    const r = await request(e.url, 'POST', e.body, 5000);
    console.log(`${name} ${r.status}`);
  }
  // Padding 1, 19 and 32 are accepted: messages sized for each pad.
  for (const pad of [1, 19, 32]) {
    const rid = OA.appid;
    const base0 = `<xml>${cdata('ToUserName', 'gh_97417a04a28d')}${cdata('FromUserName', 'oPAD')}${bare('CreateTime', now())}${cdata('MsgType', 'text')}${bare('MsgId', 9100 + pad)}<Content>`;
    let fill = '';
    const fixed = Buffer.byteLength(base0 + '</Content></xml>') + 20 + rid.length;
    while ((fixed + fill.length) % 32 !== (32 - pad) % 32) fill += 'x';
    const q = { route: 'oa', mode: 'safe', openid: 'oPAD', xml: `${base0}${fill}</Content></xml>` };
    const e = envelope(base, q);
    const r = await request(e.url, 'POST', e.body, 5000);
    console.log(`padding-${pad} ${r.status}`);
  }
}

async function verifyGet(args) {
  const base = args.url;
  const ts = String(now()), nonce = '1514711492';
  let r = await request(`${base}/oa?signature=${sign(OA.token, ts, nonce)}&timestamp=${ts}&nonce=${nonce}&echostr=4375120948345356249`, 'GET', null, 5000);
  console.log(`oa-echo ${r.status} ${r.body}`);
  r = await request(`${base}/oa?signature=${'0'.repeat(40)}&timestamp=${ts}&nonce=${nonce}&echostr=1`, 'GET', null, 5000);
  console.log(`oa-echo-bad ${r.status}`);
  // WeCom: an encrypted echostr whose base64 has '+', sent with one '+'
  // literal and the rest percent-encoded; answered within 1 s.
  let enc, plain;
  do { plain = String(Math.floor(Math.random() * 1e18)); enc = encrypt(WC, WC.corpid, plain); } while (!enc.includes('+'));
  const sig = sign(WC.token, ts, nonce, enc);
  const q = encodeURIComponent(enc).replace('%2B', '+');
  const t0 = Date.now();
  r = await request(`${base}/wecom?msg_signature=${sig}&timestamp=${ts}&nonce=${nonce}&echostr=${q}`, 'GET', null, 5000);
  const ms = Date.now() - t0;
  console.log(`wecom-echo ${r.status} ${r.body === plain ? 'plaintext' : 'WRONG:' + r.body} ${ms < 1000 ? 'fast' : 'slow'}`);
}

// ---- API side ---------------------------------------------------------------

function apiRecords() {
  const recs = [];
  for (let i = 0; i < N_B; i++) {
    const t = BASE_B + Math.floor(i * (3 * DAY) / N_B);
    const out = i % 2 === 1;
    const text = i % 9 === 4 ? '[image]' : `record ${i}`;
    recs.push({ openid: `oU${String(i % 20).padStart(4, '0')}-ABC+def`, opercode: out ? 2002 : 2003,
      text, time: t, worker: `agent${i % 3}@gh_97417a04a28d` });
  }
  // Around T_PUSH: route-B copies of route-A text pushes 0, 1 and 2 (the
  // receiver already stored them: a pull skips them) and one message that
  // route A never saw.
  for (let j = 0; j < 3; j++)
    recs.push({ openid: `oU${String(j % 20).padStart(4, '0')}-ABC+def`, opercode: 2003,
      text: `hello ${j} 你好`, time: T_PUSH + j, worker: 'agent0@gh_97417a04a28d' });
  recs.push({ openid: 'oU0000-ABC+def', opercode: 2003, text: 'only on route B', time: T_PUSH + 5,
    worker: 'agent0@gh_97417a04a28d' });
  return recs;
}
function kfMessages() {
  const m = [];
  for (let i = 0; i < N_KF; i++) {
    const o = [3, 5, 3, 4][i % 4];
    const e = { msgid: `from_msgid_${1000 + i}`, open_kfid: 'wkKF1', send_time: now() - 1000 + i, origin: o };
    if (o === 4) { e.msgtype = 'event'; e.event = { event_type: 'enter_session', open_kfid: 'wkKF1', external_userid: `wmKF${i % 5}` }; }
    else { e.external_userid = `wmKF${i % 5}`; if (i % 10 === 2) { e.msgtype = 'image'; e.image = { media_id: 'img-kf' + i }; } else { e.msgtype = 'text'; e.text = { content: `kf ${i}` }; } }
    if (o === 5) e.servicer_userid = `servicer${i % 2}`;
    m.push(e);
  }
  return m;
}

function api(args) {
  const stats = { stable_token: 0, gettoken: 0, getmsglist: 0, w65417: 0, sync_msg: 0, e42001: 0, busy: 0, media: 0, m40007: 0, batchget: 0 };
  const recs = apiRecords(), kf = kfMessages();
  let tokenN = 1, syncExpiredOnce = false, busyOnce = false;
  const srv = http.createServer((req, res) => {
    const u = new URL(req.url, 'http://x');
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      let body = {};
      try { body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString()) : {}; } catch (e) { body = {}; }
      const send = (o, type = 'application/json') => { res.writeHead(200, { 'Content-Type': type }); res.end(typeof o === 'string' || Buffer.isBuffer(o) ? o : JSON.stringify(o)); };
      const p = u.pathname;
      if (p === '/cgi-bin/stable_token') { stats.stable_token++; return send({ access_token: `OATOKEN${tokenN++}`, expires_in: 7200 }); }
      if (p === '/cgi-bin/gettoken') { stats.gettoken++; return send({ errcode: 0, errmsg: 'ok', access_token: `WCTOKEN${tokenN++}`, expires_in: 7200 }); }
      const tok = u.searchParams.get('access_token') || '';
      if (!tok) return send({ errcode: 41001, errmsg: 'access_token missing' });
      if (p === '/customservice/msgrecord/getmsglist') {
        stats.getmsglist++;
        if (!busyOnce) { busyOnce = true; stats.busy++; return send({ errcode: -1, errmsg: 'system error' }); }
        if (body.endtime - body.starttime > DAY) { stats.w65417++; return send({ errcode: 65417, errmsg: 'time range exceeds' }); }
        const inWin = recs.map((r, k) => Object.assign({ k: k + 1 }, r)).filter((r) => r.time >= body.starttime && r.time < body.endtime && r.k >= body.msgid);
        const page = inWin.slice(0, body.number);
        const next = page.length ? page[page.length - 1].k + 1 : body.msgid;
        return send({ recordlist: page.map(({ k, ...r }) => r), number: page.length, msgid: next });
      }
      if (p === '/cgi-bin/kf/sync_msg') {
        stats.sync_msg++;
        if (!syncExpiredOnce) { syncExpiredOnce = true; stats.e42001++; return send({ errcode: 42001, errmsg: 'access_token expired' }); }
        const start = body.cursor ? parseInt(body.cursor.slice(3), 10) : 0;
        const lim = Math.min(body.limit || 1000, 30);
        const page = kf.slice(start, start + lim);
        const next = start + page.length;
        return send({ errcode: 0, errmsg: 'ok', next_cursor: `cur${next}`, has_more: next < kf.length ? 1 : 0, msg_list: page });
      }
      if (p === '/cgi-bin/kf/customer/batchget') {
        stats.batchget++;
        return send({ errcode: 0, errmsg: 'ok', customer_list: (body.external_userid_list || []).map((e) => ({ external_userid: e, nickname: 'n', unionid: 'UNION-' + e.slice(-1) })), invalid_external_userid: [] });
      }
      if (p === '/cgi-bin/user/info') {
        stats.userinfo = (stats.userinfo || 0) + 1;
        const o = u.searchParams.get('openid') || '';
        const m = /^oU0*(\d+)-/.exec(o);
        // oU0000..oU0004 are bound (unionid UNION-N, as wmKFN in 微信客服); the rest not
        return send(m && Number(m[1]) < 5 ? { subscribe: 1, openid: o, unionid: 'UNION-' + Number(m[1]) } : { subscribe: 1, openid: o });
      }
      if (p === '/cgi-bin/media/get') {
        stats.media++;
        const id = u.searchParams.get('media_id') || '';
        if (id.startsWith('exp-')) { stats.m40007++; return send({ errcode: 40007, errmsg: 'invalid media_id' }); }
        if (id.startsWith('vid-')) return send({ video_url: `http://127.0.0.1:${srv.address().port}/video/${id}` });
        return send(Buffer.from('MEDIA:' + id), 'image/jpeg');
      }
      if (p.startsWith('/video/')) return send(Buffer.from('VIDEO:' + p), 'video/mp4');
      res.writeHead(404); res.end();
    });
    fs.writeFileSync(args['port-file'] + '.stats', JSON.stringify(stats));
  });
  srv.listen(0, '127.0.0.1', () => fs.writeFileSync(args['port-file'], String(srv.address().port)));
}

// node sim.js bench --url URL --seconds S --conc C: safe-mode text pushes,
// each a new MsgId, from C concurrent clients for S seconds; prints
// "answered N failed F rate R/s" (only "success" answers count), then
// "client cpu X us per answer" (this process's user + system time).
async function bench(args) {
  const base = args.url, secs = Number(args.seconds || 5), conc = Number(args.conc || 32);
  const agent = new http.Agent({ keepAlive: true, maxSockets: conc });
  const run = crypto.randomBytes(3).readUIntBE(0, 3);
  let n = 0, ok = 0, bad = 0;
  const end = Date.now() + secs * 1000;
  function post(e) {
    return new Promise((resolve) => {
      const u = new URL(e.url);
      const req = http.request({ agent, hostname: u.hostname, port: u.port, path: u.pathname + u.search, method: 'POST',
        headers: { 'Content-Type': 'text/xml', 'Content-Length': Buffer.byteLength(e.body) } }, (res) => {
        let b = ''; res.on('data', (c) => { b += c; }); res.on('end', () => resolve(res.statusCode === 200 && b === 'success'));
      });
      req.on('error', () => resolve(false));
      req.end(e.body);
    });
  }
  async function worker() {
    while (Date.now() < end) {
      const i = n++;
      const xml = `<xml>${cdata('ToUserName', 'gh_97417a04a28d')}${cdata('FromUserName', 'oBench' + (i % 50))}${bare('CreateTime', T_PUSH + i)}${cdata('MsgType', 'text')}${cdata('Content', 'bench message ' + i)}${bare('MsgId', String(run) + String(i).padStart(9, '0'))}</xml>`;
      if (await post(envelope(base, { route: 'oa', mode: 'safe', xml, openid: 'oBench' }))) ok++; else bad++;
    }
  }
  const t0 = Date.now();
  await Promise.all(Array.from({ length: conc }, worker));
  const dt = (Date.now() - t0) / 1000;
  const u = process.cpuUsage();
  console.log(`answered ${ok} failed ${bad} rate ${(ok / dt).toFixed(1)}/s`);
  console.log(`client cpu ${((u.user + u.system) / Math.max(ok, 1)).toFixed(1)} us per answer`);
  agent.destroy();
}

function expect() {
  // distinct messages each route should leave in the ledger
  const b = apiRecords();
  console.log(JSON.stringify({ oa: N_A, wecom_callback: N_C, kf: N_KF, kf_events: kfMessages().filter((m) => m.origin === 4).length,
    records_b: b.length, b_out: b.filter((r) => r.opercode === 2002).length }));
}

const [cmd, ...rest] = process.argv.slice(2);
const args = {};
for (let i = 0; i < rest.length; i++) {
  if (rest[i].startsWith('--')) { const k = rest[i].slice(2); if (i + 1 < rest.length && !rest[i + 1].startsWith('--')) args[k] = rest[++i]; else args[k] = true; }
}
({ api, push, bad, bench, 'verify-get': verifyGet, expect })[cmd](args);
