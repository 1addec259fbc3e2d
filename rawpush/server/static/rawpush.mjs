// rawpush.js as an ES module: runs the classic script (which sets
// globalThis.rawpush) and re-exports its API.
import "./rawpush.js";

const rawpush = globalThis.rawpush;
export const connect = rawpush.connect;
export const version = rawpush.version;
export default rawpush;
