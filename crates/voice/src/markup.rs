//! The markup a deployment's voice platform reads (TwiML or VoiceXML), and what the two share: the
//! parse error, the portable part of a `Dialog`, and the strict XML reading both parsers start from.

use std::fmt;
use std::str::FromStr;

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};
use serde::{Deserialize, Serialize};

use crate::dialog::{Dialog, Verb};
use crate::{twiml, voicexml};

/// The markup a voice platform reads, chosen per deployment: the call flow is written once as
/// `Dialog`s and rendered in either.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Markup {
    /// TwiML, for Twilio and the platforms compatible with it.
    #[default]
    Twiml,
    /// VoiceXML 2.1, for on-premises VoiceXML browsers (Asterisk, Cisco, Avaya).
    VoiceXml,
}

impl Markup {
    /// The name used in settings: `twiml` or `voicexml`.
    pub fn as_str(self) -> &'static str {
        match self {
            Markup::Twiml => "twiml",
            Markup::VoiceXml => "voicexml",
        }
    }

    /// The document for `dialog` in this markup.
    pub fn render(self, dialog: &Dialog) -> String {
        match self {
            Markup::Twiml => twiml::render(dialog),
            Markup::VoiceXml => voicexml::render(dialog),
        }
    }

    /// Reads a document in this markup back into a `Dialog`.
    pub fn parse(self, xml: &str) -> Result<Dialog, MarkupError> {
        match self {
            Markup::Twiml => twiml::parse(xml),
            Markup::VoiceXml => voicexml::parse(xml),
        }
    }

    /// The `Content-Type` a document in this markup is served with.
    pub fn content_type(self) -> &'static str {
        match self {
            Markup::Twiml => "application/xml; charset=utf-8",
            Markup::VoiceXml => "application/voicexml+xml; charset=utf-8",
        }
    }
}

impl fmt::Display for Markup {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

impl FromStr for Markup {
    type Err = MarkupError;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        match name.trim().to_ascii_lowercase().as_str() {
            "twiml" => Ok(Markup::Twiml),
            "voicexml" => Ok(Markup::VoiceXml),
            _ => Err(MarkupError::UnknownMarkup(name.to_string())),
        }
    }
}

