#!/usr/bin/env node
// gen-hist-corpus.js - seed corpus for tests/wa/fuzz_wa_history.c: history
// sync blobs from history.js (selector 0: deflated, 1: inflated), their
// notifications (2) and an encrypted media body (3; under the fuzz
// target's fixed media key 0x5a..., so the MAC check passes).
//   node gen-hist-corpus.js [--out DIR]   (default ../wa/corpus)
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { inflateSync } from 'node:zlib';
import { createCipheriv, createHmac, hkdfSync } from 'node:crypto';
import { proto } from 'baileys/WAProto/index.js';
import { buildHistory } from './history.js';

const here = dirname(fileURLToPath(import.meta.url));
const outArg = process.argv.indexOf('--out');
const out = join(outArg > 0 ? process.argv[outArg + 1] : join(here, '..', 'wa', 'corpus'), 'wa_history');
mkdirSync(out, { recursive: true });
const sel = (b, c) => Buffer.concat([Buffer.from([b]), Buffer.from(c)]);
const sent = [
	{ id: '3EB0SEED1', from: '85290000001:0@s.whatsapp.net', chat: '85290000001@s.whatsapp.net', kind: 'text', text: 'seed live', t: 1700000500 },
	{ id: '3EB0SEED2', from: '85291234567:0@s.whatsapp.net', chat: '120363000000000001@g.us', kind: 'poll', text: 'seed poll', t: 1700000600 },
];
const inl = buildHistory({ inline: true, include: 2, new: 3, chats: 3 }, sent, '85291234567');
const blob = Buffer.from(inl.note.initialHistBootstrapInlinePayload);
writeFileSync(join(out, 'deflated.bin'), sel(0, blob));
writeFileSync(join(out, 'inflated.bin'), sel(1, inflateSync(blob)));
const enc = (n) => Buffer.from(proto.Message.HistorySyncNotification.encode(n).finish());
writeFileSync(join(out, 'note-inline.bin'), sel(2, enc(inl.note)));
const dl = buildHistory({ inline: false, new: 1, chats: 1 }, [], '85291234567');
writeFileSync(join(out, 'note-download.bin'), sel(2, enc(dl.note)));
const k = Buffer.from(hkdfSync('sha256', Buffer.alloc(32, 0x5a), Buffer.alloc(0), 'WhatsApp History Keys', 112));
const c = createCipheriv('aes-256-cbc', k.subarray(16, 48), k.subarray(0, 16));
const ct = Buffer.concat([c.update(blob), c.final()]);
const mac = createHmac('sha256', k.subarray(48, 80)).update(k.subarray(0, 16)).update(ct).digest().subarray(0, 10);
writeFileSync(join(out, 'media.bin'), sel(3, Buffer.concat([ct, mac])));
console.log(`wrote 5 history seeds to ${out}`);
