#!/usr/bin/env node
// tests/witness/tsa.js - a test-only RFC 3161 TSA over HTTP (RFC 3161 §3.4):
// each POSTed application/timestamp-query is answered by the `openssl ts
// -reply` command line with the configuration given (--config FILE).
// Prints "listening port N" on stdout.  No npm packages.
'use strict';
const { spawnSync } = require('child_process');
const fs = require('fs');
const http = require('http');
const os = require('os');
const path = require('path');

const cfg = process.argv[process.argv.indexOf('--config') + 1];
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cl-tsa-'));
let n = 0;
const srv = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    n++;
    const q = path.join(dir, `q${n}.tsq`), r = path.join(dir, `r${n}.tsr`);
    fs.writeFileSync(q, Buffer.concat(chunks));
    const p = spawnSync('openssl', ['ts', '-reply', '-config', cfg, '-queryfile', q, '-out', r]);
    if (p.status !== 0 || !fs.existsSync(r)) {
      res.writeHead(500, { 'Content-Type': 'text/plain' });
      res.end(String(p.stderr));
      return;
    }
    res.writeHead(200, { 'Content-Type': 'application/timestamp-reply' });
    res.end(fs.readFileSync(r));
  });
});
srv.listen(0, '127.0.0.1', () => process.stdout.write(`listening port ${srv.address().port}\n`));
process.on('SIGTERM', () => { fs.rmSync(dir, { recursive: true, force: true }); process.exit(0); });
