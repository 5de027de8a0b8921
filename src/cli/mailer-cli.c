/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * mailer-cli: the headless front end.  One command per run, on the same
 * store and keyring as the app (through MailerSession): add, list and
 * remove accounts, sync mail (POP3 downloads, two-way IMAP sync), read what
 * is stored, and change it (flags, moves, deletions; replayed on an IMAP
 * server by a sync in the same run).  Data goes to stdout (UTF-8,
 * tab-separated, or a raw message byte for byte); progress and errors go
 * to stderr.  Every failure ends with one exit code that says what kind of
 * failure it was: see exit_code_for_error().
 */
#include "config.h"

#include <errno.h>
#include <gmime/gmime.h>
#include <libsecret/secret.h>
#include <locale.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "mailer-connection.h"
#include "mailer-imap-client.h"
#include "mailer-imap-sync.h"
#include "mailer-message-list.h"
#include "mailer-pop3-client.h"
#include "mailer-pop3-parser.h"
#include "mailer-pop3-sync.h"
#include "mailer-secrets.h"
#include "mailer-session.h"

#define PROGRAM "mailer-cli"

/* Longest password read from stdin, in bytes. */
#define MAX_PASSWORD 4096

typedef enum
{
  CLI_EXIT_OK = 0,
  CLI_EXIT_USAGE = 1,
  CLI_EXIT_NETWORK = 2,
  CLI_EXIT_TLS = 3,
  CLI_EXIT_AUTH = 4,
  CLI_EXIT_PROTOCOL = 5,
  CLI_EXIT_STORAGE = 6,
  CLI_EXIT_NOT_FOUND = 7,
} CliExit;

/* Errors the command line raises itself; the code is the exit code. */
#define CLI_ERROR (cli_error_quark ())
static GQuark cli_error_quark (void);
G_DEFINE_QUARK (mailer-cli-error-quark, cli_error)

static const char exit_codes_help[] =
  "Exit codes:\n"
  "  0  success\n"
  "  1  usage: bad command or options, or an operation that cannot be\n"
  "     done as asked; also any other error\n"
  "  2  network: cannot connect, or the connection was lost\n"
  "  3  TLS: the certificate is not trusted or not the pinned one, or\n"
  "     encryption failed\n"
  "  4  authentication: the server refused the user name or password, or\n"
  "     no password is saved for the account\n"
  "  5  protocol: the server misbehaved or refused a command\n"
  "  6  storage: the database, the disk or the keyring failed\n"
  "  7  not found: no such account, folder or message\n";

/* The one place where errors become exit codes. */
static int
exit_code_for_error (const GError *error)
{
  if (error->domain == CLI_ERROR)
    return error->code;

  if (error->domain == G_OPTION_ERROR)
    return CLI_EXIT_USAGE;

  if (error->domain == G_RESOLVER_ERROR)
    return CLI_EXIT_NETWORK;

  if (error->domain == G_TLS_ERROR)
    /* The peer hung up without closing the TLS session. */
    return error->code == G_TLS_ERROR_EOF ? CLI_EXIT_NETWORK : CLI_EXIT_TLS;

  if (error->domain == MAILER_CONNECTION_ERROR)
    {
      switch ((MailerConnectionError) error->code)
        {
        case MAILER_CONNECTION_ERROR_CERTIFICATE_UNTRUSTED:
        case MAILER_CONNECTION_ERROR_TLS_INJECTION:
          return CLI_EXIT_TLS;
        case MAILER_CONNECTION_ERROR_LINE_TOO_LONG:
          return CLI_EXIT_PROTOCOL;
        case MAILER_CONNECTION_ERROR_FAILED:
        case MAILER_CONNECTION_ERROR_CLOSED:
        case MAILER_CONNECTION_ERROR_NOT_CONNECTED:
        default:
          return CLI_EXIT_NETWORK;
        }
    }

  if (error->domain == MAILER_POP3_ERROR)
    {
      switch ((MailerPop3Error) error->code)
        {
        case MAILER_POP3_ERROR_AUTH_FAILED:
        case MAILER_POP3_ERROR_NO_AUTH_METHOD:
          return CLI_EXIT_AUTH;
        case MAILER_POP3_ERROR_NO_STARTTLS:
          return CLI_EXIT_TLS;
        case MAILER_POP3_ERROR_PROTOCOL:
        case MAILER_POP3_ERROR_LINE_TOO_LONG:
        case MAILER_POP3_ERROR_FAILED:
        case MAILER_POP3_ERROR_IN_USE:
        case MAILER_POP3_ERROR_LOGIN_DELAY:
        case MAILER_POP3_ERROR_TEMPORARY:
        case MAILER_POP3_ERROR_PERMANENT:
        default:
          return CLI_EXIT_PROTOCOL;
        }
    }

  if (error->domain == MAILER_IMAP_ERROR)
    {
      switch ((MailerImapError) error->code)
        {
        case MAILER_IMAP_ERROR_AUTH_FAILED:
        case MAILER_IMAP_ERROR_LOGIN_DISABLED:
          return CLI_EXIT_AUTH;
        case MAILER_IMAP_ERROR_NO_STARTTLS:
          return CLI_EXIT_TLS;
        case MAILER_IMAP_ERROR_BYE:
          /* The server ended the connection (shutting down, idle too
           * long, turned away). */
          return CLI_EXIT_NETWORK;
        case MAILER_IMAP_ERROR_PARSE:
        case MAILER_IMAP_ERROR_TOO_BIG:
        case MAILER_IMAP_ERROR_NO:
        case MAILER_IMAP_ERROR_BAD:
        case MAILER_IMAP_ERROR_UIDVALIDITY:
        case MAILER_IMAP_ERROR_INVALID:
        default:
          return CLI_EXIT_PROTOCOL;
        }
    }

  if (error->domain == MAILER_STORE_ERROR)
    return error->code == MAILER_STORE_ERROR_NOT_FOUND ? CLI_EXIT_NOT_FOUND : CLI_EXIT_STORAGE;

  /* The keyring and the files under the data directory. */
  if (error->domain == SECRET_ERROR || error->domain == G_DBUS_ERROR ||
      error->domain == G_FILE_ERROR)
    return CLI_EXIT_STORAGE;

  if (error->domain == G_IO_ERROR)
    {
      switch (error->code)
        {
        case G_IO_ERROR_NOT_FOUND:
          return CLI_EXIT_NOT_FOUND;
        case G_IO_ERROR_NO_SPACE:
        case G_IO_ERROR_READ_ONLY:
        case G_IO_ERROR_PERMISSION_DENIED:
        case G_IO_ERROR_IS_DIRECTORY:
        case G_IO_ERROR_NOT_DIRECTORY:
        case G_IO_ERROR_FILENAME_TOO_LONG:
        case G_IO_ERROR_TOO_MANY_OPEN_FILES:
        case G_IO_ERROR_DBUS_ERROR:
          return CLI_EXIT_STORAGE;
        case G_IO_ERROR_NOT_SUPPORTED:
        case G_IO_ERROR_INVALID_ARGUMENT:
        case G_IO_ERROR_CANCELLED:
          return CLI_EXIT_USAGE;
        default:
          /* The rest come from sockets: refused, unreachable, timed out,
           * reset. */
          return CLI_EXIT_NETWORK;
        }
    }

  return CLI_EXIT_USAGE;
}

/* Prints @error and returns its exit code. */
static int
report (const GError *error)
{
  g_printerr ("%s: %s\n", PROGRAM, error->message);
  return exit_code_for_error (error);
}

static int
usage_error (const char *format,
             ...) G_GNUC_PRINTF (1, 2);

static int
usage_error (const char *format,
             ...)
{
  g_autofree char *message = NULL;
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  g_printerr ("%s: %s\n", PROGRAM, message);
  return CLI_EXIT_USAGE;
}

/* Waiting for async calls: the command line is sequential. */

static void
result_cb (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  GAsyncResult **slot = user_data;

  *slot = g_object_ref (result);
}

static GAsyncResult *
wait_for (GAsyncResult **slot)
{
  while (*slot == NULL)
    g_main_context_iteration (NULL, TRUE);
  return g_steal_pointer (slot);
}

/* Mail downloaded is stored with its header section read and its text
 * read right after, in the background (the store's text pass); a command
 * that ends or searches waits for that, so that what it downloaded can
 * be found. */
