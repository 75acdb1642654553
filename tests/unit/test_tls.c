/* Unit tests for tls.c: pins, fingerprints and refusal messages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/x509_vfy.h>

#include "sockit/error.h"
#include "sockit/sock.h"
#include "sockit/tls.h"

#define HEX "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

/* Parses text, which must be accepted as the bytes 00 11 22 ... ff twice. */
static void pin_ok(const char *text) {
  char err[SK_ERR_LEN] = "";
  unsigned char md[32];
  assert_int_equal(sk_tls_pin_parse(err, text, md), 0);
  assert_string_equal(err, "");
  for (int i = 0; i < 32; i++)
    assert_int_equal(md[i], (i % 16) * 0x11);
}

static void pin_bad(const char *text, const char *msg) {
  char err[SK_ERR_LEN] = "";
  unsigned char md[32];
  assert_int_equal(sk_tls_pin_parse(err, text, md), SK_ETLS_CONFIG);
  assert_string_equal(err, msg);
}

/* A pin is sha256: and 64 hex digits, in any case, colons allowed. */
static void test_tls_pin_parse(void **state) {
  (void)state;
  pin_ok("sha256:" HEX);
  pin_ok("SHA256:00112233445566778899AABBCCDDEEFF"
         "00112233445566778899AABBCCDDEEFF");
  pin_ok("sha256:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:"
         "00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff");
}

/* Everything else is refused with one line that says what a pin is. */
static void test_tls_pin_refused(void **state) {
  (void)state;
  const char *tail = "\": expected sha256: and 64 hex digits (the "
                     "certificate's SHA-256 fingerprint)";
  char msg[SK_ERR_LEN];
  const char *bad[] = {"",           "sha1:abcd", "sha256:", "sha256:0:0112233",
                       "sha256:abc", HEX};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    snprintf(msg, sizeof msg, "pin \"%s%s", bad[i], tail);
    pin_bad(bad[i], msg);
  }
  /* User text is escaped, and cut after 64 bytes as every quote is. */
  snprintf(msg, sizeof msg, "pin \"sha256:ab\\x0a%s", tail);
  pin_bad("sha256:ab\n", msg);
  const char *longer[] = {"sha256:" HEX "00", "sha256:" HEX ":",
                          "sha256:zz112233445566778899aabbccddeeff"
                          "00112233445566778899aabbccddeeff"};
  for (size_t i = 0; i < sizeof longer / sizeof longer[0]; i++) {
    snprintf(msg, sizeof msg, "pin \"%.64s...%s", longer[i], tail);
    pin_bad(longer[i], msg);
  }
}

/* The printed form is the form a pin takes back. */
static void test_tls_fp_format_round_trip(void **state) {
  (void)state;
  unsigned char md[32], back[32];
  char fp[SK_TLS_FP_LEN];
  for (int i = 0; i < 32; i++)
    md[i] = (unsigned char)(i * 7 + 3);
  assert_string_equal(sk_tls_fp_format(fp, md),
                      "sha256:030a11181f262d343b424950575e656c"
                      "737a81888f969da4abb2b9c0c7ced5dc");
  assert_int_equal(sk_tls_pin_parse(NULL, fp, back), 0);
  assert_memory_equal(md, back, 32);
}

static const sk_tls_refusal_t base = {
    .peer = "example.org:443",
    .subject = "CN=example.org",
    .issuer = "CN=Test CA",
    .names = "\"example.org\", \"www.example.org\"",
    .expected = "\"mail.example.org\"",
    .not_before = "2026-01-01 00:00:00 UTC",
    .not_after = "2026-04-01 00:00:00 UTC",
    .fingerprint = "sha256:ab",
};

static void refusal_is(int code, const char *msg) {
  char err[SK_ERR_LEN] = "";
  sk_tls_refusal_t r = base;
  r.verify_code = code;
  assert_int_equal(sk_tls_refusal_format(err, &r), SK_ETLS_VERIFY);
  assert_string_equal(err, msg);
}

