/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * MailerAccountRow: one account in the sidebar: its name, address and
 * whether it is an IMAP or a POP3 account.
 */
#include "config.h"

#include <glib/gi18n.h>

#include "mailer-account-row.h"

struct _MailerAccountRow
{
  GtkWidget parent_instance;

  MailerAccount *account;
  GBinding *name_binding;
  GBinding *address_binding;

  GtkWidget *box;
  GtkImage *icon;
  GtkLabel *name_label;
  GtkLabel *address_label;
  GtkLabel *kind_label;
  GtkLabel *status_label;
  GtkProgressBar *progress_bar;
  GtkSpinner *spinner;
  GtkMenuButton *error_button;
  GtkLabel *error_label;
  GtkButton *retry_button;
  GtkButton *password_button;
  GtkButton *certificate_button;
};

G_DEFINE_FINAL_TYPE (MailerAccountRow, mailer_account_row, GTK_TYPE_WIDGET)

const char *
mailer_account_kind_get_label (MailerAccountKind kind)
{
  switch (kind)
    {
    case MAILER_ACCOUNT_KIND_IMAP:
      /* Translators: the protocol name, shown as a tag on an account. */
      return _("IMAP");
    case MAILER_ACCOUNT_KIND_POP3:
      /* Translators: the protocol name, shown as a tag on an account. */
      return _("POP3");
    default:
      g_return_val_if_reached (NULL);
    }
}

/* What the account is doing, in the row: checking (a spinner, and how far
 * it got), when it was last checked, or what went wrong (with the details
 * and a Retry in a popover). */
static void
update_state (MailerAccountRow *self)
{
  MailerAccount *account = self->account;
  MailerConnectionState state = mailer_account_get_connection_state (account);
  double progress = mailer_account_get_progress (account);
  gboolean busy = state == MAILER_CONNECTION_STATE_CONNECTING || state == MAILER_CONNECTION_STATE_SYNCING;
  gboolean failed = state == MAILER_CONNECTION_STATE_ERROR;
  g_autofree char *status = NULL;

  switch (state)
    {
    case MAILER_CONNECTION_STATE_CONNECTING:
      status = g_strdup (_("Connecting…"));
      break;
    case MAILER_CONNECTION_STATE_SYNCING:
      status = g_strdup (_("Checking for mail…"));
      break;
    case MAILER_CONNECTION_STATE_ERROR:
      status = g_strdup (mailer_account_get_needs_trust (account) ? _("Certificate not trusted")
                         : mailer_account_get_needs_password (account) ? _("Password required")
                         : _("Could not check for mail"));
      break;
    case MAILER_CONNECTION_STATE_ONLINE:
    case MAILER_CONNECTION_STATE_OFFLINE:
    default:
      if (mailer_account_get_last_sync (account) > 0)
        {
          g_autoptr(GDateTime) when = g_date_time_new_from_unix_local (mailer_account_get_last_sync (account));
          g_autofree char *time = g_date_time_format (when, "%H:%M");

          /* Translators: %s is a time of day, such as 14:05 */
          status = g_strdup_printf (_("Checked at %s"), time);
        }
      break;
    }

  gtk_label_set_label (self->status_label, status);
  gtk_widget_set_visible (GTK_WIDGET (self->status_label), status != NULL);
  if (failed)
    gtk_widget_add_css_class (GTK_WIDGET (self->status_label), "error");
  else
    gtk_widget_remove_css_class (GTK_WIDGET (self->status_label), "error");

  gtk_widget_set_visible (GTK_WIDGET (self->progress_bar), busy && progress >= 0);
  if (progress >= 0)
    gtk_progress_bar_set_fraction (self->progress_bar, progress);
  gtk_widget_set_visible (GTK_WIDGET (self->spinner), busy);
  gtk_spinner_set_spinning (self->spinner, busy);

  gtk_widget_set_visible (GTK_WIDGET (self->error_button), failed);
  /* A rejected password: another one, rather than the same again. */
  gtk_widget_set_visible (GTK_WIDGET (self->password_button), failed && mailer_account_get_needs_password (account));
  /* A certificate to look at: that, rather than the same again. */
  gtk_widget_set_visible (GTK_WIDGET (self->certificate_button), failed && mailer_account_get_needs_trust (account));
  gtk_widget_set_visible (GTK_WIDGET (self->retry_button),
                          !mailer_account_get_needs_password (account) && !mailer_account_get_needs_trust (account));
  gtk_label_set_label (self->error_label, failed ? mailer_account_get_status_message (account) : NULL);
  if (!failed)
    gtk_menu_button_popdown (self->error_button);
}

