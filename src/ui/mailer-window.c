/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * MailerWindow: the main window.  The sidebar shows "All Inboxes", then
 * each account with its folder tree (a GtkTreeListModel over the
 * session's models, with unread counts); the content pane shows the chosen
 * folder's messages (a lazy MailerMessageList) beside the reader.  It
 * collapses to one pane on narrow screens.
 */
#include "config.h"

#include <glib/gi18n.h>
#include <string.h>
#include <webkit/webkit.h>

#include "mailer-account-check.h"
#include "mailer-account-row.h"
#include "mailer-message-list.h"
#include "mailer-message-row.h"
#include "mailer-text.h"
#include "mailer-window.h"

typedef struct _UndoMove UndoMove;

struct _MailerWindow
{
  AdwApplicationWindow parent_instance;

  MailerSession *session;
  GSettings *settings;
  GtkSingleSelection *selection;

  AdwLeaflet *leaflet;
  AdwLeaflet *content_leaflet;   /* the list and the reader */
  GtkWidget *back_button;
  GtkWidget *sidebar;
  GtkWidget *content;
  GtkStack *sidebar_stack;
  GtkListView *accounts_view;
  AdwStatusPage *error_page;
  AdwStatusPage *account_page;
  AdwWindowTitle *content_title;
  GtkLabel *account_explanation;
  GtkStack *content_stack;
  GtkStack *list_stack;
  GtkListView *messages_view;
  GtkStack *reader_stack;
  GtkLabel *reader_subject;
  GtkLabel *reader_from;
  GtkLabel *reader_date;
  GtkLabel *reader_to;
  GtkLabel *reader_cc;
  GtkStack *body_stack;
  GtkLabel *reader_body;
  AdwStatusPage *reader_none;
  GtkWidget *conversation_bar;
  GtkLabel *conversation_label;
  GArray *conversation;      /* ids of the open conversation, oldest first, or NULL */
  GtkSpinner *reader_spinner;
  AdwStatusPage *reader_unavailable;
  AdwToastOverlay *toasts;
  GtkSearchBar *search_bar;
  GtkSearchEntry *search_entry;
  GtkToggleButton *search_button;
  GtkMenuButton *move_button;
  GtkWidget *header_actions;     /* the message's actions, in the header bar... */
  GtkActionBar *bottom_actions;  /* ...or at the bottom, in a narrow window */
  GtkMenuButton *bottom_move_button;
  guint narrow_id;
  gboolean single;               /* a window of one message (Open in New Window) */
  GtkRevealer *offline_banner;
  GtkRevealer *remote_banner;
  GtkBox *attachments_box;
  GPtrArray *attachments;    /* MailerMimeAttachment of the open message */
  WebKitWebView *web_view;   /* made for the first HTML message, then reused */
  GBytes *shown_raw;         /* the open message's raw form, for cid: parts */
  char *shown_html;
  gboolean remote_allowed;   /* the open message's remote content shown */
  AdwToast *undo_toast;      /* the toast offering Undo; weak */
  UndoMove *undo;            /* what its Undo puts back */
  MailerFolder *current_folder;

  GListStore *roots;             /* "All Inboxes", then the accounts */
  MailerFolder *unified;
  GtkTreeListModel *tree;
  GtkMultiSelection *messages_selection;
  MailerMessageList *list;
  MailerMessage *shown;
  GCancellable *body_cancellable;
  guint mark_read_id;
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

static MailerAccount *
account_for_folder (MailerWindow *self,
                    gint64        folder_id)
{
  MailerFolder *folder = mailer_session_get_folder (self->session, folder_id);
  GListModel *accounts = mailer_session_get_accounts (self->session);

  if (folder == NULL)
    return NULL;
  for (guint i = 0; i < g_list_model_get_n_items (accounts); i++)
    {
      g_autoptr(MailerAccount) account = g_list_model_get_item (accounts, i);

      if (mailer_account_get_id (account) == mailer_folder_get_account_id (folder))
        return account;
    }
  return NULL;
}

/* The reader */

static gboolean
mark_read_cb (gpointer user_data)
{
  MailerWindow *self = user_data;
  g_autoptr(GArray) ids = g_array_new (FALSE, FALSE, sizeof (gint64));
  gint64 id;

  self->mark_read_id = 0;
  if (self->shown == NULL || !mailer_message_get_unread (self->shown))
    return G_SOURCE_REMOVE;
  id = mailer_message_get_id (self->shown);
  g_array_append_val (ids, id);
  /* Journalled: an IMAP server hears of it; POP3 keeps it here. */
  mailer_store_set_flags_async (mailer_session_get_store (self->session), ids,
                                MAILER_MESSAGE_FLAG_SEEN, 0, TRUE, NULL, NULL, NULL);
  return G_SOURCE_REMOVE;
}

static void show_message (MailerWindow  *self,
                          MailerMessage *message);
static void update_actions (MailerWindow *self);
static void show_list (MailerWindow      *self,
                       MailerMessageList *list);

static void
body_fetched_cb (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr(MailerWindow) self = user_data;
  g_autoptr(GError) error = NULL;

  if (!mailer_session_fetch_body_finish (MAILER_SESSION (source), result, &error))
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;
      gtk_spinner_stop (self->reader_spinner);
      adw_status_page_set_description (self->reader_unavailable, error->message);
      gtk_stack_set_visible_child_name (self->body_stack, "unavailable");
      return;
    }
  if (self->shown != NULL)
    show_message (self, self->shown);
}

/* HTML messages: WebKit, with no scripts and nothing from the network
 * until the user asks; the message's own images by cid:. */

/* Everything a page could fetch is refused by its own policy, which
 * comes first in the document; what the message holds (cid:, data:) and
 * inline styles are allowed.  Shown "with remote content", only scripts
 * stay off. */
#define CSP_BLOCKED "default-src 'none'; img-src cid: data:; style-src 'unsafe-inline'; font-src cid: data:"
#define CSP_REMOTE "script-src 'none'; object-src 'none'; frame-src 'none'"

static gboolean
has_remote_content (const char *html)
{
  g_autofree char *lower = g_ascii_strdown (html, -1);
  static const char * const leads[] = { "src=", "background=", "url(", "href=", "srcset=", "poster=" };

  for (guint i = 0; i < G_N_ELEMENTS (leads); i++)
    for (const char *p = strstr (lower, leads[i]); p != NULL; p = strstr (p + 1, leads[i]))
      {
        const char *v = p + strlen (leads[i]);

        while (*v == ' ' || *v == '"' || *v == '\'')
          v++;
        /* A link (<a href>) is not loaded; a stylesheet (<link href>) is. */
        if (g_str_equal (leads[i], "href="))
          {
            const char *tag = g_strrstr_len (lower, p - lower, "<");

            if (tag == NULL || !g_str_has_prefix (tag, "<link"))
              continue;
          }
        if (g_str_has_prefix (v, "http:") || g_str_has_prefix (v, "https:") || g_str_has_prefix (v, "//"))
          return TRUE;
      }
  return FALSE;
}

static gboolean
sender_always_allowed (MailerWindow *self)
{
  g_auto(GStrv) senders = g_settings_get_strv (self->settings, "remote-content-senders");
  const char *address = self->shown ? mailer_message_get_sender_address (self->shown) : NULL;

  g_autofree char *policy = g_settings_get_string (self->settings, "show-remote-content");

  if (g_strcmp0 (policy, "always") == 0)
    return TRUE;
  for (guint i = 0; address != NULL && senders[i] != NULL; i++)
    if (g_ascii_strcasecmp (senders[i], address) == 0)
      return TRUE;
  return FALSE;
}

static void
cid_request_cb (WebKitURISchemeRequest *request,
                gpointer                user_data)
{
  GtkRoot *root = gtk_widget_get_root (GTK_WIDGET (webkit_uri_scheme_request_get_web_view (request)));
  MailerWindow *self = MAILER_IS_WINDOW (root) ? MAILER_WINDOW (root) : NULL;
  g_autofree char *cid = g_uri_unescape_string (webkit_uri_scheme_request_get_path (request), NULL);
  g_autofree char *type = NULL;
  g_autoptr(GBytes) part = NULL;
  g_autoptr(GInputStream) stream = NULL;

  if (self != NULL && self->shown_raw != NULL && cid != NULL)
    part = mailer_mime_get_part_by_cid (self->shown_raw, cid, &type);
  if (part == NULL)
    {
      g_autoptr(GError) error = g_error_new (G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "The message has no part %s", cid);

      webkit_uri_scheme_request_finish_error (request, error);
      return;
    }
  stream = g_memory_input_stream_new_from_bytes (part);
  webkit_uri_scheme_request_finish (request, stream, g_bytes_get_size (part), type);
}

static gboolean
decide_policy_cb (WebKitWebView            *view,
                  WebKitPolicyDecision     *decision,
                  WebKitPolicyDecisionType  type,
                  MailerWindow             *self)
{
  WebKitNavigationAction *action;
  WebKitURIRequest *request;
  const char *uri;

  if (type == WEBKIT_POLICY_DECISION_TYPE_RESPONSE)
    return FALSE;
  action = webkit_navigation_policy_decision_get_navigation_action (WEBKIT_NAVIGATION_POLICY_DECISION (decision));
  request = webkit_navigation_action_get_request (action);
  uri = webkit_uri_request_get_uri (request);

  /* The message itself, as loaded here. */
  if (type == WEBKIT_POLICY_DECISION_TYPE_NAVIGATION_ACTION &&
      webkit_navigation_action_get_navigation_type (action) == WEBKIT_NAVIGATION_TYPE_OTHER &&
      g_str_has_prefix (uri, "about:"))
    return FALSE;

  /* A link the user followed opens in the browser; nothing else (frames,
   * redirects, scripts that are off anyway) goes anywhere. */
  if (webkit_navigation_action_is_user_gesture (action) &&
      (g_str_has_prefix (uri, "http:") || g_str_has_prefix (uri, "https:") || g_str_has_prefix (uri, "mailto:")))
    gtk_show_uri (GTK_WINDOW (self), uri, GDK_CURRENT_TIME);
  webkit_policy_decision_ignore (decision);
  return TRUE;
}

static void
ensure_web_view (MailerWindow *self)
{
  static gsize registered = 0;
  g_autoptr(WebKitNetworkSession) session = NULL;
  g_autoptr(WebKitSettings) settings = NULL;

  if (self->web_view != NULL)
    return;

  settings = webkit_settings_new_with_settings ("enable-javascript", TRUE,        /* our own calls only: */
                                                "enable-javascript-markup", FALSE, /* no page scripts */
                                                "enable-page-cache", FALSE,
                                                "enable-html5-local-storage", FALSE,
                                                "enable-html5-database", FALSE,
                                                "enable-webgl", FALSE,
                                                "enable-webaudio", FALSE,
                                                "enable-media", FALSE,
                                                "enable-developer-extras", FALSE,
                                                "javascript-can-open-windows-automatically", FALSE,
                                                NULL);
  /* Nothing a message makes the view store outlives it. */
  session = webkit_network_session_new_ephemeral ();
  self->web_view = g_object_new (WEBKIT_TYPE_WEB_VIEW,
                                 "network-session", session,
                                 "settings", settings,
                                 "vexpand", TRUE,
                                 NULL);
  if (g_once_init_enter (&registered))
    {
      webkit_web_context_register_uri_scheme (webkit_web_view_get_context (self->web_view), "cid",
                                              cid_request_cb, NULL, NULL);
      g_once_init_leave (&registered, 1);
    }
  g_signal_connect_object (self->web_view, "decide-policy", G_CALLBACK (decide_policy_cb), self, 0);
  gtk_stack_add_named (self->body_stack, GTK_WIDGET (self->web_view), "html");
}

/* Loads the open message's HTML, with or without its remote content. */
static void
load_html (MailerWindow *self)
{
  g_autofree char *document = NULL;
  gboolean remote = has_remote_content (self->shown_html);

  ensure_web_view (self);
  document = g_strdup_printf ("<meta http-equiv=\"Content-Security-Policy\" content=\"%s\">%s",
                              self->remote_allowed ? CSP_REMOTE : CSP_BLOCKED, self->shown_html);
  webkit_web_view_load_html (self->web_view, document, "about:blank");
  gtk_stack_set_visible_child_name (self->body_stack, "html");
  gtk_revealer_set_reveal_child (self->remote_banner, remote && !self->remote_allowed);
}

static void
show_remote_activated (GtkWidget  *widget,
                       const char *action_name,
                       GVariant   *parameter)
{
  MailerWindow *self = MAILER_WINDOW (widget);

  if (self->shown_html == NULL)
    return;
  self->remote_allowed = TRUE;
  load_html (self);
}

static void
always_show_remote_activated (GtkWidget  *widget,
                              const char *action_name,
                              GVariant   *parameter)
{
  MailerWindow *self = MAILER_WINDOW (widget);
  const char *address = self->shown ? mailer_message_get_sender_address (self->shown) : NULL;

  if (address != NULL && *address)
    {
      g_auto(GStrv) senders = g_settings_get_strv (self->settings, "remote-content-senders");
      g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
      g_auto(GStrv) updated = NULL;

      g_strv_builder_addv (builder, (const char **) senders);
      if (!g_strv_contains ((const char * const *) senders, address))
        g_strv_builder_add (builder, address);
      updated = g_strv_builder_end (builder);
      g_settings_set_strv (self->settings, "remote-content-senders", (const char * const *) updated);
    }
  show_remote_activated (widget, action_name, parameter);
}

/* Attachments: listed under the headers, each with Open and Save. */

/* A name to save @attachment under: its own, without any directory. */
static char *
attachment_file_name (MailerMimeAttachment *attachment)
{
  g_autofree char *base = NULL;

  if (attachment->filename != NULL && *attachment->filename)
    {
      base = g_path_get_basename (attachment->filename);
      if (g_strcmp0 (base, ".") != 0 && g_strcmp0 (base, "..") != 0 && g_strcmp0 (base, "/") != 0)
        return g_steal_pointer (&base);
    }
  /* Translators: the file name of an attachment that has none */
  return g_strdup (_("attachment"));
}

static void
attachment_saved_cb (GObject      *source,
                     GAsyncResult *result,
                     gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  GError *error = NULL;

  if (!g_file_replace_contents_finish (G_FILE (source), result, NULL, &error))
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
}

/**
 * mailer_window_save_attachment_async:
 * @index: which attachment of the open message
 *
 * Writes the attachment's decoded content to @file, replacing it.
 */
void
mailer_window_save_attachment_async (MailerWindow        *self,
                                     guint                index,
                                     GFile               *file,
                                     GCancellable        *cancellable,
                                     GAsyncReadyCallback  callback,
                                     gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(GBytes) content = NULL;
  MailerMimeAttachment *attachment;

  g_return_if_fail (MAILER_IS_WINDOW (self));
  g_return_if_fail (G_IS_FILE (file));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, mailer_window_save_attachment_async);
  if (self->attachments == NULL || index >= self->attachments->len || self->shown_raw == NULL)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "The message has no such attachment");
      return;
    }
  attachment = g_ptr_array_index (self->attachments, index);
  content = mailer_mime_get_part_by_path (self->shown_raw, attachment->part_path);
  if (content == NULL)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "The attachment cannot be read");
      return;
    }
  g_file_replace_contents_bytes_async (file, content, NULL, FALSE, G_FILE_CREATE_REPLACE_DESTINATION,
                                       cancellable, attachment_saved_cb, g_steal_pointer (&task));
}

