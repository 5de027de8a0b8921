/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The POP3 reply parser (RFC 1939, RFC 2449 response codes, RFC 5034
 * continuations).  No I/O: see mailer-pop3-parser.h.
 */
#include "config.h"

#include <string.h>

#include "mailer-pop3-parser.h"

G_DEFINE_QUARK (mailer-pop3-error-quark, mailer_pop3_error)

struct _MailerPop3Parser
{
  GByteArray *buffer;
  gsize offset;          /* start of the unparsed bytes in buffer */
  gsize max_line;
  GQueue expected;       /* GINT_TO_POINTER (multiline) per reply still due */
  gboolean in_body;      /* between a multi-line +OK and its "." */
  char *text;            /* of the last STATUS or CONTINUE */
  char *code;
  GError *failure;       /* once set, every call fails with it */
};

MailerPop3Parser *
mailer_pop3_parser_new (gsize max_line_length)
{
  MailerPop3Parser *parser = g_new0 (MailerPop3Parser, 1);

  parser->buffer = g_byte_array_new ();
  parser->max_line = max_line_length ? max_line_length : MAILER_POP3_DEFAULT_MAX_LINE;
  g_queue_init (&parser->expected);
  return parser;
}

void
mailer_pop3_parser_free (MailerPop3Parser *parser)
{
  if (parser == NULL)
    return;
  g_byte_array_unref (parser->buffer);
  g_queue_clear (&parser->expected);
  g_free (parser->text);
  g_free (parser->code);
  g_clear_error (&parser->failure);
  g_free (parser);
}

/**
 * mailer_pop3_parser_expect:
 * @multiline: whether a +OK reply to this command carries lines ending
 *   with "." (LIST and UIDL without argument, RETR, TOP, CAPA)
 *
 * Tells the parser one more reply is due, in the order commands were sent.
 * The greeting is a reply too.
 */
void
mailer_pop3_parser_expect (MailerPop3Parser *parser,
                           gboolean          multiline)
{
  g_queue_push_tail (&parser->expected, GINT_TO_POINTER (multiline ? 2 : 1));
}

guint
mailer_pop3_parser_get_expected (MailerPop3Parser *parser)
{
  return g_queue_get_length (&parser->expected);
}

void
mailer_pop3_parser_feed (MailerPop3Parser *parser,
                         const void       *data,
                         gsize             len)
{
  /* Drop what was parsed before growing. */
  if (parser->offset > 0 && (parser->offset >= parser->buffer->len || parser->offset > 65536))
    {
      g_byte_array_remove_range (parser->buffer, 0, parser->offset);
      parser->offset = 0;
    }
  g_byte_array_append (parser->buffer, data, len);
}

gsize
mailer_pop3_parser_get_buffered (MailerPop3Parser *parser)
{
  return parser->buffer->len - parser->offset;
}

static gboolean
fail (MailerPop3Parser  *parser,
      GError           **error,
      MailerPop3Error    code,
      const char        *message)
{
  parser->failure = g_error_new_literal (MAILER_POP3_ERROR, code, message);
  g_propagate_error (error, g_error_copy (parser->failure));
  return FALSE;
}

/* Splits "[CODE] text" off a status line's text. */
static void
parse_status_text (MailerPop3Parser *parser,
                   const char       *start,
                   gsize             len)
{
  g_autofree char *raw = NULL;
  const char *text;

  g_clear_pointer (&parser->text, g_free);
  g_clear_pointer (&parser->code, g_free);

  while (len > 0 && *start == ' ')
    start++, len--;

  if (len > 1 && start[0] == '[')
    {
      const char *end = memchr (start, ']', MIN (len, 64));

      if (end != NULL)
        {
          g_autofree char *code = g_strndup (start + 1, end - start - 1);

          parser->code = g_utf8_make_valid (code, -1);
          len -= end + 1 - start;
          start = end + 1;
          while (len > 0 && *start == ' ')
            start++, len--;
        }
    }

  /* NULs and invalid UTF-8 from a hostile server end up in error messages
   * the user reads: make them harmless. */
  raw = g_strndup (start, len);
  text = raw;
  parser->text = g_utf8_make_valid (text, -1);
  for (char *p = parser->text; *p != '\0'; p++)
    if ((guchar) *p < 0x20 || *p == 0x7f)
      *p = ' ';
}

/**
 * mailer_pop3_parser_next:
 *
 * Returns: %TRUE with @event filled, or %FALSE: more input is needed (no
 *   @error), or the input is not POP3 (@error set, and the parser stays
 *   failed).
 */
