#!/usr/bin/env python3
"""Integration tests for the chat server's rooms and commands (issue 12):
/join, /part, /rooms, /who, /me, /msg, /quit MESSAGE, /help, --history,
the operator's console on the server's stdin (/who, /rooms, /say, /kick,
/shutdown, //), names people can trust, neutralised messages, and joins
told once per loop turn.

Clients are Python sockets and real nc; all traffic stays on 127.0.0.1;
every wait is bounded (common.TIMEOUT); everything is closed in cleanup.
"""

import os
import re
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import TIMEOUT, LineReader, Proc, binary  # noqa: E402
from test_chat import STAMP, WELCOME, ChatTest, raise_nofile  # noqa: E402


def sockit():
    return binary("sockit", subdir="")


class RoomTest(ChatTest):

    def trio(self, *flags):
        proc, port = self.server(*flags)
        a = self.client(port)
        b = self.client(port)
        a.wait(b"*** user2 joined")
        c = self.client(port)
        a.wait(b"*** user3 joined")
        b.wait(b"*** user3 joined")
        return proc, port, a, b, c

    def join(self, who, room, *others):
        who.send(b"/join " + room + b"\n")
        who.wait(b"*** you are in " + room)
        for o in others:
            o.wait(b"*** " + who.name + b" joined")


class TestRooms(RoomTest):

    def test_messages_stay_in_their_room(self):
        _, _, a, b, c = self.trio()
        self.join(b, b"#dev")
        a.wait(b"*** user2 left")
        self.join(c, b"#dev", b)
        a.wait(b"*** user3 left")
        a.send(b"lobby only\n")
        b.send(b"dev only\n")
        self.assertEqual(c.line(), b"<user2> dev only")
        a.r.assert_quiet()
        b.r.assert_quiet()  # a's line did not reach #dev
        c.send(b"/part\n")
        self.assertEqual(c.line(), b"*** you are in #lobby")
        a.wait(b"*** user3 joined")
        b.wait(b"*** user3 left")
        a.send(b"back\n")
        self.assertEqual(c.line(), b"<user1> back")
        b.r.assert_quiet()

    def test_room_names_are_checked_and_case_insensitive(self):
        _, port = self.server()
        a = self.client(port)
        for bad in (b"dev", b"#", b"#a b", b"#caf\xc3\xa9", b"#\x1b[2J",
                    b"#" + b"x" * 33):
            a.send(b"/join " + bad + b"\n")
            line = a.line()
            self.assertTrue(line.startswith(b'*** room "'), line)
            self.assertIn(b"is invalid: # and 1 to 32 of A-Z a-z 0-9 _ -",
                          line)
            self.assertNotIn(b"\x1b", line)
        self.join(a, b"#Dev_ops-2")
        b = self.client(port)
        b.send(b"/join #DEV_OPS-2\n")
        self.assertEqual(b.line(), b"*** you are in #Dev_ops-2")
        a.wait(b"*** user2 joined")
        a.send(b"/join #dev_ops-2\n")
        self.assertEqual(a.line(), b"*** you are in #Dev_ops-2 already")

    def test_rooms_and_who(self):
        _, _, a, b, c = self.trio()
        self.join(c, b"#dev")
        a.wait(b"*** user3 left")
        a.send(b"/rooms\n")
        line = a.line()
        self.assertRegex(line, rb"^\*\*\* 2 rooms: ")
        self.assertIn(b"#lobby (2)", line)
        self.assertIn(b"#dev (1)", line)
        a.send(b"/who #dev\n")
        self.assertEqual(a.line(), b"*** 1 in #dev: user3")
        a.send(b"/who #nope\n")
        self.assertEqual(a.line(), b'*** no room "#nope": /rooms lists them')
        c.send(b"/who\n")
        self.assertEqual(c.line(), b"*** 1 in #dev: user3 (you)")
        # A room lives while it has members; the lobby always.
        c.send(b"/part\n")
        c.line()
        a.wait(b"*** user3 joined")
        b.wait(b"*** user3 joined")
        a.send(b"/rooms\n")
        self.assertEqual(a.line(), b"*** 1 room: #lobby (3)")
        b.r.assert_quiet()  # answers go to the asker only


