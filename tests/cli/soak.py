#!/usr/bin/env python3
"""soak.py - the driver of t47-soak.sh (issue 10, acceptance 1).

    soak.py T ARCHIVE RECORDS_JSONL N POLICY SECONDS

Against one archive at once, for SECONDS: `chatledger webhook` receiving
signed posts from a bounded client (one request at a time, each message id
unique; which got HTTP 200 is recorded), `collect` linked to the local
peer (tests/peer/peer.js; paired once at the start), an `ingest` of the N
records, `retain` in a loop with a far-future --now, and `hold add` /
`policy event` in a loop, each with a unique case or event name; every few
seconds a random writer is SIGKILLed and restarted.  Every command runs
under `timeout 300`: exit 124 is a failure (a writer waited too long for
the archive); nothing is timed otherwise.

Then: verify exits 0; every acknowledged item is present exactly once.
Prints "ok N - ..." lines, a summary ("# soak: ...") and
"N passed, N failed".
"""
import hashlib
import hmac
import http.client
import json
import os
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time

# The leaf layout is read by the independent verifier's strict parser
# (tests/verifier/verify.py, FORMAT.md section 3), not by offsets here.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "verifier"))
from verify import parse_leaf  # noqa: E402

CL = os.environ["CHATLEDGER"]
ROOT = os.environ["CL_ROOT"]
T, A, RECORDS, N, POLICY, SECS = sys.argv[1:7]
N = int(N)
SECS = float(SECS)
SECRET = b"soak app secret 0123456789abcdef"
TIMEOUT = ["timeout", "300"]
rng = random.Random(int(os.environ.get("SOAK_SEED", "20261206")))

passed = failed = 0
skipped = [0]
lock = threading.Lock()
hung = []          # commands that ended with 124 (timeout)
kills = {}         # kind -> SIGKILLs landed
stop = threading.Event()


def ok(cond, name, detail=""):
    global passed, failed
    if cond:
        passed += 1
        print("ok %d - %s" % (passed + failed, name))
    else:
        failed += 1
        print("not ok %d - %s" % (passed + failed, name))
        for line in str(detail).splitlines()[-20:]:
            print("#   " + line)
    sys.stdout.flush()
    return cond


def child_of(p):
    """The chatledger process under `timeout` (its only child)."""
    try:
        with open("/proc/%d/task/%d/children" % (p.pid, p.pid)) as f:
            kids = f.read().split()
        return int(kids[0]) if kids else None
    except (OSError, ValueError):
        return None


class Slot:
    """One writer kind: its current process, so the killer can find it."""

    def __init__(self, kind):
        self.kind = kind
        self.p = None
        self.mu = threading.Lock()

    def run(self, args, log, wrap=True):
        """Start and wait; returns the exit status (-9 when killed)."""
        with self.mu:
            out = open(os.path.join(T, log), "ab")
            self.p = subprocess.Popen((TIMEOUT if wrap else []) + [CL] + args,
                                      stdout=out, stderr=out)
        rc = self.p.wait()
        out.close()
        with self.mu:
            self.p = None
        if wrap and rc == 124:
            with lock:
                hung.append(" ".join(args[:2]))
        return rc

    def kill(self):
        with self.mu:
            p = self.p
            if p is None or p.poll() is not None:
                return False
            target = child_of(p) if p.args[0] == "timeout" else p.pid
            if target is None:
                return False
            try:
                os.kill(target, signal.SIGKILL)
            except OSError:
                return False
        with lock:
            kills[self.kind] = kills.get(self.kind, 0) + 1
        return True


# ---- webhook ------------------------------------------------------------

webhook = Slot("webhook")
url = {"port": None}
posted = []        # message ids posted
acked = []         # ... answered 200
lat_max = [0.0]


