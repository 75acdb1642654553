/* Unit tests for sock.c over 127.0.0.1, ::1 and Unix sockets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sockit/error.h"
#include "sockit/io.h"
#include "sockit/sock.h"

/* Parses a printf-formatted address; port 0 is allowed. */
static void addr_of(sk_addr_t *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void addr_of(sk_addr_t *a, const char *fmt, ...) {
  char text[SK_ADDRSTR_LEN], err[SK_ERR_LEN] = "";
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(text, sizeof text, fmt, ap);
  va_end(ap);
  if (sk_addr_parse(err, a, text, SK_ADDR_PORT_ZERO) < 0)
    fail_msg("%s", err);
}

/* The local port a socket is bound to. */
static int local_port(int fd) {
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  assert_int_equal(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
  if (ss.ss_family == AF_INET)
    return ntohs(((struct sockaddr_in *)&ss)->sin_port);
  assert_int_equal(ss.ss_family, AF_INET6);
  return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}

/* Listens on text (a stream or datagram address); fails the test if not. */
static int listen_on(const char *text, int socktype, const sk_sock_opts_t *o) {
  char err[SK_ERR_LEN] = "";
  sk_addr_t a;
  addr_of(&a, "%s", text);
  int fd = sk_socket_open(err, &a, socktype, SK_SOCK_LISTEN, o);
  if (fd < 0)
    fail_msg("listen %s: %s", text, err);
  return fd;
}

/* Connects to host (numeric, or "unix:...") at port; fails if it cannot. */
static int connect_to(const char *host, int port, int socktype,
                      const sk_sock_opts_t *o) {
  char err[SK_ERR_LEN] = "";
  sk_addr_t a;
  if (port > 0)
    addr_of(&a, "%s:%d", host, port);
  else
    addr_of(&a, "%s", host);
  int fd = sk_socket_open(err, &a, socktype, SK_SOCK_CONNECT, o);
  if (fd < 0)
    fail_msg("connect %s %d: %s", host, port, err);
  return fd;
}

/* Sends a line each way over a connected pair and checks both. */
static void exchange(int a, int b) {
  char buf[16] = "";
  assert_int_equal(sk_send_all(a, "ping\n", 5), 5);
  assert_int_equal(sk_read_exact(b, buf, 5), 5);
  assert_memory_equal(buf, "ping\n", 5);
  assert_int_equal(sk_send_all(b, "pong\n", 5), 5);
  assert_int_equal(sk_read_exact(a, buf, 5), 5);
  assert_memory_equal(buf, "pong\n", 5);
}

/* Accepts one connection and checks the peer's formatted address. */
static int accept_from(int lfd, const char *peer_prefix) {
  char err[SK_ERR_LEN] = "", where[SK_ADDRSTR_LEN];
  struct sockaddr_storage peer;
  socklen_t len = 0;
  int fd = sk_accept(err, lfd, &peer, &len);
  if (fd < 0)
    fail_msg("accept: %s", err);
  sk_sockaddr_format((struct sockaddr *)&peer, len, where, sizeof where);
  if (strncmp(where, peer_prefix, strlen(peer_prefix)) != 0)
    fail_msg("peer %s does not start with %s", where, peer_prefix);
  assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
  return fd;
}

/* Connects over TCP to host:port of lfd, accepts, talks both ways. */
static void tcp_round_trip(int lfd, const char *host, const char *peer) {
  int c = connect_to(host, local_port(lfd), SOCK_STREAM, NULL);
  int s = accept_from(lfd, peer);
  exchange(c, s);
  close(c);
  close(s);
}

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* TCP over 127.0.0.1 with an OS-chosen port, data both ways. */
static void test_tcp_ipv4(void **state) {
  (void)state;
  int lfd = listen_on("127.0.0.1:0", SOCK_STREAM, NULL);
  assert_true(local_port(lfd) > 0);
  tcp_round_trip(lfd, "127.0.0.1", "127.0.0.1:");
  close(lfd);
}

/* TCP over ::1, data both ways. */
static void test_tcp_ipv6(void **state) {
  (void)state;
  int lfd = listen_on("[::1]:0", SOCK_STREAM, NULL);
  tcp_round_trip(lfd, "[::1]", "[::1]:");
  close(lfd);
}

/* The any address with AF_UNSPEC is one socket reached over v4 and v6. */
static void test_tcp_dual_stack(void **state) {
  int v6only = -1;
  socklen_t len = sizeof v6only;
  (void)state;
  int lfd = listen_on(":0", SOCK_STREAM, NULL);
  assert_int_equal(getsockopt(lfd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, &len),
                   0);
  assert_int_equal(v6only, 0);
  /* The IPv4 client arrives as ::ffff:127.0.0.1, shown as IPv4. */
  tcp_round_trip(lfd, "127.0.0.1", "127.0.0.1:");
  tcp_round_trip(lfd, "[::1]", "[::1]:");
  close(lfd);
}

/* AF_INET6 alone makes a v6-only listener that 127.0.0.1 cannot reach. */
static void test_tcp_v6_only(void **state) {
  sk_sock_opts_t o = {.family = AF_INET6};
  char err[SK_ERR_LEN] = "";
  sk_addr_t a;
  (void)state;
  int lfd = listen_on(":0", SOCK_STREAM, &o);
  addr_of(&a, "127.0.0.1:%d", local_port(lfd));
  assert_int_equal(sk_tcp_connect(err, &a, NULL), -ECONNREFUSED);
  tcp_round_trip(lfd, "[::1]", "[::1]:");
  close(lfd);
}

/* opts.nonblock and close-on-exec hold on the returned descriptor. */
static void test_tcp_nonblock(void **state) {
  sk_sock_opts_t o = {.nonblock = true};
  char err[SK_ERR_LEN] = "";
  (void)state;
  int lfd = listen_on("127.0.0.1:0", SOCK_STREAM, &o);
  assert_true(fcntl(lfd, F_GETFL) & O_NONBLOCK);
  assert_true(fcntl(lfd, F_GETFD) & FD_CLOEXEC);
  /* Nobody is connecting: a non-blocking accept says so at once. */
  assert_int_equal(sk_accept(err, lfd, NULL, NULL), -EAGAIN);
  assert_string_equal(err, "accept: Resource temporarily unavailable");
  int c = connect_to("127.0.0.1", local_port(lfd), SOCK_STREAM, NULL);
  assert_false(fcntl(c, F_GETFL) & O_NONBLOCK);
  struct pollfd p = {.fd = lfd, .events = POLLIN};
  assert_int_equal(poll(&p, 1, 5000), 1);
  int s = accept_from(lfd, "127.0.0.1:");
  exchange(c, s);
  assert_int_equal(sk_fd_set_nonblock(c, true), 0);
  assert_true(fcntl(c, F_GETFL) & O_NONBLOCK);
  assert_int_equal(sk_fd_set_nonblock(c, false), 0);
  assert_false(fcntl(c, F_GETFL) & O_NONBLOCK);
  close(c);
  close(s);
  close(lfd);
  assert_int_equal(sk_fd_set_nonblock(-1, true), -EBADF);
}

/* opts.source binds the client to the given local port before connect. */
static void test_tcp_source(void **state) {
  sk_sock_opts_t o = {0};
  struct sockaddr_storage peer;
  socklen_t len = 0;
  sk_addr_t src;
  (void)state;
  /* Borrow a free port from the OS for the source. */
  int tmp = listen_on("127.0.0.1:0", SOCK_STREAM, NULL);
  int port = local_port(tmp);
  close(tmp);
  addr_of(&src, "127.0.0.1:%d", port);
  o.source = &src;
  int lfd = listen_on("127.0.0.1:0", SOCK_STREAM, NULL);
  int c = connect_to("127.0.0.1", local_port(lfd), SOCK_STREAM, &o);
  int s = sk_accept(NULL, lfd, &peer, &len);
  assert_true(s >= 0);
  assert_int_equal(ntohs(((struct sockaddr_in *)&peer)->sin_port), port);
  exchange(c, s);
  close(c);
  close(s);
  close(lfd);
}

/* UDP: bind, connect, sendto and recvfrom, with replies to the sender. */
static void udp_round_trip(const char *host, const char *peer_prefix) {
  char err[SK_ERR_LEN] = "", buf[32] = "", where[SK_ADDRSTR_LEN];
  struct sockaddr_storage from;
  socklen_t from_len = 0;
  char text[64];
  snprintf(text, sizeof text, "%s:0", host);
  int s = listen_on(text, SOCK_DGRAM, NULL);
  int c = connect_to(host, local_port(s), SOCK_DGRAM, NULL);
  assert_int_equal(sk_sendto(err, c, "hello", 5, NULL, 0), 5);
  assert_int_equal(sk_recvfrom(err, s, buf, sizeof buf, &from, &from_len), 5);
  assert_memory_equal(buf, "hello", 5);
  sk_sockaddr_format((struct sockaddr *)&from, from_len, where, sizeof where);
  assert_memory_equal(where, peer_prefix, strlen(peer_prefix));
  assert_int_equal(local_port(c),
                   atoi(strrchr(where, ':') + 1)); /* the sender */
  assert_int_equal(
      sk_sendto(err, s, "world!", 6, (struct sockaddr *)&from, from_len), 6);
  assert_int_equal(sk_recvfrom(err, c, buf, sizeof buf, NULL, NULL), 6);
  assert_memory_equal(buf, "world!", 6);
  close(c);
  close(s);
}

/* UDP over 127.0.0.1 and ::1. */
static void test_udp(void **state) {
  (void)state;
  udp_round_trip("127.0.0.1", "127.0.0.1:");
  udp_round_trip("[::1]", "[::1]:");
}

/* Sends size bytes (to the connected peer when to is NULL), which must
 * fail with -EMSGSIZE and exactly msg, then limit bytes, which must go. */
static void udp_limit(int fd, const struct sockaddr_storage *to,
                      socklen_t to_len, size_t size, size_t limit,
                      const char *msg) {
  char err[SK_ERR_LEN] = "";
  char *big = calloc(1, size);
  assert_non_null(big);
  const struct sockaddr *sa = (const struct sockaddr *)to;
  assert_int_equal(sk_sendto(err, fd, big, size, sa, to_len), -EMSGSIZE);
  assert_string_equal(err, msg);
  if (limit)
    assert_int_equal(sk_sendto(err, fd, big, limit, sa, to_len), limit);
  free(big);
}

/* Too big a datagram is refused, naming its size and the limit. */
static void test_udp_too_big(void **state) {
  (void)state;
  int s = listen_on("127.0.0.1:0", SOCK_DGRAM, NULL);
  int c = connect_to("127.0.0.1", local_port(s), SOCK_DGRAM, NULL);
  udp_limit(c, NULL, 0, 70000, 65507,
            "sendto: datagram of 70000 bytes is over the limit of 65507 "
            "bytes");
  close(c), close(s);
  s = listen_on("[::1]:0", SOCK_DGRAM, NULL);
  c = connect_to("[::1]", local_port(s), SOCK_DGRAM, NULL);
  udp_limit(c, NULL, 0, 65528, 65527,
            "sendto: datagram of 65528 bytes is over the limit of 65527 "
            "bytes");
  close(c), close(s);
}

/* A dual-stack socket replying to an IPv4 peer has the IPv4 limit. */
static void test_udp_too_big_mapped(void **state) {
  struct sockaddr_storage from;
  socklen_t from_len = 0;
  char buf[8];
  (void)state;
  int s = listen_on(":0", SOCK_DGRAM, NULL);
  int c = connect_to("127.0.0.1", local_port(s), SOCK_DGRAM, NULL);
  assert_int_equal(sk_sendto(NULL, c, "x", 1, NULL, 0), 1);
  assert_int_equal(sk_recvfrom(NULL, s, buf, sizeof buf, &from, &from_len), 1);
  assert_int_equal(from.ss_family, AF_INET6);
  udp_limit(s, &from, from_len, 65508, 65507,
            "sendto: datagram of 65508 bytes is over the limit of 65507 "
            "bytes");
  close(c), close(s);
}

/* A Unix datagram over the send buffer names its size only. */
static void test_unix_dgram_too_big(void **state) {
  char name[64];
  (void)state;
  snprintf(name, sizeof name, "unix:@sockit-test-big-%d", (int)getpid());
  int s = listen_on(name, SOCK_DGRAM, NULL);
  int c = connect_to(name, 0, SOCK_DGRAM, NULL);
  udp_limit(c, NULL, 0, 4 << 20, 0,
            "sendto: datagram of 4194304 bytes is too long");
  close(c), close(s);
}

/* A fresh directory for Unix socket paths; removed by the caller. */
static void temp_dir(char dir[64]) {
  snprintf(dir, 64, "/tmp/sockit-test-XXXXXX");
  assert_non_null(mkdtemp(dir));
}

/* Unix stream sockets by path and in the abstract namespace. */
static void test_unix_stream(void **state) {
  char dir[64], path[128], abstract[64];
  (void)state;
  temp_dir(dir);
  snprintf(path, sizeof path, "unix:%s/stream", dir);
  int lfd = listen_on(path, SOCK_STREAM, NULL);
  int c = connect_to(path, 0, SOCK_STREAM, NULL);
  int s = accept_from(lfd, "unix:");
  exchange(c, s);
  close(c), close(s), close(lfd);
  assert_int_equal(unlink(path + 5), 0);
  assert_int_equal(rmdir(dir), 0);
  snprintf(abstract, sizeof abstract, "unix:@sockit-test-%d", (int)getpid());
  lfd = listen_on(abstract, SOCK_STREAM, NULL);
  c = connect_to(abstract, 0, SOCK_STREAM, NULL);
  s = accept_from(lfd, "unix:");
  exchange(c, s);
  close(c), close(s), close(lfd);
}

/* Unix datagrams: replies reach the client at its source address, or
 * (client NULL) at the abstract one the kernel chose for it. */
static void unix_dgram_round_trip(const char *server, const char *client) {
  char err[SK_ERR_LEN] = "", buf[16] = "", where[SK_ADDRSTR_LEN];
  struct sockaddr_storage from;
  socklen_t from_len = 0;
  sk_sock_opts_t o = {0};
  sk_addr_t src;
  if (client) {
    addr_of(&src, "%s", client);
    o.source = &src;
  }
  int s = listen_on(server, SOCK_DGRAM, NULL);
  int c = connect_to(server, 0, SOCK_DGRAM, &o);
  assert_int_equal(sk_sendto(err, c, "hi", 2, NULL, 0), 2);
  assert_int_equal(sk_recvfrom(err, s, buf, sizeof buf, &from, &from_len), 2);
  sk_sockaddr_format((struct sockaddr *)&from, from_len, where, sizeof where);
  if (client)
    assert_string_equal(where, client);
  else
    assert_memory_equal(where, "unix:@", 6);
  assert_int_equal(
      sk_sendto(err, s, "yo", 2, (struct sockaddr *)&from, from_len), 2);
  assert_int_equal(sk_recvfrom(err, c, buf, sizeof buf, NULL, NULL), 2);
  assert_memory_equal(buf, "yo", 2);
  close(c);
  close(s);
}

/* Unix datagram sockets by path and in the abstract namespace. */
static void test_unix_dgram(void **state) {
  char dir[64], server[128], client[128];
  (void)state;
  temp_dir(dir);
  snprintf(server, sizeof server, "unix:%s/server", dir);
  snprintf(client, sizeof client, "unix:%s/client", dir);
  unix_dgram_round_trip(server, client);
  assert_int_equal(unlink(server + 5), 0);
  assert_int_equal(unlink(client + 5), 0);
  unix_dgram_round_trip(server, NULL);
  assert_int_equal(unlink(server + 5), 0);
  assert_int_equal(rmdir(dir), 0);
  snprintf(server, sizeof server, "unix:@sockit-test-s-%d", (int)getpid());
  snprintf(client, sizeof client, "unix:@sockit-test-c-%d", (int)getpid());
  unix_dgram_round_trip(server, client);
}

/* A path left by a closed listener is reused; a live one is not taken. */
static void test_unix_stale_path(void **state) {
  char dir[64], path[128], err[SK_ERR_LEN] = "", want[SK_ERR_LEN];
  struct stat st;
  sk_addr_t a;
  (void)state;
  temp_dir(dir);
  snprintf(path, sizeof path, "unix:%s/stale", dir);
  addr_of(&a, "%s", path);
  close(listen_on(path, SOCK_STREAM, NULL));
  assert_int_equal(stat(path + 5, &st), 0); /* left behind */
  int lfd = listen_on(path, SOCK_STREAM, NULL);
  int c = connect_to(path, 0, SOCK_STREAM, NULL);
  int s = accept_from(lfd, "unix:");
  exchange(c, s);
  close(c), close(s);
  /* The second listener is the live one: its path is not taken over,
   * and no probe connection reaches it (/proc/net/unix is asked). */
  assert_int_equal(sk_tcp_listen(err, &a, NULL), -EADDRINUSE);
  snprintf(want, sizeof want, "%s is in use", path);
  assert_string_equal(err, want);
  assert_int_equal(stat(path + 5, &st), 0);
  assert_true(S_ISSOCK(st.st_mode));
  assert_int_equal(poll(&(struct pollfd){.fd = lfd, .events = POLLIN}, 1, 0),
                   0);
  close(lfd);
  /* A stale datagram path is reused the same way. */
  assert_int_equal(unlink(path + 5), 0);
  close(listen_on(path, SOCK_DGRAM, NULL));
  close(listen_on(path, SOCK_DGRAM, NULL));
  assert_int_equal(unlink(path + 5), 0);
  assert_int_equal(rmdir(dir), 0);
}

/* A file that is not a socket is never removed to make room: regular
 * file, directory, a symbolic link to a socket. */
static void test_unix_path_not_a_socket(void **state) {
  char dir[64], path[128], link_to[160], err[SK_ERR_LEN] = "";
  char want[SK_ERR_LEN], buf[8] = "";
  sk_addr_t a;
  (void)state;
  temp_dir(dir);
  snprintf(path, sizeof path, "unix:%s/file", dir);
  addr_of(&a, "%s", path);
  int fd = open(path + 5, O_WRONLY | O_CREAT | O_EXCL, 0600);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, "data", 4), 4);
  close(fd);
  snprintf(want, sizeof want, "%s exists and is not a socket", path);
  for (int type = SOCK_STREAM; type <= SOCK_DGRAM; type++) {
    assert_int_equal(sk_socket_open(err, &a, type, SK_SOCK_LISTEN, NULL),
                     SK_EADDR);
    assert_string_equal(err, want);
  }
  fd = open(path + 5, O_RDONLY);
  assert_int_equal(read(fd, buf, sizeof buf), 4);
  assert_string_equal(buf, "data");
  close(fd);
  /* A symbolic link to a stale socket: the link is no socket either. */
  snprintf(link_to, sizeof link_to, "%s/sock", dir);
  int lfd =
      listen_on(strcat(strcpy(want, "unix:"), link_to), SOCK_STREAM, NULL);
  close(lfd);
  assert_int_equal(unlink(path + 5), 0);
  assert_int_equal(symlink(link_to, path + 5), 0);
  assert_int_equal(sk_tcp_listen(err, &a, NULL), SK_EADDR);
  assert_int_equal(unlink(path + 5), 0);
  assert_int_equal(unlink(link_to), 0);
  assert_int_equal(rmdir(dir), 0);
}

