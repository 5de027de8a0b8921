/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * MailerAutodetect: finds the mail servers of an address, for the account
 * setup.  Every source starts at once:
 *
 *  1. the provider list shipped with Mailer (data/providers.xml);
 *  2. Thunderbird-format autoconfig, over HTTPS only:
 *     https://autoconfig.DOMAIN/mail/config-v1.1.xml and
 *     https://DOMAIN/.well-known/autoconfig/mail/config-v1.1.xml;
 *  3. DNS SRV records (RFC 6186: _imaps._tcp, _imap._tcp, _pop3s._tcp,
 *     _pop3._tcp, _submissions._tcp, _submission._tcp);
 *  4. the domain's MX hosts, matched against the provider list (a domain
 *     hosted by a known provider);
 *  5. guesses: imap., pop., pop3., smtp. and mail.DOMAIN, probed on the
 *     implicit-TLS ports first, then STARTTLS, reading only the greeting
 *     and the capabilities.
 *
 * No password goes anywhere: that is the login test after the user chose.
 * Results are ranked: the more trusted source first, then implicit TLS
 * before STARTTLS; a server without any encryption comes last, for the
 * user to accept or not.
 */
#include "config.h"

#include <libsoup/soup.h>
#include <string.h>

#include "mailer-autodetect.h"
#include "mailer-connection.h"
#include "mailer-sync-resources.h"

#define AUTOCONFIG_TIMEOUT 10   /* seconds */
#define PROBE_TIMEOUT 8

struct _MailerAutodetect
{
  GObject parent_instance;

  char *address;
  char *local;
  char *domain;
  char *status;
  GTlsDatabase *tls_database;
  GHashTable *ports;            /* standard port -> actual (tests) */
};

