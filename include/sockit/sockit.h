/* sockit: the whole public API of libsockit. */
#ifndef SOCKIT_SOCKIT_H
#define SOCKIT_SOCKIT_H

#define SOCKIT_VERSION "0.1.0"

#include "sockit/acl.h"
#include "sockit/addr.h"
#include "sockit/error.h"
#include "sockit/hub.h"
#include "sockit/icmp.h"
#include "sockit/io.h"
#include "sockit/proxy.h"
#include "sockit/relay.h"
#include "sockit/sock.h"
#include "sockit/tls.h"
#include "sockit/utf8.h"

#endif