static int
finish_text (MailerSession *session)
{
  MailerStore *store = mailer_session_get_store (session);
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  GAsyncResult *pending = NULL;

  mailer_store_index_text_async (store, NULL, result_cb, &pending);
  result = wait_for (&pending);
  if (!mailer_store_index_text_finish (store, result, &error))
    return report (error);
  return CLI_EXIT_OK;
}

/* Output */

/* Tabs and line breaks would break the columns. */
static void
put_field (GString    *line,
           const char *text)
{
  for (const char *p = text ? text : ""; *p != '\0'; p++)
    g_string_append_c (line, (guchar) *p < 0x20 || *p == 0x7f ? ' ' : *p);
}

static void
put_line (GString *line)
{
  g_string_append_c (line, '\n');
  /* UTF-8 as stored, whatever the locale: not g_print(). */
  fwrite (line->str, 1, line->len, stdout);
}

static char *
format_date (gint64 unix_time)
{
  g_autoptr(GDateTime) date = NULL;

  if (unix_time <= 0)
    return g_strdup ("-");
  date = g_date_time_new_from_unix_local (unix_time);
  if (date == NULL)
    return g_strdup ("-");
  return g_date_time_format (date, "%Y-%m-%dT%H:%M:%S%:z");
}

static gboolean
parse_id (const char  *text,
          const char  *what,
          gint64      *out,
          GError     **error)
{
  guint64 value;

  if (!g_ascii_string_to_unsigned (text, 10, 1, G_MAXINT64, &value, NULL))
    {
      g_set_error (error, CLI_ERROR, CLI_EXIT_USAGE, "\"%s\" is not a %s id", text, what);
      return FALSE;
    }
  *out = (gint64) value;
  return TRUE;
}

static MailerAccount *
find_account (MailerSession  *session,
              const char     *uuid,
              GError        **error)
{
  MailerAccount *account = mailer_session_find_account (session, uuid);

  if (account == NULL)
    g_set_error (error, CLI_ERROR, CLI_EXIT_NOT_FOUND, "No account with id %s", uuid);
  return account;
}

static const char *
account_label (MailerAccount *account)
{
  const char *name = mailer_account_get_display_name (account);

  if (name == NULL || name[0] == '\0')
    name = mailer_account_get_address (account);
  if (name == NULL || name[0] == '\0')
    name = mailer_account_get_username (account);
  return name ? name : "";
}

static char *
format_host_port (const char *host,
                  guint16     port)
{
  if (host != NULL && strchr (host, ':') != NULL)
    return g_strdup_printf ("[%s]:%u", host, port);
  return g_strdup_printf ("%s:%u", host ? host : "", port);
}

/* Passwords */

static void
wipe (char  *data,
      gsize  len)
{
  volatile char *p = data;

  while (len-- > 0)
    *p++ = '\0';
}

static void
free_password (char *password)
{
  if (password == NULL)
    return;
  wipe (password, MAX_PASSWORD + 1);
  g_free (password);
}

/* A password from read_password(). */
typedef char Password;
G_DEFINE_AUTOPTR_CLEANUP_FUNC (Password, free_password)

/* One line from stdin, without its line end; never echoed.  Read a byte
 * at a time so that nothing after the line is consumed. */
static char *
read_password (const char  *prompt,
               GError     **error)
{
  char *buffer = g_malloc0 (MAX_PASSWORD + 1);
  gboolean tty = isatty (STDIN_FILENO);
  gboolean echo_off = FALSE;
  gboolean line_end = FALSE;
  struct termios saved;
  gsize len = 0;
  int read_errno = 0;

  if (tty)
    {
      g_printerr ("%s", prompt);
      if (tcgetattr (STDIN_FILENO, &saved) == 0)
        {
          struct termios quiet = saved;

          quiet.c_lflag &= ~ECHO;
          echo_off = tcsetattr (STDIN_FILENO, TCSAFLUSH, &quiet) == 0;
        }
    }

  while (len < MAX_PASSWORD)
    {
      ssize_t n = read (STDIN_FILENO, buffer + len, 1);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          read_errno = errno;
          break;
        }
      if (n == 0)
        break;
      if (buffer[len] == '\n')
        {
          buffer[len] = '\0';
          line_end = TRUE;
          break;
        }
      len++;
    }

  if (echo_off)
    tcsetattr (STDIN_FILENO, TCSAFLUSH, &saved);
  if (tty)
    g_printerr ("\n");

  if (len > 0 && buffer[len - 1] == '\r')
    buffer[--len] = '\0';

  if (read_errno != 0)
    g_set_error (error, CLI_ERROR, CLI_EXIT_USAGE, "Cannot read the password from standard input: %s",
                 g_strerror (read_errno));
  else if (len == MAX_PASSWORD && !line_end)
    g_set_error (error, CLI_ERROR, CLI_EXIT_USAGE, "The password on standard input is longer than %u bytes",
                 MAX_PASSWORD);
  else if (len == 0)
    g_set_error_literal (error, CLI_ERROR, CLI_EXIT_USAGE,
                         "No password on standard input (give it as one line)");
  else if (memchr (buffer, '\0', len) != NULL)
    g_set_error_literal (error, CLI_ERROR, CLI_EXIT_USAGE, "The password contains a NUL byte");
  else
    return buffer;

  free_password (buffer);
  return NULL;
}

/* Global options */

static char *opt_data_dir;
static gboolean opt_version;

static const GOptionEntry data_dir_entries[] = {
  { "data-dir", 0, 0, G_OPTION_ARG_FILENAME, &opt_data_dir,
    "Where the mail store is (default: $XDG_DATA_HOME/mailer)", "DIR" },
  { NULL }
};

static const GOptionEntry top_entries[] = {
  { "version", 0, 0, G_OPTION_ARG_NONE, &opt_version, "Print the version and exit", NULL },
  { NULL }
};

/* add-account */

static char *opt_protocol;
static char *opt_host;
static int opt_port = -1;
static char *opt_security;
static char *opt_user;
static char *opt_name;
static char *opt_address;
static char *opt_pin;
static gboolean opt_pin_from_server;
static char *opt_leave_on_server;
static int opt_keep_days = -1;
static char *opt_delete_when_deleted;
static gint64 opt_size_limit = -1;
static char *opt_prefetch_days;

static const GOptionEntry add_account_entries[] = {
  { "protocol", 0, 0, G_OPTION_ARG_STRING, &opt_protocol, "pop3 or imap (required)", "PROTOCOL" },
  { "host", 0, 0, G_OPTION_ARG_STRING, &opt_host, "The server (required)", "HOST" },
  { "port", 0, 0, G_OPTION_ARG_INT, &opt_port,
    "The port (default: 995 or 110 for POP3, 993 or 143 for IMAP)", "PORT" },
  { "security", 0, 0, G_OPTION_ARG_STRING, &opt_security, "tls (default), starttls or none", "SECURITY" },
  { "user", 0, 0, G_OPTION_ARG_STRING, &opt_user, "The user name to log in with (required)", "USER" },
  { "name", 0, 0, G_OPTION_ARG_STRING, &opt_name, "A name for the account", "NAME" },
  { "address", 0, 0, G_OPTION_ARG_STRING, &opt_address, "The account's mail address", "ADDRESS" },
  { "pin", 0, 0, G_OPTION_ARG_STRING, &opt_pin,
    "Trust the server certificate with this SHA-256 fingerprint (hex)", "SHA256" },
  { "pin-from-server", 0, 0, G_OPTION_ARG_NONE, &opt_pin_from_server,
    "Connect once and pin the certificate the server presents (trust on first use)", NULL },
  { "leave-on-server", 0, 0, G_OPTION_ARG_STRING, &opt_leave_on_server,
    "POP3: keep a copy on the server (default: yes)", "yes|no" },
  { "keep-days", 0, 0, G_OPTION_ARG_INT, &opt_keep_days,
    "POP3: delete the server copy after N days (default: 0, never)", "N" },
  { "delete-when-deleted", 0, 0, G_OPTION_ARG_STRING, &opt_delete_when_deleted,
    "POP3: delete the server copy of what is deleted here (default: yes)", "yes|no" },
  { "size-limit", 0, 0, G_OPTION_ARG_INT64, &opt_size_limit,
    "POP3: download only the start of larger messages (default: 0, no limit)", "BYTES" },
  { "prefetch-days", 0, 0, G_OPTION_ARG_STRING, &opt_prefetch_days,
    "IMAP: download the bodies of mail from the last N days ahead, for offline reading "
    "(default: 30; 0 = none; all = all mail)", "N|all" },
  { NULL }
};