G_DEFINE_FINAL_TYPE (MailerAutodetect, mailer_autodetect, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_STATUS,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

void
mailer_server_candidate_free (MailerServerCandidate *candidate)
{
  if (candidate == NULL)
    return;
  g_free (candidate->host);
  g_free (candidate->username);
  g_free (candidate->provider);
  g_free (candidate->note);
  g_free (candidate);
}

static MailerServerCandidate *
candidate_new (MailerServerType  type,
               const char       *host,
               guint16           port,
               MailerSecurity    security,
               const char       *username,
               MailerDetectedBy  by)
{
  MailerServerCandidate *candidate = g_new0 (MailerServerCandidate, 1);

  candidate->type = type;
  candidate->host = g_strdup (host);
  candidate->port = port;
  candidate->security = security;
  candidate->username = g_strdup (username);
  candidate->by = by;
  return candidate;
}

static gboolean
parse_type (const char       *text,
            MailerServerType *type)
{
  if (g_ascii_strcasecmp (text, "imap") == 0)
    *type = MAILER_SERVER_IMAP;
  else if (g_ascii_strcasecmp (text, "pop3") == 0)
    *type = MAILER_SERVER_POP3;
  else if (g_ascii_strcasecmp (text, "smtp") == 0)
    *type = MAILER_SERVER_SMTP;
  else
    return FALSE;
  return TRUE;
}

/* The address's parts, or FALSE when it is not one. */
static gboolean
split_address (const char  *address,
               char       **local,
               char       **domain)
{
  const char *at = address ? strrchr (address, '@') : NULL;

  if (at == NULL || at == address || at[1] == '\0' || strchr (at + 1, '.') == NULL)
    return FALSE;
  *local = g_strndup (address, at - address);
  *domain = g_ascii_strdown (at + 1, -1);
  return TRUE;
}

/* The provider list */

typedef struct
{
  char *name;
  gboolean oauth;
  GPtrArray *domains;   /* char * */
  GPtrArray *mx;        /* char * */
  GPtrArray *servers;   /* MailerServerCandidate, username "address" or "local" */
  char *note;
} Provider;

static void
provider_free (Provider *provider)
{
  g_free (provider->name);
  g_ptr_array_unref (provider->domains);
  g_ptr_array_unref (provider->mx);
  g_ptr_array_unref (provider->servers);
  g_free (provider->note);
  g_free (provider);
}

typedef struct
{
  GPtrArray *providers;
  Provider *current;
  GString *text;
  const char *element;
} ProvidersParse;

static void
providers_start (GMarkupParseContext  *context,
                 const char           *element,
                 const char          **names,
                 const char          **values,
                 gpointer              user_data,
                 GError              **error)
{
  ProvidersParse *parse = user_data;

  g_string_truncate (parse->text, 0);
  parse->element = element;
  if (g_str_equal (element, "provider"))
    {
      const char *name = NULL, *oauth = NULL;

      if (!g_markup_collect_attributes (element, names, values, error,
                                        G_MARKUP_COLLECT_STRING, "name", &name,
                                        G_MARKUP_COLLECT_STRING | G_MARKUP_COLLECT_OPTIONAL, "oauth", &oauth,
                                        G_MARKUP_COLLECT_INVALID))
        return;
      parse->current = g_new0 (Provider, 1);
      parse->current->name = g_strdup (name);
      parse->current->oauth = g_strcmp0 (oauth, "true") == 0;
      parse->current->domains = g_ptr_array_new_with_free_func (g_free);
      parse->current->mx = g_ptr_array_new_with_free_func (g_free);
      parse->current->servers = g_ptr_array_new_with_free_func ((GDestroyNotify) mailer_server_candidate_free);
      g_ptr_array_add (parse->providers, parse->current);
    }
  else if (g_str_equal (element, "server") && parse->current != NULL)
    {
      const char *type = NULL, *host = NULL, *port = NULL, *security = NULL, *username = NULL;
      MailerServerType server_type;

      if (!g_markup_collect_attributes (element, names, values, error,
                                        G_MARKUP_COLLECT_STRING, "type", &type,
                                        G_MARKUP_COLLECT_STRING, "host", &host,
                                        G_MARKUP_COLLECT_STRING, "port", &port,
                                        G_MARKUP_COLLECT_STRING, "security", &security,
                                        G_MARKUP_COLLECT_STRING, "username", &username,
                                        G_MARKUP_COLLECT_INVALID))
        return;
      if (!parse_type (type, &server_type))
        return;
      g_ptr_array_add (parse->current->servers,
                       candidate_new (server_type, host, (guint16) g_ascii_strtoull (port, NULL, 10),
                                      g_str_equal (security, "tls") ? MAILER_SECURITY_TLS : MAILER_SECURITY_STARTTLS,
                                      username, MAILER_DETECTED_BY_PROVIDER_LIST));
    }
}

static void
providers_text (GMarkupParseContext  *context,
                const char           *text,
                gsize                 len,
                gpointer              user_data,
                GError              **error)
{
  ProvidersParse *parse = user_data;

  g_string_append_len (parse->text, text, len);
}

static void
providers_end (GMarkupParseContext  *context,
               const char           *element,
               gpointer              user_data,
               GError              **error)
{
  ProvidersParse *parse = user_data;
  g_autofree char *text = g_strstrip (g_strdup (parse->text->str));

  if (parse->current == NULL)
    return;
  if (g_str_equal (element, "domain"))
    g_ptr_array_add (parse->current->domains, g_ascii_strdown (text, -1));
  else if (g_str_equal (element, "mx"))
    g_ptr_array_add (parse->current->mx, g_ascii_strdown (text, -1));
  else if (g_str_equal (element, "note"))
    parse->current->note = g_steal_pointer (&text);
  else if (g_str_equal (element, "provider"))
    parse->current = NULL;
  g_string_truncate (parse->text, 0);
}

static GPtrArray *
providers (void)
{
  static gsize once = 0;
  static GPtrArray *list = NULL;

  if (g_once_init_enter (&once))
    {
      static const GMarkupParser parser = { providers_start, providers_end, providers_text, NULL, NULL };
      /* Straight from this library's resource (linked statically, it would
       * not register itself unless referenced). */
      g_autoptr(GBytes) bytes = g_resource_lookup_data (mailer_sync_get_resource (),
                                                        "/org/example/Mailer/sync/providers.xml", 0, NULL);
      ProvidersParse parse = { g_ptr_array_new_with_free_func ((GDestroyNotify) provider_free), NULL,
                               g_string_new (NULL), NULL };
      g_autoptr(GError) error = NULL;

      if (bytes != NULL)
        {
          g_autoptr(GMarkupParseContext) context = g_markup_parse_context_new (&parser, 0, &parse, NULL);
          gsize len;
          const char *data = g_bytes_get_data (bytes, &len);

          if (!g_markup_parse_context_parse (context, data, len, &error) ||
              !g_markup_parse_context_end_parse (context, &error))
            g_warning ("The provider list cannot be read: %s", error->message);
        }
      g_string_free (parse.text, TRUE);
      list = parse.providers;
      g_once_init_leave (&once, 1);
    }
  return list;
}

/* The provider's servers for @address, as candidates found @by. */
static void
add_provider_servers (GPtrArray        *out,
                      const Provider   *provider,
                      const char       *address,
                      const char       *local,
                      MailerDetectedBy  by)
{
  for (guint i = 0; i < provider->servers->len; i++)
    {
      const MailerServerCandidate *server = provider->servers->pdata[i];
      MailerServerCandidate *candidate = candidate_new (server->type, server->host, server->port, server->security,
                                                        g_str_equal (server->username, "local") ? local : address,
                                                        by);

      candidate->provider = g_strdup (provider->name);
      candidate->note = g_strdup (provider->note);
      candidate->oauth = provider->oauth;
      g_ptr_array_add (out, candidate);
    }
}

/**
 * mailer_autodetect_lookup_provider:
 *
 * Returns: (transfer full) (element-type MailerServerCandidate): the
 *   servers of the address's provider, when the list knows its domain
 *   (empty otherwise)
 */
GPtrArray *
mailer_autodetect_lookup_provider (const char *address)
{
  GPtrArray *out = g_ptr_array_new_with_free_func ((GDestroyNotify) mailer_server_candidate_free);
  g_autofree char *local = NULL;
  g_autofree char *domain = NULL;
  GPtrArray *list = providers ();

  if (!split_address (address, &local, &domain))
    return out;
  for (guint i = 0; i < list->len; i++)
    {
      Provider *provider = list->pdata[i];

      for (guint j = 0; j < provider->domains->len; j++)
        if (g_str_equal (provider->domains->pdata[j], domain))
          {
            add_provider_servers (out, provider, address, local, MAILER_DETECTED_BY_PROVIDER_LIST);
            return out;
          }
    }
  return out;
}

/* A provider hosting mail exchanger @host (a suffix of it, on a label
 * boundary), or NULL. */
static const Provider *
provider_for_mx (const char *host)
{
  g_autofree char *lower = g_ascii_strdown (host, -1);
  GPtrArray *list = providers ();
  gsize len;

  /* "mx.example.com." */
  len = strlen (lower);
  if (len > 0 && lower[len - 1] == '.')
    lower[--len] = '\0';
  for (guint i = 0; i < list->len; i++)
    {
      Provider *provider = list->pdata[i];

      for (guint j = 0; j < provider->mx->len; j++)
        {
          const char *suffix = provider->mx->pdata[j];
          gsize n = strlen (suffix);

          if (len >= n && g_str_equal (lower + len - n, suffix) && (len == n || lower[len - n - 1] == '.'))
            return provider;
        }
    }
  return NULL;
}

/* Autoconfig (Thunderbird's format) */

typedef struct
{
  GPtrArray *out;
  const char *address;
  const char *local;
  const char *domain;
  MailerServerCandidate *server;  /* being read */
  GString *text;
  gboolean in_provider;
} AutoconfigParse;

static void
autoconfig_start (GMarkupParseContext  *context,
                  const char           *element,
                  const char          **names,
                  const char          **values,
                  gpointer              user_data,
                  GError              **error)
{
  AutoconfigParse *parse = user_data;

  g_string_truncate (parse->text, 0);
  if (g_str_equal (element, "emailProvider"))
    parse->in_provider = TRUE;
  else if (parse->in_provider && (g_str_equal (element, "incomingServer") || g_str_equal (element, "outgoingServer")))
    {
      MailerServerType type;

      g_clear_pointer (&parse->server, mailer_server_candidate_free);
      for (guint i = 0; names[i] != NULL; i++)
        if (g_str_equal (names[i], "type") && parse_type (values[i], &type))
          {
            parse->server = candidate_new (type, NULL, 0, MAILER_SECURITY_NONE, NULL, MAILER_DETECTED_BY_AUTOCONFIG);
            parse->server->username = g_strdup (parse->address);
          }
    }
}

static void
autoconfig_text (GMarkupParseContext  *context,
                 const char           *text,
                 gsize                 len,
                 gpointer              user_data,
                 GError              **error)
{
  AutoconfigParse *parse = user_data;

  g_string_append_len (parse->text, text, len);
}

static char *
expand_username (const char      *template,
                 AutoconfigParse *parse)
{
  g_autoptr(GString) name = g_string_new (template);

  g_string_replace (name, "%EMAILADDRESS%", parse->address, 0);
  g_string_replace (name, "%EMAILLOCALPART%", parse->local, 0);
  g_string_replace (name, "%EMAILDOMAIN%", parse->domain, 0);
  return g_string_free (g_steal_pointer (&name), FALSE);
}

static void
autoconfig_end (GMarkupParseContext  *context,
                const char           *element,
                gpointer              user_data,
                GError              **error)
{
  AutoconfigParse *parse = user_data;
  g_autofree char *text = g_strstrip (g_strdup (parse->text->str));
  MailerServerCandidate *server = parse->server;

  g_string_truncate (parse->text, 0);
  if (g_str_equal (element, "emailProvider"))
    parse->in_provider = FALSE;
  if (server == NULL)
    return;

  if (g_str_equal (element, "hostname"))
    {
      g_free (server->host);
      server->host = expand_username (text, parse);
    }
  else if (g_str_equal (element, "port"))
    server->port = (guint16) MIN (g_ascii_strtoull (text, NULL, 10), G_MAXUINT16);
  else if (g_str_equal (element, "socketType"))
    server->security = g_ascii_strcasecmp (text, "SSL") == 0 ? MAILER_SECURITY_TLS
                     : g_ascii_strcasecmp (text, "STARTTLS") == 0 ? MAILER_SECURITY_STARTTLS
                     : MAILER_SECURITY_NONE;
  else if (g_str_equal (element, "username"))
    {
      g_free (server->username);
      server->username = expand_username (text, parse);
    }
  else if (g_str_equal (element, "incomingServer") || g_str_equal (element, "outgoingServer"))
    {
      if (server->host != NULL && *server->host != '\0' && server->port > 0)
        g_ptr_array_add (parse->out, g_steal_pointer (&parse->server));
      g_clear_pointer (&parse->server, mailer_server_candidate_free);
    }
}

/**
 * mailer_autodetect_parse_autoconfig:
 *
 * Reads a Thunderbird autoconfig document (config-v1.1.xml) for @address:
 * its IMAP, POP3 and SMTP servers, with %EMAILADDRESS% and the like in
 * user names filled in.
 *
 * Returns: (transfer full) (element-type MailerServerCandidate): the
 *   servers, or %NULL when the document cannot be read
 */
GPtrArray *
mailer_autodetect_parse_autoconfig (const char  *xml,
                                    gssize       length,
                                    const char  *address,
                                    GError     **error)
{
  static const GMarkupParser parser = { autoconfig_start, autoconfig_end, autoconfig_text, NULL, NULL };
  g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func ((GDestroyNotify) mailer_server_candidate_free);
  g_autofree char *local = NULL;
  g_autofree char *domain = NULL;
  g_autoptr(GMarkupParseContext) context = NULL;
  AutoconfigParse parse = { 0, };
  gboolean ok;

  if (!split_address (address, &local, &domain))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "“%s” is not an email address", address);
      return NULL;
    }
  parse.out = out;
  parse.address = address;
  parse.local = local;
  parse.domain = domain;
  parse.text = g_string_new (NULL);
  context = g_markup_parse_context_new (&parser, 0, &parse, NULL);
  ok = g_markup_parse_context_parse (context, xml, length, error) &&
       g_markup_parse_context_end_parse (context, error);
  g_string_free (parse.text, TRUE);
  g_clear_pointer (&parse.server, mailer_server_candidate_free);
  return ok ? g_steal_pointer (&out) : NULL;
}

