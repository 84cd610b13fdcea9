//! `balagh ivr call`: one phone call played from the terminal against a running server's voice
//! webhooks, signed and paced as a Twilio-compatible provider places it, for demos and for trying
//! a call flow without a phone line.

use anyhow::Context as _;
use balagh_fakes::caller::{Caller, CallerOptions, Waiting};
use balagh_voice::markup::Markup;
use std::collections::VecDeque;
use std::io::{BufRead, Write};
use std::path::PathBuf;

/// Arguments of `balagh ivr call`.
#[derive(Debug, Clone, clap::Args)]
#[command(after_help = "\
The call goes as a Twilio-compatible provider places it: every request is a form POST signed with \
X-Twilio-Signature over the exact URL posted to, so --url must be the URL the server believes it is \
reached at: its public base URL (public_base_url, or http://LISTEN when unset) followed by the path, \
such as https://balagh.example/ivr/voice. Going through another address (a tunnel, a proxy, \
127.0.0.1 when the server advertises a public name) makes every signature wrong and the server \
refuses the call with 403. The final status goes to the same origin's /ivr/status.

Examples:
  balagh ivr call --url http://127.0.0.1:8940/ivr/incoming --auth-token tw-token
  balagh ivr call --url https://balagh.example/ivr/voice --keys \"1,2,,3\" --say pothole.txt")]
pub struct IvrCallArgs {
    /// The server's incoming-call webhook: its public base URL followed by the path, exactly as the
    /// server signs it (see below).
    #[arg(long, value_name = "URL")]
    pub url: String,
    /// The caller's number (From), in E.164.
    #[arg(long, value_name = "NUMBER", default_value = "+966501234567")]
    pub from: String,
    /// The number called (To).
    #[arg(long, value_name = "NUMBER", default_value = "940")]
    pub to: String,
    /// The Twilio auth token the server checks signatures with (its twilio_auth_token); also
    /// BALAGH_TWILIO_AUTH_TOKEN or the settings file.
    #[arg(long, value_name = "TOKEN", env = "BALAGH_TWILIO_AUTH_TOKEN", hide_env_values = true)]
    pub auth_token: Option<String>,
    /// The AccountSid the call carries (AC…); default the settings' twilio_account_sid, else a
    /// random one.
    #[arg(long, value_name = "SID")]
    pub account_sid: Option<String>,
    /// The markup the server answers in.
    #[arg(long, value_enum, default_value_t = MarkupArg::Twiml)]
    pub markup: MarkupArg,
    /// A text file with what the caller says whenever the call records him: it is sent as the
    /// recording's transcription, and the recording lasts about as long as saying it would (2.5
    /// words a second, at least 1 s). Without it, a line is asked on standard input at each
    /// recording (an empty line is silence).
    #[arg(long, value_name = "FILE")]
    pub say: Option<PathBuf>,
    /// The caller's answers in order, comma-separated, instead of asking on standard input: keys
    /// for each menu (an empty entry is no input: "1,1,2,,3"), and one entry for each wait for an
    /// agent (the agent hangs up). When they run out, standard input is asked.
    #[arg(long, value_name = "KEYS", allow_hyphen_values = true)]
    pub keys: Option<String>,
}

/// The markup the server speaks, as named on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum MarkupArg {
    /// TwiML, as Twilio, SignalWire and Telnyx read it.
    Twiml,
    /// VoiceXML 2.1; the documents' session values are submitted with every request.
    #[value(name = "voicexml")]
    VoiceXml,
}

impl From<MarkupArg> for Markup {
    fn from(markup: MarkupArg) -> Markup {
        match markup {
            MarkupArg::Twiml => Markup::Twiml,
            MarkupArg::VoiceXml => Markup::VoiceXml,
        }
    }
}

/// Settings that fill in what the command line left out.
#[derive(Debug, Clone, Default)]
pub struct CallDefaults {
    pub auth_token: Option<String>,
    pub account_sid: Option<String>,
    /// The provider's API address (the settings' twilio_base_url): recordings live under it.
    pub recordings_base: Option<String>,
}

/// How a call went, for the caller of `run`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallSummary {
    pub call_sid: String,
    /// The ticket the call opened, if any.
    pub ticket: Option<String>,
}