static gboolean
parse_yes_no (const char  *option,
              const char  *value,
              gboolean    *out,
              GError     **error)
{
  if (g_ascii_strcasecmp (value, "yes") == 0)
    *out = TRUE;
  else if (g_ascii_strcasecmp (value, "no") == 0)
    *out = FALSE;
  else
    {
      g_set_error (error, CLI_ERROR, CLI_EXIT_USAGE, "--%s takes yes or no, not \"%s\"", option, value);
      return FALSE;
    }
  return TRUE;
}

/* "AB:CD:…" or "abcd…": 64 hex digits, returned in lower case. */
static char *
normalize_pin (const char  *text,
               GError     **error)
{
  g_autoptr(GString) pin = g_string_new (NULL);

  for (const char *p = text; *p != '\0'; p++)
    {
      if (*p == ':' || g_ascii_isspace (*p))
        continue;
      if (!g_ascii_isxdigit (*p))
        break;
      g_string_append_c (pin, g_ascii_tolower (*p));
    }
  if (pin->len != 64 || strspn (text, ": \t0123456789abcdefABCDEF") != strlen (text))
    {
      g_set_error (error, CLI_ERROR, CLI_EXIT_USAGE,
                   "--pin takes the certificate's SHA-256 fingerprint: 64 hex digits");
      return NULL;
    }
  return g_string_free (g_steal_pointer (&pin), FALSE);
}

static const char *
describe_certificate_errors (GTlsCertificateFlags errors)
{
  if (errors & G_TLS_CERTIFICATE_UNKNOWN_CA)
    return "it is not signed by a known authority";
  if (errors & G_TLS_CERTIFICATE_BAD_IDENTITY)
    return "it was issued for another host";
  if (errors & G_TLS_CERTIFICATE_EXPIRED)
    return "it has expired";
  if (errors & G_TLS_CERTIFICATE_NOT_ACTIVATED)
    return "it is not valid yet";
  if (errors & G_TLS_CERTIFICATE_REVOKED)
    return "it has been revoked";
  if (errors & G_TLS_CERTIFICATE_INSECURE)
    return "it uses an insecure algorithm";
  return "it could not be verified";
}

static void
print_certificate (GTlsCertificate *certificate,
                   const char      *sha256)
{
  g_autofree char *subject = NULL;
  g_autofree char *issuer = NULL;
  g_autoptr(GDateTime) not_after = NULL;

  g_object_get (certificate,
                "subject-name", &subject,
                "issuer-name", &issuer,
                "not-valid-after", &not_after,
                NULL);
  g_printerr ("  SHA-256 fingerprint: %s\n", sha256);
  if (subject != NULL)
    g_printerr ("  subject: %s\n", subject);
  if (issuer != NULL)
    g_printerr ("  issuer: %s\n", issuer);
  if (not_after != NULL)
    {
      g_autofree char *until = g_date_time_format_iso8601 (not_after);

      g_printerr ("  valid until: %s\n", until);
    }
}

/* --pin-from-server: connects once without a pin.  A certificate the
 * system does not trust makes the handshake fail, but the connection keeps
 * what the server presented; that is what gets pinned.  With STARTTLS the
 * protocol's client speaks first: the handshake comes after its greeting
 * and its STARTTLS (STLS for POP3). */
static gboolean
pin_from_server (MailerAccount  *account,
                 GError        **error)
{
  MailerSecurity security = mailer_account_get_security (account);
  g_autoptr(MailerConnection) connection = NULL;
  g_autoptr(MailerPop3Client) pop3 = NULL;
  g_autoptr(MailerImapClient) imap = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) local_error = NULL;
  g_autofree char *where = NULL;
  g_autofree char *sha256 = NULL;
  GAsyncResult *pending = NULL;
  GTlsCertificate *certificate;
  gboolean connected;

  if (security == MAILER_SECURITY_NONE)
    {
      g_set_error_literal (error, CLI_ERROR, CLI_EXIT_USAGE,
                           "--pin-from-server needs --security tls or starttls");
      return FALSE;
    }

  where = format_host_port (mailer_account_get_host (account), mailer_account_get_port (account));
  connection = mailer_connection_new (mailer_account_get_host (account),
                                      mailer_account_get_port (account), security);
  if (security == MAILER_SECURITY_STARTTLS && mailer_account_get_kind (account) == MAILER_ACCOUNT_KIND_IMAP)
    {
      imap = mailer_imap_client_new (connection);
      mailer_imap_client_connect_async (imap, NULL, result_cb, &pending);
      result = wait_for (&pending);
      connected = mailer_imap_client_connect_finish (imap, result, &local_error);
    }
  else if (security == MAILER_SECURITY_STARTTLS)
    {
      pop3 = mailer_pop3_client_new (connection);
      mailer_pop3_client_connect_async (pop3, NULL, result_cb, &pending);
      result = wait_for (&pending);
      connected = mailer_pop3_client_connect_finish (pop3, result, &local_error);
    }
  else
    {
      mailer_connection_connect_async (connection, NULL, result_cb, &pending);
      result = wait_for (&pending);
      connected = mailer_connection_connect_finish (connection, result, &local_error);
    }
  g_clear_object (&result);

  if (connected)
    {
      if (imap != NULL)
        {
          /* LOGOUT closes the connection too. */
          mailer_imap_client_logout_async (imap, NULL, result_cb, &pending);
          result = wait_for (&pending);
          mailer_imap_client_logout_finish (imap, result, NULL);
        }
      else
        {
          mailer_connection_close_async (connection, NULL, result_cb, &pending);
          result = wait_for (&pending);
          mailer_connection_close_finish (connection, result, NULL);
        }
      g_printerr ("%s: this system trusts the certificate of %s; no pin is needed\n", PROGRAM, where);
      return TRUE;
    }

  certificate = mailer_connection_get_peer_certificate (connection);
  if (!g_error_matches (local_error, MAILER_CONNECTION_ERROR, MAILER_CONNECTION_ERROR_CERTIFICATE_UNTRUSTED) ||
      certificate == NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }

  sha256 = mailer_certificate_get_sha256 (certificate);
  if (sha256 == NULL)
    {
      g_set_error (error, CLI_ERROR, CLI_EXIT_TLS, "Cannot read the certificate of %s", where);
      return FALSE;
    }

  g_printerr ("%s: this system does not trust the certificate of %s (%s).\n"
              "%s: pinning it anyway: trust on first use.  Check the fingerprint below\n"
              "%s: with the server's administrator; if it differs, remove the account.\n",
              PROGRAM, where, describe_certificate_errors (mailer_connection_get_peer_certificate_errors (connection)),
              PROGRAM, PROGRAM);
  print_certificate (certificate, sha256);
  mailer_account_set_pinned_certificate (account, sha256);
  return TRUE;
}

