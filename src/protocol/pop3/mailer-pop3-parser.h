/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * A POP3 reply parser with no I/O: bytes go in as they arrive, events come
 * out.  It knows, from the replies the client said it expects, which
 * replies are multi-line, so pipelined replies are told apart; it removes
 * dot-stuffing, bounds every line, and hands a message out line by line so
 * nothing is buffered beyond one line.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define MAILER_POP3_ERROR (mailer_pop3_error_quark ())

/**
 * MailerPop3Error:
 * @MAILER_POP3_ERROR_PROTOCOL: the server said something that is not POP3
 * @MAILER_POP3_ERROR_LINE_TOO_LONG: a line exceeded the limit
 * @MAILER_POP3_ERROR_FAILED: a command was refused (-ERR)
 * @MAILER_POP3_ERROR_AUTH_FAILED: the server rejected the user name or
 *   password; asking the user again may help
 * @MAILER_POP3_ERROR_IN_USE: another client has the mailbox open ([IN-USE])
 * @MAILER_POP3_ERROR_LOGIN_DELAY: logged in too soon after the last time
 *   ([LOGIN-DELAY])
 * @MAILER_POP3_ERROR_TEMPORARY: the server has a temporary problem
 *   ([SYS/TEMP]); try later
 * @MAILER_POP3_ERROR_PERMANENT: the server has a lasting problem
 *   ([SYS/PERM])
 * @MAILER_POP3_ERROR_NO_STARTTLS: the account asks for STARTTLS and the
 *   server does not offer STLS: we do not fall back to plain text
 * @MAILER_POP3_ERROR_NO_AUTH_METHOD: no way to log in that we may use
 */
typedef enum
{
  MAILER_POP3_ERROR_PROTOCOL,
  MAILER_POP3_ERROR_LINE_TOO_LONG,
  MAILER_POP3_ERROR_FAILED,
  MAILER_POP3_ERROR_AUTH_FAILED,
  MAILER_POP3_ERROR_IN_USE,
  MAILER_POP3_ERROR_LOGIN_DELAY,
  MAILER_POP3_ERROR_TEMPORARY,
  MAILER_POP3_ERROR_PERMANENT,
  MAILER_POP3_ERROR_NO_STARTTLS,
  MAILER_POP3_ERROR_NO_AUTH_METHOD,
} MailerPop3Error;

GQuark mailer_pop3_error_quark (void);

typedef enum
{
  /* The status line of a reply: ok, text and code are set. */
  MAILER_POP3_EVENT_STATUS,
  /* A SASL challenge ("+ base64"): text is the challenge. */
  MAILER_POP3_EVENT_CONTINUE,
  /* One line of a multi-line reply, dot-stuffing removed, without its
   * line ending: data/len. */
  MAILER_POP3_EVENT_LINE,
  /* The end of a multi-line reply. */
  MAILER_POP3_EVENT_END,
} MailerPop3EventType;

/* Pointers are valid until the next call into the parser. */
typedef struct
{
  MailerPop3EventType type;
  gboolean ok;           /* STATUS: +OK rather than -ERR */
  const char *code;      /* STATUS: the response code without brackets ("IN-USE"), or NULL */
  const char *text;      /* STATUS, CONTINUE: the rest of the line, valid UTF-8 */
  const char *data;      /* LINE: the bytes of the line (may hold NULs) */
  gsize len;             /* LINE: their number */
} MailerPop3Event;

typedef struct _MailerPop3Parser MailerPop3Parser;

/* Status lines are limited to this many bytes (RFC 1939 says 512). */
#define MAILER_POP3_MAX_STATUS_LINE 4096
/* Default limit for a line of message data. */
#define MAILER_POP3_DEFAULT_MAX_LINE (1024 * 1024)

MailerPop3Parser *mailer_pop3_parser_new          (gsize              max_line_length);
void              mailer_pop3_parser_free         (MailerPop3Parser  *parser);
void              mailer_pop3_parser_expect       (MailerPop3Parser  *parser,
                                                   gboolean           multiline);
guint             mailer_pop3_parser_get_expected (MailerPop3Parser  *parser);
void              mailer_pop3_parser_feed         (MailerPop3Parser  *parser,
                                                   const void        *data,
                                                   gsize              len);
gboolean          mailer_pop3_parser_next         (MailerPop3Parser  *parser,
                                                   MailerPop3Event   *event,
                                                   GError           **error);
gsize             mailer_pop3_parser_get_buffered (MailerPop3Parser  *parser);

/* Maps a -ERR status to the error the user should see. */
void              mailer_pop3_set_error_from_status (GError          **error,
                                                     const MailerPop3Event *status,
                                                     const char       *what);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MailerPop3Parser, mailer_pop3_parser_free)

G_END_DECLS