/* Each reason a person can act on has its own words, with its facts. */
static void test_tls_refusal_messages(void **state) {
  (void)state;
  refusal_is(X509_V_ERR_CERT_HAS_EXPIRED,
             "certificate of example.org:443 "
             "expired on 2026-04-01 00:00:00 UTC (CN=example.org)");
  refusal_is(X509_V_ERR_CERT_NOT_YET_VALID,
             "certificate of example.org:443 "
             "is not valid until 2026-01-01 00:00:00 UTC (CN=example.org)");
  refusal_is(X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT,
             "certificate of "
             "example.org:443 is self-signed and not trusted (CN=example.org, "
             "sha256:ab)");
  refusal_is(X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY,
             "certificate of "
             "example.org:443 is issued by an unknown authority "
             "(CN=example.org, issuer CN=Test CA)");
  refusal_is(X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN,
             "certificate of "
             "example.org:443 is issued by an unknown authority "
             "(CN=example.org, issuer CN=Test CA)");
  refusal_is(X509_V_ERR_HOSTNAME_MISMATCH,
             "certificate of example.org:443 is "
             "for \"example.org\", \"www.example.org\", not "
             "\"mail.example.org\"");
  refusal_is(X509_V_ERR_IP_ADDRESS_MISMATCH,
             "certificate of example.org:443 "
             "is for \"example.org\", \"www.example.org\", not "
             "\"mail.example.org\"");
  /* Any other reason: OpenSSL's words. */
  refusal_is(X509_V_ERR_CERT_REVOKED,
             "certificate of example.org:443 "
             "refused: certificate revoked (CN=example.org)");
}

/* A pin mismatch names both fingerprints, whatever the verify code. */
static void test_tls_refusal_pin(void **state) {
  (void)state;
  char err[SK_ERR_LEN];
  sk_tls_refusal_t r = base;
  r.pinned = "sha256:cd";
  r.verify_code = X509_V_ERR_APPLICATION_VERIFICATION;
  assert_int_equal(sk_tls_refusal_format(err, &r), SK_ETLS_VERIFY);
  assert_string_equal(err, "certificate of example.org:443 has fingerprint "
                           "sha256:ab, not the pinned sha256:cd");
}

/* Missing facts never print "(null)"; a NULL err is allowed. */
static void test_tls_refusal_sparse(void **state) {
  (void)state;
  char err[SK_ERR_LEN];
  sk_tls_refusal_t r = {.verify_code = X509_V_ERR_HOSTNAME_MISMATCH};
  sk_tls_refusal_format(err, &r);
  assert_string_equal(err, "certificate of the peer is for no name, not ?");
  assert_int_equal(sk_tls_refusal_format(NULL, &r), SK_ETLS_VERIFY);
}

/* sk_strerror knows the TLS codes. */
static void test_tls_strerror(void **state) {
  (void)state;
  assert_string_equal(sk_strerror(SK_ETLS_PLAINTEXT),
                      "peer does not speak TLS");
  assert_string_equal(sk_strerror(SK_ETLS_TRUNCATED),
                      "TLS stream truncated (no close_notify)");
  assert_string_equal(sk_strerror(SK_TLS_WANT_READ), "TLS wants to read");
}

static void ctx_refused(const sk_tls_opts_t *o, const char *msg) {
  char err[SK_ERR_LEN] = "";
  sk_tls_ctx_t *ctx = (sk_tls_ctx_t *)1;
  assert_int_equal(sk_tls_ctx_new(err, &ctx, o), SK_ETLS_CONFIG);
  assert_null(ctx);
  assert_string_equal(err, msg);
}

/* Options that do not fit the role or each other are refused, never
 * ignored. */
static void test_tls_ctx_options_refused(void **state) {
  (void)state;
  sk_tls_opts_t o = {.role = SK_TLS_CLIENT, .alpn = "h2,,x"};
  ctx_refused(&o, "ALPN list \"h2,,x\": expected names of 1 to 255 bytes "
                  "separated by commas");
  o = (sk_tls_opts_t){.role = SK_TLS_CLIENT, .verify_client = true};
  ctx_refused(&o, "verify_client and ephemeral_host are server options");
  o = (sk_tls_opts_t){.role = SK_TLS_SERVER, .insecure = true};
  ctx_refused(&o, "pin, insecure and servername are client options");
  o = (sk_tls_opts_t){.role = SK_TLS_SERVER, .verify_client = true};
  ctx_refused(&o, "verifying clients needs a trust file of their CAs");
  o = (sk_tls_opts_t){.role = SK_TLS_SERVER, .key = "k.pem"};
  ctx_refused(&o, "key file \"k.pem\" given without its certificate");
  o = (sk_tls_opts_t){.role = 0};
  ctx_refused(&o, "TLS role must be client or server");
}