/* A run */

typedef struct
{
  GPtrArray *found;             /* MailerServerCandidate */
  guint pending;
  SoupSession *session;
} Run;

static void
run_free (Run *run)
{
  g_ptr_array_unref (run->found);
  g_clear_object (&run->session);
  g_free (run);
}

static int
compare_candidates (gconstpointer a,
                    gconstpointer b)
{
  const MailerServerCandidate *x = *(MailerServerCandidate * const *) a;
  const MailerServerCandidate *y = *(MailerServerCandidate * const *) b;

  if (x->type != y->type)
    return x->type - y->type;
  /* Any encryption before none, whatever the source. */
  if ((x->security == MAILER_SECURITY_NONE) != (y->security == MAILER_SECURITY_NONE))
    return x->security == MAILER_SECURITY_NONE ? 1 : -1;
  if (x->by != y->by)
    return x->by - y->by;
  return (int) x->security - (int) y->security;
}

static void
set_status (MailerAutodetect *self,
            const char       *status)
{
  g_free (self->status);
  self->status = g_strdup (status);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATUS]);
}

static void
source_done (GTask *task)
{
  MailerAutodetect *self = g_task_get_source_object (task);
  Run *run = g_task_get_task_data (task);
  GPtrArray *ranked;

  if (--run->pending > 0)
    return;
  if (g_task_return_error_if_cancelled (task))
    return;

  /* Most trusted first; the same server once, as its best source found it. */
  g_ptr_array_sort (run->found, compare_candidates);
  ranked = g_ptr_array_new_with_free_func ((GDestroyNotify) mailer_server_candidate_free);
  for (guint i = 0; i < run->found->len; i++)
    {
      MailerServerCandidate *candidate = run->found->pdata[i];
      gboolean seen = FALSE;

      for (guint j = 0; j < ranked->len && !seen; j++)
        {
          MailerServerCandidate *kept = ranked->pdata[j];

          seen = kept->type == candidate->type && kept->port == candidate->port &&
                 kept->security == candidate->security && g_ascii_strcasecmp (kept->host, candidate->host) == 0;
        }
      if (!seen)
        g_ptr_array_add (ranked, g_steal_pointer (&run->found->pdata[i]));
    }
  set_status (self, NULL);
  if (ranked->len == 0)
    {
      g_ptr_array_unref (ranked);
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                               "No mail server found for %s", self->domain);
      return;
    }
  g_task_return_pointer (task, ranked, (GDestroyNotify) g_ptr_array_unref);
}

