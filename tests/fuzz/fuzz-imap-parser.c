/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Fuzz target for the IMAP response layer (mailer-imap-parser.h).  The
 * first byte picks the reader's caps and how the rest, a server's byte
 * stream, is cut into pieces; every response framed is parsed and given
 * to the decoders that apply.  Besides "no crash, no leak": framing must
 * not depend on how the bytes arrived, and the decoders' round trips must
 * hold.  Built with libFuzzer (-Dfuzzing=true, .ci/fuzz) or, with
 * standalone-main.c, as a test over the seed corpus.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mailer-imap-parser.h"

int LLVMFuzzerTestOneInput (const uint8_t *data,
                            size_t         size);

#define CHECK(cond) \
  G_STMT_START { \
    if (!(cond)) \
      { \
        fprintf (stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
        abort (); \
      } \
  } G_STMT_END

static const gsize max_lines[] = { 40, 200, 1000, 4000 };
static const gsize max_literals[] = { 8, 100, 1000, 100000 };

typedef struct
{
  GPtrArray *frames;    /* GBytes */
  int error;            /* -1: none */
} Framing;

/* Mode 0: all at once; 1: pieces of 1 to 16 bytes; 2: pieces of 1 to 32
 * bytes, sizes from a generator seeded by @control. */
static void
frame (Framing      *out,
       const guint8 *data,
       gsize         size,
       guint8        control,
       int           mode)
{
  MailerImapReader *reader = mailer_imap_reader_new (max_lines[control & 3], max_literals[(control >> 2) & 3]);
  guint32 state = control * 2654435761u + 1;
  gsize fed = 0;

  out->frames = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  out->error = -1;
  while (TRUE)
    {
      GError *error = NULL;
      GBytes *response = mailer_imap_reader_next (reader, &error);
      gsize n;

      if (response != NULL)
        {
          CHECK (error == NULL);
          CHECK (g_bytes_get_size (response) > 0);
          g_ptr_array_add (out->frames, response);
          continue;
        }
      if (error != NULL)
        {
          CHECK (error->domain == MAILER_IMAP_ERROR);
          out->error = error->code;
          g_error_free (error);
          break;
        }
      if (fed == size)
        break;
      switch (mode)
        {
        case 0:
          n = size;
          break;
        case 1:
          n = 1 + (control >> 4);
          break;
        default:
          state = state * 1103515245u + 12345u;
          n = 1 + (state >> 16) % 32;
          break;
        }
      n = MIN (n, size - fed);
      mailer_imap_reader_feed (reader, data + fed, n);
      fed += n;
      CHECK (mailer_imap_reader_get_pending (reader) <= fed);
    }
  mailer_imap_reader_free (reader);
}

static gboolean
same_framing (const Framing *a,
              const Framing *b)
{
  if (a->error != b->error || a->frames->len != b->frames->len)
    return FALSE;
  for (guint i = 0; i < a->frames->len; i++)
    if (!g_bytes_equal (a->frames->pdata[i], b->frames->pdata[i]))
      return FALSE;
  return TRUE;
}

static int
compare_u32 (gconstpointer a,
             gconstpointer b)
{
  guint32 x = *(const guint32 *) a, y = *(const guint32 *) b;

  return x < y ? -1 : x > y;
}

/* A sequence set parsed, expanded, formatted and parsed again is the same
 * set. */
static void
check_sequence_set (const char *text,
                    guint32     star)
{
  GArray *ranges = mailer_imap_parse_sequence_set (text, star, NULL);
  GArray *numbers;
  guint64 total = 0;
  gboolean zero = FALSE;

  if (ranges == NULL)
    return;
  CHECK (ranges->len > 0 && ranges->len % 2 == 0);
  for (guint i = 0; i < ranges->len; i += 2)
    {
      guint32 first = g_array_index (ranges, guint32, i);
      guint32 last = g_array_index (ranges, guint32, i + 1);

      CHECK (first <= last);
      CHECK (first > 0 || star == 0);
      zero |= first == 0;
      total += (guint64) last - first + 1;
    }
  if (total > 4096 || zero)
    {
      g_array_unref (ranges);
      return;
    }

  numbers = g_array_new (FALSE, FALSE, sizeof (guint32));
  for (guint i = 0; i < ranges->len; i += 2)
    for (guint64 n = g_array_index (ranges, guint32, i); n <= g_array_index (ranges, guint32, i + 1); n++)
      {
        guint32 v = n;

        g_array_append_val (numbers, v);
      }
  g_array_sort (numbers, compare_u32);
  for (guint i = 1; i < numbers->len;)
    if (g_array_index (numbers, guint32, i) == g_array_index (numbers, guint32, i - 1))
      g_array_remove_index (numbers, i);
    else
      i++;

  {
    char *formatted = mailer_imap_format_sequence_set ((const guint32 *) numbers->data, numbers->len);
    GArray *again = mailer_imap_parse_sequence_set (formatted, 0, NULL);
    guint k = 0;

    CHECK (again != NULL);
    for (guint i = 0; i < again->len; i += 2)
      for (guint64 n = g_array_index (again, guint32, i); n <= g_array_index (again, guint32, i + 1); n++)
        {
          CHECK (k < numbers->len);
          CHECK (n == g_array_index (numbers, guint32, k));
          k++;
        }
    CHECK (k == numbers->len);
    g_array_unref (again);
    g_free (formatted);
  }
  g_array_unref (numbers);
  g_array_unref (ranges);
}

static gboolean
has_control (const char *s)
{
  for (; *s != '\0'; s++)
    if ((guchar) *s < 0x20)
      return TRUE;
  return FALSE;
}

/* Modified UTF-7 both ways: what decodes, encodes to printable ASCII
 * that decodes back the same; what is UTF-8 encodes and decodes back. */
static void
check_utf7 (const char *text)
{
  char *decoded = mailer_imap_utf7_decode (text);

  if (decoded != NULL)
    {
      char *encoded, *again;

      CHECK (g_utf8_validate (decoded, -1, NULL));
      CHECK (!has_control (decoded));
      encoded = mailer_imap_utf7_encode (decoded);
      for (const char *p = encoded; *p != '\0'; p++)
        CHECK (*p >= 0x20 && *p < 0x7f);
      again = mailer_imap_utf7_decode (encoded);
      CHECK (again != NULL && strcmp (again, decoded) == 0);
      g_free (again);
      g_free (encoded);
      g_free (decoded);
    }
  if (g_utf8_validate (text, -1, NULL) && !has_control (text))
    {
      char *encoded = mailer_imap_utf7_encode (text);
      char *again = mailer_imap_utf7_decode (encoded);

      CHECK (again != NULL && strcmp (again, text) == 0);
      g_free (again);
      g_free (encoded);
    }
}

/* Every value: the accessors agree with the type; text goes to the
 * sequence set, date and mUTF-7 decoders. */
static void
walk_value (const MailerImapValue *value,
            guint32                star,
            guint                  depth)
{
  const char *text = NULL;
  gsize len = 0;
  guint64 number;

  CHECK (depth < 200);
  switch (value->type)
    {
    case MAILER_IMAP_VALUE_ATOM:
      CHECK (value->atom != NULL && value->atom[0] != '\0');
      CHECK (mailer_imap_value_get_atom (value) == value->atom);
      text = mailer_imap_value_get_string (value, &len);
      CHECK (text == value->atom && len == strlen (text));
      CHECK (mailer_imap_atom_equal (value, value->atom));
      break;
    case MAILER_IMAP_VALUE_NUMBER:
      CHECK (mailer_imap_value_get_number (value, &number) && number == value->number);
      CHECK (mailer_imap_value_get_string (value, NULL) == NULL);
      CHECK (value->atom != NULL);
      CHECK (g_ascii_strtoull (value->atom, NULL, 10) == value->number);
      text = value->atom;
      break;
    case MAILER_IMAP_VALUE_STRING:
      text = mailer_imap_value_get_string (value, &len);
      CHECK (text != NULL && text[len] == '\0');
      if (memchr (text, '\0', len) != NULL)
        text = NULL;
      break;
    case MAILER_IMAP_VALUE_NIL:
      CHECK (mailer_imap_value_is_nil (value));
      CHECK (mailer_imap_value_get_string (value, NULL) == NULL);
      break;
    case MAILER_IMAP_VALUE_LIST:
      CHECK (mailer_imap_value_get_list (value) == value->list);
      for (guint i = 0; i < value->list->len; i++)
        walk_value (value->list->pdata[i], star, depth + 1);
      break;
    default:
      CHECK (FALSE);
    }

  if (text != NULL && strlen (text) <= 256)
    {
      check_sequence_set (text, star);
      (void) mailer_imap_parse_date_time (text);
      check_utf7 (text);
    }
}

static void
check_fetch (const MailerImapResponse *response)
{
  GError *error = NULL;
  MailerImapFetch *fetch = mailer_imap_parse_fetch (response, &error);

  if (fetch == NULL)
    {
      CHECK (error != NULL);
      g_error_free (error);
      return;
    }
  CHECK (error == NULL);
  CHECK (fetch->seq == response->number);
  CHECK (fetch->has_flags == (fetch->flags != NULL));
  CHECK (fetch->size >= -1);
  CHECK (fetch->envelope == NULL || mailer_imap_value_get_list (fetch->envelope) != NULL);
  CHECK (fetch->bodystructure == NULL || mailer_imap_value_get_list (fetch->bodystructure) != NULL);
  if (fetch->sections != NULL)
    {
      GHashTableIter iter;
      gpointer key, bytes;

      g_hash_table_iter_init (&iter, fetch->sections);
      while (g_hash_table_iter_next (&iter, &key, &bytes))
        CHECK (key != NULL && bytes != NULL);
    }
  mailer_imap_fetch_free (fetch);
}

static void
check_list (const MailerImapResponse *response,
            gboolean                  utf8_names)
{
  GError *error = NULL;
  MailerImapListEntry *entry = mailer_imap_parse_list (response, utf8_names, &error);

  if (entry == NULL)
    {
      CHECK (error != NULL);
      g_error_free (error);
      return;
    }
  CHECK (error == NULL);
  CHECK (entry->attributes != NULL);
  CHECK (entry->name != NULL && entry->name[0] != '\0');
  CHECK (g_utf8_validate (entry->name, -1, NULL));
  check_utf7 (entry->name);
  mailer_imap_list_entry_free (entry);
}

static void
check_response (const char *data,
                gsize       len,
                guint8      control)
{
  GError *error = NULL;
  MailerImapResponse *response = mailer_imap_parse_response (data, len, &error);
  guint32 star = control * 257u;

  if (response == NULL)
    {
      CHECK (error != NULL && error->domain == MAILER_IMAP_ERROR);
      g_error_free (error);
      return;
    }
  CHECK (error == NULL);
  CHECK (response->text != NULL && g_utf8_validate (response->text, -1, NULL));
  for (const char *p = response->text; *p != '\0'; p++)
    CHECK ((guchar) *p >= 0x20 && *p != 0x7f);
  CHECK (response->args != NULL && response->code_args != NULL);
  CHECK ((response->kind == MAILER_IMAP_RESPONSE_TAGGED) == (response->tag != NULL));
  if (response->status != MAILER_IMAP_STATUS_NONE || response->kind == MAILER_IMAP_RESPONSE_CONTINUATION)
    CHECK (response->name == NULL);
  else
    CHECK (response->name != NULL);
  CHECK (response->code == NULL || response->code[0] != '\0');

  for (guint i = 0; i < response->code_args->len; i++)
    walk_value (response->code_args->pdata[i], star, 0);
  for (guint i = 0; i < response->args->len; i++)
    walk_value (response->args->pdata[i], star, 0);

  if (g_strcmp0 (response->name, "FETCH") == 0)
    check_fetch (response);
  if (g_strcmp0 (response->name, "LIST") == 0 || g_strcmp0 (response->name, "LSUB") == 0)
    {
      check_list (response, FALSE);
      check_list (response, TRUE);
    }
  mailer_imap_response_free (response);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  Framing framings[3];
  guint8 control;

  if (size == 0)
    return 0;
  control = data[0];
  data++;
  size--;

  for (int mode = 0; mode < 3; mode++)
    frame (&framings[mode], data, size, control, mode);
  CHECK (same_framing (&framings[0], &framings[1]));
  CHECK (same_framing (&framings[0], &framings[2]));

  for (guint i = 0; i < framings[0].frames->len; i++)
    {
      gsize len = 0;
      const char *response = g_bytes_get_data (framings[0].frames->pdata[i], &len);

      check_response (response, len, control);
    }
  /* The tokenizer on its own, on whatever it is given */
  check_response ((const char *) data, size, control);

  for (int mode = 0; mode < 3; mode++)
    g_ptr_array_unref (framings[mode].frames);
  return 0;
}
