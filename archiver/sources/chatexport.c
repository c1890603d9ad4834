/*
 * import_whatsapp.c - the chat-text parser of the WhatsApp "Export chat"
 * importer (import_whatsapp.h).
 *
 * An export is a sequence of physical lines.  A line that starts with a
 * timestamp header opens a message; any other line continues the
 * previous one.  Two passes run over the text:
 *
 *   1. scan: every header line is parsed to decide the date order over
 *      the whole file, to learn the authors (for "Name:." lines that lack
 *      the space, and to tell the other party of a direct chat), whether
 *      the chat is a group and its earliest subject, and the author of an
 *      iOS encryption notice (the chat's name); set_conversation() then
 *      derives the conversation id from these (FORMAT.md §2.8);
 *   2. emit: each message (its header line plus continuation lines) is
 *      classified and turned into one record, or into one bad item.
 *
 * Matching runs on a cleaned copy of each line: direction marks (U+200E,
 * U+200F, U+202A-U+202E, U+2066-U+2069) and U+FEFF are removed, and
 * invalid UTF-8 or NUL bytes become U+FFFD, so every string put into a
 * record is valid UTF-8.  The record's `raw` holds the exact bytes of the
 * message's lines, line ends included.
 *
 * The strings recognised (system notices, placeholders) are the ones seen
 * in the sample exports and the format notes; anything not recognised is
 * kept as an ordinary text message or system event, never dropped.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "archiver/ingest/import_util.h"
#include "archiver/sources/chatexport.h"
#include "archiver/ingest/record.h"
#include "common/buf.h"
#include "common/map.h"
#include "common/status.h"
#include "common/util.h"

#include "common/banned.h"

#define ID_PREFIX "wa-export:"
#define CONV_PREFIX "whatsapp-export:"
#define MAX_CHAT_NAME 400        /* bytes: leaves room for CONV_PREFIX */
#define MAX_UNIT_BYTES CL_RECORD_MAX_TEXT  /* raw bytes of one message */
#define MAX_OTHERS 3             /* authors kept by name for the identity */
#define LRM "\xe2\x80\x8e"       /* U+200E, before iOS system text */

/* ---- string tables --------------------------------------------------- */

/* End-to-end encryption notices, matched as prefixes (authored or not). */
static const char *const e2e_notices[] = {
	"Messages and calls are end-to-end encrypted",
	"Messages to this group are now secured with end-to-end encryption",
	"Messages you send to this group are now secured with end-to-end encryption",
	"Messages you send to this chat and calls are now secured with end-to-end encryption",
	"Messages to this chat and calls are now secured with end-to-end encryption",
	"Nachrichten und Anrufe sind Ende-zu-Ende-verschlüsselt",
	"Berichten en oproepen worden end-to-end versleuteld",
	"As mensagens e chamadas são encriptadas ponto a ponto",
	"As mensagens e as chamadas são protegidas com a criptografia de ponta a ponta",
	"Los mensajes y las llamadas están cifrados de extremo a extremo",
	"Сообщения и звонки защищены сквозным шифрованием",
	"消息和通话已进行端到端加密",
	"訊息與通話已受端對端加密保護",
	NULL
};

/*
 * Chinese encryption notices are recognised by shape rather than listed
 * whole (WhatsApp words them differently per region and version): the
 * first sentence of the first line, which must end in "。", opens with
 * one of these words and ends with one of cjk_e2e_ends.
 */
static const char *const cjk_e2e_starts[] = {
	"訊息", "消息", "你傳送", "您傳送", "你发送", "您发送", "傳送", "发送",
	"發送", NULL
};

static const char *const cjk_e2e_ends[] = {
	"端對端加密", "端到端加密", "端對端加密保護", "端到端加密保护", NULL
};

/* Deletion notices, compared whole, with or without a final full stop. */
static const char *const deleted_notices[] = {
	"This message was deleted", "You deleted this message",
	"Diese Nachricht wurde gelöscht", "Du hast diese Nachricht gelöscht",
	"Dit bericht is verwijderd", "U hebt dit bericht verwijderd",
	"Je hebt dit bericht verwijderd",
	"Esta mensagem foi apagada", "Apagou esta mensagem",
	"Mensagem apagada", "Você apagou esta mensagem",
	"Se eliminó este mensaje", "Eliminaste este mensaje",
	/* Traditional Chinese (Taiwan, Hong Kong) */
	"此訊息已刪除", "此訊息已被刪除", "你已刪除此訊息", "你刪除了此訊息",
	"你已刪除這則訊息", "您已刪除此訊息",
	/* Simplified Chinese */
	"此消息已删除", "此消息已被删除", "这条消息已删除", "这条消息已被删除",
	"你删除了此消息", "你已删除此消息", "你删除了这条消息",
	NULL
};

/* Call notices, compared whole. */
static const char *const call_notices[] = {
	"Missed voice call", "Missed video call", "Voice call", "Video call",
	"Missed group voice call", "Missed group video call",
	"Gemiste spraakoproep", "Gemiste video-oproep",
	"Verpasster Sprachanruf", "Verpasster Videoanruf",
	"未接語音通話", "未接視訊通話", "語音通話", "視訊通話",
	"未接语音通话", "未接视频通话", "语音通话", "视频通话",
	NULL
};

/* Edited-message suffixes, stripped from the end of the text. */
static const char *const edited_suffixes[] = {
	"<This message was edited>",
	"<Diese Nachricht wurde bearbeitet>",
	"<Diese Nachricht wurde bearbeitet.>",
	"<Este mensaje fue editado>",
	"<Ce message a été modifié>",
	"<Questo messaggio è stato modificato>",
	"<已編輯>", "<此訊息已編輯>", "<此訊息已被編輯>", "<訊息已編輯>",
	"<已编辑>", "<此消息已编辑>", "<此消息已被编辑>", "<消息已编辑>",
	NULL
};

/* Android "media omitted" placeholders (the whole first line). */
static const char *const android_omitted[] = {
	"<Media omitted>", "<Medien ausgeschlossen>", "<Media weggelaten>",
	"<Без медиафайлов>", "<Mídia oculta>", "<Multimedia omitido>",
	"<省略影音内容>", "<省略影音內容>", "<已省略多媒體檔案>", "<省略媒體>",
	"<媒體已省略>", "<省略多媒體>", "<媒体已省略>", "<省略媒体>",
	"<省略多媒体>",
	NULL
};

/* iOS "... omitted" placeholders (the whole first line). */
struct omitted {
	const char *text;
	const char *kind;
	int gif;
};

static const struct omitted ios_omitted[] = {
	{ "image omitted", "image", 0 }, { "video omitted", "video", 0 },
	{ "audio omitted", "audio", 0 }, { "sticker omitted", "sticker", 0 },
	{ "GIF omitted", "video", 1 }, { "Contact card omitted", "contact", 0 },
	{ "document omitted", "document", 0 },
	{ "Bild weggelassen", "image", 0 }, { "Video weggelassen", "video", 0 },
	{ "Audio weggelassen", "audio", 0 }, { "Sticker weggelassen", "sticker", 0 },
	{ "GIF weggelassen", "video", 1 }, { "Kontaktkarte ausgelassen", "contact", 0 },
	{ "Dokument weggelassen", "document", 0 },
	{ "imagem não revelada", "image", 0 }, { "vídeo não revelado", "video", 0 },
	{ "ficheiro de áudio não revelado", "audio", 0 },
	{ "sticker não revelado", "sticker", 0 }, { "GIF não revelada", "video", 1 },
	{ "Contacto não revelado", "contact", 0 },
	{ "documento não revelado", "document", 0 },
	{ "圖片已略去", "image", 0 }, { "影片已略去", "video", 0 },
	{ "音訊已略去", "audio", 0 }, { "貼圖已略去", "sticker", 0 },
	{ "貼圖已忽略", "sticker", 0 }, { "GIF 已略去", "video", 1 },
	{ "聯絡人名片已略去", "contact", 0 }, { "文件已略去", "document", 0 },
	{ NULL, NULL, 0 }
};

/* iOS document placeholders with the file name before them. */
static const char *const ios_doc_omitted[] = {
	" document omitted", " Dokument weggelassen", " documento não revelado",
	NULL
};

/* iOS attachment markers: "<attached: NAME>". */
static const char *const ios_attached[] = {
	"<attached: ", "<Anhang: ", "<已附加: ", "<已附加：", "<附件: ", "<附件：",
	NULL
};

/* Android attachment suffixes: "NAME (file attached)". */
static const char *const android_attached[] = {
	" (file attached)", " (Datei angehängt)", " (bestand bijgevoegd)",
	" (archivo adjunto)", " (arquivo anexado)", " (fichier joint)",
	" (file allegato)", " (文件附件)", " (檔案附件)", " (已附加檔案)",
	NULL
};

/* Location labels: "LABEL URL". */
static const char *const location_labels[] = {
	"location: ", "Location: ", "locatie: ", "Locatie: ", "Standort: ",
	"Localização: ", "localização: ", "Ubicación: ", "ubicación: ",
	"位置: ", "位置：",
	NULL
};

/* Chat-file name prefixes and suffixes (Android; iOS zip names). */
static const char *const name_prefixes[] = {
	"WhatsApp Chat with ", "WhatsApp Chat - ", "WhatsApp Chat mit ",
	"WhatsApp-Chat mit ", "WhatsApp-chat met ", "Chat de WhatsApp con ",
	"Conversa do WhatsApp com ", "Discussion WhatsApp avec ",
	"Chat WhatsApp con ", "Chat WhatsApp s uživatelem ",
	"Чат WhatsApp с контактом ",
	NULL
};

/*
 * Phrases that only occur in system events: a candidate author holding
 * one means the ": " split fell inside an event sentence.
 */
static const char *const event_phrases[] = {
	" created group", " created this group", " changed the subject",
	" changed this group's", " changed the group", " added ", " removed ",
	" joined using", " changed their phone number", "security code",
	" deleted this group's", " pinned a message",
	/* Chinese events: no space between the name and the verb */
	"建立了群組", "已建立群組", "建立了此群組", "创建了群组", "创建了此群组",
	"已將", "已将", "更改了", "變更了", "已變更", "已更改", "新增了", "已新增",
	"添加了", "已添加", "移除了", "已移除", "邀請連結", "邀请链接", "安全碼",
	"安全码",
	NULL
};

/* AM/PM markers written before (or after) the time. */
struct ampm_word {
	const char *text;
	int pm;
};

static const struct ampm_word cjk_ampm[] = {
	{ "上午", 0 }, { "下午", 1 }, { "오전", 0 }, { "오후", 1 },
	{ "午前", 0 }, { "午後", 1 }, { NULL, 0 }
};

/* ---- spans ----------------------------------------------------------- */

/* A slice of a cleaned string (not NUL-terminated). */
struct span {
	const char *p;
	size_t n;
};

static struct span sp(const char *p, size_t n)
{
	struct span s = { p, n };

	return s;
}

static int span_eq(struct span s, const char *lit)
{
	size_t n = strlen(lit);

	return s.n == n && memcmp(s.p, lit, n) == 0;
}

