/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The IMAP response layer on its own.  Server transcripts in the manner of
 * Dovecot, Cyrus, Gmail, Exchange and the RFC examples (tests/data/imap)
 * are framed whole and split at every byte, then decoded and checked item
 * by item; hostile input (oversized literals and lines, deep nesting,
 * broken strings, NULs, 8-bit junk) fails cleanly or is kept binary-safe;
 * modified UTF-7, sequence sets and dates on their own.
 */
#include "config.h"

#include <string.h>

#include "mailer-imap-parser.h"

/* Framing */

typedef struct
{
  GPtrArray *frames;    /* GBytes */
  int error;            /* MailerImapError, or -1 when the reader did not fail */
  gsize pending;
} Framing;

static void
framing_clear (Framing *framing)
{
  g_clear_pointer (&framing->frames, g_ptr_array_unref);
}

/* Feeds @data to a new reader, the first @split bytes and then the rest
 * when @split is not 0, else in pieces of @chunk bytes, taking every
 * response out as soon as the reader has it. */
static void
run_reader (Framing    *out,
            const char *data,
            gsize       len,
            gsize       max_line,
            gsize       max_literal,
            gsize       chunk,
            gsize       split)
{
  g_autoptr(MailerImapReader) reader = mailer_imap_reader_new (max_line, max_literal);
  gsize fed = 0;

  out->frames = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  out->error = -1;
  while (TRUE)
    {
      g_autoptr(GError) error = NULL;
      GBytes *frame = mailer_imap_reader_next (reader, &error);
      gsize n;

      if (frame != NULL)
        {
          g_ptr_array_add (out->frames, frame);
          continue;
        }
      if (error != NULL)
        {
          g_autoptr(GError) again = NULL;

          g_assert_true (error->domain == MAILER_IMAP_ERROR);
          out->error = error->code;
          /* A broken stream stays broken, whatever comes after. */
          mailer_imap_reader_feed (reader, "* OK\r\n", 6);
          g_assert_null (mailer_imap_reader_next (reader, &again));
          g_assert_error (again, MAILER_IMAP_ERROR, error->code);
          break;
        }
      if (fed == len)
        break;
      if (split > 0)
        n = fed < split ? split - fed : len - fed;
      else
        n = MIN (chunk, len - fed);
      mailer_imap_reader_feed (reader, data + fed, n);
      fed += n;
    }
  out->pending = out->error < 0 ? mailer_imap_reader_get_pending (reader) : 0;
}

static void
assert_same_framing (const Framing *a,
                     const Framing *b)
{
  g_assert_cmpint (a->error, ==, b->error);
  g_assert_cmpuint (a->frames->len, ==, b->frames->len);
  for (guint i = 0; i < a->frames->len; i++)
    g_assert_true (g_bytes_equal (a->frames->pdata[i], b->frames->pdata[i]));
  g_assert_cmpuint (a->pending, ==, b->pending);
}

/* Frames @data whole, split in two at every byte (every few bytes for big
 * input) and in small pieces: the responses must not depend on how the
 * bytes arrived.  Returns the framing of the whole input in @whole. */
static void
frame_every_way (Framing    *whole,
                 const char *data,
                 gsize       len,
                 gsize       max_line,
                 gsize       max_literal)
{
  static const gsize chunks[] = { 1, 2, 3, 5, 7, 64 };
  gsize step = len > 16384 ? len / 4096 : 1;

  run_reader (whole, data, len, max_line, max_literal, MAX (len, 1), 0);
  for (gsize split = 1; split < len; split += step)
    {
      Framing f;

      run_reader (&f, data, len, max_line, max_literal, 0, split);
      assert_same_framing (whole, &f);
      framing_clear (&f);
    }
  for (guint i = 0; i < G_N_ELEMENTS (chunks); i++)
    {
      Framing f;

      run_reader (&f, data, len, max_line, max_literal, chunks[i], 0);
      assert_same_framing (whole, &f);
      framing_clear (&f);
    }
}

/* The reader's verdict on @data, fed every way: -1 when it frames
 * @n_frames responses without failing, else the error code. */
static int
frame_result (const char *data,
              gsize       len,
              gsize       max_line,
              gsize       max_literal,
              guint      *n_frames)
{
  Framing whole;
  int error;

  frame_every_way (&whole, data, len, max_line, max_literal);
  error = whole.error;
  if (n_frames != NULL)
    *n_frames = whole.frames->len;
  framing_clear (&whole);
  return error;
}

/* Rendering, so that a decoded tree can be compared as text */

static void
append_escaped (GString      *out,
                const guchar *s,
                gsize         len)
{
  for (gsize i = 0; i < len; i++)
    {
      if (s[i] == '"' || s[i] == '\\')
        g_string_append_printf (out, "\\%c", s[i]);
      else if (s[i] < 0x20 || s[i] == 0x7f)
        g_string_append_printf (out, "\\x%02x", s[i]);
      else
        g_string_append_c (out, s[i]);
    }
}

/* Atoms and numbers as they are, strings (quoted or literal) in quotes,
 * NIL, lists in parentheses. */
static void
dump_value (GString               *out,
            const MailerImapValue *value)
{
  switch (value->type)
    {
    case MAILER_IMAP_VALUE_ATOM:
      g_assert_cmpuint (strlen (value->atom), >, 0);
      g_string_append (out, value->atom);
      break;
    case MAILER_IMAP_VALUE_NUMBER:
      g_string_append_printf (out, "%" G_GUINT64_FORMAT, value->number);
      break;
    case MAILER_IMAP_VALUE_NIL:
      g_string_append (out, "NIL");
      break;
    case MAILER_IMAP_VALUE_STRING:
      {
        gsize len = 0;
        const guchar *s = g_bytes_get_data (value->string, &len);

        /* Quoted or literal, the data is NUL-terminated. */
        g_assert_true (s[len] == '\0');
        g_string_append_c (out, '"');
        append_escaped (out, s, len);
        g_string_append_c (out, '"');
      }
      break;
    case MAILER_IMAP_VALUE_LIST:
      g_string_append_c (out, '(');
      for (guint i = 0; i < value->list->len; i++)
        {
          if (i > 0)
            g_string_append_c (out, ' ');
          dump_value (out, value->list->pdata[i]);
        }
      g_string_append_c (out, ')');
      break;
    default:
      g_assert_not_reached ();
    }
}

static char *
dump_response (const MailerImapResponse *r)
{
  static const char * const statuses[] = { NULL, "OK", "NO", "BAD", "PREAUTH", "BYE" };
  GString *out = g_string_new (NULL);

  g_assert_nonnull (r->text);
  g_assert_true (g_utf8_validate (r->text, -1, NULL));
  g_assert_nonnull (r->args);
  g_assert_nonnull (r->code_args);

  switch (r->kind)
    {
    case MAILER_IMAP_RESPONSE_CONTINUATION:
      g_string_append_c (out, '+');
      if (r->text[0] != '\0')
        g_string_append_printf (out, " %s", r->text);
      return g_string_free (out, FALSE);
    case MAILER_IMAP_RESPONSE_TAGGED:
      g_assert_nonnull (r->tag);
      g_string_append (out, r->tag);
      break;
    case MAILER_IMAP_RESPONSE_UNTAGGED:
      g_assert_null (r->tag);
      g_string_append_c (out, '*');
      break;
    default:
      g_assert_not_reached ();
    }

  if (r->status != MAILER_IMAP_STATUS_NONE)
    {
      g_assert_null (r->name);
      g_assert_cmpuint (r->args->len, ==, 0);
      g_string_append_printf (out, " %s", statuses[r->status]);
      if (r->code != NULL)
        {
          g_string_append_printf (out, " [%s", r->code);
          for (guint i = 0; i < r->code_args->len; i++)
            {
              g_string_append_c (out, ' ');
              dump_value (out, r->code_args->pdata[i]);
            }
          g_string_append_c (out, ']');
        }
      else
        g_assert_cmpuint (r->code_args->len, ==, 0);
      if (r->text[0] != '\0')
        g_string_append_printf (out, " %s", r->text);
    }
  else
    {
      g_assert_nonnull (r->name);
      g_assert_cmpstr (r->text, ==, "");
      g_assert_null (r->code);
      if (r->has_number)
        g_string_append_printf (out, " %" G_GUINT64_FORMAT, r->number);
      g_string_append_printf (out, " %s", r->name);
      for (guint i = 0; i < r->args->len; i++)
        {
          g_string_append_c (out, ' ');
          dump_value (out, r->args->pdata[i]);
        }
    }
  return g_string_free (out, FALSE);
}

/* Transcripts */

typedef struct
{
  GPtrArray *responses;   /* MailerImapResponse */
  GPtrArray *frames;      /* GBytes, the same order */
} Transcript;

static void
transcript_clear (Transcript *t)
{
  g_clear_pointer (&t->responses, g_ptr_array_unref);
  g_clear_pointer (&t->frames, g_ptr_array_unref);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Transcript, transcript_clear)

/* Reads tests/data/imap/@name, frames it every way, and parses every
 * response.  Responses without literals must print back as they were
 * sent: every token was read with its type and its text. */
static void
load_transcript (Transcript *t,
                 const char *name,
                 guint       n_responses)
{
  g_autofree char *path = g_test_build_filename (G_TEST_DIST, "data", "imap", name, NULL);
  g_autofree char *data = NULL;
  g_autoptr(GByteArray) joined = g_byte_array_new ();
  gsize len = 0;
  Framing whole;

  g_assert_true (g_file_get_contents (path, &data, &len, NULL));
  frame_every_way (&whole, data, len, 0, 0);
  g_assert_cmpint (whole.error, ==, -1);
  g_assert_cmpuint (whole.pending, ==, 0);

  t->responses = g_ptr_array_new_with_free_func ((GDestroyNotify) mailer_imap_response_free);
  t->frames = g_steal_pointer (&whole.frames);
  for (guint i = 0; i < t->frames->len; i++)
    {
      gsize frame_len = 0;
      const char *frame = g_bytes_get_data (t->frames->pdata[i], &frame_len);
      g_autoptr(GError) error = NULL;
      MailerImapResponse *r;
      g_autofree char *dumped = NULL;

      g_byte_array_append (joined, (const guint8 *) frame, frame_len);
      g_assert_cmpuint (frame_len, >=, 2);
      g_assert_true (frame[frame_len - 2] == '\r' && frame[frame_len - 1] == '\n');

      r = mailer_imap_parse_response (frame, frame_len, &error);
      if (error != NULL)
        g_error ("%s, response %u: %s: %.*s", name, i, error->message, (int) frame_len, frame);
      g_ptr_array_add (t->responses, r);

      dumped = dump_response (r);
      if (g_strstr_len (frame, frame_len - 2, "}\r\n") == NULL)
        {
          g_autofree char *line = g_strndup (frame, frame_len - 2);
          g_auto(GStrv) parts = g_strsplit (g_strchomp (line), ")(", -1);
          g_autofree char *spaced = g_strjoinv (") (", parts);

          /* Lists printed back have a space between items; servers may
           * leave it out between lists. */
          g_assert_cmpstr (dumped, ==, spaced);
        }
    }
  /* Nothing lost, nothing added. */
  g_assert_cmpmem (joined->data, joined->len, data, len);
  g_assert_cmpuint (t->responses->len, ==, n_responses);
}

