/*
 * test_wa_conn.c - the WebSocket-over-TLS transport (archiver/wa/conn.c)
 * against a local Node peer (tests/peer/ws-echo.js): echo of messages of
 * many sizes (0 bytes to 2 MiB), reassembly of fragmented messages, the
 * Origin header, peer close, closing amid a burst of inbound messages,
 * connections dropped (also while we write: no SIGPIPE death), refused
 * connections, unknown hosts, untrusted and misnamed certificates (IP and
 * DNS), the upgrade being refused or never answered (connect deadline),
 * oversized and text messages, the stop flag (set by a signal handler,
 * also while connecting), ticks, ops asking to close, bad configurations.
 *
 * Needs `openssl` and `node` on PATH and tests/peer/node_modules (npm ci);
 * without them the test fails, it does not skip.  Run from the repository
 * root, or set CL_ROOT.  The Node children are killed on every way out:
 * atexit() for normal exits, PR_SET_PDEATHSIG for crashes, and they also
 * exit when their stdin (a pipe we hold) closes.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "archiver/wa/conn.h"
#include "common/buf.h"
#include "common/status.h"
#include "../unit/tap.h"
#include "common/banned.h"

/* ---- scratch directory and child processes ----------------------------- */

static char tmpdir[64];
static char root[1024] = ".";

struct peer {
	pid_t pid;
	int in_fd;      /* the child's stdin: closing it ends the child */
	int port;
};

static struct peer peers[4];
static size_t npeers;

static void peers_kill(void)
{
	size_t i;

	for (i = 0; i < npeers; i++) {
		if (peers[i].pid <= 0)
			continue;
		kill(peers[i].pid, SIGTERM);
		if (peers[i].in_fd >= 0)
			close(peers[i].in_fd);
		waitpid(peers[i].pid, NULL, 0);
		peers[i].pid = 0;
		peers[i].in_fd = -1;
	}
	npeers = 0;
}

static const char *const tmp_files[] = {
	"ca.key", "ca.pem", "srv.key", "srv.csr", "srv.pem", "srv.ext",
	"bad.key", "bad.csr", "bad.pem", "bad.ext", "cmd.log", "junk.pem",
	NULL
};

static void tmp_path(char *out, size_t len, const char *name)
{
	snprintf(out, len, "%s/%s", tmpdir, name);
}

static void tmpdir_remove(void)
{
	char p[128];
	size_t i;

	if (!tmpdir[0])
		return;
	for (i = 0; tmp_files[i]; i++) {
		tmp_path(p, sizeof(p), tmp_files[i]);
		unlink(p);
	}
	rmdir(tmpdir);
	tmpdir[0] = '\0';
}

static void cleanup(void)
{
	peers_kill();
	tmpdir_remove();
}

/* execvp() with a const argv (string literals are const here); child only. */
static void exec_argv(const char *const argv[])
{
	char *v[40];
	size_t i;

	for (i = 0; argv[i] && i + 1 < sizeof(v) / sizeof(v[0]); i++)
		if (!(v[i] = strdup(argv[i])))
			_exit(127);
	v[i] = NULL;
	execvp(v[0], v);
	_exit(127);
}

/* Run argv with stdout and stderr into cmd.log; returns the exit status
 * (127 when it could not be started). */
static int run_cmd(const char *const argv[])
{
	char log[128];
	pid_t pid;
	int st = 0;

	tmp_path(log, sizeof(log), "cmd.log");
	pid = fork();
	if (pid < 0)
		return 127;
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
		exec_argv(argv);
	}
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return 127;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

/* Show what the failed command said, as TAP comments. */
static void print_cmd_log(void)
{
	char p[128], line[512];
	FILE *f;

	tmp_path(p, sizeof(p), "cmd.log");
	f = fopen(p, "r");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		printf("# %s", line);
	fclose(f);
}

static int write_file(const char *name, const char *text)
{
	char p[128];
	FILE *f;

	tmp_path(p, sizeof(p), name);
	f = fopen(p, "w");
	if (!f)
		return -1;
	fputs(text, f);
	return fclose(f) ? -1 : 0;
}