static int span_starts(struct span s, const char *lit)
{
	size_t n = strlen(lit);

	return s.n >= n && memcmp(s.p, lit, n) == 0;
}

static int span_ends(struct span s, const char *lit)
{
	size_t n = strlen(lit);

	return s.n >= n && memcmp(s.p + s.n - n, lit, n) == 0;
}

/* First occurrence of `lit` in s at or after `from`, or SIZE_MAX. */
static size_t span_find(struct span s, size_t from, const char *lit)
{
	size_t n = strlen(lit), i;

	for (i = from; n <= s.n && i + n <= s.n; i++)
		if (memcmp(s.p + i, lit, n) == 0)
			return i;
	return SIZE_MAX;
}

/* Last occurrence of `lit` in s, or SIZE_MAX. */
static size_t span_rfind(struct span s, const char *lit)
{
	size_t n = strlen(lit), i;

	if (n > s.n)
		return SIZE_MAX;
	for (i = s.n - n + 1; i-- > 0;)
		if (memcmp(s.p + i, lit, n) == 0)
			return i;
	return SIZE_MAX;
}

static int span_has(struct span s, const char *lit)
{
	return span_find(s, 0, lit) != SIZE_MAX;
}

/* Remove ASCII spaces and tabs at both ends. */
static struct span span_trim(struct span s)
{
	while (s.n && (s.p[0] == ' ' || s.p[0] == '\t')) {
		s.p++;
		s.n--;
	}
	while (s.n && (s.p[s.n - 1] == ' ' || s.p[s.n - 1] == '\t'))
		s.n--;
	return s;
}

/* Remove newlines, spaces and tabs at the end. */
static struct span span_rtrim_lines(struct span s)
{
	while (s.n && (s.p[s.n - 1] == '\n' || s.p[s.n - 1] == ' ' ||
		       s.p[s.n - 1] == '\t'))
		s.n--;
	return s;
}

/* Split s at its first newline: *first, and *rest after the newline. */
static void span_split_line(struct span s, struct span *first, struct span *rest)
{
	const char *nl = memchr(s.p, '\n', s.n);

	if (nl == NULL) {
		*first = s;
		*rest = sp(s.p + s.n, 0);
		return;
	}
	*first = sp(s.p, (size_t)(nl - s.p));
	*rest = sp(nl + 1, s.n - (size_t)(nl - s.p) - 1);
}

/* Index of s in a NULL-terminated table (prefix match if `prefix`). */
static int table_match(const char *const *tab, struct span s, int prefix)
{
	int i;

	for (i = 0; tab[i]; i++)
		if (prefix ? span_starts(s, tab[i]) : span_eq(s, tab[i]))
			return i;
	return -1;
}

/* Whole match, ignoring one final full stop ("." or "。") on s. */
static int notice_match(const char *const *tab, struct span s)
{
	s = span_trim(s);
	if (span_ends(s, "\xe3\x80\x82"))            /* U+3002 */
		s.n -= 3;
	else if (s.n && s.p[s.n - 1] == '.')
		s.n--;
	return table_match(tab, s, 0);
}

/* Does any entry of a NULL-terminated table occur in s? */
static int table_has(const char *const *tab, struct span s)
{
	int i;

	for (i = 0; tab[i]; i++)
		if (span_has(s, tab[i]))
			return 1;
	return 0;
}

/* A domain-separated 32-byte map key for a string. */
static void map_key(const char *dom, const char *p, size_t n,
		    unsigned char out[CL_SHA256_BYTES])
{
	cl_sha256_2(dom, strlen(dom) + 1, p, n, out);
}

/* Append lp(s): a 32-bit big-endian length and the bytes. */
static int add_lp(struct cl_buf *b, const char *p, size_t n)
{
	int rc = cl_buf_add_be32(b, (uint32_t)n);

	return rc ? rc : cl_buf_add(b, p, n);
}

/* ---- cleaning -------------------------------------------------------- */

/*
 * Length of the valid UTF-8 sequence at s[i] (1-4), or 0 if it is
 * truncated, overlong, a surrogate, above U+10FFFF, or a NUL byte.
 */
static size_t utf8_len(const unsigned char *s, size_t n, size_t i)
{
	unsigned char c = s[i], lo = 0x80, hi = 0xbf;
	size_t need, k;

	if (c == 0)
		return 0;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		need = 1;
	else if (c >= 0xe0 && c <= 0xef) {
		need = 2;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		need = 3;
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
	} else
		return 0;
	if (n - i <= need)
		return 0;
	for (k = 1; k <= need; k++) {
		unsigned char b = s[i + k];

		if (b < (k == 1 ? lo : 0x80) || b > (k == 1 ? hi : 0xbf))
			return 0;
	}
	return need + 1;
}

/* Is the 3-byte sequence at s[i] an invisible direction mark or BOM? */
static int is_mark(const unsigned char *s, size_t n, size_t i)
{
	if (n - i < 3)
		return 0;
	if (s[i] == 0xe2 && s[i + 1] == 0x80)
		return s[i + 2] == 0x8e || s[i + 2] == 0x8f ||
		       (s[i + 2] >= 0xaa && s[i + 2] <= 0xae);
	if (s[i] == 0xe2 && s[i + 1] == 0x81)
		return s[i + 2] >= 0xa6 && s[i + 2] <= 0xa9;
	return s[i] == 0xef && s[i + 1] == 0xbb && s[i + 2] == 0xbf;
}

/*
 * Append the cleaned form of p[0..n) to out: marks removed, invalid
 * UTF-8 and NUL replaced by U+FFFD.
 */
static int clean_add(struct cl_buf *out, const char *p, size_t n)
{
	const unsigned char *s = (const unsigned char *)p;
	size_t i = 0, start = 0;
	int rc = CL_OK;

	while (i < n && rc == CL_OK) {
		size_t k;

		if (s[i] >= 0x20 && s[i] < 0x80) {
			i++;
			continue;
		}
		if (is_mark(s, n, i)) {
			rc = cl_buf_add(out, s + start, i - start);
			i += 3;
			start = i;
			continue;
		}
		k = utf8_len(s, n, i);
		if (k) {
			i += k;
			continue;
		}
		if ((rc = cl_buf_add(out, s + start, i - start)) == CL_OK)
			rc = cl_buf_add(out, "\xef\xbf\xbd", 3);
		i++;
		start = i;
	}
	if (rc == CL_OK)
		rc = cl_buf_add(out, s + start, i - start);
	return rc;
}

/* ---- lines ----------------------------------------------------------- */

struct line_iter {
	const char *p;
	size_t n;
	size_t pos;
	uint64_t no;
};

/*
 * The next physical line: *start, *len without its "\n" or "\r\n", and
 * *end after its terminator.  Returns 0 at the end of the text.
 */
static int next_line(struct line_iter *it, size_t *start, size_t *len,
		     size_t *end)
{
	const char *nl;
	size_t l;

	if (it->pos >= it->n)
		return 0;
	*start = it->pos;
	nl = memchr(it->p + it->pos, '\n', it->n - it->pos);
	if (nl == NULL) {
		l = it->n - it->pos;
		*end = it->n;
	} else {
		l = (size_t)(nl - (it->p + it->pos));
		*end = it->pos + l + 1;
	}
	if (l && it->p[it->pos + l - 1] == '\r')
		l--;
	*len = l;
	it->pos = *end;
	it->no++;
	return 1;
}

/* ---- timestamp headers ----------------------------------------------- */

struct hdr {
	unsigned f[3];    /* the three date fields as written */
	unsigned nd[3];   /* their digit counts */
	int be;           /* "BE" (Buddhist era) after the year */
	unsigned hour, min, sec;
	int ampm;         /* 0 none, 1 AM, 2 PM */
	size_t body;      /* offset of the body in the cleaned line */
};

/* A local date and time. */
struct ltime {
	unsigned y, mo, d, h, mi, s;
};

/* Byte length of a space-like character at s[i], or 0. */
static size_t space_len(const unsigned char *s, size_t n, size_t i)
{
	if (i >= n)
		return 0;
	if (s[i] == ' ' || s[i] == '\t')
		return 1;
	if (n - i >= 2 && s[i] == 0xc2 && s[i + 1] == 0xa0)
		return 2;                               /* U+00A0 */
	if (n - i >= 3 && s[i] == 0xe2 && s[i + 1] == 0x80 &&
	    ((s[i + 2] >= 0x80 && s[i + 2] <= 0x8a) || s[i + 2] == 0xaf))
		return 3;                               /* U+2000-200A, U+202F */
	if (n - i >= 3 && s[i] == 0xe3 && s[i + 1] == 0x80 && s[i + 2] == 0x80)
		return 3;                               /* U+3000 */
	return 0;
}

/* Skip space-like characters; returns how many were skipped. */
static size_t skip_sp(const unsigned char *s, size_t n, size_t *i)
{
	size_t k, c = 0;

	while ((k = space_len(s, n, *i)) != 0) {
		*i += k;
		c++;
	}
	return c;
}

/* 1..maxd decimal digits (no more) at s[*i]. */
static int num(const unsigned char *s, size_t n, size_t *i, unsigned maxd,
	       unsigned *v, unsigned *nd)
{
	size_t j = *i;
	unsigned val = 0, d = 0;

	while (j < n && s[j] >= '0' && s[j] <= '9') {
		if (d == maxd)
			return -1;
		val = val * 10 + (unsigned)(s[j] - '0');
		d++;
		j++;
	}
	if (d == 0)
		return -1;
	*v = val;
	if (nd)
		*nd = d;
	*i = j;
	return 0;
}

static int lit_at(const unsigned char *s, size_t n, size_t i, const char *lit)
{
	size_t l = strlen(lit);

	return i <= n && n - i >= l && memcmp(s + i, lit, l) == 0;
}

/* A CJK AM/PM word at s[*i]: 1 AM, 2 PM, 0 none. */
static int cjk_marker(const unsigned char *s, size_t n, size_t *i)
{
	int k;

	for (k = 0; cjk_ampm[k].text; k++) {
		if (lit_at(s, n, *i, cjk_ampm[k].text)) {
			*i += strlen(cjk_ampm[k].text);
			return cjk_ampm[k].pm ? 2 : 1;
		}
	}
	return 0;
}

/* "AM", "pm", "a.m.", "a. m.", "p. m." ... at s[*i]; 1 AM, 2 PM, 0 none. */
static int ampm_suffix(const unsigned char *s, size_t n, size_t *i)
{
	size_t j = *i;
	unsigned char c;
	int r = cjk_marker(s, n, &j);

	if (r) {
		*i = j;
		return r;
	}
	if (j >= n)
		return 0;
	c = (unsigned char)(s[j] | 0x20);
	if (c != 'a' && c != 'p')
		return 0;
	r = c == 'a' ? 1 : 2;
	j++;
	if (j < n && s[j] == '.')
		j++;
	skip_sp(s, n, &j);
	if (j >= n || (s[j] | 0x20) != 'm')
		return 0;
	j++;
	if (j < n && s[j] == '.')
		j++;
	if (j < n && s[j] != ']' && s[j] != '-' && space_len(s, n, j) == 0)
		return 0;
	*i = j;
	return r;
}

