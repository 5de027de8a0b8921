/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * MailerPreferencesWindow: the application's settings (GSettings) and each
 * account's own (stored with the account): what POP3 leaves on the server,
 * how much IMAP mail is kept for offline reading, how often to check, and
 * removing an account.  Every change is saved as it is made.
 */
#include "config.h"

#include <glib/gi18n.h>

#include "mailer-preferences-window.h"

struct _MailerPreferencesWindow
{
  AdwPreferencesWindow parent_instance;

  MailerSession *session;
  GSettings *settings;
  GPtrArray *groups;         /* AdwPreferencesGroup, one per account */

  AdwPreferencesPage *accounts_page;
  AdwPreferencesGroup *no_accounts_group;
  GtkSpinButton *mark_read_delay;
  GtkSwitch *remote_content_switch;
  GtkSwitch *conversations_switch;
};

G_DEFINE_FINAL_TYPE (MailerPreferencesWindow, mailer_preferences_window, ADW_TYPE_PREFERENCES_WINDOW)

/* The account properties this window changes; a change to any is saved. */
static const char * const saved_properties[] = {
  "display-name", "leave-on-server", "keep-days", "delete-when-deleted",
  "size-limit", "check-interval", "prefetch-days",
};

typedef char *(*FormatChoice) (guint64 value);

static char *
format_days (guint64 days)
{
  return g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "After %u day", "After %u days", days),
                          (guint) days);
}

static char *
format_interval (guint64 seconds)
{
  guint minutes = MAX (1, (guint) (seconds / 60));

  return g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "Every minute", "Every %u minutes", minutes),
                          minutes);
}

static char *
format_size (guint64 bytes)
{
  return g_format_size (bytes);
}

static char *
format_prefetch (guint64 days)
{
  return g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "Last %u day", "Last %u days", days),
                          (guint) days);
}

/* Saving */

static void
save_done_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(MailerPreferencesWindow) self = user_data;
  g_autoptr(GError) error = NULL;

  if (!mailer_session_add_account_finish (MAILER_SESSION (source), result, &error))
    {
      g_autofree char *message = g_strdup_printf (_("The settings could not be saved: %s"),
                                                  error->message);

      adw_preferences_window_add_toast (ADW_PREFERENCES_WINDOW (self), adw_toast_new (message));
    }
}

static void
account_notify_cb (MailerAccount *account,
                   GParamSpec    *pspec,
                   gpointer       user_data)
{
  MailerPreferencesWindow *self = user_data;

  if (!g_strv_contains (saved_properties, pspec->name))
    return;
  /* The store writes in order, on its own thread: saving at each change
   * leaves the last one stored. */
  mailer_session_add_account_async (self->session, account, NULL, NULL,
                                    save_done_cb, g_object_ref (self));
}

/* Rows */

static GtkWidget *
add_switch_row (AdwPreferencesGroup *group,
                MailerAccount       *account,
                const char          *property,
                const char          *title,
                const char          *subtitle)
{
  GtkWidget *row = adw_action_row_new ();
  GtkWidget *toggle = gtk_switch_new ();

  gtk_widget_set_name (row, property);
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), title);
  adw_preferences_row_set_use_underline (ADW_PREFERENCES_ROW (row), TRUE);
  if (subtitle != NULL)
    adw_action_row_set_subtitle (ADW_ACTION_ROW (row), subtitle);
  gtk_widget_set_valign (toggle, GTK_ALIGN_CENTER);
  adw_action_row_add_suffix (ADW_ACTION_ROW (row), toggle);
  adw_action_row_set_activatable_widget (ADW_ACTION_ROW (row), toggle);
  g_object_bind_property (account, property, toggle, "active",
                          G_BINDING_BIDIRECTIONAL | G_BINDING_SYNC_CREATE);
  adw_preferences_group_add (group, row);
  return row;
}

static guint64
get_number (MailerAccount *account,
            const char    *property)
{
  GParamSpec *pspec = g_object_class_find_property (G_OBJECT_GET_CLASS (account), property);
  g_auto(GValue) value = G_VALUE_INIT;
  g_auto(GValue) number = G_VALUE_INIT;

  g_value_init (&value, pspec->value_type);
  g_object_get_property (G_OBJECT (account), property, &value);
  g_value_init (&number, G_TYPE_UINT64);
  g_value_transform (&value, &number);
  return g_value_get_uint64 (&number);
}

