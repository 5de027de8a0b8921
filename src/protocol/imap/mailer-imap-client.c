/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * MailerImapClient: an asynchronous IMAP client (RFC 3501, RFC 9051) on a
 * MailerConnection.
 *
 * Once connected, one read is always pending; every response goes through
 * the framer and parser (mailer-imap-parser.c) and is dispatched: a tagged
 * status completes its command, a continuation request releases the next
 * part of the oldest command waiting for one (synchronizing literals,
 * AUTHENTICATE) or confirms IDLE, and untagged data goes to the running
 * commands' handlers, oldest first, or else out through the "untagged"
 * signal (new mail, expunges and flag changes from other clients).
 * Commands may be pipelined: each is written as soon as it is queued.
 */
#include "config.h"

#include <string.h>

#include "mailer-imap-client.h"

#define READ_SIZE (64 * 1024)

typedef struct
{
  char *tag;
  GTask *task;
  GPtrArray *parts;          /* GBytes */
  guint sent;                /* parts queued for writing */
  MailerImapUntaggedFunc func;
  gpointer func_data;
  gboolean is_idle;
  gboolean idling;           /* the server said "+" to IDLE */
  gboolean done_sent;
  gboolean pause_after;      /* STARTTLS: stop reading after the tagged reply */
} Pending;

struct _MailerImapClient
{
  GObject parent_instance;

  MailerConnection *connection;
  MailerImapReader *reader;
  GHashTable *capabilities;  /* upper case */
  GHashTable *enabled;       /* upper case */
  guint next_tag;
  GQueue pending;            /* Pending, oldest first */
  GQueue writes;             /* GBytes */
  gboolean writing;
  gboolean reading;
  gboolean started;           /* the read loop runs (also while it dispatches) */
  gboolean paused;
  GCancellable *cancellable; /* for the read loop and writes */
  guint8 *buffer;
  GError *broken;
  GTask *greeting;
  guint64 bytes_read;
};

G_DEFINE_FINAL_TYPE (MailerImapClient, mailer_imap_client, G_TYPE_OBJECT)