/*
 * Parse the timestamp header at the start of a cleaned line:
 *   Android  DATE SEP TIME [AMPM] " - " BODY
 *   iOS      "[" DATE SEP TIME [AMPM] "]" [" "] BODY
 * DATE is three numbers separated by one of "/.-" (optionally followed
 * by spaces, and a final "." for dotted dates) and an optional " BE";
 * SEP is "," and/or spaces, optionally with "um"/"klo"; TIME is h:mm or
 * h:mm:ss (or with dots), with an AM/PM word before or after it.
 * Returns 1 and fills *h for a header line, 0 for any other line.  The
 * numbers are not validated here (see resolve()).
 */
static int parse_header(const unsigned char *s, size_t n, struct hdr *h)
{
	size_t i = 0, j;
	unsigned v, d;
	unsigned char sep, tsep;
	int bracket = 0, gap = 0;

	memset(h, 0, sizeof(*h));
	if (n && s[0] == '[') {
		bracket = 1;
		i++;
	}
	if (num(s, n, &i, 4, &h->f[0], &h->nd[0]) || i >= n ||
	    (s[i] != '/' && s[i] != '.' && s[i] != '-'))
		return 0;
	sep = s[i++];
	skip_sp(s, n, &i);
	if (num(s, n, &i, 2, &h->f[1], &h->nd[1]) || i >= n || s[i] != sep)
		return 0;
	i++;
	skip_sp(s, n, &i);
	if (num(s, n, &i, 4, &h->f[2], &h->nd[2]))
		return 0;
	if (sep == '.' && i < n && s[i] == '.')
		i++;
	j = i;
	if (skip_sp(s, n, &j) && lit_at(s, n, j, "BE")) {
		h->be = 1;
		i = j + 2;
	}
	if (i < n && s[i] == ',') {
		i++;
		gap = 1;
	}
	if (skip_sp(s, n, &i))
		gap = 1;
	if (!gap)
		return 0;
	if (lit_at(s, n, i, "um ") || lit_at(s, n, i, "klo ")) {
		i += s[i] == 'u' ? 2 : 3;
		skip_sp(s, n, &i);
	}
	if ((h->ampm = cjk_marker(s, n, &i)) != 0)
		skip_sp(s, n, &i);
	if (num(s, n, &i, 2, &h->hour, NULL) || i >= n ||
	    (s[i] != ':' && s[i] != '.'))
		return 0;
	tsep = s[i++];
	if (num(s, n, &i, 2, &h->min, &d) || d != 2)
		return 0;
	if (i + 1 < n && s[i] == tsep && s[i + 1] >= '0' && s[i + 1] <= '9') {
		i++;
		if (num(s, n, &i, 2, &v, &d) || d != 2)
			return 0;
		h->sec = v;
	}
	j = i;
	skip_sp(s, n, &j);
	if (h->ampm == 0 && (h->ampm = ampm_suffix(s, n, &j)) != 0)
		i = j;
	if (bracket) {
		if (i >= n || s[i] != ']')
			return 0;
		i++;
		if (i < n && s[i] == ' ')
			i++;
	} else {
		if (!skip_sp(s, n, &i) || i >= n || s[i] != '-')
			return 0;
		i++;
		if (i < n) {
			if (s[i] != ' ')
				return 0;
			i++;
		}
	}
	h->body = i;
	return 1;
}

static unsigned days_in_month(unsigned y, unsigned m)
{
	static const unsigned char dim[12] = { 31, 28, 31, 30, 31, 30,
					       31, 31, 30, 31, 30, 31 };

	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return 29;
	return dim[m - 1];
}

/*
 * The local date and time of header h under date order `order` ('d' dmy,
 * 'm' mdy, 'y' ymd).  A 4-digit first field is always a year; a 4-digit
 * last field is a year that needs 'd' or 'm'.  2-digit years are 20yy;
 * Buddhist-era years (marked "BE", or 2500 and above) lose 543.  Returns
 * -1 if the fields do not make a valid date and time.
 */
static int resolve(const struct hdr *h, char order, struct ltime *t)
{
	unsigned y, m, d;

	if (h->nd[0] >= 3) {
		if (h->nd[0] != 4)
			return -1;
		y = h->f[0];
		m = h->f[1];
		d = h->f[2];
	} else {
		if (h->nd[2] == 3)
			return -1;
		y = h->nd[2] == 4 ? h->f[2] : 2000 + h->f[2];
		if (order == 'd') {
			d = h->f[0];
			m = h->f[1];
		} else if (order == 'm') {
			m = h->f[0];
			d = h->f[1];
		} else if (order == 'y' && h->nd[2] <= 2) {
			y = 2000 + h->f[0];
			m = h->f[1];
			d = h->f[2];
		} else
			return -1;
	}
	if (h->be || y >= 2500) {
		if (y < 1970 + 543)
			return -1;
		y -= 543;
	}
	if (y < 1970 || m < 1 || m > 12 || d < 1 ||
	    d > days_in_month(y, m))
		return -1;
	t->y = y;
	t->mo = m;
	t->d = d;
	t->h = h->hour;
	if (h->ampm) {
		if (h->hour > 12)
			return -1;
		if (h->ampm == 1 && h->hour == 12)
			t->h = 0;
		else if (h->ampm == 2 && h->hour < 12)
			t->h = h->hour + 12;
	} else if (h->hour > 23)
		return -1;
	if (h->min > 59 || h->sec > 59)
		return -1;
	t->mi = h->min;
	t->s = h->sec;
	return 0;
}

/* ---- the parser state ------------------------------------------------ */

struct wa {
	const struct cl_import_opts *o;
	const struct cl_import_sink *sink;
	const struct cl_chatexport_media *media;
	int collect;
	const char *what;         /* the input, for messages */
	struct cl_chatexport_tz *tz;
	const char *tzname;
	char order;               /* 'd', 'm' or 'y' */
	char *conv_id;            /* malloc'd */
	const char *conv_from;    /* how conv_id was derived (export.conversation_from) */
	char *chat_name;          /* malloc'd, or NULL: conversation.name */
	char *file_name;          /* malloc'd, or NULL: chat name from the file name */
	char *file_full;          /* malloc'd, or NULL: file_name with its " (N)" */
	int file_trusted;         /* file_name came from a WhatsApp-made name */
	char *notice_author;      /* malloc'd: author of an iOS e2e notice */
	char *subject;            /* malloc'd: the earliest group subject shown */
	char *peer;               /* malloc'd: direct chat's other party, as written */
	char peer_phone[17];      /* its E.164 form, or "" */
	char *self_phone;         /* malloc'd: E.164 of o->self, or NULL */
	int group;
	int direct;
	size_t people;            /* distinct authors other than "You" */
	size_t nothers;           /* distinct authors other than "You" and --self */
	char *others[MAX_OTHERS]; /* malloc'd: the first MAX_OTHERS of them */
	struct cl_map authors;    /* every author seen before ": " */
	struct cl_map seen;       /* occurrence counts for ids */
	struct cl_buf line;       /* scratch: one cleaned line */
	struct cl_buf body;       /* the current message, cleaned */
	struct cl_buf scratch;    /* ids, raw base64 */
	struct cl_buf caption;    /* a caption put together from parts */
	const char *text;         /* the whole chat text */
	size_t len;
};

/* The message being collected in pass 2. */
struct unit {
	int open;                 /* a header or preamble line was seen */
	int preamble;             /* lines before the first header */
	int bad_time;             /* the header's timestamp is unusable */
	struct ltime t;
	uint64_t line;            /* first line number */
	uint64_t lines;           /* physical lines */
	size_t raw_start, raw_end;
	size_t first_len;         /* first line's length in w->body */
	size_t first_raw;         /* first line's raw length */
	int oversize;
};

/* ---- authors and phones ---------------------------------------------- */

/*
 * E.164 form of a phone-number author ("+852 9123 4567" -> "+85291234567")
 * into out (16 bytes); 0 if `s` is not a '+' followed by 6-15 digits and
 * separators (spaces, "-", ".", "(", ")", U+00A0, U+202F).
 */
static int e164(struct span s, char out[17])
{
	size_t i = 0, k = 1;
	const unsigned char *u = (const unsigned char *)s.p;

	if (s.n < 2 || s.p[0] != '+')
		return 0;
	out[0] = '+';
	for (i = 1; i < s.n;) {
		size_t sl = space_len(u, s.n, i);

		if (s.p[i] >= '0' && s.p[i] <= '9') {
			if (k >= 16)
				return 0;
			out[k++] = s.p[i++];
		} else if (s.p[i] == '-' || s.p[i] == '.' || s.p[i] == '(' ||
			   s.p[i] == ')')
			i++;
		else if (sl)
			i += sl;
		else
			return 0;
	}
	if (k < 7)
		return 0;
	out[k] = 0;
	return 1;
}

static int is_you(struct span a)
{
	return span_eq(a, "You") || span_eq(a, "you");
}

/* Does author `a` denote o->self (or "You")? */
static int is_self(const struct wa *w, struct span a)
{
	char ph[17];

	if (is_you(a))
		return 1;
	if (w->o->self == NULL)
		return 0;
	if (span_eq(a, w->o->self))
		return 1;
	return w->self_phone && e164(a, ph) && strcmp(ph, w->self_phone) == 0;
}

/* Is `a` acceptable as an author (else the line is a system event)? */
static int author_ok(struct span a)
{
	int i;

	if (a.n == 0 || a.n > CL_RECORD_MAX_ID || a.p[0] == ' ')
		return 0;
	for (i = 0; event_phrases[i]; i++)
		if (span_has(a, event_phrases[i]))
			return 0;
	return 1;
}

/* ---- classification -------------------------------------------------- */

/* What one message is. */
struct msg {
	int authored;             /* has an author */
	int system;
	struct span author;       /* as written (cleaned) */
	struct span id_text;      /* the text the id is computed over */
	const char *kind;
	const char *event;        /* system events: what happened */
	struct span text;         /* the record's text, if has_text */
	int has_text;
	int edited, media_omitted, gif;
	/* one attachment */
	int has_att, att_from_file, att_pages;
	struct span att_name, att_title;
	/* a location */
	int has_loc;
	struct span loc_url, loc_name, loc_addr;
};

/* A Chinese encryption notice (see cjk_e2e_starts). */
static int is_cjk_e2e(struct span t)
{
	struct span first, rest;
	size_t k;
	int i;

	span_split_line(span_trim(t), &first, &rest);
	k = span_find(first, 0, "\xe3\x80\x82");       /* 。 ends the sentence */
	if (k == SIZE_MAX)
		return 0;
	first = span_trim(sp(first.p, k));
	if (table_match(cjk_e2e_starts, first, 1) < 0)
		return 0;
	for (i = 0; cjk_e2e_ends[i]; i++)
		if (span_ends(first, cjk_e2e_ends[i]))
			return 1;
	return 0;
}

static int is_e2e(struct span t)
{
	return table_match(e2e_notices, span_trim(t), 1) >= 0 || is_cjk_e2e(t);
}

/* Does an encryption notice speak of a group? */
static int e2e_group(struct span t)
{
	return span_has(t, "this group") || span_has(t, "群組") || span_has(t, "群组");
}

