/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Folders, messages, threading and the journal of local changes.
 *
 * Writes run in one transaction each on the store's writer thread (see
 * mailer-store.c); each reports what it changed, and MailerStore::changed
 * carries that to the lists on the owner's thread once it committed.
 * Reads are small indexed queries on the owner's thread.
 */
#include "config.h"

#include <string.h>

#include "mailer-store-private.h"
#include "mailer-model-enums.h"

#define STMT_OR_FAIL(var, self, sql)                                  \
  sqlite3_stmt *var = _mailer_store_write_stmt ((self), (sql), error); \
  if (var == NULL)                                                    \
    return FALSE

static gboolean
step_done (sqlite3_stmt  *stmt,
           const char    *what,
           GError       **error)
{
  int rc = sqlite3_step (stmt);

  if (rc == SQLITE_DONE || rc == SQLITE_ROW)
    {
      if (rc == SQLITE_ROW)
        while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
          ;
      if (rc == SQLITE_DONE)
        {
          sqlite3_reset (stmt);
          return TRUE;
        }
    }
  _mailer_store_set_error (error, sqlite3_db_handle (stmt), rc, what);
  sqlite3_reset (stmt);
  return FALSE;
}

static void
add_folder_change (MailerStoreChanges *changes,
                   gint64              folder_id)
{
  for (guint i = 0; i < changes->folders->len; i++)
    if (g_array_index (changes->folders, gint64, i) == folder_id)
      return;
  g_array_append_val (changes->folders, folder_id);
}

void
_mailer_store_add_row_change (GArray *rows,
                              gint64  id,
                              gint64  folder_id,
                              gint64  date)
{
  MailerStoreRow row = { id, folder_id, date };

  g_array_append_val (rows, row);
}

MailerStoreNewMessage *
mailer_store_new_message_new (void)
{
  return g_new0 (MailerStoreNewMessage, 1);
}

void
mailer_store_new_message_free (MailerStoreNewMessage *message)
{
  if (message == NULL)
    return;
  g_free (message->uidl);
  g_free (message->keywords);
  g_clear_pointer (&message->raw, g_bytes_unref);
  g_clear_pointer (&message->summary, mailer_mime_summary_free);
  g_free (message);
}

void
mailer_store_journal_entry_free (MailerStoreJournalEntry *entry)
{
  if (entry == NULL)
    return;
  g_free (entry->uidl);
  g_free (entry);
}

/* Folders */

#define FOLDER_COLUMNS \
  "id, account_id, path, display_name, parent_id, delimiter, role, total_count, unread_count"

static MailerFolder *
folder_from_row (sqlite3_stmt *stmt)
{
  MailerFolderRole role = MAILER_FOLDER_ROLE_NONE;
  MailerFolder *folder;
  const char *display_name = (const char *) sqlite3_column_text (stmt, 3);

  folder = mailer_folder_new (sqlite3_column_int64 (stmt, 1),
                              (const char *) sqlite3_column_text (stmt, 2));
  mailer_folder_set_id (folder, sqlite3_column_int64 (stmt, 0));
  if (display_name != NULL && display_name[0] != '\0')
    mailer_folder_set_display_name (folder, display_name);
  mailer_folder_set_parent_id (folder, sqlite3_column_int64 (stmt, 4));
  mailer_folder_set_delimiter (folder, (const char *) sqlite3_column_text (stmt, 5));
  mailer_folder_role_from_string ((const char *) sqlite3_column_text (stmt, 6), &role);
  mailer_folder_set_role (folder, role);
  mailer_folder_set_total_count (folder, MAX (0, sqlite3_column_int (stmt, 7)));
  mailer_folder_set_unread_count (folder, MAX (0, sqlite3_column_int (stmt, 8)));
  return folder;
}

/**
 * mailer_store_list_folders:
 *
 * Returns: (transfer full) (element-type MailerFolder): the account's
 *   folders, parents before their children
 */
GPtrArray *
mailer_store_list_folders (MailerStore  *self,
                           gint64        account_id,
                           GError      **error)
{
  g_autoptr(GPtrArray) folders = g_ptr_array_new_with_free_func (g_object_unref);
  sqlite3_stmt *stmt;
  int rc;

  g_return_val_if_fail (MAILER_IS_STORE (self), NULL);

  stmt = _mailer_store_read_stmt (self,
                                  "SELECT " FOLDER_COLUMNS " FROM folders"
                                  " WHERE account_id = ?1 ORDER BY path",
                                  error);
  if (stmt == NULL)
    return NULL;
  sqlite3_bind_int64 (stmt, 1, account_id);
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    g_ptr_array_add (folders, folder_from_row (stmt));
  sqlite3_reset (stmt);
  if (rc != SQLITE_DONE)
    {
      _mailer_store_set_error (error, _mailer_store_get_read_db (self), rc, "Reading the folders");
      return NULL;
    }
  return g_steal_pointer (&folders);
}

MailerFolder *
mailer_store_get_folder (MailerStore  *self,
                         gint64        folder_id,
                         GError      **error)
{
  MailerFolder *folder = NULL;
  sqlite3_stmt *stmt;
  int rc;

  g_return_val_if_fail (MAILER_IS_STORE (self), NULL);

  stmt = _mailer_store_read_stmt (self, "SELECT " FOLDER_COLUMNS " FROM folders WHERE id = ?1", error);
  if (stmt == NULL)
    return NULL;
  sqlite3_bind_int64 (stmt, 1, folder_id);
  rc = sqlite3_step (stmt);
  if (rc == SQLITE_ROW)
    folder = folder_from_row (stmt);
  else if (rc == SQLITE_DONE)
    g_set_error (error, MAILER_STORE_ERROR, MAILER_STORE_ERROR_NOT_FOUND,
                 "The folder no longer exists");
  else
    _mailer_store_set_error (error, _mailer_store_get_read_db (self), rc, "Reading a folder");
  sqlite3_reset (stmt);
  return folder;
}

typedef struct
{
  MailerFolder *folder;     /* owner's thread only */
  gint64 account_id;
  char *path;
  char *display_name;
  char *delimiter;
  gint64 parent_id;
  char *role;
  gint64 id;                /* result */
} FolderData;

static void
folder_data_free (FolderData *data)
{
  g_clear_object (&data->folder);
  g_free (data->path);
  g_free (data->display_name);
  g_free (data->delimiter);
  g_free (data->role);
  g_free (data);
}

static gboolean
save_folder_write (MailerStore  *self,
                   sqlite3      *db,
                   GTask        *task,
                   GError      **error)
{
  FolderData *data = g_task_get_task_data (task);
  STMT_OR_FAIL (stmt, self,
                "INSERT INTO folders (account_id, path, display_name, delimiter, parent_id, role)"
                " VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
                " ON CONFLICT (account_id, path) DO UPDATE SET"
                "   display_name = ?3, delimiter = ?4, parent_id = ?5, role = ?6"
                " RETURNING id");
  int rc;

  sqlite3_bind_int64 (stmt, 1, data->account_id);
  _mailer_store_bind_text (stmt, 2, data->path);
  _mailer_store_bind_text (stmt, 3, data->display_name ? data->display_name : "");
  _mailer_store_bind_text (stmt, 4, data->delimiter);
  if (data->parent_id > 0)
    sqlite3_bind_int64 (stmt, 5, data->parent_id);
  _mailer_store_bind_text (stmt, 6, data->role);

  rc = sqlite3_step (stmt);
  if (rc == SQLITE_ROW)
    data->id = sqlite3_column_int64 (stmt, 0);
  if (!step_done (stmt, "Saving a folder", error))
    return FALSE;

  add_folder_change (_mailer_store_pending_changes (self), data->id);
  return TRUE;
}

static void
save_folder_done_cb (GObject      *source,
                     GAsyncResult *result,
                     gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  FolderData *data = g_task_get_task_data (G_TASK (result));
  GError *error = NULL;

  if (!g_task_propagate_boolean (G_TASK (result), &error))
    {
      g_task_return_error (task, error);
      return;
    }
  mailer_folder_set_id (data->folder, data->id);
  g_task_return_boolean (task, TRUE);
}

/**
 * mailer_store_save_folder_async:
 *
 * Inserts @folder, or updates the folder of the same account and path.
 * On success the folder's id is set.
 */
void
mailer_store_save_folder_async (MailerStore         *self,
                                MailerFolder        *folder,
                                GCancellable        *cancellable,
                                GAsyncReadyCallback  callback,
                                gpointer             user_data)
{
  g_autoptr(GTask) inner = NULL;
  FolderData *data;
  GTask *task;

  g_return_if_fail (MAILER_IS_STORE (self));
  g_return_if_fail (MAILER_IS_FOLDER (folder));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, mailer_store_save_folder_async);

  data = g_new0 (FolderData, 1);
  data->folder = g_object_ref (folder);
  data->account_id = mailer_folder_get_account_id (folder);
  data->path = g_strdup (mailer_folder_get_path (folder));
  /* Only a name the user or server set explicitly is stored. */
  if (g_strcmp0 (mailer_folder_get_display_name (folder), mailer_folder_get_path (folder)) != 0 &&
      mailer_folder_get_delimiter (folder) == NULL)
    data->display_name = g_strdup (mailer_folder_get_display_name (folder));
  data->delimiter = g_strdup (mailer_folder_get_delimiter (folder));
  data->parent_id = mailer_folder_get_parent_id (folder);
  data->role = g_strdup (mailer_folder_role_to_string (mailer_folder_get_role (folder)));

  inner = g_task_new (self, cancellable, save_folder_done_cb, task);
  g_task_set_task_data (inner, data, (GDestroyNotify) folder_data_free);
  _mailer_store_queue_write (self, inner, save_folder_write);
}

