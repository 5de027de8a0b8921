/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * MailerPop3Client: an asynchronous POP3 client (RFC 1939) on a
 * MailerConnection, with CAPA (RFC 2449), STLS (RFC 2595), SASL PLAIN and
 * LOGIN (RFC 5034), APOP and USER/PASS, and PIPELINING.
 *
 * Every operation is an "exchange": a list of commands whose replies are
 * read through the pure parser (mailer-pop3-parser.c) and handed to the
 * operation's reply function.  With PIPELINING, up to a window of commands
 * is on the wire at once; without, one at a time.
 */
#include "config.h"

#include <string.h>

#include "mailer-pop3-client.h"

#define READ_SIZE (64 * 1024)
#define PIPELINE_WINDOW 64

struct _MailerPop3Client
{
  GObject parent_instance;

  MailerConnection *connection;
  MailerPop3Parser *parser;
  GHashTable *capabilities;   /* upper-case keyword -> the rest of the line */
  char *apop_timestamp;
  gboolean pipelining_allowed;
  gboolean broken;            /* a failed exchange leaves the session unusable */
  gboolean busy;
  guint8 *read_buffer;
};

G_DEFINE_FINAL_TYPE (MailerPop3Client, mailer_pop3_client, G_TYPE_OBJECT)

void
mailer_pop3_message_free (MailerPop3Message *message)
{
  if (message == NULL)
    return;
  g_free (message->uidl);
  g_free (message);
}

static void
mailer_pop3_client_finalize (GObject *object)
{
  MailerPop3Client *self = (MailerPop3Client *)object;

  g_clear_object (&self->connection);
  g_clear_pointer (&self->parser, mailer_pop3_parser_free);
  g_clear_pointer (&self->capabilities, g_hash_table_unref);
  g_clear_pointer (&self->apop_timestamp, g_free);
  g_clear_pointer (&self->read_buffer, g_free);

  G_OBJECT_CLASS (mailer_pop3_client_parent_class)->finalize (object);
}

static void
mailer_pop3_client_class_init (MailerPop3ClientClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = mailer_pop3_client_finalize;
}

static void
mailer_pop3_client_init (MailerPop3Client *self)
{
  self->capabilities = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  self->pipelining_allowed = TRUE;
  self->read_buffer = g_malloc (READ_SIZE);
}

/**
 * mailer_pop3_client_new:
 * @connection: a connection not yet connected; its security decides
 *   between implicit TLS, STLS and (only when the user chose it) none
 */
MailerPop3Client *
mailer_pop3_client_new (MailerConnection *connection)
{
  MailerPop3Client *self;

  g_return_val_if_fail (MAILER_IS_CONNECTION (connection), NULL);

  self = g_object_new (MAILER_TYPE_POP3_CLIENT, NULL);
  self->connection = g_object_ref (connection);
  self->parser = mailer_pop3_parser_new (MAX (mailer_connection_get_max_line_length (connection),
                                              MAILER_POP3_DEFAULT_MAX_LINE));
  return self;
}

MailerConnection *
mailer_pop3_client_get_connection (MailerPop3Client *self)
{
  g_return_val_if_fail (MAILER_IS_POP3_CLIENT (self), NULL);
  return self->connection;
}

gboolean
mailer_pop3_client_has_capability (MailerPop3Client *self,
                                   const char       *capability)
{
  g_autofree char *key = g_ascii_strup (capability, -1);

  g_return_val_if_fail (MAILER_IS_POP3_CLIENT (self), FALSE);
  return g_hash_table_contains (self->capabilities, key);
}

/* For tests and benchmarks: never pipeline, even when the server can. */
void
mailer_pop3_client_set_pipelining (MailerPop3Client *self,
                                   gboolean          allowed)
{
  g_return_if_fail (MAILER_IS_POP3_CLIENT (self));
  self->pipelining_allowed = allowed;
}

/* Exchanges */

typedef struct _Exchange Exchange;

/* Called for every event of reply @index.  Returning FALSE fails the
 * exchange with @error. */
typedef gboolean (*ReplyFunc) (MailerPop3Client       *self,
                               GTask                  *task,
                               guint                   index,
                               const MailerPop3Event  *event,
                               GError                **error);

struct _Exchange
{
  GPtrArray *lines;        /* command lines with CRLF; NULL for the greeting */
  GArray *multiline;       /* gboolean per command */
  guint n_written;
  guint n_done;
  gboolean writing;
  GQueue raw_writes;       /* GBytes queued by reply functions (SASL) */
  ReplyFunc func;
  gpointer data;
  GDestroyNotify data_free;
};

static void
exchange_free (Exchange *exchange)
{
  g_ptr_array_unref (exchange->lines);
  g_array_unref (exchange->multiline);
  g_queue_clear_full (&exchange->raw_writes, (GDestroyNotify) g_bytes_unref);
  if (exchange->data_free != NULL)
    exchange->data_free (exchange->data);
  g_free (exchange);
}

