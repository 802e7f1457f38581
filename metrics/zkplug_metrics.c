/*
 * zkplug-metrics: command-line client of the metrics bus.
 *
 *   zkplug-metrics [OPTIONS] list [PATTERN] [--detail]
 *   zkplug-metrics [OPTIONS] get BEAN [ATTRIBUTE...]
 *   zkplug-metrics [OPTIONS] set BEAN ATTRIBUTE VALUE
 *   zkplug-metrics [OPTIONS] invoke BEAN OPERATION
 *   zkplug-metrics [OPTIONS] watch [PREFIX] [--count N]
 *
 * Options: -q/--query URL (default tcp://127.0.0.1:7182), -s/--subscribe URL
 * (default tcp://127.0.0.1:7181), --json (print the server's JSON as is),
 * --timeout MS (query reply wait; for watch, the longest run), TLS for
 * tls+tcp:// addresses: --tls-ca FILE, --tls-cert FILE, --tls-key FILE,
 * --tls-server-name NAME.
 *
 * Exit status: 0 success; 1 the server answered an error; 2 usage; 3 the
 * bus could not be reached. The protocol is docs/metrics.md.
 */
#include <errno.h>
#include <inttypes.h>
#include <nng/nng.h>
#include <nng/protocol/pubsub0/sub.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/tls/tls.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mbus_json.h"
#include "mbus_msg.h"
#include "metrics_buf.h"

struct cli {
    const char *query_url, *sub_url;
    const char *tls_ca, *tls_cert, *tls_key, *tls_server_name;
    bool json, detail;
    long timeout_ms;
    long count;
};

static void cli_usage(void)
{
    fprintf(stderr,
            "usage: zkplug-metrics [-q URL] [-s URL] [--json] [--timeout MS] [--tls-ca F] [--tls-cert F --tls-key F]\n"
            "                      [--tls-server-name NAME] COMMAND\n"
            "  list [PATTERN] [--detail]     beans whose name starts with PATTERN (or matches a * ? glob)\n"
            "  get BEAN [ATTRIBUTE...]        attribute values\n"
            "  set BEAN ATTRIBUTE VALUE       set a writable attribute\n"
            "  invoke BEAN OPERATION          run an operation\n"
            "  watch [PREFIX] [--count N]     print published updates and events, one line each\n");
}

/* ------------------------------------------------------------ JSON out */

static void cli_json_write(struct metrics_buf *b, const struct mbus_json *j)
{
    switch (j->type) {
    case MBUS_JSON_NULL: metrics_buf_puts(b, "null"); break;
    case MBUS_JSON_BOOL: metrics_buf_puts(b, j->b ? "true" : "false"); break;
    case MBUS_JSON_NUMBER:
        if (j->is_int)
            mbus_json_int(b, j->i);
        else
            mbus_json_double(b, j->num);
        break;
    case MBUS_JSON_STRING: mbus_json_string_n(b, j->s, j->len); break;
    case MBUS_JSON_ARRAY:
    case MBUS_JSON_OBJECT: {
        bool obj = j->type == MBUS_JSON_OBJECT;
        metrics_buf_putc(b, obj ? '{' : '[');
        for (const struct mbus_json *c = j->child; c; c = c->next) {
            if (c != j->child)
                metrics_buf_putc(b, ',');
            if (obj) {
                mbus_json_string(b, c->key);
                metrics_buf_putc(b, ':');
            }
            cli_json_write(b, c);
        }
        metrics_buf_putc(b, obj ? '}' : ']');
        break;
    }
    }
}

/* A value for humans: strings bare, the rest as JSON. */
static void cli_print_value(FILE *f, const struct mbus_json *j)
{
    if (j->type == MBUS_JSON_STRING) {
        fwrite(j->s, 1, j->len, f);
        return;
    }
    struct metrics_buf b;
    metrics_buf_init(&b);
    cli_json_write(&b, j);
    if (b.data)
        fputs(b.data, f);
    metrics_buf_free(&b);
}

/* ------------------------------------------------------------ sockets */

