//! Every problem code Inventory answers with besides the platform's.

bazaar_platform::problem_codes! {
    /// Inventory's refusals: each a stable code and the status it is answered with.
    pub enum Code {
        /// The batch is past its expiry date.
        BatchExpired = (UNPROCESSABLE_ENTITY, "batch_expired"),
        /// A product and batch on two lines.
        DuplicateLine = (UNPROCESSABLE_ENTITY, "duplicate_line"),
        /// Less stock available than the movement takes.
        InsufficientStock = (CONFLICT, "insufficient_stock"),
        /// At most 40 printable characters.
        InvalidBatch = (UNPROCESSABLE_ENTITY, "invalid_batch"),
        /// 1 to 16 capitals, digits, - or _.
        InvalidCode = (UNPROCESSABLE_ENTITY, "invalid_code"),
        /// A location is a store or a warehouse.
        InvalidKind = (UNPROCESSABLE_ENTITY, "invalid_kind"),
        /// 1 to 100 characters.
        InvalidText = (UNPROCESSABLE_ENTITY, "invalid_text"),
        /// 1 to 86400 seconds.
        InvalidTtl = (UNPROCESSABLE_ENTITY, "invalid_ttl"),
        /// A location with this code, or for this store, exists.
        LocationExists = (CONFLICT, "location_exists"),
        /// Count products of one currency at a time.
        MixedCurrencies = (UNPROCESSABLE_ENTITY, "mixed_currencies"),
        /// Cannot be negative.
        NegativeCost = (UNPROCESSABLE_ENTITY, "negative_cost"),
        /// A product received that was not sent on the transfer.
        NotOnTransfer = (UNPROCESSABLE_ENTITY, "not_on_transfer"),
        /// More received than the transfer has outstanding.
        OverReceipt = (UNPROCESSABLE_ENTITY, "over_receipt"),
        /// The product is archived: no longer received or sold.
        ProductArchived = (CONFLICT, "product_archived"),
        /// Give either product_id or sku.
        ProductRequired = (UNPROCESSABLE_ENTITY, "product_required"),
        /// A warehouse serves every store: adding one needs access to every store.
        ReachBeyondOwn = (FORBIDDEN, "reach_beyond_own"),
        /// The reservation was sold and cannot be released.
        ReservationConsumed = (CONFLICT, "reservation_consumed"),
        /// A transfer goes to another location.
        SameLocation = (UNPROCESSABLE_ENTITY, "same_location"),
        /// A warehouse is not a store.
        StoreIdNotAllowed = (UNPROCESSABLE_ENTITY, "store_id_not_allowed"),
        /// A store location names its store.
        StoreIdRequired = (UNPROCESSABLE_ENTITY, "store_id_required"),
        /// The transfer is received or cancelled.
        TransferClosed = (CONFLICT, "transfer_closed"),
        /// Opening stock states its cost.
        UnitCostRequired = (UNPROCESSABLE_ENTITY, "unit_cost_required"),
        /// No such location in the caller's reach.
        UnknownLocation = (NOT_FOUND, "unknown_location"),
        /// No such product in the tenant.
        UnknownProduct = (NOT_FOUND, "unknown_product"),
        /// Not one of the adjustment reasons.
        UnknownReason = (UNPROCESSABLE_ENTITY, "unknown_reason"),
    }
}
