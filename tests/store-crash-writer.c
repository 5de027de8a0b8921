/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Helper for test-store-crash: writes to a store in a loop until it is
 * killed, and reports each write on stdout only once its callback said the
 * transaction committed.
 *
 *   store-crash-writer DIR FIRST-UID BATCH-SIZE
 *
 * It reuses the account and folder an earlier run left in DIR, then adds
 * batches of BATCH-SIZE raw messages (UIDs from FIRST-UID on, each with a
 * UIDL too) and marks every other message of a batch seen with a journal
 * entry.  Lines it prints:
 *
 *   ready ACCOUNT-ID FOLDER-ID
 *   committed msg UID ID SHA256-OF-RAW
 *   committed journal ID          (a flag change recorded for message ID)
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>

#include "mailer-store.h"
#include "mailer-test-util.h"

typedef struct
{
  MailerStore *store;
  gint64 folder_id;
  gint64 next_uid;
  guint batch_size;
} Writer;

static void G_GNUC_NORETURN
die (const char   *what,
     const GError *error)
{
  g_printerr ("store-crash-writer: %s: %s\n", what, error ? error->message : "failed");
  exit (2);
}

static GBytes *
make_raw (gint64 uid)
{
  g_autoptr(GDateTime) date = g_date_time_new_from_unix_utc (1700000000 + uid % 100000000);
  g_autofree char *date_text = g_date_time_format (date, "%d %b %Y %H:%M:%S +0000");
  GString *raw = g_string_new (NULL);
  guint lines;

  g_string_append_printf (raw,
                          "From: Crash Writer <writer@example.org>\r\n"
                          "To: Alex <alex@example.org>\r\n"
                          "Subject: Crash test %" G_GINT64_FORMAT "\r\n"
                          "Date: %s\r\n"
                          "Message-ID: <%" G_GINT64_FORMAT ".crash@example.org>\r\n",
                          uid, date_text, uid);
  /* Some replies, so conversations get merged too. */
  if (uid % 4 == 0)
    g_string_append_printf (raw, "In-Reply-To: <%" G_GINT64_FORMAT ".crash@example.org>\r\n", uid - 1);
  g_string_append (raw,
                   "MIME-Version: 1.0\r\n"
                   "Content-Type: text/plain; charset=utf-8\r\n"
                   "\r\n");

  /* Mostly small bodies; now and then one that spills to overflow pages. */
  lines = uid % 50 == 0 ? 600 : 1 + uid % 7;
  for (guint i = 0; i < lines; i++)
    g_string_append_printf (raw, "Line %u of message %" G_GINT64_FORMAT ": the quick brown fox.\r\n",
                            i, uid);

  return g_string_free_to_bytes (raw);
}

/* What one write was about, for its callback to report. */
typedef struct
{
  Writer *writer;
  GPtrArray *messages;  /* of MailerStoreNewMessage */
  GArray *ids;          /* gint64 */
} Batch;

static void
batch_free (Batch *batch)
{
  g_clear_pointer (&batch->messages, g_ptr_array_unref);
  g_clear_pointer (&batch->ids, g_array_unref);
  g_free (batch);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Batch, batch_free)

static void add_batch (Writer *writer);

static void
flags_done_cb (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  g_autoptr(Batch) batch = user_data;
  g_autoptr(GError) error = NULL;

  if (!mailer_store_set_flags_finish (batch->writer->store, result, &error))
    die ("changing flags", error);

  for (guint i = 0; i < batch->ids->len; i++)
    printf ("committed journal %" G_GINT64_FORMAT "\n", g_array_index (batch->ids, gint64, i));
  fflush (stdout);

  add_batch (batch->writer);
}

static void
added_cb (GObject      *source,
          GAsyncResult *result,
          gpointer      user_data)
{
  g_autoptr(Batch) batch = user_data;
  Writer *writer = batch->writer;
  Batch *seen;
  g_autoptr(GArray) ids = NULL;
  g_autoptr(GError) error = NULL;

  ids = mailer_store_add_messages_finish (writer->store, result, &error);
  if (ids == NULL)
    die ("adding messages", error);
  if (ids->len != batch->messages->len)
    die ("adding messages: wrong number of ids", NULL);

  /* Every other message of the batch is then marked seen. */
  seen = g_new0 (Batch, 1);
  seen->writer = writer;
  seen->ids = g_array_new (FALSE, FALSE, sizeof (gint64));

  for (guint i = 0; i < ids->len; i++)
    {
      MailerStoreNewMessage *message = g_ptr_array_index (batch->messages, i);
      gint64 id = g_array_index (ids, gint64, i);
      g_autofree char *sha = g_compute_checksum_for_bytes (G_CHECKSUM_SHA256, message->raw);

      printf ("committed msg %" G_GINT64_FORMAT " %" G_GINT64_FORMAT " %s\n", message->uid, id, sha);
      if (i % 2 == 0)
        g_array_append_val (seen->ids, id);
    }
  fflush (stdout);

  mailer_store_set_flags_async (writer->store, seen->ids, MAILER_MESSAGE_FLAG_SEEN, 0, TRUE,
                                NULL, flags_done_cb, seen);
}

