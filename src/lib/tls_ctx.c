/* sockit: TLS contexts: trust, certificates, the ephemeral certificate. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/decoder.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "internal.h"
#include "tls_int.h"

/* The last OpenSSL reason, for messages; never NULL. */
static const char *ossl_reason(void) {
  const char *r = ERR_reason_error_string(ERR_peek_last_error());
  return r ? r : "unknown OpenSSL error";
}

/* A readable file, or a message naming what and why not. */
static int check_file(char *err, const char *what, const char *path) {
  FILE *f = fopen(path, "r");
  if (!f)
    return sk__fail(err, SK_ETLS_CONFIG, "%s \"%s\": %s", what, path,
                    strerror(errno));
  fclose(f);
  return 0;
}

/* At most 60 bytes of a list in a message, "..." after a cut one: the
 * line keeps its end ("expected ...") within SK_ERR_LEN. */
#define ALPN_SHOWN 60
#define ALPN_FMT "ALPN list \"%.60s%s\""
#define ALPN_ARGS(list) (list), strlen(list) > ALPN_SHOWN ? "..." : ""

/* "h2,http/1.1" to the wire form (length-prefixed names) in out; an
 * empty list is refused as "," is (it would name no protocol). */
static int alpn_encode(char *err, const char *list, unsigned char *out,
                       size_t cap, size_t *len) {
  size_t o = 0;
  const char *p = list;
  bool comma;
  do {
    size_t n = strcspn(p, ",");
    if (n == 0 || n > 255 || o + 1 + n > cap)
      return sk__fail(err, SK_ETLS_CONFIG,
                      ALPN_FMT ": expected names of 1 to 255 bytes "
                      "separated by commas",
                      ALPN_ARGS(list));
    out[o++] = (unsigned char)n;
    memcpy(out + o, p, n);
    o += n;
    comma = p[n] == ',';
    p += n + comma;
  } while (*p || comma); /* "a," ends with an empty name */
  *len = o;
  return 0;
}

static int alpn_select_cb(SSL *ssl, const unsigned char **out,
                          unsigned char *outlen, const unsigned char *in,
                          unsigned int inlen, void *arg) {
  const unsigned char *ours = arg;
  (void)ssl;
  /* No protocol in common: go on without ALPN, as most servers do. */
  if (SSL_select_next_proto((unsigned char **)out, outlen, ours + 1, ours[0],
                            in, inlen) != OPENSSL_NPN_NEGOTIATED)
    return SSL_TLSEXT_ERR_NOACK;
  return SSL_TLSEXT_ERR_OK;
}

static int set_alpn(char *err, sk_tls_ctx_t *c, const char *list) {
  unsigned char wire[1024];
  size_t len = 0;
  int rc = alpn_encode(err, list, wire, sizeof wire, &len);
  if (rc < 0)
    return rc;
  if (c->role == SK_TLS_CLIENT) {
    if (SSL_CTX_set_alpn_protos(c->ssl, wire, (unsigned)len) != 0)
      return sk__fail(err, SK_ETLS_CONFIG, "ALPN: %s", ossl_reason());
    return 0;
  }
  /* The server's list lives as the context's app data (freed with
   * it), its first byte the length: 255 bytes are plenty. */
  if (len > 255)
    return sk__fail(err, SK_ETLS_CONFIG,
                    ALPN_FMT " is too long: expected at most 255 bytes "
                    "in all for a server",
                    ALPN_ARGS(list));
  unsigned char *copy = OPENSSL_malloc(len + 1);
  if (!copy)
    return sk__fail(err, -ENOMEM, "ALPN: out of memory");
  copy[0] = (unsigned char)len;
  memcpy(copy + 1, wire, len);
  SSL_CTX_set_app_data(c->ssl, copy);
  SSL_CTX_set_alpn_select_cb(c->ssl, alpn_select_cb, copy);
  return 0;
}

/* Never ask for a pass phrase: a library must not read the terminal.
 * Being called at all means the key is encrypted. */
