#!/usr/bin/env python3
"""collector_test.py - `chatledger pair` and `chatledger collect` end to end
against the local WhatsApp protocol peer (tests/peer/peer.js) on loopback
(issue 5, acceptance 1-3).

The peer is WhatsApp's server and the business's phone.  It is driven by
commands on its stdin and reports what it saw as JSON lines on stdout; the
collector is driven through its command line and observed through its exit
status, its log, `chatledger status --json`, the coverage entries it wrote
and the files in DIR/wa.

Prints "ok N - name" / "not ok N - name" and ends with "N passed, N failed".
"""
import os
import sys

# The shared harness: counters, the peer, pairing, readers.
os.environ.setdefault("CL_COLLECTOR_PREFIX", "chatledger-collector.")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from collector_lib import *  # noqa: E402,F401,F403


try:
    # ---- 1. pair end to end, then collect --------------------------------
    peer = Peer("main", "--chop")  # frames split across and within messages
    A = new_archive("a", peer)
    p, qr, png, m0 = pair(A, peer)
    pd = peer.wait("pair-device", after=m0)
    ok(pd is not None, "peer sent pair-device refs", peer.stderr())
    ok(qr is not None and pd is not None and
       qr.startswith(pd["expected_qr_prefix"]),
       "zbarimg reads the PNG: exactly the QR string the peer expects",
       "qr=%r prefix=%r" % (qr, pd and pd.get("expected_qr_prefix")))
    ok(qr is not None and re.fullmatch(
        r"https://wa\.me/settings/linked_devices#[^,]+,[A-Za-z0-9+/]{43}=,"
        r"[A-Za-z0-9+/]{43}=,[A-Za-z0-9+/]{43}=,[0-9a-z]", qr) is not None,
       "QR string: ref, noise key, identity key, ADV secret, platform")
    ok(peer.wait("scan-ok", after=m0) is not None, "the phone scanned it")
    hs = peer.wait("handshake", after=m0, timeout=1,
                   pred=lambda e: e.get("mode") == "register")
    ok(hs is not None and
       hs.get("device_props", {}).get("requireFullSync") is True,
       "registration asks the phone for the full history (full_history = yes)",
       json.dumps(hs and hs.get("device_props")))
    try:
        rc = p.wait(timeout=60)
    except subprocess.TimeoutExpired:
        rc = None
    ok(rc == 0, "pair exits 0 once linked and logged in", log_of(p))
    sign = peer.wait("pair-device-sign", after=m0, timeout=1)
    ok(sign is not None and sign.get("ok") is True,
       "device signature and pair-device-sign reply accepted by the peer",
       json.dumps(sign))
    ok(peer.wait("restart-sent", after=m0, timeout=1) is not None,
       "peer sent 515 after pairing")
    login = peer.wait("login-ok", after=m0, timeout=1)
    ok(login is not None and login.get("device") == 7,
       "collector restarted on 515 and logged in", json.dumps(login))
    pk = peer.wait("prekeys", after=m0, timeout=1)
    ok(pk is not None and pk.get("count") == 812 and pk.get("ok") is True,
       "812 pre-keys uploaded and valid", json.dumps(pk))
    ok(not os.path.exists(png), "QR PNG (holds the ADV secret) removed")
    st = os.stat(os.path.join(A, "wa", "creds.enc"))
    ok(st.st_mode & 0o777 == 0o600, "credentials file is 0600")
    ok(os.stat(os.path.join(A, "wa")).st_mode & 0o777 == 0o700,
       "credentials directory is 0700")
    with open(os.path.join(A, "wa", "creds.enc"), "rb") as f:
        blob = f.read()
    ok(b"85291234567" not in blob and b"noise" not in blob,
       "credentials are encrypted at rest")
    k = kinds(A)
    ok("wa-paired" in k and "wa-connected" in k,
       "coverage entries: wa-paired, wa-connected", k)
    s = status(A)
    ok(s.get("jid") == "85291234567:7@s.whatsapp.net" and s.get("device") == 7,
       "status --json: linked as the JID and device", json.dumps(s))

    # collect: pings for a while
    m1 = peer.mark()
    col = start(["collect", "-a", A], "a-collect")
    ok(peer.wait("login-ok", after=m1, timeout=20) is not None,
       "collect logs in with the stored credentials", log_of(col))
    ok(wait_for(lambda: peer.count("ping", m1) >= 5, 20),
       "keepalive pings answered (5 or more)", log_of(col))
    ok(peer.count("prekeys", m1) == 0,
       "no second upload while the server holds enough pre-keys")
    ok(wait_for(lambda: (status(A).get("connected_since") is not None), 10),
       "status: connected since")
    ok(status(A).get("last_stanza_at") is not None, "status: last stanza")

    # pre-key top-up
    m2 = peer.mark()
    peer.cmd("low-prekeys")
    tp = peer.wait("prekeys", after=m2, timeout=15)
    ok(tp is not None and tp.get("count") == 50 and tp.get("ok") is True,
       "low pre-key notification: 50 more uploaded", json.dumps(tp))

    # ---- 2. the peer drops and comes back ---------------------------------
    m3 = peer.mark()
    peer.cmd("down")
    ok(wait_for(lambda: status(A).get("gap_open_since") is not None, 15),
       "drop: status shows an open gap", json.dumps(status(A)))
    ok(wait_for(lambda: "wa-disconnected" in kinds(A), 10),
       "drop: wa-disconnected coverage entry with the reason")
    time.sleep(1.0)
    ok(col.poll() is None, "collector keeps retrying while the peer is down")
    peer.cmd("up")
    ok(peer.wait("login-ok", after=m3, timeout=30) is not None,
       "reconnects when the peer returns", log_of(col))
    ok(wait_for(lambda: status(A).get("gap_open_since") is None, 10),
       "gap closed in status")
    cov = coverage(A)
    last = [b for kd, b in cov if kd == "wa-connected"][-1:]
    ok(last and last[0].get("gap_from") and last[0].get("gap_to"),
       "wa-connected records the end of the gap (gap_from, gap_to)",
       json.dumps(cov[-3:]))
    dis = [b for kd, b in cov if kd == "wa-disconnected"]
    ok(dis and dis[-1].get("reason"), "the gap's reason is recorded",
       json.dumps(dis))

    # a half-open connection: keepalives go unanswered
    m4 = peer.mark()
    peer.cmd("mute-pings")
    ok(peer.wait("connect", after=m4, timeout=30) is not None,
       "unanswered keepalives: the collector reconnects", log_of(col))
    peer.cmd("unmute-pings")
    ok(peer.wait("login-ok", after=m4, timeout=30) is not None,
       "unanswered keepalives: logged in again")
    dis = [b for kd, b in coverage(A) if kd == "wa-disconnected"]
    ok(dis and "keepalive" in dis[-1].get("reason", ""),
       "unanswered keepalives: the gap's reason says so", json.dumps(dis))

    # stream error 503: reconnect
    m4 = peer.mark()
    peer.cmd("stream-error 503")
    ok(peer.wait("login-ok", after=m4, timeout=30) is not None,
       "503: reconnects", log_of(col))

    # ---- 3. replaced: no reconnect loop ------------------------------------
    m5 = peer.mark()
    peer.cmd("replaced")
    try:
        rc = col.wait(timeout=20)
    except subprocess.TimeoutExpired:
        rc = None
    ok(rc == 5, "replaced: collect exits 5 (conflict)", log_of(col))
    time.sleep(1.0)
    ok(peer.count("connect", m5) == 0, "replaced: no reconnect")
    ok("wa-conflict" in kinds(A), "replaced: wa-conflict coverage entry")

    # SIGTERM: clean stop with a coverage entry.  This run is told that
    # its file system is low on space whatever is free (100%): it warns
    # in its log after its first commit, and only once for its commits.
    m6 = peer.mark()
    col = start(["collect", "-a", A], "a-collect2",
                env={"CHATLEDGER_LOW_SPACE": "100%"})
    ok(peer.wait("login-ok", after=m6, timeout=20) is not None,
       "collect again after the conflict")
    ok(wait_for(lambda: "low on space" in log_of(col), 10),
       "low space: the collector warns in its log", log_of(col))
    col.send_signal(signal.SIGTERM)
    try:
        rc = col.wait(timeout=20)
    except subprocess.TimeoutExpired:
        rc = None
    ok(rc == 0, "SIGTERM: exits 0", log_of(col))
    ok(kinds(A)[-1:] == ["wa-stopped"], "SIGTERM: wa-stopped recorded last")
    lines = [ln for ln in log_of(col).splitlines() if "low on space" in ln]
    ok(len(lines) == 1 and "free of" in lines[0],
       "low space: one warning for all the run's commits, with the figures",
       "\n".join(lines))

    # 401 device_removed
    m7 = peer.mark()
    col = start(["collect", "-a", A], "a-collect3",
                env={"CHATLEDGER_LOW_SPACE": "0"})
    ok(peer.wait("login-ok", after=m7, timeout=20) is not None,
       "collect before device_removed")
    peer.cmd("device-removed")
    try:
        rc = col.wait(timeout=20)
    except subprocess.TimeoutExpired:
        rc = None
    ok(rc == 4, "401 device_removed: collect exits 4", log_of(col))
    ok(not os.path.exists(os.path.join(A, "wa", "creds.enc")) and
       not os.path.exists(os.path.join(A, "wa", "creds.key")),
       "401: credentials deleted")
    lo = [b for kd, b in coverage(A) if kd == "wa-logged-out"]
    ok(lo and lo[-1].get("alert") is True and lo[-1].get("code") == 401,
       "401: wa-logged-out alert entry with the code", json.dumps(lo))
    ok("ALERT" in log_of(col), "401: alert in the log")
    ok("low on space" not in log_of(col),
       "CHATLEDGER_LOW_SPACE=0: no low-space warning", log_of(col))
    r = run("status", "-a", A)
    ok("logged out" in r.stdout, "status says logged out", r.stdout)
    ok(status(A).get("state") == "logged-out", "status --json: logged-out")
    r = run("collect", "-a", A)
    ok(r.returncode == 2 and "pair" in r.stderr,
       "collect without credentials: exit 2, tells to pair", r.stderr)
    r = run("verify", "-a", A)
    ok(r.returncode == 0, "verify passes on the collector's archive",
       r.stdout + r.stderr)

    # ---- login failures: 402 temporary ban (waited out), SIGKILL, 403 ------
    X = new_archive("x-bad-conf", peer, "full_history = maybe\n")
    r = run("pair", "-a", X, "--no-terminal-qr")
    ok(r.returncode == 2 and "full_history must be yes or no" in r.stderr,
       "a bad full_history value is refused by name",
       "rc=%d %s" % (r.returncode, r.stderr))
    B = new_archive("b", peer, "full_history = no\n")
    p, qr, png, m = pair(B, peer)
    try:
        rc = p.wait(timeout=60)
    except subprocess.TimeoutExpired:
        rc = None
    ok(rc == 0, "second archive paired", log_of(p))
    hs = peer.wait("handshake", after=m, timeout=1,
                   pred=lambda e: e.get("mode") == "register")
    ok(hs is not None and
       not hs.get("device_props", {}).get("requireFullSync"),
       "full_history = no: registration asks for the recent history only",
       json.dumps(hs and hs.get("device_props")))
    m8 = peer.mark()
    col = start(["collect", "-a", B], "b-collect")
    ok(peer.wait("login-ok", after=m8, timeout=20) is not None,
       "collect on the second archive")
    m9 = peer.mark()
    peer.cmd("next-failure 402 %d" % (int(time.time()) + 2))
    peer.cmd("drop")
    ok(peer.wait("login-refused", after=m9, timeout=20) is not None,
       "402: peer refused the login")
    ok(peer.wait("login-ok", after=m9, timeout=30) is not None,
       "402: the ban is waited out, then logged in again", log_of(col))
    ban = [b for kd, b in coverage(B) if kd == "wa-banned"]
    ok(ban and ban[-1].get("code") == 402 and ban[-1].get("expire", 0) > 0
       and ban[-1].get("alert") is True,
       "402: wa-banned entry with the code and expiry", json.dumps(ban))
    # crash: SIGKILL while connected loses nothing already recorded
    ok(wait_for(lambda: status(B).get("connected_since") is not None and
                status(B).get("state") == "connected", 10),
       "connected again after the ban (status)")
    n_before = len(coverage(B))
    col.kill()
    col.wait()
    r = run("verify", "-a", B)
    ok(r.returncode == 0 and len(coverage(B)) == n_before,
       "SIGKILL while connected: archive verifies, entries intact",
       r.stdout + r.stderr)
    m10 = peer.mark()
    col = start(["collect", "-a", B], "b-collect2")
    ok(peer.wait("login-ok", after=m10, timeout=20) is not None,
       "after SIGKILL: collect logs in again with the stored credentials")
    ok(wait_for(lambda: any(kd == "wa-connected" and b.get("gap_from")
                            for kd, b in coverage(B)[n_before:]), 10),
       "after SIGKILL: the gap since it was last alive is recorded and closed",
       json.dumps(coverage(B)[n_before:]))
    unc = [b for kd, b in coverage(B)[n_before:] if kd == "wa-disconnected"]
    ok(unc and unc[0].get("end") == "unclean-stop" and unc[0].get("last_alive"),
       "after SIGKILL: wa-disconnected (unclean-stop, last_alive)",
       json.dumps(unc))
    m11 = peer.mark()
    peer.cmd("next-failure 403")
    peer.cmd("drop")
    try:
        rc = col.wait(timeout=30)
    except subprocess.TimeoutExpired:
        rc = None
    ok(rc == 4 and not os.path.exists(os.path.join(B, "wa", "creds.enc")),
       "403 at login: exit 4, credentials deleted", log_of(col))
    lo = [b for kd, b in coverage(B) if kd == "wa-logged-out"]
    ok(lo and lo[-1].get("code") == 403, "403: wa-logged-out with code 403",
       json.dumps(lo))
    peer.stop()

    # ---- 3b. refusals --------------------------------------------------
    for fault, why in (("wrong-root", "root"),
                       ("leaf-mismatch", "static")):
        fp = Peer(fault, "--fault", fault)
        d = new_archive("f-" + fault, fp)
        p, qr, png, m = pair(d, fp, expect_scan=False)
        try:
            rc = p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            rc = None
        lg = log_of(p)
        ok(rc == 2 and why in lg.lower(),
           "%s: refused (exit 2, says %s)" % (fault, why), lg)
        ok(fp.count("pair-device", m) == 0,
           "%s: nothing sent after the handshake" % fault)
        ok("wa-server-refused" in kinds(d),
           "%s: wa-server-refused coverage entry" % fault)
        fp.stop()

    for fault, text in (("hmac", "hmac-mismatch"),
                        ("account-sig", "signature-mismatch")):
        fp = Peer(fault, "--fault", fault)
        d = new_archive("f-" + fault, fp)
        p, qr, png, m = pair(d, fp)
        er = fp.wait("pair-error-reply", after=m, timeout=20)
        ok(er is not None and str(er.get("code")) == "401" and
           er.get("text") == text,
           "%s tampered: refused with 401 %s" % (fault, text),
           json.dumps(er) + "\n" + fp.stderr())
        try:
            rc = p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            rc = None
        ok(rc == 2, "%s tampered: pair exits 2" % fault, log_of(p))
        ok(fp.count("pair-device-sign", m) == 0 and
           status(d).get("jid") is None,
           "%s tampered: not linked" % fault)
        fp.stop()

    # QR rotation: each ref in turn on WhatsApp's timing (shortened here),
    # then a reconnect for new refs, then give up
    rp = Peer("rotate", "--refs", "3")
    d = new_archive("rotate", rp, "qr_first_ms = 1500\nqr_next_ms = 800\n"
                    "pair_rounds = 2\n")
    p, qr, png, m = pair(d, rp, expect_scan=False)
    seen = []
    end = time.time() + 40
    while p.poll() is None and time.time() < end:
        if os.path.exists(png):
            q = zbar(png)
            if q and (not seen or seen[-1] != q):
                seen.append(q)
        time.sleep(0.1)
    try:
        rc = p.wait(timeout=5)
    except subprocess.TimeoutExpired:
        rc = None
    lg = log_of(p)
    refs = [r for ev in rp.events if ev.get("ev") == "pair-device"
            for r in ev["refs"]]
    shown = [q.split("#", 1)[1].split(",", 1)[0] for q in seen]
    ok(rc == 2 and "no QR code was scanned" in lg,
       "no scan: pair gives up after pair_rounds (exit 2)", lg)
    ok(rp.count("pair-device", m) == 2,
       "refs exhausted: reconnected once for new refs",
       rp.count("pair-device", m))
    ok(len(refs) == 6 and len(shown) >= 4 and shown == [r for r in refs
                                                         if r in shown],
       "QR codes rotate through the refs in order", (refs, shown))
    ok(len(re.findall(r"QR code \d+ written", lg)) == 6, "every ref shown once (6 QR codes)", lg)
    ok(not os.path.exists(png), "gave up: QR PNG removed")
    rp.stop()

    # pairing by code: the user types the printed code on the phone
    cp = Peer("code")
    d = new_archive("code", cp)
    m = cp.mark()
    p = start(["pair", "-a", d, "--pairing-code", "+85291234567"], "code-pair")
    code = None
    if wait_for(lambda: re.search(r"Pairing code: ([0-9A-Z]{4}-[0-9A-Z]{4})",
                                  log_of(p)) or p.poll() is not None, 30):
        mm = re.search(r"Pairing code: ([0-9A-Z]{4}-[0-9A-Z]{4})", log_of(p))
        code = mm.group(1) if mm else None
    hello = cp.wait("pair-code-hello", after=m, timeout=5)
    ok(hello is not None and hello.get("ok") is True and
       hello.get("phone") == "85291234567",
       "pairing code: companion_hello accepted by the peer", json.dumps(hello))
    ok(code is not None, "pairing code printed (XXXX-XXXX)", log_of(p))
    ok(code is not None and log_of(p).count(code) == 1,
       "pairing code printed once, on standard output, never in the log")
    ok(not os.path.exists(os.path.join(d, "wa", "pair-qr.png")),
       "pairing code: no QR code written")
    if code:
        cp.cmd("enter-code " + code)
    fin = cp.wait("pair-code-finish", after=m, timeout=20)
    ok(fin is not None and fin.get("ok") is True,
       "pairing code: the phone opened our key bundle", json.dumps(fin))
    try:
        rc = p.wait(timeout=60)
    except subprocess.TimeoutExpired:
        rc = None
    ok(rc == 0, "pairing code: linked, logged in (exit 0)", log_of(p))
    pk = cp.wait("prekeys", after=m, timeout=1)
    ok(pk is not None and pk.get("count") == 812,
       "pairing code: pre-keys uploaded")
    ok(status(d).get("jid") == "85291234567:7@s.whatsapp.net",
       "pairing code: status shows the JID")
    cp.stop()

    # a wrong code: the phone refuses, nothing links, pair gives up
    cp = Peer("code-wrong")
    d = new_archive("code-wrong", cp, "qr_first_ms = 1500\nqr_next_ms = 300\n"
                    "pair_rounds = 1\n")
    m = cp.mark()
    p = start(["pair", "-a", d, "--pairing-code", "85291234567"],
              "code-wrong-pair")
    if wait_for(lambda: "Pairing code:" in log_of(p) or
                p.poll() is not None, 30):
        cp.cmd("enter-code ZZZZ-ZZZZ")
    ok(cp.wait("pair-code-refused", after=m, timeout=20) is not None,
       "wrong pairing code: the phone refuses it", cp.stderr())
    try:
        rc = p.wait(timeout=30)
    except subprocess.TimeoutExpired:
        rc = None
    ok(rc == 2 and cp.count("pair-success-sent", m) == 0 and
       status(d).get("jid") is None,
       "wrong pairing code: not linked, pair exits 2", log_of(p))
    cp.stop()

    # stale version: 405
    fp = Peer("stale", "--min-build", "4000000000")
    d = new_archive("f-stale", fp)
    p, qr, png, m = pair(d, fp, expect_scan=False)
    try:
        rc = p.wait(timeout=30)
    except subprocess.TimeoutExpired:
        rc = None
    ok(rc == 6 and "version" in log_of(p),
       "405 client outdated: exit 6, names the version setting", log_of(p))
    ok("wa-outdated" in kinds(d), "405: wa-outdated coverage entry")
    fp.stop()
except Exception as e:  # a harness failure is a test failure
    import traceback
    ok(False, "harness: %s" % e, traceback.format_exc())
finish()