/* A leaf certificate `name` (.key, .pem) signed by the test CA. */
static int make_leaf(const char *name, const char *san)
{
	char key[128], csr[128], pem[128], ext[128], ca[128], cakey[128];
	char extname[32], text[256];

	snprintf(extname, sizeof(extname), "%s.ext", name);
	snprintf(text, sizeof(text),
		 "subjectAltName=%s\nbasicConstraints=CA:FALSE\n"
		 "keyUsage=critical,digitalSignature\n"
		 "extendedKeyUsage=serverAuth\n", san);
	if (write_file(extname, text))
		return -1;
	snprintf(text, sizeof(text), "%s.key", name);
	tmp_path(key, sizeof(key), text);
	snprintf(text, sizeof(text), "%s.csr", name);
	tmp_path(csr, sizeof(csr), text);
	snprintf(text, sizeof(text), "%s.pem", name);
	tmp_path(pem, sizeof(pem), text);
	tmp_path(ext, sizeof(ext), extname);
	tmp_path(ca, sizeof(ca), "ca.pem");
	tmp_path(cakey, sizeof(cakey), "ca.key");
	{
		const char *const req[] = {
			"openssl", "req", "-new", "-newkey", "ec", "-pkeyopt",
			"ec_paramgen_curve:P-256", "-nodes", "-keyout", key,
			"-out", csr, "-subj", "/CN=chatledger test server", NULL
		};
		const char *const sign[] = {
			"openssl", "x509", "-req", "-in", csr, "-CA", ca,
			"-CAkey", cakey, "-set_serial", "2", "-days", "2",
			"-out", pem, "-extfile", ext, NULL
		};

		if (run_cmd(req) != 0 || run_cmd(sign) != 0)
			return -1;
	}
	return 0;
}

static int make_certs(void)
{
	char key[128], pem[128];

	tmp_path(key, sizeof(key), "ca.key");
	tmp_path(pem, sizeof(pem), "ca.pem");
	{
		const char *const ca[] = {
			"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
			"ec_paramgen_curve:P-256", "-nodes", "-keyout", key,
			"-out", pem, "-days", "2", "-subj",
			"/CN=chatledger test CA", "-addext",
			"basicConstraints=critical,CA:TRUE", "-addext",
			"keyUsage=critical,keyCertSign,cRLSign", NULL
		};

		if (run_cmd(ca) != 0)
			return -1;
	}
	if (make_leaf("srv", "IP:127.0.0.1,DNS:localhost"))
		return -1;
	return make_leaf("bad", "DNS:wrong.invalid");
}

/*
 * Start `node tests/peer/ws-echo.js` with the leaf `name` and read its
 * {"port":N} line.  Returns the port, or -1.
 */
static int peer_start(const char *name)
{
	char script[1100], cert[128], key[128], text[32], line[128];
	int out[2], in[2];
	struct peer *pr;
	size_t n = 0;
	pid_t pid;

	if (npeers == sizeof(peers) / sizeof(peers[0]))
		return -1;
	snprintf(script, sizeof(script), "%s/tests/peer/ws-echo.js", root);
	snprintf(text, sizeof(text), "%s.pem", name);
	tmp_path(cert, sizeof(cert), text);
	snprintf(text, sizeof(text), "%s.key", name);
	tmp_path(key, sizeof(key), text);
	if (pipe2(out, O_CLOEXEC))
		return -1;
	if (pipe2(in, O_CLOEXEC)) {
		close(out[0]);
		close(out[1]);
		return -1;
	}
	pid = fork();
	if (pid < 0) {
		close(out[0]);
		close(out[1]);
		close(in[0]);
		close(in[1]);
		return -1;
	}
	if (pid == 0) {
		const char *const argv[] = { "node", script, "--port", "0",
					     "--cert", cert, "--key", key, NULL };

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(in[0], 0);
		dup2(out[1], 1);
		exec_argv(argv);
	}
	close(out[1]);
	close(in[0]);
	pr = &peers[npeers++];
	pr->pid = pid;
	pr->in_fd = in[1];
	pr->port = -1;
	/* read the first line, for at most 15 s */
	while (n + 1 < sizeof(line)) {
		struct pollfd pfd = { out[0], POLLIN, 0 };
		ssize_t r;

		if (poll(&pfd, 1, 15000) <= 0)
			break;
		r = read(out[0], line + n, 1);
		if (r <= 0)
			break;
		if (line[n] == '\n')
			break;
		n++;
	}
	line[n] = '\0';
	close(out[0]);
	{
		const char *p = strstr(line, "\"port\":");
		char *end = NULL;
		long v;

		if (!p)
			return -1;
		v = strtol(p + 7, &end, 10);
		if (end == p + 7 || v <= 0 || v > 65535)
			return -1;
		pr->port = (int)v;
	}
	return pr->port;
}

/* ---- the test client ---------------------------------------------------- */

struct tc {
	/* plan */
	const size_t *sizes;    /* sent in on_open, message k has seed k */
	size_t nsizes;
	int skip_first;         /* the first message received is no echo */
	int close_after;        /* cl_wa_conn_close() after this many messages */
	int tick_limit;         /* on_tick returns 1 at this tick */
	int open_ret;           /* on_open's return value */
	size_t tick_send;       /* on_tick sends this many bytes when open */
	/* observed */
	int opened;
	int ticks;
	int msgs;
	int echo_bad;
	size_t echoes;
	size_t pending_after_queue;
	int send_rc;            /* cl_wa_conn_send() in on_open */
	int send_after_close;   /* cl_wa_conn_send() after close() */
	int64_t tick_ms_seen;
	struct cl_buf first;    /* the first message received */
	size_t first_len;
};

static void pattern(unsigned char *p, size_t n, unsigned seed)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (unsigned char)((i * 31 + seed) & 255);
}

