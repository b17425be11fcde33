/* lirf withdraw: target net + deposit archive -> recover net, no data. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void withdraw_usage(FILE *f) {
    fprintf(f,
        "usage: lirf [--device SPEC] withdraw --target PATH --archive PATH [--out PATH]\n"
        "                                     [--verify-key PUB] [--decrypt-key KEY]\n"
        "\n"
        "Puts the deposited knowledge back: target net + deposit archive -> recover net,\n"
        "with no data and no training. The archive's mode decides the recover net: delta\n"
        "(the target's lower part plus the stored difference, with T0's BN statistics: T0\n"
        "up to the codec's rounding) and exact (T0's lower part) give a plain checkpoint of\n"
        "the whole network, which PyTorch loads into a torchvision-named ResNet; paper and\n"
        "calibrated (LIRF-C) give the target plus the pruned module (deposit.*), combined\n"
        "by the column rule (Eq. 8).\n"
        "A delta archive is refused when the lower part it gives back is not the one it was\n"
        "made to give (its values changed or re-quantised since the deposit).\n"
        "\n"
        "Several deposits (the second made from the first's target with lirf deposit\n"
        "--allow-kind target) come out last first: withdrawing the second in delta or\n"
        "exact mode writes the first deposit's target (lirf_kind target, standing in for\n"
        "it), onto which the first archive withdraws in turn; the first archive onto the\n"
        "second's target is refused, saying so.\n"
        "\n"
        "Refuses, writing nothing, an archive whose manifest\n"
        "or checksums are wrong, that was deposited from another network (upper-part\n"
        "fingerprint), or that was not made with this very target net: each archive is\n"
        "bound to the target its lirf deposit wrote (the deposit classes and the SHA-256\n"
        "of the target's lower part), so another deposit's target from the same T0, or a\n"
        "target changed since, is refused, naming both files. Archives from a lirf before\n"
        "that binding are refused too: deposit again (docs/archive.md).\n"
        "\n"
        "  --target PATH      the target net written by lirf deposit with this archive\n"
        "  --archive PATH     the deposit archive\n"
        "  --out PATH         the recover net (default recover.safetensors); lirf eval reads it\n"
        "                     (the earlier deposit's target when the archive is a second\n"
        "                     deposit's, delta or exact)\n"
        "  --verify-key PUB   require a valid signature by public key PUB (NAME.pub from\n"
        "                     lirf keygen): an unsigned archive, one signed by another key,\n"
        "                     or one with any byte of its members changed or a member\n"
        "                     swapped is refused\n"
        "  --decrypt-key KEY  the secret key (NAME.key) an encrypted deposit was encrypted\n"
        "                     to; without it an encrypted archive is refused\n"
        "  --json             print a JSON report\n"
        "\n"
        "Without --verify-key a signed archive is still checked against the key it names,\n"
        "which shows it intact but not who made it; an encrypted archive that decrypts\n"
        "was made for your key, by anyone holding your public key. Only --verify-key\n"
        "proves the origin (docs/archive.md).\n");
}

int cmd_withdraw(const char *device, int argc, char **argv) {
    const char *target = NULL, *archive = NULL, *out = "recover.safetensors";
    const char *verify = NULL, *decrypt = NULL;
    int json = 0, bad = 0;
    for (int i = 1; i < argc && !bad; i++) {
        if (arg_flag(argv, i, "-h") || arg_flag(argv, i, "--help")) return withdraw_usage(stdout), 0;
        else if (arg_value(argc, argv, &i, "--target", &target, &bad)) {}
        else if (arg_value(argc, argv, &i, "--archive", &archive, &bad)) {}
        else if (arg_value(argc, argv, &i, "--out", &out, &bad)) {}
        else if (arg_value(argc, argv, &i, "--verify-key", &verify, &bad)) {}
        else if (arg_value(argc, argv, &i, "--decrypt-key", &decrypt, &bad)) {}
        else if (arg_flag(argv, i, "--json")) json = 1;
        else {
            fprintf(stderr, "lirf withdraw: unknown option %s (see lirf withdraw --help)\n", argv[i]);
            bad = 1;
        }
    }
    if (bad) return 2;
    if (!target || !archive) {
        fprintf(stderr, "lirf withdraw: --target and --archive are required\n");
        return 2;
    }
    lirf_key *vk = NULL, *dk = NULL;
    lirf_ctx *ctx = NULL;
    if (load_key_cli(verify, LIRF_KEY_PUBLIC, "--verify-key", &vk) ||
        load_key_cli(decrypt, LIRF_KEY_SECRET, "--decrypt-key", &dk) || cli_open(device, &ctx)) {
        lirf_key_free(vk);
        lirf_key_free(dk);
        return 2;
    }
    lirf_archive_unseal keys = {vk, dk};
    json_t *rep = NULL;
    lirf_status st = lirf_withdraw_sealed(ctx, target, archive, out, &keys, &rep);
    int rc = 0;
    if (st != LIRF_OK) rc = cli_error(st, "withdraw");
    else if (json) {
        char *s = json_dumps(rep, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        if (s) puts(s);
        free(s);
    } else {
        printf("recover net: %s\n", out);
        const char *by = json_string_value(json_object_get(rep, "signed_by"));
        const char *to = json_string_value(json_object_get(rep, "encrypted_to"));
        if (by && vk) printf("signature: verified, by key %s\n", by);
        else if (by) printf("signature: intact, by key %s, but not verified (no --verify-key)\n", by);
        if (to) printf("deposit: decrypted (it was encrypted to key %s)\n", to);
    }
    if (st == LIRF_OK && dk && !json_is_string(json_object_get(rep, "encrypted_to")))
        fprintf(stderr, "lirf withdraw: note: the archive is not encrypted; --decrypt-key was "
                        "not needed\n");
    json_decref(rep);
    lirf_key_free(vk);
    lirf_key_free(dk);
    lirf_ctx_destroy(ctx);
    return rc;
}