gboolean
mailer_window_save_attachment_finish (MailerWindow  *self,
                                      GAsyncResult  *result,
                                      GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

static void
save_done_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  MailerWindow *self = MAILER_WINDOW (source);
  g_autoptr(GError) error = NULL;

  if (!mailer_window_save_attachment_finish (self, result, &error))
    {
      g_autofree char *message = g_strdup_printf (_("The attachment could not be saved: %s"), error->message);

      adw_toast_overlay_add_toast (self->toasts, adw_toast_new (message));
    }
}

static void
save_response_cb (GtkNativeDialog *dialog,
                  int              response,
                  gpointer         user_data)
{
  MailerWindow *self = MAILER_WINDOW (gtk_native_dialog_get_transient_for (dialog));
  guint index = GPOINTER_TO_UINT (user_data);

  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autoptr(GFile) file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (dialog));

      mailer_window_save_attachment_async (self, index, file, NULL, save_done_cb, NULL);
    }
  g_object_unref (dialog);
}

static void
save_clicked_cb (GtkButton    *button,
                 MailerWindow *self)
{
  guint index = GPOINTER_TO_UINT (g_object_get_data (G_OBJECT (button), "attachment-index"));
  g_autofree char *name = attachment_file_name (g_ptr_array_index (self->attachments, index));
  GtkFileChooserNative *chooser;

  /* GTK 4.8 has no GtkFileDialog; this one goes through the portal. */
  chooser = gtk_file_chooser_native_new (_("Save Attachment"), GTK_WINDOW (self),
                                         GTK_FILE_CHOOSER_ACTION_SAVE, _("_Save"), _("_Cancel"));
  gtk_file_chooser_set_current_name (GTK_FILE_CHOOSER (chooser), name);
  g_signal_connect (chooser, "response", G_CALLBACK (save_response_cb), GUINT_TO_POINTER (index));
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (chooser));
}

static void
open_saved_cb (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  MailerWindow *self = MAILER_WINDOW (source);
  g_autoptr(GFile) file = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *uri = NULL;

  if (!mailer_window_save_attachment_finish (self, result, &error))
    {
      g_autofree char *message = g_strdup_printf (_("The attachment could not be opened: %s"), error->message);

      adw_toast_overlay_add_toast (self->toasts, adw_toast_new (message));
      return;
    }
  uri = g_file_get_uri (file);
  gtk_show_uri (GTK_WINDOW (self), uri, GDK_CURRENT_TIME);
}

/* Opened with the default application from a private copy: a directory
 * of its own (0700) in the cache, under the attachment's own name. */
static void
open_clicked_cb (GtkButton    *button,
                 MailerWindow *self)
{
  guint index = GPOINTER_TO_UINT (g_object_get_data (G_OBJECT (button), "attachment-index"));
  g_autofree char *name = attachment_file_name (g_ptr_array_index (self->attachments, index));
  g_autofree char *parent = g_build_filename (g_get_user_cache_dir (), "mailer", "attachments", NULL);
  g_autofree char *template = g_build_filename (parent, "XXXXXX", NULL);
  g_autofree char *path = NULL;
  GFile *file;

  if (g_mkdir_with_parents (parent, 0700) != 0 || g_mkdtemp_full (template, 0700) == NULL)
    {
      adw_toast_overlay_add_toast (self->toasts, adw_toast_new (_("The attachment could not be opened")));
      return;
    }
  path = g_build_filename (template, name, NULL);
  file = g_file_new_for_path (path);
  /* The callback owns the reference. */
  mailer_window_save_attachment_async (self, index, file, NULL, open_saved_cb, file);
}

static void
show_attachments (MailerWindow      *self,
                  MailerMimeSummary *summary)
{
  GtkWidget *child;

  while ((child = gtk_widget_get_first_child (GTK_WIDGET (self->attachments_box))) != NULL)
    gtk_box_remove (self->attachments_box, child);
  g_clear_pointer (&self->attachments, g_ptr_array_unref);
  if (summary == NULL || summary->attachments == NULL || summary->attachments->len == 0)
    {
      gtk_widget_set_visible (GTK_WIDGET (self->attachments_box), FALSE);
      return;
    }
  self->attachments = g_ptr_array_ref (summary->attachments);

  for (guint i = 0; i < self->attachments->len; i++)
    {
      MailerMimeAttachment *attachment = g_ptr_array_index (self->attachments, i);
      g_autofree char *name = attachment_file_name (attachment);
      g_autofree char *size = g_format_size (attachment->size);
      g_autofree char *content_type = g_content_type_from_mime_type (attachment->content_type
                                                                     ? attachment->content_type
                                                                     : "application/octet-stream");
      g_autoptr(GIcon) icon = g_content_type_get_symbolic_icon (content_type ? content_type
                                                                             : "application/octet-stream");
      GtkWidget *row = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 8);
      GtkWidget *label = gtk_label_new (name);
      GtkWidget *size_label = gtk_label_new (size);
      GtkWidget *open = gtk_button_new_from_icon_name ("document-open-symbolic");
      GtkWidget *save = gtk_button_new_from_icon_name ("document-save-symbolic");

      gtk_widget_set_name (row, "attachment");
      gtk_label_set_ellipsize (GTK_LABEL (label), PANGO_ELLIPSIZE_MIDDLE);
      gtk_label_set_xalign (GTK_LABEL (label), 0);
      gtk_widget_set_hexpand (label, TRUE);
      gtk_widget_add_css_class (size_label, "dim-label");
      gtk_widget_set_tooltip_text (open, _("Open"));
      gtk_widget_set_tooltip_text (save, _("Save…"));
      gtk_widget_add_css_class (open, "flat");
      gtk_widget_add_css_class (save, "flat");
      g_object_set_data (G_OBJECT (open), "attachment-index", GUINT_TO_POINTER (i));
      g_object_set_data (G_OBJECT (save), "attachment-index", GUINT_TO_POINTER (i));
      g_signal_connect (open, "clicked", G_CALLBACK (open_clicked_cb), self);
      g_signal_connect (save, "clicked", G_CALLBACK (save_clicked_cb), self);
      gtk_box_append (GTK_BOX (row), gtk_image_new_from_gicon (icon));
      gtk_box_append (GTK_BOX (row), label);
      gtk_box_append (GTK_BOX (row), size_label);
      gtk_box_append (GTK_BOX (row), open);
      gtk_box_append (GTK_BOX (row), save);
      gtk_box_append (self->attachments_box, row);
    }
  gtk_widget_set_visible (GTK_WIDGET (self->attachments_box), TRUE);
}

/* In a list of conversations: where the open message is in its
 * conversation, with buttons to the earlier and the later ones. */
static guint
conversation_index (MailerWindow *self)
{
  gint64 id = self->shown != NULL ? mailer_message_get_id (self->shown) : 0;

  for (guint i = 0; self->conversation != NULL && i < self->conversation->len; i++)
    if (g_array_index (self->conversation, gint64, i) == id)
      return i;
  return G_MAXUINT;
}

static void
update_conversation_bar (MailerWindow *self)
{
  guint index;

  /* Moving within the conversation keeps it; another row reads it anew. */
  if (conversation_index (self) == G_MAXUINT)
    {
      g_clear_pointer (&self->conversation, g_array_unref);
      if (self->list != NULL && mailer_message_list_get_conversations (self->list))
        self->conversation = mailer_message_list_list_conversation (self->list, self->shown);
    }
  index = conversation_index (self);
  if (index == G_MAXUINT || self->conversation->len < 2)
    {
      gtk_widget_set_visible (self->conversation_bar, FALSE);
      return;
    }
  {
    /* Translators: where the open message is in its conversation */
    g_autofree char *where = g_strdup_printf (_("Message %u of %u in this conversation"),
                                              index + 1, self->conversation->len);

    gtk_label_set_label (self->conversation_label, where);
  }
  gtk_widget_set_visible (self->conversation_bar, TRUE);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.conversation-previous", index > 0);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.conversation-next", index + 1 < self->conversation->len);
}

static void show_message (MailerWindow  *self,
                          MailerMessage *message);

static void
conversation_step (MailerWindow *self,
                   int           step)
{
  guint index = conversation_index (self);
  g_autoptr(MailerMessage) message = NULL;

  if (index == G_MAXUINT || (step < 0 && index == 0) || index + step >= self->conversation->len)
    return;
  message = mailer_store_get_message (mailer_session_get_store (self->session),
                                      g_array_index (self->conversation, gint64, index + step), NULL);
  if (message != NULL)
    show_message (self, message);
}

static void
conversation_previous_activated (GtkWidget  *widget,
                                 const char *action_name,
                                 GVariant   *parameter)
{
  conversation_step (MAILER_WINDOW (widget), -1);
}

static void
conversation_next_activated (GtkWidget  *widget,
                             const char *action_name,
                             GVariant   *parameter)
{
  conversation_step (MAILER_WINDOW (widget), 1);
}