#define R(t, i) ((MailerImapResponse *) (t)->responses->pdata[(i)])

static void
assert_dump (const MailerImapResponse *r,
             const char               *expected)
{
  g_autofree char *dumped = dump_response (r);

  g_assert_cmpstr (dumped, ==, expected);
}

static void
assert_status (const MailerImapResponse *r,
               MailerImapResponseKind    kind,
               const char               *tag,
               MailerImapStatus          status,
               const char               *code,
               const char               *text)
{
  g_assert_cmpint (r->kind, ==, kind);
  g_assert_cmpstr (r->tag, ==, tag);
  g_assert_cmpint (r->status, ==, status);
  g_assert_cmpstr (r->code, ==, code);
  g_assert_cmpstr (r->text, ==, text);
}

static guint64
code_number (const MailerImapResponse *r,
             guint                     i)
{
  guint64 n = 0;

  g_assert_cmpuint (i, <, r->code_args->len);
  g_assert_true (mailer_imap_value_get_number (r->code_args->pdata[i], &n));
  return n;
}

/* Values in a tree */

static MailerImapValue *
nth (const MailerImapValue *list,
     guint                  i)
{
  GPtrArray *items = mailer_imap_value_get_list (list);

  g_assert_nonnull (items);
  g_assert_cmpuint (i, <, items->len);
  return items->pdata[i];
}

static guint
n_items (const MailerImapValue *list)
{
  GPtrArray *items = mailer_imap_value_get_list (list);

  g_assert_nonnull (items);
  return items->len;
}

static const char *
str (const MailerImapValue *value)
{
  g_assert_cmpint (value->type, ==, MAILER_IMAP_VALUE_STRING);
  return mailer_imap_value_get_string (value, NULL);
}

static guint64
num (const MailerImapValue *value)
{
  guint64 n = 0;

  g_assert_true (mailer_imap_value_get_number (value, &n));
  return n;
}

/* The value after the item name @key in a FETCH response's list. */
static MailerImapValue *
fetch_item (const MailerImapResponse *r,
            const char               *key)
{
  MailerImapValue *items = r->args->pdata[0];

  for (guint i = 0; i + 1 < n_items (items); i += 2)
    if (mailer_imap_atom_equal (nth (items, i), key))
      return nth (items, i + 1);
  g_error ("no %s in the FETCH response", key);
  return NULL;
}

/* Decoders */

static int
compare_keys (gconstpointer a,
              gconstpointer b,
              gpointer      user_data)
{
  return strcmp (*(const char * const *) a, *(const char * const *) b);
}

static char *
describe_fetch (const MailerImapFetch *fetch)
{
  GString *out = g_string_new (NULL);

  g_string_append_printf (out, "seq=%u uid=%u", fetch->seq, fetch->uid);
  if (fetch->has_flags)
    {
      g_autofree char *flags = g_strjoinv (" ", fetch->flags);

      g_string_append_printf (out, " flags=(%s)", flags);
    }
  else
    g_assert_null (fetch->flags);
  if (fetch->internal_date != 0)
    g_string_append_printf (out, " date=%" G_GINT64_FORMAT, fetch->internal_date);
  if (fetch->size >= 0)
    g_string_append_printf (out, " size=%" G_GINT64_FORMAT, fetch->size);
  if (fetch->modseq != 0)
    g_string_append_printf (out, " modseq=%" G_GUINT64_FORMAT, fetch->modseq);
  if (fetch->envelope != NULL)
    g_string_append (out, " envelope");
  if (fetch->bodystructure != NULL)
    g_string_append (out, " body");
  if (fetch->sections != NULL)
    {
      g_autofree const char **keys = (const char **) g_hash_table_get_keys_as_array (fetch->sections, NULL);

      g_qsort_with_data (keys, g_hash_table_size (fetch->sections), sizeof (char *), compare_keys, NULL);
      for (guint i = 0; keys[i] != NULL; i++)
        {
          gsize len = 0;
          const guchar *data = g_bytes_get_data (g_hash_table_lookup (fetch->sections, keys[i]), &len);

          g_string_append_printf (out, " [%s]=\"", keys[i]);
          append_escaped (out, data, len);
          g_string_append_c (out, '"');
        }
    }
  return g_string_free (out, FALSE);
}

static MailerImapFetch *
parse_fetch (const MailerImapResponse *r)
{
  g_autoptr(GError) error = NULL;
  MailerImapFetch *fetch = mailer_imap_parse_fetch (r, &error);

  g_assert_no_error (error);
  g_assert_nonnull (fetch);
  return fetch;
}

static void
assert_fetch (const MailerImapResponse *r,
              const char               *expected)
{
  g_autoptr(MailerImapFetch) fetch = parse_fetch (r);
  g_autofree char *described = describe_fetch (fetch);

  g_assert_cmpstr (described, ==, expected);
}

/* Every LIST response of @t, decoded: "attributes|delimiter|name" lines,
 * "-" for no delimiter. */
static char *
describe_lists (const Transcript *t,
                gboolean          utf8_names)
{
  GString *out = g_string_new (NULL);

  for (guint i = 0; i < t->responses->len; i++)
    {
      g_autoptr(GError) error = NULL;
      MailerImapListEntry *entry;
      g_autofree char *attributes = NULL;

      if (g_strcmp0 (R (t, i)->name, "LIST") != 0)
        continue;
      entry = mailer_imap_parse_list (R (t, i), utf8_names, &error);
      g_assert_no_error (error);
      g_assert_true (g_utf8_validate (entry->name, -1, NULL));
      attributes = g_strjoinv (" ", entry->attributes);
      g_string_append_printf (out, "%s|%c|%s\n", attributes,
                              entry->delimiter ? entry->delimiter : '-', entry->name);
      mailer_imap_list_entry_free (entry);
    }
  return g_string_free (out, FALSE);
}

/* A BODYSTRUCTURE (RFC 3501 section 7.4.2, RFC 9051 section 7.5.2) told
 * back in short: "type/subtype size" for parts, "MULTI(...)" for
 * multiparts, with the extension data that matters to a mail reader. */
static void
describe_body (GString               *out,
               const MailerImapValue *body)
{
  if (mailer_imap_value_get_list (nth (body, 0)) != NULL)
    {
      guint i = 0;

      while (mailer_imap_value_get_list (nth (body, i)) != NULL)
        i++;
      g_string_append_printf (out, "%s(", str (nth (body, i)));
      for (guint j = 0; j < i; j++)
        {
          if (j > 0)
            g_string_append (out, ", ");
          describe_body (out, nth (body, j));
        }
      g_string_append_c (out, ')');
      /* body-ext-mpart: parameters, disposition, language, location */
      if (i + 1 < n_items (body) && !mailer_imap_value_is_nil (nth (body, i + 1)))
        g_string_append_printf (out, " %s=%s", str (nth (nth (body, i + 1), 0)),
                                str (nth (nth (body, i + 1), 1)));
      if (i + 3 < n_items (body) && !mailer_imap_value_is_nil (nth (body, i + 3)))
        g_string_append_printf (out, " lang=%s", str (nth (body, i + 3)));
    }
  else
    {
      const char *type = str (nth (body, 0));
      guint ext;

      g_string_append_printf (out, "%s/%s %" G_GUINT64_FORMAT, type, str (nth (body, 1)),
                              num (nth (body, 6)));
      if (!mailer_imap_value_is_nil (nth (body, 3)))
        g_string_append_printf (out, " id=%s", str (nth (body, 3)));
      if (g_ascii_strcasecmp (type, "text") == 0)
        {
          g_string_append_printf (out, " lines=%" G_GUINT64_FORMAT, num (nth (body, 7)));
          ext = 8;
        }
      else if (g_ascii_strcasecmp (type, "message") == 0 &&
               g_ascii_strcasecmp (str (nth (body, 1)), "rfc822") == 0)
        {
          g_assert_cmpuint (n_items (nth (body, 7)), ==, 10);
          g_string_append_printf (out, " [%s] {", str (nth (nth (body, 7), 1)));
          describe_body (out, nth (body, 8));
          g_string_append_printf (out, "} lines=%" G_GUINT64_FORMAT, num (nth (body, 9)));
          ext = 10;
        }
      else
        ext = 7;
      /* body-ext-1part: MD5, disposition, ... */
      if (ext + 1 < n_items (body) && !mailer_imap_value_is_nil (nth (body, ext + 1)))
        {
          const MailerImapValue *dsp = nth (body, ext + 1);

          g_string_append_printf (out, " %s", str (nth (dsp, 0)));
          for (guint i = 0; i + 1 < n_items (nth (dsp, 1)); i += 2)
            g_string_append_printf (out, " %s=%s", str (nth (nth (dsp, 1), i)),
                                    str (nth (nth (dsp, 1), i + 1)));
        }
    }
}

static void
assert_body (const MailerImapValue *body,
             const char            *expected)
{
  g_autoptr(GString) out = g_string_new (NULL);

  g_assert_nonnull (body);
  describe_body (out, body);
  g_assert_cmpstr (out->str, ==, expected);
}

/* ENVELOPE: date, subject, from, sender, reply-to, to, cc, bcc,
 * in-reply-to, message-id; addresses are (name adl mailbox host). */
static char *
describe_addresses (const MailerImapValue *list)
{
  GString *out = g_string_new (NULL);

  if (mailer_imap_value_is_nil (list))
    return g_string_free (out, FALSE);
  for (guint i = 0; i < n_items (list); i++)
    {
      const MailerImapValue *a = nth (list, i);

      g_assert_cmpuint (n_items (a), ==, 4);
      g_assert_true (mailer_imap_value_is_nil (nth (a, 1)));
      if (i > 0)
        g_string_append (out, ", ");
      if (!mailer_imap_value_is_nil (nth (a, 0)))
        g_string_append_printf (out, "%s ", str (nth (a, 0)));
      if (mailer_imap_value_is_nil (nth (a, 3)) && mailer_imap_value_is_nil (nth (a, 2)))
        g_string_append_c (out, ';');   /* end of a group (RFC 3501 section 7.4.2) */
      else if (mailer_imap_value_is_nil (nth (a, 3)))
        g_string_append_printf (out, "%s:", str (nth (a, 2)));   /* start of a group */
      else
        g_string_append_printf (out, "<%s@%s>", str (nth (a, 2)), str (nth (a, 3)));
    }
  return g_string_free (out, FALSE);
}

