#!/usr/bin/env node
// selftest.js - check the test peer (walib.js, peer.js) against Baileys'
// own client-side code: makeNoiseHandler as the Noise initiator,
// generateRegistrationNode / generateLoginNode payloads,
// configureSuccessfulPairing for pair-success, getNextPreKeysNode for
// pre-key uploads.  Part 2 runs peer.js as a child process over a real
// TLS WebSocket and drives it with a small client assembled from the same
// Baileys functions.
//
//   node tests/peer/selftest.js     (prints "ok N - ..." lines, then
//                                    "N passed, N failed"; exit 1 on failure)
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { Agent } from 'node:https';
import WebSocket from 'ws';
import makeWASocket from 'baileys';
import { DEFAULT_CONNECTION_CONFIG, NOISE_WA_HEADER } from 'baileys/lib/Defaults/index.js';
import { makeNoiseHandler } from 'baileys/lib/Utils/noise-handler.js';
import { generateRegistrationNode, generateLoginNode, configureSuccessfulPairing } from 'baileys/lib/Utils/validate-connection.js';
import { initAuthCreds } from 'baileys/lib/Utils/auth-utils.js';
import { getNextPreKeysNode } from 'baileys/lib/Utils/signal.js';
import { buildPairingQRData } from 'baileys/lib/Utils/companion-reg-client-utils.js';
import { Curve, derivePairingCodeKey, aesDecryptCTR } from 'baileys/lib/Utils/crypto.js';
import { bytesToCrockford } from 'baileys/lib/Utils/generics.js';
import { encryptMediaRetryRequest, decryptMediaRetryData } from 'baileys/lib/Utils/messages-media.js';
import { openRequest, sealAnswer, RESULT } from './mediaretry.js';
import { encodeBinaryNode, decodeBinaryNode, getBinaryNodeChild, getBinaryNodeChildren } from 'baileys/lib/WABinary/index.js';
import {
	proto, hex, keyPairFromLabel, randomKeyPair, xsign, xverify, makeCertChain, checkCertChain,
	NoiseResponder, CipherState, FrameReader, frame, nodeBody, validateRegistration, validateLogin,
	validatePreKeyUpload, parseQR, buildPairSuccess, checkPairDeviceSign,
	normalizeLinkCode, wrapLinkKey, unwrapLinkKey, validateCompanionHello,
} from './walib.js';

const here = dirname(fileURLToPath(import.meta.url));
const silent = { level: 'silent', child() { return silent; }, trace() {}, debug() {}, info() {}, warn() {}, error() {}, fatal() {} };
const config = { ...DEFAULT_CONNECTION_CONFIG, logger: silent };
const JID = '85291234567:7@s.whatsapp.net';
const LID = '123456789012345:7@lid';

let passed = 0, failed = 0;
function check(name, cond, detail) {
	if (cond) {
		passed++;
		console.log(`ok ${passed + failed} - ${name}`);
	} else {
		failed++;
		console.log(`not ok ${passed + failed} - ${name}${detail ? ` (${detail})` : ''}`);
	}
}
async function checkAsync(name, fn) {
	try {
		const r = await fn();
		check(name, r === true || r === undefined, typeof r === 'string' ? r : undefined);
	} catch (e) {
		check(name, false, e.message);
	}
}
const note = (s) => console.log(`# ${s}`);
const throws = (fn) => {
	try {
		fn();
		return false;
	} catch {
		return true;
	}
};

// ---- XEdDSA ------------------------------------------------------------

{
	const k = keyPairFromLabel('selftest');
	const msg = Buffer.from('message');
	const sig = xsign(k.private, msg);
	const bad = Buffer.from(sig);
	bad[3] ^= 4;
	check('xverify accepts a Curve.sign signature', xverify(k.public, msg, sig));
	check('xverify rejects a flipped signature bit, message bit and key', !xverify(k.public, msg, bad) &&
		!xverify(k.public, Buffer.from('messagf'), sig) && !xverify(keyPairFromLabel('other').public, msg, sig));
	check('keyPairFromLabel agrees with Curve.sharedKey (X25519 of both sides)',
		Curve.sharedKey(k.private, keyPairFromLabel('other').public).equals(
			Curve.sharedKey(keyPairFromLabel('other').private, k.public)));
	if (Curve.verify(k.public, msg, bad))
		note('Baileys Curve.verify accepts a tampered signature (libsignal 6 verifySignature returns false instead of throwing): Baileys checks neither the Noise certificate chain nor the ADV account signature; walib.xverify is strict');
}

// ---- certificates ------------------------------------------------------

const root = keyPairFromLabel('selftest-root');
const intermediate = randomKeyPair();
const serverStatic = randomKeyPair();
const now = Math.floor(Date.now() / 1000);
const chainOpts = { rootPriv: root.private, intermediate, serverStaticPub: serverStatic.public, notBefore: now - 86400, notAfter: now + 86400 * 365, expiredAt: now - 3600 };
const goodChain = makeCertChain(chainOpts);
check('good chain passes checkCertChain', checkCertChain(goodChain, root.public, serverStatic.public, now).ok);
for (const fault of ['wrong-root', 'leaf-mismatch', 'expired']) {
	const r = checkCertChain(makeCertChain({ ...chainOpts, fault }), root.public, serverStatic.public, now);
	check(`fault ${fault}: chain refused (${r.why})`, !r.ok);
}