/// Plays the call on the terminal: prompts on standard output, answers from `--keys` and
/// standard input.
pub async fn run(args: &IvrCallArgs, defaults: CallDefaults) -> anyhow::Result<CallSummary> {
    let stdin = std::io::stdin();
    run_with(args, defaults, stdin.lock(), std::io::stdout()).await
}

/// Plays the call, reading answers from `input` after the scripted ones and writing what is
/// heard, the questions asked and the outcome to `output`.
pub async fn run_with(args: &IvrCallArgs, defaults: CallDefaults, input: impl BufRead, mut output: impl Write) -> anyhow::Result<CallSummary> {
    let auth_token = args
        .auth_token
        .clone()
        .or(defaults.auth_token)
        .filter(|token| !token.is_empty())
        .context("no auth token: pass --auth-token or set BALAGH_TWILIO_AUTH_TOKEN to the server's twilio_auth_token (it signs every request)")?;
    let url = reqwest::Url::parse(&args.url).ok().filter(|url| matches!(url.scheme(), "http" | "https"));
    anyhow::ensure!(url.is_some(), "--url must be an http:// or https:// URL such as https://balagh.example/ivr/voice, got {:?}", args.url);
    let scripted = match &args.keys {
        Some(keys) => parse_script(keys)?,
        None => VecDeque::new(),
    };
    let said = match &args.say {
        Some(path) => {
            let text = std::fs::read_to_string(path).with_context(|| format!("cannot read --say file {}", path.display()))?;
            Some(text.split_whitespace().collect::<Vec<_>>().join(" "))
        }
        None => None,
    };
    let mut answers = Answers { scripted, input };
    let options = CallerOptions {
        from: args.from.clone(),
        to: args.to.clone(),
        account_sid: args.account_sid.clone().or(defaults.account_sid),
        markup: args.markup.into(),
        ..CallerOptions::new(args.url.clone(), auth_token)
    };
    let options = match defaults.recordings_base.filter(|base| !base.trim().is_empty()) {
        Some(base) => CallerOptions { recordings_base: base.trim_end_matches('/').to_owned(), ..options },
        None => options,
    };
    writeln!(output, "calling {} from {} to {}", args.url, args.from, args.to)?;
    let mut caller = Caller::dial(options).await.with_context(|| format!("the call to {} failed", args.url))?;
    print_heard(&caller, &mut output)?;
    let played = play(&mut caller, &mut answers, said.as_deref(), &mut output).await;
    // Whatever happened, the provider reports the call's end, as Twilio does after a failure.
    let reported = caller.hang_up().await.context("the status callback failed");
    played?;
    reported?;
    writeln!(output, "call ended")?;
    if let Some(ticket) = caller.ticket() {
        writeln!(output, "ticket: {ticket}")?;
    }
    Ok(CallSummary { call_sid: caller.call_sid().to_owned(), ticket: caller.ticket().map(str::to_owned) })
}

/// Answers what the call asks until it ends, or until the input runs out (the caller hangs up).
async fn play(caller: &mut Caller, answers: &mut Answers<impl BufRead>, said: Option<&str>, output: &mut impl Write) -> anyhow::Result<()> {
    loop {
        match caller.waiting() {
            Waiting::Ended => return Ok(()),
            Waiting::Keys => {
                let Some(keys) = answers.keys(output)? else { return hung_up(output) };
                caller.press(&keys).await.context("the menu's answer failed")?;
            }
            Waiting::Recording => {
                let text = match said {
                    Some(text) => text.to_owned(),
                    None => match answers.line("recording: say something (an empty line is silence)> ", output)? {
                        Some(text) => text,
                        None => return hung_up(output),
                    },
                };
                let seconds = speaking_seconds(&text);
                if text.is_empty() {
                    writeln!(output, "(silence)")?;
                    caller.record(0, None).await.context("the recording's answer failed")?;
                } else {
                    writeln!(output, "(recorded {seconds} s: {text})")?;
                    caller.record(seconds, Some(&text)).await.context("the recording's answer failed")?;
                }
            }
            Waiting::Agent => {
                writeln!(output, "(waiting for an agent; press Enter when the agent hangs up)")?;
                let hung = match answers.scripted.pop_front() {
                    Some(_) => true,
                    None => answers.line("", output)?.is_some(),
                };
                if !hung {
                    return hung_up(output);
                }
                caller.agent_hangs_up().await.context("the answer after the agent failed")?;
            }
        }
        print_heard(caller, output)?;
    }
}

