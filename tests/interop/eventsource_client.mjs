// Node's `eventsource` package (v3+, ESM) as a peer for rawpush's /sse.
// Usage: node eventsource_client.mjs URL [EVENT_NAME ...]
// Prints one JSON line per event ({"id","event","data"}) and {"open": true}
// each time the stream (re)opens; errors go to stderr. The package
// reconnects by itself and resends Last-Event-ID, which the test checks.
import { EventSource } from "eventsource";

const [url, ...names] = process.argv.slice(2);
const source = new EventSource(url);
const print = (value) => process.stdout.write(JSON.stringify(value) + "\n");

source.onopen = () => print({ open: true });
source.onerror = (error) => process.stderr.write(`error: ${error.message ?? error.type}\n`);
for (const name of ["message", "gap", ...names]) {
  source.addEventListener(name, (event) =>
    print({ id: event.lastEventId, event: event.type, data: event.data }),
  );
}
process.on("SIGTERM", () => {
  source.close();
  process.exit(0);
});