static void
show_message (MailerWindow  *self,
              MailerMessage *message)
{
  MailerStore *store = mailer_session_get_store (self->session);
  g_autoptr(GBytes) raw = NULL;
  g_autofree char *date = NULL;
  g_autofree char *from = NULL;
  g_autofree char *to = NULL;
  guint delay;

  g_clear_handle_id (&self->mark_read_id, g_source_remove);
  if (message != self->shown)
    {
      g_cancellable_cancel (self->body_cancellable);
      g_clear_object (&self->body_cancellable);
    }
  g_set_object (&self->shown, message);
  update_actions (self);
  adw_leaflet_set_visible_child_name (self->content_leaflet, message != NULL ? "reader" : "list");
  if (message != NULL)
    adw_leaflet_set_visible_child (self->leaflet, self->content);
  if (message == NULL)
    {
      g_clear_pointer (&self->conversation, g_array_unref);
      gtk_widget_set_visible (self->conversation_bar, FALSE);
      gtk_stack_set_visible_child_name (self->reader_stack, "none");
      return;
    }
  update_conversation_bar (self);

  gtk_label_set_label (self->reader_subject, *mailer_message_get_subject (message)
                                             ? mailer_message_get_subject (message) : _("(No subject)"));
  if (mailer_message_get_sender_address (message) && *mailer_message_get_sender_address (message) &&
      g_strcmp0 (mailer_message_get_sender (message), mailer_message_get_sender_address (message)) != 0)
    from = g_strdup_printf ("%s <%s>", mailer_message_get_sender (message),
                            mailer_message_get_sender_address (message));
  else
    from = g_strdup (mailer_message_get_sender (message));
  gtk_label_set_label (self->reader_from, from ? from : "");
  {
    g_autoptr(GDateTime) when = mailer_message_get_date (message) > 0
                                ? g_date_time_new_from_unix_local (mailer_message_get_date (message)) : NULL;

    date = when ? g_date_time_format (when, "%c") : g_strdup ("");
  }
  gtk_label_set_label (self->reader_date, date);
  /* Translators: the recipients line of an open message */
  to = g_strdup_printf (_("To: %s"), mailer_message_get_recipients (message));
  gtk_label_set_label (self->reader_to, to);
  gtk_stack_set_visible_child_name (self->reader_stack, "message");

  raw = mailer_store_get_raw (store, mailer_message_get_id (message), NULL);
  g_clear_pointer (&self->shown_raw, g_bytes_unref);
  g_clear_pointer (&self->shown_html, g_free);
  gtk_revealer_set_reveal_child (self->remote_banner, FALSE);
  show_attachments (self, NULL);
  gtk_widget_set_visible (GTK_WIDGET (self->reader_cc), FALSE);
  if (raw != NULL)
    {
      g_autoptr(MailerMimeSummary) summary = mailer_mime_parse (raw, NULL);
      const char *text = summary && summary->body_text && *summary->body_text ? summary->body_text : NULL;

      self->shown_raw = g_bytes_ref (raw);
      self->shown_html = mailer_mime_get_html (raw);
      show_attachments (self, summary);
      if (summary != NULL && summary->cc != NULL && *summary->cc)
        {
          /* Translators: the copy recipients line of an open message */
          g_autofree char *cc = g_strdup_printf (_("Cc: %s"), summary->cc);

          gtk_label_set_label (self->reader_cc, cc);
        }
      gtk_widget_set_visible (GTK_WIDGET (self->reader_cc), summary != NULL && summary->cc != NULL && *summary->cc);
      gtk_spinner_stop (self->reader_spinner);
      if (self->shown_html != NULL)
        {
          self->remote_allowed = sender_always_allowed (self);
          load_html (self);
        }
      else
        {
          g_autofree char *markup = mailer_text_to_markup (text ? text : _("This message has no text."));

          gtk_label_set_markup (self->reader_body, markup);
          gtk_stack_set_visible_child_name (self->body_stack, "text");
        }
    }
  else
    {
      MailerAccount *account = account_for_folder (self, mailer_message_get_folder_id (message));

      /* Only the summary is here: fetch the rest (IMAP). */
      gtk_spinner_start (self->reader_spinner);
      gtk_stack_set_visible_child_name (self->body_stack, "loading");
      if (self->body_cancellable == NULL && account != NULL)
        {
          self->body_cancellable = g_cancellable_new ();
          mailer_session_fetch_body_async (self->session, account, mailer_message_get_id (message),
                                           self->body_cancellable, body_fetched_cb, g_object_ref (self));
        }
    }

  if (mailer_message_get_unread (message))
    {
      delay = g_settings_get_uint (self->settings, "auto-mark-read-delay");
      self->mark_read_id = g_timeout_add_seconds (delay, mark_read_cb, self);
    }
}

static void
message_selected_cb (MailerWindow *self)
{
  GtkBitset *selected = gtk_selection_model_get_selection (GTK_SELECTION_MODEL (self->messages_selection));
  guint64 n = gtk_bitset_get_size (selected);

  if (n == 1)
    {
      g_autoptr(MailerMessage) message = g_list_model_get_item (G_LIST_MODEL (self->messages_selection),
                                                               gtk_bitset_get_nth (selected, 0));

      /* Already open (its row changed, say): as it is. */
      if (message != self->shown)
        show_message (self, message);
    }
  else
    {
      g_autofree char *title = NULL;

      /* A window of one message: it was moved away or deleted. */
      if (self->single && self->shown != NULL)
        {
          gtk_window_close (GTK_WINDOW (self));
          gtk_bitset_unref (selected);
          return;
        }
      show_message (self, NULL);
      if (n > 1)
        /* Translators: the reader, while several messages are selected */
        title = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "%u Message Selected", "%u Messages Selected",
                                              (gulong) n), (guint) n);
      adw_status_page_set_title (self->reader_none, title ? title : _("No Message Selected"));
      update_actions (self);
    }
  gtk_bitset_unref (selected);
}

/* The position of the one message selected, or GTK_INVALID_LIST_POSITION. */
static guint
selected_position (MailerWindow *self)
{
  GtkBitset *selected = gtk_selection_model_get_selection (GTK_SELECTION_MODEL (self->messages_selection));
  guint position = gtk_bitset_get_size (selected) == 1 ? gtk_bitset_get_nth (selected, 0)
                                                       : GTK_INVALID_LIST_POSITION;

  gtk_bitset_unref (selected);
  return position;
}

static void
select_position (MailerWindow *self,
                 guint         position)
{
  gtk_selection_model_select_item (GTK_SELECTION_MODEL (self->messages_selection), position, TRUE);
}

/* The message list */

/* Next and previous unread message in the list shown, from the open one
 * (or the top).  Rows are read one by one from the lazy list: as far as
 * the next unread one, at most NEXT_UNREAD_SCAN. */
#define NEXT_UNREAD_SCAN 10000

static void
select_unread (MailerWindow *self,
               int           step)
{
  GListModel *list = self->list ? G_LIST_MODEL (self->list) : NULL;
  guint n = list ? g_list_model_get_n_items (list) : 0;
  guint selected = selected_position (self);
  gint64 position;

  if (n == 0)
    return;
  position = selected == GTK_INVALID_LIST_POSITION ? (step > 0 ? -1 : (gint64) n) : (gint64) selected;
  for (guint scanned = 0; scanned < NEXT_UNREAD_SCAN; scanned++)
    {
      g_autoptr(MailerMessage) message = NULL;

      position += step;
      if (position < 0 || position >= n)
        break;
      message = g_list_model_get_item (list, position);
      if (message != NULL && mailer_message_get_unread (message))
        {
          select_position (self, position);
          gtk_widget_activate_action (GTK_WIDGET (self->messages_view), "list.scroll-to-item", "u",
                                      (guint) position);
          return;
        }
    }
  gtk_widget_error_bell (GTK_WIDGET (self));
}

static void
open_in_window_activated (GtkWidget  *widget,
                          const char *action_name,
                          GVariant   *parameter)
{
  MailerWindow *self = MAILER_WINDOW (widget);
  MailerWindow *window;

  if (self->shown == NULL || self->session == NULL)
    return;
  window = mailer_window_new_for_message (gtk_window_get_application (GTK_WINDOW (self)), self->session,
                                          mailer_message_get_id (self->shown));
  if (window != NULL)
    gtk_window_present (GTK_WINDOW (window));
}

/* Double click or Enter on a row. */
static void
message_activated_cb (MailerWindow *self,
                      guint         position)
{
  if (!self->single)
    gtk_widget_activate_action (GTK_WIDGET (self), "win.open-in-window", NULL);
}

static void
select_all_activated (GtkWidget  *widget,
                      const char *action_name,
                      GVariant   *parameter)
{
  MailerWindow *self = MAILER_WINDOW (widget);

  if (self->list == NULL || g_list_model_get_n_items (G_LIST_MODEL (self->list)) == 0)
    return;
  gtk_selection_model_select_all (GTK_SELECTION_MODEL (self->messages_selection));
  gtk_widget_grab_focus (GTK_WIDGET (self->messages_view));
}

static void
next_unread_activated (GtkWidget  *widget,
                       const char *action_name,
                       GVariant   *parameter)
{
  select_unread (MAILER_WINDOW (widget), 1);
}

static void
previous_unread_activated (GtkWidget  *widget,
                           const char *action_name,
                           GVariant   *parameter)
{
  select_unread (MAILER_WINDOW (widget), -1);
}


static void
update_list_stack (MailerWindow *self)
{
  gboolean empty = self->list == NULL || g_list_model_get_n_items (G_LIST_MODEL (self->list)) == 0;

  gtk_stack_set_visible_child_name (self->list_stack, empty ? "empty" : "list");
}

static void
show_folder (MailerWindow *self,
             MailerFolder *folder)
{
  g_autoptr(GError) error = NULL;
  MailerStore *store = mailer_session_get_store (self->session);
  MailerMessageList *list;

  if (g_settings_get_boolean (self->settings, "conversation-grouping"))
    list = mailer_message_list_new_conversations (store, mailer_folder_get_account_id (folder) == 0
                                                         ? 0 : mailer_folder_get_id (folder), &error);
  else if (mailer_folder_get_account_id (folder) == 0)
    list = mailer_message_list_new_unified_inbox (store, &error);
  else
    list = mailer_message_list_new_for_folder (store, mailer_folder_get_id (folder), &error);
  if (list == NULL)
    {
      g_warning ("Cannot show the folder: %s", error->message);
      return;
    }

  g_set_object (&self->current_folder, folder);
  if (!self->single)
    mailer_session_watch_folder (self->session, mailer_folder_get_id (folder));
  show_list (self, list);
  adw_window_title_set_title (self->content_title, mailer_folder_get_display_name (folder));
  {
    MailerAccount *account = account_for_folder (self, mailer_folder_get_id (folder));

    adw_window_title_set_subtitle (self->content_title,
                                   account ? mailer_account_get_display_name (account) : "");
  }
}

/* Grouping turned on or off: the folder shown, again (not a search). */
static void
conversation_grouping_changed_cb (MailerWindow *self)
{
  if (self->current_folder != NULL && *gtk_editable_get_text (GTK_EDITABLE (self->search_entry)) == '\0')
    show_folder (self, self->current_folder);
}

static void
selection_changed_cb (MailerWindow *self)
{
  GtkTreeListRow *row = gtk_single_selection_get_selected_item (self->selection);
  gpointer item = row ? gtk_tree_list_row_get_item (row) : NULL;

  if (MAILER_IS_FOLDER (item))
    show_folder (self, item);
  else
    {
      show_account (self, item);
      gtk_stack_set_visible_child_name (self->content_stack, "account");
    }
  g_clear_object (&item);
}

static void
accounts_view_activate_cb (MailerWindow *self,
                           guint         position)
{
  adw_leaflet_set_visible_child (self->leaflet, self->content);
}

/* The sidebar */

static GListModel *
create_children_cb (gpointer item,
                    gpointer user_data)
{
  GListModel *children = NULL;

  /* An account's folders may arrive later (its first sync): the tree
   * follows its model as it fills. */
  if (MAILER_IS_ACCOUNT (item))
    return g_object_ref (mailer_account_get_folders (item));
  if (MAILER_IS_FOLDER (item) && mailer_folder_get_account_id (item) != 0)
    children = mailer_folder_get_children (item);
  if (children == NULL || g_list_model_get_n_items (children) == 0)
    return NULL;
  return g_object_ref (children);
}

static void rebuild_roots (MailerWindow *self);
static gboolean folder_drop_cb (GtkDropTarget *target,
                                const GValue  *value,
                                double         x,
                                double         y,
                                gpointer       user_data);
static GdkContentProvider *message_drag_prepare_cb (GtkDragSource *source,
                                                    double         x,
                                                    double         y,
                                                    gpointer       user_data);

static void
rebuild_roots (MailerWindow *self)
{
  GListModel *accounts = mailer_session_get_accounts (self->session);
  g_autoptr(GPtrArray) items = g_ptr_array_new_with_free_func (g_object_unref);
  guint n = g_list_model_get_n_items (accounts);

  g_ptr_array_add (items, g_object_ref (self->unified));
  for (guint i = 0; i < n; i++)
    {
      MailerAccount *account = g_list_model_get_item (accounts, i);

      g_ptr_array_add (items, account);
    }
  /* Only what changed, so the rows (and the selection) of the rest stay. */
  {
    GListModel *model = G_LIST_MODEL (self->roots);
    guint old_n = g_list_model_get_n_items (model);
    guint first = 0, end_old = old_n, end_new = items->len;

    while (first < old_n && first < items->len)
      {
        g_autoptr(GObject) item = g_list_model_get_item (model, first);

        if (item != items->pdata[first])
          break;
        first++;
      }
    while (end_old > first && end_new > first)
      {
        g_autoptr(GObject) item = g_list_model_get_item (model, end_old - 1);

        if (item != items->pdata[end_new - 1])
          break;
        end_old--;
        end_new--;
      }
    if (first != end_old || first != end_new)
      g_list_store_splice (self->roots, first, end_old - first, items->pdata + first, end_new - first);
  }
  update_sidebar (self);
}

