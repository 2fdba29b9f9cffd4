#!/usr/bin/env python3
"""Checked bulk TCP transfers between a test bed guest and Dom0 (python3 is in both images).

  tbxfer.py serve PORT            Dom0: serve transfers on [::]:PORT (IPv4 and IPv6), forever
  tbxfer.py tx HOST PORT ID MIB   guest: send MIB MiB of fresh data, compare Dom0's digest
  tbxfer.py rx HOST PORT ID MIB   guest: receive MIB MiB of fresh data from Dom0, compare digests

Each transfer is one TCP connection and carries its own verdict, so a failed or stalled transfer
can never report the digest of an earlier one:
  tx: the guest sends "TX <id> <bytes>\\n" and the data; Dom0 reads exactly that many bytes and
      answers "<sha256> <bytes received>\\n" on the same connection.
  rx: the guest sends "RX <id> <bytes>\\n"; Dom0 sends the data and then "<sha256>\\n".
The sender draws a fresh random block for every transfer (os.urandom) and repeats it; the block is
4 MiB + 4093 bytes long, so that its repeats fall at a different offset in every page and packet
and a page delivered twice or out of order changes the digest. Both ends hash with SHA-256.
The guest prints one line, "OK <bytes> <seconds> <sha256>" or "ERROR <reason>", and exits 0 or 1.
"""
import hashlib
import os
import socket
import sys
import threading
import time

BLOCK = (4 << 20) + 4093
CHUNK = 1 << 20
TIMEOUT = 60  # seconds without progress on a connection


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
        if len(words) != 3 or words[0] not in ("TX", "RX") or not words[2].isdigit():
            print("tbxfer: bad request %r from %s" % (words, addr[0]), flush=True)
            return
        op, ident, nbytes = words[0], words[1], int(words[2])
        h = hashlib.sha256()
        if op == "TX":
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


def main(argv):
    if len(argv) == 3 and argv[1] == "serve":
        serve(int(argv[2]))
        return 0
    if len(argv) == 6 and argv[1] in ("tx", "rx") and argv[5].isdigit():
        r = client(argv[1], argv[2], int(argv[3]), argv[4], int(argv[5]))
        print(r, flush=True)
        return 0 if r.startswith("OK ") else 1
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
