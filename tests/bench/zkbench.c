/*
 * zkbench: a lean raw-protocol load generator for ZooKeeper-compatible
 * servers. Each session runs in its own thread over one blocking socket and
 * keeps a fixed number of requests outstanding (pipelining), so the figures
 * measure the server rather than a client library.
 *
 *   zkbench -p PORT [-s SESSIONS] [-o OUTSTANDING] [-n REQUESTS_PER_SESSION]
 *           [-w read|write|create] [-d DATA_BYTES] [-t SECONDS]
 *
 * Prints one line: operations per second, and latency percentiles (µs).
 * Every loop is bounded by the request count and the time limit.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "jute.h"

enum bench_kind { BENCH_READ, BENCH_WRITE, BENCH_CREATE };

struct bench_config {
    int port;
    int sessions;
    int outstanding;
    long requests;
    enum bench_kind kind;
    int data_bytes;
    double seconds;
};

struct bench_session {
    const struct bench_config *cfg;
    int index;
    int fd;
    long done;
    long errors;
    uint32_t *latencies; /* µs, one per completed request */
    pthread_t thread;
};

static uint64_t bench_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static int bench_write_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int bench_read_all(int fd, uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t r = read(fd, p, n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

/* Read one frame into *buf (grown as needed); returns its length or -1. */
static long bench_read_frame(int fd, uint8_t **buf, size_t *cap)
{
    uint8_t len4[4];
    if (bench_read_all(fd, len4, 4) < 0)
        return -1;
    uint32_t n = jute_get_u32(len4);
    if (n > 16u << 20)
        return -1;
    if (n > *cap) {
        uint8_t *b = realloc(*buf, n);
        if (b == NULL)
            return -1;
        *buf = b;
        *cap = n;
    }
    if (bench_read_all(fd, *buf, n) < 0)
        return -1;
    return (long)n;
}

static void bench_frame(jute_writer *w, size_t start)
{
    jute_patch_int(w, start, (int32_t)(w->len - start - 4));
}

static int bench_connect(const struct bench_config *cfg)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)cfg->port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        close(fd);
        return -1;
    }
    jute_writer w;
    jute_writer_init(&w, 64);
    jute_write_int(&w, 0);
    jute_write_int(&w, 0);
    jute_write_long(&w, 0);
    jute_write_int(&w, 30000);
    jute_write_long(&w, 0);
    uint8_t zero[16] = {0};
    jute_write_bytes(&w, zero, 16);
    jute_write_bool(&w, false);
    bench_frame(&w, 0);
    int rc = bench_write_all(fd, w.data, w.len);
    jute_writer_free(&w);
    uint8_t *buf = NULL;
    size_t cap = 0;
    if (rc < 0 || bench_read_frame(fd, &buf, &cap) < 0) {
        free(buf);
        close(fd);
        return -1;
    }
    free(buf);
    return fd;
}

static void bench_request(struct bench_session *s, jute_writer *w, int32_t xid, const char *path,
                          const uint8_t *data)
{
    size_t start = w->len;
    jute_write_int(w, 0);
    jute_write_int(w, xid);
    switch (s->cfg->kind) {
    case BENCH_READ:
        jute_write_int(w, 4); /* getData */
        jute_write_string(w, path);
        jute_write_bool(w, false);
        break;
    case BENCH_WRITE:
        jute_write_int(w, 5); /* setData */
        jute_write_string(w, path);
        jute_write_bytes(w, data, s->cfg->data_bytes);
        jute_write_int(w, -1);
        break;
    case BENCH_CREATE: {
        char p[128];
        snprintf(p, sizeof p, "%s/n-", path);
        jute_write_int(w, 1); /* create, persistent sequential */
        jute_write_string(w, p);
        jute_write_bytes(w, data, s->cfg->data_bytes);
        jute_write_int(w, 1);
        jute_write_int(w, 31);
        jute_write_string(w, "world");
        jute_write_string(w, "anyone");
        jute_write_int(w, 2);
        break;
    }
    }
    bench_frame(w, start);
}

