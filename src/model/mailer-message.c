/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * MailerMessage: the summary of one message as a list row shows it.  The
 * body lives in the store and is loaded only when the message is opened.
 * Every setter notifies only when the value changed, so a list row bound
 * to these properties redraws only what moved.
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
  gint64 thread_id;
  char *subject;
  char *sender;
  char *sender_address;
  char *recipients;
  char *preview;
  char *keywords;
  gint64 date;
  gint64 size;
  MailerMessageFlags flags;
  MailerBodyState body_state;
  guint has_attachment : 1;
};

G_DEFINE_FINAL_TYPE (MailerMessage, mailer_message, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_ID,
  PROP_FOLDER_ID,
  PROP_THREAD_ID,
  PROP_SUBJECT,
  PROP_SENDER,
  PROP_SENDER_ADDRESS,
  PROP_RECIPIENTS,
  PROP_PREVIEW,
  PROP_KEYWORDS,
  PROP_DATE,
  PROP_SIZE,
  PROP_FLAGS,
  PROP_UNREAD,
  PROP_FLAGGED,
  PROP_HAS_ATTACHMENT,
  PROP_BODY_STATE,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void
mailer_message_finalize (GObject *object)
{
  MailerMessage *self = (MailerMessage *)object;

  g_clear_pointer (&self->subject, g_free);
  g_clear_pointer (&self->sender, g_free);
  g_clear_pointer (&self->sender_address, g_free);
  g_clear_pointer (&self->recipients, g_free);
  g_clear_pointer (&self->preview, g_free);
  g_clear_pointer (&self->keywords, g_free);

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
    case PROP_THREAD_ID:
      g_value_set_int64 (value, self->thread_id);
      break;
    case PROP_SUBJECT:
      g_value_set_string (value, self->subject);
      break;
    case PROP_SENDER:
      g_value_set_string (value, self->sender);
      break;
    case PROP_SENDER_ADDRESS:
      g_value_set_string (value, self->sender_address);
      break;
    case PROP_RECIPIENTS:
      g_value_set_string (value, self->recipients);
      break;
    case PROP_PREVIEW:
      g_value_set_string (value, self->preview);
      break;
    case PROP_KEYWORDS:
      g_value_set_string (value, self->keywords);
      break;
    case PROP_DATE:
      g_value_set_int64 (value, self->date);
      break;
    case PROP_SIZE:
      g_value_set_int64 (value, self->size);
      break;
    case PROP_FLAGS:
      g_value_set_flags (value, self->flags);
      break;
    case PROP_UNREAD:
      g_value_set_boolean (value, mailer_message_get_unread (self));
      break;
    case PROP_FLAGGED:
      g_value_set_boolean (value, mailer_message_get_flagged (self));
      break;
    case PROP_HAS_ATTACHMENT:
      g_value_set_boolean (value, self->has_attachment);
      break;
    case PROP_BODY_STATE:
      g_value_set_enum (value, self->body_state);
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
      mailer_message_set_folder_id (self, g_value_get_int64 (value));
      break;
    case PROP_THREAD_ID:
      mailer_message_set_thread_id (self, g_value_get_int64 (value));
      break;
    case PROP_SUBJECT:
      mailer_message_set_subject (self, g_value_get_string (value));
      break;
    case PROP_SENDER:
      mailer_message_set_sender (self, g_value_get_string (value));
      break;
    case PROP_SENDER_ADDRESS:
      mailer_message_set_sender_address (self, g_value_get_string (value));
      break;
    case PROP_RECIPIENTS:
      mailer_message_set_recipients (self, g_value_get_string (value));
      break;
    case PROP_PREVIEW:
      mailer_message_set_preview (self, g_value_get_string (value));
      break;
    case PROP_KEYWORDS:
      mailer_message_set_keywords (self, g_value_get_string (value));
      break;
    case PROP_DATE:
      mailer_message_set_date (self, g_value_get_int64 (value));
      break;
    case PROP_SIZE:
      mailer_message_set_size (self, g_value_get_int64 (value));
      break;
    case PROP_FLAGS:
      mailer_message_set_flags (self, g_value_get_flags (value));
      break;
    case PROP_HAS_ATTACHMENT:
      mailer_message_set_has_attachment (self, g_value_get_boolean (value));
      break;
    case PROP_BODY_STATE:
      mailer_message_set_body_state (self, g_value_get_enum (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
mailer_message_class_init (MailerMessageClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  const GParamFlags rw = G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS;
  const GParamFlags ro = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS;

  object_class->finalize = mailer_message_finalize;
  object_class->get_property = mailer_message_get_property;
  object_class->set_property = mailer_message_set_property;

  /* The store's row id. */
  properties[PROP_ID] =
    g_param_spec_int64 ("id", NULL, NULL, 0, G_MAXINT64, 0,
                        G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  properties[PROP_FOLDER_ID] =
    g_param_spec_int64 ("folder-id", NULL, NULL, 0, G_MAXINT64, 0, rw);
  /* Messages of one conversation share a thread id. */
  properties[PROP_THREAD_ID] =
    g_param_spec_int64 ("thread-id", NULL, NULL, 0, G_MAXINT64, 0, rw);
  properties[PROP_SUBJECT] =
    g_param_spec_string ("subject", NULL, NULL, NULL, rw);
  /* The sender's display name, or the address when there is none. */
  properties[PROP_SENDER] =
    g_param_spec_string ("sender", NULL, NULL, NULL, rw);
  properties[PROP_SENDER_ADDRESS] =
    g_param_spec_string ("sender-address", NULL, NULL, NULL, rw);
  /* The To line in display form. */
  properties[PROP_RECIPIENTS] =
    g_param_spec_string ("recipients", NULL, NULL, NULL, rw);
  properties[PROP_PREVIEW] =
    g_param_spec_string ("preview", NULL, NULL, NULL, rw);
  /* IMAP keywords, space-separated. */
  properties[PROP_KEYWORDS] =
    g_param_spec_string ("keywords", NULL, NULL, NULL, rw);
  properties[PROP_DATE] =
    g_param_spec_int64 ("date", NULL, NULL, G_MININT64, G_MAXINT64, 0, rw);
  properties[PROP_SIZE] =
    g_param_spec_int64 ("size", NULL, NULL, 0, G_MAXINT64, 0, rw);
  properties[PROP_FLAGS] =
    g_param_spec_flags ("flags", NULL, NULL,
                        MAILER_TYPE_MESSAGE_FLAGS, MAILER_MESSAGE_FLAG_NONE, rw);
  properties[PROP_UNREAD] =
    g_param_spec_boolean ("unread", NULL, NULL, TRUE, ro);
  properties[PROP_FLAGGED] =
    g_param_spec_boolean ("flagged", NULL, NULL, FALSE, ro);
  properties[PROP_HAS_ATTACHMENT] =
    g_param_spec_boolean ("has-attachment", NULL, NULL, FALSE, rw);
  properties[PROP_BODY_STATE] =
    g_param_spec_enum ("body-state", NULL, NULL,
                       MAILER_TYPE_BODY_STATE, MAILER_BODY_STATE_NONE, rw);

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

#define DEFINE_INT64_PROPERTY(name, PROP)                                \
  gint64                                                                 \
  mailer_message_get_##name (MailerMessage *self)                        \
  {                                                                      \
    g_return_val_if_fail (MAILER_IS_MESSAGE (self), 0);                  \
    return self->name;                                                   \
  }                                                                      \
  void                                                                   \
  mailer_message_set_##name (MailerMessage *self,                        \
                             gint64         value)                       \
  {                                                                      \
    g_return_if_fail (MAILER_IS_MESSAGE (self));                         \
    if (self->name == value)                                             \
      return;                                                            \
    self->name = value;                                                  \
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP]);        \
  }

#define DEFINE_STRING_PROPERTY(name, PROP)                               \
  const char *                                                           \
  mailer_message_get_##name (MailerMessage *self)                        \
  {                                                                      \
    g_return_val_if_fail (MAILER_IS_MESSAGE (self), NULL);               \
    return self->name;                                                   \
  }                                                                      \
  void                                                                   \
  mailer_message_set_##name (MailerMessage *self,                        \
                             const char    *value)                       \
  {                                                                      \
    g_return_if_fail (MAILER_IS_MESSAGE (self));                         \
    if (_mailer_set_string (&self->name, value))                         \
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP]);      \
  }

