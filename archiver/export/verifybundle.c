/*
 * verifybundle.c - offline verification of an export bundle
 * (verifybundle.h, docs/BUNDLE.md §6).  The bundle is read twice with
 * libarchive: the first pass hashes every member and keeps the tag files,
 * proofs and RSMF files; the second hashes each native with its salt.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <archive.h>
#include <archive_entry.h>
#include <openssl/evp.h>
#include <sodium.h>

#include "archiver/export/verifybundle.h"
#include "archiver/export/sign.h"
#include "archiver/ledger/checkpoint.h"
#include "archiver/ledger/leaf.h"
#include "archiver/ledger/merkle.h"
#include "archiver/ledger/note.h"
#include "archiver/ledger/proof.h"
#include "archiver/witness/cosig.h"
#include "archiver/witness/tsa.h"
#include "archiver/witness/wverify.h"
#include "common/buf.h"
#include "common/map.h"
#include "common/status.h"
#include "common/util.h"

#include "common/banned.h"

#define KEEP_MAX (256u << 20)

struct vfile {
	char *path;               /* relative to the top folder */
	unsigned char sha[32];
	uint64_t size;
	unsigned char *data;      /* kept content, or NULL */
};

struct vb {
	struct vfile *f;
	size_t nf, capf;
	json_t *byname;           /* path -> position */
	char *top;
	json_t *rep, *problems, *warnings;
	struct cl_checkpoint cp;
	const char *cp_text;
	size_t cp_len;
	struct cl_map64 proven;   /* index -> 1 */
	json_t *recinfo;          /* "index" -> {conversation, sender} */
	json_t *natives;          /* path -> {salt hex, pt_hash hex, index} */
	uint64_t n_records, n_natives, n_conv, n_rsmf, n_redacted;
};

static void problem(struct vb *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void problem(struct vb *v, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	s = cl_vstrdupf(fmt, ap);
	va_end(ap);
	if (json_array_size(v->problems) < 1000)
		json_array_append_new(v->problems, json_string(s ? s : "(out of memory)"));
	free(s);
}

static void warning(struct vb *v, const char *s)
{
	json_array_append_new(v->warnings, json_string(s));
}

static int keep(const char *p)
{
	if (strncmp(p, "data/", 5) != 0)
		return 1;
	return strncmp(p, "data/proofs/", 12) == 0 || strncmp(p, "data/rsmf/", 10) == 0 ||
	       strncmp(p, "data/custody/", 13) == 0;
}

static const struct vfile *get(const struct vb *v, const char *p)
{
	json_t *n = json_object_get(v->byname, p);

	return n ? &v->f[json_integer_value(n)] : NULL;
}

/* ---- pass 1 ---------------------------------------------------------- */

static int open_ar(const char *path, struct archive **out, char **err)
{
	struct archive *a = archive_read_new();

	*out = NULL;
	if (a == NULL)
		return cl_error(err, CL_ENOMEM, "out of memory");
	archive_read_support_format_zip(a);
	archive_read_support_format_tar(a);
	if (archive_read_open_filename(a, path, 1 << 16) != ARCHIVE_OK) {
		int rc = cl_error(err, CL_EIO, "%s: %s", path, archive_error_string(a));

		archive_read_free(a);
		return rc;
	}
	*out = a;
	return CL_OK;
}

static int pass1(struct vb *v, const char *path, char **err)
{
	struct archive *a;
	struct archive_entry *e;
	unsigned char *buf = malloc(1 << 16);
	int rc, r;

	if (buf == NULL)
		return cl_error(err, CL_ENOMEM, "out of memory");
	if ((rc = open_ar(path, &a, err))) {
		free(buf);
		return rc;
	}
	while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
		const char *name = archive_entry_pathname_utf8(e);
		const char *slash;
		struct vfile *f;
		struct cl_sha256_ctx st;
		struct cl_buf keepb;
		la_ssize_t n;

		if (name == NULL)
			name = archive_entry_pathname(e);
		if (archive_entry_filetype(e) == AE_IFDIR)
			continue;
		if (name == NULL || (slash = strchr(name, '/')) == NULL || slash == name) {
			problem(v, "member %s is not inside one top folder", name ? name : "?");
			continue;
		}
		if (v->top == NULL)
			v->top = strndup(name, (size_t)(slash - name));
		else if (strncmp(name, v->top, strlen(v->top)) != 0 || name[strlen(v->top)] != '/') {
			problem(v, "member %s is outside the top folder %s", name, v->top);
			continue;
		}
		if (strstr(slash + 1, "..") || json_object_get(v->byname, slash + 1)) {
			problem(v, "member %s is duplicated or has '..'", name);
			continue;
		}
		if (v->nf == v->capf) {
			size_t cap = v->capf ? v->capf * 2 : 256;
			struct vfile *nf = realloc(v->f, cap * sizeof(*nf));

			if (nf == NULL) {
				rc = cl_error(err, CL_ENOMEM, "out of memory");
				break;
			}
			v->f = nf;
			v->capf = cap;
		}
		f = &v->f[v->nf];
		memset(f, 0, sizeof(*f));
		f->path = strdup(slash + 1);
		json_object_set_new(v->byname, slash + 1, json_integer((json_int_t)v->nf));
		v->nf++;
		cl_sha256_init(&st);
		cl_buf_init(&keepb, KEEP_MAX);
		while ((n = archive_read_data(a, buf, 1 << 16)) > 0) {
			cl_sha256_update(&st, buf, (size_t)n);
			f->size += (uint64_t)n;
			if (keep(f->path) && cl_buf_add(&keepb, buf, (size_t)n) != 0) {
				problem(v, "%s is too large to check", f->path);
			}
		}
		if (n < 0) {
			rc = cl_error(err, CL_EIO, "%s: reading %s: %s", path, name, archive_error_string(a));
			cl_buf_release(&keepb);
			break;
		}
		cl_sha256_final(&st, f->sha);
		if (keep(f->path)) {
			cl_buf_add(&keepb, "", 1);
			f->data = cl_buf_detach(&keepb, NULL);
		}
		cl_buf_release(&keepb);
	}
	if (rc == CL_OK && r != ARCHIVE_EOF)
		rc = cl_error(err, CL_EIO, "%s: %s", path, archive_error_string(a));
	archive_read_free(a);
	free(buf);
	return rc;
}

