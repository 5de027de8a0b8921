/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * MailerAccountWizard: adding an account.  Name, address and password;
 * Mailer looks for the servers (MailerAutodetect), explains IMAP and POP
 * and lets the user choose; when nothing is found, or the user wants to,
 * the server settings are entered by hand.  Then a real login test
 * (mailer_account_check_async): a certificate this computer does not
 * trust is shown, and pinned for that server only if the user trusts it.
 * The account is saved (its password in the keyring) only once the login
 * worked; cancelling saves nothing.
 */
#include "config.h"

#include <glib/gi18n.h>
#include <string.h>

#include "mailer-account-check.h"
#include "mailer-account-wizard.h"
#include "mailer-autodetect.h"

struct _MailerAccountWizard
{
  AdwWindow parent_instance;

  MailerSession *session;
  GCancellable *cancellable;
  MailerAutodetect *autodetect;
  GPtrArray *candidates;        /* MailerServerCandidate */
  MailerAccount *account;       /* being checked */
  GTlsCertificate *certificate; /* shown for trust */
  char *back_page;              /* where an error sends the user */

  GtkButton *cancel_button;
  GtkButton *next_button;
  GtkStack *pages;
  AdwEntryRow *name_row;
  AdwEntryRow *address_row;
  AdwPasswordEntryRow *password_row;
  GtkLabel *identity_error;
  GtkSpinner *detect_spinner;
  GtkLabel *detect_status;
  GtkCheckButton *imap_check;
  GtkCheckButton *pop_check;
  AdwActionRow *imap_row;
  AdwActionRow *pop_row;
  AdwActionRow *leave_row;
  GtkSwitch *leave_switch;
  AdwActionRow *server_row;
  GtkLabel *provider_note;
  GtkLabel *choose_error;
  GtkButton *manual_button;
  AdwComboRow *kind_row;
  AdwEntryRow *host_row;
  GtkSpinButton *port_spin;
  AdwComboRow *security_row;
  AdwEntryRow *username_row;
  GtkLabel *manual_error;
  AdwStatusPage *checking_page;
  GtkSpinner *check_spinner;
  GtkLabel *certificate_details;
  GtkButton *trust_button;
};

G_DEFINE_FINAL_TYPE (MailerAccountWizard, mailer_account_wizard, ADW_TYPE_WINDOW)

