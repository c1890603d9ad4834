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
import os
import sys

# The shared harness: counters, the peer, pairing, readers.
os.environ.setdefault("CL_COLLECTOR_PREFIX", "chatledger-collector-msgs.")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from collector_lib import *  # noqa: E402,F401,F403



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
    # paced (10 ms apart) so that the kill lands mid-stream: a batch
    # commits within 5 ms, faster than an unpaced script is sent
    peer.cmd("script %d b 10" % N_B)
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

    # ---- offline preview against what arrived ---------------------------------
    sf0 = [b for k, b in coverage(A) if k == "wa-offline-shortfall"]
    ok(not sf0, "each replay so far matched its offline preview (no shortfall)",
       json.dumps(sf0))
    m5 = peer.mark()
    peer.cmd("preview-extra 3")
    peer.cmd("drop")
    pv = peer.wait("offline-preview", after=m5, timeout=30)
    ok(pv is not None, "reconnected: the server announces its offline queue")
    ok(wait_for(lambda: any(k == "wa-offline-shortfall"
                            for k, _ in coverage(A)), 30),
       "a preview announcing 3 messages that never come is a coverage entry",
       log_of(col)[-2000:])
    sf = [b for k, b in coverage(A) if k == "wa-offline-shortfall"]
    ok(len(sf) == 1 and sf[0].get("missing") == 3 and
       pv is not None and sf[0].get("announced") == pv["message"] and
       sf[0].get("received") == pv["message"] - 3,
       "wa-offline-shortfall: announced, received, missing", json.dumps(sf))

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
    # ---- media -------------------------------------------------------------
    def attachment_leaves(d):
        """attachment entry index -> the record entry it belongs to."""
        db = sqlite3.connect(os.path.join(d, "ledger.db"))
        try:
            rows = db.execute("SELECT idx, leaf FROM entry WHERE type = 1 "
                              "ORDER BY idx").fetchall()
        finally:
            db.close()
        out = {}
        for idx, leaf in rows:
            lf = parse_leaf(bytes(leaf), "entry %d" % idx)
            if lf.kind == "attachment":
                out[idx] = json.loads(lf.body)["attachment_of"]
        return out

    def attachment_shas(d, idxs):
        """index -> SHA-256 of the stored bytes, from `show --range`."""
        if not idxs:
            return {}
        r = run("show", "-a", d, "--passphrase-file", PASS, "--range",
                "%d-%d" % (min(idxs), max(idxs)), timeout=120)
        out = {}
        for line in r.stdout.splitlines():
            try:
                j = json.loads(line)
            except ValueError:
                continue
            if isinstance(j, dict) and "attachment" in j:
                out[j["index"]] = j["attachment"]["sha256"]
        return out

    img_sent = {e["id"]: e for e in sent(peer)
                if e["kind"] == "image" and e.get("media_sha256")}
    mf = peer.mark()
    # gone from the media host (404): the collector asks the phone to upload
    # it again; the phone does (GONE1, and GONE4 in a group), says it no
    # longer has it (GONE2), or never answers (GONE3)
    peer.cmd('send {"id":"MEDIAGONE1","from":"85290000002:0@s.whatsapp.net","chat":"85290000002@s.whatsapp.net","kind":"image","text":"gone image","mediaFault":"gone"}')
    peer.cmd('send {"id":"MEDIAGONE2","from":"85290000002:0@s.whatsapp.net","chat":"85290000002@s.whatsapp.net","kind":"image","text":"lost image","mediaFault":"gone-lost"}')
    peer.cmd('send {"id":"MEDIAGONE3","from":"85290000002:0@s.whatsapp.net","chat":"85290000002@s.whatsapp.net","kind":"image","text":"unanswered image","mediaFault":"gone-silent"}')
    peer.cmd('send {"id":"MEDIAGONE4","from":"85290000009:0@s.whatsapp.net","chat":"120363000000000009@g.us","kind":"image","text":"gone group image","mediaFault":"gone"}')
    peer.cmd('send {"id":"MEDIAMAC1","from":"85290000002:0@s.whatsapp.net","chat":"85290000002@s.whatsapp.net","kind":"image","text":"bad mac image","mediaFault":"mac"}')
    peer.wait("receipt", after=mf, timeout=20, pred=lambda e: e["id"] == "MEDIAMAC1")
    gone_sent = {e["id"]: e for e in sent(peer) if e["id"].startswith("MEDIAGONE")}

    def media_done():
        recs, _ = records(A)
        rec_idx = {x["id"]: i for i, x in recs.items()
                   if x.get("source") == "whatsapp-md"}
        att = attachment_leaves(A)
        have = set(att.values())
        return rec_idx, att, all(rec_idx.get(i) in have for i in
                                 list(img_sent) + ["MEDIAGONE1", "MEDIAGONE4"])
    ok(img_sent and wait_for(lambda: media_done()[2], 60),
       "every image's media downloaded from the media host and stored as an "
       "attachment entry of its record (%d images, and the two the phone "
       "uploaded again)" % len(img_sent),
       log_of(col)[-1500:])
    rec_idx, att, _ = media_done()
    shas = attachment_shas(A, list(att))
    by_rec = {of: shas.get(a) for a, of in att.items()}
    ok(all(by_rec.get(rec_idx[i]) == e["media_sha256"] for i, e in img_sent.items()),
       "each attachment's bytes hash to the fileSha256 its record lists "
       "(encrypted-file hash, HMAC, AES-CBC and plaintext hash checked)",
       [(i, by_rec.get(rec_idx.get(i)), e["media_sha256"])
        for i, e in list(img_sent.items())[:3]])
    ok(all(by_rec.get(rec_idx.get(i)) == gone_sent[i]["media_sha256"]
           for i in ("MEDIAGONE1", "MEDIAGONE4")),
       "media gone from the host: stored once the phone uploaded it again, "
       "the bytes the message's fileSha256 names",
       [(i, by_rec.get(rec_idx.get(i))) for i in ("MEDIAGONE1", "MEDIAGONE4")])
    with peer.cv:
        reqs = {e["id"]: e for e in peer.events
                if e.get("ev") == "media-retry-request"}
    ok(set(reqs) == {"MEDIAGONE1", "MEDIAGONE2", "MEDIAGONE3", "MEDIAGONE4"}
       and all(e["opened"] and e["to"] == "85291234567@s.whatsapp.net"
               and e["from_me"] == "false" for e in reqs.values()),
       "one media retry request per gone media, to our own number, whose "
       "enc_p opens with the message's media key and id (the peer checks)",
       json.dumps(list(reqs.values()))[:600])
    ok(reqs.get("MEDIAGONE1", {}).get("jid") == "85290000002@s.whatsapp.net"
       and reqs["MEDIAGONE1"].get("participant") is None
       and reqs.get("MEDIAGONE4", {}).get("jid") == "120363000000000009@g.us"
       and reqs["MEDIAGONE4"].get("participant") == "85290000009@s.whatsapp.net",
       "the request's <rmr> names the chat, and a group message's sender",
       json.dumps(list(reqs.values()))[:600])

    def cov_by(kind):
        return {b.get("record"): b for k, b in coverage(A) if k == kind}
    ok(wait_for(lambda: set(cov_by("wa-media-retry")) >=
                {rec_idx.get(i) for i in ("MEDIAGONE1", "MEDIAGONE2", "MEDIAGONE4")}, 30),
       "every answer of the phone is a wa-media-retry coverage entry")
    asked = cov_by("wa-media-retry-requested")
    answers = cov_by("wa-media-retry")
    ok(set(asked) == {rec_idx.get(i) for i in gone_sent}
       and all(asked[rec_idx[i]].get("next_attempt") for i in gone_sent),
       "wa-media-retry-requested for each gone media, with its next attempt",
       json.dumps(list(asked.values()))[:600])
    ok(answers.get(rec_idx.get("MEDIAGONE1"), {}).get("result") == "success"
       and answers.get(rec_idx.get("MEDIAGONE2"), {}).get("result") == "phone-error"
       and answers[rec_idx["MEDIAGONE2"]].get("error_code") == 2
       and rec_idx.get("MEDIAGONE3") not in answers,
       "the answers recorded: success; the phone's error code 2; none for "
       "the unanswered request", json.dumps(list(answers.values()))[:600])
    lost = cov_by("wa-media-abandoned").get(rec_idx.get("MEDIAGONE2"), {})
    ok(lost.get("alert") is True and
       rec_idx.get("MEDIAGONE2") not in set(attachment_leaves(A).values()) and
       wait_for(lambda: '"wa-media-abandoned"' in open(ALERTS).read(), 10),
       "media the phone no longer has: wa-media-abandoned, an alert, no "
       "attachment", json.dumps(lost))
    ok(wait_for(lambda: rec_idx.get("MEDIAMAC1") in cov_by("wa-media-failed"), 30),
       "media that cannot be opened (bad MAC): wa-media-failed, retried later")
    fails = cov_by("wa-media-failed")
    ok(fails.get(rec_idx.get("MEDIAMAC1"), {}).get("error", "").startswith("bad-mac") and
       rec_idx.get("MEDIAMAC1") not in set(attachment_leaves(A).values()) and
       rec_idx.get("MEDIAGONE3") not in set(attachment_leaves(A).values()),
       "the failure names the reason (bad-mac); no attachment stored",
       json.dumps(list(fails.values()))[:600])

    # ---- edits encrypted under the original's message secret ---------------
    SEC = "5e" * 32
    ms = peer.mark()
    peer.cmd('send {"id":"SECORIG1","from":"85290000003:0@s.whatsapp.net","chat":"85290000003@s.whatsapp.net","kind":"text","text":"before the secret edit","secret":"%s"}' % SEC)
    peer.cmd('send {"id":"SECEDIT1","from":"85290000003:0@s.whatsapp.net","chat":"85290000003@s.whatsapp.net","kind":"secret-edit","text":"after the secret edit foxtrot","target":"SECORIG1","targetSender":"85290000003:0@s.whatsapp.net","secret":"%s"}' % SEC)
    peer.cmd('send {"id":"SECEDIT2","from":"85290000003:0@s.whatsapp.net","chat":"85290000003@s.whatsapp.net","kind":"secret-edit","text":"unknown secret golf","target":"NOSUCHMSG","targetSender":"85290000003:0@s.whatsapp.net","secret":"%s"}' % ("11" * 32))
    for i in ("SECORIG1", "SECEDIT1", "SECEDIT2"):
        peer.wait("receipt", after=ms, timeout=20, pred=lambda e, i=i: e["id"] == i)
    recs, _ = wa_records(A)
    se = {x["id"]: x for x in recs if x["id"] in ("SECORIG1", "SECEDIT1", "SECEDIT2")}
    e1, e2 = se.get("SECEDIT1", {}), se.get("SECEDIT2", {})
    ok(e1.get("kind") == "event-edit" and e1.get("target") == "SECORIG1" and
       e1.get("decrypted") is True and e1.get("text") == "after the secret edit foxtrot" and
       se.get("SECORIG1", {}).get("text") == "before the secret edit",
       "an edit encrypted under the original's messageSecret is opened "
       "(the original stays as archived)", json.dumps(se)[:900])
    ok(e2.get("kind") == "event-edit" and e2.get("encrypted") is True and
       "decrypted" not in e2 and "text" not in e2 and e2.get("raw"),
       "an edit whose original's secret is unknown stays encrypted (kept in raw)",
       json.dumps(e2)[:600])
    # MESSAGE_EDIT: newer clients send text edits under the secret too
    SEC2, SEC3 = "6f" * 32, "7a" * 32
    GS = "120363000000000007@g.us"
    ms = peer.mark()
    peer.cmd('send {"id":"SECORIG2","from":"85290000004:0@s.whatsapp.net","chat":"85290000004@s.whatsapp.net","kind":"text","text":"original before hotel","secret":"%s"}' % SEC2)
    peer.cmd('send {"id":"SECEDIT3","from":"85290000004:0@s.whatsapp.net","chat":"85290000004@s.whatsapp.net","kind":"secret-edit","encType":2,"text":"edited text hotelnew","target":"SECORIG2","targetSender":"85290000004:0@s.whatsapp.net","secret":"%s"}' % SEC2)
    peer.cmd('send {"id":"SECORIG3","from":"85290000005:0@s.whatsapp.net","chat":"%s","kind":"text","text":"group original india","secret":"%s"}' % (GS, SEC3))
    peer.cmd('send {"id":"SECEDIT4","from":"85290000005:0@s.whatsapp.net","chat":"%s","kind":"secret-edit","encType":2,"text":"group edited indianew","target":"SECORIG3","targetSender":"85290000005:0@s.whatsapp.net","secret":"%s"}' % (GS, SEC3))
    peer.cmd('send {"id":"SECEDIT5","from":"85290000006:0@s.whatsapp.net","chat":"%s","kind":"secret-edit","encType":2,"text":"forged juliet","target":"SECORIG3","targetSender":"85290000005:0@s.whatsapp.net","secret":"%s"}' % (GS, "22" * 32))
    for i in ("SECORIG2", "SECEDIT3", "SECORIG3", "SECEDIT4", "SECEDIT5"):
        peer.wait("receipt", after=ms, timeout=20, pred=lambda e, i=i: e["id"] == i)
    allrecs, _ = records(A)
    idx_of = {x["id"]: i for i, x in allrecs.items()
              if x.get("source") == "whatsapp-md"}
    se = {x["id"]: x for x in allrecs.values() if x.get("id", "").startswith("SEC")}
    e3, e4, e5 = se.get("SECEDIT3", {}), se.get("SECEDIT4", {}), se.get("SECEDIT5", {})
    ok(e3.get("kind") == "edit" and e3.get("target") == "SECORIG2" and
       e3.get("decrypted") is True and e3.get("text") == "edited text hotelnew" and
       se.get("SECORIG2", {}).get("text") == "original before hotel",
       "MESSAGE_EDIT under the original's secret (\"Message Edit\"): kind edit, "
       "target, decrypted, the new text; the original unchanged",
       json.dumps([e3, se.get("SECORIG2")])[:900])
    ok(e4.get("kind") == "edit" and e4.get("decrypted") is True and
       e4.get("text") == "group edited indianew" and
       se.get("SECORIG3", {}).get("text") == "group original india",
       "MESSAGE_EDIT in a group (the key's participant names the original's sender)",
       json.dumps(e4)[:600])
    ok(e5.get("kind") == "edit" and e5.get("encrypted") is True and
       "decrypted" not in e5 and "text" not in e5,
       "an edit under the wrong secret stays encrypted", json.dumps(e5)[:600])
    r = run("search", "-a", A, "--passphrase-file", PASS, "--text", "hotelnew",
            "--json")
    r2 = run("search", "-a", A, "--passphrase-file", PASS, "--text", "hotel",
             "--json")
    def hit_ids(res):
        out = set()
        for line in res.stdout.splitlines():
            try:
                out.add(json.loads(line)["record"]["id"])
            except (ValueError, KeyError, TypeError):
                pass
        return out
    ok(r.returncode == 0 and "SECEDIT3" in hit_ids(r) and
       "SECORIG2" not in hit_ids(r) and "SECORIG2" in hit_ids(r2),
       "search --text finds the edit's new text, and the original by its own",
       r.stdout[-500:] + r2.stdout[-300:])
    i3, io2 = idx_of.get("SECEDIT3"), idx_of.get("SECORIG2")
    r = run("show", "-a", A, "--passphrase-file", PASS, "--index", str(i3),
            "--index", str(io2)) if i3 and io2 else None
    ok(r is not None and r.returncode == 0 and
       "edited text hotelnew" in r.stdout and "original before hotel" in r.stdout,
       "show prints the edit with its new text and the original with its own",
       (r.stdout[-600:] + r.stderr) if r else "no index")
    EXP = os.path.join(T, "edit-export.zip")
    r = run("export", "-a", A, "--passphrase-file", PASS, "--out", EXP,
            "--case", "T105-EDIT", "--conversation", "85290000004@s.whatsapp.net",
            "--from", "1970-01-01T00:00:00Z", timeout=120)
    blob = b""
    if r.returncode == 0 and os.path.exists(EXP):
        import zipfile
        with zipfile.ZipFile(EXP) as z:
            blob = b"".join(z.read(n) for n in z.namelist())
    ok(b"edited text hotelnew" in blob and b"original before hotel" in blob,
       "export of the chat holds the original and the edit's new text",
       r.stdout[-400:] + r.stderr[-400:])

    # ---- poll votes, encrypted under the poll's message secret -------------
    PS, PS2 = "a1" * 32, "b2" * 32
    PA, PB = "85290000005:0@s.whatsapp.net", "85290000006:0@s.whatsapp.net"
    C4 = "85290000004@s.whatsapp.net"
    opts = ["alpha opt", "bravo opt", "charlie opt"]
    mp = peer.mark()
    def vote(vid, frm, chat, target, tsender, votes, secret, from_me=False):
        peer.cmd("send " + json.dumps({
            "id": vid, "from": frm, "chat": chat, "kind": "poll-vote",
            "target": target, "targetSender": tsender, "targetFromMe": from_me,
            "votes": votes, "secret": secret}))
    peer.cmd("send " + json.dumps({"id": "POLL1", "from": PA, "chat": GS,
                                   "kind": "poll", "text": "which kilo",
                                   "options": opts, "selectable": 2,
                                   "secret": PS}))
    vote("PV1", PB, GS, "POLL1", PA, ["alpha opt", "charlie opt"], PS)
    vote("PV2", PB, GS, "POLL1", PA, ["bravo opt"], PS)
    vote("PV3", PB, GS, "POLL1", PA, [], PS)
    vote("PV4", PA, GS, "POLL1", PA, ["alpha opt"], PS, from_me=True)
    peer.cmd("send " + json.dumps({"id": "POLL2", "from": "85290000004:0@s.whatsapp.net",
                                   "chat": C4, "kind": "poll", "text": "one to one lima",
                                   "options": ["yes lima", "no lima"], "secret": PS2}))
    vote("PV5", "85291234567:0@s.whatsapp.net", C4, "POLL2",
         "85290000004:0@s.whatsapp.net", ["no lima"], PS2)
    vote("PV6", PB, GS, "NOSUCHPOLL", PA, ["alpha opt"], "33" * 32)
    vote("PV7", PB, GS, "POLL1", PA, ["alpha opt"], "44" * 32)
    pids = ("POLL1", "PV1", "PV2", "PV3", "PV4", "POLL2", "PV5", "PV6", "PV7")
    for i in pids:
        peer.wait("receipt", after=mp, timeout=20, pred=lambda e, i=i: e["id"] == i)
    recs, _ = wa_records(A)
    pv = {x["id"]: x for x in recs if x["id"] in pids}
    ok(all(i in pv for i in pids) and pv["POLL1"].get("kind") == "poll" and
       pv["POLL1"].get("poll", {}).get("options") == opts,
       "the poll and every vote archived", sorted(pv))
    def votes_of(i):
        x = pv.get(i, {})
        return (x.get("kind"), x.get("target"), x.get("decrypted"), x.get("votes"))
    ok(votes_of("PV1") == ("poll-vote", "POLL1", True, ["alpha opt", "charlie opt"]),
       "a vote is decrypted (\"Poll Vote\", AES-GCM with the poll id and voter "
       "as associated data) and names the chosen options", json.dumps(pv.get("PV1"))[:700])
    ok(votes_of("PV2") == ("poll-vote", "POLL1", True, ["bravo opt"]) and
       votes_of("PV3") == ("poll-vote", "POLL1", True, []),
       "a changed vote and a retracted (empty) vote are their own records",
       json.dumps([pv.get("PV2"), pv.get("PV3")])[:900])
    ok(votes_of("PV4") == ("poll-vote", "POLL1", True, ["alpha opt"]) and
       votes_of("PV5") == ("poll-vote", "POLL2", True, ["no lima"]) and
       pv.get("PV5", {}).get("direction") == "out",
       "the poll's creator votes on it (fromMe key); our phone votes in a 1:1 chat",
       json.dumps([pv.get("PV4"), pv.get("PV5")])[:900])
    ok(all(pv.get(i, {}).get("kind") == "poll-vote" and
           pv.get(i, {}).get("encrypted") is True and
           "decrypted" not in pv.get(i, {}) and "votes" not in pv.get(i, {})
           for i in ("PV6", "PV7")),
       "votes for an unknown poll or under the wrong secret stay encrypted (raw kept)",
       json.dumps([pv.get("PV6"), pv.get("PV7")])[:700])
    r = run("search", "-a", A, "--passphrase-file", PASS, "--json", "--from",
            "1970-01-01T00:00:00Z", "--kind", "poll-vote")
    ok(r.returncode == 0 and "PV1" in hit_ids(r) and "charlie opt" in r.stdout,
       "search shows the decrypted votes", r.stdout[-400:] + r.stderr)
    db = sqlite3.connect(os.path.join(A, "ledger.db"))
    srows = db.execute("SELECT v FROM wa_secret").fetchall()
    db.close()
    ok(srows and not any(bytes.fromhex(SEC) in bytes(v) or
                         bytes.fromhex(PS) in bytes(v) or b"alpha opt" in bytes(v)
                         for (v,) in srows),
       "message secrets and poll options kept sealed in wa_secret", len(srows))

    # ---- group membership and subject (w:gp2) ----------------------------
    G = "120363000000000001@g.us"
    mg = peer.mark()
    peer.cmd('group {"id":"GP2ADD1","group":"%s","actor":"85290000001@s.whatsapp.net","action":"add","participants":["85290000055@s.whatsapp.net","85290000056@s.whatsapp.net"]}' % G)
    peer.cmd('group {"id":"GP2SUBJ1","group":"%s","actor":"85291234567@s.whatsapp.net","action":"subject","subject":"Desk renamed echo"}' % G)
    peer.cmd('group {"id":"GP2RM1","group":"%s","actor":"85290000001@s.whatsapp.net","action":"remove","participants":["85290000056@s.whatsapp.net"]}' % G)
    acks = [peer.wait("notification-ack", after=mg, timeout=20,
                      pred=lambda e, i=i: e["id"] == i)
            for i in ("GP2ADD1", "GP2SUBJ1", "GP2RM1")]
    recs, _ = wa_records(A)
    gp = {x["id"]: x for x in recs if x["id"].startswith("gp2-")}
    ok(all(acks) and all(a.get("type") == "w:gp2" for a in acks) and
       {"gp2-GP2ADD1", "gp2-GP2SUBJ1", "gp2-GP2RM1"} <= set(gp),
       "group notifications archived, then acknowledged", json.dumps(acks))
    a1, s1, r1 = gp.get("gp2-GP2ADD1", {}), gp.get("gp2-GP2SUBJ1", {}), gp.get("gp2-GP2RM1", {})
    ok(a1.get("kind") == "group-add" and
       a1.get("group", {}).get("participants") ==
       ["85290000055@s.whatsapp.net", "85290000056@s.whatsapp.net"] and
       a1["conversation"] == {"id": G, "type": "group"} and
       a1["sender"]["id"] == "85290000001@s.whatsapp.net" and
       a1.get("direction") == "in" and
       r1.get("kind") == "group-remove" and
       r1.get("group", {}).get("participants") == ["85290000056@s.whatsapp.net"],
       "membership changes: group-add / group-remove with who acted and who changed",
       json.dumps([a1, r1])[:800])
    ok(s1.get("kind") == "group-subject" and s1.get("text") == "Desk renamed echo" and
       s1.get("direction") == "out",
       "subject change: group-subject with the new subject as text", json.dumps(s1))
    r = run("search", "-a", A, "--passphrase-file", PASS, "--text", "echo",
            "--json")
    ok(r.returncode == 0 and "gp2-GP2SUBJ1" in r.stdout,
       "search --text finds the new subject", r.stdout[-400:])

    # ---- other writers while the collector streams (criterion 6) ----------
    RECS = os.path.join(T, "writers.jsonl")
    with open(RECS, "w") as f:
        for i in range(200):
            f.write(json.dumps({
                "account": "85290000001@s.whatsapp.net",
                "conversation": {"id": "8529%07d@s.whatsapp.net" % (i % 5),
                                 "type": "direct"},
                "id": "W6-%06d" % i, "sender": {"id": "85290000077@s.whatsapp.net"},
                "direction": "in", "sent_at": "2025-03-01T10:00:%02d+08:00" % (i % 60),
                "kind": "text", "text": "writer six %d" % i}) + "\n")
    POLICY = os.path.join(ROOT, "config", "policies", "hk-sfc-intermediary.policy")
    mw = peer.mark()
    peer.cmd("script 150 w6 20")   # about 3 s of live messages
    wait_for(lambda: peer.count("receipt", mw) >= 5, 30)
    t0 = time.time()
    mw2 = peer.mark()
    wi = run("ingest", "-a", A, "--format", "jsonl", "--batch", "50", RECS,
             timeout=120)
    wh = run("hold", "add", "-a", A, "--case", "T105", "--reason", "test",
             "--participant", "85290000099@s.whatsapp.net", "--allow-empty",
             timeout=120)
    wr = run("retain", "-a", A, "--policy", POLICY, "--now", "2100-01-01",
             timeout=180)
    during = peer.count("receipt", mw2)
    ok(wi.returncode == 0 and "200 ingested" in (wi.stdout + wi.stderr),
       "ingest completes while the collector runs", wi.stdout + wi.stderr)
    ok(wh.returncode == 0, "hold add --allow-empty completes while the collector runs",
       wh.stdout + wh.stderr)
    ok(wr.returncode == 0, "retain completes while the collector runs",
       wr.stdout[-800:] + wr.stderr[-800:])
    peer.wait("script-done", after=mw, timeout=60)
    ok(all_receipted(peer, 60) and 0 < during,
       "the collector kept archiving and receipting meanwhile "
       "(%d receipts during %.1f s of other writers)" % (during, time.time() - t0),
       log_of(col)[-1500:])

    # ---- history sync -------------------------------------------------------
    def hist_run(spec, timeout=30):
        mh = peer.mark()
        peer.cmd("history " + json.dumps(spec))
        hs = peer.wait("history-sent", after=mh, timeout=20)
        if hs is None:
            return None, []
        wait_for(lambda: any(b.get("notification") == hs["id"]
                             for k, b in coverage(A)
                             if k in ("wa-history-sync", "wa-history-failed")),
                 timeout)
        return hs, [(k, b) for k, b in coverage(A)
                    if b.get("notification") == hs["id"]]

    hs, cov_h = hist_run({"inline": True, "include": 6, "new": 5, "chats": 2})
    ok(hs is not None and peer.wait("receipt", timeout=20,
                                   pred=lambda e: e["id"] == hs["id"]) is not None,
       "history sync notification (inline payload) archived and receipted",
       log_of(col)[-2000:])
    summ = [b for k, b in cov_h if k == "wa-history-sync"]
    ok(summ and summ[0].get("new") == len(hs["messages"]) and
       summ[0].get("duplicates") == len(hs["included"]) and
       summ[0].get("skipped") == 1 and summ[0].get("sync_type") == "initial-bootstrap",
       "coverage wa-history-sync: %d new, %d already archived live, 1 stub skipped"
       % (len(hs["messages"]), len(hs["included"])), json.dumps(cov_h)[:1500])
    recs, _ = wa_records(A)
    by_id = {}
    for x in recs:
        by_id.setdefault(x["id"], []).append(x)
    hist = [by_id.get(m["id"], [None])[0] for m in hs["messages"]]
    ok(all(x and x.get("history") is True and x.get("text") == m["text"] and
           x.get("kind") == "text" and x.get("source") == "whatsapp-md" and
           x["conversation"]["id"] == m["chat"] and
           x.get("direction") == ("out" if m["fromMe"] else "in") and
           x.get("wa", {}).get("history_sync", {}).get("notification") == hs["id"]
           for m, x in zip(hs["messages"], hist)),
       "history records: history:true, kind, text, chat, direction; source whatsapp-md",
       json.dumps(hist[:2]))
    ok(all(len(by_id.get(i, [])) == 1 and "history" not in by_id[i][0]
           for i in hs["included"]),
       "messages already archived live are not archived again from history",
       [len(by_id.get(i, [])) for i in hs["included"]])
    chats_cov = {b.get("conversation_entry"): b for k, b in cov_h
                 if k == "wa-history-chat"}
    ends = [b for b in chats_cov.values() if b.get("end_of_history")]
    ok(len([1 for k, _ in cov_h if k == "wa-history-chat"]) >= 2 and
       len(ends) == 1 and ends[0].get("end_type") == "complete-nothing-more" and
       min(b["oldest"] for b in chats_cov.values() if b.get("oldest")) ==
       time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(hs["oldest"] / 1000)) + ".000Z",
       "coverage wa-history-chat per chat: oldest timestamp, end of history",
       json.dumps(list(chats_cov.values()))[:1500])
    ok(len(wa_records(A)[0]) == len(recs) and
       hist_run({"inline": True, "include": 0, "new": 0, "chats": 0})[0] is not None,
       "an empty history sync adds no record")

    hs, cov_h = hist_run({"inline": False, "include": 0, "new": 4, "chats": 2})
    ok(hs is not None and peer.wait("media-get", timeout=5,
                                   pred=lambda e: e["status"] == 200 and
                                   e["type"] == "md-msg-hist") is not None and
       any(k == "wa-history-sync" and b.get("new") == 8 for k, b in cov_h),
       "history blob downloaded over HTTPS from the media host (media_conn), "
       "checked, decrypted, inflated and archived", json.dumps(cov_h)[:800] +
       log_of(col)[-1500:])
    recs, _ = wa_records(A)
    got = {x["id"] for x in recs if x.get("history")}
    ok({m["id"] for m in hs["messages"]} <= got,
       "downloaded history: every message archived")
    for fault, want in (("mac", "bad-mac"), ("gone", "gone"), ("hash", "hash-mismatch")):
        hs, cov_h = hist_run({"inline": False, "new": 2, "chats": 1,
                              "fault": fault})
        f = [b for k, b in cov_h if k == "wa-history-failed"]
        ok(f and want in f[0].get("error", "") and f[0].get("attempt") == 1 and
           f[0].get("next_attempt") and
           not any(x.get("id") in {m["id"] for m in hs["messages"]}
                   for x in wa_records(A)[0]),
           "history blob with %s: wa-history-failed (%s), retried later, "
           "nothing archived" % (fault, want), json.dumps(cov_h)[:800])
    db = sqlite3.connect(os.path.join(A, "ledger.db"))
    qrows = db.execute("SELECT note FROM wa_hist").fetchall()
    db.close()
    ok(len(qrows) == 3 and not any(b"/v/t62.hist" in bytes(n) for (n,) in qrows),
       "the failed syncs stay queued in wa_hist, sealed", len(qrows))

    # ---- the phone's last-seen time and the 12-day warning ----------------
    def stop_col(p):
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
        # exit 0: also no leak or sanitizer report under ASan
        ok(p.returncode == 0, "collect exits 0 on SIGTERM", log_of(p)[-2000:])

    def iso(t):
        return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(t))

    def phone_cov(kind):
        return [b for k, b in coverage(A) if k == kind]

    # nothing from the peer may still await a receipt: redelivered to the
    # next collector, a message from our own phone would count as the
    # phone seen again and cancel the warning this part tests
    def drained():
        m = peer.mark()
        peer.cmd("pending")
        e = peer.wait("pending", after=m, timeout=10)
        return e is not None and e["count"] == 0
    ok(wait_for(drained, 60),
       "every stanza the peer sent is receipted before the clock is injected")
    st = status(A)
    seen = st.get("phone_last_seen_at")
    r = run("status", "-a", A)
    ok(seen and seen >= iso(time.time() - 600) and
       "phone last seen %s" % seen in r.stdout and
       st.get("days_to_logout_cutoff") in (13, 14),
       "status: phone last seen (our phone's messages are the evidence), "
       "days to the 14-day cutoff", json.dumps(st)[:600] + r.stdout[-600:])
    stop_col(col)
    SP = os.path.join(A, "wa", "state.json")
    sj = json.load(open(SP))
    ok(sj.get("phone_last_seen") == seen,
       "the phone's last-seen time is persisted in the collector's state",
       json.dumps(sj)[:400])
    # inject the clock: the phone was last seen 13 days ago
    t_gone = time.time() - 13 * 86400
    gone = iso(t_gone)
    sj["phone_last_seen"] = gone
    with open(SP, "w") as f:
        json.dump(sj, f)
    ALERTS2 = os.path.join(T, "alerts-phone.jsonl")
    m5 = peer.mark()
    col = start(["collect", "-a", A, "--alert-command", "cat >> '%s'" % ALERTS2],
                "collect3")
    peer.wait("login-ok", after=m5, timeout=20)
    ok(wait_for(lambda: phone_cov("wa-phone-inactive"), 20),
       "12 days without the phone: a wa-phone-inactive coverage entry",
       log_of(col)[-1500:])
    pin = phone_cov("wa-phone-inactive")
    ok(len(pin) == 1 and pin[0].get("last_seen") == gone and
       pin[0].get("days") == 13 and pin[0].get("alert") is True and
       pin[0].get("logout_expected") == iso(t_gone + 14 * 86400),
       "the entry names when the phone was last seen and the expected logout",
       json.dumps(pin))
    r = run("status", "-a", A)
    ok(wait_for(lambda: "WARNING" in run("status", "-a", A).stdout, 10) and
       "phone last seen %s" % gone in r.stdout,
       "status shows the phone's last-seen time and the warning", r.stdout[-800:])
    ok(wait_for(lambda: os.path.exists(ALERTS2) and
                "wa-phone-inactive" in open(ALERTS2).read(), 10),
       "the alert command ran with the wa-phone-inactive alert on stdin")
    # restart: the warning is not raised again for the same absence
    stop_col(col)
    m6 = peer.mark()
    col = start(["collect", "-a", A, "--alert-command", "cat >> '%s'" % ALERTS2],
                "collect4")
    peer.wait("login-ok", after=m6, timeout=20)
    peer.cmd('send {"id":"PHONE0","from":"85290000001:0@s.whatsapp.net","chat":"85290000001@s.whatsapp.net","kind":"text","text":"after the restart mike"}')
    ok(peer.wait("receipt", after=m6, timeout=20,
                 pred=lambda e: e["id"] == "PHONE0") is not None,
       "restarted collector archives again (its ticks ran)")
    alerts = [json.loads(x) for x in open(ALERTS2).read().splitlines() if x]
    ok(len(phone_cov("wa-phone-inactive")) == 1 and
       sum(1 for a in alerts if a.get("alert") == "wa-phone-inactive") == 1,
       "warning and alert once per absence, across a restart",
       json.dumps(alerts)[:600])
    # the phone comes back
    peer.cmd('send {"id":"PHONE1","from":"85291234567:0@s.whatsapp.net","chat":"85290000001@s.whatsapp.net","kind":"text","text":"the phone is back november"}')
    ok(wait_for(lambda: phone_cov("wa-phone-seen"), 20) and
       wait_for(lambda: "WARNING" not in run("status", "-a", A).stdout, 10) and
       status(A).get("phone_last_seen_at", "") >= iso(time.time() - 600),
       "the phone seen again: wa-phone-seen entry, the warning cleared",
       json.dumps(phone_cov("wa-phone-seen")) + run("status", "-a", A).stdout[-500:])

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
