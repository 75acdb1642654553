/*
 * sockit: the chat room in a browser (--web PORT). libwebsockets serves
 * the static page and the WebSocket endpoint on the hub's own libuv
 * loop. Each WebSocket is joined to the hub through one end of a Unix
 * socket pair (sk__hub_adopt), so a browser user is a member exactly as
 * a TCP client is: the same rooms, names, commands, queue, flow control
 * and drops. This side only turns lines into WebSocket text messages
 * and messages into lines; lws does the protocol.
 *
 * With --ssl the page and the WebSocket are HTTPS and wss: lws's own TLS
 * (OpenSSL) on its vhost, given the certificate, chain and key the chat
 * listener holds (files or the ephemeral one) straight from our
 * SSL_CTX, so both ports present one certificate and one fingerprint.
 */
#include <errno.h>
#include <libwebsockets.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "hub_int.h"
#include "sockit/utf8.h"
#include "tls_int.h" /* the SSL_CTX whose certificate the web side shares */

/* The page's files, generated from web/ at build time (web_assets.c). */
extern const unsigned char sk__web_index_html[], sk__web_app_js[],
    sk__web_style_css[];
extern const size_t sk__web_index_html_len, sk__web_app_js_len,
    sk__web_style_css_len;

#define WEB_CSP                                                                \
  "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self'; "          \
  "style-src 'self'; script-src 'self'; object-src 'none'; "                   \
  "base-uri 'none'; frame-ancestors 'none'"

/* A browser message is forwarded in pieces of at most this; the chat's
 * own --max-line rule then applies to the line as to any client. */
#define WEB_RX_MAX 4096

typedef struct web_file {
  const char *path, *type;
  const unsigned char *data;
  const size_t *len;
} web_file_t;

static const web_file_t web_files[] = {
    {"/", "text/html; charset=utf-8", sk__web_index_html,
     &sk__web_index_html_len},
    {"/index.html", "text/html; charset=utf-8", sk__web_index_html,
     &sk__web_index_html_len},
    {"/app.js", "text/javascript; charset=utf-8", sk__web_app_js,
     &sk__web_app_js_len},
    {"/style.css", "text/css; charset=utf-8", sk__web_style_css,
     &sk__web_style_css_len},
};

typedef struct sk__web {
  sk__hub_t *hub;
  struct lws_context *ctx;
  unsigned char *frame; /* LWS_PRE + out_cap: one write at a time */
  size_t out_cap;       /* the longest line the hub sends, and its LF */
  size_t n_open;        /* WebSocket sessions lws has not closed */
  bool tls_failed;      /* tls_share refused: the vhost's error */
  bool closing;         /* lws_context_destroy called: ctx goes NULL
                           (info.pcontext) once lws has finished */
  uv_idle_t defer;      /* tells a stopping hub, outside lws's callback,
                           that the last WebSocket has closed */
} sk__web_t;

/* One WebSocket's end of its socket pair. Freed by the poll's close
 * callback, so it may outlive the lws session that pointed to it. */
typedef struct web_link {
  sk__endpoint_t ep; /* our end of the pair; ep.fd -1 once closed */
  sk__web_t *w;
  struct lws *wsi; /* NULL once lws closed the session */
  bool eof;              /* the hub closed its end: close after the lines */
  size_t off, len;       /* hub bytes waiting in out */
  size_t in_off, in_len; /* browser bytes the hub has not taken */
  char in[WEB_RX_MAX + 1];
  char out[]; /* out_cap bytes */
} web_link_t;

/* Per lws session: HTTP (which file) or WebSocket (its link). */
typedef struct web_pss {
  const web_file_t *file;
  web_link_t *link;
} web_pss_t;

static sk__web_t *web_log_owner; /* lws's log has no context pointer */

static void web_lws_log(int level, const char *line) {
  (void)level;
  if (web_log_owner) {
    size_t n = strcspn(line, "\n");
    sk__hub_notice(web_log_owner->hub, "web: %.*s", (int)n, line);
  }
}

/* ---- the socket pair side ---- */

static void link_poll_cb(uv_poll_t *p, int status, int events);

static void link_watch(web_link_t *l) {
  int want = 0;
  if (!l->eof && l->len < l->w->out_cap)
    want |= UV_READABLE;
  if (l->in_len)
    want |= UV_WRITABLE;
  sk__endpoint_watch(&l->ep, want, link_poll_cb);
}

