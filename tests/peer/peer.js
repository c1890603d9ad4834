#!/usr/bin/env node
// peer.js - a local stand-in for "the WhatsApp server plus the user's
// phone", for chatledger's collector tests.  HTTPS + WebSocket on
// loopback, path /ws/chat; Noise XX responder with a test certificate
// chain; QR pairing, login, pre-keys, pings; scripted faults.
//
//   node tests/peer/peer.js --port P --tls-cert FILE --tls-key FILE [options]
//
// Options: --root-seed HEX, --fault NAME[,NAME], --min-build N,
// --prekey-count N, --refs N, --account-seed HEX, --jid J, --lid L.
// Pairing code: the client's companion_hello is checked and answered
// with a ref; `enter-code CODE` plays the user typing the code on the
// phone.  Commands on stdin (one per line), events on stdout (one JSON object a
// line, each with "ev" and "t" = ms since the epoch); diagnostics go to
// stderr.  The contract is described in tests/peer/README.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:https';
import { createInterface } from 'node:readline';
import { createHash, randomBytes } from 'node:crypto';
import { buildHistory, encryptMedia } from './history.js';
import { WebSocketServer } from 'ws';
import { decodeBinaryNode, binaryNodeToString, getBinaryNodeChild, getAllBinaryNodeChildren, jidDecode } from 'baileys/lib/WABinary/index.js';
import {
	proto, hex, unhex, keyPairFromPrivate, randomKeyPair, makeCertChain, NoiseResponder, CipherState,
	FrameReader, frame, nodeBody, validateRegistration, validateLogin, protoToJson, appVersionOf,
	validatePreKeyUpload, parseQR, buildPairSuccess, checkPairDeviceSign, randomRef, randomId, QR_PREFIX,
	normalizeLinkCode, wrapLinkKey, unwrapLinkKey, x25519, validateCompanionHello, buildPrimaryHello, openCompanionFinish,
} from './walib.js';
import { openRequest, sealAnswer, RESULT } from './mediaretry.js';
import { Sender, bundleFromUpload, buildMessage, randomMsgId, useWasmSigning, consecutiveSenderKeys } from './sender.js';

// Fixed test constants (private keys; clamped before use).
const DEFAULT_ROOT_SEED = '10c3a5b1f0e2d4c6b8a09f8e7d6c5b4a39281706f5e4d3c2b1a0918273645546';
const DEFAULT_ACCOUNT_SEED = '20d4b6c2e1f3a5b7c9d0e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7';
const FAULTS = ['wrong-root', 'leaf-mismatch', 'expired', 'hmac', 'account-sig'];

function log(...a) {
	process.stderr.write(`peer: ${a.join(' ')}\n`);
}
function emit(ev, fields = {}) {
	process.stdout.write(`${JSON.stringify({ ev, t: Date.now(), ...fields })}\n`);
}
function usage(msg) {
	process.stderr.write(`peer: ${msg}\nusage: node peer.js --port P --tls-cert FILE --tls-key FILE [--root-seed HEX] [--fault ${FAULTS.join('|')}] [--min-build N] [--prekey-count N] [--refs N] [--account-seed HEX] [--jid J] [--lid L] [--chop]\n`);
	process.exit(2);
}

// ---- options -------------------------------------------------------------

const opt = {
	port: null, cert: null, key: null, rootSeed: DEFAULT_ROOT_SEED, faults: new Set(), minBuild: 0,
	prekeyCount: 0, refs: 6, accountSeed: DEFAULT_ACCOUNT_SEED,
	jid: '85291234567:7@s.whatsapp.net', lid: '123456789012345:7@lid',
};
{
	const a = process.argv.slice(2);
	const int = (v, name) => {
		if (!/^[0-9]+$/.test(v ?? ''))
			usage(`${name} wants a non-negative integer`);
		return Number(v);
	};
	const seed = (v, name) => {
		if (!/^[0-9a-fA-F]{64}$/.test(v ?? ''))
			usage(`${name} wants 64 hex digits`);
		return v;
	};
	for (let i = 0; i < a.length; i++) {
		const k = a[i], v = a[i + 1];
		switch (k) {
		case '--port': opt.port = int(v, k); i++; break;
		case '--tls-cert': opt.cert = v; i++; break;
		case '--tls-key': opt.key = v; i++; break;
		case '--root-seed': opt.rootSeed = seed(v, k); i++; break;
		case '--account-seed': opt.accountSeed = seed(v, k); i++; break;
		case '--fault':
			for (const f of String(v).split(',')) {
				if (!FAULTS.includes(f))
					usage(`unknown fault ${f}`);
				opt.faults.add(f);
			}
			i++;
			break;
		case '--min-build': opt.minBuild = int(v, k); i++; break;
		case '--prekey-count': opt.prekeyCount = int(v, k); i++; break;
		case '--refs': opt.refs = int(v, k); i++; break;
		case '--chop': opt.chop = true; break;
		case '--jid': opt.jid = v; i++; break;
		case '--lid': opt.lid = v; i++; break;
		case '-h': case '--help': usage('help'); break;
		default: usage(`unknown argument ${k}`);
		}
	}
	if (opt.port == null || !opt.cert || !opt.key)
		usage('--port, --tls-cert and --tls-key are required');
	if (!jidDecode(opt.jid) || !jidDecode(opt.lid))
		usage('bad --jid or --lid');
	if (opt.refs < 1 || opt.refs > 100)
		usage('--refs must be 1..100');
}

// ---- per-run keys ----------------------------------------------------------

const root = keyPairFromPrivate(unhex(opt.rootSeed));
const account = keyPairFromPrivate(unhex(opt.accountSeed));
const intermediate = randomKeyPair();
const serverStatic = randomKeyPair();
const nowS = () => Math.floor(Date.now() / 1000);
const certChain = makeCertChain({
	rootPriv: root.private, intermediate, serverStaticPub: serverStatic.public,
	notBefore: nowS() - 86400, notAfter: nowS() + 365 * 86400, expiredAt: nowS() - 3600,
	fault: [...opt.faults].find((f) => ['wrong-root', 'leaf-mismatch', 'expired'].includes(f)),
});
const advFault = opt.faults.has('hmac') ? 'hmac' : opt.faults.has('account-sig') ? 'account-sig' : undefined;

