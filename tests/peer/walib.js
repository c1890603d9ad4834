// walib.js - shared pieces of the local WhatsApp test peer: keys, strict
// XEdDSA verification, the Noise XX responder, transport framing, the
// test certificate chain, and the "phone" side of QR pairing.  Written
// for chatledger from the protocol description in
// /work/shared/research/whatsapp-md-protocol.md; only Baileys' exported
// primitives (crypto, protobuf classes, binary-node codec) are used.
import { createHash, createPrivateKey, createPublicKey, randomBytes, createCipheriv, createDecipheriv, pbkdf2Sync, hkdfSync } from 'node:crypto';
import { deflateSync } from 'node:zlib';
import * as libsignalCurve from 'libsignal/src/curve.js';
import { proto } from 'baileys/WAProto/index.js';
import { NOISE_MODE, NOISE_WA_HEADER } from 'baileys/lib/Defaults/index.js';
import { Curve, hkdf, sha256, hmacSign, aesEncryptGCM, aesDecryptGCM } from 'baileys/lib/Utils/crypto.js';
import { encodeBinaryNode, getBinaryNodeChild, getBinaryNodeChildren, jidDecode } from 'baileys/lib/WABinary/index.js';

export { proto };
export const hex = (b) => Buffer.from(b).toString('hex');
export const unhex = (s) => Buffer.from(s, 'hex');
export const PROLOGUE = Buffer.from(NOISE_WA_HEADER); // 'W' 'A' 6 3
export const ACCOUNT_SIG_PREFIX = Buffer.from([6, 0]);
export const DEVICE_SIG_PREFIX = Buffer.from([6, 1]);
export const HOSTED_SIG_PREFIX = Buffer.from([6, 5]);
export const QR_PREFIX = 'https://wa.me/settings/linked_devices#';

// ---- keys ----------------------------------------------------------------

const X25519_PKCS8 = Buffer.from('302e020100300506032b656e04220420', 'hex');

// A Curve25519 key pair from a 32-byte private key.  The private key is
// clamped first so that X25519 (which clamps) and XEdDSA signing (which
// uses the bytes as given) agree on the scalar.
export function keyPairFromPrivate(priv) {
	const p = Buffer.from(priv);
	if (p.length !== 32)
		throw new Error('private key must be 32 bytes');
	p[0] &= 248;
	p[31] &= 127;
	p[31] |= 64;
	const key = createPrivateKey({ key: Buffer.concat([X25519_PKCS8, p]), format: 'der', type: 'pkcs8' });
	const spki = createPublicKey(key).export({ format: 'der', type: 'spki' });
	return { private: p, public: Buffer.from(spki.subarray(spki.length - 32)) };
}
// Deterministic key pair for a label (vectors, default constants).
export const keyPairFromLabel = (label) => keyPairFromPrivate(createHash('sha256').update(`chatledger-test-key:${label}`).digest());
export const randomKeyPair = () => Curve.generateKeyPair();

export const xsign = (priv, msg) => Buffer.from(Curve.sign(priv, Buffer.from(msg)));

// Strict XEdDSA verification.  Baileys' Curve.verify cannot be used as a
// check: with libsignal 6.x, verifySignature returns false instead of
// throwing, and Curve.verify only reports exceptions, so it returns true
// for any 64-byte signature.
export function xverify(pub, msg, sig) {
	if (!pub || !sig || Buffer.from(pub).length !== 32 || Buffer.from(sig).length !== 64)
		return false;
	try {
		return libsignalCurve.verifySignature(Buffer.concat([Buffer.from([5]), Buffer.from(pub)]),
			Buffer.from(msg), Buffer.from(sig)) === true;
	} catch {
		return false;
	}
}

// ---- certificate chain ---------------------------------------------------

export const encodeDetails = (d) => Buffer.from(proto.CertChain.NoiseCertificate.Details.encode(d).finish());
export const encodeCertChain = (c) => Buffer.from(proto.CertChain.encode(c).finish());

