#!/usr/bin/env node
// tests/interop/ws_peer.js - node's `ws` package as eddy's peer, for
// tests/test_ws_interop.c (and by hand).  `ws` is found through NODE_PATH
// (make interop-deps installs it under build/npm/).
//
//   node ws_peer.js server [CERT KEY]
//       Serves on 127.0.0.1 (and over TLS with CERT and KEY) and prints
//       "ports WS WSS" (WSS 0 without TLS).  The paths of ws_peer.py:
//       /echo, /close (4002 "server bye"), /ping ("pong-ok" once the pong
//       came), /frag ("fragmented" in three frames, then 00 01 02 in two),
//       /info ("deflate" or "plain"); then it echoes.  Runs until killed.
//
//   node ws_peer.js client BASE
//       Runs the scenarios below against eddy's server at BASE, printing
//       "ok NAME" or "fail NAME: why" for each; exits 0 when all passed.
'use strict';
const fs = require('fs');
const https = require('https');
const { WebSocket, WebSocketServer } = require('ws');

const MAX = 16 << 20;

function handle(ws, req) {
  const path = req.url;
  if (path === '/close') {
    ws.close(4002, 'server bye');
    return;
  }
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  if (path === '/ping') {
    ws.once('pong', () => ws.send('pong-ok'));
    ws.ping('eddy?');
  } else if (path === '/frag') {
    // Apart in time, so that the fragments come in separate reads.
    ws.send('frag', { fin: false });
    setTimeout(() => ws.send('ment', { fin: false }), 20);
    setTimeout(() => {
      ws.send('ed', { fin: true });
      ws.send(Buffer.from([0, 1]), { binary: true, fin: false });
      ws.send(Buffer.from([2]), { binary: true, fin: true });
    }, 40);
  } else if (path === '/info') {
    ws.send(ws.extensions ? 'deflate' : 'plain');
  }
}

function serve(cert, key) {
  const opts = { perMessageDeflate: true, maxPayload: MAX };
  const plain = new WebSocketServer({ host: '127.0.0.1', port: 0, ...opts });
  plain.on('connection', handle);
  plain.on('listening', () => {
    if (!cert) {
      console.log(`ports ${plain.address().port} 0`);
      return;
    }
    const server = https.createServer({
      cert: fs.readFileSync(cert),
      key: fs.readFileSync(key),
    });
    const tls = new WebSocketServer({ server, ...opts });
    tls.on('connection', handle);
    server.listen(0, '127.0.0.1', () => {
      console.log(`ports ${plain.address().port} ${server.address().port}`);
    });
  });
}

// Opens a connection; resolves with it once open.  Messages are queued
// from the start: a message that comes in the same read as the 101 is
// emitted before the caller's await resumes.
function open(url, opts) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { maxPayload: MAX, ...opts });
    ws.queue = [];
    ws.waiting = null;
    ws.on('message', (data, isBinary) => {
      const msg = isBinary ? data : data.toString();
      if (ws.waiting) {
        const w = ws.waiting;
        ws.waiting = null;
        w.resolve(msg);
      } else {
        ws.queue.push(msg);
      }
    });
    ws.on('close', (code) => {
      if (ws.waiting) ws.waiting.reject(new Error(`closed with ${code}`));
      ws.waiting = null;
    });
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

// The next message (queued or to come).
function next(ws) {
  if (ws.queue.length) return Promise.resolve(ws.queue.shift());
  return new Promise((resolve, reject) => {
    ws.waiting = { resolve, reject };
  });
}

function closed(ws) {
  return new Promise((resolve) =>
    ws.once('close', (code, reason) => resolve([code, reason.toString()])));
}

function check(cond, what) {
  if (!cond) throw new Error(what);
}

async function echo(base, msg, opts) {
  const ws = await open(base + '/echo', opts);
  ws.send(msg);
  const got = await next(ws);
  ws.close();
  return [ws, got];
}

const scenarios = {
  async text(base) {
    const [, got] = await echo(base, 'h\u00e9llo w\u00f6rld \u2603');
    check(got === 'h\u00e9llo w\u00f6rld \u2603', 'wrong text');
  },
  async binary(base) {
    const data = Buffer.alloc(768, 0).map((_, i) => i & 255);
    const [, got] = await echo(base, data);
    check(Buffer.isBuffer(got) && got.equals(data), 'wrong bytes');
  },
  async fragmented(base) {
    const ws = await open(base + '/echo');
    ws.send('frag', { fin: false });
    ws.send('ment', { fin: false });
    ws.send('ed', { fin: true });
    check((await next(ws)) === 'fragmented', 'not reassembled');
    ws.close();
  },
  async ping(base) {
    const ws = await open(base + '/echo');
    const pong = new Promise((resolve) => ws.once('pong', resolve));
    ws.ping('are you there');
    check((await pong).toString() === 'are you there', 'wrong pong');
    ws.close();
  },
  async deflate(base) {
    const ws = await open(base + '/echo', { perMessageDeflate: true });
    check(ws.extensions.includes('permessage-deflate'), 'no deflate agreed');
    const data = 'eddy '.repeat(210000).slice(0, 1 << 20);
    ws.send(data);
    check((await next(ws)) === data, 'wrong echo');
    ws.close();
  },
  async plain(base) {
    const [ws, got] = await echo(base, 'plain', { perMessageDeflate: false });
    check(ws.extensions === '', 'an extension was agreed');
    check(got === 'plain', 'wrong echo');
  },
  async big(base) {
    const data = Buffer.alloc(3 << 20).map((_, i) => (i * 7919) & 255);
    const [, got] = await echo(base, data, { perMessageDeflate: false });
    check(got.equals(data), 'wrong echo');
  },
  async close_code(base) {
    const ws = await open(base + '/echo');
    const end = closed(ws);
    ws.close(4001, 'eddy, bye');
    const [code] = await end;
    check(code === 4001, `closed with ${code}`);
  },
  async server_close(base) {
    const ws = await open(base + '/close');
    const [code, reason] = await closed(ws);
    check(code === 4002 && reason === 'server bye', `${code} ${reason}`);
  },
  async server_ping(base) {
    const ws = await open(base + '/ping');
    check((await next(ws)) === 'pong-ok', 'no pong-ok');
    ws.close();
  },
  async server_frag(base) {
    const ws = await open(base + '/frag');
    check((await next(ws)) === 'fragmented', 'not reassembled');
    ws.close();
  },
  async too_big(base) {
    const ws = await open(base + '/small', { perMessageDeflate: false });
    const end = closed(ws);
    ws.send('x'.repeat(2000));
    const [code] = await end;
    check(code === 1009, `closed with ${code}`);
  },
};

async function run(base) {
  let failed = 0;
  for (const [name, fn] of Object.entries(scenarios)) {
    try {
      await Promise.race([
        fn(base),
        new Promise((_, reject) =>
          setTimeout(() => reject(new Error('timeout')), 20000).unref()),
      ]);
      console.log(`ok ${name}`);
    } catch (e) {
      failed++;
      console.log(`fail ${name}: ${e.message}`);
    }
  }
  process.exit(failed ? 1 : 0);
}

const [mode, a, b] = process.argv.slice(2);
if (mode === 'server') serve(a, b);
else if (mode === 'client' && a) run(a);
else {
  console.error('usage: ws_peer.js server [CERT KEY] | client BASE');
  process.exit(2);
}
