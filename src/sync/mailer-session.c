/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * MailerSession: what the UI and the command line talk to.  It opens the
 * store of one data directory, exposes its accounts as a GListModel, and
 * keeps the store and the keyring consistent when accounts come and go.
 * The protocol drivers that sync each account hang off it.
 */
#include "config.h"

#include <glib/gi18n.h>

#include "mailer-account-check.h"
#include "mailer-imap-sync.h"
#include "mailer-pop3-sync.h"
#include "mailer-secrets.h"
#include "mailer-pop3-parser.h"
#include "mailer-session.h"

struct _MailerSession
{
  GObject parent_instance;

  MailerStore *store;
  GListStore *accounts;
  GHashTable *folders;     /* id -> MailerFolder */
  gulong changed_id;
  GHashTable *running;     /* MailerAccount -> GCancellable of its sync */
  GHashTable *timers;      /* MailerAccount -> GSource id of its periodic check */
  GHashTable *imap;        /* MailerAccount -> MailerImapSync, kept for push */
  gint64 watched_folder;   /* the folder open in the window, or 0 */
  gboolean push;
  gboolean periodic;
  GNetworkMonitor *monitor;
  gboolean online;
};

enum {
  PROP_0,
  PROP_ONLINE,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

G_DEFINE_FINAL_TYPE (MailerSession, mailer_session, G_TYPE_OBJECT)

enum {
  SIGNAL_NEW_MAIL,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void
mailer_session_dispose (GObject *object)
{
  MailerSession *self = (MailerSession *)object;

  if (self->store != NULL)
    g_clear_signal_handler (&self->changed_id, self->store);
  if (self->monitor != NULL)
    g_signal_handlers_disconnect_by_data (self->monitor, self);
  g_clear_object (&self->monitor);
  mailer_session_set_periodic_checks (self, FALSE);
  if (self->running != NULL)
    {
      GHashTableIter iter;
      gpointer cancellable;

      g_hash_table_iter_init (&iter, self->running);
      while (g_hash_table_iter_next (&iter, NULL, &cancellable))
        g_cancellable_cancel (cancellable);
    }
  g_clear_pointer (&self->running, g_hash_table_unref);
  g_clear_pointer (&self->timers, g_hash_table_unref);
  if (self->imap != NULL)
    {
      GHashTableIter iter;
      gpointer sync;

      g_hash_table_iter_init (&iter, self->imap);
      while (g_hash_table_iter_next (&iter, NULL, &sync))
        mailer_imap_sync_stop_push (sync);
    }
  g_clear_pointer (&self->imap, g_hash_table_unref);
  g_clear_object (&self->accounts);
  g_clear_pointer (&self->folders, g_hash_table_unref);
  g_clear_object (&self->store);

  G_OBJECT_CLASS (mailer_session_parent_class)->dispose (object);
}

static void
mailer_session_get_property (GObject    *object,
                             guint       prop_id,
                             GValue     *value,
                             GParamSpec *pspec)
{
  MailerSession *self = MAILER_SESSION (object);

  switch (prop_id)
    {
    case PROP_ONLINE:
      g_value_set_boolean (value, self->online);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
mailer_session_class_init (MailerSessionClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = mailer_session_dispose;
  object_class->get_property = mailer_session_get_property;

  /* Whether the network is up, as the network monitor says: when it is
   * not, no check tries servers it cannot reach, and the UI says so. */
  properties[PROP_ONLINE] =
    g_param_spec_boolean ("online", NULL, NULL, TRUE,
                          G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * MailerSession::new-mail:
   * @account: whose inbox got mail
   * @n: how many messages
   * @newest_id: the store's id of one of them, the last stored
   *
   * Mail arrived in an inbox synced (or downloaded from) before: not for
   * the first sync of an account.  For notifications.
   */
  signals[SIGNAL_NEW_MAIL] =
    g_signal_new ("new-mail", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL,
                  G_TYPE_NONE, 3, MAILER_TYPE_ACCOUNT, G_TYPE_UINT, G_TYPE_INT64);
}

static void
mailer_session_init (MailerSession *self)
{
  self->accounts = g_list_store_new (MAILER_TYPE_ACCOUNT);
  self->online = TRUE;
  self->folders = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, g_object_unref);
  self->running = g_hash_table_new_full (NULL, NULL, g_object_unref, g_object_unref);
  self->timers = g_hash_table_new_full (NULL, NULL, g_object_unref, NULL);
  self->imap = g_hash_table_new_full (NULL, NULL, g_object_unref, g_object_unref);
}

static MailerAccount *
find_account_by_id (MailerSession *self,
                    gint64         account_id)
{
  guint n = g_list_model_get_n_items (G_LIST_MODEL (self->accounts));

  for (guint i = 0; i < n; i++)
    {
      g_autoptr(MailerAccount) account = g_list_model_get_item (G_LIST_MODEL (self->accounts), i);

      if (mailer_account_get_id (account) == account_id)
        return account;
    }
  return NULL;
}

static void
copy_folder (MailerFolder *into,
             MailerFolder *from)
{
  g_object_freeze_notify (G_OBJECT (into));
  mailer_folder_set_role (into, mailer_folder_get_role (from));
  mailer_folder_set_delimiter (into, mailer_folder_get_delimiter (from));
  mailer_folder_set_parent_id (into, mailer_folder_get_parent_id (from));
  if (g_strcmp0 (mailer_folder_get_display_name (from), mailer_folder_get_display_name (into)) != 0)
    mailer_folder_set_display_name (into, mailer_folder_get_display_name (from));
  mailer_folder_set_total_count (into, mailer_folder_get_total_count (from));
  mailer_folder_set_unread_count (into, mailer_folder_get_unread_count (from));
  g_object_thaw_notify (G_OBJECT (into));
}

/* (Re)builds @account's folder tree, keeping the folder objects already
 * handed out so that whatever shows them keeps working. */
static gboolean
load_folders (MailerSession  *self,
              MailerAccount  *account,
              GError        **error)
{
  g_autoptr(GPtrArray) loaded = NULL;
  g_autoptr(GPtrArray) folders = g_ptr_array_new_with_free_func (g_object_unref);
  loaded = mailer_store_list_folders (self->store, mailer_account_get_id (account), error);
  if (loaded == NULL)
    return FALSE;

  for (guint i = 0; i < loaded->len; i++)
    {
      MailerFolder *folder = g_ptr_array_index (loaded, i);
      gint64 id = mailer_folder_get_id (folder);
      MailerFolder *known = g_hash_table_lookup (self->folders, &id);

      if (known != NULL)
        copy_folder (known, folder);
      else
        {
          known = folder;
          g_hash_table_insert (self->folders, g_memdup2 (&id, sizeof id), g_object_ref (folder));
        }
      g_ptr_array_add (folders, g_object_ref (known));
    }

  /* In place: the sidebar's tree keeps its rows and selection. */
  mailer_folder_update_tree (G_LIST_STORE (mailer_account_get_folders (account)), folders);
  return TRUE;
}

/* Local changes to an IMAP account wait in the journal: tell its sync
 * to replay them now. */
static void
kick_imap (MailerSession      *self,
           MailerStoreChanges *changes)
{
  GHashTableIter iter;
  gpointer account, sync;

  if (changes->updated->len == 0 && changes->removed->len == 0)
    return;
  g_hash_table_iter_init (&iter, self->imap);
  while (g_hash_table_iter_next (&iter, &account, &sync))
    {
      g_autoptr(GPtrArray) journal = mailer_store_list_journal (self->store, mailer_account_get_id (account), NULL);

      if (journal != NULL && journal->len > 0)
        mailer_imap_sync_kick (sync);
    }
}

/* Folder counts follow the store; a folder that appeared joins its
 * account's tree. */
static void
store_changed_cb (MailerStore        *store,
                  MailerStoreChanges *changes,
                  MailerSession      *self)
{
  kick_imap (self, changes);

  for (guint i = 0; i < changes->folders->len; i++)
    {
      gint64 id = g_array_index (changes->folders, gint64, i);
      g_autoptr(MailerFolder) fresh = mailer_store_get_folder (store, id, NULL);
      MailerFolder *known = g_hash_table_lookup (self->folders, &id);
      MailerAccount *account;

      if (fresh == NULL)
        continue;
      if (known != NULL && mailer_folder_get_parent_id (known) == mailer_folder_get_parent_id (fresh))
        {
          copy_folder (known, fresh);
          continue;
        }
      account = find_account_by_id (self, mailer_folder_get_account_id (fresh));
      if (account != NULL)
        load_folders (self, account, NULL);
    }
}

/**
 * mailer_session_get_folder:
 *
 * Returns: (transfer none) (nullable): the folder with that id
 */
MailerFolder *
mailer_session_get_folder (MailerSession *self,
                           gint64         folder_id)
{
  g_return_val_if_fail (MAILER_IS_SESSION (self), NULL);
  return g_hash_table_lookup (self->folders, &folder_id);
}

/**
 * mailer_session_new:
 * @data_dir: (nullable): where the store lives; %NULL for the user's
 *   data directory ($XDG_DATA_HOME/mailer)
 */
MailerSession *
mailer_session_new (const char  *data_dir,
                    GError     **error)
{
  g_autoptr(MailerSession) self = g_object_new (MAILER_TYPE_SESSION, NULL);
  g_autofree char *default_dir = NULL;
  g_autoptr(GPtrArray) accounts = NULL;

  if (data_dir == NULL)
    data_dir = default_dir = mailer_store_get_default_dir ();

  self->store = mailer_store_open (data_dir, error);
  if (self->store == NULL)
    return NULL;

  accounts = mailer_store_list_accounts (self->store, error);
  if (accounts == NULL)
    return NULL;
  g_list_store_splice (self->accounts, 0, 0, accounts->pdata, accounts->len);
  for (guint i = 0; i < accounts->len; i++)
    if (!load_folders (self, accounts->pdata[i], error))
      return NULL;

  self->changed_id = g_signal_connect (self->store, "changed", G_CALLBACK (store_changed_cb), self);
  mailer_session_set_network_monitor (self, g_network_monitor_get_default ());
  return g_steal_pointer (&self);
}

gboolean
mailer_session_get_online (MailerSession *self)
{
  g_return_val_if_fail (MAILER_IS_SESSION (self), FALSE);
  return self->online;
}

static void
reconnected_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr(GError) error = NULL;

  /* The account's state and status message tell the user. */
  if (mailer_session_sync_account_finish (MAILER_SESSION (source), result, &error) < 0)
    g_debug ("Check after reconnecting failed: %s", error->message);
}

static void
network_changed_cb (GNetworkMonitor *monitor,
                    gboolean         available,
                    MailerSession   *self)
{
  GListModel *accounts = G_LIST_MODEL (self->accounts);
  gboolean was_online = self->online;

  if (was_online == available)
    return;
  self->online = available;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ONLINE]);