static int is_security_code(struct span t)
{
	t = span_trim(t);
	if (span_starts(t, "Your security code with ") && span_has(t, " changed"))
		return 1;
	/* "你與 X 的安全碼已變更" / "你与 X 的安全码已更改" */
	return (span_starts(t, "你與") || span_starts(t, "你与") ||
		span_starts(t, "您與") || span_starts(t, "您与")) &&
	       (span_has(t, "安全碼") || span_has(t, "安全码"));
}

/*
 * Chinese system events, by keyword (the wording differs per region and
 * version; the keywords do not).  Tried after the English ones; returns
 * NULL when nothing matches.
 */
static const char *cjk_event_of(struct span t)
{
	static const char *const timer[] = { "限時訊息", "限时消息", "阅后即焚",
		"自動消失", "自动消失", NULL };
	static const char *const settings[] = { "群組設定", "群组设置", NULL };
	static const char *const desc[] = { "群組說明", "群組描述", "群组描述",
		"群组说明", "群組簡介", "群组简介", NULL };
	static const char *const icon[] = { "群組圖示", "此群組的圖示", "群組頭像",
		"群組相片", "群组图标", "此群组的图标", "群组头像", "群组照片", NULL };
	static const char *const subject[] = { "主題", "主题", "群組名稱", "群组名称",
		"群名", NULL };
	static const char *const created[] = { "建立了群組", "已建立群組",
		"建立了此群組", "创建了群组", "创建了此群组", "已创建群组", NULL };
	static const char *const admin[] = { "管理員", "管理员", NULL };
	static const char *const link[] = { "邀請連結", "邀请链接", NULL };
	static const char *const removed[] = { "移除了", "已移除", "將你移除",
		"将你移除", "移出了", "已移出", NULL };
	static const char *const added[] = { "新增了", "已新增", "添加了", "已添加",
		"將你加入", "将你加入", "把你加入", "已將你新增", NULL };
	static const char *const joined[] = { "已加入", "加入了", NULL };
	static const char *const left[] = { "已離開", "離開了", "已退出", "退出了", NULL };
	static const char *const number[] = { "電話號碼", "电话号码", "號碼已變更",
		"号码已更改", NULL };

	if (table_has(timer, t))
		return "timer";
	if (table_has(settings, t))
		return "settings";
	if (table_has(desc, t))
		return "description";
	if (table_has(icon, t))
		return "icon";
	if (table_has(created, t))
		return "group_created";
	if (table_has(subject, t))
		return "subject";
	if (table_has(admin, t))
		return "admin";
	if (table_has(link, t))
		return "joined";
	if (table_has(removed, t))
		return "removed";
	if (table_has(added, t))
		return "added";
	if (table_has(joined, t))
		return "joined";
	if (table_has(left, t))
		return "left";
	if (table_has(number, t))
		return "number_changed";
	return NULL;
}

/* What a system event is about (`t` is its cleaned text). */
static const char *event_of(struct span t)
{
	const char *ev;

	if (is_e2e(t))
		return "encryption";
	if (is_security_code(t))
		return "security_code";
	if (span_has(t, "message timer") || span_has(t, "disappearing messages"))
		return "timer";
	if (span_has(t, "group's settings") || span_has(t, "group settings"))
		return "settings";
	if (span_has(t, "group description"))
		return "description";
	if (span_has(t, "group's icon") || span_has(t, "group icon"))
		return "icon";
	if (span_has(t, "changed the subject") || span_has(t, "changed the group name"))
		return "subject";
	if (span_has(t, " created group") || span_has(t, "created this group"))
		return "group_created";
	if (span_has(t, "now an admin") || span_has(t, "no longer an admin"))
		return "admin";
	if (span_has(t, "joined using"))
		return "joined";
	if (span_has(t, " removed ") || span_ends(t, " removed you") ||
	    span_starts(t, "You were removed"))
		return "removed";
	if (span_has(t, " added ") || span_ends(t, " added you") ||
	    span_starts(t, "You were added") || span_starts(t, "You added"))
		return "added";
	if (span_ends(t, " left"))
		return "left";
	if (span_has(t, "changed their phone number") || span_has(t, "changed to +"))
		return "number_changed";
	ev = cjk_event_of(t);
	return ev ? ev : "other";
}

/* Events that only happen in groups. */
static int group_event(const char *ev, struct span t)
{
	static const char *const g[] = { "settings", "description", "icon",
		"subject", "group_created", "admin", "joined", "removed",
		"added", "left", NULL };
	int i;

	if (strcmp(ev, "encryption") == 0)
		return e2e_group(t);
	for (i = 0; g[i]; i++)
		if (strcmp(ev, g[i]) == 0)
			return 1;
	return 0;
}

/*
 * iOS writes a group's system events as messages of the group itself
 * ("[..] Deal Desk: <U+200E>Amy added Ben").  Such a message is a system
 * event when its author is the chat's name (the author of the encryption
 * notice, which opens an iOS export), its raw first line holds a U+200E
 * mark (`lrm`) and its text is a group event.
 */
static int chat_notice(const struct wa *w, struct span a, struct span t, int lrm)
{
	const char *ev;

	if (!lrm || w->notice_author == NULL || !span_eq(a, w->notice_author))
		return 0;
	ev = event_of(t);
	return strcmp(ev, "encryption") != 0 && group_event(ev, t);
}

/* Does the raw line p[0..n) hold a U+200E mark? */
static int raw_lrm(const char *p, size_t n)
{
	return memmem(p, n, LRM, strlen(LRM)) != NULL;
}

/*
 * Split the first line `first` into author and text at the first ": ";
 * then fall back to a known author followed by ":" (the "Name:." form).
 * Returns 1 with *author and *after (offset in `first` where the text
 * starts) set.
 */
static int split_author(const struct wa *w, struct span first,
			struct span *author, size_t *after)
{
	size_t k = span_find(first, 0, ": ");
	unsigned char key[CL_SHA256_BYTES];

	if (k != SIZE_MAX && author_ok(sp(first.p, k))) {
		*author = sp(first.p, k);
		*after = k + 2;
		return 1;
	}
	if (k != SIZE_MAX)
		return 0;
	for (k = 0; k < first.n && k <= CL_RECORD_MAX_ID; k++) {
		if (first.p[k] != ':')
			continue;
		if (!author_ok(sp(first.p, k)))
			continue;
		map_key("author", first.p, k, key);
		if (cl_map_get(&w->authors, key)) {
			*author = sp(first.p, k);
			*after = k + 1;
			return 1;
		}
	}
	return 0;
}

/* The kind of an attachment from its file name. */
static const char *kind_of_file(struct span name, int *gif)
{
	size_t i;
	struct span ext = sp(name.p + name.n, 0);
	static const char *const img[] = { "jpg", "jpeg", "png", "heic", "gif",
		"webp", "bmp", NULL };
	static const char *const vid[] = { "mp4", "mov", "3gp", "mkv", "avi", NULL };
	static const char *const aud[] = { "opus", "ogg", "m4a", "mp3", "aac",
		"amr", "wav", NULL };
	char lower[8];

	*gif = 0;
	/* iOS: 8 digits, "-TYPE-" */
	if (name.n > 9 && name.p[8] == '-') {
		for (i = 0; i < 8 && name.p[i] >= '0' && name.p[i] <= '9'; i++)
			;
		if (i == 8) {
			struct span r = sp(name.p + 9, name.n - 9);

			if (span_starts(r, "PHOTO-"))
				return "image";
			if (span_starts(r, "VIDEO-"))
				return "video";
			if (span_starts(r, "AUDIO-"))
				return "audio";
			if (span_starts(r, "STICKER-"))
				return "sticker";
			if (span_starts(r, "GIF-")) {
				*gif = 1;
				return "video";
			}
		}
	}
	/* Android: IMG-, VID-, PTT-, AUD-, STK-, DOC- */
	if (span_starts(name, "IMG-"))
		return "image";
	if (span_starts(name, "VID-"))
		return "video";
	if (span_starts(name, "PTT-") || span_starts(name, "AUD-"))
		return "audio";
	if (span_starts(name, "STK-"))
		return "sticker";
	if (span_starts(name, "DOC-"))
		return "document";
	for (i = name.n; i > 0; i--) {
		if (name.p[i - 1] == '.') {
			ext = sp(name.p + i, name.n - i);
			break;
		}
	}
	if (ext.n == 0 || ext.n >= sizeof(lower))
		return "document";
	for (i = 0; i < ext.n; i++)
		lower[i] = (char)(ext.p[i] >= 'A' && ext.p[i] <= 'Z' ? ext.p[i] + 32 : ext.p[i]);
	lower[ext.n] = 0;
	if (strcmp(lower, "vcf") == 0)
		return "contact";
	if (table_match(img, sp(lower, ext.n), 0) >= 0)
		return "image";
	if (table_match(vid, sp(lower, ext.n), 0) >= 0)
		return "video";
	if (table_match(aud, sp(lower, ext.n), 0) >= 0)
		return "audio";
	return "document";
}

const char *cl_chatexport_mime(const char *name, size_t len)
{
	static const struct { const char *ext, *mime; } map[] = {
		{ "jpg", "image/jpeg" }, { "jpeg", "image/jpeg" },
		{ "png", "image/png" }, { "gif", "image/gif" },
		{ "webp", "image/webp" }, { "heic", "image/heic" },
		{ "bmp", "image/bmp" },
		{ "mp4", "video/mp4" }, { "mov", "video/quicktime" },
		{ "3gp", "video/3gpp" }, { "mkv", "video/x-matroska" },
		{ "avi", "video/x-msvideo" },
		{ "opus", "audio/ogg" }, { "ogg", "audio/ogg" },
		{ "m4a", "audio/mp4" }, { "mp3", "audio/mpeg" },
		{ "aac", "audio/aac" }, { "amr", "audio/amr" },
		{ "wav", "audio/wav" },
		{ "vcf", "text/vcard" }, { "txt", "text/plain" },
		{ "csv", "text/csv" }, { "pdf", "application/pdf" },
		{ "doc", "application/msword" },
		{ "docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document" },
		{ "xls", "application/vnd.ms-excel" },
		{ "xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" },
		{ "ppt", "application/vnd.ms-powerpoint" },
		{ "pptx", "application/vnd.openxmlformats-officedocument.presentationml.presentation" },
		{ "zip", "application/zip" },
		{ NULL, NULL }
	};
	size_t i, dot = SIZE_MAX;
	char lower[8];
	int k;

	for (i = len; i > 0; i--) {
		if (name[i - 1] == '.') {
			dot = i;
			break;
		}
	}
	if (dot == SIZE_MAX || len - dot == 0 || len - dot >= sizeof(lower))
		return "application/octet-stream";
	for (i = dot; i < len; i++) {
		char c = name[i];

		lower[i - dot] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
	}
	lower[len - dot] = 0;
	for (k = 0; map[k].ext; k++)
		if (strcmp(map[k].ext, lower) == 0)
			return map[k].mime;
	return "application/octet-stream";
}