static int no_passphrase_cb(char *buf, int size, int rwflag, void *arg) {
  (void)buf, (void)size, (void)rwflag;
  *(bool *)arg = true;
  return -1;
}

/* Why a PEM file was refused, in words for the person who gave it. */
static const char *pem_reason(const char *what, bool encrypted) {
  unsigned long e = ERR_peek_error(); /* the first: the root cause */
  if (encrypted)
    return "the key is encrypted; give it decrypted (openssl pkey -in KEY)";
  /* OpenSSL 3 says "unsupported" (decoders) where 1.1 said "no start
   * line": either way nothing of the kind was found in the file. */
  if ((ERR_GET_LIB(e) == ERR_LIB_PEM &&
       ERR_GET_REASON(e) == PEM_R_NO_START_LINE) ||
      (ERR_GET_LIB(e) == ERR_LIB_OSSL_DECODER &&
       ERR_GET_REASON(e) == ERR_R_UNSUPPORTED))
    return strcmp(what, "key file") == 0 ? "no PEM private key in it"
                                         : "no PEM certificate in it";
  if (ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH)
    return "the key does not match the certificate";
  return ossl_reason();
}

static int load_cert_key(char *err, SSL_CTX *ssl, const char *cert,
                         const char *key) {
  bool encrypted = false;
  int rc = check_file(err, "certificate file", cert);
  if (rc == 0 && key)
    rc = check_file(err, "key file", key);
  if (rc < 0)
    return rc;
  SSL_CTX_set_default_passwd_cb(ssl, no_passphrase_cb);
  SSL_CTX_set_default_passwd_cb_userdata(ssl, &encrypted);
  if (SSL_CTX_use_certificate_chain_file(ssl, cert) != 1)
    return sk__fail(err, SK_ETLS_CONFIG, "certificate file \"%s\": %s", cert,
                    pem_reason("certificate file", false));
  if (!key)
    key = cert;
  rc = SSL_CTX_use_PrivateKey_file(ssl, key, SSL_FILETYPE_PEM) == 1 &&
       SSL_CTX_check_private_key(ssl) == 1;
  SSL_CTX_set_default_passwd_cb_userdata(ssl, NULL);
  if (!rc)
    return sk__fail(err, SK_ETLS_CONFIG, "key file \"%s\": %s", key,
                    pem_reason("key file", encrypted));
  return 0;
}

/* An address that means "every interface" names no host. */
static bool is_any_host(const char *h) {
  return !h || !*h || !strcmp(h, "0.0.0.0") || !strcmp(h, "::") ||
         !strcmp(h, "*");
}

static bool is_ip_literal(const char *h) {
  unsigned char buf[16];
  return inet_pton(AF_INET, h, buf) == 1 || inet_pton(AF_INET6, h, buf) == 1;
}

/* "DNS:localhost,IP:127.0.0.1,IP:::1", with host first when it is
 * usable (no comma, which the configuration syntax would split on). */
static void ephemeral_san(char *out, size_t cap, const char *host) {
  const char *base = "DNS:localhost,IP:127.0.0.1,IP:::1";
  if (is_any_host(host) || strchr(host, ',') || !strcmp(host, "localhost") ||
      !strcmp(host, "127.0.0.1") || !strcmp(host, "::1"))
    snprintf(out, cap, "%s", base);
  else
    snprintf(out, cap, "%s:%s,%s", is_ip_literal(host) ? "IP" : "DNS", host,
             base);
}