  for (guint i = 0; i < g_list_model_get_n_items (accounts); i++)
    {
      g_autoptr(MailerAccount) account = g_list_model_get_item (accounts, i);

      if (!available)
        {
          /* What runs fails by itself; the idle ones say why nothing will. */
          if (!g_hash_table_contains (self->running, account))
            mailer_account_set_connection_state (account, MAILER_CONNECTION_STATE_OFFLINE);
          continue;
        }
      /* Back: changes made offline go now, and what came meanwhile. */
      if (!g_hash_table_contains (self->running, account))
        mailer_session_sync_account_async (self, account, NULL, reconnected_cb, NULL);
    }
}

/**
 * mailer_session_set_network_monitor:
 *
 * Follows @monitor (the default one unless told otherwise, as tests do)
 * for whether the network is up.
 */
void
mailer_session_set_network_monitor (MailerSession   *self,
                                    GNetworkMonitor *monitor)
{
  g_return_if_fail (MAILER_IS_SESSION (self));
  g_return_if_fail (G_IS_NETWORK_MONITOR (monitor));

  if (self->monitor != NULL)
    g_signal_handlers_disconnect_by_data (self->monitor, self);
  g_set_object (&self->monitor, monitor);
  g_signal_connect (monitor, "network-changed", G_CALLBACK (network_changed_cb), self);
  network_changed_cb (monitor, g_network_monitor_get_network_available (monitor), self);
}

MailerStore *
mailer_session_get_store (MailerSession *self)
{
  g_return_val_if_fail (MAILER_IS_SESSION (self), NULL);
  return self->store;
}

/**
 * mailer_session_get_accounts:
 *
 * Returns: (transfer none): a #GListModel of #MailerAccount
 */
GListModel *
mailer_session_get_accounts (MailerSession *self)
{
  g_return_val_if_fail (MAILER_IS_SESSION (self), NULL);
  return G_LIST_MODEL (self->accounts);
}

/**
 * mailer_session_find_account:
 *
 * Returns: (transfer none) (nullable): the account with that UUID
 */
MailerAccount *
mailer_session_find_account (MailerSession *self,
                             const char    *uuid)
{
  guint n;

  g_return_val_if_fail (MAILER_IS_SESSION (self), NULL);
  g_return_val_if_fail (uuid != NULL, NULL);

  n = g_list_model_get_n_items (G_LIST_MODEL (self->accounts));
  for (guint i = 0; i < n; i++)
    {
      g_autoptr(MailerAccount) account = g_list_model_get_item (G_LIST_MODEL (self->accounts), i);

      if (g_strcmp0 (mailer_account_get_uuid (account), uuid) == 0)
        return account;
    }
  return NULL;
}

static gboolean
find_account_position (MailerSession *self,
                       MailerAccount *account,
                       guint         *position)
{
  return g_list_store_find (self->accounts, account, position);
}

/* Adding: the password goes to the keyring first, so an account never
 * exists without its password; if the store then fails, the password is
 * taken back out. */

static gboolean periodic_check_cb (gpointer user_data);

static void
disarm_periodic_check (MailerSession *self,
                       MailerAccount *account)
{
  gpointer id;

  if (self->timers == NULL ||
      !g_hash_table_lookup_extended (self->timers, account, NULL, &id))
    return;
  g_source_remove (GPOINTER_TO_UINT (id));
  g_object_set_data (G_OBJECT (account), "mailer-session", NULL);
  g_hash_table_remove (self->timers, account);
}

/* (Re)starts @account's periodic check on its current interval, when
 * periodic checks are on. */
static void
arm_periodic_check (MailerSession *self,
                    MailerAccount *account)
{
  guint interval = mailer_account_get_check_interval (account);

  disarm_periodic_check (self, account);
  if (!self->periodic || interval == 0)
    return;
  g_object_set_data (G_OBJECT (account), "mailer-session", self);
  g_hash_table_insert (self->timers, g_object_ref (account),
                       GUINT_TO_POINTER (g_timeout_add_seconds (interval, periodic_check_cb, account)));
}

static void
add_clear_after_failure_cb (GObject      *source,
                            GAsyncResult *result,
                            gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  GError *store_error = g_task_get_task_data (task);

  mailer_secrets_clear_password_finish (result, NULL);
  g_task_return_error (task, g_error_copy (store_error));
}

static void
add_store_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  MailerSession *self = g_task_get_source_object (task);
  MailerAccount *account = g_object_get_data (G_OBJECT (task), "account");
  GError *error = NULL;

