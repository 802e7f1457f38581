/*
 * JAAS login configuration files (java.security.auth.login.config), read as
 * Java's ConfigFile reads them, for the SASL users of ZooKeeper's "Server"
 * section: the user_NAME="password" options of its login modules, as
 * SaslServerCallbackHandler collects them (a later option for the same user
 * wins). Syntax:
 *   NAME { MODULE.CLASS FLAG key="value" key=value ...; ... };
 * with FLAG one of required, requisite, sufficient, optional (any case),
 * // and slash-star comments, and Java's backslash escapes in quoted values.
 * A name may appear once. ${property} expansion is not done.
 */
#define _GNU_SOURCE
#include "jaas.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"

/* Java's ConfigFile reads small files; this only stops a wrong path. */
#define JAAS_MAX_SIZE (1024 * 1024)

struct jaas_user {
    char *name;
    char *password;
};

struct jaas_users {
    struct jaas_user *v;
    size_t n;
};

void jaas_users_free(struct jaas_users *u)
{
    if (u == NULL)
        return;
    for (size_t i = 0; i < u->n; i++) {
        free(u->v[i].name);
        if (u->v[i].password) {
            explicit_bzero(u->v[i].password, strlen(u->v[i].password));
            free(u->v[i].password);
        }
    }
    free(u->v);
    free(u);
}

size_t jaas_users_count(const struct jaas_users *u)
{
    return u ? u->n : 0;
}

/* Later options replace earlier ones, as the HashMap in ZooKeeper. */
static int jaas_users_put(struct jaas_users *u, const char *name, const char *password)
{
    for (size_t i = 0; i < u->n; i++) {
        if (strcmp(u->v[i].name, name) == 0) {
            char *p = strdup(password);
            if (p == NULL)
                return -ENOMEM;
            explicit_bzero(u->v[i].password, strlen(u->v[i].password));
            free(u->v[i].password);
            u->v[i].password = p;
            return 0;
        }
    }
    struct jaas_user *v = realloc(u->v, (u->n + 1) * sizeof *v);
    if (v == NULL)
        return -ENOMEM;
    u->v = v;
    v[u->n].name = strdup(name);
    v[u->n].password = strdup(password);
    if (v[u->n].name == NULL || v[u->n].password == NULL) {
        free(v[u->n].name);
        free(v[u->n].password);
        return -ENOMEM;
    }
    u->n++;
    return 0;
}

/* A tokenizer after java.io.StreamTokenizer as ConfigFile sets it up. */
enum jaas_tok { TOK_EOF, TOK_WORD, TOK_STRING, TOK_CHAR, TOK_ERROR };

struct jaas_lexer {
    const char *p, *end;
    int line;
    char *text; /* TOK_WORD / TOK_STRING value, malloc'ed */
    char ch;    /* TOK_CHAR */
};

static bool jaas_is_word_char(char c)
{
    return c != '\0' && strchr(" \t\r\n\f\v{};=\"", c) == NULL;
}

