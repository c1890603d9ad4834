/*
 * test_wechat_crypto.c - the WXBizMsgCrypt safe mode (wechat_crypto.h)
 * against the four verified vector sets of research/wechat-capture.md
 * §2.3: V1 Tencent's worked example (pad 19, OA AppID), V2 Tencent's
 * WeCom sample (encrypted echostr, pad 30), V3 wechatpy (pad 1 and a
 * deterministic encryption), V4 WxJava/Tencent Java (deterministic
 * encryptions, UTF-8).  Each set decrypts, verifies and re-encrypts
 * exactly; plus the negative cases: a changed nonce, a wrong receive id,
 * broken padding and base64.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "archiver/sources/wechat_crypto.h"
#include "common/status.h"
#include "tests/unit/tap.h"

static struct cl_wx_crypto *mk(const char *token, const char *key, const char *rid)
{
	struct cl_wx_crypto *c = NULL;
	char *err = NULL;

	if (cl_wx_crypto_new((const unsigned char *)token, strlen(token), key, rid, &c,
			     &err) != CL_OK) {
		printf("# crypto_new: %s\n", err ? err : "?");
		free(err);
		return NULL;
	}
	return c;
}

/* Decrypt `enc`: 1 if it gives exactly `want` (want_len bytes). */
static int decrypts_to(const struct cl_wx_crypto *c, const char *enc,
		       const char *want, size_t want_len)
{
	unsigned char *m = NULL;
	size_t n = 0;
	const char *why = NULL;
	int ok;

	if (cl_wx_decrypt(c, enc, strlen(enc), &m, &n, &why) != CL_OK) {
		printf("# decrypt failed: %s\n", why ? why : "?");
		return 0;
	}
	ok = n == want_len && memcmp(m, want, n) == 0;
	if (!ok)
		printf("# got %zu bytes: %.*s\n", n, (int)n, m);
	free(m);
	return ok;
}

static int encrypts_to(const struct cl_wx_crypto *c, const char *random16,
		       const char *msg, const char *want)
{
	char *out = NULL;
	int ok;

	if (cl_wx_encrypt(c, (const unsigned char *)random16, (const unsigned char *)msg,
			  strlen(msg), &out) != CL_OK)
		return 0;
	ok = strcmp(out, want) == 0;
	if (!ok)
		printf("# got %s\n", out);
	free(out);
	return ok;
}

static int sig_is(const struct cl_wx_crypto *c, const char *ts, const char *nonce,
		  const char *enc, const char *want)
{
	const char *parts[3] = { ts, nonce, enc };
	char got[CL_WX_SIG_HEX + 1];

	cl_wx_signature(c, parts, enc ? 3 : 2, got);
	return strcmp(got, want) == 0 && cl_wx_verify(c, want, ts, nonce, enc);
}

/* ---- V1: Tencent's worked example ------------------------------------ */

static const char V1_ENC[] =
	"+qdx1OKCy+5JPCBFWw70tm0fJGb2Jmeia4FCB7kao+/Q5c/ohsOzQHi8khUOb05JCpj0JB4RvQMkUyus8TPxLKJGQqcvZqzDpVzazhZv6JsXUnnR8XGT740XgXZUXQ7vJVnAG+tE8NUd4yFyjPy7GgiaviNrlCTj+l5kdfMuFUPpRSrfMZuMcp3Fn2Pede2IuQrKEYwKSqFIZoNqJ4M8EajAsjLY2km32IIjdf8YL/P50F7mStwntrA2cPDrM1kb6mOcfBgRtWygb3VIYnSeOBrebufAlr7F9mFUPAJGj04=";
static const char V1_MSG[] =
	"{\"ToUserName\":\"gh_97417a04a28d\",\"FromUserName\":\"o9AgO5Kd5ggOC-bXrbNODIiE3bGY\","
	"\"CreateTime\":1714112445,\"MsgType\":\"event\",\"Event\":\"debug_demo\","
	"\"debug_str\":\"hello world\"}";
static const char V1_REPLY_ENC[] =
	"ELGduP2YcVatjqIS+eZbp80MNLoAUWvzzyJxgGzxZO/5sAvd070Bs6qrLARC9nVHm48Y4hyRbtzve1L32tmxSQ==";

