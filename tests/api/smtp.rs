//! A minimal SMTP receiver (RFC 5321) that the tests start on 127.0.0.1: it speaks EHLO,
//! STARTTLS (with a self-signed certificate), AUTH PLAIN, MAIL, RCPT, DATA, RSET, NOOP and
//! QUIT over real TCP, and records each message it accepts. It is the server side of the
//! exchange, so Roster's real SMTP client is what the tests exercise.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::TlsAcceptor;

/// How the server treats mail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Accepts every message.
    Accept,
    /// Refuses every sender with `554`.
    Refuse,
    /// Accepts connections and never says a word (a hung server).
    Silent,
}

/// One message as received.
#[derive(Debug, Clone)]
pub struct Received {
    /// The envelope sender.
    pub from: String,
    /// The envelope recipients.
    pub to: Vec<String>,
    /// The message as sent (headers and encoded body).
    pub data: String,
    /// Whether it came over TLS.
    pub tls: bool,
}

impl Received {
    /// A header's value (unfolded), by name, case-insensitively.
    pub fn header(&self, name: &str) -> Option<String> {
        let head = self.data.split("\r\n\r\n").next().unwrap_or_default();
        let unfolded = head.replace("\r\n ", " ").replace("\r\n\t", " ");
        unfolded.split("\r\n").find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.eq_ignore_ascii_case(name)
                .then(|| value.trim().to_owned())
        })
    }

    /// The body, with its transfer encoding undone, line ends as `\n`.
    pub fn body(&self) -> String {
        let raw = self.data.split_once("\r\n\r\n").map_or("", |(_, b)| b);
        let encoding = self
            .header("Content-Transfer-Encoding")
            .unwrap_or_default()
            .to_ascii_lowercase();
        let bytes = match encoding.as_str() {
            "quoted-printable" => quoted_printable(raw),
            "base64" => base64::engine::general_purpose::STANDARD
                .decode(raw.replace("\r\n", ""))
                .expect("base64 body"),
            _ => raw.as_bytes().to_vec(),
        };
        String::from_utf8(bytes).unwrap().replace("\r\n", "\n")
    }
}

fn quoted_printable(raw: &str) -> Vec<u8> {
    let raw = raw.replace("=\r\n", "");
    let bytes = raw.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'=' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
            out.push(u8::from_str_radix(hex, 16).expect("QP escape"));
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    out
}

#[derive(Default)]
struct Inbox {
    messages: Mutex<Vec<Received>>,
    arrived: Notify,
}

/// A running SMTP server; it stops when dropped.
pub struct SmtpServer {
    /// Where it listens.
    pub addr: SocketAddr,
    inbox: Arc<Inbox>,
    ca: Option<(PathBuf, tempfile::TempDir)>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl SmtpServer {
    /// A plain server that accepts every message.
    pub async fn start() -> SmtpServer {
        SmtpServer::start_with(Mode::Accept, false).await
    }

    /// A server in `mode`; with `tls`, it offers STARTTLS with a self-signed certificate
    /// for 127.0.0.1 and `localhost`, whose PEM [`SmtpServer::url`] names in `tls_ca`.
    pub async fn start_with(mode: Mode, tls: bool) -> SmtpServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (acceptor, ca) = if tls {
            let (acceptor, ca) = self_signed();
            (Some(acceptor), Some(ca))
        } else {
            (None, None)
        };
        let inbox = Arc::new(Inbox::default());
        let task = tokio::spawn(serve(listener, mode, acceptor, inbox.clone()));
        SmtpServer {
            addr,
            inbox,
            ca,
            task,
        }
    }

    /// The `--smtp-url` that reaches this server (STARTTLS required when it offers TLS).
    pub fn url(&self) -> String {
        match &self.ca {
            Some((pem, _)) => format!(
                "smtp://{}?tls=starttls&tls_ca={}&timeout=5",
                self.addr,
                pem.display()
            ),
            None => format!("smtp://{}?timeout=5", self.addr),
        }
    }

    /// Every message received so far.
    pub fn received(&self) -> Vec<Received> {
        self.inbox.messages.lock().unwrap().clone()
    }

    /// Waits (at most 10 s) until `n` messages have arrived, and returns them all.
    pub async fn wait_for(&self, n: usize) -> Vec<Received> {
        self.try_wait_for(n)
            .await
            .unwrap_or_else(|got| panic!("expected {n} messages, got {}: {got:?}", got.len()))
    }

    /// Waits (at most 10 s) until `n` messages have arrived; what came when it gives up.
    pub async fn try_wait_for(&self, n: usize) -> Result<Vec<Received>, Vec<Received>> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let arrived = self.inbox.arrived.notified();
            let got = self.received();
            if got.len() >= n {
                return Ok(got);
            }
            if tokio::time::timeout_at(deadline, arrived).await.is_err() {
                return Err(got);
            }
        }
    }
}