// ---- Noise: Baileys initiator against walib's responder, in process ----

const loginPayload = Buffer.from(proto.ClientPayload.encode(generateLoginNode(JID, config)).finish());

async function handshakeInProcess(chain) {
	const eph = Curve.generateKeyPair();
	const noiseKey = Curve.generateKeyPair();
	const client = makeNoiseHandler({ keyPair: eph, NOISE_HEADER: NOISE_WA_HEADER, logger: silent });
	const server = new NoiseResponder({ staticKP: serverStatic, certChain: chain });
	const reader = new FrameReader();
	const hello = client.encodeFrame(proto.HandshakeMessage.encode({ clientHello: { ephemeral: eph.public } }).finish());
	const [helloFrame] = reader.push(hello);
	const serverHello = server.onClientHello(helloFrame);
	let got;
	await client.decodeFrame(frame(serverHello), (f) => { got = f; });
	const keyEnc = client.processHandshake(proto.HandshakeMessage.decode(got), noiseKey);
	const payloadEnc = client.encrypt(loginPayload);
	const finish = client.encodeFrame(proto.HandshakeMessage.encode({ clientFinish: { static: keyEnc, payload: payloadEnc } }).finish());
	const [finishFrame] = reader.push(finish);
	const r = server.onClientFinish(finishFrame);
	await client.finishInit();
	return { client, server, reader, r, noiseKey };
}

await checkAsync('Noise XX: Baileys makeNoiseHandler completes a handshake against the responder', async () => {
	const { client, reader, r, noiseKey } = await handshakeInProcess(goodChain);
	if (!r.clientStatic.equals(noiseKey.public))
		return 'client static differs';
	if (!r.payload.equals(loginPayload))
		return 'payload differs';
	const dec = new CipherState(r.keys.c2s);
	const enc = new CipherState(r.keys.s2c);
	// client -> server: three nodes, fed one byte at a time
	const sent = [
		{ tag: 'iq', attrs: { id: '1', xmlns: 'w:p', type: 'get', to: 's.whatsapp.net' }, content: [{ tag: 'ping', attrs: {} }] },
		{ tag: 'iq', attrs: { id: '2', xmlns: 'encrypt', type: 'get', to: 's.whatsapp.net' }, content: [{ tag: 'count', attrs: {} }] },
		{ tag: 'ack', attrs: { id: '3', class: 'notification', to: 's.whatsapp.net' } },
	];
	const wire = Buffer.concat(sent.map((n) => client.encodeFrame(encodeBinaryNode(n))));
	const frames = [];
	for (const b of wire)
		frames.push(...reader.push(Buffer.from([b])));
	if (frames.length !== 3)
		return `${frames.length} frames`;
	for (let i = 0; i < 3; i++) {
		const node = await decodeBinaryNode(dec.decrypt(frames[i]));
		if (node.tag !== sent[i].tag || node.attrs.id !== sent[i].attrs.id)
			return `c2s node ${i} differs`;
	}
	// server -> client: plain and zlib bodies, all in one chunk
	const back = [
		{ tag: 'success', attrs: { t: '1700000000', lid: '123456789012345@lid' } },
		{ tag: 'iq', attrs: { from: 's.whatsapp.net', type: 'set', id: 'x' }, content: [{ tag: 'pair-device', attrs: {}, content: [{ tag: 'ref', attrs: {}, content: Buffer.from('2@abc') }] }] },
		{ tag: 'ib', attrs: {}, content: [{ tag: 'offline', attrs: { count: '0' } }] },
	];
	const out = Buffer.concat(back.map((n, i) => frame(enc.encrypt(nodeBody(n, i === 1)))));
	const recv = [];
	await client.decodeFrame(out, (n) => recv.push(n));
	if (recv.length !== 3 || recv.some((n, i) => n.tag !== back[i].tag))
		return 's2c nodes differ';
	const ref = getBinaryNodeChildren(getBinaryNodeChild(recv[1], 'pair-device'), 'ref')[0];
	return Buffer.from(ref.content).toString() === '2@abc' || 'compressed ref differs';
});

await checkAsync('Noise XX: a transport frame with a flipped bit fails to decrypt', async () => {
	const { client, reader, r } = await handshakeInProcess(goodChain);
	const w = client.encodeFrame(encodeBinaryNode({ tag: 'iq', attrs: { id: '1' } }));
	w[w.length - 1] ^= 1;
	const [f] = reader.push(w);
	return throws(() => new CipherState(r.keys.c2s).decrypt(f));
});

// ---- ClientPayload -----------------------------------------------------

const creds = initAuthCreds();
{
	const reg = proto.ClientPayload.decode(proto.ClientPayload.encode(generateRegistrationNode(creds, config)).finish());
	const v = validateRegistration(reg);
	check('Baileys generateRegistrationNode passes validateRegistration', v.problems.length === 0, v.problems.join('; '));
	check('registration identity is eIdent', v.identity && v.identity.equals(creds.signedIdentityKey.public));
	const bad = proto.ClientPayload.decode(proto.ClientPayload.encode(generateRegistrationNode(creds, config)).finish());
	bad.devicePairingData.eSkeySig = Buffer.from(bad.devicePairingData.eSkeySig);
	bad.devicePairingData.eSkeySig[0] ^= 1;
	bad.devicePairingData.eSkeyId = Buffer.from([0, 0, 0, 1]);
	bad.devicePairingData.buildHash = Buffer.alloc(16);
	const bp = validateRegistration(bad).problems;
	check('tampered registration payload: eSkeySig, eSkeyId, buildHash reported', bp.length === 3, bp.join('; '));
	const login = proto.ClientPayload.decode(loginPayload);
	const lp = validateLogin(login, JID);
	check('Baileys generateLoginNode passes validateLogin', lp.length === 0, lp.join('; '));
	check('login for another device is reported', validateLogin(login, '85291234567:8@s.whatsapp.net').length === 1);
}

