#!/usr/bin/env python3
"""tests/support/backend_server.py: the application backend the backend-hook tests talk to.

A real HTTP/1.1 server (keep-alive, one thread per connection) on 127.0.0.1.
Usage: backend_server.py SECRET ; prints "port N" once it listens, then serves
until killed. When SECRET is not "-", every request's X-Msw-Signature is checked
and a wrong one is answered 401 {"error":"bad signature"}.

POST /connect      the connect hook: query "token" decides:
                     ok-ID  -> 200 {"id":ID,"type":"user","code":"room-ID","nickname":"N-ID","extra":{"k":1}}
                               (403 when a "user_id" parameter names another user: Laravel-S's check)
                     deny   -> 403 ; slow -> 200 after 3 s ; badjson -> 200 "not json" ;
                     big    -> 200 with 2 MiB ; error -> 500
POST /hooktest.echo    200 {"got": body, "signed": bool}
POST /hooktest.slow    200 {"slow":true} after body "delay" seconds
POST /hooktest.status  answers body "status" with {"status": N}
POST /hooktest.work    holds the request for 0.1 s; counts requests at once
POST /chat.join        the chat module's (docs/chat.md): session 666 -> 500; user 1 in
                       session 7, any user in session 8 -> 200; else 403
POST /chat.message     content "fail" -> 500, "deny" -> 403, "noid" -> 200 {} ;
                       else 200 {"id": 5000 + n, "created_at": "2024-01-01 12:00:00"}
GET  /stats            {"requests","max_at_once","bad_signatures","connections","connect_bodies":[...],
                        "chat_bodies":[[HOOK, body], ...]}
"""
import hashlib
import hmac
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SECRET = sys.argv[1] if len(sys.argv) > 1 else "-"
lock = threading.Lock()
stats = {"requests": 0, "at_once": 0, "max_at_once": 0, "bad_signatures": 0, "connections": 0,
         "connect_bodies": [], "chat_bodies": []}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self):
        super().setup()
        with lock:
            stats["connections"] += 1

    def log_message(self, *args):
        pass

    def answer(self, status, obj=None, raw=None):
        data = raw if raw is not None else json.dumps(obj if obj is not None else {}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        with lock:
            self.answer(200, {k: v for k, v in stats.items() if k != "at_once"})

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with lock:
            stats["requests"] += 1
        signed = False
        if SECRET != "-":
            want = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
            if not hmac.compare_digest(want, self.headers.get("X-Msw-Signature", "")):
                with lock:
                    stats["bad_signatures"] += 1
                return self.answer(401, {"error": "bad signature"})
            signed = True
        req = json.loads(body) if body else {}
        hook = self.path.lstrip("/")
        if hook == "connect":
            return self.connect(req)
        if hook == "hooktest.echo":
            return self.answer(200, {"got": req, "signed": signed})
        if hook == "hooktest.slow":
            time.sleep(float(req.get("delay", 3)))
            return self.answer(200, {"slow": True})
        if hook == "hooktest.status":
            return self.answer(int(req.get("status", 500)), {"status": req.get("status")})
        if hook == "hooktest.work":
            return self.work(req)
        if hook.startswith("chat."):
            return self.chat(hook, req)
        return self.answer(404, {"error": "no hook " + hook})

    def connect(self, req):
        with lock:
            stats["connect_bodies"].append(req)
        query = req.get("query", {})
        token = query.get("token", "")
        if token.startswith("ok-") and query.get("user_id", token[3:]) == token[3:]:
            uid = token[3:]
            return self.answer(200, {"id": uid, "type": "user", "code": "room-" + uid, "nickname": "N-" + uid,
                                     "extra": {"k": 1}})
        if token == "slow":
            time.sleep(3)
            return self.answer(200, {"id": "late"})
        if token == "badjson":
            return self.answer(200, raw=b"not json")
        if token == "big":
            return self.answer(200, raw=b"[" + b"1," * (1 << 20) + b"1]")
        if token == "error":
            return self.answer(500, {"error": "boom"})
        return self.answer(403, {"error": "denied"})

    def chat(self, hook, req):
        with lock:
            stats["chat_bodies"].append([hook, req])
            n = len(stats["chat_bodies"])
        if hook == "chat.join":
            session, user = req.get("session_id"), req.get("user_id")
            if session == 666:
                return self.answer(500, {"error": "database down"})
            ok = (session == 7 and user == 1) or session == 8
            return self.answer(200 if ok else 403, {})
        content = req.get("content")
        if content == "fail":
            return self.answer(500, {"error": "database down"})
        if content == "deny":
            return self.answer(403, {})
        if content == "noid":
            return self.answer(200, {})
        return self.answer(200, {"id": 5000 + n, "created_at": "2024-01-01 12:00:00"})

    def work(self, req):
        with lock:
            stats["at_once"] += 1
            stats["max_at_once"] = max(stats["max_at_once"], stats["at_once"])
        time.sleep(0.1)
        with lock:
            stats["at_once"] -= 1
        self.answer(200, {"n": req.get("n")})


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # msw hanging up on a too-large answer is expected


server = Server(("127.0.0.1", 0), Handler)
print("port", server.server_address[1], flush=True)
server.serve_forever()
