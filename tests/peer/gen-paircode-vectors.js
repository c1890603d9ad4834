#!/usr/bin/env node
// gen-paircode-vectors.js - known-answer vectors for the C collector's
// pairing-code flow (archiver/wa/paircode.c): the code, the wrapped
// ephemeral key, the companion_hello iq, the server's answer, the phone's
// primary_hello notification and the companion_finish iq with the ADV
// secret it implies.
//
//   node gen-paircode-vectors.js            writes ../wa/vectors/paircode.json
//   node gen-paircode-vectors.js --out DIR  writes DIR/paircode.json
//
// Independent of the C code: the companion's expected outputs and the
// phone's side are computed here with Node's crypto (pbkdf2Sync,
// AES-256-CTR/GCM ciphers, hkdfSync) and cross-checked with Baileys'
// derivePairingCodeKey, aesEncryptCTR, hkdf, bytesToCrockford and
// Curve.sharedKey.  Node bytes come from Baileys' encodeBinaryNode (flag
// byte dropped).  Every key and random input comes from a fixed label, so
// the output is byte-identical on every run.  Byte strings are lower-case
// hex.  The facts (stanza shapes, HKDF infos, AES modes) are those of
// whatsmeow pair-code.go and Baileys' requestPairingCode and
// link_code_companion_reg handling.
import { writeFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createHash, createCipheriv, createDecipheriv, pbkdf2Sync, hkdfSync } from 'node:crypto';
import { createRequire } from 'node:module';
import { Curve, hkdf, aesEncryptCTR, derivePairingCodeKey } from 'baileys/lib/Utils/crypto.js';
import { bytesToCrockford } from 'baileys/lib/Utils/generics.js';
import { encodeBinaryNode } from 'baileys/lib/WABinary/index.js';
import { hex, keyPairFromLabel } from './walib.js';

const require = createRequire(import.meta.url);
const GENERATOR = `tests/peer/gen-paircode-vectors.js, baileys ${require('baileys/package.json').version}`;
const here = dirname(fileURLToPath(import.meta.url));
let outDir = join(here, '..', 'wa', 'vectors');
if (process.argv[2] === '--out' && process.argv[3])
	outDir = process.argv[3];

function die(msg) {
	process.stderr.write(`gen-paircode-vectors: ${msg}\n`);
	process.exit(1);
}
const assert = (c, msg) => c || die(msg);
const bytes = (label, n) => createHash('sha256').update(`chatledger-paircode:${label}`).digest().subarray(0, n);
const wire = (node) => Buffer.from(encodeBinaryNode(node)).subarray(1); // no flag byte

// ---- fixed inputs ------------------------------------------------------------

const PHONE = '85291234567';
const JID = `${PHONE}@s.whatsapp.net`;
const DISPLAY = 'Chrome (Linux)';
const REF = Buffer.from('3@2:cl-test-ref/AbCdEfGhIjKlMnOpQrStUvWxYz0123456789+/=');
const noise = keyPairFromLabel('paircode-companion-noise');
const ident = keyPairFromLabel('paircode-companion-identity');
const eph = keyPairFromLabel('paircode-companion-ephemeral');
const primaryIdent = keyPairFromLabel('paircode-primary-identity');
const primaryEph = keyPairFromLabel('paircode-primary-ephemeral');
const fixed = {
	code: bytes('code', 5), eph_priv: eph.private, salt: bytes('salt', 32), iv: bytes('iv', 16),
	adv_random: bytes('adv-random', 32), bundle_salt: bytes('bundle-salt', 32), bundle_nonce: bytes('bundle-nonce', 12),
};

// ---- primitives (Node crypto), cross-checked with Baileys -----------------------

