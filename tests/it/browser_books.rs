//! The library's pages in real Chromium, as a person uses them with a keyboard and clicks: sign
//! up, add a book with "Look it up" (against the local fake of Open Library), add one by hand,
//! find it by search, edit it, move it to another shelf, rate it, log a reading, and delete it
//! after the confirmation page. axe-core runs on every page, in light and dark, and each is
//! saved as a screenshot at 375 px and 1280 px (target/browser-screenshots/books-*.png).

use crate::books_pages::FakeOpenLibrary;
use crate::browser::{check_page, fill, in_browser, press, wait_for_text, wait_for_url};
use crate::common::{Backend, TestApp};
use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::{Client, Locator};

const TEST: &str = "books";

/// Follows the link whose text is `text`.
async fn follow(c: &Client, text: &str) {
    c.find(Locator::XPath(&format!("//a[normalize-space(.)='{text}']")))
        .await
        .unwrap_or_else(|_| panic!("no link `{text}`"))
        .click()
        .await
        .unwrap();
}

/// The value of the field with this id.
async fn value_of(c: &Client, id: &str) -> String {
    c.find(Locator::Id(id))
        .await
        .unwrap()
        .prop("value")
        .await
        .unwrap()
        .unwrap_or_default()
}

/// Replaces what the field labelled `label` holds.
async fn replace(c: &Client, label: &str, text: &str) {
    let id = c
        .find(Locator::XPath(&format!(
            "//label[normalize-space(.)='{label}']"
        )))
        .await
        .unwrap_or_else(|_| panic!("no label `{label}`"))
        .attr("for")
        .await
        .unwrap()
        .unwrap();
    c.find(Locator::Id(&id))
        .await
        .unwrap()
        .clear()
        .await
        .unwrap();
    fill(c, label, text).await;
}

/// Chooses `option` in the select labelled `label`.
async fn choose(c: &Client, label: &str, option: &str) {
    let id = c
        .find(Locator::XPath(&format!(
            "//label[normalize-space(.)='{label}']"
        )))
        .await
        .unwrap()
        .attr("for")
        .await
        .unwrap()
        .unwrap();
    c.find(Locator::XPath(&format!(
        "//select[@id='{id}']/option[normalize-space(.)='{option}']"
    )))
    .await
    .unwrap_or_else(|_| panic!("no option `{option}` in `{label}`"))
    .click()
    .await
    .unwrap();
}

const ENTER: &str = "\u{E007}";

