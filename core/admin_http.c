/*
 * The AdminServer over nng's HTTP server (see admin_http.h for the model).
 *
 * Design notes:
 * - One handler serves the /commands tree. It runs on an nng thread, copies
 *   the request URI into a pending item, links it under the mutex and
 *   writes the eventfd; the loop thread drains the list, runs each command
 *   (luahost_run_admin) and finishes the aio with the response.
 * - Once closing is set (under the mutex), the handler answers 503 itself,
 *   so no aio is left unfinished when the server stops.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "admin_http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <nng/nng.h>
#include <nng/supplemental/http/http.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "log.h"
#include "lua_int.h"
#include "server.h"

#define ADMIN_HTTP_PREFIX "/commands"

struct admin_pending {
    struct admin_pending *next;
    nng_aio *aio;
    char uri[];
};

struct admin_http {
    struct luahost *host;
    struct server *srv;
    nng_http_server *http;
    nng_http_handler *handler;
    int port;
    int wakefd;
    pthread_mutex_t lock;
    struct admin_pending *head, *tail; /* lock */
    bool closing;                      /* lock */
};

static void admin_http_reply(nng_aio *aio, uint16_t status, const char *type, const void *body, size_t len)
{
    nng_http_res *res = NULL;
    int rc = status == 200 ? nng_http_res_alloc(&res) : nng_http_res_alloc_error(&res, status);
    if (rc != 0) {
        nng_aio_finish(aio, rc);
        return;
    }
    if (status == 200) {
        nng_http_res_set_header(res, "Content-Type", type);
        if (nng_http_res_copy_data(res, body, len) != 0) {
            nng_http_res_free(res);
            nng_aio_finish(aio, NNG_ENOMEM);
            return;
        }
    }
    nng_aio_set_output(aio, 0, res);
    nng_aio_finish(aio, 0);
}

/* nng thread. */
static void admin_http_handle(nng_aio *aio)
{
    nng_http_req *req = nng_aio_get_input(aio, 0);
    nng_http_handler *h = nng_aio_get_input(aio, 1);
    struct admin_http *a = nng_http_handler_get_data(h);
    const char *uri = nng_http_req_get_uri(req);
    size_t len = strlen(uri);
    struct admin_pending *p = malloc(sizeof *p + len + 1);
    if (p == NULL) {
        admin_http_reply(aio, 500, NULL, NULL, 0);
        return;
    }
    p->next = NULL;
    p->aio = aio;
    memcpy(p->uri, uri, len + 1);
    pthread_mutex_lock(&a->lock);
    if (a->closing) {
        pthread_mutex_unlock(&a->lock);
        free(p);
        admin_http_reply(aio, 503, NULL, NULL, 0);
        return;
    }
    if (a->tail)
        a->tail->next = p;
    else
        a->head = p;
    a->tail = p;
    pthread_mutex_unlock(&a->lock);
    uint64_t one = 1;
    ssize_t w = write(a->wakefd, &one, sizeof one);
    (void)w;
}

static void admin_http_list(struct admin_http *a, jute_writer *out)
{
    lua_State *L = a->host->cmd->L;
    int top = lua_gettop(L);
    lua_getfield(L, LUA_REGISTRYINDEX, "zkplug");
    lua_getfield(L, -1, "commands");
    size_t n = 0;
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        n++;
        lua_pop(L, 1);
    }
    const char **names = calloc(n + 2, sizeof *names);
    size_t k = 0;
    lua_pushnil(L);
    while (names && lua_next(L, -2)) {
        lua_pop(L, 1);
        if (lua_type(L, -1) == LUA_TSTRING && k < n)
            names[k++] = lua_tostring(L, -1); /* keys stay in the table */
    }
    if (names)
        names[k++] = "lua_reload";
    for (size_t i = 1; names && i < k; i++)
        for (size_t j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
            const char *t = names[j];
            names[j] = names[j - 1];
            names[j - 1] = t;
        }
    for (size_t i = 0; names && i < k; i++) {
        char line[400];
        /* As ZooKeeper's JettyAdminServer prints them: link, then <br/>. */
        snprintf(line, sizeof line, "<a href=\"%s/%s\">%s</a>\n<br/>\n", ADMIN_HTTP_PREFIX, names[i], names[i]);
        jute_write_raw(out, line, strlen(line));
    }
    free(names);
    lua_settop(L, top);
}

static void admin_http_serve(struct admin_http *a, struct admin_pending *p)
{
    jute_writer out;
    jute_writer_init(&out, 2048);
    const char *rest = p->uri + strlen(ADMIN_HTTP_PREFIX);
    char *query = strchr(p->uri, '?');
    if (query)
        *query++ = '\0';
    if (*rest == '/')
        rest++;
    if (*rest == '\0') {
        admin_http_list(a, &out);
        admin_http_reply(p->aio, 200, "text/html", out.data, out.len);
    } else {
        char name[256];
        snprintf(name, sizeof name, "%.*s", (int)strcspn(rest, "/"), rest);
        luahost_run_admin(a->host, name, query, &out);
        if (out.oom)
            admin_http_reply(p->aio, 500, NULL, NULL, 0);
        else
            admin_http_reply(p->aio, 200, "application/json", out.data, out.len);
    }
    jute_writer_free(&out);
}