/// Why a document could not be read as a `Dialog`, or a markup name was not known. Each message
/// names the element, attribute or value at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MarkupError {
    /// The text is not well-formed XML (mismatched tags, bad escapes, content outside the root).
    #[error("malformed xml at byte {position}: {problem}")]
    Malformed { position: u64, problem: String },
    /// The root element is not the one the markup requires.
    #[error("the root element is <{found}>, expected <{expected}>")]
    UnexpectedRoot { expected: &'static str, found: String },
    /// An element that the markup, or the `Dialog`, does not have at this place.
    #[error("unsupported element <{element}> in <{parent}>")]
    UnsupportedElement { element: String, parent: String },
    /// Text where only elements may be.
    #[error("unexpected text {text:?} in <{parent}>")]
    UnexpectedText { text: String, parent: String },
    /// A required attribute or child element is absent.
    #[error("<{element}> lacks {what}")]
    Missing { element: String, what: String },
    /// An element holds twice what it may hold once.
    #[error("<{element}> holds more than one {what}")]
    Duplicate { element: String, what: String },
    /// An attribute or text has a value the `Dialog` cannot take.
    #[error("invalid {what} {value:?} in <{element}>: expected {expected}")]
    Invalid { element: String, what: String, value: String, expected: &'static str },
    /// VoiceXML forms that do not run one after the other in document order, as verbs do.
    #[error("form {form:?} {problem}")]
    Flow { form: String, problem: String },
    /// A markup name that is neither `twiml` nor `voicexml`.
    #[error("unknown markup {0:?}, expected \"twiml\" or \"voicexml\"")]
    UnknownMarkup(String),
}

impl Dialog {
    /// This dialog without what one of the two markups cannot carry: the document language and the
    /// session (TwiML has neither), the transcription callback and the queue's wait URL (VoiceXML
    /// has neither). Both renderings of a dialog parse back to the same portable dialog, provided
    /// its gathers prompt with `Say` and `Pause` only (the only prompts either markup plays there).
    pub fn portable(&self) -> Dialog {
        fn portable_verb(verb: &Verb) -> Verb {
            match verb {
                Verb::Record { action, max_length_seconds, timeout_seconds, finish_on_key, .. } => Verb::Record {
                    action: action.clone(),
                    max_length_seconds: *max_length_seconds,
                    timeout_seconds: *timeout_seconds,
                    finish_on_key: *finish_on_key,
                    transcribe_callback: None,
                },
                Verb::Enqueue { queue, action, .. } => Verb::Enqueue { queue: queue.clone(), wait_url: None, action: action.clone() },
                Verb::Gather { action, num_digits, finish_on_key, timeout_seconds, prompts } => Verb::Gather {
                    action: action.clone(),
                    num_digits: *num_digits,
                    finish_on_key: *finish_on_key,
                    timeout_seconds: *timeout_seconds,
                    prompts: prompts.iter().map(portable_verb).collect(),
                },
                other => other.clone(),
            }
        }
        Dialog { language: String::new(), session: Vec::new(), verbs: self.verbs.iter().map(portable_verb).collect() }
    }
}

/// An XML element as the strict reader leaves it: names as written, attributes and text unescaped.
#[derive(Debug)]
pub(crate) struct Element {
    pub name: String,
    pub attributes: Vec<(String, String)>,
    pub children: Vec<Node>,
}

#[derive(Debug)]
pub(crate) enum Node {
    Element(Element),
    Text(String),
}

impl Element {
    /// The value of the attribute `name` as written (`xml:lang` included), if present.
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str())
    }

    pub fn required(&self, name: &str) -> Result<&str, MarkupError> {
        self.attribute(name).ok_or_else(|| self.missing(format!("the {name} attribute")))
    }

    /// The attribute `name` as a whole number, or `default` when absent.
    pub fn number(&self, name: &str, default: u32) -> Result<u32, MarkupError> {
        Ok(self.optional_number(name)?.unwrap_or(default))
    }

    pub fn optional_number(&self, name: &str) -> Result<Option<u32>, MarkupError> {
        self.attribute(name).map(|value| value.trim().parse().map_err(|_| self.invalid(name, value, "a whole number"))).transpose()
    }

    /// The child elements; text other than whitespace between them is an error.
    pub fn elements(&self) -> Result<Vec<&Element>, MarkupError> {
        let mut elements = Vec::new();
        for child in &self.children {
            match child {
                Node::Element(element) => elements.push(element),
                Node::Text(text) if text.trim().is_empty() => {}
                Node::Text(text) => return Err(MarkupError::UnexpectedText { text: text.trim().to_string(), parent: self.name.clone() }),
            }
        }
        Ok(elements)
    }

    pub fn has_elements(&self) -> bool {
        self.children.iter().any(|child| matches!(child, Node::Element(_)))
    }

    /// The text content, verbatim; a child element is an error.
    pub fn text(&self) -> Result<String, MarkupError> {
        let mut text = String::new();
        for child in &self.children {
            match child {
                Node::Text(part) => text.push_str(part),
                Node::Element(element) => return Err(element.unsupported_in(&self.name)),
            }
        }
        Ok(text)
    }

    /// An element that must be empty, such as `<Hangup/>`.
    pub fn empty(&self) -> Result<(), MarkupError> {
        match self.elements()?.first() {
            Some(element) => Err(element.unsupported_in(&self.name)),
            None => Ok(()),
        }
    }

    pub fn unsupported_in(&self, parent: &str) -> MarkupError {
        MarkupError::UnsupportedElement { element: self.name.clone(), parent: parent.to_string() }
    }

    pub fn missing(&self, what: impl Into<String>) -> MarkupError {
        MarkupError::Missing { element: self.name.clone(), what: what.into() }
    }

    pub fn duplicate(&self, what: &str) -> MarkupError {
        MarkupError::Duplicate { element: self.name.clone(), what: what.to_string() }
    }

    pub fn invalid(&self, what: &str, value: &str, expected: &'static str) -> MarkupError {
        MarkupError::Invalid { element: self.name.clone(), what: what.to_string(), value: value.to_string(), expected }
    }

    /// This element as the root of a document in a markup whose root is `expected`.
    pub fn root(self, expected: &'static str) -> Result<Element, MarkupError> {
        if self.name == expected { Ok(self) } else { Err(MarkupError::UnexpectedRoot { expected, found: self.name }) }
    }
}

