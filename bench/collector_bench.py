#!/usr/bin/env python3
"""collector_bench.py (bench/collector.sh): latency and throughput of the
linked-device collector (issue 13, benchmark 8), driven by the local
peer (tests/peer/peer.js + sender.js) through the harness shared with the
collector tests (tests/cli/collector_lib.py).

Two runs on one paired collector, after a warm-up (sessions and sender
keys for every sender):
  rate      (CB_MODE rate|both) the peer encrypts CB_RATE * CB_SECONDS
            mixed messages first (peer `prepare`), then only frames and
            sends them at CB_RATE/s on absolute deadlines and times each
            send -> receipt (peer `rate`).  Prints offered and achieved
            rate, p50/p90/p99/max latency, the collector's RSS at start
            and end (/proc), its CPU per message, the time it and the peer
            waited for a CPU, and ratios to the fsync baseline.
  scripted  (CB_MODE scripted|both) the older run: the peer encrypts as it
            sends (its JavaScript libsignal limits the offered rate), then
            a paced run at 50/s.
Environment from bench/collector.sh: CHATLEDGER, CL_ROOT, BENCH_SCRATCH,
CB_MESSAGES, BASE_RATE, CB_MODE, CB_RATE, CB_SECONDS, CB_ITER, CB_PERF.
A missed target is printed as MISS; the exit status is 2 only when the
run itself fails.
"""
import os
import re
import subprocess
import sys
import threading
import time

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


def sched_s(pid):
    """Seconds on a CPU and seconds runnable but waiting for one (summed
    over the process's threads, /proc/PID/task/TID/schedstat)."""
    run = wait = 0
    try:
        for tid in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
                a = f.read().split()
            run += int(a[0])
            wait += int(a[1])
    except (OSError, IndexError, ValueError):
        pass
    return run / 1e9, wait / 1e9


def sync_stats(data):
    """fsync/fdatasync calls of a `perf record` of their tracepoints:
    count, p50, p99, max and total, in ms."""
    r = subprocess.run(["perf", "script", "-i", data, "-F", "tid,time,event"],
                       capture_output=True, text=True)
    start = {}
    d = []
    for line in r.stdout.splitlines():
        f = line.split()
        if len(f) < 3:
            continue
        tid, t, ev = f[0], float(f[1].rstrip(":")), f[2]
        if "sys_enter_" in ev:
            start[tid] = t
        elif "sys_exit_" in ev and tid in start:
            d.append(1000.0 * (t - start.pop(tid)))
    d.sort()
    if not d:
        return None
    return len(d), pctl(d, 50), pctl(d, 99), d[-1], sum(d)


def db_mb(d):
    n = 0
    for f in ("ledger.db", "ledger.db-wal"):
        try:
            n += os.path.getsize(os.path.join(d, f))
        except OSError:
            pass
    return n / 1e6


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
MODE = os.environ.get("CB_MODE", "both")
RATE = int(os.environ.get("CB_RATE", "1000"))
SECS = int(os.environ.get("CB_SECONDS", "10"))
# sender-key iterations of the rate run's group messages: consecutive (as
# libsignal and the official clients send them) or baileys (every skmsg
# skips one; the receiver keeps each skipped key, up to 2,000 per sender)
ITER = os.environ.get("CB_ITER", "consecutive")