  if (!mailer_store_save_account_finish (MAILER_STORE (source), result, &error))
    {
      /* A new account leaves nothing behind; a known one whose changed
       * settings could not be saved keeps its password. */
      if (find_account_position (self, account, NULL))
        {
          g_task_return_error (task, error);
          return;
        }
      g_task_set_task_data (task, error, (GDestroyNotify) g_error_free);
      mailer_secrets_clear_password_async (account, NULL, add_clear_after_failure_cb,
                                           g_steal_pointer (&task));
      return;
    }

  if (!find_account_position (self, account, NULL))
    g_list_store_append (self->accounts, account);
  /* Its check interval may have changed. */
  arm_periodic_check (self, account);
  g_task_return_boolean (task, TRUE);
}

static void
add_secret_cb (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  MailerSession *self = g_task_get_source_object (task);
  MailerAccount *account = g_object_get_data (G_OBJECT (task), "account");
  GCancellable *cancellable;
  GError *error = NULL;

  if (!mailer_secrets_store_password_finish (result, &error))
    {
      g_prefix_error (&error, "The password could not be saved in the keyring: ");
      g_task_return_error (task, error);
      return;
    }

  /* Not inline: argument evaluation order could steal the task first. */
  cancellable = g_task_get_cancellable (task);
  mailer_store_save_account_async (self->store, account, cancellable,
                                   add_store_cb, g_steal_pointer (&task));
}

