/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The text pass: messages stored with only their header section read
 * (MailerStoreNewMessage.defer_text, what a POP3 download does, so that
 * each message and its UIDL are durable as soon as they arrive) get their
 * preview, attachment mark and the search index of their body here, in
 * the background, once the downloads have gone quiet.
 *
 * A batch at a time: a worker thread reads the raw messages of up to
 * BATCH messages still marked text_indexed = 0 through a read-only
 * connection of its own and parses them; one write then stores what it
 * found and clears the mark.  What a crash interrupts is found again at
 * the next start (the mark is in the database), and nothing is lost: the
 * raw message was committed with its row.
 */
#include "config.h"

#include "mailer-store-private.h"

/* Messages per batch, and raw bytes read per batch at most. */
#define BATCH 100
#define BATCH_BYTES (4 * 1024 * 1024)
/* How long the store must have had no message added before a batch
 * starts: a download adds window after window. */
#define QUIET_MS 300

struct _MailerStoreIndexer
{
  gatomicrefcount ref_count;

  MailerStore *store;       /* owner's thread; NULL once the store goes */
  char *path;               /* the database */
  sqlite3 *db;              /* worker thread, one batch at a time */

  guint adds;               /* mailer_store_add_messages_async() under way */
  guint quiet_id;
  gboolean running;         /* a batch is being read, parsed or written */
  gboolean pending;         /* some messages may still need their text */
  GPtrArray *waiters;       /* GTask of mailer_store_index_text_async() */

  GMutex lock;              /* for stopping: */
  GCond idle;
  gboolean reading;         /* the worker thread holds db */
  gboolean stopping;
};

typedef struct
{
  gint64 id;
  MailerMimeSummary *summary;
  char *subject;        /* folded for search */
  char *addresses;
} Indexed;

static void
indexed_clear (Indexed *indexed)
{
  g_clear_pointer (&indexed->summary, mailer_mime_summary_free);
  g_clear_pointer (&indexed->subject, g_free);
  g_clear_pointer (&indexed->addresses, g_free);
}

static MailerStoreIndexer *
indexer_ref (MailerStoreIndexer *self)
{
  g_atomic_ref_count_inc (&self->ref_count);
  return self;
}

static void
indexer_unref (MailerStoreIndexer *self)
{
  if (!g_atomic_ref_count_dec (&self->ref_count))
    return;
  g_assert (self->waiters->len == 0);
  g_ptr_array_unref (self->waiters);
  g_clear_pointer (&self->db, sqlite3_close);
  g_free (self->path);
  g_mutex_clear (&self->lock);
  g_cond_clear (&self->idle);
  g_free (self);
}

MailerStoreIndexer *
_mailer_store_indexer_new (MailerStore *store,
                           const char  *path)
{
  MailerStoreIndexer *self = g_new0 (MailerStoreIndexer, 1);

  g_atomic_ref_count_init (&self->ref_count);
  self->store = store;
  self->path = g_strdup (path);
  self->waiters = g_ptr_array_new ();
  self->pending = TRUE;     /* until a batch finds nothing */
  g_mutex_init (&self->lock);
  g_cond_init (&self->idle);
  return self;
}

/* The store is going: wait for a batch being read, and let go. */
void
_mailer_store_indexer_stop (MailerStoreIndexer *self)
{
  g_mutex_lock (&self->lock);
  self->stopping = TRUE;
  while (self->reading)
    g_cond_wait (&self->idle, &self->lock);
  g_mutex_unlock (&self->lock);

  g_clear_handle_id (&self->quiet_id, g_source_remove);
  self->store = NULL;
  for (guint i = 0; i < self->waiters->len; i++)
    {
      GTask *task = g_ptr_array_index (self->waiters, i);

      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_CLOSED,
                               "The store was closed before every message was indexed");
      g_object_unref (task);
    }
  g_ptr_array_set_size (self->waiters, 0);
  indexer_unref (self);
}

/* Reading and parsing, on a worker thread */

static gboolean
open_reader (MailerStoreIndexer  *self,
             GError             **error)
{
  int rc;

  if (self->db != NULL)
    return TRUE;
  rc = sqlite3_open_v2 (self->path, &self->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL);
  if (rc != SQLITE_OK)
    {
      _mailer_store_set_error (error, self->db, rc, "Opening the mail database");
      g_clear_pointer (&self->db, sqlite3_close);
      return FALSE;
    }
  sqlite3_busy_timeout (self->db, 5000);
  return TRUE;
}

