//! A fake SMTP relay on 127.0.0.1: speaks enough ESMTP for lettre (EHLO, STARTTLS with a
//! self-signed certificate made at start, implicit TLS, AUTH PLAIN and LOGIN, MAIL, RCPT, DATA,
//! RSET, NOOP, QUIT), records every message it accepts, and can be told at run time to reject a
//! recipient, answer 451 to the next messages, or drop connections.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use mail_parser::{MessageParser, MimeHeaders, PartType};
use std::collections::HashSet;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::server::TlsStream;

/// The longest command line accepted (RFC 5321 allows 512 octets; extensions add a little).
const MAX_LINE: usize = 4096;
/// The largest message accepted, also advertised as `SIZE`.
const MAX_MESSAGE: usize = 10 * 1024 * 1024;

/// How the fake relay behaves from the start.
#[derive(Debug, Clone)]
pub struct FakeSmtpOptions {
    /// Clients must sign in with these (AUTH PLAIN or LOGIN, offered only over TLS) before MAIL.
    pub credentials: Option<(String, String)>,
    /// Refuse MAIL on a connection that has not been upgraded with STARTTLS (530 5.7.0).
    pub require_tls: bool,
    /// Offer STARTTLS in the EHLO reply.
    pub offer_starttls: bool,
    /// Start TLS on accept (implicit TLS, like port 465) instead of plain text.
    pub implicit_tls: bool,
}

impl Default for FakeSmtpOptions {
    /// A relay offering STARTTLS, not requiring it, without credentials.
    fn default() -> FakeSmtpOptions {
        FakeSmtpOptions { credentials: None, require_tls: false, offer_starttls: true, implicit_tls: false }
    }
}

impl FakeSmtpOptions {
    /// Requires these credentials before MAIL.
    pub fn with_credentials(mut self, username: &str, password: &str) -> FakeSmtpOptions {
        self.credentials = Some((username.to_owned(), password.to_owned()));
        self
    }

    /// Refuses MAIL before STARTTLS.
    pub fn requiring_tls(mut self) -> FakeSmtpOptions {
        self.require_tls = true;
        self
    }

    /// Speaks TLS from the first byte.
    pub fn with_implicit_tls(mut self) -> FakeSmtpOptions {
        self.implicit_tls = true;
        self
    }
}

/// Where a connection is dropped without an answer (see [`FakeSmtp::close_next_connections`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseAt {
    /// Right after accepting, before the 220 greeting: the relay is overloaded or restarting.
    Greeting,
    /// After the message's final dot, before the reply: the relay has the message (it is
    /// recorded) but the client never hears so, and will retry.
    AfterData,
}

/// One message the fake relay accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedMail {
    /// The envelope sender (`MAIL FROM`).
    pub from: String,
    /// The envelope recipients (`RCPT TO`).
    pub to: Vec<String>,
    /// The message as sent (RFC 5322), dot-unstuffed, without the final dot line.
    pub data: String,
    /// The connection was encrypted (STARTTLS or implicit TLS) when the message came.
    pub over_tls: bool,
    /// The user the client signed in as, if it did.
    pub authenticated_as: Option<String>,
}