fn hung_up(output: &mut impl Write) -> anyhow::Result<()> {
    writeln!(output, "(no more input: the caller hangs up)")?;
    Ok(())
}

fn print_heard(caller: &Caller, output: &mut impl Write) -> std::io::Result<()> {
    for text in caller.heard() {
        writeln!(output, "  « {text} »")?;
    }
    output.flush()
}

/// The caller's answers: the scripted ones first, then lines of `input`.
struct Answers<R> {
    scripted: VecDeque<String>,
    input: R,
}

impl<R: BufRead> Answers<R> {
    /// Keys for a menu; `None` when the input has run out.
    fn keys(&mut self, output: &mut impl Write) -> anyhow::Result<Option<String>> {
        if let Some(keys) = self.scripted.pop_front() {
            writeln!(output, "keys> {keys}")?;
            return Ok(Some(keys));
        }
        loop {
            let Some(line) = self.line("keys (an empty line is no input)> ", output)? else { return Ok(None) };
            match check_keys(&line) {
                Ok(()) => return Ok(Some(line)),
                Err(error) => writeln!(output, "{error}")?,
            }
        }
    }

    /// One line of input, trimmed, after showing `question`; `None` at the end of the input.
    fn line(&mut self, question: &str, output: &mut impl Write) -> anyhow::Result<Option<String>> {
        write!(output, "{question}")?;
        output.flush()?;
        let mut line = String::new();
        if self.input.read_line(&mut line).context("cannot read standard input")? == 0 {
            writeln!(output)?;
            return Ok(None);
        }
        Ok(Some(line.trim().to_owned()))
    }
}

/// The `--keys` script: comma-separated entries, each keys or empty (no input).
fn parse_script(keys: &str) -> anyhow::Result<VecDeque<String>> {
    keys.split(',')
        .map(|entry| {
            let entry = entry.trim();
            check_keys(entry).with_context(|| format!("--keys {keys:?}"))?;
            Ok(entry.to_owned())
        })
        .collect()
}

/// Whether `keys` are all phone keys.
fn check_keys(keys: &str) -> anyhow::Result<()> {
    match keys.chars().find(|key| !matches!(key, '0'..='9' | '*' | '#')) {
        Some(key) => anyhow::bail!("{key:?} is not a phone key: use 0-9, * and #"),
        None => Ok(()),
    }
}

