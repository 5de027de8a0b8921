/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The store's MIME layer over GMime 3: one raw message in, one
 * MailerMimeSummary out (threading headers, decoded subject and addresses,
 * attachments, a preview and the text for full-text search).
 *
 * GMime does the MIME work: structure, transfer encodings, RFC 2047 and
 * RFC 2231, charsets.  This file decides what the store keeps of it.  The
 * store parses on its worker thread, so nothing here is shared between
 * calls: all state lives in the ParseContext of one mailer_mime_parse().
 */
#include "config.h"

#include <gmime/gmime.h>
#include <string.h>

#include "mailer-mime.h"
#include "mailer-store.h"

/* Real mail nests a handful of levels; anything deeper is hostile, and its
 * parts are left out rather than walked. */
#define MAX_DEPTH 32

/* Bytes of one text part decoded for the body text; the rest of a huge
 * part cannot reach body_text anyway. */
#define TEXT_PART_MAX (1024 * 1024)

/* How much of a text is looked at to find its preview. */
#define PREVIEW_SCAN_MAX (16 * 1024)

/* Levels of attached messages whose text is gathered. */
#define MAX_EMBEDDED_TEXT 3

/* GMime 3.2 defines no cleanup functions for its types. */
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GMimeStream, g_object_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GMimeParser, g_object_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GMimeMessage, g_object_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GMimeFilter, g_object_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GMimeContentType, g_object_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GMimeContentDisposition, g_object_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (InternetAddressList, g_object_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GMimeParserOptions, g_mime_parser_options_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GMimeReferences, g_mime_references_free)

static void
ensure_gmime (void)
{
  static gsize initialized = 0;

  /* g_mime_init() itself is not safe to race from several threads. */
  if (g_once_init_enter (&initialized))
    {
      g_mime_init ();
      g_once_init_leave (&initialized, 1);
    }
}

/**
 * mailer_mime_init:
 *
 * Initialises GMime once per process, safely from any thread.
 */
void
mailer_mime_init (void)
{
  ensure_gmime ();
}

/* ------------------------------------------------------------------ */
/* UTF-8 and white space                                               */
/* ------------------------------------------------------------------ */

/* A copy of @len bytes of @data where NUL bytes are spaces: they mean
 * nothing in mail text and would end the C string early. */
static char *
replace_nuls (const char *data,
              gsize       len)
{
  char *copy = g_malloc (len + 1);

  for (gsize i = 0; i < len; i++)
    copy[i] = data[i] != '\0' ? data[i] : ' ';
  copy[len] = '\0';
  return copy;
}

/* A valid UTF-8 copy of @len bytes of @data, NUL bytes as spaces. */
static char *
utf8_sanitize (const char *data,
               gssize      len)
{
  g_autofree char *copy = NULL;

  if (data == NULL)
    return g_strdup ("");
  if (len < 0)
    len = strlen (data);

  copy = replace_nuls (data, len);
  if (g_utf8_validate (copy, len, NULL))
    return g_steal_pointer (&copy);
  return g_utf8_make_valid (copy, len);
}

/* Characters that take no room: newsletters pad their preview text with
 * them so that clients do not show the start of the body. */
static gboolean
is_invisible (gunichar c)
{
  return c == 0x00AD || c == 0x034F || (c >= 0x200B && c <= 0x200F) ||
         c == 0x2060 || c == 0xFEFF;
}

static gboolean
is_blank (gunichar c)
{
  return g_unichar_isspace (c) || g_unichar_iscntrl (c) || is_invisible (c);
}

/* Turns every run of white space, control and invisible characters into
 * one space and trims both ends.  With @max_chars > 0, stops before the
 * character that would make the result longer than that.  @text must be
 * valid UTF-8. */
static char *
collapse_whitespace (const char *text,
                     gsize       max_chars)
{
  g_autoptr(GString) out = g_string_new (NULL);
  gboolean space = FALSE;
  gsize n_chars = 0;

  for (const char *p = text; *p != '\0'; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);

      if (is_blank (c))
        {
          /* Invisible characters may sit inside a word (a zero width
           * joiner): they do not separate words. */
          if (!is_invisible (c) && out->len > 0)
            space = TRUE;
          continue;
        }
      if (max_chars > 0 && n_chars + (space ? 2 : 1) > max_chars)
        break;
      if (space)
        {
          g_string_append_c (out, ' ');
          n_chars++;
          space = FALSE;
        }
      g_string_append_unichar (out, c);
      n_chars++;
    }

  return g_string_free (g_steal_pointer (&out), FALSE);
}

static gboolean
has_visible_text (const char *text)
{
  for (const char *p = text; *p != '\0'; p = g_utf8_next_char (p))
    if (!is_blank (g_utf8_get_char (p)))
      return TRUE;
  return FALSE;
}

/* NULL for NULL or blank text, else @text collapsed. */
static char *
collapse_or_null (const char *text)
{
  g_autofree char *valid = NULL;
  g_autofree char *collapsed = NULL;

  if (text == NULL)
    return NULL;
  valid = utf8_sanitize (text, -1);
  collapsed = collapse_whitespace (valid, 0);
  return *collapsed != '\0' ? g_steal_pointer (&collapsed) : NULL;
}

/* NULL for NULL or empty text, else a valid UTF-8 copy. */
static char *
sanitize_or_null (const char *text)
{
  if (text == NULL || *text == '\0')
    return NULL;
  return utf8_sanitize (text, -1);
}

/* ------------------------------------------------------------------ */
/* Headers                                                             */
/* ------------------------------------------------------------------ */

static void
append_q_word (GString    *out,
               const char *charset,
               gsize       charset_len,
               const char *payload,
               gsize       payload_len)
{
  g_autofree char *padded = g_malloc (payload_len + 4);
  g_autofree guchar *bytes = NULL;
  gsize n_data = 0;
  gsize n_bytes = 0;

  /* Padding belongs at the end of the whole payload only; recomputing it
   * also lets unpadded words decode. */
  for (gsize i = 0; i < payload_len; i++)
    if (payload[i] != '=')
      padded[n_data++] = payload[i];
  if (n_data % 4 == 1)
    n_data--;
  while (n_data % 4 != 0)
    padded[n_data++] = '=';
  padded[n_data] = '\0';
  bytes = g_base64_decode (padded, &n_bytes);

  g_string_append (out, "=?");
  g_string_append_len (out, charset, charset_len);
  g_string_append (out, "?Q?");
  for (gsize i = 0; i < n_bytes; i++)
    {
      if (g_ascii_isalnum (bytes[i]))
        g_string_append_c (out, bytes[i]);
      else
        g_string_append_printf (out, "=%02X", bytes[i]);
    }
  g_string_append (out, "?=");
}

static gboolean
is_base64_char (char c)
{
  return g_ascii_isalnum (c) || c == '+' || c == '/' || c == '=';
}

/* GMime 3.2.13 decodes a run of adjacent same-charset "B" encoded words as
 * one base64 stream, so it stops at the first word's '=' padding and drops
 * the rest of the run (jstedfast/gmime#133): "Café menu" instead of "Café
 * menu for Friday".  "Q" words do not have the problem, and GMime still
 * joins the bytes of adjacent same-charset words before converting them,
 * which keeps a character split across two words whole.  So every B word
 * is rewritten as the same bytes in a Q word before GMime decodes the
 * header.  Returns NULL when @raw has no B word. */
static char *
rewrite_b_words (const char *raw)
{
  g_autoptr(GString) out = NULL;
  const char *copied = raw;
  const char *p = raw;

  if (raw == NULL)
    return NULL;

  while ((p = strchr (p, '=')) != NULL)
    {
      const char *charset;
      const char *q;
      const char *payload;
      const char *end;

      if (p[1] != '?')
        {
          p++;
          continue;
        }
      charset = q = p + 2;
      while (*q != '\0' && *q != '?' && !g_ascii_isspace (*q) && q - charset < 64)
        q++;
      if (*q != '?' || q == charset || (q[1] != 'B' && q[1] != 'b') || q[2] != '?')
        {
          p += 2;
          continue;
        }

      payload = end = q + 3;
      while (is_base64_char (*end))
        end++;
      if (end[0] != '?' || end[1] != '=')
        {
          p = payload;
          continue;
        }

      if (out == NULL)
        out = g_string_sized_new (strlen (raw) * 2);
      g_string_append_len (out, copied, p - copied);
      append_q_word (out, charset, q - charset, payload, end - payload);
      p = copied = end + 2;
    }

  if (out == NULL)
    return NULL;
  g_string_append (out, copied);
  return g_string_free (g_steal_pointer (&out), FALSE);
}