/**
 * mailer_session_add_account_async:
 * @password: (nullable): saved in the keyring, never in the store
 *
 * Saves a new account (or the changed settings of a known one) and adds it
 * to the accounts model once it is durably stored.
 */
void
mailer_session_add_account_async (MailerSession       *self,
                                  MailerAccount       *account,
                                  const char          *password,
                                  GCancellable        *cancellable,
                                  GAsyncReadyCallback  callback,
                                  gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (MAILER_IS_SESSION (self));
  g_return_if_fail (MAILER_IS_ACCOUNT (account));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, mailer_session_add_account_async);
  g_object_set_data_full (G_OBJECT (task), "account", g_object_ref (account), g_object_unref);

  if (password == NULL)
    {
      mailer_store_save_account_async (self->store, account, cancellable,
                                       add_store_cb, g_steal_pointer (&task));
      return;
    }

  mailer_secrets_store_password_async (account, password, cancellable,
                                       add_secret_cb, g_steal_pointer (&task));
}

gboolean
mailer_session_add_account_finish (MailerSession  *self,
                                   GAsyncResult   *result,
                                   GError        **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

/* Removing: the store first (the account disappears), then its secret. */

static void
remove_secret_cb (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  GError *error = NULL;

  if (!mailer_secrets_clear_password_finish (result, &error))
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
}

static void
remove_store_cb (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  MailerSession *self = g_task_get_source_object (task);
  MailerAccount *account = g_object_get_data (G_OBJECT (task), "account");
  GError *error = NULL;
  guint position;

  if (!mailer_store_delete_account_finish (MAILER_STORE (source), result, &error))
    {
      g_task_return_error (task, error);
      return;
    }

  if (find_account_position (self, account, &position))
    g_list_store_remove (self->accounts, position);

  mailer_secrets_clear_password_async (account, NULL, remove_secret_cb, g_steal_pointer (&task));
}

void
mailer_session_remove_account_async (MailerSession       *self,
                                     MailerAccount       *account,
                                     GCancellable        *cancellable,
                                     GAsyncReadyCallback  callback,
                                     gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  MailerImapSync *sync;

  g_return_if_fail (MAILER_IS_SESSION (self));
  g_return_if_fail (MAILER_IS_ACCOUNT (account));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, mailer_session_remove_account_async);
  g_object_set_data_full (G_OBJECT (task), "account", g_object_ref (account), g_object_unref);

  /* Nothing runs for it any more: no check, no push, no timer. */
  mailer_session_cancel_sync (self, account);
  sync = g_hash_table_lookup (self->imap, account);
  if (sync != NULL)
    {
      mailer_imap_sync_stop_push (sync);
      g_hash_table_remove (self->imap, account);
    }
  disarm_periodic_check (self, account);

  mailer_store_delete_account_async (self->store, account, cancellable,
                                     remove_store_cb, g_steal_pointer (&task));
}

