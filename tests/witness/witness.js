#!/usr/bin/env node
// tests/witness/witness.js - an independent, test-only C2SP tlog-witness,
// written from the specification texts (c2sp.org/tlog-witness,
// c2sp.org/tlog-cosignature, c2sp.org/signed-note, c2sp.org/tlog-checkpoint,
// RFC 9162 §2.1.4.2) with Node's built-in crypto only (no npm packages).
// It shares no code with chatledger: it checks chatledger's checkpoints and
// consistency proofs, and chatledger checks its cosignatures.
//
//   node witness.js serve --state FILE --name NAME --log VKEY [--log VKEY]...
//       prints "vkey <witness vkey>" then "listening port N" on stdout
//   node witness.js verify-cosig --vkey VKEY --note FILE
//       exit 0 if FILE (a checkpoint with signature lines) carries a valid
//       cosignature/v1 line by VKEY (type 0x04), else 1
'use strict';
const crypto = require('crypto');
const fs = require('fs');
const http = require('http');

const EM = '\u2014 ';
const sha256 = (b) => crypto.createHash('sha256').update(b).digest();
const b64url = (b) => b.toString('base64').replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');

function keyId(name, type, pk) {
  return sha256(Buffer.concat([Buffer.from(name + '\n'), Buffer.from([type]), pk])).subarray(0, 4);
}

// name+hex8(id)+base64(type||pk)
function parseVkey(s, wantType) {
  const m = /^([^+\s]+)\+([0-9a-fA-F]{8})\+([A-Za-z0-9+/=]+)$/.exec(s);
  if (!m) throw new Error('bad vkey');
  const raw = Buffer.from(m[3], 'base64');
  if (raw.toString('base64') !== m[3] || raw.length !== 33 || raw[0] !== wantType) throw new Error('bad vkey key');
  const pk = raw.subarray(1);
  if (!keyId(m[1], wantType, pk).equals(Buffer.from(m[2], 'hex'))) throw new Error('bad vkey id');
  return { name: m[1], id: Buffer.from(m[2], 'hex'), pk,
    key: crypto.createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: b64url(pk) }, format: 'jwk' }) };
}

// A signed note: text up to the last blank line, then signature lines.
function parseNote(buf) {
  const s = buf.toString('utf8');
  if (!Buffer.from(s, 'utf8').equals(buf) || !s.endsWith('\n')) throw new Error('not a note');
  const cut = s.lastIndexOf('\n\n');
  if (cut < 0) throw new Error('no blank line');
  const text = s.slice(0, cut + 1);
  const sigs = s.slice(cut + 2).split('\n').slice(0, -1).map((l) => {
    if (!l.startsWith(EM)) throw new Error('bad signature line');
    const sp = l.indexOf(' ', 2);
    const blob = Buffer.from(l.slice(sp + 1), 'base64');
    if (sp < 0 || blob.toString('base64') !== l.slice(sp + 1) || blob.length < 5) throw new Error('bad signature');
    return { name: l.slice(2, sp), id: blob.subarray(0, 4), blob, line: l + '\n' };
  });
  if (sigs.length === 0) throw new Error('no signatures');
  return { text, sigs };
}

function parseCheckpoint(text) {
  const lines = text.split('\n');
  if (lines.length < 4 || !/^(0|[1-9][0-9]*)$/.test(lines[1])) throw new Error('bad checkpoint');
  const root = Buffer.from(lines[2], 'base64');
  if (root.length !== 32 || root.toString('base64') !== lines[2]) throw new Error('bad root');
  return { origin: lines[0], size: BigInt(lines[1]), root };
}

const node = (l, r) => sha256(Buffer.concat([Buffer.from([1]), l, r]));

// RFC 9162 §2.1.4.2
function verifyConsistency(size1, size2, root1, root2, proof) {
  if (size1 === size2) return proof.length === 0 && root1.equals(root2);
  if (size1 === 0n || size1 > size2 || proof.length === 0) return false;
  let p = proof.slice();
  if ((size1 & (size1 - 1n)) === 0n) p = [root1].concat(p);
  let fn = size1 - 1n, sn = size2 - 1n;
  while (fn & 1n) { fn >>= 1n; sn >>= 1n; }
  let fr = p[0], sr = p[0];
  for (const c of p.slice(1)) {
    if (sn === 0n) return false;
    if ((fn & 1n) || fn === sn) {
      fr = node(c, fr); sr = node(c, sr);
      if (!(fn & 1n)) while (!(fn & 1n) && fn !== 0n) { fn >>= 1n; sn >>= 1n; }
    } else {
      sr = node(sr, c);
    }
    fn >>= 1n; sn >>= 1n;
  }
  return sn === 0n && fr.equals(root1) && sr.equals(root2);
}

function cosigMessage(time, text) {
  return Buffer.from(`cosignature/v1\ntime ${time}\n${text}`, 'utf8');
}

function args(argv) {
  const o = { log: [] };
  for (let i = 0; i < argv.length; i += 2) {
    const k = argv[i].replace(/^--/, '');
    if (k === 'log') o.log.push(argv[i + 1]); else o[k] = argv[i + 1];
  }
  return o;
}

function saveState(file, st) {
  const tmp = file + '.tmp';
  const fd = fs.openSync(tmp, 'w', 0o600);
  fs.writeSync(fd, JSON.stringify(st));
  fs.fsyncSync(fd);
  fs.closeSync(fd);
  fs.renameSync(tmp, file);
}