const codeKey = (code, salt) => pbkdf2Sync(Buffer.from(code), salt, 2 << 16, 32, 'sha256');
const ctr = (key, iv, data) => {
	const c = createCipheriv('aes-256-ctr', key, iv);
	return Buffer.concat([c.update(data), c.final()]);
};
const hkdf32 = (ikm, salt, info) => Buffer.from(hkdfSync('sha256', ikm, salt, Buffer.from(info), 32));
const gcmSeal = (key, nonce, plain) => {
	const c = createCipheriv('aes-256-gcm', key, nonce);
	return Buffer.concat([c.update(plain), c.final(), c.getAuthTag()]);
};
const gcmOpen = (key, nonce, ctAndTag) => {
	const d = createDecipheriv('aes-256-gcm', key, nonce);
	d.setAuthTag(ctAndTag.subarray(ctAndTag.length - 16));
	return Buffer.concat([d.update(ctAndTag.subarray(0, ctAndTag.length - 16)), d.final()]);
};
const wrap = (code, salt, iv, pub) => Buffer.concat([salt, iv, ctr(codeKey(code, salt), iv, pub)]);
const unwrap = (code, w) => ctr(codeKey(code, w.subarray(0, 32)), w.subarray(32, 48), w.subarray(48, 80));
const dh = (priv, pub) => Buffer.from(Curve.sharedKey(priv, pub));

// base32 with the linking alphabet, written out bit by bit
const ALPHABET = '123456789ABCDEFGHJKLMNPQRSTVWXYZ';
function encodeCode(raw) {
	let bits = '';
	for (const b of raw)
		bits += b.toString(2).padStart(8, '0');
	let s = '';
	for (let i = 0; i < 40; i += 5)
		s += ALPHABET[parseInt(bits.slice(i, i + 5), 2)];
	return s;
}

const CODE = encodeCode(fixed.code);
assert(CODE === bytesToCrockford(fixed.code), 'code differs from Baileys bytesToCrockford');
assert(/^[1-9A-HJ-NP-TV-Z]{8}$/.test(CODE), 'code alphabet');
const wrapped = wrap(CODE, fixed.salt, fixed.iv, eph.public);
assert(wrapped.length === 80, 'wrapped length');
assert(codeKey(CODE, fixed.salt).equals(await derivePairingCodeKey(CODE, fixed.salt)), 'PBKDF2 differs from Baileys');
assert(Buffer.from(aesEncryptCTR(eph.public, codeKey(CODE, fixed.salt), fixed.iv)).equals(wrapped.subarray(48)),
	'AES-CTR differs from Baileys');
assert(hkdf32(Buffer.from('ikm'), Buffer.alloc(0), 'adv_secret').equals(Buffer.from(hkdf(Buffer.from('ikm'), 32, { info: 'adv_secret' }))),
	'HKDF (no salt) differs from Baileys');
assert(unwrap(CODE, wrapped).equals(eph.public), 'unwrap');

// ---- stanzas -------------------------------------------------------------------

const HELLO_ID = 'pc-hello-1';
const FINISH_ID = 'pc-finish-1';
const hello = {
	tag: 'iq', attrs: { xmlns: 'md', type: 'set', to: 's.whatsapp.net', id: HELLO_ID },
	content: [{
		tag: 'link_code_companion_reg',
		attrs: { jid: JID, stage: 'companion_hello', should_show_push_notification: 'true' },
		content: [
			{ tag: 'link_code_pairing_wrapped_companion_ephemeral_pub', attrs: {}, content: wrapped },
			{ tag: 'companion_server_auth_key_pub', attrs: {}, content: noise.public },
			{ tag: 'companion_platform_id', attrs: {}, content: '1' },
			{ tag: 'companion_platform_display', attrs: {}, content: DISPLAY },
			{ tag: 'link_code_pairing_nonce', attrs: {}, content: Buffer.from([0]) },
		],
	}],
};
const helloResult = {
	tag: 'iq', attrs: { from: 's.whatsapp.net', type: 'result', id: HELLO_ID },
	content: [{ tag: 'link_code_companion_reg', attrs: {}, content: [{ tag: 'link_code_pairing_ref', attrs: {}, content: REF }] }],
};
const helloError = {
	tag: 'iq', attrs: { from: 's.whatsapp.net', type: 'error', id: HELLO_ID },
	content: [{ tag: 'error', attrs: { code: '400', text: 'bad-request' } }],
};

