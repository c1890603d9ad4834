#!/usr/bin/env python3
"""mkdict.py - write payload dictionary 1 (docs/FORMAT.md section 6.3a) to
standard output.

The dictionary is zstd "raw content": bytes that a payload's compressed
frame may refer back to, so that a 600-byte record does not have to spell
out its member names, enumerations and JID suffixes on its own.  It is
built only from the record schema (docs/FORMAT.md section 2): member names
in canonical (sorted) order, the enumerations the writers use, and the
fixed prefixes of the raw source bodies, base64-encoded as records carry
them.  Every free value is empty or a run of zeros: the dictionary holds
no personal data and nothing that any one record contributed, so erasing
a record never needs it changed.

    python3 archiver/ledger/dict/mkdict.py > archiver/ledger/dict/payload-1.dict

reproduces the committed file byte for byte (tests/cli/t23-payload-dict.sh checks
it, and its SHA-256 against FORMAT.md).  zstd prefers recent history, so
the commonest shapes come last.
"""
import base64
import json
import sys


def canon(obj):
    """Canonical JSON as the writers produce it: sorted keys, compact."""
    return json.dumps(obj, ensure_ascii=False, sort_keys=True,
                      separators=(",", ":"))


def b64(text):
    return base64.b64encode(text.encode()).decode()


TIME = "2025-01-01T00:00:00.000Z"
PHONE = "85200000000"
JID = PHONE + "@s.whatsapp.net"
GROUP = "120363000000000000@g.us"
KINDS = ["text", "image", "video", "audio", "voice", "document", "sticker",
         "location", "contacts", "reaction", "edit", "revoke", "deleted",
         "system", "unsupported", "call", "poll", "template", "interactive",
         "button", "order", "link", "file", "consent", "unknown"]
MIMES = ["image/jpeg", "image/png", "image/webp", "video/mp4", "audio/ogg",
         "audio/ogg; codecs=opus", "audio/mpeg", "application/pdf",
         "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
         "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
         "text/plain"]
SOURCES = ["wechat", "wechat-kf", "wecom", "whatsapp-md", "whatsapp-export",
           "cloudapi", "jsonl"]

# The fixed starts of raw source bodies, as base64 at offset 0 (a record's
# "raw" is the base64 of the body, so only a prefix keeps its alignment).
RAW_PREFIXES = [
    '<xml><ToUserName><![CDATA[',
    '<xml><ToUserName><![CDATA[gh_000000000000]]></ToUserName>'
    '<FromUserName><![CDATA[',
    '{"msgid":"',
    '{"object":"whatsapp_business_account","entry":[{"id":"',
]

out = []
# Enumerations and small pieces, least common first.
out.append(" ".join(MIMES))
out.append(" ".join(KINDS))
for p in RAW_PREFIXES:
    out.append('"raw":"' + b64(p))
out.append(canon({"command": "show", "entries": "", "records": 0, "who": ""}))
out.append(canon({"command": "search", "conversations": [], "from": None,
                  "kinds": [], "labels": [], "parties": [], "records": 0,
                  "text": None, "to": None, "who": ""}))
out.append(canon({"attachments": [{"mime": "image/jpeg", "name": "",
                                   "sha256": "0" * 64, "size": 0}]}))

# One skeleton per source, the commonest (jsonl, webhook, collector) last.
def record(source, conv, sender, **extra):
    r = {"account": JID, "conversation": conv, "direction": "in",
         "id": "", "kind": "text", "revision": 0, "sender": sender,
         "sent_at": TIME, "source": source, "text": ""}
    r.update(extra)
    return canon(r)


out.append(record("wechat", {"id": "wechat-openid:", "type": "direct"},
                  {"id": "wechat-openid:"}, account="wechat:gh_",
                  received_at=TIME, raw_form="xml"))
out.append(record("wecom", {"id": "wecom:", "name": "", "type": "group"},
                  {"id": "wecom-user:", "name": ""}, account="wecom:",
                  wecom={"msgid": "", "seq": 0, "publickey_ver": 0}))
out.append(record("whatsapp-export",
                  {"id": "whatsapp-export:direct:", "name": "",
                   "peer_name": "", "type": "direct"},
                  {"id": "", "name": ""},
                  export={"conversation_from": "peer", "date_order": "dmy",
                          "line": 0, "lines": 1, "local_time": "2025-01-01T00:00:00",
                          "tz": "Asia/Hong_Kong"}, raw=""))
out.append(record("cloudapi", {"id": PHONE, "name": "", "type": "direct"},
                  {"id": PHONE, "name": ""}, account="wa-business:",
                  cloudapi={"display_phone_number": PHONE, "field": "messages",
                            "phone_number_id": "", "type": "text",
                            "waba_id": ""},
                  content={"body": ""}, id="wamid.", raw="", raw_form="json"))
out.append(record("whatsapp-md", {"id": GROUP, "name": "", "type": "group"},
                  {"device": 0, "id": JID, "name": ""}, received_at=TIME))
out.append(record("jsonl", {"id": GROUP, "name": "", "type": "group"},
                  {"id": JID, "name": ""}, direction="out",
                  received_at=TIME, id="3EB0"))
out.append(record("jsonl", {"id": JID, "name": "", "type": "direct"},
                  {"id": JID, "name": ""}, received_at=TIME, id="3EB0"))

sys.stdout.write("\n".join(out) + "\n")