impl ReceivedMail {
    fn parsed(&self) -> Option<mail_parser::Message<'_>> {
        MessageParser::default().parse(self.data.as_bytes())
    }

    /// The Subject header, decoded (RFC 2047).
    pub fn subject(&self) -> Option<String> {
        self.parsed()?.subject().map(str::to_owned)
    }

    /// The Message-ID header with its angle brackets: `<balagh-outbox-7@balagh.example>`.
    pub fn message_id(&self) -> Option<String> {
        self.parsed()?.message_id().map(|id| format!("<{id}>"))
    }

    /// A header's value as written, unfolded, or `None` when absent.
    pub fn header(&self, name: &str) -> Option<String> {
        let parsed = self.parsed()?;
        let raw = parsed.header_raw(name)?;
        Some(raw.split(['\r', '\n']).map(str::trim).filter(|part| !part.is_empty()).collect::<Vec<_>>().join(" "))
    }

    /// The top-level content type, `multipart/alternative` or `text/plain`.
    pub fn content_type(&self) -> Option<String> {
        let parsed = self.parsed()?;
        let content_type = parsed.root_part().content_type()?;
        Some(match content_type.subtype() {
            Some(subtype) => format!("{}/{}", content_type.ctype(), subtype).to_ascii_lowercase(),
            None => content_type.ctype().to_ascii_lowercase(),
        })
    }

    /// The decoded `text/plain` part (quoted-printable or base64 undone, charset applied).
    pub fn text(&self) -> Option<String> {
        let parsed = self.parsed()?;
        parsed.parts.iter().find_map(|part| match &part.body {
            PartType::Text(text) if part.is_content_type("text", "plain") || part.content_type().is_none() => Some(text.to_string()),
            _ => None,
        })
    }

    /// The decoded `text/html` part.
    pub fn html(&self) -> Option<String> {
        let parsed = self.parsed()?;
        parsed.parts.iter().find_map(|part| match &part.body {
            PartType::Html(html) => Some(html.to_string()),
            _ => None,
        })
    }
}

/// What the tests can change while the relay runs.
#[derive(Debug, Default)]
struct Faults {
    rejected_recipients: HashSet<String>,
    temporary_failures: u32,
    close_next: u32,
    close_at: Option<CloseAt>,
}

#[derive(Debug, Default)]
struct Shared {
    received: Vec<ReceivedMail>,
    faults: Faults,
    accepted_connections: u64,
    queue_ids: u64,
}

/// A running fake SMTP relay. It stops (listener and open connections) when dropped, or, waiting
/// until its port is closed, with [`FakeSmtp::stop`].
pub struct FakeSmtp {
    address: SocketAddr,
    certificate_pem: String,
    shared: Arc<Mutex<Shared>>,
    shutdown: watch::Sender<()>,
    accepting: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for FakeSmtp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeSmtp").field("address", &self.address).finish_non_exhaustive()
    }
}

struct Server {
    options: FakeSmtpOptions,
    acceptor: TlsAcceptor,
    shared: Arc<Mutex<Shared>>,
}

