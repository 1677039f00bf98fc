/* cli/main.c - the `statefleet` command line (validate, run). */
#include <stdio.h>

int main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "usage: statefleet validate DEF.json | run DEF.json [options]\n");
    return 2;
}
