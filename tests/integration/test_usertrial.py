#!/usr/bin/env python3
"""Defects found by trying sockit as users would (session 2's user trial
of exec, forwarding, proxies, logs, TLS, chat and --web). Each test
reproduces one defect as a user met it, and failed before its fix.

    python3 tests/integration/test_usertrial.py [-v] [TestClass[.test_name]]
"""

import os
import re
import socket
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import (TIMEOUT, CliCase, LineReader, free_port,  # noqa: E402
                    recv_exact, wait_for, wait_listening)
from test_exec import proc_children  # noqa: E402


class ExecPeerGone(CliCase):
    """A program that writes without end (`-c 'exec yes'`), and a client
    that reads a little and goes away: the program must get EPIPE and be
    reaped, not stay blocked on a socket nobody reads (it stayed until
    sockit was killed, and a plain -l sockit never exited)."""

    def client_reads_and_leaves(self, proc, port):
        """The program's pids, seen while it runs, once the client left."""
        sock = self.connect(port)
        recv_exact(sock, 65536)
        kids = wait_for(lambda: proc_children(proc.pid), "the program runs")
        sock.close()  # unread bytes: a reset
        return kids

    def assert_gone(self, kids):
        wait_for(lambda: not any(os.path.exists("/proc/%d" % k)
                                 for k in kids),
                 "the program of the gone client exits and is reaped")

    def test_keep_child_reaped_when_client_leaves(self):
        proc, port = self.listener("-k", "-c", "exec yes")
        self.assert_gone(self.client_reads_and_leaves(proc, port))
        self.assertIsNone(proc.poll(), "the -k server keeps serving")

    def test_plain_listen_exits_when_client_leaves(self):
        proc, port = self.listener("-c", "exec yes")
        kids = self.client_reads_and_leaves(proc, port)
        rc = proc.wait_exit(TIMEOUT)
        self.assertEqual(rc, 1, "yes failed (EPIPE): exit 1%s" %
                         proc.describe())
        self.assert_gone(kids)


class ChatConsoleAlone(CliCase):
    """The chat operator's console before anyone joined: `/shutdown` and
    `/who` were not even read (operator input waited for a first client,
    as -k's raw input does), so `/shutdown` left the server running."""

    def test_shutdown_with_no_client(self):
        proc, port = self.listener("--chat")
        proc.write(b"/who\n/shutdown bye\n")
        self.assertEqual(proc.wait_exit(TIMEOUT), 0, proc.describe())
        log = bytes(proc.out.transcript)
        self.assertIn(b"*** server shutting down: bye\n", log)


class IgnoredFlagsRefused(CliCase):
    """Flags of the one-relay modes that the servers (-k, --chat -l,
    --broker) and the chat client accepted and then ignored: `--chat -q 1
    host port` waited for the server for ever, `-k -l -N` never half-closed
    anything. Each is now a usage error naming the flag and the mode."""

    CASES = [
        (["--chat", "-q", "1"], rb"-q", rb"--chat"),
        (["--chat", "--progress"], rb"--progress", rb"--chat"),
        (["--chat", "-C"], rb"-C", rb"--chat"),
        (["--chat", "-i", "2"], rb"-i", rb"--chat"),
        (["--chat", "--send-only"], rb"--send-only", rb"--chat"),
        (["--chat", "--recv-only"], rb"--recv-only", rb"--chat"),
        (["--chat", "-l", "-q", "1"], rb"-q", rb"--chat -l"),
        (["--chat", "-l", "-N"], rb"-N", rb"--chat -l"),
        (["--chat", "-l", "-C"], rb"-C", rb"--chat -l"),
        (["--chat", "-l", "--progress"], rb"--progress", rb"--chat -l"),
        (["-k", "-l", "-q", "1"], rb"-q", rb"-k"),
        (["-k", "-l", "-N"], rb"-N", rb"-k"),
        (["-k", "-l", "--progress"], rb"--progress", rb"-k"),
        (["--broker", "-l", "-q", "0"], rb"-q", rb"--broker"),
        (["--broker", "-l", "-N"], rb"-N", rb"--broker"),
    ]

    def test_each_is_a_usage_error(self):
        for flags, flag, mode in self.CASES:
            with self.subTest(flags=flags):
                rc, out, err = self.run_sockit(*flags, "127.0.0.1", "1")
                self.assertEqual(rc, 2, err)
                self.assertRegex(err, rb"^sockit: cannot use " +
                                 re.escape(flag) + rb" with " +
                                 re.escape(mode) + rb"[:\n]")
                self.assertEqual(err.count(b"\n"), 1, err)

    def test_what_they_do_use_is_still_taken(self):
        for flags in (["--chat", "-w", "1"], ["--chat", "-N"],
                      ["-k", "-l", "-C", "-i", "1"],
                      ["--broker", "-l", "-C"]):
            with self.subTest(flags=flags):
                rc, out, err = self.run_sockit(*flags, "127.0.0.1",
                                               "99999")
                self.assertEqual(rc, 2, err)
                self.assertIn(b"99999", err)  # the port, not the flag