/* ---- manifests -------------------------------------------------------- */

static void check_manifest(struct vb *v, const char *mname, int payload)
{
	const struct vfile *m = get(v, mname);
	json_t *listed = json_object();
	const char *p, *end;
	uint64_t bytes = 0, files = 0;
	size_t i;

	if (m == NULL) {
		problem(v, "%s is missing", mname);
		json_decref(listed);
		return;
	}
	p = (const char *)m->data;
	end = p + m->size;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		unsigned char want[32];
		char hex[65], *fp;
		const struct vfile *f;

		if (len < 67 || cl_fmt(hex, sizeof(hex), "%.64s", p) != 0 ||
		    cl_hex_decode(hex, want, 32) != 0 || p[64] != ' ') {
			problem(v, "%s: malformed line", mname);
			break;
		}
		fp = strndup(p + 65 + (p[65] == ' ' || p[65] == '*'), len - 65 - (p[65] == ' ' || p[65] == '*'));
		/* percent-decoding of %0D %0A %25 */
		if (fp) {
			char *s = fp, *d = fp;

			for (; *s; s++) {
				if (s[0] == '%' && s[1] && s[2]) {
					if (strncmp(s, "%0D", 3) == 0) { *d++ = '\r'; s += 2; continue; }
					if (strncmp(s, "%0A", 3) == 0) { *d++ = '\n'; s += 2; continue; }
					if (strncmp(s, "%25", 3) == 0) { *d++ = '%'; s += 2; continue; }
				}
				*d++ = *s;
			}
			*d = 0;
		}
		f = fp ? get(v, fp) : NULL;
		if (f == NULL)
			problem(v, "%s lists %s, which is missing", mname, fp ? fp : "?");
		else if (memcmp(f->sha, want, 32) != 0)
			problem(v, "%s: checksum mismatch (damaged or altered)", fp);
		else {
			bytes += f->size;
			files++;
		}
		if (fp)
			json_object_set_new(listed, fp, json_true());
		free(fp);
		p += len + 1;
	}
	for (i = 0; i < v->nf; i++) {
		const char *fp = v->f[i].path;
		int is_data = strncmp(fp, "data/", 5) == 0;

		if (payload && is_data && !json_object_get(listed, fp))
			problem(v, "%s is not listed in %s", fp, mname);
		if (!payload && !is_data && !json_object_get(listed, fp) &&
		    strcmp(fp, "tagmanifest-sha256.txt") != 0 &&
		    strncmp(fp, "tagmanifest-sha256.txt.", 23) != 0)
			problem(v, "tag file %s is not listed in %s", fp, mname);
	}
	if (payload) {
		const struct vfile *bi = get(v, "bag-info.txt");
		char ox[64];
		const char *o;

		cl_fmt(ox, sizeof(ox), "Payload-Oxum: %llu.%llu\n", (unsigned long long)bytes,
		       (unsigned long long)files);
		if (bi == NULL || (o = strstr((const char *)bi->data, "Payload-Oxum: ")) == NULL ||
		    strncmp(o, ox, strlen(ox)) != 0)
			problem(v, "bag-info.txt: Payload-Oxum does not match the payload (%llu.%llu)",
				(unsigned long long)bytes, (unsigned long long)files);
	}
	json_decref(listed);
}

/* ---- signatures -------------------------------------------------------- */

static int read_file(const char *path, struct cl_buf *b, char **err)
{
	cl_buf_init(b, (1u << 20) + 1);
	return cl_file_read(path, b, 1u << 20, err);
}

