/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * MailerMessageRow: one message in the message list: sender and date on
 * the first line, the subject on the second, the start of the text on the
 * third; unread messages in bold with a dot, flagged and attachment marks.
 * It follows its message's properties, so a change made anywhere (here,
 * or on the server) shows at once.
 */
#include "config.h"

#include <glib/gi18n.h>

#include "mailer-message-row.h"

/* What a line of the list shows of the preview, even wide. */
#define PREVIEW_CHARS 100

struct _MailerMessageRow
{
  GtkWidget parent_instance;

  MailerMessage *message;
  GtkWidget *grid;
  GtkWidget *unread_dot;
  GtkWidget *sender;
  GtkWidget *date;
  GtkWidget *subject;
  GtkWidget *preview;
  GtkWidget *flagged;
  GtkWidget *attachment;
  GtkWidget *count;             /* messages in the conversation, when more than one */
  guint n_messages;
  guint n_unread;
  gulong notify_id;
};

G_DEFINE_FINAL_TYPE (MailerMessageRow, mailer_message_row, GTK_TYPE_WIDGET)

/* "14:05" today, "Tue" this week, "12 Mar" this year, else "12/03/2024". */
char *
mailer_format_date (gint64 unix_time)
{
  g_autoptr(GDateTime) when = NULL;
  g_autoptr(GDateTime) now = g_date_time_new_now_local ();
  gint64 days;

  if (unix_time <= 0)
    return g_strdup ("");
  when = g_date_time_new_from_unix_local (unix_time);
  if (when == NULL)
    return g_strdup ("");
  days = (g_date_time_to_unix (now) - unix_time) / (24 * 3600);
  if (g_date_time_get_year (when) == g_date_time_get_year (now) &&
      g_date_time_get_day_of_year (when) == g_date_time_get_day_of_year (now))
    return g_date_time_format (when, "%H:%M");
  if (days >= 0 && days < 6)
    return g_date_time_format (when, "%a");
  if (g_date_time_get_year (when) == g_date_time_get_year (now))
    /* Translators: a date in this year, see strftime(3) */
    return g_date_time_format (when, _("%e %b"));
  /* Translators: a date in another year, see strftime(3) */
  return g_date_time_format (when, _("%x"));
}

static void
update (MailerMessageRow *self)
{
  MailerMessage *message = self->message;
  g_autofree char *date = NULL;
  const char *subject;
  const char *sender;
  gboolean unread;

  if (message == NULL)
    return;

  /* A conversation is unread while any of it is. */
  unread = mailer_message_get_unread (message) || self->n_unread > 0;
  sender = mailer_message_get_sender (message);
  subject = mailer_message_get_subject (message);
  date = mailer_format_date (mailer_message_get_date (message));

  gtk_label_set_label (GTK_LABEL (self->sender), sender && *sender ? sender : _("Unknown sender"));
  gtk_label_set_label (GTK_LABEL (self->subject), subject && *subject ? subject : _("(No subject)"));
  {
    const char *preview = mailer_message_get_preview (message);
    /* A line of it shows; a label shapes all of its text to measure it. */
    g_autofree char *shown = preview && g_utf8_strlen (preview, -1) > PREVIEW_CHARS
                             ? g_utf8_substring (preview, 0, PREVIEW_CHARS) : NULL;

    gtk_label_set_label (GTK_LABEL (self->preview), shown ? shown : preview);
  }
  gtk_widget_set_visible (self->preview, mailer_message_get_preview (message) &&
                                         *mailer_message_get_preview (message));
  gtk_label_set_label (GTK_LABEL (self->date), date);
  gtk_widget_set_visible (self->unread_dot, unread);
  gtk_widget_set_visible (self->flagged, mailer_message_get_flagged (message));
  gtk_widget_set_visible (self->attachment, mailer_message_get_has_attachment (message));
  if (self->n_messages > 1)
    {
      g_autofree char *count = g_strdup_printf ("%u", self->n_messages);

      gtk_label_set_label (GTK_LABEL (self->count), count);
    }
  gtk_widget_set_visible (self->count, self->n_messages > 1);
  if (unread)
    gtk_widget_add_css_class (GTK_WIDGET (self), "unread");
  else
    gtk_widget_remove_css_class (GTK_WIDGET (self), "unread");
}

static void
mailer_message_row_dispose (GObject *object)
{
  MailerMessageRow *self = MAILER_MESSAGE_ROW (object);

  mailer_message_row_set_message (self, NULL);
  g_clear_pointer (&self->grid, gtk_widget_unparent);

  G_OBJECT_CLASS (mailer_message_row_parent_class)->dispose (object);
}

static void
mailer_message_row_class_init (MailerMessageRowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = mailer_message_row_dispose;
  gtk_widget_class_set_layout_manager_type (widget_class, GTK_TYPE_BIN_LAYOUT);
  gtk_widget_class_set_css_name (widget_class, "messagerow");
  gtk_widget_class_set_accessible_role (widget_class, GTK_ACCESSIBLE_ROLE_GROUP);
}

static GtkWidget *
label (const char *css_class,
       gboolean    expand)
{
  GtkWidget *widget = gtk_label_new (NULL);

  gtk_label_set_xalign (GTK_LABEL (widget), 0);
  gtk_label_set_ellipsize (GTK_LABEL (widget), PANGO_ELLIPSIZE_END);
  gtk_label_set_single_line_mode (GTK_LABEL (widget), TRUE);
  gtk_widget_set_hexpand (widget, expand);
  if (css_class != NULL)
    gtk_widget_add_css_class (widget, css_class);
  return widget;
}