static void
assert_address (const MailerImapValue *envelope,
                guint                  field,
                const char            *expected)
{
  g_autofree char *described = describe_addresses (nth (envelope, field));

  g_assert_cmpstr (described, ==, expected);
}

/* Sequence sets */

static char *
describe_ranges (const char *set,
                 guint32     star)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GArray) ranges = mailer_imap_parse_sequence_set (set, star, &error);
  GString *out;

  if (ranges == NULL)
    {
      g_assert_error (error, MAILER_IMAP_ERROR, MAILER_IMAP_ERROR_PARSE);
      return NULL;
    }
  g_assert_no_error (error);
  g_assert_cmpuint (ranges->len % 2, ==, 0);
  out = g_string_new (NULL);
  for (guint i = 0; i < ranges->len; i += 2)
    {
      guint32 first = g_array_index (ranges, guint32, i);
      guint32 last = g_array_index (ranges, guint32, i + 1);

      g_assert_cmpuint (first, <=, last);
      g_string_append_printf (out, "%s%u-%u", i > 0 ? " " : "", first, last);
    }
  return g_string_free (out, FALSE);
}

static char *
code_set (const MailerImapResponse *r,
          guint                     i)
{
  const char *set;

  g_assert_cmpuint (i, <, r->code_args->len);
  set = mailer_imap_value_get_atom (r->code_args->pdata[i]);
  if (set == NULL)
    return g_strdup_printf ("%" G_GUINT64_FORMAT, code_number (r, i));
  return g_strdup (set);
}

/* The transcripts */

static void
test_dovecot (void)
{
  g_auto(Transcript) t = { 0 };
  g_autofree char *lists = NULL;
  g_autofree char *refs = NULL;
  g_autofree char *vanished = NULL;
  g_autofree char *copy_src = NULL;
  g_autofree char *copy_dst = NULL;
  MailerImapValue *envelope;

  load_transcript (&t, "dovecot.txt", 46);

  /* Greeting, failed and good login */
  assert_status (R (&t, 0), MAILER_IMAP_RESPONSE_UNTAGGED, NULL, MAILER_IMAP_STATUS_OK,
                 "CAPABILITY", "Dovecot (Debian) ready.");
  g_assert_cmpuint (R (&t, 0)->code_args->len, ==, 9);
  g_assert_true (mailer_imap_atom_equal (R (&t, 0)->code_args->pdata[0], "imap4rev1"));
  g_assert_cmpstr (mailer_imap_value_get_atom (R (&t, 0)->code_args->pdata[6]), ==, "LITERAL+");
  g_assert_cmpstr (mailer_imap_value_get_atom (R (&t, 0)->code_args->pdata[8]), ==, "AUTH=PLAIN");
  assert_status (R (&t, 1), MAILER_IMAP_RESPONSE_TAGGED, "a1", MAILER_IMAP_STATUS_NO,
                 "AUTHENTICATIONFAILED", "Authentication failed.");
  g_assert_cmpuint (R (&t, 1)->code_args->len, ==, 0);
  assert_status (R (&t, 2), MAILER_IMAP_RESPONSE_TAGGED, "a2", MAILER_IMAP_STATUS_OK,
                 "CAPABILITY", "Logged in");
  g_assert_cmpuint (R (&t, 2)->code_args->len, ==, 38);
  g_assert_cmpstr (mailer_imap_value_get_atom (R (&t, 2)->code_args->pdata[37]), ==, "SPECIAL-USE");
  assert_dump (R (&t, 3), "* ENABLED CONDSTORE");

  /* LIST: atoms, quoted names, mUTF-7, and names Dovecot sends unquoted
   * because every character is an ASTRING-CHAR: digits only, "]", "[". */
  lists = describe_lists (&t, FALSE);
  g_assert_cmpstr (lists, ==,
                   "\\HasChildren|/|Archive\n"
                   "\\HasNoChildren|/|Archive/2024\n"
                   "\\HasNoChildren \\Drafts|/|Drafts\n"
                   "\\HasNoChildren \\Junk|/|Junk\n"
                   "\\HasNoChildren \\Sent|/|Sent\n"
                   "\\HasNoChildren \\Trash|/|Trash\n"
                   "\\HasNoChildren|/|Entwürfe alt\n"
                   "\\HasNoChildren|/|2024\n"
                   "\\HasNoChildren|/|foo]bar\n"
                   "\\HasNoChildren|/|[x\n"
                   "\\HasNoChildren|/|INBOX\n");

  /* SELECT */
  assert_dump (R (&t, 17), "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Forwarded $Junk)");
  g_assert_cmpstr (R (&t, 18)->code, ==, "PERMANENTFLAGS");
  g_assert_cmpuint (n_items (R (&t, 18)->code_args->pdata[0]), ==, 8);
  g_assert_cmpstr (mailer_imap_value_get_atom (nth (R (&t, 18)->code_args->pdata[0], 7)), ==, "\\*");
  g_assert_true (R (&t, 19)->has_number);
  g_assert_cmpuint (R (&t, 19)->number, ==, 3);
  g_assert_cmpstr (R (&t, 19)->name, ==, "EXISTS");
  g_assert_cmpuint (R (&t, 19)->args->len, ==, 0);
  g_assert_cmpuint (R (&t, 20)->number, ==, 0);
  g_assert_cmpstr (R (&t, 20)->name, ==, "RECENT");
  g_assert_cmpuint (code_number (R (&t, 21), 0), ==, 3);
  g_assert_cmpstr (R (&t, 22)->code, ==, "UIDVALIDITY");
  g_assert_cmpuint (code_number (R (&t, 22), 0), ==, 1700000001);
  g_assert_cmpstr (R (&t, 23)->code, ==, "UIDNEXT");
  g_assert_cmpuint (code_number (R (&t, 23), 0), ==, 8);
  g_assert_cmpstr (R (&t, 24)->code, ==, "HIGHESTMODSEQ");
  g_assert_cmpuint (code_number (R (&t, 24), 0), ==, 42);
  assert_status (R (&t, 25), MAILER_IMAP_RESPONSE_TAGGED, "a5", MAILER_IMAP_STATUS_OK, "READ-WRITE",
                 "Select completed (0.002 + 0.000 + 0.001 secs).");

  /* FETCH: an empty header section, a folded one, a literal subject */
  assert_fetch (R (&t, 26), "seq=1 uid=5 flags=(\\Seen) date=1784272447 size=2417 modseq=38 envelope "
                            "[HEADER.FIELDS (REFERENCES)]=\"\\x0d\\x0a\"");
  refs = g_strdup_printf ("seq=2 uid=6 flags=(\\Seen \\Answered $Forwarded) date=1783490759 size=5120 "
                          "modseq=40 envelope [HEADER.FIELDS (REFERENCES)]=\"%s\"",
                          "References: <8f3e1a2b9c4d@example.org>\\x0d\\x0a"
                          " <CAMn0wak7s2H1q@mail.example.com>\\x0d\\x0a\\x0d\\x0a");
  assert_fetch (R (&t, 27), refs);
  assert_fetch (R (&t, 28), "seq=3 uid=7 flags=() date=1798741799 size=0 modseq=41 envelope "
                            "[HEADER.FIELDS (REFERENCES)]=\"\\x0d\\x0a\"");

  envelope = fetch_item (R (&t, 26), "ENVELOPE");
  g_assert_cmpuint (n_items (envelope), ==, 10);
  g_assert_cmpstr (str (nth (envelope, 0)), ==, "Fri, 17 Jul 2026 09:14:02 +0200");
  g_assert_cmpstr (str (nth (envelope, 1)), ==, "Keys for the storage room");
  assert_address (envelope, 2, "Dorota Kowalski <d.kowalski@example.com>");
  assert_address (envelope, 5, "<team@example.org>");
  for (guint i = 6; i <= 8; i++)
    g_assert_true (mailer_imap_value_is_nil (nth (envelope, i)));
  g_assert_cmpstr (str (nth (envelope, 9)), ==, "<20260717071402.GA1234@example.com>");

  /* RFC 2047 words are the reader's business: they arrive as sent. */
  envelope = fetch_item (R (&t, 27), "ENVELOPE");
  g_assert_cmpstr (str (nth (envelope, 1)), ==,
                   "=?UTF-8?B?UsOpdW5pb24gZGUgbCfDqXF1aXBl?= =?UTF-8?Q?=E2=80=94_ordre_du_jour?=");
  assert_address (envelope, 2, "=?ISO-8859-1?Q?Am=E9lie_Lef=E8vre?= <amelie@example.net>");
  assert_address (envelope, 5, "undisclosed-recipients:, ;");
  /* Escaped quotes and backslashes in a quoted string */
  assert_address (envelope, 6, "=?UTF-8?Q?Beno=C3=AEt_Girard?= <benoit@example.org>, "
                               "Say \"hi\" \\ bye <hi@example.org>");
  g_assert_true (mailer_imap_value_is_nil (nth (envelope, 7)));
  g_assert_cmpstr (str (nth (envelope, 8)), ==, "<8f3e1a2b9c4d@example.org>");

  /* A literal inside ENVELOPE, 8-bit as sent; everything else NIL */
  envelope = fetch_item (R (&t, 28), "ENVELOPE");
  g_assert_true (mailer_imap_value_is_nil (nth (envelope, 0)));
  g_assert_cmpstr (str (nth (envelope, 1)), ==, "Grüße aus München");
  for (guint i = 2; i < 10; i++)
    g_assert_true (mailer_imap_value_is_nil (nth (envelope, i)));

  /* IDLE */
  assert_dump (R (&t, 30), "+ idling");
  g_assert_cmpint (R (&t, 30)->kind, ==, MAILER_IMAP_RESPONSE_CONTINUATION);
  g_assert_cmpuint (R (&t, 31)->number, ==, 4);
  assert_fetch (R (&t, 33), "seq=2 uid=0 flags=(\\Seen \\Answered \\Flagged $Forwarded) modseq=44");

  /* MOVE (RFC 6851): COPYUID first, then the EXPUNGE */
  assert_status (R (&t, 35), MAILER_IMAP_RESPONSE_UNTAGGED, NULL, MAILER_IMAP_STATUS_OK, "COPYUID",
                 "Moved UIDs.");
  g_assert_cmpuint (code_number (R (&t, 35), 0), ==, 1700000002);
  copy_src = code_set (R (&t, 35), 1);
  copy_dst = code_set (R (&t, 35), 2);
  g_assert_cmpstr (copy_src, ==, "6");
  g_assert_cmpstr (copy_dst, ==, "12");
  assert_dump (R (&t, 36), "* 2 EXPUNGE");

  /* ESEARCH (RFC 4731) */
  g_assert_cmpstr (R (&t, 38)->name, ==, "ESEARCH");
  g_assert_cmpuint (R (&t, 38)->args->len, ==, 6);
  g_assert_true (mailer_imap_atom_equal (nth (R (&t, 38)->args->pdata[0], 0), "TAG"));
  g_assert_cmpstr (str (nth (R (&t, 38)->args->pdata[0], 1)), ==, "a9");
  vanished = describe_ranges (mailer_imap_value_get_atom (R (&t, 38)->args->pdata[3]), 0);
  g_assert_cmpstr (vanished, ==, "5-5 7-8");
  g_assert_cmpuint (num (R (&t, 38)->args->pdata[5]), ==, 3);

  /* APPEND (RFC 4315) */
  assert_dump (R (&t, 40), "+ OK");
  g_assert_cmpstr (R (&t, 41)->code, ==, "APPENDUID");
  g_assert_cmpuint (code_number (R (&t, 41), 0), ==, 1700000002);
  g_assert_cmpuint (code_number (R (&t, 41), 1), ==, 13);

  assert_status (R (&t, 42), MAILER_IMAP_RESPONSE_TAGGED, "a11", MAILER_IMAP_STATUS_NO, "NONEXISTENT",
                 "Mailbox doesn't exist: Nope");
  assert_status (R (&t, 43), MAILER_IMAP_RESPONSE_TAGGED, "a12", MAILER_IMAP_STATUS_BAD, NULL,
                 "Error in IMAP command UID: Invalid arguments.");
  assert_status (R (&t, 44), MAILER_IMAP_RESPONSE_UNTAGGED, NULL, MAILER_IMAP_STATUS_BYE, NULL,
                 "Logging out");
  assert_status (R (&t, 45), MAILER_IMAP_RESPONSE_TAGGED, "a13", MAILER_IMAP_STATUS_OK, NULL,
                 "Logout completed (0.001 + 0.000 secs).");
}

