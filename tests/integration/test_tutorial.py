#!/usr/bin/env python3
"""The tutorial's own Python programs against ours (issue 8).

The seed tutorial (../shared/seed/ beside the repository) ships six
Python programs; tests/tutorial/extract.py cuts them out verbatim and the
copies are committed there. This file checks the copies still equal a
fresh extraction, then runs the matrix: each tutorial server with our C
client, each C server with the tutorial's client, TCP and UDP and the
two-thread demos, and the tutorial's client in `sockit --chat -l`.

How the tutorial's programs are run, without changing their logic:
- Their address is the constant `server_addr = ('127.0.0.1', 2333)`; the
  port number in that one line is replaced by a free port when a program
  is loaded (load_tutorial), so tests never collide on 2333.
- They run under `python3 -u`: their stdout is a pipe here, and without
  -u print() would hold their output in a buffer until they exit.
- Their input() reads stdin, which is a pipe: without a terminal input()
  prints its prompt and reads one line, so no pseudo-terminal is needed.
  Their prompts have no newline, so a printed message may follow one on
  the same output line; the checks match the end of the line.

What they send has no newline: what input() returns. Our programs show
such a message once the sender has sent nothing more for 200 ms
(examples/common.h, docs/design.md), so every message below must show
while the connection stays open, not when the peer leaves.

The tutorial's TCP demo is not paired with a C client: by its own logic
its server thread serves the first connection for ever, which is the
demo's own client, so no other client is ever read. Its client thread
is paired with our tcp_chat_demo instead (its server thread then fails
to bind the port that ours holds, and says so).
"""

import os
import re
import socket
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
TUTORIAL = os.path.join(ROOT, "tests", "tutorial")
sys.path.insert(0, HERE)
sys.path.insert(0, TUTORIAL)

import extract  # noqa: E402
from common import (TIMEOUT, LineReader, Proc, binary,  # noqa: E402
                    free_port, start_listener, wait_listening)

ADDR_LINE = re.compile(r"server_addr = \('127\.0\.0\.1', 2333\)")


def tutorial_source(name, port):
    """The tutorial program `name` with its port constant set to port."""
    with open(os.path.join(TUTORIAL, name), encoding="utf-8") as f:
        text = f.read()
    text, count = ADDR_LINE.subn(
        "server_addr = ('127.0.0.1', %d)" % port, text)
    if count != 1:
        raise AssertionError("%s: expected one server_addr line, found %d"
                             % (name, count))
    return text


def wait_udp_queued(port):
    """Waits until the UDP socket bound to 127.0.0.1:port has a datagram
    waiting to be read (/proc/net/udp rx_queue), within TIMEOUT."""
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        with open("/proc/net/udp") as f:
            for row in f.read().splitlines()[1:]:
                fields = row.split()
                local, queues = fields[1], fields[4]
                if (int(local.split(":")[1], 16) == port and
                        int(queues.split(":")[1], 16) > 0):
                    return
        time.sleep(0.01)
    raise AssertionError("no datagram queued on udp port %d within %.1fs"
                         % (port, TIMEOUT))


def ends(text):
    """A line that ends with text (after a prompt, maybe)."""
    return re.compile(re.escape(text) + rb"$")


class TutorialCase(unittest.TestCase):

    maxDiff = 2000

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="sockit-tutorial-")
        self.addCleanup(self.tmp.cleanup)

    def tutorial(self, name, port):
        """Starts the tutorial program name (tcp_server.py...) on port."""
        path = os.path.join(self.tmp.name, name)
        with open(path, "w", encoding="utf-8") as f:
            f.write(tutorial_source(name, port))
        proc = Proc([sys.executable, "-u", path])
        self.addCleanup(proc.stop)
        return proc

    def tutorial_listener(self, name, proto):
        """(proc, port): a tutorial server once it listens (or is bound)."""
        for _ in range(5):
            socktype = (socket.SOCK_STREAM if proto == "tcp"
                        else socket.SOCK_DGRAM)
            port = free_port(socktype=socktype)
            proc = self.tutorial(name, port)
            if wait_listening(port, proto, proc):
                return proc, port
        self.fail("%s could not bind a port:%s" % (name, proc.describe()))

    def example(self, name, port):
        proc = Proc([binary(name), "127.0.0.1", port])
        self.addCleanup(proc.stop)
        return proc

    def example_listener(self, name, proto):
        path = binary(name)
        return start_listener(lambda port: [path, "127.0.0.1", port], proto,
                              on_start=lambda p: self.addCleanup(p.stop))

    def assert_running(self, *procs):
        for proc in procs:
            self.assertIsNone(proc.poll(), "%s exited:%s" % (proc.label,
                                                             proc.describe()))


