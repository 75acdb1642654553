#!/usr/bin/env python3
"""Integration tests for the hub (-k, --chat, --broker) under hostile
conditions: issue 9's hub items and issue 8's chat items.

  TestMassLeave        thousands leaving at once: memory stays bounded
  TestLimits           limits that would drop everyone are refused; one
                       big read never drops a healthy reader
  TestLog              the chat log: never stalls the room, never ends it
  TestStop             SIGTERM delivers what was read before closing
  TestRepeatStaller    the stall budget belongs to an address
  TestPartialLines     a line without newline shows after 200 ms quiet
  TestVerbose          -v says "Connection received on HOST PORT"

Every wait is bounded (common.TIMEOUT); clients are Python sockets on
127.0.0.1 (and 127.0.0.2 for the attacker); every process and socket is
closed in cleanup.
"""

import fcntl
import os
import re
import resource
import selectors
import signal
import socket
import subprocess
import sys
import termios
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (QUIET, TIMEOUT, LineReader, Proc, binary,  # noqa: E402
                    start_listener, wait_listening, free_port,
                    _sanitized_build)

STAMP = rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"
WELCOME = re.compile(rb"^\*\*\* you are (\S+):")


def sockit():
    return binary("sockit", subdir="")


def proc_status(pid, field):
    """A kB figure (VmRSS, VmHWM) from /proc/PID/status, in bytes."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no %s for %d" % (field, pid))


def fd_count(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def wait_for(pred, what, timeout=None):
    """Polls pred until it is true; AssertionError after timeout."""
    deadline = time.monotonic() + (timeout or TIMEOUT)
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError("timeout waiting for " + what)
        time.sleep(0.01)


class Client:
    """A socket to the hub with a LineReader; reads the chat welcome."""

    def __init__(self, test, port, chat=True, rcvbuf=None, source=None):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        test.addCleanup(s.close)
        if rcvbuf:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        if source:
            s.bind((source, 0))
        s.settimeout(TIMEOUT)
        s.connect(("127.0.0.1", port))
        self.sock = s
        self.r = LineReader(s, "client %d" % s.getsockname()[1])
        self.name = None
        if chat:
            m = WELCOME.match(self.r.read_line() or b"")
            test.assertIsNotNone(m, "no welcome line")
            self.name = m.group(1)

    def send(self, data):
        self.sock.sendall(data)

    def send_long(self, data):
        """Sends much, from a thread, while the room may pause reads: the
        socket's timeout bounds the whole sendall."""
        self.sock.settimeout(6 * TIMEOUT)
        self.sock.sendall(data)
        self.sock.settimeout(TIMEOUT)


class HubCase(unittest.TestCase):

    def server(self, *args, **popen):
        """sockit ARGS -l 127.0.0.1 PORT; stdout piped unless given."""
        if not popen:
            proc, port = start_listener(
                lambda p: [sockit(), *args, "-l", "127.0.0.1", p],
                on_start=lambda pr: self.addCleanup(pr.stop))
            return proc, port
        port = free_port()
        popen.setdefault("stdin", subprocess.DEVNULL)
        p = subprocess.Popen([sockit(), *args, "-l", "127.0.0.1", str(port)],
                             stderr=subprocess.PIPE, **popen)
        self.addCleanup(self.reap, p)
        err = LineReader(p.stderr, "sockit stderr")
        self.assertTrue(wait_listening(port, proc=p), err.all_lines())
        return p, port, err

    @staticmethod
    def reap(p):
        if p.poll() is None:
            p.kill()
        p.wait(TIMEOUT)
        p.stderr.close()

    def client(self, port, **kw):
        return Client(self, port, **kw)


