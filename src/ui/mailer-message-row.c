/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * MailerMessageRow: one message (or conversation) in the message list:
 * sender and date on the first line, the subject on the second, the start
 * of the text on the third; unread messages in bold with a dot, flagged
 * and attachment marks, and how many messages a conversation has.
 *
 * One widget that lays out and draws its text itself (Pango layouts in
 * snapshot()), rather than a dozen child widgets: a list view makes a
 * couple of hundred rows each time it is given a folder, and creating,
 * measuring and destroying the children was most of the time of a switch
 * of folders.  It follows its message's properties, so a change made
 * anywhere (here, or on the server) shows at once.
 */
#include "config.h"

#include <glib/gi18n.h>

#include "mailer-message-row.h"

/* What a line of the list shows of the preview, even wide. */
#define PREVIEW_CHARS 100
#define MARGIN_TOP 8
#define MARGIN_BOTTOM 8
#define MARGIN_START 6
#define MARGIN_END 10
#define DOT_COLUMN 18          /* the unread dot's column, text after it */
#define DOT_SIZE 8
#define ICON_SIZE 16
#define SPACING 6
#define LINE_SPACING 2

typedef enum
{
  MARK_NONE,
  MARK_UNREAD,
  MARK_ATTACHMENT,
  MARK_FLAGGED,
  MARK_COUNT,
} Mark;

struct _MailerMessageRow
{
  GtkWidget parent_instance;

  MailerMessage *message;
  gulong notify_id;
  guint n_messages;             /* messages in the conversation, when more than one */
  guint n_unread;

  gboolean unread;
  gboolean flagged;
  gboolean attachment;
  PangoLayout *sender;
  PangoLayout *date;
  PangoLayout *subject;
  PangoLayout *preview;
  PangoLayout *count;

  /* Where the marks were drawn, for their tooltips. */
  graphene_rect_t mark_rects[MARK_COUNT + 1];
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
set_weight (PangoLayout *layout,
            gboolean     bold)
{
  PangoAttrList *attrs = pango_attr_list_new ();

  if (bold)
    pango_attr_list_insert (attrs, pango_attr_weight_new (PANGO_WEIGHT_BOLD));
  pango_layout_set_attributes (layout, attrs);
  pango_attr_list_unref (attrs);
}

static PangoLayout *
new_layout (MailerMessageRow *self,
            double            scale)
{
  PangoLayout *layout = gtk_widget_create_pango_layout (GTK_WIDGET (self), NULL);

  pango_layout_set_ellipsize (layout, PANGO_ELLIPSIZE_END);
  pango_layout_set_single_paragraph_mode (layout, TRUE);
  if (scale != 1.0)
    {
      PangoAttrList *attrs = pango_attr_list_new ();

      pango_attr_list_insert (attrs, pango_attr_scale_new (scale));
      pango_layout_set_attributes (layout, attrs);
      pango_attr_list_unref (attrs);
    }
  return layout;
}

static void
ensure_layouts (MailerMessageRow *self)
{
  if (self->sender != NULL)
    return;
  self->sender = new_layout (self, 1.0);
  self->subject = new_layout (self, 1.0);
  self->preview = new_layout (self, 1.0);
  /* Caption size, as libadwaita's .caption. */
  self->date = new_layout (self, 0.8333);
  self->count = new_layout (self, 0.8333);
}

static void
clear_layouts (MailerMessageRow *self)
{
  g_clear_object (&self->sender);
  g_clear_object (&self->subject);
  g_clear_object (&self->preview);
  g_clear_object (&self->date);
  g_clear_object (&self->count);
}

static void
update (MailerMessageRow *self)
{
  MailerMessage *message = self->message;
  g_autofree char *date = NULL;
  g_autofree char *accessible = NULL;
  const char *subject;
  const char *sender;
  const char *preview;

  if (message == NULL)
    return;
  ensure_layouts (self);

  /* A conversation is unread while any of it is. */
  self->unread = mailer_message_get_unread (message) || self->n_unread > 0;
  self->flagged = mailer_message_get_flagged (message);
  self->attachment = mailer_message_get_has_attachment (message);
  sender = mailer_message_get_sender (message);
  subject = mailer_message_get_subject (message);
  preview = mailer_message_get_preview (message);
  date = mailer_format_date (mailer_message_get_date (message));
  if (sender == NULL || *sender == '\0')
    sender = _("Unknown sender");
  if (subject == NULL || *subject == '\0')
    subject = _("(No subject)");

  pango_layout_set_text (self->sender, sender, -1);
  set_weight (self->sender, self->unread);
  pango_layout_set_text (self->subject, subject, -1);
  set_weight (self->subject, self->unread);
  {
    /* A line of it shows; a layout shapes all of its text to measure it. */
    g_autofree char *shown = preview && g_utf8_strlen (preview, -1) > PREVIEW_CHARS
                             ? g_utf8_substring (preview, 0, PREVIEW_CHARS) : NULL;

    pango_layout_set_text (self->preview, shown ? shown : (preview ? preview : ""), -1);
  }
  pango_layout_set_text (self->date, date, -1);
  {
    g_autofree char *count = g_strdup_printf ("%u", self->n_messages);

    pango_layout_set_text (self->count, count, -1);
  }

  if (self->unread)
    gtk_widget_add_css_class (GTK_WIDGET (self), "unread");
  else
    gtk_widget_remove_css_class (GTK_WIDGET (self), "unread");

  /* What a screen reader says of the row. */
  accessible = g_strdup_printf ("%s%s, %s, %s", self->unread ? _("Unread, ") : "", sender, subject, date);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self),
                                  GTK_ACCESSIBLE_PROPERTY_LABEL, accessible,
                                  GTK_ACCESSIBLE_PROPERTY_DESCRIPTION, preview ? preview : "",
                                  -1);
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

