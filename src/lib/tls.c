/* sockit: TLS sessions on non-blocking descriptors, and their messages. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include "internal.h"
#include "tls_int.h"

/* ------------------------------------------------------ pure helpers */

int sk_tls_pin_parse(char *err, const char *text, unsigned char out[32]) {
  char q[SK__QUOTE_LEN];
  const char *p = text;
  size_t n = 0;
  if (strncasecmp(p, "sha256:", 7) != 0)
    goto bad;
  for (p += 7; *p && n < 64; p++) {
    if (*p == ':' && n % 2 == 0 && n > 0 && isxdigit((unsigned char)p[1]))
      continue;
    if (!isxdigit((unsigned char)*p))
      goto bad;
    int v = isdigit((unsigned char)*p) ? *p - '0'
                                       : tolower((unsigned char)*p) - 'a' + 10;
    out[n / 2] = (unsigned char)(n % 2 ? (out[n / 2] | v) : v << 4);
    n++;
  }
  if (n == 64 && *p == '\0')
    return 0;
bad:
  return sk__fail(err, SK_ETLS_CONFIG,
                  "pin \"%s\": expected sha256: and 64 hex digits "
                  "(the certificate's SHA-256 fingerprint)",
                  sk__quote(q, text, strlen(text)));
}

char *sk_tls_fp_format(char out[SK_TLS_FP_LEN], const unsigned char md[32]) {
  memcpy(out, "sha256:", 7);
  for (int i = 0; i < 32; i++)
    snprintf(out + 7 + 2 * i, 3, "%02x", md[i]);
  return out;
}

static const char *or_none(const char *s, const char *none) {
  return s && *s ? s : none;
}

/* verify_code is OpenSSL's X509_V_ERR_*: the reasons a person can act
 * on get words of their own, the rest OpenSSL's. */
int sk_tls_refusal_format(char *err, const sk_tls_refusal_t *r) {
  const char *peer = or_none(r->peer, "the peer");
  const char *subj = or_none(r->subject, "no subject");
  if (r->pinned)
    return sk__fail(err, SK_ETLS_VERIFY,
                    "certificate of %s has fingerprint %s, not the pinned %s",
                    peer, or_none(r->fingerprint, "unknown"), r->pinned);
  switch (r->verify_code) {
  case X509_V_ERR_CERT_HAS_EXPIRED:
    return sk__fail(err, SK_ETLS_VERIFY, "certificate of %s expired on %s (%s)",
                    peer, or_none(r->not_after, "?"), subj);
  case X509_V_ERR_CERT_NOT_YET_VALID:
    return sk__fail(err, SK_ETLS_VERIFY,
                    "certificate of %s is not valid until %s (%s)", peer,
                    or_none(r->not_before, "?"), subj);
  case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    return sk__fail(err, SK_ETLS_VERIFY,
                    "certificate of %s is self-signed and not trusted (%s, %s)",
                    peer, subj, or_none(r->fingerprint, "?"));
  case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
  case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
  case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
  case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    return sk__fail(err, SK_ETLS_VERIFY,
                    "certificate of %s is issued by an unknown authority "
                    "(%s, issuer %s)",
                    peer, subj, or_none(r->issuer, "?"));
  case X509_V_ERR_HOSTNAME_MISMATCH:
  case X509_V_ERR_IP_ADDRESS_MISMATCH:
    return sk__fail(err, SK_ETLS_VERIFY, "certificate of %s is for %s, not %s",
                    peer, or_none(r->names, "no name"),
                    or_none(r->expected, "?"));
  }
  return sk__fail(err, SK_ETLS_VERIFY, "certificate of %s refused: %s (%s)",
                  peer, X509_verify_cert_error_string(r->verify_code), subj);
}

const char *sk__tls_strerror(int code) {
  switch (code) {
  case SK_TLS_WANT_READ:
    return "TLS wants to read";
  case SK_TLS_WANT_WRITE:
    return "TLS wants to write";
  case SK_ETLS:
    return "TLS failure";
  case SK_ETLS_VERIFY:
    return "certificate refused";
  case SK_ETLS_PLAINTEXT:
    return "peer does not speak TLS";
  case SK_ETLS_TRUNCATED:
    return "TLS stream truncated (no close_notify)";
  case SK_ETLS_ALERT:
    return "TLS alert from the peer";
  case SK_ETLS_CONFIG:
    return "bad TLS configuration";
  }
  return NULL;
}

