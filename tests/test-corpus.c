/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Robustness of the MIME layer over a corpus of real-world and deliberately
 * broken messages, kept outside the project in the directory named by
 * MAILER_CORPUS: every file parses quickly, every string of every summary
 * is valid UTF-8, every message with text has a preview, and parsing from
 * several threads at once gives the same summaries; and the store keeps
 * every one of them: stored byte for byte, listed, previewed and found by
 * a word of its subject.
 */
#include "config.h"

#include <glib/gstdio.h>
#include <gmime/gmime.h>
#include <string.h>

#include "mailer-message-list.h"
#include "mailer-mime.h"
#include "mailer-store.h"
#include "mailer-test-util.h"

/* Per message, on a slow machine under a sanitizer: parsing the largest
 * corpus file takes a few milliseconds in a normal build. */
#define PARSE_BUDGET_USEC (2 * G_USEC_PER_SEC)

#define N_THREADS 4

/* Messages with a non-blank text/plain or text/html part that still have
 * no preview, on purpose.  Each entry says why; an entry that starts to
 * give a preview fails the test, so that the list stays true. */
static const char * const no_preview_expected[] = {
  /* The only text part is marked "Content-Disposition: attachment": an
   * attachment, not a body to preview. */
  "mime4j__russian.msg.eml",                 /* a lone text/plain "Список.doc" */
  "phpmmp__issue126.eml",                    /* Exchange's ATT00001.txt */
  "rubymail__japanese_attachment_long_name.eml",
  "zbateson__m3004.txt.eml",                 /* empty text/plain, then the attached story */

  /* The HTML has markup but no text, and the plain part (if any) is empty. */
  "mailcore2__1798-korean.eml",              /* a newsletter of images and image maps */
  "nodemailer__htmllargecallstack.eml",      /* all 570 KB sit inside <title> */
  "phpmmp__issue149.eml",                    /* <div><br></div> */
  "rubymail__attachment_message_rfc822_inline_image.eml",  /* one <img>; the attached
                                                            * message has no text */
  "spamassassin__target_uri.eml",            /* one <br> */
  "stalwart__thirdparty_011.eml",            /* one <img> */
  "thunderbird__apple_mail_related_attachments.eml",  /* <object> placeholders */
  "thunderbird__evil.eml",                   /* a <form> with one <input> */
  "thunderbird__outlook-test-invite.eml",    /* &nbsp;: the invitation is in text/calendar */
  NULL
};

typedef struct
{
  char   *name;
  GBytes *bytes;
} CorpusFile;

static void
corpus_file_free (CorpusFile *file)
{
  g_free (file->name);
  g_bytes_unref (file->bytes);
  g_free (file);
}

static int
compare_files (gconstpointer a,
               gconstpointer b)
{
  const CorpusFile *file_a = *(const CorpusFile **) a;
  const CorpusFile *file_b = *(const CorpusFile **) b;

  return strcmp (file_a->name, file_b->name);
}

/* The corpus, sorted by name; NULL after failing the test when there is
 * none to read. */
static GPtrArray *
load_corpus (void)
{
  const char *path = g_getenv ("MAILER_CORPUS");
  g_autoptr(GPtrArray) files = g_ptr_array_new_with_free_func ((GDestroyNotify) corpus_file_free);
  g_autoptr(GDir) dir = NULL;
  g_autoptr(GError) error = NULL;
  const char *name;

  if (path == NULL || *path == '\0')
    {
      g_test_fail_printf ("MAILER_CORPUS is not set: set it to the directory of the .eml "
                          "corpus (for example MAILER_CORPUS=/work/shared/corpus/eml)");
      return NULL;
    }

  dir = g_dir_open (path, 0, &error);
  if (dir == NULL)
    {
      g_test_fail_printf ("Cannot read MAILER_CORPUS=%s: %s", path, error->message);
      return NULL;
    }

  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *file_path = g_build_filename (path, name, NULL);
      CorpusFile *file;
      char *data;
      gsize len;

      if (!g_str_has_suffix (name, ".eml"))
        continue;
      if (!g_file_get_contents (file_path, &data, &len, &error))
        {
          g_test_fail_printf ("Cannot read %s: %s", file_path, error->message);
          return NULL;
        }
      file = g_new0 (CorpusFile, 1);
      file->name = g_strdup (name);
      file->bytes = g_bytes_new_take (data, len);
      g_ptr_array_add (files, file);
    }

  if (files->len == 0)
    {
      g_test_fail_printf ("MAILER_CORPUS=%s holds no .eml file", path);
      return NULL;
    }
  g_ptr_array_sort (files, compare_files);
  return g_steal_pointer (&files);
}

