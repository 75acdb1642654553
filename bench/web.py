#!/usr/bin/env python3
"""The chat's web side against its TCP side, on one server:

  bench/web.py [-n CLIENTS] [-m LINES] [--sockit build/sockit]
               [--sides tcp,websocket,tls,wss]

1. RSS per idle client: the server's VmRSS grows by how much per idle
   member, N plain TCP clients, then N WebSocket clients (each a socket
   pair into the hub as well as its WebSocket); then the same over TLS
   (`--ssl`, the ephemeral certificate): N TLS clients of the chat port
   ("tls"), N wss clients of the web port ("wss").
2. Fan-out: one TCP sender (TLS on the TLS server) says M lines of 64
   bytes to N receivers of one side; deliveries per second until the
   last receiver has the last line.

Prints one key=value line per measure (what bench/run.sh's other
scenarios print); needs python3-websockets (Debian). Not a test: no
figure is asserted."""

import argparse
import asyncio
import os
import socket
import ssl
import subprocess
import sys
import time

try:
    import websockets
except ImportError:
    sys.path.append("/usr/lib/python3/dist-packages")
    import websockets

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def wait_port(port, deadline=10.0):
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit("web.py: nothing listens on %d" % port)


# The bench trusts the server it started (its ephemeral certificate).
INSECURE = ssl._create_unverified_context()


class Server:
    def __init__(self, sockit, tls=False):
        self.port, self.wport = free_port(), free_port()
        self.tls = INSECURE if tls else None
        self.p = subprocess.Popen(
            [sockit, "--chat", "-l"] + (["--ssl"] if tls else []) +
            ["127.0.0.1", str(self.port), "--web",
             str(self.wport), "-m", "20000"], stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(self.port)
        wait_port(self.wport)

    def stop(self):
        self.p.terminate()
        self.p.wait(10)


async def tcp_client(port, tls=None):
    r, w = await asyncio.open_connection("127.0.0.1", port, ssl=tls)
    await r.readline()  # "*** you are userN"
    return r, w


async def ws_client(wport, tls=None):
    ws = await websockets.connect("%s://127.0.0.1:%d/chat" %
                                  ("wss" if tls else "ws", wport), ssl=tls,
                                  max_queue=None, ping_interval=None)
    await ws.recv()
    return ws


async def rss_per_client(srv, n, web):
    await asyncio.sleep(0.3)
    before = rss_kib(srv.p.pid)
    clients = []
    for _ in range(n):
        clients.append(await (ws_client(srv.wport, srv.tls) if web
                              else tcp_client(srv.port, srv.tls)))
    await asyncio.sleep(0.5)  # the joins' notices delivered
    after = rss_kib(srv.p.pid)
    return clients, (after - before) * 1024 // n


async def drain_tcp(r, want, tag):
    got = 0
    while got < want:
        line = await r.readline()
        if not line:
            raise SystemExit("web.py: a TCP receiver was closed")
        got += tag in line
    return got


async def drain_ws(ws, want, tag):
    got = 0
    while got < want:
        got += tag in await ws.recv()
    return got


async def fanout(srv, receivers, web, m):
    _, w = await tcp_client(srv.port, srv.tls)
    tag = "bench-%s" % ("web" if web else "tcp")
    line = (tag + " " + "x" * 64)[:64] + "\n"
    if web:
        tasks = [drain_ws(ws, m, tag) for ws in receivers]
    else:
        tasks = [drain_tcp(r, m, tag.encode()) for r, _ in receivers]
    t0 = time.monotonic()

    async def send():
        for _ in range(m):
            w.write(line.encode())
            await w.drain()

    await asyncio.gather(send(), *tasks)
    dt = time.monotonic() - t0
    w.close()
    return len(receivers) * m / dt


SIDES = {"tcp": (False, False), "websocket": (True, False),
         "tls": (False, True), "wss": (True, True)}


async def main(a):
    for side in a.sides.split(","):
        web, tls = SIDES[side]
        srv = Server(a.sockit, tls)
        try:
            clients, rss = await rss_per_client(srv, a.n, web)
            rate = await fanout(srv, clients, web, a.m)
            print("web_bench side=%s clients=%d rss_per_client_b=%d "
                  "lines=%d deliveries_per_s=%.0f" %
                  (side, a.n, rss, a.m, rate))
            sys.stdout.flush()
            for c in clients:
                if web:
                    await c.close()
                else:
                    c[1].close()
        finally:
            srv.stop()


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=500)
    ap.add_argument("-m", type=int, default=200)
    ap.add_argument("--sockit", default=os.path.join(ROOT, "build", "sockit"))
    ap.add_argument("--sides", default="tcp,websocket,tls,wss",
                    help="of tcp, websocket, tls, wss")
    asyncio.run(main(ap.parse_args()))