static Exchange *
exchange_new (ReplyFunc      func,
              gpointer       data,
              GDestroyNotify data_free)
{
  Exchange *exchange = g_new0 (Exchange, 1);

  exchange->lines = g_ptr_array_new_with_free_func (g_free);
  exchange->multiline = g_array_new (FALSE, FALSE, sizeof (gboolean));
  exchange->func = func;
  exchange->data = data;
  exchange->data_free = data_free;
  g_queue_init (&exchange->raw_writes);
  return exchange;
}

/* @line without CRLF; NULL means a reply comes without a command (the
 * greeting). */
static void
exchange_add (Exchange   *exchange,
              const char *line,
              gboolean    multiline)
{
  g_ptr_array_add (exchange->lines, line ? g_strconcat (line, "\r\n", NULL) : NULL);
  g_array_append_val (exchange->multiline, multiline);
}

static gpointer
exchange_data (GTask *task)
{
  return ((Exchange *) g_task_get_task_data (task))->data;
}

static void read_more (GTask *task);
static void write_more (GTask *task);

static void
exchange_fail (GTask  *task,
               GError *error)
{
  MailerPop3Client *self = g_task_get_source_object (task);

  self->broken = TRUE;
  self->busy = FALSE;
  g_task_return_error (task, error);
}

static void
write_done_cb (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  Exchange *exchange = g_task_get_task_data (task);
  GError *error = NULL;

  exchange->writing = FALSE;
  if (!mailer_connection_write_finish (MAILER_CONNECTION (source), result, &error))
    {
      if (g_task_had_error (task))
        g_clear_error (&error);
      else
        exchange_fail (task, error);
      return;
    }
  if (g_task_had_error (task))
    return;
  if (exchange->n_done == exchange->lines->len && g_queue_is_empty (&exchange->raw_writes))
    {
      MailerPop3Client *self = g_task_get_source_object (task);

      self->busy = FALSE;
      g_task_return_boolean (task, TRUE);
      return;
    }
  write_more (task);
}

/* Sends queued SASL responses, then as many commands as the window allows. */
static void
write_more (GTask *task)
{
  MailerPop3Client *self = g_task_get_source_object (task);
  Exchange *exchange = g_task_get_task_data (task);
  g_autoptr(GString) out = NULL;
  GBytes *raw;
  guint window;

  if (exchange->writing)
    return;

  raw = g_queue_pop_head (&exchange->raw_writes);
  if (raw != NULL)
    {
      exchange->writing = TRUE;
      mailer_connection_write_async (self->connection, raw, g_task_get_cancellable (task),
                                     write_done_cb, g_object_ref (task));
      g_bytes_unref (raw);
      return;
    }

  window = self->pipelining_allowed && mailer_pop3_client_has_capability (self, "PIPELINING")
           ? PIPELINE_WINDOW : 1;
  while (exchange->n_written < exchange->lines->len &&
         exchange->n_written - exchange->n_done < window)
    {
      const char *line = g_ptr_array_index (exchange->lines, exchange->n_written);

      /* The parser must know of a reply before it can arrive. */
      mailer_pop3_parser_expect (self->parser, g_array_index (exchange->multiline, gboolean, exchange->n_written));
      exchange->n_written++;
      if (line == NULL)
        continue;
      if (out == NULL)
        out = g_string_new (NULL);
      g_string_append (out, line);
    }

  if (out != NULL)
    {
      g_autoptr(GBytes) bytes = g_string_free_to_bytes (g_steal_pointer (&out));

      exchange->writing = TRUE;
      mailer_connection_write_async (self->connection, bytes, g_task_get_cancellable (task),
                                     write_done_cb, g_object_ref (task));
    }
}

/* Queues a line that answers a continuation within the current reply. */
static void
exchange_send_raw (GTask      *task,
                   const char *line)
{
  Exchange *exchange = g_task_get_task_data (task);
  g_autofree char *with_crlf = g_strconcat (line, "\r\n", NULL);

  g_queue_push_tail (&exchange->raw_writes, g_bytes_new (with_crlf, strlen (with_crlf)));
  write_more (task);
}

/* Runs the parser over what was read; TRUE when the exchange is over
 * (finished or failed). */