gboolean
mailer_session_remove_account_finish (MailerSession  *self,
                                      GAsyncResult   *result,
                                      GError        **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

/* Syncing */

static void
fetch_body_done_cb (GObject      *source,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  GError *error = NULL;

  if (!mailer_imap_sync_fetch_body_finish (MAILER_IMAP_SYNC (source), result, &error))
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
}

static void
imap_new_mail_cb (MailerImapSync *sync,
                  guint           n,
                  gint64          newest_id,
                  MailerSession  *self)
{
  GHashTableIter iter;
  gpointer account, value;

  g_hash_table_iter_init (&iter, self->imap);
  while (g_hash_table_iter_next (&iter, &account, &value))
    if (value == sync)
      {
        g_signal_emit (self, signals[SIGNAL_NEW_MAIL], 0, account, n, newest_id);
        return;
      }
}

static void
pop3_done_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  MailerSession *self = g_task_get_source_object (task);
  MailerAccount *account = g_task_get_task_data (task);
  MailerPop3SyncResult sync_result = { 0, };
  GError *error = NULL;

  g_hash_table_remove (self->running, account);
  if (!mailer_pop3_sync_run_finish (MAILER_POP3_SYNC (source), result, &sync_result, &error))
    {
      /* Tried again only with another password. */
      if (g_error_matches (error, MAILER_POP3_ERROR, MAILER_POP3_ERROR_AUTH_FAILED))
        mailer_account_set_needs_password (account, TRUE);
      if (mailer_setup_error_needs_trust (error))
        mailer_account_set_needs_trust (account, TRUE);
      g_task_return_error (task, error);
      return;
    }
  /* A first sync creates the inbox: show it. */
  load_folders (self, account, NULL);
  if (sync_result.n_downloaded > 0 && !sync_result.first_run)
    g_signal_emit (self, signals[SIGNAL_NEW_MAIL], 0, account, sync_result.n_downloaded,
                   sync_result.newest_id);
  g_task_return_int (task, sync_result.n_downloaded);
}