static const char *
role_icon (MailerFolderRole role)
{
  switch (role)
    {
    case MAILER_FOLDER_ROLE_INBOX:
      return "mail-unread-symbolic";
    case MAILER_FOLDER_ROLE_SENT:
      return "mail-send-symbolic";
    case MAILER_FOLDER_ROLE_DRAFTS:
      return "document-edit-symbolic";
    case MAILER_FOLDER_ROLE_TRASH:
      return "user-trash-symbolic";
    case MAILER_FOLDER_ROLE_JUNK:
      return "mail-mark-junk-symbolic";
    case MAILER_FOLDER_ROLE_ARCHIVE:
      return "folder-documents-symbolic";
    case MAILER_FOLDER_ROLE_OUTBOX:
      return "mail-send-receive-symbolic";
    case MAILER_FOLDER_ROLE_NONE:
    default:
      return "folder-symbolic";
    }
}

static gboolean
count_to_label (GBinding     *binding,
                const GValue *from,
                GValue       *to,
                gpointer      user_data)
{
  guint count = g_value_get_uint (from);

  g_value_take_string (to, count > 0 ? g_strdup_printf ("%u", count) : g_strdup (""));
  return TRUE;
}

static void
unref_closure_data (gpointer  data,
                    GClosure *closure)
{
  g_object_unref (data);
}

static GtkWidget *
folder_row_new (MailerFolder *folder)
{
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 8);
  GtkWidget *icon = gtk_image_new_from_icon_name (mailer_folder_get_account_id (folder) == 0
                                                  ? "mail-unread-symbolic"
                                                  : role_icon (mailer_folder_get_role (folder)));
  GtkWidget *name = gtk_label_new (mailer_folder_get_display_name (folder));
  GtkWidget *count = gtk_label_new (NULL);

  gtk_label_set_xalign (GTK_LABEL (name), 0);
  gtk_label_set_ellipsize (GTK_LABEL (name), PANGO_ELLIPSIZE_END);
  gtk_widget_set_hexpand (name, TRUE);
  gtk_widget_add_css_class (count, "unread-count");
  gtk_widget_add_css_class (count, "dim-label");
  gtk_box_append (GTK_BOX (box), icon);
  gtk_box_append (GTK_BOX (box), name);
  gtk_box_append (GTK_BOX (box), count);
  g_object_bind_property (folder, "display-name", name, "label", G_BINDING_DEFAULT);
  g_object_bind_property_full (folder, "unread-count", count, "label", G_BINDING_SYNC_CREATE,
                               count_to_label, NULL, NULL, NULL);

  /* Messages dropped here move here; not onto "All Inboxes". */
  if (mailer_folder_get_account_id (folder) != 0)
    {
      GtkDropTarget *target = gtk_drop_target_new (G_TYPE_INT64, GDK_ACTION_MOVE);

      g_signal_connect_data (target, "drop", G_CALLBACK (folder_drop_cb), g_object_ref (folder),
                             unref_closure_data, 0);
      gtk_widget_add_controller (box, GTK_EVENT_CONTROLLER (target));
    }
  return box;
}

static void
setup_row_cb (GtkSignalListItemFactory *factory,
              GtkListItem              *item,
              gpointer                  user_data)
{
  GtkWidget *expander = gtk_tree_expander_new ();

  gtk_tree_expander_set_indent_for_icon (GTK_TREE_EXPANDER (expander), FALSE);
  gtk_list_item_set_child (item, expander);
}

static void
bind_row_cb (GtkSignalListItemFactory *factory,
             GtkListItem              *item,
             gpointer                  user_data)
{
  GtkTreeExpander *expander = GTK_TREE_EXPANDER (gtk_list_item_get_child (item));
  GtkTreeListRow *row = gtk_list_item_get_item (item);
  g_autoptr(GObject) object = gtk_tree_list_row_get_item (row);
  GtkWidget *child;

  gtk_tree_expander_set_list_row (expander, row);
  if (MAILER_IS_ACCOUNT (object))
    {
      child = mailer_account_row_new ();
      mailer_account_row_set_account (MAILER_ACCOUNT_ROW (child), MAILER_ACCOUNT (object));
    }
  else
    child = folder_row_new (MAILER_FOLDER (object));
  gtk_tree_expander_set_child (expander, child);
}

static void
unbind_row_cb (GtkSignalListItemFactory *factory,
               GtkListItem              *item,
               gpointer                  user_data)
{
  GtkTreeExpander *expander = GTK_TREE_EXPANDER (gtk_list_item_get_child (item));

  gtk_tree_expander_set_child (expander, NULL);
  gtk_tree_expander_set_list_row (expander, NULL);
}

/* The context menu of a message: what the header bar offers, for the
 * message under the pointer (which becomes the open one). */
static void
message_row_pressed_cb (GtkGestureClick *gesture,
                        int              n_press,
                        double           x,
                        double           y,
                        gpointer         user_data)
{
  GtkWidget *row = gtk_event_controller_get_widget (GTK_EVENT_CONTROLLER (gesture));
  GtkRoot *root = gtk_widget_get_root (row);
  MailerMessage *message = mailer_message_row_get_message (MAILER_MESSAGE_ROW (row));

  if (!MAILER_IS_WINDOW (root) || message == NULL)
    return;
  gtk_gesture_set_state (GTK_GESTURE (gesture), GTK_EVENT_SEQUENCE_CLAIMED);
  mailer_window_popup_message_menu (MAILER_WINDOW (root), mailer_message_get_id (message), row, x, y);
}

/**
 * mailer_window_popup_message_menu:
 * @row: (nullable): where the menu points, or the list when %NULL
 *
 * Opens message @message_id (in the list shown) and pops its context
 * menu up.  Returns the menu, or %NULL when the message is not listed.
 */
GtkWidget *
mailer_window_popup_message_menu (MailerWindow *self,
                                  gint64        message_id,
                                  GtkWidget    *row,
                                  double        x,
                                  double        y)
{
  g_autoptr(GMenu) menu = g_menu_new ();
  g_autoptr(GMenu) open = g_menu_new ();
  g_autoptr(GMenu) change = g_menu_new ();
  g_autoptr(GMenu) file = g_menu_new ();
  GtkWidget *popover;
  guint position;

  g_return_val_if_fail (MAILER_IS_WINDOW (self), NULL);

  if (self->list == NULL || (position = mailer_message_list_find (self->list, message_id)) == G_MAXUINT)
    return NULL;
  /* On a row of a selection of several: the menu is for all of them. */
  if (!gtk_selection_model_is_selected (GTK_SELECTION_MODEL (self->messages_selection), position))
    select_position (self, position);

  g_menu_append (open, _("Open in New Window"), "win.open-in-window");
  g_menu_append (change, _("Mark as Read or Unread"), "win.toggle-read");
  g_menu_append (change, _("Flag or Unflag"), "win.toggle-flag");
  g_menu_append (file, _("Move to Folder…"), "win.move");
  g_menu_append (file, _("Archive"), "win.archive");
  g_menu_append (file, _("Move to Trash"), "win.delete");
  g_menu_append_section (menu, NULL, G_MENU_MODEL (open));
  g_menu_append_section (menu, NULL, G_MENU_MODEL (change));
  g_menu_append_section (menu, NULL, G_MENU_MODEL (file));

  popover = gtk_popover_menu_new_from_model (G_MENU_MODEL (menu));
  gtk_widget_set_parent (popover, row ? row : GTK_WIDGET (self->messages_view));
  gtk_popover_set_has_arrow (GTK_POPOVER (popover), FALSE);
  if (row != NULL)
    gtk_popover_set_pointing_to (GTK_POPOVER (popover), &(GdkRectangle) { (int) x, (int) y, 1, 1 });
  /* Gone with its row when it closes. */
  g_signal_connect (popover, "closed", G_CALLBACK (gtk_widget_unparent), NULL);
  gtk_popover_popup (GTK_POPOVER (popover));
  return popover;
}

static void
setup_message_cb (GtkSignalListItemFactory *factory,
                  GtkListItem              *item,
                  gpointer                  user_data)
{
  GtkWidget *row = mailer_message_row_new ();
  GtkDragSource *source = gtk_drag_source_new ();

  GtkGesture *click = gtk_gesture_click_new ();

  gtk_drag_source_set_actions (source, GDK_ACTION_MOVE);
  g_signal_connect (source, "prepare", G_CALLBACK (message_drag_prepare_cb), NULL);
  gtk_widget_add_controller (row, GTK_EVENT_CONTROLLER (source));
  /* The context menu: a secondary click on a row. */
  gtk_gesture_single_set_button (GTK_GESTURE_SINGLE (click), GDK_BUTTON_SECONDARY);
  g_signal_connect (click, "pressed", G_CALLBACK (message_row_pressed_cb), NULL);
  gtk_widget_add_controller (row, GTK_EVENT_CONTROLLER (click));
  gtk_list_item_set_child (item, row);
}

static void
bind_message_cb (GtkSignalListItemFactory *factory,
                 GtkListItem              *item,
                 gpointer                  user_data)
{
  MailerWindow *self = user_data;
  MailerMessageRow *row = MAILER_MESSAGE_ROW (gtk_list_item_get_child (item));
  MailerMessage *message = gtk_list_item_get_item (item);

  mailer_message_row_set_message (row, message);
  if (self->list != NULL && mailer_message_list_get_conversations (self->list) && message != NULL)
    {
      guint n, unread;

      mailer_message_list_count_conversation (self->list, message, &n, &unread);
      mailer_message_row_set_conversation (row, n, unread);
    }
}

static void
unbind_message_cb (GtkSignalListItemFactory *factory,
                   GtkListItem              *item,
                   gpointer                  user_data)
{
  mailer_message_row_set_message (MAILER_MESSAGE_ROW (gtk_list_item_get_child (item)), NULL);
}

/* Actions */

/* Narrow, one pane shows at a time: the reader goes back to the list,
 * the list to the sidebar. */
static gboolean
reader_alone (MailerWindow *self)
{
  return adw_leaflet_get_folded (self->content_leaflet) &&
         g_strcmp0 (adw_leaflet_get_visible_child_name (self->content_leaflet), "reader") == 0;
}

/* Narrow (the list and the reader one at a time): the message's actions
 * leave the header bar, which would hold the window wide, for a bar at
 * the bottom. */
static gboolean
update_narrow_cb (gpointer user_data)
{
  MailerWindow *self = user_data;
  /* A window of one message keeps them at the top. */
  gboolean narrow = adw_leaflet_get_folded (self->content_leaflet) && !self->single;

  self->narrow_id = 0;
  gtk_widget_set_visible (self->header_actions, !narrow);
  gtk_action_bar_set_revealed (self->bottom_actions, narrow);
  return G_SOURCE_REMOVE;
}

/* The leaflet folds while the window is being laid out: the header bar
 * changes after that. */
static void
update_narrow (MailerWindow *self)
{
  if (self->narrow_id == 0)
    self->narrow_id = g_idle_add (update_narrow_cb, self);
}

static void
update_back_button (MailerWindow *self)
{
  gtk_widget_set_visible (self->back_button,
                          !self->single && (adw_leaflet_get_folded (self->leaflet) || reader_alone (self)));
}

static void
show_sidebar_activated (GtkWidget  *widget,
                        const char *action_name,
                        GVariant   *parameter)
{
  MailerWindow *self = MAILER_WINDOW (widget);

  if (reader_alone (self))
    adw_leaflet_set_visible_child_name (self->content_leaflet, "list");
  else
    adw_leaflet_set_visible_child (self->leaflet, self->sidebar);
}

static void
refresh_done_cb (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr(GError) error = NULL;

  /* The account's row shows what went wrong. */
  if (mailer_session_sync_account_finish (MAILER_SESSION (source), result, &error) < 0)
    g_debug ("Checking for mail failed: %s", error->message);
}

/**
 * mailer_window_refresh:
 *
 * Checks every account for new mail.
 */
void
mailer_window_refresh (MailerWindow *self)
{
  GListModel *accounts;

  g_return_if_fail (MAILER_IS_WINDOW (self));

  if (self->session == NULL)
    return;
  accounts = mailer_session_get_accounts (self->session);
  for (guint i = 0; i < g_list_model_get_n_items (accounts); i++)
    {
      g_autoptr(MailerAccount) account = g_list_model_get_item (accounts, i);

      if (!mailer_session_is_syncing (self->session, account))
        mailer_session_sync_account_async (self->session, account, NULL, refresh_done_cb, NULL);
    }
}