static void check_signatures(struct vb *v, const struct cl_vb_opts *o, char **err)
{
	const struct vfile *tm = get(v, "tagmanifest-sha256.txt");
	const struct vfile *p7 = get(v, "tagmanifest-sha256.txt.p7s");
	const struct vfile *ms = get(v, "tagmanifest-sha256.txt.minisig");
	const struct vfile *ts = get(v, "tagmanifest-sha256.txt.p7s.tsr");
	const struct vfile *ca = get(v, "certs/signer.pem");
	json_t *sig = json_object();
	char *e = NULL;

	json_object_set_new(v->rep, "signatures", sig);
	if (tm == NULL || p7 == NULL) {
		problem(v, "the tag manifest or its CMS signature (tagmanifest-sha256.txt.p7s) is missing");
		return;
	}
	if (o->ca_path) {
		struct cl_buf b;

		if (read_file(o->ca_path, &b, &e) == CL_OK &&
		    cl_sign_cms_verify(p7->data, p7->size, tm->data, tm->size,
				       (const char *)b.data, b.len, &e) == CL_OK)
			json_object_set_new(sig, "cms", json_string("ok (pinned root)"));
		else {
			problem(v, "CMS signature: %s", e ? e : "fails");
			json_object_set_new(sig, "cms", json_string("FAILED"));
		}
		free(e);
		e = NULL;
		cl_buf_release(&b);
	} else if (ca && cl_sign_cms_verify(p7->data, p7->size, tm->data, tm->size,
					    (const char *)ca->data, ca->size, &e) == CL_OK) {
		json_object_set_new(sig, "cms", json_string("ok (bundle's own certificate: compare its fingerprint out of band, or pass --ca)"));
		warning(v, "the CMS signer is not pinned (no --ca): a re-signed bundle would also pass this step");
	} else {
		problem(v, "CMS signature: %s", e ? e : "no certs/signer.pem");
		json_object_set_new(sig, "cms", json_string("FAILED"));
	}
	free(e);
	e = NULL;
	if (ms) {
		const struct vfile *pub = get(v, "certs/minisign.pub");

		if (pub && cl_sign_minisign_verify((const char *)pub->data, pub->size,
						   (const char *)ms->data, ms->size, tm->data,
						   tm->size, &e) == CL_OK)
			json_object_set_new(sig, "minisign", json_string("ok"));
		else {
			problem(v, "minisign signature: %s", e ? e : "no certs/minisign.pub");
			json_object_set_new(sig, "minisign", json_string("FAILED"));
		}
		free(e);
		e = NULL;
	}
	if (ts) {
		struct cl_buf b;
		const struct vfile *tca = get(v, "certs/tsa-ca.pem");
		int have = 0, ok = 0;

		cl_buf_init(&b, 1);
		if (o->tsa_ca_path) {
			have = read_file(o->tsa_ca_path, &b, &e) == CL_OK;
			ok = have && cl_sign_timestamp_verify(ts->data, ts->size, p7->data, p7->size,
							      (const char *)b.data, b.len, &e) == CL_OK;
		} else if (tca) {
			have = 1;
			ok = cl_sign_timestamp_verify(ts->data, ts->size, p7->data, p7->size,
						      (const char *)tca->data, tca->size, &e) == CL_OK;
		}
		if (!have) {
			warning(v, "the RFC 3161 timestamp was not checked: no TSA root (--tsa-ca)");
			json_object_set_new(sig, "timestamp", json_string("not checked"));
		} else if (ok) {
			json_object_set_new(sig, "timestamp", json_string("ok"));
		} else {
			problem(v, "RFC 3161 timestamp: %s", e ? e : "fails");
			json_object_set_new(sig, "timestamp", json_string("FAILED"));
		}
		free(e);
		e = NULL;
		cl_buf_release(&b);
	}
	(void)err;
}

/* ---- checkpoint and proofs ----------------------------------------------- */

static int check_checkpoint(struct vb *v, const struct cl_vb_opts *o)
{
	const struct vfile *c = get(v, "data/proofs/checkpoint");
	const struct vfile *k = get(v, "data/proofs/verifier-key");
	char *vk = NULL, *name = NULL, *e = NULL;
	unsigned char pk[32];
	uint32_t id;
	size_t tl = 0;
	int ok = 0;

	if (c == NULL) {
		problem(v, "data/proofs/checkpoint is missing");
		return 0;
	}
	if (o->vkey)
		vk = strdup(o->vkey);
	else if (k) {
		vk = strndup((const char *)k->data, strcspn((const char *)k->data, "\n"));
		warning(v, "the log key is the bundle's own data/proofs/verifier-key (pass --vkey to pin it)");
	}
	if (vk == NULL || cl_note_vkey_parse(vk, &name, &id, pk, &e) != CL_OK)
		problem(v, "no usable verifier key: %s", e ? e : "none");
	else if (cl_note_verify((const char *)c->data, c->size, name, id, pk, &tl, &e) != CL_OK)
		problem(v, "data/proofs/checkpoint: signature does not verify: %s", e ? e : "");
	else if (cl_checkpoint_parse((const char *)c->data, tl, &v->cp, &e) != CL_OK)
		problem(v, "data/proofs/checkpoint: %s", e ? e : "malformed");
	else {
		ok = 1;
		v->cp_text = (const char *)c->data;
		v->cp_len = c->size;
		json_object_set_new(v->rep, "checkpoint_size", json_integer((json_int_t)v->cp.size));
		json_object_set_new(v->rep, "origin", json_string(v->cp.origin));
	}
	free(e);
	free(vk);
	free(name);
	return ok;
}

