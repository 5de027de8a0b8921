/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Keyring tests, against the real Secret Service (gnome-keyring-daemon
 * started and unlocked by the test runner): a password goes in and comes
 * back, is removed with its account, and never reaches the database.
 */
#include "config.h"

#include "mailer-secrets.h"
#include "mailer-session.h"
#include "mailer-test-util.h"

static MailerAccount *
make_account (void)
{
  return g_object_new (MAILER_TYPE_ACCOUNT,
                       "kind", MAILER_ACCOUNT_KIND_IMAP,
                       "display-name", "Keyring test",
                       "address", "kim@example.org",
                       "host", "imap.example.org",
                       "port", 993,
                       "username", "kim",
                       NULL);
}

static char *
lookup (MailerAccount  *account,
        GError        **error)
{
  g_autoptr(GAsyncResult) result = NULL;
  GAsyncResult *pending = NULL;

  mailer_secrets_lookup_password_async (account, NULL, mailer_test_store_result_cb, &pending);
  result = mailer_test_wait_result (&pending, 20);
  return mailer_secrets_lookup_password_finish (result, error);
}

static void
test_store_lookup_clear (void)
{
  g_autoptr(MailerAccount) account = make_account ();
  g_autoptr(MailerAccount) other = make_account ();
  g_autoptr(GAsyncResult) result = NULL;
  GAsyncResult *pending = NULL;
  g_autoptr(GError) error = NULL;
  char *password;

  mailer_secrets_store_password_async (account, "correct horse ✓ battery", NULL,
                                       mailer_test_store_result_cb, &pending);
  result = mailer_test_wait_result (&pending, 20);
  g_assert_true (mailer_secrets_store_password_finish (result, &error));
  g_assert_no_error (error);
  g_clear_object (&result);

  password = lookup (account, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (password, ==, "correct horse ✓ battery");
  mailer_secrets_free_password (password);

  /* Same server and user, another account: not the same secret. */
  password = lookup (other, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_assert_null (password);
  g_clear_error (&error);

  mailer_secrets_clear_password_async (account, NULL, mailer_test_store_result_cb, &pending);
  result = mailer_test_wait_result (&pending, 20);
  g_assert_true (mailer_secrets_clear_password_finish (result, &error));
  g_assert_no_error (error);

  password = lookup (account, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_assert_null (password);
}

/* Every file of the data dir, concatenated: the WAL holds recent writes. */
static GString *
read_data_dir (const char *dir)
{
  g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
  GString *all = g_string_new (NULL);
  const char *name;

  g_assert_nonnull (d);
  while ((name = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *path = g_build_filename (dir, name, NULL);
      g_autofree char *contents = NULL;
      gsize length;

      if (g_file_get_contents (path, &contents, &length, NULL))
        g_string_append_len (all, contents, length);
    }
  return all;
}

/* Binary-safe: database pages are full of NUL bytes. */
static gboolean
contains (GString    *haystack,
          const char *needle)
{
  gsize n = strlen (needle);

  for (gsize i = 0; i + n <= haystack->len; i++)
    if (memcmp (haystack->str + i, needle, n) == 0)
      return TRUE;
  return FALSE;
}

static void
test_session_account_secret (void)
{
  const char *secret = "s3cr3t-Passw0rd-for-the-session-test";
  g_autofree char *dir = g_build_filename (g_get_user_data_dir (), "mailer", NULL);
  g_autoptr(MailerSession) session = NULL;
  g_autoptr(MailerAccount) account = make_account ();
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GString) files = NULL;
  GAsyncResult *pending = NULL;
  g_autoptr(GError) error = NULL;
  char *password;

  session = mailer_session_new (dir, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_list_model_get_n_items (mailer_session_get_accounts (session)), ==, 0);

  mailer_session_add_account_async (session, account, secret, NULL,
                                    mailer_test_store_result_cb, &pending);
  result = mailer_test_wait_result (&pending, 20);
  g_assert_true (mailer_session_add_account_finish (session, result, &error));
  g_assert_no_error (error);
  g_clear_object (&result);
  g_assert_cmpuint (g_list_model_get_n_items (mailer_session_get_accounts (session)), ==, 1);
  g_assert_true (mailer_session_find_account (session, mailer_account_get_uuid (account)) == account);

  password = lookup (account, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (password, ==, secret);
  mailer_secrets_free_password (password);

  files = read_data_dir (dir);
  g_assert_cmpuint (files->len, >, 0);
  g_assert_false (contains (files, secret));
  /* The account itself did land there. */
  g_assert_true (contains (files, "kim@example.org"));

  mailer_session_remove_account_async (session, account, NULL,
                                       mailer_test_store_result_cb, &pending);
  result = mailer_test_wait_result (&pending, 20);
  g_assert_true (mailer_session_remove_account_finish (session, result, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (g_list_model_get_n_items (mailer_session_get_accounts (session)), ==, 0);

  password = lookup (account, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_assert_null (password);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

  g_test_add_func ("/secrets/store-lookup-clear", test_store_lookup_clear);
  g_test_add_func ("/secrets/session-account", test_session_account_secret);

  return g_test_run ();
}
