/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * mailer-pop3-raw: the lower bound for a POP3 download.  Logs in over
 * implicit TLS (GIO, the server's certificate pinned), then sends
 * RETR 1..N pipelined, at most a window of commands outstanding, and drains
 * the replies off the socket without parsing them: it only counts the
 * "CRLF.CRLF" that ends each one, to know when to send more.  Nothing is
 * kept or written.
 *
 *   MAILER_BENCH_PASSWORD=... mailer-pop3-raw --host H --port P \
 *       --certificate PEM --user U [--window 64] [--read-size BYTES]
 *
 * Prints one line on stdout: "messages N bytes B seconds S".
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gio/gio.h>

#define TERMINATOR_TAIL 4     /* "\r\n.\r\n" minus the "\n" being looked at */

typedef struct
{
  GInputStream *in;
  GOutputStream *out;
  guint8 *buffer;
  gsize size;
  gsize start;
  gsize end;
} Session;

static void G_GNUC_NORETURN
die (const char   *what,
     const GError *error)
{
  g_printerr ("mailer-pop3-raw: %s%s%s\n", what, error ? ": " : "", error ? error->message : "");
  exit (1);
}

static void
send_text (Session    *session,
           const char *text,
           gsize       len)
{
  GError *error = NULL;

  if (!g_output_stream_write_all (session->out, text, len, NULL, NULL, &error))
    die ("writing", error);
}

/* One status line (CRLF stripped); "+OK" or the program ends. */
static char *
read_status (Session    *session,
             const char *what)
{
  for (;;)
    {
      guint8 *nl = memchr (session->buffer + session->start, '\n', session->end - session->start);

      if (nl != NULL)
        {
          gsize len = nl - (session->buffer + session->start);
          char *line = g_strndup ((const char *) session->buffer + session->start,
                                  len > 0 && nl[-1] == '\r' ? len - 1 : len);

          session->start += len + 1;
          if (!g_str_has_prefix (line, "+OK"))
            {
              g_printerr ("mailer-pop3-raw: %s: %s\n", what, line);
              exit (1);
            }
          return line;
        }
      if (session->start > 0)
        {
          memmove (session->buffer, session->buffer + session->start, session->end - session->start);
          session->end -= session->start;
          session->start = 0;
        }
      if (session->end == session->size)
        die ("a status line is too long", NULL);
      {
        GError *error = NULL;
        gssize n = g_input_stream_read (session->in, session->buffer + session->end,
                                        session->size - session->end, NULL, &error);

        if (n <= 0)
          die ("reading", error);
        session->end += n;
      }
    }
}

static void
command (Session    *session,
         const char *line,
         const char *what)
{
  g_autofree char *with_crlf = g_strconcat (line, "\r\n", NULL);
  g_autofree char *reply = NULL;

  send_text (session, with_crlf, strlen (with_crlf));
  reply = read_status (session, what);
}

static gboolean
accept_certificate_cb (GTlsConnection       *tls,
                       GTlsCertificate      *certificate,
                       GTlsCertificateFlags  errors,
                       gpointer              user_data)
{
  return g_tls_certificate_is_same (certificate, user_data);
}

/* Sends RETR for messages first..last (1-based) in one write. */
static void
send_retr (Session *session,
           guint    first,
           guint    last)
{
  g_autoptr(GString) out = g_string_new (NULL);

  for (guint i = first; i <= last; i++)
    g_string_append_printf (out, "RETR %u\r\n", i);
  if (out->len > 0)
    send_text (session, out->str, out->len);
}

int
main (int    argc,
      char **argv)
{
  g_autoptr(GOptionContext) context = g_option_context_new (NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocketClient) client = NULL;
  g_autoptr(GSocketConnection) tcp = NULL;
  g_autoptr(GSocketConnectable) identity = NULL;
  g_autoptr(GIOStream) tls = NULL;
  g_autoptr(GTlsCertificate) pinned = NULL;
  g_autofree char *host = NULL;
  g_autofree char *certificate = NULL;
  g_autofree char *user = NULL;
  g_autofree char *stat = NULL;
  g_autofree char *greeting = NULL;
  gint port = 0, window = 64, read_size = 256 * 1024;
  const char *password = g_getenv ("MAILER_BENCH_PASSWORD");
  GOptionEntry entries[] = {
    { "host", 0, 0, G_OPTION_ARG_STRING, &host, "Server", "HOST" },
    { "port", 0, 0, G_OPTION_ARG_INT, &port, "POP3S port", "PORT" },
    { "certificate", 0, 0, G_OPTION_ARG_FILENAME, &certificate, "The server's certificate (PEM), pinned", "FILE" },
    { "user", 0, 0, G_OPTION_ARG_STRING, &user, "User name", "USER" },
    { "window", 0, 0, G_OPTION_ARG_INT, &window, "Commands outstanding at most (default 64)", "N" },
    { "read-size", 0, 0, G_OPTION_ARG_INT, &read_size, "Bytes asked for per read (default 262144)", "BYTES" },
    { NULL }
  };
  Session session = { 0, };
  gint64 start, elapsed;
  guint64 total = 0, octets = 0;
  guint n_messages = 0, sent, done = 0, state_from;

  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    die ("options", error);
  if (host == NULL || port <= 0 || port > 65535 || certificate == NULL || user == NULL ||
      password == NULL || window < 1 || read_size < 1024)
    die ("needs --host, --port, --certificate, --user and MAILER_BENCH_PASSWORD", NULL);

  pinned = g_tls_certificate_new_from_file (certificate, &error);
  if (pinned == NULL)
    die ("loading the certificate", error);

  start = g_get_monotonic_time ();

  client = g_socket_client_new ();
  tcp = g_socket_client_connect_to_host (client, host, port, NULL, &error);
  if (tcp == NULL)
    die ("connecting", error);
  identity = g_network_address_new (host, port);
  tls = g_tls_client_connection_new (G_IO_STREAM (tcp), identity, &error);
  if (tls == NULL)
    die ("starting TLS", error);
  g_signal_connect (tls, "accept-certificate", G_CALLBACK (accept_certificate_cb), pinned);
  if (!g_tls_connection_handshake (G_TLS_CONNECTION (tls), NULL, &error))
    die ("TLS handshake", error);
  /* Pinned even if the system happened to trust it. */
  if (!g_tls_certificate_is_same (g_tls_connection_get_peer_certificate (G_TLS_CONNECTION (tls)), pinned))
    die ("the server's certificate is not the pinned one", NULL);

  session.in = g_io_stream_get_input_stream (tls);
  session.out = g_io_stream_get_output_stream (tls);
  session.size = TERMINATOR_TAIL + read_size;
  session.buffer = g_malloc (session.size);

  greeting = read_status (&session, "greeting");
  {
    g_autofree char *user_line = g_strdup_printf ("USER %s", user);
    g_autofree char *pass_line = g_strdup_printf ("PASS %s", password);

    command (&session, user_line, "USER");
    command (&session, pass_line, "PASS");
  }
  send_text (&session, "STAT\r\n", 6);
  stat = read_status (&session, "STAT");
  if (sscanf (stat, "+OK %u %" G_GUINT64_FORMAT, &n_messages, &octets) != 2)
    die ("a STAT reply without a count", NULL);

  /* What follows the STAT reply is the start of the first RETR reply:
   * keep it at the front of the buffer. */
  memmove (session.buffer, session.buffer + session.start, session.end - session.start);
  session.end -= session.start;
  session.start = 0;

  sent = MIN ((guint) window, n_messages);
  send_retr (&session, 1, sent);

  /* Look for "\r\n.\r\n": at each "\n" from state_from on, check the byte
   * before and the three after; a "\n" too close to the end waits for the
   * next read, carried over with the last TERMINATOR_TAIL bytes. */
  state_from = 1;
  while (done < n_messages)
    {
      gssize n;
      guint before = done;
      guint8 *p, *limit;

      n = g_input_stream_read (session.in, session.buffer + session.end, session.size - session.end, NULL, &error);
      if (n <= 0)
        die ("reading", error);
      total += n;
      session.end += n;

      p = session.buffer + state_from;
      limit = session.buffer + session.end;
      while (p + 3 < limit && (p = memchr (p, '\n', limit - 3 - p)) != NULL)
        {
          if (p[-1] == '\r' && p[1] == '.' && p[2] == '\r' && p[3] == '\n')
            {
              done++;
              p += 4;
            }
          else
            p++;
        }

      if (done > before && sent < n_messages)
        {
          guint more = MIN (done - before, n_messages - sent);

          send_retr (&session, sent + 1, sent + more);
          sent += more;
        }

      /* Carry the tail over. */
      if (session.end > TERMINATOR_TAIL)
        {
          memmove (session.buffer, session.buffer + session.end - TERMINATOR_TAIL, TERMINATOR_TAIL);
          session.end = TERMINATOR_TAIL;
        }
      state_from = 1;
    }

  /* Every reply is in; what is left is the last terminator's tail. */
  session.start = session.end = 0;
  command (&session, "QUIT", "QUIT");
  g_io_stream_close (tls, NULL, NULL);
  elapsed = g_get_monotonic_time () - start;

  if (total < octets)
    {
      g_printerr ("mailer-pop3-raw: read %" G_GUINT64_FORMAT " bytes, fewer than the %" G_GUINT64_FORMAT
                  " the server listed\n", total, octets);
      return 1;
    }
  g_print ("messages %u bytes %" G_GUINT64_FORMAT " seconds %.3f\n", done, total, elapsed / 1e6);
  g_free (session.buffer);
  return 0;
}
