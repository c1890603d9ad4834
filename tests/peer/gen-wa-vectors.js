#!/usr/bin/env node
// gen-wa-vectors.js - record known-answer vectors for the C binary-node
// codec (archiver/wa/binary.c) from npm baileys@7.0.0-rc14's own
// encodeBinaryNode / decodeBinaryNode, so the C tests run without Node.
//
//   node gen-wa-vectors.js > ../wa/vectors/binary.json
//   node gen-wa-vectors.js --corpus ../wa/corpus   (also write fuzz seeds)
//
// Output (JSON, byte strings in lower-case hex):
//   nodes[]       {name, node, encoded | encoded_len+encoded_sha256+
//                 encoded_prefix, decoded?, c_decoded?, note?}
//                 node: what was given to encodeBinaryNode; encoded: its
//                 output without the leading flag byte; decoded: what
//                 decodeBinaryNode made of it (absent: equal to node).  C
//                 must encode `node` to exactly `encoded` and decode
//                 `encoded` to `decoded`, or to c_decoded where the C
//                 decoder knowingly differs (note says why).
//   decode_only[] {name, encoded, decoded, c_reencodes}: hand-written wire
//                 bytes (forms Baileys never writes: FB_JID, INTEROP_JID,
//                 non-minimal lengths), decoded by Baileys.  c_reencodes:
//                 the C encoder writes `decoded` back to the same bytes.
//   invalid[]     {name, encoded}: bytes decodeBinaryNode rejects.
//   frames[]      {name, frame, node}: decrypted frame bodies (flag byte,
//                 zlib when flag & 2) and the node bytes they carry, as
//                 decompressingIfRequired returns them.
// A node is {tag, attrs: [[key, value], ...], content}; content is absent,
// {"bytes": hex}, {"pattern": {len, seed}} (byte i = (i * 31 + seed) & 255),
// {"text": string} or an array of nodes.
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import { createRequire } from 'node:module';
import { encodeBinaryNode, decodeBinaryNode } from 'baileys/lib/WABinary/index.js';

const require = createRequire(import.meta.url);
const BAILEYS_VERSION = require('baileys/package.json').version;

function die(msg) {
	process.stderr.write(`gen-wa-vectors: ${msg}\n`);
	process.exit(1);
}

const hex = (b) => Buffer.from(b).toString('hex');
const sha256 = (b) => createHash('sha256').update(b).digest('hex');
const pattern = (len, seed) => {
	const b = Buffer.alloc(len);
	for (let i = 0; i < len; i++)
		b[i] = (i * 31 + seed) & 255;
	return b;
};
// Deterministic "random" bytes for keys and ciphertexts.
const bytes = (len, seed) => {
	const out = Buffer.alloc(len);
	let h = Buffer.alloc(0);
	for (let i = 0; i < len; i += 32) {
		h = createHash('sha256').update(`${seed}:${i}`).digest();
		h.copy(out, i, 0, Math.min(32, len - i));
	}
	return out;
};

// ---- node builders (Baileys' shape) --------------------------------------

const N = (tag, attrs = {}, content) => {
	const n = { tag, attrs };
	if (content !== undefined)
		n.content = content;
	return n;
};

// Baileys node -> JSON vector node.  Blobs made by P() are recorded as
// patterns, also when decodeBinaryNode hands them back as fresh slices.
const patterns = new Map(); // `${len}:${seed}` -> {len, seed}
const P = (len, seed) => {
	patterns.set(`${len}:${seed}`, { len, seed });
	return pattern(len, seed);
};
function findPattern(b) {
	// pattern(len, seed) starts with seed, then seed + 31, ...
	if (b.length < 2 || ((b[1] - b[0]) & 255) !== 31)
		return undefined;
	const p = patterns.get(`${b.length}:${b[0]}`);
	return p && b.equals(pattern(p.len, p.seed)) ? p : undefined;
}
function toJson(n) {
	const keys = Object.keys(n.attrs || {});
	const o = { tag: n.tag, attrs: keys.map((k) => [k, n.attrs[k]]) };
	const c = n.content;
	if (c === undefined)
		return o;
	if (Array.isArray(c))
		o.content = c.map(toJson);
	else if (typeof c === 'string')
		o.content = { text: c };
	else if (Buffer.isBuffer(c) || c instanceof Uint8Array) {
		const b = Buffer.from(c);
		const p = findPattern(b);
		o.content = p ? { pattern: { len: p.len, seed: p.seed } } : { bytes: hex(b) };
	} else
		die(`unexpected content in <${n.tag}>`);
	return o;
}
const BP = P;

