/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "mailer-model-enums.h"

G_BEGIN_DECLS

typedef enum
{
  MAILER_SERVER_IMAP,
  MAILER_SERVER_POP3,
  MAILER_SERVER_SMTP,
} MailerServerType;

/* Where a server's settings came from, most trusted first. */
typedef enum
{
  MAILER_DETECTED_BY_PROVIDER_LIST,
  MAILER_DETECTED_BY_AUTOCONFIG,
  MAILER_DETECTED_BY_SRV,
  MAILER_DETECTED_BY_MX,
  MAILER_DETECTED_BY_GUESS,
} MailerDetectedBy;

/**
 * MailerServerCandidate:
 * @type: IMAP, POP3 or SMTP
 * @host: the server's name
 * @port: its port
 * @security: implicit TLS, STARTTLS, or none (only ever offered last)
 * @username: the user name to log in with, for this address
 * @by: where these settings came from
 * @provider: the provider's name, when known
 * @note: what to tell the user (an app password, say), or %NULL
 * @oauth: the provider wants OAuth2; a normal password works only as an
 *   "app password"
 */
typedef struct
{
  MailerServerType  type;
  char             *host;
  guint16           port;
  MailerSecurity    security;
  char             *username;
  MailerDetectedBy  by;
  char             *provider;
  char             *note;
  gboolean          oauth;
} MailerServerCandidate;

void mailer_server_candidate_free (MailerServerCandidate *candidate);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MailerServerCandidate, mailer_server_candidate_free)

#define MAILER_TYPE_AUTODETECT (mailer_autodetect_get_type ())

G_DECLARE_FINAL_TYPE (MailerAutodetect, mailer_autodetect, MAILER, AUTODETECT, GObject)

MailerAutodetect *mailer_autodetect_new                 (const char           *address);
const char       *mailer_autodetect_get_domain          (MailerAutodetect     *self);
const char       *mailer_autodetect_get_status          (MailerAutodetect     *self);
void              mailer_autodetect_run_async           (MailerAutodetect     *self,
                                                         GCancellable         *cancellable,
                                                         GAsyncReadyCallback   callback,
                                                         gpointer              user_data);
GPtrArray        *mailer_autodetect_run_finish          (MailerAutodetect     *self,
                                                         GAsyncResult         *result,
                                                         GError              **error);

GPtrArray        *mailer_autodetect_lookup_provider     (const char           *address);
GPtrArray        *mailer_autodetect_parse_autoconfig    (const char           *xml,
                                                         gssize                length,
                                                         const char           *address,
                                                         GError              **error);

/* For tests (names are looked up with g_resolver_get_default ()): which
 * CA the autoconfig server's certificate must chain to, and the ports
 * standing in for the standard ones (443 for autoconfig; 993, 995, 143,
 * 110, 465, 587 for guesses). */
void              mailer_autodetect_set_tls_database    (MailerAutodetect     *self,
                                                         GTlsDatabase         *database);
void              mailer_autodetect_map_port            (MailerAutodetect     *self,
                                                         guint16               standard,
                                                         guint16               actual);

G_END_DECLS
