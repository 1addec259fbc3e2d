// A WebSocket over HTTP/2 (RFC 8441) with Node's built-in http2 module
// and a tiny RFC 6455 framer of its own (Node has no WebSocket-over-h2
// client): usage `node h2_ws_client.mjs <origin> <channel> [cafile]`.
//
// On one HTTP/2 connection it opens two WebSocket streams (extended
// CONNECT, :protocol websocket) to /ws/<channel>:
//   1. waits for an event published by the test (line "open" tells it
//      when), sends a text message and gets it back as the channel's
//      event, pings and gets the pong, closes with 1000 and gets 1000;
//   2. sends an unmasked frame, which a server must fail with 1002
//      (RFC 6455 section 5.1: client frames are masked).
// Every observation is one JSON line on stdout; the test checks them.

import http2 from "node:http2";
import crypto from "node:crypto";
import fs from "node:fs";

const [origin, channel, cafile] = process.argv.slice(2);
const LIMIT_MS = 15000;
const say = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");
setTimeout(() => { say({ error: "timeout" }); process.exit(2); }, LIMIT_MS).unref();

// RFC 6455 section 5.2: FIN, opcode, MASK bit, length, masking key, payload.
function frame(opcode, payload, masked = true) {
  const data = Buffer.from(payload);
  let head;
  if (data.length < 126) {
    head = Buffer.from([0x80 | opcode, (masked ? 0x80 : 0) | data.length]);
  } else {
    head = Buffer.alloc(4);
    head[0] = 0x80 | opcode;
    head[1] = (masked ? 0x80 : 0) | 126;
    head.writeUInt16BE(data.length, 2);
  }
  if (!masked) return Buffer.concat([head, data]);
  const key = crypto.randomBytes(4);
  const body = Buffer.alloc(data.length);
  for (let i = 0; i < data.length; i++) body[i] = data[i] ^ key[i % 4];
  return Buffer.concat([head, key, body]);
}

function closePayload(code, reason) {
  const out = Buffer.alloc(2 + Buffer.byteLength(reason));
  out.writeUInt16BE(code, 0);
  out.write(reason, 2);
  return out;
}

// Server frames are unmasked (section 5.1) and, here, never fragmented.
class Reader {
  constructor(stream) {
    this.buffer = Buffer.alloc(0);
    this.waiting = [];
    this.frames = [];
    this.ended = false;
    stream.on("data", (chunk) => { this.buffer = Buffer.concat([this.buffer, chunk]); this.parse(); });
    stream.on("end", () => { this.ended = true; this.wake(); });
    stream.on("close", () => { this.ended = true; this.wake(); });
  }
  parse() {
    for (;;) {
      const b = this.buffer;
      if (b.length < 2) break;
      let length = b[1] & 0x7f;
      let at = 2;
      if (length === 126) { if (b.length < 4) break; length = b.readUInt16BE(2); at = 4; }
      else if (length === 127) { if (b.length < 10) break; length = Number(b.readBigUInt64BE(2)); at = 10; }
      if (b[1] & 0x80) { say({ error: "masked server frame" }); process.exit(3); }
      if (b.length < at + length) break;
      this.frames.push({ opcode: b[0] & 0x0f, payload: b.subarray(at, at + length) });
      this.buffer = b.subarray(at + length);
    }
    this.wake();
  }
  wake() { const w = this.waiting; this.waiting = []; w.forEach((f) => f()); }
  async next() {
    while (this.frames.length === 0) {
      if (this.ended) return null;
      await new Promise((resolve) => this.waiting.push(resolve));
    }
    return this.frames.shift();
  }
  // the next frame that is not a server Ping (those are answered)
  async nextData(stream) {
    for (;;) {
      const f = await this.next();
      if (f === null || f.opcode !== 0x9) return f;
      stream.write(frame(0xa, f.payload));
    }
  }
}

async function openWebSocket(session, url) {
  const stream = session.request({
    ":method": "CONNECT",
    ":protocol": "websocket",
    ":scheme": url.protocol.slice(0, -1),
    ":path": `/ws/${channel}`,
    ":authority": url.host,
    "sec-websocket-version": "13",
  }, { endStream: false });
  const headers = await new Promise((resolve, reject) => {
    stream.once("response", resolve);
    stream.once("error", reject);
  });
  return { stream, status: headers[":status"], reader: new Reader(stream) };
}

const url = new URL(origin);
const options = cafile ? { ca: fs.readFileSync(cafile) } : {};
const session = http2.connect(origin, options);
let done = false;
session.on("error", (err) => {
  // After "done" only the graceful close is left: report how it went.
  say(done ? { closeError: String(err) } : { error: String(err) });
  process.exit(done ? 0 : 4);
});
const settings = await new Promise((resolve) => session.once("remoteSettings", resolve));
say({ settings: { enableConnectProtocol: settings.enableConnectProtocol } });

// -- 1: text both ways, ping and pong, close 1000 ----------------------------------
const ws = await openWebSocket(session, url);
say({ open: ws.status });
let got = await ws.reader.nextData(ws.stream);
say({ text: got && got.opcode === 0x1 ? JSON.parse(got.payload.toString("utf8")) : null });
ws.stream.write(frame(0x1, "hello from node"));
got = await ws.reader.nextData(ws.stream);
say({ text: got && got.opcode === 0x1 ? JSON.parse(got.payload.toString("utf8")) : null });
ws.stream.write(frame(0x9, "ping-1"));
got = await ws.reader.nextData(ws.stream);
say({ pong: got && got.opcode === 0xa ? got.payload.toString("utf8") : null });
ws.stream.write(frame(0x8, closePayload(1000, "bye")));
got = await ws.reader.nextData(ws.stream);
say({ close: got && got.opcode === 0x8 && got.payload.length >= 2 ? got.payload.readUInt16BE(0) : null });
say({ ended: (await ws.reader.next()) === null });

// -- 2: an unmasked frame fails the WebSocket with 1002 ------------------------------
const bad = await openWebSocket(session, url);
say({ open: bad.status });
bad.stream.write(frame(0x1, "not masked", false));
got = await bad.reader.nextData(bad.stream);
say({ close: got && got.opcode === 0x8 && got.payload.length >= 2 ? got.payload.readUInt16BE(0) : null });
say({ ended: (await bad.reader.next()) === null });
bad.stream.end();

say({ done: true });
done = true;
session.close(() => say({ closed: true }));
