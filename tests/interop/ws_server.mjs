// Node's `ws` package as a WebSocket server peer for rawpush.
// Usage: node ws_server.mjs
// Listens on 127.0.0.1, a free port, and prints {"port": N} on stdout.
// Echoes every message with its type, and obeys a few text commands:
//   "fragments"        -> one text message sent as three frames
//   "ping-me"          -> pings the client, answers "pong: <payload>" on its pong
//   "close:CODE:WHY"   -> closes with that code and reason
// Prints {"closed": CODE, "reason": "..."} when a client closes.
import { WebSocketServer } from "ws";

const print = (value) => process.stdout.write(JSON.stringify(value) + "\n");
const server = new WebSocketServer({
  host: "127.0.0.1",
  port: 0,
  handleProtocols: (protocols) => (protocols.has("chat") ? "chat" : false),
});

server.on("listening", () => print({ port: server.address().port }));
server.on("connection", (ws) => {
  ws.on("message", (data, isBinary) => {
    const text = isBinary ? null : data.toString();
    if (text === "fragments") {
      ws.send("frag", { fin: false });
      ws.send("men", { fin: false });
      ws.send("ted", { fin: true });
    } else if (text === "ping-me") {
      ws.ping(Buffer.from("node server ping"));
    } else if (text !== null && text.startsWith("close:")) {
      const [, code, reason] = text.split(":");
      ws.close(Number(code), reason);
    } else {
      ws.send(data, { binary: isBinary });
    }
  });
  ws.on("pong", (data) => ws.send(`pong: ${data.toString()}`));
  ws.on("close", (code, reason) => print({ closed: code, reason: reason.toString() }));
});
process.on("SIGTERM", () => {
  server.close();
  process.exit(0);
});