/*
 * The witnesses' lines on data/proofs/checkpoint against the policy, and
 * data/proofs/checkpoint.tsr (an RFC 3161 response) against SHA-256 of
 * the checkpoint text (docs/BUNDLE.md §4.1).
 */
static void check_witnesses(struct vb *v, const struct cl_vb_opts *o)
{
	const struct vfile *c = get(v, "data/proofs/checkpoint");
	const struct vfile *ts = get(v, "data/proofs/checkpoint.tsr");
	struct cl_cnote *cn = malloc(sizeof(*cn));
	json_t *w = json_object();
	size_t lines;

	json_object_set_new(v->rep, "witness", w);
	if (cn == NULL || c == NULL ||
	    cl_cnote_parse((const char *)c->data, c->size, cn, NULL) != CL_OK) {
		problem(v, "data/proofs/checkpoint: malformed signature lines");
		free(cn);
		return;
	}
	lines = cn->nsigs - 1; /* the log's own line is one (checked above) */
	json_object_set_new(w, "cosignature_lines", json_integer((json_int_t)lines));
	if (o->policy) {
		struct cl_wverify_report r;

		if (cl_wpolicy_check_note(o->policy, (const char *)c->data, c->size, &r) == CL_OK) {
			json_object_set_new(w, "policy", json_string("met"));
			json_object_set_new(w, "witnesses", json_integer((json_int_t)r.latest_by));
		} else {
			problem(v, "data/proofs/checkpoint: %s",
				r.problem ? r.problem : "the witness policy could not be checked");
			json_object_set_new(w, "policy", json_string("FAILED"));
		}
		cl_wverify_report_release(&r);
	} else {
		json_object_set_new(w, "policy", json_string("not checked"));
		if (lines > 0)
			warning(v, "the checkpoint's witness cosignatures were not checked"
				" (pass --witness-policy)");
	}
	if (ts) {
		unsigned char d[32];
		int64_t gen = 0;
		char *e = NULL;

		cl_sha256(c->data, cn->text_len, d);
		if (cl_tsa_check(ts->data, ts->size, d, 0, o->tsa_ca_path, &gen, &e) != CL_OK) {
			problem(v, "data/proofs/checkpoint.tsr: %s", e ? e : "rejected");
			json_object_set_new(w, "timestamp", json_string("FAILED"));
		} else {
			char at[32];

			cl_time_format(gen * 1000, at);
			json_object_set_new(w, "timestamp", json_string(o->tsa_ca_path ? "ok" :
							"imprint ok, signer not checked"));
			json_object_set_new(w, "timestamp_time", json_string(at));
			if (!o->tsa_ca_path)
				warning(v, "the checkpoint's timestamp token matches the checkpoint, but"
					" its signer was not checked (pass --tsa-ca)");
		}
		free(e);
	}
	free(cn);
}

/* leaf hex -> decoded leaf (bytes in *lb) and its hash. */
static int leaf_of(const char *hex, struct cl_buf *lb, struct cl_leaf *lf, cl_hash h)
{
	size_t n = hex ? strlen(hex) : 0;
	char *e = NULL;

	cl_buf_reset(lb);
	if (n == 0 || n % 2 || cl_buf_reserve(lb, n / 2) != 0 ||
	    cl_hex_decode(hex, lb->data, n / 2) != 0)
		return -1;
	lb->len = n / 2;
	if (cl_leaf_decode(lb->data, lb->len, lf, &e) != CL_OK) {
		free(e);
		return -1;
	}
	cl_merkle_leaf_hash(lb->data, lb->len, h);
	return 0;
}

/* A tlog-proof of `h` at `index` against the bundle's checkpoint. */
static int proof_ok(struct vb *v, const char *text, uint64_t index, const cl_hash h)
{
	struct cl_tlog_proof p;
	char *e = NULL;
	int ok;

	if (text == NULL || cl_tlog_proof_parse(text, strlen(text), &p, &e) != CL_OK) {
		free(e);
		return 0;
	}
	ok = p.index == index && p.checkpoint_len == v->cp_len &&
	     memcmp(p.checkpoint, v->cp_text, v->cp_len) == 0 &&
	     cl_merkle_verify_inclusion(index, v->cp.size, h, (const cl_hash *)p.proof,
					p.count, v->cp.root) == CL_OK;
	cl_tlog_proof_release(&p);
	return ok;
}