const state = {
	connections: 0,
	cur: null, // the most recent connection
	prekeyCount: opt.prekeyCount,
	previewExtra: 0, // the next login's offline_preview claims this many more messages
	nextFailure: null, // {reason, expire}
	pairings: 0,
	pairedIdentity: null, // identity pub of the last successful pairing in this run
	registrationIdentity: null, // eIdent of the last registration payload
	uploadedIds: new Set(),
	bundle: null, // the collector's pre-key bundle, from its upload
	outbox: new Map(), // id -> { item, node, delivered, retries }
	senders: new Map(), // device JID -> Sender
	devices: null, // our number's device ids (the phone 0 and the collector)
	media: new Map(), // path -> { data, hash }: what the media host serves
};

// ---- messages to the collector (sender.js) ---------------------------------

let workQueue = Promise.resolve();
function enqueue(fn) {
	workQueue = workQueue.then(fn).catch((e) => log(`work: ${e.stack || e}`));
	return workQueue;
}

function senderFor(jid) {
	let s = state.senders.get(jid);
	if (!s) {
		s = new Sender(jid);
		state.senders.set(jid, s);
	}
	return s;
}

// Build (encrypt) the stanza for item; opts.retry: a resend after a retry
// receipt (no fault, the sender key distribution included again).
async function buildStanza(it, retry = false) {
	const to = opt.jid;
	const snd = senderFor(it.from);
	let message = buildMessage(it);
	const group = it.chat.endsWith('@g.us');
	const ownUser = jidDecode(opt.jid).user;
	const fromMe = jidDecode(it.from).user === ownUser;
	const attrs = { id: it.id, t: String(it.t), type: it.kind === 'reaction' ? 'reaction' : 'text' };
	if (it.notify)
		attrs.notify = it.notify;
	if (it.category)
		attrs.category = it.category;
	if (it.kind === 'edit')
		attrs.edit = '1';
	if (it.kind === 'revoke')
		attrs.edit = '7';
	let content;
	if (group) {
		attrs.from = it.chat;
		attrs.participant = it.from;
		if (retry)
			snd.skdmSent.delete(it.chat);
		content = await snd.encGroup(to, state.bundle, it.chat, message, !retry && !!it.missingKey);
	} else {
		attrs.from = it.from;
		if (fromMe) {
			attrs.recipient = it.chat;
			message = { deviceSentMessage: { destinationJid: it.chat, message } };
		}
		content = [await snd.enc1(to, state.bundle, message, !retry && !!it.badMac)];
	}
	if (it.lid && !group)
		attrs.sender_lid = it.lid;
	if (it.lid && group)
		attrs.participant_lid = it.lid;
	return { tag: 'message', attrs, content };
}

function deliver(id, offline = false) {
	const o = state.outbox.get(id);
	const c = state.cur;
	if (!o || !c || c.closed || !c.loggedIn)
		return false;
	const node = offline ? { ...o.node, attrs: { ...o.node.attrs, offline: '1' } } : o.node;
	c.send(node);
	return true;
}

async function sendItem(it) {
	if (!state.bundle)
		throw new Error('no pre-key bundle from the collector yet');
	it.id = it.id || randomMsgId();
	it.t = it.t || nowS();
	if (it.kind === 'image' && !it.media) { // real media on the media host
		const plain = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), randomBytes(1000 + (it.id.charCodeAt(5) % 16) * 100)]);
		const e = encryptMedia(plain, 'WhatsApp Image Keys');
		const path = `/v/t62.7118-24/${randomBytes(8).toString('hex')}.enc`;
		if (it.mediaFault === 'mac')
			e.body[e.body.length - 1] ^= 0xff;
		if (it.mediaFault === 'mac')
			e.fileEncSha256 = createHash('sha256').update(e.body).digest();
		// gone*: 404 at first; on a media retry request the phone
		// uploads it again (gone), answers <error code=2> (gone-lost),
		// or never answers (gone-silent)
		if (String(it.mediaFault).startsWith('gone'))
			it.goneMedia = { data: e.body, hash: e.fileEncSha256.toString('base64url') };
		else
			state.media.set(path, { data: e.body, hash: e.fileEncSha256.toString('base64url') });
		it.media = { mediaKey: e.mediaKey, fileEncSha256: e.fileEncSha256, fileSha256: e.fileSha256, fileLength: plain.length, directPath: `${path}?ccb=11-4&oh=x` };
	}
	const node = await buildStanza(it);
	state.outbox.set(it.id, { item: it, node, delivered: false, retries: 0 });
	emit('sent', { id: it.id, from: it.from, chat: it.chat, kind: it.kind, text: it.text ?? null, target: it.target ?? null, lid: it.lid ?? null, media_sha256: it.media ? it.media.fileSha256.toString('hex') : null, media_fault: it.mediaFault ?? null });
	deliver(it.id);
}

// The collector's media retry request (a receipt type=server-error to
// our own number), answered as the phone would (mediaretry.js).
function onMediaRetryRequest(node) {
	const a = node.attrs;
	const enc = getBinaryNodeChild(node, 'encrypt');
	const rmr = getBinaryNodeChild(node, 'rmr');
	const o = state.outbox.get(a.id);
	const mediaKey = o?.item?.media?.mediaKey;
	const ev = { id: a.id, to: a.to ?? null, jid: rmr?.attrs.jid ?? null, from_me: rmr?.attrs.from_me ?? null,
		participant: rmr?.attrs.participant ?? null, known: !!o, opened: false };
	try {
		ev.opened = !!(mediaKey && enc && openRequest(getBinaryNodeChild(enc, 'enc_p').content,
			getBinaryNodeChild(enc, 'enc_iv').content, mediaKey, a.id) === a.id);
	} catch {
		ev.opened = false;
	}
	emit('media-retry-request', ev);
	const c = state.cur;
	const how = o?.item?.mediaFault;
	if (!c || !ev.opened || !rmr || how === 'gone-silent')
		return;
	const base = { tag: 'notification', attrs: { from: `${OWN()}@s.whatsapp.net`, type: 'mediaretry', id: a.id, t: String(nowS()) } };
	const rmrNode = { tag: 'rmr', attrs: { ...rmr.attrs } };
	if (how === 'gone-lost') {
		c.send({ ...base, content: [rmrNode, { tag: 'error', attrs: { code: '2' } }] });
		emit('media-retry-answer', { id: a.id, result: 'error-2' });
		return;
	}
	const path = `/v/t62.7118-24/${randomBytes(8).toString('hex')}.enc`;
	state.media.set(path, o.item.goneMedia);
	const ans = sealAnswer(mediaKey, a.id, RESULT.SUCCESS, `${path}?ccb=11-4&oh=y`);
	c.send({ ...base, content: [rmrNode, { tag: 'encrypt', attrs: {}, content: [
		{ tag: 'enc_p', attrs: {}, content: ans.ciphertext }, { tag: 'enc_iv', attrs: {}, content: ans.iv }] }] });
	emit('media-retry-answer', { id: a.id, result: 'success', path });
}

