//! Packing records into one request within the record-count and byte limits.
//! The worker hands a [`Packer`] to `Store::next_batch`, which reads records
//! until it refuses one: the store never decides what fits.

/// Admits records into a batch while both limits hold. The first record is
/// always admitted: validation guarantees it fits in a request.
pub(crate) struct Packer {
    max_records: u32,
    max_bytes: u64,
    records: u32,
    bytes: u64,
}

impl Packer {
    pub fn new(max_records: u32, max_bytes: u64) -> Self {
        Packer {
            max_records,
            max_bytes,
            records: 0,
            bytes: 0,
        }
    }

    /// Adds a record of `size` bytes if it fits; false means the batch is full.
    pub fn try_add(&mut self, size: u64) -> bool {
        let fits = self.records < self.max_records && (self.records == 0 || self.bytes + size <= self.max_bytes);
        if fits {
            self.records += 1;
            self.bytes += size;
        }
        fits
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stops_at_the_record_limit() {
        let mut packer = Packer::new(3, 1000);
        assert_eq!((0..5).filter(|_| packer.try_add(1)).count(), 3);
    }

    #[test]
    fn stops_before_the_byte_limit() {
        let mut packer = Packer::new(500, 10);
        assert!(packer.try_add(4));
        assert!(packer.try_add(6));
        assert!(!packer.try_add(1));
    }

    #[test]
    fn always_admits_a_first_record() {
        assert!(Packer::new(500, 10).try_add(11));
    }
}