static const char *
get_raw_header (GMimeObject *object,
                const char  *name)
{
  GMimeHeaderList *headers = g_mime_object_get_header_list (object);
  GMimeHeader *header = g_mime_header_list_get_header (headers, name);

  return header != NULL ? g_mime_header_get_raw_value (header) : NULL;
}

/* The decoded text of an unstructured header, white space collapsed;
 * NULL when the header is missing or blank. */
static char *
decode_text_header (GMimeObject        *object,
                    const char         *name,
                    GMimeParserOptions *options)
{
  const char *raw = get_raw_header (object, name);
  g_autofree char *fixed = NULL;
  g_autofree char *decoded = NULL;

  if (raw == NULL)
    return NULL;
  fixed = rewrite_b_words (raw);
  decoded = g_mime_utils_header_decode_text (options, fixed != NULL ? fixed : raw);
  return collapse_or_null (decoded);
}

static InternetAddressList *
parse_address_header (GMimeObject        *object,
                      const char         *name,
                      GMimeParserOptions *options)
{
  const char *raw = get_raw_header (object, name);
  g_autofree char *fixed = NULL;

  if (raw == NULL)
    return NULL;
  fixed = rewrite_b_words (raw);
  return internet_address_list_parse (options, fixed != NULL ? fixed : raw);
}

static InternetAddressMailbox *
first_mailbox (InternetAddressList *list)
{
  int n = list != NULL ? internet_address_list_length (list) : 0;

  for (int i = 0; i < n; i++)
    {
      InternetAddress *address = internet_address_list_get_address (list, i);
      InternetAddressList *members;

      if (INTERNET_ADDRESS_IS_MAILBOX (address))
        return INTERNET_ADDRESS_MAILBOX (address);
      if (!INTERNET_ADDRESS_IS_GROUP (address))
        continue;

      /* RFC 5322 groups do not nest, so one level is enough. */
      members = internet_address_group_get_members (INTERNET_ADDRESS_GROUP (address));
      for (int j = 0; members != NULL && j < internet_address_list_length (members); j++)
        {
          InternetAddress *member = internet_address_list_get_address (members, j);

          if (INTERNET_ADDRESS_IS_MAILBOX (member))
            return INTERNET_ADDRESS_MAILBOX (member);
        }
    }
  return NULL;
}

static void
read_from (MailerMimeSummary  *summary,
           GMimeObject        *object,
           GMimeParserOptions *options)
{
  g_autoptr(InternetAddressList) list = parse_address_header (object, "From", options);
  InternetAddressMailbox *mailbox = first_mailbox (list);

  if (mailbox != NULL)
    {
      InternetAddress *address = INTERNET_ADDRESS (mailbox);

      summary->from_name = collapse_or_null (internet_address_get_name (address));
      summary->from_address = collapse_or_null (internet_address_mailbox_get_addr (mailbox));
    }
  else
    {
      /* Not an address at all ("From: Mail Delivery System"): the text is
       * still the best name to show. */
      summary->from_name = decode_text_header (object, "From", options);
    }
}

/* The display form of an address header; "" when missing. */
static char *
read_address_list (GMimeObject        *object,
                   const char         *name,
                   GMimeParserOptions *options)
{
  g_autoptr(InternetAddressList) list = parse_address_header (object, name, options);
  g_autofree char *display = NULL;
  char *text;

  if (list != NULL && internet_address_list_length (list) > 0)
    display = internet_address_list_to_string (list, NULL, FALSE);
  text = display != NULL ? collapse_or_null (display) : decode_text_header (object, name, options);
  return text != NULL ? text : g_strdup ("");
}

static GStrv
read_references (GMimeObject        *object,
                 GMimeParserOptions *options)
{
  const char *raw = get_raw_header (object, "References");
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
  g_autoptr(GMimeReferences) references = NULL;

  if (raw != NULL)
    references = g_mime_references_parse (options, raw);
  for (int i = 0; references != NULL && i < g_mime_references_length (references); i++)
    {
      g_autofree char *id = sanitize_or_null (g_mime_references_get_message_id (references, i));

      if (id != NULL)
        g_strv_builder_add (builder, id);
    }
  return g_strv_builder_end (builder);
}

static void
read_headers (MailerMimeSummary  *summary,
              GMimeMessage       *message,
              GMimeParserOptions *options)
{
  GMimeObject *object = GMIME_OBJECT (message);
  const char *in_reply_to = get_raw_header (object, "In-Reply-To");
  g_autofree char *subject = NULL;
  GDateTime *date;

  summary->message_id = sanitize_or_null (g_mime_message_get_message_id (message));
  if (in_reply_to != NULL)
    {
      g_autofree char *id = g_mime_utils_decode_message_id (in_reply_to);

      summary->in_reply_to = sanitize_or_null (id);
    }
  summary->references = read_references (object, options);

  subject = decode_text_header (object, "Subject", options);
  summary->subject = subject != NULL ? collapse_whitespace (subject, MAILER_MIME_SUBJECT_MAX_CHARS)
                                     : g_strdup ("");

  read_from (summary, object, options);
  summary->to = read_address_list (object, "To", options);
  summary->cc = read_address_list (object, "Cc", options);

  date = g_mime_message_get_date (message);
  summary->date = date != NULL ? g_date_time_to_unix (date) : 0;
}

/* ------------------------------------------------------------------ */
/* Text parts                                                          */
/* ------------------------------------------------------------------ */

static gboolean
charset_is (const char *charset,
            const char *name)
{
  const char *canon = g_mime_charset_canon_name (charset);

  return canon != NULL && g_ascii_strcasecmp (canon, name) == 0;
}

/* ISO-8859-x, Windows-125x, KOI8: charsets whose real text almost never
 * happens to be valid UTF-8 once it has 8-bit bytes, as their letters are
 * bytes that UTF-8 only uses to start a sequence. */
static gboolean
is_single_byte_charset (const char *charset)
{
  static const char * const prefixes[] = {
    "iso-8859-", "iso8859-", "windows-cp125", "windows-125", "cp125", "koi8", "latin", NULL
  };
  const char *canon = g_mime_charset_canon_name (charset);

  for (guint i = 0; canon != NULL && prefixes[i] != NULL; i++)
    if (g_ascii_strncasecmp (canon, prefixes[i], strlen (prefixes[i])) == 0)
      return TRUE;
  return FALSE;
}

static gboolean
has_8bit (const char *data,
          gsize       len)
{
  for (gsize i = 0; i < len; i++)
    if ((guchar) data[i] >= 0x80)
      return TRUE;
  return FALSE;
}

static gboolean
has_c1_bytes (const char *data,
              gsize       len)
{
  for (gsize i = 0; i < len; i++)
    if ((guchar) data[i] >= 0x80 && (guchar) data[i] <= 0x9F)
      return TRUE;
  return FALSE;
}

/* Whether invalid UTF-8 is UTF-8 with a few damaged bytes rather than a
 * legacy 8-bit charset: then most 8-bit bytes form valid sequences. */
static gboolean
is_damaged_utf8 (const char *data,
                 gsize       len)
{
  const char *p = data;
  const char *end = data + len;
  gsize n_sequences = 0;
  gsize n_invalid = 0;

  while (p < end)
    {
      gunichar c = g_utf8_get_char_validated (p, end - p);

      if (c == (gunichar) -1 || c == (gunichar) -2)
        {
          n_invalid++;
          p++;
        }
      else
        {
          if (c >= 0x80)
            n_sequences++;
          p = g_utf8_next_char (p);
        }
    }
  return n_sequences > n_invalid;
}

static char *
convert_with_filter (GMimeFilter *filter,
                     const char  *data,
                     gsize        len)
{
  g_autoptr(GMimeStream) mem = g_mime_stream_mem_new ();
  g_autoptr(GMimeStream) filtered = g_mime_stream_filter_new (mem);
  GByteArray *array;

  if (len == 0)
    return g_strdup ("");
  g_mime_stream_filter_add (GMIME_STREAM_FILTER (filtered), filter);
  g_mime_stream_write (filtered, data, len);
  g_mime_stream_flush (filtered);
  array = g_mime_stream_mem_get_byte_array (GMIME_STREAM_MEM (mem));
  return utf8_sanitize ((const char *) array->data, array->len);
}

