/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * IMAP response framing, tokenizing and decoding.  No I/O: see
 * mailer-imap-parser.h.  Everything here must hold against any input, as
 * the fuzz target (tests/fuzz) checks.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "mailer-imap-parser.h"

G_DEFINE_QUARK (mailer-imap-error-quark, mailer_imap_error)

/* Nesting deeper than this is an attack, not a BODYSTRUCTURE. */
#define MAX_DEPTH 64

/* Values */

void
mailer_imap_value_free (MailerImapValue *value)
{
  if (value == NULL)
    return;
  g_free (value->atom);
  g_clear_pointer (&value->string, g_bytes_unref);
  g_clear_pointer (&value->list, g_ptr_array_unref);
  g_free (value);
}

const char *
mailer_imap_value_get_atom (const MailerImapValue *value)
{
  return value != NULL && value->type == MAILER_IMAP_VALUE_ATOM ? value->atom : NULL;
}

gboolean
mailer_imap_value_get_number (const MailerImapValue *value,
                              guint64               *number)
{
  if (value == NULL || value->type != MAILER_IMAP_VALUE_NUMBER)
    return FALSE;
  *number = value->number;
  return TRUE;
}

const char *
mailer_imap_value_get_string (const MailerImapValue *value,
                              gsize                 *len)
{
  if (value == NULL)
    return NULL;
  switch (value->type)
    {
    case MAILER_IMAP_VALUE_STRING:
      return g_bytes_get_data (value->string, len);
    case MAILER_IMAP_VALUE_ATOM:
      if (len != NULL)
        *len = strlen (value->atom);
      return value->atom;
    case MAILER_IMAP_VALUE_NUMBER:
    case MAILER_IMAP_VALUE_NIL:
    case MAILER_IMAP_VALUE_LIST:
    default:
      return NULL;
    }
}

GPtrArray *
mailer_imap_value_get_list (const MailerImapValue *value)
{
  return value != NULL && value->type == MAILER_IMAP_VALUE_LIST ? value->list : NULL;
}

gboolean
mailer_imap_value_is_nil (const MailerImapValue *value)
{
  return value != NULL && value->type == MAILER_IMAP_VALUE_NIL;
}

gboolean
mailer_imap_atom_equal (const MailerImapValue *value,
                        const char            *atom)
{
  const char *a = mailer_imap_value_get_atom (value);

  return a != NULL && g_ascii_strcasecmp (a, atom) == 0;
}

static MailerImapValue *
value_new (MailerImapValueType type)
{
  MailerImapValue *value = g_new0 (MailerImapValue, 1);

  value->type = type;
  return value;
}

/* Framing */

struct _MailerImapReader
{
  GByteArray *in;          /* the response being framed starts at 0 */
  gsize scan;              /* where to look for the next line end */
  gsize line_start;
  guint64 literal_left;
  gsize max_line;
  gsize max_literal;
  GError *failure;
};

MailerImapReader *
mailer_imap_reader_new (gsize max_line,
                        gsize max_literal)
{
  MailerImapReader *reader = g_new0 (MailerImapReader, 1);

  reader->in = g_byte_array_new ();
  reader->max_line = max_line ? max_line : MAILER_IMAP_DEFAULT_MAX_LINE;
  reader->max_literal = max_literal ? max_literal : MAILER_IMAP_DEFAULT_MAX_LITERAL;
  return reader;
}

void
mailer_imap_reader_free (MailerImapReader *reader)
{
  if (reader == NULL)
    return;
  g_byte_array_unref (reader->in);
  g_clear_error (&reader->failure);
  g_free (reader);
}

void
mailer_imap_reader_feed (MailerImapReader *reader,
                         const void       *data,
                         gsize             len)
{
  g_byte_array_append (reader->in, data, len);
}

gsize
mailer_imap_reader_get_pending (MailerImapReader *reader)
{
  return reader->in->len;
}

static GBytes *
reader_fail (MailerImapReader  *reader,
             GError           **error,
             MailerImapError    code,
             const char        *message)
{
  reader->failure = g_error_new_literal (MAILER_IMAP_ERROR, code, message);
  g_propagate_error (error, g_error_copy (reader->failure));
  return NULL;
}

