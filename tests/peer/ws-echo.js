#!/usr/bin/env node
// ws-echo.js - a tiny TLS WebSocket server for tests/wa/test_wa_conn.c,
// the test of the collector's WebSocket transport (archiver/wa/conn.c).
//
//   node ws-echo.js --port 0 --cert server.pem --key server.key [--host H]
//
// Listens on H (default 127.0.0.1), prints {"port":N} as its first stdout
// line once listening, and exits when stdin reaches end of file (the test
// holds the write end, so the server dies with it) or on SIGTERM.  Every
// message the server sends is binary.  The URL path picks a behaviour:
//
//   /echo                send every message back
//   /origin              first send {"origin","host","path","pragma",
//                        "protocol","version"} (JSON) from the upgrade
//                        request, then echo
//   /fragment?size=N&parts=K&seed=S
//                        first send one N-byte message split into K
//                        WebSocket frames (byte i = (i * 31 + S) & 255),
//                        then echo
//   /close-after-first?code=C&reason=R
//                        echo the first message, then close (default 4001,
//                        "done")
//   /drop                echo the first message, then drop the TCP
//                        connection without a close frame
//   /burst?count=N&size=M
//                        first send N messages of M bytes at once (message
//                        k: byte i = (i * 31 + k) & 255), then echo
//   /text                send a text message, then echo
//   /stall               accept the TCP and TLS connection, never answer
//                        the upgrade request
//   /reject              answer the upgrade with 403 Forbidden
// Anything else is refused with 404.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:https';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { WebSocketServer } = require('ws');

function die(msg) {
	process.stderr.write(`ws-echo: ${msg}\n`);
	process.exit(2);
}

const opt = { port: 0, host: '127.0.0.1', cert: null, key: null };
for (let i = 2; i < process.argv.length; i += 2) {
	const k = process.argv[i], v = process.argv[i + 1];
	if (v === undefined)
		die(`missing value for ${k}`);
	if (k === '--port')
		opt.port = Number(v);
	else if (k === '--host')
		opt.host = v;
	else if (k === '--cert')
		opt.cert = v;
	else if (k === '--key')
		opt.key = v;
	else
		die(`unknown option ${k}`);
}
if (!opt.cert || !opt.key || !Number.isInteger(opt.port))
	die('usage: ws-echo.js --port N --cert FILE --key FILE [--host H]');

function pattern(size, seed) {
	const b = Buffer.alloc(size);
	for (let i = 0; i < size; i++)
		b[i] = (i * 31 + seed) & 255;
	return b;
}

const sockets = new Set();
const server = createServer({
	cert: readFileSync(opt.cert),
	key: readFileSync(opt.key),
});
server.on('secureConnection', (s) => {
	sockets.add(s);
	s.on('close', () => sockets.delete(s));
	s.on('error', () => {});
});
server.on('tlsClientError', () => {});

const wss = new WebSocketServer({ noServer: true });

server.on('upgrade', (req, socket, head) => {
	const url = new URL(req.url, 'https://x');
	socket.on('error', () => {});
	if (url.pathname === '/stall')
		return;
	if (url.pathname === '/reject') {
		socket.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n');
		return;
	}
	const known = ['/echo', '/origin', '/fragment', '/close-after-first',
		       '/drop', '/text', '/burst'];
	if (!known.includes(url.pathname)) {
		socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n');
		return;
	}
	wss.handleUpgrade(req, socket, head, (ws) => serve(ws, req, url));
});

function serve(ws, req, url) {
	const q = url.searchParams;
	let first = true;

	ws.on('error', () => {});
	if (url.pathname === '/origin') {
		ws.send(Buffer.from(JSON.stringify({
			origin: req.headers.origin ?? null,
			host: req.headers.host ?? null,
			path: req.url,
			pragma: req.headers.pragma ?? null,
			protocol: req.headers['sec-websocket-protocol'] ?? null,
			version: req.headers['sec-websocket-version'] ?? null,
		})));
	} else if (url.pathname === '/fragment') {
		const size = Number(q.get('size') ?? 100000);
		const parts = Math.max(1, Number(q.get('parts') ?? 5));
		const seed = Number(q.get('seed') ?? 7);
		const all = pattern(size, seed);
		const step = Math.ceil(size / parts) || 1;
		for (let k = 0; k < parts; k++) {
			const chunk = all.subarray(k * step, Math.min(size, (k + 1) * step));
			ws.send(chunk, { binary: true, fin: k === parts - 1 });
		}
	} else if (url.pathname === '/burst') {
		const count = Number(q.get('count') ?? 10);
		const size = Number(q.get('size') ?? 1000);
		for (let k = 0; k < count; k++)
			ws.send(pattern(size, k), { binary: true });
	} else if (url.pathname === '/text') {
		ws.send('this is text', { binary: false });
	}
	ws.on('message', (data, isBinary) => {
		ws.send(data, { binary: isBinary });
		if (!first)
			return;
		first = false;
		if (url.pathname === '/close-after-first')
			ws.close(Number(q.get('code') ?? 4001), q.get('reason') ?? 'done');
		else if (url.pathname === '/drop')
			setTimeout(() => ws.terminate(), 50);
	});
}

function quit() {
	for (const s of sockets)
		s.destroy();
	server.close();
	process.exit(0);
}

server.on('error', (e) => die(e.message));
server.listen(opt.port, opt.host, () => {
	process.stdout.write(JSON.stringify({ port: server.address().port }) + '\n');
});
process.stdin.on('end', quit);
process.stdin.on('error', quit);
process.stdin.resume();
process.on('SIGTERM', quit);