// opts: rootPriv, intermediate (key pair), serverStaticPub, notBefore,
// notAfter (unix s), fault (wrong-root | leaf-mismatch | expired | ...).
export function makeCertChain(opts) {
	const { rootPriv, intermediate, serverStaticPub, notBefore, notAfter } = opts;
	const fault = opts.fault || '';
	const interDetails = encodeDetails({ serial: 1, issuerSerial: 0, key: intermediate.public, notBefore, notAfter });
	const signer = fault === 'wrong-root' ? keyPairFromLabel('not-the-root').private : rootPriv;
	const leafKey = fault === 'leaf-mismatch' ? keyPairFromLabel('not-the-server-static').public : serverStaticPub;
	const leafNotAfter = fault === 'expired' ? opts.expiredAt : notAfter;
	const leafDetails = encodeDetails({ serial: 2, issuerSerial: 1, key: leafKey, notBefore, notAfter: leafNotAfter });
	return encodeCertChain({
		leaf: { details: leafDetails, signature: xsign(intermediate.private, leafDetails) },
		intermediate: { details: interDetails, signature: xsign(signer, interDetails) },
	});
}

const num = (v) => (v == null ? 0 : typeof v === 'object' ? Number(v.toString()) : Number(v));

// Reference chain check (whatsmeow's rules, plus validity).  Returns
// {ok, why}.  Used for the cert_cases vectors and the selftest.
export function checkCertChain(chainBytes, rootPub, serverStatic, now) {
	let chain, inter, leaf;
	try {
		chain = proto.CertChain.decode(chainBytes);
	} catch (e) {
		return { ok: false, why: `CertChain does not parse: ${e.message}` };
	}
	for (const [name, c] of [['intermediate', chain.intermediate], ['leaf', chain.leaf]]) {
		if (!c || !c.details || !c.details.length || !c.signature)
			return { ok: false, why: `missing ${name} certificate` };
		if (c.signature.length !== 64)
			return { ok: false, why: `${name} signature is not 64 bytes` };
	}
	try {
		inter = proto.CertChain.NoiseCertificate.Details.decode(chain.intermediate.details);
		leaf = proto.CertChain.NoiseCertificate.Details.decode(chain.leaf.details);
	} catch (e) {
		return { ok: false, why: `certificate details do not parse: ${e.message}` };
	}
	if (!xverify(rootPub, chain.intermediate.details, chain.intermediate.signature))
		return { ok: false, why: 'intermediate not signed by the root' };
	if (num(inter.issuerSerial) !== 0)
		return { ok: false, why: 'intermediate issuerSerial is not 0' };
	if (!inter.key || inter.key.length !== 32)
		return { ok: false, why: 'intermediate key is not 32 bytes' };
	if (!xverify(inter.key, chain.leaf.details, chain.leaf.signature))
		return { ok: false, why: 'leaf not signed by the intermediate' };
	if (num(leaf.issuerSerial) !== num(inter.serial))
		return { ok: false, why: 'leaf issuerSerial differs from the intermediate serial' };
	if (!leaf.key || !Buffer.from(leaf.key).equals(Buffer.from(serverStatic)))
		return { ok: false, why: 'leaf key differs from the server static key' };
	for (const [name, d] of [['intermediate', inter], ['leaf', leaf]]) {
		if (now < num(d.notBefore))
			return { ok: false, why: `${name} not yet valid` };
		if (now > num(d.notAfter))
			return { ok: false, why: `${name} expired` };
	}
	return { ok: true, why: 'valid' };
}

// ---- Noise XX responder --------------------------------------------------

const nonce = (n) => {
	const iv = Buffer.alloc(12);
	iv.writeUInt32BE(n >>> 0, 8);
	return iv;
};

// Symmetric handshake state, as the responder sees it.
class HandshakeState {
	constructor() {
		this.h = Buffer.from(NOISE_MODE); // exactly 32 bytes: used as is
		this.ck = this.h;
		this.k = this.h;
		this.n = 0;
	}
	mixHash(data) {
		this.h = sha256(Buffer.concat([this.h, Buffer.from(data)]));
		this.trace?.push({ op: 'mix_hash', h: hex(this.h) });
	}
	mixKey(ikm) {
		const out = Buffer.from(hkdf(Buffer.from(ikm), 64, { salt: this.ck, info: '' }));
		this.ck = out.subarray(0, 32);
		this.k = out.subarray(32, 64);
		this.n = 0;
		this.trace?.push({ op: 'mix_key', dh: hex(ikm), ck: hex(this.ck), k: hex(this.k) });
	}
	encrypt(plain) {
		const c = Buffer.from(aesEncryptGCM(Buffer.from(plain), this.k, nonce(this.n++), this.h));
		this.mixHash(c);
		return c;
	}
	decrypt(cipher) {
		const p = Buffer.from(aesDecryptGCM(Buffer.from(cipher), this.k, nonce(this.n++), this.h));
		this.mixHash(cipher);
		return p;
	}
	split() {
		const out = Buffer.from(hkdf(Buffer.alloc(0), 64, { salt: this.ck, info: '' }));
		// initiator writes with the first half, reads with the second
		return { c2s: out.subarray(0, 32), s2c: out.subarray(32, 64) };
	}
}