static enum jaas_tok jaas_next(struct jaas_lexer *lx)
{
    free(lx->text);
    lx->text = NULL;
    for (;;) {
        while (lx->p < lx->end && strchr(" \t\r\n\f\v", *lx->p) != NULL) {
            if (*lx->p == '\n')
                lx->line++;
            lx->p++;
        }
        if (lx->p + 1 < lx->end && lx->p[0] == '/' && lx->p[1] == '/') {
            while (lx->p < lx->end && *lx->p != '\n')
                lx->p++;
            continue;
        }
        if (lx->p + 1 < lx->end && lx->p[0] == '/' && lx->p[1] == '*') {
            lx->p += 2;
            while (lx->p + 1 < lx->end && !(lx->p[0] == '*' && lx->p[1] == '/')) {
                if (*lx->p == '\n')
                    lx->line++;
                lx->p++;
            }
            if (lx->p + 1 >= lx->end)
                return TOK_ERROR;
            lx->p += 2;
            continue;
        }
        break;
    }
    if (lx->p >= lx->end)
        return TOK_EOF;
    if (*lx->p == '"') {
        /* StreamTokenizer: a quoted string ends at the closing quote or the
         * end of the line; backslash escapes as in Java. */
        size_t cap = (size_t)(lx->end - lx->p) + 1, n = 0;
        char *s = malloc(cap);
        if (s == NULL)
            return TOK_ERROR;
        lx->p++;
        while (lx->p < lx->end && *lx->p != '"' && *lx->p != '\n') {
            char c = *lx->p++;
            if (c == '\\' && lx->p < lx->end) {
                char e = *lx->p++;
                switch (e) {
                case 'n': c = '\n'; break;
                case 't': c = '\t'; break;
                case 'r': c = '\r'; break;
                case 'b': c = '\b'; break;
                case 'f': c = '\f'; break;
                case 'a': c = '\a'; break;
                case 'v': c = '\v'; break;
                default: c = e; break;
                }
            }
            s[n++] = c;
        }
        if (lx->p < lx->end && *lx->p == '"')
            lx->p++;
        s[n] = '\0';
        lx->text = s;
        return TOK_STRING;
    }
    if (jaas_is_word_char(*lx->p)) {
        const char *start = lx->p;
        while (lx->p < lx->end && jaas_is_word_char(*lx->p))
            lx->p++;
        lx->text = strndup(start, (size_t)(lx->p - start));
        return lx->text ? TOK_WORD : TOK_ERROR;
    }
    lx->ch = *lx->p++;
    return TOK_CHAR;
}

static bool jaas_is_char(enum jaas_tok t, const struct jaas_lexer *lx, char c)
{
    return t == TOK_CHAR && lx->ch == c;
}

static int __attribute__((format(printf, 5, 6)))
jaas_fail(char *err, size_t errlen, const char *path, int line, const char *fmt, ...)
{
    if (err != NULL && errlen > 0) {
        int n = snprintf(err, errlen, "%s:%d: ", path, line);
        if (n >= 0 && (size_t)n < errlen) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
            va_end(ap);
        }
    }
    return -EINVAL;
}

static char *jaas_read_file(const char *path, int *rc)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        *rc = -errno;
        return NULL;
    }
    char *buf = malloc(JAAS_MAX_SIZE + 1);
    if (buf == NULL) {
        fclose(f);
        *rc = -ENOMEM;
        return NULL;
    }
    size_t n = fread(buf, 1, JAAS_MAX_SIZE + 1, f);
    bool bad = ferror(f) != 0;
    fclose(f);
    if (bad || n > JAAS_MAX_SIZE) {
        free(buf);
        *rc = bad ? -EIO : -EFBIG;
        return NULL;
    }
    buf[n] = '\0';
    *rc = 0;
    return buf;
}