static void
read_batch_thread (GTask        *task,
                   gpointer      source_object,
                   gpointer      task_data,
                   GCancellable *cancellable)
{
  MailerStoreIndexer *self = task_data;
  g_autoptr(GArray) batch = g_array_new (FALSE, TRUE, sizeof (Indexed));
  sqlite3_stmt *stmt = NULL;
  GError *error = NULL;
  gsize bytes = 0;
  int rc = SQLITE_DONE;

  g_array_set_clear_func (batch, (GDestroyNotify) indexed_clear);

  g_mutex_lock (&self->lock);
  self->reading = !self->stopping;
  g_mutex_unlock (&self->lock);
  if (!self->reading)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_CANCELLED, "The store is closing");
      return;
    }

  if (open_reader (self, &error))
    {
      /* Messages without a raw body (an IMAP summary) have no text to
       * read: they are marked with the others, with what they have. */
      rc = sqlite3_prepare_v2 (self->db,
                               "SELECT m.id, b.raw, m.subject, m.from_name, m.from_address, m.to_list, m.cc_list"
                               " FROM messages m LEFT JOIN bodies b ON b.message_id = m.id"
                               " WHERE m.text_indexed = 0 ORDER BY m.id LIMIT ?1",
                               -1, &stmt, NULL);
      if (rc == SQLITE_OK)
        {
          sqlite3_bind_int (stmt, 1, BATCH);
          while (bytes < BATCH_BYTES && (rc = sqlite3_step (stmt)) == SQLITE_ROW)
            {
              Indexed indexed = { sqlite3_column_int64 (stmt, 0), NULL, NULL, NULL };
              const void *raw = sqlite3_column_blob (stmt, 1);
              gsize len = sqlite3_column_bytes (stmt, 1);

              if (raw != NULL && len > 0)
                {
                  g_autoptr(GBytes) bytes_raw = g_bytes_new (raw, len);

                  indexed.summary = mailer_mime_parse (bytes_raw, NULL);
                }
              /* What the index holds besides the text. */
              indexed.subject = _mailer_store_fold_for_search ((const char *) sqlite3_column_text (stmt, 2) ?: "");
              {
                g_autofree char *all = g_strjoin (" ",
                                                  (const char *) sqlite3_column_text (stmt, 3) ?: "",
                                                  (const char *) sqlite3_column_text (stmt, 4) ?: "",
                                                  (const char *) sqlite3_column_text (stmt, 5) ?: "",
                                                  (const char *) sqlite3_column_text (stmt, 6) ?: "",
                                                  NULL);

                indexed.addresses = _mailer_store_fold_for_search (all);
              }
              bytes += len;
              g_array_append_val (batch, indexed);
            }
          if (rc == SQLITE_ROW)
            rc = SQLITE_DONE;
        }
      if (rc != SQLITE_DONE)
        _mailer_store_set_error (&error, self->db, rc, "Reading messages to index");
      sqlite3_finalize (stmt);
    }

  g_mutex_lock (&self->lock);
  self->reading = FALSE;
  g_cond_signal (&self->idle);
  g_mutex_unlock (&self->lock);

  if (error != NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, g_steal_pointer (&batch), (GDestroyNotify) g_array_unref);
}

/* Writing, on the writer thread */

static gboolean
index_batch_write (MailerStore  *store,
                   sqlite3      *db,
                   GTask        *task,
                   GError      **error)
{
  GArray *batch = g_task_get_task_data (task);
  MailerStoreChanges *changes = _mailer_store_pending_changes (store);

  for (guint i = 0; i < batch->len; i++)
    {
      Indexed *indexed = &g_array_index (batch, Indexed, i);
      const MailerMimeSummary *summary = indexed->summary;
      sqlite3_stmt *mark, *fts;
      g_autofree char *body = NULL;
      gint64 folder_id, date;
      int rc;

      /* A message deleted since, or indexed another way (its body set
       * again), is left as it is. */
      mark = _mailer_store_write_stmt (store,
                                       "UPDATE messages SET text_indexed = 1,"
                                       "  preview = coalesce (?2, preview),"
                                       "  has_attachment = coalesce (?3, has_attachment)"
                                       " WHERE id = ?1 AND text_indexed = 0"
                                       " RETURNING folder_id, date",
                                       error);
      if (mark == NULL)
        return FALSE;
      sqlite3_bind_int64 (mark, 1, indexed->id);
      if (summary != NULL)
        {
          _mailer_store_bind_text (mark, 2, summary->preview);
          sqlite3_bind_int (mark, 3, summary->has_attachment ? 1 : 0);
        }
      rc = sqlite3_step (mark);
      if (rc != SQLITE_ROW)
        {
          sqlite3_reset (mark);
          if (rc != SQLITE_DONE)
            {
              _mailer_store_set_error (error, db, rc, "Indexing a message");
              return FALSE;
            }
          continue;
        }
      folder_id = sqlite3_column_int64 (mark, 0);
      date = sqlite3_column_int64 (mark, 1);
      sqlite3_reset (mark);
      _mailer_store_add_row_change (changes->updated, indexed->id, folder_id, date);

      /* The whole row: a summary stored alone has none yet. */
      body = _mailer_store_fold_for_search (summary != NULL && summary->body_text != NULL ? summary->body_text : "");
      fts = _mailer_store_write_stmt (store,
                                      "INSERT OR REPLACE INTO messages_fts (rowid, subject, addresses, body)"
                                      " VALUES (?1, ?2, ?3, ?4)",
                                      error);
      if (fts == NULL)
        return FALSE;
      sqlite3_bind_int64 (fts, 1, indexed->id);
      _mailer_store_bind_text (fts, 2, indexed->subject);
      _mailer_store_bind_text (fts, 3, indexed->addresses);
      _mailer_store_bind_text (fts, 4, body);
      rc = sqlite3_step (fts);
      sqlite3_reset (fts);
      if (rc != SQLITE_DONE)
        {
          _mailer_store_set_error (error, db, rc, "Indexing a message");
          return FALSE;
        }
    }
  return TRUE;
}

