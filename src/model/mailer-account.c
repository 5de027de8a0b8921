/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * MailerAccount: one configured mail account (its settings, never its
 * password, which lives only in the keyring) and its live connection state.
 */
#include "config.h"

#include "mailer-account.h"
#include "mailer-model-enum-types.h"
#include "mailer-model-private.h"

struct _MailerAccount
{
  GObject parent_instance;

  gint64 id;
  char *uuid;
  MailerAccountKind kind;
  char *display_name;
  char *address;
  char *host;
  guint16 port;
  MailerSecurity security;
  char *username;
  char *pinned_certificate;
  MailerConnectionState connection_state;
  char *status_message;
  double progress;
  GListModel *folders;
  gboolean leave_on_server;
  guint keep_days;
  gboolean delete_when_deleted;
  guint64 size_limit;
  guint check_interval;
  guint prefetch_days;
  gint64 last_sync;
  gboolean needs_password;
  gboolean needs_trust;
};

G_DEFINE_FINAL_TYPE (MailerAccount, mailer_account, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_ID,
  PROP_UUID,
  PROP_KIND,
  PROP_DISPLAY_NAME,
  PROP_ADDRESS,
  PROP_HOST,
  PROP_PORT,
  PROP_SECURITY,
  PROP_USERNAME,
  PROP_PINNED_CERTIFICATE,
  PROP_CONNECTION_STATE,
  PROP_STATUS_MESSAGE,
  PROP_PROGRESS,
  PROP_FOLDERS,
  PROP_LEAVE_ON_SERVER,
  PROP_KEEP_DAYS,
  PROP_DELETE_WHEN_DELETED,
  PROP_SIZE_LIMIT,
  PROP_CHECK_INTERVAL,
  PROP_PREFETCH_DAYS,
  PROP_LAST_SYNC,
  PROP_NEEDS_PASSWORD,
  PROP_NEEDS_TRUST,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void
mailer_account_finalize (GObject *object)
{
  MailerAccount *self = (MailerAccount *)object;

  g_clear_pointer (&self->uuid, g_free);
  g_clear_pointer (&self->display_name, g_free);
  g_clear_pointer (&self->address, g_free);
  g_clear_pointer (&self->host, g_free);
  g_clear_pointer (&self->username, g_free);
  g_clear_object (&self->folders);
  g_clear_pointer (&self->pinned_certificate, g_free);
  g_clear_pointer (&self->status_message, g_free);

  G_OBJECT_CLASS (mailer_account_parent_class)->finalize (object);
}

static void
mailer_account_get_property (GObject    *object,
                             guint       prop_id,
                             GValue     *value,
                             GParamSpec *pspec)
{
  MailerAccount *self = MAILER_ACCOUNT (object);

  switch (prop_id)
    {
    case PROP_ID:
      g_value_set_int64 (value, self->id);
      break;
    case PROP_UUID:
      g_value_set_string (value, self->uuid);
      break;
    case PROP_KIND:
      g_value_set_enum (value, self->kind);
      break;
    case PROP_DISPLAY_NAME:
      g_value_set_string (value, self->display_name);
      break;
    case PROP_ADDRESS:
      g_value_set_string (value, self->address);
      break;
    case PROP_HOST:
      g_value_set_string (value, self->host);
      break;
    case PROP_PORT:
      g_value_set_uint (value, self->port);
      break;
    case PROP_SECURITY:
      g_value_set_enum (value, self->security);
      break;
    case PROP_USERNAME:
      g_value_set_string (value, self->username);
      break;
    case PROP_PINNED_CERTIFICATE:
      g_value_set_string (value, self->pinned_certificate);
      break;
    case PROP_CONNECTION_STATE:
      g_value_set_enum (value, self->connection_state);
      break;
    case PROP_PROGRESS:
      g_value_set_double (value, self->progress);
      break;
    case PROP_LEAVE_ON_SERVER:
      g_value_set_boolean (value, self->leave_on_server);
      break;
    case PROP_KEEP_DAYS:
      g_value_set_uint (value, self->keep_days);
      break;
    case PROP_DELETE_WHEN_DELETED:
      g_value_set_boolean (value, self->delete_when_deleted);
      break;
    case PROP_SIZE_LIMIT:
      g_value_set_uint64 (value, self->size_limit);
      break;
    case PROP_CHECK_INTERVAL:
      g_value_set_uint (value, self->check_interval);
      break;
    case PROP_PREFETCH_DAYS:
      g_value_set_uint (value, self->prefetch_days);
      break;
    case PROP_LAST_SYNC:
      g_value_set_int64 (value, self->last_sync);
      break;
    case PROP_NEEDS_PASSWORD:
      g_value_set_boolean (value, self->needs_password);
      break;
    case PROP_NEEDS_TRUST:
      g_value_set_boolean (value, self->needs_trust);
      break;
    case PROP_FOLDERS:
      g_value_set_object (value, mailer_account_get_folders (self));
      break;
    case PROP_STATUS_MESSAGE:
      g_value_set_string (value, self->status_message);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
mailer_account_set_property (GObject      *object,
                             guint         prop_id,
                             const GValue *value,
                             GParamSpec   *pspec)
{
  MailerAccount *self = MAILER_ACCOUNT (object);

  switch (prop_id)
    {
    case PROP_ID:
      mailer_account_set_id (self, g_value_get_int64 (value));
      break;
    case PROP_UUID:
      self->uuid = g_value_dup_string (value);
      break;
    case PROP_KIND:
      self->kind = g_value_get_enum (value);
      break;
    case PROP_DISPLAY_NAME:
      mailer_account_set_display_name (self, g_value_get_string (value));
      break;
    case PROP_ADDRESS:
      mailer_account_set_address (self, g_value_get_string (value));
      break;
    case PROP_HOST:
      mailer_account_set_host (self, g_value_get_string (value));
      break;
    case PROP_PORT:
      mailer_account_set_port (self, g_value_get_uint (value));
      break;
    case PROP_SECURITY:
      mailer_account_set_security (self, g_value_get_enum (value));
      break;
    case PROP_USERNAME:
      mailer_account_set_username (self, g_value_get_string (value));
      break;
    case PROP_PINNED_CERTIFICATE:
      mailer_account_set_pinned_certificate (self, g_value_get_string (value));
      break;
    case PROP_CONNECTION_STATE:
      mailer_account_set_connection_state (self, g_value_get_enum (value));
      break;
    case PROP_STATUS_MESSAGE:
      mailer_account_set_status_message (self, g_value_get_string (value));
      break;
    case PROP_LEAVE_ON_SERVER:
      mailer_account_set_leave_on_server (self, g_value_get_boolean (value));
      break;
    case PROP_KEEP_DAYS:
      mailer_account_set_keep_days (self, g_value_get_uint (value));
      break;
    case PROP_DELETE_WHEN_DELETED:
      mailer_account_set_delete_when_deleted (self, g_value_get_boolean (value));
      break;
    case PROP_SIZE_LIMIT:
      mailer_account_set_size_limit (self, g_value_get_uint64 (value));
      break;
    case PROP_CHECK_INTERVAL:
      mailer_account_set_check_interval (self, g_value_get_uint (value));
      break;
    case PROP_PREFETCH_DAYS:
      mailer_account_set_prefetch_days (self, g_value_get_uint (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
mailer_account_constructed (GObject *object)
{
  MailerAccount *self = (MailerAccount *)object;

  G_OBJECT_CLASS (mailer_account_parent_class)->constructed (object);

  if (self->uuid == NULL)
    self->uuid = g_uuid_string_random ();
}

static void
mailer_account_class_init (MailerAccountClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->constructed = mailer_account_constructed;
  object_class->finalize = mailer_account_finalize;
  object_class->get_property = mailer_account_get_property;
  object_class->set_property = mailer_account_set_property;

  /* 0 until the store has assigned one. */
  properties[PROP_ID] =
    g_param_spec_int64 ("id", NULL, NULL,
                        0, G_MAXINT64, 0,
                        G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /* Stable identity across data dirs, used to find the keyring secret. */
  properties[PROP_UUID] =
    g_param_spec_string ("uuid", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);

  properties[PROP_KIND] =
    g_param_spec_enum ("kind", NULL, NULL,
                       MAILER_TYPE_ACCOUNT_KIND, MAILER_ACCOUNT_KIND_IMAP,
                       G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);

  properties[PROP_DISPLAY_NAME] =
    g_param_spec_string ("display-name", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  properties[PROP_ADDRESS] =
    g_param_spec_string ("address", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  properties[PROP_HOST] =
    g_param_spec_string ("host", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  properties[PROP_PORT] =
    g_param_spec_uint ("port", NULL, NULL,
                       0, G_MAXUINT16, 0,
                       G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  properties[PROP_SECURITY] =
    g_param_spec_enum ("security", NULL, NULL,
                       MAILER_TYPE_SECURITY, MAILER_SECURITY_TLS,
                       G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  properties[PROP_USERNAME] =
    g_param_spec_string ("username", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /* SHA-256 of a certificate the user chose to trust for host:port. */
  properties[PROP_PINNED_CERTIFICATE] =
    g_param_spec_string ("pinned-certificate", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  properties[PROP_CONNECTION_STATE] =
    g_param_spec_enum ("connection-state", NULL, NULL,
                       MAILER_TYPE_CONNECTION_STATE, MAILER_CONNECTION_STATE_OFFLINE,
                       G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  properties[PROP_STATUS_MESSAGE] =
    g_param_spec_string ("status-message", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /* Fraction of the current sync done, 0 to 1; -1 when nothing runs. */
  properties[PROP_PROGRESS] =
    g_param_spec_double ("progress", NULL, NULL, -1.0, 1.0, -1.0,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /* Top-level folders; each folder's children hold the rest of the tree. */
  properties[PROP_FOLDERS] =
    g_param_spec_object ("folders", NULL, NULL, G_TYPE_LIST_MODEL,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /* POP3: keep a copy on the server after downloading. */
  properties[PROP_LEAVE_ON_SERVER] =
    g_param_spec_boolean ("leave-on-server", NULL, NULL, TRUE,
                          G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  /* POP3: days the server copy is kept after download; 0 = no limit. */
  properties[PROP_KEEP_DAYS] =
    g_param_spec_uint ("keep-days", NULL, NULL, 0, 36500, 0,
                       G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  /* POP3: delete the server copy when the message is deleted here. */
  properties[PROP_DELETE_WHEN_DELETED] =
    g_param_spec_boolean ("delete-when-deleted", NULL, NULL, TRUE,
                          G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  /* Messages larger than this many bytes are downloaded in part; 0 = no limit. */
  properties[PROP_SIZE_LIMIT] =
    g_param_spec_uint64 ("size-limit", NULL, NULL, 0, G_MAXUINT64, 0,
                         G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  /* Seconds between automatic checks for mail; 0 = only on request. */
  properties[PROP_CHECK_INTERVAL] =
    g_param_spec_uint ("check-interval", NULL, NULL, 0, G_MAXUINT, 600,
                       G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /* IMAP: bodies of mail from the last this many days are downloaded
   * ahead, for offline reading; 0 = none, MAILER_ACCOUNT_PREFETCH_ALL = all. */
  properties[PROP_PREFETCH_DAYS] =
    g_param_spec_uint ("prefetch-days", NULL, NULL, 0, MAILER_ACCOUNT_PREFETCH_ALL, 30,
                       G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /* When a check of the account last ended well (Unix time); 0 = not
   * since the program started.  Not stored. */
  properties[PROP_LAST_SYNC] =
    g_param_spec_int64 ("last-sync", NULL, NULL, 0, G_MAXINT64, 0,
                        G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /* The server rejected the password (or none is stored): nothing is
   * tried again until the user enters one.  Not stored. */
  properties[PROP_NEEDS_PASSWORD] =
    g_param_spec_boolean ("needs-password", NULL, NULL, FALSE,
                          G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /* The server's certificate is not trusted here, or is not the one the
   * user trusted (it changed): nothing is sent until the user looks at
   * it and decides.  Not stored. */
  properties[PROP_NEEDS_TRUST] =
    g_param_spec_boolean ("needs-trust", NULL, NULL, FALSE,
                          G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
mailer_account_init (MailerAccount *self)
{
  self->progress = -1.0;
  self->leave_on_server = TRUE;
  self->delete_when_deleted = TRUE;
  self->check_interval = 600;
  self->prefetch_days = 30;
}

/**
 * mailer_account_new:
 *
 * Creates a new account with a fresh UUID.  Accounts loaded from the store
 * pass their UUID as a construct property instead.
 */
MailerAccount *
mailer_account_new (MailerAccountKind kind)
{
  return g_object_new (MAILER_TYPE_ACCOUNT, "kind", kind, NULL);
}

const char *
mailer_account_get_uuid (MailerAccount *self)
{
  g_return_val_if_fail (MAILER_IS_ACCOUNT (self), NULL);
  return self->uuid;
}

gint64
mailer_account_get_id (MailerAccount *self)
{
  g_return_val_if_fail (MAILER_IS_ACCOUNT (self), 0);
  return self->id;
}

void
mailer_account_set_id (MailerAccount *self,
                       gint64         id)
{
  g_return_if_fail (MAILER_IS_ACCOUNT (self));

  if (self->id != id)
    {
      self->id = id;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ID]);
    }
}

MailerAccountKind
mailer_account_get_kind (MailerAccount *self)
{
  g_return_val_if_fail (MAILER_IS_ACCOUNT (self), MAILER_ACCOUNT_KIND_IMAP);
  return self->kind;
}

#define STRING_PROPERTY(name, PROP)                                        \
  const char *                                                             \
  mailer_account_get_##name (MailerAccount *self)                          \
  {                                                                        \
    g_return_val_if_fail (MAILER_IS_ACCOUNT (self), NULL);                 \
    return self->name;                                                     \
  }                                                                        \
                                                                           \
  void                                                                     \
  mailer_account_set_##name (MailerAccount *self,                          \
                             const char    *value)                         \
  {                                                                        \
    g_return_if_fail (MAILER_IS_ACCOUNT (self));                           \
                                                                           \
    if (_mailer_set_string (&self->name, value))                                    \
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP]);        \
  }

STRING_PROPERTY (display_name, PROP_DISPLAY_NAME)
STRING_PROPERTY (address, PROP_ADDRESS)
STRING_PROPERTY (host, PROP_HOST)
STRING_PROPERTY (username, PROP_USERNAME)
STRING_PROPERTY (pinned_certificate, PROP_PINNED_CERTIFICATE)
STRING_PROPERTY (status_message, PROP_STATUS_MESSAGE)

#undef STRING_PROPERTY

guint16
mailer_account_get_port (MailerAccount *self)
{
  g_return_val_if_fail (MAILER_IS_ACCOUNT (self), 0);
  return self->port;
}

void
mailer_account_set_port (MailerAccount *self,
                         guint16        port)
{
  g_return_if_fail (MAILER_IS_ACCOUNT (self));

  if (self->port != port)
    {
      self->port = port;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PORT]);
    }
}

MailerSecurity
mailer_account_get_security (MailerAccount *self)
{
  g_return_val_if_fail (MAILER_IS_ACCOUNT (self), MAILER_SECURITY_TLS);
  return self->security;
}

void
mailer_account_set_security (MailerAccount  *self,
                             MailerSecurity  security)
{
  g_return_if_fail (MAILER_IS_ACCOUNT (self));

  if (self->security != security)
    {
      self->security = security;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SECURITY]);
    }
}

MailerConnectionState
mailer_account_get_connection_state (MailerAccount *self)
{
  g_return_val_if_fail (MAILER_IS_ACCOUNT (self), MAILER_CONNECTION_STATE_OFFLINE);
  return self->connection_state;
}

void
mailer_account_set_connection_state (MailerAccount         *self,
                                     MailerConnectionState  state)
{
  g_return_if_fail (MAILER_IS_ACCOUNT (self));

  if (self->connection_state != state)
    {
      /* A sync that ends well leaves the account online. */
      if (state == MAILER_CONNECTION_STATE_ONLINE &&
          (self->connection_state == MAILER_CONNECTION_STATE_SYNCING ||
           self->connection_state == MAILER_CONNECTION_STATE_CONNECTING))
        {
          self->last_sync = g_get_real_time () / G_USEC_PER_SEC;
          g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_LAST_SYNC]);
        }
      self->connection_state = state;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CONNECTION_STATE]);
    }
}

gint64
mailer_account_get_last_sync (MailerAccount *self)
{
  g_return_val_if_fail (MAILER_IS_ACCOUNT (self), 0);
  return self->last_sync;
}

double
mailer_account_get_progress (MailerAccount *self)
{
  g_return_val_if_fail (MAILER_IS_ACCOUNT (self), -1.0);
  return self->progress;
}

void
mailer_account_set_progress (MailerAccount *self,
                             double         progress)
{
  g_return_if_fail (MAILER_IS_ACCOUNT (self));

  progress = progress < 0 ? -1.0 : MIN (progress, 1.0);
  if (self->progress != progress)
    {
      self->progress = progress;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PROGRESS]);
    }
}

/**
 * mailer_account_get_folders:
 *
 * Returns: (transfer none): the top-level folders, a #GListModel of
 *   #MailerFolder (empty until the folders are loaded)
 */
GListModel *
mailer_account_get_folders (MailerAccount *self)
{
  g_return_val_if_fail (MAILER_IS_ACCOUNT (self), NULL);

  if (self->folders == NULL)
    self->folders = G_LIST_MODEL (g_list_store_new (G_TYPE_OBJECT));
  return self->folders;
}

void
mailer_account_set_folders (MailerAccount *self,
                            GListModel    *folders)
{
  g_return_if_fail (MAILER_IS_ACCOUNT (self));
  g_return_if_fail (G_IS_LIST_MODEL (folders));

  if (g_set_object (&self->folders, folders))
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_FOLDERS]);
}

#define SIMPLE_PROPERTY(type, name, PROP)                                \
  type                                                                   \
  mailer_account_get_##name (MailerAccount *self)                        \
  {                                                                      \
    g_return_val_if_fail (MAILER_IS_ACCOUNT (self), 0);                  \
    return self->name;                                                   \
  }                                                                      \
  void                                                                   \
  mailer_account_set_##name (MailerAccount *self,                        \
                             type           value)                       \
  {                                                                      \
    g_return_if_fail (MAILER_IS_ACCOUNT (self));                         \
    if (self->name == value)                                             \
      return;                                                            \
    self->name = value;                                                  \
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP]);        \
  }

SIMPLE_PROPERTY (gboolean, leave_on_server, PROP_LEAVE_ON_SERVER)
SIMPLE_PROPERTY (guint, keep_days, PROP_KEEP_DAYS)
SIMPLE_PROPERTY (gboolean, delete_when_deleted, PROP_DELETE_WHEN_DELETED)
SIMPLE_PROPERTY (guint64, size_limit, PROP_SIZE_LIMIT)
SIMPLE_PROPERTY (guint, check_interval, PROP_CHECK_INTERVAL)
SIMPLE_PROPERTY (guint, prefetch_days, PROP_PREFETCH_DAYS)

gboolean
mailer_account_get_needs_password (MailerAccount *self)
{
  g_return_val_if_fail (MAILER_IS_ACCOUNT (self), FALSE);
  return self->needs_password;
}

void
mailer_account_set_needs_password (MailerAccount *self,
                                   gboolean       needs_password)
{
  g_return_if_fail (MAILER_IS_ACCOUNT (self));

  if (self->needs_password == !!needs_password)
    return;
  self->needs_password = !!needs_password;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_NEEDS_PASSWORD]);
}

gboolean
mailer_account_get_needs_trust (MailerAccount *self)
{
  g_return_val_if_fail (MAILER_IS_ACCOUNT (self), FALSE);
  return self->needs_trust;
}

void
mailer_account_set_needs_trust (MailerAccount *self,
                                gboolean       needs_trust)
{
  g_return_if_fail (MAILER_IS_ACCOUNT (self));

  if (self->needs_trust == !!needs_trust)
    return;
  self->needs_trust = !!needs_trust;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_NEEDS_TRUST]);
}
