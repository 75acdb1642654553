#!/usr/bin/env python3
"""Integration tests for `sockit --chat`: the chat server (sk_hub_run in
SK_HUB_CHAT mode) and the chat client (sk_chat_client_run).

Clients are Python sockets, real nc and ncat, and sockit's own client. All
traffic stays on 127.0.0.1; every wait is bounded (common.TIMEOUT); every
process and socket is closed in cleanup.
"""

import os
import re
import resource
import selectors
import shutil
import signal
import socket
import struct
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (QUIET, TIMEOUT, LineReader, Proc, binary,  # noqa: E402
                    start_listener, _sanitized_build)

# Resident memory one idle client may cost the server. ASan's shadow memory
# and redzones roughly quadruple it, so sanitizer builds get more room (a
# 64 KiB buffer per client would still fail either bound).
CLIENT_BYTES = 4096 * (4 if _sanitized_build() else 1)
STAMP = rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"
WELCOME = re.compile(rb"^\*\*\* you are (\S+):")


def sockit():
    return binary("sockit", subdir="")


class Client:
    """A chat client on a Python socket, with a LineReader over it."""

    def __init__(self, test, port, rcvbuf=None, welcome=True):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        test.addCleanup(s.close)
        if rcvbuf:  # before connect, so the window starts small
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        s.settimeout(TIMEOUT)
        s.connect(("127.0.0.1", port))
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = s
        self.r = LineReader(s, "client %d" % s.getsockname()[1])
        self.name = None
        if welcome:
            line = self.r.read_line()
            m = WELCOME.match(line or b"")
            test.assertIsNotNone(m, "no welcome line: %r" % line)
            self.name = m.group(1)

    def send(self, data):
        self.sock.sendall(data)

    def line(self, timeout=None):
        return self.r.read_line(timeout)

    def wait(self, line, timeout=None):
        return self.r.wait_line(line, timeout)

    def reset(self):
        """Closes with RST instead of FIN."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                             struct.pack("ii", 1, 0))
        self.sock.close()


class ChatTest(unittest.TestCase):

    def server(self, *flags):
        """Starts a chat server on a free port; returns (proc, port)."""
        proc, port = start_listener(
            lambda p: [sockit(), "--chat", *flags, "-l", "127.0.0.1", p],
            on_start=lambda pr: self.addCleanup(pr.stop))
        return proc, port

    def client(self, port, **kw):
        return Client(self, port, **kw)

    def line_draining_log(self, proc, client, pattern):
        """client's next line matching pattern, reading the server's log
        meanwhile: a log nobody reads pauses the room (backpressure)."""
        deadline = time.monotonic() + TIMEOUT
        while True:
            proc.out.drain()
            try:
                return client.r.wait_line(re.compile(pattern), 0.05)
            except AssertionError:
                if time.monotonic() > deadline:
                    raise

    def wait_joined(self, client, n):
        """Waits until client was told of n joins: joins are told together,
        one name a line or "*** N users joined" for many."""
        told = 0
        while told < n:
            line = client.wait(re.compile(rb"^\*\*\* .* joined$"))
            m = re.match(rb"^\*\*\* (\d+) users joined$", line)
            told += int(m.group(1)) if m else 1

    def log_has(self, proc, pattern):
        """Waits until the server's stdout (the log) has a matching line."""
        # Lines said in a room name it: "STAMP #lobby <bob> hi".
        return proc.out.wait_line(
            re.compile(STAMP + rb" (?:#[-\w]+ )?" + pattern))


