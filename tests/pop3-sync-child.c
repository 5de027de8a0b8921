/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Helper for test-pop3-faults: one POP3 download run in a process of its
 * own, so that the test can kill it with SIGKILL at any moment.
 *
 *   pop3-sync-child STORE-DIR HOST PORT SECURITY PIN USER LEAVE-ON-SERVER
 *
 * SECURITY is tls, starttls or none; PIN is the server certificate's
 * SHA-256 or "-"; LEAVE-ON-SERVER is 0 or 1.  The password comes from the
 * environment variable MAILER_TEST_POP3_PASSWORD.  The account for USER on
 * HOST:PORT is reused if the store has it, created otherwise.  Lines it
 * prints on stdout:
 *
 *   account ID
 *   progress FRACTION          (after each window is committed)
 *   done ON-SERVER DOWNLOADED DELETED
 *
 * It exits 0 after a complete run, 1 when the run failed (the error on
 * stderr), 2 when the store could not be used.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mailer-pop3-sync.h"
#include "mailer-test-util.h"

static void G_GNUC_NORETURN
die (int           status,
     const char   *what,
     const GError *error)
{
  g_printerr ("pop3-sync-child: %s: %s\n", what, error ? error->message : "failed");
  exit (status);
}

static MailerSecurity
parse_security (const char *text)
{
  if (g_str_equal (text, "tls"))
    return MAILER_SECURITY_TLS;
  if (g_str_equal (text, "starttls"))
    return MAILER_SECURITY_STARTTLS;
  if (g_str_equal (text, "none"))
    return MAILER_SECURITY_NONE;
  g_printerr ("pop3-sync-child: unknown security “%s”\n", text);
  exit (2);
}

/* The account an earlier run created, or a new one, saved; with the
 * security, pinned certificate and policy asked for. */
static MailerAccount *
load_account (MailerStore    *store,
              const char     *host,
              guint16         port,
              const char     *user,
              MailerSecurity  security,
              const char     *pin,
              gboolean        leave_on_server)
{
  g_autoptr(GPtrArray) accounts = NULL;
  g_autoptr(MailerAccount) account = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  GAsyncResult *pending = NULL;

  accounts = mailer_store_list_accounts (store, &error);
  if (accounts == NULL)
    die (2, "listing accounts", error);
  for (guint i = 0; i < accounts->len; i++)
    {
      MailerAccount *candidate = g_ptr_array_index (accounts, i);

      if (mailer_account_get_kind (candidate) == MAILER_ACCOUNT_KIND_POP3 &&
          g_strcmp0 (mailer_account_get_host (candidate), host) == 0 &&
          mailer_account_get_port (candidate) == port &&
          g_strcmp0 (mailer_account_get_username (candidate), user) == 0)
        {
          account = g_object_ref (candidate);
          break;
        }
    }
  if (account != NULL &&
      mailer_account_get_security (account) == security &&
      g_strcmp0 (mailer_account_get_pinned_certificate (account), pin) == 0 &&
      mailer_account_get_leave_on_server (account) == leave_on_server)
    return g_steal_pointer (&account);

  if (account == NULL)
    {
      account = mailer_account_new (MAILER_ACCOUNT_KIND_POP3);
      mailer_account_set_host (account, host);
      mailer_account_set_port (account, port);
      mailer_account_set_username (account, user);
    }
  mailer_account_set_security (account, security);
  mailer_account_set_pinned_certificate (account, pin);
  mailer_account_set_leave_on_server (account, leave_on_server);
  mailer_store_save_account_async (store, account, NULL, mailer_test_store_result_cb, &pending);
  result = mailer_test_wait_result (&pending, 60);
  if (!mailer_store_save_account_finish (store, result, &error))
    die (2, "saving the account", error);
  return g_steal_pointer (&account);
}

static void
progress_cb (MailerAccount *account,
             GParamSpec    *pspec,
             gpointer       user_data)
{
  double progress = mailer_account_get_progress (account);

  if (progress >= 0)
    {
      printf ("progress %.4f\n", progress);
      fflush (stdout);
    }
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(MailerStore) store = NULL;
  g_autoptr(MailerAccount) account = NULL;
  g_autoptr(MailerPop3Sync) sync = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  GAsyncResult *pending = NULL;
  MailerPop3SyncResult out = { 0, };
  const char *password = g_getenv ("MAILER_TEST_POP3_PASSWORD");
  guint64 port = 0;

  if (argc != 8 || password == NULL ||
      !g_ascii_string_to_unsigned (argv[3], 10, 1, 65535, &port, NULL) ||
      (!g_str_equal (argv[7], "0") && !g_str_equal (argv[7], "1")))
    {
      g_printerr ("Usage: MAILER_TEST_POP3_PASSWORD=... %s STORE-DIR HOST PORT SECURITY PIN USER LEAVE-ON-SERVER\n",
                  argv[0]);
      return 2;
    }

  store = mailer_store_open (argv[1], &error);
  if (store == NULL)
    die (2, "opening the store", error);

  account = load_account (store, argv[2], (guint16) port, argv[6], parse_security (argv[4]),
                          g_str_equal (argv[5], "-") ? NULL : argv[5], g_str_equal (argv[7], "1"));
  printf ("account %" G_GINT64_FORMAT "\n", mailer_account_get_id (account));
  fflush (stdout);

  g_signal_connect (account, "notify::progress", G_CALLBACK (progress_cb), NULL);
  sync = mailer_pop3_sync_new (store, account);
  mailer_pop3_sync_run_async (sync, password, NULL, mailer_test_store_result_cb, &pending);
  result = mailer_test_wait_result (&pending, 600);
  if (!mailer_pop3_sync_run_finish (sync, result, &out, &error))
    die (1, "the download failed", error);

  printf ("done %u %u %u\n", out.n_on_server, out.n_downloaded, out.n_deleted);
  fflush (stdout);
  return 0;
}