// ---- pairing: walib's phone against Baileys' configureSuccessfulPairing --

const account = keyPairFromLabel('selftest-account');
function pairSuccess(extra = {}) {
	return buildPairSuccess({
		id: 'ps-1', t: now, jid: JID, lid: LID, identityPub: creds.signedIdentityKey.public,
		advSecret: Buffer.from(creds.advSecretKey, 'base64'), account, rawId: 123456789, timestamp: now,
		keyIndex: 3, ...extra,
	});
}
async function viaWire(node) {
	return decodeBinaryNode(encodeBinaryNode(node));
}
for (const hosted of [false, true]) {
	const name = hosted ? 'hosted' : 'E2EE';
	await checkAsync(`pair-success (${name}): Baileys accepts it and the pair-device-sign reply passes checkPairDeviceSign`, async () => {
		const b = pairSuccess({ hosted });
		const { reply, creds: upd } = configureSuccessfulPairing(await viaWire(b.node), creds);
		if (upd.me.id !== JID || upd.me.lid !== LID || upd.me.name !== 'Test Ltd' || upd.platform !== 'smba')
			return 'creds update differs';
		const r = checkPairDeviceSign(await viaWire(reply), {
			details: b.details, accountSignature: b.accountSignature, identityPub: creds.signedIdentityKey.public,
			accountPub: account.public, keyIndex: 3, hosted,
		});
		return r.ok || r.why;
	});
}
check('fault hmac: Baileys refuses the pair-success', throws(() => configureSuccessfulPairing(pairSuccess({ fault: 'hmac' }).node, creds)));
check('hosted pair-success whose HMAC lacks the 0x06 0x05 prefix: Baileys refuses it',
	throws(() => configureSuccessfulPairing(pairSuccess({ hosted: true, fault: 'hosted-hmac-no-prefix' }).node, creds)));
check('missing device-identity: Baileys refuses the pair-success', throws(() => configureSuccessfulPairing(pairSuccess({ fault: 'no-device-identity' }).node, creds)));
{
	const b = pairSuccess({ fault: 'account-sig' });
	const ok = xverify(account.public, Buffer.concat([Buffer.from([6, 0]), b.details, creds.signedIdentityKey.public]), b.accountSignature);
	const good = pairSuccess();
	check('fault account-sig: the account signature fails strict XEdDSA verification (good one passes)', !ok &&
		xverify(account.public, Buffer.concat([Buffer.from([6, 0]), good.details, creds.signedIdentityKey.public]), good.accountSignature));
	if (!throws(() => configureSuccessfulPairing(b.node, creds)))
		note('Baileys configureSuccessfulPairing accepts the tampered account signature (its Curve.verify always passes); peer.js flags a client that signs it');
}
{
	const b = pairSuccess();
	const { reply } = configureSuccessfulPairing(b.node, creds);
	const expect = { details: b.details, accountSignature: b.accountSignature, identityPub: creds.signedIdentityKey.public, accountPub: account.public, keyIndex: 3 };
	const di = getBinaryNodeChild(getBinaryNodeChild(reply, 'pair-device-sign'), 'device-identity');
	const a = proto.ADVSignedDeviceIdentity.decode(di.content);
	const withKey = { ...reply, content: [{ tag: 'pair-device-sign', attrs: {}, content: [{ ...di, content: proto.ADVSignedDeviceIdentity.encode({ ...a, accountSignatureKey: account.public }).finish() }] }] };
	const badSig = { ...reply, content: [{ tag: 'pair-device-sign', attrs: {}, content: [{ ...di, content: proto.ADVSignedDeviceIdentity.encode({ ...a, deviceSignature: xsign(randomKeyPair().private, Buffer.from('x')) }).finish() }] }] };
	const badIdx = { ...reply, content: [{ tag: 'pair-device-sign', attrs: {}, content: [{ ...di, attrs: { 'key-index': '4' } }] }] };
	check('checkPairDeviceSign refuses: accountSignatureKey kept, wrong deviceSignature, wrong key-index',
		!checkPairDeviceSign(withKey, expect).ok && !checkPairDeviceSign(badSig, expect).ok && !checkPairDeviceSign(badIdx, expect).ok);
}
{
	const qr = buildPairingQRData('2@ref', Buffer.from(creds.noiseKey.public).toString('base64'),
		Buffer.from(creds.signedIdentityKey.public).toString('base64'), creds.advSecretKey, config.browser);
	const q = parseQR(qr);
	const q4 = parseQR(qr.split('#')[1].split(',').slice(0, 4).join(','));
	check('parseQR reads Baileys buildPairingQRData (and the 4-field form)', q.ref === '2@ref' && q.noise.equals(creds.noiseKey.public) &&
		q.identity.equals(creds.signedIdentityKey.public) && q.advSecret.equals(Buffer.from(creds.advSecretKey, 'base64')) &&
		q.platform === '1' && q4.ref === '2@ref' && q4.platform === null);
}

