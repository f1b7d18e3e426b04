//! `pushlab site`: inspect a site.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Subcommand;
use pushlab::site::Site;

/// `pushlab site ...`.
#[derive(Subcommand)]
pub enum SiteCmd {
    /// Print the fetch dependency graph (the demo site without DIR).
    Graph {
        /// A site directory (with optional site.toml).
        dir: Option<PathBuf>,
    },
}

/// Runs a `site` subcommand.
pub fn run(cmd: SiteCmd) -> Result<()> {
    match cmd {
        SiteCmd::Graph { dir } => {
            let site = match &dir {
                Some(d) => {
                    Site::load(d).with_context(|| format!("loading site {}", d.display()))?
                }
                None => Site::demo(),
            };
            println!("site: {} ({} files)\n", site.name, site.len());
            print!("{}", site.graph().render(&site));
            Ok(())
        }
    }
}