/* If the line [start, end) ends with "{N}", "{N+}" or "~{N}", sets *size. */
static gboolean
line_literal (const char *start,
              const char *end,
              guint64    *size,
              gboolean   *overflow)
{
  const char *p = end;
  guint64 n = 0, scale = 1;
  gboolean digits = FALSE;

  *overflow = FALSE;
  if (p == start || p[-1] != '}')
    return FALSE;
  p--;
  if (p > start && p[-1] == '+')
    p--;
  while (p > start && g_ascii_isdigit (p[-1]))
    {
      guint64 digit = p[-1] - '0';

      if (scale > G_MAXUINT64 / 10 && p - 1 > start && g_ascii_isdigit (p[-2]))
        *overflow = TRUE;
      if (!*overflow)
        {
          if (digit > 0 && (digit > G_MAXUINT64 / scale || n > G_MAXUINT64 - digit * scale))
            *overflow = TRUE;
          else
            n += digit * scale;
          if (scale <= G_MAXUINT64 / 10)
            scale *= 10;
        }
      digits = TRUE;
      p--;
    }
  if (!digits || p == start || p[-1] != '{')
    return FALSE;
  *size = n;
  return TRUE;
}

/**
 * mailer_imap_reader_next:
 *
 * Returns: (transfer full) (nullable): the next whole response, CRLF
 *   included, literals inline
 */
GBytes *
mailer_imap_reader_next (MailerImapReader  *reader,
                         GError           **error)
{
  if (reader->failure != NULL)
    {
      g_propagate_error (error, g_error_copy (reader->failure));
      return NULL;
    }

  while (TRUE)
    {
      const char *data = (const char *) reader->in->data;
      const char *newline;
      const char *line_end;
      guint64 literal = 0;
      gboolean overflow;

      /* Many literals, each under the cap, must not add up without bound:
       * one response holds at most one literal's worth and some lines. */
      if (reader->scan > reader->max_literal + 16 * reader->max_line)
        return reader_fail (reader, error, MAILER_IMAP_ERROR_TOO_BIG,
                            "The server sent a response larger than allowed");

      if (reader->literal_left > 0)
        {
          gsize available = reader->in->len - reader->scan;
          gsize take = MIN ((guint64) available, reader->literal_left);

          reader->scan += take;
          reader->literal_left -= take;
          if (reader->literal_left > 0)
            return NULL;
          reader->line_start = reader->scan;
        }

      newline = reader->scan < reader->in->len
                ? memchr (data + reader->scan, '\n', reader->in->len - reader->scan)
                : NULL;
      if (newline == NULL)
        {
          gsize line_len = reader->in->len - reader->line_start;

          reader->scan = reader->in->len;
          /* A CR last may be the line end, its LF still to come. */
          if (line_len > 0 && data[reader->in->len - 1] == '\r')
            line_len--;
          if (line_len > reader->max_line)
            return reader_fail (reader, error, MAILER_IMAP_ERROR_TOO_BIG,
                                "The server sent a line longer than allowed");
          return NULL;
        }

      line_end = newline;
      if (line_end > data + reader->line_start && line_end[-1] == '\r')
        line_end--;
      if ((gsize) (line_end - (data + reader->line_start)) > reader->max_line)
        return reader_fail (reader, error, MAILER_IMAP_ERROR_TOO_BIG,
                            "The server sent a line longer than allowed");

      if (line_literal (data + reader->line_start, line_end, &literal, &overflow))
        {
          if (overflow || literal > reader->max_literal)
            return reader_fail (reader, error, MAILER_IMAP_ERROR_TOO_BIG,
                                "The server announced more data than allowed");
          reader->scan = newline - data + 1;
          reader->line_start = reader->scan;
          reader->literal_left = literal;
          if (literal == 0)
            continue;
          continue;
        }

      {
        gsize total = newline - data + 1;
        GBytes *response = g_bytes_new (data, total);

        g_byte_array_remove_range (reader->in, 0, total);
        reader->scan = 0;
        reader->line_start = 0;
        return response;
      }
    }
}

/* Tokenizing */

typedef struct
{
  const char *p;
  const char *end;
  gboolean in_code;   /* in "[CODE ...]", where "]" ends an atom */
} Tok;

static gboolean
parse_error (GError     **error,
             const char  *what)
{
  g_set_error (error, MAILER_IMAP_ERROR, MAILER_IMAP_ERROR_PARSE,
               "The server sent a malformed response (%s)", what);
  return FALSE;
}

static gboolean
at_line_end (Tok *t)
{
  return t->p >= t->end || *t->p == '\r' || *t->p == '\n';
}

static void
skip_spaces (Tok *t)
{
  while (t->p < t->end && *t->p == ' ')
    t->p++;
}

static gboolean
is_atom_end (char c)
{
  return c == ' ' || c == '(' || c == ')' || c == '\r' || c == '\n' || c == '"' || c == '{' ||
         c == ']' || (guchar) c < 0x20 || c == 0x7f;
}

/* Outside response codes "]" is an ASTRING-CHAR (RFC 3501): Dovecot sends
 * a mailbox named "foo]bar" unquoted. */
static gboolean
at_atom_end (const Tok *t)
{
  return *t->p == ']' ? t->in_code : is_atom_end (*t->p);
}