static void link_free_cb(uv_handle_t *handle) {
  free(((sk__endpoint_t *)handle->data)->owner);
}

static void link_close(web_link_t *l) {
  int fd = l->ep.fd;
  if (fd < 0)
    return;
  l->ep.fd = -1;
  if (!sk__endpoint_close(&l->ep, link_free_cb))
    free(l);
  close(fd); /* the hub reads EOF: the member leaves */
}

static bool link_has_line(const web_link_t *l) {
  return memchr(l->out + l->off, '\n', l->len) != NULL;
}

/* Takes what the hub sent; a whole line wakes the WebSocket. */
static void link_read(web_link_t *l) {
  if (l->off) {
    memmove(l->out, l->out + l->off, l->len);
    l->off = 0;
  }
  ssize_t n = recv(l->ep.fd, l->out + l->len, l->w->out_cap - l->len, 0);
  if (n > 0)
    l->len += (size_t)n;
  else if (n == 0 || (errno != EAGAIN && errno != EINTR))
    l->eof = true;
  if (l->wsi && (l->eof || link_has_line(l) || l->len == l->w->out_cap))
    lws_callback_on_writable(l->wsi);
}

/* Gives the hub what the browser sent; resumes lws once all is taken. */
static void link_write(web_link_t *l) {
  while (l->in_len) {
    ssize_t n = send(l->ep.fd, l->in + l->in_off, l->in_len, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR)
        return;
      l->in_len = 0; /* the hub closed: its EOF ends the session */
      break;
    }
    l->in_off += (size_t)n;
    l->in_len -= (size_t)n;
  }
  l->in_off = 0;
  if (l->wsi)
    lws_rx_flow_control(l->wsi, 1);
}

static void link_poll_cb(uv_poll_t *p, int status, int events) {
  web_link_t *l = ((sk__endpoint_t *)p->data)->owner;
  if (status < 0)
    l->eof = true;
  if (!l->eof && (events & UV_READABLE))
    link_read(l);
  if (events & UV_WRITABLE)
    link_write(l);
  if (l->eof && l->wsi)
    lws_callback_on_writable(l->wsi);
  link_watch(l);
}

/* ---- lws callbacks ---- */

static web_link_t *link_open(sk__web_t *w, struct lws *wsi) {
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  int sv[2];
  web_link_t *l = malloc(sizeof *l + w->out_cap);
  if (!l)
    return NULL;
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) <
      0) {
    free(l);
    return NULL;
  }
  memset(l, 0, sizeof *l);
  l->w = w;
  l->wsi = wsi;
  if (sk__endpoint_adopt(&l->ep, w->hub->loop, l, sv[1]) < 0) {
    close(sv[0]); /* the session is refused: lws closes it */
    close(sv[1]);
    free(l);
    return NULL;
  }
  if (getpeername(lws_get_socket_fd(wsi), (struct sockaddr *)&ss, &len) < 0) {
    ss.ss_family = AF_UNIX;
    len = sizeof(sa_family_t);
  }
  sk__hub_adopt(w->hub, sv[0], (struct sockaddr *)&ss, len, false);
  link_watch(l);
  return l;
}

/* One line per writable turn, as lws asks; the session closes once the
 * hub has closed and every line is out. */
static int link_send(web_link_t *l, struct lws *wsi) {
  sk__web_t *w = l->w;
  char *start = l->out + l->off, *nl = memchr(start, '\n', l->len);
  size_t n = nl ? (size_t)(nl - start) : l->len;
  if (!nl && l->len < w->out_cap && !l->eof)
    return 0;
  if (n == 0 && !nl) {
    /* Every line is out. lws would send this close frame, but Debian's
     * lws 4.1 is a _DEBUG build whose libuv path closes a second time
     * at once ("uv repeat test"): the browser sees the TCP close (1006),
     * which the page handles like any other. */
    lws_close_reason(wsi, LWS_CLOSE_STATUS_GOINGAWAY, NULL, 0);
    return -1;
  }
  if (!nl && sk_utf8_boundary(start, n) > 0)
    n = sk_utf8_boundary(start, n); /* an over-long line: cut between
                                       characters (a text frame must be
                                       valid UTF-8 on its own) */
  size_t used = n + (nl ? 1 : 0);
  if (nl && n && start[n - 1] == '\r')
    n--;
  memcpy(w->frame + LWS_PRE, start, n);
  if (lws_write(wsi, w->frame + LWS_PRE, n, LWS_WRITE_TEXT) < (int)n)
    return -1;
  l->off += used;
  l->len -= used;
  if (link_has_line(l) || l->eof)
    lws_callback_on_writable(wsi);
  link_watch(l);
  return 0;
}