static guint16
actual_port (MailerAutodetect *self,
             guint16           port)
{
  gpointer mapped = g_hash_table_lookup (self->ports, GUINT_TO_POINTER (port));

  return mapped != NULL ? GPOINTER_TO_UINT (mapped) : port;
}

/* 2. Autoconfig */

static void
autoconfig_read_cb (GObject      *source,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  MailerAutodetect *self = g_task_get_source_object (task);
  Run *run = g_task_get_task_data (task);
  g_autoptr(GBytes) body = NULL;
  g_autoptr(GError) error = NULL;
  SoupMessage *message = soup_session_get_async_result_message (SOUP_SESSION (source), result);

  body = soup_session_send_and_read_finish (SOUP_SESSION (source), result, &error);
  if (body != NULL && soup_message_get_status (message) == SOUP_STATUS_OK)
    {
      gsize len;
      const char *data = g_bytes_get_data (body, &len);
      g_autoptr(GPtrArray) servers = mailer_autodetect_parse_autoconfig (data, len, self->address, &error);

      for (guint i = 0; servers != NULL && i < servers->len; i++)
        g_ptr_array_add (run->found, g_steal_pointer (&servers->pdata[i]));
      if (servers == NULL)
        g_debug ("Autoconfig of %s unreadable: %s", self->domain, error->message);
    }
  else if (error != NULL)
    g_debug ("Autoconfig of %s: %s", self->domain, error->message);
  source_done (task);
}

