/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * UI: the account setup, driven under Xvfb against the Dovecot fixture.
 * The test resolver gives example.test SRV records pointing at Dovecot's
 * IMAPS and POP3S ports; Dovecot's self-signed certificate brings the
 * trust prompt; trusting it adds a working account whose password is in
 * the keyring.  A wrong password says so and saves nothing; cancelling
 * while looking for servers saves nothing.
 */
#include "config.h"

#include <adwaita.h>
#include <string.h>

#include "mailer-account-wizard.h"
#include "mailer-secrets.h"
#include "mailer-test-dovecot.h"
#include "mailer-test-resolver.h"
#include "mailer-test-ui.h"
#include "mailer-test-util.h"

static GtkWidget *
find_row (GtkWidget  *root,
          const char *title)
{
  if (ADW_IS_PREFERENCES_ROW (root) && g_strcmp0 (adw_preferences_row_get_title (ADW_PREFERENCES_ROW (root)), title) == 0)
    return root;
  for (GtkWidget *child = gtk_widget_get_first_child (root); child != NULL; child = gtk_widget_get_next_sibling (child))
    {
      GtkWidget *found = find_row (child, title);

      if (found != NULL)
        return found;
    }
  return NULL;
}

static GtkWidget *
find_button (GtkWidget  *root,
             const char *label)
{
  if (GTK_IS_BUTTON (root) && g_strcmp0 (gtk_button_get_label (GTK_BUTTON (root)), label) == 0 &&
      gtk_widget_get_mapped (root))
    return root;
  for (GtkWidget *child = gtk_widget_get_first_child (root); child != NULL; child = gtk_widget_get_next_sibling (child))
    {
      GtkWidget *found = find_button (child, label);

      if (found != NULL)
        return found;
    }
  return NULL;
}

static GtkWidget *
find_label (GtkWidget  *root,
            const char *text)
{
  if (GTK_IS_LABEL (root) && gtk_widget_get_mapped (root) &&
      g_strcmp0 (gtk_label_get_label (GTK_LABEL (root)), text) == 0)
    return root;
  for (GtkWidget *child = gtk_widget_get_first_child (root); child != NULL; child = gtk_widget_get_next_sibling (child))
    {
      GtkWidget *found = find_label (child, text);

      if (found != NULL)
        return found;
    }
  return NULL;
}

typedef struct
{
  MailerAccountWizard *wizard;
  const char *page;
} OnPage;

static gboolean
on_page (gpointer data)
{
  OnPage *wait = data;

  return g_strcmp0 (mailer_account_wizard_get_page (wait->wizard), wait->page) == 0;
}

static void
wait_page (MailerAccountWizard *wizard,
           const char          *page)
{
  OnPage wait = { wizard, page };

  gint64 settled;

  mailer_test_ui_wait_until (on_page, &wait);
  /* Past the page's slide. */
  settled = g_get_monotonic_time () + 400 * 1000;
  while (g_get_monotonic_time () < settled)
    g_main_context_iteration (NULL, FALSE), g_usleep (2000);
  mailer_test_ui_wait_for_paint (GTK_WIDGET (wizard));
}

static void
click (MailerAccountWizard *wizard,
       const char          *label)
{
  GtkWidget *button = find_button (GTK_WIDGET (wizard), label);

  g_assert_nonnull (button);
  g_assert_true (gtk_widget_is_sensitive (button));
  /* As a click does (activate () waits for its animation). */
  g_signal_emit_by_name (button, "clicked");
}

static MailerAccountWizard *
open_wizard (MailerSession *session,
             const char    *address,
             const char    *password)
{
  MailerAccountWizard *wizard = mailer_account_wizard_new (NULL, session);

  gtk_window_present (GTK_WINDOW (wizard));
  mailer_test_ui_wait_for_window (GTK_WIDGET (wizard));
  g_assert_cmpstr (mailer_account_wizard_get_page (wizard), ==, "identity");
  gtk_editable_set_text (GTK_EDITABLE (find_row (GTK_WIDGET (wizard), "Your name")), "Sam Example");
  gtk_editable_set_text (GTK_EDITABLE (find_row (GTK_WIDGET (wizard), "Email address")), address);
  gtk_editable_set_text (GTK_EDITABLE (find_row (GTK_WIDGET (wizard), "Password")), password);
  return wizard;
}