static int link_receive(web_link_t *l, struct lws *wsi, const void *in,
                        size_t len) {
  bool last =
      lws_is_final_fragment(wsi) && lws_remaining_packet_payload(wsi) == 0;
  if (l->in_off + l->in_len + len + 1 > sizeof l->in) {
    memmove(l->in, l->in + l->in_off, l->in_len);
    l->in_off = 0;
  }
  if (l->in_len + len + 1 > sizeof l->in)
    return -1; /* more than lws was asked to hand over at once */
  memcpy(l->in + l->in_off + l->in_len, in, len);
  l->in_len += len;
  if (last)
    l->in[l->in_off + l->in_len++] = '\n';
  lws_rx_flow_control(wsi, 0);
  link_write(l);
  link_watch(l);
  return 0;
}

static const web_file_t *file_find(const char *path) {
  for (size_t i = 0; i < sizeof web_files / sizeof web_files[0]; i++)
    if (strcmp(path, web_files[i].path) == 0)
      return &web_files[i];
  return NULL;
}

static int http_header(struct lws *wsi, const web_file_t *f) {
  unsigned char buf[LWS_PRE + 1024], *start = buf + LWS_PRE, *p = start,
                                     *end = buf + sizeof buf - 1;
  static const struct {
    const char *name, *value;
  } extra[] = {
      {"content-security-policy:", WEB_CSP},
      {"x-content-type-options:", "nosniff"},
      {"referrer-policy:", "no-referrer"},
      {"cache-control:", "no-cache"},
  };
  if (lws_add_http_common_headers(wsi, HTTP_STATUS_OK, f->type, *f->len, &p,
                                  end))
    return -1;
  for (size_t i = 0; i < sizeof extra / sizeof extra[0]; i++)
    if (lws_add_http_header_by_name(wsi, (const unsigned char *)extra[i].name,
                                    (const unsigned char *)extra[i].value,
                                    (int)strlen(extra[i].value), &p, end))
      return -1;
  return lws_finalize_write_http_header(wsi, start, &p, end);
}

/* With --ssl, plaintext on the port is let in only for lws to answer
 * HTTP with a redirect to https:// (then a clean close, where refusing
 * the handshake would reset a request left unread): never the page,
 * never a WebSocket. */
static bool tls_ok(const sk__web_t *w, struct lws *wsi) {
  return !w->hub->opts.tls || lws_is_ssl(wsi);
}

static int http_start(struct lws *wsi, web_pss_t *pss, const char *path) {
  sk__web_t *w = lws_context_user(lws_get_context(wsi));
  if (!tls_ok(w, wsi))
    return -1;
  pss->file = file_find(path);
  if (!pss->file) {
    if (lws_return_http_status(wsi, HTTP_STATUS_NOT_FOUND, NULL))
      return -1;
    return lws_http_transaction_completed(wsi) ? -1 : 0;
  }
  if (http_header(wsi, pss->file))
    return 1;
  lws_callback_on_writable(wsi);
  return 0;
}

static int http_body(struct lws *wsi, web_pss_t *pss) {
  const web_file_t *f = pss->file;
  if (!f)
    return 0;
  pss->file = NULL;
  /* lws_write may write a frame header into the LWS_PRE bytes before
   * the data (h2 does): the page's files are read-only, so each is sent
   * from a copy (a few KiB). lws keeps what the socket does not take. */
  unsigned char *buf = malloc(LWS_PRE + *f->len);
  if (!buf)
    return -1;
  memcpy(buf + LWS_PRE, f->data, *f->len);
  int n = lws_write(wsi, buf + LWS_PRE, *f->len, LWS_WRITE_HTTP_FINAL);
  free(buf);
  if (n < (int)*f->len)
    return -1;
  return lws_http_transaction_completed(wsi) ? -1 : 0;
}

static void web_defer_cb(uv_idle_t *idle) {
  sk__web_t *w = idle->data;
  uv_idle_stop(idle);
  sk__hub_stop_check(w->hub);
}

