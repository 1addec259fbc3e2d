/* rawpush.js: the browser client of a rawpush server. No dependencies, no
 * build step. As a classic script it sets window.rawpush; as an ES module
 * import it from rawpush.mjs (which runs this file and re-exports).
 * Types: rawpush.d.ts. */
(function (root, make) {
  "use strict";
  var api = make(root);
  root.rawpush = api;
  if (typeof module === "object" && module && module.exports) module.exports = api;
})(typeof globalThis !== "undefined" ? globalThis : this, (root) => {
  "use strict";

  var ALL = ["websocket", "sse", "poll"];
  var DEFAULTS = {
    transports: ALL,
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

  // -- ids: "<ms>-<seq>", ordered by both numbers ---------------------------
  function cmp(a, b) {
    var x = String(a).split("-"), y = String(b).split("-");
    var d = Number(x[0]) - Number(y[0]);
    return d || Number(x[1] || 0) - Number(y[1] || 0);
  }

  function b64(text) {
    var bin = atob(text), out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  }

  function isBytes(data) {
    return data instanceof ArrayBuffer || ArrayBuffer.isView(data);
  }

  function jitter(ms) {
    return ms / 2 + Math.random() * ms / 2;
  }

  function retryAfter(res) {
    var s = Number(res.headers.get("Retry-After"));
    return s >= 0 && isFinite(s) && res.headers.get("Retry-After") !== null ? s * 1000 : null;
  }

  function path(ch) {
    return encodeURIComponent(ch);
  }

  // -- links: one transport's connection for a set of channels -------------
  // A link reports to its engine: open(), event(ch, id, name, data),
  // gap(ch, head), anchor(ch, pos), drop(info). info.refused: it never
  // opened; info.retry: the server's hint (ms); info.single: the
  // multi-channel URL is not there (404), use one connection per channel.

  function WSLink(eng, multi, ch) {
    var self = this, c = self._c = eng._c, o = c.opts, pos;
    self._multi = multi;
    self._pending = {};
    self._refs = 0;
    var url = c.base.replace(/^http/, "ws") + (multi ? "/ws" : "/ws/" + path(ch));
    if (!multi && (pos = c._position(ch))) url += "?lastEventId=" + encodeURIComponent(pos);
    var ws = self._ws = new WebSocket(url);
    var opened = false, quiet = Date.now(), pinged = 0;
    ws.binaryType = "arraybuffer";
    ws.onopen = () => {
      opened = true;
      quiet = Date.now();
      if (!multi) return eng._open(self);
      // Open once every subscription is answered: an event published
      // after "open" then always reaches this client.
      var names = eng._channels(), waiting = names.length;
      if (!waiting) return eng._open(self);
      var answered = () => { if (--waiting === 0) eng._open(self); };
      names.forEach((name) => { self._sub(name, answered); });
    };
    ws.onmessage = (m) => {
      quiet = Date.now();
      pinged = 0;
      var msg, data;
      if (typeof m.data === "string") {
        msg = JSON.parse(m.data);
        data = msg.encoding === "base64" ? b64(msg.data) : msg.data;
      } else {
        var bytes = new Uint8Array(m.data), nl = bytes.indexOf(10);
        if (nl < 0 || bytes[0] !== 123) {
          // A bare binary event on /ws/{ch}: no id to resume from.
          return eng.event(ch, null, "message", bytes);
        }
        msg = JSON.parse(new TextDecoder().decode(bytes.subarray(0, nl)));
        data = bytes.slice(nl + 1);
        msg.type = msg.type || "event";
      }
      if (!multi) {
        if (msg.gap) return eng.gap(ch, null);
        return eng.event(ch, msg.id, msg.event, data);
      }
      var p = msg.ref !== undefined && self._pending[msg.ref];
      if (p) delete self._pending[msg.ref];
      if (msg.type === "event") eng.event(msg.channel, msg.id, msg.event, data);
      else if (msg.type === "gap") {
        // No channel: the server dropped events of any channel (drop-oldest).
        (msg.channel ? [msg.channel] : eng._channels()).forEach((n) => { eng.gap(n, null); });
      }
      else if (msg.type === "ack") {
        if (msg.op === "subscribe" && msg.id) eng._anchor(msg.channel, msg.id, true);
        if (p) p.ok(msg.id);
      } else if (msg.type === "error") {
        var err = new Error(msg.message || msg.code);
        err.code = msg.code;
        err.channel = msg.channel;
        // Our ping ("unknown op") answered with an error is still an answer.
        if (p) p._fail(err);
        else if (msg.ref !== "ping") c._emit("error", err);
      }
    };
    ws.onclose = (e) => {
      // The drain hint (1001 "...; retry=MS"); 1013 Try Again Later: wait.
      var hint = /retry=(\d+)/.exec(e.reason || "");
      var retry = hint ? Number(hint[1]) : e.code === 1013 ? 5000 : null;
      self._fail(new Error("websocket closed " + e.code));
      eng._drop(self, { refused: !opened, code: e.code, reason: e.reason, retry: retry });
    };
    // A dead path: report it now rather than wait for a closing handshake
    // that cannot complete (RFC 6455 section 7.1.1).
    function dead(why) {
      ws.onclose = null;
      self._fail(new Error(why));
      try { ws.close(4000, why); } catch (e) { /* closing already */ }
      eng._drop(self, { code: 4000, reason: why });
    }
    self._timer = setInterval(() => {
      var idle = Date.now() - quiet;
      if (!opened) return;
      if (!multi) {
        if (idle > o.idleReconnect) dead("idle");
      } else if (idle > o.pingInterval + o.pingTimeout) {
        dead("no answer");
      } else if (idle > o.pingInterval && !pinged) {
        // The server answers any op; even an error proves the path alive.
        pinged = 1;
        ws.send(JSON.stringify({ op: "ping", ref: "ping" }));
      }
    }, 1000);
  }
  WSLink.prototype._sub = function (ch, answered) {
    var m = { op: "subscribe", channel: ch, ref: "s" + ++this._refs }, since = this._c._position(ch);
    if (since) m.since = since;
    // An ack or the server's error (reported as such) both answer it; a
    // lost connection answers it too, with nothing to report.
    var c = this._c;
    if (answered) {
      this._pending[m.ref] = {
        ok: answered,
        _fail: (err) => { if (err.code) c._emit("error", err); answered(); },
      };
    }
    this._ws.send(JSON.stringify(m));
  };
  WSLink.prototype._unsub = function (ch) {
    this._ws.send(JSON.stringify({ op: "unsubscribe", channel: ch, ref: "u" + ++this._refs }));
  };
  WSLink.prototype.publish = function (ch, data, event) {
    var self = this, ref = "m" + ++self._refs;
    var m = { op: "publish", channel: ch, ref: ref };
    if (event) m.event = event;
    if (isBytes(data)) {
      var s = "", u = new Uint8Array(data.buffer || data, data.byteOffset || 0, data.byteLength);
      for (var i = 0; i < u.length; i++) s += String.fromCharCode(u[i]);
      m.data = btoa(s);
      m.encoding = "base64";
    } else m.data = String(data);
    return new Promise((ok, fail) => {
      self._pending[ref] = { ok: ok, _fail: fail };
      self._ws.send(JSON.stringify(m));
    });
  };
  WSLink.prototype._fail = function (err) {
    var p = this._pending;
    this._pending = {};
    Object.keys(p).forEach((k) => { p[k]._fail(err); });
  };
  WSLink.prototype._stop = function () {
    clearInterval(this._timer);
    this._ws.onclose = this._ws.onmessage = null;
    this._fail(new Error("connection replaced"));
    try { this._ws.close(1000); } catch (e) { /* already closing */ }
  };

  // The event stream read with fetch, not EventSource: comments (the
  // server's heartbeat) are invisible to EventSource, and liveness needs
  // them; fetch also sends Last-Event-ID with every channel's position.
  function SSELink(eng, multi, ch) {
    var self = this, c = eng._c, chans = multi ? eng._channels() : [ch];
    var ctl = self._ctl = new AbortController();
    var url = c.base + (multi ? "/sse?" + chans.map((n) => {
      return "channel=" + path(n);
    }).join("&") : "/sse/" + path(ch));
    var headers = { Accept: "text/event-stream" }, pos;
    if (multi) {
      pos = chans.map((n) => { return c._position(n) || "_"; }).join(",");
      if (/[^_,]/.test(pos)) headers["Last-Event-ID"] = pos;
    } else if ((pos = c._position(ch))) headers["Last-Event-ID"] = pos;
    if (c.opts.token) headers.Authorization = "Bearer " + c.opts.token;
    var retry = null, opened = false, ended = false;
    function end(info) {
      if (ended || self._stopped) return;
      ended = true;
      clearTimeout(self._timer);
      ctl.abort();
      info.refused = info.refused || !opened;
      if (info.retry == null) info.retry = retry;
      eng._drop(self, info);
    }
    function alive() {
      clearTimeout(self._timer);
      self._timer = setTimeout(() => { end({ reason: "no heartbeat" }); },
        c.opts.heartbeatTimeout);
    }
    var buf = "", data = [], type = "", id = null, enc = "";
    function field(line) {
      if (line === "") {
        if (data.length) dispatch(type || "message", id, data.join("\n"), enc);
        data = [];
        type = enc = "";
        id = null;
        return;
      }
      var i = line.indexOf(":"), k = i < 0 ? line : line.slice(0, i);
      if (i === 0) return; // a comment: the heartbeat (alive() already ran)
      var v = i < 0 ? "" : line.slice(line[i + 1] === " " ? i + 2 : i + 1);
      if (k === "data") data.push(v);
      else if (k === "event") type = v;
      else if (k === "id" && v.indexOf("\0") < 0) id = v;
      else if (k === "retry" && /^\d+$/.test(v)) retry = Number(v);
      else if (k === "encoding") enc = v;
    }
    function dispatch(name, ident, text, encoding) {
      if (!multi) {
        if (name === "gap" && ident === null) return eng.gap(ch, null);
        return eng.event(ch, ident, name, encoding === "base64" ? b64(text) : text);
      }
      var m = JSON.parse(text);
      if (name === "gap" && ident === null) return eng.gap(m.channel, null);
      eng.event(m.channel, m.id, m.event || name,
        m.encoding === "base64" ? b64(m.data) : m.data);
    }
    alive();
    fetch(url, { headers: headers, signal: ctl.signal, cache: "no-store" }).then((res) => {
      if (res.status !== 200) {
        return end({ code: res.status, retry: retryAfter(res), single: multi && res.status === 404 });
      }
      opened = true;
      alive();
      eng._open(self);
      var reader = res.body.getReader(), dec = new TextDecoder();
      function pump(r) {
        if (r.done) return end({ reason: "stream ended" });
        alive();
        buf += dec.decode(r.value, { stream: true });
        // WHATWG HTML 9.2.6: lines end in CRLF, LF or CR; a CR at the end
        // of a chunk may be the first half of a CRLF.
        var parts = buf.split(/\r\n|\n|\r(?!$)/);
        buf = parts.pop();
        parts.forEach(field);
        return reader.read().then(pump);
      }
      return reader.read().then(pump);
    }).catch((e) => {
      end({ reason: String(e && e.message || e) });
    });
  }
  SSELink.prototype._stop = function () {
    this._stopped = true;
    clearTimeout(this._timer);
    this._ctl.abort();
  };

  function PollLink(eng, multi, ch) {
    var self = this, c = eng._c, o = c.opts, opened = false;
    self._stopped = false;
    function round() {
      if (self._stopped) return;
      var chans = multi ? eng._channels() : [ch], cur;
      var q = "timeout=" + (opened ? o.pollTimeout : 0);
      if (multi) {
        cur = chans.map((n) => { return c._position(n) || "_"; }).join(",");
        q = chans.map((n) => { return "channel=" + path(n); }).join("&") + "&" + q;
        if (/[^_,]/.test(cur)) q += "&cursor=" + encodeURIComponent(cur);
      } else if ((cur = c._position(ch))) q += "&cursor=" + encodeURIComponent(cur);
      var ctl = self._ctl = new AbortController();
      var timer = setTimeout(() => { ctl.abort(); }, o.pollTimeout * 1000 + o.pollGrace);
      var headers = {};
      if (o.token) headers.Authorization = "Bearer " + o.token;
      fetch(c.base + (multi ? "/poll?" : "/poll/" + path(ch) + "?") + q,
        { signal: ctl.signal, cache: "no-store", headers: headers }).then((res) => {
        if (res.status !== 200) {
          clearTimeout(timer);
          return self._end({ refused: !opened, code: res.status, retry: retryAfter(res),
            single: multi && res.status === 404 });
        }
        return res.json().then((body) => {
          clearTimeout(timer);
          if (self._stopped) return;
          if (!opened) {
            opened = true;
            eng._open(self);
          }
          var cursors = multi ? String(body.cursor).split(",") : [body.cursor];
          if (multi) (body.gaps || []).forEach((n) => { eng.gap(n, null); });
          else if (body.gap) eng.gap(ch, null);
          body.events.forEach((e) => {
            eng.event(multi ? e.channel : ch, e.id, e.event,
              e.encoding === "base64" ? b64(e.data) : e.data);
          });
          chans.forEach((n, i) => {
            if (cursors[i] && cursors[i] !== "_") eng._anchor(n, cursors[i], false);
          });
          round();
        });
      }).catch((e) => {
        clearTimeout(timer);
        self._end({ refused: !opened, reason: String(e && e.message || e) });
      });
    }
    self._end = (info) => {
      if (self._stopped) return;
      self._stopped = true;
      eng._drop(self, info);
    };
    round();
  }
  PollLink.prototype._stop = function () {
    this._stopped = true;
    if (this._ctl) this._ctl.abort();
  };

  var KINDS = { websocket: WSLink, sse: SSELink, poll: PollLink };

  // One connection per channel where the server has no multi-channel URL:
  // the group opens when every member has, and drops as a whole.
  function Group(eng, Kind, chans) {
    var self = this, waiting = chans.length;
    self._members = {};
    self._make = (ch) => {
      var opened = false;
      self._members[ch] = new Kind({
        _c: eng._c,
        _open: () => {
          if (!opened && (opened = true) && --waiting === 0) eng._open(self);
        },
        event: eng.event.bind(eng), gap: eng.gap.bind(eng), _anchor: eng._anchor.bind(eng),
        _drop: (link, info) => {
          self._stop();
          eng._drop(self, info);
        }
      }, false, ch);
    };
    chans.forEach(self._make);
    if (!chans.length) setTimeout(() => { eng._open(self); }, 0);
  }
  // A channel more or less: one connection opened or closed, the others
  // untouched (a restart would lose what a from-now channel gets meanwhile).
  Group.prototype._sync = function (chans) {
    var m = this._members;
    Object.keys(m).forEach((ch) => {
      if (chans.indexOf(ch) < 0) {
        m[ch]._stop();
        delete m[ch];
      }
    });
    chans.forEach(function (ch) { if (!m[ch]) this._make(ch); }, this);
  };
  Group.prototype._stop = function () {
    var m = this._members;
    this._members = {};
    Object.keys(m).forEach((ch) => { m[ch]._stop(); });
  };

  // -- the engine: which transport, when to retry, when to move -------------
  function Engine(c) {
    this._c = c;
    var have = { websocket: !!root.WebSocket, sse: !!(root.fetch && root.ReadableStream),
      poll: !!root.fetch };
    this._order = c.opts.transports.filter((t) => { return KINDS[t] && have[t]; });
    if (!this._order.length) throw new Error("rawpush: no usable transport");
    this._i = 0;
    this._fails = 0;
    this._short = 0;
    this._link = null;
    this._multi = {};
    this._ever = false;
  }
  Engine.prototype._channels = function () {
    return this._c._wanted();
  };
  Engine.prototype._start = function () {
    var self = this, name = self._order[self._i], c = self._c;
    clearTimeout(self._wait);
    if (c.closed) return;
    c._setState(self._ever ? "reconnecting" : "connecting", name);
    if (self._flip && Date.now() - self._flip > c.opts.upgradeAfter) {
      delete self._multi.websocket;
      self._flip = 0;
    }
    var mode = c.opts.multiplex === "auto" ? self._multi[name] : c.opts.multiplex;
    if (mode === undefined) mode = self._probe;
    if (mode === undefined) {
      // A browser cannot see why an upgrade failed, so ask plain HTTP once
      // whether the multi-channel URLs exist: HEAD of an event stream
      // subscribes to nothing (404: single-channel URLs only).
      self._probe = "probing";
      fetch(c.base + "/sse?channel=rawpush.probe", { method: "HEAD", cache: "no-store" })
        .then((r) => {
          self._probe = r.status !== 404;
          self._start();
        }, () => {
          self._probe = undefined; // the server is down: ask again next time
          self._wait = setTimeout(() => { self._start(); },
            jitter(Math.min(c.opts.maxDelay, c.opts.minDelay * Math.pow(2, self._fails++))));
        });
      return;
    }
    if (mode === "probing") return;
    var Kind = KINDS[name], chans = self._channels();
    // No channel yet: nothing to connect over HTTP (an idle group opens).
    var link = mode === false || !chans.length && name !== "websocket"
      ? new Group(self, Kind, chans) : new Kind(self, true);
    link.transport = name;
    link._multi = mode !== false;
    link._chans = chans;
    link._born = Date.now();
    self._link = link;
    self._openTimer = setTimeout(() => {
      if (self._link === link) self._drop(link, { refused: true, reason: "open timeout" });
    }, c.opts.openTimeout);
  };
  Engine.prototype._open = function (link) {
    var self = this;
    if (link !== self._link) return;
    clearTimeout(self._openTimer);
    self._fails = 0;
    self._ever = true;
    self._c._setState("open", link.transport);
    if (self._i > 0) {
      self._upgrade = setTimeout(() => {
        if (self._link !== link) return;
        link._stop();
        self._i = 0;
        self._start();
      }, jitter(self._c.opts.upgradeAfter * 2));
    }
  };
  Engine.prototype.event = function (ch, id, name, data) {
    if (this._link) this._c._deliver(ch, id, name, data, this._link.transport);
  };
  Engine.prototype.gap = function (ch, head) {
    if (this._link) this._c._gapped(ch, head, this._link.transport);
  };
  Engine.prototype._anchor = function (ch, pos, fromNow) {
    this._c._anchor(ch, pos, fromNow);
  };
  Engine.prototype._drop = function (link, info) {
    var self = this, c = self._c, o = c.opts, delay;
    if (link !== self._link) return;
    self._link = null;
    clearTimeout(self._openTimer);
    clearTimeout(self._upgrade);
    link._stop();
    if (!info.refused) c.reconnects++;
    c.closes.push({ transport: link.transport, code: info.code || null,
      reason: info.reason || "", at: Date.now() });
    if (c.closes.length > 50) c.closes.shift();
    c._emit("close", c.closes[c.closes.length - 1]);
    if (c.closed) return;
    if (info.single) {
      self._multi[link.transport] = false;
      return self._start();
    }
    if (info.refused && link._multi && link.transport === "websocket" && o.multiplex === "auto") {
      // A failed upgrade says nothing to a page (a server may have /sse
      // but not /ws): try /ws/{ch} before calling WebSocket refused, and
      // ask for /ws again after upgradeAfter.
      self._multi.websocket = false;
      self._flip = Date.now();
      return self._start();
    }
    // Opened, then cut at once, twice running (a proxy that accepts the
    // upgrade and kills it): as good as refused.
    if (!info.refused && Date.now() - link._born < o.openTimeout && ++self._short >= 2) {
      info.refused = true;
    }
    if (info.refused) self._short = 0;
    c._setState("reconnecting", link.transport);
    if (info.refused && info.retry == null && self._i < self._order.length - 1) {
      // Refused, blocked or silent: the next transport, at once.
      self._i++;
      return self._start();
    }
    if (info.refused) self._i = 0;
    delay = info.retry != null ? info.retry * (1 + Math.random() / 10)
      : jitter(Math.min(o.maxDelay, o.minDelay * Math.pow(2, self._fails)));
    self._fails++;
    self._wait = setTimeout(() => { self._start(); }, delay);
  };
  // The set of channels changed: multi-channel WebSocket says so in band,
  // every other link reconnects at once (resuming by id).
  Engine.prototype._changed = function (ch, added) {
    var self = this, link = self._link;
    if (!link) return; // the next start takes the current set
    if (link instanceof Group && !link._multi) return link._sync(self._channels());
    if (link.transport === "websocket") {
      // Not open yet: onopen subscribes to the current set.
      if (link._ws.readyState === 1) added ? link._sub(ch) : link._unsub(ch);
      return;
    }
    if (String(link._chans) === String(self._channels())) return;
    clearTimeout(self._soon);
    self._soon = setTimeout(() => {
      if (!self._link || self._c.closed) return;
      var l = self._link;
      self._link = null;
      clearTimeout(self._openTimer);
      clearTimeout(self._upgrade);
      l._stop();
      self._start();
    }, 20);
  };
  Engine.prototype.publish = function (ch, data, event) {
    var l = this._link;
    if (l && l._multi && l.transport === "websocket" && l._ws.readyState === 1) {
      return l.publish(ch, data, event);
    }
    return null;
  };
  Engine.prototype.close = function () {
    clearTimeout(this._wait);
    clearTimeout(this._soon);
    clearTimeout(this._openTimer);
    clearTimeout(this._upgrade);
    if (this._link) this._link._stop();
    this._link = null;
  };

  // -- the client ------------------------------------------------------------
  function Client(url, opts) {
    var self = this, o = {};
    Object.keys(DEFAULTS).forEach((k) => {
      o[k] = opts && opts[k] !== undefined ? opts[k] : DEFAULTS[k];
    });
    self.opts = o;
    self.base = new URL(url || "/", root.location && root.location.href).href.replace(/\/$/, "");
    self.state = "connecting";
    self.transport = null;
    self.closes = [];
    self.reconnects = 0;
    self.events = 0;
    self.gaps = 0;
    self.closed = false;
    self.leader = !o.shared;
    self._subs = new Map();
    self._on = {};
    self._tab = Math.random().toString(36).slice(2);
    if (o.shared && root.navigator && navigator.locks && root.BroadcastChannel) {
      self._share(o.shared === true ? "default" : String(o.shared));
    } else {
      self.leader = true;
      self._engine = new Engine(self);
      setTimeout(() => { if (!self.closed) self._engine._start(); }, 0);
    }
  }
  var P = Client.prototype;

  P.on = function (name, fn) {
    (this._on[name] = this._on[name] || []).push(fn);
    var list = this._on[name];
    return { off: () => { var i = list.indexOf(fn); if (i >= 0) list.splice(i, 1); } };
  };
  P._emit = function (name, value) {
    (this._on[name] || []).slice().forEach((fn) => {
      try { fn(value); } catch (e) { setTimeout(() => { throw e; }, 0); }
    });
  };
  P._setState = function (state, transport) {
    if (this.state === state && this.transport === transport) return;
    this.state = state;
    this.transport = transport;
    this._emit("state", { state: state, transport: transport });
    if (this._bc && this.leader) this._post({ t: "state", state: state, transport: transport });
  };
  // The channels the connection serves: this tab's and, when leading, the
  // other tabs'.
  P._wanted = function () {
    var out = [];
    this._subs.forEach((s, ch) => { if (s._handlers.size || s._tabs.size) out.push(ch); });
    return out;
  };
  P._position = function (ch) {
    var s = this._subs.get(ch);
    return s ? s._pos : null;
  };
  P._anchor = function (ch, pos, fromNow) {
    var s = this._subs.get(ch);
    if (s && (!fromNow || s._pos == null)) s._pos = pos;
  };
  P._deliver = function (ch, id, event, data, transport) {
    var s = this._subs.get(ch);
    if (!s) return;
    if (id != null) {
      // Replays after a reconnect, a transport switch or a new leader may
      // repeat what was delivered: ids only move forward.
      if (s._pos != null && !s._reset && cmp(id, s._pos) <= 0) return;
      s._pos = id;
      s._reset = false;
    }
    this._local(ch, id, event, data, transport);
    if (this._bc && this.leader) {
      this._post({ t: "ev", ch: ch, id: id, event: event, data: data, tr: transport });
    }
  };
  P._local = function (ch, id, event, data, transport) {
    var s = this._subs.get(ch), self = this;
    if (!s || !s._handlers.size) return;
    if (id != null) {
      if (s._seen != null && !s._seenReset && cmp(id, s._seen) <= 0) return;
      s._seen = id;
      s._seenReset = false;
    }
    self.events++;
    var msg = { channel: ch, id: id, event: event || "message", data: data, transport: transport };
    s._handlers.forEach((h) => {
      try { h(msg); } catch (e) { self._emit("error", e); }
    });
  };
  P._gapped = function (ch, head, transport) {
    var s = this._subs.get(ch);
    if (!s) return;
    // After a gap the server's ids may restart (a new in-memory hub):
    // whatever comes next is the new baseline.
    if (head) s._pos = head;
    else s._reset = true;
    s._seenReset = true;
    if (s._handlers.size) {
      this.gaps++;
      this._emit("gap", { channel: ch, transport: transport });
    }
    if (this._bc && this.leader) this._post({ t: "gap", ch: ch, tr: transport });
  };

  P.subscribe = function (channel, handler, opts) {
    var self = this, ch = String(channel), s = self._subs.get(ch), fresh = !s || !self._wants(s);
    if (!s) {
      s = { _handlers: new Set(), _tabs: new Map(), _pos: null, _seen: null };
      self._subs.set(ch, s);
    }
    var since = opts && opts.since;
    if (since && (s._pos == null || cmp(since, s._pos) < 0)) {
      s._pos = since;
      fresh = true;
    }
    if (since && !s._handlers.size) s._seen = since;
    var fn = (m) => { handler(m); };
    s._handlers.add(fn);
    if (self.leader) {
      if (fresh && self._engine) self._engine._changed(ch, true);
    } else self._post({ t: "sub", ch: ch, _pos: s._seen, tab: self._tab });
    return {
      unsubscribe: () => {
        if (!s._handlers.delete(fn) || s._handlers.size) return;
        if (!self.leader) self._post({ t: "unsub", ch: ch, tab: self._tab });
        if (!self._wants(s)) {
          self._subs.delete(ch);
          if (self._engine && self.leader) self._engine._changed(ch, false);
        }
      }
    };
  };
  P._wants = function (s) {
    return s._handlers.size > 0 || s._tabs.size > 0;
  };

  P.publish = function (channel, data, opts) {
    var event = opts && opts.event, o = this.opts;
    var viaWS = this._engine && this.leader && this._engine.publish(channel, data, event);
    if (viaWS) return viaWS;
    var headers = { "Content-Type": isBytes(data) ? "application/octet-stream"
      : "text/plain; charset=utf-8" };
    if (o.token) headers.Authorization = "Bearer " + o.token;
    if (opts && opts.idempotencyKey) headers["Idempotency-Key"] = opts.idempotencyKey;
    var url = this.base + "/publish/" + path(channel) + (event ? "?event=" + encodeURIComponent(event) : "");
    return fetch(url, { method: "POST", body: isBytes(data) ? data : String(data), headers: headers })
      .then((res) => {
        return res.text().then((text) => {
          if (res.status !== 200) {
            var why = text.trim();
            try { why = JSON.parse(why).error || why; } catch (e) { /* plain text */ }
            var err = new Error("publish refused (" + res.status + "): " + why);
            err.status = res.status;
            throw err;
          }
          return JSON.parse(text).id;
        });
      });
  };

  // Where a channel resumes from: the last id seen (or the poll cursor).
  P.position = function (channel) {
    return this._position(String(channel));
  };

  // Reopen the connection now (a demo's "drop" button; tests).
  P.reconnect = function () {
    var e = this._engine;
    if (e && e._link) e._drop(e._link, { reason: "dropped by the application" });
  };

  P.close = function () {
    if (this.closed) return;
    this.closed = true;
    if (this._engine) this._engine.close();
    if (this._bc) {
      if (!this.leader) this._post({ t: "bye", tab: this._tab });
      this._bc.close();
    }
    if (this._release) this._release();
    this._setState("closed", this.transport);
  };

  // -- one connection for every tab: Web Locks + BroadcastChannel ---------
  P._post = function (m) {
    if (!this.closed || m.t === "bye") this._bc.postMessage(m);
  };
  P._share = function (name) {
    var self = this;
    self._bc = new root.BroadcastChannel("rawpush:" + name);
    self._bc.onmessage = (e) => { self._relay(e.data); };
    if (root.addEventListener) root.addEventListener("pagehide", () => { self.close(); });
    navigator.locks.request("rawpush:" + name, () => {
      if (self.closed) return null;
      return new Promise((release) => {
        self._release = release;
        self._lead();
      });
    });
  };
  P._lead = function () {
    var self = this;
    self.leader = true;
    // Resume from what this tab delivered; the others answer "hello" with
    // their own positions (the oldest one wins, so nobody loses events).
    self._subs.forEach((s) => { s._pos = s._seen; s._reset = false; });
    self._engine = new Engine(self);
    self._post({ t: "hello" });
    setTimeout(() => { if (!self.closed) self._engine._start(); }, 0);
  };
  P._relay = function (m) {
    var self = this, s;
    if (self.leader) {
      if (m.t === "sub") {
        s = self._subs.get(m.ch);
        var fresh = !s || !self._wants(s);
        if (!s) {
          s = { _handlers: new Set(), _tabs: new Map(), _pos: m._pos, _seen: null };
          self._subs.set(m.ch, s);
        } else if (m._pos && s._pos && cmp(m._pos, s._pos) < 0) {
          s._pos = m._pos;
          fresh = true;
        }
        s._tabs.set(m.tab, 1);
        if (fresh) self._engine._changed(m.ch, true);
        self._post({ t: "state", state: self.state, transport: self.transport });
      } else if (m.t === "unsub" || m.t === "bye") {
        self._subs.forEach((sub, ch) => {
          if ((m.t === "bye" || ch === m.ch) && sub._tabs.delete(m.tab) && !self._wants(sub)) {
            self._subs.delete(ch);
            self._engine._changed(ch, false);
          }
        });
      }
      return;
    }
    if (m.t === "ev") self._local(m.ch, m.id, m.event, m.data, m.tr);
    else if (m.t === "gap") {
      s = self._subs.get(m.ch);
      if (s && s._handlers.size) {
        s._seenReset = true;
        self.gaps++;
        self._emit("gap", { channel: m.ch, transport: m.tr });
      }
    } else if (m.t === "state") self._setState(m.state, m.transport);
    else if (m.t === "hello") {
      self._subs.forEach((sub, ch) => {
        if (sub._handlers.size) self._post({ t: "sub", ch: ch, _pos: sub._seen, tab: self._tab });
      });
    }
  };

  function connect(url, options) {
    return new Client(url, options);
  }

  return { connect: connect, version: "1" };
});