def pctl(lat, p):
    return lat[min(len(lat) - 1, (len(lat) * p) // 100)]


def scripted(peer, col):
    """The scripted run: the peer encrypts while it sends (as fast as it
    can, then paced at 50/s)."""
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
    p99 = pctl(lat, 99)
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
              % (len(lat), lat[len(lat) // 2], pctl(lat, 99),
                 "ok" if pctl(lat, 99) <= 20 else "MISS"))


def rate_controlled(peer, col, A):
    """The rate-controlled run: the whole stream is encrypted first; the
    timed phase only frames and sends at RATE/s for SECS s (peer.js
    prepare / rate) and times each message's send -> receipt."""
    n = RATE * SECS
    m = peer.mark()
    peer.cmd("prepare %d rate %s" % (n, ITER))
    ev = peer.wait("prepared", after=m, timeout=max(600, n // 20))
    if ev is None:
        raise RuntimeError("the peer did not prepare %d messages" % n)
    print("rate: %d messages encrypted ahead (%d 1:1, %d group; sender-key iterations %s) in %.1f s"
          % (ev["count"], ev["direct"], ev["groups"], ev["iterations"],
             ev["ms"] / 1000.0))
    # let what the preparation interleaved (nothing is sent) settle
    time.sleep(1)
    rss0 = rss_kb(col.pid)
    cpu0 = cpu_s(col.pid)
    db0 = db_mb(A)
    samples = []
    stop = threading.Event()

    def sampler():
        while not stop.wait(1.0):
            samples.append(rss_kb(col.pid))
    th = threading.Thread(target=sampler, daemon=True)
    th.start()
    # CB_PERF=cpu: a call-graph profile of the collector in the timed
    # phase; CB_PERF=sync: its fsync/fdatasync calls (tracepoints)
    perf = None
    pmode = os.environ.get("CB_PERF", "")
    pdata = os.path.join(T, "perf.data")
    if pmode in ("cpu", "sync"):
        what = (["-g"] if pmode == "cpu" else
                ["-e", "syscalls:sys_enter_fdatasync", "-e",
                 "syscalls:sys_exit_fdatasync", "-e",
                 "syscalls:sys_enter_fsync", "-e", "syscalls:sys_exit_fsync"])
        perf = subprocess.Popen(["perf", "record"] + what +
                                ["-o", pdata, "-p", str(col.pid)],
                                stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        time.sleep(1)
    sc0 = sched_s(col.pid)
    sp0 = sched_s(peer.p.pid)
    m = peer.mark()
    peer.cmd("rate %d %d" % (RATE, SECS))
    r = peer.wait("rate-done", after=m, timeout=SECS + 120)
    stop.set()
    th.join()
    sc1 = sched_s(col.pid)
    sp1 = sched_s(peer.p.pid)
    if perf is not None:
        perf.send_signal(signal.SIGINT)
        perf.wait(timeout=60)
        if pmode == "cpu":
            print("rate: profile of the collector in %s (perf report -i)" % pdata)
        else:
            st = sync_stats(pdata)
            if st:
                print("rate: collector fsync/fdatasync: %d calls, p50 %.2f ms, p99 %.2f ms, max %.2f ms, %.2f s in all"
                      % (st[0], st[1], st[2], st[3], st[4] / 1000.0))
    rss1 = rss_kb(col.pid)
    cpu1 = cpu_s(col.pid)
    if r is None or r.get("error"):
        raise RuntimeError("rate run failed: %s" % (r and r.get("error")))
    got = r["receipted"]
    base_ms = 1000.0 / BASE
    print("rate: offered %d messages/s for %d s (%d messages, %d group): achieved %.1f/s over %.1f s (sender lag p99 %.2f ms, max %.2f ms)"
          % (r["offered"], SECS, r["sent"], r["groups"], r["achieved"], r["send_span_s"],
             r["lag_p99"], r["lag_max"]))
    print("rate: %d of %d receipted; receipts at %.1f/s; ratio to the fsync baseline (%.1f/s) %.2f"
          % (got, r["sent"], r["receipt_rate"], BASE, r["receipt_rate"] / BASE))
    print("rate: latency send->receipt p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, p99.9 %.2f ms, max %.2f ms (target p99 <= 20 ms: %s)"
          % (r["p50"], r["p90"], r["p99"], r["p999"], r["max"],
             "ok" if got == r["sent"] and r["p99"] <= 20 else "MISS"))
    print("rate: latency from the scheduled send time p50 %.2f ms, p99 %.2f ms, max %.2f ms"
          % (r["due_p50"], r["due_p99"], r["due_max"]))
    print("rate: p50 latency / one fsynced single-row commit (%.2f ms): %.2f"
          % (base_ms, r["p50"] / base_ms))
    print("rate: p50/p99 per 10 s window: %s" % ", ".join(
        "%ds %s/%s" % (w["from_s"], w["p50"], w["p99"]) for w in r["windows"]))
    print("rate: on a CPU / runnable but waiting for one: collector %.2f s / %.2f s, peer %.2f s / %.2f s"
          % (sc1[0] - sc0[0], sc1[1] - sc0[1], sp1[0] - sp0[0], sp1[1] - sp0[1]))
    print("rate: p99 per second: %s" % " ".join(
        "%.0f" % x if x is not None else "-" for x in r["p99_by_s"]))
    print("rate: collector CPU %.2f s for %d messages (%.3f ms each; %.0f%% of one core)"
          % (cpu1 - cpu0, got, 1000.0 * (cpu1 - cpu0) / max(got, 1),
             100.0 * (cpu1 - cpu0) / max(r["send_span_s"], 1e-3)))
    print("rate: collector RSS %d kB at start, %d kB at end (max %d kB sampled each second; %+d kB)"
          % (rss0, rss1, max(samples + [rss0, rss1]), rss1 - rss0))
    print("rate: collector RSS every 5 s (kB): %s"
          % " ".join(str(x) for x in samples[4::5]))
    half = samples[len(samples) // 2] if samples else rss0
    grow = rss1 - half
    print("rate: collector RSS over the second half: %d kB -> %d kB (%+d kB, %+.1f%%; flat: %s, within 5%%)"
          % (half, rss1, grow, 100.0 * grow / max(half, 1),
             "ok" if abs(grow) <= 0.05 * max(half, 1) else "MISS"))
    print("rate: ledger.db + WAL %.1f MB at start, %.1f MB at end (the collector's SQLite page cache holds at most 8 MiB of it)"
          % (db0, db_mb(A)))


try:
    peer = Peer("bench")
    A = new_archive("a", peer)
    # the production keepalive (the tests' is 0.5 s): under a backlog the
    # ping's answer queues behind the messages still to be read
    conf = os.path.join(A, "chatledger.conf")
    with open(conf) as f:
        text = f.read()
    for k, v in (("keepalive_min_ms", 20000), ("keepalive_max_ms", 30000),
                 ("keepalive_timeout_ms", 10000),
                 ("keepalive_giveup_ms", 180000)):
        text = re.sub(r"(?m)^%s = \d+$" % k, "%s = %d" % (k, v), text)
    with open(conf, "w") as f:
        f.write(text)
    p, qr, png, m0 = pair(A, peer)
    p.wait(timeout=60)
    m1 = peer.mark()
    col = start(["collect", "-a", A], "collect")
    peer.wait("login-ok", after=m1, timeout=20)
    # warm up: sessions and sender keys for every sender
    peer.cmd("script 30 warm")
    peer.wait("script-done", after=m1, timeout=60)
    wait_for(lambda: peer.count("receipt", m1) >= 30, 60)
    # the rate run first: the scripted run's group messages (Baileys'
    # skipping iterations) leave skipped sender keys behind
    if MODE in ("both", "rate"):
        rate_controlled(peer, col, A)
    if MODE in ("both", "scripted"):
        scripted(peer, col)
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