static bool cert_fill(X509 *x, EVP_PKEY *k, const char *host) {
  char san[600];
  X509V3_CTX v3;
  X509_NAME *name = X509_get_subject_name(x);
  const char *cn = is_any_host(host) || strlen(host) > 64 ? "localhost" : host;
  BIGNUM *serial = BN_new();
  bool ok = serial &&
            BN_rand(serial, 63, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) &&
            BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(x));
  BN_free(serial);
  /* An hour back for clocks behind ours; a year, as ncat's. */
  ok = ok && X509_set_version(x, 2) &&
       X509_gmtime_adj(X509_getm_notBefore(x), -3600) &&
       X509_gmtime_adj(X509_getm_notAfter(x), 365L * 24 * 3600) &&
       X509_set_pubkey(x, k) &&
       X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                  (const unsigned char *)cn, -1, -1, 0) &&
       X509_set_issuer_name(x, name);
  if (!ok)
    return false;
  ephemeral_san(san, sizeof san, host);
  X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
  X509_EXTENSION *ext =
      X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, san);
  ok = ext && X509_add_ext(x, ext, -1);
  X509_EXTENSION_free(ext);
  return ok && X509_sign(x, k, EVP_sha256()) > 0;
}

/* An EC P-256 key and a self-signed certificate for host, made now. */
static int use_ephemeral(char *err, SSL_CTX *ssl, const char *host) {
  EVP_PKEY *k = EVP_EC_gen("P-256");
  X509 *x = X509_new();
  int rc = 0;
  if (!k || !x || !cert_fill(x, k, host) ||
      SSL_CTX_use_certificate(ssl, x) != 1 ||
      SSL_CTX_use_PrivateKey(ssl, k) != 1)
    rc = sk__fail(err, SK_ETLS_CONFIG, "ephemeral certificate: %s",
                  ossl_reason());
  X509_free(x);
  EVP_PKEY_free(k);
  return rc;
}

static int setup_server(char *err, sk_tls_ctx_t *c, const sk_tls_opts_t *o) {
  int rc;
  if (o->pin || o->insecure || o->servername)
    return sk__fail(err, SK_ETLS_CONFIG,
                    "pin, insecure and servername are client options");
  if (o->key && !o->cert)
    return sk__fail(err, SK_ETLS_CONFIG,
                    "key file \"%s\" given without its "
                    "certificate",
                    o->key);
  rc = o->cert ? load_cert_key(err, c->ssl, o->cert, o->key)
               : use_ephemeral(err, c->ssl, o->ephemeral_host);
  if (rc < 0)
    return rc;
  sk__tls_cert_fp(c->fingerprint, SSL_CTX_get0_certificate(c->ssl));
  if (!o->verify_client)
    return 0;
  if (!o->trustfile)
    return sk__fail(err, SK_ETLS_CONFIG,
                    "verifying clients needs a trust file of their CAs");
  STACK_OF(X509_NAME) *cas = SSL_load_client_CA_file(o->trustfile);
  if (!cas)
    return sk__fail(err, SK_ETLS_CONFIG, "trust file \"%s\": %s", o->trustfile,
                    ossl_reason());
  SSL_CTX_set_client_CA_list(c->ssl, cas);
  SSL_CTX_set_verify(c->ssl, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
                     sk__tls_verify_cb);
  return 0;
}

static int setup_client(char *err, sk_tls_ctx_t *c, const sk_tls_opts_t *o) {
  int rc;
  if (o->verify_client || o->ephemeral_host)
    return sk__fail(err, SK_ETLS_CONFIG,
                    "verify_client and ephemeral_host are server options");
  /* A pin replaces chain and name checks: with either of these one of
   * the two options would be silently ignored. */
  if (o->pin && (o->insecure || o->trustfile))
    return sk__fail(err, SK_ETLS_CONFIG, "a pin excludes %s: give one",
                    o->insecure ? "insecure" : "a trust file");
  if (o->pin && (rc = sk_tls_pin_parse(err, o->pin, c->pin)) < 0)
    return rc;
  if (o->cert && (rc = load_cert_key(err, c->ssl, o->cert, o->key)) < 0)
    return rc;
  if (o->key && !o->cert)
    return sk__fail(err, SK_ETLS_CONFIG,
                    "key file \"%s\" given without its "
                    "certificate",
                    o->key);
  if (o->servername && !(c->servername = strdup(o->servername)))
    return sk__fail(err, -ENOMEM, "servername: out of memory");
  c->pinned = o->pin != NULL;
  c->insecure = o->insecure;
  if (c->insecure) {
    SSL_CTX_set_verify(c->ssl, SSL_VERIFY_NONE, NULL);
    return 0;
  }
  SSL_CTX_set_verify(c->ssl, SSL_VERIFY_PEER, sk__tls_verify_cb);
  if (c->pinned) /* the pin replaces chain, dates and name */
    SSL_CTX_set_cert_verify_callback(c->ssl, sk__tls_pin_cb, c);
  SSL_CTX_set_default_verify_paths(c->ssl);
  return 0;
}