/* A verifying client needs the name the certificate must carry. */
static void test_tls_session_needs_host(void **state) {
  (void)state;
  char err[SK_ERR_LEN] = "";
  sk_tls_opts_t o = {.role = SK_TLS_CLIENT};
  sk_tls_ctx_t *ctx;
  sk_tls_t *t = (sk_tls_t *)1;
  assert_int_equal(sk_tls_ctx_new(err, &ctx, &o), 0);
  assert_int_equal(sk_tls_new(err, &t, ctx, 0, NULL, "10.0.0.1:443"),
                   SK_ETLS_CONFIG);
  assert_null(t);
  assert_string_equal(err, "verifying 10.0.0.1:443 needs its host name");
  sk_tls_ctx_free(ctx);
}

/* ---- sessions on socket pairs, both ends driven here ---- */

struct pair {
  int fd[2]; /* client, server */
  sk_tls_t *c, *s;
};

static bool stepping(int rc) {
  return rc == SK_TLS_WANT_READ || rc == SK_TLS_WANT_WRITE;
}

static void pair_open(struct pair *p, sk_tls_ctx_t *cc, sk_tls_ctx_t *sc) {
  char err[SK_ERR_LEN] = "";
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, p->fd), 0);
  sk_fd_set_nonblock(p->fd[0], true);
  sk_fd_set_nonblock(p->fd[1], true);
  assert_int_equal(sk_tls_new(err, &p->c, cc, p->fd[0], "localhost", "s"), 0);
  assert_int_equal(sk_tls_new(err, &p->s, sc, p->fd[1], NULL, "c"), 0);
}

/* Steps both handshakes until both are done; a step never blocks. */
static void pair_handshake(struct pair *p) {
  char err[SK_ERR_LEN] = "";
  int a = SK_TLS_WANT_WRITE, b = SK_TLS_WANT_READ;
  for (int i = 0; i < 100 && (a || b); i++) {
    if (a)
      a = sk_tls_handshake(err, p->c);
    if (b)
      b = sk_tls_handshake(err, p->s);
    assert_true((a == 0 || stepping(a)) && (b == 0 || stepping(b)));
  }
  assert_int_equal(a + b, 0);
}

/* Sends text from one end and reads it whole at the other. */
static void pass(sk_tls_t *from, sk_tls_t *to, const char *text) {
  char err[SK_ERR_LEN], buf[64];
  ssize_t n;
  assert_int_equal(sk_tls_write(err, from, text, strlen(text)),
                   (ssize_t)strlen(text));
  for (int i = 0;
       i < 10 && stepping((int)(n = sk_tls_read(err, to, buf, sizeof buf)));
       i++)
    ;
  assert_int_equal(n, (ssize_t)strlen(text));
  assert_memory_equal(buf, text, (size_t)n);
}

static void pair_close(struct pair *p) {
  sk_tls_free(p->c);
  sk_tls_free(p->s);
  close(p->fd[0]);
  close(p->fd[1]);
}

static int ctxs_setup(void **state) {
  static sk_tls_ctx_t *ctx[2];
  sk_tls_opts_t so = {.role = SK_TLS_SERVER};
  sk_tls_opts_t co = {.role = SK_TLS_CLIENT};
  char err[SK_ERR_LEN], pin[SK_TLS_FP_LEN];
  if (sk_tls_ctx_new(err, &ctx[1], &so) < 0)
    return -1;
  snprintf(pin, sizeof pin, "%s", sk_tls_ctx_fingerprint(ctx[1]));
  co.pin = pin;
  if (sk_tls_ctx_new(err, &ctx[0], &co) < 0)
    return -1;
  *state = ctx;
  return 0;
}

static int ctxs_teardown(void **state) {
  sk_tls_ctx_t **ctx = *state;
  sk_tls_ctx_free(ctx[0]);
  sk_tls_ctx_free(ctx[1]);
  return 0;
}

