/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * UI tests: the preferences window under a real display server (Xvfb in
 * the test runner): account settings changed there reach the store, and
 * removing an account removes its data and its password.
 */
#include "config.h"

#include <adwaita.h>

#include "mailer-preferences-window.h"
#include "mailer-secrets.h"
#include "mailer-test-ui.h"
#include "mailer-test-util.h"

typedef struct
{
  MailerSession *session;
  const char    *uuid;
  const char    *property;
  guint64        expected;
} StoredSetting;

/* Whether the store, read afresh, holds @setting's value. */
static gboolean
setting_is_stored (gpointer data)
{
  StoredSetting *setting = data;
  g_autoptr(GPtrArray) accounts = NULL;
  g_autoptr(GError) error = NULL;

  accounts = mailer_store_list_accounts (mailer_session_get_store (setting->session), &error);
  g_assert_no_error (error);
  for (guint i = 0; i < accounts->len; i++)
    {
      MailerAccount *account = accounts->pdata[i];
      GParamSpec *pspec;
      g_auto(GValue) value = G_VALUE_INIT;
      g_auto(GValue) number = G_VALUE_INIT;

      if (g_strcmp0 (mailer_account_get_uuid (account), setting->uuid) != 0)
        continue;
      pspec = g_object_class_find_property (G_OBJECT_GET_CLASS (account), setting->property);
      g_value_init (&value, pspec->value_type);
      g_object_get_property (G_OBJECT (account), setting->property, &value);
      g_value_init (&number, G_TYPE_UINT64);
      g_assert_true (g_value_transform (&value, &number));
      return g_value_get_uint64 (&number) == setting->expected;
    }
  return FALSE;
}

static void
assert_stored (MailerSession *session,
               MailerAccount *account,
               const char    *property,
               guint64        expected)
{
  StoredSetting setting = { session, mailer_account_get_uuid (account), property, expected };

  mailer_test_ui_wait_until (setting_is_stored, &setting);
}

static AdwComboRow *
combo_row (GtkWidget  *group,
           const char *name)
{
  GtkWidget *row = mailer_test_ui_find_named (group, name);

  g_assert_nonnull (row);
  g_assert_true (ADW_IS_COMBO_ROW (row));
  return ADW_COMBO_ROW (row);
}

static const char *
selected_label (AdwComboRow *row)
{
  GtkStringObject *item = adw_combo_row_get_selected_item (row);

  return gtk_string_object_get_string (item);
}

static GtkSwitch *
switch_of (GtkWidget  *group,
           const char *name)
{
  GtkWidget *row = mailer_test_ui_find_named (group, name);

  g_assert_nonnull (row);
  for (GtkWidget *child = row; child != NULL; )
    {
      GtkWidget *next = gtk_widget_get_first_child (child);

      if (GTK_IS_SWITCH (child))
        return GTK_SWITCH (child);
      /* Depth first, through the row's box of suffixes. */
      while (next == NULL && child != row)
        {
          next = gtk_widget_get_next_sibling (child);
          if (next == NULL)
            child = gtk_widget_get_parent (child);
        }
      if (next == NULL)
        break;
      child = next;
    }
  g_assert_not_reached ();
}