// ---- pairing code: walib's phone primitives against Baileys' -------------

await checkAsync('pairing code: walib wrapLinkKey/unwrapLinkKey agree with Baileys derivePairingCodeKey + AES-CTR', async () => {
	const code = bytesToCrockford(Buffer.from('0123456789', 'hex'));
	const k = randomKeyPair();
	const w = wrapLinkKey(code, k.public);
	const key = await derivePairingCodeKey(code, w.subarray(0, 32));
	const viaBaileys = Buffer.from(aesDecryptCTR(w.subarray(48, 80), key, w.subarray(32, 48)));
	return (w.length === 80 && viaBaileys.equals(k.public) && unwrapLinkKey(code, w).equals(k.public) &&
		!unwrapLinkKey('11111111', w).equals(k.public)) || 'mismatch';
});
await checkAsync('pairing code: the C collector\'s hello (tests/wa/vectors/paircode.json) passes validateCompanionHello with the 0x00 nonce', async () => {
	const v = JSON.parse(readFileSync(join(here, '..', 'wa', 'vectors', 'paircode.json'), 'utf8'));
	const node = await decodeBinaryNode(Buffer.concat([Buffer.from([0]), Buffer.from(v.hello, 'hex')]));
	const r = validateCompanionHello(node, { phone: v.phone, noiseStatic: Buffer.from(v.companion.noise_pub, 'hex') });
	const other = validateCompanionHello(node, { phone: '85290000000', noiseStatic: randomKeyPair().public });
	return (r.problems.length === 0 && r.nonce === 'byte-0' && other.problems.length === 2) ||
		JSON.stringify([r.problems, other.problems]);
});
check('normalizeLinkCode takes ABCD-EFGH and lower case, refuses I/O/U/0 and wrong lengths',
	normalizeLinkCode('abcd-efgh') === 'ABCDEFGH' && normalizeLinkCode('ABCDEFG') === null &&
	normalizeLinkCode('ABCDEFGI') === null && normalizeLinkCode('0BCDEFGH') === null && normalizeLinkCode('UBCDEFGH') === null);

// ---- pre-key upload ------------------------------------------------------

function memoryKeys() {
	const data = {};
	return {
		get: async (type, ids) => Object.fromEntries(ids.filter((id) => data[type]?.[id]).map((id) => [id, data[type][id]])),
		set: async (d) => {
			for (const type of Object.keys(d))
				Object.assign((data[type] ||= {}), d[type]);
		},
	};
}
await checkAsync('media retry: a request from Baileys encryptMediaRetryRequest opens with the peer\'s openRequest', async () => {
	const mediaKey = Buffer.alloc(32, 7);
	const req = encryptMediaRetryRequest({ id: 'RMRSELF1', remoteJid: '85290000002@s.whatsapp.net', fromMe: false }, mediaKey, JID);
	const enc = getBinaryNodeChild(req, 'encrypt');
	const ct = getBinaryNodeChild(enc, 'enc_p').content, iv = getBinaryNodeChild(enc, 'enc_iv').content;
	if (openRequest(ct, iv, mediaKey, 'RMRSELF1') !== 'RMRSELF1')
		return 'stanza id differs';
	return throws(() => openRequest(ct, iv, Buffer.alloc(32, 8), 'RMRSELF1')) ? true : 'opened with the wrong key';
});

await checkAsync('media retry: the peer\'s sealAnswer opens with Baileys decryptMediaRetryData', async () => {
	const mediaKey = Buffer.alloc(32, 9);
	const a = sealAnswer(mediaKey, 'RMRSELF2', RESULT.SUCCESS, '/v/t62.7118-24/new.enc?ccb=11-4');
	const m = decryptMediaRetryData(a, mediaKey, 'RMRSELF2');
	if (m.result !== RESULT.SUCCESS || m.directPath !== '/v/t62.7118-24/new.enc?ccb=11-4' || m.stanzaId !== 'RMRSELF2')
		return JSON.stringify(m);
	return throws(() => decryptMediaRetryData(a, mediaKey, 'RMRSELF3')) ? true : 'opened under another message id';
});

await checkAsync('Baileys getNextPreKeysNode upload passes validatePreKeyUpload', async () => {
	const { node } = await getNextPreKeysNode({ creds, keys: memoryKeys() }, 30);
	const r = validatePreKeyUpload(await viaWire(node), creds.signedIdentityKey.public);
	return (r.problems.length === 0 && r.count === 30) || r.problems.join('; ');
});
await checkAsync('pre-key upload: wrong identity, duplicate id, bad skey signature reported', async () => {
	const { node } = await getNextPreKeysNode({ creds, keys: memoryKeys() }, 5);
	const n = await viaWire(node);
	const list = getBinaryNodeChild(n, 'list');
	list.content[1] = list.content[0];
	const sig = getBinaryNodeChild(getBinaryNodeChild(n, 'skey'), 'signature');
	sig.content = Buffer.from(sig.content);
	sig.content[0] ^= 1;
	const r = validatePreKeyUpload(n, randomKeyPair().public);
	return r.problems.length === 3 || r.problems.join('; ');
});

