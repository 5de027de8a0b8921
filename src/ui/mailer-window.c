/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * MailerWindow: the main window.  A sidebar lists the accounts; the
 * content pane shows the selected one.  It collapses to one pane on
 * narrow screens.
 */
#include "config.h"

#include <glib/gi18n.h>

#include "mailer-account-row.h"
#include "mailer-window.h"

struct _MailerWindow
{
  AdwApplicationWindow parent_instance;

  MailerSession *session;
  GSettings *settings;
  GtkSingleSelection *selection;

  AdwLeaflet *leaflet;
  GtkWidget *sidebar;
  GtkWidget *content;
  GtkStack *sidebar_stack;
  GtkListView *accounts_view;
  AdwStatusPage *error_page;
  AdwStatusPage *account_page;
  AdwWindowTitle *content_title;
  GtkLabel *account_explanation;
};

G_DEFINE_FINAL_TYPE (MailerWindow, mailer_window, ADW_TYPE_APPLICATION_WINDOW)

static void
update_sidebar (MailerWindow *self)
{
  GListModel *accounts;

  if (self->session == NULL)
    return;

  accounts = mailer_session_get_accounts (self->session);
  gtk_stack_set_visible_child_name (self->sidebar_stack,
                                    g_list_model_get_n_items (accounts) > 0 ? "accounts" : "empty");
}

static char *
describe_security (MailerSecurity security)
{
  switch (security)
    {
    case MAILER_SECURITY_TLS:
      return g_strdup (_("Encrypted (TLS)"));
    case MAILER_SECURITY_STARTTLS:
      return g_strdup (_("Encrypted (STARTTLS)"));
    case MAILER_SECURITY_NONE:
      return g_strdup (_("Not encrypted"));
    default:
      g_return_val_if_reached (NULL);
    }
}

static void
show_account (MailerWindow  *self,
              MailerAccount *account)
{
  g_autofree char *security = NULL;
  g_autofree char *description = NULL;
  MailerAccountKind kind;

  if (account == NULL)
    {
      adw_status_page_set_title (self->account_page, _("No Account Selected"));
      adw_status_page_set_description (self->account_page, NULL);
      adw_status_page_set_icon_name (self->account_page, "mail-unread-symbolic");
      adw_window_title_set_title (self->content_title, "");
      adw_window_title_set_subtitle (self->content_title, "");
      gtk_label_set_label (self->account_explanation, "");
      return;
    }

  kind = mailer_account_get_kind (account);
  security = describe_security (mailer_account_get_security (account));
  /* Translators: "<protocol> · <server>:<port> · <encryption>" */
  description = g_strdup_printf (_("%s · %s:%u · %s"),
                                 mailer_account_kind_get_label (kind),
                                 mailer_account_get_host (account),
                                 mailer_account_get_port (account),
                                 security);

  adw_status_page_set_title (self->account_page, mailer_account_get_display_name (account));
  adw_status_page_set_description (self->account_page, description);
  adw_status_page_set_icon_name (self->account_page,
                                 kind == MAILER_ACCOUNT_KIND_IMAP
                                 ? "network-server-symbolic" : "folder-download-symbolic");
  adw_window_title_set_title (self->content_title, mailer_account_get_display_name (account));
  adw_window_title_set_subtitle (self->content_title, mailer_account_get_address (account));

  if (kind == MAILER_ACCOUNT_KIND_IMAP)
    gtk_label_set_label (self->account_explanation,
                         _("Mail stays on the server and stays in sync with your other "
                           "devices: what you read or delete here changes there too."));
  else
    gtk_label_set_label (self->account_explanation,
                         _("Mail is downloaded to this computer for offline reading. "
                           "Changes made here do not reach the server."));
}

static void
selection_changed_cb (MailerWindow *self)
{
  show_account (self, gtk_single_selection_get_selected_item (self->selection));
}

static void
accounts_view_activate_cb (MailerWindow *self,
                           guint         position)
{
  adw_leaflet_set_visible_child (self->leaflet, self->content);
}

static void
setup_row_cb (GtkSignalListItemFactory *factory,
              GtkListItem              *item,
              gpointer                  user_data)
{
  gtk_list_item_set_child (item, mailer_account_row_new ());
}

static void
bind_row_cb (GtkSignalListItemFactory *factory,
             GtkListItem              *item,
             gpointer                  user_data)
{
  mailer_account_row_set_account (MAILER_ACCOUNT_ROW (gtk_list_item_get_child (item)),
                                  gtk_list_item_get_item (item));
}