/* @len bytes of text in @charset (NULL when undeclared) as UTF-8. */
static char *
text_to_utf8 (GMimeParserOptions *options,
              const char         *data,
              gsize               len,
              const char         *charset)
{
  g_autofree char *copy = NULL;
  g_autofree char *decoded = NULL;

  /* UTF-8 sent with the sender's legacy charset on the label. */
  if (charset != NULL && is_single_byte_charset (charset) &&
      has_8bit (data, len) && g_utf8_validate_len (data, len, NULL))
    charset = "UTF-8";

  if (charset != NULL && *charset != '\0' && !charset_is (charset, "UTF-8") &&
      !charset_is (charset, "us-ascii") && !charset_is (charset, "ascii"))
    {
      g_autoptr(GMimeFilter) filter = NULL;
      const char *from = charset;

      /* Mail labelled ISO-8859-x that uses bytes 0x80-0x9F is Windows text
       * (curly quotes, the euro sign), as browsers have long assumed. */
      if (has_c1_bytes (data, len))
        from = g_mime_charset_iso_to_windows (charset);

      filter = g_mime_filter_charset_new (from, "UTF-8");
      if (filter != NULL)
        return convert_with_filter (filter, data, len);
      /* An unknown charset name: the text is as good as undeclared. */
    }

  /* Undeclared, labelled ASCII or UTF-8, or unknown: UTF-8 when it is,
   * else GMime's fallback charsets (windows-1252, then ISO-8859-1). */
  copy = replace_nuls (data, len);
  if (g_utf8_validate (copy, len, NULL))
    return g_steal_pointer (&copy);
  if (is_damaged_utf8 (copy, len))
    return g_utf8_make_valid (copy, len);
  decoded = g_mime_utils_decode_8bit (options, copy, len);
  return utf8_sanitize (decoded, -1);
}

/* The content of @part with its transfer encoding undone. */
static GByteArray *
decode_content (GMimePart *part)
{
  GMimeDataWrapper *content = g_mime_part_get_content (part);
  g_autoptr(GMimeStream) mem = NULL;
  GByteArray *array;

  if (content == NULL)
    return g_byte_array_new ();

  mem = g_mime_stream_mem_new ();
  g_mime_data_wrapper_write_to_stream (content, mem);
  array = g_mime_stream_mem_get_byte_array (GMIME_STREAM_MEM (mem));
  g_mime_stream_mem_set_owner (GMIME_STREAM_MEM (mem), FALSE);
  return array;
}

static gsize
decoded_size (GMimePart *part)
{
  GMimeDataWrapper *content = g_mime_part_get_content (part);
  g_autoptr(GMimeStream) null = NULL;

  if (content == NULL)
    return 0;
  null = g_mime_stream_null_new ();
  g_mime_data_wrapper_write_to_stream (content, null);
  return GMIME_STREAM_NULL (null)->written;
}

static gsize
message_size (GMimeMessage *message)
{
  g_autoptr(GMimeStream) null = NULL;

  if (message == NULL)
    return 0;
  null = g_mime_stream_null_new ();
  g_mime_object_write_to_stream (GMIME_OBJECT (message), NULL, null);
  return GMIME_STREAM_NULL (null)->written;
}

/* The largest length <= @max that ends @text (@len bytes, valid UTF-8) on
 * a character boundary. */
static gsize
utf8_cut (const char *text,
          gsize       len,
          gsize       max)
{
  gsize n = max;

  if (len <= max)
    return len;
  while (n > 0 && ((guchar) text[n] & 0xC0) == 0x80)
    n--;
  return n;
}

/* ------------------------------------------------------------------ */
/* HTML to text                                                        */
/* ------------------------------------------------------------------ */

/* The entity names of U+00A0 to U+00FF, in order. */
static const char * const latin1_entities[96] = {
  "nbsp", "iexcl", "cent", "pound", "curren", "yen", "brvbar", "sect",
  "uml", "copy", "ordf", "laquo", "not", "shy", "reg", "macr",
  "deg", "plusmn", "sup2", "sup3", "acute", "micro", "para", "middot",
  "cedil", "sup1", "ordm", "raquo", "frac14", "frac12", "frac34", "iquest",
  "Agrave", "Aacute", "Acirc", "Atilde", "Auml", "Aring", "AElig", "Ccedil",
  "Egrave", "Eacute", "Ecirc", "Euml", "Igrave", "Iacute", "Icirc", "Iuml",
  "ETH", "Ntilde", "Ograve", "Oacute", "Ocirc", "Otilde", "Ouml", "times",
  "Oslash", "Ugrave", "Uacute", "Ucirc", "Uuml", "Yacute", "THORN", "szlig",
  "agrave", "aacute", "acirc", "atilde", "auml", "aring", "aelig", "ccedil",
  "egrave", "eacute", "ecirc", "euml", "igrave", "iacute", "icirc", "iuml",
  "eth", "ntilde", "ograve", "oacute", "ocirc", "otilde", "ouml", "divide",
  "oslash", "ugrave", "uacute", "ucirc", "uuml", "yacute", "thorn", "yuml",
};

/* The other HTML 4 entities that mail uses; HTML5's two thousand more
 * almost never occur in mail, and unknown ones stay as written. */
static const struct
{
  const char *name;
  gunichar    value;
} other_entities[] = {
  { "quot", 0x22 }, { "QUOT", 0x22 }, { "amp", 0x26 }, { "AMP", 0x26 },
  { "apos", 0x27 }, { "lt", 0x3C }, { "LT", 0x3C }, { "gt", 0x3E }, { "GT", 0x3E },
  { "OElig", 0x152 }, { "oelig", 0x153 }, { "Scaron", 0x160 }, { "scaron", 0x161 },
  { "Yuml", 0x178 }, { "fnof", 0x192 }, { "circ", 0x2C6 }, { "tilde", 0x2DC },
  { "ensp", 0x2002 }, { "emsp", 0x2003 }, { "thinsp", 0x2009 }, { "zwnj", 0x200C },
  { "zwj", 0x200D }, { "lrm", 0x200E }, { "rlm", 0x200F }, { "ndash", 0x2013 },
  { "mdash", 0x2014 }, { "lsquo", 0x2018 }, { "rsquo", 0x2019 }, { "sbquo", 0x201A },
  { "ldquo", 0x201C }, { "rdquo", 0x201D }, { "bdquo", 0x201E }, { "dagger", 0x2020 },
  { "Dagger", 0x2021 }, { "bull", 0x2022 }, { "hellip", 0x2026 }, { "permil", 0x2030 },
  { "prime", 0x2032 }, { "Prime", 0x2033 }, { "lsaquo", 0x2039 }, { "rsaquo", 0x203A },
  { "oline", 0x203E }, { "frasl", 0x2044 }, { "euro", 0x20AC }, { "trade", 0x2122 },
  { "larr", 0x2190 }, { "uarr", 0x2191 }, { "rarr", 0x2192 }, { "darr", 0x2193 },
  { "harr", 0x2194 }, { "minus", 0x2212 }, { "le", 0x2264 }, { "ge", 0x2265 },
  { "hearts", 0x2665 },
};

/* HTML reads &#128; to &#159; as windows-1252 (0: left as it is). */
static const gunichar windows_1252_c1[32] = {
  0x20AC, 0, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
  0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0, 0x017D, 0,
  0, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
  0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0, 0x017E, 0x0178,
};

static gunichar
lookup_entity (const char *name,
               gsize       len)
{
  for (guint i = 0; i < G_N_ELEMENTS (latin1_entities); i++)
    if (strlen (latin1_entities[i]) == len && memcmp (latin1_entities[i], name, len) == 0)
      return 0xA0 + i;
  for (guint i = 0; i < G_N_ELEMENTS (other_entities); i++)
    if (strlen (other_entities[i].name) == len && memcmp (other_entities[i].name, name, len) == 0)
      return other_entities[i].value;
  return 0;
}

static gunichar
numeric_reference (guint32 value)
{
  if (value >= 0x80 && value <= 0x9F && windows_1252_c1[value - 0x80] != 0)
    return windows_1252_c1[value - 0x80];
  if (value == 0 || value > 0x10FFFF || (value >= 0xD800 && value <= 0xDFFF))
    return 0xFFFD;
  return value;
}

/* Decodes the character reference that starts at *@pp (an '&') and moves
 * *@pp past it; FALSE when it is a plain '&'. */
static gboolean
decode_entity (const char **pp,
               const char  *end,
               gunichar    *out)
{
  const char *p = *pp + 1;

  if (p < end && *p == '#')
    {
      gboolean hex = FALSE;
      guint32 value = 0;
      gsize n_digits = 0;

      p++;
      if (p < end && (*p == 'x' || *p == 'X'))
        {
          hex = TRUE;
          p++;
        }
      while (p < end && (hex ? g_ascii_isxdigit (*p) : g_ascii_isdigit (*p)))
        {
          if (value <= 0x10FFFF)
            value = value * (hex ? 16 : 10) + g_ascii_xdigit_value (*p);
          n_digits++;
          p++;
        }
      if (n_digits == 0)
        return FALSE;
      *out = numeric_reference (value);
    }
  else
    {
      const char *name = p;

      while (p < end && g_ascii_isalnum (*p) && p - name < 32)
        p++;
      *out = lookup_entity (name, p - name);
      if (*out == 0)
        return FALSE;
    }

  if (p < end && *p == ';')
    p++;
  *pp = p;
  return TRUE;
}