static void
add_batch (Writer *writer)
{
  Batch *batch = g_new0 (Batch, 1);

  batch->writer = writer;
  batch->messages = g_ptr_array_new_with_free_func ((GDestroyNotify) mailer_store_new_message_free);
  for (guint i = 0; i < writer->batch_size; i++)
    {
      MailerStoreNewMessage *message = mailer_store_new_message_new ();

      message->uid = writer->next_uid++;
      message->uidl = g_strdup_printf ("crash-%" G_GINT64_FORMAT, message->uid);
      message->internal_date = 1700000000 + message->uid % 100000000;
      message->raw = make_raw (message->uid);
      g_ptr_array_add (batch->messages, message);
    }

  mailer_store_add_messages_async (writer->store, writer->folder_id, batch->messages, NULL,
                                   added_cb, batch);
}

static gint64
find_or_create_account (MailerStore *store)
{
  g_autoptr(GPtrArray) accounts = NULL;
  g_autoptr(MailerAccount) account = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  GAsyncResult *pending = NULL;

  accounts = mailer_store_list_accounts (store, &error);
  if (accounts == NULL)
    die ("listing accounts", error);
  if (accounts->len > 0)
    return mailer_account_get_id (g_ptr_array_index (accounts, 0));

  account = mailer_account_new (MAILER_ACCOUNT_KIND_IMAP);
  mailer_account_set_display_name (account, "Crash");
  mailer_account_set_host (account, "imap.example.org");
  mailer_account_set_port (account, 993);
  mailer_store_save_account_async (store, account, NULL, mailer_test_store_result_cb, &pending);
  result = mailer_test_wait_result (&pending, 30);
  if (!mailer_store_save_account_finish (store, result, &error))
    die ("saving the account", error);
  return mailer_account_get_id (account);
}

static gint64
find_or_create_folder (MailerStore *store,
                       gint64       account_id)
{
  g_autoptr(GPtrArray) folders = NULL;
  g_autoptr(MailerFolder) folder = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  GAsyncResult *pending = NULL;

  folders = mailer_store_list_folders (store, account_id, &error);
  if (folders == NULL)
    die ("listing folders", error);
  for (guint i = 0; i < folders->len; i++)
    if (g_str_equal (mailer_folder_get_path (g_ptr_array_index (folders, i)), "INBOX"))
      return mailer_folder_get_id (g_ptr_array_index (folders, i));

  folder = mailer_folder_new (account_id, "INBOX");
  mailer_folder_set_role (folder, MAILER_FOLDER_ROLE_INBOX);
  mailer_store_save_folder_async (store, folder, NULL, mailer_test_store_result_cb, &pending);
  result = mailer_test_wait_result (&pending, 30);
  if (!mailer_store_save_folder_finish (store, result, &error))
    die ("saving the folder", error);
  return mailer_folder_get_id (folder);
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GMainLoop) loop = NULL;
  g_autoptr(GError) error = NULL;
  Writer writer = { 0 };
  gint64 account_id;

  if (argc != 4)
    {
      g_printerr ("Usage: %s DIR FIRST-UID BATCH-SIZE\n", argv[0]);
      return 2;
    }

  writer.next_uid = g_ascii_strtoll (argv[2], NULL, 10);
  writer.batch_size = (guint) g_ascii_strtoull (argv[3], NULL, 10);
  if (writer.next_uid <= 0 || writer.batch_size == 0)
    {
      g_printerr ("store-crash-writer: bad FIRST-UID or BATCH-SIZE\n");
      return 2;
    }

  writer.store = mailer_store_open (argv[1], &error);
  if (writer.store == NULL)
    die ("opening the store", error);

  account_id = find_or_create_account (writer.store);
  writer.folder_id = find_or_create_folder (writer.store, account_id);
  printf ("ready %" G_GINT64_FORMAT " %" G_GINT64_FORMAT "\n", account_id, writer.folder_id);
  fflush (stdout);

  loop = g_main_loop_new (NULL, FALSE);
  add_batch (&writer);
  /* Runs until the test kills the process. */
  g_main_loop_run (loop);
  return 0;
}
