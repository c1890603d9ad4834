/*
 * ident.h - party identifiers: one canonical spelling for each way a
 * source or an officer names a person or an organisation.
 *
 * A canonical identifier is "TYPE:VALUE".  The types:
 *
 *   tel             E.164 phone number, "+" and 7-15 digits
 *   wa-lid          WhatsApp LID (the digits before "@lid")
 *   wa-group        WhatsApp group JID (before "@g.us")
 *   wecom-external  WeCom external_userid
 *   wecom-user      WeCom staff userid
 *   wechat-openid   WeChat openid (per Official Account / app)
 *   wechat-unionid  WeChat unionid (per developer platform account)
 *   wechat-kf       微信客服 account (open_kfid)
 *   wechat-id       WeChat id as the user typed it
 *   name            a display name as a source showed it
 *   any             an identifier of unknown type, as received
 *
 * Sources know the type of what they receive; an officer typing a
 * selector often does not.  cl_ident_canon() gives the one canonical form
 * of something a source received; cl_ident_candidates() gives every form
 * an officer's untyped text may stand for (so "Chan Tai Man" matches a
 * display name, an unknown-type id and a WeCom id spelled that way).
 *
 * Phone numbers: any mix of digits, spaces, "+", "-", ".", "(" and ")"
 * with 7-15 digits is a phone number; with a leading "+" or "00", or 9 or
 * more digits, the digits are the full international number; exactly 8
 * digits without a prefix are a Hong Kong local number (+852), because the
 * appliance serves Hong Kong businesses.  WhatsApp JIDs "N@s.whatsapp.net",
 * "N:D@s.whatsapp.net" and "N@c.us" are the phone number N.
 */
#ifndef CL_PARTIES_IDENT_H
#define CL_PARTIES_IDENT_H

#include <stddef.h>

#define CL_IDENT_MAX 600u        /* bytes of a canonical identifier + NUL */
#define CL_IDENT_CANDIDATES 12u  /* most forms one untyped text can take */

/*
 * The canonical form of `raw` as received from a source (`type_hint` NULL
 * = unknown: phone numbers and JIDs are recognised, anything else becomes
 * "any:RAW").  A "TYPE:VALUE" string with a known TYPE is taken as typed.
 * CL_EINVAL if raw is empty or the result would not fit.
 */
int cl_ident_canon(const char *raw, const char *type_hint, char out[CL_IDENT_MAX]);

/*
 * Every canonical form an officer's selector may stand for: one form for
 * a typed identifier, a phone number or a JID; for other text the "any",
 * "name" and each typed reading.  *n gets the count (>= 1 on CL_OK).
 */
int cl_ident_candidates(const char *sel, char out[CL_IDENT_CANDIDATES][CL_IDENT_MAX],
			size_t *n);

/* 1 if `type` is one of the types above. */
int cl_ident_type_known(const char *type, size_t len);

#endif