/* A browser sends Origin: a page of another site may not open the room
 * in its visitor's name (cross-site WebSocket hijacking). Clients that
 * are not browsers send none and are let in, as on the TCP port. */
static bool origin_ok(struct lws *wsi) {
  char origin[256], host[256];
  if (lws_hdr_copy(wsi, origin, sizeof origin, WSI_TOKEN_ORIGIN) <= 0)
    return true;
  if (lws_hdr_copy(wsi, host, sizeof host, WSI_TOKEN_HOST) <= 0)
    return false;
  const char *o = strstr(origin, "://");
  return o && strcmp(o + 3, host) == 0;
}

/* RFC 6455 4.2.1: version 13 only (libwebsockets switched protocols for
 * any number); another version is refused before the 101. */
static bool version_ok(struct lws *wsi) {
  char v[8];
  return lws_hdr_copy(wsi, v, sizeof v, WSI_TOKEN_VERSION) > 0 &&
         strcmp(v, "13") == 0;
}

/* --ssl: lws made the vhost's SSL_CTX; it gets what ours holds (the
 * same objects, reference counted, not files read a second time) and
 * our rules: TLS 1.2 at least, buffers released while idle, and with
 * --ssl-verify-client the same trusted CAs and a certificate required
 * of every browser. */
static int tls_share(const sk__web_t *w, SSL_CTX *to) {
  SSL_CTX *from = w->hub->opts.tls->ssl;
  X509 *cert = SSL_CTX_get0_certificate(from);
  EVP_PKEY *key = SSL_CTX_get0_privatekey(from);
  STACK_OF(X509) *chain = NULL;
  int mode = SSL_CTX_get_verify_mode(from);
  if (!to || !cert || !key || SSL_CTX_use_certificate(to, cert) != 1 ||
      SSL_CTX_use_PrivateKey(to, key) != 1 ||
      !SSL_CTX_get0_chain_certs(from, &chain) ||
      (chain && !SSL_CTX_set1_chain(to, chain)) ||
      !SSL_CTX_set_min_proto_version(to, TLS1_2_VERSION))
    return -1;
  /* As the chat's own TLS clients (lws sets only AUTO_RETRY). VmRSS per
   * idle wss client measured the same with or without it (37.5 KB vs
   * 14.7 KB for ws, bench/web.py): lws's per-connection state weighs. */
  SSL_CTX_set_mode(to, SSL_MODE_RELEASE_BUFFERS);
  if (!(mode & SSL_VERIFY_PEER))
    return 0;
  STACK_OF(X509_NAME) *cas = SSL_dup_CA_list(SSL_CTX_get_client_CA_list(from));
  if (!cas)
    return -1;
  SSL_CTX_set_client_CA_list(to, cas);
  SSL_CTX_set1_cert_store(to, SSL_CTX_get_cert_store(from));
  SSL_CTX_set_verify(to, mode, NULL);
  /* A session resumed without this would skip the client check. */
  return SSL_CTX_set_session_id_context(to, (const unsigned char *)"sk-web",
                                        6) == 1
             ? 0
             : -1;
}

static int web_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user,
                  void *in, size_t len) {
  web_pss_t *pss = user;
  sk__web_t *w = lws_context_user(lws_get_context(wsi));
  switch (reason) {
  case LWS_CALLBACK_HTTP:
    return http_start(wsi, pss, in);
  case LWS_CALLBACK_HTTP_WRITEABLE:
    return http_body(wsi, pss);
  case LWS_CALLBACK_OPENSSL_LOAD_EXTRA_SERVER_VERIFY_CERTS:
    if (w->hub->opts.tls && tls_share(w, user) < 0)
      return w->tls_failed = true, -1;
    return 0;
  case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
    return version_ok(wsi) && origin_ok(wsi) && tls_ok(w, wsi) ? 0 : 1;
  case LWS_CALLBACK_ESTABLISHED:
    pss->link = link_open(w, wsi);
    w->n_open += pss->link != NULL;
    return pss->link ? 0 : -1;
  case LWS_CALLBACK_RECEIVE:
    return pss->link ? link_receive(pss->link, wsi, in, len) : -1;
  case LWS_CALLBACK_SERVER_WRITEABLE:
    return pss->link ? link_send(pss->link, wsi) : -1;
  case LWS_CALLBACK_CLOSED:
    if (pss->link) {
      pss->link->wsi = NULL;
      link_close(pss->link);
      pss->link = NULL;
      if (--w->n_open == 0 && w->hub->stopping && !w->closing)
        uv_idle_start(&w->defer, web_defer_cb); /* not inside lws */
    }
    return 0;
  default:
    return lws_callback_http_dummy(wsi, reason, user, in, len);
  }
}