/* "TITLE • N pages": split the page count off a document title. */
static void doc_title(struct span t, struct span *title, int *pages)
{
	size_t k = span_rfind(t, " \xe2\x80\xa2 ");   /* U+2022 bullet */
	unsigned v = 0, d = 0;
	size_t i;

	*title = span_trim(t);
	*pages = 0;
	if (k == SIZE_MAX)
		return;
	for (i = k + 5; i < t.n && t.p[i] >= '0' && t.p[i] <= '9' && d < 6; i++, d++)
		v = v * 10 + (unsigned)(t.p[i] - '0');
	if (d == 0 || d == 6)
		return;
	*title = span_trim(sp(t.p, k));
	*pages = (int)v;
}

/* The caption: the lines after the placeholder, if any. */
static void set_caption(struct msg *m, struct span rest)
{
	rest = span_rtrim_lines(rest);
	if (rest.n) {
		m->text = rest;
		m->has_text = 1;
	}
}

/*
 * Interpret the text of an authored message: placeholders, attachments,
 * locations, notices.  `t` is the text after the author, trailing empty
 * lines removed.  A caption that has to be put together is built in
 * `cap`.  Returns CL_OK or CL_ENOMEM.
 */
static int interpret(struct msg *m, struct span t, struct cl_buf *cap)
{
	struct span first, rest, s;
	size_t k;
	int i;

	m->kind = "text";
	if (span_eq(t, "null")) {
		m->kind = "view-once";
		return CL_OK;
	}
	for (i = 0; edited_suffixes[i]; i++) {
		if (span_ends(t, edited_suffixes[i])) {
			m->edited = 1;
			t.n -= strlen(edited_suffixes[i]);
			t = span_rtrim_lines(t);
			break;
		}
	}
	m->text = t;
	m->has_text = 1;
	if (notice_match(deleted_notices, t) >= 0) {
		m->kind = "deleted";
		return CL_OK;
	}
	if (table_match(call_notices, span_trim(t), 0) >= 0) {
		m->kind = "call";
		return CL_OK;
	}
	span_split_line(t, &first, &rest);
	first = span_trim(first);
	m->has_text = 0;
	if (table_match(android_omitted, first, 0) >= 0) {
		m->kind = "media";
		m->media_omitted = 1;
		set_caption(m, rest);
		return CL_OK;
	}
	for (i = 0; ios_omitted[i].text; i++) {
		if (span_eq(first, ios_omitted[i].text)) {
			m->kind = ios_omitted[i].kind;
			m->gif = ios_omitted[i].gif;
			m->media_omitted = 1;
			set_caption(m, rest);
			return CL_OK;
		}
	}
	for (i = 0; ios_doc_omitted[i]; i++) {
		size_t sl = strlen(ios_doc_omitted[i]);
		int pages;

		if (!span_ends(first, ios_doc_omitted[i]) || first.n <= sl)
			continue;
		doc_title(sp(first.p, first.n - sl), &s, &pages);
		if (s.n == 0 || s.n > CL_RECORD_MAX_ID)
			continue;
		m->kind = "document";
		m->media_omitted = 1;
		m->has_att = 1;
		m->att_name = s;
		m->att_pages = pages;
		set_caption(m, rest);
		return CL_OK;
	}
	for (i = 0; ios_attached[i]; i++) {
		k = span_rfind(first, ios_attached[i]);
		if (k == SIZE_MAX || !span_ends(first, ">"))
			continue;
		s = sp(first.p + k + strlen(ios_attached[i]),
		       first.n - k - strlen(ios_attached[i]) - 1);
		if (s.n == 0 || s.n > CL_RECORD_MAX_ID || memchr(s.p, '/', s.n))
			continue;
		m->has_att = 1;
		m->att_from_file = 1;
		m->att_name = s;
		m->kind = kind_of_file(s, &m->gif);
		s = span_trim(sp(first.p, k));
		if (s.n && strcmp(m->kind, "document") == 0)
			doc_title(s, &m->att_title, &m->att_pages);
		if (s.n && strcmp(m->kind, "document") != 0) {
			/* a caption before the marker, maybe more lines after */
			int rc;

			cl_buf_reset(cap);
			if ((rc = cl_buf_add(cap, s.p, s.n)) ||
			    (rest.n && ((rc = cl_buf_add(cap, "\n", 1)) ||
					(rc = cl_buf_add(cap, rest.p, rest.n)))))
				return rc;
			m->text = span_rtrim_lines(sp((const char *)cap->data, cap->len));
			m->has_text = 1;
			return CL_OK;
		}
		set_caption(m, rest);
		return CL_OK;
	}
	for (i = 0; android_attached[i]; i++) {
		size_t sl = strlen(android_attached[i]);

		if (!span_ends(first, android_attached[i]) || first.n <= sl)
			continue;
		s = span_trim(sp(first.p, first.n - sl));
		if (s.n == 0 || s.n > CL_RECORD_MAX_ID || memchr(s.p, '/', s.n))
			continue;
		m->has_att = 1;
		m->att_from_file = 1;
		m->att_name = s;
		m->kind = kind_of_file(s, &m->gif);
		set_caption(m, rest);
		return CL_OK;
	}
	if (rest.n == 0) {
		for (i = 0; location_labels[i]; i++) {
			size_t ll = strlen(location_labels[i]);

			if (!span_starts(first, location_labels[i]))
				continue;
			s = sp(first.p + ll, first.n - ll);
			if ((span_starts(s, "https://") || span_starts(s, "http://")) &&
			    !span_has(s, " ")) {
				m->kind = "location";
				m->has_loc = 1;
				m->loc_url = s;
				return CL_OK;
			}
		}
		/* iOS venue: "NAME (ADDRESS): https://foursquare.com/v/..." */
		k = span_find(first, 0, "): https://foursquare.com/");
		if (k != SIZE_MAX) {
			size_t open = span_rfind(sp(first.p, k), " (");

			if (open != SIZE_MAX && open > 0) {
				m->kind = "location";
				m->has_loc = 1;
				m->loc_name = sp(first.p, open);
				m->loc_addr = sp(first.p + open + 2, k - open - 2);
				m->loc_url = sp(first.p + k + 3, first.n - k - 3);
				return CL_OK;
			}
		}
	} else {
		/* Android venue: NAME \n [ADDRESS \n] https://foursquare.com/v/... */
		struct span l2, r2, l3, r3;

		span_split_line(rest, &l2, &r2);
		span_split_line(r2, &l3, &r3);
		if (span_starts(l2, "https://foursquare.com/") && r2.n == 0) {
			m->kind = "location";
			m->has_loc = 1;
			m->loc_name = first;
			m->loc_url = span_trim(l2);
			return CL_OK;
		}
		if (span_starts(l3, "https://foursquare.com/") && r3.n == 0 &&
		    l2.n) {
			m->kind = "location";
			m->has_loc = 1;
			m->loc_name = first;
			m->loc_addr = span_trim(l2);
			m->loc_url = span_trim(l3);
			return CL_OK;
		}
	}
	m->text = t;
	m->has_text = 1;
	return CL_OK;
}

/*
 * Classify one message: `body` is the cleaned text of its lines joined
 * by "\n" (trailing empty lines removed), `first_len` the length of its
 * first line.  Spans in *m point into `body` or w->caption.
 */
static int classify(struct wa *w, struct span body, size_t first_len,
		    int lrm, struct msg *m)
{
	struct span first = sp(body.p, first_len < body.n ? first_len : body.n);
	size_t after;

	memset(m, 0, sizeof(*m));
	if (split_author(w, first, &m->author, &after)) {
		struct span t = span_rtrim_lines(sp(body.p + after, body.n - after));

		m->authored = 1;
		m->id_text = t;
		if (is_e2e(t) || is_security_code(t) ||
		    chat_notice(w, m->author, t, lrm)) {
			m->system = 1;
			m->kind = "system";
			m->event = event_of(t);
			m->text = t;
			m->has_text = t.n > 0;
			return CL_OK;
		}
		return interpret(m, t, &w->caption);
	}
	m->system = 1;
	m->kind = "system";
	m->id_text = body;
	m->event = event_of(body);
	m->text = body;
	m->has_text = body.n > 0;
	return CL_OK;
}

/* ---- records --------------------------------------------------------- */

static int put_span(json_t *obj, const char *key, struct span s)
{
	return cl_json_set_new(obj, key, json_stringn(s.p, s.n));
}

/*
 * A decimal latitude/longitude as a double, computed without strtod (so
 * the result does not depend on the locale): digits accumulated, then one
 * division; exact up to 15 significant digits, deterministic beyond.  The
 * URL keeps the exact text.
 */
static int parse_coord(struct span s, double *out)
{
	size_t i = 0;
	int neg = 0, digits = 0, dot = 0;
	double mant = 0, scale = 1;

	if (i < s.n && (s.p[i] == '-' || s.p[i] == '+'))
		neg = s.p[i++] == '-';
	for (; i < s.n; i++) {
		char c = s.p[i];

		if (c == '.' && !dot) {
			dot = 1;
			continue;
		}
		if (c < '0' || c > '9' || digits >= 20)
			return -1;
		mant = mant * 10 + (c - '0');
		digits++;
		if (dot)
			scale *= 10;
	}
	if (digits == 0)
		return -1;
	*out = neg ? -(mant / scale) : mant / scale;
	return 0;
}

/* location {url, name?, address?, latitude?, longitude?} */
static int put_location(json_t *rec, const struct msg *m)
{
	json_t *loc = json_object();
	size_t q = span_find(m->loc_url, 0, "?q=");
	int rc;

	if (loc == NULL)
		return CL_ENOMEM;
	if ((rc = cl_json_set_new(rec, "location", loc)) ||
	    (rc = put_span(loc, "url", m->loc_url)))
		return rc;
	if (m->loc_name.n && (rc = put_span(loc, "name", span_trim(m->loc_name))))
		return rc;
	if (m->loc_addr.n && (rc = put_span(loc, "address", span_trim(m->loc_addr))))
		return rc;
	if (q != SIZE_MAX) {
		struct span v = sp(m->loc_url.p + q + 3, m->loc_url.n - q - 3);
		size_t comma = span_find(v, 0, ",");
		double lat, lon;

		if (comma != SIZE_MAX &&
		    parse_coord(sp(v.p, comma), &lat) == 0 &&
		    parse_coord(sp(v.p + comma + 1, v.n - comma - 1), &lon) == 0 &&
		    lat >= -90 && lat <= 90 && lon >= -180 && lon <= 180) {
			if ((rc = cl_json_set_new(loc, "latitude", json_real(lat))) ||
			    (rc = cl_json_set_new(loc, "longitude", json_real(lon))))
				return rc;
		}
	}
	return CL_OK;
}