gboolean
mailer_store_save_folder_finish (MailerStore   *self,
                                 GAsyncResult  *result,
                                 GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

static gboolean
folder_account (MailerStore  *self,
                gint64        folder_id,
                gint64       *account_id,
                GError      **error)
{
  STMT_OR_FAIL (stmt, self, "SELECT account_id FROM folders WHERE id = ?1");
  int rc;

  sqlite3_bind_int64 (stmt, 1, folder_id);
  rc = sqlite3_step (stmt);
  if (rc == SQLITE_ROW)
    *account_id = sqlite3_column_int64 (stmt, 0);
  sqlite3_reset (stmt);

  if (rc == SQLITE_ROW)
    return TRUE;
  if (rc == SQLITE_DONE)
    g_set_error (error, MAILER_STORE_ERROR, MAILER_STORE_ERROR_NOT_FOUND,
                 "The folder no longer exists");
  else
    _mailer_store_set_error (error, sqlite3_db_handle (stmt), rc, "Reading a folder");
  return FALSE;
}

/* Search
 *
 * FTS5's unicode61 tokenizer folds case and (remove_diacritics 2) accents,
 * but keeps the sharp s: "Straße" would not match "strasse".  Indexed text
 * and queries both spell it "ss".
 */
char *
_mailer_store_fold_for_search (const char *text)
{
  g_autoptr(GString) folded = NULL;

  if (text == NULL)
    return g_strdup ("");
  if (strstr (text, "\xc3\x9f") == NULL && strstr (text, "\xe1\xba\x9e") == NULL)
    return g_strdup (text);

  folded = g_string_new (text);
  g_string_replace (folded, "\xc3\x9f", "ss", 0);      /* ß */
  g_string_replace (folded, "\xe1\xba\x9e", "SS", 0); /* ẞ */
  return g_string_free (g_steal_pointer (&folded), FALSE);
}

/* Threading
 *
 * Every Message-ID a message carries (its own, In-Reply-To, References)
 * is recorded against the message's conversation.  A new message joins the
 * conversation any of its ids is already known in, merging conversations it
 * links; so a reply that arrives before its parent (newest-first sync) still
 * ends up with it.  A reply that lost its references ("Re: ..." with neither
 * header) falls back to the latest conversation with the same base subject.
 */

static const char * const reply_prefixes[] = {
  "re", "fw", "fwd", "aw", "wg", "sv", "vs", "antw", "tr", "rif", "odp", "res", "enc",
};

/* The subject without reply/forward prefixes and list tags, case-folded;
 * sets *is_reply when a prefix was removed. */
static char *
base_subject (const char *subject,
              gboolean   *is_reply)
{
  const char *p = subject;
  gboolean stripped = TRUE;
  g_autofree char *trimmed = NULL;

  *is_reply = FALSE;
  while (stripped)
    {
      stripped = FALSE;
      while (g_ascii_isspace (*p))
        p++;

      /* A leading "[list-name] " tag. */
      if (*p == '[')
        {
          const char *end = strchr (p, ']');

          if (end != NULL && end - p < 40)
            {
              p = end + 1;
              stripped = TRUE;
              continue;
            }
        }

      for (guint i = 0; i < G_N_ELEMENTS (reply_prefixes); i++)
        {
          gsize len = strlen (reply_prefixes[i]);
          const char *q = p + len;

          if (g_ascii_strncasecmp (p, reply_prefixes[i], len) != 0)
            continue;
          /* "Re[2]:" and "Re(2):" count too. */
          if (*q == '[' || *q == '(')
            {
              q++;
              while (g_ascii_isdigit (*q))
                q++;
              if (*q != ']' && *q != ')')
                continue;
              q++;
            }
          while (*q == ' ')
            q++;
          if (*q == ':' || g_str_has_prefix (q, "\xef\xbc\x9a"))   /* ':' or fullwidth colon */
            {
              p = q + (*q == ':' ? 1 : 3);
              stripped = TRUE;
              *is_reply = TRUE;
              break;
            }
        }
    }

  trimmed = g_strstrip (g_strdup (p));
  return g_utf8_casefold (trimmed, -1);
}

static gboolean
lookup_thread_ref (MailerStore  *self,
                   gint64        account_id,
                   const char   *msgid,
                   gint64       *thread_id,
                   GError      **error)
{
  STMT_OR_FAIL (stmt, self, "SELECT thread_id FROM thread_refs WHERE account_id = ?1 AND msgid = ?2");
  int rc;

  sqlite3_bind_int64 (stmt, 1, account_id);
  _mailer_store_bind_text (stmt, 2, msgid);
  rc = sqlite3_step (stmt);
  *thread_id = rc == SQLITE_ROW ? sqlite3_column_int64 (stmt, 0) : 0;
  sqlite3_reset (stmt);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE)
    {
      _mailer_store_set_error (error, sqlite3_db_handle (stmt), rc, "Threading a message");
      return FALSE;
    }
  return TRUE;
}

/* Folds conversation @from into @into. */
static gboolean
merge_threads (MailerStore  *self,
               gint64        into,
               gint64        from,
               GError      **error)
{
  MailerStoreChanges *changes = _mailer_store_pending_changes (self);
  int rc;
  STMT_OR_FAIL (rows, self,
                "UPDATE messages SET thread_id = ?1 WHERE thread_id = ?2"
                " RETURNING id, folder_id, date");
  STMT_OR_FAIL (refs, self, "UPDATE thread_refs SET thread_id = ?1 WHERE thread_id = ?2");
  STMT_OR_FAIL (subjects, self, "UPDATE thread_subjects SET thread_id = ?1 WHERE thread_id = ?2");

  sqlite3_bind_int64 (rows, 1, into);
  sqlite3_bind_int64 (rows, 2, from);
  while ((rc = sqlite3_step (rows)) == SQLITE_ROW)
    _mailer_store_add_row_change (changes->updated, sqlite3_column_int64 (rows, 0),
                    sqlite3_column_int64 (rows, 1), sqlite3_column_int64 (rows, 2));
  sqlite3_reset (rows);
  if (rc != SQLITE_DONE)
    {
      _mailer_store_set_error (error, sqlite3_db_handle (rows), rc, "Merging conversations");
      return FALSE;
    }

  sqlite3_bind_int64 (refs, 1, into);
  sqlite3_bind_int64 (refs, 2, from);
  if (!step_done (refs, "Merging conversations", error))
    return FALSE;
  sqlite3_bind_int64 (subjects, 1, into);
  sqlite3_bind_int64 (subjects, 2, from);
  return step_done (subjects, "Merging conversations", error);
}

/* Collects the distinct Message-IDs of @summary: its own first. */
static GPtrArray *
summary_msgids (const MailerMimeSummary *summary)
{
  GPtrArray *ids = g_ptr_array_new ();

  if (summary->message_id != NULL && summary->message_id[0] != '\0')
    g_ptr_array_add (ids, summary->message_id);
  if (summary->in_reply_to != NULL && summary->in_reply_to[0] != '\0' &&
      !g_ptr_array_find_with_equal_func (ids, summary->in_reply_to, g_str_equal, NULL))
    g_ptr_array_add (ids, summary->in_reply_to);
  for (guint i = 0; summary->references != NULL && summary->references[i] != NULL; i++)
    if (summary->references[i][0] != '\0' &&
        !g_ptr_array_find_with_equal_func (ids, summary->references[i], g_str_equal, NULL))
      g_ptr_array_add (ids, summary->references[i]);
  return ids;
}

static gboolean
assign_thread (MailerStore              *self,
               gint64                    account_id,
               const MailerMimeSummary  *summary,
               gint64                   *thread_out,
               GError                  **error)
{
  g_autoptr(GPtrArray) msgids = summary_msgids (summary);
  g_autoptr(GArray) found = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_autofree char *subject_key = NULL;
  gboolean is_reply = FALSE;
  gboolean has_links;
  gint64 thread = 0;

  for (guint i = 0; i < msgids->len; i++)
    {
      gint64 t;

      if (!lookup_thread_ref (self, account_id, msgids->pdata[i], &t, error))
        return FALSE;
      if (t == 0)
        continue;
      g_array_append_val (found, t);
      if (thread == 0 || t < thread)
        thread = t;
    }

  subject_key = base_subject (summary->subject ? summary->subject : "", &is_reply);
  has_links = (summary->in_reply_to != NULL && summary->in_reply_to[0] != '\0') ||
              (summary->references != NULL && summary->references[0] != NULL);

  if (thread == 0 && is_reply && !has_links && subject_key[0] != '\0')
    {
      STMT_OR_FAIL (stmt, self,
                    "SELECT thread_id FROM thread_subjects WHERE account_id = ?1 AND subject = ?2");

      sqlite3_bind_int64 (stmt, 1, account_id);
      _mailer_store_bind_text (stmt, 2, subject_key);
      if (sqlite3_step (stmt) == SQLITE_ROW)
        thread = sqlite3_column_int64 (stmt, 0);
      sqlite3_reset (stmt);
    }

  if (thread == 0)
    {
      thread = _mailer_store_next_thread_id (self, error);
      if (thread == 0)
        return FALSE;
    }

  for (guint i = 0; i < found->len; i++)
    {
      gint64 t = g_array_index (found, gint64, i);

      if (t != thread && !merge_threads (self, thread, t, error))
        return FALSE;
    }

  {
    STMT_OR_FAIL (stmt, self,
                  "INSERT OR IGNORE INTO thread_refs (account_id, msgid, thread_id) VALUES (?1, ?2, ?3)");

    for (guint i = 0; i < msgids->len; i++)
      {
        sqlite3_bind_int64 (stmt, 1, account_id);
        _mailer_store_bind_text (stmt, 2, msgids->pdata[i]);
        sqlite3_bind_int64 (stmt, 3, thread);
        if (!step_done (stmt, "Threading a message", error))
          return FALSE;
      }
  }

  if (subject_key[0] != '\0')
    {
      STMT_OR_FAIL (stmt, self,
                    "INSERT INTO thread_subjects (account_id, subject, thread_id) VALUES (?1, ?2, ?3)"
                    " ON CONFLICT DO UPDATE SET thread_id = excluded.thread_id"
                    " WHERE thread_id != excluded.thread_id");

      sqlite3_bind_int64 (stmt, 1, account_id);
      _mailer_store_bind_text (stmt, 2, subject_key);
      sqlite3_bind_int64 (stmt, 3, thread);
      if (!step_done (stmt, "Threading a message", error))
        return FALSE;
    }

  *thread_out = thread;
  return TRUE;
}

/* Adding messages */

typedef struct
{
  gint64 folder_id;
  GPtrArray *messages;   /* of MailerStoreNewMessage */
  GArray *ids;           /* result: gint64 per message */
} AddData;

static void
add_data_free (AddData *data)
{
  g_ptr_array_unref (data->messages);
  g_clear_pointer (&data->ids, g_array_unref);
  g_free (data);
}

static char *
join_references (GStrv references)
{
  if (references == NULL || references[0] == NULL)
    return NULL;
  return g_strjoinv (" ", references);
}

/* Returns the id the message already has, if it is known: by UID in the
 * folder, or by UIDL for the account (even when it was deleted here since:
 * a POP message is downloaded once). */
static gboolean
find_existing (MailerStore            *self,
               gint64                  folder_id,
               gint64                  account_id,
               MailerStoreNewMessage  *message,
               gboolean               *known,
               gint64                 *id,
               GError                **error)
{
  sqlite3_stmt *stmt;
  int rc;

  *known = FALSE;
  *id = 0;
  if (message->uid > 0)
    {
      stmt = _mailer_store_write_stmt (self, "SELECT id FROM messages WHERE folder_id = ?1 AND uid = ?2", error);
      if (stmt == NULL)
        return FALSE;
      sqlite3_bind_int64 (stmt, 1, folder_id);
      sqlite3_bind_int64 (stmt, 2, message->uid);
    }
  else if (message->uidl != NULL)
    {
      stmt = _mailer_store_write_stmt (self, "SELECT message_id FROM pop_uidls WHERE account_id = ?1 AND uidl = ?2", error);
      if (stmt == NULL)
        return FALSE;
      sqlite3_bind_int64 (stmt, 1, account_id);
      _mailer_store_bind_text (stmt, 2, message->uidl);
    }
  else
    return TRUE;

  rc = sqlite3_step (stmt);
  if (rc == SQLITE_ROW)
    {
      *known = TRUE;
      *id = sqlite3_column_int64 (stmt, 0);
    }
  sqlite3_reset (stmt);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE)
    {
      _mailer_store_set_error (error, sqlite3_db_handle (stmt), rc, "Looking up a message");
      return FALSE;
    }
  return TRUE;
}