// Server side of Noise_XX_25519_AESGCM_SHA256 with WhatsApp's prologue.
// staticKP: the server static key pair; certChain: plaintext CertChain
// bytes; ephemeralKP: optional fixed ephemeral (vectors), else random.
export class NoiseResponder {
	constructor({ staticKP, certChain, ephemeralKP, trace }) {
		this.s = staticKP;
		this.e = ephemeralKP || randomKeyPair();
		this.cert = certChain;
		this.st = new HandshakeState();
		this.st.trace = trace; // optional array: records every MixHash / MixKey
		this.st.mixHash(PROLOGUE);
	}
	// clientHello HandshakeMessage bytes -> serverHello HandshakeMessage bytes
	onClientHello(bytes) {
		const msg = proto.HandshakeMessage.decode(bytes);
		const ce = msg.clientHello && msg.clientHello.ephemeral;
		if (!ce || ce.length !== 32)
			throw new Error('clientHello without a 32-byte ephemeral');
		this.ce = Buffer.from(ce);
		const st = this.st;
		st.mixHash(this.ce);
		st.mixHash(this.e.public);
		st.mixKey(Curve.sharedKey(this.e.private, this.ce));
		const encStatic = st.encrypt(this.s.public);
		st.mixKey(Curve.sharedKey(this.s.private, this.ce));
		const encPayload = st.encrypt(this.cert);
		return Buffer.from(proto.HandshakeMessage.encode({
			serverHello: { ephemeral: this.e.public, static: encStatic, payload: encPayload },
		}).finish());
	}
	// clientFinish HandshakeMessage bytes -> {clientStatic, payload, keys}
	onClientFinish(bytes) {
		const msg = proto.HandshakeMessage.decode(bytes);
		const cf = msg.clientFinish;
		if (!cf || !cf.static || !cf.payload)
			throw new Error('clientFinish without static and payload');
		const st = this.st;
		const clientStatic = st.decrypt(cf.static);
		if (clientStatic.length !== 32)
			throw new Error('client static key is not 32 bytes');
		st.mixKey(Curve.sharedKey(this.e.private, clientStatic));
		const payload = st.decrypt(cf.payload);
		const { c2s, s2c } = st.split();
		return { clientStatic, payload, keys: { c2s, s2c } };
	}
}

// One direction of transport encryption.
export class CipherState {
	constructor(key) {
		this.key = Buffer.from(key);
		this.n = 0;
	}
	encrypt(plain) {
		return Buffer.from(aesEncryptGCM(Buffer.from(plain), this.key, nonce(this.n++), Buffer.alloc(0)));
	}
	decrypt(cipher) {
		return Buffer.from(aesDecryptGCM(Buffer.from(cipher), this.key, nonce(this.n++), Buffer.alloc(0)));
	}
}

// ---- framing -------------------------------------------------------------

export function frame(payload) {
	const len = payload.length;
	if (len > 0xffffff)
		throw new Error('frame too large');
	return Buffer.concat([Buffer.from([len >>> 16, (len >>> 8) & 255, len & 255]), payload]);
}

// Incoming byte stream of the server: prologue once, then 3-byte frames.
export class FrameReader {
	constructor({ expectPrologue = true } = {}) {
		this.buf = Buffer.alloc(0);
		this.needPrologue = expectPrologue;
	}
	push(data) {
		this.buf = this.buf.length ? Buffer.concat([this.buf, data]) : Buffer.from(data);
		const out = [];
		if (this.needPrologue) {
			if (this.buf.length < 4)
				return out;
			if (!this.buf.subarray(0, 4).equals(PROLOGUE))
				throw new Error(`bad prologue ${hex(this.buf.subarray(0, 4))}`);
			this.buf = this.buf.subarray(4);
			this.needPrologue = false;
		}
		while (this.buf.length >= 3) {
			const len = (this.buf[0] << 16) | (this.buf[1] << 8) | this.buf[2];
			if (this.buf.length < 3 + len)
				break;
			out.push(Buffer.from(this.buf.subarray(3, 3 + len)));
			this.buf = this.buf.subarray(3 + len);
		}
		return out;
	}
}

// Frame body (flag byte + node) for a binary node; compress: flag 2 + zlib.
export function nodeBody(node, compress = false) {
	const plain = encodeBinaryNode(node); // starts with the 0 flag byte
	if (!compress)
		return plain;
	return Buffer.concat([Buffer.from([2]), deflateSync(plain.subarray(1))]);
}