static void
start_autoconfig (MailerAutodetect *self,
                  GTask            *task)
{
  Run *run = g_task_get_task_data (task);
  g_autofree char *escaped = g_uri_escape_string (self->address, NULL, FALSE);
  guint16 port = actual_port (self, 443);
  g_autofree char *port_part = port != 443 ? g_strdup_printf (":%u", port) : g_strdup ("");
  char *urls[] = {
    g_strdup_printf ("https://autoconfig.%s%s/mail/config-v1.1.xml?emailaddress=%s", self->domain, port_part, escaped),
    g_strdup_printf ("https://%s%s/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress=%s",
                     self->domain, port_part, escaped),
  };

  run->session = soup_session_new_with_options ("timeout", AUTOCONFIG_TIMEOUT, "user-agent", "Mailer", NULL);
  if (self->tls_database != NULL)
    soup_session_set_tls_database (run->session, self->tls_database);
  for (guint i = 0; i < G_N_ELEMENTS (urls); i++)
    {
      /* HTTPS only: a plain-HTTP answer could send the password anywhere. */
      g_autoptr(SoupMessage) message = soup_message_new (SOUP_METHOD_GET, urls[i]);

      g_free (urls[i]);
      if (message == NULL)
        continue;
      run->pending++;
      soup_session_send_and_read_async (run->session, message, G_PRIORITY_DEFAULT, g_task_get_cancellable (task),
                                        autoconfig_read_cb, g_object_ref (task));
    }
}

/* 3. SRV, 4. MX */

typedef struct
{
  GTask *task;
  MailerServerType type;
  MailerSecurity security;
} SrvLookup;

static void
srv_cb (GObject      *source,
        GAsyncResult *result,
        gpointer      user_data)
{
  SrvLookup *lookup = user_data;
  g_autoptr(GTask) task = lookup->task;
  MailerAutodetect *self = g_task_get_source_object (task);
  Run *run = g_task_get_task_data (task);
  GList *targets = g_resolver_lookup_service_finish (G_RESOLVER (source), result, NULL);

  /* The first by priority and weight; "." means "not offered" (RFC 6186). */
  if (targets != NULL)
    {
      GSrvTarget *target = targets->data;
      const char *host = g_srv_target_get_hostname (target);

      if (host != NULL && *host != '\0' && !g_str_equal (host, ".") && g_srv_target_get_port (target) > 0)
        {
          g_autofree char *name = g_strdup (host);
          gsize len = strlen (name);

          if (len > 0 && name[len - 1] == '.')
            name[len - 1] = '\0';
          g_ptr_array_add (run->found, candidate_new (lookup->type, name, g_srv_target_get_port (target),
                                                      lookup->security, self->address, MAILER_DETECTED_BY_SRV));
        }
      g_resolver_free_targets (targets);
    }
  g_free (lookup);
  source_done (task);
}

static void
mx_cb (GObject      *source,
       GAsyncResult *result,
       gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  MailerAutodetect *self = g_task_get_source_object (task);
  Run *run = g_task_get_task_data (task);
  GList *records = g_resolver_lookup_records_finish (G_RESOLVER (source), result, NULL);
  const Provider *provider = NULL;

  for (GList *l = records; l != NULL && provider == NULL; l = l->next)
    {
      const char *host = NULL;
      guint16 preference;

      g_variant_get (l->data, "(q&s)", &preference, &host);
      provider = provider_for_mx (host);
    }
  if (provider != NULL)
    add_provider_servers (run->found, provider, self->address, self->local, MAILER_DETECTED_BY_MX);
  g_list_free_full (records, (GDestroyNotify) g_variant_unref);
  source_done (task);
}

