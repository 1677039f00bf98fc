/* cli/cli_keys.c - `statefleet keys new PATH`: writes a CURVE key pair.
 *
 * The work (no overwriting, an owner-only secret from its first byte) is
 * sf_curve_keygen's; this file only parses the words and tells the person
 * which file goes where, since handing out the wrong half is the one
 * mistake that matters. */
#include "cli_keys.h"

#include <string.h>

#include "common/sf_curve.h"

void cmd_keys_usage(FILE *to)
{
    fprintf(to, "\n"
                "keys new writes a CURVE key pair for the fleet: PATH (the public key, to share)\n"
                "and PATH_secret (both keys, mode 0600, to keep). It never overwrites a file.\n");
}

static int keys_new(const char *path)
{
    char err[512];
    sf_rc rc = sf_curve_keygen(path, err, sizeof err);
    if (rc != SF_OK) {
        fprintf(stderr, "statefleet: keys new: %s\n", err);
        return rc == SF_EINVAL ? 2 : 1;
    }
    printf("public key: %s\n"
           "secret key: %s_secret (mode 0600: keep it on this machine, never copy it elsewhere)\n"
           "\n"
           "For a worker's key: copy %s into the coordinator's authorised-keys directory;\n"
           "the worker uses %s_secret as its own key.\n"
           "For the coordinator's key: the coordinator uses %s_secret, and every worker is\n"
           "given %s as its --server-key.\n",
           path, path, path, path, path, path);
    return 0;
}

int cmd_keys(int argc, char **argv)
{
    if (argc == 1 && (strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "help") == 0)) {
        fprintf(stdout, "usage: statefleet keys new PATH\n");
        cmd_keys_usage(stdout);
        return 0;
    }
    if (argc != 2 || strcmp(argv[0], "new") != 0 || argv[1][0] == '\0' || argv[1][0] == '-') {
        fprintf(stderr, "usage: statefleet keys new PATH\n");
        cmd_keys_usage(stderr);
        return 2;
    }
    return keys_new(argv[1]);
}
