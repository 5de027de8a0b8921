/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Unit tests for the model GObjects: properties notify only on change,
 * derived properties follow their source, enum strings round-trip.
 */
#include "config.h"

#include "mailer-account.h"
#include "mailer-folder.h"
#include "mailer-message.h"

static void
count_notify_cb (GObject    *object,
                 GParamSpec *pspec,
                 gpointer    user_data)
{
  (*(guint *) user_data)++;
}

static void
test_account_notify (void)
{
  g_autoptr(MailerAccount) account = mailer_account_new (MAILER_ACCOUNT_KIND_POP3);
  guint notified = 0;

  g_signal_connect (account, "notify", G_CALLBACK (count_notify_cb), &notified);

  mailer_account_set_display_name (account, "Work");
  g_assert_cmpuint (notified, ==, 1);
  mailer_account_set_display_name (account, "Work");
  g_assert_cmpuint (notified, ==, 1);
  mailer_account_set_display_name (account, NULL);
  g_assert_cmpuint (notified, ==, 2);
  g_assert_null (mailer_account_get_display_name (account));

  mailer_account_set_port (account, 995);
  mailer_account_set_port (account, 995);
  g_assert_cmpuint (notified, ==, 3);
  g_assert_cmpuint (mailer_account_get_port (account), ==, 995);

  mailer_account_set_connection_state (account, MAILER_CONNECTION_STATE_SYNCING);
  mailer_account_set_connection_state (account, MAILER_CONNECTION_STATE_SYNCING);
  g_assert_cmpuint (notified, ==, 4);

  g_assert_cmpint (mailer_account_get_kind (account), ==, MAILER_ACCOUNT_KIND_POP3);
}

/* A check that ends well is remembered; one that fails is not. */
static void
test_account_last_sync (void)
{
  g_autoptr(MailerAccount) account = mailer_account_new (MAILER_ACCOUNT_KIND_IMAP);
  gint64 before = g_get_real_time () / G_USEC_PER_SEC;

  g_assert_cmpint (mailer_account_get_last_sync (account), ==, 0);
  mailer_account_set_connection_state (account, MAILER_CONNECTION_STATE_CONNECTING);
  mailer_account_set_connection_state (account, MAILER_CONNECTION_STATE_ERROR);
  g_assert_cmpint (mailer_account_get_last_sync (account), ==, 0);
  mailer_account_set_connection_state (account, MAILER_CONNECTION_STATE_ONLINE);
  g_assert_cmpint (mailer_account_get_last_sync (account), ==, 0);

  mailer_account_set_connection_state (account, MAILER_CONNECTION_STATE_SYNCING);
  mailer_account_set_connection_state (account, MAILER_CONNECTION_STATE_ONLINE);
  g_assert_cmpint (mailer_account_get_last_sync (account), >=, before);
  g_assert_cmpint (mailer_account_get_last_sync (account), <=, g_get_real_time () / G_USEC_PER_SEC);
}

static void
test_account_uuid (void)
{
  g_autoptr(MailerAccount) a = mailer_account_new (MAILER_ACCOUNT_KIND_IMAP);
  g_autoptr(MailerAccount) b = mailer_account_new (MAILER_ACCOUNT_KIND_IMAP);
  g_autoptr(MailerAccount) c = NULL;

  g_assert_true (g_uuid_string_is_valid (mailer_account_get_uuid (a)));
  g_assert_cmpstr (mailer_account_get_uuid (a), !=, mailer_account_get_uuid (b));

  c = g_object_new (MAILER_TYPE_ACCOUNT, "uuid", mailer_account_get_uuid (a), NULL);
  g_assert_cmpstr (mailer_account_get_uuid (c), ==, mailer_account_get_uuid (a));
}

static void
test_enum_strings (void)
{
  MailerAccountKind kind;
  MailerSecurity security;

  for (kind = MAILER_ACCOUNT_KIND_IMAP; kind <= MAILER_ACCOUNT_KIND_POP3; kind++)
    {
      MailerAccountKind parsed = 99;

      g_assert_true (mailer_account_kind_from_string (mailer_account_kind_to_string (kind), &parsed));
      g_assert_cmpint (parsed, ==, kind);
    }
  for (security = MAILER_SECURITY_TLS; security <= MAILER_SECURITY_NONE; security++)
    {
      MailerSecurity parsed = 99;

      g_assert_true (mailer_security_from_string (mailer_security_to_string (security), &parsed));
      g_assert_cmpint (parsed, ==, security);
    }

  g_assert_true (mailer_security_from_string ("STARTTLS", &security));
  g_assert_cmpint (security, ==, MAILER_SECURITY_STARTTLS);
  g_assert_false (mailer_security_from_string ("ssl3", &security));
  g_assert_false (mailer_account_kind_from_string (NULL, &kind));
}

static void
test_folder_display_name (void)
{
  g_autoptr(MailerFolder) folder = mailer_folder_new (1, "Archive/2026");
  guint notified = 0;

  g_assert_cmpstr (mailer_folder_get_display_name (folder), ==, "Archive/2026");
  g_signal_connect (folder, "notify::unread-count", G_CALLBACK (count_notify_cb), &notified);
  mailer_folder_set_unread_count (folder, 3);
  mailer_folder_set_unread_count (folder, 3);
  g_assert_cmpuint (notified, ==, 1);

  mailer_folder_set_display_name (folder, "2026");
  g_assert_cmpstr (mailer_folder_get_display_name (folder), ==, "2026");
  g_assert_cmpstr (mailer_folder_get_path (folder), ==, "Archive/2026");
}

static void
test_message_unread (void)
{
  g_autoptr(MailerMessage) message = mailer_message_new (7, 2);
  guint unread_notified = 0;

  g_signal_connect (message, "notify::unread", G_CALLBACK (count_notify_cb), &unread_notified);
  g_assert_true (mailer_message_get_unread (message));

  mailer_message_set_flags (message, MAILER_MESSAGE_FLAG_FLAGGED);
  g_assert_cmpuint (unread_notified, ==, 0);
  g_assert_true (mailer_message_get_unread (message));

  mailer_message_set_flags (message, MAILER_MESSAGE_FLAG_FLAGGED | MAILER_MESSAGE_FLAG_SEEN);
  g_assert_cmpuint (unread_notified, ==, 1);
  g_assert_false (mailer_message_get_unread (message));

  g_assert_cmpint (mailer_message_get_id (message), ==, 7);
  g_assert_cmpint (mailer_message_get_folder_id (message), ==, 2);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

  g_test_add_func ("/model/account/notify", test_account_notify);
  g_test_add_func ("/model/account/uuid", test_account_uuid);
  g_test_add_func ("/model/account/last-sync", test_account_last_sync);
  g_test_add_func ("/model/enum-strings", test_enum_strings);
  g_test_add_func ("/model/folder/display-name", test_folder_display_name);
  g_test_add_func ("/model/message/unread", test_message_unread);

  return g_test_run ();
}