impl FakeSmtp {
    /// Makes a self-signed certificate for `localhost` and `127.0.0.1` and listens on
    /// 127.0.0.1 on a free port.
    pub async fn start(options: FakeSmtpOptions) -> FakeSmtp {
        let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).expect("self-signed certificate");
        let certificate_pem = certified.cert.pem();
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(certified.signing_key.serialize_der()));
        let certificate: CertificateDer<'static> = certified.cert.der().clone();
        let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
        let config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_no_client_auth()
            .with_single_cert(vec![certificate], key)
            .expect("server certificate");
        let acceptor = TlsAcceptor::from(Arc::new(config));

        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
        let address = listener.local_addr().expect("local address");
        let shared = Arc::new(Mutex::new(Shared::default()));
        let (shutdown, stopped) = watch::channel(());
        let server = Arc::new(Server { options, acceptor, shared: Arc::clone(&shared) });
        let accepting = tokio::spawn(accept_loop(listener, server, stopped));
        FakeSmtp { address, certificate_pem, shared, shutdown, accepting }
    }

    /// Stops the relay and returns once its port is closed: a client connecting afterwards is
    /// refused, and open connections are dropped.
    pub async fn stop(self) {
        let FakeSmtp { shutdown, accepting, .. } = self;
        drop(shutdown);
        // The accept loop returns (dropping the listener) as soon as it sees the signal.
        let _ = accepting.await;
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Always `127.0.0.1`, a name the certificate carries.
    pub fn host(&self) -> String {
        self.address.ip().to_string()
    }

    pub fn port(&self) -> u16 {
        self.address.port()
    }

    /// The self-signed certificate in PEM, for the client to trust.
    pub fn certificate_pem(&self) -> &str {
        &self.certificate_pem
    }

    /// Every message accepted so far, oldest first.
    pub fn received(&self) -> Vec<ReceivedMail> {
        self.lock().received.clone()
    }

    /// How many TCP connections were accepted so far.
    pub fn accepted_connections(&self) -> u64 {
        self.lock().accepted_connections
    }

    /// Answers `RCPT TO` for this address with 550 5.1.1 from now on.
    pub fn reject_recipient(&self, address: &str) {
        self.lock().faults.rejected_recipients.insert(address.to_ascii_lowercase());
    }

    /// Accepts this address again.
    pub fn accept_recipient(&self, address: &str) {
        self.lock().faults.rejected_recipients.remove(&address.to_ascii_lowercase());
    }

    /// Answers 451 4.3.0 at the end of DATA for the next `n` messages (they are not recorded).
    pub fn fail_next_messages_temporarily(&self, n: u32) {
        self.lock().faults.temporary_failures = n;
    }

    /// Drops the next `n` connections at `at` without an answer.
    pub fn close_next_connections(&self, n: u32, at: CloseAt) {
        let mut shared = self.lock();
        shared.faults.close_next = n;
        shared.faults.close_at = Some(at);
    }

    /// Clears every fault: all recipients accepted, no failures, no dropped connections.
    pub fn clear_faults(&self) {
        self.lock().faults = Faults::default();
    }

    fn lock(&self) -> MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Server {
    fn lock(&self) -> MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Takes one "close" fault if it applies at this point.
    fn take_close(&self, at: CloseAt) -> bool {
        let mut shared = self.lock();
        if shared.faults.close_next > 0 && shared.faults.close_at == Some(at) {
            shared.faults.close_next -= 1;
            true
        } else {
            false
        }
    }
}

async fn accept_loop(listener: TcpListener, server: Arc<Server>, stopped: watch::Receiver<()>) {
    let mut stop = stopped.clone();
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stop.changed() => return,
        };
        let Ok((stream, _peer)) = accepted else { continue };
        server.lock().accepted_connections += 1;
        let server = Arc::clone(&server);
        let mut stop = stopped.clone();
        tokio::spawn(async move {
            tokio::select! {
                result = serve(stream, &server) => {
                    if let Err(error) = result {
                        tracing::debug!(target: "balagh::fakes::smtp", "connection ended: {error}");
                    }
                }
                _ = stop.changed() => {}
            }
        });
    }
}

/// A connection before or after its TLS upgrade.
enum Connection {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl AsyncRead for Connection {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Connection::Plain(stream) => Pin::new(stream).poll_read(cx, buf),
            Connection::Tls(stream) => Pin::new(stream.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Connection {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Connection::Plain(stream) => Pin::new(stream).poll_write(cx, buf),
            Connection::Tls(stream) => Pin::new(stream.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Connection::Plain(stream) => Pin::new(stream).poll_flush(cx),
            Connection::Tls(stream) => Pin::new(stream.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Connection::Plain(stream) => Pin::new(stream).poll_shutdown(cx),
            Connection::Tls(stream) => Pin::new(stream.as_mut()).poll_shutdown(cx),
        }
    }
}

/// The state of one SMTP session.
#[derive(Default)]
struct Session {
    greeted: bool,
    tls: bool,
    authenticated_as: Option<String>,
    mail_from: Option<String>,
    rcpt_to: Vec<String>,
}

impl Session {
    fn reset_transaction(&mut self) {
        self.mail_from = None;
        self.rcpt_to.clear();
    }
}

/// What to do after a command.
enum Next {
    Continue,
    StartTls,
    Quit,
}

/// A line from the client: `None` when it closed the connection.
async fn read_line(reader: &mut BufReader<Connection>) -> io::Result<Option<Vec<u8>>> {
    let mut line = Vec::new();
    let n = (&mut *reader).take(MAX_LINE as u64 + 1).read_until(b'\n', &mut line).await?;
    if n == 0 {
        return Ok(None);
    }
    if line.len() > MAX_LINE {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "line too long"));
    }
    while line.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
        line.pop();
    }
    Ok(Some(line))
}

async fn reply(reader: &mut BufReader<Connection>, text: &str) -> io::Result<()> {
    let stream = reader.get_mut();
    stream.write_all(format!("{text}\r\n").as_bytes()).await?;
    stream.flush().await
}