static int cli_tls(const struct cli *c, nng_dialer d)
{
    nng_tls_config *cfg;
    int rc = nng_tls_config_alloc(&cfg, NNG_TLS_MODE_CLIENT);
    if (rc != 0)
        return rc;
    if (c->tls_ca) {
        rc = nng_tls_config_ca_file(cfg, c->tls_ca);
        if (rc == 0)
            rc = nng_tls_config_auth_mode(cfg, NNG_TLS_AUTH_MODE_REQUIRED);
    } else {
        rc = nng_tls_config_auth_mode(cfg, NNG_TLS_AUTH_MODE_NONE);
    }
    if (rc == 0 && c->tls_cert && c->tls_key) {
        /* nng takes a file holding both the certificate and the key. */
        char path[] = "/tmp/zkplug-metrics-XXXXXX";
        int fd = mkstemp(path);
        FILE *out = fd >= 0 ? fdopen(fd, "w") : NULL;
        const char *files[2] = {c->tls_cert, c->tls_key};
        for (int i = 0; out && i < 2; i++) {
            FILE *in = fopen(files[i], "r");
            if (in == NULL) {
                rc = NNG_ENOENT;
                break;
            }
            char buf[4096];
            size_t n;
            while ((n = fread(buf, 1, sizeof buf, in)) > 0)
                fwrite(buf, 1, n, out);
            fclose(in);
        }
        if (out)
            fclose(out);
        if (rc == 0)
            rc = fd >= 0 ? nng_tls_config_cert_key_file(cfg, path, NULL) : NNG_ENOMEM;
        if (fd >= 0)
            unlink(path);
    }
    if (rc == 0 && c->tls_server_name)
        rc = nng_tls_config_server_name(cfg, c->tls_server_name);
    if (rc == 0)
        rc = nng_dialer_set_ptr(d, NNG_OPT_TLS_CONFIG, cfg);
    nng_tls_config_free(cfg);
    return rc;
}

static int cli_dial(const struct cli *c, nng_socket s, const char *url, bool block)
{
    nng_dialer d;
    int rc = nng_dialer_create(&d, s, url);
    if (rc == 0 && strncmp(url, "tls+", 4) == 0)
        rc = cli_tls(c, d);
    if (rc == 0)
        rc = nng_dialer_start(d, block ? 0 : NNG_FLAG_NONBLOCK);
    if (rc != 0)
        fprintf(stderr, "zkplug-metrics: %s: %s\n", url, nng_strerror(rc));
    return rc;
}

/* Send one request, return the parsed reply (and its text in raw). */
static struct mbus_json *cli_request(const struct cli *c, const struct metrics_buf *req, struct metrics_buf *raw,
                                     int *status)
{
    nng_socket s;
    *status = 3;
    if (nng_req0_open(&s) != 0)
        return NULL;
    nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, c->timeout_ms);
    nng_socket_set_ms(s, NNG_OPT_SENDTIMEO, c->timeout_ms);
    if (cli_dial(c, s, c->query_url, true) != 0) {
        nng_close(s);
        return NULL;
    }
    int rc = nng_send(s, req->data, req->len, 0);
    char *buf = NULL;
    size_t len = 0;
    if (rc == 0)
        rc = nng_recv(s, &buf, &len, NNG_FLAG_ALLOC);
    nng_close(s);
    if (rc != 0) {
        fprintf(stderr, "zkplug-metrics: %s: %s\n", c->query_url, nng_strerror(rc));
        return NULL;
    }
    metrics_buf_append(raw, buf, len);
    nng_free(buf, len);
    char err[256];
    struct mbus_json *reply = mbus_json_parse(raw->data ? raw->data : "", raw->len, err, sizeof err);
    if (reply == NULL) {
        fprintf(stderr, "zkplug-metrics: unreadable reply: %s\n", err);
        return NULL;
    }
    const struct mbus_json *ok = mbus_json_get(reply, "ok");
    if (ok == NULL || ok->type != MBUS_JSON_BOOL || !ok->b) {
        const struct mbus_json *e = mbus_json_get(reply, "error");
        const char *code = mbus_json_get_string(e, "code"), *msg = mbus_json_get_string(e, "message");
        if (!c->json)
            fprintf(stderr, "zkplug-metrics: %s: %s\n", code ? code : "error", msg ? msg : "request refused");
        *status = 1;
    } else {
        *status = 0;
    }
    return reply;
}

static void cli_req_begin(struct metrics_buf *b, const char *op)
{
    metrics_buf_printf(b, "{\"v\":%d,\"id\":1,\"op\":\"%s\"", MBUS_PROTOCOL_VERSION, op);
}

/* A command-line value as JSON: numbers and booleans as such, else a string. */
static void cli_value(struct metrics_buf *b, const char *v)
{
    char err[64];
    struct mbus_json *j = mbus_json_parse(v, strlen(v), err, sizeof err);
    if (j && (j->type == MBUS_JSON_NUMBER || j->type == MBUS_JSON_BOOL))
        metrics_buf_puts(b, v);
    else
        mbus_json_string(b, v);
    mbus_json_free(j);
}

