//! Mail through an SMTP server (lettre over rustls/ring): the settings `--smtp-url` names and
//! an outbox that sends off the request path, a bounded number at a time, each exchange
//! under a time limit, so that a slow or dead server can neither hang a request nor pile up
//! work.

mod settings;

use std::future::Future;
use std::sync::Arc;

use lettre::message::header::ContentType;
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, CertificateStore, Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{Address, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

pub use settings::{Security, SmtpSettings};

/// How many mails may be on their way at once; more are refused (`/send`) or dropped with
/// a warning (notices), never queued without bound.
const IN_FLIGHT: usize = 64;

/// One plain-text message.
#[derive(Debug, Clone)]
pub struct Mail {
    /// The recipient's address.
    pub to: String,
    /// The subject (one line).
    pub subject: String,
    /// The plain-text body.
    pub body: String,
}

/// Why a mail did not go out.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// The recipient or subject cannot make a valid message.
    #[error("invalid message: {0}")]
    Invalid(String),
    /// Too many mails on their way already.
    #[error("too many mails in flight")]
    Busy,
    /// The server refused, was unreachable, or TLS failed.
    #[error("SMTP exchange failed: {0}")]
    Smtp(String),
    /// The exchange took longer than the time limit.
    #[error("SMTP exchange timed out")]
    Timeout,
}

/// Sends mail through the configured server; cheap to clone.
#[derive(Clone)]
pub struct Mailer {
    inner: Arc<Inner>,
}

struct Inner {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    slots: Arc<Semaphore>,
    settings: SmtpSettings,
}

impl Mailer {
    /// A mailer for the server `settings` names, sending as `from`, greeting as `hello`.
    pub fn new(settings: SmtpSettings, from: &str, hello: &str) -> Result<Mailer, String> {
        let from =
            mailbox(from).ok_or_else(|| format!("--mail-from {from:?} is not an address"))?;
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&settings.host)
            .port(settings.port)
            .timeout(Some(settings.timeout))
            .hello_name(ClientId::Domain(hello.to_owned()));
        if settings.security != Security::None {
            let tls = tls_parameters(&settings)?;
            builder = builder.tls(match settings.security {
                Security::Implicit => Tls::Wrapper(tls),
                _ => Tls::Required(tls),
            });
        }
        if let Some((user, password)) = &settings.credentials {
            builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
        }
        Ok(Mailer {
            inner: Arc::new(Inner {
                transport: builder.build(),
                from,
                slots: Arc::new(Semaphore::new(IN_FLIGHT)),
                settings,
            }),
        })
    }

    /// The mailer `--smtp-url` and `--mail-from` configure; the sender defaults to
    /// `roster@<host of public_url>`, which also names this client in `EHLO`.
    pub fn from_config(
        smtp_url: &str,
        mail_from: Option<&str>,
        public_url: &str,
    ) -> Result<Mailer, String> {
        let settings = SmtpSettings::parse(smtp_url)?;
        let url =
            url::Url::parse(public_url).map_err(|e| format!("--public-url is not a URL: {e}"))?;
        // EHLO takes an address literal for an IP; lettre's From header does not, so the
        // default sender of an IPv4 host is `roster@1.2.3.4` and of an IPv6 host
        // `roster@localhost`.
        let (hello, domain) = match url.host().ok_or("--public-url needs a host")? {
            url::Host::Domain(d) => (d.to_owned(), d.to_owned()),
            url::Host::Ipv4(ip) => (format!("[{ip}]"), ip.to_string()),
            url::Host::Ipv6(ip) => (format!("[IPv6:{ip}]"), "localhost".to_owned()),
        };
        let from = match mail_from {
            Some(from) => from.to_owned(),
            None => format!("roster@{domain}"),
        };
        Mailer::new(settings, &from, &hello)
    }

    /// The server's settings (no password in their `Debug`).
    pub fn settings(&self) -> &SmtpSettings {
        &self.inner.settings
    }

    /// Sends and waits for the server's answer (at most the time limit). The exchange runs
    /// in its own task, so a client that goes away does not cut it half-way.
    pub async fn send(&self, mail: Mail) -> Result<(), MailError> {
        let message = self.message(&mail)?;
        let slot = self.slot().ok_or(MailError::Busy)?;
        let inner = self.inner.clone();
        tokio::spawn(async move {
            let sent = inner.deliver(message).await;
            drop(slot);
            sent
        })
        .await
        .map_err(|e| MailError::Smtp(e.to_string()))?
    }

    /// Sends in the background; a failure is logged (without the address), not returned.
    pub fn queue(&self, mail: Mail, kind: &'static str) {
        let mailer = self.clone();
        self.background(kind, async move { mailer.deliver(mail, kind).await });
    }

    /// Runs `job` (which typically ends in [`Mailer::deliver`]) in the background when a
    /// slot is free; when the outbox is full the job is dropped with a warning.
    pub fn background(&self, kind: &'static str, job: impl Future<Output = ()> + Send + 'static) {
        if let Some(slot) = self.slot() {
            tokio::spawn(async move {
                job.await;
                drop(slot);
            });
        } else {
            tracing::warn!(kind, "mail dropped: too many mails in flight");
        }
    }

    /// Sends from inside a [`Mailer::background`] job (which holds the slot); a failure is
    /// logged without the address.
    pub async fn deliver(&self, mail: Mail, kind: &'static str) {
        let sent = match self.message(&mail) {
            Ok(message) => self.inner.deliver(message).await,
            Err(e) => Err(e),
        };
        match sent {
            Ok(()) => tracing::info!(kind, "mail sent"),
            Err(e) => tracing::warn!(kind, cause = %e, "mail not sent"),
        }
    }

    fn slot(&self) -> Option<OwnedSemaphorePermit> {
        self.inner.slots.clone().try_acquire_owned().ok()
    }

    fn message(&self, mail: &Mail) -> Result<Message, MailError> {
        let to = mailbox(&mail.to).ok_or_else(|| MailError::Invalid("recipient".into()))?;
        // Header injection: the builder encodes headers, and a line break in the subject is
        // refused outright rather than encoded.
        if mail.subject.chars().any(char::is_control) {
            return Err(MailError::Invalid("subject".into()));
        }
        Message::builder()
            .from(self.inner.from.clone())
            .to(to)
            .subject(mail.subject.clone())
            .header(ContentType::TEXT_PLAIN)
            .body(mail.body.clone())
            .map_err(|e| MailError::Invalid(e.to_string()))
    }
}