// ---- ClientPayload checks ------------------------------------------------

const md5 = (s) => createHash('md5').update(s).digest();

export function appVersionOf(p) {
	const v = p.userAgent && p.userAgent.appVersion;
	return v ? [num(v.primary), num(v.secondary), num(v.tertiary)] : null;
}

function checkCommon(p, problems) {
	const ua = p.userAgent;
	if (!ua)
		problems.push('userAgent missing');
	else {
		if (!appVersionOf(p) || !appVersionOf(p)[2])
			problems.push('userAgent.appVersion.tertiary missing');
		if (ua.platform == null)
			problems.push('userAgent.platform missing');
	}
}

// Registration (QR) payload.  Returns {problems, identity, deviceProps}.
export function validateRegistration(p) {
	const problems = [];
	checkCommon(p, problems);
	const d = p.devicePairingData;
	if (p.username != null && num(p.username) !== 0)
		problems.push('registration payload carries a username');
	if (p.passive !== false)
		problems.push('passive is not false');
	if (p.pull !== false)
		problems.push('pull is not false');
	if (!d)
		return { problems: [...problems, 'devicePairingData missing'] };
	const len = (b) => (b ? b.length : -1);
	if (len(d.eRegid) !== 4)
		problems.push(`eRegid is ${len(d.eRegid)} bytes, not 4`);
	if (len(d.eKeytype) !== 1 || d.eKeytype[0] !== 5)
		problems.push('eKeytype is not 0x05');
	if (len(d.eIdent) !== 32)
		problems.push(`eIdent is ${len(d.eIdent)} bytes, not 32`);
	if (len(d.eSkeyId) !== 3)
		problems.push(`eSkeyId is ${len(d.eSkeyId)} bytes, not 3`);
	if (len(d.eSkeyVal) !== 32)
		problems.push(`eSkeyVal is ${len(d.eSkeyVal)} bytes, not 32`);
	if (len(d.eSkeySig) !== 64)
		problems.push(`eSkeySig is ${len(d.eSkeySig)} bytes, not 64`);
	else if (len(d.eIdent) === 32 && len(d.eSkeyVal) === 32 &&
		!xverify(d.eIdent, Buffer.concat([Buffer.from([5]), Buffer.from(d.eSkeyVal)]), d.eSkeySig))
		problems.push('eSkeySig is not a valid XEdDSA signature by eIdent over 0x05 || eSkeyVal');
	const v = appVersionOf(p);
	if (v) {
		const want = md5(v.join('.'));
		if (!d.buildHash || !Buffer.from(d.buildHash).equals(want))
			problems.push(`buildHash is not MD5("${v.join('.')}")`);
	}
	let deviceProps;
	if (!d.deviceProps || !d.deviceProps.length)
		problems.push('deviceProps missing');
	else {
		try {
			deviceProps = proto.DeviceProps.decode(d.deviceProps);
			if (!deviceProps.os)
				problems.push('deviceProps.os missing');
		} catch (e) {
			problems.push(`deviceProps does not parse: ${e.message}`);
		}
	}
	return { problems, identity: len(d.eIdent) === 32 ? Buffer.from(d.eIdent) : null, deviceProps };
}

// Login payload against the expected JID.  Returns problems.
export function validateLogin(p, jid) {
	const problems = [];
	checkCommon(p, problems);
	const want = jidDecode(jid);
	if (String(p.username ?? '') !== want.user)
		problems.push(`username ${p.username} is not ${want.user}`);
	if (num(p.device) !== num(want.device))
		problems.push(`device ${p.device} is not ${want.device || 0}`);
	if (p.passive !== true)
		problems.push('passive is not true');
	if (p.pull !== true)
		problems.push('pull is not true');
	if (p.devicePairingData)
		problems.push('login payload carries devicePairingData');
	return problems;
}

// Protobuf message -> plain JSON (bytes as hex, 64-bit as strings).
export function protoToJson(type, msg) {
	const o = type.toObject(msg, { longs: String, enums: String, bytes: Buffer });
	const walk = (v) => {
		if (Buffer.isBuffer(v) || v instanceof Uint8Array)
			return hex(v);
		if (Array.isArray(v))
			return v.map(walk);
		if (v && typeof v === 'object') {
			const r = {};
			for (const k of Object.keys(v))
				r[k] = walk(v[k]);
			return r;
		}
		return v;
	};
	return walk(o);
}

