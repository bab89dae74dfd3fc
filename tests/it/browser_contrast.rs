//! Readability checks for the browser journeys: menu entries and links must
//! contrast with what is really painted behind them (WCAG AA), measured in
//! the browser from computed styles.

use fantoccini::elements::Element;
use fantoccini::{Client, Locator};

use crate::browser_support::*;

/// The least contrast between a menu entry's text and the dropdown behind
/// it: WCAG AA for normal text. (A link button once drew its text in the
/// button's white on the white dropdown, 1:1.)
pub(crate) const MIN_CONTRAST: f64 = 4.5;

/// Opens the switcher, then the user menu (one at a time, as Pico allows),
/// and asserts that every entry, button or link, can be read: its text
/// colour against what it is drawn on. Leaves both closed.
pub(crate) async fn assert_menus_readable(c: &Client) {
    open_switcher(c).await;
    let entries = switcher_entries(c).await;
    assert!(!entries.is_empty(), "the switcher has entries");
    for (name, button) in &entries {
        assert_readable(c, button, &format!("the switcher's {name:?} button")).await;
    }
    assert_links_readable(c, "#switcher ul a").await;
    close_switcher(c).await;

    open_user_menu(c).await;
    let sign_out = find(c, "#sign-out").await;
    assert_readable(c, &sign_out, "#sign-out").await;
    assert_links_readable(c, ".user-menu ul a").await;
    close_user_menu(c).await;
}

/// [`assert_readable`] for every link matching `css`.
pub(crate) async fn assert_links_readable(c: &Client, css: &str) {
    let links = c
        .find_all(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("look for {css}: {e}"));
    assert!(!links.is_empty(), "no {css}");
    for link in &links {
        let text = link.text().await.expect("a link's text");
        assert_readable(c, link, &format!("the link {text:?} ({css})")).await;
    }
}

/// Asserts that `element` (called `what`) is shown and that its computed
/// text `color` stands out from the first non-transparent `background-color`
/// from it up: for a menu entry, the dropdown list's.
pub(crate) async fn assert_readable(c: &Client, element: &Element, what: &str) {
    assert!(
        element.is_displayed().await.unwrap_or(false),
        "{what} is not visible"
    );
    let color = element
        .css_value("color")
        .await
        .unwrap_or_else(|e| panic!("the colour of {what}: {e}"));
    let (background, painted_by) = background_behind(c, element, what).await;
    let text = Rgba::parse(&color).over(Rgba::parse(&background));
    let ratio = text.contrast_with(Rgba::parse(&background));
    assert!(
        color != background && ratio >= MIN_CONTRAST,
        "{what} is hard to read: text {color} on {background} (the background of \
         {painted_by}), contrast {ratio:.2}:1 < {MIN_CONTRAST}:1"
    );
}

/// The first non-transparent computed `background-color` from `element` up
/// through its ancestors, and which element has it.
pub(crate) async fn background_behind(
    c: &Client,
    element: &Element,
    what: &str,
) -> (String, String) {
    const LAYERS: &str = "
        const layers = [];
        for (let el = arguments[0]; el; el = el.parentElement) {
            const name = el.tagName.toLowerCase()
                + (el.id ? '#' + el.id : '')
                + [...el.classList].map((c) => '.' + c).join('');
            layers.push([getComputedStyle(el).backgroundColor, name]);
        }
        return layers;";
    let element = serde_json::to_value(element).expect("an element as a script argument");
    let layers = c
        .execute(LAYERS, vec![element])
        .await
        .unwrap_or_else(|e| panic!("the backgrounds behind {what}: {e}"));
    let layers: Vec<(String, String)> =
        serde_json::from_value(layers).expect("[background, element] pairs");
    layers
        .iter()
        .find(|(background, _)| Rgba::parse(background).a > 0.0)
        .cloned()
        .unwrap_or_else(|| panic!("nothing behind {what} has a background: {layers:?}"))
}

/// A computed CSS colour: channels 0–255, alpha 0–1.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rgba {
    r: f64,
    g: f64,
    b: f64,
    a: f64,
}

impl Rgba {
    /// Parses a computed colour, `rgb(r, g, b)` or `rgba(r, g, b, a)`.
    fn parse(css: &str) -> Self {
        let channels = css
            .strip_prefix("rgba(")
            .or_else(|| css.strip_prefix("rgb("))
            .and_then(|rest| rest.strip_suffix(')'))
            .map(|list| {
                list.split(',')
                    .map(|n| n.trim().parse::<f64>())
                    .collect::<Result<Vec<_>, _>>()
            });
        match channels {
            Some(Ok(c)) if c.len() == 3 => Self {
                r: c[0],
                g: c[1],
                b: c[2],
                a: 1.0,
            },
            Some(Ok(c)) if c.len() == 4 => Self {
                r: c[0],
                g: c[1],
                b: c[2],
                a: c[3],
            },
            _ => panic!("not an rgb()/rgba() colour: {css:?}"),
        }
    }

    /// This colour drawn over the opaque `background`.
    fn over(self, background: Self) -> Self {
        let mix = |fg: f64, bg: f64| fg * self.a + bg * (1.0 - self.a);
        Self {
            r: mix(self.r, background.r),
            g: mix(self.g, background.g),
            b: mix(self.b, background.b),
            a: 1.0,
        }
    }

    /// WCAG relative luminance.
    fn luminance(self) -> f64 {
        let linear = |channel: f64| {
            let c = channel / 255.0;
            if c <= 0.04045 {
                c / 12.92
            } else {
                ((c + 0.055) / 1.055).powf(2.4)
            }
        };
        0.2126 * linear(self.r) + 0.7152 * linear(self.g) + 0.0722 * linear(self.b)
    }

    /// WCAG contrast ratio, 1 (none) to 21 (black on white).
    fn contrast_with(self, other: Self) -> f64 {
        let (a, b) = (self.luminance(), other.luminance());
        (a.max(b) + 0.05) / (a.min(b) + 0.05)
    }
}