static void check_records(struct vb *v)
{
	struct cl_buf lb;
	size_t i;

	cl_buf_init(&lb, 1u << 20);
	for (i = 0; i < v->nf; i++) {
		const struct vfile *f = &v->f[i];
		const char *p, *end;

		if (strncmp(f->path, "data/proofs/records/", 20) != 0)
			continue;
		p = (const char *)f->data;
		end = p + f->size;
		while (p < end) {
			const char *nl = memchr(p, '\n', (size_t)(end - p));
			size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
			json_t *j = json_loadb(p, len, JSON_REJECT_DUPLICATES, NULL);
			json_int_t idx = json_integer_value(json_object_get(j, "index"));
			const char *salt = json_string_value(json_object_get(j, "salt"));
			const char *ptx = json_string_value(json_object_get(j, "plaintext"));
			const char *nat = json_string_value(json_object_get(j, "native"));
			const char *red = json_string_value(json_object_get(j, "redacted"));
			unsigned char sb[32], ph[32];
			struct cl_leaf lf;
			cl_hash h;

			p += len + 1;
			if (j == NULL || !json_is_integer(json_object_get(j, "index")) || idx < 0 ||
			    (red == NULL && (salt == NULL || strlen(salt) != 64 ||
					     cl_hex_decode(salt, sb, 32) != 0)) ||
			    (red && (*red == 0 || json_object_get(j, "salt") || ptx || nat)) ||
			    leaf_of(json_string_value(json_object_get(j, "leaf")), &lb, &lf, h) != 0) {
				problem(v, "%s: a malformed proof line", f->path);
				json_decref(j);
				continue;
			}
			if (lf.index != (uint64_t)idx)
				problem(v, "%s: entry %lld: the leaf names index %llu", f->path,
					(long long)idx, (unsigned long long)lf.index);
			else if (!proof_ok(v, json_string_value(json_object_get(j, "proof")), (uint64_t)idx, h))
				problem(v, "%s: entry %lld: the inclusion proof does not verify against the checkpoint",
					f->path, (long long)idx);
			else if (red) {
				/* Redacted (BUNDLE.md §4.2): existence, time and
				 * conversation are proven by the leaf; the content is
				 * withheld.  Counts for completeness. */
				if (lf.type != CL_ENTRY_RECORD) {
					problem(v, "%s: entry %lld: a redacted proof line for an entry that is not a record",
						f->path, (long long)idx);
				} else {
					char k[24];

					cl_fmt(k, sizeof(k), "%lld", (long long)idx);
					json_object_set_new(v->recinfo, k, json_pack("{s:s}", "redacted", red));
					cl_map64_put(&v->proven, (uint64_t)idx, 1);
					v->n_redacted++;
				}
			} else if (ptx) {
				cl_sha256_2(sb, 32, ptx, strlen(ptx), ph);
				if (memcmp(ph, lf.pt_hash, 32) != 0)
					problem(v, "%s: entry %lld: the plaintext does not match the leaf's salted hash",
						f->path, (long long)idx);
				else {
					json_t *rec = json_loads(ptx, 0, NULL);
					char k[24];

					cl_fmt(k, sizeof(k), "%lld", (long long)idx);
					json_object_set_new(v->recinfo, k, json_pack("{s:s?,s:s?}",
						"conversation", json_string_value(json_object_get(json_object_get(rec, "conversation"), "id")),
						"sender", json_string_value(json_object_get(json_object_get(rec, "sender"), "id"))));
					json_decref(rec);
					cl_map64_put(&v->proven, (uint64_t)idx, 1);
					v->n_records++;
				}
			} else if (nat) {
				/* checked in pass 2 */
				char lh[65];

				for (int k = 0; k < 32; k++)
					cl_fmt(lh + 2 * k, 3, "%02x", lf.pt_hash[k]);
				json_object_set_new(v->natives, nat, json_pack("{s:s,s:s,s:I}", "salt", salt,
					"pt_hash", lh, "index", idx));
			} else {
				problem(v, "%s: entry %lld has neither plaintext nor native", f->path, (long long)idx);
			}
			json_decref(j);
		}
	}
	cl_buf_release(&lb);
}

static int pass2(struct vb *v, const char *path, char **err)
{
	struct archive *a;
	struct archive_entry *e;
	unsigned char *buf = malloc(1 << 16);
	size_t tl = v->top ? strlen(v->top) + 1 : 0;
	int rc, r;

	if (buf == NULL)
		return cl_error(err, CL_ENOMEM, "out of memory");
	if (json_object_size(v->natives) == 0) {
		free(buf);
		return CL_OK;
	}
	if ((rc = open_ar(path, &a, err))) {
		free(buf);
		return rc;
	}
	while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
		const char *name = archive_entry_pathname_utf8(e);
		json_t *n;
		unsigned char salt[32], want[32], got[32];
		struct cl_sha256_ctx st;
		la_ssize_t k;

		if (name == NULL || strlen(name) < tl || (n = json_object_get(v->natives, name + tl)) == NULL)
			continue;
		if (cl_hex_decode(json_string_value(json_object_get(n, "salt")), salt, 32) != 0 ||
		    cl_hex_decode(json_string_value(json_object_get(n, "pt_hash")), want, 32) != 0)
			continue;
		cl_sha256_init(&st);
		cl_sha256_update(&st, salt, 32);
		while ((k = archive_read_data(a, buf, 1 << 16)) > 0)
			cl_sha256_update(&st, buf, (size_t)k);
		cl_sha256_final(&st, got);
		if (memcmp(got, want, 32) != 0)
			problem(v, "%s: does not match the salted hash of entry %lld", name + tl,
				(long long)json_integer_value(json_object_get(n, "index")));
		else {
			cl_map64_put(&v->proven, (uint64_t)json_integer_value(json_object_get(n, "index")), 1);
			v->n_natives++;
		}
		json_object_set_new(n, "seen", json_true());
	}
	if (r != ARCHIVE_EOF)
		problem(v, "%s: reading the natives: %s", path, archive_error_string(a));
	archive_read_free(a);
	free(buf);
	{
		const char *k;
		json_t *n;

		json_object_foreach(v->natives, k, n)
			if (!json_object_get(n, "seen"))
				problem(v, "native %s is missing", k);
	}
	return CL_OK;
}