async function onRetryReceipt(id, count) {
	const o = state.outbox.get(id);
	if (!o || o.delivered)
		return;
	o.retries++;
	o.node = await buildStanza(o.item, true);
	emit('retry', { id, count: Number(count || 0) });
	deliver(id);
}

// A mixed script of n messages over 1:1 chats and groups, from contacts,
// our own phone (device-sent), another companion, in a group with LID.
const OWN = () => jidDecode(opt.jid).user;
function scriptItems(n, tag) {
	const contacts = ['85290000001', '85290000002', '85290000003'];
	const groups = ['120363000000000001@g.us', '120363000000000002@g.us'];
	const kinds = ['text', 'text', 'reply', 'reaction', 'edit', 'revoke', 'location', 'contact', 'poll', 'image', 'ephemeral', 'text'];
	const items = [];
	const last = new Map(); // chat -> last {id, from}
	for (let i = 0; i < n; i++) {
		const group = i % 3 === 2;
		let chat, from, lid = null;
		const who = i % 7;
		if (group) {
			chat = groups[i % 2];
			from = who === 0 ? `${OWN()}:0@s.whatsapp.net` : who === 1 ? `${OWN()}:3@s.whatsapp.net` : `${contacts[i % 3]}:0@s.whatsapp.net`;
			if (who > 1 && i % 2)
				lid = `7700000000${i % 3}@lid`;
		} else {
			const c = contacts[i % 3];
			chat = `${c}@s.whatsapp.net`;
			from = who === 0 ? `${OWN()}:0@s.whatsapp.net` : who === 1 ? `${OWN()}:3@s.whatsapp.net` : `${c}:0@s.whatsapp.net`;
			if (who > 1)
				lid = `7700000000${i % 3}@lid`;
		}
		let kind = kinds[i % kinds.length];
		const prev = last.get(chat);
		if (['reply', 'reaction', 'edit', 'revoke'].includes(kind) && !prev)
			kind = 'text';
		if ((kind === 'edit' || kind === 'revoke') && prev && prev.from !== from)
			kind = 'text'; // only the author edits or revokes
		const it = { from, chat, kind, lid, text: `${tag} m${i} ${kind} ${randomBytes(3).toString('hex')}` };
		if (kind === 'reaction')
			it.text = '\u{1F44D}';
		if (prev && ['reply', 'reaction', 'edit', 'revoke'].includes(kind)) {
			it.target = prev.id;
			it.targetSender = prev.from;
			it.targetFromMe = prev.from.startsWith(`${OWN()}:`);
		}
		if (kind === 'revoke')
			it.text = undefined;
		it.id = randomMsgId();
		if (kind === 'text' || kind === 'reply' || kind === 'image')
			last.set(chat, { id: it.id, from });
		items.push(it);
	}
	return items;
}


// ---- rate-controlled runs (bench/collector.sh) -----------------------------
//
// `prepare N TAG` encrypts a mixed stream of N messages ahead of time (the
// Signal sessions and sender keys advance in order, as they would live)
// and keeps each stanza's encoded body; `rate R SECONDS` then only
// frames (Noise transport encryption) and sends them at R messages/s on
// absolute deadlines (a late tick catches up instead of drifting),
// timing each message from its send to the collector's receipt.  The
// per-message sent/receipt events are not emitted; `rate-done` sums up.

const prepared = []; // [{ id, body, group }] in send order
let rateRun = null; // the run in progress: { idx: id -> k, ackT, acked }

// A receipt for a message of the run in progress: timed, true.
function rateReceipt(id) {
	const r = rateRun;
	const k = r ? r.idx.get(id) : undefined;
	if (k === undefined)
		return false;
	if (!r.ackT[k]) {
		r.ackT[k] = performance.now();
		r.acked++;
	}
	return true;
}

// iterations: 'consecutive' (libsignal, official clients) or 'baileys'
// (every skmsg skips one sender-key iteration; see sender.js)
async function prepareItems(n, tag, iterations) {
	if (!state.bundle)
		throw new Error('no pre-key bundle from the collector yet');
	await useWasmSigning();
	consecutiveSenderKeys(iterations !== 'baileys');
	const t0 = performance.now();
	// no images: their media downloads run on the collector's ticks, not
	// on the receive path this run measures
	const items = scriptItems(n, tag).map((it) => (it.kind === 'image' ? { ...it, kind: 'text' } : it));
	let groups = 0;
	for (let i = 0; i < items.length; i++) {
		const it = items[i];
		it.t = nowS();
		const node = await buildStanza(it);
		state.outbox.set(it.id, { item: it, node, delivered: false, retries: 0 });
		const group = it.chat.endsWith('@g.us');
		groups += group ? 1 : 0;
		prepared.push({ id: it.id, body: nodeBody(node), group });
		if (i % 32 === 31) // let the connection (pings, receipts) be served
			await new Promise((res) => setImmediate(res));
	}
	consecutiveSenderKeys(false);
	await useWasmSigning(false);
	emit('prepared', { count: items.length, iterations: iterations === 'baileys' ? 'baileys' : 'consecutive', groups, direct: items.length - groups, total: prepared.length, ms: Math.round(performance.now() - t0) });
}

const pct = (sorted, p) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] : null);
const r2 = (x) => (x == null ? null : Math.round(x * 100) / 100);