class TestNames(ChatTest):

    def test_names_count_up_and_are_never_reused(self):
        proc, port = self.server()
        a = self.client(port)
        b = self.client(port)
        self.assertEqual((a.name, b.name), (b"user1", b"user2"))
        a.wait(b"*** user2 joined")
        b.sock.close()
        a.wait(b"*** user2 left")
        c = self.client(port)
        self.assertEqual(c.name, b"user3")  # not user2 again
        a.wait(b"*** user3 joined")
        self.log_has(proc, re.escape(b"*** user3 joined from 127.0.0.1:"))

    def test_nick_rules(self):
        proc, port = self.server()
        a = self.client(port)
        b = self.client(port)
        a.wait(b"*** user2 joined")
        bad = [b"x y", b"", b"<bob>", b"a\x1b[31m", b"x" * 33,
               b"\xe2\x80\x8bbob", b"bob\xff"]
        for nick in bad:
            a.send(b"/nick " + nick + b"\n")
            line = a.line()
            self.assertTrue(line.startswith(b"*** nick \""), line)
            self.assertIn(b": 1 to 32 characters, no spaces", line)
            self.assertNotIn(b"\x1b", line)
        a.send(b"/nick bob\n")
        self.assertEqual(a.line(), b"*** you are now bob")
        self.assertEqual(b.line(), b"*** user1 is now bob")
        b.send(b"/nick bob\n")
        self.assertEqual(b.line(), b'*** nick "bob" is taken')
        b.send(b"/nick server\n")  # the operator's name
        self.assertEqual(b.line(), b'*** nick "server" is taken')
        b.send(b"/nick Bob\n")  # case-insensitive: one name
        self.assertEqual(b.line(), b'*** nick "Bob" is taken')
        b.send(b"/nick Bobby\n")
        self.assertEqual(b.line(), b"*** you are now Bobby")
        # 32 characters of any script are fine.
        a.wait(b"*** user2 is now Bobby")
        wide = "\u5c0f" * 32
        a.send(b"/nick " + wide.encode() + b"\n")
        self.assertEqual(a.line(), b"*** you are now " + wide.encode())
        # Errors went to their sender only: b saw only the rename.
        self.assertEqual(b.line(), b"*** bob is now " + wide.encode())
        b.r.assert_quiet()
        self.log_has(proc, re.escape(b"*** user1 is now bob"))
        # A name is free again once its holder has gone.
        a.sock.close()
        b.wait(b"*** " + wide.encode() + b" left")
        b.send(b"/nick " + wide.encode() + b"\n")
        self.assertEqual(b.line(), b"*** you are now " + wide.encode())

    def test_default_name_taken_by_nick_is_skipped(self):
        _, port = self.server()
        a = self.client(port)
        a.send(b"/nick user2\n")
        self.assertEqual(a.line(), b"*** you are now user2")
        b = self.client(port)
        self.assertEqual(b.name, b"user3")

    def test_who(self):
        _, port = self.server()
        a = self.client(port)
        b = self.client(port)
        b.send(b"/nick bob\n")
        b.line()
        a.wait(b"*** user2 is now bob")
        a.send(b"/who\n")
        line = a.line()
        self.assertTrue(line.startswith(b"*** 2 in #lobby:"), line)
        names = sorted(n.strip() for n in line.split(b":", 1)[1].split(b","))
        self.assertEqual(names, [b"bob", b"user1 (you)"])
        b.r.assert_quiet()  # /who answers the asker only