static void
test_gmail (void)
{
  g_auto(Transcript) t = { 0 };
  g_autofree char *lists = NULL;
  g_autofree char *equipe = NULL;
  g_autofree char *src = NULL;
  g_autofree char *dst = NULL;
  MailerImapValue *labels;

  load_transcript (&t, "gmail.txt", 35);

  /* A greeting with no code, then the capabilities as data */
  assert_status (R (&t, 0), MAILER_IMAP_RESPONSE_UNTAGGED, NULL, MAILER_IMAP_STATUS_OK, NULL,
                 "Gimap ready for requests from 198.51.100.23 x7mb12345678pzq");
  g_assert_cmpstr (R (&t, 1)->name, ==, "CAPABILITY");
  g_assert_cmpuint (R (&t, 1)->args->len, ==, 16);
  g_assert_cmpstr (mailer_imap_value_get_atom (R (&t, 1)->args->pdata[8]), ==, "X-GM-EXT-1");
  assert_status (R (&t, 3), MAILER_IMAP_RESPONSE_TAGGED, "A1", MAILER_IMAP_STATUS_NO,
                 "AUTHENTICATIONFAILED", "Invalid credentials (Failure)");
  /* "+ " before a SASL response: empty text */
  g_assert_cmpint (R (&t, 4)->kind, ==, MAILER_IMAP_RESPONSE_CONTINUATION);
  g_assert_cmpstr (R (&t, 4)->text, ==, "");
  g_assert_cmpstr (mailer_imap_value_get_atom (R (&t, 5)->code_args->pdata[20]), ==,
                   "APPENDLIMIT=35651584");
  g_assert_cmpstr (R (&t, 5)->text, ==, "alex@example.com authenticated (Success)");

  /* SPECIAL-USE (RFC 6154) under a "[Gmail]" parent that cannot be
   * selected; every name quoted, even INBOX. */
  lists = describe_lists (&t, FALSE);
  g_assert_cmpstr (lists, ==,
                   "\\HasNoChildren|/|INBOX\n"
                   "\\HasChildren \\Noselect|/|[Gmail]\n"
                   "\\All \\HasNoChildren|/|[Gmail]/All Mail\n"
                   "\\Drafts \\HasNoChildren|/|[Gmail]/Drafts\n"
                   "\\HasNoChildren \\Important|/|[Gmail]/Important\n"
                   "\\HasNoChildren \\Sent|/|[Gmail]/Sent Mail\n"
                   "\\HasNoChildren \\Junk|/|[Gmail]/Spam\n"
                   "\\Flagged \\HasNoChildren|/|[Gmail]/Starred\n"
                   "\\HasNoChildren \\Trash|/|[Gmail]/Trash\n"
                   "\\HasNoChildren|/|Équipe\n"
                   "\\HasNoChildren|/|Отправленные\n");

  g_assert_cmpuint (code_number (R (&t, 20), 0), ==, 1);
  /* "[HIGHESTMODSEQ 2210447] " and nothing after it */
  assert_status (R (&t, 24), MAILER_IMAP_RESPONSE_UNTAGGED, NULL, MAILER_IMAP_STATUS_OK, "HIGHESTMODSEQ", "");
  g_assert_cmpuint (code_number (R (&t, 24), 0), ==, 2210447);
  g_assert_cmpstr (R (&t, 25)->text, ==, "INBOX selected. (Success)");

  /* X-GM-* items are left alone by the decoder but are in the tree, with
   * 64-bit ids and labels as atoms, quoted (with an escaped backslash)
   * and mUTF-7. */
  assert_fetch (R (&t, 26), "seq=1 uid=4805 flags=(\\Seen) modseq=2210001");
  g_assert_cmpuint (num (fetch_item (R (&t, 26), "X-GM-THRID")), ==, G_GUINT64_CONSTANT (1780000000000000001));
  labels = fetch_item (R (&t, 26), "X-GM-LABELS");
  g_assert_cmpuint (n_items (labels), ==, 5);
  g_assert_cmpstr (mailer_imap_value_get_atom (nth (labels, 0)), ==, "\\Important");
  g_assert_cmpstr (str (nth (labels, 1)), ==, "\\Sent");
  g_assert_cmpstr (mailer_imap_value_get_atom (nth (labels, 2)), ==, "Work");
  g_assert_cmpstr (str (nth (labels, 3)), ==, "Project X");
  equipe = mailer_imap_utf7_decode (str (nth (labels, 4)));
  g_assert_cmpstr (equipe, ==, "Équipe");

  assert_fetch (R (&t, 27), "seq=2 uid=4811 flags=($NotPhishing) date=1793724130 size=3380 modseq=2210447 "
                            "[HEADER.FIELDS (REFERENCES)]=\"References: <CAMn0wak9PqW@mail.example.com>"
                            "\\x0d\\x0a\\x0d\\x0a\"");
  g_assert_cmpuint (num (fetch_item (R (&t, 27), "X-GM-MSGID")), ==, G_GUINT64_CONSTANT (1780000000000000777));
  g_assert_cmpuint (n_items (fetch_item (R (&t, 27), "X-GM-LABELS")), ==, 0);

  /* COPYUID with ranges (RFC 4315) */
  g_assert_cmpstr (R (&t, 29)->code, ==, "COPYUID");
  g_assert_cmpuint (code_number (R (&t, 29), 0), ==, 11);
  src = describe_ranges (mailer_imap_value_get_atom (R (&t, 29)->code_args->pdata[1]), 0);
  dst = describe_ranges (mailer_imap_value_get_atom (R (&t, 29)->code_args->pdata[2]), 0);
  g_assert_cmpstr (src, ==, "4805-4806");
  g_assert_cmpstr (dst, ==, "3110-3111");
  g_assert_cmpstr (R (&t, 29)->text, ==, "(Success)");

  assert_dump (R (&t, 30), "+ idling");
  assert_status (R (&t, 33), MAILER_IMAP_RESPONSE_UNTAGGED, NULL, MAILER_IMAP_STATUS_BYE, NULL,
                 "LOGOUT Requested");
}