static int
line_height (PangoLayout *layout)
{
  int height;

  pango_layout_get_pixel_size (layout, NULL, &height);
  return height;
}

static void
mailer_message_row_measure (GtkWidget      *widget,
                            GtkOrientation  orientation,
                            int             for_size,
                            int            *minimum,
                            int            *natural,
                            int            *minimum_baseline,
                            int            *natural_baseline)
{
  MailerMessageRow *self = MAILER_MESSAGE_ROW (widget);

  ensure_layouts (self);
  if (orientation == GTK_ORIENTATION_HORIZONTAL)
    {
      *minimum = MARGIN_START + DOT_COLUMN + 120 + MARGIN_END;
      *natural = MAX (*minimum, 300);
      return;
    }
  /* The same height whatever the text (and with the preview line even
   * when empty): rows of a list all the same. */
  *minimum = *natural = MARGIN_TOP + line_height (self->sender) + LINE_SPACING + line_height (self->subject) +
                        LINE_SPACING + line_height (self->preview) + MARGIN_BOTTOM;
}

static GdkPaintable *
icon (GtkWidget  *widget,
      const char *name)
{
  GtkIconTheme *theme = gtk_icon_theme_get_for_display (gtk_widget_get_display (widget));
  GtkIconPaintable *paintable = gtk_icon_theme_lookup_icon (theme, name, NULL, ICON_SIZE,
                                                            gtk_widget_get_scale_factor (widget),
                                                            gtk_widget_get_direction (widget), 0);

  return GDK_PAINTABLE (paintable);
}

/* Positions are worked out left to right; right to left, each item is
 * placed at the mirror image of its place (the text itself is not). */
static float
place (GtkWidget *widget,
       float      x,
       float      item_width)
{
  if (gtk_widget_get_direction (widget) != GTK_TEXT_DIR_RTL)
    return x;
  return gtk_widget_get_width (widget) - x - item_width;
}

static void
draw_icon (GtkSnapshot   *snapshot,
           GtkWidget     *widget,
           const char    *name,
           const GdkRGBA *color,
           float          x,
           float          y)
{
  g_autoptr(GdkPaintable) paintable = icon (widget, name);

  x = place (widget, x, ICON_SIZE);
  gtk_snapshot_save (snapshot);
  gtk_snapshot_translate (snapshot, &GRAPHENE_POINT_INIT (x, y));
  gtk_symbolic_paintable_snapshot_symbolic (GTK_SYMBOLIC_PAINTABLE (paintable), snapshot, ICON_SIZE, ICON_SIZE,
                                            color, 1);
  gtk_snapshot_restore (snapshot);
}

static void
draw_layout (GtkSnapshot   *snapshot,
             GtkWidget     *widget,
             PangoLayout   *layout,
             const GdkRGBA *color,
             float          x,
             float          y,
             float          item_width)
{
  x = place (widget, x, item_width);
  gtk_snapshot_save (snapshot);
  gtk_snapshot_translate (snapshot, &GRAPHENE_POINT_INIT (x, y));
  gtk_snapshot_append_layout (snapshot, layout, color);
  gtk_snapshot_restore (snapshot);
}

