/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * MailerStore: the local SQLite database.
 *
 * Two connections to one WAL database: all writes go through a single
 * worker thread (so the UI thread never waits on a write, and writes keep
 * their order), reads for the UI are small indexed queries on the owner's
 * thread.  An async write completes only after its transaction committed.
 *
 * The schema lives in numbered resources sql/NNN-name.sql, applied in
 * order under PRAGMA user_version, all pending ones in one transaction.
 */
#include "config.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <sqlite3.h>
#include <stdlib.h>

#include "mailer-store-private.h"
#include "mailer-store-resources.h"
#include "mailer-model-enums.h"

#define SQL_RESOURCE_DIR "/org/example/Mailer/store/sql/"

struct _MailerStore
{
  GObject parent_instance;

  char *dir;
  sqlite3 *read_db;     /* owner's thread only */
  sqlite3 *write_db;    /* writer thread only, once opened */
  GAsyncQueue *queue;          /* WriteOp, to the writer thread */
  GThread *writer;
  guint schema_version;
  GMainContext *owner_context;
  GHashTable *write_stmts;      /* writer thread only */
  GHashTable *read_stmts;       /* owner's thread only */
  MailerStoreChanges *pending;  /* writer thread only */
  GHashTable *live;             /* owner's thread: id -> MailerMessage (weak) */
  MailerStoreIndexer *indexer;  /* owner's thread */
  int wal_pages;                /* writer thread: frames in the WAL */
  gint64 next_thread;           /* writer thread, within a transaction: 0 = not read yet */
};

/* The writer copies the WAL into the database when it has nothing else to
 * do and the WAL holds this many pages (4 KiB each), or at once past the
 * larger figure: a download's commits do not wait for copies of the pages
 * of the ones before. */
#define CHECKPOINT_IDLE_PAGES 4096
#define CHECKPOINT_MAX_PAGES 65536

enum {
  SIGNAL_CHANGED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (MailerStore, mailer_store, G_TYPE_OBJECT)

G_DEFINE_QUARK (mailer-store-error-quark, mailer_store_error)

typedef struct
{
  GTask *task;
  MailerStoreWriteFunc func;
} WriteOp;

#define set_sqlite_error _mailer_store_set_error
#define exec_sql _mailer_store_exec
#define bind_text _mailer_store_bind_text

void
_mailer_store_set_error (GError     **error,
                  sqlite3     *db,
                  int          rc,
                  const char  *what)
{
  MailerStoreError code;
  const char *message = db ? sqlite3_errmsg (db) : sqlite3_errstr (rc);

  switch (rc & 0xff)
    {
    case SQLITE_FULL:
      code = MAILER_STORE_ERROR_FULL;
      g_set_error (error, MAILER_STORE_ERROR, code,
                   "The disk is full: %s failed (%s)", what, message);
      return;
    case SQLITE_READONLY:
    case SQLITE_PERM:
      code = MAILER_STORE_ERROR_READ_ONLY;
      g_set_error (error, MAILER_STORE_ERROR, code,
                   "The mail database cannot be written: %s failed (%s)", what, message);
      return;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      code = MAILER_STORE_ERROR_CORRUPT;
      break;
    case SQLITE_CANTOPEN:
      code = MAILER_STORE_ERROR_OPEN;
      break;
    default:
      code = MAILER_STORE_ERROR_FAILED;
    }
  g_set_error (error, MAILER_STORE_ERROR, code, "%s failed: %s", what, message);
}

gboolean
_mailer_store_exec (sqlite3     *db,
          const char  *sql,
          GError     **error)
{
  int rc = sqlite3_exec (db, sql, NULL, NULL, NULL);

  if (rc != SQLITE_OK)
    {
      set_sqlite_error (error, db, rc, "Database statement");
      return FALSE;
    }
  return TRUE;
}

static guint
read_user_version (sqlite3 *db)
{
  sqlite3_stmt *stmt = NULL;
  guint version = 0;

  if (sqlite3_prepare_v2 (db, "PRAGMA user_version", -1, &stmt, NULL) == SQLITE_OK &&
      sqlite3_step (stmt) == SQLITE_ROW)
    version = sqlite3_column_int (stmt, 0);
  sqlite3_finalize (stmt);
  return version;
}

/* Migrations */

static int
compare_migration_names (gconstpointer a,
                         gconstpointer b)
{
  return g_strcmp0 (*(const char * const *)a, *(const char * const *)b);
}

/* Returns the sorted resource names; checks they are numbered 1..n. */
static GPtrArray *
list_migrations (GError **error)
{
  g_auto(GStrv) children = NULL;
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);

  /* Referencing the resource keeps its object file (and the constructor
   * that registers it) linked in from the static library. */
  g_assert (mailer_store_get_resource () != NULL);

  children = g_resources_enumerate_children (SQL_RESOURCE_DIR, 0, error);
  if (children == NULL)
    return NULL;

