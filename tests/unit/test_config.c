/*
 * Tests for core/config.c: the Java-properties syntax of zoo.cfg, ZooKeeper's
 * defaults and value rules, the exact error messages, warnings (captured by
 * pointing the server log at a temporary file), server.N lines, the dynamic
 * config file, myid, and the typed lookups plugins use.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "jaas.h"
#include "log.h"

struct fixture {
    char dir[64];
    char log_path[128];
    struct zk_config cfg;
    char err[512];
};

static int test_setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    snprintf(f->dir, sizeof f->dir, "/tmp/zkplug-config-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->log_path, sizeof f->log_path, "%s/log", f->dir);
    assert_int_equal(log_open_file(f->log_path), 0);
    log_set_level(ZKP_LOG_DEBUG);
    *state = f;
    return 0;
}

static int test_remove_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int test_teardown(void **state)
{
    struct fixture *f = *state;
    config_free(&f->cfg);
    log_open_file(NULL);
    nftw(f->dir, test_remove_cb, 8, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

/* The log written so far; caller frees. */
static char *test_log(struct fixture *f)
{
    FILE *fp = fopen(f->log_path, "r");
    assert_non_null(fp);
    char *buf = calloc(1, 65536);
    assert_non_null(buf);
    size_t n = fread(buf, 1, 65535, fp);
    buf[n] = '\0';
    fclose(fp);
    return buf;
}