/// Reads `xml` strictly: end tags match their start tags, entities are the predefined ones or
/// character references, and nothing but whitespace, comments and processing instructions sits
/// outside the one root element. Comments, processing instructions and a DOCTYPE are skipped.
pub(crate) fn read_document(xml: &str) -> Result<Element, MarkupError> {
    let mut reader = Reader::from_str(xml);
    let mut open: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    loop {
        let position = reader.buffer_position();
        let malformed = |problem: String| MarkupError::Malformed { position, problem };
        let event = reader.read_event().map_err(|error| MarkupError::Malformed { position: reader.error_position(), problem: error.to_string() })?;
        let text = match event {
            Event::Start(start) | Event::Empty(start) if root.is_some() && open.is_empty() => {
                return Err(malformed(format!("a second root element <{}>", String::from_utf8_lossy(start.name().as_ref()))));
            }
            Event::Start(start) => {
                open.push(element(&start, &reader).map_err(malformed)?);
                continue;
            }
            Event::Empty(start) => {
                close(element(&start, &reader).map_err(malformed)?, &mut open, &mut root);
                continue;
            }
            Event::End(_) => {
                // The reader checks that end names match, so this pops the element being closed.
                if let Some(element) = open.pop() {
                    close(element, &mut open, &mut root);
                }
                continue;
            }
            Event::Text(text) => text.xml10_content().map_err(|error| malformed(error.to_string()))?.into_owned(),
            Event::CData(data) => data.xml10_content().map_err(|error| malformed(error.to_string()))?.into_owned(),
            Event::GeneralRef(reference) => {
                let name = reference.decode().map_err(|error| malformed(error.to_string()))?;
                match reference.resolve_char_ref() {
                    Ok(Some(character)) => character.to_string(),
                    Ok(None) => quick_xml::escape::resolve_xml_entity(&name).ok_or_else(|| malformed(format!("unknown entity `&{name};`")))?.to_string(),
                    Err(error) => return Err(malformed(format!("bad character reference `&{name};`: {error}"))),
                }
            }
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) | Event::DocType(_) => continue,
            Event::Eof => break,
        };
        match open.last_mut() {
            Some(parent) => match parent.children.last_mut() {
                Some(Node::Text(previous)) => previous.push_str(&text),
                _ => parent.children.push(Node::Text(text)),
            },
            None if text.trim().is_empty() => {}
            None => {
                let place = if root.is_some() { "after" } else { "before" };
                return Err(malformed(format!("text {:?} {place} the root element", text.trim())));
            }
        }
    }
    let end = reader.buffer_position();
    if let Some(element) = open.last() {
        return Err(MarkupError::Malformed { position: end, problem: format!("unclosed element <{}>", element.name) });
    }
    root.ok_or(MarkupError::Malformed { position: end, problem: "the document has no root element".to_string() })
}

fn element(start: &BytesStart<'_>, reader: &Reader<&[u8]>) -> Result<Element, String> {
    let name = String::from_utf8_lossy(start.name().as_ref()).into_owned();
    let mut attributes = Vec::new();
    for attribute in start.attributes() {
        let attribute = attribute.map_err(|error| format!("in <{name}>: {error}"))?;
        let key = String::from_utf8_lossy(attribute.key.as_ref()).into_owned();
        let value = attribute.decode_and_unescape_value(reader.decoder()).map_err(|error| format!("in <{name} {key}>: {error}"))?;
        attributes.push((key, value.into_owned()));
    }
    Ok(Element { name, attributes, children: Vec::new() })
}