  for (guint i = 0; children[i] != NULL; i++)
    if (g_str_has_suffix (children[i], ".sql"))
      g_ptr_array_add (names, g_strdup (children[i]));
  g_ptr_array_sort (names, compare_migration_names);

  for (guint i = 0; i < names->len; i++)
    {
      const char *name = g_ptr_array_index (names, i);

      if (strtoul (name, NULL, 10) != i + 1)
        {
          g_set_error (error, MAILER_STORE_ERROR, MAILER_STORE_ERROR_MIGRATION,
                       "Schema file %s is out of sequence", name);
          return NULL;
        }
    }
  return g_steal_pointer (&names);
}

guint
mailer_store_get_latest_schema_version (void)
{
  g_autoptr(GPtrArray) names = list_migrations (NULL);

  return names ? names->len : 0;
}

static gboolean
migrate (sqlite3  *db,
         guint    *version_out,
         GError  **error)
{
  g_autoptr(GPtrArray) names = NULL;
  g_autofree char *set_version = NULL;
  guint current;

  names = list_migrations (error);
  if (names == NULL)
    return FALSE;

  /* Read the version inside the write transaction: two processes opening
   * the same store at once must not both migrate. */
  if (!exec_sql (db, "BEGIN IMMEDIATE", error))
    return FALSE;

  current = read_user_version (db);
  if (current > names->len)
    {
      exec_sql (db, "ROLLBACK", NULL);
      g_set_error (error, MAILER_STORE_ERROR, MAILER_STORE_ERROR_TOO_NEW,
                   "The mail database was created by a newer version of Mailer "
                   "(schema %u, this version knows %u)", current, names->len);
      return FALSE;
    }

  for (guint i = current; i < names->len; i++)
    {
      g_autofree char *path = g_strconcat (SQL_RESOURCE_DIR, names->pdata[i], NULL);
      g_autoptr(GBytes) sql = g_resources_lookup_data (path, 0, error);
      g_autofree char *text = NULL;

      if (sql == NULL)
        goto fail;
      text = g_strndup (g_bytes_get_data (sql, NULL), g_bytes_get_size (sql));
      if (!exec_sql (db, text, error))
        {
          g_prefix_error (error, "Upgrading the mail database to schema %u: ", i + 1);
          goto fail;
        }
    }

  set_version = g_strdup_printf ("PRAGMA user_version = %u", names->len);
  if (!exec_sql (db, set_version, error) || !exec_sql (db, "COMMIT", error))
    goto fail;

  *version_out = names->len;
  return TRUE;

fail:
  exec_sql (db, "ROLLBACK", NULL);
  return FALSE;
}

/* Opening */

static sqlite3 *
open_db (const char  *path,
         GError     **error)
{
  static gsize configured = 0;
  sqlite3 *db = NULL;
  int rc;

  /* SQLite's memory statistics take a global mutex on every allocation;
   * nothing here reads them.  Only possible before SQLite is first used
   * in the process (otherwise the call fails, harmlessly). */
  if (g_once_init_enter (&configured))
    {
      sqlite3_config (SQLITE_CONFIG_MEMSTATUS, 0);
      g_once_init_leave (&configured, 1);
    }

  rc = sqlite3_open_v2 (path, &db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        NULL);
  if (rc != SQLITE_OK)
    {
      set_sqlite_error (error, db, rc, "Opening the mail database");
      sqlite3_close (db);
      return NULL;
    }

  sqlite3_extended_result_codes (db, 1);
  sqlite3_busy_timeout (db, 5000);

  /* WAL lets the UI read while the writer commits.  synchronous=FULL makes
   * every reported commit survive a power cut, which is the promise we
   * make about downloaded mail. */
  if (!exec_sql (db, "PRAGMA journal_mode = WAL;"
                     "PRAGMA synchronous = FULL;"
                     "PRAGMA foreign_keys = ON;", error))
    {
      sqlite3_close (db);
      return NULL;
    }
  return db;
}

static gpointer writer_thread (gpointer data);

static int
wal_committed_cb (void       *user_data,
                  sqlite3    *db,
                  const char *name,
                  int         pages)
{
  MailerStore *self = user_data;

  self->wal_pages = pages;
  return SQLITE_OK;
}

static gboolean
has_unindexed_text (MailerStore *self)
{
  sqlite3_stmt *stmt = NULL;
  gboolean found = FALSE;

  if (sqlite3_prepare_v2 (self->read_db, "SELECT 1 FROM messages WHERE text_indexed = 0 LIMIT 1",
                          -1, &stmt, NULL) == SQLITE_OK)
    found = sqlite3_step (stmt) == SQLITE_ROW;
  sqlite3_finalize (stmt);
  return found;
}

MailerStoreIndexer *
_mailer_store_get_indexer (MailerStore *self)
{
  return self->indexer;
}

char *
mailer_store_get_default_dir (void)
{
  return g_build_filename (g_get_user_data_dir (), "mailer", NULL);
}