// The phone's notification.  parts: {wrapped, identity, ref, stage, type, tag}
function notification(p) {
	const kids = [];
	if (p.wrapped !== null)
		kids.push({ tag: 'link_code_pairing_wrapped_primary_ephemeral_pub', attrs: {}, content: p.wrapped });
	if (p.identity !== null)
		kids.push({ tag: 'primary_identity_pub', attrs: {}, content: p.identity });
	if (p.ref !== null)
		kids.push({ tag: 'link_code_pairing_ref', attrs: {}, content: p.ref ?? REF });
	const regAttrs = p.stage === null ? {} : { stage: p.stage ?? 'primary_hello' };
	return {
		tag: p.tag ?? 'notification',
		attrs: { from: 's.whatsapp.net', type: p.type ?? 'link_code_companion_reg', id: '3357813253', t: '1744861223' },
		content: [{ tag: p.regTag ?? 'link_code_companion_reg', attrs: regAttrs, content: kids }],
	};
}

// What the companion must answer (computed here), and what the phone sees.
function exchange(name, phoneCode, primaryPub) {
	const pSalt = bytes(`${name}-primary-salt`, 32);
	const pIv = bytes(`${name}-primary-iv`, 16);
	const pWrapped = wrap(phoneCode, pSalt, pIv, primaryPub);
	// companion: unwrap with the real code
	const seen = unwrap(CODE, pWrapped);
	const s1 = dh(eph.private, seen);
	const bundleKey = hkdf32(s1, fixed.bundle_salt, 'link_code_pairing_key_bundle_encryption_key');
	assert(bundleKey.equals(Buffer.from(hkdf(s1, 32, { salt: fixed.bundle_salt, info: 'link_code_pairing_key_bundle_encryption_key' }))),
		'bundle HKDF differs from Baileys');
	const plain = Buffer.concat([ident.public, primaryIdent.public, fixed.adv_random]);
	const bundle = Buffer.concat([fixed.bundle_salt, fixed.bundle_nonce, gcmSeal(bundleKey, fixed.bundle_nonce, plain)]);
	assert(bundle.length === 156, 'bundle length');
	const adv = hkdf32(Buffer.concat([s1, dh(ident.private, primaryIdent.public), fixed.adv_random]), Buffer.alloc(0), 'adv_secret');
	const finish = {
		tag: 'iq', attrs: { xmlns: 'md', type: 'set', to: 's.whatsapp.net', id: FINISH_ID },
		content: [{
			tag: 'link_code_companion_reg', attrs: { jid: JID, stage: 'companion_finish' },
			content: [
				{ tag: 'link_code_pairing_wrapped_key_bundle', attrs: {}, content: bundle },
				{ tag: 'companion_identity_public', attrs: {}, content: ident.public },
				{ tag: 'link_code_pairing_ref', attrs: {}, content: REF },
			],
		}],
	};
	// phone: unwrap the companion's ephemeral with the code it was given
	const phoneSeenEph = unwrap(phoneCode, wrapped);
	const phoneS1 = dh(primaryEph.private, phoneSeenEph);
	const phoneBundleKey = hkdf32(phoneS1, bundle.subarray(0, 32), 'link_code_pairing_key_bundle_encryption_key');
	let phoneAdv = null;
	try {
		const got = gcmOpen(phoneBundleKey, bundle.subarray(32, 44), bundle.subarray(44));
		assert(got.subarray(0, 32).equals(ident.public) && got.subarray(32, 64).equals(primaryIdent.public), 'bundle content');
		phoneAdv = hkdf32(Buffer.concat([phoneS1, dh(primaryIdent.private, got.subarray(0, 32)), got.subarray(64)]),
			Buffer.alloc(0), 'adv_secret');
	} catch (e) {
		if (e.message.startsWith('gen-paircode'))
			throw e;
	}
	return {
		name, phone_code: phoneCode, primary_ephemeral_pub: hex(primaryPub), primary_wrapped: hex(pWrapped),
		notification: hex(wire(notification({ wrapped: pWrapped, identity: primaryIdent.public }))),
		finish: hex(wire(finish)), adv_secret: hex(adv),
		phone_bundle_key: hex(phoneBundleKey), phone_opens_bundle: phoneAdv !== null,
		phone_adv_secret: phoneAdv ? hex(phoneAdv) : null,
	};
}