class TestLines(ChatTest):

    def test_join_and_leave_announced_to_others_and_logged(self):
        proc, port = self.server()
        a = self.client(port)
        b = self.client(port)
        self.assertEqual(a.line(), b"*** user2 joined")
        b.send(b"/quit\n")
        self.assertIsNone(b.line())  # EOF: the server closed
        self.assertEqual(a.line(), b"*** user2 left")
        self.log_has(proc, re.escape(b"*** user2 left: quit"))
        c = self.client(port)
        self.assertEqual(a.line(), b"*** user3 joined")
        c.sock.close()
        self.assertEqual(a.line(), b"*** user3 left")

    def test_message_reaches_others_once_and_the_log(self):
        proc, port = self.server()
        a, b, c = self.client(port), self.client(port), self.client(port)
        a.wait(b"*** user3 joined")
        b.wait(b"*** user3 joined")
        a.send(b"hello\n")
        self.assertEqual(b.wait(re.compile(rb"^<")), b"<user1> hello")
        self.assertEqual(c.wait(re.compile(rb"^<")), b"<user1> hello")
        self.log_has(proc, re.escape(b"<user1> hello") + b"$")
        a.r.assert_quiet()  # not echoed to its sender

    def test_one_prefix_per_line_when_one_write_carries_several(self):
        _, port = self.server()
        a, b = self.client(port), self.client(port)
        a.wait(b"*** user2 joined")
        a.send(b"one\ntwo\n\nthree\r\nfour\n")
        self.assertEqual([b.line() for _ in range(5)],
                         [b"<user1> one", b"<user1> two", b"<user1> ",
                          b"<user1> three", b"<user1> four"])

    def test_line_arriving_one_byte_per_write(self):
        _, port = self.server()
        a, b = self.client(port), self.client(port)
        a.wait(b"*** user2 joined")
        text = "héllo 你好 😀".encode() + b"\n"
        for byte in text:
            a.send(bytes([byte]))
            time.sleep(0.005)
        self.assertEqual(b.line(), b"<user1> " + text[:-1])
        b.r.assert_quiet()  # and only once, with one prefix

    def test_utf8_character_split_across_writes_arrives_whole(self):
        _, port = self.server()
        a, b = self.client(port), self.client(port)
        a.wait(b"*** user2 joined")
        emoji = "😀".encode()  # 4 bytes
        a.send(b"x" + emoji[:1])
        time.sleep(0.05)
        a.send(emoji[1:3])
        time.sleep(0.05)
        a.send(emoji[3:] + "中".encode()[:2])
        time.sleep(0.05)
        a.send("中".encode()[2:] + b"\n")
        line = b.line()
        self.assertEqual(line, b"<user1> x" + emoji + "中".encode())
        self.assertNotIn("\ufffd".encode(), line)

    def test_escape_injection_neutralised(self):
        proc, port = self.server()
        a, b = self.client(port), self.client(port)
        a.wait(b"*** user2 joined")
        evil = (b"\x1b[2J\x1b]0;owned\x07 \x9b31m \xc2\x9b1m \x00 \x7f "
                b"\xff\xfe tab\there\n")
        b.send(evil)
        got = a.line()
        self.assertTrue(got.startswith(b"<user2> "), got)
        text = got.decode("utf-8")  # the whole line is valid UTF-8
        controls = [c for c in text if c != "\t" and (
            ord(c) < 0x20 or 0x7f <= ord(c) <= 0x9f)]
        self.assertEqual(controls, [])  # no C0, DEL or C1 at all
        self.assertIn("\u241b[2J", text)  # ESC shown as a symbol
        self.assertIn("\ufffd31m", text)  # raw 0x9b (CSI) replaced
        self.assertIn("tab\there", text)  # TAB passes
        log = self.log_has(proc, re.escape(b"<user2> "))
        self.assertNotIn(b"\x1b", log)
        # A name cannot carry escapes either.
        b.send(b"/nick \x1b[5m\n")
        self.assertIn(b"has a control", b.line())

    def test_over_long_line_is_refused_whole(self):
        proc, port = self.server("--max-line", "100")
        a, b = self.client(port), self.client(port)
        a.wait(b"*** user2 joined")
        b.send(b"y" * 100 + b"\n")  # exactly the limit: delivered
        self.assertEqual(a.line(), b"<user2> " + b"y" * 100)
        b.send(b"z" * 60)
        time.sleep(0.05)
        b.send(b"z" * 60)  # over the limit in its second piece
        self.assertEqual(b.line(), b"*** line over 100 bytes not delivered")
        b.send(b"z" * 500 + b"\nafter\n")
        self.assertEqual(a.line(), b"<user2> after")  # no half line first
        b.r.assert_quiet()  # one notice for the one long line

    def test_default_max_line_is_4096(self):
        _, port = self.server()
        a, b = self.client(port), self.client(port)
        a.wait(b"*** user2 joined")
        b.send(b"x" * 5000 + b"\nok\n")
        self.assertEqual(b.line(), b"*** line over 4096 bytes not delivered")
        self.assertEqual(a.line(), b"<user2> ok")

    def test_slash_slash_says_a_slash_and_unknown_commands_answer(self):
        _, port = self.server()
        a, b = self.client(port), self.client(port)
        a.wait(b"*** user2 joined")
        b.send(b"/shrug\n//tmp is full\n")
        self.assertTrue(b.line().startswith(b'*** unknown command "/shrug"'))
        self.assertEqual(a.line(), b"<user2> /tmp is full")

    def test_operator_lines_and_stdin_eof(self):
        proc, port = self.server()
        a, b = self.client(port), self.client(port)
        a.wait(b"*** user2 joined")
        proc.write(b"maintenance at 5\n")
        self.assertEqual(a.line(), b"<server> maintenance at 5")
        self.assertEqual(b.line(), b"<server> maintenance at 5")
        self.log_has(proc, re.escape(b"<server> maintenance at 5"))
        proc.close_stdin()  # the room goes on without the operator
        time.sleep(QUIET)
        a.send(b"still here\n")
        self.assertEqual(b.line(), b"<user1> still here")
        self.assertIsNone(proc.poll())