/* A new conversation id, never one used before (thread_refs may hold ids
 * of conversations whose messages are all gone).  Read from the database
 * once per transaction, which has the database to itself (BEGIN
 * IMMEDIATE), then counted: a header sync starts thousands of
 * conversations per transaction.  Writer thread only. */
gint64
_mailer_store_next_thread_id (MailerStore  *self,
                              GError      **error)
{
  if (self->next_thread == 0)
    {
      static const char * const queries[] = {
        "SELECT coalesce (max (thread_id), 0) + 1 FROM messages",
        "SELECT coalesce (max (thread_id), 0) + 1 FROM thread_refs",
      };
      gint64 next = 1;

      for (guint i = 0; i < G_N_ELEMENTS (queries); i++)
        {
          sqlite3_stmt *stmt = _mailer_store_write_stmt (self, queries[i], error);
          int rc;

          if (stmt == NULL)
            return 0;
          rc = sqlite3_step (stmt);
          if (rc == SQLITE_ROW)
            next = MAX (next, sqlite3_column_int64 (stmt, 0));
          sqlite3_reset (stmt);
          if (rc != SQLITE_ROW)
            {
              _mailer_store_set_error (error, self->write_db, rc, "Threading a message");
              return 0;
            }
        }
      self->next_thread = next;
    }
  return self->next_thread++;
}

/**
 * mailer_store_open:
 * @dir: the data directory; created (mode 0700) if missing
 *
 * Opens the database in @dir, upgrading its schema if needed.  This blocks
 * for the time of the upgrade, so it is meant for start-up.
 */
MailerStore *
mailer_store_open (const char  *dir,
                   GError     **error)
{
  g_autoptr(MailerStore) self = NULL;
  g_autofree char *path = NULL;

  g_return_val_if_fail (dir != NULL, NULL);

  if (g_mkdir_with_parents (dir, 0700) != 0)
    {
      int errsv = errno;

      g_set_error (error, MAILER_STORE_ERROR,
                   errsv == ENOSPC ? MAILER_STORE_ERROR_FULL : MAILER_STORE_ERROR_OPEN,
                   "Cannot create the mail folder %s: %s", dir, g_strerror (errsv));
      return NULL;
    }

  self = g_object_new (MAILER_TYPE_STORE, NULL);
  self->dir = g_strdup (dir);
  path = g_build_filename (dir, "mailer.db", NULL);

  self->write_db = open_db (path, error);
  if (self->write_db == NULL)
    return NULL;
  if (!migrate (self->write_db, &self->schema_version, error))
    return NULL;
  /* Checkpoints are the writer's business (see writer_thread). */
  if (!exec_sql (self->write_db, "PRAGMA wal_autocheckpoint = 0", error))
    return NULL;
  sqlite3_wal_hook (self->write_db, wal_committed_cb, self);

  self->read_db = open_db (path, error);
  if (self->read_db == NULL)
    return NULL;
  if (!exec_sql (self->read_db, "PRAGMA query_only = 1", error))
    return NULL;

  self->owner_context = g_main_context_ref_thread_default ();
  self->queue = g_async_queue_new ();
  self->writer = g_thread_try_new ("mailer-writer", writer_thread, self, error);
  if (self->writer == NULL)
    return NULL;

  /* Messages whose text a crash kept from being read are read now. */
  self->indexer = _mailer_store_indexer_new (self, path);
  if (has_unindexed_text (self))
    _mailer_store_indexer_kick (self->indexer);

  return g_steal_pointer (&self);
}

static void
mailer_store_finalize (GObject *object)
{
  MailerStore *self = (MailerStore *)object;

  /* A batch of the text pass being read holds the database open. */
  g_clear_pointer (&self->indexer, _mailer_store_indexer_stop);
  /* Pending writes hold a reference, so the queue is empty here; waiting
   * still joins the thread before its connection is closed. */
  if (self->writer != NULL)
    {
      g_async_queue_push (self->queue, g_new0 (WriteOp, 1));
      g_thread_join (g_steal_pointer (&self->writer));
    }
  g_clear_pointer (&self->queue, g_async_queue_unref);
  _mailer_store_drop_live (self);
  g_clear_pointer (&self->live, g_hash_table_unref);
  g_clear_pointer (&self->write_stmts, g_hash_table_unref);
  g_clear_pointer (&self->read_stmts, g_hash_table_unref);
  g_clear_pointer (&self->pending, mailer_store_changes_unref);
  g_clear_pointer (&self->owner_context, g_main_context_unref);
  g_clear_pointer (&self->read_db, sqlite3_close);
  g_clear_pointer (&self->write_db, sqlite3_close);
  g_clear_pointer (&self->dir, g_free);

  G_OBJECT_CLASS (mailer_store_parent_class)->finalize (object);
}