async fn serve(stream: TcpStream, server: &Server) -> io::Result<()> {
    if server.take_close(CloseAt::Greeting) {
        return Ok(());
    }
    // Replies are small and each waits for the client: do not let Nagle hold them back.
    stream.set_nodelay(true)?;
    let mut session = Session::default();
    let connection = if server.options.implicit_tls {
        session.tls = true;
        Connection::Tls(Box::new(server.acceptor.accept(stream).await?))
    } else {
        Connection::Plain(stream)
    };
    let mut reader = BufReader::new(connection);
    reply(&mut reader, "220 localhost ESMTP Balagh fake SMTP").await?;
    loop {
        let Some(line) = read_line(&mut reader).await? else { return Ok(()) };
        let line = String::from_utf8_lossy(&line).into_owned();
        match command(&line, &mut session, &mut reader, server).await? {
            Next::Continue => {}
            Next::Quit => return Ok(()),
            Next::StartTls => {
                // The client waits for the 220 before its handshake, so nothing is buffered.
                let Connection::Plain(tcp) = reader.into_inner() else {
                    return Err(io::Error::other("STARTTLS on an encrypted connection"));
                };
                let tls = server.acceptor.accept(tcp).await?;
                reader = BufReader::new(Connection::Tls(Box::new(tls)));
                session = Session { tls: true, ..Session::default() };
            }
        }
    }
}

/// The address inside `<…>` after `FROM:` or `TO:`, without the parameters after it.
fn path_argument<'a>(argument: &'a str, prefix: &str) -> Option<&'a str> {
    let head = argument.get(..prefix.len())?;
    if !head.eq_ignore_ascii_case(prefix) {
        return None;
    }
    let rest = argument[prefix.len()..].trim_start();
    let rest = rest.strip_prefix('<')?;
    let end = rest.find('>')?;
    Some(&rest[..end])
}