static void
imap_done_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  MailerSession *self = g_task_get_source_object (task);
  MailerAccount *account = g_task_get_task_data (task);
  MailerImapSyncResult sync_result = { 0, };
  GError *error = NULL;

  g_hash_table_remove (self->running, account);
  if (!mailer_imap_sync_run_finish (MAILER_IMAP_SYNC (source), result, &sync_result, &error))
    {
      g_task_return_error (task, error);
      return;
    }
  load_folders (self, account, NULL);
  if (self->push)
    mailer_imap_sync_start_push (MAILER_IMAP_SYNC (source));
  g_task_return_int (task, sync_result.n_new);
}

static void
password_cb (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  MailerSession *self = g_task_get_source_object (task);
  MailerAccount *account = g_task_get_task_data (task);
  g_autoptr(MailerPop3Sync) sync = NULL;
  GError *error = NULL;
  char *password;

  password = mailer_secrets_lookup_password_finish (result, &error);
  if (password == NULL)
    g_hash_table_remove (self->running, account);
  if (password == NULL)
    {
      if (error == NULL)
        error = g_error_new (G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
                             "No password is stored for %s", mailer_account_get_display_name (account)
                             ? mailer_account_get_display_name (account) : mailer_account_get_host (account));
      mailer_account_set_connection_state (account, MAILER_CONNECTION_STATE_ERROR);
      mailer_account_set_status_message (account, error->message);
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED) ||
          g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND))
        mailer_account_set_needs_password (account, TRUE);
      g_task_return_error (task, error);
      return;
    }

  if (mailer_account_get_kind (account) == MAILER_ACCOUNT_KIND_IMAP)
    {
      MailerImapSync *imap = g_hash_table_lookup (self->imap, account);

      if (imap == NULL)
        {
          imap = mailer_imap_sync_new (self->store, account, password);
          g_hash_table_insert (self->imap, g_object_ref (account), imap);
          g_signal_connect_object (imap, "new-mail", G_CALLBACK (imap_new_mail_cb), self, 0);
          mailer_imap_sync_watch_folder (imap, self->watched_folder);
        }
      mailer_secrets_free_password (password);
      mailer_imap_sync_run_async (imap, g_hash_table_lookup (self->running, account),
                                  imap_done_cb, g_object_ref (task));
      return;
    }

  sync = mailer_pop3_sync_new (self->store, account);
  mailer_pop3_sync_run_async (sync, password, g_hash_table_lookup (self->running, account),
                              pop3_done_cb, g_object_ref (task));
  mailer_secrets_free_password (password);
}

static void
reachable_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  GTask *task = user_data;
  MailerSession *self = g_task_get_source_object (task);
  MailerAccount *account = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;

  if (g_network_monitor_can_reach_finish (G_NETWORK_MONITOR (source), result, &error))
    {
      mailer_secrets_lookup_password_async (account, g_task_get_cancellable (task), password_cb, task);
      return;
    }
  g_hash_table_remove (self->running, account);
  mailer_account_set_connection_state (account, MAILER_CONNECTION_STATE_OFFLINE);
  mailer_account_set_status_message (account, NULL);
  g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_NETWORK_UNREACHABLE,
                           "This computer is offline: %s is checked when the network is back",
                           mailer_account_get_display_name (account) ? mailer_account_get_display_name (account)
                                                                     : mailer_account_get_host (account));
  g_object_unref (task);
}

/**
 * mailer_session_sync_account_async:
 *
 * Checks @account for new mail: downloads it into the store (POP3).  The
 * password comes from the keyring.  Finish returns how many messages
 * arrived.
 */