fn close(element: Element, open: &mut [Element], root: &mut Option<Element>) {
    match open.last_mut() {
        Some(parent) => parent.children.push(Node::Element(element)),
        None => *root = Some(element),
    }
}

/// What both markups' tests share: generated dialogs, one dialog per verb, and a well-formedness
/// check independent of the parsers.
#[cfg(test)]
pub(crate) mod testing {
    use proptest::prelude::*;
    use quick_xml::Reader;
    use quick_xml::events::Event;

    use crate::dialog::{Dialog, Verb};

    /// Fails unless `xml` is one well-formed element after the XML declaration: every end tag names
    /// the open element, every reference is predefined or numeric, and nothing follows the root.
    pub fn assert_well_formed(xml: &str) {
        assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"), "no XML declaration: {xml}");
        let mut reader = Reader::from_str(xml);
        reader.config_mut().check_end_names = true;
        let (mut open, mut roots) = (Vec::new(), 0);
        loop {
            match reader.read_event() {
                Ok(Event::Start(start)) => {
                    roots += usize::from(open.is_empty());
                    open.push(start.name().as_ref().to_vec());
                }
                Ok(Event::Empty(_)) => roots += usize::from(open.is_empty()),
                Ok(Event::End(end)) => assert_eq!(open.pop().as_deref(), Some(end.name().as_ref()), "mismatched end tag in {xml}"),
                Ok(Event::Text(text)) => assert!(!open.is_empty() || text.iter().all(u8::is_ascii_whitespace), "text outside the root in {xml}"),
                Ok(Event::GeneralRef(reference)) => {
                    assert!(!open.is_empty(), "reference outside the root in {xml}");
                    let name = String::from_utf8_lossy(&reference).into_owned();
                    let known = matches!(reference.resolve_char_ref(), Ok(Some(_))) || quick_xml::escape::resolve_xml_entity(&name).is_some();
                    assert!(known, "unknown entity &{name}; in {xml}");
                }
                Ok(Event::Eof) => break,
                Ok(_) => {}
                Err(error) => panic!("{error} in {xml}"),
            }
        }
        assert!(open.is_empty() && roots == 1, "not exactly one closed root element in {xml}");
    }

    /// One of each verb, with texts and URLs that need escaping.
    pub fn every_verb() -> Vec<Verb> {
        let say = |text: &str| Verb::Say { language: "ar-SA".into(), voice: Some("Polly.Zeina".into()), text: text.into() };
        vec![
            say("مرحباً <بكم> في بلاغ & 'شكراً'"),
            Verb::Say { language: String::new(), voice: None, text: "plain".into() },
            Verb::Gather {
                action: "https://940.example/voice/menu?a=1&b=2".into(),
                num_digits: Some(1),
                finish_on_key: Some('*'),
                timeout_seconds: 8,
                prompts: vec![say("اضغط 1"), Verb::Pause(1)],
            },
            Verb::Gather { action: "/voice/ticket".into(), num_digits: None, finish_on_key: None, timeout_seconds: 5, prompts: vec![] },
            Verb::Record {
                action: "https://940.example/voice/recording?r=1&s=2".into(),
                max_length_seconds: 120,
                timeout_seconds: 4,
                finish_on_key: '#',
                transcribe_callback: Some("https://940.example/voice/transcript?x=1&y=2".into()),
            },
            Verb::Pause(3),
            Verb::Enqueue {
                queue: "agents".into(),
                wait_url: Some("https://940.example/hold?a=1&b=2".into()),
                action: Some("https://940.example/after-queue".into()),
            },
            Verb::Enqueue { queue: "night-shift".into(), wait_url: None, action: None },
            Verb::Dial { number: "+966501234567".into(), action: Some("https://940.example/after-dial?a=1&b=2".into()) },
            Verb::Dial { number: "sip:agent@pbx.example".into(), action: None },
            Verb::Redirect("https://940.example/voice/start?lang=ar&retry=1".into()),
            Verb::Hangup,
        ]
    }

