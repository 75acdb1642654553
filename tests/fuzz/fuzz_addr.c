/*
 * libFuzzer target: address, port and access-list parsers, and the
 * UTF-8 helpers, over the same input. Every invariant that breaks
 * aborts, so libFuzzer (or replay.c) reports the input.
 */
#include <netdb.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sockit/acl.h"
#include "sockit/addr.h"
#include "sockit/error.h"
#include "sockit/utf8.h"

/* assert() disappears under NDEBUG; these checks must not. */
#define CHECK(cond)                                                            \
  do {                                                                         \
    if (!(cond)) {                                                             \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      abort();                                                                 \
    }                                                                          \
  } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int __real_getaddrinfo(const char *node, const char *service,
                       const struct addrinfo *hints, struct addrinfo **res);

/* Linked with -Wl,--wrap=getaddrinfo: a host name in an access rule must
 * not reach DNS from a fuzzer, so every lookup is numeric-only. */
int __wrap_getaddrinfo(const char *node, const char *service,
                       const struct addrinfo *hints, struct addrinfo **res) {
  struct addrinfo h = {0};
  if (hints)
    h = *hints;
  h.ai_flags |= AI_NUMERICHOST;
  return __real_getaddrinfo(node, service, &h, res);
}

/* A message buffer filled with a marker, to see what a call wrote. */
static void err_reset(char *err) {
  memset(err, 0xa5, SK_ERR_LEN);
}

/* A failure message: terminated within SK_ERR_LEN, one printable line. */
static void check_message(const char *err) {
  const char *end = memchr(err, '\0', SK_ERR_LEN);
  CHECK(end != NULL);
  CHECK(end > err);
  for (const char *p = err; p < end; p++)
    CHECK((unsigned char)*p >= 0x20 && *p != 0x7f);
}

/* host and path are terminated strings within their arrays. */
static void check_addr_fields(const sk_addr_t *a, int flags) {
  CHECK(memchr(a->host, '\0', sizeof a->host) != NULL);
  CHECK(memchr(a->path, '\0', sizeof a->path) != NULL);
  if (a->kind == SK_ADDR_UNIX) {
    CHECK(a->path[0] != '\0');
    CHECK(a->host[0] == '\0' && a->port == 0);
  } else {
    CHECK(a->kind == SK_ADDR_INET);
    CHECK(a->port != 0 || (flags & SK_ADDR_PORT_ZERO));
    CHECK(a->path[0] == '\0' && !a->abstract);
  }
}

/* Formatting a parsed address gives text that parses back to the same
 * text. A host that starts with '[' (from "[[x]:1") has no such form. */
static void check_format(const sk_addr_t *a, int flags) {
  char text[SK_ADDRSTR_LEN], again[SK_ADDRSTR_LEN], err[SK_ERR_LEN];
  sk_addr_t b;
  memset(text, 0xa5, sizeof text);
  sk_addr_format(a, text, sizeof text);
  CHECK(memchr(text, '\0', sizeof text) != NULL);
  if (a->kind == SK_ADDR_INET && a->host[0] == '[')
    return;
  err_reset(err);
  int rc = sk_addr_parse(err, &b, text, flags);
  if (rc < 0)
    fprintf(stderr, "\"%s\" does not parse back: %s\n", text, err);
  CHECK(rc == 0);
  sk_addr_format(&b, again, sizeof again);
  CHECK(strcmp(text, again) == 0);
}

static void fuzz_addr_parse(const char *text, int flags) {
  char err[SK_ERR_LEN];
  sk_addr_t a;
  err_reset(err);
  int rc = sk_addr_parse(err, &a, text, flags);
  CHECK(rc == 0 || rc == SK_EPORT || rc == SK_EADDR);
  if (rc < 0) {
    check_message(err);
    return;
  }
  check_addr_fields(&a, flags);
  check_format(&a, flags);
}

/* A port is all digits with a value in range, or SK_EPORT. */
static void fuzz_port_parse(const char *text, int flags) {
  char err[SK_ERR_LEN];
  err_reset(err);
  int rc = sk_port_parse(err, text, flags);
  if (rc < 0) {
    CHECK(rc == SK_EPORT);
    check_message(err);
    return;
  }
  CHECK(rc <= 65535 && (rc > 0 || (flags & SK_ADDR_PORT_ZERO)));
  CHECK(text[0] != '\0' && strspn(text, "0123456789") == strlen(text));
  CHECK(strtoul(text, NULL, 10) == (unsigned long)rc);
}

