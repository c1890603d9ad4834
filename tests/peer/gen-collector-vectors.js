#!/usr/bin/env node
// gen-collector-vectors.js - known-answer vectors for the C collector's
// Noise handshake, certificate-chain check, XEdDSA verification and ADV
// pairing, recorded from npm baileys@7.0.0-rc14's primitives so the C
// tests run without Node.
//
//   node gen-collector-vectors.js            writes ../wa/vectors/{noise,xeddsa,adv}.json
//   node gen-collector-vectors.js --out DIR  writes DIR/{noise,xeddsa,adv}.json
//
// All keys come from fixed labels (walib.keyPairFromLabel: SHA-256 of a
// label, clamped), and the XEdDSA signer in this libsignal build
// (curve25519-js sign without random input) is deterministic, so the
// output is byte-identical on every run.  Byte strings are lower-case hex.
import { writeFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { DEFAULT_CONNECTION_CONFIG, NOISE_MODE, NOISE_WA_HEADER } from 'baileys/lib/Defaults/index.js';
import { makeNoiseHandler } from 'baileys/lib/Utils/noise-handler.js';
import { generateLoginNode, configureSuccessfulPairing } from 'baileys/lib/Utils/validate-connection.js';
import { encodeBinaryNode, decodeBinaryNode } from 'baileys/lib/WABinary/index.js';
import {
	proto, hex, keyPairFromLabel, xsign, xverify, makeCertChain, checkCertChain, encodeDetails, encodeCertChain,
	NoiseResponder, CipherState, frame, nodeBody, buildPairSuccess, checkPairDeviceSign,
} from './walib.js';

const require = createRequire(import.meta.url);
const GENERATOR = `tests/peer/gen-collector-vectors.js, baileys ${require('baileys/package.json').version}`;
const here = dirname(fileURLToPath(import.meta.url));
let outDir = join(here, '..', 'wa', 'vectors');
if (process.argv[2] === '--out' && process.argv[3])
	outDir = process.argv[3];

function die(msg) {
	process.stderr.write(`gen-collector-vectors: ${msg}\n`);
	process.exit(1);
}
const assert = (c, msg) => c || die(msg);
const silent = { level: 'silent', child() { return silent; }, trace() {}, debug() {}, info() {}, warn() {}, error() {} };
const sha = (s) => createHash('sha256').update(s).digest();

// Field numbers of a protobuf message's top level, in wire order.
function fieldOrder(buf) {
	const out = [];
	let i = 0;
	const varint = () => {
		let v = 0n, s = 0n;
		for (;;) {
			const b = buf[i++];
			v |= BigInt(b & 127) << s;
			s += 7n;
			if (!(b & 128))
				return v;
		}
	};
	while (i < buf.length) {
		const key = Number(varint());
		out.push(key >>> 3);
		switch (key & 7) {
		case 0: varint(); break;
		case 1: i += 8; break;
		case 2: {
			const len = Number(varint()); // read before adding: i moves
			i += len;
			break;
		}
		case 5: i += 4; break;
		default: die(`unexpected wire type ${key & 7} at ${i} in ${hex(buf)}`);
		}
	}
	return out;
}
const ascending = (a) => a.every((v, i) => i === 0 || v > a[i - 1]);

// ---- noise.json ------------------------------------------------------------

const JID = '85291234567:7@s.whatsapp.net';
const LID = '123456789012345:7@lid';
const NOT_BEFORE = 1700000000, NOT_AFTER = 2000000000, NOW = 1800000000;

const root = keyPairFromLabel('noise/root');
const intermediate = keyPairFromLabel('noise/intermediate');
const serverStatic = keyPairFromLabel('noise/server-static');
const serverEph = keyPairFromLabel('noise/server-ephemeral');
const clientStatic = keyPairFromLabel('noise/client-static');
const clientEph = keyPairFromLabel('noise/client-ephemeral');
const otherKey = keyPairFromLabel('noise/not-the-root');

const config = { ...DEFAULT_CONNECTION_CONFIG, logger: silent };
const clientPayload = Buffer.from(proto.ClientPayload.encode(generateLoginNode(JID, config)).finish());
const certChain = makeCertChain({ rootPriv: root.private, intermediate, serverStaticPub: serverStatic.public, notBefore: NOT_BEFORE, notAfter: NOT_AFTER });

async function noiseVectors() {
	const trace = [];
	const responder = new NoiseResponder({ staticKP: serverStatic, certChain, ephemeralKP: serverEph, trace });
	const client = makeNoiseHandler({ keyPair: clientEph, NOISE_HEADER: NOISE_WA_HEADER, logger: silent });
	const clientHello = Buffer.from(proto.HandshakeMessage.encode({ clientHello: { ephemeral: clientEph.public } }).finish());
	const wire0 = client.encodeFrame(clientHello); // prologue + length + hello
	assert(wire0.subarray(0, 4).equals(Buffer.from(NOISE_WA_HEADER)), 'prologue');
	const serverHello = responder.onClientHello(clientHello);
	let got;
	await client.decodeFrame(frame(serverHello), (f) => { got = f; });
	const keyEnc = client.processHandshake(proto.HandshakeMessage.decode(got), clientStatic);
	const payloadEnc = client.encrypt(clientPayload);
	const clientFinish = Buffer.from(proto.HandshakeMessage.encode({ clientFinish: { static: keyEnc, payload: payloadEnc } }).finish());
	await client.finishInit();
	const r = responder.onClientFinish(clientFinish);
	assert(r.clientStatic.equals(clientStatic.public) && r.payload.equals(clientPayload), 'responder disagrees with Baileys');
	assert(checkCertChain(certChain, root.public, serverStatic.public, NOW).ok, 'good chain refused');

	// Transport: c2s frames come from Baileys' TransportState, s2c frames
	// from walib and are checked by Baileys' decoder.
	const nodes = [
		{ tag: 'iq', attrs: { id: '1', xmlns: 'w:p', type: 'get', to: 's.whatsapp.net' }, content: [{ tag: 'ping', attrs: {} }] },
		{ tag: 'iq', attrs: { id: '2', xmlns: 'passive', type: 'set', to: 's.whatsapp.net' }, content: [{ tag: 'active', attrs: {} }] },
		{ tag: 'ack', attrs: { id: '3', class: 'notification', type: 'encrypt', to: 's.whatsapp.net' } },
	];
	const transport = [];
	const mine = new CipherState(r.keys.c2s);
	const c2sPlain = [...nodes.map((n) => encodeBinaryNode(n)), Buffer.alloc(0)];
	c2sPlain.forEach((plain, counter) => {
		const wire = client.encodeFrame(plain);
		const cipher = wire.subarray(3);
		assert(cipher.equals(mine.encrypt(plain)), 'Baileys write key differs from the split');
		transport.push({ dir: 'c2s', counter, plain: hex(plain), cipher: hex(cipher) });
	});
	const s2cNodes = [
		{ tag: 'success', attrs: { t: String(NOW), props: '0', abprops: '0', location: 'lla', lid: '123456789012345@lid', creation: String(NOW - 86400), display_name: '' } },
		{ tag: 'ib', attrs: {}, content: [{ tag: 'offline', attrs: { count: '0' } }] },
		{ tag: 'iq', attrs: { from: 's.whatsapp.net', type: 'set', id: '1800000000.1-2' }, content: [{ tag: 'pair-device', attrs: {}, content: [{ tag: 'ref', attrs: {}, content: Buffer.from('2@ZmlyZWZpcnN0cmVmZmlyc3RyZWZmaXJzdHJlZmZp') }] }] },
	];
	const enc = new CipherState(r.keys.s2c);
	const s2cPlain = s2cNodes.map((n, i) => nodeBody(n, i === 2));
	const s2cWire = [];
	s2cPlain.forEach((plain, counter) => {
		const cipher = enc.encrypt(plain);
		s2cWire.push(frame(cipher));
		transport.push({ dir: 's2c', counter, plain: hex(plain), cipher: hex(cipher) });
	});
	const decoded = [];
	await client.decodeFrame(Buffer.concat(s2cWire), (n) => decoded.push(n));
	assert(decoded.length === 3 && decoded.every((n, i) => n.tag === s2cNodes[i].tag), 'Baileys cannot read the s2c frames');

	// Certificate cases.
	const det = (o) => encodeDetails(o);
	const interD = { serial: 1, issuerSerial: 0, key: intermediate.public, notBefore: NOT_BEFORE, notAfter: NOT_AFTER };
	const leafD = { serial: 2, issuerSerial: 1, key: serverStatic.public, notBefore: NOT_BEFORE, notAfter: NOT_AFTER };
	const chain = ({ inter = {}, leaf = {}, interSigner = root.private, leafSigner = intermediate.private, mut } = {}) => {
		const id = det({ ...interD, ...inter });
		const ld = det({ ...leafD, ...leaf });
		const c = {
			leaf: { details: ld, signature: xsign(leafSigner, ld) },
			intermediate: { details: id, signature: xsign(interSigner, id) },
		};
		if (mut)
			mut(c);
		return encodeCertChain(c);
	};
	const cases = [
		['good', chain(), true],
		['intermediate signed by a key other than the root', chain({ interSigner: otherKey.private }), false],
		['leaf signed by a key other than the intermediate', chain({ leafSigner: otherKey.private }), false],
		['leaf key differs from the server static key', chain({ leaf: { key: otherKey.public } }), false],
		['intermediate issuerSerial is 1, not 0', chain({ inter: { issuerSerial: 1 } }), false],
		['leaf issuerSerial differs from the intermediate serial', chain({ leaf: { issuerSerial: 7 } }), false],
		['intermediate key is 33 bytes (0x05-prefixed)', chain({ inter: { key: Buffer.concat([Buffer.from([5]), intermediate.public]) } }), false],
		['leaf expired (notAfter < now)', chain({ leaf: { notAfter: NOW - 1 } }), false],
		['intermediate expired (notAfter < now)', chain({ inter: { notAfter: NOW - 1 } }), false],
		['intermediate not yet valid (notBefore > now)', chain({ inter: { notBefore: NOW + 1 } }), false],
		['leaf not yet valid (notBefore > now)', chain({ leaf: { notBefore: NOW + 1 } }), false],
		['leaf signature is 63 bytes', chain({ mut: (c) => { c.leaf.signature = c.leaf.signature.subarray(0, 63); } }), false],
		['intermediate signature is 65 bytes', chain({ mut: (c) => { c.intermediate.signature = Buffer.concat([c.intermediate.signature, Buffer.from([0])]); } }), false],
		['leaf signature bit flipped', chain({ mut: (c) => { c.leaf.signature = Buffer.from(c.leaf.signature); c.leaf.signature[5] ^= 1; } }), false],
		['leaf missing', chain({ mut: (c) => { delete c.leaf; } }), false],
		['intermediate missing', chain({ mut: (c) => { delete c.intermediate; } }), false],
		['empty chain', Buffer.alloc(0), false],
		['garbage bytes', Buffer.from('ffffffffffffffffffff0102030405060708', 'hex'), false],
	].map(([name, bytes, ok]) => {
		const v = checkCertChain(bytes, root.public, serverStatic.public, NOW);
		assert(v.ok === ok, `cert case "${name}": checker says ${v.ok} (${v.why})`);
		return { name, chain: hex(bytes), server_static: hex(serverStatic.public), now: NOW, ok, why: v.why };
	});

	// Byte-exactness of Baileys' protobuf output.
	const orders = {
		client_payload: fieldOrder(clientPayload),
		user_agent: fieldOrder(proto.ClientPayload.UserAgent.encode(proto.ClientPayload.decode(clientPayload).userAgent).finish()),
		server_hello: fieldOrder(proto.HandshakeMessage.ServerHello.encode(proto.HandshakeMessage.decode(serverHello).serverHello).finish()),
		client_finish: fieldOrder(proto.HandshakeMessage.ClientFinish.encode(proto.HandshakeMessage.decode(clientFinish).clientFinish).finish()),
		cert_chain: fieldOrder(certChain),
		details: fieldOrder(det(interD)),
	};
	for (const [k, v] of Object.entries(orders))
		assert(ascending(v), `${k} fields are not in ascending order: ${v}`);
	const p = proto.ClientPayload.decode(clientPayload);

	return {
		generator: GENERATOR,
		notes: [
			'Keys: private = SHA-256("chatledger-test-key:" + label), clamped (byte0 &= 248, byte31 &= 127, |= 64); public = X25519(private, 9). Labels: noise/root, noise/intermediate, noise/server-static, noise/server-ephemeral, noise/client-static, noise/client-ephemeral, noise/not-the-root.',
			'client_hello, server_hello, client_finish are HandshakeMessage bytes without the prologue or the 3-byte length; on the wire the client sends prologue ‖ len(client_hello) ‖ client_hello first.',
			'client_finish was produced by Baileys makeNoiseHandler (initiator) with client_ephemeral, client_static and client_payload; server_hello by tests/peer/walib.js NoiseResponder with server_ephemeral.',
			'AES-GCM is deterministic, so the C initiator given the same ephemeral must reproduce client_finish byte for byte.',
			`Protobuf: every message here (ClientPayload with fields ${orders.client_payload.join(',')}, UserAgent ${orders.user_agent.join(',')}, HandshakeMessage, CertChain, Details) is written by protobufjs in ascending field order, the same as protobuf-c. Fields Baileys sets explicitly are on the wire even when zero/false (here ClientPayload.lidDbMigrated=${p.lidDbMigrated} as field 41, UserAgent.releaseChannel=0 as field 10; in a registration payload also passive=false, pull=false): protobuf-c writes an optional field only when has_<field> is set, so set has_ for them to reproduce client_payload.`,
			'cert_cases: chain is CertChain bytes (the plaintext of serverHello.payload); ok/why are from walib.checkCertChain: intermediate signed by root_pub, intermediate issuerSerial 0 and 32-byte key, leaf signed by the intermediate key, leaf issuerSerial = intermediate serial, leaf key = server_static, notBefore <= now <= notAfter for both. why is informative only.',
			'noise_trace: every MixHash (h after it) and MixKey (dh input, new ck and k) of the handshake, in order, starting from initial_h = ck = the 32-byte protocol name.',
			'transport: c2s uses write_key, s2c read_key, nonce = 8 zero bytes ‖ counter (32-bit BE), empty AAD; plain is the frame body (flag byte, then the binary node; the s2c counter-2 body has flag 2 and is zlib-compressed). The c2s counter-3 plaintext is empty.',
			'Baileys makeNoiseHandler does NOT check the leaf key against the server static key, and its Curve.verify accepts any 64-byte signature (libsignal 6 verifySignature returns false instead of throwing), so Baileys accepts every cert case; these verdicts are the collector\'s own rules.',
		],
		prologue: hex(NOISE_WA_HEADER),
		protocol_name: hex(Buffer.from(NOISE_MODE)),
		now: NOW,
		root_pub: hex(root.public),
		root_priv: hex(root.private),
		intermediate_pub: hex(intermediate.public),
		client_static_priv: hex(clientStatic.private),
		client_static_pub: hex(clientStatic.public),
		client_ephemeral_priv: hex(clientEph.private),
		client_ephemeral_pub: hex(clientEph.public),
		server_static_priv: hex(serverStatic.private),
		server_static_pub: hex(serverStatic.public),
		server_ephemeral_priv: hex(serverEph.private),
		server_ephemeral_pub: hex(serverEph.public),
		client_payload: hex(clientPayload),
		client_hello: hex(clientHello),
		server_hello: hex(serverHello),
		cert_chain: hex(certChain),
		client_finish: hex(clientFinish),
		write_key: hex(r.keys.c2s),
		read_key: hex(r.keys.s2c),
		initial_h: hex(Buffer.from(NOISE_MODE)),
		noise_trace: trace,
		transport,
		cert_cases: cases,
	};
}

// ---- xeddsa.json -----------------------------------------------------------

function xeddsaVectors() {
	const k = keyPairFromLabel('xeddsa/signer');
	const other = keyPairFromLabel('xeddsa/other');
	const flip = (b, i, bit = 1) => {
		const c = Buffer.from(b);
		c[i] ^= bit;
		return c;
	};
	const cases = [];
	const add = (name, pub, msg, sig, ok) => {
		assert(xverify(pub, msg, sig) === ok, `xeddsa case "${name}" verifies ${!ok}`);
		cases.push({ name, pub: hex(pub), msg: hex(msg), sig: hex(sig), ok });
	};
	const m1 = Buffer.from('chatledger xeddsa test message');
	const s1 = xsign(k.private, m1);
	const empty = Buffer.alloc(0);
	const sEmpty = xsign(k.private, empty);
	const skey = Buffer.concat([Buffer.from([5]), keyPairFromLabel('xeddsa/signed-prekey').public]);
	const long = Buffer.alloc(1000, 0).map((_, i) => (i * 7 + 3) & 255);
	const adv = Buffer.concat([Buffer.from([6, 0]), sha(Buffer.from('details')), k.public]);
	add('valid', k.public, m1, s1, true);
	add('valid, empty message', k.public, empty, sEmpty, true);
	add('valid, signed pre-key (0x05 || key)', k.public, skey, xsign(k.private, skey), true);
	add('valid, 1000-byte message', k.public, long, xsign(k.private, long), true);
	add('valid, ADV-style message', k.public, adv, xsign(k.private, adv), true);
	add('valid, other key', other.public, m1, xsign(other.private, m1), true);
	add('R bit flipped (sig byte 0)', k.public, m1, flip(s1, 0), false);
	add('S bit flipped (sig byte 40)', k.public, m1, flip(s1, 40), false);
	add('sign bit flipped (sig byte 63, 0x80)', k.public, m1, flip(s1, 63, 0x80), false);
	add('message bit flipped', k.public, flip(m1, 4), s1, false);
	add('message with a byte appended', k.public, Buffer.concat([m1, Buffer.from([0])]), s1, false);
	add('empty message, signature of another message', k.public, empty, s1, false);
	add('public key bit flipped (byte 0, bit 0)', flip(k.public, 0), m1, s1, false);
	add('wrong public key', other.public, m1, s1, false);
	add('all-zero signature', k.public, m1, Buffer.alloc(64), false);
	return {
		generator: GENERATOR,
		notes: [
			'pub is the 32-byte Montgomery (X25519) key without the 0x05 prefix; sig is XEdDSA (Signal) as made by libsignal 6 curve.calculateSignature (curve25519-js, deterministic here). Keys from labels xeddsa/signer, xeddsa/other (see noise.json notes).',
			'Baileys Curve.verify must not be used as an oracle: it returns true for any 64-byte signature. ok is from libsignal curve.verifySignature.',
		],
		cases,
	};
}

// ---- adv.json --------------------------------------------------------------

function advVectors() {
	const identity = keyPairFromLabel('adv/identity');
	const account = keyPairFromLabel('adv/account');
	const advSecret = sha(Buffer.from('chatledger adv secret'));
	const creds = { advSecretKey: advSecret.toString('base64'), signedIdentityKey: identity, signalIdentities: [] };
	const base = {
		t: NOW, jid: JID, lid: LID, identityPub: identity.public, advSecret, account,
		rawId: 2864434397, timestamp: NOW - 5, keyIndex: 4,
	};
	const defs = [
		{ name: 'good', o: {}, ok: true },
		{ name: 'hmac tampered', o: { fault: 'hmac' }, ok: false, code: 401, text: 'hmac-mismatch' },
		{ name: 'account signature tampered', o: { fault: 'account-sig' }, ok: false, code: 401, text: 'signature-mismatch' },
		{ name: 'hosted account (HMAC and account signature prefixed 0x06 0x05)', o: { hosted: true }, ok: true },
		{ name: 'hosted account, HMAC computed without the 0x06 0x05 prefix', o: { hosted: true, fault: 'hosted-hmac-no-prefix' }, ok: false, code: 401, text: 'hmac-mismatch' },
		{ name: 'hosted device, account signature with the E2EE prefix 0x06 0x00', o: { hosted: true, fault: 'hosted-account-sig-prefix-0600' }, ok: false, code: 401, text: 'signature-mismatch' },
		{ name: 'missing device-identity', o: { fault: 'no-device-identity' }, ok: false, code: null, text: null },
		{ name: 'no biz child', o: { biz: null }, ok: true },
	];
	const cases = [];
	let idn = 0;
	for (const d of defs) {
		const b = buildPairSuccess({ ...base, id: `1800000000.${++idn}-1`, ...d.o });
		const nodeBytes = encodeBinaryNode(b.node).subarray(1);
		const hosted = !!d.o.hosted;
		// what Baileys makes of it (HMAC and structure; it cannot check signatures)
		let baileys;
		try {
			const { reply } = configureSuccessfulPairing(b.node, creds);
			const r = checkPairDeviceSign(reply, { details: b.details, accountSignature: b.accountSignature, identityPub: identity.public, accountPub: account.public, keyIndex: 4, hosted });
			assert(r.ok, `adv case ${d.name}: Baileys reply refused: ${r.why}`);
			baileys = 'accepted';
		} catch (e) {
			baileys = `refused: ${e.message}`;
		}
		// the collector's rules: HMAC, then strict account signature
		const accountMsg = Buffer.concat([hosted ? Buffer.from([6, 5]) : Buffer.from([6, 0]), b.details, identity.public]);
		const sigOk = xverify(account.public, accountMsg, b.accountSignature);
		if (d.ok)
			assert(sigOk && baileys === 'accepted', `adv case ${d.name} should pass`);
		if (d.text === 'hmac-mismatch')
			assert(baileys.startsWith('refused'), `adv case ${d.name}: Baileys accepted a bad HMAC`);
		if (d.text === 'signature-mismatch')
			assert(!sigOk, `adv case ${d.name}: account signature verifies`);
		const c = {
			name: d.name,
			node_hex: hex(nodeBytes),
			ok: d.ok,
			error_code: d.code ?? null,
			error_text: d.text ?? null,
			id: b.node.attrs.id,
			jid: JID,
			lid: LID,
			key_index: 4,
			hosted,
			details: hex(b.details),
			account_signature: hex(b.accountSignature),
			baileys,
		};
		if (d.ok) {
			c.device_signature_message = hex(Buffer.concat([Buffer.from([6, 1]), b.details, identity.public, account.public]));
			c.reply_device_identity_without_device_signature = hex(proto.ADVSignedDeviceIdentity.encode({ details: b.details, accountSignature: b.accountSignature }).finish());
		}
		cases.push(c);
	}
	// round trip: Baileys decodes every node to what was built
	return {
		generator: GENERATOR,
		notes: [
			'node_hex: the whole <iq type="set" from="s.whatsapp.net" id t><pair-success><device-identity>ADVSignedDeviceIdentityHMAC</device-identity><device jid lid/><platform name="smba"/><biz name="Test Ltd"/></pair-success></iq> as encodeBinaryNode writes it, without the frame flag byte.',
			'Client rules: HMAC-SHA256(adv_secret, [0x06 0x05 if HMAC.accountType == HOSTED] ‖ ADVSignedDeviceIdentity bytes) must equal hmac, else reply <iq type="error" id><error code="401" text="hmac-mismatch"/></iq>; then XEdDSA(accountSignatureKey) over [0x06 0x05 if ADVDeviceIdentity.deviceType == HOSTED else 0x06 0x00] ‖ details ‖ identity_pub, else 401 signature-mismatch.',
			'ok cases: reply <iq to="s.whatsapp.net" type="result" id><pair-device-sign><device-identity key-index=key_index>ADVSignedDeviceIdentity{details, accountSignature, deviceSignature}</device-identity></pair-device-sign></iq> without accountSignatureKey; reply_device_identity_without_device_signature is that message minus field 4; deviceSignature = XEdDSA(identity_priv, device_signature_message) (0x06 0x01 ‖ details ‖ identity_pub ‖ account_pub; Baileys uses 0x06 0x01 for hosted devices too).',
			'missing device-identity: the client must not pair; there is no defined error reply (Baileys ends the connection; whatsmeow parses empty bytes and answers hmac-mismatch).',
			'baileys: what Baileys configureSuccessfulPairing did with the node. It accepts a tampered account signature because its Curve.verify always passes; the ok/error fields are the collector\'s rules.',
			'Keys: identity from label adv/identity, account from adv/account (see noise.json notes); adv_secret = SHA-256("chatledger adv secret").',
		],
		identity_pub: hex(identity.public),
		identity_priv: hex(identity.private),
		adv_secret: hex(advSecret),
		account_pub: hex(account.public),
		cases,
	};
}

// ---- main ------------------------------------------------------------------

const noise = await noiseVectors();
const xeddsa = xeddsaVectors();
const adv = advVectors();
for (const c of adv.cases) {
	const n = await decodeBinaryNode(Buffer.concat([Buffer.from([0]), Buffer.from(c.node_hex, 'hex')]));
	assert(n.tag === 'iq' && n.attrs.id === c.id, 'adv node does not decode');
}
mkdirSync(outDir, { recursive: true });
for (const [name, v] of [['noise', noise], ['xeddsa', xeddsa], ['adv', adv]]) {
	writeFileSync(join(outDir, `${name}.json`), `${JSON.stringify(v, null, '\t')}\n`);
	process.stderr.write(`gen-collector-vectors: wrote ${join(outDir, `${name}.json`)}\n`);
}