class TestCommands(RoomTest):

    def test_help_lists_every_command(self):
        _, port = self.server()
        a = self.client(port)
        a.send(b"/help\n")
        line = a.line()
        for cmd in (b"/me", b"/msg", b"/join", b"/part", b"/rooms", b"/who",
                    b"/nick", b"/quit", b"/help"):
            self.assertIn(cmd, line)
        a.send(b"/frobnicate\n")
        self.assertEqual(a.line(),
                         b'*** unknown command "/frobnicate": /help lists them')

    def test_me_is_an_action_in_the_room_and_the_log(self):
        proc, _, a, b, c = self.trio()
        a.send(b"/me waves \x1b[31mhello\n")
        self.assertEqual(b.line(), "* user1 waves \u241b[31mhello".encode())
        self.assertEqual(c.line(), "* user1 waves \u241b[31mhello".encode())
        self.log_has(proc, re.escape(b"* user1 waves"))
        a.r.assert_quiet()

    def test_me_without_an_action_is_a_usage_line(self):
        """`/me` alone told the room "* user1 " (an empty action)."""
        _, _, a, b, _ = self.trio()
        a.send(b"/me\n")
        self.assertEqual(a.line(), b"*** usage: /me ACTION")
        a.send(b"/me   \n")
        self.assertEqual(a.line(), b"*** usage: /me ACTION")
        b.r.assert_quiet()

    def test_msg_is_private(self):
        proc, _, a, b, c = self.trio()
        a.send(b"/msg USER2 the password is swordfish\n")  # any case
        self.assertEqual(b.line(), b"*user1* the password is swordfish")
        self.assertEqual(a.line(), b"-> *user2* the password is swordfish")
        c.r.assert_quiet()
        a.send(b"/msg nobody hi\n")
        self.assertEqual(a.line(), b'*** no one is called "nobody"')
        a.send(b"/msg user2\n")
        self.assertEqual(a.line(), b"*** usage: /msg NICK TEXT")
        # Across rooms too, and never in the log.
        self.join(c, b"#dev")
        c.send(b"/msg user1 psst\n")
        self.assertEqual(a.wait(re.compile(rb"^\*user3\*")),
                         b"*user3* psst")
        proc.write(b"/rooms\n")  # a marker: the log is read up to it
        log = self.log_has(proc, rb"\*\*\* 2 rooms")
        self.assertNotIn(b"swordfish", proc.out.transcript)
        self.assertNotIn(b"psst", proc.out.transcript)
        self.assertTrue(log)

    def test_quit_message_is_shown_to_others(self):
        proc, _, a, b, c = self.trio()
        c.send(b"/quit gone \x1b[5mfishing\n")
        c.r.wait_eof()
        want = "*** user3 left (gone \u241b[5mfishing)".encode()
        self.assertEqual(a.wait(re.compile(rb"^\*\*\* user3 left")), want)
        self.assertEqual(b.wait(re.compile(rb"^\*\*\* user3 left")), want)
        self.log_has(proc, re.escape(b"*** user3 left: gone"))
        b.send(b"/quit\n")
        self.assertEqual(a.wait(re.compile(rb"^\*\*\* user2 left")),
                         b"*** user2 left")

    def test_nc_client(self):
        if not shutil.which("nc"):
            self.fail("nc (netcat-openbsd) is not installed "
                      "(scripts/install-deps test)")
        _, port = self.server()
        a = self.client(port)
        nc = Proc(["nc", "-N", "127.0.0.1", str(port)])
        self.addCleanup(nc.stop)
        self.assertRegex(nc.out.read_line(), WELCOME)
        a.wait(b"*** user2 joined")
        nc.write(b"/join #ops\n")
        self.assertEqual(nc.out.read_line(), b"*** you are in #ops")
        a.wait(b"*** user2 left")
        nc.write(b"/me is here\n")
        nc.write(b"/msg user1 from nc\n")
        self.assertEqual(a.line(), b"*user2* from nc")
        self.assertEqual(nc.out.read_line(), b"-> *user1* from nc")


class TestHistory(RoomTest):

    def test_joiner_gets_the_last_lines_of_its_room(self):
        proc, port = self.server("--history", "2")
        a = self.client(port)
        for i in range(3):
            a.send(b"line %d\n" % i)
        a.send(b"/me is done\n")
        a.send(b"/who\n")  # a marker: the lines above were handled
        a.wait(re.compile(rb"^\*\*\* 1 in #lobby"))
        b = self.client(port)
        self.assertEqual(b.line(), b"<user1> line 2")
        self.assertEqual(b.line(), b"* user1 is done")
        b.r.assert_quiet()
        # Each room has its own history; notices are not part of it.
        self.join(a, b"#dev")
        a.send(b"in dev\n")
        proc.write(b"/say #dev from the operator\n")
        a.wait(b"<server> from the operator")
        self.join(b, b"#dev", a)
        self.assertEqual(b.line(), b"<user1> in dev")
        self.assertEqual(b.line(), b"<server> from the operator")
        b.r.assert_quiet()

    def test_history_is_bounded_in_bytes_too(self):
        # A room keeps a quarter of --max-queue: 16,384 bytes here, 150
        # lines of 109 bytes, whatever --history allows.
        _, port = self.server("--history", "1000", "--max-queue", "65536")
        a = self.client(port)
        for i in range(500):
            a.send(b"%03d %s\n" % (i, b"x" * 96))
        a.send(b"/who\n")
        a.wait(re.compile(rb"^\*\*\* 1 in #lobby"))
        b = self.client(port)
        got = [b.line() for _ in range(150)]
        self.assertEqual(got, [b"<user1> %03d %s" % (i, b"x" * 96)
                               for i in range(350, 500)])
        b.r.assert_quiet()

    def test_no_history_by_default(self):
        _, port = self.server()
        a = self.client(port)
        a.send(b"said before\n/who\n")
        a.wait(re.compile(rb"^\*\*\* 1 in"))
        b = self.client(port)
        b.r.assert_quiet()

    def test_history_flag_is_checked(self):
        for args, msg in (
                (["--chat", "--history", "1001", "-l", "0"],
                 b"history"),
                (["--chat", "--history", "-1", "-l", "0"], b"history"),
                (["--history", "5", "-l", "0"], b"--history needs --chat -l")):
            p = subprocess.run([sockit(), *args], capture_output=True,
                               timeout=TIMEOUT)
            self.assertEqual(p.returncode, 2, p.stderr)
            self.assertIn(msg, p.stderr)
            self.assertEqual(p.stderr.count(b"\n"), 1, p.stderr)


