#!/usr/bin/env python3
"""Integration tests for the first hour with sockit (issues 8 and 9): the
Unix socket paths it must never destroy, and the habits nc, ncat and socat
users type — -n, service names as ports, nc's exact -v lines, durations
with fractions and units, -q, and the argument mistakes that must be
refused with one line and exit 2 rather than guessed at.

Each test failed on the code before these changes (see the docstrings).
Only 127.0.0.1 and Unix sockets in a temporary directory are used; every
wait is bounded.

    python3 tests/integration/test_habits.py [-v] [TestClass[.test_name]]
"""

import os
import re
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import TIMEOUT, TIMEOUT_SCALE, udp_recv, wait_listening  # noqa: E402
from common import CliCase, recv_all, sockit, unix_listening  # noqa: E402


def unix_bound(path):
    """True when any socket is bound at path (/proc/net/unix)."""
    with open("/proc/net/unix") as f:
        return any(len(row.split(None, 7)) == 8 and
                   row.split(None, 7)[7] == path
                   for row in f.read().splitlines()[1:])


def wait_until(pred, proc, what):
    """Polls pred (a cheap /proc read) until true; fails when proc exits
    first or after TIMEOUT."""
    deadline = time.monotonic() + TIMEOUT
    while not pred():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise AssertionError("%s: not within %.1fs%s" %
                                 (what, TIMEOUT, proc.describe()))
        time.sleep(0.01)


def service(port, proto="tcp"):
    """The name nc shows in [tcp/NAME] for port, "*" when none."""
    try:
        return socket.getservbyport(port, proto).encode()
    except OSError:
        return b"*"


def free_service_port():
    """(name, port) of an /etc/services TCP entry above 1024 whose port is
    free on 127.0.0.1, with a socket holding it until the caller's
    listener takes it (closed by the caller first)."""
    with open("/etc/services") as f:
        rows = [l.split() for l in f if l.strip() and not l.startswith("#")]
    for row in rows:
        m = re.fullmatch(r"(\d+)/tcp", row[1]) if len(row) > 1 else None
        if not m or int(m.group(1)) <= 1024:
            continue
        name, port = row[0], int(m.group(1))
        try:
            if socket.getservbyname(name, "tcp") != port:
                continue
            s = socket.socket()
            s.bind(("127.0.0.1", port))
            s.close()
            return name, port
        except OSError:
            continue
    raise AssertionError("no free service port in /etc/services (netbase)")


class HabitCase(CliCase):

    def assert_usage(self, args, message):
        """Exit 2, nothing on stdout, exactly one line on stderr."""
        rc, out, err = self.run_sockit(*args)
        self.assertEqual((rc, out, err), (2, b"", b"sockit: " + message +
                                          b"\n"), "sockit %s" %
                         " ".join(str(a) for a in args))

    def unix_path(self, name="s.sock"):
        return os.path.join(self.tmpdir(), name)


# ============================================ 1. Unix paths (issue 8)