/* An atom; "[...]" inside it (BODY[HEADER.FIELDS (X Y)]<0>) is kept whole.
 * A "[" without its "]" before the next "[" or the line end is just a
 * character ("[x", a mailbox name again); looking no further than the next
 * "[" keeps this linear. */
static char *
read_atom (Tok     *t,
           GError **error)
{
  const char *start = t->p;

  while (t->p < t->end && !at_atom_end (t))
    {
      if (*t->p == '[')
        {
          const char *close = t->p + 1;

          while (close < t->end && *close != ']' && *close != '[' && *close != '\r' && *close != '\n')
            close++;
          if (close < t->end && *close == ']')
            {
              t->p = close + 1;
              continue;
            }
        }
      t->p++;
    }
  if (t->p == start)
    {
      parse_error (error, "empty atom");
      return NULL;
    }
  return g_strndup (start, t->p - start);
}

static MailerImapValue *parse_value (Tok *t, guint depth, GError **error);

static MailerImapValue *
parse_quoted (Tok     *t,
              GError **error)
{
  g_autoptr(GString) s = g_string_new (NULL);
  MailerImapValue *value;

  t->p++;   /* the opening quote */
  while (t->p < t->end && *t->p != '"')
    {
      if (*t->p == '\r' || *t->p == '\n')
        break;
      if (*t->p == '\\' && t->p + 1 < t->end && t->p[1] != '\r' && t->p[1] != '\n')
        t->p++;
      g_string_append_c (s, *t->p);
      t->p++;
    }
  if (t->p >= t->end || *t->p != '"')
    {
      parse_error (error, "unterminated quoted string");
      return NULL;
    }
  t->p++;
  value = value_new (MAILER_IMAP_VALUE_STRING);
  value->string = g_string_free_to_bytes (g_steal_pointer (&s));
  return value;
}

static MailerImapValue *
parse_literal (Tok     *t,
               GError **error)
{
  guint64 size = 0;
  MailerImapValue *value;

  if (*t->p == '~')
    t->p++;
  if (t->p >= t->end || *t->p != '{')
    {
      parse_error (error, "bad literal");
      return NULL;
    }
  t->p++;
  if (t->p >= t->end || !g_ascii_isdigit (*t->p))
    {
      parse_error (error, "bad literal size");
      return NULL;
    }
  while (t->p < t->end && g_ascii_isdigit (*t->p))
    {
      if (size > (G_MAXUINT64 - 9) / 10)
        {
          parse_error (error, "literal size overflows");
          return NULL;
        }
      size = size * 10 + (*t->p - '0');
      t->p++;
    }
  if (t->p < t->end && *t->p == '+')
    t->p++;
  if (t->p >= t->end || *t->p != '}')
    {
      parse_error (error, "bad literal");
      return NULL;
    }
  t->p++;
  if (t->p < t->end && *t->p == '\r')
    t->p++;
  if (t->p >= t->end || *t->p != '\n')
    {
      parse_error (error, "literal not followed by a line end");
      return NULL;
    }
  t->p++;
  if (size > (guint64) (t->end - t->p))
    {
      parse_error (error, "literal cut short");
      return NULL;
    }
  value = value_new (MAILER_IMAP_VALUE_STRING);
  {
    /* NUL-terminated, as mailer_imap_value_get_string() promises */
    char *copy = g_malloc (size + 1);

    memcpy (copy, t->p, size);
    copy[size] = '\0';
    value->string = g_bytes_new_take (copy, size);
  }
  t->p += size;
  return value;
}

static MailerImapValue *
parse_list (Tok     *t,
            guint    depth,
            GError **error)
{
  g_autoptr(GPtrArray) items = g_ptr_array_new_with_free_func ((GDestroyNotify) mailer_imap_value_free);
  MailerImapValue *value;

  if (depth > MAX_DEPTH)
    {
      parse_error (error, "nested too deeply");
      return NULL;
    }
  t->p++;   /* ( */
  while (TRUE)
    {
      MailerImapValue *item;

      skip_spaces (t);
      if (t->p >= t->end || at_line_end (t))
        {
          parse_error (error, "unterminated list");
          return NULL;
        }
      if (*t->p == ')')
        {
          t->p++;
          break;
        }
      item = parse_value (t, depth + 1, error);
      if (item == NULL)
        return NULL;
      g_ptr_array_add (items, item);
    }
  value = value_new (MAILER_IMAP_VALUE_LIST);
  value->list = g_steal_pointer (&items);
  return value;
}