static int is_pattern(const unsigned char *p, size_t n, unsigned seed)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i] != (unsigned char)((i * 31 + seed) & 255))
			return 0;
	return 1;
}

static int t_open(void *ctx, struct cl_wa_conn *c)
{
	struct tc *t = ctx;
	size_t k;

	t->opened++;
	for (k = 0; k < t->nsizes; k++) {
		unsigned char *m = malloc(t->sizes[k] ? t->sizes[k] : 1);
		int rc;

		if (!m) {
			t->send_rc = CL_ENOMEM;
			break;
		}
		pattern(m, t->sizes[k], (unsigned)k);
		rc = cl_wa_conn_send(c, m, t->sizes[k]);
		free(m);
		if (rc && !t->send_rc)
			t->send_rc = rc;
	}
	t->pending_after_queue = cl_wa_conn_pending(c);
	return t->open_ret;
}

static int t_data(void *ctx, struct cl_wa_conn *c, const unsigned char *p,
		  size_t len)
{
	struct tc *t = ctx;

	t->msgs++;
	if (t->msgs == 1) {
		t->first_len = len;
		if (cl_buf_add(&t->first, p, len) != CL_OK)
			t->echo_bad++;
	}
	if (t->msgs > t->skip_first) {
		size_t k = t->echoes++;

		if (k >= t->nsizes || len != t->sizes[k] ||
		    !is_pattern(p, len, (unsigned)k))
			t->echo_bad++;
	}
	if (t->close_after && t->msgs == t->close_after) {
		cl_wa_conn_close(c, "test done");
		t->send_after_close = cl_wa_conn_send(c, "x", 1);
	}
	return 0;
}

static int t_tick(void *ctx, struct cl_wa_conn *c, int64_t now_ms)
{
	struct tc *t = ctx;

	t->ticks++;
	t->tick_ms_seen = now_ms;
	if (t->tick_send && cl_wa_conn_is_open(c) &&
	    cl_wa_conn_pending(c) < (1u << 20)) {
		unsigned char *m = calloc(1, t->tick_send);

		if (m && cl_wa_conn_send(c, m, t->tick_send) != CL_OK)
			t->send_rc = CL_EIO;
		free(m);
	}
	return t->tick_limit && t->ticks >= t->tick_limit;
}

static const struct cl_wa_conn_ops t_ops = { t_open, t_data, t_tick };

static void tc_init(struct tc *t)
{
	memset(t, 0, sizeof(*t));
	cl_buf_init(&t->first, 64u << 20);
}

static void tc_release(struct tc *t)
{
	cl_buf_release(&t->first);
}

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct run_opt {
	const char *ca;
	const char *origin;
	unsigned tick_ms;
	unsigned timeout_ms;
	size_t max_message;
	volatile int *stop;
	int allow_insecure;
};

/* lws's log for the next run(): level and whether to take the lines */
static unsigned log_level;
static int log_take;
static unsigned log_lines, log_bad;

/* cppcheck-suppress constParameter ; the callback type says void * */
static void t_lws_log(void *ctx, int level, const char *line)
{
	log_lines++;
	if (ctx != &log_lines || level <= 0 || line == NULL || !line[0])
		log_bad++;
}

static int run(const char *url, const struct run_opt *o, struct tc *t,
	       char **err, int64_t *elapsed)
{
	struct cl_wa_conn_cfg cfg;
	int64_t t0 = mono_ms();
	int rc;

	memset(&cfg, 0, sizeof(cfg));
	cfg.url = url;
	cfg.origin = o->origin;
	cfg.ca_file = o->ca;
	cfg.allow_insecure = o->allow_insecure;
	cfg.connect_timeout_ms = o->timeout_ms ? o->timeout_ms : 10000;
	cfg.max_message = o->max_message;
	cfg.lws_log_level = log_level;
	cfg.lws_log = log_take ? t_lws_log : NULL;
	cfg.log_ctx = &log_lines;
	rc = cl_wa_conn_run(&cfg, &t_ops, t, o->tick_ms ? o->tick_ms : 100,
			    o->stop, err);
	if (elapsed)
		*elapsed = mono_ms() - t0;
	return rc;
}

static int has(const char *s, const char *needle)
{
	return s && strstr(s, needle) != NULL;
}

#define ERRSTR(e) ((e) ? (e) : "(none)")

/* ---- cases -------------------------------------------------------------- */

static char ca_pem[128];
static int port_good, port_bad;

static void url_of(char *out, size_t len, int port, const char *path)
{
	snprintf(out, len, "wss://127.0.0.1:%d%s", port, path);
}