static int
run_add_account (MailerSession  *session,
                 char          **args)
{
  g_autoptr(MailerAccount) account = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(Password) password = NULL;
  g_autofree char *pin = NULL;
  g_autofree char *prompt = NULL;
  GAsyncResult *pending = NULL;
  MailerAccountKind kind;
  MailerSecurity security = MAILER_SECURITY_TLS;
  gboolean leave_on_server = TRUE;
  gboolean delete_when_deleted = TRUE;
  guint16 port;

  if (opt_protocol == NULL || !mailer_account_kind_from_string (opt_protocol, &kind))
    return usage_error ("add-account needs --protocol pop3 or --protocol imap");
  if (opt_host == NULL || opt_host[0] == '\0')
    return usage_error ("add-account needs --host");
  if (opt_user == NULL || opt_user[0] == '\0')
    return usage_error ("add-account needs --user");
  if (opt_security != NULL && !mailer_security_from_string (opt_security, &security))
    return usage_error ("--security takes tls, starttls or none, not \"%s\"", opt_security);
  if (opt_port != -1 && (opt_port < 1 || opt_port > G_MAXUINT16))
    return usage_error ("--port takes a number from 1 to 65535");
  if (opt_pin != NULL && opt_pin_from_server)
    return usage_error ("give either --pin or --pin-from-server, not both");
  if (opt_pin != NULL && security == MAILER_SECURITY_NONE)
    return usage_error ("--pin needs --security tls or starttls");

  if (kind != MAILER_ACCOUNT_KIND_POP3 &&
      (opt_leave_on_server || opt_keep_days >= 0 || opt_delete_when_deleted || opt_size_limit >= 0))
    return usage_error ("--leave-on-server, --keep-days, --delete-when-deleted and --size-limit "
                        "are for POP3 accounts");
  if (kind != MAILER_ACCOUNT_KIND_IMAP && opt_prefetch_days != NULL)
    return usage_error ("--prefetch-days is for IMAP accounts");
  if (opt_prefetch_days != NULL && g_strcmp0 (opt_prefetch_days, "all") != 0 &&
      !g_ascii_string_to_unsigned (opt_prefetch_days, 10, 0, MAILER_ACCOUNT_PREFETCH_ALL, NULL, NULL))
    return usage_error ("--prefetch-days takes a number of days, or all");
  if (opt_leave_on_server != NULL &&
      !parse_yes_no ("leave-on-server", opt_leave_on_server, &leave_on_server, &error))
    return report (error);
  if (opt_delete_when_deleted != NULL &&
      !parse_yes_no ("delete-when-deleted", opt_delete_when_deleted, &delete_when_deleted, &error))
    return report (error);
  if (opt_keep_days < -1 || opt_keep_days > 36500)
    return usage_error ("--keep-days takes a number of days from 0 to 36500");
  if (opt_size_limit < -1)
    return usage_error ("--size-limit takes a number of bytes");
  if (opt_pin != NULL && (pin = normalize_pin (opt_pin, &error)) == NULL)
    return report (error);

  if (opt_port != -1)
    port = opt_port;
  else if (kind == MAILER_ACCOUNT_KIND_POP3)
    port = security == MAILER_SECURITY_TLS ? 995 : 110;
  else
    port = security == MAILER_SECURITY_TLS ? 993 : 143;

  account = mailer_account_new (kind);
  mailer_account_set_host (account, opt_host);
  mailer_account_set_port (account, port);
  mailer_account_set_security (account, security);
  mailer_account_set_username (account, opt_user);
  if (opt_name != NULL)
    mailer_account_set_display_name (account, opt_name);
  if (opt_address != NULL)
    mailer_account_set_address (account, opt_address);
  if (pin != NULL)
    mailer_account_set_pinned_certificate (account, pin);
  if (opt_prefetch_days != NULL)
    {
      guint64 days = MAILER_ACCOUNT_PREFETCH_ALL;

      if (g_strcmp0 (opt_prefetch_days, "all") != 0)
        g_ascii_string_to_unsigned (opt_prefetch_days, 10, 0, MAILER_ACCOUNT_PREFETCH_ALL, &days, NULL);
      mailer_account_set_prefetch_days (account, days);
    }
  if (kind == MAILER_ACCOUNT_KIND_POP3)
    {
      mailer_account_set_leave_on_server (account, leave_on_server);
      mailer_account_set_delete_when_deleted (account, delete_when_deleted);
      if (opt_keep_days >= 0)
        mailer_account_set_keep_days (account, opt_keep_days);
      if (opt_size_limit >= 0)
        mailer_account_set_size_limit (account, opt_size_limit);
    }

  if (security == MAILER_SECURITY_NONE)
    g_printerr ("%s: warning: with --security none the password and the mail cross the network "
                "unencrypted\n", PROGRAM);

  if (opt_pin_from_server && !pin_from_server (account, &error))
    return report (error);

  prompt = g_strdup_printf ("Password for %s on %s: ", opt_user, opt_host);
  password = read_password (prompt, &error);
  if (password == NULL)
    return report (error);

  mailer_session_add_account_async (session, account, password, NULL, result_cb, &pending);
  g_clear_pointer (&password, free_password);
  result = wait_for (&pending);
  if (!mailer_session_add_account_finish (session, result, &error))
    return report (error);

  g_print ("%s\n", mailer_account_get_uuid (account));
  return CLI_EXIT_OK;
}

/* accounts, remove-account */

static int
run_accounts (MailerSession  *session,
              char          **args)
{
  GListModel *accounts = mailer_session_get_accounts (session);
  guint n = g_list_model_get_n_items (accounts);

  for (guint i = 0; i < n; i++)
    {
      g_autoptr(MailerAccount) account = g_list_model_get_item (accounts, i);
      g_autoptr(GString) line = g_string_new (NULL);
      g_autofree char *where = format_host_port (mailer_account_get_host (account),
                                                 mailer_account_get_port (account));

      put_field (line, mailer_account_get_uuid (account));
      g_string_append_c (line, '\t');
      put_field (line, mailer_account_kind_to_string (mailer_account_get_kind (account)));
      g_string_append_c (line, '\t');
      put_field (line, account_label (account));
      g_string_append_c (line, '\t');
      put_field (line, where);
      g_string_append_c (line, '\t');
      put_field (line, mailer_security_to_string (mailer_account_get_security (account)));
      put_line (line);
    }
  return CLI_EXIT_OK;
}

static int
run_remove_account (MailerSession  *session,
                    char          **args)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  GAsyncResult *pending = NULL;
  MailerAccount *account;

  account = find_account (session, args[0], &error);
  if (account == NULL)
    return report (error);

  mailer_session_remove_account_async (session, account, NULL, result_cb, &pending);
  result = wait_for (&pending);
  if (!mailer_session_remove_account_finish (session, result, &error))
    return report (error);
  return CLI_EXIT_OK;
}

/* sync */

typedef struct
{
  gboolean tty;
  gboolean line_open;   /* a progress line waits for its end (tty) */
  char *last;
} Progress;

static void
progress_end_line (Progress *progress)
{
  if (progress->line_open)
    g_printerr ("\n");
  progress->line_open = FALSE;
}

static void
progress_show (Progress   *progress,
               const char *text)
{
  if (g_strcmp0 (text, progress->last) == 0)
    return;
  g_free (progress->last);
  progress->last = g_strdup (text);

  if (progress->tty)
    {
      /* One line, rewritten in place. */
      g_printerr ("\r\033[K%s", text);
      progress->line_open = TRUE;
    }
  else
    g_printerr ("%s\n", text);
}

static void
state_changed_cb (MailerAccount *account,
                  GParamSpec    *pspec,
                  Progress      *progress)
{
  if (mailer_account_get_connection_state (account) == MAILER_CONNECTION_STATE_CONNECTING)
    {
      g_autofree char *where = format_host_port (mailer_account_get_host (account),
                                                 mailer_account_get_port (account));
      g_autofree char *text = g_strdup_printf ("Connecting to %s", where);

      progress_show (progress, text);
    }
}

/* "Downloading 5 of 200": the sync sets the progress, then the message.
 * A failure's message is printed once, as the error. */
static void
status_changed_cb (MailerAccount *account,
                   GParamSpec    *pspec,
                   Progress      *progress)
{
  const char *message = mailer_account_get_status_message (account);

  if (message != NULL && mailer_account_get_connection_state (account) == MAILER_CONNECTION_STATE_SYNCING)
    progress_show (progress, message);
}

/* The account's password, from the keyring; free it with
 * mailer_secrets_free_password(). */
static char *
lookup_password (MailerAccount  *account,
                 GError        **error)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) local_error = NULL;
  GAsyncResult *pending = NULL;
  char *password;

  mailer_secrets_lookup_password_async (account, NULL, result_cb, &pending);
  result = wait_for (&pending);
  password = mailer_secrets_lookup_password_finish (result, &local_error);
  if (password != NULL)
    return password;

  if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND))
    g_set_error (error, CLI_ERROR, CLI_EXIT_AUTH,
                 "No password is saved in the keyring for %s; remove the account and add it again",
                 account_label (account));
  else
    {
      g_prefix_error (&local_error, "Cannot read the password from the keyring: ");
      g_propagate_error (error, g_steal_pointer (&local_error));
    }
  return NULL;
}

/* What one sync did, by protocol. */
typedef struct
{
  MailerAccountKind kind;
  MailerPop3SyncResult pop3;
  MailerImapSyncResult imap;
} SyncSummary;

static char *
format_sync_summary (const SyncSummary *summary)
{
  if (summary->kind == MAILER_ACCOUNT_KIND_IMAP)
    return g_strdup_printf ("new %u, flag changes %u, removed %u, replayed %u",
                            summary->imap.n_new, summary->imap.n_flag_changes,
                            summary->imap.n_vanished, summary->imap.n_replayed);
  return g_strdup_printf ("downloaded %u, deleted %u from the server",
                          summary->pop3.n_downloaded, summary->pop3.n_deleted);
}

