/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * IMAP command builder: see mailer-imap-command.h.
 */
#include "config.h"

#include <string.h>

#include "mailer-imap-command.h"
#include "mailer-imap-parser.h"

typedef struct
{
  char *text;        /* written as is, after a space */
  GBytes *literal;   /* or a literal */
} Arg;

struct _MailerImapCommand
{
  char *name;
  GArray *args;      /* of Arg */
  gboolean secret;
};

static void
arg_clear (Arg *arg)
{
  g_free (arg->text);
  g_clear_pointer (&arg->literal, g_bytes_unref);
}

MailerImapCommand *
mailer_imap_command_new (const char *name)
{
  MailerImapCommand *command = g_new0 (MailerImapCommand, 1);

  g_return_val_if_fail (name != NULL && strpbrk (name, "\r\n") == NULL, NULL);

  command->name = g_strdup (name);
  command->args = g_array_new (FALSE, TRUE, sizeof (Arg));
  g_array_set_clear_func (command->args, (GDestroyNotify) arg_clear);
  return command;
}

void
mailer_imap_command_free (MailerImapCommand *command)
{
  if (command == NULL)
    return;
  if (command->secret)
    for (guint i = 0; i < command->args->len; i++)
      {
        Arg *arg = &g_array_index (command->args, Arg, i);

        if (arg->text != NULL)
          memset (arg->text, 0, strlen (arg->text));
      }
  g_array_unref (command->args);
  g_free (command->name);
  g_free (command);
}

const char *
mailer_imap_command_get_name (MailerImapCommand *command)
{
  return command->name;
}

void
mailer_imap_command_set_secret (MailerImapCommand *command)
{
  command->secret = TRUE;
}

gboolean
mailer_imap_command_is_secret (MailerImapCommand *command)
{
  return command->secret;
}

static gboolean
invalid (GError     **error,
         const char  *what)
{
  g_set_error (error, MAILER_IMAP_ERROR, MAILER_IMAP_ERROR_INVALID,
               "%s cannot be sent to the server", what);
  return FALSE;
}

static void
add_text (MailerImapCommand *command,
          char              *text)
{
  Arg arg = { text, NULL };

  g_array_append_val (command->args, arg);
}

/* atom-char: any CHAR except atom-specials ("(){ %*\"\\]" and CTL); flags
 * may start with a backslash and "*" is allowed in sequence sets. */
gboolean
mailer_imap_command_add_atom (MailerImapCommand  *command,
                              const char         *atom,
                              GError            **error)
{
  if (atom == NULL || atom[0] == '\0')
    return invalid (error, "An empty word");
  for (const char *p = atom; *p != '\0'; p++)
    {
      guchar c = *p;

      if (c <= 0x20 || c >= 0x7f || strchr ("(){%\"]", c) != NULL ||
          (c == '\\' && p != atom))
        return invalid (error, "A word with special characters");
    }
  add_text (command, g_strdup (atom));
  return TRUE;
}

void
mailer_imap_command_add_number (MailerImapCommand *command,
                                guint64            number)
{
  add_text (command, g_strdup_printf ("%" G_GUINT64_FORMAT, number));
}

/**
 * mailer_imap_command_add_string:
 *
 * Adds @string quoted when it can be, else as a literal (8-bit text).
 * Strings with CR, LF or NUL are refused: no argument that goes through
 * here (names, passwords, search words) can hold them.
 */
gboolean
mailer_imap_command_add_string (MailerImapCommand  *command,
                                const char         *string,
                                GError            **error)
{
  gboolean quotable = TRUE;
  GString *quoted;

  if (string == NULL)
    return invalid (error, "A missing value");
  if (strpbrk (string, "\r\n") != NULL)
    return invalid (error, "Text with a line break");

  for (const char *p = string; *p != '\0'; p++)
    if ((guchar) *p >= 0x80 || (guchar) *p < 0x20 || *p == 0x7f)
      quotable = FALSE;

  if (!quotable)
    {
      Arg arg = { NULL, g_bytes_new (string, strlen (string)) };

      g_array_append_val (command->args, arg);
      return TRUE;
    }

  quoted = g_string_new ("\"");
  for (const char *p = string; *p != '\0'; p++)
    {
      if (*p == '"' || *p == '\\')
        g_string_append_c (quoted, '\\');
      g_string_append_c (quoted, *p);
    }
  g_string_append_c (quoted, '"');
  add_text (command, g_string_free (quoted, FALSE));
  return TRUE;
}

gboolean
mailer_imap_command_add_mailbox (MailerImapCommand  *command,
                                 const char         *utf8_name,
                                 gboolean            utf8_accepted,
                                 GError            **error)
{
  g_autofree char *encoded = NULL;

  if (utf8_name == NULL || !g_utf8_validate (utf8_name, -1, NULL))
    return invalid (error, "A folder name that is not valid text");
  if (g_ascii_strcasecmp (utf8_name, "INBOX") == 0)
    return mailer_imap_command_add_string (command, "INBOX", error);
  if (utf8_accepted)
    return mailer_imap_command_add_string (command, utf8_name, error);
  encoded = mailer_imap_utf7_encode (utf8_name);
  return mailer_imap_command_add_string (command, encoded, error);
}

void
mailer_imap_command_add_literal (MailerImapCommand *command,
                                 GBytes            *data)
{
  Arg arg = { NULL, g_bytes_ref (data) };

  g_array_append_val (command->args, arg);
}

gboolean
mailer_imap_command_add_raw (MailerImapCommand  *command,
                             const char         *text,
                             GError            **error)
{
  if (text == NULL || text[0] == '\0')
    return invalid (error, "An empty argument");
  for (const char *p = text; *p != '\0'; p++)
    if ((guchar) *p < 0x20 || *p == 0x7f)
      return invalid (error, "An argument with control characters");
  add_text (command, g_strdup (text));
  return TRUE;
}

/**
 * mailer_imap_command_serialize:
 *
 * Returns: (transfer full) (element-type GBytes): the parts to send; after
 *   each part but the last, wait for a continuation request
 */
GPtrArray *
mailer_imap_command_serialize (MailerImapCommand *command,
                               const char        *tag,
                               gboolean           literal_plus)
{
  GPtrArray *parts = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  GByteArray *current = g_byte_array_new ();

  g_byte_array_append (current, (const guint8 *) tag, strlen (tag));
  g_byte_array_append (current, (const guint8 *) " ", 1);
  g_byte_array_append (current, (const guint8 *) command->name, strlen (command->name));

  for (guint i = 0; i < command->args->len; i++)
    {
      Arg *arg = &g_array_index (command->args, Arg, i);

      g_byte_array_append (current, (const guint8 *) " ", 1);
      if (arg->text != NULL)
        g_byte_array_append (current, (const guint8 *) arg->text, strlen (arg->text));
      else
        {
          gsize len;
          const guint8 *data = g_bytes_get_data (arg->literal, &len);
          g_autofree char *prefix = g_strdup_printf (literal_plus ? "{%" G_GSIZE_FORMAT "+}\r\n"
                                                                  : "{%" G_GSIZE_FORMAT "}\r\n", len);

          g_byte_array_append (current, (const guint8 *) prefix, strlen (prefix));
          if (!literal_plus)
            {
              g_ptr_array_add (parts, g_byte_array_free_to_bytes (current));
              current = g_byte_array_new ();
            }
          g_byte_array_append (current, data, len);
        }
    }
  g_byte_array_append (current, (const guint8 *) "\r\n", 2);
  g_ptr_array_add (parts, g_byte_array_free_to_bytes (current));
  return parts;
}