static gboolean
process_events (GTask *task)
{
  MailerPop3Client *self = g_task_get_source_object (task);
  Exchange *exchange = g_task_get_task_data (task);
  MailerPop3Event event;
  GError *error = NULL;

  while (exchange->n_done < exchange->n_written)
    {
      gboolean reply_done;

      if (!mailer_pop3_parser_next (self->parser, &event, &error))
        {
          if (error != NULL)
            {
              exchange_fail (task, error);
              return TRUE;
            }
          return FALSE;
        }

      reply_done = event.type == MAILER_POP3_EVENT_END ||
                   (event.type == MAILER_POP3_EVENT_STATUS &&
                    (!event.ok || !g_array_index (exchange->multiline, gboolean, exchange->n_done)));

      if (event.type == MAILER_POP3_EVENT_CONTINUE)
        {
          /* Only AUTH asks for more; anywhere else it is nonsense. */
          if (!g_str_has_prefix (g_ptr_array_index (exchange->lines, exchange->n_done) ?: "", "AUTH "))
            {
              exchange_fail (task, g_error_new_literal (MAILER_POP3_ERROR, MAILER_POP3_ERROR_PROTOCOL,
                                                        "The server asked for more where no command needs it"));
              return TRUE;
            }
        }

      if (!exchange->func (self, task, exchange->n_done, &event, &error))
        {
          exchange_fail (task, error);
          return TRUE;
        }
      if (reply_done)
        {
          exchange->n_done++;
          write_more (task);
        }
    }

  if (exchange->n_done == exchange->lines->len)
    {
      /* Done once our own last write has finished too, so that the next
       * exchange finds the stream idle. */
      if (!exchange->writing)
        {
          self->busy = FALSE;
          g_task_return_boolean (task, TRUE);
        }
      return TRUE;
    }
  return FALSE;
}

static void
read_done_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  MailerPop3Client *self = g_task_get_source_object (task);
  GError *error = NULL;
  gssize n;

  n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, &error);
  if (g_task_get_completed (task) || g_task_had_error (task))
    {
      g_clear_error (&error);
      return;
    }
  if (n < 0)
    {
      exchange_fail (task, error);
      return;
    }
  if (n == 0)
    {
      exchange_fail (task, g_error_new_literal (MAILER_CONNECTION_ERROR, MAILER_CONNECTION_ERROR_CLOSED,
                                                "The server closed the connection"));
      return;
    }

  mailer_pop3_parser_feed (self->parser, self->read_buffer, n);
  if (!process_events (task))
    read_more (task);
}

static void
read_more (GTask *task)
{
  MailerPop3Client *self = g_task_get_source_object (task);
  GInputStream *input = mailer_connection_get_input_stream (self->connection);

  /* A GBufferedInputStream reads asynchronously in a worker thread, one
   * TLS record (16 KiB) at a time.  With nothing buffered, the stream
   * below it gives the same bytes, polled in this thread. */
  if (G_IS_BUFFERED_INPUT_STREAM (input) &&
      g_buffered_input_stream_get_available (G_BUFFERED_INPUT_STREAM (input)) == 0)
    input = g_filter_input_stream_get_base_stream (G_FILTER_INPUT_STREAM (input));

  g_input_stream_read_async (input, self->read_buffer, READ_SIZE, G_PRIORITY_DEFAULT,
                             g_task_get_cancellable (task), read_done_cb, g_object_ref (task));
}

static void
run_exchange (MailerPop3Client    *self,
              Exchange            *exchange,
              GCancellable        *cancellable,
              GAsyncReadyCallback  callback,
              gpointer             user_data)
{
  g_autoptr(GTask) task = g_task_new (self, cancellable, callback, user_data);

  g_task_set_task_data (task, exchange, (GDestroyNotify) exchange_free);

  if (self->broken)
    {
      g_task_return_new_error (task, MAILER_CONNECTION_ERROR, MAILER_CONNECTION_ERROR_NOT_CONNECTED,
                               "The connection to the server was lost");
      return;
    }
  g_return_if_fail (!self->busy);
  self->busy = TRUE;

  write_more (task);
  /* Replies may already be buffered (none are, but the parser decides). */
  if (!process_events (task))
    read_more (task);
}

