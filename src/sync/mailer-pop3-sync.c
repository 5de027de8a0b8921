/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * MailerPop3Sync: one download run of a POP3 account into the store.
 *
 * The order of things is what keeps mail safe:
 *
 *  1. list the server's messages with their UIDLs;
 *  2. download the ones whose UIDL the store has not recorded, in windows,
 *     each window committed to the store (raw message and UIDL record in
 *     one transaction) while the next one downloads;
 *  3. only then, per the account's policy, DELE messages the store holds
 *     durably: all of them (no copy left on the server), those older than
 *     the account's keep-days, and those the user deleted here;
 *  4. QUIT, which is when the server really removes them.
 *
 * A cut connection or a crash anywhere leaves every message either on the
 * server or committed here, and a committed UIDL is never downloaded again.
 */
#include "config.h"

#include <string.h>

#include "mailer-pop3-client.h"
#include "mailer-pop3-sync.h"

/* A window of downloads: at most this many messages or bytes. */
#define WINDOW_MESSAGES 100
#define WINDOW_BYTES (8 * 1024 * 1024)
/* Windows downloaded and not yet committed, at most. */
#define MAX_COMMITTING 4
/* With a size limit, how much of a large message is fetched. */
#define PARTIAL_LINES 40

struct _MailerPop3Sync
{
  GObject parent_instance;

  MailerStore *store;
  MailerAccount *account;
  gboolean pipelining;
};

G_DEFINE_FINAL_TYPE (MailerPop3Sync, mailer_pop3_sync, G_TYPE_OBJECT)

static void
mailer_pop3_sync_finalize (GObject *object)
{
  MailerPop3Sync *self = (MailerPop3Sync *)object;

  g_clear_object (&self->store);
  g_clear_object (&self->account);

  G_OBJECT_CLASS (mailer_pop3_sync_parent_class)->finalize (object);
}

static void
mailer_pop3_sync_class_init (MailerPop3SyncClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = mailer_pop3_sync_finalize;
}

static void
mailer_pop3_sync_init (MailerPop3Sync *self)
{
  self->pipelining = TRUE;
}

MailerPop3Sync *
mailer_pop3_sync_new (MailerStore   *store,
                      MailerAccount *account)
{
  MailerPop3Sync *self;

  g_return_val_if_fail (MAILER_IS_STORE (store), NULL);
  g_return_val_if_fail (MAILER_IS_ACCOUNT (account), NULL);
  g_return_val_if_fail (mailer_account_get_kind (account) == MAILER_ACCOUNT_KIND_POP3, NULL);

  self = g_object_new (MAILER_TYPE_POP3_SYNC, NULL);
  self->store = g_object_ref (store);
  self->account = g_object_ref (account);
  return self;
}

void
mailer_pop3_sync_set_pipelining (MailerPop3Sync *self,
                                 gboolean        allowed)
{
  g_return_if_fail (MAILER_IS_POP3_SYNC (self));
  self->pipelining = allowed;
}

typedef struct
{
  MailerPop3Client *client;
  char *password;
  gint64 folder_id;
  GPtrArray *on_server;        /* MailerPop3Message */
  GHashTable *known;           /* uidl -> MailerStorePopUidl */
  GPtrArray *wanted;           /* MailerPop3Message to download, in order */
  guint next;                  /* first of wanted not yet asked for */
  gboolean downloading;
  guint committing;            /* windows being written to the store */
  GHashTable *committed;       /* uidl (owned) -> partial (GINT_TO_POINTER) */
  GError *error;               /* the first failure; the run stops */
  MailerPop3SyncResult result;
} RunData;

static void
run_data_free (RunData *data)
{
  g_clear_object (&data->client);
  if (data->password != NULL)
    memset (data->password, 0, strlen (data->password));
  g_free (data->password);
  g_clear_pointer (&data->on_server, g_ptr_array_unref);
  g_clear_pointer (&data->known, g_hash_table_unref);
  g_clear_pointer (&data->wanted, g_ptr_array_unref);
  g_clear_pointer (&data->committed, g_hash_table_unref);
  g_clear_error (&data->error);
  g_free (data);
}