static MailerImapValue *
parse_value (Tok     *t,
             guint    depth,
             GError **error)
{
  MailerImapValue *value;
  char *atom;

  if (t->p >= t->end || at_line_end (t))
    {
      parse_error (error, "value missing");
      return NULL;
    }

  switch (*t->p)
    {
    case '(':
      return parse_list (t, depth, error);
    case '"':
      return parse_quoted (t, error);
    case '{':
      return parse_literal (t, error);
    case '~':
      if (t->p + 1 < t->end && t->p[1] == '{')
        return parse_literal (t, error);
      break;
    case ']':
      if (!t->in_code)
        break;
      G_GNUC_FALLTHROUGH;
    case ')':
      parse_error (error, "unexpected bracket");
      return NULL;
    default:
      break;
    }

  atom = read_atom (t, error);
  if (atom == NULL)
    return NULL;

  if (g_ascii_strcasecmp (atom, "NIL") == 0)
    {
      g_free (atom);
      return value_new (MAILER_IMAP_VALUE_NIL);
    }
  if (g_ascii_isdigit (atom[0]) && strlen (atom) <= 20 && strspn (atom, "0123456789") == strlen (atom))
    {
      guint64 number;

      if (g_ascii_string_to_unsigned (atom, 10, 0, G_MAXUINT64, &number, NULL))
        {
          value = value_new (MAILER_IMAP_VALUE_NUMBER);
          value->number = number;
          value->atom = atom;   /* as sent: a mailbox may be called "007" */
          return value;
        }
    }
  value = value_new (MAILER_IMAP_VALUE_ATOM);
  value->atom = atom;
  return value;
}

/* Responses */

void
mailer_imap_response_free (MailerImapResponse *response)
{
  if (response == NULL)
    return;
  g_free (response->tag);
  g_free (response->code);
  g_clear_pointer (&response->code_args, g_ptr_array_unref);
  g_free (response->text);
  g_free (response->name);
  g_clear_pointer (&response->args, g_ptr_array_unref);
  g_free (response);
}

static char *
text_to_end (Tok *t)
{
  const char *start = t->p;
  char *text;

  while (t->p < t->end && *t->p != '\r' && *t->p != '\n')
    t->p++;
  /* With its length, so that a NUL becomes U+FFFD and the rest is kept */
  text = g_utf8_make_valid (start, t->p - start);
  for (char *c = text; *c != '\0'; c++)
    if ((guchar) *c < 0x20 || *c == 0x7f)
      *c = ' ';
  return text;
}

static MailerImapStatus
status_from_atom (const char *atom)
{
  static const struct { const char *name; MailerImapStatus status; } statuses[] = {
    { "OK", MAILER_IMAP_STATUS_OK },
    { "NO", MAILER_IMAP_STATUS_NO },
    { "BAD", MAILER_IMAP_STATUS_BAD },
    { "PREAUTH", MAILER_IMAP_STATUS_PREAUTH },
    { "BYE", MAILER_IMAP_STATUS_BYE },
  };

  for (guint i = 0; i < G_N_ELEMENTS (statuses); i++)
    if (g_ascii_strcasecmp (atom, statuses[i].name) == 0)
      return statuses[i].status;
  return MAILER_IMAP_STATUS_NONE;
}

/* "[CODE args] text" after a status. */
static gboolean
parse_status_rest (Tok                 *t,
                   MailerImapResponse  *response,
                   GError             **error)
{
  skip_spaces (t);
  if (t->p < t->end && *t->p == '[')
    {
      const char *start;

      t->p++;
      start = t->p;
      while (t->p < t->end && !is_atom_end (*t->p))
        t->p++;
      if (t->p == start)
        return parse_error (error, "empty response code");
      response->code = g_ascii_strup (start, t->p - start);

      t->in_code = TRUE;
      while (TRUE)
        {
          MailerImapValue *arg;
          const char *arg_start;

          skip_spaces (t);
          if (t->p < t->end && *t->p == ']')
            {
              t->p++;
              break;
            }
          if (at_line_end (t))
            return parse_error (error, "unterminated response code");
          arg_start = t->p;
          arg = parse_value (t, 1, error);
          if (arg == NULL)
            {
              /* Codes we do not know may hold anything: keep the text,
               * drop the arguments. */
              const char *close = memchr (arg_start, ']', t->end - arg_start);

              if (close == NULL)
                return FALSE;
              g_clear_error (error);
              g_ptr_array_set_size (response->code_args, 0);
              t->p = close + 1;
              break;
            }
          g_ptr_array_add (response->code_args, arg);
        }
      t->in_code = FALSE;
      skip_spaces (t);
    }
  response->text = text_to_end (t);
  return TRUE;
}

static gboolean
parse_args_to_end (Tok                 *t,
                   MailerImapResponse  *response,
                   GError             **error)
{
  while (TRUE)
    {
      MailerImapValue *arg;

      skip_spaces (t);
      if (at_line_end (t))
        return TRUE;
      arg = parse_value (t, 0, error);
      if (arg == NULL)
        return FALSE;
      g_ptr_array_add (response->args, arg);
    }
}

