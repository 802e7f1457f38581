/*
 * JAAS login configuration files (java.security.auth.login.config): the SASL
 * users and passwords of one section, for sasl.c. See jaas.c for the syntax.
 * The list is read-only once loaded and may be read from any thread.
 */
#ifndef ZKPLUG_JAAS_H
#define ZKPLUG_JAAS_H

#include <stddef.h>

struct jaas_users;

/* Reads the file and collects the user_NAME="password" options of every
 * login module of section `section`. *out is NULL when the file has no such
 * section (SASL then has no server login, as in ZooKeeper), else the
 * (possibly empty) list. Returns 0, or -EINVAL (err: "PATH:LINE: reason") /
 * -errno (err: "PATH: reason"). */
int jaas_load(const char *path, const char *section, struct jaas_users **out, char *err, size_t errlen);
/* NULL-safe; wipes the passwords. */
void jaas_users_free(struct jaas_users *u);
size_t jaas_users_count(const struct jaas_users *u);
/* The password of user, or NULL. Borrowed from u. */
const char *jaas_password(const struct jaas_users *u, const char *user);

#endif