static void
start_dns (MailerAutodetect *self,
           GTask            *task)
{
  static const struct { const char *service; MailerServerType type; MailerSecurity security; } services[] = {
    { "imaps", MAILER_SERVER_IMAP, MAILER_SECURITY_TLS },
    { "imap", MAILER_SERVER_IMAP, MAILER_SECURITY_STARTTLS },
    { "pop3s", MAILER_SERVER_POP3, MAILER_SECURITY_TLS },
    { "pop3", MAILER_SERVER_POP3, MAILER_SECURITY_STARTTLS },
    { "submissions", MAILER_SERVER_SMTP, MAILER_SECURITY_TLS },
    { "submission", MAILER_SERVER_SMTP, MAILER_SECURITY_STARTTLS },
  };
  Run *run = g_task_get_task_data (task);
  g_autoptr(GResolver) resolver = g_resolver_get_default ();

  for (guint i = 0; i < G_N_ELEMENTS (services); i++)
    {
      SrvLookup *lookup = g_new0 (SrvLookup, 1);

      lookup->task = g_object_ref (task);
      lookup->type = services[i].type;
      lookup->security = services[i].security;
      run->pending++;
      g_resolver_lookup_service_async (resolver, services[i].service, "tcp", self->domain,
                                       g_task_get_cancellable (task), srv_cb, lookup);
    }
  run->pending++;
  g_resolver_lookup_records_async (resolver, self->domain, G_RESOLVER_RECORD_MX, g_task_get_cancellable (task),
                                   mx_cb, g_object_ref (task));
}

/* 5. Guesses, probed */

typedef struct
{
  GTask *task;
  MailerConnection *connection;
  MailerServerType type;
  char *host;
  guint16 port;                 /* the standard one */
  MailerSecurity security;
  gboolean greeted;
  gboolean starttls;            /* offered */
  GCancellable *timeout;
  guint timeout_id;
} Probe;

static void
probe_free (Probe *probe)
{
  g_clear_handle_id (&probe->timeout_id, g_source_remove);
  if (probe->connection != NULL)
    mailer_connection_close_async (probe->connection, NULL, NULL, NULL);
  g_clear_object (&probe->connection);
  g_clear_object (&probe->timeout);
  g_free (probe->host);
  g_free (probe);
}

static void
probe_finish (Probe    *probe,
              gboolean  found)
{
  g_autoptr(GTask) task = g_steal_pointer (&probe->task);
  MailerAutodetect *self = g_task_get_source_object (task);
  Run *run = g_task_get_task_data (task);

  if (found)
    {
      /* STARTTLS asked for and not offered: a server without encryption,
       * offered last, for the user to decide. */
      MailerSecurity security = probe->security == MAILER_SECURITY_STARTTLS && !probe->starttls
                                ? MAILER_SECURITY_NONE : probe->security;

      g_ptr_array_add (run->found, candidate_new (probe->type, probe->host, actual_port (self, probe->port),
                                                  security, self->address, MAILER_DETECTED_BY_GUESS));
    }
  probe_free (probe);
  source_done (task);
}

static gboolean
probe_timeout_cb (gpointer user_data)
{
  Probe *probe = user_data;

  probe->timeout_id = 0;
  g_cancellable_cancel (probe->timeout);
  return G_SOURCE_REMOVE;
}

static void probe_read (Probe *probe);

static gboolean
greeting_ok (MailerServerType  type,
             const char       *line)
{
  switch (type)
    {
    case MAILER_SERVER_IMAP:
      return g_str_has_prefix (line, "* OK") || g_str_has_prefix (line, "* PREAUTH");
    case MAILER_SERVER_POP3:
      return g_str_has_prefix (line, "+OK");
    case MAILER_SERVER_SMTP:
    default:
      return g_str_has_prefix (line, "220");
    }
}