/* Loop thread: run what the handler queued. */
static void admin_http_on_wake(void *arg, int fd, unsigned events)
{
    struct admin_http *a = arg;
    (void)events;
    uint64_t v;
    ssize_t r = read(fd, &v, sizeof v);
    (void)r;
    pthread_mutex_lock(&a->lock);
    struct admin_pending *list = a->head;
    a->head = a->tail = NULL;
    pthread_mutex_unlock(&a->lock);
    while (list) {
        struct admin_pending *p = list;
        list = p->next;
        admin_http_serve(a, p);
        free(p);
    }
}

int admin_http_open(struct luahost *host, struct server *srv, struct admin_http **out, char *err, size_t errlen)
{
    *out = NULL;
    const struct zk_config *cfg = srv->cfg;
    const char *addr = cfg->admin_server_address && *cfg->admin_server_address ? cfg->admin_server_address
                                                                                 : "127.0.0.1";
    char where[300], urlstr[320];
    bool v6 = strchr(addr, ':') != NULL;
    snprintf(where, sizeof where, "%s%s%s:%d", v6 ? "[" : "", addr, v6 ? "]" : "", cfg->admin_server_port);
    snprintf(urlstr, sizeof urlstr, "http://%s", where);

    struct admin_http *a = calloc(1, sizeof *a);
    if (a == NULL) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    a->host = host;
    a->srv = srv;
    a->wakefd = -1;
    pthread_mutex_init(&a->lock, NULL);
    nng_url *url = NULL;
    int rc = nng_url_parse(&url, urlstr);
    if (rc == 0)
        rc = nng_http_server_hold(&a->http, url);
    if (url)
        nng_url_free(url);
    if (rc == 0)
        rc = nng_http_handler_alloc(&a->handler, ADMIN_HTTP_PREFIX, admin_http_handle);
    if (rc == 0)
        rc = nng_http_handler_set_tree(a->handler);
    if (rc == 0)
        rc = nng_http_handler_set_data(a->handler, a, NULL);
    if (rc == 0) {
        rc = nng_http_server_add_handler(a->http, a->handler);
        if (rc != 0)
            nng_http_handler_free(a->handler);
        a->handler = NULL; /* the server owns it now, or it is gone */
    }
    if (rc != 0) {
        snprintf(err, errlen, "%s: %s", where, nng_strerror(rc));
        goto fail;
    }
    a->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (a->wakefd < 0 || loop_fd_add(srv->loop, a->wakefd, LOOP_READ, admin_http_on_wake, a) < 0) {
        snprintf(err, errlen, "%s: cannot create the wake-up descriptor: %s", where, strerror(errno));
        rc = NNG_ENOMEM;
        goto fail;
    }
    rc = nng_http_server_start(a->http);
    if (rc != 0) {
        snprintf(err, errlen, "%s: %s", where, nng_strerror(rc));
        loop_fd_remove(srv->loop, a->wakefd);
        goto fail;
    }
    nng_sockaddr sa;
    if (nng_http_server_get_addr(a->http, &sa) == 0)
        a->port = sa.s_family == NNG_AF_INET6 ? ntohs(sa.s_in6.sa_port) : ntohs(sa.s_in.sa_port);
    else
        a->port = cfg->admin_server_port;
    log_info("AdminServer listening on %s%s%s:%d%s", v6 ? "[" : "", addr, v6 ? "]" : "", a->port,
             ADMIN_HTTP_PREFIX);
    *out = a;
    return 0;
fail:
    if (a->http)
        nng_http_server_release(a->http);
    if (a->wakefd >= 0)
        close(a->wakefd);
    pthread_mutex_destroy(&a->lock);
    free(a);
    return rc == NNG_EADDRINUSE ? -EADDRINUSE : -EIO;
}

int admin_http_port(const struct admin_http *a)
{
    return a ? a->port : 0;
}

void admin_http_close(struct admin_http *a)
{
    if (a == NULL)
        return;
    pthread_mutex_lock(&a->lock);
    a->closing = true;
    struct admin_pending *list = a->head;
    a->head = a->tail = NULL;
    pthread_mutex_unlock(&a->lock);
    while (list) {
        struct admin_pending *p = list;
        list = p->next;
        admin_http_reply(p->aio, 503, NULL, NULL, 0);
        free(p);
    }
    nng_http_server_stop(a->http);
    nng_http_server_release(a->http);
    loop_fd_remove(a->srv->loop, a->wakefd);
    close(a->wakefd);
    pthread_mutex_destroy(&a->lock);
    free(a);
}