static void
unbind_row_cb (GtkSignalListItemFactory *factory,
               GtkListItem              *item,
               gpointer                  user_data)
{
  mailer_account_row_set_account (MAILER_ACCOUNT_ROW (gtk_list_item_get_child (item)), NULL);
}

static void
show_sidebar_activated (GtkWidget  *widget,
                        const char *action_name,
                        GVariant   *parameter)
{
  MailerWindow *self = MAILER_WINDOW (widget);

  adw_leaflet_set_visible_child (self->leaflet, self->sidebar);
}

static void
mailer_window_dispose (GObject *object)
{
  MailerWindow *self = (MailerWindow *)object;

  if (self->session != NULL)
    g_signal_handlers_disconnect_by_data (mailer_session_get_accounts (self->session), self);
  gtk_widget_dispose_template (GTK_WIDGET (self), MAILER_TYPE_WINDOW);
  g_clear_object (&self->selection);
  g_clear_object (&self->session);
  g_clear_object (&self->settings);

  G_OBJECT_CLASS (mailer_window_parent_class)->dispose (object);
}

static void
mailer_window_class_init (MailerWindowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = mailer_window_dispose;

  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/org/example/Mailer/ui/mailer-window.ui");
  gtk_widget_class_bind_template_child (widget_class, MailerWindow, leaflet);
  gtk_widget_class_bind_template_child (widget_class, MailerWindow, sidebar);
  gtk_widget_class_bind_template_child (widget_class, MailerWindow, content);
  gtk_widget_class_bind_template_child (widget_class, MailerWindow, sidebar_stack);
  gtk_widget_class_bind_template_child (widget_class, MailerWindow, accounts_view);
  gtk_widget_class_bind_template_child (widget_class, MailerWindow, error_page);
  gtk_widget_class_bind_template_child (widget_class, MailerWindow, account_page);
  gtk_widget_class_bind_template_child (widget_class, MailerWindow, content_title);
  gtk_widget_class_bind_template_child (widget_class, MailerWindow, account_explanation);

  gtk_widget_class_install_action (widget_class, "win.show-sidebar", NULL, show_sidebar_activated);
}

static void
mailer_window_init (MailerWindow *self)
{
  g_autoptr(GtkListItemFactory) factory = NULL;

  gtk_widget_init_template (GTK_WIDGET (self));

  self->settings = g_settings_new (APP_ID);
  g_settings_bind (self->settings, "window-width", self, "default-width", G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (self->settings, "window-height", self, "default-height", G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (self->settings, "window-maximized", self, "maximized", G_SETTINGS_BIND_DEFAULT);

  factory = gtk_signal_list_item_factory_new ();
  g_signal_connect (factory, "setup", G_CALLBACK (setup_row_cb), NULL);
  g_signal_connect (factory, "bind", G_CALLBACK (bind_row_cb), NULL);
  g_signal_connect (factory, "unbind", G_CALLBACK (unbind_row_cb), NULL);
  gtk_list_view_set_factory (self->accounts_view, factory);
  gtk_list_view_set_single_click_activate (self->accounts_view, TRUE);
  g_signal_connect_swapped (self->accounts_view, "activate",
                            G_CALLBACK (accounts_view_activate_cb), self);

  self->selection = gtk_single_selection_new (NULL);
  g_signal_connect_swapped (self->selection, "notify::selected-item",
                            G_CALLBACK (selection_changed_cb), self);
  gtk_list_view_set_model (self->accounts_view, GTK_SELECTION_MODEL (self->selection));
}

/**
 * mailer_window_new:
 * @session: (nullable): the open session, or %NULL when it failed to open
 * @session_error: (nullable): why it failed, shown to the user
 */
MailerWindow *
mailer_window_new (GtkApplication *application,
                   MailerSession  *session,
                   const GError   *session_error)
{
  MailerWindow *self;

  g_return_val_if_fail (!session || MAILER_IS_SESSION (session), NULL);

  self = g_object_new (MAILER_TYPE_WINDOW, "application", application, NULL);

  if (session == NULL)
    {
      adw_status_page_set_description (self->error_page,
                                       session_error ? session_error->message : NULL);
      gtk_stack_set_visible_child_name (self->sidebar_stack, "error");
      return self;
    }

  self->session = g_object_ref (session);
  gtk_single_selection_set_model (self->selection, mailer_session_get_accounts (session));
  g_signal_connect_swapped (mailer_session_get_accounts (session), "items-changed",
                            G_CALLBACK (update_sidebar), self);
  update_sidebar (self);
  selection_changed_cb (self);

  return self;
}

GtkListView *
mailer_window_get_accounts_view (MailerWindow *self)
{
  g_return_val_if_fail (MAILER_IS_WINDOW (self), NULL);
  return self->accounts_view;
}