// Keys that JavaScript would reorder (integer-like) or that hit Object's
// prototype in Baileys' TOKEN_MAP are not used.
function checkAttrs(n) {
	for (const k of Object.keys(n.attrs || {})) {
		if (/^(0|[1-9][0-9]*)$/.test(k))
			die(`integer-like key ${k} would be reordered`);
		if (k in Object.prototype || n.attrs[k] in Object.prototype)
			die(`key or value ${k} is an Object.prototype name`);
	}
	if (Array.isArray(n.content))
		n.content.forEach(checkAttrs);
}

// ---- the nodes -----------------------------------------------------------

const PN = '15551234567';
const LID = '123456789012345';
const nodes = [];
const add = (name, node, extra = {}) => nodes.push({ name, node, ...extra });

add('iq-ping', N('iq', { id: '1700000000-1', to: 's.whatsapp.net', type: 'get', xmlns: 'w:p' },
	[N('ping')]));
add('iq-result-hex-id', N('iq', { to: 's.whatsapp.net', type: 'result', id: '3EB0C767D26A1D6C1E2B' }));
add('iq-pair-device', N('iq', { from: 's.whatsapp.net', type: 'set', id: '2123456789' }, [
	N('pair-device', {}, [
		N('ref', {}, Buffer.from('2@Pq3XvWBd0n1cq3uP7w5kM3Yr6Gm2Zb,AbCdEfGh==')),
		N('ref', {}, Buffer.from('2@Zz9yXx8wVv7uTt6sSr5qQp4oOn3mMl,HiJkLmNo==')),
	]),
]));
add('message-pkmsg', N('message', {
	from: `${PN}@s.whatsapp.net`, type: 'text', id: '3EB0A1B2C3D4E5F60718',
	t: '1700000123', notify: 'Zoë 😀', offline: '0',
}, [N('enc', { v: '2', type: 'pkmsg' }, bytes(160, 'pkmsg'))]));
add('message-group-skmsg', N('message', {
	from: '120363025246125888@g.us', participant: `${PN}:12@s.whatsapp.net`,
	type: 'media', id: 'ABCDEF0123456789ABCDEF0123456789', t: '1700000456',
	addressing_mode: 'pn', participant_lid: `${LID}:12@lid`,
}, [
	N('enc', { v: '2', type: 'skmsg', mediatype: 'image' }, bytes(300, 'skmsg')),
	N('enc', { v: '2', type: 'msg' }, bytes(48, 'msg')),
]));
add('receipt-read', N('receipt', {
	id: '3EB0A1B2C3D4E5F60718', to: '120363025246125888@g.us',
	participant: `${PN}:3@s.whatsapp.net`, type: 'read', t: '1700000789',
}, [N('list', {}, [N('item', { id: '3EB0FFEEDDCCBBAA9988' }), N('item', { id: 'B0B0B0B0' })])]));
add('ack-receipt', N('ack', { class: 'receipt', id: '3EB0A1B2C3D4E5F60718', to: `${LID}@lid`, type: 'read' }));
add('jids-every-form', N('jids', {
	user: `${PN}@s.whatsapp.net`,
	device: `${PN}:7@s.whatsapp.net`,
	device_max: `${PN}:255@s.whatsapp.net`,
	group: '120363025246125888@g.us',
	group_old: `${PN}-1600000000@g.us`,
	lid: `${LID}@lid`,
	lid_device: `${LID}:3@lid`,
	hosted: `${PN}@hosted`,
	hosted_device: `${PN}:99@hosted`,
	hosted_lid: `${LID}@hosted.lid`,
	hosted_lid_device: `${LID}:99@hosted.lid`,
	status: 'status@broadcast',
	broadcast_list: '1600000000@broadcast',
	newsletter: '120363144038483540@newsletter',
	server: 's.whatsapp.net',
	empty_user: '@s.whatsapp.net',
	legacy_cus: '16505361212@c.us',
	bot: '13135550002@bot',
	call: 'abcdef@call',
	msgr_user: '100012345678@msgr',
	interop_user: 'someone@interop',
	word_user: 'server@c.us',
}));
// An AD_JID domain byte other than 0, 1, 128, 129 ("agent"): Baileys
// encodes user_A:D but drops A when decoding; the C decoder keeps it, so
// its expected result is given as c_decoded.
add('jid-agent', N('jids', { agent: `${PN}_5:2@s.whatsapp.net`, agent_device0: `${PN}_7:0@s.whatsapp.net` }), {
	c_decoded: { tag: 'jids', attrs: [['agent', `${PN}_5:2@s.whatsapp.net`], ['agent_device0', `${PN}_7:0@s.whatsapp.net`]] },
	note: 'Baileys drops an unknown AD_JID domain byte when decoding; chatledger keeps it as user_A:D@s.whatsapp.net',
});
add('jid-content', N('to', {}, `${PN}:4@s.whatsapp.net`));
add('nibble-strings', N('packed', {
	t: '1700000000', odd: '12345', dots: '1.2-3', neg: '-1', dot: '.',
	long_nibble: '1'.repeat(127), too_long_nibble: '2'.repeat(128),
}));
add('hex-strings', N('packed', {
	even: '3EB0A1B2C3D4E5F60718', odd: 'ABC', letters: 'DEAD', lower: '3eb0a1',
	long_hex: 'F'.repeat(127), too_long_hex: 'E'.repeat(128), mixed: '12AB-',
}));
add('tokens', N('notification', {
	from: 's.whatsapp.net', type: 'encrypt', id: '0', t: '1', class: 'read-self',
	value: 'profile_picture', mode: 'failure', xmlns: 'encrypt',
}, [N('count', { value: '4' })]));
add('text-content-token', N('error', { code: '401', text: 'hmac-mismatch' }, 'conflict'));
add('text-content-nibble', N('t', {}, '1700000000'));
add('text-content-raw', N('text', {}, 'hello, world'));
add('text-content-empty', N('empty', {}, ''));
add('empty-child-list', N('list', {}, []));
add('empty-attr-value', N('x', { a: '', b: 'x' }));
add('unicode-raw', N('profile', { name: 'Zoë 😀 — Ωmega', about: 'こんにちは' }, Buffer.from('bytes ✓', 'utf8')));
add('stream-error-replaced', N('stream:error', {}, [N('conflict', { type: 'replaced' })]));
add('stream-error-515', N('stream:error', { code: '515' }));
add('xmlstreamend', N('xmlstreamend'));
add('success', N('success', {
	t: '1700000000', props: '26034', abprops: '51', location: 'frc',
	lid: `${LID}@lid`, creation: '1600000000', companion_enc_static: 'AbCdEf0123456789abcdef0123456789ABCDEF01234=',
}));
add('failure-402', N('failure', { reason: '402', code: '101', expire: '1700086400' }));
add('pair-success', N('iq', { from: 's.whatsapp.net', type: 'set', id: '2123456790', t: '1700000000' }, [
	N('pair-success', {}, [
		N('device-identity', {}, bytes(170, 'adv')),
		N('device', { jid: `${PN}:21@s.whatsapp.net`, lid: `${LID}:21@lid` }),
		N('platform', { name: 'android' }),
		N('biz', { name: 'Acme Ltd' }),
	]),
]));
add('prekey-upload-list16', N('iq', { xmlns: 'encrypt', type: 'set', to: 's.whatsapp.net', id: '1700000000-7' }, [
	N('registration', {}, Buffer.from([0x00, 0x00, 0x30, 0x39])),
	N('type', {}, Buffer.from([0x05])),
	N('identity', {}, bytes(32, 'identity')),
	N('list', {}, Array.from({ length: 256 }, (_, i) => N('key', {}, [
		N('id', {}, Buffer.from([(i >> 16) & 255, (i >> 8) & 255, i & 255])),
		N('value', {}, P(32, i)),
	]))),
	N('skey', {}, [
		N('id', {}, Buffer.from([0, 0, 1])),
		N('value', {}, bytes(32, 'skey')),
		N('signature', {}, bytes(64, 'sig')),
	]),
]));
add('attrs-list16', N('props', Object.fromEntries(
	Array.from({ length: 130 }, (_, i) => [`k${i}`, `v${i}`]))));