#[actix_web::test]
async fn a_reader_manages_books_in_the_browser() {
    let fake = FakeOpenLibrary::start(false).await;
    let app = TestApp::spawn_with(Backend::Sqlite, &[("METADATA_URL", &fake.url)]).await;
    let app = &app;
    in_browser("books_flow", |c| async move {
        // Sign up: the home page greets with empty shelves.
        // A long address: the home page's "Welcome, <email>" must wrap on a phone, not overflow
        // (check_page fails on a page wider than the screen).
        crate::browser::sign_up(&c, app, "a.reader.with.a.rather.long.address@example.org").await;
        wait_for_text(&c, "Currently reading").await;
        check_page(&c, TEST, "home-empty").await;

        // The skip link is the first thing the keyboard reaches, and it leads to the content.
        let tab = KeyActions::new("keyboard".into())
            .then(KeyAction::Down { value: '\u{E004}' })
            .then(KeyAction::Up { value: '\u{E004}' });
        c.perform_actions(tab).await.unwrap();
        let first = c.active_element().await.unwrap();
        assert_eq!(first.text().await.unwrap(), "Skip to content");

        follow(&c, "Library").await;
        wait_for_text(&c, "Your library is empty.").await;
        check_page(&c, TEST, "library-empty").await;

        // Add a book by its ISBN: "Look it up" fills the form.
        follow(&c, "Add a book").await;
        wait_for_text(&c, "Look it up").await;
        check_page(&c, TEST, "new").await;
        fill(&c, "ISBN", "978-0-441-01359-3").await;
        press(&c, "Look it up").await;
        wait_for_text(&c, "Found on 127.0.0.1").await;
        assert_eq!(value_of(&c, "title").await, "Dune");
        assert_eq!(value_of(&c, "authors").await, "Frank Herbert");
        assert_eq!(value_of(&c, "pages").await, "604");
        check_page(&c, TEST, "new-looked-up").await;
        // Enter in a field saves (the form's first button is "Add book", not "Look it up").
        fill(&c, "Tags", &format!("classics{ENTER}")).await;
        wait_for_text(&c, "Added “Dune” to your library.").await;
        check_page(&c, TEST, "book-added").await;

        // A refused form keeps what was typed and says what is wrong, next to the field.
        follow(&c, "Add a book").await;
        wait_for_text(&c, "Add a book</h1>").await;
        fill(&c, "Authors", "Ursula K. Le Guin").await;
        fill(&c, "Pages", "many").await;
        fill(&c, "Title", ENTER).await;
        wait_for_text(&c, "id=\"title-error\"").await;
        assert_eq!(value_of(&c, "authors").await, "Ursula K. Le Guin");
        check_page(&c, TEST, "new-refused").await;
        fill(&c, "Title", "The Left Hand of Darkness").await;
        replace(&c, "Pages", &format!("286{ENTER}")).await;
        wait_for_text(&c, "Added “The Left Hand of Darkness”").await;

        // Find it by search, case and accents aside.
        follow(&c, "Library").await;
        wait_for_text(&c, "1–2 of 2 books").await;
        check_page(&c, TEST, "library").await;
        fill(
            &c,
            "Search titles, authors, series, tags and descriptions",
            &format!("LE GUÍN{ENTER}"),
        )
        .await;
        wait_for_text(&c, "1–1 of 1 book matching").await;
        check_page(&c, TEST, "library-search").await;
        follow(&c, "The Left Hand of Darkness").await;
        wait_for_text(&c, "Log a reading").await;

        // Edit it.
        follow(&c, "Edit details").await;
        wait_for_text(&c, "Edit “The Left Hand of Darkness”").await;
        check_page(&c, TEST, "edit").await;
        replace(&c, "Pages", "304").await;
        fill(&c, "Series", &format!("Hainish Cycle, #4{ENTER}")).await;
        wait_for_text(&c, "Saved your changes.").await;
        let page = c.source().await.unwrap();
        assert!(page.contains("<dd>304</dd>") && page.contains("Hainish Cycle, #4"));

        // Move it to another shelf, and rate it.
        choose(&c, "Move to the shelf", "Reading").await;
        press(&c, "Move").await;
        wait_for_text(&c, "Moved to Reading.").await;
        fill(&c, "Rating out of 5", "4.5").await;
        press(&c, "Rate").await;
        wait_for_text(&c, "Rated 4.5 out of 5.").await;

        // Log a reading: one finished before it started is refused, with what was typed kept.
        fill(&c, "Pages read", "120").await;
        fill(&c, "Progress (percent)", "-5").await;
        press(&c, "Log reading").await;
        wait_for_text(&c, "id=\"progress-error\"").await;
        assert_eq!(value_of(&c, "pages_read").await, "120");
        check_page(&c, TEST, "book-reading-refused").await;
        replace(&c, "Progress (percent)", "40").await;
        press(&c, "Log reading").await;
        wait_for_text(&c, "Reading logged.").await;
        let page = c.source().await.unwrap();
        assert!(page.contains("<td>40 %</td>"), "{page}");
        check_page(&c, TEST, "book").await;

        // Delete: a confirmation page first; "Keep it" changes nothing.
        follow(&c, "Delete this book…").await;
        wait_for_text(&c, "It cannot be undone.").await;
        check_page(&c, TEST, "delete-confirm").await;
        follow(&c, "Keep it").await;
        wait_for_text(&c, "Log a reading").await;
        follow(&c, "Delete this book…").await;
        press(&c, "Delete this book").await;
        wait_for_url(&c, &app.at("/books")).await;
        wait_for_text(&c, "Deleted “The Left Hand of Darkness”.").await;
        let page = wait_for_text(&c, "1–1 of 1 book").await;
        assert!(page.contains(">Dune</a>") && !page.contains(">The Left Hand of Darkness</a>"));
        check_page(&c, TEST, "library-after-delete").await;
        follow(&c, "Panicless Library").await;
        wait_for_text(&c, "Currently reading").await;
        check_page(&c, TEST, "home").await;
    })
    .await;
    fake.stop().await;
}