static void test_echo(void)
{
	static const size_t sizes[] = {
		0, 1, 125, 126, 127, 65535, 65536, 65537, 100000, 2u << 20, 3
	};
	struct run_opt o = { ca_pem, "https://web.whatsapp.com", 20, 0, 0,
			     NULL, 0 };
	size_t total = 0, k;
	char url[128], *err = NULL;
	struct tc t;
	int rc;

	for (k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++)
		total += sizes[k];
	tc_init(&t);
	t.sizes = sizes;
	t.nsizes = sizeof(sizes) / sizeof(sizes[0]);
	t.close_after = (int)t.nsizes;
	url_of(url, sizeof(url), port_good, "/echo");
	rc = run(url, &o, &t, &err, NULL);
	TAP_EQ_INT(rc, CL_OK, "echo: clean close we asked for is CL_OK");
	TAP_OK(err == NULL, "echo: no error message (%s)", ERRSTR(err));
	TAP_EQ_INT(t.opened, 1, "echo: on_open called once");
	TAP_EQ_INT(t.send_rc, CL_OK, "echo: every send queued");
	TAP_EQ_INT(t.pending_after_queue, total,
		   "echo: pending counts the queued bytes");
	TAP_EQ_INT(t.echoes, t.nsizes,
		   "echo: every message (0 B .. 2 MiB) came back");
	TAP_EQ_INT(t.echo_bad, 0, "echo: in order, byte for byte");
	TAP_EQ_INT(t.send_after_close, CL_EINVAL,
		   "echo: send after close is CL_EINVAL");
	TAP_OK(t.ticks > 0, "echo: on_tick called (%d times)", t.ticks);
	TAP_OK(t.tick_ms_seen > 1600000000000LL,
	       "echo: on_tick gets the wall clock in ms");
	free(err);
	tc_release(&t);
}

static void test_origin(void)
{
	struct run_opt o = { ca_pem, "https://web.whatsapp.com", 0, 0, 0,
			     NULL, 0 };
	char url[128], host[64], *err = NULL, *json;
	struct tc t;
	int rc;

	tc_init(&t);
	t.close_after = 1;
	url_of(url, sizeof(url), port_good, "/origin?x=1");
	rc = run(url, &o, &t, &err, NULL);
	TAP_EQ_INT(rc, CL_OK, "origin: CL_OK");
	json = (char *)t.first.data;
	TAP_OK(has(json, "\"origin\":\"https://web.whatsapp.com\""),
	       "origin: server saw Origin verbatim (%s)", json ? json : "");
	TAP_OK(has(json, "\"path\":\"/origin?x=1\""),
	       "origin: path and query sent");
	TAP_OK(has(json, "\"pragma\":\"no-cache\""),
	       "origin: Pragma: no-cache sent");
	TAP_OK(has(json, "\"protocol\":null"),
	       "origin: no Sec-WebSocket-Protocol");
	snprintf(host, sizeof(host), "\"host\":\"127.0.0.1:%d\"", port_good);
	TAP_OK(has(json, host), "origin: Host carries the port");
	free(err);
	tc_release(&t);

	/* no origin configured: no header */
	o.origin = NULL;
	err = NULL;
	tc_init(&t);
	t.close_after = 1;
	rc = run(url, &o, &t, &err, NULL);
	TAP_EQ_INT(rc, CL_OK, "origin: none configured, CL_OK");
	TAP_OK(has((char *)t.first.data, "\"origin\":null"),
	       "origin: none configured, none sent");
	free(err);
	tc_release(&t);
}

static void test_fragment(void)
{
	static const struct {
		size_t size;
		int parts;
	} cases[] = { { 300000, 7 }, { 10, 10 }, { 0, 1 }, { 70000, 2 } };
	struct run_opt o = { ca_pem, NULL, 0, 0, 0, NULL, 0 };
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char url[160], *err = NULL;
		struct tc t;
		int rc;

		tc_init(&t);
		t.close_after = 1;
		snprintf(url, sizeof(url),
			 "wss://127.0.0.1:%d/fragment?size=%zu&parts=%d&seed=9",
			 port_good, cases[i].size, cases[i].parts);
		rc = run(url, &o, &t, &err, NULL);
		TAP_EQ_INT(rc, CL_OK, "fragment: CL_OK");
		TAP_OK(t.msgs == 1 && t.first_len == cases[i].size &&
		       is_pattern(t.first.data, t.first.len, 9),
		       "fragment: %zu bytes in %d frames reassembled (got %zu "
		       "bytes in %d messages)", cases[i].size, cases[i].parts,
		       t.first_len, t.msgs);
		free(err);
		tc_release(&t);
	}
}