async function rateSend(rate, seconds, drainMs) {
	const c = state.cur;
	if (!c || c.closed || !c.loggedIn || !c.enc)
		return emit('rate-done', { error: 'no logged-in connection' });
	const want = Math.round(rate * seconds);
	const list = prepared.splice(0, want);
	const n = list.length;
	if (!n || rate <= 0)
		return emit('rate-done', { error: 'nothing prepared (prepare N first) or rate <= 0' });
	const sendT = new Float64Array(n), due = new Float64Array(n);
	const run = { idx: new Map(list.map((p, k) => [p.id, k])), ackT: new Float64Array(n), acked: 0 };
	rateRun = run;
	const period = 1000 / rate;
	const t0 = performance.now() + 2;
	let next = 0;
	await new Promise((resolve) => {
		const tick = () => {
			const now = performance.now();
			while (next < n && t0 + next * period <= now && !c.closed) {
				c.out(frame(c.enc.encrypt(list[next].body)));
				due[next] = t0 + next * period;
				sendT[next] = performance.now();
				next++;
			}
			if (next >= n || c.closed)
				return resolve();
			setTimeout(tick, Math.max(0, t0 + next * period - performance.now()));
		};
		setTimeout(tick, 2);
	});
	const sentN = next;
	const lastSend = sentN ? sendT[sentN - 1] : t0;
	while (run.acked < sentN && performance.now() - lastSend < drainMs && !c.closed)
		await new Promise((res) => setTimeout(res, 20));
	rateRun = null;
	const lat = [], fromDue = [], lag = [];
	let lastAck = 0;
	for (let k = 0; k < sentN; k++) {
		lag.push(sendT[k] - due[k]);
		if (!run.ackT[k])
			continue;
		lat.push(run.ackT[k] - sendT[k]);
		fromDue.push(run.ackT[k] - due[k]);
		lastAck = Math.max(lastAck, run.ackT[k]);
	}
	const num = (a, b) => a - b;
	lat.sort(num);
	fromDue.sort(num);
	lag.sort(num);
	// p99 per 10-second window: does the latency drift over the run?
	const windows = [];
	for (let w = 0; w * 10000 < lastSend - sendT[0] + 1; w++) {
		const ws = [];
		for (let k = 0; k < sentN; k++)
			if (run.ackT[k] && sendT[k] - sendT[0] >= w * 10000 && sendT[k] - sendT[0] < (w + 1) * 10000)
				ws.push(run.ackT[k] - sendT[k]);
		ws.sort(num);
		windows.push({ from_s: w * 10, count: ws.length, p50: r2(pct(ws, 50)), p99: r2(pct(ws, 99)) });
	}
	// p99 per second of sending (where a stall shows)
	const bySecond = [];
	for (let k = 0, w = []; k <= sentN; k++) {
		if (k === sentN || (w.length && Math.floor((sendT[k] - sendT[0]) / 1000) !== bySecond.length)) {
			w.sort(num);
			bySecond.push(r2(pct(w, 99)));
			w = [];
		}
		if (k < sentN && run.ackT[k])
			w.push(run.ackT[k] - sendT[k]);
	}
	const span = (lastSend - sendT[0]) / 1000;
	emit('rate-done', {
		offered: rate, seconds, prepared: n, sent: sentN, receipted: run.acked,
		achieved: r2(sentN > 1 ? (sentN - 1) / span : 0),
		receipt_rate: r2(lat.length && lastAck > sendT[0] ? lat.length / ((lastAck - sendT[0]) / 1000) : 0),
		send_span_s: r2(span),
		p50: r2(pct(lat, 50)), p90: r2(pct(lat, 90)), p99: r2(pct(lat, 99)), p999: r2(pct(lat, 99.9)), max: r2(lat[lat.length - 1]),
		due_p50: r2(pct(fromDue, 50)), due_p99: r2(pct(fromDue, 99)), due_max: r2(fromDue[fromDue.length - 1]),
		lag_p99: r2(pct(lag, 99)), lag_max: r2(lag[lag.length - 1]),
		groups: list.slice(0, sentN).filter((p) => p.group).length, windows, p99_by_s: bySecond,
	});
}

// ---- connections -----------------------------------------------------------

const SERVER = 's.whatsapp.net';

class Conn {
	constructor(ws, n) {
		this.ws = ws;
		this.n = n;
		this.phase = 'hello';
		this.reader = new FrameReader();
		this.noise = new NoiseResponder({ staticKP: serverStatic, certChain });
		this.queue = Promise.resolve();
		this.closingByPeer = false;
		this.closed = false;
		this.pings = 0;
		ws.on('message', (data, isBinary) => {
			this.queue = this.queue.then(() => this.onMessage(Buffer.from(data), isBinary)).catch((e) => {
				log(`conn ${n}: ${e.stack || e}`);
			});
		});
		ws.on('close', () => {
			this.closed = true;
			emit('closed', { n, by: this.closingByPeer ? 'peer' : 'client' });
			if (state.cur === this)
				state.cur = null;
		});
		ws.on('error', (e) => log(`conn ${n}: ws error: ${e.message}`));
	}

	async onMessage(data, isBinary) {
		if (this.closed || this.phase === 'dead')
			return;
		if (!isBinary) {
			this.fail('text WebSocket message');
			return;
		}
		let frames;
		try {
			frames = this.reader.push(data);
		} catch (e) {
			this.fail(e.message);
			return;
		}
		for (const f of frames) {
			if (this.phase === 'dead')
				return;
			await this.onFrame(f);
		}
	}

	fail(why) {
		if (this.phase === 'transport') {
			log(`conn ${this.n}: ${why}; dropping`);
		} else
			emit('handshake-failed', { n: this.n, why });
		this.phase = 'dead';
		this.drop();
	}

	async onFrame(f) {
		if (this.phase === 'hello') {
			let reply;
			try {
				reply = this.noise.onClientHello(f);
			} catch (e) {
				this.fail(`clientHello: ${e.message}`);
				return;
			}
			this.phase = 'finish';
			this.out(frame(reply));
			return;
		}
		if (this.phase === 'finish') {
			let r, payload;
			try {
				r = this.noise.onClientFinish(f);
			} catch (e) {
				this.fail(`clientFinish: ${e.message}`);
				return;
			}
			try {
				payload = proto.ClientPayload.decode(r.payload);
			} catch (e) {
				this.fail(`ClientPayload does not parse: ${e.message}`);
				return;
			}
			this.dec = new CipherState(r.keys.c2s);
			this.enc = new CipherState(r.keys.s2c);
			this.clientStatic = r.clientStatic;
			this.phase = 'transport';
			this.onPayload(payload);
			return;
		}
		let node;
		try {
			const body = this.dec.decrypt(f);
			node = await decodeBinaryNode(body);
		} catch (e) {
			this.fail(`bad transport frame: ${e.message}`);
			return;
		}
		this.onNode(node);
	}

