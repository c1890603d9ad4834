#!/usr/bin/env python3
"""bundle_check.py - independent checks of an unpacked chatledger export
bundle (docs/BUNDLE.md), for tests/cli/t140-export.sh.

  bundle_check.py rsmf BAGDIR SCHEMA      every .rsmf: email parse, rsmf.zip,
                                          RSMF 2.0 schema (jsonschema), referential
                                          checks, header counts
  bundle_check.py proofs BAGDIR VKEY      every record proof and chain with the
                                          independent verifier (tests/verifier)
  bundle_check.py features BAGDIR         prints what the RSMF and HTML show
                                          (edits, deleted, reactions, parent, join,
                                          leave, attachments, conflicts)
Prints one line per problem and exits 1 if any.
"""
import email
import glob
import hashlib
import io
import json
import os
import re
import sys
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "verifier"))

TS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")
problems = []


def bad(msg):
    problems.append(msg)
    print("problem: " + msg)


def rsmf_files(bag):
    return sorted(glob.glob(os.path.join(bag, "data", "rsmf", "*.rsmf")))


def open_rsmf(path):
    msg = email.message_from_bytes(open(path, "rb").read())
    zpart = None
    for part in msg.walk():
        if part.get_filename() == "rsmf.zip":
            zpart = part.get_payload(decode=True)
    return msg, zpart


def check_rsmf(bag, schema_path):
    import jsonschema
    schema = json.load(open(schema_path))
    val = jsonschema.Draft7Validator(schema, format_checker=jsonschema.FormatChecker())
    n = 0
    for path in rsmf_files(bag):
        n += 1
        name = os.path.basename(path)
        msg, z = open_rsmf(path)
        if msg["X-RSMF-Version"] != "2.0.0":
            bad("%s: X-RSMF-Version" % name)
        if z is None:
            bad("%s: no rsmf.zip part" % name)
            continue
        zf = zipfile.ZipFile(io.BytesIO(z))
        names = set(zf.namelist())
        if any("/" in x for x in names):
            bad("%s: rsmf.zip is not flat" % name)
        man = json.loads(zf.read("rsmf_manifest.json"))
        for e in val.iter_errors(man):
            bad("%s: schema: %s" % (name, e.message))
        pids = [p["id"] for p in man["participants"]]
        if len(set(pids)) != len(pids):
            bad("%s: duplicate participant ids" % name)
        convs = {c["id"] for c in man["conversations"]}
        for c in man["conversations"]:
            for p in c["participants"]:
                if p not in pids:
                    bad("%s: conversation participant %s unknown" % (name, p))
            if c.get("custodian") and c["custodian"] not in pids:
                bad("%s: custodian unknown" % name)
        eids = [e.get("id") for e in man["events"] if e.get("id")]
        if len(set(eids)) != len(eids):
            bad("%s: duplicate event ids" % name)
        natt = 0
        for e in man["events"]:
            if e.get("participant") and e["participant"] not in pids:
                bad("%s: event participant %s unknown" % (name, e["participant"]))
            if e.get("conversation") and e["conversation"] not in convs:
                bad("%s: event conversation unknown" % name)
            if e.get("parent") and e["parent"] not in eids:
                bad("%s: parent %s not an event" % (name, e["parent"]))
            if "timestamp" in e and not TS.match(e["timestamp"]):
                bad("%s: timestamp %s is not UTC with Z" % (name, e["timestamp"]))
            for r in e.get("reactions", []):
                for p in r.get("participants", []):
                    if p not in pids:
                        bad("%s: reaction participant %s unknown" % (name, p))
            for ed in e.get("edits", []):
                if ed["participant"] not in pids:
                    bad("%s: edit participant unknown" % name)
            for a in e.get("attachments", []):
                natt += 1
                if a["id"] not in names:
                    bad("%s: attachment %s not in rsmf.zip" % (name, a["id"]))
                elif "size" in a and zf.getinfo(a["id"]).file_size != a["size"]:
                    bad("%s: attachment %s size differs" % (name, a["id"]))
        if msg["X-RSMF-EventCount"] != str(len(man["events"])):
            bad("%s: X-RSMF-EventCount" % name)
        if msg["X-RSMF-AttachmentCount"] != str(natt):
            bad("%s: X-RSMF-AttachmentCount" % name)
        if msg["X-RSMF-EventCollectionID"] != man.get("eventcollectionid"):
            bad("%s: X-RSMF-EventCollectionID" % name)
    print("%d rsmf files checked" % n)


