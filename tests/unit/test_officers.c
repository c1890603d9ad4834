/*
 * test_officers.c - named officers (archiver/officers/officers.h): the
 * migration from seal.key, roles, an auditor with no key, an edited role
 * byte, removal, passphrase change, the last admin, and the escapers of
 * the console (archiver/console/html.h).
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "archiver/console/html.h"
#include "archiver/ledger/vault.h"
#include "archiver/officers/officers.h"
#include "common/buf.h"
#include "common/status.h"
#include "tests/unit/ledger_fixture.h"
#include "tests/unit/tap.h"

#define P(s) (const unsigned char *)(s), strlen(s)

static int unlock(const char *dir, const char *name, const char *pass, struct cl_officer **o)
{
	char *err = NULL;
	int rc = cl_officer_unlock(dir, name, P(pass), o, &err);

	free(err);
	return rc;
}

static void test_officers(void)
{
	char *base = fx_scratch("cl-officers"), *dir = fx_path(base, "a"), *err = NULL;
	struct cl_officer *alice = NULL, *bob = NULL, *carol = NULL, *x = NULL;
	unsigned char *legacy = NULL;
	char *path;
	int fd;
	unsigned char b;

	TAP_EQ_INT(fx_init(dir, "example.com/officers"), CL_OK, "archive created");
	TAP_OK(!cl_officers_configured(dir), "no officers at first");
	TAP_EQ_INT(cl_vault_unlock_seal(dir, P(FX_PASS), &legacy, &err), CL_OK,
		   "the single passphrase unlocks seal.key");
	TAP_EQ_INT(cl_officer_migrate(dir, "alice", P(FX_PASS), CL_KDF_INTERACTIVE, &err), CL_OK,
		   "migrate to admin alice");
	TAP_OK(cl_officers_configured(dir), "officers configured");
	path = fx_path(dir, "seal.key");
	TAP_OK(access(path, F_OK) != 0, "seal.key destroyed");
	free(path);
	TAP_EQ_INT(cl_officer_migrate(dir, "zed", P(FX_PASS), CL_KDF_INTERACTIVE, &err), CL_EEXIST,
		   "migrate only once");
	TAP_EQ_INT(unlock(dir, "alice", FX_PASS, &alice), CL_OK, "alice unlocks");
	TAP_OK(alice && alice->role == CL_ROLE_ADMIN && alice->seal_sk &&
	       sodium_memcmp(alice->seal_sk, legacy, 32) == 0, "alice holds the same secret");
	TAP_EQ_INT(unlock(dir, "alice", "wrong", &x), CL_EKEY, "a wrong passphrase is CL_EKEY");
	TAP_EQ_INT(cl_officer_add(dir, alice, "bob", CL_ROLE_OFFICER, P("bob pass"),
				  CL_KDF_INTERACTIVE, &err), CL_OK, "alice adds bob");
	TAP_EQ_INT(cl_officer_add(dir, alice, "carol", CL_ROLE_AUDITOR, P("carol pass"),
				  CL_KDF_INTERACTIVE, &err), CL_OK, "alice adds carol (auditor)");
	TAP_EQ_INT(cl_officer_add(dir, alice, "bob", CL_ROLE_OFFICER, P("x"),
				  CL_KDF_INTERACTIVE, &err), CL_EEXIST, "names are unique");
	TAP_EQ_INT(cl_officer_add(dir, alice, "Bad/Name", CL_ROLE_OFFICER, P("x"),
				  CL_KDF_INTERACTIVE, &err), CL_EINVAL, "names are checked");
	TAP_EQ_INT(unlock(dir, "bob", "bob pass", &bob), CL_OK, "bob unlocks");
	TAP_OK(bob && bob->seal_sk && sodium_memcmp(bob->seal_sk, legacy, 32) == 0,
	       "bob holds the secret");
	TAP_EQ_INT(cl_officer_add(dir, bob, "eve", CL_ROLE_ADMIN, P("x"), CL_KDF_INTERACTIVE,
				  &err), CL_EKEY, "an officer cannot add officers");
	TAP_EQ_INT(unlock(dir, "carol", "carol pass", &carol), CL_OK, "carol unlocks");
	TAP_OK(carol && carol->seal_sk == NULL, "the auditor holds no key");
	TAP_EQ_INT(cl_officer_require(carol, CL_ACT_CONTENT, &err), CL_EKEY,
		   "the auditor may not read content");
	TAP_EQ_INT(cl_officer_require(carol, CL_ACT_STATUS, &err), CL_OK,
		   "the auditor may see the status");
	TAP_EQ_INT(cl_officer_require(bob, CL_ACT_CHANGE, &err), CL_OK, "the officer may change");
	TAP_EQ_INT(cl_officer_remove(dir, alice, "alice", &err), CL_EINVAL,
		   "the last admin stays");
	/* an edited role byte: carol made an admin by hand */
	path = fx_path(dir, "officers/carol.officer");
	fd = open(path, O_RDWR);
	b = CL_ROLE_ADMIN;
	TAP_OK(fd >= 0 && pwrite(fd, &b, 1, 9) == 1, "role byte edited");
	if (fd >= 0)
		close(fd);
	free(path);
	cl_officer_session_free(x);
	x = NULL;
	TAP_EQ_INT(unlock(dir, "carol", "carol pass", &x), CL_EKEY, "an edited role does not open");
	TAP_EQ_INT(cl_officer_passwd(dir, bob, P("bob new"), CL_KDF_INTERACTIVE, &err), CL_OK,
		   "bob changes his passphrase");
	TAP_EQ_INT(unlock(dir, "bob", "bob pass", &x), CL_EKEY, "the old one no longer opens");
	TAP_EQ_INT(unlock(dir, "bob", "bob new", &x), CL_OK, "the new one does");
	cl_officer_session_free(x);
	x = NULL;
	TAP_EQ_INT(cl_officer_remove(dir, bob, "carol", &err), CL_EKEY, "an officer cannot remove");
	TAP_EQ_INT(cl_officer_remove(dir, alice, "bob", &err), CL_OK, "alice removes bob");
	TAP_EQ_INT(unlock(dir, "bob", "bob new", &x), CL_ENOTFOUND, "bob can no longer unlock");
	cl_officer_session_free(alice);
	cl_officer_session_free(bob);
	cl_officer_session_free(carol);
	cl_officer_session_free(x);
	sodium_free(legacy);
	free(err);
	fx_rm_tree(base);
	free(dir);
	free(base);
}

static void test_html(void)
{
	struct cl_buf b;

	cl_buf_init(&b, 4096);
	cl_html_str(&b, "<script>\"a\"&'b'`</script>");
	cl_buf_add(&b, "", 1);
	TAP_EQ_STR((const char *)b.data,
		   "&lt;script&gt;&quot;a&quot;&amp;&#39;b&#39;&#96;&lt;/script&gt;",
		   "markup characters are escaped");
	cl_buf_reset(&b);
	cl_html_str(&b, "a\xe2\x80\xae" "b\xff");
	cl_buf_add(&b, "", 1);
	TAP_EQ_STR((const char *)b.data,
		   "a<span class=\"ctl\">[U+202E]</span>b\xef\xbf\xbd",
		   "RLO shown as a marker, invalid UTF-8 as U+FFFD");
	cl_buf_reset(&b);
	cl_html_url(&b, "a b/\xe4\xbd\xa0");
	cl_buf_add(&b, "", 1);
	TAP_EQ_STR((const char *)b.data, "a%20b%2F%E4%BD%A0", "URL parts are percent-encoded");
	cl_buf_release(&b);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	test_officers();
	test_html();
	return tap_done();
}