/* ------------------------------------------------ certificate details */

void sk__tls_cert_fp(char out[SK_TLS_FP_LEN], X509 *cert) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  out[0] = '\0';
  if (cert && X509_digest(cert, EVP_sha256(), md, &len) && len == 32)
    sk_tls_fp_format(out, md);
}

static void time_text(char *out, size_t cap, const ASN1_TIME *t) {
  struct tm tm;
  if (!t || !ASN1_TIME_to_tm(t, &tm) ||
      !strftime(out, cap, "%Y-%m-%d %H:%M:%S UTC", &tm))
    snprintf(out, cap, "?");
}

static void name_text(char *out, size_t cap, const X509_NAME *name) {
  BIO *b = BIO_new(BIO_s_mem());
  int n = 0;
  out[0] = '\0';
  if (b &&
      X509_NAME_print_ex(b, name, 0, XN_FLAG_ONELINE & ~XN_FLAG_SPC_EQ) >= 0)
    n = BIO_read(b, out, (int)cap - 1);
  out[n > 0 ? n : 0] = '\0';
  BIO_free(b);
}

static void append(char *out, size_t cap, const char *text) {
  size_t o = strlen(out);
  snprintf(out + o, cap - o, "%s\"%s\"", o ? ", " : "", text);
}

/* The names a certificate is for: its SANs, else its CN, quoted. */
static void cert_names(char *out, size_t cap, X509 *cert) {
  GENERAL_NAMES *sans =
      X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
  char buf[INET6_ADDRSTRLEN], q[SK__QUOTE_LEN];
  out[0] = '\0';
  for (int i = 0; i < sk_GENERAL_NAME_num(sans); i++) {
    GENERAL_NAME *g = sk_GENERAL_NAME_value(sans, i);
    const ASN1_STRING *s = g->type == GEN_DNS ? g->d.dNSName : g->d.iPAddress;
    if (g->type == GEN_DNS)
      append(out, cap,
             sk__quote(q, (const char *)ASN1_STRING_get0_data(s),
                       (size_t)ASN1_STRING_length(s)));
    else if (g->type == GEN_IPADD)
      append(out, cap,
             inet_ntop(ASN1_STRING_length(s) == 4 ? AF_INET : AF_INET6,
                       ASN1_STRING_get0_data(s), buf, sizeof buf)
                 ? buf
                 : "?");
  }
  GENERAL_NAMES_free(sans);
  if (!out[0]) {
    char cn[256];
    if (X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName,
                                  cn, sizeof cn) > 0)
      append(out, cap, sk__quote(q, cn, strlen(cn)));
  }
}

/* Writes the message for cert refused with code into t->refusal. */
static void refuse(sk_tls_t *t, X509 *cert, int code, const char *pinned) {
  char subj[256] = "", iss[256] = "", names[512] = "", nb[40] = "", na[40] = "",
       fp[SK_TLS_FP_LEN] = "";
  if (cert) {
    name_text(subj, sizeof subj, X509_get_subject_name(cert));
    name_text(iss, sizeof iss, X509_get_issuer_name(cert));
    cert_names(names, sizeof names, cert);
    time_text(nb, sizeof nb, X509_get0_notBefore(cert));
    time_text(na, sizeof na, X509_get0_notAfter(cert));
    sk__tls_cert_fp(fp, cert);
  }
  char expected[300];
  snprintf(expected, sizeof expected, "\"%s\"", t->name);
  sk_tls_refusal_t r = {code,     t->peer, subj, iss, names,
                        expected, nb,      na,   fp,  pinned};
  sk_tls_refusal_format(t->refusal, &r);
}

static sk_tls_t *session_of(X509_STORE_CTX *store) {
  SSL *ssl =
      X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx());
  return ssl ? SSL_get_app_data(ssl) : NULL;
}