static void test_peer_close(void)
{
	static const size_t one[] = { 5 };
	struct run_opt o = { ca_pem, NULL, 0, 0, 0, NULL, 0 };
	char url[160], *err = NULL;
	struct tc t;
	int rc;

	tc_init(&t);
	t.sizes = one;
	t.nsizes = 1;
	url_of(url, sizeof(url), port_good, "/close-after-first");
	rc = run(url, &o, &t, &err, NULL);
	TAP_EQ_INT(rc, CL_EIO, "peer close: CL_EIO");
	TAP_EQ_STR(err, "closed by peer (code 4001: done)",
		   "peer close: code and reason reported");
	TAP_EQ_INT(t.echoes, 1, "peer close: the echo arrived first");
	free(err);
	tc_release(&t);

	err = NULL;
	tc_init(&t);
	t.sizes = one;
	t.nsizes = 1;
	url_of(url, sizeof(url), port_good,
	       "/close-after-first?code=1000&reason=");
	rc = run(url, &o, &t, &err, NULL);
	TAP_EQ_INT(rc, CL_EIO, "peer close 1000: still CL_EIO (not asked)");
	TAP_EQ_STR(err, "closed by peer (code 1000)",
		   "peer close 1000: message");
	free(err);
	tc_release(&t);

	/* we close while the server is still sending: the rest is dropped */
	err = NULL;
	tc_init(&t);
	t.close_after = 3;
	url_of(url, sizeof(url), port_good, "/burst?count=300&size=3000");
	rc = run(url, &o, &t, &err, NULL);
	TAP_OK(rc == CL_OK, "close amid a burst: CL_OK (%s)", ERRSTR(err));
	TAP_EQ_INT(t.msgs, 3, "close amid a burst: nothing after close");
	TAP_OK(t.first_len == 3000 && is_pattern(t.first.data, 3000, 0),
	       "close amid a burst: first message intact");
	free(err);
	tc_release(&t);

	err = NULL;
	tc_init(&t);
	t.sizes = one;
	t.nsizes = 1;
	url_of(url, sizeof(url), port_good, "/drop");
	rc = run(url, &o, &t, &err, NULL);
	TAP_EQ_INT(rc, CL_EIO, "drop: CL_EIO");
	TAP_OK(has(err, "connection lost"), "drop: reason (%s)", ERRSTR(err));
	free(err);
	tc_release(&t);

	/* dropped while we keep writing: EPIPE/ECONNRESET, no SIGPIPE death
	 * (SIGPIPE is not blocked in this process) */
	err = NULL;
	tc_init(&t);
	t.sizes = one;
	t.nsizes = 1;
	t.tick_send = 256u << 10;
	{
		struct run_opt o2 = o;

		o2.tick_ms = 5;
		rc = run(url, &o2, &t, &err, NULL);
	}
	TAP_EQ_INT(rc, CL_EIO, "drop while writing: CL_EIO");
	TAP_OK(has(err, "connection lost"), "drop while writing: reason (%s)",
	       ERRSTR(err));
	free(err);
	tc_release(&t);
}

static void test_connect_failures(void)
{
	struct run_opt o = { ca_pem, NULL, 0, 0, 0, NULL, 0 };
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	char url[160], *err = NULL;
	int64_t ms;
	struct tc t;
	int rc, fd, closed_port = 0;

	/* a port nobody listens on */
	fd = socket(AF_INET, SOCK_STREAM, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sa, &sl) == 0)
		closed_port = ntohs(sa.sin_port);
	if (fd >= 0)
		close(fd);
	tc_init(&t);
	url_of(url, sizeof(url), closed_port, "/echo");
	rc = run(url, &o, &t, &err, NULL);
	TAP_EQ_INT(rc, CL_EIO, "refused: CL_EIO");
	TAP_EQ_STR(err, "connect: connection refused", "refused: reason");
	TAP_EQ_INT(t.opened, 0, "refused: on_open not called");
	free(err);
	tc_release(&t);

	/* untrusted: the system store does not know our CA */
	err = NULL;
	tc_init(&t);
	o.ca = NULL;
	url_of(url, sizeof(url), port_good, "/echo");
	rc = run(url, &o, &t, &err, NULL);
	TAP_EQ_INT(rc, CL_EIO, "untrusted: CL_EIO");
	TAP_OK(has(err, "tls: certificate verify failed") &&
	       has(err, "certificate"), "untrusted: reason (%s)", ERRSTR(err));
	TAP_EQ_INT(t.opened, 0, "untrusted: on_open not called");
	free(err);
	tc_release(&t);

	/* trusted CA, but the certificate names another host */
	err = NULL;
	tc_init(&t);
	o.ca = ca_pem;
	url_of(url, sizeof(url), port_bad, "/echo");
	rc = run(url, &o, &t, &err, NULL);
	TAP_EQ_INT(rc, CL_EIO, "wrong name (IP): CL_EIO");
	TAP_EQ_STR(err, "tls: certificate verify failed: IP address mismatch",
		   "wrong name (IP): reason");
	free(err);
	tc_release(&t);

	err = NULL;
	tc_init(&t);
	snprintf(url, sizeof(url), "wss://localhost:%d/echo", port_bad);
	rc = run(url, &o, &t, &err, NULL);
	TAP_EQ_INT(rc, CL_EIO, "wrong name (DNS): CL_EIO");
	TAP_EQ_STR(err, "tls: certificate verify failed: hostname mismatch",
		   "wrong name (DNS): reason");
	free(err);
	tc_release(&t);

	/* the same via a DNS name: localhost is in the good certificate */
	err = NULL;
	tc_init(&t);
	t.tick_limit = 1;
	snprintf(url, sizeof(url), "wss://localhost:%d/echo", port_good);
	rc = run(url, &o, &t, &err, NULL);
	TAP_OK(rc == CL_OK, "localhost: DNS name verified (%s)", ERRSTR(err));
	free(err);
	tc_release(&t);

	/* upgrade refused */
	err = NULL;
	tc_init(&t);
	url_of(url, sizeof(url), port_good, "/reject");
	rc = run(url, &o, &t, &err, NULL);
	TAP_EQ_INT(rc, CL_EIO, "rejected upgrade: CL_EIO");
	TAP_EQ_STR(err, "websocket upgrade: server answered HTTP 403",
		   "rejected upgrade: reason");
	free(err);
	tc_release(&t);

	/* upgrade never answered: the connect deadline */
	err = NULL;
	tc_init(&t);
	o.timeout_ms = 600;
	o.tick_ms = 50;
	url_of(url, sizeof(url), port_good, "/stall");
	rc = run(url, &o, &t, &err, &ms);
	TAP_EQ_INT(rc, CL_EIO, "stalled upgrade: CL_EIO");
	TAP_EQ_STR(err, "websocket upgrade: timed out after 600 ms",
		   "stalled upgrade: reason");
	TAP_OK(ms >= 550 && ms < 9000, "stalled upgrade: took %lld ms",
	       (long long)ms);
	TAP_OK(t.ticks >= 5, "stalled upgrade: ticks while connecting (%d)",
	       t.ticks);
	free(err);
	tc_release(&t);

	/* the deadline does not wait for the next tick */
	err = NULL;
	tc_init(&t);
	o.tick_ms = 10000;
	rc = run(url, &o, &t, &err, &ms);
	TAP_EQ_INT(rc, CL_EIO, "stalled upgrade, slow ticks: CL_EIO");
	/* Bounds prove order, not speed (machines are shared): well under
	 * the 10 s tick it must not wait for. */
	TAP_OK(ms >= 550 && ms < 9000,
	       "stalled upgrade, slow ticks: ends at the deadline, not the tick (%lld ms)",
	       (long long)ms);
	free(err);
	tc_release(&t);
	o.tick_ms = 0;

	/* no such host */
	err = NULL;
	tc_init(&t);
	o.timeout_ms = 5000;
	rc = run("wss://no-such-host.invalid/ws", &o, &t, &err, NULL);
	TAP_EQ_INT(rc, CL_EIO, "unknown host: CL_EIO");
	TAP_OK(has(err, "dns: no-such-host.invalid"), "unknown host: reason "
	       "(%s)", ERRSTR(err));
	free(err);
	tc_release(&t);
}