enum {
  SIGNAL_ADDED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void
show_page (MailerAccountWizard *self,
           const char          *name)
{
  gboolean busy = g_str_equal (name, "detecting") || g_str_equal (name, "checking");

  gtk_stack_set_visible_child_name (self->pages, name);
  gtk_widget_set_visible (GTK_WIDGET (self->next_button), !busy && !g_str_equal (name, "certificate"));
  gtk_button_set_label (self->next_button, g_str_equal (name, "identity") ? _("_Next") : _("_Add Account"));
  if (g_str_equal (name, "detecting"))
    gtk_spinner_start (self->detect_spinner);
  else
    gtk_spinner_stop (self->detect_spinner);
  if (g_str_equal (name, "checking"))
    gtk_spinner_start (self->check_spinner);
  else
    gtk_spinner_stop (self->check_spinner);
}

static void
show_error (GtkLabel   *label,
            const char *text)
{
  gtk_label_set_label (label, text ? text : "");
  gtk_widget_set_visible (GTK_WIDGET (label), text != NULL);
}

static const char *
address (MailerAccountWizard *self)
{
  return gtk_editable_get_text (GTK_EDITABLE (self->address_row));
}

/* The best found of a type, or NULL. */
static MailerServerCandidate *
best (MailerAccountWizard *self,
      MailerServerType     type)
{
  for (guint i = 0; self->candidates != NULL && i < self->candidates->len; i++)
    {
      MailerServerCandidate *candidate = self->candidates->pdata[i];

      if (candidate->type == type)
        return candidate;
    }
  return NULL;
}

static const char *
security_name (MailerSecurity security)
{
  switch (security)
    {
    case MAILER_SECURITY_TLS:
      return _("TLS");
    case MAILER_SECURITY_STARTTLS:
      return _("STARTTLS");
    case MAILER_SECURITY_NONE:
    default:
      return _("no encryption");
    }
}

static void
update_choice (MailerAccountWizard *self)
{
  gboolean imap = gtk_check_button_get_active (self->imap_check);
  MailerServerCandidate *candidate = best (self, imap ? MAILER_SERVER_IMAP : MAILER_SERVER_POP3);

  gtk_widget_set_visible (GTK_WIDGET (self->leave_row), !imap);
  if (candidate != NULL)
    {
      /* Translators: server, port and how the connection is protected */
      g_autofree char *where = g_strdup_printf (_("%s, port %u, %s"), candidate->host, candidate->port,
                                                security_name (candidate->security));

      adw_action_row_set_subtitle (self->server_row, where);
      show_error (self->provider_note, candidate->note);
    }
  show_error (self->choose_error, NULL);
}

/* Manual settings, from a candidate or a guess. */
static void
fill_manual (MailerAccountWizard    *self,
             MailerServerCandidate  *candidate)
{
  const char *domain = mailer_autodetect_get_domain (self->autodetect);
  g_autofree char *host = NULL;

  if (candidate != NULL)
    {
      adw_combo_row_set_selected (self->kind_row, candidate->type == MAILER_SERVER_POP3 ? 1 : 0);
      gtk_editable_set_text (GTK_EDITABLE (self->host_row), candidate->host);
      gtk_spin_button_set_value (self->port_spin, candidate->port);
      adw_combo_row_set_selected (self->security_row, candidate->security);
      gtk_editable_set_text (GTK_EDITABLE (self->username_row), candidate->username);
      return;
    }
  host = domain ? g_strconcat ("mail.", domain, NULL) : g_strdup ("");
  gtk_editable_set_text (GTK_EDITABLE (self->host_row), host);
  gtk_spin_button_set_value (self->port_spin, 993);
  adw_combo_row_set_selected (self->security_row, MAILER_SECURITY_TLS);
  gtk_editable_set_text (GTK_EDITABLE (self->username_row), address (self));
}

static void
detected_cb (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  g_autoptr(MailerAccountWizard) self = user_data;
  g_autoptr(GError) error = NULL;
  MailerServerCandidate *imap, *pop;

  g_clear_pointer (&self->candidates, g_ptr_array_unref);
  self->candidates = mailer_autodetect_run_finish (MAILER_AUTODETECT (source), result, &error);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  imap = best (self, MAILER_SERVER_IMAP);
  pop = best (self, MAILER_SERVER_POP3);
  if (imap == NULL && pop == NULL)
    {
      /* Nothing found: by hand, with what a server is most often called. */
      g_autofree char *message = NULL;

      if (error != NULL)
        message = g_strdup (error->message);
      else
        /* Translators: %s is a mail domain */
        message = g_strdup_printf (_("No mail server found for %s"), mailer_autodetect_get_domain (self->autodetect));
      fill_manual (self, NULL);
      show_error (self->manual_error, message);
      self->back_page = g_strdup ("manual");
      show_page (self, "manual");
      return;
    }
  gtk_widget_set_sensitive (GTK_WIDGET (self->imap_row), imap != NULL);
  gtk_widget_set_sensitive (GTK_WIDGET (self->pop_row), pop != NULL);
  gtk_check_button_set_active (imap != NULL ? self->imap_check : self->pop_check, TRUE);
  update_choice (self);
  show_page (self, "choose");
}

static void
status_cb (MailerAccountWizard *self)
{
  const char *status = mailer_autodetect_get_status (self->autodetect);

  if (status != NULL)
    gtk_label_set_label (self->detect_status, status);
}

static void
start_detection (MailerAccountWizard *self)
{
  g_clear_object (&self->autodetect);
  self->autodetect = mailer_autodetect_new (address (self));
  if (mailer_autodetect_get_domain (self->autodetect) == NULL ||
      *gtk_editable_get_text (GTK_EDITABLE (self->password_row)) == '\0')
    {
      show_error (self->identity_error,
                  mailer_autodetect_get_domain (self->autodetect) == NULL
                  ? _("Enter your whole email address, like name@example.org")
                  : _("Enter your password"));
      return;
    }
  show_error (self->identity_error, NULL);
  g_signal_connect_object (self->autodetect, "notify::status", G_CALLBACK (status_cb), self, G_CONNECT_SWAPPED);
  show_page (self, "detecting");
  mailer_autodetect_run_async (self->autodetect, self->cancellable, detected_cb, g_object_ref (self));
}

/* The login test, then saving */

static void check_account (MailerAccountWizard *self);

static void
synced_cb (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  mailer_session_sync_account_finish (MAILER_SESSION (source), result, NULL);
}

static void
added_cb (GObject      *source,
          GAsyncResult *result,
          gpointer      user_data)
{
  g_autoptr(MailerAccountWizard) self = user_data;
  g_autoptr(GError) error = NULL;

  if (!mailer_session_add_account_finish (MAILER_SESSION (source), result, &error))
    {
      show_error (g_str_equal (self->back_page, "manual") ? self->manual_error : self->choose_error, error->message);
      show_page (self, self->back_page);
      return;
    }
  /* Its mail, now. */
  mailer_session_sync_account_async (self->session, self->account, NULL, synced_cb, NULL);
  g_signal_emit (self, signals[SIGNAL_ADDED], 0, self->account);
  gtk_window_close (GTK_WINDOW (self));
}

static void
checked_cb (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  g_autoptr(MailerAccountWizard) self = user_data;
  g_autoptr(GTlsCertificate) certificate = NULL;
  g_autoptr(GError) error = NULL;
  GTlsCertificateFlags certificate_errors = 0;

  if (mailer_account_check_finish (result, &certificate, &certificate_errors, &error))
    {
      mailer_session_add_account_async (self->session, self->account,
                                        gtk_editable_get_text (GTK_EDITABLE (self->password_row)),
                                        self->cancellable, added_cb, g_object_ref (self));
      return;
    }
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  if (mailer_setup_error_needs_trust (error) && certificate != NULL)
    {
      g_autofree char *details = mailer_describe_certificate (certificate, certificate_errors);
      g_autofree char *title = mailer_describe_setup_error (error, self->account);

      g_set_object (&self->certificate, certificate);
      adw_status_page_set_title (ADW_STATUS_PAGE (gtk_stack_get_child_by_name (self->pages, "certificate")), title);
      gtk_label_set_label (self->certificate_details, details);
      show_page (self, "certificate");
      return;
    }
  {
    g_autofree char *message = mailer_describe_setup_error (error, self->account);

    show_error (g_str_equal (self->back_page, "manual") ? self->manual_error : self->choose_error, message);
    show_page (self, self->back_page);
  }
}

static void
check_account (MailerAccountWizard *self)
{
  /* Translators: %s is a server's name */
  g_autofree char *title = g_strdup_printf (_("Logging In to %s"), mailer_account_get_host (self->account));

  adw_status_page_set_title (self->checking_page, title);
  show_page (self, "checking");
  mailer_account_check_async (self->account, gtk_editable_get_text (GTK_EDITABLE (self->password_row)),
                              self->cancellable, checked_cb, g_object_ref (self));
}

static MailerAccount *
new_account (MailerAccountWizard *self,
             MailerAccountKind    kind)
{
  MailerAccount *account = mailer_account_new (kind);
  const char *name = gtk_editable_get_text (GTK_EDITABLE (self->name_row));

  mailer_account_set_address (account, address (self));
  mailer_account_set_display_name (account, *name ? name : address (self));
  return account;
}

static void
next_clicked_cb (MailerAccountWizard *self)
{
  const char *page = gtk_stack_get_visible_child_name (self->pages);

  if (g_str_equal (page, "identity"))
    {
      start_detection (self);
      return;
    }
  if (g_str_equal (page, "choose"))
    {
      gboolean imap = gtk_check_button_get_active (self->imap_check);
      MailerServerCandidate *candidate = best (self, imap ? MAILER_SERVER_IMAP : MAILER_SERVER_POP3);

      if (candidate == NULL)
        return;
      g_clear_object (&self->account);
      self->account = new_account (self, imap ? MAILER_ACCOUNT_KIND_IMAP : MAILER_ACCOUNT_KIND_POP3);
      mailer_account_set_host (self->account, candidate->host);
      mailer_account_set_port (self->account, candidate->port);
      mailer_account_set_security (self->account, candidate->security);
      mailer_account_set_username (self->account, candidate->username);
      if (!imap)
        mailer_account_set_leave_on_server (self->account, gtk_switch_get_active (self->leave_switch));
      g_free (self->back_page);
      self->back_page = g_strdup ("choose");
      check_account (self);
      return;
    }
  if (g_str_equal (page, "manual"))
    {
      const char *host = gtk_editable_get_text (GTK_EDITABLE (self->host_row));

      if (*host == '\0')
        {
          show_error (self->manual_error, _("Enter the server’s name"));
          return;
        }
      g_clear_object (&self->account);
      self->account = new_account (self, adw_combo_row_get_selected (self->kind_row) == 1
                                         ? MAILER_ACCOUNT_KIND_POP3 : MAILER_ACCOUNT_KIND_IMAP);
      mailer_account_set_host (self->account, host);
      mailer_account_set_port (self->account, gtk_spin_button_get_value_as_int (self->port_spin));
      mailer_account_set_security (self->account, adw_combo_row_get_selected (self->security_row));
      mailer_account_set_username (self->account, gtk_editable_get_text (GTK_EDITABLE (self->username_row)));
      g_free (self->back_page);
      self->back_page = g_strdup ("manual");
      show_error (self->manual_error, NULL);
      check_account (self);
    }
}

static void
trust_clicked_cb (MailerAccountWizard *self)
{
  g_autofree char *fingerprint = NULL;

  if (self->certificate == NULL || self->account == NULL)
    return;
  /* That certificate, for this server only. */
  fingerprint = mailer_certificate_fingerprint (self->certificate);
  mailer_account_set_pinned_certificate (self->account, fingerprint);
  check_account (self);
}

static void
manual_clicked_cb (MailerAccountWizard *self)
{
  fill_manual (self, best (self, gtk_check_button_get_active (self->imap_check) ? MAILER_SERVER_IMAP
                                                                                : MAILER_SERVER_POP3));
  show_error (self->manual_error, NULL);
  show_page (self, "manual");
}

static void
cancel_clicked_cb (MailerAccountWizard *self)
{
  gtk_window_close (GTK_WINDOW (self));
}

static void
mailer_account_wizard_dispose (GObject *object)
{
  MailerAccountWizard *self = MAILER_ACCOUNT_WIZARD (object);

  /* Nothing saved, no connection left behind. */
  if (self->cancellable != NULL)
    g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  g_clear_object (&self->autodetect);
  g_clear_pointer (&self->candidates, g_ptr_array_unref);
  g_clear_object (&self->account);
  g_clear_object (&self->certificate);
  g_clear_object (&self->session);
  g_clear_pointer (&self->back_page, g_free);

  G_OBJECT_CLASS (mailer_account_wizard_parent_class)->dispose (object);
}

static void
mailer_account_wizard_class_init (MailerAccountWizardClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = mailer_account_wizard_dispose;

  /**
   * MailerAccountWizard::added:
   * @account: the account, saved, its first sync started
   */
  signals[SIGNAL_ADDED] = g_signal_new ("added", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                                        NULL, G_TYPE_NONE, 1, MAILER_TYPE_ACCOUNT);

  gtk_widget_class_set_template_from_resource (widget_class, "/org/example/Mailer/ui/mailer-account-wizard.ui");
#define CHILD(name) gtk_widget_class_bind_template_child (widget_class, MailerAccountWizard, name)
  CHILD (cancel_button);
  CHILD (next_button);
  CHILD (pages);
  CHILD (name_row);
  CHILD (address_row);
  CHILD (password_row);
  CHILD (identity_error);
  CHILD (detect_spinner);
  CHILD (detect_status);
  CHILD (imap_check);
  CHILD (pop_check);
  CHILD (imap_row);
  CHILD (pop_row);
  CHILD (leave_row);
  CHILD (leave_switch);
  CHILD (server_row);
  CHILD (provider_note);
  CHILD (choose_error);
  CHILD (manual_button);
  CHILD (kind_row);
  CHILD (host_row);
  CHILD (port_spin);
  CHILD (security_row);
  CHILD (username_row);
  CHILD (manual_error);
  CHILD (checking_page);
  CHILD (check_spinner);
  CHILD (certificate_details);
  CHILD (trust_button);
#undef CHILD
}

static void
mailer_account_wizard_init (MailerAccountWizard *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  self->cancellable = g_cancellable_new ();
  self->back_page = g_strdup ("choose");
  g_signal_connect_swapped (self->next_button, "clicked", G_CALLBACK (next_clicked_cb), self);
  g_signal_connect_swapped (self->cancel_button, "clicked", G_CALLBACK (cancel_clicked_cb), self);
  g_signal_connect_swapped (self->trust_button, "clicked", G_CALLBACK (trust_clicked_cb), self);
  g_signal_connect_swapped (self->manual_button, "clicked", G_CALLBACK (manual_clicked_cb), self);
  g_signal_connect_swapped (self->imap_check, "notify::active", G_CALLBACK (update_choice), self);
  /* Enter in the password goes on. */
  g_signal_connect_swapped (self->password_row, "entry-activated", G_CALLBACK (next_clicked_cb), self);
  show_page (self, "identity");
}

MailerAccountWizard *
mailer_account_wizard_new (GtkWindow     *parent,
                           MailerSession *session)
{
  MailerAccountWizard *self;

  g_return_val_if_fail (MAILER_IS_SESSION (session), NULL);

  self = g_object_new (MAILER_TYPE_ACCOUNT_WIZARD, "transient-for", parent, NULL);
  self->session = g_object_ref (session);
  return self;
}

/* For tests: the page shown. */
const char *
mailer_account_wizard_get_page (MailerAccountWizard *self)
{
  g_return_val_if_fail (MAILER_IS_ACCOUNT_WIZARD (self), NULL);
  return gtk_stack_get_visible_child_name (self->pages);
}