int sk__tls_verify_cb(int ok, X509_STORE_CTX *store) {
  sk_tls_t *t = session_of(store);
  /* The first failure is the reason; later ones follow from it. */
  if (!ok && t && !t->refusal[0])
    refuse(t, X509_STORE_CTX_get_current_cert(store),
           X509_STORE_CTX_get_error(store), NULL);
  return ok;
}

int sk__tls_pin_cb(X509_STORE_CTX *store, void *arg) {
  sk_tls_ctx_t *c = arg;
  sk_tls_t *t = session_of(store);
  X509 *leaf = X509_STORE_CTX_get0_cert(store);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  char want[SK_TLS_FP_LEN];
  if (leaf && X509_digest(leaf, EVP_sha256(), md, &len) && len == 32 &&
      memcmp(md, c->pin, 32) == 0)
    return 1;
  if (t)
    refuse(t, leaf, X509_V_ERR_APPLICATION_VERIFICATION,
           sk_tls_fp_format(want, c->pin));
  X509_STORE_CTX_set_error(store, X509_V_ERR_APPLICATION_VERIFICATION);
  return 0;
}

/* ------------------------------------------------------------ sessions */

/* An alert's description; OpenSSL 3.0 names none of TLS 1.3's new ones. */
static void alert_text(char *out, size_t cap, int alert) {
  const char *d = SSL_alert_desc_string_long(alert);
  switch (alert & 0xff) {
  case 109:
    d = "missing extension";
    break;
  case 116:
    d = "certificate required";
    break;
  case 120:
    d = "no application protocol";
    break;
  }
  if (strcmp(d, "unknown") == 0)
    snprintf(out, cap, "number %d", alert & 0xff);
  else
    snprintf(out, cap, "%s", d);
}

/* Records a fatal alert the peer sent: the reason it gives. */
static void info_cb(const SSL *ssl, int where, int ret) {
  sk_tls_t *t = SSL_get_app_data(ssl);
  if ((where & SSL_CB_READ_ALERT) == SSL_CB_READ_ALERT &&
      (ret >> 8) == SSL3_AL_FATAL && t)
    alert_text(t->alert, sizeof t->alert, ret);
}

static void strip_brackets(char *out, size_t cap, const char *host) {
  size_t n = strlen(host);
  if (n >= 2 && host[0] == '[' && host[n - 1] == ']')
    snprintf(out, cap, "%.*s", (int)(n - 2), host + 1);
  else
    snprintf(out, cap, "%s", host);
}

/* SNI (names only: RFC 6066 forbids addresses) and the name check. */
static int client_names(char *err, sk_tls_t *t) {
  unsigned char ip[16];
  bool is_ip = inet_pton(AF_INET, t->name, ip) == 1 ||
               inet_pton(AF_INET6, t->name, ip) == 1;
  if (!is_ip && t->name[0] && !SSL_set_tlsext_host_name(t->ssl, t->name))
    return sk__fail(err, SK_ETLS_CONFIG, "server name \"%s\" refused", t->name);
  if (t->ctx->insecure || t->ctx->pinned)
    return 0;
  if (!t->name[0]) /* a chain is worth nothing without the name it is for */
    return sk__fail(err, SK_ETLS_CONFIG, "verifying %s needs its host name",
                    t->peer);
  SSL_set_hostflags(t->ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  if (is_ip ? !X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(t->ssl), t->name)
            : !SSL_set1_host(t->ssl, t->name))
    return sk__fail(err, SK_ETLS_CONFIG, "host name \"%s\" cannot be checked",
                    t->name);
  return 0;
}

/* The plaintext refusal, quoting what the peer said. */
static int plaintext(char *err, sk_tls_t *t, const char *buf, size_t n) {
  char q[SK__QUOTE_LEN];
  t->failed = true;
  return sk__fail(err, SK_ETLS_PLAINTEXT,
                  "%s is not speaking TLS (got \"%s\"%s)", t->peer,
                  sk__quote(q, buf, n), n == SK__TLS_SHOWN ? "..." : "");
}

/* Reads and drops what a plaintext peer sent (64 KiB at most): closing
 * with unread bytes would reset the connection instead of ending it. */