static void test_inbound_limits(void)
{
	struct run_opt o = { ca_pem, NULL, 0, 0, 1000, NULL, 0 };
	static const char *const paths[] = {
		"/fragment?size=1001&parts=1", "/fragment?size=5000&parts=4",
		"/fragment?size=3000000&parts=1"
	};
	char url[160], *err = NULL;
	struct tc t;
	size_t i;
	int rc;

	for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		err = NULL;
		tc_init(&t);
		url_of(url, sizeof(url), port_good, paths[i]);
		rc = run(url, &o, &t, &err, NULL);
		TAP_EQ_INT(rc, CL_EIO, "too big: CL_EIO");
		TAP_EQ_STR(err, "websocket: inbound message exceeds 1000 bytes",
			   "too big: reason");
		TAP_EQ_INT(t.msgs, 0, "too big: nothing delivered");
		free(err);
		tc_release(&t);
	}

	/* exactly the limit is fine */
	err = NULL;
	tc_init(&t);
	t.close_after = 1;
	url_of(url, sizeof(url), port_good, "/fragment?size=1000&parts=3");
	rc = run(url, &o, &t, &err, NULL);
	TAP_EQ_INT(rc, CL_OK, "at the limit: CL_OK");
	TAP_EQ_INT(t.first_len, 1000, "at the limit: delivered");
	free(err);
	tc_release(&t);

	err = NULL;
	tc_init(&t);
	o.max_message = 0;
	url_of(url, sizeof(url), port_good, "/text");
	rc = run(url, &o, &t, &err, NULL);
	TAP_EQ_INT(rc, CL_EIO, "text message: CL_EIO");
	TAP_OK(has(err, "text message"), "text message: reason (%s)",
	       ERRSTR(err));
	free(err);
	tc_release(&t);
}

static volatile int stop_flag;

