// mediaretry.js - the phone's side of a media retry (the collector asks
// its own phone to upload expired media again).  The request's enc_p is
// AES-256-GCM (12-byte IV, the message id as additional data, the tag
// appended) of a ServerErrorReceipt{stanzaId}; the answer's enc_p is a
// MediaRetryNotification {stanzaId, directPath, result} the same way.
// The key is HKDF-SHA256(mediaKey, no salt, "WhatsApp Media Retry
// Notification", 32).  selftest.js checks both directions against
// Baileys' own encryptMediaRetryRequest and decryptMediaRetryData.
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { proto } from 'baileys/WAProto/index.js';

export const RESULT = proto.MediaRetryNotification.ResultType;

export function retryKey(mediaKey) {
	return Buffer.from(hkdfSync('sha256', mediaKey, Buffer.alloc(0), 'WhatsApp Media Retry Notification', 32));
}

function gcmOpen(key, iv, data, ad) {
	const d = createDecipheriv('aes-256-gcm', key, iv);
	d.setAAD(ad);
	d.setAuthTag(data.subarray(data.length - 16));
	return Buffer.concat([d.update(data.subarray(0, data.length - 16)), d.final()]);
}

function gcmSeal(key, iv, plain, ad) {
	const c = createCipheriv('aes-256-gcm', key, iv);
	c.setAAD(ad);
	return Buffer.concat([c.update(plain), c.final(), c.getAuthTag()]);
}

// The stanza id a request's enc_p holds (throws when it does not open).
export function openRequest(ciphertext, iv, mediaKey, msgId) {
	const plain = gcmOpen(retryKey(mediaKey), Buffer.from(iv), Buffer.from(ciphertext), Buffer.from(msgId));
	return proto.ServerErrorReceipt.decode(plain).stanzaId;
}

// The answer's { ciphertext, iv } for result (RESULT.*) and a new path.
export function sealAnswer(mediaKey, msgId, result, directPath) {
	const iv = randomBytes(12);
	const body = { stanzaId: msgId, result };
	if (directPath)
		body.directPath = directPath;
	const plain = proto.MediaRetryNotification.encode(body).finish();
	return { ciphertext: gcmSeal(retryKey(mediaKey), iv, Buffer.from(plain), Buffer.from(msgId)), iv };
}