static void
test_exchange (void)
{
  g_auto(Transcript) t = { 0 };
  g_autofree char *lists = NULL;
  g_autofree char *src = NULL;
  g_autofree char *dst = NULL;
  g_autoptr(MailerImapFetch) fetch = NULL;
  MailerImapValue *envelope;

  load_transcript (&t, "exchange.txt", 37);

  /* Brackets in the text, not at its start, are not a response code. */
  g_assert_null (R (&t, 0)->code);
  g_assert_true (g_str_has_prefix (R (&t, 0)->text, "The Microsoft Exchange IMAP4 service is ready. [QQBN"));
  g_assert_true (g_str_has_suffix (R (&t, 0)->text, "AC4AYwBvAG0A]"));
  g_assert_true (mailer_imap_atom_equal (R (&t, 1)->args->pdata[0], "IMAP4"));
  assert_status (R (&t, 4), MAILER_IMAP_RESPONSE_TAGGED, "a1", MAILER_IMAP_STATUS_NO, NULL,
                 "AUTHENTICATE failed.");

  lists = describe_lists (&t, FALSE);
  g_assert_cmpstr (lists, ==,
                   "\\HasNoChildren|/|Archive\n"
                   "\\HasChildren|/|Calendar\n"
                   "\\HasNoChildren|/|Calendar/Birthdays\n"
                   "\\HasNoChildren \\Trash|/|Deleted Items\n"
                   "\\HasNoChildren \\Drafts|/|Drafts\n"
                   "\\Marked \\HasNoChildren|/|INBOX\n"
                   "\\HasNoChildren \\Junk|/|Junk Email\n"
                   "\\HasNoChildren|/|Outbox\n"
                   "\\HasNoChildren \\Sent|/|Sent Items\n");

  /* SELECT, in Exchange's order */
  g_assert_cmpuint (R (&t, 16)->number, ==, 12);
  g_assert_cmpuint (code_number (R (&t, 20), 0), ==, 11);
  g_assert_cmpstr (R (&t, 20)->code, ==, "UNSEEN");
  g_assert_cmpuint (code_number (R (&t, 21), 0), ==, 14);
  g_assert_cmpuint (code_number (R (&t, 22), 0), ==, 246);

  /* Literals for the subject and a display name with a comma */
  assert_fetch (R (&t, 24), "seq=11 uid=244 flags=() date=1793724130 size=18342 envelope");
  envelope = fetch_item (R (&t, 24), "ENVELOPE");
  g_assert_cmpstr (str (nth (envelope, 1)), ==, "Quarterly numbers – \"final\" version");
  assert_address (envelope, 2, "Nowak, Zofia (Finance) <z.nowak@example.com>");
  g_assert_true (mailer_imap_value_is_nil (nth (envelope, 3)));
  assert_address (envelope, 5, "Team <team@example.com>");

  /* multipart/mixed: an alternative, an attachment, a forwarded message;
   * extension data down to the language. */
  assert_fetch (R (&t, 25), "seq=12 uid=245 body");
  fetch = parse_fetch (R (&t, 25));
  g_assert_true (fetch->bodystructure == fetch_item (R (&t, 25), "BODYSTRUCTURE"));
  assert_body (fetch->bodystructure,
               "mixed(alternative(text/plain 1123 lines=37, text/html 4410 lines=110) boundary=_000_AM0PR07MB6145_, "
               "application/pdf 98232 attachment filename=Q3 report.pdf size=71778 "
               "creation-date=Tue, 03 Nov 2026 16:41:00 GMT, "
               "message/rfc822 3021 [Agenda] {text/plain 512 lines=12} lines=70) "
               "boundary=_004_AM0PR07MB6145_ lang=en-US");

  /* MOVE: COPYUID with ranges, then one EXPUNGE per message */
  src = describe_ranges (mailer_imap_value_get_atom (R (&t, 27)->code_args->pdata[1]), 0);
  dst = describe_ranges (mailer_imap_value_get_atom (R (&t, 27)->code_args->pdata[2]), 0);
  g_assert_cmpstr (src, ==, "243-244");
  g_assert_cmpstr (dst, ==, "102-103");
  assert_dump (R (&t, 28), "* 10 EXPUNGE");
  assert_dump (R (&t, 29), "* 10 EXPUNGE");
  assert_status (R (&t, 31), MAILER_IMAP_RESPONSE_TAGGED, "a7", MAILER_IMAP_STATUS_BAD, NULL,
                 "Command Argument Error. 11");
  g_assert_cmpstr (R (&t, 32)->text, ==, "IDLE accepted, awaiting DONE command.");
  assert_status (R (&t, 35), MAILER_IMAP_RESPONSE_UNTAGGED, NULL, MAILER_IMAP_STATUS_BYE, NULL,
                 "Microsoft Exchange Server IMAP4 server signing off.");
}

static void
test_cyrus (void)
{
  g_auto(Transcript) t = { 0 };
  g_autofree char *lists = NULL;
  g_autofree char *vanished = NULL;
  g_autofree char *later = NULL;
  MailerImapValue *mailboxid;

  load_transcript (&t, "cyrus.txt", 40);

  g_assert_cmpstr (R (&t, 0)->code, ==, "CAPABILITY");
  g_assert_cmpstr (R (&t, 0)->text, ==, "imap.example.org Cyrus IMAP 3.6.1-Debian-3.6.1-4 server ready");
  g_assert_cmpuint (R (&t, 1)->code_args->len, ==, 44);
  g_assert_true (g_str_has_suffix (R (&t, 1)->text, "-4567890123456789012>"));

  /* "." as the separator; mUTF-7 names (RFC 3501 section 5.1.3) */
  lists = describe_lists (&t, FALSE);
  g_assert_cmpstr (lists, ==,
                   "\\HasChildren|.|INBOX\n"
                   "\\HasNoChildren \\Drafts|.|INBOX.Drafts\n"
                   "\\HasNoChildren \\Sent|.|INBOX.Sent\n"
                   "\\HasNoChildren \\Trash|.|INBOX.Trash\n"
                   "\\HasNoChildren \\Junk|.|INBOX.Spam\n"
                   "\\HasNoChildren|.|INBOX.日本語\n"
                   "\\HasNoChildren|.|INBOX.~peter/mail/台北/日本語\n");
  g_clear_pointer (&lists, g_free);
  /* With UTF8=ACCEPT (RFC 6855) names are not decoded. */
  lists = describe_lists (&t, TRUE);
  g_assert_nonnull (strstr (lists, "|.|INBOX.&ZeVnLIqe-\n"));

  /* QRESYNC SELECT (RFC 7162 section 3.2.5.1) */
  g_assert_cmpuint (R (&t, 12)->number, ==, 100);
  g_assert_cmpuint (R (&t, 13)->number, ==, 11);
  g_assert_cmpuint (code_number (R (&t, 17), 0), ==, 67890007);
  g_assert_cmpuint (code_number (R (&t, 18), 0), ==, 600);
  g_assert_cmpstr (R (&t, 19)->code, ==, "HIGHESTMODSEQ");
  g_assert_cmpuint (code_number (R (&t, 19), 0), ==, G_GUINT64_CONSTANT (90060128194045007));
  assert_dump (R (&t, 20), "* OK [URLMECH INTERNAL] Ok");
  mailboxid = R (&t, 22)->code_args->pdata[0];
  g_assert_cmpstr (R (&t, 22)->code, ==, "MAILBOXID");
  g_assert_cmpstr (mailer_imap_value_get_atom (nth (mailboxid, 0)), ==, "Fb6e3f2a1-7d4c-4e2a-9c55-1f0a2b3c4d5e");

  g_assert_cmpstr (R (&t, 23)->name, ==, "VANISHED");
  g_assert_cmpuint (R (&t, 23)->args->len, ==, 2);
  g_assert_true (mailer_imap_atom_equal (nth (R (&t, 23)->args->pdata[0], 0), "EARLIER"));
  vanished = describe_ranges (mailer_imap_value_get_atom (R (&t, 23)->args->pdata[1]), 0);
  g_assert_cmpstr (vanished, ==, "41-41 43-116 118-118 120-211 214-540");

  assert_fetch (R (&t, 24), "seq=49 uid=117 flags=(\\Seen \\Answered) modseq=90060115194045001");
  assert_fetch (R (&t, 25), "seq=50 uid=119 flags=(\\Draft $Forwarded) modseq=90060115194045308");
  assert_fetch (R (&t, 26), "seq=51 uid=541 flags=(\\Seen $Forwarded) modseq=90060115194045001");
  assert_status (R (&t, 27), MAILER_IMAP_RESPONSE_TAGGED, "A4", MAILER_IMAP_STATUS_OK, "READ-WRITE", "Completed");

  assert_dump (R (&t, 28), "* ESEARCH (TAG \"A5\") UID MIN 117 MAX 599 COUNT 57");

  /* BODYSTRUCTURE in upper case with an inline image, and a header
   * folded with a tab, from a literal */
  assert_fetch (R (&t, 30), "seq=52 uid=542 modseq=90060128194045007 body "
                            "[HEADER.FIELDS (REFERENCES)]=\"References: <a1@example.org> <b2@example.org>"
                            "\\x0d\\x0a\\x09<c3@example.org>\\x0d\\x0a\\x0d\\x0a\"");
  assert_body (fetch_item (R (&t, 30), "BODYSTRUCTURE"),
               "MIXED(TEXT/PLAIN 842 lines=21, IMAGE/PNG 1404 id=<icon@example.org> INLINE "
               "FILENAME=mail-icon.png) BOUNDARY==-=-=");

  /* VANISHED without EARLIER, as an EXPUNGE would be */
  later = describe_ranges (mailer_imap_value_get_atom (R (&t, 32)->args->pdata[0]), 0);
  g_assert_cmpstr (later, ==, "405-405 407-407 410-410 425-425");
  assert_status (R (&t, 38), MAILER_IMAP_RESPONSE_UNTAGGED, NULL, MAILER_IMAP_STATUS_BYE, NULL,
                 "LOGOUT received");
}

static void
test_rfc_examples (void)
{
  g_auto(Transcript) t = { 0 };
  g_autofree char *lists = NULL;
  g_autofree char *copy_src = NULL;
  MailerImapValue *envelope;

  load_transcript (&t, "rfc-examples.txt", 43);

  assert_status (R (&t, 0), MAILER_IMAP_RESPONSE_UNTAGGED, NULL, MAILER_IMAP_STATUS_OK, "CAPABILITY",
                 "Server ready");
  g_assert_true (mailer_imap_atom_equal (R (&t, 0)->code_args->pdata[3], "LOGINDISABLED"));
  /* SASL challenges: base64, and nothing at all */
  assert_dump (R (&t, 4), "+ YGgGCSqGSIb3EgECAgIBAAD/////6jcyG4GE3KkTzBeBiVHeceP2CWY0SR0fAQAgAAQEBAQ=");
  g_assert_cmpint (R (&t, 5)->kind, ==, MAILER_IMAP_RESPONSE_CONTINUATION);
  g_assert_cmpstr (R (&t, 5)->text, ==, "");

  /* LIST-EXTENDED data after the name, \NonExistent, no hierarchy, and a
   * backslash as the separator */
  lists = describe_lists (&t, FALSE);
  g_assert_cmpstr (lists, ==,
                   "|/|Fruit/Apple\n"
                   "\\NonExistent \\HasChildren|/|Fruit\n"
                   "\\Noinferiors|-|Flat\n"
                   "\\HasNoChildren|\\|Public\\Shared\n"
                   "|/|INBOX\n");
  g_assert_cmpuint (R (&t, 7)->args->len, ==, 4);

  assert_status (R (&t, 12), MAILER_IMAP_RESPONSE_UNTAGGED, NULL, MAILER_IMAP_STATUS_OK, "CLOSED",
                 "Previous mailbox is now closed");
  g_assert_cmpuint (code_number (R (&t, 14), 0), ==, G_GUINT64_CONSTANT (3857529045));
  g_assert_cmpuint (n_items (R (&t, 17)->code_args->pdata[0]), ==, 3);

  /* The RFC 3501 FETCH example, with a non-extensible BODY */
  assert_fetch (R (&t, 20), "seq=12 uid=3986 flags=(\\Seen) date=837596665 size=4286 envelope body");
  assert_body (fetch_item (R (&t, 20), "BODY"), "TEXT/PLAIN 3028 lines=92");
  envelope = fetch_item (R (&t, 20), "ENVELOPE");
  g_assert_cmpstr (str (nth (envelope, 0)), ==, "Wed, 17 Jul 1996 02:23:25 -0700 (PDT)");
  assert_address (envelope, 6, "<minutes@example.net>, John Klensin <KLENSIN@example.com>");
  g_assert_cmpstr (str (nth (envelope, 9)), ==, "<B27397-0100000@example.edu>");

  assert_fetch (R (&t, 24), "seq=14 uid=0 flags=(\\Seen \\Deleted)");
  g_assert_cmpstr (R (&t, 25)->code, ==, "EXPUNGEISSUED");

  /* ESEARCH: a single number is a number, a set stays an atom */
  g_assert_cmpuint (num (R (&t, 26)->args->pdata[2]), ==, 2);
  g_assert_cmpstr (mailer_imap_value_get_atom (R (&t, 28)->args->pdata[2]), ==, "2,10:11");

  assert_dump (R (&t, 30), "* STATUS blurdybloop (MESSAGES 231 UIDNEXT 44292)");
  g_assert_cmpuint (R (&t, 32)->args->len, ==, 3);
  g_assert_cmpstr (str (nth (nth (R (&t, 32)->args->pdata[2], 1), 0)), ==, "#public/");

  g_assert_cmpuint (code_number (R (&t, 34), 0), ==, 38505);
  g_assert_cmpuint (code_number (R (&t, 34), 1), ==, 3955);
  copy_src = describe_ranges (mailer_imap_value_get_atom (R (&t, 35)->code_args->pdata[1]), 0);
  g_assert_cmpstr (copy_src, ==, "304-304 319-320");

  g_assert_cmpstr (R (&t, 36)->code, ==, "TRYCREATE");
  g_assert_cmpstr (R (&t, 37)->code, ==, "UNAVAILABLE");
  assert_status (R (&t, 38), MAILER_IMAP_RESPONSE_UNTAGGED, NULL, MAILER_IMAP_STATUS_NO, "ALERT",
                 "System shutdown in 10 minutes");
  assert_status (R (&t, 40), MAILER_IMAP_RESPONSE_UNTAGGED, NULL, MAILER_IMAP_STATUS_BAD, NULL,
                 "Empty command line");
  g_assert_cmpint (R (&t, 41)->status, ==, MAILER_IMAP_STATUS_PREAUTH);
  g_assert_cmpint (R (&t, 42)->status, ==, MAILER_IMAP_STATUS_BYE);
}