class TestMassLeave(HubCase):
    N = 5000

    def setUp(self):
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft < self.N + 100:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            self.addCleanup(resource.setrlimit, resource.RLIMIT_NOFILE,
                            (soft, hard))

    @staticmethod
    def drain(socks):
        for s in socks:
            try:
                while s.recv(1 << 16):
                    pass
            except BlockingIOError:
                pass

    def test_5000_leaving_at_once_stay_within_twice_the_steady_rss(self):
        proc, port = self.server("--chat")
        base = fd_count(proc.pid)
        socks = []
        for i in range(self.N):
            s = socket.create_connection(("127.0.0.1", port), TIMEOUT)
            self.addCleanup(s.close)
            s.setblocking(False)
            socks.append(s)
            if i % 500 == 499:  # so that no join notice waits in a queue
                self.drain(socks)
        wait_for(lambda: fd_count(proc.pid) >= base + self.N, "every join")
        self.drain(socks)
        proc.out.drain()
        steady = proc_status(proc.pid, "VmRSS")
        with open("/proc/%d/clear_refs" % proc.pid, "w") as f:
            f.write("5")  # VmHWM := VmRSS: measure the leave alone
        for s in socks:
            s.close()
        wait_for(lambda: fd_count(proc.pid) <= base, "every leave",
                 4 * TIMEOUT)
        peak = proc_status(proc.pid, "VmHWM")
        self.assertLessEqual(peak, 2 * steady, "steady %d kB, peak %d kB" %
                             (steady // 1024, peak // 1024))
        # The room still works and says how many left, in few lines.
        a = self.client(port)
        b = self.client(port)
        a.r.wait_line(b"*** %s joined" % b.name)


class TestLimits(HubCase):

    def refused(self, *args):
        p = subprocess.run([sockit(), *args, "-l", "127.0.0.1", "0"],
                           stdin=subprocess.DEVNULL, capture_output=True,
                           timeout=TIMEOUT)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertEqual(p.stderr.count(b"\n"), 1, p.stderr)
        return p.stderr

    def test_combinations_where_one_line_cannot_fit_are_refused(self):
        for args in (["--max-line", "1M"], ["--max-line", "400K"],
                     ["--max-queue", "8K"]):
            err = self.refused("--chat", *args)
            self.assertRegex(err, rb"^sockit: --max-queue \d+ is too small "
                             rb"for --max-line \d+: .* use --max-queue \d+ "
                             rb"or more, or a shorter --max-line\n$")
        # The number it asks for is enough.
        need = re.search(rb"use --max-queue (\d+)", err).group(1)
        proc, port = self.server("--chat", "--max-queue", need.decode())

    def test_400k_line_of_ff_reaches_every_member_when_accepted(self):
        proc, port = self.server("--chat", "--max-line", "400K",
                                 "--max-queue", "4M")
        a, b, c = (self.client(port) for _ in range(3))
        a.r.wait_line(re.compile(rb"^\*\*\* user3 joined$"))
        a.send(b"\xff" * 409600 + b"\nafter\n")
        for m in (b, c):
            line = m.r.wait_line(re.compile(rb"^<user1> "), 4 * TIMEOUT)
            self.assertEqual(len(line), len(b"<user1> ") + 3 * 409600)
            self.assertEqual(m.r.wait_line(re.compile(rb"^<user1> after")),
                             b"<user1> after")

    def test_escape_line_reaches_members_at_the_smallest_queue_allowed(self):
        need = re.search(rb"use --max-queue (\d+)", self.refused(
            "--chat", "--max-queue", "8K")).group(1)
        proc, port = self.server("--chat", "--max-queue", need.decode())
        a, b, c = (self.client(port) for _ in range(3))
        a.r.wait_line(b"*** user3 joined")
        for _ in range(3):
            a.send(b"\x1b" * 4096 + b"\n")
        for m in (b, c):
            for _ in range(3):
                line = m.r.wait_line(re.compile(rb"^<user1> "))
                self.assertGreater(len(line), 2 * 4096)  # shown, escaped
                self.assertNotIn(b"\x1b", line)
        proc.err.assert_quiet()  # nobody dropped

    def test_one_read_of_many_lines_does_not_overflow_readers(self):
        proc, port = self.server("--chat", "--max-queue", "64K")
        a, b, c = (self.client(port) for _ in range(3))
        a.r.wait_line(b"*** user3 joined")
        b.r.wait_line(b"*** user3 joined")
        n = 30000  # 60 KB in, 30,000 * (10 + 16) = 780 KB of queue out
        a.send(b"x\n" * n)
        for m in (b, c):
            got = 0
            while got < n:
                self.assertEqual(m.r.read_line(4 * TIMEOUT), b"<user1> x")
                got += 1
        self.assertNotIn(b"dropped", bytes(proc.err.transcript))

    def test_operator_paste_of_many_lines_does_not_overflow_readers(self):
        proc, port = self.server("--chat", "--max-queue", "64K")
        a, b = self.client(port), self.client(port)
        a.r.wait_line(b"*** user2 joined")
        n = 30000  # 60 KB in, 30,000 * (11 + 16) = 810 KB of queue out
        proc.write(b"x\n" * n)
        for m in (a, b):
            for i in range(n):
                self.assertEqual(m.r.read_line(4 * TIMEOUT), b"<server> x",
                                 "line %d" % i)
        self.assertNotIn(b"dropped", bytes(proc.err.transcript))

    def test_broker_small_queue_one_big_write_reaches_every_reader(self):
        proc, port = self.server("--broker", "--max-queue", "4K")
        base = fd_count(proc.pid)
        a, b, c = (self.client(port, chat=False) for _ in range(3))
        wait_for(lambda: fd_count(proc.pid) == base + 3, "3 clients")
        data = bytes(range(256)) * 40  # 10,240 bytes, one write
        a.send(data)
        for m in (b, c):
            self.assertEqual(m.r.read_exact(len(data), 2 * TIMEOUT), data)
        self.assertNotIn(b"dropped", bytes(proc.err.transcript))


class TestLog(HubCase):

    def test_unread_log_loses_lines_not_the_room(self):
        proc, port = self.server("--chat")  # its stdout is never read here
        a, b = self.client(port), self.client(port)
        a.r.wait_line(b"*** user2 joined")
        line = b"y" * 1000 + b"\n"
        n = 3000  # 3 MB of log: a pipe takes 64 KB, the hub 1 MB more
        t = threading.Thread(target=a.send_long, args=(line * n,))
        t.start()
        self.addCleanup(t.join, TIMEOUT)
        for i in range(n):
            self.assertEqual(b.r.read_line(2 * TIMEOUT),
                             b"<user1> " + line[:-1], "line %d" % i)
        c = self.client(port)  # newcomers are greeted
        self.assertEqual(c.name, b"user3")
        proc.out.wait_line(re.compile(rb"^sockit: \d+ log lines dropped$"),
                           2 * TIMEOUT)
        a.send(b"still logged\n")
        proc.out.wait_line(re.compile(STAMP + rb" #lobby <user1> still logged$"))

    def test_log_on_a_terminal_paused_with_ctrl_s(self):
        master, slave = os.openpty()
        self.addCleanup(os.close, master)
        p, port, err = self.server("--chat", stdout=slave)
        os.close(slave)
        os.write(master, b"\x13")  # Ctrl-S: the terminal stops output
        log = LineReader(master, "log terminal")
        a, b = self.client(port), self.client(port)
        a.r.wait_line(b"*** user2 joined")
        n, line = 2000, b"w" * 1000 + b"\n"
        t = threading.Thread(target=a.send_long, args=(line * n,))
        t.start()
        self.addCleanup(t.join, TIMEOUT)
        for i in range(n):
            self.assertEqual(b.r.read_line(2 * TIMEOUT),
                             b"<user1> " + line[:-1], "line %d" % i)
        self.assertEqual(self.client(port).name, b"user3")
        os.write(master, b"\x11")  # Ctrl-Q: output resumes
        log.wait_line(re.compile(rb"^sockit: \d+ log lines dropped\r?$"),
                      2 * TIMEOUT)
        self.assertIsNone(p.poll())

    def unwritable_log(self, stdout):
        p, port, err = self.server("--chat", stdout=stdout)
        a, b = self.client(port), self.client(port)
        a.r.wait_line(b"*** user2 joined")
        line = err.wait_line(re.compile(rb"^sockit: output: .*: no longer "
                                        rb"written; still serving$"))
        a.send(b"hello\n")
        self.assertEqual(b.r.read_line(), b"<user1> hello")
        self.client(port)
        b.r.wait_line(b"*** user3 joined")
        self.assertIsNone(p.poll())
        self.assertEqual(err.all_lines(), [line])  # said once
        return line

    def test_log_to_dev_full_keeps_the_room(self):
        with open("/dev/full", "wb") as full:
            line = self.unwritable_log(full)
        self.assertIn(b"no space", line)

    def test_log_reader_gone_keeps_the_room(self):
        r, w = os.pipe()
        os.close(r)  # as `| head -c 0`: the reader is gone
        try:
            self.unwritable_log(w)
        finally:
            os.close(w)

    def test_keep_mode_stdout_gone_ends_quietly(self):
        r, w = os.pipe()
        os.close(r)
        p, port, err = self.server("-k", stdout=w)
        os.close(w)
        a = self.client(port, chat=False)
        a.send(b"data\n")
        self.assertEqual(p.wait(TIMEOUT), 0)
        self.assertEqual(err.wait_eof(), b"")


class TestStop(HubCase):

    def test_sigterm_delivers_everything_read_from_stdin(self):
        r, w = os.pipe()
        self.addCleanup(os.close, w)
        p, port, err = self.server("-k", "--max-queue", "64M", stdin=r,
                                   stdout=subprocess.DEVNULL)
        os.close(r)
        base = fd_count(p.pid)
        a = self.client(port, chat=False, rcvbuf=4096)
        wait_for(lambda: fd_count(p.pid) == base + 1, "the client")
        total = 4 << 20  # far more than the socket buffers hold
        chunk = bytes(range(256)) * 256
        sent = 0
        with selectors.DefaultSelector() as sel:
            sel.register(w, selectors.EVENT_WRITE)
            while sent < total:
                self.assertTrue(sel.select(TIMEOUT), "stdin not read")
                sent += os.write(w, chunk[:min(len(chunk), total - sent)])

        def unread():  # bytes still in the pipe: FIONREAD on either end
            buf = bytearray(4)
            fcntl.ioctl(w, termios.FIONREAD, buf)
            return int.from_bytes(buf, sys.byteorder)
        wait_for(lambda: unread() == 0, "sockit to read all of stdin")
        p.send_signal(signal.SIGTERM)
        got = bytearray()
        deadline = time.monotonic() + 2 * TIMEOUT
        while time.monotonic() < deadline:
            data = a.sock.recv(1 << 20)
            if not data:
                break
            got += data
        self.assertEqual(len(got), total)
        self.assertEqual(bytes(got[:len(chunk)]), chunk)
        self.assertEqual(p.wait(TIMEOUT), 143)


class TestRepeatStaller(HubCase):
    """An attacker on 127.0.0.2 that never reads, reconnecting; healthy
    clients on 127.0.0.1."""
    # The kernel may hold up to tcp_wmem's 4 MB toward a client that does
    # not read before its queue even starts to fill: send more than that.
    LINES = 7000

    def burst(self, sender, reader, n, tag):
        """sender says n lines; reader must get every one."""
        line = tag + b"z" * 1000 + b"\n"
        t = threading.Thread(target=sender.send_long, args=(line * n,))
        t.start()
        self.addCleanup(t.join, 2 * TIMEOUT)
        for i in range(n):
            got = reader.r.wait_line(re.compile(rb"^<user1> "), 2 * TIMEOUT)
            self.assertEqual(got, b"<user1> " + line[:-1], "line %d" % i)
        t.join(TIMEOUT)

    def test_second_stall_from_the_same_address_is_shed_at_once(self):
        proc, port = self.server("--chat")
        a, b = self.client(port), self.client(port)
        x1 = self.client(port, rcvbuf=2048, source="127.0.0.2")
        b.r.wait_line(re.compile(rb"^\*\*\* user3 joined$"))
        self.burst(a, b, self.LINES, b"1")  # x1 stalls the room 2 s, then goes
        first = proc.err.wait_line(re.compile(rb"127\.0\.0\.2:\d+ dropped"))
        self.assertIn(b"stalled: output queue over", first)
        x2 = self.client(port, rcvbuf=2048, source="127.0.0.2")
        b.r.wait_line(re.compile(rb"^\*\*\* user4 joined$"))
        self.burst(a, b, self.LINES, b"2")
        # Shed as soon as it stalled, without another 2 s budget.
        second = proc.err.wait_line(re.compile(rb"127\.0\.0\.2:\d+ dropped"))
        self.assertEqual(second, b"sockit: 127.0.0.2:%d dropped: stalled "
                         b"again: its address stalled the room within 60 s"
                         % x2.sock.getsockname()[1])
        # A healthy client on another address congesting is not shed.
        self.assertNotIn(b"127.0.0.1:", bytes(proc.err.transcript))


class TestPartialLines(HubCase):

    def test_line_without_newline_is_delivered_after_a_quiet_moment(self):
        proc, port = self.server("--chat")
        a, b = self.client(port), self.client(port)
        a.r.wait_line(b"*** user2 joined")
        a.send(b"hello")  # what input() returns, sent as is
        self.assertEqual(b.r.read_line(), b"<user1> hello")
        proc.out.wait_line(re.compile(STAMP + rb" #lobby <user1> hello$"))
        a.send(b"\nnext\n")  # the newline that ends "hello" is not a line
        self.assertEqual(b.r.read_line(), b"<user1> next")

    def test_many_writes_without_newline_are_one_line(self):
        proc, port = self.server("--chat")
        a, b = self.client(port), self.client(port)
        a.r.wait_line(b"*** user2 joined")
        for part in (b"one ", b"two ", b"three"):
            a.send(part)
        self.assertEqual(b.r.read_line(), b"<user1> one two three")


class TestVerbose(HubCase):

    def test_connection_received_on_host_port(self):
        proc, port = self.server("--chat", "-v")
        a = self.client(port)
        proc.err.wait_line(b"Connection received on 127.0.0.1 %d" %
                           a.sock.getsockname()[1])

    def test_ipv4_client_of_a_dual_stack_listener_shown_as_ipv4(self):
        proc, port = start_listener(
            lambda p: [sockit(), "-k", "-v", "-l", p],  # no host: both
            on_start=lambda pr: self.addCleanup(pr.stop))
        a = self.client(port, chat=False)
        proc.err.wait_line(b"Connection received on 127.0.0.1 %d" %
                           a.sock.getsockname()[1])


if __name__ == "__main__":
    unittest.main()
