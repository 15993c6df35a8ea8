//! A fork on the page: made from the episode's header, then shown beside the episode it came
//! from, stage by stage.

use serde_json::json;

use super::browser::Browser;
use super::steps::{js, snap, until};
use super::{create, instance, server};
use crate::served::{eventually, send};

#[tokio::test(flavor = "multi_thread")]
async fn a_fork_is_made_on_the_page_and_compared_with_its_parent_side_by_side() {
    let (_dir, server) = server().await;
    let parent = create(&server, "a brave little mouse crosses the city").await;
    eventually(std::time::Duration::from_secs(30), "the outline", || async {
        (instance(&server, &parent, "outline").await["state"] == "awaiting_approval").then_some(())
    })
    .await;
    let origin = server.origin().to_owned();
    let server = &server;
    Browser::open((1280, 800))
        .await
        .run("forks", |c| async move {
            c.goto(&format!("{origin}/episodes/{parent}"))
                .await
                .expect("the episode");
            until(&c, "the outline gate", "return document.querySelector('.node-head .badge')?.textContent === 'awaiting approval';").await;
            c.find(fantoccini::Locator::XPath("//button[normalize-space()='Fork']"))
                .await
                .expect("the fork button")
                .click()
                .await
                .expect("fork");
            let fork = until(
                &c,
                "the fork's page",
                &format!(
                    "const id = location.pathname.split('/')[2]; return id && id !== {parent:?} && document.querySelector('.episode-head')?.textContent.includes('forked from') ? id : null;"
                ),
            )
            .await;
            let fork = fork.as_str().expect("the fork's id").to_owned();
            // The fork goes its own way: its outline regenerated with a note.
            let version = instance(server, &fork, "outline").await["current_version"].clone();
            let url = server.url(&format!("episodes/{fork}/nodes/outline/regenerate"));
            let answer = send(server.client.post(url).json(&json!({ "version": version, "feedback": "make it grim" })))
                .await
                .expect("regenerated");
            assert_eq!(answer.status, 200, "{:?}", answer.body);
            eventually(std::time::Duration::from_secs(30), "the fork's second outline", || async {
                (instance(server, &fork, "outline").await["version_count"] == 2).then_some(())
            })
            .await;
            // The header is redrawn as events arrive, so the link is found and clicked at once.
            until(
                &c,
                "the compare page",
                "const a = [...document.querySelectorAll('a')].find(a => a.textContent === 'compare side by side');
                 if (a && !location.pathname.startsWith('/compare/')) a.click();
                 return location.pathname.startsWith('/compare/');",
            )
            .await;
            until(
                &c,
                "both episodes side by side",
                "return document.querySelectorAll('table.compare thead th').length === 3
                    && document.querySelectorAll('table.compare tbody tr').length >= 9;",
            )
            .await;
            let outlines = js(
                &c,
                "const row = [...document.querySelectorAll('table.compare tbody tr')].find(r => r.querySelector('th').textContent === 'outline');
                 return [...row.querySelectorAll('td')].map(td => td.textContent);",
                vec![],
            )
            .await;
            let outlines = outlines.as_array().expect("two cells");
            assert_eq!(outlines.len(), 2);
            assert_ne!(outlines[0], outlines[1], "the fork's outline differs from its parent's");
            assert!(outlines[1].as_str().unwrap_or_default().contains("grim"), "{outlines:?}");
            snap(&c, "compare").await;
        })
        .await;
}