// ---- part 2: peer.js over a real TLS WebSocket ---------------------------

class PeerProc {
	constructor(args) {
		this.events = [];
		this.waiters = [];
		this.proc = spawn(process.execPath, [join(here, 'peer.js'), ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
		this.stderr = '';
		this.proc.stderr.on('data', (d) => { this.stderr += d; });
		createInterface({ input: this.proc.stdout }).on('line', (line) => {
			let ev;
			try {
				ev = JSON.parse(line);
			} catch {
				ev = { ev: 'bad-json', line };
			}
			this.events.push(ev);
			this.waiters = this.waiters.filter((w) => !w(ev));
		});
	}
	// wait for an event (by name or predicate) not seen before index `from`
	wait(pred, ms = 4000) {
		const p = typeof pred === 'string' ? (e) => e.ev === pred : pred;
		const seen = this.events.slice(this.mark || 0).find(p);
		if (seen) {
			this.mark = this.events.indexOf(seen) + 1;
			return Promise.resolve(seen);
		}
		return new Promise((resolve, reject) => {
			const t = setTimeout(() => reject(new Error(`timeout waiting for ${pred}; last events: ${this.events.slice(-4).map((e) => e.ev).join(',')}`)), ms);
			this.waiters.push((e) => {
				if (!p(e))
					return false;
				clearTimeout(t);
				this.mark = this.events.indexOf(e) + 1;
				resolve(e);
				return true;
			});
		});
	}
	cmd(line) {
		this.proc.stdin.write(`${line}\n`);
	}
	quit() {
		this.proc.stdin.end('quit\n');
		return new Promise((r) => this.proc.on('exit', r));
	}
}

// A tiny client made of Baileys pieces over a real ws connection.
class Client {
	constructor(port, creds) {
		this.creds = creds;
		this.nodes = [];
		this.waiters = [];
		this.eph = Curve.generateKeyPair();
		this.noise = makeNoiseHandler({ keyPair: this.eph, NOISE_HEADER: NOISE_WA_HEADER, logger: silent });
		this.ws = new WebSocket(`wss://127.0.0.1:${port}/ws/chat`, { rejectUnauthorized: false, origin: 'https://web.whatsapp.com' });
		this.closed = new Promise((r) => this.ws.on('close', r));
		this.ws.on('error', () => {});
		this.handshakeMsg = null;
		this.ws.on('message', (d) => {
			this.noise.decodeFrame(Buffer.from(d), (f) => {
				if (!this.transport) {
					this.handshakeMsg = f;
					this.onHandshake?.();
				} else {
					this.nodes.push(f);
					this.waiters = this.waiters.filter((w) => !w(f));
				}
			});
		});
	}
	async connect(payload) {
		await new Promise((r, j) => { this.ws.on('open', r); this.ws.on('error', j); });
		const got = new Promise((r) => { this.onHandshake = r; });
		this.ws.send(this.noise.encodeFrame(proto.HandshakeMessage.encode({ clientHello: { ephemeral: this.eph.public } }).finish()));
		await got;
		const keyEnc = this.noise.processHandshake(proto.HandshakeMessage.decode(this.handshakeMsg), this.creds.noiseKey);
		const enc = this.noise.encrypt(proto.ClientPayload.encode(payload).finish());
		this.ws.send(this.noise.encodeFrame(proto.HandshakeMessage.encode({ clientFinish: { static: keyEnc, payload: enc } }).finish()));
		await this.noise.finishInit();
		this.transport = true;
	}
	send(node) {
		this.ws.send(this.noise.encodeFrame(encodeBinaryNode(node)));
	}
	wait(pred, ms = 4000) {
		const seen = this.nodes.find(pred);
		if (seen) {
			this.nodes.splice(this.nodes.indexOf(seen), 1);
			return Promise.resolve(seen);
		}
		return new Promise((resolve, reject) => {
			const t = setTimeout(() => reject(new Error('timeout waiting for a node')), ms);
			this.waiters.push((n) => {
				if (!pred(n))
					return false;
				clearTimeout(t);
				this.nodes.splice(this.nodes.indexOf(n), 1);
				resolve(n);
				return true;
			});
		});
	}
}

const tmp = mkdtempSync(join(tmpdir(), 'cl-peer-selftest-'));
let tlsOk = true;
try {
	execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
		'-keyout', join(tmp, 'key.pem'), '-out', join(tmp, 'cert.pem'), '-days', '2', '-subj', '/CN=localhost'], { stdio: 'ignore' });
} catch {
	tlsOk = false;
}
check('openssl made a throwaway TLS certificate', tlsOk);