class TestLimits(ChatTest):

    def test_client_that_never_reads_is_dropped_others_get_everything(self):
        proc, port = self.server("--max-queue", "65536")
        sender, reader = self.client(port), self.client(port)
        stuck = self.client(port, rcvbuf=4096)  # reads its welcome only
        reader.wait(b"*** user3 joined")
        sender.wait(b"*** user3 joined")
        # The kernel may hold up to tcp_wmem's 4 MB toward the stuck client
        # before its queue even starts to fill: send twice that.
        total, chunk = 3000, 10  # a burst well under the 64 KiB queue
        body = b"m" * 3000
        got, left = 0, 0
        for start in range(0, total, chunk):
            sender.send(b"".join(b"%d %s\n" % (i, body)
                                 for i in range(start, start + chunk)))
            while got < start + chunk:  # the reader keeps up
                line = self.line_draining_log(
                    proc, reader, rb"^(<user1> |\*\*\* user3 left$)")
                if line == b"*** user3 left":
                    left += 1
                    continue
                self.assertEqual(line, b"<user1> %d %s" % (got, body))
                got += 1
        self.assertEqual(got, total)
        if not left:
            reader.wait(b"*** user3 left")
        sender.wait(b"*** user3 left")
        # Dropped for its queue: at once past 64 KiB, or after 2 s past
        # half of it (meanwhile the room waited, and lost nothing).
        self.log_has(proc, rb"\*\*\* user3 left: (stalled: )?output queue "
                     rb"over (65536 bytes|32768 bytes for 2000 ms)$")
        proc.err.wait_line(re.compile(
            rb":\d+ dropped: (stalled: )?output queue over \d+ bytes"))
        # The stuck client is really gone: its socket reaches EOF or RST.
        stuck.r.wait_eof(TIMEOUT)

    def test_half_the_clients_reset_during_a_broadcast(self):
        _, port = self.server()
        sender = self.client(port)
        stay = [self.client(port) for _ in range(20)]
        drop = [self.client(port) for _ in range(20)]
        self.wait_joined(sender, 40)
        for i in range(300):
            sender.send(b"line %d\n" % i)
            if i == 100:
                for c in drop:
                    c.reset()
        for c in stay:
            lines = []
            while len(lines) < 300:
                line = c.line()
                self.assertIsNotNone(line)
                if line.startswith(b"<user1> "):
                    lines.append(line)
            self.assertEqual(lines,
                             [b"<user1> line %d" % i for i in range(300)])
        late = self.client(port)  # the server still accepts
        self.assertEqual(late.name, b"user42")

    def test_max_conns_says_server_full(self):
        proc, port = self.server("-m", "2", "-v")
        a, b = self.client(port), self.client(port)
        c = self.client(port, welcome=False)
        self.assertEqual(c.line(), b"*** server full")
        self.assertIsNone(c.line())  # then EOF
        b.sock.close()
        a.wait(b"*** user2 left")
        d = self.client(port)  # room again
        self.assertEqual(d.name, b"user3")
        proc.err.wait_line(re.compile(rb"refused: 2 clients connected"))

    def test_idle_timeout_closes_only_the_idle_client(self):
        proc, port = self.server("-i", "1")
        idle, busy = self.client(port), self.client(port)
        idle.wait(b"*** user2 joined")
        start = time.monotonic()
        while time.monotonic() - start < 1.6:
            busy.send(b"tick\n")
            time.sleep(0.2)
        closing = idle.wait(re.compile(rb"^\*\*\* closing"))
        self.assertIn(b"idle", closing)
        idle.r.wait_eof()
        busy.wait(b"*** user1 left")
        busy.send(b"/who\n")
        self.assertTrue(busy.wait(re.compile(rb"^\*\*\* \d+ in ")).startswith(
            b"*** 1 in #lobby: user2 (you)"))
        self.log_has(proc, re.escape(b"*** user1 left: idle for 1000 ms"))

    def test_out_of_descriptors_sheds_new_clients_and_recovers(self):
        # sockit raises its soft limit to the hard one: cap both at 40.
        cap = ("import os, resource, sys; "
               "resource.setrlimit(resource.RLIMIT_NOFILE, (40, 40)); "
               "os.execv(sys.argv[1], sys.argv[1:])")
        proc, port = start_listener(
            lambda p: [sys.executable, "-c", cap, sockit(), "--chat", "-l",
                       "127.0.0.1", p],
            on_start=lambda pr: self.addCleanup(pr.stop))
        socks = []
        for _ in range(80):
            s = socket.create_connection(("127.0.0.1", port), TIMEOUT)
            self.addCleanup(s.close)
            socks.append(s)
        welcomed, refused = [], []
        for s in socks:
            r = LineReader(s, "client")
            line = r.read_line()
            if line and WELCOME.match(line):
                welcomed.append(s)
            else:  # shed: told so, or just closed, but never left waiting
                self.assertIn(line, (b"*** server full", None))
                refused.append(s)
        self.assertGreaterEqual(len(welcomed), 10)
        self.assertGreaterEqual(len(refused), 30)
        # No busy loop while the listener still has clients knocking.
        def cpu_ticks():
            with open("/proc/%d/stat" % proc.pid) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            return int(fields[11]) + int(fields[12])
        before = cpu_ticks()
        extra = [socket.create_connection(("127.0.0.1", port), TIMEOUT)
                 for _ in range(5)]
        for s in extra:
            self.addCleanup(s.close)
        time.sleep(1)
        self.assertLess(cpu_ticks() - before, 30)  # of 100 a second
        proc.err.wait_line(re.compile(rb"accept: Too many open files"))
        # Room again once clients leave.
        for s in welcomed[:10]:
            s.close()
        time.sleep(QUIET)
        late = self.client(port)
        self.assertTrue(late.name.startswith(b"user"))

    def test_access_list(self):
        proc, port = self.server("--deny", "127.0.0.1", "-v")
        s = socket.create_connection(("127.0.0.1", port), TIMEOUT)
        self.addCleanup(s.close)
        r = LineReader(s, "denied")
        self.assertEqual(r.wait_eof(), b"")  # closed with nothing said
        proc.err.wait_line(re.compile(rb"127\.0\.0\.1:\d+ denied"))
        proc2, port2 = self.server("--allow", "127.0.0.0/8")
        self.assertEqual(self.client(port2).name, b"user1")


