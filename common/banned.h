/*
 * banned.h - functions we never call.  Included last by every .c file of
 * the project (via common/cl.h) so that a use becomes a compile error.
 */
#ifndef CL_BANNED_H
#define CL_BANNED_H

#define CL_BANNED(func) sorry_##func##_is_banned_in_chatledger

#undef strcpy
#define strcpy(x, y) CL_BANNED(strcpy)
#undef strcat
#define strcat(x, y) CL_BANNED(strcat)
#undef sprintf
#define sprintf(...) CL_BANNED(sprintf)
#undef vsprintf
#define vsprintf(...) CL_BANNED(vsprintf)
#undef strtok
#define strtok(x, y) CL_BANNED(strtok)
#undef gmtime
#define gmtime(x) CL_BANNED(gmtime)
#undef localtime
#define localtime(x) CL_BANNED(localtime)
#undef atoi
#define atoi(x) CL_BANNED(atoi)
#undef gets
#define gets(x) CL_BANNED(gets)

#endif
