// Node's `ws` package as a WebSocket client peer for rawpush.
// Usage: node ws_client.mjs URL
// Runs a fixed script against an echo server: text, binary, a fragmented
// text message (ws sends fin=false frames), a ping with a payload, then a
// close with code 4000. Prints one JSON line per thing it receives:
//   {"text": "..."} {"binary": "<hex>"} {"pong": "..."} {"close": CODE, "reason": "..."}
// and {"open": true, "protocol": "..."} once connected; errors go to stderr.
import WebSocket from "ws";

const url = process.argv[2];
const ws = new WebSocket(url, { handshakeTimeout: 5000 });
const print = (value) => process.stdout.write(JSON.stringify(value) + "\n");

ws.on("open", () => {
  print({ open: true, protocol: ws.protocol });
  ws.send("hello from node");
  ws.send(Buffer.from([0, 1, 2, 255]));
  ws.send("frag-", { fin: false });
  ws.send("men-", { fin: false });
  ws.send("ted", { fin: true });
  ws.send("𝄞 κόσμε");
  ws.send("x".repeat(70000));
  ws.ping(Buffer.from("node ping"));
});
let received = 0;
ws.on("message", (data, isBinary) => {
  if (isBinary) print({ binary: Buffer.from(data).toString("hex") });
  else print({ text: data.toString() });
  received += 1;
});
ws.on("pong", (data) => {
  print({ pong: data.toString() });
  // The pong comes after the echoes of everything sent before the ping.
  ws.close(4000, "node done");
});
ws.on("close", (code, reason) => {
  print({ close: code, reason: reason.toString(), received });
  process.exit(0);
});
ws.on("error", (error) => {
  process.stderr.write(`error: ${error.message}\n`);
  process.exit(1);
});
setTimeout(() => {
  process.stderr.write("timeout\n");
  process.exit(2);
}, 10000).unref();