static int test_count(const char *haystack, const char *needle)
{
    int n = 0;
    for (const char *p = haystack; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

static void test_assert_log_has(struct fixture *f, const char *needle, int times)
{
    char *log = test_log(f);
    if (test_count(log, needle) != times)
        fail_msg("expected %d x '%s' in log:\n%s", times, needle, log);
    free(log);
}

static void test_write(struct fixture *f, const char *name, const char *text, char *path, size_t len)
{
    snprintf(path, len, "%s/%s", f->dir, name);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
}

/* Each parse starts with an empty log so assertions see only its lines. */
static void test_log_reset(struct fixture *f)
{
    assert_int_equal(truncate(f->log_path, 0), 0);
}

static int test_parse(struct fixture *f, const char *text)
{
    config_free(&f->cfg);
    test_log_reset(f);
    f->err[0] = '\0';
    return config_parse("conf/zoo.cfg", text, &f->cfg, f->err, sizeof f->err);
}

static void test_parse_ok(struct fixture *f, const char *text)
{
    int rc = test_parse(f, text);
    if (rc != 0)
        fail_msg("parse failed (%d): %s", rc, f->err);
}

static void test_parse_fails(struct fixture *f, const char *text, const char *message)
{
    assert_int_equal(test_parse(f, text), -EINVAL);
    assert_string_equal(f->err, message);
    /* A failed parse leaves nothing behind. */
    assert_null(f->cfg.entries);
    assert_null(f->cfg.path);
}

static const char *test_value(struct fixture *f, const char *key)
{
    const struct config_entry *e = config_find(&f->cfg, key);
    return e ? e->value : NULL;
}

#define MINIMAL "dataDir=/var/lib/zk\nclientPort=2181\n"

/* ------------------------------------------------------------------------ */

static void test_defaults_follow_zookeeper(void **state)
{
    struct fixture *f = *state;
    test_parse_ok(f, MINIMAL);
    const struct zk_config *c = &f->cfg;
    assert_int_equal(c->tick_time, 3000);
    assert_int_equal(c->init_limit, 0);
    assert_int_equal(c->sync_limit, 0);
    assert_string_equal(c->data_dir, "/var/lib/zk");
    assert_string_equal(c->data_log_dir, "/var/lib/zk");
    assert_int_equal(c->client_port, 2181);
    assert_null(c->client_port_address);
    assert_int_equal(c->secure_client_port, 0);
    assert_int_equal(c->max_client_cnxns, 60);
    assert_int_equal(c->max_cnxns, 0);
    assert_int_equal(c->min_session_timeout, 6000);
    assert_int_equal(c->max_session_timeout, 60000);
    assert_int_equal(c->client_port_listen_backlog, -1);
    assert_int_equal(c->jute_maxbuffer, 1048575);
    assert_int_equal(c->jute_maxbuffer_extrasize, 1048575);
    assert_int_equal(c->global_outstanding_limit, 1000);
    assert_true(c->force_sync);
    assert_int_equal(c->snap_count, 100000);
    assert_int_equal(c->snap_size_limit_kb, 4194304);
    assert_int_equal(c->txn_log_size_limit_kb, -1);
    assert_int_equal(c->pre_alloc_size_kb, 65536);
    assert_int_equal(c->autopurge_snap_retain_count, 3);
    assert_int_equal(c->autopurge_purge_interval, 0);
    assert_null(c->snapshot_compression);
    assert_null(c->four_lw_whitelist);
    assert_false(c->extended_types_enabled);
    assert_false(c->skip_acl);
    assert_null(c->super_digest);
    assert_true(c->digest_enabled);
    assert_true(c->close_session_txn_enabled);
    assert_false(c->readonly_mode_enabled);
    assert_false(c->local_sessions_enabled);
    assert_false(c->local_sessions_upgrading_enabled);
    assert_false(c->reconfig_enabled);
    assert_true(c->standalone_enabled);
    assert_true(c->sync_enabled);
    assert_false(c->quorum_listen_on_all_ips);
    assert_int_equal(c->election_alg, 3);
    assert_int_equal(c->peer_type, CONFIG_PARTICIPANT);
    assert_int_equal(c->container_check_interval_ms, 60000);
    assert_int_equal(c->container_max_per_minute, 10000);
    assert_int_equal(c->container_max_never_used_ms, 0);
    assert_int_equal(c->nio_sessionless_cnxn_timeout_ms, 10000);
    assert_null(c->dynamic_config_file);
    assert_true(c->admin_enable_server);
    assert_string_equal(c->admin_server_address, "127.0.0.1");
    assert_int_equal(c->admin_server_port, 8080);
    assert_string_equal(c->plugin_transport, "tcp");
    assert_string_equal(c->plugin_storage, "disk");
    assert_string_equal(c->plugin_election, "fle");
    assert_int_equal(c->nservers, 0);
    assert_true(config_is_standalone(c));
    assert_string_equal(c->path, "conf/zoo.cfg");
    assert_string_equal(c->text, MINIMAL);
    assert_int_equal(c->nentries, 2);
    assert_string_equal(c->entries[1].key, "clientPort");
    assert_int_equal(c->entries[1].line, 2);
    assert_string_equal(c->entries[1].file, "conf/zoo.cfg");
}

static void test_session_timeouts_follow_tick_time(void **state)
{
    struct fixture *f = *state;
    test_parse_ok(f, MINIMAL "tickTime=2000\n");
    assert_int_equal(f->cfg.min_session_timeout, 4000);
    assert_int_equal(f->cfg.max_session_timeout, 40000);
    /* Computed after all keys are read, wherever tickTime appears. */
    test_parse_ok(f, "minSessionTimeout=1000\n" MINIMAL "tickTime=100\n");
    assert_int_equal(f->cfg.min_session_timeout, 1000);
    assert_int_equal(f->cfg.max_session_timeout, 2000);
    /* -1 means "use the default", as in ZooKeeper. */
    test_parse_ok(f, MINIMAL "tickTime=100\nmaxSessionTimeout=-1\n");
    assert_int_equal(f->cfg.max_session_timeout, 2000);
}

static void test_every_separator_form(void **state)
{
    struct fixture *f = *state;
    test_parse_ok(f, MINIMAL
                  "a=1\n"
                  "b: 2\n"
                  "c 3\n"
                  "d = 4\n"
                  "   e\t:\t5  \n"
                  "f\f6\n"
                  "g==7\n"
                  "h:=8\n"
                  "i\n"
                  "j=\n"
                  "k = value with  inner  spaces   \n"
                  "l  =  :x\n");
    assert_string_equal(test_value(f, "a"), "1");
    assert_string_equal(test_value(f, "b"), "2");
    assert_string_equal(test_value(f, "c"), "3");
    assert_string_equal(test_value(f, "d"), "4");
    assert_string_equal(test_value(f, "e"), "5");
    assert_string_equal(test_value(f, "f"), "6");
    assert_string_equal(test_value(f, "g"), "=7");
    assert_string_equal(test_value(f, "h"), "=8");
    assert_string_equal(test_value(f, "i"), "");
    assert_string_equal(test_value(f, "j"), "");
    assert_string_equal(test_value(f, "k"), "value with  inner  spaces");
    assert_string_equal(test_value(f, "l"), ":x");
}

static void test_comments_blank_lines_and_line_endings(void **state)
{
    struct fixture *f = *state;
    test_parse_ok(f, "# comment=1\r\n"
                     "   ! also a comment\r\n"
                     "\r\n"
                     "   \t \n"
                     "dataDir=/d\r"
                     "clientPort=2181\r\n");
    assert_null(config_find(&f->cfg, "# comment"));
    assert_null(config_find(&f->cfg, "!"));
    assert_string_equal(f->cfg.data_dir, "/d");
    const struct config_entry *e = config_find(&f->cfg, "clientPort");
    assert_non_null(e);
    assert_int_equal(e->line, 6);
    /* "#" only starts a comment at the beginning of a line. */
    test_parse_fails(f, "dataDir=/d\ntickTime=2000 # two seconds\n",
                     "conf/zoo.cfg:2: key 'tickTime': not an integer (value '2000 # two seconds')");
}

static void test_escapes_are_decoded(void **state)
{
    struct fixture *f = *state;
    test_parse_ok(f, MINIMAL
                  "tab=a\\tb\n"
                  "nl=a\\nb\\rc\\fd\n"
                  "slash=C:\\\\dir\n"
                  "plain=\\q\\z\n"
                  "u=\\u0041\\u00e9\\u20AC\n"
                  "pair=\\uD83D\\uDE00\n"
                  "lone=\\uD83Dx\n"
                  "key\\=with\\:seps\\ and\\ space=v\n"
                  "\\#notcomment=1\n");
    assert_string_equal(test_value(f, "tab"), "a\tb");
    assert_string_equal(test_value(f, "nl"), "a\nb\rc\fd");
    assert_string_equal(test_value(f, "slash"), "C:\\dir");
    assert_string_equal(test_value(f, "plain"), "qz");
    assert_string_equal(test_value(f, "u"), "A\xc3\xa9\xe2\x82\xac");
    assert_string_equal(test_value(f, "pair"), "\xf0\x9f\x98\x80");
    assert_string_equal(test_value(f, "lone"), "\xef\xbf\xbdx");
    assert_string_equal(test_value(f, "key=with:seps and space"), "v");
    assert_string_equal(test_value(f, "#notcomment"), "1");
}

static void test_bad_unicode_escape_is_an_error(void **state)
{
    struct fixture *f = *state;
    test_parse_fails(f, MINIMAL "x=\\u12G4\n", "conf/zoo.cfg:3: malformed \\uXXXX escape");
    test_parse_fails(f, MINIMAL "x=ab\\u12\n", "conf/zoo.cfg:3: malformed \\uXXXX escape");
    test_parse_fails(f, MINIMAL "x=\\u0000\n", "conf/zoo.cfg:3: \\u0000 is not allowed");
}

static void test_backslash_continues_lines(void **state)
{
    struct fixture *f = *state;
    test_parse_ok(f, "dataDir=/very/\\\n"
                     "        long/path\n"
                     "4lw.commands.whitelist=srvr, \\\r\n"
                     "   ruok, \\\n"
                     "   # not a comment here\n"
                     "even=a\\\\\n"
                     "clientPort=2181\n"
                     "# comment \\\n"
                     "tickTime=2000\n"
                     "last=end\\");
    assert_string_equal(f->cfg.data_dir, "/very/long/path");
    assert_string_equal(f->cfg.four_lw_whitelist, "srvr, ruok, # not a comment here");
    /* An even number of backslashes is escaped backslashes, not a joint. */
    assert_string_equal(test_value(f, "even"), "a\\");
    assert_int_equal(config_find(&f->cfg, "clientPort")->line, 7);
    /* A comment never continues. */
    assert_int_equal(f->cfg.tick_time, 2000);
    assert_int_equal(config_find(&f->cfg, "tickTime")->line, 9);
    assert_int_equal(config_find(&f->cfg, "4lw.commands.whitelist")->line, 3);
    assert_string_equal(test_value(f, "last"), "end");
}

static void test_zookeeper_prefix_is_dropped(void **state)
{
    struct fixture *f = *state;
    test_parse_ok(f, MINIMAL "zookeeper.skipACL=yes\nzookeeper.snapCount=500\n"
                             "zookeeper.4lw.commands.whitelist=*\n");
    assert_true(f->cfg.skip_acl);
    assert_int_equal(f->cfg.snap_count, 500);
    assert_string_equal(f->cfg.four_lw_whitelist, "*");
    assert_string_equal(test_value(f, "skipACL"), "yes");
    assert_string_equal(test_value(f, "zookeeper.skipACL"), "yes");
    assert_string_equal(config_find(&f->cfg, "skipACL")->key, "skipACL");
    /* Both spellings are one key: the later line wins. */
    test_parse_ok(f, MINIMAL "skipACL=yes\nzookeeper.skipACL=no\n");
    assert_false(f->cfg.skip_acl);
    assert_int_equal(config_find(&f->cfg, "skipACL")->line, 4);
    test_assert_log_has(f, "conf/zoo.cfg:4: key 'skipACL' repeats line 3; the later value is used", 1);
}

static void test_later_duplicate_wins_and_keeps_its_line(void **state)
{
    struct fixture *f = *state;
    test_parse_ok(f, MINIMAL "tickTime=1000\nmaxClientCnxns=5\ntickTime=4000\n");
    assert_int_equal(f->cfg.tick_time, 4000);
    const struct config_entry *e = config_find(&f->cfg, "tickTime");
    assert_int_equal(e->line, 5);
    assert_string_equal(e->value, "4000");
    assert_int_equal(f->cfg.nentries, 4);
}

static void test_values_are_decoded_like_zookeeper(void **state)
{
    struct fixture *f = *state;
    test_parse_ok(f, "dataDir=/d\ndataLogDir=/l\nclientPort=2181\nclientPortAddress=127.0.0.1\n"
                     "secureClientPort=2281\ntickTime=2000\ninitLimit=10\nsyncLimit=5\n"
                     "maxClientCnxns=0\nmaxCnxns=100\nminSessionTimeout=4000\nmaxSessionTimeout=8000\n"
                     "clientPortListenBacklog=128\njute.maxbuffer=0x200000\n"
                     "globalOutstandingLimit=#100\nsnapCount=010\nsnapSizeLimitInKb=-1\n"
                     "txnLogSizeLimitInKb=1024\npreAllocSize=1024\nautopurge.snapRetainCount=5\n"
                     "autopurge.purgeInterval=24\nsnapshot.compression.method=gz\n"
                     "extendedTypesEnabled=TRUE\nDigestAuthenticationProvider.superDigest=super:abc=\n"
                     "digest.enabled=false\ncloseSessionTxn.enabled=False\nreadonlymode.enabled=true\n"
                     "localSessionsEnabled=TRUE\nlocalSessionsUpgradingEnabled=true\n"
                     "reconfigEnabled=true\nsyncEnabled=false\nquorumListenOnAllIPs=true\n"
                     "electionAlg=3\npeerType=OBSERVER\nznode.container.checkIntervalMs=1000\n"
                     "znode.container.maxPerMinute=60\nznode.container.maxNeverUsedIntervalMs=5000\n"
                     "nio.sessionlessCnxnTimeout=3000\nadmin.enableServer=false\n"
                     "admin.serverAddress=127.0.0.1\nadmin.serverPort=9090\nforceSync=no\n"
                     "plugin.transport=nng\nplugin.storage=file\nplugin.election=fle\n");
    const struct zk_config *c = &f->cfg;
    assert_string_equal(c->data_log_dir, "/l");
    assert_string_equal(c->client_port_address, "127.0.0.1");
    assert_int_equal(c->secure_client_port, 2281);
    assert_int_equal(c->init_limit, 10);
    assert_int_equal(c->sync_limit, 5);
    assert_int_equal(c->max_client_cnxns, 0);
    assert_int_equal(c->max_cnxns, 100);
    assert_int_equal(c->min_session_timeout, 4000);
    assert_int_equal(c->max_session_timeout, 8000);
    assert_int_equal(c->client_port_listen_backlog, 128);
    /* Integer.getInteger keys take Integer.decode's forms. */
    assert_int_equal(c->jute_maxbuffer, 0x200000);
    assert_int_equal(c->jute_maxbuffer_extrasize, 0x200000);
    assert_int_equal(c->global_outstanding_limit, 0x100);
    assert_int_equal(c->snap_count, 8);
    assert_int_equal(c->snap_size_limit_kb, -1);
    assert_int_equal(c->txn_log_size_limit_kb, 1024);
    assert_int_equal(c->pre_alloc_size_kb, 1024);
    assert_int_equal(c->autopurge_snap_retain_count, 5);
    assert_int_equal(c->autopurge_purge_interval, 24);
    assert_string_equal(c->snapshot_compression, "gz");
    assert_true(c->extended_types_enabled);
    assert_string_equal(c->super_digest, "super:abc=");
    assert_false(c->digest_enabled);
    assert_false(c->close_session_txn_enabled);
    assert_true(c->readonly_mode_enabled);
    assert_true(c->local_sessions_enabled);
    assert_true(c->local_sessions_upgrading_enabled);
    assert_true(c->reconfig_enabled);
    assert_false(c->sync_enabled);
    assert_true(c->quorum_listen_on_all_ips);
    assert_int_equal(c->peer_type, CONFIG_OBSERVER);
    assert_int_equal(c->container_check_interval_ms, 1000);
    assert_int_equal(c->container_max_per_minute, 60);
    assert_int_equal(c->container_max_never_used_ms, 5000);
    assert_int_equal(c->nio_sessionless_cnxn_timeout_ms, 3000);
    assert_false(c->admin_enable_server);
    assert_string_equal(c->admin_server_address, "127.0.0.1");
    assert_int_equal(c->admin_server_port, 9090);
    assert_false(c->force_sync);
    assert_string_equal(c->plugin_transport, "nng");
    assert_string_equal(c->plugin_storage, "file");
    /* Every key here is known: nothing is warned about. */
    test_assert_log_has(f, "WARN", 0);
}

static void test_jute_extrasize_has_a_floor_of_1024(void **state)
{
    struct fixture *f = *state;
    test_parse_ok(f, MINIMAL "jute.maxbuffer=100\n");
    assert_int_equal(f->cfg.jute_maxbuffer, 100);
    assert_int_equal(f->cfg.jute_maxbuffer_extrasize, 1024);
    test_parse_ok(f, MINIMAL "zookeeper.jute.maxbuffer.extrasize=5000\n");
    assert_int_equal(f->cfg.jute_maxbuffer, 1048575);
    assert_int_equal(f->cfg.jute_maxbuffer_extrasize, 5000);
}

static void test_boolean_forms_follow_the_source(void **state)
{
    struct fixture *f = *state;
    /* forceSync: anything but "no" syncs; skipACL: only "yes" skips. */
    test_parse_ok(f, MINIMAL "forceSync=NO\nskipACL=YES\n");
    assert_true(f->cfg.force_sync);
    assert_false(f->cfg.skip_acl);
    test_assert_log_has(f, "conf/zoo.cfg:3: key 'forceSync': not 'yes' or 'no', read as yes (value 'NO')", 1);
    test_assert_log_has(f, "conf/zoo.cfg:4: key 'skipACL': not 'yes' or 'no', read as no (value 'YES')", 1);
    /* Boolean.parseBoolean keys: anything but "true" is false. */
    test_parse_ok(f, MINIMAL "digest.enabled=yes\n");
    assert_false(f->cfg.digest_enabled);
    test_assert_log_has(f, "conf/zoo.cfg:3: key 'digest.enabled': not 'true' or 'false', read as false "
                           "(value 'yes')", 1);
    /* admin.enableServer: only the exact string "false" disables. */
    test_parse_ok(f, MINIMAL "admin.enableServer=FALSE\n");
    assert_true(f->cfg.admin_enable_server);
}

static void test_bad_boolean_is_an_error(void **state)
{
    struct fixture *f = *state;
    test_parse_fails(f, MINIMAL "standaloneEnabled=yes\n",
                     "conf/zoo.cfg:3: key 'standaloneEnabled': not a boolean, expected 'true' or 'false' "
                     "(value 'yes')");
    test_parse_fails(f, MINIMAL "localSessionsEnabled=1\n",
                     "conf/zoo.cfg:3: key 'localSessionsEnabled': not a boolean, expected 'true' or "
                     "'false' (value '1')");
}

static void test_bad_integers_are_errors(void **state)
{
    struct fixture *f = *state;
    test_parse_fails(f, "dataDir=/d\nclientPort=2181\n\n\n\n\ntickTime=abc\n",
                     "conf/zoo.cfg:7: key 'tickTime': not an integer (value 'abc')");
    test_parse_fails(f, MINIMAL "tickTime=\n", "conf/zoo.cfg:3: key 'tickTime': not an integer (value '')");
    test_parse_fails(f, MINIMAL "tickTime=1.5\n", "conf/zoo.cfg:3: key 'tickTime': not an integer (value '1.5')");
    /* Integer.parseInt does not decode hex. */
    test_parse_fails(f, MINIMAL "initLimit=0x10\n",
                     "conf/zoo.cfg:3: key 'initLimit': not an integer (value '0x10')");
    test_parse_fails(f, MINIMAL "tickTime=2147483648\n",
                     "conf/zoo.cfg:3: key 'tickTime': out of range (value '2147483648')");
    test_parse_fails(f, MINIMAL "preAllocSize=99999999999999999999\n",
                     "conf/zoo.cfg:3: key 'preAllocSize': out of range (value '99999999999999999999')");
    test_parse_fails(f, MINIMAL "snapCount=09\n", "conf/zoo.cfg:3: key 'snapCount': not an integer (value '09')");
}

static void test_out_of_range_values_are_errors(void **state)
{
    struct fixture *f = *state;
    test_parse_fails(f, MINIMAL "tickTime=0\n", "conf/zoo.cfg:3: key 'tickTime': must be greater than 0 (value '0')");
    test_parse_fails(f, MINIMAL "tickTime=-5\n", "conf/zoo.cfg:3: key 'tickTime': must be greater than 0 (value '-5')");
    test_parse_fails(f, "dataDir=/d\nclientPort=70000\n",
                     "conf/zoo.cfg:2: key 'clientPort': port out of range, expected 1-65535 (value '70000')");
    test_parse_fails(f, "dataDir=/d\nclientPort=-1\n",
                     "conf/zoo.cfg:2: key 'clientPort': port out of range, expected 1-65535 (value '-1')");
    test_parse_fails(f, MINIMAL "admin.serverPort=65536\n",
                     "conf/zoo.cfg:3: key 'admin.serverPort': port out of range, expected 1-65535 (value '65536')");
    test_parse_fails(f, MINIMAL "initLimit=-1\n", "conf/zoo.cfg:3: key 'initLimit': must not be negative (value '-1')");
    test_parse_fails(f, MINIMAL "jute.maxbuffer=0\n",
                     "conf/zoo.cfg:3: key 'jute.maxbuffer': must be greater than 0 (value '0')");
    test_parse_fails(f, MINIMAL "minSessionTimeout=-2\n",
                     "conf/zoo.cfg:3: key 'minSessionTimeout': must be -1 or more (value '-2')");
    test_parse_fails(f, MINIMAL "minSessionTimeout=9000\nmaxSessionTimeout=8000\n",
                     "conf/zoo.cfg:3: key 'minSessionTimeout': minSessionTimeout (9000) must not be larger "
                     "than maxSessionTimeout (8000) (value '9000')");
    /* The default maximum (20 ticks) counts too. */
    test_parse_fails(f, MINIMAL "minSessionTimeout=70000\n",
                     "conf/zoo.cfg:3: key 'minSessionTimeout': minSessionTimeout (70000) must not be larger "
                     "than maxSessionTimeout (60000) (value '70000')");
}

static void test_values_zookeeper_resets_are_reset(void **state)
{
    struct fixture *f = *state;
    test_parse_ok(f, MINIMAL "autopurge.snapRetainCount=1\nsnapCount=1\nmaxCnxns=-3\nmaxClientCnxns=-1\n");
    assert_int_equal(f->cfg.autopurge_snap_retain_count, 3);
    assert_int_equal(f->cfg.snap_count, 2);
    assert_int_equal(f->cfg.max_cnxns, 0);
    assert_int_equal(f->cfg.max_client_cnxns, 0);
    test_assert_log_has(f, "conf/zoo.cfg:3: key 'autopurge.snapRetainCount': 1 is below the minimum, using 3", 1);
    test_assert_log_has(f, "conf/zoo.cfg:4: key 'snapCount': must be 2 or more, using 2", 1);
}

static void test_required_keys(void **state)
{
    struct fixture *f = *state;
    test_parse_fails(f, "clientPort=2181\n", "conf/zoo.cfg: dataDir is not set");
    test_parse_fails(f, "dataDir=\nclientPort=2181\n", "conf/zoo.cfg: dataDir is not set");
    test_parse_fails(f, "dataDir=/d\nclientPortAddress=127.0.0.1\n",
                     "conf/zoo.cfg:2: key 'clientPortAddress': clientPortAddress is set but clientPort is not "
                     "set (value '127.0.0.1')");
    /* ZooKeeper 3.8 starts a standalone server without a client port; so
     * does zkplug, with a warning. */
    test_parse_ok(f, "dataDir=/d\n");
    assert_int_equal(f->cfg.client_port, 0);
    test_assert_log_has(f, "conf/zoo.cfg: clientPort is not set, no client port will be opened", 1);
}

static void test_election_alg_other_than_3_is_an_error(void **state)
{
    struct fixture *f = *state;
    test_parse_fails(f, MINIMAL "electionAlg=1\n",
                     "conf/zoo.cfg:3: key 'electionAlg': invalid electionAlg value, only 3 is supported "
                     "(algorithms 1 and 2 are no longer supported) (value '1')");
    test_parse_fails(f, MINIMAL "electionAlg=0\n",
                     "conf/zoo.cfg:3: key 'electionAlg': invalid electionAlg value, only 3 is supported "
                     "(algorithms 1 and 2 are no longer supported) (value '0')");
    test_parse_fails(f, MINIMAL "electionAlg=fast\n",
                     "conf/zoo.cfg:3: key 'electionAlg': not an integer (value 'fast')");
    test_parse_fails(f, MINIMAL "peerType=leader\n",
                     "conf/zoo.cfg:3: key 'peerType': unrecognised peer type, expected participant or "
                     "observer (value 'leader')");
}

static void test_unknown_key_is_warned_once(void **state)
{
    struct fixture *f = *state;
    test_parse_ok(f, MINIMAL "tickTme=2000\nfoo.bar=1\ntickTme=3000\n");
    /* Reported once, at the line whose value is kept. */
    test_assert_log_has(f, "conf/zoo.cfg:5: unknown key 'tickTme' ignored", 1);
    test_assert_log_has(f, "unknown key 'tickTme'", 1);
    test_assert_log_has(f, "conf/zoo.cfg:4: unknown key 'foo.bar' ignored", 1);
    /* The entry is kept for conf and for lookups. */
    assert_string_equal(test_value(f, "tickTme"), "3000");
    assert_int_equal(f->cfg.tick_time, 3000 /* default, not the misspelt key */);
}

static void test_zookeeper_system_property_keys_are_accepted_silently(void **state)
{
    struct fixture *f = *state;
    test_parse_ok(f, MINIMAL
                  "preAllocSize=65536\nsnapCount=100000\nforceSync=yes\n"
                  "4lw.commands.whitelist=*\nadmin.idleTimeout=30000\nadmin.commandURL=/commands\n"
                  "extendedTypesEnabled=false\nskipACL=no\nmaxCnxns=0\ndigest.enabled=true\n"
                  "closeSessionTxn.enabled=true\nreadonlymode.enabled=false\n"
                  "znode.container.checkIntervalMs=60000\ncommitLogCount=500\nsnapshotSizeFactor=0.33\n"
                  "nio.numSelectorThreads=2\nnio.numWorkerThreads=8\nnetty.advancedFlowControl.enabled=true\n"
                  "ssl.keyStore.location=/k\nssl.quorum.trustStore.location=/t\n"
                  "quorum.auth.enableSasl=false\nquorum.cnxn.threads.size=20\nsasl.client=false\n"
                  "authProvider.1=org.apache.zookeeper.server.auth.DigestAuthenticationProvider\n"
                  "authProvider.2=org.apache.zookeeper.server.auth.IPAuthenticationProvider\n"
                  "superUser=admin\nsuperUser.2=ops\njava.security.auth.login.config=\n"
                  "metricsProvider.className=org.apache.zookeeper.metrics.impl.DefaultMetricsProvider\n"
                  "metricsProvider.httpPort=7000\njvm.pause.monitor=false\n"
                  "request_throttle_max_requests=0\nrequestThrottleLimit=10\nlearner.asyncSending=false\n"
                  "leader.maxConcurrentSnapSyncs=10\nfastleader.minNotificationInterval=200\n"
                  "electionPortBindRetry=3\ncnxTimeout=5000\nobserver.reconnectDelayMs=0\n"
                  "clientCnxnSocket=org.apache.zookeeper.ClientCnxnSocketNetty\naudit.enable=false\n"
                  "snapshot.trust.empty=false\nflushDelay=0\nmaxWriteQueuePollTime=0\nmaxBatchSize=1000\n"
                  "connectToLearnerMasterLimit=0\nsecureClientPortAddress=0.0.0.0\nsecureClientPort=2281\n"
                  "multiAddress.reachabilityCheckEnabled=true\nemulate353TTLNodes=false\n"
                  "watcherCleanThreshold=1000\nconnection_throttle_tokens=0\nenforce.auth.enabled=false\n"
                  "zkplug.loop.maxEvents=64\nlua.script=/x.lua\nmetrics.prefix=zk\n");
    test_assert_log_has(f, "WARN", 0);
    assert_string_equal(test_value(f, "zkplug.loop.maxEvents"), "64");
}

/* SASL: the JAAS file's Server section, enforce.auth.* and
 * sessionRequireClientSASLAuth as ZooKeeper's AuthenticationHelper checks them. */
static void test_sasl_settings(void **state)
{
    struct fixture *f = *state;
    char jaas[128], text[512];
    test_write(f, "jaas.conf",
               "/* comment */ Client { x.Y required username=\"u\" password=\"p\"; };\n"
               "Server {\n  org.apache.zookeeper.server.auth.DigestLoginModule required\n"
               "  user_a=\"pa\" // a comment\n  user_b=\"p\\\"b\" user_a=\"pa2\";\n"
               "  other.Module OPTIONAL user_c=plain;\n};\n",
               jaas, sizeof jaas);
    snprintf(text, sizeof text,
             MINIMAL "authProvider.1=org.apache.zookeeper.server.auth.SASLAuthenticationProvider\n"
                     "java.security.auth.login.config=%s\nsessionRequireClientSASLAuth=true\n",
             jaas);
    test_parse_ok(f, text);
    assert_true(f->cfg.sasl_provider);
    assert_int_equal(jaas_users_count(f->cfg.sasl_users), 3);
    assert_string_equal(jaas_password(f->cfg.sasl_users, "a"), "pa2");
    assert_string_equal(jaas_password(f->cfg.sasl_users, "b"), "p\"b");
    assert_string_equal(jaas_password(f->cfg.sasl_users, "c"), "plain");
    assert_null(jaas_password(f->cfg.sasl_users, "u"));
    assert_true(f->cfg.enforce_auth_enabled);
    assert_true(f->cfg.sasl_auth_required);
    assert_int_equal(f->cfg.nenforce_auth_schemes, 1);
    assert_string_equal(f->cfg.enforce_auth_schemes[0], "sasl");
    test_assert_log_has(f, "login module other.Module is not supported", 1);

    /* No Server section: no login, no error. */
    snprintf(text, sizeof text, MINIMAL "java.security.auth.login.config=%s\nsasl.serverconfig=Nope\n", jaas);
    test_parse_ok(f, text);
    assert_null(f->cfg.sasl_users);

    test_parse_ok(f, MINIMAL "enforce.auth.enabled=true\nenforce.auth.schemes= ip , digest\n");
    assert_int_equal(f->cfg.nenforce_auth_schemes, 2);
    assert_string_equal(f->cfg.enforce_auth_schemes[1], "digest");
    assert_false(f->cfg.sasl_auth_required);
    test_parse_fails(f, MINIMAL "enforce.auth.enabled=true\n",
                     "conf/zoo.cfg: enforce.auth.enabled is true enforce.auth.schemes must be configured");
    test_parse_fails(f, MINIMAL "enforce.auth.enabled=true\nenforce.auth.schemes=ip,\n",
                     "conf/zoo.cfg: authentication scheme  is not available");
    test_parse_fails(f, MINIMAL "digest.enabled=false\nenforce.auth.enabled=true\nenforce.auth.schemes=digest\n",
                     "conf/zoo.cfg: authentication scheme digest is not available");
    test_parse_fails(f, MINIMAL "sessionRequireClientSASLAuth=true\n",
                     "conf/zoo.cfg: authentication scheme sasl is not available (set authProvider.1="
                     "org.apache.zookeeper.server.auth.SASLAuthenticationProvider)");
    /* Enforcement off: the list is not checked. */
    test_parse_ok(f, MINIMAL "enforce.auth.schemes=x509\n");
    assert_false(f->cfg.enforce_auth_enabled);

    char bad[128];
    test_write(f, "bad.conf", "Server {\n  M required\n  user_a=;\n};\n", bad, sizeof bad);
    snprintf(text, sizeof text, MINIMAL "java.security.auth.login.config=%s\n", bad);
    assert_int_equal(test_parse(f, text), -EINVAL);
    assert_non_null(strstr(f->err, "bad.conf:3: expected a value for user_a"));
    test_write(f, "dup.conf", "Server { M required; };\nServer { M required; };\n", bad, sizeof bad);
    snprintf(text, sizeof text, MINIMAL "java.security.auth.login.config=%s\n", bad);
    assert_int_equal(test_parse(f, text), -EINVAL);
    assert_non_null(strstr(f->err, "can not specify multiple entries for Server"));
    snprintf(text, sizeof text, MINIMAL "java.security.auth.login.config=%s/missing.conf\n", f->dir);
    assert_int_equal(test_parse(f, text), -ENOENT);
    assert_non_null(strstr(f->err, "cannot read the JAAS configuration"));
}

static void test_java_class_values_never_fail(void **state)
{
    struct fixture *f = *state;
    test_parse_ok(f, MINIMAL
                  "serverCnxnFactory=org.apache.zookeeper.server.NettyServerCnxnFactory\n"
                  "authProvider.1=org.apache.zookeeper.server.auth.SASLAuthenticationProvider\n"
                  "authProvider.2=org.apache.zookeeper.server.auth.SASLAuthenticationProvider\n"
                  "authProvider.x509=org.apache.zookeeper.server.auth.X509AuthenticationProvider\n"
                  "metricsProvider.className=org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider\n");
    test_assert_log_has(f, "INFO  [main] conf/zoo.cfg:3: serverCnxnFactory "
                           "org.apache.zookeeper.server.NettyServerCnxnFactory: client connections are served "
                           "by the transport plugin (plugin.transport) instead", 1);
    test_assert_log_has(f, "key 'authProvider.1'", 0); /* registers the "sasl" scheme */
    assert_true(f->cfg.sasl_provider);
    test_assert_log_has(f, "conf/zoo.cfg:6: key 'authProvider.x509': authentication provider "
                           "org.apache.zookeeper.server.auth.X509AuthenticationProvider is not supported, ignored", 1);
    /* The Prometheus provider maps to zkplug's /metrics endpoint: no warning. */
    test_assert_log_has(f, "metricsProvider.className", 0);
    assert_string_equal(f->cfg.plugin_transport, "tcp");

    test_parse_ok(f, MINIMAL "serverCnxnFactory=NIOServerCnxnFactory\nserverCnxnFactory2=x\n"
                             "serverCnxnFactory=com.example.MyFactory\n");
    test_assert_log_has(f, "serverCnxnFactory com.example.MyFactory is not known, ignored", 1);
}

static void test_snapshot_compression_methods(void **state)
{
    struct fixture *f = *state;
    test_parse_ok(f, MINIMAL "snapshot.compression.method=snappy\n");
    assert_string_equal(f->cfg.snapshot_compression, "snappy");
    test_parse_ok(f, MINIMAL "snapshot.compression.method=\n");
    assert_null(f->cfg.snapshot_compression);
    test_parse_ok(f, MINIMAL "snapshot.compression.method=lz4\n");
    assert_null(f->cfg.snapshot_compression);
    test_assert_log_has(f, "key 'snapshot.compression.method': unknown method 'lz4', snapshots are not compressed", 1);
}

#define QUORUM MINIMAL "initLimit=10\nsyncLimit=5\n"

static void test_server_lines_are_parsed(void **state)
{
    struct fixture *f = *state;
    test_parse_ok(f, QUORUM
                  "server.1=zk1.example.com:2888:3888\n"
                  "server.2 = 10.0.0.2:2888:3888:participant;2181\n"
                  "server.3=[fe80::1%eth0]:2888:3888:OBSERVER;[::1]:2182\n"
                  "server.14=zk4:2888:3888;127.0.0.1:2183\n");
    const struct zk_config *c = &f->cfg;
    assert_int_equal(c->nservers, 4);
    const struct config_server *s = config_find_server(c, 1);
    assert_non_null(s);
    assert_string_equal(s->host, "zk1.example.com");
    assert_int_equal(s->quorum_port, 2888);
    assert_int_equal(s->election_port, 3888);
    assert_int_equal(s->type, CONFIG_PARTICIPANT);
    assert_null(s->client_host);
    assert_int_equal(s->client_port, 0);
    s = config_find_server(c, 2);
    assert_string_equal(s->host, "10.0.0.2");
    assert_string_equal(s->client_host, "0.0.0.0");
    assert_int_equal(s->client_port, 2181);
    s = config_find_server(c, 3);
    assert_string_equal(s->host, "fe80::1%eth0");
    assert_int_equal(s->type, CONFIG_OBSERVER);
    assert_string_equal(s->client_host, "::1");
    assert_int_equal(s->client_port, 2182);
    s = config_find_server(c, 14);
    assert_string_equal(s->client_host, "127.0.0.1");
    assert_int_equal(s->client_port, 2183);
    assert_null(config_find_server(c, 5));
    assert_false(config_is_standalone(c));
}

static void test_bad_server_lines_name_the_line(void **state)
{
    struct fixture *f = *state;
    test_parse_fails(f, QUORUM "server.1=zk1:2888\n",
                     "conf/zoo.cfg:5: key 'server.1': expected host:quorumPort:electionPort"
                     "[:participant|:observer][;[clientHost:]clientPort] (value 'zk1:2888')");
    test_parse_fails(f, QUORUM "server.1=zk1:2888:3888:participant:x\n",
                     "conf/zoo.cfg:5: key 'server.1': expected host:quorumPort:electionPort"
                     "[:participant|:observer][;[clientHost:]clientPort] (value 'zk1:2888:3888:participant:x')");
    test_parse_fails(f, QUORUM "server.1=zk1:2888:3888;2181;2182\n",
                     "conf/zoo.cfg:5: key 'server.1': expected host:quorumPort:electionPort"
                     "[:participant|:observer][;[clientHost:]clientPort] (value 'zk1:2888:3888;2181;2182')");
    test_parse_fails(f, QUORUM "server.1=zk1:2888:3888;a:b:2181\n",
                     "conf/zoo.cfg:5: key 'server.1': expected host:quorumPort:electionPort"
                     "[:participant|:observer][;[clientHost:]clientPort] (value 'zk1:2888:3888;a:b:2181')");
    test_parse_fails(f, QUORUM "server.1=zk1:28x8:3888\n",
                     "conf/zoo.cfg:5: key 'server.1': quorum port '28x8' is not a port number (1-65535) "
                     "(value 'zk1:28x8:3888')");
    test_parse_fails(f, QUORUM "server.1=zk1:2888:0\n",
                     "conf/zoo.cfg:5: key 'server.1': election port '0' is not a port number (1-65535) "
                     "(value 'zk1:2888:0')");
    test_parse_fails(f, QUORUM "server.1=zk1:2888:3888;99999\n",
                     "conf/zoo.cfg:5: key 'server.1': client port '99999' is not a port number (1-65535) "
                     "(value 'zk1:2888:3888;99999')");
    test_parse_fails(f, QUORUM "server.1=zk1:2888:2888\n",
                     "conf/zoo.cfg:5: key 'server.1': quorum and election ports must be different "
                     "(value 'zk1:2888:2888')");
    test_parse_fails(f, QUORUM "server.1=zk1:2888:3888:leader\n",
                     "conf/zoo.cfg:5: key 'server.1': unrecognised peer type 'leader', expected participant "
                     "or observer (value 'zk1:2888:3888:leader')");
    test_parse_fails(f, QUORUM "server.1=[::1:2888:3888\n",
                     "conf/zoo.cfg:5: key 'server.1': unterminated '[' in the host (value '[::1:2888:3888')");
    test_parse_fails(f, QUORUM "server.1=:2888:3888\n",
                     "conf/zoo.cfg:5: key 'server.1': empty host; expected host:quorumPort:electionPort"
                     "[:participant|:observer][;[clientHost:]clientPort] (value ':2888:3888')");
    test_parse_fails(f, QUORUM "server.0=zk1:2888:3888\n",
                     "conf/zoo.cfg:5: key 'server.0': server id is not a positive integer (value 'zk1:2888:3888')");
    test_parse_fails(f, QUORUM "server.a=zk1:2888:3888\n",
                     "conf/zoo.cfg:5: key 'server.a': server id is not a positive integer (value 'zk1:2888:3888')");
    test_parse_fails(f, QUORUM "server.1=a:1:2|b:1:2\n",
                     "conf/zoo.cfg:5: key 'server.1': multiple addresses need multiAddress.enabled=true "
                     "(value 'a:1:2|b:1:2')");
}

static void test_multiple_addresses_use_the_first(void **state)
{
    struct fixture *f = *state;
    test_parse_ok(f, QUORUM "multiAddress.enabled=true\nserver.1=a:1:2|b:1:2\nserver.2=c:1:2\n");
    assert_string_equal(config_find_server(&f->cfg, 1)->host, "a");
    test_assert_log_has(f, "conf/zoo.cfg:6: key 'server.1': only the first address is used", 1);
}

static void test_duplicate_server_ids_are_errors(void **state)
{
    struct fixture *f = *state;
    test_parse_fails(f, QUORUM "server.1=a:1:2\nserver.2=b:1:2\nserver.1=c:1:2\n",
                     "conf/zoo.cfg:7: key 'server.1': duplicate server id, also defined on line 5 (value 'c:1:2')");
    test_parse_fails(f, QUORUM "server.1=a:1:2\nserver.2=b:1:2\nserver.01=c:1:2\n",
                     "conf/zoo.cfg:7: key 'server.01': duplicate server id 1, also defined on line 5 "
                     "(value 'c:1:2')");
}

static void test_standalone_rule_matches_zookeeper(void **state)
{
    struct fixture *f = *state;
    test_parse_ok(f, MINIMAL);
    assert_true(config_is_standalone(&f->cfg));
    /* One participant line with standaloneEnabled (default) runs standalone. */
    test_parse_ok(f, MINIMAL "server.1=a:1:2\n");
    assert_true(config_is_standalone(&f->cfg));
    test_assert_log_has(f, "conf/zoo.cfg: only one server specified, running standalone", 1);
    /* ... but not with standaloneEnabled=false, which needs initLimit. */
    test_parse_fails(f, MINIMAL "standaloneEnabled=false\nserver.1=a:1:2\n", "conf/zoo.cfg: initLimit is not set");
    test_parse_ok(f, QUORUM "standaloneEnabled=false\nserver.1=a:1:2\n");
    assert_false(config_is_standalone(&f->cfg));
    test_parse_fails(f, MINIMAL "standaloneEnabled=false\n",
                     "conf/zoo.cfg: standaloneEnabled is false, so at least one participant server.N is needed");
    test_parse_fails(f, MINIMAL "server.1=a:1:2:observer\n", "conf/zoo.cfg: observers without participants");
    test_parse_fails(f, MINIMAL "server.1=a:1:2\nserver.2=b:1:2:observer\n",
                     "conf/zoo.cfg: observers without a quorum (one participant and standaloneEnabled=true)");
    /* Observers do not count as participants. */
    test_parse_ok(f, QUORUM "server.1=a:1:2\nserver.2=b:1:2\nserver.3=c:1:2\nserver.4=d:1:2:observer\n");
    assert_false(config_is_standalone(&f->cfg));
    test_parse_fails(f, MINIMAL "initLimit=5\nserver.1=a:1:2\nserver.2=b:1:2\n", "conf/zoo.cfg: syncLimit is not set");
    test_parse_ok(f, QUORUM "server.1=a:1:2\nserver.2=b:1:2\n");
    test_assert_log_has(f, "no server failure will be tolerated", 1);

    struct zk_config zero = {0};
    assert_false(config_is_standalone(&zero));
}

static void test_groups_and_weights(void **state)
{
    struct fixture *f = *state;
    test_parse_ok(f, QUORUM "server.1=a:1:2\nserver.2=b:1:2\nserver.3=c:1:2\n"
                            "group.1=1:2\ngroup.2=3\nweight.1=1\nweight.2=1\nweight.3=2\n");
    assert_int_equal(f->cfg.ngroups, 2);
    assert_string_equal(f->cfg.groups[0], "1:2");
    assert_string_equal(f->cfg.groups[1], "3");
    test_parse_fails(f, QUORUM "server.1=a:1:2\nserver.2=b:1:2\nserver.3=c:1:2\ngroup.1=1:2\n",
                     "conf/zoo.cfg: server 3 is not in a group");
    test_parse_fails(f, QUORUM "server.1=a:1:2\nserver.2=b:1:2\ngroup.1=1:x\n",
                     "conf/zoo.cfg:7: key 'group.1': expected server ids separated by ':' (value '1:x')");
    test_parse_fails(f, QUORUM "server.1=a:1:2\nserver.2=b:1:2\nweight.1=heavy\n",
                     "conf/zoo.cfg:7: key 'weight.1': weight is not an integer (value 'heavy')");
}

static void test_dynamic_config_file(void **state)
{
    struct fixture *f = *state;
    char dyn[256], path[256];
    test_write(f, "zoo.cfg.dynamic.100000000",
               "# members\nserver.1=a:2888:3888:participant;2181\n"
               "server.2=b:2888:3888:participant;2181\nserver.3=c:2888:3888:observer;2181\n",
               dyn, sizeof dyn);
    test_write(f, "zoo.cfg",
               "dataDir=/d\ninitLimit=10\nsyncLimit=5\nreconfigEnabled=true\n"
               "dynamicConfigFile=zoo.cfg.dynamic.100000000\n",
               path, sizeof path);
    assert_int_equal(config_load(path, &f->cfg, f->err, sizeof f->err), 0);
    assert_string_equal(f->cfg.path, path);
    assert_string_equal(f->cfg.dynamic_config_file, "zoo.cfg.dynamic.100000000");
    assert_string_equal(f->cfg.dynamic_config_path, dyn);
    assert_int_equal(f->cfg.nservers, 3);
    assert_false(config_is_standalone(&f->cfg));
    const struct config_entry *e = config_find(&f->cfg, "server.2");
    assert_string_equal(e->file, dyn);
    assert_int_equal(e->line, 3);
    assert_int_equal(config_find_server(&f->cfg, 3)->type, CONFIG_OBSERVER);
    config_free(&f->cfg);

    /* Errors name the dynamic file and its line. */
    test_write(f, "bad.dynamic", "server.1=a:2888:3888\n\nserver.2=b:2888\n", dyn, sizeof dyn);
    test_write(f, "zoo.cfg", "dataDir=/d\ndynamicConfigFile=bad.dynamic\n", path, sizeof path);
    assert_int_equal(config_load(path, &f->cfg, f->err, sizeof f->err), -EINVAL);
    char expect[512];
    snprintf(expect, sizeof expect,
             "%s:3: key 'server.2': expected host:quorumPort:electionPort[:participant|:observer]"
             "[;[clientHost:]clientPort] (value 'b:2888')", dyn);
    assert_string_equal(f->err, expect);

    test_write(f, "other.dynamic", "server.1=a:2888:3888\ntickTime=1\n", dyn, sizeof dyn);
    test_write(f, "zoo.cfg", "dataDir=/d\ndynamicConfigFile=other.dynamic\n", path, sizeof path);
    assert_int_equal(config_load(path, &f->cfg, f->err, sizeof f->err), -EINVAL);
    snprintf(expect, sizeof expect,
             "%s:2: key 'tickTime': not allowed in a dynamic config file (only server.N, group.N, weight.N) "
             "(value '1')", dyn);
    assert_string_equal(f->err, expect);

    test_write(f, "v.dynamic", "server.1=a:2888:3888\nversion=100000000\n", dyn, sizeof dyn);
    test_write(f, "zoo.cfg", "dataDir=/d\ndynamicConfigFile=v.dynamic\n", path, sizeof path);
    assert_int_equal(config_load(path, &f->cfg, f->err, sizeof f->err), -EINVAL);
    snprintf(expect, sizeof expect,
             "%s:2: key 'version': a dynamic config file must not contain a version (value '100000000')", dyn);
    assert_string_equal(f->err, expect);

    /* Server lines may not stay in the static file once it points elsewhere. */
    test_write(f, "zoo.cfg", "dataDir=/d\nserver.1=a:2888:3888\ndynamicConfigFile=v.dynamic\n", path, sizeof path);
    assert_int_equal(config_load(path, &f->cfg, f->err, sizeof f->err), -EINVAL);
    snprintf(expect, sizeof expect,
             "%s:2: key 'server.1': must be in the dynamic config file when dynamicConfigFile is set "
             "(value 'a:2888:3888')", path);
    assert_string_equal(f->err, expect);

    test_write(f, "zoo.cfg", "dataDir=/d\ndynamicConfigFile=missing.dynamic\n", path, sizeof path);
    assert_int_equal(config_load(path, &f->cfg, f->err, sizeof f->err), -ENOENT);
    snprintf(expect, sizeof expect, "%s/missing.dynamic: cannot open: %s", f->dir, strerror(ENOENT));
    assert_string_equal(f->err, expect);
    assert_null(f->cfg.entries);
}

static void test_load_reports_unreadable_files(void **state)
{
    struct fixture *f = *state;
    char path[256];
    snprintf(path, sizeof path, "%s/nope.cfg", f->dir);
    assert_int_equal(config_load(path, &f->cfg, f->err, sizeof f->err), -ENOENT);
    char expect[512];
    snprintf(expect, sizeof expect, "%s: cannot open: %s", path, strerror(ENOENT));
    assert_string_equal(f->err, expect);
    assert_int_equal(config_load(f->dir, &f->cfg, f->err, sizeof f->err), -EINVAL);
    assert_non_null(strstr(f->err, "not a regular file"));
}

static void test_myid_is_read_from_data_dir(void **state)
{
    struct fixture *f = *state;
    char text[512], path[256];
    int64_t id = 0;
    snprintf(text, sizeof text, "dataDir=%s\nclientPort=2181\n", f->dir);
    test_parse_ok(f, text);

    assert_int_equal(config_read_myid(&f->cfg, &id, f->err, sizeof f->err), -ENOENT);
    char expect[512];
    snprintf(expect, sizeof expect, "%s/myid: myid file is missing (a quorum member needs its server id there)",
             f->dir);
    assert_string_equal(f->err, expect);

    test_write(f, "myid", "three\n", path, sizeof path);
    assert_int_equal(config_read_myid(&f->cfg, &id, f->err, sizeof f->err), -EINVAL);
    snprintf(expect, sizeof expect, "%s/myid: server id 'three' is not a positive number", f->dir);
    assert_string_equal(f->err, expect);

    test_write(f, "myid", " 3 \nignored\n", path, sizeof path);
    assert_int_equal(config_read_myid(&f->cfg, &id, f->err, sizeof f->err), 0);
    assert_int_equal(id, 3);
}

static void test_apply_myid_takes_the_servers_own_line(void **state)
{
    struct fixture *f = *state;
    static const char ensemble[] = "dataDir=/d\ninitLimit=5\nsyncLimit=2\n"
                                   "server.1=a:1:2;127.0.0.1:2181\nserver.2=b:1:2;2182\nserver.3=c:1:2\n"
                                   "server.4=d:1:2:observer;2184\n";
    test_parse_ok(f, ensemble);
    assert_int_equal(config_apply_myid(&f->cfg, 1, f->err, sizeof f->err), 0);
    assert_int_equal(f->cfg.myid, 1);
    assert_int_equal(f->cfg.client_port, 2181);
    assert_string_equal(f->cfg.client_port_address, "127.0.0.1");
    assert_int_equal(f->cfg.peer_type, CONFIG_PARTICIPANT);

    test_parse_ok(f, ensemble);
    assert_int_equal(config_apply_myid(&f->cfg, 3, f->err, sizeof f->err), -EINVAL);
    assert_string_equal(f->err, "conf/zoo.cfg: clientPort is not set and server.3 has no client port");

    test_parse_ok(f, ensemble);
    assert_int_equal(config_apply_myid(&f->cfg, 9, f->err, sizeof f->err), -EINVAL);
    assert_string_equal(f->err, "conf/zoo.cfg: myid 9 is not in the server list");

    /* The line's type wins over peerType. */
    test_parse_ok(f, ensemble);
    assert_int_equal(config_apply_myid(&f->cfg, 4, f->err, sizeof f->err), 0);
    assert_int_equal(f->cfg.peer_type, CONFIG_OBSERVER);
    assert_int_equal(f->cfg.client_port, 2184);
    assert_string_equal(f->cfg.client_port_address, "0.0.0.0");
    test_assert_log_has(f, "conf/zoo.cfg:7: peer type from the server list (observer) does not match peerType "
                           "(participant), using the server list", 1);

    /* clientPort must agree with the server line. */
    test_parse_ok(f, "dataDir=/d\ninitLimit=5\nsyncLimit=2\nclientPort=2190\n"
                     "server.1=a:1:2;2181\nserver.2=b:1:2\nserver.3=c:1:2\n");
    assert_int_equal(config_apply_myid(&f->cfg, 1, f->err, sizeof f->err), -EINVAL);
    assert_string_equal(f->err, "conf/zoo.cfg:5: key 'server.1': client address 0.0.0.0:2181 differs from "
                                "clientPortAddress/clientPort 0.0.0.0:2190 (value 'a:1:2;2181')");
    test_parse_ok(f, "dataDir=/d\ninitLimit=5\nsyncLimit=2\nclientPort=2190\n"
                     "server.1=a:1:2;2181\nserver.2=b:1:2\nserver.3=c:1:2\n");
    assert_int_equal(config_apply_myid(&f->cfg, 2, f->err, sizeof f->err), 0);
    assert_int_equal(f->cfg.client_port, 2190);
}

static void test_typed_lookups(void **state)
{
    struct fixture *f = *state;
    test_parse_ok(f, MINIMAL "zkplug.tcp.backlog=0x40\nzkplug.n=-12\nzkplug.bad=12abc\n"
                             "zkplug.on=Yes\nzkplug.off=FALSE\nzkplug.maybe=perhaps\nzookeeper.zkplug.s=text\n");
    const char *s;
    int64_t n;
    int b;
    assert_int_equal(config_get_string(&f->cfg, "zkplug.s", "d", &s), 0);
    assert_string_equal(s, "text");
    assert_int_equal(config_get_string(&f->cfg, "zookeeper.zkplug.s", "d", &s), 0);
    assert_string_equal(s, "text");
    assert_int_equal(config_get_string(&f->cfg, "zkplug.none", "d", &s), 1);
    assert_string_equal(s, "d");

    assert_int_equal(config_get_int(&f->cfg, "zkplug.tcp.backlog", 7, &n), 0);
    assert_int_equal(n, 64);
    assert_int_equal(config_get_int(&f->cfg, "zkplug.n", 7, &n), 0);
    assert_int_equal(n, -12);
    assert_int_equal(config_get_int(&f->cfg, "clientPort", 7, &n), 0);
    assert_int_equal(n, 2181);
    assert_int_equal(config_get_int(&f->cfg, "zkplug.none", 7, &n), 1);
    assert_int_equal(n, 7);
    assert_int_equal(config_get_int(&f->cfg, "zkplug.bad", 7, &n), -EINVAL);
    test_assert_log_has(f, "ERROR [main] conf/zoo.cfg:5: key 'zkplug.bad': not an integer (value '12abc')", 1);

    assert_int_equal(config_get_bool(&f->cfg, "zkplug.on", 0, &b), 0);
    assert_int_equal(b, 1);
    assert_int_equal(config_get_bool(&f->cfg, "zkplug.off", 1, &b), 0);
    assert_int_equal(b, 0);
    assert_int_equal(config_get_bool(&f->cfg, "zkplug.none", 1, &b), 1);
    assert_int_equal(b, 1);
    assert_int_equal(config_get_bool(&f->cfg, "zkplug.maybe", 1, &b), -EINVAL);
    test_assert_log_has(f, "conf/zoo.cfg:8: key 'zkplug.maybe': not a boolean, expected true/false or yes/no "
                           "(value 'perhaps')", 1);
}

static void test_free_leaves_a_zeroed_struct(void **state)
{
    struct fixture *f = *state;
    struct zk_config zero, cfg = {0};
    memset(&zero, 0, sizeof zero);
    config_free(&cfg);
    assert_memory_equal(&cfg, &zero, sizeof cfg);
    assert_int_equal(config_parse("x.cfg", QUORUM "server.1=a:1:2\nserver.2=b:1:2\ngroup.1=1:2\n", &cfg, f->err,
                                  sizeof f->err), 0);
    config_free(&cfg);
    assert_memory_equal(&cfg, &zero, sizeof cfg);
    config_free(&cfg);
    config_free(NULL);
}

/* In the spirit of ZooKeeper's conf/zoo_sample.cfg plus what production
 * ensembles typically add. */
static const char test_production_cfg[] =
    "# The number of milliseconds of each tick\n"
    "tickTime=2000\n"
    "# The number of ticks that the initial \n"
    "# synchronization phase can take\n"
    "initLimit=10\n"
    "# The number of ticks that can pass between \n"
    "# sending a request and getting an acknowledgement\n"
    "syncLimit=5\n"
    "# the directory where the snapshot is stored.\n"
    "dataDir=/var/lib/zookeeper\n"
    "dataLogDir=/var/lib/zookeeper-txnlog\n"
    "# the port at which the clients will connect\n"
    "clientPort=2181\n"
    "maxClientCnxns=0\n"
    "#\n"
    "# https://zookeeper.apache.org/doc/current/zookeeperAdmin.html#sc_maintenance\n"
    "#\n"
    "autopurge.snapRetainCount=10\n"
    "autopurge.purgeInterval=24\n"
    "\n"
    "## Metrics Providers\n"
    "#metricsProvider.className=org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider\n"
    "#metricsProvider.httpHost=0.0.0.0\n"
    "#metricsProvider.httpPort=7000\n"
    "#metricsProvider.exportJvmInfo=true\n"
    "4lw.commands.whitelist=srvr, stat, ruok, mntr, conf\n"
    "admin.enableServer=true\n"
    "admin.serverPort=8081\n"
    "standaloneEnabled=false\n"
    "reconfigEnabled=false\n"
    "quorumListenOnAllIPs=true\n"
    "snapCount=100000\n"
    "preAllocSize=65536\n"
    "globalOutstandingLimit=1000\n"
    "jute.maxbuffer=4194304\n"
    "authProvider.1=org.apache.zookeeper.server.auth.DigestAuthenticationProvider\n"
    "serverCnxnFactory=org.apache.zookeeper.server.NIOServerCnxnFactory\n"
    "server.1=zk-0.zk-hs.default.svc.cluster.local:2888:3888;2181\n"
    "server.2=zk-1.zk-hs.default.svc.cluster.local:2888:3888;2181\n"
    "server.3=zk-2.zk-hs.default.svc.cluster.local:2888:3888;2181\n";

static void test_production_config_parses_cleanly(void **state)
{
    struct fixture *f = *state;
    test_parse_ok(f, test_production_cfg);
    assert_int_equal(f->cfg.nservers, 3);
    assert_false(config_is_standalone(&f->cfg));
    assert_int_equal(f->cfg.min_session_timeout, 4000);
    assert_int_equal(f->cfg.jute_maxbuffer, 4194304);
    assert_string_equal(f->cfg.four_lw_whitelist, "srvr, stat, ruok, mntr, conf");
    assert_int_equal(config_apply_myid(&f->cfg, 2, f->err, sizeof f->err), 0);
    assert_int_equal(f->cfg.client_port, 2181);
    test_assert_log_has(f, "WARN", 0);
}

static void test_sample_files_on_disk_parse(void **state)
{
    struct fixture *f = *state;
    /* The shipped sample must always load without a warning. */
    char path[512];
    snprintf(path, sizeof path, "%s/../conf/zoo.cfg", TEST_SOURCE_DIR);
    int rc = config_load(path, &f->cfg, f->err, sizeof f->err);
    if (rc != 0)
        fail_msg("%s", f->err);
    assert_int_equal(f->cfg.client_port, 2181);
    assert_string_equal(f->cfg.client_port_address, "127.0.0.1");
    assert_true(config_is_standalone(&f->cfg));
    test_assert_log_has(f, "WARN", 0);
    config_free(&f->cfg);

    /* ZooKeeper's own sample, when the package is installed here. */
    static const char *const zk_samples[] = {"/etc/zookeeper/conf/zoo.cfg",
                                             "/usr/share/zookeeper/conf/zoo_sample.cfg"};
    for (size_t i = 0; i < sizeof zk_samples / sizeof zk_samples[0]; i++) {
        if (access(zk_samples[i], R_OK) != 0)
            continue;
        rc = config_load(zk_samples[i], &f->cfg, f->err, sizeof f->err);
        if (rc != 0)
            fail_msg("%s", f->err);
        assert_true(config_is_standalone(&f->cfg));
        config_free(&f->cfg);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, test_setup, test_teardown)
        T(test_defaults_follow_zookeeper),
        T(test_session_timeouts_follow_tick_time),
        T(test_every_separator_form),
        T(test_comments_blank_lines_and_line_endings),
        T(test_escapes_are_decoded),
        T(test_bad_unicode_escape_is_an_error),
        T(test_backslash_continues_lines),
        T(test_zookeeper_prefix_is_dropped),
        T(test_later_duplicate_wins_and_keeps_its_line),
        T(test_values_are_decoded_like_zookeeper),
        T(test_jute_extrasize_has_a_floor_of_1024),
        T(test_boolean_forms_follow_the_source),
        T(test_bad_boolean_is_an_error),
        T(test_bad_integers_are_errors),
        T(test_out_of_range_values_are_errors),
        T(test_values_zookeeper_resets_are_reset),
        T(test_required_keys),
        T(test_election_alg_other_than_3_is_an_error),
        T(test_unknown_key_is_warned_once),
        T(test_zookeeper_system_property_keys_are_accepted_silently),
        T(test_java_class_values_never_fail),
        T(test_sasl_settings),
        T(test_snapshot_compression_methods),
        T(test_server_lines_are_parsed),
        T(test_bad_server_lines_name_the_line),
        T(test_multiple_addresses_use_the_first),
        T(test_duplicate_server_ids_are_errors),
        T(test_standalone_rule_matches_zookeeper),
        T(test_groups_and_weights),
        T(test_dynamic_config_file),
        T(test_load_reports_unreadable_files),
        T(test_myid_is_read_from_data_dir),
        T(test_apply_myid_takes_the_servers_own_line),
        T(test_typed_lookups),
        T(test_free_leaves_a_zeroed_struct),
        T(test_production_config_parses_cleanly),
        T(test_sample_files_on_disk_parse),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