/* Stored with its header section read, its text to be read later. */
static gboolean
text_deferred (const MailerStoreNewMessage *message)
{
  return message->defer_text && (message->raw != NULL || message->summary != NULL);
}

static gboolean
insert_message (MailerStore            *self,
                gint64                  folder_id,
                gint64                  account_id,
                MailerStoreNewMessage  *message,
                gint64                 *id_out,
                GError                **error)
{
  const MailerMimeSummary *summary = message->summary;
  g_autofree char *refs = join_references (summary->references);
  MailerBodyState body_state = MAILER_BODY_STATE_NONE;
  gint64 thread_id = 0;
  gint64 date = summary->date > 0 ? summary->date : message->internal_date;
  gint64 size = message->size > 0 ? message->size : (message->raw ? (gint64) g_bytes_get_size (message->raw) : 0);
  gint64 id = 0;
  int rc;
  STMT_OR_FAIL (insert, self,
                "INSERT INTO messages (folder_id, uid, uidl, message_id, in_reply_to, refs,"
                "  thread_id, subject, from_name, from_address, to_list, cc_list, date, size,"
                "  flags, keywords, has_attachment, preview, body_state, modseq, text_indexed)"
                " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15,"
                "  ?16, ?17, ?18, ?19, ?20, ?21) ON CONFLICT DO NOTHING RETURNING id");

  if (message->raw != NULL)
    body_state = message->partial ? MAILER_BODY_STATE_PARTIAL : MAILER_BODY_STATE_COMPLETE;

  if (!assign_thread (self, account_id, summary, &thread_id, error))
    return FALSE;

  sqlite3_bind_int64 (insert, 1, folder_id);
  if (message->uid > 0)
    sqlite3_bind_int64 (insert, 2, message->uid);
  _mailer_store_bind_text (insert, 3, message->uidl);
  _mailer_store_bind_text (insert, 4, summary->message_id);
  _mailer_store_bind_text (insert, 5, summary->in_reply_to);
  _mailer_store_bind_text (insert, 6, refs);
  sqlite3_bind_int64 (insert, 7, thread_id);
  _mailer_store_bind_text (insert, 8, summary->subject ? summary->subject : "");
  _mailer_store_bind_text (insert, 9, summary->from_name ? summary->from_name : "");
  _mailer_store_bind_text (insert, 10, summary->from_address ? summary->from_address : "");
  _mailer_store_bind_text (insert, 11, summary->to ? summary->to : "");
  _mailer_store_bind_text (insert, 12, summary->cc ? summary->cc : "");
  sqlite3_bind_int64 (insert, 13, date);
  sqlite3_bind_int64 (insert, 14, size);
  sqlite3_bind_int (insert, 15, message->flags);
  _mailer_store_bind_text (insert, 16, message->keywords ? message->keywords : "");
  sqlite3_bind_int (insert, 17, summary->has_attachment ? 1 : 0);
  _mailer_store_bind_text (insert, 18, summary->preview ? summary->preview : "");
  sqlite3_bind_int (insert, 19, body_state);
  if (message->modseq > 0)
    sqlite3_bind_int64 (insert, 20, message->modseq);
  sqlite3_bind_int (insert, 21, text_deferred (message) ? 0 : 1);

  rc = sqlite3_step (insert);
  if (rc == SQLITE_ROW)
    id = sqlite3_column_int64 (insert, 0);
  if (!step_done (insert, "Storing a message", error))
    return FALSE;
  if (id == 0)
    {
      /* Already there after all (another writer of the same folder): that
       * one, and nothing more of this. */
      *id_out = 0;
      return TRUE;
    }

  if (message->raw != NULL)
    {
      STMT_OR_FAIL (body, self, "INSERT INTO bodies (message_id, raw) VALUES (?1, ?2)");
      gsize len;
      const void *raw = g_bytes_get_data (message->raw, &len);

      sqlite3_bind_int64 (body, 1, id);
      sqlite3_bind_blob64 (body, 2, raw ? raw : "", len, SQLITE_STATIC);
      if (!step_done (body, "Storing a message", error))
        return FALSE;
    }

  if (message->uidl != NULL)
    {
      STMT_OR_FAIL (uidl, self,
                    "INSERT INTO pop_uidls (account_id, uidl, message_id) VALUES (?1, ?2, ?3)");

      sqlite3_bind_int64 (uidl, 1, account_id);
      _mailer_store_bind_text (uidl, 2, message->uidl);
      sqlite3_bind_int64 (uidl, 3, id);
      if (!step_done (uidl, "Recording a downloaded message", error))
        return FALSE;
    }

  _mailer_store_add_row_change (_mailer_store_pending_changes (self)->inserted, id, folder_id, date);
  *id_out = id;
  return TRUE;
}

/* Full-text indexing comes after every other write of the transaction:
 * FTS5 writes its pending terms out as a new index segment at each
 * statement savepoint, so indexing each message between the other writes
 * made one tiny segment (and merge work) per message. */
static gboolean
index_message (MailerStore              *self,
               gint64                    id,
               const MailerMimeSummary  *summary,
               GError                  **error)
{
  STMT_OR_FAIL (fts, self,
                "INSERT INTO messages_fts (rowid, subject, addresses, body) VALUES (?1, ?2, ?3, ?4)");
  g_autofree char *all = g_strjoin (" ",
                                    summary->from_name ? summary->from_name : "",
                                    summary->from_address ? summary->from_address : "",
                                    summary->to ? summary->to : "",
                                    summary->cc ? summary->cc : "",
                                    NULL);
  g_autofree char *subject = _mailer_store_fold_for_search (summary->subject);
  g_autofree char *body = _mailer_store_fold_for_search (summary->body_text);
  g_autofree char *addresses = _mailer_store_fold_for_search (all);

  sqlite3_bind_int64 (fts, 1, id);
  _mailer_store_bind_text (fts, 2, subject);
  _mailer_store_bind_text (fts, 3, addresses);
  _mailer_store_bind_text (fts, 4, body);
  return step_done (fts, "Indexing a message", error);
}

/* A message stored here first goes to the server's folder by the journal,
 * in the transaction that stores it. */
static gboolean
journal_upload (MailerStore           *self,
                gint64                 folder_id,
                gint64                 account_id,
                gint64                 message_id,
                MailerStoreNewMessage *message,
                GError               **error)
{
  STMT_OR_FAIL (stmt, self,
                "INSERT INTO journal (account_id, folder_id, message_id, op, add_flags)"
                " VALUES (?1, ?2, ?3, 'append', ?4)");

  sqlite3_bind_int64 (stmt, 1, account_id);
  sqlite3_bind_int64 (stmt, 2, folder_id);
  sqlite3_bind_int64 (stmt, 3, message_id);
  sqlite3_bind_int (stmt, 4, message->flags);
  return step_done (stmt, "Recording a message to upload to the server", error);
}

static gboolean
add_messages_write (MailerStore  *self,
                    sqlite3      *db,
                    GTask        *task,
                    GError      **error)
{
  AddData *data = g_task_get_task_data (task);
  g_autoptr(GArray) inserted = g_array_new (FALSE, FALSE, sizeof (guint));
  gint64 account_id = 0;

  if (!folder_account (self, data->folder_id, &account_id, error))
    return FALSE;

  g_clear_pointer (&data->ids, g_array_unref);
  data->ids = g_array_sized_new (FALSE, FALSE, sizeof (gint64), data->messages->len);

  for (guint i = 0; i < data->messages->len; i++)
    {
      MailerStoreNewMessage *message = g_ptr_array_index (data->messages, i);
      gboolean known = FALSE;
      gint64 id = 0;

      if (!(message->fresh && message->uid > 0) &&
          !find_existing (self, data->folder_id, account_id, message, &known, &id, error))
        return FALSE;
      if (!known)
        {
          if (!insert_message (self, data->folder_id, account_id, message, &id, error))
            return FALSE;
          if (id == 0)
            {
              if (!find_existing (self, data->folder_id, account_id, message, &known, &id, error))
                return FALSE;
              g_array_append_val (data->ids, id);
              continue;
            }
          if (message->upload && !journal_upload (self, data->folder_id, account_id, id, message, error))
            return FALSE;
          g_array_append_val (inserted, i);
        }
      g_array_append_val (data->ids, id);
    }

  for (guint k = 0; k < inserted->len; k++)
    {
      guint i = g_array_index (inserted, guint, k);
      MailerStoreNewMessage *message = g_ptr_array_index (data->messages, i);

      /* A summary alone (IMAP headers): the text pass puts it in the
       * search index too, once the sync is done writing. */
      if (text_deferred (message) && message->raw == NULL)
        continue;
      if (!index_message (self, g_array_index (data->ids, gint64, i), message->summary, error))
        return FALSE;
    }

  add_folder_change (_mailer_store_pending_changes (self), data->folder_id);
  return TRUE;
}

static void
parse_messages_thread (GTask        *task,
                       gpointer      source_object,
                       gpointer      task_data,
                       GCancellable *cancellable)
{
  AddData *data = task_data;

  for (guint i = 0; i < data->messages->len; i++)
    {
      MailerStoreNewMessage *message = g_ptr_array_index (data->messages, i);
      g_autoptr(GError) error = NULL;

      if (message->summary != NULL)
        continue;
      if (message->raw != NULL)
        message->summary = text_deferred (message) ? mailer_mime_parse_headers (message->raw, &error)
                                                   : mailer_mime_parse (message->raw, &error);
      /* A message with nothing in it is still stored: it was on the server,
       * and losing it silently is worse than an empty row. */
      if (message->summary == NULL)
        {
          message->summary = g_new0 (MailerMimeSummary, 1);
          message->summary->subject = g_strdup ("");
          message->summary->to = g_strdup ("");
          message->summary->cc = g_strdup ("");
          message->summary->preview = g_strdup ("");
          message->summary->body_text = g_strdup ("");
          message->summary->references = g_new0 (char *, 1);
          message->summary->attachments = g_ptr_array_new_with_free_func ((GDestroyNotify) mailer_mime_attachment_free);
        }
    }
  g_task_return_boolean (task, TRUE);
}

static gboolean
any_deferred (AddData *data)
{
  for (guint i = 0; i < data->messages->len; i++)
    if (text_deferred (g_ptr_array_index (data->messages, i)))
      return TRUE;
  return FALSE;
}