static void
set_status (MailerPop3Sync        *self,
            MailerConnectionState  state,
            const char            *message)
{
  mailer_account_set_connection_state (self->account, state);
  mailer_account_set_status_message (self->account, message);
}

static void
fail (GTask  *task,
      GError *error)
{
  MailerPop3Sync *self = g_task_get_source_object (task);

  set_status (self, MAILER_CONNECTION_STATE_ERROR, error->message);
  mailer_account_set_progress (self->account, -1);
  g_task_return_error (task, error);
}

static void
update_progress (MailerPop3Sync *self,
                 RunData        *data)
{
  g_autofree char *status = NULL;
  guint total = data->wanted->len;

  if (total == 0)
    return;
  mailer_account_set_progress (self->account, (double) data->result.n_downloaded / total);
  /* Translators: shown while a POP3 account downloads mail. */
  status = g_strdup_printf ("Downloading %u of %u", MIN (data->result.n_downloaded + 1, total), total);
  mailer_account_set_status_message (self->account, status);
}

/* Step 4: QUIT */

static void
quit_cb (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  MailerPop3Sync *self = g_task_get_source_object (task);
  RunData *data = g_task_get_task_data (task);
  GError *error = NULL;

  if (!mailer_pop3_client_quit_finish (MAILER_POP3_CLIENT (source), result, &error))
    {
      /* Deletions are undone by the server without +OK to QUIT; mail is
       * safe either way, and the next run deletes again. */
      data->result.n_deleted = 0;
      fail (task, error);
      return;
    }

  set_status (self, MAILER_CONNECTION_STATE_ONLINE, NULL);
  mailer_account_set_progress (self->account, -1);
  g_task_return_boolean (task, TRUE);
}

static void
quit (GTask *task)
{
  RunData *data = g_task_get_task_data (task);

  mailer_pop3_client_quit_async (data->client, g_task_get_cancellable (task), quit_cb, g_object_ref (task));
}

/* Step 3: DELE, per the account's policy */

static void
dele_cb (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  GError *error = NULL;

  if (!mailer_pop3_client_delete_finish (MAILER_POP3_CLIENT (source), result, &error))
    {
      fail (task, error);
      return;
    }
  quit (task);
}

static gboolean
should_delete (MailerPop3Sync *self,
               RunData        *data,
               const char     *uidl,
               gint64          now)
{
  MailerStorePopUidl *known = g_hash_table_lookup (data->known, uidl);
  gpointer partial = NULL;
  gboolean committed_now = g_hash_table_lookup_extended (data->committed, uidl, NULL, &partial);

  /* Never delete what is not durably here, nor the rest of a message
   * downloaded in part. */
  if (!committed_now && known == NULL)
    return FALSE;
  if (committed_now ? GPOINTER_TO_INT (partial) : known->partial)
    return FALSE;

  if (!mailer_account_get_leave_on_server (self->account))
    return TRUE;
  if (known != NULL && known->deleted_locally && mailer_account_get_delete_when_deleted (self->account))
    return TRUE;
  if (mailer_account_get_keep_days (self->account) > 0)
    {
      gint64 downloaded = known ? known->downloaded : now;

      return now - downloaded >= (gint64) mailer_account_get_keep_days (self->account) * 24 * 3600;
    }
  return FALSE;
}

