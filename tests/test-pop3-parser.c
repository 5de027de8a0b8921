/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The POP3 reply parser on its own: pipelined replies told apart, dot-
 * stuffing removed, lines bounded, response codes, continuations, input
 * split at every byte, and hostile input failing cleanly.
 */
#include "config.h"

#include <string.h>

#include "mailer-pop3-parser.h"

/* Runs @input through a parser expecting @expect ("s" single, "m"
 * multi-line per reply), fed in pieces of @chunk bytes; returns the events
 * as text, one per line: "+OK[code] text", "-ERR...", "+ text", "L:data",
 * "." for END, and "!error message" on failure. */
static char *
run (const char *expect,
     const char *input,
     gsize       input_len,
     gsize       chunk,
     gsize       max_line)
{
  g_autoptr(MailerPop3Parser) parser = mailer_pop3_parser_new (max_line);
  g_autoptr(GString) out = g_string_new (NULL);
  gsize fed = 0;

  for (const char *e = expect; *e != '\0'; e++)
    mailer_pop3_parser_expect (parser, *e == 'm');

  while (TRUE)
    {
      MailerPop3Event event;
      g_autoptr(GError) error = NULL;

      if (mailer_pop3_parser_next (parser, &event, &error))
        {
          switch (event.type)
            {
            case MAILER_POP3_EVENT_STATUS:
              g_string_append_printf (out, "%s[%s] %s\n", event.ok ? "+OK" : "-ERR",
                                      event.code ? event.code : "", event.text);
              break;
            case MAILER_POP3_EVENT_CONTINUE:
              g_string_append_printf (out, "+ %s\n", event.text);
              break;
            case MAILER_POP3_EVENT_LINE:
              g_string_append (out, "L:");
              g_string_append_len (out, event.data, event.len);
              g_string_append_c (out, '\n');
              break;
            case MAILER_POP3_EVENT_END:
              g_string_append (out, ".\n");
              break;
            default:
              g_assert_not_reached ();
            }
          continue;
        }
      if (error != NULL)
        {
          g_string_append_printf (out, "!%s\n", error->message);
          break;
        }
      if (fed == input_len)
        break;
      {
        gsize n = MIN (chunk, input_len - fed);

        mailer_pop3_parser_feed (parser, input + fed, n);
        fed += n;
      }
    }
  return g_string_free (g_steal_pointer (&out), FALSE);
}

static void
assert_parse (const char *expect,
              const char *input,
              const char *wanted)
{
  gsize len = strlen (input);

  /* Whole, and split at every possible byte. */
  for (gsize chunk = len; chunk >= 1; chunk = chunk > 7 ? chunk / 2 : chunk - 1)
    {
      g_autofree char *got = run (expect, input, len, chunk, 0);

      g_assert_cmpstr (got, ==, wanted);
    }
}

static void
test_pipelined (void)
{
  /* Greeting, CAPA, LIST, UIDL, RETR, DELE, QUIT. */
  assert_parse ("smmmmss",
                "+OK Dovecot ready. <1.2@host>\r\n"
                "+OK\r\nUIDL\r\nPIPELINING\r\n.\r\n"
                "+OK 2 messages\r\n1 120\r\n2 200\r\n.\r\n"
                "+OK\r\n1 a1\r\n2 b2\r\n.\r\n"
                "+OK 120 octets\r\nSubject: x\r\n\r\n..stuffed\r\n.\r\n"
                "+OK Marked to be deleted.\r\n"
                "+OK Logging out.\r\n",
                "+OK[] Dovecot ready. <1.2@host>\n"
                "+OK[] \nL:UIDL\nL:PIPELINING\n.\n"
                "+OK[] 2 messages\nL:1 120\nL:2 200\n.\n"
                "+OK[] \nL:1 a1\nL:2 b2\n.\n"
                "+OK[] 120 octets\nL:Subject: x\nL:\nL:.stuffed\n.\n"
                "+OK[] Marked to be deleted.\n"
                "+OK[] Logging out.\n");
}

static void
test_error_has_no_body (void)
{
  /* -ERR to a multi-line command has no lines; the next reply follows. */
  assert_parse ("mm",
                "-ERR [IN-USE] Mailbox locked\r\n+OK\r\nx\r\n.\r\n",
                "-ERR[IN-USE] Mailbox locked\n+OK[] \nL:x\n.\n");
  /* Bare LF line ends and lower case are accepted. */
  assert_parse ("s", "+ok fine\n", "+OK[] fine\n");
}