static void
add_write_done_cb (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  MailerStore *self = g_task_get_source_object (task);
  AddData *data = g_task_get_task_data (G_TASK (result));
  GError *error = NULL;

  if (!g_task_propagate_boolean (G_TASK (result), &error))
    {
      _mailer_store_indexer_add_end (_mailer_store_get_indexer (self), FALSE);
      g_task_return_error (task, error);
    }
  else
    {
      _mailer_store_indexer_add_end (_mailer_store_get_indexer (self), any_deferred (data));
      g_task_return_pointer (task, g_array_ref (data->ids), (GDestroyNotify) g_array_unref);
    }
}

static void
add_parsed_cb (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  MailerStore *self = g_task_get_source_object (task);
  /* The parse task holds the data without owning it; it is ours now. */
  AddData *data = g_task_get_task_data (G_TASK (result));
  g_autoptr(GTask) inner = NULL;
  GError *error = NULL;

  if (!g_task_propagate_boolean (G_TASK (result), &error))
    {
      add_data_free (data);
      _mailer_store_indexer_add_end (_mailer_store_get_indexer (self), FALSE);
      g_task_return_error (task, error);
      return;
    }

  inner = g_task_new (self, g_task_get_cancellable (task), add_write_done_cb, g_object_ref (task));
  g_task_set_task_data (inner, data, (GDestroyNotify) add_data_free);
  _mailer_store_queue_write (self, inner, add_messages_write);
}

/**
 * mailer_store_add_messages_async:
 * @folder_id: where the messages go
 * @messages: (element-type MailerStoreNewMessage) (transfer none): the
 *   messages; the store takes a reference and fills in their summaries
 *
 * Stores @messages in one transaction: their summaries, raw bodies, search
 * index, conversations and (for POP) UIDL records.  Messages already known
 * (same UID in the folder, or same UIDL for the account) are not stored
 * again.  Raw messages are parsed on a worker thread first.
 *
 * The result, once the transaction committed, is a #GArray of gint64: the
 * id of each message, in order (0 for a POP message known from before but
 * deleted here since).
 */
void
mailer_store_add_messages_async (MailerStore         *self,
                                 gint64               folder_id,
                                 GPtrArray           *messages,
                                 GCancellable        *cancellable,
                                 GAsyncReadyCallback  callback,
                                 gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(GTask) parse = NULL;
  AddData *data;

  g_return_if_fail (MAILER_IS_STORE (self));
  g_return_if_fail (messages != NULL);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, mailer_store_add_messages_async);

  data = g_new0 (AddData, 1);
  data->folder_id = folder_id;
  data->messages = g_ptr_array_ref (messages);

  /* The text pass waits for these. */
  _mailer_store_indexer_add_begin (_mailer_store_get_indexer (self));
  parse = g_task_new (self, cancellable, add_parsed_cb, g_object_ref (task));
  g_task_set_task_data (parse, data, NULL);
  g_task_run_in_thread (parse, parse_messages_thread);
}

/**
 * mailer_store_add_messages_finish:
 *
 * Returns: (transfer full) (element-type gint64): the message ids
 */
GArray *
mailer_store_add_messages_finish (MailerStore   *self,
                                  GAsyncResult  *result,
                                  GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/* Flags, delete, move */

typedef struct
{
  GArray *ids;
  MailerMessageFlags add;
  MailerMessageFlags remove;
  gint64 dest_folder_id;
  gboolean journal;
} ChangeData;

static void
change_data_free (ChangeData *data)
{
  g_array_unref (data->ids);
  g_free (data);
}

static gboolean
write_journal (MailerStore      *self,
               gint64            folder_id,
               gint64            message_id,
               sqlite3_stmt     *row,        /* uid at 2, uidl at 3, modseq at 4 if any */
               MailerJournalOp   op,
               ChangeData       *data,
               GError          **error)
{
  static const char * const op_names[] = { "flags", "delete", "move", "append" };
  gint64 account_id = 0;
  STMT_OR_FAIL (stmt, self,
                "INSERT INTO journal (account_id, folder_id, message_id, uid, uidl, op,"
                "                     add_flags, remove_flags, dest_folder_id, modseq)"
                " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)");

  if (!folder_account (self, folder_id, &account_id, error))
    return FALSE;

  sqlite3_bind_int64 (stmt, 1, account_id);
  sqlite3_bind_int64 (stmt, 2, folder_id);
  sqlite3_bind_int64 (stmt, 3, message_id);
  if (sqlite3_column_type (row, 2) != SQLITE_NULL)
    sqlite3_bind_int64 (stmt, 4, sqlite3_column_int64 (row, 2));
  _mailer_store_bind_text (stmt, 5, (const char *) sqlite3_column_text (row, 3));
  _mailer_store_bind_text (stmt, 6, op_names[op]);
  sqlite3_bind_int (stmt, 7, op == MAILER_JOURNAL_OP_FLAGS ? data->add : 0);
  sqlite3_bind_int (stmt, 8, op == MAILER_JOURNAL_OP_FLAGS ? data->remove : 0);
  if (op == MAILER_JOURNAL_OP_MOVE)
    sqlite3_bind_int64 (stmt, 9, data->dest_folder_id);
  if (sqlite3_column_count (row) > 4 && sqlite3_column_type (row, 4) != SQLITE_NULL)
    sqlite3_bind_int64 (stmt, 10, sqlite3_column_int64 (row, 4));
  return step_done (stmt, "Recording a change to send to the server", error);
}

static gboolean
set_flags_write (MailerStore  *self,
                 sqlite3      *db,
                 GTask        *task,
                 GError      **error)
{
  ChangeData *data = g_task_get_task_data (task);
  MailerStoreChanges *changes = _mailer_store_pending_changes (self);
  STMT_OR_FAIL (stmt, self,
                "UPDATE messages SET flags = (flags | ?2) & ~?3"
                " WHERE id = ?1 AND flags != ((flags | ?2) & ~?3)"
                " RETURNING folder_id, date, uid, uidl, modseq");

  for (guint i = 0; i < data->ids->len; i++)
    {
      gint64 id = g_array_index (data->ids, gint64, i);
      gint64 folder_id, date;
      int rc;

      sqlite3_bind_int64 (stmt, 1, id);
      sqlite3_bind_int (stmt, 2, data->add);
      sqlite3_bind_int (stmt, 3, data->remove);
      rc = sqlite3_step (stmt);
      if (rc == SQLITE_DONE)
        {
          /* Gone, or already so: nothing to change or to replay. */
          sqlite3_reset (stmt);
          continue;
        }
      if (rc != SQLITE_ROW)
        {
          _mailer_store_set_error (error, db, rc, "Changing message flags");
          sqlite3_reset (stmt);
          return FALSE;
        }

      folder_id = sqlite3_column_int64 (stmt, 0);
      date = sqlite3_column_int64 (stmt, 1);
      if (data->journal &&
          !write_journal (self, folder_id, id, stmt, MAILER_JOURNAL_OP_FLAGS, data, error))
        {
          sqlite3_reset (stmt);
          return FALSE;
        }
      if (!step_done (stmt, "Changing message flags", error))
        return FALSE;

      _mailer_store_add_row_change (changes->updated, id, folder_id, date);
      add_folder_change (changes, folder_id);
    }
  return TRUE;
}

static gboolean
delete_messages_write (MailerStore  *self,
                       sqlite3      *db,
                       GTask        *task,
                       GError      **error)
{
  ChangeData *data = g_task_get_task_data (task);
  MailerStoreChanges *changes = _mailer_store_pending_changes (self);
  STMT_OR_FAIL (stmt, self,
                "DELETE FROM messages WHERE id = ?1 RETURNING folder_id, date, uid, uidl");
  STMT_OR_FAIL (uidl, self,
                "UPDATE pop_uidls SET deleted_locally = 1, message_id = NULL WHERE message_id = ?1");

  for (guint i = 0; i < data->ids->len; i++)
    {
      gint64 id = g_array_index (data->ids, gint64, i);
      gint64 folder_id, date;
      int rc;

      /* The POP record outlives the message, so it is not downloaded
       * again, and remembers that the user deleted it. */
      sqlite3_bind_int64 (uidl, 1, id);
      if (!step_done (uidl, "Deleting a message", error))
        return FALSE;

      sqlite3_bind_int64 (stmt, 1, id);
      rc = sqlite3_step (stmt);
      if (rc == SQLITE_DONE)
        {
          sqlite3_reset (stmt);
          continue;
        }
      if (rc != SQLITE_ROW)
        {
          _mailer_store_set_error (error, db, rc, "Deleting a message");
          sqlite3_reset (stmt);
          return FALSE;
        }

      folder_id = sqlite3_column_int64 (stmt, 0);
      date = sqlite3_column_int64 (stmt, 1);
      if (data->journal &&
          !write_journal (self, folder_id, id, stmt, MAILER_JOURNAL_OP_DELETE, data, error))
        {
          sqlite3_reset (stmt);
          return FALSE;
        }
      if (!step_done (stmt, "Deleting a message", error))
        return FALSE;

      _mailer_store_add_row_change (changes->removed, id, folder_id, date);
      add_folder_change (changes, folder_id);
    }
  return TRUE;
}

static gboolean
move_messages_write (MailerStore  *self,
                     sqlite3      *db,
                     GTask        *task,
                     GError      **error)
{
  ChangeData *data = g_task_get_task_data (task);
  MailerStoreChanges *changes = _mailer_store_pending_changes (self);
  gint64 dest_account = 0;
  STMT_OR_FAIL (read, self,
                "SELECT folder_id, date, uid, uidl, f.account_id FROM messages m"
                " JOIN folders f ON f.id = m.folder_id WHERE m.id = ?1");
  STMT_OR_FAIL (update, self,
                "UPDATE messages SET folder_id = ?2, uid = NULL, modseq = NULL WHERE id = ?1");

  if (!folder_account (self, data->dest_folder_id, &dest_account, error))
    return FALSE;

  for (guint i = 0; i < data->ids->len; i++)
    {
      gint64 id = g_array_index (data->ids, gint64, i);
      gint64 folder_id, date;
      int rc;

      sqlite3_bind_int64 (read, 1, id);
      rc = sqlite3_step (read);
      if (rc == SQLITE_DONE)
        {
          sqlite3_reset (read);
          continue;
        }
      if (rc != SQLITE_ROW)
        {
          _mailer_store_set_error (error, db, rc, "Moving a message");
          sqlite3_reset (read);
          return FALSE;
        }
      folder_id = sqlite3_column_int64 (read, 0);
      date = sqlite3_column_int64 (read, 1);
      if (folder_id == data->dest_folder_id)
        {
          sqlite3_reset (read);
          continue;
        }
      if (sqlite3_column_int64 (read, 4) != dest_account)
        {
          sqlite3_reset (read);
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                       "Messages can only be moved between folders of one account");
          return FALSE;
        }
      if (data->journal &&
          !write_journal (self, folder_id, id, read, MAILER_JOURNAL_OP_MOVE, data, error))
        {
          sqlite3_reset (read);
          return FALSE;
        }
      sqlite3_reset (read);

      sqlite3_bind_int64 (update, 1, id);
      sqlite3_bind_int64 (update, 2, data->dest_folder_id);
      if (!step_done (update, "Moving a message", error))
        return FALSE;

      _mailer_store_add_row_change (changes->removed, id, folder_id, date);
      _mailer_store_add_row_change (changes->inserted, id, data->dest_folder_id, date);
      add_folder_change (changes, folder_id);
      add_folder_change (changes, data->dest_folder_id);
    }
  return TRUE;
}