/**
 * mailer_imap_parse_response:
 * @data: one whole response, as mailer_imap_reader_next() returns it
 *
 * Returns: (transfer full) (nullable): the response, or %NULL with @error
 */
MailerImapResponse *
mailer_imap_parse_response (const char  *data,
                            gsize        len,
                            GError     **error)
{
  g_autoptr(MailerImapResponse) response = g_new0 (MailerImapResponse, 1);
  Tok t = { data, data + len, FALSE };
  g_autofree char *first = NULL;

  response->code_args = g_ptr_array_new_with_free_func ((GDestroyNotify) mailer_imap_value_free);
  response->args = g_ptr_array_new_with_free_func ((GDestroyNotify) mailer_imap_value_free);

  if (len == 0)
    {
      parse_error (error, "empty");
      return NULL;
    }

  if (data[0] == '+')
    {
      response->kind = MAILER_IMAP_RESPONSE_CONTINUATION;
      t.p++;
      if (t.p < t.end && *t.p == ' ')
        t.p++;
      response->text = text_to_end (&t);
      return g_steal_pointer (&response);
    }

  if (data[0] == '*')
    {
      response->kind = MAILER_IMAP_RESPONSE_UNTAGGED;
      t.p++;
    }
  else
    {
      response->kind = MAILER_IMAP_RESPONSE_TAGGED;
      response->tag = read_atom (&t, error);
      if (response->tag == NULL)
        return NULL;
    }

  if (t.p >= t.end || *t.p != ' ')
    {
      parse_error (error, "missing space");
      return NULL;
    }
  skip_spaces (&t);

  if (response->kind == MAILER_IMAP_RESPONSE_UNTAGGED && t.p < t.end && g_ascii_isdigit (*t.p))
    {
      g_autofree char *number = read_atom (&t, error);

      if (number == NULL)
        return NULL;
      if (!g_ascii_string_to_unsigned (number, 10, 0, G_MAXUINT32, &response->number, NULL))
        {
          parse_error (error, "bad message number");
          return NULL;
        }
      response->has_number = TRUE;
      skip_spaces (&t);
    }

  first = read_atom (&t, error);
  if (first == NULL)
    return NULL;

  response->status = response->has_number ? MAILER_IMAP_STATUS_NONE : status_from_atom (first);
  if (response->kind == MAILER_IMAP_RESPONSE_TAGGED &&
      (response->status == MAILER_IMAP_STATUS_NONE || response->status == MAILER_IMAP_STATUS_PREAUTH))
    {
      parse_error (error, "tagged response without OK, NO or BAD");
      return NULL;
    }

  if (response->status != MAILER_IMAP_STATUS_NONE)
    {
      if (!parse_status_rest (&t, response, error))
        return NULL;
    }
  else
    {
      response->name = g_ascii_strup (first, -1);
      if (!parse_args_to_end (&t, response, error))
        return NULL;
      response->text = g_strdup ("");
    }

  /* Only the line end may remain. */
  if (t.p < t.end && *t.p == '\r')
    t.p++;
  if (t.p < t.end && *t.p == '\n')
    t.p++;
  if (t.p != t.end)
    {
      parse_error (error, "trailing data");
      return NULL;
    }
  return g_steal_pointer (&response);
}

/* FETCH */

void
mailer_imap_fetch_free (MailerImapFetch *fetch)
{
  if (fetch == NULL)
    return;
  g_strfreev (fetch->flags);
  g_clear_pointer (&fetch->sections, g_hash_table_unref);
  g_free (fetch);
}

static GStrv
atoms_of_list (const MailerImapValue *value)
{
  GPtrArray *list = mailer_imap_value_get_list (value);
  GStrvBuilder *builder = g_strv_builder_new ();
  GStrv result;

  for (guint i = 0; list != NULL && i < list->len; i++)
    {
      const char *atom = mailer_imap_value_get_atom (list->pdata[i]);

      if (atom != NULL)
        g_strv_builder_add (builder, atom);
    }
  result = g_strv_builder_end (builder);
  g_strv_builder_unref (builder);
  return result;
}

static gboolean
fetch_error (GError     **error,
             const char  *item)
{
  g_set_error (error, MAILER_IMAP_ERROR, MAILER_IMAP_ERROR_PARSE,
               "The server sent a malformed FETCH response (%s)", item);
  return FALSE;
}

/**
 * mailer_imap_parse_fetch:
 * @response: a "* N FETCH (...)" response; values in the result borrow
 *   from it
 */