/* A bound datagram socket is in use: no second one takes its path. */
static void test_unix_dgram_path_in_use(void **state) {
  char dir[64], path[128], err[SK_ERR_LEN] = "", want[SK_ERR_LEN];
  sk_addr_t a;
  (void)state;
  temp_dir(dir);
  snprintf(path, sizeof path, "unix:%s/dgram", dir);
  addr_of(&a, "%s", path);
  int fd = listen_on(path, SOCK_DGRAM, NULL);
  assert_int_equal(sk_udp_bind(err, &a, NULL), -EADDRINUSE);
  snprintf(want, sizeof want, "%s is in use", path);
  assert_string_equal(err, want);
  close(fd);
  close(listen_on(path, SOCK_DGRAM, NULL)); /* stale now: reused */
  assert_int_equal(unlink(path + 5), 0);
  assert_int_equal(rmdir(dir), 0);
}

/* A Unix datagram client whose connect fails removes the source path
 * it had just bound; one bound over a regular file is refused. */
static void test_unix_dgram_source_cleanup(void **state) {
  char dir[64], src[128], dst[128], err[SK_ERR_LEN] = "";
  struct stat st;
  sk_addr_t from, to;
  (void)state;
  temp_dir(dir);
  snprintf(src, sizeof src, "unix:%s/client", dir);
  snprintf(dst, sizeof dst, "unix:%s/nobody", dir);
  addr_of(&from, "%s", src);
  addr_of(&to, "%s", dst);
  sk_sock_opts_t o = {.source = &from};
  assert_int_equal(sk_udp_connect(err, &to, &o), -ENOENT);
  assert_int_equal(lstat(src + 5, &st), -1);
  int fd = open(src + 5, O_WRONLY | O_CREAT | O_EXCL, 0600);
  close(fd);
  assert_int_equal(sk_udp_connect(err, &to, &o), SK_EADDR);
  assert_int_equal(lstat(src + 5, &st), 0);
  assert_true(S_ISREG(st.st_mode));
  assert_int_equal(unlink(src + 5), 0);
  assert_int_equal(rmdir(dir), 0);
}