    fn text() -> impl Strategy<Value = String> {
        "[a-zA-Z0-9 <>&'\"\\\\\n\t؟ابتثجحخدذرزسشصضطظعغفقكلمنهوي]{0,16}"
    }

    fn url() -> impl Strategy<Value = String> {
        "https://[a-z]{1,8}\\.example/[a-z]{0,6}\\?a=[0-9<>'\"]{0,3}&b=[a-zا-ي]{0,3}"
    }

    fn key() -> impl Strategy<Value = char> {
        proptest::sample::select(vec!['0', '1', '5', '9', '*', '#'])
    }

    fn language() -> impl Strategy<Value = String> {
        proptest::sample::select(vec!["ar-SA", "en-US", ""]).prop_map(String::from)
    }

    fn say() -> impl Strategy<Value = Verb> {
        (language(), proptest::option::of("[A-Za-z.]{1,12}"), text()).prop_map(|(language, voice, text)| Verb::Say { language, voice, text })
    }

    fn verb() -> impl Strategy<Value = Verb> {
        let prompt = prop_oneof![say(), (0u32..30).prop_map(Verb::Pause)];
        prop_oneof![
            say(),
            (url(), proptest::option::of(1u32..12), proptest::option::of(key()), 0u32..60, proptest::collection::vec(prompt, 0..3)).prop_map(
                |(action, num_digits, finish_on_key, timeout_seconds, prompts)| Verb::Gather { action, num_digits, finish_on_key, timeout_seconds, prompts }
            ),
            (url(), 1u32..3600, 0u32..30, key(), proptest::option::of(url())).prop_map(
                |(action, max_length_seconds, timeout_seconds, finish_on_key, transcribe_callback)| Verb::Record {
                    action,
                    max_length_seconds,
                    timeout_seconds,
                    finish_on_key,
                    transcribe_callback
                }
            ),
            (0u32..30).prop_map(Verb::Pause),
            url().prop_map(Verb::Redirect),
            ("[a-z0-9_-]{1,12}", proptest::option::of(url()), proptest::option::of(url())).prop_map(|(queue, wait_url, action)| Verb::Enqueue {
                queue,
                wait_url,
                action
            }),
            (prop_oneof!["\\+9665[0-9]{8}", "sip:[a-z]{1,6}@pbx\\.example", "[0-9]{3,6}"], proptest::option::of(url()))
                .prop_map(|(number, action)| Verb::Dial { number, action }),
            Just(Verb::Hangup),
        ]
    }

