//! Reading a vendor's paged list whole: pages 1, 2, ... asked for in turn until the list ends.
//! Each vendor keeps only its page's shape (how to ask for page `n`, what its answer says of the
//! rest); when the list ends is decided here, the same way for every vendor.

use std::future::Future;

use crate::error::Result;

/// One page of a vendor's list, as its answer shaped it.
pub(crate) struct Page<T> {
    pub items: Vec<T>,
    /// What the answer says of the whole list.
    pub total: Total,
}

/// What a page's answer says of the whole list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Total {
    /// The items in all (Enphase's `total`).
    Items(u64),
    /// The pages in all (Solis's `pages`).
    Pages(u64),
    /// Nothing: only a short page (when the list has a full size) tells that it ended.
    Unsaid,
}

/// How a vendor's list is paged.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Paging {
    /// The items a full page holds, where a shorter page is the last one (`None`: a short page
    /// says nothing, and a page whose answer says nothing of the rest is the last).
    pub full: Option<usize>,
    /// At most this many pages are asked for, whatever the answers say.
    pub max_pages: u32,
}

impl Paging {
    /// Asks for pages 1, 2, ... with `fetch` and gathers their items, until an empty page, a
    /// short one (where pages have a full size), the total the vendor gave, or `max_pages`.
    pub(crate) async fn all<T, F, Fut>(self, mut fetch: F) -> Result<Vec<T>>
    where
        F: FnMut(u32) -> Fut,
        Fut: Future<Output = Result<Page<T>>>,
    {
        let mut all = Vec::new();
        for page in 1..=self.max_pages {
            let Page { items, total } = fetch(page).await?;
            let got = items.len();
            all.extend(items);
            let more = match total {
                Total::Items(t) => (all.len() as u64) < t,
                Total::Pages(p) => u64::from(page) < p,
                Total::Unsaid => self.full.is_some(),
            };
            if got == 0 || !more || self.full.is_some_and(|full| got < full) {
                break;
            }
        }
        Ok(all)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads a list of `n` items served `size` at a time, each answer saying `total(n)` of the
    /// whole: the items read and the pages asked for.
    async fn read(
        n: usize,
        size: usize,
        paging: Paging,
        total: impl Fn(usize) -> Total,
    ) -> (usize, u32) {
        let mut asked = 0;
        let items = paging
            .all(|page| {
                asked = page;
                let start = (page as usize - 1) * size;
                let items: Vec<usize> = (start..n.min(start + size)).collect();
                let total = total(n);
                async move { Ok(Page { items, total }) }
            })
            .await
            .unwrap();
        (items.len(), asked)
    }

    const FULL: Paging = Paging {
        full: Some(10),
        max_pages: 1000,
    };

    #[tokio::test]
    async fn a_short_page_ends_a_list_of_full_pages() {
        assert_eq!(read(25, 10, FULL, |_| Total::Unsaid).await, (25, 3));
        // A list that fills its last page costs one more (empty) page.
        assert_eq!(read(20, 10, FULL, |_| Total::Unsaid).await, (20, 3));
        assert_eq!(read(0, 10, FULL, |_| Total::Unsaid).await, (0, 1));
    }

    #[tokio::test]
    async fn the_vendors_count_ends_the_list_at_once() {
        let items = |n: usize| Total::Items(n as u64);
        assert_eq!(read(20, 10, FULL, items).await, (20, 2));
        let counted = Paging {
            full: None,
            max_pages: 100,
        };
        let pages = |n: usize| Total::Pages(n.div_ceil(10) as u64);
        assert_eq!(read(25, 10, counted, pages).await, (25, 3));
        // No count and no full size: the first page is the whole list.
        assert_eq!(read(25, 10, counted, |_| Total::Unsaid).await, (10, 1));
    }

    #[tokio::test]
    async fn no_more_than_max_pages_are_asked_for() {
        let capped = Paging {
            full: Some(10),
            max_pages: 2,
        };
        assert_eq!(read(100, 10, capped, |_| Total::Unsaid).await, (20, 2));
    }
}
