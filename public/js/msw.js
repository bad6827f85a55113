/**
 * msw.js — a small, dependency-free browser client for msw (MSwoole-style
 * WebSocket servers). Include it with a classic script tag; it defines
 * `window.MswClient` (and `module.exports` under CommonJS).
 *
 *   <script src="/js/msw.js"></script>
 *   const client = new MswClient('/live', { token });
 *   client.on('open', () => client.request('live.user.join'));
 *   client.on('userSayBroadcast', (param) => show(param));
 *   const reply = await client.request('live.user.say', { content: 'Hi' });
 *
 * What it does (docs/client.md has the long version):
 * - connects to `url?auth=TOKEN` and reconnects after a drop, with
 *   exponential backoff and jitter; never after close() or close code 4010
 *   (kicked). A browser cannot see the 403 of a refused handshake (an
 *   attempt that never opened closes with 1006, exactly like a network
 *   drop), so after such an attempt the client asks the server with a plain
 *   HTTP GET of the same URL and token (`probe`): msw answers 403 when that
 *   token is refused, and the client emits 'authFailed' (with the server's
 *   status and info) and 'giveup' at once and stops. Without an answer (no
 *   network, another server, a cross-origin URL) it falls back to counting:
 *   after `maxFailures` attempts in a row that never opened it gives up the
 *   same way. Once it has been connected it keeps trying (or gives up after
 *   `maxRetries` failures);
 * - the MSwoole heartbeat: sends the text `2` every `heartbeat` ms; when
 *   nothing (normally the server's `3`) came back before the next beat, the
 *   connection is taken as dead and replaced;
 * - request(method, data) → Promise, matched to its reply by a `rid`;
 *   send(method, data) fire-and-forget;
 * - messages sent while not connected are queued (bounded) and sent, in
 *   order, right after the next 'open' handlers have run.
 *
 * @license Apache-2.0
 */