static int cli_run_query(const struct cli *c, int argc, char **argv)
{
    const char *cmd = argv[0];
    struct metrics_buf req;
    metrics_buf_init(&req);
    if (strcmp(cmd, "list") == 0 && argc <= 2) {
        cli_req_begin(&req, "list");
        if (argc == 2) {
            metrics_buf_puts(&req, ",\"pattern\":");
            mbus_json_string(&req, argv[1]);
        }
        if (c->detail)
            metrics_buf_puts(&req, ",\"detail\":true");
    } else if (strcmp(cmd, "get") == 0 && argc >= 2) {
        cli_req_begin(&req, "get");
        metrics_buf_puts(&req, ",\"bean\":");
        mbus_json_string(&req, argv[1]);
        if (argc > 2) {
            metrics_buf_puts(&req, ",\"attributes\":[");
            for (int i = 2; i < argc; i++) {
                if (i > 2)
                    metrics_buf_putc(&req, ',');
                mbus_json_string(&req, argv[i]);
            }
            metrics_buf_putc(&req, ']');
        }
    } else if (strcmp(cmd, "set") == 0 && argc == 4) {
        cli_req_begin(&req, "set");
        metrics_buf_puts(&req, ",\"bean\":");
        mbus_json_string(&req, argv[1]);
        metrics_buf_puts(&req, ",\"attribute\":");
        mbus_json_string(&req, argv[2]);
        metrics_buf_puts(&req, ",\"value\":");
        cli_value(&req, argv[3]);
    } else if (strcmp(cmd, "invoke") == 0 && argc == 3) {
        cli_req_begin(&req, "invoke");
        metrics_buf_puts(&req, ",\"bean\":");
        mbus_json_string(&req, argv[1]);
        metrics_buf_puts(&req, ",\"operation\":");
        mbus_json_string(&req, argv[2]);
    } else {
        metrics_buf_free(&req);
        cli_usage();
        return 2;
    }
    metrics_buf_putc(&req, '}');
    struct metrics_buf raw;
    metrics_buf_init(&raw);
    int status;
    struct mbus_json *reply = cli_request(c, &req, &raw, &status);
    metrics_buf_free(&req);
    if (reply == NULL) {
        metrics_buf_free(&raw);
        return 3;
    }
    if (c->json) {
        printf("%s\n", raw.data);
    } else if (status == 0) {
        if (strcmp(cmd, "list") == 0) {
            const struct mbus_json *beans = mbus_json_get(reply, "beans");
            for (const struct mbus_json *b = beans ? beans->child : NULL; b; b = b->next) {
                printf("%s\n", mbus_json_get_string(b, "name"));
                const struct mbus_json *attrs = mbus_json_get(b, "attributes");
                for (const struct mbus_json *a = attrs ? attrs->child : NULL; a; a = a->next) {
                    const struct mbus_json *w = mbus_json_get(a, "writable");
                    printf("  attribute %s (%s, %s%s)\n", mbus_json_get_string(a, "name"),
                           mbus_json_get_string(a, "type"), mbus_json_get_string(a, "kind"),
                           w && w->b ? ", writable" : "");
                }
                const struct mbus_json *ops = mbus_json_get(b, "operations");
                for (const struct mbus_json *o = ops ? ops->child : NULL; o; o = o->next)
                    printf("  operation %s: %s\n", mbus_json_get_string(o, "name"),
                           mbus_json_get_string(o, "description"));
            }
        } else if (strcmp(cmd, "get") == 0) {
            const struct mbus_json *attrs = mbus_json_get(reply, "attributes");
            for (const struct mbus_json *a = attrs ? attrs->child : NULL; a; a = a->next) {
                printf("%s: ", a->key);
                cli_print_value(stdout, a);
                putchar('\n');
            }
        } else if (strcmp(cmd, "set") == 0) {
            const struct mbus_json *v = mbus_json_get(reply, "value");
            printf("%s = ", argv[2]);
            if (v)
                cli_print_value(stdout, v);
            putchar('\n');
        } else {
            const struct mbus_json *v = mbus_json_get(reply, "result");
            if (v && v->type != MBUS_JSON_NULL) {
                cli_print_value(stdout, v);
                putchar('\n');
            } else {
                printf("%s: done\n", argv[2]);
            }
        }
    }
    mbus_json_free(reply);
    metrics_buf_free(&raw);
    return status;
}

/* ------------------------------------------------------------- watch */

static long cli_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* One published message as one line for humans:
 * "<seq> <kind> <bean> [Attr=value ...]" or the event's fields. */