async fn command(line: &str, session: &mut Session, reader: &mut BufReader<Connection>, server: &Server) -> io::Result<Next> {
    let (verb, argument) = match line.split_once(' ') {
        Some((verb, argument)) => (verb.to_ascii_uppercase(), argument.trim()),
        None => (line.trim().to_ascii_uppercase(), ""),
    };
    let options = &server.options;
    match verb.as_str() {
        "EHLO" | "HELO" => {
            if argument.is_empty() {
                reply(reader, "501 5.5.4 Syntax: EHLO hostname").await?;
                return Ok(Next::Continue);
            }
            session.greeted = true;
            session.reset_transaction();
            if verb == "HELO" {
                reply(reader, "250 localhost").await?;
                return Ok(Next::Continue);
            }
            let mut lines = vec![format!("localhost greets {argument}"), "8BITMIME".to_owned(), "SMTPUTF8".to_owned(), format!("SIZE {MAX_MESSAGE}")];
            if !session.tls && options.offer_starttls {
                lines.push("STARTTLS".to_owned());
            }
            if session.tls && options.credentials.is_some() {
                lines.push("AUTH PLAIN LOGIN".to_owned());
            }
            let last = lines.len() - 1;
            let text = lines.iter().enumerate().map(|(i, text)| format!("250{}{text}", if i == last { ' ' } else { '-' })).collect::<Vec<_>>().join("\r\n");
            reply(reader, &text).await?;
        }
        "STARTTLS" => {
            if session.tls {
                reply(reader, "503 5.5.1 TLS already active").await?;
            } else if !options.offer_starttls {
                reply(reader, "502 5.5.1 STARTTLS not available").await?;
            } else {
                reply(reader, "220 2.0.0 Ready to start TLS").await?;
                return Ok(Next::StartTls);
            }
        }
        "AUTH" => auth(argument, session, reader, server).await?,
        "MAIL" => {
            if !session.greeted {
                reply(reader, "503 5.5.1 Error: send HELO/EHLO first").await?;
            } else if options.require_tls && !session.tls {
                reply(reader, "530 5.7.0 Must issue a STARTTLS command first").await?;
            } else if options.credentials.is_some() && session.authenticated_as.is_none() {
                reply(reader, "530 5.7.0 Authentication required").await?;
            } else if session.mail_from.is_some() {
                reply(reader, "503 5.5.1 Error: nested MAIL command").await?;
            } else if let Some(from) = path_argument(argument, "FROM:") {
                session.mail_from = Some(from.to_owned());
                reply(reader, "250 2.1.0 Ok").await?;
            } else {
                reply(reader, "501 5.5.4 Syntax: MAIL FROM:<address>").await?;
            }
        }
        "RCPT" => {
            if session.mail_from.is_none() {
                reply(reader, "503 5.5.1 Error: need MAIL command").await?;
            } else if let Some(to) = path_argument(argument, "TO:") {
                let rejected = server.lock().faults.rejected_recipients.contains(&to.to_ascii_lowercase());
                if rejected {
                    reply(reader, &format!("550 5.1.1 <{to}>: Recipient address rejected: User unknown in virtual mailbox table")).await?;
                } else {
                    session.rcpt_to.push(to.to_owned());
                    reply(reader, "250 2.1.5 Ok").await?;
                }
            } else {
                reply(reader, "501 5.5.4 Syntax: RCPT TO:<address>").await?;
            }
        }
        "DATA" => {
            if session.mail_from.is_none() {
                reply(reader, "503 5.5.1 Error: need MAIL command").await?;
            } else if session.rcpt_to.is_empty() {
                reply(reader, "554 5.5.1 Error: no valid recipients").await?;
            } else {
                reply(reader, "354 End data with <CR><LF>.<CR><LF>").await?;
                return data(session, reader, server).await;
            }
        }
        "RSET" => {
            session.reset_transaction();
            reply(reader, "250 2.0.0 Ok").await?;
        }
        "NOOP" => reply(reader, "250 2.0.0 Ok").await?,
        "VRFY" => reply(reader, "252 2.0.0 Cannot VRFY user").await?,
        "QUIT" => {
            reply(reader, "221 2.0.0 Bye").await?;
            return Ok(Next::Quit);
        }
        _ => reply(reader, "500 5.5.2 Error: command not recognized").await?,
    }
    Ok(Next::Continue)
}

/// Reads the message up to the lone dot, then records it or applies a fault.
async fn data(session: &mut Session, reader: &mut BufReader<Connection>, server: &Server) -> io::Result<Next> {
    let mut message = Vec::new();
    let mut too_large = false;
    loop {
        let Some(line) = read_line(reader).await? else { return Ok(Next::Quit) };
        if line == b"." {
            break;
        }
        let line = line.strip_prefix(b".").unwrap_or(&line);
        if message.len() + line.len() + 2 > MAX_MESSAGE {
            too_large = true;
            continue;
        }
        message.extend_from_slice(line);
        message.extend_from_slice(b"\r\n");
    }
    let from = session.mail_from.take().unwrap_or_default();
    let to = std::mem::take(&mut session.rcpt_to);
    if too_large {
        reply(reader, "552 5.3.4 Error: message file too big").await?;
        return Ok(Next::Continue);
    }
    let mail = ReceivedMail {
        from,
        to,
        data: String::from_utf8_lossy(&message).into_owned(),
        over_tls: session.tls,
        authenticated_as: session.authenticated_as.clone(),
    };
    if server.take_close(CloseAt::AfterData) {
        server.lock().received.push(mail);
        return Ok(Next::Quit);
    }
    let queue_id = {
        let mut shared = server.lock();
        if shared.faults.temporary_failures > 0 {
            shared.faults.temporary_failures -= 1;
            None
        } else {
            shared.queue_ids += 1;
            shared.received.push(mail);
            Some(shared.queue_ids)
        }
    };
    match queue_id {
        Some(queue_id) => reply(reader, &format!("250 2.0.0 Ok: queued as FAKE{queue_id:08X}")).await?,
        None => reply(reader, "451 4.3.0 Error: queue file write error, try again later").await?,
    }
    Ok(Next::Continue)
}

