/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * MailerApplication: command-line options, application-wide actions, and
 * the one MailerSession the windows share.
 */
#include "config.h"

#include <glib/gi18n.h>

#include "mailer-account-wizard.h"
#include "mailer-application.h"
#include "mailer-preferences-window.h"
#include "mailer-session.h"
#include "mailer-window.h"

struct _MailerApplication
{
  AdwApplication parent_instance;

  char *data_dir;
  MailerSession *session;
  GError *session_error;
};

G_DEFINE_FINAL_TYPE (MailerApplication, mailer_application, ADW_TYPE_APPLICATION)

MailerApplication *
mailer_application_new (void)
{
  return g_object_new (MAILER_TYPE_APPLICATION,
                       "application-id", APP_ID,
                       "resource-base-path", "/org/example/Mailer",
                       "flags", G_APPLICATION_DEFAULT_FLAGS,
                       NULL);
}

static int
mailer_application_handle_local_options (GApplication *app,
                                         GVariantDict *options)
{
  MailerApplication *self = MAILER_APPLICATION (app);

  if (g_variant_dict_contains (options, "version"))
    {
      g_print ("%s %s\n", "mailer", PACKAGE_VERSION);
      return 0;
    }

  if (g_variant_dict_lookup (options, "data-dir", "^ay", &self->data_dir))
    {
      /* Another data dir is another mailbox: do not hand over to an
       * instance that is already running on the default one. */
      g_application_set_flags (app, g_application_get_flags (app) | G_APPLICATION_NON_UNIQUE);
    }

  return G_APPLICATION_CLASS (mailer_application_parent_class)->handle_local_options (app, options);
}

static void
quit_activated (GSimpleAction *action,
                GVariant      *parameter,
                gpointer       user_data)
{
  g_application_quit (G_APPLICATION (user_data));
}

static void
about_activated (GSimpleAction *action,
                 GVariant      *parameter,
                 gpointer       user_data)
{
  GtkApplication *app = GTK_APPLICATION (user_data);
  GtkWidget *about;

  about = g_object_new (ADW_TYPE_ABOUT_WINDOW,
                        "transient-for", gtk_application_get_active_window (app),
                        "application-name", _("Mailer"),
                        "application-icon", APP_ID,
                        "developer-name", _("The Mailer developers"),
                        "version", PACKAGE_VERSION,
                        "website", "https://example.org/mailer",
                        "license-type", GTK_LICENSE_GPL_3_0,
                        /* Translators: put your names here, one per line. */
                        "translator-credits", _("translator-credits"),
                        NULL);
  gtk_window_present (GTK_WINDOW (about));
}

static void
add_account_activated (GSimpleAction *action,
                       GVariant      *parameter,
                       gpointer       user_data)
{
  MailerApplication *self = MAILER_APPLICATION (user_data);
  MailerAccountWizard *wizard;

  if (self->session == NULL)
    return;
  wizard = mailer_account_wizard_new (gtk_application_get_active_window (GTK_APPLICATION (self)), self->session);
  gtk_window_present (GTK_WINDOW (wizard));
}

static void
preferences_activated (GSimpleAction *action,
                       GVariant      *parameter,
                       gpointer       user_data)
{
  MailerApplication *self = MAILER_APPLICATION (user_data);
  MailerPreferencesWindow *preferences;

  /* Without a store there is nothing to set. */
  if (self->session == NULL)
    return;
  preferences = mailer_preferences_window_new (gtk_application_get_active_window (GTK_APPLICATION (self)),
                                               self->session);
  gtk_window_present (GTK_WINDOW (preferences));
}

/* A click on a new-mail notification: that message, open. */
static void
show_message_activated (GSimpleAction *action,
                        GVariant      *parameter,
                        gpointer       user_data)
{
  MailerApplication *self = MAILER_APPLICATION (user_data);
  GtkWindow *window;

  g_application_activate (G_APPLICATION (self));
  /* The main window, not one of a single message. */
  window = NULL;
  for (GList *l = gtk_application_get_windows (GTK_APPLICATION (self)); l != NULL && window == NULL; l = l->next)
    if (MAILER_IS_WINDOW (l->data) && !mailer_window_is_single (l->data))
      window = l->data;
  if (window != NULL)
    {
      gtk_window_present (window);
      mailer_window_show_message (MAILER_WINDOW (window), g_variant_get_int64 (parameter));
    }
}

static const GActionEntry app_actions[] = {
  { "quit", quit_activated },
  { "about", about_activated },
  { "preferences", preferences_activated },
  { "add-account", add_account_activated },
  { "show-message", show_message_activated, "x" },
};

/* New mail in an inbox: a desktop notification, one per account (a newer
 * one replaces it), unless the window is in front. */