static void v1(void)
{
	struct cl_wx_crypto *c = mk("AAAAA", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
				    "wxba5fad812f8e6fb9");
	TAP_OK(c != NULL, "V1: context");
	if (c == NULL)
		return;
	TAP_OK(sig_is(c, "1714036504", "1514711492", NULL,
		      "f464b24fc39322e44b38aa78f5edd27bd1441696"), "V1: URL verification signature");
	TAP_OK(sig_is(c, "1714037059", "486452656", NULL,
		      "899cf89e464efb63f54ddac96b0a0a235f53aa78"), "V1: plaintext POST signature");
	TAP_OK(sig_is(c, "1714112445", "415670741", NULL,
		      "6c5c811b55cc85e0e1b54100749188c20beb3f5d"), "V1: safe-mode POST signature");
	TAP_OK(sig_is(c, "1714112445", "415670741", V1_ENC,
		      "046e02f8204d34f8ba5fa3b1db94908f3df2e9b3"), "V1: msg_signature over Encrypt");
	TAP_OK(cl_wx_verify(c, "046E02F8204D34F8BA5FA3B1DB94908F3DF2E9B3", "1714112445",
			    "415670741", V1_ENC), "V1: upper-case hex signature accepted");
	TAP_OK(decrypts_to(c, V1_ENC, V1_MSG, strlen(V1_MSG)), "V1: decrypts (pad 19)");
	/* Tencent's samples use 16 ASCII characters as the random part. */
	TAP_OK(encrypts_to(c, "a8eedb185eb2fecf", V1_MSG, V1_ENC), "V1: re-encrypts exactly");
	TAP_OK(encrypts_to(c, "707722b803182950", "{\"demo_resp\":\"good luck\"}",
			   V1_REPLY_ENC), "V1: reply encrypts exactly");
	TAP_OK(sig_is(c, "1713424427", "415670741", V1_REPLY_ENC,
		      "1b9339964ed2e271e7c7b6ff2b0ef902fc94dea1"), "V1: reply MsgSignature");
	TAP_OK(!cl_wx_verify(c, "046e02f8204d34f8ba5fa3b1db94908f3df2e9b3", "1714112445",
			     "415670742", V1_ENC), "V1: another nonce fails");
	cl_wx_crypto_free(c);
}

/* ---- V2: Tencent's WeCom sample -------------------------------------- */

static const char V2_ECHO[] =
	"P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ==";
static const char V2_ENC[] =
	"RypEvHKD8QQKFhvQ6QleEB4J58tiPdvo+rtK1I9qca6aM/wvqnLSV5zEPeusUiX5L5X/0lWfrf0QADHHhGd3QczcdCUpj911L3vg3W/sYYvuJTs3TUUkSUXxaccAS0qhxchrRYt66wiSpGLYL42aM6A8dTT+6k4aSknmPj48kzJs8qLjvd4Xgpue06DOdnLxAUHzM6+kDZ+HMZfJYuR+LtwGc2hgf5gsijff0ekUNXZiqATP7PF5mZxZ3Izoun1s4zG4LUMnvw2r+KqCKIw+3IQH03v+BCA9nMELNqbSf6tiWSrXJB3LAVGUcallcrw8V2t9EL4EhzJWrQUax5wLVMNS0+rUPA3k22Ncx4XXZS9o0MBH27Bo6BpNelZpS+/uh9KsNlY6bHCmJU9p8g7m3fVKn28H3KDYA5Pl/T8Z1ptDAVe0lXdQ2YoyyH2uyPIGHBZZIs2pDBS8R07+qN+E7Q==";
static const char V2_MSG[] =
	"<xml><ToUserName><![CDATA[wx5823bf96d3bd56c7]]></ToUserName>\n"
	"<FromUserName><![CDATA[mycreate]]></FromUserName>\n"
	"<CreateTime>1409659813</CreateTime>\n"
	"<MsgType><![CDATA[text]]></MsgType>\n"
	"<Content><![CDATA[hello]]></Content>\n"
	"<MsgId>4561255354251345929</MsgId>\n"
	"<AgentID>218</AgentID>\n"
	"</xml>";