/* POP3: downloads new mail (and deletes server copies as the account
 * says).  IMAP: the two-way sync: local changes replayed on the server,
 * folders, new summaries, flags and expunges from the server.  MailerSession's
 * sync tells only how many messages arrived; the command line says more,
 * so it runs the protocol's sync itself. */
static gboolean
sync_account (MailerSession  *session,
              MailerAccount  *account,
              SyncSummary    *out,
              GError        **error)
{
  MailerStore *store = mailer_session_get_store (session);
  g_autoptr(MailerPop3Sync) pop3 = NULL;
  g_autoptr(MailerImapSync) imap = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  GAsyncResult *pending = NULL;
  Progress progress = { 0, };
  char *password;
  gulong state_id, status_id;
  gboolean ok;

  out->kind = mailer_account_get_kind (account);
  password = lookup_password (account, error);
  if (password == NULL)
    return FALSE;

  progress.tty = isatty (STDERR_FILENO);
  state_id = g_signal_connect (account, "notify::connection-state", G_CALLBACK (state_changed_cb), &progress);
  status_id = g_signal_connect (account, "notify::status-message", G_CALLBACK (status_changed_cb), &progress);

  if (out->kind == MAILER_ACCOUNT_KIND_IMAP)
    {
      imap = mailer_imap_sync_new (store, account, password);
      mailer_secrets_free_password (password);
      mailer_imap_sync_run_async (imap, NULL, result_cb, &pending);
      result = wait_for (&pending);
      ok = mailer_imap_sync_run_finish (imap, result, &out->imap, error);
    }
  else
    {
      pop3 = mailer_pop3_sync_new (store, account);
      mailer_pop3_sync_run_async (pop3, password, NULL, result_cb, &pending);
      mailer_secrets_free_password (password);
      result = wait_for (&pending);
      ok = mailer_pop3_sync_run_finish (pop3, result, &out->pop3, error);
    }

  g_signal_handler_disconnect (account, state_id);
  g_signal_handler_disconnect (account, status_id);
  progress_end_line (&progress);
  g_free (progress.last);
  return ok;
}

/* Syncs @accounts one after the other, a line each on stdout; with
 * @prefixed, each line (and error) starts with the account's name.
 * @failed_prefix goes before the error of a failed sync.  Returns the exit
 * code of the first failure. */
static int
sync_accounts (MailerSession *session,
               GPtrArray     *accounts,
               gboolean       prefixed,
               const char    *failed_prefix)
{
  int status = CLI_EXIT_OK;

  for (guint i = 0; i < accounts->len; i++)
    {
      MailerAccount *account = g_ptr_array_index (accounts, i);
      SyncSummary summary = { 0, };
      g_autoptr(GError) error = NULL;
      g_autofree char *prefix = prefixed ? g_strdup_printf ("%s: ", account_label (account)) : g_strdup ("");
      g_autofree char *line = NULL;

      if (!sync_account (session, account, &summary, &error))
        {
          int code;

          g_prefix_error (&error, "%s%s", prefix, failed_prefix);
          code = report (error);
          if (status == CLI_EXIT_OK)
            status = code;
          continue;
        }
      line = format_sync_summary (&summary);
      g_print ("%s%s\n", prefix, line);
    }
  return status;
}

static int
run_sync (MailerSession  *session,
          char          **args)
{
  g_autoptr(GPtrArray) accounts = g_ptr_array_new_with_free_func (g_object_unref);
  int status, text_status;

  if (args[0] != NULL)
    {
      g_autoptr(GError) error = NULL;
      MailerAccount *account = find_account (session, args[0], &error);

      if (account == NULL)
        return report (error);
      g_ptr_array_add (accounts, g_object_ref (account));
    }
  else
    {
      GListModel *model = mailer_session_get_accounts (session);
      guint n = g_list_model_get_n_items (model);

      for (guint i = 0; i < n; i++)
        g_ptr_array_add (accounts, g_list_model_get_item (model, i));
      if (n == 0)
        g_printerr ("%s: there are no accounts; add one with add-account\n", PROGRAM);
    }

  /* With several accounts, each line says whose it is. */
  status = sync_accounts (session, accounts, args[0] == NULL, "");
  text_status = finish_text (session);
  return status != CLI_EXIT_OK ? status : text_status;
}

/* folders */

static gboolean
print_folders (MailerSession  *session,
               MailerAccount  *account,
               GError        **error)
{
  g_autoptr(GPtrArray) folders = NULL;

  folders = mailer_store_list_folders (mailer_session_get_store (session), mailer_account_get_id (account), error);
  if (folders == NULL)
    return FALSE;
  for (guint i = 0; i < folders->len; i++)
    {
      MailerFolder *folder = g_ptr_array_index (folders, i);
      g_autoptr(GString) line = g_string_new (NULL);

      g_string_append_printf (line, "%" G_GINT64_FORMAT "\t", mailer_folder_get_id (folder));
      put_field (line, mailer_account_get_uuid (account));
      g_string_append_c (line, '\t');
      put_field (line, mailer_folder_get_path (folder));
      g_string_append_c (line, '\t');
      put_field (line, mailer_folder_role_to_string (mailer_folder_get_role (folder)));
      g_string_append_printf (line, "\t%u\t%u",
                              mailer_folder_get_unread_count (folder),
                              mailer_folder_get_total_count (folder));
      put_line (line);
    }
  return TRUE;
}

static int
run_folders (MailerSession  *session,
             char          **args)
{
  g_autoptr(GError) error = NULL;

  if (args[0] != NULL)
    {
      MailerAccount *account = find_account (session, args[0], &error);

      if (account == NULL || !print_folders (session, account, &error))
        return report (error);
    }
  else
    {
      GListModel *model = mailer_session_get_accounts (session);

      for (guint i = 0; i < g_list_model_get_n_items (model); i++)
        {
          g_autoptr(MailerAccount) account = g_list_model_get_item (model, i);

          if (!print_folders (session, account, &error))
            return report (error);
        }
    }
  return CLI_EXIT_OK;
}

/* list, search */

static char *opt_folder;
static gboolean opt_unified;
static int opt_limit;

static const GOptionEntry list_entries[] = {
  { "folder", 0, 0, G_OPTION_ARG_STRING, &opt_folder, "The folder with this id (see folders)", "ID" },
  { "unified", 0, 0, G_OPTION_ARG_NONE, &opt_unified, "The inboxes of all accounts (the default)", NULL },
  { "limit", 0, 0, G_OPTION_ARG_INT, &opt_limit, "At most N messages, newest first", "N" },
  { NULL }
};

static const GOptionEntry search_entries[] = {
  { "folder", 0, 0, G_OPTION_ARG_STRING, &opt_folder, "Search only the folder with this id", "ID" },
  { "limit", 0, 0, G_OPTION_ARG_INT, &opt_limit, "At most N messages, newest first", "N" },
  { NULL }
};

