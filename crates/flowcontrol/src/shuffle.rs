//! Shuffle sharding: a flow's hand of queues (kube's `shufflesharding.Dealer`).
//!
//! A priority level has `queues` queues (the deck); each flow is dealt `handSize` distinct
//! ones (its hand) from a hash of its identity, and a request of the flow waits in the
//! shortest queue of its hand. Two flows rarely share a whole hand, so a flow that floods its
//! queues leaves most other flows with at least one queue of their own.
//!
//! The deal is kube's: the hash is read as a number in a mixed radix (`deck`, `deck - 1`,
//! ...), each digit picks one of the cards not dealt yet. It consumes about
//! `handSize * log2(queues)` bits of the hash, which kube's validation bounds by
//! [`MAX_HASH_BITS`]; that bound also keeps every hand at most [`MAX_HAND_SIZE`] cards.

use std::fmt;

/// kube's `MaxHashBits`: the bits of a 64-bit hash a deal may consume. Using all 64 would
/// make the last card uneven (2:3 between halves of the deck); 60 keeps it within 32:33.
pub const MAX_HASH_BITS: u32 = 60;

/// The largest hand any valid deck allows: 15 cards of a deck of 15 or 16 consume at most
/// 60 bits; a deck of 17 or more allows at most 14 cards.
pub const MAX_HAND_SIZE: usize = 15;

/// kube's bound on the deck: more queues than this is impractical.
pub const MAX_DECK_SIZE: u32 = 1 << 26;

/// Why a deck and hand size cannot be dealt (kube's `NewDealer` errors, same conditions).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DealerError {
    NotPositive { deck_size: u32, hand_size: u32 },
    HandLargerThanDeck { deck_size: u32, hand_size: u32 },
    DeckTooLarge { deck_size: u32 },
    TooMuchEntropy { deck_size: u32, hand_size: u32 },
}

impl fmt::Display for DealerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            DealerError::NotPositive {
                deck_size,
                hand_size,
            } => write!(
                f,
                "deckSize {deck_size} or handSize {hand_size} is not positive"
            ),
            DealerError::HandLargerThanDeck {
                deck_size,
                hand_size,
            } => write!(
                f,
                "handSize {hand_size} is greater than deckSize {deck_size}"
            ),
            DealerError::DeckTooLarge { deck_size } => {
                write!(f, "deckSize {deck_size} is impractically large")
            }
            DealerError::TooMuchEntropy {
                deck_size,
                hand_size,
            } => write!(
                f,
                "required entropy bits of deckSize {deck_size} and handSize {hand_size} is greater than {MAX_HASH_BITS}"
            ),
        }
    }
}

impl std::error::Error for DealerError {}

/// kube's `RequiredEntropyBits`: `ceil(log2(deck) * hand)`, slightly conservative.
pub fn required_entropy_bits(deck_size: u32, hand_size: u32) -> u32 {
    let bits = (f64::from(deck_size).log2() * f64::from(hand_size)).ceil();
    // `as` saturates; the inputs are u32 so the value is finite and below 2^38.
    bits as u32
}

/// Deals hands of `hand_size` distinct cards out of `0..deck_size`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dealer {
    deck_size: u32,
    hand_size: u32,
}

/// One flow's cards, in the order dealt. At most [`MAX_HAND_SIZE`], so no allocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hand {
    cards: [u32; MAX_HAND_SIZE],
    len: usize,
}

impl Hand {
    pub fn as_slice(&self) -> &[u32] {
        self.cards.get(..self.len).unwrap_or(&[])
    }
}

impl Dealer {
    /// A dealer for a valid deck and hand (kube's `NewDealer`).
    pub fn new(deck_size: u32, hand_size: u32) -> Result<Dealer, DealerError> {
        if deck_size == 0 || hand_size == 0 {
            return Err(DealerError::NotPositive {
                deck_size,
                hand_size,
            });
        }
        if hand_size > deck_size {
            return Err(DealerError::HandLargerThanDeck {
                deck_size,
                hand_size,
            });
        }
        if deck_size > MAX_DECK_SIZE {
            return Err(DealerError::DeckTooLarge { deck_size });
        }
        if required_entropy_bits(deck_size, hand_size) > MAX_HASH_BITS {
            return Err(DealerError::TooMuchEntropy {
                deck_size,
                hand_size,
            });
        }
        // Follows from the checks above (see MAX_HAND_SIZE); what only a bug could break.
        assert!(hand_size as usize <= MAX_HAND_SIZE);
        Ok(Dealer {
            deck_size,
            hand_size,
        })
    }