/* Framing limits */

static void
test_literals (void)
{
  static const char nul_literal[] = "* 1 FETCH (UID 9 BODY[1] {7}\r\na\0b\r\n\0c)\r\n";
  static const char literal8[] = "* 2 FETCH (BINARY[1] ~{4}\r\n\0\1\2\3)\r\n";
  static const char inner[] = "* 3 FETCH (BODY[] {7}\r\nx {3}\r\n BODY[TEXT] {0}\r\n)\r\n";
  static const char two[] = "* 4 FETCH (BODY[1] {2}\r\nab BODY[2] {3+}\r\ncde)\r\n* 5 EXISTS\r\n";
  static const char bare_lf[] = "* 6 FETCH (BODY[] {2}\nhi)\n* 7 EXISTS\n";
  static const char lower[] = "* 8 fetch (body[text] NIL rfc822.header \"X: y\" rfc822.size 12)\r\n";
  static const struct { const char *data; gsize len; guint frames; const char *fetch; } cases[] = {
    /* NULs in a literal are data */
    { nul_literal, sizeof nul_literal - 1, 1, "seq=1 uid=9 [1]=\"a\\x00b\\x0d\\x0a\\x00c\"" },
    /* literal8 (RFC 3516) */
    { literal8, sizeof literal8 - 1, 1, "seq=2 uid=0 [1]=\"\\x00\\x01\\x02\\x03\"" },
    /* "{3}" and a line end inside a literal are data, not another literal */
    { inner, sizeof inner - 1, 1, "seq=3 uid=0 []=\"x {3}\\x0d\\x0a\" [TEXT]=\"\"" },
    { two, sizeof two - 1, 2, "seq=4 uid=0 [1]=\"ab\" [2]=\"cde\"" },
    { bare_lf, sizeof bare_lf - 1, 2, "seq=6 uid=0 []=\"hi\"" },
    { lower, sizeof lower - 1, 1, "seq=8 uid=0 size=12 [HEADER]=\"X: y\" [TEXT]=\"\"" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      Framing whole;
      gsize len = 0;
      const char *frame;
      g_autoptr(GError) error = NULL;
      g_autoptr(MailerImapResponse) r = NULL;

      frame_every_way (&whole, cases[i].data, cases[i].len, 0, 0);
      g_assert_cmpint (whole.error, ==, -1);
      g_assert_cmpuint (whole.frames->len, ==, cases[i].frames);
      g_assert_cmpuint (whole.pending, ==, 0);
      frame = g_bytes_get_data (whole.frames->pdata[0], &len);
      r = mailer_imap_parse_response (frame, len, &error);
      g_assert_no_error (error);
      assert_fetch (r, cases[i].fetch);
      framing_clear (&whole);
    }
}

static void
test_literal_caps (void)
{
  g_autofree char *at_cap = NULL;
  g_autofree char *content = g_strnfill (100, 'x');
  static const char * const too_big[] = {
    "* 1 FETCH (BODY[] {99999999999999999999999}\r\n",
    "* 1 FETCH (BODY[] {18446744073709551616}\r\n",
    "* 1 FETCH (BODY[] {18446744073709551615}\r\n",
    "* 1 FETCH (BODY[] {67108865}\r\n",
    "* 1 FETCH (BODY[] ~{99999999999999999999999}\r\n",
  };
  const char *waiting;
  const char *not_literals;
  guint n = 0;

  /* Over the default cap (64 MiB) or over 64 bits: refused at once, not
   * waited for. */
  for (guint i = 0; i < G_N_ELEMENTS (too_big); i++)
    g_assert_cmpint (frame_result (too_big[i], strlen (too_big[i]), 0, 0, NULL), ==, MAILER_IMAP_ERROR_TOO_BIG);

  /* A literal of exactly the cap is fine, one more byte is not. */
  at_cap = g_strdup_printf ("* 1 FETCH (BODY[] {100}\r\n%s)\r\n", content);
  g_assert_cmpint (frame_result (at_cap, strlen (at_cap), 0, 100, &n), ==, -1);
  g_assert_cmpuint (n, ==, 1);
  g_assert_cmpint (frame_result (at_cap, strlen (at_cap), 0, 99, NULL), ==, MAILER_IMAP_ERROR_TOO_BIG);

  /* Still waiting: the literal is not all there. */
  waiting = "* 1 FETCH (BODY[] {10}\r\nabc";
  g_assert_cmpint (frame_result (waiting, strlen (waiting), 0, 0, &n), ==, -1);
  g_assert_cmpuint (n, ==, 0);

  /* Not a literal: no digits, no brace */
  not_literals = "* OK {}\r\n* OK 5}\r\n* OK {x}\r\n";
  g_assert_cmpint (frame_result (not_literals, strlen (not_literals), 0, 0, &n), ==, -1);
  g_assert_cmpuint (n, ==, 3);
}

static void
test_line_caps (void)
{
  g_autofree char *x59 = g_strnfill (59, 'x');
  g_autofree char *y200 = g_strnfill (200, 'y');
  g_autofree char *line64 = g_strdup_printf ("* OK %s\r\n* 1 EXISTS\r\n", x59);
  g_autofree char *line65 = g_strdup_printf ("* OK x%s\r\n", x59);
  g_autofree char *open65 = g_strdup_printf ("* OK x%s", x59);
  g_autofree char *open64 = g_strdup_printf ("* OK %s\r", x59);
  g_autofree char *after_literal = g_strdup_printf ("* 1 FETCH (BODY[] {200}\r\n%s FLAGS (%.40s))\r\n",
                                                    y200, y200);
  guint n = 0;

  /* A line of exactly the cap is fine, whichever way it arrives, even
   * when its CR and LF come apart; one byte more is not. */
  g_assert_cmpint (frame_result (line64, strlen (line64), 64, 0, &n), ==, -1);
  g_assert_cmpuint (n, ==, 2);
  g_assert_cmpint (frame_result (line65, strlen (line65), 64, 0, NULL), ==, MAILER_IMAP_ERROR_TOO_BIG);
  /* Refused without waiting for its end */
  g_assert_cmpint (frame_result (open65, strlen (open65), 64, 0, NULL), ==, MAILER_IMAP_ERROR_TOO_BIG);
  g_assert_cmpint (frame_result (open64, strlen (open64), 64, 0, &n), ==, -1);
  g_assert_cmpuint (n, ==, 0);
  /* Literal bytes do not count against the line cap; each line after a
   * literal has the whole cap again. */
  g_assert_cmpint (frame_result (after_literal, strlen (after_literal), 64, 1000, &n), ==, -1);
  g_assert_cmpuint (n, ==, 1);
}

/* Tokenizing */

static int
parse_error_code (const char *data,
                  gsize       len)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MailerImapResponse) r = mailer_imap_parse_response (data, len, &error);

  if (r != NULL)
    {
      g_assert_no_error (error);
      return -1;
    }
  g_assert_nonnull (error);
  g_assert_true (error->domain == MAILER_IMAP_ERROR);
  return error->code;
}

#define assert_parse_fails(s) \
  g_assert_cmpint (parse_error_code ((s), sizeof (s) - 1), ==, MAILER_IMAP_ERROR_PARSE)

