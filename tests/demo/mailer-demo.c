/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * mailer-demo: starts Mailer on a private demo mail server.
 *
 * It starts the Dovecot test fixture on free loopback ports, seeded with
 * the sample messages in tests/demo/mail/, adds one IMAP and one POP3 demo
 * account to a separate demo data dir (passwords in the keyring, like any
 * other account), runs the app, and stops the server when the app exits.
 *
 * With --auto, the demo starts only when the user has no account yet;
 * otherwise the app is started on the user's own accounts.
 */
#include "config.h"

#include <glib-unix.h>
#include <glib/gstdio.h>
#include <locale.h>

#include "mailer-connection.h"
#include "mailer-secrets.h"
#include "mailer-session.h"
#include "mailer-test-dovecot.h"
#include "mailer-test-util.h"

#define DEMO_PASSWORD "demo"

typedef struct
{
  const char *user;
  const char *mail_dir;
  MailerAccountKind kind;
  const char *display_name;
  MailerTestDovecotService service;
} DemoAccount;

static const DemoAccount demo_accounts[] = {
  { "alex", "imap", MAILER_ACCOUNT_KIND_IMAP, "Demo IMAP", MAILER_TEST_DOVECOT_IMAPS },
  { "alex-pop", "pop", MAILER_ACCOUNT_KIND_POP3, "Demo POP3", MAILER_TEST_DOVECOT_POP3S },
};

static GSubprocess *app_process;

static gboolean
forward_signal_cb (gpointer user_data)
{
  if (app_process != NULL)
    g_subprocess_send_signal (app_process, GPOINTER_TO_INT (user_data));
  return G_SOURCE_CONTINUE;
}

static char *
demo_data_dir (void)
{
  return g_build_filename (g_get_user_data_dir (), "mailer-demo", NULL);
}

static gboolean
user_has_accounts (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MailerSession) session = mailer_session_new (NULL, &error);

  if (session == NULL)
    {
      g_printerr ("mailer-demo: %s\n", error->message);
      return FALSE;
    }
  return g_list_model_get_n_items (mailer_session_get_accounts (session)) > 0;
}

/* The demo starts from scratch each time: the server is new, and so are
 * its ports and certificate.  Old demo secrets leave the keyring first. */
static gboolean
reset_demo_data (const char  *dir,
                 GError     **error)
{
  g_autoptr(MailerSession) session = NULL;
  g_autoptr(GFile) file = NULL;
  GListModel *accounts;

  if (!g_file_test (dir, G_FILE_TEST_IS_DIR))
    return TRUE;

  session = mailer_session_new (dir, error);
  if (session == NULL)
    return FALSE;

  accounts = mailer_session_get_accounts (session);
  while (g_list_model_get_n_items (accounts) > 0)
    {
      g_autoptr(MailerAccount) account = g_list_model_get_item (accounts, 0);
      g_autoptr(GAsyncResult) result = NULL;
      GAsyncResult *pending = NULL;

      mailer_session_remove_account_async (session, account, NULL,
                                           mailer_test_store_result_cb, &pending);
      result = mailer_test_wait_result (&pending, 30);
      if (!mailer_session_remove_account_finish (session, result, error))
        return FALSE;
    }
  g_clear_object (&session);

  for (const char * const *name = (const char *[]) { "mailer.db", "mailer.db-wal",
                                                     "mailer.db-shm", NULL };
       *name != NULL; name++)
    {
      g_autofree char *path = g_build_filename (dir, *name, NULL);

      g_unlink (path);
    }
  return TRUE;
}

static gboolean
add_demo_accounts (MailerTestDovecot  *dovecot,
                   const char         *dir,
                   GError            **error)
{
  g_autoptr(MailerSession) session = mailer_session_new (dir, error);
  g_autofree char *pin = NULL;

  if (session == NULL)
    return FALSE;

  pin = mailer_certificate_get_sha256 (mailer_test_dovecot_get_certificate (dovecot));

  for (guint i = 0; i < G_N_ELEMENTS (demo_accounts); i++)
    {
      const DemoAccount *demo = &demo_accounts[i];
      g_autoptr(MailerAccount) account = mailer_account_new (demo->kind);
      g_autoptr(GAsyncResult) result = NULL;
      GAsyncResult *pending = NULL;

      g_object_set (account,
                    "display-name", demo->display_name,
                    "address", "alex@demo.example.org",
                    "host", "127.0.0.1",
                    "port", (guint) mailer_test_dovecot_get_port (dovecot, demo->service),
                    "security", MAILER_SECURITY_TLS,
                    "username", demo->user,
                    /* The demo server's own self-signed certificate. */
                    "pinned-certificate", pin,
                    NULL);
      mailer_session_add_account_async (session, account, DEMO_PASSWORD, NULL,
                                        mailer_test_store_result_cb, &pending);
      result = mailer_test_wait_result (&pending, 30);
      if (!mailer_session_add_account_finish (session, result, error))
        return FALSE;
    }
  return TRUE;
}