impl Inner {
    async fn deliver(&self, message: Message) -> Result<(), MailError> {
        // lettre's timeout bounds each read and write; this bounds the whole exchange.
        let limit = self.settings.timeout * 2;
        match tokio::time::timeout(limit, self.transport.send(message)).await {
            Err(_) => Err(MailError::Timeout),
            Ok(Err(e)) => Err(MailError::Smtp(describe(&e))),
            Ok(Ok(_)) => Ok(()),
        }
    }
}

/// `Name <addr>` or a bare address (address literals such as `roster@[127.0.0.1]` too).
fn mailbox(s: &str) -> Option<Mailbox> {
    s.parse::<Mailbox>()
        .ok()
        .or_else(|| s.parse::<Address>().ok().map(|a| Mailbox::new(None, a)))
}

/// What went wrong, without the server's text (which may quote the recipient's address).
fn describe(e: &lettre::transport::smtp::Error) -> String {
    let code = e.status().map(|c| c.to_string());
    let kind = if e.is_permanent() {
        "refused (permanent)"
    } else if e.is_transient() {
        "refused (transient)"
    } else if e.is_timeout() {
        "timed out"
    } else if e.is_tls() {
        "TLS failed"
    } else if e.is_client() {
        "client error"
    } else {
        "connection failed"
    };
    match code {
        Some(code) => format!("{kind}, code {code}"),
        None => kind.to_owned(),
    }
}

fn tls_parameters(settings: &SmtpSettings) -> Result<TlsParameters, String> {
    let mut builder = TlsParameters::builder(settings.host.clone());
    if let Some(path) = &settings.ca_file {
        let pem = std::fs::read(path)
            .map_err(|e| format!("--smtp-url: cannot read tls_ca {}: {e}", path.display()))?;
        let ca = Certificate::from_pem(&pem)
            .map_err(|e| format!("--smtp-url: tls_ca {} is not PEM: {e}", path.display()))?;
        // Like PostgreSQL's sslrootcert: the named CA is the only one trusted.
        builder = builder
            .certificate_store(CertificateStore::None)
            .add_root_certificate(ca);
    }
    builder
        .build_rustls()
        .map_err(|e| format!("--smtp-url: TLS set-up failed: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_sender_defaults_to_roster_at_the_public_host() {
        let by_name =
            Mailer::from_config("smtp://mail.test", None, "https://id.example.org/").unwrap();
        assert_eq!(by_name.inner.from.to_string(), "roster@id.example.org");
        for (public, domain) in [
            ("http://127.0.0.1:8080", "127.0.0.1"),
            ("http://[::1]:80", "localhost"),
        ] {
            let by_ip = Mailer::from_config("smtp://mail.test", None, public).unwrap();
            assert_eq!(by_ip.inner.from.email.domain(), domain);
            let mail = Mail {
                to: "admin@localhost".into(),
                subject: "s".into(),
                body: "b".into(),
            };
            let message = by_ip.message(&mail).expect("a message with an envelope");
            assert_eq!(message.envelope().from().unwrap().domain(), domain);
        }
        assert!(
            Mailer::from_config("smtp://mail.test", Some("not an address"), "http://h").is_err()
        );
    }

    #[tokio::test]
    async fn a_subject_with_a_line_break_makes_no_message() {
        let mailer = Mailer::from_config("smtp://mail.test", None, "http://h").unwrap();
        let mail = Mail {
            to: "a@b.example".into(),
            subject: "Hi\r\nBcc: victim@example.org".into(),
            body: "x".into(),
        };
        assert!(matches!(mailer.message(&mail), Err(MailError::Invalid(_))));
    }
}
