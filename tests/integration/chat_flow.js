// tests/integration/chat_flow.js: the Workerman chat's client flow (docs/chat.md,
// "The protocol") against a running msw, written from the protocol with the
// standard WebSocket API (Node 22, or 20 with --experimental-websocket; an
// older Node gets the minimal client below, enough for this flow): a shop's
// backend registers a session on the manager, a user and an agent connect,
// wait for `connected`, authenticate, join, talk (each gets its own message
// too), ping, and the user leaves. Run by chat_test.cpp:
//   node [--experimental-websocket] chat_flow.js CHAT_PORT MANAGER_PORT
// Prints "chat flow ok" and exits 0, or prints what went wrong and exits 1.
'use strict';

const WS = typeof WebSocket === 'function' ? WebSocket : miniWebSocket();

// RFC 6455 in brief: the upgrade, masked text frames out, unmasked text
// frames in (7- and 16-bit lengths: this flow's messages are short).
function miniWebSocket() {
  const net = require('net');
  const crypto = require('crypto');
  return class {
    constructor(url) {
      const u = new URL(url);
      this.buf = Buffer.alloc(0);
      this.upgraded = false;
      this.sock = net.connect(Number(u.port), u.hostname, () => {
        const key = crypto.randomBytes(16).toString('base64');
        this.sock.write(`GET ${u.pathname}${u.search} HTTP/1.1\r\nHost: ${u.host}\r\nUpgrade: websocket\r\n` +
                        `Connection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
      });
      this.sock.on('data', (d) => this.read(d));
      this.sock.on('error', (e) => this.onerror && this.onerror(e));
    }
    read(d) {
      this.buf = Buffer.concat([this.buf, d]);
      if (!this.upgraded) {
        const end = this.buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        if (!this.buf.slice(0, 12).toString().includes(' 101')) return this.onerror && this.onerror('no 101');
        this.upgraded = true;
        this.buf = this.buf.slice(end + 4);
      }
      while (this.buf.length >= 2) {
        let len = this.buf[1] & 127, at = 2;
        if (len === 126) [len, at] = [this.buf.readUInt16BE(2), 4];
        if (this.buf.length < at + len) return;
        const op = this.buf[0] & 15, body = this.buf.slice(at, at + len);
        this.buf = this.buf.slice(at + len);
        if (op === 1 && this.onmessage) this.onmessage({ data: body.toString() });
      }
    }
    send(text) {
      const body = Buffer.from(text), mask = crypto.randomBytes(4);
      const head = body.length < 126 ? Buffer.from([0x81, 0x80 | body.length])
                                     : Buffer.from([0x81, 0xfe, body.length >> 8, body.length & 255]);
      this.sock.write(Buffer.concat([head, mask, body.map((b, i) => b ^ mask[i & 3])]));
    }
    close() {
      this.sock.end();
    }
  };
}

const [chatPort, managerPort] = process.argv.slice(2).map(Number);
const url = `ws://127.0.0.1:${chatPort}`;
const session = 1000 + Math.floor(Math.random() * 1000000);

setTimeout(() => fail('timed out'), 10000).unref();

function fail(why) {
  console.log('chat flow failed:', why);
  process.exit(1);
}

function check(cond, what) {
  if (!cond) fail(what);
}

// A client that hands out messages by type, in arrival order.
class Client {
  constructor() {
    this.inbox = [];
    this.waiters = [];
    this.ws = new WS(url);
    this.ws.onmessage = (e) => this.take(JSON.parse(e.data));
    this.ws.onerror = () => fail('socket error');
  }
  take(msg) {
    const i = this.waiters.findIndex((w) => w.type === msg.type);
    if (i < 0) return this.inbox.push(msg);
    this.waiters.splice(i, 1)[0].resolve(msg);
  }
  next(type) {
    const i = this.inbox.findIndex((m) => m.type === type);
    if (i >= 0) return Promise.resolve(this.inbox.splice(i, 1)[0]);
    return new Promise((resolve) => this.waiters.push({ type, resolve }));
  }
  send(obj) {
    this.ws.send(JSON.stringify(obj));
  }
  async ask(obj, type) {
    this.send(obj);
    return this.next(type);
  }
}

async function connectAs(userId) {
  const c = new Client();
  const hello = await c.next('connected');
  check(hello.message === 'WebSocket连接成功' && hello.connection_id, 'greeting ' + JSON.stringify(hello));
  const ok = await c.ask({ type: 'auth', user_id: userId }, 'auth_success');
  check(ok.user_id === userId, 'auth ' + JSON.stringify(ok));
  const joined = await c.ask({ type: 'join_session', session_id: session }, 'joined_session');
  check(joined.session_id === session, 'join ' + JSON.stringify(joined));
  return c;
}

async function main() {
  const created = await fetch(`http://127.0.0.1:${managerPort}/chat/sessions`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ session_id: session, user_id: 123 }),
  });
  check(created.status === 200, 'POST /chat/sessions: ' + created.status);
  const user = await connectAs(123);
  const agent = await connectAs(900);
  user.send({ type: 'send_message', session_id: session, content: '你好，我需要咨询' });
  for (const c of [user, agent]) {
    const m = await c.next('new_message');
    check(m.session_id === session && m.message.sender_id === 123, 'new_message ' + JSON.stringify(m));
    check(m.message.content === '你好，我需要咨询', 'content ' + JSON.stringify(m));
    check(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/.test(m.message.created_at), 'created_at ' + m.message.created_at);
  }
  agent.send({ type: 'send_message', session_id: session, content: '您好' });
  check((await user.next('new_message')).message.sender_id === 900, 'the agent answered');
  check((await user.ask({ type: 'ping' }, 'pong')).type === 'pong', 'pong');
  const left = await user.ask({ type: 'leave_session' }, 'left_session');
  check(left.session_id === session, 'left ' + JSON.stringify(left));
  user.ws.close();
  agent.ws.close();
  console.log('chat flow ok');
  process.exit(0);
}

main().catch((e) => fail(e.stack || String(e)));