static void
set_number (MailerAccount *account,
            const char    *property,
            guint64        number)
{
  GParamSpec *pspec = g_object_class_find_property (G_OBJECT_GET_CLASS (account), property);
  g_auto(GValue) value = G_VALUE_INIT;
  g_auto(GValue) converted = G_VALUE_INIT;

  g_value_init (&value, G_TYPE_UINT64);
  g_value_set_uint64 (&value, number);
  g_value_init (&converted, pspec->value_type);
  g_value_transform (&value, &converted);
  g_object_set_property (G_OBJECT (account), property, &converted);
}

static void
choice_selected_cb (AdwComboRow   *row,
                    GParamSpec    *pspec,
                    MailerAccount *account)
{
  GArray *values = g_object_get_data (G_OBJECT (row), "values");
  guint selected = adw_combo_row_get_selected (row);

  if (selected < values->len)
    set_number (account, gtk_widget_get_name (GTK_WIDGET (row)),
                g_array_index (values, guint64, selected));
}

/* A row to choose one of @n_choices values of a numeric @property.  A
 * value set elsewhere (the command line) that is not among them is shown
 * as it is, through @format, rather than changed behind the user's back. */
static GtkWidget *
add_choice_row (AdwPreferencesGroup *group,
                MailerAccount       *account,
                const char          *property,
                const char          *title,
                const char          *subtitle,
                const guint64       *values,
                const char * const  *labels,
                guint                n_choices,
                FormatChoice         format)
{
  GtkWidget *row = adw_combo_row_new ();
  g_autoptr(GtkStringList) model = gtk_string_list_new (NULL);
  GArray *choices = g_array_new (FALSE, FALSE, sizeof (guint64));
  guint64 current = get_number (account, property);
  guint selected = G_MAXUINT;

  for (guint i = 0; i < n_choices; i++)
    {
      if (selected == G_MAXUINT && current < values[i] && i > 0 && current > values[i - 1])
        {
          g_autofree char *label = format (current);

          selected = choices->len;
          g_array_append_val (choices, current);
          gtk_string_list_append (model, label);
        }
      if (current == values[i])
        selected = choices->len;
      g_array_append_val (choices, values[i]);
      gtk_string_list_append (model, labels[i]);
    }
  if (selected == G_MAXUINT)
    {
      g_autofree char *label = format (current);

      selected = choices->len;
      g_array_append_val (choices, current);
      gtk_string_list_append (model, label);
    }

  gtk_widget_set_name (row, property);
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), title);
  adw_preferences_row_set_use_underline (ADW_PREFERENCES_ROW (row), TRUE);
  if (subtitle != NULL)
    adw_action_row_set_subtitle (ADW_ACTION_ROW (row), subtitle);
  adw_combo_row_set_model (ADW_COMBO_ROW (row), G_LIST_MODEL (model));
  adw_combo_row_set_selected (ADW_COMBO_ROW (row), selected);
  g_object_set_data_full (G_OBJECT (row), "values", choices, (GDestroyNotify) g_array_unref);
  g_signal_connect_object (row, "notify::selected", G_CALLBACK (choice_selected_cb), account, 0);
  adw_preferences_group_add (group, row);
  return row;
}

static void
add_check_interval_row (AdwPreferencesGroup *group,
                        MailerAccount       *account,
                        const char          *title)
{
  static const guint64 values[] = { 0, 120, 300, 600, 1800, 3600 };
  const char * const labels[] = {
    _("Only when asked"), _("Every 2 minutes"), _("Every 5 minutes"),
    _("Every 10 minutes"), _("Every 30 minutes"), _("Every hour"),
  };

  add_choice_row (group, account, "check-interval", title, NULL,
                  values, labels, G_N_ELEMENTS (values), format_interval);
}

static void
name_applied_cb (AdwEntryRow   *row,
                 MailerAccount *account)
{
  g_autofree char *name = g_strstrip (g_strdup (gtk_editable_get_text (GTK_EDITABLE (row))));

  if (*name == '\0')
    {
      gtk_editable_set_text (GTK_EDITABLE (row), mailer_account_get_display_name (account));
      return;
    }
  mailer_account_set_display_name (account, name);
}

/* Removing an account */

static void
remove_done_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr(MailerPreferencesWindow) self = user_data;
  g_autoptr(GError) error = NULL;

  if (!mailer_session_remove_account_finish (MAILER_SESSION (source), result, &error))
    {
      g_autofree char *message = g_strdup_printf (_("The account could not be removed: %s"),
                                                  error->message);

      adw_preferences_window_add_toast (ADW_PREFERENCES_WINDOW (self), adw_toast_new (message));
    }
}