static gboolean
exchange_finish (GAsyncResult  *result,
                 GError       **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

/* Connecting: greeting, CAPA, STLS */

static gboolean
greeting_func (MailerPop3Client       *self,
               GTask                  *task,
               guint                   index,
               const MailerPop3Event  *event,
               GError                **error)
{
  const char *lt, *gt;

  if (!event->ok)
    {
      mailer_pop3_set_error_from_status (error, event, "Connecting");
      return FALSE;
    }

  /* APOP's timestamp: "<...@...>" somewhere in the greeting. */
  lt = strchr (event->text, '<');
  gt = lt ? strchr (lt, '>') : NULL;
  if (lt != NULL && gt != NULL && memchr (lt, '@', gt - lt) != NULL)
    self->apop_timestamp = g_strndup (lt, gt - lt + 1);
  return TRUE;
}

static gboolean
capa_func (MailerPop3Client       *self,
           GTask                  *task,
           guint                   index,
           const MailerPop3Event  *event,
           GError                **error)
{
  g_autofree char *line = NULL;
  char *space;

  /* A server without CAPA (RFC 1939 only) answers -ERR: no capabilities. */
  if (event->type != MAILER_POP3_EVENT_LINE)
    return TRUE;

  line = g_strndup (event->data, event->len);
  g_strstrip (line);
  if (line[0] == '\0')
    return TRUE;
  space = strchr (line, ' ');
  if (space != NULL)
    *space = '\0';
  g_hash_table_insert (self->capabilities, g_ascii_strup (line, -1),
                       g_strdup (space ? space + 1 : ""));
  return TRUE;
}

static gboolean
ok_func (MailerPop3Client       *self,
         GTask                  *task,
         guint                   index,
         const MailerPop3Event  *event,
         GError                **error)
{
  if (event->type == MAILER_POP3_EVENT_STATUS && !event->ok)
    {
      const char *what = exchange_data (task);

      mailer_pop3_set_error_from_status (error, event, what ? what : "The server");
      return FALSE;
    }
  return TRUE;
}

static void capa_done_cb (GObject *source, GAsyncResult *result, gpointer user_data);

static void
run_capa (MailerPop3Client *self,
          GTask            *task)
{
  Exchange *exchange = exchange_new (capa_func, NULL, NULL);

  g_hash_table_remove_all (self->capabilities);
  exchange_add (exchange, "CAPA", TRUE);
  run_exchange (self, exchange, g_task_get_cancellable (task), capa_done_cb, g_object_ref (task));
}

static void
start_tls_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  MailerPop3Client *self = g_task_get_source_object (task);
  GError *error = NULL;

  if (!mailer_connection_start_tls_finish (MAILER_CONNECTION (source), result, &error))
    {
      self->broken = TRUE;
      g_task_return_error (task, error);
      return;
    }
  /* What the server said before TLS is forgotten (RFC 2595). */
  g_clear_pointer (&self->apop_timestamp, g_free);
  g_task_set_task_data (task, GINT_TO_POINTER (1), NULL);
  run_capa (self, task);
}

static void
stls_done_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  MailerPop3Client *self = MAILER_POP3_CLIENT (source);
  GError *error = NULL;

  if (!exchange_finish (result, &error))
    {
      g_task_return_error (task, error);
      return;
    }
  /* Bytes after the +OK were sent in clear and would be taken as the
   * first replies over TLS: a man in the middle's trick (CVE-2011-0411). */
  if (mailer_pop3_parser_get_buffered (self->parser) > 0)
    {
      self->broken = TRUE;
      g_task_return_new_error (task, MAILER_CONNECTION_ERROR, MAILER_CONNECTION_ERROR_TLS_INJECTION,
                               "The server sent data before encryption started");
      return;
    }
  mailer_connection_start_tls_async (self->connection, g_task_get_cancellable (task),
                                     start_tls_cb, g_object_ref (task));
}

static void
capa_done_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  MailerPop3Client *self = MAILER_POP3_CLIENT (source);
  gboolean after_tls = g_task_get_task_data (task) != NULL;
  GError *error = NULL;

  if (!exchange_finish (result, &error))
    {
      g_task_return_error (task, error);
      return;
    }

  if (mailer_connection_get_security (self->connection) == MAILER_SECURITY_STARTTLS && !after_tls)
    {
      Exchange *exchange;

      if (!mailer_pop3_client_has_capability (self, "STLS"))
        {
          /* Never fall back to sending the password in clear. */
          self->broken = TRUE;
          g_task_return_new_error (task, MAILER_POP3_ERROR, MAILER_POP3_ERROR_NO_STARTTLS,
                                   "The server %s does not offer encryption (STLS); "
                                   "Mailer will not send your password unencrypted",
                                   mailer_connection_get_host (self->connection));
          return;
        }
      exchange = exchange_new (ok_func, g_strdup ("Starting encryption"), g_free);
      exchange_add (exchange, "STLS", FALSE);
      run_exchange (self, exchange, g_task_get_cancellable (task), stls_done_cb, g_object_ref (task));
      return;
    }

  g_task_return_boolean (task, TRUE);
}

static void
greeting_done_cb (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  MailerPop3Client *self = MAILER_POP3_CLIENT (source);
  GError *error = NULL;

  if (!exchange_finish (result, &error))
    {
      g_task_return_error (task, error);
      return;
    }
  run_capa (self, task);
}

static void
connected_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  MailerPop3Client *self = g_task_get_source_object (task);
  Exchange *exchange;
  GError *error = NULL;

  if (!mailer_connection_connect_finish (MAILER_CONNECTION (source), result, &error))
    {
      self->broken = TRUE;
      g_task_return_error (task, error);
      return;
    }

  exchange = exchange_new (greeting_func, NULL, NULL);
  exchange_add (exchange, NULL, FALSE);
  run_exchange (self, exchange, g_task_get_cancellable (task), greeting_done_cb, g_object_ref (task));
}

/**
 * mailer_pop3_client_connect_async:
 *
 * Connects, reads the greeting and the capabilities, and upgrades with
 * STLS when the connection's security says STARTTLS (failing if the server
 * cannot).
 */