static gboolean
icon_query_tooltip_cb (GtkWidget  *icon,
                       int         x,
                       int         y,
                       gboolean    keyboard,
                       GtkTooltip *tooltip,
                       const char *text)
{
  gtk_tooltip_set_text (tooltip, _(text));
  return TRUE;
}

/* The icons' tooltips are made when asked for: setting their text on each
 * of the rows a list creates costs more than the rest of a row together. */
static void
set_icon_tooltip (GtkWidget  *icon,
                  const char *text)
{
  gtk_widget_set_has_tooltip (icon, TRUE);
  g_signal_connect (icon, "query-tooltip", G_CALLBACK (icon_query_tooltip_cb), (gpointer) text);
}

static void
mailer_message_row_init (MailerMessageRow *self)
{
  GtkGrid *grid;

  self->grid = gtk_grid_new ();
  grid = GTK_GRID (self->grid);
  gtk_grid_set_column_spacing (grid, 6);
  gtk_grid_set_row_spacing (grid, 2);
  gtk_widget_set_margin_top (self->grid, 8);
  gtk_widget_set_margin_bottom (self->grid, 8);
  gtk_widget_set_margin_start (self->grid, 6);
  gtk_widget_set_margin_end (self->grid, 10);
  gtk_widget_set_parent (self->grid, GTK_WIDGET (self));

  self->unread_dot = gtk_image_new_from_icon_name ("media-record-symbolic");
  gtk_widget_add_css_class (self->unread_dot, "unread-dot");
  gtk_widget_set_size_request (self->unread_dot, 12, -1);
  gtk_image_set_pixel_size (GTK_IMAGE (self->unread_dot), 8);
  gtk_widget_set_valign (self->unread_dot, GTK_ALIGN_CENTER);
  set_icon_tooltip (self->unread_dot, N_("Unread"));

  self->sender = label ("sender", TRUE);
  self->date = label ("dim-label", FALSE);
  gtk_widget_add_css_class (self->date, "caption");
  self->subject = label ("subject", TRUE);
  self->preview = label ("dim-label", TRUE);
  gtk_label_set_lines (GTK_LABEL (self->preview), 1);
  self->flagged = gtk_image_new_from_icon_name ("starred-symbolic");
  gtk_widget_add_css_class (self->flagged, "flag");
  set_icon_tooltip (self->flagged, N_("Flagged"));
  self->attachment = gtk_image_new_from_icon_name ("mail-attachment-symbolic");
  set_icon_tooltip (self->attachment, N_("Has attachments"));
  self->count = label ("conversation-count", FALSE);
  gtk_widget_set_valign (self->count, GTK_ALIGN_CENTER);
  gtk_widget_set_visible (self->count, FALSE);
  set_icon_tooltip (self->count, N_("Messages in this conversation"));

  /* A placeholder keeps the text aligned whether the dot shows or not. */
  gtk_grid_attach (grid, gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 0), 0, 0, 1, 3);
  gtk_grid_attach (grid, self->unread_dot, 0, 0, 1, 1);
  gtk_grid_attach (grid, self->sender, 1, 0, 1, 1);
  {
    /* The count and the attachment mark share the column before the date. */
    GtkWidget *marks = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 6);

    gtk_box_append (GTK_BOX (marks), self->count);
    gtk_box_append (GTK_BOX (marks), self->attachment);
    gtk_grid_attach (grid, marks, 2, 0, 1, 1);
  }
  gtk_grid_attach (grid, self->date, 3, 0, 1, 1);
  gtk_grid_attach (grid, self->subject, 1, 1, 2, 1);
  gtk_grid_attach (grid, self->flagged, 3, 1, 1, 1);
  gtk_grid_attach (grid, self->preview, 1, 2, 3, 1);
  gtk_widget_set_halign (self->flagged, GTK_ALIGN_END);
}

GtkWidget *
mailer_message_row_new (void)
{
  return g_object_new (MAILER_TYPE_MESSAGE_ROW, NULL);
}

MailerMessage *
mailer_message_row_get_message (MailerMessageRow *self)
{
  g_return_val_if_fail (MAILER_IS_MESSAGE_ROW (self), NULL);
  return self->message;
}

void
mailer_message_row_set_message (MailerMessageRow *self,
                                MailerMessage    *message)
{
  g_return_if_fail (MAILER_IS_MESSAGE_ROW (self));

  if (self->message == message)
    return;
  if (self->message != NULL)
    g_clear_signal_handler (&self->notify_id, self->message);
  g_set_object (&self->message, message);
  self->n_messages = 0;
  self->n_unread = 0;
  if (message != NULL)
    {
      self->notify_id = g_signal_connect_swapped (message, "notify", G_CALLBACK (update), self);
      update (self);
    }
}

/**
 * mailer_message_row_set_conversation:
 * @n_messages: messages in the conversation the row stands for
 * @n_unread: how many of them are unread
 *
 * For a list of conversations: the row shows how many messages there are,
 * and is unread while any of them is.
 */
void
mailer_message_row_set_conversation (MailerMessageRow *self,
                                     guint             n_messages,
                                     guint             n_unread)
{
  g_return_if_fail (MAILER_IS_MESSAGE_ROW (self));

  self->n_messages = n_messages;
  self->n_unread = n_unread;
  update (self);
}
