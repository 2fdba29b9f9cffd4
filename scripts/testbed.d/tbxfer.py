#!/usr/bin/env python3
"""Checked bulk TCP transfers between a test bed guest and Dom0 (python3 is in both images).

  tbxfer.py serve PORT            Dom0: serve transfers on [::]:PORT (IPv4 and IPv6), forever
  tbxfer.py tx HOST PORT ID MIB   guest: send MIB MiB of fresh data, compare Dom0's digest
  tbxfer.py rx HOST PORT ID MIB   guest: receive MIB MiB of fresh data from Dom0, compare digests
  tbxfer.py echo HOST PORT ID KIBPS STOPFILE
                                  guest: send fresh data at KIBPS KiB/s while Dom0 sends it back,
                                  compare the digests of all three; each SIGUSR1 ends a transfer
                                  and starts the next one (ID-1, ID-2, ...), STOPFILE ends the last;
                                  one line per transfer ("STARTED N" on stderr once its first bytes
                                  came back); before the first transfer and after each one but the
                                  last a line "CLOCK <offset> <rtt>": the guest's wall clock minus
                                  Dom0's, in seconds, from the quickest of 5 round trips

Each transfer is one TCP connection and carries its own verdict, so a failed or stalled transfer
can never report the digest of an earlier one:
  tx: the guest sends "TX <id> <bytes>\\n" and the data; Dom0 reads exactly that many bytes and
      answers "<sha256> <bytes received>\\n" on the same connection.
  rx: the guest sends "RX <id> <bytes>\\n"; Dom0 sends the data and then "<sha256>\\n".
  echo: the guest sends "ECHO <id> 0\\n" and then data, paced, for as long as it is told (a transfer
      that spans an event of unknown length, e.g. a save/restore or migration of the guest), and
      half-closes; Dom0 sends every byte back as it arrives and, at the end of the guest's data,
      "<sha256> <bytes>\\n" of what it received. The guest compares what it sent, what came back and
      Dom0's digest and count.
  time: the guest sends "TIME <id> 0\\n" lines, Dom0 answers each with its wall clock
      ("<seconds>\\n"); offset = the middle of the guest's round trip - Dom0's time.
The sender draws a fresh random block for every transfer (os.urandom) and repeats it; the block is
4 MiB + 4093 bytes long, so that its repeats fall at a different offset in every page and packet
and a page delivered twice or out of order changes the digest. Both ends hash with SHA-256.
The guest prints one line, "OK <bytes> <seconds> <sha256>" or "ERROR <reason>", and exits 0 or 1.
"""
import hashlib
import os
import signal
import socket
import sys
import threading
import time

BLOCK = (4 << 20) + 4093
CHUNK = 1 << 20
# Seconds without progress on a connection (Dom0's server: TBXFER_TIMEOUT, e.g. for a guest that
# is saved and restored while a transfer runs).
TIMEOUT = int(os.environ.get("TBXFER_TIMEOUT", "60"))


def stream(sock, nbytes, h):
    """Send nbytes of a fresh random block repeated; hash what is sent."""
    block = os.urandom(BLOCK)
    mv = memoryview(block)
    sent = 0
    while sent < nbytes:
        n = min(BLOCK, nbytes - sent)
        sock.sendall(mv[:n])
        h.update(mv[:n])
        sent += n


def drain(sock, nbytes, h):
    """Receive exactly nbytes (fewer if the peer closes); hash them; return the count."""
    buf = bytearray(CHUNK)
    mv = memoryview(buf)
    got = 0
    while got < nbytes:
        n = sock.recv_into(mv, min(CHUNK, nbytes - got))
        if n == 0:
            break
        h.update(mv[:n])
        got += n
    return got


def readline(sock, limit=256):
    line = b""
    while not line.endswith(b"\n"):
        b = sock.recv(1)
        if not b:
            break
        line += b
        if len(line) > limit:
            raise ValueError("line too long")
    return line.decode("ascii", "replace").strip()