/// How long saying `text` takes: 2.5 words a second, at least one second.
fn speaking_seconds(text: &str) -> u32 {
    let words = text.split_whitespace().count() as f64;
    ((words / 2.5).round() as u32).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::extract::{Request, State};
    use axum::response::IntoResponse;
    use balagh_voice::dialog::{Dialog, Verb};
    use std::sync::{Arc, Mutex};

    #[test]
    fn scripted_keys_are_split_on_commas_with_empty_entries_as_no_input() {
        assert_eq!(parse_script("1,1,2,,3").unwrap(), ["1", "1", "2", "", "3"]);
        assert_eq!(parse_script("12#, *").unwrap(), ["12#", "*"]);
        let error = parse_script("1,a").unwrap_err();
        assert_eq!(format!("{error:#}"), r#"--keys "1,a": 'a' is not a phone key: use 0-9, * and #"#);
    }

    #[test]
    fn speaking_takes_two_and_a_half_words_a_second_and_at_least_one() {
        assert_eq!(speaking_seconds("pothole"), 1);
        assert_eq!(speaking_seconds(""), 1);
        assert_eq!(speaking_seconds("a deep pothole on king fahd road near the school"), 4);
    }

    fn say(text: &str) -> Verb {
        Verb::Say { language: "ar-SA".into(), voice: None, text: text.into() }
    }

    /// A two-step voice app on a free port: a menu, then a recording that opens ticket 10000042.
    async fn voice_app() -> (String, Arc<Mutex<Vec<String>>>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let paths = Arc::new(Mutex::new(Vec::new()));
        async fn answer(State(paths): State<Arc<Mutex<Vec<String>>>>, request: Request) -> axum::response::Response {
            let path = request.uri().path().to_owned();
            paths.lock().unwrap().push(path.clone());
            let verbs = match path.as_str() {
                "/ivr/incoming" => vec![Verb::Gather {
                    action: "/ivr/menu".into(),
                    num_digits: Some(1),
                    finish_on_key: None,
                    timeout_seconds: 5,
                    prompts: vec![say("press 1 to report")],
                }],
                "/ivr/menu" => vec![
                    say("describe the problem"),
                    Verb::Record { action: "/ivr/recorded".into(), max_length_seconds: 60, timeout_seconds: 5, finish_on_key: '#', transcribe_callback: None },
                ],
                "/ivr/recorded" => {
                    let twiml = balagh_voice::twiml::render(&Dialog::new("ar-SA", vec![say("thank you"), Verb::Hangup]));
                    return ([("Balagh-Ticket", "10000042")], twiml).into_response();
                }
                _ => return axum::http::StatusCode::NO_CONTENT.into_response(),
            };
            balagh_voice::twiml::render(&Dialog::new("ar-SA", verbs)).into_response()
        }
        let router = axum::Router::new().fallback(answer).with_state(paths.clone());
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        (base, paths)
    }

    fn args(url: String, keys: Option<&str>) -> IvrCallArgs {
        IvrCallArgs {
            url,
            from: "+966501234567".into(),
            to: "940".into(),
            auth_token: Some("tw-token".into()),
            account_sid: None,
            markup: MarkupArg::Twiml,
            say: None,
            keys: keys.map(Into::into),
        }
    }

    #[tokio::test]
    async fn a_scripted_call_prints_the_prompts_and_the_ticket_it_opened() {
        let (base, paths) = voice_app().await;
        let mut output = Vec::new();
        let input = "a pothole on king fahd road\n".as_bytes();
        let summary = run_with(&args(format!("{base}/ivr/incoming"), Some("1")), CallDefaults::default(), input, &mut output).await.unwrap();
        let output = String::from_utf8(output).unwrap();
        assert_eq!(summary.ticket.as_deref(), Some("10000042"));
        for line in [
            "  « press 1 to report »",
            "keys> 1",
            "  « describe the problem »",
            "(recorded 2 s: a pothole on king fahd road)",
            "  « thank you »",
            "ticket: 10000042",
        ] {
            assert!(output.contains(line), "{line:?} missing from:\n{output}");
        }
        assert_eq!(*paths.lock().unwrap(), ["/ivr/incoming", "/ivr/menu", "/ivr/recorded", "/ivr/status"]);
    }

    #[tokio::test]
    async fn the_caller_hangs_up_when_the_input_runs_out() {
        let (base, paths) = voice_app().await;
        let mut output = Vec::new();
        let summary = run_with(&args(format!("{base}/ivr/incoming"), None), CallDefaults::default(), "".as_bytes(), &mut output).await.unwrap();
        assert_eq!(summary.ticket, None);
        assert!(String::from_utf8(output).unwrap().contains("the caller hangs up"));
        assert_eq!(*paths.lock().unwrap(), ["/ivr/incoming", "/ivr/status"]);
    }

    #[tokio::test]
    async fn a_url_that_is_not_http_is_refused_before_dialling() {
        let error = run_with(&args("127.0.0.1:8940/ivr/incoming".into(), None), CallDefaults::default(), "".as_bytes(), Vec::new()).await.unwrap_err();
        assert!(error.to_string().starts_with("--url must be an http:// or https:// URL"), "{error}");
    }

    #[tokio::test]
    async fn a_call_without_an_auth_token_is_refused_before_dialling() {
        let mut args = args("http://127.0.0.1:9/ivr/incoming".into(), None);
        args.auth_token = None;
        let error = run_with(&args, CallDefaults::default(), "".as_bytes(), Vec::new()).await.unwrap_err();
        assert!(error.to_string().starts_with("no auth token"), "{error}");
    }
}