gboolean
mailer_pop3_parser_next (MailerPop3Parser  *parser,
                         MailerPop3Event   *event,
                         GError           **error)
{
  const char *start, *newline;
  gsize available, limit, len;

  if (parser->failure != NULL)
    {
      g_propagate_error (error, g_error_copy (parser->failure));
      return FALSE;
    }

  start = (const char *) parser->buffer->data + parser->offset;
  available = parser->buffer->len - parser->offset;
  limit = parser->in_body ? parser->max_line : MAILER_POP3_MAX_STATUS_LINE;
  /* An empty buffer may have no data at all: memchr () must not see it. */
  newline = available > 0 ? memchr (start, '\n', MIN (available, limit + 2)) : NULL;

  if (newline == NULL)
    {
      if (available > limit + 1)
        return fail (parser, error, MAILER_POP3_ERROR_LINE_TOO_LONG,
                     parser->in_body ? "The server sent a message line longer than allowed"
                                     : "The server sent a reply line longer than allowed");
      if (available > 0 && g_queue_is_empty (&parser->expected) && !parser->in_body)
        return fail (parser, error, MAILER_POP3_ERROR_PROTOCOL,
                     "The server sent a reply nobody asked for");
      return FALSE;
    }

  len = newline - start;
  parser->offset += len + 1;
  if (len > 0 && start[len - 1] == '\r')
    len--;

  memset (event, 0, sizeof *event);

  if (parser->in_body)
    {
      if (len == 1 && start[0] == '.')
        {
          parser->in_body = FALSE;
          g_queue_pop_head (&parser->expected);
          event->type = MAILER_POP3_EVENT_END;
          return TRUE;
        }
      /* Dot-stuffing (RFC 1939 section 3). */
      if (len > 0 && start[0] == '.')
        start++, len--;
      event->type = MAILER_POP3_EVENT_LINE;
      event->data = start;
      event->len = len;
      return TRUE;
    }

  if (g_queue_is_empty (&parser->expected))
    return fail (parser, error, MAILER_POP3_ERROR_PROTOCOL, "The server sent a reply nobody asked for");

  if (len >= 3 && g_ascii_strncasecmp (start, "+OK", 3) == 0 && (len == 3 || start[3] == ' '))
    {
      parse_status_text (parser, start + 3, len - 3);
      event->type = MAILER_POP3_EVENT_STATUS;
      event->ok = TRUE;
      if (GPOINTER_TO_INT (g_queue_peek_head (&parser->expected)) == 2)
        parser->in_body = TRUE;
      else
        g_queue_pop_head (&parser->expected);
    }
  else if (len >= 4 && g_ascii_strncasecmp (start, "-ERR", 4) == 0 && (len == 4 || start[4] == ' '))
    {
      parse_status_text (parser, start + 4, len - 4);
      event->type = MAILER_POP3_EVENT_STATUS;
      event->ok = FALSE;
      /* No lines follow an error, even for a multi-line command. */
      g_queue_pop_head (&parser->expected);
    }
  else if (len >= 1 && start[0] == '+' && (len == 1 || start[1] == ' '))
    {
      parse_status_text (parser, start + 1, len - 1);
      event->type = MAILER_POP3_EVENT_CONTINUE;
    }
  else
    return fail (parser, error, MAILER_POP3_ERROR_PROTOCOL,
                 "The server does not speak POP3 (a reply did not start with +OK or -ERR)");

  event->text = parser->text;
  event->code = parser->code;
  return TRUE;
}

/**
 * mailer_pop3_set_error_from_status:
 * @status: a -ERR status event
 * @what: what was being done, as the start of a sentence ("Logging in")
 *
 * Sets @error from the server's refusal: response codes (RFC 2449, 3206)
 * become errors the user can act on.
 */
void
mailer_pop3_set_error_from_status (GError                **error,
                                   const MailerPop3Event  *status,
                                   const char             *what)
{
  const char *code = status->code;
  const char *text = status->text && status->text[0] ? status->text : "no reason given";

  if (g_strcmp0 (code, "IN-USE") == 0)
    g_set_error (error, MAILER_POP3_ERROR, MAILER_POP3_ERROR_IN_USE,
                 "%s: the mailbox is in use by another mail program; close it or try again later (%s)",
                 what, text);
  else if (g_strcmp0 (code, "LOGIN-DELAY") == 0)
    g_set_error (error, MAILER_POP3_ERROR, MAILER_POP3_ERROR_LOGIN_DELAY,
                 "%s: the server allows checking mail only every so often; try again later (%s)",
                 what, text);
  else if (g_strcmp0 (code, "SYS/TEMP") == 0)
    g_set_error (error, MAILER_POP3_ERROR, MAILER_POP3_ERROR_TEMPORARY,
                 "%s: the server has a temporary problem; try again later (%s)", what, text);
  else if (g_strcmp0 (code, "SYS/PERM") == 0)
    g_set_error (error, MAILER_POP3_ERROR, MAILER_POP3_ERROR_PERMANENT,
                 "%s: the server has a problem that will not go away by itself (%s)", what, text);
  else if (g_strcmp0 (code, "AUTH") == 0)
    g_set_error (error, MAILER_POP3_ERROR, MAILER_POP3_ERROR_AUTH_FAILED,
                 "%s: the server rejected the user name or password (%s)", what, text);
  else
    g_set_error (error, MAILER_POP3_ERROR, MAILER_POP3_ERROR_FAILED,
                 "%s: the server refused (%s)", what, text);
}