static void
delete_from_server (GTask *task)
{
  MailerPop3Sync *self = g_task_get_source_object (task);
  RunData *data = g_task_get_task_data (task);
  g_autoptr(GArray) numbers = g_array_new (FALSE, FALSE, sizeof (guint));
  g_autoptr(GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;

  for (guint i = 0; i < data->on_server->len; i++)
    {
      MailerPop3Message *message = g_ptr_array_index (data->on_server, i);

      /* Only the first message with an id was downloaded (see
       * listed_cb); the others with the same id are not here. */
      if (!g_hash_table_add (seen, message->uidl))
        continue;
      if (should_delete (self, data, message->uidl, now))
        g_array_append_val (numbers, message->number);
    }

  data->result.n_deleted = numbers->len;
  if (numbers->len == 0)
    {
      quit (task);
      return;
    }
  mailer_pop3_client_delete_async (data->client, numbers, g_task_get_cancellable (task),
                                   dele_cb, g_object_ref (task));
}

/* Step 2: download, commit */

static void download_next (GTask *task);

static void
maybe_done_downloading (GTask *task)
{
  RunData *data = g_task_get_task_data (task);

  if (data->downloading || data->committing > 0)
    return;
  if (data->error != NULL)
    {
      fail (task, g_steal_pointer (&data->error));
      return;
    }
  if (data->next < data->wanted->len)
    return;
  delete_from_server (task);
}

typedef struct
{
  GTask *task;
  GPtrArray *uidls;     /* char *, of the window */
  GArray *partial;      /* gboolean per message */
} CommitData;

static void
commit_cb (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  CommitData *commit = user_data;
  g_autoptr(GTask) task = commit->task;
  MailerPop3Sync *self = g_task_get_source_object (task);
  RunData *data = g_task_get_task_data (task);
  g_autoptr(GArray) ids = NULL;
  GError *error = NULL;

  ids = mailer_store_add_messages_finish (MAILER_STORE (source), result, &error);
  data->committing--;
  if (ids == NULL)
    {
      /* Disk full and the like: stop; nothing of this window is deleted
       * from the server. */
      if (data->error == NULL)
        data->error = error;
      else
        g_error_free (error);
    }
  else
    {
      for (guint i = 0; i < commit->uidls->len; i++)
        g_hash_table_insert (data->committed, g_strdup (commit->uidls->pdata[i]),
                             GINT_TO_POINTER (g_array_index (commit->partial, gboolean, i)));
      for (guint i = 0; i < ids->len; i++)
        data->result.newest_id = MAX (data->result.newest_id, g_array_index (ids, gint64, i));
      data->result.n_downloaded += commit->uidls->len;
      update_progress (self, data);
    }

  g_ptr_array_unref (commit->uidls);
  g_array_unref (commit->partial);
  g_free (commit);

  if (data->error == NULL && !data->downloading)
    download_next (task);
  maybe_done_downloading (task);
}

typedef struct
{
  GTask *task;
  guint first;          /* index into wanted */
  guint n;
  gboolean partial;
} WindowData;

static void
retrieved_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  WindowData *window = user_data;
  g_autoptr(GTask) task = window->task;
  MailerPop3Sync *self = g_task_get_source_object (task);
  RunData *data = g_task_get_task_data (task);
  g_autoptr(GPtrArray) raws = NULL;
  g_autoptr(GPtrArray) messages = NULL;
  CommitData *commit;
  GError *error = NULL;
  guint first = window->first, n = window->n;
  gboolean partial = window->partial;

  g_free (window);
  data->downloading = FALSE;

  raws = mailer_pop3_client_retrieve_finish (MAILER_POP3_CLIENT (source), result, &error);
  if (raws == NULL)
    {
      if (data->error == NULL)
        data->error = error;
      else
        g_error_free (error);
      maybe_done_downloading (task);
      return;
    }

  messages = g_ptr_array_new_with_free_func ((GDestroyNotify) mailer_store_new_message_free);
  commit = g_new0 (CommitData, 1);
  commit->task = g_object_ref (task);
  commit->uidls = g_ptr_array_new_with_free_func (g_free);
  commit->partial = g_array_new (FALSE, FALSE, sizeof (gboolean));

  for (guint i = 0; i < n; i++)
    {
      MailerPop3Message *message = g_ptr_array_index (data->wanted, first + i);
      MailerStoreNewMessage *new_message = mailer_store_new_message_new ();

      new_message->raw = g_bytes_ref (g_ptr_array_index (raws, i));
      new_message->uidl = g_strdup (message->uidl);
      new_message->size = message->size;
      new_message->partial = partial;
      /* Durable with its UIDL first; the text is read in the background
       * (the most expensive part of storing a message). */
      new_message->defer_text = TRUE;
      new_message->internal_date = g_get_real_time () / G_USEC_PER_SEC;
      data->result.bytes += g_bytes_get_size (new_message->raw);
      g_ptr_array_add (messages, new_message);
      g_ptr_array_add (commit->uidls, g_strdup (message->uidl));
      g_array_append_val (commit->partial, partial);
    }

  /* The next window downloads while this one is written. */
  data->committing++;
  mailer_store_add_messages_async (self->store, data->folder_id, messages,
                                   g_task_get_cancellable (task), commit_cb, commit);
  download_next (task);
}