enum {
  SIGNAL_UNTAGGED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void
pending_free (Pending *pending)
{
  g_free (pending->tag);
  g_clear_object (&pending->task);
  g_ptr_array_unref (pending->parts);
  g_free (pending);
}

static void
mailer_imap_client_dispose (GObject *object)
{
  MailerImapClient *self = (MailerImapClient *)object;

  if (self->cancellable != NULL)
    g_cancellable_cancel (self->cancellable);

  G_OBJECT_CLASS (mailer_imap_client_parent_class)->dispose (object);
}

static void
mailer_imap_client_finalize (GObject *object)
{
  MailerImapClient *self = (MailerImapClient *)object;

  g_queue_clear_full (&self->pending, (GDestroyNotify) pending_free);
  g_queue_clear_full (&self->writes, (GDestroyNotify) g_bytes_unref);
  g_clear_object (&self->connection);
  g_clear_object (&self->cancellable);
  g_clear_pointer (&self->reader, mailer_imap_reader_free);
  g_clear_pointer (&self->capabilities, g_hash_table_unref);
  g_clear_pointer (&self->enabled, g_hash_table_unref);
  g_clear_pointer (&self->buffer, g_free);
  g_clear_error (&self->broken);

  G_OBJECT_CLASS (mailer_imap_client_parent_class)->finalize (object);
}

static void
mailer_imap_client_class_init (MailerImapClientClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = mailer_imap_client_dispose;
  object_class->finalize = mailer_imap_client_finalize;

  /**
   * MailerImapClient::untagged:
   * @response: a MailerImapResponse no running command took
   */
  signals[SIGNAL_UNTAGGED] =
    g_signal_new ("untagged", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_POINTER);
}

static void
mailer_imap_client_init (MailerImapClient *self)
{
  self->capabilities = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->enabled = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->cancellable = g_cancellable_new ();
  self->buffer = g_malloc (READ_SIZE);
  g_queue_init (&self->pending);
  g_queue_init (&self->writes);
}

MailerImapClient *
mailer_imap_client_new (MailerConnection *connection)
{
  MailerImapClient *self;

  g_return_val_if_fail (MAILER_IS_CONNECTION (connection), NULL);

  self = g_object_new (MAILER_TYPE_IMAP_CLIENT, NULL);
  self->connection = g_object_ref (connection);
  self->reader = mailer_imap_reader_new (MAILER_IMAP_DEFAULT_MAX_LINE, MAILER_IMAP_DEFAULT_MAX_LITERAL);
  return self;
}

MailerConnection *
mailer_imap_client_get_connection (MailerImapClient *self)
{
  g_return_val_if_fail (MAILER_IS_IMAP_CLIENT (self), NULL);
  return self->connection;
}

gboolean
mailer_imap_client_has_capability (MailerImapClient *self,
                                   const char       *capability)
{
  g_autofree char *key = g_ascii_strup (capability, -1);

  g_return_val_if_fail (MAILER_IS_IMAP_CLIENT (self), FALSE);
  return g_hash_table_contains (self->capabilities, key);
}

gboolean
mailer_imap_client_is_enabled (MailerImapClient *self,
                               const char       *extension)
{
  g_autofree char *key = g_ascii_strup (extension, -1);

  g_return_val_if_fail (MAILER_IS_IMAP_CLIENT (self), FALSE);
  return g_hash_table_contains (self->enabled, key);
}

gboolean
mailer_imap_client_get_utf8_accepted (MailerImapClient *self)
{
  return mailer_imap_client_is_enabled (self, "UTF8=ACCEPT");
}

gboolean
mailer_imap_client_is_connected (MailerImapClient *self)
{
  g_return_val_if_fail (MAILER_IS_IMAP_CLIENT (self), FALSE);
  /* Not only while a read is pending: also while what it read is being
   * dispatched (a command's callback asking runs then). */
  return self->broken == NULL && self->started;
}

guint64
mailer_imap_client_get_bytes_read (MailerImapClient *self)
{
  return self->bytes_read;
}

/* Failure */

static void
fail_all (MailerImapClient *self,
          const GError     *error)
{
  Pending *pending;

  if (self->broken == NULL)
    self->broken = g_error_copy (error);
  self->reading = FALSE;

  if (self->greeting != NULL)
    {
      GTask *greeting = g_steal_pointer (&self->greeting);

      g_task_return_error (greeting, g_error_copy (error));
      g_object_unref (greeting);
    }
  while ((pending = g_queue_pop_head (&self->pending)) != NULL)
    {
      g_task_return_error (pending->task, g_error_copy (error));
      pending_free (pending);
    }
  g_queue_clear_full (&self->writes, (GDestroyNotify) g_bytes_unref);

  /* Nothing more can be read or sent in step with the server (a reply
   * that cannot be framed, data before TLS, a cut): the connection is
   * dropped now, not when the client is finalized. */
  g_cancellable_cancel (self->cancellable);
  mailer_connection_close_async (self->connection, NULL, NULL, NULL);
}

/* Writing */

static void write_next (MailerImapClient *self);

static void
write_done_cb (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  g_autoptr(MailerImapClient) self = user_data;
  g_autoptr(GError) error = NULL;

  self->writing = FALSE;
  if (!mailer_connection_write_finish (MAILER_CONNECTION (source), result, &error))
    {
      fail_all (self, error);
      return;
    }
  write_next (self);
}

static void
write_next (MailerImapClient *self)
{
  GBytes *bytes;

  if (self->writing || self->broken != NULL)
    return;
  bytes = g_queue_pop_head (&self->writes);
  if (bytes == NULL)
    return;
  self->writing = TRUE;
  mailer_connection_write_async (self->connection, bytes, self->cancellable,
                                 write_done_cb, g_object_ref (self));
  g_bytes_unref (bytes);
}

static void
send_bytes (MailerImapClient *self,
            GBytes           *bytes)
{
  g_queue_push_tail (&self->writes, bytes);
  write_next (self);
}

/* Queues the parts that may go now: the first, and after that one per
 * continuation request. */
static void
send_next_part (MailerImapClient *self,
                Pending          *pending)
{
  if (pending->sent < pending->parts->len)
    send_bytes (self, g_bytes_ref (g_ptr_array_index (pending->parts, pending->sent++)));
}

/* Starts the commands that may go: pipelined, but none behind one still
 * waiting for a continuation request, or the server would take its bytes
 * for the literal it asked for. */
static void
send_queued (MailerImapClient *self)
{
  for (GList *l = self->pending.head; l != NULL; l = l->next)
    {
      Pending *pending = l->data;

      if (pending->sent == 0)
        send_next_part (self, pending);
      if (pending->sent < pending->parts->len)
        return;
    }
}

/* Reading and dispatching */

static void read_more (MailerImapClient *self);

static void
update_capabilities (MailerImapClient *self,
                     GPtrArray        *atoms)
{
  g_hash_table_remove_all (self->capabilities);
  for (guint i = 0; i < atoms->len; i++)
    {
      const char *atom = mailer_imap_value_get_atom (atoms->pdata[i]);

      if (atom != NULL)
        g_hash_table_add (self->capabilities, g_ascii_strup (atom, -1));
    }
}

static GError *
error_from_status (const MailerImapResponse *response,
                   const char               *command)
{
  const char *text = response->text && response->text[0] ? response->text : "no reason given";

  if (response->status == MAILER_IMAP_STATUS_BAD)
    return g_error_new (MAILER_IMAP_ERROR, MAILER_IMAP_ERROR_BAD,
                        "The server did not understand %s (%s)", command, text);
  /* RFC 5530: the server cannot do it now; it may later. */
  if (response->code != NULL &&
      (g_ascii_strcasecmp (response->code, "UNAVAILABLE") == 0 ||
       g_ascii_strcasecmp (response->code, "INUSE") == 0 ||
       g_ascii_strcasecmp (response->code, "LIMIT") == 0 ||
       g_ascii_strcasecmp (response->code, "SERVERBUG") == 0))
    return g_error_new (MAILER_IMAP_ERROR, MAILER_IMAP_ERROR_TRY_LATER,
                        "The server cannot do %s now (%s)", command, text);
  return g_error_new (MAILER_IMAP_ERROR, MAILER_IMAP_ERROR_NO,
                      "The server refused %s (%s)", command, text);
}

static void
complete_tagged (MailerImapClient   *self,
                 MailerImapResponse *response)
{
  for (GList *l = self->pending.head; l != NULL; l = l->next)
    {
      Pending *pending = l->data;

      if (g_strcmp0 (pending->tag, response->tag) != 0)
        continue;

      g_queue_delete_link (&self->pending, l);
      if (g_strcmp0 (response->code, "CAPABILITY") == 0)
        update_capabilities (self, response->code_args);
      if (pending->pause_after && response->status == MAILER_IMAP_STATUS_OK)
        self->paused = TRUE;

      if (response->status == MAILER_IMAP_STATUS_OK)
        g_task_return_pointer (pending->task, response, (GDestroyNotify) mailer_imap_response_free);
      else
        {
          GError *error = error_from_status (response, pending->is_idle ? "IDLE" : "a command");

          g_task_set_task_data (pending->task, response, (GDestroyNotify) mailer_imap_response_free);
          g_task_return_error (pending->task, error);
        }
      pending_free (pending);
      /* Refused before it was all sent: those behind it may go now. */
      send_queued (self);
      return;
    }

  {
    g_autoptr(GError) error = g_error_new (MAILER_IMAP_ERROR, MAILER_IMAP_ERROR_PARSE,
                                           "The server answered a command that was never sent");

    mailer_imap_response_free (response);
    fail_all (self, error);
  }
}

static void
dispatch (MailerImapClient   *self,
          MailerImapResponse *response)
{
  switch (response->kind)
    {
    case MAILER_IMAP_RESPONSE_TAGGED:
      complete_tagged (self, response);
      return;

    case MAILER_IMAP_RESPONSE_CONTINUATION:
      for (GList *l = self->pending.head; l != NULL; l = l->next)
        {
          Pending *pending = l->data;

          if (pending->sent < pending->parts->len)
            {
              send_next_part (self, pending);
              send_queued (self);
              mailer_imap_response_free (response);
              return;
            }
          if (pending->is_idle && !pending->idling)
            {
              pending->idling = TRUE;
              mailer_imap_response_free (response);
              return;
            }
        }
      /* A stray "+": nothing is waiting for it. */
      mailer_imap_response_free (response);
      return;

    case MAILER_IMAP_RESPONSE_UNTAGGED:
    default:
      break;
    }

  if (self->greeting != NULL)
    {
      GTask *greeting = g_steal_pointer (&self->greeting);

      if (g_strcmp0 (response->code, "CAPABILITY") == 0)
        update_capabilities (self, response->code_args);
      if (response->status == MAILER_IMAP_STATUS_OK || response->status == MAILER_IMAP_STATUS_PREAUTH)
        g_task_return_pointer (greeting, response, (GDestroyNotify) mailer_imap_response_free);
      else
        {
          g_task_return_new_error (greeting, MAILER_IMAP_ERROR,
                                   response->status == MAILER_IMAP_STATUS_BYE ? MAILER_IMAP_ERROR_BYE
                                                                              : MAILER_IMAP_ERROR_PARSE,
                                   "The server turned the connection away (%s)",
                                   response->text && response->text[0] ? response->text : "no greeting");
          mailer_imap_response_free (response);
        }
      g_object_unref (greeting);
      return;
    }

  if (g_strcmp0 (response->name, "CAPABILITY") == 0)
    update_capabilities (self, response->args);
  else if (g_strcmp0 (response->code, "CAPABILITY") == 0)
    update_capabilities (self, response->code_args);
  else if (g_strcmp0 (response->name, "ENABLED") == 0)
    for (guint i = 0; i < response->args->len; i++)
      {
        const char *atom = mailer_imap_value_get_atom (response->args->pdata[i]);

        if (atom != NULL)
          g_hash_table_add (self->enabled, g_ascii_strup (atom, -1));
      }

  if (response->status == MAILER_IMAP_STATUS_BYE)
    {
      /* The connection ends; what is pending fails with the reason, once
       * the socket closes. */
      g_clear_error (&self->broken);
      self->broken = g_error_new (MAILER_IMAP_ERROR, MAILER_IMAP_ERROR_BYE,
                                  "The server closed the connection (%s)",
                                  response->text && response->text[0] ? response->text : "no reason given");
    }

  {
    g_autoptr(MailerImapClient) hold = g_object_ref (self);
    gboolean consumed = FALSE;

    for (GList *l = self->pending.head; l != NULL && !consumed; l = l->next)
      {
        Pending *pending = l->data;

        if (pending->func != NULL)
          consumed = pending->func (self, response, pending->func_data);
      }
    if (!consumed)
      g_signal_emit (self, signals[SIGNAL_UNTAGGED], 0, response);
  }
  mailer_imap_response_free (response);
}

static void
read_done_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(MailerImapClient) self = user_data;
  g_autoptr(GError) error = NULL;
  gssize n;

