#!/usr/bin/env python3
"""verify.py - an independent, keyless verifier for chatledger archives.

Written from docs/FORMAT.md alone.  Python 3 standard library plus the
`openssl` command (Ed25519 signature checks).  No secret key is read.

  verify.py [--vkey VKEY] [--checkpoint SAVED]... [--read-only] ARCHIVE_DIR
      full archive verification (FORMAT.md 9.1): ledger.db (read-only) and
      log.pub (not needed with --vkey); optional trusted key and saved
      checkpoint notes.  A
      directory it cannot write (or any, with --read-only) is read as a
      read-only copy: when ledger.db-wal holds data, ledger.db and the WAL
      are copied into a temporary directory so that SQLite applies the WAL;
      the WAL is never ignored.  A damaged or missing ledger.db is a
      failure.
  verify.py --leaves FILE --checkpoint FILE [--checkpoint FILE]... --vkey VKEY
      from `chatledger leaves` output and signed checkpoint(s) (9.2).
  verify.py --proof FILE --leaf-hex HEX --vkey VKEY
      one C2SP tlog-proof (inclusion) against the entry's leaf (9.3, 8.1).
  verify.py --consistency FILE --checkpoint OLD --checkpoint NEW --vkey VKEY
      a chatledger-consistency-proof@v1 between two signed checkpoints (8.2).

VKEY is a verifier key string, or a file that holds one.
Prints "OK: ..." and exits 0, or "FAIL: reason" and exits 1; usage or I/O
problems print "ERROR: ..." and exit 2.
"""

import argparse
import base64
import binascii
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import urllib.parse

# ---- constants (FORMAT.md) ------------------------------------------------

TIME_NONE = -(2 ** 63)
NOPREV = 2 ** 64 - 1
ZERO32 = bytes(32)
LEAF_FIXED = 271
LEAF_VERSION = 2
# Formats read (10): 2, and 3, which adds payload version 2.
ARCHIVE_FORMATS = (2, 3)
MAX_BODY = 65536
NODE_LEVEL = 8
ENTRY_TYPES = {1: "record", 2: "tombstone", 3: "coverage", 4: "control",
               5: "quarantine"}
# Payload blob versions (6.3) and their shortest well-formed length:
# 1 = version || nonce || AEAD, 2 = version || AEAD; a keyless verifier
# checks only the version byte and the length.
PAYLOAD_MIN = {1: 1 + 24 + 16 + 32, 2: 1 + 16 + 32}
EMPTY_ROOT = hashlib.sha256(b"").digest()
SPKI_ED25519 = bytes.fromhex("302a300506032b6570032100")
EM_DASH_SP = "\u2014 "
TLOG_PROOF_HEADER = "c2sp.org/tlog-proof@v1"
CONS_PROOF_HEADER = "chatledger-consistency-proof@v1"
MAX_SIGS = 100
MAX_PROOF_HASHES = 128
B64_ALPHABET = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=")
NAME_SPACES = frozenset([0x20, 0xA0, 0x1680, 0x2028, 0x2029, 0x202F, 0x205F,
                         0x3000] + list(range(0x2000, 0x200B)))


class Fail(Exception):
    """Verification failed: the data is not what FORMAT.md requires."""


class Error(Exception):
    """Verification could not run (usage, missing file, no openssl)."""


# ---- encodings ----------------------------------------------------------

def b64_canonical(s, what):
    """Decode canonical padded standard base64 (FORMAT.md notation)."""
    if not s or any(c not in B64_ALPHABET for c in s):
        raise Fail("%s is not base64" % what)
    try:
        b = base64.b64decode(s, validate=True)
    except (binascii.Error, ValueError):
        raise Fail("%s is not valid base64" % what)
    if base64.b64encode(b).decode("ascii") != s:
        raise Fail("%s is not canonical base64" % what)
    return b


def parse_dec(s, what):
    """ASCII decimal, no leading zeros except "0", fits in 64 bits."""
    if not s or len(s) > 20 or not all("0" <= c <= "9" for c in s) or \
            (len(s) > 1 and s[0] == "0"):
        raise Fail("%s is not a decimal without leading zeros" % what)
    v = int(s)
    if v >= 2 ** 64:
        raise Fail("%s does not fit in 64 bits" % what)
    return v


def note_chars_ok(text):
    """Valid note text: no character below U+0020 but newline (7.4)."""
    return all(c == "\n" or ord(c) >= 0x20 for c in text)


def name_valid(name):
    """Key name rule of FORMAT.md 7.3."""
    if not name:
        return False
    for c in name:
        cp = ord(c)
        if c == "+" or cp < 0x20 or 0x7F <= cp <= 0x9F or cp in NAME_SPACES:
            return False
    return True


def kind_valid(k):
    """A kind string: [a-z][a-z0-9_-]{0,31} (FORMAT.md 2.2)."""
    if not 1 <= len(k) <= 32 or not "a" <= k[0] <= "z":
        return False
    return all("a" <= c <= "z" or "0" <= c <= "9" or c in "_-" for c in k)


# ---- Merkle tree (FORMAT.md 5, RFC 9162) --------------------------------

def sha256(b):
    return hashlib.sha256(b).digest()


def leaf_hash(leaf):
    return sha256(b"\x00" + leaf)


def node_hash(left, right):
    return sha256(b"\x01" + left + right)


class CompactRange:
    """The tree over leaves [0, size): one perfect subtree root per set bit
    of size, largest first."""

    def __init__(self):
        self.size = 0
        self.hashes = []

    def append(self, h, emit=None):
        """Append a leaf hash; emit(level, pos, hash) for each perfect
        subtree completed, lowest level first (the leaf is level 0)."""
        pos = self.size
        level = 0
        while True:
            if emit is not None:
                emit(level, pos >> level, h)
            if (pos >> level) & 1 == 0:
                break
            h = node_hash(self.hashes.pop(), h)
            level += 1
        self.hashes.append(h)
        self.size += 1

    def root(self):
        if not self.hashes:
            return EMPTY_ROOT
        acc = self.hashes[-1]
        for h in reversed(self.hashes[:-1]):
            acc = node_hash(h, acc)
        return acc


