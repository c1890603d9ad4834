// history.js - the phone's history sync for the collector tests: a
// HistorySync protobuf (Baileys' WAProto), zlib-deflated, either inline
// in the notification (initialHistBootstrapInlinePayload) or encrypted as
// WhatsApp media ("WhatsApp History Keys", mms-type md-msg-hist) for the
// peer's HTTPS media host.
//
// spec: {inline, include (K: the last K messages already delivered live,
// so the collector must find them duplicates), new (M old messages per
// chat that never came live), chats (how many chats, default 2), fault
// ("mac": the MAC is wrong, "gone": the host answers 404, "hash": the
// plaintext hash is wrong)}.
import { createCipheriv, createHash, createHmac, hkdfSync, randomBytes } from 'node:crypto';
import { deflateSync } from 'node:zlib';
import { proto } from 'baileys/WAProto/index.js';
import { buildMessage } from './sender.js';

const sha256 = (b) => createHash('sha256').update(b).digest();

// WhatsApp's media encryption of `plain` with a fresh media key.
export function encryptMedia(plain, info) {
	const mediaKey = randomBytes(32);
	const k = Buffer.from(hkdfSync('sha256', mediaKey, Buffer.alloc(0), info, 112));
	const iv = k.subarray(0, 16), cipherKey = k.subarray(16, 48), macKey = k.subarray(48, 80);
	const c = createCipheriv('aes-256-cbc', cipherKey, iv);
	const ct = Buffer.concat([c.update(plain), c.final()]);
	const mac = createHmac('sha256', macKey).update(iv).update(ct).digest().subarray(0, 10);
	const body = Buffer.concat([ct, mac]);
	return { mediaKey, body, fileEncSha256: sha256(body), fileSha256: sha256(plain) };
}

export function buildHistory(spec, sentItems, own) {
	const nChats = spec.chats ?? 2;
	const nNew = spec.new ?? 5;
	const base = 1700000000; // 2023-11-14: older than anything live
	const convs = new Map();
	const conv = (id) => {
		if (!convs.has(id))
			convs.set(id, { id, messages: [] });
		return convs.get(id);
	};
	const included = [];
	for (const it of sentItems.filter((x) => ['text', 'reply', 'location', 'contact', 'poll'].includes(x.kind)).slice(-(spec.include ?? 0))) {
		const fromMe = it.from.startsWith(`${own}:`);
		const group = it.chat.endsWith('@g.us');
		conv(it.chat).messages.push({
			key: { remoteJid: it.chat, fromMe, id: it.id, participant: group && !fromMe ? it.from.replace(/:\d+@/, '@') : undefined },
			message: buildMessage(it), messageTimestamp: it.t,
		});
		included.push(it.id);
	}
	const messages = [];
	const chats = [];
	let oldest = null;
	for (let c = 0; c < nChats; c++) {
		const chat = c % 2 ? `12036300000000${String(c).padStart(4, '0')}@g.us` : `8529100${String(c).padStart(4, '0')}@s.whatsapp.net`;
		chats.push(chat);
		for (let i = 0; i < nNew; i++) {
			const fromMe = i % 3 === 0;
			const t = base + c * 1000 + i * 60;
			const id = `HIST${randomBytes(6).toString('hex').toUpperCase()}`;
			const text = `history c${c} m${i} ${randomBytes(3).toString('hex')}`;
			conv(chat).messages.push({
				key: { remoteJid: chat, fromMe, id, participant: chat.endsWith('@g.us') && !fromMe ? '85290000005@s.whatsapp.net' : undefined },
				message: { conversation: text }, messageTimestamp: t, pushName: fromMe ? undefined : 'Old Contact',
			});
			messages.push({ id, chat, text, t, fromMe });
			if (oldest === null || t < oldest)
				oldest = t;
		}
	}
	// a stub without content (e.g. "group created"): counted, not archived
	if (chats.length > 1)
		conv(chats[1]).messages.push({ key: { remoteJid: chats[1], fromMe: false, id: `STUB${randomBytes(4).toString('hex')}` }, messageTimestamp: base, messageStubType: 20 });
	const end = chats[0];
	const hs = {
		syncType: proto.HistorySync.HistorySyncType.INITIAL_BOOTSTRAP, chunkOrder: 1, progress: 100,
		conversations: [...convs.values()].map((cv) => ({
			id: cv.id,
			messages: cv.messages.map((m, i) => ({ message: m, msgOrderId: i + 1 })),
			...(cv.id === end ? { endOfHistoryTransfer: true, endOfHistoryTransferType: 1 } : {}),
		})),
	};
	const blob = deflateSync(Buffer.from(proto.HistorySync.encode(proto.HistorySync.fromObject(hs)).finish()));
	const note = { syncType: proto.HistorySync.HistorySyncType.INITIAL_BOOTSTRAP, chunkOrder: 1, progress: 100, originalMessageId: randomBytes(8).toString('hex') };
	let media = null;
	if (spec.inline) {
		note.initialHistBootstrapInlinePayload = blob;
	} else {
		const e = encryptMedia(blob, 'WhatsApp History Keys');
		if (spec.fault === 'mac') {
			e.body[e.body.length - 1] ^= 0xff;
			e.fileEncSha256 = sha256(e.body);
		}
		if (spec.fault === 'hash')
			e.fileSha256 = sha256(Buffer.from('not the blob'));
		const path = `/v/t62.hist-${randomBytes(6).toString('hex')}/${randomBytes(8).toString('hex')}.enc`;
		Object.assign(note, { mediaKey: e.mediaKey, fileEncSha256: e.fileEncSha256, fileSha256: e.fileSha256, fileLength: blob.length, directPath: `${path}?ccb=11-4&oh=x` });
		if (spec.fault !== 'gone')
			media = { path, data: e.body, hash: e.fileEncSha256.toString('base64url') };
	}
	return { note, media, messages, included, chats, oldest: oldest === null ? null : oldest * 1000, end };
}
