//! Keypad menus over lists longer than a keypad: seven choices a page on keys 1 to 7, 8 for more,
//! 9 for back, 0 for an agent, so no menu offers more than nine choices and the keys never move.

/// Choices per page.
pub const PAGE: usize = 7;
/// The key for the next page.
pub const MORE: char = '8';
/// The key for the previous page, or the previous menu on the first page.
pub const BACK: char = '9';
/// The key for an agent, in every menu.
pub const AGENT: char = '0';

/// What a key pressed in a paged menu means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice {
    /// The item at this index of the whole list.
    Item(usize),
    /// Go to this page.
    Page(usize),
    /// Back out of the menu (pressed `BACK` on its first page).
    Back,
    Agent,
    Invalid,
}

/// The items shown on `page` of a list of `len`: (key, index) pairs.
pub fn page_items(len: usize, page: usize) -> Vec<(char, usize)> {
    (0..PAGE).map(|i| page * PAGE + i).take_while(|&index| index < len).zip('1'..='7').map(|(index, key)| (key, index)).collect()
}

/// Whether `page` of a list of `len` has a next page.
pub fn has_more(len: usize, page: usize) -> bool {
    (page + 1) * PAGE < len
}

/// What `digits` mean on `page` of a list of `len`.
pub fn choose(len: usize, page: usize, digits: &str) -> Choice {
    let mut keys = digits.chars();
    let (Some(key), None) = (keys.next(), keys.next()) else { return Choice::Invalid };
    match key {
        AGENT => Choice::Agent,
        MORE if has_more(len, page) => Choice::Page(page + 1),
        BACK if page == 0 => Choice::Back,
        BACK => Choice::Page(page - 1),
        _ => page_items(len, page).into_iter().find(|(k, _)| *k == key).map(|(_, index)| Choice::Item(index)).unwrap_or(Choice::Invalid),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_map_to_items_pages_and_back() {
        let check = |len, page, digits: &str, expected| assert_eq!(choose(len, page, digits), expected, "{len} items, page {page}, '{digits}'");
        check(11, 0, "1", Choice::Item(0));
        check(11, 0, "7", Choice::Item(6));
        check(11, 0, "8", Choice::Page(1));
        check(11, 1, "1", Choice::Item(7));
        check(11, 1, "4", Choice::Item(10));
        check(11, 1, "5", Choice::Invalid);
        check(11, 1, "8", Choice::Invalid);
        check(11, 1, "9", Choice::Page(0));
        check(11, 0, "9", Choice::Back);
        check(3, 0, "0", Choice::Agent);
        check(3, 0, "", Choice::Invalid);
        check(3, 0, "12", Choice::Invalid);
        check(3, 0, "*", Choice::Invalid);
        check(7, 0, "8", Choice::Invalid);
    }

    #[test]
    fn no_page_offers_more_than_nine_choices() {
        for len in 0..40 {
            for page in 0..=len / PAGE {
                let choices = page_items(len, page).len() + usize::from(has_more(len, page)) + 1;
                assert!(choices <= 9, "{len} items, page {page}: {choices} choices");
            }
        }
    }
}
