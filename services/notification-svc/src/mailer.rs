//! Where mails go: the [`Mailer`] port and its two adapters, SMTP (the
//! service) and a directory of `.eml` files (the embedded all-in-one, which
//! has no mail server). Both are lettre's own transports.

use std::{path::PathBuf, time::Duration};

use erp_service::async_trait::async_trait;
use lettre::{
    AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
    message::{Mailbox, header::ContentType},
};

use crate::mail::Notice;

/// Why a mail was not handed over.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// The server is unreachable, timed out or answered 4xx: try again later.
    #[error("mail server unavailable: {0}")]
    Transient(String),
    /// The server refused it for good (5xx), or it cannot be built: trying
    /// again cannot help.
    #[error("mail refused: {0}")]
    Permanent(String),
}

/// A bad `--smtp-url`.
#[derive(Debug, thiserror::Error)]
#[error("invalid SMTP URL {url:?}: {reason}")]
pub struct SmtpUrlError {
    url: String,
    reason: String,
}

/// Hands a finished message to a mail system.
#[async_trait]
pub trait Mailer: Send + Sync + 'static {
    /// Returns once the mail system has taken responsibility for it (SMTP:
    /// `250` after `DATA`).
    async fn send(&self, message: Message) -> Result<(), SendError>;
}

/// How long one SMTP conversation may take before it counts as failed.
pub const SMTP_TIMEOUT: Duration = Duration::from_secs(10);

/// SMTP through lettre's pooled async transport.
pub struct SmtpMailer(AsyncSmtpTransport<Tokio1Executor>);

impl SmtpMailer {
    /// `smtp://host:port` (plain; `?tls=required` for STARTTLS),
    /// `smtps://host:port` (TLS), with `user:password@` for AUTH.
    pub fn new(url: &str) -> Result<Self, SmtpUrlError> {
        let builder =
            AsyncSmtpTransport::<Tokio1Executor>::from_url(url).map_err(|e| SmtpUrlError {
                url: url.to_owned(),
                reason: e.to_string(),
            })?;
        Ok(Self(builder.timeout(Some(SMTP_TIMEOUT)).build()))
    }
}

/// Checks `url` for clap: the same parse [`SmtpMailer::new`] does.
pub fn parse_smtp_url(url: &str) -> Result<String, SmtpUrlError> {
    SmtpMailer::new(url).map(|_| url.to_owned())
}

#[async_trait]
impl Mailer for SmtpMailer {
    async fn send(&self, message: Message) -> Result<(), SendError> {
        match self.0.send(message).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_permanent() => Err(SendError::Permanent(e.to_string())),
            Err(e) => Err(SendError::Transient(e.to_string())),
        }
    }
}

/// Writes each mail as an `.eml` file into a directory (lettre's file
/// transport): the local sink of the embedded all-in-one.
pub struct DirectoryMailer(AsyncFileTransport<Tokio1Executor>);

impl DirectoryMailer {
    /// Into `dir`, created if missing.
    pub fn new(dir: impl Into<PathBuf>) -> std::io::Result<Self> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir)?;
        Ok(Self(AsyncFileTransport::new(dir)))
    }
}

#[async_trait]
impl Mailer for DirectoryMailer {
    async fn send(&self, message: Message) -> Result<(), SendError> {
        self.0
            .send(message)
            .await
            .map(|_| ())
            .map_err(|e| SendError::Transient(e.to_string()))
    }
}

/// Who mails are from and to.
#[derive(Debug, Clone)]
pub struct Addressing {
    /// The `From`.
    pub from: Mailbox,
    /// The `To`s; at least one.
    pub to: Vec<Mailbox>,
}

impl Addressing {
    /// The message for `notice`. Its `Message-ID` is the event id at the
    /// sender's domain and its `Date` the event's time, so every delivery
    /// of one event builds the same message: a copy sent again after a
    /// crash is the same mail, not a second one.
    pub fn message(&self, notice: &Notice) -> Result<Message, SendError> {
        let mut builder = Message::builder()
            .from(self.from.clone())
            .subject(notice.subject.clone())
            .message_id(Some(message_id(notice, &self.from)))
            .date(notice.date)
            .header(ContentType::TEXT_PLAIN);
        for to in &self.to {
            builder = builder.to(to.clone());
        }
        builder
            .body(notice.body.clone())
            .map_err(|e| SendError::Permanent(e.to_string()))
    }
}

/// `<event-id@sender-domain>`.
pub fn message_id(notice: &Notice, from: &Mailbox) -> String {
    format!("<{}@{}>", notice.event_id, from.email.domain())
}