static void
download_next (GTask *task)
{
  MailerPop3Sync *self = g_task_get_source_object (task);
  RunData *data = g_task_get_task_data (task);
  g_autoptr(GArray) numbers = NULL;
  guint64 size_limit = mailer_account_get_size_limit (self->account);
  guint64 bytes = 0;
  WindowData *window;
  gboolean partial;

  if (data->downloading || data->error != NULL || data->next >= data->wanted->len)
    return;
  /* Keep memory flat: a few windows in the store's hands at a time,
   * enough that it parses one while it writes another. */
  if (data->committing >= MAX_COMMITTING)
    return;

  numbers = g_array_new (FALSE, FALSE, sizeof (guint));
  window = g_new0 (WindowData, 1);
  window->task = g_object_ref (task);
  window->first = data->next;

  /* A window holds whole messages or parts of large ones, not both. */
  partial = size_limit > 0 &&
            (guint64) ((MailerPop3Message *) data->wanted->pdata[data->next])->size > size_limit;
  while (data->next < data->wanted->len && numbers->len < WINDOW_MESSAGES)
    {
      MailerPop3Message *message = g_ptr_array_index (data->wanted, data->next);
      gboolean this_partial = size_limit > 0 && (guint64) message->size > size_limit;

      if (this_partial != partial || (numbers->len > 0 && bytes + message->size > WINDOW_BYTES))
        break;
      g_array_append_val (numbers, message->number);
      bytes += message->size;
      data->next++;
    }
  window->n = numbers->len;
  window->partial = partial;

  data->downloading = TRUE;
  mailer_pop3_client_retrieve_async (data->client, numbers, partial ? PARTIAL_LINES : 0,
                                     g_task_get_cancellable (task), retrieved_cb, window);
}

/* Step 1: list */

static void
listed_cb (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  MailerPop3Sync *self = g_task_get_source_object (task);
  RunData *data = g_task_get_task_data (task);
  g_autoptr(GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
  GError *error = NULL;

  data->on_server = mailer_pop3_client_list_finish (MAILER_POP3_CLIENT (source), result, &error);
  if (data->on_server == NULL)
    {
      fail (task, error);
      return;
    }
  data->known = mailer_store_list_pop_uidls (self->store, mailer_account_get_id (self->account), &error);
  if (data->known == NULL)
    {
      fail (task, error);
      return;
    }

  data->result.n_on_server = data->on_server->len;
  /* Nothing downloaded before: what comes now is the mailbox, not news. */
  data->result.first_run = g_hash_table_size (data->known) == 0;
  data->wanted = g_ptr_array_new ();
  for (guint i = 0; i < data->on_server->len; i++)
    {
      MailerPop3Message *message = g_ptr_array_index (data->on_server, i);

      /* Two messages with one id (identical headers, on a server without
       * UIDL): the first is downloaded, the other is left alone. */
      if (!g_hash_table_add (seen, message->uidl))
        continue;
      if (!g_hash_table_contains (data->known, message->uidl))
        g_ptr_array_add (data->wanted, message);
    }

  set_status (self, MAILER_CONNECTION_STATE_SYNCING, NULL);
  update_progress (self, data);
  if (data->wanted->len == 0)
    {
      delete_from_server (task);
      return;
    }
  download_next (task);
}

static void
logged_in_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  RunData *data = g_task_get_task_data (task);
  GError *error = NULL;

  if (!mailer_pop3_client_login_finish (MAILER_POP3_CLIENT (source), result, &error))
    {
      fail (task, error);
      return;
    }
  mailer_pop3_client_list_async (data->client, g_task_get_cancellable (task), listed_cb, g_object_ref (task));
}

static void
connected_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  MailerPop3Sync *self = g_task_get_source_object (task);
  RunData *data = g_task_get_task_data (task);
  const char *username = mailer_account_get_username (self->account);
  GError *error = NULL;

  if (!mailer_pop3_client_connect_finish (MAILER_POP3_CLIENT (source), result, &error))
    {
      fail (task, error);
      return;
    }
  if (username == NULL || username[0] == '\0')
    username = mailer_account_get_address (self->account);
  mailer_pop3_client_login_async (data->client, username ? username : "", data->password,
                                  g_task_get_cancellable (task), logged_in_cb, g_object_ref (task));
}