static void
remove_response_cb (AdwMessageDialog *dialog,
                    const char       *response,
                    gpointer          user_data)
{
  MailerPreferencesWindow *self = user_data;
  MailerAccount *account = g_object_get_data (G_OBJECT (dialog), "account");

  if (g_strcmp0 (response, "remove") != 0 || self->session == NULL)
    return;
  mailer_session_remove_account_async (self->session, account, NULL,
                                       remove_done_cb, g_object_ref (self));
}

static void
remove_clicked_cb (GtkButton     *button,
                   MailerAccount *account)
{
  MailerPreferencesWindow *self =
    MAILER_PREFERENCES_WINDOW (gtk_widget_get_root (GTK_WIDGET (button)));
  const char *body;
  GtkWidget *dialog;

  if (mailer_account_get_kind (account) == MAILER_ACCOUNT_KIND_POP3)
    body = _("Its mail on this computer and its saved password will be removed. "
             "Mail that was downloaded and deleted from the server is then gone for good.");
  else
    body = _("Its mail on this computer and its saved password will be removed. "
             "The mail on the server is not touched.");

  dialog = adw_message_dialog_new (GTK_WINDOW (self), NULL, body);
  adw_message_dialog_format_heading (ADW_MESSAGE_DIALOG (dialog), _("Remove “%s”?"),
                                     mailer_account_get_display_name (account));
  adw_message_dialog_add_responses (ADW_MESSAGE_DIALOG (dialog),
                                    "cancel", _("_Cancel"),
                                    "remove", _("_Remove"),
                                    NULL);
  adw_message_dialog_set_response_appearance (ADW_MESSAGE_DIALOG (dialog), "remove",
                                              ADW_RESPONSE_DESTRUCTIVE);
  adw_message_dialog_set_default_response (ADW_MESSAGE_DIALOG (dialog), "cancel");
  adw_message_dialog_set_close_response (ADW_MESSAGE_DIALOG (dialog), "cancel");
  g_object_set_data_full (G_OBJECT (dialog), "account", g_object_ref (account), g_object_unref);
  g_signal_connect (dialog, "response", G_CALLBACK (remove_response_cb), self);
  gtk_window_present (GTK_WINDOW (dialog));
}

/* One group per account */