def body(i):
    return json.dumps({"object": "whatsapp_business_account", "entry": [{
        "id": "1", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "85290000001",
                         "phone_number_id": "1"},
            "contacts": [{"profile": {"name": "A"}, "wa_id": "85291234567"}],
            "messages": [{"from": "85291234567", "id": "wamid.soak-%d" % i,
                          "timestamp": "1700000000", "type": "text",
                          "text": {"body": "soak %d" % i}}]}}]}]},
        separators=(",", ":")).encode()


def post(port, i, timeout=300):
    b = body(i)
    sig = "sha256=" + hmac.new(SECRET, b, hashlib.sha256).hexdigest()
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request("POST", "/webhook", b, {"Content-Type": "application/json",
                                          "X-Hub-Signature-256": sig})
        r = c.getresponse()
        r.read()
        return r.status
    finally:
        c.close()


def webhook_loop():
    n = 0
    while not stop.is_set():
        log = os.path.join(T, "wh-%d.out" % n)
        with webhook.mu:
            out = open(log, "wb")
            err = open(os.path.join(T, "wh.err"), "ab")
            webhook.p = subprocess.Popen(
                [CL, "webhook", "-a", A, "--listen", "127.0.0.1:0",
                 "--app-secret-file", os.path.join(T, "secret"),
                 "--verify-token-file", os.path.join(T, "token"), "--json"],
                stdout=out, stderr=err)
            p = webhook.p
        n += 1
        while p.poll() is None and url["port"] is None:
            m = re.search(rb'"address":"127\.0\.0\.1:(\d+)"', open(log, "rb").read())
            if m:
                url["port"] = int(m.group(1))
            time.sleep(0.02)
        while p.poll() is None and not stop.is_set():
            time.sleep(0.05)
        if stop.is_set() and p.poll() is None:
            p.send_signal(signal.SIGTERM)
        p.wait()
        url["port"] = None
        out.close()
        err.close()


def client_loop():
    i = 0
    while not stop.is_set():
        port = url["port"]
        if port is None:
            time.sleep(0.02)
            continue
        posted.append(i)
        t0 = time.monotonic()
        try:
            st = post(port, i)
        except (OSError, http.client.HTTPException):
            st = None
        lat_max[0] = max(lat_max[0], time.monotonic() - t0)
        if st == 200:
            acked.append(i)
        else:
            time.sleep(0.05)   # the server is down: wait for its restart
        i += 1


# ---- collector ------------------------------------------------------------

collect = Slot("collect")
peer = None


class Peer:
    def __init__(self, cert, key):
        self.events = []
        self.cv = threading.Condition()
        self.err = open(os.path.join(T, "peer.err"), "w")
        self.p = subprocess.Popen(
            ["node", os.path.join(ROOT, "tests", "peer", "peer.js"), "--port", "0",
             "--tls-cert", cert, "--tls-key", key],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.err,
            text=True, bufsize=1)
        threading.Thread(target=self._read, daemon=True).start()
        ev = self.wait("listening", 30)
        if ev is None:
            raise RuntimeError("peer did not start")
        self.port, self.root_pub = ev["port"], ev["root_pub"]

    def _read(self):
        for line in self.p.stdout:
            try:
                ev = json.loads(line)
            except ValueError:
                continue
            with self.cv:
                self.events.append(ev)
                self.cv.notify_all()

    def wait(self, name, timeout):
        end = time.time() + timeout
        with self.cv:
            while True:
                for ev in self.events:
                    if ev.get("ev") == name:
                        return ev
                if time.time() >= end:
                    return None
                self.cv.wait(end - time.time())

    def count(self, name):
        with self.cv:
            return sum(1 for ev in self.events if ev.get("ev") == name)

    def cmd(self, line):
        try:
            self.p.stdin.write(line + "\n")
            self.p.stdin.flush()
        except OSError:
            pass

    def quit(self):
        self.cmd("quit")
        try:
            self.p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()