add('binary8-max', N('b', {}, P(255, 1)));
add('binary20-min', N('b', {}, P(256, 2)));
add('binary20-raw-string', N('b', { s: 'x'.repeat(300) }));
add('binary20-70000', N('b', {}, BP(70000, 3)));
add('binary20-max', N('b', {}, BP((1 << 20) - 1, 4)));
add('binary32-min', N('b', {}, BP(1 << 20, 5)));
let deep = N('leaf', { depth: '20' });
for (let i = 19; i >= 1; i--)
	deep = N('n', { depth: String(i) }, [deep]);
add('nested-20', deep);

// ---- decode-only vectors: bytes Baileys' encoder never writes -----------

// Tokens used: 0x19 "iq", 0x11 "to", 0xcc "msgr", 0x03 "s.whatsapp.net".
const decodeOnly = [
	// <iq to=AD_JID(0, 0, nibble "123")>: "123@s.whatsapp.net"
	['ad-jid-device0', 'f8031911' + 'f7' + '00' + '00' + 'ff82123f', false],
	// <iq to=AD_JID(1, 0, "123")>: "123@lid"
	['ad-jid-lid-device0', 'f8031911' + 'f7' + '01' + '00' + 'ff82123f', false],
	// <iq to=AD_JID(128, 5, "123")>: "123:5@hosted"
	['ad-jid-hosted', 'f8031911' + 'f7' + '80' + '05' + 'ff82123f', true],
	// <iq to=FB_JID(nibble "100012345678", 7, "msgr")>: "100012345678:7@msgr"
	['fb-jid', 'f8031911' + 'f6' + 'ff06100012345678' + '0007' + 'cc', true],
	// <iq to=INTEROP_JID("abc", 2, 9, "interop")>: "9-abc:2@interop"
	['interop-jid', 'f8031911' + 'f5' + 'fc03616263' + '0002' + '0009' + 'fc07696e7465726f70', true],
	// <iq to=JID_PAIR(LIST_EMPTY, "s.whatsapp.net")>: "@s.whatsapp.net"
	['jid-pair-no-user', 'f8031911' + 'fa0003', true],
	// <iq to=JID_PAIR(BINARY_8 "", "s.whatsapp.net")>: "@s.whatsapp.net"
	['jid-pair-empty-user', 'f8031911' + 'fafc0003', false],
	// LIST_16 header with a small count
	['list16-small', 'f9000319' + '1111', false],
	// BINARY_20 content of 3 bytes
	['binary20-small', 'f80219' + 'fd000003616263', false],
	// content LIST_16 holding one child
	['children-list16', 'f80219' + 'f90001f80119', false],
	// BINARY_32 content of 2 bytes
	['binary32-small', 'f80219' + 'fe000000020102', false],
	// BINARY_20 with the ignored top bits of its length set
	['binary20-top-bits', 'f80219' + 'fdf00001ab', false],
	// a raw BINARY_8 string that the encoder writes as a token ("to")
	['raw-token-string', 'f8031911' + 'fc02746f', false],
	// packed empty string as a value
	['nibble-empty', 'f8031911' + 'ff00', false],
];