class UnixPathSafetyTest(HabitCase):

    def test_regular_file_is_never_removed(self):
        """Before: the failed probe connect took a regular file for a stale
        socket, deleted it and listened in its place."""
        path = self.unix_path("precious.txt")
        for flags in (["-U", "-l"], ["-u", "-U", "-l"]):
            with self.subTest(flags=flags):
                with open(path, "wb") as f:
                    f.write(b"my data\n")
                rc, out, err = self.run_sockit(*flags, path)
                self.assertEqual((rc, err), (1, b"sockit: unix:%s exists and "
                                             b"is not a socket\n" %
                                             path.encode()))
                with open(path, "rb") as f:
                    self.assertEqual(f.read(), b"my data\n")

    def test_second_listener_leaves_the_first_alone(self):
        """Before: the second listener's probe connect was accepted as the
        first one's only client, which then ended and removed its
        socket. Now the second says "in use" and the first still serves
        a real client."""
        path = self.unix_path()
        first = self.spawn("-N", "-U", "-l", path)
        wait_until(lambda: unix_listening(path), first, "first listener")
        rc, out, err = self.run_sockit("-U", "-l", path)
        self.assertEqual((rc, err), (1, b"sockit: unix:%s is in use\n" %
                                     path.encode()))
        self.assertIsNone(first.poll(), first.describe())
        c = socket.socket(socket.AF_UNIX)
        self.addCleanup(c.close)
        c.settimeout(TIMEOUT)
        c.connect(path)
        c.sendall(b"still here\n")
        first.out.wait_line(b"still here")
        first.write(b"and back\n")
        first.close_stdin()
        self.assertEqual(recv_all(c), b"and back\n")
        c.close()
        self.assertEqual(first.wait_exit(), 0, first.describe())

    def test_datagram_path_in_use(self):
        """A bound datagram socket is in use too (before: the probe got
        ECONNREFUSED from nobody and the path was taken over)."""
        path = self.unix_path()
        first = self.spawn("-u", "-U", "-l", path)
        wait_until(lambda: unix_bound(path), first, "first datagram socket")
        rc, out, err = self.run_sockit("-u", "-U", "-l", path)
        self.assertEqual((rc, err), (1, b"sockit: unix:%s is in use\n" %
                                     path.encode()))
        c = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.addCleanup(c.close)
        c.sendto(b"to the first\n", path)
        first.out.wait_line(b"to the first")

    def test_stale_socket_is_reused(self):
        """A socket file whose owner is gone is still taken over."""
        path = self.unix_path()
        s = socket.socket(socket.AF_UNIX)
        s.bind(path)
        s.listen(1)
        s.close()  # leaves the file behind
        proc = self.spawn("-U", "-l", path)
        wait_until(lambda: unix_listening(path), proc, "listener")

    def test_datagram_client_source_path(self):
        """-u -U -s PATH binds PATH for the replies (OpenBSD regress
        unix-dgram-clientsock) and removes it at exit. Before: "-s" was
        taken for an IP source and the command failed."""
        server_path, client_path = self.unix_path(), self.unix_path("c")
        srv = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.addCleanup(srv.close)
        srv.bind(server_path)
        proc = self.spawn("-u", "-U", "-w", "1", "-s", client_path,
                          server_path)
        proc.write(b"ping\n")
        data, peer = udp_recv(srv)
        self.assertEqual((data, peer), (b"ping\n", client_path))
        srv.sendto(b"pong\n", client_path)
        proc.out.wait_line(b"pong")
        proc.close_stdin()
        self.assertEqual(proc.wait_exit(3 * TIMEOUT), 0, proc.describe())
        self.assertFalse(os.path.exists(client_path))

    def test_source_path_never_removes_a_file(self):
        path, target = self.unix_path("keep.txt"), self.unix_path()
        with open(path, "wb") as f:
            f.write(b"keep\n")
        rc, out, err = self.run_sockit("-u", "-U", "-s", path, target)
        self.assertEqual((rc, err), (1, b"sockit: unix:%s exists and is not "
                                     b"a socket\n" % path.encode()))
        with open(path, "rb") as f:
            self.assertEqual(f.read(), b"keep\n")

    def test_source_with_unix_stream_refused(self):
        for args, where in [(["-s", "/tmp/a", "-U", "/tmp/b"], b""),
                            (["-s", "/tmp/a", "unix:/tmp/b"], b""),
                            (["-l", "-s", "/tmp/a", "-U", "/tmp/b"], b" -l")]:
            with self.subTest(args=args):
                self.assert_usage(args, b"cannot use -s with -U%s: only a "
                                  b"Unix datagram client (-u) binds a "
                                  b"source path" % where)


# ============================================ 2. -n and option names

class NumericTest(HabitCase):

    def test_nv_connects(self):
        """nc -nv host port (before: "unknown option")."""
        srv, port = self.server()
        proc = self.spawn("-nv", "-N", "127.0.0.1", port)
        conn = self.accept(srv)
        # -n: nc looks no service name up either.
        proc.err.wait_line(b"Connection to 127.0.0.1 %d port [tcp/*] "
                           b"succeeded!" % port)
        proc.close_stdin()
        self.assertEqual(recv_all(conn), b"")

    def test_lvnp_listens(self):
        """nc -lvnp PORT, the most-typed listener."""
        proc, port = self.listener_argv(lambda p: ["-lvnp", p])
        proc.err.wait_line(b"Listening on 0.0.0.0 %d" % port)

    def test_udp_nl_listens(self):
        proc, port = self.listener_argv(lambda p: ["-u", "-nl", p], "udp")

    def listener_argv(self, args_for_port, proto="tcp"):
        from common import start_listener
        return start_listener(lambda p: [sockit()] + [str(a) for a in
                                                      args_for_port(p)],
                              proto, on_start=lambda p: self.addCleanup(
                                  p.stop))

    def test_name_with_n_is_an_error_naming_it(self):
        self.assert_usage(["-n", "localhost", "80"],
                          b'host "localhost" is not a numeric IP address, '
                          b'and name lookup is off (-n)')
        self.assert_usage(["-n", "localhost:80"],
                          b'host "localhost" is not a numeric IP address, '
                          b'and name lookup is off (-n)')
        self.assert_usage(["-n", "127.0.0.1", "http"],
                          b'port "http" is not an integer in 1..65535')

    def test_unknown_option_names_the_option(self):
        """Before: the message quoted argv[optind - 1], so `-u -yl` blamed
        -u and a lone cluster blamed the program's own path."""
        self.assert_usage(["-u", "-yl", "4444"],
                          b'unknown option "-y"; see sockit --help')
        self.assert_usage(["-lQ", "4444"],
                          b'unknown option "-Q"; see sockit --help')
        self.assert_usage(["--bogus=1", "127.0.0.1", "1"],
                          b'unknown option "--bogus"; see sockit --help')
        self.assert_usage(["-lw"], b'option "-w" needs a value')
        self.assert_usage(["--listen=1", "1"],
                          b'option "--listen" takes no value')
        self.assert_usage(["--udp", "-yl", "1"],
                          b'unknown option "-y"; see sockit --help')