static void
queue_change (MailerStore          *self,
              GArray               *ids,
              MailerMessageFlags    add,
              MailerMessageFlags    remove,
              gint64                dest_folder_id,
              gboolean              journal,
              MailerStoreWriteFunc  func,
              gpointer              source_tag,
              GCancellable         *cancellable,
              GAsyncReadyCallback   callback,
              gpointer              user_data)
{
  g_autoptr(GTask) task = NULL;
  ChangeData *data;

  g_return_if_fail (MAILER_IS_STORE (self));
  g_return_if_fail (ids != NULL);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, source_tag);

  data = g_new0 (ChangeData, 1);
  /* A copy: the caller may reuse its array at once. */
  data->ids = g_array_copy (ids);
  data->add = add;
  data->remove = remove;
  data->dest_folder_id = dest_folder_id;
  data->journal = journal;
  g_task_set_task_data (task, data, (GDestroyNotify) change_data_free);
  _mailer_store_queue_write (self, task, func);
}

/**
 * mailer_store_set_flags_async:
 * @ids: (element-type gint64): the messages
 * @journal: %TRUE for a change the user made here, which the account's
 *   server must hear of: it is recorded in the journal in the same
 *   transaction; %FALSE for a change that came from the server
 *
 * Adds @add and removes @remove from the flags of @ids.
 */
void
mailer_store_set_flags_async (MailerStore         *self,
                              GArray              *ids,
                              MailerMessageFlags   add,
                              MailerMessageFlags   remove,
                              gboolean             journal,
                              GCancellable        *cancellable,
                              GAsyncReadyCallback  callback,
                              gpointer             user_data)
{
  queue_change (self, ids, add, remove, 0, journal, set_flags_write,
                mailer_store_set_flags_async, cancellable, callback, user_data);
}