static void discard_input(int fd) {
  char sink[4096];
  for (int i = 0; i < 16; i++)
    if (recv(fd, sink, sizeof sink, MSG_DONTWAIT) <= 0)
      break;
}

/*
 * Server: looks at the client's first bytes before OpenSSL takes them. A
 * TLS client starts with a handshake record (22); anything else is
 * refused with what it said, and nothing (no alert) is sent back, so a
 * plaintext client sees a clean close. Returns 0 to go on,
 * SK_TLS_WANT_READ while nothing arrived, or SK_ETLS_PLAINTEXT.
 */
static int check_plaintext(char *err, sk_tls_t *t) {
  char buf[SK__TLS_SHOWN];
  ssize_t n = recv(t->fd, buf, sizeof buf, MSG_PEEK | MSG_DONTWAIT);
  /* Nothing yet: OpenSSL must not read first, or the bytes it takes
   * between this peek and its read would go unchecked. */
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
    return SK_TLS_WANT_READ;
  /* EOF, errors and pipes (nothing to peek at): OpenSSL reports them. */
  t->seen_first = true;
  if (n <= 0 || buf[0] == 22)
    return 0;
  int rc = plaintext(err, t, buf, (size_t)n);
  discard_input(t->fd);
  return rc;
}

/*
 * Client: OpenSSL read the server's first bytes (a record header) as it
 * wrote the hello; the BIO callback kept them. When they are no TLS
 * record, the message quotes them and what follows in the socket.
 */
static int client_plaintext(char *err, sk_tls_t *t) {
  char buf[SK__TLS_SHOWN];
  size_t n = t->first_len;
  if (n == 0 || t->first[0] == 22 || t->first[0] == 21)
    return 0;
  memcpy(buf, t->first, n);
  ssize_t more = recv(t->fd, buf + n, sizeof buf - n, MSG_PEEK | MSG_DONTWAIT);
  return plaintext(err, t, buf, n + (more > 0 ? (size_t)more : 0));
}

/*
 * The descriptor BIO. OpenSSL's socket BIO writes with write(), which
 * raises SIGPIPE when the peer is gone: a library must not, so this one
 * sends with MSG_NOSIGNAL (write() for descriptors that are no socket).
 * On a client it also keeps the server's first bytes for the plaintext
 * message.
 */
static int bio_result(BIO *b, ssize_t n, bool reading) {
  BIO_clear_retry_flags(b);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
    if (reading)
      BIO_set_retry_read(b);
    else
      BIO_set_retry_write(b);
  }
  if (n == 0 && reading)
    BIO_set_flags(b, BIO_FLAGS_IN_EOF);
  return (int)n;
}

static ssize_t fd_send(int fd, const char *buf, size_t len) {
  ssize_t n;
  do {
    n = send(fd, buf, len, MSG_NOSIGNAL);
    if (n < 0 && errno == ENOTSOCK)
      n = write(fd, buf, len);
  } while (n < 0 && errno == EINTR);
  return n;
}

/* Keeps len bytes after what wbuf holds; false when out of memory. A
 * record written while others wait (a key update's answer) joins them
 * there, so that the records leave in order. */
static bool wbuf_append(sk_tls_t *t, const char *buf, size_t len) {
  if (t->wlen + len > t->wcap) {
    size_t cap = t->wlen + len > SK__TLS_WBUF ? t->wlen + len : SK__TLS_WBUF;
    char *p = realloc(t->wbuf, cap);
    if (!p)
      return false;
    t->wbuf = p;
    t->wcap = cap;
  }
  memcpy(t->wbuf + t->wlen, buf, len);
  t->wlen += len;
  return true;
}

static int bio_write(BIO *b, const char *buf, int len) {
  sk_tls_t *t = BIO_get_data(b);
  if (t->wcollect || t->wlen > t->woff) {
    BIO_clear_retry_flags(b);
    if (!wbuf_append(t, buf, (size_t)len)) {
      errno = ENOMEM;
      return -1;
    }
    return len;
  }
  return bio_result(b, fd_send(t->fd, buf, (size_t)len), false);
}