static void v2(void)
{
	struct cl_wx_crypto *c = mk("QDG6eK", "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C",
				    "wx5823bf96d3bd56c7");
	struct cl_wx_crypto *other = mk("QDG6eK", "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C",
					"wx5823bf96d3bd56c8");
	unsigned char *m = NULL;
	size_t n = 0;
	const char *why = NULL;

	TAP_OK(c != NULL && other != NULL, "V2: contexts");
	if (c == NULL || other == NULL)
		goto out;
	TAP_OK(sig_is(c, "1409659589", "263014780", V2_ECHO,
		      "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3"), "V2: echostr signature");
	TAP_OK(decrypts_to(c, V2_ECHO, "1616140317555161061", 19), "V2: echostr decrypts (pad 7)");
	TAP_OK(sig_is(c, "1409659813", "1372623149", V2_ENC,
		      "477715d11cdb4164915debcba66cb864d751f3e6"), "V2: POST msg_signature");
	TAP_OK(decrypts_to(c, V2_ENC, V2_MSG, strlen(V2_MSG)), "V2: POST decrypts (pad 30)");
	TAP_OK(encrypts_to(c, "c41b64491c2468d0", "1616140317555161061", V2_ECHO),
	       "V2: echostr re-encrypts exactly");
	TAP_OK(encrypts_to(c, "0960688932c47ef1", V2_MSG, V2_ENC), "V2: POST re-encrypts exactly");
	TAP_EQ_INT(cl_wx_decrypt(other, V2_ENC, strlen(V2_ENC), &m, &n, &why), CL_EBADSIG,
		   "V2: another corpid is a receive id mismatch");
	TAP_OK(why && strcmp(why, "receive id mismatch") == 0, "V2: ... with that reason");
	TAP_OK(m == NULL, "V2: ... and no message");
out:
	cl_wx_crypto_free(c);
	cl_wx_crypto_free(other);
}

/* ---- V3: wechatpy ------------------------------------------------------- */

static const char V3_ECHO[] =
	"4ByGGj+sVCYcvGeQYhaKIk1o0pQRNbRjxybjTGblXrBaXlTXeOo1+bXFXDQQb1o6co6Yh9Bv41n7hOchLF6p+Q==";
static const char V3_ENC[] =
	"RgqEoJj5A4EMYlLvWO1F86ioRjZfaex/gePD0gOXTxpsq5Yj4GNglrBb8I2BAJVODGajiFnXBu7mCPatfjsu6IHCrsTyeDXzF6Bv283dGymzxh6ydJRvZsryDyZbLTE7rhnus50qGPMfp2wASFlzEgMW9z1ef/RD8XzaFYgm7iTdaXpXaG4+BiYyolBug/gYNx410cvkKR2/nPwBiT+P4hIiOAQqGp/TywZBtDh1yCF2KOd0gpiMZ5jSw3e29mTvmUHzkVQiMS6td7vXUaWOMZnYZlF3So2SjHnwh4jYFxdgpkHHqIrH/54SNdshoQgWYEvccTKe7FS709/5t6NMxuGhcUGAPOQipvWTT4dShyqio7mlsl5noTrb++x6En749zCpQVhDpbV6GDnTbcX2e8K9QaNWHp91eBdCRxthuL0=";
static const char V3_PLAIN[] =
	"<xml>\n"
	"<MsgType><![CDATA[text]]></MsgType>\n"
	"<Content><![CDATA[test]]></Content>\n"
	"<FromUserName><![CDATA[wx49f0ab532d5d035a]]></FromUserName>\n"
	"<ToUserName><![CDATA[messense]]></ToUserName>\n"
	"<AgentID>1</AgentID>\n"
	"<CreateTime>1411525903</CreateTime>\n"
	"</xml>";
static const char V3_OUT[] =
	"9s4gMv99m88kKTh/H8IdkOiMg6bisoy3ypwy9H4hvSPe9nsGaqyw5hhSjdYbcrKk+j3nba4HMOTzHrluLBYqxgNcBqGsL8GqxlhZgURnAtObvesEl5nZ+uBE8bviY0LWke8Zy9V/QYKxNV2FqllNXcfmstttyIkMKCCmVbCFM2JTF5wY0nFhHZSjPUL2Q1qvSUCUld+/WIXrx0oyKQmpB6o8NRrrNrsDf03oxI1p9FxUgMnwKKZeOA/uu+2IEvEBtb7muXsVbwbgX05UPPJvFurDXafG0RQyPR+mf1nDnAtQmmNOuiR5MIkdQ39xn1vWwi1O5oazPoQJz0nTYjxxEE8kv3kFxtAGVRe3ypD3WeK2XeFYFMNMpatF9XiKzHo3";