class ExtractionTest(unittest.TestCase):
    """The committed copies are the seed's programs, verbatim."""

    def test_committed_copies_equal_a_fresh_extraction(self):
        seed = extract.SEED
        self.assertTrue(os.path.isfile(seed),
                        "the seed tutorial is missing: %s (CI has it beside "
                        "the clone, as ../shared/seed)" % seed)
        with open(seed, encoding="utf-8") as f:
            programs = extract.extract(f.read())
        self.assertEqual(sorted(programs), sorted(extract.NAMES))
        for name in extract.NAMES:
            with open(os.path.join(TUTORIAL, name), encoding="utf-8") as f:
                self.assertEqual(f.read(), programs[name], name)

    def test_every_program_has_the_port_constant(self):
        for name in extract.NAMES:
            self.assertIn("server_addr = ('127.0.0.1', 4444)",
                          tutorial_source(name, 4444))


class TcpTutorialTest(TutorialCase):

    def test_tutorial_server_with_c_client(self):
        server, port = self.tutorial_listener("tcp_server.py", "tcp")
        client = self.example("tcp_client", port)
        client.out.wait_line(b"connected to 127.0.0.1:%d" % port)
        server.out.wait_line(ends(b"Connected by  None"))
        for ours, theirs in ((b"hello from C", b"hi from the tutorial"),
                             ("\u4f60\u597d".encode(), b"second reply")):
            client.write(ours + b"\n")
            server.out.wait_line(ends(ours))
            server.write(theirs + b"\n")  # sent without newline
            client.out.wait_line(b"server: " + theirs)
        self.assert_running(server, client)

    def test_c_server_with_tutorial_client(self):
        server, port = self.example_listener("tcp_server", "tcp")
        client = self.tutorial("tcp_client.py", port)
        name = server.out.wait_line(re.compile(rb"^connected by ")).split()[-1]
        for theirs, ours in ((b"hello from the tutorial", b"hi from C"),
                             ("\u4f60\u597d".encode(), b"second reply")):
            client.write(theirs + b"\n")  # sent without newline
            server.out.wait_line(name + b": " + theirs)
            server.write(ours + b"\n")
            client.out.wait_line(ends(ours))
        self.assert_running(server, client)

    def test_c_chat_demo_with_tutorial_client(self):
        demo, port = self.example_listener("tcp_chat_demo", "tcp")
        client = self.tutorial("tcp_client.py", port)
        for text in (b"hello demo", b"and again"):
            client.write(text + b"\n")
            demo.out.wait_line(b"[server] got: " + text)
            client.out.wait_line(ends(b"echo: " + text))
        self.assert_running(demo, client)

    def test_c_chat_demo_with_tutorial_chat_demo(self):
        demo, port = self.example_listener("tcp_chat_demo", "tcp")
        theirs = self.tutorial("tcp_chat_demo.py", port)
        # Their server thread cannot have our port; their client joins ours.
        # (Their client thread's prompt may share that output line.)
        theirs.out.wait_line(re.compile(re.escape(
            b"Socket Binding Failure. Error Code : 98 .Message : Address "
            b"already in use.")))
        for text in (b"from the tutorial's demo", b"twice"):
            theirs.write(text + b"\n")
            demo.out.wait_line(b"[server] got: " + text)
            theirs.out.wait_line(ends(b"echo: " + text))
        self.assert_running(demo, theirs)

    def test_tutorial_client_in_sockit_chat(self):
        # Needs the chat's quiet-period rule (the hub helper's branch).
        chat, port = start_listener(
            lambda p: [binary("sockit", subdir=""), "--chat", "-l",
                       "127.0.0.1", p],
            on_start=lambda p: self.addCleanup(p.stop))
        member = socket.create_connection(("127.0.0.1", port))
        self.addCleanup(member.close)
        room = LineReader(member, "chat member")
        room.wait_line(re.compile(rb"^\*\*\* you are "))
        client = self.tutorial("tcp_client.py", port)
        joined = room.wait_line(re.compile(rb"^\*\*\* \S+ joined"))
        name = joined.split()[1]
        client.write(b"hello room\n")  # sent without newline
        room.wait_line(b"<" + name + b"> hello room")
        # The tutorial's client reads once after each line it sends (its
        # first read took the greeting): the member's answer shows after
        # its second line.
        member.sendall(b"welcome, tutorial\n")
        client.write(b"second line\n")
        room.wait_line(b"<" + name + b"> second line")
        client.out.wait_line(re.compile(rb"welcome, tutorial"))
        self.assert_running(chat, client)