typedef struct
{
  GString *out;
  gboolean space;  /* white space seen since the last character written */
  guint    pre;    /* inside <pre>, white space is kept as it is */
} TextWriter;

/* How many newlines end @out, counting up to two. */
static guint
trailing_newlines (GString *out)
{
  guint n = 0;

  while (n < 2 && n < out->len && out->str[out->len - 1 - n] == '\n')
    n++;
  return n;
}

/* Ends the current line, and leaves an empty line after it when
 * @n_newlines is 2.  Never more than one empty line in a row. */
static void
writer_break (TextWriter *w,
              guint       n_newlines)
{
  w->space = FALSE;
  if (w->out->len == 0)
    return;
  while (trailing_newlines (w->out) < n_newlines)
    g_string_append_c (w->out, '\n');
}

/* <br>: a new line even when the current one is empty. */
static void
writer_newline (TextWriter *w)
{
  w->space = FALSE;
  if (w->out->len > 0 && trailing_newlines (w->out) < 2)
    g_string_append_c (w->out, '\n');
}

static void
writer_unichar (TextWriter *w,
                gunichar    c)
{
  if (is_invisible (c))
    return;
  if (c == 0x00A0 && w->pre == 0)
    {
      w->space = TRUE;
      return;
    }
  if (w->space && w->out->len > 0 && w->out->str[w->out->len - 1] != '\n')
    g_string_append_c (w->out, ' ');
  w->space = FALSE;
  g_string_append_unichar (w->out, c);
}

static gboolean
tag_in (const char         *name,
        gsize               len,
        const char * const *tags)
{
  for (guint i = 0; tags[i] != NULL; i++)
    if (strlen (tags[i]) == len && g_ascii_strncasecmp (tags[i], name, len) == 0)
      return TRUE;
  return FALSE;
}

/* Elements whose content is never shown.  That empties <head> too: it
 * holds these and tags without text (<meta>, <link>); text outside them
 * ends the head in a browser, and is shown here too. */
static const char * const hidden_tags[] = {
  "script", "style", "title", "template", NULL
};

/* Elements that stand apart from the text around them by an empty line... */
static const char * const paragraph_tags[] = {
  "p", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "table", "ul", "ol", "dl", NULL
};

/* ... or start on a line of their own. */
static const char * const line_tags[] = {
  "div", "li", "tr", "dt", "dd", "hr", "section", "article", "header", "footer",
  "nav", "aside", "address", "figure", "figcaption", "main", "center", "form",
  "fieldset", "caption", NULL
};

static const char * const cell_tags[] = { "td", "th", NULL };

/* The '>' that ends the tag whose attributes start at @p.  A quoted value
 * may hold '>'; a quote that never closes (a typo) ends at its first '>'
 * as soon as a '<' shows the next tag, which also keeps this linear. */
static const char *
find_tag_end (const char *p,
              const char *end)
{
  const char *first_gt = NULL;
  char quote = 0;
  char last = 0;

  for (; p < end; p++)
    {
      if (quote != 0)
        {
          if (*p == quote)
            {
              quote = 0;
              last = *p;
            }
          else if (*p == '>' && first_gt == NULL)
            first_gt = p;
          else if (*p == '<' && first_gt != NULL)
            return first_gt;
        }
      else if (*p == '>')
        return p;
      else if ((*p == '"' || *p == '\'') && last == '=')
        quote = *p;
      else if (!g_ascii_isspace (*p))
        last = *p;
    }
  return first_gt;
}

/* Skips the content of a hidden element up to the end of its closing tag
 * (@p is just after the opening tag). */
static const char *
skip_hidden (const char *name,
             gsize       len,
             const char *p,
             const char *end)
{
  while ((p = memchr (p, '<', end - p)) != NULL)
    {
      /* @end points at the NUL terminator, so looking one past a match is safe. */
      if ((gsize) (end - p) >= len + 2 && p[1] == '/' &&
          g_ascii_strncasecmp (p + 2, name, len) == 0 && !g_ascii_isalnum (p[2 + len]))
        {
          const char *gt = memchr (p, '>', end - p);

          return gt != NULL ? gt + 1 : end;
        }
      p++;
    }
  return end;
}

/* Handles the markup that starts at @p (a '<'); returns where text resumes. */
static const char *
handle_markup (TextWriter *w,
               const char *p,
               const char *end)
{
  const char *name;
  const char *name_end;
  const char *tag_end;
  gboolean closing;
  gsize len;

  if (end - p >= 4 && strncmp (p, "<!--", 4) == 0)
    {
      const char *close = g_strstr_len (p + 4, end - p - 4, "-->");

      return close != NULL ? close + 3 : end;
    }
  if (end - p < 2 || !(g_ascii_isalpha (p[1]) || p[1] == '/' || p[1] == '!' || p[1] == '?'))
    {
      writer_unichar (w, '<');
      return p + 1;
    }

  closing = p[1] == '/';
  name = name_end = p + (closing ? 2 : 1);
  while (name_end < end && (g_ascii_isalnum (*name_end) || *name_end == '-' || *name_end == ':'))
    name_end++;
  len = name_end - name;

  /* An unterminated tag hides the rest, as in a browser. */
  tag_end = find_tag_end (name_end, end);
  if (tag_end == NULL)
    return end;

  if (!closing && tag_in (name, len, hidden_tags) && tag_end[-1] != '/')
    return skip_hidden (name, len, tag_end + 1, end);

  if (tag_in (name, len, (const char * const[]) { "br", NULL }))
    writer_newline (w);
  else if (tag_in (name, len, (const char * const[]) { "pre", NULL }))
    {
      writer_break (w, 2);
      if (closing)
        w->pre = w->pre > 0 ? w->pre - 1 : 0;
      else
        w->pre++;
    }
  else if (tag_in (name, len, paragraph_tags))
    writer_break (w, 2);
  else if (tag_in (name, len, line_tags))
    writer_break (w, 1);
  else if (tag_in (name, len, cell_tags))
    w->space = TRUE;

  return tag_end + 1;
}

char *
mailer_mime_html_to_text (const char *html,
                          gssize      len)
{
  g_autofree char *valid = NULL;
  TextWriter w = { NULL, FALSE, 0 };
  const char *p;
  const char *end;

  g_return_val_if_fail (html != NULL || len <= 0, NULL);

  valid = utf8_sanitize (html, html != NULL ? len : 0);
  p = valid;
  end = valid + strlen (valid);
  w.out = g_string_sized_new ((end - p) / 2 + 1);

  while (p < end)
    {
      gunichar c;

      if (*p == '<')
        {
          p = handle_markup (&w, p, end);
        }
      else if (*p == '&')
        {
          if (!decode_entity (&p, end, &c))
            {
              c = '&';
              p++;
            }
          writer_unichar (&w, c);
        }
      else if (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == '\f')
        {
          if (w.pre == 0)
            w.space = TRUE;
          else if (*p != '\r')
            g_string_append_c (w.out, *p);
          p++;
        }
      else
        {
          writer_unichar (&w, g_utf8_get_char (p));
          p = g_utf8_next_char (p);
        }
    }

  while (w.out->len > 0 && g_ascii_isspace (w.out->str[w.out->len - 1]))
    g_string_truncate (w.out, w.out->len - 1);
  return g_string_free (w.out, FALSE);
}

/* ------------------------------------------------------------------ */
/* Preview                                                             */
/* ------------------------------------------------------------------ */

/* Whether the line from @line to @eol introduces a quotation: it ends in
 * ':' and the next non-blank line is quoted.  That covers "On Monday, Sam
 * wrote:", "Alex Morgan wrote on 09/11/2026 11:15:" and their
 * translations alike. */
static gboolean
is_attribution (const char *line,
                const char *eol,
                const char *end)
{
  const char *last = eol;
  const char *next = eol;

  while (last > line && g_ascii_isspace (last[-1]))
    last--;
  if (last == line || last[-1] != ':')
    return FALSE;
  while (next < end && g_ascii_isspace (*next))
    next++;
  return next < end && *next == '>';
}

/* The preview of @text (valid UTF-8): its start without quoted lines and
 * their attribution, white space collapsed. */