MailerImapFetch *
mailer_imap_parse_fetch (const MailerImapResponse  *response,
                         GError                   **error)
{
  g_autoptr(MailerImapFetch) fetch = NULL;
  GPtrArray *items;

  if (g_strcmp0 (response->name, "FETCH") != 0 || !response->has_number ||
      response->args->len != 1 || (items = mailer_imap_value_get_list (response->args->pdata[0])) == NULL ||
      items->len % 2 != 0)
    {
      fetch_error (error, "shape");
      return NULL;
    }

  fetch = g_new0 (MailerImapFetch, 1);
  fetch->seq = response->number;
  fetch->size = -1;

  for (guint i = 0; i < items->len; i += 2)
    {
      const char *key = mailer_imap_value_get_atom (items->pdata[i]);
      MailerImapValue *value = items->pdata[i + 1];
      guint64 number;

      if (key == NULL)
        {
          fetch_error (error, "item name");
          return NULL;
        }

      if (g_ascii_strcasecmp (key, "UID") == 0)
        {
          if (!mailer_imap_value_get_number (value, &number) || number == 0 || number > G_MAXUINT32)
            {
              fetch_error (error, "UID");
              return NULL;
            }
          fetch->uid = number;
        }
      else if (g_ascii_strcasecmp (key, "FLAGS") == 0)
        {
          if (mailer_imap_value_get_list (value) == NULL)
            {
              fetch_error (error, "FLAGS");
              return NULL;
            }
          g_strfreev (fetch->flags);
          fetch->flags = atoms_of_list (value);
          fetch->has_flags = TRUE;
        }
      else if (g_ascii_strcasecmp (key, "INTERNALDATE") == 0)
        fetch->internal_date = mailer_imap_parse_date_time (mailer_imap_value_get_string (value, NULL));
      else if (g_ascii_strcasecmp (key, "RFC822.SIZE") == 0)
        {
          if (!mailer_imap_value_get_number (value, &number) || number > G_MAXINT64)
            {
              fetch_error (error, "RFC822.SIZE");
              return NULL;
            }
          fetch->size = number;
        }
      else if (g_ascii_strcasecmp (key, "MODSEQ") == 0)
        {
          GPtrArray *list = mailer_imap_value_get_list (value);

          if (list == NULL || list->len != 1 || !mailer_imap_value_get_number (list->pdata[0], &number))
            {
              fetch_error (error, "MODSEQ");
              return NULL;
            }
          fetch->modseq = number;
        }
      else if (g_ascii_strcasecmp (key, "ENVELOPE") == 0)
        fetch->envelope = mailer_imap_value_get_list (value) ? value : NULL;
      else if (g_ascii_strcasecmp (key, "BODYSTRUCTURE") == 0 || g_ascii_strcasecmp (key, "BODY") == 0)
        fetch->bodystructure = mailer_imap_value_get_list (value) ? value : NULL;
      else if (g_ascii_strncasecmp (key, "BODY[", 5) == 0 || g_ascii_strncasecmp (key, "BINARY[", 7) == 0 ||
               g_ascii_strcasecmp (key, "RFC822") == 0 || g_ascii_strcasecmp (key, "RFC822.HEADER") == 0)
        {
          const char *open = strchr (key, '[');
          const char *close = open ? strrchr (key, ']') : NULL;
          g_autofree char *section = NULL;
          const char *data;
          gsize len = 0;

          if (open != NULL && close == NULL)
            {
              fetch_error (error, "section");
              return NULL;
            }
          section = open ? g_ascii_strup (open + 1, close - open - 1)
                         : g_strdup (g_ascii_strcasecmp (key, "RFC822") == 0 ? "" : "HEADER");
          data = mailer_imap_value_get_string (value, &len);
          if (fetch->sections == NULL)
            fetch->sections = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                                     (GDestroyNotify) g_bytes_unref);
          g_hash_table_replace (fetch->sections, g_steal_pointer (&section),
                                data ? g_bytes_new (data, len) : g_bytes_new (NULL, 0));
        }
      /* Anything else (X-GM-*, PREVIEW, ...) is not ours to read. */
    }

  return g_steal_pointer (&fetch);
}

/* LIST */

void
mailer_imap_list_entry_free (MailerImapListEntry *entry)
{
  if (entry == NULL)
    return;
  g_strfreev (entry->attributes);
  g_free (entry->name);
  g_free (entry);
}