/* ---- completeness ------------------------------------------------------ */

static void check_chains(struct vb *v)
{
	struct cl_buf lb;
	size_t i;

	cl_buf_init(&lb, 1u << 20);
	for (i = 0; i < v->nf; i++) {
		const struct vfile *f = &v->f[i];
		const char *p, *end;
		json_t *hd = NULL;
		struct cl_map64 erased;
		uint64_t expect = 0;
		unsigned char expect_hash[32], tag[32];
		int first = 1, done = 0, bad = 0;
		int64_t from = CL_TIME_NONE, to = CL_TIME_NONE;
		json_t *need = json_array(); /* record indexes in range */

		if (strncmp(f->path, "data/proofs/chains/", 19) != 0) {
			json_decref(need);
			continue;
		}
		v->n_conv++;
		cl_map64_init(&erased);
		p = (const char *)f->data;
		end = p + f->size;
		while (p < end && !bad) {
			const char *nl = memchr(p, '\n', (size_t)(end - p));
			size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
			json_t *j = json_loadb(p, len, JSON_REJECT_DUPLICATES, NULL);
			struct cl_leaf lf;
			cl_hash h;

			p += len + 1;
			if (hd == NULL) {
				hd = j;
				if (json_object_get(hd, "from"))
					from = json_integer_value(json_object_get(hd, "from"));
				if (json_object_get(hd, "to"))
					to = json_integer_value(json_object_get(hd, "to"));
				if (j == NULL || (uint64_t)json_integer_value(json_object_get(hd, "size")) != v->cp.size) {
					problem(v, "%s: the header does not name the bundle's checkpoint", f->path);
					bad = 1;
				}
				continue;
			}
			if (done || j == NULL || leaf_of(json_string_value(json_object_get(j, "leaf")), &lb, &lf, h) != 0) {
				problem(v, "%s: a malformed chain line", f->path);
				json_decref(j);
				bad = 1;
				break;
			}
			if (first) {
				if ((uint64_t)json_integer_value(json_object_get(hd, "head")) != lf.index ||
				    !proof_ok(v, json_string_value(json_object_get(hd, "head_proof")), lf.index, h)) {
					problem(v, "%s: the chain head is not proved in the checkpoint", f->path);
					bad = 1;
				}
				memcpy(tag, lf.conv_tag, 32);
				first = 0;
			} else if (lf.index != expect || memcmp(h, expect_hash, 32) != 0 ||
				   memcmp(lf.conv_tag, tag, 32) != 0) {
				problem(v, "%s: the chain is broken at entry %llu", f->path,
					(unsigned long long)lf.index);
				bad = 1;
			}
			if (lf.type == CL_ENTRY_TOMBSTONE) {
				json_t *b = json_loadb((const char *)lf.body, lf.body_len, 0, NULL);

				if (json_is_integer(json_object_get(b, "erased")))
					cl_map64_put(&erased, (uint64_t)json_integer_value(json_object_get(b, "erased")), lf.index);
				json_decref(b);
			} else if (lf.type == CL_ENTRY_RECORD &&
				   (from == CL_TIME_NONE || lf.sent_at >= from) &&
				   (to == CL_TIME_NONE || lf.sent_at <= to)) {
				json_array_append_new(need, json_integer((json_int_t)lf.index));
			}
			if (lf.prev_index == CL_LEAF_NOPREV)
				done = 1;
			expect = lf.prev_index;
			memcpy(expect_hash, lf.prev_hash, 32);
			json_decref(j);
		}
		if (!bad && !done)
			problem(v, "%s: the chain does not reach the conversation's first entry", f->path);
		if (!bad) {
			size_t k;
			uint64_t dummy;

			for (k = 0; k < json_array_size(need); k++) {
				uint64_t ix = (uint64_t)json_integer_value(json_array_get(need, k));

				if (!cl_map64_get(&v->proven, ix, &dummy) && !cl_map64_get(&erased, ix, &dummy))
					problem(v, "%s: entry %llu of the conversation is in the range but neither"
						" exported nor erased (incomplete bundle)", f->path,
						(unsigned long long)ix);
			}
		}
		json_decref(hd);
		json_decref(need);
		cl_map64_release(&erased);
	}
	cl_buf_release(&lb);
}