static char *
make_preview (const char *text)
{
  g_autoptr(GString) kept = g_string_new (NULL);
  const char *end = text + strlen (text);
  g_autofree char *head = NULL;
  char *preview;

  for (const char *line = text; line < end && kept->len < PREVIEW_SCAN_MAX;)
    {
      const char *eol = memchr (line, '\n', end - line);
      const char *start = line;

      if (eol == NULL)
        eol = end;
      while (start < eol && (*start == ' ' || *start == '\t'))
        start++;
      if (*start != '>' && !is_attribution (line, eol, end))
        {
          g_string_append_len (kept, line, eol - line);
          g_string_append_c (kept, '\n');
        }
      line = eol + 1;
    }

  preview = collapse_whitespace (kept->str, MAILER_MIME_PREVIEW_CHARS);
  if (*preview != '\0')
    return preview;

  /* A message that is all quotation still has something to show. */
  g_free (preview);
  head = g_strndup (text, utf8_cut (text, end - text, PREVIEW_SCAN_MAX));
  return collapse_whitespace (head, MAILER_MIME_PREVIEW_CHARS);
}

/* ------------------------------------------------------------------ */
/* The MIME tree                                                       */
/* ------------------------------------------------------------------ */

/* What counts as an attachment.  Walking the tree in order:
 *
 *  - signatures and encryption envelopes are not attachments
 *    (application/pkcs7-signature, application/pkcs7-mime, their x-
 *    forms, application/pgp-signature, application/pgp-encrypted, and
 *    everything inside multipart/encrypted, or after an
 *    application/pgp-encrypted part in the multipart/mixed that Exchange
 *    and others make of multipart/encrypted): they are how the body
 *    travels, not something the sender attached;
 *  - an attached message (message/rfc822, message/global, message/news)
 *    is one attachment; the parts inside it belong to it, not to this
 *    message;
 *  - a part with "Content-Disposition: attachment" is one;
 *  - a text part (any text type, and delivery or read reports) without
 *    that disposition is body text: mail clients show it inline.  When it
 *    also has a file name, it is listed as an attachment as well;
 *  - calendar and contact data (text/calendar, text/vcard) with neither
 *    that disposition nor a file name is neither body nor attachment: it
 *    is the machine-readable twin of the invitation or card that the body
 *    describes;
 *  - any other part is an attachment (TNEF winmail.dat, images, PDF...),
 *    except an image that an HTML part of the message refers to by its
 *    Content-ID ("cid:...") or Content-Location: that makes it part of the
 *    body's layout, whatever its Content-Disposition says (Gmail marks
 *    the icons of its bounces "attachment").  An image that nothing
 *    refers to is listed, so that it can be seen at all.
 */

typedef enum
{
  WALK_TEXT        = 1 << 0,  /* gather body text and preview */
  WALK_ATTACHMENTS = 1 << 1,  /* gather attachments, and HTML for cid: references */
  WALK_EMBEDDED    = 1 << 2,  /* inside an attached message */
} WalkFlags;

typedef struct
{
  MailerMimeAttachment *attachment;
  char                 *location;
  gboolean              unless_referenced;  /* an image the HTML may show */
} Candidate;

typedef struct
{
  GMimeParserOptions *options;
  GString            *body;
  char               *preview;           /* from the message's own text */
  char               *embedded_preview;  /* from an attached message's text */
  GPtrArray          *candidates;        /* of Candidate, in message order */
  GPtrArray          *html;              /* each HTML part, lower case, for references */
  GHashTable         *texts;             /* GMimePart → its text as UTF-8 */
  guint               embedded_level;    /* attached messages around the current part */
} ParseContext;

static void
candidate_free (Candidate *candidate)
{
  mailer_mime_attachment_free (candidate->attachment);
  g_free (candidate->location);
  g_free (candidate);
}

static const char * const envelope_types[] = {
  "application/pkcs7-signature", "application/x-pkcs7-signature",
  "application/pkcs7-mime", "application/x-pkcs7-mime",
  "application/pgp-signature", "application/pgp-encrypted", NULL
};

static const char * const data_text_types[] = {
  "text/calendar", "text/x-vcalendar", "text/vcard", "text/x-vcard", "text/directory", NULL
};

static const char * const report_types[] = {
  "message/delivery-status", "message/global-delivery-status", "message/rfc822-headers",
  "message/disposition-notification", "message/global-disposition-notification",
  "message/feedback-report", "message/global-headers", NULL
};

static const char * const markup_types[] = {
  "text/html", "text/enriched", "text/richtext", NULL
};

static gboolean
type_in (const char         *mime_type,
         const char * const *types)
{
  return g_strv_contains (types, mime_type);
}

/* "type/subtype" in lower case. */
static char *
get_mime_type (GMimeObject *object)
{
  GMimeContentType *content_type = g_mime_object_get_content_type (object);
  g_autofree char *mime_type = NULL;

  if (content_type == NULL)
    return g_strdup ("text/plain");
  mime_type = g_mime_content_type_get_mime_type (content_type);
  return g_ascii_strdown (mime_type, -1);
}

static gboolean
is_part_of_type (GMimeObject *object,
                 const char  *type)
{
  g_autofree char *mime_type = NULL;

  if (!GMIME_IS_PART (object))
    return FALSE;
  mime_type = get_mime_type (object);
  return strcmp (mime_type, type) == 0;
}

/* The file name of a part, Content-Disposition's "filename" before
 * Content-Type's "name", as GMime's own g_mime_part_get_filename() does;
 * re-parsed from the raw header when GMime would trip on its encoded words
 * (see rewrite_b_words()). */
static char *
get_filename (ParseContext *ctx,
              GMimeObject  *object)
{
  const char *raw_disposition = get_raw_header (object, "Content-Disposition");
  g_autofree char *fixed_disposition = rewrite_b_words (raw_disposition);
  g_autofree char *fixed_type = rewrite_b_words (get_raw_header (object, "Content-Type"));
  g_autoptr(GMimeContentDisposition) disposition = NULL;
  g_autoptr(GMimeContentType) content_type = NULL;
  const char *name;

  if (fixed_disposition != NULL)
    {
      disposition = g_mime_content_disposition_parse (ctx->options, fixed_disposition);
      name = g_mime_content_disposition_get_parameter (disposition, "filename");
    }
  else
    {
      name = g_mime_object_get_content_disposition_parameter (object, "filename");
    }

  if (name == NULL && fixed_type != NULL)
    {
      content_type = g_mime_content_type_parse (ctx->options, fixed_type);
      name = g_mime_content_type_get_parameter (content_type, "name");
    }
  else if (name == NULL)
    {
      name = g_mime_object_get_content_type_parameter (object, "name");
    }

  return collapse_or_null (name);
}

static void
add_candidate (ParseContext *ctx,
               GMimeObject  *object,
               const char   *mime_type,
               const char   *path,
               gsize         size,
               gboolean      unless_referenced)
{
  Candidate *candidate = g_new0 (Candidate, 1);
  MailerMimeAttachment *attachment = g_new0 (MailerMimeAttachment, 1);
  const char *location = NULL;

  if (GMIME_IS_PART (object))
    location = g_mime_part_get_content_location (GMIME_PART (object));

  attachment->filename = get_filename (ctx, object);
  attachment->content_type = utf8_sanitize (mime_type, -1);
  attachment->size = size;
  attachment->content_id = sanitize_or_null (g_mime_object_get_content_id (object));
  attachment->part_path = g_strdup (path);
  candidate->attachment = attachment;
  candidate->location = location != NULL ? g_ascii_strdown (location, -1) : NULL;
  candidate->unless_referenced = unless_referenced;
  g_ptr_array_add (ctx->candidates, candidate);
}

static const char *
part_text (ParseContext *ctx,
           GMimePart    *part)
{
  char *text = g_hash_table_lookup (ctx->texts, part);

  if (text == NULL)
    {
      g_autoptr(GByteArray) bytes = decode_content (part);
      const char *charset = g_mime_object_get_content_type_parameter (GMIME_OBJECT (part),
                                                                      "charset");

      if (bytes->len > TEXT_PART_MAX)
        g_byte_array_set_size (bytes, TEXT_PART_MAX);
      text = text_to_utf8 (ctx->options, (const char *) bytes->data, bytes->len, charset);
      g_hash_table_insert (ctx->texts, part, text);
    }
  return text;
}

static void
append_body_text (GString    *body,
                  const char *text)
{
  gsize len = strlen (text);

  if (body->len > 0)
    {
      if (body->len + 2 >= MAILER_MIME_BODY_TEXT_MAX)
        return;
      g_string_append (body, "\n\n");
    }
  if (body->len >= MAILER_MIME_BODY_TEXT_MAX)
    return;
  g_string_append_len (body, text, utf8_cut (text, len, MAILER_MIME_BODY_TEXT_MAX - body->len));
}

