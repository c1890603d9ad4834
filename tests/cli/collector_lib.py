"""collector_lib.py - the harness shared by the collector tests
(collector_test.py, collector_msgs_test.py) and bench/collector_bench.py:
the TAP counters, the local WhatsApp peer (tests/peer/peer.js) driven
over its stdin and stdout, archive set-up, pairing, and the readers of
coverage entries and `status --json`.

Import with `from collector_lib import *` after setting, if wanted,
CL_COLLECTOR_PREFIX (the scratch directory's prefix) or BENCH_SCRATCH (a
scratch directory to use as is).
"""
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time

# The leaf layout is read by the independent verifier's strict parser
# (tests/verifier/verify.py, FORMAT.md section 3), not by offsets here.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "verifier"))
from verify import parse_leaf  # noqa: E402,F401

CHATLEDGER = os.environ["CHATLEDGER"]
ROOT = os.environ.get("CL_ROOT") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
PEER = os.path.join(ROOT, "tests", "peer", "peer.js")
T = os.environ.get("BENCH_SCRATCH") or tempfile.mkdtemp(
    prefix=os.environ.get("CL_COLLECTOR_PREFIX", "chatledger-collector."))
passed = 0
failed = 0
children = []


def ok(cond, name, detail=""):
    global passed, failed
    if cond:
        passed += 1
        print("ok %d - %s" % (passed + failed, name))
    else:
        failed += 1
        print("not ok %d - %s" % (passed + failed, name))
        for line in str(detail).splitlines()[-25:]:
            print("#   " + line)
    sys.stdout.flush()
    return cond