def verify_inclusion(index, size, lh, proof, root):
    """RFC 9162 2.1.3.2 with the exact-length rule of FORMAT.md 8.1."""
    if index >= size:
        raise Fail("index %d is not below the tree size %d" % (index, size))
    inner = (index ^ (size - 1)).bit_length()
    border = bin(index >> inner).count("1")
    if len(proof) != inner + border:
        raise Fail("inclusion proof has %d hashes, expected %d"
                   % (len(proof), inner + border))
    fn, sn, r = index, size - 1, lh
    for p in proof:
        if sn == 0:
            raise Fail("inclusion proof is too long")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while fn != 0 and fn & 1 == 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0 or r != root:
        raise Fail("inclusion proof does not lead to the checkpoint root")


def verify_consistency(size1, size2, root1, root2, proof):
    """RFC 9162 2.1.4.2 with exact length (FORMAT.md 8.2)."""
    if size1 == 0 or size1 > size2:
        raise Fail("consistency proof sizes %d -> %d are impossible"
                   % (size1, size2))
    if size1 == size2:
        if proof:
            raise Fail("consistency proof between equal sizes must be empty")
        if root1 != root2:
            raise Fail("two checkpoints of size %d have different roots "
                       "(split view)" % size1)
        return
    shift = (size1 & -size1).bit_length() - 1
    inner = ((size1 - 1) ^ (size2 - 1)).bit_length()
    border = bin((size1 - 1) >> inner).count("1")
    inner -= shift
    start = 0 if size1 == 1 << shift else 1
    if len(proof) != start + inner + border:
        raise Fail("consistency proof has %d hashes, expected %d"
                   % (len(proof), start + inner + border))
    fn, sn = (size1 - 1) >> shift, (size2 - 1) >> shift
    fr = root1 if start == 0 else proof[0]
    sr = fr
    for c in proof[start:]:
        if sn == 0:
            raise Fail("consistency proof is too long")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while fn != 0 and fn & 1 == 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0 or fr != root1 or sr != root2:
        raise Fail("consistency proof does not join the two checkpoints: "
                   "the newer log is not an extension of the older one")


# ---- leaves (FORMAT.md 3) -----------------------------------------------

class Leaf:
    __slots__ = ("raw", "version", "type", "index", "sent_at", "received_at",
                 "logged_at", "kind", "key_hash", "conv_tag", "prev_index",
                 "prev_hash", "ct_hash", "pt_hash", "aux_hash", "ch_hash",
                 "body")


def be64(b):
    return int.from_bytes(b, "big")


def i64(b):
    return int.from_bytes(b, "big", signed=True)


def parse_leaf(raw, where):
    """Strict parse, FORMAT.md 3.1."""
    n = len(raw)
    if n < LEAF_FIXED + 1:
        raise Fail("%s: leaf is malformed (too short: %d bytes)" % (where, n))
    lf = Leaf()
    lf.raw = raw
    lf.version = raw[0]
    lf.type = raw[1]
    if lf.version != LEAF_VERSION:
        raise Fail("%s: leaf is malformed (unknown version %d)"
                   % (where, lf.version))
    if lf.type not in ENTRY_TYPES:
        raise Fail("%s: leaf is malformed (unknown entry type %d)"
                   % (where, lf.type))
    lf.index = be64(raw[2:10])
    lf.sent_at = i64(raw[10:18])
    lf.received_at = i64(raw[18:26])
    lf.logged_at = i64(raw[26:34])
    k = raw[34]
    if k < 1 or k > 32 or n < LEAF_FIXED + k:
        raise Fail("%s: leaf is malformed (kind length %d)" % (where, k))
    try:
        lf.kind = raw[35:35 + k].decode("ascii")
    except UnicodeDecodeError:
        lf.kind = ""
    if not kind_valid(lf.kind):
        raise Fail("%s: leaf is malformed (invalid kind)" % where)
    o = 35 + k
    lf.key_hash = raw[o:o + 32]
    lf.conv_tag = raw[o + 32:o + 64]
    lf.prev_index = be64(raw[o + 64:o + 72])
    lf.prev_hash = raw[o + 72:o + 104]
    lf.ct_hash = raw[o + 104:o + 136]
    lf.pt_hash = raw[o + 136:o + 168]
    lf.aux_hash = raw[o + 168:o + 200]
    lf.ch_hash = raw[o + 200:o + 232]
    blen = be64(raw[o + 232:o + 236])
    if blen > MAX_BODY or n != LEAF_FIXED + k + blen:
        raise Fail("%s: leaf is malformed (length %d does not match its "
                   "fields)" % (where, n))
    lf.body = raw[o + 236:]
    return lf


def lp(b):
    return len(b).to_bytes(4, "big") + b


def aux_hash(eph, wrapped, attrs):
    """FORMAT.md 3: the leaf's commitment to the key rows and attrs."""
    if eph is None and wrapped is None and attrs is None:
        return ZERO32
    return sha256(b"chatledger/aux/v2" + lp(eph or b"") + lp(wrapped or b"")
                  + (b"\x00" if attrs is None else b"\x01")
                  + lp(attrs or b""))


def ch_hash(ch):
    """FORMAT.md 3: the leaf's commitment to dedup.ch."""
    if ch is None:
        return ZERO32
    return sha256(b"chatledger/ch/v2" + (ch & (2**64 - 1)).to_bytes(8, "big"))


def tombstone_target(lf, where):
    """FORMAT.md 3.4: the erased index named by a tombstone's body."""
    def no_constant(c):
        raise ValueError(c)
    try:
        body = json.loads(lf.body.decode("utf-8"), parse_constant=no_constant)
    except (UnicodeDecodeError, ValueError):
        body = None
    x = body.get("erased") if isinstance(body, dict) else None
    if not isinstance(x, int) or isinstance(x, bool) or x < 0 or \
            x >= lf.index:
        raise Fail("%s: tombstone does not name an earlier entry" % where)
    return x


