/* sockit: what the TLS context and sessions share inside libsockit. */
#ifndef SOCKIT_TLS_INT_H
#define SOCKIT_TLS_INT_H

#include <openssl/ssl.h>

#include "sockit/error.h"
#include "sockit/tls.h"

/* How much of a plaintext peer's first bytes a message quotes. */
#define SK__TLS_SHOWN 12

struct sk_tls_ctx {
  SSL_CTX *ssl;
  BIO_METHOD *bio_method; /* the sessions' descriptor BIO */
  sk_tls_role_t role;
  bool insecure;
  bool pinned;
  unsigned char pin[32];
  char *servername; /* client: SNI and name check instead of the host */
  char fingerprint[SK_TLS_FP_LEN]; /* server: its certificate's */
};

struct sk_tls {
  SSL *ssl;
  sk_tls_ctx_t *ctx;
  int fd;
  bool seen_first;           /* server: the client's first byte was looked at */
  bool failed;               /* a fatal error: no close_notify may follow */
  char peer[96];             /* "127.0.0.1:4433", for messages */
  char name[256];            /* the name checked (client) */
  char refusal[SK_ERR_LEN];  /* why the certificate was refused */
  char alert[64];            /* the fatal alert the peer sent */
  char fp[SK_TLS_FP_LEN];    /* the peer certificate's fingerprint */
  char alpn[256];            /* the protocol chosen, "" for none */
  bool watch_first;          /* client, until the handshake is done */
  char first[SK__TLS_SHOWN]; /* client: the server's first bytes */
  size_t first_len;
  /* Records of one large write, sent together (see sk_tls_write); the
   * buffer lives only while they are not all sent. */
  char *wbuf;
  size_t wlen, woff, wcap; /* bytes held, sent of them, room */
  size_t wplain;           /* the caller's bytes they carry */
  bool wcollect;           /* the BIO appends to wbuf, sends nothing */
  /* A read that ended the bytes sk_tls_read returned (an EOF, an
   * error): the next call's answer, and its line. */
  bool rkept;
  int rcode;
  char rmsg[SK_ERR_LEN];
};

/* The most plaintext one TLS record carries (RFC 8446, 5.1). */
#define SK__TLS_RECORD_MAX 16384
/* The most plaintext one sk_tls_write encrypts before sending: 16
 * records, sent with one send() instead of 16. */
#define SK__TLS_WRITE_MAX (16 * SK__TLS_RECORD_MAX)
/* Their room: each record adds at most 5 + 256 bytes (header, padding,
 * tag) to its 16 KiB. */
#define SK__TLS_WBUF (16 * (SK__TLS_RECORD_MAX + 5 + 256))

/* Fingerprint of cert into out ("" when cert is NULL). */
void sk__tls_cert_fp(char out[SK_TLS_FP_LEN], X509 *cert);

/* A BIO method over a descriptor, without SIGPIPE (tls.c). */
BIO_METHOD *sk__tls_bio_method_new(void);

/* The callbacks the context installs; they report into the session. */
int sk__tls_verify_cb(int ok, X509_STORE_CTX *store);
int sk__tls_pin_cb(X509_STORE_CTX *store, void *arg);

#endif
