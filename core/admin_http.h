/*
 * The AdminServer: ZooKeeper's HTTP command interface (GET /commands and
 * GET /commands/NAME[?key=value...]) on admin.serverAddress:admin.serverPort,
 * served by nng's HTTP server. Every command of the Lua host's registry is
 * reachable by its name or an alias, answered with ZooKeeper's JSON shape
 * (HTTP 200 even for errors, which go in the "error" member).
 *
 * Threads: nng calls the request handler on its own threads; the handler
 * only queues the request and wakes the loop through an eventfd. Commands
 * run on the loop thread (they read server state), and the reply is handed
 * back to nng, which may be done from any thread.
 *
 * Call order: admin_http_open once the server is initialised (loop thread),
 * admin_http_close before the loop is freed. Requests still queued at close
 * are answered 503.
 */
#ifndef ZKPLUG_CORE_ADMIN_HTTP_H
#define ZKPLUG_CORE_ADMIN_HTTP_H

#include <stddef.h>

struct luahost;
struct server;
struct admin_http;

/* Starts listening (srv->cfg: admin.serverAddress, admin.serverPort). host
 * and srv are borrowed until admin_http_close. 0 and *out, or -errno with
 * err saying what and where ("127.0.0.1:8080: address in use"). */
int admin_http_open(struct luahost *host, struct server *srv, struct admin_http **out, char *err, size_t errlen);

/* The port actually bound (useful with admin.serverPort=0). */
int admin_http_port(const struct admin_http *a);

/* Stops listening, answers what is queued, frees. NULL does nothing. */
void admin_http_close(struct admin_http *a);

#endif