static void
test_continuation (void)
{
  assert_parse ("s", "+ VXNlcm5hbWU6\r\n+ UGFzc3dvcmQ6\r\n-ERR [AUTH] Nope\r\n",
                "+ VXNlcm5hbWU6\n+ UGFzc3dvcmQ6\n-ERR[AUTH] Nope\n");
}

static void
test_missing_end (void)
{
  /* A body without its final "." waits for more; it is not complete. */
  assert_parse ("m", "+OK\r\nline\r\n", "+OK[] \nL:line\n");
}

static void
test_hostile (void)
{
  g_autofree char *long_status = NULL;
  g_autofree char *long_data = NULL;
  g_autofree char *got = NULL;
  static const char nul_line[] = "+OK\r\na\0b\r\n.\r\n";

  assert_parse ("s", "* OK IMAP4rev1 ready\r\n",
                "!The server does not speak POP3 (a reply did not start with +OK or -ERR)\n");
  assert_parse ("s", "+OKAY\r\n", "!The server does not speak POP3 (a reply did not start with +OK or -ERR)\n");
  assert_parse ("s", "+OK\r\n+OK extra\r\n", "+OK[] \n!The server sent a reply nobody asked for\n");

  long_status = g_strnfill (MAILER_POP3_MAX_STATUS_LINE + 10, 'x');
  long_status[0] = '+';
  long_status[1] = 'O';
  long_status[2] = 'K';
  got = run ("s", long_status, strlen (long_status), 1000, 0);
  g_assert_cmpstr (got, ==, "!The server sent a reply line longer than allowed\n");
  g_clear_pointer (&got, g_free);

  long_data = g_strconcat ("+OK\r\n", "0123456789012345678901234567890", "\r\n.\r\n", NULL);
  got = run ("m", long_data, strlen (long_data), 7, 16);
  g_assert_cmpstr (got, ==, "+OK[] \n!The server sent a message line longer than allowed\n");
  g_clear_pointer (&got, g_free);

  /* NUL in message data is data; in a status line it is made harmless. */
  got = run ("m", nul_line, sizeof nul_line - 1, 3, 0);
  g_assert_cmpuint (strlen (got), ==, strlen ("+OK[] \nL:a"));
  g_clear_pointer (&got, g_free);
  assert_parse ("s", "-ERR bad\x01\xff\xfe stuff\r\n", "-ERR[] bad \xef\xbf\xbd\xef\xbf\xbd stuff\n");
}

static void
test_error_mapping (void)
{
  static const struct { const char *code; MailerPop3Error error; } cases[] = {
    { "IN-USE", MAILER_POP3_ERROR_IN_USE },
    { "LOGIN-DELAY", MAILER_POP3_ERROR_LOGIN_DELAY },
    { "SYS/TEMP", MAILER_POP3_ERROR_TEMPORARY },
    { "SYS/PERM", MAILER_POP3_ERROR_PERMANENT },
    { "AUTH", MAILER_POP3_ERROR_AUTH_FAILED },
    { NULL, MAILER_POP3_ERROR_FAILED },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      MailerPop3Event event = { MAILER_POP3_EVENT_STATUS, FALSE, cases[i].code, "reason", NULL, 0 };
      g_autoptr(GError) error = NULL;

      mailer_pop3_set_error_from_status (&error, &event, "Logging in");
      g_assert_error (error, MAILER_POP3_ERROR, (int) cases[i].error);
      g_assert_true (g_str_has_prefix (error->message, "Logging in: "));
      g_assert_nonnull (strstr (error->message, "reason"));
    }
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

  g_test_add_func ("/pop3-parser/pipelined", test_pipelined);
  g_test_add_func ("/pop3-parser/error-has-no-body", test_error_has_no_body);
  g_test_add_func ("/pop3-parser/continuation", test_continuation);
  g_test_add_func ("/pop3-parser/missing-end", test_missing_end);
  g_test_add_func ("/pop3-parser/hostile", test_hostile);
  g_test_add_func ("/pop3-parser/error-mapping", test_error_mapping);

  return g_test_run ();
}