/* attachments: [{name, mime, size?, sha256?, missing?, ...}] */
static int put_attachment(struct wa *w, json_t *rec, const struct msg *m)
{
	json_t *arr = json_array(), *a = json_object();
	struct cl_chatexport_media_info info;
	char hex[2 * CL_SHA256_BYTES + 1];
	int rc;

	if (arr == NULL || a == NULL || json_array_append_new(arr, a)) {
		json_decref(arr);
		if (arr == NULL)
			json_decref(a);
		return CL_ENOMEM;
	}
	if ((rc = cl_json_set_new(rec, "attachments", arr)) ||
	    (rc = put_span(a, "name", m->att_name)) ||
	    (rc = cl_json_set_str(a, "mime", cl_chatexport_mime(m->att_name.p, m->att_name.n))))
		return rc;
	if (m->att_title.n && (rc = put_span(a, "title", m->att_title)))
		return rc;
	if (m->att_pages && (rc = cl_json_set_new(a, "pages", json_integer(m->att_pages))))
		return rc;
	if (!m->att_from_file)
		return CL_OK;     /* an omitted document: only its name is known */
	memset(&info, 0, sizeof(info));
	if (w->media)
		w->media->find(w->media->ctx, m->att_name.p, m->att_name.n, &info);
	if (!info.found)
		return cl_json_set_new(a, "missing", json_true());
	sodium_bin2hex(hex, sizeof(hex), info.sha256, sizeof(info.sha256));
	if ((rc = cl_json_set_new(a, "size", json_integer((json_int_t)info.size))))
		return rc;
	if (info.stored)
		return cl_json_set_str(a, "sha256", hex);
	/* too large to hand over: describe it, under another name */
	if ((rc = cl_json_set_str(a, "file_sha256", hex)))
		return rc;
	return cl_json_set_new(a, "not_stored", json_true());
}

/* The message id (see import_whatsapp.h) into w->scratch. */
static int make_id(struct wa *w, const char *ltime, const struct msg *m,
		   char out[64])
{
	unsigned char h[CL_SHA256_BYTES], key[CL_SHA256_BYTES];
	struct cl_map_slot *slot;
	uint64_t occ;
	int rc;

	cl_buf_reset(&w->scratch);
	if ((rc = add_lp(&w->scratch, ltime, strlen(ltime))) ||
	    (rc = add_lp(&w->scratch, m->authored ? m->author.p : "",
			 m->authored ? m->author.n : 0)) ||
	    (rc = add_lp(&w->scratch, m->id_text.p, m->id_text.n)))
		return rc;
	cl_sha256(w->scratch.data, w->scratch.len, key);
	slot = cl_map_put(&w->seen, key);
	if (slot == NULL)
		return CL_ENOMEM;
	occ = slot->u++;
	cl_buf_reset(&w->scratch);
	if ((rc = cl_buf_addstr(&w->scratch, "chatledger/wa-export/id/v1")) ||
	    (rc = add_lp(&w->scratch, w->conv_id, strlen(w->conv_id))) ||
	    (rc = add_lp(&w->scratch, ltime, strlen(ltime))) ||
	    (rc = add_lp(&w->scratch, m->authored ? m->author.p : "",
			 m->authored ? m->author.n : 0)) ||
	    (rc = add_lp(&w->scratch, m->id_text.p, m->id_text.n)) ||
	    (rc = cl_buf_add_be64(&w->scratch, occ)))
		return rc;
	cl_sha256(w->scratch.data, w->scratch.len, h);
	memcpy(out, ID_PREFIX, strlen(ID_PREFIX));
	sodium_bin2hex(out + strlen(ID_PREFIX), 33, h, 16);
	return CL_OK;
}


/* One bad item: the exact bytes of the unit's lines. */
static int emit_bad(struct wa *w, const struct unit *u, const char *reason)
{
	if (w->collect || w->sink->bad == NULL)
		return CL_OK;
	return w->sink->bad(w->sink->ctx, u->line,
			    (const unsigned char *)w->text + u->raw_start,
			    u->raw_end - u->raw_start, reason);
}

/* sender {id, name?, phone?} and direction. */
static int put_sender(struct wa *w, json_t *rec, const struct msg *m)
{
	json_t *s = json_object();
	char ph[17];
	int rc, self;

	if (s == NULL)
		return CL_ENOMEM;
	if ((rc = cl_json_set_new(rec, "sender", s)))
		return rc;
	if (m->system)
		return cl_json_set_str(s, "id", "system");
	self = is_self(w, m->author);
	if (is_you(m->author) && w->o->self)
		rc = cl_json_set_str(s, "id", w->o->self);
	else if (e164(m->author, ph)) {
		if ((rc = cl_json_set_str(s, "id", ph)) == CL_OK)
			rc = cl_json_set_str(s, "phone", ph);
	} else
		rc = put_span(s, "id", m->author);
	if (rc || (rc = put_span(s, "name", m->author)))
		return rc;
	return cl_json_set_str(rec, "direction", self ? "out" : "in");
}

/* The record for one message, handed to sink->record. */
static int emit_record(struct wa *w, const struct unit *u, const struct msg *m)
{
	json_t *rec = json_object(), *conv, *ex;
	int64_t local, ms;
	char ltime[32], when[32], id[64];
	char *js = NULL;
	size_t jlen;
	int rc;

	if (rec == NULL)
		return CL_ENOMEM;
	local = cl_days_from_civil(u->t.y, u->t.mo, u->t.d) * 86400 +
		(int64_t)u->t.h * 3600 + (int64_t)u->t.mi * 60 + u->t.s;
	ms = cl_chatexport_tz_to_utc(w->tz, local) * 1000;
	if (ms < 0 || ms > 253402300799999LL) {
		rc = emit_bad(w, u, "timestamp is outside the years 1970-9999 in UTC");
		goto out;
	}
	if (m->has_text && m->text.n > CL_RECORD_MAX_TEXT) {
		/* invalid bytes became 3-byte U+FFFD */
		rc = emit_bad(w, u, "message longer than 1 MiB");
		goto out;
	}
	cl_time_format(ms, when);
	(void)cl_fmt(ltime, sizeof(ltime), "%04u-%02u-%02uT%02u:%02u:%02u", u->t.y,
		 u->t.mo, u->t.d, u->t.h, u->t.mi, u->t.s);
	if ((rc = make_id(w, ltime, m, id)))
		goto out;
	conv = json_object();
	ex = json_object();
	if ((rc = cl_json_set_new(rec, "conversation", conv)) ||
	    (rc = cl_json_set_new(rec, "export", ex)) ||
	    (rc = cl_json_set_str(rec, "account", w->o->account)) ||
	    (rc = cl_json_set_str(rec, "source", CL_CHATEXPORT_SOURCE)) ||
	    (rc = cl_json_set_str(rec, "id", id)) ||
	    (rc = cl_json_set_str(conv, "id", w->conv_id)) ||
	    (w->chat_name && (rc = cl_json_set_str(conv, "name", w->chat_name))) ||
	    (w->group && (rc = cl_json_set_str(conv, "type", "group"))) ||
	    (w->direct && (rc = cl_json_set_str(conv, "type", "direct"))) ||
	    (w->peer && (rc = cl_json_set_str(conv, "peer_name", w->peer))) ||
	    (w->peer_phone[0] && (rc = cl_json_set_str(conv, "peer_phone", w->peer_phone))) ||
	    (rc = cl_json_set_str(rec, "sent_at", when)) ||
	    (rc = cl_json_set_str(rec, "kind", m->kind)) ||
	    (rc = put_sender(w, rec, m)))
		goto out;
	if (m->system && (rc = cl_json_set_str(rec, "direction", "in")))
		goto out;
	if (m->has_text && (rc = put_span(rec, "text", m->text)))
		goto out;
	if ((m->edited && (rc = cl_json_set_new(rec, "edited", json_true()))) ||
	    (m->media_omitted &&
	     (rc = cl_json_set_new(rec, "media_omitted", json_true()))) ||
	    (m->gif && (rc = cl_json_set_new(rec, "gif", json_true()))) ||
	    (m->event && (rc = cl_json_set_str(rec, "event", m->event))) ||
	    (m->has_att && (rc = put_attachment(w, rec, m))) ||
	    (m->has_loc && (rc = put_location(rec, m))))
		goto out;
	cl_buf_reset(&w->scratch);
	if ((rc = cl_b64_add(&w->scratch, (const unsigned char *)w->text + u->raw_start,
			     u->raw_end - u->raw_start)) ||
	    (rc = cl_json_set_new(rec, "raw", json_stringn((const char *)w->scratch.data,
							   w->scratch.len))))
		goto out;
	if ((rc = cl_json_set_new(ex, "line", json_integer((json_int_t)u->line))) ||
	    (rc = cl_json_set_new(ex, "lines", json_integer((json_int_t)u->lines))) ||
	    (rc = cl_json_set_str(ex, "local_time", ltime)) ||
	    (rc = cl_json_set_str(ex, "tz", w->tzname)) ||
	    (rc = cl_json_set_str(ex, "date_order", w->order == 'd' ? "dmy" :
						  w->order == 'm' ? "mdy" : "ymd")) ||
	    (rc = cl_json_set_str(ex, "conversation_from", w->conv_from)) ||
	    (m->system && m->authored && (rc = put_span(ex, "author", m->author))))
		goto out;
	js = json_dumps(rec, JSON_COMPACT | JSON_SORT_KEYS);
	if (js == NULL) {
		rc = CL_ENOMEM;
		goto out;
	}
	jlen = strlen(js);
	if (jlen > CL_RECORD_MAX_LINE) {
		rc = emit_bad(w, u, "message too large for one record");
		goto out;
	}
	/* the attachment's bytes go just before the record listing them */
	if (m->has_att && m->att_from_file && w->media && w->media->deliver &&
	    (rc = w->media->deliver(w->media->ctx, m->att_name.p, m->att_name.n)))
		goto out;
	rc = w->sink->record(w->sink->ctx, js, jlen);
out:
	free(js);
	json_decref(rec);
	return rc;
}

/* Finish the unit being collected: one record or one bad item. */
static int flush_unit(struct wa *w, struct unit *u)
{
	struct msg m;
	struct span body;
	int rc = CL_OK;

	if (!u->open)
		return CL_OK;
	if (u->preamble)
		rc = emit_bad(w, u, "text before the first message header");
	else if (u->bad_time)
		rc = emit_bad(w, u, "timestamp is not a valid date and time for the date order in use");
	else if (u->oversize)
		rc = emit_bad(w, u, "message longer than 1 MiB");
	else {
		body = span_rtrim_lines(sp((const char *)w->body.data, w->body.len));
		if (body.n == 0)
			body.p = "";
		rc = classify(w, body, u->first_len,
			      raw_lrm(w->text + u->raw_start, u->first_raw), &m);
		if (rc == CL_OK && w->collect) {
			if (m.has_att && m.att_from_file && w->media && w->media->want)
				rc = w->media->want(w->media->ctx, m.att_name.p, m.att_name.n);
		} else if (rc == CL_OK)
			rc = emit_record(w, u, &m);
	}
	memset(u, 0, sizeof(*u));
	cl_buf_reset(&w->body);
	return rc;
}

/* ---- pass 1: date order, authors, group, iOS chat name --------------- */

/* A copy of s cut to at most `max` bytes at a character boundary. */
static char *dup_cut(struct span s, size_t max)
{
	if (s.n > max) {
		size_t k = max;

		while (k > 0 && ((unsigned char)s.p[k] & 0xc0) == 0x80)
			k--;
		s.n = k;
	}
	return strndup(s.p, s.n);
}