def finish():
    for p in children:
        if p.poll() is None:
            p.kill()
            p.wait()
    shutil.rmtree(T, ignore_errors=True)
    print("%d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed else 0)


class Peer:
    """The node peer, its commands and its events."""

    def __init__(self, name, *args):
        self.events = []
        self.cv = threading.Condition()
        self.errlog = open(os.path.join(T, "peer-%s.err" % name), "w")
        self.p = subprocess.Popen(
            ["node", PEER, "--port", "0", "--tls-cert", CERT, "--tls-key",
             KEY] + list(args),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=self.errlog, text=True, bufsize=1)
        children.append(self.p)
        threading.Thread(target=self._read, daemon=True).start()
        ev = self.wait("listening", timeout=30)
        if ev is None:
            raise RuntimeError("peer did not start: " + self.stderr())
        self.port = ev["port"]
        self.root_pub = ev["root_pub"]

    def _read(self):
        for line in self.p.stdout:
            try:
                ev = json.loads(line)
            except ValueError:
                continue
            with self.cv:
                self.events.append(ev)
                self.cv.notify_all()

    def mark(self):
        with self.cv:
            return len(self.events)

    def wait(self, name, after=0, timeout=20, pred=None):
        """The first event `name` at or after index `after` (matching pred)."""
        end = time.time() + timeout
        with self.cv:
            while True:
                for ev in self.events[after:]:
                    if ev.get("ev") == name and (pred is None or pred(ev)):
                        return ev
                left = end - time.time()
                if left <= 0:
                    return None
                self.cv.wait(left)

    def count(self, name, after=0):
        with self.cv:
            return sum(1 for ev in self.events[after:] if ev.get("ev") == name)

    def cmd(self, line):
        self.p.stdin.write(line + "\n")
        self.p.stdin.flush()

    def stderr(self):
        self.errlog.flush()
        with open(self.errlog.name) as f:
            return f.read()

    def stop(self):
        if self.p.poll() is None:
            try:
                self.cmd("quit")
                self.p.wait(timeout=5)
            except Exception:
                self.p.kill()
                self.p.wait()


def run(*args, **kw):
    return subprocess.run([CHATLEDGER] + list(args), capture_output=True,
                          text=True, timeout=kw.get("timeout", 60))


def start(args, name, env=None):
    """Start chatledger ARGS in the background, its output in T/NAME.log;
    env: variables to set for it on top of ours."""
    log = open(os.path.join(T, name + ".log"), "w")
    penv = None
    if env:
        penv = dict(os.environ)
        penv.update(env)
    p = subprocess.Popen([CHATLEDGER] + args, stdout=log, stderr=log,
                         text=True, env=penv)
    children.append(p)
    p.logname = log.name
    return p


def log_of(p):
    with open(p.logname) as f:
        return f.read()


def wait_for(cond, timeout=20):
    end = time.time() + timeout
    while time.time() < end:
        if cond():
            return True
        time.sleep(0.05)
    return cond()


def new_archive(name, peer, extra=""):
    d = os.path.join(T, name)
    r = run("init", "-a", d, "--origin", "example.com/chatledger/collector",
            "--passphrase-file", PASS, "--kdf", "interactive")
    if r.returncode != 0:
        raise RuntimeError("init failed: " + r.stderr)
    with open(os.path.join(d, "chatledger.conf"), "a") as f:
        f.write("\n[whatsapp]\n"
                "url = wss://127.0.0.1:%d/ws/chat\n"
                "ca_file = %s\n"
                "root_key = %s\n"
                "keepalive_min_ms = 200\n"
                "keepalive_max_ms = 400\n"
                "keepalive_timeout_ms = 500\n"
                "keepalive_giveup_ms = 1500\n"
                "reconnect_base_ms = 100\n"
                "reconnect_max_ms = 400\n%s"
                % (peer.port, CERT, peer.root_pub, extra))
    return d


def coverage(d):
    """The coverage entries' kinds and public bodies, in order, read from
    the leaves as docs/FORMAT.md section 3 lays them out (no key needed)."""
    db = sqlite3.connect(os.path.join(d, "ledger.db"))
    try:
        rows = db.execute(
            "SELECT idx, leaf FROM entry WHERE type = 3 ORDER BY idx"
        ).fetchall()
    finally:
        db.close()
    out = []
    for idx, leaf in rows:
        lf = parse_leaf(bytes(leaf), "entry %d" % idx)
        try:
            out.append((lf.kind, json.loads(lf.body) if lf.body else {}))
        except ValueError:
            out.append((lf.kind, {"unparsed": lf.body.hex()}))
    return out


def kinds(d):
    return [k for k, _ in coverage(d)]


def status(d):
    r = run("status", "-a", d, "--json")
    try:
        return json.loads(r.stdout).get("whatsapp") or {}
    except ValueError:
        return {}


def zbar(png):
    r = subprocess.run(["zbarimg", "--raw", "-q", "-Sdisable", "-Sqrcode.enable", png], capture_output=True,
                       text=True)
    return r.stdout.strip() if r.returncode == 0 else None


def pair(d, peer, expect_scan=True):
    """Run `chatledger pair`; scan the first QR from its PNG.  Returns the
    process (still running or finished) and the QR string read."""
    png = os.path.join(T, os.path.basename(d) + "-qr.png")
    m = peer.mark()
    p = start(["pair", "-a", d, "--qr-png", png, "--no-terminal-qr"],
              os.path.basename(d) + "-pair")
    qr = None
    if expect_scan:
        if wait_for(lambda: os.path.exists(png) or p.poll() is not None,
                    30) and p.poll() is None:
            time.sleep(0.2)
            qr = zbar(png)
            if qr:
                peer.cmd("scan " + qr)
    return p, qr, png, m


for tool in ("node", "openssl", "zbarimg"):
    if shutil.which(tool) is None:
        ok(False, "%s is installed (needed by this test)" % tool)
        finish()
if not os.path.isdir(os.path.join(ROOT, "tests", "peer", "node_modules")):
    ok(False, "tests/peer/node_modules present (run npm ci in tests/peer)")
    finish()

PASS = os.path.join(T, "pass")
with open(PASS, "w") as f:
    f.write("test passphrase\n")
CERT = os.path.join(T, "cert.pem")
KEY = os.path.join(T, "key.pem")
subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", KEY,
                "-out", CERT, "-days", "2", "-subj", "/CN=127.0.0.1",
                "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
               check=True, capture_output=True)