// ---- pre-key upload ------------------------------------------------------

const childBuf = (n, tag) => {
	const c = getBinaryNodeChild(n, tag);
	return c && (Buffer.isBuffer(c.content) || c.content instanceof Uint8Array) ? Buffer.from(c.content) : null;
};

// <iq xmlns="encrypt" type="set"> -> {count, ids, problems, identity}
export function validatePreKeyUpload(node, identity) {
	const problems = [];
	const reg = childBuf(node, 'registration');
	if (!reg || reg.length !== 4)
		problems.push('registration is not 4 bytes');
	const type = childBuf(node, 'type');
	if (!type || type.length !== 1 || type[0] !== 5)
		problems.push('type is not 0x05');
	const ident = childBuf(node, 'identity');
	if (!ident || ident.length !== 32)
		problems.push('identity is not 32 bytes');
	else if (identity && !ident.equals(identity))
		problems.push('identity differs from the paired identity');
	const list = getBinaryNodeChild(node, 'list');
	const keys = list ? getBinaryNodeChildren(list, 'key') : [];
	if (!list)
		problems.push('list missing');
	const ids = [];
	const seen = new Set();
	for (const k of keys) {
		const id = childBuf(k, 'id');
		const value = childBuf(k, 'value');
		if (!id || id.length !== 3) {
			problems.push('a key id is not 3 bytes');
			continue;
		}
		if (!value || value.length !== 32)
			problems.push(`key ${id.readUIntBE(0, 3)} value is not 32 bytes`);
		const n = id.readUIntBE(0, 3);
		if (seen.has(n))
			problems.push(`duplicate key id ${n}`);
		seen.add(n);
		ids.push(n);
	}
	const skey = getBinaryNodeChild(node, 'skey');
	if (!skey)
		problems.push('skey missing');
	else {
		const id = childBuf(skey, 'id');
		const value = childBuf(skey, 'value');
		const sig = childBuf(skey, 'signature');
		if (!id || id.length !== 3)
			problems.push('skey id is not 3 bytes');
		if (!value || value.length !== 32)
			problems.push('skey value is not 32 bytes');
		else if (!sig || !ident || !xverify(ident, Buffer.concat([Buffer.from([5]), value]), sig))
			problems.push('skey signature is not valid under identity');
	}
	return { count: keys.length, ids, problems, identity: ident };
}

// ---- the phone: QR scan, pair-success, pair-device-sign ------------------

// "https://wa.me/settings/linked_devices#ref,noise,ident,adv[,platform]"
// (the URL prefix is optional).
export function parseQR(qr) {
	let s = String(qr).trim();
	if (s.startsWith(QR_PREFIX))
		s = s.slice(QR_PREFIX.length);
	const parts = s.split(',');
	if (parts.length < 4 || parts.length > 5)
		throw new Error(`QR has ${parts.length} fields, want 4 or 5`);
	const [ref, noiseB64, identB64, advB64, platform] = parts;
	const b64 = (x, what) => {
		if (!/^[A-Za-z0-9+/]+={0,2}$/.test(x) || x.length % 4)
			throw new Error(`${what} is not standard padded base64`);
		const b = Buffer.from(x, 'base64');
		if (b.length !== 32)
			throw new Error(`${what} is ${b.length} bytes, not 32`);
		return b;
	};
	return {
		ref, platform: platform ?? null,
		noise: b64(noiseB64, 'noise key'), identity: b64(identB64, 'identity key'), advSecret: b64(advB64, 'adv secret'),
	};
}