# ============================================ 3. service names

class ServiceNameTest(HabitCase):

    def test_connect_to_a_service_name(self):
        """sockit host http, as nc, ncat and socat take it; -v names the
        service as nc does."""
        name, port = free_service_port()
        srv = socket.socket()
        self.addCleanup(srv.close)
        srv.bind(("127.0.0.1", port))
        srv.listen(1)
        srv.settimeout(TIMEOUT)
        proc = self.spawn("-v", "-N", "127.0.0.1", name)
        conn = self.accept(srv)
        proc.err.wait_line(b"Connection to 127.0.0.1 %d port [tcp/%s] "
                           b"succeeded!" % (port, name.encode()))
        proc.close_stdin()
        self.assertEqual(recv_all(conn), b"")

    def test_listen_on_a_service_name(self):
        name, port = free_service_port()
        proc = self.spawn("-l", "127.0.0.1", name)
        wait_listening(port, "tcp", proc)
        proc2 = self.spawn("-l", "127.0.0.1:" + name)  # taken: same port
        self.assertEqual(proc2.wait_exit(), 1, proc2.describe())
        self.assertIn(b"Address already in use", proc2.err.transcript)

    def test_garbage_is_still_refused(self):
        for port in ("no-such-service", "http2333", "1.5"):
            with self.subTest(port=port):
                self.assert_usage(["127.0.0.1", port],
                                  b'port "%s" is not an integer in 1..65535'
                                  % port.encode())
        self.assert_usage(["-z", "127.0.0.1", "1-http"],
                          b'port "http" is not an integer in 1..65535')


# ============================================ 4. nc's -v lines

class VerboseWordingTest(HabitCase):
    """The lines OpenBSD nc 1.219 prints (checked against it): no
    "sockit:" prefix, host and port separated by a space."""

    def test_listener_lines(self):
        proc, port = self.listener("-v", "-N")
        proc.err.wait_line(b"Listening on 127.0.0.1 %d" % port)
        conn = self.connect(port)
        proc.err.wait_line(b"Connection received on 127.0.0.1 %d" %
                           conn.getsockname()[1])
        proc.close_stdin()
        conn.close()
        self.assertEqual(proc.wait_exit(), 0, proc.describe())

    def test_any_address_and_mapped_peer(self):
        """`-lv PORT` listens dual-stack, shown as nc shows its any address;
        an IPv4 client comes as ::ffff:127.0.0.1 and is shown as IPv4
        (before: "sockit: connection from [::ffff:127.0.0.1]:PORT")."""
        from common import start_listener
        proc, port = start_listener(
            lambda p: [sockit(), "-lv", "-N", p],
            on_start=lambda p: self.addCleanup(p.stop))
        proc.err.wait_line(b"Listening on 0.0.0.0 %d" % port)
        conn = self.connect(port)
        proc.err.wait_line(b"Connection received on 127.0.0.1 %d" %
                           conn.getsockname()[1])

    def test_client_line(self):
        srv, port = self.server()
        proc = self.spawn("-v", "-N", "127.0.0.1", port)
        conn = self.accept(srv)
        proc.err.wait_line(b"Connection to 127.0.0.1 %d port [tcp/%s] "
                           b"succeeded!" % (port, service(port)))
        proc.close_stdin()
        self.assertEqual(recv_all(conn), b"")

    def test_udp_client_line(self):
        srv = self.udp_socket()
        port = srv.getsockname()[1]
        proc = self.spawn("-v", "-u", "-w", "1", "127.0.0.1", port)
        proc.err.wait_line(b"Connection to 127.0.0.1 %d port [udp/%s] "
                           b"succeeded!" % (port, service(port, "udp")))

    def test_scan_line(self):
        srv, port = self.server()
        rc, out, err = self.run_sockit("-z", "-v", "127.0.0.1", port)
        self.assertEqual((rc, out, err),
                         (0, b"127.0.0.1:%d open\n" % port,
                          b"Connection to 127.0.0.1 %d port [tcp/%s] "
                          b"succeeded!\n" % (port, service(port))))