static void
mailer_message_row_snapshot (GtkWidget   *widget,
                             GtkSnapshot *snapshot)
{
  MailerMessageRow *self = MAILER_MESSAGE_ROW (widget);
  G_GNUC_BEGIN_IGNORE_DEPRECATIONS
  GtkStyleContext *style = gtk_widget_get_style_context (widget);
  G_GNUC_END_IGNORE_DEPRECATIONS
  int width = gtk_widget_get_width (widget);
  gboolean rtl = gtk_widget_get_direction (widget) == GTK_TEXT_DIR_RTL;
  GdkRGBA color, dim, accent, warning;
  int line1, line2, line3;
  float text_x = MARGIN_START + DOT_COLUMN;
  float right = width - MARGIN_END;
  float y;

  if (self->message == NULL || self->sender == NULL)
    return;

  G_GNUC_BEGIN_IGNORE_DEPRECATIONS
  gtk_style_context_get_color (style, &color);
  if (!gtk_style_context_lookup_color (style, "accent_color", &accent))
    accent = color;
  if (!gtk_style_context_lookup_color (style, "warning_color", &warning))
    warning = color;
  G_GNUC_END_IGNORE_DEPRECATIONS
  dim = color;
  dim.alpha *= 0.55;

  for (guint i = 0; i <= MARK_COUNT; i++)
    self->mark_rects[i] = GRAPHENE_RECT_INIT (0, 0, 0, 0);
  line1 = line_height (self->sender);
  line2 = line_height (self->subject);
  line3 = line_height (self->preview);

  /* Line 1: the dot, the sender; at the end the date, before it the
   * attachment mark and the conversation's count. */
  y = MARGIN_TOP;
  if (self->unread)
    {
      graphene_rect_t dot = GRAPHENE_RECT_INIT (place (widget, MARGIN_START + 2, DOT_SIZE),
                                                y + (line1 - DOT_SIZE) / 2.0, DOT_SIZE, DOT_SIZE);
      GskRoundedRect round;

      gsk_rounded_rect_init_from_rect (&round, &dot, DOT_SIZE / 2.0);
      gtk_snapshot_push_rounded_clip (snapshot, &round);
      gtk_snapshot_append_color (snapshot, &accent, &dot);
      gtk_snapshot_pop (snapshot);
      self->mark_rects[MARK_UNREAD] = GRAPHENE_RECT_INIT (MARGIN_START + 2, y, DOT_SIZE, line1);
    }
  {
    int date_width, date_height;

    pango_layout_get_pixel_size (self->date, &date_width, &date_height);
    right -= date_width;
    draw_layout (snapshot, widget, self->date, &dim, right, y + (line1 - date_height) / 2.0, date_width);
    right -= SPACING;
  }
  if (self->attachment)
    {
      right -= ICON_SIZE;
      draw_icon (snapshot, widget, "mail-attachment-symbolic", &color, right, y + (line1 - ICON_SIZE) / 2.0);
      self->mark_rects[MARK_ATTACHMENT] = GRAPHENE_RECT_INIT (right, y, ICON_SIZE, line1);
      right -= SPACING;
    }
  if (self->n_messages > 1)
    {
      int count_width, count_height;
      graphene_rect_t pill;
      GskRoundedRect round;
      GdkRGBA shade = color;

      pango_layout_get_pixel_size (self->count, &count_width, &count_height);
      pill = GRAPHENE_RECT_INIT (right - count_width - 12, y + (line1 - count_height - 2) / 2.0,
                                 count_width + 12, count_height + 2);
      self->mark_rects[MARK_COUNT] = pill;
      right = pill.origin.x - SPACING;
      {
        graphene_rect_t placed = pill;

        placed.origin.x = place (widget, pill.origin.x, pill.size.width);
        shade.alpha *= 0.1;
        gsk_rounded_rect_init_from_rect (&round, &placed, placed.size.height / 2);
        gtk_snapshot_push_rounded_clip (snapshot, &round);
        gtk_snapshot_append_color (snapshot, &shade, &placed);
        gtk_snapshot_pop (snapshot);
      }
      draw_layout (snapshot, widget, self->count, &color, pill.origin.x + 6, pill.origin.y + 1, count_width);
    }
  pango_layout_set_width (self->sender, MAX (0, right - text_x) * PANGO_SCALE);
  draw_layout (snapshot, widget, self->sender, &color, text_x, y, MAX (0, right - text_x));

  /* Line 2: the subject; the flag at the end. */
  y += line1 + LINE_SPACING;
  right = width - MARGIN_END;
  if (self->flagged)
    {
      right -= ICON_SIZE;
      draw_icon (snapshot, widget, "starred-symbolic", &warning, right, y + (line2 - ICON_SIZE) / 2.0);
      self->mark_rects[MARK_FLAGGED] = GRAPHENE_RECT_INIT (right, y, ICON_SIZE, line2);
      right -= SPACING;
    }
  pango_layout_set_width (self->subject, MAX (0, right - text_x) * PANGO_SCALE);
  draw_layout (snapshot, widget, self->subject, &color, text_x, y, MAX (0, right - text_x));

  /* Line 3: the start of the text. */
  y += line2 + LINE_SPACING;
  pango_layout_set_width (self->preview, MAX (0, width - MARGIN_END - text_x) * PANGO_SCALE);
  draw_layout (snapshot, widget, self->preview, &dim, text_x, y, MAX (0, width - MARGIN_END - text_x));
  (void) line3;

  /* The tooltips' areas where they were drawn. */
  if (rtl)
    for (guint i = 0; i <= MARK_COUNT; i++)
      if (self->mark_rects[i].size.width > 0)
        self->mark_rects[i].origin.x = width - self->mark_rects[i].origin.x - self->mark_rects[i].size.width;
}