// Build the pair-success <iq>.  o: {id, t, jid, lid, identityPub,
// advSecret, account (key pair), rawId, timestamp, keyIndex, hosted,
// fault ('hmac' | 'account-sig' | 'no-device-identity' | 'hosted-hmac-no-prefix'),
// platform, biz}.  Returns {node, details, deviceIdentity (signed, with
// accountSignatureKey), hmacContainer}.
export function buildPairSuccess(o) {
	const hosted = !!o.hosted;
	const detailsObj = {
		rawId: o.rawId >>> 0, timestamp: o.timestamp, keyIndex: o.keyIndex,
		accountType: hosted ? 1 : 0, deviceType: hosted ? 1 : 0,
	};
	const details = Buffer.from(proto.ADVDeviceIdentity.encode(detailsObj).finish());
	const prefix = hosted && o.fault !== 'hosted-account-sig-prefix-0600' ? HOSTED_SIG_PREFIX : ACCOUNT_SIG_PREFIX;
	const accountSignature = xsign(o.account.private, Buffer.concat([prefix, details, o.identityPub]));
	if (o.fault === 'account-sig')
		accountSignature[10] ^= 0x01;
	const signed = { details, accountSignatureKey: o.account.public, accountSignature };
	const signedBytes = Buffer.from(proto.ADVSignedDeviceIdentity.encode(signed).finish());
	const hmacPrefix = hosted && o.fault !== 'hosted-hmac-no-prefix' ? HOSTED_SIG_PREFIX : Buffer.alloc(0);
	const mac = Buffer.from(hmacSign(Buffer.concat([hmacPrefix, signedBytes]), o.advSecret));
	if (o.fault === 'hmac')
		mac[0] ^= 0x80;
	const container = { details: signedBytes, hmac: mac };
	if (hosted)
		container.accountType = 1;
	const containerBytes = Buffer.from(proto.ADVSignedDeviceIdentityHMAC.encode(container).finish());
	const children = [];
	if (o.fault !== 'no-device-identity')
		children.push({ tag: 'device-identity', attrs: {}, content: containerBytes });
	children.push({ tag: 'device', attrs: { jid: o.jid, lid: o.lid } });
	children.push({ tag: 'platform', attrs: { name: o.platform || 'smba' } });
	if (o.biz !== null)
		children.push({ tag: 'biz', attrs: { name: o.biz || 'Test Ltd' } });
	const node = {
		tag: 'iq',
		attrs: { from: 's.whatsapp.net', type: 'set', id: o.id, t: String(o.t) },
		content: [{ tag: 'pair-success', attrs: {}, content: children }],
	};
	return { node, details, signedBytes, accountSignature, containerBytes };
}

// Check the client's <iq type="result"><pair-device-sign>.  expect:
// {details, accountSignature, identityPub, accountPub, keyIndex, hosted}.
export function checkPairDeviceSign(node, expect) {
	const sign = getBinaryNodeChild(node, 'pair-device-sign');
	const di = sign && getBinaryNodeChild(sign, 'device-identity');
	if (!di)
		return { ok: false, why: 'no pair-device-sign/device-identity', key_index: null };
	const keyIndex = di.attrs['key-index'] ?? null;
	const r = (why) => ({ ok: false, why, key_index: keyIndex });
	if (!(Buffer.isBuffer(di.content) || di.content instanceof Uint8Array))
		return r('device-identity has no bytes');
	let a;
	try {
		a = proto.ADVSignedDeviceIdentity.decode(di.content);
	} catch (e) {
		return r(`device-identity does not parse: ${e.message}`);
	}
	if (keyIndex !== String(expect.keyIndex))
		return r(`key-index ${keyIndex} is not ${expect.keyIndex}`);
	if (a.accountSignatureKey && a.accountSignatureKey.length)
		return r('accountSignatureKey is present');
	if (!a.details || !Buffer.from(a.details).equals(expect.details))
		return r('details changed');
	if (!a.accountSignature || !Buffer.from(a.accountSignature).equals(expect.accountSignature))
		return r('accountSignature changed');
	if (!a.deviceSignature || a.deviceSignature.length !== 64)
		return r('deviceSignature missing or not 64 bytes');
	// 0x06 0x01; Baileys also uses it for hosted devices, and defines
	// 0x06 0x06 (WA_ADV_HOSTED_DEVICE_SIG_PREFIX) without using it.
	const prefixes = expect.hosted ? [DEVICE_SIG_PREFIX, Buffer.from([6, 6])] : [DEVICE_SIG_PREFIX];
	const good = prefixes.some((p) => xverify(expect.identityPub,
		Buffer.concat([p, expect.details, expect.identityPub, expect.accountPub]), a.deviceSignature));
	if (!good)
		return r('deviceSignature does not verify under the identity key');
	return { ok: true, why: 'valid', key_index: keyIndex };
}

export const randomRef = () => `2@${randomBytes(33).toString('base64')}`;
export const randomId = () => `${Math.floor(Date.now() / 1000)}.${randomBytes(4).readUInt32BE(0) % 100000}-${randomBytes(2).readUInt16BE(0)}`;


// ---- the phone: pairing code ("link with phone number instead") ----------
// Facts: whatsmeow pair-code.go, Baileys requestPairingCode and its
// link_code_companion_reg notification handler.  The code is 8 characters
// of LINK_CODE_ALPHABET; PBKDF2-SHA256(code, salt, 2<<16 rounds) keys
// AES-256-CTR over an ephemeral public key; wrapped = salt[32] || iv[16]
// || ct[32].  CTR has no integrity: a wrong code unwraps to another point,
// and only the key bundle's GCM tag (companion_finish) shows it.