static void v3(void)
{
	struct cl_wx_crypto *c = mk("123456", "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR",
				    "wx49f0ab532d5d035a");
	unsigned char *m = NULL;
	size_t n = 0;
	const char *why = NULL;

	TAP_OK(c != NULL, "V3: context");
	if (c == NULL)
		return;
	TAP_OK(sig_is(c, "1411443780", "437374425", V3_ECHO,
		      "dd6b9c95b495b3f7e2901bfbc76c664930ffdb96"), "V3: echo signature");
	TAP_OK(!cl_wx_verify(c, "dd6b9c95b495b3f7e2901bfbc76c664930ffdb96", "1411443780",
			     "437374424", V3_ECHO), "V3: nonce 437374424 fails");
	TAP_OK(decrypts_to(c, V3_ECHO, "5927782489442352469", 19), "V3: echo decrypts");
	TAP_OK(sig_is(c, "1411525903", "461056294", V3_ENC,
		      "74d92dfeb87ba7c714f89d98870ae5eb62dff26d"), "V3: message signature");
	TAP_EQ_INT(cl_wx_decrypt(c, V3_ENC, strlen(V3_ENC), &m, &n, &why), CL_OK,
		   "V3: message decrypts (pad 1)");
	TAP_EQ_INT(n, 281, "V3: msg_len 281");
	TAP_OK(m && strstr((char *)m, "<Content><![CDATA[test]]></Content>") != NULL &&
	       strstr((char *)m, "4363689963896700987") != NULL, "V3: the text from messense");
	free(m);
	TAP_OK(encrypts_to(c, "1234567890123456", V3_PLAIN, V3_OUT), "V3: encrypts exactly");
	TAP_OK(sig_is(c, "1411525903", "461056294", V3_OUT,
		      "407518b7649e86ef23978113f92d27afa9296533"), "V3: reply MsgSignature");
	TAP_OK(decrypts_to(c, V3_OUT, V3_PLAIN, strlen(V3_PLAIN)), "V3: round trip");
	cl_wx_crypto_free(c);
}

/* ---- V4: WxJava / Tencent's Java sample -------------------------------- */

static const char V4_ENC1[] =
	"jn1L23DB+6ELqJ+6bruv21Y6MD7KeIfP82D6gU39rmkgczbWwt5+3bnyg5K55bgVtVzd832WzZGMhkP72vVOfg==";
static const char V4_MSG2[] =
	"<xml><ToUserName><![CDATA[oia2Tj\xe6\x88\x91\xe6\x98\xaf\xe4\xb8\xad\xe6\x96\x87"
	"jewbmiOUlr6X-1crbLOvLw]]></ToUserName><FromUserName><![CDATA[gh_7f083739789a]]>"
	"</FromUserName><CreateTime>1407743423</CreateTime><MsgType><![CDATA[video]]>"
	"</MsgType><Video><MediaId><![CDATA[eYJ1MbwPRJtOvIEabaxHs7TX2D-HV71s79GUxqdUkjm6Gs2Ed1KF3ulAOA9H1xG0]]>"
	"</MediaId><Title><![CDATA[testCallBackReplyVideo]]></Title><Description>"
	"<![CDATA[testCallBackReplyVideo]]></Description></Video></xml>";
static const char V4_ENC2[] =
	"jn1L23DB+6ELqJ+6bruv23M2GmYfkv0xBh2h+XTBOKVKcgDFHle6gqcZ1cZrk3e1qjPQ1F4RsLWzQRG9udbKWesxlkupqcEcW7ZQweImX9+wLMa0GaUzpkycA8+IamDBxn5loLgZpnS7fVAbExOkK5DYHBmv5tptA9tklE/fTIILHR8HLXa5nQvFb3tYPKAlHF3rtTeayNf0QuM+UW/wM9enGIDIJHF7CLHiDNAYxr+r+OrJCmPQyTy8cVWlu9iSvOHPT/77bZqJucQHQ04sq7KZI27OcqpQNSto2OdHCoTccjggX5Z9Mma0nMJBU+jLKJ38YB1fBIz+vBzsYjrTmFQ44YfeEuZ+xRTQwr92vhA9OxchWVINGC50qE/6lmkwWTwGX9wtQpsJKhP+oS7rvTY8+VdzETdfakjkwQ5/Xka042OlUb1/slTwo4RscuQ+RdxSGvDahxAJ6+EAjLt9d8igHngxIbf6YyqqROxuxqIeIch3CssH/LqRs+iAcILvApYZckqmA7FNERspKA5f8GoJ9sv8xmGvZ9Yrf57cExWtnX8aCMMaBropU/1k+hKP5LVdzbWCG0hGwx/dQudYR/eXp3P0XxjlFiy+9DMlaFExWUZQDajPkdPrEeOwofJb";