/* Returns whether the part gave body text. */
static gboolean
walk_text_part (ParseContext *ctx,
                GMimePart    *part,
                const char   *mime_type,
                WalkFlags     flags)
{
  g_autofree char *reduced = NULL;
  const char *text;

  if ((flags & WALK_ATTACHMENTS) && strcmp (mime_type, "text/html") == 0)
    g_ptr_array_add (ctx->html, g_ascii_strdown (part_text (ctx, part), -1));
  if (!(flags & WALK_TEXT))
    return FALSE;

  text = part_text (ctx, part);
  if (type_in (mime_type, markup_types))
    text = reduced = mailer_mime_html_to_text (text, -1);
  if (!has_visible_text (text))
    return FALSE;

  append_body_text (ctx->body, text);
  if ((flags & WALK_EMBEDDED) == 0 && ctx->preview == NULL)
    ctx->preview = make_preview (text);
  else if ((flags & WALK_EMBEDDED) != 0 && ctx->embedded_preview == NULL)
    ctx->embedded_preview = make_preview (text);
  return TRUE;
}

static gboolean
walk_part (ParseContext *ctx,
           GMimePart    *part,
           const char   *path,
           WalkFlags     flags)
{
  GMimeObject *object = GMIME_OBJECT (part);
  g_autofree char *mime_type = get_mime_type (object);
  g_autofree char *filename = NULL;
  const char *disposition = g_mime_object_get_disposition (object);
  gboolean attached = disposition != NULL && g_ascii_strcasecmp (disposition, "attachment") == 0;
  gboolean image;

  gboolean data;
  gboolean text;
  gboolean found = FALSE;

  if (type_in (mime_type, envelope_types))
    return FALSE;

  data = type_in (mime_type, data_text_types);
  text = !data && (g_str_has_prefix (mime_type, "text/") || type_in (mime_type, report_types));
  if (text && !attached)
    found = walk_text_part (ctx, part, mime_type, flags);

  filename = get_filename (ctx, object);
  if ((text || data) && !attached && filename == NULL)
    return found;
  if ((flags & WALK_ATTACHMENTS) == 0)
    return found;

  image = g_str_has_prefix (mime_type, "image/") &&
          (g_mime_object_get_content_id (object) != NULL ||
           g_mime_part_get_content_location (part) != NULL);
  add_candidate (ctx, object, mime_type, path, decoded_size (part), image);
  return found;
}

static gboolean walk_object (ParseContext *ctx,
                             GMimeObject  *object,
                             const char   *path,
                             guint         depth,
                             WalkFlags     flags);

/* IMAP section numbers (RFC 3501 §6.4.5), so that the number of an
 * attachment is also how to fetch it. */
static char *
child_path (const char *path,
            int         index)
{
  return *path != '\0' ? g_strdup_printf ("%s.%d", path, index + 1)
                       : g_strdup_printf ("%d", index + 1);
}

static gboolean
walk_child (ParseContext   *ctx,
            GMimeMultipart *multipart,
            int             index,
            const char     *path,
            guint           depth,
            WalkFlags       flags)
{
  g_autofree char *sub_path = child_path (path, index);
  GMimeObject *child = g_mime_multipart_get_part (multipart, index);

  return walk_object (ctx, child, sub_path, depth + 1, flags);
}

static gboolean
walk_message_body (ParseContext *ctx,
                   GMimeMessage *message,
                   const char   *path,
                   guint         depth,
                   WalkFlags     flags)
{
  GMimeObject *body = g_mime_message_get_mime_part (message);
  g_autofree char *body_path = NULL;

  if (body == NULL)
    return FALSE;
  /* A multipart body's parts are numbered from the message's own number;
   * a single-part body is part 1 of it. */
  body_path = GMIME_IS_MULTIPART (body) ? g_strdup (path) : child_path (path, 0);
  return walk_object (ctx, body, body_path, depth + 1, flags);
}

static gboolean
walk_message_part (ParseContext     *ctx,
                   GMimeMessagePart *part,
                   const char       *path,
                   guint             depth,
                   WalkFlags         flags)
{
  GMimeMessage *message = g_mime_message_part_get_message (part);
  gboolean found;

  if (flags & WALK_ATTACHMENTS)
    {
      g_autofree char *mime_type = get_mime_type (GMIME_OBJECT (part));

      add_candidate (ctx, GMIME_OBJECT (part), mime_type, path, message_size (message), FALSE);
    }

  /* The text of an attached message is searchable, as a forward is often
   * nothing else, and gives the preview when the message has no text of
   * its own; a few levels of forwards are enough for that. */
  if (message == NULL || (flags & WALK_TEXT) == 0 || ctx->embedded_level >= MAX_EMBEDDED_TEXT)
    return FALSE;
  ctx->embedded_level++;
  found = walk_message_body (ctx, message, path, depth, WALK_TEXT | WALK_EMBEDDED);
  ctx->embedded_level--;
  return found;
}

static gboolean
walk_alternative (ParseContext   *ctx,
                  GMimeMultipart *multipart,
                  const char     *path,
                  guint           depth,
                  WalkFlags       flags)
{
  int n = g_mime_multipart_get_count (multipart);

  if (flags & WALK_ATTACHMENTS)
    for (int i = 0; i < n; i++)
      walk_child (ctx, multipart, i, path, depth, flags & ~WALK_TEXT);
  if ((flags & WALK_TEXT) == 0)
    return FALSE;

  /* Search and the preview want words, not markup: the plain alternative
   * when it has any text, else the richest one (the last) that has. */
  flags &= ~WALK_ATTACHMENTS;
  for (int i = 0; i < n; i++)
    if (is_part_of_type (g_mime_multipart_get_part (multipart, i), "text/plain") &&
        walk_child (ctx, multipart, i, path, depth, flags))
      return TRUE;
  for (int i = n - 1; i >= 0; i--)
    if (!is_part_of_type (g_mime_multipart_get_part (multipart, i), "text/plain") &&
        walk_child (ctx, multipart, i, path, depth, flags))
      return TRUE;
  return FALSE;
}

/* The index of the root part of a multipart/related (RFC 2387): the one
 * named by the "start" parameter, else the first. */
static int
related_root (GMimeMultipart *multipart)
{
  const char *start = g_mime_object_get_content_type_parameter (GMIME_OBJECT (multipart), "start");
  g_autofree char *start_id = start != NULL ? g_mime_utils_decode_message_id (start) : NULL;

  for (int i = 0; start_id != NULL && i < g_mime_multipart_get_count (multipart); i++)
    {
      const char *id = g_mime_object_get_content_id (g_mime_multipart_get_part (multipart, i));

      if (id != NULL && strcmp (id, start_id) == 0)
        return i;
    }
  return 0;
}

static gboolean
walk_multipart (ParseContext   *ctx,
                GMimeMultipart *multipart,
                const char     *path,
                guint           depth,
                WalkFlags       flags)
{
  GMimeContentType *content_type = g_mime_object_get_content_type (GMIME_OBJECT (multipart));
  const char *subtype = NULL;
  int n = g_mime_multipart_get_count (multipart);
  gboolean found = FALSE;

  if (content_type != NULL)
    subtype = g_mime_content_type_get_media_subtype (content_type);
  if (subtype == NULL)
    subtype = "mixed";

  if (g_ascii_strcasecmp (subtype, "encrypted") == 0)
    return FALSE;
  if (g_ascii_strcasecmp (subtype, "signed") == 0)
    return n > 0 && walk_child (ctx, multipart, 0, path, depth, flags);
  if (g_ascii_strcasecmp (subtype, "alternative") == 0)
    return walk_alternative (ctx, multipart, path, depth, flags);

  if (g_ascii_strcasecmp (subtype, "related") == 0)
    {
      int root = related_root (multipart);

      /* The other parts are the root's resources: no text of their own,
       * unless the root has none, as when a sender put it elsewhere than
       * RFC 2387 says. */
      for (int i = 0; i < n; i++)
        found |= walk_child (ctx, multipart, i, path, depth,
                             i == root ? flags : flags & ~WALK_TEXT);
      for (int i = 0; i < n && !found && (flags & WALK_TEXT) != 0; i++)
        if (i != root)
          found = walk_child (ctx, multipart, i, path, depth, flags & ~WALK_ATTACHMENTS);
      return found;
    }

  for (int i = 0; i < n; i++)
    {
      /* The ciphertext of a PGP/MIME message whose multipart/encrypted
       * was relabelled multipart/mixed on the way. */
      if (i > 0 && is_part_of_type (g_mime_multipart_get_part (multipart, i - 1),
                                    "application/pgp-encrypted"))
        continue;
      found |= walk_child (ctx, multipart, i, path, depth, flags);
    }
  return found;
}

