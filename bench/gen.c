/*
 * gen.c - deterministic generator of realistic normalised chat records
 * (JSON lines, the schema of archiver/ingest/record.c) for the benchmarks.
 *
 *   gen N SEED > records.jsonl      (statistics go to stderr)
 *
 * Shape of the data, loosely modelled on a WhatsApp linked-device
 * collector serving a Hong Kong business:
 *   - 6 business accounts, ~2,000 conversations (about 1/4 groups),
 *     a pool of contacts with HK phone JIDs 852XXXXXXXX@s.whatsapp.net;
 *   - conversation activity is skewed (a few very busy chats);
 *   - message ids 3EB0 + 16 hex digits (unique: a bijection of a counter);
 *   - sent_at increases over ~2 years with jitter, written either in UTC
 *     ("Z") or in HK local time ("+08:00"); received_at on incoming;
 *   - text from a word vocabulary: mostly 5-40 words, some short, some
 *     long, ~8% with Chinese characters;
 *   - ~15% media kinds with attachments {name, mime, size, sha256};
 *   - ~20% with `raw` (base64 of 100-600 random bytes);
 *   - reactions, edits and revokes carrying `target`; replies; labels.
 *
 * The PRNG is splitmix64, so the output is identical on every platform.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NACC 6
#define NCONV 2000
#define NCONTACT 6000
#define RING 8

static uint64_t rs;

static uint64_t mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t rnd(void)
{
	rs += 0x9e3779b97f4a7c15ULL;
	return mix64(rs);
}

static uint64_t below(uint64_t n) { return n ? rnd() % n : 0; }
static double unit(void) { return (double)(rnd() >> 11) / 9007199254740992.0; }
static int chance(double p) { return unit() < p; }

static const char *const words[] = {
	"the", "the", "the", "to", "to", "a", "a", "and", "and", "you", "you",
	"is", "for", "for", "we", "we", "i", "i", "it", "of", "on", "in",
	"please", "thanks", "thank", "ok", "ok", "sure", "yes", "no", "can",
	"will", "would", "could", "send", "sent", "check", "order", "order",
	"delivery", "deliver", "tomorrow", "today", "tonight", "morning",
	"afternoon", "price", "quotation", "invoice", "payment", "paid",
	"bank", "transfer", "FPS", "receipt", "confirm", "confirmed", "meeting",
	"call", "later", "now", "soon", "office", "warehouse", "shop",
	"customer", "client", "sample", "samples", "stock", "available",
	"sold", "out", "new", "arrival", "discount", "total", "HKD", "box",
	"boxes", "pcs", "carton", "address", "Kowloon", "Central", "Mong",
	"Kok", "Tsim", "Sha", "Tsui", "Causeway", "Bay", "Kwun", "Tong",
	"Sha", "Tin", "Tuen", "Mun", "Shenzhen", "courier", "SF", "Express",
	"tracking", "number", "pick", "up", "drop", "off", "before", "after",
	"pm", "am", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday",
	"Saturday", "weekend", "holiday", "schedule", "update", "updated",
	"file", "attached", "photo", "see", "let", "me", "know", "if", "any",
	"question", "questions", "problem", "issue", "fixed", "refund",
	"return", "exchange", "size", "colour", "model", "spec", "contract",
	"sign", "signed", "deposit", "balance", "due", "date", "urgent",
	"asap", "noted", "received", "got", "it", "have", "has", "been",
	"just", "still", "waiting", "for", "your", "our", "their", "team",
	"boss", "manager", "account", "statement", "month", "end", "next",
	"week", "this", "that", "with", "from", "by", "at", "about", "around",
	"lunch", "dinner", "coffee", "tea", "thanks!", "ok.", "sure,",
	"yes,", "hi", "hello", "morning!", "lah", "la", "ar", "wor", "ga",
	"hai", "mm", "dim", "ho", "m", "goi", "do", "je", "gei", "chin",
	"please?", "done.", "arrived.", "tomorrow?", "now?", "123", "2",
	"3", "10", "50", "100", "500", "1,200", "#A-1024", "7/F", "Rm", "1503",
};
#define NWORDS (sizeof(words) / sizeof(words[0]))

static const char *const zh[] = {
	"你好", "唔該", "多謝", "收到", "明天", "聽日", "今日", "訂單", "送貨",
	"價錢", "幾多錢", "冇問題", "好的", "請問", "地址", "公司", "客戶",
	"付款", "發票", "取消", "確認", "時間", "開會", "香港", "九龍", "新界",
	"銅鑼灣", "旺角", "尖沙咀", "中環", "觀塘", "沙田", "屯門", "貨倉",
	"樣本", "報價", "轉數快", "已經", "仲未", "等緊", "麻煩你", "下晝",
	"朝早", "晏晝", "今晚", "星期一", "星期五", "週末", "photo", "OK",
	"，", "。", "？", "！",
};
#define NZH (sizeof(zh) / sizeof(zh[0]))

static const char *const surnames[] = {
	"Chan", "Wong", "Lee", "Cheung", "Lau", "Ho", "Ng", "Leung", "Lam",
	"Tang", "Yip", "Tsang", "Kwok", "Fung", "Mak", "Chow", "Yeung", "Law",
};
static const char *const given[] = {
	"Tai Man", "Siu Ming", "Ka Yan", "Wing Sze", "Chi Keung", "Mei Ling",
	"Kenneth", "Winnie", "Peter", "Mandy", "Jason", "Karen", "Alan",
	"Cindy", "Eric", "Joyce", "Raymond", "Vivian", "Tommy", "Ivy",
};
static const char *const zhnames[] = {
	"陳大文", "黃小明", "李嘉欣", "張偉強", "劉美玲", "何家輝", "吳志明",
	"梁詠詩", "林子健", "鄧麗君",
};
static const char *const businesses[NACC] = {
	"Harbour Trading Ltd", "Kowloon Logistics", "Pearl Florist",
	"Victoria Electronics", "Lantau Seafood Co", "Central Print Shop",
};
static const char *const groupnames[] = {
	"Orders", "Logistics", "Sales Team", "VIP Clients", "Suppliers",
	"Warehouse", "Accounts", "訂單群組", "送貨安排", "報價",
};
static const char *const labels[] = {
	"customer", "order", "invoice", "complaint", "vip", "follow-up",
	"lead", "paid",
};
static const char *const emoji[] = {
	"\xf0\x9f\x91\x8d", "\xe2\x9d\xa4\xef\xb8\x8f", "\xf0\x9f\x98\x82",
	"\xf0\x9f\x98\xae", "\xf0\x9f\x98\xa2", "\xf0\x9f\x99\x8f",
};

struct contact {
	char jid[40];
	char name[48];
	int has_name;
};

struct conv {
	int account;
	int group;
	char id[48];
	char name[48];
	int has_name;
	int peer;               /* direct: contact index */
	int members[32];
	int nmembers;
	uint64_t ring[RING];    /* recent message counters */
	int nring;
};