MailerImapListEntry *
mailer_imap_parse_list (const MailerImapResponse  *response,
                        gboolean                   utf8_names,
                        GError                   **error)
{
  MailerImapListEntry *entry;
  const char *delimiter;
  const char *name;
  gsize delimiter_len = 0, name_len = 0;

  if ((g_strcmp0 (response->name, "LIST") != 0 && g_strcmp0 (response->name, "LSUB") != 0) ||
      response->args->len < 3 || mailer_imap_value_get_list (response->args->pdata[0]) == NULL)
    {
      g_set_error (error, MAILER_IMAP_ERROR, MAILER_IMAP_ERROR_PARSE,
                   "The server sent a malformed LIST response");
      return NULL;
    }

  delimiter = mailer_imap_value_is_nil (response->args->pdata[1]) ? NULL
              : mailer_imap_value_get_string (response->args->pdata[1], &delimiter_len);
  name = mailer_imap_value_get_string (response->args->pdata[2], &name_len);
  if (name == NULL && ((MailerImapValue *) response->args->pdata[2])->type == MAILER_IMAP_VALUE_NUMBER)
    {
      /* An unquoted name of digits only ("2024") */
      name = ((MailerImapValue *) response->args->pdata[2])->atom;
      name_len = strlen (name);
    }
  if (name == NULL || name_len == 0 || memchr (name, '\0', name_len) != NULL ||
      (delimiter != NULL && delimiter_len != 1))
    {
      g_set_error (error, MAILER_IMAP_ERROR, MAILER_IMAP_ERROR_PARSE,
                   "The server sent a malformed LIST response");
      return NULL;
    }

  entry = g_new0 (MailerImapListEntry, 1);
  entry->attributes = atoms_of_list (response->args->pdata[0]);
  entry->delimiter = delimiter ? delimiter[0] : '\0';
  if (g_ascii_strcasecmp (name, "INBOX") == 0)
    entry->name = g_strdup ("INBOX");
  else if (utf8_names)
    entry->name = g_utf8_make_valid (name, name_len);
  else
    {
      entry->name = mailer_imap_utf7_decode (name);
      if (entry->name == NULL)
        entry->name = g_utf8_make_valid (name, name_len);
    }
  return entry;
}

/* Sequence sets */

static gboolean
parse_seq_number (const char **p,
                  guint32      star,
                  guint32     *out)
{
  guint64 n = 0;

  if (**p == '*')
    {
      (*p)++;
      *out = star;
      return TRUE;
    }
  if (!g_ascii_isdigit (**p))
    return FALSE;
  while (g_ascii_isdigit (**p))
    {
      n = n * 10 + (**p - '0');
      if (n > G_MAXUINT32)
        return FALSE;
      (*p)++;
    }
  if (n == 0)
    return FALSE;
  *out = n;
  return TRUE;
}

/**
 * mailer_imap_parse_sequence_set:
 *
 * Returns: (transfer full) (element-type guint32): pairs (first, last),
 *   first <= last
 */
GArray *
mailer_imap_parse_sequence_set (const char  *text,
                                guint32      star,
                                GError     **error)
{
  g_autoptr(GArray) ranges = g_array_new (FALSE, FALSE, sizeof (guint32));
  const char *p = text;

  if (text == NULL || *text == '\0')
    goto bad;
  while (TRUE)
    {
      guint32 first, last;

      if (!parse_seq_number (&p, star, &first))
        goto bad;
      last = first;
      if (*p == ':')
        {
          p++;
          if (!parse_seq_number (&p, star, &last))
            goto bad;
        }
      if (first > last)
        {
          guint32 swap = first;

          first = last;
          last = swap;
        }
      g_array_append_val (ranges, first);
      g_array_append_val (ranges, last);
      if (*p == '\0')
        break;
      if (*p != ',')
        goto bad;
      p++;
    }
  return g_steal_pointer (&ranges);

bad:
  g_set_error (error, MAILER_IMAP_ERROR, MAILER_IMAP_ERROR_PARSE,
               "The server sent a malformed sequence set");
  return NULL;
}

/* "1:3,7" from sorted, distinct numbers. */
char *
mailer_imap_format_sequence_set (const guint32 *sorted,
                                 guint          n)
{
  GString *s = g_string_new (NULL);

  for (guint i = 0; i < n;)
    {
      guint j = i;

      while (j + 1 < n && sorted[j + 1] == sorted[j] + 1)
        j++;
      if (s->len > 0)
        g_string_append_c (s, ',');
      if (j == i)
        g_string_append_printf (s, "%u", sorted[i]);
      else
        g_string_append_printf (s, "%u:%u", sorted[i], sorted[j]);
      i = j + 1;
    }
  return g_string_free (s, FALSE);
}

/* Dates */