static void
test_preferences_account_settings (void)
{
  g_autoptr(MailerSession) session = mailer_test_ui_make_session (2);
  GListModel *accounts = mailer_session_get_accounts (session);
  g_autoptr(MailerAccount) imap = g_list_model_get_item (accounts, 0);
  g_autoptr(MailerAccount) pop3 = g_list_model_get_item (accounts, 1);
  MailerPreferencesWindow *window;
  GtkWidget *imap_group;
  GtkWidget *pop3_group;
  GtkWidget *name_row;
  AdwComboRow *row;

  window = mailer_preferences_window_new (NULL, session);
  gtk_window_set_default_size (GTK_WINDOW (window), 640, 1000);
  mailer_preferences_window_show_accounts (window);
  gtk_window_present (GTK_WINDOW (window));
  mailer_test_ui_wait_for_window (GTK_WIDGET (window));

  imap_group = GTK_WIDGET (mailer_preferences_window_get_account_group (window, imap));
  pop3_group = GTK_WIDGET (mailer_preferences_window_get_account_group (window, pop3));
  g_assert_nonnull (imap_group);
  g_assert_nonnull (pop3_group);
  g_assert_true (gtk_widget_get_mapped (imap_group));

  /* Each kind of account shows its own settings, and only those. */
  g_assert_nonnull (mailer_test_ui_find_named (imap_group, "prefetch-days"));
  g_assert_null (mailer_test_ui_find_named (imap_group, "leave-on-server"));
  g_assert_nonnull (mailer_test_ui_find_named (pop3_group, "leave-on-server"));
  g_assert_null (mailer_test_ui_find_named (pop3_group, "prefetch-days"));

  /* The defaults are shown as they are: 30 days offline, every 10 minutes. */
  row = combo_row (imap_group, "prefetch-days");
  g_assert_cmpstr (selected_label (row), ==, "Last 30 days");
  g_assert_cmpstr (selected_label (combo_row (imap_group, "check-interval")), ==, "Every 10 minutes");
  mailer_test_ui_save_screenshot (GTK_WIDGET (window), "preferences-accounts");

  /* IMAP: all mail offline, checks only when asked. */
  adw_combo_row_set_selected (row, g_list_model_get_n_items (adw_combo_row_get_model (row)) - 1);
  g_assert_cmpstr (selected_label (row), ==, "All mail");
  g_assert_cmpuint (mailer_account_get_prefetch_days (imap), ==, MAILER_ACCOUNT_PREFETCH_ALL);
  assert_stored (session, imap, "prefetch-days", MAILER_ACCOUNT_PREFETCH_ALL);
  adw_combo_row_set_selected (combo_row (imap_group, "check-interval"), 0);
  g_assert_cmpuint (mailer_account_get_check_interval (imap), ==, 0);
  assert_stored (session, imap, "check-interval", 0);

  /* POP3: no copy left on the server; the settings about that copy are
   * then off. */
  g_assert_true (mailer_account_get_leave_on_server (pop3));
  g_assert_true (gtk_widget_get_sensitive (mailer_test_ui_find_named (pop3_group, "keep-days")));
  gtk_switch_set_active (switch_of (pop3_group, "leave-on-server"), FALSE);
  g_assert_false (mailer_account_get_leave_on_server (pop3));
  assert_stored (session, pop3, "leave-on-server", FALSE);
  g_assert_false (gtk_widget_get_sensitive (mailer_test_ui_find_named (pop3_group, "keep-days")));
  g_assert_false (gtk_widget_get_sensitive (mailer_test_ui_find_named (pop3_group, "delete-when-deleted")));
  mailer_test_ui_save_screenshot (GTK_WIDGET (window), "preferences-pop3-no-copy");

  gtk_switch_set_active (switch_of (pop3_group, "leave-on-server"), TRUE);
  row = combo_row (pop3_group, "keep-days");
  adw_combo_row_set_selected (row, 3);
  g_assert_cmpstr (selected_label (row), ==, "After a month");
  assert_stored (session, pop3, "keep-days", 30);
  assert_stored (session, pop3, "leave-on-server", TRUE);
  row = combo_row (pop3_group, "size-limit");
  adw_combo_row_set_selected (row, 3);
  assert_stored (session, pop3, "size-limit", 5 * 1000 * 1000);

  /* A new name, applied. */
  name_row = mailer_test_ui_find_named (pop3_group, "display-name");
  gtk_editable_set_text (GTK_EDITABLE (name_row), "  Family  ");
  g_signal_emit_by_name (name_row, "apply");
  g_assert_cmpstr (mailer_account_get_display_name (pop3), ==, "Family");

  gtk_window_destroy (GTK_WINDOW (window));
}