/// A port on which nothing listens (an SMTP server that is down).
pub async fn dead_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("smtp://{addr}?timeout=5")
}

fn self_signed() -> (TlsAcceptor, (PathBuf, tempfile::TempDir)) {
    let names = vec!["127.0.0.1".to_string(), "localhost".to_string()];
    let cert = rcgen::generate_simple_self_signed(names).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let pem = dir.path().join("smtp-ca.pem");
    std::fs::write(&pem, cert.cert.pem()).unwrap();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(cert.signing_key.serialize_der()));
    let chain: Vec<CertificateDer<'static>> = vec![cert.cert.der().clone()];
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
    (TlsAcceptor::from(Arc::new(config)), (pem, dir))
}

async fn serve(listener: TcpListener, mode: Mode, tls: Option<TlsAcceptor>, inbox: Arc<Inbox>) {
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            return;
        };
        let (tls, inbox) = (tls.clone(), inbox.clone());
        tokio::spawn(async move {
            if mode == Mode::Silent {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                drop(tcp);
                return;
            }
            let Some(tcp) = session(tcp, mode, tls.is_some(), false, &inbox).await else {
                return;
            };
            // STARTTLS: the same dialogue again, over TLS.
            if let Ok(stream) = tls.unwrap().accept(tcp).await {
                session(stream, mode, false, true, &inbox).await;
            }
        });
    }
}

/// One SMTP dialogue; returns the stream when the client asked for STARTTLS.
async fn session<S>(
    stream: S,
    mode: Mode,
    offer_tls: bool,
    secure: bool,
    inbox: &Inbox,
) -> Option<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut io = BufReader::new(stream);
    if !secure {
        reply(&mut io, "220 test.smtp ESMTP ready").await?;
    }
    let (mut from, mut to) = (String::new(), Vec::new());
    loop {
        let line = read_line(&mut io).await?;
        let upper = line.to_ascii_uppercase();
        let verb = upper
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_owned();
        match verb.as_str() {
            "EHLO" => {
                let tls = if offer_tls { "250-STARTTLS\r\n" } else { "" };
                let text = format!("250-test.smtp\r\n{tls}250-AUTH PLAIN\r\n250 8BITMIME");
                reply(&mut io, &text).await?;
            }
            "HELO" | "NOOP" => reply(&mut io, "250 OK").await?,
            "STARTTLS" if offer_tls => {
                reply(&mut io, "220 go ahead").await?;
                return Some(io.into_inner());
            }
            "AUTH" => reply(&mut io, "235 2.7.0 accepted").await?,
            "MAIL" if mode == Mode::Refuse => reply(&mut io, "554 5.7.1 refused").await?,
            "MAIL" => {
                from = path_of(&line);
                to.clear();
                reply(&mut io, "250 OK").await?;
            }
            "RCPT" => {
                to.push(path_of(&line));
                reply(&mut io, "250 OK").await?;
            }
            "DATA" => {
                reply(&mut io, "354 end with .").await?;
                let data = read_data(&mut io).await?;
                let message = Received {
                    from: std::mem::take(&mut from),
                    to: std::mem::take(&mut to),
                    data,
                    tls: secure,
                };
                inbox.messages.lock().unwrap().push(message);
                inbox.arrived.notify_waiters();
                reply(&mut io, "250 queued").await?;
            }
            "RSET" => {
                (from, to) = (String::new(), Vec::new());
                reply(&mut io, "250 OK").await?;
            }
            "QUIT" => {
                reply(&mut io, "221 bye").await?;
                return None;
            }
            _ => reply(&mut io, "502 not implemented").await?,
        }
    }
}

fn path_of(line: &str) -> String {
    let start = line.find('<').map_or(0, |i| i + 1);
    let end = line.rfind('>').unwrap_or(line.len());
    line[start..end.max(start)].to_owned()
}

async fn reply<S: AsyncRead + AsyncWrite + Unpin>(io: &mut BufReader<S>, text: &str) -> Option<()> {
    let stream = io.get_mut();
    stream
        .write_all(format!("{text}\r\n").as_bytes())
        .await
        .ok()?;
    stream.flush().await.ok()
}

async fn read_line<S: AsyncRead + Unpin>(io: &mut BufReader<S>) -> Option<String> {
    let mut line = String::new();
    match io.read_line(&mut line).await {
        Ok(0) | Err(_) => None,
        Ok(_) => Some(line.trim_end_matches(['\r', '\n']).to_owned()),
    }
}

/// The message up to the lone `.`, dot-stuffing undone, CRLF kept.
async fn read_data<S: AsyncRead + Unpin>(io: &mut BufReader<S>) -> Option<String> {
    let mut data = String::new();
    loop {
        let line = read_line(io).await?;
        if line == "." {
            return Some(data);
        }
        data.push_str(line.strip_prefix('.').unwrap_or(&line));
        data.push_str("\r\n");
    }
}