    /// Dialogs whose gathers prompt with `Say` and `Pause`, with session names that are ECMAScript
    /// identifiers, and with texts and URLs that need XML and JavaScript escaping.
    pub fn dialog() -> impl Strategy<Value = Dialog> {
        (language(), proptest::collection::vec(("[A-Z][A-Za-z]{0,8}", text()), 0..3), proptest::collection::vec(verb(), 0..6))
            .prop_map(|(language, session, verbs)| Dialog { language, session, verbs })
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::testing::{assert_well_formed, dialog};
    use super::*;

    #[test]
    fn markup_names_read_back_and_unknown_names_list_the_accepted_ones() {
        for markup in [Markup::Twiml, Markup::VoiceXml] {
            assert_eq!(markup.as_str().parse::<Markup>(), Ok(markup));
            assert_eq!(markup.to_string(), markup.as_str());
        }
        assert_eq!(" VoiceXML ".parse::<Markup>(), Ok(Markup::VoiceXml));
        let error = "vxml".parse::<Markup>().map(|_| ()).map_err(|error| error.to_string());
        assert_eq!(error, Err("unknown markup \"vxml\", expected \"twiml\" or \"voicexml\"".to_string()));
    }

    #[test]
    fn twiml_is_the_default_and_each_markup_has_its_content_type() {
        assert_eq!(Markup::default(), Markup::Twiml);
        assert_eq!(Markup::Twiml.content_type(), "application/xml; charset=utf-8");
        assert_eq!(Markup::VoiceXml.content_type(), "application/voicexml+xml; charset=utf-8");
    }

    #[test]
    fn the_strict_reader_rejects_what_is_not_one_well_formed_element() {
        fn check(xml: &str, expected: &str) {
            let error = read_document(xml).map(|_| ()).map_err(|error| error.to_string());
            assert!(matches!(&error, Err(message) if message.contains(expected)), "{xml:?} gave {error:?}, expected {expected:?}");
        }
        check("", "the document has no root element");
        check("<a><b></a>", "expected `</b>`, but `</a>` was found");
        check("<a></b>", "expected `</a>`, but `</b>` was found");
        check("</a>", "close tag `</a>` does not match any open tag");
        check("<a>&nbsp;</a>", "unknown entity `&nbsp;`");
        check("<a>&#xZZ;</a>", "bad character reference `&#xZZ;`");
        check("<a>& b</a>", "malformed xml at byte");
        check("<a b=\"&bogus;\"/>", "in <a b>");
        check("<a b=\"1\" b=\"2\"/>", "duplicated attribute");
        check("<a/>trailing", "text \"trailing\" after the root element");
        check("leading<a/>", "text \"leading\" before the root element");
        check("<a/><b/>", "a second root element <b>");
        check("<a><b>", "unclosed element <b>");
    }

    #[test]
    fn the_strict_reader_keeps_text_verbatim_and_skips_comments() {
        let root = read_document("<?xml version=\"1.0\"?><!-- c --><a x=\"&lt;1&amp;\">  s &amp; t<![CDATA[<u>]]>&#x627; </a>\n");
        let root = root.map(|root| (root.attribute("x").map(str::to_string), root.text()));
        assert_eq!(root, Ok((Some("<1&".to_string()), Ok("  s & t<u>ا ".to_string()))));
    }

    proptest! {
        #[test]
        fn both_renderings_are_well_formed_and_parse_back_to_the_same_portable_dialog(dialog in dialog()) {
            let twiml = twiml::render(&dialog);
            let voicexml = voicexml::render(&dialog);
            assert_well_formed(&twiml);
            assert_well_formed(&voicexml);
            let from_twiml = twiml::parse(&twiml);
            let from_voicexml = voicexml::parse(&voicexml);
            prop_assert!(from_twiml.is_ok(), "{from_twiml:?} for {twiml}");
            prop_assert!(from_voicexml.is_ok(), "{from_voicexml:?} for {voicexml}");
            let (from_twiml, from_voicexml) = (from_twiml?, from_voicexml?);
            prop_assert_eq!(&from_twiml.verbs, &dialog.verbs);
            prop_assert_eq!(&from_voicexml.language, &dialog.language);
            prop_assert_eq!(&from_voicexml.session, &dialog.session);
            prop_assert_eq!(from_twiml.portable(), dialog.portable());
            prop_assert_eq!(from_voicexml.portable(), dialog.portable());
            for markup in [Markup::Twiml, Markup::VoiceXml] {
                prop_assert_eq!(markup.parse(&markup.render(&dialog)).map(|parsed| parsed.portable()), Ok(dialog.portable()));
            }
        }

        #[test]
        fn neither_parser_panics_on_arbitrary_or_damaged_input(
            dialog in dialog(),
            cut in any::<proptest::sample::Index>(),
            noise in "[<>/&;\"'a-zA-Z =#!?\\[\\]-]{0,12}",
        ) {
            for markup in [Markup::Twiml, Markup::VoiceXml] {
                let _ = markup.parse(&noise);
                let xml = markup.render(&dialog);
                let boundaries: Vec<usize> = (0..=xml.len()).filter(|&at| xml.is_char_boundary(at)).collect();
                let at = boundaries[cut.index(boundaries.len())];
                let _ = markup.parse(&xml[..at]);
                let _ = markup.parse(&format!("{}{noise}{}", &xml[..at], &xml[at..]));
            }
        }
    }
}