/* A value set elsewhere (the command line) is shown as it is. */
static void
test_preferences_other_values (void)
{
  g_autoptr(MailerSession) session = mailer_test_ui_make_session (2);
  GListModel *accounts = mailer_session_get_accounts (session);
  g_autoptr(MailerAccount) imap = g_list_model_get_item (accounts, 0);
  g_autoptr(MailerAccount) pop3 = g_list_model_get_item (accounts, 1);
  MailerPreferencesWindow *window;
  GtkWidget *group;

  mailer_account_set_check_interval (imap, 900);
  mailer_account_set_prefetch_days (imap, 14);
  mailer_account_set_keep_days (pop3, 45);

  window = mailer_preferences_window_new (NULL, session);
  gtk_window_present (GTK_WINDOW (window));
  mailer_test_ui_wait_for_window (GTK_WIDGET (window));

  group = GTK_WIDGET (mailer_preferences_window_get_account_group (window, imap));
  g_assert_cmpstr (selected_label (combo_row (group, "check-interval")), ==, "Every 15 minutes");
  g_assert_cmpstr (selected_label (combo_row (group, "prefetch-days")), ==, "Last 14 days");
  group = GTK_WIDGET (mailer_preferences_window_get_account_group (window, pop3));
  g_assert_cmpstr (selected_label (combo_row (group, "keep-days")), ==, "After 45 days");
  /* Showing them changed nothing. */
  g_assert_cmpuint (mailer_account_get_check_interval (imap), ==, 900);
  g_assert_cmpuint (mailer_account_get_prefetch_days (imap), ==, 14);
  g_assert_cmpuint (mailer_account_get_keep_days (pop3), ==, 45);

  gtk_window_destroy (GTK_WINDOW (window));
}

static gboolean
has_one_account (gpointer data)
{
  return g_list_model_get_n_items (mailer_session_get_accounts (data)) == 1;
}

static GtkWidget *
find_message_dialog (void)
{
  g_autoptr(GListModel) toplevels = g_object_ref (gtk_window_get_toplevels ());

  for (guint i = 0; i < g_list_model_get_n_items (toplevels); i++)
    {
      g_autoptr(GObject) window = g_list_model_get_item (toplevels, i);

      if (ADW_IS_MESSAGE_DIALOG (window))
        return GTK_WIDGET (window);
    }
  return NULL;
}

static gboolean
has_message_dialog (gpointer data)
{
  return find_message_dialog () != NULL;
}