static void
test_malformed (void)
{
  assert_parse_fails ("");
  assert_parse_fails ("*\r\n");
  assert_parse_fails ("* \r\n");
  assert_parse_fails ("*OK\r\n");
  assert_parse_fails ("* 4294967296 EXISTS\r\n");
  assert_parse_fails ("* 12\r\n");
  /* Unterminated quoted strings, also by an escaped quote or a line end */
  assert_parse_fails ("* 1 FETCH (ENVELOPE (\"Mon, 1 Jan 2026 NIL))\r\n");
  assert_parse_fails ("* LIST () \"/\" \"abc\\\"\r\n");
  assert_parse_fails ("* LIST () \"/\" \"ab\r\nc\"\r\n");
  /* Tagged responses must be OK, NO or BAD */
  assert_parse_fails ("a1 FETCH 1 (UID 2)\r\n");
  assert_parse_fails ("a1 PREAUTH done\r\n");
  assert_parse_fails ("a1\r\n");
  assert_parse_fails (" OK\r\n");
  /* Lists and brackets */
  assert_parse_fails ("* 1 FETCH (UID 2\r\n");
  assert_parse_fails ("* 1 FETCH (UID 2))\r\n");
  assert_parse_fails ("* OK [UIDNEXT 5 missing bracket\r\n");
  /* Literals the tokenizer cannot trust */
  assert_parse_fails ("* 1 FETCH (BODY[] {99999999999999999999999}\r\nabc)\r\n");
  assert_parse_fails ("* 1 FETCH (BODY[] {10}\r\nabc)\r\n");
  assert_parse_fails ("* 1 FETCH (BODY[] {3} abc)\r\n");
  assert_parse_fails ("* 1 FETCH (BODY[] {}\r\n)\r\n");
  assert_parse_fails ("* 1 FETCH (BODY[] {3x}\r\nabc)\r\n");
  /* Trailing data: a second response, a stray CR */
  assert_parse_fails ("* 1 EXISTS\r\n* 2 EXISTS\r\n");
  assert_parse_fails ("* OK hello\rjunk\r\n");
  assert_parse_fails ("* 1 EXISTS\r\nx");

  /* Fine: bare LF, no line end at all, lower case */
  g_assert_cmpint (parse_error_code ("* 1 EXISTS\n", 11), ==, -1);
  g_assert_cmpint (parse_error_code ("* 1 EXISTS", 10), ==, -1);
  g_assert_cmpint (parse_error_code ("a1 ok done\r\n", 12), ==, -1);
}

static void
test_depth (void)
{
  g_autoptr(GString) ok = g_string_new ("* 1 FETCH (BODYSTRUCTURE ");
  g_autoptr(GString) deep = g_string_new ("* 1 FETCH (BODYSTRUCTURE ");
  g_autoptr(GString) deeper = g_string_new ("* 1 FETCH (BODYSTRUCTURE ");
  g_autoptr(MailerImapResponse) r = NULL;
  g_autoptr(GError) error = NULL;
  const MailerImapValue *v;
  guint depth = 0;

  /* 60 levels inside the FETCH list: deeper than any real message */
  for (guint i = 0; i < 60; i++)
    g_string_append_c (ok, '(');
  g_string_append (ok, "NIL");
  for (guint i = 0; i < 61; i++)
    g_string_append_c (ok, ')');
  g_string_append (ok, "\r\n");
  r = mailer_imap_parse_response (ok->str, ok->len, &error);
  g_assert_no_error (error);
  for (v = r->args->pdata[0]; v->type == MAILER_IMAP_VALUE_LIST; v = nth (v, n_items (v) - 1))
    depth++;
  g_assert_true (mailer_imap_value_is_nil (v));
  g_assert_cmpuint (depth, ==, 61);

  /* Over the cap: an error, not a crash, even very deep */
  for (guint i = 0; i < 200; i++)
    g_string_append_c (deep, '(');
  g_string_append (deep, "NIL");
  for (guint i = 0; i < 201; i++)
    g_string_append_c (deep, ')');
  g_string_append (deep, "\r\n");
  g_assert_cmpint (parse_error_code (deep->str, deep->len), ==, MAILER_IMAP_ERROR_PARSE);
  for (guint i = 0; i < 200000; i++)
    g_string_append_c (deeper, '(');
  for (guint i = 0; i < 200000; i++)
    g_string_append_c (deeper, ')');
  g_string_append (deeper, ")\r\n");
  g_assert_cmpint (parse_error_code (deeper->str, deeper->len), ==, MAILER_IMAP_ERROR_PARSE);
}

static void
test_text (void)
{
  static const char junk[] = "* OK caf\xe9 \xff\xfe na\x01\x7f\x00ve [x]\r\n";
  static const char cont[] = "+ \xc3\xa9t\xc3\xa9\x1b[0m\r\n";
  static const char weird[] = "* NO [X-WEIRD (a \"b] rest\r\n";
  g_autoptr(MailerImapResponse) r = NULL;
  g_autoptr(MailerImapResponse) c = NULL;
  g_autoptr(MailerImapResponse) u = NULL;
  g_autoptr(GError) error = NULL;

  /* 8-bit junk, control characters and a NUL in text: valid UTF-8, no
   * control characters, nothing cut off */
  r = mailer_imap_parse_response (junk, sizeof junk - 1, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (r->text, ==, "caf\xef\xbf\xbd \xef\xbf\xbd\xef\xbf\xbd na  \xef\xbf\xbdve [x]");

  c = mailer_imap_parse_response (cont, sizeof cont - 1, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (c->text, ==, "été [0m");

  /* An unknown response code with arguments that are not IMAP: the code
   * and text are kept, the arguments dropped. */
  u = mailer_imap_parse_response (weird, strlen (weird), &error);
  g_assert_no_error (error);
  g_assert_cmpstr (u->code, ==, "X-WEIRD");
  g_assert_cmpuint (u->code_args->len, ==, 0);
  g_assert_cmpstr (u->text, ==, "rest");
}

/* FETCH and LIST decoders on bad input */

static int
fetch_error (const char *line)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MailerImapResponse) r = mailer_imap_parse_response (line, strlen (line), &error);
  g_autoptr(MailerImapFetch) fetch = NULL;

  g_assert_no_error (error);
  fetch = mailer_imap_parse_fetch (r, &error);
  if (fetch != NULL)
    {
      g_assert_no_error (error);
      return -1;
    }
  g_assert_error (error, MAILER_IMAP_ERROR, MAILER_IMAP_ERROR_PARSE);
  return error->code;
}

static void
test_fetch_errors (void)
{
  static const char * const bad[] = {
    "* 1 FETCH (UID)\r\n",
    "* 1 FETCH UID 1\r\n",
    "* 1 FETCH (UID 1) (FLAGS ())\r\n",
    "* FETCH (UID 1)\r\n",
    "* 1 EXISTS\r\n",
    "* 1 FETCH (UID 0)\r\n",
    "* 1 FETCH (UID 4294967296)\r\n",
    "* 1 FETCH (UID \"5\")\r\n",
    "* 1 FETCH (FLAGS \\Seen)\r\n",
    "* 1 FETCH (RFC822.SIZE -1)\r\n",
    "* 1 FETCH (MODSEQ 5)\r\n",
    "* 1 FETCH (MODSEQ (5 6))\r\n",
    "* 1 FETCH (MODSEQ (x))\r\n",
    "* 1 FETCH (5 6)\r\n",
    "* 1 FETCH (\"UID\" 6)\r\n",
    "* 1 FETCH (BODY[TEXT \"x\")\r\n",
  };
  g_autoptr(MailerImapResponse) r = NULL;
  const char *tolerated;

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    g_assert_cmpint (fetch_error (bad[i]), ==, MAILER_IMAP_ERROR_PARSE);

  /* Tolerated: a date that is not one, an empty list, unknown items,
   * partial sections, NIL sections */
  tolerated = "* 9 FETCH (INTERNALDATE \"yesterday\" X-UNKNOWN (a (b)) BODY[]<0> \"ab\" "
              "BODY[1.2.MIME] NIL ENVELOPE NIL)\r\n";
  r = mailer_imap_parse_response (tolerated, strlen (tolerated), NULL);
  g_assert_nonnull (r);
  assert_fetch (r, "seq=9 uid=0 []=\"ab\" [1.2.MIME]=\"\"");
  g_assert_cmpint (fetch_error ("* 9 FETCH ()\r\n"), ==, -1);
}

static char *
list_name (const char *line,
           gboolean    utf8_names)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MailerImapResponse) r = mailer_imap_parse_response (line, strlen (line), &error);
  MailerImapListEntry *entry;
  char *name;

  g_assert_no_error (error);
  entry = mailer_imap_parse_list (r, utf8_names, &error);
  if (entry == NULL)
    {
      g_assert_error (error, MAILER_IMAP_ERROR, MAILER_IMAP_ERROR_PARSE);
      return NULL;
    }
  g_assert_no_error (error);
  name = g_steal_pointer (&entry->name);
  mailer_imap_list_entry_free (entry);
  return name;
}

static void
test_list_names (void)
{
  static const char nul_name[] = "* LIST () \"/\" {3}\r\na\0b\r\n";
  static const struct { const char *line; gboolean utf8; const char *name; } cases[] = {
    { "* LIST () \"/\" 007\r\n", FALSE, "007" },
    { "* LIST () \"/\" 18446744073709551616\r\n", FALSE, "18446744073709551616" },
    { "* LSUB () \"/\" inbox\r\n", FALSE, "INBOX" },
    { "* LIST () \"/\" {5}\r\nAb Cd\r\n", FALSE, "Ab Cd" },
    { "* LIST () \"/\" ]x[y]\r\n", FALSE, "]x[y]" },
    /* Not valid mUTF-7: shown as sent */
    { "* LIST () \"/\" \"&Jjo!\"\r\n", FALSE, "&Jjo!" },
    { "* LIST () \"/\" \"Gr\xc3\xbc\xc3\x9f" "e\"\r\n", FALSE, "Grüße" },
    { "* LIST () \"/\" \"Gr\xfc\"\r\n", FALSE, "Gr\xef\xbf\xbd" },
    /* UTF8=ACCEPT */
    { "* LIST () \"/\" \"Entw&APw-rfe\"\r\n", TRUE, "Entw&APw-rfe" },
    { "* LIST () \"/\" \"Entw\xc3\xbcrfe\"\r\n", TRUE, "Entwürfe" },
    /* Broken */
    { "* LIST () \"/\"\r\n", FALSE, NULL },
    { "* LIST \\Noselect \"/\" foo\r\n", FALSE, NULL },
    { "* LIST () \"//\" foo\r\n", FALSE, NULL },
    { "* LIST () \"\" foo\r\n", FALSE, NULL },
    { "* LIST () \"/\" \"\"\r\n", FALSE, NULL },
    { "* LIST () \"/\" NIL\r\n", FALSE, NULL },
    { "* LIST () \"/\" (a)\r\n", FALSE, NULL },
    { "* STATUS foo (MESSAGES 1)\r\n", FALSE, NULL },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *name = list_name (cases[i].line, cases[i].utf8);

      g_assert_cmpstr (name, ==, cases[i].name);
    }

  {
    g_autoptr(MailerImapResponse) r = mailer_imap_parse_response (nul_name, sizeof nul_name - 1, NULL);
    g_autoptr(GError) error = NULL;

    g_assert_nonnull (r);
    g_assert_null (mailer_imap_parse_list (r, FALSE, &error));
    g_assert_error (error, MAILER_IMAP_ERROR, MAILER_IMAP_ERROR_PARSE);
  }
}

/* Modified UTF-7 */