	send(node, compress = false) {
		if (this.closed || !this.enc)
			return;
		this.out(frame(this.enc.encrypt(nodeBody(node, compress))));
	}
	// One WebSocket message per frame; with --chop, the bytes of everything
	// sent in one turn of the event loop are cut into random 1..48-byte
	// messages, so frames are split across messages and several frames
	// share one (WebSocket boundaries mean nothing on this transport).
	out(bytes) {
		if (!opt.chop) {
			this.ws.send(bytes);
			return;
		}
		this.pending = this.pending ? Buffer.concat([this.pending, bytes]) : Buffer.from(bytes);
		if (this.flushing)
			return;
		this.flushing = true;
		setImmediate(() => {
			const all = this.pending;
			this.pending = null;
			this.flushing = false;
			for (let i = 0; i < all.length;) {
				const n = 1 + Math.floor(Math.random() * 48);
				if (!this.closed)
					this.ws.send(all.subarray(i, i + n));
				i += n;
			}
		});
	}
	close() {
		if (this.flushing) { // let chopped bytes go out first
			setImmediate(() => this.close());
			return;
		}
		this.closingByPeer = true;
		this.ws.close(1000);
	}
	drop() {
		this.closingByPeer = true;
		this.ws.terminate();
	}
	streamError(content, attrs = {}) {
		this.send({ tag: 'stream:error', attrs, content });
		this.close();
	}

	onPayload(p) {
		const register = !!p.devicePairingData && (p.username == null || String(p.username) === '0');
		const mode = register ? 'register' : 'login';
		this.mode = mode;
		let problems, reg;
		if (register) {
			reg = validateRegistration(p);
			problems = reg.problems;
		} else
			problems = validateLogin(p, opt.jid);
		const ev = {
			n: this.n, mode, client_static_pub: hex(this.clientStatic),
			payload: protoToJson(proto.ClientPayload, p), problems,
		};
		if (reg && reg.deviceProps)
			ev.device_props = protoToJson(proto.DeviceProps, reg.deviceProps);
		emit('handshake', ev);

		const v = appVersionOf(p);
		if (opt.minBuild && (!v || v[2] < opt.minBuild)) {
			this.refuse({ reason: '405' });
			return;
		}
		if (register) {
			this.identity = reg.identity;
			state.registrationIdentity = reg.identity;
			this.sendPairDevice();
			return;
		}
		if (state.nextFailure) {
			const f = state.nextFailure;
			state.nextFailure = null;
			this.refuse(f);
			return;
		}
		const want = jidDecode(opt.jid);
		if (String(p.username ?? '') !== want.user || Number(p.device || 0) !== Number(want.device || 0)) {
			this.refuse({ reason: '401' });
			return;
		}
		const t = nowS();
		const lidUser = jidDecode(opt.lid).user;
		this.send({
			tag: 'success',
			attrs: {
				t: String(t), props: '0', abprops: '0', location: 'lla', lid: `${lidUser}@lid`,
				creation: String(t - 86400), display_name: '',
			},
		});
		emit('login-ok', { username: String(p.username), device: Number(p.device || 0) });
		this.loggedIn = true;
		// the "server" replays what the collector never receipted, after
		// announcing how many (offline_preview; previewExtra: a shortfall)
		const queued = [...state.outbox].filter(([, o]) => !o.delivered).map(([id]) => id);
		const announced = queued.length + state.previewExtra;
		state.previewExtra = 0;
		this.send({ tag: 'ib', attrs: {}, content: [{ tag: 'offline_preview', attrs: {
			count: String(announced), message: String(announced), notification: '0', receipt: '0', appdata: '0' } }] });
		emit('offline-preview', { message: announced });
		let n = 0;
		for (const id of queued)
			if (deliver(id, true))
				n++;
		if (n)
			emit('redelivered', { count: n });
		this.send({ tag: 'ib', attrs: {}, content: [{ tag: 'offline', attrs: { count: String(n) } }] });
	}

	refuse({ reason, expire }) {
		const attrs = { reason: String(reason) };
		if (expire != null)
			attrs.expire = String(expire);
		this.send({ tag: 'failure', attrs });
		emit('login-refused', { reason: String(reason) });
		this.close();
	}

	sendPairDevice() {
		this.pairDeviceId = randomId();
		this.refs = Array.from({ length: opt.refs }, randomRef);
		this.send({
			tag: 'iq', attrs: { from: SERVER, type: 'set', id: this.pairDeviceId },
			content: [{ tag: 'pair-device', attrs: {}, content: this.refs.map((r) => ({ tag: 'ref', attrs: {}, content: Buffer.from(r) })) }],
		}, true);
		const prefix = `${QR_PREFIX}${this.refs[0]},${this.clientStatic.toString('base64')},${this.identity ? this.identity.toString('base64') : ''},`;
		emit('pair-device', { id: this.pairDeviceId, refs: this.refs, expected_qr_prefix: prefix });
	}

	scan(qr) {
		if (!this.refs)
			return emit('scan-refused', { why: 'the current connection has no pair-device refs' });
		let q;
		try {
			q = parseQR(qr);
		} catch (e) {
			return emit('scan-refused', { why: e.message });
		}
		if (!this.refs.includes(q.ref))
			return emit('scan-refused', { why: 'ref was not sent on this connection' });
		if (!q.noise.equals(this.clientStatic))
			return emit('scan-refused', { why: 'noise key differs from the connection\'s client static key' });
		if (!this.identity || !q.identity.equals(this.identity))
			return emit('scan-refused', { why: 'identity key differs from eIdent of the registration payload' });
		emit('scan-ok', { ref: q.ref });
		this.sendPairSuccess(q.advSecret);
	}

	// pair-success HMAC'd with advSecret (from the QR, or derived by the
	// pairing-code exchange), then wait for pair-device-sign.
	sendPairSuccess(advSecret) {
		const keyIndex = state.pairings + 1;
		this.pairSuccessId = randomId();
		const built = buildPairSuccess({
			id: this.pairSuccessId, t: nowS(), jid: opt.jid, lid: opt.lid, identityPub: this.identity,
			advSecret, account, rawId: randomBytes(4).readUInt32BE(0), timestamp: nowS(),
			keyIndex, fault: advFault,
		});
		this.pairExpect = {
			details: built.details, accountSignature: built.accountSignature, identityPub: this.identity,
			accountPub: account.public, keyIndex,
		};
		this.send(built.node);
		emit('pair-success-sent', { jid: opt.jid, lid: opt.lid });
	}