void
mailer_pop3_client_connect_async (MailerPop3Client    *self,
                                  GCancellable        *cancellable,
                                  GAsyncReadyCallback  callback,
                                  gpointer             user_data)
{
  GTask *task;

  g_return_if_fail (MAILER_IS_POP3_CLIENT (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, mailer_pop3_client_connect_async);
  mailer_connection_connect_async (self->connection, cancellable, connected_cb, task);
}

gboolean
mailer_pop3_client_connect_finish (MailerPop3Client  *self,
                                   GAsyncResult      *result,
                                   GError           **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

/* Logging in */

typedef struct
{
  char *username;
  char *password;
  guint step;
} LoginData;

static void
login_data_free (LoginData *data)
{
  g_free (data->username);
  if (data->password != NULL)
    memset (data->password, 0, strlen (data->password));
  g_free (data->password);
  g_free (data);
}

static gboolean
login_func (MailerPop3Client       *self,
            GTask                  *task,
            guint                   index,
            const MailerPop3Event  *event,
            GError                **error)
{
  LoginData *data = exchange_data (task);

  if (event->type == MAILER_POP3_EVENT_CONTINUE)
    {
      /* AUTH LOGIN: the user name, then the password.  Anything more is
       * refused with "*" (RFC 5034 section 4). */
      const char *answer = data->step == 0 ? data->username : data->step == 1 ? data->password : NULL;
      g_autofree char *encoded = answer ? g_base64_encode ((const guchar *) answer, strlen (answer)) : NULL;

      data->step++;
      exchange_send_raw (task, encoded ? encoded : "*");
      return TRUE;
    }

  if (event->type == MAILER_POP3_EVENT_STATUS && !event->ok)
    {
      /* Without a code, a refused login is a refused password. */
      if (event->code == NULL || g_strcmp0 (event->code, "AUTH") == 0)
        g_set_error (error, MAILER_POP3_ERROR, MAILER_POP3_ERROR_AUTH_FAILED,
                     "The server rejected the user name or password (%s)",
                     event->text[0] ? event->text : "no reason given");
      else
        mailer_pop3_set_error_from_status (error, event, "Logging in");
      return FALSE;
    }
  return TRUE;
}

static gboolean
has_sasl (MailerPop3Client *self,
          const char       *mechanism)
{
  const char *list = g_hash_table_lookup (self->capabilities, "SASL");
  g_auto(GStrv) mechanisms = NULL;

  if (list == NULL)
    return FALSE;
  mechanisms = g_strsplit (list, " ", -1);
  for (guint i = 0; mechanisms[i] != NULL; i++)
    if (g_ascii_strcasecmp (mechanisms[i], mechanism) == 0)
      return TRUE;
  return FALSE;
}

static void
login_done_cb (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  GError *error = NULL;

  if (!exchange_finish (result, &error))
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
}

/**
 * mailer_pop3_client_login_async:
 *
 * Logs in with the strongest method the server offers: SASL PLAIN, SASL
 * LOGIN, APOP, then USER/PASS.  A refused password fails with
 * %MAILER_POP3_ERROR_AUTH_FAILED.
 */
void
mailer_pop3_client_login_async (MailerPop3Client    *self,
                                const char          *username,
                                const char          *password,
                                GCancellable        *cancellable,
                                GAsyncReadyCallback  callback,
                                gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  Exchange *exchange;
  LoginData *data;

  g_return_if_fail (MAILER_IS_POP3_CLIENT (self));
  g_return_if_fail (username != NULL && password != NULL);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, mailer_pop3_client_login_async);

  if (strpbrk (username, "\r\n") != NULL || strpbrk (password, "\r\n") != NULL)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                               "The user name or password contains a line break");
      return;
    }
  if (!mailer_connection_is_encrypted (self->connection) &&
      mailer_connection_get_security (self->connection) != MAILER_SECURITY_NONE)
    {
      g_task_return_new_error (task, MAILER_POP3_ERROR, MAILER_POP3_ERROR_NO_AUTH_METHOD,
                               "The connection is not encrypted; Mailer will not send your password");
      return;
    }

  data = g_new0 (LoginData, 1);
  data->username = g_strdup (username);
  data->password = g_strdup (password);
  exchange = exchange_new (login_func, data, (GDestroyNotify) login_data_free);

  if (has_sasl (self, "PLAIN"))
    {
      g_autoptr(GString) plain = g_string_new (NULL);
      g_autofree char *encoded = NULL;
      g_autofree char *line = NULL;

      g_string_append_c (plain, '\0');
      g_string_append (plain, username);
      g_string_append_c (plain, '\0');
      g_string_append (plain, password);
      encoded = g_base64_encode ((const guchar *) plain->str, plain->len);
      memset (plain->str, 0, plain->len);
      line = g_strconcat ("AUTH PLAIN ", encoded, NULL);
      exchange_add (exchange, line, FALSE);
      memset (line, 0, strlen (line));
      memset (encoded, 0, strlen (encoded));
      data->step = 2;     /* a challenge after the initial response is refused */
    }
  else if (has_sasl (self, "LOGIN"))
    exchange_add (exchange, "AUTH LOGIN", FALSE);
  else if (self->apop_timestamp != NULL)
    {
      g_autofree char *salted = g_strconcat (self->apop_timestamp, password, NULL);
      g_autofree char *digest = g_compute_checksum_for_string (G_CHECKSUM_MD5, salted, -1);
      g_autofree char *line = g_strdup_printf ("APOP %s %s", username, digest);

      exchange_add (exchange, line, FALSE);
    }
  else
    {
      g_autofree char *user = g_strconcat ("USER ", username, NULL);
      g_autofree char *pass = g_strconcat ("PASS ", password, NULL);

      exchange_add (exchange, user, FALSE);
      exchange_add (exchange, pass, FALSE);
      memset (pass, 0, strlen (pass));
    }

  run_exchange (self, exchange, cancellable, login_done_cb, g_object_ref (task));
}