def handle(conn, addr):
    conn.settimeout(TIMEOUT)
    t0 = time.monotonic()
    try:
        words = readline(conn).split()
        if len(words) != 3 or words[0] not in ("TX", "RX", "ECHO", "TIME") or not words[2].isdigit():
            print("tbxfer: bad request %r from %s" % (words, addr[0]), flush=True)
            return
        op, ident, nbytes = words[0], words[1], int(words[2])
        h = hashlib.sha256()
        if op == "TIME":
            while words and words[0] == "TIME":
                conn.sendall(("%.6f\n" % time.time()).encode())
                words = readline(conn).split()
        elif op == "ECHO":
            buf = bytearray(CHUNK)
            mv = memoryview(buf)
            got = 0
            while True:
                n = conn.recv_into(mv, CHUNK)
                if n == 0:
                    break
                h.update(mv[:n])
                conn.sendall(mv[:n])
                got += n
            conn.sendall(("%s %d\n" % (h.hexdigest(), got)).encode())
            print("tbxfer: %s ECHO %d bytes in %.1fs sha256 %s" % (ident, got, time.monotonic() - t0,
                                                                 h.hexdigest()), flush=True)
        elif op == "TX":
            got = drain(conn, nbytes, h)
            conn.sendall(("%s %d\n" % (h.hexdigest(), got)).encode())
            print("tbxfer: %s TX %d/%d bytes in %.1fs sha256 %s" % (ident, got, nbytes, time.monotonic() - t0,
                                                                    h.hexdigest()), flush=True)
        else:
            stream(conn, nbytes, h)
            conn.sendall((h.hexdigest() + "\n").encode())
            print("tbxfer: %s RX %d bytes in %.1fs sha256 %s" % (ident, nbytes, time.monotonic() - t0,
                                                               h.hexdigest()), flush=True)
    except Exception as e:  # one transfer's failure is reported to the guest by the closed socket
        print("tbxfer: %s error %s" % (addr[0], e), flush=True)
    finally:
        conn.close()


def serve(port):
    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.bind(("::", port))
    s.listen(8)
    print("tbxfer: serving on port %d" % port, flush=True)
    while True:
        conn, addr = s.accept()
        threading.Thread(target=handle, args=(conn, addr), daemon=True).start()


def client(op, host, port, ident, mib):
    nbytes = mib << 20
    t0 = time.monotonic()
    try:
        sock = socket.create_connection((host, port), timeout=TIMEOUT)
        sock.sendall(("%s %s %d\n" % ("TX" if op == "tx" else "RX", ident, nbytes)).encode())
        h = hashlib.sha256()
        if op == "tx":
            stream(sock, nbytes, h)
            sock.shutdown(socket.SHUT_WR)
            reply = readline(sock).split()
            secs = time.monotonic() - t0
            if len(reply) != 2:
                return "ERROR Dom0 answered %r after %.1fs" % (reply, secs)
            if reply[1] != str(nbytes):
                return "ERROR Dom0 received %s of %d bytes (%.1fs)" % (reply[1], nbytes, secs)
            if reply[0] != h.hexdigest():
                return "ERROR sha256 differs: sent %s, Dom0 received %s" % (h.hexdigest(), reply[0])
        else:
            got = drain(sock, nbytes, h)
            secs = time.monotonic() - t0
            if got != nbytes:
                return "ERROR received %d of %d bytes (%.1fs)" % (got, nbytes, secs)
            theirs = readline(sock)
            if theirs != h.hexdigest():
                return "ERROR sha256 differs: received %s, Dom0 sent %r" % (h.hexdigest(), theirs)
        return "OK %d %.1f %s" % (nbytes, secs, h.hexdigest())
    except Exception as e:
        return "ERROR %s after %.1fs" % (e, time.monotonic() - t0)