static int load_trust(char *err, sk_tls_ctx_t *c, const char *trustfile) {
  int rc = check_file(err, "trust file", trustfile);
  if (rc < 0)
    return rc;
  if (SSL_CTX_load_verify_locations(c->ssl, trustfile, NULL) != 1)
    return sk__fail(err, SK_ETLS_CONFIG, "trust file \"%s\": %s", trustfile,
                    ossl_reason());
  return 0;
}

static int ctx_setup(char *err, sk_tls_ctx_t *c, const sk_tls_opts_t *o) {
  int rc;
  if (o->role != SK_TLS_CLIENT && o->role != SK_TLS_SERVER)
    return sk__fail(err, SK_ETLS_CONFIG, "TLS role must be client or server");
  c->ssl = SSL_CTX_new(o->role == SK_TLS_CLIENT ? TLS_client_method()
                                                : TLS_server_method());
  if (!c->ssl)
    return sk__fail(err, SK_ETLS_CONFIG, "TLS context: %s", ossl_reason());
  SSL_CTX_set_min_proto_version(c->ssl, TLS1_2_VERSION);
  /* Idle connections give their 34 KiB of record buffers back: what
   * keeps an idle TLS client under 48 KiB. Partial writes let the
   * caller's buffer drain by what the socket took. */
  SSL_CTX_set_mode(c->ssl, SSL_MODE_RELEASE_BUFFERS |
                               SSL_MODE_ENABLE_PARTIAL_WRITE |
                               SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  /* One recv for several records, not two per record (header, then
   * body): a 1 GiB transfer made 131,072 recv calls for 65,536 records.
   * Read-ahead bytes are only ever left in OpenSSL while the caller
   * keeps reading until WANT_READ, which the step API asks anyway. */
  SSL_CTX_set_read_ahead(c->ssl, 1);
  SSL_CTX_set_default_read_buffer_len(c->ssl, 64 * 1024);
  if (o->trustfile && (rc = load_trust(err, c, o->trustfile)) < 0)
    return rc;
  rc = o->role == SK_TLS_CLIENT ? setup_client(err, c, o)
                                : setup_server(err, c, o);
  if (rc == 0 && o->alpn)
    rc = set_alpn(err, c, o->alpn);
  return rc;
}

int sk_tls_ctx_new(char *err, sk_tls_ctx_t **out, const sk_tls_opts_t *opts) {
  sk_tls_ctx_t *c = calloc(1, sizeof *c);
  int rc;
  *out = NULL;
  if (!c)
    return sk__fail(err, -ENOMEM, "TLS context: out of memory");
  c->role = opts->role;
  ERR_clear_error();
  c->bio_method = sk__tls_bio_method_new();
  rc = c->bio_method ? ctx_setup(err, c, opts)
                     : sk__fail(err, -ENOMEM, "TLS context: out of memory");
  if (rc < 0) {
    sk_tls_ctx_free(c);
    return rc;
  }
  *out = c;
  return 0;
}

void sk_tls_ctx_free(sk_tls_ctx_t *c) {
  if (!c)
    return;
  if (c->ssl) {
    OPENSSL_free(SSL_CTX_get_app_data(c->ssl));
    SSL_CTX_free(c->ssl);
  }
  BIO_meth_free(c->bio_method);
  free(c->servername);
  free(c);
}

const char *sk_tls_ctx_fingerprint(const sk_tls_ctx_t *c) {
  return c->fingerprint;
}

bool sk_tls_ctx_insecure(const sk_tls_ctx_t *c) {
  return c->insecure;
}