gboolean
mailer_pop3_client_login_finish (MailerPop3Client  *self,
                                 GAsyncResult      *result,
                                 GError           **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

/* Listing: LIST and UIDL, or header hashes without UIDL */

typedef struct
{
  GPtrArray *messages;       /* MailerPop3Message, by number */
  GHashTable *by_number;     /* number -> MailerPop3Message */
  gboolean no_uidl;
  GChecksum *checksum;       /* TOP n 0 hashing */
} ListData;

static void
list_data_free (ListData *data)
{
  g_clear_pointer (&data->messages, g_ptr_array_unref);
  g_clear_pointer (&data->by_number, g_hash_table_unref);
  g_clear_pointer (&data->checksum, g_checksum_free);
  g_free (data);
}

static gboolean
parse_number (const char  *text,
              const char **end,
              guint64     *value)
{
  char *stop = NULL;

  if (!g_ascii_isdigit (*text))
    return FALSE;
  *value = g_ascii_strtoull (text, &stop, 10);
  if (stop == text || *value == G_MAXUINT64)
    return FALSE;
  *end = stop;
  return TRUE;
}

static gboolean
list_protocol_error (GError     **error,
                     const char  *what)
{
  g_set_error (error, MAILER_POP3_ERROR, MAILER_POP3_ERROR_PROTOCOL,
               "The server sent a malformed %s line", what);
  return FALSE;
}

static gboolean
list_func (MailerPop3Client       *self,
           GTask                  *task,
           guint                   index,
           const MailerPop3Event  *event,
           GError                **error)
{
  ListData *data = exchange_data (task);
  g_autofree char *line = NULL;
  const char *p;
  guint64 number, size;
  MailerPop3Message *message;

  if (event->type == MAILER_POP3_EVENT_STATUS && !event->ok)
    {
      /* UIDL is optional (RFC 1939): without it, messages are told apart
       * by their headers. */
      if (index == 1)
        {
          data->no_uidl = TRUE;
          return TRUE;
        }
      mailer_pop3_set_error_from_status (error, event, "Listing messages");
      return FALSE;
    }
  if (event->type != MAILER_POP3_EVENT_LINE)
    return TRUE;

  line = g_strndup (event->data, event->len);
  if (!parse_number (line, &p, &number) || number == 0 || number > G_MAXUINT || *p != ' ')
    return list_protocol_error (error, index == 0 ? "LIST" : "UIDL");
  while (*p == ' ')
    p++;

  if (index == 0)
    {
      const char *end;

      if (!parse_number (p, &end, &size) || size > G_MAXINT64)
        return list_protocol_error (error, "LIST");
      message = g_new0 (MailerPop3Message, 1);
      message->number = number;
      message->size = size;
      if (!g_hash_table_insert (data->by_number, GUINT_TO_POINTER (message->number), message))
        {
          mailer_pop3_message_free (message);
          return list_protocol_error (error, "LIST");
        }
      g_ptr_array_add (data->messages, message);
      return TRUE;
    }

  /* RFC 1939: 1 to 70 characters 0x21 to 0x7E.  Be lenient on length,
   * strict on what could confuse the store or a log. */
  message = g_hash_table_lookup (data->by_number, GUINT_TO_POINTER ((guint) number));
  if (message == NULL || message->uidl != NULL || *p == '\0' || strlen (p) > 512)
    return list_protocol_error (error, "UIDL");
  for (const char *c = p; *c != '\0'; c++)
    if ((guchar) *c < 0x21 || (guchar) *c > 0x7e)
      return list_protocol_error (error, "UIDL");
  message->uidl = g_strdup (p);
  return TRUE;
}

static gboolean
top_hash_func (MailerPop3Client       *self,
               GTask                  *task,
               guint                   index,
               const MailerPop3Event  *event,
               GError                **error)
{
  ListData *data = exchange_data (task);
  MailerPop3Message *message = g_ptr_array_index (data->messages, index);

  switch (event->type)
    {
    case MAILER_POP3_EVENT_STATUS:
      if (!event->ok)
        {
          mailer_pop3_set_error_from_status (error, event, "Reading message headers");
          return FALSE;
        }
      g_clear_pointer (&data->checksum, g_checksum_free);
      data->checksum = g_checksum_new (G_CHECKSUM_SHA256);
      return TRUE;
    case MAILER_POP3_EVENT_LINE:
      g_checksum_update (data->checksum, (const guchar *) event->data, event->len);
      g_checksum_update (data->checksum, (const guchar *) "\n", 1);
      return TRUE;
    case MAILER_POP3_EVENT_END:
      message->uidl = g_strconcat ("sha256:", g_checksum_get_string (data->checksum), NULL);
      return TRUE;
    case MAILER_POP3_EVENT_CONTINUE:
    default:
      return TRUE;
    }
}

static void
list_hashed_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  ListData *data = g_task_get_task_data (task);
  GError *error = NULL;

  if (!exchange_finish (result, &error))
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, g_ptr_array_ref (data->messages), (GDestroyNotify) g_ptr_array_unref);
}