/* A port in use gives -EADDRINUSE and "bind 127.0.0.1:PORT: ...". */
static void test_bind_in_use(void **state) {
  char err[SK_ERR_LEN] = "", want[SK_ERR_LEN];
  sk_addr_t a;
  (void)state;
  int lfd = listen_on("127.0.0.1:0", SOCK_STREAM, NULL);
  int port = local_port(lfd);
  addr_of(&a, "127.0.0.1:%d", port);
  assert_int_equal(sk_tcp_listen(err, &a, NULL), -EADDRINUSE);
  snprintf(want, sizeof want, "bind 127.0.0.1:%d: Address already in use",
           port);
  assert_string_equal(err, want);
  int u = listen_on("127.0.0.1:0", SOCK_DGRAM, NULL);
  addr_of(&a, "127.0.0.1:%d", local_port(u));
  assert_int_equal(sk_udp_bind(err, &a, NULL), -EADDRINUSE);
  close(u);
  close(lfd);
}

/* A port with no listener refuses: "connect 127.0.0.1:PORT: ...". */
static void test_connect_refused(void **state) {
  char err[SK_ERR_LEN] = "", want[SK_ERR_LEN];
  sk_addr_t a;
  (void)state;
  /* A bound socket that does not listen holds the port and answers RST. */
  int hold = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in in = {.sin_family = AF_INET,
                           .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  assert_int_equal(bind(hold, (struct sockaddr *)&in, sizeof in), 0);
  int port = local_port(hold);
  addr_of(&a, "127.0.0.1:%d", port);
  assert_int_equal(sk_tcp_connect(err, &a, NULL), -ECONNREFUSED);
  snprintf(want, sizeof want, "connect 127.0.0.1:%d: Connection refused", port);
  assert_string_equal(err, want);
  close(hold);
}

/* Starts non-blocking connects to port until the kernel stops answering:
 * the accept queue is full and new SYNs are dropped. Returns the count
 * of sockets in fds, the last of which is the stalled one. */
static int fill_accept_queue(int port, int *fds, int max) {
  struct sockaddr_in in = {.sin_family = AF_INET,
                           .sin_port = htons(port),
                           .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  for (int n = 0; n < max;) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    fds[n++] = fd;
    if (connect(fd, (struct sockaddr *)&in, sizeof in) == 0)
      continue;
    assert_int_equal(errno, EINPROGRESS);
    struct pollfd p = {.fd = fd, .events = POLLOUT};
    if (poll(&p, 1, 200) == 0)
      return n;
  }
  return -1;
}

/* With the accept queue full, a 300 ms connect timeout ends in time. */
static void test_connect_timeout(void **state) {
  sk_sock_opts_t lo = {.backlog = 1}, co = {.timeout_ms = 300};
  char err[SK_ERR_LEN] = "", want[SK_ERR_LEN];
  int fds[32];
  sk_addr_t a;
  (void)state;
  int lfd = listen_on("127.0.0.1:0", SOCK_STREAM, &lo);
  int port = local_port(lfd);
  int n = fill_accept_queue(port, fds, 32);
  assert_true(n >= 2);
  addr_of(&a, "127.0.0.1:%d", port);
  double start = now_ms();
  assert_int_equal(sk_tcp_connect(err, &a, &co), -ETIMEDOUT);
  double elapsed = now_ms() - start;
  assert_true(elapsed >= 250 && elapsed < 5000);
  snprintf(want, sizeof want, "connect 127.0.0.1:%d: Connection timed out",
           port);
  assert_string_equal(err, want);
  for (int i = 0; i < n; i++)
    close(fds[i]);
  close(lfd);
}

/* The child's half of test_sigpipe, without cmocka: returns 0 when all
 * went as expected, else the step that went wrong. */
static int sigpipe_child(void) {
  struct sockaddr_in in;
  socklen_t len = sizeof in;
  sk_addr_t a;
  char c;
  signal(SIGPIPE, SIG_DFL);
  if (sk_addr_parse(NULL, &a, "127.0.0.1:0", SK_ADDR_PORT_ZERO) < 0)
    return 2;
  int lfd = sk_tcp_listen(NULL, &a, NULL);
  if (lfd < 0 || getsockname(lfd, (struct sockaddr *)&in, &len) < 0)
    return 3;
  a.port = ntohs(in.sin_port);
  int fd = sk_tcp_connect(NULL, &a, NULL);
  if (fd < 0)
    return 4;
  close(sk_accept(NULL, lfd, NULL, NULL));
  if (read(fd, &c, 1) != 0) /* the peer's FIN has arrived */
    return 5;
  /* SIGPIPE is at its default: only the library's MSG_NOSIGNAL keeps us
   * alive. The first send goes and draws a RST; a later one is EPIPE. */
  ssize_t n = 0;
  for (int i = 0; i < 100 && n >= 0; i++) {
    n = sk_send_all(fd, "x", 1);
    usleep(10000);
  }
  return n == -EPIPE ? 0 : 6;
}

/* The library's writes to a closed peer cost EPIPE, never the process,
 * without the library touching the program's SIGPIPE disposition. */
static void test_sigpipe(void **state) {
  int status = 0;
  (void)state;
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0)
    _exit(sigpipe_child());
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_false(WIFSIGNALED(status));
  assert_true(WIFEXITED(status));
  assert_int_equal(WEXITSTATUS(status), 0);
}