static gboolean
is_gone (gpointer data)
{
  return *(gpointer *) data == NULL;
}

static void
added_cb (MailerAccountWizard *wizard,
          MailerAccount       *account,
          MailerAccount      **out)
{
  g_set_object (out, account);
}

/* Everything logged by the process, at every level. */
static GString *logged;

static GLogWriterOutput
capture_writer (GLogLevelFlags   level,
                const GLogField *fields,
                gsize            n_fields,
                gpointer         user_data)
{
  for (gsize i = 0; i < n_fields; i++)
    if (g_strcmp0 (fields[i].key, "MESSAGE") == 0 && fields[i].value != NULL)
      {
        if (fields[i].length < 0)
          g_string_append (logged, fields[i].value);
        else
          g_string_append_len (logged, fields[i].value, fields[i].length);
        g_string_append_c (logged, '\n');
      }
  return g_log_writer_default (level, fields, n_fields, user_data);
}

/* Whether a file under @path holds @needle. */
static gboolean
tree_contains (const char *path,
               const char *needle)
{
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;

  if (dir == NULL)
    {
      g_autofree char *contents = NULL;
      gsize len;

      gsize n = strlen (needle);

      if (!g_file_get_contents (path, &contents, &len, NULL))
        return FALSE;
      for (gsize i = 0; i + n <= len; i++)
        if (memcmp (contents + i, needle, n) == 0)
          return TRUE;
      return FALSE;
    }
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, name, NULL);

      if (tree_contains (child, needle))
        return TRUE;
    }
  return FALSE;
}

static gboolean
settings_contain (const char *needle)
{
  g_autoptr(GSettings) settings = g_settings_new ("org.example.Mailer");
  g_autoptr(GSettingsSchema) schema = NULL;
  g_auto(GStrv) keys = NULL;

  g_object_get (settings, "settings-schema", &schema, NULL);
  keys = g_settings_schema_list_keys (schema);
  for (guint i = 0; keys[i] != NULL; i++)
    {
      g_autoptr(GVariant) value = g_settings_get_value (settings, keys[i]);
      g_autofree char *text = g_variant_print (value, FALSE);

      if (strstr (text, needle) != NULL)
        return TRUE;
    }
  return FALSE;
}