# ============================================ 5. durations, -i, -q

class DurationTest(HabitCase):

    def test_idle_timeout_with_units_and_fractions(self):
        """-w 300ms and -w 0.3, as ncat takes them (before: exit 2)."""
        for value in ("300ms", "0.3"):
            with self.subTest(value=value):
                srv, port = self.server()
                proc = self.spawn("-v", "-w", value, "127.0.0.1", port)
                conn = self.accept(srv)
                self.assertEqual(proc.wait_exit(3 * TIMEOUT_SCALE), 0,
                                 proc.describe())
                self.assertIn(b"sockit: no traffic for 300 ms; closing",
                              proc.err.all_lines(), proc.describe())
                self.assertEqual(recv_all(conn), b"")

    def test_idle_flag_outside_the_hub(self):
        """-i in connect and plain listen mode is accepted (before: "-m, -i,
        --allow and --deny need -l" / "need -k, --chat or --broker")."""
        srv, port = self.server()
        proc = self.spawn("-i", "2.5", "127.0.0.1", port)
        self.accept(srv)
        self.assertIsNone(proc.poll(), proc.describe())
        proc, port = self.listener("-i", "3000ms")
        proc, port = self.listener("-k", "-i", "1m")

    def test_quit_delay_is_parsed(self):
        """-q SECS as Debian's nc has it (before: unknown option)."""
        for value in ("0", "2.5", "-1", "-5", "500ms"):
            with self.subTest(value=value):
                srv, port = self.server()
                proc = self.spawn("-q", value, "127.0.0.1", port)
                self.accept(srv)
                self.assertIsNone(proc.poll(), proc.describe())
        for value in ("x", "1e3", "-", "25h"):
            with self.subTest(value=value):
                self.assert_usage(
                    ["-q", value, "127.0.0.1", "1"],
                    b'quit delay "%s" is not a duration up to 24h (seconds, '
                    b'e.g. 0, 2.5, 500ms; -1: never)' % value.encode())

    def test_help_names_the_new_options(self):
        rc, out, err = self.run_sockit("--help")
        self.assertEqual((rc, err), (0, b""))
        for text in (b"-n, --nodns", b"-q SECS", b"500ms", b"service name"):
            self.assertIn(text, out)


# ============================================ 6. arguments (issue 9)

class ArgumentTest(HabitCase):

    def test_empty_host(self):
        """Before: "" connected to the local host (exit 1: refused)."""
        s, port = socket.socket(), 0
        self.addCleanup(s.close)
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        self.assert_usage(["", port], b"missing host; usage: sockit host "
                          b"port")
        self.assert_usage(["-z", "", port], b"missing host; usage: sockit "
                          b"host port")

    def test_empty_source(self):
        """Before: -s "" was ignored."""
        self.assert_usage(["-s", "", "127.0.0.1", "1"],
                          b'source address "" is empty; give an address, '
                          b'or leave out -s')

    def test_both_families(self):
        """Before: the last of -4 / -6 silently won."""
        for args in (["-4", "-6"], ["-6", "-4"], ["-46"]):
            with self.subTest(args=args):
                self.assert_usage(args + ["127.0.0.1", "1"],
                                  b"cannot use -4 with -6")

    def test_one_way_modes_that_cannot_work(self):
        """Before: accepted, then ignored (--broker) or stdin discarded
        (-u -l --send-only)."""
        for flag in ("--send-only", "--recv-only"):
            with self.subTest(flag=flag):
                self.assert_usage(
                    ["--broker", flag, "-l", "1"],
                    b"cannot use --broker with %s: a broker relays every "
                    b"client to the others, both ways" % flag.encode())
        self.assert_usage(["-u", "-l", "--send-only", "1"],
                          b"cannot use --send-only with -u -l: a UDP "
                          b"listener learns its peer only from a datagram "
                          b"it receives")

    def test_version_names_the_license(self):
        rc, out, err = self.run_sockit("--version")
        self.assertEqual((rc, err), (0, b""))
        self.assertRegex(out, rb"\Asockit \d+\.\d+\.\d+ \(BSD-2-Clause\)\n\Z")


if __name__ == "__main__":
    unittest.main()