gboolean
mailer_store_set_flags_finish (MailerStore   *self,
                               GAsyncResult  *result,
                               GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

/**
 * mailer_store_delete_messages_async:
 * @ids: (element-type gint64): the messages
 * @journal: see mailer_store_set_flags_async()
 *
 * Removes @ids, their raw messages and their search index entries.
 */
void
mailer_store_delete_messages_async (MailerStore         *self,
                                    GArray              *ids,
                                    gboolean             journal,
                                    GCancellable        *cancellable,
                                    GAsyncReadyCallback  callback,
                                    gpointer             user_data)
{
  queue_change (self, ids, 0, 0, 0, journal, delete_messages_write,
                mailer_store_delete_messages_async, cancellable, callback, user_data);
}

gboolean
mailer_store_delete_messages_finish (MailerStore   *self,
                                     GAsyncResult  *result,
                                     GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

/**
 * mailer_store_move_messages_async:
 * @ids: (element-type gint64): the messages
 * @dest_folder_id: a folder of the same account
 * @journal: see mailer_store_set_flags_async()
 *
 * Moves @ids.  Their UIDs are forgotten: the destination's server assigns
 * new ones.
 */
void
mailer_store_move_messages_async (MailerStore         *self,
                                  GArray              *ids,
                                  gint64               dest_folder_id,
                                  gboolean             journal,
                                  GCancellable        *cancellable,
                                  GAsyncReadyCallback  callback,
                                  gpointer             user_data)
{
  queue_change (self, ids, 0, 0, dest_folder_id, journal, move_messages_write,
                mailer_store_move_messages_async, cancellable, callback, user_data);
}

gboolean
mailer_store_move_messages_finish (MailerStore   *self,
                                   GAsyncResult  *result,
                                   GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

/* Raw messages fetched later */

typedef struct
{
  gint64 id;
  GBytes *raw;
  MailerMimeSummary *summary;
} RawData;

static void
raw_data_free (RawData *data)
{
  g_bytes_unref (data->raw);
  g_clear_pointer (&data->summary, mailer_mime_summary_free);
  g_free (data);
}

static gboolean
set_raw_write (MailerStore  *self,
               sqlite3      *db,
               GTask        *task,
               GError      **error)
{
  RawData *data = g_task_get_task_data (task);
  gsize len;
  const void *raw = g_bytes_get_data (data->raw, &len);
  int rc;
  /* Its text is read by the text pass (mailer-store-indexer.c). */
  STMT_OR_FAIL (update, self,
                "UPDATE messages SET body_state = 2, text_indexed = 0"
                " WHERE id = ?1 RETURNING folder_id, date");
  STMT_OR_FAIL (body, self, "INSERT OR REPLACE INTO bodies (message_id, raw) VALUES (?1, ?2)");

  sqlite3_bind_int64 (update, 1, data->id);
  rc = sqlite3_step (update);
  if (rc == SQLITE_DONE)
    {
      sqlite3_reset (update);
      g_set_error (error, MAILER_STORE_ERROR, MAILER_STORE_ERROR_NOT_FOUND,
                   "The message no longer exists");
      return FALSE;
    }
  if (rc == SQLITE_ROW)
    _mailer_store_add_row_change (_mailer_store_pending_changes (self)->updated, data->id,
                                  sqlite3_column_int64 (update, 0), sqlite3_column_int64 (update, 1));
  if (!step_done (update, "Storing a message", error))
    return FALSE;

  sqlite3_bind_int64 (body, 1, data->id);
  sqlite3_bind_blob64 (body, 2, raw ? raw : "", len, SQLITE_STATIC);
  return step_done (body, "Storing a message", error);
}

static void
set_raw_written_cb (GObject      *source,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  MailerStore *self = g_task_get_source_object (task);
  GError *error = NULL;
  gboolean ok = g_task_propagate_boolean (G_TASK (result), &error);

  _mailer_store_indexer_add_end (_mailer_store_get_indexer (self), ok);
  if (!ok)
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
}

/**
 * mailer_store_set_raw_async:
 *
 * Stores the complete raw message for @message_id (fetched after its
 * summary); its text (preview, search index) is read by the text pass
 * once the store is quiet (see mailer_store_index_text_async()).
 */
void
mailer_store_set_raw_async (MailerStore         *self,
                            gint64               message_id,
                            GBytes              *raw,
                            GCancellable        *cancellable,
                            GAsyncReadyCallback  callback,
                            gpointer             user_data)
{
  g_autoptr(GTask) write = NULL;
  GTask *task;
  RawData *data;

  g_return_if_fail (MAILER_IS_STORE (self));
  g_return_if_fail (raw != NULL);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, mailer_store_set_raw_async);

  data = g_new0 (RawData, 1);
  data->id = message_id;
  data->raw = g_bytes_ref (raw);
  /* The text pass waits for bodies still coming in. */
  _mailer_store_indexer_add_begin (_mailer_store_get_indexer (self));
  write = g_task_new (self, cancellable, set_raw_written_cb, task);
  g_task_set_task_data (write, data, (GDestroyNotify) raw_data_free);
  _mailer_store_queue_write (self, write, set_raw_write);
}

gboolean
mailer_store_set_raw_finish (MailerStore   *self,
                             GAsyncResult  *result,
                             GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

/* Reading messages */

#define MESSAGE_COLUMNS                                                   \
  "id, folder_id, thread_id, subject, from_name, from_address, to_list, " \
  "preview, keywords, date, size, flags, has_attachment, body_state"

static void
fill_message (MailerMessage *message,
              sqlite3_stmt  *stmt)
{
  const char *from_name = (const char *) sqlite3_column_text (stmt, 4);
  const char *from_address = (const char *) sqlite3_column_text (stmt, 5);

  g_object_freeze_notify (G_OBJECT (message));
  mailer_message_set_folder_id (message, sqlite3_column_int64 (stmt, 1));
  mailer_message_set_thread_id (message, sqlite3_column_int64 (stmt, 2));
  mailer_message_set_subject (message, (const char *) sqlite3_column_text (stmt, 3));
  mailer_message_set_sender (message, from_name && from_name[0] ? from_name : from_address);
  mailer_message_set_sender_address (message, from_address);
  mailer_message_set_recipients (message, (const char *) sqlite3_column_text (stmt, 6));
  mailer_message_set_preview (message, (const char *) sqlite3_column_text (stmt, 7));
  mailer_message_set_keywords (message, (const char *) sqlite3_column_text (stmt, 8));
  mailer_message_set_date (message, sqlite3_column_int64 (stmt, 9));
  mailer_message_set_size (message, sqlite3_column_int64 (stmt, 10));
  mailer_message_set_flags (message, sqlite3_column_int (stmt, 11));
  mailer_message_set_has_attachment (message, sqlite3_column_int (stmt, 12));
  mailer_message_set_body_state (message, CLAMP (sqlite3_column_int (stmt, 13), 0, 2));
  g_object_thaw_notify (G_OBJECT (message));
}

static sqlite3_stmt *
step_message (MailerStore  *self,
              gint64        id,
              GError      **error)
{
  sqlite3_stmt *stmt;
  int rc;

  stmt = _mailer_store_read_stmt (self, "SELECT " MESSAGE_COLUMNS " FROM messages WHERE id = ?1", error);
  if (stmt == NULL)
    return NULL;
  sqlite3_bind_int64 (stmt, 1, id);
  rc = sqlite3_step (stmt);
  if (rc == SQLITE_ROW)
    return stmt;
  if (rc == SQLITE_DONE)
    g_set_error (error, MAILER_STORE_ERROR, MAILER_STORE_ERROR_NOT_FOUND,
                 "The message no longer exists");
  else
    _mailer_store_set_error (error, _mailer_store_get_read_db (self), rc, "Reading a message");
  sqlite3_reset (stmt);
  return NULL;
}

/**
 * mailer_store_load_message:
 *
 * Returns: (transfer full) (nullable): the summary of @message_id
 */
MailerMessage *
mailer_store_load_message (MailerStore  *self,
                           gint64        message_id,
                           GError      **error)
{
  sqlite3_stmt *stmt;
  MailerMessage *message;

  g_return_val_if_fail (MAILER_IS_STORE (self), NULL);

  stmt = step_message (self, message_id, error);
  if (stmt == NULL)
    return NULL;
  message = mailer_message_new (message_id, sqlite3_column_int64 (stmt, 1));
  fill_message (message, stmt);
  sqlite3_reset (stmt);
  return message;
}

static void
live_weak_notify (gpointer  data,
                  GObject  *where_the_object_was)
{
  MailerStore *self = data;
  gint64 id = mailer_message_get_id ((MailerMessage *) where_the_object_was);

  g_hash_table_remove (_mailer_store_get_live (self), &id);
}

void
_mailer_store_drop_live (MailerStore *self)
{
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, _mailer_store_get_live (self));
  while (g_hash_table_iter_next (&iter, NULL, &value))
    g_object_weak_unref (value, live_weak_notify, self);
  g_hash_table_remove_all (_mailer_store_get_live (self));
}

static void
refresh_rows (MailerStore *self,
              GArray      *rows)
{
  GHashTable *live = _mailer_store_get_live (self);

  for (guint i = 0; i < rows->len; i++)
    {
      const MailerStoreRow *row = &g_array_index (rows, MailerStoreRow, i);
      MailerMessage *message = g_hash_table_lookup (live, &row->id);

      if (message != NULL)
        mailer_store_refresh_message (self, message, NULL);
    }
}

void
_mailer_store_refresh_live (MailerStore        *self,
                            MailerStoreChanges *changes)
{
  /* Removed rows that were moved show up in inserted too. */
  refresh_rows (self, changes->updated);
  refresh_rows (self, changes->inserted);
}

/**
 * mailer_store_get_message:
 *
 * Like mailer_store_load_message(), but returns the object already in use
 * for @message_id when there is one: there is only ever one live
 * #MailerMessage per message, and the store keeps it up to date.
 *
 * Returns: (transfer full) (nullable): the message
 */
MailerMessage *
mailer_store_get_message (MailerStore  *self,
                          gint64        message_id,
                          GError      **error)
{
  GHashTable *live;
  MailerMessage *message;

  g_return_val_if_fail (MAILER_IS_STORE (self), NULL);

  live = _mailer_store_get_live (self);
  message = g_hash_table_lookup (live, &message_id);
  if (message != NULL)
    return g_object_ref (message);

  message = mailer_store_load_message (self, message_id, error);
  if (message == NULL)
    return NULL;
  g_hash_table_insert (live, g_memdup2 (&message_id, sizeof message_id), message);
  g_object_weak_ref (G_OBJECT (message), live_weak_notify, self);
  return message;
}

/**
 * mailer_store_refresh_message:
 *
 * Re-reads @message's summary; its properties notify where they changed.
 */
gboolean
mailer_store_refresh_message (MailerStore    *self,
                              MailerMessage  *message,
                              GError        **error)
{
  sqlite3_stmt *stmt;

  g_return_val_if_fail (MAILER_IS_STORE (self), FALSE);

  stmt = step_message (self, mailer_message_get_id (message), error);
  if (stmt == NULL)
    return FALSE;
  fill_message (message, stmt);
  sqlite3_reset (stmt);
  return TRUE;
}

/**
 * mailer_store_get_raw:
 *
 * Returns: (transfer full) (nullable): the raw message exactly as it was
 *   received, or %NULL with %MAILER_STORE_ERROR_NOT_FOUND when only its
 *   summary is stored
 */
GBytes *
mailer_store_get_raw (MailerStore  *self,
                      gint64        message_id,
                      GError      **error)
{
  sqlite3_stmt *stmt;
  GBytes *raw = NULL;
  int rc;

  g_return_val_if_fail (MAILER_IS_STORE (self), NULL);

  stmt = _mailer_store_read_stmt (self, "SELECT raw FROM bodies WHERE message_id = ?1", error);
  if (stmt == NULL)
    return NULL;
  sqlite3_bind_int64 (stmt, 1, message_id);
  rc = sqlite3_step (stmt);
  if (rc == SQLITE_ROW)
    raw = g_bytes_new (sqlite3_column_blob (stmt, 0), sqlite3_column_bytes (stmt, 0));
  else if (rc == SQLITE_DONE)
    g_set_error (error, MAILER_STORE_ERROR, MAILER_STORE_ERROR_NOT_FOUND,
                 "The message has not been downloaded");
  else
    _mailer_store_set_error (error, _mailer_store_get_read_db (self), rc, "Reading a message");
  sqlite3_reset (stmt);
  return raw;
}

/**
 * mailer_store_list_thread:
 *
 * Returns: (transfer full) (element-type gint64): the messages of a
 *   conversation, oldest first
 */
GArray *
mailer_store_list_thread (MailerStore  *self,
                          gint64        thread_id,
                          GError      **error)
{
  g_autoptr(GArray) ids = g_array_new (FALSE, FALSE, sizeof (gint64));
  sqlite3_stmt *stmt;
  int rc;

  g_return_val_if_fail (MAILER_IS_STORE (self), NULL);

  stmt = _mailer_store_read_stmt (self,
                                  "SELECT id FROM messages WHERE thread_id = ?1 ORDER BY date, id",
                                  error);
  if (stmt == NULL)
    return NULL;
  sqlite3_bind_int64 (stmt, 1, thread_id);
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      gint64 id = sqlite3_column_int64 (stmt, 0);

      g_array_append_val (ids, id);
    }
  sqlite3_reset (stmt);
  if (rc != SQLITE_DONE)
    {
      _mailer_store_set_error (error, _mailer_store_get_read_db (self), rc, "Reading a conversation");
      return NULL;
    }
  return g_steal_pointer (&ids);
}

/**
 * mailer_store_make_search_query:
 * @text: what the user typed
 *
 * Turns @text into an FTS5 query that matches messages containing every
 * word, each as a prefix ("meet" finds "meeting"), in any column.  Nothing
 * the user types is FTS5 syntax.
 *
 * Returns: (nullable): the query, or %NULL when @text has no words
 */
char *
mailer_store_make_search_query (const char *text)
{
  g_autoptr(GString) query = g_string_new (NULL);
  g_autofree char *folded = NULL;
  g_auto(GStrv) words = NULL;

  if (text == NULL)
    return NULL;

  folded = _mailer_store_fold_for_search (text);
  words = g_strsplit_set (folded, " \t\r\n", -1);
  for (guint i = 0; words[i] != NULL; i++)
    {
      if (words[i][0] == '\0')
        continue;
      if (query->len > 0)
        g_string_append_c (query, ' ');
      g_string_append_c (query, '"');
      for (const char *p = words[i]; *p != '\0'; p++)
        {
          if (*p == '"')
            g_string_append_c (query, '"');
          g_string_append_c (query, *p);
        }
      g_string_append (query, "\"*");
    }

  if (query->len == 0)
    return NULL;
  return g_string_free (g_steal_pointer (&query), FALSE);
}

/* POP3 */

/**
 * mailer_store_get_server_ids:
 * @folder_id: (out) (optional): the message's folder
 * @uid: (out) (optional): its IMAP UID, or 0
 * @uidl: (out) (optional) (transfer full): its POP3 UIDL, or %NULL
 *
 * How the server knows a message.
 */
gboolean
mailer_store_get_server_ids (MailerStore  *self,
                             gint64        message_id,
                             gint64       *folder_id,
                             gint64       *uid,
                             char        **uidl,
                             GError      **error)
{
  sqlite3_stmt *stmt;
  int rc;

  g_return_val_if_fail (MAILER_IS_STORE (self), FALSE);

  stmt = _mailer_store_read_stmt (self, "SELECT folder_id, uid, uidl FROM messages WHERE id = ?1", error);
  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_int64 (stmt, 1, message_id);
  rc = sqlite3_step (stmt);
  if (rc == SQLITE_ROW)
    {
      if (folder_id != NULL)
        *folder_id = sqlite3_column_int64 (stmt, 0);
      if (uid != NULL)
        *uid = sqlite3_column_int64 (stmt, 1);
      if (uidl != NULL)
        *uidl = g_strdup ((const char *) sqlite3_column_text (stmt, 2));
    }
  else if (rc == SQLITE_DONE)
    g_set_error (error, MAILER_STORE_ERROR, MAILER_STORE_ERROR_NOT_FOUND,
                 "The message no longer exists");
  else
    _mailer_store_set_error (error, _mailer_store_get_read_db (self), rc, "Reading a message");
  sqlite3_reset (stmt);
  return rc == SQLITE_ROW;
}

/**
 * mailer_store_list_pop_uidls:
 *
 * Returns: (transfer full) (element-type utf8 MailerStorePopUidl): every
 *   UIDL downloaded for the account
 */
GHashTable *
mailer_store_list_pop_uidls (MailerStore  *self,
                             gint64        account_id,
                             GError      **error)
{
  g_autoptr(GHashTable) uidls = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  sqlite3_stmt *stmt;
  int rc;

  g_return_val_if_fail (MAILER_IS_STORE (self), NULL);

  stmt = _mailer_store_read_stmt (self,
                                  "SELECT p.uidl, p.message_id, p.downloaded, p.deleted_locally,"
                                  "       coalesce (m.body_state = 1, 0)"
                                  " FROM pop_uidls p LEFT JOIN messages m ON m.id = p.message_id"
                                  " WHERE p.account_id = ?1",
                                  error);
  if (stmt == NULL)
    return NULL;
  sqlite3_bind_int64 (stmt, 1, account_id);
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      MailerStorePopUidl *record = g_new0 (MailerStorePopUidl, 1);

      record->message_id = sqlite3_column_int64 (stmt, 1);
      record->downloaded = sqlite3_column_int64 (stmt, 2);
      record->deleted_locally = sqlite3_column_int (stmt, 3) != 0;
      record->partial = sqlite3_column_int (stmt, 4) != 0;
      g_hash_table_insert (uidls, g_strdup ((const char *) sqlite3_column_text (stmt, 0)), record);
    }
  sqlite3_reset (stmt);
  if (rc != SQLITE_DONE)
    {
      _mailer_store_set_error (error, _mailer_store_get_read_db (self), rc, "Reading downloaded messages");
      return NULL;
    }
  return g_steal_pointer (&uidls);
}

/* IMAP */

/**
 * mailer_store_get_folder_state:
 *
 * What the last sync of an IMAP folder left.
 */
gboolean
mailer_store_get_folder_state (MailerStore             *self,
                               gint64                   folder_id,
                               MailerStoreFolderState  *state,
                               GError                 **error)
{
  sqlite3_stmt *stmt;
  int rc;

  g_return_val_if_fail (MAILER_IS_STORE (self), FALSE);

  stmt = _mailer_store_read_stmt (self,
                                  "SELECT coalesce (uidvalidity, 0), coalesce (uidnext, 0),"
                                  "       coalesce (highestmodseq, 0),"
                                  "       (SELECT coalesce (max (uid), 0) FROM messages"
                                  "         WHERE folder_id = ?1 AND uid IS NOT NULL)"
                                  " FROM folders WHERE id = ?1",
                                  error);
  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_int64 (stmt, 1, folder_id);
  rc = sqlite3_step (stmt);
  if (rc == SQLITE_ROW)
    {
      state->uidvalidity = sqlite3_column_int64 (stmt, 0);
      state->uidnext = sqlite3_column_int64 (stmt, 1);
      state->highestmodseq = sqlite3_column_int64 (stmt, 2);
      state->max_uid = sqlite3_column_int64 (stmt, 3);
    }
  else if (rc == SQLITE_DONE)
    g_set_error (error, MAILER_STORE_ERROR, MAILER_STORE_ERROR_NOT_FOUND, "The folder no longer exists");
  else
    _mailer_store_set_error (error, _mailer_store_get_read_db (self), rc, "Reading a folder");
  sqlite3_reset (stmt);
  return rc == SQLITE_ROW;
}

