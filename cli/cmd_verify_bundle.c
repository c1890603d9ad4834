/* placeholder, replaced below */
#include "cli/cli.h"
int cmd_verify_bundle(int argc, char **argv, struct cli_ctx *ctx)
{
	(void)argc; (void)argv; (void)ctx;
	return EXIT_ERROR;
}
