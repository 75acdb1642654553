/* sockit: TLS over a non-blocking descriptor, verified by default. */
#ifndef SOCKIT_TLS_H
#define SOCKIT_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "sockit/error.h"

/* The engine branch defines SK_API in error.h (exported symbols); until
 * it lands, an empty one. */
#ifndef SK_API
#define SK_API
#endif

/*
 * Two objects: a context holds what every connection of one side shares
 * (role, certificates, trust, ALPN), a session drives one connection on
 * a descriptor the caller owns and polls. Nothing here blocks, prints or
 * exits; the session tells the caller what to wait for.
 */
typedef struct sk_tls_ctx sk_tls_ctx_t;
typedef struct sk_tls sk_tls_t;

/* TLS codes: a range of their own, so sk_strerror knows them. */
enum sk_tls_code {
  SK_TLS_WANT_READ = -30101,  /* call again when the descriptor reads */
  SK_TLS_WANT_WRITE = -30102, /* call again when the descriptor writes */
  SK_ETLS = -30103,           /* handshake or record-layer failure */
  SK_ETLS_VERIFY = -30104,    /* the peer's certificate was refused */
  SK_ETLS_PLAINTEXT = -30105, /* the peer does not speak TLS */
  SK_ETLS_TRUNCATED = -30106, /* EOF without close_notify */
  SK_ETLS_ALERT = -30107,     /* the peer ended the handshake with an alert */
  SK_ETLS_CONFIG = -30108,    /* bad option, file, key or pin */
};

typedef enum sk_tls_role {
  SK_TLS_CLIENT = 1,
  SK_TLS_SERVER = 2,
} sk_tls_role_t;

/* Length of "sha256:" and 64 hex digits, with the terminator. */
#define SK_TLS_FP_LEN (7 + 64 + 1)

typedef struct sk_tls_opts {
  sk_tls_role_t role;
  /* PEM file of CAs: a client trusts them besides the system store; a
   * server with verify_client trusts only them. */
  const char *trustfile;
  /* Client: "sha256:HEX" (colons allowed), the SHA-256 of the whole
   * certificate (DER), as `openssl x509 -fingerprint -sha256` and ncat
   * show it. The peer must present exactly that certificate; chain,
   * dates and name are then not checked. */
  const char *pin;  /* excludes insecure and trustfile */
  bool insecure;    /* client: accept any certificate */
  const char *cert; /* PEM certificate (chain); server: none = ephemeral */
  const char *key;  /* PEM private key; defaults to cert's file */
  const char *alpn; /* comma-separated protocols, e.g. "h2,http/1.1" */
  /* Client: the name sent as SNI and checked against the certificate,
   * instead of the host connected to. */
  const char *servername;
  /* Server: the ephemeral certificate's name (CN and SAN) besides
   * localhost, 127.0.0.1 and ::1; NULL or an any address: localhost. */
  const char *ephemeral_host;
  bool verify_client; /* server: require a client certificate (trustfile) */
} sk_tls_opts_t;

/*
 * Builds a context: TLS 1.2 minimum, the library's default ciphers,
 * session tickets on, buffers released while idle. Returns 0 and *out,
 * or SK_ETLS_CONFIG with a message naming the option and file.
 */
SK_API int sk_tls_ctx_new(char *err, sk_tls_ctx_t **out,
                          const sk_tls_opts_t *opts);
SK_API void sk_tls_ctx_free(sk_tls_ctx_t *ctx);

/* Server: its certificate's fingerprint, in the form opts.pin takes. */
SK_API const char *sk_tls_ctx_fingerprint(const sk_tls_ctx_t *ctx);

/* Client: true when verification is off (the caller warns about it). */
SK_API bool sk_tls_ctx_insecure(const sk_tls_ctx_t *ctx);

/*
 * A session on fd (connected, non-blocking, still the caller's to close).
 * host is the name or address connected to (client: SNI and name check
 * unless opts.servername; required when verifying); peer labels
 * messages ("127.0.0.1:4433"). Returns 0 and *out, or a negative code.
 */