static void
inbox_saved_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autoptr(MailerFolder) folder = g_object_get_data (G_OBJECT (task), "inbox");
  MailerPop3Sync *self = g_task_get_source_object (task);
  RunData *data = g_task_get_task_data (task);
  g_autoptr(MailerConnection) connection = NULL;
  GError *error = NULL;

  g_object_steal_data (G_OBJECT (task), "inbox");
  if (!mailer_store_save_folder_finish (MAILER_STORE (source), result, &error))
    {
      fail (task, error);
      return;
    }
  data->folder_id = mailer_folder_get_id (folder);

  connection = mailer_connection_new (mailer_account_get_host (self->account),
                                      mailer_account_get_port (self->account),
                                      mailer_account_get_security (self->account));
  mailer_connection_set_pinned_certificate (connection, mailer_account_get_pinned_certificate (self->account));
  data->client = mailer_pop3_client_new (connection);
  mailer_pop3_client_set_pipelining (data->client, self->pipelining);

  set_status (self, MAILER_CONNECTION_STATE_CONNECTING, NULL);
  mailer_pop3_client_connect_async (data->client, g_task_get_cancellable (task), connected_cb, g_object_ref (task));
}

/**
 * mailer_pop3_sync_run_async:
 * @password: the account's password (from the keyring)
 *
 * Downloads new mail into the account's inbox and applies the account's
 * policy for the copies on the server.  The account's connection state,
 * status message and progress follow the run.
 */
void
mailer_pop3_sync_run_async (MailerPop3Sync      *self,
                            const char          *password,
                            GCancellable        *cancellable,
                            GAsyncReadyCallback  callback,
                            gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  MailerFolder *inbox;
  RunData *data;

  g_return_if_fail (MAILER_IS_POP3_SYNC (self));
  g_return_if_fail (password != NULL);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, mailer_pop3_sync_run_async);

  data = g_new0 (RunData, 1);
  data->password = g_strdup (password);
  data->committed = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_task_set_task_data (task, data, (GDestroyNotify) run_data_free);

  /* The local inbox the mail goes to; saving is idempotent. */
  inbox = mailer_folder_new (mailer_account_get_id (self->account), "INBOX");
  mailer_folder_set_role (inbox, MAILER_FOLDER_ROLE_INBOX);
  g_object_set_data (G_OBJECT (task), "inbox", inbox);
  mailer_store_save_folder_async (self->store, inbox, cancellable, inbox_saved_cb, g_object_ref (task));
}

gboolean
mailer_pop3_sync_run_finish (MailerPop3Sync        *self,
                             GAsyncResult          *result,
                             MailerPop3SyncResult  *out_result,
                             GError               **error)
{
  RunData *data;

  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);

  data = g_task_get_task_data (G_TASK (result));
  if (out_result != NULL)
    *out_result = data->result;
  return g_task_propagate_boolean (G_TASK (result), error);
}

/* Downloading the rest of a message fetched in part */

typedef struct
{
  MailerPop3Client *client;
  char *password;
  gint64 message_id;
  char *uidl;
} RestData;

static void
rest_data_free (RestData *data)
{
  g_clear_object (&data->client);
  if (data->password != NULL)
    memset (data->password, 0, strlen (data->password));
  g_free (data->password);
  g_free (data->uidl);
  g_free (data);
}

static void
rest_quit_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;

  /* The message is stored already; a failed goodbye changes nothing. */
  mailer_pop3_client_quit_finish (MAILER_POP3_CLIENT (source), result, NULL);
  g_task_return_boolean (task, TRUE);
}

static void
rest_stored_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  RestData *data = g_task_get_task_data (task);
  GError *error = NULL;

  if (!mailer_store_set_raw_finish (MAILER_STORE (source), result, &error))
    {
      g_task_return_error (task, error);
      return;
    }
  mailer_pop3_client_quit_async (data->client, NULL, rest_quit_cb, g_object_ref (task));
}