/* One accepted rule admits (allow) or refuses (deny) its own address. */
static void fuzz_acl(const char *text, bool allow) {
  char err[SK_ERR_LEN];
  sk_acl_t acl = {0};
  err_reset(err);
  int rc = sk_acl_add(err, &acl, text, allow);
  if (rc < 0) {
    CHECK(rc == SK_EADDR || rc == SK_ERESOLVE);
    check_message(err);
    CHECK(acl.n_allow + acl.n_deny == 0);
    return;
  }
  CHECK(allow ? acl.n_allow >= 1 && acl.n_deny == 0
              : acl.n_deny >= 1 && acl.n_allow == 0);
  const sk_acl_rule_t *r = allow ? &acl.allow[0] : &acl.deny[0];
  struct sockaddr_storage ss = {0};
  if (r->family == AF_INET) {
    CHECK(r->prefix >= 0 && r->prefix <= 32);
    struct sockaddr_in *in = (struct sockaddr_in *)&ss;
    in->sin_family = AF_INET;
    memcpy(&in->sin_addr, r->addr, 4);
  } else {
    CHECK(r->family == AF_INET6 && r->prefix >= 0 && r->prefix <= 128);
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
    in6->sin6_family = AF_INET6;
    memcpy(&in6->sin6_addr, r->addr, 16);
    /* A mapped peer is checked as IPv4, which a rule shorter than /96
     * over ::ffff:0:0/96 cannot match; longer ones are stored as IPv4. */
    if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
      CHECK(r->prefix < 96);
      return;
    }
  }
  CHECK(sk_acl_permits(&acl, (struct sockaddr *)&ss) == allow);
}

/* True for the invisible characters sanitizing neutralises (issue 12):
 * U+200B-200D, U+2028-202E, U+2066-2069 and U+FEFF, in UTF-8. */
static bool is_invisible(const unsigned char *s, size_t left) {
  if (left < 3)
    return false;
  if (s[0] == 0xe2 && s[1] == 0x80)
    return (s[2] >= 0x8b && s[2] <= 0x8d) || (s[2] >= 0xa8 && s[2] <= 0xae);
  if (s[0] == 0xe2 && s[1] == 0x81)
    return s[2] >= 0xa6 && s[2] <= 0xa9;
  return s[0] == 0xef && s[1] == 0xbb && s[2] == 0xbf;
}

/* True when s[0..n) holds a C0 control but TAB and LF, DEL, a C1 or an
 * invisible formatting character. */
static bool has_controls(const unsigned char *s, size_t n) {
  for (size_t i = 0; i < n; i++) {
    if ((s[i] < 0x20 && s[i] != '\t' && s[i] != '\n') || s[i] == 0x7f)
      return true;
    if (s[i] == 0xc2 && i + 1 < n && s[i + 1] >= 0x80 && s[i + 1] <= 0x9f)
      return true;
    if (is_invisible(s + i, n - i))
      return true;
  }
  return false;
}

/* Sanitized output fits cap, is valid UTF-8 and has no controls. */
static void check_sanitize(const uint8_t *data, size_t size, size_t cap) {
  char *out = malloc(cap); /* exact size: ASan sees any overflow */
  CHECK(out != NULL);
  size_t n = sk_utf8_sanitize((const char *)data, size, out, cap);
  CHECK(n < cap && out[n] == '\0');
  CHECK(sk_utf8_count(out, n) >= 0);
  CHECK(!has_controls((const unsigned char *)out, n));
  /* Text that was already safe passes unchanged when it fits. */
  if (cap > size && sk_utf8_count((const char *)data, size) >= 0 &&
      !has_controls(data, size))
    CHECK(n == size && memcmp(out, data, size) == 0);
  free(out);
}

/* The cut point holds back at most a lead byte and its continuations. */
static void check_boundary(const uint8_t *data, size_t size) {
  size_t b = sk_utf8_boundary((const char *)data, size);
  CHECK(b <= size && size - b <= 3);
  if (sk_utf8_count((const char *)data, size) >= 0)
    CHECK(b == size);
  if (b == size)
    return;
  CHECK(data[b] >= 0xc2 && data[b] <= 0xf4);
  for (size_t i = b + 1; i < size; i++)
    CHECK((data[i] & 0xc0) == 0x80);
  CHECK(sk_utf8_seq_len(data + b, size - b, NULL) == 0);
}

static void fuzz_utf8(const uint8_t *data, size_t size) {
  check_sanitize(data, size, SK_UTF8_SANITIZED_MAX(size));
  check_sanitize(data, size, 1 + (size ? data[0] % 16 : 0));
  check_boundary(data, size);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *text = malloc(size + 1);
  CHECK(text != NULL);
  memcpy(text, data, size);
  text[size] = '\0';
  fuzz_addr_parse(text, 0);
  fuzz_addr_parse(text, SK_ADDR_PORT_ZERO);
  fuzz_port_parse(text, 0);
  fuzz_port_parse(text, SK_ADDR_PORT_ZERO);
  fuzz_acl(text, true);
  fuzz_acl(text, false);
  fuzz_utf8(data, size);
  free(text);
  return 0;
}