    /// The nearest valid dealer to a configuration that is not valid: the deck clamped to
    /// `1..=MAX_DECK_SIZE`, the hand to `1..=deck`, then shrunk until the deal fits in
    /// [`MAX_HASH_BITS`]. For objects that escaped validation; valid ones deal as given.
    pub fn nearest(deck_size: u32, hand_size: u32) -> Dealer {
        let deck_size = deck_size.clamp(1, MAX_DECK_SIZE);
        // No valid hand is larger than MAX_HAND_SIZE, so the search starts there at most.
        let mut hand_size = hand_size.clamp(1, deck_size).min(MAX_HAND_SIZE as u32);
        while hand_size > 1 && Dealer::new(deck_size, hand_size).is_err() {
            hand_size -= 1;
        }
        Dealer {
            deck_size,
            hand_size,
        }
    }

    pub fn deck_size(&self) -> u32 {
        self.deck_size
    }

    pub fn hand_size(&self) -> u32 {
        self.hand_size
    }

    /// The hand for `hash_value`: the same hash always gets the same cards in the same
    /// order, each in `0..deck_size` and all distinct.
    pub fn deal(&self, hash_value: u64) -> Hand {
        let len = (self.hand_size as usize).min(MAX_HAND_SIZE);
        // First the digits of the hash in the mixed radix deck, deck - 1, ...: digit i
        // picks among the deck_size - i cards left after i are dealt.
        let mut digits = [0u32; MAX_HAND_SIZE];
        let mut hash = hash_value;
        for (i, digit) in digits.iter_mut().take(len).enumerate() {
            // At least deck - hand + 1 >= 1 (hand <= deck): no division by 0.
            let left = u64::from(self.deck_size) - i as u64;
            *digit = (hash % left) as u32;
            hash /= left;
        }
        // Then digit i becomes a card by stepping over each earlier digit at or below it,
        // latest first, as kube's Deal does (so a hash gets the cards kube would give it).
        let mut hand = Hand {
            cards: [0; MAX_HAND_SIZE],
            len,
        };
        for (i, card) in hand.cards.iter_mut().take(len).enumerate() {
            let mut value = digits.get(i).copied().unwrap_or(0);
            for &earlier in digits.get(..i).unwrap_or(&[]).iter().rev() {
                if value >= earlier {
                    value += 1;
                }
            }
            *card = value;
        }
        hand
    }
}

/// A flow's 64-bit identity hash from its FlowSchema's name and its distinguisher.
///
/// kube hashes `name, 0x00, distinguisher` with SHA-256 and takes the first 8 bytes; this
/// crate has no SHA-256, so it takes FNV-1a over the same bytes and then MurmurHash3's
/// 64-bit finalizer, which spreads every input bit over the low bits the deal reads first
/// (plain FNV-1a's low bits depend only on the input bytes' low bits). The hands are as well
/// spread as kube's, but not the same cards.
pub fn flow_hash(flow_schema: &str, distinguisher: &str) -> u64 {
    const FNV_OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
    const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;
    let bytes = flow_schema
        .bytes()
        .chain(std::iter::once(0))
        .chain(distinguisher.bytes());
    let fnv = bytes.fold(FNV_OFFSET_BASIS, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(FNV_PRIME)
    });
    fmix64(fnv)
}