static gboolean
mailer_message_row_query_tooltip (GtkWidget  *widget,
                                  int         x,
                                  int         y,
                                  gboolean    keyboard,
                                  GtkTooltip *tooltip)
{
  MailerMessageRow *self = MAILER_MESSAGE_ROW (widget);
  static const char * const texts[] = {
    [MARK_UNREAD] = N_("Unread"),
    [MARK_ATTACHMENT] = N_("Has attachments"),
    [MARK_FLAGGED] = N_("Flagged"),
    [MARK_COUNT] = N_("Messages in this conversation"),
  };

  for (guint i = MARK_UNREAD; i <= MARK_COUNT; i++)
    if (self->mark_rects[i].size.width > 0 &&
        graphene_rect_contains_point (&self->mark_rects[i], &GRAPHENE_POINT_INIT (x, y)))
      {
        gtk_tooltip_set_text (tooltip, _(texts[i]));
        return TRUE;
      }
  return FALSE;
}

static void
mailer_message_row_css_changed (GtkWidget         *widget,
                                GtkCssStyleChange *change)
{
  MailerMessageRow *self = MAILER_MESSAGE_ROW (widget);

  GTK_WIDGET_CLASS (mailer_message_row_parent_class)->css_changed (widget, change);
  /* Another font or size: new layouts, from the widget's context. */
  clear_layouts (self);
  update (self);
  gtk_widget_queue_resize (widget);
}

static void
mailer_message_row_dispose (GObject *object)
{
  MailerMessageRow *self = MAILER_MESSAGE_ROW (object);

  mailer_message_row_set_message (self, NULL);
  clear_layouts (self);

  G_OBJECT_CLASS (mailer_message_row_parent_class)->dispose (object);
}

static void
mailer_message_row_class_init (MailerMessageRowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = mailer_message_row_dispose;
  widget_class->measure = mailer_message_row_measure;
  widget_class->snapshot = mailer_message_row_snapshot;
  widget_class->query_tooltip = mailer_message_row_query_tooltip;
  widget_class->css_changed = mailer_message_row_css_changed;
  gtk_widget_class_set_css_name (widget_class, "messagerow");
  gtk_widget_class_set_accessible_role (widget_class, GTK_ACCESSIBLE_ROLE_GROUP);
}

static void
mailer_message_row_init (MailerMessageRow *self)
{
  gtk_widget_set_has_tooltip (GTK_WIDGET (self), TRUE);
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

/* The count the row shows (0 or 1: none). */
guint
mailer_message_row_get_n_messages (MailerMessageRow *self)
{
  g_return_val_if_fail (MAILER_IS_MESSAGE_ROW (self), 0);
  return self->n_messages;
}