static void
unbind (MailerAccountRow *self)
{
  if (self->account != NULL)
    g_signal_handlers_disconnect_by_func (self->account, update_state, self);
  g_clear_pointer (&self->name_binding, g_binding_unbind);
  g_clear_pointer (&self->address_binding, g_binding_unbind);
  g_clear_object (&self->account);
}

static void
mailer_account_row_dispose (GObject *object)
{
  MailerAccountRow *self = (MailerAccountRow *)object;

  unbind (self);
  gtk_widget_dispose_template (GTK_WIDGET (self), MAILER_TYPE_ACCOUNT_ROW);

  G_OBJECT_CLASS (mailer_account_row_parent_class)->dispose (object);
}

static void
mailer_account_row_class_init (MailerAccountRowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = mailer_account_row_dispose;

  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/org/example/Mailer/ui/mailer-account-row.ui");
  gtk_widget_class_bind_template_child (widget_class, MailerAccountRow, box);
  gtk_widget_class_bind_template_child (widget_class, MailerAccountRow, icon);
  gtk_widget_class_bind_template_child (widget_class, MailerAccountRow, name_label);
  gtk_widget_class_bind_template_child (widget_class, MailerAccountRow, address_label);
  gtk_widget_class_bind_template_child (widget_class, MailerAccountRow, kind_label);
  gtk_widget_class_bind_template_child (widget_class, MailerAccountRow, status_label);
  gtk_widget_class_bind_template_child (widget_class, MailerAccountRow, progress_bar);
  gtk_widget_class_bind_template_child (widget_class, MailerAccountRow, spinner);
  gtk_widget_class_bind_template_child (widget_class, MailerAccountRow, error_button);
  gtk_widget_class_bind_template_child (widget_class, MailerAccountRow, error_label);
  gtk_widget_class_bind_template_child (widget_class, MailerAccountRow, retry_button);
  gtk_widget_class_bind_template_child (widget_class, MailerAccountRow, password_button);
  gtk_widget_class_bind_template_child (widget_class, MailerAccountRow, certificate_button);
  gtk_widget_class_set_layout_manager_type (widget_class, GTK_TYPE_BIN_LAYOUT);
}

static void
mailer_account_row_init (MailerAccountRow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
}

GtkWidget *
mailer_account_row_new (void)
{
  return g_object_new (MAILER_TYPE_ACCOUNT_ROW, NULL);
}

MailerAccount *
mailer_account_row_get_account (MailerAccountRow *self)
{
  g_return_val_if_fail (MAILER_IS_ACCOUNT_ROW (self), NULL);
  return self->account;
}

void
mailer_account_row_set_account (MailerAccountRow *self,
                                MailerAccount    *account)
{
  g_return_if_fail (MAILER_IS_ACCOUNT_ROW (self));
  g_return_if_fail (!account || MAILER_IS_ACCOUNT (account));

  if (self->account == account)
    return;

  unbind (self);
  if (account == NULL)
    return;

  self->account = g_object_ref (account);
  self->name_binding = g_object_bind_property (account, "display-name",
                                               self->name_label, "label",
                                               G_BINDING_SYNC_CREATE);
  self->address_binding = g_object_bind_property (account, "address",
                                                  self->address_label, "label",
                                                  G_BINDING_SYNC_CREATE);
  gtk_label_set_label (self->kind_label,
                       mailer_account_kind_get_label (mailer_account_get_kind (account)));
  gtk_image_set_from_icon_name (self->icon,
                                mailer_account_get_kind (account) == MAILER_ACCOUNT_KIND_IMAP
                                ? "network-server-symbolic" : "folder-download-symbolic");
  gtk_actionable_set_action_target (GTK_ACTIONABLE (self->retry_button), "s",
                                    mailer_account_get_uuid (account));
  gtk_actionable_set_action_target (GTK_ACTIONABLE (self->password_button), "s",
                                    mailer_account_get_uuid (account));
  gtk_actionable_set_action_target (GTK_ACTIONABLE (self->certificate_button), "s",
                                    mailer_account_get_uuid (account));
  g_signal_connect_swapped (account, "notify::needs-trust", G_CALLBACK (update_state), self);
  g_signal_connect_swapped (account, "notify::needs-password", G_CALLBACK (update_state), self);
  g_signal_connect_swapped (account, "notify::connection-state", G_CALLBACK (update_state), self);
  g_signal_connect_swapped (account, "notify::progress", G_CALLBACK (update_state), self);
  g_signal_connect_swapped (account, "notify::status-message", G_CALLBACK (update_state), self);
  g_signal_connect_swapped (account, "notify::last-sync", G_CALLBACK (update_state), self);
  update_state (self);
}