static void
list_done_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  MailerPop3Client *self = MAILER_POP3_CLIENT (source);
  ListData *data = g_task_get_task_data (task);
  Exchange *exchange;
  GError *error = NULL;

  if (!exchange_finish (result, &error))
    {
      g_task_return_error (task, error);
      return;
    }

  for (guint i = 0; i < data->messages->len && !data->no_uidl; i++)
    if (((MailerPop3Message *) data->messages->pdata[i])->uidl == NULL)
      {
        g_task_return_new_error (task, MAILER_POP3_ERROR, MAILER_POP3_ERROR_PROTOCOL,
                                 "The server listed a message without its unique id");
        return;
      }

  if (!data->no_uidl || data->messages->len == 0)
    {
      g_task_return_pointer (task, g_ptr_array_ref (data->messages), (GDestroyNotify) g_ptr_array_unref);
      return;
    }

  /* The header of a message does not change: its hash is an id that holds
   * across sessions. */
  exchange = exchange_new (top_hash_func, data, NULL);
  for (guint i = 0; i < data->messages->len; i++)
    {
      g_autofree char *line = g_strdup_printf ("TOP %u 0", ((MailerPop3Message *) data->messages->pdata[i])->number);

      exchange_add (exchange, line, TRUE);
    }
  run_exchange (self, exchange, g_task_get_cancellable (task), list_hashed_cb, g_object_ref (task));
}

/**
 * mailer_pop3_client_list_async:
 *
 * Lists the messages on the server with their sizes and unique ids.
 * Finish returns a #GPtrArray of #MailerPop3Message.
 */
void
mailer_pop3_client_list_async (MailerPop3Client    *self,
                               GCancellable        *cancellable,
                               GAsyncReadyCallback  callback,
                               gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  ListData *data;
  Exchange *exchange;

  g_return_if_fail (MAILER_IS_POP3_CLIENT (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, mailer_pop3_client_list_async);

  data = g_new0 (ListData, 1);
  data->messages = g_ptr_array_new_with_free_func ((GDestroyNotify) mailer_pop3_message_free);
  data->by_number = g_hash_table_new (NULL, NULL);
  g_task_set_task_data (task, data, (GDestroyNotify) list_data_free);

  exchange = exchange_new (list_func, data, NULL);
  exchange_add (exchange, "LIST", TRUE);
  exchange_add (exchange, "UIDL", TRUE);
  run_exchange (self, exchange, cancellable, list_done_cb, g_object_ref (task));
}

GPtrArray *
mailer_pop3_client_list_finish (MailerPop3Client  *self,
                                GAsyncResult      *result,
                                GError           **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/* Retrieving */

typedef struct
{
  GPtrArray *messages;       /* GBytes, in the order asked */
  GByteArray *current;
} RetrieveData;

static void
retrieve_data_free (RetrieveData *data)
{
  g_ptr_array_unref (data->messages);
  g_clear_pointer (&data->current, g_byte_array_unref);
  g_free (data);
}

static gboolean
retrieve_func (MailerPop3Client       *self,
               GTask                  *task,
               guint                   index,
               const MailerPop3Event  *event,
               GError                **error)
{
  RetrieveData *data = exchange_data (task);

  switch (event->type)
    {
    case MAILER_POP3_EVENT_STATUS:
      if (!event->ok)
        {
          mailer_pop3_set_error_from_status (error, event, "Downloading a message");
          return FALSE;
        }
      g_clear_pointer (&data->current, g_byte_array_unref);
      data->current = g_byte_array_new ();
      return TRUE;
    case MAILER_POP3_EVENT_LINE:
      g_byte_array_append (data->current, (const guint8 *) event->data, event->len);
      g_byte_array_append (data->current, (const guint8 *) "\r\n", 2);
      return TRUE;
    case MAILER_POP3_EVENT_END:
      g_ptr_array_add (data->messages, g_byte_array_free_to_bytes (g_steal_pointer (&data->current)));
      return TRUE;
    case MAILER_POP3_EVENT_CONTINUE:
    default:
      return TRUE;
    }
}

static void
retrieve_done_cb (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  RetrieveData *data = g_task_get_task_data (task);
  GError *error = NULL;

  if (!exchange_finish (result, &error))
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, g_ptr_array_ref (data->messages), (GDestroyNotify) g_ptr_array_unref);
}

/**
 * mailer_pop3_client_retrieve_async:
 * @numbers: (element-type guint): message numbers
 * @top_lines: 0 for the whole messages (RETR), or how many body lines to
 *   fetch with the header (TOP)
 *
 * Downloads messages, pipelined when the server allows.  Finish returns a
 * #GPtrArray of #GBytes, one per number, in order: each message with CRLF
 * line ends and dot-stuffing removed.
 */
void
mailer_pop3_client_retrieve_async (MailerPop3Client    *self,
                                   GArray              *numbers,
                                   guint                top_lines,
                                   GCancellable        *cancellable,
                                   GAsyncReadyCallback  callback,
                                   gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  RetrieveData *data;
  Exchange *exchange;

  g_return_if_fail (MAILER_IS_POP3_CLIENT (self));
  g_return_if_fail (numbers != NULL);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, mailer_pop3_client_retrieve_async);

  data = g_new0 (RetrieveData, 1);
  data->messages = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  g_task_set_task_data (task, data, (GDestroyNotify) retrieve_data_free);

  exchange = exchange_new (retrieve_func, data, NULL);
  for (guint i = 0; i < numbers->len; i++)
    {
      guint number = g_array_index (numbers, guint, i);
      g_autofree char *line = top_lines > 0 ? g_strdup_printf ("TOP %u %u", number, top_lines)
                                            : g_strdup_printf ("RETR %u", number);

      exchange_add (exchange, line, TRUE);
    }
  run_exchange (self, exchange, cancellable, retrieve_done_cb, g_object_ref (task));
}