static void v4(void)
{
	struct cl_wx_crypto *c = mk("pamtest", "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
				    "wxb11529c136998cb6");
	const char *msg1 = "\xe6\x88\x91\xe6\x98\xaf\xe4\xb8\xad\xe6\x96\x87" "abcd123";

	TAP_OK(c != NULL, "V4: context");
	if (c == NULL)
		return;
	TAP_EQ_INT(strlen(msg1), 19, "V4: message 1 is 19 UTF-8 bytes");
	TAP_OK(encrypts_to(c, "aaaabbbbccccdddd", msg1, V4_ENC1), "V4: vector 1 encrypts exactly");
	TAP_OK(decrypts_to(c, V4_ENC1, msg1, strlen(msg1)), "V4: vector 1 decrypts (pad 7)");
	TAP_OK(sig_is(c, "1409304348", "xxxxxx", V4_ENC1,
		      "82c962d39941aa48552f90ef55aa323dc620cc10"), "V4: vector 1 msg_signature");
	TAP_EQ_INT(strlen(V4_ENC2), 640, "V4: vector 2 is 640 characters");
	TAP_OK(encrypts_to(c, "aaaabbbbccccdddd", V4_MSG2, V4_ENC2), "V4: vector 2 encrypts exactly");
	TAP_OK(decrypts_to(c, V4_ENC2, V4_MSG2, strlen(V4_MSG2)), "V4: vector 2 decrypts");
	cl_wx_crypto_free(c);
}

/* ---- negative cases ------------------------------------------------------ */

static void negative(void)
{
	struct cl_wx_crypto *c = mk("pamtest", "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
				    "wxb11529c136998cb6");
	struct cl_wx_crypto *bad = NULL;
	char *err = NULL, *enc = NULL;
	unsigned char *m = NULL;
	size_t n = 0;
	const char *why = NULL;
	char buf[128];
	int pads[] = { 1, 19, 32 }, i;

	TAP_EQ_INT(cl_wx_crypto_new((const unsigned char *)"t", 1, "short", "x", &bad, &err),
		   CL_EINVAL, "a short EncodingAESKey is refused");
	TAP_OK(err && strstr(err, "short") == NULL, "... without quoting it");
	free(err);
	err = NULL;
	TAP_EQ_INT(cl_wx_crypto_new((const unsigned char *)"t", 1,
				    "abcdefghijklmnopqrstuvwxyz0123456789ABCDEF!", "x", &bad, &err),
		   CL_EINVAL, "a non-alphanumeric EncodingAESKey is refused");
	free(err);
	if (c == NULL)
		return;
	TAP_EQ_INT(cl_wx_decrypt(c, "not base64!", 11, &m, &n, &why), CL_EINVAL, "bad base64");
	TAP_EQ_INT(cl_wx_decrypt(c, "QUJD", 4, &m, &n, &why), CL_EINVAL, "too short");
	memcpy(buf, V4_ENC1, sizeof(V4_ENC1));
	buf[40] = buf[40] == 'A' ? 'B' : 'A';   /* corrupt the second block */
	TAP_OK(cl_wx_decrypt(c, buf, strlen(buf), &m, &n, &why) != CL_OK && m == NULL,
	       "a corrupted ciphertext is refused (%s)", why ? why : "?");
	/* Padding 1, 19 and 32: message lengths chosen so that
	 * 20 + len + 18 (receive id) leaves that pad. */
	for (i = 0; i < 3; i++) {
		size_t len = (size_t)(64 * 2 - 38 - pads[i]);
		char msg[128];

		memset(msg, 'a' + i, len);
		msg[len] = 0;
		TAP_OK(cl_wx_encrypt(c, NULL, (unsigned char *)msg, len, &enc) == CL_OK &&
		       decrypts_to(c, enc, msg, len), "pad %d round trip", pads[i]);
		free(enc);
		enc = NULL;
	}
	cl_wx_crypto_free(c);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	v1();
	v2();
	v3();
	v4();
	negative();
	return tap_done();
}