/* Data both ways, then close_notify reads as 0 at the other end. */
static void test_tls_session_close_notify(void **state) {
  sk_tls_ctx_t **ctx = *state;
  struct pair p;
  char err[SK_ERR_LEN], buf[8];
  pair_open(&p, ctx[0], ctx[1]);
  pair_handshake(&p);
  assert_string_equal(sk_tls_peer_fingerprint(p.c),
                      sk_tls_ctx_fingerprint(ctx[1]));
  pass(p.s, p.c, "hello\n");
  pass(p.c, p.s, "hi\n");
  assert_int_equal(sk_tls_shutdown(err, p.c), 0);
  assert_int_equal(sk_tls_read(err, p.s, buf, sizeof buf), 0);
  pair_close(&p);
}

/* EOF without close_notify is its own code and message. */
static void test_tls_session_truncated(void **state) {
  sk_tls_ctx_t **ctx = *state;
  struct pair p;
  char err[SK_ERR_LEN], buf[8];
  pair_open(&p, ctx[0], ctx[1]);
  pair_handshake(&p);
  pass(p.s, p.c, "part\n");
  shutdown(p.fd[1], SHUT_WR);
  assert_int_equal(sk_tls_read(err, p.c, buf, sizeof buf), SK_ETLS_TRUNCATED);
  assert_string_equal(err, "s closed the connection without TLS "
                           "close_notify: the data may be truncated");
  pair_close(&p);
}

/* Writing to a peer that is gone is an error, never SIGPIPE: the
 * library sets no signal policy, so it must not raise one. */
static void test_tls_session_no_sigpipe(void **state) {
  sk_tls_ctx_t **ctx = *state;
  struct pair p;
  char err[SK_ERR_LEN];
  ssize_t n = 1;
  void (*old)(int) = signal(SIGPIPE, SIG_DFL);
  pair_open(&p, ctx[0], ctx[1]);
  pair_handshake(&p);
  close(p.fd[1]);
  for (int i = 0; i < 4 && n > 0; i++)
    n = sk_tls_write(err, p.c, "x", 1);
  signal(SIGPIPE, old);
  assert_int_equal(n, -EPIPE);
  assert_string_equal(err, "TLS write to s: Broken pipe");
  p.fd[1] = -1;
  pair_close(&p);
}

/* A plaintext client is refused before OpenSSL reads, quoted. */
static void test_tls_session_plaintext_client(void **state) {
  sk_tls_ctx_t **ctx = *state;
  struct pair p;
  char err[SK_ERR_LEN];
  pair_open(&p, ctx[0], ctx[1]);
  assert_int_equal(sk_tls_handshake(err, p.s), SK_TLS_WANT_READ);
  assert_int_equal(write(p.fd[0], "GET / HTTP/1.1\r\n", 16), 16);
  assert_int_equal(sk_tls_handshake(err, p.s), SK_ETLS_PLAINTEXT);
  assert_string_equal(err, "c is not speaking TLS (got \"GET / HTTP/1\"...)");
  pair_close(&p);
}

/*
 * One read takes every record that has arrived, not one; the
 * close_notify after them is kept for the next read, and pending says
 * so (poll would not wake for it).
 */
static void test_tls_session_read_takes_all_records(void **state) {
  sk_tls_ctx_t **ctx = *state;
  struct pair p;
  char err[SK_ERR_LEN], buf[64];
  pair_open(&p, ctx[0], ctx[1]);
  pair_handshake(&p);
  assert_int_equal(sk_tls_write(err, p.c, "one,", 4), 4);
  assert_int_equal(sk_tls_write(err, p.c, "two,", 4), 4);
  assert_int_equal(sk_tls_write(err, p.c, "three", 5), 5);
  assert_int_equal(sk_tls_shutdown(err, p.c), 0);
  assert_int_equal(sk_tls_read(err, p.s, buf, sizeof buf), 13);
  assert_memory_equal(buf, "one,two,three", 13);
  assert_true(sk_tls_pending(p.s) > 0);
  assert_int_equal(sk_tls_read(err, p.s, buf, sizeof buf), 0);
  pair_close(&p);
}

/* Reads what the server end has into got (at most cap in all). */
static size_t drain(sk_tls_t *t, char *got, size_t have, size_t cap) {
  char err[SK_ERR_LEN];
  ssize_t n;
  while (have < cap && (n = sk_tls_read(err, t, got + have, cap - have)) > 0)
    have += (size_t)n;
  return have;
}