static int bio_read(BIO *b, char *buf, int len) {
  sk_tls_t *t = BIO_get_data(b);
  ssize_t n = recv(t->fd, buf, (size_t)len, 0);
  if (n < 0 && errno == ENOTSOCK)
    n = read(t->fd, buf, (size_t)len);
  if (n > 0 && t->watch_first && t->first_len < sizeof t->first) {
    size_t k = sizeof t->first - t->first_len;
    k = (size_t)n < k ? (size_t)n : k;
    memcpy(t->first + t->first_len, buf, k);
    t->first_len += k;
  }
  return bio_result(b, n, true);
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr) {
  sk_tls_t *t = BIO_get_data(b);
  (void)num;
  switch (cmd) {
  case BIO_CTRL_FLUSH:
    return 1;
  case BIO_CTRL_EOF:
    return BIO_test_flags(b, BIO_FLAGS_IN_EOF) != 0;
  case BIO_C_GET_FD:
    if (ptr)
      *(int *)ptr = t->fd;
    return t->fd;
  }
  return 0;
}

BIO_METHOD *sk__tls_bio_method_new(void) {
  BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK |
                                   BIO_TYPE_DESCRIPTOR,
                               "sockit descriptor");
  if (m &&
      (!BIO_meth_set_write(m, bio_write) || !BIO_meth_set_read(m, bio_read) ||
       !BIO_meth_set_ctrl(m, bio_ctrl))) {
    BIO_meth_free(m);
    m = NULL;
  }
  return m;
}

/* The session's descriptor BIO, both ways; 0 or -1 (out of memory). */
static int attach_fd(sk_tls_t *t) {
  BIO *b = BIO_new(t->ctx->bio_method);
  if (!b)
    return -1;
  BIO_set_data(b, t);
  BIO_set_init(b, 1);
  SSL_set_bio(t->ssl, b, b); /* one reference, taken by the session */
  return 0;
}

int sk_tls_new(char *err, sk_tls_t **out, sk_tls_ctx_t *ctx, int fd,
               const char *host, const char *peer) {
  sk_tls_t *t = calloc(1, sizeof *t);
  int rc = 0;
  *out = NULL;
  if (!t || !(t->ssl = SSL_new(ctx->ssl))) {
    free(t);
    return sk__fail(err, -ENOMEM, "TLS session: out of memory");
  }
  t->ctx = ctx;
  t->fd = fd;
  snprintf(t->peer, sizeof t->peer, "%s", peer ? peer : "the peer");
  strip_brackets(t->name, sizeof t->name,
                 ctx->servername ? ctx->servername
                 : host          ? host
                                 : "");
  SSL_set_app_data(t->ssl, t);
  SSL_set_info_callback(t->ssl, info_cb);
  if (attach_fd(t) < 0)
    rc = sk__fail(err, -ENOMEM, "TLS session: out of memory");
  else if (ctx->role == SK_TLS_CLIENT) {
    t->watch_first = true;
    SSL_set_connect_state(t->ssl);
    rc = client_names(err, t);
  } else
    SSL_set_accept_state(t->ssl);
  if (rc < 0) {
    sk_tls_free(t);
    return rc;
  }
  *out = t;
  return 0;
}

void sk_tls_free(sk_tls_t *t) {
  if (!t)
    return;
  SSL_free(t->ssl);
  free(t->wbuf);
  free(t);
}

static const char *ossl_reason(void) {
  const char *r = ERR_reason_error_string(ERR_peek_last_error());
  return r ? r : "unknown error";
}

static bool eof_error(int e) {
  return (e == SSL_ERROR_SYSCALL && errno == 0 && ERR_peek_error() == 0) ||
         (e == SSL_ERROR_SSL && ERR_GET_REASON(ERR_peek_last_error()) ==
                                    SSL_R_UNEXPECTED_EOF_WHILE_READING);
}