static void
refresh_activated (GtkWidget  *widget,
                   const char *action_name,
                   GVariant   *parameter)
{
  mailer_window_refresh (MAILER_WINDOW (widget));
}

/* One account, by UUID: the Retry of an account that failed. */
static void
check_account_activated (GtkWidget  *widget,
                         const char *action_name,
                         GVariant   *parameter)
{
  MailerWindow *self = MAILER_WINDOW (widget);
  MailerAccount *account;

  if (self->session == NULL)
    return;
  account = mailer_session_find_account (self->session, g_variant_get_string (parameter, NULL));
  if (account != NULL && !mailer_session_is_syncing (self->session, account))
    mailer_session_sync_account_async (self->session, account, NULL, refresh_done_cb, NULL);
}

/* "Password required": another password, into the keyring, and a check. */

typedef struct
{
  MailerWindow *window;
  MailerAccount *account;
} PasswordSave;

static void
password_saved_cb (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  PasswordSave *save = user_data;
  g_autoptr(MailerWindow) self = save->window;
  g_autoptr(MailerAccount) account = save->account;
  g_autoptr(GError) error = NULL;

  g_free (save);
  if (!mailer_session_set_password_finish (MAILER_SESSION (source), result, &error))
    {
      adw_toast_overlay_add_toast (self->toasts, adw_toast_new (error->message));
      return;
    }
  /* Then the check the user was waiting for. */
  if (!mailer_session_is_syncing (self->session, account))
    mailer_session_sync_account_async (self->session, account, NULL, refresh_done_cb, NULL);
}

static void
password_response_cb (AdwMessageDialog *dialog,
                      const char       *response,
                      MailerWindow     *self)
{
  MailerAccount *account = g_object_get_data (G_OBJECT (dialog), "account");
  GtkEditable *entry = g_object_get_data (G_OBJECT (dialog), "entry");
  g_autofree char *password = g_strdup (gtk_editable_get_text (entry));
  PasswordSave *save;

  gtk_editable_set_text (entry, "");
  if (!g_str_equal (response, "save") || account == NULL || self->session == NULL || *password == '\0')
    return;
  save = g_new0 (PasswordSave, 1);
  save->window = g_object_ref (self);
  save->account = g_object_ref (account);
  mailer_session_set_password_async (self->session, account, password, NULL, password_saved_cb, save);
  memset (password, 0, strlen (password));
}

static void
enter_password_activated (GtkWidget  *widget,
                          const char *action_name,
                          GVariant   *parameter)
{
  MailerWindow *self = MAILER_WINDOW (widget);
  MailerAccount *account;
  GtkWidget *dialog;
  GtkWidget *entry;
  g_autofree char *body = NULL;

  if (self->session == NULL)
    return;
  account = mailer_session_find_account (self->session, g_variant_get_string (parameter, NULL));
  if (account == NULL)
    return;
  /* Translators: %s is an account's name; then its server */
  body = g_strdup_printf (_("%s: the server %s rejected the saved password. Enter the current one; it is kept in the keyring."),
                          mailer_account_get_display_name (account), mailer_account_get_host (account));
  dialog = adw_message_dialog_new (GTK_WINDOW (self), _("Password Required"), body);
  /* A GtkEntry: GTK 4.8's GtkPasswordEntry trips over the dialog's
   * destruction (its caps-lock watch). */
  entry = gtk_entry_new ();
  gtk_entry_set_visibility (GTK_ENTRY (entry), FALSE);
  gtk_entry_set_input_purpose (GTK_ENTRY (entry), GTK_INPUT_PURPOSE_PASSWORD);
  gtk_entry_set_activates_default (GTK_ENTRY (entry), TRUE);
  gtk_widget_set_name (entry, "password-entry");
  adw_message_dialog_set_extra_child (ADW_MESSAGE_DIALOG (dialog), entry);
  adw_message_dialog_add_responses (ADW_MESSAGE_DIALOG (dialog), "cancel", _("_Cancel"), "save", _("_Save"), NULL);
  adw_message_dialog_set_response_appearance (ADW_MESSAGE_DIALOG (dialog), "save", ADW_RESPONSE_SUGGESTED);
  adw_message_dialog_set_default_response (ADW_MESSAGE_DIALOG (dialog), "save");
  g_object_set_data_full (G_OBJECT (dialog), "account", g_object_ref (account), g_object_unref);
  g_object_set_data (G_OBJECT (dialog), "entry", entry);
  g_signal_connect_object (dialog, "response", G_CALLBACK (password_response_cb), self, 0);
  gtk_window_present (GTK_WINDOW (dialog));
}

/* "Certificate not trusted" (or changed): look at it, and trust it or not. */

typedef struct
{
  MailerWindow *window;
  MailerAccount *account;
  char *fingerprint;
} TrustData;

static void
trust_data_free (TrustData *data)
{
  g_clear_object (&data->window);
  g_clear_object (&data->account);
  g_free (data->fingerprint);
  g_free (data);
}

static void
trusted_cb (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  TrustData *data = user_data;
  g_autoptr(GError) error = NULL;

  if (!mailer_session_trust_certificate_finish (MAILER_SESSION (source), result, &error))
    adw_toast_overlay_add_toast (data->window->toasts, adw_toast_new (error->message));
  else if (!mailer_session_is_syncing (data->window->session, data->account))
    mailer_session_sync_account_async (data->window->session, data->account, NULL, refresh_done_cb, NULL);
  trust_data_free (data);
}

static void
trust_response_cb (AdwMessageDialog *dialog,
                   const char       *response,
                   TrustData        *data)
{
  if (g_str_equal (response, "trust") && data->window->session != NULL)
    {
      TrustData *again = g_new0 (TrustData, 1);

      again->window = g_object_ref (data->window);
      again->account = g_object_ref (data->account);
      mailer_session_trust_certificate_async (data->window->session, data->account, data->fingerprint, NULL,
                                              trusted_cb, again);
    }
}

static void
certificate_checked_cb (GObject      *source,
                        GAsyncResult *result,
                        gpointer      user_data)
{
  TrustData *data = user_data;
  g_autoptr(GTlsCertificate) certificate = NULL;
  g_autoptr(GError) error = NULL;
  GTlsCertificateFlags errors = 0;
  g_autofree char *details = NULL;
  g_autofree char *heading = NULL;
  const char *pinned = mailer_account_get_pinned_certificate (data->account);
  GtkWidget *dialog;

  mailer_account_check_finish (result, &certificate, &errors, &error);
  if (certificate == NULL || error == NULL || !mailer_setup_error_needs_trust (error))
    {
      /* Trusted by now (or not reachable): a check says which. */
      mailer_account_set_needs_trust (data->account, FALSE);
      if (!mailer_session_is_syncing (data->window->session, data->account))
        mailer_session_sync_account_async (data->window->session, data->account, NULL, refresh_done_cb, NULL);
      trust_data_free (data);
      return;
    }
  data->fingerprint = mailer_certificate_fingerprint (certificate);
  details = mailer_describe_certificate (certificate, errors);
  if (pinned != NULL && *pinned != '\0')
    /* Translators: %s is a server's name */
    heading = g_strdup_printf (_("The Certificate of %s Changed"), mailer_account_get_host (data->account));
  else
    /* Translators: %s is a server's name */
    heading = g_strdup_printf (_("The Certificate of %s Is Not Trusted"), mailer_account_get_host (data->account));
  dialog = adw_message_dialog_new (GTK_WINDOW (data->window), heading, details);
  gtk_widget_set_name (dialog, "certificate-dialog");
  adw_message_dialog_add_responses (ADW_MESSAGE_DIALOG (dialog), "cancel", _("_Cancel"),
                                    "trust", _("_Trust This Certificate"), NULL);
  adw_message_dialog_set_response_appearance (ADW_MESSAGE_DIALOG (dialog), "trust", ADW_RESPONSE_DESTRUCTIVE);
  adw_message_dialog_set_default_response (ADW_MESSAGE_DIALOG (dialog), "cancel");
  g_signal_connect_data (dialog, "response", G_CALLBACK (trust_response_cb), data,
                         (GClosureNotify) (void (*) (void)) trust_data_free, 0);
  gtk_window_present (GTK_WINDOW (dialog));
}

static void
review_certificate_activated (GtkWidget  *widget,
                              const char *action_name,
                              GVariant   *parameter)
{
  MailerWindow *self = MAILER_WINDOW (widget);
  MailerAccount *account;
  TrustData *data;

  if (self->session == NULL)
    return;
  account = mailer_session_find_account (self->session, g_variant_get_string (parameter, NULL));
  if (account == NULL)
    return;
  data = g_new0 (TrustData, 1);
  data->window = g_object_ref (self);
  data->account = g_object_ref (account);
  /* The certificate the server shows now: a connection, no login. */
  mailer_account_check_async (account, NULL, NULL, certificate_checked_cb, data);
}

/* Message actions */

/* The messages the actions apply to: the rows selected (several, with
 * Ctrl or Shift, or all), or the one open. */
static GPtrArray *
targets (MailerWindow *self)
{
  GPtrArray *messages = g_ptr_array_new_with_free_func (g_object_unref);
  GtkBitset *selected = gtk_selection_model_get_selection (GTK_SELECTION_MODEL (self->messages_selection));

  if (gtk_bitset_get_size (selected) > 1)
    {
      GtkBitsetIter iter;
      guint position;

      for (gboolean more = gtk_bitset_iter_init_first (&iter, selected, &position); more;
           more = gtk_bitset_iter_next (&iter, &position))
        {
          MailerMessage *message = g_list_model_get_item (G_LIST_MODEL (self->messages_selection), position);

          if (message != NULL)
            g_ptr_array_add (messages, message);
        }
    }
  else if (gtk_bitset_get_size (selected) == 1 && self->list != NULL &&
           mailer_message_list_get_conversations (self->list))
    {
      MailerMessage *message = g_list_model_get_item (G_LIST_MODEL (self->messages_selection),
                                                      gtk_bitset_get_nth (selected, 0));

      if (message != NULL)
        g_ptr_array_add (messages, message);
    }
  else if (self->shown != NULL)
    g_ptr_array_add (messages, g_object_ref (self->shown));
  gtk_bitset_unref (selected);

  /* A row of a list of conversations stands for all of its messages. */
  if (self->list != NULL && mailer_message_list_get_conversations (self->list))
    {
      GPtrArray *all = g_ptr_array_new_with_free_func (g_object_unref);
      MailerStore *store = mailer_session_get_store (self->session);

      for (guint i = 0; i < messages->len; i++)
        {
          g_autoptr(GArray) ids = mailer_message_list_list_conversation (self->list, messages->pdata[i]);

          for (guint j = 0; j < ids->len; j++)
            {
              MailerMessage *member = mailer_store_get_message (store, g_array_index (ids, gint64, j), NULL);

              if (member != NULL)
                g_ptr_array_add (all, member);
            }
        }
      g_ptr_array_unref (messages);
      messages = all;
    }
  return messages;
}

/* Changes to IMAP mail go to the server too; POP3 mail is local. */
static gboolean
folder_journalled (MailerWindow *self,
                   gint64        folder_id)
{
  MailerAccount *account = account_for_folder (self, folder_id);

  return account != NULL && mailer_account_get_kind (account) == MAILER_ACCOUNT_KIND_IMAP;
}

static void
change_done_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr(MailerWindow) self = user_data;
  g_autoptr(GError) error = NULL;

  /* Every change ends in a boolean task; a failure is said in a toast. */
  if (!g_task_propagate_boolean (G_TASK (result), &error))
    {
      adw_toast_overlay_add_toast (self->toasts, adw_toast_new (error->message));
    }
}

/* Sets or clears @flag on @messages: IMAP ones through the journal, the
 * others only here. */
static void
set_flag (MailerWindow       *self,
          GPtrArray          *messages,
          MailerMessageFlags  flag,
          gboolean            on)
{
  g_autoptr(GArray) imap = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_autoptr(GArray) local = g_array_new (FALSE, FALSE, sizeof (gint64));
  MailerStore *store = mailer_session_get_store (self->session);

  for (guint i = 0; i < messages->len; i++)
    {
      gint64 id = mailer_message_get_id (messages->pdata[i]);

      g_array_append_val (folder_journalled (self, mailer_message_get_folder_id (messages->pdata[i])) ? imap : local,
                          id);
    }
  if (imap->len > 0)
    mailer_store_set_flags_async (store, imap, on ? flag : 0, on ? 0 : flag, TRUE, NULL,
                                  change_done_cb, g_object_ref (self));
  if (local->len > 0)
    mailer_store_set_flags_async (store, local, on ? flag : 0, on ? 0 : flag, FALSE, NULL,
                                  change_done_cb, g_object_ref (self));
}

