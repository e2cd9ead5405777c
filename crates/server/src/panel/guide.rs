//! docs/identity-providers.md, compiled in: the Setup screen shows its
//! steps and the provisioning log its advice, so the panel and the guide
//! customers follow say the same.

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};

/// The guide's Markdown.
pub(crate) const GUIDE: &str = include_str!("../../../../docs/identity-providers.md");

/// Markdown of the guide as HTML: a section (with its tables), or with
/// `inline` one line without its paragraph. The guide is ours, but raw
/// HTML in it is shown as text all the same.
pub(crate) fn html(markdown: &str, inline: bool) -> String {
    let options = if inline {
        Options::empty()
    } else {
        Options::ENABLE_TABLES
    };
    let events = Parser::new_ext(markdown, options).filter_map(|event| match event {
        Event::Start(Tag::Paragraph) | Event::End(TagEnd::Paragraph) if inline => None,
        Event::Html(raw) | Event::InlineHtml(raw) => Some(Event::Text(raw)),
        other => Some(other),
    });
    let mut out = String::new();
    pulldown_cmark::html::push_html(&mut out, events);
    out
}