static void cli_watch_line(const char *msg, size_t len, bool json)
{
    const char *space = memchr(msg, ' ', len);
    if (space == NULL)
        return;
    const char *body = space + 1;
    size_t blen = len - (size_t)(body - msg);
    if (json) {
        printf("%.*s\n", (int)blen, body);
        fflush(stdout);
        return;
    }
    char err[128];
    struct mbus_json *j = mbus_json_parse(body, blen, err, sizeof err);
    if (j == NULL) {
        printf("unreadable message: %s\n", err);
        return;
    }
    const struct mbus_json *seq = mbus_json_get(j, "seq");
    const char *kind = mbus_json_get_string(j, "kind");
    printf("%" PRId64 " %s %s", seq && seq->is_int ? seq->i : 0, kind ? kind : "?", mbus_json_get_string(j, "bean"));
    const struct mbus_json *attrs = mbus_json_get(j, "attributes");
    for (const struct mbus_json *a = attrs ? attrs->child : NULL; a; a = a->next) {
        printf(" %s=", a->key);
        if (a->type == MBUS_JSON_STRING) {
            printf("\"%.*s\"", (int)a->len, a->s);
        } else {
            cli_print_value(stdout, a);
        }
    }
    for (const char *const *k = (const char *const[]){"state", "previous", "leader", NULL}; *k; k++) {
        const struct mbus_json *v = mbus_json_get(j, *k);
        if (v) {
            printf(" %s=", *k);
            cli_print_value(stdout, v);
        }
    }
    putchar('\n');
    fflush(stdout);
    mbus_json_free(j);
}

static int cli_watch(const struct cli *c, int argc, char **argv)
{
    if (argc > 2) {
        cli_usage();
        return 2;
    }
    const char *prefix = argc == 2 ? argv[1] : "";
    nng_socket s;
    if (nng_sub0_open(&s) != 0)
        return 3;
    nng_socket_set(s, NNG_OPT_SUB_SUBSCRIBE, prefix, strlen(prefix));
    nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, 200);
    /* Non-blocking dial: nng keeps retrying until the server is there. */
    if (cli_dial(c, s, c->sub_url, false) != 0) {
        nng_close(s);
        return 3;
    }
    long deadline = c->timeout_ms > 0 ? cli_now_ms() + c->timeout_ms : 0;
    long seen = 0;
    while (c->count <= 0 || seen < c->count) {
        if (deadline && cli_now_ms() >= deadline)
            break;
        char *buf = NULL;
        size_t len = 0;
        int rc = nng_recv(s, &buf, &len, NNG_FLAG_ALLOC);
        if (rc == NNG_ETIMEDOUT)
            continue;
        if (rc != 0) {
            fprintf(stderr, "zkplug-metrics: %s: %s\n", c->sub_url, nng_strerror(rc));
            nng_close(s);
            return 3;
        }
        cli_watch_line(buf, len, c->json);
        nng_free(buf, len);
        seen++;
    }
    nng_close(s);
    return 0;
}

int main(int argc, char **argv)
{
    struct cli c = {
        .query_url = "tcp://127.0.0.1:7182", .sub_url = "tcp://127.0.0.1:7181", .timeout_ms = 5000};
    char **rest = calloc((size_t)argc + 1, sizeof *rest);
    int nrest = 0;
    bool timeout_set = false;
    if (rest == NULL)
        return 3;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool has_value = i + 1 < argc;
        if ((strcmp(a, "-q") == 0 || strcmp(a, "--query") == 0) && has_value)
            c.query_url = argv[++i];
        else if ((strcmp(a, "-s") == 0 || strcmp(a, "--subscribe") == 0) && has_value)
            c.sub_url = argv[++i];
        else if (strcmp(a, "--json") == 0)
            c.json = true;
        else if (strcmp(a, "--detail") == 0)
            c.detail = true;
        else if (strcmp(a, "--timeout") == 0 && has_value) {
            c.timeout_ms = strtol(argv[++i], NULL, 10);
            timeout_set = true;
        } else if (strcmp(a, "--count") == 0 && has_value)
            c.count = strtol(argv[++i], NULL, 10);
        else if (strcmp(a, "--tls-ca") == 0 && has_value)
            c.tls_ca = argv[++i];
        else if (strcmp(a, "--tls-cert") == 0 && has_value)
            c.tls_cert = argv[++i];
        else if (strcmp(a, "--tls-key") == 0 && has_value)
            c.tls_key = argv[++i];
        else if (strcmp(a, "--tls-server-name") == 0 && has_value)
            c.tls_server_name = argv[++i];
        else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            cli_usage();
            free(rest);
            return 0;
        } else if (a[0] == '-' && a[1] == '-') {
            fprintf(stderr, "zkplug-metrics: unknown option %s\n", a);
            cli_usage();
            free(rest);
            return 2;
        } else
            rest[nrest++] = argv[i];
    }
    int status;
    if (nrest == 0) {
        cli_usage();
        status = 2;
    } else if (strcmp(rest[0], "watch") == 0) {
        if (!timeout_set)
            c.timeout_ms = 0; /* watch runs until interrupted */
        status = cli_watch(&c, nrest, rest);
    } else {
        status = cli_run_query(&c, nrest, rest);
    }
    free(rest);
    return status;
}