def pair_collector():
    """Pair once, as collector_test.py does: scan the QR PNG with zbarimg."""
    global peer
    for tool in ("node", "zbarimg", "openssl"):
        if shutil.which(tool) is None:
            return "no " + tool
    if not os.path.isdir(os.path.join(ROOT, "tests", "peer", "node_modules")):
        return "no tests/peer/node_modules"
    cert, key = os.path.join(T, "cert.pem"), os.path.join(T, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key,
                    "-out", cert, "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                   check=True, capture_output=True)
    peer = Peer(cert, key)
    with open(os.path.join(A, "chatledger.conf"), "a") as f:
        f.write("\n[whatsapp]\nurl = wss://127.0.0.1:%d/ws/chat\nca_file = %s\n"
                "root_key = %s\nkeepalive_min_ms = 200\nkeepalive_max_ms = 400\n"
                "keepalive_timeout_ms = 500\nkeepalive_giveup_ms = 1500\n"
                "reconnect_base_ms = 100\nreconnect_max_ms = 400\n"
                % (peer.port, cert, peer.root_pub))
    png = os.path.join(T, "qr.png")
    log = open(os.path.join(T, "pair.log"), "w")
    p = subprocess.Popen(TIMEOUT + [CL, "pair", "-a", A, "--qr-png", png,
                                    "--no-terminal-qr"], stdout=log, stderr=log)
    end = time.time() + 30
    while not os.path.exists(png) and p.poll() is None and time.time() < end:
        time.sleep(0.05)
    time.sleep(0.2)
    r = subprocess.run(["zbarimg", "--raw", "-q", "-Sdisable", "-Sqrcode.enable", png], capture_output=True, text=True)
    if r.returncode == 0 and r.stdout.strip():
        peer.cmd("scan " + r.stdout.strip())
    try:
        rc = p.wait(timeout=90)
    except subprocess.TimeoutExpired:
        p.kill()
        rc = None
    log.close()
    return None if rc == 0 else "pair exit %r" % rc


def collect_loop():
    while not stop.is_set():
        collect.run(["collect", "-a", A], "collect.log", wrap=False)
        time.sleep(0.2)


def peer_drops():
    while not stop.wait(rng.uniform(3, 6)):
        peer.cmd("drop")


# ---- ingest, retain, controls -------------------------------------------------

ingest = Slot("ingest")
retain = Slot("retain")
control = Slot("control")
ingest_done = threading.Event()
ctl = {"hold": [], "event": [], "hold_tried": 0, "event_tried": 0}
retain_runs = [0, 0]   # runs, exit 0


def ingest_loop():
    while not stop.is_set():
        if ingest.run(["ingest", "-a", A, "--format", "jsonl", "--batch", "500",
                       RECORDS], "ingest.log") == 0:
            ingest_done.set()
            return
        time.sleep(0.1)


def retain_loop():
    while not stop.is_set():
        rc = retain.run(["retain", "-a", A, "--policy", POLICY, "--now", "2100-01-01"],
                        "retain.log")
        retain_runs[0] += 1
        retain_runs[1] += rc == 0
        stop.wait(0.5)


def control_loop():
    i = 0
    while not stop.is_set():
        if i % 2 == 0:
            case = "SOAK-%d" % i
            ctl["hold_tried"] += 1
            if control.run(["hold", "add", "-a", A, "--case", case, "--reason", "soak",
                            "--participant", "852988%05d@s.whatsapp.net" % i,
                            "--allow-empty"],
                           "control.log") == 0:
                ctl["hold"].append(case)
        else:
            ev = "soak-ev-%d" % i
            ctl["event_tried"] += 1
            if control.run(["policy", "event", "-a", A, "--subject",
                            "85290000001@s.whatsapp.net", "--event", ev,
                            "--at", "2025-01-01", "--allow-empty"], "control.log") == 0:
                ctl["event"].append(ev)
        i += 1
        stop.wait(rng.uniform(0.05, 0.3))


def killer():
    slots = [ingest, retain, control, webhook] + ([collect] if peer else [])
    # The first kill lands early, in the ingest while it runs.
    if not stop.wait(rng.uniform(0.3, 1.0)):
        ingest.kill()
    while not stop.wait(rng.uniform(1.5, 4.0)):
        order = slots[:]
        rng.shuffle(order)
        for s in order:
            if s.kill():
                break


def cl(*args, timeout=300):
    r = subprocess.run(TIMEOUT[:1] + [str(timeout)] + [CL] + list(args),
                       capture_output=True, text=True)
    if r.returncode == 124:
        hung.append(" ".join(args[:2]))
    return r


def status():
    return json.loads(cl("status", "-a", A, "--json").stdout)


def public_bodies(kind):
    """Public bodies of the entries of one kind, from a copy of the files."""
    d = os.path.join(T, "copy")
    shutil.rmtree(d, ignore_errors=True)
    os.mkdir(d)
    for f in os.listdir(A):
        if f.startswith("ledger.db"):
            shutil.copy(os.path.join(A, f), d)
    db = sqlite3.connect(os.path.join(d, "ledger.db"))
    out = []
    for (idx, leaf) in db.execute("SELECT idx, leaf FROM entry ORDER BY idx"):
        lf = parse_leaf(bytes(leaf), "entry %d" % idx)
        if lf.kind == kind:
            out.append(json.loads(lf.body))
    db.close()
    shutil.rmtree(d, ignore_errors=True)
    return out


def main():
    why = pair_collector()
    if why is None:
        ok(True, "collector paired with the local peer")
    else:
        print("skip - collect in the soak # SKIP %s" % why)
        skipped[0] += 1
    threads = [threading.Thread(target=f, daemon=True) for f in
               (webhook_loop, client_loop, ingest_loop, retain_loop, control_loop, killer)
               + ((collect_loop, peer_drops) if peer else ())]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    stop.wait(SECS)
    # Wind down: no more kills, posts or controls; let the others end.
    stop.set()
    if peer:
        with collect.mu:
            if collect.p is not None:
                collect.p.send_signal(signal.SIGTERM)
    for t in threads:
        t.join(timeout=320)
    elapsed = time.monotonic() - t0
    if peer:
        peer.quit()
    # The ingest runs to its end, the retention once more (nothing killed).
    if not ingest_done.is_set():
        r = cl("ingest", "-a", A, "--format", "jsonl", "--batch", "500", RECORDS)
        ok(r.returncode == 0, "the interrupted ingest, re-run, completes", r.stderr)
    r = cl("retain", "-a", A, "--policy", POLICY, "--now", "2100-01-01", "--json")
    ok(r.returncode == 0, "a last retain completes", r.stderr)
    r = cl("verify", "-a", A)
    ok(r.returncode == 0, "verify exits 0 after the soak", r.stdout + r.stderr)

    # Records: the whole file again stores nothing.
    r = cl("ingest", "-a", A, "--format", "jsonl", RECORDS)
    ok(r.returncode == 0 and ("0 ingested, %d duplicates skipped" % N) in r.stdout + r.stderr,
       "re-ingesting the file stores nothing new (%d records present)" % N,
       r.stdout + r.stderr)
    # Posts: the acknowledged ones again store nothing; then the rest are
    # delivered, after which records == N + distinct ids posted.
    rec0 = status()["records"]
    log = open(os.path.join(T, "wh-final.out"), "wb")
    p = subprocess.Popen([CL, "webhook", "-a", A, "--listen", "127.0.0.1:0",
                          "--app-secret-file", os.path.join(T, "secret"),
                          "--verify-token-file", os.path.join(T, "token"), "--json"],
                         stdout=log, stderr=subprocess.DEVNULL)
    port = None
    for _ in range(400):
        m = re.search(rb'"address":"127\.0\.0\.1:(\d+)"',
                      open(os.path.join(T, "wh-final.out"), "rb").read())
        if m:
            port = int(m.group(1))
            break
        time.sleep(0.05)
    bad = [i for i in acked if post(port, i, 60) != 200]
    rec1 = status()["records"]
    ok(not bad and rec1 == rec0,
       "all %d acknowledged posts were stored (re-delivery adds nothing)" % len(acked),
       "bad=%r records %d -> %d" % (bad[:10], rec0, rec1))
    ackset = set(acked)
    rest = [i for i in posted if i not in ackset]
    bad = [i for i in rest if post(port, i, 60) != 200]
    p.send_signal(signal.SIGTERM)
    p.wait()
    log.close()
    rec2 = status()["records"]
    ok(not bad and rec2 == N + len(posted),
       "each record and post exactly once: %d records = %d ingested + %d posted"
       % (rec2, N, len(posted)), "bad=%r" % bad[:10])
    # Controls: each acknowledged hold and event exactly once.
    holds = [b["case"] for b in public_bodies("hold")]
    events = [b["event"] for b in public_bodies("lifecycle-event")]
    dup_h = [c for c in set(holds) if holds.count(c) > 1]
    dup_e = [e for e in set(events) if events.count(e) > 1]
    miss_h = sorted(set(ctl["hold"]) - set(holds))
    miss_e = sorted(set(ctl["event"]) - set(events))
    ok(not dup_h and not miss_h,
       "each acknowledged hold present exactly once (%d of %d tried; %d stored)"
       % (len(ctl["hold"]), ctl["hold_tried"], len(holds)),
       "missing %r duplicated %r" % (miss_h[:10], dup_h[:10]))
    ok(not dup_e and not miss_e,
       "each acknowledged event present exactly once (%d of %d tried; %d stored)"
       % (len(ctl["event"]), ctl["event_tried"], len(events)),
       "missing %r duplicated %r" % (miss_e[:10], dup_e[:10]))
    st = status()
    reports = public_bodies("retention-report")
    ok(st["control"] == len(holds) + len(events) + len(reports),
       "control entries = holds + events + retention reports (%d = %d + %d + %d)"
       % (st["control"], len(holds), len(events), len(reports)), json.dumps(st))
    ok(st["tombstones"] == (N + 3) // 4,
       "retention erased exactly the labelled quarter (%d tombstones)" % st["tombstones"],
       json.dumps(st))
    if peer:
        ok(st["coverage"] > 0, "the collector wrote coverage entries (%d)" % st["coverage"])
    ok(not hung, "no command waited 300 s (exit 124)", "\n".join(hung))
    ok(retain_runs[1] > 0, "retain completed during the soak (%d of %d runs)"
       % (retain_runs[1], retain_runs[0]))
    ok(sum(kills.values()) > 0, "writers were killed (%d)" % sum(kills.values()))
    r = cl("verify", "-a", A)
    ok(r.returncode == 0, "verify exits 0 at the end", r.stdout + r.stderr)
    print("# soak: %.0f s; SIGKILLs %d (%s); posts %d acknowledged of %d; "
          "records %d (%d ingested); holds %d acknowledged (%d stored), events %d "
          "acknowledged (%d stored); retain runs %d (%d completed); coverage %d; "
          "tombstones %d; longest post %.2f s"
          % (elapsed, sum(kills.values()),
             ", ".join("%s %d" % kv for kv in sorted(kills.items())),
             len(acked), len(posted), st["records"], N, len(ctl["hold"]), len(holds),
             len(ctl["event"]), len(events), retain_runs[0], retain_runs[1],
             st["coverage"], st["tombstones"], lat_max[0]))
    finish()


def finish():
    if skipped[0]:
        print("%d skipped" % skipped[0])
    print("%d passed, %d failed" % (passed, failed))
    sys.stdout.flush()
    os._exit(1 if failed else 0)


try:
    main()
except Exception as e:  # a driver error is a failure, and ends the children
    stop.set()
    ok(False, "soak driver ran to the end", repr(e))
    for s in (webhook, collect, ingest, retain, control):
        s.kill()
    if peer:
        peer.p.kill()
    finish()