static void *bench_run(void *arg)
{
    struct bench_session *s = arg;
    const struct bench_config *cfg = s->cfg;
    char path[64];
    snprintf(path, sizeof path, "/zkbench-%d", s->index);
    uint8_t *data = calloc(1, (size_t)cfg->data_bytes + 1);
    uint64_t *sent_at = calloc((size_t)cfg->outstanding, sizeof *sent_at);
    s->latencies = calloc((size_t)cfg->requests, sizeof *s->latencies);
    uint8_t *buf = NULL;
    size_t cap = 0;
    jute_writer w;
    jute_writer_init(&w, 4096);
    if (data == NULL || sent_at == NULL || s->latencies == NULL)
        goto out;
    memset(data, 'x', (size_t)cfg->data_bytes);

    /* The node this session reads, writes or creates under. */
    size_t start = w.len;
    jute_write_int(&w, 0);
    jute_write_int(&w, 1);
    jute_write_int(&w, 1);
    jute_write_string(&w, path);
    jute_write_bytes(&w, data, cfg->data_bytes);
    jute_write_int(&w, 1);
    jute_write_int(&w, 31);
    jute_write_string(&w, "world");
    jute_write_string(&w, "anyone");
    jute_write_int(&w, 0);
    bench_frame(&w, start);
    if (bench_write_all(s->fd, w.data, w.len) < 0 || bench_read_frame(s->fd, &buf, &cap) < 0)
        goto out;

    uint64_t deadline = bench_now_us() + (uint64_t)(cfg->seconds * 1e6);
    long sent = 0;
    int32_t xid = 2;
    w.len = 0;
    for (; sent < cfg->outstanding && sent < cfg->requests; sent++) {
        sent_at[sent % cfg->outstanding] = bench_now_us();
        bench_request(s, &w, xid++, path, data);
    }
    if (bench_write_all(s->fd, w.data, w.len) < 0)
        goto out;
    while (s->done < sent) {
        if (bench_read_frame(s->fd, &buf, &cap) < 12)
            break;
        uint64_t now = bench_now_us();
        if ((int32_t)jute_get_u32(buf + 12) != 0)
            s->errors++;
        s->latencies[s->done] = (uint32_t)(now - sent_at[s->done % cfg->outstanding]);
        s->done++;
        if (sent < cfg->requests && now < deadline) {
            w.len = 0;
            sent_at[sent % cfg->outstanding] = now;
            bench_request(s, &w, xid++, path, data);
            if (bench_write_all(s->fd, w.data, w.len) < 0)
                break;
            sent++;
        }
    }
out:
    jute_writer_free(&w);
    free(buf);
    free(data);
    free(sent_at);
    return NULL;
}

static int bench_cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    struct bench_config cfg = {.port = 2181, .sessions = 8, .outstanding = 32, .requests = 100000,
                               .kind = BENCH_READ, .data_bytes = 100, .seconds = 10};
    int opt;
    while ((opt = getopt(argc, argv, "p:s:o:n:w:d:t:")) != -1) {
        switch (opt) {
        case 'p': cfg.port = atoi(optarg); break;
        case 's': cfg.sessions = atoi(optarg); break;
        case 'o': cfg.outstanding = atoi(optarg); break;
        case 'n': cfg.requests = atol(optarg); break;
        case 'w':
            cfg.kind = strcmp(optarg, "write") == 0 ? BENCH_WRITE : strcmp(optarg, "create") == 0 ? BENCH_CREATE : BENCH_READ;
            break;
        case 'd': cfg.data_bytes = atoi(optarg); break;
        case 't': cfg.seconds = atof(optarg); break;
        default:
            fprintf(stderr, "usage: zkbench -p PORT [-s SESSIONS] [-o OUTSTANDING] [-n REQUESTS] "
                            "[-w read|write|create] [-d BYTES] [-t SECONDS]\n");
            return 2;
        }
    }
    if (cfg.sessions < 1 || cfg.outstanding < 1 || cfg.requests < 1 || cfg.data_bytes < 0) {
        fprintf(stderr, "zkbench: sessions, outstanding and requests must be positive\n");
        return 2;
    }
    struct bench_session *s = calloc((size_t)cfg.sessions, sizeof *s);
    if (s == NULL)
        return 1;
    for (int i = 0; i < cfg.sessions; i++) {
        s[i] = (struct bench_session){.cfg = &cfg, .index = i};
        s[i].fd = bench_connect(&cfg);
        if (s[i].fd < 0) {
            fprintf(stderr, "zkbench: cannot open session %d on 127.0.0.1:%d\n", i, cfg.port);
            return 1;
        }
    }
    uint64_t t0 = bench_now_us();
    for (int i = 0; i < cfg.sessions; i++)
        pthread_create(&s[i].thread, NULL, bench_run, &s[i]);
    long total = 0, errors = 0;
    for (int i = 0; i < cfg.sessions; i++) {
        pthread_join(s[i].thread, NULL);
        total += s[i].done;
        errors += s[i].errors;
    }
    double secs = (double)(bench_now_us() - t0) / 1e6;
    uint32_t *all = malloc((size_t)(total ? total : 1) * sizeof *all);
    long k = 0;
    for (int i = 0; all && i < cfg.sessions; i++) {
        memcpy(all + k, s[i].latencies, (size_t)s[i].done * sizeof *all);
        k += s[i].done;
        free(s[i].latencies);
        close(s[i].fd);
    }
    if (all && total)
        qsort(all, (size_t)total, sizeof *all, bench_cmp_u32);
    const char *kinds[] = {"read", "write", "create"};
    printf("%s sessions=%d outstanding=%d ops=%ld errors=%ld secs=%.2f ops/s=%.0f "
           "p50_us=%u p99_us=%u p999_us=%u\n",
           kinds[cfg.kind], cfg.sessions, cfg.outstanding, total, errors, secs, total / secs,
           total ? all[total / 2] : 0, total ? all[total * 99 / 100] : 0, total ? all[total * 999 / 1000] : 0);
    free(all);
    free(s);
    return errors ? 1 : 0;
}