const ok = exchange('ok', CODE, primaryEph.public);
assert(ok.phone_opens_bundle && ok.phone_adv_secret === ok.adv_secret, 'phone and companion disagree on a good code');
const wrongCode = CODE.slice(0, 7) + (CODE[7] === 'Z' ? 'Y' : 'Z');
const wrong = exchange('wrong-code', wrongCode, primaryEph.public);
assert(!wrong.phone_opens_bundle, 'a wrong code must not open the bundle');

// small-order point as the phone's ephemeral (all zeros): X25519 gives zero
const lowWrapped = wrap(CODE, bytes('low-salt', 32), bytes('low-iv', 16), Buffer.alloc(32));
const low = { name: 'low-order-ephemeral', notification: hex(wire(notification({ wrapped: lowWrapped, identity: primaryIdent.public }))) };

const good = (extra) => hex(wire(notification({ wrapped: Buffer.from(ok.primary_wrapped, 'hex'), identity: primaryIdent.public, ...extra })));
const malformed = [
	['not a notification', good({ tag: 'iq' })],
	['other notification type', good({ type: 'encrypt' })],
	['no link_code_companion_reg child', good({ regTag: 'link_code_companion_other' })],
	['stage companion_finish', good({ stage: 'companion_finish' })],
	['no stage', good({ stage: null })],
	['no wrapped key', good({ wrapped: null })],
	['wrapped key 79 bytes', good({ wrapped: Buffer.from(ok.primary_wrapped, 'hex').subarray(0, 79) })],
	['wrapped key 81 bytes', good({ wrapped: Buffer.concat([Buffer.from(ok.primary_wrapped, 'hex'), Buffer.from([1])]) })],
	['no primary identity', good({ identity: null })],
	['primary identity 33 bytes', good({ identity: Buffer.concat([Buffer.from([5]), primaryIdent.public]) })],
	['primary identity small-order', good({ identity: Buffer.alloc(32) })],
	['no ref', good({ ref: null })],
	['other ref', good({ ref: Buffer.from('3@2:some-other-ref') })],
	['ref one byte short', good({ ref: REF.subarray(0, REF.length - 1) })],
].map(([name, node]) => ({ name, notification: node }));

const out = {
	generator: GENERATOR,
	note: 'pairing-code flow (whatsmeow pair-code.go, Baileys requestPairingCode / link_code_companion_reg); companion = chatledger, primary = the phone',
	phone: PHONE, jid: JID, platform_display: DISPLAY, hello_id: HELLO_ID, finish_id: FINISH_ID, ref: hex(REF),
	iterations: 2 << 16,
	companion: {
		noise_pub: hex(noise.public), noise_priv: hex(noise.private),
		identity_pub: hex(ident.public), identity_priv: hex(ident.private),
		ephemeral_pub: hex(eph.public),
	},
	fixed: Object.fromEntries(Object.entries(fixed).map(([k, v]) => [k, hex(v)])),
	primary: { identity_pub: hex(primaryIdent.public), identity_priv: hex(primaryIdent.private), ephemeral_priv: hex(primaryEph.private) },
	code: CODE, code_shown: `${CODE.slice(0, 4)}-${CODE.slice(4)}`,
	wrapped: hex(wrapped),
	hello: hex(wire(hello)), hello_result: hex(wire(helloResult)), hello_error: hex(wire(helloError)),
	exchanges: [ok, wrong], low_order: low, malformed,
	codes: ['0000000000', 'ffffffffff', '0123456789', '8421084210'].map((h) => ({ raw: h, code: bytesToCrockford(Buffer.from(h, 'hex')) })),
};
for (const c of out.codes)
	assert(c.code === encodeCode(Buffer.from(c.raw, 'hex')), `code ${c.raw}`);
mkdirSync(outDir, { recursive: true });
writeFileSync(join(outDir, 'paircode.json'), `${JSON.stringify(out, null, 1)}\n`);
process.stdout.write(`wrote ${join(outDir, 'paircode.json')}\n`);