void
mailer_session_sync_account_async (MailerSession       *self,
                                   MailerAccount       *account,
                                   GCancellable        *cancellable,
                                   GAsyncReadyCallback  callback,
                                   gpointer             user_data)
{
  GTask *task;

  g_return_if_fail (MAILER_IS_SESSION (self));
  g_return_if_fail (MAILER_IS_ACCOUNT (account));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, mailer_session_sync_account_async);
  g_task_set_task_data (task, g_object_ref (account), g_object_unref);

  /* One run per account at a time: POP3 servers lock the mailbox, and a
   * second run would only find the first one's work. */
  if (g_hash_table_contains (self->running, account))
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_BUSY,
                               "Mail is already being checked for this account");
      g_object_unref (task);
      return;
    }
  /* The server rejected the password: not again, until the user gave
   * another (mailer_session_set_password_async ()). */
  if (mailer_account_get_needs_password (account))
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED, _("Password required"));
      g_object_unref (task);
      return;
    }
  /* Nor while the server's certificate waits for the user's decision. */
  if (mailer_account_get_needs_trust (account))
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED, _("Certificate not trusted"));
      g_object_unref (task);
      return;
    }
  g_hash_table_insert (self->running, g_object_ref (account),
                       cancellable ? g_object_ref (cancellable) : g_cancellable_new ());
  if (!self->online)
    {
      /* Offline, unless the server is reachable still (on this machine,
       * or on a network without a route out). */
      g_autoptr(GSocketConnectable) server = g_network_address_new (mailer_account_get_host (account),
                                                                    mailer_account_get_port (account));

      g_network_monitor_can_reach_async (self->monitor, server, cancellable, reachable_cb, task);
      return;
    }
  mailer_secrets_lookup_password_async (account, cancellable, password_cb, task);
}

/**
 * mailer_session_cancel_sync:
 *
 * Stops @account's running check, if any.  Whatever was stored stays.
 */
void
mailer_session_cancel_sync (MailerSession *self,
                            MailerAccount *account)
{
  GCancellable *cancellable;

  g_return_if_fail (MAILER_IS_SESSION (self));

  cancellable = g_hash_table_lookup (self->running, account);
  if (cancellable != NULL)
    g_cancellable_cancel (cancellable);
}

gboolean
mailer_session_is_syncing (MailerSession *self,
                           MailerAccount *account)
{
  g_return_val_if_fail (MAILER_IS_SESSION (self), FALSE);
  return g_hash_table_contains (self->running, account);
}

static void
periodic_done_cb (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  g_autoptr(GError) error = NULL;

  /* The account's state and status message already tell the user. */
  if (mailer_session_sync_account_finish (MAILER_SESSION (source), result, &error) < 0)
    g_debug ("Periodic check failed: %s", error->message);
}

static gboolean
periodic_check_cb (gpointer user_data)
{
  MailerAccount *account = user_data;
  MailerSession *self = g_object_get_data (G_OBJECT (account), "mailer-session");

  /* POP3 checks for mail; IMAP resyncs every folder (push covers only
   * the inbox). */
  if (self != NULL && !g_hash_table_contains (self->running, account))
    mailer_session_sync_account_async (self, account, NULL, periodic_done_cb, NULL);
  return G_SOURCE_CONTINUE;
}

/**
 * mailer_session_set_periodic_checks:
 *
 * Checks every account for mail on its own interval (its check-interval
 * property; 0 = never on its own), or stops doing so.  Accounts added or
 * saved later follow the same choice.
 */
void
mailer_session_set_periodic_checks (MailerSession *self,
                                    gboolean       enabled)
{
  guint n;

  g_return_if_fail (MAILER_IS_SESSION (self));

  if (self->timers == NULL)
    return;
  self->periodic = enabled;
  n = g_list_model_get_n_items (G_LIST_MODEL (self->accounts));
  for (guint i = 0; i < n; i++)
    {
      g_autoptr(MailerAccount) account = g_list_model_get_item (G_LIST_MODEL (self->accounts), i);

      arm_periodic_check (self, account);
    }
}

gssize
mailer_session_sync_account_finish (MailerSession  *self,
                                    GAsyncResult   *result,
                                    GError        **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), -1);
  return g_task_propagate_int (G_TASK (result), error);
}

/**
 * mailer_session_set_push:
 *
 * Keeps IMAP accounts in step as things happen on the server (IDLE), from
 * their next sync on, and replays local changes at once.
 */
void
mailer_session_set_push (MailerSession *self,
                         gboolean       enabled)
{
  GHashTableIter iter;
  gpointer sync;

  g_return_if_fail (MAILER_IS_SESSION (self));

  self->push = enabled;
  g_hash_table_iter_init (&iter, self->imap);
  while (g_hash_table_iter_next (&iter, NULL, &sync))
    {
      if (enabled)
        mailer_imap_sync_start_push (sync);
      else
        mailer_imap_sync_stop_push (sync);
    }
}

/**
 * mailer_session_watch_folder:
 * @folder_id: the folder the user has open, or 0
 *
 * With push on, the open folder of an IMAP account is kept in step as
 * things happen on the server, like the inbox.
 */