static gboolean
walk_object (ParseContext *ctx,
             GMimeObject  *object,
             const char   *path,
             guint         depth,
             WalkFlags     flags)
{
  if (object == NULL || depth > MAX_DEPTH || (flags & (WALK_TEXT | WALK_ATTACHMENTS)) == 0)
    return FALSE;
  if (GMIME_IS_MESSAGE_PART (object))
    return walk_message_part (ctx, GMIME_MESSAGE_PART (object), path, depth, flags);
  if (GMIME_IS_MULTIPART (object))
    return walk_multipart (ctx, GMIME_MULTIPART (object), path, depth, flags);
  if (GMIME_IS_PART (object))
    return walk_part (ctx, GMIME_PART (object), path, flags);
  return FALSE;
}

static gboolean
is_reference_delimiter (char c)
{
  return g_ascii_isspace (c) || strchr ("\"'<>()", c) != NULL;
}

/* Every word of the HTML parts that could name another part of the
 * message, as in src="cid:logo", url(cid:logo) or src=cid:logo, so that
 * each image costs one lookup however large the HTML. */
static GHashTable *
collect_references (GPtrArray *html)
{
  GHashTable *references = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

  for (guint i = 0; i < html->len; i++)
    {
      const char *p = g_ptr_array_index (html, i);

      while (*p != '\0')
        {
          const char *start;
          const char *cid;
          g_autofree char *word = NULL;

          while (*p != '\0' && is_reference_delimiter (*p))
            p++;
          start = p;
          while (*p != '\0' && !is_reference_delimiter (*p))
            p++;
          if (p == start)
            continue;

          word = g_strndup (start, p - start);
          cid = strstr (word, "cid:");
          if (cid != NULL && cid != word)
            g_hash_table_add (references, g_strdup (cid));
          g_hash_table_add (references, g_steal_pointer (&word));
        }
    }
  return references;
}

static gboolean
is_referenced (GHashTable           *references,
               MailerMimeAttachment *attachment,
               const char           *location)
{
  if (attachment->content_id != NULL)
    {
      g_autofree char *id = g_ascii_strdown (attachment->content_id, -1);
      g_autofree char *cid = g_strconcat ("cid:", id, NULL);

      if (g_hash_table_contains (references, cid))
        return TRUE;
    }
  return location != NULL && g_hash_table_contains (references, location);
}

static void
read_body (MailerMimeSummary  *summary,
           GMimeMessage       *message,
           GMimeParserOptions *options)
{
  ParseContext ctx = {
    .options = options,
    .body = g_string_new (NULL),
    .candidates = g_ptr_array_new_with_free_func ((GDestroyNotify) candidate_free),
    .html = g_ptr_array_new_with_free_func (g_free),
    .texts = g_hash_table_new_full (NULL, NULL, NULL, g_free),
  };
  g_autoptr(GHashTable) references = NULL;

  walk_message_body (&ctx, message, "", 0, WALK_TEXT | WALK_ATTACHMENTS);

  summary->attachments =
    g_ptr_array_new_with_free_func ((GDestroyNotify) mailer_mime_attachment_free);
  for (guint i = 0; i < ctx.candidates->len; i++)
    {
      Candidate *candidate = g_ptr_array_index (ctx.candidates, i);

      if (candidate->unless_referenced && references == NULL)
        references = collect_references (ctx.html);
      if (candidate->unless_referenced &&
          is_referenced (references, candidate->attachment, candidate->location))
        continue;
      g_ptr_array_add (summary->attachments, g_steal_pointer (&candidate->attachment));
    }
  summary->has_attachment = summary->attachments->len > 0;

  summary->body_text = g_string_free (g_steal_pointer (&ctx.body), FALSE);
  if (ctx.preview != NULL)
    summary->preview = g_steal_pointer (&ctx.preview);
  else if (ctx.embedded_preview != NULL)
    summary->preview = g_steal_pointer (&ctx.embedded_preview);
  else
    summary->preview = g_strdup ("");

  g_free (ctx.preview);
  g_free (ctx.embedded_preview);
  g_ptr_array_unref (ctx.candidates);
  g_ptr_array_unref (ctx.html);
  g_hash_table_unref (ctx.texts);
}

/* ------------------------------------------------------------------ */
/* Entry points                                                        */
/* ------------------------------------------------------------------ */

/* Moves past what some files put before the header section and GMime
 * cannot take for headers: a byte order mark, blank lines or a stray
 * indent, and the "From " line that starts each message of an mbox file
 * (IMAP and POP3 never send one, imported files may). */
static void
skip_preamble (const char **data,
               gsize       *len)
{
  const char *p = *data;
  const char *end = p + *len;

  if (end - p >= 3 && memcmp (p, "\xEF\xBB\xBF", 3) == 0)
    p += 3;
  while (p < end && g_ascii_isspace (*p))
    p++;
  if (end - p >= 5 && memcmp (p, "From ", 5) == 0)
    {
      const char *eol = memchr (p, '\n', end - p);

      p = eol != NULL ? eol + 1 : end;
    }
  *len = end - p;
  *data = p;
}

static GMimeParserOptions *
new_parser_options (void)
{
  /* Undeclared 8-bit headers: UTF-8 when valid, else Windows' superset of
   * Latin-1, else Latin-1 itself, which accepts any byte. */
  static const char *fallback_charsets[] = { "UTF-8", "windows-1252", "iso-8859-1", NULL };
  GMimeParserOptions *options = g_mime_parser_options_new ();

  g_mime_parser_options_set_address_compliance_mode (options, GMIME_RFC_COMPLIANCE_LOOSE);
  g_mime_parser_options_set_parameter_compliance_mode (options, GMIME_RFC_COMPLIANCE_LOOSE);
  g_mime_parser_options_set_rfc2047_compliance_mode (options, GMIME_RFC_COMPLIANCE_LOOSE);
  g_mime_parser_options_set_fallback_charsets (options, fallback_charsets);
  return options;
}

static GMimeMessage *
construct_message (const char         *data,
                   gsize               len,
                   GMimeParserOptions *options)
{
  g_autoptr(GMimeStream) stream = g_mime_stream_mem_new_with_buffer (data, len);
  g_autoptr(GMimeParser) parser = g_mime_parser_new_with_stream (stream);

  /* @stream copies @data, and the parts of the message hold on to it. */
  g_mime_parser_set_format (parser, GMIME_FORMAT_MESSAGE);
  return g_mime_parser_construct_message (parser, options);
}