static void
toggle_read_activated (GtkWidget  *widget,
                       const char *action_name,
                       GVariant   *parameter)
{
  MailerWindow *self = MAILER_WINDOW (widget);
  g_autoptr(GPtrArray) messages = targets (self);
  gboolean any_unread = FALSE;

  if (messages->len == 0)
    return;
  g_clear_handle_id (&self->mark_read_id, g_source_remove);
  /* Any unread among them: all read; otherwise all unread. */
  for (guint i = 0; i < messages->len; i++)
    any_unread |= mailer_message_get_unread (messages->pdata[i]);
  set_flag (self, messages, MAILER_MESSAGE_FLAG_SEEN, any_unread);
}

static void
toggle_flag_activated (GtkWidget  *widget,
                       const char *action_name,
                       GVariant   *parameter)
{
  MailerWindow *self = MAILER_WINDOW (widget);
  g_autoptr(GPtrArray) messages = targets (self);
  gboolean any_unflagged = FALSE;

  for (guint i = 0; i < messages->len; i++)
    any_unflagged |= !mailer_message_get_flagged (messages->pdata[i]);
  if (messages->len > 0)
    set_flag (self, messages, MAILER_MESSAGE_FLAG_FLAGGED, any_unflagged);
}

static gint64
folder_with_role (MailerWindow     *self,
                  gint64            account_id,
                  MailerFolderRole  role)
{
  g_autoptr(GPtrArray) folders = mailer_store_list_folders (mailer_session_get_store (self->session),
                                                            account_id, NULL);

  for (guint i = 0; folders != NULL && i < folders->len; i++)
    if (mailer_folder_get_role (folders->pdata[i]) == role)
      return mailer_folder_get_id (folders->pdata[i]);
  return 0;
}

/* Messages of one folder, moved together. */
typedef struct
{
  GArray *ids;
  gint64 from;
  gboolean journal;
} MoveGroup;

static void
move_group_free (MoveGroup *group)
{
  if (group == NULL)    /* taken by move_groups () */
    return;
  g_array_unref (group->ids);
  g_free (group);
}

/* @messages by folder, in the order met. */
static GPtrArray *
group_by_folder (MailerWindow *self,
                 GPtrArray    *messages)
{
  GPtrArray *groups = g_ptr_array_new_with_free_func ((GDestroyNotify) move_group_free);

  for (guint i = 0; i < messages->len; i++)
    {
      gint64 folder = mailer_message_get_folder_id (messages->pdata[i]);
      gint64 id = mailer_message_get_id (messages->pdata[i]);
      MoveGroup *group = NULL;

      for (guint j = 0; j < groups->len && group == NULL; j++)
        if (((MoveGroup *) groups->pdata[j])->from == folder)
          group = groups->pdata[j];
      if (group == NULL)
        {
          group = g_new0 (MoveGroup, 1);
          group->ids = g_array_new (FALSE, FALSE, sizeof (gint64));
          group->from = folder;
          group->journal = folder_journalled (self, folder);
          g_ptr_array_add (groups, group);
        }
      g_array_append_val (group->ids, id);
    }
  return groups;
}

/* What the Undo of the last move puts back: each group to its folder. */
struct _UndoMove
{
  GPtrArray *groups;    /* MoveGroup */
};

static void
undo_move_free (UndoMove *undo)
{
  g_ptr_array_unref (undo->groups);
  g_free (undo);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (UndoMove, undo_move_free)

static void
undo_clicked_cb (AdwToast     *toast,
                 MailerWindow *self)
{
  g_autoptr(UndoMove) undo = g_steal_pointer (&self->undo);

  /* This toast goes now: the next move gets one of its own. */
  if (toast == self->undo_toast)
    {
      g_object_remove_weak_pointer (G_OBJECT (self->undo_toast), (gpointer *) &self->undo_toast);
      self->undo_toast = NULL;
    }
  if (undo == NULL || self->session == NULL)
    return;
  for (guint i = 0; i < undo->groups->len; i++)
    {
      MoveGroup *group = undo->groups->pdata[i];

      mailer_store_move_messages_async (mailer_session_get_store (self->session), group->ids,
                                        group->from, group->journal, NULL, NULL, NULL);
    }
}

static void
undo_dismissed_cb (AdwToast     *toast,
                   MailerWindow *self)
{
  if (toast != self->undo_toast)
    return;
  g_clear_pointer (&self->undo, undo_move_free);
  /* On its way out: the next move gets a toast of its own. */
  g_object_remove_weak_pointer (G_OBJECT (self->undo_toast), (gpointer *) &self->undo_toast);
  self->undo_toast = NULL;
}

/* The toast of a move, with its Undo (of @undo, taken). */
static void
offer_undo (MailerWindow *self,
            UndoMove     *undo,
            const char   *done_message)
{
  g_clear_pointer (&self->undo, undo_move_free);
  self->undo = undo;

  /* Only the last move can be undone.  While its toast shows, it is
   * reused, so that an older one never waits in the queue to offer an
   * Undo that is no longer there. */
  if (self->undo_toast != NULL)
    {
      adw_toast_set_title (self->undo_toast, done_message);
      return;
    }
  self->undo_toast = adw_toast_new (done_message);
  g_object_add_weak_pointer (G_OBJECT (self->undo_toast), (gpointer *) &self->undo_toast);
  adw_toast_set_button_label (self->undo_toast, _("_Undo"));
  g_signal_connect_object (self->undo_toast, "button-clicked", G_CALLBACK (undo_clicked_cb), self, 0);
  g_signal_connect_object (self->undo_toast, "dismissed", G_CALLBACK (undo_dismissed_cb), self, 0);
  adw_toast_overlay_add_toast (self->toasts, self->undo_toast);
}

/* Moves each group to the folder @dest_for gives it (0: it stays there).
 * Returns: what Undo puts back, or %NULL when nothing moved */
typedef gint64 (*DestFunc) (MailerWindow *self,
                            MoveGroup    *group,
                            gpointer      user_data);

static UndoMove *
move_groups (MailerWindow *self,
             GPtrArray    *groups,
             DestFunc      dest_for,
             gpointer      user_data,
             guint        *moved_out)
{
  UndoMove *undo = g_new0 (UndoMove, 1);
  guint moved = 0;

  undo->groups = g_ptr_array_new_with_free_func ((GDestroyNotify) move_group_free);
  for (guint i = 0; i < groups->len; i++)
    {
      MoveGroup *group = groups->pdata[i];
      gint64 dest = dest_for (self, group, user_data);

      if (dest == 0 || dest == group->from)
        continue;
      mailer_store_move_messages_async (mailer_session_get_store (self->session), group->ids, dest,
                                        group->journal, NULL, change_done_cb, g_object_ref (self));
      moved += group->ids->len;
      g_ptr_array_add (undo->groups, g_steal_pointer (&groups->pdata[i]));
    }
  *moved_out = moved;
  if (moved == 0)
    g_clear_pointer (&undo, undo_move_free);
  return undo;
}

static gint64
dest_folder (MailerWindow *self,
             MoveGroup    *group,
             gpointer      user_data)
{
  MailerFolder *folder = user_data;

  /* Within an account only. */
  if (account_for_folder (self, group->from) != account_for_folder (self, mailer_folder_get_id (folder)))
    return 0;
  return mailer_folder_get_id (folder);
}

/* Moves @messages into @folder, those that may go there: of the same
 * account, not in it already. */
static gboolean
move_to_folder (MailerWindow *self,
                GPtrArray    *messages,
                MailerFolder *folder)
{
  g_autoptr(GPtrArray) groups = NULL;
  g_autofree char *done = NULL;
  const char *name;
  UndoMove *undo;
  guint moved;

  if (self->session == NULL || folder == NULL || mailer_folder_get_account_id (folder) == 0)
    return FALSE;
  groups = group_by_folder (self, messages);
  undo = move_groups (self, groups, dest_folder, folder, &moved);
  if (undo == NULL)
    return FALSE;
  name = mailer_folder_get_display_name (folder);
  if (moved == 1)
    /* Translators: %s is a folder name */
    done = g_strdup_printf (_("Message moved to “%s”"), name);
  else
    /* Translators: %u is a number of messages, %s a folder name */
    done = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "%u message moved to “%s”",
                                         "%u messages moved to “%s”", moved), moved, name);
  offer_undo (self, undo, done);
  return TRUE;
}

static void
move_to_activated (GtkWidget  *widget,
                   const char *action_name,
                   GVariant   *parameter)
{
  MailerWindow *self = MAILER_WINDOW (widget);
  g_autoptr(GPtrArray) messages = targets (self);

  if (messages->len == 0 || self->session == NULL)
    return;
  move_to_folder (self, messages, mailer_session_get_folder (self->session, g_variant_get_int64 (parameter)));
}

static void
move_activated (GtkWidget  *widget,
                const char *action_name,
                GVariant   *parameter)
{
  MailerWindow *self = MAILER_WINDOW (widget);
  g_autoptr(GPtrArray) messages = targets (self);

  if (messages->len > 0)
    gtk_menu_button_popup (gtk_widget_get_visible (self->header_actions) ? self->move_button
                                                                         : self->bottom_move_button);
}

/* The "Move to" menu: the other folders of the account of the messages
 * (the first one's), the special ones first, as the sidebar lists them. */
static void
build_move_menu (GtkMenuButton *button,
                 gpointer       user_data)
{
  MailerWindow *self = user_data;
  g_autoptr(GMenu) menu = g_menu_new ();
  g_autoptr(GMenu) special = g_menu_new ();
  g_autoptr(GMenu) others = g_menu_new ();
  g_autoptr(GPtrArray) folders = NULL;
  g_autoptr(GPtrArray) messages = targets (self);
  MailerAccount *account = NULL;
  gint64 from = 0;

  if (messages->len > 0)
    {
      from = mailer_message_get_folder_id (messages->pdata[0]);
      account = account_for_folder (self, from);
    }
  if (account != NULL)
    folders = mailer_store_list_folders (mailer_session_get_store (self->session),
                                         mailer_account_get_id (account), NULL);
  for (guint i = 0; folders != NULL && i < folders->len; i++)
    {
      MailerFolder *folder = folders->pdata[i];
      g_autoptr(GMenuItem) item = NULL;

      if (mailer_folder_get_id (folder) == from && messages->len == 1)
        continue;
      item = g_menu_item_new (mailer_folder_get_display_name (folder), NULL);
      g_menu_item_set_action_and_target_value (item, "win.move-to",
                                               g_variant_new_int64 (mailer_folder_get_id (folder)));
      g_menu_append_item (mailer_folder_get_role (folder) != MAILER_FOLDER_ROLE_NONE ? special : others,
                          item);
    }
  g_menu_append_section (menu, NULL, G_MENU_MODEL (special));
  g_menu_append_section (menu, NULL, G_MENU_MODEL (others));
  gtk_menu_button_set_menu_model (button, G_MENU_MODEL (menu));
}

/* Drag and drop: a message row onto a folder in the sidebar; a row of a
 * selection of several takes them all. */

static GdkContentProvider *
message_drag_prepare_cb (GtkDragSource *source,
                         double         x,
                         double         y,
                         gpointer       user_data)
{
  GtkWidget *row = gtk_event_controller_get_widget (GTK_EVENT_CONTROLLER (source));
  MailerMessage *message = mailer_message_row_get_message (MAILER_MESSAGE_ROW (row));

  if (message == NULL)
    return NULL;
  return gdk_content_provider_new_typed (G_TYPE_INT64, mailer_message_get_id (message));
}

static gboolean
folder_drop_cb (GtkDropTarget *target,
                const GValue  *value,
                double         x,
                double         y,
                gpointer       user_data)
{
  MailerFolder *folder = user_data;
  GtkWidget *row = gtk_event_controller_get_widget (GTK_EVENT_CONTROLLER (target));
  GtkRoot *root = gtk_widget_get_root (row);
  MailerWindow *self;
  g_autoptr(GPtrArray) messages = NULL;
  gint64 id;
  gboolean in_selection = FALSE;

  if (!MAILER_IS_WINDOW (root) || !G_VALUE_HOLDS_INT64 (value))
    return FALSE;
  self = MAILER_WINDOW (root);
  id = g_value_get_int64 (value);
  messages = targets (self);
  for (guint i = 0; i < messages->len && !in_selection; i++)
    in_selection = mailer_message_get_id (messages->pdata[i]) == id;
  if (!in_selection)
    {
      MailerMessage *message = self->session ? mailer_store_get_message (mailer_session_get_store (self->session),
                                                                        id, NULL) : NULL;

      if (message == NULL)
        return FALSE;
      g_ptr_array_set_size (messages, 0);
      g_ptr_array_add (messages, message);
    }
  return move_to_folder (self, messages, folder);
}