class TestConsole(RoomTest):

    def test_who_and_rooms_go_to_the_operator_only(self):
        proc, _, a, b, c = self.trio()
        self.join(c, b"#dev")
        proc.write(b"/who\n")
        line = self.log_has(proc, rb"\*\*\* 3 in all rooms: ")
        self.assertIn(b"user3 (#dev 127.0.0.1:", line)
        self.assertIn(b"user1 (#lobby 127.0.0.1:", line)
        proc.write(b"/who #dev\n")
        self.log_has(proc, rb"\*\*\* 1 in #dev: user3 \(#dev 127")
        proc.write(b"/rooms\n")
        self.log_has(proc, rb"\*\*\* 2 rooms: ")
        proc.write(b"/nonsense\n")
        self.log_has(proc, re.escape(b'*** unknown command "/nonsense"'))
        a.wait(b"*** user3 left")
        b.wait(b"*** user3 left")
        for cl in (a, b, c):  # none of it was said in the room
            cl.r.assert_quiet()

    def test_kick_and_say_without_arguments_answer_their_usage(self):
        """`/kick` and `/say` alone answered 'no one is called ""' and
        'no room ""', naming nothing the operator could act on."""
        proc, _, a, _, _ = self.trio()
        proc.write(b"/kick\n")
        self.log_has(proc, re.escape(b"*** usage: /kick NICK [REASON]"))
        proc.write(b"/say\n")
        self.log_has(proc, re.escape(b"*** usage: /say #ROOM TEXT"))
        a.r.assert_quiet()

    def test_say_and_literal_slash(self):
        proc, _, a, b, c = self.trio()
        self.join(c, b"#dev")
        a.wait(b"*** user3 left")
        b.wait(b"*** user3 left")
        proc.write(b"/say #dev deploy at 5\n")
        self.assertEqual(c.line(), b"<server> deploy at 5")
        proc.write(b"//etc/passwd is not a command\n")
        self.assertEqual(a.line(), b"<server> /etc/passwd is not a command")
        self.assertEqual(b.line(), b"<server> /etc/passwd is not a command")
        proc.write(b"plain line\n")
        self.assertEqual(a.line(), b"<server> plain line")
        proc.write(b"/say #nope hi\n")
        self.log_has(proc, re.escape(b'*** no room "#nope"'))
        c.r.assert_quiet()

    def test_kick(self):
        proc, _, a, b, c = self.trio()
        proc.write(b"/kick USER2 flooding\n")
        self.assertEqual(b.line(), b"*** you were kicked by the operator: "
                         b"flooding")
        b.r.wait_eof()
        self.assertEqual(a.wait(re.compile(rb"^\*\*\* user2 left")),
                         b"*** user2 left (kicked: flooding)")
        self.log_has(proc, re.escape(b"*** user2 left: kicked: flooding"))
        proc.write(b"/kick nobody\n")
        self.log_has(proc, re.escape(b'*** no one is called "nobody"'))

    def test_shutdown_tells_everyone_and_exits_0(self):
        proc, _, a, b, c = self.trio()
        self.join(c, b"#dev")
        proc.write(b"/shutdown back in 5 minutes\n")
        for cl in (a, b, c):
            cl.wait(b"*** server shutting down: back in 5 minutes")
            cl.r.wait_eof()
        self.assertEqual(proc.wait_exit(), 0)
        self.assertIn(b"server shutting down: back in 5 minutes",
                      proc.out.transcript)