static void on_alarm(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static void test_stop_and_ticks(void)
{
	struct run_opt o = { ca_pem, NULL, 0, 0, 0, NULL, 0 };
	struct sigaction sa, old;
	struct itimerval it;
	char url[160], stall_url[160], *err = NULL;
	int64_t ms;
	struct tc t;
	int rc;

	url_of(url, sizeof(url), port_good, "/echo");
	url_of(stall_url, sizeof(stall_url), port_good, "/stall");

	/* a signal handler sets *stop; ticks are far apart */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, &old);
	memset(&it, 0, sizeof(it));
	/* 1 s: long enough to be connected on a loaded machine, far below
	 * the 10 s tick. */
	it.it_value.tv_sec = 1;
	stop_flag = 0;
	setitimer(ITIMER_REAL, &it, NULL);
	tc_init(&t);
	o.tick_ms = 10000;
	o.stop = &stop_flag;
	rc = run(url, &o, &t, &err, &ms);
	sigaction(SIGALRM, &old, NULL);
	TAP_OK(rc == CL_OK, "stop: CL_OK (%s)", ERRSTR(err));
	TAP_EQ_INT(t.opened, 1, "stop: was connected");
	TAP_OK(ms >= 950 && ms < 9000, "stop: seen before the next tick (%lld ms)",
	       (long long)ms);
	free(err);
	tc_release(&t);

	/* the same while the upgrade hangs: stop wins over the deadline */
	err = NULL;
	tc_init(&t);
	sigaction(SIGALRM, &sa, &old);
	stop_flag = 0;
	setitimer(ITIMER_REAL, &it, NULL);
	o.timeout_ms = 20000;
	rc = run(stall_url, &o, &t, &err, &ms);
	sigaction(SIGALRM, &old, NULL);
	TAP_OK(rc == CL_OK, "stop while connecting: CL_OK (%s)", ERRSTR(err));
	TAP_EQ_INT(t.opened, 0, "stop while connecting: never opened");
	TAP_OK(ms >= 950 && ms < 9000,
	       "stop while connecting: seen before the deadline and the tick (%lld ms)",
	       (long long)ms);
	free(err);
	tc_release(&t);
	o.timeout_ms = 0;

	/* already set: nothing happens */
	err = NULL;
	tc_init(&t);
	stop_flag = 1;
	rc = run(url, &o, &t, &err, &ms);
	TAP_EQ_INT(rc, CL_OK, "stop preset: CL_OK");
	TAP_EQ_INT(t.opened + t.ticks, 0, "stop preset: no callbacks");
	free(err);
	tc_release(&t);

	/* on_tick returning non-zero closes */
	err = NULL;
	tc_init(&t);
	stop_flag = 0;
	o.tick_ms = 30;
	t.tick_limit = 5;
	rc = run(url, &o, &t, &err, &ms);
	TAP_EQ_INT(rc, CL_OK, "tick close: CL_OK");
	TAP_EQ_INT(t.ticks, 5, "tick close: five ticks, then closed");
	TAP_OK(ms >= 140 && ms < 9000, "tick close: after five 30 ms ticks (%lld ms)",
	       (long long)ms);
	free(err);
	tc_release(&t);

	/* on_open returning non-zero closes (after flushing its send) */
	err = NULL;
	tc_init(&t);
	{
		static const size_t one[] = { 70000 };

		t.sizes = one;
		t.nsizes = 1;
	}
	t.open_ret = 1;
	o.tick_ms = 0;
	url_of(url, sizeof(url), port_good, "/close-after-first");
	rc = run(url, &o, &t, &err, &ms);
	TAP_OK(rc == CL_OK, "open close: CL_OK (%s)", ERRSTR(err));
	TAP_EQ_INT(t.msgs, 0, "open close: later messages dropped");
	free(err);
	tc_release(&t);
}

static void test_bad_cfg(void)
{
	static const char *const bad[] = {
		"ws://127.0.0.1:1/x", "http://127.0.0.1/", "wss://", "wss://:80/",
		"wss://[::1]:443/", "wss://user@host/", "wss://host:0/",
		"wss://host:65536/", "wss://host:12x/", "wss://ho st/",
		"wss://host/#frag", "wss://ho\rst/", "wss://h\xc3\xa9/", NULL
	};
	struct run_opt o = { ca_pem, NULL, 0, 0, 0, NULL, 0 };
	char junk[128], *err = NULL;
	struct tc t;
	size_t i;
	int rc;

	for (i = 0; bad[i]; i++) {
		err = NULL;
		tc_init(&t);
		rc = run(bad[i], &o, &t, &err, NULL);
		TAP_OK(rc == CL_EINVAL && err && has(err, "url"),
		       "bad url %zu refused (%s)", i, ERRSTR(err));
		free(err);
		tc_release(&t);
	}

	err = NULL;
	tc_init(&t);
	o.ca = "/nonexistent/ca.pem";
	rc = run("wss://127.0.0.1:1/", &o, &t, &err, NULL);
	TAP_OK(rc == CL_EINVAL && has(err, "/nonexistent/ca.pem"),
	       "missing ca_file refused (%s)", ERRSTR(err));
	free(err);
	tc_release(&t);

	err = NULL;
	tc_init(&t);
	tmp_path(junk, sizeof(junk), "junk.pem");
	write_file("junk.pem", "not a certificate\n");
	o.ca = junk;
	rc = run("wss://127.0.0.1:1/", &o, &t, &err, NULL);
	TAP_OK(rc == CL_EINVAL && has(err, "no PEM certificate"),
	       "ca_file without a certificate refused (%s)", ERRSTR(err));
	free(err);
	tc_release(&t);

	err = NULL;
	tc_init(&t);
	o.ca = ca_pem;
	o.origin = "https://x\r\nEvil: 1";
	rc = run("wss://127.0.0.1:1/", &o, &t, &err, NULL);
	TAP_OK(rc == CL_EINVAL && has(err, "origin"),
	       "origin with CR LF refused (%s)", ERRSTR(err));
	free(err);
	tc_release(&t);

	/* ws:// is accepted only with allow_insecure (here: TLS port, so it
	 * fails at the upgrade, but it gets that far) */
	err = NULL;
	tc_init(&t);
	o.origin = NULL;
	o.allow_insecure = 1;
	o.timeout_ms = 1500;
	{
		char url[128];

		snprintf(url, sizeof(url), "ws://127.0.0.1:%d/echo", port_good);
		rc = run(url, &o, &t, &err, NULL);
	}
	TAP_OK(rc == CL_EIO && !has(err, "url"),
	       "ws:// with allow_insecure is attempted (%s)", ERRSTR(err));
	free(err);
	tc_release(&t);

	TAP_EQ_INT(cl_wa_conn_send(NULL, "x", 1), CL_EINVAL,
		   "send on NULL is CL_EINVAL");
	TAP_EQ_INT(cl_wa_conn_pending(NULL), 0, "pending of NULL is 0");
}