/**
 * mailer_store_list_missing_bodies:
 * @since: only messages dated from then on (unix time)
 * @limit: at most this many, newest first
 *
 * Messages of an IMAP folder whose body is not stored yet, for
 * downloading ahead of reading.
 *
 * Returns: (transfer full) (element-type gint64): pairs of message id and
 *   UID, newest first
 */
GArray *
mailer_store_list_missing_bodies (MailerStore  *self,
                                  gint64        folder_id,
                                  gint64        since,
                                  guint         limit,
                                  GError      **error)
{
  g_autoptr(GArray) pairs = g_array_new (FALSE, FALSE, sizeof (gint64));
  sqlite3_stmt *stmt;
  int rc;

  g_return_val_if_fail (MAILER_IS_STORE (self), NULL);

  stmt = _mailer_store_read_stmt (self,
                                  "SELECT id, uid FROM messages"
                                  " WHERE folder_id = ?1 AND body_state = 0 AND uid IS NOT NULL AND date >= ?2"
                                  " ORDER BY date DESC, id DESC LIMIT ?3",
                                  error);
  if (stmt == NULL)
    return NULL;
  sqlite3_bind_int64 (stmt, 1, folder_id);
  sqlite3_bind_int64 (stmt, 2, since);
  sqlite3_bind_int64 (stmt, 3, limit);
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      gint64 pair[2] = { sqlite3_column_int64 (stmt, 0), sqlite3_column_int64 (stmt, 1) };

      g_array_append_vals (pairs, pair, 2);
    }
  sqlite3_reset (stmt);
  if (rc != SQLITE_DONE)
    {
      _mailer_store_set_error (error, _mailer_store_get_read_db (self), rc, "Reading a folder");
      return NULL;
    }
  return g_steal_pointer (&pairs);
}

/**
 * mailer_store_list_folder_uids:
 *
 * Returns: (transfer full) (element-type guint32): the UIDs stored for the
 *   folder, ascending
 */
GArray *
mailer_store_list_folder_uids (MailerStore  *self,
                               gint64        folder_id,
                               GError      **error)
{
  g_autoptr(GArray) uids = g_array_new (FALSE, FALSE, sizeof (guint32));
  sqlite3_stmt *stmt;
  int rc;

  g_return_val_if_fail (MAILER_IS_STORE (self), NULL);

  stmt = _mailer_store_read_stmt (self,
                                  "SELECT uid FROM messages WHERE folder_id = ?1 AND uid IS NOT NULL ORDER BY uid",
                                  error);
  if (stmt == NULL)
    return NULL;
  sqlite3_bind_int64 (stmt, 1, folder_id);
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      guint32 uid = sqlite3_column_int64 (stmt, 0);

      g_array_append_val (uids, uid);
    }
  sqlite3_reset (stmt);
  if (rc != SQLITE_DONE)
    {
      _mailer_store_set_error (error, _mailer_store_get_read_db (self), rc, "Reading a folder");
      return NULL;
    }
  return g_steal_pointer (&uids);
}

/**
 * mailer_store_count_folder_uids:
 * @uids: (nullable) (element-type guint32): count only these
 *
 * How many messages of an IMAP folder have a UID (of @uids, when given):
 * what a resync compares with the server's count, without reading every
 * UID of a large folder.
 *
 * Returns: the count, or -1 on error
 */
gint64
mailer_store_count_folder_uids (MailerStore  *self,
                                gint64        folder_id,
                                GArray       *uids,
                                GError      **error)
{
  sqlite3_stmt *stmt;
  gint64 count = 0;
  int rc = SQLITE_DONE;

  g_return_val_if_fail (MAILER_IS_STORE (self), -1);

  if (uids == NULL)
    {
      stmt = _mailer_store_read_stmt (self,
                                      "SELECT count(*) FROM messages WHERE folder_id = ?1 AND uid IS NOT NULL",
                                      error);
      if (stmt == NULL)
        return -1;
      sqlite3_bind_int64 (stmt, 1, folder_id);
      rc = sqlite3_step (stmt);
      if (rc == SQLITE_ROW)
        count = sqlite3_column_int64 (stmt, 0);
      sqlite3_reset (stmt);
      if (rc != SQLITE_ROW)
        {
          _mailer_store_set_error (error, _mailer_store_get_read_db (self), rc, "Reading a folder");
          return -1;
        }
      return count;
    }

  stmt = _mailer_store_read_stmt (self,
                                  "SELECT 1 FROM messages WHERE folder_id = ?1 AND uid = ?2",
                                  error);
  if (stmt == NULL)
    return -1;
  for (guint i = 0; i < uids->len; i++)
    {
      sqlite3_bind_int64 (stmt, 1, folder_id);
      sqlite3_bind_int64 (stmt, 2, g_array_index (uids, guint32, i));
      rc = sqlite3_step (stmt);
      sqlite3_reset (stmt);
      if (rc == SQLITE_ROW)
        count++;
      else if (rc != SQLITE_DONE)
        break;
    }
  if (rc != SQLITE_ROW && rc != SQLITE_DONE)
    {
      _mailer_store_set_error (error, _mailer_store_get_read_db (self), rc, "Reading a folder");
      return -1;
    }
  return count;
}

typedef struct
{
  gint64 folder_id;
  MailerStoreFolderState state;
  gboolean reset;
  GArray *updates;    /* MailerStoreFlagUpdate, keywords owned */
  GArray *vanished;   /* guint32 */
} ServerStateData;

static void
server_state_data_free (ServerStateData *data)
{
  if (data->updates != NULL)
    {
      for (guint i = 0; i < data->updates->len; i++)
        g_free (g_array_index (data->updates, MailerStoreFlagUpdate, i).keywords);
      g_array_unref (data->updates);
    }
  g_clear_pointer (&data->vanished, g_array_unref);
  g_free (data);
}

/* Flags the user changed here and the server has not heard of yet win
 * over what the server says, until the journal is replayed. */
static MailerMessageFlags
merge_pending_flags (MailerStore         *self,
                     gint64               message_id,
                     MailerMessageFlags   server_flags,
                     GError             **error)
{
  sqlite3_stmt *stmt = _mailer_store_write_stmt (self,
                                                 "SELECT add_flags, remove_flags FROM journal"
                                                 " WHERE message_id = ?1 AND op = 'flags' ORDER BY id",
                                                 error);
  MailerMessageFlags flags = server_flags;

  if (stmt == NULL)
    return server_flags;
  sqlite3_bind_int64 (stmt, 1, message_id);
  while (sqlite3_step (stmt) == SQLITE_ROW)
    flags = (flags | sqlite3_column_int (stmt, 0)) & ~sqlite3_column_int (stmt, 1);
  sqlite3_reset (stmt);
  return flags;
}

static gboolean
apply_server_state_write (MailerStore  *self,
                          sqlite3      *db,
                          GTask        *task,
                          GError      **error)
{
  ServerStateData *data = g_task_get_task_data (task);
  MailerStoreChanges *changes = _mailer_store_pending_changes (self);
  int rc;

  if (data->reset)
    {
      /* The mailbox was recreated: UIDs mean other messages now.  What
       * is cached goes, and so do changes queued against the old UIDs. */
      STMT_OR_FAIL (rows, self, "DELETE FROM messages WHERE folder_id = ?1 RETURNING id, date");
      STMT_OR_FAIL (journal, self, "DELETE FROM journal WHERE folder_id = ?1");

      sqlite3_bind_int64 (rows, 1, data->folder_id);
      while ((rc = sqlite3_step (rows)) == SQLITE_ROW)
        _mailer_store_add_row_change (changes->removed, sqlite3_column_int64 (rows, 0), data->folder_id,
                        sqlite3_column_int64 (rows, 1));
      sqlite3_reset (rows);
      if (rc != SQLITE_DONE)
        {
          _mailer_store_set_error (error, db, rc, "Clearing a folder");
          return FALSE;
        }
      sqlite3_bind_int64 (journal, 1, data->folder_id);
      if (!step_done (journal, "Clearing a folder", error))
        return FALSE;
    }

  if (data->vanished != NULL)
    {
      STMT_OR_FAIL (stmt, self,
                    "DELETE FROM messages WHERE folder_id = ?1 AND uid = ?2 RETURNING id, date");

      for (guint i = 0; i < data->vanished->len; i++)
        {
          sqlite3_bind_int64 (stmt, 1, data->folder_id);
          sqlite3_bind_int64 (stmt, 2, g_array_index (data->vanished, guint32, i));
          while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
            _mailer_store_add_row_change (changes->removed, sqlite3_column_int64 (stmt, 0), data->folder_id,
                            sqlite3_column_int64 (stmt, 1));
          sqlite3_reset (stmt);
          if (rc != SQLITE_DONE)
            {
              _mailer_store_set_error (error, db, rc, "Removing a message");
              return FALSE;
            }
        }
    }

  if (data->updates != NULL)
    {
      STMT_OR_FAIL (find, self, "SELECT id FROM messages WHERE folder_id = ?1 AND uid = ?2");
      STMT_OR_FAIL (update, self,
                    "UPDATE messages SET flags = ?2, keywords = coalesce (?3, keywords),"
                    "                    modseq = coalesce (?4, modseq)"
                    " WHERE id = ?1 AND (flags != ?2 OR keywords != coalesce (?3, keywords))"
                    " RETURNING date");

      for (guint i = 0; i < data->updates->len; i++)
        {
          MailerStoreFlagUpdate *u = &g_array_index (data->updates, MailerStoreFlagUpdate, i);
          gint64 id;

          sqlite3_bind_int64 (find, 1, data->folder_id);
          sqlite3_bind_int64 (find, 2, u->uid);
          rc = sqlite3_step (find);
          id = rc == SQLITE_ROW ? sqlite3_column_int64 (find, 0) : 0;
          sqlite3_reset (find);
          if (id == 0)
            continue;

          sqlite3_bind_int64 (update, 1, id);
          sqlite3_bind_int (update, 2, merge_pending_flags (self, id, u->flags, error));
          _mailer_store_bind_text (update, 3, u->keywords);
          if (u->modseq > 0)
            sqlite3_bind_int64 (update, 4, MIN (u->modseq, (guint64) G_MAXINT64));
          rc = sqlite3_step (update);
          if (rc == SQLITE_ROW)
            _mailer_store_add_row_change (changes->updated, id, data->folder_id, sqlite3_column_int64 (update, 0));
          if (!step_done (update, "Updating message flags", error))
            return FALSE;
        }
    }

  {
    STMT_OR_FAIL (stmt, self,
                  "UPDATE folders SET uidvalidity = ?2, uidnext = ?3, highestmodseq = ?4 WHERE id = ?1");

    sqlite3_bind_int64 (stmt, 1, data->folder_id);
    sqlite3_bind_int64 (stmt, 2, data->state.uidvalidity);
    sqlite3_bind_int64 (stmt, 3, data->state.uidnext);
    if (data->state.highestmodseq > 0)
      sqlite3_bind_int64 (stmt, 4, MIN (data->state.highestmodseq, (guint64) G_MAXINT64));
    if (!step_done (stmt, "Saving the folder's state", error))
      return FALSE;
  }

  add_folder_change (changes, data->folder_id);
  return TRUE;
}