/*
 * A large write is sent as several records at once; when the socket
 * takes only part of them, the write answers WANT_WRITE until the rest
 * is out, then counts the bytes, and close_notify follows the data.
 */
static void test_tls_session_large_write_in_order(void **state) {
  enum { BIG = 1 << 20 };
  sk_tls_ctx_t **ctx = *state;
  struct pair p;
  char err[SK_ERR_LEN], end[8];
  char *big = malloc(BIG), *got = malloc(BIG);
  int small = 16 * 1024;
  size_t sent = 0, have = 0;
  int waits = 0;
  assert_non_null(big);
  assert_non_null(got);
  for (size_t i = 0; i < BIG; i++)
    big[i] = (char)(i * 7 + i / 251);
  pair_open(&p, ctx[0], ctx[1]);
  pair_handshake(&p);
  setsockopt(p.fd[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
  for (int i = 0; sent < BIG && i < 100000; i++) {
    ssize_t n = sk_tls_write(err, p.c, big + sent, BIG - sent);
    assert_true(n > 0 || n == SK_TLS_WANT_WRITE);
    if (n > 0)
      sent += (size_t)n;
    else {
      waits++;
      have = drain(p.s, got, have, BIG);
    }
  }
  assert_int_equal(sent, BIG);
  assert_true(waits > 0); /* the socket did fill up */
  int rc;
  while ((rc = sk_tls_shutdown(err, p.c)) == SK_TLS_WANT_WRITE)
    have = drain(p.s, got, have, BIG);
  assert_int_equal(rc, 0);
  have = drain(p.s, got, have, BIG);
  assert_int_equal(have, BIG);
  assert_memory_equal(got, big, BIG);
  assert_int_equal(sk_tls_read(err, p.s, end, sizeof end), 0);
  pair_close(&p);
  free(big);
  free(got);
}

/*
 * An idle client session (after its handshake and some data) holds at
 * most 48 KiB of heap: SSL_MODE_RELEASE_BUFFERS gave its record buffers
 * back. Measured here at about 20 KiB. Heap counters mean nothing under
 * a sanitizer's allocator: skipped there.
 */
static void test_tls_idle_client_memory(void **state) {
  enum { N = 100 };
  sk_tls_ctx_t **ctx = *state;
  static struct pair p[N];
  size_t before = mallinfo2().uordblks;
  for (int i = 0; i < N; i++) {
    pair_open(&p[i], ctx[0], ctx[1]);
    pair_handshake(&p[i]);
    pass(p[i].s, p[i].c, "hello\n");
    pass(p[i].c, p[i].s, "hi\n");
  }
  for (int i = 0; i < N; i++) { /* keep the client sessions only */
    sk_tls_free(p[i].s);
    p[i].s = NULL;
  }
  size_t after = mallinfo2().uordblks;
  for (int i = 0; i < N; i++)
    pair_close(&p[i]);
  if (after <= before)
    skip();
  assert_in_range((after - before) / N, 1, 48 * 1024);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_tls_pin_parse),
      cmocka_unit_test(test_tls_pin_refused),
      cmocka_unit_test(test_tls_fp_format_round_trip),
      cmocka_unit_test(test_tls_refusal_messages),
      cmocka_unit_test(test_tls_refusal_pin),
      cmocka_unit_test(test_tls_refusal_sparse),
      cmocka_unit_test(test_tls_strerror),
      cmocka_unit_test(test_tls_ctx_options_refused),
      cmocka_unit_test(test_tls_session_needs_host),
  };
  const struct CMUnitTest sessions[] = {
      cmocka_unit_test(test_tls_session_close_notify),
      cmocka_unit_test(test_tls_session_truncated),
      cmocka_unit_test(test_tls_session_plaintext_client),
      cmocka_unit_test(test_tls_session_no_sigpipe),
      cmocka_unit_test(test_tls_session_large_write_in_order),
      cmocka_unit_test(test_tls_session_read_takes_all_records),
      cmocka_unit_test(test_tls_idle_client_memory),
  };
  return cmocka_run_group_tests(tests, NULL, NULL) +
         cmocka_run_group_tests(sessions, ctxs_setup, ctxs_teardown);
}