static AdwPreferencesGroup *
build_account_group (MailerPreferencesWindow *self,
                     MailerAccount           *account)
{
  AdwPreferencesGroup *group = ADW_PREFERENCES_GROUP (adw_preferences_group_new ());
  gboolean pop3 = mailer_account_get_kind (account) == MAILER_ACCOUNT_KIND_POP3;
  g_autofree char *title = NULL;
  GtkWidget *row;
  GtkWidget *button;

  gtk_widget_set_name (GTK_WIDGET (group), mailer_account_get_uuid (account));
  if (mailer_account_get_address (account) != NULL)
    /* Translators: "<account name> (<address>)" */
    title = g_strdup_printf (_("%s (%s)"), mailer_account_get_display_name (account),
                             mailer_account_get_address (account));
  else
    title = g_strdup (mailer_account_get_display_name (account));
  adw_preferences_group_set_title (group, title);
  /* What the two kinds of account mean, plainly: the user chose one. */
  adw_preferences_group_set_description (group, pop3
    ? _("POP3: mail is downloaded to this computer for offline reading. "
        "Reading, moving or deleting it here does not change the server.")
    : _("IMAP: mail stays on the server and in step with your other devices. "
        "The inbox is updated as mail arrives."));

  row = adw_entry_row_new ();
  gtk_widget_set_name (row, "display-name");
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), _("Name"));
  adw_entry_row_set_show_apply_button (ADW_ENTRY_ROW (row), TRUE);
  gtk_editable_set_text (GTK_EDITABLE (row), mailer_account_get_display_name (account));
  g_signal_connect_object (row, "apply", G_CALLBACK (name_applied_cb), account, 0);
  adw_preferences_group_add (group, row);

  if (pop3)
    {
      static const guint64 keep_values[] = { 0, 7, 14, 30, 90, 365 };
      const char * const keep_labels[] = {
        _("Never"), _("After a week"), _("After 2 weeks"), _("After a month"),
        _("After 3 months"), _("After a year"),
      };
      static const guint64 size_values[] = { 0, 100 * 1000, 1000 * 1000, 5 * 1000 * 1000,
                                             20 * 1000 * 1000 };
      g_autofree char *s100k = format_size (size_values[1]);
      g_autofree char *s1m = format_size (size_values[2]);
      g_autofree char *s5m = format_size (size_values[3]);
      g_autofree char *s20m = format_size (size_values[4]);
      const char * const size_labels[] = { _("Any size"), s100k, s1m, s5m, s20m };
      GtkWidget *keep_row;
      GtkWidget *deleted_row;

      row = add_switch_row (group, account, "leave-on-server", _("_Leave a copy on the server"),
                            _("Otherwise mail is deleted from the server once it is safely stored here"));
      keep_row = add_choice_row (group, account, "keep-days", _("_Delete from the server"),
                                 _("Counted from the day a message was downloaded"),
                                 keep_values, keep_labels, G_N_ELEMENTS (keep_values), format_days);
      deleted_row = add_switch_row (group, account, "delete-when-deleted",
                                    _("Delete from the server when _deleted here"),
                                    _("Also for messages deleted while offline, at the next check"));
      g_object_bind_property (account, "leave-on-server", keep_row, "sensitive", G_BINDING_SYNC_CREATE);
      g_object_bind_property (account, "leave-on-server", deleted_row, "sensitive", G_BINDING_SYNC_CREATE);
      add_choice_row (group, account, "size-limit", _("Download in _full up to"),
                      _("Of a larger message only the beginning is downloaded, the rest when you ask"),
                      size_values, size_labels, G_N_ELEMENTS (size_values), format_size);
      add_check_interval_row (group, account, _("_Check for mail"));
    }
  else
    {
      static const guint64 prefetch_values[] = { 0, 7, 30, 90, 365, MAILER_ACCOUNT_PREFETCH_ALL };
      const char * const prefetch_labels[] = {
        _("None"), _("Last week"), _("Last 30 days"), _("Last 3 months"), _("Last year"),
        _("All mail"),
      };

      add_choice_row (group, account, "prefetch-days", _("Keep _offline"),
                      _("Mail of this period is downloaded in full ahead of time; "
                        "other messages are downloaded when opened"),
                      prefetch_values, prefetch_labels, G_N_ELEMENTS (prefetch_values),
                      format_prefetch);
      add_check_interval_row (group, account, _("_Check other folders"));
    }

  row = adw_action_row_new ();
  gtk_widget_set_name (row, "remove");
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), _("Remove Account"));
  adw_action_row_set_subtitle (ADW_ACTION_ROW (row),
                               _("Removes its mail from this computer and its saved password"));
  button = gtk_button_new_with_mnemonic (_("_Remove…"));
  gtk_widget_set_name (button, "remove-button");
  gtk_widget_set_valign (button, GTK_ALIGN_CENTER);
  gtk_widget_add_css_class (button, "destructive-action");
  g_signal_connect_object (button, "clicked", G_CALLBACK (remove_clicked_cb), account, 0);
  adw_action_row_add_suffix (ADW_ACTION_ROW (row), button);
  adw_preferences_group_add (group, row);

  g_signal_connect_object (account, "notify", G_CALLBACK (account_notify_cb), self, 0);
  return group;
}

static void
rebuild_accounts (MailerPreferencesWindow *self)
{
  GListModel *accounts = mailer_session_get_accounts (self->session);
  guint n = g_list_model_get_n_items (accounts);

  for (guint i = 0; i < self->groups->len; i++)
    {
      AdwPreferencesGroup *group = g_ptr_array_index (self->groups, i);
      MailerAccount *account = g_object_get_data (G_OBJECT (group), "account");

      g_signal_handlers_disconnect_by_func (account, account_notify_cb, self);
      adw_preferences_page_remove (self->accounts_page, group);
    }
  g_ptr_array_set_size (self->groups, 0);

  for (guint i = 0; i < n; i++)
    {
      g_autoptr(MailerAccount) account = g_list_model_get_item (accounts, i);
      AdwPreferencesGroup *group = build_account_group (self, account);

      g_object_set_data_full (G_OBJECT (group), "account", g_object_ref (account), g_object_unref);
      adw_preferences_page_add (self->accounts_page, group);
      g_ptr_array_add (self->groups, group);
    }
  gtk_widget_set_visible (GTK_WIDGET (self->no_accounts_group), n == 0);
}