export const LINK_CODE_ALPHABET = '123456789ABCDEFGHJKLMNPQRSTVWXYZ';
export const LINK_CODE_ITERATIONS = 2 << 16;
export const BUNDLE_INFO = 'link_code_pairing_key_bundle_encryption_key';

// "abcd-efgh" / "ABCDEFGH" -> "ABCDEFGH", or null when not a code.
export function normalizeLinkCode(s) {
	const c = String(s ?? '').replace(/[-\s]/g, '').toUpperCase();
	return c.length === 8 && [...c].every((ch) => LINK_CODE_ALPHABET.includes(ch)) ? c : null;
}
const linkKey = (code, salt) => pbkdf2Sync(Buffer.from(code), salt, LINK_CODE_ITERATIONS, 32, 'sha256');
const ctr = (key, iv, data) => {
	const c = createCipheriv('aes-256-ctr', key, iv);
	return Buffer.concat([c.update(data), c.final()]);
};
export function wrapLinkKey(code, pub, salt = randomBytes(32), iv = randomBytes(16)) {
	return Buffer.concat([salt, iv, ctr(linkKey(code, salt), iv, Buffer.from(pub))]);
}
export function unwrapLinkKey(code, wrapped) {
	const w = Buffer.from(wrapped);
	return ctr(linkKey(code, w.subarray(0, 32)), w.subarray(32, 48), w.subarray(48, 80));
}
export const hkdf32 = (ikm, salt, info) => Buffer.from(hkdfSync('sha256', ikm, salt ?? Buffer.alloc(0), Buffer.from(info), 32));
// X25519 that yields zeros instead of throwing (a garbage point from a
// wrong code is still a point; only small-order ones give zero)
export function x25519(priv, pub) {
	try {
		return Buffer.from(Curve.sharedKey(priv, Buffer.from(pub)));
	} catch {
		return Buffer.alloc(32);
	}
}

const childContent = (n, tag) => {
	const c = n && getBinaryNodeChild(n, tag);
	return c ? c.content : undefined;
};
const asBuf = (v) => (Buffer.isBuffer(v) || v instanceof Uint8Array ? Buffer.from(v) : typeof v === 'string' ? Buffer.from(v) : null);

// The companion's <iq xmlns="md" type="set"><link_code_companion_reg
// stage="companion_hello">.  expect: {phone (digits), noiseStatic}.
// Returns {problems, wrapped, phone, platformId, display, nonce}.
export function validateCompanionHello(node, expect) {
	const problems = [];
	const a = node.attrs || {};
	if (a.xmlns !== 'md')
		problems.push(`iq xmlns is ${a.xmlns}, not md`);
	if (a.type !== 'set')
		problems.push(`iq type is ${a.type}, not set`);
	if (a.to !== 's.whatsapp.net' && a.to !== '@s.whatsapp.net') // token, or Baileys' empty-user JID_PAIR
		problems.push(`iq to is ${a.to}, not s.whatsapp.net`);
	if (!a.id)
		problems.push('iq has no id');
	const reg = getBinaryNodeChild(node, 'link_code_companion_reg');
	const r = reg ? reg.attrs : {};
	const jid = r.jid ? jidDecode(r.jid) : null;
	const phone = jid ? jid.user : null;
	if (!jid || jid.server !== 's.whatsapp.net' || jid.device)
		problems.push(`jid ${r.jid} is not PHONE@s.whatsapp.net`);
	else if (phone !== expect.phone)
		problems.push(`phone ${phone} is not ${expect.phone}`);
	if (r.stage !== 'companion_hello')
		problems.push(`stage is ${r.stage}`);
	if (r.should_show_push_notification !== 'true' && r.should_show_push_notification !== 'false')
		problems.push('should_show_push_notification is not true/false');
	const wrapped = asBuf(childContent(reg, 'link_code_pairing_wrapped_companion_ephemeral_pub'));
	if (!wrapped || wrapped.length !== 80)
		problems.push(`wrapped companion ephemeral is ${wrapped ? wrapped.length : 'missing'}, not 80 bytes`);
	const auth = asBuf(childContent(reg, 'companion_server_auth_key_pub'));
	if (!auth || !expect.noiseStatic || !auth.equals(Buffer.from(expect.noiseStatic)))
		problems.push('companion_server_auth_key_pub is not the connection\'s Noise static key');
	const pid = asBuf(childContent(reg, 'companion_platform_id'));
	const platformId = pid ? pid.toString() : null;
	if (!platformId || !/^[0-9]$/.test(platformId))
		problems.push(`companion_platform_id ${platformId} is not a digit`);
	const disp = asBuf(childContent(reg, 'companion_platform_display'));
	const display = disp ? disp.toString() : null;
	if (!display || !/^[^()]+ \([^()]+\)$/.test(display))
		problems.push(`companion_platform_display ${display} is not "Browser (OS)"`);
	const nonceRaw = childContent(reg, 'link_code_pairing_nonce');
	let nonce = null;
	if (typeof nonceRaw === 'string' && nonceRaw === '0')
		nonce = 'text-0'; // Baileys
	else if (nonceRaw && asBuf(nonceRaw).length === 1 && asBuf(nonceRaw)[0] === 0 && typeof nonceRaw !== 'string')
		nonce = 'byte-0'; // whatsmeow
	else
		problems.push('link_code_pairing_nonce is neither the byte 0x00 nor "0"');
	return { problems, wrapped, phone, platformId, display, nonce };
}