class LeafChecker:
    """Checks shared by the archive and leaves modes (9.1 step 7): index
    field, chains, tombstones, unique key hashes, tree and checkpoints."""

    def __init__(self, checkpoints, emit=None):
        self.range = CompactRange()
        self.heads = {}
        self.keys = set()
        self.erased_by = set()
        self.cps = sorted(checkpoints, key=lambda c: c["size"])
        self.cpi = 0
        self.emit = emit
        self.counts = dict((t, 0) for t in ENTRY_TYPES)
        self.check_checkpoints()

    def check_checkpoints(self):
        while self.cpi < len(self.cps) and \
                self.cps[self.cpi]["size"] == self.range.size:
            cp = self.cps[self.cpi]
            if self.range.root() != cp["root"]:
                if cp["size"] == 0:
                    raise Fail("checkpoint of size 0 does not commit to the "
                               "empty tree")
                if cp.get("saved"):
                    raise Fail("saved checkpoint '%s' (size %d) does not "
                               "match this log: its history was rewritten"
                               % (cp["name"], cp["size"]))
                raise Fail("tree over entries 0..%d does not match the "
                           "signed checkpoint of size %d (%s): an entry "
                           "before it was altered"
                           % (cp["size"] - 1, cp["size"], cp["name"]))
            self.cpi += 1

    def add(self, idx, lf):
        where = "entry %d" % idx
        if lf.index != idx:
            raise Fail("%s: leaf says it is entry %d (entries moved or "
                       "swapped)" % (where, lf.index))
        lh = leaf_hash(lf.raw)
        head = self.heads.get(lf.conv_tag)
        if head is None:
            ok = lf.prev_index == NOPREV and lf.prev_hash == ZERO32
        else:
            ok = lf.prev_index == head[0] and lf.prev_hash == head[1]
        if not ok:
            raise Fail("%s: conversation chain broken (links to %s, the "
                       "previous entry of its conversation is %s)"
                       % (where,
                          "none" if lf.prev_index == NOPREV
                          else "entry %d" % lf.prev_index,
                          "none" if head is None else "entry %d" % head[0]))
        self.heads[lf.conv_tag] = (idx, lh)
        if lf.type == 2:
            self.erased_by.add(tombstone_target(lf, where))
        if lf.key_hash != ZERO32:
            if lf.key_hash in self.keys:
                raise Fail("%s: its key hash repeats an earlier entry's "
                           "(duplicated or replayed entry)" % where)
            self.keys.add(lf.key_hash)
        self.counts[lf.type] += 1
        self.range.append(lh, self.emit)
        self.check_checkpoints()


# ---- signed notes, keys, checkpoints (FORMAT.md 7) ----------------------

class VerifierKey:
    def __init__(self, s):
        """Parse name+hex8(id)+base64(0x01||pk) (7.3)."""
        self.text = s
        plus = s.find("+")
        if plus < 0:
            raise Fail("verifier key has no '+'")
        self.name = s[:plus]
        if not name_valid(self.name):
            raise Fail("verifier key has an invalid name")
        rest = s[plus + 1:]
        if len(rest) < 9 or rest[8] != "+" or \
                not all(c in "0123456789abcdefABCDEF" for c in rest[:8]):
            raise Fail("verifier key has no 8-digit hex key ID")
        self.id = int(rest[:8], 16)
        raw = b64_canonical(rest[9:], "verifier key")
        if len(raw) < 1 or raw[0] != 0x01:
            raise Fail("verifier key has an unknown key type")
        if len(raw) != 33:
            raise Fail("verifier key is not 32 bytes long")
        self.pk = raw[1:]
        want = key_id(self.name, self.pk)
        if want != self.id:
            raise Fail("verifier key ID %08x does not match the key (%08x)"
                       % (self.id, want))


def key_id(name, pk):
    return int.from_bytes(
        sha256(name.encode("utf-8") + b"\n\x01" + pk)[:4], "big")


