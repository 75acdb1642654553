/* sockit command: what the user asked for, after parsing. */
#ifndef SOCKIT_CLI_H
#define SOCKIT_CLI_H

#include <stdbool.h>
#include <stddef.h>

#include "sockit/sockit.h"

/* The command's exit codes: main's alone (the library and the engine
 * return 0 or a negative code, and the engine a stop reason). */
enum sk_exit {
  SK_EXIT_OK = 0,
  SK_EXIT_ERROR = 1,    /* runtime error: refused, reset, timeout, I/O */
  SK_EXIT_USAGE = 2,    /* bad flags, ports or addresses */
  SK_EXIT_SIGINT = 130, /* 128 + SIGINT, after flushing */
  SK_EXIT_SIGTERM = 143 /* 128 + SIGTERM, after flushing */
};

typedef enum cli_action {
  CLI_RUN,     /* do the job */
  CLI_HELP,    /* -h: print usage, exit 0 */
  CLI_VERSION, /* -V: print version, exit 0 */
} cli_action_t;

/* --exec "PROG ARGS": at most this many words. */
#define CLI_EXEC_ARGS 64

typedef struct cli {
  bool listen, keep, udp, unix_sock, verbose, shutdown_on_eof, crlf;
  bool scan, send_only, recv_only, chat, broker, progress, no_zero_copy;
  bool numeric;        /* -n: no DNS; numeric hosts and ports only */
  int family;          /* AF_UNSPEC, or AF_INET / AF_INET6 from -4 / -6 */
  int wait_ms;         /* -w: connect and idle timeout; 0 for none */
  int idle_ms;         /* -i: idle timeout (a client in the hub; the relay) */
  int quit_ms;         /* -q: quit this long after stdin EOF; -1 never */
  int max_conns;       /* -m */
  size_t max_line;     /* --max-line */
  size_t max_queue;    /* --max-queue */
  const char *source_host; /* -s */
  const char *source_port; /* -p */
  sk_addr_t addr;      /* where to connect, or where to listen */
  int port_lo, port_hi; /* -z range */
  sk_acl_t acl;
  /* --proxy / -x: connect through a proxy (ncat's and OpenBSD nc's flags) */
  const char *proxy_text;  /* HOST[:PORT] as given */
  const char *proxy_flag;  /* "--proxy" or "-x", for messages */
  const char *proxy_type;  /* --proxy-type / -X as given, or NULL */
  const char *proxy_auth;  /* --proxy-auth USER[:PASS], or NULL */
  char proxy_cred[512];    /* proxy_auth split: user, NUL, password */
  sk_proxy_opts_t proxy;   /* type SK_PROXY_NONE when there is none */
  unsigned history;        /* --history: chat lines a joiner is sent */
  bool history_set;        /* --history given (it needs --chat -l) */
  int web_port;            /* --web: the browser side's port, or 0 */
  sk_mcast_t mcast;    /* --mcast-join, --mcast-ttl, --mcast-loop, -b */
  /* --ssl (--tls): TLS on the connection, or on the listener with -l */
  bool ssl, insecure, ssl_verify_client;
  const char *ssl_trustfile, *ssl_pin, *ssl_cert, *ssl_key, *ssl_alpn;
  const char *ssl_servername;
  const char *ssl_flag; /* the first --ssl-* given, for messages */
  /* -e / --exec / -c / --sh-exec: run a program with the connection as
   * its stdin and stdout */
  const char *exec_text;   /* as given */
  const char *exec_flag;   /* "-e", "--exec", "-c" or "--sh-exec" */
  bool exec_shell;         /* -c / --sh-exec: /bin/sh -c exec_text */
  char exec_path[4096];    /* the program, found in PATH */
  char *exec_argv[CLI_EXEC_ARGS + 1]; /* NULL-terminated */
  char exec_words[4096];   /* exec_text split on blanks (--exec) */
  /* --to ADDR: forward every client to ADDR */
  const char *to_text;
  sk_addr_t to;
  bool to_ssl; /* --to-ssl: TLS to the target (a client's, verified) */
  /* -o / --hex-dump: logs of every byte relayed */
  const char *output_path;   /* -o / --output */
  const char *hexdump_path;  /* --hex-dump */
  bool append_output;        /* --append-output */
  const char *federate;      /* --federate URL (checked), or NULL */
  const char *federate_name; /* --federate-name, or NULL */
  unsigned federate_ttl;     /* --federate-ttl seconds, 0: default */
} cli_t;

/*
 * Parses argv into c and checks every flag conflict. Returns CLI_RUN,
 * CLI_HELP or CLI_VERSION, or -1 with one line in err (exit code 2).
 */
int cli_parse(cli_t *c, int argc, char **argv, char *err);

/* The parser flags for addresses: SK_ADDR_NUMERIC with -n, else
 * SK_ADDR_SERVICE (ports may be service names). */
int cli_addr_flags(const cli_t *c);

extern const char cli_usage[];

/* The license printed by --version, next to SOCKIT_VERSION. */
#define CLI_LICENSE "BSD-2-Clause"

#endif
