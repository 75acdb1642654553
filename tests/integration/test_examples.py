#!/usr/bin/env python3
"""Integration tests for the tutorial's six programs in examples/.

Each program runs as a real process against an independent peer written
with Python's socket module: TCP and UDP, each side talking first, plus the
error paths (bad ports, refused connections, unknown hosts). Binaries come
from $SOCKIT_BUILD_DIR/examples (default: ../../build/examples).

    python3 tests/integration/test_examples.py [-v] [TestClass[.test_name]]
"""

import os
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import (TIMEOUT, LineReader, Proc, addr_text,  # noqa: E402
                    binary, free_port, refusing_port, start_listener,
                    udp_assert_quiet, udp_recv)

LONG = 5000  # well over the tutorial's recv(1024)
UDP_MAX = 65507  # the largest IPv4 UDP payload


def long_text(n, tag="x"):
    """n bytes of printable text that shows where a cut happened."""
    unit = ("%s0123456789abcdefghijklmnopqrstuvwxyz" % tag).encode()
    return (unit * (n // len(unit) + 1))[:n]


def family_of(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


class ExampleCase(unittest.TestCase):
    """Starts programs and Python peers; everything is torn down by
    addCleanup, in reverse order, even when a test fails."""

    maxDiff = 2000

    def spawn(self, name, *args):
        proc = Proc([binary(name)] + [str(a) for a in args])
        self.addCleanup(proc.stop)
        return proc

    def listener(self, name, proto="tcp", host="127.0.0.1"):
        """(proc, port): name started as `name host port` on a free port,
        once it listens (TCP) or is bound (UDP) there."""
        path = binary(name)
        return start_listener(lambda port: [path, host, port], proto, host,
                              on_start=lambda p: self.addCleanup(p.stop))

    def tcp_connect(self, port, host="127.0.0.1"):
        sock = socket.create_connection((host, port), timeout=TIMEOUT)
        self.addCleanup(sock.close)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock

    def tcp_server(self, host="127.0.0.1"):
        """(listening socket, port) of a Python TCP server."""
        sock = socket.socket(family_of(host), socket.SOCK_STREAM)
        self.addCleanup(sock.close)
        sock.bind((host, 0))
        sock.listen(8)
        sock.settimeout(TIMEOUT)
        return sock, sock.getsockname()[1]

    def accept(self, listening):
        try:
            conn, _ = listening.accept()
        except socket.timeout:
            self.fail("no connection within %.1fs" % TIMEOUT)
        self.addCleanup(conn.close)
        conn.settimeout(TIMEOUT)
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return conn

    def udp_peer(self, host="127.0.0.1"):
        sock = socket.socket(family_of(host), socket.SOCK_DGRAM)
        self.addCleanup(sock.close)
        sock.bind((host, 0))
        return sock

    @staticmethod
    def send_in_pieces(sock, data, piece=700, pause=0.01):
        """Sends data as several TCP segments, so that a program reading
        with one recv() would see pieces."""
        for i in range(0, len(data), piece):
            sock.sendall(data[i:i + piece])
            time.sleep(pause)

    def assert_exit(self, proc, code, timeout=None):
        rc = proc.wait_exit(timeout)
        self.assertEqual(rc, code, "exit status%s" % proc.describe())

    def assert_no_esc(self, proc):
        proc.out.drain()
        self.assertNotIn(b"\x1b", bytes(proc.out.transcript),
                         "a raw ESC byte reached stdout")


# ------------------------------------------------------------ tcp_server

class TcpServerTest(ExampleCase):

    def setUp(self):
        self.server, self.port = self.listener("tcp_server")

    def connect(self, host="127.0.0.1"):
        """A client, once the server announced it; returns (sock, name)."""
        sock = self.tcp_connect(self.port, host)
        name = addr_text(sock.getsockname())
        self.server.out.wait_line(("connected by %s" % name).encode())
        return sock, name

    def test_announces_its_address(self):
        self.assertEqual(self.server.out.read_line(),
                         b"listening on 127.0.0.1:%d" % self.port)

    def test_client_lines_printed_with_address(self):
        sock, name = self.connect()
        sock.sendall(b"hello, sockit\n")
        self.server.out.wait_line(b"%s: hello, sockit" % name.encode())
        # Two lines in one segment are two messages; valid UTF-8 and a CRLF
        # ending are shown as they are meant.
        sock.sendall("first\nsecond \u4f60\u597d\r\n".encode())
        self.assertEqual(self.server.out.read_line(),
                         b"%s: first" % name.encode())
        self.assertEqual(self.server.out.read_line().decode(),
                         "%s: second \u4f60\u597d" % name)

    def test_long_message_arrives_whole_on_one_line(self):
        sock, name = self.connect()
        text = long_text(LONG)
        self.send_in_pieces(sock, text + b"\n")
        line = self.server.out.wait_line(
            lambda l: l.startswith(name.encode() + b": "))
        self.assertEqual(len(line), len(name) + 2 + LONG)
        self.assertEqual(line, name.encode() + b": " + text)
        sock.sendall(b"after\n")  # the reader is still in step
        self.assertEqual(self.server.out.read_line(),
                         name.encode() + b": after")

    def test_stdin_line_reaches_client(self):
        sock, _ = self.connect()
        reader = LineReader(sock, "client")
        self.server.write("reply one\n")
        self.assertEqual(reader.read_line(), b"reply one")
        self.server.write("reply \u4e8c\r\n")  # CRLF typed: LF sent
        self.assertEqual(reader.read_exact(len("reply \u4e8c\n".encode())),
                         "reply \u4e8c\n".encode())
        text = long_text(LONG, "r")
        self.server.write(text + b"\n")
        self.assertEqual(reader.read_line(), text)

    def test_reply_right_after_connect_notice(self):
        # A reply typed as soon as "connected by" shows must reach that
        # client, every time.
        for i in range(20):
            sock, name = self.connect()
            self.server.write("quick %d\n" % i)
            self.assertEqual(LineReader(sock).read_line(), b"quick %d" % i)
            sock.close()
            self.server.out.wait_line(name.encode() + b" left")
        self.server.err.drain()
        self.assertEqual(bytes(self.server.err.transcript), b"")

    def test_reply_without_client_is_refused(self):
        self.server.write("nobody\n")
        self.server.err.wait_line(b"no client is connected; reply not sent")
        sock, _ = self.connect()
        self.server.write("somebody\n")
        self.assertEqual(LineReader(sock).read_line(), b"somebody")

    def test_second_client_served_after_first_leaves(self):
        first, name1 = self.connect()
        first.sendall(b"one\n")
        self.server.out.wait_line(name1.encode() + b": one")
        # The second client connects and speaks while the first is served.
        second = self.tcp_connect(self.port)
        name2 = addr_text(second.getsockname())
        second.sendall(b"two\n")
        self.server.out.assert_quiet()
        first.close()
        self.assertEqual(self.server.out.read_line(),
                         name1.encode() + b" left")
        self.assertEqual(self.server.out.read_line(),
                         b"connected by " + name2.encode())
        self.assertEqual(self.server.out.read_line(),
                         name2.encode() + b": two")
        self.server.write("to the second\n")
        self.assertEqual(LineReader(second).read_line(), b"to the second")
        self.assertEqual(self.server.poll(), None)

    def test_reset_client_reported_and_server_keeps_serving(self):
        sock, name = self.connect()
        sock.sendall(b"before reset\n")
        self.server.out.wait_line(name.encode() + b": before reset")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                        b"\x01\x00\x00\x00\x00\x00\x00\x00")  # on, 0 seconds
        sock.close()
        self.assertEqual(
            self.server.out.read_line(),
            name.encode() + b": connection lost: Connection reset by peer")
        again, name2 = self.connect()
        again.sendall(b"still serving\n")
        self.server.out.wait_line(name2.encode() + b": still serving")
        self.server.write("yes\n")
        self.assertEqual(LineReader(again).read_line(), b"yes")

    def test_unsafe_bytes_printed_safely(self):
        sock, name = self.connect()
        sock.sendall(b"bad \xff\xfe utf8, esc \x1b[2J, c1 \xc2\x9b, "
                     b"cut \xe4\xbd end\n")
        line = self.server.out.wait_line(
            lambda l: l.startswith(name.encode() + b": "))
        self.assertEqual(
            line.decode("utf-8"),  # strict: the line is valid UTF-8
            name + ": bad \ufffd\ufffd utf8, esc \u241b[2J, c1 \ufffd, "
            "cut \ufffd\ufffd end")
        sock.sendall(b"\x1b]0;title\x07 ok\n")
        self.assertEqual(self.server.out.read_line().decode(),
                         name + ": \u241b]0;title\u2407 ok")
        self.assert_no_esc(self.server)

    def test_empty_stdin_line_refused(self):
        sock, _ = self.connect()
        reader = LineReader(sock, "client")
        self.server.write("\n")
        self.server.err.wait_line(b"input can't be empty, please input again")
        self.server.write("\r\n")
        self.server.err.wait_line(b"input can't be empty, please input again")
        self.server.write("not empty\n")
        # Nothing was sent for the empty lines.
        self.assertEqual(reader.read_exact(len(b"not empty\n")),
                         b"not empty\n")

    def test_ipv6_loopback(self):
        server, port = self.listener("tcp_server", host="::1")
        sock = self.tcp_connect(port, "::1")
        name = addr_text(sock.getsockname())
        self.assertTrue(name.startswith("[::1]:"), name)
        server.out.wait_line(b"connected by " + name.encode())
        sock.sendall(b"over IPv6\n")
        server.out.wait_line(name.encode() + b": over IPv6")
        server.write("back over IPv6\n")
        self.assertEqual(LineReader(sock).read_line(), b"back over IPv6")


# ------------------------------------------------------------ tcp_client

class TcpClientTest(ExampleCase):

    def start(self, host="127.0.0.1"):
        """A Python server and a tcp_client connected to it."""
        self.listening, port = self.tcp_server(host)
        self.client = self.spawn("tcp_client", host, port)
        self.conn = self.accept(self.listening)
        self.peer = LineReader(self.conn, "python server")
        self.client.out.wait_line(b"connected to %s:%d" % (host.encode(),
                                                           port))

    def test_typed_lines_arrive_with_newline(self):
        self.start()
        self.client.write("hello\n")
        self.assertEqual(self.peer.read_exact(6), b"hello\n")
        self.client.write("crlf typed\r\n\nlast \u00e9\n")
        self.client.err.wait_line(b"input can't be empty, please input again")
        want = "crlf typed\nlast \u00e9\n".encode()
        self.assertEqual(self.peer.read_exact(len(want)), want)
        text = long_text(LONG, "c")
        self.client.write(text + b"\n")
        self.assertEqual(self.peer.read_exact(LONG + 1), text + b"\n")
        self.peer.assert_quiet()

    def test_server_speaks_first_without_lockstep(self):
        self.start()
        # Nothing typed: the client must print what arrives anyway.
        self.conn.sendall(b"welcome\n")
        self.assertEqual(self.client.out.read_line(), b"server: welcome")
        self.conn.sendall(b"one\ntwo\n")
        self.assertEqual(self.client.out.read_line(), b"server: one")
        self.assertEqual(self.client.out.read_line(), b"server: two")
        self.client.write("typed after\n")
        self.assertEqual(self.peer.read_line(), b"typed after")
        self.conn.sendall(b"three\n")
        self.assertEqual(self.client.out.read_line(), b"server: three")
        self.assertIsNone(self.client.poll())

    def test_long_message_from_server_arrives_whole(self):
        self.start()
        text = long_text(LONG, "s")
        self.send_in_pieces(self.conn, text + b"\n")
        line = self.client.out.read_line()
        self.assertEqual(len(line), len(b"server: ") + LONG)
        self.assertEqual(line, b"server: " + text)

    def test_unsafe_bytes_from_server_printed_safely(self):
        self.start()
        self.conn.sendall(b"\x1b[31mred\x1b[0m \xff\n")
        self.assertEqual(self.client.out.read_line().decode(),
                         "server: \u241b[31mred\u241b[0m \ufffd")
        self.assert_no_esc(self.client)

    def test_server_close_reported_with_exit_0(self):
        self.start()
        self.conn.sendall(b"goodbye\n")
        self.conn.close()  # stdin of the client stays open
        self.assertEqual(self.client.out.read_line(), b"server: goodbye")
        self.assertEqual(self.client.out.read_line(),
                         b"server closed the connection")
        self.assert_exit(self.client, 0)

    def test_end_of_input_lets_the_server_finish(self):
        self.start()
        self.client.write("last words\n")
        self.client.close_stdin()
        # The client half-closes: the server reads the line, then EOF ...
        self.assertEqual(self.peer.wait_eof(), b"last words\n")
        # ... and may still answer before it closes.
        self.conn.sendall(b"noted\n")
        self.assertEqual(self.client.out.read_line(), b"server: noted")
        self.assertIsNone(self.client.poll())
        self.conn.close()
        self.client.out.wait_line(b"server closed the connection")
        self.assert_exit(self.client, 0)

    def test_server_reset_reported(self):
        self.start()
        self.conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                             b"\x01\x00\x00\x00\x00\x00\x00\x00")
        self.conn.close()
        self.client.err.wait_line(
            b"tcp_client: connection lost: Connection reset by peer")
        self.assert_exit(self.client, 1)

    def test_port_not_an_integer_exits_2(self):
        proc = self.spawn("tcp_client", "127.0.0.1", "abc")
        self.assert_exit(proc, 2)
        self.assertEqual(proc.err.all_lines(), [
            b'tcp_client: port "abc" is not an integer in 1..65535'])
        self.assertEqual(bytes(proc.out.transcript), b"")

    def test_connection_refused(self):
        sock, port = refusing_port()
        self.addCleanup(sock.close)
        proc = self.spawn("tcp_client", "127.0.0.1", port)
        self.assert_exit(proc, 1)
        self.assertEqual(proc.err.all_lines(), [
            b"tcp_client: connect 127.0.0.1:%d: Connection refused" % port])
        self.assertEqual(bytes(proc.out.transcript), b"")

    def test_unresolvable_host(self):
        proc = self.spawn("tcp_client", "no.such.host.invalid", "2333")
        self.assert_exit(proc, 1, timeout=max(TIMEOUT, 30))
        self.assertEqual(len(proc.err.all_lines()), 1, proc.describe())
        self.assertRegex(
            proc.err.all_lines()[0].decode(),
            r'^tcp_client: host "no\.such\.host\.invalid" could not be '
            r'resolved: \S')

    def test_ipv6_loopback(self):
        self.start("::1")
        self.conn.sendall(b"hello over IPv6\n")
        self.assertEqual(self.client.out.read_line(),
                         b"server: hello over IPv6")
        self.client.write("and back\n")
        self.assertEqual(self.peer.read_line(), b"and back")


# ------------------------------------------------------------ tcp_chat_demo

class TcpChatDemoTest(ExampleCase):

    def setUp(self):
        self.demo, self.port = self.listener("tcp_chat_demo")
        self.demo.out.wait_line(
            b"chat demo on 127.0.0.1:%d: type a line and press Enter"
            % self.port)

    def assert_echo(self, text):
        """text typed is printed by the server thread, then echoed to the
        client thread, in that order."""
        self.demo.write(text + b"\n")
        self.assertEqual(self.demo.out.read_line(), b"[server] got: " + text)
        self.assertEqual(self.demo.out.read_line(),
                         b"[client] got: echo: " + text)

    def test_stdin_lines_echoed_through_both_threads(self):
        self.assert_echo(b"hello")
        self.assert_echo("\u4f60\u597d, world".encode())
        self.demo.write("\n")
        self.demo.err.wait_line(b"input can't be empty, please input again")
        self.assert_echo(b"after the empty one")

    def test_long_lines_echoed_whole(self):
        self.assert_echo(long_text(LONG))
        # The longest line the demo accepts (65534 bytes) comes back too.
        self.assert_echo(long_text(65534, "m"))
        self.assert_echo(b"still running")

    def test_python_client_served_concurrently(self):
        sock = self.tcp_connect(self.port)
        reader = LineReader(sock, "python client")
        sock.sendall(b"from python\n")
        self.assertEqual(reader.read_line(), b"echo: from python")
        self.demo.out.wait_line(b"[server] got: from python")
        # The Python client keeps its connection; the demo's own client is
        # served all the same, and so is the Python client afterwards.
        self.assert_echo(b"from stdin")
        text = long_text(LONG, "p")
        self.send_in_pieces(sock, text + b"\n")
        self.assertEqual(reader.read_line(), b"echo: " + text)
        self.assertEqual(self.demo.out.read_line(), b"[server] got: " + text)
        self.assert_echo(b"from stdin again")

    def test_end_of_input_exits_0(self):
        self.assert_echo(b"bye")
        self.demo.close_stdin()
        self.demo.out.wait_line(b"[client] the server closed the connection")
        self.assert_exit(self.demo, 0)


# ------------------------------------------------------------ udp_server

class UdpServerTest(ExampleCase):

    def setUp(self):
        self.server, self.port = self.listener("udp_server", "udp")
        self.assertEqual(self.server.out.read_line(),
                         b"waiting for data on 127.0.0.1:%d" % self.port)

    def speak(self, peer, data):
        """peer sends data; returns the line the server printed for it."""
        peer.sendto(data, ("127.0.0.1", self.port))
        name = addr_text(peer.getsockname()).encode()
        return self.server.out.wait_line(lambda l: l.startswith(name + b": "))

    def test_datagram_printed_with_sender_address(self):
        peer = self.udp_peer()
        name = addr_text(peer.getsockname()).encode()
        self.assertEqual(self.speak(peer, b"hello udp"), name + b": hello udp")
        self.assertEqual(self.speak(peer, "\u4f60\u597d".encode()),
                         name + ": \u4f60\u597d".encode())
        self.assertEqual(self.speak(peer, b"esc \x1b[H \xff"),
                         name + ": esc \u241b[H \ufffd".encode())
        self.assert_no_esc(self.server)

    def test_large_datagrams_arrive_whole(self):
        peer = self.udp_peer()
        name = addr_text(peer.getsockname()).encode()
        for size in (LONG, UDP_MAX):
            text = long_text(size)
            self.assertEqual(self.speak(peer, text), name + b": " + text)

    def test_reply_goes_to_the_peer_that_spoke_last(self):
        a, b = self.udp_peer(), self.udp_peer()
        self.speak(a, b"I am a")
        self.speak(b, b"I am b")
        self.server.write("to b\n")
        self.assertEqual(udp_recv(b), (b"to b", ("127.0.0.1", self.port)))
        udp_assert_quiet(a)
        self.speak(a, b"a again")
        self.server.write("to a\n")
        self.assertEqual(udp_recv(a)[0], b"to a")
        udp_assert_quiet(b)

    def test_reply_before_anyone_spoke_is_refused(self):
        self.server.write("too early\n")
        self.server.err.wait_line(b"no client has spoken yet; reply not sent")
        peer = self.udp_peer()
        self.speak(peer, b"here now")
        self.server.write("in time\n")
        self.assertEqual(udp_recv(peer)[0], b"in time")  # not "too early"

    def test_empty_and_largest_replies(self):
        peer = self.udp_peer()
        self.speak(peer, b"hi")
        self.server.write("\n")
        self.server.err.wait_line(b"input can't be empty, please input again")
        text = long_text(UDP_MAX, "u")
        self.server.write(text + b"\n")
        data, _ = udp_recv(peer)
        self.assertEqual(len(data), UDP_MAX)
        self.assertEqual(data, text)
        # One byte more is refused, by the kernel's limit or by the
        # program's own; nothing is sent either way.
        self.server.write(b"x" + text + b"\n")
        self.server.err.wait_line(b"udp_server: sendto: datagram of 65508 "
                                  b"bytes is over the limit of 65507 bytes")
        self.server.write(long_text(70000) + b"\n")
        self.server.err.wait_line(
            b"input can't be over 65507 bytes, please input again")
        udp_assert_quiet(peer)

    def test_ipv6_loopback(self):
        server, port = self.listener("udp_server", "udp", "::1")
        peer = self.udp_peer("::1")
        name = addr_text(peer.getsockname()).encode()
        self.assertTrue(name.startswith(b"[::1]:"), name)
        peer.sendto(b"over IPv6", ("::1", port))
        server.out.wait_line(name + b": over IPv6")
        server.write("back over IPv6\n")
        self.assertEqual(udp_recv(peer)[0], b"back over IPv6")


# ------------------------------------------------------------ udp_client

class UdpClientTest(ExampleCase):

    def start(self, host="127.0.0.1"):
        self.peer = self.udp_peer(host)
        self.client = self.spawn("udp_client", host,
                                 self.peer.getsockname()[1])

    def test_lines_become_datagrams_without_newline(self):
        self.start()
        self.client.write("one\ntwo words\r\n\n")
        self.assertEqual(udp_recv(self.peer)[0], b"one")
        self.assertEqual(udp_recv(self.peer)[0], b"two words")
        self.client.err.wait_line(b"input can't be empty, please input again")
        self.client.write("\u4f60\u597d\n")
        self.assertEqual(udp_recv(self.peer)[0], "\u4f60\u597d".encode())
        udp_assert_quiet(self.peer)

    def test_replies_printed_without_lockstep(self):
        self.start()
        self.client.write("hi\n")
        data, addr = udp_recv(self.peer)
        self.assertEqual(data, b"hi")
        # Three replies to one line, and none waits for more input.
        for reply in (b"r1", b"r2", b"r3"):
            self.peer.sendto(reply, addr)
        for reply in (b"r1", b"r2", b"r3"):
            self.assertEqual(self.client.out.read_line(), b"server: " + reply)
        self.peer.sendto(b"\x1b[2Jbell\x07", addr)
        self.assertEqual(self.client.out.read_line().decode(),
                         "server: \u241b[2Jbell\u2407")
        self.assert_no_esc(self.client)

    def test_large_replies_printed_whole(self):
        self.start()
        self.client.write("hi\n")
        _, addr = udp_recv(self.peer)
        for size in (LONG, UDP_MAX):
            text = long_text(size, "l")
            self.peer.sendto(text, addr)
            self.assertEqual(self.client.out.read_line(), b"server: " + text)

    def test_largest_datagram_sent(self):
        self.start()
        text = long_text(UDP_MAX, "b")
        self.client.write(text + b"\n")
        data, _ = udp_recv(self.peer)
        self.assertEqual(len(data), UDP_MAX)
        self.assertEqual(data, text)
        self.client.write(b"x" + text + b"\n")
        self.client.err.wait_line(b"udp_client: sendto: datagram of 65508 "
                                  b"bytes is over the limit of 65507 bytes")
        self.client.write(long_text(70000) + b"\n")
        self.client.err.wait_line(
            b"input can't be over 65507 bytes, please input again")
        udp_assert_quiet(self.peer)

    def test_no_server_listening_reported(self):
        port = free_port(socktype=socket.SOCK_DGRAM)
        client = self.spawn("udp_client", "127.0.0.1", port)
        client.write("anyone there?\n")
        message = b"udp_client: no server is listening there"
        self.assertEqual(client.err.read_line(), message)
        # Every refused datagram is reported the same way, even in a burst.
        client.write("again\n" * 5)
        for _ in range(5):
            self.assertEqual(client.err.read_line(), message)
        client.err.assert_quiet()
        self.assertIsNone(client.poll(), "udp_client died")
        client.close_stdin()
        self.assert_exit(client, 0)
        self.assertEqual(bytes(client.out.transcript), b"")

    def test_port_not_an_integer_exits_2(self):
        proc = self.spawn("udp_client", "127.0.0.1", "abc")
        self.assert_exit(proc, 2)
        self.assertEqual(proc.err.all_lines(), [
            b'udp_client: port "abc" is not an integer in 1..65535'])

    def test_end_of_input_exits_0(self):
        self.start()
        self.client.write("last\n")
        self.client.close_stdin()
        data, addr = udp_recv(self.peer)
        self.assertEqual(data, b"last")
        # A late reply still arrives during the client's last second.
        self.peer.sendto(b"late reply", addr)
        self.assertEqual(self.client.out.read_line(), b"server: late reply")
        self.assert_exit(self.client, 0)

    def test_ipv6_loopback(self):
        self.start("::1")
        self.client.write("over IPv6\n")
        data, addr = udp_recv(self.peer)
        self.assertEqual(data, b"over IPv6")
        self.peer.sendto(b"back over IPv6", addr)
        self.assertEqual(self.client.out.read_line(), b"server: back over IPv6")


# ------------------------------------------------------------ udp_chat_demo

class UdpChatDemoTest(ExampleCase):

    def setUp(self):
        self.demo, self.port = self.listener("udp_chat_demo", "udp")
        self.demo.out.wait_line(b"UDP chat demo: type a line and press Enter")

    def assert_echo(self, text):
        self.demo.write(text + b"\n")
        self.assertEqual(self.demo.out.read_line(), b"[server] got: " + text)
        self.assertEqual(self.demo.out.read_line(),
                         b"[client] got: echo: " + text)

    def test_stdin_lines_echoed(self):
        self.assert_echo(b"hello")
        self.assert_echo("\u4f60\u597d".encode())
        self.assert_echo(long_text(LONG))
        self.demo.write("\n")
        self.demo.err.wait_line(b"input can't be empty, please input again")
        self.assert_echo(b"after the empty one")

    def test_python_peer_gets_echoes(self):
        peer = self.udp_peer()
        peer.sendto(b"from python", ("127.0.0.1", self.port))
        self.assertEqual(udp_recv(peer), (b"echo: from python",
                                          ("127.0.0.1", self.port)))
        self.demo.out.wait_line(b"[server] got: from python")
        self.assert_echo(b"from stdin")
        text = long_text(LONG, "p")
        peer.sendto(text, ("127.0.0.1", self.port))
        self.assertEqual(udp_recv(peer)[0], b"echo: " + text)
        udp_assert_quiet(peer)  # the stdin lines' echoes went elsewhere

    def test_end_of_input_exits_0(self):
        self.assert_echo(b"bye")
        self.demo.close_stdin()
        self.assert_exit(self.demo, 0)


# ------------------------------------------------------------ every example

EXAMPLES = ("tcp_server", "tcp_client", "tcp_chat_demo", "udp_server",
            "udp_client", "udp_chat_demo")


class BadPortTest(ExampleCase):
    """Every example refuses a port out of range, with exit status 2."""

    def check_bad_port(self, name):
        for port, why in ((b"70000", b"is out of range 1..65535"),
                          (b"0", b"is out of range 1..65535"),
                          (b"23x", b"is not an integer in 1..65535")):
            with self.subTest(port=port):
                proc = self.spawn(name, "127.0.0.1", port.decode())
                self.assert_exit(proc, 2)
                self.assertEqual(proc.err.all_lines(), [
                    b'%s: port "%s" %s' % (name.encode(), port, why)])
                self.assertEqual(bytes(proc.out.transcript), b"")


def _bad_port_test(name):
    return lambda self: self.check_bad_port(name)


for _name in EXAMPLES:
    setattr(BadPortTest, "test_%s_bad_port_exits_2" % _name,
            _bad_port_test(_name))


class HelpTest(ExampleCase):
    """-h and --help print usage and exit 0; they are never a host."""

    def check_help(self, name):
        for flag in ("-h", "--help"):
            with self.subTest(flag=flag):
                proc = self.spawn(name, flag)
                self.assert_exit(proc, 0)
                lines = proc.out.all_lines()
                self.assertEqual(lines[0], b"usage: %s [host [port]]    "
                                 b"(default 127.0.0.1 2333)" % name.encode())
                self.assertEqual(len(lines), 2, lines)
                self.assertEqual(bytes(proc.err.transcript), b"")
        proc = self.spawn(name, "-x", "2333")
        self.assert_exit(proc, 2)
        self.assertEqual(proc.err.all_lines(), [
            b'%s: unknown option "-x"; usage: %s [host [port]]'
            % (name.encode(), name.encode())])
        proc = self.spawn(name, "127.0.0.1", "2333", "extra")
        self.assert_exit(proc, 2)
        self.assertEqual(proc.err.all_lines(), [
            b"%s: too many arguments; usage: %s [host [port]]"
            % (name.encode(), name.encode())])


for _name in EXAMPLES:
    setattr(HelpTest, "test_%s_help_exits_0" % _name,
            lambda self, n=_name: self.check_help(n))


# ------------------------------------------------------------ quiet rule

class QuietMessageTest(ExampleCase):
    """Bytes without newline are a message once the sender is quiet for
    200 ms: shown while the connection stays open (the tutorial's
    programs send no newline and then wait for an answer)."""

    def test_tcp_server_shows_message_without_newline(self):
        server, port = self.listener("tcp_server")
        sock = self.tcp_connect(port)
        name = addr_text(sock.getsockname()).encode()
        server.out.wait_line(b"connected by " + name)
        sock.sendall("no newline \u4f60".encode())
        self.assertEqual(server.out.read_line(),
                         name + ": no newline \u4f60".encode())
        sock.sendall(b"then a line\n")
        self.assertEqual(server.out.read_line(), name + b": then a line")

    def test_tcp_client_shows_message_without_newline(self):
        listening, port = self.tcp_server()
        client = self.spawn("tcp_client", "127.0.0.1", port)
        conn = self.accept(listening)
        client.out.wait_line(b"connected to 127.0.0.1:%d" % port)
        conn.sendall(b"reply without newline")
        self.assertEqual(client.out.read_line(),
                         b"server: reply without newline")
        self.assertIsNone(client.poll())

    def test_tcp_chat_demo_echoes_message_without_newline(self):
        demo, port = self.listener("tcp_chat_demo")
        sock = self.tcp_connect(port)
        reader = LineReader(sock, "python client")
        sock.sendall(b"hi")
        self.assertEqual(reader.read_line(), b"echo: hi")
        demo.out.wait_line(b"[server] got: hi")
        # Pieces a few ms apart are one message; the quiet period ends it.
        self.send_in_pieces(sock, b"one message in pieces", piece=5,
                            pause=0.005)
        self.assertEqual(reader.read_line(), b"echo: one message in pieces")


# ------------------------------------------------------------ hostile peers

FORGED = b"hello\n10.66.66.66:4444: I am someone else"
FORGED_SHOWN = "hello\u240a10.66.66.66:4444: I am someone else".encode()


class HostilePeerTest(ExampleCase):
    """Issue 9: a datagram cannot forge a line; a message too long is
    answered with one line and serving goes on."""

    def assert_no_forged_line(self, proc):
        for line in proc.out.all_lines():
            self.assertFalse(line.startswith(b"10.66.66.66"), line)

    def test_udp_server_shows_embedded_lf(self):
        server, port = self.listener("udp_server", "udp")
        peer = self.udp_peer()
        name = addr_text(peer.getsockname()).encode()
        peer.sendto(FORGED, ("127.0.0.1", port))
        server.out.wait_line(lambda l: l.startswith(name))
        self.assertEqual(server.out.lines[-1], name + b": " + FORGED_SHOWN)
        # One trailing newline (what nc -u sends) is a line ending, not text.
        peer.sendto(b"typed line\n", ("127.0.0.1", port))
        self.assertEqual(server.out.read_line(), name + b": typed line")
        self.assert_no_forged_line(server)

    def test_udp_client_shows_embedded_lf(self):
        peer = self.udp_peer()
        client = self.spawn("udp_client", "127.0.0.1", peer.getsockname()[1])
        client.write("hi\n")
        _, addr = udp_recv(peer)
        peer.sendto(FORGED, addr)
        self.assertEqual(client.out.read_line(), b"server: " + FORGED_SHOWN)
        self.assert_no_forged_line(client)

    def test_udp_chat_demo_shows_embedded_lf(self):
        demo, port = self.listener("udp_chat_demo", "udp")
        demo.out.wait_line(b"UDP chat demo: type a line and press Enter")
        peer = self.udp_peer()
        peer.sendto(FORGED, ("127.0.0.1", port))
        self.assertEqual(udp_recv(peer)[0], b"echo: " + FORGED)
        self.assertEqual(demo.out.read_line(),
                         b"[server] got: " + FORGED_SHOWN)
        self.assert_no_forged_line(demo)

    def test_tcp_chat_demo_answers_over_long_line_and_goes_on(self):
        demo, port = self.listener("tcp_chat_demo")
        sock = self.tcp_connect(port)
        reader = LineReader(sock, "python client")
        sock.sendall(long_text(70000) + b"\nafter\n")
        self.assertEqual(reader.read_line(),
                         b"error: message over 65534 bytes; dropped")
        self.assertEqual(reader.read_line(), b"echo: after")
        # The longest message still comes back whole.
        text = long_text(65534, "z")
        sock.sendall(text + b"\n")
        demo.out.wait_line(b"[server] got: " + text)  # stdout drained
        self.assertEqual(reader.read_line(), b"echo: " + text)
        sock.sendall(b"still here\n")
        self.assertEqual(reader.read_line(), b"echo: still here")

    def test_udp_chat_demo_answers_datagram_too_large_to_echo(self):
        demo, port = self.listener("udp_chat_demo", "udp")
        peer = self.udp_peer()
        largest = UDP_MAX - len(b"echo: ")
        for size in (largest + 1, UDP_MAX):
            with self.subTest(size=size):
                peer.sendto(long_text(size), ("127.0.0.1", port))
                demo.out.wait_line(  # read, so stdout never fills
                    b"[server] datagram of %d bytes too large to echo; "
                    b"sender told" % size)
                self.assertEqual(
                    udp_recv(peer)[0],
                    b'error: datagram of %d bytes not echoed: with "echo: " '
                    b"it is over the UDP limit" % size)
        text = long_text(largest, "e")
        peer.sendto(text, ("127.0.0.1", port))
        demo.out.wait_line(b"[server] got: " + text)
        self.assertEqual(udp_recv(peer)[0], b"echo: " + text)
        peer.sendto(b"small", ("127.0.0.1", port))
        self.assertEqual(udp_recv(peer)[0], b"echo: small")
        self.assertIsNone(demo.poll())


if __name__ == "__main__":
    unittest.main(verbosity=2)