static void
mailer_store_class_init (MailerStoreClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = mailer_store_finalize;

  /**
   * MailerStore::changed:
   * @changes: what the transaction that just committed changed
   *
   * Emitted on the thread that opened the store, after a write committed
   * and before the write's callback runs.
   */
  signals[SIGNAL_CHANGED] =
    g_signal_new ("changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1, MAILER_TYPE_STORE_CHANGES | G_SIGNAL_TYPE_STATIC_SCOPE);
}

static void
finalize_stmt (gpointer stmt)
{
  sqlite3_finalize (stmt);
}

static void
mailer_store_init (MailerStore *self)
{
  self->write_stmts = g_hash_table_new_full (NULL, NULL, NULL, finalize_stmt);
  self->read_stmts = g_hash_table_new_full (NULL, NULL, NULL, finalize_stmt);
  self->live = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
}

GHashTable *
_mailer_store_get_live (MailerStore *self)
{
  return self->live;
}

static sqlite3_stmt *
cached_stmt (GHashTable  *cache,
             sqlite3     *db,
             const char  *sql,
             GError     **error)
{
  sqlite3_stmt *stmt = g_hash_table_lookup (cache, sql);
  int rc;

  if (stmt != NULL)
    {
      sqlite3_reset (stmt);
      sqlite3_clear_bindings (stmt);
      return stmt;
    }

  rc = sqlite3_prepare_v3 (db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, NULL);
  if (rc != SQLITE_OK)
    {
      set_sqlite_error (error, db, rc, "Preparing a database statement");
      sqlite3_finalize (stmt);
      return NULL;
    }
  g_hash_table_insert (cache, (gpointer) sql, stmt);
  return stmt;
}

sqlite3_stmt *
_mailer_store_write_stmt (MailerStore  *self,
                          const char   *sql,
                          GError      **error)
{
  return cached_stmt (self->write_stmts, self->write_db, sql, error);
}

sqlite3_stmt *
_mailer_store_read_stmt (MailerStore  *self,
                         const char   *sql,
                         GError      **error)
{
  return cached_stmt (self->read_stmts, self->read_db, sql, error);
}

sqlite3 *
_mailer_store_get_read_db (MailerStore *self)
{
  return self->read_db;
}

/* Changes */

G_DEFINE_BOXED_TYPE (MailerStoreChanges, mailer_store_changes,
                     mailer_store_changes_ref, mailer_store_changes_unref)

static MailerStoreChanges *
mailer_store_changes_new (void)
{
  MailerStoreChanges *changes = g_new0 (MailerStoreChanges, 1);

  changes->ref_count = 1;
  changes->inserted = g_array_new (FALSE, FALSE, sizeof (MailerStoreRow));
  changes->updated = g_array_new (FALSE, FALSE, sizeof (MailerStoreRow));
  changes->removed = g_array_new (FALSE, FALSE, sizeof (MailerStoreRow));
  changes->folders = g_array_new (FALSE, FALSE, sizeof (gint64));
  return changes;
}

MailerStoreChanges *
mailer_store_changes_ref (MailerStoreChanges *changes)
{
  g_atomic_int_inc (&changes->ref_count);
  return changes;
}

void
mailer_store_changes_unref (MailerStoreChanges *changes)
{
  if (!g_atomic_int_dec_and_test (&changes->ref_count))
    return;
  g_array_unref (changes->inserted);
  g_array_unref (changes->updated);
  g_array_unref (changes->removed);
  g_array_unref (changes->folders);
  g_free (changes);
}

gboolean
mailer_store_changes_is_empty (MailerStoreChanges *changes)
{
  return changes->inserted->len == 0 && changes->updated->len == 0 &&
         changes->removed->len == 0 && changes->folders->len == 0;
}

MailerStoreChanges *
_mailer_store_pending_changes (MailerStore *self)
{
  if (self->pending == NULL)
    self->pending = mailer_store_changes_new ();
  return self->pending;
}

typedef struct
{
  MailerStore *store;
  MailerStoreChanges *changes;
} EmitData;

static gboolean
emit_changed_cb (gpointer user_data)
{
  EmitData *data = user_data;

  /* The shared message objects first, so every list and view that shows
   * one is up to date when the signal runs. */
  _mailer_store_refresh_live (data->store, data->changes);
  g_signal_emit (data->store, signals[SIGNAL_CHANGED], 0, data->changes);
  return G_SOURCE_REMOVE;
}

static void
emit_data_free (gpointer user_data)
{
  EmitData *data = user_data;

  g_object_unref (data->store);
  mailer_store_changes_unref (data->changes);
  g_free (data);
}

/* Writer thread, after COMMIT: hands the changes to the owner's thread.
 * Queued before the task's result, so listeners hear of a change before
 * the caller's callback runs. */
static void
flush_pending_changes (MailerStore *self)
{
  EmitData *data;
  GSource *source;

  if (self->pending == NULL)
    return;
  if (mailer_store_changes_is_empty (self->pending))
    {
      g_clear_pointer (&self->pending, mailer_store_changes_unref);
      return;
    }

  data = g_new0 (EmitData, 1);
  data->store = g_object_ref (self);
  data->changes = g_steal_pointer (&self->pending);
  source = g_idle_source_new ();
  g_source_set_priority (source, G_PRIORITY_DEFAULT);
  g_source_set_callback (source, emit_changed_cb, data, emit_data_free);
  g_source_set_static_name (source, "[mailer] store changed");
  g_source_attach (source, self->owner_context);
  g_source_unref (source);
}

void
_mailer_store_set_write_limits_for_testing (MailerStore *self,
                                            guint        max_pages,
                                            gboolean     read_only)
{
  g_autofree char *sql = NULL;

  /* Only between writes: the test waits for its writes to finish. */
  sql = g_strdup_printf ("PRAGMA max_page_count = %u; PRAGMA query_only = %d;",
                         max_pages ? max_pages : 1073741823, read_only ? 1 : 0);
  exec_sql (self->write_db, sql, NULL);
}

const char *
mailer_store_get_dir (MailerStore *self)
{
  g_return_val_if_fail (MAILER_IS_STORE (self), NULL);
  return self->dir;
}

guint
mailer_store_get_schema_version (MailerStore *self)
{
  g_return_val_if_fail (MAILER_IS_STORE (self), 0);
  return self->schema_version;
}

/* The writer */

/* Writes queued while one commits are committed together, each in a
 * savepoint of its own: one fsync for many small writes (a body stored
 * for each of many fetched messages, flags of many), and each still
 * succeeds or fails alone. */
#define MAX_BATCH 64

typedef struct
{
  guint inserted, updated, removed, folders;
} PendingMark;

static PendingMark
mark_pending (MailerStore *self)
{
  PendingMark mark = { 0, };

  if (self->pending != NULL)
    {
      mark.inserted = self->pending->inserted->len;
      mark.updated = self->pending->updated->len;
      mark.removed = self->pending->removed->len;
      mark.folders = self->pending->folders->len;
    }
  return mark;
}

/* Forgets the changes of a write that was rolled back. */
static void
truncate_pending (MailerStore *self,
                  PendingMark  mark)
{
  if (self->pending == NULL)
    return;
  g_array_set_size (self->pending->inserted, mark.inserted);
  g_array_set_size (self->pending->updated, mark.updated);
  g_array_set_size (self->pending->removed, mark.removed);
  g_array_set_size (self->pending->folders, mark.folders);
}

static gboolean
unref_on_owner_cb (gpointer data)
{
  g_object_unref (data);
  return G_SOURCE_REMOVE;
}

static void
run_batch (MailerStore *self,
           GPtrArray   *batch)
{
  g_autofree GError **errors = g_new0 (GError *, batch->len);
  g_autofree gboolean *done = g_new0 (gboolean, batch->len);
  GError *error = NULL;
  gboolean open = FALSE;

  for (guint i = 0; i < batch->len; i++)
    {
      WriteOp *op = g_ptr_array_index (batch, i);
      PendingMark mark;

      if (g_task_return_error_if_cancelled (op->task))
        {
          done[i] = TRUE;
          continue;
        }
      if (!open)
        {
          if (!exec_sql (self->write_db, "BEGIN IMMEDIATE", &error))
            {
              errors[i] = g_steal_pointer (&error);
              continue;
            }
          open = TRUE;
          /* Another process may have written since the last transaction. */
          self->next_thread = 0;
        }

      mark = mark_pending (self);
      exec_sql (self->write_db, "SAVEPOINT write", NULL);
      if (op->func (self, self->write_db, op->task, &error))
        {
          exec_sql (self->write_db, "RELEASE write", NULL);
          continue;
        }
      errors[i] = g_steal_pointer (&error);
      if (!sqlite3_get_autocommit (self->write_db))
        {
          exec_sql (self->write_db, "ROLLBACK TO write", NULL);
          exec_sql (self->write_db, "RELEASE write", NULL);
          truncate_pending (self, mark);
          continue;
        }
      /* SQLite gave up the whole transaction (a full disk can do that):
       * the writes before this one in it are undone too. */
      open = FALSE;
      g_clear_pointer (&self->pending, mailer_store_changes_unref);
      for (guint j = 0; j < i; j++)
        if (!done[j] && errors[j] == NULL)
          errors[j] = g_error_copy (errors[i]);
    }

  if (open && !exec_sql (self->write_db, "COMMIT", &error))
    {
      exec_sql (self->write_db, "ROLLBACK", NULL);
      g_clear_pointer (&self->pending, mailer_store_changes_unref);
      for (guint i = 0; i < batch->len; i++)
        if (!done[i] && errors[i] == NULL)
          errors[i] = g_error_copy (error);
      g_clear_error (&error);
    }
  else
    flush_pending_changes (self);

  for (guint i = 0; i < batch->len; i++)
    {
      WriteOp *op = g_ptr_array_index (batch, i);

      if (done[i])
        ;
      else if (errors[i] != NULL)
        g_task_return_error (op->task, errors[i]);
      else
        g_task_return_boolean (op->task, TRUE);
      /* The task holds the store: its last reference must not go here,
       * or the store would be finalized on this thread, which it joins.
       * (Not g_main_context_invoke (): that runs the function right here
       * when no thread happens to own the context.) */
      {
        GSource *source = g_idle_source_new ();

        g_source_set_priority (source, G_PRIORITY_DEFAULT);
        g_source_set_callback (source, unref_on_owner_cb, op->task, NULL);
        g_source_set_static_name (source, "[mailer] store write done");
        g_source_attach (source, self->owner_context);
        g_source_unref (source);
      }
      g_free (op);
    }
}

static gpointer
writer_thread (gpointer data)
{
  MailerStore *self = data;
  g_autoptr(GPtrArray) batch = g_ptr_array_new ();
  gboolean stop = FALSE;

  while (!stop)
    {
      WriteOp *op = g_async_queue_pop (self->queue);

      while (op != NULL)
        {
          if (op->func == NULL)
            {
              /* The store is closing; it waits for nothing queued. */
              stop = TRUE;
              g_free (op);
              break;
            }
          g_ptr_array_add (batch, op);
          op = batch->len < MAX_BATCH ? g_async_queue_try_pop (self->queue) : NULL;
        }
      if (batch->len > 0)
        run_batch (self, batch);
      g_ptr_array_set_size (batch, 0);

      /* Passive: it never waits for readers, and stops where one still
       * needs an older page; the rest is copied next time. */
      if (self->wal_pages >= CHECKPOINT_MAX_PAGES ||
          (self->wal_pages >= CHECKPOINT_IDLE_PAGES && g_async_queue_length (self->queue) <= 0))
        {
          sqlite3_wal_checkpoint_v2 (self->write_db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
          self->wal_pages = 0;
        }
    }
  return NULL;
}

/* Runs @func in a transaction (with other writes queued meanwhile) on the
 * writer thread; @task completes (on its own context) once the
 * transaction committed or @func's work was rolled back. */
void
_mailer_store_queue_write (MailerStore          *self,
                           GTask                *task,
                           MailerStoreWriteFunc  func)
{
  WriteOp *op = g_new0 (WriteOp, 1);

  g_return_if_fail (func != NULL);
  op->task = g_object_ref (task);
  op->func = func;
  g_async_queue_push (self->queue, op);
}

/* Accounts */

typedef struct
{
  MailerAccount *account;   /* touched on the owner's thread only */
  char *uuid;
  char *kind;
  char *display_name;
  char *address;
  char *host;
  guint port;
  char *security;
  char *username;
  char *pinned_certificate;
  gboolean leave_on_server;
  guint keep_days;
  gboolean delete_when_deleted;
  guint64 size_limit;
  guint check_interval;
  guint prefetch_days;
  gint64 id;                /* result */
} AccountRow;

static void
account_row_free (AccountRow *row)
{
  g_clear_object (&row->account);
  g_free (row->uuid);
  g_free (row->kind);
  g_free (row->display_name);
  g_free (row->address);
  g_free (row->host);
  g_free (row->security);
  g_free (row->username);
  g_free (row->pinned_certificate);
  g_free (row);
}

static AccountRow *
account_row_new (MailerAccount *account)
{
  AccountRow *row = g_new0 (AccountRow, 1);

  /* A snapshot: the writer thread must not touch the GObject. */
  row->account = g_object_ref (account);
  row->uuid = g_strdup (mailer_account_get_uuid (account));
  row->kind = g_strdup (mailer_account_kind_to_string (mailer_account_get_kind (account)));
  row->display_name = g_strdup (mailer_account_get_display_name (account));
  row->address = g_strdup (mailer_account_get_address (account));
  row->host = g_strdup (mailer_account_get_host (account));
  row->port = mailer_account_get_port (account);
  row->security = g_strdup (mailer_security_to_string (mailer_account_get_security (account)));
  row->username = g_strdup (mailer_account_get_username (account));
  row->pinned_certificate = g_strdup (mailer_account_get_pinned_certificate (account));
  row->leave_on_server = mailer_account_get_leave_on_server (account);
  row->keep_days = mailer_account_get_keep_days (account);
  row->delete_when_deleted = mailer_account_get_delete_when_deleted (account);
  row->size_limit = mailer_account_get_size_limit (account);
  row->check_interval = mailer_account_get_check_interval (account);
  row->prefetch_days = mailer_account_get_prefetch_days (account);
  row->id = mailer_account_get_id (account);
  return row;
}

void
_mailer_store_bind_text (sqlite3_stmt *stmt,
           int           index,
           const char   *text)
{
  if (text == NULL)
    sqlite3_bind_null (stmt, index);
  else
    sqlite3_bind_text (stmt, index, text, -1, SQLITE_TRANSIENT);
}

static gboolean
save_account_write (MailerStore  *self,
                    sqlite3      *db,
                    GTask        *task,
                    GError      **error)
{
  AccountRow *row = g_task_get_task_data (task);
  sqlite3_stmt *stmt = NULL;
  int rc;

  rc = sqlite3_prepare_v2 (db,
                           "INSERT INTO accounts (uuid, kind, display_name, address, host, port,"
                           "                      security, username, pinned_certificate,"
                           "                      leave_on_server, keep_days, delete_when_deleted,"
                           "                      size_limit, check_interval, prefetch_days)"
                           " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)"
                           " ON CONFLICT (uuid) DO UPDATE SET"
                           "   display_name = ?3, address = ?4, host = ?5, port = ?6,"
                           "   security = ?7, username = ?8, pinned_certificate = ?9,"
                           "   leave_on_server = ?10, keep_days = ?11, delete_when_deleted = ?12,"
                           "   size_limit = ?13, check_interval = ?14, prefetch_days = ?15"
                           " RETURNING id",
                           -1, &stmt, NULL);
  if (rc != SQLITE_OK)
    {
      set_sqlite_error (error, db, rc, "Saving the account");
      return FALSE;
    }

  bind_text (stmt, 1, row->uuid);
  bind_text (stmt, 2, row->kind);
  bind_text (stmt, 3, row->display_name ? row->display_name : "");
  bind_text (stmt, 4, row->address ? row->address : "");
  bind_text (stmt, 5, row->host);
  sqlite3_bind_int (stmt, 6, row->port);
  bind_text (stmt, 7, row->security);
  bind_text (stmt, 8, row->username ? row->username : "");
  bind_text (stmt, 9, row->pinned_certificate);
  sqlite3_bind_int (stmt, 10, row->leave_on_server ? 1 : 0);
  sqlite3_bind_int (stmt, 11, row->keep_days);
  sqlite3_bind_int (stmt, 12, row->delete_when_deleted ? 1 : 0);
  sqlite3_bind_int64 (stmt, 13, MIN (row->size_limit, (guint64) G_MAXINT64));
  sqlite3_bind_int64 (stmt, 14, row->check_interval);
  sqlite3_bind_int (stmt, 15, MIN (row->prefetch_days, MAILER_ACCOUNT_PREFETCH_ALL));

  rc = sqlite3_step (stmt);
  if (rc == SQLITE_ROW)
    {
      row->id = sqlite3_column_int64 (stmt, 0);
      rc = sqlite3_step (stmt);
    }
  sqlite3_finalize (stmt);

  if (rc != SQLITE_DONE)
    {
      set_sqlite_error (error, db, rc, "Saving the account");
      return FALSE;
    }
  return TRUE;
}

static void
save_account_done_cb (GObject      *source,
                      GAsyncResult *result,
                      gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  AccountRow *row = g_task_get_task_data (G_TASK (result));
  GError *error = NULL;

  if (!g_task_propagate_boolean (G_TASK (result), &error))
    {
      g_task_return_error (task, error);
      return;
    }

  /* Back on the owner's thread: now the object may be updated. */
  mailer_account_set_id (row->account, row->id);
  g_task_return_boolean (task, TRUE);
}

/**
 * mailer_store_save_account_async:
 *
 * Inserts @account, or updates it if its UUID is known.  On success the
 * account's id is set.  No password is ever written here.
 */
void
mailer_store_save_account_async (MailerStore         *self,
                                 MailerAccount       *account,
                                 GCancellable        *cancellable,
                                 GAsyncReadyCallback  callback,
                                 gpointer             user_data)
{
  GTask *task;
  g_autoptr(GTask) inner = NULL;

  g_return_if_fail (MAILER_IS_STORE (self));
  g_return_if_fail (MAILER_IS_ACCOUNT (account));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, mailer_store_save_account_async);

  if (mailer_account_get_host (account) == NULL || mailer_account_get_port (account) == 0)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                               "An account needs a server and a port");
      g_object_unref (task);
      return;
    }

  inner = g_task_new (self, cancellable, save_account_done_cb, task);
  g_task_set_task_data (inner, account_row_new (account), (GDestroyNotify) account_row_free);
  _mailer_store_queue_write (self, inner, save_account_write);
}