/* Whether the content of @part has anything but white space. */
static gboolean
part_has_text (GMimePart *part)
{
  GMimeDataWrapper *content = g_mime_part_get_content (part);
  GMimeStream *stream;
  GByteArray *array;
  gboolean found = FALSE;

  if (content == NULL)
    return FALSE;
  stream = g_mime_stream_mem_new ();
  g_mime_data_wrapper_write_to_stream (content, stream);
  array = g_mime_stream_mem_get_byte_array (GMIME_STREAM_MEM (stream));
  for (guint i = 0; i < array->len && !found; i++)
    found = !g_ascii_isspace (array->data[i]) && array->data[i] != '\0';
  g_object_unref (stream);
  return found;
}

static gboolean
object_has_text (GMimeObject *object,
                 guint        depth)
{
  if (object == NULL || depth > 32)
    return FALSE;

  if (GMIME_IS_MESSAGE_PART (object))
    {
      GMimeMessage *message = g_mime_message_part_get_message (GMIME_MESSAGE_PART (object));

      return message != NULL && object_has_text (g_mime_message_get_mime_part (message), depth + 1);
    }

  if (GMIME_IS_MULTIPART (object))
    {
      GMimeMultipart *multipart = GMIME_MULTIPART (object);

      for (int i = 0; i < g_mime_multipart_get_count (multipart); i++)
        if (object_has_text (g_mime_multipart_get_part (multipart, i), depth + 1))
          return TRUE;
      return FALSE;
    }

  if (GMIME_IS_PART (object))
    {
      GMimeContentType *type = g_mime_object_get_content_type (object);

      return (g_mime_content_type_is_type (type, "text", "plain") ||
              g_mime_content_type_is_type (type, "text", "html")) &&
             part_has_text (GMIME_PART (object));
    }

  return FALSE;
}

/* Whether the message has a text/plain or text/html part with text, seen
 * by GMime alone.  Like the store, it looks past what some files put
 * before the headers (a byte order mark, blank lines, an mbox "From "
 * line). */
static gboolean
message_has_text (GBytes *bytes)
{
  gsize len;
  const char *data = g_bytes_get_data (bytes, &len);
  const char *end = data + len;
  GMimeStream *stream;
  GMimeParser *parser;
  GMimeMessage *message;
  gboolean found;

  if (end - data >= 3 && memcmp (data, "\xEF\xBB\xBF", 3) == 0)
    data += 3;
  while (data < end && g_ascii_isspace (*data))
    data++;
  if (end - data >= 5 && memcmp (data, "From ", 5) == 0)
    {
      const char *eol = memchr (data, '\n', end - data);

      data = eol != NULL ? eol + 1 : end;
    }

  stream = g_mime_stream_mem_new_with_buffer (data, end - data);
  parser = g_mime_parser_new_with_stream (stream);
  message = g_mime_parser_construct_message (parser, NULL);
  found = message != NULL && object_has_text (g_mime_message_get_mime_part (message), 0);
  g_clear_object (&message);
  g_object_unref (parser);
  g_object_unref (stream);
  return found;
}

static gboolean
is_valid (const char *text)
{
  return text == NULL || g_utf8_validate (text, -1, NULL);
}

