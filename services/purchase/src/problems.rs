//! Every problem code Purchase answers with besides the platform's.

bazaar_platform::problem_codes! {
    /// Purchase's refusals: each a stable code and the status it is answered with.
    pub enum Code {
        /// The order's status does not allow the command.
        InvalidPoStatus = (CONFLICT, "invalid_po_status"),
        /// The batch is past its expiry date.
        BatchExpired = (UNPROCESSABLE_ENTITY, "batch_expired"),
        /// A product on two lines.
        DuplicateLine = (UNPROCESSABLE_ENTITY, "duplicate_line"),
        /// This vendor invoice number is already recorded.
        DuplicateVendorInvoice = (CONFLICT, "duplicate_vendor_invoice"),
        /// 1 to 32 characters.
        InvalidText = (UNPROCESSABLE_ENTITY, "invalid_text"),
        /// The invoice is not held for approval.
        InvoiceNotHeld = (CONFLICT, "invoice_not_held"),
        /// Cannot be negative.
        NegativePrice = (UNPROCESSABLE_ENTITY, "negative_price"),
        /// An invoice is matched to the receipts it bills.
        NoGrns = (UNPROCESSABLE_ENTITY, "no_grns"),
        /// A product billed that is not on the receipts matched.
        NotReceived = (UNPROCESSABLE_ENTITY, "not_received"),
        /// More than 5 % over what was ordered.
        OverReceipt = (UNPROCESSABLE_ENTITY, "over_receipt"),
        /// No contracted or earlier price for the product: give one.
        PriceRequired = (UNPROCESSABLE_ENTITY, "price_required"),
        /// The product is archived.
        ProductArchived = (CONFLICT, "product_archived"),
        /// Give either product_id or sku.
        ProductRequired = (UNPROCESSABLE_ENTITY, "product_required"),
        /// Say why goods were refused.
        RejectionReasonRequired = (UNPROCESSABLE_ENTITY, "rejection_reason_required"),
        /// More returned than was received and not returned before.
        ReturnAboveReceived = (UNPROCESSABLE_ENTITY, "return_above_received"),
        /// No such goods receipt from this vendor.
        UnknownGrn = (NOT_FOUND, "unknown_grn"),
        /// The order has no such line.
        UnknownLine = (UNPROCESSABLE_ENTITY, "unknown_line"),
        /// No such location in the caller's reach.
        UnknownLocation = (NOT_FOUND, "unknown_location"),
        /// No such product in the tenant.
        UnknownProduct = (NOT_FOUND, "unknown_product"),
        /// No such vendor in the tenant.
        UnknownVendor = (NOT_FOUND, "unknown_vendor"),
    }
}