/* ---- RSMF ---------------------------------------------------------------- */

static int has_custom(const json_t *c, const char *name)
{
	size_t k;

	for (k = 0; k < json_array_size(c); k++) {
		const char *n = json_string_value(json_object_get(json_array_get(c, k), "name"));
		const char *val = json_string_value(json_object_get(json_array_get(c, k), "value"));

		if (n && strcmp(n, name) == 0 && val && *val)
			return 1;
	}
	return 0;
}

static void check_rsmf_one(struct vb *v, const struct vfile *f)
{
	const char *t = (const char *)f->data, *z, *body, *stop;
	struct cl_buf b64, zip;
	struct archive *a = NULL;
	struct archive_entry *e;
	json_t *man = NULL, *files = json_object();
	int r;
	size_t i;

	cl_buf_init(&b64, KEEP_MAX);
	cl_buf_init(&zip, KEEP_MAX);
	v->n_rsmf++;
	if (strstr(t, "X-RSMF-Version: 2.0.0\r\n") == NULL) {
		problem(v, "%s: no X-RSMF-Version 2.0.0 header", f->path);
		goto out;
	}
	if ((z = strstr(t, "filename=\"rsmf.zip\"")) == NULL || (body = strstr(z, "\r\n\r\n")) == NULL ||
	    (stop = strstr(body + 4, "\r\n--")) == NULL) {
		problem(v, "%s: no rsmf.zip part", f->path);
		goto out;
	}
	for (body += 4; body < stop; body++)
		if (*body != '\r' && *body != '\n')
			cl_buf_add(&b64, body, 1);
	if (cl_buf_reserve(&zip, b64.len) != 0) {
		problem(v, "%s: too large", f->path);
		goto out;
	}
	{
		int n = EVP_DecodeBlock(zip.data, b64.data, (int)b64.len);

		if (n < 0) {
			problem(v, "%s: rsmf.zip is not base64", f->path);
			goto out;
		}
		zip.len = (size_t)n - (b64.len >= 1 && b64.data[b64.len - 1] == '=') -
			  (b64.len >= 2 && b64.data[b64.len - 2] == '=');
	}
	a = archive_read_new();
	archive_read_support_format_zip(a);
	if (archive_read_open_memory(a, zip.data, zip.len) != ARCHIVE_OK) {
		problem(v, "%s: rsmf.zip does not open", f->path);
		goto out;
	}
	while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
		const char *n = archive_entry_pathname(e);
		struct cl_buf d;
		unsigned char buf[8192];
		la_ssize_t k;

		cl_buf_init(&d, KEEP_MAX);
		while ((k = archive_read_data(a, buf, sizeof(buf))) > 0)
			cl_buf_add(&d, buf, (size_t)k);
		if (n && strcmp(n, "rsmf_manifest.json") == 0)
			man = json_loadb((const char *)d.data, d.len, JSON_REJECT_DUPLICATES, NULL);
		else if (n) {
			unsigned char h[32];
			char hx[17];

			cl_sha256(d.data, d.len, h);
			for (int q = 0; q < 8; q++)
				cl_fmt(hx + 2 * q, 3, "%02x", h[q]);
			json_object_set_new(files, n, json_string(strncmp(n, hx, 16) == 0 ? "ok" : "bad"));
		}
		cl_buf_release(&d);
	}
	if (r != ARCHIVE_EOF)
		problem(v, "%s: rsmf.zip is damaged: %s", f->path, archive_error_string(a));
	if (man == NULL || strcmp(json_string_value(json_object_get(man, "version")) ?
				  json_string_value(json_object_get(man, "version")) : "", "2.0.0") != 0) {
		problem(v, "%s: rsmf_manifest.json is missing or not version 2.0.0", f->path);
		goto out;
	}
	{
		json_t *evs = json_object_get(man, "events"), *ps = json_object_get(man, "participants");
		json_t *pids = json_object(), *eids = json_object();
		char cnt[64];

		cl_fmt(cnt, sizeof(cnt), "X-RSMF-EventCount: %zu\r\n", json_array_size(evs));
		if (strstr(t, cnt) == NULL)
			problem(v, "%s: X-RSMF-EventCount does not match the manifest", f->path);
		for (i = 0; i < json_array_size(ps); i++)
			json_object_set_new(pids, json_string_value(json_object_get(json_array_get(ps, i), "id")) ?
					    json_string_value(json_object_get(json_array_get(ps, i), "id")) : "", json_true());
		for (i = 0; i < json_array_size(evs); i++) {
			const char *id = json_string_value(json_object_get(json_array_get(evs, i), "id"));

			if (id)
				json_object_set_new(eids, id, json_true());
		}
		for (i = 0; i < json_array_size(evs); i++) {
			json_t *ev = json_array_get(evs, i), *c = json_object_get(ev, "custom"), *as;
			const char *who = json_string_value(json_object_get(ev, "participant"));
			const char *par = json_string_value(json_object_get(ev, "parent"));
			size_t k;

			if (who && !json_object_get(pids, who))
				problem(v, "%s: event %zu names an unknown participant", f->path, i);
			if (par && !json_object_get(eids, par))
				problem(v, "%s: event %zu replies to an unknown event", f->path, i);
			for (k = 0; k < json_array_size(c); k++) {
				json_t *cf = json_array_get(c, k);

				if (strcmp(json_string_value(json_object_get(cf, "name")) ?
					   json_string_value(json_object_get(cf, "name")) : "", "ledger_index") == 0) {
					const char *ix = json_string_value(json_object_get(cf, "value"));
					json_t *ri = ix ? json_object_get(v->recinfo, ix) : NULL;

					if (ri == NULL)
						problem(v, "%s: event %zu (entry %s) has no verified record proof", f->path, i, ix ? ix : "?");
					else if (json_object_get(ri, "redacted")) {
						if (!has_custom(c, "redacted"))
							problem(v, "%s: event %zu (entry %s) is proved only as redacted but is not marked redacted",
								f->path, i, ix);
					} else if ((who && json_string_value(json_object_get(ri, "sender")) &&
						  strcmp(who, json_string_value(json_object_get(ri, "sender"))) != 0) ||
						 strcmp(json_string_value(json_object_get(ev, "conversation")) ? json_string_value(json_object_get(ev, "conversation")) : "",
							json_string_value(json_object_get(ri, "conversation")) ? json_string_value(json_object_get(ri, "conversation")) : "") != 0)
						problem(v, "%s: event %zu does not match its proven record %s", f->path, i, ix);
				}
			}
			as = json_object_get(ev, "attachments");
			for (k = 0; k < json_array_size(as); k++) {
				const char *aid = json_string_value(json_object_get(json_array_get(as, k), "id"));
				const char *st = aid ? json_string_value(json_object_get(files, aid)) : NULL;

				if (st == NULL || strcmp(st, "ok") != 0)
					problem(v, "%s: attachment %s is missing from rsmf.zip or altered", f->path, aid ? aid : "?");
			}
		}
		json_decref(pids);
		json_decref(eids);
	}