static void
probe_line_cb (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  Probe *probe = user_data;
  g_autofree char *line = mailer_connection_read_line_finish (MAILER_CONNECTION (source), result, NULL, NULL);

  if (line == NULL)
    {
      probe_finish (probe, probe->greeted);
      return;
    }
  if (!probe->greeted)
    {
      const char *question[] = { "P CAPABILITY\r\n", "CAPA\r\n", "EHLO mailer.invalid\r\n" };

      if (!greeting_ok (probe->type, line))
        {
          probe_finish (probe, FALSE);
          return;
        }
      probe->greeted = TRUE;
      if (probe->security != MAILER_SECURITY_STARTTLS)
        {
          /* Implicit TLS: the greeting is enough. */
          probe_finish (probe, TRUE);
          return;
        }
      if (probe->type == MAILER_SERVER_IMAP && strstr (line, "STARTTLS") != NULL)
        {
          probe->starttls = TRUE;
          probe_finish (probe, TRUE);
          return;
        }
      {
        g_autoptr(GBytes) bytes = g_bytes_new_static (question[probe->type], strlen (question[probe->type]));

        mailer_connection_write_async (probe->connection, bytes, probe->timeout, NULL, NULL);
      }
      probe_read (probe);
      return;
    }

  /* The capabilities, until their end. */
  if (strstr (line, "STARTTLS") != NULL || (probe->type == MAILER_SERVER_POP3 && g_str_equal (line, "STLS")))
    probe->starttls = TRUE;
  if ((probe->type == MAILER_SERVER_IMAP && g_str_has_prefix (line, "P ")) ||
      (probe->type == MAILER_SERVER_POP3 && (g_str_equal (line, ".") || g_str_has_prefix (line, "-ERR"))) ||
      (probe->type == MAILER_SERVER_SMTP && !g_str_has_prefix (line, "250-")))
    {
      probe_finish (probe, TRUE);
      return;
    }
  probe_read (probe);
}

static void
probe_read (Probe *probe)
{
  mailer_connection_read_line_async (probe->connection, probe->timeout, probe_line_cb, probe);
}

static void
probe_connected_cb (GObject      *source,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  Probe *probe = user_data;
  g_autoptr(GError) error = NULL;

  if (!mailer_connection_connect_finish (MAILER_CONNECTION (source), result, &error))
    {
      /* A TLS server whose certificate is not trusted here is still one:
       * the user is asked about the certificate before logging in. */
      probe_finish (probe, g_error_matches (error, MAILER_CONNECTION_ERROR,
                                            MAILER_CONNECTION_ERROR_CERTIFICATE_UNTRUSTED));
      return;
    }
  probe_read (probe);
}

static void
start_probe (MailerAutodetect *self,
             GTask            *task,
             MailerServerType  type,
             const char       *prefix,
             guint16           port,
             MailerSecurity    security)
{
  Run *run = g_task_get_task_data (task);
  Probe *probe = g_new0 (Probe, 1);

  probe->task = g_object_ref (task);
  probe->type = type;
  probe->host = g_strconcat (prefix, ".", self->domain, NULL);
  probe->port = port;
  probe->security = security;
  /* Its own time limit, and the run's cancellation. */
  probe->timeout = g_cancellable_new ();
  if (g_task_get_cancellable (task) != NULL)
    g_signal_connect_object (g_task_get_cancellable (task), "cancelled",
                             G_CALLBACK (g_cancellable_cancel), probe->timeout, G_CONNECT_SWAPPED);
  probe->timeout_id = g_timeout_add_seconds (PROBE_TIMEOUT, probe_timeout_cb, probe);
  /* STARTTLS is not taken here: only whether it is offered. */
  probe->connection = mailer_connection_new (probe->host, actual_port (self, port),
                                             security == MAILER_SECURITY_TLS ? MAILER_SECURITY_TLS
                                                                             : MAILER_SECURITY_NONE);
  run->pending++;
  mailer_connection_connect_async (probe->connection, probe->timeout, probe_connected_cb, probe);
}

static void
start_guesses (MailerAutodetect *self,
               GTask            *task)
{
  static const struct { MailerServerType type; const char *prefix; guint16 port; MailerSecurity security; } guesses[] = {
    { MAILER_SERVER_IMAP, "imap", 993, MAILER_SECURITY_TLS },
    { MAILER_SERVER_IMAP, "mail", 993, MAILER_SECURITY_TLS },
    { MAILER_SERVER_IMAP, "imap", 143, MAILER_SECURITY_STARTTLS },
    { MAILER_SERVER_IMAP, "mail", 143, MAILER_SECURITY_STARTTLS },
    { MAILER_SERVER_POP3, "pop", 995, MAILER_SECURITY_TLS },
    { MAILER_SERVER_POP3, "pop3", 995, MAILER_SECURITY_TLS },
    { MAILER_SERVER_POP3, "mail", 995, MAILER_SECURITY_TLS },
    { MAILER_SERVER_POP3, "pop", 110, MAILER_SECURITY_STARTTLS },
    { MAILER_SERVER_POP3, "pop3", 110, MAILER_SECURITY_STARTTLS },
    { MAILER_SERVER_POP3, "mail", 110, MAILER_SECURITY_STARTTLS },
    { MAILER_SERVER_SMTP, "smtp", 465, MAILER_SECURITY_TLS },
    { MAILER_SERVER_SMTP, "mail", 465, MAILER_SECURITY_TLS },
    { MAILER_SERVER_SMTP, "smtp", 587, MAILER_SECURITY_STARTTLS },
    { MAILER_SERVER_SMTP, "mail", 587, MAILER_SECURITY_STARTTLS },
  };

  for (guint i = 0; i < G_N_ELEMENTS (guesses); i++)
    start_probe (self, task, guesses[i].type, guesses[i].prefix, guesses[i].port, guesses[i].security);
}