def echo_client(host, port, ident, kibps, stop):
    """Paced fresh data to Dom0 until stop() is true, Dom0's echo read back concurrently."""
    t0 = time.monotonic()
    res = {"got": 0, "err": None, "tail": b""}
    sent_h, back_h = hashlib.sha256(), hashlib.sha256()
    done = threading.Event()
    state = {"total": None}

    def reader(sock):
        # Everything up to the byte count the sender ends with is the echo; after it comes Dom0's
        # line. The count is set before the half-close, so before Dom0 can send that line.
        buf = bytearray(CHUNK)
        mv = memoryview(buf)
        try:
            while True:
                n = sock.recv_into(mv, CHUNK)
                if n == 0:
                    break
                total = state["total"]
                echo = n if total is None else max(0, min(n, total - res["got"]))
                back_h.update(mv[:echo])
                if res["got"] == 0 and echo:
                    print("STARTED %s" % ident, file=sys.stderr, flush=True)  # the echo flows
                res["got"] += echo
                res["tail"] += bytes(mv[echo:n])
        except Exception as e:
            res["err"] = "receiving the echo: %s" % e
        done.set()

    try:
        sock = socket.create_connection((host, port), timeout=TIMEOUT)
        sock.sendall(("ECHO %s 0\n" % ident).encode())
        th = threading.Thread(target=reader, args=(sock,), daemon=True)
        th.start()
        block = os.urandom(BLOCK)
        sent, piece, rate = 0, 64 << 10, kibps << 10
        while not stop():
            off = sent % BLOCK
            mv = memoryview(block)[off:off + piece]
            sock.sendall(mv)
            sent_h.update(mv)
            sent += len(mv)
            ahead = sent / rate - (time.monotonic() - t0)
            if ahead > 0:
                time.sleep(ahead)
            if done.is_set():
                break
        state["total"] = sent
        if res["got"] > sent:
            return "ERROR %d bytes came back, more than the %d sent" % (res["got"], sent)
        sock.shutdown(socket.SHUT_WR)
        done.wait(TIMEOUT)
        secs = time.monotonic() - t0
        if res["err"]:
            return "ERROR %s after %.1fs (%d of %d bytes back)" % (res["err"], secs, res["got"], sent)
        if not done.is_set():
            return "ERROR no end of the echo within %ds (%d of %d bytes back)" % (TIMEOUT, res["got"], sent)
        reply = res["tail"].decode("ascii", "replace").split()
        if res["got"] != sent:
            return "ERROR %d of %d bytes came back (%.1fs)" % (res["got"], sent, secs)
        if len(reply) != 2 or reply[1] != str(sent):
            return "ERROR Dom0 answered %r for %d bytes sent (%.1fs)" % (reply, sent, secs)
        if not (sent_h.hexdigest() == back_h.hexdigest() == reply[0]):
            return "ERROR sha256 differs: sent %s, came back %s, Dom0 received %s" % (
                sent_h.hexdigest(), back_h.hexdigest(), reply[0])
        return "OK %d %.1f %s" % (sent, secs, sent_h.hexdigest())
    except Exception as e:
        return "ERROR %s after %.1fs" % (e, time.monotonic() - t0)


def clock(host, port, ident):
    """'CLOCK <offset> <rtt>': this wall clock minus Dom0's, from the quickest of 5 round trips."""
    try:
        sock = socket.create_connection((host, port), timeout=TIMEOUT)
        best = None
        for _ in range(5):
            t1 = time.time()
            sock.sendall(("TIME %s 0\n" % ident).encode())
            d = float(readline(sock))
            t2 = time.time()
            if best is None or t2 - t1 < best[1]:
                best = ((t1 + t2) / 2 - d, t2 - t1)
        sock.close()
        return "CLOCK %.3f %.3f" % best
    except Exception as e:
        return "CLOCK ERROR %s" % e


def main(argv):
    if len(argv) == 3 and argv[1] == "serve":
        serve(int(argv[2]))
        return 0
    if len(argv) == 6 and argv[1] in ("tx", "rx") and argv[5].isdigit():
        r = client(argv[1], argv[2], int(argv[3]), argv[4], int(argv[5]))
        print(r, flush=True)
        return 0 if r.startswith("OK ") else 1
    if len(argv) == 7 and argv[1] == "echo" and argv[5].isdigit():
        stopfile, asked, rc, n = argv[6], [0], 0, 0
        signal.signal(signal.SIGUSR1, lambda s, f: asked.__setitem__(0, asked[0] + 1))
        while True:
            print(clock(argv[2], int(argv[3]), argv[4]), flush=True)
            n, seen = n + 1, asked[0]
            r = echo_client(argv[2], int(argv[3]), "%s-%d" % (argv[4], n), int(argv[5]),
                            lambda: asked[0] != seen or os.path.exists(stopfile))
            print(r, flush=True)
            rc = rc or not r.startswith("OK ")
            if os.path.exists(stopfile):
                return 1 if rc else 0
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