void
mailer_session_watch_folder (MailerSession *self,
                             gint64         folder_id)
{
  GHashTableIter iter;
  gpointer sync;

  g_return_if_fail (MAILER_IS_SESSION (self));

  self->watched_folder = folder_id;
  g_hash_table_iter_init (&iter, self->imap);
  while (g_hash_table_iter_next (&iter, NULL, &sync))
    mailer_imap_sync_watch_folder (sync, folder_id);
}

static void
password_stored_cb (GObject      *source,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  MailerAccount *account = g_task_get_task_data (task);
  GError *error = NULL;

  if (!mailer_secrets_store_password_finish (result, &error))
    {
      g_task_return_error (task, error);
      return;
    }
  mailer_account_set_needs_password (account, FALSE);
  g_task_return_boolean (task, TRUE);
}

/**
 * mailer_session_set_password_async:
 *
 * A new password for @account (the server rejected the old one): into the
 * keyring, for the syncs from now on; checks may go on.
 */
void
mailer_session_set_password_async (MailerSession       *self,
                                   MailerAccount       *account,
                                   const char          *password,
                                   GCancellable        *cancellable,
                                   GAsyncReadyCallback  callback,
                                   gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  MailerImapSync *imap;

  g_return_if_fail (MAILER_IS_SESSION (self));
  g_return_if_fail (MAILER_IS_ACCOUNT (account));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, mailer_session_set_password_async);
  g_task_set_task_data (task, g_object_ref (account), g_object_unref);
  imap = g_hash_table_lookup (self->imap, account);
  if (imap != NULL)
    mailer_imap_sync_set_password (imap, password);
  mailer_secrets_store_password_async (account, password, cancellable, password_stored_cb,
                                       g_steal_pointer (&task));
}

gboolean
mailer_session_set_password_finish (MailerSession  *self,
                                    GAsyncResult   *result,
                                    GError        **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

static void
trust_saved_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  MailerAccount *account = g_task_get_task_data (task);
  GError *error = NULL;

  if (!mailer_store_save_account_finish (MAILER_STORE (source), result, &error))
    {
      g_task_return_error (task, error);
      return;
    }
  mailer_account_set_needs_trust (account, FALSE);
  g_task_return_boolean (task, TRUE);
}

/**
 * mailer_session_trust_certificate_async:
 * @fingerprint: the SHA-256 fingerprint of the certificate the user looked
 *   at and trusts
 *
 * Pins that certificate for @account (this server only) and saves it;
 * checks may go on.
 */
void
mailer_session_trust_certificate_async (MailerSession       *self,
                                        MailerAccount       *account,
                                        const char          *fingerprint,
                                        GCancellable        *cancellable,
                                        GAsyncReadyCallback  callback,
                                        gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (MAILER_IS_SESSION (self));
  g_return_if_fail (MAILER_IS_ACCOUNT (account));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, mailer_session_trust_certificate_async);
  g_task_set_task_data (task, g_object_ref (account), g_object_unref);
  mailer_account_set_pinned_certificate (account, fingerprint);
  mailer_store_save_account_async (self->store, account, cancellable, trust_saved_cb, g_steal_pointer (&task));
}

gboolean
mailer_session_trust_certificate_finish (MailerSession  *self,
                                         GAsyncResult   *result,
                                         GError        **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

/**
 * mailer_session_fetch_body_async:
 *
 * Downloads a message's body from its IMAP server (POP3 mail is stored
 * whole already, unless it was over the size limit: then the rest).
 */
void
mailer_session_fetch_body_async (MailerSession       *self,
                                 MailerAccount       *account,
                                 gint64               message_id,
                                 GCancellable        *cancellable,
                                 GAsyncReadyCallback  callback,
                                 gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  MailerImapSync *imap;

  g_return_if_fail (MAILER_IS_SESSION (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, mailer_session_fetch_body_async);
  imap = g_hash_table_lookup (self->imap, account);
  if (imap == NULL)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED,
                               "Not downloaded — available when online");
      return;
    }
  mailer_imap_sync_fetch_body_async (imap, message_id, cancellable,
                                     (GAsyncReadyCallback) fetch_body_done_cb, g_object_ref (task));
}

gboolean
mailer_session_fetch_body_finish (MailerSession  *self,
                                  GAsyncResult   *result,
                                  GError        **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}