static gboolean
folder_option (MailerSession  *session,
               gint64         *folder_id,
               GError        **error)
{
  g_autoptr(MailerFolder) folder = NULL;
  g_autoptr(GError) local_error = NULL;

  *folder_id = 0;
  if (opt_folder == NULL)
    return TRUE;
  if (!parse_id (opt_folder, "folder", folder_id, error))
    return FALSE;
  folder = mailer_store_get_folder (mailer_session_get_store (session), *folder_id, &local_error);
  if (folder == NULL)
    {
      if (g_error_matches (local_error, MAILER_STORE_ERROR, MAILER_STORE_ERROR_NOT_FOUND))
        g_set_error (error, CLI_ERROR, CLI_EXIT_NOT_FOUND, "No folder with id %s", opt_folder);
      else
        g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  return TRUE;
}

static void
put_flags (GString       *line,
           MailerMessage *message)
{
  MailerMessageFlags flags = mailer_message_get_flags (message);
  gsize start = line->len;

  if (!(flags & MAILER_MESSAGE_FLAG_SEEN))
    g_string_append_c (line, 'U');
  if (flags & MAILER_MESSAGE_FLAG_FLAGGED)
    g_string_append_c (line, 'F');
  if (flags & MAILER_MESSAGE_FLAG_ANSWERED)
    g_string_append_c (line, 'A');
  if (flags & MAILER_MESSAGE_FLAG_DRAFT)
    g_string_append_c (line, 'D');
  if (mailer_message_get_body_state (message) == MAILER_BODY_STATE_PARTIAL)
    g_string_append_c (line, 'P');
  if (line->len == start)
    g_string_append_c (line, '-');
}

static char *
format_sender (MailerMessage *message)
{
  const char *name = mailer_message_get_sender (message);
  const char *address = mailer_message_get_sender_address (message);

  if (name != NULL && name[0] != '\0' && address != NULL && address[0] != '\0' &&
      g_strcmp0 (name, address) != 0)
    return g_strdup_printf ("%s <%s>", name, address);
  if (name != NULL && name[0] != '\0')
    return g_strdup (name);
  return g_strdup (address ? address : "");
}

static int
print_messages (GListModel *list)
{
  guint n = g_list_model_get_n_items (list);

  if (opt_limit > 0)
    n = MIN (n, (guint) opt_limit);
  for (guint i = 0; i < n; i++)
    {
      g_autoptr(MailerMessage) message = g_list_model_get_item (list, i);
      g_autoptr(GString) line = g_string_new (NULL);
      g_autofree char *date = format_date (mailer_message_get_date (message));
      g_autofree char *sender = format_sender (message);

      g_string_append_printf (line, "%" G_GINT64_FORMAT "\t%s\t", mailer_message_get_id (message), date);
      put_flags (line, message);
      g_string_append_c (line, '\t');
      put_field (line, sender);
      g_string_append_c (line, '\t');
      put_field (line, mailer_message_get_subject (message));
      put_line (line);
    }
  return CLI_EXIT_OK;
}

static int
run_list (MailerSession  *session,
          char          **args)
{
  g_autoptr(MailerMessageList) list = NULL;
  g_autoptr(GError) error = NULL;
  gint64 folder_id;

  if (opt_folder != NULL && opt_unified)
    return usage_error ("give either --folder or --unified, not both");
  if (opt_limit < 0)
    return usage_error ("--limit takes a positive number");
  if (!folder_option (session, &folder_id, &error))
    return report (error);

  if (folder_id > 0)
    list = mailer_message_list_new_for_folder (mailer_session_get_store (session), folder_id, &error);
  else
    list = mailer_message_list_new_unified_inbox (mailer_session_get_store (session), &error);
  if (list == NULL)
    return report (error);
  return print_messages (G_LIST_MODEL (list));
}

static int
run_search (MailerSession  *session,
            char          **args)
{
  g_autoptr(MailerMessageList) list = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *text = g_strjoinv (" ", args);
  gint64 folder_id;
  int status;

  if (opt_limit < 0)
    return usage_error ("--limit takes a positive number");
  if (!folder_option (session, &folder_id, &error))
    return report (error);
  status = finish_text (session);
  if (status != CLI_EXIT_OK)
    return status;

  list = mailer_message_list_new_search (mailer_session_get_store (session), text, folder_id, &error);
  if (list == NULL)
    return report (error);
  return print_messages (G_LIST_MODEL (list));
}

/* show */

static gboolean opt_text;

static const GOptionEntry show_entries[] = {
  { "text", 0, 0, G_OPTION_ARG_NONE, &opt_text,
    "Print the headers and the text instead of the raw message", NULL },
  { NULL }
};

static gboolean
write_stdout (const void  *data,
              gsize        len,
              GError     **error)
{
  if ((len > 0 && fwrite (data, 1, len, stdout) != len) || fflush (stdout) != 0)
    {
      int saved_errno = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                   "Cannot write to standard output: %s", g_strerror (saved_errno));
      return FALSE;
    }
  return TRUE;
}

static void
put_header (GString    *text,
            const char *name,
            const char *value)
{
  if (value == NULL || value[0] == '\0')
    return;
  g_string_append_printf (text, "%s: ", name);
  put_field (text, value);
  g_string_append_c (text, '\n');
}

static GString *
format_text (MailerMessage     *message,
             MailerMimeSummary *summary)
{
  GString *text = g_string_new (NULL);
  g_autofree char *date = format_date (summary->date ? summary->date : mailer_message_get_date (message));
  g_autofree char *from = NULL;

  if (summary->from_name != NULL && summary->from_address != NULL)
    from = g_strdup_printf ("%s <%s>", summary->from_name, summary->from_address);
  else
    from = g_strdup (summary->from_name ? summary->from_name : summary->from_address);

  put_header (text, "From", from);
  put_header (text, "To", summary->to);
  put_header (text, "Cc", summary->cc);
  put_header (text, "Date", date);
  put_header (text, "Subject", summary->subject);
  for (guint i = 0; i < summary->attachments->len; i++)
    {
      MailerMimeAttachment *attachment = g_ptr_array_index (summary->attachments, i);
      g_autofree char *size = g_format_size (attachment->size);
      g_autofree char *value = g_strdup_printf ("%s (%s, %s)",
                                                attachment->filename ? attachment->filename : "unnamed",
                                                attachment->content_type, size);

      put_header (text, "Attachment", value);
    }
  g_string_append_c (text, '\n');
  g_string_append (text, summary->body_text);
  if (text->len > 0 && text->str[text->len - 1] != '\n')
    g_string_append_c (text, '\n');
  return text;
}

static MailerAccount *
find_account_by_id (MailerSession *session,
                    gint64         account_id)
{
  GListModel *model = mailer_session_get_accounts (session);

  for (guint i = 0; i < g_list_model_get_n_items (model); i++)
    {
      g_autoptr(MailerAccount) account = g_list_model_get_item (model, i);

      if (mailer_account_get_id (account) == account_id)
        return account;
    }
  return NULL;
}

/* The account that message @id (given as @text) belongs to. */
static MailerAccount *
message_account (MailerSession  *session,
                 gint64          id,
                 const char     *text,
                 GError        **error)
{
  MailerStore *store = mailer_session_get_store (session);
  g_autoptr(MailerFolder) folder = NULL;
  g_autoptr(GError) local_error = NULL;
  MailerAccount *account = NULL;
  gint64 folder_id = 0;

  if (mailer_store_get_server_ids (store, id, &folder_id, NULL, NULL, &local_error))
    folder = mailer_store_get_folder (store, folder_id, &local_error);
  if (folder != NULL)
    account = find_account_by_id (session, mailer_folder_get_account_id (folder));
  if (account != NULL)
    return account;

  if (local_error == NULL || g_error_matches (local_error, MAILER_STORE_ERROR, MAILER_STORE_ERROR_NOT_FOUND))
    g_set_error (error, CLI_ERROR, CLI_EXIT_NOT_FOUND, "No message with id %s", text);
  else
    g_propagate_error (error, g_steal_pointer (&local_error));
  return NULL;
}

/* Downloads the body of an IMAP message whose summary alone is stored. */
static gboolean
fetch_body (MailerSession  *session,
            MailerAccount  *account,
            gint64          id,
            const char     *text,
            GError        **error)
{
  g_autoptr(MailerImapSync) sync = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) local_error = NULL;
  GAsyncResult *pending = NULL;
  char *password;

  password = lookup_password (account, error);
  if (password == NULL)
    return FALSE;
  sync = mailer_imap_sync_new (mailer_session_get_store (session), account, password);
  mailer_secrets_free_password (password);

  mailer_imap_sync_fetch_body_async (sync, id, NULL, result_cb, &pending);
  result = wait_for (&pending);
  if (mailer_imap_sync_fetch_body_finish (sync, result, &local_error))
    return TRUE;

  if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_PENDING))
    /* Moved here, and the server has not been told yet: it has no UID. */
    g_set_error (error, CLI_ERROR, CLI_EXIT_USAGE,
                 "Message %s was moved and its server has not been told yet, so it cannot be "
                 "downloaded; run \"%s sync\" first", text, PROGRAM);
  else if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND))
    g_set_error (error, CLI_ERROR, CLI_EXIT_NOT_FOUND,
                 "Message %s is no longer on the server, and only its summary is stored here", text);
  else
    {
      if (exit_code_for_error (local_error) == CLI_EXIT_NETWORK)
        g_prefix_error (&local_error, "Message %s has not been downloaded yet, and its server cannot be "
                        "reached to download it (offline?): ", text);
      else
        g_prefix_error (&local_error, "Cannot download message %s: ", text);
      g_propagate_error (error, g_steal_pointer (&local_error));
    }
  return FALSE;
}