out:
	if (a)
		archive_read_free(a);
	json_decref(man);
	json_decref(files);
	cl_buf_release(&b64);
	cl_buf_release(&zip);
}

int cl_verifybundle(const char *path, const struct cl_vb_opts *o, json_t **report,
		    char **err)
{
	struct vb v;
	size_t i;
	int rc;

	memset(&v, 0, sizeof(v));
	*report = NULL;
	v.byname = json_object();
	v.rep = json_object();
	v.problems = json_array();
	v.warnings = json_array();
	v.recinfo = json_object();
	v.natives = json_object();
	cl_map64_init(&v.proven);
	json_object_set(v.rep, "problems", v.problems);
	json_object_set(v.rep, "warnings", v.warnings);
	if ((rc = pass1(&v, path, err)))
		goto out;
	{
		const struct vfile *bt = get(&v, "bagit.txt");

		if (bt == NULL || strcmp((const char *)bt->data,
					 "BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n") != 0)
			problem(&v, "bagit.txt is missing or not BagIt 1.0");
	}
	check_manifest(&v, "tagmanifest-sha256.txt", 0);
	check_manifest(&v, "manifest-sha256.txt", 1);
	check_signatures(&v, o, err);
	if (check_checkpoint(&v, o)) {
		check_witnesses(&v, o);
		check_records(&v);
		if ((rc = pass2(&v, path, err)))
			goto out;
		check_chains(&v);
		for (i = 0; i < v.nf; i++)
			if (strncmp(v.f[i].path, "data/rsmf/", 10) == 0)
				check_rsmf_one(&v, &v.f[i]);
	}
	json_object_set_new(v.rep, "files", json_integer((json_int_t)v.nf));
	json_object_set_new(v.rep, "records", json_integer((json_int_t)v.n_records));
	json_object_set_new(v.rep, "natives", json_integer((json_int_t)v.n_natives));
	json_object_set_new(v.rep, "redacted", json_integer((json_int_t)v.n_redacted));
	json_object_set_new(v.rep, "conversations", json_integer((json_int_t)v.n_conv));
	json_object_set_new(v.rep, "rsmf", json_integer((json_int_t)v.n_rsmf));
	json_object_set_new(v.rep, "ok", json_boolean(json_array_size(v.problems) == 0));
	rc = json_array_size(v.problems) ? CL_ECORRUPT : CL_OK;
	*report = v.rep;
	v.rep = NULL;
out:
	for (i = 0; i < v.nf; i++) {
		free(v.f[i].path);
		free(v.f[i].data);
	}
	free(v.f);
	free(v.top);
	json_decref(v.byname);
	json_decref(v.rep);
	json_decref(v.problems);
	json_decref(v.warnings);
	json_decref(v.recinfo);
	json_decref(v.natives);
	cl_map64_release(&v.proven);
	cl_checkpoint_release(&v.cp);
	return rc;
}
