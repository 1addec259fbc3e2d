/* rawpush.js: the browser client of a rawpush server. No dependencies, no
 * build step. As a classic script it sets window.rawpush; as an ES module
 * import it from rawpush.mjs (which runs this file and re-exports).
 * Types: rawpush.d.ts.
 *
 * One closure per client: its state lives in local variables rather than
 * on objects, so rawpush.min.js (tools/minify_js.py) can shorten every
 * internal name; only the public API, wire fields and the messages tabs
 * exchange keep theirs. */
(function (root) {
  "use strict";

  var WS = "websocket", DEFAULTS = {
    transports: [WS, "sse", "poll"],
    // Nothing opened within this: the transport is treated as blocked.
    openTimeout: 5000,
    minDelay: 250,
    maxDelay: 30000,
    // After falling back, try the first transport again this much later.
    upgradeAfter: 30000,
    // SSE: the server comments every 15 s by default (WHATWG HTML 9.2.7).
    heartbeatTimeout: 35000,
    // WebSocket (multi-channel /ws): ask for an answer after this much quiet.
    pingInterval: 15000,
    pingTimeout: 10000,
    // Single-channel /ws/{ch}: the browser hides Pings, so a quiet socket is
    // reopened (with its resume id) after this long.
    idleReconnect: 60000,
    pollTimeout: 25,
    // A poll unanswered this long after its timeout is taken for dead.
    pollGrace: 10000,
    // "auto": one connection for every channel where the server has the
    // multi-channel URLs (asked once; an older server's 404 shows in the
    // console); false: one connection per channel.
    multiplex: "auto",
    shared: false,
    token: null
  };
  var esc = encodeURIComponent, now = () => Date.now();
  // Looked up at each call, so a page's fake timers still apply.
  var later = (fn, ms) => setTimeout(fn, ms), clear = (t) => clearTimeout(t);
  // Long polls and event streams must not be answered from a cache.
  var load = (url, init) => fetch(url, { cache: "no-store", ...init });

  // -- ids: "<ms>-<seq>", ordered by both numbers ---------------------------
  var cmp = (a, b) => {
    var [x, m = 0] = String(a).split("-"), [y, n = 0] = String(b).split("-");
    return x - y || m - n;
  };

  // A payload as the server sent it: text, or base64 of its bytes.
  var decode = (m) => m.encoding === "base64"
    ? Uint8Array.from(atob(m.data), (ch) => ch.charCodeAt(0)) : m.data;

  var isBytes = (data) => data instanceof ArrayBuffer || ArrayBuffer.isView(data);

  var jitter = (ms) => ms / 2 + Math.random() * ms / 2;

  var fail = (message, extra) => Object.assign(new Error(message), extra);

  var why = (e) => String(e?.message || e);

  // An HTTP refusal: the server's Retry-After (RFC 9110 section 10.2.3) and,
  // from a multi-channel URL, whether it is missing (404).
  var refusal = (res, multi) => {
    var h = res.headers.get("Retry-After"), s = +h;
    return { code: res.status, retry: h != null && s >= 0 && s < Infinity ? s * 1000 : null,
      single: multi && res.status == 404 };
  };

  function connect(url, options) {
    // tab: this tab's name to the leader.
    var o = {}, base, subs = new Map(), listeners = {}, tab = Math.random();
    var bc, release, closed = false, leader;
    for (var k in DEFAULTS) o[k] = options?.[k] !== undefined ? options[k] : DEFAULTS[k];
    base = new URL(url || "/", root.location?.href).href.replace(/\/$/, "");

    // -- the client: what a page sees --------------------------------------
    var c = {
      opts: o,
      base: base,
      state: "connecting",
      transport: null,
      closes: [],
      reconnects: 0,
      events: 0,
      gaps: 0,
      closed: false,
      leader: leader = !o.shared,

      on(name, fn) {
        var list = listeners[name] = listeners[name] || [];
        list.push(fn);
        return { off() { var i = list.indexOf(fn); if (i >= 0) list.splice(i, 1); } };
      },

      subscribe(channel, handler, opts) {
        var ch = String(channel), s = subs.get(ch), fresh = !s || !wants(s), since = opts?.since;
        s = s || entry(ch);
        if (since && (s._pos == null || cmp(since, s._pos) < 0)) {
          s._pos = since;
          fresh = true;
        }
        if (since && !s._handlers.size) s._seen = since;
        var fn = (m) => handler(m);
        s._handlers.add(fn);
        if (!leader) announce(ch, s);
        else if (fresh) changed(ch, true);
        return {
          unsubscribe() {
            if (!s._handlers.delete(fn) || s._handlers.size) return;
            if (!leader) post(["unsub", ch, tab]);
            if (!wants(s)) {
              subs.delete(ch);
              changed(ch, false);
            }
          }
        };
      },

      publish(channel, data, opts) {
        var ev = opts?.event, bytes = isBytes(data);
        var viaWS = link?._publish?.(channel, data, ev);
        if (viaWS) return viaWS;
        // A string body goes as text/plain;charset=UTF-8 (Fetch, "extract a
        // body"); bytes say what they are.
        var headers = auth(bytes ? { "Content-Type": "application/octet-stream" } : {});
        if (opts?.idempotencyKey) headers["Idempotency-Key"] = opts.idempotencyKey;
        return fetch(base + "/publish/" + esc(channel) + (ev ? "?event=" + esc(ev) : ""),
          { method: "POST", body: bytes ? data : String(data), headers: headers })
          .then((res) => res.text().then((text) => {
            if (res.status != 200) {
              var err = text.trim();
              try { err = JSON.parse(err).error || err; } catch (e) { /* plain text */ }
              throw fail("publish refused (" + res.status + "): " + err, { status: res.status });
            }
            return JSON.parse(text).id;
          }));
      },

      // Where a channel resumes from: the last id seen (or the poll cursor).
      position(channel) {
        return position(String(channel));
      },

      // Reopen the connection now (a demo's "drop" button; tests).
      reconnect() {
        if (link) drop(link, { reason: "dropped by the application" });
      },

      close() {
        if (closed) return;
        c.closed = closed = true;
        clear(wait);
        clear(soon);
        halt();
        if (bc) {
          if (!leader) post(["bye", null, tab]);
          bc.close();
        }
        release?.();
        setState("closed", c.transport);
      }
    };

    var emit = (name, value) => {
      [...listeners[name] || []].forEach((fn) => {
        try { fn(value); } catch (e) { later(() => { throw e; }, 0); }
      });
    };
    var setState = (state, transport) => {
      if (c.state == state && c.transport == transport) return;
      c.state = state;
      c.transport = transport;
      emit("state", { state: state, transport: transport });
      if (bc && leader) tellState();
    };
    var auth = (headers) => {
      if (o.token) headers.Authorization = "Bearer " + o.token;
      return headers;
    };

    // -- channels: where each resumes, what was delivered ------------------
    // A channel's entry: _handlers (this tab's), _tabs (the other tabs', when
    // leading), _pos (where the connection resumes), _seen (what this tab's
    // handlers got); _reset/_seenReset: after a gap, the next id is taken
    // whatever it is (a new in-memory hub may restart its ids).
    var entry = (ch, pos) => {
      var s = { _handlers: new Set(), _tabs: new Set(), _pos: pos };
      subs.set(ch, s);
      return s;
    };
    var wants = (s) => s._handlers.size || s._tabs.size;
    // The channels the connection serves: this tab's and, when leading, the
    // other tabs'.
    var wanted = () => {
      var out = [];
      subs.forEach((s, ch) => { if (wants(s)) out.push(ch); });
      return out;
    };
    var position = (ch) => subs.get(ch)?._pos ?? null;
    var anchor = (ch, pos, fromNow) => {
      var s = subs.get(ch);
      if (s && (!fromNow || s._pos == null)) s._pos = pos;
    };
    // From the current link (a stopped one may still be draining).
    var event = (ch, id, ev, data) => {
      var s = subs.get(ch);
      if (!link || !s) return;
      if (id != null) {
        // Replays after a reconnect, a transport switch or a new leader may
        // repeat what was delivered: ids only move forward.
        if (s._pos != null && !s._reset && cmp(id, s._pos) <= 0) return;
        s._pos = id;
        s._reset = false;
      }
      local(ch, id, ev, data, tr);
      if (bc) post(["ev", ch, id, ev, data, tr]);
    };
    var local = (ch, id, ev, data, transport) => {
      var s = subs.get(ch);
      if (!s || !s._handlers.size) return;
      if (id != null) {
        if (s._seen != null && !s._seenReset && cmp(id, s._seen) <= 0) return;
        s._seen = id;
        s._seenReset = false;
      }
      c.events++;
      var msg = { channel: ch, id: id, event: ev || "message", data: data, transport: transport };
      s._handlers.forEach((h) => {
        try { h(msg); } catch (e) { emit("error", e); }
      });
    };
    var gap = (ch) => {
      var s = subs.get(ch);
      if (!link || !s) return;
      s._reset = true;
      shown(s, ch, tr);
      if (bc) post(["gap", ch, tr]);
    };
    var shown = (s, ch, transport) => {
      s._seenReset = true;
      if (s._handlers.size) {
        c.gaps++;
        emit("gap", { channel: ch, transport: transport });
      }
    };

    // -- links: one transport's connection for a set of channels ----------
    // A link calls up(link) once open and down(link, info) when lost;
    // info.refused: it never opened; info.retry: the server's hint (ms);
    // info.single: the multi-channel URL is not there (404), use one
    // connection per channel. Events go to event(), gap(), anchor().

    var wsLink = (name, up, down, multi, ch) => {
      var pending = {}, refs = 0, opened = false, quiet = now(), pinged = 0, pos;
      var url = base.replace(/^http/, "ws") + (multi ? "/ws" : "/ws/" + esc(ch));
      if (!multi && (pos = position(ch))) url += "?lastEventId=" + esc(pos);
      var send = (m) => { ws.send(JSON.stringify(m)); };
      var sub = (n, answered) => {
        var m = { op: "subscribe", channel: n, ref: "s" + ++refs }, since = position(n);
        if (since) m.since = since;
        // An ack or the server's error (reported as such) both answer it; a
        // lost connection answers it too, with nothing to report.
        if (answered) {
          pending[m.ref] = (err) => {
            if (err?.code) emit("error", err);
            answered();
          };
        }
        send(m);
      };
      var publish = (n, data, ev) => {
        var ref = "m" + ++refs, m = { op: "publish", channel: n, ref: ref };
        if (ev) m.event = ev;
        if (isBytes(data)) {
          m.data = btoa(new Uint8Array(data.buffer || data, data.byteOffset || 0, data.byteLength)
            .reduce((s, b) => s + String.fromCharCode(b), ""));
          m.encoding = "base64";
        } else m.data = String(data);
        return new Promise((ok, no) => {
          pending[ref] = (err, id) => { err ? no(err) : ok(id); };
          send(m);
        });
      };
      // Every request still unanswered fails; with a code, the socket closes.
      var cancel = (reason, code) => {
        var p = pending;
        pending = {};
        for (var k in p) p[k](new Error(reason));
        if (code) try { ws.close(code, reason); } catch (e) { /* closing already */ }
      };
      var stop = () => {
        clearInterval(timer);
        ws.onclose = ws.onmessage = null;
        cancel("connection replaced", 1000);
      };
      var ws = new WebSocket(url), live = () => ws.readyState == 1, self = {
        // A channel more or less, said in band; not open yet: onopen
        // subscribes to the current set.
        _tell: (n, added) => live() && (added ? sub(n)
          : send({ op: "unsubscribe", channel: n, ref: "u" + ++refs })),
        // Publishing over the socket (multi-channel /ws only, once open).
        _publish: (n, data, ev) => multi && live() && publish(n, data, ev),
        _stop: stop
      };
      ws.binaryType = "arraybuffer";
      ws.onopen = () => {
        opened = true;
        quiet = now();
        if (!multi) return up(self);
        // Open once every subscription is answered: an event published
        // after "open" then always reaches this client.
        var names = wanted(), waiting = names.length + 1;
        var answered = () => { if (!--waiting) up(self); };
        names.forEach((n) => { sub(n, answered); });
        answered();
      };
      ws.onmessage = (m) => {
        quiet = now();
        pinged = 0;
        var msg, data;
        if (typeof m.data === "string") {
          msg = JSON.parse(m.data);
          data = decode(msg);
        } else {
          var bytes = new Uint8Array(m.data), nl = bytes.indexOf(10);
          // A bare binary event on /ws/{ch}: no id to resume from.
          if (nl < 0 || bytes[0] != 123) return event(ch, null, "", bytes);
          msg = JSON.parse(new TextDecoder().decode(bytes.subarray(0, nl)));
          data = bytes.slice(nl + 1);
          msg.type = msg.type || "event";
        }
        if (!multi) return msg.gap ? gap(ch) : event(ch, msg.id, msg.event, data);
        var p = pending[msg.ref], type = msg.type;
        delete pending[msg.ref];
        if (type === "event") event(msg.channel, msg.id, msg.event, data);
        // No channel: the server dropped events of any channel (drop-oldest).
        else if (type === "gap") (msg.channel ? [msg.channel] : wanted()).forEach(gap);
        else if (type === "ack") {
          if (msg.op === "subscribe" && msg.id) anchor(msg.channel, msg.id, true);
          if (p) p(null, msg.id);
        } else if (type === "error") {
          var err = fail(msg.message || msg.code, { code: msg.code, channel: msg.channel });
          // Our ping ("unknown op") answered with an error is still an answer.
          if (p) p(err);
          else if (msg.ref !== "ping") emit("error", err);
        }
      };
      ws.onclose = (e) => {
        // The drain hint (1001 "...; retry=MS"); 1013 Try Again Later: wait.
        var hint = /retry=(\d+)/.exec(e.reason);
        cancel("websocket closed " + e.code);
        down(self, { refused: !opened, code: e.code, reason: e.reason,
          retry: hint ? +hint[1] : e.code == 1013 ? 5000 : null });
      };
      // A dead path: report it now rather than wait for a closing handshake
      // that cannot complete (RFC 6455 section 7.1.1).
      var dead = (reason) => {
        ws.onclose = null;
        cancel(reason, 4000);
        down(self, { code: 4000, reason: reason });
      };
      var timer = setInterval(() => {
        var idle = now() - quiet;
        if (!opened) return;
        if (!multi) {
          if (idle > o.idleReconnect) dead("idle");
        } else if (idle > o.pingInterval + o.pingTimeout) {
          dead("no answer");
        } else if (idle > o.pingInterval && !pinged) {
          // The server answers any op; even an error proves the path alive.
          pinged = 1;
          send({ op: "ping", ref: "ping" });
        }
      }, 1000);
      return self;
    };

    // Server-sent events and long polls, both over fetch. The event stream
    // is read with fetch, not EventSource: comments (the server's heartbeat)
    // are invisible to EventSource, and liveness needs them; fetch also
    // sends Last-Event-ID with every channel's position.
    var httpLink = (name, up, down, multi, ch) => {
      var opened = false, ended = false, retry = null, ctl, timer, chans, pos;
      var self = { _stop() { ended = true; clear(timer); ctl?.abort(); } };
      var end = (info) => {
        if (ended) return;
        self._stop();
        info.refused = !opened;
        info.retry ??= retry;
        down(self, info);
      };
      var arm = (ms, fn) => {
        clear(timer);
        timer = later(fn, ms);
      };
      // A request's channels, where they resume (pos: one channel's
      // position, or one per channel in order, "_" from now; left out when
      // all are from now), and its URL.
      var aim = () => {
        chans = multi ? wanted() : [ch];
        pos = multi ? chans.map((n) => position(n) || "_").join(",") : position(ch);
        if (multi && !/[^_,]/.test(pos)) pos = null;
        return base + "/" + name + (multi ? "?" + chans.map((n) => "channel=" + esc(n)).join("&")
          : "/" + esc(ch));
      };
      var go = (url, headers, then) => {
        ctl = new AbortController();
        load(url, { headers: auth(headers), signal: ctl.signal })
          .then((res) => res.status != 200 ? end(refusal(res, multi)) : then(res))
          .catch((e) => { end({ reason: why(e) }); });
      };

      var round = () => {
        if (ended) return;
        var q = aim() + (multi ? "&" : "?") + "timeout=" + (opened ? o.pollTimeout : 0);
        if (pos) q += "&cursor=" + esc(pos);
        // Unanswered past its timeout: taken for dead (this round's ctl).
        arm(o.pollTimeout * 1000 + o.pollGrace, () => { ctl.abort(); });
        go(q, {}, (res) => res.json().then((body) => {
            clear(timer);
            if (ended) return;
            if (!opened) {
              opened = true;
              up(self);
            }
            var cursors = multi ? String(body.cursor).split(",") : [body.cursor];
            if (multi) (body.gaps || []).forEach(gap);
            else if (body.gap) gap(ch);
            body.events.forEach((e) => {
              event(multi ? e.channel : ch, e.id, e.event, decode(e));
            });
            chans.forEach((n, i) => {
              if (cursors[i] && cursors[i] != "_") anchor(n, cursors[i]);
            });
            round();
          }));
      };
      if (name == "poll") {
        round();
        return self;
      }

      var url = aim(), headers = { Accept: "text/event-stream" };
      if (pos) headers["Last-Event-ID"] = pos;
      var alive = () => { arm(o.heartbeatTimeout, () => { end({ reason: "no heartbeat" }); }); };
      var buf = "", data = [], type = "", id = null, enc = "";
      // WHATWG HTML 9.2.6: "field: value" (one space dropped), a bare field
      // name has an empty value, a line starting with ":" is a comment.
      var field = (line) => {
        if (line == "") {
          if (data.length) {
            // No event name is "message" (local() says so).
            var text = data.join("\n");
            var m = multi ? JSON.parse(text) : { channel: ch, id: id, data: text, encoding: enc };
            if (type == "gap" && id == null) gap(m.channel);
            else event(m.channel, m.id, m.event || type, decode(m));
          }
          data = [];
          type = enc = "";
          id = null;
          return;
        }
        var [, k, v] = /^([^:]*):? ?([^]*)/.exec(line);
        if (!k) return; // a comment: the heartbeat (alive() already ran)
        if (k == "data") data.push(v);
        else if (k == "event") type = v;
        else if (k == "id" && !v.includes("\0")) id = v;
        else if (k == "retry" && /^\d+$/.test(v)) retry = +v;
        else if (k == "encoding") enc = v;
      };
      alive();
      go(url, headers, (res) => {
        opened = true;
        alive();
        up(self);
        var reader = res.body.getReader(), dec = new TextDecoder();
        var pump = () => reader.read().then((r) => {
          if (r.done) return end({ reason: "stream ended" });
          alive();
          buf += dec.decode(r.value, { stream: true });
          // WHATWG HTML 9.2.6: lines end in CRLF, LF or CR; a CR at the end
          // of a chunk may be the first half of a CRLF.
          var parts = buf.split(/\r\n|\n|\r(?!$)/);
          buf = parts.pop();
          parts.forEach(field);
          return pump();
        });
        return pump();
      });
      return self;
    };

    // One connection per channel where the server has no multi-channel URL:
    // the group opens when every member has, and drops as a whole.
    var group = (name, chans) => {
      var members = {}, waiting = chans.length, self = {
        // A channel more or less: one connection opened or closed, the others
        // untouched (a restart would lose what a from-now channel gets
        // meanwhile).
        _sync(names) {
          for (var n in members) {
            if (!names.includes(n)) {
              members[n]._stop();
              delete members[n];
            }
          }
          names.forEach((n) => { if (!members[n]) make(n); });
        },
        _stop() {
          var m = members;
          members = {};
          for (var n in m) m[n]._stop();
        }
      };
      var make = (n) => {
        var was = false;
        members[n] = kinds[name](name, () => {
          if (!was && (was = true) && !--waiting) open(self);
        }, (l, info) => {
          self._stop();
          drop(self, info);
        }, false, n);
      };
      chans.forEach(make);
      if (!chans.length) later(() => { open(self); }, 0);
      return self;
    };

    // -- the engine: which transport, when to retry, when to move ---------
    // It runs in the tab that leads (always, unless shared). The current
    // link is `link`; tr, multi, chans and born describe it.
    var kinds, order, i = 0, fails = 0, short = 0, link = null, single = {}, ever = false;
    var probe, flip;
    var wait, openTimer, upgrade, soon, tr, multi, chans, born;

    var lead = () => {
      c.leader = leader = true;
      // Resume from what this tab delivered; the others answer "hello" with
      // their own positions (the oldest one wins, so nobody loses events).
      subs.forEach((s) => { s._pos = s._seen; s._reset = false; });
      kinds = { websocket: root.WebSocket && wsLink,
        sse: root.fetch && root.ReadableStream && httpLink, poll: root.fetch && httpLink };
      order = o.transports.filter((t) => kinds[t]);
      if (!order.length) throw new Error("rawpush: no usable transport");
      if (bc) post(["hello"]);
      later(start, 0);
    };
    var backoff = (n) => jitter(Math.min(o.maxDelay, o.minDelay * 2 ** n));
    var start = () => {
      var name = order[i];
      clear(wait);
      if (closed) return;
      setState((ever ? "re" : "") + "connecting", name);
      if (flip && now() - flip > o.upgradeAfter) {
        delete single[WS];
        flip = 0;
      }
      var mode = o.multiplex === "auto" ? single[name] : o.multiplex;
      if (mode === undefined) mode = probe;
      if (mode === undefined) {
        // A browser cannot see why an upgrade failed, so ask plain HTTP once
        // whether the multi-channel URLs exist: HEAD of an event stream
        // subscribes to nothing (404: single-channel URLs only).
        probe = "probing";
        load(base + "/sse?channel=rawpush.probe", { method: "HEAD" })
          .then((r) => {
            probe = r.status != 404;
            start();
          }, () => {
            probe = undefined; // the server is down: ask again next time
            wait = later(start, backoff(fails++));
          });
        return;
      }
      if (mode === "probing") return;
      var l;
      chans = wanted();
      // No channel yet: nothing to connect over HTTP (an idle group opens).
      l = link = mode === false || !chans.length && name != WS
        ? group(name, chans) : kinds[name](name, open, drop, true);
      tr = name;
      multi = mode !== false;
      born = now();
      openTimer = later(() => {
        if (link == l) drop(l, { refused: true, reason: "open timeout" });
      }, o.openTimeout);
    };
    var open = (l) => {
      if (l != link) return;
      clear(openTimer);
      fails = 0;
      ever = true;
      setState("open", tr);
      if (i) {
        upgrade = later(() => {
          if (link != l) return;
          l._stop();
          i = 0;
          start();
        }, jitter(o.upgradeAfter * 2));
      }
    };
    // The current link, stopped and forgotten.
    var halt = () => {
      var l = link;
      link = null;
      clear(openTimer);
      clear(upgrade);
      if (l) l._stop();
    };
    var drop = (l, info) => {
      if (l != link) return;
      halt();
      var refused = info.refused;
      if (!refused) c.reconnects++;
      var record = { transport: tr, code: info.code || null, reason: info.reason || "", at: now() };
      if (c.closes.push(record) > 50) c.closes.shift();
      emit("close", record);
      if (closed) return;
      if (info.single) {
        single[tr] = false;
        return start();
      }
      if (refused && multi && tr == WS && o.multiplex === "auto") {
        // A failed upgrade says nothing to a page (a server may have /sse
        // but not /ws): try /ws/{ch} before calling WebSocket refused, and
        // ask for /ws again after upgradeAfter.
        single[WS] = false;
        flip = now();
        return start();
      }
      // Opened, then cut at once, twice running (a proxy that accepts the
      // upgrade and kills it): as good as refused.
      if (!refused && now() - born < o.openTimeout && ++short >= 2) refused = true;
      if (refused) short = 0;
      setState("reconnecting", tr);
      if (refused && info.retry == null && i < order.length - 1) {
        // Refused, blocked or silent: the next transport, at once.
        i++;
        return start();
      }
      if (refused) i = 0;
      wait = later(start, info.retry != null ? info.retry * (1 + Math.random() / 10)
        : backoff(fails));
      fails++;
    };
    // The set of channels changed: multi-channel WebSocket says so in band,
    // every other link reconnects at once (resuming by id).
    var changed = (ch, added) => {
      var l = link;
      if (!l) return; // the next start takes the current set
      if (!multi) return l._sync(wanted());
      if (tr == WS) return l._tell(ch, added);
      if ("" + chans == wanted()) return;
      clear(soon);
      soon = later(() => {
        if (!link || closed) return;
        halt();
        start();
      }, 20);
    };

    // -- one connection for every tab: Web Locks + BroadcastChannel -------
    // The leader holds the lock and the connection. Messages between tabs
    // are arrays, [type, ...]:
    //   ["sub", channel, tab, since]  a follower wants a channel (from since)
    //   ["unsub", channel, tab]       ... no longer
    //   ["bye", null, tab]            a follower's tab goes away
    //   ["hello"]                     a new leader asks for every "sub"
    //   ["ev", channel, id, event, data, transport], ["gap", channel,
    //   transport], ["state", state, transport]: the leader's news
    var post = (m) => {
      if (!closed || m[0] == "bye") bc.postMessage(m);
    };
    var tellState = () => {
      post(["state", c.state, c.transport]);
    };
    var announce = (ch, s) => {
      post(["sub", ch, tab, s._seen]);
    };
    var relay = (m) => {
      var [t, ch, from, since] = m, s = subs.get(ch);
      if (leader) {
        if (t == "sub") {
          var fresh = !s || !wants(s);
          if (!s) s = entry(ch, since);
          else if (since && s._pos && cmp(since, s._pos) < 0) {
            s._pos = since;
            fresh = true;
          }
          s._tabs.add(from);
          if (fresh) changed(ch, true);
          tellState();
        } else {
          // "unsub" or "bye" (a leader hears nothing else with a tab).
          subs.forEach((sub, n) => {
            if ((t == "bye" || n == ch) && sub._tabs.delete(from) && !wants(sub)) {
              subs.delete(n);
              changed(n, false);
            }
          });
        }
      } else if (t == "ev") local(...m.slice(1));
      else if (t == "gap") {
        if (s) shown(s, ch, m[2]);
      } else if (t == "state") setState(m[1], m[2]);
      else if (t == "hello") {
        subs.forEach((sub, n) => { if (sub._handlers.size) announce(n, sub); });
      }
    };

    if (o.shared && root.navigator?.locks && root.BroadcastChannel) {
      // The name says which message format the tabs speak, so tabs with an
      // older rawpush.js share among themselves rather than misread these.
      var lock = "rawpush:2:" + (o.shared === true ? "default" : String(o.shared));
      bc = new root.BroadcastChannel(lock);
      bc.onmessage = (e) => { relay(e.data); };
      root.addEventListener?.("pagehide", () => { c.close(); });
      navigator.locks.request(lock, () => closed ? null : new Promise((r) => {
        release = r;
        lead();
      }));
    } else lead();
    return c;
  }

  var api = { connect: connect, version: "1" };
  root.rawpush = api;
  if (typeof module === "object" && module?.exports) module.exports = api;
})(globalThis);