// ---- invalid: Baileys throws -------------------------------------------

const invalid = [
	['empty-input', ''],
	['list-size-0', 'f800'],
	['list-empty-node', '00'],
	['not-a-list', '19'],
	['empty-tag-list-empty', 'f80100'],
	['empty-tag-binary', 'f801fc00'],
	['bad-string-tag-240', 'f801f0'],
	['bad-string-tag-244', 'f801f4'],
	['list-as-tag', 'f801f80119'],
	['truncated-list8', 'f8'],
	['truncated-list16', 'f900'],
	['truncated-attr', 'f80319'],
	['truncated-binary8', 'f80219fc05616263'],
	['truncated-binary20', 'f80219fd00'],
	['truncated-binary32', 'f80219fe0000001000'],
	['truncated-packed', 'f801ff03'],
	['bad-nibble-12', 'f801ff01c0'],
	['jid-pair-empty-server', 'f8031911fa0300'],
	['truncated-children', 'f80219f80300'],
	['child-not-a-list', 'f80219f80119'],
	['truncated-ad-jid', 'f8031911f700'],
	['truncated-dictionary', 'f801ec'],
];

// ---- frames ----------------------------------------------------------------

const frames = [];

// ---- run Baileys -----------------------------------------------------------

function encodeNode(node) {
	const full = encodeBinaryNode(node);
	if (full[0] !== 0)
		die('encodeBinaryNode output does not start with the 0 flag');
	return full.subarray(1);
}