  n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, &error);
  self->reading = FALSE;
  if (n <= 0)
    {
      if (n == 0)
        error = self->broken ? g_error_copy (self->broken)
                             : g_error_new_literal (MAILER_CONNECTION_ERROR, MAILER_CONNECTION_ERROR_CLOSED,
                                                    "The server closed the connection");
      fail_all (self, error);
      return;
    }

  self->bytes_read += n;
  mailer_imap_reader_feed (self->reader, self->buffer, n);
  while (self->broken == NULL || g_error_matches (self->broken, MAILER_IMAP_ERROR, MAILER_IMAP_ERROR_BYE))
    {
      g_autoptr(GBytes) raw = mailer_imap_reader_next (self->reader, &error);
      MailerImapResponse *response;
      gsize len;
      const char *data;

      if (raw == NULL)
        {
          if (error != NULL)
            {
              fail_all (self, error);
              return;
            }
          break;
        }
      data = g_bytes_get_data (raw, &len);
      response = mailer_imap_parse_response (data, len, &error);
      if (response == NULL)
        {
          fail_all (self, error);
          return;
        }
      dispatch (self, response);
      if (self->paused)
        return;
    }
  read_more (self);
}

static void
read_more (MailerImapClient *self)
{
  GInputStream *input;

  if (self->reading || self->paused || g_cancellable_is_cancelled (self->cancellable))
    return;
  input = mailer_connection_get_input_stream (self->connection);
  if (input == NULL)
    return;
  if (self->broken != NULL && !g_error_matches (self->broken, MAILER_IMAP_ERROR, MAILER_IMAP_ERROR_BYE))
    return;
  self->reading = TRUE;
  self->started = TRUE;
  g_input_stream_read_async (input, self->buffer, READ_SIZE, G_PRIORITY_DEFAULT, self->cancellable,
                             read_done_cb, g_object_ref (self));
}