class WebSocketVersion(CliCase):
    """RFC 6455 4.2.1: the opening handshake carries Sec-WebSocket-Version
    13; a server must not switch protocols for another (version 99 was
    answered 101). Version 13 still is."""

    def handshake(self, wport, version):
        s = self.connect(wport)
        s.sendall(b"GET /chat HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                  b"Upgrade: websocket\r\nConnection: Upgrade\r\n"
                  b"Sec-WebSocket-Version: %s\r\n"
                  b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
                  % (wport, version))
        return LineReader(s, "websocket").read_line(TIMEOUT) or b""

    def test_only_version_13_is_upgraded(self):
        wport = free_port()
        proc, _ = self.listener("--chat", "--web", wport)
        self.assertTrue(wait_listening(wport, proc=proc))
        self.assertNotIn(b" 101 ", self.handshake(wport, b"99"))
        self.assertNotIn(b" 101 ", self.handshake(wport, b"12"))
        self.assertIn(b" 101 ", self.handshake(wport, b"13"))


class ChatClientHandshakeBound(CliCase):
    """`sockit --chat --ssl -w 1` against a server that accepts and says
    nothing: the relay client gives up the handshake after -w, the chat
    client waited for ever (its relay had no timeout at all)."""

    def test_w_bounds_the_chat_clients_handshake(self):
        silent, port = self.server()
        proc = self.spawn("--chat", "--ssl", "--insecure", "-w", "1",
                          "127.0.0.1", port)
        self.accept(silent)  # held open, never answered
        self.assertEqual(proc.wait_exit(3 * TIMEOUT), 1, proc.describe())
        self.assertIn(b"TLS handshake with 127.0.0.1:%d: no answer for "
                      b"1000 ms\n" % port, bytes(proc.err.transcript))


class TlsClientHandshakeDefaultBound(CliCase):
    """`sockit --ssl host port` (no -w) against a server that accepts and
    never answers waited for ever; a proxy's handshake has a 10 s bound
    without -w, and so has a TLS client's now (the relay's and the chat
    client's)."""

    def check(self, *flags):
        silent, port = self.server()
        proc = self.spawn(*flags, "--ssl", "--insecure", "127.0.0.1", port)
        self.accept(silent)  # held open, never answered
        self.assertEqual(proc.wait_exit(10 + 3 * TIMEOUT), 1, proc.describe())
        self.assertIn(b"TLS handshake with 127.0.0.1:%d: no answer for "
                      b"10000 ms\n" % port, bytes(proc.err.transcript))

    def test_relay_client(self):
        self.check()

    def test_chat_client(self):
        self.check("--chat")


class LogsToOneFile(CliCase):
    """`-o F --hex-dump F` wrote both logs into one file, interleaved."""

    def test_same_file_is_a_usage_error(self):
        path = os.path.join(self.tmpdir(), "wire.log")
        rc, _, err = self.run_sockit("-o", path, "--hex-dump", path,
                                     "127.0.0.1", "1")
        self.assertEqual(rc, 2, err)
        self.assertEqual(err, b"sockit: cannot write -o and --hex-dump to "
                              b"one file: " + path.encode() + b"\n")


if __name__ == "__main__":
    unittest.main()
