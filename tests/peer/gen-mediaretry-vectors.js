#!/usr/bin/env node
// gen-mediaretry-vectors.js - known answers for the C collector's media
// retry code (archiver/wa/mediaretry.c): the phone's answers as binary
// nodes (Baileys' encodeBinaryNode, without the frame flag byte), their
// enc_p sealed with Baileys' aesEncryptGCM under the key
// HKDF-SHA256(mediaKey, "WhatsApp Media Retry Notification"), and one
// request built by Baileys' encryptMediaRetryRequest.  Fixed keys and
// IVs, so the output is the same on every run.
//
//   node gen-mediaretry-vectors.js            writes ../wa/vectors/mediaretry.json
//   node gen-mediaretry-vectors.js --out DIR  writes DIR/mediaretry.json
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { proto } from 'baileys/WAProto/index.js';
import { aesEncryptGCM, hkdf } from 'baileys/lib/Utils/crypto.js';
import { encryptMediaRetryRequest } from 'baileys/lib/Utils/messages-media.js';
import { encodeBinaryNode, getBinaryNodeChild } from 'baileys/lib/WABinary/index.js';

const require = createRequire(import.meta.url);
const here = dirname(fileURLToPath(import.meta.url));
let outDir = join(here, '..', 'wa', 'vectors');
if (process.argv[2] === '--out' && process.argv[3])
	outDir = process.argv[3];

const hex = (b) => Buffer.from(b).toString('hex');
const KEY = Buffer.alloc(32, 0x5a);
const OTHER = Buffer.alloc(32, 0xa5);
const CHAT = '85290000002@s.whatsapp.net';
const OWN = '85291234567@s.whatsapp.net';
const retryKey = (k) => hkdf(k, 32, { info: 'WhatsApp Media Retry Notification' });

// A notification node (bytes) answering message `id`.
function answer(id, { key = KEY, aad = id, body, error, participant } = {}) {
	const rmr = { tag: 'rmr', attrs: { jid: participant ? '120363000000000009@g.us' : CHAT, from_me: 'false', ...(participant ? { participant } : {}) } };
	let content;
	if (error !== undefined) {
		content = [rmr, { tag: 'error', attrs: { code: String(error) } }];
	} else {
		const iv = Buffer.alloc(12, id.length);
		const ct = aesEncryptGCM(proto.MediaRetryNotification.encode(body).finish(), retryKey(key), iv, Buffer.from(aad));
		content = [rmr, { tag: 'encrypt', attrs: {}, content: [{ tag: 'enc_p', attrs: {}, content: ct }, { tag: 'enc_iv', attrs: {}, content: iv }] }];
	}
	const node = { tag: 'notification', attrs: { from: OWN, type: 'mediaretry', id, t: '1765000000' }, content };
	return hex(encodeBinaryNode(node).subarray(1)); // without the flag byte
}

const S = proto.MediaRetryNotification.ResultType;
const PATH = '/v/t62.7118-24/0123456789abcdef.enc?ccb=11-4&oh=y';
const cases = [
	{ name: 'success', id: 'RMR1', node: answer('RMR1', { body: { stanzaId: 'RMR1', directPath: PATH, result: S.SUCCESS } }), rc: 'ok', result: 1, path: PATH },
	{ name: 'success in a group', id: 'RMR2', node: answer('RMR2', { participant: '85290000009@s.whatsapp.net', body: { stanzaId: 'RMR2', directPath: PATH, result: S.SUCCESS } }), rc: 'ok', result: 1, path: PATH, participant: '85290000009@s.whatsapp.net' },
	{ name: 'not found', id: 'RMR3', node: answer('RMR3', { body: { stanzaId: 'RMR3', result: S.NOT_FOUND } }), rc: 'ok', result: 2 },
	{ name: 'decryption error', id: 'RMR4', node: answer('RMR4', { body: { stanzaId: 'RMR4', result: S.DECRYPTION_ERROR } }), rc: 'ok', result: 3 },
	{ name: 'the phone\'s error code 2', id: 'RMR5', node: answer('RMR5', { error: 2 }), rc: 'ok', result: 100, error_code: 2 },
	{ name: 'sealed under another media key', id: 'RMR6', node: answer('RMR6', { key: OTHER, body: { stanzaId: 'RMR6', directPath: PATH, result: S.SUCCESS } }), rc: 'badsig' },
	{ name: 'sealed for another message id', id: 'RMR7', node: answer('RMR7', { aad: 'RMR8', body: { stanzaId: 'RMR7', directPath: PATH, result: S.SUCCESS } }), rc: 'badsig' },
	{ name: 'answers another message', id: 'RMR9', node: answer('RMR9', { body: { stanzaId: 'RMR0', directPath: PATH, result: S.SUCCESS } }), rc: 'invalid' },
	{ name: 'success without a path', id: 'RMRA', node: answer('RMRA', { body: { stanzaId: 'RMRA', result: S.SUCCESS } }), rc: 'invalid' },
	{ name: 'success with a path that is not one', id: 'RMRB', node: answer('RMRB', { body: { stanzaId: 'RMRB', directPath: 'https://evil/x y', result: S.SUCCESS } }), rc: 'invalid' },
];
const req = encryptMediaRetryRequest({ id: 'RMRREQ1', remoteJid: CHAT, fromMe: false }, KEY, OWN);
const enc = getBinaryNodeChild(req, 'encrypt');
const out = {
	generator: `tests/peer/gen-mediaretry-vectors.js, baileys ${require('baileys/package.json').version}`,
	media_key: hex(KEY),
	retry_key: hex(retryKey(KEY)),
	answers: cases,
	request: { id: 'RMRREQ1', enc_p: hex(getBinaryNodeChild(enc, 'enc_p').content), enc_iv: hex(getBinaryNodeChild(enc, 'enc_iv').content),
		server_error_receipt: hex(proto.ServerErrorReceipt.encode({ stanzaId: 'RMRREQ1' }).finish()) },
};
writeFileSync(join(outDir, 'mediaretry.json'), JSON.stringify(out, null, 1) + '\n');