def check_proofs(bag, vkey):
    import verify as V
    key = V.VerifierKey(V.read_key_arg(vkey))
    ed = V.Ed25519()
    cpcache = {}

    def checkpoint(note):
        if note not in cpcache:
            cpcache[note] = V.check_signed_checkpoint(note, key, ed, key.name, "checkpoint")
        return cpcache[note]

    nrec = nred = 0
    proven = set()
    try:
        for path in sorted(glob.glob(os.path.join(bag, "data", "proofs", "records", "*.jsonl"))):
            for line in open(path, encoding="utf-8"):
                j = json.loads(line)
                index, hashes, note = V.parse_tlog_proof(j["proof"].encode())
                cp = checkpoint(note)
                lf = V.parse_leaf(bytes.fromhex(j["leaf"]), "leaf")
                if lf.index != index or index != j["index"]:
                    bad("entry %d: index mismatch" % j["index"])
                    continue
                V.verify_inclusion(index, cp["size"], V.leaf_hash(lf.raw), hashes, cp["root"])
                if "redacted" in j:
                    # BUNDLE.md 4.2: leaf and inclusion proof only
                    if "salt" in j or "plaintext" in j or "native" in j or lf.type != 1:
                        bad("entry %d: a redacted line with content" % index)
                        continue
                    proven.add(index)
                    nred += 1
                    continue
                if "plaintext" in j:
                    pt = j["plaintext"].encode("utf-8")
                else:
                    pt = open(os.path.join(bag, j["native"]), "rb").read()
                if hashlib.sha256(bytes.fromhex(j["salt"]) + pt).digest() != lf.pt_hash:
                    bad("entry %d: salted hash mismatch" % index)
                    continue
                proven.add(index)
                nrec += 1
        nch = 0
        for path in sorted(glob.glob(os.path.join(bag, "data", "proofs", "chains", "*.jsonl"))):
            lines = [json.loads(x) for x in open(path, encoding="utf-8")]
            hd, rest = lines[0], lines[1:]
            index, hashes, note = V.parse_tlog_proof(hd["head_proof"].encode())
            cp = checkpoint(note)
            prev = None
            erased = set()
            need = []
            for ln in rest:
                lf = V.parse_leaf(bytes.fromhex(ln["leaf"]), "chain leaf")
                if prev is None:
                    if lf.index != index:
                        bad("%s: head index" % path)
                    V.verify_inclusion(index, cp["size"], V.leaf_hash(lf.raw), hashes, cp["root"])
                elif lf.index != prev[0] or V.leaf_hash(lf.raw) != prev[1]:
                    bad("%s: chain broken at %d" % (path, lf.index))
                if lf.type == 2:
                    erased.add(json.loads(lf.body)["erased"])
                elif lf.type == 1:
                    t = lf.sent_at
                    if ("from" not in hd or t >= hd["from"]) and ("to" not in hd or t <= hd["to"]):
                        need.append(lf.index)
                prev = (lf.prev_index, lf.prev_hash)
            if prev is None or prev[0] != 0xFFFFFFFFFFFFFFFF:
                bad("%s: chain does not reach the first entry" % path)
            for i in need:
                if i not in proven and i not in erased:
                    bad("%s: entry %d missing (incomplete)" % (path, i))
            nch += 1
    except (V.Fail, V.Error) as e:
        bad("independent verifier: %s" % e)
    finally:
        ed.close()
    print("%d record proofs (%d more redacted) and %d chains verified independently" % (nrec, nred, nch))


def features(bag):
    seen = set()
    for path in rsmf_files(bag):
        msg, z = open_rsmf(path)
        man = json.loads(zipfile.ZipFile(io.BytesIO(z)).read("rsmf_manifest.json"))
        for e in man["events"]:
            if e.get("edits"):
                seen.add("rsmf-edit")
                if any("previous" in x and "new" in x for x in e["edits"]):
                    seen.add("rsmf-edit-previous-new")
            if e.get("deleted"):
                seen.add("rsmf-deleted")
            if e.get("reactions"):
                seen.add("rsmf-reaction")
            if e.get("parent"):
                seen.add("rsmf-parent")
            if e.get("attachments"):
                seen.add("rsmf-attachment")
            if e["type"] in ("join", "leave"):
                seen.add("rsmf-" + e["type"])
            if e.get("direction"):
                seen.add("rsmf-direction-" + e["direction"])
            if e["type"] == "disclaimer" and "erased under rule" in e.get("body", ""):
                seen.add("rsmf-erased")
            for c in e.get("custom", []):
                if c["name"] == "conflicting_redelivery":
                    seen.add("rsmf-conflict")
    for path in glob.glob(os.path.join(bag, "data", "transcripts", "*.html")):
        h = open(path, encoding="utf-8").read()
        for k, w in (("html-edit", "EDITED"), ("html-deleted", "DELETED FOR EVERYONE"),
                     ("html-reaction", "reaction to message"), ("html-reply", "reply to message"),
                     ("html-attachment", "attachment"), ("html-join", "join"),
                     ("html-chinese", "匯豐"), ("html-erased", "erased under rule"),
                     ("html-device", "device")):
            if w in h:
                seen.add(k)
        if "<script" in h or "http://" in h or "https://" in h or "<b>" in h:
            bad("%s: script, external reference or unescaped markup" % path)
    for s in sorted(seen):
        print("shows " + s)


def main():
    cmd = sys.argv[1]
    if cmd == "rsmf":
        check_rsmf(sys.argv[2], sys.argv[3])
    elif cmd == "proofs":
        check_proofs(sys.argv[2], sys.argv[3])
    elif cmd == "features":
        features(sys.argv[2])
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