/// MurmurHash3's 64-bit finalizer: every output bit depends on every input bit.
fn fmix64(mut k: u64) -> u64 {
    k ^= k >> 33;
    k = k.wrapping_mul(0xff51_afd7_ed55_8ccd);
    k ^= k >> 33;
    k = k.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    k ^= k >> 33;
    k
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deals_kube_hands_for_known_hashes() {
        // Hash 0: every digit is 0, so the lowest cards in order.
        let dealer = Dealer::new(128, 4).unwrap();
        assert_eq!(dealer.deal(0).as_slice(), &[0, 1, 2, 3]);
        // Deck 10, hand 3, digits 7 (of 10), 3 (of 9), 5 (of 8): 487 = 7 + 10 * (3 + 9 * 5).
        // Card 2 is the 5th of the cards left after 7 and 3 are gone: 6.
        let dealer = Dealer::new(10, 3).unwrap();
        assert_eq!(dealer.deal(487).as_slice(), &[7, 3, 6]);
    }

    #[test]
    fn a_hash_always_gets_the_same_distinct_cards_in_the_deck() {
        for (deck, hand) in [
            (1, 1),
            (2, 2),
            (16, 15),
            (64, 8),
            (128, 6),
            (MAX_DECK_SIZE, 2),
        ] {
            let dealer = Dealer::new(deck, hand).unwrap();
            for flow in 0..200 {
                let hash = flow_hash("workload-low", &format!("user-{flow}"));
                let cards = dealer.deal(hash);
                assert_eq!(cards, dealer.deal(hash));
                assert_eq!(cards.as_slice().len(), hand as usize);
                assert!(cards.as_slice().iter().all(|&c| c < deck));
                let mut sorted = cards.as_slice().to_vec();
                sorted.sort_unstable();
                sorted.dedup();
                assert_eq!(sorted.len(), hand as usize, "{deck}/{hand}: {cards:?}");
            }
        }
    }

    #[test]
    fn hands_spread_evenly_over_the_deck() {
        let dealer = Dealer::new(64, 8).unwrap();
        let mut seen = [0u32; 64];
        let flows = 8_000;
        for flow in 0..flows {
            for &card in dealer
                .deal(flow_hash("global-default", &format!("ns-{flow}")))
                .as_slice()
            {
                seen[card as usize] += 1;
            }
        }
        // Each card is in 8/64 of the hands: 1000 expected; allow 15% either way.
        let expected = flows * 8 / 64;
        for (card, &count) in seen.iter().enumerate() {
            assert!(
                count.abs_diff(expected) < expected * 15 / 100,
                "card {card} dealt {count} times, expected about {expected}"
            );
        }
        // Two flows rarely hold the same whole hand.
        let a = dealer.deal(flow_hash("global-default", "alice"));
        let b = dealer.deal(flow_hash("global-default", "bob"));
        assert_ne!(a, b);
    }

    #[test]
    fn the_flow_hash_separates_name_from_distinguisher() {
        assert_ne!(flow_hash("ab", "c"), flow_hash("a", "bc"));
        assert_eq!(flow_hash("a", "b"), flow_hash("a", "b"));
    }

    #[test]
    fn refuses_what_kube_refuses() {
        assert!(matches!(
            Dealer::new(0, 1),
            Err(DealerError::NotPositive { .. })
        ));
        assert!(matches!(
            Dealer::new(4, 0),
            Err(DealerError::NotPositive { .. })
        ));
        assert!(matches!(
            Dealer::new(4, 5),
            Err(DealerError::HandLargerThanDeck { .. })
        ));
        assert!(matches!(
            Dealer::new(MAX_DECK_SIZE + 1, 1),
            Err(DealerError::DeckTooLarge { .. })
        ));
        // log2(17) * 15 = 61.3 bits.
        assert!(matches!(
            Dealer::new(17, 15),
            Err(DealerError::TooMuchEntropy { .. })
        ));
        assert!(Dealer::new(16, 15).is_ok());
    }

    #[test]
    fn the_nearest_dealer_is_always_valid() {
        for (deck, hand) in [
            (0, 0),
            (0, 9),
            (5, 9),
            (u32::MAX, u32::MAX),
            (17, 15),
            (512, 50),
        ] {
            let dealer = Dealer::nearest(deck, hand);
            assert_eq!(
                Dealer::new(dealer.deck_size(), dealer.hand_size()),
                Ok(dealer)
            );
            assert_eq!(
                dealer.deal(u64::MAX).as_slice().len(),
                dealer.hand_size() as usize
            );
        }
        assert_eq!(Dealer::nearest(17, 15).hand_size(), 14);
        assert_eq!(Dealer::nearest(64, 8), Dealer::new(64, 8).unwrap());
    }
}