class Ed25519:
    """Ed25519 verification through `openssl pkeyutl`."""

    def __init__(self):
        self.openssl = shutil.which("openssl")
        if self.openssl is None:
            raise Error("the openssl command is needed for Ed25519 checks")
        self.tmp = tempfile.mkdtemp(prefix="clverify.")
        self.pems = {}
        self.n = 0

    def close(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def verify(self, pk, msg, sig):
        pem = self.pems.get(pk)
        if pem is None:
            pem = os.path.join(self.tmp, "pub%d.pem" % len(self.pems))
            der = base64.b64encode(SPKI_ED25519 + pk).decode("ascii")
            with open(pem, "w") as f:
                f.write("-----BEGIN PUBLIC KEY-----\n%s\n"
                        "-----END PUBLIC KEY-----\n" % der)
            self.pems[pk] = pem
        self.n += 1
        mf = os.path.join(self.tmp, "msg")
        sf = os.path.join(self.tmp, "sig")
        with open(mf, "wb") as f:
            f.write(msg)
        with open(sf, "wb") as f:
            f.write(sig)
        r = subprocess.run([self.openssl, "pkeyutl", "-verify", "-pubin",
                            "-inkey", pem, "-rawin", "-in", mf,
                            "-sigfile", sf],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        if r.returncode not in (0, 1):
            raise Error("openssl pkeyutl failed: %s"
                        % r.stderr.decode("utf-8", "replace").strip())
        return r.returncode == 0 and b"Verified Successfully" in r.stdout


def verify_note(note, key, ed):
    """FORMAT.md 7.4 steps 1-5.  note: bytes.  Returns the text (bytes)."""
    try:
        s = note.decode("utf-8")
    except UnicodeDecodeError:
        raise Fail("note is not valid UTF-8")
    if not s.endswith("\n"):
        raise Fail("note does not end in a newline")
    if not note_chars_ok(s):
        raise Fail("note contains control characters")
    j = note.rfind(b"\n\n")
    if j < 0:
        raise Fail("note has no blank line before its signatures")
    text = note[:j + 1]
    sigs = note[j + 2:]
    if not sigs:
        raise Fail("note has no signature lines")
    lines = sigs.decode("utf-8").split("\n")[:-1]
    if len(lines) > MAX_SIGS:
        raise Fail("note has more than %d signatures" % MAX_SIGS)
    matched = False
    for no, line in enumerate(lines, 1):
        if not line.startswith(EM_DASH_SP):
            raise Fail("signature line %d does not start with an em dash "
                       "and a space" % no)
        rest = line[len(EM_DASH_SP):]
        sp = rest.find(" ")
        if sp < 0 or not name_valid(rest[:sp]):
            raise Fail("signature line %d has no valid key name" % no)
        blob = b64_canonical(rest[sp + 1:], "signature line %d" % no)
        if len(blob) < 5:
            raise Fail("signature line %d is shorter than 5 bytes" % no)
        if rest[:sp] != key.name or int.from_bytes(blob[:4], "big") != key.id:
            continue
        matched = True
        if len(blob) != 68 or not ed.verify(key.pk, text, blob[4:]):
            raise Fail("signature does not verify under the log key "
                       "(signature line %d by %s)" % (no, key.name))
    if not matched:
        raise Fail("signature does not verify under the log key (no "
                   "signature by %s+%08x)" % (key.name, key.id))
    return text


def parse_checkpoint(text):
    """FORMAT.md 7.1.  text: bytes ending in newline."""
    s = text.decode("utf-8")
    lines = s[:-1].split("\n")
    if len(lines) < 3 or not lines[0]:
        raise Fail("malformed checkpoint (no origin, size and root)")
    size = parse_dec(lines[1], "checkpoint tree size")
    if len(lines[2]) != 44:
        raise Fail("malformed checkpoint (bad root hash)")
    root = b64_canonical(lines[2], "checkpoint root hash")
    if len(root) != 32:
        raise Fail("malformed checkpoint (root is not 32 bytes)")
    if any(not ext for ext in lines[3:]):
        raise Fail("malformed checkpoint (empty extension line)")
    return {"origin": lines[0], "size": size, "root": root}


def check_signed_checkpoint(note, key, ed, origin, name):
    """FORMAT.md 7.4 in full: signature, then body, then origin."""
    try:
        text = verify_note(note, key, ed)
        cp = parse_checkpoint(text)
    except Fail as e:
        raise Fail("%s: %s" % (name, e))
    if cp["origin"] != origin:
        raise Fail("%s: origin '%s' is not this log's '%s'"
                   % (name, cp["origin"], origin))
    cp["name"] = name
    return cp


# ---- archive mode (FORMAT.md 9.1) ---------------------------------------

def read_key_arg(s):
    if s is None:
        return None
    if os.path.isfile(s):
        with open(s, "rb") as f:
            s = f.read().decode("utf-8", "replace")
    return s.rstrip("\r\n")


def read_file(path, what):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        raise Error("cannot read %s '%s': %s" % (what, path, e.strerror))


SQLITE_MAGIC = b"SQLite format 3\x00"
LEDGER_TABLES = ("meta", "checkpoint", "entry", "dedup", "chain_head",
                 "payload", "key_batch", "sealed_key", "node")


def damage_in_header(path):
    """What the SQLite header and the file size say is wrong, or None."""
    try:
        with open(path, "rb") as f:
            h = f.read(100)
        size = os.path.getsize(path)
    except OSError:
        return None
    if size == 0:
        return "the file is empty"
    if len(h) < 100:
        return ("the file is cut short: %d bytes, less than the 100-byte "
                "SQLite header" % size)
    if h[:16] != SQLITE_MAGIC:
        return ("its SQLite header is damaged (bytes 0-15 are not "
                "\"SQLite format 3\")")
    ps = int.from_bytes(h[16:18], "big")
    ps = 65536 if ps == 1 else ps
    if ps < 512 or ps & (ps - 1):
        return ("its SQLite header is damaged (page size field, bytes 16-17, "
                "reads %d)" % ps)
    pages = int.from_bytes(h[28:32], "big")
    if pages and h[24:28] == h[92:96] and size < pages * ps:
        return ("the file is cut short: %d bytes, but its header says %d "
                "pages of %d bytes (%d bytes)" % (size, pages, ps, pages * ps))
    if size % ps:
        return ("the file is cut short: %d bytes is not a whole number of "
                "%d-byte pages" % (size, ps))
    return None


def damage_in_tables(uri):
    """The first ledger table SQLite cannot read in full, or None."""
    try:
        db = sqlite3.connect(uri, uri=True)
    except sqlite3.Error:
        return None
    try:
        for t in LEDGER_TABLES:
            rows = 0
            try:
                for _ in db.execute("SELECT * FROM %s" % t):
                    rows += 1
            except sqlite3.OperationalError:
                continue
            except sqlite3.DatabaseError:
                return ("table %s is unreadable after %d rows" % (t, rows)
                        if rows else
                        "table %s is unreadable from its first row" % t)
        return None
    finally:
        db.close()


def damaged(ro, e):
    """A Fail for SQLite error e on the opened archive `ro`."""
    where = damage_in_header(ro.file) or damage_in_tables(ro.uri)
    return Fail("ledger.db is damaged (%s)%s" % (e, ": " + where if where
                                                 else ""))


class ReadOnlyDb:
    """ledger.db opened read-only in one read transaction (FORMAT.md 9.1).
    A directory this process cannot write (or any, with force) is a
    read-only copy: immutable=1 when ledger.db-wal is absent or empty,
    else a temporary copy of ledger.db and the WAL, opened normally so
    that SQLite applies the WAL."""

    def __init__(self, adir, force):
        self.tmp = None
        self.db = None
        path = os.path.join(adir, "ledger.db")
        if not os.path.isdir(adir):
            raise Error("'%s' is not a chatledger archive (no such directory)"
                        % adir)
        if not os.path.isfile(path):
            if any(os.path.exists(os.path.join(adir, f))
                   for f in ("log.pub", "chatledger.conf")):
                raise Fail("ledger.db is missing (the archive directory holds "
                           "log.pub or chatledger.conf but no database)")
            raise Error("'%s' is not a chatledger archive (no ledger.db)"
                        % adir)
        self.file = path
        extra = ""
        wal = path + "-wal"
        if force or not os.access(adir, os.W_OK):
            if os.path.exists(wal) and os.path.getsize(wal) > 0:
                self.tmp = tempfile.mkdtemp(prefix="clverify-ro.")
                try:
                    for f in (path, wal):
                        shutil.copyfile(f, os.path.join(
                            self.tmp, os.path.basename(f)))
                except OSError as e:
                    self.close()
                    raise Error("cannot copy the read-only archive with its "
                                "WAL: %s" % e)
                self.file = os.path.join(self.tmp, "ledger.db")
            else:
                extra = "&immutable=1"
        self.uri = "file:%s?mode=ro%s" % (
            urllib.parse.quote(os.path.abspath(self.file)), extra)
        try:
            self.db = sqlite3.connect(self.uri, uri=True,
                                      isolation_level=None)
            self.db.execute("BEGIN")
            self.db.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.OperationalError as e:
            self.close()
            raise Error("cannot open '%s' read-only: %s" % (path, e))
        except sqlite3.DatabaseError as e:
            err = damaged(self, e)
            self.close()
            raise err

    def close(self):
        if self.db is not None:
            self.db.close()
            self.db = None
        if self.tmp is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
            self.tmp = None


def meta(db, k):
    r = db.execute("SELECT v FROM meta WHERE k = ?", (k,)).fetchone()
    return None if r is None else r[0]


def verify_archive(adir, trusted, saved_files, ed, read_only=False):
    ro = ReadOnlyDb(adir, read_only)
    try:
        return _verify_archive(ro.db, adir, trusted, saved_files, ed)
    except sqlite3.OperationalError as e:
        raise Fail("ledger.db is damaged or not a chatledger ledger: %s" % e)
    except sqlite3.DatabaseError as e:
        raise damaged(ro, e)
    finally:
        ro.close()


def _verify_archive(db, adir, trusted, saved_files, ed):
    # Step 1: identity.
    origin, dbkey = meta(db, "origin"), meta(db, "vkey")
    if not isinstance(origin, str) or not isinstance(dbkey, str):
        raise Fail("archive metadata (origin, log key) is missing")
    fmt = meta(db, "format")
    if fmt == 1 and not isinstance(fmt, bool):
        raise Fail("format 1 archive: this verifier checks formats 2 and 3")
    if fmt not in ARCHIVE_FORMATS or isinstance(fmt, bool):
        raise Fail("unknown archive format %r" % (fmt,))
    payload_versions = (1, 2) if fmt >= 3 else (1,)
    # Given the verifier key (--vkey), a copy of ledger.db alone will do.
    if trusted is not None and not os.path.lexists(os.path.join(adir, "log.pub")):
        if trusted != dbkey:
            raise Fail("the log key recorded in the ledger (%s) is not the "
                       "trusted key %s" % (dbkey, trusted))
        filekey = dbkey
    else:
        filekey = read_file(os.path.join(adir, "log.pub"), "log key") \
            .decode("utf-8", "replace").rstrip("\r\n")
    if filekey != dbkey:
        raise Fail("log key substituted: log.pub (%s) differs from the key "
                   "recorded in the ledger (%s)" % (filekey, dbkey))
    if trusted is not None and trusted != filekey:
        raise Fail("the archive's log key %s is not the trusted key %s"
                   % (filekey, trusted))
    try:
        key = VerifierKey(filekey)
    except Fail as e:
        raise Fail("log key is malformed: %s" % e)
    if key.name != origin:
        raise Fail("log key name '%s' is not the origin '%s'"
                   % (key.name, origin))

    # Step 2: stored checkpoints.
    cps = []
    for size, note in db.execute(
            "SELECT size, note FROM checkpoint ORDER BY size"):
        name = "stored checkpoint of size %s" % size
        if not isinstance(note, str):
            raise Fail("%s: note is not text" % name)
        cp = check_signed_checkpoint(note.encode("utf-8"), key, ed, origin,
                                     name)
        if cp["size"] != size:
            raise Fail("stored checkpoint filed under size %s says size %d"
                       % (size, cp["size"]))
        cps.append(cp)
    if not cps:
        raise Fail("the archive has no signed checkpoint")
    nstored = len(cps)
    check_seal_named(adir, note)

    # n, step 3 (saved checkpoints) and step 4.
    n, count, low = db.execute(
        "SELECT coalesce(max(idx) + 1, 0), count(*), min(idx) FROM entry"
    ).fetchone()
    for path in saved_files:
        cp = check_signed_checkpoint(read_file(path, "checkpoint"), key, ed,
                                     origin, "saved checkpoint '%s'" % path)
        if cp["size"] > n:
            raise Fail("saved checkpoint '%s' has %d entries but the log has "
                       "only %d: the log was truncated or rolled back"
                       % (path, cp["size"], n))
        cp["saved"] = True
        cp["name"] = path
        cps.append(cp)
    last = max(c["size"] for c in cps[:nstored])
    if last > n:
        raise Fail("stored checkpoint of size %d is larger than the log (%d "
                   "entries): entries were deleted" % (last, n))

    # Step 5: node rows.
    nodes = {}
    for level, pos, h in db.execute("SELECT level, pos, hash FROM node"):
        if not isinstance(level, int) or not isinstance(pos, int) or \
                not NODE_LEVEL <= level < 64 or pos < 0 or \
                pos >= n >> level or not isinstance(h, bytes) or \
                len(h) != 32:
            raise Fail("stored tree node (level %r, position %r) does not "
                       "belong to a log of %d entries" % (level, pos, n))
        nodes[(level, pos)] = h

    def emit(level, pos, h):
        if level >= NODE_LEVEL and nodes.get((level, pos)) != h:
            raise Fail("stored tree node (level %d, position %d) is missing "
                       "or wrong" % (level, pos))

    # Step 6 (inside LeafChecker) and step 7: entries.
    chk = LeafChecker(cps, emit)
    if count != n or (low is not None and low < 0):
        r = db.execute("SELECT idx FROM entry WHERE idx < 0 LIMIT 1") \
            .fetchone()
        if r is not None:
            raise Fail("entry row %d lies outside the log" % r[0])
    ct_of = {}
    expect = 0
    aux_of = {}
    for idx, raw, typ, kind, sent_at, kh, attrs, ch, wrapped, eph in \
            db.execute(
                "SELECT e.idx, e.leaf, e.type, e.kind, e.sent_at, d.kh, "
                "e.attrs, d.ch, k.wrapped, b.eph FROM entry e "
                "LEFT JOIN dedup d ON d.idx = e.idx "
                "LEFT JOIN sealed_key k ON k.idx = e.idx "
                "LEFT JOIN key_batch b ON b.id = k.batch ORDER BY e.idx"):
        if idx != expect:
            raise Fail("entry %d is missing (deleted from the log)" % expect)
        expect += 1
        if not isinstance(raw, bytes):
            raise Fail("entry %d: leaf is malformed (not a blob)" % idx)
        lf = parse_leaf(raw, "entry %d" % idx)
        want = (lf.type, lf.kind,
                None if lf.sent_at == TIME_NONE else lf.sent_at,
                None if lf.key_hash == ZERO32 else i64(lf.key_hash[:8]))
        if (typ, kind, sent_at, kh) != want:
            raise Fail("entry %d: index columns (type, kind, sent_at, "
                       "key index) disagree with the leaf" % idx)
        for c in (attrs, wrapped, eph):
            if c is not None and not isinstance(c, bytes):
                raise Fail("entry %d: a key or attrs column has the wrong "
                           "type" % idx)
        if attrs == b"" or (ch is not None and (
                not isinstance(ch, int) or isinstance(ch, bool))):
            raise Fail("entry %d: an attrs or fingerprint column has the "
                       "wrong type" % idx)
        if ch_hash(ch) != lf.ch_hash:
            raise Fail("entry %d: its content fingerprint (dedup.ch) does "
                       "not match its leaf" % idx)
        if aux_hash(eph, wrapped, attrs) != lf.aux_hash:
            # Erased (FORMAT.md 3.4): key rows gone, attrs NULL; step 10
            # requires a tombstone for it.
            if not (lf.ct_hash != ZERO32 and lf.aux_hash != ZERO32
                    and attrs is None and wrapped is None):
                raise Fail("entry %d: its sealed key, key batch or attrs do "
                           "not match its leaf (aux_hash)" % idx)
        aux_of[idx] = lf.aux_hash
        chk.add(idx, lf)
        if lf.ct_hash != ZERO32:
            ct_of[idx] = lf.ct_hash
    if expect != n:
        raise Fail("entry %d is missing (deleted from the log)" % expect)

    # Step 8: payloads and keys.
    batches = {}
    for bid, eph in db.execute("SELECT id, eph FROM key_batch"):
        batches[bid] = eph
    has_ct = set()
    for idx, ct in db.execute("SELECT idx, ct FROM payload ORDER BY idx"):
        if not 0 <= idx < n:
            raise Fail("payload row %d lies outside the log" % idx)
        if idx not in ct_of:
            raise Fail("entry %d: has a stored payload or key its leaf does "
                       "not commit to" % idx)
        if not isinstance(ct, bytes) or not ct or \
                ct[0] not in payload_versions or len(ct) < PAYLOAD_MIN[ct[0]]:
            raise Fail("entry %d: ciphertext is malformed" % idx)
        if sha256(ct) != ct_of[idx]:
            raise Fail("entry %d: ciphertext does not match the SHA-256 in "
                       "its leaf" % idx)
        has_ct.add(idx)
    has_key = set()
    for idx, bid, wrapped in db.execute(
            "SELECT idx, batch, wrapped FROM sealed_key ORDER BY idx"):
        if not 0 <= idx < n:
            raise Fail("sealed key row %d lies outside the log" % idx)
        if idx not in ct_of:
            raise Fail("entry %d: has a stored payload or key its leaf does "
                       "not commit to" % idx)
        if idx not in has_ct:
            raise Fail("entry %d: ciphertext is missing but its key remains"
                       % idx)
        if not isinstance(wrapped, bytes) or len(wrapped) != 48:
            raise Fail("entry %d: sealed key is missing or malformed "
                       "(ciphertext remains)" % idx)
        eph = batches.get(bid)
        if not isinstance(eph, bytes) or len(eph) != 32:
            raise Fail("entry %d: its key batch %r is missing or malformed: "
                       "the payload cannot be decrypted" % (idx, bid))
        has_key.add(idx)
    erased = set()
    for idx in sorted(ct_of):
        if idx in has_ct and idx not in has_key:
            raise Fail("entry %d: sealed key is missing or malformed "
                       "(ciphertext remains)" % idx)
        if idx not in has_ct:
            erased.add(idx)

    # Step 9: unsigned tail.
    if last < n:
        raise Fail("entries %d..%d are not covered by any signed checkpoint"
                   % (last, n - 1))
    if chk.cpi != len(chk.cps):
        raise Fail("checkpoint of size %d was never reached"
                   % chk.cps[chk.cpi]["size"])

    # Step 10: erasures.
    for idx in sorted(erased - chk.erased_by):
        raise Fail("entry %d: ciphertext and key are missing and no "
                   "tombstone records an erasure" % idx)
    for idx in sorted(chk.erased_by - erased):
        raise Fail("entry %d: a tombstone records its erasure but its "
                   "ciphertext or key remains (or it never had a payload)"
                   % idx)

    # Step 11: node count.
    want_nodes = sum(n >> lv for lv in range(NODE_LEVEL, 64))
    if len(nodes) != want_nodes:
        raise Fail("the node table holds %d nodes, expected %d"
                   % (len(nodes), want_nodes))

    # Step 12: frontier.
    fr = meta(db, "frontier")
    want_fr = n.to_bytes(8, "big") + b"".join(chk.range.hashes)
    if fr != want_fr:
        raise Fail("the stored frontier (meta 'frontier') does not match the "
                   "tree of %d entries" % n)

    # Step 13: the writer's index tables (FORMAT.md 4).
    if db.execute("SELECT count(*) FROM dedup WHERE idx NOT IN "
                  "(SELECT idx FROM entry)").fetchone()[0]:
        raise Fail("a key index row belongs to no entry")
    stored_heads = {}
    for tag, idx, h in db.execute("SELECT tag, idx, hash FROM chain_head"):
        stored_heads[bytes(tag)] = (idx, bytes(h))
    if len(stored_heads) != len(chk.heads):
        raise Fail("%d chain heads stored, %d conversations in the log"
                   % (len(stored_heads), len(chk.heads)))
    for tag, head in chk.heads.items():
        got = stored_heads.get(bytes(tag))
        if got is None or got[0] != head[0] or got[1] != head[1]:
            raise Fail("a stored chain head is not the last entry of its "
                       "conversation")

    root = chk.range.root()
    c = chk.counts
    return ("archive %s: %d entries (%d records, %d tombstones, %d coverage, "
            "%d control, %d quarantined) in %d chains; %d payloads, %d "
            "erased; %d signed checkpoints%s, %d stored nodes; %d signatures "
            "checked; root %s"
            % (adir, n, c[1], c[2], c[3], c[4], c[5], len(chk.heads),
               len(has_ct), len(erased), nstored,
               "; %d saved checkpoints consistent" % len(saved_files)
               if saved_files else "", len(nodes), ed.n, root.hex()))


def check_seal_named(adir, note):
    """FORMAT.md 7.1, 9.1 step 2.4: the latest signed checkpoint names the
    sealing key; seal.pub and seal.key's public half, when present, must
    be it."""
    body = note.split("\n\n")[0].split("\n")[3:]
    lines = [ln for ln in body if ln.startswith("chatledger-seal ")]
    if len(lines) != 1:
        raise Fail("the latest signed checkpoint names no sealing key")
    named = b64_canonical(lines[0][len("chatledger-seal "):], "sealing key")
    if len(named) != 32:
        raise Fail("the latest signed checkpoint names no sealing key")
    p = os.path.join(adir, "seal.pub")
    if os.path.exists(p):
        t = open(p, "rb").read().decode("ascii", "replace").rstrip("\r\n")
        pre = "chatledger-seal-public-key-v1 "
        if not t.startswith(pre) or \
                b64_canonical(t[len(pre):], "seal.pub") != named:
            raise Fail("seal.pub is not the sealing key the log names (its "
                       "latest signed checkpoint)")
    p = os.path.join(adir, "seal.key")
    if os.path.exists(p) and os.access(p, os.R_OK):
        if open(p, "rb").read()[-32:] != named:
            raise Fail("seal.key is not the sealing key the log names (its "
                       "latest signed checkpoint)")


# ---- leaves mode (FORMAT.md 9.2) ----------------------------------------

def read_leaves(path):
    data = read_file(path, "leaves")
    try:
        s = data.decode("ascii")
    except UnicodeDecodeError:
        raise Fail("leaves file is not ASCII hex")
    if s and not s.endswith("\n"):
        raise Fail("leaves file does not end in a newline")
    lines = s.split("\n")[:-1]
    out = []
    for no, line in enumerate(lines):
        if not line or len(line) % 2 or \
                any(c not in "0123456789abcdef" for c in line):
            raise Fail("leaves line %d is not lower-case hex" % (no + 1))
        out.append(bytes.fromhex(line))
    return out


def verify_leaves(path, cp_files, key, ed):
    if not cp_files:
        raise Error("--leaves needs at least one --checkpoint")
    leaves = read_leaves(path)
    n = len(leaves)
    cps = []
    for f in cp_files:
        cp = check_signed_checkpoint(read_file(f, "checkpoint"), key, ed,
                                     key.name, "checkpoint '%s'" % f)
        if cp["size"] > n:
            raise Fail("checkpoint '%s' has %d entries but only %d leaves "
                       "were given" % (f, cp["size"], n))
        cps.append(cp)
    chk = LeafChecker(cps)
    for idx, raw in enumerate(leaves):
        chk.add(idx, parse_leaf(raw, "entry %d" % idx))
    last = max(c["size"] for c in cps)
    if last < n:
        raise Fail("entries %d..%d are not covered by any signed checkpoint"
                   % (last, n - 1))
    c = chk.counts
    return ("%d leaves (%d records, %d tombstones, %d coverage, %d control, "
            "%d quarantined) in %d chains match %d signed checkpoint(s) of "
            "%s; root %s"
            % (n, c[1], c[2], c[3], c[4], c[5], len(chk.heads), len(cps),
               key.name, chk.range.root().hex()))


# ---- proof modes (FORMAT.md 8) ------------------------------------------

def parse_tlog_proof(data):
    """FORMAT.md 8.1.  Returns (index, hashes, note bytes)."""
    try:
        s = data.decode("utf-8")
    except UnicodeDecodeError:
        raise Fail("proof is not valid UTF-8")
    if not note_chars_ok(s):
        raise Fail("proof contains control characters")
    pos = 0

    def line():
        nonlocal pos
        e = s.find("\n", pos)
        if e < 0:
            return None
        ln = s[pos:e]
        pos = e + 1
        return ln

    if line() != TLOG_PROOF_HEADER:
        raise Fail("proof does not start with " + TLOG_PROOF_HEADER)
    ln = line()
    if ln is not None and ln.startswith("extra "):
        b64_canonical(ln[6:], "proof extra line")
        ln = line()
    if ln is None or not ln.startswith("index "):
        raise Fail("proof has a missing or bad index line")
    index = parse_dec(ln[6:], "proof index")
    hashes = []
    while True:
        ln = line()
        if ln is None:
            raise Fail("proof has no blank line before the checkpoint")
        if ln == "":
            break
        if len(hashes) == MAX_PROOF_HASHES:
            raise Fail("proof has more than %d hashes" % MAX_PROOF_HASHES)
        h = b64_canonical(ln, "proof hash %d" % (len(hashes) + 1))
        if len(h) != 32 or len(ln) != 44:
            raise Fail("proof hash %d is not 32 bytes" % (len(hashes) + 1))
        hashes.append(h)
    note = s[pos:]
    if not note or note[0] == "\n" or not note.endswith("\n"):
        raise Fail("proof has a missing or malformed checkpoint")
    return index, hashes, note.encode("utf-8")


def verify_proof(path, leaf_hex, key, ed):
    index, hashes, note = parse_tlog_proof(read_file(path, "proof"))
    cp = check_signed_checkpoint(note, key, ed, key.name,
                                 "checkpoint in the proof")
    h = leaf_hex.strip()
    if not h or len(h) % 2 or any(c not in "0123456789abcdefABCDEF"
                                  for c in h):
        raise Fail("--leaf-hex is not hex")
    lf = parse_leaf(bytes.fromhex(h), "the leaf")
    if lf.index != index:
        raise Fail("the leaf says it is entry %d but the proof is for entry "
                   "%d" % (lf.index, index))
    verify_inclusion(index, cp["size"], leaf_hash(lf.raw), hashes,
                     cp["root"])
    return ("entry %d (%s, kind %s) is included in the checkpoint of size %d "
            "signed by %s; root %s"
            % (index, ENTRY_TYPES[lf.type], lf.kind, cp["size"], key.name,
               cp["root"].hex()))


def parse_consistency_proof(data):
    """FORMAT.md 8.2.  Returns (old, new, hashes)."""
    try:
        s = data.decode("ascii")
    except UnicodeDecodeError:
        raise Fail("consistency proof is not ASCII")
    if not s.endswith("\n"):
        raise Fail("consistency proof does not end in a newline")
    lines = s[:-1].split("\n")
    if len(lines) < 3 or lines[0] != CONS_PROOF_HEADER or \
            not lines[1].startswith("old ") or \
            not lines[2].startswith("new "):
        raise Fail("consistency proof does not start with %s, old, new"
                   % CONS_PROOF_HEADER)
    old = parse_dec(lines[1][4:], "old size")
    new = parse_dec(lines[2][4:], "new size")
    if old > new:
        raise Fail("consistency proof old size is larger than new size")
    if len(lines) - 3 > MAX_PROOF_HASHES:
        raise Fail("consistency proof has too many hashes")
    hashes = []
    for no, ln in enumerate(lines[3:], 1):
        h = b64_canonical(ln, "consistency proof hash %d" % no)
        if len(h) != 32 or len(ln) != 44:
            raise Fail("consistency proof hash %d is not 32 bytes" % no)
        hashes.append(h)
    return old, new, hashes


def verify_consistency_file(path, cp_files, key, ed):
    if len(cp_files) != 2:
        raise Error("--consistency needs exactly two --checkpoint files")
    old, new, hashes = parse_consistency_proof(read_file(path, "proof"))
    cps = sorted((check_signed_checkpoint(read_file(f, "checkpoint"), key,
                                          ed, key.name,
                                          "checkpoint '%s'" % f)
                  for f in cp_files), key=lambda c: c["size"])
    if (cps[0]["size"], cps[1]["size"]) != (old, new):
        raise Fail("the proof is for sizes %d -> %d but the checkpoints have "
                   "sizes %d and %d"
                   % (old, new, cps[0]["size"], cps[1]["size"]))
    verify_consistency(old, new, cps[0]["root"], cps[1]["root"], hashes)
    return ("the checkpoint of size %d is a prefix of the checkpoint of size "
            "%d (%d proof hashes; signed by %s)"
            % (old, new, len(hashes), key.name))


# ---- main ---------------------------------------------------------------

def main(argv):
    ap = argparse.ArgumentParser(
        description="Independent keyless verifier for chatledger archives "
                    "(docs/FORMAT.md).")
    ap.add_argument("archive", nargs="?", help="archive directory")
    ap.add_argument("--vkey", help="trusted verifier key string, or a file")
    ap.add_argument("--checkpoint", action="append", default=[],
                    help="signed checkpoint note file (repeatable)")
    ap.add_argument("--leaves", help="`chatledger leaves` output")
    ap.add_argument("--proof", help="C2SP tlog-proof file")
    ap.add_argument("--leaf-hex", help="the proven entry's leaf, hex")
    ap.add_argument("--consistency", help="chatledger consistency proof")
    ap.add_argument("--read-only", action="store_true",
                    help="read ARCHIVE as a read-only copy (no file is "
                    "created in it) even if it is writable")
    a = ap.parse_args(argv)
    ed = None
    try:
        modes = [m for m in (a.leaves, a.proof, a.consistency, a.archive)
                 if m is not None]
        if len(modes) != 1:
            raise Error("give exactly one of ARCHIVE, --leaves, --proof, "
                        "--consistency")
        ed = Ed25519()
        trusted = read_key_arg(a.vkey)
        if a.archive is not None:
            msg = verify_archive(a.archive, trusted, a.checkpoint, ed,
                                 a.read_only)
        else:
            if trusted is None:
                raise Error("--vkey is required with --leaves, --proof and "
                            "--consistency")
            try:
                key = VerifierKey(trusted)
            except Fail as e:
                raise Error("--vkey: %s" % e)
            if a.leaves is not None:
                msg = verify_leaves(a.leaves, a.checkpoint, key, ed)
            elif a.proof is not None:
                if a.leaf_hex is None:
                    raise Error("--proof needs --leaf-hex")
                msg = verify_proof(a.proof, a.leaf_hex, key, ed)
            else:
                msg = verify_consistency_file(a.consistency, a.checkpoint,
                                              key, ed)
    except Fail as e:
        print("FAIL: %s" % e)
        return 1
    except Error as e:
        print("ERROR: %s" % e)
        return 2
    finally:
        if ed is not None:
            ed.close()
    print("OK: %s" % msg)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