	// ---- pairing code ----------------------------------------------------

	// <iq xmlns="md" type="set"><link_code_companion_reg stage="companion_hello">
	onPairCodeHello(node) {
		const a = node.attrs || {};
		const phone = jidDecode(opt.jid).user;
		const v = validateCompanionHello(node, { phone, noiseStatic: this.clientStatic });
		if (this.mode !== 'register')
			v.problems.push('companion_hello on a login connection');
		if (!this.identity)
			v.problems.push('no registration identity on this connection');
		const ok = v.problems.length === 0;
		if (ok) {
			// the real server answers with a ref like "3@2:..." (whatsmeow keeps it as a string)
			this.linkCode = { wrapped: v.wrapped, phone: v.phone, ref: Buffer.from(`3@2:${randomBytes(48).toString('base64')}`) };
			this.send({
				tag: 'iq', attrs: { from: SERVER, type: 'result', id: a.id },
				content: [{ tag: 'link_code_companion_reg', attrs: {}, content: [{ tag: 'link_code_pairing_ref', attrs: {}, content: this.linkCode.ref }] }],
			});
		} else {
			// whatsmeow: the server answers 400 to a display it does not accept
			this.send({
				tag: 'iq', attrs: { from: SERVER, type: 'error', id: a.id },
				content: [{ tag: 'error', attrs: { code: '400', text: 'bad-request' } }],
			});
		}
		emit('pair-code-hello', {
			phone: v.phone, ok, problems: v.problems, platform_id: v.platformId, platform_display: v.display,
			nonce: v.nonce, ref: ok ? this.linkCode.ref.toString() : null,
		});
	}

	// The user types the code on the phone: unwrap the companion's
	// ephemeral with it, send primary_hello with ours wrapped the same way.
	enterCode(text) {
		if (!this.linkCode)
			return emit('pair-code-refused', { why: 'no accepted companion_hello on the current connection' });
		const code = normalizeLinkCode(text);
		if (!code)
			return emit('pair-code-refused', { why: 'not an 8-character pairing code' });
		const eph = randomKeyPair();
		const companionEph = unwrapLinkKey(code, this.linkCode.wrapped); // another point if the code is wrong
		this.linkCode.s1 = x25519(eph.private, companionEph);
		this.linkCode.notificationId = randomId();
		this.send(buildPrimaryHello({
			id: this.linkCode.notificationId, t: nowS(), wrapped: wrapLinkKey(code, eph.public),
			identityPub: account.public, ref: this.linkCode.ref,
		}));
		emit('pair-code-primary-hello', { id: this.linkCode.notificationId });
	}

	// <iq xmlns="md" type="set"><link_code_companion_reg stage="companion_finish">
	onPairCodeFinish(node) {
		this.send({ tag: 'iq', attrs: { from: SERVER, type: 'result', id: node.attrs.id } });
		if (!this.linkCode || !this.linkCode.s1)
			return emit('pair-code-finish', { ok: false, problems: ['companion_finish before primary_hello'] });
		const r = openCompanionFinish(node, {
			s1: this.linkCode.s1, ref: this.linkCode.ref, phone: this.linkCode.phone,
			companionIdentity: this.identity, account,
		});
		if (r.refused) {
			// The phone shows an error; nothing more reaches the companion.
			this.linkCode.s1 = null;
			return emit('pair-code-refused', { why: r.refused });
		}
		emit('pair-code-finish', { ok: r.ok, problems: r.problems });
		if (r.ok) {
			this.linkCode = null;
			this.sendPairSuccess(r.advSecret);
		}
	}