static void
new_mail_cb (MailerSession *session,
             MailerAccount *account,
             guint          n,
             gint64         newest_id,
             gpointer       user_data)
{
  GApplication *app = G_APPLICATION (user_data);
  GtkWindow *window = gtk_application_get_active_window (GTK_APPLICATION (app));
  g_autoptr(GNotification) notification = NULL;
  g_autoptr(MailerMessage) message = NULL;
  g_autofree char *id = NULL;
  g_autofree char *title = NULL;
  const char *body;

  if (window != NULL && gtk_window_is_active (window))
    return;

  message = mailer_store_get_message (mailer_session_get_store (session), newest_id, NULL);
  if (n == 1 && message != NULL)
    {
      const char *sender = mailer_message_get_sender (message);

      title = g_strdup (sender && *sender ? sender : mailer_message_get_sender_address (message));
      body = mailer_message_get_subject (message);
    }
  else
    {
      title = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "%u new message", "%u new messages", n), n);
      body = mailer_account_get_display_name (account);
    }

  notification = g_notification_new (title ? title : _("New mail"));
  if (body != NULL && *body)
    g_notification_set_body (notification, body);
  g_notification_set_category (notification, "email.arrived");
  if (message != NULL)
    g_notification_set_default_action_and_target_value (notification, "app.show-message",
                                                        g_variant_new_int64 (newest_id));
  id = g_strdup_printf ("new-mail-%s", mailer_account_get_uuid (account));
  g_application_send_notification (app, id, notification);
}

static void
mailer_application_startup (GApplication *app)
{
  G_APPLICATION_CLASS (mailer_application_parent_class)->startup (app);

  g_action_map_add_action_entries (G_ACTION_MAP (app), app_actions,
                                   G_N_ELEMENTS (app_actions), app);
  gtk_application_set_accels_for_action (GTK_APPLICATION (app), "app.quit",
                                         (const char *[]) { "<Control>q", NULL });
  gtk_application_set_accels_for_action (GTK_APPLICATION (app), "app.preferences",
                                         (const char *[]) { "<Control>comma", NULL });
  gtk_window_set_default_icon_name (APP_ID);
}

static void
mailer_application_activate (GApplication *app)
{
  MailerApplication *self = MAILER_APPLICATION (app);
  GtkWindow *window;

  window = gtk_application_get_active_window (GTK_APPLICATION (app));
  if (window == NULL)
    {
      /* Opening the store is quick (a schema check); a failure is shown in
       * the window rather than on a terminal nobody reads. */
      if (self->session == NULL && self->session_error == NULL)
        {
          self->session = mailer_session_new (self->data_dir, &self->session_error);
          if (self->session_error != NULL)
            g_warning ("Could not open the mail store: %s", self->session_error->message);
          else
            g_signal_connect_object (self->session, "new-mail", G_CALLBACK (new_mail_cb), self, 0);
        }

      window = GTK_WINDOW (mailer_window_new (GTK_APPLICATION (app), self->session,
                                              self->session_error));
      if (self->session != NULL)
        {
          /* Check for mail now, keep IMAP accounts in step as things
           * happen, and check again on each account's interval. */
          mailer_session_set_push (self->session, TRUE);
          mailer_session_set_periodic_checks (self->session, TRUE);
          mailer_window_refresh (MAILER_WINDOW (window));
        }
      gtk_window_present (window);
      /* The first start: the account setup, over the window. */
      if (self->session != NULL && g_list_model_get_n_items (mailer_session_get_accounts (self->session)) == 0)
        g_action_group_activate_action (G_ACTION_GROUP (app), "add-account", NULL);
      return;
    }

  gtk_window_present (window);
}

static void
mailer_application_finalize (GObject *object)
{
  MailerApplication *self = (MailerApplication *)object;

  g_clear_object (&self->session);
  g_clear_error (&self->session_error);
  g_clear_pointer (&self->data_dir, g_free);

  G_OBJECT_CLASS (mailer_application_parent_class)->finalize (object);
}

static void
mailer_application_class_init (MailerApplicationClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GApplicationClass *app_class = G_APPLICATION_CLASS (klass);

  object_class->finalize = mailer_application_finalize;
  app_class->handle_local_options = mailer_application_handle_local_options;
  app_class->startup = mailer_application_startup;
  app_class->activate = mailer_application_activate;
}

static void
mailer_application_init (MailerApplication *self)
{
  const GOptionEntry entries[] = {
    { "data-dir", 'd', 0, G_OPTION_ARG_FILENAME, NULL,
      N_("Keep mail and settings in DIR instead of the default place"), N_("DIR") },
    { "version", 0, 0, G_OPTION_ARG_NONE, NULL,
      N_("Show the version and exit"), NULL },
    { NULL }
  };

  g_application_add_main_option_entries (G_APPLICATION (self), entries);
  g_application_set_option_context_summary (G_APPLICATION (self),
                                            _("Read and write mail over IMAP and POP3."));
}