gboolean
mailer_store_save_account_finish (MailerStore   *self,
                                  GAsyncResult  *result,
                                  GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

static gboolean
delete_account_write (MailerStore  *self,
                      sqlite3      *db,
                      GTask        *task,
                      GError      **error)
{
  AccountRow *row = g_task_get_task_data (task);
  sqlite3_stmt *stmt = NULL;
  int rc;

  /* The account's messages go with it: lists showing them must hear so. */
  rc = sqlite3_prepare_v2 (db,
                           "SELECT m.id, m.folder_id, m.date FROM messages m"
                           " JOIN folders f ON f.id = m.folder_id"
                           " JOIN accounts a ON a.id = f.account_id WHERE a.uuid = ?1",
                           -1, &stmt, NULL);
  if (rc == SQLITE_OK)
    {
      MailerStoreChanges *changes = _mailer_store_pending_changes (self);

      bind_text (stmt, 1, row->uuid);
      while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
        {
          MailerStoreRow removed = {
            sqlite3_column_int64 (stmt, 0),
            sqlite3_column_int64 (stmt, 1),
            sqlite3_column_int64 (stmt, 2),
          };

          g_array_append_val (changes->removed, removed);
        }
    }
  sqlite3_finalize (stmt);
  stmt = NULL;
  if (rc != SQLITE_DONE)
    {
      set_sqlite_error (error, db, rc, "Removing the account");
      return FALSE;
    }

  rc = sqlite3_prepare_v2 (db, "DELETE FROM accounts WHERE uuid = ?1", -1, &stmt, NULL);
  if (rc == SQLITE_OK)
    {
      bind_text (stmt, 1, row->uuid);
      rc = sqlite3_step (stmt);
    }
  sqlite3_finalize (stmt);

  if (rc != SQLITE_DONE)
    {
      set_sqlite_error (error, db, rc, "Removing the account");
      return FALSE;
    }
  return TRUE;
}

void
mailer_store_delete_account_async (MailerStore         *self,
                                   MailerAccount       *account,
                                   GCancellable        *cancellable,
                                   GAsyncReadyCallback  callback,
                                   gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (MAILER_IS_STORE (self));
  g_return_if_fail (MAILER_IS_ACCOUNT (account));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, mailer_store_delete_account_async);
  g_task_set_task_data (task, account_row_new (account), (GDestroyNotify) account_row_free);
  _mailer_store_queue_write (self, task, delete_account_write);
}

