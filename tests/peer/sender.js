// sender.js - the peer's message senders: contacts, our own phone and
// another companion of the business number, each with its own Signal
// identity (Baileys' libsignal repository over an in-memory store), who
// encrypt to the collector as real senders do: a session from the
// collector's uploaded pre-key bundle (pkmsg, then msg), sender keys in
// groups (the distribution message in a pkmsg/msg <enc> before the skmsg).
//
// The "server" side (peer.js) keeps every stanza until the collector
// sends a delivery receipt for it, and re-delivers what is unreceipted on
// the next login with offline="1".  Every message sent is reported as a
// `sent` event, the test's ground truth.
import { makeLibSignalRepository } from 'baileys/lib/Signal/libsignal.js';
import { initAuthCreds } from 'baileys/lib/Utils/auth-utils.js';
import { encodeWAMessage } from 'baileys/lib/Utils/generics.js';
import { proto } from 'baileys/WAProto/index.js';
import { createCipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto';
import { PreKeyWhisperMessage } from 'libsignal/src/protobufs.js';
import { SenderKeyMessage } from 'baileys/lib/Signal/Group/sender-key-message.js';
import { GroupCipher } from 'baileys/lib/Signal/Group/group_cipher.js';

const quiet = { trace() {}, debug() {}, info() {}, warn() {}, error() {}, fatal() {}, child() { return quiet; }, level: 'silent' };

function memKeys() {
	const d = new Map();
	return {
		async get(type, ids) {
			const o = {};
			for (const id of ids) {
				const v = d.get(`${type}\0${id}`);
				if (v !== undefined)
					o[id] = v;
			}
			return o;
		},
		async set(data) {
			for (const t of Object.keys(data))
				for (const id of Object.keys(data[t])) {
					const v = data[t][id];
					if (v == null)
						d.delete(`${t}\0${id}`);
					else
						d.set(`${t}\0${id}`, v);
				}
		},
		async transaction(fn) { return fn(); },
		isInTransaction() { return false; },
	};
}

const pfx = (b) => Buffer.concat([Buffer.from([5]), b]);

// The collector's bundle, from its pre-key upload (<iq xmlns=encrypt>).
export function bundleFromUpload(node) {
	const kid = (n, tag) => (n.content || []).find((c) => c.tag === tag);
	const buf = (n, tag) => { const c = kid(n, tag); return c ? Buffer.from(c.content) : null; };
	const list = kid(node, 'list');
	const skey = kid(node, 'skey');
	return {
		regId: buf(node, 'registration').readUInt32BE(0),
		identity: buf(node, 'identity'),
		spk: { id: buf(skey, 'id').readUIntBE(0, 3), pub: buf(skey, 'value'), sig: buf(skey, 'signature') },
		prekeys: (list.content || []).map((k) => ({ id: buf(k, 'id').readUIntBE(0, 3), pub: buf(k, 'value') })),
	};
}

export class Sender {
	constructor(jid) {
		this.jid = jid; // device JID, e.g. 85290000001:0@s.whatsapp.net
		this.creds = initAuthCreds();
		this.repo = makeLibSignalRepository({ creds: this.creds, keys: memKeys() }, quiet);
		this.session = false;
		this.skdmSent = new Set();
	}

	async ensureSession(to, bundle) {
		if (this.session)
			return;
		const pk = bundle.prekeys[bundle.next++];
		await this.repo.injectE2ESession({
			jid: to,
			session: {
				registrationId: bundle.regId, identityKey: pfx(bundle.identity),
				signedPreKey: { keyId: bundle.spk.id, publicKey: pfx(bundle.spk.pub), signature: bundle.spk.sig },
				preKey: { keyId: pk.id, publicKey: pfx(pk.pub) },
			},
		});
		this.session = true;
	}

	// One 1:1 <enc>; badMac corrupts the MAC of the (inner) message.
	async enc1(to, bundle, message, badMac = false) {
		await this.ensureSession(to, bundle);
		const r = await this.repo.encryptMessage({ jid: to, data: encodeWAMessage(message) });
		let ct = Buffer.from(r.ciphertext);
		if (badMac && r.type === 'msg')
			ct[ct.length - 1] ^= 0xff; // the MAC's last byte
		else if (badMac) { // pkmsg: the inner message's MAC
			const pk = PreKeyWhisperMessage.decode(ct.subarray(1));
			const inner = Buffer.from(pk.message);
			inner[inner.length - 1] ^= 0xff;
			pk.message = inner;
			ct = Buffer.concat([ct.subarray(0, 1), Buffer.from(PreKeyWhisperMessage.encode(pk).finish())]);
		}
		return { tag: 'enc', attrs: { v: '2', type: r.type }, content: ct };
	}

	// Group <enc>s: the distribution first when needed (or withheld:
	// missingKey), then the skmsg.
	async encGroup(to, bundle, group, message, missingKey = false) {
		const r = await this.repo.encryptGroupMessage({ group, meId: this.jid, data: encodeWAMessage(message) });
		const encs = [];
		if (!this.skdmSent.has(group) && !missingKey) {
			const skdm = { senderKeyDistributionMessage: { groupId: group, axolotlSenderKeyDistributionMessage: r.senderKeyDistributionMessage } };
			encs.push(await this.enc1(to, bundle, skdm));
		}
		this.skdmSent.add(group);
		encs.push({ tag: 'enc', attrs: { v: '2', type: 'skmsg' }, content: Buffer.from(r.ciphertext) });
		return encs;
	}
}

// Sign sender-key messages (skmsg) with the XEdDSA of whatsapp-rust-bridge
// (WebAssembly, ~0.2 ms) instead of libsignal's curve25519-js (~15-35 ms):
// the same signature scheme, any valid signature verifies.  Used before a
// rate-controlled run (peer.js `prepare`), where thousands of group
// messages are encrypted ahead of time; on = false: libsignal's again.
const libsignalSign = SenderKeyMessage.prototype.getSignature;
let wasmSign = null;
export async function useWasmSigning(on = true) {
	if (on && !wasmSign) {
		const wrb = await import('whatsapp-rust-bridge');
		wasmSign = (key, data) => Buffer.from(wrb.calculateSignature(Uint8Array.from(key), Uint8Array.from(data)));
	}
	SenderKeyMessage.prototype.getSignature = on ? wasmSign : libsignalSign;
}

// Baileys' GroupCipher.encrypt uses iteration n+1 where n is the chain's
// current iteration (after the first message), so every skmsg skips one
// iteration and its receiver keeps the skipped message key (libsignal
// keeps up to 2,000 per sender key).  The reference libsignal (and the
// official clients) send consecutive iterations.  consecutive = true:
// encrypt as libsignal does; false: Baileys' behaviour again.
const baileysEncrypt = GroupCipher.prototype.encrypt;
async function consecutiveEncrypt(paddedPlaintext) {
	const record = await this.senderKeyStore.loadSenderKey(this.senderKeyName);
	const state = record ? record.getSenderKeyState() : null;
	if (!state)
		throw new Error('No session to encrypt message');
	const key = this.getSenderKey(state, state.getSenderChainKey().getIteration());
	const ciphertext = await this.getCipherText(key.getIv(), key.getCipherKey(), paddedPlaintext);
	const m = new SenderKeyMessage(state.getKeyId(), key.getIteration(), ciphertext, state.getSigningKeyPrivate());
	await this.senderKeyStore.storeSenderKey(this.senderKeyName, record);
	return m.serialize();
}
export function consecutiveSenderKeys(consecutive) {
	GroupCipher.prototype.encrypt = consecutive ? consecutiveEncrypt : baileysEncrypt;
}

export function randomMsgId() {
	return `3EB0${randomBytes(8).toString('hex').toUpperCase()}`;
}

// The Message protobuf for a scripted item {kind, text, target, ...}.
// Encryption under an original message's messageSecret (upstream's
// derivation: HKDF-SHA256(secret, info = original id || original sender
// || modifying sender || use case), AES-256-GCM; poll votes with the
// associated data "<original id>\0<voter>", edits without).
const nonAD = (j) => j.replace(/:\d+@/, '@');
function secretSeal(it, useCase, plain) {
	const info = Buffer.concat([Buffer.from(it.target), Buffer.from(nonAD(it.targetSender)), Buffer.from(nonAD(it.from)), Buffer.from(useCase)]);
	const k = Buffer.from(hkdfSync('sha256', Buffer.from(it.secret, 'hex'), Buffer.alloc(0), info, 32));
	const iv = randomBytes(12);
	const c = createCipheriv('aes-256-gcm', k, iv);
	if (useCase === 'Poll Vote')
		c.setAAD(Buffer.from(`${it.target}\0${nonAD(it.from)}`));
	return { ct: Buffer.concat([c.update(plain), c.final(), c.getAuthTag()]), iv };
}

// An edit encrypted under the original's messageSecret: encType 1
// EVENT_EDIT ("Event Edit"), 2 MESSAGE_EDIT ("Message Edit", as newer
// clients send text edits).
function secretEdit(it, key) {
	const type = it.encType ?? 1;
	const { ct, iv } = secretSeal(it, type === 2 ? 'Message Edit' : 'Event Edit', proto.Message.encode({ conversation: it.text }).finish());
	return { secretEncryptedMessage: { targetMessageKey: key, encPayload: ct, encIv: iv, secretEncType: type } };
}

// A poll vote: PollVoteMessage{selectedOptions = SHA-256 of each chosen
// option name} encrypted under the poll's messageSecret ("Poll Vote").
function pollVote(it, key) {
	const hashes = (it.votes || []).map((o) => createHash('sha256').update(o).digest());
	const { ct, iv } = secretSeal(it, 'Poll Vote', proto.Message.PollVoteMessage.encode({ selectedOptions: hashes }).finish());
	return { pollUpdateMessage: { pollCreationMessageKey: key, vote: { encPayload: ct, encIv: iv }, senderTimestampMs: Date.now() } };
}

export function buildMessage(it) {
	const key = { remoteJid: it.chat, fromMe: !!it.targetFromMe, id: it.target };
	if (it.chat && it.chat.endsWith('@g.us') && it.targetSender && !it.targetFromMe)
		key.participant = nonAD(it.targetSender);
	const ctx = it.secret ? { messageContextInfo: { messageSecret: Buffer.from(it.secret, 'hex') } } : {};
	switch (it.kind) {
	case 'text': return it.secret ? { conversation: it.text, messageContextInfo: { messageSecret: Buffer.from(it.secret, 'hex') } } : { conversation: it.text };
	case 'secret-edit': return secretEdit(it, key);
	case 'poll-vote': return pollVote(it, key);
	case 'reply': return { extendedTextMessage: { text: it.text, contextInfo: { stanzaId: it.target, participant: it.targetSender, quotedMessage: { conversation: 'quoted' } } } };
	case 'reaction': return { reactionMessage: { key, text: it.text, senderTimestampMs: Date.now() } };
	case 'edit': return { editedMessage: { message: { protocolMessage: { key, type: proto.Message.ProtocolMessage.Type.MESSAGE_EDIT, editedMessage: { conversation: it.text }, timestampMs: Date.now() } } } };
	case 'revoke': return { protocolMessage: { key, type: proto.Message.ProtocolMessage.Type.REVOKE } };
	case 'location': return { locationMessage: { degreesLatitude: 22.28, degreesLongitude: 114.16, name: it.text, address: 'Central' } };
	case 'contact': return { contactMessage: { displayName: it.text, vcard: `BEGIN:VCARD\nVERSION:3.0\nFN:${it.text}\nEND:VCARD` } };
	case 'poll': return { pollCreationMessage: { name: it.text, options: (it.options || ['yes', 'no']).map((o) => ({ optionName: o })), selectableOptionsCount: it.selectable ?? 1 }, ...ctx };
	case 'image': return { imageMessage: { url: 'https://mmg.example/x', mimetype: 'image/jpeg', caption: it.text, ...(it.media ?? { fileSha256: randomBytes(32), fileLength: 1234, mediaKey: randomBytes(32), fileEncSha256: randomBytes(32), directPath: '/v/t62/x?ccb=1' }) } };
	case 'ephemeral': return { ephemeralMessage: { message: { extendedTextMessage: { text: it.text } } } };
	case 'history-notification': return { protocolMessage: { type: proto.Message.ProtocolMessage.Type.HISTORY_SYNC_NOTIFICATION, historySyncNotification: it.note } };
	default: throw new Error(`unknown kind ${it.kind}`);
	}
}
