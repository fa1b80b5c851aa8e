//! Walking a YAML document's events (with their positions) to name what
//! sits where: the dotted path of the field at an error's location, the
//! top-level keys.

/// The keys of the document's top-level mapping (empty if it is not one).
pub(crate) fn top_level_keys(text: &str) -> Vec<String> {
    use granit_parser::{Event, Parser};
    let mut keys = Vec::new();
    let mut depth = 0usize;
    let mut expect_key = false;
    for item in Parser::new_from_str(text) {
        let Ok((event, _)) = item else { break };
        match event {
            Event::MappingStart(..) | Event::SequenceStart(..) => {
                depth += 1;
                expect_key = depth == 1 && matches!(event, Event::MappingStart(..));
            }
            Event::MappingEnd | Event::SequenceEnd => {
                depth = depth.saturating_sub(1);
                expect_key = depth == 1;
            }
            Event::Scalar(s, ..) if depth == 1 => {
                if expect_key {
                    keys.push(s.to_string());
                }
                expect_key = !expect_key;
            }
            _ => {}
        }
    }
    keys
}

/// One open collection while walking the document.
enum Frame {
    /// A mapping: the key of the value being read, or `None` while a key
    /// is expected.
    Mapping(Option<String>),
    /// A sequence and the index of the item being read.
    Sequence(usize),
}

/// The dotted path (`steps[0].ping.count`) of the node that starts at
/// `line`/`column` (1-based, as errors report them), or of the last node
/// that starts before it.
pub(crate) fn field_at(text: &str, line: u64, column: u64) -> Option<String> {
    use granit_parser::{Event, Parser};
    let mut stack: Vec<Frame> = Vec::new();
    let mut best: Option<String> = None;
    for item in Parser::new_from_str(text) {
        let Ok((event, span)) = item else { break };
        let at = (span.start.line() as u64, span.start.col() as u64 + 1);
        if at > (line, column) {
            break;
        }
        let node = matches!(
            event,
            Event::Scalar(..) | Event::SequenceStart(..) | Event::MappingStart(..)
        );
        // A scalar where a mapping expects a key is the key, not a value.
        if let (Event::Scalar(k, ..), Some(Frame::Mapping(None))) = (&event, stack.last()) {
            let k = k.to_string();
            if at == (line, column) {
                // The error is about the key itself (e.g. an unknown field).
                let parent = path(&stack);
                return Some(if parent.is_empty() {
                    k
                } else {
                    format!("{parent}.{k}")
                });
            }
            if let Some(Frame::Mapping(key)) = stack.last_mut() {
                *key = Some(k);
            }
            continue;
        }
        if node {
            best = Some(path(&stack));
        }
        match event {
            Event::SequenceStart(..) => stack.push(Frame::Sequence(0)),
            Event::MappingStart(..) => stack.push(Frame::Mapping(None)),
            Event::SequenceEnd | Event::MappingEnd => {
                stack.pop();
                next(&mut stack);
            }
            Event::Scalar(..) => next(&mut stack),
            _ => {}
        }
    }
    best.filter(|p| !p.is_empty())
}

/// Moves the innermost collection past the value just read.
fn next(stack: &mut [Frame]) {
    match stack.last_mut() {
        Some(Frame::Mapping(key)) => *key = None,
        Some(Frame::Sequence(i)) => *i += 1,
        None => {}
    }
}

fn path(stack: &[Frame]) -> String {
    let mut out = String::new();
    for f in stack {
        match f {
            Frame::Mapping(Some(k)) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            Frame::Mapping(None) => {}
            Frame::Sequence(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "version: 1\nsteps:\n  - ping: { from: left, count: many }\n  - udp:\n      sizes: [1, x]\n";

    #[test]
    fn fields_are_named_by_position() {
        assert_eq!(field_at(DOC, 1, 10).as_deref(), Some("version"));
        let col = DOC.lines().nth(2).unwrap().find("many").unwrap() as u64 + 1;
        assert_eq!(
            field_at(DOC, 3, col).as_deref(),
            Some("steps[0].ping.count")
        );
        let col = DOC.lines().nth(4).unwrap().find('x').unwrap() as u64 + 1;
        assert_eq!(
            field_at(DOC, 5, col).as_deref(),
            Some("steps[1].udp.sizes[1]")
        );
        assert_eq!(
            field_at(DOC, 4, 5).as_deref(),
            Some("steps[1].udp"),
            "a key"
        );
        assert_eq!(top_level_keys(DOC), vec!["version", "steps"]);
        assert_eq!(
            top_level_keys("a: { b: 1 }\nc: [1, 2]\nd: 3\n"),
            vec!["a", "c", "d"]
        );
    }
}
