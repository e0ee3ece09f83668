//! [`Rare`]: a list that most races leave empty, in 8 bytes until it holds something.

/// A list that is empty in most races (the addresses the policy refused, the failed
/// lookups, the addresses held back for the other family, the transports reported up): a
/// pointer, with no room for a `Vec` until the first item comes.
#[derive(Debug)]
#[expect(
    clippy::box_collection,
    reason = "the box is the point: 8 bytes where a Vec takes 24"
)]
pub(crate) struct Rare<T>(Option<Box<Vec<T>>>);

impl<T> Default for Rare<T> {
    fn default() -> Rare<T> {
        Rare::new()
    }
}

impl<T> Rare<T> {
    pub(crate) fn new() -> Rare<T> {
        Rare(None)
    }

    pub(crate) fn push(&mut self, item: T) {
        self.0.get_or_insert_default().push(item);
    }

    pub(crate) fn as_slice(&self) -> &[T] {
        self.0.as_deref().map_or(&[], Vec::as_slice)
    }

    pub(crate) fn len(&self) -> usize {
        self.as_slice().len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_none()
    }

    pub(crate) fn contains(&self, item: &T) -> bool
    where
        T: PartialEq,
    {
        self.as_slice().contains(item)
    }

    /// Its items, leaving it empty.
    pub(crate) fn take(&mut self) -> Vec<T> {
        self.0.take().map_or_else(Vec::new, |items| *items)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn it_holds_what_is_pushed_until_taken() {
        let mut list = Rare::new();
        assert!(list.is_empty());
        assert_eq!(list.take(), Vec::<u8>::new());
        list.push(1);
        list.push(2);
        assert_eq!((list.len(), list.is_empty()), (2, false));
        assert!(list.contains(&2) && !list.contains(&3));
        assert_eq!(list.take(), [1, 2]);
        assert!(list.is_empty());
        assert_eq!(std::mem::size_of::<Rare<u8>>(), 8);
    }
}
