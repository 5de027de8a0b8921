/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * MailerMessage: the summary of one message as a list row shows it.  The
 * body lives in the store and is loaded only when the message is opened.
 */
#include "config.h"

#include "mailer-message.h"
#include "mailer-model-enum-types.h"
#include "mailer-model-private.h"

struct _MailerMessage
{
  GObject parent_instance;

  gint64 id;
  gint64 folder_id;
  char *subject;
  char *sender;
  char *preview;
  gint64 date;
  MailerMessageFlags flags;
  guint has_attachment : 1;
};

G_DEFINE_FINAL_TYPE (MailerMessage, mailer_message, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_ID,
  PROP_FOLDER_ID,
  PROP_SUBJECT,
  PROP_SENDER,
  PROP_PREVIEW,
  PROP_DATE,
  PROP_FLAGS,
  PROP_UNREAD,
  PROP_HAS_ATTACHMENT,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void
mailer_message_finalize (GObject *object)
{
  MailerMessage *self = (MailerMessage *)object;

  g_clear_pointer (&self->subject, g_free);
  g_clear_pointer (&self->sender, g_free);
  g_clear_pointer (&self->preview, g_free);

  G_OBJECT_CLASS (mailer_message_parent_class)->finalize (object);
}

static void
mailer_message_get_property (GObject    *object,
                             guint       prop_id,
                             GValue     *value,
                             GParamSpec *pspec)
{
  MailerMessage *self = MAILER_MESSAGE (object);

  switch (prop_id)
    {
    case PROP_ID:
      g_value_set_int64 (value, self->id);
      break;
    case PROP_FOLDER_ID:
      g_value_set_int64 (value, self->folder_id);
      break;
    case PROP_SUBJECT:
      g_value_set_string (value, self->subject);
      break;
    case PROP_SENDER:
      g_value_set_string (value, self->sender);
      break;
    case PROP_PREVIEW:
      g_value_set_string (value, self->preview);
      break;
    case PROP_DATE:
      g_value_set_int64 (value, self->date);
      break;
    case PROP_FLAGS:
      g_value_set_flags (value, self->flags);
      break;
    case PROP_UNREAD:
      g_value_set_boolean (value, mailer_message_get_unread (self));
      break;
    case PROP_HAS_ATTACHMENT:
      g_value_set_boolean (value, self->has_attachment);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
mailer_message_set_property (GObject      *object,
                             guint         prop_id,
                             const GValue *value,
                             GParamSpec   *pspec)
{
  MailerMessage *self = MAILER_MESSAGE (object);

  switch (prop_id)
    {
    case PROP_ID:
      self->id = g_value_get_int64 (value);
      break;
    case PROP_FOLDER_ID:
      self->folder_id = g_value_get_int64 (value);
      break;
    case PROP_SUBJECT:
      mailer_message_set_subject (self, g_value_get_string (value));
      break;
    case PROP_SENDER:
      mailer_message_set_sender (self, g_value_get_string (value));
      break;
    case PROP_PREVIEW:
      mailer_message_set_preview (self, g_value_get_string (value));
      break;
    case PROP_DATE:
      mailer_message_set_date (self, g_value_get_int64 (value));
      break;
    case PROP_FLAGS:
      mailer_message_set_flags (self, g_value_get_flags (value));
      break;
    case PROP_HAS_ATTACHMENT:
      mailer_message_set_has_attachment (self, g_value_get_boolean (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
mailer_message_class_init (MailerMessageClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = mailer_message_finalize;
  object_class->get_property = mailer_message_get_property;
  object_class->set_property = mailer_message_set_property;

  properties[PROP_ID] =
    g_param_spec_int64 ("id", NULL, NULL,
                        0, G_MAXINT64, 0,
                        G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);

  properties[PROP_FOLDER_ID] =
    g_param_spec_int64 ("folder-id", NULL, NULL,
                        0, G_MAXINT64, 0,
                        G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);

  properties[PROP_SUBJECT] =
    g_param_spec_string ("subject", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /* The sender as displayed: the name, or the address when there is none. */
  properties[PROP_SENDER] =
    g_param_spec_string ("sender", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  properties[PROP_PREVIEW] =
    g_param_spec_string ("preview", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /* Seconds since the epoch, UTC. */
  properties[PROP_DATE] =
    g_param_spec_int64 ("date", NULL, NULL,
                        G_MININT64, G_MAXINT64, 0,
                        G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  properties[PROP_FLAGS] =
    g_param_spec_flags ("flags", NULL, NULL,
                        MAILER_TYPE_MESSAGE_FLAGS, MAILER_MESSAGE_FLAG_NONE,
                        G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /* Derived from flags, for binding a bold row or an unread dot. */
  properties[PROP_UNREAD] =
    g_param_spec_boolean ("unread", NULL, NULL, TRUE,
                          G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);

  properties[PROP_HAS_ATTACHMENT] =
    g_param_spec_boolean ("has-attachment", NULL, NULL, FALSE,
                          G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
mailer_message_init (MailerMessage *self)
{
}

MailerMessage *
mailer_message_new (gint64 id,
                    gint64 folder_id)
{
  return g_object_new (MAILER_TYPE_MESSAGE,
                       "id", id,
                       "folder-id", folder_id,
                       NULL);
}

gint64
mailer_message_get_id (MailerMessage *self)
{
  g_return_val_if_fail (MAILER_IS_MESSAGE (self), 0);
  return self->id;
}

gint64
mailer_message_get_folder_id (MailerMessage *self)
{
  g_return_val_if_fail (MAILER_IS_MESSAGE (self), 0);
  return self->folder_id;
}

#define STRING_PROPERTY(name, PROP)                                        \
  const char *                                                             \
  mailer_message_get_##name (MailerMessage *self)                          \
  {                                                                        \
    g_return_val_if_fail (MAILER_IS_MESSAGE (self), NULL);                 \
    return self->name;                                                     \
  }                                                                        \
                                                                           \
  void                                                                     \
  mailer_message_set_##name (MailerMessage *self,                          \
                             const char    *value)                         \
  {                                                                        \
    g_return_if_fail (MAILER_IS_MESSAGE (self));                           \
                                                                           \
    if (_mailer_set_string (&self->name, value))                           \
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP]);        \
  }

STRING_PROPERTY (subject, PROP_SUBJECT)
STRING_PROPERTY (sender, PROP_SENDER)
STRING_PROPERTY (preview, PROP_PREVIEW)

#undef STRING_PROPERTY

gint64
mailer_message_get_date (MailerMessage *self)
{
  g_return_val_if_fail (MAILER_IS_MESSAGE (self), 0);
  return self->date;
}

void
mailer_message_set_date (MailerMessage *self,
                         gint64         unix_time)
{
  g_return_if_fail (MAILER_IS_MESSAGE (self));

  if (self->date != unix_time)
    {
      self->date = unix_time;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_DATE]);
    }
}

MailerMessageFlags
mailer_message_get_flags (MailerMessage *self)
{
  g_return_val_if_fail (MAILER_IS_MESSAGE (self), MAILER_MESSAGE_FLAG_NONE);
  return self->flags;
}

void
mailer_message_set_flags (MailerMessage      *self,
                          MailerMessageFlags  flags)
{
  gboolean was_unread;

  g_return_if_fail (MAILER_IS_MESSAGE (self));

  if (self->flags == flags)
    return;

  was_unread = mailer_message_get_unread (self);
  self->flags = flags;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_FLAGS]);
  if (was_unread != mailer_message_get_unread (self))
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_UNREAD]);
}

gboolean
mailer_message_get_unread (MailerMessage *self)
{
  g_return_val_if_fail (MAILER_IS_MESSAGE (self), FALSE);
  return (self->flags & MAILER_MESSAGE_FLAG_SEEN) == 0;
}

gboolean
mailer_message_get_has_attachment (MailerMessage *self)
{
  g_return_val_if_fail (MAILER_IS_MESSAGE (self), FALSE);
  return self->has_attachment;
}

void
mailer_message_set_has_attachment (MailerMessage *self,
                                   gboolean       has_attachment)
{
  g_return_if_fail (MAILER_IS_MESSAGE (self));

  has_attachment = !!has_attachment;
  if (self->has_attachment != has_attachment)
    {
      self->has_attachment = has_attachment;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_HAS_ATTACHMENT]);
    }
}