/* Scheduling, on the owner's thread */

static void start_batch (MailerStoreIndexer *self);

static void
finish_waiters (MailerStoreIndexer *self,
                const GError       *error)
{
  g_autoptr(GPtrArray) waiters = g_steal_pointer (&self->waiters);

  self->waiters = g_ptr_array_new ();
  for (guint i = 0; i < waiters->len; i++)
    {
      GTask *task = g_ptr_array_index (waiters, i);

      if (error != NULL)
        g_task_return_error (task, g_error_copy (error));
      else
        g_task_return_boolean (task, TRUE);
      g_object_unref (task);
    }
}

static void
batch_written_cb (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  MailerStoreIndexer *self = user_data;
  g_autoptr(GError) error = NULL;

  self->running = FALSE;
  if (!g_task_propagate_boolean (G_TASK (result), &error))
    {
      /* Disk full and the like: try again with the next change. */
      g_message ("Indexing messages failed: %s", error->message);
      finish_waiters (self, error);
    }
  else if (self->store != NULL)
    start_batch (self);
  indexer_unref (self);
}

static void
batch_read_cb (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  MailerStoreIndexer *self = user_data;
  g_autoptr(GArray) batch = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GTask) write = NULL;

  batch = g_task_propagate_pointer (G_TASK (result), &error);
  if (self->store == NULL)
    {
      self->running = FALSE;
      indexer_unref (self);
      return;
    }
  if (batch == NULL)
    {
      self->running = FALSE;
      g_message ("Indexing messages failed: %s", error->message);
      finish_waiters (self, error);
      indexer_unref (self);
      return;
    }
  if (batch->len == 0)
    {
      self->running = FALSE;
      self->pending = FALSE;
      finish_waiters (self, NULL);
      indexer_unref (self);
      return;
    }

  /* The reference goes on to the write. */
  write = g_task_new (self->store, NULL, batch_written_cb, self);
  g_task_set_task_data (write, g_steal_pointer (&batch), (GDestroyNotify) g_array_unref);
  _mailer_store_queue_write (self->store, write, index_batch_write);
}

static void
start_batch (MailerStoreIndexer *self)
{
  g_autoptr(GTask) read = NULL;

  if (self->running || self->store == NULL || self->adds > 0)
    return;
  self->running = TRUE;
  read = g_task_new (NULL, NULL, batch_read_cb, indexer_ref (self));
  g_task_set_task_data (read, self, NULL);
  g_task_run_in_thread (read, read_batch_thread);
}

static gboolean
quiet_cb (gpointer user_data)
{
  MailerStoreIndexer *self = user_data;

  self->quiet_id = 0;
  start_batch (self);
  return G_SOURCE_REMOVE;
}

/* Some messages may need their text: start once the store is quiet. */
void
_mailer_store_indexer_kick (MailerStoreIndexer *self)
{
  self->pending = TRUE;
  if (self->adds > 0 || self->running)
    return;
  g_clear_handle_id (&self->quiet_id, g_source_remove);
  self->quiet_id = g_timeout_add (QUIET_MS, quiet_cb, self);
}

/* Messages are being added: no batch starts until they are stored. */
void
_mailer_store_indexer_add_begin (MailerStoreIndexer *self)
{
  self->adds++;
  g_clear_handle_id (&self->quiet_id, g_source_remove);
}

void
_mailer_store_indexer_add_end (MailerStoreIndexer *self,
                               gboolean            deferred)
{
  g_return_if_fail (self->adds > 0);
  self->adds--;
  if (deferred || (self->pending && self->adds == 0))
    _mailer_store_indexer_kick (self);
}

/**
 * mailer_store_index_text_async:
 *
 * Reads the text of every message stored without it (see
 * MailerStoreNewMessage.defer_text) now, without waiting for the store to
 * be quiet, and completes once none is left: for a front end that exits
 * after a download and wants it searchable.
 */
void
mailer_store_index_text_async (MailerStore         *self,
                               GCancellable        *cancellable,
                               GAsyncReadyCallback  callback,
                               gpointer             user_data)
{
  MailerStoreIndexer *indexer;
  GTask *task;

  g_return_if_fail (MAILER_IS_STORE (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, mailer_store_index_text_async);
  indexer = _mailer_store_get_indexer (self);
  g_ptr_array_add (indexer->waiters, task);
  indexer->pending = TRUE;
  g_clear_handle_id (&indexer->quiet_id, g_source_remove);
  if (indexer->adds == 0)
    start_batch (indexer);
}

gboolean
mailer_store_index_text_finish (MailerStore   *self,
                                GAsyncResult  *result,
                                GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}