class TestNames(RoomTest):
    """The issue's examples: look-alikes, invisible characters, any case,
    NFC and NFD, the operator's name."""

    def test_names_people_can_trust(self):
        _, port = self.server()
        a = self.client(port)
        b = self.client(port)
        a.wait(b"*** user2 joined")
        a.send(b"/nick alice\n")
        self.assertEqual(a.line(), b"*** you are now alice")
        b.wait(b"*** user1 is now alice")
        taken = [b"\xd0\xb0lice",        # Cyrillic a
                 b"ALICE", b"Alice", b"aIice",
                 b"alice\xef\xb8\x8f",   # + VS16
                 b"\xef\xbd\x81lice",    # fullwidth a
                 b"server", b"Server", b"SERVER",
                 b"\xd0\x85erver"]       # Cyrillic Dze
        for nick in taken:
            b.send(b"/nick " + nick + b"\n")
            line = b.line()
            self.assertTrue(line.endswith(b'" is taken'), (nick, line))
        refused = [(b"alice\xe2\xa0\x80", b"invisible"),  # braille blank
                   (b"\xe2\x80\xaealice", b"control"),    # RLO
                   (b"\xcc\x81", b"combining"),
                   (b"x\xcc\x81\xcc\x82\xcc\x83\xcc\x84", b"combining"),
                   (b"bob\xee\x80\x80", b"private-use")]
        for nick, why in refused:
            b.send(b"/nick " + nick + b"\n")
            line = b.line()
            self.assertIn(why, line, nick)
            self.assertNotIn(b"\xe2\x80\xae", line)
        # NFC and NFD are one name: the NFD form is stored as NFC.
        b.send(b"/nick Jose\xcc\x81\n")
        self.assertEqual(b.line(), "*** you are now Jos\u00e9".encode())
        a.wait("*** user2 is now Jos\u00e9".encode())
        a.send("/nick Jos\u00e9\n".encode())
        self.assertEqual(a.line(), "*** nick \"Jos\u00e9\" is taken".encode())


class TestNeutralised(RoomTest):

    def test_invisible_reordering_characters_are_neutralised(self):
        _, _, a, b, _ = self.trio()
        evil = ("x\u202egnp.exe\u202c \u2066iso\u2069 a\u2028b\u2029c "
                "z\u200bw\u200cj\u200dk \ufeffbom\n").encode()
        a.send(evil)
        line = b.line()
        for cp in ("\u202e", "\u202c", "\u2066", "\u2069", "\u2028",
                   "\u2029", "\u200b", "\u200c", "\u200d", "\ufeff"):
            self.assertNotIn(cp.encode(), line)
        self.assertEqual(line.count("\ufffd".encode()), 10)


class TestJoins(RoomTest):

    def test_joins_in_one_turn_are_told_once(self):
        proc, port = self.server()
        a = self.client(port)
        # Stopped, the server accepts nothing: the kernel completes the
        # handshakes, and on waking the server takes all ten in one turn.
        os.kill(proc.popen.pid, signal.SIGSTOP)
        try:
            socks = [socket.create_connection(("127.0.0.1", port), TIMEOUT)
                     for _ in range(10)]
        finally:
            os.kill(proc.popen.pid, signal.SIGCONT)
        readers = []
        for s in socks:
            self.addCleanup(s.close)
            readers.append(LineReader(s, "joiner"))
        self.assertEqual(a.line(), b"*** 10 users joined")
        for r in readers:  # each welcomed, none told of its own coming
            self.assertRegex(r.read_line(), WELCOME)
        for r in readers:
            r.assert_quiet()
        a.r.assert_quiet()

    N = 2000

    def test_join_storm_all_joined_and_reached(self):
        self.assertGreaterEqual(raise_nofile(self.N + 200), self.N + 100)
        proc, port = self.server()
        sel = selectors.DefaultSelector()
        self.addCleanup(sel.close)
        data = {}
        deadline = time.monotonic() + 30 * TIMEOUT / 5

        def pump(t):
            for key, _ in sel.select(t):
                chunk = key.fileobj.recv(1 << 20)
                self.assertTrue(chunk, "a client was closed")
                data[key.fileobj] += chunk
            proc.out.drain()

        for _ in range(self.N):  # as fast as they can
            s = socket.create_connection(("127.0.0.1", port), TIMEOUT)
            self.addCleanup(s.close)
            s.setblocking(False)
            data[s] = bytearray()
            sel.register(s, selectors.EVENT_READ)
        while not all(WELCOME.match(d) for d in data.values()):
            self.assertLess(time.monotonic(), deadline, "joins missing")
            pump(0.1)
        last = list(data)[-1]
        last.sendall(b"first message\n")
        want = b"\n<user%d> first message\n" % self.N
        while not all(want in d for s, d in data.items() if s is not last):
            self.assertLess(time.monotonic(), deadline, "message missing")
            pump(0.1)


if __name__ == "__main__":
    unittest.main()
