#!/usr/bin/env python3
"""collector_bench.py (bench/collector.sh): latency and throughput of the
collector.  Harness shared with tests/cli/collector_msgs_test.py: - the collector receives, decrypts and archives
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
sys.path.insert(0, os.path.join(os.environ["CL_ROOT"], "tests", "cli"))
from collector_lib import *  # noqa: E402,F401,F403





def cpu_s(pid):
    """User + system CPU seconds of a process so far."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return -1.0


def rss_kb(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return -1


N = int(os.environ.get("CB_MESSAGES", "2000"))
BASE = float(os.environ["BASE_RATE"])
try:
    peer = Peer("bench")
    A = new_archive("a", peer)
    p, qr, png, m0 = pair(A, peer)
    p.wait(timeout=60)
    m1 = peer.mark()
    col = start(["collect", "-a", A], "collect")
    peer.wait("login-ok", after=m1, timeout=20)
    # warm up: sessions and sender keys for every sender
    peer.cmd("script 30 warm")
    peer.wait("script-done", after=m1, timeout=60)
    wait_for(lambda: peer.count("receipt", m1) >= 30, 60)
    rss0 = rss_kb(col.pid)
    cpu0 = cpu_s(col.pid)
    m2 = peer.mark()
    peer.cmd("script %d bench" % N)
    peer.wait("script-done", after=m2, timeout=600)
    wait_for(lambda: peer.count("receipt", m2) >= N, 600)
    rss1 = rss_kb(col.pid)
    cpu1 = cpu_s(col.pid)
    with peer.cv:
        evs = peer.events[m2:]
    sent_t = {e["id"]: e["t"] for e in evs if e.get("ev") == "sent"}
    rec_t = {e["id"]: e["t"] for e in evs if e.get("ev") == "receipt"}
    lat = sorted(rec_t[i] - sent_t[i] for i in sent_t if i in rec_t)
    first = min(sent_t.values())
    last = max(rec_t.values())
    rate = len(lat) / max((last - first) / 1000.0, 1e-3)
    p50 = lat[len(lat) // 2]
    p99 = lat[min(len(lat) - 1, (len(lat) * 99) // 100)]
    print("collector: %d of %d messages receipted" % (len(lat), N))
    print("flat out: latency send->receipt (decrypt, seal, commit+fsync, receipt; the peer's own queue included): p50 %d ms, p99 %d ms (target p99 <= 20 ms: %s)"
          % (p50, p99, "ok" if p99 <= 20 else "MISS"))
    print("throughput: %.1f messages/s; ratio to the fsync baseline %.2f" % (rate, rate / BASE))
    last_sent = max(sent_t.values())
    print("peer: sent %d messages in %d ms (%.1f/s): the rate offered to the collector"
          % (len(sent_t), last_sent - first, len(sent_t) / max((last_sent - first) / 1000.0, 1e-3)))
    print("collector CPU: %.2f s for %d messages (%.2f ms each)"
          % (cpu1 - cpu0, N, 1000.0 * (cpu1 - cpu0) / N))
    print("collector RSS: %d kB after warm-up, %d kB after %d messages" % (rss0, rss1, N))
    # a paced run: the peer offers 50 messages/s, well under what it can
    # encrypt, so that its own event loop does not delay the receipts it
    # timestamps: the latency is then the collector's
    NP = max(N // 4, 100)
    m3 = peer.mark()
    peer.cmd("script %d paced 20" % NP)
    peer.wait("script-done", after=m3, timeout=600)
    wait_for(lambda: peer.count("receipt", m3) >= NP, 120)
    with peer.cv:
        evs = peer.events[m3:]
    sent_t = {e["id"]: e["t"] for e in evs if e.get("ev") == "sent"}
    rec_t = {e["id"]: e["t"] for e in evs if e.get("ev") == "receipt"}
    lat = sorted(rec_t[i] - sent_t[i] for i in sent_t if i in rec_t)
    if lat:
        print("paced (50/s offered, %d messages): latency send->receipt p50 %d ms, p99 %d ms (target p99 <= 20 ms: %s)"
              % (len(lat), lat[len(lat) // 2],
                 lat[min(len(lat) - 1, (len(lat) * 99) // 100)],
                 "ok" if lat[min(len(lat) - 1, (len(lat) * 99) // 100)] <= 20 else "MISS"))
    col.send_signal(signal.SIGTERM)
    col.wait(timeout=20)
    peer.stop()
except Exception as e:
    import traceback
    traceback.print_exc()
    for c in children:
        if c.poll() is None:
            c.kill()
    sys.exit(2)
for c in children:
    if c.poll() is None:
        c.kill()