	onNode(node) {
		const a = node.attrs || {};
		const kids = Array.isArray(node.content) ? getAllBinaryNodeChildren(node) : [];
		const child = (tag) => getBinaryNodeChild(node, tag);
		const result = () => this.send({ tag: 'iq', attrs: { from: SERVER, type: 'result', id: a.id } });
		if (node.tag === 'iq') {
			if (a.type === 'result' && a.id && a.id === this.pairDeviceId && !kids.length) {
				emit('pair-device-ack', { id: a.id });
				return;
			}
			if (a.id && a.id === this.pairSuccessId && a.type === 'result') {
				const r = checkPairDeviceSign(node, this.pairExpect);
				if (r.ok && advFault) {
					r.ok = false;
					r.why = `client signed a pair-success with fault ${advFault} instead of refusing it`;
				}
				emit('pair-device-sign', r);
				if (r.ok) {
					state.pairings++;
					state.pairedIdentity = this.identity;
					this.streamError(undefined, { code: '515' });
					emit('restart-sent');
				}
				return;
			}
			if (a.id && a.id === this.pairSuccessId && a.type === 'error') {
				const e = child('error');
				emit('pair-error-reply', { code: e ? Number(e.attrs.code) : null, text: e ? e.attrs.text ?? null : null });
				return;
			}
			const lcr = child('link_code_companion_reg');
			if (a.type === 'set' && lcr && lcr.attrs.stage === 'companion_hello') {
				this.onPairCodeHello(node);
				return;
			}
			if (a.type === 'set' && lcr && lcr.attrs.stage === 'companion_finish') {
				this.onPairCodeFinish(node);
				return;
			}
			if (a.xmlns === 'encrypt' && a.type === 'get' && child('count')) {
				this.send({
					tag: 'iq', attrs: { from: SERVER, type: 'result', id: a.id },
					content: [{ tag: 'count', attrs: { value: String(state.prekeyCount) } }],
				});
				emit('count-query', { value: state.prekeyCount });
				return;
			}
			if (a.xmlns === 'encrypt' && a.type === 'set' && child('list')) {
				const identity = state.pairedIdentity || state.registrationIdentity;
				const r = validatePreKeyUpload(node, identity);
				const reused = r.ids.filter((id) => state.uploadedIds.has(id)).length;
				for (const id of r.ids)
					state.uploadedIds.add(id);
				const ok = r.problems.length === 0;
				if (ok) {
					state.prekeyCount = r.count;
					if (!state.bundle) {
						state.bundle = bundleFromUpload(node);
						state.bundle.next = 0;
					} else
						state.bundle.prekeys.push(...bundleFromUpload(node).prekeys);
				}
				result();
				emit('prekeys', { count: r.count, ok, problems: r.problems, reused_ids: reused, identity_checked: !!identity });
				return;
			}
			if (a.xmlns === 'usync' && a.type === 'get' && child('usync')) {
				const own = jidDecode(opt.jid);
				if (!state.devices)
					state.devices = new Set([0, Number(own.device || 0)]);
				this.send({
					tag: 'iq', attrs: { from: SERVER, type: 'result', id: a.id },
					content: [{ tag: 'usync', attrs: { sid: a.id, mode: 'query', last: 'true', index: '0' }, content: [{ tag: 'list', attrs: {}, content: [{
						tag: 'user', attrs: { jid: `${own.user}@s.whatsapp.net` },
						content: [{ tag: 'devices', attrs: {}, content: [{ tag: 'device-list', attrs: {}, content: [...state.devices].sort((x, y) => x - y).map((d) => ({ tag: 'device', attrs: { id: String(d) } })) }] }],
					}] }] }],
				});
				emit('usync', { devices: [...state.devices] });
				return;
			}
			if (a.xmlns === 'w:m' && a.type === 'set' && child('media_conn')) {
				this.send({
					tag: 'iq', attrs: { from: SERVER, type: 'result', id: a.id },
					content: [{ tag: 'media_conn', attrs: { auth: randomBytes(8).toString('hex'), ttl: '3600', auth_ttl: '3600' }, content: [
						{ tag: 'host', attrs: { hostname: `127.0.0.1:${httpsServer.address().port}` } },
					] }],
				});
				emit('media-conn');
				return;
			}
			if (a.xmlns === 'passive' && a.type === 'set' && child('active')) {
				result();
				emit('active');
				return;
			}
			if (a.xmlns === 'w:p' && a.type === 'get') {
				if (state.mutePings) { // a half-open connection
					emit('ping-ignored', { n: this.n });
					return;
				}
				result();
				this.pings++;
				emit('ping', { n: this.n, count: this.pings });
				return;
			}
		}
		if (node.tag === 'receipt') {
			const o = state.outbox.get(a.id);
			if (a.type === 'server-error') {
				onMediaRetryRequest(node);
				return;
			}
			if (a.type !== 'retry' && rateReceipt(a.id)) {
				if (o)
					o.delivered = true;
				return;
			}
			if (a.type === 'retry') {
				const r = child('retry');
				emit('retry-receipt', { id: a.id, count: r ? Number(r.attrs.count) : null, has_registration: !!child('registration') });
				enqueue(() => onRetryReceipt(a.id, r && r.attrs.count));
				return;
			}
			emit('receipt', { id: a.id, type: a.type ?? null, known: !!o, again: !!(o && o.delivered) });
			if (o)
				o.delivered = true;
			return;
		}
		if (node.tag === 'ack' && a.class === 'notification') {
			emit('notification-ack', { id: a.id, type: a.type ?? null, to: a.to ?? null, participant: a.participant ?? null });
			return;
		}
		if (node.tag === 'ack' && a.class === 'message') {
			const o = state.outbox.get(a.id);
			emit('message-ack', { id: a.id });
			if (o)
				o.delivered = true;
			return;
		}
		emit('stanza', { n: this.n, xml: binaryNodeToString(node) });
	}
}

// ---- server ----------------------------------------------------------------

let httpsServer = null;
let wss = null;
const sockets = new Set();
let boundPort = opt.port;
const tls = { cert: readFileSync(opt.cert), key: readFileSync(opt.key) };

function startServer(port) {
	return new Promise((resolve, reject) => {
		const srv = createServer(tls, (req, res) => {
			// the media host: GET /v/...?...&hash=B64URL&mms-type=T&__wa-mms=
			const u = new URL(req.url, 'https://127.0.0.1');
			const body = state.media.get(u.pathname);
			const ok = req.method === 'GET' && body && (u.searchParams.get('hash') ?? '').replace(/=+$/, '') === body.hash &&
				u.searchParams.has('mms-type') && u.searchParams.has('__wa-mms');
			emit('media-get', { path: u.pathname, type: u.searchParams.get('mms-type'), status: ok ? 200 : 404 });
			res.writeHead(ok ? 200 : 404);
			res.end(ok ? body.data : undefined);
		});
		srv.on('connection', (s) => {
			sockets.add(s);
			s.on('close', () => sockets.delete(s));
		});
		const w = new WebSocketServer({ server: srv, path: '/ws/chat', maxPayload: 16 << 20 });
		w.on('connection', (ws, req) => {
			const n = ++state.connections;
			emit('connect', { n });
			log(`conn ${n} from ${req.socket.remoteAddress}, origin ${req.headers.origin ?? '-'}`);
			state.cur = new Conn(ws, n);
		});
		w.on('error', (e) => log(`wss error: ${e.message}`));
		srv.once('error', reject);
		srv.listen(port, '127.0.0.1', () => {
			srv.removeListener('error', reject);
			httpsServer = srv;
			wss = w;
			resolve(srv.address().port);
		});
	});
}

function stopServer() {
	if (!httpsServer)
		return;
	if (state.cur)
		state.cur.closingByPeer = true;
	for (const c of wss.clients)
		c.terminate();
	wss.close();
	httpsServer.close();
	for (const s of sockets)
		s.destroy();
	httpsServer = null;
	wss = null;
}

// ---- commands --------------------------------------------------------------

function need() {
	const c = state.cur;
	if (!c || c.closed) {
		log('no current connection');
		return null;
	}
	return c;
}

