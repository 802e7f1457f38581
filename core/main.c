/*
 * zkplug entry point: `zkplug -c zoo.cfg -p PLUGIN_DIR`. Parses the command
 * line, loads the configuration and hands over to the server.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server.h"

static void main_usage(FILE *out)
{
    fprintf(out, "usage: zkplug -c ZOO_CFG -p PLUGIN_DIR [-v]\n"
                 "  -c FILE   ZooKeeper configuration file (zoo.cfg)\n"
                 "  -p DIR    folder the plugins are loaded from\n"
                 "  -v        log at debug level\n"
                 "  -V        print the version and exit\n");
}

int main(int argc, char **argv)
{
    const char *cfg_path = NULL, *plugin_dir = NULL;
    int verbose = 0, opt;
    while ((opt = getopt(argc, argv, "c:p:vVh")) != -1) {
        switch (opt) {
        case 'c': cfg_path = optarg; break;
        case 'p': plugin_dir = optarg; break;
        case 'v': verbose = 1; break;
        case 'V': printf("zkplug %s (ZooKeeper %s protocol)\n", ZKPLUG_VERSION, ZKPLUG_ZK_VERSION); return 0;
        case 'h': main_usage(stdout); return 0;
        default: main_usage(stderr); return 2;
        }
    }
    if (cfg_path == NULL || plugin_dir == NULL || optind != argc) {
        main_usage(stderr);
        return 2;
    }
    return server_main(cfg_path, plugin_dir, verbose);
}