static void
test_preferences_remove_account (void)
{
  g_autoptr(MailerSession) session = mailer_test_ui_make_session (1);
  g_autoptr(MailerAccount) pop3 = mailer_account_new (MAILER_ACCOUNT_KIND_POP3);
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GPtrArray) stored = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *password = NULL;
  GAsyncResult *pending = NULL;
  MailerPreferencesWindow *window;
  GtkWidget *group;
  GtkWidget *dialog;

  g_object_set (pop3, "display-name", "Old Mail", "host", "pop.example.net", "port", 995,
                "username", "alex", NULL);
  mailer_session_add_account_async (session, pop3, "s3cret", NULL,
                                    mailer_test_store_result_cb, &pending);
  result = mailer_test_wait_result (&pending, 10);
  g_assert_true (mailer_session_add_account_finish (session, result, &error));
  g_assert_no_error (error);
  g_clear_object (&result);
  mailer_secrets_lookup_password_async (pop3, NULL, mailer_test_store_result_cb, &pending);
  result = mailer_test_wait_result (&pending, 10);
  password = mailer_secrets_lookup_password_finish (result, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (password, ==, "s3cret");
  g_clear_pointer (&password, mailer_secrets_free_password);
  g_clear_object (&result);

  window = mailer_preferences_window_new (NULL, session);
  mailer_preferences_window_show_accounts (window);
  gtk_window_present (GTK_WINDOW (window));
  mailer_test_ui_wait_for_window (GTK_WIDGET (window));

  group = GTK_WIDGET (mailer_preferences_window_get_account_group (window, pop3));
  g_assert_nonnull (group);
  gtk_widget_activate (mailer_test_ui_find_named (group, "remove-button"));
  mailer_test_ui_wait_until (has_message_dialog, NULL);
  dialog = find_message_dialog ();
  g_assert_cmpstr (adw_message_dialog_get_heading (ADW_MESSAGE_DIALOG (dialog)), ==,
                   "Remove “Old Mail”?");
  mailer_test_ui_save_screenshot (dialog, "preferences-remove-account");

  /* Cancel keeps it. */
  adw_message_dialog_response (ADW_MESSAGE_DIALOG (dialog), "cancel");
  g_assert_cmpuint (g_list_model_get_n_items (mailer_session_get_accounts (session)), ==, 2);

  gtk_widget_activate (mailer_test_ui_find_named (group, "remove-button"));
  mailer_test_ui_wait_until (has_message_dialog, NULL);
  adw_message_dialog_response (ADW_MESSAGE_DIALOG (find_message_dialog ()), "remove");
  mailer_test_ui_wait_until (has_one_account, session);

  /* Gone from the window, the store and the keyring. */
  g_assert_null (mailer_preferences_window_get_account_group (window, pop3));
  stored = mailer_store_list_accounts (mailer_session_get_store (session), &error);
  g_assert_no_error (error);
  g_assert_cmpuint (stored->len, ==, 1);
  g_assert_cmpstr (mailer_account_get_display_name (stored->pdata[0]), ==, "Work");
  mailer_secrets_lookup_password_async (pop3, NULL, mailer_test_store_result_cb, &pending);
  result = mailer_test_wait_result (&pending, 10);
  password = mailer_secrets_lookup_password_finish (result, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_assert_null (password);

  gtk_window_destroy (GTK_WINDOW (window));
}

/* The remote content policy is a switch on the general page. */
static void
test_preferences_remote_content (void)
{
  g_autoptr(MailerSession) session = mailer_test_ui_make_session (0);
  g_autoptr(GSettings) settings = g_settings_new (APP_ID);
  MailerPreferencesWindow *window;
  GtkSwitch *toggle = NULL;

  g_settings_set_string (settings, "show-remote-content", "ask");
  window = mailer_preferences_window_new (NULL, session);
  gtk_window_present (GTK_WINDOW (window));
  mailer_test_ui_wait_for_window (GTK_WIDGET (window));

  /* The first switch of the window: the general page's. */
  for (GtkWidget *child = GTK_WIDGET (window); child != NULL; )
    {
      if (GTK_IS_SWITCH (child) && gtk_widget_is_visible (child))
        {
          toggle = GTK_SWITCH (child);
          break;
        }
      if (gtk_widget_get_first_child (child) != NULL)
        child = gtk_widget_get_first_child (child);
      else
        {
          while (child != NULL && gtk_widget_get_next_sibling (child) == NULL)
            child = gtk_widget_get_parent (child);
          child = child ? gtk_widget_get_next_sibling (child) : NULL;
        }
    }
  g_assert_nonnull (toggle);
  g_assert_false (gtk_switch_get_active (toggle));
  gtk_switch_set_active (toggle, TRUE);
  {
    g_autofree char *policy = g_settings_get_string (settings, "show-remote-content");

    g_assert_cmpstr (policy, ==, "always");
  }
  gtk_switch_set_active (toggle, FALSE);
  {
    g_autofree char *policy = g_settings_get_string (settings, "show-remote-content");

    g_assert_cmpstr (policy, ==, "ask");
  }

  gtk_window_destroy (GTK_WINDOW (window));
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  gtk_init ();
  adw_init ();

  g_test_add_func ("/ui/preferences/account-settings", test_preferences_account_settings);
  g_test_add_func ("/ui/preferences/other-values", test_preferences_other_values);
  g_test_add_func ("/ui/preferences/remove-account", test_preferences_remove_account);
  g_test_add_func ("/ui/preferences/remote-content", test_preferences_remote_content);

  return g_test_run ();
}