/* The object */

static void
mailer_autodetect_finalize (GObject *object)
{
  MailerAutodetect *self = MAILER_AUTODETECT (object);

  g_free (self->address);
  g_free (self->local);
  g_free (self->domain);
  g_free (self->status);
  g_clear_object (&self->tls_database);
  g_hash_table_unref (self->ports);

  G_OBJECT_CLASS (mailer_autodetect_parent_class)->finalize (object);
}

static void
mailer_autodetect_get_property (GObject    *object,
                                guint       prop_id,
                                GValue     *value,
                                GParamSpec *pspec)
{
  MailerAutodetect *self = MAILER_AUTODETECT (object);

  switch (prop_id)
    {
    case PROP_STATUS:
      g_value_set_string (value, self->status);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
mailer_autodetect_class_init (MailerAutodetectClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = mailer_autodetect_finalize;
  object_class->get_property = mailer_autodetect_get_property;

  /**
   * MailerAutodetect:status:
   *
   * What is being tried, for the user to see; %NULL when done.
   */
  properties[PROP_STATUS] = g_param_spec_string ("status", NULL, NULL, NULL,
                                                 G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
mailer_autodetect_init (MailerAutodetect *self)
{
  self->ports = g_hash_table_new (NULL, NULL);
}

/**
 * mailer_autodetect_new:
 * @address: the email address whose servers to find
 */
MailerAutodetect *
mailer_autodetect_new (const char *address)
{
  MailerAutodetect *self = g_object_new (MAILER_TYPE_AUTODETECT, NULL);

  self->address = g_strstrip (g_strdup (address ? address : ""));
  if (!split_address (self->address, &self->local, &self->domain))
    {
      self->local = NULL;
      self->domain = NULL;
    }
  return self;
}

/* The domain of the address, or %NULL when it is not an address. */
const char *
mailer_autodetect_get_domain (MailerAutodetect *self)
{
  g_return_val_if_fail (MAILER_IS_AUTODETECT (self), NULL);
  return self->domain;
}

const char *
mailer_autodetect_get_status (MailerAutodetect *self)
{
  g_return_val_if_fail (MAILER_IS_AUTODETECT (self), NULL);
  return self->status;
}

void
mailer_autodetect_set_tls_database (MailerAutodetect *self,
                                    GTlsDatabase     *database)
{
  g_return_if_fail (MAILER_IS_AUTODETECT (self));
  g_set_object (&self->tls_database, database);
}

void
mailer_autodetect_map_port (MailerAutodetect *self,
                            guint16           standard,
                            guint16           actual)
{
  g_return_if_fail (MAILER_IS_AUTODETECT (self));
  g_hash_table_insert (self->ports, GUINT_TO_POINTER (standard), GUINT_TO_POINTER (actual));
}

/**
 * mailer_autodetect_run_async:
 *
 * Starts every source at once; finishes when all have answered (or given
 * up: autoconfig and probes have time limits).
 */
void
mailer_autodetect_run_async (MailerAutodetect    *self,
                             GCancellable        *cancellable,
                             GAsyncReadyCallback  callback,
                             gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autofree char *status = NULL;
  Run *run;

  g_return_if_fail (MAILER_IS_AUTODETECT (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, mailer_autodetect_run_async);
  if (self->domain == NULL)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                               "“%s” is not an email address", self->address);
      return;
    }
  run = g_new0 (Run, 1);
  run->found = g_ptr_array_new_with_free_func ((GDestroyNotify) mailer_server_candidate_free);
  g_task_set_task_data (task, run, (GDestroyNotify) run_free);

  /* Held while the sources start, so none finishes the run early. */
  run->pending = 1;
  {
    g_autoptr(GPtrArray) known = mailer_autodetect_lookup_provider (self->address);

    for (guint i = 0; i < known->len; i++)
      g_ptr_array_add (run->found, g_steal_pointer (&known->pdata[i]));
  }
  status = g_strdup_printf ("Looking up the mail servers of %s", self->domain);
  set_status (self, status);
  start_autoconfig (self, task);
  start_dns (self, task);
  start_guesses (self, task);
  source_done (task);
}

/**
 * mailer_autodetect_run_finish:
 *
 * Returns: (transfer full) (element-type MailerServerCandidate): the
 *   servers found, the best first of each type; an error when none
 */
GPtrArray *
mailer_autodetect_run_finish (MailerAutodetect  *self,
                              GAsyncResult      *result,
                              GError           **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}
