#!/usr/bin/env python3
"""tests/cli/webhook_hostile.py - hostile clients for t74-webhook-hostile.sh.

Every mode prints "key=value" lines for the shell test to check, and
never asserts timings beyond generous bounds: a hang fails through socket
timeouts.

  siege PORT SECRET N POSTS HEADER_TIMEOUT
      Hold N slow-header connections (a request line, then one header
      byte every 0.5 s, never the blank line; a closed one is reopened)
      while POSTS signed bodies are posted one after the other, each with
      a 20 s socket timeout.  Then stop reopening, keep trickling, and
      wait for the server to close every slow connection.
  peraddr PORT SECRET LIMIT
      Hold LIMIT idle connections from 127.0.0.1; one more must be closed
      by the server at once; a signed post after the header deadline
      must be answered 200.
  hold PORT N CLEN SIG
      Open N connections announcing Content-Length CLEN with signature
      header SIG ("-" for none), send 64 KiB of body each, print "held",
      wait for a line on stdin, close them.
"""
import errno
import hashlib
import hmac
import json
import selectors
import socket
import sys
import time


def body(tag, i):
    b = {"object": "whatsapp_business_account", "entry": [{"id": "880480571844883",
         "changes": [{"field": "messages", "value": {"messaging_product": "whatsapp",
                      "metadata": {"display_phone_number": "85230000000",
                                   "phone_number_id": "409552778964973"},
                      "messages": [{"from": "85290000001", "id": "wamid.%s%06d" % (tag, i),
                                    "timestamp": str(1700000000 + i), "type": "text",
                                    "text": {"body": "siege message %d" % i}}]}}]}]}
    return json.dumps(b, separators=(",", ":")).encode()


def post(port, secret, data, timeout=20.0):
    """POST `data` signed; returns the HTTP status, or 0 on a timeout or error."""
    sig = hmac.new(secret, data, hashlib.sha256).hexdigest()
    req = (b"POST /webhook HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
           b"Content-Type: application/json\r\nX-Hub-Signature-256: sha256=" +
           sig.encode() + b"\r\nContent-Length: " + str(len(data)).encode() +
           b"\r\n\r\n" + data)
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        s.settimeout(timeout)
        s.sendall(req)
        got = b""
        while b"\r\n" not in got:
            chunk = s.recv(4096)
            if not chunk:
                break
            got += chunk
        s.close()
        parts = got.split(b" ", 2)
        return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
    except OSError:
        return 0


class Slow:
    """Slow-header connections: a request line, then a header trickled a
    byte at a time, never finished."""

    def __init__(self, port):
        self.port = port
        self.sel = selectors.DefaultSelector()
        self.socks = {}        # socket -> opened at
        self.started = set()   # those that sent their request line
        self.opened = 0
        self.closed_by_server = 0
        self.failed_connects = 0
        self.longest = 0.0

    def open(self):
        try:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            s.connect_ex(("127.0.0.1", self.port))
        except OSError:
            self.failed_connects += 1
            return
        self.socks[s] = time.time()
        self.sel.register(s, selectors.EVENT_READ)
        self.opened += 1

    def drop(self, s, by_server):
        life = time.time() - self.socks.pop(s)
        self.started.discard(s)
        self.sel.unregister(s)
        s.close()
        if by_server:
            self.closed_by_server += 1
            self.longest = max(self.longest, life)

    def poll(self):
        """Reap the connections the server closed (EOF or reset)."""
        for key, _ in self.sel.select(timeout=0):
            s = key.fileobj
            try:
                data = s.recv(4096)
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            if not data:
                self.drop(s, True)

    def trickle(self):
        """One more byte on every connection (the request line first)."""
        for s in list(self.socks):
            try:
                if s in self.started:
                    s.send(b"x")
                else:
                    s.send(b"POST /webhook HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
                    self.started.add(s)
            except OSError as e:
                if e.errno not in (errno.EAGAIN, errno.ENOTCONN, errno.EINPROGRESS):
                    self.drop(s, True)


def siege(port, secret, n, posts, header_timeout):
    sl = Slow(port)
    for _ in range(n):
        sl.open()
    time.sleep(0.5)
    sl.poll()
    held_min = len(sl.socks)
    ok = 0
    statuses = []
    last_trickle = 0.0
    for i in range(posts):
        # Keep the siege at N: reopen what the server closed, trickle.
        sl.poll()
        while len(sl.socks) < n:
            sl.open()
        if time.time() - last_trickle >= 0.5:
            sl.trickle()
            last_trickle = time.time()
        held_min = min(held_min, len(sl.socks))
        st = post(port, secret, body("SIEGE", i))
        statuses.append(st)
        ok += st == 200
    # No more reopening: every remaining slow connection must be closed by
    # the server (the header deadline), though it keeps trickling.
    left = len(sl.socks)
    end = time.time() + header_timeout + 15
    while sl.socks and time.time() < end:
        sl.poll()
        if time.time() - last_trickle >= 0.5:
            sl.trickle()
            last_trickle = time.time()
        time.sleep(0.05)
    print("held=%d" % n)
    print("held_min_during_posts=%d" % held_min)
    print("opened_total=%d" % sl.opened)
    print("failed_connects=%d" % sl.failed_connects)
    print("posts=%d" % posts)
    print("posts_200=%d" % ok)
    print("statuses=%s" % ",".join(str(x) for x in statuses))
    print("left_after_posts=%d" % left)
    print("still_open=%d" % len(sl.socks))
    print("closed_by_server=%d" % sl.closed_by_server)
    print("longest_slow_s=%.1f" % sl.longest)


def peraddr(port, secret, limit):
    sl = Slow(port)
    for _ in range(limit):
        sl.open()
    sl.trickle()
    time.sleep(0.5)
    sl.poll()
    print("held=%d" % len(sl.socks))
    # One more: over the limit, closed at once without an answer.
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.settimeout(5)
    t = time.time()
    try:
        s.sendall(b"GET /webhook HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        extra = s.recv(4096)
    except socket.timeout:
        extra = None
    except OSError:
        extra = b""
    s.close()
    print("extra_closed=%d" % (extra == b""))
    print("extra_s=%.1f" % (time.time() - t))
    # The held ones are cut at the header deadline; then posts get through.
    end = time.time() + 30
    while sl.socks and time.time() < end:
        sl.poll()
        time.sleep(0.05)
    print("still_open=%d" % len(sl.socks))
    print("post_after=%d" % post(port, secret, body("PERADDR", 0)))


def hold(port, n, clen, sig):
    socks = []
    head = "POST /webhook HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: %d\r\n" % clen
    if sig != "-":
        head += "X-Hub-Signature-256: %s\r\n" % sig
    head = (head + "\r\n").encode()
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.sendall(head + b"{" * 65536)
        socks.append(s)
    print("held", flush=True)
    sys.stdin.readline()
    for s in socks:
        s.close()


def main():
    mode, port = sys.argv[1], int(sys.argv[2])
    if mode == "siege":
        siege(port, sys.argv[3].encode(), int(sys.argv[4]), int(sys.argv[5]),
              float(sys.argv[6]))
    elif mode == "peraddr":
        peraddr(port, sys.argv[3].encode(), int(sys.argv[4]))
    elif mode == "hold":
        hold(port, int(sys.argv[3]), int(sys.argv[4]), sys.argv[5])
    else:
        sys.exit("unknown mode " + mode)


if __name__ == "__main__":
    main()