static const struct lws_protocols web_protocols[] = {
    {"sockit-chat", web_cb, sizeof(web_pss_t), WEB_RX_MAX, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

/* What lws is asked for: one vhost on the hub's loop, TLS with --ssl. */
static void web_info(struct lws_context_creation_info *info, sk__web_t *w,
                     void **loops) {
  const sk__hub_t *h = w->hub;
  memset(info, 0, sizeof *info);
  info->port = h->opts.web_port;
  info->iface = h->opts.web_host;
  info->protocols = web_protocols;
  /* The vhost explicitly: its listening socket failing is then an
   * error here, not a context left serving nothing. */
  info->options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_VALIDATE_UTF8 |
                  LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
  /* --ssl: an SSL_CTX without certificate files, filled by tls_share;
   * plaintext only for lws's redirect to https:// (tls_ok). */
  if (h->opts.tls)
    info->options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT |
                     LWS_SERVER_OPTION_CREATE_VHOST_SSL_CTX |
                     LWS_SERVER_OPTION_ALLOW_NON_SSL_ON_SSL_PORT |
                     LWS_SERVER_OPTION_REDIRECT_HTTP_TO_HTTPS;
  /* HTTP/1.1 only by ALPN: h2 adds nothing to three small files and a
   * WebSocket, and keeps lws's WebSockets over h2 (RFC 8441) untried. */
  info->alpn = "http/1.1";
  info->foreign_loops = loops;
  info->user = w;
  info->pcontext = &w->ctx;
  info->fd_limit_per_thread = 0;
}

int sk__web_open(char *err, sk__hub_t *h) {
  struct lws_context_creation_info info;
  void *loops[1] = {h->loop};
  if (h->opts.web_port <= 0)
    return 0;
  sk__web_t *w = calloc(1, sizeof *w);
  size_t line = SK__CHAT_LINE_MAX(h->opts.max_line) + 1;
  if (!w || !(w->frame = malloc(LWS_PRE + line))) {
    free(w);
    return sk__fail(err, -ENOMEM, "web: %s", strerror(ENOMEM));
  }
  w->out_cap = line;
  w->hub = h;
  h->web = w;
  uv_idle_init(h->loop, &w->defer);
  w->defer.data = w;
  web_log_owner = w;
  /* lws's own lines only with -v: the failure is said once, below. */
  lws_set_log_level(h->opts.verbose ? LLL_ERR | LLL_WARN : 0, web_lws_log);
  web_info(&info, w, loops);
  w->ctx = lws_create_context(&info);
  if (w->ctx && lws_create_vhost(w->ctx, &info))
    return 0;
  if (w->tls_failed) {
    const char *why = ERR_reason_error_string(ERR_peek_last_error());
    return sk__fail(err, SK_ETLS_CONFIG,
                    "web: TLS: cannot use the certificate and key: %s",
                    why ? why : "refused");
  }
  return sk__fail(err, -EADDRINUSE,
                  "web: cannot serve on port %d (in use, or not allowed)",
                  h->opts.web_port);
}

bool sk__web_busy(const sk__hub_t *h) {
  return h->web && !h->web->closing && h->web->n_open > 0;
}

void sk__web_close(sk__hub_t *h) {
  sk__web_t *w = h->web;
  if (!w || w->closing)
    return;
  w->closing = true;
  uv_close((uv_handle_t *)&w->defer, NULL);
  if (w->ctx) /* closes the sessions, then its handles on the loop */
    lws_context_destroy(w->ctx);
}

void sk__web_free(sk__hub_t *h) {
  sk__web_t *w = h->web;
  if (!w)
    return;
  sk__web_close(h);
  if (w->ctx) /* the loop has run: lws frees what its handles held */
    lws_context_destroy(w->ctx);
  h->web = NULL;
  if (web_log_owner == w)
    web_log_owner = NULL;
  free(w->frame);
  free(w);
}
