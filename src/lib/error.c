#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "sockit/error.h"

const char *sk_strerror(int code) {
  switch (code) {
  case 0:
    return "Success";
  case SK_EPORT:
    return "port is not an integer in range";
  case SK_EADDR:
    return "malformed address";
  case SK_ERESOLVE:
    return "host could not be resolved";
  case SK_ETOOLONG:
    return "too long";
  case SK_EPROXY:
    return "proxy handshake failed";
  }
  const char *tls = sk__tls_strerror(code);
  if (tls)
    return tls;
  return code < 0 ? strerror(-code) : "Unknown error";
}

int sk__fail(char *err, int code, const char *fmt, ...) {
  if (err) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, SK_ERR_LEN, fmt, ap);
    va_end(ap);
  }
  return code;
}