static void
rest_retrieved_cb (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  MailerPop3Sync *self = g_task_get_source_object (task);
  RestData *data = g_task_get_task_data (task);
  g_autoptr(GPtrArray) raws = NULL;
  GError *error = NULL;

  raws = mailer_pop3_client_retrieve_finish (MAILER_POP3_CLIENT (source), result, &error);
  if (raws == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  mailer_store_set_raw_async (self->store, data->message_id, g_ptr_array_index (raws, 0),
                              g_task_get_cancellable (task), rest_stored_cb, g_object_ref (task));
}

static void
rest_listed_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  RestData *data = g_task_get_task_data (task);
  g_autoptr(GPtrArray) messages = NULL;
  g_autoptr(GArray) numbers = g_array_new (FALSE, FALSE, sizeof (guint));
  GError *error = NULL;

  messages = mailer_pop3_client_list_finish (MAILER_POP3_CLIENT (source), result, &error);
  if (messages == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  for (guint i = 0; i < messages->len; i++)
    {
      MailerPop3Message *message = g_ptr_array_index (messages, i);

      if (g_strcmp0 (message->uidl, data->uidl) == 0)
        {
          g_array_append_val (numbers, message->number);
          break;
        }
    }
  if (numbers->len == 0)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                               "The rest of this message is no longer on the server");
      mailer_pop3_client_quit_async (data->client, NULL, NULL, NULL);
      return;
    }
  mailer_pop3_client_retrieve_async (data->client, numbers, 0, g_task_get_cancellable (task),
                                     rest_retrieved_cb, g_object_ref (task));
}

static void
rest_logged_in_cb (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  RestData *data = g_task_get_task_data (task);
  GError *error = NULL;

  if (!mailer_pop3_client_login_finish (MAILER_POP3_CLIENT (source), result, &error))
    {
      g_task_return_error (task, error);
      return;
    }
  mailer_pop3_client_list_async (data->client, g_task_get_cancellable (task), rest_listed_cb, g_object_ref (task));
}

static void
rest_connected_cb (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  MailerPop3Sync *self = g_task_get_source_object (task);
  RestData *data = g_task_get_task_data (task);
  const char *username = mailer_account_get_username (self->account);
  GError *error = NULL;

  if (!mailer_pop3_client_connect_finish (MAILER_POP3_CLIENT (source), result, &error))
    {
      g_task_return_error (task, error);
      return;
    }
  if (username == NULL || username[0] == '\0')
    username = mailer_account_get_address (self->account);
  mailer_pop3_client_login_async (data->client, username ? username : "", data->password,
                                  g_task_get_cancellable (task), rest_logged_in_cb, g_object_ref (task));
}

/**
 * mailer_pop3_sync_download_rest_async:
 * @message_id: a message downloaded in part (over the size limit)
 *
 * Downloads the whole of @message_id from the server and stores it in
 * place of its start.
 */
void
mailer_pop3_sync_download_rest_async (MailerPop3Sync      *self,
                                      const char          *password,
                                      gint64               message_id,
                                      GCancellable        *cancellable,
                                      GAsyncReadyCallback  callback,
                                      gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(MailerConnection) connection = NULL;
  RestData *data;
  GError *error = NULL;

  g_return_if_fail (MAILER_IS_POP3_SYNC (self));
  g_return_if_fail (password != NULL);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, mailer_pop3_sync_download_rest_async);

  data = g_new0 (RestData, 1);
  data->password = g_strdup (password);
  data->message_id = message_id;
  g_task_set_task_data (task, data, (GDestroyNotify) rest_data_free);

  if (!mailer_store_get_server_ids (self->store, message_id, NULL, NULL, &data->uidl, &error))
    {
      g_task_return_error (task, error);
      return;
    }
  if (data->uidl == NULL)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                               "This message was not downloaded from a POP3 server");
      return;
    }

  connection = mailer_connection_new (mailer_account_get_host (self->account),
                                      mailer_account_get_port (self->account),
                                      mailer_account_get_security (self->account));
  mailer_connection_set_pinned_certificate (connection, mailer_account_get_pinned_certificate (self->account));
  data->client = mailer_pop3_client_new (connection);
  mailer_pop3_client_connect_async (data->client, cancellable, rest_connected_cb, g_object_ref (task));
}

gboolean
mailer_pop3_sync_download_rest_finish (MailerPop3Sync  *self,
                                       GAsyncResult    *result,
                                       GError         **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}