/* Trash and Archive: each account's own. */

typedef struct
{
  MailerFolderRole role;
} RoleDest;

static gint64
dest_with_role (MailerWindow *self,
                MoveGroup    *group,
                gpointer      user_data)
{
  RoleDest *dest = user_data;
  MailerAccount *account = account_for_folder (self, group->from);

  return account != NULL ? folder_with_role (self, mailer_account_get_id (account), dest->role) : 0;
}

static void delete_targets (MailerWindow *self, GPtrArray *messages);

static void
trash_saved_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr(MailerWindow) self = user_data;
  g_autoptr(GPtrArray) messages = g_object_steal_data (G_OBJECT (self), "trash-pending");
  g_autoptr(GError) error = NULL;

  if (!mailer_store_save_folder_finish (MAILER_STORE (source), result, &error))
    {
      adw_toast_overlay_add_toast (self->toasts, adw_toast_new (error->message));
      return;
    }
  if (messages != NULL)
    delete_targets (self, messages);
}

static void
delete_targets (MailerWindow *self,
                GPtrArray    *messages)
{
  g_autoptr(GPtrArray) groups = group_by_folder (self, messages);
  g_autoptr(GArray) for_good = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_autoptr(GArray) for_good_local = g_array_new (FALSE, FALSE, sizeof (gint64));
  RoleDest dest = { MAILER_FOLDER_ROLE_TRASH };
  guint deleted;

  for (guint i = 0; i < groups->len; i++)
    {
      MoveGroup *group = groups->pdata[i];
      MailerAccount *account = account_for_folder (self, group->from);
      gint64 trash = account ? folder_with_role (self, mailer_account_get_id (account), MAILER_FOLDER_ROLE_TRASH) : 0;

      if (account != NULL && trash == 0)
        {
          /* A POP3 account keeps its Trash here; make it the first time,
           * then delete again. */
          MailerFolder *folder = mailer_folder_new (mailer_account_get_id (account), "Trash");

          mailer_folder_set_role (folder, MAILER_FOLDER_ROLE_TRASH);
          g_object_set_data_full (G_OBJECT (self), "trash-pending", g_ptr_array_ref (messages),
                                  (GDestroyNotify) g_ptr_array_unref);
          mailer_store_save_folder_async (mailer_session_get_store (self->session), folder, NULL,
                                          trash_saved_cb, g_object_ref (self));
          g_object_unref (folder);
          return;
        }
      /* Deleting from the Trash is for good. */
      if (trash == group->from)
        g_array_append_vals (group->journal ? for_good : for_good_local, group->ids->data, group->ids->len);
    }

  deleted = for_good->len + for_good_local->len;
  if (for_good->len > 0)
    mailer_store_delete_messages_async (mailer_session_get_store (self->session), for_good,
                                        TRUE, NULL, change_done_cb, g_object_ref (self));
  if (for_good_local->len > 0)
    mailer_store_delete_messages_async (mailer_session_get_store (self->session), for_good_local,
                                        TRUE, NULL, change_done_cb, g_object_ref (self));
  if (deleted > 0)
    {
      g_autofree char *done = deleted == 1 ? g_strdup (_("Message deleted"))
                                           /* Translators: %u is a number of messages */
                                           : g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "%u message deleted",
                                                                           "%u messages deleted", deleted),
                                                              deleted);

      adw_toast_overlay_add_toast (self->toasts, adw_toast_new (done));
    }
  {
    guint moved;
    UndoMove *undo = move_groups (self, groups, dest_with_role, &dest, &moved);
    g_autofree char *done = NULL;

    if (undo == NULL)
      return;
    if (moved == 1)
      done = g_strdup (_("Message moved to Trash"));
    else
      /* Translators: %u is a number of messages */
      done = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "%u message moved to Trash",
                                           "%u messages moved to Trash", moved), moved);
    offer_undo (self, undo, done);
  }
}

static void
delete_activated (GtkWidget  *widget,
                  const char *action_name,
                  GVariant   *parameter)
{
  MailerWindow *self = MAILER_WINDOW (widget);
  g_autoptr(GPtrArray) messages = targets (self);

  if (messages->len > 0)
    delete_targets (self, messages);
}

static void
archive_activated (GtkWidget  *widget,
                   const char *action_name,
                   GVariant   *parameter)
{
  MailerWindow *self = MAILER_WINDOW (widget);
  g_autoptr(GPtrArray) messages = targets (self);
  g_autoptr(GPtrArray) groups = NULL;
  g_autofree char *done = NULL;
  RoleDest dest = { MAILER_FOLDER_ROLE_ARCHIVE };
  UndoMove *undo;
  guint moved;

  if (messages->len == 0)
    return;
  groups = group_by_folder (self, messages);
  undo = move_groups (self, groups, dest_with_role, &dest, &moved);
  if (undo == NULL)
    {
      adw_toast_overlay_add_toast (self->toasts, adw_toast_new (_("This account has no Archive folder")));
      return;
    }
  if (moved == 1)
    done = g_strdup (_("Message archived"));
  else
    /* Translators: %u is a number of messages */
    done = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "%u message archived", "%u messages archived", moved),
                            moved);
  offer_undo (self, undo, done);
}

static void
update_actions (MailerWindow *self)
{
  GtkBitset *selected = gtk_selection_model_get_selection (GTK_SELECTION_MODEL (self->messages_selection));
  gboolean any = self->shown != NULL || gtk_bitset_get_size (selected) > 1;

  gtk_bitset_unref (selected);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.toggle-read", any);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.toggle-flag", any);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.delete", any);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.archive", any);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.move", any);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.move-to", any);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.open-in-window", self->shown != NULL && !self->single);
  gtk_widget_set_sensitive (GTK_WIDGET (self->move_button), any);
  gtk_widget_set_sensitive (GTK_WIDGET (self->bottom_move_button), any);
}

/* Search */

static void
show_list (MailerWindow      *self,
           MailerMessageList *list)
{
  if (self->list != NULL)
    g_signal_handlers_disconnect_by_data (self->list, self);
  g_clear_object (&self->list);
  self->list = list;
  g_signal_connect_swapped (list, "items-changed", G_CALLBACK (update_list_stack), self);
  /* Given a new list in place of the old one, the selection model looks
   * for the selected item, and the list view for rows it could keep, item
   * by item through the new list: every row of a large folder would be
   * loaded (GTK 4.8).  Emptied first, neither looks for anything. */
  gtk_multi_selection_set_model (self->messages_selection, NULL);
  gtk_multi_selection_set_model (self->messages_selection, G_LIST_MODEL (list));
  update_list_stack (self);
  show_message (self, NULL);
  gtk_stack_set_visible_child_name (self->content_stack, "messages");
}

static void
search_changed_cb (MailerWindow *self)
{
  const char *text = gtk_editable_get_text (GTK_EDITABLE (self->search_entry));
  g_autoptr(GError) error = NULL;
  MailerMessageList *list;
  g_autofree char *trimmed = g_strstrip (g_strdup (text ? text : ""));

  if (self->session == NULL)
    return;
  if (*trimmed == '\0')
    {
      if (self->current_folder != NULL)
        show_folder (self, self->current_folder);
      return;
    }
  list = mailer_message_list_new_search (mailer_session_get_store (self->session), text, 0, &error);
  if (list == NULL)
    return;
  show_list (self, list);
  /* Translators: the title while searching */
  adw_window_title_set_title (self->content_title, _("Search"));
  adw_window_title_set_subtitle (self->content_title, _("All accounts"));
}

static void
search_activated (GtkWidget  *widget,
                  const char *action_name,
                  GVariant   *parameter)
{
  MailerWindow *self = MAILER_WINDOW (widget);

  gtk_toggle_button_set_active (self->search_button, TRUE);
  gtk_widget_grab_focus (GTK_WIDGET (self->search_entry));
}

static void
mailer_window_dispose (GObject *object)
{
  MailerWindow *self = (MailerWindow *)object;

  g_clear_handle_id (&self->narrow_id, g_source_remove);
  g_clear_weak_pointer (&self->undo_toast);
  g_clear_pointer (&self->shown_raw, g_bytes_unref);
  g_clear_pointer (&self->shown_html, g_free);
  g_clear_pointer (&self->attachments, g_ptr_array_unref);
  g_clear_pointer (&self->undo, undo_move_free);
  g_clear_handle_id (&self->mark_read_id, g_source_remove);
  if (self->body_cancellable != NULL)
    g_cancellable_cancel (self->body_cancellable);
  g_clear_object (&self->body_cancellable);
  if (self->session != NULL)
    g_signal_handlers_disconnect_by_data (mailer_session_get_accounts (self->session), self);
  if (self->list != NULL)
    g_signal_handlers_disconnect_by_data (self->list, self);

  gtk_widget_dispose_template (GTK_WIDGET (self), MAILER_TYPE_WINDOW);

  g_clear_object (&self->shown);
  g_clear_pointer (&self->conversation, g_array_unref);
  g_clear_object (&self->current_folder);
  g_clear_object (&self->messages_selection);
  g_clear_object (&self->list);
  g_clear_object (&self->selection);
  g_clear_object (&self->tree);
  g_clear_object (&self->roots);
  g_clear_object (&self->unified);
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
  gtk_widget_class_bind_template_child (widget_class, MailerWindow, content_leaflet);
  gtk_widget_class_bind_template_child (widget_class, MailerWindow, back_button);
  gtk_widget_class_bind_template_child (widget_class, MailerWindow, sidebar);
  gtk_widget_class_bind_template_child (widget_class, MailerWindow, content);
  gtk_widget_class_bind_template_child (widget_class, MailerWindow, sidebar_stack);
  gtk_widget_class_bind_template_child (widget_class, MailerWindow, accounts_view);
  gtk_widget_class_bind_template_child (widget_class, MailerWindow, error_page);
  gtk_widget_class_bind_template_child (widget_class, MailerWindow, account_page);
  gtk_widget_class_bind_template_child (widget_class, MailerWindow, content_title);
  gtk_widget_class_bind_template_child (widget_class, MailerWindow, account_explanation);
  gtk_widget_class_bind_template_child (widget_class, MailerWindow, content_stack);
  gtk_widget_class_bind_template_child (widget_class, MailerWindow, list_stack);
  gtk_widget_class_bind_template_child (widget_class, MailerWindow, messages_view);
  gtk_widget_class_bind_template_child (widget_class, MailerWindow, reader_stack);
  gtk_widget_class_bind_template_child (widget_class, MailerWindow, reader_subject);
  gtk_widget_class_bind_template_child (widget_class, MailerWindow, reader_from);
  gtk_widget_class_bind_template_child (widget_class, MailerWindow, reader_date);
  gtk_widget_class_bind_template_child (widget_class, MailerWindow, reader_to);
  gtk_widget_class_bind_template_child (widget_class, MailerWindow, reader_cc);
  gtk_widget_class_bind_template_child (widget_class, MailerWindow, body_stack);
  gtk_widget_class_bind_template_child (widget_class, MailerWindow, reader_body);
  gtk_widget_class_bind_template_child (widget_class, MailerWindow, reader_none);
  gtk_widget_class_bind_template_child (widget_class, MailerWindow, conversation_bar);
  gtk_widget_class_bind_template_child (widget_class, MailerWindow, conversation_label);
  gtk_widget_class_bind_template_child (widget_class, MailerWindow, reader_spinner);
  gtk_widget_class_bind_template_child (widget_class, MailerWindow, reader_unavailable);
  gtk_widget_class_bind_template_child (widget_class, MailerWindow, toasts);
  gtk_widget_class_bind_template_child (widget_class, MailerWindow, search_bar);
  gtk_widget_class_bind_template_child (widget_class, MailerWindow, search_entry);
  gtk_widget_class_bind_template_child (widget_class, MailerWindow, search_button);
  gtk_widget_class_bind_template_child (widget_class, MailerWindow, move_button);
  gtk_widget_class_bind_template_child (widget_class, MailerWindow, header_actions);
  gtk_widget_class_bind_template_child (widget_class, MailerWindow, bottom_actions);
  gtk_widget_class_bind_template_child (widget_class, MailerWindow, bottom_move_button);
  gtk_widget_class_bind_template_child (widget_class, MailerWindow, offline_banner);
  gtk_widget_class_bind_template_child (widget_class, MailerWindow, remote_banner);
  gtk_widget_class_bind_template_child (widget_class, MailerWindow, attachments_box);

  gtk_widget_class_install_action (widget_class, "win.show-sidebar", NULL, show_sidebar_activated);
  gtk_widget_class_install_action (widget_class, "win.refresh", NULL, refresh_activated);
  gtk_widget_class_install_action (widget_class, "win.check-account", "s", check_account_activated);
  gtk_widget_class_install_action (widget_class, "win.enter-password", "s", enter_password_activated);
  gtk_widget_class_install_action (widget_class, "win.review-certificate", "s", review_certificate_activated);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_F5, 0, "win.refresh", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_r, GDK_CONTROL_MASK, "win.refresh", NULL);
  gtk_widget_class_install_action (widget_class, "win.toggle-read", NULL, toggle_read_activated);
  gtk_widget_class_install_action (widget_class, "win.toggle-flag", NULL, toggle_flag_activated);
  gtk_widget_class_install_action (widget_class, "win.delete", NULL, delete_activated);
  gtk_widget_class_install_action (widget_class, "win.archive", NULL, archive_activated);
  gtk_widget_class_install_action (widget_class, "win.search", NULL, search_activated);
  gtk_widget_class_install_action (widget_class, "win.move", NULL, move_activated);
  gtk_widget_class_install_action (widget_class, "win.select-all", NULL, select_all_activated);
  gtk_widget_class_install_action (widget_class, "win.open-in-window", NULL, open_in_window_activated);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_o, GDK_CONTROL_MASK | GDK_SHIFT_MASK,
                                       "win.open-in-window", NULL);
  gtk_widget_class_install_action (widget_class, "win.conversation-previous", NULL, conversation_previous_activated);
  gtk_widget_class_install_action (widget_class, "win.conversation-next", NULL, conversation_next_activated);
  /* After the focused widget: in a text field, Ctrl+A selects its text. */
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_a, GDK_CONTROL_MASK, "win.select-all", NULL);
  gtk_widget_class_install_action (widget_class, "win.next-unread", NULL, next_unread_activated);
  gtk_widget_class_install_action (widget_class, "win.previous-unread", NULL, previous_unread_activated);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_period, GDK_CONTROL_MASK, "win.next-unread", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_period, GDK_CONTROL_MASK | GDK_SHIFT_MASK,
                                       "win.previous-unread", NULL);
  gtk_widget_class_install_action (widget_class, "win.show-remote-content", NULL, show_remote_activated);
  gtk_widget_class_install_action (widget_class, "win.always-show-remote-content", NULL,
                                   always_show_remote_activated);
  gtk_widget_class_install_action (widget_class, "win.move-to", "x", move_to_activated);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_m, GDK_CONTROL_MASK | GDK_SHIFT_MASK, "win.move", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_i, GDK_CONTROL_MASK, "win.toggle-read", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_s, GDK_CONTROL_MASK, "win.toggle-flag", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Delete, 0, "win.delete", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_a, GDK_CONTROL_MASK | GDK_SHIFT_MASK, "win.archive", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_f, GDK_CONTROL_MASK, "win.search", NULL);
}