DEFINE_INT64_PROPERTY (folder_id, PROP_FOLDER_ID)
DEFINE_INT64_PROPERTY (thread_id, PROP_THREAD_ID)
DEFINE_INT64_PROPERTY (date, PROP_DATE)
DEFINE_INT64_PROPERTY (size, PROP_SIZE)
DEFINE_STRING_PROPERTY (subject, PROP_SUBJECT)
DEFINE_STRING_PROPERTY (sender, PROP_SENDER)
DEFINE_STRING_PROPERTY (sender_address, PROP_SENDER_ADDRESS)
DEFINE_STRING_PROPERTY (recipients, PROP_RECIPIENTS)
DEFINE_STRING_PROPERTY (preview, PROP_PREVIEW)
DEFINE_STRING_PROPERTY (keywords, PROP_KEYWORDS)

MailerMessageFlags
mailer_message_get_flags (MailerMessage *self)
{
  g_return_val_if_fail (MAILER_IS_MESSAGE (self), 0);
  return self->flags;
}

void
mailer_message_set_flags (MailerMessage      *self,
                          MailerMessageFlags  flags)
{
  gboolean was_unread, was_flagged;

  g_return_if_fail (MAILER_IS_MESSAGE (self));

  if (self->flags == flags)
    return;

  was_unread = mailer_message_get_unread (self);
  was_flagged = mailer_message_get_flagged (self);
  self->flags = flags;

  g_object_freeze_notify (G_OBJECT (self));
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_FLAGS]);
  if (was_unread != mailer_message_get_unread (self))
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_UNREAD]);
  if (was_flagged != mailer_message_get_flagged (self))
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_FLAGGED]);
  g_object_thaw_notify (G_OBJECT (self));
}

gboolean
mailer_message_get_unread (MailerMessage *self)
{
  g_return_val_if_fail (MAILER_IS_MESSAGE (self), FALSE);
  return (self->flags & MAILER_MESSAGE_FLAG_SEEN) == 0;
}

gboolean
mailer_message_get_flagged (MailerMessage *self)
{
  g_return_val_if_fail (MAILER_IS_MESSAGE (self), FALSE);
  return (self->flags & MAILER_MESSAGE_FLAG_FLAGGED) != 0;
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
  if (self->has_attachment == (guint) has_attachment)
    return;
  self->has_attachment = has_attachment;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_HAS_ATTACHMENT]);
}

MailerBodyState
mailer_message_get_body_state (MailerMessage *self)
{
  g_return_val_if_fail (MAILER_IS_MESSAGE (self), MAILER_BODY_STATE_NONE);
  return self->body_state;
}

void
mailer_message_set_body_state (MailerMessage   *self,
                               MailerBodyState  state)
{
  g_return_if_fail (MAILER_IS_MESSAGE (self));

  if (self->body_state == state)
    return;
  self->body_state = state;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_BODY_STATE]);
}