gboolean
mailer_store_delete_account_finish (MailerStore   *self,
                                    GAsyncResult  *result,
                                    GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

/**
 * mailer_store_list_accounts:
 *
 * Returns: (transfer full) (element-type MailerAccount): the accounts in
 *   the order the user arranged them.
 */
GPtrArray *
mailer_store_list_accounts (MailerStore  *self,
                            GError      **error)
{
  g_autoptr(GPtrArray) accounts = g_ptr_array_new_with_free_func (g_object_unref);
  sqlite3_stmt *stmt = NULL;
  int rc;

  g_return_val_if_fail (MAILER_IS_STORE (self), NULL);

  rc = sqlite3_prepare_v2 (self->read_db,
                           "SELECT id, uuid, kind, display_name, address, host, port,"
                           "       security, username, pinned_certificate,"
                           "       leave_on_server, keep_days, delete_when_deleted,"
                           "       size_limit, check_interval, prefetch_days"
                           " FROM accounts ORDER BY position, id",
                           -1, &stmt, NULL);
  if (rc != SQLITE_OK)
    {
      set_sqlite_error (error, self->read_db, rc, "Reading the accounts");
      return NULL;
    }

  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      MailerAccountKind kind = MAILER_ACCOUNT_KIND_IMAP;
      MailerSecurity security = MAILER_SECURITY_TLS;
      MailerAccount *account;

      mailer_account_kind_from_string ((const char *) sqlite3_column_text (stmt, 2), &kind);
      mailer_security_from_string ((const char *) sqlite3_column_text (stmt, 7), &security);

      account = g_object_new (MAILER_TYPE_ACCOUNT,
                              "id", sqlite3_column_int64 (stmt, 0),
                              "uuid", (const char *) sqlite3_column_text (stmt, 1),
                              "kind", kind,
                              "display-name", (const char *) sqlite3_column_text (stmt, 3),
                              "address", (const char *) sqlite3_column_text (stmt, 4),
                              "host", (const char *) sqlite3_column_text (stmt, 5),
                              "port", (guint) sqlite3_column_int (stmt, 6),
                              "security", security,
                              "username", (const char *) sqlite3_column_text (stmt, 8),
                              "pinned-certificate", (const char *) sqlite3_column_text (stmt, 9),
                              "leave-on-server", sqlite3_column_int (stmt, 10) != 0,
                              "keep-days", (guint) CLAMP (sqlite3_column_int (stmt, 11), 0, 36500),
                              "delete-when-deleted", sqlite3_column_int (stmt, 12) != 0,
                              "size-limit", (guint64) MAX (sqlite3_column_int64 (stmt, 13), 0),
                              "check-interval", (guint) CLAMP (sqlite3_column_int64 (stmt, 14), 0, G_MAXUINT),
                              "prefetch-days", (guint) CLAMP (sqlite3_column_int (stmt, 15), 0, MAILER_ACCOUNT_PREFETCH_ALL),
                              NULL);
      g_ptr_array_add (accounts, account);
    }
  sqlite3_finalize (stmt);

  if (rc != SQLITE_DONE)
    {
      set_sqlite_error (error, self->read_db, rc, "Reading the accounts");
      return NULL;
    }
  return g_steal_pointer (&accounts);
}