/* Commands */

static Pending *
queue_command (MailerImapClient *self,
               GPtrArray        *parts,
               GTask            *task)
{
  Pending *pending = g_new0 (Pending, 1);

  pending->task = g_object_ref (task);
  pending->parts = parts;
  g_queue_push_tail (&self->pending, pending);
  return pending;
}

static char *
new_tag (MailerImapClient *self)
{
  return g_strdup_printf ("M%u", ++self->next_tag);
}

/**
 * mailer_imap_client_run_async:
 * @command: (transfer full): the command
 * @func: (nullable): sees untagged responses while the command runs
 *
 * Sends @command (pipelined behind any others) and completes with its
 * tagged OK response; NO and BAD are errors.
 */
void
mailer_imap_client_run_async (MailerImapClient       *self,
                              MailerImapCommand      *command,
                              MailerImapUntaggedFunc  func,
                              gpointer                func_data,
                              GCancellable           *cancellable,
                              GAsyncReadyCallback     callback,
                              gpointer                user_data)
{
  g_autoptr(MailerImapCommand) owned = command;
  g_autoptr(GTask) task = NULL;
  g_autofree char *tag = NULL;
  Pending *pending;

  g_return_if_fail (MAILER_IS_IMAP_CLIENT (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, mailer_imap_client_run_async);

  if (self->broken != NULL)
    {
      g_task_return_error (task, g_error_copy (self->broken));
      return;
    }

  tag = new_tag (self);
  pending = queue_command (self, mailer_imap_command_serialize (owned, tag,
                                                                mailer_imap_client_has_capability (self, "LITERAL+")),
                           task);
  pending->tag = g_steal_pointer (&tag);
  pending->func = func;
  pending->func_data = func_data;
  pending->pause_after = g_ascii_strcasecmp (mailer_imap_command_get_name (owned), "STARTTLS") == 0;
  send_queued (self);
  read_more (self);
}

MailerImapResponse *
mailer_imap_client_run_finish (MailerImapClient  *self,
                               GAsyncResult      *result,
                               GError           **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/* Connecting */

static void capability_cb (GObject *source, GAsyncResult *result, gpointer user_data);

static void
run_capability (MailerImapClient *self,
                GTask            *task)
{
  mailer_imap_client_run_async (self, mailer_imap_command_new ("CAPABILITY"), NULL, NULL,
                                g_task_get_cancellable (task), capability_cb, g_object_ref (task));
}

static void
tls_done_cb (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  MailerImapClient *self = g_task_get_source_object (task);
  GError *error = NULL;

  if (!mailer_connection_start_tls_finish (MAILER_CONNECTION (source), result, &error))
    {
      fail_all (self, error);
      g_task_return_error (task, error);
      return;
    }
  /* What the server said before TLS counts for nothing (RFC 3501 6.2.1). */
  g_hash_table_remove_all (self->capabilities);
  self->paused = FALSE;
  g_task_set_task_data (task, GINT_TO_POINTER (1), NULL);
  run_capability (self, task);
}

static void
starttls_cb (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  MailerImapClient *self = MAILER_IMAP_CLIENT (source);
  g_autoptr(MailerImapResponse) response = NULL;
  GError *error = NULL;

  response = mailer_imap_client_run_finish (self, result, &error);
  if (response == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  /* Bytes after the OK were sent in clear and would be taken as coming
   * through TLS: a man in the middle's trick (CVE-2011-0411). */
  if (mailer_imap_reader_get_pending (self->reader) > 0)
    {
      error = g_error_new_literal (MAILER_CONNECTION_ERROR, MAILER_CONNECTION_ERROR_TLS_INJECTION,
                                   "The server sent data before encryption started");
      fail_all (self, error);
      g_task_return_error (task, error);
      return;
    }
  mailer_connection_start_tls_async (self->connection, g_task_get_cancellable (task),
                                     tls_done_cb, g_object_ref (task));
}

static void
after_capabilities (MailerImapClient *self,
                    GTask            *task)
{
  gboolean after_tls = g_task_get_task_data (task) != NULL;

  if (mailer_connection_get_security (self->connection) == MAILER_SECURITY_STARTTLS && !after_tls)
    {
      if (!mailer_imap_client_has_capability (self, "STARTTLS"))
        {
          GError *error = g_error_new (MAILER_IMAP_ERROR, MAILER_IMAP_ERROR_NO_STARTTLS,
                                       "The server %s does not offer encryption (STARTTLS); "
                                       "Mailer will not send your password unencrypted",
                                       mailer_connection_get_host (self->connection));

          fail_all (self, error);
          g_task_return_error (task, error);
          return;
        }
      mailer_imap_client_run_async (self, mailer_imap_command_new ("STARTTLS"), NULL, NULL,
                                    g_task_get_cancellable (task), starttls_cb, g_object_ref (task));
      return;
    }
  g_task_return_boolean (task, TRUE);
}

static void
capability_cb (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  MailerImapClient *self = MAILER_IMAP_CLIENT (source);
  g_autoptr(MailerImapResponse) response = NULL;
  GError *error = NULL;

  response = mailer_imap_client_run_finish (self, result, &error);
  if (response == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  after_capabilities (self, task);
}

static void
greeting_cb (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  MailerImapClient *self = g_task_get_source_object (task);
  g_autoptr(MailerImapResponse) greeting = NULL;
  GError *error = NULL;

  greeting = g_task_propagate_pointer (G_TASK (result), &error);
  if (greeting == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  if (g_hash_table_size (self->capabilities) == 0)
    run_capability (self, task);
  else
    after_capabilities (self, task);
}

static void
connected_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  MailerImapClient *self = g_task_get_source_object (task);
  GError *error = NULL;

  if (!mailer_connection_connect_finish (MAILER_CONNECTION (source), result, &error))
    {
      fail_all (self, error);
      g_task_return_error (task, error);
      return;
    }
  self->greeting = g_task_new (self, g_task_get_cancellable (task), greeting_cb, g_object_ref (task));
  read_more (self);
}

/**
 * mailer_imap_client_connect_async:
 *
 * Connects, reads the greeting and capabilities, and upgrades with
 * STARTTLS when the connection's security asks for it (failing when the
 * server cannot: never a silent downgrade).
 */
void
mailer_imap_client_connect_async (MailerImapClient    *self,
                                  GCancellable        *cancellable,
                                  GAsyncReadyCallback  callback,
                                  gpointer             user_data)
{
  GTask *task;

  g_return_if_fail (MAILER_IS_IMAP_CLIENT (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, mailer_imap_client_connect_async);
  mailer_connection_connect_async (self->connection, cancellable, connected_cb, task);
}

gboolean
mailer_imap_client_connect_finish (MailerImapClient  *self,
                                   GAsyncResult      *result,
                                   GError           **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

/* Logging in */

static void
enable_cb (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autoptr(MailerImapResponse) response = NULL;

  /* ENABLE failing only means doing without. */
  response = mailer_imap_client_run_finish (MAILER_IMAP_CLIENT (source), result, NULL);
  g_task_return_boolean (task, TRUE);
}

static void
enable_extensions (MailerImapClient *self,
                   GTask            *task)
{
  MailerImapCommand *command;
  gboolean any = FALSE;

  if (!mailer_imap_client_has_capability (self, "ENABLE"))
    {
      g_task_return_boolean (task, TRUE);
      return;
    }
  command = mailer_imap_command_new ("ENABLE");
  if (mailer_imap_client_has_capability (self, "QRESYNC"))
    any = mailer_imap_command_add_atom (command, "QRESYNC", NULL);
  else if (mailer_imap_client_has_capability (self, "CONDSTORE"))
    any = mailer_imap_command_add_atom (command, "CONDSTORE", NULL);
  if (mailer_imap_client_has_capability (self, "UTF8=ACCEPT"))
    any = mailer_imap_command_add_atom (command, "UTF8=ACCEPT", NULL);
  if (!any)
    {
      mailer_imap_command_free (command);
      g_task_return_boolean (task, TRUE);
      return;
    }
  mailer_imap_client_run_async (self, command, NULL, NULL, g_task_get_cancellable (task),
                                enable_cb, g_object_ref (task));
}

static void
post_login_capability_cb (GObject      *source,
                          GAsyncResult *result,
                          gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autoptr(MailerImapResponse) response = NULL;
  GError *error = NULL;

  response = mailer_imap_client_run_finish (MAILER_IMAP_CLIENT (source), result, &error);
  if (response == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  enable_extensions (MAILER_IMAP_CLIENT (source), task);
}

static void
login_cb (GObject      *source,
          GAsyncResult *result,
          gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  MailerImapClient *self = MAILER_IMAP_CLIENT (source);
  g_autoptr(MailerImapResponse) response = NULL;
  GError *error = NULL;

  response = mailer_imap_client_run_finish (self, result, &error);
  if (response == NULL)
    {
      MailerImapResponse *refusal = g_task_get_task_data (G_TASK (result));
      const char *code = refusal ? refusal->code : NULL;

      /* A refusal is a wrong password unless the server says otherwise
       * (RFC 5530: UNAVAILABLE, EXPIRED, PRIVACYREQUIRED...). */
      if (g_error_matches (error, MAILER_IMAP_ERROR, MAILER_IMAP_ERROR_NO) &&
          (code == NULL || g_strcmp0 (code, "AUTHENTICATIONFAILED") == 0 ||
           g_strcmp0 (code, "AUTHORIZATIONFAILED") == 0))
        {
          g_clear_error (&error);
          error = g_error_new (MAILER_IMAP_ERROR, MAILER_IMAP_ERROR_AUTH_FAILED,
                               "The server rejected the user name or password (%s)",
                               refusal && refusal->text[0] ? refusal->text : "no reason given");
        }
      g_task_return_error (task, error);
      return;
    }

  /* Servers often tell their post-login capabilities in the OK. */
  if (g_strcmp0 (response->code, "CAPABILITY") != 0)
    {
      mailer_imap_client_run_async (self, mailer_imap_command_new ("CAPABILITY"), NULL, NULL,
                                    g_task_get_cancellable (task), post_login_capability_cb,
                                    g_object_ref (task));
      return;
    }
  enable_extensions (self, task);
}

/**
 * mailer_imap_client_login_async:
 *
 * Logs in with AUTHENTICATE PLAIN (with SASL-IR when offered) or LOGIN,
 * then enables QRESYNC (or CONDSTORE) and UTF8=ACCEPT when available.
 * A refused password fails with %MAILER_IMAP_ERROR_AUTH_FAILED.
 */
void
mailer_imap_client_login_async (MailerImapClient    *self,
                                const char          *username,
                                const char          *password,
                                GCancellable        *cancellable,
                                GAsyncReadyCallback  callback,
                                gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(GTask) inner = NULL;
  GError *error = NULL;

  g_return_if_fail (MAILER_IS_IMAP_CLIENT (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, mailer_imap_client_login_async);

  if (self->broken != NULL)
    {
      g_task_return_error (task, g_error_copy (self->broken));
      return;
    }
  if (!mailer_connection_is_encrypted (self->connection) &&
      mailer_connection_get_security (self->connection) != MAILER_SECURITY_NONE)
    {
      g_task_return_new_error (task, MAILER_IMAP_ERROR, MAILER_IMAP_ERROR_NO_STARTTLS,
                               "The connection is not encrypted; Mailer will not send your password");
      return;
    }
  if (mailer_imap_client_has_capability (self, "LOGINDISABLED"))
    {
      g_task_return_new_error (task, MAILER_IMAP_ERROR, MAILER_IMAP_ERROR_LOGIN_DISABLED,
                               "The server does not allow logging in on this connection");
      return;
    }
  if (strpbrk (username, "\r\n") != NULL || strpbrk (password, "\r\n") != NULL)
    {
      g_task_return_new_error (task, MAILER_IMAP_ERROR, MAILER_IMAP_ERROR_INVALID,
                               "The user name or password contains a line break");
      return;
    }

  if (mailer_imap_client_has_capability (self, "AUTH=PLAIN"))
    {
      g_autoptr(GString) plain = g_string_new (NULL);
      g_autofree char *encoded = NULL;
      g_autofree char *tag = new_tag (self);
      GPtrArray *parts = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
      Pending *pending;
      char *line;

      g_string_append_c (plain, '\0');
      g_string_append (plain, username);
      g_string_append_c (plain, '\0');
      g_string_append (plain, password);
      encoded = g_base64_encode ((const guchar *) plain->str, plain->len);
      memset (plain->str, 0, plain->len);

      if (mailer_imap_client_has_capability (self, "SASL-IR"))
        {
          line = g_strdup_printf ("%s AUTHENTICATE PLAIN %s\r\n", tag, encoded);
          g_ptr_array_add (parts, g_bytes_new_take (line, strlen (line)));
        }
      else
        {
          line = g_strdup_printf ("%s AUTHENTICATE PLAIN\r\n", tag);
          g_ptr_array_add (parts, g_bytes_new_take (line, strlen (line)));
          line = g_strdup_printf ("%s\r\n", encoded);
          g_ptr_array_add (parts, g_bytes_new_take (line, strlen (line)));
        }
      memset (encoded, 0, strlen (encoded));

      inner = g_task_new (self, cancellable, login_cb, g_object_ref (task));
      g_task_set_source_tag (inner, mailer_imap_client_run_async);
      pending = queue_command (self, parts, inner);
      pending->tag = g_steal_pointer (&tag);
      send_queued (self);
      read_more (self);
      return;
    }

  {
    MailerImapCommand *command = mailer_imap_command_new ("LOGIN");

    mailer_imap_command_set_secret (command);
    if (!mailer_imap_command_add_string (command, username, &error) ||
        !mailer_imap_command_add_string (command, password, &error))
      {
        mailer_imap_command_free (command);
        g_task_return_error (task, error);
        return;
      }
    mailer_imap_client_run_async (self, command, NULL, NULL, cancellable, login_cb, g_object_ref (task));
  }
}

gboolean
mailer_imap_client_login_finish (MailerImapClient  *self,
                                 GAsyncResult      *result,
                                 GError           **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

/* IDLE */

static void
idle_cb (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autoptr(MailerImapResponse) response = NULL;
  GError *error = NULL;

  response = mailer_imap_client_run_finish (MAILER_IMAP_CLIENT (source), result, &error);
  if (response == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
}

/**
 * mailer_imap_client_idle_async:
 *
 * Starts IDLE (RFC 2177): the server now tells of changes as they happen,
 * through the "untagged" signal.  Completes once mailer_imap_client_idle_done()
 * ended it and the server confirmed.
 */
void
mailer_imap_client_idle_async (MailerImapClient    *self,
                               GCancellable        *cancellable,
                               GAsyncReadyCallback  callback,
                               gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(GTask) inner = NULL;
  g_autofree char *tag = NULL;
  GPtrArray *parts;
  Pending *pending;
  char *line;

  g_return_if_fail (MAILER_IS_IMAP_CLIENT (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, mailer_imap_client_idle_async);
  if (self->broken != NULL)
    {
      g_task_return_error (task, g_error_copy (self->broken));
      return;
    }

  tag = new_tag (self);
  line = g_strdup_printf ("%s IDLE\r\n", tag);
  parts = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  g_ptr_array_add (parts, g_bytes_new_take (line, strlen (line)));

  inner = g_task_new (self, cancellable, idle_cb, g_object_ref (task));
  g_task_set_source_tag (inner, mailer_imap_client_run_async);
  pending = queue_command (self, parts, inner);
  pending->tag = g_steal_pointer (&tag);
  pending->is_idle = TRUE;
  send_queued (self);
  read_more (self);
}

gboolean
mailer_imap_client_idle_finish (MailerImapClient  *self,
                                GAsyncResult      *result,
                                GError           **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

/**
 * mailer_imap_client_idle_done:
 *
 * Ends IDLE.  Safe to call before the server confirmed IDLE, and more
 * than once.
 */
void
mailer_imap_client_idle_done (MailerImapClient *self)
{
  g_return_if_fail (MAILER_IS_IMAP_CLIENT (self));

  for (GList *l = self->pending.head; l != NULL; l = l->next)
    {
      Pending *pending = l->data;

      if (pending->is_idle && !pending->done_sent)
        {
          pending->done_sent = TRUE;
          send_bytes (self, g_bytes_new_static ("DONE\r\n", 6));
        }
    }
}

/* LOGOUT */

static void
logout_closed_cb (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;

  mailer_connection_close_finish (MAILER_CONNECTION (source), result, NULL);
  g_task_return_boolean (task, TRUE);
}

static void
logout_cb (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  MailerImapClient *self = MAILER_IMAP_CLIENT (source);
  g_autoptr(MailerImapResponse) response = NULL;

  /* BYE then OK, or the server closed first: either way we are done. */
  response = mailer_imap_client_run_finish (self, result, NULL);
  g_cancellable_cancel (self->cancellable);
  mailer_connection_close_async (self->connection, NULL, logout_closed_cb, g_object_ref (task));
}

void
mailer_imap_client_logout_async (MailerImapClient    *self,
                                 GCancellable        *cancellable,
                                 GAsyncReadyCallback  callback,
                                 gpointer             user_data)
{
  GTask *task;

  g_return_if_fail (MAILER_IS_IMAP_CLIENT (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, mailer_imap_client_logout_async);
  mailer_imap_client_run_async (self, mailer_imap_command_new ("LOGOUT"), NULL, NULL,
                                cancellable, logout_cb, task);
}

gboolean
mailer_imap_client_logout_finish (MailerImapClient  *self,
                                  GAsyncResult      *result,
                                  GError           **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

/**
 * mailer_imap_client_disconnect:
 *
 * Drops the connection without a goodbye; pending commands fail.
 */
void
mailer_imap_client_disconnect (MailerImapClient *self)
{
  g_autoptr(GError) error = NULL;

  g_return_if_fail (MAILER_IS_IMAP_CLIENT (self));

  error = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED, "The connection was closed");
  fail_all (self, error);
  g_cancellable_cancel (self->cancellable);
  mailer_connection_close_async (self->connection, NULL, NULL, NULL);
}