async function command(line) {
	const [cmd, ...args] = line.trim().split(/\s+/);
	let c;
	switch (cmd) {
	case '':
		return;
	case 'scan':
		if ((c = need()))
			c.scan(args.join(' '));
		else
			emit('scan-refused', { why: 'no connection' });
		return;
	case 'enter-code':
		if ((c = need()))
			c.enterCode(args.join(''));
		else
			emit('pair-code-refused', { why: 'no connection' });
		return;
	case 'drop':
		if ((c = need()))
			c.drop();
		return;
	case 'close':
		if ((c = need()))
			c.close();
		return;
	case 'stream-error':
		if ((c = need()))
			c.streamError(undefined, { code: String(args[0] ?? '503') });
		return;
	case 'device-removed':
		if ((c = need()))
			c.streamError([{ tag: 'conflict', attrs: { type: 'device_removed' } }], { code: '401' });
		return;
	case 'replaced':
		if ((c = need()))
			c.streamError([{ tag: 'conflict', attrs: { type: 'replaced' } }]);
		return;
	case 'next-failure':
		if (!args[0])
			return log('next-failure needs a reason');
		state.nextFailure = { reason: args[0], expire: args[1] };
		return;
	case 'down':
		stopServer();
		log('down');
		return;
	case 'up':
		if (httpsServer)
			return log('already up');
		try {
			await startServer(boundPort);
			log('up');
		} catch (e) {
			log(`up failed: ${e.message}`);
		}
		return;
	case 'prekey-count':
		state.prekeyCount = Number(args[0] ?? 0);
		return;
	case 'mute-pings': // stop answering keepalives (until unmute-pings)
		state.mutePings = true;
		break;
	case 'unmute-pings':
		state.mutePings = false;
		break;
	case 'preview-extra': // preview-extra K: the next offline_preview claims K more messages than come
		state.previewExtra = Number(args[0] ?? 1);
		return;
	case 'low-prekeys':
		state.prekeyCount = 3;
		if ((c = need()))
			c.send({
				tag: 'notification', attrs: { from: SERVER, type: 'encrypt', id: randomId(), t: String(nowS()) },
				content: [{ tag: 'count', attrs: { value: '3' } }],
			});
		return;
	case 'send': // send {json item}
		await enqueue(() => sendItem(JSON.parse(args.join(' '))));
		return;
	case 'script': { // script N TAG [GAP_MS]: a mixed run of N messages,
		// GAP_MS apart (default: as fast as they encrypt)
		const items = scriptItems(Number(args[0] || 10), args[1] || 's');
		const gap = Number(args[2] || 0);
		for (const it of items) {
			await enqueue(() => sendItem(it));
			if (gap > 0)
				await new Promise((res) => setTimeout(res, gap));
		}
		emit('script-done', { count: items.length });
		return;
	}
	case 'prepare': // prepare N TAG [consecutive|baileys]: encrypt N messages ahead of `rate`
		await enqueue(() => prepareItems(Number(args[0] || 1000), args[1] || 'r', args[2]));
		return;
	case 'rate': // rate R SECONDS [DRAIN_MS]: send what was prepared at R/s
		await enqueue(() => rateSend(Number(args[0] || 1000), Number(args[1] || 10), Number(args[2] || 30000)));
		return;
	case 'history': { // history JSON: a history sync (history.js)
		const spec = JSON.parse(args.join(' ') || '{}');
		const sentItems = [...state.outbox.values()].filter((o) => o.delivered).map((o) => o.item);
		const h = buildHistory(spec, sentItems, OWN());
		if (h.media)
			state.media.set(h.media.path, { data: h.media.data, hash: h.media.hash });
		const it = { id: randomMsgId(), from: `${OWN()}:0@s.whatsapp.net`, chat: `${OWN()}@s.whatsapp.net`, kind: 'history-notification', note: h.note, category: 'peer' };
		await enqueue(() => sendItem(it));
		emit('history-sent', { id: it.id, inline: !!spec.inline, messages: h.messages, included: h.included, chats: h.chats, oldest: h.oldest, end: h.end, fault: spec.fault ?? null });
		return;
	}
	case 'group': { // group JSON: a w:gp2 notification {group, actor, action, participants, subject}
		if (!(c = need()))
			return;
		const g = JSON.parse(args.join(' '));
		const id = g.id ?? randomBytes(6).toString('hex');
		const child = g.action === 'subject' ?
			{ tag: 'subject', attrs: { subject: g.subject, s_t: String(nowS()), s_o: g.actor } } :
			{ tag: g.action, attrs: g.reason ? { reason: g.reason } : {}, content: (g.participants || []).map((j) => ({ tag: 'participant', attrs: { jid: j } })) };
		c.send({ tag: 'notification', attrs: { from: g.group, type: 'w:gp2', id, participant: g.actor, t: String(nowS()), notify: 'Admin' }, content: [child] });
		emit('group-sent', { id, group: g.group, action: g.action });
		return;
	}
	case 'replay-dups': { // re-send the last K receipted stanzas, offline
		const k = Number(args[0] || 5);
		const done = [...state.outbox.entries()].filter(([, o]) => o.delivered).slice(-k);
		let n = 0;
		for (const [id] of done)
			if (deliver(id, true))
				n++;
		emit('replayed', { count: n });
		return;
	}
	case 'link-device': // link-device N: a companion joins our number
	case 'unlink-device': {
		const own = jidDecode(opt.jid);
		const n = Number(args[0]);
		if (!state.devices)
			state.devices = new Set([0, Number(own.device || 0)]);
		const add = cmd === 'link-device';
		if (add)
			state.devices.add(n);
		else
			state.devices.delete(n);
		if ((c = need()))
			c.send({
				tag: 'notification', attrs: { from: `${own.user}@s.whatsapp.net`, type: 'devices', id: randomId(), t: String(nowS()) },
				content: [{ tag: add ? 'add' : 'remove', attrs: {}, content: [{ tag: 'device', attrs: { jid: `${own.user}:${n}@s.whatsapp.net` } }] }],
			});
		emit(add ? 'device-linked' : 'device-unlinked', { device: n });
		return;
	}
	case 'pending': // how many stanzas await a receipt
		emit('pending', { count: [...state.outbox.values()].filter((o) => !o.delivered).length });
		return;
	case 'quit':
		process.exit(0);
		// falls through
	default:
		log(`unknown command ${cmd}`);
	}
}

// ---- main ------------------------------------------------------------------

boundPort = await startServer(opt.port).catch((e) => usage(`listen: ${e.message}`));
emit('listening', {
	port: boundPort, root_pub: hex(root.public), server_static_pub: hex(serverStatic.public),
	account_pub: hex(account.public), faults: [...opt.faults],
});
let cmdQueue = Promise.resolve();
const rl = createInterface({ input: process.stdin });
rl.on('line', (line) => {
	cmdQueue = cmdQueue.then(() => command(line)).catch((e) => log(`command: ${e.stack || e}`));
});
rl.on('close', () => cmdQueue.then(() => process.exit(0)));
