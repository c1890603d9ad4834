#!/usr/bin/env python3
"""collector_msgs_test.py - the collector receives, decrypts and archives
messages from the local peer (tests/peer/peer.js + sender.js), which
encrypts with libsignal as real senders do (issue 13).

The peer is WhatsApp's server and the business's phone.  It is driven by
commands on its stdin and reports what it saw as JSON lines on stdout; the
collector is driven through its command line and observed through its exit
status, its log, `chatledger status --json`, the coverage entries it wrote
and the files in DIR/wa.

Prints "ok N - name" / "not ok N - name" and ends with "N passed, N failed".
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
from verify import parse_leaf  # noqa: E402

CHATLEDGER = os.environ["CHATLEDGER"]
ROOT = os.environ.get("CL_ROOT") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
PEER = os.path.join(ROOT, "tests", "peer", "peer.js")
T = tempfile.mkdtemp(prefix="chatledger-collector-msgs.")
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


def start(args, name):
    log = open(os.path.join(T, name + ".log"), "w")
    p = subprocess.Popen([CHATLEDGER] + args, stdout=log, stderr=log,
                         text=True)
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
    r = subprocess.run(["zbarimg", "--raw", "-q", png], capture_output=True,
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


SHORT = os.environ.get("CL_LONG") is None
N_A = 240 if SHORT else 1200   # first scripted run
N_B = 240 if SHORT else 1200   # the run the collector is killed in


def records(d):
    """index -> record, from `search --json` (decrypted with the passphrase)."""
    r = run("search", "-a", d, "--passphrase-file", PASS, "--json",
            "--from", "1970-01-01T00:00:00Z", timeout=120)
    out = {}
    for line in r.stdout.splitlines():
        try:
            j = json.loads(line)
        except ValueError:
            continue
        if isinstance(j, dict) and "record" in j:
            out[j["index"]] = j["record"]
    return out, r


def wa_records(d):
    recs, r = records(d)
    return [x for x in recs.values() if x.get("source") == "whatsapp-md"], r


def sent(peer):
    with peer.cv:
        return [e for e in peer.events if e.get("ev") == "sent"]


def receipted(peer):
    with peer.cv:
        return {e["id"] for e in peer.events if e.get("ev") == "receipt"}


def all_receipted(peer, timeout):
    return wait_for(lambda: {e["id"] for e in sent(peer)} <= receipted(peer),
                    timeout)


try:
    peer = Peer("msgs")
    A = new_archive("a", peer)
    p, qr, png, m0 = pair(A, peer)
    try:
        rc = p.wait(timeout=60)
    except subprocess.TimeoutExpired:
        rc = None
    ok(rc == 0, "paired with the peer", log_of(p))
    m1 = peer.mark()
    col = start(["collect", "-a", A], "collect1")
    ok(peer.wait("login-ok", after=m1, timeout=20) is not None,
       "collect logs in", log_of(col))

    # ---- 1:1 pkmsg then msg ----------------------------------------------
    peer.cmd('send {"id":"T1","from":"85290000001:0@s.whatsapp.net","chat":"85290000001@s.whatsapp.net","kind":"text","text":"hello pkmsg alpha","notify":"Alice","lid":"77000000001@lid"}')
    peer.cmd('send {"id":"T2","from":"85290000001:0@s.whatsapp.net","chat":"85290000001@s.whatsapp.net","kind":"text","text":"second msg bravo"}')
    r1 = peer.wait("receipt", pred=lambda e: e["id"] == "T1", timeout=20)
    r2 = peer.wait("receipt", pred=lambda e: e["id"] == "T2", timeout=20)
    ok(r1 is not None and r1.get("type") == "inactive",
       "pkmsg decrypted, archived, then an inactive delivery receipt",
       json.dumps(r1) + log_of(col))
    ok(r2 is not None, "msg on the same session decrypted and receipted")
    recs, _ = wa_records(A)
    t1 = [x for x in recs if x.get("id") == "T1"]
    ok(t1 and t1[0].get("text") == "hello pkmsg alpha" and
       t1[0]["sender"].get("device") == "85290000001:0" and
       t1[0].get("direction") == "in" and
       t1[0]["sender"].get("lid") == "77000000001@lid" and
       set(t1[0].get("identifiers", [])) ==
       {"85290000001@s.whatsapp.net", "77000000001@lid"} and
       t1[0].get("raw") and t1[0].get("wa", {}).get("stanza", {}).get("id") == "T1",
       "record: text, sender device, phone JID and LID, raw and stanza kept",
       json.dumps(t1))
    r = run("search", "-a", A, "--passphrase-file", PASS, "--text", "bravo",
            "--json")
    ok(r.returncode == 0 and '"T2"' in r.stdout and '"T1"' not in r.stdout,
       "search --text finds the decrypted message", r.stdout + r.stderr)
    st = os.stat(os.path.join(A, "ledger.db"))
    db = sqlite3.connect(os.path.join(A, "ledger.db"))
    rows = db.execute("SELECT kind, value FROM wa_signal").fetchall()
    db.close()
    ok(any(k == "session" for k, _ in rows) and
       not any(b"85290000001" in bytes(v) for _, v in rows),
       "Signal sessions stored sealed in the wa_signal side table",
       [k for k, _ in rows])

    # ---- a scripted run: every kind, 1:1 and groups, own devices ------------
    peer.cmd("script %d a" % N_A)
    ok(peer.wait("script-done", timeout=120) is not None, "script A sent")
    ok(all_receipted(peer, 120), "script A: every message receipted",
       log_of(col)[-3000:])

    # ---- SIGKILL mid-stream --------------------------------------------------
    mk = peer.mark()
    peer.cmd("script %d b" % N_B)
    wait_for(lambda: peer.count("receipt", mk) >= 10, 60)
    col.kill()
    col.wait()
    got_before_kill = receipted(peer)
    recs, _ = wa_records(A)
    ids_in_ledger = {x["id"] for x in recs}
    ok(got_before_kill <= ids_in_ledger,
       "every message receipted before the SIGKILL is in the ledger "
       "(receipt only after commit)",
       sorted(got_before_kill - ids_in_ledger)[:10])
    peer.wait("script-done", after=mk, timeout=120)
    pend = peer.mark()
    peer.cmd("pending")
    pe = peer.wait("pending", after=pend, timeout=10)
    ok(pe is not None and pe["count"] > 0,
       "messages left unreceipted by the killed collector", json.dumps(pe))
    m2 = peer.mark()
    ALERTS = os.path.join(T, "alerts.jsonl")
    col = start(["collect", "-a", A, "--alert-command", "cat >> '%s'" % ALERTS],
                "collect2")
    rd = peer.wait("redelivered", after=m2, timeout=30)
    ok(rd is not None and rd["count"] > 0,
       "restarted: the peer re-delivers the unreceipted messages (offline)",
       json.dumps(rd))
    ok(all_receipted(peer, 120), "after the restart every message is receipted",
       log_of(col)[-3000:])

    # ---- offline replay with duplicates ---------------------------------------
    n_before = len(wa_records(A)[0])
    m3 = peer.mark()
    peer.cmd("replay-dups 25")
    rp = peer.wait("replayed", after=m3, timeout=10)
    ok(rp is not None and rp["count"] == 25, "25 duplicates replayed")
    ok(wait_for(lambda: sum(1 for e in peer.events[m3:]
                            if e.get("ev") == "receipt" and e.get("again")) >= 25, 30),
       "duplicates receipted again")
    ok(len(wa_records(A)[0]) == n_before, "duplicates add no record")

    # ---- bad MAC, then missing sender key ---------------------------------
    m4 = peer.mark()
    peer.cmd('send {"id":"BADMAC1","from":"85290000001:0@s.whatsapp.net","chat":"85290000001@s.whatsapp.net","kind":"text","text":"after a bad mac charlie","badMac":true}')
    rr = peer.wait("retry-receipt", after=m4, timeout=20,
                   pred=lambda e: e["id"] == "BADMAC1")
    ok(rr is not None and rr["count"] == 1 and rr["has_registration"],
       "bad MAC: retry receipt (count 1, registration id)", json.dumps(rr))
    ok(peer.wait("receipt", after=m4, timeout=20,
                 pred=lambda e: e["id"] == "BADMAC1") is not None,
       "bad MAC: the re-sent message is archived and receipted")
    peer.cmd('send {"id":"NOSKEY1","from":"85290000009:0@s.whatsapp.net","chat":"120363000000000009@g.us","kind":"text","text":"no sender key delta","missingKey":true}')
    rr = peer.wait("retry-receipt", after=m4, timeout=20,
                   pred=lambda e: e["id"] == "NOSKEY1")
    ok(rr is not None, "missing sender key: retry receipt", log_of(col)[-2000:])
    ok(peer.wait("receipt", after=m4, timeout=20,
                 pred=lambda e: e["id"] == "NOSKEY1") is not None,
       "missing sender key: re-sent with the key, archived")
    cov = coverage(A)
    fails = [b for k, b in cov if k == "wa-decrypt-failed"]
    recovered = [b for k, b in cov if k == "wa-decrypt-recovered"]
    ok({b.get("stanza_id") for b in fails} >= {"BADMAC1", "NOSKEY1"} and
       any(b.get("error") in ("bad-mac", "bad-message") for b in fails) and
       any(b.get("error") == "no-session" for b in fails),
       "coverage: wa-decrypt-failed for both, with the error", json.dumps(fails))
    ok({b.get("stanza_id") for b in recovered} >= {"BADMAC1", "NOSKEY1"},
       "coverage: both closed by wa-decrypt-recovered", json.dumps(recovered))

    # ---- the whole run against the peer's log -------------------------------
    recs, sr = wa_records(A)
    by_id = {}
    for x in recs:
        by_id.setdefault(x["id"], []).append(x)
    s_all = sent(peer)
    missing = [e["id"] for e in s_all if e["id"] not in by_id]
    dups = [i for i, v in by_id.items() if len(v) != 1]
    ok(len(s_all) >= N_A + N_B and not missing and not dups and
       len(by_id) == len(s_all),
       "every one of %d sent messages is in the ledger exactly once" % len(s_all),
       "missing %s dups %s" % (missing[:10], dups[:10]))
    wrong = []
    kinds_seen = set()
    for e in s_all:
        x = (by_id.get(e["id"]) or [None])[0]
        if x is None:
            continue
        kinds_seen.add(x.get("kind"))
        user, dev = e["from"].split("@")[0].split(":")
        own = user == "85291234567"
        want_kind = {"reply": "text", "ephemeral": "text"}.get(e["kind"], e["kind"])
        if x["sender"].get("device") != "%s:%s" % (user, dev) or \
           x.get("direction") != ("out" if own else "in") or \
           x.get("kind") != want_kind or \
           (e["kind"] in ("text", "reply", "edit", "ephemeral", "poll", "contact", "location")
                and x.get("text") != e["text"]) or \
           (e.get("target") and x.get("target", x.get("reply_to")) != e["target"]) or \
           (x["conversation"]["id"] != e["chat"]):
            wrong.append((e, x))
    ok(not wrong, "sender device, direction, kind, text, target and chat right "
       "for every message", json.dumps(wrong[:2]))
    ok({"text", "reaction", "edit", "revoke", "location", "contact", "poll",
        "image"} <= kinds_seen, "every kind archived", sorted(kinds_seen))
    outs = [x for x in recs if x["direction"] == "out"]
    ok(outs and {x["sender"]["device"] for x in outs} ==
       {"85291234567:0", "85291234567:3"},
       "outgoing: our phone (device 0) and the other companion (device 3) told apart",
       sorted({x["sender"]["device"] for x in outs}))
    ed = [x for x in recs if x["kind"] == "edit"]
    ok(ed and all(x.get("target") in by_id for x in ed),
       "edits: both the original and the edit are in the ledger")
    rv = [x for x in recs if x["kind"] == "revoke"]
    ok(rv and all(x.get("target") in by_id for x in rv),
       "revokes: the revoke is its own entry and the original stays")
    if ed:
        word = ed[0]["text"].split()[-1]
        r = run("search", "-a", A, "--passphrase-file", PASS, "--text", word,
                "--json")
        ok(r.returncode == 0 and ed[0]["id"] in r.stdout,
           "search --text finds an edit's new text", r.stdout[-500:])
    # ---- the number's devices ---------------------------------------------
    def devs():
        return sorted(d["device"] for d in (status(A).get("devices") or []))
    ok(wait_for(lambda: devs() == ["85291234567:0", "85291234567:7"], 10),
       "status lists the number's devices (phone and this collector)", devs())
    base = [b for k, b in coverage(A) if k == "wa-device-added"]
    ok(len(base) == 2 and all(b.get("baseline") and not b.get("alert")
                              for b in base),
       "first device list: baseline entries, no alert", json.dumps(base))
    peer.cmd("link-device 5")
    ok(wait_for(lambda: "85291234567:5" in devs(), 10),
       "a companion linked by the peer appears in status", devs())
    added = [b for k, b in coverage(A) if k == "wa-device-added"
             and b.get("device") == "85291234567:5"]
    ok(added and added[0].get("alert") is True,
       "wa-device-added entry with alert:true", json.dumps(added))
    ok(wait_for(lambda: os.path.exists(ALERTS) and
                "wa-unknown-device" in open(ALERTS).read(), 10),
       "the alert command ran with the alert JSON on stdin")
    peer.cmd("unlink-device 5")
    ok(wait_for(lambda: "85291234567:5" not in devs(), 10),
       "the unlinked companion disappears from status", devs())
    ok(any(k == "wa-device-removed" and b.get("device") == "85291234567:5"
           for k, b in coverage(A)), "wa-device-removed entry")
    lines = [json.loads(x) for x in open(ALERTS).read().splitlines() if x]
    ok(sum(1 for x in lines if x.get("alert") == "wa-unknown-device") == 1,
       "the alert command ran once for the unknown device", lines)
    col.send_signal(signal.SIGTERM)
    try:
        col.wait(timeout=20)
    except subprocess.TimeoutExpired:
        col.kill()
    r = run("verify", "-a", A, timeout=120)
    ok(r.returncode == 0, "verify exits 0", r.stdout + r.stderr)
    peer.stop()
except Exception as e:  # a harness failure is a test failure
    import traceback
    ok(False, "harness: %s" % e, traceback.format_exc())
finish()