/*
 * The quoted parts of a system line: pairs "...", “...”, 「...」, 『...』,
 * «...» and „...“, left to right, not nested.  Sets *first and *last to
 * the first and the last non-empty one and returns how many there are.
 */
static int quoted(struct span t, struct span *first, struct span *last)
{
	static const char *const q[][2] = {
		{ "\"", "\"" }, { "\xe2\x80\x9c", "\xe2\x80\x9d" },
		{ "\xe3\x80\x8c", "\xe3\x80\x8d" }, { "\xe3\x80\x8e", "\xe3\x80\x8f" },
		{ "\xc2\xab", "\xc2\xbb" }, { "\xe2\x80\x9e", "\xe2\x80\x9c" },
	};
	size_t i = 0, k, j;
	int n = 0;

	while (i < t.n) {
		for (k = 0; k < sizeof(q) / sizeof(q[0]); k++) {
			size_t ol = strlen(q[k][0]);

			if (t.n - i >= ol && memcmp(t.p + i, q[k][0], ol) == 0)
				break;
		}
		if (k == sizeof(q) / sizeof(q[0])) {
			i++;
			continue;
		}
		i += strlen(q[k][0]);
		j = span_find(t, i, q[k][1]);
		if (j == SIZE_MAX)
			break;
		if (j > i) {
			if (n == 0)
				*first = sp(t.p + i, j - i);
			*last = sp(t.p + i, j - i);
			n++;
		}
		i = j + strlen(q[k][1]);
	}
	return n;
}

/*
 * Remember the earliest group subject the export shows: the name in the
 * first "created group" line, or the old name ("from") in the first
 * subject change (its only name when it gives just the new one).
 * Events without a quoted name are passed over.
 */
static int note_subject(struct wa *w, const char *ev, struct span t)
{
	struct span a, b;
	int n;

	if (w->subject || (strcmp(ev, "group_created") != 0 &&
			   strcmp(ev, "subject") != 0))
		return CL_OK;
	n = quoted(t, &a, &b);
	if (n == 0)
		return CL_OK;
	a = span_trim(strcmp(ev, "group_created") == 0 ? b : a);
	if (a.n == 0)
		return CL_OK;
	w->subject = dup_cut(a, MAX_CHAT_NAME);
	return w->subject ? CL_OK : CL_ENOMEM;
}

/* A group event seen in pass 1: the chat is a group; note its subject. */
static int note_group_event(struct wa *w, const char *ev, struct span t)
{
	w->group = 1;
	return note_subject(w, ev, t);
}

struct scan {
	uint64_t headers, need_order, dmy, mdy;
	uint64_t nonblank;
};

static int scan(struct wa *w, struct scan *sc)
{
	struct line_iter it = { w->text, w->len, 0, 0 };
	size_t start, len, end;
	struct hdr h;
	struct ltime t;
	int rc = CL_OK;

	memset(sc, 0, sizeof(*sc));
	while (rc == CL_OK && next_line(&it, &start, &len, &end)) {
		struct span first;
		size_t k;

		cl_buf_reset(&w->line);
		if ((rc = clean_add(&w->line, w->text + start,
				    len < MAX_UNIT_BYTES ? len : MAX_UNIT_BYTES)))
			break;
		if (span_trim(sp((const char *)w->line.data, w->line.len)).n)
			sc->nonblank++;
		if (!parse_header(w->line.data, w->line.len, &h))
			continue;
		sc->headers++;
		if (h.nd[0] < 3) {
			int d = resolve(&h, 'd', &t) == 0, m = resolve(&h, 'm', &t) == 0;

			if (d || m)
				sc->need_order++;   /* lines valid in neither are bad */
			if (d && !m)
				sc->dmy++;
			if (m && !d)
				sc->mdy++;
		}
		first = sp((const char *)w->line.data + h.body, w->line.len - h.body);
		k = span_find(first, 0, ": ");
		if (k != SIZE_MAX && author_ok(sp(first.p, k))) {
			unsigned char key[CL_SHA256_BYTES];
			struct cl_map_slot *slot;
			struct span a = sp(first.p, k);
			struct span rest = sp(first.p + k + 2, first.n - k - 2);

			if (is_e2e(rest)) {
				if (e2e_group(rest))
					w->group = 1;
				if (w->notice_author == NULL &&
				    (w->notice_author = strndup(a.p, a.n)) == NULL)
					rc = CL_ENOMEM;
				continue;
			}
			if (is_security_code(rest))
				continue;
			if (chat_notice(w, a, rest, raw_lrm(w->text + start, len))) {
				rc = note_group_event(w, event_of(rest), rest);
				continue;
			}
			map_key("author", a.p, a.n, key);
			if ((slot = cl_map_put(&w->authors, key)) == NULL) {
				rc = CL_ENOMEM;
				break;
			}
			if (slot->u == 0 && !is_you(a)) {
				w->people++;
				if (!is_self(w, a) && w->nothers++ < MAX_OTHERS &&
				    (w->others[w->nothers - 1] = strndup(a.p, a.n)) == NULL)
					rc = CL_ENOMEM;
			}
			slot->u = 1;
		} else {
			const char *ev = event_of(first);

			if (group_event(ev, first))
				rc = note_group_event(w, ev, first);
		}
	}
	if (w->people >= 3)
		w->group = 1;
	return rc;
}

/* ---- pass 2 ---------------------------------------------------------- */

static int emit_all(struct wa *w)
{
	struct line_iter it = { w->text, w->len, 0, 0 };
	struct unit u;
	size_t start, len, end;
	struct hdr h;
	int rc = CL_OK;

	memset(&u, 0, sizeof(u));
	cl_map_release(&w->seen);
	cl_map_init(&w->seen);
	while (rc == CL_OK && next_line(&it, &start, &len, &end)) {
		/* A longer line makes its message oversize: its start suffices. */
		cl_buf_reset(&w->line);
		if ((rc = clean_add(&w->line, w->text + start,
				    len < MAX_UNIT_BYTES ? len : MAX_UNIT_BYTES)))
			break;
		if (parse_header(w->line.data, w->line.len, &h)) {
			if ((rc = flush_unit(w, &u)))
				break;
			u.open = 1;
			u.line = it.no;
			u.lines = 1;
			u.raw_start = start;
			u.raw_end = end;
			u.bad_time = resolve(&h, w->order, &u.t) != 0;
			u.oversize = end - start > MAX_UNIT_BYTES;
			u.first_len = w->line.len - h.body;
			u.first_raw = len;
			if (!u.oversize && !u.bad_time)
				rc = cl_buf_add(&w->body, w->line.data + h.body,
						w->line.len - h.body);
			continue;
		}
		if (!u.open) {
			if (span_trim(sp((const char *)w->line.data, w->line.len)).n == 0)
				continue;     /* blank lines before everything */
			u.open = 1;
			u.preamble = 1;
			u.line = it.no;
			u.raw_start = start;
		}
		u.lines++;
		u.raw_end = end;
		if (u.preamble || u.bad_time || u.oversize)
			continue;
		if (end - u.raw_start > MAX_UNIT_BYTES) {
			u.oversize = 1;
			continue;
		}
		if ((rc = cl_buf_add(&w->body, "\n", 1)) == CL_OK)
			rc = cl_buf_add(&w->body, w->line.data, w->line.len);
	}
	if (rc == CL_OK)
		rc = flush_unit(w, &u);
	return rc;
}

/* ---- names and options ----------------------------------------------- */

/* Is s (NUL-terminated) valid UTF-8 of 1..max bytes? */
static int str_ok(const char *s, size_t max)
{
	size_t n = strlen(s), i = 0;

	if (n == 0 || n > max)
		return 0;
	while (i < n) {
		size_t k = utf8_len((const unsigned char *)s, n, i);

		if (k == 0)
			return 0;
		i += k;
	}
	return 1;
}

/*
 * The length of s without a final duplicate-download suffix " (N)" or
 * "(N)" (N of 1-3 digits), as browsers and phones add to a second copy of
 * the same file; s.n if there is none.
 */
static size_t dup_suffix_cut(struct span s)
{
	size_t i = s.n, d = 0;

	if (i < 3 || s.p[i - 1] != ')')
		return s.n;
	i--;
	while (i > 0 && s.p[i - 1] >= '0' && s.p[i - 1] <= '9' && d < 4) {
		i--;
		d++;
	}
	if (d == 0 || d > 3 || i == 0 || s.p[i - 1] != '(')
		return s.n;
	i--;
	if (i > 0 && s.p[i - 1] == ' ')
		i--;
	return i;
}

/* Strip `pre` and `post` around s if both are there with a name between. */
static int strip_around(struct span *s, const char *pre, const char *post)
{
	size_t a = strlen(pre), b = strlen(post);

	if (s->n <= a + b || !span_starts(*s, pre) || !span_ends(*s, post))
		return 0;
	s->p += a;
	s->n -= a + b;
	return 1;
}

/*
 * The chat name from an export's file name: the base name without ".txt"
 * or ".zip", without a duplicate-download suffix " (N)", and without the
 * "WhatsApp Chat with " style prefix.  *out is NULL (and CL_OK returned)
 * if nothing usable remains (iOS "_chat.txt"); *trusted is set when one
 * of WhatsApp's own name forms was recognised, so that the name is the
 * chat's as WhatsApp wrote it rather than one a person chose.  *full
 * (may be NULL) receives the name with a " (N)" suffix kept, when it
 * had one (a chat may really be called "Room (2)").
 */
static int name_from_file(const char *file, char **out, char **full,
			  int *trusted)
{
	const char *base;
	struct cl_buf b;
	struct span s, whole;
	size_t cut;
	int rc, i;

	*out = NULL;
	*trusted = 0;
	if (full)
		*full = NULL;
	if (file == NULL)
		return CL_OK;
	base = strrchr(file, '/');
	base = base ? base + 1 : file;
	s = sp(base, strlen(base));
	if (s.n > 4 && (strcasecmp(base + s.n - 4, ".txt") == 0 ||
			strcasecmp(base + s.n - 4, ".zip") == 0))
		s.n -= 4;
	cl_buf_init(&b, 4 * s.n + 16);
	if ((rc = clean_add(&b, s.p, s.n)))
		goto out;
	s = span_trim(sp((const char *)b.data, b.len));
	cut = dup_suffix_cut(s);
	whole = s;
	s.n = cut;
	for (i = 0; name_prefixes[i]; i++) {
		if (span_starts(s, name_prefixes[i]) && s.n > strlen(name_prefixes[i])) {
			s.p += strlen(name_prefixes[i]);
			s.n -= strlen(name_prefixes[i]);
			whole.p += strlen(name_prefixes[i]);
			whole.n -= strlen(name_prefixes[i]);
			*trusted = 1;
			break;
		}
	}
	/* Android zh-CN "与<name>的 WhatsApp 聊天", zh-TW "與<name>的 WhatsApp 對話" */
	if (!*trusted && (strip_around(&s, "与", "的 WhatsApp 聊天") ||
			  strip_around(&s, "與", "的 WhatsApp 對話") ||
			  strip_around(&s, "與", "的 WhatsApp 聊天"))) {
		*trusted = 1;
		whole = s;        /* the suffix sat outside the name */
	}
	s = span_trim(s);
	whole = span_trim(whole);
	if (s.n == 0 || span_eq(s, "_chat")) {
		*trusted = 0;
		goto out;
	}
	if ((*out = dup_cut(s, MAX_CHAT_NAME)) == NULL) {
		rc = CL_ENOMEM;
		goto out;
	}
	if (full && whole.n != s.n && (*full = dup_cut(whole, MAX_CHAT_NAME)) == NULL)
		rc = CL_ENOMEM;
out:
	cl_buf_release(&b);
	return rc;
}