function serve(o) {
  let st;
  try { st = JSON.parse(fs.readFileSync(o.state, 'utf8')); } catch (e) {
    const { privateKey } = crypto.generateKeyPairSync('ed25519');
    st = { jwk: privateKey.export({ format: 'jwk' }), logs: {} };
  }
  for (const v of o.log) {
    const k = parseVkey(v, 0x01);
    if (!st.logs[k.name]) st.logs[k.name] = { vkey: v, size: '0', root: null };
  }
  saveState(o.state, st);
  const priv = crypto.createPrivateKey({ key: st.jwk, format: 'jwk' });
  const pk = Buffer.from(st.jwk.x, 'base64');
  const wid = keyId(o.name, 0x04, pk);
  const vkey = `${o.name}+${wid.toString('hex')}+${Buffer.concat([Buffer.from([4]), pk]).toString('base64')}`;

  function addCheckpoint(body) {
    const s = body.toString('utf8');
    const m = /^old (0|[1-9][0-9]*)\n/.exec(s);
    if (!m) return [400, 'bad old line'];
    const old = BigInt(m[1]);
    let pos = m[0].length;
    const proof = [];
    for (;;) {
      const nl = s.indexOf('\n', pos);
      if (nl < 0) return [400, 'no blank line'];
      const l = s.slice(pos, nl);
      pos = nl + 1;
      if (l === '') break;
      const h = Buffer.from(l, 'base64');
      if (h.length !== 32 || h.toString('base64') !== l || proof.length === 63) return [400, 'bad proof line'];
      proof.push(h);
    }
    let note, cp;
    try { note = parseNote(Buffer.from(s.slice(pos), 'utf8')); cp = parseCheckpoint(note.text); } catch (e) { return [400, e.message]; }
    const lg = st.logs[cp.origin];
    if (!lg) return [404, 'unknown log'];
    const lk = parseVkey(lg.vkey, 0x01);
    let good = false;
    for (const g of note.sigs) {
      if (g.name !== lk.name || !g.id.equals(lk.id)) continue;
      if (g.blob.length !== 68 || !crypto.verify(null, Buffer.from(note.text, 'utf8'), lk.key, g.blob.subarray(4))) return [403, 'invalid signature'];
      good = true;
    }
    if (!good) return [403, 'no signature by the log key'];
    if (old > cp.size) return [400, 'old size larger than size'];
    if (old !== BigInt(lg.size)) return [409, `${lg.size}\n`, 'text/x.tlog.size'];
    if (cp.size === 0n && !cp.root.equals(sha256(Buffer.alloc(0)))) return [422, 'bad empty root'];
    if (old === 0n && proof.length) return [422, 'proof from 0 must be empty'];
    if (old > 0n && !verifyConsistency(old, cp.size, Buffer.from(lg.root, 'base64'), cp.root, proof)) return [422, 'consistency proof does not verify'];
    const time = BigInt(Math.floor(Date.now() / 1000));
    const sig = crypto.sign(null, cosigMessage(time, note.text), priv);
    const tb = Buffer.alloc(8); tb.writeBigUInt64BE(time);
    const line = `${EM}${o.name} ${Buffer.concat([wid, tb, sig]).toString('base64')}\n`;
    lg.size = cp.size.toString(); lg.root = cp.root.toString('base64');
    lg.note = note.text + '\n' + note.sigs.map((g) => g.line).join('') + line;
    saveState(o.state, st); // persisted before answering
    return [200, line];
  }

  const srv = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      let r = [404, 'not found\n'];
      if (req.method === 'POST' && req.url.endsWith('/add-checkpoint')) r = addCheckpoint(Buffer.concat(chunks));
      const mm = /\/([0-9a-f]{64})\/checkpoint$/.exec(req.url);
      if (req.method === 'GET' && mm) {
        const lg = Object.entries(st.logs).find(([o2]) => sha256(Buffer.from(o2)).toString('hex') === mm[1]);
        r = lg && lg[1].note ? [200, lg[1].note] : [404, 'never cosigned\n'];
      }
      res.writeHead(r[0], { 'Content-Type': r[2] || 'text/plain; charset=utf-8' });
      res.end(r[1]);
      process.stderr.write(`node-witness: ${req.method} ${req.url} -> ${r[0]}\n`);
    });
  });
  srv.listen(0, '127.0.0.1', () => {
    process.stdout.write(`vkey ${vkey}\nlistening port ${srv.address().port}\n`);
  });
  process.on('SIGTERM', () => srv.close(() => process.exit(0)));
}

function verifyCosig(o) {
  const k = parseVkey(o.vkey, 0x04);
  const note = parseNote(fs.readFileSync(o.note));
  for (const g of note.sigs) {
    if (g.name !== k.name || !g.id.equals(k.id) || g.blob.length !== 76) continue;
    const time = g.blob.readBigUInt64BE(4);
    if (time !== 0n && crypto.verify(null, cosigMessage(time, note.text), k.key, g.blob.subarray(12))) {
      process.stdout.write(`cosigned by ${k.name} at ${time}\n`);
      process.exit(0);
    }
  }
  process.stdout.write('no valid cosignature\n');
  process.exit(1);
}

const cmd = process.argv[2];
const o = args(process.argv.slice(3));
if (cmd === 'serve') serve(o);
else if (cmd === 'verify-cosig') verifyCosig(o);
else { process.stderr.write('usage: witness.js serve|verify-cosig ...\n'); process.exit(2); }
