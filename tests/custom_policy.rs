//! The README's "adding a policy" example, compiled and run: a policy that
//! pushes only render-blocking stylesheets works end to end.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use pushlab::client::h3::ClientOptions;
use pushlab::config::ServeOptions;
use pushlab::push::{page_children, pushable, Plan, PlanInput, PushItem, PushPolicy};
use pushlab::site::Kind;

/// Pushes the document's render-blocking stylesheets, nothing else.
pub struct PushCss;

impl PushPolicy for PushCss {
    fn name(&self) -> &'static str {
        "push-css"
    }
    fn plan(&self, input: &PlanInput<'_>) -> Plan {
        let Some(children) = page_children(input) else {
            return Plan::default();
        };
        let pushes = children
            .iter()
            .filter(|c| c.node.render_blocking && c.resource.kind == Kind::Style)
            .filter_map(|c| {
                Some(PushItem {
                    path: c.path.clone(),
                    priority: None,
                    request_headers: pushable(input.request, &c.resource)?,
                })
            })
            .collect();
        Plan {
            pushes,
            ..Plan::default()
        }
    }
}

/// The custom policy pushes exactly the two render-blocking stylesheets.
#[tokio::test]
async fn custom_policy_runs() {
    let srv = server(ServeOptions {
        policy: Arc::new(PushCss),
        ..ServeOptions::default()
    })
    .await;
    let c = client(
        srv.addr,
        ClientOptions {
            max_push_id: Some(10),
            ..opts()
        },
    )
    .await;
    let r = c
        .read_response(c.send_request("GET", "/", &[]).await.unwrap())
        .await;
    assert_eq!(r.status, 200);
    c.wait_pushes(Duration::from_secs(2)).await;
    let paths: Vec<String> = c.pushes().into_iter().map(|p| p.path).collect();
    assert_eq!(paths, vec!["/css/style.css", "/css/theme.css"]);
    c.close().await;
    srv.shutdown().await;
}