static void
mailer_window_init (MailerWindow *self)
{
  GtkListItemFactory *factory;

  gtk_widget_init_template (GTK_WIDGET (self));

  self->settings = g_settings_new (APP_ID);
  g_settings_bind (self->settings, "window-width", self, "default-width", G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (self->settings, "window-height", self, "default-height", G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (self->settings, "window-maximized", self, "maximized", G_SETTINGS_BIND_DEFAULT);
  g_signal_connect_object (self->settings, "changed::conversation-grouping",
                           G_CALLBACK (conversation_grouping_changed_cb), self, G_CONNECT_SWAPPED);

  factory = gtk_signal_list_item_factory_new ();
  g_signal_connect (factory, "setup", G_CALLBACK (setup_row_cb), NULL);
  g_signal_connect (factory, "bind", G_CALLBACK (bind_row_cb), NULL);
  g_signal_connect (factory, "unbind", G_CALLBACK (unbind_row_cb), NULL);
  gtk_list_view_set_factory (self->accounts_view, factory);
  g_object_unref (factory);
  gtk_list_view_set_single_click_activate (self->accounts_view, TRUE);
  g_signal_connect_swapped (self->accounts_view, "activate",
                            G_CALLBACK (accounts_view_activate_cb), self);

  /* Translators: the unified inbox in the sidebar */
  self->unified = mailer_folder_new (0, _("All Inboxes"));
  mailer_folder_set_role (self->unified, MAILER_FOLDER_ROLE_INBOX);
  self->roots = g_list_store_new (G_TYPE_OBJECT);
  self->tree = gtk_tree_list_model_new (G_LIST_MODEL (g_object_ref (self->roots)), FALSE, TRUE,
                                        create_children_cb, NULL, NULL);
  self->selection = gtk_single_selection_new (G_LIST_MODEL (g_object_ref (self->tree)));
  g_signal_connect_swapped (self->selection, "notify::selected-item",
                            G_CALLBACK (selection_changed_cb), self);
  gtk_list_view_set_model (self->accounts_view, GTK_SELECTION_MODEL (self->selection));

  factory = gtk_signal_list_item_factory_new ();
  g_signal_connect (factory, "setup", G_CALLBACK (setup_message_cb), NULL);
  g_signal_connect (factory, "bind", G_CALLBACK (bind_message_cb), self);
  g_signal_connect (factory, "unbind", G_CALLBACK (unbind_message_cb), NULL);
  gtk_list_view_set_factory (self->messages_view, factory);
  g_object_unref (factory);
  /* Several with Ctrl or Shift, all with Ctrl+A: the actions apply to
   * every message selected. */
  self->messages_selection = gtk_multi_selection_new (NULL);
  g_signal_connect_swapped (self->messages_selection, "selection-changed",
                            G_CALLBACK (message_selected_cb), self);
  /* Rows that leave take their selection with them without a
   * selection-changed: the open message may be gone. */
  g_signal_connect_swapped (self->messages_selection, "items-changed",
                            G_CALLBACK (message_selected_cb), self);
  gtk_list_view_set_model (self->messages_view, GTK_SELECTION_MODEL (self->messages_selection));
  g_signal_connect_swapped (self->messages_view, "activate", G_CALLBACK (message_activated_cb), self);

  g_object_bind_property (self->search_button, "active", self->search_bar, "search-mode-enabled",
                          G_BINDING_BIDIRECTIONAL | G_BINDING_SYNC_CREATE);
  gtk_search_bar_connect_entry (self->search_bar, GTK_EDITABLE (self->search_entry));
  gtk_menu_button_set_create_popup_func (self->move_button, build_move_menu, self, NULL);
  gtk_menu_button_set_create_popup_func (self->bottom_move_button, build_move_menu, self, NULL);
  g_signal_connect_swapped (self->content_leaflet, "notify::folded", G_CALLBACK (update_narrow), self);
  update_narrow_cb (self);
  g_signal_connect_swapped (self->leaflet, "notify::folded", G_CALLBACK (update_back_button), self);
  g_signal_connect_swapped (self->content_leaflet, "notify::folded", G_CALLBACK (update_back_button), self);
  g_signal_connect_swapped (self->content_leaflet, "notify::visible-child-name",
                            G_CALLBACK (update_back_button), self);
  g_signal_connect_swapped (self->search_entry, "search-changed", G_CALLBACK (search_changed_cb), self);
  update_actions (self);
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
  g_object_bind_property (session, "online", self->offline_banner, "reveal-child",
                          G_BINDING_SYNC_CREATE | G_BINDING_INVERT_BOOLEAN);
  g_signal_connect_swapped (mailer_session_get_accounts (session), "items-changed",
                            G_CALLBACK (rebuild_roots), self);
  rebuild_roots (self);
  selection_changed_cb (self);

  return self;
}

/**
 * mailer_window_new_for_message:
 *
 * A window of its own for one message: its reader alone, with the same
 * actions; it closes when the message is moved away or deleted.
 *
 * Returns: (transfer none) (nullable): the window, or %NULL when the
 *   message is not found
 */
MailerWindow *
mailer_window_new_for_message (GtkApplication *application,
                               MailerSession  *session,
                               gint64          message_id)
{
  MailerWindow *self;

  g_return_val_if_fail (MAILER_IS_SESSION (session), NULL);

  self = mailer_window_new (application, session, NULL);
  self->single = TRUE;
  /* Its size is not the main window's. */
  g_settings_unbind (self, "default-width");
  g_settings_unbind (self, "default-height");
  g_settings_unbind (self, "maximized");
  gtk_window_set_default_size (GTK_WINDOW (self), 820, 720);
  if (!mailer_window_show_message (self, message_id))
    {
      gtk_window_destroy (GTK_WINDOW (self));
      return NULL;
    }
  adw_leaflet_set_can_unfold (self->leaflet, FALSE);
  adw_leaflet_set_can_unfold (self->content_leaflet, FALSE);
  adw_leaflet_set_visible_child (self->leaflet, self->content);
  adw_leaflet_set_visible_child_name (self->content_leaflet, "reader");
  adw_window_title_set_title (self->content_title, mailer_window_get_reader_subject (self));
  adw_window_title_set_subtitle (self->content_title, "");
  /* Nothing to search in. */
  gtk_widget_set_visible (GTK_WIDGET (self->search_button), FALSE);
  update_narrow_cb (self);
  update_back_button (self);
  update_actions (self);
  return self;
}

/**
 * mailer_window_is_single:
 *
 * Whether the window is one of mailer_window_new_for_message().
 */
gboolean
mailer_window_is_single (MailerWindow *self)
{
  g_return_val_if_fail (MAILER_IS_WINDOW (self), FALSE);
  return self->single;
}

/**
 * mailer_window_show_message:
 *
 * Shows the message @message_id in its folder, selected and open (what a
 * click on a new-mail notification does).  Returns whether it was found.
 */
/* For tests: the view of HTML messages (NULL before the first), and the
 * banner that offers their remote content. */
WebKitWebView *
mailer_window_get_web_view (MailerWindow *self)
{
  g_return_val_if_fail (MAILER_IS_WINDOW (self), NULL);
  return self->web_view;
}

GtkWidget *
mailer_window_get_remote_banner (MailerWindow *self)
{
  g_return_val_if_fail (MAILER_IS_WINDOW (self), NULL);
  return GTK_WIDGET (self->remote_banner);
}

/* For tests: the banner shown while the network is down. */
GtkWidget *
mailer_window_get_offline_banner (MailerWindow *self)
{
  g_return_val_if_fail (MAILER_IS_WINDOW (self), NULL);
  return GTK_WIDGET (self->offline_banner);
}

gboolean
mailer_window_show_message (MailerWindow *self,
                            gint64        message_id)
{
  g_autoptr(MailerMessage) message = NULL;
  GListModel *rows;
  guint position;

  g_return_val_if_fail (MAILER_IS_WINDOW (self), FALSE);

  if (self->session == NULL)
    return FALSE;
  message = mailer_store_get_message (mailer_session_get_store (self->session), message_id, NULL);
  if (message == NULL)
    return FALSE;

  /* Its folder in the sidebar (the tree expands accounts by itself). */
  rows = G_LIST_MODEL (self->selection);
  for (guint i = 0; i < g_list_model_get_n_items (rows); i++)
    {
      g_autoptr(GtkTreeListRow) row = g_list_model_get_item (rows, i);
      g_autoptr(GObject) item = gtk_tree_list_row_get_item (row);

      if (MAILER_IS_FOLDER (item) &&
          mailer_folder_get_id (MAILER_FOLDER (item)) == mailer_message_get_folder_id (message))
        {
          gtk_single_selection_set_selected (self->selection, i);
          break;
        }
    }
  if (self->list == NULL)
    return FALSE;
  position = mailer_message_list_find (self->list, message_id);
  if (position == G_MAXUINT)
    return FALSE;
  select_position (self, position);
  /* GTK 4.8 has no gtk_list_view_scroll_to (): its action. */
  gtk_widget_activate_action (GTK_WIDGET (self->messages_view), "list.scroll-to-item", "u", position);
  adw_leaflet_set_visible_child (self->leaflet, self->content);
  return TRUE;
}

GtkListView *
mailer_window_get_messages_view (MailerWindow *self)
{
  g_return_val_if_fail (MAILER_IS_WINDOW (self), NULL);
  return self->messages_view;
}

/* The subject line the reader shows, for tests. */
const char *
mailer_window_get_reader_subject (MailerWindow *self)
{
  g_return_val_if_fail (MAILER_IS_WINDOW (self), NULL);
  return gtk_label_get_label (self->reader_subject);
}

/* The plain-text body shown, as markup (for tests). */
const char *
mailer_window_get_reader_body (MailerWindow *self)
{
  g_return_val_if_fail (MAILER_IS_WINDOW (self), NULL);
  return gtk_label_get_label (self->reader_body);
}

GtkListView *
mailer_window_get_accounts_view (MailerWindow *self)
{
  g_return_val_if_fail (MAILER_IS_WINDOW (self), NULL);
  return self->accounts_view;
}