static int
run_show (MailerSession  *session,
          char          **args)
{
  MailerStore *store = mailer_session_get_store (session);
  g_autoptr(MailerMessage) message = NULL;
  g_autoptr(GBytes) raw = NULL;
  g_autoptr(GError) error = NULL;
  gint64 id;

  if (!parse_id (args[0], "message", &id, &error))
    return report (error);

  message = mailer_store_get_message (store, id, &error);
  if (message == NULL)
    {
      if (g_error_matches (error, MAILER_STORE_ERROR, MAILER_STORE_ERROR_NOT_FOUND))
        {
          g_clear_error (&error);
          g_set_error (&error, CLI_ERROR, CLI_EXIT_NOT_FOUND, "No message with id %s", args[0]);
        }
      return report (error);
    }

  raw = mailer_store_get_raw (store, id, &error);
  if (raw == NULL && g_error_matches (error, MAILER_STORE_ERROR, MAILER_STORE_ERROR_NOT_FOUND))
    {
      MailerAccount *account;

      g_clear_error (&error);
      account = message_account (session, id, args[0], &error);
      if (account == NULL)
        return report (error);
      if (mailer_account_get_kind (account) != MAILER_ACCOUNT_KIND_IMAP)
        {
          g_set_error (&error, CLI_ERROR, CLI_EXIT_NOT_FOUND,
                       "Message %s has not been downloaded; only its summary is stored", args[0]);
          return report (error);
        }
      /* IMAP stores summaries; the body comes when it is read. */
      if (!fetch_body (session, account, id, args[0], &error))
        return report (error);
      raw = mailer_store_get_raw (store, id, &error);
    }
  if (raw == NULL)
    return report (error);
  if (mailer_message_get_body_state (message) == MAILER_BODY_STATE_PARTIAL)
    g_printerr ("%s: only the start of message %s is stored (it is over the account's size limit)\n",
                PROGRAM, args[0]);

  if (opt_text)
    {
      g_autoptr(MailerMimeSummary) summary = mailer_mime_parse (raw, &error);
      g_autoptr(GString) text = NULL;

      if (summary == NULL)
        return report (error);
      text = format_text (message, summary);
      if (!write_stdout (text->str, text->len, &error))
        return report (error);
    }
  else
    {
      gsize len;
      const void *data = g_bytes_get_data (raw, &len);

      if (!write_stdout (data, len, &error))
        return report (error);
    }
  return CLI_EXIT_OK;
}

/* mark, move, delete: recorded here, in the journal for an IMAP server,
 * which the sync that follows replays at once. */

static gboolean opt_read;
static gboolean opt_unread;
static gboolean opt_flag;
static gboolean opt_unflag;
static char *opt_to;
static gboolean opt_no_sync;

#define NO_SYNC_ENTRY \
  { "no-sync", 0, 0, G_OPTION_ARG_NONE, &opt_no_sync, \
    "Only record the change here; the next sync takes it to the server", NULL }

static const GOptionEntry mark_entries[] = {
  { "read", 0, 0, G_OPTION_ARG_NONE, &opt_read, "Mark as read", NULL },
  { "unread", 0, 0, G_OPTION_ARG_NONE, &opt_unread, "Mark as unread", NULL },
  { "flag", 0, 0, G_OPTION_ARG_NONE, &opt_flag, "Flag (star)", NULL },
  { "unflag", 0, 0, G_OPTION_ARG_NONE, &opt_unflag, "Remove the flag", NULL },
  NO_SYNC_ENTRY,
  { NULL }
};

static const GOptionEntry move_entries[] = {
  { "to", 0, 0, G_OPTION_ARG_STRING, &opt_to, "The folder with this id (see folders; required)", "FOLDER-ID" },
  NO_SYNC_ENTRY,
  { NULL }
};

static const GOptionEntry delete_entries[] = {
  NO_SYNC_ENTRY,
  { NULL }
};

typedef enum
{
  CHANGE_FLAGS,
  CHANGE_MOVE,
  CHANGE_DELETE,
} ChangeKind;

/* The messages of one account that a command changes. */
typedef struct
{
  MailerAccount *account;
  GArray *ids;          /* gint64 */
} AccountMessages;

static void
account_messages_free (AccountMessages *group)
{
  g_object_unref (group->account);
  g_array_unref (group->ids);
  g_free (group);
}

/* Every message of @args, by account, in the order given; each once. */
static GPtrArray *
group_messages (MailerSession  *session,
                char          **args,
                GError        **error)
{
  g_autoptr(GPtrArray) groups = g_ptr_array_new_with_free_func ((GDestroyNotify) account_messages_free);
  g_autoptr(GHashTable) seen = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);

  for (guint i = 0; args[i] != NULL; i++)
    {
      AccountMessages *group = NULL;
      MailerAccount *account;
      gint64 id;

      if (!parse_id (args[i], "message", &id, error))
        return NULL;
      if (!g_hash_table_add (seen, g_memdup2 (&id, sizeof id)))
        continue;
      account = message_account (session, id, args[i], error);
      if (account == NULL)
        return NULL;

      for (guint j = 0; j < groups->len && group == NULL; j++)
        if (((AccountMessages *) g_ptr_array_index (groups, j))->account == account)
          group = g_ptr_array_index (groups, j);
      if (group == NULL)
        {
          group = g_new0 (AccountMessages, 1);
          group->account = g_object_ref (account);
          group->ids = g_array_new (FALSE, FALSE, sizeof (gint64));
          g_ptr_array_add (groups, group);
        }
      g_array_append_val (group->ids, id);
    }
  return g_steal_pointer (&groups);
}

static gboolean
apply_change (MailerStore         *store,
              ChangeKind           kind,
              GArray              *ids,
              MailerMessageFlags   add,
              MailerMessageFlags   remove,
              gint64               dest_folder_id,
              gboolean             journal,
              GError             **error)
{
  g_autoptr(GAsyncResult) result = NULL;
  GAsyncResult *pending = NULL;

  switch (kind)
    {
    case CHANGE_FLAGS:
      mailer_store_set_flags_async (store, ids, add, remove, journal, NULL, result_cb, &pending);
      result = wait_for (&pending);
      return mailer_store_set_flags_finish (store, result, error);
    case CHANGE_MOVE:
      mailer_store_move_messages_async (store, ids, dest_folder_id, journal, NULL, result_cb, &pending);
      result = wait_for (&pending);
      return mailer_store_move_messages_finish (store, result, error);
    case CHANGE_DELETE:
    default:
      mailer_store_delete_messages_async (store, ids, journal, NULL, result_cb, &pending);
      result = wait_for (&pending);
      return mailer_store_delete_messages_finish (store, result, error);
    }
}

/* Changes the messages of @args here: for IMAP accounts with a record in
 * the journal, then (unless --no-sync) syncs those accounts so that the
 * server has the change at once.  POP3 has no way to tell the server of
 * flags or folders: there the change stays here. */
static int
run_change (MailerSession       *session,
            char               **args,
            ChangeKind           kind,
            MailerMessageFlags   add,
            MailerMessageFlags   remove,
            MailerFolder        *dest)
{
  MailerStore *store = mailer_session_get_store (session);
  g_autoptr(GPtrArray) groups = NULL;
  g_autoptr(GPtrArray) to_sync = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GError) error = NULL;

  /* Every message is checked before anything changes. */
  groups = group_messages (session, args, &error);
  if (groups == NULL)
    return report (error);
  if (dest != NULL)
    for (guint i = 0; i < groups->len; i++)
      {
        AccountMessages *group = g_ptr_array_index (groups, i);

        if (mailer_account_get_id (group->account) != mailer_folder_get_account_id (dest))
          return usage_error ("message %" G_GINT64_FORMAT " and folder %" G_GINT64_FORMAT " belong to "
                              "different accounts; messages move only between folders of one account",
                              g_array_index (group->ids, gint64, 0), mailer_folder_get_id (dest));
      }

  for (guint i = 0; i < groups->len; i++)
    {
      AccountMessages *group = g_ptr_array_index (groups, i);
      gboolean imap = mailer_account_get_kind (group->account) == MAILER_ACCOUNT_KIND_IMAP;

      if (!apply_change (store, kind, group->ids, add, remove, dest ? mailer_folder_get_id (dest) : 0,
                         imap, &error))
        return report (error);
      if (imap)
        g_ptr_array_add (to_sync, g_object_ref (group->account));
      else
        g_printerr ("%s: %s is a POP3 account: the change is made here only (POP3 does not sync changes)\n",
                    PROGRAM, account_label (group->account));
    }

  if (opt_no_sync)
    return CLI_EXIT_OK;
  return sync_accounts (session, to_sync, to_sync->len > 1,
                        "The change is saved here and goes to the server at the next sync; this one failed: ");
}