int jaas_load(const char *path, const char *section, struct jaas_users **out, char *err,
                    size_t errlen)
{
    *out = NULL;
    int rc;
    char *text = jaas_read_file(path, &rc);
    if (text == NULL) {
        if (err != NULL && errlen > 0)
            snprintf(err, errlen, "%s: cannot read the JAAS configuration: %s", path, strerror(-rc));
        return rc;
    }
    struct jaas_users *users = NULL;
    bool found = false;
    char *app = NULL, *key = NULL;
    struct jaas_lexer lx = {.p = text, .end = text + strlen(text), .line = 1};
    char **seen = NULL;
    size_t nseen = 0;
    rc = 0;

    for (;;) {
        enum jaas_tok t = jaas_next(&lx);
        if (t == TOK_EOF)
            break;
        if (t != TOK_WORD && t != TOK_STRING) {
            rc = jaas_fail(err, errlen, path, lx.line, "expected a login entry name");
            goto done;
        }
        free(app);
        app = lx.text;
        lx.text = NULL;
        for (size_t i = 0; i < nseen; i++) {
            if (strcmp(seen[i], app) == 0) {
                rc = jaas_fail(err, errlen, path, lx.line,
                                     "can not specify multiple entries for %s", app);
                goto done;
            }
        }
        char **ns = realloc(seen, (nseen + 1) * sizeof *ns);
        if (ns == NULL || (ns[nseen] = strdup(app)) == NULL) {
            seen = ns ? ns : seen;
            rc = -ENOMEM;
            goto done;
        }
        seen = ns;
        nseen++;
        bool mine = strcmp(app, section) == 0;
        if (mine) {
            found = true;
            users = calloc(1, sizeof *users);
            if (users == NULL) {
                rc = -ENOMEM;
                goto done;
            }
        }
        if (!jaas_is_char(jaas_next(&lx), &lx, '{')) {
            rc = jaas_fail(err, errlen, path, lx.line, "expected '{' after %s", app);
            goto done;
        }
        /* Modules: CLASS FLAG (key=value)* ';' ... until '}' ';' */
        for (;;) {
            t = jaas_next(&lx);
            if (jaas_is_char(t, &lx, '}'))
                break;
            if (t != TOK_WORD) {
                rc = jaas_fail(err, errlen, path, lx.line, "expected a login module class name");
                goto done;
            }
            bool digest = strstr(lx.text, "DigestLoginModule") != NULL;
            if (mine && !digest)
                log_warn("%s: section %s: login module %s is not supported, only the user_NAME "
                         "options of DigestLoginModule (DIGEST-MD5) are used",
                         path, section, lx.text);
            t = jaas_next(&lx);
            if (t != TOK_WORD || (strcasecmp(lx.text, "required") != 0 && strcasecmp(lx.text, "requisite") != 0 &&
                                  strcasecmp(lx.text, "sufficient") != 0 && strcasecmp(lx.text, "optional") != 0)) {
                rc = jaas_fail(err, errlen, path, lx.line,
                                     "expected a control flag (required, requisite, sufficient, optional)");
                goto done;
            }
            for (;;) {
                t = jaas_next(&lx);
                if (jaas_is_char(t, &lx, ';'))
                    break;
                if (t != TOK_WORD) {
                    rc = jaas_fail(err, errlen, path, lx.line, "expected an option name or ';'");
                    goto done;
                }
                free(key);
                key = lx.text;
                lx.text = NULL;
                if (!jaas_is_char(jaas_next(&lx), &lx, '=')) {
                    rc = jaas_fail(err, errlen, path, lx.line, "expected '=' after %s", key);
                    goto done;
                }
                t = jaas_next(&lx);
                if (t != TOK_WORD && t != TOK_STRING) {
                    rc = jaas_fail(err, errlen, path, lx.line, "expected a value for %s", key);
                    goto done;
                }
                if (mine && strncmp(key, "user_", 5) == 0) {
                    rc = jaas_users_put(users, key + 5, lx.text);
                    if (rc != 0)
                        goto done;
                }
            }
        }
        if (!jaas_is_char(jaas_next(&lx), &lx, ';')) {
            rc = jaas_fail(err, errlen, path, lx.line, "expected ';' after the '}' of %s", app);
            goto done;
        }
    }

done:
    if (rc == -ENOMEM && err != NULL && errlen > 0)
        snprintf(err, errlen, "%s: out of memory", path);
    free(lx.text);
    free(app);
    free(key);
    for (size_t i = 0; i < nseen; i++)
        free(seen[i]);
    free(seen);
    explicit_bzero(text, strlen(text));
    free(text);
    if (rc != 0 || !found) {
        jaas_users_free(users);
        return rc;
    }
    *out = users;
    return 0;
}

const char *jaas_password(const struct jaas_users *u, const char *user)
{
    for (size_t i = 0; u && i < u->n; i++)
        if (strcmp(u->v[i].name, user) == 0)
            return u->v[i].password;
    return NULL;
}
