#!/usr/bin/env node
// bench/ws_echo_node.js - node's `ws` package as an echo server, for
// bench/ws.sh (found through NODE_PATH: make interop-deps installs it
// under build/npm/).
//
//   node bench/ws_echo_node.js PORT [--deflate]
//
// Echoes every message on 127.0.0.1:PORT (any path) as it came (binary
// or text), without permessage-deflate unless --deflate; prints
// "listening PORT" once it is.  Runs until killed.
'use strict';
const { WebSocketServer } = require('ws');

const port = Number(process.argv[2]);
const wss = new WebSocketServer({
  host: '127.0.0.1',
  port,
  perMessageDeflate: process.argv.includes('--deflate'),
  maxPayload: 64 << 20,
});
wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
});
wss.on('listening', () => console.log(`listening ${port}`));