static int
run_mark (MailerSession  *session,
          char          **args)
{
  MailerMessageFlags add = 0, remove = 0;

  if (!opt_read && !opt_unread && !opt_flag && !opt_unflag)
    return usage_error ("mark needs --read, --unread, --flag or --unflag");
  if (opt_read && opt_unread)
    return usage_error ("give either --read or --unread, not both");
  if (opt_flag && opt_unflag)
    return usage_error ("give either --flag or --unflag, not both");

  if (opt_read)
    add |= MAILER_MESSAGE_FLAG_SEEN;
  if (opt_unread)
    remove |= MAILER_MESSAGE_FLAG_SEEN;
  if (opt_flag)
    add |= MAILER_MESSAGE_FLAG_FLAGGED;
  if (opt_unflag)
    remove |= MAILER_MESSAGE_FLAG_FLAGGED;
  return run_change (session, args, CHANGE_FLAGS, add, remove, NULL);
}

static int
run_move (MailerSession  *session,
          char          **args)
{
  g_autoptr(MailerFolder) folder = NULL;
  g_autoptr(GError) error = NULL;
  gint64 folder_id;

  if (opt_to == NULL)
    return usage_error ("move needs --to FOLDER-ID (see folders)");
  if (!parse_id (opt_to, "folder", &folder_id, &error))
    return report (error);
  folder = mailer_store_get_folder (mailer_session_get_store (session), folder_id, &error);
  if (folder == NULL)
    {
      if (g_error_matches (error, MAILER_STORE_ERROR, MAILER_STORE_ERROR_NOT_FOUND))
        {
          g_clear_error (&error);
          g_set_error (&error, CLI_ERROR, CLI_EXIT_NOT_FOUND, "No folder with id %s", opt_to);
        }
      return report (error);
    }
  return run_change (session, args, CHANGE_MOVE, 0, 0, folder);
}

static int
run_delete (MailerSession  *session,
            char          **args)
{
  return run_change (session, args, CHANGE_DELETE, 0, 0, NULL);
}

/* Commands */

typedef struct
{
  const char *name;
  const char *arguments;      /* for the usage line */
  const char *summary;
  const GOptionEntry *entries;
  guint min_args;
  guint max_args;             /* G_MAXUINT: any number */
  int (*run) (MailerSession *session, char **args);
} Command;

/* The rest of the help of mark, move and delete. */
#define CHANGE_HELP \
  "\n\n" \
  "IMAP: the account is synced next, so that its server has the change at once\n" \
  "(its summary line is printed as by sync); with --no-sync the next sync does it.\n" \
  "POP3 does not sync changes: on a POP3 account they are made here only."

static const Command commands[] = {
  { "add-account", "", "Add an account; the password is read from standard input as one line, and "
    "the new account's id is printed", add_account_entries, 0, 0, run_add_account },
  { "accounts", "", "List the accounts: id, protocol, name, host:port, security",
    NULL, 0, 0, run_accounts },
  { "remove-account", "UUID", "Remove an account, its mail here, and its password",
    NULL, 1, 1, run_remove_account },
  { "sync", "[UUID]", "Sync one account, or all of them, and print what changed\n\n"
    "POP3: downloads new mail (\"downloaded N, deleted M from the server\").\n"
    "IMAP: two-way: sends the changes made here (mark, move, delete), then takes the\n"
    "server's folders, new messages (their summaries; show downloads a body), flags\n"
    "and removals (\"new N, flag changes F, removed R, replayed C\").",
    NULL, 0, 1, run_sync },
  { "folders", "[UUID]", "List the folders: id, account, name, role, unread, total",
    NULL, 0, 1, run_folders },
  { "list", "", "List messages, newest first: id, date, flags, sender, subject\n"
    "Flags: U unread, F flagged, A answered, D draft, P partly downloaded, - none",
    list_entries, 0, 0, run_list },
  { "show", "ID", "Print a message: the raw message byte for byte, or its text; an IMAP message\n"
    "whose body is not stored yet is downloaded first (and kept)",
    show_entries, 1, 1, run_show },
  { "search", "TEXT...", "Find messages containing every word; printed as by list",
    search_entries, 1, G_MAXUINT, run_search },
  { "mark", "ID...", "Mark messages read or unread, flagged or not" CHANGE_HELP,
    mark_entries, 1, G_MAXUINT, run_mark },
  { "move", "ID...", "Move messages to another folder of their account (see folders)" CHANGE_HELP,
    move_entries, 1, G_MAXUINT, run_move },
  { "delete", "ID...", "Delete messages" CHANGE_HELP "\n"
    "(A POP3 server's copy goes at the next sync if the account deletes there what\n"
    "is deleted here: add-account --delete-when-deleted.)",
    delete_entries, 1, G_MAXUINT, run_delete },
};

static char *
commands_summary (void)
{
  GString *summary = g_string_new ("Reads, syncs and changes mail with the accounts and store of Mailer.\n\nCommands:\n");

  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    {
      g_autofree char *first_line = g_strndup (commands[i].summary, strcspn (commands[i].summary, ";\n"));
      g_autofree char *usage = g_strdup_printf ("%s %s", commands[i].name, commands[i].arguments);

      g_string_append_printf (summary, "  %-22s %s\n", usage, first_line);
    }
  g_string_append_printf (summary, "\nRun \"%s COMMAND --help\" for the options of a command.", PROGRAM);
  return g_string_free (summary, FALSE);
}

static int
run_command (const Command  *command,
             int             argc,
             char          **argv)
{
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(MailerSession) session = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *prgname = g_strdup_printf ("%s %s", PROGRAM, command->name);
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
  g_auto(GStrv) args = NULL;
  guint n_args;
  int status;

  /* The usage line reads "mailer-cli sync [OPTION...] [UUID]". */
  context = g_option_context_new (command->arguments);
  g_option_context_set_summary (context, command->summary);
  g_option_context_set_description (context, exit_codes_help);
  g_option_context_add_main_entries (context, data_dir_entries, NULL);
  if (command->entries != NULL)
    g_option_context_add_main_entries (context, command->entries, NULL);

  g_set_prgname (prgname);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    return usage_error ("%s; see \"%s --help\"", error->message, prgname);
  g_set_prgname (PROGRAM);

  /* argv[0] is the command's name; what follows are its arguments. */
  for (int i = 1; i < argc; i++)
    if (!(i == 1 && g_str_equal (argv[i], "--")))
      g_strv_builder_add (builder, argv[i]);
  args = g_strv_builder_end (builder);
  n_args = g_strv_length (args);
  if (n_args < command->min_args || n_args > command->max_args)
    return usage_error ("usage: %s [OPTION...] %s", prgname, command->arguments);

  session = mailer_session_new (opt_data_dir, &error);
  if (session == NULL)
    {
      g_prefix_error (&error, "Cannot open the mail store: ");
      return report (error);
    }

  status = command->run (session, args);
  if (fflush (stdout) != 0 && status == CLI_EXIT_OK)
    status = usage_error ("cannot write to standard output: %s", g_strerror (errno));

  /* The store closes (its threads joined, its log copied into the
   * database) once its last writes let go of it, on this context. */
  g_clear_object (&session);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  return status;
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *summary = NULL;

  setlocale (LC_ALL, "");
  g_set_prgname (PROGRAM);
  /* The IMAP sync decodes headers with GMime, which needs this first; here,
   * before any thread starts. */
  mailer_mime_init ();

  context = g_option_context_new ("COMMAND [ARGUMENT...]");
  /* Options up to the command are global; the rest are the command's. */
  g_option_context_set_strict_posix (context, TRUE);
  summary = commands_summary ();
  g_option_context_set_summary (context, summary);
  g_option_context_set_description (context, exit_codes_help);
  g_option_context_add_main_entries (context, data_dir_entries, NULL);
  g_option_context_add_main_entries (context, top_entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    return usage_error ("%s; see \"%s --help\"", error->message, PROGRAM);

  if (opt_version)
    {
      g_print ("%s %s\n", PROGRAM, PACKAGE_VERSION);
      return CLI_EXIT_OK;
    }
  if (argc < 2)
    return usage_error ("no command given; see \"%s --help\"", PROGRAM);

  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    if (g_str_equal (argv[1], commands[i].name))
      return run_command (&commands[i], argc - 1, argv + 1);

  return usage_error ("unknown command \"%s\"; see \"%s --help\"", argv[1], PROGRAM);
}