async fn auth(argument: &str, session: &mut Session, reader: &mut BufReader<Connection>, server: &Server) -> io::Result<()> {
    let Some((username, password)) = &server.options.credentials else {
        reply(reader, "503 5.5.1 Error: authentication not enabled").await?;
        return Ok(());
    };
    if !session.tls {
        reply(reader, "538 5.7.11 Encryption required for requested authentication mechanism").await?;
        return Ok(());
    }
    if session.authenticated_as.is_some() {
        reply(reader, "503 5.5.1 Error: already authenticated").await?;
        return Ok(());
    }
    let (mechanism, initial) = match argument.split_once(' ') {
        Some((mechanism, initial)) => (mechanism.to_ascii_uppercase(), Some(initial.trim().to_owned())),
        None => (argument.to_ascii_uppercase(), None),
    };
    let given = match mechanism.as_str() {
        "PLAIN" => {
            let Some(response) = (match initial {
                Some(initial) => Some(initial),
                None => challenge(reader, "").await?,
            }) else {
                return Ok(());
            };
            let Some(decoded) = decode(&response) else {
                reply(reader, "501 5.5.2 Error: invalid base64 data").await?;
                return Ok(());
            };
            // authorization identity NUL authentication identity NUL password
            let mut fields = decoded.split('\0');
            match (fields.next(), fields.next(), fields.next(), fields.next()) {
                (Some(_), Some(user), Some(pass), None) => (user.to_owned(), pass.to_owned()),
                _ => {
                    reply(reader, "501 5.5.2 Error: malformed AUTH PLAIN response").await?;
                    return Ok(());
                }
            }
        }
        "LOGIN" => {
            let user = match initial {
                Some(initial) => Some(initial),
                None => challenge(reader, &BASE64.encode("Username:")).await?,
            };
            let Some(user) = user else { return Ok(()) };
            let Some(pass) = challenge(reader, &BASE64.encode("Password:")).await? else { return Ok(()) };
            match (decode(&user), decode(&pass)) {
                (Some(user), Some(pass)) => (user, pass),
                _ => {
                    reply(reader, "501 5.5.2 Error: invalid base64 data").await?;
                    return Ok(());
                }
            }
        }
        _ => {
            reply(reader, "504 5.5.4 Error: unsupported authentication mechanism").await?;
            return Ok(());
        }
    };
    if given.0 == *username && given.1 == *password {
        session.authenticated_as = Some(given.0);
        reply(reader, "235 2.7.0 Authentication successful").await
    } else {
        reply(reader, "535 5.7.8 Error: authentication failed: authentication credentials invalid").await
    }
}

/// Sends a 334 challenge and reads the answer; `None` when the client cancelled (`*`), after
/// saying so.
async fn challenge(reader: &mut BufReader<Connection>, prompt: &str) -> io::Result<Option<String>> {
    reply(reader, &format!("334 {prompt}")).await?;
    let Some(line) = read_line(reader).await? else { return Err(io::ErrorKind::UnexpectedEof.into()) };
    let line = String::from_utf8_lossy(&line).trim().to_owned();
    if line == "*" {
        reply(reader, "501 5.0.0 Authentication cancelled").await?;
        return Ok(None);
    }
    Ok(Some(line))
}

fn decode(base64: &str) -> Option<String> {
    BASE64.decode(base64.trim()).ok().and_then(|bytes| String::from_utf8(bytes).ok())
}

#[cfg(test)]
mod tests {
    use super::path_argument;

    #[test]
    fn path_arguments_are_read_with_or_without_parameters() {
        assert_eq!(path_argument("FROM:<a@example.com> BODY=8BITMIME", "FROM:"), Some("a@example.com"));
        assert_eq!(path_argument("to: <b@example.com>", "TO:"), Some("b@example.com"));
        assert_eq!(path_argument("FROM:<>", "FROM:"), Some(""));
        assert_eq!(path_argument("FROM:a@example.com", "FROM:"), None);
        assert_eq!(path_argument("TO:<a@example.com>", "FROM:"), None);
    }
}