static MailerTestDovecot *
start_demo_server (GError **error)
{
  g_autoptr(MailerTestDovecot) dovecot = mailer_test_dovecot_new ();

  for (guint i = 0; i < G_N_ELEMENTS (demo_accounts); i++)
    {
      g_autofree char *mail = g_build_filename (MAILER_DEMO_MAIL_DIR, demo_accounts[i].mail_dir, NULL);

      mailer_test_dovecot_add_user (dovecot, demo_accounts[i].user, DEMO_PASSWORD);
      if (!mailer_test_dovecot_seed (dovecot, demo_accounts[i].user, "INBOX", mail, error))
        return NULL;
    }
  if (!mailer_test_dovecot_start (dovecot, error))
    return NULL;
  return g_steal_pointer (&dovecot);
}

static int
run_app (const char  *data_dir,
         char       **extra_args,
         GError     **error)
{
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_NONE);
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GAsyncResult) result = NULL;
  GAsyncResult *pending = NULL;
  guint sigint, sigterm;
  int status;

  /* Run from the build tree unless the schema is installed. */
  if (g_getenv ("GSETTINGS_SCHEMA_DIR") == NULL)
    g_subprocess_launcher_setenv (launcher, "GSETTINGS_SCHEMA_DIR", MAILER_SCHEMAS_DIR, TRUE);

  g_ptr_array_add (argv, (char *) MAILER_BINARY);
  if (data_dir != NULL)
    {
      g_ptr_array_add (argv, (char *) "--data-dir");
      g_ptr_array_add (argv, (char *) data_dir);
    }
  for (guint i = 0; extra_args != NULL && extra_args[i] != NULL; i++)
    g_ptr_array_add (argv, extra_args[i]);
  g_ptr_array_add (argv, NULL);

  app_process = g_subprocess_launcher_spawnv (launcher, (const char * const *) argv->pdata, error);
  if (app_process == NULL)
    return -1;

  /* Ctrl+C in the terminal ends the app, and then the server, cleanly. */
  sigint = g_unix_signal_add (SIGINT, forward_signal_cb, GINT_TO_POINTER (SIGINT));
  sigterm = g_unix_signal_add (SIGTERM, forward_signal_cb, GINT_TO_POINTER (SIGTERM));

  g_subprocess_wait_async (app_process, NULL, mailer_test_store_result_cb, &pending);
  while (pending == NULL)
    g_main_context_iteration (NULL, TRUE);
  result = g_steal_pointer (&pending);
  g_subprocess_wait_finish (app_process, result, NULL);

  g_source_remove (sigint);
  g_source_remove (sigterm);
  status = g_subprocess_get_if_exited (app_process) ? g_subprocess_get_exit_status (app_process) : 1;
  g_clear_object (&app_process);
  return status;
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(MailerTestDovecot) dovecot = NULL;
  g_autofree char *data_dir = NULL;
  g_auto(GStrv) app_args = NULL;
  gboolean auto_mode = FALSE;
  int status;
  const GOptionEntry entries[] = {
    { "auto", 0, 0, G_OPTION_ARG_NONE, &auto_mode,
      "Start the demo only when there is no account yet", NULL },
    { G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_STRING_ARRAY, &app_args,
      "Arguments for the app", "[-- ARGS…]" },
    { NULL }
  };

  setlocale (LC_ALL, "");
  context = g_option_context_new ("— run Mailer on a private demo mail server");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("mailer-demo: %s\n", error->message);
      return 2;
    }

  if (auto_mode && user_has_accounts ())
    {
      status = run_app (NULL, app_args, &error);
      if (status < 0)
        g_printerr ("mailer-demo: %s\n", error->message);
      return status < 0 ? 1 : status;
    }

  data_dir = demo_data_dir ();
  if (!reset_demo_data (data_dir, &error))
    {
      g_printerr ("mailer-demo: could not reset %s: %s\n", data_dir, error->message);
      return 1;
    }

  dovecot = start_demo_server (&error);
  if (dovecot == NULL)
    {
      g_printerr ("mailer-demo: the demo mail server did not start: %s\n", error->message);
      return 1;
    }

  g_print ("Demo mail server (Dovecot) running from %s\n", mailer_test_dovecot_get_directory (dovecot));
  g_print ("  IMAPS 127.0.0.1:%u  POP3S 127.0.0.1:%u  (users alex and alex-pop, password \"%s\")\n",
           mailer_test_dovecot_get_port (dovecot, MAILER_TEST_DOVECOT_IMAPS),
           mailer_test_dovecot_get_port (dovecot, MAILER_TEST_DOVECOT_POP3S),
           DEMO_PASSWORD);
  g_print ("Demo accounts and local mail: %s\n", data_dir);

  if (!add_demo_accounts (dovecot, data_dir, &error))
    {
      g_printerr ("mailer-demo: could not add the demo accounts: %s\n", error->message);
      mailer_test_dovecot_stop (dovecot);
      return 1;
    }

  status = run_app (data_dir, app_args, &error);
  if (status < 0)
    g_printerr ("mailer-demo: %s\n", error->message);

  mailer_test_dovecot_stop (dovecot);
  g_print ("Demo mail server stopped.\n");
  return status < 0 ? 1 : status;
}
