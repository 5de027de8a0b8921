/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * mailer-imap-raw: the lower bound for an IMAP download.  Logs in over
 * implicit TLS (GIO, the server's certificate pinned), EXAMINEs the
 * mailbox, sends one UID FETCH 1:* and drains the answer off the socket.
 * It parses only as much as it takes to find the end: lines, and the
 * literals ({N} at the end of a line) skipped whole, so that nothing in a
 * message can pass for the tagged reply.  Untagged FETCH responses are
 * counted; nothing is kept or written.
 *
 *   MAILER_BENCH_PASSWORD=... mailer-imap-raw --host H --port P \
 *       --certificate PEM --user U [--mailbox INBOX] [--items headers|bodies]
 *
 * "headers" fetches what Mailer's header sync fetches:
 *   (UID FLAGS INTERNALDATE RFC822.SIZE ENVELOPE BODYSTRUCTURE
 *    BODY.PEEK[HEADER.FIELDS (REFERENCES)])
 * "bodies" fetches (UID BODY.PEEK[]).
 *
 * Prints one line on stdout: "messages N bytes B seconds S".
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gio/gio.h>

#define TAG "raw9"
#define HEADER_ITEMS \
  "(UID FLAGS INTERNALDATE RFC822.SIZE ENVELOPE BODYSTRUCTURE BODY.PEEK[HEADER.FIELDS (REFERENCES)])"
#define BODY_ITEMS "(UID BODY.PEEK[])"

typedef struct
{
  GInputStream *in;
  GOutputStream *out;
  guint8 *buffer;
  gsize size;
  gsize start;
  gsize end;
  guint64 total;
} Session;

static void G_GNUC_NORETURN
die (const char   *what,
     const GError *error)
{
  g_printerr ("mailer-imap-raw: %s%s%s\n", what, error ? ": " : "", error ? error->message : "");
  exit (1);
}

static void
send_text (Session    *session,
           const char *text)
{
  GError *error = NULL;

  if (!g_output_stream_write_all (session->out, text, strlen (text), NULL, NULL, &error))
    die ("writing", error);
}

/* Reads more into the buffer, keeping what is unread at its front. */
static void
fill (Session *session)
{
  GError *error = NULL;
  gssize n;

  if (session->start > 0)
    {
      memmove (session->buffer, session->buffer + session->start, session->end - session->start);
      session->end -= session->start;
      session->start = 0;
    }
  if (session->end == session->size)
    {
      /* A line longer than the buffer (a long ENVELOPE): grow it. */
      session->size *= 2;
      session->buffer = g_realloc (session->buffer, session->size);
    }
  n = g_input_stream_read (session->in, session->buffer + session->end, session->size - session->end,
                           NULL, &error);
  if (n <= 0)
    die ("reading", error);
  session->end += n;
  session->total += n;
}

/* Reads responses up to the tagged one; returns how many untagged FETCH
 * responses came before it.  The tagged reply must be OK. */
static guint
drain (Session    *session,
       const char *what)
{
  gboolean continued = FALSE;  /* the line goes on after a literal */
  guint64 skip = 0;
  guint fetches = 0;

  for (;;)
    {
      guint8 *line, *nl;
      gsize len;

      if (skip > 0)
        {
          gsize take;

          if (session->start == session->end)
            {
              /* Read literal data straight over the buffer. */
              session->start = session->end = 0;
              fill (session);
            }
          take = MIN (skip, session->end - session->start);
          session->start += take;
          skip -= take;
          continue;
        }

      line = session->buffer + session->start;
      nl = memchr (line, '\n', session->end - session->start);
      if (nl == NULL)
        {
          fill (session);
          continue;
        }
      len = nl - line + 1;

      if (!continued)
        {
          if (len > 2 && line[0] == '*' && line[1] == ' ')
            {
              const guint8 *p = line + 2;

              while (p < nl && g_ascii_isdigit (*p))
                p++;
              if (p > line + 2 && nl - p >= 7 && memcmp (p, " FETCH ", 7) == 0)
                fetches++;
            }
          else if (len > strlen (TAG) + 1 && memcmp (line, TAG " ", strlen (TAG) + 1) == 0)
            {
              if (len < strlen (TAG) + 4 || memcmp (line + strlen (TAG) + 1, "OK", 2) != 0)
                {
                  g_printerr ("mailer-imap-raw: %s: %.*s\n", what, (int) len, line);
                  exit (1);
                }
              session->start += len;
              return fetches;
            }
        }

      /* "{N}\r\n" at the end: N bytes of literal follow, then the line
       * goes on. */
      continued = FALSE;
      if (len >= 4 && nl[-1] == '\r' && nl[-2] == '}')
        {
          const guint8 *open = nl - 2;

          while (open > line && g_ascii_isdigit (open[-1]))
            open--;
          if (open > line && open[-1] == '{' && open < nl - 2)
            {
              skip = g_ascii_strtoull ((const char *) open, NULL, 10);
              continued = TRUE;
            }
        }
      session->start += len;
    }
}

static void
command (Session    *session,
         const char *line,
         const char *what)
{
  g_autofree char *text = g_strdup_printf (TAG " %s\r\n", line);

  send_text (session, text);
  drain (session, what);
}

static gboolean
accept_certificate_cb (GTlsConnection       *tls,
                       GTlsCertificate      *certificate,
                       GTlsCertificateFlags  errors,
                       gpointer              user_data)
{
  return g_tls_certificate_is_same (certificate, user_data);
}

static char *
quote (const char *text)
{
  GString *out = g_string_new ("\"");

  for (const char *p = text; *p; p++)
    {
      if (*p == '"' || *p == '\\')
        g_string_append_c (out, '\\');
      g_string_append_c (out, *p);
    }
  g_string_append_c (out, '"');
  return g_string_free (out, FALSE);
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
  g_autofree char *mailbox = NULL;
  g_autofree char *items = NULL;
  gint port = 0, read_size = 256 * 1024;
  const char *password = g_getenv ("MAILER_BENCH_PASSWORD");
  GOptionEntry entries[] = {
    { "host", 0, 0, G_OPTION_ARG_STRING, &host, "Server", "HOST" },
    { "port", 0, 0, G_OPTION_ARG_INT, &port, "IMAPS port", "PORT" },
    { "certificate", 0, 0, G_OPTION_ARG_FILENAME, &certificate, "The server's certificate (PEM), pinned", "FILE" },
    { "user", 0, 0, G_OPTION_ARG_STRING, &user, "User name", "USER" },
    { "mailbox", 0, 0, G_OPTION_ARG_STRING, &mailbox, "Mailbox (default INBOX)", "NAME" },
    { "items", 0, 0, G_OPTION_ARG_STRING, &items, "headers (default) or bodies", "WHAT" },
    { "read-size", 0, 0, G_OPTION_ARG_INT, &read_size, "Bytes asked for per read (default 262144)", "BYTES" },
    { NULL }
  };
  Session session = { 0, };
  gint64 start, elapsed;
  guint fetches;

  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    die ("options", error);
  if (host == NULL || port <= 0 || port > 65535 || certificate == NULL || user == NULL ||
      password == NULL || read_size < 1024)
    die ("needs --host, --port, --certificate, --user and MAILER_BENCH_PASSWORD", NULL);
  if (items != NULL && !g_str_equal (items, "headers") && !g_str_equal (items, "bodies"))
    die ("--items takes headers or bodies", NULL);

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
  session.size = read_size;
  session.buffer = g_malloc (session.size);

  /* The greeting: one untagged line. */
  {
    guint8 *nl;

    while ((nl = memchr (session.buffer + session.start, '\n', session.end - session.start)) == NULL)
      fill (&session);
    if (session.end - session.start < 4 || memcmp (session.buffer + session.start, "* OK", 4) != 0)
      die ("the server did not greet with OK", NULL);
    session.start = nl - session.buffer + 1;
  }
  {
    g_autofree char *quoted_user = quote (user);
    g_autofree char *quoted_password = quote (password);
    g_autofree char *quoted_mailbox = quote (mailbox ? mailbox : "INBOX");
    g_autofree char *login = g_strdup_printf ("LOGIN %s %s", quoted_user, quoted_password);
    g_autofree char *examine = g_strdup_printf ("EXAMINE %s", quoted_mailbox);
    g_autofree char *fetch = g_strdup_printf (TAG " UID FETCH 1:* %s\r\n",
                                              items && g_str_equal (items, "bodies") ? BODY_ITEMS : HEADER_ITEMS);

    command (&session, login, "LOGIN");
    command (&session, examine, "EXAMINE");
    send_text (&session, fetch);
    fetches = drain (&session, "UID FETCH");
  }
  command (&session, "LOGOUT", "LOGOUT");
  g_io_stream_close (tls, NULL, NULL);
  elapsed = g_get_monotonic_time () - start;

  g_print ("messages %u bytes %" G_GUINT64_FORMAT " seconds %.3f\n", fetches, session.total, elapsed / 1e6);
  g_free (session.buffer);
  return 0;
}