static void
test_utf7 (void)
{
  static const struct { const char *mutf7; const char *utf8; } pairs[] = {
    /* RFC 3501 section 5.1.3 */
    { "~peter/mail/&U,BTFw-/&ZeVnLIqe-", "~peter/mail/台北/日本語" },
    { "&-", "&" },
    { "Entw&APw-rfe", "Entwürfe" },
    { "Gr&APwA3w-e &- K&APw-sse", "Grüße & Küsse" },
    { "&BB4EQgQ,BEAEMAQyBDsENQQ9BD0ESwQ1-", "Отправленные" },
    /* Outside the BMP: a surrogate pair */
    { "&2D3eAA- Emoji", "😀 Emoji" },
    { "Sent Items", "Sent Items" },
    { "", "" },
  };
  static const char * const invalid[] = {
    "&Jjo!",          /* not base64 */
    "&U,BTFw",        /* unterminated */
    "&AGE-",          /* encoded ASCII ("a") */
    "&ACY-",          /* encoded "&" */
    "&",
    "a&",
    "&2D3-",          /* a high surrogate alone */
    "&3gA-",          /* a low surrogate alone */
    "&2D3YPQ-",       /* two high surrogates */
    "&U,BTF-",        /* a unit and 14 stray bits */
    "&U,BTFx-",       /* padding bits not zero */
    "&AAA-",          /* U+0000 */
    "caf\xc3\xa9",    /* 8-bit must be encoded */
    "tab\there",
  };

  for (guint i = 0; i < G_N_ELEMENTS (pairs); i++)
    {
      g_autofree char *decoded = mailer_imap_utf7_decode (pairs[i].mutf7);
      g_autofree char *encoded = mailer_imap_utf7_encode (pairs[i].utf8);

      g_assert_cmpstr (decoded, ==, pairs[i].utf8);
      g_assert_cmpstr (encoded, ==, pairs[i].mutf7);
    }
  for (guint i = 0; i < G_N_ELEMENTS (invalid); i++)
    {
      g_autofree char *decoded = mailer_imap_utf7_decode (invalid[i]);

      if (decoded != NULL)
        g_error ("\"%s\" decoded to \"%s\"", invalid[i], decoded);
    }

  /* Random names: what is encoded is printable ASCII and decodes back. */
  for (guint round = 0; round < 2000; round++)
    {
      g_autoptr(GString) name = g_string_new (NULL);
      g_autofree char *encoded = NULL;
      g_autofree char *decoded = NULL;
      guint len = g_test_rand_int_range (0, 12);

      for (guint i = 0; i < len; i++)
        {
          static const gunichar picks[] = { 'a', '&', '-', '/', ' ', '~', 0xe9, 0x53f0, 0xfffd, 0x1f600, 0x10ffff };
          gunichar c = picks[g_test_rand_int_range (0, G_N_ELEMENTS (picks))];

          if (g_test_rand_bit ())
            c = g_test_rand_int_range (0x20, 0x2fff);
          if (c >= 0xd800 && c < 0xe000)
            c = 0xe000;
          g_string_append_unichar (name, c);
        }
      encoded = mailer_imap_utf7_encode (name->str);
      for (const char *p = encoded; *p != '\0'; p++)
        g_assert_true (*p >= 0x20 && *p < 0x7f);
      decoded = mailer_imap_utf7_decode (encoded);
      g_assert_cmpstr (decoded, ==, name->str);
    }
}

/* Sequence sets */

static void
test_sequence_sets (void)
{
  static const struct { const char *set; guint32 star; const char *ranges; } cases[] = {
    { "1:3,7,9:*", 12, "1-3 7-7 9-12" },
    { "*:4", 10, "4-10" },
    { "5:2", 0, "2-5" },
    { "*", 99, "99-99" },
    { "4294967295", 0, "4294967295-4294967295" },
    { "1:4294967295", 0, "1-4294967295" },
    { "0", 0, NULL },
    { "1:", 0, NULL },
    { ":1", 0, NULL },
    { "a", 0, NULL },
    { "4294967296", 0, NULL },
    { "99999999999999999999999", 0, NULL },
    { "", 0, NULL },
    { "1,", 0, NULL },
    { ",1", 0, NULL },
    { "1,,2", 0, NULL },
    { "1::2", 0, NULL },
    { "1:2:3", 0, NULL },
    { " 1", 0, NULL },
    { "1 ", 0, NULL },
    { "-1", 0, NULL },
    { "1,0", 0, NULL },
    { "1:0", 0, NULL },
  };
  static const struct { guint32 numbers[8]; guint n; const char *text; } formats[] = {
    { { 1, 2, 3, 7, 9, 10, 11, 12 }, 8, "1:3,7,9:12" },
    { { 5 }, 1, "5" },
    { { 0 }, 0, "" },
    { { 1, 3, 5 }, 3, "1,3,5" },
    { { 4294967294u, 4294967295u }, 2, "4294967294:4294967295" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *ranges = describe_ranges (cases[i].set, cases[i].star);

      g_assert_cmpstr (ranges, ==, cases[i].ranges);
    }
  g_assert_null (describe_ranges (NULL, 0));

  for (guint i = 0; i < G_N_ELEMENTS (formats); i++)
    {
      g_autofree char *text = mailer_imap_format_sequence_set (formats[i].numbers, formats[i].n);

      g_assert_cmpstr (text, ==, formats[i].text);
    }

  /* Round trips: random sorted sets, formatted, parsed back */
  for (guint round = 0; round < 500; round++)
    {
      g_autoptr(GArray) numbers = g_array_new (FALSE, FALSE, sizeof (guint32));
      g_autoptr(GArray) ranges = NULL;
      g_autoptr(GError) error = NULL;
      g_autofree char *text = NULL;
      guint32 next = g_test_rand_int_range (1, 1000);
      guint k = 0;

      for (guint i = 0, n = g_test_rand_int_range (1, 40); i < n; i++)
        {
          g_array_append_val (numbers, next);
          next += g_test_rand_bit () ? 1 : g_test_rand_int_range (2, 100);
        }
      if (g_test_rand_bit ())
        {
          guint32 top = G_MAXUINT32;

          g_array_append_val (numbers, top);
        }
      text = mailer_imap_format_sequence_set ((guint32 *) numbers->data, numbers->len);
      ranges = mailer_imap_parse_sequence_set (text, 0, &error);
      g_assert_no_error (error);
      for (guint i = 0; i < ranges->len; i += 2)
        for (guint64 n = g_array_index (ranges, guint32, i); n <= g_array_index (ranges, guint32, i + 1); n++)
          {
            g_assert_cmpuint (k, <, numbers->len);
            g_assert_cmpuint (n, ==, g_array_index (numbers, guint32, k));
            k++;
          }
      g_assert_cmpuint (k, ==, numbers->len);
    }
}

/* Dates */

static void
test_date_time (void)
{
  static const struct { const char *text; gint64 time; } cases[] = {
    { "17-Jul-1996 02:44:25 -0700", 837596665 },
    /* date-day-fixed: a space before a one-digit day */
    { " 7-Jul-2026 23:05:59 -0700", 1783490759 },
    { "07-Jul-2026 23:05:59 -0700", 1783490759 },
    { "08-Jul-2026 06:05:59 +0000", 1783490759 },
    { "08-Jul-2026 11:35:59 +0530", 1783490759 },
    { "31-Dec-2026 23:59:59 +0530", 1798741799 },
    { "29-Feb-2024 12:00:00 -0330", 1709220600 },
    { "03-nov-2026 16:42:10 +0000", 1793724130 },
    /* Not dates */
    { "", 0 },
    { "yesterday", 0 },
    { "17-Foo-1996 02:44:25 -0700", 0 },
    { "30-Feb-2026 12:00:00 +0000", 0 },
    { "17-Jul-1996 24:00:00 +0000", 0 },
    { "17-Jul-1996 02:60:00 +0000", 0 },
    { "17-Jul-1996 02:44:25 +0760", 0 },
    { "17-Jul-1996 02:44:25 +2400", 0 },
    { "17-Jul-1996 02:44:25 0700", 0 },
    { "17-Jul-1996 02:44:25", 0 },
    { "17-Jul-1996", 0 },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      gint64 time = mailer_imap_parse_date_time (cases[i].text);

      if (time != cases[i].time)
        g_error ("\"%s\": %" G_GINT64_FORMAT ", expected %" G_GINT64_FORMAT, cases[i].text, time, cases[i].time);
    }
  g_assert_cmpint (mailer_imap_parse_date_time (NULL), ==, 0);
}

/* Literals each under the cap must not add up to an unbounded response. */
static void
test_response_total_cap (void)
{
  g_autoptr(MailerImapReader) reader = mailer_imap_reader_new (64, 100);
  g_autoptr(GString) input = g_string_new ("* 1 FETCH (");
  g_autoptr(GBytes) response = NULL;
  g_autoptr(GError) error = NULL;

  for (guint i = 0; i < 200; i++)
    {
      g_string_append_printf (input, "X%u {90}\r\n", i);
      for (guint j = 0; j < 90; j++)
        g_string_append_c (input, 'a');
      g_string_append_c (input, ' ');
    }
  mailer_imap_reader_feed (reader, input->str, input->len);
  response = mailer_imap_reader_next (reader, &error);
  g_assert_null (response);
  g_assert_error (error, MAILER_IMAP_ERROR, MAILER_IMAP_ERROR_TOO_BIG);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

  g_test_add_func ("/imap-parser/transcript/dovecot", test_dovecot);
  g_test_add_func ("/imap-parser/transcript/gmail", test_gmail);
  g_test_add_func ("/imap-parser/transcript/exchange", test_exchange);
  g_test_add_func ("/imap-parser/transcript/cyrus", test_cyrus);
  g_test_add_func ("/imap-parser/transcript/rfc-examples", test_rfc_examples);
  g_test_add_func ("/imap-parser/literals", test_literals);
  g_test_add_func ("/imap-parser/literal-caps", test_literal_caps);
  g_test_add_func ("/imap-parser/line-caps", test_line_caps);
  g_test_add_func ("/imap-parser/malformed", test_malformed);
  g_test_add_func ("/imap-parser/depth", test_depth);
  g_test_add_func ("/imap-parser/text", test_text);
  g_test_add_func ("/imap-parser/fetch-errors", test_fetch_errors);
  g_test_add_func ("/imap-parser/list-names", test_list_names);
  g_test_add_func ("/imap-parser/utf7", test_utf7);
  g_test_add_func ("/imap-parser/sequence-sets", test_sequence_sets);
  g_test_add_func ("/imap-parser/date-time", test_date_time);

  g_test_add_func ("/imap-parser/response-total-cap", test_response_total_cap);

  return g_test_run ();
}