static int check_opts(const struct cl_import_opts *o, char **err)
{
	if (o == NULL || o->account == NULL || o->account[0] == 0)
		return cl_error(err, CL_EINVAL, "--account is required");
	if (!str_ok(o->account, CL_RECORD_MAX_ID))
		return cl_error(err, CL_EINVAL,
				"--account must be 1-%u bytes of UTF-8", CL_RECORD_MAX_ID);
	if (o->conversation && !str_ok(o->conversation, CL_RECORD_MAX_ID))
		return cl_error(err, CL_EINVAL,
				"--conversation must be 1-%u bytes of UTF-8",
				CL_RECORD_MAX_ID);
	if (o->self && !str_ok(o->self, CL_RECORD_MAX_ID))
		return cl_error(err, CL_EINVAL, "--self must be 1-%u bytes of UTF-8",
				CL_RECORD_MAX_ID);
	if (o->date_order && strcmp(o->date_order, "dmy") != 0 &&
	    strcmp(o->date_order, "mdy") != 0 && strcmp(o->date_order, "ymd") != 0)
		return cl_error(err, CL_EINVAL, "--date-order must be dmy, mdy or ymd");
	return CL_OK;
}

/* Decide the date order from pass 1 (or the option). */
static int decide_order(struct wa *w, const struct scan *sc, char **err)
{
	if (w->o->date_order) {
		w->order = w->o->date_order[0];
		return CL_OK;
	}
	w->order = 'y';
	if (sc->need_order == 0)
		return CL_OK;
	if (sc->dmy && sc->mdy)
		return cl_error(err, CL_EINVAL,
				"%s mixes day-first and month-first dates; name the order "
				"with --date-order dmy|mdy|ymd", w->what);
	if (sc->dmy) {
		w->order = 'd';
		return CL_OK;
	}
	if (sc->mdy) {
		w->order = 'm';
		return CL_OK;
	}
	return cl_error(err, CL_EINVAL,
			"cannot tell whether the dates in %s are day-first or month-first "
			"(no day is above 12); name the order with --date-order dmy|mdy|ymd",
			w->what);
}

/* Is author `a` the chat name `name` (as written, or as one phone number)? */
static int same_party(const char *a, const char *name)
{
	char pa[17], pn[17];

	if (a == NULL || name == NULL)
		return 0;
	if (strcmp(a, name) == 0)
		return 1;
	return e164(sp(a, strlen(a)), pa) && e164(sp(name, strlen(name)), pn) &&
	       strcmp(pa, pn) == 0;
}

/* The kept author other than --self and "You" that is `name`, or NULL. */
static const char *other_named(const struct wa *w, const char *name,
			       const char *full)
{
	size_t i;

	for (i = 0; i < w->nothers && i < MAX_OTHERS; i++)
		if (same_party(w->others[i], name) || same_party(w->others[i], full))
			return w->others[i];
	return NULL;
}

/* How many authors other than --self and "You" are not `name` (capped). */
static size_t others_not_named(const struct wa *w, const char *name,
			       const char *full)
{
	size_t i, n = w->nothers > MAX_OTHERS ? w->nothers - MAX_OTHERS : 0;

	for (i = 0; i < w->nothers && i < MAX_OTHERS; i++)
		if (!same_party(w->others[i], name) && !same_party(w->others[i], full))
			n++;
	return n;
}

/* w->conv_id = prefix + name, the name cut to MAX_CHAT_NAME bytes. */
static int conv_join(struct wa *w, const char *kind, const char *name)
{
	struct cl_buf b;
	char *cut = dup_cut(sp(name, strlen(name)), MAX_CHAT_NAME);
	int rc;

	if (cut == NULL)
		return CL_ENOMEM;
	cl_buf_init(&b, CL_RECORD_MAX_ID);
	if ((rc = cl_buf_addstr(&b, CONV_PREFIX)) == CL_OK &&
	    (rc = cl_buf_addstr(&b, kind)) == CL_OK)
		rc = cl_buf_addstr(&b, cut);
	free(cut);
	if (rc == CL_OK && (w->conv_id = (char *)cl_buf_detach(&b, NULL)) == NULL)
		rc = CL_ENOMEM;
	cl_buf_release(&b);
	return rc;
}

/*
 * The conversation's identity (docs/FORMAT.md, "WhatsApp chat exports",
 * is the normative description; keep the two in step).  After pass 1:
 *
 *   header  the chat's name as WhatsApp wrote it: the author of an iOS
 *           encryption notice, else a file name in one of WhatsApp's own
 *           forms ("WhatsApp Chat with X", "与X的 WhatsApp 聊天", ...),
 *           " (N)" removed; NULL when neither exists;
 *   name    header, else whatever the file name leaves (a renamed file).
 *
 * A group (group events, a group encryption notice, three or more
 * authors besides "You", or two or more authors besides --self and "You"
 * none of which is the header) is "whatsapp-export:group:" + the earliest
 * subject its system lines show, else + name.  Any other chat is direct:
 * its other party is the header (written as the matching author, if any),
 * else the only author besides --self and "You", else the author that is
 * name; the id is "whatsapp-export:direct:" + that party, in E.164 form
 * when it is a phone number.  If no party can be told, the id is
 * "whatsapp-export:chat:" + name.  --conversation overrides the id only.
 */
static int set_conversation(struct wa *w, const char *file_name, char **err)
{
	const char *header = NULL, *name, *peer = NULL;
	int rc;

	if ((rc = name_from_file(file_name, &w->file_name, &w->file_full,
				 &w->file_trusted)))
		return rc;
	if (w->notice_author && str_ok(w->notice_author, MAX_CHAT_NAME))
		header = w->notice_author;
	else if (w->file_trusted)
		header = w->file_name;
	name = header ? header : w->file_name;
	if (header && others_not_named(w, header, header == w->file_name ?
				       w->file_full : NULL) >= 2)
		w->group = 1;
	if (w->group) {
		if (name && (w->chat_name = strdup(name)) == NULL)
			return CL_ENOMEM;
		if (w->o->conversation == NULL && (w->subject || name)) {
			w->conv_from = w->subject ? "group_subject" :
				       header ? "chat_name" : "file_name";
			return conv_join(w, "group:", w->subject ? w->subject : name);
		}
	} else {
		if (header) {
			peer = other_named(w, header, header == w->file_name ?
					   w->file_full : NULL);
			if (peer == NULL)
				peer = header;
		} else if (w->nothers == 1) {
			peer = w->others[0];
		} else if (name) {
			peer = other_named(w, name, w->file_full);
		}
		if (peer && ((w->peer = strdup(peer)) == NULL ||
			     (w->chat_name = strdup(name ? name : peer)) == NULL))
			return CL_ENOMEM;
		if (peer && !e164(sp(peer, strlen(peer)), w->peer_phone))
			w->peer_phone[0] = 0;
		w->direct = peer != NULL;
		if (peer == NULL && name && (w->chat_name = strdup(name)) == NULL)
			return CL_ENOMEM;
		if (w->o->conversation == NULL && peer) {
			w->conv_from = "peer";
			return conv_join(w, "direct:", w->peer_phone[0] ? w->peer_phone : peer);
		}
		if (w->o->conversation == NULL && name) {
			w->conv_from = "file_name";
			return conv_join(w, "chat:", name);
		}
	}
	if (w->o->conversation) {
		w->conv_from = "option";
		w->conv_id = strdup(w->o->conversation);
		return w->conv_id ? CL_OK : CL_ENOMEM;
	}
	return cl_error(err, CL_EINVAL,
			"cannot derive the chat's name from %s; give --conversation",
			w->what);
}

int cl_chatexport_parse(const char *text, size_t len, const struct cl_import_opts *o,
		const char *file_name, const struct cl_import_sink *sink,
		const struct cl_chatexport_media *media, int collect, char **err)
{
	struct wa w;
	struct scan sc;
	char ph[17];
	size_t i;
	int rc;

	if (o == NULL)
		return cl_error(err, CL_EINVAL, "--account is required");
	if ((rc = check_opts(o, err)))
		return rc;
	if (!collect && (sink == NULL || sink->record == NULL))
		return cl_error(err, CL_EINVAL, "no record sink");
	memset(&w, 0, sizeof(w));
	w.o = o;
	w.sink = sink;
	w.media = media;
	w.collect = collect;
	w.text = text ? text : "";
	w.len = text ? len : 0;
	w.what = o->input_name ? o->input_name : file_name ? file_name : "the chat text";
	w.tzname = o->tz ? o->tz : CL_CHATEXPORT_DEFAULT_TZ;
	cl_map_init(&w.authors);
	cl_map_init(&w.seen);
	cl_buf_init(&w.line, 4 * (size_t)MAX_UNIT_BYTES);
	cl_buf_init(&w.body, 4 * (size_t)MAX_UNIT_BYTES);
	cl_buf_init(&w.scratch, 2 * CL_RECORD_MAX_LINE);
	cl_buf_init(&w.caption, 4 * (size_t)MAX_UNIT_BYTES);
	if (o->self && e164(sp(o->self, strlen(o->self)), ph) &&
	    (w.self_phone = strdup(ph)) == NULL) {
		rc = CL_ENOMEM;
		goto out;
	}
	if ((rc = cl_chatexport_tz_load(w.tzname, &w.tz, err)) || (rc = scan(&w, &sc)))
		goto out;
	if (sc.headers == 0 && sc.nonblank > 0) {
		rc = cl_error(err, CL_EINVAL,
			      "no line of %s starts with a WhatsApp timestamp; "
			      "is it a chat export?", w.what);
		goto out;
	}
	if ((rc = decide_order(&w, &sc, err)) ||
	    (rc = set_conversation(&w, file_name, err)))
		goto out;
	rc = emit_all(&w);
out:
	cl_chatexport_tz_free(w.tz);
	free(w.conv_id);
	free(w.chat_name);
	free(w.file_name);
	free(w.file_full);
	free(w.notice_author);
	free(w.subject);
	free(w.peer);
	for (i = 0; i < MAX_OTHERS; i++)
		free(w.others[i]);
	free(w.self_phone);
	cl_map_release(&w.authors);
	cl_map_release(&w.seen);
	cl_buf_release(&w.line);
	cl_buf_release(&w.body);
	cl_buf_release(&w.scratch);
	cl_buf_release(&w.caption);
	return rc;
}

int cl_chatexport_import_text(const char *text, size_t len,
			    const struct cl_import_opts *o,
			    const struct cl_import_sink *sink, char **err)
{
	return cl_chatexport_parse(text, len, o, o ? o->input_name : NULL, sink, NULL, 0, err);
}