static struct contact contacts[NCONTACT];
static struct conv convs[NCONV];
static char acc_jid[NACC][40];

/* ---- output --------------------------------------------------------- */

static char *ob;
static size_t ol, ocap;

static void put(const char *s, size_t n)
{
	if (ol + n > ocap) {
		while (ol + n > ocap)
			ocap = ocap ? ocap * 2 : 1 << 16;
		ob = realloc(ob, ocap);
		if (ob == NULL) {
			perror("gen");
			exit(2);
		}
	}
	memcpy(ob + ol, s, n);
	ol += n;
}

static void puts_(const char *s) { put(s, strlen(s)); }

static void putf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void putf(const char *fmt, ...)
{
	char tmp[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	put(tmp, (size_t)n);
}

/* ---- helpers -------------------------------------------------------- */

static void hk_jid(char *out)
{
	static const char first[] = "5679";

	sprintf(out, "852%c%07llu@s.whatsapp.net", first[below(4)],
		(unsigned long long)below(10000000));
}

static uint64_t id_salt;

static void msg_id(uint64_t counter, char *out)
{
	sprintf(out, "3EB0%016llX", (unsigned long long)mix64(counter ^ id_salt));
}

static void put_time(int64_t ms, int local)
{
	time_t t = (time_t)(ms / 1000 + (local ? 8 * 3600 : 0));
	struct tm tm;
	char b[40];

	gmtime_r(&t, &tm);
	strftime(b, sizeof(b), "%Y-%m-%dT%H:%M:%S", &tm);
	puts_(b);
	putf(".%03d%s", (int)(ms % 1000), local ? "+08:00" : "Z");
}

static void put_b64(const unsigned char *p, size_t n)
{
	static const char t[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char q[4];
	size_t i;

	for (i = 0; i + 2 < n; i += 3) {
		q[0] = t[p[i] >> 2];
		q[1] = t[((p[i] & 3) << 4) | (p[i + 1] >> 4)];
		q[2] = t[((p[i + 1] & 15) << 2) | (p[i + 2] >> 6)];
		q[3] = t[p[i + 2] & 63];
		put(q, 4);
	}
	if (n - i == 1) {
		q[0] = t[p[i] >> 2];
		q[1] = t[(p[i] & 3) << 4];
		q[2] = q[3] = '=';
		put(q, 4);
	} else if (n - i == 2) {
		q[0] = t[p[i] >> 2];
		q[1] = t[((p[i] & 3) << 4) | (p[i + 1] >> 4)];
		q[2] = t[(p[i + 1] & 15) << 2];
		q[3] = '=';
		put(q, 4);
	}
}

static void put_hex(size_t nbytes)
{
	static const char h[] = "0123456789abcdef";
	char c[2];
	size_t i;

	for (i = 0; i < nbytes; i++) {
		unsigned v = (unsigned)below(256);

		c[0] = h[v >> 4];
		c[1] = h[v & 15];
		put(c, 2);
	}
}

/* Word count: mostly 5-40, some 1-4, some long. */
static int text_words(void)
{
	double u = unit();

	if (u < 0.12)
		return 1 + (int)below(4);
	if (u < 0.90) {
		/* skewed toward the short end of 5..40 */
		double v = unit();

		return 5 + (int)(36 * v * v);
	}
	if (u < 0.98)
		return 41 + (int)below(80);
	return 121 + (int)below(480);
}

static uint64_t text_bytes, zh_texts, long_texts;

static void put_text(int nw)
{
	int i, chinese = chance(0.08), mixed = chinese && chance(0.5);

	zh_texts += (uint64_t)chinese;
	long_texts += nw > 40;
	puts_("\"");
	for (i = 0; i < nw; i++) {
		const char *w;

		if (chinese && (!mixed || chance(0.5))) {
			w = zh[below(NZH)];
		} else {
			if (i > 0)
				puts_(nw > 60 && chance(0.02) ? "\\n" : " ");
			w = words[below(NWORDS)];
		}
		text_bytes += strlen(w);
		puts_(w);
	}
	puts_("\"");
}

static int pick_conv(void)
{
	double u = unit();

	/* Skewed: low-numbered conversations are busier. */
	return (int)(NCONV * u * u * u * 0.7 + NCONV * 0.3 * unit()) % NCONV;
}

static void setup(void)
{
	int i, j;

	for (i = 0; i < NACC; i++)
		hk_jid(acc_jid[i]);
	for (i = 0; i < NCONTACT; i++) {
		hk_jid(contacts[i].jid);
		contacts[i].has_name = chance(0.8);
		if (chance(0.15))
			strcpy(contacts[i].name, zhnames[below(10)]);
		else
			sprintf(contacts[i].name, "%s %s",
				given[below(sizeof(given) / sizeof(given[0]))],
				surnames[below(sizeof(surnames) / sizeof(surnames[0]))]);
	}
	for (i = 0; i < NCONV; i++) {
		struct conv *c = &convs[i];

		c->account = (int)(unit() * unit() * NACC);
		c->group = chance(0.25);
		if (c->group) {
			sprintf(c->id, "120363%012llu@g.us",
				(unsigned long long)below(1000000000000ULL));
			sprintf(c->name, "%s %d",
				groupnames[below(sizeof(groupnames) / sizeof(groupnames[0]))],
				1 + (int)below(40));
			c->has_name = 1;
			c->nmembers = 3 + (int)below(28);
			for (j = 0; j < c->nmembers; j++)
				c->members[j] = (int)below(NCONTACT);
		} else {
			c->peer = (int)below(NCONTACT);
			strcpy(c->id, contacts[c->peer].jid);
			strcpy(c->name, contacts[c->peer].name);
			c->has_name = contacts[c->peer].has_name && chance(0.7);
		}
	}
}

/* ---- main ----------------------------------------------------------- */

int main(int argc, char **argv)
{
	unsigned long long n, seed, i;
	int64_t t0 = 1672531200000LL;            /* 2023-01-01T00:00:00Z */
	int64_t span = 2LL * 365 * 86400 * 1000;  /* two years */
	int64_t now;
	double step;
	uint64_t k_text = 0, k_media = 0, k_react = 0, k_edit = 0, k_revoke = 0,
		 k_other = 0, with_raw = 0, bytes = 0, groups = 0;
	unsigned char raw[600];

	if (argc != 3) {
		fprintf(stderr, "usage: gen N SEED\n");
		return 2;
	}
	n = strtoull(argv[1], NULL, 10);
	seed = strtoull(argv[2], NULL, 10);
	if (n == 0) {
		fprintf(stderr, "gen: N must be positive\n");
		return 2;
	}
	rs = seed;
	id_salt = mix64(seed ^ 0x5eedULL);
	setup();
	for (i = 0; i < NCONV; i++)
		groups += (uint64_t)convs[i].group;
	step = (double)span / (double)n;
	now = t0;
	for (i = 0; i < n; i++) {
		int ci = pick_conv(), out, sender_c = -1, has_target = 0;
		struct conv *c = &convs[ci];
		char id[24], ref[24];
		double u = unit();
		const char *kind;
		uint64_t target = 0;

		now += (int64_t)(step * 2.0 * unit()) + 1;
		out = chance(0.4);
		if (!out)
			sender_c = c->group ? c->members[below((uint64_t)c->nmembers)] : c->peer;
		/* kind */
		if (u < 0.725 || c->nring == 0)
			kind = "text";
		else if (u < 0.79)
			kind = "image";
		else if (u < 0.81)
			kind = "video";
		else if (u < 0.845)
			kind = "audio";
		else if (u < 0.875)
			kind = "document";
		else if (u < 0.885)
			kind = "sticker";
		else if (u < 0.945)
			kind = "reaction";
		else if (u < 0.97)
			kind = "edit";
		else if (u < 0.98)
			kind = "revoke";
		else if (u < 0.99)
			kind = "location";
		else
			kind = "contact";
		if (!strcmp(kind, "reaction") || !strcmp(kind, "edit") ||
		    !strcmp(kind, "revoke")) {
			has_target = 1;
			target = c->ring[below((uint64_t)c->nring)];
		}

		ol = 0;
		msg_id(i, id);
		putf("{\"account\":\"%s\",\"conversation\":{\"id\":\"%s\",\"type\":\"%s\"",
		     acc_jid[c->account], c->id, c->group ? "group" : "direct");
		if (c->has_name) {
			puts_(",\"name\":\"");
			puts_(c->name);
			puts_("\"");
		}
		putf("},\"id\":\"%s\",\"sender\":{\"id\":\"%s\"", id,
		     out ? acc_jid[c->account] : contacts[sender_c].jid);
		if (out) {
			puts_(",\"name\":\"");
			puts_(businesses[c->account]);
			puts_("\"");
		} else if (contacts[sender_c].has_name) {
			puts_(",\"name\":\"");
			puts_(contacts[sender_c].name);
			puts_("\"");
		}
		putf("},\"direction\":\"%s\",\"sent_at\":\"", out ? "out" : "in");
		put_time(now, chance(0.3));
		puts_("\"");
		if (!out) {
			puts_(",\"received_at\":\"");
			put_time(now + 200 + (int64_t)below(4800), 0);
			puts_("\"");
		}
		putf(",\"kind\":\"%s\"", kind);

		if (!strcmp(kind, "text")) {
			k_text++;
			puts_(",\"text\":");
			put_text(text_words());
			if (c->nring && chance(0.08)) {
				msg_id(c->ring[below((uint64_t)c->nring)], ref);
				putf(",\"reply_to\":\"%s\"", ref);
			}
		} else if (has_target) {
			msg_id(target, ref);
			if (!strcmp(kind, "reaction")) {
				k_react++;
				putf(",\"text\":\"%s\"", emoji[below(6)]);
			} else if (!strcmp(kind, "edit")) {
				k_edit++;
				puts_(",\"text\":");
				put_text(text_words());
			} else {
				k_revoke++;
			}
			putf(",\"target\":\"%s\"", ref);
		} else if (!strcmp(kind, "location") || !strcmp(kind, "contact")) {
			k_other++;
			if (kind[0] == 'l')
				putf(",\"text\":\"%.6f,%.6f\"", 22.2 + 0.3 * unit(),
				     113.9 + 0.4 * unit());
			else
				putf(",\"text\":\"BEGIN:VCARD\\nFN:%s\\nTEL:+%.11s\\nEND:VCARD\"",
				     contacts[below(NCONTACT)].name,
				     contacts[below(NCONTACT)].jid);
		} else {
			/* media with an attachment */
			static const struct { const char *pfx, *ext, *mime; unsigned lo, hi; } m[] = {
				{ "IMG", "jpg", "image/jpeg", 30000, 4000000 },
				{ "VID", "mp4", "video/mp4", 500000, 64000000 },
				{ "PTT", "opus", "audio/ogg; codecs=opus", 4000, 900000 },
				{ "DOC", "pdf", "application/pdf", 20000, 8000000 },
				{ "STK", "webp", "image/webp", 8000, 90000 },
			};
			int mk = kind[0] == 'i' ? 0 : kind[0] == 'v' ? 1 : kind[0] == 'a' ? 2 :
				 kind[0] == 'd' ? 3 : 4;
			time_t tt = (time_t)(now / 1000);
			struct tm tm;
			char d[16];

			k_media++;
			gmtime_r(&tt, &tm);
			strftime(d, sizeof(d), "%Y%m%d", &tm);
			if (mk == 3 && chance(0.5))
				putf(",\"attachments\":[{\"name\":\"Invoice_%s_%04u.pdf\"", d,
				     (unsigned)below(10000));
			else
				putf(",\"attachments\":[{\"name\":\"%s-%s-WA%04u.%s\"", m[mk].pfx, d,
				     (unsigned)below(10000), m[mk].ext);
			putf(",\"mime\":\"%s\",\"size\":%u,\"sha256\":\"", m[mk].mime,
			     m[mk].lo + (unsigned)below(m[mk].hi - m[mk].lo));
			put_hex(32);
			puts_("\"}]");
			if ((mk == 0 || mk == 1) && chance(0.3)) {
				puts_(",\"text\":");
				put_text(1 + (int)below(12));
			}
		}
		if (chance(0.05)) {
			int nl = 1 + (int)below(2);

			putf(",\"labels\":[\"%s\"", labels[below(8)]);
			if (nl == 2)
				putf(",\"%s\"", labels[below(8)]);
			puts_("]");
		}
		if (chance(0.20)) {
			size_t rn = 100 + (size_t)below(501), j;

			for (j = 0; j < rn; j++)
				raw[j] = (unsigned char)below(256);
			puts_(",\"raw\":\"");
			put_b64(raw, rn);
			puts_("\"");
			with_raw++;
		}
		puts_("}\n");
		if (fwrite(ob, 1, ol, stdout) != ol) {
			perror("gen: write");
			return 2;
		}
		bytes += ol;
		/* remember it as a possible reply/reaction target */
		if (c->nring < RING)
			c->ring[c->nring++] = i;
		else
			c->ring[below(RING)] = i;
	}
	if (fflush(stdout) != 0) {
		perror("gen: write");
		return 2;
	}
	fprintf(stderr,
		"gen: %llu records, %llu bytes (%.0f B/record); %d accounts, %d conversations"
		" (%llu groups), %d contacts\n"
		"gen: kinds: text %llu, media %llu, reaction %llu, edit %llu, revoke %llu,"
		" other %llu; with raw %llu (%.1f%%); texts with Chinese %llu, long texts %llu\n",
		n, (unsigned long long)bytes, (double)bytes / (double)n, NACC, NCONV,
		(unsigned long long)groups, NCONTACT,
		(unsigned long long)k_text, (unsigned long long)k_media,
		(unsigned long long)k_react, (unsigned long long)k_edit,
		(unsigned long long)k_revoke, (unsigned long long)k_other,
		(unsigned long long)with_raw, 100.0 * (double)with_raw / (double)n,
		(unsigned long long)zh_texts, (unsigned long long)long_texts);
	free(ob);
	return 0;
}
