#!/usr/bin/env python3
"""The engine's relay joins any two descriptor pairs, not only "stdin and
stdout to one socket": what exec (a child's two pipes) and forwarding
(two sockets) are built on. Driven through ctypes on the build tree's
libsockit_engine_test.so, in a child process (a sanitized build needs
its runtime preloaded).

  JoinTest   a socket to a socket both ways, half-close carried; a pipe
             pair (a child's stdin/stdout) to a socket
"""
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import TIMEOUT, build_dir  # noqa: E402
from test_relay import sanitizer_env  # noqa: E402

CHILD = r"""
import ctypes, os, socket, sys, threading
lib = ctypes.CDLL(sys.argv[1])
class Opts(ctypes.Structure):
    _fields_ = [("in_fd", ctypes.c_int), ("out_fd", ctypes.c_int),
                ("shutdown_on_eof", ctypes.c_bool), ("crlf", ctypes.c_bool),
                ("idle_timeout_ms", ctypes.c_int),
                ("progress", ctypes.c_bool), ("verbose", ctypes.c_bool),
                ("no_zero_copy", ctypes.c_bool), ("buf_size", ctypes.c_size_t),
                ("quit_after_eof", ctypes.c_bool),
                ("quit_after_eof_ms", ctypes.c_int),
                ("dgram_listen", ctypes.c_bool),
                ("dgram_all_peers", ctypes.c_bool),
                ("acl", ctypes.c_void_p), ("peer_name", ctypes.c_char_p),
                ("half_close", ctypes.c_bool), ("log", ctypes.c_void_p),
                ("tls", ctypes.c_void_p), ("a_tls", ctypes.c_void_p),
                ("up_filter", ctypes.c_void_p),
                ("down_filter", ctypes.c_void_p), ("a_io", ctypes.c_void_p)]
class Side(ctypes.Structure):
    _fields_ = [("rfd", ctypes.c_int), ("wfd", ctypes.c_int),
                ("rname", ctypes.c_char_p), ("wname", ctypes.c_char_p)]

def recv_all(s):
    out = b""
    while True:
        d = s.recv(65536)
        if not d:
            return out
        out += d

def run(a, b, opts):
    err = ctypes.create_string_buffer(256)
    res = {}
    def go():
        res["rc"] = lib.sk_relay_join(None, err, ctypes.byref(a),
                                      ctypes.byref(b), ctypes.byref(opts),
                                      None)
    t = threading.Thread(target=go)
    t.start()
    return t, res, err

data = os.urandom(1 << 20)
if sys.argv[2] == "sockets":
    # a: one socket for both halves; b: another. The far ends talk
    # through the relay as if connected to each other.
    a1, a2 = socket.socketpair()
    b1, b2 = socket.socketpair()
    t, res, err = run(Side(a1.fileno(), a1.fileno(), b"a", None),
                      Side(b1.fileno(), b1.fileno(), b"b", None),
                      Opts(in_fd=-1, out_fd=-1, shutdown_on_eof=True))
    w = threading.Thread(target=lambda: (a2.sendall(data),
                                         a2.shutdown(socket.SHUT_WR)))
    w.start()
    got_b = recv_all(b2)          # a's bytes, then EOF: half-close carried
    b2.sendall(b"reply")
    b2.close()                    # b's EOF ends the relay once delivered
    t.join()
    w.join()
    a1.close()                    # the caller's: the relay closes none
    got_a = recv_all(a2)
    print(res["rc"], got_b == data, got_a == b"reply", err.value.decode())
else:
    # a: a child's pipes (we are the child: read its stdin, write its
    # stdout); b: a socket.
    to_child_r, to_child_w = os.pipe()
    from_child_r, from_child_w = os.pipe()
    b1, b2 = socket.socketpair()
    t, res, err = run(Side(from_child_r, to_child_w, b"child stdout",
                           b"child stdin"),
                      Side(b1.fileno(), b1.fileno(), b"b", None),
                      Opts(in_fd=-1, out_fd=-1, shutdown_on_eof=True))
    b2.sendall(b"to the child\n")
    got_child = os.read(to_child_r, 100)
    os.write(from_child_w, b"from the child\n")
    os.close(from_child_w)        # the child exits: EOF, then FIN to b
    got_b = recv_all(b2)
    b2.close()
    t.join()
    print(res["rc"], got_child == b"to the child\n",
          got_b == b"from the child\n", err.value.decode())
"""


class JoinTest(unittest.TestCase):

    def join(self, kind):
        lib = os.path.join(build_dir(), "libsockit_engine_test.so")
        out = subprocess.run([sys.executable, "-c", CHILD, lib, kind],
                             capture_output=True, timeout=TIMEOUT,
                             env=sanitizer_env(lib))
        self.assertEqual(out.returncode, 0, out.stderr)
        return out.stdout.decode().rstrip("\n").split(" ", 3)

    def test_socket_to_socket(self):
        """Forwarding's shape: 1 MiB one way with a half-close, a reply
        the other way, both byte-exact; the relay returns 0."""
        rc, there, back, err = self.join("sockets")
        self.assertEqual((rc, there, back), ("0", "True", "True"), err)

    def test_pipe_pair_to_socket(self):
        """Exec's shape: a child's stdin and stdout (two pipes) as one
        side; the child's EOF reaches the socket as a FIN."""
        rc, to_child, to_peer, err = self.join("pipes")
        self.assertEqual((rc, to_child, to_peer), ("0", "True", "True"), err)


if __name__ == "__main__":
    unittest.main()
