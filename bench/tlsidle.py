#!/usr/bin/env python3
"""tlsidle: what an idle TLS chat client costs the server (issue 11).

    tlsidle.py HOST PORT -n CLIENTS --pid SERVER [--inflight K] [-T SECS]
               [--keep --send BYTES]

Reads the server's VmRSS, connects CLIENTS TLS clients (Python's ssl
module, no verification: the memory is the question here), K handshakes
at a time, waits until every one has its chat welcome, reads whatever
else the room sends until it is quiet, and reads VmRSS again. Prints one
line of key=value pairs, as bench/loadgen.c does:

    clients=N rss0_kb=... rss_kb=... per_client_b=... seconds=...

per_client_b is (RSS(N) - RSS(0)) / N. Exit 1 with a line on stderr when
the clients cannot all join within SECS.

--keep: the server is `-k` (no welcome): a client has joined once its
handshake is done, and then sends BYTES, so that the server's record
buffers are used once by every client before it goes idle.
"""

import argparse
import resource
import selectors
import socket
import ssl
import sys
import time

WELCOME = b"*** you are "


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS for %d" % pid)


class Client:
    __slots__ = ("sock", "shaken", "joined", "buf", "out")

    def __init__(self, sock, out):
        self.sock = sock
        self.shaken = False
        self.joined = False
        self.buf = b""
        self.out = out  # what is left to send once joined (--keep)


def send_some(sel, c):
    """--keep: sends what c still has to send; joined once all is out."""
    while c.out:
        try:
            n = c.sock.send(c.out[:65536])
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
            sel.modify(c.sock, selectors.EVENT_READ | selectors.EVENT_WRITE, c)
            return
        c.out = c.out[n:]
    c.joined = True
    sel.modify(c.sock, selectors.EVENT_READ, c)


def step(sel, c, keep):
    """Moves c on: handshake, then reads until it would block. Returns
    False when the server closed it."""
    if not c.shaken:
        try:
            c.sock.do_handshake()
        except ssl.SSLWantReadError:
            sel.modify(c.sock, selectors.EVENT_READ, c)
            return True
        except ssl.SSLWantWriteError:
            sel.modify(c.sock, selectors.EVENT_WRITE, c)
            return True
        c.shaken = True
        sel.modify(c.sock, selectors.EVENT_READ, c)
    if keep and not c.joined:
        send_some(sel, c)
    while True:
        try:
            data = c.sock.recv(65536)
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
            return True
        if not data:
            return False
        if not c.joined:
            c.buf += data
            if WELCOME in c.buf:
                c.joined, c.buf = True, b""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("host")
    ap.add_argument("port", type=int)
    ap.add_argument("-n", type=int, required=True)
    ap.add_argument("--pid", type=int, required=True)
    ap.add_argument("--inflight", type=int, default=100)
    ap.add_argument("-T", type=float, default=300)
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--send", type=int, default=0)
    a = ap.parse_args()
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    sel = selectors.DefaultSelector()
    rss0 = rss_kb(a.pid)
    t0 = time.monotonic()
    clients, joined = [], 0
    while joined < a.n:
        if time.monotonic() - t0 > a.T:
            sys.exit("tlsidle: %d of %d clients joined in %g s"
                     % (joined, a.n, a.T))
        # Start handshakes while fewer than K are under way.
        while len(clients) < a.n and len(clients) - joined < a.inflight:
            raw = socket.create_connection((a.host, a.port))
            raw.setblocking(False)
            s = ctx.wrap_socket(raw, do_handshake_on_connect=False)
            c = Client(s, b"x" * a.send if a.keep else b"")
            sel.register(s, selectors.EVENT_WRITE, c)
            clients.append(c)
        for key, _ in sel.select(1.0):
            c = key.data
            was = c.joined
            if not step(sel, c, a.keep):
                sys.exit("tlsidle: the server closed a client (%d joined)"
                         % joined)
            joined += c.joined and not was
    # Quiet: what the room says about the joins is read, so that the
    # server holds nothing queued for anyone when RSS is read.
    quiet_since = time.monotonic()
    while time.monotonic() - quiet_since < 1.0:
        events = sel.select(0.2)
        if events:
            quiet_since = time.monotonic()
        for key, _ in events:
            if not step(sel, key.data, a.keep):
                sys.exit("tlsidle: the server closed a client while idle")
    rss = rss_kb(a.pid)
    print("clients=%d rss0_kb=%d rss_kb=%d per_client_b=%.0f seconds=%.1f"
          % (a.n, rss0, rss, (rss - rss0) * 1024.0 / a.n,
             time.monotonic() - t0))
    sys.stdout.flush()
    for c in clients:
        c.sock.close()


if __name__ == "__main__":
    main()
