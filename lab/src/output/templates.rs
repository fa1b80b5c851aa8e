//! The report templates (minijinja; HTML output is escaped automatically)
//! and their rendering.

use anyhow::{Context, Result};
use minijinja::Environment;
use serde::Serialize;

const TEMPLATES: &[(&str, &str)] = &[
    ("run.md", include_str!("templates/run.md.j2")),
    ("run.html", include_str!("templates/run.html.j2")),
    ("bench.md", include_str!("templates/bench.md.j2")),
    ("bench.html", include_str!("templates/bench.html.j2")),
    ("findings.md", include_str!("templates/findings.md.j2")),
];

fn environment() -> Result<Environment<'static>> {
    let mut env = Environment::new();
    env.set_keep_trailing_newline(true);
    env.add_filter("mdcell", |s: String| {
        s.replace('|', "\\|").replace('\n', " ")
    });
    for (name, text) in TEMPLATES {
        env.add_template(name, text)
            .with_context(|| format!("template {name}"))?;
    }
    Ok(env)
}

/// Renders template `name` (`run.md`, `bench.html`, …) with `ctx`.
pub(crate) fn render<S: Serialize>(name: &str, ctx: S) -> Result<String> {
    environment()?
        .get_template(name)?
        .render(ctx)
        .with_context(|| format!("rendering {name}"))
}