(function (root, factory) {
  'use strict';
  const MswClient = factory();
  if (typeof module === 'object' && module.exports) module.exports = MswClient;
  else if (root) root.MswClient = MswClient;
})(typeof self !== 'undefined' ? self : typeof globalThis !== 'undefined' ? globalThis : this, function () {
  'use strict';

  /** Lifecycle events; server events with these names reach only 'message'. */
  const LIFECYCLE = ['open', 'close', 'reconnecting', 'message', 'error', 'authFailed', 'giveup', 'state'];

  /**
   * The error a request() rejects with.
   * `code`: 'server' (the server answered with a non-2xx status), 'timeout',
   * 'disconnected' (the connection dropped before the reply), 'closed'
   * (close() was called, or the client gave up), 'queueFull'.
   */
  class MswError extends Error {
    /**
     * @param {string} message
     * @param {{code: string, method?: string, status?: number, event?: string, info?: string, param?: *, reply?: object}} details
     */
    constructor(message, details) {
      super(message);
      this.name = 'MswError';
      this.code = details.code;
      this.method = details.method;
      this.status = details.status || 0;
      this.event = details.event || '';
      this.info = details.info || '';
      this.param = details.param;
      this.reply = details.reply;
    }
  }

  const DEFAULTS = {
    token: '',
    heartbeat: 25000,
    requestTimeout: 10000,
    queueLimit: 100,
    autoConnect: true,
    probe: true,
    noReconnectCodes: [4010],
    reconnect: { min: 500, max: 15000, factor: 2, jitter: 0.3, maxFailures: 6, maxRetries: 0 },
    WebSocket: null,
  };

  /**
   * @typedef {object} MswOptions
   * @property {string|function(): string} [token] the `auth` token, or a function returning it
   *   (called before every connection attempt, so a fresh token can be fetched)
   * @property {number} [heartbeat=25000] ms between heartbeats ("2"); 0 turns the heartbeat off
   * @property {number} [requestTimeout=10000] ms before request() rejects with code 'timeout'
   * @property {number} [queueLimit=100] messages kept while not connected; 0 = reject at once
   * @property {boolean} [autoConnect=true] connect from the constructor
   * @property {boolean} [probe=true] after an attempt that never opened, GET the same URL over
   *   HTTP(S) to learn whether the server refuses the token (403: final, 'authFailed' at once)
   * @property {number[]} [noReconnectCodes=[4010]] close codes after which the client stays closed
   * @property {false|{min?: number, max?: number, factor?: number, jitter?: number, maxFailures?: number, maxRetries?: number}} [reconnect]
   *   backoff: attempt n waits min·factor^n ms capped at max, then jitter takes up to that
   *   fraction off at random (0 = none, 1 = full jitter). maxFailures (6): failed attempts in a
   *   row, before any connection opened, after which the client gives up with 'authFailed';
   *   maxRetries (0 = unlimited): failed attempts in a row after it had been connected, before
   *   'giveup'. false = no reconnecting at all
   * @property {function} [WebSocket] the WebSocket class (default: the global one)
   */

  class MswClient {
    /**
     * @param {string} url ws:// or wss:// URL, or a path ("/live") resolved against the page
     * @param {MswOptions} [options]
     */
    constructor(url, options) {
      const o = Object.assign({}, DEFAULTS, options || {});
      o.reconnect = o.reconnect === false ? false : Object.assign({}, DEFAULTS.reconnect, o.reconnect || {});
      this.url = url;
      this.options = o;
      /** @private */ this._listeners = new Map();
      /** @private */ this._pending = new Map(); // rid -> {resolve, reject, timer, method}
      /** @private */ this._queue = []; // {text, rid?} waiting for a connection
      /** @private */ this._rid = 0;
      /** @private */ this._ws = null;
      /** @private */ this._state = 'idle';
      /** @private */ this._attempt = 0; // reconnect attempts since the last stable connection
      /** @private */ this._failures = 0; // attempts in a row that never opened
      /** @private */ this._everOpened = false; // since connect()
      /** @private */ this._openedAt = 0;
      /** @private */ this._retryTimer = null;
      /** @private */ this._attemptSeq = 0; // bumped by every attempt, close() and connect(): stale probes see it
      /** @private */ this._attemptUrl = '';
      /** @private */ this._beatTimer = null;
      /** @private */ this._awaitingBeat = false;
      /** @private */ this._onOnline = () => {
        if (this._state === 'reconnecting') this._retryNow();
      };
      if (o.autoConnect) this.connect();
    }

    /**
     * 'idle' (not started), 'connecting', 'open', 'reconnecting' (waiting to
     * try again) or 'closed' (close() was called, or the client gave up).
     * @type {string}
     */
    get state() {
      return this._state;
    }

    /** @type {boolean} true while messages go straight out */
    get connected() {
      return this._state === 'open';
    }

    /**
     * Starts connecting (again): after autoConnect: false, close() or a
     * 'giveup'. Resets the backoff and the failure count.
     * @returns {MswClient} this
     */
    connect() {
      if (this._state === 'open' || this._state === 'connecting') return this;
      clearTimeout(this._retryTimer);
      this._attemptSeq++;
      this._attempt = 0;
      this._failures = 0;
      this._everOpened = false;
      if (typeof window !== 'undefined' && window.addEventListener) window.addEventListener('online', this._onOnline);
      this._open();
      return this;
    }

    /**
     * Closes for good (no reconnecting). Queued messages and requests
     * waiting for a reply are rejected with code 'closed'.
     * @param {number} [code=1000] 1000 or 3000..4999
     * @param {string} [reason]
     */
    close(code, reason) {
      const ws = this._ws;
      this._attemptSeq++;
      this._shutDown('closed');
      if (ws) {
        this._detach(ws);
        try {
          ws.close(code || 1000, reason || '');
        } catch (e) {
          ws.close();
        }
        this._emit('close', { code: code || 1000, reason: reason || '', wasClean: true, willReconnect: false });
      }
    }

    /**
     * Sends a message and waits for its reply (matched by `rid`).
     * Resolves with the whole reply `{status, event, info, param, rid}` when
     * its status is 2xx; rejects with an MswError otherwise, on timeout, and
     * when the connection drops first. While not connected the request
     * waits in the queue; its timeout runs from this call.
     * @param {string} method e.g. 'live.user.say'
     * @param {object} [data] the action's fields (`method` and `rid` are set here)
     * @param {{timeout?: number}} [opts]
     * @returns {Promise<{status: number, event: string, info: string, param?: *, rid: number}>}
     */
    request(method, data, opts) {
      return new Promise((resolve, reject) => {
        const rid = ++this._rid;
        const text = JSON.stringify(Object.assign({}, data || {}, { method, rid }));
        const timeout = (opts && opts.timeout) || this.options.requestTimeout;
        const entry = { resolve, reject, method, timer: null };
        entry.timer = setTimeout(() => {
          this._dropQueued(rid);
          this._settle(rid, new MswError(method + ': no reply within ' + timeout + ' ms', { code: 'timeout', method }));
        }, timeout);
        this._pending.set(rid, entry);
        const refused = this._transmit(text, rid);
        if (refused) this._settle(rid, new MswError(method + ': ' + refused.message, { code: refused.code, method }));
      });
    }

    /**
     * Fire-and-forget. Any reply is emitted by its event name.
     * @param {string} method
     * @param {object} [data]
     * @returns {boolean} false when it could be neither sent nor queued
     */
    send(method, data) {
      return !this._transmit(JSON.stringify(Object.assign({}, data || {}, { method })));
    }

    /**
     * Listens to a server event (by its `event` name, with `(param, message)`)
     * or a lifecycle event: 'open' ({reconnected}), 'close' ({code, reason,
     * wasClean, willReconnect, refused?}), 'reconnecting' ({attempt, delay}),
     * 'message' (every parsed message), 'error' (Error), 'authFailed'
     * ({failures, status?, info?}: status 403 and the server's info when it
     * refused the token, none when it gave up counting), 'giveup'
     * ({failures}), 'state' ({state, previous}).
     * Replies to request() settle its promise and are not emitted by name.
     * @param {string} event
     * @param {function} fn
     * @returns {function(): void} a function that removes the listener
     */
    on(event, fn) {
      if (!this._listeners.has(event)) this._listeners.set(event, new Set());
      this._listeners.get(event).add(fn);
      return () => this.off(event, fn);
    }

    /**
     * Removes a listener added with on() (or all of an event's without fn).
     * @param {string} event
     * @param {function} [fn]
     */
    off(event, fn) {
      const set = this._listeners.get(event);
      if (!set) return;
      if (fn) {
        set.delete(fn);
        for (const f of set) if (f._mswOnce === fn) set.delete(f);
      } else set.clear();
    }

    /**
     * Like on(), for the next occurrence only.
     * @param {string} event
     * @param {function} fn
     * @returns {function(): void}
     */
    once(event, fn) {
      const wrapper = (...args) => {
        this.off(event, wrapper);
        fn.apply(this, args);
      };
      wrapper._mswOnce = fn;
      return this.on(event, wrapper);
    }

    // ---- internals ----

    /** @private */
    _emit(event, ...args) {
      const set = this._listeners.get(event);
      if (!set) return;
      for (const fn of Array.from(set)) {
        try {
          fn.apply(this, args);
        } catch (e) {
          // A listener's bug must not break the client: report it like an uncaught error.
          setTimeout(() => {
            throw e;
          });
        }
      }
    }

    /** @private */
    _setState(state) {
      if (state === this._state) return;
      const previous = this._state;
      this._state = state;
      this._emit('state', { state, previous });
    }

    /** @private */
    _socketUrl() {
      let url = this.url;
      if (!/^wss?:\/\//i.test(url)) {
        const loc = typeof location !== 'undefined' ? location : null;
        if (!loc) throw new Error('MswClient: a relative url needs a page to resolve against');
        const u = new URL(url, loc.href);
        u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
        url = u.href;
      }
      const token = typeof this.options.token === 'function' ? this.options.token() : this.options.token;
      if (token) url += (url.indexOf('?') < 0 ? '?' : '&') + 'auth=' + encodeURIComponent(token);
      return url;
    }

    /** @private */
    _open() {
      const WS = this.options.WebSocket || (typeof WebSocket !== 'undefined' ? WebSocket : null);
      if (!WS) throw new Error('MswClient: no WebSocket implementation');
      this._setState('connecting');
      this._attemptSeq++;
      this._attemptUrl = ''; // no probe for an attempt whose URL could not even be made
      let ws;
      try {
        this._attemptUrl = this._socketUrl();
        ws = new WS(this._attemptUrl);
      } catch (e) {
        this._emit('error', e);
        this._afterClose({ code: 1006, reason: String(e.message || e), wasClean: false }, false);
        return;
      }
      this._ws = ws;
      let opened = false;
      ws.onopen = () => {
        opened = true;
        this._openedAt = Date.now();
        this._failures = 0;
        const reconnected = this._everOpened;
        this._everOpened = true;
        this._setState('open');
        this._startHeartbeat();
        // 'open' handlers first (a join they send goes ahead), then the queue.
        this._emit('open', { reconnected });
        this._flush();
      };
      ws.onmessage = (ev) => this._receive(ev.data);
      ws.onerror = () => this._emit('error', new Error('WebSocket error (' + (opened ? 'connection' : 'handshake') + ')'));
      ws.onclose = (ev) => {
        this._detach(ws);
        this._afterClose({ code: ev.code, reason: ev.reason, wasClean: ev.wasClean }, opened);
      };
    }

    /** @private */
    _detach(ws) {
      ws.onopen = ws.onmessage = ws.onerror = ws.onclose = null;
      if (this._ws === ws) this._ws = null;
      this._stopHeartbeat();
    }

    /** @private A connection ended (or never started): tell, then decide whether to try again. */
    _afterClose(info, opened) {
      // Requests in flight may or may not have been handled: their callers decide.
      for (const rid of Array.from(this._pending.keys())) {
        if (!this._queue.some((q) => q.rid === rid)) {
          this._settle(rid, new MswError('connection lost before the reply', { code: 'disconnected', method: this._pending.get(rid).method }));
        }
      }
      if (opened || info.code !== 1006 || !this.options.probe || typeof fetch !== 'function' || !this._attemptUrl) {
        return this._decide(info, opened, null);
      }
      // Never opened: refused, or no network? Ask (state stays 'connecting' meanwhile).
      const seq = this._attemptSeq;
      this._probe(this._attemptUrl).then((refusal) => {
        if (seq === this._attemptSeq && this._state === 'connecting' && !this._ws) this._decide(info, opened, refusal);
      });
    }

    /**
     * GETs the attempt's URL over HTTP(S): msw answers 403 with its JSON body
     * when the token is refused (docs/client.md). Resolves with
     * {status, info} then, null for any other answer (a 403 without msw's
     * body included) or none.
     * @private
     */
    _probe(url) {
      const abort = typeof AbortController === 'function' ? new AbortController() : null;
      const timer = abort && setTimeout(() => abort.abort(), 5000);
      const opts = { cache: 'no-store', credentials: 'omit', redirect: 'manual', signal: abort ? abort.signal : undefined };
      return fetch(url.replace(/^ws/i, 'http'), opts)
        .then((res) => {
          if (res.status !== 403) return null;
          // msw's own refusal only (its JSON body), not any proxy's 403 page.
          return res.json().then((body) => (body && body.status === 403 ? { status: 403, info: String(body.info || 'refused') } : null));
        })
        .catch(() => null)
        .then((refusal) => {
          clearTimeout(timer);
          return refusal;
        });
    }

    /** @private Reconnect, give up after too many failures, or stop at once when the server refused the token. */
    _decide(info, opened, refusal) {
      const r = this.options.reconnect;
      if (!opened) this._failures++;
      else if (Date.now() - this._openedAt > 5000) this._attempt = 0; // stable: start the backoff over
      let willReconnect = !!r && this.options.noReconnectCodes.indexOf(info.code) < 0;
      const limit = !r ? 0 : this._everOpened ? r.maxRetries : r.maxFailures;
      const givingUp = !!refusal || (willReconnect && limit > 0 && this._failures >= limit);
      if (givingUp) willReconnect = false;
      this._emit('close', Object.assign({}, info, { willReconnect }, refusal ? { refused: refusal } : {}));
      if (this._state === 'closed') return; // a 'close' listener called close()
      if (willReconnect) return this._scheduleRetry();
      if (givingUp && (refusal || !this._everOpened)) this._emit('authFailed', Object.assign({ failures: this._failures }, refusal));
      this._shutDown('closed');
      if (givingUp) this._emit('giveup', { failures: this._failures });
    }

    /** @private */
    _scheduleRetry() {
      const r = this.options.reconnect;
      const base = Math.min(r.max, r.min * Math.pow(r.factor, this._attempt));
      const jitter = Math.min(1, Math.max(0, r.jitter));
      const delay = Math.round(base * (1 - jitter * Math.random()));
      this._attempt++;
      this._setState('reconnecting');
      this._emit('reconnecting', { attempt: this._attempt, delay });
      this._retryTimer = setTimeout(() => this._open(), delay);
    }

    /** @private */
    _retryNow() {
      clearTimeout(this._retryTimer);
      this._open();
    }

    /** @private Stops everything and rejects whatever waits. */
    _shutDown(state) {
      clearTimeout(this._retryTimer);
      this._stopHeartbeat();
      if (typeof window !== 'undefined' && window.removeEventListener) window.removeEventListener('online', this._onOnline);
      this._queue = [];
      for (const [rid, p] of Array.from(this._pending)) {
        this._settle(rid, new MswError('the client is closed', { code: 'closed', method: p.method }));
      }
      this._setState(state);
    }

    /**
     * Sends now, or queues. Returns null, or {code, message} when refused.
     * @private
     */
    _transmit(text, rid) {
      if (this._state === 'open' && this._ws) {
        this._ws.send(text);
        return null;
      }
      if (this._state === 'closed' || this._state === 'idle') return { code: 'closed', message: 'the client is not connected' };
      if (this._queue.length >= this.options.queueLimit) return { code: 'queueFull', message: 'the send queue is full' };
      this._queue.push({ text, rid });
      return null;
    }

    /** @private */
    _flush() {
      const queue = this._queue;
      this._queue = [];
      for (const q of queue) {
        if (this._state !== 'open' || !this._ws) {
          this._queue.push(q);
          continue;
        }
        this._ws.send(q.text);
      }
    }

    /** @private */
    _dropQueued(rid) {
      this._queue = this._queue.filter((q) => q.rid !== rid);
    }

    /** @private */
    _settle(rid, error, reply) {
      const p = this._pending.get(rid);
      if (!p) return;
      this._pending.delete(rid);
      clearTimeout(p.timer);
      if (error) p.reject(error);
      else p.resolve(reply);
    }

    /** @private */
    _receive(data) {
      this._awaitingBeat = false; // any frame proves the connection alive
      if (data === '3') return;
      let msg;
      try {
        msg = JSON.parse(data);
      } catch (e) {
        this._emit('error', new Error('not JSON from the server: ' + String(data).slice(0, 100)));
        return;
      }
      if (!msg || typeof msg !== 'object') return;
      this._emit('message', msg);
      if (msg.rid !== undefined && this._pending.has(msg.rid)) {
        const p = this._pending.get(msg.rid);
        if (msg.status >= 200 && msg.status < 300) this._settle(msg.rid, null, msg);
        else {
          this._settle(
            msg.rid,
            new MswError(p.method + ': ' + (msg.info || msg.event || 'status ' + msg.status), {
              code: 'server', method: p.method, status: msg.status, event: msg.event, info: msg.info, param: msg.param, reply: msg,
            })
          );
        }
        return;
      }
      if (typeof msg.event === 'string' && LIFECYCLE.indexOf(msg.event) < 0) this._emit(msg.event, msg.param, msg);
    }

    /** @private */
    _startHeartbeat() {
      this._stopHeartbeat();
      const every = this.options.heartbeat;
      if (!(every > 0)) return;
      this._awaitingBeat = false;
      this._beatTimer = setInterval(() => {
        const ws = this._ws;
        if (!ws || this._state !== 'open') return;
        if (this._awaitingBeat) {
          // Nothing came back for a whole interval: the link is dead even if
          // the browser has not noticed. Drop it without waiting for a close handshake.
          this._detach(ws);
          try {
            ws.close(4000, 'heartbeat timeout');
          } catch (e) {
            /* already closing */
          }
          this._afterClose({ code: 4000, reason: 'heartbeat timeout', wasClean: false }, true);
          return;
        }
        this._awaitingBeat = true;
        ws.send('2');
      }, every);
    }

    /** @private */
    _stopHeartbeat() {
      clearInterval(this._beatTimer);
      this._beatTimer = null;
    }
  }

  MswClient.MswError = MswError;
  MswClient.version = '0.1.0';
  return MswClient;
});