static int handshake_failure(char *err, sk_tls_t *t, int e) {
  int rc = client_plaintext(err, t);
  t->failed = true;
  if (rc < 0)
    return rc;
  if (t->refusal[0]) {
    if (err)
      snprintf(err, SK_ERR_LEN, "%s", t->refusal);
    return SK_ETLS_VERIFY;
  }
  if (t->alert[0])
    return sk__fail(err, SK_ETLS_ALERT,
                    "%s refused the TLS handshake: alert \"%s\"", t->peer,
                    t->alert);
  if (eof_error(e))
    return sk__fail(err, SK_ETLS,
                    "%s closed the connection during the TLS handshake",
                    t->peer);
  if (e == SSL_ERROR_SYSCALL && errno)
    return sk__fail(err, -errno, "TLS handshake with %s: %s", t->peer,
                    strerror(errno));
  if (ERR_GET_REASON(ERR_peek_last_error()) ==
      SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE)
    return sk__fail(err, SK_ETLS_VERIFY, "%s sent no client certificate",
                    t->peer);
  return sk__fail(err, SK_ETLS, "TLS handshake with %s failed: %s", t->peer,
                  ossl_reason());
}

/* Keeps what the caller may ask about; stops watching the first bytes. */
static int handshake_done(sk_tls_t *t) {
  const unsigned char *p = NULL;
  unsigned int n = 0;
  sk__tls_cert_fp(t->fp, SSL_get0_peer_certificate(t->ssl));
  SSL_get0_alpn_selected(t->ssl, &p, &n);
  snprintf(t->alpn, sizeof t->alpn, "%.*s", (int)n, p ? (const char *)p : "");
  t->watch_first = false;
  return 0;
}

int sk_tls_handshake(char *err, sk_tls_t *t) {
  int rc;
  if (!t->seen_first && t->ctx->role == SK_TLS_SERVER &&
      (rc = check_plaintext(err, t)) != 0)
    return rc;
  ERR_clear_error();
  errno = 0;
  rc = SSL_do_handshake(t->ssl);
  if (rc == 1)
    return handshake_done(t);
  int e = SSL_get_error(t->ssl, rc);
  if (e == SSL_ERROR_WANT_READ)
    return SK_TLS_WANT_READ;
  if (e == SSL_ERROR_WANT_WRITE)
    return SK_TLS_WANT_WRITE;
  return handshake_failure(err, t, e);
}

/* What a failed read, write or shutdown means, as a code and a line. */
static ssize_t io_failure(char *err, sk_tls_t *t, int e, const char *what) {
  if (e == SSL_ERROR_ZERO_RETURN)
    return 0;
  if (e == SSL_ERROR_WANT_READ)
    return SK_TLS_WANT_READ;
  if (e == SSL_ERROR_WANT_WRITE)
    return SK_TLS_WANT_WRITE;
  t->failed = true;
  if (eof_error(e))
    return sk__fail(err, SK_ETLS_TRUNCATED,
                    "%s closed the connection without TLS close_notify: "
                    "the data may be truncated",
                    t->peer);
  if (e == SSL_ERROR_SYSCALL && errno)
    return sk__fail(err, -errno, "TLS %s %s: %s", what, t->peer,
                    strerror(errno));
  if (t->alert[0])
    return sk__fail(err, SK_ETLS_ALERT,
                    "%s ended the TLS session: alert \"%s\"", t->peer,
                    t->alert);
  return sk__fail(err, SK_ETLS, "TLS %s %s: %s", what, t->peer, ossl_reason());
}

/*
 * Fills buf with as many records as have arrived, not one per call: the
 * caller then writes them on with one call too. What ends the run (an
 * EOF, an error) after some bytes is kept for the next call; waiting is
 * not kept (the next call asks the socket again).
 */
ssize_t sk_tls_read(char *err, sk_tls_t *t, void *buf, size_t cap) {
  size_t n = 0, got = 0;
  if (t->rkept) {
    t->rkept = false;
    if (err)
      snprintf(err, SK_ERR_LEN, "%s", t->rmsg);
    return t->rcode;
  }
  ERR_clear_error();
  errno = 0;
  while (got < cap) {
    if (SSL_read_ex(t->ssl, (char *)buf + got, cap - got, &n)) {
      got += n;
      continue;
    }
    int e = SSL_get_error(t->ssl, 0);
    if (got == 0)
      return io_failure(err, t, e, "read from");
    if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
      t->rmsg[0] = '\0';
      t->rcode = (int)io_failure(t->rmsg, t, e, "read from");
      t->rkept = true;
    }
    break;
  }
  return (ssize_t)got;
}