async function main() {
	const out = {
		source: `npm baileys@${BAILEYS_VERSION} encodeBinaryNode/decodeBinaryNode`,
		generated_by: 'tests/peer/gen-wa-vectors.js',
		nodes: [],
		decode_only: [],
		invalid: [],
		frames: [],
	};
	for (const { name, node, c_decoded: cd, note } of nodes) {
		checkAttrs(node);
		const enc = encodeNode(node);
		const dec = await decodeBinaryNode(Buffer.concat([Buffer.alloc(1), enc]));
		const v = { name, node: toJson(node) };
		if (enc.length > 65536) {
			v.encoded_len = enc.length;
			v.encoded_sha256 = sha256(enc);
			v.encoded_prefix = hex(enc.subarray(0, 16));
		} else
			v.encoded = hex(enc);
		// decoded is left out when it equals node.
		const dj = toJson(dec);
		if (JSON.stringify(dj) !== JSON.stringify(v.node))
			v.decoded = dj;
		if (cd) {
			v.c_decoded = cd;
			v.note = note;
		}
		out.nodes.push(v);
	}
	for (const [name, h, same] of decodeOnly) {
		const dec = await decodeBinaryNode(Buffer.from(`00${h}`, 'hex'));
		out.decode_only.push({ name, encoded: h, decoded: toJson(dec), c_reencodes: same });
	}
	for (const [name, h] of invalid) {
		let ok = true;
		try {
			await decodeBinaryNode(Buffer.from(`00${h}`, 'hex'));
		} catch {
			ok = false;
		}
		if (ok)
			die(`invalid vector ${name} decodes in Baileys`);
		out.invalid.push({ name, encoded: h });
	}
	// Frame bodies: plain (flag 0) and zlib (flag 2, also with other flag
	// bits that clients ignore).
	const ping = encodeNode(nodes[0].node);
	const upload = encodeNode(nodes.find((n) => n.name === 'prekey-upload-list16').node);
	const big = encodeNode(N('b', {}, pattern(200000, 9)));
	const bodies = [
		['plain-ping', Buffer.concat([Buffer.from([0]), ping])],
		['zlib-ping', Buffer.concat([Buffer.from([2]), deflateSync(ping)])],
		['zlib-prekey-upload', Buffer.concat([Buffer.from([2]), deflateSync(upload)])],
		['zlib-200k-pattern', Buffer.concat([Buffer.from([2]), deflateSync(big, { level: 9 })])],
		['zlib-flag-6', Buffer.concat([Buffer.from([6]), deflateSync(ping)])],
		['plain-flag-1', Buffer.concat([Buffer.from([1]), ping])],
	];
	for (const [name, body] of bodies) {
		const node = await decodeBinaryNode(body);
		const inner = body[0] & 2 ? Buffer.from(await import('node:zlib').then((z) => z.inflateSync(body.subarray(1)))) : body.subarray(1);
		if (!encodeNode(node).equals(inner))
			die(`frame ${name} does not round-trip in Baileys`);
		const f = { name, frame: hex(body) };
		if (inner.length > 65536) {
			f.node_len = inner.length;
			f.node_sha256 = sha256(inner);
		} else
			f.node = hex(inner);
		out.frames.push(f);
	}
	frames.push(...bodies);
	process.stdout.write(JSON.stringify(out, null, 1) + '\n');

	const ci = process.argv.indexOf('--corpus');
	if (ci >= 0) {
		const dir = process.argv[ci + 1];
		const bdir = join(dir, 'wa_binary');
		const fdir = join(dir, 'wa_frame');
		mkdirSync(bdir, { recursive: true });
		mkdirSync(fdir, { recursive: true });
		// wa_binary seeds: node bytes (small ones) and a few invalid ones.
		for (const v of out.nodes)
			if (v.encoded && v.encoded.length <= 2 * 8192)
				writeFileSync(join(bdir, v.name), Buffer.from(v.encoded, 'hex'));
		for (const v of out.decode_only)
			writeFileSync(join(bdir, `do-${v.name}`), Buffer.from(v.encoded, 'hex'));
		for (const v of out.invalid.slice(0, 8))
			writeFileSync(join(bdir, `bad-${v.name}`), Buffer.from(v.encoded, 'hex'));
		// Frame bodies (flag byte, zlib): the target unpacks them too.
		for (const [name, body] of bodies)
			if (body.length <= 8192)
				writeFileSync(join(bdir, `frame-${name}`), body);
		// wa_frame seeds: byte 0 picks the chunking and mode in the fuzz
		// target; then a prologue and length-prefixed frame bodies.
		const frame = (b) => Buffer.concat([Buffer.from([b.length >> 16, (b.length >> 8) & 255, b.length & 255]), b]);
		const prologue = Buffer.from([87, 65, 6, 3]);
		const small = bodies.filter(([n]) => n !== 'zlib-200k-pattern' && n !== 'zlib-prekey-upload');
		writeFileSync(join(fdir, 'client-stream'), Buffer.concat([Buffer.from([0x01]), prologue, ...small.map(([, b]) => frame(b))]));
		writeFileSync(join(fdir, 'server-stream'), Buffer.concat([Buffer.from([0x10]), ...small.map(([, b]) => frame(b))]));
		writeFileSync(join(fdir, 'split-7'), Buffer.concat([Buffer.from([0x72]), frame(small[1][1]), frame(Buffer.alloc(0)), frame(small[0][1])]));
		writeFileSync(join(fdir, 'truncated'), Buffer.concat([Buffer.from([0x30]), frame(small[0][1]).subarray(0, 9)]));
	}
}

main().catch((e) => die(e.stack || String(e)));