GPtrArray *
mailer_pop3_client_retrieve_finish (MailerPop3Client  *self,
                                    GAsyncResult      *result,
                                    GError           **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/* Deleting and quitting */

static void
simple_done_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  GError *error = NULL;

  if (!exchange_finish (result, &error))
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
}

/**
 * mailer_pop3_client_delete_async:
 * @numbers: (element-type guint): message numbers
 *
 * Marks messages deleted.  The server removes them only when the session
 * ends with QUIT; if the connection breaks first, they stay.
 */
void
mailer_pop3_client_delete_async (MailerPop3Client    *self,
                                 GArray              *numbers,
                                 GCancellable        *cancellable,
                                 GAsyncReadyCallback  callback,
                                 gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  Exchange *exchange;

  g_return_if_fail (MAILER_IS_POP3_CLIENT (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, mailer_pop3_client_delete_async);

  exchange = exchange_new (ok_func, g_strdup ("Deleting a message from the server"), g_free);
  for (guint i = 0; i < numbers->len; i++)
    {
      g_autofree char *line = g_strdup_printf ("DELE %u", g_array_index (numbers, guint, i));

      exchange_add (exchange, line, FALSE);
    }
  run_exchange (self, exchange, cancellable, simple_done_cb, g_object_ref (task));
}

gboolean
mailer_pop3_client_delete_finish (MailerPop3Client  *self,
                                  GAsyncResult      *result,
                                  GError           **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

static void
quit_closed_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;

  /* The server already committed the session: closing is tidying up. */
  mailer_connection_close_finish (MAILER_CONNECTION (source), result, NULL);
  if (g_task_get_task_data (task) != NULL)
    g_task_return_error (task, g_error_copy (g_task_get_task_data (task)));
  else
    g_task_return_boolean (task, TRUE);
}

static void
quit_done_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  MailerPop3Client *self = MAILER_POP3_CLIENT (source);
  GError *error = NULL;

  if (!exchange_finish (result, &error))
    g_task_set_task_data (task, error, (GDestroyNotify) g_error_free);
  self->broken = TRUE;
  mailer_connection_close_async (self->connection, NULL, quit_closed_cb, g_object_ref (task));
}

/**
 * mailer_pop3_client_quit_async:
 *
 * Ends the session: the server now removes the messages marked deleted,
 * and says so with +OK.  The connection is closed either way.
 */
void
mailer_pop3_client_quit_async (MailerPop3Client    *self,
                               GCancellable        *cancellable,
                               GAsyncReadyCallback  callback,
                               gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  Exchange *exchange;

  g_return_if_fail (MAILER_IS_POP3_CLIENT (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, mailer_pop3_client_quit_async);

  exchange = exchange_new (ok_func, g_strdup ("Ending the session"), g_free);
  exchange_add (exchange, "QUIT", FALSE);
  run_exchange (self, exchange, cancellable, quit_done_cb, g_object_ref (task));
}

gboolean
mailer_pop3_client_quit_finish (MailerPop3Client  *self,
                                GAsyncResult      *result,
                                GError           **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}