def raise_nofile(need):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, need), hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS for %d" % pid)


class TestScale(ChatTest):
    N = 2000
    SENDERS = 20
    MESSAGES = 5

    def test_2000_clients_every_message_to_every_client(self):
        self.assertGreaterEqual(raise_nofile(self.N + 200), self.N + 100)
        # Under ASan, memory freed after the join storm would sit in its
        # quarantine and count as resident; no effect on a normal build.
        old = os.environ.get("ASAN_OPTIONS")
        os.environ["ASAN_OPTIONS"] = (old + ":" if old else "") + \
            "quarantine_size_mb=0"
        try:
            proc, port = self.server()
        finally:
            if old is None:
                del os.environ["ASAN_OPTIONS"]
            else:
                os.environ["ASAN_OPTIONS"] = old
        deadline = time.monotonic() + 30 * TIMEOUT / 5
        sel = selectors.DefaultSelector()
        self.addCleanup(sel.close)
        socks, data = [], {}

        def pump(t):
            for key, _ in sel.select(t):
                try:
                    chunk = key.fileobj.recv(1 << 20)
                except (BlockingIOError, InterruptedError):
                    continue
                self.assertTrue(chunk, "a client was closed")
                data[key.fileobj] += chunk
            proc.out.drain()  # the log: a full pipe would pause the room
            proc.err.drain()

        for i in range(self.N):
            s = socket.create_connection(("127.0.0.1", port), TIMEOUT)
            self.addCleanup(s.close)
            s.setblocking(False)
            socks.append(s)
            data[s] = bytearray()
            sel.register(s, selectors.EVENT_READ)
            if i % 200 == 0:
                pump(0)
            if i == 0:
                while not data[s]:
                    pump(0.1)
                base = rss_kib(proc.pid)
        # Everyone is welcomed; joins are told once per loop turn.
        while not all(WELCOME.match(d) for d in data.values()):
            self.assertLess(time.monotonic(), deadline, "joins missing")
            pump(0.1)
        names = [WELCOME.match(data[s]).group(1) for s in socks]
        self.assertEqual(names, [b"user%d" % (i + 1) for i in range(self.N)])
        for s in socks:
            data[s].clear()
        senders = socks[::self.N // self.SENDERS]
        for m in range(self.MESSAGES):
            for k, s in enumerate(senders):
                s.sendall(b"msg %d from %d\n" % (m, k))
        total = self.SENDERS * self.MESSAGES

        def complete():
            return all(d.count(b"> msg ") >= total - self.MESSAGES
                       for d in data.values())

        while not complete():
            self.assertLess(time.monotonic(), deadline, "messages missing")
            pump(0.1)
        pump(QUIET)  # nothing extra arrives
        for i, s in enumerate(socks):
            got = sorted(l for l in data[s].split(b"\n") if b"> msg " in l)
            own = i % (self.N // self.SENDERS) == 0
            want = sorted(b"<%s> msg %d from %d" % (
                names[k * (self.N // self.SENDERS)], m, k)
                for m in range(self.MESSAGES) for k in range(self.SENDERS)
                if not (own and k == i // (self.N // self.SENDERS)))
            self.assertEqual(got, want, "client %d" % i)
        late = self.client(port)  # still accepting
        self.assertEqual(late.name, b"user%d" % (self.N + 1))
        # Idle members cost little, after all that traffic too.
        per_client = (rss_kib(proc.pid) - base) * 1024 / (self.N - 1)
        self.assertLess(per_client, CLIENT_BYTES,
                        "%.0f bytes per client" % per_client)


class TestSignals(ChatTest):

    def check_signal(self, sig, code):
        proc, port = self.server()
        a, b = self.client(port), self.client(port)
        a.wait(b"*** user2 joined")
        a.send(b"last words\n")
        b.wait(b"<user1> last words")
        proc.popen.send_signal(sig)
        self.assertEqual(proc.wait_exit(), code)
        self.assertIn(b"<user1> last words", proc.out.transcript)
        a.r.wait_eof()

    def test_sigint_exits_130(self):
        self.check_signal(signal.SIGINT, 130)

    def test_sigterm_exits_143(self):
        self.check_signal(signal.SIGTERM, 143)


class TestOtherClients(ChatTest):
    """nc, ncat and sockit's own client in the room."""

    def tool_in_room(self, argv):
        _, port = self.server()
        py = self.client(port)
        tool = Proc(argv + ["127.0.0.1", str(port)])
        self.addCleanup(tool.stop)
        welcome = tool.out.wait_line(WELCOME)
        name = WELCOME.match(welcome).group(1)
        py.wait(b"*** " + name + b" joined")
        tool.write("hello from %s, 你好\n" % os.path.basename(argv[0]))
        self.assertEqual(py.line(), b"<" + name + b"> " + (
            "hello from %s, 你好" % os.path.basename(argv[0])).encode())
        py.send(b"hi \x1b[31mthere\n")
        line = tool.out.wait_line(re.compile(rb"^<user1> "))
        self.assertEqual(line, "<user1> hi \u241b[31mthere".encode())
        return tool, py, name

    def test_nc_as_a_chat_client(self):
        self.tool_in_room([shutil.which("nc") or "nc"])

    def test_ncat_as_a_chat_client(self):
        self.tool_in_room([shutil.which("ncat") or "ncat"])

    def test_sockit_chat_client_in_the_room(self):
        tool, py, name = self.tool_in_room([sockit(), "--chat"])
        self.assertNotIn(b"<me>", tool.out.transcript)  # stdout is no tty
        tool.close_stdin()  # FIN; the server answers by closing
        self.assertEqual(tool.wait_exit(), 0)
        py.wait(b"*** " + name + b" left")


class FakeServer:
    """One-shot TCP server on 127.0.0.1 running script(conn) in a thread."""

    def __init__(self, test, script):
        self.sock = socket.socket()
        test.addCleanup(self.sock.close)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(1)
        self.sock.settimeout(TIMEOUT)
        self.port = self.sock.getsockname()[1]
        self.error = None
        self.thread = threading.Thread(target=self.run, args=(script,))
        self.thread.start()
        test.addCleanup(self.thread.join, TIMEOUT)

    def run(self, script):
        try:
            conn, _ = self.sock.accept()
            with conn:
                script(conn)
        except Exception as e:  # reported by the test
            self.error = e


class TestChatClient(ChatTest):

    def client_proc(self, port):
        proc = Proc([sockit(), "--chat", "127.0.0.1", str(port)])
        self.addCleanup(proc.stop)
        return proc

    def test_prints_everything_then_exits_0_when_the_server_closes(self):
        def script(conn):
            conn.sendall(b"one\r\ntwo \x1b[2Jbad\n\xe4\xbd")
            time.sleep(0.1)
            conn.sendall(b"\xa0 split\nlast without newline")
        srv = FakeServer(self, script)
        proc = self.client_proc(srv.port)
        self.assertEqual(proc.wait_exit(), 0)
        self.assertEqual(bytes(proc.out.transcript),
                         "one\ntwo \u241b[2Jbad\n你 split\n"
                         "last without newline\n".encode())
        self.assertIsNone(srv.error)

    def test_reset_gives_one_line_and_exit_1(self):
        def script(conn):
            conn.sendall(b"bye\n")
            time.sleep(0.3)
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                            struct.pack("ii", 1, 0))
        srv = FakeServer(self, script)
        proc = self.client_proc(srv.port)
        self.assertEqual(proc.wait_exit(), 1)
        self.assertEqual(bytes(proc.out.transcript), b"bye\n")
        err = bytes(proc.err.transcript).decode().splitlines()
        self.assertEqual(len(err), 1, err)
        self.assertIn("reset", err[0])

    def test_own_lines_marked_on_a_terminal(self):
        import pty
        import subprocess
        got = []

        def script(conn):
            conn.settimeout(TIMEOUT)
            conn.sendall(b"hi there\n")
            got.append(conn.recv(100))
            conn.sendall(b"bye\n")
        srv = FakeServer(self, script)
        master, slave = pty.openpty()
        self.addCleanup(os.close, master)
        proc = subprocess.Popen([sockit(), "--chat", "127.0.0.1",
                                 str(srv.port)], stdin=slave, stdout=slave,
                                stderr=subprocess.DEVNULL)
        os.close(slave)
        self.addCleanup(proc.wait, TIMEOUT)
        self.addCleanup(proc.kill)
        term = LineReader(master, "terminal")
        # The line editor (test_chat_tty.py) prints above its prompt.
        term.wait_line(re.compile(rb"hi there\r$"))  # the tty makes \r\n
        os.write(master, b"my line\r")
        # The editor's copy of the typed line is replaced by a marked one.
        term.wait_line(re.compile(
            rb"\x1b\[J(\x1b\[[0-9;]*m)?<me>(\x1b\[0m)? my line\r$"))
        term.wait_line(re.compile(rb"bye\r$"))
        # The server going away is news at a terminal: exit 1.
        self.assertEqual(proc.wait(TIMEOUT), 1)
        srv.thread.join(TIMEOUT)
        self.assertEqual(got, [b"my line\n"])

    def test_sends_typed_lines_while_receiving(self):
        got = []

        def script(conn):
            conn.settimeout(TIMEOUT)
            conn.sendall(b"welcome\n")
            buf = b""
            while buf.count(b"\n") < 2:
                chunk = conn.recv(100)
                if not chunk:
                    break
                buf += chunk
                conn.sendall(b"echo " + chunk)
            got.append(buf)
        srv = FakeServer(self, script)
        proc = self.client_proc(srv.port)
        proc.out.wait_line(b"welcome")
        proc.write(b"first\n")
        proc.out.wait_line(b"echo first")
        proc.write(b"second\n")
        proc.out.wait_line(b"echo second")
        self.assertEqual(proc.wait_exit(), 0)  # the server closed
        srv.thread.join(TIMEOUT)
        self.assertEqual(got, [b"first\nsecond\n"])


if __name__ == "__main__":
    unittest.main()