/* lws's log lines reach cfg->lws_log, only at the levels asked for */
static void test_lws_log(void)
{
	static const size_t sizes[] = { 1, 2 };
	struct run_opt o = { ca_pem, NULL, 20, 0, 0, NULL, 0 };
	char url[128], *err = NULL;
	struct tc t;
	int rc;

	url_of(url, sizeof(url), port_good, "/echo");
	tc_init(&t);
	t.sizes = sizes;
	t.nsizes = 2;
	t.close_after = 2;
	log_level = CL_WA_LWS_LOG_ERR | CL_WA_LWS_LOG_WARN |
		    CL_WA_LWS_LOG_NOTICE | 8u;  /* + LLL_INFO */
	log_take = 1;
	log_lines = log_bad = 0;
	rc = run(url, &o, &t, &err, NULL);
	TAP_OK(rc == CL_OK, "lws log: the connection works (%s)",
	       ERRSTR(err));
	TAP_OK(log_lines > 0, "lws log: errors to info: %u lines to the callback",
	       log_lines);
	TAP_EQ_INT(log_bad, 0, "lws log: each with our context, its level "
		   "and a line");
	free(err);
	err = NULL;
	tc_release(&t);

	tc_init(&t);
	t.sizes = sizes;
	t.nsizes = 2;
	t.close_after = 2;
	log_level = 0;
	log_lines = 0;
	rc = run(url, &o, &t, &err, NULL);
	TAP_OK(rc == CL_OK, "lws log: level 0 (%s)", ERRSTR(err));
	TAP_EQ_INT(log_lines, 0, "lws log: level 0 logs nothing");
	free(err);
	err = NULL;
	tc_release(&t);

	tc_init(&t);
	t.sizes = sizes;
	t.nsizes = 2;
	t.close_after = 2;
	log_level = CL_WA_LWS_LOG_MAX;
	log_take = 0;
	rc = run(url, &o, &t, &err, NULL);
	TAP_OK(rc == CL_OK, "lws log: a level without a callback is "
	       "harmless (%s)", ERRSTR(err));
	free(err);
	tc_release(&t);
	log_level = 0;
}

int main(void)
{
	const char *r = getenv("CL_ROOT");
	int ok;

	if (r && *r)
		snprintf(root, sizeof(root), "%s", r);
	/* lws would route our loopback connections through a proxy */
	unsetenv("http_proxy");
	unsetenv("socks_proxy");
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/cl-wa-conn-XXXXXX");
	if (!mkdtemp(tmpdir)) {
		tmpdir[0] = '\0';
		TAP_OK(0, "scratch directory");
		return tap_done();
	}
	atexit(cleanup);
	ok = make_certs() == 0;
	TAP_OK(ok, "openssl made a CA and two server certificates");
	if (!ok) {
		print_cmd_log();
		return tap_done();
	}
	tmp_path(ca_pem, sizeof(ca_pem), "ca.pem");
	port_good = peer_start("srv");
	TAP_OK(port_good > 0, "node tests/peer/ws-echo.js started (port %d)",
	       port_good);
	port_bad = peer_start("bad");
	TAP_OK(port_bad > 0, "second peer, misnamed certificate (port %d)",
	       port_bad);
	if (port_good <= 0 || port_bad <= 0)
		return tap_done();

	test_echo();
	test_origin();
	test_fragment();
	test_peer_close();
	test_connect_failures();
	test_inbound_limits();
	test_stop_and_ticks();
	test_bad_cfg();
	test_lws_log();
	return tap_done();
}