/* What is wrong with @summary, or NULL. */
static char *
check_summary (const MailerMimeSummary *summary)
{
  const char *fields[] = {
    summary->message_id, summary->in_reply_to, summary->subject, summary->from_name,
    summary->from_address, summary->to, summary->cc, summary->preview, summary->body_text,
  };

  for (guint i = 0; i < G_N_ELEMENTS (fields); i++)
    if (!is_valid (fields[i]))
      return g_strdup_printf ("field %u is not valid UTF-8", i);
  if (summary->subject == NULL || summary->to == NULL || summary->cc == NULL ||
      summary->preview == NULL || summary->body_text == NULL)
    return g_strdup ("a field that is never NULL is NULL");

  if (summary->references == NULL)
    return g_strdup ("references is NULL");
  for (guint i = 0; summary->references[i] != NULL; i++)
    if (!is_valid (summary->references[i]))
      return g_strdup_printf ("reference %u is not valid UTF-8", i);

  if (g_utf8_strlen (summary->preview, -1) > MAILER_MIME_PREVIEW_CHARS)
    return g_strdup_printf ("preview is %ld characters long", g_utf8_strlen (summary->preview, -1));
  if (strlen (summary->body_text) > MAILER_MIME_BODY_TEXT_MAX)
    return g_strdup_printf ("body text is %zu bytes long", strlen (summary->body_text));

  if (summary->attachments == NULL)
    return g_strdup ("attachments is NULL");
  if (summary->has_attachment != (summary->attachments->len > 0))
    return g_strdup ("has_attachment disagrees with the attachment list");
  for (guint i = 0; i < summary->attachments->len; i++)
    {
      MailerMimeAttachment *attachment = g_ptr_array_index (summary->attachments, i);

      if (!is_valid (attachment->filename) || !is_valid (attachment->content_type) ||
          !is_valid (attachment->content_id) || !is_valid (attachment->part_path))
        return g_strdup_printf ("attachment %u has a string that is not valid UTF-8", i);
      if (attachment->content_type == NULL || strchr (attachment->content_type, '/') == NULL ||
          attachment->part_path == NULL || *attachment->part_path == '\0')
        return g_strdup_printf ("attachment %u has no type or no part path", i);
    }

  return NULL;
}

static void
test_corpus_parse (void)
{
  g_autoptr(GPtrArray) files = load_corpus ();
  g_autoptr(GPtrArray) failures = g_ptr_array_new_with_free_func (g_free);
  guint n_attachments = 0;
  guint n_previews = 0;
  guint n_allowed = 0;
  gint64 total_usec = 0;
  gint64 slowest_usec = 0;
  const char *slowest = NULL;

  if (files == NULL)
    return;

  for (guint i = 0; i < files->len; i++)
    {
      CorpusFile *file = g_ptr_array_index (files, i);
      g_autoptr(MailerMimeSummary) summary = NULL;
      g_autoptr(GError) error = NULL;
      g_autofree char *problem = NULL;
      gboolean allowed = g_strv_contains (no_preview_expected, file->name);
      gint64 start = g_get_monotonic_time ();
      gint64 usec;

      summary = mailer_mime_parse (file->bytes, &error);
      usec = g_get_monotonic_time () - start;
      total_usec += usec;
      if (usec > slowest_usec)
        {
          slowest_usec = usec;
          slowest = file->name;
        }

      if (summary == NULL)
        {
          g_ptr_array_add (failures, g_strdup_printf ("%s: not parsed: %s", file->name,
                                                      error->message));
          continue;
        }
      if (usec > PARSE_BUDGET_USEC)
        g_ptr_array_add (failures, g_strdup_printf ("%s: took %.1f ms", file->name,
                                                    (double) usec / 1000));
      problem = check_summary (summary);
      if (problem != NULL)
        g_ptr_array_add (failures, g_strdup_printf ("%s: %s", file->name, problem));

      n_attachments += summary->has_attachment ? 1 : 0;
      n_previews += *summary->preview != '\0' ? 1 : 0;
      if (*summary->preview == '\0' && message_has_text (file->bytes))
        {
          if (allowed)
            n_allowed++;
          else
            g_ptr_array_add (failures, g_strdup_printf ("%s: has text but no preview", file->name));
        }
      else if (*summary->preview != '\0' && allowed)
        {
          g_ptr_array_add (failures, g_strdup_printf ("%s: has a preview now, remove it from "
                                                      "no_preview_expected", file->name));
        }
    }

  g_test_message ("%u files, %u with attachments, %u with a preview, %u without one as "
                  "expected, %u failures", files->len, n_attachments, n_previews, n_allowed,
                  failures->len);
  g_test_message ("parsing took %.3f s in all, %.3f ms per message on average, "
                  "%.3f ms at most (%s)", (double) total_usec / G_USEC_PER_SEC,
                  (double) total_usec / files->len / 1000, (double) slowest_usec / 1000, slowest);
  for (guint i = 0; i < failures->len; i++)
    g_test_message ("FAIL %s", (const char *) g_ptr_array_index (failures, i));
  g_assert_cmpuint (failures->len, ==, 0);
}