/**
 * mailer_store_apply_server_state_async:
 * @state: the folder's state on the server, saved in the same transaction
 * @reset: the UIDVALIDITY changed: drop everything cached for the folder
 *   (and its pending changes) first
 * @flag_updates: (element-type MailerStoreFlagUpdate) (nullable): flags the
 *   server reported; the store takes ownership of the keywords strings
 * @vanished: (element-type guint32) (nullable): UIDs expunged on the server
 *
 * Applies what an IMAP resync learned, in one transaction.  Flag changes
 * still waiting in the journal are kept on top of the server's flags.
 */
void
mailer_store_apply_server_state_async (MailerStore                  *self,
                                       gint64                        folder_id,
                                       const MailerStoreFolderState *state,
                                       gboolean                      reset,
                                       GArray                       *flag_updates,
                                       GArray                       *vanished,
                                       GCancellable                 *cancellable,
                                       GAsyncReadyCallback           callback,
                                       gpointer                      user_data)
{
  g_autoptr(GTask) task = NULL;
  ServerStateData *data;

  g_return_if_fail (MAILER_IS_STORE (self));
  g_return_if_fail (state != NULL);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, mailer_store_apply_server_state_async);

  data = g_new0 (ServerStateData, 1);
  data->folder_id = folder_id;
  data->state = *state;
  data->reset = reset;
  data->updates = flag_updates ? g_array_ref (flag_updates) : NULL;
  data->vanished = vanished ? g_array_ref (vanished) : NULL;
  g_task_set_task_data (task, data, (GDestroyNotify) server_state_data_free);
  _mailer_store_queue_write (self, task, apply_server_state_write);
}

gboolean
mailer_store_apply_server_state_finish (MailerStore   *self,
                                        GAsyncResult  *result,
                                        GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

typedef struct
{
  gint64 message_id;
  guint32 uid;
} UidData;

static gboolean
set_message_uid_write (MailerStore  *self,
                       sqlite3      *db,
                       GTask        *task,
                       GError      **error)
{
  UidData *data = g_task_get_task_data (task);
  STMT_OR_FAIL (stmt, self, "UPDATE messages SET uid = ?2 WHERE id = ?1");

  sqlite3_bind_int64 (stmt, 1, data->message_id);
  sqlite3_bind_int64 (stmt, 2, data->uid);
  return step_done (stmt, "Saving a message's server id", error);
}

/**
 * mailer_store_set_message_uid_async:
 *
 * Records the UID the server gave a message moved or appended here
 * (UIDPLUS COPYUID / APPENDUID).
 */
void
mailer_store_set_message_uid_async (MailerStore         *self,
                                    gint64               message_id,
                                    guint32              uid,
                                    GCancellable        *cancellable,
                                    GAsyncReadyCallback  callback,
                                    gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  UidData *data;

  g_return_if_fail (MAILER_IS_STORE (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, mailer_store_set_message_uid_async);
  data = g_new0 (UidData, 1);
  data->message_id = message_id;
  data->uid = uid;
  g_task_set_task_data (task, data, g_free);
  _mailer_store_queue_write (self, task, set_message_uid_write);
}

gboolean
mailer_store_set_message_uid_finish (MailerStore   *self,
                                     GAsyncResult  *result,
                                     GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

typedef struct
{
  gint64 folder_id;
  GArray *changes;      /* MailerStoreUidModseq */
} ModseqData;

static void
modseq_data_free (ModseqData *data)
{
  g_array_unref (data->changes);
  g_free (data);
}

static gboolean
note_modseqs_write (MailerStore  *self,
                    sqlite3      *db,
                    GTask        *task,
                    GError      **error)
{
  ModseqData *data = g_task_get_task_data (task);
  STMT_OR_FAIL (message, self,
                "UPDATE messages SET modseq = ?3"
                " WHERE folder_id = ?1 AND uid = ?2 AND (modseq IS NULL OR modseq < ?3)"
                " RETURNING id");
  STMT_OR_FAIL (journal, self,
                "UPDATE journal SET modseq = ?2 WHERE message_id = ?1 AND modseq < ?2");

  for (guint i = 0; i < data->changes->len; i++)
    {
      MailerStoreUidModseq *change = &g_array_index (data->changes, MailerStoreUidModseq, i);
      gint64 id;
      int rc;

      sqlite3_bind_int64 (message, 1, data->folder_id);
      sqlite3_bind_int64 (message, 2, change->uid);
      sqlite3_bind_int64 (message, 3, MIN (change->modseq, (guint64) G_MAXINT64));
      rc = sqlite3_step (message);
      if (rc == SQLITE_DONE)
        {
          sqlite3_reset (message);
          continue;
        }
      if (rc != SQLITE_ROW)
        {
          _mailer_store_set_error (error, db, rc, "Saving a message's mod-sequence");
          sqlite3_reset (message);
          return FALSE;
        }
      id = sqlite3_column_int64 (message, 0);
      if (!step_done (message, "Saving a message's mod-sequence", error))
        return FALSE;

      sqlite3_bind_int64 (journal, 1, id);
      sqlite3_bind_int64 (journal, 2, MIN (change->modseq, (guint64) G_MAXINT64));
      if (!step_done (journal, "Saving a message's mod-sequence", error))
        return FALSE;
    }
  return TRUE;
}

/**
 * mailer_store_note_own_modseqs_async:
 * @changes: (element-type MailerStoreUidModseq): what the server answered
 *   to changes replayed from the journal
 *
 * Records the mod-sequences the server gave this side's own changes, on
 * the messages and on the changes still waiting for them in the journal:
 * a later change of the same message was made after this one, so knowing
 * of it, and must not count it as another client's (UNCHANGEDSINCE).
 */
void
mailer_store_note_own_modseqs_async (MailerStore         *self,
                                     gint64               folder_id,
                                     GArray              *changes,
                                     GCancellable        *cancellable,
                                     GAsyncReadyCallback  callback,
                                     gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  ModseqData *data;

  g_return_if_fail (MAILER_IS_STORE (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, mailer_store_note_own_modseqs_async);
  data = g_new0 (ModseqData, 1);
  data->folder_id = folder_id;
  data->changes = g_array_ref (changes);
  g_task_set_task_data (task, data, (GDestroyNotify) modseq_data_free);
  _mailer_store_queue_write (self, task, note_modseqs_write);
}

gboolean
mailer_store_note_own_modseqs_finish (MailerStore   *self,
                                      GAsyncResult  *result,
                                      GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

/* The journal */

/**
 * mailer_store_list_journal:
 *
 * Returns: (transfer full) (element-type MailerStoreJournalEntry): the
 *   account's pending local changes, oldest first
 */
GPtrArray *
mailer_store_list_journal (MailerStore  *self,
                           gint64        account_id,
                           GError      **error)
{
  g_autoptr(GPtrArray) entries = g_ptr_array_new_with_free_func ((GDestroyNotify) mailer_store_journal_entry_free);
  sqlite3_stmt *stmt;
  int rc;

  g_return_val_if_fail (MAILER_IS_STORE (self), NULL);

  stmt = _mailer_store_read_stmt (self,
                                  "SELECT id, account_id, folder_id, message_id, uid, uidl, op,"
                                  "       add_flags, remove_flags, dest_folder_id, created, modseq"
                                  " FROM journal WHERE account_id = ?1 ORDER BY id",
                                  error);
  if (stmt == NULL)
    return NULL;
  sqlite3_bind_int64 (stmt, 1, account_id);
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      MailerStoreJournalEntry *entry = g_new0 (MailerStoreJournalEntry, 1);
      const char *op = (const char *) sqlite3_column_text (stmt, 6);

      entry->id = sqlite3_column_int64 (stmt, 0);
      entry->account_id = sqlite3_column_int64 (stmt, 1);
      entry->folder_id = sqlite3_column_int64 (stmt, 2);
      entry->message_id = sqlite3_column_int64 (stmt, 3);
      entry->uid = sqlite3_column_int64 (stmt, 4);
      entry->uidl = g_strdup ((const char *) sqlite3_column_text (stmt, 5));
      entry->op = g_str_equal (op, "flags") ? MAILER_JOURNAL_OP_FLAGS
                : g_str_equal (op, "delete") ? MAILER_JOURNAL_OP_DELETE
                : g_str_equal (op, "append") ? MAILER_JOURNAL_OP_APPEND
                : MAILER_JOURNAL_OP_MOVE;
      entry->add_flags = sqlite3_column_int (stmt, 7);
      entry->remove_flags = sqlite3_column_int (stmt, 8);
      entry->dest_folder_id = sqlite3_column_int64 (stmt, 9);
      entry->created = sqlite3_column_int64 (stmt, 10);
      entry->modseq = sqlite3_column_int64 (stmt, 11);
      g_ptr_array_add (entries, entry);
    }
  sqlite3_reset (stmt);
  if (rc != SQLITE_DONE)
    {
      _mailer_store_set_error (error, _mailer_store_get_read_db (self), rc, "Reading pending changes");
      return NULL;
    }
  return g_steal_pointer (&entries);
}

static gboolean
remove_journal_write (MailerStore  *self,
                      sqlite3      *db,
                      GTask        *task,
                      GError      **error)
{
  ChangeData *data = g_task_get_task_data (task);
  STMT_OR_FAIL (stmt, self, "DELETE FROM journal WHERE id = ?1");

  for (guint i = 0; i < data->ids->len; i++)
    {
      sqlite3_bind_int64 (stmt, 1, g_array_index (data->ids, gint64, i));
      if (!step_done (stmt, "Clearing a replayed change", error))
        return FALSE;
    }
  return TRUE;
}

/**
 * mailer_store_remove_journal_async:
 * @entry_ids: (element-type gint64): journal entries the server has applied
 */
void
mailer_store_remove_journal_async (MailerStore         *self,
                                   GArray              *entry_ids,
                                   GCancellable        *cancellable,
                                   GAsyncReadyCallback  callback,
                                   gpointer             user_data)
{
  queue_change (self, entry_ids, 0, 0, 0, FALSE, remove_journal_write,
                mailer_store_remove_journal_async, cancellable, callback, user_data);
}

gboolean
mailer_store_remove_journal_finish (MailerStore   *self,
                                    GAsyncResult  *result,
                                    GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}
