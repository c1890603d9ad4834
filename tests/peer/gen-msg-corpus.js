#!/usr/bin/env node
// gen-msg-corpus.js - seed corpora for tests/wa/fuzz_wa_message.c and
// fuzz_wa_envelope.c: Message protobufs of every kind the collector
// normalises (bare and v2-padded), and Signal envelopes (selector byte
// 0 pkmsg, 1 msg, 2 skmsg, 3 skdm + skmsg halves) encrypted by
// sender.js's libsignal senders to a throwaway bundle.
//   node gen-msg-corpus.js [--out DIR]   (default ../wa/corpus)
import { mkdirSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { proto } from 'baileys/WAProto/index.js';
import { Curve, signedKeyPair } from 'baileys/lib/Utils/crypto.js';
import { encodeWAMessage } from 'baileys/lib/Utils/generics.js';
import { Sender, buildMessage } from './sender.js';

const here = dirname(fileURLToPath(import.meta.url));
const outArg = process.argv.indexOf('--out');
const out = outArg > 0 ? process.argv[outArg + 1] : join(here, '..', 'wa', 'corpus');
const mdir = join(out, 'wa_message');
const edir = join(out, 'wa_envelope');
mkdirSync(mdir, { recursive: true });
mkdirSync(edir, { recursive: true });

const chat = '85290000001@s.whatsapp.net';
const kinds = ['text', 'reply', 'reaction', 'edit', 'revoke', 'location', 'contact', 'poll', 'image', 'ephemeral'];
let n = 0;
for (const kind of kinds) {
	const it = { kind, chat, text: `seed ${kind}`, target: '3EB0SEED', targetSender: chat };
	const m = buildMessage(it);
	writeFileSync(join(mdir, `${kind}.bin`), proto.Message.encode(m).finish());
	writeFileSync(join(mdir, `${kind}-padded.bin`), encodeWAMessage(m));
	const ds = { deviceSentMessage: { destinationJid: chat, message: m } };
	writeFileSync(join(mdir, `${kind}-devicesent.bin`), proto.Message.encode(ds).finish());
	n += 3;
}
writeFileSync(join(mdir, 'secret-edit.bin'), proto.Message.encode(buildMessage({ kind: 'secret-edit', chat, from: '85290000001:0@s.whatsapp.net', target: '3EB0SEED', targetSender: chat, secret: '5e'.repeat(32), text: 'seed secret edit' })).finish());
writeFileSync(join(mdir, 'secret-message-edit.bin'), proto.Message.encode(buildMessage({ kind: 'secret-edit', encType: 2, chat, from: '85290000001:0@s.whatsapp.net', target: '3EB0SEED', targetSender: chat, secret: '5e'.repeat(32), text: 'seed message edit' })).finish());
writeFileSync(join(mdir, 'poll-secret.bin'), proto.Message.encode(buildMessage({ kind: 'poll', chat, text: 'seed poll', options: ['one', 'two', 'three'], selectable: 2, secret: '5e'.repeat(32) })).finish());
writeFileSync(join(mdir, 'poll-vote.bin'), proto.Message.encode(buildMessage({ kind: 'poll-vote', chat: '120363000000000001@g.us', from: '85290000002:0@s.whatsapp.net', target: '3EB0SEED', targetSender: chat, secret: '5e'.repeat(32), votes: ['one', 'three'] })).finish());
writeFileSync(join(mdir, 'poll-vote-plain.bin'), proto.Message.PollVoteMessage.encode({ selectedOptions: [createHash('sha256').update('one').digest(), Buffer.from('short')] }).finish());
writeFileSync(join(mdir, 'text-secret.bin'), proto.Message.encode(buildMessage({ kind: 'text', chat, text: 'seed with secret', secret: '5e'.repeat(32) })).finish());
writeFileSync(join(mdir, 'skdm.bin'), proto.Message.encode({ senderKeyDistributionMessage: { groupId: '120363000000000001@g.us', axolotlSenderKeyDistributionMessage: Buffer.from([0x33, 8, 1]) } }).finish());

const ident = Curve.generateKeyPair();
const spk = signedKeyPair(ident, 1);
const pre = Curve.generateKeyPair();
const bundle = {
	regId: 1234, identity: Buffer.from(ident.public), spk: { id: 1, pub: Buffer.from(spk.keyPair.public), sig: Buffer.from(spk.signature) },
	prekeys: [{ id: 1, pub: Buffer.from(pre.public) }], next: 0,
};
const to = '85291234567:7@s.whatsapp.net';
const s = new Sender('85290000001:0@s.whatsapp.net');
const sel = (b, c) => Buffer.concat([Buffer.from([b]), Buffer.from(c)]);
const e1 = await s.enc1(to, bundle, buildMessage({ kind: 'text', chat, text: 'seed pkmsg' }));
writeFileSync(join(edir, 'pkmsg.bin'), sel(0, e1.content));
const e2 = await s.enc1(to, bundle, buildMessage({ kind: 'text', chat, text: 'seed again' }));
writeFileSync(join(edir, 'pkmsg2.bin'), sel(e2.attrs.type === 'msg' ? 1 : 0, e2.content));
writeFileSync(join(edir, 'msg-as-msg.bin'), sel(1, e2.content));
const g = '120363000000000001@g.us';
const r = await s.repo.encryptGroupMessage({ group: g, meId: s.jid, data: encodeWAMessage(buildMessage({ kind: 'text', chat: g, text: 'seed group' })) });
writeFileSync(join(edir, 'skmsg.bin'), sel(2, r.ciphertext));
const skdm = Buffer.from(r.senderKeyDistributionMessage);
const sk = Buffer.from(r.ciphertext);
// selector 3 splits the rest in halves: pad the shorter part
const half = Math.max(skdm.length, sk.length);
writeFileSync(join(edir, 'skdm-skmsg.bin'), Buffer.concat([Buffer.from([3]), skdm, Buffer.alloc(half - skdm.length), sk, Buffer.alloc(half - sk.length)]));
console.log(`wrote ${n + 7} message seeds to ${mdir} and 5 envelope seeds to ${edir}`);