/* A parse result reduced to what a race would most likely damage. */
static char *
fingerprint (GBytes *bytes)
{
  g_autoptr(MailerMimeSummary) summary = mailer_mime_parse (bytes, NULL);
  g_autoptr(GString) out = g_string_new (NULL);

  if (summary == NULL)
    return g_strdup ("(error)");

  g_string_append_printf (out, "%s|%s|%s|%s|%" G_GINT64_FORMAT "|%u|%s|%s",
                          summary->message_id, summary->subject, summary->from_name,
                          summary->to, summary->date, summary->attachments->len,
                          summary->preview, summary->body_text);
  for (guint i = 0; i < summary->attachments->len; i++)
    {
      MailerMimeAttachment *attachment = g_ptr_array_index (summary->attachments, i);

      g_string_append_printf (out, "|%s %s %zu %s", attachment->filename,
                              attachment->content_type, attachment->size, attachment->part_path);
    }
  return g_string_free (g_steal_pointer (&out), FALSE);
}

typedef struct
{
  GPtrArray *files;
  GPtrArray *expected;  /* fingerprint of each file, parsed alone */
  guint      offset;
  guint      n_mismatches;
} ThreadData;

static gpointer
parse_all_thread (gpointer user_data)
{
  ThreadData *data = user_data;

  /* Each thread starts elsewhere in the corpus, so that different
   * messages are parsed at the same time. */
  for (guint n = 0; n < data->files->len; n++)
    {
      guint i = (n + data->offset) % data->files->len;
      CorpusFile *file = g_ptr_array_index (data->files, i);
      g_autofree char *print = fingerprint (file->bytes);

      if (g_strcmp0 (print, g_ptr_array_index (data->expected, i)) != 0)
        data->n_mismatches++;
    }
  return NULL;
}

/* The store parses on a worker thread; nothing may be shared between two
 * parses running at once. */
static void
test_corpus_threads (void)
{
  g_autoptr(GPtrArray) files = load_corpus ();
  g_autoptr(GPtrArray) expected = g_ptr_array_new_with_free_func (g_free);
  ThreadData data[N_THREADS];
  GThread *threads[N_THREADS];
  guint n_mismatches = 0;

  if (files == NULL)
    return;

  for (guint i = 0; i < files->len; i++)
    g_ptr_array_add (expected, fingerprint (((CorpusFile *) g_ptr_array_index (files, i))->bytes));

  for (guint t = 0; t < N_THREADS; t++)
    {
      data[t] = (ThreadData) { files, expected, t * files->len / N_THREADS, 0 };
      threads[t] = g_thread_new ("parse", parse_all_thread, &data[t]);
    }
  for (guint t = 0; t < N_THREADS; t++)
    {
      g_thread_join (threads[t]);
      n_mismatches += data[t].n_mismatches;
    }

  g_assert_cmpuint (n_mismatches, ==, 0);
}

static void
remove_tree (const char *path)
{
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, name, NULL);

      if (g_file_test (child, G_FILE_TEST_IS_DIR))
        remove_tree (child);
      else
        g_remove (child);
    }
  g_rmdir (path);
}

/* A word of @subject to search for: its longest run of letters. */
static char *
subject_word (const char *subject)
{
  g_autofree char *best = NULL;
  const char *p = subject;

  while (*p != '\0')
    {
      const char *start = p;

      while (*p != '\0' && g_unichar_isalpha (g_utf8_get_char (p)))
        p = g_utf8_next_char (p);
      if (p > start && (best == NULL || (gsize) (p - start) > strlen (best)))
        {
          g_free (best);
          best = g_strndup (start, p - start);
        }
      if (*p != '\0')
        p = g_utf8_next_char (p);
    }
  return g_steal_pointer (&best);
}