static void
mailer_preferences_window_dispose (GObject *object)
{
  MailerPreferencesWindow *self = (MailerPreferencesWindow *)object;

  if (self->session != NULL)
    {
      g_signal_handlers_disconnect_by_func (mailer_session_get_accounts (self->session),
                                            rebuild_accounts, self);
      for (guint i = 0; i < self->groups->len; i++)
        {
          MailerAccount *account = g_object_get_data (g_ptr_array_index (self->groups, i), "account");

          g_signal_handlers_disconnect_by_func (account, account_notify_cb, self);
        }
    }
  g_clear_pointer (&self->groups, g_ptr_array_unref);
  g_clear_object (&self->session);
  g_clear_object (&self->settings);

  G_OBJECT_CLASS (mailer_preferences_window_parent_class)->dispose (object);
}

static void
mailer_preferences_window_class_init (MailerPreferencesWindowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = mailer_preferences_window_dispose;

  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/org/example/Mailer/ui/mailer-preferences-window.ui");
  gtk_widget_class_bind_template_child (widget_class, MailerPreferencesWindow, accounts_page);
  gtk_widget_class_bind_template_child (widget_class, MailerPreferencesWindow, no_accounts_group);
  gtk_widget_class_bind_template_child (widget_class, MailerPreferencesWindow, mark_read_delay);
  gtk_widget_class_bind_template_child (widget_class, MailerPreferencesWindow, remote_content_switch);
  gtk_widget_class_bind_template_child (widget_class, MailerPreferencesWindow, conversations_switch);
}

/* The "show-remote-content" choice ("ask" or "always") as a switch. */
static gboolean
remote_policy_get (GValue   *value,
                   GVariant *variant,
                   gpointer  user_data)
{
  g_value_set_boolean (value, g_strcmp0 (g_variant_get_string (variant, NULL), "always") == 0);
  return TRUE;
}

static GVariant *
remote_policy_set (const GValue       *value,
                   const GVariantType *expected_type,
                   gpointer            user_data)
{
  return g_variant_new_string (g_value_get_boolean (value) ? "always" : "ask");
}

static void
mailer_preferences_window_init (MailerPreferencesWindow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));

  self->groups = g_ptr_array_new ();
  self->settings = g_settings_new (APP_ID);
  g_settings_bind (self->settings, "auto-mark-read-delay",
                   gtk_spin_button_get_adjustment (self->mark_read_delay), "value",
                   G_SETTINGS_BIND_DEFAULT);
  g_settings_bind_with_mapping (self->settings, "show-remote-content",
                                self->remote_content_switch, "active", G_SETTINGS_BIND_DEFAULT,
                                remote_policy_get, remote_policy_set, NULL, NULL);
  g_settings_bind (self->settings, "conversation-grouping", self->conversations_switch, "active",
                   G_SETTINGS_BIND_DEFAULT);
}

MailerPreferencesWindow *
mailer_preferences_window_new (GtkWindow     *parent,
                               MailerSession *session)
{
  MailerPreferencesWindow *self;

  g_return_val_if_fail (MAILER_IS_SESSION (session), NULL);

  self = g_object_new (MAILER_TYPE_PREFERENCES_WINDOW,
                       "transient-for", parent,
                       "modal", parent != NULL,
                       NULL);
  self->session = g_object_ref (session);
  g_signal_connect_swapped (mailer_session_get_accounts (session), "items-changed",
                            G_CALLBACK (rebuild_accounts), self);
  rebuild_accounts (self);
  return self;
}

/**
 * mailer_preferences_window_get_account_group:
 *
 * Returns: (transfer none) (nullable): the group of rows holding
 *   @account's settings
 */
AdwPreferencesGroup *
mailer_preferences_window_get_account_group (MailerPreferencesWindow *self,
                                             MailerAccount           *account)
{
  g_return_val_if_fail (MAILER_IS_PREFERENCES_WINDOW (self), NULL);

  for (guint i = 0; i < self->groups->len; i++)
    if (g_object_get_data (g_ptr_array_index (self->groups, i), "account") == account)
      return g_ptr_array_index (self->groups, i);
  return NULL;
}

/**
 * mailer_preferences_window_show_accounts:
 *
 * Shows the page of account settings.
 */
void
mailer_preferences_window_show_accounts (MailerPreferencesWindow *self)
{
  g_return_if_fail (MAILER_IS_PREFERENCES_WINDOW (self));

  adw_preferences_window_set_visible_page (ADW_PREFERENCES_WINDOW (self),
                                           ADW_PREFERENCES_PAGE (self->accounts_page));
}