MailerMimeSummary *
mailer_mime_parse (GBytes  *raw,
                   GError **error)
{
  g_autoptr(GMimeParserOptions) options = NULL;
  g_autoptr(GMimeMessage) message = NULL;
  MailerMimeSummary *summary;
  const char *data;
  gsize len;

  g_return_val_if_fail (raw != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  ensure_gmime ();
  data = g_bytes_get_data (raw, &len);

  skip_preamble (&data, &len);
  if (len == 0)
    {
      g_set_error_literal (error, MAILER_STORE_ERROR, MAILER_STORE_ERROR_FAILED,
                           "The message is empty");
      return NULL;
    }

  options = new_parser_options ();
  message = construct_message (data, len, options);
  if (message == NULL)
    {
      /* No header section at all (a note, a damaged export): all of it
       * is body, behind an empty header section. */
      g_autoptr(GByteArray) headless = g_byte_array_sized_new (len + 1);

      g_byte_array_append (headless, (const guint8 *) "\n", 1);
      g_byte_array_append (headless, (const guint8 *) data, len);
      message = construct_message ((const char *) headless->data, headless->len, options);
    }
  if (message == NULL)
    {
      g_set_error_literal (error, MAILER_STORE_ERROR, MAILER_STORE_ERROR_FAILED,
                           "The message cannot be parsed");
      return NULL;
    }

  summary = g_new0 (MailerMimeSummary, 1);
  read_headers (summary, message, options);
  read_body (summary, message, options);
  return summary;
}

/* Where the header section of @data ends: just after its blank line, or
 * at the end when there is none. */
static gsize
header_section_length (const char *data,
                       gsize       len)
{
  for (gsize i = 0; i + 1 < len; i++)
    {
      if (data[i] != '\n')
        continue;
      if (data[i + 1] == '\n')
        return i + 2;
      if (data[i + 1] == '\r' && i + 2 < len && data[i + 2] == '\n')
        return i + 3;
    }
  return len;
}

/**
 * mailer_mime_parse_headers:
 *
 * Like mailer_mime_parse(), from the header section alone: what a list
 * shows and threads by, at a fraction of the cost of the whole message.
 * The preview and body text are empty and there are no attachments;
 * mailer_mime_parse() fills them in later.  A message whose header section
 * cannot be read alone is parsed whole.
 */
MailerMimeSummary *
mailer_mime_parse_headers (GBytes  *raw,
                           GError **error)
{
  g_autoptr(GMimeParserOptions) options = NULL;
  g_autoptr(GMimeMessage) message = NULL;
  MailerMimeSummary *summary;
  const char *data;
  gsize len;

  g_return_val_if_fail (raw != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  ensure_gmime ();
  data = g_bytes_get_data (raw, &len);
  skip_preamble (&data, &len);
  if (len > 0)
    {
      options = new_parser_options ();
      message = construct_message (data, header_section_length (data, len), options);
    }
  if (message == NULL)
    return mailer_mime_parse (raw, error);

  summary = g_new0 (MailerMimeSummary, 1);
  read_headers (summary, message, options);
  summary->attachments = g_ptr_array_new_with_free_func ((GDestroyNotify) mailer_mime_attachment_free);
  summary->preview = g_strdup ("");
  summary->body_text = g_strdup ("");
  return summary;
}

/* The reader's view of a message: its HTML, and the parts it shows
 * inline by Content-ID. */

static GMimeMessage *
parse_whole (GBytes              *raw,
             GMimeParserOptions **options_out)
{
  g_autoptr(GMimeParserOptions) options = NULL;
  const char *data;
  gsize len;

  ensure_gmime ();
  data = g_bytes_get_data (raw, &len);
  skip_preamble (&data, &len);
  if (len == 0)
    return NULL;
  options = new_parser_options ();
  *options_out = g_steal_pointer (&options);
  return construct_message (data, len, *options_out);
}

static gboolean
is_attachment (GMimeObject *part)
{
  GMimeContentDisposition *disposition = g_mime_object_get_content_disposition (part);

  return disposition != NULL && g_mime_content_disposition_is_attachment (disposition);
}

typedef struct
{
  GMimeParserOptions *options;
  char *html;
  const char *cid;
  GBytes *found;
  char *found_type;
} ReaderSearch;

static void
find_html_cb (GMimeObject *parent,
              GMimeObject *part,
              gpointer     user_data)
{
  ReaderSearch *search = user_data;
  GMimeContentType *type;

  if (search->html != NULL || !GMIME_IS_PART (part) || is_attachment (part))
    return;
  type = g_mime_object_get_content_type (part);
  if (type != NULL && g_mime_content_type_is_type (type, "text", "html"))
    {
      g_autoptr(GByteArray) bytes = decode_content (GMIME_PART (part));
      const char *charset = g_mime_object_get_content_type_parameter (part, "charset");

      search->html = text_to_utf8 (search->options, (const char *) bytes->data, bytes->len, charset);
    }
}

/**
 * mailer_mime_get_html:
 *
 * Returns: (nullable): the message's HTML (its first text/html part that
 *   is not an attachment, the one a multipart/alternative prefers to
 *   show), in UTF-8, or %NULL when it has none
 */
char *
mailer_mime_get_html (GBytes *raw)
{
  g_autoptr(GMimeParserOptions) options = NULL;
  g_autoptr(GMimeMessage) message = NULL;
  ReaderSearch search = { 0, };

  g_return_val_if_fail (raw != NULL, NULL);

  message = parse_whole (raw, &options);
  if (message == NULL)
    return NULL;
  search.options = options;
  g_mime_message_foreach (message, find_html_cb, &search);
  return search.html;
}

static void
find_cid_cb (GMimeObject *parent,
             GMimeObject *part,
             gpointer     user_data)
{
  ReaderSearch *search = user_data;
  const char *id;

  if (search->found != NULL || !GMIME_IS_PART (part))
    return;
  id = g_mime_object_get_content_id (part);
  if (id != NULL && g_ascii_strcasecmp (id, search->cid) == 0)
    {
      GByteArray *bytes = decode_content (GMIME_PART (part));
      GMimeContentType *type = g_mime_object_get_content_type (part);

      search->found = g_byte_array_free_to_bytes (bytes);
      search->found_type = type ? g_mime_content_type_get_mime_type (type) : g_strdup ("application/octet-stream");
    }
}

/**
 * mailer_mime_get_part_by_cid:
 * @cid: a Content-ID, without <> (what a "cid:" URL names)
 * @content_type: (out) (optional): its type, "type/subtype"
 *
 * Returns: (nullable): the decoded content of the part with that
 *   Content-ID, or %NULL when there is none
 */
GBytes *
mailer_mime_get_part_by_cid (GBytes      *raw,
                             const char  *cid,
                             char       **content_type)
{
  g_autoptr(GMimeParserOptions) options = NULL;
  g_autoptr(GMimeMessage) message = NULL;
  ReaderSearch search = { 0, };

  g_return_val_if_fail (raw != NULL, NULL);
  g_return_val_if_fail (cid != NULL, NULL);

  message = parse_whole (raw, &options);
  if (message == NULL)
    return NULL;
  search.cid = cid;
  g_mime_message_foreach (message, find_cid_cb, &search);
  if (content_type != NULL)
    *content_type = g_steal_pointer (&search.found_type);
  g_free (search.found_type);
  return search.found;
}

/**
 * mailer_mime_get_part_by_path:
 * @path: an IMAP section number, as MailerMimeAttachment.part_path gives
 *
 * Returns: (nullable): the decoded content of that part (a message
 *   attached whole: as it was sent), or %NULL when there is none
 */
GBytes *
mailer_mime_get_part_by_path (GBytes     *raw,
                              const char *path)
{
  g_autoptr(GMimeParserOptions) options = NULL;
  g_autoptr(GMimeMessage) message = NULL;
  g_auto(GStrv) numbers = NULL;
  GMimeObject *object;

  g_return_val_if_fail (raw != NULL, NULL);
  g_return_val_if_fail (path != NULL, NULL);

  message = parse_whole (raw, &options);
  if (message == NULL)
    return NULL;
  object = g_mime_message_get_mime_part (message);
  numbers = g_strsplit (path, ".", -1);
  for (guint i = 0; object != NULL && numbers[i] != NULL; i++)
    {
      guint64 n = 0;

      if (!g_ascii_string_to_unsigned (numbers[i], 10, 1, G_MAXINT, &n, NULL))
        return NULL;
      /* Inside an attached message, the numbers go on in its body. */
      if (GMIME_IS_MESSAGE_PART (object) && i > 0)
        {
          GMimeMessage *inner = g_mime_message_part_get_message (GMIME_MESSAGE_PART (object));

          object = inner ? g_mime_message_get_mime_part (inner) : NULL;
        }
      if (object == NULL)
        return NULL;
      if (GMIME_IS_MULTIPART (object))
        object = n <= (guint64) g_mime_multipart_get_count (GMIME_MULTIPART (object))
                 ? g_mime_multipart_get_part (GMIME_MULTIPART (object), n - 1) : NULL;
      else if (n != 1)
        return NULL;
    }
  if (GMIME_IS_PART (object))
    return g_byte_array_free_to_bytes (decode_content (GMIME_PART (object)));
  if (GMIME_IS_MESSAGE_PART (object))
    {
      GMimeMessage *inner = g_mime_message_part_get_message (GMIME_MESSAGE_PART (object));
      g_autoptr(GMimeStream) mem = g_mime_stream_mem_new ();
      GByteArray *array;

      if (inner == NULL)
        return NULL;
      g_mime_object_write_to_stream (GMIME_OBJECT (inner), NULL, mem);
      array = g_mime_stream_mem_get_byte_array (GMIME_STREAM_MEM (mem));
      return g_bytes_new (array->data, array->len);
    }
  return NULL;
}

void
mailer_mime_attachment_free (MailerMimeAttachment *attachment)
{
  if (attachment == NULL)
    return;
  g_free (attachment->filename);
  g_free (attachment->content_type);
  g_free (attachment->content_id);
  g_free (attachment->part_path);
  g_free (attachment);
}

void
mailer_mime_summary_free (MailerMimeSummary *summary)
{
  if (summary == NULL)
    return;
  g_free (summary->message_id);
  g_free (summary->in_reply_to);
  g_strfreev (summary->references);
  g_free (summary->subject);
  g_free (summary->from_name);
  g_free (summary->from_address);
  g_free (summary->to);
  g_free (summary->cc);
  g_clear_pointer (&summary->attachments, g_ptr_array_unref);
  g_free (summary->preview);
  g_free (summary->body_text);
  g_free (summary);
}