async function e2e() {
	const peer = new PeerProc(['--port', '0', '--tls-cert', join(tmp, 'cert.pem'), '--tls-key', join(tmp, 'key.pem'), '--refs', '3']);
	try {
		const listening = await peer.wait('listening');
		const port = listening.port;
		check('peer.js prints listening with port, root_pub, server_static_pub', port > 0 && listening.root_pub.length === 64 && listening.server_static_pub.length === 64);
		const c = new Client(port, creds);
		await c.connect(generateRegistrationNode(creds, config));
		const hs = await peer.wait('handshake');
		check('registration handshake over wss: mode register, no problems, client static matches',
			hs.mode === 'register' && hs.problems.length === 0 && hs.client_static_pub === hex(creds.noiseKey.public), JSON.stringify(hs.problems));
		const pd = await c.wait((n) => getBinaryNodeChild(n, 'pair-device'));
		const refs = getBinaryNodeChildren(getBinaryNodeChild(pd, 'pair-device'), 'ref').map((r) => Buffer.from(r.content).toString());
		const pdEv = await peer.wait('pair-device');
		check('pair-device (zlib frame) decoded by Baileys carries the refs of the pair-device event', refs.length === 3 && refs.join() === pdEv.refs.join());
		c.send({ tag: 'iq', attrs: { to: 's.whatsapp.net', type: 'result', id: pd.attrs.id } });
		await peer.wait('pair-device-ack');
		const qr = buildPairingQRData(refs[1], Buffer.from(creds.noiseKey.public).toString('base64'),
			Buffer.from(creds.signedIdentityKey.public).toString('base64'), creds.advSecretKey, config.browser);
		check('QR starts with expected_qr_prefix when built from ref 0', buildPairingQRData(refs[0], Buffer.from(creds.noiseKey.public).toString('base64'),
			Buffer.from(creds.signedIdentityKey.public).toString('base64'), creds.advSecretKey, config.browser).startsWith(pdEv.expected_qr_prefix));
		peer.cmd('scan 2@not-a-ref,AAAA,BBBB,CCCC');
		await peer.wait('scan-refused');
		peer.cmd(`scan ${qr}`);
		await peer.wait('scan-ok');
		await peer.wait('pair-success-sent');
		const ps = await c.wait((n) => getBinaryNodeChild(n, 'pair-success'));
		const { reply, creds: upd } = configureSuccessfulPairing(ps, creds);
		c.send(reply);
		const sign = await peer.wait('pair-device-sign');
		check('pair-device-sign from Baileys accepted by peer.js', sign.ok === true && sign.key_index === '1', sign.why);
		await peer.wait('restart-sent');
		const se = await c.wait((n) => n.tag === 'stream:error');
		check('peer sends stream:error 515 then closes', se.attrs.code === '515');
		await c.closed;
		await peer.wait((e) => e.ev === 'closed' && e.by === 'peer');

		// login
		const c2 = new Client(port, creds);
		await c2.connect(generateLoginNode(upd.me.id, config));
		const hs2 = await peer.wait('handshake');
		check('login handshake: mode login, no problems', hs2.mode === 'login' && hs2.problems.length === 0, JSON.stringify(hs2.problems));
		const success = await c2.wait((n) => n.tag === 'success');
		check('success carries t and lid', /^[0-9]+$/.test(success.attrs.t) && success.attrs.lid === '123456789012345@lid');
		await c2.wait((n) => n.tag === 'ib' && getBinaryNodeChild(n, 'offline'));
		const lok = await peer.wait('login-ok');
		check('login-ok event names user and device', lok.username === '85291234567' && lok.device === 7);
		c2.send({ tag: 'iq', attrs: { id: 'q1', xmlns: 'encrypt', type: 'get', to: 's.whatsapp.net' }, content: [{ tag: 'count', attrs: {} }] });
		const cnt = await c2.wait((n) => n.attrs.id === 'q1');
		check('count query answered with 0', getBinaryNodeChild(cnt, 'count')?.attrs.value === '0' && (await peer.wait('count-query')).value === 0);
		const { node: up } = await getNextPreKeysNode({ creds, keys: memoryKeys() }, 812);
		c2.send({ ...up, attrs: { ...up.attrs, id: 'q2' } });
		await c2.wait((n) => n.attrs.id === 'q2' && n.attrs.type === 'result');
		const pk = await peer.wait('prekeys');
		check('812 pre-keys uploaded and validated', pk.ok && pk.count === 812 && pk.identity_checked, JSON.stringify(pk.problems));
		c2.send({ tag: 'iq', attrs: { id: 'q3', xmlns: 'encrypt', type: 'get', to: 's.whatsapp.net' }, content: [{ tag: 'count', attrs: {} }] });
		check('count is 812 after the upload', getBinaryNodeChild(await c2.wait((n) => n.attrs.id === 'q3'), 'count')?.attrs.value === '812');
		c2.send({ tag: 'iq', attrs: { id: 'q4', xmlns: 'passive', type: 'set', to: 's.whatsapp.net' }, content: [{ tag: 'active', attrs: {} }] });
		await c2.wait((n) => n.attrs.id === 'q4');
		await peer.wait('active');
		c2.send({ tag: 'iq', attrs: { id: 'q5', xmlns: 'w:p', type: 'get', to: 's.whatsapp.net' } });
		c2.send({ tag: 'iq', attrs: { id: 'q6', xmlns: 'w:p', type: 'get', to: 's.whatsapp.net' }, content: [{ tag: 'ping', attrs: {} }] });
		await c2.wait((n) => n.attrs.id === 'q5' && n.attrs.type === 'result');
		await c2.wait((n) => n.attrs.id === 'q6' && n.attrs.type === 'result');
		check('both ping forms answered', (await peer.wait('ping')).count === 1 && (await peer.wait('ping')).count === 2);
		peer.cmd('low-prekeys');
		const notif = await c2.wait((n) => n.tag === 'notification');
		check('low-prekeys notification shape', notif.attrs.type === 'encrypt' && notif.attrs.from === 's.whatsapp.net' && getBinaryNodeChild(notif, 'count')?.attrs.value === '3');
		c2.send({ tag: 'ack', attrs: { id: notif.attrs.id, class: 'notification', type: 'encrypt', to: 's.whatsapp.net' } });
		const na = await peer.wait('notification-ack');
		check('notification ack reported by id and type', na.id === notif.attrs.id && na.type === 'encrypt');
		c2.send({ tag: 'presence', attrs: { type: 'unavailable', name: 'selftest-probe' } });
		const st = await peer.wait('stanza');
		check('other stanzas reported as xml', st.xml.includes('<presence') && st.xml.includes('selftest-probe'));
		peer.cmd('device-removed');
		const dr = await c2.wait((n) => n.tag === 'stream:error');
		check('device-removed: stream:error 401 with conflict device_removed', dr.attrs.code === '401' && getBinaryNodeChild(dr, 'conflict')?.attrs.type === 'device_removed');
		await c2.closed;

		// queued failure, then drop, down/up
		peer.cmd('next-failure 402 1900000000');
		const c3 = new Client(port, creds);
		await c3.connect(generateLoginNode(upd.me.id, config));
		const fl = await c3.wait((n) => n.tag === 'failure');
		check('next-failure answers the next login with <failure reason expire>', fl.attrs.reason === '402' && fl.attrs.expire === '1900000000' &&
			(await peer.wait('login-refused')).reason === '402');
		await c3.closed;
		const c4 = new Client(port, creds);
		await c4.connect(generateLoginNode(upd.me.id, config));
		await c4.wait((n) => n.tag === 'success');
		peer.cmd('drop');
		await c4.closed;
		await peer.wait((e) => e.ev === 'closed' && e.by === 'peer');
		peer.cmd('down');
		await new Promise((r) => setTimeout(r, 150));
		const refused = await new Promise((r) => {
			const ws = new WebSocket(`wss://127.0.0.1:${port}/ws/chat`, { rejectUnauthorized: false });
			ws.on('open', () => { ws.terminate(); r(false); });
			ws.on('error', () => r(true));
		});
		peer.cmd('up');
		await new Promise((r) => setTimeout(r, 150));
		const c5 = new Client(port, creds);
		await c5.connect(generateLoginNode(upd.me.id, config));
		await c5.wait((n) => n.tag === 'success');
		check('down refuses connections, up accepts them again on the same port', refused);
		c5.ws.close();
		await c5.closed;
		await peer.wait((e) => e.ev === 'closed' && e.by === 'client');
		check('peer event lines are all JSON with ev and t', peer.events.every((e) => typeof e.ev === 'string' && typeof e.t === 'number' && e.ev !== 'bad-json'));
	} finally {
		await peer.quit();
	}

	// faults: hmac tampered -> Baileys refuses; min-build -> 405
	const peer2 = new PeerProc(['--port', '0', '--tls-cert', join(tmp, 'cert.pem'), '--tls-key', join(tmp, 'key.pem'), '--fault', 'hmac', '--min-build', '1']);
	try {
		const { port } = await peer2.wait('listening');
		const creds2 = initAuthCreds();
		const c = new Client(port, creds2);
		await c.connect(generateRegistrationNode(creds2, config));
		const pd = await c.wait((n) => getBinaryNodeChild(n, 'pair-device'));
		const ref = Buffer.from(getBinaryNodeChildren(getBinaryNodeChild(pd, 'pair-device'), 'ref')[0].content).toString();
		peer2.cmd(`scan ${buildPairingQRData(ref, Buffer.from(creds2.noiseKey.public).toString('base64'), Buffer.from(creds2.signedIdentityKey.public).toString('base64'), creds2.advSecretKey, config.browser)}`);
		const ps = await c.wait((n) => getBinaryNodeChild(n, 'pair-success'));
		check('--fault hmac: Baileys refuses the pair-success from peer.js', throws(() => configureSuccessfulPairing(ps, creds2)));
		c.send({ tag: 'iq', attrs: { to: 's.whatsapp.net', type: 'error', id: ps.attrs.id }, content: [{ tag: 'error', attrs: { code: '401', text: 'hmac-mismatch' } }] });
		const per = await peer2.wait('pair-error-reply');
		check('pair-error-reply reports code and text', per.code === 401 && per.text === 'hmac-mismatch');
		c.ws.close();
		const old = generateLoginNode(JID, { ...config, version: [2, 3000, 0] });
		const c2 = new Client(port, creds2);
		await c2.connect(old);
		const f = await c2.wait((n) => n.tag === 'failure');
		check('--min-build: an older build gets <failure reason="405"/>', f.attrs.reason === '405');
		await c2.closed;
	} finally {
		await peer2.quit();
	}

	// --fault leaf-mismatch: handshake works (Baileys does not check) but the chain fails checkCertChain
	const peer3 = new PeerProc(['--port', '0', '--tls-cert', join(tmp, 'cert.pem'), '--tls-key', join(tmp, 'key.pem'), '--fault', 'leaf-mismatch']);
	try {
		const l = await peer3.wait('listening');
		const creds3 = initAuthCreds();
		const c = new Client(l.port, creds3);
		await new Promise((r, j) => { c.ws.on('open', r); c.ws.on('error', j); });
		const got = new Promise((r) => { c.onHandshake = r; });
		c.ws.send(c.noise.encodeFrame(proto.HandshakeMessage.encode({ clientHello: { ephemeral: c.eph.public } }).finish()));
		await got;
		// decrypt the chain with a second, manual initiator run over the same messages
		const sh = proto.HandshakeMessage.decode(c.handshakeMsg).serverHello;
		const n2 = makeNoiseHandler({ keyPair: c.eph, NOISE_HEADER: NOISE_WA_HEADER, logger: silent });
		n2.authenticate(sh.ephemeral);
		n2.mixIntoKey(Curve.sharedKey(c.eph.private, sh.ephemeral));
		const S = n2.decrypt(sh.static);
		n2.mixIntoKey(Curve.sharedKey(c.eph.private, S));
		const chainBytes = n2.decrypt(sh.payload);
		const r = checkCertChain(chainBytes, Buffer.from(l.root_pub, 'hex'), S, Math.floor(Date.now() / 1000));
		check('--fault leaf-mismatch: served chain fails the leaf = static check', !r.ok && /leaf key/.test(r.why), r.why);
		check('server static in the listening event is the Noise static', hex(S) === l.server_static_pub);
		c.ws.terminate();
	} finally {
		await peer3.quit();
	}
}