SK_API int sk_tls_new(char *err, sk_tls_t **out, sk_tls_ctx_t *ctx, int fd,
                      const char *host, const char *peer);
SK_API void sk_tls_free(sk_tls_t *t);

/*
 * One handshake step: 0 when done, SK_TLS_WANT_READ/WRITE to call again
 * when fd is ready, or an error code with the one-line reason: expired,
 * not yet valid, self-signed, unknown issuer, name or pin mismatch,
 * alert from the peer, plaintext peer.
 */
SK_API int sk_tls_handshake(char *err, sk_tls_t *t);

/*
 * Reads application data: bytes (> 0; as many records as have arrived,
 * up to cap), 0 when the peer sent close_notify, SK_TLS_WANT_READ/WRITE
 * (a read may need a write), SK_ETLS_TRUNCATED on EOF without
 * close_notify, or an error. An end met after some bytes is the next
 * call's answer (sk_tls_pending counts it).
 */
SK_API ssize_t sk_tls_read(char *err, sk_tls_t *t, void *buf, size_t cap);

/*
 * Writes up to len (> 0) bytes: bytes written (> 0), SK_TLS_WANT_READ/WRITE
 * (retry with the same bytes; the buffer may move), or an error. Up to
 * 16 records (256 KiB) go out with one send(); they count as written
 * once all are sent.
 */
SK_API ssize_t sk_tls_write(char *err, sk_tls_t *t, const void *buf,
                            size_t len);

/* Sends close_notify: 0 once sent (call it no more), SK_TLS_WANT_WRITE
 * (call again), or an error; after a fatal error it sends nothing and
 * returns 0. The peer's close_notify arrives as sk_tls_read's 0. */
SK_API int sk_tls_shutdown(char *err, sk_tls_t *t);

/* Bytes OpenSSL already holds, decrypted (or, read ahead and not yet
 * decrypted, or an end kept by sk_tls_read, 1): read them before
 * polling again. */
SK_API size_t sk_tls_pending(const sk_tls_t *t);

/* After the handshake: "TLSv1.3", "TLS_AES_256_GCM_SHA384", the ALPN
 * protocol chosen ("" for none), the peer's certificate fingerprint
 * ("" for none). Never NULL. */
SK_API const char *sk_tls_version(const sk_tls_t *t);
SK_API const char *sk_tls_cipher(const sk_tls_t *t);
SK_API const char *sk_tls_alpn(const sk_tls_t *t);
SK_API const char *sk_tls_peer_fingerprint(const sk_tls_t *t);

/* ---- pure helpers, exposed for the tests and the command line ---- */

/*
 * Parses "sha256:HEX" (prefix in any case, hex in any case, colons
 * between bytes allowed) into 32 bytes. Returns 0 or SK_ETLS_CONFIG.
 */
SK_API int sk_tls_pin_parse(char *err, const char *text, unsigned char out[32]);

/* Formats 32 bytes as "sha256:" and lowercase hex into out. */
SK_API char *sk_tls_fp_format(char out[SK_TLS_FP_LEN],
                              const unsigned char md[32]);

/* What a refused certificate looks like, for the message builder. */
typedef struct sk_tls_refusal {
  int verify_code;        /* X509_V_ERR_* */
  const char *peer;       /* "127.0.0.1:4433" */
  const char *subject;    /* "CN=localhost", or "" */
  const char *issuer;     /* "CN=sockit test CA", or "" */
  const char *names;      /* the certificate's names: "localhost, 127.0.0.1" */
  const char *expected;   /* the name checked: "example.org" */
  const char *not_before; /* "2026-11-30 02:00:00 UTC" */
  const char *not_after;
  const char *fingerprint; /* the certificate's "sha256:..." */
  const char *pinned;      /* non-NULL: a pin mismatch, this was wanted */
} sk_tls_refusal_t;

/* One line for a refused certificate into err; returns SK_ETLS_VERIFY. */
SK_API int sk_tls_refusal_format(char *err, const sk_tls_refusal_t *r);

#endif