static void on_sigpipe(int sig) {
  (void)sig;
}

/* A library sets no process policy: opening sockets leaves SIGPIPE's
 * disposition as the program set it, default or its own handler (the
 * library's writes use MSG_NOSIGNAL instead). */
static void test_sigpipe_left_alone(void **state) {
  struct sigaction sa = {.sa_handler = SIG_DFL}, old;
  (void)state;
  assert_int_equal(sigaction(SIGPIPE, &sa, &old), 0);
  close(listen_on("127.0.0.1:0", SOCK_STREAM, NULL));
  assert_int_equal(sigaction(SIGPIPE, NULL, &sa), 0);
  assert_ptr_equal(sa.sa_handler, SIG_DFL);
  sa.sa_handler = on_sigpipe;
  assert_int_equal(sigaction(SIGPIPE, &sa, NULL), 0);
  close(listen_on("127.0.0.1:0", SOCK_STREAM, NULL));
  assert_int_equal(sigaction(SIGPIPE, &old, &sa), 0);
  assert_ptr_equal(sa.sa_handler, on_sigpipe);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_tcp_ipv4),
      cmocka_unit_test(test_tcp_ipv6),
      cmocka_unit_test(test_tcp_dual_stack),
      cmocka_unit_test(test_tcp_v6_only),
      cmocka_unit_test(test_tcp_nonblock),
      cmocka_unit_test(test_tcp_source),
      cmocka_unit_test(test_udp),
      cmocka_unit_test(test_udp_too_big),
      cmocka_unit_test(test_udp_too_big_mapped),
      cmocka_unit_test(test_unix_dgram_too_big),
      cmocka_unit_test(test_unix_stream),
      cmocka_unit_test(test_unix_dgram),
      cmocka_unit_test(test_unix_stale_path),
      cmocka_unit_test(test_unix_path_not_a_socket),
      cmocka_unit_test(test_unix_dgram_path_in_use),
      cmocka_unit_test(test_unix_dgram_source_cleanup),
      cmocka_unit_test(test_bind_in_use),
      cmocka_unit_test(test_connect_refused),
      cmocka_unit_test(test_connect_timeout),
      cmocka_unit_test(test_sigpipe),
      cmocka_unit_test(test_sigpipe_left_alone),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