/* "17-Jul-1996 02:44:25 -0700" (date-time, RFC 3501); 0 when not one. */
gint64
mailer_imap_parse_date_time (const char *text)
{
  static const char * const months[] = {
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
  };
  int day, year, hour, minute, second, zone;
  char month_name[4] = { 0 };
  char sign;
  g_autoptr(GTimeZone) tz = NULL;
  g_autoptr(GDateTime) dt = NULL;
  int month = 0;

  if (text == NULL)
    return 0;
  while (*text == ' ')
    text++;
  if (sscanf (text, "%2d-%3c-%4d %2d:%2d:%2d %c%4d",
              &day, month_name, &year, &hour, &minute, &second, &sign, &zone) != 8 ||
      (sign != '+' && sign != '-'))
    return 0;
  for (guint i = 0; i < G_N_ELEMENTS (months); i++)
    if (g_ascii_strcasecmp (month_name, months[i]) == 0)
      month = i + 1;
  if (month == 0 || zone % 100 >= 60 || zone > 2359)
    return 0;

  tz = g_time_zone_new_offset ((sign == '-' ? -1 : 1) * ((zone / 100) * 3600 + (zone % 100) * 60));
  dt = g_date_time_new (tz, year, month, day, hour, minute, second);
  return dt ? g_date_time_to_unix (dt) : 0;
}

/* Modified UTF-7 */

static const char mutf7_alphabet[] =
  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

static int
mutf7_value (char c)
{
  const char *p = c ? strchr (mutf7_alphabet, c) : NULL;

  return p ? p - mutf7_alphabet : -1;
}

/**
 * mailer_imap_utf7_decode:
 *
 * Returns: (nullable): @name in UTF-8, or %NULL when it is not valid
 *   modified UTF-7
 */
char *
mailer_imap_utf7_decode (const char *name)
{
  g_autoptr(GString) out = g_string_new (NULL);
  const char *p = name;

  while (*p != '\0')
    {
      if ((guchar) *p >= 0x80 || (guchar) *p < 0x20)
        return NULL;
      if (*p != '&')
        {
          g_string_append_c (out, *p++);
          continue;
        }
      p++;
      if (*p == '-')
        {
          g_string_append_c (out, '&');
          p++;
          continue;
        }

      {
        guint32 bits = 0;
        int nbits = 0;
        gunichar2 pending_high = 0;
        gboolean any = FALSE;

        while (*p != '-')
          {
            int v = mutf7_value (*p);

            if (v < 0)
              return NULL;
            bits = (bits << 6) | v;
            nbits += 6;
            p++;
            if (nbits >= 16)
              {
                gunichar2 unit = (bits >> (nbits - 16)) & 0xffff;

                nbits -= 16;
                any = TRUE;
                if (unit >= 0xd800 && unit < 0xdc00)
                  {
                    if (pending_high)
                      return NULL;
                    pending_high = unit;
                  }
                else if (unit >= 0xdc00 && unit < 0xe000)
                  {
                    if (!pending_high)
                      return NULL;
                    g_string_append_unichar (out, 0x10000 + ((pending_high - 0xd800) << 10) + (unit - 0xdc00));
                    pending_high = 0;
                  }
                else
                  {
                    if (pending_high || unit < 0x20 || (unit >= 0x20 && unit < 0x7f))
                      return NULL;   /* printable ASCII must not be encoded */
                    g_string_append_unichar (out, unit);
                  }
              }
          }
        p++;  /* - */
        /* Leftover bits must be zero padding, shorter than a unit. */
        if (!any || pending_high || nbits >= 6 || (bits & ((1u << nbits) - 1)) != 0)
          return NULL;
      }
    }
  return g_string_free (g_steal_pointer (&out), FALSE);
}

char *
mailer_imap_utf7_encode (const char *utf8)
{
  GString *out = g_string_new (NULL);
  const char *p = utf8;

  g_return_val_if_fail (g_utf8_validate (utf8, -1, NULL), NULL);

  while (*p != '\0')
    {
      gunichar c = g_utf8_get_char (p);

      if (c >= 0x20 && c < 0x7f)
        {
          g_string_append (out, c == '&' ? "&-" : (char[]) { (char) c, 0 });
          p = g_utf8_next_char (p);
          continue;
        }

      g_string_append_c (out, '&');
      {
        guint32 bits = 0;
        int nbits = 0;

        while (*p != '\0' && ((c = g_utf8_get_char (p)) < 0x20 || c >= 0x7f))
          {
            gunichar2 units[2];
            int n = 1;

            if (c >= 0x10000)
              {
                units[0] = 0xd800 + ((c - 0x10000) >> 10);
                units[1] = 0xdc00 + ((c - 0x10000) & 0x3ff);
                n = 2;
              }
            else
              units[0] = c;
            for (int i = 0; i < n; i++)
              {
                bits = (bits << 16) | units[i];
                nbits += 16;
                while (nbits >= 6)
                  {
                    g_string_append_c (out, mutf7_alphabet[(bits >> (nbits - 6)) & 0x3f]);
                    nbits -= 6;
                  }
              }
            p = g_utf8_next_char (p);
          }
        if (nbits > 0)
          g_string_append_c (out, mutf7_alphabet[(bits << (6 - nbits)) & 0x3f]);
      }
      g_string_append_c (out, '-');
    }
  return g_string_free (out, FALSE);
}
