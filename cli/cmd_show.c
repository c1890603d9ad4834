/*
 * cmd_show.c - chatledger show: decrypt one entry (the officer's path).
 */
#include <getopt.h>
#include <stdio.h>

#include <sodium.h>

#include "archiver/ledger/ledger.h"
#include "archiver/ledger/vault.h"
#include "cli/cli.h"
#include "common/banned.h"

int cmd_show(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "archive", required_argument, NULL, 'a' },
		{ "index", required_argument, NULL, 'i' },
		{ "passphrase-file", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *archive = NULL, *pfile = NULL;
	unsigned long long index = 0;
	unsigned char *pass = NULL, *sk = NULL;
	size_t plen = 0;
	int have_index = 0, c, rc;
	struct cl_ledger *l = NULL;
	struct cl_buf b;
	char *err = NULL;

	while ((c = getopt_long(argc, argv, "a:h", opts, NULL)) != -1) {
		switch (c) {
		case 'a': archive = optarg; break;
		case 'i':
			if (cli_u64(optarg, &index) != 0)
				return cli_fail("show", "--index must be an entry index");
			have_index = 1;
			break;
		case 'p': pfile = optarg; break;
		case 'h': cli_usage("show", stdout); return EXIT_OK;
		default: cli_usage("show", stderr); return EXIT_ERROR;
		}
	}
	archive = cli_archive(archive);
	if (archive == NULL || optind != argc || !have_index) {
		cli_usage("show", stderr);
		return EXIT_ERROR;
	}
	if (cli_passphrase("show", pfile, 0, &pass, &plen) != 0)
		return EXIT_ERROR;
	rc = cl_vault_unlock_seal(archive, pass, plen, &sk, &err);
	sodium_free(pass);
	if (rc)
		return cli_fail_rc("show", rc, err);
	cl_buf_init(&b, 64u << 20);
	if ((rc = cl_ledger_open(archive, CL_OPEN_READ, &l, &err)) == 0)
		rc = cl_ledger_open_payload(l, index, sk, &b, &err);
	cl_ledger_close(l);
	sodium_free(sk);
	if (rc == 0) {
		fwrite(b.data, 1, b.len, stdout);
		putchar('\n');
	}
	if (b.data)
		sodium_memzero(b.data, b.alloc);
	cl_buf_release(&b);
	return rc ? cli_fail_rc("show", rc, err) : EXIT_OK;
}