// Pairing code, end to end: Baileys' whole socket (makeWASocket,
// requestPairingCode, its link_code_companion_reg notification handler,
// configureSuccessfulPairing) against peer.js, with the right code and
// with a wrong one.
async function pairCodeRun(enter) {
	const peer = new PeerProc(['--port', '0', '--tls-cert', join(tmp, 'cert.pem'), '--tls-key', join(tmp, 'key.pem')]);
	let sock;
	try {
		const { port } = await peer.wait('listening');
		const keyData = {};
		const keys = {
			get: async (type, ids) => Object.fromEntries(ids.filter((id) => keyData[type]?.[id]).map((id) => [id, keyData[type][id]])),
			set: async (d) => {
				for (const type of Object.keys(d))
					Object.assign((keyData[type] ||= {}), d[type]);
			},
		};
		const bcreds = initAuthCreds();
		sock = makeWASocket({
			auth: { creds: bcreds, keys }, waWebSocketUrl: `wss://127.0.0.1:${port}/ws/chat`,
			agent: new Agent({ rejectUnauthorized: false }), logger: silent, browser: ['Ubuntu', 'Chrome', '22.04.4'],
			markOnlineOnConnect: false,
		});
		const code = await new Promise((resolve, reject) => {
			let asked = false;
			sock.ev.on('connection.update', (u) => {
				if (u.qr && !asked) {
					asked = true;
					sock.requestPairingCode('85291234567').then(resolve, reject);
				}
			});
		});
		const hello = await peer.wait('pair-code-hello');
		peer.cmd(`enter-code ${enter(code)}`);
		await peer.wait('pair-code-primary-hello');
		return { peer, code, hello, creds: bcreds };
	} catch (e) {
		sock?.end();
		await peer.quit();
		throw e;
	} finally {
		peer.sock = sock;
	}
}
async function pairCodeE2E() {
	const good = await pairCodeRun((c) => c);
	try {
		check('pair code: Baileys requestPairingCode hello accepted by peer.js (phone, 80-byte key, Noise key, "Chrome (Ubuntu)", id 1, nonce "0")',
			good.hello.ok && good.hello.phone === '85291234567' && good.hello.platform_display === 'Chrome (Ubuntu)' &&
			good.hello.platform_id === '1' && good.hello.nonce === 'text-0' && /^3@/.test(good.hello.ref), JSON.stringify(good.hello.problems));
		const fin = await good.peer.wait('pair-code-finish');
		check('pair code: Baileys companion_finish opens on the phone, identities match', fin.ok, JSON.stringify(fin.problems));
		await good.peer.wait('pair-success-sent');
		const sign = await good.peer.wait('pair-device-sign');
		check('pair code: Baileys accepts the pair-success HMAC\'d with the derived ADV secret and signs it', sign.ok === true, sign.why);
		await good.peer.wait('restart-sent');
	} finally {
		good.peer.sock?.end();
		await good.peer.quit();
	}
	const bad = await pairCodeRun((c) => (c[0] === 'Z' ? 'Y' : 'Z') + c.slice(1));
	try {
		const r = await bad.peer.wait((e) => e.ev === 'pair-code-refused' || e.ev === 'pair-code-finish' || e.ev === 'pair-success-sent');
		check('pair code: a wrong code entered on the phone: the key bundle does not open, pair-code-refused, no pair-success',
			r.ev === 'pair-code-refused' && /does not decrypt/.test(r.why));
	} finally {
		bad.peer.sock?.end();
		await bad.peer.quit();
	}
	check('pair code: Baileys shows XXXXXXXX codes in the linking alphabet', normalizeLinkCode(good.code) === good.code);
}

if (tlsOk) {
	await checkAsync('end-to-end run against peer.js finished', async () => {
		await Promise.race([e2e(), new Promise((_, j) => setTimeout(() => j(new Error('e2e timeout')), 15000))]);
	});
	await checkAsync('pairing-code run (Baileys makeWASocket) against peer.js finished', async () => {
		await Promise.race([pairCodeE2E(), new Promise((_, j) => setTimeout(() => j(new Error('pairing-code timeout')), 15000))]);
	});
}
rmSync(tmp, { recursive: true, force: true });
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