static void
test_wizard (void)
{
  g_autoptr(MailerSession) session = mailer_test_ui_make_session (0);
  g_autoptr(MailerTestDovecot) dovecot = mailer_test_dovecot_new ();
  g_autoptr(MailerTestResolver) resolver = mailer_test_resolver_new ();
  g_autoptr(GResolver) previous = g_resolver_get_default ();
  g_autoptr(MailerAccount) added = NULL;
  g_autoptr(GError) error = NULL;
  GListModel *accounts = mailer_session_get_accounts (session);
  MailerAccountWizard *wizard;
  guint16 imaps, pop3s;

  mailer_test_dovecot_add_user (dovecot, "sam@example.test", "sam pass");
  g_assert_true (mailer_test_dovecot_start (dovecot, &error));
  g_assert_no_error (error);
  imaps = mailer_test_dovecot_get_port (dovecot, MAILER_TEST_DOVECOT_IMAPS);
  pop3s = mailer_test_dovecot_get_port (dovecot, MAILER_TEST_DOVECOT_POP3S);
  mailer_test_resolver_add_host (resolver, "mail.example.test");
  mailer_test_resolver_add_srv (resolver, "_imaps._tcp.example.test", "mail.example.test", imaps);
  mailer_test_resolver_add_srv (resolver, "_pop3s._tcp.example.test", "mail.example.test", pop3s);
  g_resolver_set_default (G_RESOLVER (resolver));

  /* Cancelled while looking: nothing saved. */
  wizard = open_wizard (session, "sam@example.test", "sam pass");
  g_object_add_weak_pointer (G_OBJECT (wizard), (gpointer *) &wizard);
  click (wizard, "_Next");
  g_assert_cmpstr (mailer_account_wizard_get_page (wizard), ==, "detecting");
  click (wizard, "_Cancel");
  mailer_test_ui_wait_until (is_gone, &wizard);
  g_assert_cmpuint (g_list_model_get_n_items (accounts), ==, 0);

  /* A wrong password: said, and nothing saved. */
  wizard = open_wizard (session, "sam@example.test", "not the password");
  g_object_add_weak_pointer (G_OBJECT (wizard), (gpointer *) &wizard);
  click (wizard, "_Next");
  wait_page (wizard, "choose");
  click (wizard, "_Add Account");
  wait_page (wizard, "certificate");
  click (wizard, "_Trust This Certificate");
  wait_page (wizard, "choose");
  g_assert_nonnull (find_label (GTK_WIDGET (wizard), "The server rejected the password"));
  mailer_test_ui_save_screenshot (GTK_WIDGET (wizard), "wizard-wrong-password");
  g_assert_cmpuint (g_list_model_get_n_items (accounts), ==, 0);
  gtk_window_close (GTK_WINDOW (wizard));
  mailer_test_ui_wait_until (is_gone, &wizard);

  /* The right one: found by SRV, IMAP offered first and explained, the
   * certificate shown and trusted, the account added. */
  wizard = open_wizard (session, "sam@example.test", "sam pass");
  g_object_add_weak_pointer (G_OBJECT (wizard), (gpointer *) &wizard);
  g_signal_connect (wizard, "added", G_CALLBACK (added_cb), &added);
  click (wizard, "_Next");
  wait_page (wizard, "choose");
  g_assert_nonnull (find_row (GTK_WIDGET (wizard), "IMAP (recommended)"));
  g_assert_nonnull (find_row (GTK_WIDGET (wizard), "POP"));
  mailer_test_ui_save_screenshot (GTK_WIDGET (wizard), "wizard-choose");
  click (wizard, "_Add Account");
  wait_page (wizard, "certificate");
  mailer_test_ui_save_screenshot (GTK_WIDGET (wizard), "wizard-certificate");
  click (wizard, "_Trust This Certificate");
  mailer_test_ui_wait_until (is_gone, &wizard);
  g_resolver_set_default (previous);

  g_assert_nonnull (added);
  g_assert_cmpuint (g_list_model_get_n_items (accounts), ==, 1);
  g_assert_cmpint (mailer_account_get_kind (added), ==, MAILER_ACCOUNT_KIND_IMAP);
  g_assert_cmpstr (mailer_account_get_host (added), ==, "mail.example.test");
  g_assert_cmpuint (mailer_account_get_port (added), ==, imaps);
  g_assert_cmpstr (mailer_account_get_display_name (added), ==, "Sam Example");
  g_assert_nonnull (mailer_account_get_pinned_certificate (added));
  {
    g_autoptr(GAsyncResult) result = NULL;
    g_autofree char *password = NULL;
    GAsyncResult *pending = NULL;

    mailer_secrets_lookup_password_async (added, NULL, mailer_test_store_result_cb, &pending);
    result = mailer_test_wait_result (&pending, 10);
    password = mailer_secrets_lookup_password_finish (result, &error);
    g_assert_no_error (error);
    g_assert_cmpstr (password, ==, "sam pass");
  }

  /* The passwords, right and wrong, nowhere but in the keyring: not in the
   * store's files, not in the settings, not in anything logged (debug
   * messages too). */
  for (guint i = 0; i < 2; i++)
    {
      const char *secret = i == 0 ? "sam pass" : "not the password";

      g_assert_false (tree_contains (mailer_store_get_dir (mailer_session_get_store (session)), secret));
      g_assert_false (settings_contain (secret));
      g_assert_null (strstr (logged->str, secret));
    }

  /* Removing the account takes its password out of the keyring. */
  {
    g_autoptr(GAsyncResult) result = NULL;
    g_autoptr(GAsyncResult) looked = NULL;
    g_autofree char *password = NULL;
    GAsyncResult *pending = NULL;

    mailer_session_remove_account_async (session, added, NULL, mailer_test_store_result_cb, &pending);
    result = mailer_test_wait_result (&pending, 10);
    g_assert_true (mailer_session_remove_account_finish (session, result, &error));
    g_assert_no_error (error);
    mailer_secrets_lookup_password_async (added, NULL, mailer_test_store_result_cb, &pending);
    looked = mailer_test_wait_result (&pending, 10);
    password = mailer_secrets_lookup_password_finish (looked, &error);
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
    g_assert_null (password);
  }
  mailer_test_dovecot_stop (dovecot);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  logged = g_string_new (NULL);
  g_log_set_writer_func (capture_writer, NULL, NULL);
  gtk_init ();
  adw_init ();

  g_test_add_func ("/ui/account-wizard", test_wizard);
  return g_test_run ();
}
