/* lirf keygen: a signing and encryption identity for deposit archives. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "fileutil.h"
#include "seal.h"

static void keygen_usage(FILE *f) {
    fprintf(f,
        "usage: lirf keygen --out NAME [--force] [--json]\n"
        "\n"
        "Makes a key for signed and encrypted deposit archives: an Ed25519 pair that\n"
        "signs and an X25519 pair that deposits are encrypted to, named by a key id\n"
        "(16 hex digits). Writes two files:\n"
        "\n"
        "  NAME.key   the secret key (mode 0600): for lirf deposit --sign and\n"
        "             lirf withdraw --decrypt-key. Keep it private.\n"
        "  NAME.pub   the public key: for lirf deposit --encrypt-to and\n"
        "             lirf withdraw --verify-key. Give it to others.\n"
        "\n"
        "  --out NAME   where to write (NAME.key and NAME.pub)\n"
        "  --force      replace existing key files (the old secret key is lost)\n"
        "  --json       print the key id and the paths as JSON\n"
        "\n"
        "The secret key is never printed. Format: docs/archive.md.\n");
}

int cmd_keygen(const char *device, int argc, char **argv) {
    (void)device; /* no OpenCL here */
    const char *out = NULL;
    int force = 0, json = 0, bad = 0;
    for (int i = 1; i < argc && !bad; i++) {
        if (arg_flag(argv, i, "-h") || arg_flag(argv, i, "--help")) return keygen_usage(stdout), 0;
        else if (arg_value(argc, argv, &i, "--out", &out, &bad)) {}
        else if (arg_flag(argv, i, "--force")) force = 1;
        else if (arg_flag(argv, i, "--json")) json = 1;
        else {
            fprintf(stderr, "lirf keygen: unknown option %s (see lirf keygen --help)\n", argv[i]);
            bad = 1;
        }
    }
    if (bad) return 2;
    if (!out || !*out) {
        fprintf(stderr, "lirf keygen: --out NAME is required (writes NAME.key and NAME.pub)\n");
        return 2;
    }
    lirf_key *k;
    int rc = 0;
    lirf_status st = lirf_keygen(out, force, &k);
    if (st != LIRF_OK) return cli_error(st, "keygen");
    if (json) {
        rc = print_json(json_pack("{s:o, s:s+, s:s+}", "key_id", lirf_json_text(lirf_key_id(k)),
                                  "secret_key", out, ".key", "public_key", out, ".pub"));
    } else {
        printf("key id: %s\nsecret key: %s.key (keep it private)\npublic key: %s.pub\n",
               lirf_key_id(k), out, out);
    }
    lirf_key_free(k);
    return rc;
}

int load_key_cli(const char *path, lirf_key_kind kind, const char *flag, lirf_key **out) {
    *out = NULL;
    if (!path) return 0;
    lirf_status st = lirf_key_load(path, kind, out);
    if (st != LIRF_OK) return cli_error(st, flag);
    return 0;
}