static void
test_corpus_store (void)
{
  g_autoptr(GPtrArray) files = load_corpus ();
  g_autoptr(MailerStore) store = NULL;
  g_autoptr(MailerAccount) account = NULL;
  g_autoptr(MailerFolder) folder = NULL;
  g_autoptr(MailerMessageList) list = NULL;
  g_autoptr(GArray) ids = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = NULL;
  GAsyncResult *pending = NULL;
  guint searched = 0;

  if (files == NULL)
    return;

  dir = g_dir_make_tmp ("mailer-corpus-XXXXXX", &error);
  g_assert_no_error (error);
  store = mailer_store_open (dir, &error);
  g_assert_no_error (error);

  account = mailer_account_new (MAILER_ACCOUNT_KIND_POP3);
  mailer_account_set_host (account, "pop.example.org");
  mailer_account_set_port (account, 995);
  mailer_store_save_account_async (store, account, NULL, mailer_test_store_result_cb, &pending);
  {
    g_autoptr(GAsyncResult) result = mailer_test_wait_result (&pending, 10);

    g_assert_true (mailer_store_save_account_finish (store, result, &error));
  }
  folder = mailer_folder_new (mailer_account_get_id (account), "INBOX");
  mailer_folder_set_role (folder, MAILER_FOLDER_ROLE_INBOX);
  mailer_store_save_folder_async (store, folder, NULL, mailer_test_store_result_cb, &pending);
  {
    g_autoptr(GAsyncResult) result = mailer_test_wait_result (&pending, 10);

    g_assert_true (mailer_store_save_folder_finish (store, result, &error));
  }

  /* In batches, as a POP download stores them: raw bytes and UIDL only;
   * the store parses. */
  for (guint start = 0; start < files->len; start += 50)
    {
      g_autoptr(GPtrArray) batch = g_ptr_array_new_with_free_func ((GDestroyNotify) mailer_store_new_message_free);
      g_autoptr(GAsyncResult) result = NULL;
      g_autoptr(GArray) batch_ids = NULL;

      for (guint i = start; i < MIN (start + 50, files->len); i++)
        {
          CorpusFile *file = g_ptr_array_index (files, i);
          MailerStoreNewMessage *message = mailer_store_new_message_new ();

          message->raw = g_bytes_ref (file->bytes);
          message->uidl = g_strdup (file->name);
          g_ptr_array_add (batch, message);
        }
      mailer_store_add_messages_async (store, mailer_folder_get_id (folder), batch, NULL,
                                       mailer_test_store_result_cb, &pending);
      result = mailer_test_wait_result (&pending, 120);
      batch_ids = mailer_store_add_messages_finish (store, result, &error);
      g_assert_no_error (error);
      g_assert_cmpuint (batch_ids->len, ==, batch->len);
      g_array_append_vals (ids, batch_ids->data, batch_ids->len);
    }

  list = mailer_message_list_new_for_folder (store, mailer_folder_get_id (folder), &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (list)), ==, files->len);

  for (guint i = 0; i < files->len; i++)
    {
      CorpusFile *file = g_ptr_array_index (files, i);
      gint64 id = g_array_index (ids, gint64, i);
      g_autoptr(MailerMessage) message = NULL;
      g_autoptr(MailerMimeSummary) summary = NULL;
      g_autoptr(GBytes) raw = NULL;
      g_autofree char *word = NULL;

      g_assert_cmpint (id, >, 0);
      message = mailer_store_get_message (store, id, &error);
      g_assert_no_error (error);
      raw = mailer_store_get_raw (store, id, &error);
      g_assert_no_error (error);
      if (!g_bytes_equal (raw, file->bytes))
        g_error ("%s: not stored byte for byte", file->name);

      /* The list row shows what the parser found. */
      summary = mailer_mime_parse (file->bytes, NULL);
      if (summary != NULL)
        {
          g_assert_cmpstr (mailer_message_get_subject (message), ==, summary->subject);
          g_assert_cmpstr (mailer_message_get_preview (message), ==, summary->preview);
        }
      g_assert_true (g_utf8_validate (mailer_message_get_subject (message), -1, NULL));
      g_assert_true (g_utf8_validate (mailer_message_get_preview (message), -1, NULL));

      /* Every tenth message can be found by a word of its subject. */
      word = subject_word (mailer_message_get_subject (message));
      if (i % 10 == 0 && word != NULL && g_utf8_strlen (word, -1) >= 3)
        {
          g_autoptr(MailerMessageList) hits = mailer_message_list_new_search (store, word, 0, &error);

          g_assert_no_error (error);
          if (mailer_message_list_find (hits, id) == G_MAXUINT)
            g_error ("%s: a search for \"%s\" does not find it", file->name, word);
          searched++;
        }
    }
  g_test_message ("Stored %u messages; found %u of them by a subject word", files->len, searched);
  g_assert_cmpuint (searched, >, files->len / 20);

  g_clear_object (&list);
  g_clear_object (&store);
  remove_tree (dir);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
  g_mime_init ();

  g_test_add_func ("/corpus/parse", test_corpus_parse);
  g_test_add_func ("/corpus/threads", test_corpus_threads);
  g_test_add_func ("/corpus/store", test_corpus_store);

  return g_test_run ();
}