/* Sends what wbuf holds: 0 once all is sent (the buffer is freed: an
 * idle session keeps none), SK_TLS_WANT_WRITE, or the socket's error. */
static int wbuf_flush(char *err, sk_tls_t *t) {
  while (t->woff < t->wlen) {
    ssize_t n = fd_send(t->fd, t->wbuf + t->woff, t->wlen - t->woff);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
      return SK_TLS_WANT_WRITE;
    if (n < 0) {
      t->failed = true;
      return sk__fail(err, -errno, "TLS write to %s: %s", t->peer,
                      strerror(errno));
    }
    t->woff += (size_t)n;
  }
  free(t->wbuf);
  t->wbuf = NULL;
  t->wlen = t->woff = t->wcap = 0;
  return 0;
}

/*
 * A large write becomes up to 16 records, encrypted into wbuf and sent
 * with one send(): a record per send() cost a system call and a wakeup
 * of the receiver per 16 KiB. The caller's bytes count as written once
 * their records are all sent; until then it retries with the same
 * bytes (as OpenSSL asks anyway) and gets SK_TLS_WANT_WRITE.
 */
static ssize_t write_collected(char *err, sk_tls_t *t, const char *buf,
                               size_t len) {
  size_t done = 0, n = 0;
  int e = SSL_ERROR_NONE;
  if (len > SK__TLS_WRITE_MAX)
    len = SK__TLS_WRITE_MAX;
  t->wcollect = true;
  while (done < len) {
    if (!SSL_write_ex(t->ssl, buf + done, len - done, &n)) {
      e = SSL_get_error(t->ssl, 0);
      break;
    }
    done += n;
  }
  t->wcollect = false;
  if (done == 0) /* nothing encrypted: the failure is the answer */
    return io_failure(err, t, e, "write to");
  t->wplain = done;
  int rc = wbuf_flush(err, t);
  if (rc < 0)
    return rc;
  t->wplain = 0;
  return (ssize_t)done;
}

ssize_t sk_tls_write(char *err, sk_tls_t *t, const void *buf, size_t len) {
  size_t n = 0;
  ERR_clear_error();
  errno = 0;
  if (t->wlen > t->woff) { /* records of an earlier call still wait */
    int rc = wbuf_flush(err, t);
    if (rc < 0)
      return rc;
    n = t->wplain; /* the bytes they carried, now gone */
    t->wplain = 0;
    if (n > 0)
      return (ssize_t)n;
  }
  if (len > SK__TLS_RECORD_MAX) /* more than one record */
    return write_collected(err, t, buf, len);
  if (SSL_write_ex(t->ssl, buf, len, &n))
    return (ssize_t)n;
  return io_failure(err, t, SSL_get_error(t->ssl, 0), "write to");
}

int sk_tls_shutdown(char *err, sk_tls_t *t) {
  if (t->failed) /* RFC 8446: no close_notify after a fatal error */
    return 0;
  ERR_clear_error();
  errno = 0;
  int rc = wbuf_flush(err, t); /* the alert goes after the data */
  if (rc < 0)
    return rc;
  rc = SSL_shutdown(t->ssl);
  if (rc >= 0)
    return 0;
  return (int)io_failure(err, t, SSL_get_error(t->ssl, rc), "close_notify to");
}

size_t sk_tls_pending(const sk_tls_t *t) {
  size_t n = (size_t)SSL_pending(t->ssl);
  /* Read ahead (records received, not yet decrypted), or the end a
   * read kept for the next call: poll would not wake for them either. */
  return n ? n : SSL_has_pending(t->ssl) || t->rkept ? 1 : 0;
}

const char *sk_tls_version(const sk_tls_t *t) {
  return SSL_get_version(t->ssl);
}

const char *sk_tls_cipher(const sk_tls_t *t) {
  const char *c = SSL_get_cipher_name(t->ssl);
  return c ? c : "";
}

const char *sk_tls_alpn(const sk_tls_t *t) {
  return t->alpn;
}

const char *sk_tls_peer_fingerprint(const sk_tls_t *t) {
  return t->fp;
}