class UdpTutorialTest(TutorialCase):

    def test_tutorial_server_with_c_client(self):
        server, port = self.tutorial_listener("udp_server.py", "udp")
        client = self.example("udp_client", port)
        for ours, theirs in ((b"hello from C", b"hi from the tutorial"),
                             ("\u4f60\u597d".encode(), b"second reply")):
            client.write(ours + b"\n")
            server.out.wait_line(ends(ours))
            server.write(theirs + b"\n")
            client.out.wait_line(b"server: " + theirs)
        self.assert_running(server, client)

    def test_c_server_with_tutorial_client(self):
        server, port = self.example_listener("udp_server", "udp")
        client = self.tutorial("udp_client.py", port)
        for theirs, ours in ((b"hello from the tutorial", b"hi from C"),
                             ("\u4f60\u597d".encode(), b"second reply")):
            client.write(theirs + b"\n")
            server.out.wait_line(re.compile(
                rb"^127\.0\.0\.1:\d+: " + re.escape(theirs) + rb"$"))
            server.write(ours + b"\n")
            client.out.wait_line(ends(ours))
        self.assert_running(server, client)

    def test_c_chat_demo_with_tutorial_client(self):
        demo, port = self.example_listener("udp_chat_demo", "udp")
        client = self.tutorial("udp_client.py", port)
        for text in (b"hello demo", b"and again"):
            client.write(text + b"\n")
            demo.out.wait_line(b"[server] got: " + text)
            client.out.wait_line(ends(b"echo: " + text))
        self.assert_running(demo, client)

    def test_c_chat_demo_with_tutorial_chat_demo(self):
        demo, port = self.example_listener("udp_chat_demo", "udp")
        theirs = self.tutorial("udp_chat_demo.py", port)
        # Their server thread dies on bind (the port is ours); their client
        # thread talks to our server.
        theirs.err.wait_line(ends(b"OSError: [Errno 98] Address already in "
                                  b"use"))
        for text in (b"from the tutorial's demo", b"twice"):
            theirs.write(text + b"\n")
            demo.out.wait_line(b"[server] got: " + text)
            theirs.out.wait_line(ends(b"echo: " + text))
        self.assert_running(demo, theirs)

    def test_tutorial_chat_demo_with_c_client(self):
        theirs, port = self.tutorial_listener("udp_chat_demo.py", "udp")
        # Their client thread calls input() first, at start.
        theirs.out.wait_line(re.compile(rb"waitting for data"))
        client = self.example("udp_client", port)
        client.write(b"from C\n")
        theirs.out.wait_line(re.compile(rb"from C"))
        # Both their threads wait in input() now; the client thread asked
        # first, at start, and takes the first line: it sends it to their
        # own server, where it waits in the socket's queue (the server
        # thread is in input()). Only then can the second line go to the
        # server thread, which sends it to us as its reply.
        theirs.write(b"to their own server\n")
        wait_udp_queued(port)
        theirs.write(b"reply to C\n")
        client.out.wait_line(b"server: reply to C")
        theirs.out.wait_line(re.compile(rb"to their own server"))
        self.assert_running(theirs, client)


if __name__ == "__main__":
    unittest.main(verbosity=2)