// The phone's <notification type="link_code_companion_reg"> (primary_hello).
export function buildPrimaryHello({ id, t, wrapped, identityPub, ref }) {
	return {
		tag: 'notification', attrs: { from: 's.whatsapp.net', type: 'link_code_companion_reg', id, t: String(t) },
		content: [{
			tag: 'link_code_companion_reg', attrs: { stage: 'primary_hello' },
			content: [
				{ tag: 'link_code_pairing_wrapped_primary_ephemeral_pub', attrs: {}, content: Buffer.from(wrapped) },
				{ tag: 'primary_identity_pub', attrs: {}, content: Buffer.from(identityPub) },
				{ tag: 'link_code_pairing_ref', attrs: {}, content: Buffer.from(ref) },
			],
		}],
	};
}

// The companion's companion_finish, opened by the phone.  st: {s1, ref,
// companionIdentity (registration eIdent), account (key pair), phone}.
// Returns {refused: why} when the bundle does not open (wrong code), else
// {ok, problems, advSecret}.
export function openCompanionFinish(node, st) {
	const reg = getBinaryNodeChild(node, 'link_code_companion_reg');
	if (!reg || reg.attrs.stage !== 'companion_finish')
		return { ok: false, problems: ['no link_code_companion_reg stage companion_finish'] };
	const problems = [];
	const jid = reg.attrs.jid ? jidDecode(reg.attrs.jid) : null;
	if (!jid || jid.user !== st.phone)
		problems.push(`finish jid ${reg.attrs.jid} is not the hello's phone`);
	const ref = asBuf(childContent(reg, 'link_code_pairing_ref'));
	if (!ref || !ref.equals(Buffer.from(st.ref)))
		problems.push('link_code_pairing_ref differs');
	const ident = asBuf(childContent(reg, 'companion_identity_public'));
	if (!ident || ident.length !== 32)
		problems.push('companion_identity_public is not 32 bytes');
	else if (st.companionIdentity && !ident.equals(Buffer.from(st.companionIdentity)))
		problems.push('companion_identity_public differs from eIdent of the registration payload');
	const bundle = asBuf(childContent(reg, 'link_code_pairing_wrapped_key_bundle'));
	if (!bundle || bundle.length !== 156)
		return { ok: false, problems: [...problems, `key bundle is ${bundle ? bundle.length : 'missing'}, not 156 bytes`] };
	const key = hkdf32(st.s1, bundle.subarray(0, 32), BUNDLE_INFO);
	let plain;
	try {
		const d = createDecipheriv('aes-256-gcm', key, bundle.subarray(32, 44));
		d.setAuthTag(bundle.subarray(140));
		plain = Buffer.concat([d.update(bundle.subarray(44, 140)), d.final()]);
	} catch {
		return { refused: 'the key bundle does not decrypt: the code entered does not match the companion\'s' };
	}
	if (ident && ident.length === 32 && !plain.subarray(0, 32).equals(ident))
		problems.push('bundle identity differs from companion_identity_public');
	if (!plain.subarray(32, 64).equals(Buffer.from(st.account.public)))
		problems.push('bundle primary identity is not ours');
	const idShared = x25519(st.account.private, plain.subarray(0, 32));
	const advSecret = hkdf32(Buffer.concat([st.s1, idShared, plain.subarray(64, 96)]), null, 'adv_secret');
	return { ok: problems.length === 0, problems, advSecret };
}
