// Types of rawpush.js (classic script: window.rawpush; ES module: rawpush.mjs).

export type TransportName = "websocket" | "sse" | "poll";
export type State = "connecting" | "open" | "reconnecting" | "closed";

export interface Options {
  /** Tried in this order; a refused, blocked or silent one falls through. */
  transports?: TransportName[];
  /** ms before a transport that has not opened counts as blocked (5000). */
  openTimeout?: number;
  /** Reconnect backoff bounds in ms, jittered exponential (250, 30000). */
  minDelay?: number;
  maxDelay?: number;
  /** ms after a fallback before the first transport is tried again (30000). */
  upgradeAfter?: number;
  /** SSE: ms without a byte (heartbeat comments count) before reconnecting (35000). */
  heartbeatTimeout?: number;
  /** Multi-channel WebSocket: ms of quiet before a probe, and to wait for its answer. */
  pingInterval?: number;
  pingTimeout?: number;
  /** Single-channel /ws/{ch}: ms of quiet before the socket is reopened (60000). */
  idleReconnect?: number;
  /** Long poll wait asked of the server, in seconds (25). */
  pollTimeout?: number;
  /** ms a poll may stay unanswered past its timeout before it is taken for dead (10000). */
  pollGrace?: number;
  /** "auto" (default): one connection for every channel where the server has the multi-channel
   * URLs (asked once with HEAD /sse?channel=...; an older server's 404 is logged by the browser);
   * true: always; false: one connection per channel (/ws/{ch}, /sse/{ch}, /poll/{ch}). */
  multiplex?: "auto" | boolean;
  /** One connection for every tab of the origin (true, or a name to share under). */
  shared?: boolean | string;
  /** Bearer token for publishes, SSE and polls. */
  token?: string | null;
}

export interface Message {
  channel: string;
  /** The hub id; null for a bare binary frame on /ws/{ch}. */
  id: string | null;
  event: string;
  /** Text, or bytes for a binary payload. */
  data: string | Uint8Array;
  transport: TransportName;
}

export interface SubscribeOptions {
  /** Resume after this id (events after it are replayed). */
  since?: string;
}

export interface PublishOptions {
  event?: string;
  idempotencyKey?: string;
}

export interface StateChange {
  state: State;
  transport: TransportName | null;
}

export interface Gap {
  channel: string;
  transport: TransportName;
}

export interface CloseRecord {
  transport: TransportName;
  /** WebSocket close code or HTTP status; null for a network error. */
  code: number | null;
  reason: string;
  at: number;
}

export interface Subscription {
  unsubscribe(): void;
}

export interface Client {
  readonly state: State;
  /** The transport in use (or being tried). */
  readonly transport: TransportName | null;
  /** This tab holds the connection (always true unless shared). */
  readonly leader: boolean;
  readonly closes: CloseRecord[];
  readonly reconnects: number;
  readonly events: number;
  readonly gaps: number;
  subscribe(channel: string, handler: (message: Message) => void, options?: SubscribeOptions): Subscription;
  publish(channel: string, data: string | ArrayBuffer | ArrayBufferView, options?: PublishOptions): Promise<string>;
  on(name: "state", fn: (change: StateChange) => void): { off(): void };
  on(name: "gap", fn: (gap: Gap) => void): { off(): void };
  on(name: "error", fn: (error: Error) => void): { off(): void };
  on(name: "close", fn: (record: CloseRecord) => void): { off(): void };
  /** Where ``channel`` resumes from: the last id seen, or the poll cursor; null: from now. */
  position(channel: string): string | null;
  /** Drop the connection now and reconnect, resuming by id. */
  reconnect(): void;
  close(): void;
}

export declare function connect(url?: string, options?: Options): Client;
export declare const version: string;
declare const rawpush: { connect: typeof connect; version: string };
export default rawpush;

declare global {
  interface Window {
    rawpush: { connect: typeof connect; version: string };
  }
}
